// cmd_generate.c — `l4q generate`: greedy / temperature + top-p sampling with a KV cache.
#include "cli.h"
#include "common.h"
#include "util.h"
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct { float p; int i; } ProbIdx;
static int cmp_prob(const void *a, const void *b) {
    float x = ((const ProbIdx *)a)->p, y = ((const ProbIdx *)b)->p;
    return x < y ? 1 : x > y ? -1 : 0;
}

// temperature 0 → argmax; else softmax(logits/T), nucleus cut at top-p (if 0<p<1).
static int sample(float *lg, int V, float temp, float topp, Rng *rng, ProbIdx *tmp) {
    int best = 0;
    for (int i = 1; i < V; i++) if (lg[i] > lg[best]) best = i;
    if (temp == 0.0f) return best;
    float mx = lg[best] / temp, sum = 0;
    for (int i = 0; i < V; i++) { lg[i] = expf(lg[i] / temp - mx); sum += lg[i]; }
    for (int i = 0; i < V; i++) lg[i] /= sum;
    float u = rng_uniform(rng);
    if (topp <= 0 || topp >= 1) {
        float c = 0;
        for (int i = 0; i < V; i++) { c += lg[i]; if (u < c) return i; }
        return V - 1;
    }
    int n = 0;
    for (int i = 0; i < V; i++) { tmp[n].p = lg[i]; tmp[n].i = i; n++; }
    qsort(tmp, n, sizeof *tmp, cmp_prob);
    float c = 0; int last = n - 1;
    for (int i = 0; i < n; i++) { c += tmp[i].p; if (c > topp) { last = i; break; } }
    float r = u * c, acc = 0;
    for (int i = 0; i <= last; i++) { acc += tmp[i].p; if (r < acc) return tmp[i].i; }
    return tmp[last].i;
}

// Print a piece, skipping raw non-printable bytes (a lone control byte from a byte token).
static void print_piece(const char *s, size_t n) {
    if (n == 1 && !isprint((unsigned char)s[0]) && !isspace((unsigned char)s[0])) return;
    fwrite(s, 1, n, stdout);
}

int cmd_generate(int argc, char **argv) {
    Flag fl[] = {FLAGV("model"), FLAGV("tokenizer"), FLAGV("prompt"), FLAGV("steps"), FLAGV("temperature"), FLAGV("topp"), FLAGV("seed"),
                 FLAGV("device")};
    Args a;
    args_parse(&a, fl, (int)(sizeof fl / sizeof *fl), argc, argv, "generate");
    DevScorer *dev = device_flag(&a, "generate", PREC_FP32);
    ModelFile *mf; Tokenizer *tk;
    load_model_tok(arg_str(&a, "model", NULL), arg_str(&a, "tokenizer", NULL), &mf, &tk);
    Tokenizer *tok = tk ? tk : mf->tok;
    blas_core_notice();
    int steps = arg_int(&a, "steps", 256);
    float temp = (float)arg_float(&a, "temperature", 1.0), topp = (float)arg_float(&a, "topp", 0.9);
    if (temp < 0) die_input("--temperature: must be ≥ 0");
    if (steps <= 0 || steps > mf->c.seq_len) steps = mf->c.seq_len;
    const char *prompt = arg_str(&a, "prompt", "");
    Rng rng;
    rng_seed(&rng, (uint64_t)arg_int(&a, "seed", 42));
    int *ids, np = tok_encode(tok, prompt, strlen(prompt), TOK_BOS, &ids);
    if (np > steps) die_input("--prompt: %d tokens exceed --steps %d", np, steps);
    Model *M = model_build(mf, NULL, 1, steps, 0);
    if (dev) dev_scorer_attach(dev, M, 1, steps);
    int V = mf->c.vocab_size;
    float *lg = xmalloc(V * sizeof(float));
    ProbIdx *tmp = xmalloc(V * sizeof(ProbIdx));
    int *seq = xmalloc((steps + 1) * sizeof(int));
    memcpy(seq, ids, np * sizeof(int));
    double t0 = now_sec();
    int pos = 0, n = np, generated = 0;
    // Prompt in one pass, then one token at a time reusing cached K/V (on the device: the
    // whole prefix each time, dev_scorer_next_logits).
    if (!dev) model_forward(M, seq, 1, n, 0);
    for (int i = 1; i < np; i++) { size_t l; const char *p = tok_decode(tok, seq[i - 1], seq[i], &l); print_piece(p, l); }
    pos = n - 1;
    // Like llama2.c: `steps` forward passes (positions 0..steps-1), each yielding a token.
    while (n <= steps) {
        if (dev) dev_scorer_next_logits(dev, seq, n, lg);
        else model_logits_row(M, pos, lg);
        int next = sample(lg, V, temp, topp, &rng, tmp);
        // llama2.c stops at BOS (its sequence delimiter); the other tokenizers also at EOS.
        if (next == tok->bos_id || (tok->bpe && next == tok->eos_id)) break;
        size_t l;
        const char *p = tok_decode(tok, seq[n - 1], next, &l);
        print_piece(p, l);
        fflush(stdout);
        seq[n++] = next;
        generated++;
        if (n > steps) break;
        if (!dev) model_forward(M, seq, 1, n, n - 1);
        pos = n - 1;
    }
    printf("\n");
    double el = now_sec() - t0;
    fprintf(stderr, "l4q: %d tokens in %.3fs (%.1f tok/s)\n", generated, el, el > 0 ? generated / el : 0);
    free(lg); free(tmp); free(seq); free(ids);
    dev_scorer_free(dev);
    model_free(M);
    free_model_tok(mf, tk);
    return 0;
}
