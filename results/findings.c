// findings.c — see findings.h.
#include "findings.h"
#include "stats.h"
#include "util.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *text;        // the paper's claim
    const char *methods[2];  // the method it compares L4Q with (either name)
} Claim;

static const Claim ACCURACY[] = {
    {"L4Q ≥ QA-LoRA (both fully quantized)", {"qa_lora", NULL}},
    {"L4Q ≥ QLoRA* (GPTQ + LoRA)", {"gptq_lora", "qlora_uniform"}},
    {"L4Q ≥ QAT-LoRA", {"qat_lora", NULL}},
};

// The row of `method` to set against an L4Q row: at its bit-width (any for bits < 0), with
// the same row settings (a budget or rank sweep compares like with like), or the method's
// only row there when it has one (a PTQ row, the pre-trained LoRA). −1: none, or several
// and none with the same settings.
static int match_row(const Report *rep, const char *method, int bits, const char *settings) {
    int only = -1, n = 0;
    for (int r = 0; r < rep->nrows; r++) {
        const RowGroup *g = &rep->rows[r];
        if (!method || strcmp(g->method, method) || (bits >= 0 && g->bits != bits)) continue;
        if (!strcmp(g->settings, settings)) return r;
        only = r;
        n++;
    }
    return n == 1 ? only : -1;
}
static int claim_row(const Report *rep, const Claim *c, int bits, const char *settings) {
    int r = match_row(rep, c->methods[0], bits, settings);
    return r >= 0 ? r : match_row(rep, c->methods[1], bits, settings);
}
static int has_method(const Report *rep, const char *m) {
    for (int r = 0; m && r < rep->nrows; r++)
        if (!strcmp(rep->rows[r].method, m)) return 1;
    return 0;
}

// "3", or "3 (steps=3000)" for an L4Q row with settings.
static const char *bits_cell(const Report *rep, int row) {
    static char buf[4][480];
    static int k;
    char *b = buf[k++ % 4];
    const RowGroup *g = &rep->rows[row];
    snprintf(b, sizeof buf[0], "%s%s%s%s", table_bits_label(g->bits), g->settings[0] ? " (" : "", g->settings, g->settings[0] ? ")" : "");
    return b;
}

static void accuracy_claim(const Report *rep, Analysis *an, const Claim *cl, int l4q, int other, FILE *md) {
    int nc = rep->ncols, k = 0;
    Paired *p = xcalloc((size_t)nc + 1, sizeof *p);
    int *cols = xmalloc(((size_t)nc + 1) * sizeof *cols);
    double *raw = xmalloc(((size_t)nc + 1) * sizeof *raw), *adj = xmalloc(((size_t)nc + 1) * sizeof *adj);
    char evidence[4096] = "";
    size_t o = 0;
    int skipped = 0;
    for (int c = 0; c < nc; c++) {
        if (!strcmp(rep->cols[c].key, "avg")) continue;
        if (rep->cols[c].at_chance) { skipped++; continue; }
        analysis_compare(an, l4q, other, c, &p[k]);
        if (!p[k].ok) {
            o += (size_t)snprintf(evidence + o, sizeof evidence - o, "%s: not compared (%s); ", rep->cols[c].title, p[k].why);
            continue;
        }
        cols[k] = c;
        raw[k] = p[k].p;
        k++;
    }
    stats_holm(raw, k, adj);
    int better = 0, worse = 0;
    for (int i = 0; i < k && o < sizeof evidence; i++) {
        const Column *col = &rep->cols[cols[i]];
        double favour = col->higher_better ? p[i].est : -p[i].est;
        if (adj[i] < 0.05) { better += favour > 0; worse += favour < 0; }
        char e[96], pv[32];
        paired_format(&p[i], e, sizeof e, pv, sizeof pv);
        o += (size_t)snprintf(evidence + o, sizeof evidence - o, "%s %s %s (Holm %s%.2g); ", col->title, e, pv,
                              adj[i] < 1e-4 ? "<" : "", adj[i] < 1e-4 ? 1e-4 : adj[i]);
    }
    if (o >= 2 && o < sizeof evidence) evidence[o - 2] = 0;
    const char *verdict = !k ? "inconclusive (nothing to compare)"
                        : better && !worse ? "**agree**"
                        : worse && !better ? "**disagree**"
                        : better && worse ? "inconclusive (significant both ways)" : "inconclusive (no significant difference)";
    fprintf(md, "| %s | %s | %s | %s%s |\n", cl->text, bits_cell(rep, l4q), verdict, evidence,
            skipped ? " (columns at chance left out)" : "");
    free(p); free(cols); free(raw); free(adj);
}

