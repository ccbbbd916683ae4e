// harness.c — see harness.h.
#include "evals/harness.h"
#include "ppl.h"
#include "util.h"
#include <cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <hdf5.h>
#include <hdf5_hl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void eval_options_default(EvalOptions *o) {
    memset(o, 0, sizeof *o);
    o->shots = -1;
}

// ---------------------------------------------------------------- requests

typedef struct {
    int *tok;       // ctx_enc ++ cont_enc after left truncation; input = tok[0..len-2]
    int len;        // tokens in tok (input length = len − 1)
    int ncont;      // scored positions: the last ncont inputs predict the continuation
    int nctx;       // tokens before the continuation (after truncation)
    int run, doc, choice;
    double ll;
    int greedy;
} Req;

typedef struct {
    const TaskDef *t;
    int shots;
    int ndocs, maxc;
    int *gold, *nch, *chars;   // chars: [ndocs*maxc] acc_norm lengths
    uint64_t *hash;
    Rendered *R;               // freed once tokenized
    int req0;                  // first request of this task in the request array
    PplResult ppl;             // perplexity tasks
} TaskRun;

static int *concat_ids(const int *a, int na, const int *b, int nb) {
    int *s = xmalloc((size_t)(na + nb > 0 ? na + nb : 1) * sizeof(int));
    memcpy(s, a, (size_t)na * sizeof(int));
    memcpy(s + na, b, (size_t)nb * sizeof(int));
    return s;
}

// lm-eval's _encode_pair plus the empty-context rule and left truncation to `window`.
static void encode_request(const Tokenizer *tok, int add_bos, const char *ctx, const char *cont, int window,
                           int **ctx_cache, int *ctx_cache_n, char **ctx_cache_key, Req *q) {
    int *ce, nce, *whole, nw, *cont_ids, ncont;
    if (!*ctx) {
        if (tok->bos_id < 0) die_input("the tokenizer has no BOS token to condition an empty context on");
        int *c;
        int nc = tok_encode(tok, cont, strlen(cont), 0, &c);
        int bos = tok->bos_id;
        q->tok = concat_ids(&bos, 1, c, nc);
        q->len = nc + 1;
        ncont = nc;
        free(c);
    } else {
        size_t lc = strlen(ctx), nsp = 0;
        while (nsp < lc && isspace((unsigned char)ctx[lc - 1 - nsp])) nsp++;
        size_t lctx = lc - nsp, lcont = strlen(cont);
        char *joined = xmalloc(lc + lcont + 1);
        memcpy(joined, ctx, lc);
        memcpy(joined + lc, cont, lcont + 1);
        int flags = add_bos ? TOK_BOS : 0;
        // The choices of one document share the context: encode it once.
        if (*ctx_cache_key && strlen(*ctx_cache_key) == lctx && !memcmp(*ctx_cache_key, ctx, lctx)) {
            ce = *ctx_cache; nce = *ctx_cache_n;
        } else {
            free(*ctx_cache); free(*ctx_cache_key);
            nce = tok_encode(tok, ctx, lctx, flags, &ce);
            if (nce == 0) { free(ce); int bos = tok->bos_id; ce = concat_ids(&bos, 1, NULL, 0); nce = 1; }
            *ctx_cache = ce; *ctx_cache_n = nce;
            *ctx_cache_key = xmalloc(lctx + 1);
            memcpy(*ctx_cache_key, ctx, lctx); (*ctx_cache_key)[lctx] = 0;
        }
        nw = tok_encode(tok, joined, lc + lcont, flags, &whole);
        free(joined);
        ncont = nw > nce ? nw - nce : 0;
        cont_ids = whole + (nw - ncont);
        q->tok = concat_ids(ce, nce, cont_ids, ncont);
        q->len = nce + ncont;
        free(whole);
    }
    if (q->len > window + 1) { // keep the last window+1 tokens
        int drop = q->len - (window + 1);
        memmove(q->tok, q->tok + drop, (size_t)(window + 1) * sizeof(int));
        q->len = window + 1;
    }
    q->nctx = q->len - ncont;
    if (ncont > q->len - 1) ncont = q->len - 1;
    q->ncont = ncont;
}

// ---------------------------------------------------------------- scoring

// A document's requests are scored in one of three ways, chosen per document:
//  U_ROW  one request per row (different contexts, or truncated ones);
//  U_ONE  every continuation is one token after the same input: one row serves all
//         choices, each read at the last position (MMLU's " A".." D", 4x fewer tokens);
//  U_KV   a shared, untruncated context with longer continuations: the context is run
//         once (B = 1) and each continuation extends it reusing the cached K/V.
// U_ROW and U_ONE rows are sorted by length and packed B×T; U_KV runs one document at a time.
// A model scored elsewhere (Model.scorer: --device cuda) gets U_ROW only: its scorer reads one
// target per row of whole B×T passes, with no K/V cache to extend.
enum { U_ROW, U_ONE, U_KV };
typedef struct { int kind; int nq; long q0; int len; } Unit; // len: input positions of the row

static int same_prefix(const Req *a, const Req *b, int n) {
    return a->len - 1 >= n && b->len - 1 >= n && !memcmp(a->tok, b->tok, (size_t)n * sizeof(int));
}

// Units for the requests Q[q0 .. q0+n) of one document (appended to *U).
static int doc_units(const Req *Q, long q0, int n, int window, int rows_only, Unit *U) {
    const Req *a = &Q[q0];
    int one = n > 1 && !rows_only, kv = n > 1 && !rows_only;
    for (int c = 0; c < n; c++) {
        const Req *q = &Q[q0 + c];
        one &= q->ncont == 1 && q->len == a->len && same_prefix(q, a, a->len - 1);
        kv &= q->ncont >= 1 && q->nctx == a->nctx && q->nctx >= 1 && q->len <= window + 1 &&
              q->ncont == q->len - q->nctx && same_prefix(q, a, a->nctx);
    }
    if (one) { U[0] = (Unit){U_ONE, n, q0, a->len - 1}; return 1; }
    if (kv) { U[0] = (Unit){U_KV, n, q0, a->nctx}; return 1; }
    for (int c = 0; c < n; c++) U[c] = (Unit){U_ROW, 1, q0 + c, Q[q0 + c].len - 1};
    return n;
}

