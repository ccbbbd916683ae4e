// common.h — what several subcommands share: model + tokenizer loading.
#pragma once
#include "cli.h"
#include "config.h" // PREC_*
#include "model.h"
#include "run/score_device.h"
#include "tokenizer.h"
// Loads --model (any format) and --tokenizer (or the model's embedded one). A tokenizer
// whose size does not match the model is an input error naming the file.
void load_model_tok(const char *model_path, const char *tok_path, ModelFile **mf, Tokenizer **tok);
void free_model_tok(ModelFile *mf, Tokenizer *tok);
// --device cpu|cuda (default cpu): NULL for the CPU; for cuda the plugin, opened and
// checked now, before the model loads (a missing plugin or device: one line, exit 2).
DevScorer *device_flag(Args *a, const char *cmd, int precision);
// --precision fp32 (default) | bf16: bf16 turns on the bf16 products with frozen weights
// (bf16mm.h); anything else, or bf16 on a CPU without bf16 dot products, is an input error.
int arg_precision(Args *a); // PREC_FP32 | PREC_BF16 (config.h)
