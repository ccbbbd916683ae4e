// bf16mm.c — bf16 products with fp32 accumulation through oneDNN's matmul primitive
// (Debian's OpenBLAS 0.3.21 is built without BUILD_BFLOAT16: it declares cblas_sbgemm but
// does not export it). oneDNN runs on the same libgomp thread pool as OpenBLAS and picks its
// AVX512-BF16 kernels itself; a primitive is built once per product shape and kept.
#include "bf16mm.h"
#include "half.h"
#include "util.h"
#include <dnnl.h>
#include <immintrin.h>
#include <pthread.h>
#include <stdlib.h>

static int enabled;
static dnnl_engine_t eng;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER; // the primitive cache (ppl replicas run in threads)

// One product shape: C (M×N, fp32, row-major) {=, +=} A (M×K, bf16, row-major) · B (K×N, bf16),
// B given as W (N×K row-major) when wt, else as K×N row-major.
typedef struct { int M, K, N, wt, acc; dnnl_primitive_t p; dnnl_memory_desc_t a, b, c, scratch; } Prim;
enum { MAX_PRIMS = 256 }; // distinct shapes of a run: a handful per projection kind and the head
static Prim prims[MAX_PRIMS];
static int nprims;

static void ok(dnnl_status_t s, const char *what) {
    if (s != dnnl_success) die_internal("oneDNN: %s failed (status %d)", what, (int)s);
}

int bf16mm_cpu_supported(void) {
    const char *no = getenv("L4Q_CPU_NO_BF16"); // tests: behave as a CPU without bf16 dot products
    if (no && *no == '1') return 0;
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512bf16");
}

void bf16mm_enable(const char *what) {
    if (!bf16mm_cpu_supported())
        die_input("%s: this CPU has no bf16 dot products (AVX512-BF16); use fp32", what);
    if (!eng) ok(dnnl_engine_create(&eng, dnnl_cpu, 0), "engine create");
    enabled = 1;
}
int bf16mm_on(void) { return enabled; }

static void build(Prim *e) {
    dnnl_dims_t ad = {e->M, e->K}, as = {e->K, 1}, bd = {e->K, e->N}, bs = {e->wt ? 1 : e->N, e->wt ? e->K : 1},
                cd = {e->M, e->N}, cs = {e->N, 1};
    ok(dnnl_memory_desc_init_by_strides(&e->a, 2, ad, dnnl_bf16, as), "src desc");
    ok(dnnl_memory_desc_init_by_strides(&e->b, 2, bd, dnnl_bf16, bs), "weights desc");
    ok(dnnl_memory_desc_init_by_strides(&e->c, 2, cd, dnnl_f32, cs), "dst desc");
    dnnl_matmul_desc_t md;
    ok(dnnl_matmul_desc_init(&md, &e->a, &e->b, NULL, &e->c), "matmul desc");
    dnnl_primitive_attr_t attr;
    ok(dnnl_primitive_attr_create(&attr), "attr");
    // The caller's scratchpad: the library's own is shared by every primitive, so two
    // products at once (perplexity replicas run in threads) would corrupt each other.
    ok(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user), "scratchpad mode");
    if (e->acc) { // C += A·B: the sum post-op adds the previous C
        dnnl_post_ops_t po;
        ok(dnnl_post_ops_create(&po), "post-ops");
        ok(dnnl_post_ops_append_sum(po, 1.0f), "sum post-op");
        ok(dnnl_primitive_attr_set_post_ops(attr, po), "set post-ops");
        dnnl_post_ops_destroy(po);
    }
    dnnl_primitive_desc_t pd;
    ok(dnnl_primitive_desc_create(&pd, &md, attr, eng, NULL), "matmul primitive desc");
    ok(dnnl_primitive_create(&e->p, pd), "matmul primitive");
    e->scratch = *dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    dnnl_primitive_desc_destroy(pd);
    dnnl_primitive_attr_destroy(attr);
}

// Each thread's buffers, grown and kept: the oneDNN scratchpad (tens of MB for the head: the
// packed weights) and the rounded copy of the activation side (the head's input gradient
// rounds 1024 × vocab floats per chunk), which a malloc per call would map and fault in
// anew every time (glibc maps blocks over 32 MB).
typedef struct { void *p; size_t cap; } Buf;
static _Thread_local Buf scratch_buf, round_buf;
static void *buf_get(Buf *b, size_t n) {
    if (n > b->cap) {
        free(b->p);
        b->p = xmalloc_aligned(n);
        b->cap = n;
    }
    return n ? b->p : NULL;
}

