/* query_view.c: what the explorer's screens, the export command and the plain-text
 * output show, gathered through the run-database API (no curses, no SQL here).
 * Layer: query. Calls: data_image, export, plot, query, store, store_read, sf_util.
 * Called by: cli_export, tui_app, tui_equation, tui_list.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "query_view.h"

#include "data_image.h"
#include "export.h"
#include "plot.h"
#include "sf_util.h"

/* ---- one run as the explorer shows it ---- */

void query_run_view_clear(query_run_view *rv) {
    store_run_clear(&rv->run);
    free(rv->features);
    store_points_clear(&rv->points);
    free(rv->marks);
    if (rv->eq_loaded) query_equation_clear(&rv->eq);
    memset(rv, 0, sizeof *rv);
}

int query_run_view_reload_features(store *s, query_run_view *rv) {
    store_feature *f = NULL;
    int n = 0;
    if (store_features(s, rv->run.id, STORE_SORT_FEATURE, 1, &f, &n) != SF_OK) return SF_ERR;
    free(rv->features);
    rv->features = xcalloc((size_t)rv->run.d + 1, sizeof *rv->features);
    for (int f_no = 0; f_no < rv->run.d; f_no++) rv->features[f_no].feature = f_no;
    rv->n_live = 0;
    for (int i = 0; i < n; i++) {
        if (f[i].feature < 0 || f[i].feature >= rv->run.d) continue;
        rv->features[f[i].feature] = f[i];
        rv->n_live += f[i].n_active > 0;
    }
    free(f);
    /* the equation's terms carry the labels */
    if (rv->eq_loaded)
        for (int i = 0; i < rv->eq.n_terms; i++)
            snprintf(rv->eq.terms[i].label, sizeof rv->eq.terms[i].label, "%s",
                     rv->features[rv->eq.terms[i].feature].label);
    return SF_OK;
}

int query_run_view_reload_marks(store *s, query_run_view *rv) {
    free(rv->marks);
    rv->marks = NULL;
    rv->n_marks = 0;
    return store_marks(s, rv->run.id, &rv->marks, &rv->n_marks);
}

int query_run_view_load(store *s, int64_t run_id, query_run_view *rv) {
    memset(rv, 0, sizeof *rv);
    if (store_run_get(s, run_id, &rv->run) != SF_OK) return SF_ERR;
    if (query_run_view_reload_features(s, rv) != SF_OK ||
        store_run_points(s, run_id, &rv->points) != SF_OK ||
        query_run_view_reload_marks(s, rv) != SF_OK) {
        query_run_view_clear(rv);
        return SF_ERR;
    }
    return SF_OK;
}

int query_run_view_equation(store *s, query_run_view *rv) {
    if (rv->eq_loaded) return SF_OK;
    if (query_equation_compute(s, rv->run.id, &rv->eq) != SF_OK) return SF_ERR;
    rv->eq_loaded = 1;
    return SF_OK;
}

const store_feature *query_run_view_feature(const query_run_view *rv, int feature) {
    return feature >= 0 && feature < rv->run.d ? &rv->features[feature] : NULL;
}

int query_feature_marked(const query_run_view *rv, int feature) {
    for (int i = 0; i < rv->n_marks; i++)
        if (rv->marks[i].feature == feature && feature >= 0) return 1;
    return 0;
}

int query_galaxy_marked(const query_run_view *rv, int64_t galaxy_id) {
    for (int i = 0; i < rv->n_marks; i++)
        if (rv->marks[i].galaxy_id == galaxy_id && galaxy_id > 0) return 1;
    return 0;
}

/* ---- a feature's scatter and histogram ---- */

void query_scatter_clear(query_scatter *sc) {
    free(sc->x);
    free(sc->y);
    free(sc->scaled);
    free(sc->hist);
    memset(sc, 0, sizeof *sc);
}

