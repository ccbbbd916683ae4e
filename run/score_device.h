// score_device.h — inference on a device (`l4q ppl|eval|generate --device cuda`).
//
// The host builds the inference Model as on the CPU (model_build(mf, NULL, …): the file's
// weights, or its deployed forms with their LoRA side branches); the device model is made
// from its description (dev_desc_fill, training 0) and takes over the arithmetic through the
// Model's Scorer hook (core/model.h), so core/ppl.c and evals/harness.c run their own
// window/batch loops unchanged and only the forward + head happen on the device.
#pragma once
#include "device.h"
#include "model.h"

typedef struct DevScorer DevScorer;

// Opens the plugin and refuses a plugin that cannot run inference ("none" at `precision`,
// PREC_FP32 | PREC_BF16), before the model loads: one line naming `what` (the flag, e.g.
// "--device cuda") and exit 2. The device model is then built at that precision.
DevScorer *dev_scorer_open(const char *what, int precision);
// Builds the device model from M (capacity B×T) and sets M->scorer; M must outlive it.
void dev_scorer_attach(DevScorer *s, Model *M, int B, int T);
// Generation: the logits (vocab_size floats) after tokens[0..T) of one sequence. The device
// keeps no K/V cache between calls, so each call runs the whole prefix again (B = 1, T).
void dev_scorer_next_logits(DevScorer *s, const int *tokens, int T, float *out);
const char *dev_scorer_name(const DevScorer *s);
void dev_scorer_free(DevScorer *s); // and clears the Model's hook
