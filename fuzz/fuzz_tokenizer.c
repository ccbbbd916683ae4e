// fuzz_tokenizer.c — llama2.c tokenizer.bin files (tok_load), then every piece through
// encode and decode, so a vocabulary the loader accepts must also work.
#include "fuzz.h"
#include "tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *p = fuzz_file(data, size, ".tok");
    FUZZ_GUARDED({
        // What the target owns is held too: encode and decode may still reject the vocabulary.
        Tokenizer *t = hold(tok_load(p, 0), tok_release);
        static const char text[] = "Once upon a time, \xe2\x96\x81 caf\xc3\xa9 \xff\x80 <0x0A>\n\n end";
        int *ids = NULL;
        hold(&ids, free_at);
        int n = tok_encode(t, text, sizeof text - 1, TOK_BOS | TOK_EOS, &ids);
        for (int i = 0; i < n; i++) { size_t l; tok_decode(t, i ? ids[i - 1] : -1, ids[i], &l); }
        hold_unwind(0);
    });
    return 0;
}
