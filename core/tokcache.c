// tokcache.c — see tokcache.h.
#include "tokcache.h"
#include "tokstream.h"
#include "util.h"
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define TC_MAGIC "L4QT"
#define TC_VERSION 2u // 2: paragraphs over 1 MB encoded in pieces (tokstream.h); a version-1 file is rebuilt
enum { TC_HEADER = 4 + 4 + 8 + 32 };


static void key_of(const Tokenizer *t, const char *path, unsigned char key[32]) {
    size_t mark = hold_mark();
    EVP_MD_CTX *md = hold(EVP_MD_CTX_new(), md_release);
    if (!md || !EVP_DigestInit_ex(md, EVP_sha256(), NULL)) die_internal("libcrypto: cannot start SHA-256");
    for (int i = 0; i < t->vocab_size; i++) {
        EVP_DigestUpdate(md, &t->lens[i], sizeof t->lens[i]);
        EVP_DigestUpdate(md, t->vocab[i], (size_t)t->lens[i]);
        EVP_DigestUpdate(md, &t->scores[i], sizeof t->scores[i]);
    }
    FILE *f = hold_file(fopen(path, "rb"));
    if (!f) die_input("%s: cannot open: %s", path, strerror(errno));
    char buf[1 << 16];
    size_t k;
    while ((k = fread(buf, 1, sizeof buf, f)) > 0) EVP_DigestUpdate(md, buf, k);
    if (ferror(f)) die_input("%s: read error: %s", path, strerror(errno));
    unsigned len = 0;
    EVP_DigestFinal_ex(md, key, &len);
    hold_unwind(mark);
}

// Never beside the data: data folders are shared and meant read-only (root passes any
// access() test, so writability cannot be asked).
static void cache_dir(char *out, size_t n) {
    const char *e = getenv("L4Q_CACHE"), *x = getenv("XDG_CACHE_HOME"), *h = getenv("HOME");
    if (e && *e) snprintf(out, n, "%s", e);
    else if (x && *x) snprintf(out, n, "%s/l4q/tokens", x);
    else snprintf(out, n, "%s/.cache/l4q/tokens", h && *h ? h : "/tmp");
}

// Maps an existing cache file; NULL (with a warning) unless it is whole and matches key.
static const int *try_map(const char *cpath, const unsigned char key[32], int vocab, long *ntok) {
    int fd = open(cpath, O_RDONLY);
    if (fd < 0) return NULL;
    struct stat st;
    void *p = MAP_FAILED;
    if (fstat(fd, &st) == 0 && st.st_size >= TC_HEADER)
        p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (p == MAP_FAILED) { warnf("%s: unreadable token cache; rebuilding it", cpath); return NULL; }
    const unsigned char *h = p;
    uint32_t ver;
    uint64_t n;
    memcpy(&ver, h + 4, 4);
    memcpy(&n, h + 8, 8);
    int ok = !memcmp(h, TC_MAGIC, 4) && ver == TC_VERSION && !memcmp(h + 16, key, 32) &&
             n == ((uint64_t)st.st_size - TC_HEADER) / 4 && (uint64_t)st.st_size == TC_HEADER + 4 * n;
    const int *ids = (const int *)(h + TC_HEADER);
    for (uint64_t i = 0; ok && i < n; i++) ok = ids[i] >= 0 && ids[i] < vocab;
    if (!ok) {
        munmap(p, (size_t)st.st_size);
        warnf("%s: token cache does not match its data or is damaged; rebuilding it", cpath);
        return NULL;
    }
    *ntok = (long)n;
    return ids;
}

static void build(const Tokenizer *t, const char *path, const char *cpath, const unsigned char key[32]) {
    char tmp[4400];
    snprintf(tmp, sizeof tmp, "%s.%d.tmp", cpath, (int)getpid()); // concurrent sweep workers
    FILE *f = hold_file(fopen(tmp, "wb"));
    if (!f) die_input("%s: cannot create the token cache: %s", tmp, strerror(errno));
    temp_track(tmp);
    uint32_t ver = TC_VERSION;
    uint64_t n = 0;
    fwrite(TC_MAGIC, 1, 4, f); fwrite(&ver, 4, 1, f); fwrite(&n, 8, 1, f); fwrite(key, 1, 32, f);
    size_t mark = hold_mark();
    TokStream *s = hold(tokstream_open(t, path), tokstream_release);
    enum { BUF = 1 << 16 };
    int *buf = hold(xmalloc(BUF * sizeof(int)), free);
    long k;
    while ((k = tokstream_read(s, buf, BUF)) > 0) { fwrite(buf, sizeof(int), (size_t)k, f); n += (uint64_t)k; }
    hold_unwind(mark); // the stream and its buffer
    if (fseek(f, 8, SEEK_SET) != 0 || fwrite(&n, 8, 1, f) != 1 || fflush(f) != 0 || ferror(f))
        die_input("%s: cannot write the token cache: %s", tmp, strerror(errno));
    hold_drop(f);
    if (fclose(f) != 0) die_input("%s: cannot write the token cache: %s", tmp, strerror(errno));
    if (rename(tmp, cpath) != 0) die_input("%s: cannot rename the token cache into place: %s", cpath, strerror(errno));
    temp_done(tmp);
}

const int *tokcache_map(const Tokenizer *t, const char *path, long *ntok) {
    unsigned char key[32];
    key_of(t, path, key);
    char dir[4096], cpath[4300];
    cache_dir(dir, sizeof dir);
    mkdir_p(dir);
    int o = snprintf(cpath, sizeof cpath, "%s/", dir);
    for (int i = 0; i < 12; i++) o += snprintf(cpath + o, sizeof cpath - o, "%02x", key[i]);
    snprintf(cpath + o, sizeof cpath - o, ".tok");
    const int *ids = try_map(cpath, key, t->vocab_size, ntok);
    if (ids) return ids;
    build(t, path, cpath, key);
    ids = try_map(cpath, key, t->vocab_size, ntok);
    if (!ids) die_internal("%s: token cache unreadable right after writing it", cpath);
    return ids;
}

void tokcache_unmap(const int *ids, long ntok) {
    if (ids) munmap((void *)((const char *)ids - TC_HEADER), TC_HEADER + 4 * (size_t)ntok);
}
