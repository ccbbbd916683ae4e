// train_device.h — the host half of training on a device (train.device: cuda).
//
// The host Model stays the source of truth (core/device.h): it is built as on the CPU, the
// device model is made from it (dev_desc_fill), and the loop runs the step, clipping and
// AdamW on the device. Before a checkpoint, the export and the final evaluation the
// trainables, AdamW moments and step count come back into the host Params/AdamW, so the CPU
// code writes ckpt.bin, final.l4qz and run.h5 unchanged and the final numbers are the CPU's
// evaluation of the exported model; on --resume they go up after the host loads ckpt.bin.
#pragma once
#include "config.h"
#include "device.h"
#include "model.h"
#include "optim.h"

typedef struct TrainDev TrainDev;

// Opens the plugin and refuses what it cannot run (the method, the precision, data-parallel
// ranks), before anything loads: one line naming train.device and exit 2.
TrainDev *train_dev_open(const RunConfig *cfg);
// The description of host model M for the device: pointers into M (valid while M lives),
// the projections' frozen bases (W0 or Linear.frozen_base or the file's deployed form) and
// trainables in Linear.params order. d->proj is allocated: dev_desc_free.
void dev_desc_fill(DevModelDesc *d, Model *M, const RunConfig *cfg, int B, int T);
void dev_desc_free(DevModelDesc *d);
// Builds the device model from M; it must hold np trainables (model_params' count and order).
void train_dev_attach(TrainDev *d, Model *M, int np, const RunConfig *cfg, int B, int T);
// Forward (and backward when asked, with d(loss_scale·Σ NLL) accumulated into the device
// gradients) of one micro-batch; returns Σ NLL over targets ≥ 0.
double train_dev_step(TrainDev *d, const int *tokens, const int *targets, int B, int T, int backward, float loss_scale);
void train_dev_zero_grad(TrainDev *d);
double train_dev_clip(TrainDev *d, float max_norm); // the pre-clip global norm
void train_dev_adamw(TrainDev *d, float lr);
// Device → host: the trainables into ps; with opt also the AdamW moments and step count.
void train_dev_download(TrainDev *d, Param **ps, int np, AdamW *opt);
// Host → device: the trainables, AdamW moments and step count (after a resume).
void train_dev_upload(TrainDev *d, Param **ps, int np, const AdamW *opt);
const char *train_dev_name(const TrainDev *d);     // "NVIDIA H100 ... (sm_90, 79.1 GiB)"
void train_dev_memory(TrainDev *d, DevMemory *m);
void train_dev_free(TrainDev *d);
