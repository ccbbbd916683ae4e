// test_hold.c — error paths release what they hold (core/util.h "hold"). First the
// cleanup stack itself (order, end, unwind, drop, realloc, release on die); then every
// reader on damaged copies of real files (truncations and byte changes, l4qz resealed so
// its checksum passes), each rejected input caught with die_longjmp as the fuzz targets
// do: afterwards no descriptor may be left open, nothing held, and — in the ASan build —
// LeakSanitizer must find no block leaked (checked here, so a leak is a FAIL line).
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "baselines/baselines.h"
#include "checkpoint.h"
#include "config.h"
#include "data.h"
#include "evals/render.h"
#include "evals/task.h"
#include "experiments/sweep.h"
#include "l4qz.h"
#include "testlib.h"
#include "tokenizer.h"
#include "util.h"
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#endif

static int order[8], norder;
static void note(void *p) { order[norder++] = *(int *)p; }

static int open_fds(void) {
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));) n += e->d_name[0] != '.';
    if (d) closedir(d);
    return n;
}

static void test_stack(void) {
    int a = 1, b = 2, c = 3;
    size_t m = hold_mark();
    hold(&a, note); hold(&b, note); hold(&c, note);
    hold_drop(&b);
    hold_unwind(m);
    CHECK(norder == 2 && order[0] == 3 && order[1] == 1 && hold_mark() == m, "unwind releases newest first, dropped ones not",
          "%d released: %d %d", norder, order[0], order[1]);
    norder = 0;
    hold(&a, note);
    hold_end(m);
    hold_unwind(m);
    CHECK(norder == 0, "hold_end forgets without releasing", "%d released", norder);
    char *p = hold(xmalloc(8), free);
    p = hold_realloc(p, 1 << 20);
    CHECK(hold_mark() == m + 1, "hold_realloc keeps one hold on the moved block", "%zu held", hold_mark() - m);
    hold(&a, note);
    static jmp_buf jb;
    norder = 0;
    if (setjmp(jb) == 0) { die_longjmp(&jb, 1); die_input("test"); }
    die_longjmp(NULL, 0);
    CHECK(norder == 1 && hold_mark() == 0, "die releases everything held (the moved block too: LeakSanitizer)",
          "%d released, %zu still held", norder, hold_mark());
}

// Damaged copies of data: truncations, then byte changes, each written to path and given to fn.
typedef void (*Reader)(const char *path);
static void try_one(Reader fn, const char *path, const unsigned char *d, size_t n, int *rejected) {
    FILE *f = fopen(path, "wb");
    fwrite(d, 1, n, f);
    fclose(f);
    static jmp_buf jb;
    if (setjmp(jb) == 0) { die_longjmp(&jb, 1); fn(path); }
    else (*rejected)++;
    die_longjmp(NULL, 0);
}
static void damaged(const char *name, Reader fn, const char *src, const char *path, int reseal_l4qz) {
    size_t n;
    unsigned char *d = (unsigned char *)read_file(src, &n), *c = xmalloc(n + 1);
    int fds = open_fds(), rejected = 0, tries = 0;
    Rng r;
    rng_seed(&r, 7);
    for (int k = 0; k < 12; k++, tries++) try_one(fn, path, d, n * k / 12, &rejected);
    for (int k = 0; k < 48; k++, tries++) {
        memcpy(c, d, n);
        size_t at = rng_u64(&r) % (n < 4096 ? n : 4096); // headers, keys and sizes live up front
        c[at] = k % 3 == 0 ? 0xff : k % 3 == 1 ? 0 : (unsigned char)(c[at] ^ (1u << (k % 8)));
        if (reseal_l4qz && n > 24) { uint64_t h = hash64(c + 16, n - 24, HASH64_INIT); memcpy(c + n - 8, &h, 8); }
        try_one(fn, path, c, n, &rejected);
    }
    free(d); free(c);
    CHECK(rejected >= tries / 6 && open_fds() == fds && hold_mark() == 0, name,
          "%d of %d rejected, %d descriptors left open, %zu objects held", rejected, tries, open_fds() - fds, hold_mark());
}