// ---- variants (several L4Q rows at a bit-width: an ablation of L4Q's settings) -------------
// One L4Q row against one competitor row over the main columns not at chance: Holm-adjusted
// significance as in accuracy_claim; *favour = the first compared column's effect oriented
// so that positive favours L4Q; *worse = columns where the competitor is significantly
// better; the first column's "Δ [CI] p" into ev.
static int variant_vs(const Report *rep, Analysis *an, int l4q, int other, double *favour, int *worse, char *ev, size_t evn) {
    int nc = rep->ncols, k = 0;
    Paired *p = xcalloc((size_t)nc + 1, sizeof *p);
    int *cols = xmalloc(((size_t)nc + 1) * sizeof *cols);
    double *raw = xmalloc(((size_t)nc + 1) * sizeof *raw), *adj = xmalloc(((size_t)nc + 1) * sizeof *adj);
    for (int c = 0; c < nc; c++) {
        if (!strcmp(rep->cols[c].key, "avg") || rep->cols[c].at_chance) continue;
        analysis_compare(an, l4q, other, c, &p[k]);
        if (!p[k].ok) continue;
        cols[k] = c;
        raw[k] = p[k].p;
        k++;
    }
    stats_holm(raw, k, adj);
    *worse = 0;
    for (int i = 0; i < k; i++) {
        double f = rep->cols[cols[i]].higher_better ? p[i].est : -p[i].est;
        if (i == 0) *favour = f;
        *worse += adj[i] < 0.05 && f < 0;
    }
    if (k) {
        char e[96], pv[32];
        paired_format(&p[0], e, sizeof e, pv, sizeof pv);
        snprintf(ev, evn, "%.60s %.96s %.31s", rep->cols[cols[0]].title, e, pv);
    }
    free(p); free(cols); free(raw); free(adj);
    return k;
}

// Is there an L4Q setting at least as good as QA-LoRA and as QLoRA* (not significantly worse
// on any main column against either) at this bit-width, and by how much? Written for every
// bit-width with at least two L4Q rows; the best setting is the one with the largest
// first-column margin over the stronger of the two competitors.
static void variants_write(const Report *rep, Analysis *an, FILE *md) {
    int header = 0;
    for (int bits = 16; bits >= 1; bits--) { // the paper's order: 4 before 3
        int nl = 0;
        for (int r = 0; r < rep->nrows; r++) nl += !strcmp(rep->rows[r].method, "l4q") && rep->rows[r].bits == bits;
        if (nl < 2) continue;
        int best = -1, best_ok = 0, nok = 0;
        double best_margin = -INFINITY;
        char best_ev[2][256] = {"", ""};
        for (int r = 0; r < rep->nrows; r++) {
            if (strcmp(rep->rows[r].method, "l4q") || rep->rows[r].bits != bits) continue;
            double margin = INFINITY;
            int ok = 1, compared = 0;
            char ev[2][256] = {"", ""};
            for (int c = 0; c < 2; c++) {
                int x = claim_row(rep, &ACCURACY[c], bits, rep->rows[r].settings);
                double f = 0;
                int worse = 0;
                if (x < 0 || !variant_vs(rep, an, r, x, &f, &worse, ev[c], sizeof ev[c])) { ok = 0; continue; }
                compared++;
                ok &= worse == 0;
                if (f < margin) margin = f;
            }
            if (compared < 2) continue;
            nok += ok;
            if (best < 0 || (ok && !best_ok) || (ok == best_ok && margin > best_margin)) {
                best = r; best_ok = ok; best_margin = margin;
                memcpy(best_ev, ev, sizeof ev);
            }
        }
        if (best < 0) continue;
        if (!header++)
            fprintf(md, "### L4Q's variants: at least as good as QA-LoRA and QLoRA*?\n\n"
                        "Per bit-width, over this study's L4Q settings: a setting is *at least as good* when neither "
                        "QA-LoRA nor QLoRA* is significantly better than it on any main column (Holm-adjusted p < 0.05); "
                        "the best setting has the largest margin (first column) over the stronger of the two. "
                        "Δ = L4Q − other, 95 %% bootstrap interval.\n\n"
                        "| Bits | Settings at least as good | Best L4Q setting | vs QA-LoRA | vs QLoRA* |\n|---|---|---|---|---|\n");
        fprintf(md, "| %s | %d of %d | %s%s%s | %s | %s |\n", table_bits_label(bits), nok, nl,
                rep->rows[best].settings[0] ? rep->rows[best].settings : "(defaults)", best_ok ? " — **yes**" : " — no",
                "", best_ev[0], best_ev[1]);
    }
    if (header) fprintf(md, "\n");
}

