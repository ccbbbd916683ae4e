// model.h — the LLaMA model: config, weights as loaded, activations, forward/backward.
#pragma once
#include "linear.h"
#include "tensor.h"

typedef struct {
    int dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len;
    int shared_classifier; // head tied to the token embedding
    float norm_eps, rope_theta;
    // Llama-3.1 RoPE frequency scaling (HF rope_scaling type "llama3"); factor 0 = none.
    float rope_factor, rope_low_freq_factor, rope_high_freq_factor, rope_original_max_pos;
} Config;

struct Tokenizer;

// What a checkpoint loader returns. Projection weights are fp32 (w) or deployed
// quantized forms (dep); index [layer*N_LAYER_PROJ + P_*]. Everything is owned by the ModelFile.
typedef struct {
    Config c;
    char path[1024];
    char format[48];        // "llama2c-v0", "llama2c-v1", "gguf-v3 f32", "l4qz", ...
    size_t file_bytes;
    void *blob;             // owned storage the pointers below may point into
    float *tok_emb;         // V×dim
    float *rms_att, *rms_ffn; // L×dim each
    float *rms_final;       // dim
    float **w;              // [L*N_LAYER_PROJ] fp32 out×in, or NULL where dep is set
    Deploy **dep;           // [L*N_LAYER_PROJ] or NULL
    float *wcls;            // V×dim, NULL when shared
    // Tensors stored as f16/bf16 stay 16-bit (half.h): projection i then has w[i] NULL and
    // w16[i] set with dtype w16_dt[i] (both arrays NULL when the file has none); tok_emb /
    // wcls NULL with tok_emb16 / wcls16 set likewise. They point into `hold` (the file as
    // read or mapped) or into blob16.
    const uint16_t **w16;
    uint8_t *w16_dt;
    const uint16_t *tok_emb16, *wcls16;
    int tok_emb_dt, wcls_dt;
    void *hold;                  // released with hold_free(hold) when the ModelFile is freed
    void (*hold_free)(void *);
    uint16_t *blob16;            // owned 16-bit copies (e.g. rows a reader had to reorder)
    void *wide_blob;             // mf_widen's fp32 copies, owned
    struct Tokenizer *tok;  // embedded tokenizer (GGUF, l4qz), or NULL
    char method[32];        // l4qz: the method that produced it; else ""
    char form[32];          // inference form label
    uint8_t *src_type;      // GGUF: each tensor's stored ggml type, mf_tensors order; else NULL
} ModelFile;

// Auto-detects the format by content. Bad input → die_input naming the file.
ModelFile *model_file_load(const char *path);
void model_file_free(ModelFile *mf);
void model_file_release(void *mf); // model_file_free for hold() (util.h)
// Replaces every 16-bit tensor with an fp32 copy (exact), for code that needs fp32 arrays
// (GPTQ's in-place pass, fp32 export formats).
void mf_widen(ModelFile *mf);
// Sets 16-bit projection i (allocating w16/w16_dt on first use).
void mf_set_w16(ModelFile *mf, int i, int dtype, const uint16_t *p);
int proj_dims(const Config *c, int p, int *out, int *in); // shape of projection p

typedef struct Model Model;
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
    float *scratch;          // dx buffers for backward
    size_t act_bytes;
    // 1: gradients are released at zero_grad and backward releases as many activation bytes
    // as they take, so a step peaks lower but re-faults those pages every step (~8 µs each
    // on this VM). Chosen by model_build from the memory account (model_plan_memory).
    int release;
    Rng rng;                 // dropout etc.
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
// The input X (rows × in) that projection p of layer l saw in the last forward (until a
// model_backward, which may release it)
// (q,k,v: normed x; o: attention output; gate,up: normed x; down: SwiGLU output).
const float *model_proj_input(Model *M, int l, int p);
// d loss / d (embedding output) after model_backward: R×dim.
const float *model_input_grad(Model *M);
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
