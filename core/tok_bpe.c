// tok_bpe.c — the BPE encoders besides llama2.c's (see TokSpec in tokenizer.h):
//
// SentencePiece BPE (Llama-2, Mistral: tokenizer.model, GGUF "llama", and HF tokenizer.json
// with byte_fallback): spaces become "▁", a dummy "▁" prefix, one symbol per character,
// then repeatedly the best adjacent merge — by the merged piece's score (SentencePiece:
// highest score, leftmost on ties; control/unknown/byte pieces never form) or by the pair's
// rank in a merges list (HF: lowest rank, leftmost on ties). Leftover symbols that are not
// pieces become their UTF-8 bytes' <0xXX> tokens (or unk).
//
// Byte-level BPE (Llama-3: HF tokenizer.json, GGUF "gpt2" with pre "llama-bpe"): the text
// is split by the pre-tokenizer regex (PCRE2, with every gap between matches a piece too,
// HF's "Isolated"), each piece's bytes are mapped to GPT-2's printable characters, and
// merges apply by rank within the piece; with ignore_merges a piece that is a whole
// vocabulary entry is one token (as tiktoken does).
//
// Both: special tokens (HF added tokens) can be matched in the raw text first, longest
// first. One merge loop serves both: a heap of candidate pairs over a linked list of
// symbols, each candidate checked for staleness when popped (O(n log n)).
#define PCRE2_CODE_UNIT_WIDTH 8
#include "tokenizer.h"
#include "mergeheap.h"
#include "util.h"
#include <ctype.h>
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

// Pre-tokenizer regexes: GPT-2's (HF ByteLevel use_regex) and Llama-3's (its tokenizer.json).
const char TOK_PATTERN_GPT2[] = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
const char TOK_PATTERN_LLAMA3[] = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

struct TokBpe {
    int kind, n;
    char **model; int *mlen;     // model-form pieces
    int *type;
    float *score;
    uint32_t pmask; int *pslot;  // piece bytes → id (lowest id of duplicates)
    uint32_t mmask; uint64_t *mkey; int *mrank, *mid; // (left id, right id) → rank, merged id
    int use_merges, unk, byte_fallback, add_dummy_prefix, remove_extra_ws, ignore_merges, add_prefix_space;
    int byte_id[256];            // SPM <0xXX> ids, −1 if missing
    int *special, nspecial;      // raw-text special tokens, longest first
    unsigned char special_first[256];
    pcre2_code *re;
    char bytechar[256][3]; int bytechar_len[256]; // byte-level: byte → its printable char
    short cp2byte[512];          // and back: code point → byte, −1 if none
};

static uint32_t hslot(uint64_t h, uint32_t mask) { return (uint32_t)(h ^ (h >> 29)) & mask; }
static uint32_t table_cap(size_t n) { uint32_t c = 16; while (c < 2 * n) c <<= 1; return c; }

static int piece_find(const struct TokBpe *b, const char *s, size_t n) {
    for (uint32_t i = hslot(hash64(s, n, HASH64_INIT), b->pmask); b->pslot[i] >= 0; i = (i + 1) & b->pmask) {
        int id = b->pslot[i];
        if ((size_t)b->mlen[id] == n && !memcmp(b->model[id], s, n)) return id;
    }
    return -1;
}
static uint64_t mkey(int l, int r) { return ((uint64_t)(uint32_t)l << 32 | (uint32_t)r) + 1; } // 0 = empty
static int merge_find(const struct TokBpe *b, int l, int r, int *rank) {
    uint64_t k = mkey(l, r);
    for (uint32_t i = hslot(k * 0x9E3779B97F4A7C15ull, b->mmask); b->mkey[i]; i = (i + 1) & b->mmask)
        if (b->mkey[i] == k) { *rank = b->mrank[i]; return b->mid[i]; }
    return -1;
}

