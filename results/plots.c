// plots.c — the report's PNGs via gnuplot (Debian gnuplot-nox: pngcairo, else the libgd
// png terminal): training loss per method, each main column against bit-width, and
// ablation curves over numeric row settings (rank, group size, ...). Data files and the
// script stay in DIR/plots so a plot can be restyled by hand.
#include "plots.h"
#include "runlog_read.h"
#include "util.h"
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

// Run gnuplot with args in cwd; stdout/stderr to log (or /dev/null). Returns exit status.
static int run_gnuplot(const char *cwd, const char *arg1, const char *arg2, const char *log) {
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        if (cwd && chdir(cwd) != 0) _exit(126);
        int fd = open(log ? log : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) { dup2(fd, 1); dup2(fd, 2); }
        if (arg2) execlp("gnuplot", "gnuplot", arg1, arg2, (char *)NULL);
        else execlp("gnuplot", "gnuplot", arg1, (char *)NULL);
        _exit(127);
    }
    int st;
    if (waitpid(pid, &st, 0) < 0) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static const char *pick_terminal(void) {
    if (run_gnuplot(NULL, "-e", "set terminal pngcairo", NULL) == 0) return "pngcairo";
    if (run_gnuplot(NULL, "-e", "set terminal png", NULL) == 0) return "png";
    return NULL;
}

static void sanitize(char *out, size_t n, const char *s) {
    size_t o = 0;
    for (; *s && o + 1 < n; s++) {
        char c = *s;
        out[o++] = ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) ? c : '_';
    }
    out[o] = 0;
}

// gnuplot single-quoted string: a quote is doubled.
static void gp_quote(FILE *f, const char *s) {
    fputc('\'', f);
    for (; *s; s++) { if (*s == '\'') fputc('\'', f); fputc(*s, f); }
    fputc('\'', f);
}

typedef struct { char png[256]; char caption[512]; } Plot;
typedef struct {
    FILE *gp;
    const char *dir;
    const char *term;
    Plot *plots;
    int n;
    int raw;                // --raw-curves: each run's unsmoothed training loss too
    const Analysis *an;     // the rows' 95 % score intervals (error bars)
} Ctx;

static FILE *new_plot(Ctx *c, const char *png, const char *title, const char *xl, const char *yl) {
    c->plots = xrealloc(c->plots, (size_t)(c->n + 1) * sizeof *c->plots);
    snprintf(c->plots[c->n].png, sizeof c->plots[c->n].png, "%s", png);
    snprintf(c->plots[c->n].caption, sizeof c->plots[c->n].caption, "%s", title);
    c->n++;
    FILE *g = c->gp;
    fprintf(g, "\nreset\nset terminal %s size 900,540 noenhanced\nset output ", c->term);
    gp_quote(g, png);
    fprintf(g, "\nset title ");
    gp_quote(g, title);
    fprintf(g, "\nset xlabel ");
    gp_quote(g, xl);
    fprintf(g, "\nset ylabel ");
    gp_quote(g, yl);
    fprintf(g, "\nset key below\nset grid\n");
    // gnuplot cycles 8 colours; a main study has 10 series (two dashed references and eight
    // method lines), so four more keep L4Q's lines apart from the references' colours.
    fprintf(g, "set linetype 9 lc rgb \"#8c510a\"\nset linetype 10 lc rgb \"#c51b7d\"\nset linetype 11 lc rgb \"#01665e\"\n"
               "set linetype 12 lc rgb \"#666666\"\nset linetype cycle 12\n");
    return g;
}

// The title with a second line saying how the plotted values were made (a double-quoted
// gnuplot string, where \n is a line break).
static void subtitle(FILE *g, const char *title, const char *text) {
    fprintf(g, "set title \"");
    for (const char *p = title; *p; p++) { if (*p == '"' || *p == '\\') fputc('\\', g); fputc(*p, g); }
    fprintf(g, "\\n");
    for (const char *p = text; *p; p++) { if (*p == '"' || *p == '\\') fputc('\\', g); fputc(*p, g); }
    fprintf(g, "\"\n");
}

static FILE *open_dat(const Ctx *c, const char *name) {
    char p[4400];
    snprintf(p, sizeof p, "%s/%s", c->dir, name);
    FILE *f = fopen(p, "w");
    if (!f) die_input("%s: cannot write", p);
    return f;
}

