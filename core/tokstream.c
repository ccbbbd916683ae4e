// tokstream.c — see tokstream.h. Paragraphs end at "\n\n" (ASCII, so a chunk boundary
// found there never splits a UTF-8 sequence); each is stripped, encoded with BOS and
// queued; a paragraph longer than the buffer grows the buffer until it fits.
#include "tokstream.h"
#include "util.h"
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

enum { CHUNK = 1 << 20 };

struct TokStream {
    const Tokenizer *tok;
    FILE *f;
    char *path;
    char *buf;            // bytes [0, len) not yet split into paragraphs
    size_t len, cap;
    size_t offset;        // file offset of buf[0] (UTF-8 error messages)
    int eof;
    int *ids;             // tokens of the current paragraph not yet handed out
    long nids, at;
};

TokStream *tokstream_open(const Tokenizer *t, const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) die_input("%s: cannot open: %s", path, strerror(errno));
    TokStream *s = xcalloc(1, sizeof *s);
    s->tok = t; s->f = f; s->path = xstrdup(path);
    s->cap = CHUNK;
    s->buf = xmalloc(s->cap);
    return s;
}

// Next paragraph's ids into s->ids; 0 at the end of the file.
static int next_paragraph(TokStream *s) {
    for (;;) {
        char *end = s->len >= 2 ? memmem(s->buf, s->len, "\n\n", 2) : NULL;
        if (!end && !s->eof) {
            if (s->len == s->cap) { s->cap *= 2; s->buf = xrealloc(s->buf, s->cap); }
            size_t k = fread(s->buf + s->len, 1, s->cap - s->len, s->f);
            if (k == 0) {
                if (ferror(s->f)) die_input("%s: read error: %s", s->path, strerror(errno));
                s->eof = 1;
            }
            s->len += k;
            continue;
        }
        size_t j = end ? (size_t)(end - s->buf) : s->len, used = end ? j + 2 : s->len;
        if (used == 0) return 0;
        size_t bad;
        if (!utf8_valid(s->buf, used, &bad)) die_input("%s: not valid UTF-8 (byte offset %zu)", s->path, s->offset + bad);
        size_t a = 0, b = j;
        while (a < b && isspace((unsigned char)s->buf[a])) a++;
        while (b > a && isspace((unsigned char)s->buf[b - 1])) b--;
        free(s->ids);
        s->ids = NULL; s->nids = 0; s->at = 0;
        if (b > a) s->nids = tok_encode(s->tok, s->buf + a, b - a, TOK_BOS, &s->ids);
        memmove(s->buf, s->buf + used, s->len - used);
        s->len -= used;
        s->offset += used;
        if (s->nids) return 1;
    }
}

long tokstream_read(TokStream *s, int *out, long max) {
    long n = 0;
    while (n < max) {
        if (s->at == s->nids && !next_paragraph(s)) break;
        long k = s->nids - s->at < max - n ? s->nids - s->at : max - n;
        memcpy(out + n, s->ids + s->at, (size_t)k * sizeof(int));
        s->at += k; n += k;
    }
    return n;
}

void tokstream_release(void *s) { tokstream_close(s); }
void tokstream_close(TokStream *s) {
    if (!s) return;
    fclose(s->f);
    free(s->ids); free(s->buf); free(s->path);
    free(s);
}
