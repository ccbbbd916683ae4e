// gpu_memory.h — the CPU memory account (core/model.c model_memory, the methods' MemAccount
// fields) in closed form, per method and shape, and the device prediction built on it.
//
// bench/gpu_table1 must run on a GPU machine without the harness library (no OpenBLAS,
// HDF5, ...), yet print, for a row that does not fit, what the row would need. So the
// account is written out here as arithmetic on the shape; tests/test_gpu_memory.c checks
// every field of it against model_memory() of real CPU models (every method of the table,
// fp32 and 16-bit W0) on small shapes, so the formula is the CPU's, not a guess.
//
// Header-only (static inline), depends on deploy.h's inline storage sizes only.
#pragma once
#include <stddef.h>
#include <string.h>
#include "deploy.h"
#include "l4q_tile.h"

typedef struct {
    int dim, hidden, layers, heads, kv_heads, vocab;
    int untied;                 // a separate classifier (wcls); frozen unless targeted
} GmShape;

typedef struct {
    const char *name;           // lora | l4q | qlora | rtn_lora | gptq_lora | qa_lora | qat_lora | lsq
    int rank, bits, group_size; // group_size > 0
    unsigned targets;           // bit p: projection p (q,k,v,o,gate,up,down = bits 0..6) goes through it
    int tile_rows;              // l4q tile (method.tile_rows, 256 by default)
} GmMethod;

// What model_memory() reports after a training step (before run/train.c overrides
// grad_opt_bytes with the optimizer's dtype), transient_peak aside (thread-dependent on
// the CPU; the device gets its own term below).
typedef struct {
    size_t weight_bytes, trainable_bytes, grad_opt_bytes, saved_bytes;
    size_t act_bytes;           // the model's fp32 activation slabs (part of saved_bytes)
    size_t method_saved;        // saved_bytes − act_bytes: what methods keep of out×in size
    size_t n_trainable;         // trainable values (trainable_bytes / 4)
    size_t transient;           // largest one-projection scratch of a step (see gm_account)
} GmAccount;

// out × in of projection p (linear.h P_* order).
static inline void gm_proj_dims(const GmShape *s, int p, int *out, int *in) {
    int kv = s->dim / s->heads * s->kv_heads;
    static const int kind[7] = {0, 1, 1, 0, 2, 2, 3}; // q k v o gate up down
    switch (kind[p]) {
    case 0: *out = s->dim; *in = s->dim; break;
    case 1: *out = kv; *in = s->dim; break;
    case 2: *out = s->hidden; *in = s->dim; break;
    default: *out = s->dim; *in = s->hidden; break;
    }
}

static inline int gm_is(const GmMethod *m, const char *a) { return !strcmp(m->name, a); }
static inline int gm_uniform_base(const GmMethod *m) {
    return gm_is(m, "rtn_lora") || gm_is(m, "gptq_lora") || gm_is(m, "qa_lora");
}
static inline int gm_known(const char *name) {
    static const char *const k[] = {"lora", "l4q", "qlora", "rtn_lora", "gptq_lora", "qa_lora", "qat_lora", "lsq"};
    for (size_t i = 0; i < sizeof k / sizeof *k; i++) if (!strcmp(name, k[i])) return 1;
    return 0;
}

