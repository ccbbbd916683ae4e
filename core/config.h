// config.h — the run config (README "Training"): a strict YAML file, --set overrides, defaults, and
// the fully resolved form that is stored in run.h5 and reloads to the same run.
//
// Strictness: unknown keys, wrong types, duplicate keys, empty required values, method
// keys the chosen method does not use, and missing data files are all input errors
// reported as "file:line:col: key.path: problem" (exit 2). Errors in a --set value are
// reported as "--set key.path:1:col: ...".
//
// Defaults (everything but model, tokenizer, data.train and method.name is optional):
//   data:   format text; val none (text) / held out (alpaca, see below); mask_inputs true;
//           text_key "text" (jsonl / json training files);
//           val_examples 100; max_examples 0 (= all)
//   method: method_defaults(name) (core/methods.c), then the given keys
//   train:  steps 200, micro_batch 8, accum 1, seq_len 0 (= the model's), lr 1e-4,
//           schedule cosine, warmup 0.1, weight_decay 0.01, clip 1.0, seed 0,
//           threads 0 (= keep --threads / L4Q_THREADS), beta1 0.9, beta2 0.999, eps 1e-8,
//           optim_state fp32 (or bf16), checkpoint_every 0 (= only the final checkpoint),
//           device cpu (or cuda), precision fp32 (or bf16)
//   eval:   every 50 (0 = only at the end), tasks [] (validation loss only),
//           val_batches 0 (= all validation windows), limit 0 (= all task examples),
//           limits {} (per task or group, e.g. {tinystories: 0, blimp: 150}; wins over limit)
//   out:    runs/<config file name without extension>
// Alpaca validation: when data.val is absent, the LAST val_examples examples of the
// train file are held out as the validation set (and never trained on); when data.val is
// given, val_examples caps how many of its examples are used (0 = all). max_examples caps
// the training examples (after the hold-out). mask_inputs/val_examples/max_examples are
// alpaca-only keys (errors with format text).
// Relative model/tokenizer/data paths: the config file's directory first, then
// $L4Q_DATA (resolve_path); the resolved tree stores absolute paths so a run directory's
// copy of the config reloads anywhere. `out` is relative to the working directory.
#pragma once
#include <stdint.h>
#include "linear.h"
#include "ynode.h"

enum { DATA_TEXT = 0, DATA_ALPACA = 1 };
enum { SCHED_CONSTANT = 0, SCHED_COSINE = 1 };
// train.device / train.precision. Both default to today's behaviour (cpu, fp32) and are
// written to the resolved config only when not the default, so existing run ids stay.
enum { DEV_CPU = 0, DEV_CUDA = 1 };
enum { PREC_FP32 = 0, PREC_BF16 = 1 };

typedef struct {
    YNode *root;            // resolved tree (all keys, defaults filled); run_config_dump prints it
    char path[4096];        // config file ("" when built from a tree)
    char dir[4096];         // base directory for relative data paths
    char model[4096];       // resolved paths
    char tokenizer[4096];
    struct {
        int format;         // DATA_TEXT | DATA_ALPACA
        char train[4096];   // the one training file (a list: its first)
        // data.train as a list of files (format text; core/traindocs.h): ntrain entries,
        // each a path or {path, format: text|jsonl|json, text_key}; 0 = the one file above,
        // read exactly as before. A single path ending in .jsonl / .json is a list of one.
        int ntrain, train_listed;   // train_listed: given as a YAML list (dumped as one)
        struct DataFile { char path[4096]; int format; char text_key[64]; int key_given; } *train_files;
        char text_key[64];  // data.text_key: jsonl / json documents' key (default "text")
        char val[4096];     // "" = none (text) / hold-out (alpaca)
        int mask_inputs;    // alpaca: loss on response tokens only
        int val_examples;
        int max_examples;
    } data;
    MethodCfg method;
    struct {
        long steps;
        int micro_batch, accum, seq_len;
        double lr;
        int schedule;       // SCHED_*
        char schedule_name[16];
        double warmup;      // < 1: fraction of steps; >= 1: absolute steps
        double weight_decay, clip;
        uint64_t seed;
        int threads;
        double beta1, beta2, eps;
        int optim_state;    // DT_F32 | DT_BF16: AdamW's m, v (core/optim.h)
        int device;         // DEV_CPU | DEV_CUDA (train.device; core/device.h runs cuda)
        int precision;      // PREC_FP32 | PREC_BF16 (train.precision: the frozen weights' products)
        long checkpoint_every;
    } train;
    struct {
        long every;
        int ntasks;
        char **tasks;
        long val_batches;
        long limit;
        int nlimits;        // eval.limits: {task or group: N} overrides limit per task (0 = all)
        char **limit_names;
        long *limit_values;
    } eval;
    char out[4096];
} RunConfig;

// Load path, apply "a.b=value" overrides in order, check, resolve. die_input on errors.
// A --set of method.name drops the file's method keys the new method does not take, with
// one notice line on stderr (as a sweep over method.name does, method_keys_strip); a
// method key given by --set itself is never dropped (so a contradiction is still an error).
RunConfig *run_config_load(const char *path, char **sets, int nsets);
// Removes from root's method mapping every key method does not take (method_takes),
// except "name" and the keys listed in keep (without the "method." prefix). dropped
// (optional): the removed keys, comma-separated. Returns how many were removed.
int method_keys_strip(YNode *root, const char *method, const char *const *keep, int nkeep, char *dropped, size_t n);
// Same from an already-built tree (e.g. one expanded sweep point). Takes ownership of
// root; base_dir resolves relative data paths; name_hint names the default out dir.
RunConfig *run_config_from_tree(YNode *root, const char *base_dir, const char *name_hint);
char *run_config_dump(const RunConfig *c); // malloc'd resolved YAML (reloads to the same config)
// The value of a key run_config_dump leaves out at its default (so that older runs' ids
// stay): "train.optim_state" → "fp32", "train.device" → "cpu", "train.precision" →
// "fp32"; NULL for any other key.
const char *run_config_omitted_default(const char *key);
void run_config_free(RunConfig *c);
void run_config_release(void *c); // run_config_free for hold() (util.h)
// Number of warmup steps for the schedule (warmup ratio or absolute steps).
long run_config_warmup_steps(const RunConfig *c);
