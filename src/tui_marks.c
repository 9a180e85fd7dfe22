/* tui_marks.c: marks (bookmarks) of the current run: toggling them from any screen
 * (m), and the screen that lists them (M).
 * Layer: tui. Calls: query, store, store_marks, store_read, tui_app, sf_util; ncursesw.
 * Called by: tui_* (4).
 */
#include <curses.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sf_util.h"
#include "tui_app.h"

int tui_marks_page_load(store *s, tui_run *r) { return query_run_view_reload_marks(s, &r->v); }

void tui_toggle_mark(tui_app *a, int feature, int64_t galaxy_id) {
    const store_run *run = tui_cur_run(a);
    char name[STORE_PREFIX_MAX + STORE_OBJID_MAX + 16];
    if (feature >= 0) {
        query_feature_name(run, feature, name, sizeof name);
    } else {
        store_galaxy g;
        if (store_galaxy_get(a->db, galaxy_id, &g) != SF_OK) {
            tui_msg(a, "%s", sf_last_error());
            return;
        }
        snprintf(name, sizeof name, "galaxy %s", g.objid);
        store_galaxy_clear(&g);
    }
    int marked = feature >= 0 ? query_feature_marked(&a->run.v, feature)
                              : query_galaxy_marked(&a->run.v, galaxy_id);
    store *w;
    if (store_open(&w, a->path, STORE_WRITE) != SF_OK) {
        tui_msg(a, "cannot save the mark: %s", sf_last_error());
        return;
    }
    int rc = marked ? store_mark_remove(w, run->id, feature, galaxy_id, NULL)
                    : store_mark_add(w, run->id, feature, galaxy_id, NULL, NULL);
    store_close(w);
    if (rc != SF_OK) {
        tui_msg(a, "cannot save the mark: %s", sf_last_error());
        return;
    }
    if (query_run_view_reload_marks(a->db, &a->run.v) != SF_OK)
        tui_msg(a, "cannot read the marks: %s", sf_last_error());
    if (!a->message[0])
        tui_msg(a, marked ? "%s: mark removed" : "%s marked (M lists the marks of run %s)", name,
                run->prefix);
}

/* ---- the marks screen ---- */

static const int head_rows = 2; /* title, column titles */

void tui_marks_draw(tui_app *a, tui_view *v, tui_rect area) {
    const store_run *run = tui_cur_run(a);
    const store_mark *marks = a->run.v.marks;
    int n_marks = a->run.v.n_marks;
    int n_features = 0;
    for (int i = 0; i < n_marks; i++) n_features += marks[i].feature >= 0;
    char buf[512];
    snprintf(buf, sizeof buf,
             "Marks of run %s: %d feature%s, %d galax%s  \xc2\xb7  Enter opens, m removes",
             run->prefix, n_features, n_features == 1 ? "" : "s", n_marks - n_features,
             n_marks - n_features == 1 ? "y" : "ies");
    attron(A_BOLD);
    tui_text(a, area.y, area.x + 1, area.cols - 1, buf);
    attroff(A_BOLD);
    if (!n_marks) {
        snprintf(buf, sizeof buf, "no marks in run %s yet: m marks the feature or galaxy on screen",
                 run->prefix);
        tui_text(a, area.y + 2, area.x + 2, area.cols - 2, buf);
        return;
    }
    attron(A_BOLD | A_UNDERLINE);
    snprintf(buf, sizeof buf, "%-8s %-20s %-40s %s", "kind", "mark", "label / note", "marked");
    mvhline(area.y + 1, area.x, ' ', area.cols);
    tui_text(a, area.y + 1, area.x + 1, area.cols - 1, buf);
    attroff(A_BOLD | A_UNDERLINE);
    int rows = area.rows - head_rows;
    if (v->sel >= n_marks) v->sel = n_marks - 1;
    if (v->sel < v->top) v->top = v->sel;
    if (v->sel >= v->top + rows) v->top = v->sel - rows + 1;
    for (int r = 0; r < rows && v->top + r < n_marks; r++) {
        int i = v->top + r;
        const store_mark *m = &marks[i];
        char what[64], text[STORE_LABEL_MAX + STORE_NOTE_MAX + 8];
        if (m->feature >= 0) query_feature_name(run, m->feature, what, sizeof what);
        else snprintf(what, sizeof what, "%s", m->objid);
        const char *label = m->feature >= 0 ? m->label : "";
        snprintf(text, sizeof text, "%s%s%s", label, label[0] && m->note[0] ? " \xc2\xb7 " : "",
                 m->note);
        snprintf(buf, sizeof buf, "%-8s %-20s %-40.40s %.10s",
                 m->feature >= 0 ? "feature" : "galaxy", what, text, m->created);
        int y = area.y + head_rows + r;
        if (i == v->sel) {
            attron(A_REVERSE);
            mvhline(y, area.x, ' ', area.cols);
        }
        tui_text(a, y, area.x, 1, TUI_MARK_SIGN);
        tui_text(a, y, area.x + 1, area.cols - 1, buf);
        attroff(A_REVERSE);
    }
}

int tui_marks_key(tui_app *a, tui_view *v, int ch, tui_rect area) {
    int rows = area.rows - head_rows, n_marks = a->run.v.n_marks;
    if (tui_list_move(ch, &v->sel, &v->top, n_marks, rows)) return 1;
    if (ch == TUI_KEY_CLICK || ch == TUI_KEY_DCLICK) {
        int i = v->top + (a->click_y - area.y - head_rows);
        if (a->click_y < area.y + head_rows || i >= n_marks) return 1;
        if (i != v->sel && ch == TUI_KEY_CLICK) {
            v->sel = i;
            return 1;
        }
        v->sel = i;
        ch = '\n';
    }
    if (v->sel >= n_marks) return ch == '\n' || ch == KEY_ENTER || ch == 'm';
    const store_mark m = a->run.v.marks[v->sel];
    switch (ch) {
    case '\n':
    case KEY_ENTER:
    case 'l':
    case KEY_RIGHT:
        if (m.feature >= 0) tui_open_feature(a, m.feature);
        else tui_open_galaxy(a, m.galaxy_id);
        return 1;
    case 'm':
        tui_toggle_mark(a, m.feature, m.galaxy_id);
        if (v->sel >= a->run.v.n_marks && v->sel > 0) v->sel--;
        return 1;
    }
    return 0;
}
