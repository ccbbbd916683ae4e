// hf_model.c — Hugging Face LLaMA/Mistral model directories: config.json (LlamaForCausalLM,
// MistralForCausalLM) and safetensors weights (one file or shards with an index), placed
// into a ModelFile. Every config key is either understood, known not to change the
// forward pass, or an error naming it: an unrecognised setting must never give a silently
// different model.
//
// q/k rows: HF's conversion script (convert_llama_weights_to_hf.py) permutes Meta's
// interleaved-pair rotary layout into rotate-half order, per head:
//   w.view(n_heads, hs/2, 2, in).transpose(1, 2).reshape(out, in)
// so llama2.c row h·hs + 2i + j is HF row h·hs + j·hs/2 + i (hf_rope_row); the reader
// gathers rows back into the interleaved layout core/ops.c's RoPE uses.
#include "checkpoint.h"
#include "safetensors.h"
#include "tokenizer.h"
#include <cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int hf_is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int hf_rope_row(int r, int hs) {
    int h = r / hs, w = r % hs;
    return h * hs + (w % 2) * (hs / 2) + w / 2;
}

// Keys that do not change the model's forward pass (bookkeeping, token ids, generation
// defaults of PretrainedConfig).
static const char *const HARMLESS[] = {
    "_name_or_path", "transformers_version", "torch_dtype", "use_cache", "bos_token_id",
    "eos_token_id", "pad_token_id", "sep_token_id", "decoder_start_token_id", "initializer_range",
    "output_attentions", "output_hidden_states", "return_dict", "use_return_dict", "torchscript",
    "use_bfloat16", "tokenizer_class", "id2label", "label2id", "problem_type", "finetuning_task",
    "task_specific_params", "prefix", "max_length", "min_length", "do_sample", "early_stopping",
    "num_beams", "num_beam_groups", "diversity_penalty", "temperature", "top_k", "top_p",
    "typical_p", "repetition_penalty", "length_penalty", "no_repeat_ngram_size",
    "encoder_no_repeat_ngram_size", "bad_words_ids", "num_return_sequences", "output_scores",
    "return_dict_in_generate", "forced_bos_token_id", "forced_eos_token_id",
    "remove_invalid_values", "exponential_decay_length_penalty", "suppress_tokens",
    "begin_suppress_tokens", "chunk_size_feed_forward", "tf_legacy_loss", "_attn_implementation",
    "_attn_implementation_autoset", "is_decoder", "pretraining_tp", // pretraining_tp only splits the same products
    "model_type", "architectures", NULL};
// Keys this reader interprets.
static const char *const HANDLED[] = {
    "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
    "num_key_value_heads", "head_dim", "rms_norm_eps", "rope_theta", "rope_scaling",
    "tie_word_embeddings", "max_position_embeddings", "sliding_window", "vocab_size",
    "hidden_act", "attention_bias", "mlp_bias", "attention_dropout",
    "is_encoder_decoder", "add_cross_attention", "pruned_heads", "tie_encoder_decoder", NULL};

static int in_list(const char *const *l, const char *k) {
    for (; *l; l++) if (!strcmp(*l, k)) return 1;
    return 0;
}

typedef struct { const char *path; cJSON *root; } Cj;

static cJSON *key(const Cj *j, const char *k) {
    cJSON *v = cJSON_GetObjectItemCaseSensitive(j->root, k);
    return cJSON_IsNull(v) ? NULL : v;
}
// A positive integer; def < 0 means required.
static int key_int(const Cj *j, const char *k, int def) {
    cJSON *v = key(j, k);
    if (!v) {
        if (def < 0) die_input("%s: required key '%s' is missing", j->path, k);
        return def;
    }
    double d = cJSON_IsNumber(v) ? v->valuedouble : -1;
    if (!(d >= 1 && d <= 1 << 30 && d == floor(d))) die_input("%s: key '%s' must be a positive integer", j->path, k);
    return (int)d;
}
static double key_num(const Cj *j, cJSON *obj, const char *k, double def, int required) {
    cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, k);
    if (!v || cJSON_IsNull(v)) {
        if (required) die_input("%s: required key '%s' is missing", j->path, k);
        return def;
    }
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) die_input("%s: key '%s' must be a number", j->path, k);
    return v->valuedouble;
}
static int key_bool(const Cj *j, const char *k, int def) {
    cJSON *v = key(j, k);
    if (!v) return def;
    if (!cJSON_IsBool(v)) die_input("%s: key '%s' must be true or false", j->path, k);
    return cJSON_IsTrue(v);
}

