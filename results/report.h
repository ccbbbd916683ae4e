// report.h — `l4q report DIR`: every run.h5 under DIR → paper-shaped tables (report.md,
// optionally LaTeX booktabs and CSV) and gnuplot PNGs. Numbers come only from the logs.
//
// Rows: one per (method, bit-width, inference form, row settings), where the row settings
// are the config keys that vary between runs of the same method and bit-width (e.g.
// method.rank in a rank ablation) other than train.seed; runs differing only in seed are
// averaged: mean ± sample std (n−1) over the seeds that have the value. Bit-width is
// method.bits when the config has it, else the leading number of the form ("nf4&fp" → 4),
// else unquantized ("fp"). Rows are grouped fp first, then by bits descending; the best
// mean per column within each bit-width is bold (ties at display precision all bold).
// Columns: each task of eval.tasks with its primary metric (ppl for perplexity tasks,
// lower is better; else acc in percent), plus Avg = mean of the accuracy columns when
// there are two or more. A run missing a value leaves it out of that cell's mean only.
// Runs whose status is not `complete` (running, failed, unreadable) are listed, never
// averaged in.
#pragma once
#include <stddef.h>
#include <stdio.h>

typedef struct {
    char path[4096];        // run.h5
    char rel[1024];         // its directory relative to the report DIR
    char status[32];        // complete | running | failed | corrupt
    char method[32], form[32];
    int bits;               // 0 = unquantized
    char **keys, **vals;    // flattened resolved config ("train.lr" → "0.0005")
    int nkv;
    char **tasks;           // eval.tasks
    int ntasks;
    char **mnames;          // final eval values: "val_loss", "<task>/<metric>"
    double *mvals;
    int nm;
    double *tstep, *tloss;  // train/step, train/loss
    size_t ntrain;
    long long mem[6];       // memory group attributes (see runlog.h), −1 when absent
    double seconds;         // end_time − start_time (NaN if unknown)
    double tokens_per_s;    // mean of train/tokens_per_s (NaN if no steps)
    long steps;             // last train/step (0 when not fine-tuned)
} RunRec;

typedef struct {
    char label[512];        // "L4Q", "L4Q (rank=8)"
    char method[32], form[32], settings[400];
    int bits;
    int *runs, n;           // indices into Report.runs
} RowGroup;

typedef struct {
    char title[160];        // "BLiMP", "TinyStories PPL"
    char key[200];          // "<task>/<metric>", "val_ppl" or "avg"
    int higher_better, is_acc, decimals;
    double scale;           // acc → percent
} Column;

typedef struct {
    char dir[4096];
    RunRec *runs; int nruns;   // complete runs
    RunRec *bad; int nbad;     // not complete
    RowGroup *rows; int nrows;
    char **rowkeys; int nrowkeys;
    Column *cols; int ncols;
} Report;

typedef struct {
    const char *format;     // "md" (default), "tex" or "csv": extra file besides report.md
    int plots;
} ReportOptions;

// Writes DIR/report.md (+ .tex/.csv, plots/*.png) and prints the main table on stdout.
// Returns 0; die_input when DIR has no run.h5 at all.
int report_write(const char *dir, const ReportOptions *o);

// Value of column c for run r (NaN if absent), already scaled.
double report_value(const Report *rep, const RunRec *r, const Column *c);
// Mean, sample std and count of a column over a row's runs.
void report_cell(const Report *rep, const RowGroup *g, const Column *c, double *mean, double *sd, int *n);

// plots.c: PNGs under DIR/plots via gnuplot; appends a "## Plots" section with links to
// md. Missing gnuplot is reported in the section, not an error.
void report_plots(const Report *rep, FILE *md);
