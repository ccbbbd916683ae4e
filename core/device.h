// device.h — running a model on an accelerator (CUDA), behind a narrow versioned table.
//
// CUDA is optional: build/l4q never links it. When a run asks for `train.device: cuda`
// (or a command for `--device cuda`), device_open() dlopen()s build/libl4q_cuda.so (the
// cuda/ folder, built by nvcc when the toolkit is found) and checks the table it exports
// as `l4q_cuda_ops`. The host Model stays the source of truth for everything but the
// arithmetic of a step: it holds W0, builds each method's layers (GPTQ calibration etc. on
// the CPU), and is where checkpoints, export and the final CPU evaluation read from. The
// device gets plain C structs only (no Model*, no OpenBLAS/HDF5/yaml types), so a device
// test or benchmark can drive the plugin without the rest of the harness.
//
// Tensor layouts are the CPU's (row-major, rows r = b·T + t). Every projection is
// described by its frozen base (W0 as stored, or a quantized Deploy form) and its trainable
// tensors in exactly the order the host Linear lists them (Linear.params), so uploads,
// downloads and AdamW moments map one to one onto the host's model_params() order.
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "deploy.h"
#include "elem.h" // DT_F32 / DT_F16 / DT_BF16

#define DEVICE_OPS_VERSION 1

enum { DEVPREC_FP32 = 0, DEVPREC_BF16 = 1 }; // == PREC_FP32 / PREC_BF16 (config.h)

// One host tensor: fp32 data, or 16-bit (dtype DT_F16/DT_BF16 from half.h) in half.
typedef struct {
    const char *name;
    int dtype;                  // DT_F32 | DT_F16 | DT_BF16
    const float *f32;           // dtype DT_F32
    const uint16_t *half;       // dtype DT_F16 / DT_BF16
    size_t n;
    int rows, cols;
    int decay;                  // AdamW weight decay applies (trainables only)
} DevTensor;

// One projection (q, k, v, o, gate, up, down of each layer; the head as index L·7).
typedef struct {
    int out, in;
    // The frozen base: exactly one of w0 (fp32 or 16-bit, for none/lora/l4q/qat_lora/lsq)
    // and base (a quantized form: NF4 for qlora, uniform for rtn/gptq_lora and qa_lora,
    // any Deploy for inference of a deployed file, including its LoRA side branch).
    DevTensor w0;               // w0.n == 0 when base is set
    const Deploy *base;
    // The method's trainable tensors, in Linear.params order (e.g. lora: A[r×in], B[out×r];
    // l4q: A, B, s, b as core/l4q.c lists them). n_params 0 for a frozen projection.
    int n_params;
    DevTensor params[8];
} DevProj;

// The method as the device runs it: the fields of MethodCfg it needs, by value.
typedef struct {
    char name[32];              // lora | l4q | qlora | rtn_lora | gptq_lora | qa_lora | qat_lora | lsq | none
    int rank;
    float alpha;                // LoRA scale is alpha / rank (as on the CPU)
    float dropout;              // > 0: the plugin draws its own masks (not the CPU Rng stream); parity runs use 0
    unsigned targets;           // bit p: projection p goes through the method (linear.h P_*)
    int bits, group_size, lsq_grad_scale, tile_rows;
} DevMethod;

typedef struct {
    // The model (core/model.h Config).
    int dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len;
    int shared_classifier;
    float norm_eps;
    const float *rope_cos, *rope_sin; // (seq_len, head_size/2), as rope_tables() fills them
    // Embedding, norms and the head (frozen unless the method trains them; wcls.n 0 if shared).
    DevTensor tok_emb, rms_att, rms_ffn, rms_final, wcls;
    DevProj *proj;              // [n_layers·7 (+1 when the head is a method layer)]
    int head_is_proj;           // targets include the head: proj[n_layers·7] is it
    DevMethod method;
    int maxB, maxT;             // activation capacity
    int precision;              // DEVPREC_*
    int training;               // 0: inference only (no saved activations, no grads)
    // AdamW (core/optim.h), the same constants as the host optimizer.
    float beta1, beta2, eps, weight_decay;
    int optim_state;            // DT_F32 | DT_BF16 moments
    uint64_t optim_seed;        // bf16 stochastic rounding stream (as adamw_new's seed)
    uint64_t seed;              // dropout stream
    // Benchmarks at scale (bench/gpu_table1): nonzero ⇒ every frozen tensor whose host
    // pointer is NULL (w0, tok_emb, norms, wcls) is generated on the device from this seed
    // (uniform ±1/sqrt(in), norms 1), so no multi-GB upload is needed. 0 for real models.
    uint64_t random_weights;
} DevModelDesc;

