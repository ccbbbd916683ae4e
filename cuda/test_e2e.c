// test_e2e.c — end-to-end parity of the CUDA plugin against the CPU (build/tests/test_cuda_e2e).
//
// Replays each fixture of build/cudafix/e2e (cuda/e2efix.h; `make cuda-fixtures` writes
// them with the CPU reference path) through the plugin's DeviceOps: the same model, initial
// trainables and token batches, 20 steps of mean-NLL backward, grad_clip and AdamW. Checks
// (issue 23 point 5), fp32 mode:
//   |Δloss|/loss ≤ 1e-5 at step 1 and ≤ 1e-4 through the last step; grad norms ≤ 1e-4
//   relative; final trainables relative L2 ≤ 1e-4; inference of the deployed l4q and qlora
//   models (*_deployed.bin: `none` over uniform / NF4+LoRA bases): loss ≤ 1e-5, log p ≤ 1e-4; l4q: ≥ 99.99 % of the codes of the
//   final weights identical to the CPU's deployed codes; a second run bitwise identical
//   (losses, norms and final trainables);
// bf16 mode: loss within 1 % at step 1 and 2 % through the last step.
//
// Device side only: plain C11 over core/device.h, dlopen()ing build/libl4q_cuda.so (no
// OpenBLAS, HDF5 or yaml). With no CUDA device it prints one SKIP line and exits 0; so it
// does with no plugin or no fixtures, unless --require (bench/cuda_check.sh) turns those
// into failures. --quick: stories260K lora and l4q, 2 steps, fp32, one run (the sanitizer pass).
//
// usage: test_cuda_e2e [--require] [--quick] [--plugin PATH] [FIXTURE_DIR]
#include "device.h"
#include "elem.h"
#include "e2efix.h"
#include "randw.h"
#include <dirent.h>
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


static int g_fail, g_pass;
#define CHECK(cond, ...) do { if (cond) { g_pass++; printf("PASS: "); } else { g_fail++; printf("FAIL: "); } \
    printf(__VA_ARGS__); printf("\n"); fflush(stdout); } while (0)

// ---- fixture records ---------------------------------------------------------------------
typedef struct { char name[EF_NAME + 1]; uint32_t type; uint64_t count; void *data; } Rec;
typedef struct { Rec *r; int n; char path[1024]; } Fix;

static int fix_load(Fix *f, const char *path) {
    memset(f, 0, sizeof *f);
    snprintf(f->path, sizeof f->path, "%s", path);
    FILE *fp = fopen(path, "rb");
    if (!fp) return -1;
    int cap = 0;
    for (;;) {
        Rec r;
        memset(&r, 0, sizeof r);
        if (fread(r.name, 1, EF_NAME, fp) != EF_NAME) break;
        if (fread(&r.type, 4, 1, fp) != 1 || fread(&r.count, 8, 1, fp) != 1 || r.type > EF_U64 || r.count > (1ull << 32)) {
            fclose(fp);
            return -1;
        }
        size_t bytes = (size_t)r.count * ef_size(r.type);
        r.data = malloc(bytes ? bytes : 1);
        if (!r.data || (bytes && fread(r.data, 1, bytes, fp) != bytes)) { fclose(fp); return -1; }
        if (f->n == cap) {
            cap = cap ? 2 * cap : 64;
            Rec *nr = realloc(f->r, (size_t)cap * sizeof *nr);
            if (!nr) { fclose(fp); return -1; }
            f->r = nr;
        }
        f->r[f->n++] = r;
    }
    fclose(fp);
    return f->n > 0 ? 0 : -1;
}
static void fix_free(Fix *f) {
    for (int i = 0; i < f->n; i++) free(f->r[i].data);
    free(f->r);
}
// The record `name` of type `type` (and count `count` unless count < 0), or NULL.
static const Rec *rec(const Fix *f, const char *name, uint32_t type, long long count) {
    for (int i = 0; i < f->n; i++)
        if (!strcmp(f->r[i].name, name)) {
            if (f->r[i].type != type || (count >= 0 && f->r[i].count != (uint64_t)count)) return NULL;
            return &f->r[i];
        }
    return NULL;
}

