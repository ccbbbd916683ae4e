// gptq.c — GPTQ (Frantar et al. 2022; baselines/README.md): the matrix
// algorithm and the model-level calibration pass behind `gptq`, `gptq_lora` and the
// gptq base of `qlora_uniform` / `qa_lora`.
//
// Per matrix, with H = (2/N)·Σ x xᵀ over the layer's real calibration inputs:
//   dead inputs (H_dd = 0) get H_dd = 1 and W[:, d] = 0; optional act-order (columns by
//   decreasing diag H); H += damp·mean(diag H)·I; U = upper Cholesky factor of H⁻¹
//   (LAPACK dpotrf → dpotri → dpotrf in double: float32 loses positive-definiteness on
//   ill-conditioned Hessians). Then column by column: q = Q(w), e = (w − q)/U_ii, and the
//   not-yet-quantized columns absorb the error, W[:, k] −= e·U_ik — inside a block of
//   columns as rank-1 updates (sger), and for the columns after the block as one lazy
//   sgemm, which is exactly the same arithmetic batched.
// Quantizer: the harness's per-group asymmetric min-max (quant_init_params QINIT_MINMAX,
//   the same one RTN uses, so GPTQ vs RTN compares the algorithm only). Without act-order
//   a group's (s, b) are computed when its first column comes up, from the columns as they
//   are then (already error-updated). The block width is 128 rounded to whole groups so a
//   group never spans a pending lazy update — the reference recomputes group params from
//   columns that may still miss part of the current block's update; here they never do.
//   With act-order the groups' params are fixed up front from W ("static groups", what the
//   reference recommends with act-order), so groups stay contiguous in the deployed form.
//
// Model pass (gptq_quantize_model): layer by layer, in the order the data flows —
// {q,k,v}, {o}, {gate,up}, {down} (the reference's --true-sequential) — run the model over
// the calibration windows, accumulate H for that stage's input from model_proj_input,
// quantize its projections in place, and go on: later stages see the quantized earlier
// ones. The head, if targeted, last (its input is the final-normed state); its result is
// recorded but not written back (a tied head is the embedding table).
#include "common.h"
#include "gemm.h"
#include "ppl.h"
#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define GPTQ_BLOCK 128

