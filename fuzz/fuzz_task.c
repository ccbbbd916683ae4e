// fuzz_task.c — evaluation task YAML: the input is a task file in a private directory;
// the registry reads it, and every task it defines loads its data and renders its
// documents (the real data files under L4Q_DATA when the YAML points there).
#include "evals/task.h"
#include "fuzz.h"
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static char dir[256];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "%s/l4q_fuzz_tasks_%d", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
        mkdir(dir, 0755);
    }
    char path[300];
    snprintf(path, sizeof path, "%s/t.yaml", dir);
    FILE *f = fopen(path, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0) abort();
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
