// test_optim.c — AdamW, clipping, schedules.
//   test_optim                                  self-test
//   test_optim adamw IN OUT LR B1 B2 EPS WD     driver for tests/test_optim.py: IN holds
//     "nparams steps" then per param "n decay trainable", its n values and, if trainable,
//     steps×n gradients; OUT gets the params after the steps, one value per line.
//   test_optim lr SCHED TOTAL WARMUP BASE       lr of every step
//   test_optim clip MAXNORM IN                  pre-clip norm and clipped grads
#include "optim.h"
#include "testlib.h"
#include "util.h"
#include <stdlib.h>
#include <string.h>

static int drive_adamw(char **a) {
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
        for (int j = 0; j < n; j++) if (fscanf(in, "%f", &ps[i]->data[j]) != 1) return 1;
        if (tr) {
            param_make_trainable(ps[i]);
            grads[i] = xmalloc((size_t)steps * n * sizeof(float));
            for (int j = 0; j < steps * n; j++) if (fscanf(in, "%f", &grads[i][j]) != 1) return 1;
        }
    }
    AdamW *o = adamw_new(ps, np, strtof(a[3], NULL), strtof(a[4], NULL), strtof(a[5], NULL), strtof(a[6], NULL));
    for (int s = 0; s < steps; s++) {
        for (int i = 0; i < np; i++)
            if (grads[i]) memcpy(ps[i]->grad, grads[i] + (size_t)s * ps[i]->n, ps[i]->n * sizeof(float));
        adamw_step(o, ps, np, strtof(a[2], NULL));
    }
    for (int i = 0; i < np; i++)
        for (size_t j = 0; j < ps[i]->n; j++) fprintf(out, "%.9g\n", ps[i]->data[j]);
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

int main(int argc, char **argv) {
    if (argc == 9 && !strcmp(argv[1], "adamw")) return drive_adamw(argv + 2);
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
    AdamW *o = adamw_new(p, 3, 0.9f, 0.999f, 1e-8f, 0.1f);
    CHECK(o->state_bytes == 2 * (300 * 200 + 64) * sizeof(float), "state only for trainable params", "%zu", o->state_bytes);
    adamw_step(o, p, 3, 1e-2f);
    FILE *f = tmpfile();
    adamw_save(o, p, 3, f);
    float *snap = xmalloc(p[0]->n * sizeof(float));
    memcpy(snap, p[0]->data, p[0]->n * sizeof(float));
    adamw_step(o, p, 3, 1e-2f);
    float after = p[0]->data[123];
    memcpy(p[0]->data, snap, p[0]->n * sizeof(float));
    AdamW *o2 = adamw_new(p, 3, 0.9f, 0.999f, 1e-8f, 0.1f);
    rewind(f);
    adamw_load(o2, p, 3, f, "tmp");
    adamw_step(o2, p, 3, 1e-2f);
    CHECK(o2->t == 2 && p[0]->data[123] == after, "state save/load resumes exactly", "%.9g vs %.9g", p[0]->data[123], after);
    CHECK(p[2]->data[3] == frozen0, "frozen param untouched", "%s", "");
    fclose(f);
    adamw_free(o); adamw_free(o2); free(snap);
    for (int i = 0; i < 3; i++) { param_free(p[i]); free(p[i]); }
    T_EXIT();
}
