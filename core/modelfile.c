// modelfile.c — see modelfile.h.
#include "modelfile.h"
#include "tokenizer.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

int proj_dims(const Config *c, int p, int *out, int *in) {
    int kv_dim = c->dim / c->n_heads * c->n_kv_heads;
    int o, i;
    switch (p) {
    case P_Q: case P_O: o = c->dim; i = c->dim; break;
    case P_K: case P_V: o = kv_dim; i = c->dim; break;
    case P_GATE: case P_UP: o = c->hidden_dim; i = c->dim; break;
    case P_DOWN: o = c->dim; i = c->hidden_dim; break;
    case P_HEAD: o = c->vocab_size; i = c->dim; break;
    default: *out = *in = 0; return -1;
    }
    *out = o; *in = i;
    return 0;
}

// Bounds are generous (well past LLaMA-70B) but keep every size product far from
// overflowing size_t, so the size arithmetic below needs no overflow checks.
void config_validate(const char *path, const char *what, const Config *c) {
    const struct { const char *name; int v, max; } f[] = {
        {"dim", c->dim, 1 << 16}, {"hidden_dim", c->hidden_dim, 1 << 20},
        {"n_layers", c->n_layers, 4096}, {"n_heads", c->n_heads, 1024},
        {"n_kv_heads", c->n_kv_heads, 1024}, {"vocab_size", c->vocab_size, 1 << 24},
        {"seq_len", c->seq_len, 1 << 24},
    };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (f[i].v <= 0 || f[i].v > f[i].max)
            die_input("%s: %s: %s = %d is out of range (1..%d)", path, what, f[i].name, f[i].v, f[i].max);
    if (c->dim % c->n_heads)
        die_input("%s: %s: dim %d is not a multiple of n_heads %d", path, what, c->dim, c->n_heads);
    if (c->n_heads % c->n_kv_heads)
        die_input("%s: %s: n_heads %d is not a multiple of n_kv_heads %d", path, what, c->n_heads, c->n_kv_heads);
    if ((c->dim / c->n_heads) % 2) // RoPE rotates pairs of the head dimension
        die_input("%s: %s: head size %d is odd", path, what, c->dim / c->n_heads);
    if (!(c->norm_eps > 0 && c->norm_eps < 1))
        die_input("%s: %s: norm_eps %g is out of range (0, 1)", path, what, c->norm_eps);
    if (!(c->rope_theta > 1 && isfinite(c->rope_theta)))
        die_input("%s: %s: rope_theta %g is out of range (> 1)", path, what, c->rope_theta);
}

ModelFile *mf_alloc(const char *path, const Config *c) {
    ModelFile *mf = xcalloc(1, sizeof *mf);
    mf->c = *c;
    snprintf(mf->path, sizeof mf->path, "%s", path);
    mf->w = xcalloc((size_t)c->n_layers * N_LAYER_PROJ, sizeof *mf->w);
    return mf;
}

ModelFile *model_file_random(const Config *c, float std, uint64_t seed) {
    ModelFile *mf = mf_alloc("random", c);
    snprintf(mf->format, sizeof mf->format, "random");
    int L = c->n_layers, D = c->dim;
    size_t n = (size_t)c->vocab_size * D * (c->shared_classifier ? 1 : 2) + (size_t)(2 * L + 1) * D;
    for (int p = 0; p < N_LAYER_PROJ; p++) { int o, i; proj_dims(c, p, &o, &i); n += (size_t)L * o * i; }
    float *blob = xmalloc(n * sizeof(float)), *cur = blob;
    Rng r;
    rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++) blob[i] = std * rng_normal(&r);
    mf->tok_emb = cur; cur += (size_t)c->vocab_size * D;
    mf->rms_att = cur; cur += (size_t)L * D;
    mf->rms_ffn = cur; cur += (size_t)L * D;
    mf->rms_final = cur; cur += D;
    for (float *p = mf->rms_att; p < cur; p++) *p = 1.0f + 0.5f * *p;
    for (int l = 0; l < L; l++)
        for (int p = 0; p < N_LAYER_PROJ; p++) {
            int o, i;
            proj_dims(c, p, &o, &i);
            mf->w[l * N_LAYER_PROJ + p] = cur; cur += (size_t)o * i;
        }
    if (!c->shared_classifier) mf->wcls = cur;
    mf->blob = blob;
    mf->file_bytes = n * sizeof(float);
    return mf;
}

void mf_set_w16(ModelFile *mf, int i, int dtype, const uint16_t *p) {
    int n = mf->c.n_layers * N_LAYER_PROJ;
    if (!mf->w16) { mf->w16 = xcalloc(n, sizeof *mf->w16); mf->w16_dt = xcalloc(n, 1); }
    mf->w[i] = NULL;
    mf->w16[i] = p;
    mf->w16_dt[i] = (uint8_t)dtype;
}

