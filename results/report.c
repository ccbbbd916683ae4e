// report.c — see report.h. Writes Markdown / LaTeX / CSV from the data model (table.h)
// and its statistics (compare.h); calls the plots (plots.h) and the findings (findings.h).
#include "report.h"
#include "compare.h"
#include "findings.h"
#include "plots.h"
#include "runlog_read.h"
#include "table.h"
#include "util.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

typedef enum { FMT_MD, FMT_TEX } Fmt;

static void fmt_cell(char *buf, size_t n, double mean, double sd, int k, int dec, int bold, Fmt f) {
    if (k == 0) { snprintf(buf, n, f == FMT_TEX ? "--" : "–"); return; }
    char v[64];
    if (k > 1 && isfinite(sd)) snprintf(v, sizeof v, f == FMT_TEX ? "%.*f $\\pm$ %.*f" : "%.*f ± %.*f", dec, mean, dec, sd);
    else snprintf(v, sizeof v, "%.*f", dec, mean);
    if (!bold) snprintf(buf, n, "%s", v);
    else if (f == FMT_TEX) snprintf(buf, n, "\\textbf{%s}", v);
    else snprintf(buf, n, "**%s**", v);
}

static void tex_escape(char *out, size_t n, const char *s) {
    size_t o = 0;
    for (; *s && o + 3 < n; s++) {
        if (strchr("&%$#_{}", *s)) out[o++] = '\\';
        out[o++] = *s;
    }
    out[o] = 0;
}

static const char *col_title(const Column *c, char *buf, size_t n) {
    snprintf(buf, n, "%s%s", c->title, c->at_chance ? " (at chance)" : "");
    return buf;
}

static void write_main_md(const Report *rep, const Analysis *an, FILE *f) {
    char t[200];
    fprintf(f, "| Method | Bits | Form | n |");
    for (int c = 0; c < rep->ncols; c++) fprintf(f, " %s |", col_title(&rep->cols[c], t, sizeof t));
    fprintf(f, "\n|---|---|---|---|");
    for (int c = 0; c < rep->ncols; c++) fprintf(f, "---|");
    fprintf(f, "\n");
    for (int i = 0; i < rep->nrows; i++) {
        const RowGroup *g = &rep->rows[i];
        fprintf(f, "| %s | %s | %s | %d |", g->label, table_bits_label(g->bits), g->form[0] ? g->form : "–", g->n);
        for (int c = 0; c < rep->ncols; c++) {
            double m, sd;
            int n;
            table_cell(rep, g, &rep->cols[c], &m, &sd, &n);
            char cell[128];
            fmt_cell(cell, sizeof cell, m, sd, n, rep->cols[c].decimals, an && an->bold[(size_t)i * rep->ncols + c], FMT_MD);
            fprintf(f, " %s |", cell);
        }
        fprintf(f, "\n");
    }
}

// The sentences under a main table: what bold means, which columns are at chance.
// What a perplexity column stands on, per run: windows and predicted tokens (run.h5
// eval/<task>/windows and /tokens, or the per-window evidence of older runs), as a range
// when the runs differ. val_ppl: the validation set's tokens (eval/val_tokens or docs/val).
static int ppl_evidence(const Report *rep, const Column *c, FILE *f) {
    char task[200];
    snprintf(task, sizeof task, "%s", c->key);
    char *sl = strchr(task, '/');
    int val = !strcmp(c->key, "val_ppl");
    if (!val && (!sl || strcmp(sl, "/ppl"))) return 0;
    if (sl) *sl = 0;
    double wlo = INFINITY, whi = -INFINITY, tlo = INFINITY, thi = -INFINITY;
    for (int i = 0; i < rep->nruns; i++) {
        const RunRec *r = &rep->runs[i];
        const RunDocs *d = runfile_docs(&r->file, val ? "val" : task);
        double w = NAN, t = NAN;
        if (d && d->ntok) {
            w = (double)d->n; t = 0;
            for (size_t k = 0; k < d->n; k++) t += d->ntok[k];
        }
        if (isfinite(w)) { wlo = fmin(wlo, w); whi = fmax(whi, w); }
        if (isfinite(t)) { tlo = fmin(tlo, t); thi = fmax(thi, t); }
    }
    if (!isfinite(tlo)) return 0;
    char ws[64], ts[64];
    if (wlo == whi) snprintf(ws, sizeof ws, "%.0f", wlo); else snprintf(ws, sizeof ws, "%.0f–%.0f", wlo, whi);
    if (tlo == thi) snprintf(ts, sizeof ts, "%.0f", tlo); else snprintf(ts, sizeof ts, "%.0f–%.0f", tlo, thi);
    if (val)
        fprintf(f, "%s: the validation set (`data.val`) in the training windows, %s batches, %s predicted tokens per run "
                   "(the `val_ppl` that `train` prints).\n", c->title, ws, ts);
    else
        fprintf(f, "%s: the `%s` task, exp(mean NLL) over %s windows, %s predicted tokens per run (not the `val_ppl` "
                   "that `train` prints, which is the validation set).\n", c->title, task, ws, ts);
    return 1;
}