// ---- one case ----------------------------------------------------------------------------
typedef struct {
    const int32_t *cfg;
    const float *hy;
    const uint64_t *seeds;
    char method[32];
    DevModelDesc d;
    DevProj *proj;
    Deploy *bases;          // [nproj]: the quantized bases (qlora, rtn_lora, qa_lora)
    int nproj, np;
    size_t nfinal;
} Case;

static int tensor_rec(const Fix *f, const char *name, DevTensor *t, size_t n, int rows, int cols, int random) {
    const Rec *r = rec(f, name, EF_F32, -1);
    memset(t, 0, sizeof *t);
    t->name = name; t->dtype = DT_F32; t->n = n; t->rows = rows; t->cols = cols;
    if (!r) return -1;
    if (r->count == 0) return random ? 0 : (n == 0 ? 0 : -1);
    if (r->count != n) return -1;
    t->f32 = (const float *)r->data;
    return 0;
}

static const char *case_build(Case *k, const Fix *f, int precision) {
    static char why[256];
    memset(k, 0, sizeof *k);
    const Rec *rc = rec(f, "config", EF_I32, EFC_COUNT), *rh = rec(f, "hyper", EF_F32, EFH_COUNT);
    const Rec *rs = rec(f, "seeds", EF_U64, 2), *rm = rec(f, "method", EF_U8, -1);
    if (!rc || !rh || !rs || !rm || rm->count >= sizeof k->method) return "config/hyper/seeds/method records";
    k->cfg = rc->data; k->hy = rh->data; k->seeds = rs->data;
    memcpy(k->method, rm->data, rm->count);
    const int32_t *c = k->cfg;
    int random = c[EFC_RANDOM], D = c[EFC_DIM], L = c[EFC_LAYERS], V = c[EFC_VOCAB], hs = D / c[EFC_HEADS];
    DevModelDesc *d = &k->d;
    d->dim = D; d->hidden_dim = c[EFC_HIDDEN]; d->n_layers = L; d->n_heads = c[EFC_HEADS];
    d->n_kv_heads = c[EFC_KV_HEADS]; d->vocab_size = V; d->seq_len = c[EFC_SEQ];
    d->shared_classifier = c[EFC_SHARED]; d->norm_eps = k->hy[EFH_EPS];
    size_t nr = (size_t)c[EFC_T] * (hs / 2);
    const Rec *rcos = rec(f, "rope_cos", EF_F32, (long long)nr), *rsin = rec(f, "rope_sin", EF_F32, (long long)nr);
    if (!rcos || !rsin) return "rope tables";
    d->rope_cos = rcos->data; d->rope_sin = rsin->data;
    if (tensor_rec(f, "tok_emb", &d->tok_emb, (size_t)V * D, V, D, random) ||
        tensor_rec(f, "rms_att", &d->rms_att, (size_t)L * D, L, D, random) ||
        tensor_rec(f, "rms_ffn", &d->rms_ffn, (size_t)L * D, L, D, random) ||
        tensor_rec(f, "rms_final", &d->rms_final, (size_t)D, 1, D, random) ||
        tensor_rec(f, "wcls", &d->wcls, c[EFC_SHARED] ? 0 : (size_t)V * D, V, D, random))
        return "embedding/norm/classifier records";
    k->nproj = c[EFC_NPROJ];
    k->proj = calloc((size_t)k->nproj, sizeof *k->proj);
    k->bases = calloc((size_t)k->nproj, sizeof *k->bases);
    if (!k->proj || !k->bases) return "out of memory";
    static char names[4096][24];
    int nn = 0;
    for (int i = 0; i < k->nproj; i++) {
        char nm[EF_NAME];
        snprintf(nm, sizeof nm, "p%d.shape", i);
        const Rec *sh = rec(f, nm, EF_I32, 3);
        if (!sh) { snprintf(why, sizeof why, "record %s", nm); return why; }
        const int32_t *s = sh->data;
        DevProj *p = &k->proj[i];
        p->out = s[0]; p->in = s[1]; p->n_params = s[2];
        if (p->n_params < 0 || p->n_params > 8) return "trainable count";
        snprintf(nm, sizeof nm, "p%d.base", i);
        const Rec *br = rec(f, nm, EF_I32, 3);
        if (br) { // a quantized base: deploy.h's arrays straight from the records
            const int32_t *h = br->data;
            Deploy *dp = &k->bases[i];
            dp->kind = (DeployKind)h[0]; dp->bits = h[1]; dp->group_size = h[2];
            dp->out = p->out; dp->in = p->in;
            const Rec *cr, *r1, *r2, *r3;
            snprintf(nm, sizeof nm, "p%d.codes", i);
            if (!(cr = rec(f, nm, EF_U8, -1))) return "base codes";
            dp->codes = cr->data; dp->codes_bytes = cr->count;
            if (dp->kind == DEP_UNIFORM) {
                snprintf(nm, sizeof nm, "p%d.scale", i); r1 = rec(f, nm, EF_F32, -1);
                snprintf(nm, sizeof nm, "p%d.offset", i); r2 = rec(f, nm, EF_F32, -1);
                if (!r1 || !r2) return "uniform base scale/offset";
                dp->scale = r1->data; dp->offset = r2->data;
            } else {
                snprintf(nm, sizeof nm, "p%d.absq", i); r1 = rec(f, nm, EF_U8, -1);
                snprintf(nm, sizeof nm, "p%d.abss", i); r2 = rec(f, nm, EF_F32, -1);
                snprintf(nm, sizeof nm, "p%d.absmean", i); r3 = rec(f, nm, EF_F32, 1);
                if (!r1 || !r2 || !r3) return "NF4 base blocks";
                dp->absmax_q = r1->data; dp->absmax_scale = r2->data; dp->absmax_mean = *(const float *)r3->data;
            }
            snprintf(nm, sizeof nm, "p%d.side", i);
            const Rec *sr = rec(f, nm, EF_I32, 1);
            if (sr) { // a deployed LoRA side branch ("n&fp")
                dp->rank = *(const int32_t *)sr->data;
                snprintf(nm, sizeof nm, "p%d.sideA", i); r1 = rec(f, nm, EF_F32, (long long)dp->rank * p->in);
                snprintf(nm, sizeof nm, "p%d.sideB", i); r2 = rec(f, nm, EF_F32, (long long)p->out * dp->rank);
                snprintf(nm, sizeof nm, "p%d.sidescale", i); r3 = rec(f, nm, EF_F32, 1);
                if (!r1 || !r2 || !r3) return "side branch records";
                dp->lora_A = r1->data; dp->lora_B = r2->data; dp->lora_scale = *(const float *)r3->data;
            }
            p->base = dp;
        }
        snprintf(names[nn], sizeof names[nn], "p%d.w0", i);
        if (tensor_rec(f, names[nn], &p->w0, br ? 0 : (size_t)p->out * p->in, p->out, p->in, random)) return "w0 record";
        nn++;
        for (int j = 0; j < p->n_params; j++) {
            if (nn >= 4096) return "too many tensors";
            snprintf(names[nn], sizeof names[nn], "p%d.t%d", i, j);
            snprintf(nm, sizeof nm, "p%d.t%d.m", i, j);
            const Rec *mr = rec(f, nm, EF_I32, 3), *tr = rec(f, names[nn], EF_F32, -1);
            if (!mr || !tr) { snprintf(why, sizeof why, "record %s", names[nn]); return why; }
            const int32_t *mm = mr->data;
            DevTensor *t = &p->params[j];
            t->name = names[nn]; t->dtype = DT_F32; t->f32 = tr->data; t->n = tr->count;
            t->rows = mm[0]; t->cols = mm[1]; t->decay = mm[2];
            k->nfinal += tr->count;
            k->np++;
            nn++;
        }
    }
    d->proj = k->proj;
    d->head_is_proj = 0;
    DevMethod *m = &d->method;
    snprintf(m->name, sizeof m->name, "%s", k->method);
    m->rank = c[EFC_RANK]; m->alpha = k->hy[EFH_ALPHA]; m->dropout = k->hy[EFH_DROPOUT];
    m->targets = (unsigned)c[EFC_TARGETS]; m->bits = c[EFC_BITS]; m->group_size = c[EFC_GROUP];
    m->lsq_grad_scale = c[EFC_LSQ]; m->tile_rows = 256;
    d->maxB = c[EFC_B]; d->maxT = c[EFC_T];
    d->precision = precision; d->training = strcmp(k->method, "none") != 0;
    d->beta1 = k->hy[EFH_BETA1]; d->beta2 = k->hy[EFH_BETA2]; d->eps = k->hy[EFH_ADAM_EPS];
    d->weight_decay = k->hy[EFH_WD]; d->optim_state = DT_F32; d->optim_seed = k->seeds[1]; d->seed = 0;
    d->random_weights = random ? k->seeds[0] : 0;
    return NULL;
}

