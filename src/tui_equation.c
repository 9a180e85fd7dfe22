/* tui_equation.c: the run's linear equation, prediction = b + sum c_i A_i,
 * for one target at a time, its terms sorted by mean contribution. */
#include <curses.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sf_util.h"
#include "tui_app.h"

/* The equation head and terms for the view's target; terms owned (free). */
static void terms_for(tui_app *a, tui_view *v, double *b, tui_term **terms, int *n) {
    const store_run *run = tui_run(a);
    if (v->target >= run->n_out) v->target = 0;
    tui_equation_terms(run, a->feats, a->n_feats, v->target, b, terms, n);
}

void tui_equation_draw(tui_app *a, tui_view *v, tui_rect area) {
    const store_run *run = tui_run(a);
    double b;
    tui_term *terms;
    int n;
    terms_for(a, v, &b, &terms, &n);
    char buf[1024];
    attron(A_BOLD);
    snprintf(buf, sizeof buf, "Equation of run %s, target %d of %d: %s", run->prefix, v->target + 1,
             run->n_out, run->target_names[v->target]);
    tui_text(a, area.y, 1, area.cols - 1, buf);
    attroff(A_BOLD);
    if (run->n_out > 1) tui_text(a, area.y, area.cols - 22, 22, "h/l: other targets");

    /* the equation itself, wrapped over up to 3 lines */
    int len = snprintf(buf, sizeof buf, "%s = %.4f", run->target_names[v->target], b);
    int line = 0, shown = 0;
    for (int i = 0; i < n && len < (int)sizeof buf - 64; i++) {
        char term[64];
        int tl = snprintf(term, sizeof term, " %s %.4f\xc2\xb7[%s %d]", terms[i].coef < 0 ? "\xe2\x88\x92" : "+",
                          fabs(terms[i].coef), run->prefix, terms[i].feature);
        if (len + tl - 2 > area.cols - 3) {
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
    snprintf(buf, sizeof buf, "A = raw activation; terms sorted by mean |c\xc2\xb7" "A| over the run's %d galaxies",
             run->n_galaxies);
    attron(A_DIM);
    tui_text(a, area.y + 4, 2, area.cols - 2, buf);
    attroff(A_DIM);

    int y0 = area.y + 6;
    attron(A_BOLD | A_UNDERLINE);
    mvhline(y0 - 1, 0, ' ', area.cols);
    snprintf(buf, sizeof buf, "%-8s %11s %9s %11s %7s  %-12s %s", "feature", "coef c", "mean A", "<c*A>",
             "f_act", "", "label");
    tui_text(a, y0 - 1, 1, area.cols - 1, buf);
    attroff(A_BOLD | A_UNDERLINE);
    int rows = area.rows - (y0 - area.y);
    if (v->sel >= n) v->sel = n > 0 ? n - 1 : 0;
    if (v->sel < v->top) v->top = v->sel;
    if (v->sel >= v->top + rows) v->top = v->sel - rows + 1;
    double total = 0;
    for (int i = 0; i < n; i++) total += fabs(terms[i].mean_contrib);
    for (int r = 0; r < rows && v->top + r < n; r++) {
        const tui_term *t = &terms[v->top + r];
        char name[32], bar[64];
        snprintf(name, sizeof name, "%s %d", run->prefix, t->feature);
        double share = total > 0 ? fabs(t->mean_contrib) / total : 0;
        plot_hbar(bar, 12, share, a->plot_mode);
        snprintf(buf, sizeof buf, "%-8s %+11.4f %9.3f %+11.4f %6.1f%%  %s %s", name, t->coef, t->f->mean,
                 t->mean_contrib, 100 * t->f->f_activated, bar, t->f->label);
        if (v->top + r == v->sel) {
            attron(A_REVERSE);
            mvhline(y0 + r, 0, ' ', area.cols);
        }
        tui_text(a, y0 + r, 1, area.cols - 1, buf);
        attroff(A_REVERSE);
    }
    free(terms);
}

int tui_equation_key(tui_app *a, tui_view *v, int ch, tui_rect area) {
    const store_run *run = tui_run(a);
    double b;
    tui_term *terms;
    int n;
    terms_for(a, v, &b, &terms, &n);
    int rows = area.rows - 6;
    int used = 1;
    if (tui_list_move(ch, &v->sel, &v->top, n, rows)) {
    } else if (ch == 'h' || ch == KEY_LEFT) {
        v->target = (v->target + run->n_out - 1) % run->n_out;
    } else if (ch == 'l' || ch == KEY_RIGHT) {
        v->target = (v->target + 1) % run->n_out;
    } else if (ch == TUI_KEY_CLICK || ch == TUI_KEY_DCLICK) {
        int i = v->top + (a->click_y - (area.y + 6));
        if (a->click_y >= area.y + 6 && i < n) {
            if (i == v->sel || ch == TUI_KEY_DCLICK) tui_open_feature(a, terms[i].feature);
            else v->sel = i;
        }
    } else if (ch == '\n' || ch == KEY_ENTER) {
        if (v->sel < n) tui_open_feature(a, terms[v->sel].feature);
    } else {
        used = 0;
    }
    free(terms);
    return used;
}
