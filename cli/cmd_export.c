// cmd_export.c — `l4q export RUN_DIR --format l4qz|gguf --out F [--merge] [--tokenizer F]`.
// Source: RUN_DIR/final.l4qz (the deployed model a run wrote), or any model file.
//   l4qz  the deployed form as is (packed codes + s, b; NF4; LoRA side branch if mixed);
//         --merge folds a side branch in and re-quantizes (a different model: reported
//         separately, e.g. QLoRA merged).
//   gguf  fp32 GGUF v3 (dequantized, LoRA folded) with the tokenizer vocabulary.
#include "baselines/baselines.h"
#include "cli.h"
#include "gguf_write.h"
#include "l4qz.h"
#include "model.h"
#include "tokenizer.h"
#include "util.h"
#include "yaml.h"
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

// The tokenizer named in RUN_DIR/config.yaml, if any.
static Tokenizer *run_tokenizer(const char *dir, int vocab) {
    char p[4300];
    snprintf(p, sizeof p, "%s/config.yaml", dir);
    if (!file_exists(p)) return NULL;
    YNode *root = yaml_load_file(p);
    YNode *t = y_get(root, "tokenizer");
    Tokenizer *tok = t ? tok_load(y_str(t), vocab) : NULL;
    yaml_free(root);
    return tok;
}

int cmd_export(int argc, char **argv) {
    Flag fl[] = {FLAGV("format"), FLAGV("out"), FLAGB("merge"), FLAGV("tokenizer")};
    Args a;
    args_parse(&a, fl, 4, argc, argv, "export");
    if (a.npos != 1) die_input("usage: l4q export RUN_DIR --format l4qz|gguf --out F [--merge]");
    const char *src = a.pos[0], *fmt = arg_str(&a, "format", "l4qz"), *out = arg_str(&a, "out", NULL);
    if (!out) die_input("export: --out is required");
    if (strcmp(fmt, "l4qz") && strcmp(fmt, "gguf")) die_input("export: --format must be l4qz or gguf (got '%s')", fmt);
    struct stat st;
    char path[4200], dir[4200] = "";
    if (stat(src, &st) == 0 && S_ISDIR(st.st_mode)) {
        snprintf(dir, sizeof dir, "%s", src);
        snprintf(path, sizeof path, "%s/final.l4qz", src);
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
        float **w = xcalloc(n, sizeof *w);
        for (int i = 0; i < n; i++) w[i] = mf->dep && mf->dep[i] ? deploy_dequant(mf->dep[i]) : NULL;
        float **wp = xcalloc(n, sizeof *wp);
        for (int i = 0; i < n; i++) wp[i] = w[i] ? w[i] : mf->w[i];
        gguf_write(out, mf, wp, tok ? tok : mf->tok, mf->method[0] ? mf->method : NULL);
        for (int i = 0; i < n; i++) free(w[i]);
        free(w); free(wp);
    }
    printf("exported %s → %s (%s%s)\n", path, out, fmt, merged ? ", LoRA merged and re-quantized" : "");
    if (tok) tok_free(tok);
    model_file_free(mf);
    return 0;
}
