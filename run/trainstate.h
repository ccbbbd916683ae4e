// trainstate.h — save/restore everything needed to resume a run bit-identically.
#pragma once
#include "optim.h"
#include "tensor.h"
#include "util.h"

// `step` = number of completed updates.
void trainstate_save(const char *path, long step, Param **ps, int n, const AdamW *opt,
                     const Rng *data_rng, const Rng *model_rng);
// Restores into ps/opt/rngs (checking names and sizes); returns the completed step count.
long trainstate_load(const char *path, Param **ps, int n, AdamW *opt, Rng *data_rng, Rng *model_rng);
