/* tui_feature.c: one feature: its top galaxies and quantile samples as
 * thumbnails, the features most correlated with it, the BPT (or activation vs
 * target) scatter, the activation histogram, its statistics, head weights and label.
 * Layer: tui. Calls: plot, query, query_similar, tui_app, tui_equation, tui_marks, sf_util;
 *     ncursesw.
 * Called by: tui_app.
 */
#include <curses.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis_run.h"
#include "sf_util.h"
#include "tui_app.h"

typedef struct {
    int tw, th;   /* tile size in cells */
    int across;   /* tiles per row */
    int top_rows; /* rows of top galaxies */
    int n_top, n_quant;
    int left_w;                    /* width of the thumbnail panel */
    int grid_y;                    /* first row of the tiles */
    int has_sim;                   /* the terminal is tall enough for the similar features */
    int sim_y;                     /* their title row (below the tiles) */
    int n_sim;                     /* similar features listed */
    int cross_x, cross_y, cross_w; /* the counterparts' first title row: under the plots,
                                      else under the similar features */
    int n_cross;                   /* counterpart rows listed (titles excluded) */
    int plot_rows;                 /* rows of the scatter and histogram (above the counterparts) */
} layout;

/* Rows kept for the similar features: a title and one row each. */
#define SIMILAR_ROWS (1 + TUI_SIMILAR)
#define TOP_GALAXIES 12

int tui_feature_page_load(store *s, tui_run *r, int feature, tui_feature_page *p) {
    memset(p, 0, sizeof *p);
    const store_run *run = &r->v.run;
    p->feature = feature;
    if (store_feature_get(s, run->id, feature, &p->f) != SF_OK) return SF_ERR;
    if (store_top(s, run->id, feature, TOP_GALAXIES, -1, &p->top, &p->n_top) != SF_OK)
        return SF_ERR;
    if (store_feature_samples(s, run->id, feature, &p->quant, &p->n_quant) != SF_OK) return SF_ERR;
    if (query_scatter_load(s, run, &r->v.points, &p->f, &p->sc) != SF_OK) return SF_ERR;
    p->images = xcalloc((size_t)(p->n_top + p->n_quant) + 1, sizeof *p->images);
    for (int i = 0; i < p->n_top + p->n_quant; i++) {
        const store_hit *h = i < p->n_top ? &p->top[i] : &p->quant[i - p->n_top];
        tui_image_load(s, run, h->galaxy_id, h->objid, &p->images[i]);
    }
    /* a suggestion is a bonus: a failure only leaves it empty */
    if (p->f.n_active > 0 && analysis_feature_suggestion(s, run->id, feature, p->suggestion,
                                                         sizeof p->suggestion) != SF_OK)
        p->suggestion[0] = 0;
    /* the features most correlated with this one, from the run's stored sums */
    if (query_similar_load(s, run->id, feature, TUI_SIMILAR, p->similar, &p->n_similar) != SF_OK)
        p->similar_failed = 1;
    /* its share of the first prediction: its mean w'A against all terms' */
    if (query_run_view_equation(s, &r->v) == SF_OK) {
        const query_equation *eq = &r->v.eq;
        double total = 0;
        for (int j = 0; j < eq->n_terms; j++) total += fabs(eq->terms[j].mean_contrib[0]);
        for (int i = 0; i < eq->n_terms; i++) {
            if (eq->terms[i].feature != feature) continue;
            p->has_share = 1;
            p->mean_contrib = eq->terms[i].mean_contrib[0];
            p->share = total > 0 ? fabs(p->mean_contrib) / total : 0;
        }
    }
    return SF_OK;
}

void tui_feature_page_clear(tui_feature_page *p) {
    tui_cross_feature_clear(p);
    free(p->top);
    free(p->quant);
    for (int i = 0; p->images && i < p->n_top + p->n_quant; i++) tui_image_clear(&p->images[i]);
    free(p->images);
    query_scatter_clear(&p->sc);
    memset(p, 0, sizeof *p);
}

