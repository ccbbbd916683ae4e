// optim.c — see optim.h. Element-wise loops are OpenMP-parallel (each element is
// independent, so results do not depend on the thread count); the only reduction (the
// gradient norm) is done in fixed-size blocks summed in a fixed order for the same reason.
#include "optim.h"
#include "half.h"
#include "util.h"
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

AdamW *adamw_new(Param **ps, int n, float beta1, float beta2, float eps, float weight_decay, int state_dtype,
                 uint64_t seed) {
    if (state_dtype != DT_F32 && state_dtype != DT_BF16) die_internal("adamw: state dtype %d", state_dtype);
    AdamW *o = xcalloc(1, sizeof *o);
    o->beta1 = beta1; o->beta2 = beta2; o->eps = eps; o->weight_decay = weight_decay;
    o->state_dtype = state_dtype; o->seed = seed;
    o->n = n;
    o->m = xcalloc((size_t)n, sizeof *o->m);
    o->v = xcalloc((size_t)n, sizeof *o->v);
    o->sizes = xcalloc((size_t)n, sizeof *o->sizes);
    size_t es = dtype_bytes(state_dtype);
    for (int i = 0; i < n; i++) {
        if (!ps[i]->grad) continue;
        o->sizes[i] = ps[i]->n;
        o->m[i] = xmalloc_aligned(ps[i]->n * es); // zeroed (bf16 0 is all-zero bits too)
        o->v[i] = xmalloc_aligned(ps[i]->n * es);
        o->state_bytes += 2 * ps[i]->n * es;
    }
    return o;
}

size_t adamw_grad_opt_bytes(int state_dtype, size_t trainable_bytes) {
    return trainable_bytes + 2 * (trainable_bytes / sizeof(float)) * dtype_bytes(state_dtype);
}

static void check_same(const AdamW *o, Param **ps, int n) {
    if (n != o->n) die_internal("adamw: %d params, optimizer built for %d", n, o->n);
    for (int i = 0; i < n; i++)
        if ((ps[i]->grad != NULL) != (o->m[i] != NULL) || (o->m[i] && ps[i]->n != o->sizes[i]))
            die_internal("adamw: param %d (%s) changed since the optimizer was built", i, ps[i]->name);
}

// The per-step scalars (adam_coef) and the element update in torch's float32 arithmetic
// (adam_elem, adam_elem_bf16) are in core/elem.h, shared with the CUDA plugin.

void adamw_step(AdamW *o, Param **ps, int n, float lr) {
    const float lrs[PG_COUNT] = {lr, lr};
    adamw_step_groups(o, ps, n, lrs);
}

void adamw_step_groups(AdamW *o, Param **ps, int n, const float lr[PG_COUNT]) {
    check_same(o, ps, n);
    o->t++;
    AdamCoef kg[PG_COUNT]; // per group: only the lr-dependent scalars differ
    for (int gi = 0; gi < PG_COUNT; gi++) kg[gi] = adam_coef(lr[gi], o->t, o->beta1, o->beta2, o->eps, o->weight_decay);
    for (int i = 0; i < n; i++) {
        Param *p = ps[i];
        if (!p->grad) continue;
        if (p->group < 0 || p->group >= PG_COUNT) die_internal("adamw: param %s in group %d", p->name, p->group);
        AdamCoef k = kg[p->group];
        float *x = p->data, *g = p->grad;
        k.decay = p->decay && o->weight_decay != 0.0f;
        const long long N = (long long)p->n;
        if (o->state_dtype == DT_F32) {
            float *m = o->m[i], *v = o->v[i];
            #pragma omp parallel for schedule(static) if (N > 32768)
            for (long long j = 0; j < N; j++) x[j] = adam_elem(x[j], g[j], &m[j], &v[j], &k);
            continue;
        }
        uint16_t *m = o->m[i], *v = o->v[i];
        const uint64_t key = adam_bf16_key(o->seed, o->t, i);
        #pragma omp parallel for schedule(static) if (N > 32768)
        for (long long j = 0; j < N; j++) x[j] = adam_elem_bf16(x[j], g[j], &m[j], &v[j], &k, key, (uint64_t)j);
    }
}

void adamw_free(AdamW *o) {
    if (!o) return;
    for (int i = 0; i < o->n; i++) { free(o->m[i]); free(o->v[i]); }
    free(o->m); free(o->v); free(o->sizes);
    free(o);
}

