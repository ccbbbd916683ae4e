// classifier.cu — the fused classifier of one logits chunk (model_head + logsoftmax_row):
// one block per row computes max, first argmax, Σexp, log p(target) and, for backward,
// writes loss_scale·w·(softmax − onehot) over the logits (fp32) or into a bf16 copy.
// The loss is summed in double in row order by a second, single-thread kernel, so it is
// the same number on every run.
#include "ops.cuh"
#include "reduce.cuh"

#define CLS_TPB 512

template <typename T>
__global__ void k_classifier(const float *logits, T *dlogits, const int *targets, const float *w, int V,
                             float loss_scale, float *logprob, int *greedy, double *row_nll) {
    int i = blockIdx.x;
    const float *lg = logits + (size_t)i * V;
    int t = targets[i];
    float wi = t < 0 ? 0.0f : (w ? w[i] : 1.0f);
    float mx = -INFINITY;
    for (int s = threadIdx.x; s < V; s += blockDim.x) mx = fmaxf(mx, lg[s]);
    mx = block_max(mx);
    int am = 0x7fffffff; // first index attaining the maximum, as the CPU's serial scan
    for (int s = threadIdx.x; s < V; s += blockDim.x)
        if (lg[s] == mx) { am = s; break; }
    am = block_min_int(am);
    if (am == 0x7fffffff) am = V - 1; // no element equals mx (NaN row): the CPU's scan stops at V−1
    float lt = t >= 0 ? lg[t] : 0.0f; // read before any write (dlogits may alias logits)
    float sum = 0;
    for (int s = threadIdx.x; s < V; s += blockDim.x) sum += el_exp(lg[s] - mx);
    sum = block_sum(sum); // ends with a barrier: every read of lg above is done
    float lse = mx + logf(sum), lp = t >= 0 ? lt - lse : 0.0f;
    if (dlogits) {
        float scale = loss_scale * wi, kk = scale / sum; // softmax = e / sum
        T *dl = dlogits + (size_t)i * V;
        for (int s = threadIdx.x; s < V; s += blockDim.x) {
            float d = el_exp(lg[s] - mx) * kk;
            if (s == t) d -= scale;
            dl[s] = cu_from_f32<T>(d);
        }
    }
    if (threadIdx.x == 0) {
        if (logprob) logprob[i] = lp;
        if (greedy) greedy[i] = am == t;
        row_nll[i] = -(double)lp * wi;
    }
}

__global__ void k_sum_rows(double *total, const double *rows, int m) {
    double s = *total;
    for (int i = 0; i < m; i++) s += rows[i];
    *total = s;
}

template <typename T>
int classifier_rows(CuCtx *c, const float *logits, T *dlogits, const int *targets, const float *w, int m, int V,
                    float loss_scale, float *logprob, int *greedy, double *nll_sum, double *row_scratch) {
    if (m <= 0) return 0;
    CU_REQUIRE(V > 0, "classifier: vocabulary size %d", V);
    k_classifier<T><<<m, CLS_TPB, 0, c->stream>>>(logits, dlogits, targets, w, V, loss_scale, logprob, greedy,
                                                   row_scratch);
    CU_LAUNCH_CHECK();
    if (nll_sum) {
        k_sum_rows<<<1, 1, 0, c->stream>>>(nll_sum, row_scratch, m);
        CU_LAUNCH_CHECK();
    }
    return 0;
}

template int classifier_rows<float>(CuCtx *, const float *, float *, const int *, const float *, int, int, float,
                                    float *, int *, double *, double *);
template int classifier_rows<bf16>(CuCtx *, const float *, bf16 *, const int *, const float *, int, int, float,
                                   float *, int *, double *, double *);
