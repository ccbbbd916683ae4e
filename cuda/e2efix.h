// e2efix.h — the end-to-end parity fixtures (build/cudafix/e2e/*.bin): what the CPU
// trained, written by tests/cudafix_e2e.c (linked with the CPU library) and replayed through
// the plugin by cuda/test_e2e.c (device side only: no OpenBLAS, HDF5 or yaml).
//
// A file is a sequence of records, each
//     char name[32] (NUL-padded) | uint32 type | uint64 count | count elements
// little-endian, elements of the type's size: EF_F32, EF_I32, EF_F64, EF_U8, EF_U64.
// Records of one case (20 AdamW steps of B×T tokens from the same initial trainables):
//   config    i32 {dim, hidden, layers, heads, kv_heads, vocab, seq_len, shared_classifier,
//                  B, T, steps, rank, bits, group_size, lsq_grad_scale, targets, n_proj,
//                  random (1: frozen weights are randw.h's, not stored)}
//   method    u8  the method name
//   hyper     f32 {norm_eps, alpha, dropout, lr, beta1, beta2, eps, weight_decay, clip}
//   seeds     u64 {random_weights seed, optimizer seed}
//   rope_cos, rope_sin   f32 T × head_size/2
//   tok_emb, rms_att, rms_ffn, rms_final, wcls   f32 (count 0: random, or wcls when tied)
//   p<i>.shape  i32 {out, in, n_params}; p<i>.w0 f32 (count 0 when random or with a base)
//   p<i>.base   i32 {DeployKind, bits, group_size} of a quantized base (qlora, rtn_lora, qa_lora),
//               then p<i>.codes u8 and p<i>.scale, p<i>.offset f32 (uniform) or p<i>.absq u8,
//               p<i>.abss f32, p<i>.absmean f32[1] (NF4): deploy.h's layouts; a deployed side
//               branch adds p<i>.side i32 {rank}, p<i>.sideA, p<i>.sideB, p<i>.sidescale f32
//   p<i>.t<j>   f32 trainable j's initial values; p<i>.t<j>.m i32 {rows, cols, decay}
//   tokens, targets      i32 steps × B × T
//   loss, gnorm          f64 per step: mean NLL before the update, pre-clip global norm
//   lr                   f32 per step
//   final                f32 every trainable after the last step, in host order
//   lp                   f32 per row (inference cases, method none: log p(target) of the CPU's
//                        inference model built from the deployed forms; loss is then one value)
//   codes                u8 (l4q) the deployed packed codes of every method projection in
//                        order, as quant_encode packs them; codes.proj i32 their indices
#pragma once
#include <stdint.h>

enum { EF_F32 = 0, EF_I32 = 1, EF_F64 = 2, EF_U8 = 3, EF_U64 = 4 };
enum { EF_NAME = 32 };
enum { EFC_DIM, EFC_HIDDEN, EFC_LAYERS, EFC_HEADS, EFC_KV_HEADS, EFC_VOCAB, EFC_SEQ, EFC_SHARED, EFC_B, EFC_T,
       EFC_STEPS, EFC_RANK, EFC_BITS, EFC_GROUP, EFC_LSQ, EFC_TARGETS, EFC_NPROJ, EFC_RANDOM, EFC_COUNT };
enum { EFH_EPS, EFH_ALPHA, EFH_DROPOUT, EFH_LR, EFH_BETA1, EFH_BETA2, EFH_ADAM_EPS, EFH_WD, EFH_CLIP, EFH_COUNT };
static inline unsigned ef_size(uint32_t type) {
    return type == EF_F64 || type == EF_U64 ? 8 : type == EF_U8 ? 1 : 4;
}
