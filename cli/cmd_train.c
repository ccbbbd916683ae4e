// cmd_train.c — `l4q train CONFIG.yaml [--set k=v]... [--out DIR] [--resume DIR] [--force]
// [--dry-run] [--stop-at N]` (exit 3 after N steps with a checkpoint; --resume continues).
// A fresh run never starts in a directory holding another run's files unless --force
// (run/rundir.h).
#include "cli.h"
#include "config.h"
#include "dist.h"
#include "run/rundir.h"
#include "run/train.h"
#include "util.h"
#include <stdio.h>
#include <stdlib.h>

int cmd_train(int argc, char **argv) {
    Flag fl[] = {FLAGV("set"), FLAGV("out"), FLAGV("resume"), FLAGB("force"), FLAGB("dry-run"), FLAGV("stop-at")};
    Args a;
    args_parse(&a, fl, sizeof fl / sizeof fl[0], argc, argv, "train");
    const char *resume = arg_str(&a, "resume", NULL);
    Flag *sets = arg_get(&a, "set");
    char cfgpath[4200];
    if (resume) {
        // The run directory's resolved config is the source of truth when resuming.
        if (a.npos > 0) die_input("train: give either CONFIG.yaml or --resume DIR, not both");
        if (sets->given) die_input("train: --set cannot change a run being resumed (%s)", resume);
        if (arg_flag(&a, "force")) die_input("train: --force starts over, --resume continues: give one of them");
        snprintf(cfgpath, sizeof cfgpath, "%s/config.yaml", resume);
        if (!file_exists(cfgpath)) die_input("%s: no config.yaml: not a run directory", resume);
    } else {
        if (a.npos != 1) die_input("train: expected one CONFIG.yaml (or --resume DIR); l4q train --help lists the options");
        snprintf(cfgpath, sizeof cfgpath, "%s", a.pos[0]);
    }
    RunConfig *cfg = run_config_load(cfgpath, (char **)sets->multi, sets->multi_n);
    if (arg_flag(&a, "dry-run")) {
        char *y = run_config_dump(cfg);
        fputs(y, stdout);
        free(y);
        run_config_free(cfg);
        return 0;
    }
    const char *out = resume ? resume : arg_str(&a, "out", cfg->out);
    // Before anything loads: a finished result is never overwritten, two runs never mix.
    if (!resume) rundir_prepare_fresh(out, arg_flag(&a, "force"), dist_rank() == 0);
    setvbuf(stdout, NULL, _IOLBF, 0); // train.log (a sweep worker's stdout) shows progress as it happens
    int rc = train_run(cfg, out, resume != NULL, arg_int(&a, "stop-at", 0));
    run_config_free(cfg);
    return rc;
}