static int cmp_unit_len(const void *a, const void *b) {
    const Unit *x = a, *y = b;
    if (x->len != y->len) return y->len - x->len; // longest first
    return x->q0 < y->q0 ? -1 : x->q0 > y->q0;
}

typedef struct {
    double t0, last;
    long done, total, toks;
    int tty;
} Progress;

static void progress_tick(Progress *p, int force) {
    if (!p->tty || (!force && now_sec() - p->last < 0.25)) return;
    p->last = now_sec();
    double el = p->last - p->t0, frac = p->total ? (double)p->done / p->total : 1;
    double eta = frac > 0 ? el / frac - el : 0;
    fprintf(stderr, "\reval: %ld/%ld requests  %.0f tok/s  elapsed %.0fs  ETA %.0fs   ", p->done, p->total,
            el > 0 ? p->toks / el : 0, el, eta);
    fflush(stderr);
}

// Head over rows [row0, row0+n) against targets: summed log-prob and all-greedy flag.
static void read_head(Model *m, const int *targets, int row0, int n, float *lp, int *gr, Req *q) {
    double s = 0;
    int g = 1;
    if (n > 0) {
        model_head(m, targets, NULL, row0, n, lp, gr, 0, 1.0f);
        for (int j = 0; j < n; j++) { s += lp[j]; g &= gr[j] != 0; }
    }
    q->ll = s;
    q->greedy = g;
}

static void score_packed(Model **mods, int nmods, Req *Q, Unit *U, long nu, int W, Progress *pg) {
    int maxcap = 0;
    for (int k = 0; k < nmods; k++) if (mods[k]->maxB * mods[k]->maxT > maxcap) maxcap = mods[k]->maxB * mods[k]->maxT;
    int *in = xmalloc((size_t)maxcap * sizeof(int));
    float *lp = xmalloc((size_t)(W + 1) * sizeof(float));
    int *gr = xmalloc((size_t)(W + 1) * sizeof(int));
    int *tg_all = xmalloc((size_t)maxcap * sizeof(int)), *gr_all = xmalloc((size_t)maxcap * sizeof(int));
    float *lp_all = xmalloc((size_t)maxcap * sizeof(float));
    long p = 0;
    while (p < nu) {
        int T = U[p].len;
        if (T <= 0) { // nothing to condition on: only possible for empty requests
            for (int c = 0; c < U[p].nq; c++) { Q[U[p].q0 + c].ll = 0; Q[U[p].q0 + c].greedy = 1; }
            pg->done += U[p].nq; p++; continue;
        }
        // The build with the most rows among those long enough.
        Model *m = NULL;
        for (int k = 0; k < nmods; k++)
            if (mods[k]->maxT >= T && (!m || mods[k]->maxB > m->maxB || (mods[k]->maxB == m->maxB && mods[k]->maxT < m->maxT))) m = mods[k];
        if (!m) die_internal("eval: request of %d tokens exceeds every model capacity", T);
        int B = m->maxB;
        if (B > nu - p) B = (int)(nu - p);
        for (int b = 0; b < B; b++) {
            const Req *q = &Q[U[p + b].q0];
            int L = U[p + b].len;
            memcpy(in + (size_t)b * T, q->tok, (size_t)L * sizeof(int));
            // Padding after the real tokens: causal attention keeps it out of them.
            for (int t = L; t < T; t++) in[(size_t)b * T + t] = 0;
        }
        if (!m->scorer.score) model_forward(m, in, B, T, 0);
        pg->toks += (long)B * T;
        long scored = 0;
        for (int b = 0; b < B; b++)
            if (U[p + b].kind == U_ROW) scored += Q[U[p + b].q0].ncont;
        if (m->scorer.score) scored = (long)B * T; // one scorer call per pass (U_ROW only)
        if (scored * 2 >= (long)B * T) {
            // Mostly scored rows (minimal pairs, short requests): one head call over the
            // whole pass instead of one small call per request.
            for (long i = 0; i < (long)B * T; i++) tg_all[i] = -1;
            for (int b = 0; b < B; b++) {
                if (U[p + b].kind != U_ROW) continue;
                const Req *q = &Q[U[p + b].q0];
                int L = U[p + b].len;
                memcpy(tg_all + (size_t)b * T + (L - q->ncont), q->tok + (L - q->ncont + 1), (size_t)q->ncont * sizeof(int));
            }
            if (m->scorer.score) m->scorer.score(m->scorer.ctx, in, tg_all, B, T, lp_all, gr_all);
            else model_head(m, tg_all, NULL, 0, B * T, lp_all, gr_all, 0, 1.0f);
        }
        for (int b = 0; b < B; b++) {
            const Unit *u = &U[p + b];
            int L = u->len;
            for (int c = 0; c < u->nq; c++) {
                Req *q = &Q[u->q0 + c];
                int row0 = b * T + (L - q->ncont);
                if (scored * 2 >= (long)B * T && u->kind == U_ROW) {
                    double sum = 0;
                    int g = 1;
                    for (int j = 0; j < q->ncont; j++) { sum += lp_all[row0 + j]; g &= gr_all[row0 + j] != 0; }
                    q->ll = sum;
                    q->greedy = g;
                } else {
                    read_head(m, q->tok + (L - q->ncont + 1), row0, q->ncont, lp, gr, q);
                }
            }
            pg->done += u->nq;
        }
        p += B;
        progress_tick(pg, 0);
    }
    free(in); free(lp); free(gr); free(tg_all); free(gr_all); free(lp_all);
}