// Centered moving average of v[0..n) over w points (w odd; shorter at the ends).
static void smooth(const double *v, size_t n, int w, double *out) {
    int h = w / 2;
    for (size_t i = 0; i < n; i++) {
        size_t a = i >= (size_t)h ? i - h : 0, b = i + h < n ? i + h : n - 1;
        double s = 0;
        for (size_t k = a; k <= b; k++) s += v[k];
        out[i] = s / (double)(b - a + 1);
    }
}

// Training loss per row as a paper prints it: each seed's curve smoothed by a centered
// moving average (the window is stated in the title), the mean over seeds as a line and
// ±1 sample std over seeds as a band; the validation loss where it was measured
// (eval/val_loss, mean over seeds) as dashed points; each run's raw curve only with
// --raw-curves. The y range leaves out the first 5% of steps, where the loss falls from
// its initial value, so the curves' differences stay readable.
static void loss_plots(const Report *rep, Ctx *c) {
    int done_bits[64], nb = 0;
    for (int i = 0; i < rep->nrows; i++) {
        int b = rep->rows[i].bits, seen = 0;
        for (int k = 0; k < nb; k++) seen |= done_bits[k] == b;
        if (seen || nb == 64) continue;
        done_bits[nb++] = b;
        size_t maxn = 0;
        int maxseeds = 0;
        for (int j = 0; j < rep->nrows; j++) {
            if (rep->rows[j].bits != b) continue;
            size_t n = rep->runs[rep->rows[j].runs[0]].ntrain;
            if (n > maxn) maxn = n;
            if (rep->rows[j].n > maxseeds) maxseeds = rep->rows[j].n;
        }
        if (maxn <= 1) continue;
        int w = 2 * (int)(maxn / 20) + 1; // about 10% of the logged steps
        if (w < 5 && maxn >= 10) w = 5;
        char png[64], title[64], sub[200], bl[32];
        if (b > 0) snprintf(bl, sizeof bl, "%d-bit", b); else snprintf(bl, sizeof bl, "unquantized");
        if (b > 0) snprintf(png, sizeof png, "loss_%dbit.png", b); else snprintf(png, sizeof png, "loss_fp.png");
        snprintf(title, sizeof title, "Training loss, %s", bl);
        int has_val = 0; // validation during training (eval.every > 0): the dashed points below
        for (int j = 0; j < rep->nrows && !has_val; j++) {
            if (rep->rows[j].bits != b) continue;
            const RunSeries *ev = runfile_series(&rep->runs[rep->rows[j].runs[0]].file, "eval/val_loss");
            has_val = ev && ev->n >= 2;
        }
        snprintf(sub, sizeof sub, "moving average over %d logged steps; %s%s%s", w,
                 maxseeds > 1 ? "mean over seeds ± 1 sd" : "one seed", has_val ? "; dashed: validation" : "",
                 c->raw ? "; thin: raw" : "");
        FILE *g = new_plot(c, png, title, "step", "loss (nats/token)");
        subtitle(g, title, sub);
        // The caption in report.md says the same.
        snprintf(c->plots[c->n - 1].caption, sizeof c->plots[c->n - 1].caption, "%s: %s", title, sub);
        double ylo = INFINITY, yhi = -INFINITY;
        char *sbuf = NULL;
        size_t slen = 0;
        FILE *ser = open_memstream(&sbuf, &slen);
        if (!ser) die_internal("open_memstream failed");
        int nser = 0, color = 0;
        for (int j = 0; j < rep->nrows; j++) {
            const RowGroup *row = &rep->rows[j];
            const RunRec *r0 = &rep->runs[row->runs[0]];
            if (row->bits != b || r0->ntrain <= 1) continue;
            color++;
            size_t n = r0->ntrain;
            double *sm = xcalloc(n, sizeof *sm), *s1 = xcalloc(n, sizeof *s1), *s2 = xcalloc(n, sizeof *s2);
            int k = 0;
            char raw[96], dat[96], vdat[96];
            snprintf(raw, sizeof raw, "loss_raw_row%d.dat", j);
            snprintf(dat, sizeof dat, "loss_row%d.dat", j);
            snprintf(vdat, sizeof vdat, "val_row%d.dat", j);
            FILE *rd = c->raw ? open_dat(c, raw) : NULL;
            for (int q = 0; q < row->n; q++) {
                const RunRec *r = &rep->runs[row->runs[q]];
                if (r->ntrain != n) continue;
                smooth(r->tloss, n, w, sm);
                for (size_t t = 0; t < n; t++) { s1[t] += sm[t]; s2[t] += sm[t] * sm[t]; }
                if (rd) { for (size_t t = 0; t < n; t++) fprintf(rd, "%g %.8g\n", r->tstep[t], r->tloss[t]); fprintf(rd, "\n\n"); }
                k++;
            }
            if (rd) fclose(rd);
            FILE *d = open_dat(c, dat);
            for (size_t t = 0; t < n; t++) {
                double m = s1[t] / k, var = k > 1 ? (s2[t] - k * m * m) / (k - 1) : 0, sd = var > 0 ? sqrt(var) : 0;
                fprintf(d, "%g %.8g %.8g %.8g\n", r0->tstep[t], m, m - sd, m + sd);
                if (t >= n / 20) { if (m - sd < ylo) ylo = m - sd; if (m + sd > yhi) yhi = m + sd; }
            }
            fclose(d);
            free(sm); free(s1); free(s2);
            if (c->raw) fprintf(ser, "%s'%s' using 1:2 with lines lw 0.5 lc %d notitle", nser++ ? ", \\\n     " : "plot ", raw, color);
            if (k > 1)
                fprintf(ser, "%s'%s' using 1:3:4 with filledcurves fs transparent solid 0.2 noborder lc %d notitle",
                        nser++ ? ", \\\n     " : "plot ", dat, color);
            char lab[600];
            snprintf(lab, sizeof lab, "%s (n=%d)", row->label, k);
            fprintf(ser, "%s'%s' using 1:2 with lines lw 2 lc %d title ", nser++ ? ", \\\n     " : "plot ", dat, color);
            gp_quote(ser, lab);
            // Validation loss at its eval steps, mean over the runs that logged the same steps.
            const RunSeries *es0 = runfile_series(&r0->file, "eval/step"), *ev0 = runfile_series(&r0->file, "eval/val_loss");
            if (!es0 || !ev0 || ev0->n < 2) continue;
            FILE *vd = open_dat(c, vdat);
            for (size_t t = 0; t < ev0->n && t < es0->n; t++) {
                double sum = 0;
                int kv = 0;
                for (int q = 0; q < row->n; q++) {
                    const RunSeries *ev = runfile_series(&rep->runs[row->runs[q]].file, "eval/val_loss");
                    if (ev && ev->n == ev0->n && isfinite(ev->v[t])) { sum += ev->v[t]; kv++; }
                }
                if (!kv) continue;
                fprintf(vd, "%g %.8g\n", es0->v[t], sum / kv);
                if (t > 0) { if (sum / kv < ylo) ylo = sum / kv; if (sum / kv > yhi) yhi = sum / kv; }
            }
            fclose(vd);
            snprintf(lab, sizeof lab, "%s, validation", row->label);
            fprintf(ser, ", \\\n     '%s' using 1:2 with linespoints dt 2 pt 7 ps 0.8 lw 1.5 lc %d title ", vdat, color);
            gp_quote(ser, lab);
        }
        fclose(ser);
        if (isfinite(ylo) && isfinite(yhi) && yhi > ylo) {
            double pad = 0.08 * (yhi - ylo);
            fprintf(g, "set yrange [%.6g:%.6g]\n", ylo - pad, yhi + pad);
        }
        fprintf(g, "%s\n", nser ? sbuf : "plot NaN notitle");
        free(sbuf);
    }
}

