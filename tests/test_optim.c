// test_optim.c — AdamW, clipping, schedules.
//   test_optim                                  self-test
//   test_optim adamw IN OUT LR B1 B2 EPS WD     driver for tests/test_optim.py: IN holds
//     "nparams steps" then per param "n decay trainable", its n values and, if trainable,
//     steps×n gradients; OUT gets the params after the steps, one value per line.
//   test_optim lr SCHED TOTAL WARMUP BASE       lr of every step
//   test_optim clip MAXNORM IN                  pre-clip norm and clipped grads
//   (adamw16 …: as adamw, with bf16 moments; OUT then also gets m and v after the steps)
//   test_optim adamwg IN OUT LR B1 B2 EPS WD QLR SCHED WARMUP GROUPS
//     as adamw with two parameter groups (method.quant_lr): param i is in group GROUPS[i]
//     ('0' PG_MAIN, '1' PG_QUANT); step s uses lr_at(SCHED, s, steps, WARMUP, LR) for group 0
//     and the same schedule from QLR for group 1, as run/train.c does
#include "half.h"
#include "optim.h"
#include "testlib.h"
#include "util.h"
#include <stdlib.h>
#include <string.h>

static int drive_adamw(char **a, int dt, int grouped) {
    FILE *in = fopen(a[0], "r"), *out = fopen(a[1], "w");
    if (!in || !out) { perror("test_optim"); return 1; }
    int np, steps;
    if (fscanf(in, "%d %d", &np, &steps) != 2) return 1;
    Param **ps = xcalloc((size_t)np, sizeof *ps);
    float **grads = xcalloc((size_t)np, sizeof *grads);
    for (int i = 0; i < np; i++) {
        int n, decay, tr;
        if (fscanf(in, "%d %d %d", &n, &decay, &tr) != 3) return 1;
        char name[32]; snprintf(name, sizeof name, "p%d", i);
        ps[i] = param_new(name, n, 1, decay);
        if (grouped) ps[i]->group = a[10][i] == '1' ? PG_QUANT : PG_MAIN;
        for (int j = 0; j < n; j++) if (fscanf(in, "%f", &ps[i]->data[j]) != 1) return 1;
        if (tr) {
            param_make_trainable(ps[i]);
            grads[i] = xmalloc((size_t)steps * n * sizeof(float));
            for (int j = 0; j < steps * n; j++) if (fscanf(in, "%f", &grads[i][j]) != 1) return 1;
        }
    }
    AdamW *o = adamw_new(ps, np, strtof(a[3], NULL), strtof(a[4], NULL), strtof(a[5], NULL), strtof(a[6], NULL), dt, 42);
    for (int s = 0; s < steps; s++) {
        for (int i = 0; i < np; i++)
            if (grads[i]) memcpy(ps[i]->grad, grads[i] + (size_t)s * ps[i]->n, ps[i]->n * sizeof(float));
        if (!grouped) { adamw_step(o, ps, np, strtof(a[2], NULL)); continue; }
        const float lrs[PG_COUNT] = {lr_at(a[8], s, steps, atof(a[9]), strtof(a[2], NULL)),
                                     lr_at(a[8], s, steps, atof(a[9]), strtof(a[7], NULL))};
        adamw_step_groups(o, ps, np, lrs);
    }
    for (int i = 0; i < np; i++)
        for (size_t j = 0; j < ps[i]->n; j++) fprintf(out, "%.9g\n", ps[i]->data[j]);
    for (int i = 0; i < np && dt == DT_BF16; i++) // the moments as bf16 bit patterns
        for (int k = 0; k < 2 && o->m[i]; k++)
            for (size_t j = 0; j < ps[i]->n; j++) fprintf(out, "%u\n", ((uint16_t *)(k ? o->v[i] : o->m[i]))[j]);
    fclose(out); fclose(in);
    return 0;
}

