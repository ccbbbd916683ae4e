// table.h — the report's data model: every run.h5 under DIR (read with runlog_read.h),
// grouped into rows, and the columns of the main table. The writers (report.c), the
// statistics (compare.c, findings.c) and the plots (plots.c) all read it; it calls none of them.
//
// Rows: one per (method, bit-width, inference form, row settings), where the row settings
// are the config keys that vary between runs of the same method and bit-width (e.g.
// method.rank in a rank ablation) other than train.seed; runs differing only in seed are
// averaged: mean ± sample std (n−1) over the seeds that have the value. Bit-width is
// method.bits when the config has it, else the leading number of the form ("nf4&fp" → 4),
// else unquantized ("fp"). Rows are grouped fp first, then by bits descending.
// Columns: each task of eval.tasks with its primary metric (ppl for perplexity tasks,
// lower is better; else acc in percent), plus Avg = mean of the accuracy columns not at
// chance (compare.h) when there are two or more. A run missing a value leaves it out of
// that cell's mean only. Runs whose status is not `complete` (running, failed,
// unreadable) are listed, never averaged in.
#pragma once
#include "runlog_read.h"
#include <stddef.h>

typedef struct {
    char rel[1024];         // its directory relative to the report DIR
    char status[32];        // complete | running | failed | unreadable
    char method[32], form[32];
    int bits;               // 0 = unquantized
    long seed;              // train.seed (0 when the config has none)
    char **keys, **vals;    // flattened resolved config ("train.lr" → "0.0005")
    int nkv;
    char **tasks;           // eval.tasks
    int ntasks;
    char **mnames;          // final eval values: "val_loss", "<task>/<metric>"
    double *mvals;
    int nm;
    const double *tstep, *tloss; // train/step, train/loss (owned by file)
    size_t ntrain;
    long long mem[RUNLOG_NMEM]; // memory group attributes, −1 when absent
    double seconds;         // end_time − start_time (NaN if unknown)
    double tokens_per_s;    // mean of train/tokens_per_s (NaN if no steps)
    long steps;             // last train/step (0 when not fine-tuned)
    RunFile file;           // everything read (path, error, attributes, per-document evidence)
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
    int at_chance;          // compare.c: no row's score CI lies above the chance level
} Column;

typedef struct {
    char dir[4096];
    RunRec *runs; int nruns;   // complete runs
    RunRec *bad; int nbad;     // not complete
    RowGroup *rows; int nrows;
    char **rowkeys; int nrowkeys;
    Column *cols; int ncols;
} Report;

// Reads every run.h5 below dir (sorted walk), groups rows and builds the columns.
void table_load(Report *rep, const char *dir);
void table_free(Report *rep);

// Value of column c for run r (NaN if absent), already scaled.
double table_value(const Report *rep, const RunRec *r, const Column *c);
// Mean, sample std and count of a column over a row's runs.
void table_cell(const Report *rep, const RowGroup *g, const Column *c, double *mean, double *sd, int *n);
void table_add_col(Report *rep, const char *title, const char *key, int higher, int is_acc, int dec, double scale);
int table_any_metric(const Report *rep, const char *key);
const char *table_cfg(const RunRec *r, const char *key);
// A row setting as the report shows it: v, or for a key the run config leaves out at its
// default (train.precision, train.optim_state, train.device) that default, else "-".
const char *setting_shown(const char *key, const char *v);
const char *table_display_name(const char *method);
const char *table_task_title(const char *task);
const char *table_bits_label(int bits);
// Memory/time cell: which 0..5 = memory attribute (MB), 6 steps, 7 wall seconds, 8 tokens/s.
void table_mem_cell(const Report *rep, const RowGroup *g, int which, double *mean, double *sd, int *n);