// GPT-2's byte ↔ printable-character table: printable Latin-1 bytes stand for themselves,
// the rest take code points 256, 257, ... in byte order.
static void byte_table(struct TokBpe *b) {
    int next = 256;
    for (int c = 0; c < 512; c++) b->cp2byte[c] = -1;
    for (int c = 0; c < 256; c++) {
        int keep = (c >= 33 && c <= 126) || (c >= 161 && c <= 172) || (c >= 174 && c <= 255);
        int cp = keep ? c : next++;
        b->cp2byte[cp] = (short)c;
        if (cp < 0x80) { b->bytechar[c][0] = (char)cp; b->bytechar_len[c] = 1; }
        else { b->bytechar[c][0] = (char)(0xC0 | cp >> 6); b->bytechar[c][1] = (char)(0x80 | (cp & 63)); b->bytechar_len[c] = 2; }
    }
}
// Decoded bytes of a byte-level piece; −1 if some character is not in the table.
static int unmap_bytes(const struct TokBpe *b, const char *s, int n, char *out) {
    int o = 0;
    for (int i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        int cp = -1;
        if (c < 0x80) { cp = c; i++; }
        else if ((c >> 5) == 6 && i + 1 < n) { cp = (c & 31) << 6 | ((unsigned char)s[i + 1] & 63); i += 2; }
        if (cp < 0 || cp >= 512 || b->cp2byte[cp] < 0) return -1;
        out[o++] = (char)b->cp2byte[cp];
    }
    return o;
}

// Two hex digits exactly: sscanf's %x would also take a sign ("<0x-8>" gave byte −8).
static int is_byte_piece(const char *s, int n, int *v) {
    if (n != 6 || memcmp(s, "<0x", 3) || s[5] != '>' || !isxdigit((unsigned char)s[3]) || !isxdigit((unsigned char)s[4]))
        return 0;
    char hex[3] = {s[3], s[4], 0};
    *v = (int)strtol(hex, NULL, 16);
    return 1;
}

static void bpe_release(void *b) { bpe_free(b); }