double gptq_quantize_matrix(int bits, int group_size, float *W, int out, int in, const double *Hin,
                            float damp, int act_order, float *s, float *b, uint8_t *codes) {
    QuantSpec q;
    quant_spec(&q, bits, group_size, out, in);
    int gs = q.gs, ng = q.ng;
    if (!(damp >= 0) || !isfinite(damp)) die_input("method.damp: must be a finite value >= 0 (got %g)", damp);
    size_t nn = (size_t)in * in;
    double *H = xmalloc(nn * sizeof(double));
    memcpy(H, Hin, nn * sizeof(double));
    for (int d = 0; d < in; d++)
        if (H[(size_t)d * in + d] == 0) {
            H[(size_t)d * in + d] = 1;
            for (int r = 0; r < out; r++) W[(size_t)r * in + d] = 0;
        }
    int *perm = xmalloc((size_t)in * sizeof(int));
    for (int i = 0; i < in; i++) perm[i] = i;
    if (act_order) {
        // Stable insertion sort by decreasing diag(H): ties keep column order (deterministic).
        for (int i = 1; i < in; i++) {
            int v = perm[i], k = i;
            double dv = H[(size_t)v * in + v];
            while (k > 0 && H[(size_t)perm[k - 1] * in + perm[k - 1]] < dv) { perm[k] = perm[k - 1]; k--; }
            perm[k] = v;
        }
        quant_init_params(&q, W, QINIT_MINMAX, s, b);
    }
    // Permuted Hessian, damped.
    double *Hp = xmalloc(nn * sizeof(double)), mean = 0;
    for (int i = 0; i < in; i++)
        for (int k = 0; k < in; k++) Hp[(size_t)i * in + k] = H[(size_t)perm[i] * in + perm[k]];
    for (int i = 0; i < in; i++) mean += Hp[(size_t)i * in + i];
    mean /= in;
    for (int i = 0; i < in; i++) Hp[(size_t)i * in + i] += damp * mean;
    free(H);
    lapack_int info = LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'U', in, Hp, in);
    if (!info) info = LAPACKE_dpotri(LAPACK_ROW_MAJOR, 'U', in, Hp, in);
    if (!info) info = LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'U', in, Hp, in);
    if (info)
        die_input("GPTQ: the damped Hessian of a %d x %d layer is not positive definite (LAPACK info %d); "
                  "raise method.damp (now %g)", out, in, (int)info, damp);
    float *U = xcalloc(nn, sizeof(float)); // upper triangle only; LAPACK leaves junk below
    for (int i = 0; i < in; i++)
        for (int k = i; k < in; k++) U[(size_t)i * in + k] = (float)Hp[(size_t)i * in + k];
    free(Hp);

    // Transposed working copy: row i of Wt is (permuted) column i of W, so the column
    // sweep reads and updates contiguous memory.
    float *Wt = xmalloc((size_t)in * out * sizeof(float));
    for (int r = 0; r < out; r++)
        for (int i = 0; i < in; i++) Wt[(size_t)i * out + r] = W[(size_t)r * in + perm[i]];
    int bs = GPTQ_BLOCK;
    if (!act_order && gs < in) bs = gs <= GPTQ_BLOCK ? (GPTQ_BLOCK / gs) * gs : gs;
    float *Err = xmalloc((size_t)bs * out * sizeof(float));
    float *grp = act_order ? NULL : xmalloc((size_t)out * gs * sizeof(float));
    float *gsv = xmalloc((size_t)out * sizeof(float)), *gbv = xmalloc((size_t)out * sizeof(float));
    uint8_t *u = xmalloc((size_t)out * in);
    double loss = 0;
    for (int i1 = 0; i1 < in; i1 += bs) {
        int i2 = i1 + bs < in ? i1 + bs : in, cnt = i2 - i1;
        for (int i = i1; i < i2; i++) {
            float *w = Wt + (size_t)i * out;
            if (!act_order && i % gs == 0) {
                int g = i / gs, glen = quant_group_len(&q, g);
                for (int r = 0; r < out; r++)
                    for (int k = 0; k < glen; k++) grp[(size_t)r * glen + k] = Wt[(size_t)(i + k) * out + r];
                QuantSpec qg;
                quant_spec(&qg, bits, glen, out, glen);
                quant_init_params(&qg, grp, QINIT_MINMAX, gsv, gbv);
                for (int r = 0; r < out; r++) { s[(size_t)r * ng + g] = gsv[r]; b[(size_t)r * ng + g] = gbv[r]; }
            }
            int j = perm[i], g = j / gs;
            float d = U[(size_t)i * in + i];
            float *e = Err + (size_t)(i - i1) * out;
            for (int r = 0; r < out; r++) {
                float sg = s[(size_t)r * ng + g], bg = b[(size_t)r * ng + g];
                int c = quant_code_of(w[r], sg, bg, q.qn, q.qp);
                float qv = sg * (float)c + bg; // the expression quant_dequant_rows evaluates
                u[(size_t)r * in + j] = (uint8_t)(c - q.qn);
                e[r] = (w[r] - qv) / d;
                loss += 0.5 * (double)e[r] * e[r];
                w[r] = qv;
            }
            // Columns i+1..i2−1 of the block: Wt[k] −= U[i,k]·e
            if (i + 1 < i2)
                cblas_sger(CblasRowMajor, i2 - i - 1, out, -1.0f, U + (size_t)i * in + i + 1, 1, e, 1,
                           Wt + (size_t)(i + 1) * out, out);
        }
        // Columns after the block, lazily: Wt[i2:] −= U[i1:i2, i2:]ᵀ·Err
        if (i2 < in)
            gemm_f32('T', 'N', in - i2, out, cnt, -1.0f, U + (size_t)i1 * in + i2, in,
                        Err, out, 1.0f, Wt + (size_t)i2 * out, out);
    }
    for (int r = 0; r < out; r++)
        for (int i = 0; i < in; i++) W[(size_t)r * in + perm[i]] = Wt[(size_t)i * out + r];
    quant_pack(u, out, in, bits, codes);
    free(u); free(gsv); free(gbv); free(grp); free(Err); free(Wt); free(U); free(perm);
    return loss;
}