static void score_kv(Model *M, Req *Q, const Unit *u, float *lp, int *gr, Progress *pg) {
    const Req *a = &Q[u->q0];
    int nctx = a->nctx;
    model_forward(M, a->tok, 1, nctx, 0);
    pg->toks += nctx;
    for (int c = 0; c < u->nq; c++) {
        Req *q = &Q[u->q0 + c];
        // The first continuation token is predicted from the last context position; the
        // rest need the continuation's own positions (all but its last token).
        int T = nctx + q->ncont - 1;
        if (T > nctx) { model_forward(M, q->tok, 1, T, nctx); pg->toks += T - nctx; }
        read_head(M, q->tok + nctx, nctx - 1, q->ncont, lp, gr, q);
    }
    pg->done += u->nq;
}

static void score_units(Model **mods, int nmods, Req *Q, long nq, Unit *U, long nu, int progress, long *tokens_out) {
    int W = mods[0]->maxT;
    Progress pg = {now_sec(), 0, 0, nq, 0, progress && is_tty(stderr)};
    // Packed units first (sorted by length), then the KV ones.
    long np = 0;
    for (long i = 0; i < nu; i++) if (U[i].kind != U_KV) { Unit t = U[np]; U[np] = U[i]; U[i] = t; np++; }
    qsort(U, np, sizeof(Unit), cmp_unit_len);
    score_packed(mods, nmods, Q, U, np, W, &pg);
    float *lp = xmalloc((size_t)(W + 1) * sizeof(float));
    int *gr = xmalloc((size_t)(W + 1) * sizeof(int));
    for (long i = np; i < nu; i++) { score_kv(mods[0], Q, &U[i], lp, gr, &pg); progress_tick(&pg, 0); }
    free(lp); free(gr);
    if (pg.tty && nq) { progress_tick(&pg, 1); fputc('\n', stderr); }
    *tokens_out += pg.toks;
}

// ---------------------------------------------------------------- metrics

static void add_metric(EvalResult *r, const char *task, const char *metric, double v, double se, long n, int shots, int group) {
    r->m = xrealloc(r->m, (size_t)(r->n + 1) * sizeof(EvalMetric));
    EvalMetric *e = &r->m[r->n++];
    memset(e, 0, sizeof *e);
    snprintf(e->task, sizeof e->task, "%s", task);
    snprintf(e->metric, sizeof e->metric, "%s", metric);
    e->value = v; e->stderr_ = se; e->n = n; e->shots = shots; e->is_group = group;
}

// lm-eval mean_stderr for a 0/1 metric: sample stddev (n−1) / sqrt(n) = sqrt(p(1−p)/(n−1)).
static double binom_stderr(double p, long n) {
    return n > 1 ? sqrt(p * (1 - p) / (double)(n - 1)) : NAN;
}

// One JSON line per document for --log-samples (lm-eval's --log_samples in spirit): the
// rendered requests exactly as scored, their summed log-likelihoods, greedy flags, gold
// and the document's outcome.
static void log_sample(FILE *f, const TaskRun *tr, int d, const Req *q, int n, char **ctx, char **cont, int ok, int okn) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "task", tr->t->name);
    cJSON_AddNumberToObject(o, "doc_id", d);
    cJSON_AddNumberToObject(o, "shots", tr->shots);
    cJSON_AddNumberToObject(o, "target", tr->gold[d]);
    cJSON *args = cJSON_AddArrayToObject(o, "arguments"), *ll = cJSON_AddArrayToObject(o, "loglikelihoods"),
          *gr = cJSON_AddArrayToObject(o, "is_greedy"), *nt = cJSON_AddArrayToObject(o, "continuation_tokens");
    for (int k = 0; k < n; k++) {
        cJSON *pair = cJSON_CreateArray();
        cJSON_AddItemToArray(pair, cJSON_CreateString(ctx[k] ? ctx[k] : ""));
        cJSON_AddItemToArray(pair, cJSON_CreateString(cont[k] ? cont[k] : ""));
        cJSON_AddItemToArray(args, pair);
        cJSON_AddItemToArray(ll, cJSON_CreateNumber(q[k].ll));
        cJSON_AddItemToArray(gr, cJSON_CreateBool(q[k].greedy));
        cJSON_AddItemToArray(nt, cJSON_CreateNumber(q[k].ncont));
    }
    cJSON_AddNumberToObject(o, "acc", ok);
    if (tr->t->type == OT_MULTIPLE_CHOICE) cJSON_AddNumberToObject(o, "acc_norm", okn);
    char h[17];
    snprintf(h, sizeof h, "%016llx", (unsigned long long)tr->hash[d]);
    cJSON_AddStringToObject(o, "prompt_hash", h);
    char *js = cJSON_PrintUnformatted(o);
    fprintf(f, "%s\n", js);
    free(js);
    cJSON_Delete(o);
}

