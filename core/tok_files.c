// tok_files.c — tokenizer files besides llama2.c's tokenizer.bin, read into a TokSpec for
// core/tok_bpe.c: Hugging Face tokenizer.json (BPE: SentencePiece-style with byte
// fallback, or byte-level with a regex pre-tokenizer), SentencePiece tokenizer.model
// (protobuf ModelProto, BPE models), GGUF vocabularies (core/gguf.c), and model directories.
// A setting that would make the ids differ from the reference implementation is refused
// by name.
#include "tokenizer.h"
#include "util.h"
#include <cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>


static void check_vocab(const char *path, Tokenizer *t, int vocab_size) {
    // A model may pad its embedding past the tokenizer; ids beyond it must not exist.
    if (vocab_size > 0 && t->vocab_size > vocab_size)
        die_input("%s: tokenizer has %d tokens but the model's vocabulary is %d", path, t->vocab_size, vocab_size);
}

// ---- tokenizer.json ----
static const char *jtype(const cJSON *o) {
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "type");
    return cJSON_IsString(t) ? t->valuestring : "?";
}
static int jbool(const char *path, const cJSON *o, const char *k, int def) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!v || cJSON_IsNull(v)) return def;
    if (!cJSON_IsBool(v)) die_input("%s: '%s' must be true or false", path, k);
    return cJSON_IsTrue(v);
}
static const char *jstr(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

// The SentencePiece normalizer as HF writes it: Prepend("▁") and Replace(" " → "▁").
static int spm_normalizer(const cJSON *n) {
    int pre = 0, rep = 0;
    const cJSON *list = !strcmp(jtype(n), "Sequence") ? cJSON_GetObjectItemCaseSensitive(n, "normalizers") : NULL;
    const cJSON *one = list ? list->child : n;
    for (; one; one = list ? one->next : NULL) {
        const char *ty = jtype(one);
        const char *pp = jstr(one, "prepend"), *ct = jstr(one, "content");
        const cJSON *pat = cJSON_GetObjectItemCaseSensitive(one, "pattern");
        const char *ps = pat ? jstr(pat, "String") : NULL;
        if (!strcmp(ty, "Prepend") && pp && !strcmp(pp, "\xE2\x96\x81")) pre = 1;
        else if (!strcmp(ty, "Replace") && ps && ct && !strcmp(ps, " ") && !strcmp(ct, "\xE2\x96\x81")) rep = 1;
        else return 0;
        if (!list) break;
    }
    return pre && rep;
}

static int special_id(const char *piece, int n, char **pieces) {
    for (int i = 0; i < n; i++) if (pieces[i] && !strcmp(pieces[i], piece)) return i;
    return -1;
}

// bos/eos from tokenizer_config.json beside the file (string or {"content": ...}).
static const char *config_token(const char *path, const char *key, char *out, size_t n) {
    char cp[1200];
    snprintf(cp, sizeof cp, "%s", path);
    char *sl = strrchr(cp, '/');
    snprintf(sl ? sl + 1 : cp, sizeof cp - (sl ? (size_t)(sl + 1 - cp) : 0), "tokenizer_config.json");
    if (!file_exists(cp)) return NULL;
    size_t len;
    char *text = read_file(cp, &len);
    cJSON *r = cJSON_ParseWithLength(text, len);
    free(text);
    const cJSON *v = r ? cJSON_GetObjectItemCaseSensitive(r, key) : NULL;
    if (cJSON_IsObject(v)) v = cJSON_GetObjectItemCaseSensitive(v, "content");
    const char *res = NULL;
    if (cJSON_IsString(v)) { snprintf(out, n, "%s", v->valuestring); res = out; }
    cJSON_Delete(r);
    return res;
}

// The parsed JSON and the spec's arrays are held (util.h) until tok_build has copied them.
static Tokenizer *load_json(const char *path, const char *text, size_t len) {
    size_t mark = hold_mark();
    cJSON *root = hold(cJSON_ParseWithLength(text, len), json_release);
    if (!cJSON_IsObject(root)) die_input("%s: not a JSON object", path);
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    if (!cJSON_IsObject(model)) die_input("%s: no \"model\" object (not a Hugging Face tokenizer.json)", path);
    if (strcmp(jtype(model), "BPE")) die_input("%s: model.type '%.40s' is not supported (BPE only)", path, jtype(model));
    const cJSON *dr = cJSON_GetObjectItemCaseSensitive(model, "dropout");
    if (dr && !cJSON_IsNull(dr) && !(cJSON_IsNumber(dr) && dr->valuedouble == 0))
        die_input("%s: model.dropout must be null (BPE dropout changes the ids)", path);
    const char *csp = jstr(model, "continuing_subword_prefix"), *eow = jstr(model, "end_of_word_suffix");
    if ((csp && *csp) || (eow && *eow)) die_input("%s: model.continuing_subword_prefix / end_of_word_suffix are not supported", path);
    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(model, "vocab");
    const cJSON *merges = cJSON_GetObjectItemCaseSensitive(model, "merges");
    if (!cJSON_IsObject(vocab) || !cJSON_IsArray(merges)) die_input("%s: model.vocab (object) and model.merges (array) are required", path);
    const cJSON *added = cJSON_GetObjectItemCaseSensitive(root, "added_tokens");
    int n = 0;
    for (const cJSON *e = vocab->child; e; e = e->next) {
        if (!cJSON_IsNumber(e) || e->valuedouble < 0 || e->valuedouble >= 1 << 24) die_input("%s: model.vocab['%.40s'] is not a valid id", path, e->string);
        if (e->valueint + 1 > n) n = e->valueint + 1;
    }
    for (const cJSON *a = cJSON_IsArray(added) ? added->child : NULL; a; a = a->next) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(a, "id");
        if (!cJSON_IsNumber(id) || id->valuedouble < 0 || id->valuedouble >= 1 << 24 || !jstr(a, "content"))
            die_input("%s: added_tokens entry without a valid id and content", path);
        if (id->valueint + 1 > n) n = id->valueint + 1;
    }
    char **pieces = hold(xcalloc((size_t)n + 1, sizeof *pieces), free); // point into root
    int *types = hold(xmalloc(((size_t)n + 1) * sizeof *types), free);
    for (int i = 0; i < n; i++) types[i] = TT_NORMAL;
    for (const cJSON *e = vocab->child; e; e = e->next) {
        if (pieces[e->valueint]) die_input("%s: id %d is used by two vocabulary entries", path, e->valueint);
        pieces[e->valueint] = e->string;
    }
    for (const cJSON *a = cJSON_IsArray(added) ? added->child : NULL; a; a = a->next) {
        int id = cJSON_GetObjectItemCaseSensitive(a, "id")->valueint;
        const char *c = jstr(a, "content");
        static const char *const unsupported[] = {"lstrip", "rstrip", "single_word"};
        for (int k = 0; k < 3; k++)
            if (jbool(path, a, unsupported[k], 0)) die_input("%s: added token '%.40s': %s = true is not supported", path, c, unsupported[k]);
        if (pieces[id] && strcmp(pieces[id], c)) die_input("%s: added token %d '%.40s' differs from vocabulary entry '%.40s'", path, id, c, pieces[id]);
        pieces[id] = (char *)c;
        types[id] = jbool(path, a, "special", 0) ? TT_CONTROL : TT_USER_DEFINED;
    }
    for (int i = 0; i < n; i++) if (!pieces[i]) die_input("%s: id %d has no token (ids must be dense)", path, i);

    TokSpec s = {0};
    s.n = n; s.pieces = pieces; s.types = types; s.bos = s.eos = s.unk = -1;
    s.split_special = 1; // HF matches added tokens in the raw text
    s.byte_fallback = jbool(path, model, "byte_fallback", 0);
    s.ignore_merges = jbool(path, model, "ignore_merges", 0);
    const char *unk = jstr(model, "unk_token");
    if (unk && (s.unk = special_id(unk, n, pieces)) < 0) die_input("%s: model.unk_token '%.40s' is not in the vocabulary", path, unk);
    s.n_merges = cJSON_GetArraySize(merges);
    s.merges = hold(xcalloc((size_t)s.n_merges + 1, sizeof(char *)), strv_free);
    int r = 0;
    for (const cJSON *m = merges->child; m; m = m->next, r++) {
        if (cJSON_IsString(m)) { s.merges[r] = xstrdup(m->valuestring); continue; }
        if (!cJSON_IsArray(m) || cJSON_GetArraySize(m) != 2 || !cJSON_IsString(m->child) || !cJSON_IsString(m->child->next))
            die_input("%s: model.merges[%d] is neither \"a b\" nor [\"a\", \"b\"]", path, r);
        const char *a = m->child->valuestring, *b = m->child->next->valuestring;
        if (strchr(a, ' ') || strchr(b, ' ')) die_input("%s: model.merges[%d] has a piece containing a space (not supported)", path, r);
        s.merges[r] = xmalloc(strlen(a) + strlen(b) + 2);
        sprintf(s.merges[r], "%s %s", a, b);
    }

    const cJSON *norm = cJSON_GetObjectItemCaseSensitive(root, "normalizer");
    const cJSON *pre = cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer");
    if (cJSON_IsNull(norm)) norm = NULL;
    if (cJSON_IsNull(pre)) pre = NULL;
    if (!pre && norm && spm_normalizer(norm)) { // Llama-2 / Mistral
        s.kind = TOKK_SPM;
        s.add_dummy_prefix = 1;
    } else if (!norm && pre) {
        const cJSON *bl = pre, *split = NULL;
        if (!strcmp(jtype(pre), "Sequence")) {
            const cJSON *l = cJSON_GetObjectItemCaseSensitive(pre, "pretokenizers");
            if (cJSON_GetArraySize(l) != 2) die_input("%s: pre_tokenizer Sequence of %d steps is not supported", path, cJSON_GetArraySize(l));
            split = l->child; bl = l->child->next;
            const cJSON *pat = cJSON_GetObjectItemCaseSensitive(split, "pattern");
            const char *beh = jstr(split, "behavior");
            if (strcmp(jtype(split), "Split") || !pat || !jstr(pat, "Regex") || !beh || strcmp(beh, "Isolated") || jbool(path, split, "invert", 0))
                die_input("%s: pre_tokenizer: only Split(Regex, behavior Isolated) before ByteLevel is supported", path);
            s.pattern = jstr(pat, "Regex");
        }
        if (strcmp(jtype(bl), "ByteLevel")) die_input("%s: pre_tokenizer type '%.40s' is not supported (ByteLevel, Split+ByteLevel)", path, jtype(bl));
        int use_regex = jbool(path, bl, "use_regex", 1);
        if (split && use_regex) die_input("%s: pre_tokenizer: ByteLevel.use_regex after a Split is not supported", path);
        if (!split) {
            if (!use_regex) die_input("%s: pre_tokenizer ByteLevel without a regex split is not supported", path);
            s.pattern = TOK_PATTERN_GPT2;
        }
        s.kind = TOKK_BYTE_BPE;
        s.add_prefix_space = jbool(path, bl, "add_prefix_space", 0);
    } else if (norm) die_input("%s: normalizer type '%.40s' is not supported", path, jtype(norm));
    else die_input("%s: neither a SentencePiece normalizer nor a ByteLevel pre_tokenizer: not a supported tokenizer", path);

    char bb[256], eb[256];
    const char *bos = config_token(path, "bos_token", bb, sizeof bb), *eos = config_token(path, "eos_token", eb, sizeof eb);
    if (!bos) bos = s.kind == TOKK_SPM ? "<s>" : "<|begin_of_text|>";
    if (!eos) eos = s.kind == TOKK_SPM ? "</s>" : "<|end_of_text|>";
    s.bos = special_id(bos, n, pieces);
    s.eos = special_id(eos, n, pieces);
    Tokenizer *t = tok_build(path, &s);
    hold_unwind(mark);
    return t;
}

