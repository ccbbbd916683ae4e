// fuzz_model.c — model files through the one dispatcher (model_file_load): llama2.c v0,
// v1, v2 (Q8_0), GGUF and l4qz. Built three times (fuzz_llama2c, fuzz_gguf, fuzz_l4qz)
// with the matching seed corpus; the code under test is the same (fuzz_load.h).
#include "fuzz_load.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_load_and_run(fuzz_file(data, size, ".model"));
    return 0;
}
