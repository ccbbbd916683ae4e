// cmd_info.c — `l4q info FILE` (what a checkpoint holds) and `l4q info --system` (what the
// machine and the BLAS build deliver; README "Build and test" explains why the OpenBLAS core matters).
#include "bf16mm.h"
#include "checkpoint.h"
#include "cli.h"
#include "ggml_quants.h"
#include "tokenizer.h"
#include "util.h"
#include <cJSON.h>
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

// cJSON prints a float widened to double with 17 digits (1e-5f → 9.9999997473787516e-06);
// the shortest decimal that reads back as the same float is what a reader expects.
static cJSON *json_float(float f) {
    char s[32];
    for (int prec = 6; prec <= 9; prec++) {
        snprintf(s, sizeof s, "%.*g", prec, (double)f);
        if (strtof(s, NULL) == f) break;
    }
    return cJSON_CreateNumber(strtod(s, NULL));
}

static void print_json(cJSON *o) {
    char *s = cJSON_PrintUnformatted(o);
    if (!s) die_internal("info: JSON serialisation failed");
    puts(s);
    free(s);
    cJSON_Delete(o);
}

// Bytes and bits/weight of a deployed projection, computed from the Deploy fields alone so
// every deployed kind (and future ones using the same fields) is accounted the same way.
typedef struct { size_t weight_bytes, lora_bytes; double bpw; char form[48]; } DepStat;
static DepStat deploy_stat(const Deploy *d) {
    DepStat s = {0};
    size_t n = (size_t)d->out * d->in;
    switch (d->kind) {
    case DEP_FP32:
        s.weight_bytes = n * 4;
        snprintf(s.form, sizeof s.form, "fp32");
        break;
    case DEP_UNIFORM: {
        size_t groups = d->group_size > 0 ? (size_t)(d->in + d->group_size - 1) / d->group_size : 1;
        size_t per = (size_t)d->out * groups * 4;
        s.weight_bytes = d->codes_bytes + (d->scale ? per : 0) + (d->offset ? per : 0);
        snprintf(s.form, sizeof s.form, "int%d g%d%s", d->bits, d->group_size, d->offset ? "" : " sym");
        break;
    }
    case DEP_F16:
    case DEP_BF16:
        s.weight_bytes = n * 2;
        snprintf(s.form, sizeof s.form, "%s", d->kind == DEP_BF16 ? "bf16" : "f16");
        break;
    case DEP_NF4: {
        size_t blocks = (n + 63) / 64, sblocks = (blocks + 255) / 256;
        s.weight_bytes = d->codes_bytes + (d->absmax_q ? blocks : 0) + (d->absmax_scale ? sblocks * 4 : 0) + 4;
        snprintf(s.form, sizeof s.form, "nf4 dq");
        break;
    }
    default:
        snprintf(s.form, sizeof s.form, "kind %d", (int)d->kind);
    }
    if (d->lora_A && d->lora_B && d->rank > 0) {
        s.lora_bytes = (size_t)d->rank * (d->in + d->out) * 4;
        size_t l = strlen(s.form);
        snprintf(s.form + l, sizeof s.form - l, " +lora r%d", d->rank);
    }
    s.bpw = n ? 8.0 * (double)s.weight_bytes / (double)n : 0;
    return s;
}

// A tensor held as fp32: its stored type, bytes and bits/weight in the file (a GGUF file's
// ggml type, e.g. q4_1 at 5 bits/weight; every other format stores it as f32).
// A tensor not in a deployed form: its type as stored in the file (a GGUF block type is
// shown as such even though it is held dequantized), else as held (f32, f16, bf16).
static DepStat stored_stat(const ModelFile *mf, int k, size_t n, int dtype) {
    DepStat s = {n * dtype_bytes(dtype), 0, 8.0 * (double)dtype_bytes(dtype), ""};
    snprintf(s.form, sizeof s.form, "%s", dtype_name(dtype));
    const char *name = mf->src_type ? gq_type_name(mf->src_type[k]) : NULL;
    if (name && gq_nbytes(mf->src_type[k], n)) {
        s.weight_bytes = gq_nbytes(mf->src_type[k], n);
        s.bpw = 8.0 * (double)s.weight_bytes / (double)n;
        for (int i = 0; name[i] && i < 47; i++) s.form[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] - 'A' + 'a' : name[i]), s.form[i + 1] = 0;
    }
    return s;
}

