// cli.h — the subcommands of build/l4q (README "Commands") and a small flag parser they share.
#pragma once
int cmd_info(int argc, char **argv);
int cmd_generate(int argc, char **argv);
int cmd_ppl(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_sweep(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);

// Flags: "--name value" or "--name=value"; booleans take no value. Positional args are
// collected in order. Unknown flag → die_input listing the valid ones. -h / --help prints
// the command's usage (cli/usage.c, checked against flags) and exits 0.
typedef struct { const char *name; int takes_value; const char *value; int given; int multi_n; const char *multi[64]; } Flag;
// Declare flags with these (designated initializers keep -Wextra quiet).
#define FLAGV(n) {.name = (n), .takes_value = 1}
#define FLAGB(n) {.name = (n), .takes_value = 0}
typedef struct { Flag *flags; int n; const char *pos[8]; int npos; } Args;
void args_parse(Args *a, Flag *flags, int nflags, int argc, char **argv, const char *cmd);
const char *arg_str(Args *a, const char *name, const char *def);
int arg_int(Args *a, const char *name, int def);
double arg_float(Args *a, const char *name, double def);
int arg_flag(Args *a, const char *name);
Flag *arg_get(Args *a, const char *name);
