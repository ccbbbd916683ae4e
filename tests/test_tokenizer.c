// test_tokenizer.c — tokenizer API: loading (real files, inferred size, corrupt files dying
// with status 2 and one message line naming the file), lookup, decode, tie-breaking, and
// encode against a naive O(n^2) llama2.c-style merge loop on random texts (run under
// ASan/UBSan too, so the heap/linked-list bookkeeping is memory-checked).
#include "testlib.h"
#include "tokenizer.h"
#include "util.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmpdir[256];

// Runs tok_load(path, vocab) in a child; returns its exit status and its stderr in err.
typedef struct { const char *path; int vocab; } LoadArgs;
static void load_tok(void *p) { LoadArgs *a = p; tok_free(tok_load(a->path, a->vocab)); }
static int load_in_child(const char *path, int vocab, char *err, size_t errsz) {
    LoadArgs a = {path, vocab};
    return t_in_child(load_tok, &a, err, errsz);
}

static void write_blob(const char *path, const void *a, size_t na, const void *b, size_t nb) {
    FILE *f = fopen(path, "wb");
    if (!f) die_internal("cannot write %s", path);
    fwrite(a, 1, na, f);
    if (nb) fwrite(b, 1, nb, f);
    fclose(f);
}

static void expect_die(const char *name, const void *blob, size_t n, const void *tail, size_t nt, int vocab, const char *needle) {
    char path[512], err[2048];
    snprintf(path, sizeof path, "%s/%s.bin", tmpdir, name);
    for (char *p = path + strlen(tmpdir) + 1; *p; p++) if (*p == ' ') *p = '_';
    write_blob(path, blob, n, tail, nt);
    int st = load_in_child(path, vocab, err, sizeof err);
    char *nl = strchr(err, '\n');
    int one_line = nl && nl[1] == 0;
    CHECK(st == 2 && one_line && strstr(err, path) && strstr(err, needle), name, "status %d, stderr '%s'", st, err);
}

// The straightforward algorithm: code points, byte fallback, then rescan all pairs after
// every merge, taking the strictly higher score (so the leftmost of equal scores).
static int naive_encode(const Tokenizer *t, const char *s, size_t len, int *ids) {
    int n = 0;
    if (len) ids[n++] = tok_lookup(t, " ", 1);
    for (size_t i = 0; i < len;) {
        size_t j = i + 1;
        while (j < len && j - i < 4 && ((unsigned char)s[j] & 0xC0) == 0x80) j++;
        int id = tok_lookup(t, s + i, j - i);
        if (id >= 0) ids[n++] = id;
        else for (size_t k = i; k < j; k++) ids[n++] = (unsigned char)s[k] + 3;
        i = j;
    }
    char buf[256];
    for (;;) {
        float best = -1e10f;
        int bi = -1, bid = -1;
        for (int i = 0; i + 1 < n; i++) {
            int la = t->lens[ids[i]], lb = t->lens[ids[i + 1]];
            if (la + lb > (int)sizeof buf) continue;
            memcpy(buf, t->vocab[ids[i]], (size_t)la);
            memcpy(buf + la, t->vocab[ids[i + 1]], (size_t)lb);
            int id = tok_lookup(t, buf, (size_t)(la + lb));
            if (id >= 0 && t->scores[id] > best) { best = t->scores[id]; bi = i; bid = id; }
        }
        if (bi < 0) break;
        ids[bi] = bid;
        memmove(ids + bi + 1, ids + bi + 2, (size_t)(n - bi - 2) * sizeof *ids);
        n--;
    }
    return n;
}

// 3 specials, 256 byte pieces, then `extra` pieces.
static Tokenizer *make_vocab(int next, const char **extra, const float *escores) {
    int n = 259 + next;
    char **p = xmalloc((size_t)n * sizeof *p);
    float *s = xcalloc((size_t)n, sizeof *s);
    char bytes[256][8];
    p[0] = "<unk>"; p[1] = "\n<s>\n"; p[2] = "\n</s>\n";
    for (int i = 0; i < 256; i++) { snprintf(bytes[i], sizeof bytes[i], "<0x%02X>", i); p[3 + i] = bytes[i]; }
    for (int i = 0; i < next; i++) { p[259 + i] = (char *)extra[i]; s[259 + i] = escores[i]; }
    Tokenizer *t = tok_from_pieces(n, p, NULL, s);
    free(p); free(s);
    return t;
}

