// naive_generate.c — the straightforward reference point for `l4q generate`: a
// token-at-a-time scalar LLaMA forward with a KV cache, single-threaded, no BLAS, reading
// a llama2.c v0 checkpoint. Greedy decoding from BOS; prints the text (so bench/run.sh can
// check it matches ours) and "naive: N tokens in S s (R tok/s)" on stderr.
//
//   gcc -O3 -march=native -o naive_generate bench/naive_generate.c -lm
//   naive_generate MODEL.bin TOKENIZER.bin [steps]
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    int dim, hidden, layers, heads, kv_heads, vocab, seq_len, shared;
    float *emb, *rms_att, *wq, *wk, *wv, *wo, *rms_ffn, *w1, *w2, *w3, *rms_final, *wcls;
} Net;

static void fail(const char *what, const char *path) {
    fprintf(stderr, "naive_generate: %s: %s\n", path, what);
    exit(2);
}

static float *read_all(const char *path, long *n) {
    FILE *f = fopen(path, "rb");
    if (!f) fail("cannot open", path);
    fseek(f, 0, SEEK_END);
    *n = ftell(f);
    fseek(f, 0, SEEK_SET);
    float *buf = malloc(*n);
    if (!buf || fread(buf, 1, *n, f) != (size_t)*n) fail("cannot read", path);
    fclose(f);
    return buf;
}

static void load(Net *m, const char *path) {
    long n;
    float *buf = read_all(path, &n);
    int *h = (int *)buf;
    m->dim = h[0]; m->hidden = h[1]; m->layers = h[2]; m->heads = h[3];
    m->kv_heads = h[4]; m->vocab = abs(h[5]); m->seq_len = h[6]; m->shared = h[5] > 0;
    int D = m->dim, L = m->layers, kv = D / m->heads * m->kv_heads, F = m->hidden;
    float *p = buf + 7;
    m->emb = p; p += (long)m->vocab * D;
    m->rms_att = p; p += (long)L * D;
    m->wq = p; p += (long)L * D * D;
    m->wk = p; p += (long)L * kv * D;
    m->wv = p; p += (long)L * kv * D;
    m->wo = p; p += (long)L * D * D;
    m->rms_ffn = p; p += (long)L * D;
    m->w1 = p; p += (long)L * F * D;
    m->w2 = p; p += (long)L * D * F;
    m->w3 = p; p += (long)L * F * D;
    m->rms_final = p; p += D;
    p += (long)m->seq_len * (D / m->heads); // stored RoPE tables: recomputed below
    m->wcls = m->shared ? m->emb : p;
    if (!m->shared) p += (long)m->vocab * D;
    if ((char *)p - (char *)buf != n) fail("size does not match a llama2.c v0 header", path);
}

static void rmsnorm(float *o, const float *x, const float *w, int n) {
    float ss = 0;
    for (int i = 0; i < n; i++) ss += x[i] * x[i];
    ss = 1.0f / sqrtf(ss / n + 1e-5f);
    for (int i = 0; i < n; i++) o[i] = w[i] * (ss * x[i]);
}

