// test_checkpoint.c — checkpoint readers: the four stories260K files hold the same model
// (v0, v1, GGUF exactly; v2 Q8_0 within half a quantization step), a synthetic F16 GGUF
// round-trips, and every corrupted copy fails with exit status 2 and one error line
// naming the file (checked in a fork()ed child).
#include "checkpoint.h"
#include "testlib.h"
#include "tokenizer.h"
#include "util.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

// The failure cases exit through die_input with their buffers still allocated, which is
// the intended behaviour, not a leak worth reporting in the sanitizer build.
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "detect_leaks=0"; }

static char tmpdir[256];

static const char *model_path(const char *name) {
    static char buf[16][1024]; // callers keep several paths at once
    static int k;
    char *b = buf[k++ & 15];
    snprintf(b, 1024, "%s/models/stories260K/%s", data_root(), name);
    return b;
}

static void write_bytes(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n) { perror(path); exit(1); }
    fclose(f);
}

// Effective tensors of two loads must agree; the head compares as "whatever the logits
// use" so a tied and an untied-but-equal head count as the same model.
static float mf_maxdiff(const ModelFile *a, const ModelFile *b, char *where) {
    const Config *c = &a->c;
    float worst = 0;
    int nt = 4 + c->n_layers * N_LAYER_PROJ;
    MfTensor *ta = xmalloc(sizeof *ta * (nt + 1)), *tb = xmalloc(sizeof *tb * (nt + 1));
    mf_tensors(a, ta, nt); mf_tensors(b, tb, nt);
    for (int k = 0; k < nt; k++) {
        float d = t_maxdiff(ta[k].data, tb[k].data, (size_t)ta[k].rows * ta[k].cols);
        if (!(d <= worst)) { worst = d; strcpy(where, ta[k].name); }
    }
    const float *ha = a->wcls ? a->wcls : a->tok_emb, *hb = b->wcls ? b->wcls : b->tok_emb;
    float d = t_maxdiff(ha, hb, (size_t)c->vocab_size * c->dim);
    if (!(d <= worst)) { worst = d; strcpy(where, "head"); }
    free(ta); free(tb);
    return worst;
}

static int same_config(const Config *a, const Config *b) {
    return a->dim == b->dim && a->hidden_dim == b->hidden_dim && a->n_layers == b->n_layers &&
           a->n_heads == b->n_heads && a->n_kv_heads == b->n_kv_heads && a->vocab_size == b->vocab_size &&
           a->shared_classifier == b->shared_classifier && a->norm_eps == b->norm_eps && a->rope_theta == b->rope_theta;
}

// Loads `path` in a child; the parent checks exit status 2 and exactly one stderr line that
// names the file and contains `expect`.
static void expect_fail(const char *name, const char *path, const char *expect) {
    int fd[2];
    if (pipe(fd)) { perror("pipe"); exit(1); }
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        close(fd[0]);
        dup2(fd[1], 2);
        ModelFile *mf = model_file_load(path);
        model_file_free(mf);
        _exit(0);
    }
    close(fd[1]);
    char err[4096]; size_t n = 0; ssize_t r;
    while ((r = read(fd[0], err + n, sizeof err - 1 - n)) > 0) n += (size_t)r;
    err[n] = 0;
    close(fd[0]);
    int st;
    waitpid(pid, &st, 0);
    int lines = 0;
    for (size_t i = 0; i < n; i++) lines += err[i] == '\n';
    int ok = WIFEXITED(st) && WEXITSTATUS(st) == 2 && lines == 1 && err[n - 1] == '\n' &&
             strstr(err, path) && strstr(err, expect);
    char tn[160];
    snprintf(tn, sizeof tn, "reject %s", name);
    CHECK(ok, tn, "status %d (signal %d), %d lines, want '%s': %s", WIFEXITED(st) ? WEXITSTATUS(st) : -1,
          WIFSIGNALED(st) ? WTERMSIG(st) : 0, lines, expect, err);
}

