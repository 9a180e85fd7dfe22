/* tui_galaxy.c: one galaxy: its cutout, its active features with their
 * contributions to the prediction (a waterfall), prediction vs truth, beside them its
 * active features in every other run that holds it, and below the galaxies nearest it
 * by sparse code (tui_cross.c loads those two when the page opens).
 * Layer: tui. Calls: store_read, query_cross, tui_app, tui_cross, tui_marks, tui_thumb,
 * sf_util; ncursesw.
 * Called by: tui_app.
 */
#include <curses.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sf_util.h"
#include "tui_app.h"

int tui_galaxy_page_load(store *s, const tui_run *r, int64_t galaxy_id, tui_galaxy_page *p) {
    memset(p, 0, sizeof *p);
    if (store_galaxy_get(s, galaxy_id, &p->g) != SF_OK) return SF_ERR;
    if (store_galaxy_in_run(s, r->v.run.id, galaxy_id, &p->gr) != SF_OK) return SF_ERR;
    tui_image_load(s, &r->v.run, galaxy_id, p->g.objid, &p->image);
    return SF_OK;
}

void tui_galaxy_page_clear(tui_galaxy_page *p) {
    tui_cross_galaxy_clear(p);
    store_galaxy_clear(&p->g);
    store_galaxy_run_clear(&p->gr);
    tui_image_clear(&p->image);
}

/* The feature's weight for target t in target units per unit of raw activation. */
static double coef(const tui_app *a, int feature, int t) {
    const store_feature *f = query_run_view_feature(&a->run.v, feature);
    return f ? tui_cur_run(a)->target_std[t] * f->weight[t] : 0;
}

/* The page's other runs and similar galaxies (none when they could not be read). */
static const tui_galaxy_cross *cross_of(const tui_galaxy_page *d) {
    static const tui_galaxy_cross none;
    return d->cross ? d->cross : &none;
}

/* Where the other runs' features and the similar galaxies go. */
typedef struct {
    int near_rows; /* rows kept at the bottom for the similar galaxies (0: none) */
    int near_th, near_tw, n_near;
    int n_other; /* rows of other runs' features (selectable) */
    int other_w; /* width of one run's column */
} cross_layout;

#define OTHER_W 26

static void cross_fit(const tui_galaxy_cross *g, tui_rect area, int x0, cross_layout *L) {
    memset(L, 0, sizeof *L);
    L->other_w = OTHER_W;
    for (int i = 0; i < g->n_runs; i++) L->n_other += g->gr[i].n_active;
    if (area.cols - x0 - 48 < g->n_runs * (OTHER_W + 1)) L->n_other = 0; /* too narrow */
    L->near_th = area.rows >= 36 ? 5 : area.rows >= 30 ? 4 : 0;
    if (!L->near_th) return;
    L->near_tw = 2 * L->near_th;
    L->near_rows = L->near_th + 3;
    L->n_near = (area.cols - 2) / (L->near_tw + 3);
    if (L->n_near > g->n_near) L->n_near = g->n_near;
}

/* The thumbnail's height, the similar galaxies' rows and the other runs' columns for the
 * page in area. */
static int galaxy_fit(const tui_galaxy_cross *g, tui_rect area, cross_layout *X) {
    cross_fit(g, area, 0, X);
    int rows = area.rows - X->near_rows;
    int th = rows - 4 > 14 ? 14 : rows - 4;
    if (th > (area.cols / 2) / 2) th = (area.cols / 2) / 2;
    cross_fit(g, area, 2 * th + 3, X);
    return th;
}