// out[d] = Σ_i W[d][i] x[i]
static void matvec(float *out, const float *x, const float *W, int n, int d) {
    for (int r = 0; r < d; r++) {
        float v = 0;
        for (int i = 0; i < n; i++) v += W[(long)r * n + i] * x[i];
        out[r] = v;
    }
}

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: %s MODEL.bin TOKENIZER.bin [steps]\n", argv[0]); return 2; }
    Net m;
    load(&m, argv[1]);
    int steps = argc > 3 ? atoi(argv[3]) : 256;
    if (steps <= 0 || steps > m.seq_len) steps = m.seq_len;

    // Tokenizer pieces, for printing only.
    long tn;
    char *tb = (char *)read_all(argv[2], &tn), *tp = tb + 4;
    char **piece = malloc(m.vocab * sizeof *piece);
    for (int i = 0; i < m.vocab; i++) {
        if (tp + 8 > tb + tn) fail("truncated tokenizer", argv[2]);
        int len;
        memcpy(&len, tp + 4, 4);
        tp += 8;
        piece[i] = malloc(len + 1);
        memcpy(piece[i], tp, len);
        piece[i][len] = 0;
        tp += len;
    }

    int D = m.dim, F = m.hidden, H = m.heads, hs = D / H, kv = hs * m.kv_heads, grp = H / m.kv_heads;
    float *x = calloc(D, 4), *xb = calloc(D, 4), *xb2 = calloc(D, 4), *q = calloc(D, 4);
    float *hb = calloc(F, 4), *hb2 = calloc(F, 4), *att = calloc(m.seq_len, 4), *logits = calloc(m.vocab, 4);
    float *kc = calloc((long)m.layers * m.seq_len * kv, 4), *vc = calloc((long)m.layers * m.seq_len * kv, 4);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int tok = 1, generated = 0;
    for (int pos = 0; pos < steps; pos++) {
        memcpy(x, m.emb + (long)tok * D, D * 4);
        for (int l = 0; l < m.layers; l++) {
            rmsnorm(xb, x, m.rms_att + l * D, D);
            float *k = kc + ((long)l * m.seq_len + pos) * kv, *v = vc + ((long)l * m.seq_len + pos) * kv;
            matvec(q, xb, m.wq + (long)l * D * D, D, D);
            matvec(k, xb, m.wk + (long)l * kv * D, D, kv);
            matvec(v, xb, m.wv + (long)l * kv * D, D, kv);
            for (int i = 0; i < D; i += 2) { // RoPE on interleaved pairs, llama2.c's float math
                float freq = 1.0f / powf(10000.0f, (i % hs) / (float)hs), a = pos * freq;
                float c = cosf(a), s = sinf(a);
                for (int w = 0; w < (i < kv ? 2 : 1); w++) {
                    float *vec = w ? k : q, v0 = vec[i], v1 = vec[i + 1];
                    vec[i] = v0 * c - v1 * s;
                    vec[i + 1] = v0 * s + v1 * c;
                }
            }
            for (int h = 0; h < H; h++) {
                const float *qh = q + h * hs;
                int kh = h / grp;
                float mx = -INFINITY;
                for (int t = 0; t <= pos; t++) {
                    const float *kt = kc + ((long)l * m.seq_len + t) * kv + kh * hs;
                    float s = 0;
                    for (int i = 0; i < hs; i++) s += qh[i] * kt[i];
                    att[t] = s / sqrtf((float)hs);
                    if (att[t] > mx) mx = att[t];
                }
                float sum = 0;
                for (int t = 0; t <= pos; t++) { att[t] = expf(att[t] - mx); sum += att[t]; }
                float *o = xb + h * hs;
                memset(o, 0, hs * 4);
                for (int t = 0; t <= pos; t++) {
                    const float *vt = vc + ((long)l * m.seq_len + t) * kv + kh * hs;
                    for (int i = 0; i < hs; i++) o[i] += att[t] / sum * vt[i];
                }
            }
            matvec(xb2, xb, m.wo + (long)l * D * D, D, D);
            for (int i = 0; i < D; i++) x[i] += xb2[i];
            rmsnorm(xb, x, m.rms_ffn + l * D, D);
            matvec(hb, xb, m.w1 + (long)l * F * D, D, F);
            matvec(hb2, xb, m.w3 + (long)l * F * D, D, F);
            for (int i = 0; i < F; i++) hb[i] = hb[i] / (1.0f + expf(-hb[i])) * hb2[i];
            matvec(xb, hb, m.w2 + (long)l * D * F, F, D);
            for (int i = 0; i < D; i++) x[i] += xb[i];
        }
        rmsnorm(x, x, m.rms_final, D);
        matvec(logits, x, m.wcls, D, m.vocab);
        int next = 0;
        for (int i = 1; i < m.vocab; i++) if (logits[i] > logits[next]) next = i;
        if (next == 1) break; // BOS ends a story
        const char *pc = piece[next];
        if (tok == 1 && pc[0] == ' ') pc++;
        unsigned byte;
        if (sscanf(pc, "<0x%02X>", &byte) == 1) putchar((int)byte);
        else fputs(pc, stdout);
        tok = next;
        generated++;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double el = (t1.tv_sec - t0.tv_sec) + 1e-9 * (t1.tv_nsec - t0.tv_nsec);
    printf("\n");
    fprintf(stderr, "naive: %d tokens in %.3fs (%.1f tok/s)\n", generated, el, generated / el);
    return 0;
}
