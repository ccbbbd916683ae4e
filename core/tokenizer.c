// tokenizer.c — see tokenizer.h. llama2.c's BPE (docs/design.md "Model and tokenizer") with the same ids, but the merge
// loop runs in O(n log n): a binary heap of candidate merges over a doubly linked list of
// symbols instead of rescanning every adjacent pair after each merge.
#include "tokenizer.h"
#include "mergeheap.h"
#include "util.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

// ---- piece index: open-addressing hash table of ids, keyed by piece bytes ----
// Keys are hashed with FNV-1a, which is a streaming hash: hashing piece a and then piece b
// equals hashing their concatenation, so merge candidates are looked up without first
// copying the two pieces into a buffer.
typedef struct {
    uint32_t mask;
    int *slots; // -1 = empty
} Index;

static uint32_t slot_of(uint64_t h, uint32_t mask) { return (uint32_t)(h ^ (h >> 32)) & mask; }

static Index *index_build(const Tokenizer *t) {
    Index *ix = xmalloc(sizeof *ix);
    uint32_t cap = 16;
    while (cap < 2u * (uint32_t)t->vocab_size) cap <<= 1; // load factor ≤ 1/2
    ix->mask = cap - 1;
    ix->slots = xmalloc(cap * sizeof(int));
    for (uint32_t i = 0; i < cap; i++) ix->slots[i] = -1;
    for (int id = 0; id < t->vocab_size; id++) {
        uint32_t s = slot_of(hash64(t->vocab[id], (size_t)t->lens[id], HASH64_INIT), ix->mask);
        int dup = 0;
        for (; ix->slots[s] >= 0; s = (s + 1) & ix->mask) {
            int o = ix->slots[s];
            // Duplicate piece: keep the lowest id so lookups are deterministic.
            if (t->lens[o] == t->lens[id] && !memcmp(t->vocab[o], t->vocab[id], (size_t)t->lens[id])) { dup = 1; break; }
        }
        if (!dup) ix->slots[s] = id;
    }
    return ix;
}

// Id of the piece a‖b (b may be empty), or −1.
static int lookup2(const Tokenizer *t, const char *a, size_t la, const char *b, size_t lb) {
    const Index *ix = t->index;
    size_t n = la + lb;
    if (n > (size_t)t->max_token_length) return -1; // no piece is that long
    uint64_t h = hash64(b, lb, hash64(a, la, HASH64_INIT));
    for (uint32_t s = slot_of(h, ix->mask); ix->slots[s] >= 0; s = (s + 1) & ix->mask) {
        int id = ix->slots[s];
        if ((size_t)t->lens[id] == n && !memcmp(t->vocab[id], a, la) && !memcmp(t->vocab[id] + la, b, lb)) return id;
    }
    return -1;
}

int tok_lookup(const Tokenizer *t, const char *piece, size_t len) { return lookup2(t, piece, len, "", 0); }

// ---- construction ----
// A tokenizer of n empty pieces, held (util.h) while its readers fill it in: tok_free
// frees whatever they got to.
void tok_release(void *t) { tok_free(t); }
static Tokenizer *start(int n) {
    Tokenizer *t = hold(xcalloc(1, sizeof *t), tok_release);
    t->vocab_size = n;
    t->vocab = xcalloc((size_t)n, sizeof *t->vocab);
    t->lens = xmalloc((size_t)n * sizeof *t->lens);
    t->scores = xmalloc((size_t)n * sizeof *t->scores);
    return t;
}
// Finishes the struct (max length, byte table, index) and lets go of it.
static Tokenizer *finish(Tokenizer *t, int max_token_length) {
    int n = t->vocab_size;
    const int *lens = t->lens;
    // The longest real piece bounds every lookup, whatever the header claims.
    int mx = max_token_length > 0 ? max_token_length : 0;
    for (int i = 0; i < n; i++) if (lens[i] > mx) mx = lens[i];
    t->max_token_length = mx;
    // Decode of a <0xXX> piece returns a pointer into this table (byte, NUL) as llama2.c does.
    for (int i = 0; i < 256; i++) { t->byte_pieces[2 * i] = (unsigned char)i; t->byte_pieces[2 * i + 1] = 0; }
    t->index = index_build(t);
    t->bos_id = TOK_BOS_ID;
    t->eos_id = TOK_EOS_ID;
    hold_drop(t);
    return t;
}