static void human(char *out, size_t n, double bytes) {
    const char *u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int i = 0;
    while (bytes >= 1024 && i < 4) { bytes /= 1024; i++; }
    snprintf(out, n, i ? "%.2f %s" : "%.0f %s", bytes, u[i]);
}

static int info_model(const char *path, int json) {
    ModelFile *mf = model_file_load(path);
    const Config *c = &mf->c;
    int nt = mf_tensor_count(c);
    MfTensor *t = xmalloc(sizeof *t * nt);
    mf_tensors(mf, t, nt);
    size_t params = 0, bytes = 0, qparams = 0, qbytes = 0, lora = 0;
    DepStat *ds = xcalloc(nt, sizeof *ds);
    for (int k = 0; k < nt; k++) {
        size_t n = (size_t)t[k].rows * t[k].cols;
        params += n;
        if (t[k].dep) {
            ds[k] = deploy_stat(t[k].dep);
            bytes += ds[k].weight_bytes + ds[k].lora_bytes;
            qparams += n; qbytes += ds[k].weight_bytes; lora += ds[k].lora_bytes;
        } else {
            bytes += n * dtype_bytes(t[k].dtype);
            ds[k] = stored_stat(mf, k, n, t[k].dtype);
        }
    }
    if (json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "path", mf->path);
        cJSON_AddStringToObject(o, "format", mf->format);
        cJSON_AddNumberToObject(o, "file_bytes", (double)mf->file_bytes);
        cJSON *cf = cJSON_AddObjectToObject(o, "config");
        cJSON_AddNumberToObject(cf, "dim", c->dim);
        cJSON_AddNumberToObject(cf, "hidden_dim", c->hidden_dim);
        cJSON_AddNumberToObject(cf, "n_layers", c->n_layers);
        cJSON_AddNumberToObject(cf, "n_heads", c->n_heads);
        cJSON_AddNumberToObject(cf, "n_kv_heads", c->n_kv_heads);
        cJSON_AddNumberToObject(cf, "head_size", c->dim / c->n_heads);
        cJSON_AddNumberToObject(cf, "vocab_size", c->vocab_size);
        cJSON_AddNumberToObject(cf, "seq_len", c->seq_len);
        cJSON_AddBoolToObject(cf, "shared_classifier", c->shared_classifier);
        cJSON_AddItemToObject(cf, "norm_eps", json_float(c->norm_eps));
        cJSON_AddItemToObject(cf, "rope_theta", json_float(c->rope_theta));
        if (c->rope_factor > 0) {
            cJSON *rs = cJSON_AddObjectToObject(cf, "rope_scaling");
            cJSON_AddStringToObject(rs, "rope_type", "llama3");
            cJSON_AddItemToObject(rs, "factor", json_float(c->rope_factor));
            cJSON_AddItemToObject(rs, "low_freq_factor", json_float(c->rope_low_freq_factor));
            cJSON_AddItemToObject(rs, "high_freq_factor", json_float(c->rope_high_freq_factor));
            cJSON_AddItemToObject(rs, "original_max_position_embeddings", json_float(c->rope_original_max_pos));
        }
        cJSON_AddNumberToObject(o, "params", (double)params);
        cJSON_AddNumberToObject(o, "weight_bytes", (double)bytes);
        if (qparams) {
            cJSON_AddNumberToObject(o, "quantized_params", (double)qparams);
            cJSON_AddNumberToObject(o, "quantized_bytes", (double)qbytes);
            cJSON_AddNumberToObject(o, "quantized_bits_per_weight", 8.0 * qbytes / qparams);
            cJSON_AddNumberToObject(o, "lora_bytes", (double)lora);
        }
        cJSON_AddBoolToObject(o, "embedded_tokenizer", mf->tok != NULL);
        if (mf->method[0]) cJSON_AddStringToObject(o, "method", mf->method);
        if (mf->form[0]) cJSON_AddStringToObject(o, "form", mf->form);
        cJSON *arr = cJSON_AddArrayToObject(o, "tensors");
        for (int k = 0; k < nt; k++) {
            cJSON *e = cJSON_CreateObject();
            cJSON_AddStringToObject(e, "name", t[k].name);
            int shape[2] = {t[k].rows, t[k].cols};
            cJSON_AddItemToObject(e, "shape", cJSON_CreateIntArray(shape, 2));
            cJSON_AddStringToObject(e, "dtype", ds[k].form);
            cJSON_AddNumberToObject(e, "bytes", (double)(ds[k].weight_bytes + ds[k].lora_bytes));
            cJSON_AddNumberToObject(e, "bits_per_weight", ds[k].bpw);
            cJSON_AddItemToArray(arr, e);
        }
        print_json(o);
    } else {
        char fb[32], wb[32];
        human(fb, sizeof fb, (double)mf->file_bytes);
        human(wb, sizeof wb, (double)bytes);
        printf("file          %s\n", mf->path);
        printf("format        %s\n", mf->format);
        printf("file size     %zu bytes (%s)\n", mf->file_bytes, fb);
        printf("architecture  llama: dim %d, hidden %d, layers %d, heads %d, kv heads %d (head size %d), vocab %d, seq_len %d\n",
               c->dim, c->hidden_dim, c->n_layers, c->n_heads, c->n_kv_heads, c->dim / c->n_heads, c->vocab_size, c->seq_len);
        printf("classifier    %s\n", c->shared_classifier ? "shared with the token embedding" : "separate head");
        printf("norm eps      %g\nrope theta    %g\n", (double)c->norm_eps, (double)c->rope_theta);
        if (c->rope_factor > 0)
            printf("rope scaling  llama3: factor %g, low/high freq factor %g/%g, original context %g\n", (double)c->rope_factor,
                   (double)c->rope_low_freq_factor, (double)c->rope_high_freq_factor, (double)c->rope_original_max_pos);
        printf("parameters    %zu (%.3f M)\n", params, params / 1e6);
        printf("weights       %zu bytes (%s) as held in memory\n", bytes, wb);
        if (qparams)
            printf("quantized     %zu weights in %zu bytes: %.3f bits/weight (+%zu bytes LoRA branch)\n",
                   qparams, qbytes, 8.0 * qbytes / qparams, lora);
        printf("tokenizer     %s\n", mf->tok ? "embedded" : "none (pass --tokenizer)");
        if (mf->method[0]) printf("method        %s\n", mf->method);
        if (mf->form[0]) printf("form          %s\n", mf->form);
        printf("\n%-20s %-14s %-20s %12s %8s\n", "tensor", "shape", "dtype/form", "bytes", "bits/w");
        for (int k = 0; k < nt; k++) {
            char shape[32];
            snprintf(shape, sizeof shape, "%dx%d", t[k].rows, t[k].cols);
            printf("%-20s %-14s %-20s %12zu %8.3f\n", t[k].name, shape, ds[k].form, ds[k].weight_bytes + ds[k].lora_bytes, ds[k].bpw);
        }
    }
    free(ds);
    free(t);
    model_file_free(mf);
    return 0;
}