typedef struct { unsigned char *p; size_t n; } Buf;
static Buf load(const char *path) { Buf b; b.p = (unsigned char *)read_file(path, &b.n); return b; }

// Writes a modified copy: first `keep` bytes (or all when keep == SIZE_MAX), then `extra`
// bytes of zeros, with `patch` applied at `at`.
static const char *variant(const char *tag, const Buf *src, size_t keep, size_t extra, size_t at,
                           const void *patch, size_t plen) {
    static char paths[64][512];
    static int k;
    char *path = paths[k++ & 63];
    snprintf(path, 512, "%s/%s", tmpdir, tag);
    size_t n = (keep == SIZE_MAX ? src->n : keep);
    unsigned char *b = xcalloc(n + extra + 1, 1);
    memcpy(b, src->p, n);
    if (patch) memcpy(b + at, patch, plen);
    write_bytes(path, b, n + extra);
    free(b);
    return path;
}
static const char *patched(const char *tag, const Buf *src, size_t at, const void *patch, size_t plen) {
    return variant(tag, src, SIZE_MAX, 0, at, patch, plen);
}

// Byte offset of the value of GGUF key `key` (its type field follows the key string).
static size_t gguf_key_value(const Buf *b, const char *key) {
    size_t kl = strlen(key);
    for (size_t i = 8; i + kl + 8 < b->n; i++)
        if (!memcmp(b->p + i, key, kl)) {
            uint64_t len; memcpy(&len, b->p + i - 8, 8);
            if (len == kl) return i + kl + 4;
        }
    fprintf(stderr, "key %s not found\n", key); exit(1);
}
// Byte offset of the type field of tensor `name` in the tensor-info table.
static size_t gguf_tensor_type(const Buf *b, const char *name) {
    size_t kl = strlen(name);
    for (size_t i = 8; i + kl + 8 < b->n; i++)
        if (!memcmp(b->p + i, name, kl)) {
            uint64_t len; memcpy(&len, b->p + i - 8, 8);
            if (len != kl) continue;
            uint32_t nd; memcpy(&nd, b->p + i + kl, 4);
            return i + kl + 4 + 8 * nd;
        }
    fprintf(stderr, "tensor %s not found\n", name); exit(1);
}

// ---- a tiny synthetic GGUF writer (F16 weights, non-default alignment, every KV type) ----
typedef struct { unsigned char *p; size_t n, cap; } W;
static void w_put(W *w, const void *p, size_t n) {
    if (w->n + n > w->cap) { w->cap = (w->n + n) * 2; w->p = xrealloc(w->p, w->cap); }
    memcpy(w->p + w->n, p, n); w->n += n;
}
static void w_u32(W *w, uint32_t v) { w_put(w, &v, 4); }
static void w_u64(W *w, uint64_t v) { w_put(w, &v, 8); }
static void w_str(W *w, const char *s) { w_u64(w, strlen(s)); w_put(w, s, strlen(s)); }
static void kv_u32(W *w, const char *k, uint32_t v) { w_str(w, k); w_u32(w, 4); w_u32(w, v); }
static void kv_f32(W *w, const char *k, float v) { w_str(w, k); w_u32(w, 6); w_put(w, &v, 4); }
static void kv_s(W *w, const char *k, const char *v) { w_str(w, k); w_u32(w, 8); w_str(w, v); }
static uint16_t f2h(float f) { // exact for the small dyadic values used here
    if (f == 0) return 0;
    uint32_t b; memcpy(&b, &f, 4);
    return (uint16_t)(((b >> 16) & 0x8000) | ((((b >> 23) & 255) - 112) << 10) | ((b >> 13) & 1023));
}