// Accounted training memory of a row (MB): weights + trainable + grad/optimizer + saved
// for backward + peak transient; min and max over its runs.
static int accounted(const Report *rep, int row, double *mean, double *lo, double *hi) {
    const RowGroup *g = &rep->rows[row];
    double s = 0;
    *lo = INFINITY; *hi = -INFINITY;
    for (int i = 0; i < g->n; i++) {
        const RunRec *r = &rep->runs[g->runs[i]];
        double v = 0;
        for (int k = 0; k < 5; k++) { if (r->mem[k] < 0) return -1; v += (double)r->mem[k] / 1e6; }
        s += v;
        if (v < *lo) *lo = v;
        if (v > *hi) *hi = v;
    }
    *mean = g->n ? s / g->n : NAN;
    return g->n ? 0 : -1;
}

static void memory_claim(const Report *rep, const char *text, int a, int b, int l4q, int want_far, FILE *md) {
    double ma, la, ha, mb, lb, hb;
    if (accounted(rep, a, &ma, &la, &ha) != 0 || accounted(rep, b, &mb, &lb, &hb) != 0 || mb <= 0) {
        fprintf(md, "| %s | %s | inconclusive (no memory group in some run.h5) | |\n", text, bits_cell(rep, l4q));
        return;
    }
    double ratio = ma / mb;
    int holds = want_far ? ratio >= 1.5 : ratio >= 0.8 && ratio <= 1.25;
    double pa, sa, pb, sb;
    int na, nb;
    table_mem_cell(rep, &rep->rows[a], 5, &pa, &sa, &na);
    table_mem_cell(rep, &rep->rows[b], 5, &pb, &sb, &nb);
    fprintf(md, "| %s | %s | %s | %s %.3f MB vs %s %.3f MB: **%.2f×** (range over runs %.2f–%.2f×; deterministic accounting, no p-value)",
            text, bits_cell(rep, l4q), holds ? "**agree**" : "**disagree**", rep->rows[a].label, ma, rep->rows[b].label, mb,
            ratio, la / hb, ha / lb);
    if (na && nb && pb > 0) fprintf(md, "; peak RSS %.0f vs %.0f MB (%.2f×)", pa, pb, pa / pb);
    fprintf(md, " |\n");
}

static void scale_caveat(const Report *rep, Analysis *an, FILE *md) {
    long steps = 0;
    const char *model = NULL;
    long seeds[64];
    int ns = 0;
    for (int i = 0; i < rep->nruns; i++) {
        const RunRec *r = &rep->runs[i];
        if (r->steps > steps) steps = r->steps;
        if (!model) model = table_cfg(r, "model");
        int have = 0;
        for (int k = 0; k < ns; k++) have |= seeds[k] == r->seed;
        if (!have && ns < 64) seeds[ns++] = r->seed;
    }
    const char *base = model ? strrchr(model, '/') : NULL;
    base = base ? base + 1 : model ? model : "?";
    // What the evaluation rests on, counted from the evidence (not from eval.limit, which
    // per-task limits and group sizes override).
    char ev[1024] = "";
    size_t o = 0;
    for (int c = 0; c < rep->ncols && o < sizeof ev; c++) {
        if (!strcmp(rep->cols[c].key, "avg")) continue;
        size_t n = analysis_units(an, c);
        int ppl = strstr(rep->cols[c].key, "/ppl") != NULL;
        if (n) o += snprintf(ev + o, sizeof ev - o, "%s%s on %zu %s", o ? ", " : "", rep->cols[c].title, n, ppl ? "windows" : "documents");
    }
    fprintf(md, "Scale caveat: these runs fine-tune `%s`%s for at most %ld steps, evaluate %s and use %d seed(s); "
                "the paper fine-tunes 3B–33B LLaMA models for 25K iterations on Alpaca. A verdict says how the methods behave at "
                "this scale and budget, not whether the paper's numbers hold at its scale.\n\n",
            base, strstr(base, "stories260K") ? " (260K parameters)" : "", steps, o ? ev : "without per-document evidence", ns);
}

