/* tui_app.c: the explorer's terminal, main loop and dispatch (see tui_app.h).
 * Layer: tui. Calls: analysis_run, data_image, export, plot, query, query_similar, query_view,
 *     store, store_read, tui_probe, tui_thumb, sf_util; ncursesw; the screens (tui_equation,
 *     tui_feature, tui_galaxy, tui_list, tui_marks) through the dispatch.
 * Called by: main; the screens, for the app's services (tui_app.h).
 */
#include <curses.h>
#include <getopt.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <wchar.h>

#include "analysis_run.h"
#include "data_image.h"
#include "export.h"
#include "sf_util.h"
#include "tui_app.h"

/* ---- the view stack ---- */

/* Frees what the view's screen loaded when it opened. */
static void view_close(tui_view *v) {
    if (!v->page) return;
    switch (v->type) {
    case SCREEN_FEATURE: tui_feature_page_clear(v->page); break;
    case SCREEN_GALAXY: tui_galaxy_page_clear(v->page); break;
    case SCREEN_EQUATION: tui_equation_page_clear(v->page); break;
    }
    free(v->page);
    v->page = NULL;
}

tui_view *tui_top(tui_app *a) { return &a->stack[a->depth - 1]; }

void tui_push(tui_app *a, tui_view v) {
    v.run = a->cur;
    if (a->depth == TUI_STACK) {
        view_close(&a->stack[1]);
        memmove(a->stack + 1, a->stack + 2, (TUI_STACK - 2) * sizeof(tui_view));
        a->depth--;
    }
    a->stack[a->depth++] = v;
}

/* Back: the screen below, in its own run (a jump to another run's feature switched runs). */
void tui_pop(tui_app *a) {
    if (a->depth <= 1) {
        a->running = 0;
        return;
    }
    view_close(&a->stack[--a->depth]);
    int run = tui_top(a)->run;
    if (run != a->cur && run >= 0 && run < a->n_runs && tui_load_run(a, run) != SF_OK)
        tui_msg(a, "%s", sf_last_error());
    if (tui_top(a)->type == SCREEN_COMPARE && tui_compare_load(a, tui_top(a)) != SF_OK)
        tui_msg(a, "compare: %s", sf_last_error());
}

/* The feature list below the current screen when it is the current run's (its
 * selection follows [ ] r and search), else NULL. */
static tui_view *list_view(tui_app *a) {
    return a->stack[0].type == SCREEN_LIST && a->stack[0].run == a->cur ? &a->stack[0] : NULL;
}

/* Back to the feature list, every other view closed. */
static void views_reset(tui_app *a) {
    while (a->depth > 1) view_close(&a->stack[--a->depth]);
    if (a->depth == 0) a->depth = 1;
    view_close(&a->stack[0]);
    a->stack[0] = (tui_view){.type = SCREEN_LIST};
}

const store_run *tui_cur_run(const tui_app *a) { return &a->run.v.run; }

void tui_msg(tui_app *a, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->message, sizeof a->message, fmt, ap);
    va_end(ap);
}

/* ---- colours ---- */

static void set_pair(tui_app *a, int fg, int bg) {
    if (a->color == TUI_COLOR_NONE) return;
    int pair = alloc_pair(fg, bg);
    if (pair < 0) return;
    color_set(0, &pair);
}

void tui_color_reset(tui_app *a) {
    int pair = 0;
    if (a->color != TUI_COLOR_NONE) color_set(0, &pair);
}

void tui_color_value(tui_app *a, double v) {
    if (a->color == TUI_COLOR_NONE || v < 0) {
        tui_color_reset(a);
        return;
    }
    double tv = 0.15 + 0.85 * v; /* visible on a dark background, as plot.c does */
    int fg;
    if (a->color == TUI_COLOR_DIRECT) fg = (int)plot_colormap_rgb(tv);
    else if (a->color == TUI_COLOR_256) fg = plot_colormap_xterm256(tv);
    else fg = plot_colormap_ansi8(v);
    set_pair(a, fg, -1);
}

static int rgb_to_color(const tui_app *a, uint32_t c) {
    uint8_t r = c >> 16, g = (c >> 8) & 0xFF, b = c & 0xFF;
    if (a->color == TUI_COLOR_DIRECT) return (int)(c & 0xFFFFFF);
    if (a->color == TUI_COLOR_256) return plot_xterm256(r, g, b);
    return (r > 110) | (g > 110) << 1 | (b > 110) << 2;
}

void tui_color_rgb(tui_app *a, uint32_t fg, uint32_t bg) {
    if (a->color == TUI_COLOR_NONE) return;
    set_pair(a, rgb_to_color(a, fg), rgb_to_color(a, bg));
}

/* ---- text ---- */

int tui_text(tui_app *a, int y, int x, int max_cols, const char *s) {
    if (y < 0 || y >= a->H || x >= a->W) return 0;
    if (max_cols < 0 || x + max_cols > a->W) max_cols = a->W - x;
    mbstate_t st;
    memset(&st, 0, sizeof st);
    int cols = 0;
    const char *p = s;
    size_t left = strlen(s);
    move(y, x);
    while (left > 0) {
        wchar_t wc;
        size_t n = mbrtowc(&wc, p, left, &st);
        if (n == (size_t)-1 || n == (size_t)-2) {
            wc = L'?';
            n = 1;
            memset(&st, 0, sizeof st);
        }
        if (n == 0) break;
        int w = wcwidth(wc);
        if (w < 0) w = 1;
        if (cols + w > max_cols) break;
        wchar_t ws[2] = {wc, 0};
        addnwstr(ws, 1);
        cols += w;
        p += n;
        left -= n;
    }
    return cols;
}

void tui_draw_grid(tui_app *a, const plot_grid *g, int x, int y) {
    for (int r = 0; r < g->h; r++)
        for (int c = 0; c < g->w; c++) {
            const plot_cell *cell = &g->cells[r * g->w + c];
            if (cell->kind == PLOT_KIND_EMPTY) continue;
            if (cell->kind == PLOT_KIND_POINT || cell->kind == PLOT_KIND_BAR) {
                tui_color_value(a, cell->value);
            } else if (cell->kind == PLOT_KIND_LINE && a->color != TUI_COLOR_NONE) {
                set_pair(a,
                         a->color == TUI_COLOR_8        ? COLOR_CYAN
                         : a->color == TUI_COLOR_DIRECT ? 0x40C0FF
                                                        : 45,
                         -1);
            } else {
                tui_color_reset(a);
            }
            tui_text(a, y + r, x + c, 1, cell->glyph);
        }
    tui_color_reset(a);
}