static int has_avg(const Report *rep) {
    for (int c = 0; c < rep->ncols; c++) if (!strcmp(rep->cols[c].key, "avg")) return 1;
    return 0;
}

static void write_table_notes(const Report *rep, const Analysis *an, FILE *f) {
    int nchance = 0;
    for (int c = 0; c < rep->ncols; c++) nchance += rep->cols[c].at_chance;
    fprintf(f, "\n");
    for (int c = 0; c < rep->ncols; c++) ppl_evidence(rep, &rep->cols[c], f);
    if (!an->nevidence) {
        fprintf(f, "\nNo run holds per-document evidence (run.h5 `/docs`), so there are no intervals, no paired tests and no bold.\n");
        return;
    }
    fprintf(f, "\n**Bold**: the best mean of its bit-width and column, and significantly better than the runner-up "
               "(paired test over documents, p < 0.05)%s.", has_avg(rep) ? "; Avg is never bold" : "");
    if (nchance) {
        fprintf(f, " At chance:");
        for (int c = 0, k = 0; c < rep->ncols; c++) {
            if (!rep->cols[c].at_chance) continue;
            fprintf(f, "%s %s (chance %.1f)", k++ ? "," : "", rep->cols[c].title, an->chance[c]);
        }
        fprintf(f, " — no row's 95%% interval lies above the chance level, so %s no bold%s.",
                nchance > 1 ? "these columns carry" : "this column carries", has_avg(rep) ? " and stays out of the Avg column" : "");
    }
    fprintf(f, "\n");
}

// Group detail tables (Table 13 analogue): members of a task group, e.g. csqa's seven.
static void write_group_tables(const Report *rep, const Analysis *an, FILE *f) {
    if (!an->reg) return;
    for (int c = 0; c < rep->ncols; c++) {
        char task[200];
        snprintf(task, sizeof task, "%s", rep->cols[c].key);
        char *sl = strchr(task, '/');
        if (!sl || strcmp(sl, "/acc")) continue;
        *sl = 0;
        const GroupDef *gd = NULL;
        for (int i = 0; i < an->reg->ngroups; i++) if (!strcmp(an->reg->groups[i].name, task)) gd = &an->reg->groups[i];
        if (!gd || gd->n < 2 || gd->n > 16) continue;
        Report sub = *rep;
        sub.cols = NULL; sub.ncols = 0;
        for (int m = 0; m < gd->n; m++) {
            char key[200];
            snprintf(key, sizeof key, "%s/acc", gd->members[m]);
            if (table_any_metric(rep, key)) table_add_col(&sub, table_task_title(gd->members[m]), key, 1, 1, 1, 100);
        }
        if (sub.ncols == 0) { free(sub.cols); continue; }
        table_add_col(&sub, "Avg", rep->cols[c].key, 1, 0, 1, 100);
        Analysis san;
        analysis_run(&san, &sub, an->reference);
        fprintf(f, "\n## %s per task (acc %%, the paper's Tables 13a/13b)\n\n", table_task_title(task));
        write_main_md(&sub, &san, f);
        write_table_notes(&sub, &san, f);
        analysis_free(&san);
        free(sub.cols);
    }
}