// Llama-3.1's rope_scaling {"rope_type": "llama3", factor, low_freq_factor,
// high_freq_factor, original_max_position_embeddings}; "default" or null = none.
static void rope_scaling(const Cj *j, Config *c) {
    cJSON *rs = key(j, "rope_scaling");
    if (!rs) return;
    if (!cJSON_IsObject(rs)) die_input("%s: key 'rope_scaling' must be an object or null", j->path);
    cJSON *ty = cJSON_GetObjectItemCaseSensitive(rs, "rope_type");
    if (!ty) ty = cJSON_GetObjectItemCaseSensitive(rs, "type");
    if (!cJSON_IsString(ty)) die_input("%s: rope_scaling has no 'rope_type' string", j->path);
    if (!strcmp(ty->valuestring, "default")) return;
    if (strcmp(ty->valuestring, "llama3"))
        die_input("%s: rope_scaling.rope_type '%.40s' is not supported (only llama3)", j->path, ty->valuestring);
    for (cJSON *e = rs->child; e; e = e->next)
        if (strcmp(e->string, "rope_type") && strcmp(e->string, "type") && strcmp(e->string, "factor") &&
            strcmp(e->string, "low_freq_factor") && strcmp(e->string, "high_freq_factor") &&
            strcmp(e->string, "original_max_position_embeddings"))
            die_input("%s: rope_scaling key '%.40s' is not supported", j->path, e->string);
    c->rope_factor = (float)key_num(j, rs, "factor", 0, 1);
    c->rope_low_freq_factor = (float)key_num(j, rs, "low_freq_factor", 0, 1);
    c->rope_high_freq_factor = (float)key_num(j, rs, "high_freq_factor", 0, 1);
    c->rope_original_max_pos = (float)key_num(j, rs, "original_max_position_embeddings", 0, 1);
    if (!(c->rope_factor >= 1) || !(c->rope_low_freq_factor > 0) || !(c->rope_high_freq_factor > c->rope_low_freq_factor) ||
        !(c->rope_original_max_pos >= 1))
        die_input("%s: rope_scaling: need factor >= 1, 0 < low_freq_factor < high_freq_factor and original_max_position_embeddings >= 1", j->path);
}