static void compute_layout(const tui_feature_page *fd, tui_rect area, layout *L) {
    int plots_w = area.cols * 45 / 100;
    if (plots_w < 36) plots_w = 36;
    L->left_w = area.cols - plots_w - 1;
    L->grid_y = area.y + 3;
    int avail = area.rows - 3;
    /* the counterparts in the other runs, a title and their rows for each: under the
     * plots when these keep their height, else under the similar features */
    int cross_rows = 0;
    L->n_cross = 0;
    for (int i = 0; i < fd->n_cross; i++) {
        cross_rows += 1 + (fd->cross[i].cp.n ? fd->cross[i].cp.n : 1);
        L->n_cross += fd->cross[i].cp.n;
    }
    L->plot_rows = area.rows - 2;
    int under_plots = cross_rows && (L->plot_rows - cross_rows) * 38 / 100 >= 8;
    if (under_plots) {
        L->plot_rows -= cross_rows;
        L->cross_x = L->left_w + 2;
        L->cross_y = area.y + 2 + L->plot_rows;
        L->cross_w = area.cols - L->cross_x;
    } else {
        if (avail - cross_rows < 10) cross_rows = L->n_cross = 0;
        avail -= cross_rows;
    }
    L->has_sim = avail - SIMILAR_ROWS >= 10;
    if (L->has_sim) avail -= SIMILAR_ROWS;
    L->n_sim = L->has_sim ? fd->n_similar : 0;
    L->sim_y = L->grid_y + avail;
    if (!under_plots) {
        L->cross_x = 1;
        L->cross_y = L->sim_y + (L->has_sim ? SIMILAR_ROWS : 0);
        L->cross_w = L->left_w - 1;
    }
    static const int heights[] = {10, 8, 7, 6, 5, 4, 3};
    for (int k = 0; k < 7; k++) {
        L->th = heights[k];
        L->tw = 2 * L->th;
        L->across = L->left_w / (L->tw + 1);
        if (L->across < 1) L->across = 1;
        int blocks = (avail - 1) / (L->th + 2); /* one label row for the quantile samples */
        L->top_rows = blocks - 1;
        if (L->top_rows < 1) L->top_rows = 1;
        if (L->top_rows * L->across >= 6 && blocks >= 2) break;
    }
    int blocks = (avail - 1) / (L->th + 2);
    L->n_top = L->top_rows * L->across;
    if (L->n_top > fd->n_top) L->n_top = fd->n_top;
    L->n_quant = blocks >= 2 ? L->across : 0;
    if (L->n_quant > fd->n_quant) L->n_quant = fd->n_quant;
}

static void draw_tile(tui_app *a, const store_hit *h, const tui_image *img, int x, int y,
                      const layout *L, int selected) {
    tui_rect r = {x, y, L->tw, L->th};
    tui_draw_thumb(a, img, r);
    char buf[64];
    size_t len = strlen(h->objid);
    /* objIDs share their first digits: keep the end when it does not fit */
    if ((int)len > L->tw) snprintf(buf, sizeof buf, "\xe2\x80\xa6%s", h->objid + len - (L->tw - 1));
    else snprintf(buf, sizeof buf, "%s", h->objid);
    if (selected) attron(A_REVERSE);
    tui_text(a, y + L->th, x, L->tw, buf);
    attroff(A_REVERSE);
    if (L->tw >= 13)
        snprintf(buf, sizeof buf, "%.3f A=%.2f%s", h->value, h->scaled > 1 ? 1.0 : h->scaled,
                 h->split == 1 ? "" : " t");
    else snprintf(buf, sizeof buf, "%.3f", h->value);
    tui_color_value(a, h->scaled > 1 ? 1 : h->scaled);
    tui_text(a, y + L->th + 1, x, L->tw, buf);
    tui_color_reset(a);
}