static void task_metrics(EvalResult *r, TaskRun *tr, const Req *Q, EvalDocs *keep, FILE *samples, char **sctx, char **scont) {
    const TaskDef *t = tr->t;
    int nd = tr->ndocs, mc = tr->maxc;
    long acc = 0, accn = 0;
    double sum_ll = 0, sum_ll2 = 0;
    if (keep) {
        memset(keep, 0, sizeof *keep);
        snprintf(keep->name, sizeof keep->name, "%s", t->name);
        keep->type = t->type; keep->ndocs = nd; keep->maxc = mc; keep->shots = tr->shots;
        keep->gold = xmalloc((size_t)nd * sizeof(int));
        keep->nchoices = xmalloc((size_t)nd * sizeof(int));
        keep->ll = xmalloc((size_t)nd * mc * sizeof(double));
        keep->greedy = xcalloc((size_t)nd * mc, 1);
        keep->ntok = xcalloc((size_t)nd * mc, sizeof(int));
        keep->acc = xcalloc(nd, 1);
        keep->acc_norm = xcalloc(nd, 1);
        keep->hash = xmalloc((size_t)nd * sizeof(uint64_t));
        for (long i = 0; i < (long)nd * mc; i++) keep->ll[i] = NAN;
    }
    const Req *q = Q + tr->req0;
    for (int d = 0; d < nd; d++) {
        int n = tr->nch[d], g = tr->gold[d];
        int ok = 0, okn = 0;
        if (t->type == OT_LOGLIKELIHOOD) {
            ok = q[0].greedy;
            sum_ll += q[0].ll; sum_ll2 += q[0].ll * q[0].ll;
        } else if (t->type == OT_MINIMAL_PAIR) {
            ok = q[g].ll > q[1 - g].ll; // README "Evaluation": strictly more likely
        } else {
            int best = 0, bestn = 0;
            for (int k = 1; k < n; k++) {
                if (q[k].ll > q[best].ll) best = k; // first maximum, like numpy argmax
                double a = q[k].ll / (tr->chars[d * mc + k] > 0 ? tr->chars[d * mc + k] : 1);
                double b = q[bestn].ll / (tr->chars[d * mc + bestn] > 0 ? tr->chars[d * mc + bestn] : 1);
                if (a > b) bestn = k;
            }
            ok = best == g; okn = bestn == g;
        }
        acc += ok; accn += okn;
        if (samples) {
            long k0 = q - Q;
            log_sample(samples, tr, d, q, n, sctx + k0, scont + k0, ok, okn);
        }
        if (keep) {
            keep->gold[d] = g; keep->nchoices[d] = n; keep->hash[d] = tr->hash[d];
            keep->acc[d] = (unsigned char)ok; keep->acc_norm[d] = (unsigned char)okn;
            for (int k = 0; k < n; k++) {
                keep->ll[(size_t)d * mc + k] = q[k].ll;
                keep->greedy[(size_t)d * mc + k] = (unsigned char)q[k].greedy;
                keep->ntok[(size_t)d * mc + k] = q[k].ncont;
            }
        }
        q += n;
    }
    double pa = nd ? (double)acc / nd : NAN, pn = nd ? (double)accn / nd : NAN;
    if (t->metrics & M_ACC) add_metric(r, t->name, "acc", pa, binom_stderr(pa, nd), nd, tr->shots, 0);
    if (t->metrics & M_ACC_NORM) add_metric(r, t->name, "acc_norm", pn, binom_stderr(pn, nd), nd, tr->shots, 0);
    if (t->metrics & M_PPL) {
        // lm-eval: perplexity = exp(−mean per-document log-likelihood). lm-eval bootstraps
        // its stderr; we use the delta method: ppl · stderr(mean ll).
        double mean = sum_ll / nd, var = nd > 1 ? (sum_ll2 - nd * mean * mean) / (nd - 1) : NAN;
        double ppl = exp(-mean);
        add_metric(r, t->name, "perplexity", ppl, nd > 1 ? ppl * sqrt(var > 0 ? var : 0) / sqrt((double)nd) : NAN, nd, tr->shots, 0);
    }
}

static const EvalMetric *find_metric(const EvalResult *r, const char *task, const char *metric) {
    for (int i = 0; i < r->n; i++)
        if (!strcmp(r->m[i].task, task) && !strcmp(r->m[i].metric, metric)) return &r->m[i];
    return NULL;
}

// A group's score for every metric all its members report. Weighted: micro-average over
// documents with lm-eval's pooled_sample_stderr; unweighted: the plain mean of member
// scores with stderr sqrt(Σ se²)/k (independent members).
static void group_metrics(EvalResult *r, const GroupDef *g) {
    static const char *MET[] = {"acc", "acc_norm"};
    for (int mi = 0; mi < 2; mi++) {
        const EvalMetric **mem = xmalloc((size_t)g->n * sizeof(*mem));
        int ok = 1;
        for (int j = 0; j < g->n && ok; j++) ok = (mem[j] = find_metric(r, g->members[j], MET[mi])) != NULL;
        if (ok && g->n > 0) {
            double sw = 0, sv = 0, se2 = 0, pooled = 0;
            long N = 0;
            for (int j = 0; j < g->n; j++) {
                long n = mem[j]->n;
                N += n;
                sw += g->weight_by_size ? n : 1;
                sv += (g->weight_by_size ? n : 1) * mem[j]->value;
                se2 += mem[j]->stderr_ * mem[j]->stderr_;
                pooled += (double)(n - 1) * mem[j]->stderr_ * mem[j]->stderr_ * n;
            }
            double v = sv / sw, se;
            if (g->weight_by_size) se = N - g->n > 0 ? sqrt(pooled / (double)(N - g->n) / (double)N) : NAN;
            else se = sqrt(se2) / g->n;
            add_metric(r, g->name, MET[mi], v, se, N, -1, 1);
        }
        free(mem);
    }
}

// ---------------------------------------------------------------- the run

static TaskRegistry *open_registry(const EvalOptions *opt, const char *const *names, int n) {
    const char *dirs[2];
    int nd = 0;
    if (opt->task_dir) dirs[nd++] = opt->task_dir;
    dirs[nd++] = tasks_default_dir();
    if (nd == 2 && !strcmp(dirs[0], dirs[1])) nd = 1;
    return tasks_registry_open(names, n, dirs, nd);
}

static int group_contains(const TaskRegistry *reg, const char *group, const char *task, int depth) {
    if (depth > 16) return 0;
    for (int g = 0; g < reg->ngroups; g++) {
        if (strcmp(reg->groups[g].name, group)) continue;
        for (int k = 0; k < reg->groups[g].n; k++)
            if (!strcmp(reg->groups[g].members[k], task) || group_contains(reg, reg->groups[g].members[k], task, depth + 1))
                return 1;
    }
    return 0;
}

