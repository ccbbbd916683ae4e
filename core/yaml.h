// yaml.h — a YAML document as a tree with source positions (libyaml underneath), so every
// config error can say file:line:col. Strict: duplicate keys are errors; readers mark the
// keys they consume and y_check_unused() rejects the rest.
#pragma once
#include <stddef.h>

typedef enum { Y_SCALAR, Y_SEQ, Y_MAP } YKind;
typedef struct YNode {
    YKind kind;
    int line, col;          // 1-based
    const char *file;       // shared, owned by the root
    char *str;              // Y_SCALAR text
    int quoted;             // scalar was quoted (so "1" stays a string)
    int n;                  // Y_SEQ / Y_MAP: item count
    struct YNode **items;   // values
    char **keys;            // Y_MAP keys
    int *key_line, *key_col;
    unsigned char *used;    // Y_MAP: key consumed by a reader
} YNode;

YNode *yaml_load_file(const char *path);                    // die_input on syntax/dup keys
YNode *yaml_load_string(const char *text, const char *name);
// libyaml.so exports an internal `yaml_free(void*)` that it calls itself; a global of the
// same name here would interpose it and crash the parser. Callers still write yaml_free.
#define yaml_free ynode_free
void yaml_free(YNode *n);
void yaml_release(void *n); // yaml_free for hold() (util.h)
char *yaml_dump(const YNode *n);                            // malloc'd block-style YAML
YNode *yaml_clone(const YNode *n);

YNode *y_get(YNode *map, const char *key);                  // NULL if absent; marks used
YNode *y_req(YNode *map, const char *key);                  // die "missing required key"
_Noreturn void y_die(const YNode *n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *y_str(const YNode *n);                          // die unless scalar
long y_int(const YNode *n);                                 // die unless integer
double y_float(const YNode *n);                             // die unless number
int y_bool(const YNode *n);                                 // true/false/yes/no
void y_check_unused(const YNode *map, const char *section); // die "unknown key"
void y_del(YNode *map, const char *key); // removes key (and frees its value) if present
// Every key of map must be one of known (NULL-terminated); otherwise die "unknown key 'K'
// in 'section'" with the nearest known key (edit distance ≤ 2 or a third of its length)
// as "did you mean". For readers whose missing-key errors would otherwise hide a typo.
void y_check_keys(const YNode *map, const char *const *known, const char *section);
// --set a.b.c=value: creates or replaces a scalar (value parsed as YAML, so lists work).
void y_set_path(YNode *root, const char *assignment);
// Map/seq building (for resolved configs and sweeps).
YNode *y_new_map(void);
YNode *y_new_seq(void);
YNode *y_new_scalar(const char *s);
void y_map_put(YNode *map, const char *key, YNode *val);    // replaces existing
void y_seq_push(YNode *seq, YNode *val);
