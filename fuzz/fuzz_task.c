// fuzz_task.c — evaluation task YAML: the input is a task file in a private directory;
// the registry reads it, and every task it defines loads its data and renders its
// documents (the real data files under L4Q_DATA when the YAML points there).
#include "evals/render.h"
#include "evals/task.h"
#include "fuzz.h"
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *dir = fuzz_scratch_path(3, "_tasks");
    mkdir(dir, 0755);
    fuzz_write(fuzz_scratch_path(1, "_tasks/t.yaml"), data, size);
    FUZZ_GUARDED({
        const char *dirs[1] = {dir};
        TaskRegistry *r = hold(tasks_registry(dirs, 1), tasks_registry_release);
        // Data under 256 KB only: the full HellaSwag or MMLU files take seconds under ASan
        // and exercise the data readers, which fuzz_taskdata covers.
        for (int i = 0; i < r->ntasks && i < 4; i++) {
            struct stat st;
            if (stat(r->tasks[i].data.path, &st) == 0 && st.st_size > (256 << 10)) continue;
            DocSet *d = docset_load(&r->tasks[i], &r->tasks[i].data);
            docset_free(d);
        }
        hold_unwind(0);
    });
    return 0;
}
