// runlog.h — run.h5, the HDF5 log of one training run (README "Training").
//
// Layout: root attributes config (resolved YAML), method, form, status
// (running | complete | failed), git_commit, host, cpu, threads, start_time, end_time
// (ISO 8601 UTC); 1-D chunked, unlimited datasets train/{step, loss, lr, grad_norm,
// tokens_per_s, rss_bytes}; eval/step with eval/val_loss, eval/val_ppl (and any other
// task-less metric); eval/<task>/step with eval/<task>/<metric>; group memory with
// int64 attributes weight_bytes, trainable_bytes, grad_optimizer_bytes,
// saved_for_backward_bytes, peak_transient_bytes, peak_rss_bytes.
//
// Steps are int64, values float64. Within one eval group (eval, eval/<task>) the step
// dataset gets one row per distinct step, so all metrics of a group logged at every
// eval line up with it row for row.
//
// Crash safety: the file uses the default (1.8-compatible) format, not SWMR, because
// SWMR forbids creating the per-task datasets on demand. Instead the file is H5Fflush'ed
// after every eval row, on status changes, and at most every 30 s of train rows; a run
// killed at any point leaves a file that opens with the state of the last flush
// (status 'running').
#pragma once
#include <stddef.h>
#include "linear.h"

typedef struct RunLog RunLog;

// New log (truncates path). config_yaml: resolved config text; form: inference form
// ("4", "4&fp", "fp32", ...) or NULL.
RunLog *runlog_create(const char *path, const char *config_yaml, const char *method, const char *form);
// Reopen for a resumed run: status back to running, every train row with step > keep_step
// and every eval row with step > keep_eval_step dropped (the checkpoint being resumed is
// older than the log's end; an eval logged after the checkpoint at the same step is
// partial). Train rows some dataset lacks (a kill between appends) are dropped too.
// A bound < 0 keeps everything. die_input if the file is missing or not a run log.
RunLog *runlog_open_append(const char *path, long keep_step, long keep_eval_step);
void runlog_train(RunLog *rl, long step, double loss, double lr, double grad_norm, double tokens_per_s, size_t rss_bytes);
// task NULL or "": eval/<metric> (val_loss, val_ppl); else eval/<task>/<metric>.
void runlog_eval(RunLog *rl, long step, const char *task, const char *metric, double value);
void runlog_memory(RunLog *rl, const MemAccount *m, size_t peak_rss);
void runlog_attr(RunLog *rl, const char *key, const char *value);   // root string attribute
// A fresh group at the root (an existing one of that name is replaced, e.g. when the final
// evaluation of a resumed run is redone), returned as an HDF5 id for writers such as
// evals' eval_docs_write_h5; close it with runlog_group_close.
long long runlog_group(RunLog *rl, const char *name);
void runlog_group_close(long long group);
void runlog_attr_int(RunLog *rl, const char *key, long long value); // root int64 attribute
// "running" | "complete" | "failed"; complete/failed also set end_time. Flushes.
void runlog_status(RunLog *rl, const char *status);
void runlog_flush(RunLog *rl);
void runlog_close(RunLog *rl);
// Install an on_die hook (util.h) that marks the log failed and closes it, so an error
// exit never leaves status 'running'. runlog_close removes it.
void runlog_fail_on_die(RunLog *rl);

// Reading a run log (report, sweep): runlog_read.h.
