// fuzz_load.h — a model file or directory through the one dispatcher (model_file_load); an
// accepted one of small shape is also run one token through the model, so whatever the
// loader lets through must be usable. Shared by fuzz_model.c and fuzz_hf.c.
#pragma once
#include "checkpoint.h"
#include "fuzz.h"
#include "methods.h"
#include "model.h"

static void fuzz_model_release(void *m) { model_free(m); }

static void fuzz_load_and_run(const char *path) {
    threads_init(1);
    FUZZ_GUARDED({
        ModelFile *mf = hold(model_file_load(path), model_file_release);
        // Small shapes only: a huge valid header would spend the run allocating.
        if ((size_t)mf->c.dim * mf->c.vocab_size < (1u << 22) && mf->c.seq_len >= 2) {
            MethodCfg mc;
            method_defaults(&mc, "none");
            Model *M = hold(model_build(mf, &mc, 1, 2, 0), fuzz_model_release);
            int toks[2] = {1, mf->c.vocab_size > 2 ? 2 : 0};
            model_forward(M, toks, 1, 2, 0);
        }
        hold_unwind(0); // the model, then the file
    });
}
