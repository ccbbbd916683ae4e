// tokenizer.h — llama2.c BPE tokenizer (docs/design.md "Model and tokenizer"): tokenizer.bin reader, GGUF vocab,
// O(n log n) encode producing exactly llama2.c's ids, streaming decode.
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
    unsigned char byte_pieces[512];
} Tokenizer;

// Reads llama2.c tokenizer.bin. vocab_size comes from the model; a file with a different
// number of tokens (or truncated/corrupt) → die_input naming the file and the mismatch.
// vocab_size <= 0: no model to check against; the file's own token count is used.
Tokenizer *tok_load(const char *path, int vocab_size);
// From in-memory pieces (GGUF): pieces already with "▁" turned into " " by the caller.
Tokenizer *tok_from_pieces(int n, char **pieces, const int *lens, const float *scores);
void tok_free(Tokenizer *t);
// Encode len bytes of text. Returns the number of ids; *out is malloc'd (caller frees).
int tok_encode(const Tokenizer *t, const char *text, size_t len, int flags, int **out);
// Bytes of `token` as printed after `prev` (strips the space after BOS, maps <0xXX>).
const char *tok_decode(const Tokenizer *t, int prev, int token, size_t *len);
int tok_lookup(const Tokenizer *t, const char *piece, size_t len); // id or −1
