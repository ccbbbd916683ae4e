// quant.c — the signed n-bit group quantizer, its initializations and code packing.
// See quant.h for the grid, group layout and packing format.
#include "quant.h"
#include "util.h"
#include <math.h>
#include <string.h>

void quant_spec(QuantSpec *q, int bits, int group_size, int out, int in) {
    if (bits != 2 && bits != 3 && bits != 4 && bits != 8)
        die_input("method.bits: %d is not supported (valid: 2, 3, 4, 8)", bits);
    if (group_size == 0 || group_size < -1)
        die_input("method.group_size: %d is invalid (a positive group length, or -1 for one group per row)", group_size);
    if (group_size > in)
        die_input("method.group_size: %d is larger than the row length %d of a %d x %d projection "
                  "(use a group size <= %d, or -1 for one group per row)", group_size, in, out, in, in);
    q->bits = bits;
    q->qn = -(1 << (bits - 1));
    q->qp = (1 << (bits - 1)) - 1;
    q->gs = group_size == -1 ? in : group_size;
    q->ng = (in + q->gs - 1) / q->gs;
    q->out = out;
    q->in = in;
}

const char *const QUANT_INIT_NAMES[] = {"l4q", "minmax", "absmax", "lsq+", "gptq", NULL};

QuantInit quant_init_parse(const char *name) {
    for (int i = 0; QUANT_INIT_NAMES[i]; i++) if (!strcmp(name, QUANT_INIT_NAMES[i])) return (QuantInit)i;
    die_input("method.init: unknown quantizer init '%s' (valid: l4q, minmax, absmax, lsq+, gptq)", name);
}

const char *quant_form_name(int bits, int mixed) {
    // Linear.form is a borrowed string, so the labels are literals.
    switch (bits) {
    case 2: return mixed ? "2&fp" : "2";
    case 3: return mixed ? "3&fp" : "3";
    case 4: return mixed ? "4&fp" : "4";
    case 8: return mixed ? "8&fp" : "8";
    default: return mixed ? "?&fp" : "?";
    }
}

void quant_init_params(const QuantSpec *q, const float *W, QuantInit init, float *s, float *b) {
    const float half = (float)(1 << (q->bits - 1)); // 2^(n−1)
    #pragma omp parallel for schedule(static)
    for (int r = 0; r < q->out; r++) {
        for (int g = 0; g < q->ng; g++) {
            const float *w = W + (size_t)r * q->in + (size_t)g * q->gs;
            int n = quant_group_len(q, g);
            float lo = w[0], hi = w[0];
            double sum = 0, sum2 = 0;
            for (int j = 0; j < n; j++) {
                if (w[j] < lo) lo = w[j];
                if (w[j] > hi) hi = w[j];
                sum += w[j];
                sum2 += (double)w[j] * w[j];
            }
            float sv, bv = 0.0f;
            switch (init) {
            case QINIT_MINMAX:
                sv = (hi - lo) / (float)(q->qp - q->qn);
                bv = hi - sv * (float)q->qp;
                break;
            case QINIT_ABSMAX:
                sv = fmaxf(fabsf(lo), fabsf(hi)) / half;
                break;
            case QINIT_LSQP: {
                double mu = sum / n, var = sum2 / n - mu * mu;
                double sd = var > 0 ? sqrt(var) : 0.0;
                sv = (float)(fmax(fabs(mu - 3 * sd), fabs(mu + 3 * sd)) / half);
                break;
            }
            case QINIT_GPTQ: die_internal("quant_init_params: the gptq init is a model-level pass, not a formula");
            default: // QINIT_L4Q: covers both extremes, so nothing clips at init
                sv = fmaxf(fabsf(lo / (float)q->qn), fabsf(hi / (float)q->qp));
                break;
            }
            if (!(sv > QUANT_S_MIN)) { // constant group: any positive scale represents it
                sv = QUANT_S_MIN;
                if (init == QINIT_MINMAX) bv = hi - sv * (float)q->qp;
            }
            s[(size_t)r * q->ng + g] = sv;
            b[(size_t)r * q->ng + g] = bv;
        }
    }
}

// quant_fake_elem's arithmetic is quant_ucode_elem's, term for term (core/elem.h).
void quant_fake_row(const QuantSpec *q, const float *w, const float *s, const float *b, int r, float *o) {
    const float qn = (float)q->qn, qp = (float)q->qp;
    for (int g = 0; g < q->ng; g++) {
        float sg = quant_safe_scale(s[(size_t)r * q->ng + g]), bg = b[(size_t)r * q->ng + g];
        int j0 = g * q->gs, j1 = j0 + quant_group_len(q, g);
        #pragma omp simd
        for (int j = j0; j < j1; j++) o[j] = quant_fake_elem(w[j], sg, bg, qn, qp);
    }
}

void quant_fake_rows(const QuantSpec *q, const float *Wt, const float *s, const float *b,
                     int r0, int nrows, float *Wq) {
    #pragma omp parallel for schedule(static)
    for (int i = 0; i < nrows; i++)
        quant_fake_row(q, Wt + (size_t)i * q->in, s, b, r0 + i, Wq + (size_t)i * q->in);
}

