// args.c — see cli.h.
#include "cli.h"
#include "usage.h"
#include "util.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

Flag *arg_get(Args *a, const char *name) {
    for (int i = 0; i < a->n; i++) if (!strcmp(a->flags[i].name, name)) return &a->flags[i];
    die_internal("flag --%s not declared", name);
}

void args_parse(Args *a, Flag *flags, int nflags, int argc, char **argv, const char *cmd) {
    a->flags = flags; a->n = nflags; a->npos = 0;
    for (int i = 0; i < argc; i++) {
        const char *s = argv[i];
        // Help wherever a flag may stand (not as another flag's value): the usage generated
        // from the help table, checked against this parse table.
        if (!strcmp(s, "-h") || !strcmp(s, "--help")) {
            usage_command(stdout, cmd, flags, nflags);
            exit(0);
        }
        if (strncmp(s, "--", 2) != 0 || !s[2]) {
            if (a->npos >= 8) die_input("%s: too many arguments", cmd);
            a->pos[a->npos++] = s; continue;
        }
        const char *eq = strchr(s + 2, '=');
        size_t len = eq ? (size_t)(eq - s - 2) : strlen(s + 2);
        Flag *f = NULL;
        for (int j = 0; j < nflags; j++)
            if (strlen(flags[j].name) == len && !strncmp(flags[j].name, s + 2, len)) f = &flags[j];
        if (!f) {
            char list[1024] = ""; size_t o = 0;
            for (int j = 0; j < nflags && o < sizeof list - 40; j++) o += snprintf(list + o, sizeof list - o, " --%s", flags[j].name);
            die_input("%s: unknown flag %s (valid:%s; l4q %s --help says what each does)", cmd, s, list, cmd);
        }
        f->given = 1;
        if (f->takes_value) {
            const char *v = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
            if (!v) die_input("%s: flag --%s needs a value", cmd, f->name);
            f->value = v;
            if (f->multi_n < 64) f->multi[f->multi_n++] = v;
        } else if (eq) die_input("%s: flag --%s takes no value", cmd, f->name);
    }
}
const char *arg_str(Args *a, const char *name, const char *def) { Flag *f = arg_get(a, name); return f->given ? f->value : def; }
int arg_flag(Args *a, const char *name) { return arg_get(a, name)->given; }
static double parse_num(const char *name, const char *v) {
    char *end; errno = 0;
    double d = strtod(v, &end);
    if (errno || end == v || *end) die_input("--%s: not a number: '%s'", name, v);
    return d;
}
int arg_int(Args *a, const char *name, int def) {
    Flag *f = arg_get(a, name);
    if (!f->given) return def;
    double d = parse_num(name, f->value);
    if (d != (int)d) die_input("--%s: not an integer: '%s'", name, f->value);
    return (int)d;
}
double arg_float(Args *a, const char *name, double def) { Flag *f = arg_get(a, name); return f->given ? parse_num(name, f->value) : def; }