// "lr SCHED TOTAL WARMUP BASE": the rate of every step, one per line.
static int drive_lr(char **a) {
    long total = atol(a[1]);
    for (long s = 0; s < total; s++) printf("%.9g\n", lr_at(a[0], s, total, atof(a[2]), strtof(a[3], NULL)));
    return 0;
}
// "clip MAXNORM IN": IN holds "ntensors" then per tensor "n" and n grads; prints the
// pre-clip norm, then the clipped grads one per line.
static int drive_clip(char **a) {
    FILE *in = fopen(a[1], "r");
    int nt;
    if (!in || fscanf(in, "%d", &nt) != 1) return 1;
    Param **ps = xcalloc((size_t)nt, sizeof *ps);
    for (int i = 0; i < nt; i++) {
        int n;
        if (fscanf(in, "%d", &n) != 1) return 1;
        ps[i] = param_new("g", n, 1, 1);
        param_make_trainable(ps[i]);
        for (int j = 0; j < n; j++) if (fscanf(in, "%f", &ps[i]->grad[j]) != 1) return 1;
    }
    printf("%.17g\n", grad_clip(ps, nt, strtof(a[0], NULL)));
    for (int i = 0; i < nt; i++) for (size_t j = 0; j < ps[i]->n; j++) printf("%.9g\n", ps[i]->grad[j]);
    fclose(in);
    return 0;
}

static void fill(Param *p, Rng *r) {
    for (size_t j = 0; j < p->n; j++) { p->data[j] = rng_normal(r); if (p->grad) p->grad[j] = rng_normal(r); }
}

static void load_child(void *a) {
    struct { AdamW *o; Param **p; FILE *f; } *x = a;
    adamw_load(x->o, x->p, 1, x->f, "state.bin");
}

// Stochastic rounding to bf16 (half.h f32_to_bf16_sr).
static void sr_checks(void) {
    float exact = 1.5f, x = 1.0f + 3.0f / 1024; // 1 + 0.375 ulp: between 1 and 1 + 2^-7
    int ok = 1;
    for (uint32_t r = 0; r < 65536; r += 97) ok &= f32_to_bf16_sr(exact, r) == f32_to_bf16(exact);
    CHECK(ok, "bf16 SR: a value bf16 holds stays exact for every random draw", "%s", "");
    double sum = 0;
    int up = 0;
    for (uint32_t r = 0; r < 65536; r++) {
        uint16_t h = f32_to_bf16_sr(x, r);
        sum += bf16_to_f32(h);
        up += h != f32_to_bf16_sr(x, 0);
    }
    // Over all 2^16 draws the mean is exact: 1 + 0.375·2^-7, rounded up for 37.5% of them.
    CHECK(sum / 65536 == (double)x && up == 24576, "bf16 SR: unbiased (mean over all draws = x)", "mean %.10g vs %.10g, up %d",
          sum / 65536, (double)x, up);
    CHECK(f32_to_bf16_sr(-x, 0) == (f32_to_bf16(-1.0f)) && bf16_to_f32(f32_to_bf16_sr(-x, 0xffff)) == -(1.0f + 1.0f / 128),
          "bf16 SR: negative values round in magnitude", "%s", "");
    CHECK(isnan(bf16_to_f32(f32_to_bf16_sr(NAN, 0xffff))) && isinf(bf16_to_f32(f32_to_bf16_sr(INFINITY, 0xffff))),
          "bf16 SR: NaN stays NaN, Inf stays Inf", "%s", "");
}