/* ---- thumbnails ---- */

int tui_draw_thumb(tui_app *a, const tui_image *img, tui_rect r) {
    if (a->graphics == THUMB_NONE || r.cols < 2 || r.rows < 1) return 0;
    const thumb *t = thumb_cache_get(a->thumbs, img->objid, r.cols, r.rows, a->graphics);
    if (!t) {
        thumb fresh = {0};
        if (img->rgb && thumb_render(&fresh, img->rgb, img->w, img->h, r.cols, r.rows, a->graphics,
                                     a->cell_w, a->cell_h) != SF_OK)
            memset(&fresh, 0, sizeof fresh);
        /* a thumb without cells or sequence marks "no image" in the cache */
        fresh.mode = a->graphics;
        fresh.cols = r.cols;
        fresh.rows = r.rows;
        t = thumb_cache_put(a->thumbs, img->objid, &fresh);
    }
    if (!t->cells && !t->seq) {
        tui_color_reset(a);
        for (int y = 0; y < r.rows; y++)
            tui_text(a, r.y + y, r.x, r.cols, y == r.rows / 2 ? "  no image" : "");
        return 0;
    }
    if (t->cells) {
        for (int y = 0; y < r.rows && r.y + y < a->H - 1; y++)
            for (int x = 0; x < r.cols; x++) {
                const thumb_cell *c = &t->cells[y * t->cols + x];
                tui_color_rgb(a, c->fg, c->bg);
                tui_text(a, r.y + y, r.x + x, 1,
                         a->color == TUI_COLOR_NONE ? "\xe2\x96\x92" : c->glyph);
            }
        tui_color_reset(a);
        return 1;
    }
    /* pixel image: blank cells now, the image after doupdate */
    for (int y = 0; y < r.rows; y++) mvhline(r.y + y, r.x, ' ', r.cols);
    if (a->n_overlay < (int)(sizeof a->overlay / sizeof a->overlay[0])) {
        a->overlay[a->n_overlay].r = r;
        a->overlay[a->n_overlay].t = t;
        a->n_overlay++;
    }
    return 1;
}

/* ---- runs and features ---- */

int tui_load_run(tui_app *a, int i) {
    tui_run next;
    if (store_schema_version(a->db) < 3 && stdscr && !isendwin()) {
        /* a read-only file of an older version: its summaries are computed now */
        tui_msg(a, "computing the summaries of run %s in memory (%s is of schema version %d)...",
                a->runs[i].prefix, a->path, store_schema_version(a->db));
        move(a->H - 1, 0);
        clrtoeol();
        tui_text(a, a->H - 1, 0, a->W, a->message);
        refresh();
    }
    if (tui_run_load(a->db, a->runs[i].id, a->sort, a->reverse, a->show_dead, &next) != SF_OK)
        return SF_ERR;
    a->message[0] = 0;
    tui_run_clear(&a->run);
    a->run = next;
    a->cur = i;
    /* the other runs are a bonus: without them the pages show no counterparts */
    if (tui_cross_runs_load(a) != SF_OK) tui_msg(a, "other runs: %s", sf_last_error());
    return SF_OK;
}

int tui_switch_run(tui_app *a, int i) {
    if (tui_load_run(a, i) != SF_OK) return SF_ERR;
    views_reset(a);
    a->stack[0].run = i;
    return SF_OK;
}

void tui_resort(tui_app *a) { tui_run_sort(&a->run, a->sort, a->reverse, a->show_dead); }

/* Loads a feature page; NULL with a message on a failure. */
static tui_feature_page *load_feature(tui_app *a, int feature) {
    const store_run *run = tui_cur_run(a);
    if (feature < 0 || feature >= run->d) {
        tui_msg(a, "%s has features 0..%d", run->prefix, run->d - 1);
        return NULL;
    }
    tui_feature_page *p = xcalloc(1, sizeof *p);
    if (tui_feature_page_load(a->db, &a->run, feature, p) != SF_OK) {
        tui_msg(a, "%s", sf_last_error());
        tui_feature_page_clear(p);
        free(p);
        return NULL;
    }
    if (p->similar_failed) tui_msg(a, "similar features: %s", sf_last_error());
    /* the counterparts are a bonus: the page opens without them */
    if (tui_cross_feature_load(a, p) != SF_OK) tui_msg(a, "counterparts: %s", sf_last_error());
    return p;
}

void tui_open_feature(tui_app *a, int feature) {
    tui_feature_page *p = load_feature(a, feature);
    if (!p) return;
    tui_view v = {.type = SCREEN_FEATURE, .feature = feature, .page = p};
    if (tui_top(a)->type == SCREEN_FEATURE) {
        v.zoom = tui_top(a)->zoom;
        view_close(tui_top(a));
        *tui_top(a) = v;
    } else {
        tui_push(a, v);
    }
}

int tui_push_feature(tui_app *a, int feature, int zoom) {
    tui_feature_page *p = load_feature(a, feature);
    if (!p) return SF_ERR;
    tui_push(a, (tui_view){.type = SCREEN_FEATURE, .feature = feature, .zoom = zoom, .page = p});
    return SF_OK;
}

void tui_open_galaxy(tui_app *a, int64_t galaxy_id) {
    tui_galaxy_page *p = xcalloc(1, sizeof *p);
    if (tui_galaxy_page_load(a->db, &a->run, galaxy_id, p) != SF_OK) {
        tui_msg(a, "%s", sf_last_error());
        tui_galaxy_page_clear(p);
        free(p);
        return;
    }
    /* the other runs and similar galaxies are a bonus: the page opens without them */
    if (tui_cross_galaxy_load(a, galaxy_id, p) != SF_OK)
        tui_msg(a, "similar galaxies: %s", sf_last_error());
    tui_push(a, (tui_view){.type = SCREEN_GALAXY, .galaxy_id = galaxy_id, .page = p});
}

static void open_equation(tui_app *a) {
    tui_equation_page *p = xcalloc(1, sizeof *p);
    if (tui_equation_page_load(a->db, &a->run, p) != SF_OK) {
        tui_msg(a, "%s", sf_last_error());
        tui_equation_page_clear(p);
        free(p);
        return;
    }
    tui_push(a, (tui_view){.type = SCREEN_EQUATION, .page = p});
}

static void open_marks(tui_app *a) {
    if (tui_marks_page_load(a->db, &a->run) != SF_OK)
        tui_msg(a, "cannot read the marks: %s", sf_last_error());
    tui_push(a, (tui_view){.type = SCREEN_MARKS});
}

