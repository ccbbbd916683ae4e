// llama_client.c — llama.cpp itself as a test oracle (built by `make test` against the
// prebuilt libllama/libggml that `make llamacpp-deps` installs; never part of build/l4q).
//
//   llama_client nll MODEL WINDOWS [ADAPTER [SCALE]]
//       WINDOWS: int32 n, then n times (int32 len, int32 ids[len]). Each window is run from
//       an empty KV cache at positions 0..len−2 and scored on its tokens 1..len−1 (the
//       harness's perplexity protocol). Prints one JSON line: {"nll": sum, "count": n,
//       "mean": sum/n}. ADAPTER: a LoRA adapter GGUF applied with SCALE (default 1).
//   llama_client quantize IN OUT FTYPE      FTYPE: Q8_0 | Q4_0 | Q4_1 | Q4_K_M
//
// The KV cache is kept in f32 (llama.cpp's default is f16), flash attention off and weights
// not repacked, so the only differences left against the harness are the weights' block types
// and what llama.cpp's CPU kernels do to activations in quantized matrix products (they are
// quantized to 8 bits; tests/llamacpp.py emulates that).
#include "llama.h"
#include "ggml-backend.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void quiet(enum ggml_log_level level, const char *text, void *user) {
    (void)user;
    if (level >= GGML_LOG_LEVEL_ERROR || getenv("LLAMA_CLIENT_VERBOSE")) fputs(text, stderr);
}

static bool no_progress(float progress, void *user) { (void)progress; (void)user; return true; }

static void die(const char *msg, const char *arg) {
    fprintf(stderr, "llama_client: %s%s%s\n", msg, arg ? ": " : "", arg ? arg : "");
    exit(2);
}

static int cmd_quantize(const char *in, const char *out, const char *ft) {
    llama_model_quantize_params p = llama_model_quantize_default_params();
    if (!strcmp(ft, "Q8_0")) p.ftype = LLAMA_FTYPE_MOSTLY_Q8_0;
    else if (!strcmp(ft, "Q4_0")) p.ftype = LLAMA_FTYPE_MOSTLY_Q4_0;
    else if (!strcmp(ft, "Q4_1")) p.ftype = LLAMA_FTYPE_MOSTLY_Q4_1;
    else if (!strcmp(ft, "Q4_K_M")) p.ftype = LLAMA_FTYPE_MOSTLY_Q4_K_M;
    else die("unknown ftype", ft);
    p.nthread = 1;
    if (llama_model_quantize(in, out, &p)) die("llama_model_quantize failed", in);
    return 0;
}

