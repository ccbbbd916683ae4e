// cmd_ppl.c — `l4q ppl`: perplexity of a text file (README "Perplexity protocol").
#include "cli.h"
#include "common.h"
#include "ppl.h"
#include "util.h"
#include <cJSON.h>
#include <math.h>
#include <stdlib.h>

int cmd_ppl(int argc, char **argv) {
    Flag fl[] = {FLAGV("model"), FLAGV("tokenizer"), FLAGV("data"), FLAGV("seq-len"), FLAGV("batch"), FLAGB("json"),
                 FLAGV("device"), FLAGV("precision")};
    Args a;
    args_parse(&a, fl, (int)(sizeof fl / sizeof *fl), argc, argv, "ppl");
    int prec = arg_precision(&a);
    const char *data = arg_str(&a, "data", NULL);
    if (!data) die_input("ppl: --data is required");
    DevScorer *dev = device_flag(&a, "ppl", prec);
    ModelFile *mf; Tokenizer *tk;
    load_model_tok(arg_str(&a, "model", NULL), arg_str(&a, "tokenizer", NULL), &mf, &tk);
    Tokenizer *tok = tk ? tk : mf->tok;
    blas_core_notice();
    int T = arg_int(&a, "seq-len", mf->c.seq_len);
    if (T < 1) die_input("--seq-len: must be positive");
    if (T > mf->c.seq_len) die_input("--seq-len %d exceeds the model's context %d (%s)", T, mf->c.seq_len, mf->path);
    int B = arg_int(&a, "batch", 0);
    PplResult r;
    if (dev) { // one model whose forward + head run on the device; the same windows and batches
        B = ppl_file_batch(B, T, data);
        Model *M = model_build(mf, NULL, B, T, 0);
        dev_scorer_attach(dev, M, B, T);
        r = ppl_file(&M, 1, tok, data, 0, T, 0, 1);
        dev_scorer_free(dev);
        model_free(M);
    } else
        r = ppl_file_replicated(mf, B, tok, data, 0, T, 0, 1); // streamed: memory independent of the file
    if (r.tokens < 2) die_input("%s: fewer than 2 tokens of text", data);
    double loss = r.nll / r.predicted;
    if (arg_flag(&a, "json")) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "loss", loss);
        cJSON_AddNumberToObject(o, "ppl", exp(loss));
        cJSON_AddNumberToObject(o, "tokens", (double)r.tokens);
        cJSON_AddNumberToObject(o, "predicted", (double)r.predicted);
        cJSON_AddNumberToObject(o, "windows", (double)r.windows);
        cJSON_AddNumberToObject(o, "seq_len", T);
        cJSON_AddNumberToObject(o, "seconds", r.seconds);
        cJSON_AddNumberToObject(o, "tokens_per_s", r.predicted / r.seconds);
        char *s = cJSON_PrintUnformatted(o);
        puts(s);
        free(s); cJSON_Delete(o);
    } else {
        printf("loss %.6f  ppl %.4f  tokens %ld  predicted %ld  windows %ld  seq_len %d\n", loss, exp(loss), r.tokens, r.predicted, r.windows, T);
        printf("%.2f s, %.0f tokens/s\n", r.seconds, r.predicted / r.seconds);
    }
    free_model_tok(mf, tk);
    return 0;
}