static int ids_eq(const int *a, int na, const int *b, int nb) {
    return na == nb && (na == 0 || !memcmp(a, b, (size_t)na * sizeof *a));
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/l4q_test_tok_XXXXXX");
    if (!mkdtemp(tmpdir)) die_internal("mkdtemp failed");
    char path[4096];

    // Real tokenizers: explicit and inferred vocabulary sizes.
    resolve_path("models/stories260K/tok512.bin", NULL, path, sizeof path);
    Tokenizer *t = tok_load(path, 512);
    CHECK(t->vocab_size == 512 && t->max_token_length == 7, "tok512 loads", "vocab %d mtl %d", t->vocab_size, t->max_token_length);
    CHECK(t->lens[259] == 2 && !memcmp(t->vocab[259], " t", 2) && t->scores[259] == 0.0f && t->scores[260] == -1.0f,
          "tok512 first merge piece", "'%s' %g", t->vocab[259], t->scores[259]);
    CHECK(tok_lookup(t, " t", 2) == 259 && tok_lookup(t, "<0x0A>", 6) == 13 && tok_lookup(t, "qqqq", 4) == -1,
          "tok_lookup", "%d %d", tok_lookup(t, " t", 2), tok_lookup(t, "<0x0A>", 6));
    size_t len;
    const char *d = tok_decode(t, 5, 13, &len);
    CHECK(len == 1 && d[0] == '\n', "decode <0x0A> to a newline byte", "len %zu", len);
    d = tok_decode(t, TOK_BOS_ID, 259, &len);
    CHECK(len == 1 && d[0] == 't', "decode strips the space after BOS", "'%.*s'", (int)len, d);
    d = tok_decode(t, 7, 259, &len);
    CHECK(len == 2 && !memcmp(d, " t", 2), "decode keeps the space elsewhere", "'%.*s'", (int)len, d);
    int *ids;
    int n = tok_encode(t, "", 0, TOK_BOS | TOK_EOS, &ids);
    CHECK(n == 2 && ids[0] == 1 && ids[1] == 2, "empty text with BOS/EOS", "n %d", n);
    free(ids);
    n = tok_encode(t, "", 0, 0, &ids);
    CHECK(n == 0, "empty text", "n %d", n);
    free(ids);
    tok_free(t);
    t = tok_load(path, 0);
    CHECK(t->vocab_size == 512, "tok512 size inferred", "%d", t->vocab_size);
    tok_free(t);

    // Known answers from llama2.c's own test (Llama-2 vocabulary).
    resolve_path("tokenizers/llama2c_tokenizer.bin", NULL, path, sizeof path);
    t = tok_load(path, 32000);
    const char *prompt = "I believe the meaning of life is";
    const int want[] = {1, 306, 4658, 278, 6593, 310, 2834, 338};
    n = tok_encode(t, prompt, strlen(prompt), TOK_BOS, &ids);
    CHECK(ids_eq(ids, n, want, 8), "llama2 known answer", "n %d first %d %d", n, n > 1 ? ids[1] : -1, n > 2 ? ids[2] : -1);
    free(ids);
    const char *prompt2 = "Simply put, the theory of relativity states that ";
    const int want2[] = {1, 3439, 17632, 1925, 29892, 278, 6368, 310, 14215, 537, 5922, 393, 29871};
    n = tok_encode(t, prompt2, strlen(prompt2), TOK_BOS, &ids);
    CHECK(ids_eq(ids, n, want2, 13), "llama2 known answer 2", "n %d", n);
    free(ids);
    tok_free(t);

    // Ties: "a"+"a" and "aa"+"a" are equally scored; the leftmost pair merges first.
    const char *tp[] = {" ", "a", "aa", "aaa"};
    const float ts[] = {0, 0, -1, -1};
    t = make_vocab(4, tp, ts);
    int aa = tok_lookup(t, "aa", 2), a = tok_lookup(t, "a", 1), aaa = tok_lookup(t, "aaa", 3);
    n = tok_encode(t, "aaaa", 4, TOK_NO_PREFIX, &ids);
    // a a a a → (aa) a a → (aaa) a: after the first merge, "aa"+"a" at the left wins over
    // "a"+"a" to its right because both score −1 and it is leftmost.
    int w1[] = {aaa, a};
    CHECK(ids_eq(ids, n, w1, 2), "ties merge leftmost in the current sequence", "n %d %d %d", n, ids[0], n > 1 ? ids[1] : -1);
    free(ids);
    n = tok_encode(t, "aaaaa", 5, TOK_NO_PREFIX, &ids);
    int w2[] = {aaa, aa};
    CHECK(ids_eq(ids, n, w2, 2), "ties on five", "n %d", n);
    free(ids);
    tok_free(t);

    // Random texts on tie-heavy random vocabularies vs the naive loop.
    Rng r;
    rng_seed(&r, 42);
    const char alpha[] = "ab c\xc3\xa9z";
    int bad = 0, total = 0;
    for (int v = 0; v < 4; v++) {
        static char store[80][16];
        const char *ep[80];
        float es[80];
        const float choices[] = {0.0f, -0.0f, -1.0f, -2.0f, -1e10f, -3e10f};
        ep[0] = " "; ep[1] = "a"; ep[2] = "b"; ep[3] = "c"; ep[4] = "\xc3\xa9";
        es[0] = es[1] = es[2] = es[3] = es[4] = 0;
        int ne = 5;
        while (ne < 80) {
            int l = 2 + (int)(rng_u64(&r) % 4), o = 0;
            for (int k = 0; k < l; k++) {
                int c = (int)(rng_u64(&r) % 5);
                if (c == 4) { store[ne][o++] = '\xc3'; store[ne][o++] = '\xa9'; }
                else store[ne][o++] = "ab c"[c];
            }
            store[ne][o] = 0;
            int dup = 0;
            for (int k = 0; k < ne; k++) dup |= !strcmp(ep[k], store[ne]);
            if (dup) continue;
            ep[ne] = store[ne];
            es[ne] = choices[rng_u64(&r) % 6];
            ne++;
        }
        t = make_vocab(ne, ep, es);
        for (int k = 0; k < 300; k++) {
            char text[200];
            size_t tl = (size_t)(rng_u64(&r) % 120);
            for (size_t i = 0; i < tl; i++) text[i] = alpha[rng_u64(&r) % (sizeof alpha - 1)];
            int ref[260];
            int nr = naive_encode(t, text, tl, ref);
            n = tok_encode(t, text, tl, 0, &ids);
            bad += !ids_eq(ids, n, ref, nr);
            total++;
            free(ids);
        }
        tok_free(t);
    }
    CHECK(bad == 0, "heap encode equals naive rescan on random tie-heavy texts", "%d of %d differ", bad, total);

    // Corrupt files die with status 2 and one line naming the file.
    resolve_path("models/stories260K/tok512.bin", NULL, path, sizeof path);
    size_t glen;
    char *good = read_file(path, &glen);
    uint32_t big = 0xFFFFFFFFu;
    int32_t neg[2], huge[2], ext[2];
    float zero = 0;
    memcpy(&neg[0], &zero, 4); neg[1] = -5;
    memcpy(&huge[0], &zero, 4); huge[1] = 1 << 30;
    memcpy(&ext[0], &zero, 4); ext[1] = 2;
    char extra_rec[10];
    memcpy(extra_rec, ext, 8); memcpy(extra_rec + 8, "xy", 2);
    expect_die("empty", "", 0, NULL, 0, 512, "too short");
    expect_die("header only", good, 4, NULL, 0, 0, "no tokens");
    expect_die("truncated record", good, glen - 3, NULL, 0, 512, "truncated");
    expect_die("stray trailing bytes", good, glen, "abc", 3, 512, "truncated");
    expect_die("negative length", good, glen, neg, 8, 512, "length -5");
    expect_die("huge length", good, glen, huge, 8, 512, "length");
    expect_die("implausible max_token_length", &big, 4, good + 4, glen - 4, 512, "max_token_length");
    expect_die("model expects more", good, glen, NULL, 0, 32000, "tokenizer has 512 tokens but the model expects 32000");
    expect_die("model expects fewer", good, glen, extra_rec, 10, 512, "tokenizer has 513 tokens but the model expects 512");
    free(good);
    char err[1024];
    snprintf(path, sizeof path, "%s/missing.bin", tmpdir);
    CHECK(load_in_child(path, 512, err, sizeof err) == 2 && strstr(err, path), "missing file", "'%s'", err);

    // Clean up the scratch files.
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) printf("note: could not remove %s\n", tmpdir);
    T_EXIT();
}
