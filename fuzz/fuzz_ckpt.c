// fuzz_ckpt.c — ckpt.bin (trainstate_load) for a LoRA run (rank 2, 7 targets) on a tiny
// model: fuzz/seeds.sh trains its checkpoint seed on a file of the same shape (TINY), and
// a checkpoint holds only tensor names, counts and values, so random weights serve here.
// Inputs whose last byte is odd are resealed (their SHA-256 trailer, which holds that byte,
// recomputed) before loading, so the fuzzer also reaches the parser behind the checksum.
// An input holding the bf16 AdamW magic is read by an optimizer with bf16 moments
// (train.optim_state), others by fp32.
#include "checkpoint.h"
#include "fuzz.h"
#include "methods.h"
#include "model.h"
#include "modelfile.h"
#include "optim.h"
#include "run/trainstate.h"
#include <openssl/sha.h>

static Param *ps[512];
static int np;
static AdamW *opt[2];
static ModelFile *mf; // kept (reachable) for the life of the process
static Model *M;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc; (void)argv;
    threads_init(1);
    const Config TINY = {.dim = 8, .hidden_dim = 16, .n_layers = 1, .n_heads = 2, .n_kv_heads = 1, .vocab_size = 512,
                         .seq_len = 16, .norm_eps = 1e-5f, .rope_theta = 10000.0f, .shared_classifier = 1};
    mf = model_file_random(&TINY, 0.02f, 1);
    MethodCfg mc;
    method_defaults(&mc, "lora");
    mc.rank = 2;
    M = model_build(mf, &mc, 1, 8, 0);
    np = model_params(M, ps, 512);
    opt[0] = adamw_new(ps, np, 0.9f, 0.999f, 1e-8f, 0.0f, DT_F32, 0);
    opt[1] = adamw_new(ps, np, 0.9f, 0.999f, 1e-8f, 0.0f, DT_BF16, 0);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint8_t *copy = malloc(size ? size : 1);
    memcpy(copy, data, size);
    if (size > 32 && (data[size - 1] & 1)) SHA256(copy, size - 32, copy + size - 32);
    const char *p = fuzz_file(copy, size, ".ckpt");
    free(copy);
    FUZZ_GUARDED({
        Rng a, b;
        trainstate_load(p, ps, np, opt[memmem(data, size, "L4QADAMB", 8) != NULL], &a, &b);
    });
    return 0;
}
