// test_data.c — text/alpaca datasets.
//   test_data                                       self-test on $L4Q_DATA files
//   test_data text TOK FILE T B N SEED              driver for tests/test_data.py: prints
//       the token stream, every validation batch, and N random training batches
//   test_data alpaca TOK FILE T MASK FIRST COUNT B  prints every validation batch
// Output lines: "stream <ids...>", "val <predicted> <inputs...> | <targets...>" per
// batch, "train <inputs...> | <targets...>" per training batch.
#include "data.h"
#include "testlib.h"
#include "util.h"
#include <stdlib.h>
#include <string.h>

static void print_batch(const char *tag, long cnt, const int *in, const int *tg, int n) {
    printf("%s", tag);
    if (cnt >= 0) printf(" %ld", cnt);
    for (int i = 0; i < n; i++) printf(" %d", in[i]);
    printf(" |");
    for (int i = 0; i < n; i++) printf(" %d", tg[i]);
    printf("\n");
}
static void print_val(const Dataset *d, int B, int T) {
    int *in = xmalloc((size_t)B * T * sizeof(int)), *tg = xmalloc((size_t)B * T * sizeof(int));
    for (long i = 0; i < data_val_batches(d, B, T); i++) {
        long cnt = data_val_batch(d, i, B, T, in, tg);
        print_batch("val", cnt, in, tg, B * T);
    }
    free(in); free(tg);
}

int main(int argc, char **argv) {
    if (argc == 8 && !strcmp(argv[1], "text")) {
        Tokenizer *tok = tok_load(argv[2], 512);
        Dataset *d = data_text(tok, argv[3]);
        int T = atoi(argv[4]), B = atoi(argv[5]), N = atoi(argv[6]);
        printf("stream");
        for (long i = 0; i < d->ntok; i++) printf(" %d", d->stream[i]);
        printf("\n");
        print_val(d, B, T);
        Rng r;
        rng_seed(&r, strtoull(argv[7], NULL, 10));
        int *in = xmalloc((size_t)B * T * sizeof(int)), *tg = xmalloc((size_t)B * T * sizeof(int));
        for (int i = 0; i < N; i++) { data_batch(d, &r, B, T, in, tg); print_batch("train", -1, in, tg, B * T); }
        free(in); free(tg);
        data_free(d); tok_free(tok);
        return 0;
    }
    if (argc == 9 && !strcmp(argv[1], "alpaca")) {
        Tokenizer *tok = tok_load(argv[2], 512);
        int T = atoi(argv[4]);
        Dataset *d = data_alpaca(tok, argv[3], T, atoi(argv[5]), atol(argv[6]), atol(argv[7]));
        print_val(d, atoi(argv[8]), T);
        data_free(d); tok_free(tok);
        return 0;
    }
    if (argc > 1) { fprintf(stderr, "usage: see tests/test_data.c\n"); return 2; }

    char tokp[4096], txtp[4096], alp[4096];
    snprintf(tokp, sizeof tokp, "%s/models/stories260K/tok512.bin", data_root());
    snprintf(txtp, sizeof txtp, "%s/tinystories/tinystories_train_excerpt.txt", data_root());
    snprintf(alp, sizeof alp, "%s/alpaca/alpaca_data_1k.json", data_root());
    Tokenizer *tok = tok_load(tokp, 512);
    Dataset *d = data_text(tok, txtp);
    const int B = 4, T = 32;
    int in[4 * 32], tg[4 * 32], in2[4 * 32], tg2[4 * 32];
    Rng r1, r2;
    rng_seed(&r1, 5); rng_seed(&r2, 5);
    int contiguous = 1;
    for (int it = 0; it < 50; it++) {
        data_batch(d, &r1, B, T, in, tg);
        for (int b = 0; b < B; b++) {
            // Each row must be a slice of the stream with targets shifted by one.
            int found = 0;
            for (long s = 0; s + T < d->ntok && !found; s++)
                found = !memcmp(d->stream + s, in + b * T, T * sizeof(int)) && !memcmp(d->stream + s + 1, tg + b * T, T * sizeof(int));
            contiguous &= found;
        }
    }
    CHECK(contiguous, "text training rows are stream windows", "%s", "");
    rng_seed(&r1, 9);
    data_batch(d, &r1, B, T, in, tg);
    Rng saved = r1; // checkpointed sampler state
    data_batch(d, &r1, B, T, in, tg);
    r2 = saved;
    data_batch(d, &r2, B, T, in2, tg2);
    CHECK(!memcmp(in, in2, sizeof in) && !memcmp(tg, tg2, sizeof tg), "sampling resumes from a saved Rng", "%s", "");
    long total = 0;
    for (long i = 0; i < data_val_batches(d, B, T); i++) total += data_val_batch(d, i, B, T, in, tg);
    CHECK(total == d->ntok - 1, "validation windows predict every token once", "%ld vs %ld", total, d->ntok - 1);
    data_free(d);

    char *p = alpaca_prompt("Do X.", "");
    CHECK(!strcmp(p, "Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n### Instruction:\nDo X.\n\n### Response:\n"),
          "alpaca no-input template", "%s", p);
    free(p);
    // T large enough that no example is truncated (the 512-token vocabulary makes long prompts).
    enum { TA = 1024 };
    Dataset *a = data_alpaca(tok, alp, TA, 1, 0, 20), *u = data_alpaca(tok, alp, TA, 0, 0, 20);
    long cm = 0, cu = 0;
    int *ai = xmalloc(4 * TA * sizeof(int)), *at = xmalloc(4 * TA * sizeof(int));
    for (long i = 0; i < data_val_batches(a, 4, TA); i++) {
        cm += data_val_batch(a, i, 4, TA, ai, at);
        cu += data_val_batch(u, i, 4, TA, ai, at);
    }
    free(ai); free(at);
    CHECK(a->nex == 20 && cm > 0 && cm < cu, "mask_inputs keeps only response targets", "%ld vs %ld", cm, cu);
    CHECK(a->ex[0][a->ex_len[0] - 1] == TOK_EOS_ID || a->ex_len[0] == TA + 1, "response ends with EOS", "%s", "");
    data_free(a); data_free(u);
    tok_free(tok);
    T_EXIT();
}
