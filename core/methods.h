// methods.h — the method registry: one MethodEntry per training method, looked up by name.
//
// The core registers its own methods (none, full, lora, l4q, qat_lora, lsq); anything
// above the core registers its entries at start-up with method_register — the baselines
// through baselines_register() (baselines/baselines.h), which the CLI and the tests call.
// The core never names a method it does not define.
#pragma once
#include "modelfile.h"
#include "quant.h"
#include "tokenizer.h"

typedef struct {
    const char *name;
    // Builds projection `name` (out×in weight W) for this method (linear.h: linear_build).
    Linear *(*build)(const MethodCfg *m, Param *W, const char *name, Rng *rng);
    unsigned keys;                  // MK_* bits of the method keys it takes (others are errors)
    void (*defaults)(MethodCfg *m); // NULL: the shared defaults only; else applied after them
    // Optional model-level pass, run once after loading mf and before model_build (GPTQ):
    // returns what it hands to the layer constructors (MethodPrep, below), or NULL.
    MethodPrep *(*prepare)(ModelFile *mf, const MethodCfg *m, const Tokenizer *tok, int seq_len);
    // 1: build takes a 16-bit W (Param.half) as it is — it reads a frozen W0 through
    // w0_forward/param_rows, or trains it (param_make_trainable widens it). 0: linear_build
    // widens a 16-bit W to fp32 first (methods that read W->data whole while they build).
    int takes_w0_16bit;
} MethodEntry;

// Key sets several methods share.
#define LORA_KEYS (MK_RANK | MK_ALPHA | MK_DROPOUT | MK_TARGETS)
#define QUANT_KEYS (MK_BITS | MK_GROUP | MK_INIT | MK_LSQ_SCALE | MK_QUANT_LR)

// The core's own entries (defined beside their methods).
extern const MethodEntry LORA_METHOD, L4Q_METHOD, QAT_LORA_METHOD, LSQ_METHOD;

// Build projection `name` (out×in, frozen weight in W) with method m->name, looked up here.
// W->data is not copied; methods that train the weight itself (full, lsq) make W trainable
// in place.
Linear *linear_build(const MethodCfg *m, Param *W, const char *name, Rng *rng);

// Adds e (not copied: it must outlive the process) after the methods already known;
// a second entry with a known name is an internal error. Call before any lookup.
void method_register(const MethodEntry *e);
const MethodEntry *method_find(const char *name);   // NULL when unknown
const MethodEntry *method_lookup(const char *name); // die_input on unknown, listing the valid names
const char *const *method_names(void);              // registration order, NULL-terminated
void method_defaults(MethodCfg *m, const char *name); // die_input on unknown name
// The first key in m->set that method m->name does not take, or NULL.
const char *method_bad_key(const MethodCfg *m);
// Index of method key `key` in METHOD_KEY_NAMES, or −1.
int method_key_index(const char *key);
// Does method `name` take key `key`? Unknown keys and methods count as taken, so the
// config loader, which knows the position, reports them.
int method_takes(const char *name, const char *key);
// What a model-level pass hands to the per-layer constructors of one run: the deployed form
// it chose for each projection it covered (GPTQ: DEP_UNIFORM codes, scales, offsets), under
// the layer's name as linear_build gets it ("layers.3.q", "head"). method_prepare returns
// it; its caller owns it, passes it to model_build in MethodCfg.prep (model_build →
// linear_build → MethodEntry.build), and frees it with method_prep_free once the model is
// built: the layers copy what they keep. Nothing else holds it, so two models prepared side
// by side never see each other's records.
MethodPrep *method_prep_new(void);
void method_prep_put(MethodPrep *p, const char *name, Deploy *d); // takes d's arrays (zeroes *d)
const Deploy *method_prep_find(const MethodPrep *p, const char *name); // NULL: p NULL or no record
void method_prep_free(MethodPrep *p); // NULL: nothing

// Quantizer inits computed by a model-level pass defined above the core (method.init:
// gptq, which baselines_register adds; the core names none): the pass runs as the l4q
// method's prepare hook (before model_build, like GPTQ's own); its MethodPrep gives the
// grid it chose for each projection — a DEP_UNIFORM deploy whose scale and offset become
// the layer's trainable s and b (quant_params_build).
typedef struct {
    const char *init;  // the method.init value it serves
    MethodPrep *(*prepare)(ModelFile *mf, const MethodCfg *m, const Tokenizer *tok, int seq_len);
} QuantInitPass;
void quant_init_pass_register(const QuantInitPass *p); // not copied; one per init name
const QuantInitPass *quant_init_pass_find(const char *init); // NULL when none is registered

// Run m's model-level pass on mf (its prepare hook), if it has one: its records for
// model_build (MethodCfg.prep), owned by the caller; NULL when there is none.
MethodPrep *method_prepare(ModelFile *mf, const MethodCfg *m, const Tokenizer *tok, int seq_len);

// Trainable quantizer parameters s, b (out × n_groups each, no weight decay) for the
// out×in weight W0 (fp32 or 16-bit) of projection `name`, initialised by method.init (a
// formula of core/quant.h, or the grid a registered QuantInitPass recorded); q receives the
// geometry (method.bits, method.group_size). Shared by l4q, qat_lora and lsq.
void quant_params_build(const MethodCfg *m, const char *name, const Param *W0, int out, int in,
                        QuantSpec *q, Param **s, Param **b);