int query_scatter_load(store *s, const store_run *run, const store_points *points,
                       const store_feature *f, query_scatter *sc) {
    memset(sc, 0, sizeof *sc);
    store_valid_hit *hits = NULL;
    int nh = 0;
    if (store_feature_valid_hits(s, run->id, f->feature, &hits, &nh) != SF_OK) return SF_ERR;
    int n = points->n_valid;
    sc->x = xmalloc(((size_t)n + 1) * sizeof(float));
    sc->y = xmalloc(((size_t)n + 1) * sizeof(float));
    sc->scaled = xmalloc(((size_t)n + 1) * sizeof(float));
    sc->hist = xmalloc(((size_t)nh + 1) * sizeof(float));
    sc->is_bpt = points->kind == STORE_POINTS_BPT;
    double max_valid = f->max_valid;
    /* the histogram scales a feature silent on the validation set by its overall max */
    double hist_scale = f->max_valid > 0 ? f->max_valid : f->max;
    double lo = INFINITY, hi = -INFINITY;
    for (int i = 0, j = 0; i < n; i++) {
        float v = 0;
        if (j < nh && hits[j].index == i) {
            v = hits[j++].value;
            double scaled = hist_scale > 0 ? v / hist_scale : 0;
            sc->hist[sc->n_hist++] = (float)(scaled > 1 ? 1 : scaled);
        }
        float a = max_valid > 0 ? (float)(v / max_valid) : 0;
        if (a > 1) a = 1;
        float x = points->x[i], y = sc->is_bpt ? points->y[i] : a;
        if (!isfinite(x) || !isfinite(y)) continue;
        sc->x[sc->n] = x;
        sc->y[sc->n] = y;
        sc->scaled[sc->n] = a;
        sc->n++;
        if (x < lo) lo = x;
        if (x > hi) hi = x;
    }
    free(hits);
    if (sc->is_bpt) {
        snprintf(sc->x_label, sizeof sc->x_label, "log([NII]/H\xce\xb1)");
        snprintf(sc->y_label, sizeof sc->y_label, "log([OIII]/H\xce\xb2)");
        sc->x_min = -1.55;
        sc->x_max = 0.55;
        sc->y_min = -1.05;
        sc->y_max = 1.3;
    } else {
        snprintf(sc->x_label, sizeof sc->x_label, "%.40s (true)",
                 run->n_out > 0 ? run->target_names[0] : "target");
        snprintf(sc->y_label, sizeof sc->y_label, "scaled activation");
        if (!(hi > lo)) {
            lo = sc->n ? lo - 0.5 : 0;
            hi = sc->n ? hi + 0.5 : 1;
        }
        double pad = 0.03 * (hi - lo);
        sc->x_min = lo - pad;
        sc->x_max = hi + pad;
        sc->y_min = 0;
        sc->y_max = 1.02;
    }
    return SF_OK;
}

typedef struct {
    const query_equation *eq;
    int t;
} term_order;

static int term_cmp(const void *pa, const void *pb, void *ctx) {
    const term_order *o = ctx;
    const query_term *x = &o->eq->terms[*(const int *)pa], *y = &o->eq->terms[*(const int *)pb];
    double ax = fabs(x->mean_contrib[o->t]), ay = fabs(y->mean_contrib[o->t]);
    if (ax != ay) return ax > ay ? -1 : 1;
    return x->feature - y->feature;
}

void query_terms_by_contribution(const query_equation *eq, int t, int **order) {
    int *o = xmalloc(((size_t)eq->n_terms + 1) * sizeof(int));
    for (int i = 0; i < eq->n_terms; i++) o[i] = i;
    term_order ctx = {eq, t};
    qsort_r(o, (size_t)eq->n_terms, sizeof *o, term_cmp, &ctx);
    *order = o;
}