// Every per-task limit must name a task or group: a typo would silently evaluate all.
static void check_limits(const TaskRegistry *reg, const EvalOptions *opt) {
    for (int k = 0; k < opt->nlimits; k++) {
        int found = 0;
        for (int i = 0; i < reg->ntasks && !found; i++) found = !strcmp(reg->tasks[i].name, opt->limit_names[k]);
        for (int g = 0; g < reg->ngroups && !found; g++) found = !strcmp(reg->groups[g].name, opt->limit_names[k]);
        if (!found) die_input("eval.limits: '%s' is not a task or group", opt->limit_names[k]);
    }
}

// The document limit of task t: its own or its group's override, else opt->limit — which
// is a per-document cap for scored tasks and never shrinks a perplexity task silently: only
// an entry naming it (or its group), or opt->windows (eval --windows), caps its windows.
static int task_limit(const TaskRegistry *reg, const TaskDef *t, const EvalOptions *opt) {
    for (int k = 0; k < opt->nlimits; k++)
        if (!strcmp(opt->limit_names[k], t->name) || group_contains(reg, opt->limit_names[k], t->name, 0))
            return (int)opt->limit_values[k];
    return t->type == OT_PERPLEXITY ? opt->windows : opt->limit;
}

// Loads and renders every document of a task (the few-shot stream consumed in order).
static void render_task(TaskRun *tr, const EvalOptions *opt, int limit_override) {
    const TaskDef *t = tr->t;
    DocSet *ev = docset_load(t, &t->data);
    int shots = opt->shots >= 0 ? opt->shots : t->num_fewshot;
    // Minimal pairs compare two whole sentences from BOS (README "Evaluation"): never with shots.
    if (t->type == OT_MINIMAL_PAIR) shots = 0;
    tr->shots = shots;
    DocSet *pool = NULL;
    if (shots > 0 && t->has_fewshot_data) pool = docset_load(t, &t->fewshot_data);
    int limit = limit_override;
    int nd = limit > 0 && limit < ev->n ? limit : ev->n;
    tr->ndocs = nd;
    tr->R = xcalloc((size_t)nd, sizeof(Rendered));
    PyRandom rng;
    pyrandom_seed(&rng, t->seed);
    int maxc = 1;
    for (int d = 0; d < nd; d++) {
        task_render(t, ev, pool, d, shots, &rng, &tr->R[d]);
        if (tr->R[d].nreq > maxc) maxc = tr->R[d].nreq;
    }
    tr->maxc = maxc;
    tr->gold = xmalloc((size_t)nd * sizeof(int));
    tr->nch = xmalloc((size_t)nd * sizeof(int));
    tr->chars = xcalloc((size_t)nd * maxc, sizeof(int));
    tr->hash = xmalloc((size_t)nd * sizeof(uint64_t));
    for (int d = 0; d < nd; d++) {
        tr->gold[d] = tr->R[d].gold;
        tr->nch[d] = tr->R[d].nreq;
        tr->hash[d] = tr->R[d].hash;
        for (int k = 0; k < tr->R[d].nreq; k++) tr->chars[d * maxc + k] = tr->R[d].choice_chars[k];
    }
    docset_free(ev);
    docset_free(pool);
}

static void free_run(TaskRun *tr) {
    if (tr->R) for (int d = 0; d < tr->ndocs; d++) rendered_free(&tr->R[d]);
    free(tr->R); free(tr->gold); free(tr->nch); free(tr->chars); free(tr->hash);
}

void eval_tasks_check(const char *const *names, int n, const EvalOptions *opt) {
    TaskRegistry *reg = open_registry(opt, names, n);
    TaskSelection sel = tasks_select(reg, names, n);
    check_limits(reg, opt);
    tasks_selection_free(&sel);
    tasks_registry_free(reg);
}

