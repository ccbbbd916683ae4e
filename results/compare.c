// compare.c — see compare.h.
#include "compare.h"
#include "stats.h"
#include "util.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { BOOT_B = 2000, FLIP_B = 10000 };

// One run's evidence for one column: units in leaf order.
struct ColData {
    int ok;
    char why[200];
    int is_ppl;
    int K;
    char (*leaf)[128];
    double *W;
    size_t *cnt;             // units per leaf
    size_t n;
    double *a, *b;           // acc: a = 0/1, b = 1; perplexity: a = nll, b = ntok
    uint64_t *hash;
    int *stratum;
    double chance;           // Σ_k W_k mean(1/nchoices), NaN when undefined
};

static int col_is_ppl(const Column *c) {
    const char *s = strrchr(c->key, '/');
    return !strcmp(c->key, "val_ppl") || (s && (!strcmp(s, "/ppl") || !strcmp(s, "/loss")));
}

static const GroupDef *find_group(const TaskRegistry *reg, const char *name) {
    for (int i = 0; reg && i < reg->ngroups; i++) if (!strcmp(reg->groups[i].name, name)) return &reg->groups[i];
    return NULL;
}

// Documents under `name` in this run (a leaf, or a group's members recursively); −1 if missing.
static long count_docs(const TaskRegistry *reg, const RunFile *f, const char *name, int depth) {
    const RunDocs *d = runfile_docs(f, name);
    if (d) return (long)d->n;
    const GroupDef *g = find_group(reg, name);
    if (!g || depth > 8) return -1;
    long s = 0;
    for (int j = 0; j < g->n; j++) { long k = count_docs(reg, f, g->members[j], depth + 1); if (k < 0) return -1; s += k; }
    return s;
}

static int add_leaves(ColData *cd, const TaskRegistry *reg, const RunFile *f, const char *name, double w, int depth) {
    const RunDocs *d = runfile_docs(f, name);
    if (d) {
        cd->leaf = xrealloc(cd->leaf, (size_t)(cd->K + 1) * sizeof *cd->leaf);
        cd->W = xrealloc(cd->W, (size_t)(cd->K + 1) * sizeof *cd->W);
        snprintf(cd->leaf[cd->K], sizeof cd->leaf[0], "%.127s", name);
        cd->W[cd->K++] = w;
        return 0;
    }
    const GroupDef *g = find_group(reg, name);
    if (!g || g->n == 0 || depth > 8) { snprintf(cd->why, sizeof cd->why, "no per-document evidence for %.160s", name); return -1; }
    long total = g->weight_by_size ? count_docs(reg, f, name, depth) : 0;
    for (int j = 0; j < g->n; j++) {
        double wj = w / g->n;
        if (g->weight_by_size) {
            long k = count_docs(reg, f, g->members[j], depth + 1);
            if (k < 0 || total <= 0) { snprintf(cd->why, sizeof cd->why, "no per-document evidence for %s", g->members[j]); return -1; }
            wj = w * (double)k / (double)total;
        }
        if (add_leaves(cd, reg, f, g->members[j], wj, depth + 1) != 0) return -1;
    }
    return 0;
}

static void coldata_free(ColData *cd) {
    if (!cd) return;
    free(cd->leaf); free(cd->W); free(cd->cnt); free(cd->a); free(cd->b); free(cd->hash); free(cd->stratum);
    free(cd);
}