// Memory on the device, bytes.
typedef struct {
    size_t tracked_cur, tracked_peak;   // the plugin's own allocations
    size_t workspace;                   // cuBLAS workspace
    size_t device_used;                 // cudaMemGetInfo total − free (context included)
    size_t device_total;
} DevMemory;

typedef struct DevModel DevModel;

// What the plugin exports as `l4q_cuda_ops`. Every function that can fail returns 0 on
// success and otherwise writes one line (no newline) into err.
typedef struct {
    int version;                // DEVICE_OPS_VERSION
    size_t struct_size;         // sizeof(DeviceOps) as the plugin was built
    // Opens device `index`; `name` gets e.g. "NVIDIA H100 80GB HBM3 (sm_90, 79.1 GiB)".
    // Fails with the CUDA error's name when there is no device or driver.
    int (*init)(int index, char *name, size_t namelen, char *err, size_t errlen);
    // Does the plugin implement `method` at `precision`? Nonzero if so (the one function not
    // returning 0 for success); 0 and a reason in err if not.
    int (*supports)(const char *method, int precision, char *err, size_t errlen);
    DevModel *(*model_new)(const DevModelDesc *d, char *err, size_t errlen);
    void (*model_free)(DevModel *m);
    // Forward positions 0..T-1 of B sequences, then the head and log-softmax over all B·T
    // rows: returns Σ w·NLL over targets ≥ 0 (w NULL: 1), accumulated in double. logprob,
    // greedy (host arrays of B·T, may be NULL) get log p(target) and argmax == target.
    // backward: also runs the whole backward pass with d(loss_scale·Σ NLL), accumulating
    // into the device gradients (zeroed by zero_grad).
    int (*step)(DevModel *m, const int *tokens, const int *targets, const float *w, int B, int T,
                float *logprob, int *greedy, int backward, float loss_scale, double *nll, char *err, size_t errlen);
    // Full logits of row `row` of the last forward (generation), vocab_size floats to host.
    int (*logits_row)(DevModel *m, int row, float *out, char *err, size_t errlen);
    void (*zero_grad)(DevModel *m);
    // grad_clip (optim.h): returns the pre-clip global norm, clipping when max_norm > 0.
    double (*grad_clip)(DevModel *m, float max_norm);
    // One AdamW update at lr (optim.h adamw_step, element for element).
    void (*adamw_step)(DevModel *m, float lr);
    // Trainables in host order: i indexes the flat list over proj[*].params (and the
    // embeddings/norms when trained). which: 0 param, 1 grad, 2 AdamW m, 3 AdamW v; moments
    // in the optimizer's dtype (fp32 or bf16 bits), params and grads always fp32.
    int (*n_trainables)(DevModel *m);
    int (*download)(DevModel *m, int i, int which, void *host, size_t bytes, char *err, size_t errlen);
    int (*upload)(DevModel *m, int i, int which, const void *host, size_t bytes, char *err, size_t errlen);
    long (*adamw_t)(DevModel *m, long set); // steps taken; set ≥ 0 also sets it (resume)
    void (*memory)(DevModel *m, DevMemory *out);
    // Waits for the device; returns the last asynchronous error (0 = none).
    int (*sync)(DevModel *m, char *err, size_t errlen);
} DeviceOps;

// Host side (core/device.c). The plugin path: build/libl4q_cuda.so beside the binary, or
// $L4Q_CUDA_PLUGIN. device_open dies with one line (exit 2) naming what is missing: no
// plugin ("build/libl4q_cuda.so not found: run make cuda"), a version mismatch, or no
// device (the CUDA error). `what` names the config key or flag for the message.
const DeviceOps *device_open(const char *what);
// The same checks without dying: NULL and one line in err.
const DeviceOps *device_try_open(const char *path, char *err, size_t errlen);
const char *device_name(void); // after device_open
