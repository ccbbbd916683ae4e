// test_ggml_quants.c — core/ggml_quants.c, two ways.
//
// No arguments: self-contained checks (every fp16 bit pattern survives f16→f32→f16; block
// sizes agree with the structs; an affine Q4_1/Q5_1 block reads back as fp16(d)·q + fp16(m);
// a type the reader cannot dequantize is refused).
//
// Driver modes for tests/test_ggml_quants.py (gguf-py's numpy dequantizers are the oracle):
//   dequant TYPE IN OUT       raw blocks of ggml type id TYPE → float32
//   f16 IN OUT                float32 → fp16 bits (uint16)
//   bf16 IN OUT               float32 → bf16 bits (uint16)
//   affine BITS IN OUT        IN: per block 32 uint8 codes, float32 d, float32 m → Q4_1 (BITS 4)
//                             or Q5_1 (BITS 5) blocks
//   q8_0 IN OUT               float32 (multiple of 32) → Q8_0 blocks
#include "ggml_quants.h"
#include "half.h"
#include "testlib.h"
#include "util.h"
#include <stdlib.h>
#include <string.h>

static unsigned char *slurp(const char *p, size_t *n) {
    FILE *f = fopen(p, "rb");
    if (!f) { perror(p); exit(2); }
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(*n ? *n : 1);
    if (fread(b, 1, *n, f) != *n) { perror(p); exit(2); }
    fclose(f);
    return b;
}
static void spit(const char *p, const void *b, size_t n) {
    FILE *f = fopen(p, "wb");
    if (!f || fwrite(b, 1, n, f) != n || fclose(f)) { perror(p); exit(2); }
}

static int driver(int argc, char **argv) {
    size_t n;
    const char *mode = argv[1];
    if (!strcmp(mode, "dequant") && argc == 5) {
        uint32_t t = (uint32_t)atoi(argv[2]);
        unsigned char *b = slurp(argv[3], &n);
        int blk; size_t bs;
        gq_type_size(t, &blk, &bs);
        if (!blk || !gq_can_dequantize(t) || n % bs) { fprintf(stderr, "bad type/size\n"); return 2; }
        size_t ne = n / bs * blk;
        float *y = malloc(ne * 4 + 4);
        gq_dequantize(t, b, y, ne);
        spit(argv[4], y, ne * 4);
        free(b); free(y);
        return 0;
    }
    if ((!strcmp(mode, "f16") || !strcmp(mode, "bf16")) && argc == 4) {
        float *x = (float *)slurp(argv[2], &n);
        size_t ne = n / 4;
        uint16_t *h = malloc(ne * 2 + 2);
        for (size_t i = 0; i < ne; i++) h[i] = mode[0] == 'f' ? f32_to_f16(x[i]) : f32_to_bf16(x[i]);
        spit(argv[3], h, ne * 2);
        free(x); free(h);
        return 0;
    }
    if (!strcmp(mode, "affine") && argc == 5) {
        int bits = atoi(argv[2]);
        unsigned char *b = slurp(argv[3], &n);
        size_t nb = n / 40, bs = bits == 4 ? 20 : 24;
        unsigned char *o = malloc(nb * bs + 1);
        for (size_t i = 0; i < nb; i++) {
            float d, m;
            memcpy(&d, b + i * 40 + 32, 4);
            memcpy(&m, b + i * 40 + 36, 4);
            if (bits == 4) gq_block_q4_1(b + i * 40, d, m, o + i * bs);
            else gq_block_q5_1(b + i * 40, d, m, o + i * bs);
        }
        spit(argv[4], o, nb * bs);
        free(b); free(o);
        return 0;
    }
    if (!strcmp(mode, "q8_0") && argc == 4) {
        float *x = (float *)slurp(argv[2], &n);
        size_t nb = n / 4 / 32;
        unsigned char *o = malloc(nb * 34 + 1);
        for (size_t i = 0; i < nb; i++) gq_block_q8_0(x + i * 32, o + i * 34);
        spit(argv[3], o, nb * 34);
        free(x); free(o);
        return 0;
    }
    fprintf(stderr, "usage: test_ggml_quants [dequant TYPE IN OUT | f16 IN OUT | bf16 IN OUT | affine BITS IN OUT | q8_0 IN OUT]\n");
    return 2;
}

