// preprocess.h — the named preprocessing steps of task data (`data.preprocess`):
// arc_llm_adapters, hellaswag, boolq_mosaic. Each rewrites the documents' fields in place;
// a malformed document is an input error naming the file and line.
#pragma once
#include "evals/taskdata.h"

void task_preprocess(DocSet *d, const char *step);
