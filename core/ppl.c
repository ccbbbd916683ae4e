// ppl.c — see ppl.h.
#include "ppl.h"
#include "tokstream.h"
#include "util.h"
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int *text_to_stream(const Tokenizer *t, const char *name, const char *text, size_t len, int *n_out) {
    size_t cap = 1024, n = 0, i = 0;
    int *out = xmalloc(cap * sizeof(int)), cont = 0;
    while (i < len) {
        int *ids;
        long k;
        i += tokpara_next(t, text + i, len - i, 1, &cont, &ids, &k, name, i);
        if (n + (size_t)k > cap) { while (n + (size_t)k > cap) cap *= 2; out = xrealloc(out, cap * sizeof(int)); }
        if (k) memcpy(out + n, ids, (size_t)k * sizeof(int));
        n += (size_t)k;
        free(ids);
    }
    *n_out = (int)n;
    return out;
}

// Window k covers tokens [kT, min(kT+T, n−1)] as inputs, each predicting the next.
static long ppl_windows(long n, int T) { return n >= 2 ? (n - 2) / T + 1 : 0; }

// One batch of b windows starting at window w0 through model M: its summed NLL, and the
// number of predicted tokens in *pred. lp (b·T floats) non-NULL: per-window sums too.
static double ppl_batch(Model *M, const int *toks, long n, int T, long w0, int b, int *in, int *tg, long *pred,
                        float *lp, PplResult *res) {
    int Tb = 0;
    for (int j = 0; j < b; j++) {
        long s = (w0 + j) * T, len = n - 1 - s < T ? n - 1 - s : T; // predicted tokens
        if (len > Tb) Tb = (int)len;
    }
    *pred = 0;
    for (int j = 0; j < b; j++) {
        long s = (w0 + j) * T, len = n - 1 - s < T ? n - 1 - s : T;
        for (int t = 0; t < Tb; t++) {
            // Padding past a short last window: any valid id, target ignored; causal
            // attention keeps it from touching the real positions.
            in[j * Tb + t] = t < len ? toks[s + t] : 0;
            tg[j * Tb + t] = t < len ? toks[s + t + 1] : -1;
            if (t < len) (*pred)++;
        }
    }
    double nll;
    if (M->scorer.score) nll = M->scorer.score(M->scorer.ctx, in, tg, b, Tb, lp, NULL);
    else {
        model_forward(M, in, b, Tb, 0);
        nll = model_head(M, tg, NULL, 0, b * Tb, lp, NULL, 0, 1.0f);
    }
    if (lp)
        for (int j = 0; j < b; j++) {
            long s = (w0 + j) * T, len = n - 1 - s < T ? n - 1 - s : T;
            double w = 0;
            for (int t = 0; t < len; t++) w -= lp[j * Tb + t];
            res->win_nll[w0 + j] = w;
            res->win_ntok[w0 + j] = (int)len;
            res->win_hash[w0 + j] = hash64(toks + s, (size_t)(len + 1) * sizeof(int), HASH64_INIT);
        }
    return nll;
}

void ppl_result_free(PplResult *r) {
    free(r->win_nll); free(r->win_ntok); free(r->win_hash);
    r->win_nll = NULL; r->win_ntok = NULL; r->win_hash = NULL;
}

PplResult ppl_stream(Model **Ms, int nrep, const int *toks, long n, int T, int per_window, int progress) {
    PplResult res = {0};
    double t0 = now_sec();
    int B = Ms[0]->maxB;
    long nwin = ppl_windows(n, T);
    if (per_window) {
        res.win_nll = xcalloc(nwin > 0 ? nwin : 1, sizeof(double));
        res.win_ntok = xcalloc(nwin > 0 ? nwin : 1, sizeof(int));
        res.win_hash = xcalloc(nwin > 0 ? nwin : 1, sizeof(uint64_t));
    }
    long nbat = (nwin + B - 1) / B, next = 0, done = 0; // replicas beyond nbat find no work
    // Per-batch sums, added in batch order at the end: the result does not depend on
    // which replica ran which batch.
    double *nll = xcalloc(nbat > 0 ? nbat : 1, sizeof(double));
    long *pred = xcalloc(nbat > 0 ? nbat : 1, sizeof(long));
    int tty = progress && is_tty(stderr);
    #pragma omp parallel num_threads(nrep) if (nrep > 1)
    {
        Model *M = Ms[omp_get_thread_num()];
        int *in = xmalloc((size_t)B * T * sizeof(int)), *tg = xmalloc((size_t)B * T * sizeof(int));
        float *lp = per_window ? xmalloc((size_t)B * T * sizeof(float)) : NULL;
        for (;;) {
            long k;
            #pragma omp atomic capture
            k = next++;
            if (k >= nbat) break;
            long w0 = k * B;
            int b = (int)(nwin - w0 < B ? nwin - w0 : B);
            nll[k] = ppl_batch(M, toks, n, T, w0, b, in, tg, &pred[k], lp, &res);
            long d;
            #pragma omp atomic capture
            d = done += b;
            if (tty && omp_get_thread_num() == 0) {
                double el = now_sec() - t0, frac = (double)d / nwin;
                fprintf(stderr, "\rppl: %ld/%ld windows  %.0f tok/s  ETA %.0fs ", d, nwin, d * (double)T / el, el / frac - el);
            }
        }
        free(in); free(tg); free(lp);
    }
    for (long k = 0; k < nbat; k++) { res.nll += nll[k]; res.predicted += pred[k]; }
    if (tty) fputc('\n', stderr);
    res.windows = nwin;
    res.tokens = n;
    res.seconds = now_sec() - t0;
    free(nll); free(pred);
    return res;
}

