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
// B given as W (N×K row-major) when wt, else as K×N row-major; packed: B in the layout
// oneDNN chose for that shape (a Bf16Packed copy), else as given.
typedef struct { int M, K, N, wt, acc, packed; dnnl_primitive_t p; dnnl_memory_desc_t a, b, c, scratch; } Prim;
enum { MAX_PRIMS = 256 }; // distinct shapes of a run: a handful per projection kind and the head
static Prim prims[MAX_PRIMS];
static int nprims;

// A frozen weight reordered once, per orientation (0: B = W for dY·W, 1: B = Wᵀ for X·Wᵀ),
// into the layout the chosen kernel reads (Wᵀ as K×N rows, or VNNI-blocked tiles). Without
// it the kernel copies each block of W into that layout on every call: measured 20–28 %
// slower on the stories15M products (docs/cpu-speed.md §6). The kernel and its summation
// order are the same either way, so the bits are too (tests/test_bf16.py).
struct Bf16Packed { void *buf[2]; dnnl_memory_desc_t md[2]; int state[2]; }; // state: 0 untried, 1 packed, -1 plain

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
Bf16Packed *bf16mm_packed_new(void) { return xcalloc(1, sizeof(Bf16Packed)); }
size_t bf16mm_pack_bytes(int out, int in) { return (size_t)2 * out * in * sizeof(uint16_t); }

static void plain_b(dnnl_memory_desc_t *b, int K, int N, int wt) {
    dnnl_dims_t bd = {K, N}, bs = {wt ? 1 : N, wt ? K : 1};
    ok(dnnl_memory_desc_init_by_strides(b, 2, bd, dnnl_bf16, bs), "weights desc");
}

// The primitive for e's shape with weights described by b (plain, a packed layout, or
// dnnl_format_tag_any to let the library choose). Returns its descriptor (the caller
// destroys it), or NULL when no kernel takes that weight layout.
static dnnl_primitive_desc_t describe(Prim *e, const dnnl_memory_desc_t *b) {
    dnnl_dims_t ad = {e->M, e->K}, as = {e->K, 1}, cd = {e->M, e->N}, cs = {e->N, 1};
    ok(dnnl_memory_desc_init_by_strides(&e->a, 2, ad, dnnl_bf16, as), "src desc");
    ok(dnnl_memory_desc_init_by_strides(&e->c, 2, cd, dnnl_f32, cs), "dst desc");
    dnnl_matmul_desc_t md;
    ok(dnnl_matmul_desc_init(&md, &e->a, b, NULL, &e->c), "matmul desc");
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
    dnnl_primitive_desc_t pd = NULL;
    if (dnnl_primitive_desc_create(&pd, &md, attr, eng, NULL) != dnnl_success) pd = NULL;
    dnnl_primitive_attr_destroy(attr);
    return pd;
}

static int build(Prim *e, const dnnl_memory_desc_t *b) {
    dnnl_primitive_desc_t pd = describe(e, b);
    if (!pd) {
        if (e->packed) return 0;
        die_internal("oneDNN: no bf16 matmul for %dx%dx%d", e->M, e->N, e->K);
    }
    e->b = *b;
    ok(dnnl_primitive_create(&e->p, pd), "matmul primitive");
    e->scratch = *dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    dnnl_primitive_desc_destroy(pd);
    return 1;
}

// pk's orientation wt in the layout oneDNN picks for this shape, made on first use
// (under the lock); 0 when the chosen layout is the plain one or there is no pk.
static int pack(Bf16Packed *pk, const uint16_t *W, int M, int K, int N, int wt) {
    if (!pk) return 0;
    if (pk->state[wt]) return pk->state[wt] > 0;
    pk->state[wt] = -1;
    Prim probe = {M, K, N, wt, 0, 1, NULL, {0}, {0}, {0}, {0}};
    dnnl_memory_desc_t any, plain;
    dnnl_dims_t bd = {K, N};
    ok(dnnl_memory_desc_init_by_tag(&any, 2, bd, dnnl_bf16, dnnl_format_tag_any), "weights desc");
    plain_b(&plain, K, N, wt);
    dnnl_primitive_desc_t pd = describe(&probe, &any);
    if (!pd) return 0;
    const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    if (!dnnl_memory_desc_equal(md, &plain)) {
        pk->md[wt] = *md;
        pk->buf[wt] = xmalloc_aligned(dnnl_memory_desc_get_size(md));
        dnnl_primitive_desc_t rpd;
        dnnl_primitive_t r;
        dnnl_memory_t from, to;
        ok(dnnl_reorder_primitive_desc_create(&rpd, &plain, eng, md, eng, NULL), "weights reorder desc");
        ok(dnnl_primitive_create(&r, rpd), "weights reorder");
        ok(dnnl_memory_create(&from, &plain, eng, (void *)W), "weights memory");
        ok(dnnl_memory_create(&to, md, eng, pk->buf[wt]), "packed weights memory");
        dnnl_stream_t s;
        ok(dnnl_stream_create(&s, eng, dnnl_stream_default_flags), "stream");
        dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
        ok(dnnl_primitive_execute(r, s, 2, args), "weights reorder");
        ok(dnnl_stream_wait(s), "stream wait");
        dnnl_stream_destroy(s);
        dnnl_memory_destroy(from); dnnl_memory_destroy(to);
        dnnl_primitive_destroy(r);
        dnnl_primitive_desc_destroy(rpd);
        pk->state[wt] = 1;
    }
    dnnl_primitive_desc_destroy(pd);
    return pk->state[wt] > 0;
}