static ColData *coldata_build(const TaskRegistry *reg, const RunRec *r, const Column *c) {
    ColData *cd = xcalloc(1, sizeof *cd);
    cd->is_ppl = col_is_ppl(c);
    cd->chance = NAN;
    char task[200];
    snprintf(task, sizeof task, "%s", c->key);
    if (!strcmp(task, "val_ppl")) snprintf(task, sizeof task, "val");
    else { char *s = strrchr(task, '/'); if (s) *s = 0; }
    if (r->file.ndocs == 0) { snprintf(cd->why, sizeof cd->why, "no per-document evidence in run.h5"); return cd; }
    if (add_leaves(cd, reg, &r->file, task, 1.0, 0) != 0) return cd;
    cd->cnt = xcalloc((size_t)cd->K, sizeof *cd->cnt);
    double chance = 0;
    int chance_ok = !cd->is_ppl;
    for (int k = 0; k < cd->K; k++) {
        const RunDocs *d = runfile_docs(&r->file, cd->leaf[k]);
        int ppl = !strcmp(d->output_type, "perplexity");
        if (ppl != cd->is_ppl) { snprintf(cd->why, sizeof cd->why, "docs/%.60s: output_type %.23s does not fit column %.50s", d->name, d->output_type, c->key); return cd; }
        cd->cnt[k] = d->n;
        cd->a = xrealloc(cd->a, (cd->n + d->n + 1) * sizeof *cd->a);
        cd->b = xrealloc(cd->b, (cd->n + d->n + 1) * sizeof *cd->b);
        cd->hash = xrealloc(cd->hash, (cd->n + d->n + 1) * sizeof *cd->hash);
        cd->stratum = xrealloc(cd->stratum, (cd->n + d->n + 1) * sizeof *cd->stratum);
        double inv = 0;
        for (size_t i = 0; i < d->n; i++) {
            size_t u = cd->n + i;
            cd->a[u] = ppl ? d->nll[i] : d->acc[i];
            cd->b[u] = ppl ? d->ntok[i] : 1;
            cd->hash[u] = d->hash[i];
            cd->stratum[u] = k;
            inv += d->nchoices && d->nchoices[i] > 0 ? 1.0 / d->nchoices[i] : 0;
        }
        cd->n += d->n;
        if (!strcmp(d->output_type, "loglikelihood") || d->n == 0) chance_ok = 0;
        else if (!ppl) chance += cd->W[k] * inv / (double)d->n;
    }
    if (chance_ok) cd->chance = chance;
    cd->ok = 1;
    return cd;
}

static ColData *coldata(Analysis *an, int run, int col) {
    ColData **slot = &an->cache[(size_t)run * an->rep->ncols + col];
    if (!*slot) *slot = coldata_build(an->reg, &an->rep->runs[run], &an->rep->cols[col]);
    return *slot;
}

size_t analysis_units(Analysis *an, int col) {
    size_t most = 0;
    for (int i = 0; i < an->rep->nruns; i++) {
        if (!an->rep->runs[i].file.ndocs) continue;
        const ColData *cd = coldata(an, i, col);
        if (cd->ok && cd->n > most) most = cd->n;
    }
    return most;
}

// Same leaves, sizes and prompt hashes: the two runs scored the same documents.
static int same_docs(const ColData *x, const ColData *y, char *why, size_t n) {
    if (x->K != y->K) { snprintf(why, n, "different task lists"); return 0; }
    for (int k = 0; k < x->K; k++) {
        if (strcmp(x->leaf[k], y->leaf[k])) { snprintf(why, n, "different tasks (%s vs %s)", x->leaf[k], y->leaf[k]); return 0; }
        if (x->cnt[k] != y->cnt[k]) { snprintf(why, n, "%s: %zu vs %zu documents", x->leaf[k], x->cnt[k], y->cnt[k]); return 0; }
    }
    for (size_t u = 0; u < x->n; u++)
        if (x->hash[u] != y->hash[u]) { snprintf(why, n, "%s: document %zu differs (prompt hash)", x->leaf[x->stratum[u]], u); return 0; }
    return 1;
}