PplResult ppl_replicated(ModelFile *mf, int B, const int *toks, long n, int T, int per_window, int progress) {
    long nwin = ppl_windows(n, T);
    if (B <= 0) B = 512 / T > 1 ? 512 / T : 1; // ~512 rows per forward and thread: fastest measured
    if (B > nwin) B = nwin > 0 ? (int)nwin : 1;
    long nbat = (nwin + B - 1) / B;
    int nrep = omp_get_max_threads();
    if (nrep > nbat) nrep = nbat > 0 ? (int)nbat : 1;
    Model **Ms = xmalloc((size_t)nrep * sizeof *Ms);
    for (int i = 0; i < nrep; i++) Ms[i] = model_build(mf, NULL, B, T, 0);
    PplResult r = ppl_stream(Ms, nrep, toks, n, T, per_window, progress);
    for (int i = 0; i < nrep; i++) model_free(Ms[i]);
    free(Ms);
    return r;
}

// ---- streamed from a file ----------------------------------------------------------------
// Chunks of whole batches for every replica: a chunk of W windows is W·T + 1 tokens, the
// next starts at its last token (windows overlap by one), so the windows, and each
// window's batch-mates, are those of the whole stream. Per-chunk sums are added in order.
PplResult ppl_file(Model **Ms, int nrep, const Tokenizer *t, const char *path, long max_tokens, int T, int per_window,
                   int progress) {
    PplResult r = {0};
    double t0 = now_sec();
    long W = (long)Ms[0]->maxB * nrep * 8, cap = W * T + 1;
    int *buf = xmalloc((size_t)cap * sizeof(int));
    TokStream *s = tokstream_open(t, path);
    long want = max_tokens > 0 && max_tokens < cap ? max_tokens : cap;
    long n = tokstream_read(s, buf, want);
    r.tokens = n;
    int tty = progress && is_tty(stderr);
    while (n >= 2) {
        PplResult c = ppl_stream(Ms, nrep, buf, n, T, per_window, 0);
        if (per_window) {
            size_t k = (size_t)(r.windows + c.windows);
            r.win_nll = xrealloc(r.win_nll, k * sizeof *r.win_nll);
            r.win_ntok = xrealloc(r.win_ntok, k * sizeof *r.win_ntok);
            r.win_hash = xrealloc(r.win_hash, k * sizeof *r.win_hash);
            memcpy(r.win_nll + r.windows, c.win_nll, (size_t)c.windows * sizeof *r.win_nll);
            memcpy(r.win_ntok + r.windows, c.win_ntok, (size_t)c.windows * sizeof *r.win_ntok);
            memcpy(r.win_hash + r.windows, c.win_hash, (size_t)c.windows * sizeof *r.win_hash);
            ppl_result_free(&c);
        }
        r.nll += c.nll; r.predicted += c.predicted; r.windows += c.windows;
        if (tty) fprintf(stderr, "\rppl: %ld windows  %.0f tok/s ", r.windows, r.predicted / (now_sec() - t0));
        if (n < want) break; // the stream (or the token budget) ended inside this chunk
        buf[0] = buf[n - 1];
        want = max_tokens > 0 && max_tokens - r.tokens + 1 < cap ? max_tokens - r.tokens + 1 : cap;
        long k = want > 1 ? tokstream_read(s, buf + 1, want - 1) : 0;
        r.tokens += k;
        n = 1 + k;
    }
    if (tty) fputc('\n', stderr);
    tokstream_close(s);
    free(buf);
    r.seconds = now_sec() - t0;
    return r;
}

int ppl_file_batch(int B, int T, const char *path) {
    if (B <= 0) B = 512 / T > 1 ? 512 / T : 1;
    // No more windows per batch than the file can hold (a paragraph of k bytes gives at
    // most k + 2 tokens), so a large --batch on a small file does not allocate for nothing.
    struct stat st;
    if (stat(path, &st) == 0 && (long long)B > (2LL * st.st_size + 2) / T + 1) B = (int)((2LL * st.st_size + 2) / T + 1);
    return B;
}

PplResult ppl_file_replicated(ModelFile *mf, int B, const Tokenizer *t, const char *path, long max_tokens, int T,
                              int per_window, int progress) {
    B = ppl_file_batch(B, T, path);
    int nrep = omp_get_max_threads();
    Model **Ms = xmalloc((size_t)nrep * sizeof *Ms);
    for (int i = 0; i < nrep; i++) Ms[i] = model_build(mf, NULL, B, T, 0);
    PplResult r = ppl_file(Ms, nrep, t, path, max_tokens, T, per_window, progress);
    for (int i = 0; i < nrep; i++) model_free(Ms[i]);
    free(Ms);
    return r;
}
