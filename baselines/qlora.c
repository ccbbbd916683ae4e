// qlora.c — the `qlora` baseline: LoRA (fp32 A, B on the targeted projections) over a
// frozen NF4 + double-quantization base (core/nf4.c). The base is the frozen-quantized-base
// layer of ptq.c, dequantized a row tile at a time in forward and backward, so the fp32 W
// never exists whole; inference form "nf4&fp". `export --merge` folds B·A in and
// re-quantizes to NF4 (deploy_merge_lora) for the separately reported merged variant.
#include "common.h"
#include "nf4.h"

static Linear *qlora_build(const MethodCfg *m, Param *W, const char *name, Rng *rng) {
    check_lora_cfg(m);
    if (m->bits != 4) die_input("method.bits: qlora's NF4 base is 4-bit only (got %d; use qlora_uniform for other widths)", m->bits);
    Deploy d;
    nf4_quantize(W->data, W->shape[0], W->shape[1], &d);
    return qlayer_new(&d, m, name, rng, NULL);
}

const MethodEntry QLORA_METHOD = {.name = "qlora", .build = qlora_build, .keys = LORA_KEYS | MK_BITS};