// ---- tokenizer.model (SentencePiece ModelProto) ----
typedef struct { const char *path; const unsigned char *p; size_t len, off; } Pb;

static uint64_t varint(Pb *b) {
    uint64_t v = 0;
    for (int s = 0; s < 64; s += 7) {
        if (b->off >= b->len) die_input("%s: truncated protobuf varint at byte %zu", b->path, b->off);
        unsigned char c = b->p[b->off++];
        v |= (uint64_t)(c & 127) << s;
        if (!(c & 128)) return v;
    }
    die_input("%s: malformed protobuf varint at byte %zu", b->path, b->off);
}
// Reads one field header; returns the field number, its wire type in *wt, and for
// length-delimited fields a sub-reader in *sub (else skips nothing: caller reads the value).
static int field(Pb *b, int *wt) {
    uint64_t k = varint(b);
    *wt = (int)(k & 7);
    if (k >> 3 == 0 || k >> 3 > 1u << 29) die_input("%s: malformed protobuf field at byte %zu", b->path, b->off);
    return (int)(k >> 3);
}
static Pb sub(Pb *b) {
    uint64_t n = varint(b);
    if (n > b->len - b->off) die_input("%s: truncated: protobuf field of %llu bytes at byte %zu runs past the end", b->path, (unsigned long long)n, b->off);
    Pb s = {b->path, b->p + b->off, (size_t)n, 0};
    b->off += (size_t)n;
    return s;
}
static uint32_t fixed32(Pb *b) {
    if (b->len - b->off < 4) die_input("%s: truncated protobuf fixed32 at byte %zu", b->path, b->off);
    uint32_t v; memcpy(&v, b->p + b->off, 4); b->off += 4; return v;
}
static void skip(Pb *b, int wt) {
    if (wt == 0) varint(b);
    else if (wt == 1) { if (b->len - b->off < 8) die_input("%s: truncated protobuf at byte %zu", b->path, b->off); b->off += 8; }
    else if (wt == 2) sub(b);
    else if (wt == 5) fixed32(b);
    else die_input("%s: unsupported protobuf wire type %d at byte %zu", b->path, wt, b->off);
}

