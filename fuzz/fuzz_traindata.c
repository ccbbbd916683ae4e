// fuzz_traindata.c — training data readers: Alpaca JSON (data_alpaca, both masking modes)
// and plain text as data_text reads it (core/tokstream.c; data_text then writes the ids to
// its token cache, one file per input here, which is not parsing), with stories260K's
// tokenizer.
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
    const char *p = fuzz_file(data, size, ".json");
    FUZZ_GUARDED({
        Dataset *d = data_alpaca(tok, p, 32, size & 1, 0, -1);
        data_free(d);
    });
    FUZZ_GUARDED({
        TokStream *s = hold(tokstream_open(tok, p), tokstream_release);
        int ids[4096];
        while (tokstream_read(s, ids, 4096) > 0) {}
        hold_unwind(0);
    });
    return 0;
}