typedef struct { double *loss, *gnorm; float *final; } RunOut;

// steps ≤ the fixture's; returns 0 or -1 with a FAIL line printed.
static int run_case(const DeviceOps *ops, const Case *k, const Fix *f, int steps, RunOut *o, const char *tag) {
    char err[512] = "";
    const int32_t *c = k->cfg;
    int B = c[EFC_B], T = c[EFC_T], R = B * T;
    const Rec *tk = rec(f, "tokens", EF_I32, (long long)c[EFC_STEPS] * R), *tg = rec(f, "targets", EF_I32, (long long)c[EFC_STEPS] * R);
    if (!tk || !tg) { CHECK(0, "%s: token records", tag); return -1; }
    DevModel *m = ops->model_new(&k->d, err, sizeof err);
    if (!m) { CHECK(0, "%s: model_new: %s", tag, err); return -1; }
    if (ops->n_trainables(m) != k->np) {
        CHECK(0, "%s: %d trainables on the device, %d in the fixture", tag, ops->n_trainables(m), k->np);
        ops->model_free(m);
        return -1;
    }
    int rc = 0;
    for (int s = 0; s < steps && !rc; s++) {
        double nll = 0;
        ops->zero_grad(m);
        if (ops->step(m, (const int *)tk->data + (size_t)s * R, (const int *)tg->data + (size_t)s * R, NULL, B, T, NULL,
                      NULL, 1, 1.0f / R, &nll, err, sizeof err)) {
            CHECK(0, "%s: step %d: %s", tag, s + 1, err);
            rc = -1;
            break;
        }
        o->loss[s] = nll / R;
        o->gnorm[s] = ops->grad_clip(m, k->hy[EFH_CLIP]);
        ops->adamw_step(m, ((const float *)rec(f, "lr", EF_F32, -1)->data)[s]);
        if (ops->sync(m, err, sizeof err)) { CHECK(0, "%s: step %d: %s", tag, s + 1, err); rc = -1; }
    }
    size_t off = 0;
    for (int i = 0; i < k->np && !rc; i++) {
        size_t n = 0;
        for (int p = 0, q = 0; p < k->nproj; p++)
            for (int j = 0; j < k->proj[p].n_params; j++, q++)
                if (q == i) n = k->proj[p].params[j].n;
        if (ops->download(m, i, 0, o->final + off, n * sizeof(float), err, sizeof err)) {
            CHECK(0, "%s: download %d: %s", tag, i, err);
            rc = -1;
        }
        off += n;
    }
    DevMemory mem;
    ops->memory(m, &mem);
    if (!rc) printf("%s: tracked peak %.1f MiB, device used %.1f MiB\n", tag, mem.tracked_peak / 1048576.0, mem.device_used / 1048576.0);
    ops->model_free(m);
    return rc;
}