void tui_export(tui_app *a, int feature) {
    char path[64];
    snprintf(path, sizeof path, "%s_%d.png", tui_cur_run(a)->prefix, feature);
    if (query_export_feature(a->db, tui_cur_run(a), feature, path, 3, 3, 1) == SF_OK)
        tui_msg(a, "wrote %s (BPT or activation plot beside the top 9 galaxies)", path);
    else tui_msg(a, "export failed: %s", sf_last_error());
}

/* ---- list movement shared by screens ---- */

int tui_list_move(int ch, int *sel, int *top, int n, int rows) {
    int s = *sel;
    switch (ch) {
    case 'j':
    case KEY_DOWN: s++; break;
    case 'k':
    case KEY_UP: s--; break;
    case KEY_NPAGE:
    case 4 /* Ctrl-d */:
    case ' ': s += rows > 1 ? rows - 1 : 1; break;
    case KEY_PPAGE:
    case 21 /* Ctrl-u */: s -= rows > 1 ? rows - 1 : 1; break;
    case 'g':
    case KEY_HOME: s = 0; break;
    case 'G':
    case KEY_END: s = n - 1; break;
    default: return 0;
    }
    if (s >= n) s = n - 1;
    if (s < 0) s = 0;
    *sel = s;
    if (rows < 1) rows = 1;
    if (*sel < *top) *top = *sel;
    if (*sel >= *top + rows) *top = *sel - rows + 1;
    if (*top > n - rows) *top = n - rows > 0 ? n - rows : 0;
    if (*top < 0) *top = 0;
    return 1;
}

/* ---- prompt ---- */

/* A resize may come with a font zoom: the cell size is read again from
 * TIOCGWINSZ when the terminal reports pixels there (the probe does not run
 * under curses, whose input its replies would reach as keys). A size given by
 * hand stays; pixel thumbnails of the old size are dropped. */
static void resize_cells(tui_app *a) {
    int cw, ch;
    if (a->cell_given || !thumb_cell_pixels(STDOUT_FILENO, &cw, &ch)) return;
    if (cw == a->cell_w && ch == a->cell_h) return;
    a->cell_w = cw;
    a->cell_h = ch;
    thumb_cache_free(a->thumbs);
    a->thumbs = thumb_cache_new(256);
}

int tui_prompt(tui_app *a, const char *question, char *buf, int n) {
    wchar_t w[256];
    int len = 0;
    curs_set(1);
    for (;;) {
        move(a->H - 1, 0);
        clrtoeol();
        attron(A_BOLD);
        int qx = tui_text(a, a->H - 1, 0, -1, question);
        attroff(A_BOLD);
        w[len] = 0;
        move(a->H - 1, qx);
        addnwstr(w, len);
        refresh();
        wint_t ch;
        int r = get_wch(&ch);
        if (r == ERR) continue;
        if (r == KEY_CODE_YES) {
            if (ch == KEY_BACKSPACE && len > 0) len--;
            else if (ch == KEY_ENTER) break;
            else if (ch == KEY_RESIZE) {
                getmaxyx(stdscr, a->H, a->W);
                resize_cells(a);
            }
            continue;
        }
        if (ch == 27) {
            curs_set(0);
            return 0;
        }
        if (ch == '\n' || ch == '\r') break;
        if ((ch == 127 || ch == 8) && len > 0) len--;
        else if (ch == 21) len = 0; /* Ctrl-u */
        else if (ch >= 32 && ch != 127 && len < 255) w[len++] = (wchar_t)ch;
    }
    curs_set(0);
    w[len] = 0;
    const wchar_t *src = w;
    mbstate_t st;
    memset(&st, 0, sizeof st);
    size_t m = wcsrtombs(buf, &src, (size_t)n - 1, &st);
    if (m == (size_t)-1) m = 0;
    buf[m] = 0;
    return 1;
}

/* ---- jump and search ---- */

static int all_digits(const char *s) {
    if (!*s) return 0;
    for (; *s; s++)
        if (*s < '0' || *s > '9') return 0;
    return 1;
}

static int find_run(tui_app *a, const char *spec) {
    for (int i = 0; i < a->n_runs; i++)
        if (!strcasecmp(a->runs[i].prefix, spec)) return i;
    char *end;
    long id = strtol(spec, &end, 10);
    if (*spec && !*end)
        for (int i = 0; i < a->n_runs; i++)
            if (a->runs[i].id == id) return i;
    return -1;
}

/* ":" target: "17", "SL 17", or an objID. Returns 1 when something opened. */
static int jump_to(tui_app *a, const char *text) {
    while (*text == ' ') text++;
    if (!*text) return 0;
    if (!(all_digits(text) && strlen(text) >= 6)) {
        char spec[STORE_PREFIX_MAX + 8];
        int feature;
        if (store_parse_feature(text, spec, sizeof spec, &feature) == SF_OK) {
            if (spec[0]) {
                int r = find_run(a, spec);
                if (r < 0) {
                    tui_msg(a, "no run '%s' in %s", spec, a->path);
                    return 0;
                }
                if (r != a->cur && tui_switch_run(a, r) != SF_OK) {
                    tui_msg(a, "%s", sf_last_error());
                    return 0;
                }
            }
            int vi = tui_run_visible_index(&a->run, feature);
            if (vi >= 0 && list_view(a)) list_view(a)->sel = vi;
            tui_open_feature(a, feature);
            return 1;
        }
    }
    store_galaxy g;
    if (store_galaxy_find(a->db, text, &g) != SF_OK) {
        tui_msg(a, "'%s' is neither a feature (17, %s 17) nor a known objID", text,
                tui_cur_run(a)->prefix);
        return 0;
    }
    tui_open_galaxy(a, g.id);
    store_galaxy_clear(&g);
    return 1;
}

static int matches(const tui_app *a, const store_feature *f, const char *q) {
    char name[32];
    snprintf(name, sizeof name, "%s %d", tui_cur_run(a)->prefix, f->feature);
    if (all_digits(q)) return f->feature == atoi(q);
    if (!strcasecmp(name, q)) return 1;
    return f->label[0] && strcasestr(f->label, q) != NULL;
}

