// cmd_export.c — `l4q export RUN_DIR --format l4qz|gguf --out F [--merge] [--tokenizer F]
// [--fallback f32|f16|q8_0] [--outtype f32|f16] [--adapter F]`.
// Source: RUN_DIR/final.l4qz of a complete run (the deployed model it wrote), or any model file.
//   l4qz  the deployed form as is (packed codes + s, b; NF4; LoRA side branch if mixed);
//         --merge folds a side branch in and re-quantizes (a different model: reported
//         separately, e.g. QLoRA merged).
//   gguf  llama.cpp's block types (core/gguf_export.c): uniform codes as Q4_1/Q5_1, a fp
//         side branch as a llama.cpp LoRA adapter (--adapter, default OUT's stem + .lora.gguf),
//         forms without an exact block only with --fallback.
#include "baselines/baselines.h"
#include "checkpoint.h"
#include "cli.h"
#include "gguf_write.h"
#include "l4qz.h"
#include "runlog_read.h"
#include "model.h"
#include "tokenizer.h"
#include "util.h"
#include "ynode.h"
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

// The tokenizer named in RUN_DIR/config.yaml, if any.
static Tokenizer *run_tokenizer(const char *dir, int vocab) {
    char p[4300];
    snprintf(p, sizeof p, "%s/config.yaml", dir);
    if (!file_exists(p)) return NULL;
    YNode *root = y_load_file(p);
    YNode *t = y_get(root, "tokenizer");
    Tokenizer *tok = t ? tok_load(y_str(t), vocab) : NULL;
    y_free(root);
    return tok;
}

int cmd_export(int argc, char **argv) {
    Flag fl[] = {FLAGV("format"), FLAGV("out"), FLAGB("merge"), FLAGV("tokenizer"), FLAGV("fallback"), FLAGV("outtype"), FLAGV("adapter")};
    Args a;
    args_parse(&a, fl, 7, argc, argv, "export");
    if (a.npos != 1) die_input("usage: l4q export RUN_DIR --format l4qz|gguf --out F [--merge] [--fallback f32|f16|q8_0] [--outtype f32|f16] [--adapter F]");
    const char *src = a.pos[0], *fmt = arg_str(&a, "format", "l4qz"), *out = arg_str(&a, "out", NULL);
    if (!out) die_input("export: --out is required");
    if (strcmp(fmt, "l4qz") && strcmp(fmt, "gguf")) die_input("export: --format must be l4qz or gguf (got '%s')", fmt);
    struct stat st;
    char path[4200], dir[4200] = "";
    if (stat(src, &st) == 0 && S_ISDIR(st.st_mode)) {
        snprintf(dir, sizeof dir, "%s", src);
        snprintf(path, sizeof path, "%s/final.l4qz", src);
        char log[4300];
        snprintf(log, sizeof log, "%s/run.h5", src);
        RunFile rf;
        if (runfile_read(log, RUNFILE_STATUS, &rf) != 0) die_input("%s: no readable run.h5 (%s): not a run directory", src, rf.error);
        if (strcmp(rf.status, "complete")) die_input("%s: the run is not complete (status '%s'): nothing to export", src, rf.status);
        runfile_free(&rf);
        if (!file_exists(path)) die_input("%s: no final.l4qz (run not complete?)", src);
    } else {
        snprintf(path, sizeof path, "%s", src);
    }
    ModelFile *mf = model_file_load(path);
    mf_widen(mf); // both formats are written from fp32 (a no-op for l4qz run outputs)
    int n = mf->c.n_layers * N_LAYER_PROJ, merged = 0;
    if (arg_flag(&a, "merge") && mf->dep)
        for (int i = 0; i < n; i++)
            if (mf->dep[i] && mf->dep[i]->rank > 0) { deploy_merge_lora(mf->dep[i]); merged++; }
    Tokenizer *tok = arg_str(&a, "tokenizer", NULL) ? tok_load(arg_str(&a, "tokenizer", NULL), mf->c.vocab_size)
                     : *dir ? run_tokenizer(dir, mf->c.vocab_size) : NULL;
    if (!strcmp(fmt, "l4qz")) {
        Model *M = model_build(mf, NULL, 1, 1, 0);
        char form[40];
        snprintf(form, sizeof form, "%s%s", M->lin[0]->form, merged ? " merged" : "");
        l4qz_write(out, mf, mf->tok ? mf->tok : tok, mf->method[0] ? mf->method : NULL, form); // embeds the run's tokenizer
        model_free(M);
    } else {
        const char *ot = arg_str(&a, "outtype", "f32");
        if (strcmp(ot, "f32") && strcmp(ot, "f16")) die_input("export: --outtype must be f32 or f16 (got '%s')", ot);
        char adapter[4300];
        const char *ap = arg_str(&a, "adapter", NULL);
        size_t ol = strlen(out);
        if (ap) snprintf(adapter, sizeof adapter, "%s", ap);
        else snprintf(adapter, sizeof adapter, "%.*s.lora.gguf", (int)(ol > 5 && !strcmp(out + ol - 5, ".gguf") ? ol - 5 : ol), out);
        GgufExportOpts o = {arg_str(&a, "fallback", NULL), !strcmp(ot, "f16"), mf->method[0] ? mf->method : NULL,
                            mf->method[0] ? mf->method : NULL, mf->form[0] ? mf->form : NULL, adapter, 1};
        GgufExportReport r;
        gguf_export(out, mf, tok ? tok : mf->tok, &o, &r);
        printf("gguf: %d projections in Q4_1/Q5_1 blocks, %d by --fallback %s, %d fp; projections %.3f bits/weight; %zu bytes\n",
               r.n_block, r.n_fallback, o.fallback ? o.fallback : "-", r.n_fp, 8.0 * (double)r.qbytes / (double)r.qparams, r.bytes);
        if (r.n_block) printf("largest weight deviation from fp16 d, m: %.3g (%s), recorded as l4q.fp16_max_dev.* in the file\n", r.max_dev, r.max_dev_tensor);
        if (r.n_adapter) printf("LoRA side branch of %d projections → llama.cpp adapter %s (%zu bytes)\n", r.n_adapter, adapter, r.adapter_bytes);
    }
    printf("exported %s → %s (%s%s)\n", path, out, fmt, merged ? ", LoRA merged and re-quantized" : "");
    if (tok) tok_free(tok);
    model_file_free(mf);
    return 0;
}