void tui_galaxy_draw(tui_app *a, tui_view *v, tui_rect area) {
    const store_run *run = tui_cur_run(a);
    const tui_galaxy_page *d = v->page;
    char buf[512];
    cross_layout X;
    int th = galaxy_fit(cross_of(d), area, &X);
    area.rows -= X.near_rows;
    int tw = 2 * th;
    attron(A_BOLD);
    if (query_galaxy_marked(&a->run.v, d->g.id)) tui_text(a, area.y, 0, 1, TUI_MARK_SIGN);
    tui_text(a, area.y, 1, -1, d->g.objid);
    attroff(A_BOLD);
    tui_draw_thumb(a, &d->image, (tui_rect){1, area.y + 2, tw, th});
    int y = area.y + 3 + th;
    if (!isnan(d->g.ra)) {
        snprintf(buf, sizeof buf, "ra %.5f  dec %.5f", d->g.ra, d->g.dec);
        tui_text(a, y++, 1, tw, buf);
    }
    for (int c = 0; c < d->g.n_columns && y < area.y + area.rows; c++) {
        if (isnan(d->g.values[c])) continue;
        snprintf(buf, sizeof buf, "%-16.16s %10.4g", d->g.column_names[c], d->g.values[c]);
        tui_text(a, y++, 1, tw > 28 ? tw : 28, buf);
    }

    int x0 = tw + 3, w = area.cols - x0;
    int n_own = d->gr.n_out ? d->gr.n_active : 0;
    /* the galaxies nearest this one by sparse code, as thumbnails along the bottom */
    if (X.near_rows) {
        int ny = area.y + area.rows;
        const tui_galaxy_cross *g = cross_of(d);
        attron(A_BOLD);
        if (g->n_near)
            snprintf(buf, sizeof buf,
                     "similar galaxies in %s: cosine of the sparse codes (c selects)", run->prefix);
        else
            snprintf(buf, sizeof buf, "similar galaxies: %s",
                     g->near_why[0] ? g->near_why : "none");
        tui_text(a, ny, 1, area.cols - 1, buf);
        attroff(A_BOLD);
        for (int i = 0; i < X.n_near; i++) {
            const query_neighbor *q = &g->near[i];
            int tx = 1 + i * (X.near_tw + 3);
            tui_draw_thumb(a, &g->near_image[i], (tui_rect){tx, ny + 1, X.near_tw, X.near_th});
            int selected = v->sel == n_own + X.n_other + i;
            size_t len = strlen(q->objid);
            int keep = X.near_tw + 2;
            snprintf(buf, sizeof buf, "%s%s", (int)len > keep ? "\xe2\x80\xa6" : "",
                     (int)len > keep ? q->objid + len - (keep - 1) : q->objid);
            if (selected) attron(A_REVERSE);
            tui_text(a, ny + 1 + X.near_th, tx, X.near_tw + 2, buf);
            attroff(A_REVERSE);
            snprintf(buf, sizeof buf, "cos %.3f", q->cosine);
            tui_color_value(a, q->cosine);
            tui_text(a, ny + 2 + X.near_th, tx, X.near_tw + 2, buf);
            tui_color_reset(a);
        }
    }
    /* its active features in the other runs that hold it, side by side at the right */
    int other_bottom = area.y; /* the rows below are free across the whole width */
    if (X.n_other) {
        const tui_galaxy_cross *g = cross_of(d);
        int row = n_own;
        for (int r = 0; r < g->n_runs; r++) {
            const store_run *o = &a->runs[g->run[r]];
            const store_galaxy_run *gr = &g->gr[r];
            int ox = area.cols - (g->n_runs - r) * (OTHER_W + 1), oy = area.y + 2;
            attron(A_BOLD);
            snprintf(buf, sizeof buf, "in %s (%s): %d active", o->prefix,
                     gr->split ? "valid" : "train", gr->n_active);
            tui_text(a, oy++, ox, OTHER_W, buf);
            attroff(A_BOLD);
            for (int k = 0; k < gr->n_active && oy < area.y + area.rows; k++, row++) {
                snprintf(buf, sizeof buf, "%s %-5d A %5.2f  %8.3f", o->prefix, gr->feature[k],
                         gr->scaled[k], gr->value[k]);
                if (v->sel == row) attron(A_REVERSE);
                tui_text(a, oy++, ox, OTHER_W, buf);
                attroff(A_REVERSE);
            }
            if (oy > other_bottom) other_bottom = oy;
        }
        if (g->n_runs) w -= g->n_runs * (OTHER_W + 1);
    }
    if (d->gr.n_out == 0) {
        snprintf(buf, sizeof buf, "not in run %s (Tab switches runs)", run->prefix);
        tui_text(a, area.y + 2, x0, w, buf);
        return;
    }
    if (v->target >= run->n_out) v->target = 0;
    int t = v->target;
    snprintf(buf, sizeof buf, "run %s, %s galaxy", run->prefix,
             d->gr.split == 1 ? "validation" : "training");
    tui_text(a, area.y, x0, w, buf);
    int ry = area.y + 2;
    attron(A_BOLD);
    snprintf(buf, sizeof buf, "%-16s %10s %10s %10s", "target", "predicted", "true", "residual");
    tui_text(a, ry++, x0, w, buf);
    attroff(A_BOLD);
    for (int k = 0; k < d->gr.n_out; k++) {
        snprintf(buf, sizeof buf, "%-16.16s %10.4f %10.4f %+10.4f%s", run->target_names[k],
                 d->gr.pred[k], d->gr.truth[k], d->gr.truth[k] - d->gr.pred[k],
                 k == t ? "  <" : "");
        tui_text(a, ry++, x0, w, buf);
    }
    ry++;
    double b = run->target_mean[t] + run->target_std[t] * run->bias[t];
    attron(A_BOLD);
    snprintf(buf, sizeof buf, "%d active features: contributions to %s%s", d->gr.n_active,
             run->target_names[t], run->n_out > 1 ? " (h/l: other targets)" : "");
    tui_text(a, ry++, x0, w, buf);
    attroff(A_BOLD);
    snprintf(buf, sizeof buf, "%-8s %9s %6s %10s %10s", "feature", "A", "A/max", "c*A", "running");
    attron(A_UNDERLINE);
    tui_text(a, ry++, x0, w, buf);
    attroff(A_UNDERLINE);
    snprintf(buf, sizeof buf, "%-8s %9s %6s %10s %10.4f", "bias", "", "", "", b);
    tui_text(a, ry++, x0, w, buf);
    double maxc = 0;
    for (int i = 0; i < d->gr.n_active; i++) {
        double c = fabs(coef(a, d->gr.feature[i], t) * d->gr.value[i]);
        if (c > maxc) maxc = c;
    }
    if (v->sel >= n_own + X.n_other + X.n_near)
        v->sel = n_own + X.n_other + X.n_near > 0 ? n_own + X.n_other + X.n_near - 1 : 0;
    double running = b;
    int bar_x = x0 + 48, bar_w = (x0 + w - bar_x - 1) / 2;
    for (int i = 0; i < d->gr.n_active && ry < area.y + area.rows; i++) {
        double c = coef(a, d->gr.feature[i], t) * d->gr.value[i];
        running += c;
        snprintf(buf, sizeof buf, "%s %-5d %9.4f %6.2f %+10.4f %10.4f", run->prefix,
                 d->gr.feature[i], d->gr.value[i], d->gr.scaled[i], c, running);
        if (query_feature_marked(&a->run.v, d->gr.feature[i]))
            tui_text(a, ry, x0 - 1, 1, TUI_MARK_SIGN);
        if (i == v->sel) attron(A_REVERSE);
        tui_text(a, ry, x0, w < 47 ? w : 47, buf);
        attroff(A_REVERSE);
        if (bar_w >= 4 && maxc > 0) {
            int len = (int)lround(fabs(c) / maxc * bar_w);
            mvaddch(ry, bar_x + bar_w, '|');
            tui_color_value(a, c >= 0 ? 0.95 : 0.45);
            for (int k = 0; k < len; k++)
                tui_text(a, ry, c >= 0 ? bar_x + bar_w + 1 + k : bar_x + bar_w - 1 - k, 1,
                         a->plot_mode == PLOT_MODE_GLYPH ? (c >= 0 ? "+" : "-") : "\xe2\x96\x88");
            tui_color_reset(a);
        }
        ry++;
    }
    if (ry < area.y + area.rows) {
        snprintf(buf, sizeof buf, "%-8s %9s %6s %10s %10.4f  (stored prediction %.4f)", "sum", "",
                 "", "", running, d->gr.pred[t]);
        attron(A_BOLD);
        tui_text(a, ry, x0, ry >= other_bottom ? area.cols - x0 : w, buf);
        attroff(A_BOLD);
    }
}