/* Finds the next visible feature matching a->search from the current one. */
static void search_step(tui_app *a, int dir) {
    if (!a->search[0]) {
        tui_msg(a, "no search yet: / then a feature number or part of a label");
        return;
    }
    if (all_digits(a->search) && strlen(a->search) >= 6) {
        jump_to(a, a->search);
        return;
    }
    tui_view *v = tui_top(a);
    const tui_run *r = &a->run;
    int start = v->type == SCREEN_LIST ? v->sel : tui_run_visible_index(r, v->feature);
    if (start < 0) start = 0;
    for (int k = 1; k <= r->n_visible; k++) {
        int i = ((start + dir * k) % r->n_visible + r->n_visible) % r->n_visible;
        const store_feature *f = &r->v.features[r->visible[i]];
        if (matches(a, f, a->search)) {
            if (v->type == SCREEN_LIST) {
                v->sel = i;
            } else {
                if (list_view(a)) list_view(a)->sel = i;
                tui_open_feature(a, f->feature);
            }
            tui_msg(a, "/%s: %s %d", a->search, tui_cur_run(a)->prefix, f->feature);
            return;
        }
    }
    tui_msg(a, "/%s: no feature matches", a->search);
}

/* ---- help ---- */

static const char *help_lines[] = {
    "Keys (every screen)",
    "  j k  Down Up       move the selection",
    "  PgDn PgUp ^d ^u    page down / up",
    "  g G  Home End      first / last",
    "  Enter, click       open the selection",
    "  q Esc Backspace    back (quit on the feature list); back across runs too",
    "  Q                  quit",
    "  Tab                switch to the next run (SL, Z, ...)",
    "  [ ]                previous / next feature",
    "  r                  a random live feature",
    "  /                  search a feature number, name or label (or an objID)",
    "  n N                next / previous match",
    "  :                  jump to a feature (17, SL 17) or a galaxy (objID)",
    "  e                  export the feature (PNG: BPT beside the top 9 galaxies)",
    "  E                  the run's equation",
    "  C                  compare the run with another (correlations, ridge R^2)",
    "  m                  mark or unmark the feature (list, feature page) or galaxy",
    "  M                  the marks of the run",
    "  p                  plot dots: braille / plain glyphs",
    "  t                  thumbnails: symbols / pixels / none",
    "  ?                  this help (j k scroll, any other key closes)",
    "  mouse              wheel scrolls, click selects, click again opens",
    "",
    "Feature list",
    "  s S                cycle the sort key / reverse the order",
    "  z                  show or hide dead features",
    "  L                  edit the selected feature's label",
    "",
    "Feature page",
    "  j k                select a galaxy (top, then quantile samples)",
    "  Enter              open the selected galaxy",
    "  L                  edit the label",
    "  + - 0              zoom the scatter in, out, back to the paper's limits",
    "  c                  select the similar features (again: the next one)",
    "  o                  select the counterparts in the other runs (again: next)",
    "  x                  jump to the selected counterpart (else the strongest)",
    "",
    "Equation view",
    "  Left Right h l     previous / next target",
    "  Enter              open the selected term's feature",
    "",
    "Galaxy page",
    "  Left Right h l     previous / next target of the waterfall",
    "  Enter              open the selected feature or similar galaxy",
    "  o                  select the active features of the other runs (again: next)",
    "  c                  select the similar galaxies (again: the next one)",
    "  x                  jump to the selected feature of another run",
    "",
    "Compare (C)",
    "  arrows h j k l     move over the matrix (rows: this run, columns: the other)",
    "  Enter              open the row's feature",
    "  x                  open the column's feature in the other run",
    "  o                  compare with the next other run",
    "  w                  swap the two runs",
    "  e                  export the matrix as a PNG",
    "",
    "Marks (M)",
    "  Enter              open the marked feature or galaxy",
    "  m                  remove the selected mark",
    NULL};

static void draw_help(tui_app *a) {
    int n = 0;
    while (help_lines[n]) n++;
    int w = 80 < a->W - 4 ? 80 : a->W - 4, h = n + 2 < a->H - 3 ? n + 2 : a->H - 3;
    int x0 = (a->W - w) / 2, y0 = 1 + (a->H - 2 - h) / 2;
    if (a->help_top > n - (h - 2)) a->help_top = n - (h - 2) > 0 ? n - (h - 2) : 0;
    for (int y = 0; y < h; y++) mvhline(y0 + y, x0, ' ', w);
    attron(A_REVERSE);
    mvhline(y0, x0, ' ', w);
    tui_text(a, y0, x0 + 2, w - 4, "Help: sfnet-explore keys (q or ? closes)");
    attroff(A_REVERSE);
    for (int i = 0; i < h - 2 && a->help_top + i < n; i++) {
        const char *l = help_lines[a->help_top + i];
        if (l[0] && l[0] != ' ') attron(A_BOLD);
        tui_text(a, y0 + 1 + i, x0 + 2, w - 4, l);
        attroff(A_BOLD);
    }
    attron(A_REVERSE);
    mvhline(y0 + h - 1, x0, ' ', w);
    attroff(A_REVERSE);
}

/* ---- frame ---- */

static const char *screen_names[] = {"features", "feature", "equation",
                                     "galaxy",   "marks",   "compare"};

static void draw_title(tui_app *a) {
    attron(A_REVERSE);
    mvhline(0, 0, ' ', a->W);
    char buf[512];
    int x = tui_text(a, 0, 0, -1, " sfnet-explore ");
    for (int i = 0; i < a->n_runs && x < a->W; i++) {
        snprintf(buf, sizeof buf, i == a->cur ? "[%s]" : " %s ", a->runs[i].prefix);
        if (i == a->cur) attron(A_BOLD);
        x += tui_text(a, 0, x, -1, buf);
        attroff(A_BOLD);
    }
    const store_run *run = tui_cur_run(a);
    snprintf(buf, sizeof buf, "  %s: %s, k=%d, %d galaxies  \xc2\xb7 %s", run->prefix,
             run->target_spec, run->k, run->n_galaxies, screen_names[tui_top(a)->type]);
    tui_text(a, 0, x, -1, buf);
    attroff(A_REVERSE);
}

static void draw_status(tui_app *a) {
    static const char *hints[] = {
        "Enter open  / search  : jump  s sort  z dead  m mark  M marks  Tab run  E equation  C "
        "compare  ? help  q quit",
        "j/k galaxy  c similar  o/x other run  Enter open  [ ] feature  e export  L label  m mark  "
        "? help  q back",
        "j/k term  Enter feature  h/l target  Tab run  ? help  q back",
        "j/k feature  c similar  o/x other run  Enter open  h/l target  m mark  ? help  q back",
        "j/k mark  Enter open  m remove  Tab run  ? help  q back",
        "hjkl cell  Enter row's feature  x column's feature  o other run  w swap  e export  ? help "
        " q back"};
    move(a->H - 1, 0);
    clrtoeol();
    const char *text = a->message[0] ? a->message : hints[tui_top(a)->type];
    if (a->message[0]) attron(A_BOLD);
    tui_text(a, a->H - 1, 0, a->W - 12, text);
    attroff(A_BOLD);
    if (a->last_key[0]) {
        char k[48];
        snprintf(k, sizeof k, "key %s", a->last_key);
        tui_text(a, a->H - 1, a->W - 11, 11, k);
    }
}

