// usage.c — see usage.h. Keep each flag's line short; docs/ holds the reference.
#include "usage.h"
#include "util.h"
#include <string.h>

#define OPT(n, a, h) {n, a, h, 0}
#define REQ(n, a, h) {n, a, h, 1}
// Flags several commands take, worded once.
#define OPT_DEVICE OPT("device", "cpu|cuda", "run the model on the CUDA plugin (build/libl4q_cuda.so; docs/gpu.md)")
#define OPT_PRECISION OPT("precision", "fp32|bf16", "bf16: products with frozen weights in bf16, fp32 accumulation (docs/cpu-speed.md)")
static const CommandHelp HELP[] = {
    {"info", "FILE", "tensors, sizes and formats of a model, tokenizer or checkpoint file (or the machine with --system)",
     {OPT("json", NULL, "one JSON object on stdout"), OPT("system", NULL, "BLAS core, threads and the measured sgemm rate instead of a FILE")}},
    {"generate", "", "sample text from a model (temperature 0: greedy)",
     {REQ("model", "F", "model file or Hugging Face directory"),
      OPT("tokenizer", "F", "tokenizer file (default: the model's own)"),
      OPT("prompt", "S", "text to continue (default: empty)"),
      OPT("steps", "N", "tokens to generate (256)"),
      OPT("temperature", "T", "sampling temperature, 0 = argmax (1.0)"),
      OPT("topp", "P", "nucleus cut (0.9)"),
      OPT("seed", "N", "sampling seed (42)"),
      OPT_DEVICE}},
    {"ppl", "", "perplexity of a text file (docs/evaluation.md: the perplexity protocol)",
     {REQ("model", "F", "model file or Hugging Face directory"),
      OPT("tokenizer", "F", "tokenizer file (default: the model's own)"),
      REQ("data", "TEXT", "text file, paragraphs separated by blank lines"),
      OPT("seq-len", "N", "window length (the model's context)"),
      OPT("batch", "B", "windows per forward pass (about 512 rows)"),
      OPT("json", NULL, "one JSON object on stdout"),
      OPT_DEVICE,
      OPT_PRECISION}},
    {"train", "CONFIG.yaml", "quantize, fine-tune, evaluate and export one run (docs/configuration.md)",
     {OPT("set", "KEY=VALUE", "override a config key (repeatable), e.g. --set method.bits=3"),
      OPT("out", "DIR", "run directory (default: the config's out:)"),
      OPT("resume", "DIR", "continue an interrupted run from its checkpoint (no CONFIG.yaml)"),
      OPT("force", NULL, "delete the run already in the output directory and start over"),
      OPT("dry-run", NULL, "print the fully resolved config and exit"),
      OPT("stop-at", "N", "checkpoint and exit 3 after N steps (--resume continues)")}},
    {"eval", "", "score a model on benchmark tasks, lm-evaluation-harness style (docs/evaluation.md)",
     {REQ("model", "F", "model file, export or Hugging Face directory"),
      OPT("tokenizer", "F", "tokenizer file (default: the model's own)"),
      REQ("tasks", "LIST", "comma-separated task or group names, or paths to task YAML files"),
      OPT("shots", "K", "few-shot examples (default: each task's num_fewshot)"),
      OPT("limit", "N", "first N documents of each scored task (not perplexity tasks: see --windows)"),
      OPT("windows", "N", "perplexity tasks: the first N windows (default: all)"),
      OPT("task-dir", "DIR", "more task YAML files (searched before the built-in ones)"),
      OPT("list", NULL, "list the available tasks and groups"),
      OPT("json", NULL, "one JSON object on stdout"),
      OPT("out", "F.h5", "per-document scores and prompt hashes (for paired tests)"),
      OPT("log-samples", "F.jsonl", "every rendered request: prompt, continuation, score, is-greedy"),
      OPT("batch", "B", "rows per forward pass (sized from the model)"),
      OPT("seq-len", "N", "window length (the model's context)"),
      OPT("render", "N", "print the requests of the first N documents as JSON, no model needed"),
      OPT("no-progress", NULL, "no progress line on stderr"),
      OPT_DEVICE,
      OPT_PRECISION}},
    {"sweep", "SPEC.yaml", "run every configuration of a study, resumably (docs/sweeps.md)",
     {OPT("jobs", "N", "runs at a time (the cores; each gets cores / N threads)"),
      OPT("out", "DIR", "study directory (default: the spec's out:)"),
      OPT("set", "KEY=VALUE", "override a spec key (repeatable)"),
      OPT("dry-run", NULL, "list the runs and their state, run nothing"),
      OPT("json", NULL, "with --dry-run: the plan as JSON"),
      OPT("no-report", NULL, "do not write DIR/report.md at the end")}},
    {"report", "DIR", "tables, paired statistics and plots of every run.h5 under DIR (docs/report.md)",
     {OPT("format", "md|tex|csv", "besides report.md, report.tex or report.csv (md)"),
      OPT("plots", NULL, "draw PNGs into DIR/plots with gnuplot"),
      OPT("raw-curves", NULL, "with --plots: also each run's unsmoothed loss curve"),
      OPT("reference", "METHOD|LABEL", "the row every other row is compared with (l4q)")}},
    {"export", "RUN_DIR", "write a run's deployed model as .l4qz or llama.cpp GGUF (docs/formats.md)",
     {OPT("format", "l4qz|gguf", "output format (l4qz)"),
      REQ("out", "F", "output file"),
      OPT("merge", NULL, "fold a LoRA side branch into the base and re-quantize"),
      OPT("tokenizer", "F", "tokenizer to embed (default: the run's)"),
      OPT("fallback", "f32|f16|q8_0", "GGUF: type for tensors without an exact llama.cpp block"),
      OPT("outtype", "f32|f16", "GGUF: type of embeddings, head and fp projections (f32)"),
      OPT("adapter", "F", "GGUF: the LoRA adapter file (default: OUT's stem + .lora.gguf)")}},
    {"tokenize", "", "encode text to token ids, or decode ids (--decode)",
     {REQ("tokenizer", "F", "tokenizer.bin, tokenizer.json, tokenizer.model or GGUF"),
      OPT("vocab-size", "N", "tokenizer.bin: entries to read (default: the file's count)"),
      OPT("text", "S", "text to encode"),
      OPT("file", "F", "file to encode"),
      OPT("ids", "LIST", "ids to decode (with --decode)"),
      OPT("bos", NULL, "prepend BOS"),
      OPT("eos", NULL, "append EOS"),
      OPT("no-prefix", NULL, "no dummy-prefix space"),
      OPT("decode", NULL, "decode --ids to text")}},
};
#define NHELP (int)(sizeof HELP / sizeof HELP[0])