void mf_widen(ModelFile *mf) {
    int nt = mf_tensor_count(&mf->c);
    MfTensor *t = xmalloc(sizeof *t * nt);
    mf_tensors(mf, t, nt);
    size_t total = 0;
    for (int k = 0; k < nt; k++) if (t[k].half) total += (size_t)t[k].rows * t[k].cols;
    if (total) {
        if (mf->wide_blob) die_internal("%s: mf_widen called twice with 16-bit tensors left", mf->path);
        float *cur = mf->wide_blob = xmalloc_aligned(total * sizeof(float));
        for (int k = 0, i = 0; k < nt; k++) {
            size_t n = (size_t)t[k].rows * t[k].cols;
            if (t[k].half) half_to_f32(t[k].dtype, t[k].half, cur, n);
            if (!strcmp(t[k].name, "tok_emb")) { if (t[k].half) mf->tok_emb = cur, mf->tok_emb16 = NULL; }
            else if (!strcmp(t[k].name, "head")) { if (t[k].half) mf->wcls = cur, mf->wcls16 = NULL; }
            else if (!strncmp(t[k].name, "layers.", 7)) { if (t[k].half) mf->w[i] = cur, mf->w16[i] = NULL; i++; }
            if (t[k].half) cur += n;
        }
    }
    free(t);
}

void model_file_free(ModelFile *mf) {
    if (!mf) return;
    free(mf->w16); free(mf->w16_dt); free(mf->blob16); free(mf->wide_blob);
    if (mf->hold_free) mf->hold_free(mf->hold);
    if (mf->dep) {
        for (int i = 0; i < mf->c.n_layers * N_LAYER_PROJ; i++)
            if (mf->dep[i]) { deploy_free(mf->dep[i]); free(mf->dep[i]); }
        free(mf->dep);
    }
    if (mf->tok) tok_free(mf->tok);
    free(mf->w);
    free(mf->src_type);
    free(mf->blob);
    free(mf);
}
void model_file_release(void *mf) { model_file_free(mf); }

int mf_tensor_count(const Config *c) { return 4 + c->n_layers * N_LAYER_PROJ + (c->shared_classifier ? 0 : 1); }

int mf_tensors(const ModelFile *mf, MfTensor *t, int max) {
    const Config *c = &mf->c;
    int n = 0;
#define ADD(nm, ptr, dp, r, cl) do { if (n < max) { memset(&t[n], 0, sizeof t[n]); snprintf(t[n].name, sizeof t[n].name, "%s", nm); \
    t[n].data = (ptr); t[n].dep = (dp); t[n].rows = (r); t[n].cols = (cl); } n++; } while (0)
#define HALF(h, dt) do { if (n - 1 < max && (h)) { t[n - 1].half = (h); t[n - 1].dtype = (dt); } } while (0)
    ADD("tok_emb", mf->tok_emb, NULL, c->vocab_size, c->dim);
    HALF(mf->tok_emb16, mf->tok_emb_dt);
    ADD("rms_att", mf->rms_att, NULL, c->n_layers, c->dim);
    ADD("rms_ffn", mf->rms_ffn, NULL, c->n_layers, c->dim);
    ADD("rms_final", mf->rms_final, NULL, 1, c->dim);
    char nm[48];
    for (int l = 0; l < c->n_layers; l++)
        for (int p = 0; p < N_LAYER_PROJ; p++) {
            int o, i;
            proj_dims(c, p, &o, &i);
            snprintf(nm, sizeof nm, "layers.%d.%s", l, PROJ_NAMES[p]);
            const Deploy *d = mf->dep ? mf->dep[l * N_LAYER_PROJ + p] : NULL;
            ADD(nm, d ? NULL : mf->w[l * N_LAYER_PROJ + p], d, o, i);
            if (mf->w16) HALF(mf->w16[l * N_LAYER_PROJ + p], mf->w16_dt[l * N_LAYER_PROJ + p]);
        }
    if (!c->shared_classifier) { ADD("head", mf->wcls, NULL, c->vocab_size, c->dim); HALF(mf->wcls16, mf->wcls_dt); }
#undef HALF
#undef ADD
    return n < max ? n : max;
}

void mf_check_finite(const ModelFile *mf) {
    int nt = mf_tensor_count(&mf->c);
    MfTensor *t = hold(xmalloc(sizeof *t * nt), free);
    mf_tensors(mf, t, nt);
    for (int k = 0; k < nt; k++) {
        size_t n = (size_t)t[k].rows * t[k].cols;
        if (t[k].half) {
            size_t j = half_first_nonfinite(t[k].dtype, t[k].half, n);
            if (j < n)
                die_input("%s: tensor %s (%s) holds a non-finite value at element %zu (row %zu)", mf->path,
                          t[k].name, dtype_name(t[k].dtype), j, j / (size_t)t[k].cols);
            continue;
        }
        if (!t[k].data) {
            if (t[k].dep) continue; // deployed forms are validated by their reader
            die_input("%s: tensor %s is missing", mf->path, t[k].name);
        }
        for (size_t j = 0; j < n; j++) {
            float v = t[k].data[j];
            if (!isfinite(v))
                die_input("%s: tensor %s holds a non-finite value (%g) at element %zu (row %zu)",
                          mf->path, t[k].name, (double)v, j, j / (size_t)t[k].cols);
            if (fabsf(v) > MF_WEIGHT_BOUND)
                die_input("%s: tensor %s holds %g at element %zu (row %zu), beyond any trained weight "
                          "(|w| <= %g, the float16 range): the file is corrupt",
                          mf->path, t[k].name, (double)v, j, j / (size_t)t[k].cols, (double)MF_WEIGHT_BOUND);
        }
    }
    hold_drop(t);
    free(t);
}
