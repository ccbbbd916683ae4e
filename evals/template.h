// template.h — the small prompt-template language of task YAML files.
//
// A template is literal text with {{ expr }} substitutions (YAML escapes such as "\n" are
// decoded by YAML itself, not here). expr is a path followed by optional filters:
//
//     path    := name ( '.' name | '[' integer ']' )*      e.g. question, choices[2], a.b[0]
//     filter  := strip | lstrip | rstrip | capitalize | lower | upper | spaces
//     expr    := path ( '|' filter )*                       e.g. {{question|strip}}
//
// Names are looked up in the document first, then in the task variables (`subtask`,
// `category` for task families such as MMLU). Numbers render as integers when integral;
// booleans as "true"/"false". `capitalize` is Python's str.capitalize (first character
// upper, the rest lower); `spaces` turns '_' into ' ' (MMLU subject names). Anything the
// language cannot express is a named preprocessing step in C (task.c), not a new syntax.
#pragma once
#include <cJSON.h>

// Render into a malloc'd string. On error returns NULL and writes a one-line reason to
// err (the caller adds the file/line of the template or data row).
char *tmpl_render(const char *tmpl, const cJSON *doc, const cJSON *vars, char *err, size_t errsz);
// If tmpl is exactly one {{path}} (filters not allowed) naming a JSON array, return that
// array (borrowed); else NULL. Used for doc_to_choice: "{{choices}}".
const cJSON *tmpl_array(const char *tmpl, const cJSON *doc, const cJSON *vars);
// Syntax check without a document (task loading reports bad templates up front).
int tmpl_check(const char *tmpl, char *err, size_t errsz);
