// cmd_report.c — `l4q report DIR [--format md|tex|csv] [--plots] [--reference METHOD|LABEL]` (results/report.h).
#include "cli.h"
#include "results/report.h"
#include "util.h"

int cmd_report(int argc, char **argv) {
    Flag fl[] = {FLAGV("format"), FLAGB("plots"), FLAGV("reference")};
    Args a;
    args_parse(&a, fl, sizeof fl / sizeof fl[0], argc, argv, "report");
    if (a.npos != 1) die_input("usage: l4q report DIR [--format md|tex|csv] [--plots] [--reference METHOD|LABEL]");
    ReportOptions o = {arg_str(&a, "format", "md"), arg_flag(&a, "plots"), arg_str(&a, "reference", "l4q")};
    return report_write(a.pos[0], &o);
}