// ‖a − b‖ / ‖b‖ over n floats.
static double rel_l2(const float *a, const float *b, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)a[i] - b[i];
        num += d * d;
        den += (double)b[i] * b[i];
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

// The fraction of the CPU's deployed codes that the device's final trainables reproduce:
// each l4q projection's W = W0 + α·B·A merged as core/l4q.c does (fmaf over k ascending,
// then fmaf(α, acc, W0)) and quantized by elem.h's code function.
static double code_agreement(const Case *k, const Fix *f, const float *final, long long *total) {
    const Rec *cr = rec(f, "codes", EF_U8, -1), *wr = rec(f, "codes.proj", EF_I32, -1);
    if (!cr || !wr) return -1;
    const uint8_t *codes = cr->data;
    const int32_t *which = wr->data;
    const int32_t *c = k->cfg;
    int bits = c[EFC_BITS], qn = -(1 << (bits - 1)), qp = (1 << (bits - 1)) - 1, r = c[EFC_RANK];
    float alpha = k->hy[EFH_ALPHA] / r;
    long long same = 0, all = 0;
    size_t coff = 0;
    for (uint64_t w = 0; w < wr->count; w++) {
        int pi = which[w];
        const DevProj *p = &k->proj[pi];
        size_t off = 0;
        for (int q = 0; q < pi; q++)
            for (int j = 0; j < k->proj[q].n_params; j++) off += k->proj[q].params[j].n;
        const float *A = final + off, *B = A + p->params[0].n, *s = B + p->params[1].n, *b = s + p->params[2].n;
        int in = p->in, gs = c[EFC_GROUP] == -1 ? in : c[EFC_GROUP], ng = (in + gs - 1) / gs;
        size_t rb = ((size_t)in * bits + 7) / 8;
        float bound = randw_bound(in);
        for (int i = 0; i < p->out; i++) {
            const uint8_t *row = codes + coff + (size_t)i * rb;
            for (int j = 0; j < in; j++) {
                float acc = 0.0f;
                for (int kk = 0; kk < r; kk++) acc = fmaf(B[(size_t)i * r + kk], A[(size_t)kk * in + j], acc);
                size_t e = (size_t)i * in + j;
                float w0 = p->w0.f32 ? p->w0.f32[e] : randw_value(k->d.random_weights, RANDW_PROJ + (uint64_t)pi, e, bound);
                float wv = fmaf(alpha, acc, w0);
                int g = j / gs;
                unsigned u = quant_ucode_elem(wv, quant_safe_scale(s[(size_t)i * ng + g]), b[(size_t)i * ng + g], qn, qp);
                size_t bit = (size_t)j * bits;
                unsigned cpu = (unsigned)((row[bit / 8] | (bit / 8 + 1 < rb ? row[bit / 8 + 1] << 8 : 0)) >> (bit % 8)) &
                               ((1u << bits) - 1);
                same += u == cpu;
                all++;
            }
        }
        coff += (size_t)p->out * rb;
    }
    *total = all;
    return all ? (double)same / (double)all : -1;
}