int main(int argc, char **argv) {
    if (argc > 1) return driver(argc, argv);
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = f16_to_f32((uint16_t)h);
        if (f == f && f32_to_f16(f) != h) bad++;
    }
    CHECK(bad == 0, "fp16 round trip of all 65536 bit patterns (NaNs excepted)", "%d differ", bad);
    CHECK(f32_to_f16(65519.f) == 0x7bff && f32_to_f16(65520.f) == 0x7c00 && f32_to_f16(1e-8f) == 0 &&
              f32_to_f16(2.9802322e-08f) == 0 && f32_to_f16(2.9802326e-08f) == 1,
          "fp16 rounding at the overflow and subnormal edges", "wrong");

    static const uint32_t types[] = {GQ_Q4_0, GQ_Q4_1, GQ_Q5_0, GQ_Q5_1, GQ_Q8_0, GQ_Q4_K, GQ_Q5_K, GQ_Q6_K};
    static const size_t sizes[] = {18, 20, 22, 24, 34, 144, 176, 210};
    int ok = 1;
    for (int i = 0; i < 8; i++) {
        int blk; size_t bs;
        gq_type_size(types[i], &blk, &bs);
        ok &= bs == sizes[i] && gq_can_dequantize(types[i]) && gq_nbytes(types[i], (uint64_t)blk * 3) == 3 * bs;
    }
    // Every dequantizer over random bytes, in exactly-sized heap buffers (the ASan build
    // catches a read past a block; values are not checked here — test_ggml_quants.py does).
    uint64_t st = 12345;
    for (int i = 0; i < 8 && ok; i++) {
        int blk; size_t bs;
        gq_type_size(types[i], &blk, &bs);
        unsigned char *raw = malloc(3 * bs);
        for (size_t j = 0; j < 3 * bs; j++) raw[j] = (unsigned char)((st = st * 6364136223846793005ULL + 1442695040888963407ULL) >> 56);
        float *y = malloc(3 * (size_t)blk * sizeof(float));
        gq_dequantize(types[i], raw, y, 3 * (size_t)blk);
        free(raw); free(y);
    }
    CHECK(ok && !gq_can_dequantize(GQ_Q2_K) && !strcmp(gq_type_name(GQ_Q2_K), "Q2_K") && !gq_type_name(4) &&
              gq_nbytes(GQ_Q4_K, 100) == 0,
          "type table: block sizes, names, what dequantizes", "mismatch");

    // Affine blocks: value = fp16(d)·q + fp16(m), q in the low nibble first.
    for (int bits = 4; bits <= 5; bits++) {
        uint8_t q[32], blk[24];
        float y[32], d = 0.0123f, m = -0.177f, worst = 0;
        for (int j = 0; j < 32; j++) q[j] = (uint8_t)((j * 7 + 3) % (1 << bits));
        if (bits == 4) gq_block_q4_1(q, d, m, blk); else gq_block_q5_1(q, d, m, blk);
        gq_dequantize(bits == 4 ? GQ_Q4_1 : GQ_Q5_1, blk, y, 32);
        float dh = f16_to_f32(f32_to_f16(d)), mh = f16_to_f32(f32_to_f16(m));
        for (int j = 0; j < 32; j++) worst = fmaxf(worst, fabsf(y[j] - ((float)q[j] * dh + mh)));
        CHECK(worst == 0, bits == 4 ? "Q4_1 block round trip" : "Q5_1 block round trip", "max diff %g", worst);
    }
    T_EXIT();
}
