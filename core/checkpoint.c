// checkpoint.c — model_file_load: reads a whole model file, picks its reader by content
// (the readers are declared in core/checkpoint.h), then checks what every reader must
// deliver.
#include "checkpoint.h"
#include "l4qz.h"
#include <stdlib.h>
#include <string.h>

static int gguf_magic(const void *buf, size_t len) { return len >= 4 && !memcmp(buf, "GGUF", 4); }
static int l4qz_magic(const void *buf, size_t len) { return len >= 4 && !memcmp(buf, "L4QZ", 4); }
static ModelFile *gguf_read(const char *path, void *buf, size_t len) { return gguf_load(path, buf, len); }
static ModelFile *l4qz_read(const char *path, void *buf, size_t len) { return l4qz_load(path, buf, len); }

// First match wins; llama2.c v0 has no magic, so its reader comes last and takes the rest.
static const struct {
    int (*magic)(const void *buf, size_t len); // NULL: anything
    ModelFile *(*read)(const char *path, void *buf, size_t len);
    int keeps_buf;                             // the reader owns buf afterwards
} READERS[] = {
    {gguf_magic, gguf_read, 0},
    {l4qz_magic, l4qz_read, 0},
    {NULL, llama2c_load, 1},
};

ModelFile *model_file_load(const char *path) {
    // A directory is a Hugging Face model (core/hf_model.c); files are picked by content.
    if (hf_is_dir(path)) { ModelFile *hf = hf_load(path); mf_check_finite(hf); return hf; }
    size_t len;
    char *buf = read_file(path, &len);
    ModelFile *mf = NULL;
    for (size_t i = 0; i < sizeof READERS / sizeof READERS[0]; i++) {
        if (READERS[i].magic && !READERS[i].magic(buf, len)) continue;
        mf = READERS[i].read(path, buf, len);
        if (!READERS[i].keeps_buf) free(buf);
        break;
    }
    mf->file_bytes = len;
    if (!mf->rms_final || !mf->tok_emb) die_internal("%s: loader left tensors unset", path);
    mf_check_finite(mf);
    return mf;
}