/* The run index and feature of selectable row k of the other runs' features. */
static int other_feature(const tui_galaxy_cross *g, int k, int *run, int *feature) {
    for (int r = 0; r < g->n_runs; r++) {
        if (k < g->gr[r].n_active) {
            *run = g->run[r];
            *feature = g->gr[r].feature[k];
            return 1;
        }
        k -= g->gr[r].n_active;
    }
    return 0;
}

int tui_galaxy_key(tui_app *a, tui_view *v, int ch, tui_rect area) {
    const store_run *run = tui_cur_run(a);
    const tui_galaxy_page *d = v->page;
    cross_layout X;
    galaxy_fit(cross_of(d), area, &X);
    int n_own = d->gr.n_out ? d->gr.n_active : 0, n = n_own + X.n_other + X.n_near, used = 1;
    int rows = area.rows;
    int run_i, feature;
    if (tui_list_move(ch, &v->sel, &v->top, n, rows)) {
    } else if ((ch == 'h' || ch == KEY_LEFT) && run->n_out > 0) {
        v->target = (v->target + run->n_out - 1) % run->n_out;
    } else if ((ch == 'l' || ch == KEY_RIGHT) && run->n_out > 0) {
        v->target = (v->target + 1) % run->n_out;
    } else if (ch == 'o') {
        if (X.n_other)
            v->sel = v->sel >= n_own && v->sel + 1 < n_own + X.n_other ? v->sel + 1 : n_own;
        else
            tui_msg(a, cross_of(d)->n_runs ? "the terminal is too narrow for the other runs"
                                           : "no other run holds this galaxy");
    } else if (ch == 'c') {
        if (X.n_near)
            v->sel = v->sel >= n_own + X.n_other && v->sel + 1 < n ? v->sel + 1 : n_own + X.n_other;
        else
            tui_msg(a, "%s",
                    cross_of(d)->n_near ? "the terminal is too short for the similar galaxies"
                    : cross_of(d)->near_why[0] ? cross_of(d)->near_why
                                               : "no similar galaxy");
    } else if (ch == 'x') {
        int k = v->sel >= n_own && v->sel < n_own + X.n_other ? v->sel - n_own : 0;
        if (other_feature(cross_of(d), k, &run_i, &feature)) tui_open_in_run(a, run_i, feature);
        else tui_msg(a, "no other run holds this galaxy");
    } else if ((ch == '\n' || ch == KEY_ENTER) && v->sel < n) {
        if (v->sel < n_own) tui_open_feature(a, d->gr.feature[v->sel]);
        else if (v->sel < n_own + X.n_other &&
                 other_feature(cross_of(d), v->sel - n_own, &run_i, &feature))
            tui_open_in_run(a, run_i, feature);
        else if (v->sel >= n_own + X.n_other)
            tui_open_galaxy(a, cross_of(d)->near[v->sel - n_own - X.n_other].galaxy_id);
    } else {
        used = 0;
    }
    return used;
}
