// ggml_quants.c — ggml's block formats (see ggml_quants.h). Each dequantizer follows the
// element order of ggml's reference dequantize_row_* (build/llama.cpp/ggml/src/ggml-quants.c):
// the _0/_1 types put the low nibbles of a block's 16 bytes first, then the high ones; the
// K types split a super-block of 256 into sub-blocks with 6-bit (Q4_K, Q5_K) or 8-bit
// (Q6_K) scales under an fp16 super-scale.
#include "ggml_quants.h"
#include "half.h"
#include <math.h>
#include <string.h>

// Every ggml type id with its name, block elements and block bytes (ggml's type traits;
// the types this file reads take theirs from the structs in ggml_quants.h).
static const struct { const char *name; int block; unsigned short bytes; } TYPES[GQ_NTYPES] = {
    [0] = {"F32", 1, 4}, [1] = {"F16", 1, 2}, [2] = {"Q4_0", GQ_QK, sizeof(block_q4_0)}, [3] = {"Q4_1", GQ_QK, sizeof(block_q4_1)},
    [6] = {"Q5_0", GQ_QK, sizeof(block_q5_0)}, [7] = {"Q5_1", GQ_QK, sizeof(block_q5_1)}, [8] = {"Q8_0", GQ_QK, sizeof(block_q8_0)}, [9] = {"Q8_1", 32, 40},
    [10] = {"Q2_K", 256, 84}, [11] = {"Q3_K", 256, 110}, [12] = {"Q4_K", GQ_QK_K, sizeof(block_q4_K)},
    [13] = {"Q5_K", GQ_QK_K, sizeof(block_q5_K)}, [14] = {"Q6_K", GQ_QK_K, sizeof(block_q6_K)}, [15] = {"Q8_K", 256, 292},
    [16] = {"IQ2_XXS", 256, 66}, [17] = {"IQ2_XS", 256, 74}, [18] = {"IQ3_XXS", 256, 98},
    [19] = {"IQ1_S", 256, 50}, [20] = {"IQ4_NL", 32, 18}, [21] = {"IQ3_S", 256, 110},
    [22] = {"IQ2_S", 256, 82}, [23] = {"IQ4_XS", 256, 136}, [24] = {"I8", 1, 1},
    [25] = {"I16", 1, 2}, [26] = {"I32", 1, 4}, [27] = {"I64", 1, 8}, [28] = {"F64", 1, 8},
    [29] = {"IQ1_M", 256, 56}, [30] = {"BF16", 1, 2}, [34] = {"TQ1_0", 256, 54},
    [35] = {"TQ2_0", 256, 66}, [39] = {"MXFP4", 32, 17}, [40] = {"NVFP4", 64, 36},
    [41] = {"Q1_0", 128, 18}, [42] = {"Q2_0", 64, 18},
};

const char *gq_type_name(uint32_t t) { return t < GQ_NTYPES ? TYPES[t].name : NULL; }
void gq_type_size(uint32_t t, int *block, size_t *bytes) {
    int ok = t < GQ_NTYPES && TYPES[t].name;
    *block = ok ? TYPES[t].block : 0;
    *bytes = ok ? TYPES[t].bytes : 0;
}
uint64_t gq_nbytes(uint32_t t, uint64_t n) {
    int b; size_t s;
    gq_type_size(t, &b, &s);
    return b && n % (uint64_t)b == 0 ? n / (uint64_t)b * s : 0;
}

#define FP16(h) f16_to_f32(h)

