// model.c — LLaMA forward/backward over B×T tokens, every projection through the seam.
#include "model.h"
#include "bf16mm.h"
#include "methods.h"
#include "ops.h"
#include "util.h"
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int proj_dims_kv(const Config *c) { return c->dim / c->n_heads * c->n_kv_heads; }

// Per-layer activation slabs, each maxB·maxT rows.
typedef struct { float *x, *xn1, *r1, *q, *k, *v, *ao, *xmid, *xn2, *r2, *h1, *h3, *hg, *att; } Acts;

static Acts layer_acts(Model *M, int l) {
    const Config *c = &M->c;
    size_t R = (size_t)M->maxB * M->maxT, kv = proj_dims_kv(c);
    Acts a;
    a.x = M->x + l * R * c->dim;
    a.xn1 = M->xn1 + l * R * c->dim;
    a.r1 = M->r1 + l * R;
    a.q = M->q + l * R * c->dim;
    a.k = M->k + l * R * kv;
    a.v = M->v + l * R * kv;
    a.ao = M->ao + l * R * c->dim;
    a.xmid = M->xmid + l * R * c->dim;
    a.xn2 = M->xn2 + l * R * c->dim;
    a.r2 = M->r2 + l * R;
    a.h1 = M->h1 + l * R * c->hidden_dim;
    a.h3 = M->h3 + l * R * c->hidden_dim;
    a.hg = M->hg + l * R * c->hidden_dim;
    a.att = M->att ? M->att + l * (size_t)M->maxB * c->n_heads * M->maxT : NULL;
    return a;
}

// Backward scratch, allocated only when something trains.
typedef struct { float *dx, *dxf, *dxn, *dq, *dk, *dv, *dao, *dh1, *dh3, *dhg, *dlogits; } Grads;
struct ModelScratch {
    Grads g;
    float *logits;
    uint16_t *dlogits16; // the bf16 mode: the d-logits rounded as each row is finished (model_head)
    int chunk;
};

#define HEAD_CHUNK_BYTES ((size_t)128 << 20)

static float *slab(size_t n, size_t *acc) { *acc += n * sizeof(float); return xmalloc_aligned(n * sizeof(float)); }

