// test_runlog.c — run.h5 writer/readers.
//   test_runlog              self-test (write, read back, resume with truncation)
//   test_runlog write PATH   a small complete log for tests/test_runlog.py (h5py side)
//   test_runlog killme PATH  logs 50 steps + one eval (flushed), prints FLUSHED, then
//                            appends train rows forever until killed
#include "runlog.h"
#include "testlib.h"
#include "util.h"
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *CONFIG = "model: m.bin\ntrain:\n  steps: 10\n";

static void write_log(const char *path) {
    RunLog *rl = runlog_create(path, CONFIG, "l4q", "4");
    for (long s = 1; s <= 10; s++) {
        runlog_train(rl, s, 5.0 - 0.1 * s, 1e-4 * s, 0.5 + s, 1000.0 * s, (size_t)s << 20);
        if (s % 5 == 0) {
            runlog_eval(rl, s, NULL, "val_loss", 4.0 - 0.1 * s);
            runlog_eval(rl, s, NULL, "val_ppl", 50.0 - s);
            runlog_eval(rl, s, "arc_easy", "acc", 0.25 + 0.01 * s);
            runlog_eval(rl, s, "arc_easy", "acc_norm", 0.3 + 0.01 * s);
        }
    }
    MemAccount m = {1000, 200, 600, 300, 50};
    runlog_memory(rl, &m, 123456789);
    runlog_attr(rl, "note", "hello");
    runlog_status(rl, "complete");
    runlog_close(rl);
}

int main(int argc, char **argv) {
    if (argc == 3 && !strcmp(argv[1], "write")) { write_log(argv[2]); return 0; }
    if (argc == 3 && !strcmp(argv[1], "killme")) {
        RunLog *rl = runlog_create(argv[2], CONFIG, "lora", "fp32");
        for (long s = 1; s <= 50; s++) runlog_train(rl, s, 1.0 / s, 1e-3, 1, 1, 1);
        runlog_eval(rl, 50, NULL, "val_loss", 2.5);
        printf("FLUSHED\n");
        fflush(stdout);
        for (long s = 51;; s++) {
            runlog_train(rl, s, 1.0 / s, 1e-3, 1, 1, 1);
            if (s % 1000 == 0) runlog_eval(rl, s, "task", "acc", 0.5); // creates datasets mid-run
        }
    }
    if (argc > 1) { fprintf(stderr, "usage: test_runlog [write PATH | killme PATH]\n"); return 2; }

    char dir[] = "/tmp/l4q_test_runlog_XXXXXX";
    if (!mkdtemp(dir)) { perror("mkdtemp"); return 1; }
    char path[256];
    snprintf(path, sizeof path, "%s/run.h5", dir);
    write_log(path);
    char st[32];
    CHECK(runlog_read_status(path, st, sizeof st) == 0 && !strcmp(st, "complete"), "status complete", "%s", st);
    char *cfg = runlog_read_attr(path, "config");
    CHECK(cfg && !strcmp(cfg, CONFIG), "config attribute", "%s", cfg ? cfg : "(null)");
    free(cfg);
    size_t n;
    double *loss = runlog_read_dataset(path, "train/loss", &n);
    CHECK(loss && n == 10 && loss[9] == 4.0, "train/loss", "n=%zu", n);
    free(loss);
    double *step = runlog_read_dataset(path, "eval/arc_easy/step", &n);
    CHECK(step && n == 2 && step[0] == 5 && step[1] == 10, "one eval step row per eval", "n=%zu", n);
    free(step);
    CHECK(runlog_read_dataset(path, "train/nope", &n) == NULL && n == 0, "missing dataset → NULL", "%s", "");
    char miss[300];
    snprintf(miss, sizeof miss, "%s/missing.h5", dir);
    CHECK(runlog_read_status(miss, st, sizeof st) == -1, "missing file → -1", "%s", "");
    FILE *f = fopen(miss, "w");
    fputs("not hdf5", f);
    fclose(f);
    CHECK(runlog_read_status(miss, st, sizeof st) == -1, "corrupt file → -1", "%s", "");

    // Resume from a checkpoint at step 7: rows after 7 are dropped, appends continue.
    RunLog *rl = runlog_open_append(path, 7, 7);
    runlog_train(rl, 8, 0.8, 1e-4, 1, 1, 1);
    runlog_eval(rl, 8, NULL, "val_loss", 3.3);
    runlog_eval(rl, 8, NULL, "val_ppl", 27.1);
    runlog_status(rl, "complete");
    runlog_close(rl);
    double *ts = runlog_read_dataset(path, "train/step", &n);
    CHECK(ts && n == 8 && ts[6] == 7 && ts[7] == 8, "resume truncates train rows after the checkpoint", "n=%zu", n);
    free(ts);
    double *es = runlog_read_dataset(path, "eval/step", &n), *ev = runlog_read_dataset(path, "eval/val_loss", &n);
    CHECK(es && ev && n == 2 && es[0] == 5 && es[1] == 8 && ev[1] == 3.3, "resume truncates eval rows", "n=%zu", n);
    free(es); free(ev);
    double *ta = runlog_read_dataset(path, "eval/arc_easy/acc", &n);
    CHECK(ta && n == 1, "resume truncates task rows", "n=%zu", n);
    free(ta);
    unlink(path); unlink(miss); rmdir(dir);
    T_EXIT();
}