// Inference of a deployed file: one forward, log p(target) per row and the mean NLL against
// the CPU inference model built from the same deployed forms.
static void check_inference(const DeviceOps *ops, const Fix *f, const char *tag, int precision) {
    Case k;
    char t[160], err[512] = "";
    snprintf(t, sizeof t, "%s %s", tag, precision == DEVPREC_BF16 ? "bf16" : "fp32");
    const char *bad = case_build(&k, f, precision);
    const Rec *tk = bad ? NULL : rec(f, "tokens", EF_I32, (long long)k.cfg[EFC_B] * k.cfg[EFC_T]);
    const Rec *tg = bad ? NULL : rec(f, "targets", EF_I32, (long long)k.cfg[EFC_B] * k.cfg[EFC_T]);
    const Rec *lr = bad ? NULL : rec(f, "lp", EF_F32, (long long)k.cfg[EFC_B] * k.cfg[EFC_T]);
    const Rec *ls = bad ? NULL : rec(f, "loss", EF_F64, 1);
    if (bad || !tk || !tg || !lr || !ls) { CHECK(0, "%s: fixture: %s", t, bad ? bad : "tokens/lp/loss records"); free(k.proj); free(k.bases); return; }
    int R = k.cfg[EFC_B] * k.cfg[EFC_T];
    float *lp = calloc((size_t)R, sizeof *lp);
    DevModel *m = ops->model_new(&k.d, err, sizeof err);
    double nll = 0;
    if (!m) CHECK(0, "%s: model_new: %s", t, err);
    else if (ops->step(m, tk->data, tg->data, NULL, k.cfg[EFC_B], k.cfg[EFC_T], lp, NULL, 0, 1.0f, &nll, err, sizeof err) ||
             ops->sync(m, err, sizeof err))
        CHECK(0, "%s: step: %s", t, err);
    else {
        double cpu = *(const double *)ls->data, e = fabs(nll / R - cpu) / fabs(cpu), el = rel_l2(lp, lr->data, (size_t)R);
        printf("%s: loss %.7f (CPU %.7f)\n", t, nll / R, cpu);
        if (precision == DEVPREC_FP32) {
            CHECK(e <= 1e-5, "%s: deployed-model loss rel err %.3g (<= 1e-5)", t, e);
            CHECK(el <= 1e-4, "%s: per-row log p rel L2 %.3g (<= 1e-4)", t, el);
        } else {
            CHECK(e <= 1e-2, "%s: deployed-model loss rel err %.3g (<= 1e-2)", t, e);
        }
    }
    if (m) ops->model_free(m);
    free(lp);
    free(k.proj);
    free(k.bases);
}