Model *model_build(ModelFile *mf, const MethodCfg *method, int maxB, int maxT, uint64_t seed) {
    const Config *c = &mf->c;
    if (maxT > c->seq_len) die_input("%s: sequence length %d exceeds the model's %d", mf->path, maxT, c->seq_len);
    Model *M = xcalloc(1, sizeof *M);
    M->c = *c; M->mf = mf; M->maxB = maxB; M->maxT = maxT;
    rng_seed(&M->rng, seed);
    int L = c->n_layers, D = c->dim;
    if (method) M->method = *method;
    M->as_file = method == NULL;
    // Every L4Q layer gets the same tile bytes, those of tile_rows rows of the widest
    // projection, so narrower layers take taller tiles at no cost to the peak.
    M->method.tile_span = c->hidden_dim > D ? c->hidden_dim : D;
    if (method) method = &M->method;
    int full = method && !strcmp(method->name, "full");
    M->train_embed_norms = full;

    if (mf->tok_emb16) param_init16(&M->tok_emb, "tok_emb", mf->tok_emb_dt, mf->tok_emb16, c->vocab_size, D, 1);
    else param_init(&M->tok_emb, "tok_emb", mf->tok_emb, c->vocab_size, D, 1);
    param_init(&M->rms_att, "rms_att", mf->rms_att, L, D, 0);
    param_init(&M->rms_ffn, "rms_ffn", mf->rms_ffn, L, D, 0);
    param_init(&M->rms_final, "rms_final", mf->rms_final, 1, D, 0);
    if (full) {
        param_make_trainable(&M->tok_emb); param_make_trainable(&M->rms_att);
        param_make_trainable(&M->rms_ffn); param_make_trainable(&M->rms_final);
    }
    M->wp = xcalloc((size_t)L * N_LAYER_PROJ, sizeof(Param));
    M->lin = xcalloc((size_t)L * N_LAYER_PROJ, sizeof(Linear *));
    MethodCfg frozen;
    method_defaults(&frozen, "none");
    for (int l = 0; l < L; l++)
        for (int p = 0; p < N_LAYER_PROJ; p++) {
            int i = l * N_LAYER_PROJ + p, out, in;
            proj_dims(c, p, &out, &in);
            char name[48];
            snprintf(name, sizeof name, "layers.%d.%s", l, PROJ_NAMES[p]);
            if (mf->dep && mf->dep[i]) {
                M->lin[i] = linear_from_deploy(mf->dep[i], name);
                continue;
            }
            if (mf->w16 && mf->w16[i]) param_init16(&M->wp[i], name, mf->w16_dt[i], mf->w16[i], out, in, 1);
            else param_init(&M->wp[i], name, mf->w[i], out, in, 1);
            int use = method && (full || (method->targets & (1u << p)));
            M->lin[i] = linear_build(use ? method : &frozen, &M->wp[i], name, &M->rng);
            M->lin[i]->training = use;
        }
    Param *hw = &M->tok_emb;
    if (!c->shared_classifier) {
        if (mf->wcls16) param_init16(&M->wcls, "wcls", mf->wcls_dt, mf->wcls16, c->vocab_size, D, 1);
        else param_init(&M->wcls, "wcls", mf->wcls, c->vocab_size, D, 1);
        hw = &M->wcls;
    }
    int head_train = method && (full || (method->targets & (1u << P_HEAD)));
    M->head = linear_build(head_train ? method : &frozen, hw, "head", &M->rng);
    M->head->training = head_train;
    M->method.prep = NULL; // the pass's records are the caller's: the layers copied what they keep

    // Activations.
    size_t R = (size_t)maxB * maxT, kv = proj_dims_kv(c), H = c->hidden_dim, acc = 0;
    M->x = slab((L + 1) * R * D, &acc);
    M->xn1 = slab(L * R * D, &acc); M->r1 = slab(L * R, &acc);
    M->q = slab(L * R * D, &acc); M->k = slab(L * R * kv, &acc); M->v = slab(L * R * kv, &acc);
    M->ao = slab(L * R * D, &acc); M->xmid = slab(L * R * D, &acc);
    M->xn2 = slab(L * R * D, &acc); M->r2 = slab(L * R, &acc);
    M->h1 = slab(L * R * H, &acc); M->h3 = slab(L * R * H, &acc); M->hg = slab(L * R * H, &acc);
    M->xf = slab(R * D, &acc); M->rf = slab(R, &acc);
    M->act_bytes = acc;
    M->rope_cos = xmalloc((size_t)maxT * (D / c->n_heads / 2) * sizeof(float));
    M->rope_sin = xmalloc((size_t)maxT * (D / c->n_heads / 2) * sizeof(float));
    const float llama3[4] = {c->rope_factor, c->rope_low_freq_factor, c->rope_high_freq_factor, c->rope_original_max_pos};
    rope_tables(M->rope_cos, M->rope_sin, maxT, D / c->n_heads, c->rope_theta, c->rope_factor > 0 ? llama3 : NULL);

    struct ModelScratch *S = xcalloc(1, sizeof *S);
    // Head rows per sgemm: every call repacks the whole V×D classifier, so wide chunks
    // amortize that (1024 rows measured 10% faster than 256 on the stories15M shape), up to
    // a 128 MiB logits buffer for large vocabularies.
    S->chunk = (int)(HEAD_CHUNK_BYTES / ((size_t)c->vocab_size * sizeof(float)));
    if (S->chunk > 1024) S->chunk = 1024;
    if (S->chunk < 64) S->chunk = 64;
    if ((size_t)S->chunk > R) S->chunk = (int)R;
    S->logits = xmalloc_aligned((size_t)S->chunk * c->vocab_size * sizeof(float));
    Param *ps[1];
    if (model_params(M, ps, 1) > 0) {
        size_t g = 0;
        S->g.dx = slab(R * D, &g); S->g.dxf = slab(R * D, &g); S->g.dxn = slab(R * D, &g);
        S->g.dq = slab(R * D, &g); S->g.dk = slab(R * kv, &g); S->g.dv = slab(R * kv, &g);
        S->g.dao = slab(R * D, &g);
        S->g.dh1 = slab(R * H, &g); S->g.dh3 = slab(R * H, &g); S->g.dhg = slab(R * H, &g);
        // Attention backward recomputes the probabilities from each query row's softmax
        // log-normalizer (L·B·H·T floats, instead of the L·B·H·T² probabilities); only
        // backward needs them, so an inference model never allocates them.
        M->att = slab((size_t)L * maxB * c->n_heads * maxT, &g);
        M->act_bytes += g;
    }
    M->scratch = S;
    model_plan_memory(M, mem_limit_bytes());
    return M;
}

