// ops.h — the LLaMA building blocks as forward/backward pairs (llm.c style: backward
// functions ACCUMULATE into their gradient outputs). Rows are tokens; R = B·T.
#pragma once

// out[r] = emb[tok[r]]
void embedding_forward(float *out, const int *tok, const float *emb, int R, int dim);
void embedding_backward(float *demb, const float *dout, const int *tok, int R, int dim);

// out = x · rstd · w, rstd = 1/sqrt(mean(x²)+eps) saved per row.
void rmsnorm_forward(float *out, float *rstd, const float *x, const float *w, int R, int dim, float eps);
// dx += ∂/∂x, dw += ∂/∂w (dw may be NULL when the norm is frozen).
void rmsnorm_backward(float *dx, float *dw, const float *dout, const float *x, const float *w,
                      const float *rstd, int R, int dim);

// Interleaved-pair RoPE (llama2.c) in place on rows [r0, r1) of x (row stride `cols`), the
// position of row r being r % T. cos/sin tables are [pos][head_size/2].
void rope_forward(float *x, int r0, int r1, int T, int cols, int head_size, const float *cos_t, const float *sin_t);
void rope_backward(float *dx, int r0, int r1, int T, int cols, int head_size, const float *cos_t, const float *sin_t);
// llama3: {factor, low_freq_factor, high_freq_factor, original_max_position_embeddings}, or NULL.
void rope_tables(float *cos_t, float *sin_t, int T, int head_size, float theta, const float llama3[4]);

// Causal GQA attention over B sequences of length T; only query positions t ≥ t0 are
// computed (t0 > 0: incremental decoding with B = 1 reusing cached k, v).
// q, out: R×(H·hs); k, v: R×(KVH·hs); lse: [B][H][ldT] (ldT = capacity), each query row's
// softmax log-normalizer log Σ_s exp(score), written for t ≥ t0, or NULL when no backward
// pass follows (inference). Backward recomputes the probabilities from it.
void attention_forward(float *out, float *lse, const float *q, const float *k, const float *v,
                       int B, int T, int t0, int H, int KVH, int hs, int ldT);
// dq, dk, dv are written (not accumulated: a layer's backward writes them once, and
// zeroing them first cost a memory pass). out and lse are the forward pass's.
void attention_backward(float *dq, float *dk, float *dv, const float *dout, const float *out, const float *lse,
                        const float *q, const float *k, const float *v, int B, int T, int H, int KVH, int hs, int ldT);

// SwiGLU gate: g = silu(h1) · h3
void swiglu_forward(float *g, const float *h1, const float *h3, long n);
void swiglu_backward(float *dh1, float *dh3, const float *dg, const float *h1, const float *h3, long n); // dh1, dh3 written

// Log-softmax cross-entropy of one row of logits (V): returns log p(target); with
// dlogits != NULL writes scale·(softmax − onehot(target)) into it (may alias logits).
float logsoftmax_row(const float *logits, int V, int target, int *is_greedy, float *dlogits, float scale);
