// compare.h — the report's paired statistics on the per-document evidence in run.h5
// (/docs): score intervals, "at chance" columns, paired differences against a reference
// row, significance-based bold, and the evaluation-mismatch check. Numbers: stats.h.
//
// Units. A column's evidence in one run is its leaf tasks' documents (a group such as csqa
// or blimp is its members, weighted as the group score weights them: plain mean, or by size
// for weight_by_size groups), or a perplexity task's windows. Runs of two rows are paired
// by train.seed (a row with a single run — the pre-trained model, a PTQ method — is
// paired with every run of the other row); document d of a pair is matched to document d
// of every other pair, and pooled over the pairs: unit d carries the sum over seeds of
// the per-seed differences (so a document's seeds are resampled and flipped together).
// Accuracy: the difference of mean accuracies, in points. Perplexity: the difference of
// token-weighted mean NLL (Σ nll / Σ ntok over windows; nats per token), shown as the
// relative change of PPL, exp(Δ) − 1.
// Intervals: 95 % percentile bootstrap (2000 replicates). p: sign-flip permutation test
// (exact binomial/McNemar when it applies, else 10 000 Monte Carlo draws). Pooling seeds
// leaves the variation between seeds out of p, so beside it seeds_p tests the rows' per-run
// values against each other (each seed one unit, stats_welch_p).
#pragma once
#include "evals/task.h"
#include "table.h"

typedef struct {
    int ok;                  // 0: not compared (why)
    char why[320];
    double est, lo, hi, p;   // row − other; accuracy in points, perplexity ΔNLL (nats/token)
    int exact;               // p exact (else Monte Carlo)
    long units;              // documents or windows
    int npairs;              // run pairs pooled
    int is_ppl;
    double seeds_p;          // Welch over the two rows' per-run values (PPL: log PPL); NaN without 2+ runs each
} Paired;

typedef struct ColData ColData;

typedef struct {
    const Report *rep;
    TaskRegistry *reg;
    char reference[512];     // what --reference named: a method, or a row label
    int ref_by_label;        // 1: it matched a row label exactly (case-insensitive)
    ColData **cache;         // nruns × ncols, built on demand
    double *ci_lo, *ci_hi;   // nrows × ncols: the row's score CI (display units), NaN without evidence
    double *chance;          // ncols: chance level (display units), NaN when undefined
    int *bold;               // nrows × ncols
    int *ref_row;            // nrows: its reference row, −1 for none (or itself)
    Paired *vs_ref;          // nrows × ncols
    int nevidence;           // complete runs with per-document evidence
    char **mismatch;         // one line per run evaluated on different documents
    int nmismatch;
} Analysis;

// Everything above; sets rep->cols[c].at_chance. reference: a row label such as
// "L4Q (init=minmax)" or a method name (NULL: "l4q"); for a method with several rows at a
// bit-width, its row without settings if there is one, else the first (the report says which).
void analysis_run(Analysis *an, Report *rep, const char *reference);
void analysis_free(Analysis *an);
int reference_row(const Analysis *an, int bits, int *ncand);
// Documents (perplexity: windows) behind column col in the runs' evidence (the most any run
// has; 0 without evidence).
size_t analysis_units(Analysis *an, int col);
// Row `row` against row `other` on column `col` (not Avg).
void analysis_compare(Analysis *an, int row, int other, int col, Paired *out);
// "+1.2 [−0.3, +2.6]" (points) or "+3.1% [+1.0, +5.2]" (PPL change), and "p=0.012".
void paired_format(const Paired *p, char *effect, size_t n_effect, char *pval, size_t n_pval);
// "NAME<0.0001" or "NAME=0.012" (2 significant digits): NAME "p", or "seeds p".
void pvalue_format(const char *name, double p, char *buf, size_t n);
