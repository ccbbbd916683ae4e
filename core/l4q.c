// l4q.c — L4Q (docs/design.md "L4Q"): LoRA merged into the weight
// BEFORE quantization, one quantized tensor, trained A, B, s, b.
//
//   W = W0 + α·B·A,  v = (W − b)/s,  w̃ = rint(clamp(v, Q_N, Q_P)),  Wq = s·w̃ + b,  Y = X·Wqᵀ
//
// Memory-optimized design (the point of the paper): forward keeps nothing of size out×in —
// only references to W0, A, B, s, b; the model passes X again to backward. Both forward
// and backward walk the output rows in tiles: a tile of Wq is rebuilt from
// W0 + α·B_tile·A, and in backward the matching tile of G = dYᵀ·X (all N rows summed) is
// formed and consumed immediately into dA, dB, ds, db and dX. saved_bytes stays 0.
//
// Tile size (l4q_tile.h): one buffer of tile_rows × tile_span floats, tile_span being the
// model's widest projection side (model_build sets it), so every layer gets the same bytes:
// on a LLaMA-7B block down takes 256 rows of 11008, gate/up 688 rows of 4096 and q/k/v/o 688
// rows too — 11.3 MB each, and the narrower layers no longer pay for more, thinner tiles. A
// last tile under a quarter of that is spread over the others (at most 1.25× the bytes).
// Each tile's sgemm calls repack X (N×in) and, in backward, read and write all of dX
// (N×in), so fewer, taller tiles cost less of that. Backward reuses the one buffer: Wq
// for dX first, then G; consuming G needs the merged weight again, so each block of rows
// is re-merged into a per-thread scratch of L4Q_MR rows (cheaper than a second tile).
// Transient memory: one tile plus threads × L4Q_MR × in floats.
//
// Gradients (STE on round, M = [Q_N ≤ v ≤ Q_P]):
//   dA = α·Bᵀ·(M⊙G)   dB = α·(M⊙G)·Aᵀ   ds, db: quant.h   dX = dY·Wq (incl. b)
// None of the released code's bugs: b is in dX, db is grouped along the input dim like ds,
// the mask is always applied, and G sums over every token.
#include "gemm.h"
#include "l4q_tile.h"
#include "methods.h"
#include "lora.h"
#include "quant.h"
#include "util.h"
#include <math.h>
#include <omp.h>
#include <stdlib.h>

typedef struct {
    Linear base;
    const Param *W0;     // frozen out×in (fp32 or 16-bit), not owned
    Param *A, *B, *s, *b;
    float alpha;         // the LoRA scale alpha/rank
    QuantSpec q;
    int tile, lsq_scale;
} L4qLinear;

// The merge W0 + α·B·A is bound by loads of A (one per FMA when done row by row), so it
// runs on blocks of L4Q_MR rows that share each load, L4Q_MC columns at a time: the
// L4Q_MR×L4Q_MC accumulators stay in vector registers.
#define L4Q_MR 8
#define L4Q_MC 32