// The state dtype is in the magic: fp32 files are what they always were.
static const char ADAM_MAGIC[8] = {'L', '4', 'Q', 'A', 'D', 'A', 'M', '1'}, ADAM_MAGIC_BF16[8] = {'L', '4', 'Q', 'A', 'D', 'A', 'M', 'B'};
static void wr(const void *p, size_t sz, size_t cnt, FILE *f) {
    fwrite(p, sz, cnt, f); // the caller checks the stream once at the end (ferror/fclose)
}
void adamw_save(const AdamW *o, Param **ps, int n, FILE *f) {
    check_same(o, ps, n);
    wr(o->state_dtype == DT_BF16 ? ADAM_MAGIC_BF16 : ADAM_MAGIC, 1, 8, f);
    int64_t t = o->t;
    int32_t cnt = 0;
    for (int i = 0; i < n; i++) cnt += o->m[i] != NULL;
    wr(&t, sizeof t, 1, f);
    wr(&cnt, sizeof cnt, 1, f);
    size_t es = dtype_bytes(o->state_dtype);
    for (int i = 0; i < n; i++) {
        if (!o->m[i]) continue;
        char name[64] = {0};
        snprintf(name, sizeof name, "%s", ps[i]->name);
        uint64_t sz = o->sizes[i];
        wr(name, 1, sizeof name, f);
        wr(&sz, sizeof sz, 1, f);
        wr(o->m[i], es, sz, f);
        wr(o->v[i], es, sz, f);
    }
}
void adamw_load(AdamW *o, Param **ps, int n, FILE *f, const char *what) {
    check_same(o, ps, n);
    char magic[8];
    int64_t t;
    int32_t cnt, want = 0;
    for (int i = 0; i < n; i++) want += o->m[i] != NULL;
    int bf16 = o->state_dtype == DT_BF16;
    if (fread(magic, 1, 8, f) != 8) memset(magic, 0, 8);
    if (!memcmp(magic, bf16 ? ADAM_MAGIC : ADAM_MAGIC_BF16, 8))
        die_input("%s: the AdamW state holds %s moments but train.optim_state is %s", what, bf16 ? "fp32" : "bf16",
                  bf16 ? "bf16" : "fp32");
    if (memcmp(magic, bf16 ? ADAM_MAGIC_BF16 : ADAM_MAGIC, 8)) die_input("%s: not an AdamW state (bad magic)", what);
    if (fread(&t, sizeof t, 1, f) != 1 || fread(&cnt, sizeof cnt, 1, f) != 1 || t < 0) die_input("%s: truncated AdamW state", what);
    if (cnt != want) die_input("%s: AdamW state has %d trainable tensors, the model has %d", what, cnt, want);
    size_t es = dtype_bytes(o->state_dtype);
    for (int i = 0; i < n; i++) {
        if (!o->m[i]) continue;
        char name[64];
        uint64_t sz;
        if (fread(name, 1, sizeof name, f) != sizeof name || fread(&sz, sizeof sz, 1, f) != 1)
            die_input("%s: truncated AdamW state", what);
        name[63] = 0;
        if (strncmp(name, ps[i]->name, 63) || sz != o->sizes[i])
            die_input("%s: AdamW state tensor '%s' (%llu) does not match '%s' (%zu)", what, name,
                      (unsigned long long)sz, ps[i]->name, o->sizes[i]);
        if (fread(o->m[i], es, sz, f) != sz || fread(o->v[i], es, sz, f) != sz)
            die_input("%s: truncated AdamW state", what);
    }
    o->t = t;
}

long adamw_first_nonfinite(const AdamW *o, int i, const char **which) {
    void *mv[2] = {o->m[i], o->v[i]};
    static const char *const names[2] = {" (AdamW first moment)", " (AdamW second moment)"};
    for (int k = 0; k < 2 && mv[k]; k++) {
        size_t n = o->sizes[i], e = n;
        if (o->state_dtype == DT_F32) {
            const float *p = mv[k];
            for (e = 0; e < n && isfinite(p[e]); e++) {}
        } else e = half_first_nonfinite(o->state_dtype, mv[k], n);
        if (e < n) { *which = names[k]; return (long)e; }
    }
    return -1;
}

// ---- clipping --------------------------------------------------------------------------
enum { NORM_BLOCK = 4096 };
double grad_clip(Param **ps, int n, float max_norm) {
    double total = 0;
    for (int i = 0; i < n; i++) {
        const float *g = ps[i]->grad;
        if (!g) continue;
        long long N = (long long)ps[i]->n, nb = (N + NORM_BLOCK - 1) / NORM_BLOCK;
        double *part = xmalloc((size_t)(nb ? nb : 1) * sizeof *part);
        #pragma omp parallel for schedule(static) if (nb > 8)
        for (long long b = 0; b < nb; b++) {
            long long lo = b * NORM_BLOCK, hi = lo + NORM_BLOCK < N ? lo + NORM_BLOCK : N;
            double s = 0;
            for (long long j = lo; j < hi; j++) s += (double)g[j] * g[j];
            part[b] = s;
        }
        for (long long b = 0; b < nb; b++) total += part[b];
        free(part);
    }
    double norm = sqrt(total);
    if (max_norm > 0 && isfinite(norm)) {
        double coef = (double)max_norm / (norm + 1e-6);
        if (coef < 1.0) {
            const float c = (float)coef;
            for (int i = 0; i < n; i++) {
                float *g = ps[i]->grad;
                if (!g) continue;
                long long N = (long long)ps[i]->n;
                #pragma omp parallel for schedule(static) if (N > 32768)
                for (long long j = 0; j < N; j++) g[j] *= c;
            }
        }
    }
    return norm;
}

// ---- schedules -------------------------------------------------------------------------
long warmup_steps(long total, double warmup) {
    if (warmup <= 0) return 0;
    long w = warmup < 1 ? lround(warmup * (double)total) : (long)warmup;
    return w > total ? total : w;
}
float lr_at(const char *schedule, long step, long total, double warmup, float base_lr) {
    int cosine = !strcmp(schedule, "cosine");
    if (!cosine && strcmp(schedule, "constant")) die_input("unknown lr schedule '%s' (valid: constant, cosine)", schedule);
    long W = warmup_steps(total, warmup);
    if (step < W) return (float)((double)base_lr * (double)(step + 1) / (double)W);
    if (!cosine) return base_lr;
    long span = total - 1 - W;
    if (span <= 0) return base_lr; // warmup covers everything: nothing left to decay over
    double prog = (double)(step - W) / (double)span;
    if (prog > 1) prog = 1;
    return (float)((double)base_lr * 0.5 * (1.0 + cos(M_PI * prog)));
}
