// task.h — evaluation tasks defined by YAML files (lm-evaluation-harness semantics):
// loading the task files, reading their data, and rendering documents into
// (context, continuation) requests. Scoring lives in harness.h.
//
// Task YAML schema (every key except `task` is optional; unknown keys are errors):
//
//   task: arc_easy                  # name; with `subtasks`, the family name
//   output_type: multiple_choice    # multiple_choice | minimal_pair | loglikelihood | perplexity
//   data:                           # the evaluated split
//     path: arc/ARC-Easy_test_llm_adapters.json  # relative: task dir, then $L4Q_DATA
//     format: json                  # jsonl | json (a list) | csv | hellaswag6 | text
//     preprocess: arc_llm_adapters  # named C step (see below)
//     labels: piqa/valid-labels.lst # one value per line, joined as field `label`
//     columns: [question, c0, c1, c2, c3, answer]   # csv: field names by position
//     header: true                  # csv: skip the first row (default true)
//   fewshot_data: { ... }           # the few-shot pool, same keys; absent ⇒ the evaluated
//                                   # split, and the evaluated document is never drawn
//   doc_to_text: "Question: {{question}}\nAnswer:"
//   doc_to_choice: "{{choices}}"    # a {{field}} naming a list, or a YAML list of templates
//   doc_to_target: "{{gold}}"       # renders to an index, or to one of the choices
//   multiple_input: false           # lm-eval "partial scoring" (winogrande): choices are
//                                   # contexts, doc_to_text renders the gold index and
//                                   # doc_to_target the shared continuation
//   description: ""                 # prepended once (may use {{subtask}}, {{category}})
//   target_delimiter: " "
//   fewshot_delimiter: "\n\n"
//   num_fewshot: 0                  # used when --shots is not given
//   fewshot: { sampler: random, seed: 1234 }   # sampler: random | first_n
//   metrics: [acc, acc_norm]        # acc acc_norm (multiple_choice); acc (minimal_pair);
//                                   # acc perplexity (loglikelihood); loss ppl (perplexity)
//   add_bos: true                   # contexts start with BOS (HF LLaMA tokenizers add it)
//   subtasks: [a, b] | {a: cat, b: cat}   # a family: one task <task>_<name> per entry,
//                                   # {{subtask}} usable in paths and templates; with a
//                                   # mapping, groups <task>_<category> are formed too
//   aggregate: { weight_by_size: true }   # how the family/group score combines members
//
// Group YAML:  group: csqa / task: [hellaswag, piqa, ...] / aggregate: {weight_by_size: false}
//
// Named preprocessing steps (what templates cannot express):
//   arc_llm_adapters — LLM-Adapters instruction records → query, choices[], gold
//   hellaswag        — lm-eval's hellaswag preprocess of ctx and endings → query, choices, gold
//   boolq_mosaic     — "Passage: P\nQuestion: Q?" → passage, question (no '?'), label
#pragma once
#include <cJSON.h>
#include <stdint.h>
#include <stdio.h>

typedef enum { OT_MULTIPLE_CHOICE, OT_MINIMAL_PAIR, OT_LOGLIKELIHOOD, OT_PERPLEXITY } OutputType;

typedef struct {
    char *path;          // resolved path
    int path_line;       // YAML line of the data spec (errors)
    char *format;        // jsonl json csv hellaswag6 text
    char *preprocess;    // NULL or a step name
    char *labels;        // NULL or resolved labels path
    char **columns; int ncolumns;
    int header;
} DataSpec;

enum { M_ACC = 1, M_ACC_NORM = 2, M_PPL = 4, M_LOSS = 8 };

typedef struct TaskDef {
    char name[128];       // unique name, e.g. mmlu_abstract_algebra
    char family[96];      // the YAML's `task`
    char file[1024];      // YAML path (errors)
    int line;
    OutputType type;
    DataSpec data, fewshot_data;
    int has_fewshot_data;
    char *doc_to_text, *doc_to_target, *doc_to_choice; // doc_to_choice NULL ⇒ choice_list
    char **choice_list; int nchoice_list;
    int multiple_input;
    char *description, *target_delimiter, *fewshot_delimiter;
    int num_fewshot;
    int sampler_first_n;
    uint64_t seed;
    unsigned metrics;
    int add_bos;
    cJSON *vars;          // {"subtask": ..., "category": ...} (may be empty)
} TaskDef;

typedef struct {
    char name[128];
    char file[1024];
    char **members; int n;  // task or group names
    int weight_by_size;
} GroupDef;

typedef struct {
    TaskDef *tasks; int ntasks;
    GroupDef *groups; int ngroups;
} TaskRegistry;

// Reads every *.yaml in the given directories (earlier directories win on name clashes,
// so --task-dir can override a built-in task). Malformed files → die_input(file:line).
TaskRegistry *tasks_registry(const char *const *dirs, int ndirs);
// The same, after first reading the task files that the n names (as --tasks gives them)
// name by path (task_item_is_path); tasks_select maps such an item to what its file defines.
TaskRegistry *tasks_registry_open(const char *const *names, int n, const char *const *dirs, int ndirs);
int task_item_is_path(const char *item); // contains '/' or ends in .yaml
void tasks_registry_free(TaskRegistry *r);
void tasks_registry_release(void *r); // tasks_registry_free for hold() (core/util.h)
// The built-in task directory: evals/tasks of the repository the binary belongs to
// (install_root), never the working directory.
const char *tasks_default_dir(void);
void tasks_print_available(const TaskRegistry *r, FILE *f);

// A selection: the leaf tasks to run and the groups to aggregate (children before
// parents). Unknown names → die_input with the list of available ones.
typedef struct {
    int *task_idx; int ntasks;     // into r->tasks, no duplicates, in request order
    int *group_idx; int ngroups;   // into r->groups, children first
} TaskSelection;
TaskSelection tasks_select(const TaskRegistry *r, const char *const *names, int n); // n = 0 → die_input
void tasks_selection_free(TaskSelection *s);

// The documents of a task: evals/taskdata.h; their named preprocessing steps:
// evals/preprocess.h; few-shot sampling: evals/pyrandom.h; rendering: evals/render.h.