Tokenizer *tok_build(const char *path, const TokSpec *s) {
    if (s->n <= 0) die_input("%s: tokenizer has no tokens", path);
    size_t mark = hold_mark();
    struct TokBpe *b = hold(xcalloc(1, sizeof *b), bpe_release);
    b->kind = s->kind; b->n = s->n;
    b->model = xcalloc((size_t)s->n, sizeof *b->model);
    b->mlen = xmalloc((size_t)s->n * sizeof *b->mlen);
    b->type = xmalloc((size_t)s->n * sizeof *b->type);
    b->score = xcalloc((size_t)s->n, sizeof *b->score);
    for (int i = 0; i < s->n; i++) {
        if (!s->pieces[i]) die_input("%s: token id %d has no piece", path, i);
        b->mlen[i] = s->lens ? s->lens[i] : (int)strlen(s->pieces[i]);
        b->model[i] = xmalloc((size_t)b->mlen[i] + 1);
        memcpy(b->model[i], s->pieces[i], (size_t)b->mlen[i]);
        b->model[i][b->mlen[i]] = 0;
        b->type[i] = s->types ? s->types[i] : TT_NORMAL;
        if (b->type[i] < TT_NORMAL || b->type[i] > TT_BYTE) die_input("%s: token %d has unknown type %d", path, i, b->type[i]);
        if (s->scores) b->score[i] = s->scores[i];
    }
    uint32_t cap = table_cap((size_t)s->n);
    b->pmask = cap - 1;
    b->pslot = xmalloc(cap * sizeof(int));
    for (uint32_t i = 0; i < cap; i++) b->pslot[i] = -1;
    for (int id = 0; id < s->n; id++) {
        if (piece_find(b, b->model[id], (size_t)b->mlen[id]) >= 0) continue;
        uint32_t i = hslot(hash64(b->model[id], (size_t)b->mlen[id], HASH64_INIT), b->pmask);
        while (b->pslot[i] >= 0) i = (i + 1) & b->pmask;
        b->pslot[i] = id;
    }
    b->unk = s->unk; b->byte_fallback = s->byte_fallback; b->add_dummy_prefix = s->add_dummy_prefix;
    b->remove_extra_ws = s->remove_extra_ws; b->ignore_merges = s->ignore_merges; b->add_prefix_space = s->add_prefix_space;
    for (int c = 0; c < 256; c++) b->byte_id[c] = -1;
    for (int id = 0; id < s->n; id++) {
        int v;
        // Byte pieces: typed BYTE (SentencePiece, GGUF), or spelled <0xXX> in a SentencePiece-
        // style vocabulary without byte types (HF tokenizer.json).
        if (b->type[id] == TT_BYTE || (s->kind == TOKK_SPM && b->type[id] == TT_NORMAL && is_byte_piece(b->model[id], b->mlen[id], &v))) {
            if (!is_byte_piece(b->model[id], b->mlen[id], &v)) die_input("%s: byte token %d is not of the form <0xXX>", path, id);
            if (b->byte_id[v] < 0) b->byte_id[v] = id;
            b->type[id] = TT_BYTE;
        }
    }
    if (s->merges) {
        b->use_merges = 1;
        cap = table_cap((size_t)s->n_merges);
        b->mmask = cap - 1;
        b->mkey = xcalloc(cap, sizeof *b->mkey);
        b->mrank = xmalloc(cap * sizeof(int));
        b->mid = xmalloc(cap * sizeof(int));
        size_t bcap = 64;
        char *buf = hold(xmalloc(bcap), free);
        for (int r = 0; r < s->n_merges; r++) {
            const char *m = s->merges[r], *sp = strchr(m, ' ');
            if (!sp || strchr(sp + 1, ' ')) die_input("%s: merge %d ('%.60s') is not two pieces separated by one space", path, r, m);
            int l = piece_find(b, m, (size_t)(sp - m)), rr = piece_find(b, sp + 1, strlen(sp + 1));
            size_t nl = strlen(m) - 1;
            if (nl + 1 > bcap) { bcap = 2 * nl + 16; buf = hold_realloc(buf, bcap); }
            memcpy(buf, m, (size_t)(sp - m));
            memcpy(buf + (sp - m), sp + 1, strlen(sp + 1));
            int id = piece_find(b, buf, nl);
            if (l < 0 || rr < 0 || id < 0) die_input("%s: merge %d ('%.60s') names a piece not in the vocabulary", path, r, m);
            uint64_t k = mkey(l, rr);
            uint32_t i = hslot(k * 0x9E3779B97F4A7C15ull, b->mmask);
            while (b->mkey[i] && b->mkey[i] != k) i = (i + 1) & b->mmask;
            if (b->mkey[i]) continue; // a repeated pair keeps its first (best) rank
            b->mkey[i] = k; b->mrank[i] = r; b->mid[i] = id;
        }
        hold_drop(buf);
        free(buf);
    } else if (s->kind == TOKK_BYTE_BPE) die_input("%s: byte-level BPE needs a merges list", path);
    if (s->kind == TOKK_BYTE_BPE) {
        byte_table(b);
        int ec; PCRE2_SIZE eo;
        b->re = pcre2_compile((PCRE2_SPTR)s->pattern, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &ec, &eo, NULL);
        if (!b->re) {
            PCRE2_UCHAR msg[160];
            pcre2_get_error_message(ec, msg, sizeof msg);
            die_input("%s: pre-tokenizer regex: %s at offset %zu", path, (char *)msg, (size_t)eo);
        }
        pcre2_jit_compile(b->re, PCRE2_JIT_COMPLETE); // optional speed-up; the interpreter is the fallback
    }
    if (s->split_special) {
        b->special = xmalloc((size_t)s->n * sizeof(int));
        for (int id = 0; id < s->n; id++)
            if ((b->type[id] == TT_CONTROL || b->type[id] == TT_USER_DEFINED) && b->mlen[id] > 0) {
                b->special[b->nspecial++] = id;
                b->special_first[(unsigned char)b->model[id][0]] = 1;
            }
        for (int i = 1; i < b->nspecial; i++) // insertion sort, longest first (few specials)
            for (int j = i; j > 0 && b->mlen[b->special[j]] > b->mlen[b->special[j - 1]]; j--) {
                int x = b->special[j]; b->special[j] = b->special[j - 1]; b->special[j - 1] = x;
            }
    }

    // The shared struct: display pieces (SPM: "▁" → " ", <0xXX> kept as text, like
    // tokenizer.bin; byte-level: the decoded bytes) for lookups, decode and exports.
    char **disp = hold(xcalloc((size_t)s->n + 1, sizeof *disp), strv_free);
    int *dlen = hold(xmalloc((size_t)s->n * sizeof *dlen), free);
    for (int id = 0; id < s->n; id++) {
        const char *m = b->model[id];
        int n = b->mlen[id], o = 0;
        disp[id] = xmalloc((size_t)n + 1);
        if (s->kind == TOKK_BYTE_BPE && b->type[id] != TT_CONTROL && b->type[id] != TT_USER_DEFINED && (o = unmap_bytes(b, m, n, disp[id])) >= 0) {
        } else if (s->kind == TOKK_SPM) {
            o = 0;
            for (int j = 0; j < n; j++) {
                if (j + 2 < n && !memcmp(m + j, "\xE2\x96\x81", 3)) { disp[id][o++] = ' '; j += 2; }
                else disp[id][o++] = m[j];
            }
        } else { memcpy(disp[id], m, (size_t)n); o = n; }
        disp[id][o] = 0;
        dlen[id] = o;
    }
    Tokenizer *t = tok_from_pieces(s->n, disp, dlen, b->score);
    hold_drop(b);
    hold_unwind(mark); // disp, dlen
    t->bpe = b;
    t->bos_id = s->bos;
    t->eos_id = s->eos;
    tok_set_source(t, path);
    return t;
}