static tui_rect content_area(const tui_app *a) { return (tui_rect){0, 1, a->W, a->H - 2}; }

static void draw_frame(tui_app *a) {
    getmaxyx(stdscr, a->H, a->W);
    erase();
    a->n_overlay = 0;
    if (a->W < TUI_MIN_W || a->H < TUI_MIN_H) {
        char buf[128];
        snprintf(buf, sizeof buf, "Terminal too small (%dx%d):", a->W, a->H);
        tui_text(a, a->H / 2 - 1, 0, -1, buf);
        snprintf(buf, sizeof buf, "need at least %dx%d. q quits.", TUI_MIN_W, TUI_MIN_H);
        tui_text(a, a->H / 2, 0, -1, buf);
    } else {
        draw_title(a);
        tui_view *v = tui_top(a);
        tui_rect area = content_area(a);
        switch (v->type) {
        case SCREEN_LIST: tui_list_draw(a, v, area); break;
        case SCREEN_FEATURE: tui_feature_draw(a, v, area); break;
        case SCREEN_EQUATION: tui_equation_draw(a, v, area); break;
        case SCREEN_GALAXY: tui_galaxy_draw(a, v, area); break;
        case SCREEN_MARKS: tui_marks_draw(a, v, area); break;
        case SCREEN_COMPARE: tui_compare_draw(a, v, area); break;
        }
        if (a->help) {
            draw_help(a);
            a->n_overlay = 0; /* no pixel image over the help box */
        }
        draw_status(a);
    }
    /* Rows that held pixel images are repainted by curses (spaces) so that no
     * image is left behind; then the new images go on top. */
    int pixels = a->graphics == THUMB_SIXEL || a->graphics == THUMB_KITTY;
    if (pixels)
        for (int i = 0; i < a->n_old_overlay; i++)
            wredrawln(stdscr, a->old_overlay[i].y, a->old_overlay[i].rows);
    wnoutrefresh(stdscr);
    doupdate();
    if (pixels && (a->n_overlay || a->n_old_overlay)) {
        thumb_overlay_begin(stdout);
        thumb_overlay_clear(stdout, a->graphics);
        for (int i = 0; i < a->n_overlay; i++)
            thumb_overlay_draw(stdout, a->overlay[i].t, a->overlay[i].r.x, a->overlay[i].r.y);
        thumb_overlay_end(stdout);
    }
    a->n_old_overlay = a->n_overlay;
    for (int i = 0; i < a->n_overlay; i++) a->old_overlay[i] = a->overlay[i].r;
}

/* ---- keys ---- */

static void describe_key(char *buf, size_t n, int ch) {
    if (ch == '\n' || ch == KEY_ENTER) snprintf(buf, n, "Enter");
    else if (ch == '\t') snprintf(buf, n, "Tab");
    else if (ch == 27) snprintf(buf, n, "Esc");
    else if (ch == TUI_KEY_CLICK || ch == TUI_KEY_DCLICK) snprintf(buf, n, "click");
    else if (ch >= KEY_MIN && ch <= KEY_MAX) snprintf(buf, n, "%s", keyname(ch));
    else if (ch > 0 && ch < 32) snprintf(buf, n, "^%c", ch + 64);
    else if (ch < 127) snprintf(buf, n, "%c", ch);
    else snprintf(buf, n, "#%d", ch);
}

static void edit_label(tui_app *a, int feature) {
    char q[96], text[STORE_LABEL_MAX];
    snprintf(q, sizeof q, "label for %s %d (empty clears, Esc cancels): ", tui_cur_run(a)->prefix,
             feature);
    if (!tui_prompt(a, q, text, sizeof text)) return;
    store *w;
    if (store_open(&w, a->path, STORE_WRITE) != SF_OK) {
        tui_msg(a, "cannot save the label: %s", sf_last_error());
        return;
    }
    int rc = store_feature_label(w, tui_cur_run(a)->id, feature, text, NULL);
    store_close(w);
    if (rc != SF_OK) {
        tui_msg(a, "cannot save the label: %s", sf_last_error());
        return;
    }
    if (query_run_view_reload_features(a->db, &a->run.v) != SF_OK)
        tui_msg(a, "%s", sf_last_error());
    tui_resort(a);
    /* the pages of that feature (of this run: the stack may hold other runs') show the new label */
    for (int i = 0; i < a->depth; i++) {
        tui_view *v = &a->stack[i];
        if (v->type == SCREEN_FEATURE && v->feature == feature && v->run == a->cur && v->page) {
            tui_feature_page *p = v->page;
            snprintf(p->f.label, sizeof p->f.label, "%s", text);
        }
    }
    tui_msg(a, "%s %d: label %s%s%s", tui_cur_run(a)->prefix, feature, text[0] ? "'" : "cleared",
            text, text[0] ? "'" : "");
}

/* The feature the screen is about (list selection or open feature), or -1. */
static int current_feature(tui_app *a) {
    tui_view *v = tui_top(a);
    if (v->type == SCREEN_FEATURE) return v->feature;
    if (v->type == SCREEN_LIST && v->sel < a->run.n_visible) return a->run.visible[v->sel];
    return -1;
}

static void step_feature(tui_app *a, int dir) {
    if (!a->run.n_visible) return;
    int f = current_feature(a);
    int i = f >= 0 ? tui_run_visible_index(&a->run, f) : -1;
    i = i < 0 ? 0 : i + dir;
    if (i < 0 || i >= a->run.n_visible) {
        tui_msg(a, dir < 0 ? "first feature of the list" : "last feature of the list");
        return;
    }
    if (list_view(a)) list_view(a)->sel = i;
    tui_open_feature(a, a->run.visible[i]);
}