// Columns [j, j+n) (n ≤ L4Q_MC) of the merged rows [row0, row0+nr) (nr ≤ L4Q_MR) into W
// (nr rows, stride in). Element (i, j): acc = Σ_k B[i][k]·A[k][j] by fmaf, k ascending,
// then fmaf(α, acc, W0[i][j]) — a fixed order, whatever the block or chunk.
static inline void l4q_merge_chunk(const L4qLinear *l, size_t row0, int nr, int j, int n, float *W) {
    const float *A = l->A->data, *Bi[L4Q_MR];
    int r = l->A->shape[0];
    size_t in = (size_t)l->base.in;
    for (int ii = 0; ii < L4Q_MR; ii++) // rows past nr repeat the last one (computed, not stored)
        Bi[ii] = l->B->data + (row0 + (ii < nr ? ii : nr - 1)) * r;
    float m[L4Q_MR][L4Q_MC];
    for (int ii = 0; ii < L4Q_MR; ii++)
        for (int jj = 0; jj < n; jj++) m[ii][jj] = 0.0f;
    for (int k = 0; k < r; k++) {
        const float *ak = A + (size_t)k * in + j;
        for (int ii = 0; ii < L4Q_MR; ii++) {
            float bk = Bi[ii][k];
            #pragma omp simd
            for (int jj = 0; jj < n; jj++) m[ii][jj] = fmaf(bk, ak[jj], m[ii][jj]);
        }
    }
    float w16[L4Q_MC]; // a 16-bit W0 is widened here, a chunk row at a time (exact)
    for (int ii = 0; ii < nr; ii++) {
        const float *w0 = w16;
        if (l->W0->dtype == DT_F32) w0 = l->W0->data + (row0 + ii) * in + j;
        else half_to_f32(l->W0->dtype, l->W0->half + (row0 + ii) * in + j, w16, n);
        float *w = W + ii * in + j;
        #pragma omp simd
        for (int jj = 0; jj < n; jj++) w[jj] = fmaf(l->alpha, m[ii][jj], w0[jj]);
    }
}

// Merged rows [row0, row0+nr) (nr ≤ L4Q_MR) of W = W0 + α·B·A into W (nr×in). Training and
// l4q_deploy both merge here, so the deployed codes are those of the training-time Wq bit
// for bit.
static void l4q_merge_rows(const L4qLinear *l, size_t row0, int nr, float *W) {
    int in = l->base.in, j = 0;
    for (; j + L4Q_MC <= in; j += L4Q_MC) l4q_merge_chunk(l, row0, nr, j, L4Q_MC, W); // constant n: registers
    if (j < in) l4q_merge_chunk(l, row0, nr, j, in - j, W);
}

// Rows [r0, r0+t) of Wq = Q(W0 + α·B·A). Each block of L4Q_MR rows is merged and
// quantized while still in cache, so W0 is read once per pass.
//   Forward (Gt NULL): the quantized rows go to Wq (t×in).
//   Backward (Gt = the same rows of G = ∂L/∂Wq, Wq NULL): each block is merged into a
//   per-thread scratch of L4Q_MR rows instead (thread k's at scratch + k·L4Q_MR·in; the
//   caller allocates them with the tile, so worker threads never allocate — freed blocks in
//   their malloc arenas were not reused and grew the resident set ~27 MB per 7B layer) —
//   the tile buffer holds G — ds, db accumulate (in double: a group can hold a whole row)
//   and Gt becomes M⊙G in place.
// Rows own their groups, so the block loop has no races.
static void l4q_quant_rows(const L4qLinear *l, int r0, int t, float *Gt, float *Wq, float *scratch_all) {
    const QuantSpec *q = &l->q;
    const float qn = (float)q->qn, qp = (float)q->qp;
    size_t in = (size_t)q->in;
    #pragma omp parallel
    {
        float *scratch = Gt ? scratch_all + (size_t)omp_get_thread_num() * L4Q_MR * in : NULL;
        #pragma omp for schedule(static)
        for (int i0 = 0; i0 < t; i0 += L4Q_MR) {
            int nr = t - i0 < L4Q_MR ? t - i0 : L4Q_MR;
            float *wb = Gt ? scratch : Wq + i0 * in;
            l4q_merge_rows(l, (size_t)r0 + i0, nr, wb);
            for (int i = i0; i < i0 + nr; i++) {
                float *wq = wb + (i - i0) * in, *gr = Gt ? Gt + i * in : NULL;
                if (!gr) { quant_fake_row(q, wq, l->s->data, l->b->data, r0 + i, wq); continue; }
                for (int g = 0; g < q->ng; g++) {
                    size_t k = ((size_t)r0 + i) * q->ng + g;
                    float sg = quant_safe_scale(l->s->data[k]), bg = l->b->data[k];
                    int j0 = g * q->gs, j1 = j0 + quant_group_len(q, g);
                    // db's term is gj − M·gj (exactly gj or 0): an unconditional add keeps
                    // the loop vectorizable (GCC 12 leaves `clip ? gj : 0` scalar here).
                    double acc_s = 0, acc_b = 0;
                    #pragma omp simd reduction(+ : acc_s, acc_b)
                    for (int j = j0; j < j1; j++) {
                        float dsf, gj = gr[j];
                        int clip;
                        (void)quant_ste_elem(wq[j], sg, bg, qn, qp, &dsf, &clip);
                        float gm = clip ? 0.0f : gj;
                        acc_s += (double)gj * dsf;
                        acc_b += (double)(gj - gm);
                        gr[j] = gm;
                    }
                    float gsc = l->lsq_scale ? quant_lsq_gscale(q, g) : 1.0f;
                    l->s->grad[k] += gsc * (float)acc_s;
                    l->b->grad[k] += gsc * (float)acc_b;
                }
            }
        }
    }
}