static Tokenizer *load_spm(const char *path, const unsigned char *p, size_t len) {
    Pb b = {path, p, len, 0};
    int cap = 1024, n = 0, wt;
    size_t mark = hold_mark(); // the spec's arrays, until tok_build has copied them
    char **pieces = hold(xmalloc((size_t)cap * sizeof *pieces), free); // point into p
    int *lens = hold(xmalloc((size_t)cap * sizeof *lens), free), *types = hold(xmalloc((size_t)cap * sizeof *types), free);
    float *scores = hold(xmalloc((size_t)cap * sizeof *scores), free);
    int model_type = 1, byte_fallback = 0, unk = 0, bos = 1, eos = 2, dummy = 1, extra_ws = 1, escape = 1, ws_suffix = 0;
    size_t charsmap = 0;
    char norm_name[64] = "";
    while (b.off < b.len) {
        int f = field(&b, &wt);
        if (f == 1 && wt == 2) { // SentencePiece piece
            Pb s = sub(&b);
            if (n == cap) { cap *= 2; pieces = hold_realloc(pieces, cap * sizeof *pieces); lens = hold_realloc(lens, cap * sizeof *lens);
                            types = hold_realloc(types, cap * sizeof *types); scores = hold_realloc(scores, cap * sizeof *scores); }
            pieces[n] = NULL; lens[n] = 0; scores[n] = 0; types[n] = TT_NORMAL;
            while (s.off < s.len) {
                int g = field(&s, &wt);
                if (g == 1 && wt == 2) { Pb v = sub(&s); pieces[n] = (char *)v.p; lens[n] = (int)v.len; }
                else if (g == 2 && wt == 5) { uint32_t x = fixed32(&s); memcpy(&scores[n], &x, 4); }
                else if (g == 3 && wt == 0) types[n] = (int)varint(&s);
                else skip(&s, wt);
            }
            if (!pieces[n]) die_input("%s: piece %d has no text", path, n);
            n++;
        } else if ((f == 2 || f == 3) && wt == 2) { // TrainerSpec, NormalizerSpec
            Pb s = sub(&b);
            while (s.off < s.len) {
                int g = field(&s, &wt);
                if (f == 2 && wt == 0 && (g == 3 || g == 24 || g == 35 || (g >= 40 && g <= 42))) {
                    int v = (int)(int64_t)varint(&s);
                    if (g == 3) model_type = v; else if (g == 24) ws_suffix = v; else if (g == 35) byte_fallback = v;
                    else if (g == 40) unk = v; else if (g == 41) bos = v; else eos = v;
                } else if (f == 3 && g == 1 && wt == 2) { Pb v = sub(&s); snprintf(norm_name, sizeof norm_name, "%.*s", (int)v.len, (const char *)v.p); }
                else if (f == 3 && g == 2 && wt == 2) charsmap = sub(&s).len;
                else if (f == 3 && wt == 0 && g >= 3 && g <= 5) {
                    int v = (int)varint(&s);
                    if (g == 3) dummy = v; else if (g == 4) extra_ws = v; else escape = v;
                } else skip(&s, wt);
            }
        } else skip(&b, wt);
    }
    if (n == 0) die_input("%s: no pieces: not a SentencePiece model", path);
    if (model_type != 2)
        die_input("%s: SentencePiece model_type %s is not supported (BPE only)", path,
                  model_type == 1 ? "unigram" : model_type == 3 ? "word" : model_type == 4 ? "char" : "unknown");
    if (charsmap) die_input("%s: SentencePiece normalizer '%s' rewrites text (precompiled_charsmap); only identity is supported", path, norm_name);
    if (!escape || ws_suffix) die_input("%s: SentencePiece escape_whitespaces off / treat_whitespace_as_suffix are not supported", path);
    TokSpec s = {0};
    s.kind = TOKK_SPM; s.n = n; s.pieces = pieces; s.lens = lens; s.scores = scores; s.types = types;
    s.bos = bos < n ? bos : -1; s.eos = eos < n ? eos : -1; s.unk = unk >= 0 && unk < n ? unk : -1;
    s.byte_fallback = byte_fallback; s.add_dummy_prefix = dummy; s.remove_extra_ws = extra_ws;
    Tokenizer *t = tok_build(path, &s);
    hold_unwind(mark);
    return t;
}