// ---- model pass ------------------------------------------------------------------------------

int baselines_needs_prepare(const MethodCfg *m) {
    const char *n = m->name;
    if (!strcmp(n, "gptq") || !strcmp(n, "gptq_lora")) return 1;
    if (!strcmp(n, "qlora_uniform") || !strcmp(n, "qa_lora")) return !strcmp(m->base, "gptq");
    if (!strcmp(n, "l4q")) return !strcmp(m->init, "gptq"); // L4Q started from GPTQ's grid
    return 0;
}

// Quantize weight W (out×in) with Hessian H and record the exact result under the layer's name.
static void quantize_record(MethodPrep *rec, const MethodCfg *m, const char *name, float *W, int out, int in,
                            const double *H) {
    QuantSpec q;
    quant_spec(&q, m->bits, m->group_size, out, in);
    Deploy d;
    quant_deploy_alloc(&q, &d);
    gptq_quantize_matrix(m->bits, m->group_size, W, out, in, H, m->damp, m->act_order, d.scale, d.offset, d.codes);
    method_prep_put(rec, name, &d);
}

// H = (2/N)·Σ xxᵀ of input `p` of layer l (l < 0: the head) over all calibration windows.
static void accumulate_h(Model *M, int l, int p, const int *calib, int nw, int T, int B, int in, double *H) {
    size_t nn = (size_t)in * in;
    float *S = xmalloc(nn * sizeof(float));
    memset(H, 0, nn * sizeof(double));
    long ntok = 0;
    for (int w0 = 0; w0 < nw; w0 += B) {
        int bb = nw - w0 < B ? nw - w0 : B, rows = bb * T;
        model_forward(M, calib + (size_t)w0 * T, bb, T, 0);
        const float *X = l < 0 ? model_proj_input(M, 0, P_HEAD) : model_proj_input(M, l, p);
        // Per batch in float (a few thousand rows), summed across batches in double.
        gemm_f32('T', 'N', in, in, rows, 1.0f, X, in, X, in, 0.0f, S, in);
        for (size_t k = 0; k < nn; k++) H[k] += S[k];
        ntok += rows;
    }
    for (size_t k = 0; k < nn; k++) H[k] *= 2.0 / (double)ntok;
    free(S);
}

MethodPrep *gptq_quantize_model(ModelFile *mf, const MethodCfg *m, const int *calib, int nw, int T) {
    const Config *c = &mf->c;
    int L = c->n_layers;
    if (nw <= 0 || T <= 0) die_input("GPTQ: no calibration windows");
    if (T > c->seq_len) die_input("GPTQ: calibration window %d exceeds the model's seq_len %d", T, c->seq_len);
    mf_widen(mf); // GPTQ rewrites the fp32 weights in place
    for (int i = 0; i < L * N_LAYER_PROJ; i++)
        if (!mf->w || !mf->w[i])
            die_input("%s: GPTQ needs fp32 projection weights (this model is already quantized)", mf->path);
    // Batch so the attention probabilities (L·B·heads·T² floats) stay under ~128 MiB.
    double per = (double)L * c->n_heads * T * T * sizeof(float);
    int B = (int)(128.0 * 1024 * 1024 / per);
    if (B > 8) B = 8;
    if (B > nw) B = nw;
    if (B < 1) B = 1;
    Model *M = model_build(mf, NULL, B, T, 0);
    MethodPrep *rec = method_prep_new();
    static const int STAGES[4][3] = {{P_Q, P_K, P_V}, {P_O, -1, -1}, {P_GATE, P_UP, -1}, {P_DOWN, -1, -1}};
    double *H = NULL;
    for (int l = 0; l < L; l++)
        for (int st = 0; st < 4; st++) {
            int p0 = -1;
            for (int k = 0; k < 3; k++)
                if (STAGES[st][k] >= 0 && (m->targets & (1u << STAGES[st][k]))) { p0 = STAGES[st][k]; break; }
            if (p0 < 0) continue;
            int out, in;
            proj_dims(c, p0, &out, &in);
            H = xrealloc(H, (size_t)in * in * sizeof(double));
            accumulate_h(M, l, p0, calib, nw, T, B, in, H);
            for (int k = 0; k < 3; k++) {
                int p = STAGES[st][k];
                if (p < 0 || !(m->targets & (1u << p))) continue;
                proj_dims(c, p, &out, &in);
                char name[48]; // as model_build names the layer
                snprintf(name, sizeof name, "layers.%d.%s", l, PROJ_NAMES[p]);
                quantize_record(rec, m, name, mf->w[l * N_LAYER_PROJ + p], out, in, H); // in place: later stages see it
            }
        }
    if (m->targets & (1u << P_HEAD)) {
        int in = c->dim, out = c->vocab_size;
        const float *hw = c->shared_classifier ? mf->tok_emb : mf->wcls;
        H = xrealloc(H, (size_t)in * in * sizeof(double));
        accumulate_h(M, -1, P_HEAD, calib, nw, T, B, in, H);
        float *W = xmalloc((size_t)out * in * sizeof(float));
        memcpy(W, hw, (size_t)out * in * sizeof(float));
        quantize_record(rec, m, "head", W, out, in, H);
        free(W);
    }
    free(H);
    model_free(M);
    return rec;
}