static void run(int M, int K, int N, int wt, int acc, const uint16_t *A, const uint16_t *B, float *C) {
    if (!enabled) die_internal("bf16mm: product requested with the bf16 mode off");
    Prim one = {M, K, N, wt, acc, NULL, {0}, {0}, {0}, {0}}, *e = NULL;
    pthread_mutex_lock(&lock);
    for (int i = 0; i < nprims && !e; i++)
        if (prims[i].M == M && prims[i].K == K && prims[i].N == N && prims[i].wt == wt && prims[i].acc == acc) e = &prims[i];
    if (!e && nprims < MAX_PRIMS) { e = &prims[nprims]; *e = one; build(e); nprims++; }
    pthread_mutex_unlock(&lock);
    int own = !e;
    if (own) { e = &one; build(e); } // past the cache: built for this call only
    void *scratch = buf_get(&scratch_buf, dnnl_memory_desc_get_size(&e->scratch));
    dnnl_memory_t ma, mb, mc, ms;
    ok(dnnl_memory_create(&ma, &e->a, eng, (void *)A), "src memory");
    ok(dnnl_memory_create(&mb, &e->b, eng, (void *)B), "weights memory");
    ok(dnnl_memory_create(&mc, &e->c, eng, C), "dst memory");
    ok(dnnl_memory_create(&ms, &e->scratch, eng, scratch), "scratchpad memory");
    dnnl_stream_t s;
    ok(dnnl_stream_create(&s, eng, dnnl_stream_default_flags), "stream");
    dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, ma}, {DNNL_ARG_WEIGHTS, mb}, {DNNL_ARG_DST, mc}, {DNNL_ARG_SCRATCHPAD, ms}};
    ok(dnnl_primitive_execute(e->p, s, 4, args), "matmul");
    ok(dnnl_stream_wait(s), "stream wait");
    dnnl_stream_destroy(s);
    dnnl_memory_destroy(ma); dnnl_memory_destroy(mb); dnnl_memory_destroy(mc); dnnl_memory_destroy(ms);
    if (own) dnnl_primitive_destroy(e->p);
}

// X rounded to bf16 (nearest even) by the CPU's conversion instruction, 16 at a time, in
// parallel chunks: it runs on every product's activation side, the head's 1024 × vocab
// gradient included. Subnormal inputs become zero (the instruction's rule); f32_to_half
// would keep them, and the weights' copies are made by it. The chunk is its own function
// because an OpenMP region's body does not inherit a target attribute (clang).
__attribute__((target("avx512f,avx512bf16")))
static void round_chunk(const float *X, uint16_t *b, size_t i0, size_t i1) {
    size_t i = i0;
    for (; i + 16 <= i1; i += 16)
        _mm256_storeu_si256((__m256i *)(b + i), (__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(X + i)));
    f32_to_half(DT_BF16, X + i, b + i, i1 - i);
}

static uint16_t *rounded(const float *X, size_t n, size_t *tmp_bytes) {
    uint16_t *b = buf_get(&round_buf, n * sizeof(uint16_t));
    const size_t C = 1 << 16;
    #pragma omp parallel for if (n > C)
    for (size_t i = 0; i < n; i += C) round_chunk(X, b, i, i + C < n ? i + C : n);
    if (tmp_bytes) *tmp_bytes = n * sizeof(uint16_t);
    return b;
}

void bf16mm_xwt(const float *X, const uint16_t *W, float *Y, int N, int in, int out, size_t *tmp_bytes) {
    uint16_t *Xb = rounded(X, (size_t)N * in, tmp_bytes);
    run(N, in, out, 1, 0, Xb, W, Y);
}

void bf16mm_dyw(const float *dY, const uint16_t *W, float *dX, int N, int out, int in, size_t *tmp_bytes) {
    uint16_t *Db = rounded(dY, (size_t)N * out, tmp_bytes);
    run(N, out, in, 0, 1, Db, W, dX);
}

const uint16_t *param_bf16(const Param *W) {
    if (W->dtype == DT_BF16) return W->half;
    Param *w = (Param *)W; // the copy is a cache of values that never change
    if (!w->bf16) {
        w->bf16 = xmalloc(W->n * sizeof(uint16_t));
        if (W->dtype == DT_F32) f32_to_half(DT_BF16, W->data, w->bf16, W->n);
        else { // f16 → fp32 (exact) → bf16, a row at a time
            float *row = xmalloc((size_t)W->shape[1] * sizeof(float));
            for (int r = 0; r < W->shape[0]; r++) {
                param_rows(W, r, 1, row);
                f32_to_half(DT_BF16, row, w->bf16 + (size_t)r * W->shape[1], W->shape[1]);
            }
            free(row);
        }
    }
    return w->bf16;
}
