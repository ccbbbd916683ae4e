// runlog_read.h — the one reader of run.h5 (layout in runlog.h; per-document evidence under
// /docs, see README "Sweeps and reports"), used by `l4q report` and the sweep.
//
// libhdf5 can crash (SIGSEGV) or loop on a damaged file, and nothing in-process can catch
// that, so every read happens in a forked child: the child opens the file, checks what it
// reads, serializes it through a pipe and exits; the parent rebuilds the RunFile. A child
// that crashes, exits with an error, or runs longer than 60 s makes the file "unreadable"
// with the reason in `error` — the caller carries on with the other runs.
#pragma once
#include <stddef.h>
#include <stdint.h>

// Per-document scores of one leaf task of the final evaluation (/docs/<task>), or of the
// validation batches (name "val"). Non-perplexity tasks: acc, nchoices; perplexity tasks
// (and val): nll (summed over the window's predicted tokens), ntok.
typedef struct {
    char name[128];
    char output_type[24];     // multiple_choice | minimal_pair | loglikelihood | perplexity
    int shots;
    size_t n;
    uint64_t *hash;           // prompt_hash, n
    unsigned char *acc;       // n, or NULL
    int *nchoices;            // n, or NULL
    double *nll;              // n, or NULL
    int *ntok;                // n, or NULL (perplexity only)
} RunDocs;

typedef struct {
    char name[192];           // full dataset path: "train/loss", "eval/blimp/acc", "eval/val_ppl"
    double *v;
    size_t n;
} RunSeries;

// The memory group's attributes, in this order (runlog_memory writes them).
#define RUNLOG_NMEM 6
extern const char *const RUNLOG_MEMORY_KEYS[RUNLOG_NMEM];

typedef struct {
    char path[4096];
    char status[32];          // the status attribute; "unreadable" when the read failed
    char error[320];          // unreadable: why (one line)
    char **akeys, **avals;    // root string attributes (config, method, form, git_commit, ...)
    int nattrs;
    RunSeries *series;        // every 1-D numeric dataset under train/ and eval/
    int nseries;
    long long mem[RUNLOG_NMEM]; // −1 when absent
    RunDocs *docs;            // /docs/* (empty for runs logged before per-document evidence)
    int ndocs;
} RunFile;

enum { RUNFILE_STATUS = 0,    // the root attributes only (the sweep's resume decision)
       RUNFILE_ALL = 1 };     // everything above

// Fills *rf (always initialised; free with runfile_free). Returns 0, or −1 with status
// "unreadable" and the reason in rf->error (a missing file included).
int runfile_read(const char *path, int what, RunFile *rf);
// The same read in this process, without the child: a crash inside libhdf5 takes the
// caller with it. Only for a caller that contains crashes itself (fuzz/fuzz_runlog.c).
int runfile_read_here(const char *path, int what, RunFile *rf);
void runfile_free(RunFile *rf);
const char *runfile_attr(const RunFile *rf, const char *key);        // NULL if absent
const RunSeries *runfile_series(const RunFile *rf, const char *name); // NULL if absent
const RunDocs *runfile_docs(const RunFile *rf, const char *task);     // NULL if absent