// AdamW with bf16 moments against the fp32 AdamW on a least-squares problem (256 unknowns,
// 512 equations, full-batch gradients): the stated tolerance is on the loss reached and on
// the parameters' distance from the fp32 run relative to the distance travelled. Then the
// second moment under a gradient that drops 100× (v must decay by β2 per step): stochastic
// rounding tracks fp32, round-to-nearest (emulated here) stalls; and checkpoint round trips.
static double lsq_loss_grad(const float *A, const float *y, const float *w, float *g, int m, int n) {
    double loss = 0;
    if (g) memset(g, 0, (size_t)n * sizeof(float));
    for (int i = 0; i < m; i++) {
        double r = -y[i];
        for (int j = 0; j < n; j++) r += (double)A[(size_t)i * n + j] * w[j];
        loss += r * r / m;
        if (g) for (int j = 0; j < n; j++) g[j] += (float)(2 * r * A[(size_t)i * n + j] / m);
    }
    return loss;
}
static void bf16_state_checks(void) {
    enum { M = 512, N = 256, STEPS = 400 };
    Rng r; rng_seed(&r, 3);
    float *A = xmalloc(sizeof(float) * M * N), *y = xmalloc(sizeof(float) * M);
    for (int i = 0; i < M * N; i++) A[i] = rng_normal(&r) / 16;
    for (int i = 0; i < M; i++) y[i] = rng_normal(&r);
    Param *w[2] = {param_new("w", N, 1, 1), param_new("w", N, 1, 1)};
    AdamW *o[2];
    for (int k = 0; k < 2; k++) {
        param_make_trainable(w[k]);
        o[k] = adamw_new(&w[k], 1, 0.9f, 0.999f, 1e-8f, 0.01f, k ? DT_BF16 : DT_F32, 5);
    }
    CHECK(o[1]->state_bytes * 2 == o[0]->state_bytes && adamw_grad_opt_bytes(DT_BF16, N * 4) == 2 * N * 4 &&
          adamw_grad_opt_bytes(DT_F32, N * 4) == 3 * N * 4, "bf16 state: half the moment bytes, in the account too", "%zu", o[1]->state_bytes);
    double l0 = lsq_loss_grad(A, y, w[0]->data, NULL, M, N), l[2];
    for (int s = 0; s < STEPS; s++)
        for (int k = 0; k < 2; k++) {
            lsq_loss_grad(A, y, w[k]->data, w[k]->grad, M, N);
            adamw_step(o[k], &w[k], 1, 1e-2f);
        }
    double d = 0, travel = 0;
    for (int j = 0; j < N; j++) { d += pow(w[1]->data[j] - w[0]->data[j], 2); travel += pow(w[0]->data[j], 2); }
    for (int k = 0; k < 2; k++) l[k] = lsq_loss_grad(A, y, w[k]->data, NULL, M, N);
    // Measured: loss 1.023 → 0.48298 (fp32), 0.48300 (bf16); distance 0.16% of the path.
    CHECK(fabs(l[1] - l[0]) <= 0.01 * (l0 - l[0]) && sqrt(d / travel) < 0.02,
          "bf16 state: least squares, 400 steps: loss within 1% of fp32's decrease, parameters within 2% of the path",
          "loss %.6g → fp32 %.6g bf16 %.6g, distance %.3g of the path", l0, l[0], l[1], sqrt(d / travel));
    printf("bf16 state: loss %.6g → fp32 %.6g, bf16 %.6g; parameter distance %.3g of the path\n", l0, l[0], l[1], sqrt(d / travel));

    // v under a gradient that falls from 1 to 0.01: fp32 v decays by β2 per step toward 1e-4.
    enum { K = 4096 };
    Param *q[2] = {param_new("q", K, 1, 0), param_new("q", K, 1, 0)};
    AdamW *oq[2];
    float vrn[K]; // the same update stored with round-to-nearest (what stochastic rounding avoids)
    for (int k = 0; k < 2; k++) { param_make_trainable(q[k]); oq[k] = adamw_new(&q[k], 1, 0.9f, 0.999f, 1e-8f, 0, k ? DT_BF16 : DT_F32, 9); }
    for (int j = 0; j < K; j++) vrn[j] = 0;
    for (int s = 0; s < 3000; s++) {
        float gv = s < 100 ? 1.0f : 0.01f;
        for (int k = 0; k < 2; k++) for (int j = 0; j < K; j++) q[k]->grad[j] = gv;
        for (int j = 0; j < K; j++) vrn[j] = bf16_to_f32(f32_to_bf16(vrn[j] * 0.999f + 0.001f * gv * gv));
        adamw_step(oq[0], &q[0], 1, 1e-3f);
        adamw_step(oq[1], &q[1], 1, 1e-3f);
    }
    double mean16 = 0, v32 = ((float *)oq[0]->v[0])[0];
    for (int j = 0; j < K; j++) mean16 += bf16_to_f32(((uint16_t *)oq[1]->v[0])[j]) / K;
    CHECK(fabs(mean16 / v32 - 1) < 0.01 && vrn[0] / v32 > 2,
          "bf16 state: v decays as fp32's does (mean within 1% after 2900 steps of decay; round-to-nearest stalls)",
          "fp32 %.6g, bf16 SR mean %.6g, round-to-nearest %.6g", v32, mean16, vrn[0]);
    printf("bf16 state: v after the drop: fp32 %.6g, bf16 SR mean %.6g, round-to-nearest %.6g\n", v32, mean16, vrn[0]);

    // Checkpoint: bf16 moments round-trip and continue bit-identically; an fp32 optimizer
    // refuses them with one clear line.
    FILE *f = tmpfile();
    adamw_save(o[1], &w[1], 1, f);
    float *snap = xmalloc(N * sizeof(float));
    memcpy(snap, w[1]->data, N * sizeof(float));
    lsq_loss_grad(A, y, w[1]->data, w[1]->grad, M, N);
    adamw_step(o[1], &w[1], 1, 1e-2f);
    float after = w[1]->data[7];
    memcpy(w[1]->data, snap, N * sizeof(float));
    AdamW *o2 = adamw_new(&w[1], 1, 0.9f, 0.999f, 1e-8f, 0.01f, DT_BF16, 5);
    rewind(f);
    adamw_load(o2, &w[1], 1, f, "tmp");
    lsq_loss_grad(A, y, w[1]->data, w[1]->grad, M, N);
    adamw_step(o2, &w[1], 1, 1e-2f);
    CHECK(w[1]->data[7] == after && o2->t == STEPS + 1, "bf16 state: save/load resumes exactly", "%.9g vs %.9g", w[1]->data[7], after);
    rewind(f);
    struct { AdamW *o; Param **p; FILE *f; } arg = {o[0], &w[0], f};
    char err[512];
    int st = t_in_child(load_child, &arg, err, sizeof err);
    CHECK(st == 2 && strstr(err, "holds bf16 moments but train.optim_state is fp32"), "bf16 state: an fp32 optimizer refuses it",
          "exit %d: %s", st, err);
    fclose(f);
    for (int k = 0; k < 2; k++) { adamw_free(o[k]); adamw_free(oq[k]); param_free(w[k]); param_free(q[k]); free(w[k]); free(q[k]); }
    adamw_free(o2);
    free(A); free(y); free(snap);
}