// The error bar of row i in column ci: its 95 % score interval (bootstrap over documents,
// seeds pooled; compare.h) when the runs hold per-document evidence, else ±1 sample std
// over seeds. *ci says which was used.
static void error_bar(const Ctx *c, const Report *rep, int i, int ci, double m, double sd, double *lo, double *hi, int *used_ci) {
    size_t at = (size_t)i * rep->ncols + ci;
    if (c->an && isfinite(c->an->ci_lo[at]) && isfinite(c->an->ci_hi[at])) {
        *lo = c->an->ci_lo[at]; *hi = c->an->ci_hi[at]; *used_ci = 1;
    } else {
        double e = isfinite(sd) ? sd : 0;
        *lo = m - e; *hi = m + e; *used_ci = 0;
    }
}

static void error_bar_title(Ctx *c, FILE *g, int nci, int nsd) {
    char t[300];
    snprintf(t, sizeof t, "mean over seeds; error bars: %s", nci && !nsd ? "95% bootstrap interval over documents, seeds pooled"
                                                     : nsd && !nci ? "±1 sd over seeds" : "95% interval where evidence exists, else ±1 sd");
    Plot *p = &c->plots[c->n - 1];
    subtitle(g, p->caption, t);
    size_t l = strlen(p->caption);
    snprintf(p->caption + l, sizeof p->caption - l, " (%s)", t);
}

