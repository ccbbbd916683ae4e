// l4qz.h — the harness's own exported (quantized) model format.
//
// Layout (little-endian, as written by x86/ARM hosts; version 1, or 2 when a 16-bit kind occurs):
//   0   "L4QZ"  u32 version  u64 file_bytes (the whole file, trailer included)
//   16  Config: i32 dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len,
//       shared_classifier; f32 norm_eps, rope_theta
//       char method[32], char form[32] (NUL-padded), u32 flags (bit 0: tokenizer embedded,
//       bit 1: llama3 RoPE scaling, then f32 factor, low_freq, high_freq, original_max_pos)
//   f32 tok_emb V×dim, rms_att L×dim, rms_ffn L×dim, rms_final dim, [wcls V×dim if unshared]
//   L·N_LAYER_PROJ projection records, layer-major in q,k,v,o,gate,up,down order:
//       u32 kind, i32 out, i32 in, then by kind
//       FP32:    f32 w[out·in]
//       UNIFORM: i32 bits, i32 group_size, u64 codes_bytes, u8 codes[...] (quant.h layout),
//                f32 scale[out·ng], f32 offset[out·ng]
//       NF4:     u64 codes_bytes, codes; u64 n_blocks, u8 absmax_q[n_blocks];
//                u64 n_scales, f32 absmax_scale[n_scales]; f32 absmax_mean
//       F16, BF16 (kinds 3, 4; version 2 only): u16 h[out·in]
//       then i32 rank, f32 lora_scale, and if rank > 0: f32 A[rank·in], f32 B[out·rank]
//   tokenizer (flag bit 0): i32 n, then per piece f32 score, i32 len, bytes
//   trailer: u64 FNV-1a-64 of bytes [16, file_bytes − 8)
// The exact size and the checksum are verified before anything is parsed, so a truncated
// or damaged file is rejected (exit 2) rather than half-read. The writer writes version 1
// whenever the file has no 16-bit kind, so every other file stays readable by (and
// byte-identical to) version-1 readers; a version-1 reader refuses a version-2 file by its
// version, in one line.
#pragma once
#include <stddef.h>
#include "modelfile.h"

#define L4QZ_VERSION 2 // the newest version read; kinds F16/BF16 need 2

// buf/len: the whole file (starts with the "L4QZ" magic), malloc'd by the caller. Returns a
// ModelFile with dep[] filled (w[] entries NULL) and everything copied out of buf, except
// 16-bit weights: they point into buf, which the ModelFile then keeps (mf->hold, freed with
// it; checkpoint.c frees buf otherwise).
ModelFile *l4qz_load(const char *path, const void *buf, size_t len);
// Writes a model file in its deployed form (model_deployed(M) for a trained model, see
// snapshot.h; projections without a Deploy are written as fp32). tok: embedded when
// non-NULL. method/form: header labels (NULL → mf's own). Written to path.tmp, then
// renamed, so an interrupted export never leaves a file that looks complete.
struct Tokenizer;
void l4qz_write(const char *path, const ModelFile *mf, const struct Tokenizer *tok, const char *method, const char *form);