static void test_synthetic_f16(void) {
    enum { D = 8, HID = 12, NL = 1, NH = 2, NKV = 1, V = 6, ALIGN = 64 };
    const char *toks[V] = {"<unk>", "<s>", "</s>", "\xE2\x96\x81" "a", "b", "\xE2\x96\x81"};
    W w = {0};
    w_put(&w, "GGUF", 4); w_u32(&w, 3);
    struct { const char *name; int rows, cols, f16; } T[] = {
        {"token_embd.weight", V, D, 1}, {"output_norm.weight", 1, D, 0},
        {"blk.0.attn_norm.weight", 1, D, 0}, {"blk.0.ffn_norm.weight", 1, D, 0},
        {"blk.0.attn_q.weight", D, D, 1}, {"blk.0.attn_k.weight", D / NH * NKV, D, 1},
        {"blk.0.attn_v.weight", D / NH * NKV, D, 1}, {"blk.0.attn_output.weight", D, D, 1},
        {"blk.0.ffn_gate.weight", HID, D, 1}, {"blk.0.ffn_up.weight", HID, D, 1},
        {"blk.0.ffn_down.weight", D, HID, 1},
    };
    int nt = sizeof T / sizeof T[0];
    w_u64(&w, nt); w_u64(&w, 17);
    kv_s(&w, "general.architecture", "llama");
    kv_u32(&w, "general.alignment", ALIGN);
    kv_u32(&w, "llama.embedding_length", D); kv_u32(&w, "llama.feed_forward_length", HID);
    kv_u32(&w, "llama.block_count", NL); kv_u32(&w, "llama.attention.head_count", NH);
    kv_u32(&w, "llama.attention.head_count_kv", NKV); kv_u32(&w, "llama.context_length", 16);
    kv_f32(&w, "llama.attention.layer_norm_rms_epsilon", 1e-6f); kv_f32(&w, "llama.rope.freq_base", 500000.0f);
    kv_s(&w, "tokenizer.ggml.model", "llama");
    w_str(&w, "tokenizer.ggml.tokens"); w_u32(&w, 9); w_u32(&w, 8); w_u64(&w, V);
    for (int i = 0; i < V; i++) w_str(&w, toks[i]);
    w_str(&w, "tokenizer.ggml.scores"); w_u32(&w, 9); w_u32(&w, 6); w_u64(&w, V);
    for (int i = 0; i < V; i++) { float s = -(float)i; w_put(&w, &s, 4); }
    // Keys the reader must skip: nested array, u64, bool, i8, f64.
    w_str(&w, "x.nested"); w_u32(&w, 9); w_u32(&w, 9); w_u64(&w, 2);
    for (int i = 0; i < 2; i++) { w_u32(&w, 0); w_u64(&w, 3); w_put(&w, "abc", 3); }
    w_str(&w, "x.u64"); w_u32(&w, 10); w_u64(&w, 7);
    w_str(&w, "x.bool"); w_u32(&w, 7); w_put(&w, "\1", 1);
    w_str(&w, "x.f64"); w_u32(&w, 12); double d = 2.5; w_put(&w, &d, 8);
    size_t off = 0, offs[16];
    for (int t = 0; t < nt; t++) {
        w_str(&w, T[t].name);
        w_u32(&w, T[t].rows == 1 ? 1 : 2); w_u64(&w, T[t].cols); if (T[t].rows != 1) w_u64(&w, T[t].rows);
        w_u32(&w, T[t].f16 ? 1 : 0); w_u64(&w, off);
        offs[t] = off;
        off += ((size_t)T[t].rows * T[t].cols * (T[t].f16 ? 2 : 4) + ALIGN - 1) / ALIGN * ALIGN;
    }
    while (w.n % ALIGN) w_put(&w, "", 1);
    unsigned char *data = xcalloc(off, 1);
    for (int t = 0; t < nt; t++)
        for (int j = 0; j < T[t].rows * T[t].cols; j++) {
            float v = (float)((j * 7 + t * 3) % 17 - 8) / 16.0f; // exact in f16
            if (T[t].f16) { uint16_t h = f2h(v); memcpy(data + offs[t] + 2 * j, &h, 2); }
            else memcpy(data + offs[t] + 4 * j, &v, 4);
        }
    w_put(&w, data, off);
    free(data);
    char path[512];
    snprintf(path, sizeof path, "%s/synthetic_f16.gguf", tmpdir);
    write_bytes(path, w.p, w.n);
    ModelFile *mf = model_file_load(path);
    const Config *c = &mf->c;
    CHECK(c->dim == D && c->hidden_dim == HID && c->n_layers == NL && c->n_heads == NH && c->n_kv_heads == NKV &&
          c->vocab_size == V && c->seq_len == 16 && c->shared_classifier && c->norm_eps == 1e-6f && c->rope_theta == 500000.0f,
          "gguf f16: config from metadata", "dim %d eps %g theta %g", c->dim, (double)c->norm_eps, (double)c->rope_theta);
    // Every element must come back as written, wherever the reader placed it.
    int bad = 0;
    for (int t = 0; t < nt; t++) {
        const float *dst = t == 0 ? mf->tok_emb : t == 1 ? mf->rms_final : t == 2 ? mf->rms_att : t == 3 ? mf->rms_ffn : NULL;
        if (!dst) { static const int map[N_LAYER_PROJ] = {P_Q, P_K, P_V, P_O, P_GATE, P_UP, P_DOWN}; dst = mf->w[map[t - 4]]; }
        for (int j = 0; j < T[t].rows * T[t].cols; j++)
            bad += dst[j] != (float)((j * 7 + t * 3) % 17 - 8) / 16.0f;
    }
    CHECK(bad == 0, "gguf f16: values converted exactly", "%d wrong", bad);
    CHECK(strstr(mf->format, "f16") != NULL, "gguf f16: format names f16", "%s", mf->format);
    CHECK(mf->tok && mf->tok->vocab_size == V && !strcmp(mf->tok->vocab[3], " a") && !strcmp(mf->tok->vocab[5], " ") &&
          mf->tok->scores[4] == -4.0f, "gguf f16: embedded vocab with \xE2\x96\x81 -> space", "vocab wrong");
    model_file_free(mf);
    Buf b = {w.p, w.n};
    uint32_t q8 = 8;
    expect_fail("gguf q8_0 tensor", patched("syn_q8.gguf", &b, gguf_tensor_type(&b, "blk.0.ffn_up.weight"), &q8, 4), "blk.0.ffn_up.weight");
    uint32_t a7 = 7;
    expect_fail("gguf bad alignment", patched("syn_align.gguf", &b, gguf_key_value(&b, "general.alignment"), &a7, 4), "general.alignment");
    free(w.p);
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/l4q_test_ckpt_XXXXXX");
    if (!mkdtemp(tmpdir)) { perror("mkdtemp"); return 1; }

    const char *p0 = model_path("stories260K.bin"), *p1 = model_path("stories260K_v1.bin"),
               *pg = model_path("stories260K.gguf"), *p2 = model_path("stories260K_q8_v2.bin");
    ModelFile *m0 = model_file_load(p0), *m1 = model_file_load(p1), *mg = model_file_load(pg), *m2 = model_file_load(p2);
    const Config *c = &m0->c;
    CHECK(c->dim == 64 && c->hidden_dim == 172 && c->n_layers == 5 && c->n_heads == 8 && c->n_kv_heads == 4 &&
          c->vocab_size == 512 && c->seq_len == 512 && c->shared_classifier && c->norm_eps == 1e-5f && c->rope_theta == 10000.0f,
          "v0: stories260K config", "dim %d hidden %d L %d H %d KV %d V %d T %d shared %d",
          c->dim, c->hidden_dim, c->n_layers, c->n_heads, c->n_kv_heads, c->vocab_size, c->seq_len, c->shared_classifier);
    CHECK(!strcmp(m0->format, "llama2c-v0") && m0->file_bytes == 1056540 && !m0->wcls && !m0->tok, "v0: format, size, tied head", "%s %zu", m0->format, m0->file_bytes);
    CHECK(same_config(c, &m1->c) && m1->c.seq_len == 512 && !strcmp(m1->format, "llama2c-v1"), "v1: same config", "%s", m1->format);
    CHECK(same_config(c, &mg->c) && mg->c.seq_len == 2048 && !mg->wcls, "gguf: same config (context_length 2048 as stored, bit-identical output = tied)",
          "seq %d shared %d", mg->c.seq_len, mg->c.shared_classifier);
    CHECK(same_config(c, &m2->c) && strstr(m2->format, "q8_0"), "v2: same config", "%s", m2->format);
    char where[64] = "";
    float d;
    d = mf_maxdiff(m0, m1, where);
    CHECK(d == 0, "v1 tensors == v0 tensors", "max diff %g in %s", d, where);
    d = mf_maxdiff(m0, mg, where);
    CHECK(d == 0, "gguf tensors == v0 tensors (q/k used as stored)", "max diff %g in %s", d, where);
    CHECK(mg->tok && mg->tok->vocab_size == 512, "gguf: embedded 512-token vocab", "tok %p", (void *)mg->tok);
    if (mg->tok) {
        Tokenizer *ref = tok_load(model_path("tok512.bin"), 512);
        int diff = 0;
        // tok512.bin spells BOS/EOS "\n<s>\n"/"\n</s>\n"; every other piece must match.
        for (int i = 3; i < 512; i++) diff += mg->tok->lens[i] != ref->lens[i] || memcmp(mg->tok->vocab[i], ref->vocab[i], ref->lens[i]);
        CHECK(diff == 0, "gguf: vocab pieces equal tok512.bin", "%d differ", diff);
        tok_free(ref);
    }
    // v2: each Q8_0 group of 8 rounds to the nearest multiple of amax/127.
    {
        int nt = mf_tensor_count(c);
        MfTensor *t0 = xmalloc(sizeof *t0 * nt), *t2 = xmalloc(sizeof *t2 * nt);
        mf_tensors(m0, t0, nt); mf_tensors(m2, t2, nt);
        int bad = 0; double worst = 0;
        for (int k = 0; k < nt; k++) {
            size_t n = (size_t)t0[k].rows * t0[k].cols;
            int quantized = k == 0 || k >= 4;
            for (size_t g = 0; g < n; g += 8) {
                float amax = 0;
                for (int j = 0; j < 8; j++) amax = fmaxf(amax, fabsf(t0[k].data[g + j]));
                float tol = quantized ? 0.5f * amax / 127.0f * 1.0001f + 1e-9f : 0;
                for (int j = 0; j < 8; j++) {
                    float e = fabsf(t0[k].data[g + j] - t2[k].data[g + j]);
                    if (e > tol) bad++;
                    if (e > worst) worst = e;
                }
            }
        }
        CHECK(bad == 0, "v2 q8_0 dequantized within half a step of v0 (norms exact)", "%d elements off, worst %g", bad, worst);
        free(t0); free(t2);
    }
    int o, i;
    int dims_ok = !proj_dims(c, P_Q, &o, &i) && o == 64 && i == 64;
    dims_ok &= !proj_dims(c, P_K, &o, &i) && o == 32 && i == 64;
    dims_ok &= !proj_dims(c, P_V, &o, &i) && o == 32 && i == 64;
    dims_ok &= !proj_dims(c, P_GATE, &o, &i) && o == 172 && i == 64;
    dims_ok &= !proj_dims(c, P_UP, &o, &i) && o == 172 && i == 64;
    dims_ok &= !proj_dims(c, P_DOWN, &o, &i) && o == 64 && i == 172;
    dims_ok &= !proj_dims(c, P_HEAD, &o, &i) && o == 512 && i == 64;
    dims_ok &= proj_dims(c, N_PROJ, &o, &i) == -1;
    CHECK(dims_ok, "proj_dims shapes", "wrong");
    // wq of layer 1 starts right after layer 0's in v0's stacked layout.
    CHECK(m0->w[N_LAYER_PROJ + P_Q] == m0->w[P_Q] + 64 * 64 && m0->rms_ffn != NULL, "v0: stacked layer pointers", "layout");

    // ---- corrupted copies ----
    Buf b0 = load(p0), b1 = load(p1), bg = load(pg), b2 = load(p2);
    size_t cut0[] = {0, 3, 27, 28, 1000, b0.n / 2, b0.n - 1};
    char tag[64];
    for (size_t k = 0; k < sizeof cut0 / sizeof cut0[0]; k++) {
        snprintf(tag, sizeof tag, "v0_cut%zu.bin", cut0[k]);
        expect_fail(tag, variant(tag, &b0, cut0[k], 0, 0, NULL, 0), cut0[k] == 0 ? "" : "truncated");
    }
    expect_fail("v0 extra bytes", variant("v0_extra.bin", &b0, SIZE_MAX, 4, 0, NULL, 0), "extra bytes");
    int32_t neg = -64, zero = 0, three = 3, big = 1 << 30;
    expect_fail("v0 negative dim", patched("v0_negdim.bin", &b0, 0, &neg, 4), "dim = -64");
    expect_fail("v0 zero layers", patched("v0_zerolayers.bin", &b0, 8, &zero, 4), "n_layers = 0");
    expect_fail("v0 kv heads 3", patched("v0_kv3.bin", &b0, 16, &three, 4), "not a multiple of n_kv_heads");
    expect_fail("v0 huge seq_len", patched("v0_bigseq.bin", &b0, 24, &big, 4), "seq_len");
    float nan = NAN, inf = INFINITY;
    expect_fail("v0 NaN in tok_emb", patched("v0_nan.bin", &b0, 28 + 4 * 100, &nan, 4), "tok_emb");
    size_t q2 = 28 + 4 * ((size_t)512 * 64 + 5 * 64 + 2 * 64 * 64 + 5);
    expect_fail("v0 Inf in layers.2.q", patched("v0_inf.bin", &b0, q2, &inf, 4), "layers.2.q");

    size_t cut1[] = {5, 100, 256, b1.n - 4};
    for (size_t k = 0; k < sizeof cut1 / sizeof cut1[0]; k++) {
        snprintf(tag, sizeof tag, "v1_cut%zu.bin", cut1[k]);
        expect_fail(tag, variant(tag, &b1, cut1[k], 0, 0, NULL, 0), "truncated");
    }
    int32_t v7 = 7;
    expect_fail("v1 bad version", patched("v1_ver7.bin", &b1, 4, &v7, 4), "version 7");
    expect_fail("v1 bad magic", patched("v1_magic.bin", &b1, 0, "24kb", 4), "no ak42/GGUF/L4QZ magic");
    expect_fail("v1 shared flag 5", patched("v1_flag.bin", &b1, 36, "\5", 1), "shared_classifier");
    expect_fail("v1 negative vocab", patched("v1_negvocab.bin", &b1, 28, &neg, 4), "vocab_size = -64");
    expect_fail("v1 NaN in rms_final", patched("v1_nan.bin", &b1, 256 + 4 * (2 * 5 * 64 + 3), &nan, 4), "rms_final");

    size_t cut2[] = {300, b2.n - 1};
    for (size_t k = 0; k < sizeof cut2 / sizeof cut2[0]; k++) {
        snprintf(tag, sizeof tag, "v2_cut%zu.bin", cut2[k]);
        expect_fail(tag, variant(tag, &b2, cut2[k], 0, 0, NULL, 0), "truncated");
    }
    expect_fail("v2 group size 3", patched("v2_gs3.bin", &b2, 37, &three, 4), "group_size 3");

    size_t cutg[] = {2, 10, 30, 5000, 14176, bg.n - 1};
    for (size_t k = 0; k < sizeof cutg / sizeof cutg[0]; k++) {
        snprintf(tag, sizeof tag, "gguf_cut%zu.gguf", cutg[k]);
        expect_fail(tag, variant(tag, &bg, cutg[k], 0, 0, NULL, 0), "truncated");
    }
    expect_fail("gguf extra bytes", variant("gguf_extra.gguf", &bg, SIZE_MAX, 64, 0, NULL, 0), "extra bytes");
    expect_fail("gguf bad magic", patched("gguf_magic.gguf", &bg, 0, "GGUX", 4), "no ak42/GGUF/L4QZ magic");
    uint32_t v99 = 99, u0 = 0, u3 = 3, iq4nl = 20, q4k = 12;
    expect_fail("gguf bad version", patched("gguf_ver.gguf", &bg, 4, &v99, 4), "GGUF version 99");
    expect_fail("gguf zero block_count", patched("gguf_blocks.gguf", &bg, gguf_key_value(&bg, "llama.block_count"), &u0, 4), "n_layers = 0");
    expect_fail("gguf head_count_kv 3", patched("gguf_kv3.gguf", &bg, gguf_key_value(&bg, "llama.attention.head_count_kv"), &u3, 4), "n_kv_heads");
    // A ggml type the reader does not dequantize is named with its tensor; an unknown id and
    // rows that are not whole blocks are refused before any data is read.
    expect_fail("gguf IQ4_NL tensor", patched("gguf_iq4.gguf", &bg, gguf_tensor_type(&bg, "blk.3.attn_k.weight"), &iq4nl, 4), "'blk.3.attn_k.weight' has type IQ4_NL");
    expect_fail("gguf unknown type id", patched("gguf_t99.gguf", &bg, gguf_tensor_type(&bg, "blk.3.attn_k.weight"), &v99, 4), "'blk.3.attn_k.weight' has unknown ggml type id 99");
    expect_fail("gguf Q4_K on 64-wide rows", patched("gguf_q4k.gguf", &bg, gguf_tensor_type(&bg, "blk.3.attn_k.weight"), &q4k, 4), "not whole Q4_K blocks of 256");
    uint64_t huge = (uint64_t)1 << 62;
    expect_fail("gguf huge tensor count", patched("gguf_nt.gguf", &bg, 8, &huge, 8), "tensors");
    expect_fail("gguf NaN in weights", patched("gguf_nan.gguf", &bg, 14176 + 262400 + 4 * 9, &nan, 4), "layers.0.q");
    expect_fail("gguf wrong architecture", patched("gguf_arch.gguf", &bg, gguf_key_value(&bg, "general.architecture") + 8, "gpt2z", 5), "architecture 'gpt2z'");
    expect_fail("l4qz magic", variant("x.l4qz", &b1, 64, 0, 0, "L4QZ", 4), "");
    expect_fail("missing file", "/nonexistent/dir/model.bin", "cannot open");

    // An output.weight that differs from the embedding is a real untied head.
    {
        float one = 1.0f;
        const char *pu = patched("gguf_untied.gguf", &bg, 14176 + 131328, &one, 4);
        ModelFile *mu = model_file_load(pu);
        CHECK(!mu->c.shared_classifier && mu->wcls && mu->wcls[0] == 1.0f && mu->wcls[1] == mg->tok_emb[1],
              "gguf: differing output.weight loads as an untied head", "shared %d", mu->c.shared_classifier);
        model_file_free(mu);
    }
    test_synthetic_f16();

    free(b0.p); free(b1.p); free(bg.p); free(b2.p);
    model_file_free(m0); model_file_free(m1); model_file_free(mg); model_file_free(m2);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) printf("note: could not remove %s\n", tmpdir);
    T_EXIT();
}
