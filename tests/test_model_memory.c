// test_model_memory.c — the memory a training step gives back (core/model.c), and when.
// Where the memory account says the step would not fit with everything resident
// (model_plan_memory; here forced with a 1-byte limit, or L4Q_MEM_LIMIT), model_zero_grad
// releases the gradients' pages and model_backward releases as many bytes of finished
// layers' activations as the gradients take; otherwise (the default on a machine with the
// memory) nothing is released and a steady-state step takes almost no page faults.
// Numbers must not change: a second step from the same weights repeats the first bit for
// bit (so every released activation is rewritten before it is read and every released
// gradient reads as zero, not as the last step's values), and both modes give the same
// bits, for `full` (gradients outweigh the activations: all of them released) and `lora`
// (a few pages); the resident set really shrinks and stays flat in backward when
// releasing (not checked in the ASan build, whose allocator keeps freed blocks resident);
// model_release_activations (after the last step) gives the activations back, and a step
// after it still computes the same bits.
#include "methods.h"
#include "model.h"
#include "modelfile.h"
#include "testlib.h"
#include "util.h"
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/resource.h>

enum { B = 4, T = 256 };

static long minor_faults(void) { struct rusage u; getrusage(RUSAGE_SELF, &u); return u.ru_minflt; }
static long step_faults; // minor page faults of the last step (zero_grad to the end of backward)

// One step without an update; returns the loss, copies every gradient into g (if given)
// and the resident set after head and after backward into rss[0..1].
static double step(Model *M, const int *tok, Param **ps, int np, float *g, size_t *rss) {
    long f0 = minor_faults();
    model_zero_grad(M);
    model_forward(M, tok, B, T, 0);
    double nll = model_head(M, tok + 1, NULL, 0, B * T - 1, NULL, NULL, 1, 1.0f / (B * T));
    rss[0] = rss_bytes();
    model_backward(M, tok, B, T);
    rss[1] = rss_bytes();
    step_faults = minor_faults() - f0;
    for (int i = 0; i < np && g; i++) { memcpy(g, ps[i]->grad, ps[i]->n * sizeof(float)); g += ps[i]->n; }
    return nll;
}

// Loss and gradients of the release mode, compared with the resident mode's.
static double rel_loss;
static float *rel_grads;

static void check_method(const char *name, int release) {
    Config c = {.dim = 256, .hidden_dim = 688, .n_layers = 3, .n_heads = 4, .n_kv_heads = 4, .vocab_size = 256,
                .seq_len = T, .shared_classifier = 1, .norm_eps = 1e-5f, .rope_theta = 10000};
    ModelFile *mf = model_file_random(&c, 0.05f, 1);
    MethodCfg m;
    method_defaults(&m, name);
    Model *M = model_build(mf, &m, B, T, 0);
    CHECK(M->release == 0, "a small model on this machine keeps everything resident", "%s", name);
    model_plan_memory(M, release ? 1 : SIZE_MAX);
    Param *ps[256];
    int np = model_params(M, ps, 256);
    size_t n = 0;
    for (int i = 0; i < np; i++) n += ps[i]->n;
    float *g1 = xmalloc(n * sizeof(float)), *g2 = xmalloc(n * sizeof(float));
    int tok[B * T + 1];
    Rng r;
    rng_seed(&r, 2);
    for (int i = 0; i <= B * T; i++) tok[i] = (int)(rng_u64(&r) % c.vocab_size);
    size_t rss1[2], rss2[2];
    double l1 = step(M, tok, ps, np, g1, rss1);
    size_t before = rss_bytes();
    model_zero_grad(M);
    size_t zeroed = rss_bytes();
    double l2 = step(M, tok, ps, np, g2, rss2);
    long faults = step_faults;
    const char *mode = release ? "releasing" : "resident";
    char what[160];
    snprintf(what, sizeof what, "%s, %s: a second step repeats the first bit for bit (loss and every gradient)", name, mode);
    CHECK(l1 == l2 && !memcmp(g1, g2, n * sizeof(float)), what, "loss %.9g vs %.9g, max grad diff %g", l1, l2,
          t_maxdiff(g1, g2, n));
    size_t gb = n * sizeof(float);
    printf("%s, %s: gradients %.1f MB, activations %.1f MB; RSS change at zero_grad %+.1f MB, in backward %+.1f MB; "
           "%ld minor page faults in the second step\n", name, mode, gb / 1e6, M->act_bytes / 1e6,
           ((double)zeroed - before) / 1e6, ((double)rss2[1] - rss2[0]) / 1e6, faults);
    if (release) {
        free(rel_grads);
        rel_grads = memcpy(xmalloc(n * sizeof(float)), g2, n * sizeof(float));
        rel_loss = l2;
    } else {
        snprintf(what, sizeof what, "%s: the resident mode computes the releasing mode's bits", name);
        CHECK(l2 == rel_loss && !memcmp(g2, rel_grads, n * sizeof(float)), what, "loss %.9g vs %.9g, max grad diff %g", l2,
              rel_loss, t_maxdiff(g2, rel_grads, n));
    }
#ifndef __SANITIZE_ADDRESS__ // ASan's allocator quarantines freed blocks: backward's transients then stay resident
    if (!release) { // a step re-faults nothing (the bound: ≤ 100 per steady-state step)
        snprintf(what, sizeof what, "%s, resident: a steady-state step takes at most 100 minor page faults", name);
        CHECK(faults <= 100, what, "%ld", faults);
        snprintf(what, sizeof what, "%s, resident: zero_grad keeps the gradients' pages", name);
        CHECK(zeroed + gb / 4 > before, what, "RSS %zu → %zu, gradients %zu", before, zeroed, gb);
    }
    if (release && gb > ((size_t)4 << 20)) { // large enough to see past page-level noise
        snprintf(what, sizeof what, "%s: zero_grad gives the gradients' pages back", name);
        CHECK(before - zeroed > gb / 2, what, "RSS %zu → %zu, gradients %zu", before, zeroed, gb);
        snprintf(what, sizeof what, "%s: backward writes the gradients into released activation memory", name);
        CHECK(rss2[1] < rss2[0] + gb / 4, what, "RSS %zu → %zu in backward, gradients %zu", rss2[0], rss2[1], gb);
    }
#endif
    if (!release) { // after the last step (train.c, before the final evaluation's model is built)
        size_t r0 = rss_bytes();
        model_release_activations(M);
        size_t r1 = rss_bytes();
#ifndef __SANITIZE_ADDRESS__
        snprintf(what, sizeof what, "%s: model_release_activations gives the activations' pages back", name);
        CHECK(r0 > r1 + M->act_bytes / 2, what, "RSS %zu → %zu, activations %zu", r0, r1, M->act_bytes);
#endif
        (void)r0; (void)r1;
        double l3 = step(M, tok, ps, np, g1, rss1);
        snprintf(what, sizeof what, "%s: a step after model_release_activations repeats the first bit for bit", name);
        CHECK(l3 == l2 && !memcmp(g1, g2, n * sizeof(float)), what, "loss %.9g vs %.9g", l3, l2);
    }
    free(g1); free(g2);
    model_free(M); model_file_free(mf);
}