// The account of a model of shape s trained by m with B×T activation capacity. w0_bytes:
// bytes per frozen projection/head weight (4 fp32, 2 for a 16-bit file); emb_bytes: the
// embedding's (norms are always fp32).
static inline void gm_account(const GmShape *s, const GmMethod *m, int w0_bytes, int emb_bytes, int B, int T,
                              GmAccount *a) {
    memset(a, 0, sizeof *a);
    size_t R = (size_t)B * T, D = (size_t)s->dim, H = (size_t)s->hidden, L = (size_t)s->layers;
    size_t kv = D / (size_t)s->heads * (size_t)s->kv_heads, r = (size_t)m->rank;
    size_t tr = 0; // trainable values
    int span = s->hidden > s->dim ? s->hidden : s->dim;
    for (size_t l = 0; l < L; l++)
        for (int p = 0; p < 7; p++) {
            int o, i;
            gm_proj_dims(s, p, &o, &i);
            size_t out = (size_t)o, in = (size_t)i, n = out * in;
            size_t ng = (in + (size_t)m->group_size - 1) / (size_t)m->group_size;
            if (!(m->targets & (1u << p))) { a->weight_bytes += n * (size_t)w0_bytes; continue; }
            if (gm_is(m, "lora")) {
                a->weight_bytes += n * (size_t)w0_bytes;
                tr += r * (in + out);
            } else if (gm_is(m, "l4q")) {
                a->weight_bytes += n * (size_t)w0_bytes;
                tr += r * (in + out) + 2 * out * ng;
                // a Wq tile for forward/dX and the matching G tile (the CPU reuses one buffer
                // and adds per-thread scratch; a device keeps both)
                size_t t = (size_t)l4q_tile(m->tile_rows, span, (int)out, (int)in), tb = 2 * t * in * sizeof(float);
                if (tb > a->transient) a->transient = tb;
            } else if (gm_is(m, "qat_lora") || gm_is(m, "lsq")) {
                int lsq = gm_is(m, "lsq");
                a->weight_bytes += lsq ? 0 : n * (size_t)w0_bytes;
                tr += (lsq ? n : r * (in + out)) + 2 * out * ng;
                a->method_saved += n * (2 * sizeof(float) + 1); // Wq, the ds factor, the mask
                if (n * sizeof(float) > a->transient) a->transient = n * sizeof(float); // a full G
            } else if (gm_is(m, "qlora")) {
                a->weight_bytes += nf4_codes_bytes(n) + nf4_blocks(n) + nf4_scales(n) * sizeof(float) + sizeof(float);
                tr += r * (in + out);
            } else { // uniform base: rtn_lora, gptq_lora (same stored form), qa_lora
                a->weight_bytes += out * deploy_row_bytes(m->bits, (int)in) + 2 * out * ng * sizeof(float);
                if (gm_is(m, "qa_lora")) {
                    tr += r * (ng + out);
                    a->method_saved += R * r * sizeof(float); // U = pool(X)·Aᵀ, kept for backward
                } else {
                    tr += r * (in + out);
                }
            }
        }
    // Head (frozen, untied), embedding, norms (fp32).
    if (s->untied) a->weight_bytes += (size_t)s->vocab * D * (size_t)w0_bytes;
    a->weight_bytes += (size_t)s->vocab * D * (size_t)emb_bytes + (2 * L + 1) * D * sizeof(float);
    // Activations (model_build's slabs) and the backward scratch of a trained model.
    size_t act = (L + 1) * R * D + L * R * (D + 1 + D + 2 * kv + D + D + D + 1 + 3 * H) + R * D + R;
    act += 5 * R * D + 2 * R * kv + 3 * R * H + L * (size_t)B * (size_t)s->heads * (size_t)T;
    a->act_bytes = act * sizeof(float);
    a->n_trainable = tr;
    a->trainable_bytes = tr * sizeof(float);
    a->grad_opt_bytes = 3 * a->trainable_bytes;
    a->saved_bytes = a->method_saved + a->act_bytes;
}

// The device prediction for a bf16 run: frozen weights as the CPU holds a 16-bit file (so
// gm_account with w0_bytes = emb_bytes = 2), fp32 trainables and gradients (a device does
// not reuse activation memory for gradients as the CPU does), AdamW moments of
// moment_bytes each, the methods' saved out×in state as the CPU keeps it, activations at
// act_elem_bytes per element (2 for bf16 activations), a logits chunk of up to 1024 rows,
// the largest transient, and the cuBLAS workspace and CUDA context as given.
static inline size_t gm_device_predict(const GmAccount *a, const GmShape *s, int B, int T, int moment_bytes,
                                       int act_elem_bytes, size_t workspace, size_t context) {
    size_t rows = (size_t)B * T < 1024 ? (size_t)B * T : 1024;
    return a->weight_bytes + 2 * a->trainable_bytes + 2 * a->n_trainable * (size_t)moment_bytes + a->method_saved +
           a->act_bytes / sizeof(float) * (size_t)act_elem_bytes + rows * (size_t)s->vocab * sizeof(float) +
           a->transient + workspace + context;
}
