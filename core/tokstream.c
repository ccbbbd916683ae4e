// tokstream.c — see tokstream.h. Paragraphs end at "\n\n" (ASCII, so a chunk boundary
// found there never splits a UTF-8 sequence); each is stripped, encoded with BOS and
// queued; one longer than 1 MB is encoded in pieces cut at a newline or space (para_cut).
#include "tokstream.h"
#include "util.h"
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

enum { CHUNK = 1 << 20 };

static size_t para_max = CHUNK;
void tokpara_set_max(size_t bytes) { para_max = bytes ? bytes : CHUNK; }

// Where to cut a paragraph longer than para_max, in w[0, para_max]: after the last newline
// that a non-space follows, else before the last space between two non-spaces (neither
// kind of merge or pre-token crosses such a point: the pieces encode as the whole does),
// else at the last UTF-8 character start (a run of one character: tokens at the cut differ).
static size_t para_cut(const char *w) {
    for (size_t i = para_max; i > 1; i--)
        if (w[i - 1] == '\n' && !isspace((unsigned char)w[i])) return i;
    for (size_t i = para_max - 1; i > 1; i--)
        if (w[i] == ' ' && !isspace((unsigned char)w[i - 1]) && !isspace((unsigned char)w[i + 1])) return i;
    size_t i = para_max;
    while (i > 1 && ((unsigned char)w[i] & 0xC0) == 0x80) i--;
    return i;
}

size_t tokpara_next(const Tokenizer *t, const char *buf, size_t len, int at_end, int *cont, int **ids, long *nids,
                    const char *name, size_t offset) {
    *ids = NULL; *nids = 0;
    // The decision needs the whole window [0, para_max + 2) (a "\n\n" may start at para_max),
    // so a short read of a stream decides as the whole text in memory does.
    size_t win = len < para_max + 2 ? len : para_max + 2;
    const char *end = win >= 2 ? memmem(buf, win, "\n\n", 2) : NULL;
    size_t j, used;
    int last = 1;
    if (end) j = (size_t)(end - buf), used = j + 2;
    else if (!at_end && win < para_max + 2) return 0;
    else if (len > para_max) j = used = para_cut(buf), last = 0;
    else j = used = len;
    size_t bad;
    if (!utf8_valid(buf, used, &bad)) die_input("%s: not valid UTF-8 (byte offset %zu)", name, offset + bad);
    size_t a = 0, b = j;
    if (!*cont) while (a < b && isspace((unsigned char)buf[a])) a++;
    if (last) while (b > a && isspace((unsigned char)buf[b - 1])) b--;
    if (b > a) *nids = tok_encode(t, buf + a, b - a, *cont ? TOK_NO_PREFIX : TOK_BOS, ids);
    *cont = !last && (*cont || b > a);
    return used;
}

struct TokStream {
    const Tokenizer *tok;
    FILE *f;
    char *path;
    char *buf;            // bytes [pos, len) not yet split into paragraphs
    size_t pos, len, cap;
    size_t offset;        // file offset of buf[pos] (UTF-8 error messages)
    int eof, cont;        // cont: the next piece continues a cut paragraph
    int *ids;             // tokens of the current piece not yet handed out
    long nids, at;
};

TokStream *tokstream_open(const Tokenizer *t, const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) die_input("%s: cannot open: %s", path, strerror(errno));
    TokStream *s = xcalloc(1, sizeof *s);
    s->tok = t; s->f = f; s->path = xstrdup(path);
    s->cap = para_max + CHUNK;
    s->buf = xmalloc(s->cap);
    return s;
}

// Next piece's ids into s->ids; 0 at the end of the file.
static int next_paragraph(TokStream *s) {
    for (;;) {
        free(s->ids);
        s->ids = NULL; s->nids = 0; s->at = 0;
        size_t used = tokpara_next(s->tok, s->buf + s->pos, s->len - s->pos, s->eof, &s->cont, &s->ids, &s->nids, s->path, s->offset);
        if (used == 0) {
            if (s->eof) return 0;
            // Moved down only when more must be read (not per paragraph: that was quadratic
            // in the paragraphs a buffer holds).
            memmove(s->buf, s->buf + s->pos, s->len - s->pos);
            s->len -= s->pos;
            s->pos = 0;
            size_t k = fread(s->buf + s->len, 1, s->cap - s->len, s->f);
            if (k == 0) {
                if (ferror(s->f)) die_input("%s: read error: %s", s->path, strerror(errno));
                s->eof = 1;
            }
            s->len += k;
            continue;
        }
        s->pos += used;
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
