// test_config.c — run config loading.
//   test_config                      self-test (valid config, dump→reload round trip,
//                                    one error in a forked child)
//   test_config CFG [--set k=v]...   driver for tests/test_config.py: prints the resolved
//                                    YAML, or dies with the loader's error (exit 2)
#ifndef _GNU_SOURCE
#define _GNU_SOURCE // realpath, mkdtemp (the Makefile defines it too)
#endif
#include "baselines/baselines.h"
#include "config.h"
#include "testlib.h"
#include "util.h"
#include <stdlib.h>
#include <string.h>

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (!f) { perror(path); exit(1); }
    fputs(text, f);
    fclose(f);
}

// Load in a child so die_input's exit does not end the test; return its stderr line.
// The child leaves with _exit: running the library destructors (OpenMP, OpenBLAS) in a
// forked copy of a process is not safe and occasionally crashed here.
static void child_exit(void *ctx, int status) { (void)ctx; fflush(stderr); _exit(status); }

typedef struct { const char *path; char **sets; int nsets; } LoadArgs;
static void load_fn(void *arg) {
    const LoadArgs *a = arg;
    on_die(child_exit, NULL);
    RunConfig *c = run_config_load(a->path, a->sets, a->nsets);
    run_config_free(c);
}

static int load_in_child(const char *path, char **sets, int nsets, char *err, size_t n) {
    LoadArgs a = {path, sets, nsets};
    int rc = t_in_child(load_fn, &a, err, n);
    char *nl = strchr(err, '\n');
    if (nl) *nl = 0;
    return rc;
}

int main(int argc, char **argv) {
    baselines_register();
    if (argc > 1) {
        char *sets[64];
        int ns = 0;
        for (int i = 2; i < argc; i++) {
            if (!strcmp(argv[i], "--set") && i + 1 < argc && ns < 64) sets[ns++] = argv[++i];
            else { fprintf(stderr, "usage: test_config CFG [--set k=v]...\n"); return 2; }
        }
        RunConfig *c = run_config_load(argv[1], sets, ns);
        char *s = run_config_dump(c);
        fputs(s, stdout);
        free(s);
        run_config_free(c);
        return 0;
    }

    char dir[] = "/tmp/l4q_test_config_XXXXXX";
    if (!mkdtemp(dir)) { perror("mkdtemp"); return 1; }
    char path[256], path2[256];
    snprintf(path, sizeof path, "%s/run.yaml", dir);
    snprintf(path2, sizeof path2, "%s/resolved.yaml", dir);
    write_text(path,
               "model: models/stories260K/stories260K.bin\n"
               "tokenizer: models/stories260K/tok512.bin\n"
               "data: {format: alpaca, train: alpaca/alpaca_data_1k.json, val_examples: 50}\n"
               "method: {name: lora, rank: 8, targets: [q, v]}\n"
               "train: {steps: 30, lr: 3.0e-4, warmup: 5, schedule: constant}\n"
               "eval: {tasks: [tinystories, arc_easy]}\n");
    char *sets[] = {"train.seed=7", "method.alpha=16"};
    RunConfig *c = run_config_load(path, sets, 2);
    CHECK(c->data.format == DATA_ALPACA && c->data.val_examples == 50 && c->data.mask_inputs == 1, "data section",
          "format %d val_examples %d", c->data.format, c->data.val_examples);
    CHECK(!strcmp(c->method.name, "lora") && c->method.rank == 8 && c->method.alpha == 16.0f &&
          c->method.targets == ((1u << P_Q) | (1u << P_V)), "method section", "rank %d alpha %g targets %x",
          c->method.rank, c->method.alpha, c->method.targets);
    CHECK(c->train.steps == 30 && c->train.lr == 3e-4 && c->train.seed == 7 && c->train.schedule == SCHED_CONSTANT &&
          run_config_warmup_steps(c) == 5 && c->train.micro_batch == 8 && c->train.beta2 == 0.999,
          "train section with defaults", "steps %ld lr %g seed %llu", c->train.steps, c->train.lr,
          (unsigned long long)c->train.seed);
    CHECK(c->eval.ntasks == 2 && !strcmp(c->eval.tasks[1], "arc_easy") && c->eval.every == 50, "eval section", "%d", c->eval.ntasks);
    CHECK(!strcmp(c->out, "runs/run"), "default out dir", "%s", c->out);
    CHECK(c->model[0] == '/' && file_exists(c->model), "model path resolved absolute", "%s", c->model);
    // The resolved text must reload to the same resolved text (defaults, absolute paths).
    char *d1 = run_config_dump(c);
    write_text(path2, d1);
    RunConfig *c2 = run_config_load(path2, NULL, 0);
    char *d2 = run_config_dump(c2);
    CHECK(!strcmp(d1, d2), "dump reloads to the same config", "\n%s\n---\n%s", d1, d2);
    free(d1); free(d2);
    run_config_free(c); run_config_free(c2);

    char err[1024];
    char *bad[] = {"train.steps=many"};
    int rc = load_in_child(path, bad, 1, err, sizeof err);
    CHECK(rc == 2 && !strcmp(err, "l4q: error: --set train.steps:1:1: train.steps: expected an integer, got 'many'"),
          "bad --set value is an input error", "rc %d: %s", rc, err);
    char *odt[] = {"train.optim_state=fp16"};
    rc = load_in_child(path, odt, 1, err, sizeof err);
    CHECK(rc == 2 && strstr(err, "train.optim_state") && strstr(err, "fp32") && strstr(err, "bf16"),
          "train.optim_state: an unknown dtype names the key and the choices", "rc %d: %s", rc, err);
    // optim_state appears in the resolved config only when it is not the default, so the
    // run ids of every fp32 run stay as they were; bf16 reloads to itself.
    char *b16[] = {"train.optim_state=bf16"};
    c = run_config_load(path, b16, 1);
    d1 = run_config_dump(c);
    write_text(path2, d1);
    c2 = run_config_load(path2, NULL, 0);
    d2 = run_config_dump(c2);
    CHECK(c->train.optim_state == DT_BF16 && c2->train.optim_state == DT_BF16 && !strcmp(d1, d2) && strstr(d1, "optim_state: bf16"),
          "train.optim_state bf16 round-trips through the resolved config", "%s", d1);
    free(d1); free(d2); run_config_free(c); run_config_free(c2);
    c = run_config_load(path, NULL, 0);
    d1 = run_config_dump(c);
    CHECK(c->train.optim_state == DT_F32 && !strstr(d1, "optim_state"), "train.optim_state fp32 (default) is not in the dump", "%s", d1);
    free(d1); run_config_free(c);
    // An anchor on a key used to leave the alias pointing at the freed key node.
    write_text(path, "&a model: x\nb: *a\n");
    rc = load_in_child(path, NULL, 0, err, sizeof err);
    CHECK(rc == 2 && strstr(err, "run.yaml:1:1: an anchor on a mapping key is not supported ('&a')"),
          "anchor on a mapping key is an input error", "rc %d: %s", rc, err);
    unlink(path); unlink(path2); rmdir(dir);
    T_EXIT();
}
