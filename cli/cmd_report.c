// cmd_report.c — `l4q report DIR [--format md|tex|csv] [--plots] [--raw-curves] [--reference METHOD|LABEL]` (results/report.h).
#include "cli.h"
#include "results/report.h"
#include "util.h"

int cmd_report(int argc, char **argv) {
    Flag fl[] = {FLAGV("format"), FLAGB("plots"), FLAGB("raw-curves"), FLAGV("reference")};
    Args a;
    args_parse(&a, fl, sizeof fl / sizeof fl[0], argc, argv, "report");
    if (a.npos != 1) die_input("report: expected one DIR; l4q report --help lists the options");
    ReportOptions o = {arg_str(&a, "format", "md"), arg_flag(&a, "plots"), arg_str(&a, "reference", "l4q"), arg_flag(&a, "raw-curves")};
    return report_write(a.pos[0], &o);
}
