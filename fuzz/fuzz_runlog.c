// fuzz_runlog.c — run.h5 through the one reader the sweep and the report use
// (runfile_read, core/runlog_read.c), status only and everything. Crashes inside
// libhdf5 itself are findings this code cannot fix; the report reads each run in a
// child process for that reason.
#include "fuzz.h"
#include "runlog_read.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *p = fuzz_file(data, size, ".h5");
    for (int what = RUNFILE_STATUS; what <= RUNFILE_ALL; what++) {
        RunFile rf;
        runfile_read(p, what, &rf);
        runfile_free(&rf);
    }
    return 0;
}
