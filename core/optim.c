// optim.c — see optim.h. Element-wise loops are OpenMP-parallel (each element is
// independent, so results do not depend on the thread count); the only reduction (the
// gradient norm) is done in fixed-size blocks summed in a fixed order for the same reason.
#include "optim.h"
#include "util.h"
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

AdamW *adamw_new(Param **ps, int n, float beta1, float beta2, float eps, float weight_decay) {
    AdamW *o = xcalloc(1, sizeof *o);
    o->beta1 = beta1; o->beta2 = beta2; o->eps = eps; o->weight_decay = weight_decay;
    o->n = n;
    o->m = xcalloc((size_t)n, sizeof *o->m);
    o->v = xcalloc((size_t)n, sizeof *o->v);
    o->sizes = xcalloc((size_t)n, sizeof *o->sizes);
    for (int i = 0; i < n; i++) {
        if (!ps[i]->grad) continue;
        o->sizes[i] = ps[i]->n;
        o->m[i] = xmalloc_aligned(ps[i]->n * sizeof(float));
        o->v[i] = xmalloc_aligned(ps[i]->n * sizeof(float));
        o->state_bytes += 2 * ps[i]->n * sizeof(float);
    }
    return o;
}

static void check_same(const AdamW *o, Param **ps, int n) {
    if (n != o->n) die_internal("adamw: %d params, optimizer built for %d", n, o->n);
    for (int i = 0; i < n; i++)
        if ((ps[i]->grad != NULL) != (o->m[i] != NULL) || (o->m[i] && ps[i]->n != o->sizes[i]))
            die_internal("adamw: param %d (%s) changed since the optimizer was built", i, ps[i]->name);
}

void adamw_step(AdamW *o, Param **ps, int n, float lr) {
    check_same(o, ps, n);
    o->t++;
    // Scalars as torch computes them: in double on the Python side, then used as float32
    // scalars by the tensor kernels.
    double bc1 = 1.0 - pow((double)o->beta1, (double)o->t);
    double bc2 = 1.0 - pow((double)o->beta2, (double)o->t);
    const float step_size = (float)(-((double)lr / bc1));
    const float bc2_sqrt = (float)sqrt(bc2);
    const float decay_mul = (float)(1.0 - (double)lr * (double)o->weight_decay);
    const float w1 = (float)(1.0 - (double)o->beta1), b2 = o->beta2, w2 = (float)(1.0 - (double)o->beta2);
    const float eps = o->eps;
    for (int i = 0; i < n; i++) {
        Param *p = ps[i];
        if (!p->grad) continue;
        float *x = p->data, *g = p->grad, *m = o->m[i], *v = o->v[i];
        const int decay = p->decay && o->weight_decay != 0.0f;
        const long long N = (long long)p->n;
        #pragma omp parallel for schedule(static) if (N > 32768)
        for (long long j = 0; j < N; j++) {
            float xj = x[j];
            if (decay) xj *= decay_mul;
            // torch.lerp with weight < 0.5: m + w·(g − m)
            float mj = m[j] + w1 * (g[j] - m[j]);
            float vj = v[j] * b2;
            vj = vj + w2 * g[j] * g[j];
            float denom = sqrtf(vj) / bc2_sqrt + eps;
            x[j] = xj + step_size * mj / denom;
            m[j] = mj; v[j] = vj;
        }
    }
}

void adamw_free(AdamW *o) {
    if (!o) return;
    for (int i = 0; i < o->n; i++) { free(o->m[i]); free(o->v[i]); }
    free(o->m); free(o->v); free(o->sizes);
    free(o);
}

static const char ADAM_MAGIC[8] = {'L', '4', 'Q', 'A', 'D', 'A', 'M', '1'};
static void wr(const void *p, size_t sz, size_t cnt, FILE *f) {
    fwrite(p, sz, cnt, f); // the caller checks the stream once at the end (ferror/fclose)
}
void adamw_save(const AdamW *o, Param **ps, int n, FILE *f) {
    check_same(o, ps, n);
    wr(ADAM_MAGIC, 1, 8, f);
    int64_t t = o->t;
    int32_t cnt = 0;
    for (int i = 0; i < n; i++) cnt += o->m[i] != NULL;
    wr(&t, sizeof t, 1, f);
    wr(&cnt, sizeof cnt, 1, f);
    for (int i = 0; i < n; i++) {
        if (!o->m[i]) continue;
        char name[64] = {0};
        snprintf(name, sizeof name, "%s", ps[i]->name);
        uint64_t sz = o->sizes[i];
        wr(name, 1, sizeof name, f);
        wr(&sz, sizeof sz, 1, f);
        wr(o->m[i], sizeof(float), sz, f);
        wr(o->v[i], sizeof(float), sz, f);
    }
}
void adamw_load(AdamW *o, Param **ps, int n, FILE *f, const char *what) {
    check_same(o, ps, n);
    char magic[8];
    int64_t t;
    int32_t cnt, want = 0;
    for (int i = 0; i < n; i++) want += o->m[i] != NULL;
    if (fread(magic, 1, 8, f) != 8 || memcmp(magic, ADAM_MAGIC, 8)) die_input("%s: not an AdamW state (bad magic)", what);
    if (fread(&t, sizeof t, 1, f) != 1 || fread(&cnt, sizeof cnt, 1, f) != 1 || t < 0) die_input("%s: truncated AdamW state", what);
    if (cnt != want) die_input("%s: AdamW state has %d trainable tensors, the model has %d", what, cnt, want);
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
        if (fread(o->m[i], sizeof(float), sz, f) != sz || fread(o->v[i], sizeof(float), sz, f) != sz)
            die_input("%s: truncated AdamW state", what);
    }
    o->t = t;
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
