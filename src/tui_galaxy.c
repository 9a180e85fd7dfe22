/* tui_galaxy.c: one galaxy: its cutout, its active features with their
 * contributions to the prediction (a waterfall), prediction vs truth.
 * Layer: tui. Calls: store_read, tui_app, tui_marks, sf_util; ncursesw.
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
    store_galaxy_clear(&p->g);
    store_galaxy_run_clear(&p->gr);
    tui_image_clear(&p->image);
}

/* The feature's weight for target t in target units per unit of raw activation. */
static double coef(const tui_app *a, int feature, int t) {
    const store_feature *f = query_run_view_feature(&a->run.v, feature);
    return f ? tui_cur_run(a)->target_std[t] * f->weight[t] : 0;
}

void tui_galaxy_draw(tui_app *a, tui_view *v, tui_rect area) {
    const store_run *run = tui_cur_run(a);
    const tui_galaxy_page *d = v->page;
    char buf[512];
    int th = area.rows - 4 > 14 ? 14 : area.rows - 4;
    if (th > (area.cols / 2) / 2) th = (area.cols / 2) / 2;
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
    if (d->gr.n_out == 0) {
        snprintf(buf, sizeof buf, "not in run %s (Tab switches runs)", run->prefix);
        tui_text(a, area.y + 2, x0, w, buf);
        return;
    }
    if (v->target >= run->n_out) v->target = 0;
    int t = v->target;
    snprintf(buf, sizeof buf, "run %s, %s galaxy", run->prefix, d->gr.split == 1 ? "validation" : "training");
    tui_text(a, area.y, x0, w, buf);
    int ry = area.y + 2;
    attron(A_BOLD);
    snprintf(buf, sizeof buf, "%-16s %10s %10s %10s", "target", "predicted", "true", "residual");
    tui_text(a, ry++, x0, w, buf);
    attroff(A_BOLD);
    for (int k = 0; k < d->gr.n_out; k++) {
        snprintf(buf, sizeof buf, "%-16.16s %10.4f %10.4f %+10.4f%s", run->target_names[k], d->gr.pred[k],
                 d->gr.truth[k], d->gr.truth[k] - d->gr.pred[k], k == t ? "  <" : "");
        tui_text(a, ry++, x0, w, buf);
    }
    ry++;
    double b = run->target_mean[t] + run->target_std[t] * run->bias[t];
    attron(A_BOLD);
    snprintf(buf, sizeof buf, "%d active features: contributions to %s%s", d->gr.n_active, run->target_names[t],
             run->n_out > 1 ? " (h/l: other targets)" : "");
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
    if (v->sel >= d->gr.n_active) v->sel = d->gr.n_active > 0 ? d->gr.n_active - 1 : 0;
    double running = b;
    int bar_x = x0 + 48, bar_w = (area.cols - bar_x - 1) / 2;
    for (int i = 0; i < d->gr.n_active && ry < area.y + area.rows; i++) {
        double c = coef(a, d->gr.feature[i], t) * d->gr.value[i];
        running += c;
        snprintf(buf, sizeof buf, "%s %-5d %9.4f %6.2f %+10.4f %10.4f", run->prefix, d->gr.feature[i],
                 d->gr.value[i], d->gr.scaled[i], c, running);
        if (query_feature_marked(&a->run.v, d->gr.feature[i])) tui_text(a, ry, x0 - 1, 1, TUI_MARK_SIGN);
        if (i == v->sel) attron(A_REVERSE);
        tui_text(a, ry, x0, 47, buf);
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
        snprintf(buf, sizeof buf, "%-8s %9s %6s %10s %10.4f  (stored prediction %.4f)", "sum", "", "", "",
                 running, d->gr.pred[t]);
        attron(A_BOLD);
        tui_text(a, ry, x0, w, buf);
        attroff(A_BOLD);
    }
}

int tui_galaxy_key(tui_app *a, tui_view *v, int ch, tui_rect area) {
    const store_run *run = tui_cur_run(a);
    const tui_galaxy_page *d = v->page;
    int n = d->gr.n_active, used = 1;
    int rows = area.rows;
    if (tui_list_move(ch, &v->sel, &v->top, n, rows)) {
    } else if ((ch == 'h' || ch == KEY_LEFT) && run->n_out > 0) {
        v->target = (v->target + run->n_out - 1) % run->n_out;
    } else if ((ch == 'l' || ch == KEY_RIGHT) && run->n_out > 0) {
        v->target = (v->target + 1) % run->n_out;
    } else if ((ch == '\n' || ch == KEY_ENTER) && v->sel < n) {
        tui_open_feature(a, d->gr.feature[v->sel]);
    } else {
        used = 0;
    }
    return used;
}
