// ppl.c — see ppl.h.
#include "ppl.h"
#include "util.h"
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

int *text_to_stream(const Tokenizer *t, const char *name, const char *text, size_t len, int *n_out) {
    size_t bad;
    if (!utf8_valid(text, len, &bad)) die_input("%s: not valid UTF-8 (byte offset %zu)", name, bad);
    size_t cap = 1024, n = 0;
    int *out = xmalloc(cap * sizeof(int));
    size_t i = 0;
    while (i < len) {
        const char *end = strstr(text + i, "\n\n"); // text is NUL-terminated
        size_t j = end ? (size_t)(end - text) : len;
        size_t a = i, b = j;
        while (a < b && isspace((unsigned char)text[a])) a++;
        while (b > a && isspace((unsigned char)text[b - 1])) b--;
        if (b > a) {
            int *ids, k = tok_encode(t, text + a, b - a, TOK_BOS, &ids);
            if (n + k > cap) { while (n + k > cap) cap *= 2; out = xrealloc(out, cap * sizeof(int)); }
            memcpy(out + n, ids, k * sizeof(int));
            n += k;
            free(ids);
        }
        i = end ? j + 2 : len;
    }
    *n_out = (int)n;
    return out;
}

PplResult ppl_stream(Model *M, const int *toks, long n, int T, int B, int progress) {
    PplResult res = {0};
    double t0 = now_sec();
    long nwin = n >= 2 ? (n - 2) / T + 1 : 0; // window k covers [kT, min(kT+T, n-1)] as inputs+1
    int *in = xmalloc((size_t)B * T * sizeof(int)), *tg = xmalloc((size_t)B * T * sizeof(int));
    int tty = progress && is_tty(stderr);
    for (long w0 = 0; w0 < nwin; w0 += B) {
        int b = (int)(nwin - w0 < B ? nwin - w0 : B);
        int Tb = 0;
        for (int j = 0; j < b; j++) {
            long s = (w0 + j) * T, len = n - 1 - s < T ? n - 1 - s : T; // predicted tokens
            if (len > Tb) Tb = (int)len;
        }
        for (int j = 0; j < b; j++) {
            long s = (w0 + j) * T, len = n - 1 - s < T ? n - 1 - s : T;
            for (int t = 0; t < Tb; t++) {
                // Padding past a short last window: any valid id, target ignored; causal
                // attention keeps it from touching the real positions.
                in[j * Tb + t] = t < len ? toks[s + t] : 0;
                tg[j * Tb + t] = t < len ? toks[s + t + 1] : -1;
                if (t < len) res.predicted++;
            }
        }
        model_forward(M, in, b, Tb, 0);
        res.nll += model_head(M, tg, NULL, 0, b * Tb, NULL, NULL, 0, 1.0f);
        res.windows += b;
        if (tty) {
            double el = now_sec() - t0, frac = (double)(w0 + b) / nwin;
            fprintf(stderr, "\rppl: %ld/%ld windows  %.0f tok/s  ETA %.0fs ", w0 + b, nwin, res.predicted / el, el / frac - el);
        }
    }
    if (tty) fputc('\n', stderr);
    res.tokens = n;
    res.seconds = now_sec() - t0;
    free(in); free(tg);
    return res;
}