// Each main column against bit-width: one line per method (and settings) with error bars
// (error_bar), unquantized rows as dashed horizontal references.
static void other_settings(const Report *rep, const RowGroup *g, const char *skip, char *buf, size_t n);
// One line of a metric-vs-bits plot: the same method and the same value of every row setting.
static int same_series(const Report *rep, const RowGroup *a, const RowGroup *b) {
    char sa[400], sb[400];
    if (strcmp(a->method, b->method)) return 0;
    other_settings(rep, a, "", sa, sizeof sa);
    other_settings(rep, b, "", sb, sizeof sb);
    return !strcmp(sa, sb);
}

static void bits_plots(const Report *rep, Ctx *c) {
    int bits[32], nb = 0;
    for (int i = 0; i < rep->nrows; i++) {
        int b = rep->rows[i].bits, seen = 0;
        if (b <= 0) continue;
        for (int k = 0; k < nb; k++) seen |= bits[k] == b;
        if (!seen && nb < 32) bits[nb++] = b;
    }
    if (nb < 2) return;
    for (int ci = 0; ci < rep->ncols; ci++) {
        const Column *col = &rep->cols[ci];
        char key[200], png[256], title[256];
        sanitize(key, sizeof key, col->key);
        snprintf(png, sizeof png, "%s_vs_bits.png", key);
        snprintf(title, sizeof title, "%s vs bit-width", col->title);
        FILE *g = new_plot(c, png, title, "bits", col->title);
        int lo = bits[0], hi = bits[0];
        for (int k = 1; k < nb; k++) { if (bits[k] < lo) lo = bits[k]; if (bits[k] > hi) hi = bits[k]; }
        // A fixed x range so the dashed unquantized references span the whole plot.
        fprintf(g, "set xtics 1\nset xrange [%g:%g]\n", lo - 0.5, hi + 0.5);
        char *sbuf = NULL;
        size_t slen = 0;
        FILE *ser = open_memstream(&sbuf, &slen);
        if (!ser) die_internal("open_memstream failed");
        int first = 1, nci = 0, nsd = 0;
        // Series: distinct (method, every row setting) among quantized rows. A row's own
        // settings name only what varies at its bit-width, so L4Q 3-bit ("L4Q") and 4-bit
        // ("L4Q (precision=fp32)") are one line when a bf16 row exists at 4 bits only.
        for (int i = 0; i < rep->nrows; i++) {
            const RowGroup *ri = &rep->rows[i];
            int dup = 0;
            for (int j = 0; j < i; j++) dup |= rep->rows[j].bits > 0 && same_series(rep, &rep->rows[j], ri);
            if (dup) continue;
            double m, sd;
            int n;
            if (ri->bits <= 0) {
                table_cell(rep, ri, col, &m, &sd, &n);
                if (!n) continue;
                fprintf(ser, "%s%.8g dt 2 lw 2 title ", first ? "plot " : ", \\\n     ", m);
                char t[600];
                snprintf(t, sizeof t, "%s (%s)", ri->label, ri->form[0] ? ri->form : "fp");
                gp_quote(ser, t);
                first = 0;
                continue;
            }
            char dat[320];
            snprintf(dat, sizeof dat, "bits_%s_row%d.dat", key, i);
            FILE *d = open_dat(c, dat);
            int pts = 0;
            for (int j = 0; j < rep->nrows; j++) {
                const RowGroup *rj = &rep->rows[j];
                if (rj->bits <= 0 || !same_series(rep, rj, ri)) continue;
                table_cell(rep, rj, col, &m, &sd, &n);
                if (!n) continue;
                double elo, ehi;
                int used;
                error_bar(c, rep, j, ci, m, sd, &elo, &ehi, &used);
                nci += used; nsd += !used;
                fprintf(d, "%d %.8g %.8g %.8g\n", rj->bits, m, elo, ehi);
                pts++;
            }
            fclose(d);
            if (!pts) continue;
            fprintf(ser, "%s", first ? "plot " : ", \\\n     ");
            gp_quote(ser, dat);
            fprintf(ser, " using 1:2:3:4 with yerrorlines lw 2 title ");
            gp_quote(ser, ri->label);
            first = 0;
        }
        fclose(ser);
        if (nci + nsd) error_bar_title(c, g, nci, nsd);
        fprintf(g, "%s\n", first ? "plot NaN notitle" : sbuf);
        free(sbuf);
    }
}

