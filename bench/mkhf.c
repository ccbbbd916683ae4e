// mkhf.c — writes a LLaMA-shape model with random weights as a Hugging Face directory
// (config.json, one bf16/f16 safetensors shard per decoder layer plus one for the
// embeddings, head and final norm, model.safetensors.index.json) — for benchmarks of shapes
// we hold no checkpoint for (bench/big.sh: LLaMA-7B's).
//
//   build/bench/mkhf OUTDIR [--dim D --hidden H --layers L --heads N --kv-heads K --vocab V
//       --seq T --dtype bf16|f16]
// Weights are uniform in ±0.03 (about LLaMA-7B's spread), norms 1. Prints progress.
#include "half.h"
#include "util.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct { char name[96]; int rows, cols; int norm; } Tns;

static uint64_t xs_state = 0x9E3779B97F4A7C15ull;
static inline uint64_t xs(void) { // xorshift64*: fast, and these weights need no better
    xs_state ^= xs_state >> 12; xs_state ^= xs_state << 25; xs_state ^= xs_state >> 27;
    return xs_state * 0x2545F4914F6CDD1Dull;
}

static void write_shard(const char *dir, const char *file, const Tns *t, int n, int dt) {
    char path[1400], hdr[1 << 16];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    size_t o = 0, off = 0;
    o += snprintf(hdr + o, sizeof hdr - o, "{\"__metadata__\":{\"format\":\"pt\"}");
    for (int i = 0; i < n; i++) {
        size_t bytes = (size_t)t[i].rows * t[i].cols * 2;
        if (t[i].rows == 1)
            o += snprintf(hdr + o, sizeof hdr - o, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[%d],\"data_offsets\":[%zu,%zu]}",
                          t[i].name, dt == DT_BF16 ? "BF16" : "F16", t[i].cols, off, off + bytes);
        else
            o += snprintf(hdr + o, sizeof hdr - o, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[%d,%d],\"data_offsets\":[%zu,%zu]}",
                          t[i].name, dt == DT_BF16 ? "BF16" : "F16", t[i].rows, t[i].cols, off, off + bytes);
        off += bytes;
    }
    o += snprintf(hdr + o, sizeof hdr - o, "}");
    while (o % 8) hdr[o++] = ' '; // the data buffer starts 8-byte aligned
    FILE *f = fopen(path, "wb");
    if (!f) die_input("%s: cannot create: %s", path, strerror(errno));
    uint64_t hl = o;
    fwrite(&hl, 8, 1, f);
    fwrite(hdr, 1, o, f);
    size_t chunk = 1 << 22;
    float *buf = xmalloc(chunk * sizeof(float));
    uint16_t *h = xmalloc(chunk * 2);
    for (int i = 0; i < n; i++) {
        size_t total = (size_t)t[i].rows * t[i].cols;
        for (size_t done = 0; done < total; done += chunk) {
            size_t m = total - done < chunk ? total - done : chunk;
            for (size_t j = 0; j < m; j++)
                buf[j] = t[i].norm ? 1.0f : ((float)(xs() >> 40) * 0x1p-24f * 2.0f - 1.0f) * 0.03f;
            f32_to_half(dt, buf, h, m);
            if (fwrite(h, 2, m, f) != m) die_input("%s: write failed: %s", path, strerror(errno));
        }
    }
    free(buf); free(h);
    if (fclose(f)) die_input("%s: write failed: %s", path, strerror(errno));
}

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: mkhf OUTDIR [--dim D --hidden H --layers L --heads N --kv-heads K --vocab V --seq T --dtype bf16|f16]\n"); return 2; }
    const char *dir = argv[1];
    int D = 4096, H = 11008, L = 32, NH = 32, KV = 32, V = 32000, T = 4096, dt = DT_BF16;
    for (int i = 2; i + 1 < argc; i += 2) {
        const char *k = argv[i]; int v = atoi(argv[i + 1]);
        if (!strcmp(k, "--dim")) D = v;
        else if (!strcmp(k, "--hidden")) H = v;
        else if (!strcmp(k, "--layers")) L = v;
        else if (!strcmp(k, "--heads")) NH = v;
        else if (!strcmp(k, "--kv-heads")) KV = v;
        else if (!strcmp(k, "--vocab")) V = v;
        else if (!strcmp(k, "--seq")) T = v;
        else if (!strcmp(k, "--dtype")) {
            if (!strcmp(argv[i + 1], "bf16")) dt = DT_BF16;
            else if (!strcmp(argv[i + 1], "f16")) dt = DT_F16;
            else die_input("mkhf: --dtype must be bf16 or f16 (got %s)", argv[i + 1]);
        } else die_input("mkhf: unknown option %s", k);
    }
    if (D <= 0 || H <= 0 || L <= 0 || NH <= 0 || KV <= 0 || V <= 0 || T <= 0 || D % NH || NH % KV)
        die_input("mkhf: inconsistent shape");
    if (mkdir(dir, 0755) && errno != EEXIST) die_input("%s: cannot create: %s", dir, strerror(errno));
    char path[1400];
    snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *f = fopen(path, "w");
    if (!f) die_input("%s: cannot create", path);
    fprintf(f, "{\"architectures\":[\"LlamaForCausalLM\"],\"model_type\":\"llama\",\"hidden_size\":%d,"
               "\"intermediate_size\":%d,\"num_hidden_layers\":%d,\"num_attention_heads\":%d,"
               "\"num_key_value_heads\":%d,\"vocab_size\":%d,\"max_position_embeddings\":%d,\"rms_norm_eps\":1e-05,"
               "\"rope_theta\":10000.0,\"tie_word_embeddings\":false,\"hidden_act\":\"silu\",\"torch_dtype\":\"%s\"}\n",
            D, H, L, NH, KV, V, T, dt == DT_BF16 ? "bfloat16" : "float16");
    fclose(f);
    int kv = D / NH * KV, nsh = L + 1;
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
    FILE *ix = fopen(path, "w");
    if (!ix) die_input("%s: cannot create", path);
    fprintf(ix, "{\"metadata\":{},\"weight_map\":{");
    static const char *const pn[7] = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                                      "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"};
    int shape[7][2] = {{D, D}, {kv, D}, {kv, D}, {D, D}, {H, D}, {H, D}, {D, H}};
    double t0 = now_sec();
    for (int s = 0; s < nsh; s++) {
        Tns t[9];
        int n = 0;
        char file[64];
        snprintf(file, sizeof file, "model-%05d-of-%05d.safetensors", s + 1, nsh);
        if (s == L) {
            t[n++] = (Tns){"model.embed_tokens.weight", V, D, 0};
            t[n++] = (Tns){"lm_head.weight", V, D, 0};
            t[n++] = (Tns){"model.norm.weight", 1, D, 1};
        } else {
            for (int p = 0; p < 7; p++) {
                snprintf(t[n].name, sizeof t[n].name, "model.layers.%d.%s.weight", s, pn[p]);
                t[n].rows = shape[p][0]; t[n].cols = shape[p][1]; t[n].norm = 0; n++;
            }
            snprintf(t[n].name, sizeof t[n].name, "model.layers.%d.input_layernorm.weight", s);
            t[n].rows = 1; t[n].cols = D; t[n].norm = 1; n++;
            snprintf(t[n].name, sizeof t[n].name, "model.layers.%d.post_attention_layernorm.weight", s);
            t[n].rows = 1; t[n].cols = D; t[n].norm = 1; n++;
        }
        write_shard(dir, file, t, n, dt);
        for (int i = 0; i < n; i++) fprintf(ix, "%s\"%s\":\"%s\"", s || i ? "," : "", t[i].name, file);
        fprintf(stderr, "\rmkhf: %d/%d shards written (%.0f s)", s + 1, nsh, now_sec() - t0);
    }
    fprintf(ix, "}}\n");
    if (fclose(ix)) die_input("%s: write failed", path);
    fprintf(stderr, "\n");
    return 0;
}
