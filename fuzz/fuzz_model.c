// fuzz_model.c — model files through the one dispatcher (model_file_load): llama2.c v0,
// v1, v2 (Q8_0), GGUF and l4qz. Built three times (fuzz_llama2c, fuzz_gguf, fuzz_l4qz)
// with the matching seed corpus; the code under test is the same. An accepted file is
// also run one token through the model, so whatever the loader lets through must be
// usable.
#include "checkpoint.h"
#include "fuzz.h"
#include "methods.h"
#include "model.h"

static void model_release(void *m) { model_free(m); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    threads_init(1);
    const char *p = fuzz_file(data, size, ".model");
    FUZZ_GUARDED({
        ModelFile *mf = hold(model_file_load(p), model_file_release);
        // Small shapes only: a huge valid header would spend the run allocating.
        if ((size_t)mf->c.dim * mf->c.vocab_size < (1u << 22) && mf->c.seq_len >= 2) {
            MethodCfg mc;
            method_defaults(&mc, "none");
            Model *M = hold(model_build(mf, &mc, 1, 2, 0), model_release);
            int toks[2] = {1, mf->c.vocab_size > 2 ? 2 : 0};
            model_forward(M, toks, 1, 2, 0);
        }
        hold_unwind(0); // the model, then the file
    });
    return 0;
}
