// fuzz_traindocs.c — the training-document reader (core/traindocs.c: text, JSONL, JSON
// files and the contamination filter). The first byte picks the format (0 text, 1 jsonl,
// 2 json) and whether the file is also its own validation text (bit 2: every document
// with a long line is then removed, which exercises the line hashing); the rest is the file.
#include "fuzz.h"
#include "traindocs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    int fmt = data[0] % 3, self_val = (data[0] >> 2) & 1;
    const char *p = fuzz_file(data + 1, size - 1, ".docs");
    FUZZ_GUARDED({
        TrainFile f = {p, fmt, fmt == DOC_TEXT ? NULL : "text"};
        TrainText t;
        traindocs_assemble(&f, 1, self_val ? p : NULL, &t);
        if (t.removed > t.docs || strlen(t.text) > t.len) abort(); // the joined text is what it says
        free(t.text);
    });
    return 0;
}
