// report.h — `l4q report DIR`: every run.h5 under DIR → report.md (findings, main table with
// paired statistics, memory/time), optionally LaTeX booktabs or CSV, and gnuplot PNGs.
// Numbers come only from the logs. Data model: table.h; statistics: compare.h, stats.h;
// the paper's claims: findings.h; plots: plots.h.
#pragma once

typedef struct {
    const char *format;     // "md" (default), "tex" or "csv": extra file besides report.md
    int plots;
    const char *reference;  // method of the reference row for paired differences (NULL: l4q)
    int raw_curves;         // with plots: each run's unsmoothed training loss too
} ReportOptions;

// Writes DIR/report.md (+ .tex/.csv, plots/*.png) and prints the main table on stdout.
// Unreadable runs and evaluation mismatches are listed in report.md and on stderr; the
// rest is reported. Returns 0; die_input when DIR has no run.h5 at all.
int report_write(const char *dir, const ReportOptions *o);