Tokenizer *tok_load(const char *path, int vocab_size) {
    Tokenizer *other = tok_load_other(path, vocab_size);
    if (other) { if (!other->src) tok_set_source(other, path); return other; }
    size_t size, mark = hold_mark();
    unsigned char *buf = hold(read_file(path, &size), free);
    if (size < 4) die_input("%s: not a tokenizer.bin: %zu bytes, too short for the header", path, size);
    uint32_t mtl;
    memcpy(&mtl, buf, 4);
    // A sane header bounds every piece; a huge value means this is not a tokenizer.bin.
    if (mtl == 0 || mtl > 65536) die_input("%s: not a tokenizer.bin: max_token_length %u is implausible", path, mtl);

    // First pass: validate records and count them. With a known vocab size we still walk
    // to EOF on a mismatch, so the message can say how many tokens the file really has.
    size_t off = 4;
    int count = 0;
    while (off < size) {
        if (size - off < 8) {
            die_input("%s: truncated: %zu stray bytes after token %d (a record needs at least 8)", path, size - off, count);
        }
        int32_t len;
        memcpy(&len, buf + off + 4, 4);
        if (len < 0 || (uint32_t)len > mtl) {
            die_input("%s: corrupt: token %d (offset %zu) has length %d, outside 0..max_token_length %u", path, count, off, len, mtl);
        }
        if (size - off - 8 < (size_t)len) {
            die_input("%s: truncated: token %d (offset %zu) needs %d bytes but only %zu remain", path, count, off, len, size - off - 8);
        }
        off += 8 + (size_t)len;
        if (count == INT32_MAX) { die_input("%s: corrupt: too many tokens", path); }
        count++;
    }
    if (vocab_size > 0 && count != vocab_size)
        die_input("%s: tokenizer has %d tokens but the model expects %d", path, count, vocab_size);
    if (count == 0) die_input("%s: tokenizer has no tokens", path);

    Tokenizer *t = start(count);
    char **vocab = t->vocab;
    int *lens = t->lens;
    float *scores = t->scores;
    off = 4;
    for (int i = 0; i < count; i++) {
        int32_t len;
        memcpy(&scores[i], buf + off, 4);
        memcpy(&len, buf + off + 4, 4);
        off += 8;
        lens[i] = len;
        vocab[i] = xmalloc((size_t)len + 1);
        memcpy(vocab[i], buf + off, (size_t)len);
        vocab[i][len] = 0;
        off += (size_t)len;
    }
    finish(t, (int)mtl);
    tok_set_source(t, path);
    hold_unwind(mark); // the file buffer
    return t;
}

Tokenizer *tok_from_pieces(int n, char **pieces, const int *lens, const float *scores) {
    if (n <= 0) die_input("tokenizer: empty vocabulary");
    Tokenizer *t = start(n);
    char **vocab = t->vocab;
    int *l = t->lens;
    float *s = t->scores;
    for (int i = 0; i < n; i++) {
        l[i] = lens ? lens[i] : (int)strlen(pieces[i]);
        if (l[i] < 0) die_input("tokenizer: piece %d has negative length %d", i, l[i]);
        vocab[i] = xmalloc((size_t)l[i] + 1);
        memcpy(vocab[i], pieces[i], (size_t)l[i]);
        vocab[i][l[i]] = 0;
        s[i] = scores ? scores[i] : 0.0f; // a vocabulary without scores merges leftmost-first
    }
    return finish(t, 0);
}

void tok_set_source(Tokenizer *t, const char *path) { free(t->src); t->src = xstrdup(path); }
const char *tok_source(const Tokenizer *t) { return t->src ? t->src : "tokenizer"; }

void tok_free(Tokenizer *t) {
    if (!t) return;
    free(t->src);
    if (t->bpe) bpe_free(t->bpe);
    for (int i = 0; i < t->vocab_size; i++) free(t->vocab[i]);
    free(t->vocab);
    free(t->lens);
    free(t->scores);
    if (t->index) { free(((Index *)t->index)->slots); free(t->index); }
    free(t);
}

// ---- encode ----
// Candidate merges (core/mergeheap.h) are pushed with pri = −score: llama2.c takes the
// highest score, on equal scores the leftmost pair; a, b hold the two symbols' ids at push
// time, and an entry whose symbols changed since is stale and dropped when popped.
typedef struct { int *id, *prev, *next; } Syms;

// llama2.c starts its search from best_score = -1e10 (a float) and takes strictly greater
// scores, so pieces scored at or below that (or NaN) never merge.
static const float MERGE_FLOOR = -1e10f;

static void push_pair(const Tokenizer *t, MergeHeap *h, const Syms *s, int left, int right) {
    if (left < 0 || right < 0) return;
    int a = s->id[left], b = s->id[right];
    int id = lookup2(t, t->vocab[a], (size_t)t->lens[a], t->vocab[b], (size_t)t->lens[b]);
    if (id < 0 || !(t->scores[id] > MERGE_FLOOR)) return;
    merge_push(h, (MergeCand){-t->scores[id], left, right, a, b, id});
}