// Pools np runs xs (minus ys, when ys) over the first run's units into *s (arrays malloc'd).
static int pool(Analysis *an, int col, const int *xs, const int *ys, int np, StatSample *s, double **a, double **b, char *why, size_t nwhy) {
    const Report *rep = an->rep;
    ColData *t = coldata(an, xs[0], col);
    for (int i = 0; i < np; i++) {
        const ColData *cx = coldata(an, xs[i], col), *cy = ys ? coldata(an, ys[i], col) : NULL;
        if (!cx->ok) { snprintf(why, nwhy, "%.60s: %.170s", rep->runs[xs[i]].rel, cx->why); return -1; }
        if (cy && !cy->ok) { snprintf(why, nwhy, "%.60s: %.170s", rep->runs[ys[i]].rel, cy->why); return -1; }
        char w[200];
        if (!same_docs(t, cx, w, sizeof w)) { snprintf(why, nwhy, "evaluation differs between %.60s and %.60s (%.100s)", rep->runs[xs[0]].rel, rep->runs[xs[i]].rel, w); return -1; }
        if (cy && !same_docs(t, cy, w, sizeof w)) { snprintf(why, nwhy, "evaluation differs between %.60s and %.60s (%.100s)", rep->runs[xs[0]].rel, rep->runs[ys[i]].rel, w); return -1; }
    }
    *a = xcalloc(t->n + 1, sizeof **a);
    *b = xcalloc(t->n + 1, sizeof **b);
    for (int i = 0; i < np; i++) {
        const ColData *cx = coldata(an, xs[i], col), *cy = ys ? coldata(an, ys[i], col) : NULL;
        for (size_t u = 0; u < t->n; u++) { (*a)[u] += cx->a[u] - (cy ? cy->a[u] : 0); (*b)[u] += cx->b[u]; }
    }
    StatSample ss = {t->n, *a, *b, t->stratum, t->K, t->W};
    *s = ss;
    return 0;
}

static uint64_t seed_of(const Report *rep, int row, int other, int col) {
    char key[1400];
    snprintf(key, sizeof key, "%s|%d|%s|%s|%d|%s|%s", rep->rows[row].label, rep->rows[row].bits, rep->rows[row].form,
             other >= 0 ? rep->rows[other].label : "", other >= 0 ? rep->rows[other].bits : 0, other >= 0 ? rep->rows[other].form : "",
             rep->cols[col].key);
    return hash64(key, strlen(key), HASH64_INIT);
}

void analysis_compare(Analysis *an, int row, int other, int col, Paired *out) {
    const Report *rep = an->rep;
    const RowGroup *X = &rep->rows[row], *Y = &rep->rows[other];
    memset(out, 0, sizeof *out);
    out->is_ppl = col_is_ppl(&rep->cols[col]);
    int *xs = xmalloc((size_t)(X->n * Y->n + 1) * sizeof *xs), *ys = xmalloc((size_t)(X->n * Y->n + 1) * sizeof *ys), np = 0;
    for (int i = 0; i < X->n; i++)
        for (int j = 0; j < Y->n; j++) {
            const RunRec *rx = &rep->runs[X->runs[i]], *ry = &rep->runs[Y->runs[j]];
            if (X->n == 1 || Y->n == 1 || rx->seed == ry->seed) { xs[np] = X->runs[i]; ys[np++] = Y->runs[j]; }
        }
    StatSample s;
    double *a = NULL, *b = NULL;
    if (np == 0) snprintf(out->why, sizeof out->why, "no runs with a common seed");
    else if (pool(an, col, xs, ys, np, &s, &a, &b, out->why, sizeof out->why) == 0) {
        uint64_t seed = seed_of(rep, row, other, col);
        double sc = out->is_ppl ? 1 : rep->cols[col].scale;
        out->est = stats_estimate(&s) * sc;
        stats_bootstrap_ci(&s, BOOT_B, seed, 0.95, &out->lo, &out->hi);
        out->lo *= sc; out->hi *= sc;
        out->p = stats_signflip_p(&s, FLIP_B, seed ^ 0x9e3779b97f4a7c15ULL, &out->exact);
        out->units = (long)s.n;
        out->npairs = np;
        out->ok = 1;
    }
    free(a); free(b); free(xs); free(ys);
    // Between seeds: the two rows' per-run values (PPL as log PPL, the NLL scale of est).
    const Column *c = &rep->cols[col];
    double *vx = xmalloc((size_t)(X->n + 1) * sizeof *vx), *vy = xmalloc((size_t)(Y->n + 1) * sizeof *vy);
    for (int i = 0; i < X->n; i++) { double v = table_value(rep, &rep->runs[X->runs[i]], c); vx[i] = out->is_ppl ? log(v) : v; }
    for (int j = 0; j < Y->n; j++) { double v = table_value(rep, &rep->runs[Y->runs[j]], c); vy[j] = out->is_ppl ? log(v) : v; }
    out->seeds_p = stats_welch_p(vx, X->n, vy, Y->n);
    free(vx); free(vy);
}