static int cmd_nll(const char *model_path, const char *win_path, const char *adapter, float scale) {
    FILE *f = fopen(win_path, "rb");
    if (!f) die("cannot open", win_path);
    int32_t nw;
    if (fread(&nw, 4, 1, f) != 1 || nw <= 0) die("bad windows file", win_path);
    int32_t **win = calloc((size_t)nw, sizeof *win), *len = calloc((size_t)nw, sizeof *len), maxlen = 0;
    for (int w = 0; w < nw; w++) {
        if (fread(&len[w], 4, 1, f) != 1 || len[w] < 2 || len[w] > 1 << 20) die("bad window length in", win_path);
        win[w] = malloc((size_t)len[w] * 4);
        if (fread(win[w], 4, (size_t)len[w], f) != (size_t)len[w]) die("truncated", win_path);
        if (len[w] > maxlen) maxlen = len[w];
    }
    fclose(f);

    struct llama_model_params mp = llama_model_default_params();
    mp.n_gpu_layers = 0;
    // No weight repacking (AMX/AVX repacked layouts have kernels of their own, which differ
    // between CPUs): the portable ggml-cpu dot products, the ones tests/llamacpp.py emulates.
    mp.use_extra_bufts = false;
    mp.progress_callback = no_progress; // its default prints dots
    mp.progress_callback_user_data = NULL;
    struct llama_model *model = llama_model_load_from_file(model_path, mp);
    if (!model) die("cannot load model", model_path);
    struct llama_context_params cp = llama_context_default_params();
    cp.n_ctx = (uint32_t)maxlen;
    cp.n_batch = cp.n_ubatch = 256;
    cp.n_seq_max = 1;
    // One thread by default: ggml's worker threads spin while they wait, which on a shared
    // 2-core machine made a 0.6 s job take 17 s; the models here are tiny.
    const char *th = getenv("LLAMA_CLIENT_THREADS");
    cp.n_threads = cp.n_threads_batch = th ? atoi(th) : 1;
    cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
    cp.type_k = cp.type_v = GGML_TYPE_F32;
    struct llama_context *ctx = llama_init_from_model(model, cp);
    if (!ctx) die("cannot create a context for", model_path);
    if (adapter) {
        struct llama_adapter_lora *a = llama_adapter_lora_init(model, adapter);
        if (!a) die("cannot load adapter", adapter);
        if (llama_set_adapters_lora(ctx, &a, 1, &scale)) die("cannot apply adapter", adapter);
    }
    int V = llama_vocab_n_tokens(llama_model_get_vocab(model));
    uint32_t nb = llama_n_batch(ctx);
    struct llama_batch b = llama_batch_init((int32_t)nb, 0, 1);
    double sum = 0;
    long count = 0;
    for (int w = 0; w < nw; w++) {
        llama_memory_clear(llama_get_memory(ctx), true);
        int n = len[w] - 1; // positions that predict a next token
        for (int p0 = 0; p0 < n; p0 += (int)nb) {
            int m = n - p0 < (int)nb ? n - p0 : (int)nb; // each batch ≤ n_batch
            b.n_tokens = m;
            for (int i = 0; i < m; i++) {
                b.token[i] = win[w][p0 + i];
                b.pos[i] = p0 + i;
                b.n_seq_id[i] = 1;
                b.seq_id[i][0] = 0;
                b.logits[i] = 1;
            }
            if (llama_decode(ctx, b)) die("llama_decode failed on", win_path);
            for (int i = 0; i < m; i++) {
                const float *lg = llama_get_logits_ith(ctx, i);
                double mx = -INFINITY, z = 0;
                for (int v = 0; v < V; v++) if (lg[v] > mx) mx = lg[v];
                for (int v = 0; v < V; v++) z += exp((double)lg[v] - mx);
                sum += mx + log(z) - (double)lg[win[w][p0 + i + 1]];
                count++;
            }
        }
    }
    printf("{\"nll\": %.10g, \"count\": %ld, \"mean\": %.10g}\n", sum, count, sum / (double)count);
    llama_batch_free(b);
    llama_free(ctx);
    llama_model_free(model);
    for (int w = 0; w < nw; w++) free(win[w]);
    free(win); free(len);
    return 0;
}

int main(int argc, char **argv) {
    llama_log_set(quiet, NULL);
    const char *bins = getenv("LLAMA_BINS");
    if (!bins) die("LLAMA_BINS (the folder of the prebuilt ggml backends) is not set", NULL);
    ggml_backend_load_all_from_path(bins);
    llama_backend_init();
    int rc;
    if (argc == 5 && !strcmp(argv[1], "quantize")) rc = cmd_quantize(argv[2], argv[3], argv[4]);
    else if (argc >= 4 && argc <= 6 && !strcmp(argv[1], "nll"))
        rc = cmd_nll(argv[2], argv[3], argc > 4 ? argv[4] : NULL, argc > 5 ? (float)atof(argv[5]) : 1.0f);
    else die("usage: llama_client nll MODEL WINDOWS [ADAPTER [SCALE]] | quantize IN OUT Q8_0|Q4_0|Q4_1|Q4_K_M", NULL);
    llama_backend_free();
    return rc;
}