static void deq_q4_0(const block_q4_0 *x, float *y, size_t nb) {
    for (size_t i = 0; i < nb; i++, y += GQ_QK) {
        float d = FP16(x[i].d);
        for (int j = 0; j < GQ_QK / 2; j++) {
            y[j] = (float)((x[i].qs[j] & 0x0F) - 8) * d;
            y[j + GQ_QK / 2] = (float)((x[i].qs[j] >> 4) - 8) * d;
        }
    }
}
static void deq_q4_1(const block_q4_1 *x, float *y, size_t nb) {
    for (size_t i = 0; i < nb; i++, y += GQ_QK) {
        float d = FP16(x[i].d), m = FP16(x[i].m);
        for (int j = 0; j < GQ_QK / 2; j++) {
            y[j] = (float)(x[i].qs[j] & 0x0F) * d + m;
            y[j + GQ_QK / 2] = (float)(x[i].qs[j] >> 4) * d + m;
        }
    }
}
// Bit j of qh is the fifth bit of element j.
static inline int q5(const uint8_t *qs, const uint8_t *qh4, int j) {
    uint32_t qh; memcpy(&qh, qh4, 4);
    int lo = j < GQ_QK / 2 ? qs[j] & 0x0F : qs[j - GQ_QK / 2] >> 4;
    return lo | (int)(((qh >> j) & 1) << 4);
}
static void deq_q5_0(const block_q5_0 *x, float *y, size_t nb) {
    for (size_t i = 0; i < nb; i++, y += GQ_QK) {
        float d = FP16(x[i].d);
        for (int j = 0; j < GQ_QK; j++) y[j] = (float)(q5(x[i].qs, x[i].qh, j) - 16) * d;
    }
}
static void deq_q5_1(const block_q5_1 *x, float *y, size_t nb) {
    for (size_t i = 0; i < nb; i++, y += GQ_QK) {
        float d = FP16(x[i].d), m = FP16(x[i].m);
        for (int j = 0; j < GQ_QK; j++) y[j] = (float)q5(x[i].qs, x[i].qh, j) * d + m;
    }
}
static void deq_q8_0(const block_q8_0 *x, float *y, size_t nb) {
    for (size_t i = 0; i < nb; i++, y += GQ_QK) {
        float d = FP16(x[i].d);
        for (int j = 0; j < GQ_QK; j++) y[j] = (float)x[i].qs[j] * d;
    }
}