void quant_encode(const QuantSpec *q, const float *W, const float *s, const float *b, uint8_t *codes) {
    size_t rb = deploy_row_bytes(q->bits, q->in);
    #pragma omp parallel for schedule(static)
    for (int r = 0; r < q->out; r++) {
        const float *w = W + (size_t)r * q->in;
        uint8_t *p = codes + (size_t)r * rb;
        uint64_t acc = 0;
        int nb = 0;
        for (int j = 0; j < q->in; j++) {
            int g = j / q->gs;
            float sg = quant_safe_scale(s[(size_t)r * q->ng + g]);
            acc |= (uint64_t)quant_ucode_elem(w[j], sg, b[(size_t)r * q->ng + g], q->qn, q->qp) << nb;
            nb += q->bits;
            while (nb >= 8) { *p++ = (uint8_t)acc; acc >>= 8; nb -= 8; }
        }
        if (nb > 0) *p = (uint8_t)acc;
    }
}

void quant_rtn(const QuantSpec *q, const float *W, float *s, float *b, uint8_t *codes) {
    quant_init_params(q, W, QINIT_MINMAX, s, b);
    if (codes) quant_encode(q, W, s, b, codes);
}

// ---- packing ------------------------------------------------------------------------
// A 64-bit bit-accumulator handles every width uniformly, including 3-bit codes that
// straddle bytes; it never reads or writes past a row's ceil(in·bits/8) bytes.

void quant_pack(const uint8_t *u, int rows, int in, int bits, uint8_t *packed) {
    size_t rb = deploy_row_bytes(bits, in);
    #pragma omp parallel for schedule(static)
    for (int r = 0; r < rows; r++) {
        const uint8_t *src = u + (size_t)r * in;
        uint8_t *p = packed + (size_t)r * rb;
        uint64_t acc = 0;
        int nb = 0;
        for (int j = 0; j < in; j++) {
            acc |= (uint64_t)(src[j] & ((1u << bits) - 1)) << nb;
            nb += bits;
            while (nb >= 8) { *p++ = (uint8_t)acc; acc >>= 8; nb -= 8; }
        }
        if (nb > 0) *p = (uint8_t)acc;
    }
}

void quant_unpack(const uint8_t *packed, int rows, int in, int bits, uint8_t *u) {
    size_t rb = deploy_row_bytes(bits, in);
    const uint64_t mask = (1u << bits) - 1;
    #pragma omp parallel for schedule(static)
    for (int r = 0; r < rows; r++) {
        const uint8_t *p = packed + (size_t)r * rb;
        uint8_t *dst = u + (size_t)r * in;
        uint64_t acc = 0;
        int nb = 0;
        for (int j = 0; j < in; j++) {
            while (nb < bits) { acc |= (uint64_t)(*p++) << nb; nb += 8; }
            dst[j] = (uint8_t)(acc & mask);
            acc >>= bits;
            nb -= bits;
        }
    }
}

void quant_dequant_rows(const uint8_t *packed, const float *s, const float *b, int bits, int gs,
                        int in, int r0, int nrows, float *out) {
    size_t rb = deploy_row_bytes(bits, in);
    int ng = (in + gs - 1) / gs, qn = -(1 << (bits - 1));
    const uint64_t mask = (1u << bits) - 1;
    #pragma omp parallel for schedule(static)
    for (int i = 0; i < nrows; i++) {
        int r = r0 + i;
        const uint8_t *p = packed + (size_t)r * rb;
        float *o = out + (size_t)i * in;
        uint64_t acc = 0;
        int nb = 0;
        for (int g = 0; g < ng; g++) {
            float sg = s[(size_t)r * ng + g], bg = b[(size_t)r * ng + g];
            int j1 = (g + 1) * gs < in ? (g + 1) * gs : in;
            for (int j = g * gs; j < j1; j++) {
                while (nb < bits) { acc |= (uint64_t)(*p++) << nb; nb += 8; }
                o[j] = quant_dequant_elem((unsigned)(acc & mask), sg, bg, qn);
                acc >>= bits;
                nb -= bits;
            }
        }
    }
}

// ---- gradients ----------------------------------------------------------------------
// Rows are independent and own their groups, so the row loop parallelizes without races.

void quant_forward_saved(const QuantSpec *q, const float *W, const float *s, const float *b,
                         float *Wq, float *dsf, uint8_t *mask) {
    const float qn = (float)q->qn, qp = (float)q->qp;
    #pragma omp parallel for schedule(static)
    for (int r = 0; r < q->out; r++) {
        for (int g = 0; g < q->ng; g++) {
            size_t k = (size_t)r * q->ng + g;
            float sg = quant_safe_scale(s[k]), bg = b[k];
            int j0 = g * q->gs, j1 = j0 + quant_group_len(q, g);
            for (int j = j0; j < j1; j++) {
                size_t e = (size_t)r * q->in + j;
                int clip;
                Wq[e] = quant_ste_elem(W[e], sg, bg, qn, qp, &dsf[e], &clip);
                mask[e] = (uint8_t)!clip;
            }
        }
    }
}

void quant_backward_saved(const QuantSpec *q, const float *G, const float *dsf, const uint8_t *mask,
                          int lsq_scale, float *ds, float *db, float *dW) {
    #pragma omp parallel for schedule(static)
    for (int r = 0; r < q->out; r++) {
        for (int g = 0; g < q->ng; g++) {
            size_t k = (size_t)r * q->ng + g;
            int j0 = g * q->gs, j1 = j0 + quant_group_len(q, g);
            double acc_s = 0, acc_b = 0;
            for (int j = j0; j < j1; j++) {
                size_t e = (size_t)r * q->in + j;
                acc_s += (double)G[e] * dsf[e];
                if (!mask[e]) acc_b += G[e];
                else if (dW) dW[e] += G[e];
            }
            float gsc = lsq_scale ? quant_lsq_gscale(q, g) : 1.0f;
            ds[k] += gsc * (float)acc_s;
            db[k] += gsc * (float)acc_b;
        }
    }
}