void bpe_free(struct TokBpe *b) {
    for (int i = 0; b->model && i < b->n; i++) free(b->model[i]);
    free(b->model); free(b->mlen); free(b->type); free(b->score); free(b->pslot);
    free(b->mkey); free(b->mrank); free(b->mid); free(b->special);
    if (b->re) pcre2_code_free(b->re);
    free(b);
}

// ---- the merge loop ----
// Candidate merges: core/mergeheap.h (a, b: the two symbols' lengths at push time).
typedef struct { int *start, *len, *id, *prev, *next; int n; } Syms;

// Span of symbol i is buf[start, start+len); merges keep the left symbol's index.
static void candidate(const struct TokBpe *b, const char *buf, Syms *s, MergeHeap *h, int l, int r) {
    if (l < 0 || r < 0) return;
    int id, rank = 0;
    float pri;
    if (b->use_merges) {
        if (s->id[l] < 0 || s->id[r] < 0 || (id = merge_find(b, s->id[l], s->id[r], &rank)) < 0) return;
        pri = (float)rank;
    } else {
        id = piece_find(b, buf + s->start[l], (size_t)(s->len[l] + s->len[r]));
        if (id < 0 || (b->type[id] != TT_NORMAL && b->type[id] != TT_USER_DEFINED)) return;
        pri = -b->score[id];
    }
    merge_push(h, (MergeCand){pri, l, r, s->len[l], s->len[r], id});
}

typedef struct { int *a; size_t n, cap; } Ids;
static void push_id(Ids *o, int id) {
    if (o->n == o->cap) { o->cap = o->cap ? 2 * o->cap : 256; o->a = xrealloc(o->a, o->cap * sizeof(int)); }
    o->a[o->n++] = id;
}

// BPE over buf[0, n), initial symbols at the given boundaries (count m); appends ids.
static void bpe_word(const struct TokBpe *b, const char *buf, const int *bound, int m, Ids *out) {
    if (m <= 0) return;
    Syms s;
    int *mem = hold(xmalloc((size_t)m * 5 * sizeof(int)), free);
    s.start = mem; s.len = mem + m; s.id = mem + 2 * m; s.prev = mem + 3 * m; s.next = mem + 4 * m; s.n = m;
    for (int i = 0; i < m; i++) {
        s.start[i] = bound[i];
        s.len[i] = bound[i + 1] - bound[i];
        s.id[i] = piece_find(b, buf + bound[i], (size_t)s.len[i]);
        if (s.id[i] >= 0 && !b->use_merges && b->type[s.id[i]] != TT_NORMAL && b->type[s.id[i]] != TT_USER_DEFINED) s.id[i] = -1;
        s.prev[i] = i - 1;
        s.next[i] = i + 1 < m ? i + 1 : -1;
    }
    MergeHeap h = {0};
    for (int i = 0; i + 1 < m; i++) candidate(b, buf, &s, &h, i, i + 1);
    while (h.n) {
        MergeCand c = merge_pop(&h);
        if (s.next[c.left] != c.right || s.len[c.left] != c.a || s.len[c.right] != c.b) continue; // stale
        s.len[c.left] += s.len[c.right];
        s.id[c.left] = c.id;
        int rn = s.next[c.right];
        s.next[c.left] = rn;
        if (rn >= 0) s.prev[rn] = c.left;
        s.next[c.right] = -2;
        s.len[c.right] = -1;
        candidate(b, buf, &s, &h, s.prev[c.left], c.left);
        candidate(b, buf, &s, &h, c.left, rn);
    }
    free(h.v);
    for (int i = 0; i >= 0; i = s.next[i]) {
        if (s.id[i] >= 0) { push_id(out, s.id[i]); continue; }
        // Not a piece: its bytes as <0xXX> tokens, else unk.
        int all = b->byte_fallback;
        for (int k = 0; all && k < s.len[i]; k++) all = b->byte_id[(unsigned char)buf[s.start[i] + k]] >= 0;
        if (all) for (int k = 0; k < s.len[i]; k++) push_id(out, b->byte_id[(unsigned char)buf[s.start[i] + k]]);
        else if (b->unk >= 0) push_id(out, b->unk);
        else die_input("tokenizer: text piece '%.*s' is not in the vocabulary and there is no unknown token", s.len[i], buf + s.start[i]);
    }
    hold_drop(mem);
    free(mem);
}