static void handle_key(tui_app *a, int ch) {
    describe_key(a->last_key, sizeof a->last_key, ch);
    a->message[0] = 0;
    if (ch == KEY_RESIZE) {
        getmaxyx(stdscr, a->H, a->W);
        resize_cells(a);
        clearok(curscr, TRUE);
        return;
    }
    if (a->help) {
        if (ch == 'j' || ch == KEY_DOWN) a->help_top++;
        else if ((ch == 'k' || ch == KEY_UP) && a->help_top > 0) a->help_top--;
        else a->help = 0;
        return;
    }
    if (a->W < TUI_MIN_W || a->H < TUI_MIN_H) {
        if (ch == 'q' || ch == 'Q' || ch == 27) a->running = 0;
        return;
    }
    tui_view *v = tui_top(a);
    tui_rect area = content_area(a);
    int used = 0;
    switch (v->type) {
    case SCREEN_LIST: used = tui_list_key(a, v, ch, area); break;
    case SCREEN_FEATURE: used = tui_feature_key(a, v, ch, area); break;
    case SCREEN_EQUATION: used = tui_equation_key(a, v, ch, area); break;
    case SCREEN_GALAXY: used = tui_galaxy_key(a, v, ch, area); break;
    case SCREEN_MARKS: used = tui_marks_key(a, v, ch, area); break;
    case SCREEN_COMPARE: used = tui_compare_key(a, v, ch, area); break;
    }
    if (used) return;
    char buf[256];
    switch (ch) {
    case 'q':
    case 27:
    case KEY_BACKSPACE:
    case 127:
    case 8: tui_pop(a); break;
    case 'C': tui_open_compare(a, -1); break;
    case 'Q': a->running = 0; break;
    case '?':
        a->help = 1;
        a->help_top = 0;
        break;
    case '\t':
        if (a->n_runs < 2) {
            tui_msg(a, "%s holds one run", a->path);
            break;
        }
        if (tui_switch_run(a, (a->cur + 1) % a->n_runs) != SF_OK) {
            tui_msg(a, "%s", sf_last_error());
            break;
        }
        tui_msg(a, "run %s: %d live features", tui_cur_run(a)->prefix, a->run.v.n_live);
        break;
    case '[': step_feature(a, -1); break;
    case ']': step_feature(a, +1); break;
    case 'r':
        if (a->run.n_visible) {
            int i = rand() % a->run.n_visible;
            if (list_view(a)) list_view(a)->sel = i;
            tui_open_feature(a, a->run.visible[i]);
        }
        break;
    case '/':
        if (tui_prompt(a, "/", buf, sizeof buf) && buf[0]) {
            snprintf(a->search, sizeof a->search, "%.127s", buf);
            search_step(a, +1);
        }
        break;
    case 'n': search_step(a, +1); break;
    case 'N': search_step(a, -1); break;
    case ':':
        if (tui_prompt(a, ":", buf, sizeof buf)) jump_to(a, buf);
        break;
    case 'e': {
        int f = current_feature(a);
        if (f >= 0) tui_export(a, f);
        else tui_msg(a, "e exports a feature: open one first");
        break;
    }
    case 'E':
        if (v->type != SCREEN_EQUATION) open_equation(a);
        break;
    case 'L': {
        int f = current_feature(a);
        if (f >= 0) edit_label(a, f);
        break;
    }
    case 'm': {
        int f = current_feature(a);
        if (v->type == SCREEN_GALAXY) tui_toggle_mark(a, -1, v->galaxy_id);
        else if (f >= 0) tui_toggle_mark(a, f, 0);
        else tui_msg(a, "m marks a feature (list, feature page) or a galaxy (galaxy page)");
        break;
    }
    case 'M':
        if (v->type != SCREEN_MARKS) open_marks(a);
        break;
    case 'p':
        a->plot_mode = a->plot_mode == PLOT_MODE_BRAILLE ? PLOT_MODE_GLYPH : PLOT_MODE_BRAILLE;
        tui_msg(a, "plots: %s", a->plot_mode == PLOT_MODE_BRAILLE ? "braille" : "plain glyphs");
        break;
    case 't': {
        int next = a->graphics == THUMB_NONE                                     ? THUMB_SYMBOLS
                   : a->graphics == THUMB_SYMBOLS && a->detected > THUMB_SYMBOLS ? a->detected
                                                                                 : THUMB_NONE;
        a->graphics = next;
        tui_msg(a, "thumbnails: %s", thumb_mode_name(next));
        break;
    }
    default:
        if (ch != ERR) tui_msg(a, "key %s does nothing here (? lists the keys)", a->last_key);
    }
}

/* After a start-up probe that got no answer, its replies may still come (a
 * slow link): curses would read their ESC as Esc and the rest as keys. Called
 * after an Esc while that can happen: swallows one whole reply (ESC [ ? ... c,
 * ESC [ 4|6 ; ... t, ESC _ G ... ESC \) and returns 1, or puts back what it
 * read and returns 0. Nothing a keyboard sends has those shapes. */
static int skip_late_reply(tui_app *a) {
    int seq[64], n = 0, c, reply = 0;
    timeout(50); /* the rest of a reply comes with its ESC */
    c = getch();
    if (c == '[') {
        seq[n++] = c;
        while (n < 64 && (c = getch()) != ERR) {
            seq[n++] = c;
            if (c < 0x20 || c > 0x3f) break; /* the final byte, or no CSI */
        }
        int final = seq[n - 1];
        if (n >= 3 && final == 'c' && seq[1] == '?') {
            reply = 1;
            a->late_replies = 0; /* DA1's reply is the last one */
        }
        reply |= n >= 3 && final == 't' && (seq[1] == '4' || seq[1] == '6');
    } else if (c == '_') {
        seq[n++] = c;
        if ((c = getch()) == 'G') {
            reply = 1;
            for (int prev = 0; (c = getch()) != ERR && !(prev == 27 && c == '\\'); prev = c) {}
        } else if (c != ERR) {
            seq[n++] = c;
        }
    } else if (c != ERR) {
        seq[n++] = c;
    }
    timeout(-1);
    if (!reply)
        while (n > 0) ungetch(seq[--n]);
    return reply;
}

static int read_key(tui_app *a) {
    wint_t wc;
    int r = get_wch(&wc);
    if (r == ERR) return ERR;
    int ch = (int)wc;
    if (r == KEY_CODE_YES && ch == KEY_MOUSE) {
        MEVENT ev;
        if (getmouse(&ev) != OK) return ERR;
        a->click_x = ev.x;
        a->click_y = ev.y;
        if (ev.bstate & BUTTON4_PRESSED) return 'k';
#ifdef BUTTON5_PRESSED
        if (ev.bstate & BUTTON5_PRESSED) return 'j';
#endif
        if (ev.bstate & BUTTON1_DOUBLE_CLICKED) return TUI_KEY_DCLICK;
        if (ev.bstate & (BUTTON1_CLICKED | BUTTON1_PRESSED | BUTTON1_RELEASED))
            return TUI_KEY_CLICK;
        return ERR;
    }
    if (r == KEY_CODE_YES) return ch;
    if (ch == 27 && a->late_replies && skip_late_reply(a)) return ERR;
    if (ch == '\r') return '\n';
    return ch;
}

