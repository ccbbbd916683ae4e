// test_tokstream.c — the perplexity protocol over long paragraphs (core/tokstream.c): a
// paragraph longer than the maximum is encoded in pieces, and where the cut falls at a
// newline or a space the pieces give exactly the whole paragraph's ids (the whole
// paragraph's encoding is checked against sentencepiece / llama.cpp in test_tok_formats
// and test_data). Streamed and in-memory forms agree on every input; memory stays bounded
// on an 8 MB paragraph.
#include "ppl.h"
#include "testlib.h"
#include "tokstream.h"
#include "util.h"
#include <stdlib.h>
#include <string.h>

static char *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) { perror(path); exit(1); }
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = xmalloc((size_t)sz + 1);
    *n = fread(b, 1, (size_t)sz, f);
    b[*n] = 0;
    fclose(f);
    return b;
}

static void spit(const char *path, const char *b, size_t n) {
    FILE *f = fopen(path, "wb");
    fwrite(b, 1, n, f);
    fclose(f);
}

static int *stream_file(const Tokenizer *t, const char *path, long *n) {
    long cap = 1 << 16;
    int *out = xmalloc((size_t)cap * sizeof(int));
    TokStream *s = tokstream_open(t, path);
    long k;
    *n = 0;
    for (;;) {
        if (*n + 4096 > cap) { cap *= 2; out = xrealloc(out, (size_t)cap * sizeof(int)); }
        if ((k = tokstream_read(s, out + *n, 4096)) <= 0) break;
        *n += k;
    }
    tokstream_close(s);
    return out;
}

static int same(const int *a, long na, const int *b, long nb, long *at) {
    long m = na < nb ? na : nb;
    for (*at = 0; *at < m; (*at)++) if (a[*at] != b[*at]) return 0;
    return na == nb;
}

int main(void) {
    const char *D = getenv("L4Q_DATA") ? getenv("L4Q_DATA") : "../shared/data";
    char p[1024], tmp[] = "/tmp/l4q_tokstream_XXXXXX";
    if (!mkdtemp(tmp)) { perror("mkdtemp"); return 1; }
    char file[1100];
    snprintf(file, sizeof file, "%s/text.txt", tmp);
    snprintf(p, sizeof p, "%s/tinystories/tinystories_valid_excerpt.txt", D);
    size_t n;
    char *story = slurp(p, &n);
    // One long paragraph: the stories joined by single newlines (a line-per-document corpus),
    // then the same stories as paragraphs.
    size_t cut = n < 60000 ? n : 60000;
    char *text = xmalloc(2 * cut + 16);
    size_t m = 0;
    for (size_t i = 0; i < cut; i++) {
        if (story[i] == '\n' && i + 1 < cut && story[i + 1] == '\n') continue;
        text[m++] = story[i];
    }
    text[m++] = '\n'; text[m++] = '\n';
    memcpy(text + m, story, cut); m += cut;
    // A long line of words without a newline (the space cut).
    size_t line0 = m;
    text = xrealloc(text, m + 40000);
    text[m++] = '\n'; text[m++] = '\n';
    for (size_t i = 0; m < line0 + 30000; i++) text[m++] = story[i] == '\n' ? ' ' : story[i];
    while (text[m - 1] == ' ') m--;
    text[m] = 0;
    spit(file, text, m);

    const char *toks[][2] = {{"models/stories260K/tok512.bin", "stories260K tok512.bin"},
                             {"tokenizers/llama2c_tokenizer.bin", "Llama-2 tokenizer.bin"},
                             {"tokenizers/mistral-7b-v0.1/tokenizer.model", "Mistral tokenizer.model"},
                             {"tokenizers/llama3/tokenizer.json", "Llama-3 tokenizer.json (byte-level)"}};
    for (int k = 0; k < 4; k++) {
        snprintf(p, sizeof p, "%s/%s", D, toks[k][0]);
        Tokenizer *t = tok_load(p, 0);
        tokpara_set_max(SIZE_MAX / 4); // no cut: every paragraph whole
        int nw;
        int *whole = text_to_stream(t, file, text, m, &nw);
        tokpara_set_max(4096);
        int ni;
        int *inmem = text_to_stream(t, file, text, m, &ni);
        long ns, at;
        int *str = stream_file(t, file, &ns);
        char name[200];
        snprintf(name, sizeof name, "%s: 4 KB pieces cut at newlines/spaces = whole paragraphs (%d ids)", toks[k][1], nw);
        CHECK(same(whole, nw, inmem, ni, &at), name, "first difference at id %ld of %d/%d", at, nw, ni);
        snprintf(name, sizeof name, "%s: streamed = in memory", toks[k][1]);
        CHECK(same(inmem, ni, str, ns, &at), name, "first difference at id %ld of %d/%ld", at, ni, ns);
        free(whole); free(inmem); free(str);
        tok_free(t);
    }

    // No newline or space to cut at: an 8 MB run of one character. The pieces' ids differ
    // from the whole run's, but streamed and in-memory agree, and memory stays bounded.
    tokpara_set_max(0);
    snprintf(p, sizeof p, "%s/tokenizers/llama2c_tokenizer.bin", D);
    Tokenizer *t = tok_load(p, 0);
    size_t big = 8u << 20;
    char *run = xmalloc(big + 1);
    memset(run, 'a', big);
    run[big] = 0;
    spit(file, run, big);
    double rss0 = peak_rss_bytes();
    long ns, at;
    int *str = stream_file(t, file, &ns);
    double grew = peak_rss_bytes() - rss0;
#ifndef __SANITIZE_ADDRESS__ // ASan's quarantine and shadow would be measured, not ours
    CHECK(grew < 200e6 && ns > 1000, "8 MB one-character paragraph streamed in bounded memory", "peak RSS grew %.0f MB, %ld ids", grew / 1e6, ns);
#else
    (void)grew;
#endif
    int ni;
    int *inmem = text_to_stream(t, file, run, big, &ni);
    CHECK(same(inmem, ni, str, ns, &at), "8 MB run: streamed = in memory", "first difference at id %ld of %d/%ld", at, ni, ns);
    free(str); free(inmem); free(run); tok_free(t);
    free(text); free(story);
    unlink(file); rmdir(tmp);
    T_EXIT();
}