const CommandHelp *command_help(const char *name) {
    for (int i = 0; i < NHELP; i++) if (!strcmp(HELP[i].name, name)) return &HELP[i];
    return NULL;
}

static void synopsis(FILE *f, const CommandHelp *c) {
    fprintf(f, "l4q %s", c->name);
    if (c->operands[0]) fprintf(f, " %s", c->operands);
    for (int i = 0; c->flags[i].name; i++) {
        const FlagHelp *h = &c->flags[i];
        const char *o = h->required ? "" : "[", *c2 = h->required ? "" : "]";
        if (h->arg) fprintf(f, " %s--%s %s%s%s", o, h->name, h->arg, c2, !strcmp(h->name, "set") ? "..." : "");
        else fprintf(f, " %s--%s%s", o, h->name, c2);
    }
    fprintf(f, "\n");
}

void usage_top(FILE *f) {
    fprintf(f, "usage: l4q COMMAND [options]    (l4q COMMAND --help: what each option does)\n\n");
    for (int i = 0; i < NHELP; i++) { fprintf(f, "  "); synopsis(f, &HELP[i]); }
    fprintf(f, "\nglobal: --threads N (also L4Q_THREADS); environment: L4Q_DATA (data folder), L4Q_CACHE (token cache)\n"
               "docs: README.md and docs/ beside the binary's repository\n");
}

void usage_command(FILE *f, const char *cmd, const Flag *parsed, int n) {
    const CommandHelp *c = command_help(cmd);
    if (!c) die_internal("%s: no help entry in cli/usage.c", cmd);
    int nh = 0;
    while (c->flags[nh].name) nh++;
    for (int j = 0; j < n; j++) {
        int found = 0;
        for (int i = 0; i < nh; i++)
            if (!strcmp(c->flags[i].name, parsed[j].name)) {
                found = 1;
                if ((c->flags[i].arg != NULL) != (parsed[j].takes_value != 0))
                    die_internal("%s --%s: the help (cli/usage.c) and the parser disagree on whether it takes a value", cmd, parsed[j].name);
            }
        if (!found) die_internal("%s --%s: parsed but not described in cli/usage.c", cmd, parsed[j].name);
    }
    for (int i = 0; i < nh; i++) {
        int found = 0;
        for (int j = 0; j < n; j++) found |= !strcmp(c->flags[i].name, parsed[j].name);
        if (!found) die_internal("%s --%s: described in cli/usage.c but not parsed", cmd, c->flags[i].name);
    }
    fprintf(f, "usage: ");
    synopsis(f, c);
    fprintf(f, "%s\n\n", c->about);
    for (int i = 0; i < nh; i++) {
        char lhs[64];
        snprintf(lhs, sizeof lhs, "--%s%s%s", c->flags[i].name, c->flags[i].arg ? " " : "", c->flags[i].arg ? c->flags[i].arg : "");
        fprintf(f, "  %-26s %s\n", lhs, c->flags[i].help);
    }
    fprintf(f, "  %-26s %s\n", "--threads N", "worker threads (global; default: all cores)");
    fprintf(f, "  %-26s %s\n", "-h, --help", "this text");
}
