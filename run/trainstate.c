// trainstate.c — the resumable training state (ckpt.bin): step, trainable tensors, AdamW
// moments, and both RNG streams. Written to a temp file, fsynced, then renamed, so a
// crash mid-write leaves the previous checkpoint intact; a failed write removes the temp
// file. Version 2 ends with the SHA-256 of everything before it (libcrypto), checked
// before anything is parsed, and every stored float must be finite: a checkpoint holding
// NaN is never written, so the one on disk is always the last good state.
#include "trainstate.h"
#include "util.h"
#include <errno.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CKPT_MAGIC "L4QC"
#define CKPT_VERSION 2u
#define SUM_BYTES 32

// The file goes through a glibc cookie stream that hashes every byte on its way out and
// keeps the first write error's errno (adamw_save writes into the same stream).
typedef struct { FILE *f; EVP_MD_CTX *md; int err; } HashOut;
static ssize_t hash_write(void *c, const char *buf, size_t n) {
    HashOut *h = c;
    if (h->err) return -1;
    if (fwrite(buf, 1, n, h->f) != n) { h->err = errno ? errno : EIO; return -1; }
    EVP_DigestUpdate(h->md, buf, n);
    return (ssize_t)n;
}

// First non-finite float of p[0..n), or −1.
static long first_nonfinite(const float *p, size_t n) {
    for (size_t i = 0; i < n; i++) if (!isfinite(p[i])) return (long)i;
    return -1;
}

void trainstate_save(const char *path, long step, Param **ps, int n, const AdamW *opt,
                     const Rng *data_rng, const Rng *model_rng) {
    for (int i = 0; i < n; i++) {
        long e = first_nonfinite(ps[i]->data, ps[i]->n);
        const char *what = "";
        if (e < 0) e = adamw_first_nonfinite(opt, i, &what);
        if (e >= 0)
            die_input("%s: not written: step %ld: tensor %s%s holds a non-finite value at element %ld; the last good "
                      "checkpoint is kept", path, step, ps[i]->name, what, e);
    }
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    HashOut h = {fopen(tmp, "wb"), EVP_MD_CTX_new(), 0};
    if (!h.f) die_input("%s: cannot write checkpoint: %s", tmp, strerror(errno));
    temp_track(tmp);
    if (!h.md || !EVP_DigestInit_ex(h.md, EVP_sha256(), NULL)) die_internal("libcrypto: cannot start SHA-256");
    FILE *f = fopencookie(&h, "wb", (cookie_io_functions_t){.write = hash_write});
    if (!f) die_internal("fopencookie failed");
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
    int bad = fclose(f) != 0 || h.err;
    unsigned char sum[SUM_BYTES];
    unsigned len = 0;
    EVP_DigestFinal_ex(h.md, sum, &len);
    EVP_MD_CTX_free(h.md);
    if (!bad && fwrite(sum, 1, SUM_BYTES, h.f) != SUM_BYTES) h.err = errno;
    if (!bad && !h.err && (fflush(h.f) != 0 || fsync(fileno(h.f)) != 0)) h.err = errno;
    int err = h.err ? h.err : bad ? EIO : 0;
    if (fclose(h.f) != 0 && !err) err = errno ? errno : EIO;
    if (err) die_input("%s: checkpoint write failed: %s (any earlier checkpoint is kept)", tmp, strerror(err));
    if (rename(tmp, path) != 0) die_input("%s: cannot rename checkpoint into place: %s", path, strerror(errno));
    temp_done(tmp);
}

static void rd(void *p, size_t sz, size_t n, FILE *f, const char *path) {
    if (fread(p, sz, n, f) != n) die_input("%s: truncated checkpoint", path);
}

// The trailing SHA-256 must match the rest of the file (read once more, in blocks).
static void verify_sum(FILE *f, const char *path) {
    struct stat st;
    if (fstat(fileno(f), &st) != 0) die_input("%s: cannot stat checkpoint: %s", path, strerror(errno));
    if (st.st_size < 24 + SUM_BYTES) die_input("%s: truncated checkpoint (%lld bytes)", path, (long long)st.st_size);
    size_t body = (size_t)st.st_size - SUM_BYTES;
    rewind(f);
    size_t mark = hold_mark();
    EVP_MD_CTX *md = hold(EVP_MD_CTX_new(), md_release);
    if (!md || !EVP_DigestInit_ex(md, EVP_sha256(), NULL)) die_internal("libcrypto: cannot start SHA-256");
    unsigned char buf[1 << 16], want[SUM_BYTES], got[SUM_BYTES];
    for (size_t done = 0; done < body;) {
        size_t k = body - done < sizeof buf ? body - done : sizeof buf;
        if (fread(buf, 1, k, f) != k) die_input("%s: truncated checkpoint", path);
        EVP_DigestUpdate(md, buf, k);
        done += k;
    }
    unsigned len = 0;
    EVP_DigestFinal_ex(md, got, &len);
    hold_unwind(mark);
    if (fread(want, 1, SUM_BYTES, f) != SUM_BYTES) die_input("%s: truncated checkpoint", path);
    if (memcmp(want, got, SUM_BYTES)) die_input("%s: checksum mismatch: the checkpoint is corrupt", path);
    rewind(f);
}

static void check_finite(long e, const char *path, const char *name, const char *what) { // e: first_nonfinite's answer
    if (e >= 0) die_input("%s: tensor %s%s holds a non-finite value at element %ld (corrupt checkpoint)", path, name, what, e);
}

long trainstate_load(const char *path, Param **ps, int n, AdamW *opt, Rng *data_rng, Rng *model_rng) {
    size_t mark = hold_mark();
    FILE *f = hold_file(fopen(path, "rb"));
    if (!f) die_input("%s: cannot open checkpoint: %s", path, strerror(errno));
    char magic[4];
    uint32_t ver, np;
    int64_t step;
    rd(magic, 1, 4, f, path);
    if (memcmp(magic, CKPT_MAGIC, 4)) die_input("%s: not an l4q training checkpoint", path);
    rd(&ver, 4, 1, f, path);
    if (ver != CKPT_VERSION)
        die_input("%s: checkpoint version %u, expected %u (written by another l4q version; start the run over)", path, ver,
                  CKPT_VERSION);
    verify_sum(f, path);
    rd(magic, 1, 4, f, path);
    rd(&ver, 4, 1, f, path);
    rd(&step, 8, 1, f, path);
    rd(&np, 4, 1, f, path);
    if (step < 0) die_input("%s: negative step count %lld (corrupt)", path, (long long)step);
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
        check_finite(first_nonfinite(ps[i]->data, cnt), path, ps[i]->name, "");
    }
    adamw_load(opt, ps, n, f, path);
    for (int i = 0; i < n; i++) {
        const char *what = "";
        check_finite(adamw_first_nonfinite(opt, i, &what), path, ps[i]->name, what);
    }
    rd(data_rng, sizeof *data_rng, 1, f, path);
    rd(model_rng, sizeof *model_rng, 1, f, path);
    rd(magic, 1, 4, f, path);
    if (memcmp(magic, CKPT_MAGIC, 4)) die_input("%s: checkpoint end marker missing (corrupt)", path);
    hold_unwind(mark); // f
    return (long)step;
}