// Best-of-3 single-precision GEMM rate on an n³ product after one warm-up (the first call
// pays for thread start-up and page faults).
static double sgemm_gflops(int n) {
    size_t nn = (size_t)n * n;
    float *a = xmalloc_aligned(nn * 4), *b = xmalloc_aligned(nn * 4), *c = xmalloc_aligned(nn * 4);
    Rng r; rng_seed(&r, 1);
    for (size_t i = 0; i < nn; i++) { a[i] = rng_uniform(&r) - 0.5f; b[i] = rng_uniform(&r) - 0.5f; }
    double best = 1e30;
    for (int rep = 0; rep < 4; rep++) {
        double t0 = now_sec();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
        double dt = now_sec() - t0;
        if (rep > 0 && dt < best) best = dt;
    }
    // A wrong kernel is worse than a slow one: spot-check a few entries against a dot product.
    for (int k = 0; k < 4; k++) {
        int i = (int)(rng_u64(&r) % n), j = (int)(rng_u64(&r) % n);
        double s = 0;
        for (int p = 0; p < n; p++) s += (double)a[(size_t)i * n + p] * b[(size_t)p * n + j];
        if (fabs(s - c[(size_t)i * n + j]) > 1e-3 * (1 + fabs(s)))
            die_internal("info --system: sgemm result wrong at (%d,%d): %g vs %g", i, j, (double)c[(size_t)i * n + j], s);
    }
    free(a); free(b); free(c);
    return 2.0 * n * n * (double)n / best / 1e9;
}