EvalResult *eval_tasks(Model *M, const Tokenizer *tok, const char *const *names, int n, const EvalOptions *opt) {
    EvalOptions defo;
    if (!opt) { eval_options_default(&defo); opt = &defo; }
    double t0 = now_sec();
    TaskRegistry *reg = open_registry(opt, names, n);
    TaskSelection sel = tasks_select(reg, names, n);
    check_limits(reg, opt);
    EvalResult *res = xcalloc(1, sizeof *res);
    int W = M->maxT;
    Model *mods[5] = {M};
    int nmods = 1;
    for (int k = 0; k < opt->naux && k < 4 && !M->scorer.score; k++) // a scored model runs every pass
        if (opt->aux[k] && opt->aux[k]->maxT <= W) mods[nmods++] = opt->aux[k];

    int nt = sel.ntasks;
    TaskRun *runs = xcalloc((size_t)nt, sizeof(TaskRun));
    long nq = 0;
    for (int i = 0; i < nt; i++) {
        runs[i].t = &reg->tasks[sel.task_idx[i]];
        if (runs[i].t->type == OT_PERPLEXITY) continue;
        render_task(&runs[i], opt, task_limit(reg, runs[i].t, opt));
        runs[i].req0 = (int)nq;
        for (int d = 0; d < runs[i].ndocs; d++) nq += runs[i].R[d].nreq;
    }

    // Tokenize (documents in parallel; a document's requests share the context encoding).
    Req *Q = xcalloc((size_t)(nq > 0 ? nq : 1), sizeof(Req));
    char **sctx = NULL, **scont = NULL;
    FILE *samples = NULL;
    char samples_tmp[4200];
    if (opt->log_samples) {
        sctx = xcalloc((size_t)(nq > 0 ? nq : 1), sizeof(char *));
        scont = xcalloc((size_t)(nq > 0 ? nq : 1), sizeof(char *));
        snprintf(samples_tmp, sizeof samples_tmp, "%s.tmp", opt->log_samples);
        samples = fopen(samples_tmp, "w");
        if (!samples) die_input("%s: cannot write (%s)", samples_tmp, strerror(errno));
    }
    typedef struct { int run, doc; long q0; int nu; } Job;
    long njobs = 0;
    for (int i = 0; i < nt; i++) njobs += runs[i].t->type == OT_PERPLEXITY ? 0 : runs[i].ndocs;
    Job *jobs = xmalloc((size_t)(njobs > 0 ? njobs : 1) * sizeof(Job));
    Unit *U = xmalloc((size_t)(nq > 0 ? nq : 1) * sizeof(Unit)); // ≤ one unit per request
    long j = 0, q0 = 0;
    for (int i = 0; i < nt; i++) {
        if (runs[i].t->type == OT_PERPLEXITY) continue;
        for (int d = 0; d < runs[i].ndocs; d++) { jobs[j++] = (Job){i, d, q0, 0}; q0 += runs[i].R[d].nreq; }
    }
    #pragma omp parallel for schedule(dynamic, 16)
    for (long k = 0; k < njobs; k++) {
        TaskRun *tr = &runs[jobs[k].run];
        Rendered *R = &tr->R[jobs[k].doc];
        int *cache = NULL, ncache = 0;
        char *key = NULL;
        for (int c = 0; c < R->nreq; c++) {
            Req *q = &Q[jobs[k].q0 + c];
            q->run = jobs[k].run; q->doc = jobs[k].doc; q->choice = c;
            encode_request(tok, tr->t->add_bos, R->ctx[c], R->cont[c], W, &cache, &ncache, &key, q);
        }
        free(cache); free(key);
        // Units are written at the document's first request slot, compacted below.
        jobs[k].nu = doc_units(Q, jobs[k].q0, R->nreq, W, M->scorer.score != NULL, &U[jobs[k].q0]);
        if (sctx) // --log-samples keeps the rendered strings until the scores are known
            for (int c = 0; c < R->nreq; c++) {
                sctx[jobs[k].q0 + c] = R->ctx[c]; scont[jobs[k].q0 + c] = R->cont[c];
                R->ctx[c] = R->cont[c] = NULL;
            }
        rendered_free(R);
    }
    long nu = 0;
    for (long k = 0; k < njobs; k++)
        for (int c = 0; c < jobs[k].nu; c++) U[nu++] = U[jobs[k].q0 + c];
    free(jobs);
    for (int i = 0; i < nt; i++) { free(runs[i].R); runs[i].R = NULL; }

    score_units(mods, nmods, Q, nq, U, nu, opt->progress, &res->tokens);
    free(U);
    res->requests = nq;

    if (opt->keep_docs) res->docs = xcalloc((size_t)nt, sizeof(EvalDocs));
    for (int i = 0; i < nt; i++) {
        TaskRun *tr = &runs[i];
        if (tr->t->type == OT_PERPLEXITY) {
            // The perplexity protocol (docs/evaluation.md) over the task's text, windows of the model window;
            // a limits entry naming the task keeps its first N windows.
            // Streamed from the file (ppl_file): memory does not grow with the text.
            int lim = task_limit(reg, tr->t, opt);
            long keep = lim > 0 ? (long)lim * W + 1 : 0;
            // Replicas per thread are the same model only when M is its file's weights;
            // anything else (a method's layers, quantized or trained) runs on M itself.
            tr->ppl = model_is_file(M) && !M->scorer.score ? ppl_file_replicated(M->mf, 0, tok, tr->t->data.path, keep, W, opt->keep_docs, opt->progress)
                                       : ppl_file(&M, 1, tok, tr->t->data.path, keep, W, opt->keep_docs, opt->progress);
            res->tokens += tr->ppl.predicted;
            if (opt->keep_docs) {
                EvalDocs *d = &res->docs[res->ndocs++];
                memset(d, 0, sizeof *d);
                snprintf(d->name, sizeof d->name, "%s", tr->t->name);
                d->type = OT_PERPLEXITY; d->ndocs = (int)tr->ppl.windows; d->maxc = 1; d->shots = 0;
                d->nll = tr->ppl.win_nll; d->ntok = tr->ppl.win_ntok; d->hash = tr->ppl.win_hash;
                tr->ppl.win_nll = NULL; tr->ppl.win_ntok = NULL; tr->ppl.win_hash = NULL;
            }
            double loss = tr->ppl.predicted ? tr->ppl.nll / tr->ppl.predicted : NAN;
            // Every perplexity says what it stands on: windows of W, predicted tokens (n).
            if (tr->t->metrics & M_LOSS) {
                add_metric(res, tr->t->name, "loss", loss, NAN, tr->ppl.predicted, 0, 0);
                res->m[res->n - 1].windows = tr->ppl.windows; res->m[res->n - 1].window_len = W;
            }
            if (tr->t->metrics & M_PPL) {
                add_metric(res, tr->t->name, "ppl", exp(loss), NAN, tr->ppl.predicted, 0, 0);
                res->m[res->n - 1].windows = tr->ppl.windows; res->m[res->n - 1].window_len = W;
            }
            continue;
        }
        EvalDocs *keep = opt->keep_docs ? &res->docs[res->ndocs++] : NULL;
        task_metrics(res, tr, Q, keep, samples, sctx, scont);
    }
    if (samples) {
        if (fclose(samples) != 0) die_input("%s: write failed (%s)", samples_tmp, strerror(errno));
        if (rename(samples_tmp, opt->log_samples) != 0) die_input("%s: cannot rename (%s)", opt->log_samples, strerror(errno));
        for (long k = 0; k < nq; k++) { free(sctx[k]); free(scont[k]); }
        free(sctx); free(scont);
    }
    for (int g = 0; g < sel.ngroups; g++) group_metrics(res, &reg->groups[sel.group_idx[g]]);

    for (long k = 0; k < nq; k++) free(Q[k].tok);
    free(Q);
    for (int i = 0; i < nt; i++) free_run(&runs[i]);
    free(runs);
    tasks_selection_free(&sel);
    tasks_registry_free(reg);
    res->seconds = now_sec() - t0;
    return res;
}