/* ---- entry ---- */

static void usage(FILE *out) {
    fprintf(out, "Usage: sfnet-explore RUN.db [OPTIONS]\n"
                 "Browse the features of the runs in a run database.\n"
                 "\n"
                 "  --run SPEC             open this run (prefix such as SL or Z, or id)\n"
                 "  --feature F            open straight at a feature (17, \"SL 17\")\n"
                 "  --galaxy OBJID         open straight at a galaxy\n"
                 "  --graphics MODE        thumbnails: auto, sixel, kitty, symbols, none\n"
                 "                         (default auto; also $SFNET_GRAPHICS). Auto asks the\n"
                 "                         terminal (kitty query, DA1) before starting\n"
                 "  --cell-size WxH        pixel size of a terminal cell for sixel and kitty\n"
                 "                         images (default: asked with CSI 16 t, CSI 14 t,\n"
                 "                         TIOCGWINSZ, else 10x20; also $SFNET_CELL_SIZE)\n"
                 "  --color WHEN           auto, always, never (NO_COLOR is honoured by auto)\n"
                 "  --no-mouse             leave the mouse to the terminal\n"
                 "  --dump-detect          print what the terminal answered, the cell size and\n"
                 "                         the graphics mode chosen, and why; then exit\n"
                 "  -h, --help             this help\n"
                 "\n"
                 "When stdout is not a terminal the feature lists and equations are printed.\n"
                 "Keys: press ? inside; see sfnet-explore(1).\n");
}

int cli_is_database(const char *arg) {
    static const char *opts[] = {"--run",         "--feature", "--galaxy", "--graphics",
                                 "--cell-size",   "--color",   "--colour", "--no-mouse",
                                 "--dump-detect", NULL};
    for (int i = 0; opts[i]; i++) {
        size_t m = strlen(opts[i]);
        if (!strncmp(arg, opts[i], m) && (arg[m] == 0 || arg[m] == '=')) return 1;
    }
    size_t n = strlen(arg);
    if (n > 3 && !strcmp(arg + n - 3, ".db")) return 1;
    return access(arg, F_OK) == 0;
}

/* A file of an older schema version is upgraded before the explorer shows it (every
 * run's summaries computed once, with a progress bar), through a connection opened for
 * writing for that; when the file cannot be written (permissions, a read-only folder)
 * it is shown as it is and each run's summaries are computed in memory when the run
 * is first shown. SF_ERR only when the file cannot be read again afterwards. */
static int upgrade_if_old(tui_app *a) {
    int version = store_schema_version(a->db);
    if (version >= STORE_SCHEMA_VERSION) return SF_OK;
    fprintf(stderr,
            "sfnet-explore: %s is of schema version %d: upgrading it to version %d "
            "(the summaries of every run are computed once)\n",
            a->path, version, STORE_SCHEMA_VERSION);
    store *w = NULL;
    if (store_open(&w, a->path, STORE_WRITE) != SF_OK) {
        fprintf(stderr,
                "sfnet-explore: cannot upgrade it (%s): each run's summaries are computed in "
                "memory when it is first shown\n",
                sf_last_error());
        return SF_OK;
    }
    store_close(w);
    store_close(a->db);
    a->db = NULL;
    return store_open(&a->db, a->path, STORE_READ);
}

/* At exit, and through the die hook (sf_util.h) before an abort. */
static void restore_terminal(void) {
    if (!isendwin()) endwin();
    thumb_probe_restore_terminal();
}

/* Before curses owns the terminal: asks it (tui_thumb.h and tui_probe.h say what and why),
 * settles the cell size and the graphics mode into a; with dump, prints all
 * of it for --dump-detect. SF_ERR when $SFNET_CELL_SIZE is not WxH. */
static int detect_graphics(tui_app *a, int graphics, const char *cell_size, thumb_probe *probe,
                           int dump) {
    const char *env_cell = getenv("SFNET_CELL_SIZE");
    int cell_given = cell_size || (env_cell && *env_cell);
    char probe_why[160], why[160];
    int queries = thumb_probe_queries(graphics, NULL, cell_given, probe_why, sizeof probe_why);
    memset(probe, 0, sizeof *probe);
    if (queries && !(isatty(STDIN_FILENO) && isatty(STDOUT_FILENO)))
        snprintf(probe_why, sizeof probe_why, "not run: stdin or stdout is not a terminal");
    else if (queries && thumb_probe_run(probe, STDIN_FILENO, STDOUT_FILENO, queries,
                                        THUMB_PROBE_TIMEOUT_MS) != SF_OK)
        snprintf(probe_why, sizeof probe_why, "not run: %s", sf_last_error());
    int source;
    if (thumb_cell_resolve(cell_size, NULL, probe, STDOUT_FILENO, &a->cell_w, &a->cell_h,
                           &source) != SF_OK)
        return SF_ERR;
    a->cell_given = source == THUMB_CELL_OPTION || source == THUMB_CELL_ENV;
    a->detected = thumb_detect(graphics, NULL, probe, source != THUMB_CELL_GUESS, why, sizeof why);
    if (!dump) return SF_OK;
    if (probe->ran) {
        char replies[1200];
        thumb_probe_describe(probe, replies, sizeof replies);
        printf("probe: %s; %s in %.1f ms\nreplies: %s\n", probe_why,
               probe->answered ? "answered" : "no DA1 reply", probe->ms,
               probe->raw_len ? replies : "none");
    } else {
        printf("probe: %s\n", probe_why);
    }
    const char *term = getenv("TERM"), *colorterm = getenv("COLORTERM");
    printf("graphics: %s\ncell: %dx%d px (%s)\nTERM=%s COLORTERM=%s NO_COLOR=%s TMUX=%s\n", why,
           a->cell_w, a->cell_h, thumb_cell_source_name(source), term ? term : "",
           colorterm ? colorterm : "", getenv("NO_COLOR") ? "set" : "unset",
           getenv("TMUX") ? "set" : "unset");
    fflush(stdout);
    thumb_probe_flush(STDIN_FILENO, probe);
    return SF_OK;
}

