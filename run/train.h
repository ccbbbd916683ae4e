// train.h — the training loop every method runs through (README "Training").
//
// A run directory holds: config.yaml (the resolved config), run.h5 (the log), ckpt.bin
// (trainable state + AdamW + RNG + step; written atomically), final.l4qz (the deployed
// model, loadable by every command). Same config + seed + thread count ⇒ bit-identical
// loss curve; --resume continues from ckpt.bin exactly.
#pragma once
#include "config.h"

// Runs (or resumes) the configured training in out_dir. Returns 0 when complete.
// stop_at > 0: checkpoint and return 3 after that many completed steps (status stays
// `running`; --resume continues) — for preemptible slots and the resume test.
// Errors (bad input, NaN loss) mark run.h5 `failed` and exit via die_*.
int train_run(RunConfig *cfg, const char *out_dir, int resume, long stop_at);