static void rd_model(const char *p) { model_file_free(model_file_load(p)); }
static void rd_tok(const char *p) { tok_free(tok_load(p, 0)); }
static void rd_config(const char *p) { run_config_free(run_config_load(p, NULL, 0)); }
static void rd_sweep(const char *p) { sweep_free(sweep_load(p, NULL, 0, "/nonexistent/l4q_test_hold")); }
static Tokenizer *tok512;
// Every other call at a seq_len no response fits: the set is built, then rejected whole.
static void rd_alpaca(const char *p) {
    static int k;
    data_free(data_alpaca(tok512, p, k++ % 2 ? 64 : 2048, 1, 0, 20));
}
static const char *task_dir;
static void rd_task(const char *p) {
    (void)p;
    const char *dirs[1] = {task_dir};
    TaskRegistry *r = hold(tasks_registry(dirs, 1), tasks_registry_release);
    for (int i = 0; i < r->ntasks; i++) docset_free(docset_load(&r->tasks[i], &r->tasks[i].data));
    hold_unwind(0);
}

int main(void) {
    baselines_register();
    threads_init(1);
    test_stack();
    char dir[] = "/tmp/l4q_test_hold_XXXXXX", p[512], src[4200];
    if (!mkdtemp(dir)) { perror("mkdtemp"); return 1; }
    snprintf(p, sizeof p, "%s/input", dir);
    const struct { const char *name, *rel; Reader fn; } files[] = {
        {"llama2.c v0 damaged: all released", "models/stories260K/stories260K.bin", rd_model},
        {"llama2.c v1 damaged: all released", "models/stories260K/stories260K_v1.bin", rd_model},
        {"llama2.c v2 (Q8_0) damaged: all released", "models/stories260K/stories260K_q8_v2.bin", rd_model},
        {"GGUF damaged: all released", "models/stories260K/stories260K.gguf", rd_model},
        {"tokenizer.bin damaged: all released", "models/stories260K/tok512.bin", rd_tok},
        {"tokenizer.model damaged: all released", "tokenizers/llama2_tokenizer.model", rd_tok},
        {"tokenizer.json (Mistral) damaged: all released", "tokenizers/mistral-7b-v0.1/tokenizer.json", rd_tok},
        {"Alpaca JSON damaged: all released", "alpaca/alpaca_data_1k.json", rd_alpaca},
    };
    tok512 = tok_load(resolve_path("models/stories260K/tok512.bin", NULL, src, sizeof src), 0);
    for (size_t i = 0; i < sizeof files / sizeof *files; i++)
        damaged(files[i].name, files[i].fn, resolve_path(files[i].rel, NULL, src, sizeof src), p, 0);

    // l4qz: written from a random model here, damaged, then resealed (checksum recomputed).
    const Config c = {.dim = 8, .hidden_dim = 16, .n_layers = 1, .n_heads = 2, .n_kv_heads = 1, .vocab_size = 512,
                      .seq_len = 16, .norm_eps = 1e-5f, .rope_theta = 10000.0f, .shared_classifier = 0};
    ModelFile *mf = model_file_random(&c, 0.02f, 3);
    char l4qz[600];
    snprintf(l4qz, sizeof l4qz, "%s/m.l4qz", dir);
    l4qz_write(l4qz, mf, tok512, NULL, NULL);
    model_file_free(mf);
    damaged("l4qz damaged and resealed: all released", rd_model, l4qz, p, 1);
    // l4qz version 2: the same shape with every projection a bf16 W0 plus a rank-2 LoRA
    // branch (what a `lora` run on a 16-bit base deploys).
    mf = model_file_random(&c, 0.02f, 4);
    mf->dep = xcalloc((size_t)c.n_layers * N_LAYER_PROJ, sizeof *mf->dep);
    for (int i = 0; i < c.n_layers * N_LAYER_PROJ; i++) {
        int out, in;
        proj_dims(&c, i % N_LAYER_PROJ, &out, &in);
        Deploy *d = mf->dep[i] = xcalloc(1, sizeof *d);
        uint16_t *h = xmalloc((size_t)out * in * sizeof *h);
        f32_to_half(DT_BF16, mf->w[i], h, (size_t)out * in);
        deploy_half(d, out, in, DT_BF16, h);
        d->h_own = h;
        d->rank = 2;
        d->lora_scale = 0.5f;
        d->lora_A = xcalloc((size_t)2 * in, sizeof(float));
        d->lora_B = xcalloc((size_t)2 * out, sizeof(float));
        d->lora_A[1] = d->lora_B[0] = 0.25f;
    }
    l4qz_write(l4qz, mf, tok512, "lora", NULL);
    model_file_free(mf);
    damaged("l4qz v2 (bf16 W0 + LoRA) damaged and resealed: all released", rd_model, l4qz, p, 1);

    const char *root = install_root();
    snprintf(src, sizeof src, "%s/experiments/default.yaml", root);
    damaged("run config YAML damaged: all released", rd_config, src, p, 0);
    damaged("sweep spec damaged: all released", rd_sweep, src, p, 0);
    // fuzz_config's leak: an axis key with an empty component, rejected while expanding.
    const char *axis = "base: {model: m.bin, tokenizer: t.bin, data: {train: x.txt}, method: {name: lora}}\n"
                       "axes: {\"train..lr\": [1, 2]}\n";
    int rej = 0;
    try_one(rd_sweep, p, (const unsigned char *)axis, strlen(axis), &rej);
    CHECK(rej == 1 && hold_mark() == 0, "sweep axis 'train..lr': rejected, nothing held", "rejected %d, %zu held", rej, hold_mark());
    // PIQA's task file in a directory of its own with the first 40 documents and labels of
    // its data: the YAML damaged (data intact), then the data (YAML intact).
    char tdir[600], tpath[700], dpath[700], cmd[16384];
    snprintf(tdir, sizeof tdir, "%s/tasks", dir);
    snprintf(tpath, sizeof tpath, "%s/t.yaml", tdir);
    snprintf(dpath, sizeof dpath, "%s/data.jsonl", tdir);
    snprintf(cmd, sizeof cmd, "mkdir %s && sed 's|piqa/valid.jsonl|data.jsonl|; s|piqa/valid-labels.lst|labels.lst|' "
             "%s/evals/tasks/piqa.yaml > %s/task.src && head -40 %s/piqa/valid.jsonl > %s/data.src && "
             "head -40 %s/piqa/valid-labels.lst > %s/labels.lst && cp %s/data.src %s",
             tdir, root, dir, data_root(), dir, data_root(), tdir, dir, dpath);
    if (system(cmd) != 0) { printf("FAIL: task fixture: %s\n", cmd); return 1; }
    task_dir = tdir;
    snprintf(src, sizeof src, "%s/task.src", dir);
    damaged("task YAML damaged: all released", rd_task, src, tpath, 0);
    snprintf(cmd, sizeof cmd, "cp %s %s", src, tpath);
    if (system(cmd) != 0) return 1;
    snprintf(src, sizeof src, "%s/data.src", dir);
    damaged("task data (JSONL + labels) damaged: all released", rd_task, src, dpath, 0);
    snprintf(cmd, sizeof cmd, "rm -rf %s/task.src %s/data.src %s", dir, dir, tdir);
    if (system(cmd) != 0) return 1;
    tok_free(tok512);
    unlink(p); unlink(l4qz); rmdir(dir);
#if defined(__SANITIZE_ADDRESS__)
    int leaks = __lsan_do_recoverable_leak_check();
    CHECK(!leaks, "LeakSanitizer: no block leaked by any rejected input", "see the report above");
    fflush(stdout); // LeakSanitizer's own check at exit ends the process without flushing
#endif
    T_EXIT();
}