static void l4q_forward(Linear *L, const float *X, float *Y, int N) {
    L4qLinear *l = (L4qLinear *)L;
    int in = L->in, out = L->out, tile = l->tile;
    float *Wt = xmalloc((size_t)tile * in * sizeof(float));
    mem_transient(&L->mem, (size_t)tile * in * sizeof(float));
    for (int r0 = 0; r0 < out; r0 += tile) {
        int t = out - r0 < tile ? out - r0 : tile;
        l4q_quant_rows(l, r0, t, NULL, Wt, NULL);
        // Y[:, r0:r0+t] = X·Wq_tileᵀ (ldc = out writes the tile's columns in place)
        gemm_f32('N', 'T', N, t, in, 1.0f, X, in, Wt, in, 0.0f, Y + r0, out);
    }
    free(Wt);
}

static void l4q_backward(Linear *L, const float *X, const float *dY, float *dX, int N) {
    L4qLinear *l = (L4qLinear *)L;
    int in = L->in, out = L->out, tile = l->tile, r = l->A->shape[0];
    size_t tb = (size_t)tile * in * sizeof(float), sb = (size_t)omp_get_max_threads() * L4Q_MR * in * sizeof(float);
    float *T = xmalloc(tb + sb), *scratch = T + (size_t)tile * in;
    mem_transient(&L->mem, tb + sb);
    for (int r0 = 0; r0 < out; r0 += tile) {
        int t = out - r0 < tile ? out - r0 : tile;
        if (dX) { // dX += dY[:, r0:r0+t]·Wq_tile
            l4q_quant_rows(l, r0, t, NULL, T, NULL);
            gemm_f32('N', 'N', N, in, t, 1.0f, dY + r0, out, T, in, 1.0f, dX, in);
        }
        // G_tile = dY[:, r0:r0+t]ᵀ·X, summed over all N tokens, into the same buffer
        mm_dytx_ld(dY + r0, out, X, T, N, t, in, 1.0f, 0.0f);
        l4q_quant_rows(l, r0, t, T, NULL, scratch); // ds, db; T → M⊙G
        // dB[r0:r0+t] += α·(M⊙G)_tile·Aᵀ
        gemm_f32('N', 'T', t, r, in, l->alpha, T, in, l->A->data, in,
                    1.0f, l->B->grad + (size_t)r0 * r, r);
        // dA += α·B_tileᵀ·(M⊙G)_tile
        gemm_f32('T', 'N', r, in, t, l->alpha, l->B->data + (size_t)r0 * r, r,
                    T, in, 1.0f, l->A->grad, in);
    }
    free(T);
}

