// baselines.h — the comparison methods behind the linear-layer seam (SPEC §5) and the few
// model-level entry points the trainer and the exporter call. Every method is a registered
// name in core/methods.c; the layers themselves are built by linear_build as usual.
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
#include "model.h"
#include "tokenizer.h"

// ---- model-level pass (GPTQ) -------------------------------------------------------------
// 1 when method m's quantized base is produced by a model-level pass (gptq, gptq_lora,
// qlora_uniform/qa_lora with base gptq) and baselines_prepare must run before model_build.
int baselines_needs_prepare(const MethodCfg *m);

// THE TRAINER'S HOOK. Call once, after loading mf and before model_build(mf, m, ...):
//     baselines_prepare(mf, &cfg->method, tok, NULL, cfg->train.seq_len);
// For methods that need it (above) this runs GPTQ over mf's fp32 projection weights on
// calibration windows cut from calib_text_path (NULL: $L4Q_DATA/tinystories/
// tinystories_train_excerpt.txt): m->calib_windows windows (default 128) of seq_len tokens
// (≤ 0 or larger than the model's: the model's seq_len), fewer when the text is short,
// spread evenly over the SPEC §3 token stream (deterministic, no RNG). Afterwards every
// targeted projection weight in mf holds its quantized-dequantized value (so anything that
// reads mf sees the PTQ model) and the exact codes/scales/offsets are recorded, keyed by
// the weight pointer, for the per-layer constructors and deploy(). The head (if targeted)
// is recorded but never overwritten, because a tied head shares the embedding table.
// Other methods: returns 0 and does nothing. Errors (bad bits, short text...) → die_input.
int baselines_prepare(ModelFile *mf, const MethodCfg *m, const Tokenizer *tok,
                      const char *calib_text_path, int seq_len);
// The pass itself on already-tokenized windows: calib_tokens holds n_windows × T ids.
void gptq_quantize_model(ModelFile *mf, const MethodCfg *m, const int *calib_tokens, int n_windows, int T);
// Drop the records baselines_prepare made for mf's weights (call before model_file_free
// if the process goes on to load another model; harmless otherwise).
void baselines_release(const ModelFile *mf);

// GPTQ on one matrix. W (out×in, row-major) is replaced by its quantized values; H (in×in,
// row-major, symmetric, = (2/N)·Σ x xᵀ) is not modified. s, b (out×ng) and the packed codes
// (quant_codes_bytes) receive the result. damp: fraction of mean(diag H) added to the
// diagonal; act_order: process columns by decreasing diag(H) (then each group's params are
// fixed up front from the original W — "static groups" — so groups stay contiguous and
// the deployed form needs no permutation). Returns Σ (w − q)²/U_ii² / 2 (GPTQ's loss).
double gptq_quantize_matrix(int bits, int group_size, float *W, int out, int in, const double *H,
                            float damp, int act_order, float *s, float *b, uint8_t *codes);

// ---- NF4 (bitsandbytes) --------------------------------------------------------------------
extern const float NF4_CODE[16];
#define NF4_BLOCK 64    // weights per absmax
#define NF4_DQ_BLOCK 256 // absmax values per second-level fp32 scale
// Index of the NF4 code nearest to x ∈ [−1, 1] (midpoint decision; a tie goes down).
int nf4_index(float x);
// bitsandbytes' signed 8-bit "dynamic" map (create_dynamic_map(signed=True)), sorted.
const float *nf4_dq_code(void);
// Quantize W (out×in, flattened row-major) into d (kind DEP_NF4, no LoRA branch):
// per 64-block absmax, codes packed two per byte (element 2k in the high nibble), absmax
// double-quantized (mean-subtracted, 8-bit dynamic code, one fp32 scale per 256).
void nf4_quantize(const float *W, int out, int in, Deploy *d);
// Dequantized rows [r0, r0+nrows) of an NF4 deploy into out (nrows×in).
void nf4_dequant_rows(const Deploy *d, int r0, int nrows, float *out);
// Stored bits per weight (codes + 8-bit absmax + fp32 second-level scales + the mean).
double nf4_bits_per_weight(const Deploy *d);
// The inference layer for a DEP_NF4 deploy (deployed.c calls it through a weak symbol).
Linear *nf4_linear_from_deploy(const Deploy *d, const char *name);

// ---- export helpers --------------------------------------------------------------------------
// `export --merge`: fold a deploy's LoRA side branch (scale·B·A) into its base and
// re-quantize in the same family — NF4 → NF4 (+DQ), uniform → per-group min-max RTN at
// the same bits/group size — leaving rank 0. No-op without a side branch; DEP_FP32 adds
// B·A exactly. The merged result is a different (re-rounded) model: report it separately.
void deploy_merge_lora(Deploy *d);

// ---- LoftQ ------------------------------------------------------------------------------------
// LoftQ initialisation of one matrix: `iters` alternations of Q = quant(W − scale·B·A),
// (A, B) = rank-r SVD of W − Q split as B = U√Σ/√scale, A = √Σ·Vᵀ/√scale, so the
// layer's scale·B·A is exactly the SVD's rank-r part. quant: base "rtn" (per-group
// min-max, bits, group_size) or "nf4". base_out receives the final Q's deploy; A (r×in),
// B (out×r) the factors; err (iters entries, may be NULL) ‖W − Q − scale·B·A‖_F after each
// step. iters = 0: Q = quant(W), A, B untouched.
void loftq_init(const float *W, int out, int in, const char *base, int bits, int group_size,
                int rank, float scale, int iters, Deploy *base_out, float *A, float *B, double *err);

// Per-method defaults applied by method_defaults (qa_lora: rank 8, alpha 16, base gptq;
// qlora_uniform: base gptq).
void baselines_method_defaults(MethodCfg *m);