void bf16mm_packed_free(Bf16Packed *pk) {
    if (!pk) return;
    free(pk->buf[0]); free(pk->buf[1]);
    free(pk);
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

// The cached primitive for a shape and weight layout (b), built on first use; NULL when
// no kernel takes a packed layout at this M (the caller then runs the plain weights).
static Prim *prim_for(Prim *key, const dnnl_memory_desc_t *b, Prim *own) {
    Prim *e = NULL;
    for (int i = 0; i < nprims && !e; i++) {
        Prim *q = &prims[i];
        if (q->M == key->M && q->K == key->K && q->N == key->N && q->wt == key->wt && q->acc == key->acc &&
            q->packed == key->packed && dnnl_memory_desc_equal(&q->b, b)) e = q;
    }
    if (e) return e;
    e = nprims < MAX_PRIMS ? &prims[nprims] : own; // past the cache: built for this call only
    *e = *key;
    if (!build(e, b)) return NULL;
    if (e != own) nprims++;
    return e;
}

static void run(int M, int K, int N, int wt, int acc, const uint16_t *A, const uint16_t *B, Bf16Packed *pk, float *C) {
    if (!enabled) die_internal("bf16mm: product requested with the bf16 mode off");
    Prim key = {M, K, N, wt, acc, 0, NULL, {0}, {0}, {0}, {0}}, own, *e = NULL;
    const void *weights = B;
    pthread_mutex_lock(&lock);
    if (pack(pk, B, M, K, N, wt)) {
        key.packed = 1;
        if ((e = prim_for(&key, &pk->md[wt], &own))) weights = pk->buf[wt];
        key.packed = 0;
    }
    if (!e) {
        dnnl_memory_desc_t plain;
        plain_b(&plain, K, N, wt);
        e = prim_for(&key, &plain, &own);
    }
    pthread_mutex_unlock(&lock);
    void *scratch = buf_get(&scratch_buf, dnnl_memory_desc_get_size(&e->scratch));
    dnnl_memory_t ma, mb, mc, ms;
    ok(dnnl_memory_create(&ma, &e->a, eng, (void *)A), "src memory");
    ok(dnnl_memory_create(&mb, &e->b, eng, (void *)weights), "weights memory");
    ok(dnnl_memory_create(&mc, &e->c, eng, C), "dst memory");
    ok(dnnl_memory_create(&ms, &e->scratch, eng, scratch), "scratchpad memory");
    dnnl_stream_t s;
    ok(dnnl_stream_create(&s, eng, dnnl_stream_default_flags), "stream");
    dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, ma}, {DNNL_ARG_WEIGHTS, mb}, {DNNL_ARG_DST, mc}, {DNNL_ARG_SCRATCHPAD, ms}};
    ok(dnnl_primitive_execute(e->p, s, 4, args), "matmul");
    ok(dnnl_stream_wait(s), "stream wait");
    dnnl_stream_destroy(s);
    dnnl_memory_destroy(ma); dnnl_memory_destroy(mb); dnnl_memory_destroy(mc); dnnl_memory_destroy(ms);
    if (e == &own) dnnl_primitive_destroy(e->p);
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

void bf16mm_xwt(const float *X, const uint16_t *W, Bf16Packed *pk, float *Y, int N, int in, int out, size_t *tmp_bytes) {
    uint16_t *Xb = rounded(X, (size_t)N * in, tmp_bytes);
    run(N, in, out, 1, 0, Xb, W, pk, Y);
}

void bf16mm_dyw(const float *dY, const uint16_t *W, Bf16Packed *pk, float *dX, int N, int out, int in, size_t *tmp_bytes) {
    uint16_t *Db = rounded(dY, (size_t)N * out, tmp_bytes);
    run(N, out, in, 0, 1, Db, W, pk, dX);
}

uint16_t *bf16mm_act_buf(size_t n) { return buf_get(&round_buf, n * sizeof(uint16_t)); }

void bf16mm_xwt_rounded(const uint16_t *Xb, const uint16_t *W, Bf16Packed *pk, float *Y, int N, int in, int out) {
    run(N, in, out, 1, 0, Xb, W, pk, Y);
}

void bf16mm_dyw_rounded(const uint16_t *dYb, const uint16_t *W, Bf16Packed *pk, float *dX, int N, int out, int in) {
    run(N, out, in, 0, 1, dYb, W, pk, dX);
}

void bf16mm_round(const float *x, uint16_t *b, size_t n) { round_chunk(x, b, 0, n); }

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