void findings_write(const Report *rep, Analysis *an, FILE *md) {
    fprintf(md, "## Findings: the paper's claims, tested on these runs\n\n");
    int nl4q = 0;
    for (int r = 0; r < rep->nrows; r++) nl4q += !strcmp(rep->rows[r].method, "l4q") && rep->rows[r].bits > 0;
    if (!nl4q) { fprintf(md, "No complete L4Q runs: no claim of the paper can be tested here.\n\n"); return; }
    int others = 0;
    for (int r = 0; r < rep->nrows; r++) others += strcmp(rep->rows[r].method, "l4q") != 0;
    if (!others) {
        fprintf(md, "Only L4Q runs here: the paper's claims compare L4Q with other methods, so none can be tested.\n\n");
        return;
    }
    scale_caveat(rep, an, md);
    fprintf(md, "Accuracy claims: paired differences L4Q − other over every main column not at chance (95%% bootstrap "
                "interval; accuracy in points, PPL as relative change, so negative favours L4Q there), sign-flip p with "
                "Holm's adjustment over the claim's columns; agree = L4Q significantly better somewhere and worse nowhere, "
                "disagree = the reverse. Memory claims: accounted training memory (weights + trainable + gradients/optimizer "
                "+ saved for backward + transient); ≈ means a ratio in [0.8, 1.25], far larger at least 1.5×.\n\n");
    fprintf(md, "| Claim | Bits | Verdict | Evidence |\n|---|---|---|---|\n");
    char notes[2048] = "";
    size_t o = 0;
    for (size_t c = 0; c < sizeof ACCURACY / sizeof ACCURACY[0]; c++) {
        const Claim *cl = &ACCURACY[c];
        if (!has_method(rep, cl->methods[0]) && !has_method(rep, cl->methods[1])) {
            o += (size_t)snprintf(notes + o, sizeof notes - o, "- Skipped: %s — %s has no complete runs in this study.\n", cl->text,
                                  table_display_name(cl->methods[0]));
            continue;
        }
        for (int l = 0; l < rep->nrows && o < sizeof notes; l++) {
            if (strcmp(rep->rows[l].method, "l4q") || rep->rows[l].bits <= 0) continue;
            int x = claim_row(rep, cl, rep->rows[l].bits, rep->rows[l].settings);
            if (x >= 0) { accuracy_claim(rep, an, cl, l, x, md); continue; }
            o += (size_t)snprintf(notes + o, sizeof notes - o, "- Skipped at %s bits: %s — no %s row to match.\n", bits_cell(rep, l),
                                  cl->text, table_display_name(cl->methods[0]));
        }
    }
    static const char *FAR[2][2] = {{"qat_lora", "QAT-LoRA's training memory far larger than L4Q's"},
                                    {"lsq", "LSQ's training memory far larger than L4Q's"}};
    for (int l = 0; l < rep->nrows; l++) {
        if (strcmp(rep->rows[l].method, "l4q") || rep->rows[l].bits <= 0) continue;
        int lora = match_row(rep, "lora", -1, rep->rows[l].settings);
        if (lora >= 0) memory_claim(rep, "L4Q's training memory ≈ LoRA's", l, lora, l, 0, md);
        for (int k = 0; k < 2; k++) {
            int x = match_row(rep, FAR[k][0], rep->rows[l].bits, rep->rows[l].settings);
            if (x >= 0) memory_claim(rep, FAR[k][1], x, l, l, 1, md);
        }
    }
    for (int k = 0; k < 2; k++)
        if (!has_method(rep, FAR[k][0]))
            o += (size_t)snprintf(notes + o, sizeof notes - o, "- Skipped: %s — no %s runs in this study.\n", FAR[k][1],
                                  table_display_name(FAR[k][0]));
    if (!has_method(rep, "lora")) o += (size_t)snprintf(notes + o, sizeof notes - o, "- Skipped: L4Q's training memory ≈ LoRA's — LoRA has no complete runs in this study.\n");
    fprintf(md, "\n%s\n", notes);
    variants_write(rep, an, md);
}
