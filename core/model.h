// model.h — the LLaMA model: weights as trained, activations, forward/backward. Built from
// a ModelFile (core/modelfile.h: the config and the weights as loaded).
#pragma once
#include "linear.h"
#include "modelfile.h"
#include "tensor.h"

typedef struct Model Model;
// Scores stand in for model_forward + model_head on all B·T rows in inference (ppl, eval):
// set by a command that runs the arithmetic elsewhere (the CUDA plugin: run/score_device.c),
// NULL for the CPU. Returns Σ NLL over targets ≥ 0; logprob, greedy (B·T, may be NULL) as
// model_head writes them. The core calls it and knows nothing of what is behind it.
typedef struct {
    double (*score)(void *ctx, const int *tokens, const int *targets, int B, int T, float *logprob, int *greedy);
    void *ctx;
} Scorer;
struct Model {
    Config c;
    ModelFile *mf;
    MethodCfg method;
    int as_file;             // built with no method: computes exactly mf's weights (model_is_file)
    int train_embed_norms;   // `full`: embeddings and norms train too
    Param tok_emb, rms_att, rms_ffn, rms_final, wcls;  // wcls unused when shared
    Param *wp;               // [L*N_LAYER_PROJ] fp32 projection weights (frozen unless full/lsq)
    Linear **lin;            // [L*N_LAYER_PROJ]
    Linear *head;
    int maxB, maxT;          // activation capacity
    float *rope_cos, *rope_sin; // (T, head_size/2)
    // Activations at capacity B = maxB, T = maxT (rows r = b·T + t); C = dim, KV = the
    // key/value width (dim·n_kv_heads/n_heads), Hd = hidden_dim, NH = n_heads.
    float *x;                // (L+1, B, T, C) residual stream: layer l's input; [L] = the last output
    float *xn1, *r1;         // (L, B, T, C) attention rmsnorm output, (L, B, T) its 1/rms
    float *q;                // (L, B, T, C) queries after RoPE
    float *k, *v;            // (L, B, T, KV) keys after RoPE, values (also the decoding cache)
    float *att;              // (L, B, NH, T) softmax log-normalizer per query row; training only
    float *ao;               // (L, B, T, C) attention output (input of o)
    float *xmid;             // (L, B, T, C) residual after attention
    float *xn2, *r2;         // (L, B, T, C) ffn rmsnorm output, (L, B, T) its 1/rms
    float *h1, *h3;          // (L, B, T, Hd) gate and up outputs
    float *hg;               // (L, B, T, Hd) SwiGLU silu(h1)·h3 (input of down)
    float *xf, *rf;          // (B, T, C) final rmsnorm output, (B, T) its 1/rms
    struct ModelScratch *scratch; // backward's dx buffers (core/model.c); NULL when nothing trains
    size_t act_bytes;
    // 1: gradients are released at zero_grad and backward releases as many activation bytes
    // as they take, so a step peaks lower but re-faults those pages every step (~8 µs each
    // on this VM). Chosen by model_build from the memory account (model_plan_memory).
    int release;
    int bf16_pack; // the bf16 mode packs its frozen weights (model_plan_memory, bf16mm.h)
    Rng rng;                 // dropout etc.
    Scorer scorer;           // inference elsewhere (see Scorer); zero: the CPU
};

// method NULL ⇒ inference with the file's own forms. maxB×maxT activation capacity.
Model *model_build(ModelFile *mf, const MethodCfg *method, int maxB, int maxT, uint64_t seed);
void model_free(Model *M);
// 1 iff M computes exactly its ModelFile's weights (built with no method), so another
// model_build(M->mf, NULL, ...) is the same model; fast paths that replicate a model
// (per-thread perplexity replicas) may only replicate such a model.
static inline int model_is_file(const Model *M) { return M->as_file; }
// Forward positions t0..T-1 of B sequences (t0 > 0 only for B == 1: incremental decoding
// reusing cached K/V of positions < t0). Leaves xf = final-normed hidden states.
void model_forward(Model *M, const int *tokens, int B, int T, int t0);
// Head + log-softmax over rows [row0, row0+n) of the B*T grid, processed in chunks.
// targets, w, logprob, greedy are indexed relative to row0; targets[i] < 0 are ignored. Returns summed NLL over counted targets (weights w[i] if
// w != NULL). If logprob != NULL writes log p(target) per row; if greedy != NULL writes
// 1 when target is the argmax. If backward, accumulates d(loss_scale·sum NLL)/dxf into
// M's dxf scratch and head grads.
double model_head(Model *M, const int *targets, const float *w, int row0, int n,
                  float *logprob, int *greedy, int backward, float loss_scale);
// Full logits of one row (generation).
void model_logits_row(Model *M, int row, float *out);
// Backward through the stack after model_head(backward=1) on all rows. With M->release it
// releases as many bytes of the finished layers' activations as the gradients take
// (core/model.c release_layer): they read as zeros until the next forward rewrites them.
void model_backward(Model *M, const int *tokens, int B, int T);
// Gives the pages of every layer's activations back (they read as zeros until a forward
// rewrites them): after the last step, so that the final evaluation's model, built beside
// this one, does not hold a second set (4.4 GB each for a 7B model at 1×512 tokens).
void model_release_activations(Model *M);
// The input X (rows × in) that projection p of layer l saw in the last forward (until a
// model_backward, which may release it)
// (q,k,v: normed x; o: attention output; gate,up: normed x; down: SwiGLU output).
const float *model_proj_input(Model *M, int l, int p);
// d loss / d (embedding output) after model_backward: R×dim.
const float *model_input_grad(Model *M);
// The most trainable tensors a model has (callers size their arrays by it).
#define MODEL_MAX_PARAMS 4096
int model_params(Model *M, Param **out, int max); // trainable ones
void model_zero_grad(Model *M); // M->release: gives the gradients' pages back instead of writing zeros
// Decides M->release: only when the step would not fit in `limit` bytes with everything
// resident (weights + gradients and optimizer state as the account has them + saved +
// transient); otherwise every buffer stays resident and a steady-state step takes
// no page faults, and freed heap memory is kept (mem_retain_freed). model_build calls it
// with mem_limit_bytes(); returns M->release.
int model_plan_memory(Model *M, size_t limit);
void model_memory(Model *M, MemAccount *acc);     // sum over layers (+ embeddings etc.)
// The peak RSS of a training step that account `a` predicts: everything it holds, except
// that the gradients (trainable_bytes of fp32; the rest of grad_opt_bytes is optimizer
// state) are written only in backward, into memory of the model's activations (act_bytes,
// part of saved_bytes) that backward has released, so only what exceeds those counts.
size_t mem_step_peak(const MemAccount *a, size_t act_bytes);
