// trainstate.c — the resumable training state (ckpt.bin): step, trainable tensors, AdamW
// moments, and both RNG streams. Written to a temp file, fsynced, then renamed, so a
// crash mid-write leaves the previous checkpoint intact.
#include "trainstate.h"
#include "util.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CKPT_MAGIC "L4QC"
#define CKPT_VERSION 1u

void trainstate_save(const char *path, long step, Param **ps, int n, const AdamW *opt,
                     const Rng *data_rng, const Rng *model_rng) {
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) die_input("%s: cannot write checkpoint: %s", tmp, strerror(errno));
    uint32_t ver = CKPT_VERSION, np = (uint32_t)n;
    int64_t st = step;
    fwrite(CKPT_MAGIC, 1, 4, f);
    fwrite(&ver, 4, 1, f);
    fwrite(&st, 8, 1, f);
    fwrite(&np, 4, 1, f);
    for (int i = 0; i < n; i++) {
        uint64_t cnt = ps[i]->n;
        fwrite(ps[i]->name, 1, sizeof ps[i]->name, f);
        fwrite(&cnt, 8, 1, f);
        fwrite(ps[i]->data, sizeof(float), cnt, f);
    }
    adamw_save(opt, ps, n, f);
    fwrite(data_rng, sizeof *data_rng, 1, f);
    fwrite(model_rng, sizeof *model_rng, 1, f);
    fwrite(CKPT_MAGIC, 1, 4, f); // end marker: a short file is detectably incomplete
    if (fflush(f) != 0 || ferror(f) || fsync(fileno(f)) != 0) { fclose(f); die_input("%s: write failed (disk full?)", tmp); }
    fclose(f);
    if (rename(tmp, path) != 0) die_input("%s: cannot rename checkpoint: %s", path, strerror(errno));
}

static void rd(void *p, size_t sz, size_t n, FILE *f, const char *path) {
    if (fread(p, sz, n, f) != n) die_input("%s: truncated checkpoint", path);
}

long trainstate_load(const char *path, Param **ps, int n, AdamW *opt, Rng *data_rng, Rng *model_rng) {
    FILE *f = fopen(path, "rb");
    if (!f) die_input("%s: cannot open checkpoint: %s", path, strerror(errno));
    char magic[4];
    uint32_t ver, np;
    int64_t step;
    rd(magic, 1, 4, f, path);
    if (memcmp(magic, CKPT_MAGIC, 4)) die_input("%s: not an l4q training checkpoint", path);
    rd(&ver, 4, 1, f, path);
    if (ver != CKPT_VERSION) die_input("%s: checkpoint version %u, expected %u", path, ver, CKPT_VERSION);
    rd(&step, 8, 1, f, path);
    rd(&np, 4, 1, f, path);
    if ((int)np != n) die_input("%s: checkpoint has %u trainable tensors, the run config gives %d", path, np, n);
    for (int i = 0; i < n; i++) {
        char name[sizeof ps[i]->name];
        uint64_t cnt;
        rd(name, 1, sizeof name, f, path);
        rd(&cnt, 8, 1, f, path);
        if (strncmp(name, ps[i]->name, sizeof name) || cnt != ps[i]->n)
            die_input("%s: tensor %d is '%.64s' (%llu values), expected '%s' (%zu)", path, i, name,
                      (unsigned long long)cnt, ps[i]->name, ps[i]->n);
        rd(ps[i]->data, sizeof(float), cnt, f, path);
    }
    adamw_load(opt, ps, n, f, path);
    rd(data_rng, sizeof *data_rng, 1, f, path);
    rd(model_rng, sizeof *model_rng, 1, f, path);
    rd(magic, 1, 4, f, path);
    if (memcmp(magic, CKPT_MAGIC, 4)) die_input("%s: checkpoint end marker missing (corrupt)", path);
    fclose(f);
    return (long)step;
}
