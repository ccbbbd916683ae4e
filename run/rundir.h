// rundir.h — what a fresh `l4q train` may do with its output directory.
//
// A run directory holds one run's artifacts (RUNDIR_ARTIFACTS: config.yaml, run.h5,
// ckpt.bin, final.l4qz, and what `l4q report DIR` wrote there). A fresh start into a
// directory that already holds any of them would mix two runs (an interrupted new run
// beside the old final.l4qz and report.md) or overwrite a finished result, so it is
// refused with one line naming the run's state and the choices: --resume DIR, another
// --out, or --force, which removes exactly those artifacts before the new run starts.
#pragma once

// Names (relative to the run directory) that belong to a run; "plots" is a directory.
extern const char *const RUNDIR_ARTIFACTS[];

// Checks out_dir before a fresh (non --resume) run. Nothing there, or only files that are
// not a run's: returns. A run's artifacts and force = 0: die_input naming the state
// (complete / interrupted at step N / failed / damaged log / leftovers). force = 1: removes
// the artifacts (and *.tmp leftovers), then returns. Only the caller that writes (MPI rank
// 0) passes remove = 1; the others only check.
void rundir_prepare_fresh(const char *out_dir, int force, int remove);