// Every row against the reference row of its bit-width, one cell per column.
static void write_paired_md(const Report *rep, const Analysis *an, FILE *f) {
    int any = 0;
    for (int r = 0; r < rep->nrows; r++) any |= an->ref_row[r] >= 0;
    const char *refname = table_display_name(an->reference);
    for (int q = 0; q < rep->nrows && an->ref_by_label; q++)
        if (!strcasecmp(rep->rows[q].label, an->reference)) { refname = rep->rows[q].label; break; }
    fprintf(f, "\n## Paired differences against %s at the same bit-width\n\n", refname);
    if (!any) {
        int others = 0;
        for (int r = 0; r < rep->nrows; r++)
            others |= strcasecmp(rep->rows[r].method, an->reference) && strcasecmp(rep->rows[r].label, an->reference);
        if (!others) fprintf(f, "Every row here is %s itself, so there is nothing to compare with it.\n", refname);
        else fprintf(f, "No other row shares a bit-width with a %s row, so nothing is paired (`--reference METHOD` picks another "
                        "reference).\n", refname);
        return;
    }
    // A method with several rows at a bit-width (an ablation): say which one is the reference.
    for (int r = 0; r < rep->nrows; r++) {
        int n, q = reference_row(an, rep->rows[r].bits, &n), first = 1;
        for (int k = 0; k < r; k++) first &= rep->rows[k].bits != rep->rows[r].bits;
        if (!first || q < 0 || n < 2) continue;
        int alt = q;
        for (int k = 0; k < rep->nrows && alt == q; k++)
            if (k != q && rep->rows[k].bits == rep->rows[q].bits && !strcmp(rep->rows[k].method, rep->rows[q].method)) alt = k;
        fprintf(f, "At %s bits %s has %d rows: other methods' rows are compared with the %s row of the same settings where "
                   "there is one, else with **%s**, as are %s's own rows; another reference is chosen with `--reference '%s'`.\n\n",
                table_bits_label(rep->rows[q].bits), refname, n, refname, rep->rows[q].label, refname, rep->rows[alt].label);
    }
    fprintf(f, "Row minus reference, 95%% bootstrap interval over documents (seeds pooled, paired by seed and prompt hash), "
               "sign-flip permutation p. Accuracy in points; perplexity as the relative change of PPL (the paired unit is the "
               "window, the statistic its token-weighted mean NLL). Pooling the seeds leaves the variation between them out of "
               "that p; *seeds p*, where both rows have two or more runs, is Welch's t-test on the runs' own scores (log PPL), "
               "each seed one unit: a difference smaller than the seeds' spread has a large seeds p even when p is small.\n\n"
               "| Method | Bits | Form |");
    char t[200];
    for (int c = 0; c < rep->ncols; c++) if (strcmp(rep->cols[c].key, "avg")) fprintf(f, " %s |", col_title(&rep->cols[c], t, sizeof t));
    fprintf(f, "\n|---|---|---|");
    for (int c = 0; c < rep->ncols; c++) if (strcmp(rep->cols[c].key, "avg")) fprintf(f, "---|");
    fprintf(f, "\n");
    for (int r = 0; r < rep->nrows; r++) {
        if (an->ref_row[r] < 0) continue;
        const RowGroup *g = &rep->rows[r];
        fprintf(f, "| %s | %s | %s |", g->label, table_bits_label(g->bits), g->form[0] ? g->form : "–");
        for (int c = 0; c < rep->ncols; c++) {
            if (!strcmp(rep->cols[c].key, "avg")) continue;
            const Paired *p = &an->vs_ref[(size_t)r * rep->ncols + c];
            char e[96], pv[32], sp[32] = "";
            paired_format(p, e, sizeof e, pv, sizeof pv);
            if (isfinite(p->seeds_p)) pvalue_format("; seeds p", p->seeds_p, sp, sizeof sp);
            if (p->ok) fprintf(f, " %s %s%s |", e, pv, sp);
            else fprintf(f, " – |");
        }
        fprintf(f, "\n");
    }
    // Why a comparison is missing, once per distinct reason.
    char **seen = NULL;
    int ns = 0;
    for (int r = 0; r < rep->nrows; r++)
        for (int c = 0; c < rep->ncols && an->ref_row[r] >= 0; c++) {
            const Paired *p = &an->vs_ref[(size_t)r * rep->ncols + c];
            if (p->ok || !strcmp(rep->cols[c].key, "avg")) continue;
            int have = 0;
            for (int k = 0; k < ns; k++) have |= !strcmp(seen[k], p->why);
            if (have) continue;
            seen = xrealloc(seen, (size_t)(ns + 1) * sizeof *seen);
            seen[ns++] = (char *)p->why;
            fprintf(f, "%s– not compared: %s\n", ns == 1 ? "\n" : "\n", p->why);
        }
    free(seen);
}

static const char *MEM_TITLES[6] = {"Weights MB", "Trainable MB", "Grad+Adam MB", "Saved for bwd MB", "Transient MB", "Peak RSS MB"};