void tui_feature_draw(tui_app *a, tui_view *v, tui_rect area) {
    const store_run *run = tui_cur_run(a);
    const tui_feature_page *fd = v->page;
    const store_feature *f = &fd->f;
    char buf[512];
    attron(A_BOLD);
    if (query_feature_marked(&a->run.v, f->feature)) tui_text(a, area.y, 0, 1, TUI_MARK_SIGN);
    snprintf(buf, sizeof buf, "%s %d", run->prefix, f->feature);
    int x = 1 + tui_text(a, area.y, 1, -1, buf);
    attroff(A_BOLD);
    snprintf(buf, sizeof buf,
             "  %s%s%s  active in %d galaxies, %d of %d validation (f_activated %.1f%%)  "
             "max %.3f  mean %.3f",
             f->label[0] ? "\xe2\x80\x9c" : "", f->label[0] ? f->label : "(no label: L)",
             f->label[0] ? "\xe2\x80\x9d" : "", f->n_active, f->n_active_valid, run->n_valid,
             100 * f->f_activated, f->max, f->mean);
    tui_text(a, area.y, x, area.cols - x, buf);
    char *p = buf;
    p += sprintf(p, "head w (r):");
    for (int t = 0; t < run->n_out && p < buf + sizeof buf - 80; t++) {
        const char *name = run->target_names[t];
        if (!strncmp(name, "log_", 4)) name += 4;
        p += sprintf(p, " %.12s %+.3f", name, f->weight[t]);
        if (!isnan(f->pearson[t])) p += sprintf(p, " (%+.2f)", f->pearson[t]);
    }
    int hx = 1 + tui_text(a, area.y + 1, 1, area.cols - 1, buf);
    if (fd->suggestion[0] && hx + 16 < area.cols) {
        snprintf(buf, sizeof buf, "  suggested: %s", fd->suggestion);
        attron(A_DIM);
        tui_text(a, area.y + 1, hx, area.cols - hx, buf);
        attroff(A_DIM);
    }

    layout L;
    compute_layout(fd, area, &L);
    int n_sel = L.n_top + L.n_quant + L.n_sim + L.n_cross;
    if (v->sel >= n_sel) v->sel = n_sel > 0 ? n_sel - 1 : 0;
    attron(A_BOLD);
    snprintf(buf, sizeof buf, "top %d galaxies", L.n_top);
    int tx0 = 1 + tui_text(a, L.grid_y - 1, 1, L.left_w - 1, buf);
    attroff(A_BOLD);
    if (fd->has_share) {
        snprintf(buf, sizeof buf, "   mean w'A to %s %+.4f (%.1f%% of all)", run->target_names[0],
                 fd->mean_contrib, 100 * fd->share);
        attron(A_DIM);
        tui_text(a, L.grid_y - 1, tx0, L.left_w - tx0, buf);
        attroff(A_DIM);
    }
    for (int i = 0; i < L.n_top; i++) {
        int tx = 1 + (i % L.across) * (L.tw + 1), ty = L.grid_y + (i / L.across) * (L.th + 2);
        draw_tile(a, &fd->top[i], &fd->images[i], tx, ty, &L, v->sel == i);
    }
    if (L.n_quant > 0) {
        int qy = L.grid_y + L.top_rows * (L.th + 2);
        attron(A_BOLD);
        tui_text(a, qy, 1, L.left_w - 1, "samples at activation quantiles (low to high)");
        attroff(A_BOLD);
        for (int i = 0; i < L.n_quant; i++) {
            /* spread the picks over the whole range when fewer fit */
            int j = L.n_quant < fd->n_quant ? (int)((i + 0.5) * fd->n_quant / L.n_quant) : i;
            draw_tile(a, &fd->quant[j], &fd->images[fd->n_top + j], 1 + i * (L.tw + 1), qy + 1, &L,
                      v->sel == L.n_top + i);
        }
    }

    if (L.has_sim) {
        if (L.n_sim)
            snprintf(buf, sizeof buf,
                     "similar features: Pearson r over all %d galaxies (c selects)",
                     run->n_galaxies);
        else
            snprintf(buf, sizeof buf, "similar features: %s",
                     fd->similar_failed ? "could not be read"
                     : f->n_active      ? "none (no other feature varies)"
                                        : "none (a dead feature)");
        attron(A_BOLD);
        tui_text(a, L.sim_y, 1, L.left_w - 1, buf);
        attroff(A_BOLD);
    }
    for (int i = 0; i < L.n_sim; i++) {
        const query_similar *q = &fd->similar[i];
        const store_feature *sf = query_run_view_feature(&a->run.v, q->feature);
        char name[STORE_PREFIX_MAX + 16];
        query_feature_name(run, q->feature, name, sizeof name);
        snprintf(buf, sizeof buf, "%-8s r=%+.3f  both active in %-7d %s%s%s", name, q->r, q->n_both,
                 sf && sf->label[0] ? "\xe2\x80\x9c" : "", sf ? sf->label : "",
                 sf && sf->label[0] ? "\xe2\x80\x9d" : "");
        int y = L.sim_y + 1 + i;
        if (query_feature_marked(&a->run.v, q->feature)) tui_text(a, y, 0, 1, TUI_MARK_SIGN);
        if (v->sel == L.n_top + L.n_quant + i) attron(A_REVERSE);
        tui_text(a, y, 2, L.left_w - 2, buf);
        attroff(A_REVERSE);
    }

    /* the counterparts: for each other run, its features most correlated with this one
     * over the galaxies both runs hold */
    int ky = L.cross_y, row = L.n_top + L.n_quant + L.n_sim;
    for (int b = 0; L.n_cross && b < fd->n_cross; b++) {
        const tui_cross_block *cb = &fd->cross[b];
        const store_run *other = &a->runs[cb->run];
        snprintf(buf, sizeof buf, "counterparts in %s%s: r over %d shared galaxies", other->prefix,
                 b == 0 ? " (o, x)" : "", cb->cp.n_shared);
        attron(A_BOLD);
        tui_text(a, ky++, L.cross_x, L.cross_w, buf);
        attroff(A_BOLD);
        if (!cb->cp.n)
            tui_text(a, ky++, L.cross_x + 1, L.cross_w - 1,
                     "none (the feature is dead where they overlap)");
        for (int i = 0; i < cb->cp.n; i++, row++) {
            const query_counterpart *c = &cb->cp.list[i];
            char name[STORE_PREFIX_MAX + 16];
            query_feature_name(other, c->feature, name, sizeof name);
            snprintf(buf, sizeof buf, "%-6s r=%+.3f  both in %-6d (%.1f%% of %s %d's)", name, c->r,
                     c->n_both, 100 * c->f_cond, run->prefix, f->feature);
            if (v->sel == row) attron(A_REVERSE);
            tui_text(a, ky++, L.cross_x + 1, L.cross_w - 1, buf);
            attroff(A_REVERSE);
        }
    }

    /* plots on the right */
    int px = L.left_w + 1, pw = area.cols - px;
    int avail = L.plot_rows;
    int sh = avail * 62 / 100, hh = avail - sh;
    if (sh > 8 && pw > 20) {
        plot_grid g;
        plot_grid_init(&g, pw, sh, a->plot_mode);
        plot_axes ax = {0};
        ax.x_min = fd->sc.x_min;
        ax.x_max = fd->sc.x_max;
        ax.y_min = fd->sc.y_min;
        ax.y_max = fd->sc.y_max;
        if (v->zoom > 0) {
            double zf = pow(1.5, v->zoom);
            double cx = (ax.x_min + ax.x_max) / 2, half_x = (ax.x_max - ax.x_min) / 2 / zf;
            double cy = (ax.y_min + ax.y_max) / 2, half_y = (ax.y_max - ax.y_min) / 2 / zf;
            ax.x_min = cx - half_x;
            ax.x_max = cx + half_x;
            ax.y_min = cy - half_y;
            ax.y_max = cy + half_y;
        }
        ax.x_label = fd->sc.x_label;
        ax.y_label = fd->sc.y_label;
        if (fd->sc.is_bpt) {
            ax.n_curves = 2;
            ax.curves[0] = plot_kauffmann2003;
            ax.curves[1] = plot_kewley2001;
        }
        plot_scatter(&g, 0, 0, pw - 8, sh, &ax, fd->sc.x, fd->sc.y, fd->sc.scaled, fd->sc.n);
        plot_colorbar(&g, pw - 7, 2, sh - 5, 0, 1, "A");
        tui_draw_grid(a, &g, px, area.y + 2);
        plot_grid_free(&g);
        snprintf(buf, sizeof buf, "%s, %d validation galaxies, colour = scaled activation",
                 fd->sc.is_bpt ? "BPT" : "activation vs target", fd->sc.n);
        tui_text(a, area.y + 2, px + (int)strlen(fd->sc.y_label) + 3,
                 pw - (int)strlen(fd->sc.y_label) - 3, buf);
    }
    if (hh >= 8 && pw > 20) {
        plot_grid g;
        plot_grid_init(&g, pw, hh, a->plot_mode);
        int bins = (pw - 8) / 2 > 40 ? 40 : (pw - 8) / 2;
        if (bins < 4) bins = 4;
        plot_histogram(&g, 0, 0, pw - 2, hh, fd->sc.hist, fd->sc.n_hist, bins, 0, 1,
                       "scaled activation A (active validation galaxies)", NULL);
        tui_draw_grid(a, &g, px, area.y + 2 + sh);
        plot_grid_free(&g);
    }
}

