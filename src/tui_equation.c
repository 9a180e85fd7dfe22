/* tui_equation.c: the run's linear equation (query.h), prediction = c + sum w' A,
 * for one target at a time, its terms sorted by mean contribution, with the
 * validation RMSE when only the top 1, 2, 4, 8 features are kept.
 * Layer: tui. Calls: plot, query, query_view, tui_app, sf_util; ncursesw.
 * Called by: tui_app, tui_feature.
 */
#include <curses.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sf_util.h"
#include "tui_app.h"

#define TABLE_Y 7 /* first table row, from the top of the area */

int tui_equation_page_load(store *s, tui_run *r, tui_equation_page *p) {
    memset(p, 0, sizeof *p);
    if (query_run_view_equation(s, &r->v) != SF_OK) return SF_ERR;
    p->n_out = r->v.eq.n_out;
    for (int t = 0; t < p->n_out; t++) query_terms_by_contribution(&r->v.eq, t, &p->order[t]);
    return SF_OK;
}

void tui_equation_page_clear(tui_equation_page *p) {
    for (int t = 0; t < p->n_out; t++) free(p->order[t]);
    memset(p, 0, sizeof *p);
}

void tui_equation_draw(tui_app *a, tui_view *v, tui_rect area) {
    const store_run *run = tui_cur_run(a);
    const tui_equation_page *page = v->page;
    const query_equation *eq = &a->run.v.eq;
    if (v->target >= eq->n_out) v->target = 0;
    int t = v->target, n = eq->n_terms;
    const int *order = page->order[t];
    char buf[1024];
    attron(A_BOLD);
    snprintf(buf, sizeof buf, "Equation of run %s, target %d of %d: %s", run->prefix, t + 1,
             eq->n_out, eq->target_names[t]);
    tui_text(a, area.y, 1, area.cols - 1, buf);
    attroff(A_BOLD);
    if (eq->n_out > 1) tui_text(a, area.y, area.cols - 22, 22, "h/l: other targets");

    /* the equation itself, wrapped over up to 3 lines */
    int len = snprintf(buf, sizeof buf, "%s = %.4f", eq->target_names[t], eq->intercept[t]);
    int line = 0, shown = 0;
    for (int i = 0; i < n && len < (int)sizeof buf - 64; i++) {
        const query_term *q = &eq->terms[order[i]];
        char term[64];
        int tl = snprintf(term, sizeof term, " %s %.4f\xc2\xb7[%s %d]",
                          q->coef[t] < 0 ? "\xe2\x88\x92" : "+", fabs(q->coef[t]), run->prefix,
                          q->feature);
        if (len + tl - 4 > area.cols - 3) {
            if (line == 2) break;
            tui_text(a, area.y + 1 + line, 2, area.cols - 2, buf);
            line++;
            len = snprintf(buf, sizeof buf, "   ");
        }
        memcpy(buf + len, term, (size_t)tl + 1);
        len += tl;
        shown++;
    }
    if (shown < n) {
        char more[32];
        snprintf(more, sizeof more, " + %d more", n - shown);
        if (len + (int)strlen(more) < (int)sizeof buf) strcat(buf, more);
    }
    tui_text(a, area.y + 1 + line, 2, area.cols - 2, buf);
    char *p = buf;
    p += sprintf(p, "validation RMSE of %s with the top features:", eq->target_names[t]);
    for (int l = 0; l < eq->n_levels; l++)
        p += sprintf(p, "  %s%d: %.4f", l == eq->n_levels - 1 ? "all " : "", eq->level_terms[l],
                     eq->rmse_t[l][t]);
    tui_text(a, area.y + 4, 2, area.cols - 2, buf);
    attron(A_DIM);
    tui_text(a, area.y + 5, 2, area.cols - 2,
             "A = activation / its maximum over validation; terms by mean |contribution| over "
             "validation");
    attroff(A_DIM);

    int y0 = area.y + TABLE_Y;
    attron(A_BOLD | A_UNDERLINE);
    mvhline(y0 - 1, 0, ' ', area.cols);
    snprintf(buf, sizeof buf, "%-8s %11s %11s %7s  %-12s %s", "feature", "coef w'", "<w'A>",
             "f_act", "share", "label");
    tui_text(a, y0 - 1, 1, area.cols - 1, buf);
    attroff(A_BOLD | A_UNDERLINE);
    int rows = area.rows - TABLE_Y;
    if (v->sel >= n) v->sel = n > 0 ? n - 1 : 0;
    if (v->sel < v->top) v->top = v->sel;
    if (v->sel >= v->top + rows) v->top = v->sel - rows + 1;
    double total = 0;
    for (int i = 0; i < n; i++) total += fabs(eq->terms[i].mean_contrib[t]);
    for (int r = 0; r < rows && v->top + r < n; r++) {
        const query_term *q = &eq->terms[order[v->top + r]];
        char name[32], bar[64];
        snprintf(name, sizeof name, "%s %d", run->prefix, q->feature);
        double share = total > 0 ? fabs(q->mean_contrib[t]) / total : 0;
        plot_hbar(bar, 12, share, a->plot_mode);
        snprintf(buf, sizeof buf, "%-8s %+11.4f %+11.4f %6.1f%%  %s %s", name, q->coef[t],
                 q->mean_contrib[t], 100 * q->f_activated, bar, q->label);
        if (v->top + r == v->sel) {
            attron(A_REVERSE);
            mvhline(y0 + r, 0, ' ', area.cols);
        }
        tui_text(a, y0 + r, 1, area.cols - 1, buf);
        attroff(A_REVERSE);
    }
}

int tui_equation_key(tui_app *a, tui_view *v, int ch, tui_rect area) {
    const tui_equation_page *p = v->page;
    const query_equation *eq = &a->run.v.eq;
    int n = eq->n_terms, used = 1;
    const int *order = p->order[v->target < eq->n_out ? v->target : 0];
    if (tui_list_move(ch, &v->sel, &v->top, n, area.rows - TABLE_Y)) {
    } else if ((ch == 'h' || ch == KEY_LEFT) && eq->n_out > 0) {
        v->target = (v->target + eq->n_out - 1) % eq->n_out;
    } else if ((ch == 'l' || ch == KEY_RIGHT) && eq->n_out > 0) {
        v->target = (v->target + 1) % eq->n_out;
    } else if (ch == TUI_KEY_CLICK || ch == TUI_KEY_DCLICK) {
        int i = v->top + (a->click_y - (area.y + TABLE_Y));
        if (a->click_y >= area.y + TABLE_Y && i < n) {
            if (i == v->sel || ch == TUI_KEY_DCLICK)
                tui_open_feature(a, eq->terms[order[i]].feature);
            else v->sel = i;
        }
    } else if (ch == '\n' || ch == KEY_ENTER) {
        if (v->sel < n) tui_open_feature(a, eq->terms[order[v->sel]].feature);
    } else {
        used = 0;
    }
    return used;
}