// Column w of the memory/time table (table_mem_cell's order). Memory is deterministic per
// config, so only time and throughput (w ≥ 7) get ± std.
static const char *mem_cell(const Report *rep, const RowGroup *g, int w, Fmt fmt, char *cell, size_t n) {
    double m, sd;
    int k;
    table_mem_cell(rep, g, w, &m, &sd, &k);
    fmt_cell(cell, n, m, w >= 7 ? sd : NAN, k, w == 6 ? 0 : w < 6 ? 2 : w == 7 ? 1 : 0, 0, fmt);
    return cell;
}

static void write_memory_md(const Report *rep, FILE *f) {
    fprintf(f, "| Method | Bits | Form |");
    for (int i = 0; i < 6; i++) fprintf(f, " %s |", MEM_TITLES[i]);
    fprintf(f, " Steps | Wall s | Tokens/s |\n|---|---|---|");
    for (int i = 0; i < 9; i++) fprintf(f, "---|");
    fprintf(f, "\n");
    for (int r = 0; r < rep->nrows; r++) {
        const RowGroup *g = &rep->rows[r];
        fprintf(f, "| %s | %s | %s |", g->label, table_bits_label(g->bits), g->form[0] ? g->form : "–");
        for (int w = 0; w < 9; w++) {
            char cell[128];
            fprintf(f, " %s |", mem_cell(rep, g, w, FMT_MD, cell, sizeof cell));
        }
        fprintf(f, "\n");
    }
}

static void write_tex(const Report *rep, const Analysis *an, const char *path) {
    FILE *f = fopen(path, "w");
    if (!f) die_input("%s: cannot write", path);
    fprintf(f, "%% Generated by `l4q report %s`; needs \\usepackage{booktabs}.\n", rep->dir);
    fprintf(f, "\\begin{table}[t]\n\\centering\n\\small\n\\begin{tabular}{lll");
    for (int c = 0; c < rep->ncols; c++) fprintf(f, "r");
    fprintf(f, "}\n\\toprule\nMethod & Bits & Form");
    char t[200], te[256];
    for (int c = 0; c < rep->ncols; c++) { tex_escape(te, sizeof te, col_title(&rep->cols[c], t, sizeof t)); fprintf(f, " & %s", te); }
    fprintf(f, " \\\\\n\\midrule\n");
    for (int i = 0; i < rep->nrows; i++) {
        const RowGroup *g = &rep->rows[i];
        if (i > 0 && rep->rows[i - 1].bits != g->bits) fprintf(f, "\\midrule\n");
        char lab[1024], form[64];
        tex_escape(lab, sizeof lab, g->label);
        tex_escape(form, sizeof form, g->form[0] ? g->form : "--");
        fprintf(f, "%s & %s & %s", lab, table_bits_label(g->bits), form);
        for (int c = 0; c < rep->ncols; c++) {
            double m, sd;
            int n;
            table_cell(rep, g, &rep->cols[c], &m, &sd, &n);
            char cell[128];
            fmt_cell(cell, sizeof cell, m, sd, n, rep->cols[c].decimals, an->bold[(size_t)i * rep->ncols + c], FMT_TEX);
            fprintf(f, " & %s", cell);
        }
        fprintf(f, " \\\\\n");
    }
    fprintf(f, "\\bottomrule\n\\end{tabular}\n\\caption{Accuracy (\\%%) and perplexity; mean $\\pm$ std over seeds; bold: best per "
               "bit-width and significantly better than the runner-up (paired test, $p<0.05$).}\n\\end{table}\n\n");
    fprintf(f, "\\begin{table}[t]\n\\centering\n\\small\n\\begin{tabular}{lllrrrrrrrrr}\n\\toprule\nMethod & Bits & Form");
    for (int i = 0; i < 6; i++) fprintf(f, " & %s", MEM_TITLES[i]);
    fprintf(f, " & Steps & Wall s & Tokens/s \\\\\n\\midrule\n");
    for (int r = 0; r < rep->nrows; r++) {
        const RowGroup *g = &rep->rows[r];
        char lab[1024], form[64];
        tex_escape(lab, sizeof lab, g->label);
        tex_escape(form, sizeof form, g->form[0] ? g->form : "--");
        fprintf(f, "%s & %s & %s", lab, table_bits_label(g->bits), form);
        for (int w = 0; w < 9; w++) {
            char cell[128];
            fprintf(f, " & %s", mem_cell(rep, g, w, FMT_TEX, cell, sizeof cell));
        }
        fprintf(f, " \\\\\n");
    }
    fprintf(f, "\\bottomrule\n\\end{tabular}\n\\caption{Fine-tuning memory (MB) and time.}\n\\end{table}\n");
    fclose(f);
}

