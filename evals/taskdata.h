// taskdata.h — the documents of a task's data split (task.h's DataSpec), read from disk.
#pragma once
#include "evals/task.h"
#include <cJSON.h>
#include <stddef.h>

// Documents of one split, each with the data line it came from (errors name it).
typedef struct {
    cJSON **docs; int *lines; int n;
    char path[1024];
    char *text; size_t text_len;   // format text: the raw file (perplexity tasks)
} DocSet;
DocSet *docset_load(const TaskDef *t, const DataSpec *d);
void docset_free(DocSet *d);
