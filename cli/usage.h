// usage.h — the help text of build/l4q: one line per command and per flag. `l4q --help`,
// `l4q CMD --help` / `-h` and the "unknown flag" error are generated from it, and
// usage_command checks it against the command's own parse table (args_parse's Flag[]):
// a flag parsed but not described, or described but not parsed, is an internal error,
// which tests/test_cli_help.sh runs into for every command — so the two cannot drift.
#pragma once
#include "cli.h"
#include <stdio.h>

typedef struct { const char *name, *arg, *help; int required; } FlagHelp;  // arg NULL: a boolean flag
typedef struct {
    const char *name, *operands, *about;  // operands: the positional synopsis ("CONFIG.yaml")
    FlagHelp flags[24];                    // ends at the first entry without a name
} CommandHelp;

const CommandHelp *command_help(const char *name); // NULL when unknown
// The top-level usage: every command with every flag, and the global options.
void usage_top(FILE *f);
// `l4q CMD --help`: synopsis, one line per flag. parsed/n: the command's parse table,
// checked against the help table (die_internal on a difference).
void usage_command(FILE *f, const char *cmd, const Flag *parsed, int n);