static void csv_field(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) { if (*s == '"') fputc('"', f); fputc(*s, f); }
    fputc('"', f);
}

static void csv_num(FILE *f, double v) { if (isfinite(v)) fprintf(f, "%.15g", v); }

// Long format: one line per (table, row, column), full precision. main: mean ± std over
// seeds, ci_lo/ci_hi the pooled score interval; paired: mean = row − reference (unit:
// points, or nats/token of mean NLL for perplexity), ci_lo/ci_hi, p, n = documents,
// seeds_p (compare.h).
static void write_csv(const Report *rep, const Analysis *an, const char *path) {
    FILE *f = fopen(path, "w");
    if (!f) die_input("%s: cannot write", path);
    fprintf(f, "table,label,method,bits,form,settings,column,mean,std,n,ci_lo,ci_hi,p,reference,unit,seeds_p\n");
    for (int i = 0; i < rep->nrows; i++) {
        const RowGroup *g = &rep->rows[i];
        for (int c = 0; c < 2 * rep->ncols + 9; c++) {
            double m = NAN, sd = NAN, lo = NAN, hi = NAN, p = NAN, sp = NAN;
            int n = 0;
            const char *title, *table, *ref = "", *unit = "";
            if (c < rep->ncols) {
                table_cell(rep, g, &rep->cols[c], &m, &sd, &n);
                lo = an->ci_lo[(size_t)i * rep->ncols + c]; hi = an->ci_hi[(size_t)i * rep->ncols + c];
                title = rep->cols[c].title; table = "main"; unit = rep->cols[c].is_acc || !strcmp(rep->cols[c].key, "avg") ? "%" : "ppl";
            } else if (c < 2 * rep->ncols) {
                int k = c - rep->ncols;
                const Paired *pp = &an->vs_ref[(size_t)i * rep->ncols + k];
                if (!pp->ok) continue;
                m = pp->est; lo = pp->lo; hi = pp->hi; p = pp->p; sp = pp->seeds_p; n = (int)pp->units;
                title = rep->cols[k].title; table = "paired"; ref = rep->rows[an->ref_row[i]].label;
                unit = pp->is_ppl ? "nats/token" : "points";
            } else {
                int w = c - 2 * rep->ncols;
                table_mem_cell(rep, g, w, &m, &sd, &n);
                static const char *T[3] = {"Steps", "Wall s", "Tokens/s"};
                title = w < 6 ? MEM_TITLES[w] : T[w - 6];
                table = "memory_time";
            }
            if (!n) continue;
            fprintf(f, "%s,", table);
            csv_field(f, g->label);
            fprintf(f, ",%s,%s,", g->method, table_bits_label(g->bits));
            csv_field(f, g->form);
            fputc(',', f);
            csv_field(f, g->settings);
            fputc(',', f);
            csv_field(f, title);
            fputc(',', f); csv_num(f, m);
            fputc(',', f); csv_num(f, sd);
            fprintf(f, ",%d,", n);
            csv_num(f, lo); fputc(',', f); csv_num(f, hi); fputc(',', f); csv_num(f, p); fputc(',', f);
            csv_field(f, ref);
            fprintf(f, ",%s,", unit);
            csv_num(f, sp);
            fputc('\n', f);
        }
    }
    fclose(f);
}

// Which builds produced the runs (run.h5 git_commit; "-dirty": uncommitted changes). One
// line when they agree; a study put together by several builds says so, since a code
// change between runs can move a number as much as a method does.
static void write_builds(const Report *rep, FILE *f) {
    const char *c[64];
    int n[64], nc = 0, more = 0;
    for (int i = 0; i < rep->nruns; i++) {
        const char *g = runfile_attr(&rep->runs[i].file, "git_commit");
        if (!g || !*g) g = "unrecorded";
        int k = 0;
        while (k < nc && strcmp(c[k], g)) k++;
        if (k == nc) { if (nc == 64) { more++; continue; } c[nc] = g; n[nc++] = 0; }
        n[k]++;
    }
    if (!nc) return;
    if (nc == 1 && !more) { fprintf(f, "Build: `%.12s%s` (git commit of every run).\n\n", c[0], strstr(c[0], "-dirty") ? "-dirty" : ""); return; }
    fprintf(f, "**Builds: the runs were produced by %d different builds** (git commit: runs)", nc + more);
    for (int k = 0; k < nc; k++) fprintf(f, "%s `%.12s%s`: %d", k ? "," : "", c[k], strstr(c[k], "-dirty") ? "-dirty" : "", n[k]);
    fprintf(f, ". A code change between runs can move a number; for a clean comparison re-run the study with one build.\n\n");
}

