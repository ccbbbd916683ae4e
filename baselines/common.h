// common.h — pieces shared by the baseline layers (internal to baselines/):
//   * a frozen quantized base held in its deployed form (uniform codes or NF4), applied a
//     row tile at a time so no out×in fp32 buffer ever exists at train or inference time;
//   * a LoRA side branch (A r×in, B out×r, dropout on its input) like core/lora.c's;
//   * the records of the model-level GPTQ pass, keyed by the weight pointer.
#pragma once
#include "baselines.h"
#include "linear.h"
#include "lora.h"
#include "quant.h"
#include "util.h"

// Tiled dequantization of the base (deploy_rows, deploy_forward, deploy_backward_dx,
// deploy_tile_rows) comes from core (linear.h).
// Bytes the packed base occupies (codes + per-group params or absmax storage).
size_t qb_bytes(const Deploy *d);
// Deep copy of a deploy (all arrays duplicated).
// Per-group min-max RTN of W into a fresh DEP_UNIFORM deploy.
void qb_rtn(Deploy *d, const float *W, int out, int in, int bits, int group_size);


// GPTQ records (baselines_prepare): the deploy of weight `w`, or NULL.
const Deploy *prepared_lookup(const float *w);
void prepared_put(const float *w, const Deploy *d); // takes ownership of d's arrays

// Validation shared by the builders: die_input with the method's name on bad values.
void check_lora_cfg(const MethodCfg *m);
// The uniform base a method uses: "rtn" or "gptq" (anything else → die_input).
int base_is_gptq(const MethodCfg *m);

// The frozen-quantized-base layer (+ optional LoRA side branch) behind rtn, gptq,
// rtn_lora, gptq_lora, qlora_uniform, qlora and loftq. Takes ownership of base's arrays.
// lora_m NULL: PTQ only (nothing trains). Returns the LoRA branch through *lb_out if
// non-NULL (loftq overwrites A, B after construction).
Linear *qlayer_new(Deploy *base, const MethodCfg *lora_m, const char *name, Rng *rng, LoraBranch **lb_out);