static int utf8_seq_bytes(const char *s, size_t n) {
    unsigned char c = (unsigned char)s[0];
    int l = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
    if ((size_t)l > n) return 1;
    for (int k = 1; k < l; k++) if (((unsigned char)s[k] & 0xC0) != 0x80) return 1;
    return l;
}

// SentencePiece normalization of one segment, then BPE over its characters.
static void spm_segment(const struct TokBpe *b, const char *text, size_t len, int prefix, Ids *out) {
    size_t a = 0, e = len;
    if (b->remove_extra_ws) { while (a < e && text[a] == ' ') a++; while (e > a && text[e - 1] == ' ') e--; }
    if (a == e) return;
    size_t mark = hold_mark();
    char *buf = hold(xmalloc(3 * (e - a) + 4), free);
    int *bound = hold(xmalloc((e - a + 2) * sizeof(int)), free);
    size_t n = 0;
    int m = 0;
    if (prefix && b->add_dummy_prefix) { bound[m++] = 0; memcpy(buf, "\xE2\x96\x81", 3); n = 3; }
    for (size_t i = a; i < e;) {
        if (text[i] == ' ') {
            if (b->remove_extra_ws && i > a && text[i - 1] == ' ') { i++; continue; }
            bound[m++] = (int)n; memcpy(buf + n, "\xE2\x96\x81", 3); n += 3; i++;
            continue;
        }
        int l = utf8_seq_bytes(text + i, e - i);
        bound[m++] = (int)n;
        memcpy(buf + n, text + i, (size_t)l);
        n += (size_t)l; i += (size_t)l;
    }
    bound[m] = (int)n;
    bpe_word(b, buf, bound, m, out);
    hold_unwind(mark);
}

// One pre-token of byte-level BPE.
static void byte_piece(const struct TokBpe *b, const char *p, size_t len, char **buf, int **bound, size_t *cap, Ids *out) {
    if (!len) return;
    if (2 * len + 1 > *cap) { *cap = 2 * len + 64; *buf = xrealloc(*buf, *cap); *bound = xrealloc(*bound, *cap * sizeof(int)); }
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        (*bound)[i] = (int)n;
        unsigned char c = (unsigned char)p[i];
        memcpy(*buf + n, b->bytechar[c], (size_t)b->bytechar_len[c]);
        n += (size_t)b->bytechar_len[c];
    }
    (*bound)[len] = (int)n;
    int whole;
    if (b->ignore_merges && (whole = piece_find(b, *buf, n)) >= 0) { push_id(out, whole); return; }
    bpe_word(b, *buf, *bound, (int)len, out);
}

static void match_data_release(void *md) { pcre2_match_data_free(md); }