void eval_docs_free(EvalDocs *d) {
    free(d->gold); free(d->nchoices); free(d->ll); free(d->greedy); free(d->ntok);
    free(d->acc); free(d->acc_norm); free(d->hash); free(d->nll);
}

void eval_result_free(EvalResult *r) {
    if (!r) return;
    for (int i = 0; i < r->ndocs; i++) eval_docs_free(&r->docs[i]);
    free(r->docs); free(r->m); free(r);
}

int eval_result_count(const EvalResult *r) { return r->n; }
const EvalMetric *eval_result_get(const EvalResult *r, int i) { return i >= 0 && i < r->n ? &r->m[i] : NULL; }

// ---------------------------------------------------------------- output

void eval_result_print(const EvalResult *r, FILE *f) { eval_result_print_only(r, f, NULL, 0); }

static int named(const char *task, const char *const *only, int nonly) {
    if (!only) return 1;
    for (int k = 0; k < nonly; k++) if (!strcmp(only[k], task)) return 1;
    return 0;
}

void eval_result_print_only(const EvalResult *r, FILE *f, const char *const *only, int nonly) {
    int w = 4; // the task column fits the longest name shown
    for (int i = 0; i < r->n; i++)
        if (named(r->m[i].task, only, nonly)) {
            int l = (int)strlen(r->m[i].task) + (r->m[i].is_group ? 8 : 0);
            if (l > w) w = l;
        }
    char dash[200];
    memset(dash, '-', sizeof dash - 1); dash[sizeof dash - 1] = 0;
    fprintf(f, "| %-*s | %9s | %5s | %-10s | %9s | %8s |\n", w, "task", "n", "shots", "metric", "value", "stderr");
    fprintf(f, "|%.*s|%.11s|%.7s|%.12s|%.11s|%.10s|\n", w + 2, dash, dash, dash, dash, dash, dash);
    for (int i = 0; i < r->n; i++) {
        const EvalMetric *m = &r->m[i];
        if (!named(m->task, only, nonly)) continue;
        char shots[16], name[160];
        if (m->shots >= 0) snprintf(shots, sizeof shots, "%d", m->shots); else snprintf(shots, sizeof shots, "-");
        snprintf(name, sizeof name, "%s%s", m->is_group ? "[group] " : "", m->task);
        char se[32];
        if (isnan(m->stderr_)) snprintf(se, sizeof se, "-"); else snprintf(se, sizeof se, "%.4f", m->stderr_);
        fprintf(f, "| %-*s | %9ld | %5s | %-10s | %9.4f | %8s |\n", w, name, m->n, shots, m->metric, m->value, se);
    }
    for (int i = 0; i < r->n; i++)
        if (r->m[i].windows > 0 && !strcmp(r->m[i].metric, "ppl") && named(r->m[i].task, only, nonly))
            fprintf(f, "%s ppl: %ld windows of %d tokens, %ld predicted tokens (n)\n", r->m[i].task, r->m[i].windows,
                    r->m[i].window_len, r->m[i].n);
    fprintf(f, "%ld requests, %ld forward tokens, %.1f s\n", r->requests, r->tokens, r->seconds);
}

static cJSON *num_or_null(double v) { return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull(); }

char *eval_result_json(const EvalResult *r, const char *model_path, int shots, int limit) {
    cJSON *root = cJSON_CreateObject();
    if (model_path) cJSON_AddStringToObject(root, "model", model_path);
    if (shots >= 0) cJSON_AddNumberToObject(root, "shots", shots); else cJSON_AddNullToObject(root, "shots");
    cJSON_AddNumberToObject(root, "limit", limit);
    cJSON *res = cJSON_AddObjectToObject(root, "results");
    cJSON *groups = cJSON_AddArrayToObject(root, "groups");
    for (int i = 0; i < r->n; i++) {
        const EvalMetric *m = &r->m[i];
        cJSON *t = cJSON_GetObjectItemCaseSensitive(res, m->task);
        if (!t) {
            t = cJSON_AddObjectToObject(res, m->task);
            cJSON_AddNumberToObject(t, "n", (double)m->n);
            if (m->windows > 0) { cJSON_AddNumberToObject(t, "windows", (double)m->windows); cJSON_AddNumberToObject(t, "window_len", m->window_len); }
            if (m->shots >= 0) cJSON_AddNumberToObject(t, "shots", m->shots);
            if (m->is_group) cJSON_AddItemToArray(groups, cJSON_CreateString(m->task));
        }
        cJSON_AddItemToObject(t, m->metric, num_or_null(m->value));
        char key[64];
        snprintf(key, sizeof key, "%s_stderr", m->metric);
        cJSON_AddItemToObject(t, key, num_or_null(m->stderr_));
    }
    cJSON_AddNumberToObject(root, "requests", (double)r->requests);
    cJSON_AddNumberToObject(root, "forward_tokens", (double)r->tokens);
    cJSON_AddNumberToObject(root, "seconds", r->seconds);
    char *s = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return s;
}

#define H5OK(x, what) do { if ((x) < 0) die_input("%s: HDF5 error writing %s: %s", tmp, what, strerror(errno)); } while (0)

