// test_runlog.c — run.h5 writer and its one reader (runlog_read.h).
//   test_runlog              self-test (write, read back, resume with truncation)
//   test_runlog write PATH   a small complete log for tests/test_runlog.py (h5py side)
//   test_runlog killme PATH  logs 50 steps + one eval (flushed), prints FLUSHED, then
//                            appends train rows forever until killed
#include "runlog.h"
#include "runlog_read.h"
#include "testlib.h"
#include "util.h"
#include <hdf5.h>
#include <setjmp.h>
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
    MemAccount m = {1000, 200, 600, 300, 50, 0};
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
    RunFile rf;
    CHECK(runfile_read(path, RUNFILE_ALL, &rf) == 0 && !strcmp(rf.status, "complete"), "status complete", "%s %s", rf.status, rf.error);
    const char *cfg = runfile_attr(&rf, "config");
    CHECK(cfg && !strcmp(cfg, CONFIG), "config attribute", "%s", cfg ? cfg : "(null)");
    const RunSeries *loss = runfile_series(&rf, "train/loss");
    CHECK(loss && loss->n == 10 && loss->v[9] == 4.0, "train/loss", "n=%zu", loss ? loss->n : 0);
    const RunSeries *step = runfile_series(&rf, "eval/arc_easy/step");
    CHECK(step && step->n == 2 && step->v[0] == 5 && step->v[1] == 10, "one eval step row per eval", "n=%zu", step ? step->n : 0);
    CHECK(runfile_series(&rf, "train/nope") == NULL, "missing dataset → NULL", "%s", "");
    CHECK(rf.mem[0] == 1000 && rf.mem[5] == 123456789, "memory group", "%lld %lld", rf.mem[0], rf.mem[5]);
    runfile_free(&rf);
    CHECK(runfile_read(path, RUNFILE_STATUS, &rf) == 0 && !strcmp(rf.status, "complete") && rf.nseries == 0, "status-only read", "%s", rf.status);
    runfile_free(&rf);
    char miss[300];
    snprintf(miss, sizeof miss, "%s/missing.h5", dir);
    CHECK(runfile_read(miss, RUNFILE_ALL, &rf) == -1 && !strcmp(rf.status, "unreadable") && strstr(rf.error, "no such file"),
          "missing file → unreadable", "%s", rf.error);
    runfile_free(&rf);
    FILE *f = fopen(miss, "w");
    fputs("not hdf5", f);
    fclose(f);
    CHECK(runfile_read(miss, RUNFILE_STATUS, &rf) == -1 && !strcmp(rf.status, "unreadable") && rf.error[0], "corrupt file → unreadable", "%s", rf.error);
    runfile_free(&rf);

    // The same read in this process (the fuzz target's): the same RunFile.
    RunFile here, there;
    runfile_read(path, RUNFILE_ALL, &there);
    CHECK(runfile_read_here(path, RUNFILE_ALL, &here) == 0 && here.nattrs == there.nattrs && here.nseries == there.nseries &&
          here.mem[5] == there.mem[5] && runfile_series(&here, "train/loss")->v[9] == 4.0, "in-process read = child's read",
          "%d/%d attrs, %d/%d series", here.nattrs, there.nattrs, here.nseries, there.nseries);
    runfile_free(&here); runfile_free(&there);
    // A damaged config attribute dies inside the read (util.h die_longjmp catches it here):
    // what was read and the open file go with it, and the child's read reports the reason.
    char badcfg[300];
    snprintf(badcfg, sizeof badcfg, "%s/badcfg.h5", dir);
    RunLog *bl = runlog_create(badcfg, "model: [m.bin\n", "l4q", "4");
    runlog_status(bl, "complete");
    runlog_close(bl);
    static jmp_buf jb;
    size_t mark = hold_mark();
    int died = 0;
    if (setjmp(jb) == 0) {
        die_longjmp(&jb, 1);
        runfile_read_here(badcfg, RUNFILE_ALL, &here);
    } else died = 1;
    die_longjmp(NULL, 0);
    CHECK(died && hold_mark() == mark && H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL) == 0, "a read that dies leaves nothing held or open",
          "died %d, held %zu, open %lld", died, hold_mark() - mark, (long long)H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL));
    CHECK(runfile_read(badcfg, RUNFILE_ALL, &there) == -1 && strstr(there.error, "config attribute"), "damaged config → unreadable, reason named",
          "%s", there.error);
    runfile_free(&there);
    unlink(badcfg);

    // Resume from a checkpoint at step 7: rows after 7 are dropped, appends continue.
    RunLog *rl = runlog_open_append(path, 7, 7);
    runlog_train(rl, 8, 0.8, 1e-4, 1, 1, 1);
    runlog_eval(rl, 8, NULL, "val_loss", 3.3);
    runlog_eval(rl, 8, NULL, "val_ppl", 27.1);
    runlog_status(rl, "complete");
    runlog_close(rl);
    runfile_read(path, RUNFILE_ALL, &rf);
    const RunSeries *ts = runfile_series(&rf, "train/step");
    CHECK(ts && ts->n == 8 && ts->v[6] == 7 && ts->v[7] == 8, "resume truncates train rows after the checkpoint", "n=%zu", ts ? ts->n : 0);
    const RunSeries *es = runfile_series(&rf, "eval/step"), *ev = runfile_series(&rf, "eval/val_loss");
    CHECK(es && ev && es->n == 2 && ev->n == 2 && es->v[0] == 5 && es->v[1] == 8 && ev->v[1] == 3.3, "resume truncates eval rows", "%s", "");
    const RunSeries *ta = runfile_series(&rf, "eval/arc_easy/acc");
    CHECK(ta && ta->n == 1, "resume truncates task rows", "n=%zu", ta ? ta->n : 0);
    runfile_free(&rf);
    unlink(path); unlink(miss); rmdir(dir);
    T_EXIT();
}