void query_format_feature_row(char *buf, size_t n, const store_run *run, const store_feature *f,
                              int header, int bar_mode) {
    char name[32], bar[64], w[128] = "", rho[16];
    int nw = run->n_out < 4 ? run->n_out : 4;
    if (header) {
        char *p = w;
        for (int t = 0; t < nw; t++) {
            char tn[9];
            const char *tname = run->target_names[t];
            if (!strncmp(tname, "log_", 4)) tname += 4;
            snprintf(tn, sizeof tn, "%.8s", tname);
            p += sprintf(p, " %8s", tn);
        }
        snprintf(buf, n, "%-8s %-18s %7s %6s %-10s %8s %8s%s %7s", "feature", "label", "active",
                 "f_act", "", "max", "mean", w, "rho");
        return;
    }
    snprintf(name, sizeof name, "%s %d", run->prefix, f->feature);
    plot_hbar(bar, 10, f->f_activated, bar_mode);
    char *p = w;
    for (int t = 0; t < nw; t++) p += sprintf(p, " %+8.3f", f->weight[t]);
    if (isnan(f->pearson[0])) snprintf(rho, sizeof rho, "%7s", "-");
    else snprintf(rho, sizeof rho, "%+7.2f", f->pearson[0]);
    char label[20];
    snprintf(label, sizeof label, "%.18s", f->label);
    snprintf(buf, n, "%-8s %-18s %7d %5.1f%% %s %8.3f %8.3f%s %s", name, label, f->n_active,
             100 * f->f_activated, bar, f->max, f->mean, w, rho);
}

int query_print_plain(FILE *out, store *s) {
    store_run *runs;
    int nr;
    if (store_runs(s, &runs, &nr) != SF_OK) return SF_ERR;
    if (nr == 0)
        fprintf(out, "%s: no runs yet (train one with sfnet-explore --train)\n",
                sf_shown(store_path(s)));
    for (int r = 0; r < nr; r++) {
        const store_run *run = &runs[r];
        store_feature *feats;
        int nf;
        if (store_features(s, run->id, STORE_SORT_FREQUENCY, 1, &feats, &nf) != SF_OK) {
            store_runs_free(runs, nr);
            return SF_ERR;
        }
        int live = 0;
        for (int i = 0; i < nf; i++) live += feats[i].n_active > 0;
        fprintf(out,
                "run %s (id %lld): %s, k=%d, %d galaxies (%d validation), %d live features of %d\n",
                run->prefix, (long long)run->id, sf_shown(run->target_spec), run->k,
                run->n_galaxies, run->n_valid, live, run->d);
        char line[512];
        query_format_feature_row(line, sizeof line, run, NULL, 1, PLOT_MODE_GLYPH);
        fprintf(out, "%s\n", sf_shown(line));
        for (int i = 0; i < nf; i++) {
            if (feats[i].n_active == 0) continue;
            query_format_feature_row(line, sizeof line, run, &feats[i], 0, PLOT_MODE_GLYPH);
            fprintf(out, "%s\n", sf_shown(line));
        }
        fprintf(out, "%d dead features hidden\n", nf - live);
        query_equation eq;
        if (query_equation_compute(s, run->id, &eq) != SF_OK) {
            free(feats);
            store_runs_free(runs, nr);
            return SF_ERR;
        }
        for (int t = 0; t < eq.n_out; t++) {
            int *order;
            query_terms_by_contribution(&eq, t, &order);
            fprintf(out, "%s = %.4f", sf_shown(eq.target_names[t]), eq.intercept[t]);
            for (int i = 0; i < eq.n_terms; i++) {
                const query_term *q = &eq.terms[order[i]];
                fprintf(out, " %c %.4f*[%s %d]", q->coef[t] < 0 ? '-' : '+', fabs(q->coef[t]),
                        run->prefix, q->feature);
            }
            fprintf(out, "\n");
            free(order);
        }
        fprintf(out,
                "(A = activation / its maximum over validation; terms by mean |contribution|)\n");
        query_equation_clear(&eq);
        fprintf(out, "\n");
        free(feats);
    }
    store_runs_free(runs, nr);
    return SF_OK;
}

int query_thumbnail(store *s, int64_t galaxy_id, uint8_t **rgb, int *w, int *h) {
    *rgb = NULL;
    *w = *h = 0;
    uint8_t *data;
    size_t len;
    if (store_thumbnail(s, galaxy_id, &data, &len) != SF_OK) return SF_ERR;
    if (!data) return SF_OK;
    int rc = image_decode_mem(data, len, "thumbnail", rgb, w, h);
    free(data);
    return rc;
}

