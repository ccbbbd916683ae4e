// fuzz_traindata.c — training data readers, with stories260K's tokenizer; the first byte
// picks one (tokenizing dominates the cost, so each input goes through one reader):
// 0 Alpaca JSON (data_alpaca) masking prompts, 1 without masking, 2 plain text as
// data_text reads it (core/tokstream.c; data_text then writes the ids to its token
// cache, one file per input here, which is not parsing).
#include "data.h"
#include "fuzz.h"
#include "tokstream.h"

static Tokenizer *tok;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc; (void)argv;
    char buf[4200];
    tok = tok_load(resolve_path("models/stories260K/tok512.bin", NULL, buf, sizeof buf), 0);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    int k = data[0] % 3;
    const char *p = fuzz_file(data + 1, size - 1, ".data");
    FUZZ_GUARDED({
        if (k < 2) data_free(data_alpaca(tok, p, 32, k == 0, 0, -1));
        else {
            TokStream *s = hold(tokstream_open(tok, p), tokstream_release);
            int ids[4096];
            while (tokstream_read(s, ids, 4096) > 0) {}
            hold_unwind(0);
        }
    });
    return 0;
}