void paired_format(const Paired *p, char *effect, size_t ne, char *pval, size_t np) {
    if (!p->ok) { snprintf(effect, ne, "–"); snprintf(pval, np, "–"); return; }
    if (p->is_ppl) snprintf(effect, ne, "%+.1f%% [%+.1f, %+.1f]", 100 * expm1(p->est), 100 * expm1(p->lo), 100 * expm1(p->hi));
    else snprintf(effect, ne, "%+.1f [%+.1f, %+.1f]", p->est, p->lo, p->hi);
    pvalue_format("p", p->p, pval, np);
}

void pvalue_format(const char *name, double p, char *buf, size_t n) {
    if (p < 1e-4) snprintf(buf, n, "%s<0.0001", name);
    else snprintf(buf, n, "%s=%.2g", name, p);
}

// The row's own score, pooled over its runs, with its interval (display units).
static void row_ci(Analysis *an, int row, int col) {
    const Report *rep = an->rep;
    const RowGroup *g = &rep->rows[row];
    size_t at = (size_t)row * rep->ncols + col;
    an->ci_lo[at] = an->ci_hi[at] = NAN;
    StatSample s;
    double *a = NULL, *b = NULL;
    char why[320];
    if (pool(an, col, g->runs, NULL, g->n, &s, &a, &b, why, sizeof why) == 0) {
        double lo, hi, sc = rep->cols[col].scale;
        stats_bootstrap_ci(&s, BOOT_B, seed_of(rep, row, -1, col), 0.95, &lo, &hi);
        // A PPL column's statistic is the token-weighted mean NLL: its interval in PPL is exp of it.
        const char *k = strrchr(rep->cols[col].key, '/');
        int ppl = !strcmp(rep->cols[col].key, "val_ppl") || (k && !strcmp(k, "/ppl"));
        an->ci_lo[at] = ppl ? exp(lo) : lo * sc;
        an->ci_hi[at] = ppl ? exp(hi) : hi * sc;
        const ColData *t = coldata(an, g->runs[0], col);
        if (isfinite(t->chance)) an->chance[col] = t->chance * sc;
    }
    free(a); free(b);
}

// Runs that scored a leaf task on other documents than most runs did: one line per run.
// Each (run, leaf) is reduced to a digest of its prompt hashes; the majority digest of a
// leaf (ties: the earliest run's) is the reference version.
static void find_mismatches(Analysis *an) {
    const Report *rep = an->rep;
    int nr = rep->nruns, nl = 0;
    const char **leaves = NULL;
    for (int i = 0; i < nr; i++)
        for (int t = 0; t < rep->runs[i].file.ndocs; t++) {
            const char *name = rep->runs[i].file.docs[t].name;
            int have = 0;
            for (int k = 0; k < nl && !have; k++) have = !strcmp(leaves[k], name);
            if (!have) { leaves = xrealloc(leaves, (size_t)(nl + 1) * sizeof *leaves); leaves[nl++] = name; }
        }
    // dig[l * nr + i]: 0 = run i has no such leaf.
    uint64_t *dig = xcalloc((size_t)nl * nr + 1, sizeof *dig);
    int *major = xmalloc(((size_t)nl + 1) * sizeof *major);
    for (int l = 0; l < nl; l++) {
        for (int i = 0; i < nr; i++) {
            const RunDocs *d = runfile_docs(&rep->runs[i].file, leaves[l]);
            if (!d) continue;
            uint64_t h = hash64(&d->n, sizeof d->n, HASH64_INIT);
            dig[(size_t)l * nr + i] = hash64(d->hash, d->n * sizeof *d->hash, h) | 1;
        }
        int best = -1, best_votes = 0;
        for (int j = 0; j < nr; j++) {
            uint64_t dj = dig[(size_t)l * nr + j];
            if (!dj) continue;
            int votes = 0;
            for (int k = 0; k < nr; k++) votes += dig[(size_t)l * nr + k] == dj;
            if (votes > best_votes) { best = j; best_votes = votes; }
        }
        major[l] = best;
    }
    for (int i = 0; i < nr; i++) {
        char list[600] = "";
        int nbad = 0, ref = -1;
        for (int l = 0; l < nl; l++) {
            uint64_t di = dig[(size_t)l * nr + i];
            if (!di || di == dig[(size_t)l * nr + major[l]]) continue;
            const RunDocs *d = runfile_docs(&rep->runs[i].file, leaves[l]), *dm = runfile_docs(&rep->runs[major[l]].file, leaves[l]);
            if (ref < 0) ref = major[l];
            if (nbad < 3) {
                size_t o = strlen(list);
                snprintf(list + o, sizeof list - o, "%s%s (%zu vs %zu documents%s)", nbad ? ", " : "", leaves[l], d->n, dm->n,
                         d->n == dm->n ? ", different prompts" : "");
            }
            nbad++;
        }
        if (!nbad) continue;
        char line[1600];
        snprintf(line, sizeof line, "%.300s was evaluated on different documents than %.300s: %.600s%s; not compared paired on %s",
                 rep->runs[i].rel, rep->runs[ref].rel, list, nbad > 3 ? " and more" : "", nbad > 1 ? "these tasks" : "this task");
        an->mismatch = xrealloc(an->mismatch, (size_t)(an->nmismatch + 1) * sizeof *an->mismatch);
        an->mismatch[an->nmismatch++] = xstrdup(line);
    }
    free(dig); free(major); free(leaves);
}