// The sgemm rate of OpenBLAS's best core for this CPU, measured by this binary in a child
// process (OpenBLAS picks its kernels once, when it loads); 0 if that failed.
static double best_core_gflops(const char *core) {
    char exe[4096], cmd[4300];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return 0;
    exe[n] = 0;
    snprintf(cmd, sizeof cmd, "OPENBLAS_CORETYPE='%s' '%s' info --system --json --threads %d 2>/dev/null", core, exe, threads_count());
    FILE *f = popen(cmd, "r");
    if (!f) return 0;
    char buf[4096];
    size_t len = fread(buf, 1, sizeof buf - 1, f);
    buf[len] = 0;
    pclose(f);
    cJSON *o = cJSON_Parse(buf);
    const cJSON *g = cJSON_GetObjectItemCaseSensitive(o, "sgemm_gflops");
    double v = cJSON_IsNumber(g) ? g->valuedouble : 0;
    cJSON_Delete(o);
    return v;
}

static int info_system(int json) {
    char cpu[256];
    cpu_model_name(cpu, sizeof cpu);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    const char *corename = openblas_get_corename(), *config = openblas_get_config();
    const char *env = getenv("OPENBLAS_CORETYPE");
    __builtin_cpu_init();
    int avx512 = __builtin_cpu_supports("avx512f"), bf16 = bf16mm_cpu_supported();
    double gf = sgemm_gflops(1024);
    const char *best = blas_best_core();
    int older = blas_core_pinned_older(NULL);
    double gbest = older ? best_core_gflops(best) : 0;
    if (json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "cpu", cpu);
        cJSON_AddNumberToObject(o, "cores", (double)cores);
        cJSON_AddNumberToObject(o, "threads", threads_count());
        cJSON_AddBoolToObject(o, "avx512f", avx512);
        cJSON_AddBoolToObject(o, "bf16_dot", bf16);
        cJSON_AddStringToObject(o, "openblas_core", corename ? corename : "");
        cJSON_AddStringToObject(o, "openblas_config", config ? config : "");
        if (env) cJSON_AddStringToObject(o, "openblas_coretype_env", env);
        else cJSON_AddNullToObject(o, "openblas_coretype_env");
        cJSON_AddNumberToObject(o, "sgemm_n", 1024);
        cJSON_AddNumberToObject(o, "sgemm_gflops", round(gf * 10) / 10);
        cJSON_AddStringToObject(o, "openblas_best_core", best ? best : "");
        cJSON_AddBoolToObject(o, "openblas_core_pinned_older", older);
        if (older) cJSON_AddNumberToObject(o, "sgemm_gflops_best_core", round(gbest * 10) / 10);
        print_json(o);
    } else {
        printf("cpu                %s\n", cpu);
        printf("cores              %ld\n", cores);
        printf("threads in use     %d\n", threads_count());
        printf("avx512f            %s\n", avx512 ? "yes" : "no");
        printf("bf16 dot products  %s\n", bf16 ? "yes (train.precision: bf16 available)" : "no (AVX512-BF16 missing: train.precision: bf16 refused)");
        printf("OpenBLAS core      %s\n", corename ? corename : "?");
        printf("OpenBLAS config    %s\n", config ? config : "?");
        printf("OPENBLAS_CORETYPE  %s\n", env ? env : "(unset)");
        printf("sgemm 1024^3       %.1f GFLOP/s (best of 3 after warm-up)\n", gf);
        if (older)
            printf("sgemm 1024^3       %.1f GFLOP/s with OPENBLAS_CORETYPE=%s, this CPU's best core (the setting %s is kept)\n",
                   gbest, best, env);
    }
    return 0;
}

int cmd_info(int argc, char **argv) {
    Flag flags[] = {{.name = "json"}, {.name = "system"}};
    Args a;
    args_parse(&a, flags, 2, argc, argv, "info");
    int json = arg_flag(&a, "json");
    if (arg_flag(&a, "system")) {
        if (a.npos) die_input("info: --system takes no FILE argument");
        return info_system(json);
    }
    if (a.npos != 1) die_input("info: expected one FILE argument (or --system); usage: l4q info FILE | --system [--json]");
    return info_model(a.pos[0], json);
}