static int numeric(const char *s, double *v) {
    if (!s || !*s) return 0;
    char *e;
    *v = strtod(s, &e);
    return !*e && isfinite(*v);
}

static const char *row_setting(const Report *rep, const RowGroup *g, const char *key) {
    const RunRec *r = &rep->runs[g->runs[0]];
    for (int i = 0; i < r->nkv; i++) if (!strcmp(r->keys[i], key)) return r->vals[i];
    return NULL;
}

// Other row settings than `skip`, as a series identity.
static void other_settings(const Report *rep, const RowGroup *g, const char *skip, char *buf, size_t n) {
    size_t o = 0;
    buf[0] = 0;
    for (int k = 0; k < rep->nrowkeys && o < n; k++) {
        if (!strcmp(rep->rowkeys[k], skip)) continue;
        const char *v = row_setting(rep, g, rep->rowkeys[k]);
        const char *sh = strrchr(rep->rowkeys[k], '.');
        o += snprintf(buf + o, n - o, "%s%s=%s", o ? ", " : "", sh ? sh + 1 : rep->rowkeys[k], setting_shown(rep->rowkeys[k], v));
    }
}

static int cmp_dbl(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

// Ablation curves: every numeric row setting with >= 3 distinct values (rank, group
// size, ...), each main column against it; one line per method × bits × other settings.
static void ablation_plots(const Report *rep, Ctx *c) {
    for (int k = 0; k < rep->nrowkeys; k++) {
        const char *key = rep->rowkeys[k];
        double vals[256];
        int nv = 0, ok = 1;
        for (int i = 0; i < rep->nrows && ok; i++) {
            double v;
            const char *s = row_setting(rep, &rep->rows[i], key);
            if (!s) continue;
            if (!numeric(s, &v)) { ok = 0; break; }
            int seen = 0;
            for (int j = 0; j < nv; j++) seen |= vals[j] == v;
            if (!seen && nv < 256) vals[nv++] = v;
        }
        if (!ok || nv < 3) continue;
        qsort(vals, (size_t)nv, sizeof *vals, cmp_dbl);
        int logx = vals[0] > 0 && vals[nv - 1] / vals[0] >= 8;
        const char *shortk = strrchr(key, '.');
        shortk = shortk ? shortk + 1 : key;
        for (int ci = 0; ci < rep->ncols; ci++) {
            const Column *col = &rep->cols[ci];
            char ks[200], cs[200], png[512], title[400];
            sanitize(ks, sizeof ks, key);
            sanitize(cs, sizeof cs, col->key);
            snprintf(png, sizeof png, "ablation_%s_%s.png", ks, cs);
            snprintf(title, sizeof title, "%s vs %s", col->title, shortk);
            FILE *g = new_plot(c, png, title, shortk, col->title);
            if (logx) fprintf(g, "set logscale x 2\n");
            fprintf(g, "set offsets graph 0.05, graph 0.05, 0, 0\n");
            int first = 1, nci = 0, nsd = 0;
            char *sbuf = NULL;
            size_t slen = 0;
            FILE *ser = open_memstream(&sbuf, &slen);
            if (!ser) die_internal("open_memstream failed");
            for (int i = 0; i < rep->nrows; i++) {
                const RowGroup *ri = &rep->rows[i];
                if (!row_setting(rep, ri, key)) continue;
                char oi[400];
                other_settings(rep, ri, key, oi, sizeof oi);
                int dup = 0;
                for (int j = 0; j < i && !dup; j++) {
                    const RowGroup *rj = &rep->rows[j];
                    char oj[400];
                    other_settings(rep, rj, key, oj, sizeof oj);
                    dup = row_setting(rep, rj, key) && rj->bits == ri->bits && !strcmp(rj->method, ri->method) && !strcmp(oi, oj);
                }
                if (dup) continue;
                char dat[600];
                snprintf(dat, sizeof dat, "ablation_%s_%s_row%d.dat", ks, cs, i);
                FILE *d = open_dat(c, dat);
                int pts = 0;
                for (int vi = 0; vi < nv; vi++)
                    for (int j = 0; j < rep->nrows; j++) {
                        const RowGroup *rj = &rep->rows[j];
                        double v, m, sd;
                        int n;
                        char oj[400];
                        if (rj->bits != ri->bits || strcmp(rj->method, ri->method)) continue;
                        if (!numeric(row_setting(rep, rj, key), &v) || v != vals[vi]) continue;
                        other_settings(rep, rj, key, oj, sizeof oj);
                        if (strcmp(oi, oj)) continue;
                        table_cell(rep, rj, col, &m, &sd, &n);
                        if (!n) continue;
                        double elo, ehi;
                        int used;
                        error_bar(c, rep, j, ci, m, sd, &elo, &ehi, &used);
                        nci += used; nsd += !used;
                        fprintf(d, "%.10g %.8g %.8g %.8g\n", v, m, elo, ehi);
                        pts++;
                    }
                fclose(d);
                if (!pts) continue;
                char t[800];
                snprintf(t, sizeof t, "%s %s%s%s%s", table_display_name(ri->method), table_bits_label(ri->bits), ri->bits > 0 ? "-bit" : "",
                         *oi ? ", " : "", oi);
                fprintf(ser, "%s", first ? "plot " : ", \\\n     ");
                gp_quote(ser, dat);
                fprintf(ser, " using 1:2:3:4 with yerrorlines lw 2 title ");
                gp_quote(ser, t);
                first = 0;
            }
            fclose(ser);
            if (nci + nsd) error_bar_title(c, g, nci, nsd);
            fprintf(g, "%s\n", first ? "plot NaN notitle" : sbuf);
            free(sbuf);
        }
    }
}

void report_plots(const Report *rep, const Analysis *an, int raw_curves, FILE *md) {
    fprintf(md, "\n## Plots\n\n");
    const char *term = pick_terminal();
    if (!term) {
        fprintf(md, "No plots: gnuplot with a png/pngcairo terminal was not found (Debian: gnuplot-nox).\n");
        warnf("report: gnuplot not found; no plots");
        return;
    }
    char dir[4200], gpp[4300], logp[4300];
    snprintf(dir, sizeof dir, "%s/plots", rep->dir);
    mkdir_p(dir);
    snprintf(gpp, sizeof gpp, "%s/plots.gp", dir);
    snprintf(logp, sizeof logp, "%s/gnuplot.log", dir);
    Ctx c = {0};
    c.dir = dir;
    c.term = term;
    c.raw = raw_curves;
    c.an = an;
    c.gp = fopen(gpp, "w");
    if (!c.gp) die_input("%s: cannot write", gpp);
    fprintf(c.gp, "# Generated by l4q report; run `gnuplot plots.gp` in this directory to redraw.\n");
    loss_plots(rep, &c);
    bits_plots(rep, &c);
    ablation_plots(rep, &c);
    fclose(c.gp);
    int rc = c.n ? run_gnuplot(dir, "plots.gp", NULL, logp) : 0;
    if (rc != 0) warnf("report: gnuplot exited %d (see %s)", rc, logp);
    int shown = 0;
    for (int i = 0; i < c.n; i++) {
        char p[4600];
        snprintf(p, sizeof p, "%s/%s", dir, c.plots[i].png);
        if (!file_exists(p)) continue;
        fprintf(md, "![%s](plots/%s)\n\n", c.plots[i].caption, c.plots[i].png);
        shown++;
    }
    if (!shown) fprintf(md, "No plot applies to these runs (no training curves, one bit-width, no numeric ablation axis).\n");
    free(c.plots);
}
