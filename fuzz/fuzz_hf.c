// fuzz_hf.c — a Hugging Face model directory through the one dispatcher (model_file_load →
// core/hf_model.c, core/safetensors.c): config.json, an optional
// model.safetensors.index.json, and one safetensors file. The input holds all three:
// u32 LE length of config.json, its bytes, u32 LE length of the index (0: none), its
// bytes, then the safetensors bytes — written as model.safetensors, or, with an index, as
// the shard it names in the seeds (fuzz/seeds.sh). Loaded and run as fuzz_load.h does.
#include "fuzz_load.h"
#include <sys/stat.h>

// The next length-prefixed part of the input (clamped to what is left).
static const uint8_t *part(const uint8_t **d, size_t *left, size_t *n) {
    uint32_t k = 0;
    if (*left >= 4) { memcpy(&k, *d, 4); *d += 4; *left -= 4; }
    *n = k < *left ? k : *left;
    const uint8_t *p = *d;
    *d += *n; *left -= *n;
    return p;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *dir = fuzz_scratch_path(3, "_hf");
    mkdir(dir, 0700);
    size_t nc, ni;
    const uint8_t *cfg = part(&data, &size, &nc), *idx = part(&data, &size, &ni);
    char p[400];
    snprintf(p, sizeof p, "%s/config.json", dir);
    fuzz_write(p, cfg, nc);
    snprintf(p, sizeof p, "%s/model.safetensors.index.json", dir);
    if (ni) fuzz_write(p, idx, ni);
    snprintf(p, sizeof p, "%s/%s", dir, ni ? "model-00001-of-00001.safetensors" : "model.safetensors");
    fuzz_write(p, data, size);
    fuzz_load_and_run(dir);
    const char *names[] = {"config.json", "model.safetensors.index.json", "model-00001-of-00001.safetensors", "model.safetensors"};
    for (int i = 0; i < 4; i++) { snprintf(p, sizeof p, "%s/%s", dir, names[i]); remove(p); } // the directory goes at exit
    return 0;
}