int model_plan_memory(Model *M, size_t limit) {
    MemAccount a;
    M->bf16_pack = 1; // the account with the packed copies (none outside the bf16 mode)
    model_memory(M, &a);
    size_t resident = a.weight_bytes + a.grad_opt_bytes + a.saved_bytes + a.transient_peak;
    // The bf16 mode's packed copies (bf16mm.h) only where the all-resident step holds them
    // too: they buy speed, not the same numbers (which they leave as they are).
    M->bf16_pack = a.pack_bytes > 0 && resident <= limit;
    if (!M->bf16_pack) resident -= a.pack_bytes;
    for (int i = 0; i <= M->c.n_layers * N_LAYER_PROJ; i++) { // the projections, then the head
        Linear *L = i < M->c.n_layers * N_LAYER_PROJ ? M->lin[i] : M->head;
        if (M->bf16_pack && !L->bf16_packed) L->bf16_packed = bf16mm_packed_new();
        if (!M->bf16_pack && L->bf16_packed) { bf16mm_packed_free(L->bf16_packed); L->bf16_packed = NULL; }
    }
    M->release = resident > limit;
    if (!M->release) mem_retain_freed();
    return M->release;
}

void model_free(Model *M) {
    if (!M) return;
    int n = M->c.n_layers * N_LAYER_PROJ;
    for (int i = 0; i < n; i++) linear_free(M->lin[i]);
    linear_free(M->head);
    for (int i = 0; i < n; i++) param_free(&M->wp[i]);
    param_free(&M->tok_emb); param_free(&M->rms_att); param_free(&M->rms_ffn);
    param_free(&M->rms_final); param_free(&M->wcls);
    free(M->wp); free(M->lin);
    float *bufs[] = {M->x, M->xn1, M->r1, M->q, M->k, M->v, M->ao, M->xmid, M->xn2, M->r2,
                     M->h1, M->h3, M->hg, M->att, M->xf, M->rf, M->rope_cos, M->rope_sin};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) free(bufs[i]);
    struct ModelScratch *S = M->scratch;
    float **g = (float **)&S->g;
    for (size_t i = 0; i < sizeof S->g / sizeof(float *); i++) free(g[i]);
    free(S->logits); free(S->dlogits16); free(S);
    free(M);
}

#define LIN(l, p) M->lin[(l) * N_LAYER_PROJ + (p)]

// y[i] += x[i] for i in [i0, i1): parallel for a batch (millions of elements for the
// larger models), serial for a decoding step where a thread team costs more than the sum.
static void residual_add(float *restrict y, const float *restrict x, size_t i0, size_t i1) {
    #pragma omp parallel for simd if (i1 - i0 > 32768)
    for (size_t i = i0; i < i1; i++) y[i] += x[i];
}

