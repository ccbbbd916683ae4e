// test_traindocs.c — training documents from several files (core/traindocs.c).
//   test_traindocs                     self-test: document splitting per format, corrupted
//                                      files (one die_input line each, exit 2; the suite
//                                      runs this under ASan too), one text file = the old stream
//   test_traindocs assemble VAL F:FMT[:KEY]...   driver for tests/test_traindocs.py: prints
//                                      "docs N removed K" and the joined text's bytes to
//                                      the file named by $OUT
#include "config.h"
#include "data.h"
#include "testlib.h"
#include "traindocs.h"
#include "util.h"
#include <stdlib.h>
#include <string.h>

typedef struct { char docs[16][64]; int n; } Got;
static void collect(void *ctx, const char *doc, size_t len) {
    Got *g = ctx;
    if (g->n < 16) snprintf(g->docs[g->n], sizeof g->docs[0], "%.*s", (int)len, doc);
    g->n++;
}
static int same(const Got *g, const char *const *want, int n) {
    if (g->n != n) return 0;
    for (int i = 0; i < n; i++) if (strcmp(g->docs[i], want[i])) return 0;
    return 1;
}

typedef struct { const char *body; int fmt; const char *key; } Bad;
static char g_dir[256];
static void parse_file(void *arg) {
    const Bad *b = arg;
    char p[300];
    snprintf(p, sizeof p, "%s/bad.data", g_dir);
    write_file_atomic(p, b->body, strlen(b->body));
    TrainFile f = {p, b->fmt, b->key};
    TrainText t;
    traindocs_assemble(&f, 1, NULL, &t);
    free(t.text);
}

