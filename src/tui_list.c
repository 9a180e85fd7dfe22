/* tui_list.c: the home screen, one row per live feature of the current run.
 * Layer: tui. Calls: plot, query_view, tui_app, tui_marks; ncursesw.
 * Called by: tui_app.
 */
#include <curses.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "sf_util.h"
#include "tui_app.h"

void tui_list_draw(tui_app *a, tui_view *v, tui_rect area) {
    const tui_run *r = &a->run;
    const store_run *run = &r->v.run;
    char line[512];
    snprintf(line, sizeof line, "%d live features of %d, %d dead %s  \xc2\xb7  sorted by %s%s",
             r->v.n_live, run->d, r->n_dead, a->show_dead ? "shown (z hides)" : "hidden (z shows)",
             tui_sort_names[a->sort], a->reverse ? ", reversed" : "");
    tui_text(a, area.y, area.x + 1, area.cols - 1, line);
    attron(A_BOLD | A_UNDERLINE);
    query_format_feature_row(line, sizeof line, run, NULL, 1, a->plot_mode);
    mvhline(area.y + 1, area.x, ' ', area.cols);
    tui_text(a, area.y + 1, area.x + 1, area.cols - 1, line);
    attroff(A_BOLD | A_UNDERLINE);
    int rows = area.rows - 2;
    if (v->sel >= r->n_visible) v->sel = r->n_visible > 0 ? r->n_visible - 1 : 0;
    if (v->sel < v->top) v->top = v->sel;
    if (v->sel >= v->top + rows) v->top = v->sel - rows + 1;
    if (!r->n_visible) {
        tui_text(a, area.y + 3, area.x + 2, area.cols - 2,
                 r->n_dead ? "every feature of this run is dead (z shows them)"
                           : "this run has no features");
        return;
    }
    for (int row = 0; row < rows && v->top + row < r->n_visible; row++) {
        int i = v->top + row;
        const store_feature *f = &r->v.features[r->visible[i]];
        query_format_feature_row(line, sizeof line, run, f, 0, a->plot_mode);
        int y = area.y + 2 + row;
        if (i == v->sel) {
            attron(A_REVERSE);
            mvhline(y, area.x, ' ', area.cols);
        }
        if (f->n_active == 0) attron(A_DIM);
        if (query_feature_marked(&r->v, f->feature)) {
            attron(A_BOLD);
            tui_text(a, y, area.x, 1, TUI_MARK_SIGN);
            attroff(A_BOLD);
        }
        tui_text(a, y, area.x + 1, area.cols - 1, line);
        /* colour the frequency bar by the feature's f_activated */
        if (i != v->sel && a->color != TUI_COLOR_NONE && f->n_active > 0) {
            char bar[64];
            plot_hbar(bar, 10, f->f_activated, a->plot_mode);
            tui_color_value(a, f->f_activated);
            tui_text(a, y, area.x + 1 + 8 + 1 + 18 + 1 + 7 + 1 + 6 + 1, 10, bar);
            tui_color_reset(a);
        }
        attroff(A_REVERSE | A_DIM);
    }
}

int tui_list_key(tui_app *a, tui_view *v, int ch, tui_rect area) {
    const tui_run *r = &a->run;
    int rows = area.rows - 2;
    if (tui_list_move(ch, &v->sel, &v->top, r->n_visible, rows)) return 1;
    switch (ch) {
    case '\n':
    case KEY_ENTER:
    case 'l':
    case KEY_RIGHT:
        if (v->sel < r->n_visible) tui_open_feature(a, r->visible[v->sel]);
        return 1;
    case TUI_KEY_CLICK:
    case TUI_KEY_DCLICK: {
        int i = v->top + (a->click_y - area.y - 2);
        if (a->click_y < area.y + 2 || i >= r->n_visible) return 1;
        if (i == v->sel || ch == TUI_KEY_DCLICK) tui_open_feature(a, r->visible[i]);
        else v->sel = i;
        return 1;
    }
    case 's':
    case 'S': {
        int keep = v->sel < r->n_visible ? r->visible[v->sel] : -1;
        if (ch == 's') {
            a->sort = (a->sort + 1) % TUI_N_SORTS;
            a->reverse = 0;
        } else {
            a->reverse = !a->reverse;
        }
        tui_resort(a);
        int i = tui_run_visible_index(r, keep);
        v->sel = i >= 0 ? i : 0;
        tui_msg(a, "sorted by %s%s", tui_sort_names[a->sort], a->reverse ? ", reversed" : "");
        return 1;
    }
    case 'z': {
        int keep = v->sel < r->n_visible ? r->visible[v->sel] : -1;
        a->show_dead = !a->show_dead;
        tui_resort(a);
        int i = tui_run_visible_index(r, keep);
        v->sel = i >= 0 ? i : 0;
        tui_msg(a, "%d dead features %s", r->n_dead, a->show_dead ? "shown" : "hidden");
        return 1;
    }
    }
    return 0;
}
