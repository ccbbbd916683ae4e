// fuzz_encode.c — tok_encode on arbitrary bytes with the real vocabularies (stories260K's
// 512 pieces and Llama-2's 32000): no crash, ids decode back to the input's bytes, and
// libFuzzer's -timeout catches any input that makes encoding superlinear.
#include "fuzz.h"
#include "tokenizer.h"

static Tokenizer *toks[2];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc; (void)argv;
    const char *rel[2] = {"models/stories260K/tok512.bin", "tokenizers/llama2c_tokenizer.bin"};
    for (int i = 0; i < 2; i++) {
        char buf[4200];
        toks[i] = tok_load(resolve_path(rel[i], NULL, buf, sizeof buf), 0);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    for (int k = 0; k < 2; k++) {
        int *ids, n = tok_encode(toks[k], (const char *)data, size, TOK_NO_PREFIX, &ids);
        // Decoding concatenates to the input exactly (byte fallback covers every byte).
        size_t at = 0;
        for (int i = 0; i < n; i++) {
            size_t l;
            const char *s = tok_decode(toks[k], i ? ids[i - 1] : -1, ids[i], &l);
            if (at + l > size || memcmp(s, data + at, l)) abort();
            at += l;
        }
        if (at != size) abort();
        free(ids);
    }
    return 0;
}