// ---- dispatch ----
static int is_dir(const char *path) { struct stat st; return stat(path, &st) == 0 && S_ISDIR(st.st_mode); }

Tokenizer *tok_load_dir(const char *dir, int vocab_size) {
    static const char *const names[] = {"tokenizer.json", "tokenizer.model"};
    for (int i = 0; i < 2; i++) {
        char p[1200];
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        if (file_exists(p)) {
            Tokenizer *t = tok_load_other(p, vocab_size);
            if (!t) die_input("%s: not a tokenizer.json / SentencePiece model", p);
            return t;
        }
    }
    return NULL;
}

Tokenizer *tok_load_other(const char *path, int vocab_size) {
    if (is_dir(path)) {
        Tokenizer *t = tok_load_dir(path, vocab_size);
        if (!t) die_input("%s: directory holds no tokenizer.json or tokenizer.model", path);
        return t;
    }
    FILE *f = fopen(path, "rb");
    if (!f) return NULL; // tok_load reports it
    unsigned char h[8] = {0};
    size_t got = fread(h, 1, sizeof h, f);
    fclose(f);
    size_t k = 0;
    while (k < got && (h[k] == ' ' || h[k] == '\n' || h[k] == '\r' || h[k] == '\t')) k++;
    int gguf = got >= 4 && !memcmp(h, "GGUF", 4);
    // A llama2.c tokenizer.bin starts with a small u32 (max_token_length): its upper bytes
    // are zero, which neither JSON text nor a protobuf piece record has.
    int json = k < got && h[k] == '{' && got >= 4 && (h[1] | h[2] | h[3]);
    int spm = got >= 4 && h[0] == 0x0a && (h[1] | h[2] | h[3]);
    if (!gguf && !json && !spm) return NULL;
    size_t len, mark = hold_mark();
    char *buf = hold(read_file(path, &len), free);
    Tokenizer *t;
    if (gguf) {
        t = tok_load_gguf(path, buf, len);
        if (!t) die_input("%s: GGUF file has no embedded tokenizer", path);
    } else if (json) t = load_json(path, buf, len);
    else t = load_spm(path, (const unsigned char *)buf, len);
    hold(t, tok_release);
    check_vocab(path, t, vocab_size);
    hold_drop(t);
    hold_unwind(mark); // the file buffer
    return t;
}
