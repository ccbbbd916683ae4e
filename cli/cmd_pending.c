// cmd_pending.c — TEMPORARY during development: commands whose implementation has not
// landed yet. Each is removed from here when its real file lands.
#include "cli.h"
#include "util.h"
int cmd_export(int c, char **v) { (void)c; (void)v; die_internal("export: not built yet"); }