int tui_feature_key(tui_app *a, tui_view *v, int ch, tui_rect area) {
    const tui_feature_page *fd = v->page;
    layout L;
    compute_layout(fd, area, &L);
    int n_tiles = L.n_top + L.n_quant, n_sel = n_tiles + L.n_sim + L.n_cross;
    int first_cross = n_tiles + L.n_sim;
    switch (ch) {
    case 'j':
    case KEY_DOWN:
    case 'l':
    case KEY_RIGHT:
        if (v->sel + 1 < n_sel) v->sel++;
        return 1;
    case 'k':
    case KEY_UP:
    case 'h':
    case KEY_LEFT:
        if (v->sel > 0) v->sel--;
        return 1;
    case 'c':
        if (!L.n_sim) {
            tui_msg(a, L.has_sim ? "no similar features"
                                 : "the terminal is too short for the similar features");
            return 1;
        }
        v->sel = v->sel >= n_tiles && v->sel + 1 < n_sel ? v->sel + 1 : n_tiles;
        return 1;
    case 'o':
        if (!L.n_cross) {
            tui_msg(a,
                    fd->n_cross ? "the terminal is too short for the counterparts"
                                : "no other run shares galaxies with %s",
                    tui_cur_run(a)->prefix);
            return 1;
        }
        v->sel = v->sel >= first_cross && v->sel + 1 < n_sel ? v->sel + 1 : first_cross;
        return 1;
    case 'x': {
        /* the selected counterpart, else the strongest of the first other run */
        int pick = v->sel >= first_cross && v->sel < n_sel ? v->sel - first_cross : 0;
        for (int b = 0; b < fd->n_cross; b++) {
            const tui_cross_block *cb = &fd->cross[b];
            if (pick < cb->cp.n) {
                tui_open_in_run(a, cb->run, cb->cp.list[pick].feature);
                return 1;
            }
            pick -= cb->cp.n;
        }
        tui_msg(a,
                a->n_others ? "no counterpart: the feature is dead where the runs overlap"
                            : "no other run shares galaxies with %s",
                tui_cur_run(a)->prefix);
        return 1;
    }
    case '+':
    case '=':
        if (v->zoom < 6) v->zoom++;
        tui_msg(a, "scatter zoom x%.2f (- zooms out, 0 resets)", pow(1.5, v->zoom));
        return 1;
    case '-':
        if (v->zoom > 0) v->zoom--;
        tui_msg(a, "scatter zoom x%.2f", pow(1.5, v->zoom));
        return 1;
    case '0': v->zoom = 0; return 1;
    case 'g':
    case KEY_HOME: v->sel = 0; return 1;
    case 'G':
    case KEY_END: v->sel = n_sel > 0 ? n_sel - 1 : 0; return 1;
    case KEY_NPAGE:
    case 4: v->sel = n_sel > 0 ? n_sel - 1 : 0; return 1;
    case KEY_PPAGE:
    case 21: v->sel = 0; return 1;
    case TUI_KEY_CLICK:
    case TUI_KEY_DCLICK: {
        int hit = -1;
        for (int i = 0; i < n_tiles && hit < 0; i++) {
            int tx, ty;
            if (i < L.n_top) {
                tx = 1 + (i % L.across) * (L.tw + 1);
                ty = L.grid_y + (i / L.across) * (L.th + 2);
            } else {
                tx = 1 + (i - L.n_top) * (L.tw + 1);
                ty = L.grid_y + L.top_rows * (L.th + 2) + 1;
            }
            if (a->click_x >= tx && a->click_x < tx + L.tw && a->click_y >= ty &&
                a->click_y < ty + L.th + 2)
                hit = i;
        }
        int row = a->click_y - (L.sim_y + 1);
        if (hit < 0 && row >= 0 && row < L.n_sim && a->click_x < L.left_w) hit = n_tiles + row;
        /* counterpart rows: below each block's title */
        for (int b = 0, y = L.cross_y, k = first_cross; hit < 0 && L.n_cross && b < fd->n_cross;
             b++) {
            int n = fd->cross[b].cp.n;
            if (a->click_y > y && a->click_y <= y + n && a->click_x >= L.cross_x &&
                a->click_x < L.cross_x + L.cross_w)
                hit = k + a->click_y - y - 1;
            y += 1 + (n ? n : 1);
            k += n;
        }
        if (hit < 0) return 1;
        if (v->sel != hit && ch == TUI_KEY_CLICK) {
            v->sel = hit;
            return 1;
        }
        v->sel = hit;
    }
    /* fall through */
    case '\n':
    case KEY_ENTER:
        /* the view may move when the stack is full: nothing of fd is used after opening */
        if (v->sel < L.n_top) {
            tui_open_galaxy(a, fd->top[v->sel].galaxy_id);
        } else if (v->sel < n_tiles) {
            int i = v->sel - L.n_top;
            int j = L.n_quant < fd->n_quant ? (int)((i + 0.5) * fd->n_quant / L.n_quant) : i;
            tui_open_galaxy(a, fd->quant[j].galaxy_id);
        } else if (v->sel < first_cross) {
            /* on top of this one, so that q comes back here */
            tui_push_feature(a, fd->similar[v->sel - n_tiles].feature, v->zoom);
        } else if (v->sel < n_sel) {
            return tui_feature_key(a, v, 'x', area);
        }
        return 1;
    }
    return 0;
}
