// fuzz_taskdata.c — the task data formats: the input is the data file of a fixed task
// per format and preprocessing step (jsonl, json, csv, hellaswag6, text; the named
// preprocess steps), chosen by the first byte; every document is loaded.
#include "evals/render.h"
#include "evals/task.h"
#include "fuzz.h"
#include <sys/stat.h>

static const char *const SPECS[] = {
    "format: jsonl",
    "format: json",
    "format: csv, columns: [question, c0, c1, c2, c3, answer]",
    "format: csv, header: false",
    "format: hellaswag6, preprocess: hellaswag",
    "format: json, preprocess: arc_llm_adapters",
    "format: jsonl, preprocess: boolq_mosaic",
    "format: text",
};
enum { NSPECS = sizeof SPECS / sizeof *SPECS };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    const char *dir = fuzz_scratch_path(3, "_taskdata");
    mkdir(dir, 0755);
    int k = data[0] % NSPECS;
    char yaml[1024];
    fuzz_write(fuzz_scratch_path(1, "_taskdata/data.bin"), data + 1, size - 1);
    snprintf(yaml, sizeof yaml, "task: fuzz\noutput_type: %s\ndata: {path: data.bin, %s}\n"
             "doc_to_text: \"{{query}}\"\ndoc_to_choice: \"{{choices}}\"\ndoc_to_target: \"{{gold}}\"\n",
             k == NSPECS - 1 ? "perplexity" : "multiple_choice", SPECS[k]);
    fuzz_write(fuzz_scratch_path(2, "_taskdata/t.yaml"), yaml, strlen(yaml));
    FUZZ_GUARDED({
        const char *dirs[1] = {dir};
        TaskRegistry *r = hold(tasks_registry(dirs, 1), tasks_registry_release);
        docset_free(docset_load(&r->tasks[0], &r->tasks[0].data));
        hold_unwind(0);
    });
    return 0;
}