// The default reference row at `bits` (−1: none): the row labelled an->reference, or among
// the rows of method an->reference the one without row settings, else the first. *ncand:
// how many rows of that method share the bit-width (the report names the choice when > 1).
int reference_row(const Analysis *an, int bits, int *ncand) {
    const Report *rep = an->rep;
    int pick = -1, n = 0;
    if (ncand) *ncand = 0;
    if (bits <= 0) return -1;
    for (int q = 0; q < rep->nrows; q++) {
        const RowGroup *g = &rep->rows[q];
        if (g->bits != bits) continue;
        if (an->ref_by_label ? strcasecmp(g->label, an->reference) : strcmp(g->method, an->reference)) continue;
        n++;
        if (pick < 0 || (!g->settings[0] && rep->rows[pick].settings[0])) pick = q;
    }
    if (ncand) *ncand = n;
    return pick;
}

// The reference for row r: a row of another method is set against the reference method's
// row with the same settings when there is one (a budget sweep: steps=3000 against
// steps=3000), else the default; the reference method's own rows (an ablation) against the
// default. −1: none (or r itself).
static int reference_for(const Analysis *an, int r) {
    const Report *rep = an->rep;
    const RowGroup *g = &rep->rows[r];
    int q = reference_row(an, g->bits, NULL);
    if (q >= 0 && !an->ref_by_label && strcmp(g->method, an->reference) && g->settings[0])
        for (int k = 0; k < rep->nrows; k++)
            if (rep->rows[k].bits == g->bits && !strcmp(rep->rows[k].method, an->reference) && !strcmp(rep->rows[k].settings, g->settings)) {
                q = k;
                break;
            }
    return q == r ? -1 : q;
}

