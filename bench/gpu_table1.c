// gpu_table1.c — the paper's Table 1 on a GPU (issue 24): one full training step (forward,
// backward, grad clip, AdamW) of a LLaMA-7B-shape model through the CUDA plugin, per
// method and AdamW moment dtype, with time, throughput, MFU and device memory.
//
//   gpu_table1 [--plugin PATH] [--peak-tflops X] [--methods a,b,..] [--moments fp32,bf16]
//              [--tokens T] [--warmup 3] [--steps 10] [--predict [--capacity-gib G]]
//              [--dim D --hidden H --layers L --heads N --kv-heads K --vocab V]
//
// Prints one JSON object per line: first {"kind":"device",...}, then one {"kind":"row",...}
// per method × moments; bench/gpu_table1_md.py renders them (with bench/peft_step.py's
// rows) as the Markdown table. --predict needs no plugin or device: it prints every row's
// memory prediction (bench/gpu_memory.h) only.
//
// Setup (issue 24 §1): random bf16 frozen weights generated on the device
// (DevModelDesc.random_weights: no 13 GB upload); a quantized base (qlora's NF4, the uniform
// base of gptq_lora = QLoRA* and qa_lora) is random codes made on the host once for the
// largest projection and shared by all 224 (GPTQ calibration is not part of a step); rank
// 16, alpha 32, dropout 0 on all seven projections; 4-bit, groups of 128; bf16 precision;
// B = 1, T = 2048 unless the memory account says `lora` does not fit (then 1024, stated).
// Timing: 3 warm-up then 10 timed steps, each bracketed by ops->sync and timed with
// CLOCK_MONOTONIC on the host (the plugin's table has no event API; a step ends with the
// sync, so the host clock measures the device's work plus one launch gap); the median.
// Memory: the plugin's tracked peak, its cuBLAS workspace, and cudaMemGetInfo's used bytes;
// peak = tracked peak + (used − tracked current), i.e. everything cudaMemGetInfo sees that
// the allocator does not track (context, cuBLAS internals, the workspace if untracked).
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "device.h"
#include "half.h"
#include "bench/gpu_memory.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef GT_LOCAL_OPEN
// Until core/device.c (the cuda-host branch) is merged: the loader's checks in a few lines.
// Built against core/device.c otherwise (bench/gpu_table1.sh: -ffunction-sections and
// --gc-sections drop device_open, the one function there that needs util.c).
#include <dlfcn.h>
static char gt_name[256];
const char *device_name(void) { return gt_name; }
const DeviceOps *device_try_open(const char *path, char *err, size_t errlen) {
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) { snprintf(err, errlen, "%s not found or not loadable: %s (run make cuda)", path, dlerror()); return NULL; }
    const DeviceOps *o = dlsym(h, "l4q_cuda_ops");
    if (!o || o->version != DEVICE_OPS_VERSION || o->struct_size != sizeof(DeviceOps)) {
        snprintf(err, errlen, "%s: l4q_cuda_ops missing or of another version (want %d)", path, DEVICE_OPS_VERSION);
        return NULL;
    }
    return o->init(0, gt_name, sizeof gt_name, err, errlen) ? NULL : o;
}
#endif