static Config parse_config(const char *path, const char **arch_out) {
    size_t len, mark = hold_mark();
    char *text = hold(read_file(path, &len), free);
    Cj j = {path, hold(cJSON_ParseWithLength(text, len), json_release)};
    if (!cJSON_IsObject(j.root)) die_input("%s: not a JSON object", path);
    for (cJSON *e = j.root->child; e; e = e->next)
        if (!in_list(HARMLESS, e->string) && !in_list(HANDLED, e->string))
            die_input("%s: key '%.60s' is not supported (the harness does not know whether it changes the model)", path, e->string);

    // Architecture: architectures[0], else model_type.
    const char *arch = NULL;
    cJSON *a = key(&j, "architectures"), *mt = key(&j, "model_type");
    if (a) {
        if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != 1 || !cJSON_IsString(a->child))
            die_input("%s: key 'architectures' must list exactly one architecture", path);
        if (!strcmp(a->child->valuestring, "LlamaForCausalLM")) arch = "llama";
        else if (!strcmp(a->child->valuestring, "MistralForCausalLM")) arch = "mistral";
        else die_input("%s: architectures '%.60s' is not supported (LlamaForCausalLM, MistralForCausalLM)", path, a->child->valuestring);
    }
    if (mt) {
        if (!cJSON_IsString(mt) || (strcmp(mt->valuestring, "llama") && strcmp(mt->valuestring, "mistral")))
            die_input("%s: model_type '%.60s' is not supported (llama, mistral)", path, cJSON_IsString(mt) ? mt->valuestring : "?");
        if (arch && strcmp(arch, mt->valuestring))
            die_input("%s: model_type '%s' contradicts architectures (%s)", path, mt->valuestring, arch);
        arch = !strcmp(mt->valuestring, "llama") ? "llama" : "mistral";
    }
    if (!arch) die_input("%s: neither 'architectures' nor 'model_type' is given", path);
    *arch_out = arch;

    Config c = {0};
    c.dim = key_int(&j, "hidden_size", -1);
    c.hidden_dim = key_int(&j, "intermediate_size", -1);
    c.n_layers = key_int(&j, "num_hidden_layers", -1);
    c.n_heads = key_int(&j, "num_attention_heads", -1);
    c.n_kv_heads = key_int(&j, "num_key_value_heads", c.n_heads);
    c.vocab_size = key_int(&j, "vocab_size", -1);
    // HF's class defaults where a key may be absent.
    int mistral = !strcmp(arch, "mistral");
    c.seq_len = key_int(&j, "max_position_embeddings", mistral ? 4096 * 32 : 2048);
    c.norm_eps = (float)key_num(&j, j.root, "rms_norm_eps", 1e-6, 0);
    c.rope_theta = (float)key_num(&j, j.root, "rope_theta", 10000.0, 0);
    c.shared_classifier = key_bool(&j, "tie_word_embeddings", 0);
    if (c.dim % c.n_heads)
        die_input("%s: hidden_size %d is not a multiple of num_attention_heads %d", path, c.dim, c.n_heads);
    if (c.n_heads % c.n_kv_heads)
        die_input("%s: num_attention_heads %d is not a multiple of num_key_value_heads %d", path, c.n_heads, c.n_kv_heads);
    int hd = key_int(&j, "head_dim", c.dim / c.n_heads);
    if (hd != c.dim / c.n_heads)
        die_input("%s: head_dim %d differs from hidden_size/num_attention_heads = %d (not supported)", path, hd, c.dim / c.n_heads);
    rope_scaling(&j, &c);

    cJSON *act = key(&j, "hidden_act");
    if (act && (!cJSON_IsString(act) || strcmp(act->valuestring, "silu")))
        die_input("%s: hidden_act '%.40s' is not supported (silu)", path, cJSON_IsString(act) ? act->valuestring : "?");
    const char *must_false[] = {"attention_bias", "mlp_bias", "is_encoder_decoder", "add_cross_attention", "tie_encoder_decoder"};
    for (size_t i = 0; i < sizeof must_false / sizeof *must_false; i++)
        if (key_bool(&j, must_false[i], 0)) die_input("%s: key '%s' = true is not supported", path, must_false[i]);
    if (key_num(&j, j.root, "attention_dropout", 0, 0) != 0)
        die_input("%s: key 'attention_dropout' must be 0 (attention dropout is not implemented)", path);
    cJSON *ph = key(&j, "pruned_heads");
    if (ph && cJSON_GetArraySize(ph) > 0) die_input("%s: key 'pruned_heads' is not supported (must be empty)", path);
    cJSON *sw = key(&j, "sliding_window");
    if (sw) {
        if (!mistral) die_input("%s: key 'sliding_window' is not supported for llama", path);
        double w = cJSON_IsNumber(sw) ? sw->valuedouble : 0;
        if (!(w >= 1 && w == floor(w))) die_input("%s: key 'sliding_window' must be a positive integer or null", path);
        // Windowed attention equals full attention while a sequence fits in the window, so
        // sequences are capped there instead of attending differently.
        if (w < c.seq_len) {
            warnf("%s: sliding_window %.0f < max_position_embeddings %d: sequences are limited to %.0f tokens, "
                  "where sliding-window attention equals full attention", path, w, c.seq_len, w);
            c.seq_len = (int)w;
        }
    }
    hold_unwind(mark); // the JSON and its text
    config_validate(path, "config.json", &c);
    return c;
}

static void shape_str(const StTensor *t, char *out, size_t n) {
    size_t o = 0;
    out[0] = 0;
    for (int d = 0; d < t->ndim && o < n; d++) o += snprintf(out + o, n - o, "%s%lld", d ? "," : "", (long long)t->shape[d]);
}

// Finds `name` and checks its shape and dtype.
static StTensor *find_checked(StSet *s, const char *where, const char *name, int rows, int cols) {
    StTensor *t = st_find(s, name);
    if (!t) die_input("%s: tensor '%s' is missing", where, name);
    int ok = rows == 1 ? t->ndim == 1 && t->shape[0] == cols : t->ndim == 2 && t->shape[0] == rows && t->shape[1] == cols;
    if (!ok) {
        char sh[128];
        shape_str(t, sh, sizeof sh);
        if (rows == 1) die_input("%s: tensor '%s' has shape [%s], config.json implies [%d]", t->file, name, sh, cols);
        die_input("%s: tensor '%s' has shape [%s], config.json implies [%d,%d]", t->file, name, sh, rows, cols);
    }
    if (t->dtype == ST_OTHER)
        die_input("%s: tensor '%s' has dtype %s; only F32, F16 and BF16 are supported", t->file, name, t->dtype_name);
    t->used = 1;
    return t;
}

