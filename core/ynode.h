// ynode.h — a YAML document as a tree with source positions (libyaml underneath), so every
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

YNode *y_load_file(const char *path);                    // die_input on syntax/dup keys
YNode *y_load_string(const char *text, const char *name);
void y_free(YNode *n);
void y_release(void *n); // y_free for hold() (util.h)
char *y_dump(const YNode *n);                            // malloc'd block-style YAML
YNode *y_clone(const YNode *n);

YNode *y_get(YNode *map, const char *key);                  // NULL if absent; marks used
YNode *y_req(YNode *map, const char *key);                  // die "missing required key"
_Noreturn void y_die(const YNode *n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *y_str(const YNode *n);                          // die unless scalar
long y_int(const YNode *n);                                 // die unless integer
double y_float(const YNode *n);                             // die unless number
int y_bool(const YNode *n);                                 // true/false/yes/no
void y_check_unused(const YNode *map, const char *section); // die "unknown key"
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
void y_map_del(YNode *map, const char *key);                // frees the value; no-op if absent
// Lookup without marking the key used (a strictness check must still see keys only peeked
// at); NULL when absent or map is not a mapping.
YNode *y_peek(const YNode *map, const char *key);
void y_use(YNode *map, int i);                              // marks map entry i consumed
void y_set_pos(YNode *n, const YNode *pos);                 // n reports pos's file:line:col
void y_set_str(YNode *scalar, const char *s);               // replaces a scalar's text