static void check_case(const DeviceOps *ops, const char *path, int quick) {
    Fix f;
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    char tag[128];
    snprintf(tag, sizeof tag, "cuda_e2e %.*s", (int)(strlen(base) > 4 ? strlen(base) - 4 : strlen(base)), base);
    if (fix_load(&f, path)) { CHECK(0, "%s: cannot read fixture %s", tag, path); return; }
    const Rec *mr = rec(&f, "method", EF_U8, 4);
    if (mr && !memcmp(mr->data, "none", 4)) {
        check_inference(ops, &f, tag, DEVPREC_FP32);
        if (!quick) check_inference(ops, &f, tag, DEVPREC_BF16);
        fix_free(&f);
        return;
    }
    Case k;
    const char *bad = case_build(&k, &f, DEVPREC_FP32);
    if (bad) { CHECK(0, "%s: fixture %s: %s", tag, path, bad); fix_free(&f); free(k.proj); free(k.bases); return; }
    int steps = quick ? 2 : k.cfg[EFC_STEPS];
    const double *cpu_loss = rec(&f, "loss", EF_F64, k.cfg[EFC_STEPS])->data;
    const double *cpu_gn = rec(&f, "gnorm", EF_F64, k.cfg[EFC_STEPS])->data;
    const Rec *fr = rec(&f, "final", EF_F32, (long long)k.nfinal);
    RunOut a, b2;
    a.loss = calloc(steps, 8); a.gnorm = calloc(steps, 8); a.final = calloc(k.nfinal, 4);
    b2.loss = calloc(steps, 8); b2.gnorm = calloc(steps, 8); b2.final = calloc(k.nfinal, 4);
    char t1[160];
    snprintf(t1, sizeof t1, "%s fp32", tag);
    if (!run_case(ops, &k, &f, steps, &a, t1)) {
        double l1 = fabs(a.loss[0] - cpu_loss[0]) / fabs(cpu_loss[0]), lmax = 0, gmax = 0;
        for (int s = 0; s < steps; s++) {
            double e = fabs(a.loss[s] - cpu_loss[s]) / fabs(cpu_loss[s]);
            double g = fabs(a.gnorm[s] - cpu_gn[s]) / fabs(cpu_gn[s]);
            if (!(e <= lmax)) lmax = e;
            if (!(g <= gmax)) gmax = g;
        }
        printf("%s: step 1 loss %.7f (CPU %.7f); step %d loss %.7f (CPU %.7f)\n", t1, a.loss[0], cpu_loss[0], steps,
               a.loss[steps - 1], cpu_loss[steps - 1]);
        CHECK(l1 <= 1e-5, "%s: step-1 loss rel err %.3g (<= 1e-5)", t1, l1);
        CHECK(lmax <= 1e-4, "%s: max loss rel err over %d steps %.3g (<= 1e-4)", t1, steps, lmax);
        CHECK(gmax <= 1e-4, "%s: max grad-norm rel err %.3g (<= 1e-4)", t1, gmax);
        if (!quick && fr) {
            double e = rel_l2(a.final, fr->data, k.nfinal);
            CHECK(e <= 1e-4, "%s: final trainables rel L2 %.3g (<= 1e-4)", t1, e);
            if (!strcmp(k.method, "l4q")) {
                long long n = 0;
                double agree = code_agreement(&k, &f, a.final, &n);
                CHECK(agree >= 0.9999, "%s: %.5f %% of %lld L4Q codes identical (>= 99.99 %%)", t1, 100 * agree, n);
            }
        }
        if (!quick && !run_case(ops, &k, &f, steps, &b2, t1)) {
            int same = !memcmp(a.loss, b2.loss, steps * 8) && !memcmp(a.gnorm, b2.gnorm, steps * 8) &&
                       !memcmp(a.final, b2.final, k.nfinal * 4);
            CHECK(same, "%s: two runs bitwise identical (losses, grad norms, final trainables)", t1);
        }
    }
    if (!quick) {
        Case kb;
        free(k.proj);
        free(k.bases);
        k.proj = NULL;
        k.bases = NULL;
        bad = case_build(&kb, &f, DEVPREC_BF16);
        char t2[160];
        snprintf(t2, sizeof t2, "%s bf16", tag);
        if (bad) CHECK(0, "%s: %s", t2, bad);
        else if (!run_case(ops, &kb, &f, steps, &a, t2)) {
            double l1 = fabs(a.loss[0] - cpu_loss[0]) / fabs(cpu_loss[0]), lmax = 0;
            for (int s = 0; s < steps; s++) {
                double e = fabs(a.loss[s] - cpu_loss[s]) / fabs(cpu_loss[s]);
                if (!(e <= lmax)) lmax = e;
            }
            printf("%s: step 1 loss %.6f (CPU %.6f); step %d loss %.6f (CPU %.6f)\n", t2, a.loss[0], cpu_loss[0], steps,
                   a.loss[steps - 1], cpu_loss[steps - 1]);
            CHECK(l1 <= 1e-2, "%s: step-1 loss rel err %.3g (<= 1e-2)", t2, l1);
            CHECK(lmax <= 2e-2, "%s: max loss rel err over %d steps %.3g (<= 2e-2)", t2, steps, lmax);
        }
        free(kb.proj);
        free(kb.bases);
    } else {
        free(k.proj);
        free(k.bases);
    }
    free(a.loss); free(a.gnorm); free(a.final); free(b2.loss); free(b2.gnorm); free(b2.final);
    fix_free(&f);
}

