// tok_gguf.c — the tokenizer embedded in a GGUF file (tokenizer.ggml.*), read from the
// container (core/gguf_file.h) by the tokenizer loaders and by the GGUF model reader.
#include "gguf_file.h"
#include "tokenizer.h"
#include "util.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

// tokenizer.ggml.* → a tokenizer (core/tok_bpe.c): model "llama" is SentencePiece BPE by
// scores with byte fallback, "gpt2" byte-level BPE by merges with the pre-tokenizer regex
// named by tokenizer.ggml.pre. Specials are not parsed in text (llama.cpp's parse_special
// off, its tokenizer tests' setting). NULL when the file has no vocabulary, or (strict 0,
// loading a model) one of a kind not implemented here: then --tokenizer is needed.
Tokenizer *tok_from_gguf(const GgufMeta *m, int strict) {
    const GgufKv *toks = gguf_kv(m, "tokenizer.ggml.tokens");
    if (!toks) return NULL;
    if (toks->type != GT_ARRAY || toks->elem_type != GT_STRING || toks->count == 0 || toks->count > (1u << 24))
        die_input("%s: GGUF tokenizer.ggml.tokens is not a non-empty array of strings", m->path);
    int n = (int)toks->count;
    size_t mark = hold_mark(); // everything below is scratch: tok_build copies it
    GgufStr model = gguf_kv_str(m, "tokenizer.ggml.model"), pre = gguf_kv_str(m, "tokenizer.ggml.pre");
    TokSpec s = {0};
    s.n = n;
    if (!model.s || gguf_str_eq(model, "llama")) s.kind = TOKK_SPM;
    else if (gguf_str_eq(model, "gpt2")) s.kind = TOKK_BYTE_BPE;
    else {
        (strict ? die_input : warnf)("%s: GGUF tokenizer.ggml.model '%.*s' is not supported (llama, gpt2)%s", m->path,
                                     (int)(model.n > 40 ? 40 : model.n), model.s, strict ? "" : "; pass --tokenizer");
        return NULL;
    }
    int *lens;
    s.pieces = gguf_kv_strings(m, toks, &lens);
    s.lens = lens;
    const GgufKv *sk = gguf_kv_array(m, "tokenizer.ggml.scores", GT_F32, toks->count);
    float *scores = NULL;
    if (sk) {
        scores = hold(xmalloc((size_t)n * sizeof *scores), free);
        memcpy(scores, m->p + sk->at, (size_t)n * 4);
        for (int i = 0; i < n; i++)
            if (!isfinite(scores[i])) die_input("%s: GGUF tokenizer.ggml.scores[%d] is not finite", m->path, i);
    }
    s.scores = scores;
    const GgufKv *tk = gguf_kv_array(m, "tokenizer.ggml.token_type", GT_I32, toks->count);
    int *types = NULL;
    if (tk) { types = hold(xmalloc((size_t)n * sizeof *types), free); memcpy(types, m->p + tk->at, (size_t)n * 4); }
    s.types = types;
    s.bos = (int)gguf_kv_int(m, "tokenizer.ggml.bos_token_id", s.kind == TOKK_SPM ? 1 : -1, 0);
    s.eos = (int)gguf_kv_int(m, "tokenizer.ggml.eos_token_id", s.kind == TOKK_SPM ? 2 : -1, 0);
    s.unk = (int)gguf_kv_int(m, "tokenizer.ggml.unknown_token_id", s.kind == TOKK_SPM ? 0 : -1, 0);
    if (s.bos >= n || s.eos >= n || s.unk >= n) die_input("%s: GGUF tokenizer bos/eos/unknown id is outside the %d-token vocabulary", m->path, n);
    const GgufKv *sp = gguf_kv(m, "tokenizer.ggml.add_space_prefix");
    s.add_dummy_prefix = sp ? m->p[sp->at] != 0 : s.kind == TOKK_SPM;
    s.byte_fallback = 1;
    const GgufKv *mk = NULL;
    int llama3 = pre.s && (gguf_str_eq(pre, "llama-bpe") || gguf_str_eq(pre, "llama3") || gguf_str_eq(pre, "llama-v3"));
    if (s.kind == TOKK_BYTE_BPE && !llama3 && !(pre.s && gguf_str_eq(pre, "gpt-2"))) {
        (strict ? die_input : warnf)("%s: GGUF tokenizer.ggml.pre '%.*s' is not supported (llama-bpe, llama3, gpt-2)%s", m->path,
                                     pre.s ? (int)(pre.n > 40 ? 40 : pre.n) : 6, pre.s ? pre.s : "absent", strict ? "" : "; pass --tokenizer");
        hold_unwind(mark);
        return NULL;
    }
    if (s.kind == TOKK_BYTE_BPE) {
        mk = gguf_kv_array(m, "tokenizer.ggml.merges", GT_STRING, 0);
        if (!mk) die_input("%s: GGUF gpt2 tokenizer without tokenizer.ggml.merges", m->path);
        s.merges = gguf_kv_strings(m, mk, NULL);
        s.n_merges = (int)mk->count;
        // llama.cpp's pre-tokenizer names: Llama-3's regex (merges ignored for whole-vocab
        // pieces, as llama.cpp does for it), or GPT-2's.
        s.pattern = llama3 ? TOK_PATTERN_LLAMA3 : TOK_PATTERN_GPT2;
        s.ignore_merges = llama3;
    }
    Tokenizer *t = tok_build(m->path, &s);
    hold_unwind(mark);
    return t;
}

Tokenizer *tok_load_gguf(const char *path, const void *buf, size_t len) {
    size_t mark = hold_mark();
    GgufFile g = {.path = path, .buf = buf, .len = len};
    gguf_parse(&g, 0); // metadata only: a vocabulary file may hold no tensors
    Tokenizer *t = tok_from_gguf(&g.m, 1);
    hold_unwind(mark);
    return t;
}
