// baselines.h — the comparison methods behind the linear-layer seam and the few
// model-level entry points they share. Each method is one MethodEntry (core/methods.h)
// defined beside its layer; baselines_register() adds them all to the registry.
//
// Methods (baselines/README.md has the hyper-parameters and inference forms):
//   rtn, gptq                      PTQ only: frozen uniform n-bit base, nothing trains
//   rtn_lora, gptq_lora            LoRA on a frozen RTN / GPTQ base ("n&fp")
//   qlora_uniform                  the paper's QLoRA*: LoRA on method.base (gptq | rtn)
//   qlora                          LoRA on an NF4 + double-quant base ("nf4&fp")
//   qa_lora                        group-pooled LoRA folded into the offsets ("n")
//   peqa                           RTN codes and zero-points frozen, scales train ("n")
//   loftq                          LoRA initialised by alternating quant/SVD ("n&fp", "nf4&fp")
#pragma once
#include <stdint.h>
#include "linear.h"
#include "methods.h"
#include "model.h"
#include "tokenizer.h"

// Registers the methods above (idempotent). The CLI and every test that builds a baseline
// call it once at start-up, before any method lookup.
void baselines_register(void);

// ---- model-level pass (GPTQ) -------------------------------------------------------------
// 1 when method m's quantized base is produced by a model-level pass (gptq, gptq_lora,
// qlora_uniform/qa_lora with base gptq) and baselines_prepare must run before model_build.
int baselines_needs_prepare(const MethodCfg *m);

// The GPTQ methods' prepare hook (method_prepare runs it once, after loading mf and before
// model_build) with calib_text_path NULL. For methods that need it (above) this runs GPTQ over mf's fp32 projection weights on
// calibration windows cut from calib_text_path (NULL: $L4Q_DATA/tinystories/
// tinystories_train_excerpt.txt): m->calib_windows windows (default 128) of seq_len tokens
// (≤ 0 or larger than the model's: the model's seq_len), fewer when the text is short,
// spread evenly over the perplexity protocol's token stream (README) (deterministic, no RNG). Afterwards every
// targeted projection weight in mf holds its quantized-dequantized value (so anything that
// reads mf sees the PTQ model), and the exact codes/scales/offsets are returned as the
// run's records (core/methods.h MethodPrep, by layer name) for the per-layer constructors:
// the caller passes them to model_build in MethodCfg.prep and frees them (method_prep_free)
// once the model is built. The head (if targeted) is recorded but never overwritten,
// because a tied head shares the embedding table.
// Other methods: returns NULL and does nothing. Errors (bad bits, short text...) → die_input.
MethodPrep *baselines_prepare(ModelFile *mf, const MethodCfg *m, const Tokenizer *tok,
                              const char *calib_text_path, int seq_len);
// The pass itself on already-tokenized windows: calib_tokens holds n_windows × T ids.
MethodPrep *gptq_quantize_model(ModelFile *mf, const MethodCfg *m, const int *calib_tokens, int n_windows, int T);

// GPTQ on one matrix. W (out×in, row-major) is replaced by its quantized values; H (in×in,
// row-major, symmetric, = (2/N)·Σ x xᵀ) is not modified. s, b (out×ng) and the packed codes
// (quant_codes_bytes) receive the result. damp: fraction of mean(diag H) added to the
// diagonal; act_order: process columns by decreasing diag(H) (then each group's params are
// fixed up front from the original W — "static groups" — so groups stay contiguous and
// the deployed form needs no permutation). Returns Σ (w − q)²/U_ii² / 2 (GPTQ's loss).
double gptq_quantize_matrix(int bits, int group_size, float *W, int out, int in, const double *H,
                            float damp, int act_order, float *s, float *b, uint8_t *codes);

// ---- LoftQ ------------------------------------------------------------------------------------
// LoftQ initialisation of one matrix: `iters` alternations of Q = quant(W − scale·B·A),
// (A, B) = rank-r SVD of W − Q split as B = U√Σ/√scale, A = √Σ·Vᵀ/√scale, so the
// layer's scale·B·A is exactly the SVD's rank-r part. quant: base "rtn" (per-group
// min-max, bits, group_size) or "nf4". base_out receives the final Q's deploy; A (r×in),
// B (out×r) the factors; err (iters entries, may be NULL) ‖W − Q − scale·B·A‖_F after each
// step. iters = 0: Q = quant(W), A, B untouched.
void loftq_init(const float *W, int out, int in, const char *base, int bits, int group_size,
                int rank, float scale, int iters, Deploy *base_out, float *A, float *B, double *err);