void analysis_run(Analysis *an, Report *rep, const char *reference) {
    memset(an, 0, sizeof *an);
    an->rep = rep;
    snprintf(an->reference, sizeof an->reference, "%s", reference ? reference : "l4q");
    const char *dir = tasks_default_dir();
    if (file_exists(dir)) { const char *dirs[1] = {dir}; an->reg = tasks_registry(dirs, 1); }
    size_t rc = (size_t)rep->nrows * (size_t)rep->ncols + 1;
    an->cache = xcalloc((size_t)rep->nruns * (size_t)rep->ncols + 1, sizeof *an->cache);
    an->ci_lo = xmalloc(rc * sizeof *an->ci_lo);
    an->ci_hi = xmalloc(rc * sizeof *an->ci_hi);
    an->bold = xcalloc(rc, sizeof *an->bold);
    an->vs_ref = xcalloc(rc, sizeof *an->vs_ref);
    an->ref_row = xmalloc(((size_t)rep->nrows + 1) * sizeof *an->ref_row);
    an->chance = xmalloc(((size_t)rep->ncols + 1) * sizeof *an->chance);
    for (int i = 0; i < rep->nruns; i++) an->nevidence += rep->runs[i].file.ndocs > 0;
    find_mismatches(an);
    for (int c = 0; c < rep->ncols; c++) {
        an->chance[c] = NAN;
        rep->cols[c].at_chance = 0;
        if (!strcmp(rep->cols[c].key, "avg")) { for (int r = 0; r < rep->nrows; r++) an->ci_lo[(size_t)r * rep->ncols + c] = an->ci_hi[(size_t)r * rep->ncols + c] = NAN; continue; }
        for (int r = 0; r < rep->nrows; r++) row_ci(an, r, c);
        // At chance: no row with evidence has its interval entirely above the chance level
        // (a row below chance carries no more signal than one at it).
        int with = 0, all_in = 1;
        for (int r = 0; r < rep->nrows && isfinite(an->chance[c]); r++) {
            double lo = an->ci_lo[(size_t)r * rep->ncols + c];
            if (!isfinite(lo)) continue;
            with++;
            all_in &= lo <= an->chance[c];
        }
        rep->cols[c].at_chance = with > 0 && all_in;
    }
    // Reference rows and the paired differences against them.
    // A method name wins over a label: the default "l4q" must not match only the row
    // labelled "L4Q" (the one without settings) when L4Q has rows with settings too.
    int is_method = 0;
    for (int q = 0; q < rep->nrows; q++) is_method |= !strcmp(rep->rows[q].method, an->reference);
    for (int q = 0; q < rep->nrows && !is_method; q++) an->ref_by_label |= !strcasecmp(rep->rows[q].label, an->reference);
    for (int r = 0; r < rep->nrows; r++) {
        an->ref_row[r] = reference_for(an, r);
        for (int c = 0; c < rep->ncols; c++) {
            Paired *p = &an->vs_ref[(size_t)r * rep->ncols + c];
            if (an->ref_row[r] >= 0 && strcmp(rep->cols[c].key, "avg")) analysis_compare(an, r, an->ref_row[r], c, p);
            else snprintf(p->why, sizeof p->why, "no reference row");
        }
    }
    // Bold: the best mean per bit-width and column, when it beats the runner-up at p < 0.05 —
    // never in a column at chance, where "best" is noise around the chance level.
    for (int c = 0; c < rep->ncols; c++) {
        const Column *col = &rep->cols[c];
        if (!strcmp(col->key, "avg") || col->at_chance) continue;
        for (int r = 0; r < rep->nrows; r++) {
            int best = -1, second = -1;
            double mb = NAN, ms = NAN;
            for (int q = 0; q < rep->nrows; q++) {
                if (rep->rows[q].bits != rep->rows[r].bits) continue;
                double m, sd;
                int n;
                table_cell(rep, &rep->rows[q], col, &m, &sd, &n);
                if (!n) continue;
                int better_than_best = best < 0 || (col->higher_better ? m > mb : m < mb);
                if (better_than_best) { second = best; ms = mb; best = q; mb = m; }
                else if (second < 0 || (col->higher_better ? m > ms : m < ms)) { second = q; ms = m; }
            }
            if (best != r || second < 0 || mb == ms) continue;
            Paired p;
            analysis_compare(an, best, second, c, &p);
            int right_way = col->higher_better ? p.est > 0 : p.est < 0;
            an->bold[(size_t)r * rep->ncols + c] = p.ok && p.p < 0.05 && right_way;
        }
    }
}

void analysis_free(Analysis *an) {
    const Report *rep = an->rep;
    for (size_t i = 0; i < (size_t)rep->nruns * (size_t)rep->ncols; i++) coldata_free(an->cache[i]);
    for (int i = 0; i < an->nmismatch; i++) free(an->mismatch[i]);
    if (an->reg) tasks_registry_free(an->reg);
    free(an->cache); free(an->ci_lo); free(an->ci_hi); free(an->bold); free(an->vs_ref); free(an->ref_row);
    free(an->chance); free(an->mismatch);
}
