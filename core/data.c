// data.c — see data.h.
#include "data.h"
#include "ppl.h"
#include "tokcache.h"
#include "traindocs.h"
#include <unistd.h>
#include <cJSON.h>
#include <stdlib.h>
#include <string.h>

static const char PROMPT_INPUT[] =
    "Below is an instruction that describes a task, paired with an input that provides further context. "
    "Write a response that appropriately completes the request.\n\n"
    "### Instruction:\n%s\n\n### Input:\n%s\n\n### Response:\n";
static const char PROMPT_NO_INPUT[] =
    "Below is an instruction that describes a task. "
    "Write a response that appropriately completes the request.\n\n"
    "### Instruction:\n%s\n\n### Response:\n";

char *alpaca_prompt(const char *instruction, const char *input) {
    int has_input = input && *input;
    size_t n = strlen(PROMPT_INPUT) + strlen(instruction) + (has_input ? strlen(input) : 0) + 1;
    char *s = xmalloc(n);
    if (has_input) snprintf(s, n, PROMPT_INPUT, instruction, input);
    else snprintf(s, n, PROMPT_NO_INPUT, instruction);
    return s;
}

static void data_release(void *d) { data_free(d); }

Dataset *data_text(const Tokenizer *tok, const char *path) {
    size_t mark = hold_mark();
    Dataset *d = hold(xcalloc(1, sizeof *d), data_release);
    d->format = DATA_TEXT;
    d->stream = tokcache_map(tok, path, &d->ntok); // tokenized once, memory-mapped
    if (d->ntok < 2) die_input("%s: fewer than 2 tokens of text", path);
    hold_end(mark);
    return d;
}

Dataset *data_train_text(const RunConfig *c, const Tokenizer *tok) {
    int n = c->data.ntrain > 0 ? c->data.ntrain : 1;
    TrainFile *files = xcalloc((size_t)n, sizeof *files);
    for (int i = 0; i < n; i++)
        files[i] = c->data.ntrain > 0 ? (TrainFile){c->data.train_files[i].path, c->data.train_files[i].format,
                                                    c->data.train_files[i].text_key}
                                      : (TrainFile){c->data.train, DOC_TEXT, NULL};
    size_t mark = hold_mark();
    hold(files, free);
    TrainText tt;
    traindocs_assemble(files, n, c->data.val[0] ? c->data.val : NULL, &tt);
    hold(tt.text, free);
    Dataset *d;
    if (c->data.ntrain == 0 && tt.removed == 0) {
        d = data_text(tok, c->data.train);
    } else {
        // The token cache reads a file: the joined text goes through a scratch file (its
        // cache entry is keyed by content, so every run on the same files shares it).
        char tmp[4200];
        snprintf(tmp, sizeof tmp, "%s/l4q_train_XXXXXX", getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
        int fd = mkstemp(tmp);
        if (fd < 0) die_input("%s: cannot create a scratch file for the training text", tmp);
        close(fd);
        write_file_atomic(tmp, tt.text, tt.len);
        d = data_text(tok, tmp);
        sha256_path(tmp, d->sha256); // provenance: exactly the text that was tokenized
        unlink(tmp);
    }
    d->docs = tt.docs;
    d->docs_removed = c->data.val[0] ? tt.removed : -1;
    hold_unwind(mark);
    return d;
}

// Parse and validate the whole file once; returns the array, its root held (util.h).
static cJSON *alpaca_parse(const char *path, cJSON **root) {
    size_t len;
    char *text = hold(read_file(path, &len), free);
    *root = hold(cJSON_ParseWithLength(text, len), json_release);
    if (!*root) {
        const char *at = cJSON_GetErrorPtr();
        long off = at && at >= text && at <= text + len ? (long)(at - text) : -1;
        die_input("%s: invalid JSON near byte %ld", path, off);
    }
    hold_drop(text);
    free(text);
    if (!cJSON_IsArray(*root)) die_input("%s: expected a JSON array of {instruction, input, output} objects", path);
    int i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, *root) {
        if (!cJSON_IsObject(e)) die_input("%s: example %d: not an object", path, i);
        static const char *const keys[] = {"instruction", "input", "output"};
        for (int k = 0; k < 3; k++) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(e, keys[k]);
            if (!v && k == 1) continue; // "input" may be absent
            if (!cJSON_IsString(v)) die_input("%s: example %d: '%s' missing or not a string", path, i, keys[k]);
        }
        i++;
    }
    return *root;
}
long data_alpaca_count(const char *path) {
    size_t mark = hold_mark();
    cJSON *root;
    alpaca_parse(path, &root);
    long n = cJSON_GetArraySize(root);
    hold_unwind(mark);
    return n;
}