// What the fixtures allow without a device: every file parses into a description whose
// trainables match its `final` record, and the host-side code reconstruction used above
// (merge, quantize, unpack; randw.h for random weights) reproduces the CPU's deployed codes
// from the CPU's own final trainables exactly.
static void fixtures_selfcheck(char files[][1024], int nf) {
    for (int i = 0; i < nf; i++) {
        Fix f;
        const char *base = strrchr(files[i], '/') ? strrchr(files[i], '/') + 1 : files[i];
        if (fix_load(&f, files[i])) { CHECK(0, "cuda_e2e: fixture %s reads", base); continue; }
        Case k;
        const char *bad = case_build(&k, &f, DEVPREC_FP32);
        const Rec *fr = bad ? NULL : rec(&f, "final", EF_F32, (long long)k.nfinal);
        const Rec *mr = rec(&f, "method", EF_U8, -1);
        int inference = mr && mr->count == 4 && !memcmp(mr->data, "none", 4);
        CHECK(!bad && (fr || inference), "cuda_e2e: fixture %s parses (%d projections, %d trainables%s)", base, k.nproj,
              k.np, bad ? bad : "");
        if (!bad && fr && !strcmp(k.method, "l4q")) {
            long long n = 0;
            double agree = code_agreement(&k, &f, fr->data, &n);
            CHECK(agree == 1.0, "cuda_e2e: fixture %s: the host code reconstruction gives the CPU's %lld codes (%.6f)",
                  base, n, agree);
        }
        free(k.proj);
        free(k.bases);
        fix_free(&f);
    }
}

static int skip_or_fail(int require, const char *why) {
    if (require) { printf("FAIL: cuda_e2e: %s\n", why); return 1; }
    printf("SKIP: cuda_e2e: %s\n", why);
    return 0;
}