void gptq_base(const MethodCfg *m, const char *name, int in, Deploy *d) {
    const Deploy *p = method_prep_find(m->prep, name);
    if (!p)
        die_internal("%s: method %s needs the model-level GPTQ pass: call baselines_prepare (or method_prepare) and pass "
                     "its records to model_build in MethodCfg.prep", name, m->name);
    if (p->bits != m->bits || p->group_size != (m->group_size == -1 ? in : m->group_size))
        die_internal("%s: GPTQ records are for %d bits / group %d, the method asks %d / %d", name, p->bits,
                     p->group_size, m->bits, m->group_size);
    deploy_copy(d, p);
}

MethodPrep *gptq_prepare(ModelFile *mf, const MethodCfg *m, const Tokenizer *tok, int seq_len) {
    return baselines_prepare(mf, m, tok, NULL, seq_len);
}

MethodPrep *baselines_prepare(ModelFile *mf, const MethodCfg *m, const Tokenizer *tok, const char *calib_text_path,
                              int seq_len) {
    if (!baselines_needs_prepare(m)) return NULL;
    QuantSpec probe; // bits / group size errors before the slow part (every projection has in >= dim)
    quant_spec(&probe, m->bits, m->group_size, 1, mf->c.dim);
    if (m->calib_windows <= 0) die_input("method.calib_windows: must be positive (got %d)", m->calib_windows);
    char buf[4096];
    const char *path = calib_text_path ? calib_text_path
                                       : resolve_path("tinystories/tinystories_train_excerpt.txt", NULL, buf, sizeof buf);
    size_t len, mark = hold_mark();
    char *text = hold(read_file(path, &len), free);
    int n;
    int *stream = text_to_stream(tok, path, text, len, &n);
    hold_unwind(mark); // text
    hold(stream, free);
    int T = seq_len > 0 && seq_len <= mf->c.seq_len ? seq_len : mf->c.seq_len;
    if (n < 2) die_input("%s: calibration text has %d tokens; GPTQ needs at least 2", path, n);
    if (n < T) T = n;
    int nw = n / T < m->calib_windows ? n / T : m->calib_windows;
    // Windows spread evenly over the whole stream (first at 0, last ending at the end).
    long stride = nw > 1 ? (long)(n - T) / (nw - 1) : 0;
    int *calib = xmalloc((size_t)nw * T * sizeof(int));
    for (int k = 0; k < nw; k++) memcpy(calib + (size_t)k * T, stream + (size_t)k * stride, (size_t)T * sizeof(int));
    hold_unwind(mark); // stream
    if (nw < m->calib_windows)
        warnf("GPTQ calibration: %s gives %d windows of %d tokens (asked %d)", path, nw, T, m->calib_windows);
    MethodPrep *rec = gptq_quantize_model(mf, m, calib, nw, T);
    free(calib);
    return rec;
}
