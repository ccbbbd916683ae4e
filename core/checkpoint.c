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
// A reader may keep buf (as mf->blob or mf->hold) only as its last step, after its last
// possible error: until then buf is held here (util.h "hold").
static const struct {
    int (*magic)(const void *buf, size_t len); // NULL: anything
    ModelFile *(*read)(const char *path, void *buf, size_t len);
} READERS[] = {
    {gguf_magic, gguf_read},
    {l4qz_magic, l4qz_read},
    {NULL, llama2c_load},
};

ModelFile *model_file_load(const char *path) {
    size_t mark = hold_mark();
    ModelFile *mf = NULL;
    // A directory is a Hugging Face model (core/hf_model.c); files are picked by content.
    if (hf_is_dir(path)) mf = hold(hf_load(path), model_file_release);
    else {
        size_t len;
        char *buf = hold(read_file(path, &len), free);
        for (size_t i = 0; i < sizeof READERS / sizeof READERS[0]; i++) {
            if (READERS[i].magic && !READERS[i].magic(buf, len)) continue;
            mf = READERS[i].read(path, buf, len);
            break;
        }
        hold_drop(buf);
        if (mf->blob != (void *)buf && mf->hold != buf) free(buf);
        hold(mf, model_file_release);
        mf->file_bytes = len;
    }
    if (!mf->rms_final || !(mf->tok_emb || mf->tok_emb16)) die_internal("%s: loader left tensors unset", path);
    mf_check_finite(mf);
    hold_end(mark);
    return mf;
}