static void die2(const char *msg, const char *arg) {
    fprintf(stderr, "gpu_table1: %s%s\n", msg, arg ? arg : "");
    exit(2);
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

static uint64_t xs_state = 0x9E3779B97F4A7C15ull;
static uint64_t xs(void) {
    xs_state ^= xs_state >> 12; xs_state ^= xs_state << 25; xs_state ^= xs_state >> 27;
    return xs_state * 0x2545F4914F6CDD1Dull;
}
static float xs_unif(void) { return (float)((xs() >> 40) * (1.0 / 16777216.0)) * 2.0f - 1.0f; } // [−1, 1)

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct {
    GmShape s;
    int T, rank, bits, gs, warmup, steps;
    float alpha;
} Bench;

// Model FLOPs of one step (what the method's algorithm needs; recomputation not counted
// twice except where the method is defined by it): projections forward 2·T·P and dX 2·T·P,
// the frozen head the same, causal attention 2·T²·D forward and 4·T²·D backward per layer;
// LoRA branches 6·T·r·(in+out); L4Q instead G = dYᵀX (2·T·P) and its merges W0 + α·B·A
// (forward, recomputed in backward: 4·r·P) and dA, dB from M⊙G (4·r·P); QAT-LoRA the LoRA
// branch plus G for ds, db; LSQ G for dW, ds, db.
static double step_flops(const Bench *b, const char *method) {
    const GmShape *s = &b->s;
    double T = b->T, r = b->rank, P = 0, ad = 0;
    for (int p = 0; p < 7; p++) {
        int out, in;
        gm_proj_dims(s, p, &out, &in);
        P += (double)out * in;
        int ng = (in + b->gs - 1) / b->gs;
        ad += r * ((strcmp(method, "qa_lora") ? in : ng) + out);
    }
    P *= s->layers;
    ad *= s->layers;
    double f = 4 * T * P + 4 * T * (double)s->vocab * s->dim + 6 * T * T * s->dim * s->layers;
    if (!strcmp(method, "l4q")) f += 2 * T * P + 8 * r * P;
    else if (!strcmp(method, "lsq")) f += 2 * T * P;
    else if (!strcmp(method, "qat_lora")) f += 2 * T * P + 6 * T * ad;
    else f += 6 * T * ad;
    return f;
}

// Host buffers shared by every projection (the plugin copies what it is given).
typedef struct {
    float *A, *B, *s, *b, *W;
    uint8_t *codes, *absq;
    float *scale, *offset, *absscale;
    Deploy *dep;
} Shared;

static float *fill(size_t n, float scale) {
    float *p = malloc(n * sizeof(float));
    if (!p) die2("out of host memory", NULL);
    for (size_t i = 0; i < n; i++) p[i] = scale * xs_unif();
    return p;
}
static uint8_t *fill_bytes(size_t n) {
    uint8_t *p = malloc(n + 8);
    if (!p) die2("out of host memory", NULL);
    for (size_t i = 0; i < n; i += 8) { uint64_t v = xs(); memcpy(p + i, &v, 8); }
    return p;
}

static DevTensor tensor(const char *name, int dtype, const float *f32, int rows, int cols, int decay) {
    DevTensor t = {name, dtype, f32, NULL, (size_t)rows * cols, rows, cols, decay};
    return t;
}

// The DevModelDesc of method m on b's shape: desc->proj is allocated, sh's buffers too.
static void build_desc(const Bench *b, const char *m, int moments, DevModelDesc *d, Shared *sh, float *rope) {
    const GmShape *s = &b->s;
    int L = s->layers, maxo = 0, maxi = 0, r = b->rank;
    size_t maxn = 0;
    for (int p = 0; p < 7; p++) {
        int o, i;
        gm_proj_dims(s, p, &o, &i);
        if (o > maxo) maxo = o;
        if (i > maxi) maxi = i;
        if ((size_t)o * i > maxn) maxn = (size_t)o * i;
    }
    size_t maxng = (size_t)(maxi + b->gs - 1) / b->gs;
    memset(sh, 0, sizeof *sh);
    sh->A = fill((size_t)r * maxi, 1.0f / sqrtf((float)s->dim));
    sh->B = fill((size_t)maxo * r, 1e-3f);
    sh->s = fill((size_t)maxo * maxng, 0.0f);
    sh->b = fill((size_t)maxo * maxng, 0.0f);
    for (size_t i = 0; i < (size_t)maxo * maxng; i++) sh->s[i] = 1.0f / (7.0f * sqrtf((float)s->dim));
    int quantl = !strcmp(m, "l4q") || !strcmp(m, "qat_lora") || !strcmp(m, "lsq");
    int nf4 = !strcmp(m, "qlora"), uni = !strcmp(m, "gptq_lora") || !strcmp(m, "qa_lora");
    if (!strcmp(m, "lsq")) sh->W = fill(maxn, 1.0f / sqrtf((float)s->dim));
    if (nf4) {
        sh->codes = fill_bytes(nf4_codes_bytes(maxn));
        sh->absq = fill_bytes(nf4_blocks(maxn));
        sh->absscale = fill(nf4_scales(maxn), 0.0f);
        for (size_t i = 0; i < nf4_scales(maxn); i++) sh->absscale[i] = 0.03f; // absmax ≈ LLaMA's weight range
    }
    if (uni) {
        sh->codes = fill_bytes((size_t)maxo * deploy_row_bytes(b->bits, maxi));
        sh->scale = fill((size_t)maxo * maxng, 0.0f);
        sh->offset = fill((size_t)maxo * maxng, 0.0f);
        for (size_t i = 0; i < (size_t)maxo * maxng; i++) sh->scale[i] = 1.0f / (7.0f * sqrtf((float)s->dim));
    }
    memset(d, 0, sizeof *d);
    d->dim = s->dim; d->hidden_dim = s->hidden; d->n_layers = L; d->n_heads = s->heads; d->n_kv_heads = s->kv_heads;
    d->vocab_size = s->vocab; d->seq_len = b->T; d->shared_classifier = !s->untied; d->norm_eps = 1e-5f;
    int hs2 = s->dim / s->heads / 2;
    d->rope_cos = rope; d->rope_sin = rope + (size_t)b->T * hs2;
    d->tok_emb = tensor("tok_emb", DT_BF16, NULL, s->vocab, s->dim, 0);
    d->rms_att = tensor("rms_att", DT_F32, NULL, L, s->dim, 0);
    d->rms_ffn = tensor("rms_ffn", DT_F32, NULL, L, s->dim, 0);
    d->rms_final = tensor("rms_final", DT_F32, NULL, 1, s->dim, 0);
    d->wcls = s->untied ? tensor("wcls", DT_BF16, NULL, s->vocab, s->dim, 0) : (DevTensor){0};
    d->proj = calloc((size_t)L * 7, sizeof(DevProj));
    if (nf4 || uni) sh->dep = calloc((size_t)L * 7, sizeof(Deploy));
    if (!d->proj || ((nf4 || uni) && !sh->dep)) die2("out of host memory", NULL);
    for (int l = 0; l < L; l++)
        for (int p = 0; p < 7; p++) {
            DevProj *q = &d->proj[l * 7 + p];
            int o, i;
            gm_proj_dims(s, p, &o, &i);
            int ng = (i + b->gs - 1) / b->gs;
            q->out = o; q->in = i;
            if (nf4 || uni) {
                Deploy *dp = &sh->dep[l * 7 + p];
                dp->out = o; dp->in = i; dp->codes = sh->codes;
                if (nf4) {
                    dp->kind = DEP_NF4; dp->bits = 4;
                    dp->codes_bytes = nf4_codes_bytes((size_t)o * i);
                    dp->absmax_q = sh->absq; dp->absmax_scale = sh->absscale; dp->absmax_mean = 0;
                } else {
                    dp->kind = DEP_UNIFORM; dp->bits = b->bits; dp->group_size = b->gs;
                    dp->codes_bytes = (size_t)o * deploy_row_bytes(b->bits, i);
                    dp->scale = sh->scale; dp->offset = sh->offset;
                }
                q->base = dp;
            } else {
                q->w0 = tensor("w0", DT_BF16, NULL, o, i, 0); // random on the device
            }
            int n = 0;
            if (!strcmp(m, "lsq")) q->params[n++] = tensor("W", DT_F32, sh->W, o, i, 1);
            else if (!strcmp(m, "qa_lora")) {
                q->params[n++] = tensor("lora_A", DT_F32, sh->A, r, ng, 1);
                q->params[n++] = tensor("lora_B", DT_F32, sh->B, o, r, 1);
            } else {
                q->params[n++] = tensor("lora_A", DT_F32, sh->A, r, i, 1);
                q->params[n++] = tensor("lora_B", DT_F32, sh->B, o, r, 1);
            }
            if (quantl) {
                q->params[n++] = tensor("s", DT_F32, sh->s, o, ng, 0);
                q->params[n++] = tensor("b", DT_F32, sh->b, o, ng, 0);
            }
            q->n_params = n;
        }
    snprintf(d->method.name, sizeof d->method.name, "%s", m);
    d->method.rank = r; d->method.alpha = b->alpha; d->method.dropout = 0; d->method.targets = 0x7f;
    d->method.bits = b->bits; d->method.group_size = b->gs; d->method.lsq_grad_scale = 0; d->method.tile_rows = 256;
    d->maxB = 1; d->maxT = b->T; d->precision = DEVPREC_BF16; d->training = 1;
    d->beta1 = 0.9f; d->beta2 = 0.999f; d->eps = 1e-8f; d->weight_decay = 0.01f;
    d->optim_state = moments; d->optim_seed = 7; d->seed = 11; d->random_weights = 0x5EED;
}

static void free_desc(DevModelDesc *d, Shared *sh) {
    free(d->proj);
    free(sh->A); free(sh->B); free(sh->s); free(sh->b); free(sh->W);
    free(sh->codes); free(sh->absq); free(sh->scale); free(sh->offset); free(sh->absscale); free(sh->dep);
}

#define GIB (1024.0 * 1024.0 * 1024.0)

static size_t predict(const Bench *b, const char *m, int moments, size_t context) {
    GmMethod gm = {m, b->rank, b->bits, b->gs, 0x7f, 256};
    GmAccount a;
    gm_account(&b->s, &gm, 2, 2, 1, b->T, &a);
    return gm_device_predict(&a, &b->s, 1, b->T, moments == DT_BF16 ? 2 : 4, 2, (size_t)32 << 20, context);
}

static void json_str(const char *k, const char *v) {
    printf("\"%s\":\"", k);
    for (const char *p = v; *p; p++) {
        if (*p == '"' || *p == '\\') putchar('\\');
        putchar((unsigned char)*p < 32 ? ' ' : *p);
    }
    printf("\"");
}

// One full step: zero_grad, forward + backward, clip, AdamW; 0 or an error in err.
static int full_step(const DeviceOps *o, DevModel *dm, const int *tok, const int *tg, int T, double *nll, char *err,
                     size_t el) {
    o->zero_grad(dm);
    if (o->step(dm, tok, tg, NULL, 1, T, NULL, NULL, 1, 1.0f / T, nll, err, el)) return 1;
    o->grad_clip(dm, 1.0f);
    o->adamw_step(dm, 1e-4f);
    return o->sync(dm, err, el);
}

static void row(const DeviceOps *o, const Bench *b, const char *m, int moments, double peak_tflops,
                double capacity, size_t *context) {
    char err[512] = "";
    size_t pred = predict(b, m, moments, *context);
    double flops = step_flops(b, m);
    printf("{\"kind\":\"row\",\"impl\":\"ours\",");
    json_str("method", m);
    printf(",\"moments\":\"%s\",\"tokens\":%d,\"pred_gib\":%.3f,\"model_tflop\":%.4f,", moments == DT_BF16 ? "bf16" : "fp32",
           b->T, pred / GIB, flops / 1e12);
    if (!o) { printf("\"status\":\"predicted\"}\n"); fflush(stdout); return; }
    if (!o->supports(m, DEVPREC_BF16, err, sizeof err)) { // nonzero: implemented
        printf("\"status\":\"unsupported\",");
        json_str("reason", err);
        printf("}\n"); fflush(stdout); return;
    }
    if (capacity > 0 && pred > capacity) {
        printf("\"status\":\"no-fit\",");
        snprintf(err, sizeof err, "predicted %.1f GiB > %.1f GiB on the device", pred / GIB, capacity / GIB);
        json_str("reason", err);
        printf("}\n"); fflush(stdout); return;
    }
    DevModelDesc d;
    Shared sh;
    int hs2 = b->s.dim / b->s.heads / 2;
    float *rope = malloc(2 * (size_t)b->T * hs2 * sizeof(float));
    for (int p = 0; p < b->T; p++)
        for (int j = 0; j < hs2; j++) {
            float val = p * (1.0f / powf(10000.0f, 2 * j / (float)(2 * hs2)));
            rope[(size_t)p * hs2 + j] = cosf(val);
            rope[(size_t)b->T * hs2 + (size_t)p * hs2 + j] = sinf(val);
        }
    build_desc(b, m, moments, &d, &sh, rope);
    int *tok = malloc((size_t)b->T * sizeof(int)), *tg = malloc((size_t)b->T * sizeof(int));
    for (int i = 0; i < b->T; i++) { tok[i] = (int)(xs() % (uint64_t)b->s.vocab); tg[i] = (int)(xs() % (uint64_t)b->s.vocab); }
    double t0 = now_s();
    DevModel *dm = o->model_new(&d, err, sizeof err);
    double t_new = now_s() - t0;
    free_desc(&d, &sh);
    free(rope);
    if (!dm) { // an allocation failure is the measured answer to "does it fit"
        int oom = strstr(err, "emory") != NULL; // cudaErrorMemoryAllocation, "out of memory"
        printf("\"status\":\"%s\",", oom ? "no-fit" : "error");
        json_str("reason", err);
        printf("}\n"); fflush(stdout); free(tok); free(tg); return;
    }
    double nll = 0, first = NAN, *ms = malloc((size_t)b->steps * sizeof(double));
    int bad = 0;
    for (int i = 0; i < b->warmup + b->steps && !bad; i++) {
        double a = now_s();
        bad = full_step(o, dm, tok, tg, b->T, &nll, err, sizeof err) || !isfinite(nll);
        if (i == 0) first = nll / b->T;
        if (i >= b->warmup) ms[i - b->warmup] = 1e3 * (now_s() - a);
    }
    // Where the time goes: one step split at syncs (forward alone, forward + backward, clip, AdamW).
    double ph[4] = {0};
    if (!bad) {
        double a = now_s();
        bad |= o->step(dm, tok, tg, NULL, 1, b->T, NULL, NULL, 0, 1.0f / b->T, &nll, err, sizeof err) ||
               o->sync(dm, err, sizeof err);
        ph[0] = now_s() - a;
        o->zero_grad(dm);
        a = now_s();
        bad |= o->step(dm, tok, tg, NULL, 1, b->T, NULL, NULL, 1, 1.0f / b->T, &nll, err, sizeof err) ||
               o->sync(dm, err, sizeof err);
        ph[1] = now_s() - a;
        a = now_s();
        o->grad_clip(dm, 1.0f);
        bad |= o->sync(dm, err, sizeof err);
        ph[2] = now_s() - a;
        a = now_s();
        o->adamw_step(dm, 1e-4f);
        bad |= o->sync(dm, err, sizeof err);
        ph[3] = now_s() - a;
    }
    DevMemory mem;
    o->memory(dm, &mem);
    o->model_free(dm);
    free(tok); free(tg);
    if (bad) {
        printf("\"status\":\"error\",");
        json_str("reason", err[0] ? err : "non-finite loss");
        printf("}\n"); fflush(stdout); free(ms); return;
    }
    qsort(ms, (size_t)b->steps, sizeof *ms, cmp_d);
    double med = b->steps % 2 ? ms[b->steps / 2] : 0.5 * (ms[b->steps / 2 - 1] + ms[b->steps / 2]);
    size_t untracked = mem.device_used > mem.tracked_cur ? mem.device_used - mem.tracked_cur : 0;
    *context = untracked; // the next rows' predictions use the measured context
    double peak = (double)mem.tracked_peak + (double)untracked;
    printf("\"status\":\"ok\",\"ms\":%.3f,\"ms_min\":%.3f,\"ms_max\":%.3f,\"tok_s\":%.1f,", med, ms[0], ms[b->steps - 1],
           b->T / (med / 1e3));
    if (peak_tflops > 0) printf("\"mfu\":%.4f,", flops / (med / 1e3) / (peak_tflops * 1e12));
    printf("\"peak_gib\":%.3f,\"tracked_peak_gib\":%.3f,\"workspace_mib\":%.1f,\"used_gib\":%.3f,\"untracked_gib\":%.3f,"
           "\"total_gib\":%.2f,\"loss_first\":%.5f,\"loss_last\":%.5f,\"model_new_s\":%.2f,"
           "\"phase_ms\":{\"forward\":%.2f,\"backward\":%.2f,\"clip\":%.2f,\"adamw\":%.2f}}\n",
           peak / GIB, mem.tracked_peak / GIB, mem.workspace / 1048576.0, mem.device_used / GIB, untracked / GIB,
           mem.device_total / GIB, first, nll / b->T, t_new, 1e3 * ph[0], 1e3 * (ph[1] - ph[0]), 1e3 * ph[2], 1e3 * ph[3]);
    fflush(stdout);
    free(ms);
}

static int intarg(const char *v, const char *flag) {
    char *e;
    long x = strtol(v, &e, 10);
    if (*e || x <= 0 || x > 1 << 30) die2("bad value for ", flag);
    return (int)x;
}

int main(int argc, char **argv) {
    Bench b = {{4096, 11008, 32, 32, 32, 32000, 1}, 2048, 16, 4, 128, 3, 10, 32.0f};
    const char *plugin = getenv("L4Q_CUDA_PLUGIN") ? getenv("L4Q_CUDA_PLUGIN") : "build/libl4q_cuda.so";
    char methods[256] = "lora,l4q,qlora,gptq_lora,qa_lora,qat_lora,lsq", moments[32] = "fp32,bf16";
    double peak = 0, cap_gib = 0;
    int predict_only = 0, tokens_given = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--predict")) { predict_only = 1; continue; }
        if (!v) die2("missing value after ", a);
        i++;
        if (!strcmp(a, "--plugin")) plugin = v;
        else if (!strcmp(a, "--peak-tflops")) peak = atof(v);
        else if (!strcmp(a, "--capacity-gib")) cap_gib = atof(v);
        else if (!strcmp(a, "--methods")) snprintf(methods, sizeof methods, "%s", v);
        else if (!strcmp(a, "--moments")) snprintf(moments, sizeof moments, "%s", v);
        else if (!strcmp(a, "--tokens")) { b.T = intarg(v, a); tokens_given = 1; }
        else if (!strcmp(a, "--warmup")) b.warmup = intarg(v, a);
        else if (!strcmp(a, "--steps")) b.steps = intarg(v, a);
        else if (!strcmp(a, "--dim")) b.s.dim = intarg(v, a);
        else if (!strcmp(a, "--hidden")) b.s.hidden = intarg(v, a);
        else if (!strcmp(a, "--layers")) b.s.layers = intarg(v, a);
        else if (!strcmp(a, "--heads")) b.s.heads = intarg(v, a);
        else if (!strcmp(a, "--kv-heads")) b.s.kv_heads = intarg(v, a);
        else if (!strcmp(a, "--vocab")) b.s.vocab = intarg(v, a);
        else die2("unknown option ", a);
    }
    if (b.s.dim % b.s.heads || b.s.heads % b.s.kv_heads || (b.s.dim / b.s.heads) % 2 || b.s.dim % b.gs || b.s.hidden % b.gs)
        die2("shape: dim must split into an even head size, heads into kv-heads, dim and hidden into groups of 128", NULL);
    for (char *m = strtok(strdup(methods), ","); m; m = strtok(NULL, ","))
        if (!gm_known(m)) die2("--methods: unknown method ", m);
    const DeviceOps *o = NULL;
    char name[256] = "none (prediction only)", err[512];
    if (!predict_only) {
        o = device_try_open(plugin, err, sizeof err); // opens device 0 (init) too
        if (!o) die2("", err);
        snprintf(name, sizeof name, "%s", device_name());
    }
    // Capacity: --capacity-gib, else the "…, N GiB)" the plugin puts in the device name.
    const char *g = strstr(name, " GiB)");
    if (cap_gib <= 0 && g) {
        const char *p = g;
        while (p > name && (p[-1] == '.' || (p[-1] >= '0' && p[-1] <= '9'))) p--;
        cap_gib = atof(p);
    }
    double capacity = cap_gib * GIB;
    size_t context = (size_t)600 << 20; // assumed until a row measures it
    const char *why = "";
    if (!tokens_given && capacity > 0 && predict(&b, "lora", DT_F32, context) > capacity) {
        b.T = 1024;
        why = "1x2048 tokens of lora are predicted not to fit; 1x1024";
    }
    time_t now = time(NULL);
    char date[32];
    strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", gmtime(&now));
    printf("{\"kind\":\"device\",");
    json_str("device", name);
    printf(",\"date\":\"%s\",\"peak_tflops\":%.1f,\"capacity_gib\":%.2f,\"tokens\":%d,", date, peak, cap_gib, b.T);
    json_str("tokens_reason", why);
    printf(",\"shape\":{\"dim\":%d,\"hidden\":%d,\"layers\":%d,\"heads\":%d,\"kv_heads\":%d,\"vocab\":%d,\"untied\":%d},"
           "\"rank\":%d,\"alpha\":%.0f,\"bits\":%d,\"group_size\":%d,\"warmup\":%d,\"steps\":%d,"
           "\"timing\":\"host CLOCK_MONOTONIC around ops->sync\"}\n",
           b.s.dim, b.s.hidden, b.s.layers, b.s.heads, b.s.kv_heads, b.s.vocab, b.s.untied, b.rank, b.alpha, b.bits, b.gs,
           b.warmup, b.steps);
    fflush(stdout);
    for (char *m = strtok(methods, ","); m; m = strtok(NULL, ","))
        for (char *mm = moments, *e; *mm; mm = *e ? e + 1 : e) {
            e = strchr(mm, ',');
            if (!e) e = mm + strlen(mm);
            int dt = !strncmp(mm, "bf16", 4) ? DT_BF16 : DT_F32;
            row(o, &b, m, dt, peak, capacity, &context);
        }
    return 0;
}