// Deployed form: the integer codes of Q(W0 + α·B·A) and s, b — fully quantized, no LoRA
// branch at inference (docs/design.md "L4Q"). The scales are stored guarded (quant_safe_scale) and
// the weight merged by l4q_merge_rows, so the deployed weight equals the training-time Wq
// exactly.
static void l4q_deploy(Linear *L, Deploy *d) {
    L4qLinear *l = (L4qLinear *)L;
    float *W = xmalloc((size_t)L->out * L->in * sizeof(float)); // export-time only
    #pragma omp parallel for schedule(static)
    for (int i0 = 0; i0 < L->out; i0 += L4Q_MR)
        l4q_merge_rows(l, i0, L->out - i0 < L4Q_MR ? L->out - i0 : L4Q_MR, W + (size_t)i0 * L->in);
    quant_deploy(&l->q, W, l->s->data, l->b->data, d);
    free(W);
}

static void l4q_free(Linear *L) {
    L4qLinear *l = (L4qLinear *)L;
    Param *ps[4] = {l->A, l->B, l->s, l->b};
    for (int i = 0; i < 4; i++) { param_free(ps[i]); free(ps[i]); }
    free(l);
}
static const LinearOps L4Q_OPS = {.name = "l4q", .forward = l4q_forward, .backward = l4q_backward, .deploy = l4q_deploy, .free = l4q_free};

static Linear *l4q_build(const MethodCfg *m, Param *W, const char *name, Rng *rng) {
    if (m->rank <= 0) die_input("method.rank: must be positive (got %d)", m->rank);
    if (!isfinite(m->alpha)) die_input("method.alpha: must be finite (got %g)", m->alpha);
    if (m->tile_rows <= 0) die_input("method.tile_rows: must be positive (got %d)", m->tile_rows);
    int out = W->shape[0], in = W->shape[1];
    L4qLinear *l = linear_alloc(sizeof *l, &L4Q_OPS, out, in, name);
    l->W0 = W;
    l->alpha = m->alpha / m->rank;
    l->tile = l4q_tile(m->tile_rows, m->tile_span, out, in);
    l->lsq_scale = m->lsq_grad_scale;
    // B = 0 at construction, so W0 + α·B·A = W0: the init sees the merged weight.
    quant_params_build(m, name, W, out, in, &l->q, &l->s, &l->b);
    lora_init_AB(&l->A, &l->B, name, m->rank, out, in, rng);
    l->base.form = quant_form_name(l->q.bits, 0);
    Param *ps[4] = {l->A, l->B, l->s, l->b};
    size_t tb = 0;
    for (int i = 0; i < 4; i++) { l->base.params[l->base.n_params++] = ps[i]; tb += ps[i]->n * sizeof(float); }
    l->base.mem.weight_bytes = param_bytes(W);
    l->base.mem.trainable_bytes = tb;
    l->base.mem.grad_opt_bytes = 3 * tb;
    l->base.mem.saved_bytes = 0;
    return &l->base;
}

// No LoRA dropout: the paper's code applies it to the whole fused layer input, which is
// not what a LoRA dropout means, so it is left out.
// method.init: gptq — the grid comes from a model-level pass registered from above the
// core (QuantInitPass); the calibration keys act_order, damp, calib_windows are its.
static MethodPrep *l4q_prepare(ModelFile *mf, const MethodCfg *m, const Tokenizer *tok, int seq_len) {
    if (quant_init_parse(m->init) != QINIT_GPTQ) return NULL;
    const QuantInitPass *p = quant_init_pass_find(m->init);
    if (!p) die_input("method.init: '%s' needs its model-level pass, which this program does not register", m->init);
    return p->prepare(mf, m, tok, seq_len);
}
const MethodEntry L4Q_METHOD = {
    .name = "l4q",
    .build = l4q_build,
    .keys = QUANT_KEYS | MK_RANK | MK_ALPHA | MK_TARGETS | MK_TILE | MK_ACT_ORDER | MK_DAMP | MK_CALIB,
    .prepare = l4q_prepare,
    .takes_w0_16bit = 1,
};