static void byte_segment(const struct TokBpe *b, const char *text, size_t len, Ids *out) {
    size_t mark = hold_mark();
    if (b->add_prefix_space && len && text[0] != ' ') {
        char *sp = hold(xmalloc(len + 1), free);
        sp[0] = ' '; memcpy(sp + 1, text, len);
        text = sp; len++;
    }
    pcre2_match_data *md = hold(pcre2_match_data_create_from_pattern(b->re, NULL), match_data_release);
    char *buf = NULL; int *bound = NULL; size_t cap = 0;
    hold(&buf, free_at);
    hold(&bound, free_at);
    size_t off = 0, gap = 0;
    while (off < len) {
        int rc = pcre2_match(b->re, (PCRE2_SPTR)text, len, off, 0, md, NULL);
        if (rc == PCRE2_ERROR_NOMATCH) break;
        if (rc < 0) { // e.g. a resource limit: never silently tokenize the rest differently
            PCRE2_UCHAR msg[160];
            pcre2_get_error_message(rc, msg, sizeof msg);
            die_input("tokenizer: pre-tokenizer regex failed at byte %zu: %s", off, (char *)msg);
        }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        if (ov[1] == ov[0]) { off = ov[0] + (size_t)utf8_seq_bytes(text + ov[0], len - ov[0]); continue; } // empty match
        byte_piece(b, text + gap, ov[0] - gap, &buf, &bound, &cap, out);
        byte_piece(b, text + ov[0], ov[1] - ov[0], &buf, &bound, &cap, out);
        off = gap = ov[1];
    }
    byte_piece(b, text + gap, len - gap, &buf, &bound, &cap, out);
    hold_unwind(mark);
}

int bpe_encode(const Tokenizer *t, const char *text, size_t len, int flags, int **out) {
    const struct TokBpe *b = t->bpe;
    Ids o = {0};
    hold(&o.a, free_at);
    if ((flags & TOK_BOS) && t->bos_id >= 0) push_id(&o, t->bos_id);
    // Split at special tokens (longest match first), encoding the text between them.
    size_t seg = 0;
    int first = 1;
    for (size_t i = 0; i <= len; i++) {
        int sid = -1;
        if (i < len && b->nspecial && b->special_first[(unsigned char)text[i]])
            for (int k = 0; k < b->nspecial; k++) {
                int id = b->special[k];
                if ((size_t)b->mlen[id] <= len - i && !memcmp(text + i, b->model[id], (size_t)b->mlen[id])) { sid = id; break; }
            }
        if (sid < 0 && i < len) continue;
        if (i > seg) {
            if (b->kind == TOKK_SPM) spm_segment(b, text + seg, i - seg, first ? !(flags & TOK_NO_PREFIX) : 1, &o);
            else byte_segment(b, text + seg, i - seg, &o);
        }
        first = 0;
        if (sid >= 0) { push_id(&o, sid); i += (size_t)b->mlen[sid] - 1; seg = i + 1; }
    }
    if ((flags & TOK_EOS) && t->eos_id >= 0) push_id(&o, t->eos_id);
    hold_drop(&o.a);
    *out = o.a ? o.a : xmalloc(sizeof(int));
    return (int)o.n;
}

const char *bpe_decode(const Tokenizer *t, int prev, int token, size_t *len) {
    const struct TokBpe *b = t->bpe;
    if (token < 0 || token >= t->vocab_size) die_input("%s: token id %d outside the vocabulary 0..%d", tok_source(t), token, t->vocab_size - 1);
    const char *p = t->vocab[token];
    size_t n = (size_t)t->lens[token];
    if (b->type[token] == TT_BYTE) {
        int v = 0;
        is_byte_piece(b->model[token], b->mlen[token], &v);
        p = (const char *)t->byte_pieces + 2 * v;
        n = 1;
    } else if (b->kind == TOKK_SPM && prev == t->bos_id && n > 0 && p[0] == ' ') { p++; n--; } // dummy prefix
    if (len) *len = n;
    return p;
}

int tok_embeddable(const Tokenizer *t, int vocab_size) {
    if (!t || t->vocab_size != vocab_size) return 0;
    const struct TokBpe *b = t->bpe;
    if (!b) return 1;
    // A merges-ranked vocabulary (HF tokenizer.json) has no scores to store, and the llama2.c
    // reader assumes BOS 1, EOS 2 and <0x00>..<0xFF> at ids 3..258.
    if (b->kind != TOKK_SPM || b->use_merges || t->bos_id != TOK_BOS_ID || t->eos_id != TOK_EOS_ID) return 0;
    for (int c = 0; c < 256; c++) if (b->byte_id[c] != c + 3) return 0;
    return 1;
}
