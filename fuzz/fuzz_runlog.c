// fuzz_runlog.c — run.h5 through the readers the sweep and the report use
// (runlog_read_status/attr/dataset). Crashes inside libhdf5 itself are findings we
// cannot fix here; the report isolates each file (results/).
#include "fuzz.h"
#include "runlog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *p = fuzz_file(data, size, ".h5");
    char st[64];
    runlog_read_status(p, st, sizeof st);
    free(runlog_read_attr(p, "config"));
    size_t n;
    free(runlog_read_dataset(p, "train/loss", &n));
    free(runlog_read_dataset(p, "eval/step", &n));
    return 0;
}