int tui_main(int argc, char **argv) {
    static const struct option opts[] = {{"run", required_argument, 0, 'R'},
                                         {"feature", required_argument, 0, 'f'},
                                         {"galaxy", required_argument, 0, 'g'},
                                         {"graphics", required_argument, 0, 'x'},
                                         {"cell-size", required_argument, 0, 'C'},
                                         {"color", required_argument, 0, 'c'},
                                         {"colour", required_argument, 0, 'c'},
                                         {"no-mouse", no_argument, 0, 'm'},
                                         {"dump-detect", no_argument, 0, 'd'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *run_spec = NULL, *feature_spec = NULL, *galaxy = NULL, *color = "auto",
               *cell_size = NULL;
    int graphics = THUMB_AUTO, mouse = 1, dump = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'R': run_spec = optarg; break;
        case 'f': feature_spec = optarg; break;
        case 'g': galaxy = optarg; break;
        case 'x':
            if (thumb_mode_parse(optarg, &graphics) != SF_OK) {
                fprintf(stderr, "sfnet-explore: %s\n", sf_last_error());
                return 2;
            }
            break;
        case 'C': {
            int w, h;
            if (thumb_cell_size_parse(optarg, "--cell-size", &w, &h) != SF_OK) {
                fprintf(stderr, "sfnet-explore: %s\n", sf_last_error());
                return 2;
            }
            cell_size = optarg;
            break;
        }
        case 'c':
            if (strcmp(optarg, "auto") && strcmp(optarg, "always") && strcmp(optarg, "never")) {
                fprintf(stderr, "sfnet-explore: --color %s: use auto, always or never\n", optarg);
                return 2;
            }
            color = optarg;
            break;
        case 'm': mouse = 0; break;
        case 'd': dump = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc - 1) {
        usage(stderr);
        return 2;
    }
    const char *path = argv[optind];
    setlocale(LC_ALL, "");
    sf_set_die_hook(restore_terminal);

    tui_app *a = xcalloc(1, sizeof *a);
    a->path = path;
    int rc = 1;
    if (store_open(&a->db, path, STORE_READ) != SF_OK) {
        fprintf(stderr, "sfnet-explore: %s\n", sf_last_error());
        free(a);
        return 1;
    }
    thumb_probe probe;
    rc = detect_graphics(a, graphics, cell_size, &probe, dump) == SF_OK ? 0 : 2;
    if (rc || dump) {
        if (rc) fprintf(stderr, "sfnet-explore: %s\n", sf_last_error());
        store_close(a->db);
        free(a);
        return rc;
    }
    rc = 1;
    if (!isatty(STDOUT_FILENO) || !isatty(STDIN_FILENO)) {
        rc = query_print_plain(stdout, a->db) == SF_OK ? 0 : 1;
        if (rc) fprintf(stderr, "sfnet-explore: %s\n", sf_last_error());
        store_close(a->db);
        free(a);
        return rc;
    }
    if (upgrade_if_old(a) != SF_OK || store_runs(a->db, &a->runs, &a->n_runs) != SF_OK) {
        fprintf(stderr, "sfnet-explore: %s\n", sf_last_error());
        goto done;
    }
    if (a->n_runs == 0) {
        fprintf(stderr,
                "sfnet-explore: %s has no runs yet (train one with sfnet-explore --train)\n",
                sf_shown(path));
        goto done;
    }
    int start_run = 0;
    if (run_spec && (start_run = find_run(a, run_spec)) < 0) {
        fprintf(stderr, "sfnet-explore: no run '%s' in %s\n", sf_shown(run_spec), sf_shown(path));
        goto done;
    }
    if (tui_switch_run(a, start_run) != SF_OK) {
        fprintf(stderr, "sfnet-explore: %s\n", sf_last_error());
        goto done;
    }
    a->graphics = a->detected;
    a->thumbs = thumb_cache_new(256);

    /* replies too late for the probe are no keys: dropped now, swallowed later */
    thumb_probe_flush(STDIN_FILENO, &probe);
    a->late_replies = probe.ran && !probe.answered;
    atexit(restore_terminal);
    initscr();
    sf_progress_quiet = 1; /* not over the screen: the status line says what is computed */
    cbreak();
    noecho();
    nonl();
    keypad(stdscr, TRUE);
    set_escdelay(25);
    curs_set(0);
    const char *no_color = getenv("NO_COLOR");
    int want_color =
        strcmp(color, "never") && (!strcmp(color, "always") || !(no_color && no_color[0]));
    if (want_color && has_colors()) {
        start_color();
        use_default_colors();
        a->color = COLORS >= 0x1000000 ? TUI_COLOR_DIRECT
                   : COLORS >= 256     ? TUI_COLOR_256
                                       : TUI_COLOR_8;
    }
    const char *term = getenv("TERM");
    a->plot_mode = a->color == TUI_COLOR_NONE || (term && !strcmp(term, "dumb"))
                       ? PLOT_MODE_GLYPH
                       : PLOT_MODE_BRAILLE;
    if (mouse) {
        mousemask(BUTTON1_CLICKED | BUTTON1_DOUBLE_CLICKED | BUTTON4_PRESSED
#ifdef BUTTON5_PRESSED
                      | BUTTON5_PRESSED
#endif
                  ,
                  NULL);
        mouseinterval(200);
    }
    a->running = 1;
    if (feature_spec && !jump_to(a, feature_spec)) {
        char m[sizeof a->message + 64];
        snprintf(m, sizeof m, "--feature %.40s: %s", feature_spec, a->message);
        tui_msg(a, "%s", m);
    }
    if (galaxy && !jump_to(a, galaxy)) {
        char m[sizeof a->message + 64];
        snprintf(m, sizeof m, "--galaxy %.40s: %s", galaxy, a->message);
        tui_msg(a, "%s", m);
    }
    while (a->running) {
        draw_frame(a);
        SF_TEST_DIE("explorer");
        int ch = read_key(a);
        if (ch == ERR) continue;
        handle_key(a, ch);
    }
    endwin();
    rc = 0;
done:
    thumb_probe_flush(STDIN_FILENO,
                      &probe); /* a start that failed early: not into the shell either */
    views_reset(a);
    tui_run_clear(&a->run);
    tui_cross_free(a);
    thumb_cache_free(a->thumbs);
    if (a->runs) store_runs_free(a->runs, a->n_runs);
    store_close(a->db);
    free(a);
    export_shutdown();
    return rc;
}