int main(void) {
    threads_init(0);
    // mem_zero / mem_release on malloc'd memory: zeros afterwards, pages returned.
    size_t nb = (size_t)8 << 20;
    unsigned char *p = xmalloc(nb);
    memset(p, 0xab, nb);
    size_t r0 = rss_bytes();
    mem_zero(p + 3, nb - 7);
    size_t r1 = rss_bytes();
    int zero = p[0] == 0xab && p[1] == 0xab && p[2] == 0xab && p[nb - 4] == 0xab;
    for (size_t i = 3; i < nb - 4; i++) zero &= p[i] == 0;
    CHECK(zero, "mem_zero: exactly the range reads as zeros", "%s", "");
    CHECK(r0 - r1 > nb / 2, "mem_zero: the whole pages inside go back to the kernel", "RSS %zu → %zu", r0, r1);
    memset(p, 0xcd, nb);
    size_t got = mem_release(p + 100, nb / 2);
    CHECK(got > nb / 2 - 8192 && got <= nb / 2 && p[99] == 0xcd && p[100 + nb / 2] == 0xcd && p[8192] == 0,
          "mem_release: whole pages inside the range, nothing outside", "released %zu", got);
    CHECK(mem_release(p + 10, 100) == 0 && p[10] == 0xcd, "mem_release: a range under a page releases nothing", "%s", "");
    free(p);
    check_method("full", 1);
    check_method("full", 0);
    check_method("lora", 1);
    check_method("lora", 0);
    // The decision itself: a limit under the resident step releases (L4Q_MEM_LIMIT, read at build).
    Config c = {.dim = 64, .hidden_dim = 172, .n_layers = 1, .n_heads = 4, .n_kv_heads = 4, .vocab_size = 64,
                .seq_len = 16, .shared_classifier = 1, .norm_eps = 1e-5f, .rope_theta = 10000};
    ModelFile *mf = model_file_random(&c, 0.05f, 1);
    MethodCfg m;
    method_defaults(&m, "lora");
    setenv("L4Q_MEM_LIMIT", "100000", 1);
    Model *M = model_build(mf, &m, 2, 16, 0);
    CHECK(M->release == 1, "L4Q_MEM_LIMIT under the resident step's account: the model releases", "%d", M->release);
    model_free(M);
    unsetenv("L4Q_MEM_LIMIT");
    M = model_build(mf, &m, 2, 16, 0);
    CHECK(M->release == 0, "no limit: the model keeps everything resident", "%d", M->release);
    model_free(M); model_file_free(mf);
    free(rel_grads);
    T_EXIT();
}
