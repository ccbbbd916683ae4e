// common.h — pieces shared by the baseline layers (internal to baselines/):
//   * the frozen-quantized-base layer (ptq.c): a base held in its deployed form (uniform
//     codes or NF4, core/deploy.h), applied a row tile at a time so no out×in fp32 buffer
//     ever exists at train or inference time, with an optional LoRA side branch (core/lora.h);
//   * the registry entries baselines_register adds.
#pragma once
#include "baselines.h"
#include "linear.h"
#include "methods.h"
#include "lora.h"
#include "quant.h"
#include "util.h"

// Validation shared by the builders: die_input with the method's name on bad values.
void check_lora_cfg(const MethodCfg *m);
// The uniform base a method uses: "rtn" or "gptq" (anything else → die_input).
int base_is_gptq(const MethodCfg *m);

// The frozen-quantized-base layer (+ optional LoRA side branch) behind rtn, gptq,
// rtn_lora, gptq_lora, qlora_uniform, qlora and loftq. Takes ownership of base's arrays.
// lora_m NULL: PTQ only (nothing trains). Returns the LoRA branch through *lb_out if
// non-NULL (loftq overwrites A, B after construction).
Linear *qlayer_new(Deploy *base, const MethodCfg *lora_m, const char *name, Rng *rng, LoraBranch **lb_out);

// ---- registry entries (baselines_register adds them in this order) ----------------------
#define UQ_KEYS (MK_BITS | MK_GROUP)                    // a uniform quantized base
#define GPTQ_KEYS (MK_ACT_ORDER | MK_DAMP | MK_CALIB)   // its GPTQ pass
extern const MethodEntry RTN_METHOD, GPTQ_METHOD, RTN_LORA_METHOD, GPTQ_LORA_METHOD, QLORA_UNIFORM_METHOD,
    QLORA_METHOD, QA_LORA_METHOD, PEQA_METHOD, LOFTQ_METHOD;
// The prepare hook of the methods with a GPTQ base: baselines_prepare on the default
// calibration text.
MethodPrep *gptq_prepare(ModelFile *mf, const MethodCfg *m, const Tokenizer *tok, int seq_len);
// The GPTQ base of projection `name` (in inputs) for method m, from the pass's records
// (m->prep; copied into d); an internal error when the pass did not run or its grid differs.
void gptq_base(const MethodCfg *m, const char *name, int in, Deploy *d);
