// main.c — build/l4q entry point: BLAS core check, thread setup, subcommand dispatch.
#include "baselines/baselines.h"
#include "cli.h"
#include "dist.h"
#include "util.h"
#include <stdlib.h>
#include <string.h>

static const struct { const char *name; int (*fn)(int, char **); const char *usage; } CMDS[] = {
    {"info", cmd_info, "info FILE | --system"},
    {"generate", cmd_generate, "generate --model F --tokenizer F [--prompt S] [--steps N] [--temperature T] [--topp P] [--seed N] [--device cpu|cuda]"},
    {"ppl", cmd_ppl, "ppl --model F --tokenizer F --data TEXT [--seq-len N] [--batch B] [--json] [--device cpu|cuda]"},
    {"train", cmd_train, "train CONFIG.yaml [--set key=value]... [--out DIR] [--resume DIR] [--dry-run]"},
    {"eval", cmd_eval, "eval --model F --tokenizer F --tasks LIST [--shots K] [--limit N] [--task-dir DIR] [--json] [--out F.h5] [--device cpu|cuda]"},
    {"sweep", cmd_sweep, "sweep SPEC.yaml [--jobs N] [--out DIR] [--dry-run]"},
    {"report", cmd_report, "report DIR [--format md|tex|csv] [--plots] [--reference METHOD|LABEL]"},
    {"export", cmd_export, "export RUN_DIR --format l4qz|gguf --out F"},
    {"tokenize", cmd_tokenize, "tokenize --tokenizer F [--vocab-size N] (--text S | --file F | --ids LIST) [--bos] [--eos] [--no-prefix] [--decode]"},
};
#define NCMDS (int)(sizeof CMDS / sizeof CMDS[0])

static void usage(FILE *f) {
    fprintf(f, "usage: l4q COMMAND [options]   (global: --threads N, env L4Q_THREADS, L4Q_DATA)\n");
    for (int i = 0; i < NCMDS; i++) fprintf(f, "  l4q %s\n", CMDS[i].usage);
}

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
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    for (int i = 0; i < NCMDS; i++)
        if (!strcmp(argv[1], CMDS[i].name)) {
            int rc = CMDS[i].fn(argc - 2, argv + 2);
            fflush(stdout);
            dist_finalize();
            return rc;
        }
    usage(stderr);
    die_input("unknown command '%s'", argv[1]);
}
