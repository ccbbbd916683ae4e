// sweep.h — YAML sweep specs: expansion into run configs with stable ids, and the
// run directories' states behind `l4q sweep` (docs/sweeps.md); running them: sweep_run.h.
//
// Spec schema (every key but `base` is optional; unknown keys are errors, all reported as
// file:line:col before any run starts):
//
//   description: "..."           # free text
//   out: results/name            # default output dir (else results/<spec file stem>); --out wins
//   base: { <run config> }       # a full run config (README "Training") shared by every run; relative
//                                # paths resolve against the spec's directory, then $L4Q_DATA
//   axes:                        # cartesian product, first axis outermost; keys are dotted
//     method.name: [rtn, l4q]    # config paths; values: a list, one scalar, or a range
//     method.bits: [4, 3]        #   {from: 1, to: 64, mul: 2}  (geometric, inclusive)
//     train.lr: {from: 1e-4, to: 5e-4, step: 2e-4}   # (arithmetic, inclusive)
//   seeds: [0, 1, 2]             # shorthand for a last axis train.seed (list or range)
//   extra:                       # points beyond the grid, each crossed with `seeds` only:
//     - {method.name: l4q, method.bits: 4, train.precision: bf16}   # dotted key → one value
//   per_method:                  # overrides applied to runs of one method (e.g. Table 9 lr)
//     l4q: { train.lr: 5.0e-4 }  # a config fragment: dotted keys and/or nested sections
//     none: { train.steps: 0, skip_axes: [train.seed] }   # skip_axes: axes not crossed
//   budget: equal                # which `budgets` entry to apply ("equal" may be absent)
//   budgets:                     # named per-method override sets, e.g. the paper's
//     paper: { qlora: { train.steps: 400 } }             # unequal budgets
//
// Layering for each point: base → per_method[m] → budgets[budget][m] → axis values (an
// extra point's values). An extra point's key that its method does not take is an error.
// method.* keys from `base` and `axes` apply only to methods that take them (so the fp
// rows of a table swept over bits appear once); per_method/budgets fragments are strict.
// Points that resolve to the same config are one run.
//
// Run id: 12 hex digits of FNV-1a over the resolved config (run_config_dump) without
// `out`, with paths under $L4Q_DATA written relative to it (ids survive moving the data).
// Run directory: OUT/<method>[_<axis settings>]-<id>; an existing directory ending in
// -<id> is reused whatever its prefix.
#pragma once
#include "config.h"
#include "ynode.h"
#include <stdio.h>
#include <sys/types.h>

typedef struct {
    char id[13];
    char method[32];
    char dir[4096];        // OUT/<slug>-<id>
    char *label;           // "l4q bits=4 seed=0"
    char *config_yaml;     // resolved config given to the worker (no `out`)
    YNode *settings;       // map: the axis keys applied to this run → values (display, JSON)
    YNode *config;         // resolved tree (JSON output)
} SweepRun;

typedef struct {
    char spec[4096];
    char out[4096];
    SweepRun *runs;
    int n;
} Sweep;

// Load and expand a spec; `sets` are "key=value" overrides of the spec itself
// (e.g. budget=paper, base.train.steps=10). die_input (file:line:col) on any error.
Sweep *sweep_load(const char *path, char **sets, int nsets, const char *out_override);
void sweep_free(Sweep *s);

enum { RUN_PENDING = 0, RUN_COMPLETE = 1, RUN_INCOMPLETE = 2, RUN_FAILED = 3, RUN_CORRUPT = 4, RUN_STALE = 5 };
// From DIR/run.h5. A complete run whose recorded input hashes (sha256_model, _tokenizer,
// _train_data, _val_data) differ from the files now at those paths is RUN_STALE: the run
// id hashes the config's paths, not the files' contents, so a replaced model file must
// not be served from the old result. It starts over, like a failed run.
int sweep_run_state(const SweepRun *r);
const char *sweep_state_name(int state);

void sweep_print_plan(const Sweep *s, FILE *f);   // --dry-run table
char *sweep_plan_json(const Sweep *s);            // --dry-run --json (malloc'd)

// Running the runs: sweep_run.h (one process, the scheduler) and sweep_dist.h (MPI).
