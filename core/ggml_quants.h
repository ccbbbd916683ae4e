// ggml_quants.h — llama.cpp's (ggml's) tensor block formats, written once: type ids, block
// sizes and names as llama.cpp defines them (its source, cloned by `make llamacpp-deps`:
// build/llama.cpp/ggml/include/ggml.h, build/llama.cpp/ggml/src/ggml-common.h),
// dequantization of the types llama.cpp's common files use, exactly as ggml computes it
// (each product and sum rounded to fp32 in the same order as ggml's reference
// dequantize_row_* and gguf-py's numpy dequantizers; tests/test_ggml_quants.py checks
// bit-exactness against gguf-py), and the affine blocks the exporter writes.
#pragma once
#include <stddef.h>
#include <stdint.h>

enum {
    GQ_F32 = 0, GQ_F16 = 1, GQ_Q4_0 = 2, GQ_Q4_1 = 3, GQ_Q5_0 = 6, GQ_Q5_1 = 7, GQ_Q8_0 = 8,
    GQ_Q8_1 = 9, GQ_Q2_K = 10, GQ_Q3_K = 11, GQ_Q4_K = 12, GQ_Q5_K = 13, GQ_Q6_K = 14,
    GQ_BF16 = 30, GQ_NTYPES = 43
};
#define GQ_QK 32    // elements per block of the _0/_1 types
#define GQ_QK_K 256 // elements per super-block of the K types

// The blocks (as in build/llama.cpp/ggml/src/ggml-common.h): fp16 fields as raw bits.
typedef uint16_t gq_half;
typedef struct { gq_half d; uint8_t qs[GQ_QK / 2]; } block_q4_0;
typedef struct { gq_half d, m; uint8_t qs[GQ_QK / 2]; } block_q4_1;
typedef struct { gq_half d; uint8_t qh[4]; uint8_t qs[GQ_QK / 2]; } block_q5_0;
typedef struct { gq_half d, m; uint8_t qh[4]; uint8_t qs[GQ_QK / 2]; } block_q5_1;
typedef struct { gq_half d; int8_t qs[GQ_QK]; } block_q8_0;
#define K_SCALE_SIZE 12
typedef struct { gq_half d, dmin; uint8_t scales[K_SCALE_SIZE]; uint8_t qs[GQ_QK_K / 2]; } block_q4_K;
typedef struct { gq_half d, dmin; uint8_t scales[K_SCALE_SIZE]; uint8_t qh[GQ_QK_K / 8]; uint8_t qs[GQ_QK_K / 2]; } block_q5_K;
typedef struct { uint8_t ql[GQ_QK_K / 2]; uint8_t qh[GQ_QK_K / 4]; int8_t scales[GQ_QK_K / 16]; gq_half d; } block_q6_K;
_Static_assert(sizeof(block_q4_0) == 18 && sizeof(block_q4_1) == 20 && sizeof(block_q5_0) == 22 &&
               sizeof(block_q5_1) == 24 && sizeof(block_q8_0) == 34, "ggml block sizes");
_Static_assert(sizeof(block_q4_K) == 144 && sizeof(block_q5_K) == 176 && sizeof(block_q6_K) == 210, "ggml K block sizes");

// ggml's type name ("Q4_K", ...), or NULL for an id ggml does not define.
const char *gq_type_name(uint32_t type);
// Elements per block and bytes per block (0, 0 for an unknown id): defined for every
// ggml type, so a file's tensor extents can be checked even where we cannot dequantize.
void gq_type_size(uint32_t type, int *block, size_t *bytes);
// Whether gq_dequantize handles the type.
int gq_can_dequantize(uint32_t type);
// Bytes of n elements of type (n a multiple of the block; 0 when not or unknown).
uint64_t gq_nbytes(uint32_t type, uint64_t n);
// n elements (a multiple of the block) of type at src → fp32.
void gq_dequantize(uint32_t type, const void *src, float *dst, size_t n);

// Affine blocks of 32: value = d·q + m, q unsigned (Q4_1: < 16, Q5_1: < 32), d and m
// rounded to fp16 (core/half.h). Writes one block from 32 codes.
void gq_block_q4_1(const uint8_t *q, float d, float m, void *dst);
void gq_block_q5_1(const uint8_t *q, float d, float m, void *dst);
// Q8_0 (value = d·q, q ∈ [−127, 127], d = max|x|/127 in fp16) of 32 floats, as ggml's
// reference quantize_row_q8_0 (the exporter's re-quantizing fallback).
void gq_block_q8_0(const float *x, void *dst);