static int byte_token(const Tokenizer *t, unsigned char c) {
    // llama2.c's fallback: <0x00>..<0xFF> are ids 3..258.
    if (c + 3 >= t->vocab_size) die_input("%s: byte fallback needs id %d but the vocabulary has %d tokens", tok_source(t), c + 3, t->vocab_size);
    return c + 3;
}

int tok_encode(const Tokenizer *t, const char *text, size_t len, int flags, int **out) {
    if (t->bpe) return bpe_encode(t, text, len, flags, out);
    // At most one symbol per byte, plus BOS, dummy prefix and EOS.
    if (len > (size_t)INT32_MAX - 3) die_input("%s: cannot encode a text of %zu bytes in one piece (at most 2^31 - 4)", tok_source(t), len);
    size_t cap = len + 3;
    int *mem = hold(xmalloc(3 * cap * sizeof(int)), free); // byte_token may die
    Syms s = {mem, mem + cap, mem + 2 * cap};
    int n = 0;
    // BOS takes part in the merge scan in llama2.c too (its "\n<s>\n" piece never forms a
    // vocab piece in practice, but the rule is the same).
    if (flags & TOK_BOS) s.id[n++] = TOK_BOS_ID;
    if (len > 0 && !(flags & TOK_NO_PREFIX)) {
        int sp = tok_lookup(t, " ", 1);
        s.id[n++] = sp >= 0 ? sp : byte_token(t, ' ');
    }
    // Code points: a byte starts a group, which takes following continuation bytes (10xxxxxx)
    // up to 4 bytes in all. Stray continuation bytes thus group among themselves, exactly as
    // llama2.c's buffer logic does. Unknown groups become one byte token per byte.
    for (size_t i = 0; i < len;) {
        size_t j = i + 1;
        while (j < len && j - i < 4 && ((unsigned char)text[j] & 0xC0) == 0x80) j++;
        int id = tok_lookup(t, text + i, j - i);
        if (id >= 0) s.id[n++] = id;
        else for (size_t k = i; k < j; k++) s.id[n++] = byte_token(t, (unsigned char)text[k]);
        i = j;
    }
    for (int i = 0; i < n; i++) { s.prev[i] = i - 1; s.next[i] = i + 1 < n ? i + 1 : -1; }

    MergeHeap h = {0};
    for (int i = 0; i + 1 < n; i++) push_pair(t, &h, &s, i, i + 1);
    while (h.n) {
        MergeCand c = merge_pop(&h);
        // Valid only if the two symbols are still adjacent with the ids seen at push time;
        // merged-away symbols have next = −2 so they never match.
        if (s.next[c.left] != c.right || s.id[c.left] != c.a || s.id[c.right] != c.b) continue;
        s.id[c.left] = c.id;
        int r = c.right, rn = s.next[r];
        s.next[c.left] = rn;
        if (rn >= 0) s.prev[rn] = c.left;
        s.next[r] = -2;
        push_pair(t, &h, &s, s.prev[c.left], c.left);
        push_pair(t, &h, &s, c.left, rn);
    }
    free(h.v);

    int *ids = xmalloc(cap * sizeof(int));
    int m = 0;
    for (int i = n ? 0 : -1; i >= 0; i = s.next[i]) ids[m++] = s.id[i];
    if (flags & TOK_EOS) ids[m++] = TOK_EOS_ID;
    hold_drop(mem);
    free(mem);
    *out = ids;
    return m;
}

// ---- decode ----
static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

const char *tok_decode(const Tokenizer *t, int prev, int token, size_t *len) {
    if (t->bpe) return bpe_decode(t, prev, token, len);
    if (token < 0 || token >= t->vocab_size) die_input("%s: token id %d outside the vocabulary 0..%d", tok_source(t), token, t->vocab_size - 1);
    const char *p = t->vocab[token];
    size_t n = (size_t)t->lens[token];
    // SentencePiece's decoder drops the dummy-prefix space of the first piece after BOS.
    if (prev == TOK_BOS_ID && n > 0 && p[0] == ' ') { p++; n--; }
    // Byte pieces "<0xXX>" stand for the raw byte. (llama2.c uses sscanf, which also takes
    // odd spellings such as "<0xA"; only the exact 6-character form occurs in real vocabs.)
    if (n == 6 && !memcmp(p, "<0x", 3) && p[5] == '>' && hexval(p[3]) >= 0 && hexval(p[4]) >= 0) {
        int b = hexval(p[3]) * 16 + hexval(p[4]);
        p = (const char *)t->byte_pieces + 2 * b;
        n = 1;
    }
    if (len) *len = n;
    return p;
}
