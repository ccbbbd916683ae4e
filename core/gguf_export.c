// gguf_export.c — a model (as loaded or as a run deployed it) → a llama.cpp GGUF in
// llama.cpp's own block types, plus a llama.cpp LoRA adapter for a fp side branch
// (see gguf_write.h for the mapping; build/llama.cpp/src/llama-adapter.cpp for the adapter).
#include "checkpoint.h"
#include "ggml_quants.h"
#include "half.h"
#include "gguf_write.h"
#include "quant.h"
#include "util.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

// Buffers the file's tensors point into, freed once it is written.
typedef struct { void **p; int n, cap; } Owned;
static void *own(Owned *o, void *p) {
    if (o->n == o->cap) o->p = xrealloc(o->p, (size_t)(o->cap = o->cap ? 2 * o->cap : 64) * sizeof *o->p);
    return o->p[o->n++] = p;
}

// Why a deployed projection has no exact llama.cpp block type (NULL: Q4_1/Q5_1 fit, or a
// 16-bit form, written as llama.cpp's F16/BF16).
static const char *no_block(const Deploy *d, char *buf, size_t n) {
    if (deploy_is_half(d)) return NULL;
    if (d->kind == DEP_NF4) return "NF4 codes have no llama.cpp block";
    int gs = d->group_size > 0 ? d->group_size : d->in;
    if (d->bits > 5) snprintf(buf, n, "%d-bit codes with offsets have no llama.cpp block", d->bits);
    else if (d->in % GQ_QK) snprintf(buf, n, "rows of %d are not whole blocks of %d", d->in, GQ_QK);
    else if (gs % GQ_QK) snprintf(buf, n, "group %d is not a multiple of %d", gs, GQ_QK);
    else return NULL;
    return buf;
}

// Q4_1 (bits ≤ 4) or Q5_1 blocks of a uniform projection: block k of row r has d = s and
// m = b − 2^(n−1)·s of the group holding it, q = the stored unsigned code. *dev gets the
// largest |Δw| between what ggml will compute (the blocks dequantized) and the harness's
// own dequantization (deploy_rows) — the fp16 rounding of d and m.
static void *affine_blocks(const Deploy *d, const char *name, uint32_t type, size_t *bytes, double *dev) {
    int in = d->in, out = d->out, gs = d->group_size > 0 ? d->group_size : in, ng = (in + gs - 1) / gs;
    float half = (float)(1 << (d->bits - 1));
    size_t bs = type == GQ_Q4_1 ? sizeof(block_q4_1) : sizeof(block_q5_1), row = (size_t)(in / GQ_QK) * bs;
    uint8_t *blk = xmalloc((size_t)out * row), *u = xmalloc((size_t)in);
    float *ref = xmalloc((size_t)in * sizeof(float)), *got = xmalloc((size_t)in * sizeof(float));
    *dev = 0;
    for (int r = 0; r < out; r++) {
        quant_unpack(d->codes + (size_t)r * deploy_row_bytes(d->bits, in), 1, in, d->bits, u);
        for (int k = 0; k < in / GQ_QK; k++) {
            size_t g = (size_t)r * ng + (size_t)(k * GQ_QK / gs);
            float s = d->scale[g], m = (d->offset ? d->offset[g] : 0.0f) - half * s;
            if (!(fabsf(s) <= 65504.0f && fabsf(m) <= 65504.0f))
                die_input("export: %s row %d: scale %g / offset %g exceed fp16's range; no Q%d_1 block can hold them",
                          name, r, (double)s, (double)m, type == GQ_Q4_1 ? 4 : 5);
            (type == GQ_Q4_1 ? gq_block_q4_1 : gq_block_q5_1)(u + k * GQ_QK, s, m, blk + r * row + k * bs);
        }
        deploy_rows(d, r, 1, ref);
        gq_dequantize(type, blk + r * row, got, (size_t)in);
        for (int j = 0; j < in; j++) if (fabs((double)got[j] - ref[j]) > *dev) *dev = fabs((double)got[j] - ref[j]);
    }
    free(u); free(ref); free(got);
    *bytes = (size_t)out * row;
    return blk;
}