int main(int argc, char **argv) {
    int require = 0, quick = 0;
    const char *plugin = getenv("L4Q_CUDA_PLUGIN"), *dir = "build/cudafix/e2e";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--require")) require = 1;
        else if (!strcmp(argv[i], "--quick")) quick = 1;
        else if (!strcmp(argv[i], "--plugin") && i + 1 < argc) plugin = argv[++i];
        else if (argv[i][0] == '-') { fprintf(stderr, "usage: %s [--require] [--quick] [--plugin PATH] [DIR]\n", argv[0]); return 2; }
        else dir = argv[i];
    }
    char path[2048], why[1100];
    if (!plugin) { // beside the binary: build/tests/x → build/libl4q_cuda.so
        char self[1024];
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        self[n > 0 ? n : 0] = 0;
        char *sl = strrchr(self, '/');
        if (sl) *sl = 0;
        snprintf(path, sizeof path, "%s/../libl4q_cuda.so", self);
        plugin = path;
    }
    void *h = dlopen(plugin, RTLD_NOW | RTLD_LOCAL);
    if (!h) { snprintf(why, sizeof why, "no plugin (%s): run make cuda", dlerror()); return skip_or_fail(require, why); }
    const DeviceOps *ops = dlsym(h, "l4q_cuda_ops");
    if (!ops || ops->version != DEVICE_OPS_VERSION || ops->struct_size != sizeof(DeviceOps)) {
        printf("FAIL: cuda_e2e: %s: no l4q_cuda_ops of version %d\n", plugin, DEVICE_OPS_VERSION);
        return 1;
    }
    char name[256] = "", err[512] = "";
    // What needs no device: the method/precision table and its refusals.
    const char *yes[] = {"none", "lora", "l4q", "qlora", "rtn_lora", "gptq_lora", "qa_lora", "qat_lora", "lsq"};
    int all = 1;
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++)
        all &= ops->supports(yes[i], DEVPREC_FP32, err, sizeof err) && ops->supports(yes[i], DEVPREC_BF16, err, sizeof err);
    CHECK(all, "cuda_e2e: supports() accepts the nine methods in fp32 and bf16");
    err[0] = 0;
    CHECK(!ops->supports("full", DEVPREC_FP32, err, sizeof err) && strstr(err, "full") && strstr(err, "CUDA"),
          "cuda_e2e: supports(full) refuses naming it (%s)", err);
    err[0] = 0;
    CHECK(!ops->supports("lora", 7, err, sizeof err) && strstr(err, "precision"), "cuda_e2e: supports(precision 7) refuses (%s)", err);
    err[0] = 0;
    DIR *dd = opendir(dir);
    char files[16][1024];
    int nf = 0;
    struct dirent *de;
    while (dd && (de = readdir(dd)) && nf < 16) {
        size_t L = strlen(de->d_name);
        if (L < 5 || strcmp(de->d_name + L - 4, ".bin")) continue;
        if (quick && strcmp(de->d_name, "s260k_lora.bin") && strcmp(de->d_name, "s260k_l4q.bin")) continue;
        snprintf(files[nf++], sizeof files[0], "%s/%s", dir, de->d_name);
    }
    if (dd) closedir(dd);
    if (!nf) { // say the device first: without one (CI, build machines) fixtures would not help
        if (ops->init(0, name, sizeof name, err, sizeof err))
            snprintf(why, sizeof why, "no CUDA device (%.500s); no fixtures either (make cuda-fixtures)", err);
        else snprintf(why, sizeof why, "no fixtures in %.900s (run make cuda-fixtures)", dir);
        return skip_or_fail(require, why) || g_fail;
    }
    qsort(files, nf, sizeof files[0], (int (*)(const void *, const void *))strcmp);
    if (!quick) fixtures_selfcheck(files, nf);
    if (ops->init(0, name, sizeof name, err, sizeof err)) {
        // model_new without a device fails with one line, not a crash.
        DevModelDesc none;
        memset(&none, 0, sizeof none);
        char e2[512] = "";
        DevModel *m = ops->model_new(&none, e2, sizeof e2);
        CHECK(!m && e2[0] && !strchr(e2, '\n'), "cuda_e2e: model_new without a device fails cleanly (%s)", e2);
        if (m) ops->model_free(m);
        // No device is not a failure of this build (issue 23: SKIP naming why), even with --require
        // the caller sees the line.
        printf("%s: cuda_e2e: no CUDA device (%s)\n", require ? "FAIL" : "SKIP", err);
        return require || g_fail;
    }
    printf("cuda_e2e: device %s\n", name);
    if (g_fail) return 1;
    for (int i = 0; i < nf; i++) check_case(ops, files[i], quick);
    printf("cuda_e2e: %d passed, %d failed\n", g_pass, g_fail);
    return g_fail ? 1 : 0;
}