int main(int argc, char **argv) {
    if (argc == 9 && !strcmp(argv[1], "adamw")) return drive_adamw(argv + 2, DT_F32, 0);
    if (argc == 9 && !strcmp(argv[1], "adamw16")) return drive_adamw(argv + 2, DT_BF16, 0);
    if (argc == 13 && !strcmp(argv[1], "adamwg")) return drive_adamw(argv + 2, DT_F32, 1);
    if (argc == 6 && !strcmp(argv[1], "lr")) return drive_lr(argv + 2);
    if (argc == 4 && !strcmp(argv[1], "clip")) return drive_clip(argv + 2);
    if (argc > 1) { fprintf(stderr, "usage: test_optim [adamw IN OUT LR B1 B2 EPS WD | lr SCHED TOTAL WARMUP BASE | clip MAXNORM IN]\n"); return 2; }

    // Schedules (values worked out by hand from the formulas in optim.h).
    CHECK(lr_at("constant", 0, 100, 0, 1e-3f) == 1e-3f && lr_at("constant", 99, 100, 0, 1e-3f) == 1e-3f, "constant", "%s", "");
    CHECK(warmup_steps(100, 0.1) == 10 && warmup_steps(100, 7) == 7 && warmup_steps(10, 50) == 10, "warmup ratio vs steps", "%s", "");
    CHECK(fabsf(lr_at("cosine", 0, 100, 0.1, 1.0f) - 0.1f) < 1e-7f && lr_at("cosine", 9, 100, 0.1, 1.0f) == 1.0f,
          "linear warmup", "%g %g", lr_at("cosine", 0, 100, 0.1, 1.0f), lr_at("cosine", 9, 100, 0.1, 1.0f));
    CHECK(lr_at("cosine", 10, 100, 0.1, 1.0f) == 1.0f && lr_at("cosine", 99, 100, 0.1, 1.0f) == 0.0f &&
          fabsf(lr_at("cosine", 54, 100, 0.1, 1.0f) - 0.5f * (1 + cosf((float)M_PI * 44 / 89))) < 1e-6f,
          "cosine from base to 0 at the last step", "%g %g", lr_at("cosine", 10, 100, 0.1, 1.0f), lr_at("cosine", 99, 100, 0.1, 1.0f));
    CHECK(fabsf(lr_at("constant", 2, 100, 4, 2.0f) - 1.5f) < 1e-7f, "absolute warmup steps", "%g", lr_at("constant", 2, 100, 4, 2.0f));

    // Clipping: norm over all trainable grads, frozen ones ignored.
    Param a, b, c;
    float ad[2], ag[2] = {3, 0}, bd[1], bg[1] = {4}, cd[3] = {100, 100, 100};
    param_init(&a, "a", ad, 2, 1, 1); a.grad = ag;
    param_init(&b, "b", bd, 1, 1, 0); b.grad = bg;
    param_init(&c, "c", cd, 3, 1, 1);
    Param *ps[3] = {&a, &b, &c};
    double nrm = grad_clip(ps, 3, 10.0f);
    CHECK(nrm == 5.0 && ag[0] == 3 && bg[0] == 4, "no clip below max_norm", "norm %g", nrm);
    nrm = grad_clip(ps, 3, 1.0f);
    CHECK(nrm == 5.0 && fabsf(ag[0] - 0.6f) < 1e-6f && fabsf(bg[0] - 0.8f) < 1e-6f, "clip to max_norm", "%g %g %g", nrm, ag[0], bg[0]);

    // Save → load continues bit-identically; frozen params untouched.
    Rng r; rng_seed(&r, 1);
    Param *p[3] = {param_new("w", 300, 200, 1), param_new("norm", 64, 1, 0), param_new("frozen", 10, 1, 1)};
    param_make_trainable(p[0]); param_make_trainable(p[1]);
    for (int i = 0; i < 3; i++) fill(p[i], &r);
    float frozen0 = p[2]->data[3];
    AdamW *o = adamw_new(p, 3, 0.9f, 0.999f, 1e-8f, 0.1f, DT_F32, 0);
    CHECK(o->state_bytes == 2 * (300 * 200 + 64) * sizeof(float), "state only for trainable params", "%zu", o->state_bytes);
    adamw_step(o, p, 3, 1e-2f);
    FILE *f = tmpfile();
    adamw_save(o, p, 3, f);
    float *snap = xmalloc(p[0]->n * sizeof(float));
    memcpy(snap, p[0]->data, p[0]->n * sizeof(float));
    adamw_step(o, p, 3, 1e-2f);
    float after = p[0]->data[123];
    memcpy(p[0]->data, snap, p[0]->n * sizeof(float));
    AdamW *o2 = adamw_new(p, 3, 0.9f, 0.999f, 1e-8f, 0.1f, DT_F32, 0);
    rewind(f);
    adamw_load(o2, p, 3, f, "tmp");
    adamw_step(o2, p, 3, 1e-2f);
    CHECK(o2->t == 2 && p[0]->data[123] == after, "state save/load resumes exactly", "%.9g vs %.9g", p[0]->data[123], after);
    CHECK(p[2]->data[3] == frozen0, "frozen param untouched", "%s", "");
    fclose(f);
    adamw_free(o); adamw_free(o2); free(snap);
    for (int i = 0; i < 3; i++) { param_free(p[i]); free(p[i]); }
    sr_checks();
    bf16_state_checks();
    T_EXIT();
}