// p[0..n) = 0 on every core: the backward pass zeroes about a dozen R×dim gradient buffers
// per layer before accumulating into them, and one core's memset left the others idle
// (about 10 % of a stories260K step).
static void zero_f32(float *p, size_t n) {
    long chunks = (long)((n + 16383) / 16384);
    #pragma omp parallel for if (n > 32768)
    for (long c = 0; c < chunks; c++) {
        size_t i0 = (size_t)c * 16384, m = n - i0 < 16384 ? n - i0 : 16384;
        memset(p + i0, 0, m * sizeof(float));
    }
}

void model_forward(Model *M, const int *tokens, int B, int T, int t0) {
    const Config *c = &M->c;
    if (B > M->maxB || T > M->maxT) die_internal("model_forward: %dx%d exceeds capacity %dx%d", B, T, M->maxB, M->maxT);
    if (t0 > 0 && B != 1) die_internal("model_forward: incremental decoding needs B == 1");
    int D = c->dim, hs = D / c->n_heads, kv = proj_dims_kv(c), Hd = c->hidden_dim;
    int r0 = t0, R = B * T, n = R - r0;
    size_t cap = (size_t)M->maxB * M->maxT;
    for (int r = r0; r < R; r++)
        if (tokens[r] < 0 || tokens[r] >= c->vocab_size) die_input("token id %d out of range [0, %d)", tokens[r], c->vocab_size);
    if (M->tok_emb.dtype == DT_F32) embedding_forward(M->x + (size_t)r0 * D, tokens + r0, M->tok_emb.data, n, D);
    else // a frozen 16-bit table: widen each token's row
        for (int r = r0; r < R; r++) param_rows(&M->tok_emb, tokens[r], 1, M->x + (size_t)r * D);
    for (int l = 0; l < c->n_layers; l++) {
        Acts a = layer_acts(M, l);
        float *xnext = M->x + (l + 1) * cap * D;
        rmsnorm_forward(a.xn1 + (size_t)r0 * D, a.r1 + r0, a.x + (size_t)r0 * D, M->rms_att.data + l * D, n, D, c->norm_eps);
        Linear *lq = LIN(l, P_Q), *lk = LIN(l, P_K), *lv = LIN(l, P_V);
        lq->ops->forward(lq, a.xn1 + (size_t)r0 * D, a.q + (size_t)r0 * D, n);
        lk->ops->forward(lk, a.xn1 + (size_t)r0 * D, a.k + (size_t)r0 * kv, n);
        lv->ops->forward(lv, a.xn1 + (size_t)r0 * D, a.v + (size_t)r0 * kv, n);
        rope_forward(a.q, r0, R, T, D, hs, M->rope_cos, M->rope_sin);
        rope_forward(a.k, r0, R, T, kv, hs, M->rope_cos, M->rope_sin);
        attention_forward(a.ao, a.att, a.q, a.k, a.v, B, T, t0, c->n_heads, c->n_kv_heads, hs, M->maxT);
        Linear *lo = LIN(l, P_O);
        lo->ops->forward(lo, a.ao + (size_t)r0 * D, a.xmid + (size_t)r0 * D, n);
        residual_add(a.xmid, a.x, (size_t)r0 * D, (size_t)R * D);
        rmsnorm_forward(a.xn2 + (size_t)r0 * D, a.r2 + r0, a.xmid + (size_t)r0 * D, M->rms_ffn.data + l * D, n, D, c->norm_eps);
        Linear *lg = LIN(l, P_GATE), *lu = LIN(l, P_UP), *ld = LIN(l, P_DOWN);
        lg->ops->forward(lg, a.xn2 + (size_t)r0 * D, a.h1 + (size_t)r0 * Hd, n);
        lu->ops->forward(lu, a.xn2 + (size_t)r0 * D, a.h3 + (size_t)r0 * Hd, n);
        swiglu_forward(a.hg + (size_t)r0 * Hd, a.h1 + (size_t)r0 * Hd, a.h3 + (size_t)r0 * Hd, (long)n * Hd);
        ld->ops->forward(ld, a.hg + (size_t)r0 * Hd, xnext + (size_t)r0 * D, n);
        residual_add(xnext, a.xmid, (size_t)r0 * D, (size_t)R * D);
    }
    rmsnorm_forward(M->xf + (size_t)r0 * D, M->rf + r0, M->x + c->n_layers * cap * D + (size_t)r0 * D,
                    M->rms_final.data, n, D, c->norm_eps);
    struct ModelScratch *S = M->scratch;
    if (S->g.dxf) zero_f32(S->g.dxf, (size_t)R * D);
}

