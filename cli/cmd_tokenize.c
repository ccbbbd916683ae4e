// cmd_tokenize.c — `l4q tokenize`: encode text to ids (or decode ids to text) with a
// tokenizer file (tokenizer.bin, tokenizer.json, tokenizer.model, GGUF). A debugging aid and the hook the tokenizer oracle tests drive.
#include "cli.h"
#include "tokenizer.h"
#include "util.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int *parse_ids(const char *s, const Tokenizer *t, int *n) {
    size_t cap = 16;
    int *ids = xmalloc(cap * sizeof *ids);
    *n = 0;
    for (;;) {
        while (*s == ' ' || *s == ',' || *s == '\n' || *s == '\t') s++;
        if (!*s) break;
        char *end;
        errno = 0;
        long v = strtol(s, &end, 10);
        if (end == s || errno) die_input("--ids: not an integer at '%.20s'", s);
        if (v < 0 || v >= t->vocab_size) die_input("--ids: id %ld outside the vocabulary 0..%d", v, t->vocab_size - 1);
        if ((size_t)*n == cap) ids = xrealloc(ids, (cap *= 2) * sizeof *ids);
        ids[(*n)++] = (int)v;
        s = end;
    }
    return ids;
}

int cmd_tokenize(int argc, char **argv) {
    Flag flags[] = {{.name = "tokenizer", .takes_value = 1}, {.name = "vocab-size", .takes_value = 1},
                    {.name = "text", .takes_value = 1}, {.name = "file", .takes_value = 1},
                    {.name = "ids", .takes_value = 1}, {.name = "bos"}, {.name = "eos"},
                    {.name = "no-prefix"}, {.name = "decode"}};
    Args a;
    args_parse(&a, flags, (int)(sizeof flags / sizeof flags[0]), argc, argv, "tokenize");
    if (a.npos) die_input("tokenize: unexpected argument '%s'", a.pos[0]);
    const char *tpath = arg_str(&a, "tokenizer", NULL);
    if (!tpath) die_input("tokenize: --tokenizer F is required");
    int nsrc = arg_flag(&a, "text") + arg_flag(&a, "file") + arg_flag(&a, "ids");
    if (nsrc != 1) die_input("tokenize: give exactly one of --text S, --file F, --ids LIST");
    if (arg_flag(&a, "ids") && !arg_flag(&a, "decode")) die_input("tokenize: --ids needs --decode");
    // tokenizer.bin does not record its size; without --vocab-size the file's own count is used.
    int vocab = arg_int(&a, "vocab-size", 0);
    if (arg_flag(&a, "vocab-size") && vocab <= 0) die_input("--vocab-size: must be a positive integer");

    char path[4096];
    Tokenizer *t = tok_load(resolve_path(tpath, NULL, path, sizeof path), vocab);

    int *ids, n;
    if (arg_flag(&a, "ids")) {
        ids = parse_ids(arg_str(&a, "ids", ""), t, &n);
    } else {
        char *text; size_t len;
        if (arg_flag(&a, "file")) {
            char fpath[4096];
            text = read_file(resolve_path(arg_str(&a, "file", ""), NULL, fpath, sizeof fpath), &len);
        } else {
            text = xstrdup(arg_str(&a, "text", ""));
            len = strlen(text);
        }
        int fl = (arg_flag(&a, "bos") ? TOK_BOS : 0) | (arg_flag(&a, "eos") ? TOK_EOS : 0) |
                 (arg_flag(&a, "no-prefix") ? TOK_NO_PREFIX : 0);
        n = tok_encode(t, text, len, fl, &ids);
        free(text);
    }

    if (arg_flag(&a, "decode")) {
        // Raw bytes, no trailing newline, so a round trip can be compared byte for byte.
        // BOS/EOS are markers, not text: they print nothing but still act as `prev`.
        for (int i = 0; i < n; i++) {
            if (ids[i] == t->bos_id || ids[i] == t->eos_id) continue;
            size_t len;
            const char *p = tok_decode(t, i ? ids[i - 1] : -1, ids[i], &len);
            fwrite(p, 1, len, stdout);
        }
    } else {
        for (int i = 0; i < n; i++) printf(i ? " %d" : "%d", ids[i]);
        putchar('\n');
    }
    free(ids);
    tok_free(t);
    if (fflush(stdout) != 0 || ferror(stdout)) die_internal("tokenize: write error on stdout");
    return 0;
}
