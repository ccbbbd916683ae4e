// main.c — build/l4q entry point: BLAS core check, thread setup, subcommand dispatch.
#include "baselines/baselines.h"
#include "cli.h"
#include "usage.h"
#include "dist.h"
#include "util.h"
#include <stdlib.h>
#include <string.h>

// Help lines live in cli/usage.c (checked against each command's flags).
static const struct { const char *name; int (*fn)(int, char **); } CMDS[] = {
    {"info", cmd_info}, {"generate", cmd_generate}, {"ppl", cmd_ppl}, {"train", cmd_train}, {"eval", cmd_eval},
    {"sweep", cmd_sweep}, {"report", cmd_report}, {"export", cmd_export}, {"tokenize", cmd_tokenize},
};
#define NCMDS (int)(sizeof CMDS / sizeof CMDS[0])


int main(int argc, char **argv) {
    env_setup(argv);
    baselines_register();
    command_line_set(argc, argv);
    // Global --threads N, accepted anywhere.
    int threads = 0, j = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) { threads = atoi(argv[++i]); if (threads <= 0) die_input("--threads: must be a positive integer"); continue; }
        if (!strncmp(argv[i], "--threads=", 10)) { threads = atoi(argv[i] + 10); if (threads <= 0) die_input("--threads: must be a positive integer"); continue; }
        argv[j++] = argv[i];
    }
    argc = j;
    // Under mpirun/srun only train and sweep take part; a rank's default thread count is
    // its share of its node's cores.
    int dist = argc >= 2 && (!strcmp(argv[1], "train") || !strcmp(argv[1], "sweep"));
    dist_init(argc >= 2 ? argv[1] : "l4q", dist);
    if (threads <= 0 && dist_size() > 1 && !getenv("L4Q_THREADS")) threads = dist_default_threads();
    threads_init(threads);
    // `l4q help CMD` = `l4q CMD --help`.
    if (argc == 3 && !strcmp(argv[1], "help") && command_help(argv[2])) { argv[1] = argv[2]; argv[2] = "--help"; }
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        usage_top(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    for (int i = 0; i < NCMDS; i++)
        if (!strcmp(argv[1], CMDS[i].name)) {
            int rc = CMDS[i].fn(argc - 2, argv + 2);
            fflush(stdout);
            dist_finalize();
            return rc;
        }
    usage_top(stderr);
    die_input("unknown command '%s'", argv[1]);
}