double model_head(Model *M, const int *targets, const float *w, int row0, int n,
                  float *logprob, int *greedy, int backward, float loss_scale) {
    struct ModelScratch *S = M->scratch;
    int D = M->c.dim, V = M->c.vocab_size;
    if (backward && !S->g.dxf) die_internal("model_head: backward on a model with nothing to train");
    double nll = 0;
    // The bf16 mode with a head that takes rounded d-logits: each row rounded while
    // logsoftmax_row leaves it in cache, not read back from memory by the product's own
    // rounding (the head's chunk is 131 MB of fp32 d-logits at vocabulary 32000).
    int round16 = backward && bf16mm_on() && M->head->ops->backward_dx_bf16;
    if (round16 && !S->dlogits16) {
        S->dlogits16 = xmalloc_aligned((size_t)S->chunk * V * sizeof(uint16_t));
        mem_transient(&M->head->mem, (size_t)S->chunk * V * sizeof(uint16_t));
    }
    for (int c0 = 0; c0 < n; c0 += S->chunk) {
        int m = n - c0 < S->chunk ? n - c0 : S->chunk;
        const float *X = M->xf + (size_t)(row0 + c0) * D;
        M->head->ops->forward(M->head, X, S->logits, m);
        double part = 0;
        #pragma omp parallel for reduction(+ : part)
        for (int i = 0; i < m; i++) {
            int r = row0 + c0 + i, t = targets[r - row0];
            float wi = w ? w[r - row0] : 1.0f;
            if (t < 0) wi = 0;
            float *lg = S->logits + (size_t)i * V;
            int gr = 0;
            float lp = logsoftmax_row(lg, V, t, greedy ? &gr : NULL, backward ? lg : NULL, loss_scale * wi);
            if (round16) bf16mm_round(lg, S->dlogits16 + (size_t)i * V, V);
            if (logprob) logprob[r - row0] = lp;
            if (greedy) greedy[r - row0] = gr;
            part += -(double)lp * wi;
        }
        nll += part;
        if (round16) M->head->ops->backward_dx_bf16(M->head, S->dlogits16, S->g.dxf + (size_t)(row0 + c0) * D, m);
        else if (backward) M->head->ops->backward(M->head, X, S->logits, S->g.dxf + (size_t)(row0 + c0) * D, m);
    }
    return nll;
}

void model_logits_row(Model *M, int row, float *out) {
    M->head->ops->forward(M->head, M->xf + (size_t)row * M->c.dim, out, 1);
}

static void lin_bwd(Linear *L, const float *X, const float *dY, float *dX, int n) {
    L->ops->backward(L, X, dY, dX, n);
}

static size_t grad_bytes(Model *M) {
    Param *ps[MODEL_MAX_PARAMS];
    int n = model_params(M, ps, MODEL_MAX_PARAMS);
    size_t b = 0;
    for (int i = 0; i < n && i < MODEL_MAX_PARAMS; i++) b += ps[i]->n * sizeof(float);
    return b;
}