Dataset *data_alpaca(const Tokenizer *tok, const char *path, int seq_len, int mask_inputs, long first, long count) {
    if (seq_len < 1) die_internal("data_alpaca: seq_len %d", seq_len);
    size_t mark = hold_mark();
    cJSON *root;
    alpaca_parse(path, &root);
    long total = cJSON_GetArraySize(root);
    if (first < 0) first = 0;
    if (first > total) first = total;
    if (count < 0 || first + count > total) count = total - first;
    Dataset *d = hold(xcalloc(1, sizeof *d), data_release);
    d->format = DATA_ALPACA;
    d->seq_len = seq_len;
    d->mask_inputs = mask_inputs;
    d->ex = xcalloc((size_t)(count ? count : 1), sizeof *d->ex);
    d->ex_len = xcalloc((size_t)(count ? count : 1), sizeof *d->ex_len);
    d->ex_prompt = xcalloc((size_t)(count ? count : 1), sizeof *d->ex_prompt);
    for (long i = first; i < first + count; i++) {
        const cJSON *e = cJSON_GetArrayItem(root, (int)i);
        const cJSON *in = cJSON_GetObjectItemCaseSensitive(e, "input");
        const char *ins = cJSON_GetObjectItemCaseSensitive(e, "instruction")->valuestring;
        const char *out = cJSON_GetObjectItemCaseSensitive(e, "output")->valuestring;
        char *prompt = alpaca_prompt(ins, in ? in->valuestring : "");
        size_t pl = strlen(prompt), ol = strlen(out);
        char *full = xmalloc(pl + ol + 1);
        memcpy(full, prompt, pl);
        memcpy(full + pl, out, ol + 1);
        int *pt, *ft;
        int np = tok_encode(tok, prompt, pl, TOK_BOS, &pt);
        int nf = tok_encode(tok, full, pl + ol, TOK_BOS | TOK_EOS, &ft);
        free(pt); free(prompt); free(full);
        if (nf > seq_len + 1) nf = seq_len + 1;
        // Nothing to learn from when the response is cut away entirely (with masking) or
        // there is no next token at all.
        if (nf < 2 || (mask_inputs && np >= nf)) { free(ft); d->dropped++; continue; }
        d->ex[d->nex] = ft;
        d->ex_len[d->nex] = nf;
        d->ex_prompt[d->nex] = np < nf ? np : nf;
        d->nex++;
    }
    if (d->dropped) warnf("%s: %ld of %ld examples dropped: the response does not fit in seq_len %d", path, d->dropped, count, seq_len);
    if (!d->nex) die_input("%s: no usable examples in [%ld, %ld) at seq_len %d", path, first, first + count, seq_len);
    hold_drop(d);
    hold_unwind(mark); // the parsed JSON
    return d;
}