static int drive_assemble(int argc, char **argv) {
    int n = argc - 3;
    TrainFile *f = xcalloc((size_t)n, sizeof *f);
    for (int i = 0; i < n; i++) {
        char *s = xstrdup(argv[3 + i]), *c1 = strchr(s, ':');
        f[i].path = s;
        f[i].format = DOC_TEXT;
        if (c1) {
            *c1 = 0;
            char *c2 = strchr(c1 + 1, ':');
            if (c2) { *c2 = 0; f[i].text_key = c2 + 1; }
            for (int k = 0; DOC_FORMAT_NAMES[k]; k++) if (!strcmp(c1 + 1, DOC_FORMAT_NAMES[k])) f[i].format = k;
        }
    }
    TrainText t;
    traindocs_assemble(f, n, *argv[2] ? argv[2] : NULL, &t);
    printf("docs %ld removed %ld\n", t.docs, t.removed);
    if (getenv("OUT")) write_file_atomic(getenv("OUT"), t.text, t.len);
    free(t.text);
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 4 && !strcmp(argv[1], "assemble")) return drive_assemble(argc, argv);
    snprintf(g_dir, sizeof g_dir, "/tmp/test_traindocs_%d", (int)getpid());
    mkdir_p(g_dir);

    // Splitting, per format.
    Got g = {0};
    const char text[] = "One day.\nA cat.\n\nTwo\n<|endoftext|>\nThree\n  \t\n\n \n<|endoftext|>  \nFour";
    docs_parse("t", text, strlen(text), DOC_TEXT, NULL, collect, &g);
    const char *const wt[] = {"One day.\nA cat.\n", "Two\n", "Three\n", "Four"};
    CHECK(same(&g, wt, 4), "text: documents end at blank lines and <|endoftext|> lines (the marker dropped)", "%d docs", g.n);
    memset(&g, 0, sizeof g);
    const char jl[] = "{\"text\": \"a\\nb\", \"id\": 1}\n\n  \n{\"id\": 2, \"text\": \"caf\\u00e9\"}";
    docs_parse("t.jsonl", jl, strlen(jl), DOC_JSONL, "text", collect, &g);
    const char *const wj[] = {"a\nb", "caf\xc3\xa9"};
    CHECK(same(&g, wj, 2), "jsonl: the text_key string of each line (escapes decoded, blank lines skipped)", "%d docs", g.n);
    memset(&g, 0, sizeof g);
    const char js1[] = "[\"x\", \"y z\"]", js2[] = "{\"texts\": [\"p\", \"q\", \"r\"], \"n\": 3}";
    docs_parse("t.json", js1, strlen(js1), DOC_JSON, "text", collect, &g);
    const char *const wl[] = {"x", "y z"};
    int ok = same(&g, wl, 2);
    memset(&g, 0, sizeof g);
    docs_parse("t.json", js2, strlen(js2), DOC_JSON, "texts", collect, &g);
    const char *const wo[] = {"p", "q", "r"};
    CHECK(ok && same(&g, wo, 3), "json: a list of strings, or an object holding one under text_key", "%d docs", g.n);
    CHECK(doc_format_of_path("a/b.jsonl") == DOC_JSONL && doc_format_of_path("b.json") == DOC_JSON &&
          doc_format_of_path("c.txt") == DOC_TEXT && doc_format_of_path("json") == DOC_TEXT,
          "format from the extension", "%s", "");

    // Corrupted files: exit 2, one line naming the file and the problem.
    const Bad bad[] = {
        {"{\"text\": \"ok\"}\n{\"text\": \"cut", DOC_JSONL, "text"},          // truncated line
        {"{\"text\": \"ok\"}\n{\"text\": 5}\n", DOC_JSONL, "text"},           // wrong type
        {"{\"text\": \"ok\"}\n{\"story\": \"x\"}\n", DOC_JSONL, "text"},      // missing key
        {"[\"a\"]\n", DOC_JSONL, "text"},                                      // not an object
        {"{\"text\": \"a\"} {\"text\": \"b\"}\n", DOC_JSONL, "text"},          // two values on a line
        {"{\"text\": \"bad \xff byte\"}\n", DOC_JSONL, "text"},               // invalid UTF-8 in a string
        {"[\"a\", \"b\"", DOC_JSON, "text"},                                   // truncated JSON
        {"[\"a\", 3]", DOC_JSON, "text"},                                      // wrong element type
        {"{\"texts\": [\"a\"]}", DOC_JSON, "text"},                            // missing key
        {"{\"text\": \"a\"}", DOC_JSON, "text"},                               // key not a list
        {"[\"a\"] x", DOC_JSON, "text"},                                       // trailing bytes
        {"[\"\xc3\x28\"]", DOC_JSON, "text"},                                  // invalid UTF-8
        {"good\n\nbad \xe2\x82 text\n", DOC_TEXT, NULL},                       // invalid UTF-8 in text
    };
    const char *want[] = {"line 2: invalid JSON", "line 2: \"text\" is not a string", "line 2: no \"text\" key",
                          "line 1: expected a JSON object", "line 1: more after the JSON value",
                          "line 1: \"text\" is not valid UTF-8", "invalid JSON near byte", "element 1: not a string",
                          "has no \"text\" key", "expected a JSON list of strings", "more after the JSON value",
                          "element 0: \"text\" is not valid UTF-8", "invalid UTF-8 at byte 10"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char err[2048];
        int st = t_in_child(parse_file, (void *)&bad[i], err, sizeof err);
        char *nl = strchr(err, '\n');
        int one_line = nl && !nl[1];
        char nm[160];
        snprintf(nm, sizeof nm, "corrupted file %zu: exit 2, one line naming the file: %s", i, want[i]);
        CHECK(st == 2 && one_line && strstr(err, "bad.data") && strstr(err, want[i]), nm, "status %d: %s", st, err);
    }

    // Contamination: a document sharing a long paragraph with the validation text goes; a
    // shared short (generic) line keeps it.
    char vp[300], tp[300];
    snprintf(vp, sizeof vp, "%s/val.txt", g_dir);
    snprintf(tp, sizeof tp, "%s/train.jsonl", g_dir);
    const char *val = "The end.\n\nOnce upon a time there was a girl who liked   to walk in the park every single day.\n";
    const char *tr = "{\"text\": \"Hello.\\nThe end.\"}\n"
                     "{\"text\": \"Start.\\nOnce upon a time there was a girl who liked to walk in the park every single day.\"}\n"
                     "{\"text\": \"Other story.\"}\n";
    write_file_atomic(vp, val, strlen(val));
    write_file_atomic(tp, tr, strlen(tr));
    TrainFile tf = {tp, DOC_JSONL, "text"};
    TrainText tt;
    traindocs_assemble(&tf, 1, vp, &tt);
    CHECK(tt.docs == 3 && tt.removed == 1 && !strcmp(tt.text, "Hello.\nThe end.\n\nOther story."),
          "contamination: the document with a validation paragraph (whitespace aside) is removed, a shared 'The end.' is not",
          "docs %ld removed %ld text '%s'", tt.docs, tt.removed, tt.text);
    free(tt.text);

    // One text file: the same stream (and token cache) as data_text, whatever else is configured.
    char tokp[4096], txtp[4096], valp[4096], cfgp[300];
    snprintf(tokp, sizeof tokp, "%s/models/stories260K/tok512.bin", data_root());
    snprintf(txtp, sizeof txtp, "%s/tinystories/tinystories_train_excerpt.txt", data_root());
    snprintf(valp, sizeof valp, "%s/tinystories/tinystories_valid_excerpt.txt", data_root());
    snprintf(cfgp, sizeof cfgp, "%s/c.yaml", g_dir);
    FILE *f = fopen(cfgp, "w");
    fprintf(f, "model: %s/models/stories260K/stories260K.bin\ntokenizer: %s\ndata: {train: %s, val: %s}\nmethod: {name: none}\n",
            data_root(), tokp, txtp, valp);
    fclose(f);
    RunConfig *c = run_config_load(cfgp, NULL, 0);
    Tokenizer *tok = tok_load(tokp, 512);
    Dataset *a = data_text(tok, txtp), *b = data_load(c, tok, 32, SPLIT_TRAIN);
    CHECK(a->ntok == b->ntok && !memcmp(a->stream, b->stream, (size_t)a->ntok * sizeof(int)) && b->docs_removed == 0 &&
          b->docs > 1000 && !b->sha256[0],
          "one text file: the same token stream as before (no document removed)", "ntok %ld vs %ld, removed %ld, docs %ld",
          a->ntok, b->ntok, b->docs_removed, b->docs);
    char *dump = run_config_dump(c);
    CHECK(!strstr(dump, "text_key") && strstr(dump, "train: ") && !strstr(dump, "path:"),
          "one text file: the resolved config as before (no list, no text_key)", "%s", dump);
    free(dump);
    data_free(a); data_free(b);
    run_config_free(c);
    tok_free(tok);
    char rm[300];
    snprintf(rm, sizeof rm, "rm -rf '%s'", g_dir);
    if (system(rm)) {}
    T_EXIT();
}