// Layer l's activations (rows [0, R)) are dead once its backward is done (the next
// forward rewrites them before reading). Releases up to `want` bytes of them, largest
// slabs first, and returns the bytes released: backward releases as much as the gradients
// it writes take, so they fit in memory the activations no longer need instead of adding
// to the peak, while the next forward re-faults only that much (re-faulting costs about
// 0.5 s/GB, so releasing every activation would slow small models' steps by ~15%). With
// gradient accumulation each micro-batch releases as much again: still ∝ gradient bytes.
static size_t release_layer(Model *M, int l, int R, size_t want) {
    const Config *c = &M->c;
    Acts a = layer_acts(M, l);
    size_t D = c->dim, kv = proj_dims_kv(c), Hd = c->hidden_dim, got = 0;
    struct { float *p; size_t n; } s[] = {{a.h1, Hd}, {a.h3, Hd}, {a.hg, Hd}, {a.x, D}, {a.xn1, D}, {a.q, D},
                                          {a.ao, D}, {a.xmid, D}, {a.xn2, D}, {a.k, kv}, {a.v, kv}};
    for (size_t i = 0; i < sizeof s / sizeof *s && got < want; i++) {
        size_t b = (size_t)R * s[i].n * sizeof(float);
        got += mem_release(s[i].p, b < want - got ? b : want - got);
    }
    return got;
}

void model_release_activations(Model *M) {
    size_t cap = (size_t)M->maxB * M->maxT, D = M->c.dim;
    for (int l = 0; l < M->c.n_layers; l++) release_layer(M, l, (int)cap, SIZE_MAX);
    mem_release(M->x + (size_t)M->c.n_layers * cap * D, cap * D * sizeof(float)); // the last layer's output
}

void model_backward(Model *M, const int *tokens, int B, int T) {
    const Config *c = &M->c;
    struct ModelScratch *S = M->scratch;
    Grads *g = &S->g;
    int D = c->dim, hs = D / c->n_heads, kv = proj_dims_kv(c), Hd = c->hidden_dim, R = B * T, L = c->n_layers;
    size_t cap = (size_t)M->maxB * M->maxT;
    size_t owed = M->release ? grad_bytes(M) : 0; // activation bytes to release for the gradients (release_layer)
    zero_f32(g->dx, (size_t)R * D);
    rmsnorm_backward(g->dx, M->rms_final.grad, g->dxf, M->x + L * cap * D, M->rms_final.data, M->rf, R, D);
    for (int l = L - 1; l >= 0; l--) {
        Acts a = layer_acts(M, l);
        // x_{l+1} = xmid + down(hg): dx carries on as d xmid.
        zero_f32(g->dhg, (size_t)R * Hd);
        lin_bwd(LIN(l, P_DOWN), a.hg, g->dx, g->dhg, R);
        swiglu_backward(g->dh1, g->dh3, g->dhg, a.h1, a.h3, (long)R * Hd);
        zero_f32(g->dxn, (size_t)R * D);
        lin_bwd(LIN(l, P_GATE), a.xn2, g->dh1, g->dxn, R);
        lin_bwd(LIN(l, P_UP), a.xn2, g->dh3, g->dxn, R);
        rmsnorm_backward(g->dx, M->rms_ffn.grad ? M->rms_ffn.grad + l * D : NULL, g->dxn, a.xmid, M->rms_ffn.data + l * D, a.r2, R, D);
        // xmid = x + o(ao): dx carries on as d x.
        zero_f32(g->dao, (size_t)R * D);
        lin_bwd(LIN(l, P_O), a.ao, g->dx, g->dao, R);
        attention_backward(g->dq, g->dk, g->dv, g->dao, a.ao, a.att, a.q, a.k, a.v, B, T, c->n_heads, c->n_kv_heads, hs, M->maxT);
        rope_backward(g->dq, 0, R, T, D, hs, M->rope_cos, M->rope_sin);
        rope_backward(g->dk, 0, R, T, kv, hs, M->rope_cos, M->rope_sin);
        zero_f32(g->dxn, (size_t)R * D);
        lin_bwd(LIN(l, P_Q), a.xn1, g->dq, g->dxn, R);
        lin_bwd(LIN(l, P_K), a.xn1, g->dk, g->dxn, R);
        lin_bwd(LIN(l, P_V), a.xn1, g->dv, g->dxn, R);
        rmsnorm_backward(g->dx, M->rms_att.grad ? M->rms_att.grad + l * D : NULL, g->dxn, a.x, M->rms_att.data + l * D, a.r1, R, D);
        if (owed) owed -= release_layer(M, l, R, owed);
    }
    if (M->tok_emb.grad) embedding_backward(M->tok_emb.grad, g->dx, tokens, R, D);
}