static int load_cutout(const char *dir, const char *objid, uint8_t **rgb, int *w, int *h) {
    static const char *ext[] = {"jpg", "jpeg", "png"};
    *rgb = NULL;
    if (!dir[0] || strchr(objid, '/')) return 0;
    for (int i = 0; i < 3; i++) {
        char path[1200];
        snprintf(path, sizeof path, "%s/%s.%s", dir, objid, ext[i]);
        if (access(path, R_OK) == 0 && image_decode(path, rgb, w, h) == SF_OK) return 1;
    }
    return 0;
}

int query_export_feature(store *s, const store_run *run, int feature, const char *path,
                         int grid_cols, int grid_rows, int bpt) {
    store_feature f;
    if (store_feature_get(s, run->id, feature, &f) != SF_OK) return SF_ERR;
    if (f.n_active == 0)
        return sf_fail("%s %d is dead: no galaxy activates it, nothing to export", run->prefix,
                       feature);
    int want = grid_cols * grid_rows;
    store_hit *hits;
    int nh;
    if (store_top(s, run->id, feature, want, -1, &hits, &nh) != SF_OK) return SF_ERR;
    export_galaxy *g = xcalloc((size_t)(nh > 0 ? nh : 1), sizeof *g);
    uint8_t **pix = xcalloc((size_t)(nh > 0 ? nh : 1), sizeof *pix);
    int rc = SF_OK;
    for (int i = 0; i < nh && rc == SF_OK; i++) {
        int w = 0, h = 0;
        /* the full cutout when the image folder is still there (sharper than
         * the thumbnail stored with the run) */
        if (!load_cutout(run->images, hits[i].objid, &pix[i], &w, &h))
            rc = query_thumbnail(s, hits[i].galaxy_id, &pix[i], &w, &h);
        g[i] = (export_galaxy){hits[i].objid,
                               (float)hits[i].value,
                               (float)(hits[i].scaled > 1 ? 1 : hits[i].scaled),
                               pix[i],
                               w,
                               h};
    }
    store_points points = {0};
    query_scatter sc = {0};
    if (rc == SF_OK && bpt) {
        rc = store_run_points(s, run->id, &points);
        if (rc == SF_OK) rc = query_scatter_load(s, run, &points, &f, &sc);
    }
    if (rc == SF_OK) {
        char title[64], sub[STORE_LABEL_MAX + 128];
        snprintf(title, sizeof title, "%s %d", run->prefix, feature);
        snprintf(sub, sizeof sub, "%.200s%sactive in %d galaxies, f_activated %.1f%%, max %.3f",
                 f.label, f.label[0] ? "  \xc2\xb7  " : "", f.n_active, 100 * f.f_activated, f.max);
        export_figure fig = {.title = title,
                             .subtitle = sub,
                             .n_galaxies = nh,
                             .galaxies = g,
                             .grid_cols = grid_cols,
                             .grid_rows = grid_rows,
                             .bpt = bpt};
        if (bpt) {
            fig.n_points = sc.n;
            fig.bpt_x = sc.x;
            fig.bpt_y = sc.y;
            fig.bpt_scaled = sc.scaled;
            fig.x_label = sc.is_bpt ? NULL : sc.x_label;
            fig.y_label = sc.is_bpt ? NULL : sc.y_label;
            fig.demarcations = sc.is_bpt;
            if (!sc.is_bpt) {
                fig.x_min = sc.x_min;
                fig.x_max = sc.x_max;
                fig.y_min = sc.y_min;
                fig.y_max = sc.y_max;
            }
        }
        rc = export_figure_write(&fig, path);
    }
    query_scatter_clear(&sc);
    store_points_clear(&points);
    for (int i = 0; i < nh; i++) free(pix[i]);
    free(pix);
    free(g);
    free(hits);
    return rc;
}
