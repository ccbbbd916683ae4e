// tokenizer.h — llama2.c BPE tokenizer (docs/design.md "Model and tokenizer"): tokenizer.bin
// reader, O(n log n) encode producing exactly llama2.c's ids, streaming decode. The other
// tokenizer kinds (SentencePiece BPE, Hugging Face tokenizer.json, GGUF vocabularies;
// core/tok_bpe.c, core/tok_files.c) share this struct and API: tok_load recognises their files.
#pragma once
#include <stddef.h>

enum { TOK_BOS_ID = 1, TOK_EOS_ID = 2 };
enum { TOK_BOS = 1, TOK_EOS = 2, TOK_NO_PREFIX = 4 }; // encode flags; dummy " " prefix on by default

typedef struct Tokenizer {
    int vocab_size, max_token_length;
    char **vocab;       // piece bytes (NUL-terminated copy), spaces not "▁"
    int *lens;          // piece byte lengths
    float *scores;
    void *index;        // lookup structure (implementation-private)
    char *src;          // the file it came from, for error messages (owned; loaders set it)
    unsigned char byte_pieces[512];
    struct TokBpe *bpe; // the other kinds' encoder (core/tok_bpe.c); NULL for llama2.c's
    int bos_id, eos_id; // 1 and 2 for llama2.c
} Tokenizer;

// Reads llama2.c tokenizer.bin — or, recognised by content, a tokenizer.json,
// tokenizer.model, GGUF file or a directory holding one (tok_load_other). vocab_size comes from the model; a file with a different
// number of tokens (or truncated/corrupt) → die_input naming the file and the mismatch.
// vocab_size <= 0: no model to check against; the file's own token count is used.
Tokenizer *tok_load(const char *path, int vocab_size);
// From in-memory pieces (GGUF): pieces already with "▁" turned into " " by the caller.
Tokenizer *tok_from_pieces(int n, char **pieces, const int *lens, const float *scores);
void tok_set_source(Tokenizer *t, const char *path); // names the file in later errors
const char *tok_source(const Tokenizer *t);          // that file, or "tokenizer"
void tok_free(Tokenizer *t);
void tok_release(void *t); // tok_free for hold() (util.h)
// Encode len bytes of text. Returns the number of ids; *out is malloc'd (caller frees).
int tok_encode(const Tokenizer *t, const char *text, size_t len, int flags, int **out);
// Bytes of `token` as printed after `prev` (strips the space after BOS, maps <0xXX>).
const char *tok_decode(const Tokenizer *t, int prev, int token, size_t *len);
int tok_lookup(const Tokenizer *t, const char *piece, size_t len); // id or −1

// ---- the other kinds (core/tok_bpe.c, core/tok_files.c) ----
// Token types, SentencePiece's and GGUF's numbering.
enum { TT_NORMAL = 1, TT_UNKNOWN, TT_CONTROL, TT_USER_DEFINED, TT_UNUSED, TT_BYTE };
enum { TOKK_SPM = 1, TOKK_BYTE_BPE };
// What a file says about its tokenizer; tok_build copies what it needs.
typedef struct {
    int kind;             // TOKK_SPM: text chars, "▁" for spaces, byte fallback <0xXX>;
                          // TOKK_BYTE_BPE: GPT-2 byte-to-char mapping after a regex split
    int n;                // vocabulary size; ids 0..n-1
    char **pieces;        // model-form piece bytes ("▁", "Ġ" kept), n entries
    const int *lens;      // their lengths (NULL: strlen)
    const float *scores;  // SentencePiece merge scores (used when merges == NULL)
    const int *types;     // TT_* per id (NULL: all normal)
    char **merges;        // "left right" pairs by rank, or NULL (merge by score)
    int n_merges;
    int bos, eos, unk;    // ids or −1
    int byte_fallback;    // SPM: unknown chars become <0xXX> tokens
    int add_dummy_prefix, remove_extra_ws; // SentencePiece normalizer flags
    int split_special;    // control/user-defined pieces are matched in raw text (HF added tokens)
    int ignore_merges;    // a pre-token found whole in the vocabulary is one token (HF, tiktoken)
    int add_prefix_space; // byte-level: a space before text that does not start with one
    const char *pattern;  // byte-level pre-tokenizer regex (PCRE2 syntax, split "Isolated")
} TokSpec;
Tokenizer *tok_build(const char *path, const TokSpec *s); // bad spec → die_input naming path
extern const char TOK_PATTERN_GPT2[], TOK_PATTERN_LLAMA3[]; // pre-tokenizer regexes
// tokenizer.json, tokenizer.model, GGUF, or a directory holding tokenizer.json or
// tokenizer.model; NULL when path is none of those (a llama2.c tokenizer.bin).
Tokenizer *tok_load_other(const char *path, int vocab_size);
// The tokenizer of a model directory (tokenizer.json, else tokenizer.model), or NULL.
Tokenizer *tok_load_dir(const char *dir, int vocab_size);
// GGUF: the embedded tokenizer of a GGUF file held in buf (core/tok_gguf.c); NULL if none.
Tokenizer *tok_load_gguf(const char *path, const void *buf, size_t len);
// The tokenizer of parsed GGUF metadata (core/gguf_file.h; the model reader's too): NULL when
// it has none, or (strict 0, loading a model) one of a kind not implemented here, with a warning.
struct GgufMeta;
Tokenizer *tok_from_gguf(const struct GgufMeta *m, int strict);
// Encoder/decoder of the other kinds (called through tok_encode/tok_decode/tok_free).
int bpe_encode(const Tokenizer *t, const char *text, size_t len, int flags, int **out);
const char *bpe_decode(const Tokenizer *t, int prev, int token, size_t *len);
void bpe_free(struct TokBpe *b);
// Whether t can be stored as the pieces + scores list of l4qz/GGUF exports (read back as a
// llama2.c-style tokenizer): merging by scores (not byte-level, not HF merge ranks), and
// exactly the model's vocab_size pieces.
int tok_embeddable(const Tokenizer *t, int vocab_size);
