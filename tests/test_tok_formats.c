// test_tok_formats.c — the tokenizer kinds of core/tok_bpe.c and core/tok_files.c.
//
// Default mode (the suite, normal and ASan builds): damaged and unsupported tokenizer.json /
// tokenizer.model / GGUF vocabularies end in exit 2 with one line naming the file; decode
// inverts encode on the real Llama-2, Mistral and Llama-3 tokenizers.
// `encode TOKENIZER IN OUT [bos]`: the oracle side of tests/test_tok_formats.py. IN holds
// u32 count, then per text u32 length + bytes; OUT gets one line of ids per text.
#include "testlib.h"
#include "tokenizer.h"
#include "util.h"
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int encode_mode(int argc, char **argv) {
    if (argc < 5) { fprintf(stderr, "usage: %s encode TOKENIZER IN OUT [bos]\n", argv[0]); return 2; }
    Tokenizer *t = tok_load(argv[2], 0);
    int flags = argc > 5 && !strcmp(argv[5], "bos") ? TOK_BOS : 0;
    size_t len;
    char *in = read_file(argv[3], &len);
    FILE *o = fopen(argv[4], "w");
    if (!o) die_input("%s: cannot write", argv[4]);
    uint32_t n, l;
    size_t off = 4;
    memcpy(&n, in, 4);
    for (uint32_t i = 0; i < n; i++) {
        memcpy(&l, in + off, 4);
        off += 4;
        int *ids, k = tok_encode(t, in + off, l, flags, &ids);
        for (int j = 0; j < k; j++) fprintf(o, j ? " %d" : "%d", ids[j]);
        fputc('\n', o);
        free(ids);
        off += l;
    }
    fclose(o);
    free(in);
    tok_free(t);
    return 0;
}

static char tmp[256];

// tok_load(path) in a child: exit status, stderr in err.
static void load_tok(void *path) { tok_free(tok_load(path, 0)); }
static int load_child(const char *path, char *err, size_t errsz) {
    return t_in_child(load_tok, (void *)path, err, errsz);
}

static void bad(const char *name, const char *file, const void *data, size_t n, const char *expect) {
    char path[512], err[2048];
    snprintf(path, sizeof path, "%s/%s", tmp, file);
    FILE *f = fopen(path, "wb");
    fwrite(data, 1, n, f);
    fclose(f);
    int rc = load_child(path, err, sizeof err);
    char *nl = strchr(err, '\n');
    int one_line = nl && !nl[1];
    CHECK(rc == 2 && one_line && strstr(err, path) && strstr(err, expect), name, "rc %d, stderr: %s", rc, err);
}

static const char *json_of(const char *model, const char *norm, const char *pre) {
    static char buf[4096];
    snprintf(buf, sizeof buf,
             "{\"added_tokens\": [], \"normalizer\": %s, \"pre_tokenizer\": %s, \"model\": %s}", norm, pre, model);
    return buf;
}

static void round_trip(const char *label, const char *path) {
    Tokenizer *t = tok_load(path, 0);
    const char *text = "Once upon a time,  there was a llama 🦙 named Ünïcode.\n\tIt said \"héllo\" 12345 times!";
    int *ids, n = tok_encode(t, text, strlen(text), TOK_BOS, &ids);
    char out[1024];
    size_t o = 0;
    for (int i = 1; i < n; i++) { size_t l; const char *p = tok_decode(t, ids[i - 1], ids[i], &l); memcpy(out + o, p, l); o += l; }
    out[o] = 0;
    CHECK(ids[0] == t->bos_id && !strcmp(out, text), label, "decoded '%s'", out);
    free(ids);
    tok_free(t);
}

