// common.c — see common.h.
#include "checkpoint.h"
#include "common.h"
#include "util.h"
#include "bf16mm.h"
#include <string.h>

void load_model_tok(const char *model_path, const char *tok_path, ModelFile **mf, Tokenizer **tok) {
    if (!model_path) die_input("--model is required");
    *mf = model_file_load(model_path);
    if (tok_path) *tok = tok_load(tok_path, (*mf)->c.vocab_size);
    else if ((*mf)->tok) *tok = NULL; // embedded: owned by the model file
    else die_input("%s: the model has no embedded tokenizer; pass --tokenizer", model_path);
}
void free_model_tok(ModelFile *mf, Tokenizer *tok) {
    if (tok) tok_free(tok);
    model_file_free(mf);
}

DevScorer *device_flag(Args *a, const char *cmd, int precision) {
    const char *d = arg_str(a, "device", "cpu");
    if (!strcmp(d, "cpu")) return NULL;
    if (!strcmp(d, "cuda")) return dev_scorer_open("--device cuda", precision);
    die_input("%s: --device: '%s' is not cpu or cuda", cmd, d);
}

int arg_precision(Args *a) {
    const char *p = arg_str(a, "precision", "fp32");
    if (!strcmp(p, "bf16")) { bf16mm_enable("--precision bf16"); return PREC_BF16; }
    if (strcmp(p, "fp32")) die_input("--precision: expected fp32 or bf16, got '%s'", p);
    return PREC_FP32;
}