void eval_docs_write_h5(long long loc, const EvalDocs *d, const char *tmp) {
    hid_t g = H5Gcreate2((hid_t)loc, d->name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5OK(g, d->name);
    hsize_t n1[1] = {(hsize_t)d->ndocs}, n2[2] = {(hsize_t)d->ndocs, (hsize_t)d->maxc};
    static const char *TYPES[] = {"multiple_choice", "minimal_pair", "loglikelihood", "perplexity"};
    H5OK(H5LTset_attribute_string(g, ".", "output_type", TYPES[d->type]), "output_type");
    int shots = d->shots;
    H5OK(H5LTset_attribute_int(g, ".", "shots", &shots, 1), "shots");
    if (d->type == OT_PERPLEXITY) {
        H5OK(H5LTmake_dataset(g, "nll", 1, n1, H5T_NATIVE_DOUBLE, d->nll), "nll");
        H5OK(H5LTmake_dataset(g, "ntok", 1, n1, H5T_NATIVE_INT, d->ntok), "ntok");
    } else {
        H5OK(H5LTmake_dataset(g, "gold", 1, n1, H5T_NATIVE_INT, d->gold), "gold");
        H5OK(H5LTmake_dataset(g, "nchoices", 1, n1, H5T_NATIVE_INT, d->nchoices), "nchoices");
        H5OK(H5LTmake_dataset(g, "ll", 2, n2, H5T_NATIVE_DOUBLE, d->ll), "ll");
        H5OK(H5LTmake_dataset(g, "greedy", 2, n2, H5T_NATIVE_UCHAR, d->greedy), "greedy");
        H5OK(H5LTmake_dataset(g, "ntok", 2, n2, H5T_NATIVE_INT, d->ntok), "ntok");
        H5OK(H5LTmake_dataset(g, "acc", 1, n1, H5T_NATIVE_UCHAR, d->acc), "acc");
        if (d->type == OT_MULTIPLE_CHOICE) H5OK(H5LTmake_dataset(g, "acc_norm", 1, n1, H5T_NATIVE_UCHAR, d->acc_norm), "acc_norm");
    }
    H5OK(H5LTmake_dataset(g, "prompt_hash", 1, n1, H5T_NATIVE_UINT64, d->hash), "prompt_hash");
    H5Gclose(g);
}

void eval_result_write_h5(const EvalResult *r, const char *path, const char *model_path) {
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0) die_input("%s: cannot create HDF5 file: %s", tmp, strerror(errno));
    temp_track(tmp);
    if (model_path) H5OK(H5LTset_attribute_string(f, "/", "model", model_path), "model");
    hid_t gt = H5Gcreate2(f, "tasks", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    hid_t gm = H5Gcreate2(f, "metrics", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5OK(gt, "tasks"); H5OK(gm, "metrics");
    for (int i = 0; i < r->ndocs; i++) eval_docs_write_h5(gt, &r->docs[i], tmp);
    for (int i = 0; i < r->n; i++) {
        const EvalMetric *m = &r->m[i];
        if (H5Lexists(gm, m->task, H5P_DEFAULT) <= 0) {
            hid_t g = H5Gcreate2(gm, m->task, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
            H5OK(g, m->task);
            long long n = m->n;
            H5OK(H5LTset_attribute_long_long(g, ".", "n", &n, 1), "n");
            int grp = m->is_group;
            H5OK(H5LTset_attribute_int(g, ".", "is_group", &grp, 1), "is_group");
            H5Gclose(g);
        }
        char key[64];
        hid_t g = H5Gopen2(gm, m->task, H5P_DEFAULT);
        H5OK(H5LTset_attribute_double(g, ".", m->metric, &m->value, 1), m->metric);
        snprintf(key, sizeof key, "%s_stderr", m->metric);
        H5OK(H5LTset_attribute_double(g, ".", key, &m->stderr_, 1), key);
        H5Gclose(g);
    }
    H5Gclose(gt); H5Gclose(gm);
    if (H5Fclose(f) < 0) die_input("%s: HDF5 close failed: %s", tmp, strerror(errno));
    if (rename(tmp, path) != 0) die_input("%s: cannot rename to %s: %s", tmp, path, strerror(errno));
    temp_done(tmp);
}

// ---------------------------------------------------------------- render (testing)

char *eval_render_json(const char *const *names, int nnames, const EvalOptions *opt, int n) {
    TaskRegistry *reg = open_registry(opt, names, nnames);
    TaskSelection sel = tasks_select(reg, names, nnames);
    cJSON *root = cJSON_CreateObject();
    cJSON *tasks = cJSON_AddObjectToObject(root, "tasks");
    for (int i = 0; i < sel.ntasks; i++) {
        TaskRun tr;
        memset(&tr, 0, sizeof tr);
        tr.t = &reg->tasks[sel.task_idx[i]];
        if (tr.t->type == OT_PERPLEXITY) continue;
        render_task(&tr, opt, n > 0 ? n : opt->limit);
        cJSON *arr = cJSON_AddArrayToObject(tasks, tr.t->name);
        for (int d = 0; d < tr.ndocs; d++) {
            Rendered *R = &tr.R[d];
            cJSON *o = cJSON_CreateObject();
            cJSON_AddNumberToObject(o, "doc", d);
            cJSON_AddNumberToObject(o, "gold", R->gold);
            cJSON *sh = cJSON_AddArrayToObject(o, "shots");
            for (int k = 0; k < R->nshots; k++) cJSON_AddItemToArray(sh, cJSON_CreateNumber(R->shots[k]));
            char hx[24];
            snprintf(hx, sizeof hx, "%016llx", (unsigned long long)R->hash);
            cJSON_AddStringToObject(o, "hash", hx);
            cJSON *rq = cJSON_AddArrayToObject(o, "requests");
            for (int k = 0; k < R->nreq; k++) {
                cJSON *pair = cJSON_CreateArray();
                cJSON_AddItemToArray(pair, cJSON_CreateString(R->ctx[k]));
                cJSON_AddItemToArray(pair, cJSON_CreateString(R->cont[k]));
                cJSON_AddItemToArray(rq, pair);
            }
            cJSON_AddItemToArray(arr, o);
        }
        free_run(&tr);
    }
    tasks_selection_free(&sel);
    tasks_registry_free(reg);
    char *s = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return s;
}