int main(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "encode")) return encode_mode(argc, argv);
    snprintf(tmp, sizeof tmp, "/tmp/l4q_tok_formats_%d", (int)getpid());
    mkdir_p(tmp);
    const char *ok_model = "{\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1, \"ab\": 2}, \"merges\": [\"a b\"]}";
    const char *bl = "{\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"use_regex\": true}";
    const char *j;
    j = json_of("{\"type\": \"Unigram\", \"vocab\": []}", "null", bl);
    bad("tokenizer.json: Unigram model refused", "uni.json", j, strlen(j), "model.type 'Unigram' is not supported");
    j = json_of("{\"type\": \"WordPiece\", \"vocab\": {}}", "null", bl);
    bad("tokenizer.json: WordPiece model refused", "wp.json", j, strlen(j), "model.type 'WordPiece'");
    j = json_of(ok_model, "{\"type\": \"NFKC\"}", "null");
    bad("tokenizer.json: NFKC normalizer refused", "nfkc.json", j, strlen(j), "normalizer type 'NFKC'");
    j = json_of(ok_model, "null", "{\"type\": \"Whitespace\"}");
    bad("tokenizer.json: Whitespace pre-tokenizer refused", "ws.json", j, strlen(j), "pre_tokenizer type 'Whitespace'");
    j = json_of("{\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1}, \"merges\": [\"a b\"]}", "null", bl);
    bad("tokenizer.json: merge naming a missing piece", "merge.json", j, strlen(j), "not in the vocabulary");
    j = json_of("{\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 2}, \"merges\": []}", "null", bl);
    bad("tokenizer.json: ids with a hole", "hole.json", j, strlen(j), "id 1 has no token");
    j = json_of("{\"type\": \"BPE\", \"dropout\": 0.1, \"vocab\": {\"a\": 0}, \"merges\": []}", "null", bl);
    bad("tokenizer.json: BPE dropout refused", "drop.json", j, strlen(j), "dropout");
    j = "{\"added_tokens\": [], \"normalizer\": null, \"pre_tokenizer\": {\"type\": \"Sequence\", \"pretokenizers\": ["
        "{\"type\": \"Split\", \"pattern\": {\"Regex\": \"(unclosed\"}, \"behavior\": \"Isolated\", \"invert\": false},"
        "{\"type\": \"ByteLevel\", \"use_regex\": false}]}, \"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}}";
    bad("tokenizer.json: broken pre-tokenizer regex", "re.json", j, strlen(j), "pre-tokenizer regex");
    // A piece spelled like a byte with a sign ("<0x-8>") is an ordinary piece (sscanf's %x
    // once read it as byte -8 and wrote outside the byte table: found by fuzz_tokenizer).
    j = "{\"added_tokens\": [], \"pre_tokenizer\": null, \"normalizer\": {\"type\": \"Sequence\", \"normalizers\": ["
        "{\"type\": \"Prepend\", \"prepend\": \"\xe2\x96\x81\"}, {\"type\": \"Replace\", \"pattern\": {\"String\": \" \"}, "
        "\"content\": \"\xe2\x96\x81\"}]}, \"model\": {\"type\": \"BPE\", \"byte_fallback\": true, "
        "\"vocab\": {\"<unk>\": 0, \"a\": 1, \"<0x-8>\": 2, \"<0x41>\": 3}, \"merges\": []}}";
    {
        char sp[512];
        snprintf(sp, sizeof sp, "%s/signed.json", tmp);
        FILE *f = fopen(sp, "w");
        fputs(j, f);
        fclose(f);
        char err[2048];
        int rc = load_child(sp, err, sizeof err);
        CHECK(rc == 0, "tokenizer.json: '<0x-8>' loads as an ordinary piece (no write outside the byte table)",
              "rc %d: %s", rc, err);
    }
    j = "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0,";
    bad("tokenizer.json: truncated", "trunc.json", j, strlen(j), "not a JSON object");
    // SentencePiece protobuf: a piece record, then damage.
    const unsigned char pb_trunc[] = {0x0a, 0x20, 0x0a, 0x03, 'a', 'b'};
    bad("tokenizer.model: truncated protobuf", "trunc.model", pb_trunc, sizeof pb_trunc, "runs past the end");
    // pieces "<unk>" and "a", trainer_spec model_type = 1 (unigram)
    const unsigned char pb_uni[] = {0x0a, 0x07, 0x0a, 0x05, '<', 'u', 'n', 'k', '>', 0x0a, 0x03, 0x0a, 0x01, 'a', 0x12, 0x02, 0x18, 0x01};
    bad("tokenizer.model: unigram refused", "uni.model", pb_uni, sizeof pb_uni, "model_type unigram is not supported");
    const unsigned char pb_nfkc[] = {0x0a, 0x03, 0x0a, 0x01, 'a', 0x12, 0x02, 0x18, 0x02, 0x1a, 0x09, 0x0a, 0x04, 'n', 'f', 'k', 'c', 0x12, 0x01, 0x00};
    bad("tokenizer.model: NFKC charsmap refused", "nfkc.model", pb_nfkc, sizeof pb_nfkc, "normalizer 'nfkc'");
    const unsigned char pb_varint[] = {0x0a, 0x05, 0x0a, 0x01, 'a', 0x18, 0xff};
    bad("tokenizer.model: malformed varint", "varint.model", pb_varint, sizeof pb_varint, "varint");
    // GGUF: no tensors, a tokenizer model this harness does not implement.
    unsigned char g[256];
    size_t o = 0;
#define PUT(p, n) (memcpy(g + o, p, n), o += n)
    uint32_t u; uint64_t q;
    PUT("GGUF", 4); u = 3; PUT(&u, 4); q = 0; PUT(&q, 8); q = 2; PUT(&q, 8);
    q = 20; PUT(&q, 8); PUT("tokenizer.ggml.model", 20); u = 8; PUT(&u, 4); q = 4; PUT(&q, 8); PUT("bert", 4);
    q = 21; PUT(&q, 8); PUT("tokenizer.ggml.tokens", 21); u = 9; PUT(&u, 4); u = 8; PUT(&u, 4); q = 1; PUT(&q, 8);
    q = 1; PUT(&q, 8); PUT("a", 1);
    bad("GGUF: tokenizer model bert refused", "bert.gguf", g, o, "tokenizer.ggml.model 'bert' is not supported");
    bad("GGUF: truncated vocabulary", "trunc.gguf", g, o - 3, "truncated");
    o = 0;
    PUT("GGUF", 4); u = 3; PUT(&u, 4); q = 0; PUT(&q, 8); q = 0; PUT(&q, 8);
    bad("GGUF: no tokenizer", "empty.gguf", g, o, "no embedded tokenizer");
#undef PUT

    // Real tokenizers: decode ∘ encode = identity (after BOS, the dummy prefix removed).
    char p[1024];
    const char *d = data_root();
    snprintf(p, sizeof p, "%s/tokenizers/llama2_tokenizer.model", d);
    round_trip("llama-2 tokenizer.model: decode(encode(text)) = text", p);
    snprintf(p, sizeof p, "%s/tokenizers/mistral-7b-v0.1/tokenizer.json", d);
    round_trip("mistral tokenizer.json: decode(encode(text)) = text", p);
    snprintf(p, sizeof p, "%s/tokenizers/llama3/tokenizer.json", d);
    round_trip("llama-3 tokenizer.json: decode(encode(text)) = text", p);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
    if (system(cmd)) fprintf(stderr, "could not remove %s\n", tmp);
    T_EXIT();
}