Dataset *data_load(const RunConfig *c, const Tokenizer *tok, int seq_len, int split) {
    Dataset *d;
    if (c->data.format == DATA_TEXT) {
        if (split == SPLIT_VAL && !c->data.val[0]) return NULL;
        d = split == SPLIT_VAL ? data_text(tok, c->data.val) : data_train_text(c, tok);
    } else if (c->data.val[0]) {
        long cap = c->data.max_examples > 0 ? c->data.max_examples : -1;
        if (split == SPLIT_TRAIN) d = data_alpaca(tok, c->data.train, seq_len, c->data.mask_inputs, 0, cap);
        else d = data_alpaca(tok, c->data.val, seq_len, c->data.mask_inputs, 0, c->data.val_examples > 0 ? c->data.val_examples : -1);
    } else {
        // Hold out the last val_examples of the train file (config.h).
        long n = data_alpaca_count(c->data.train), v = c->data.val_examples;
        if (v >= n) die_input("%s: %ld examples, cannot hold out data.val_examples = %ld for validation", c->data.train, n, v);
        if (split == SPLIT_VAL) d = data_alpaca(tok, c->data.train, seq_len, c->data.mask_inputs, n - v, v);
        else {
            long cnt = n - v;
            if (c->data.max_examples > 0 && c->data.max_examples < cnt) cnt = c->data.max_examples;
            d = data_alpaca(tok, c->data.train, seq_len, c->data.mask_inputs, 0, cnt);
        }
    }
    d->seq_len = seq_len;
    return d;
}

void data_free(Dataset *d) {
    if (!d) return;
    tokcache_unmap(d->stream, d->ntok);
    for (int i = 0; i < d->nex; i++) free(d->ex[i]);
    free(d->ex); free(d->ex_len); free(d->ex_prompt);
    free(d);
}

// Row from alpaca example e: inputs ex[0..L-2], targets ex[1..L-1] (prompt-masked), padded.
static long alpaca_row(const Dataset *d, int e, int T, int *in, int *tg) {
    int L = d->ex_len[e], np = d->ex_prompt[e];
    if (L > T + 1) L = T + 1;
    long cnt = 0;
    for (int t = 0; t < T; t++) {
        if (t + 1 < L) {
            in[t] = d->ex[e][t];
            // target t predicts token t+1; a prompt token is not something to learn
            int masked = d->mask_inputs && t + 1 < np;
            tg[t] = masked ? -1 : d->ex[e][t + 1];
            cnt += !masked;
        } else {
            in[t] = 0;
            tg[t] = -1;
        }
    }
    return cnt;
}

void data_batch(const Dataset *d, Rng *rng, int B, int T, int *inputs, int *targets) {
    if (d->format == DATA_TEXT) {
        if (d->ntok < (long)T + 1) die_input("training text has %ld tokens, fewer than seq_len + 1 = %d", d->ntok, T + 1);
        uint64_t nstart = (uint64_t)(d->ntok - T); // starts 0..ntok-T-1 give full windows
        for (int b = 0; b < B; b++) {
            long s = (long)(rng_u64(rng) % nstart);
            memcpy(inputs + (size_t)b * T, d->stream + s, (size_t)T * sizeof(int));
            memcpy(targets + (size_t)b * T, d->stream + s + 1, (size_t)T * sizeof(int));
        }
        return;
    }
    for (int b = 0; b < B; b++) {
        int e = (int)(rng_u64(rng) % (uint64_t)d->nex);
        alpaca_row(d, e, T, inputs + (size_t)b * T, targets + (size_t)b * T);
    }
}

long data_val_batches(const Dataset *d, int B, int T) {
    long rows = d->format == DATA_TEXT ? (d->ntok >= 2 ? (d->ntok - 2) / T + 1 : 0) : d->nex;
    return (rows + B - 1) / B;
}

long data_val_batch(const Dataset *d, long idx, int B, int T, int *inputs, int *targets) {
    long cnt = 0;
    for (int b = 0; b < B; b++) {
        long r = idx * B + b;
        int *in = inputs + (size_t)b * T, *tg = targets + (size_t)b * T;
        if (d->format == DATA_TEXT) {
            long nwin = d->ntok >= 2 ? (d->ntok - 2) / T + 1 : 0;
            long s = r * T, len = r < nwin ? (d->ntok - 1 - s < T ? d->ntok - 1 - s : T) : 0; // predicted tokens
            for (int t = 0; t < T; t++) {
                in[t] = t < len ? d->stream[s + t] : 0;
                tg[t] = t < len ? d->stream[s + t + 1] : -1;
            }
            cnt += len;
        } else if (r < d->nex) {
            cnt += alpaca_row(d, (int)r, T, in, tg);
        } else {
            for (int t = 0; t < T; t++) { in[t] = 0; tg[t] = -1; }
        }
    }
    return cnt;
}
