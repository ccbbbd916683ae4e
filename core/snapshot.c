// snapshot.c — see snapshot.h.
#include "snapshot.h"
#include "checkpoint.h"
#include "util.h"
#include <stdlib.h>
#include <string.h>

// The head as one fp32 V×dim matrix, or NULL when it is the untouched (frozen) weight.
// A trained head (LoRA, full, quantized) is folded: deployed codes are dequantized and a
// LoRA side branch merged, so the snapshot's head reproduces the trained model exactly.
static float *head_folded(Model *M) {
    Linear *h = M->head;
    if (!h || !h->ops->deploy || !strcmp(h->ops->name, "none")) return NULL;
    Deploy d;
    h->ops->deploy(h, &d);
    if (d.kind == DEP_NF4)
        die_input("head: method '%s' deploys the head as NF4, which a deployed model stores only for projections",
                  M->method.name);
    float *W = deploy_dequant(&d);
    deploy_free(&d);
    return W;
}

ModelFile *model_deployed(Model *M) {
    const Config *c = &M->c;
    int L = c->n_layers, D = c->dim, V = c->vocab_size;
    ModelFile *mf = mf_alloc(M->mf ? M->mf->path : "model", c);
    snprintf(mf->format, sizeof mf->format, "deployed");
    snprintf(mf->method, sizeof mf->method, "%s", M->mf && M->mf->method[0] && !M->method.name[0] ? M->mf->method : M->method.name);
    snprintf(mf->form, sizeof mf->form, "%s", L > 0 ? M->lin[0]->form : "fp32");
    mf->dep = xcalloc((size_t)L * N_LAYER_PROJ, sizeof *mf->dep);
    for (int i = 0; i < L * N_LAYER_PROJ; i++) {
        Linear *lin = M->lin[i];
        if (!lin->ops->deploy) die_input("method '%s' of %s cannot be deployed", lin->ops->name, lin->name);
        mf->dep[i] = xcalloc(1, sizeof(Deploy));
        lin->ops->deploy(lin, mf->dep[i]);
        if (mf->dep[i]->out != lin->out || mf->dep[i]->in != lin->in)
            die_internal("deploy of %s has shape %dx%d, expected %dx%d", lin->name, mf->dep[i]->out, mf->dep[i]->in,
                         lin->out, lin->in);
    }
    float *head = head_folded(M);
    const Param *cls = head || c->shared_classifier ? NULL : &M->wcls;
    mf->c.shared_classifier = head || cls ? 0 : 1;
    size_t ne = (size_t)V * D + 2 * (size_t)L * D + D + (head || cls ? (size_t)V * D : 0);
    float *blob = xmalloc_aligned(ne * sizeof(float));
    mf->blob = blob;
    // Embeddings as fp32 (param_rows widens 16-bit ones): the deployed form's layout.
    mf->tok_emb = blob; param_rows(&M->tok_emb, 0, V, blob); blob += (size_t)V * D;
    mf->rms_att = blob; memcpy(blob, M->rms_att.data, (size_t)L * D * sizeof(float)); blob += (size_t)L * D;
    mf->rms_ffn = blob; memcpy(blob, M->rms_ffn.data, (size_t)L * D * sizeof(float)); blob += (size_t)L * D;
    mf->rms_final = blob; memcpy(blob, M->rms_final.data, (size_t)D * sizeof(float)); blob += D;
    if (head) { mf->wcls = blob; memcpy(blob, head, (size_t)V * D * sizeof(float)); }
    else if (cls) { mf->wcls = blob; param_rows(cls, 0, V, blob); }
    free(head);
    return mf;
}

size_t model_deployed_bytes(const Model *M) {
    const Config *c = &M->c;
    size_t V = (size_t)c->vocab_size, D = (size_t)c->dim, L = (size_t)c->n_layers, b = 0;
    for (size_t i = 0; i < L * N_LAYER_PROJ; i++)
        if (!strcmp(M->lin[i]->form, "fp32")) b += (size_t)M->lin[i]->out * (size_t)M->lin[i]->in * sizeof(float);
    return b + (V * D + 2 * L * D + D + (c->shared_classifier ? 0 : V * D)) * sizeof(float);
}
