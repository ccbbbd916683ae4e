// gguf_write.h — GGUF v3 writing: a generic writer (metadata + tensors of any ggml type,
// written to a temporary name and renamed) and the model export built on it
// (core/gguf_export.c), readable by core/gguf.c and by llama.cpp.
#pragma once
#include <stdint.h>
#include "model.h"
#include "tokenizer.h"

// A file being assembled: metadata in order, then tensors (data not copied: it must live
// until gguf_out_write). Keys and names are copied.
typedef struct GgufOut GgufOut;
GgufOut *gguf_out_new(void);
void gguf_out_u32(GgufOut *g, const char *key, uint32_t v);
void gguf_out_f32(GgufOut *g, const char *key, float v);
void gguf_out_str(GgufOut *g, const char *key, const char *v);
// The llama architecture keys of config c.
void gguf_out_llama(GgufOut *g, const Config *c);
// tokenizer.ggml.{model,tokens,scores,token_type} from a llama2.c-style vocabulary.
void gguf_out_vocab(GgufOut *g, const Tokenizer *tok);
// A tensor of ggml type `type`: rows × cols (rows 0: 1-D of cols), `bytes` of data.
void gguf_out_tensor(GgufOut *g, const char *name, uint32_t type, int rows, int cols, const void *data, size_t bytes);
// Writes path.tmp, renames it to path (an existing file is never half-overwritten), frees g.
// Returns the bytes written.
size_t gguf_out_write(GgufOut *g, const char *path);

// Model export (core/gguf_export.c). Projections in a uniform group quantizer with an
// exact llama.cpp block (bits ≤ 4 → Q4_1, 5 → Q5_1; rows and groups whole multiples of 32)
// are written as those blocks: w = s·(u − 2^(n−1)) + b is d·u + m with d = s,
// m = b − 2^(n−1)·s, d and m rounded to fp16. A 16-bit form (a LoRA run's frozen W0 on a
// 16-bit base) is written as stored, F16 or BF16. Others need `fallback`; a fp LoRA side
// branch goes to a llama.cpp LoRA adapter file.
typedef struct {
    const char *fallback;  // NULL (refuse) | "f32" | "f16" | "q8_0": tensors without an exact block
    int f16;               // --outtype f16: embeddings, head and fp32 projections as F16
    const char *name, *method, *form;
    const char *adapter;   // adapter path (written when the model has a side branch)
    int verbose;           // print each quantized tensor's fp16 deviation
} GgufExportOpts;
typedef struct {
    int n_block, n_fallback, n_fp, n_adapter;  // tensors per kind
    double max_dev;                            // largest |Δw| the fp16 rounding of d, m caused
    char max_dev_tensor[96];
    size_t bytes, adapter_bytes;
    size_t qparams, qbytes;                    // the projections: weights and stored bytes
} GgufExportReport;
void gguf_export(const char *path, const ModelFile *mf, const Tokenizer *tok, const GgufExportOpts *o, GgufExportReport *r);