// fp32 rows (rows × cols) as F32 (no copy), F16 or Q8_0 (Q8_0 needs whole blocks).
static const void *fp_tensor(Owned *o, const float *w, int rows, int cols, uint32_t type, size_t *bytes) {
    size_t n = (size_t)rows * cols;
    *bytes = gq_nbytes(type, n);
    if (type == GQ_F32) return w;
    uint8_t *b = own(o, xmalloc(*bytes));
    if (type == GQ_F16) for (size_t j = 0; j < n; j++) { uint16_t h = f32_to_f16(w[j]); memcpy(b + 2 * j, &h, 2); }
    else for (size_t k = 0; k < n / GQ_QK; k++) gq_block_q8_0(w + k * GQ_QK, b + k * sizeof(block_q8_0));
    return b;
}

void gguf_export(const char *path, const ModelFile *mf, const Tokenizer *tok, const GgufExportOpts *op, GgufExportReport *rep) {
    const Config *c = &mf->c;
    int L = c->n_layers, n = L * N_LAYER_PROJ;
    memset(rep, 0, sizeof *rep);
    if (c->rope_factor > 0) // llama.cpp keeps it as a rope_freqs tensor, which core/gguf.c does not read
        die_input("%s: GGUF export of a model with llama3 RoPE scaling is not supported (export l4qz)", path);
    if (!tok_embeddable(tok, c->vocab_size)) tok = NULL; // then --tokenizer is needed with the export
    uint32_t fb = !op->fallback ? GQ_NTYPES : !strcmp(op->fallback, "f32") ? GQ_F32 : !strcmp(op->fallback, "f16") ? GQ_F16
                  : !strcmp(op->fallback, "q8_0") ? GQ_Q8_0 : GQ_NTYPES;
    if (op->fallback && fb == GQ_NTYPES) die_input("export: --fallback must be f32, f16 or q8_0 (got '%s')", op->fallback);
    uint32_t fpt = op->f16 ? GQ_F16 : GQ_F32;

    // Which projections have no exact block: refused (one line) unless a fallback is given.
    char why[128], first[256] = "";
    int nofit = 0;
    for (int i = 0; i < n; i++) {
        const Deploy *d = mf->dep ? mf->dep[i] : NULL;
        const char *r = d && d->kind != DEP_FP32 ? no_block(d, why, sizeof why) : NULL;
        if (r && !nofit++) snprintf(first, sizeof first, "blk.%d.%s.weight: %s", i / N_LAYER_PROJ, GGUF_PROJ_NAMES[i % N_LAYER_PROJ], r);
    }
    if (nofit && fb == GQ_NTYPES)
        die_input("export: %d tensor%s no exact llama.cpp block type (%s%s); pass --fallback f32|f16|q8_0 to write them dequantized",
                  nofit, nofit > 1 ? "s have" : " has", first, nofit > 1 ? ", ..." : "");
    if (nofit)
        warnf("export: %d tensor%s no exact llama.cpp block type (%s%s): written as %s%s (--fallback %s)", nofit,
              nofit > 1 ? "s have" : " has", first, nofit > 1 ? ", ..." : "", gq_type_name(fb),
              fb == GQ_Q8_0 ? " (F16 where rows are not whole blocks)" : "", op->fallback);

    GgufOut *g = gguf_out_new(), *ad = NULL;
    Owned o = {0};
    gguf_out_llama(g, c);
    gguf_out_str(g, "general.name", op->name ? op->name : "l4q-export");
    if (op->method) gguf_out_str(g, "l4q.method", op->method);
    if (op->form) gguf_out_str(g, "l4q.form", op->form);
    if (nofit) gguf_out_str(g, "l4q.fallback", op->fallback);
    if (tok) gguf_out_vocab(g, tok);
    size_t bytes;
    const void *p;
    p = fp_tensor(&o, mf->tok_emb, c->vocab_size, c->dim, fpt, &bytes);
    gguf_out_tensor(g, "token_embd.weight", fpt, c->vocab_size, c->dim, p, bytes);
    char nm[96], key[128];
    float alpha = 0;
    for (int l = 0; l < L; l++) {
        snprintf(nm, sizeof nm, "blk.%d.attn_norm.weight", l);
        gguf_out_tensor(g, nm, GQ_F32, 0, c->dim, mf->rms_att + (size_t)l * c->dim, (size_t)c->dim * 4);
        snprintf(nm, sizeof nm, "blk.%d.ffn_norm.weight", l);
        gguf_out_tensor(g, nm, GQ_F32, 0, c->dim, mf->rms_ffn + (size_t)l * c->dim, (size_t)c->dim * 4);
        for (int q = 0; q < N_LAYER_PROJ; q++) {
            int i = l * N_LAYER_PROJ + q, out, in;
            proj_dims(c, q, &out, &in);
            snprintf(nm, sizeof nm, "blk.%d.%s.weight", l, GGUF_PROJ_NAMES[q]);
            const Deploy *d = mf->dep ? mf->dep[i] : NULL;
            uint32_t type;
            if (!d || d->kind == DEP_FP32) {
                type = fpt;
                p = fp_tensor(&o, d ? d->w : mf->w[i], out, in, type, &bytes);
                rep->n_fp++;
            } else if (deploy_is_half(d)) { // the frozen 16-bit base exactly as stored
                type = d->kind == DEP_BF16 ? GQ_BF16 : GQ_F16;
                p = d->h;
                bytes = (size_t)out * in * sizeof(uint16_t);
                rep->n_fp++;
            } else if (!no_block(d, why, sizeof why)) {
                type = d->bits <= 4 ? GQ_Q4_1 : GQ_Q5_1;
                double dev;
                p = own(&o, affine_blocks(d, nm, type, &bytes, &dev));
                snprintf(key, sizeof key, "l4q.fp16_max_dev.%s", nm);
                gguf_out_f32(g, key, (float)dev);
                if (op->verbose) printf("  %-26s %-5s int%d g%d -> max |dw| from fp16 d, m: %.3g\n", nm, gq_type_name(type), d->bits, d->group_size, dev);
                if (dev >= rep->max_dev) { rep->max_dev = dev; snprintf(rep->max_dev_tensor, sizeof rep->max_dev_tensor, "%s", nm); }
                rep->n_block++;
            } else { // the fallback: the base dequantized exactly as the harness runs it
                float *w = own(&o, xmalloc((size_t)out * in * sizeof(float)));
                deploy_rows(d, 0, out, w);
                type = fb == GQ_Q8_0 && in % GQ_QK ? GQ_F16 : fb; // Q8_0 needs whole blocks too
                p = fp_tensor(&o, w, out, in, type, &bytes);
                rep->n_fallback++;
            }
            gguf_out_tensor(g, nm, type, out, in, p, bytes);
            rep->qparams += (size_t)out * in;
            rep->qbytes += bytes;
            if (d && d->rank > 0 && d->lora_A && d->lora_B) { // llama.cpp: y += (alpha/r)·B·(A·x)
                if (!op->adapter) die_input("export: %s has a LoRA side branch: an adapter path is needed", nm);
                float a = d->lora_scale * (float)d->rank;
                if (ad && a != alpha) die_input("export: %s: LoRA scale·rank %g differs from the other layers' %g (one alpha per llama.cpp adapter)", nm, (double)a, (double)alpha);
                if (!ad) {
                    ad = gguf_out_new();
                    alpha = a;
                    gguf_out_str(ad, "general.architecture", "llama");
                    gguf_out_str(ad, "general.type", "adapter");
                    gguf_out_str(ad, "general.name", op->name ? op->name : "l4q-export");
                    gguf_out_str(ad, "adapter.type", "lora");
                    gguf_out_f32(ad, "adapter.lora.alpha", alpha);
                    gguf_out_u32(ad, "general.alignment", 32);
                }
                // lora_a: ne [in, r] (A as stored, r×in); lora_b: ne [r, out] (B, out×r).
                snprintf(key, sizeof key, "%s.lora_a", nm);
                gguf_out_tensor(ad, key, GQ_F32, d->rank, in, d->lora_A, (size_t)d->rank * in * 4);
                snprintf(key, sizeof key, "%s.lora_b", nm);
                gguf_out_tensor(ad, key, GQ_F32, out, d->rank, d->lora_B, (size_t)out * d->rank * 4);
                rep->n_adapter++;
            }
        }
    }
    gguf_out_tensor(g, "output_norm.weight", GQ_F32, 0, c->dim, mf->rms_final, (size_t)c->dim * 4);
    if (!c->shared_classifier) {
        p = fp_tensor(&o, mf->wcls, c->vocab_size, c->dim, fpt, &bytes);
        gguf_out_tensor(g, "output.weight", fpt, c->vocab_size, c->dim, p, bytes);
    }
    if (ad) rep->adapter_bytes = gguf_out_write(ad, op->adapter);
    rep->bytes = gguf_out_write(g, path);
    for (int i = 0; i < o.n; i++) free(o.p[i]);
    free(o.p);
}