const float *model_proj_input(Model *M, int l, int p) {
    Acts a = layer_acts(M, l);
    switch (p) {
    case P_Q: case P_K: case P_V: return a.xn1;
    case P_O: return a.ao;
    case P_GATE: case P_UP: return a.xn2;
    case P_DOWN: return a.hg;
    default: return M->xf;
    }
}

const float *model_input_grad(Model *M) { return M->scratch->g.dx; }

static int add_param(Param **out, int n, int max, Param *p) {
    for (int i = 0; i < n && i < max; i++) if (out[i] == p) return n; // tied head
    if (n < max) out[n] = p;
    return n + 1;
}
int model_params(Model *M, Param **out, int max) {
    int n = 0;
    Param *base[] = {&M->tok_emb, &M->rms_att, &M->rms_ffn, &M->rms_final, &M->wcls};
    for (int i = 0; i < 5; i++) if (base[i]->grad) n = add_param(out, n, max, base[i]);
    for (int i = 0; i < M->c.n_layers * N_LAYER_PROJ; i++)
        for (int j = 0; j < M->lin[i]->n_params; j++) n = add_param(out, n, max, M->lin[i]->params[j]);
    for (int j = 0; j < M->head->n_params; j++) n = add_param(out, n, max, M->head->params[j]);
    return n;
}
// With M->release, released rather than written: a gradient then costs memory only from
// backward, where it is first written, to the optimizer step — not at the end of forward,
// where the activations peak (model_backward releases activations to make room for it).
void model_zero_grad(Model *M) {
    Param *ps[MODEL_MAX_PARAMS];
    int n = model_params(M, ps, MODEL_MAX_PARAMS);
    for (int i = 0; i < n && i < MODEL_MAX_PARAMS; i++) {
        if (M->release) mem_zero(ps[i]->grad, ps[i]->n * sizeof(float));
        else memset(ps[i]->grad, 0, ps[i]->n * sizeof(float));
    }
}
void model_memory(Model *M, MemAccount *acc) {
    memset(acc, 0, sizeof *acc);
    for (int i = 0; i < M->c.n_layers * N_LAYER_PROJ; i++) mem_add(acc, &M->lin[i]->mem);
    mem_add(acc, &M->head->mem);
    // Embeddings and norms: frozen weight, or trainable with grad + Adam m, v.
    Param *base[] = {&M->tok_emb, &M->rms_att, &M->rms_ffn, &M->rms_final};
    for (int i = 0; i < 4; i++) {
        size_t b = base[i]->n * sizeof(float);
        if (base[i]->grad) { acc->trainable_bytes += b; acc->grad_opt_bytes += 3 * b; }
        else if (i || M->c.shared_classifier == 0 || !M->head->mem.weight_bytes) acc->weight_bytes += param_bytes(base[i]);
    }
    Param *ps[1];
    if (model_params(M, ps, 1) > 0) acc->saved_bytes += M->act_bytes;
    if (M->bf16_pack) acc->weight_bytes += acc->pack_bytes;
    else acc->pack_bytes = 0;
}
size_t mem_step_peak(const MemAccount *a, size_t act_bytes) {
    size_t grads = a->trainable_bytes; // fp32, one per trainable value: trainable + state = grad_opt_bytes
    return a->weight_bytes + a->grad_opt_bytes + a->saved_bytes + a->transient_peak + (grads > act_bytes ? grads - act_bytes : 0);
}