int report_write(const char *dir, const ReportOptions *o) {
    const char *fmt = o->format ? o->format : "md";
    if (strcmp(fmt, "md") && strcmp(fmt, "tex") && strcmp(fmt, "csv")) die_input("--format: expected md, tex or csv, got '%s'", fmt);
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) die_input("%s: not a directory", dir);
    Report rep;
    table_load(&rep, dir);
    if (rep.nruns + rep.nbad == 0) die_input("%s: no run.h5 files found", dir);
    for (int i = 0; i < rep.nbad; i++)
        if (!strcmp(rep.bad[i].status, "unreadable")) warnf("report: %s: unreadable (%s); left out", rep.bad[i].file.path, rep.bad[i].file.error);
    Analysis an;
    analysis_run(&an, &rep, o->reference);
    for (int i = 0; i < an.nmismatch; i++) warnf("report: %s", an.mismatch[i]);

    char path[4200];
    snprintf(path, sizeof path, "%s/report.md", dir);
    FILE *f = fopen(path, "w");
    if (!f) die_input("%s: cannot write", path);
    fprintf(f, "# Results: %s\n\n", dir);
    fprintf(f, "%d complete runs in %d rows; %d not complete (listed at the end, not averaged). "
               "Every number below is read from the runs' run.h5 logs. Cells: mean ± sample std over the "
               "seeds (n) that have the value; accuracy in %%, PPL lower is better.\n\n",
            rep.nruns, rep.nrows, rep.nbad);
    write_builds(&rep, f);
    if (rep.nrowkeys) {
        fprintf(f, "Row settings (config keys that vary within a method and bit-width):");
        for (int i = 0; i < rep.nrowkeys; i++) fprintf(f, " `%s`", rep.rowkeys[i]);
        fprintf(f, ".\n\n");
    }
    if (an.nmismatch) {
        fprintf(f, "## Evaluation mismatches (not compared paired)\n\n");
        for (int i = 0; i < an.nmismatch; i++) fprintf(f, "- %s\n", an.mismatch[i]);
        fprintf(f, "\n");
    }
    findings_write(&rep, &an, f);
    fprintf(f, "## Main results (the paper's Tables 2/3 shape)\n\n");
    if (rep.nrows) { write_main_md(&rep, &an, f); write_table_notes(&rep, &an, f); }
    else fprintf(f, "No complete runs.\n");
    if (rep.nrows) { write_paired_md(&rep, &an, f); write_group_tables(&rep, &an, f); }
    fprintf(f, "\n## Fine-tuning memory and time (the paper's Tables 1/10/11 shape)\n\n");
    if (rep.nrows) write_memory_md(&rep, f);
    fprintf(f, "\nMemory is the harness's own account (run.h5 `memory` group), in MB (10^6 bytes); "
               "wall time covers quantization, fine-tuning and evaluation.\n");
    if (o->plots && rep.nrows) report_plots(&rep, &an, o->raw_curves, f);
    if (rep.nbad) {
        fprintf(f, "\n## Incomplete runs (not averaged)\n\n| Run | Status | Method | Steps logged | Why |\n|---|---|---|---|---|\n");
        for (int i = 0; i < rep.nbad; i++) {
            const RunRec *b = &rep.bad[i];
            int unr = !strcmp(b->status, "unreadable");
            fprintf(f, "| %s | %s | %s | %ld | %s%s%s |\n", b->rel, b->status, b->method[0] ? b->method : "?", b->steps,
                    unr ? b->file.path : "", unr ? ": " : "", unr ? b->file.error : "");
        }
    }
    fclose(f);
    if (!strcmp(fmt, "tex")) { snprintf(path, sizeof path, "%s/report.tex", dir); write_tex(&rep, &an, path); }
    if (!strcmp(fmt, "csv")) { snprintf(path, sizeof path, "%s/report.csv", dir); write_csv(&rep, &an, path); }

    // The main table on stdout, so `make reproduce` ends with it.
    printf("Main results (%s/report.md):\n\n", dir);
    if (rep.nrows) write_main_md(&rep, &an, stdout);
    if (rep.nbad) printf("\n%d incomplete run(s), listed in report.md\n", rep.nbad);
    analysis_free(&an);
    table_free(&rep);
    return 0;
}