// Sub-block j's 6-bit scale and min in the 12-byte K_SCALE_SIZE packing (ggml's
// get_scale_min_k4): j < 4 in the low 6 bits of bytes j and j+4, j ≥ 4 split between a
// nibble of byte j+4 and the top two bits of bytes j−4 and j.
static void scale_min_k4(int j, const uint8_t *q, uint8_t *d, uint8_t *m) {
    if (j < 4) { *d = q[j] & 63; *m = q[j + 4] & 63; }
    else {
        *d = (uint8_t)((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
        *m = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}
static void deq_q4_K(const block_q4_K *x, float *y, size_t nb) {
    for (size_t i = 0; i < nb; i++) {
        const uint8_t *q = x[i].qs;
        float d = FP16(x[i].d), dmin = FP16(x[i].dmin);
        for (int j = 0, is = 0; j < GQ_QK_K; j += 64, is += 2, q += 32) {
            uint8_t sc, m;
            scale_min_k4(is, x[i].scales, &sc, &m);
            float d1 = d * sc, m1 = dmin * m;
            scale_min_k4(is + 1, x[i].scales, &sc, &m);
            float d2 = d * sc, m2 = dmin * m;
            for (int l = 0; l < 32; l++) *y++ = d1 * (float)(q[l] & 0xF) - m1;
            for (int l = 0; l < 32; l++) *y++ = d2 * (float)(q[l] >> 4) - m2;
        }
    }
}
static void deq_q5_K(const block_q5_K *x, float *y, size_t nb) {
    for (size_t i = 0; i < nb; i++) {
        const uint8_t *ql = x[i].qs, *qh = x[i].qh;
        float d = FP16(x[i].d), dmin = FP16(x[i].dmin);
        unsigned u1 = 1, u2 = 2;
        for (int j = 0, is = 0; j < GQ_QK_K; j += 64, is += 2, ql += 32, u1 <<= 2, u2 <<= 2) {
            uint8_t sc, m;
            scale_min_k4(is, x[i].scales, &sc, &m);
            float d1 = d * sc, m1 = dmin * m;
            scale_min_k4(is + 1, x[i].scales, &sc, &m);
            float d2 = d * sc, m2 = dmin * m;
            for (int l = 0; l < 32; l++) *y++ = d1 * (float)((ql[l] & 0xF) + (qh[l] & u1 ? 16 : 0)) - m1;
            for (int l = 0; l < 32; l++) *y++ = d2 * (float)((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - m2;
        }
    }
}
static void deq_q6_K(const block_q6_K *x, float *y, size_t nb) {
    for (size_t i = 0; i < nb; i++) {
        float d = FP16(x[i].d);
        const uint8_t *ql = x[i].ql, *qh = x[i].qh;
        const int8_t *sc = x[i].scales;
        for (int n = 0; n < GQ_QK_K; n += 128, y += 128, ql += 64, qh += 32, sc += 8) {
            for (int l = 0; l < 32; l++) {
                int is = l / 16;
                int q1 = (int)((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
                int q2 = (int)((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
                int q3 = (int)((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                int q4 = (int)((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                y[l] = d * sc[is] * (float)q1;
                y[l + 32] = d * sc[is + 2] * (float)q2;
                y[l + 64] = d * sc[is + 4] * (float)q3;
                y[l + 96] = d * sc[is + 6] * (float)q4;
            }
        }
    }
}

int gq_can_dequantize(uint32_t t) {
    switch (t) {
    case GQ_F32: case GQ_F16: case GQ_BF16: case GQ_Q4_0: case GQ_Q4_1: case GQ_Q5_0:
    case GQ_Q5_1: case GQ_Q8_0: case GQ_Q4_K: case GQ_Q5_K: case GQ_Q6_K: return 1;
    default: return 0;
    }
}

void gq_dequantize(uint32_t t, const void *src, float *dst, size_t n) {
    size_t nb = n / (t == GQ_Q4_K || t == GQ_Q5_K || t == GQ_Q6_K ? GQ_QK_K : GQ_QK);
    switch (t) {
    case GQ_F32: memcpy(dst, src, n * 4); break;
    case GQ_F16: f16_row_to_f32(src, dst, n); break;
    case GQ_BF16: bf16_row_to_f32(src, dst, n); break;
    // The block structs hold only uint8/uint16 members: alignment 2, which GGUF's 32-byte
    // aligned tensor offsets and whole-block strides keep.
    case GQ_Q4_0: deq_q4_0(src, dst, nb); break;
    case GQ_Q4_1: deq_q4_1(src, dst, nb); break;
    case GQ_Q5_0: deq_q5_0(src, dst, nb); break;
    case GQ_Q5_1: deq_q5_1(src, dst, nb); break;
    case GQ_Q8_0: deq_q8_0(src, dst, nb); break;
    case GQ_Q4_K: deq_q4_K(src, dst, nb); break;
    case GQ_Q5_K: deq_q5_K(src, dst, nb); break;
    case GQ_Q6_K: deq_q6_K(src, dst, nb); break;
    default: break; // callers check gq_can_dequantize first
    }
}

void gq_block_q4_1(const uint8_t *q, float d, float m, void *dst) {
    block_q4_1 b;
    b.d = f32_to_f16(d);
    b.m = f32_to_f16(m);
    for (int j = 0; j < GQ_QK / 2; j++) b.qs[j] = (uint8_t)((q[j] & 0xF) | (q[j + GQ_QK / 2] << 4));
    memcpy(dst, &b, sizeof b);
}
void gq_block_q5_1(const uint8_t *q, float d, float m, void *dst) {
    block_q5_1 b;
    b.d = f32_to_f16(d);
    b.m = f32_to_f16(m);
    uint32_t qh = 0;
    for (int j = 0; j < GQ_QK; j++) qh |= (uint32_t)((q[j] >> 4) & 1) << j;
    memcpy(b.qh, &qh, 4);
    for (int j = 0; j < GQ_QK / 2; j++) b.qs[j] = (uint8_t)((q[j] & 0xF) | ((q[j + GQ_QK / 2] & 0xF) << 4));
    memcpy(dst, &b, sizeof b);
}
void gq_block_q8_0(const float *x, void *dst) {
    block_q8_0 b;
    float amax = 0;
    for (int j = 0; j < GQ_QK; j++) amax = fmaxf(amax, fabsf(x[j]));
    float d = amax / 127.0f, id = d ? 1.0f / d : 0.0f;
    b.d = f32_to_f16(d);
    for (int j = 0; j < GQ_QK; j++) b.qs[j] = (int8_t)roundf(x[j] * id);
    memcpy(dst, &b, sizeof b);
}