// Fetches `name` as rows×cols fp32 into dst; perm_hs > 0 undoes HF's q/k row permutation
// for heads of that size.
static void fetch(StSet *s, const char *where, const char *name, int rows, int cols, float *dst, int perm_hs) {
    StTensor *t = find_checked(s, where, name, rows, cols);
    for (int r = 0; r < rows; r++) {
        int src = perm_hs ? hf_rope_row(r, perm_hs) : r;
        st_to_f32(t, (size_t)src * cols, (size_t)cols, dst + (size_t)r * cols);
    }
}

// An F16/BF16 tensor stays 16-bit (core/half.h): in place in the mapping, or — for q/k,
// whose rows HF permuted — gathered into *cur16 (owned by the ModelFile). Then the mapped
// pages the gather read are dropped, so they do not sit in the process's memory twice.
// NULL when the tensor is stored as F32 (or at an odd address): the caller converts it.
static const uint16_t *keep16(StSet *s, const char *where, const char *name, int rows, int cols, int perm_hs,
                              uint16_t **cur16, int *dt) {
    StTensor *t = st_find(s, name);
    if (!t || (t->dtype != ST_F16 && t->dtype != ST_BF16) || ((uintptr_t)t->data & 1)) return NULL;
    find_checked(s, where, name, rows, cols);
    *dt = t->dtype == ST_F16 ? DT_F16 : DT_BF16;
    if (!perm_hs) return t->data;
    uint16_t *dst = *cur16;
    *cur16 += (size_t)rows * cols;
    for (int r = 0; r < rows; r++)
        memcpy(dst + (size_t)r * cols, (const uint16_t *)t->data + (size_t)hf_rope_row(r, perm_hs) * cols, (size_t)cols * 2);
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    uintptr_t a = ((uintptr_t)t->data + pg - 1) / pg * pg, e = ((uintptr_t)t->data + t->nbytes) / pg * pg;
    if (e > a) madvise((void *)a, e - a, MADV_DONTNEED); // clean file pages: re-read if ever touched again
    return dst;
}

ModelFile *hf_load(const char *dir) {
    size_t mark = hold_mark();
    char cfgp[1200], wp[1200];
    snprintf(cfgp, sizeof cfgp, "%s/config.json", dir);
    if (!file_exists(cfgp)) die_input("%s: not a Hugging Face model directory: config.json is missing", dir);
    const char *arch;
    Config c = parse_config(cfgp, &arch);
    snprintf(wp, sizeof wp, "%s/model.safetensors.index.json", dir);
    if (!file_exists(wp)) snprintf(wp, sizeof wp, "%s/model.safetensors", dir);
    if (!file_exists(wp)) {
        snprintf(cfgp, sizeof cfgp, "%s/pytorch_model.bin", dir);
        die_input("%s: no model.safetensors or model.safetensors.index.json%s", dir,
                  file_exists(cfgp) ? " (PyTorch pickle weights are not read; convert them to safetensors)" : "");
    }
    StSet *s = hold(st_open(wp), st_release);
    ModelFile *mf = mf_alloc(dir, &c);
    hold_drop(s);
    mf->hold = s; // the ModelFile's from here
    mf->hold_free = st_release;
    hold(mf, model_file_release);
    static const char *const hname[N_LAYER_PROJ] = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                                         "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"};
    int hs = c.dim / c.n_heads, dt;
    char nm[128];
    // 16-bit embeddings and projections stay 16-bit; fp32 ones (and the norms) are converted
    // into the blob, sized for exactly those.
    size_t V = c.vocab_size, D = c.dim, L = c.n_layers, total = L * D * 2 + D, total16 = 0;
    for (int l = 0; l < c.n_layers; l++)
        for (int p = 0; p < N_LAYER_PROJ; p++) {
            int o, i; proj_dims(&c, p, &o, &i);
            snprintf(nm, sizeof nm, "model.layers.%d.%s.weight", l, hname[p]);
            StTensor *t = st_find(s, nm);
            int half = t && (t->dtype == ST_F16 || t->dtype == ST_BF16) && !((uintptr_t)t->data & 1);
            if (!half) total += (size_t)o * i;
            else if (p == P_Q || p == P_K) total16 += (size_t)o * i;
        }
    uint16_t *cur16 = mf->blob16 = total16 ? xmalloc(total16 * 2) : NULL;
    if ((mf->tok_emb16 = keep16(s, wp, "model.embed_tokens.weight", c.vocab_size, c.dim, 0, &cur16, &dt))) mf->tok_emb_dt = dt;
    else total += V * D;
    if (!c.shared_classifier && (mf->wcls16 = keep16(s, wp, "lm_head.weight", c.vocab_size, c.dim, 0, &cur16, &dt))) mf->wcls_dt = dt;
    else if (!c.shared_classifier) total += V * D;
    float *cur = xmalloc_aligned(total * sizeof(float));
    mf->blob = cur;
    if (!mf->tok_emb16) {
        mf->tok_emb = cur; cur += V * D;
        fetch(s, wp, "model.embed_tokens.weight", c.vocab_size, c.dim, mf->tok_emb, 0);
    }
    mf->rms_att = cur; cur += L * D;
    mf->rms_ffn = cur; cur += L * D;
    mf->rms_final = cur; cur += D;
    fetch(s, wp, "model.norm.weight", 1, c.dim, mf->rms_final, 0);
    for (int l = 0; l < c.n_layers; l++) {
        snprintf(nm, sizeof nm, "model.layers.%d.input_layernorm.weight", l);
        fetch(s, wp, nm, 1, c.dim, mf->rms_att + l * D, 0);
        snprintf(nm, sizeof nm, "model.layers.%d.post_attention_layernorm.weight", l);
        fetch(s, wp, nm, 1, c.dim, mf->rms_ffn + l * D, 0);
        for (int p = 0; p < N_LAYER_PROJ; p++) {
            int o, i; proj_dims(&c, p, &o, &i);
            snprintf(nm, sizeof nm, "model.layers.%d.%s.weight", l, hname[p]);
            int perm = p == P_Q || p == P_K ? hs : 0;
            const uint16_t *h = keep16(s, wp, nm, o, i, perm, &cur16, &dt);
            if (h) { mf_set_w16(mf, l * N_LAYER_PROJ + p, dt, h); continue; }
            mf->w[l * N_LAYER_PROJ + p] = cur;
            fetch(s, wp, nm, o, i, cur, perm);
            cur += (size_t)o * i;
        }
    }
    StTensor *head = st_find(s, "lm_head.weight");
    if (!c.shared_classifier) {
        if (!mf->wcls16) {
            mf->wcls = cur;
            fetch(s, wp, "lm_head.weight", c.vocab_size, c.dim, mf->wcls, 0);
        }
    } else if (head) { // a tied model may still store the head: it must be the embedding
        size_t scratch = hold_mark();
        float *tmp = hold(xmalloc(V * D * sizeof(float)), free), *emb = mf->tok_emb;
        fetch(s, wp, "lm_head.weight", c.vocab_size, c.dim, tmp, 0);
        if (!emb) { emb = hold(xmalloc(V * D * sizeof(float)), free); half_to_f32(mf->tok_emb_dt, mf->tok_emb16, emb, V * D); }
        int same = !memcmp(tmp, emb, V * D * sizeof(float));
        hold_unwind(scratch);
        if (!same) die_input("%s: tie_word_embeddings is true but lm_head.weight differs from model.embed_tokens.weight", cfgp);
    }
    int n16 = 0, nbf = 0;
    for (int i = 0; i < st_count(s); i++) {
        StTensor *t = st_tensor(s, i);
        size_t nl = strlen(t->name);
        if (!t->used && !(nl > 20 && !strcmp(t->name + nl - 20, "rotary_emb.inv_freq"))) // derived, recomputed
            die_input("%s: tensor '%.100s' is not part of the supported %s layout", t->file, t->name, arch);
        n16 += t->dtype == ST_F16;
        nbf += t->dtype == ST_BF16;
    }
    snprintf(mf->format, sizeof mf->format, "hf-%s safetensors %s", arch,
             n16 && nbf ? "f16/bf16" : n16 ? "f16" : nbf ? "bf16" : "f32");
    mf->file_bytes = st_bytes(s);
    if (!mf->w16 && !mf->tok_emb16 && !mf->wcls16) { // nothing points into the mapping
        st_close(s);
        mf->hold = NULL; mf->hold_free = NULL;
    }
    mf->tok = tok_load_dir(dir, c.vocab_size); // its own tokenizer, when the directory has one
    hold_end(mark);
    return mf;
}
