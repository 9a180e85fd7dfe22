/* tui_app.h: the explorer's state and the screens' open/draw/key functions (internal to
 * tui_*.c).
 *
 * tui_app.c owns the terminal (curses setup, colours, the main loop, the status
 * line, prompts, the help overlay, pixel-image overlays) and dispatches to one
 * screen at a time. The explorer's connection is read-only: labels and marks are
 * written through a second connection opened for writing, for that one change.
 *
 * The state comes in three parts:
 *  - tui_app, the session: the terminal, the database and its runs, the list's sort
 *    settings, the stack of views, the status line;
 *  - tui_run, the run on screen: query_run_view (the run, every feature's statistics,
 *    its marks and plot points, its equation once asked for), loaded once when the
 *    explorer switches to the run, and its feature list in the list's order;
 *  - each view on the stack owns its screen's data (tui_feature_page,
 *    tui_galaxy_page, tui_equation_page), loaded by the screen's load function when the
 *    view opens and freed when it closes. A view also records its run: a jump to another
 *    run's feature (counterparts, compare, the galaxy page's other runs) makes that run
 *    current without closing the views below, and going back to a view of another run
 *    makes its run current again (tui_load_run). What serves several views is kept in
 *    the session: the current run's other runs sharing galaxies, a run's codes for
 *    similar galaxies (loaded by its first galaxy page) and the last compare matrix.
 * Draw functions draw from these and never query; key functions change the view or
 * open another. The load functions take the store and the run, not the terminal, so
 * that the scale bench times them headless (bench/bench_scale.c). A screen draws the
 * whole area between the title line and the status line, and handles the keys it
 * knows; keys it does not know fall back to the global ones (q, Tab, :, ?, ...).
 */
#ifndef SF_TUI_APP_H
#define SF_TUI_APP_H

#include "plot.h"
#include "query_view.h"
#include "store.h"
#include "tui.h"
#include "tui_thumb.h"

enum {
    SCREEN_LIST = 0,
    SCREEN_FEATURE,
    SCREEN_EQUATION,
    SCREEN_GALAXY,
    SCREEN_MARKS,
    SCREEN_COMPARE,
    SCREEN_COUNT
};

#define TUI_MIN_W 50
#define TUI_MIN_H 14
#define TUI_STACK 16
#define TUI_SIMILAR 5      /* similar features on the feature page */
#define TUI_COUNTERPARTS 3 /* counterparts in each other run on the feature page */
#define TUI_NEIGHBORS 8    /* similar galaxies on the galaxy page */
#define TUI_MARK_SIGN "*"
/* Synthetic keys the app hands to screens. */
#define TUI_KEY_CLICK 0x7FFF0001
#define TUI_KEY_DCLICK 0x7FFF0002

/* Colours: what a terminal can show. */
enum { TUI_COLOR_NONE = 0, TUI_COLOR_8, TUI_COLOR_256, TUI_COLOR_DIRECT };

typedef struct {
    int x, y, cols, rows;
} tui_rect;

/* A galaxy's picture, decoded when its page opens: the thumbnail stored with the run,
 * else the cutout in the run's image folder; rgb NULL when neither exists. */
typedef struct {
    char objid[STORE_OBJID_MAX];
    uint8_t *rgb; /* owned (h, w, 3) */
    int w, h;
} tui_image;

void tui_image_load(store *s, const store_run *run, int64_t galaxy_id, const char *objid,
                    tui_image *img);
void tui_image_clear(tui_image *img);

/* The run on screen, loaded once when the explorer switches to it. */
typedef struct {
    query_run_view v;
    int *order;   /* (v.run.d) feature numbers in the list's order */
    int *visible; /* (n_visible) the features the list shows (dead ones when shown) */
    int n_visible, n_dead;
} tui_run;

/* The list's sort keys, in the order s cycles them. */
#define TUI_N_SORTS 6
extern const char *tui_sort_names[TUI_N_SORTS];
int tui_run_load(store *s, int64_t run_id, int sort, int reverse, int show_dead, tui_run *r);
/* Orders the list again (a new sort key, dead ones shown or hidden, a label changed). */
void tui_run_sort(tui_run *r, int sort, int reverse, int show_dead);
void tui_run_clear(tui_run *r);
/* Place of feature in r->visible, or -1. */
int tui_run_visible_index(const tui_run *r, int feature);

/* The feature page's data: everything it shows about one feature. */
typedef struct {
    int feature;
    store_feature f;
    store_hit *top; /* (n_top) the strongest galaxies */
    int n_top;
    store_hit *quant; /* (n_quant) samples at activation quantiles, low to high */
    int n_quant;
    tui_image *images;                  /* (n_top + n_quant) their pictures */
    query_scatter sc;                   /* scatter and histogram */
    char suggestion[STORE_LABEL_MAX];   /* from the catalogue correlations, "" none */
    query_similar similar[TUI_SIMILAR]; /* the most correlated features */
    int n_similar, similar_failed;
    int has_share;                 /* a term of the equation: */
    double mean_contrib;           /* its mean w'A to the first target */
    double share;                  /* its part of all terms' mean |w'A|, 0..1 */
    int n_cross;                   /* other runs sharing galaxies (tui_cross.c) */
    struct tui_cross_block *cross; /* (n_cross) the feature's counterparts in each */
} tui_feature_page;

int tui_feature_page_load(store *s, tui_run *r, int feature, tui_feature_page *p);
void tui_feature_page_clear(tui_feature_page *p);

/* The galaxy page's data. */
typedef struct {
    store_galaxy g;
    store_galaxy_run gr; /* n_out 0 when the run does not hold the galaxy */
    tui_image image;
    struct tui_galaxy_cross *cross; /* its other runs and similar galaxies (tui_cross.c) */
} tui_galaxy_page;

int tui_galaxy_page_load(store *s, const tui_run *r, int64_t galaxy_id, tui_galaxy_page *p);
void tui_galaxy_page_clear(tui_galaxy_page *p);

/* The equation view's data: the run's equation (kept in r) and its terms in order of
 * mean |contribution| for each target. */
typedef struct {
    int n_out;
    int *order[STORE_MAX_TARGETS];
} tui_equation_page;

int tui_equation_page_load(store *s, tui_run *r, tui_equation_page *p);
void tui_equation_page_clear(tui_equation_page *p);

/* The marks screen reads the run's marks again when it opens. */
int tui_marks_page_load(store *s, tui_run *r);

typedef struct {
    int type;
    int feature;       /* SCREEN_FEATURE */
    int64_t galaxy_id; /* SCREEN_GALAXY */
    int sel, top;      /* selection and scroll of the screen's list */
    int target;        /* equation/galaxy: which output */
    int zoom;          /* feature page: scatter zoom steps (x1.5 each, 0 = the paper's limits) */
    int run;           /* index into the app's runs of the run the screen shows (set by tui_push) */
    int other;         /* SCREEN_COMPARE: the run compared with (columns) */
    int col, left;     /* SCREEN_COMPARE: cursor column and first column shown (sel, top: rows) */
    void *page;        /* the screen's data (tui_*_page), owned by the view */
} tui_view;

/* One other run's counterparts of the feature on screen. */
typedef struct tui_cross_block {
    int run;               /* index into the app's runs */
    query_counterparts cp; /* the TUI_COUNTERPARTS strongest */
} tui_cross_block;

/* The galaxy page's data beyond its own run (tui_cross.c), loaded when it opens. */
typedef struct tui_galaxy_cross {
    int n_runs;
    int *run; /* (n_runs) indices into the app's runs holding the galaxy, current excluded */
    store_galaxy_run *gr; /* (n_runs) its active features there */
    query_neighbor near[TUI_NEIGHBORS];
    tui_image near_image[TUI_NEIGHBORS];
    int n_near;
    char near_why[128]; /* why there are none, "" when there are */
} tui_galaxy_cross;

typedef struct tui_app {
    store *db;
    const char *path;
    store_run *runs;
    int n_runs, cur;              /* current run index */
    tui_run run;                  /* the current run */
    int sort, reverse, show_dead; /* the list's order */
    int *others;                  /* current run's others sharing galaxies: indices into runs */
    int *n_shared;                /* (n_others) galaxies shared with each */
    int n_others;
    query_neighbors nb;   /* a run's codes for similar galaxies, loaded by its first galaxy page */
    int64_t nb_run_id;    /* 0 none */
    query_compare cmp;    /* the compare screen's matrix and R^2, loaded when it opens */
    int64_t cmp_a, cmp_b; /* its runs (0 none) */

    tui_view stack[TUI_STACK];
    int depth;

    int color;          /* TUI_COLOR_* */
    int plot_mode;      /* PLOT_MODE_* */
    int graphics;       /* THUMB_* in use */
    int cell_w, cell_h; /* pixel size of a cell (sixel/kitty) */
    int cell_given;     /* by --cell-size or $SFNET_CELL_SIZE: kept on resize */
    int late_replies;   /* the probe got no answer: its replies may still come */
    int mouse;
    thumb_cache *thumbs;
    /* pixel images drawn after curses (sixel/kitty) this frame and the last */
    struct {
        tui_rect r;
        const thumb *t;
    } overlay[64];
    int n_overlay;
    tui_rect old_overlay[64];
    int n_old_overlay;

    char search[128];
    char message[256];
    char last_key[32];
    int running;
    int help; /* help overlay shown */
    int help_top;
    int W, H;             /* screen size */
    int click_x, click_y; /* the mouse click being handled (TUI_KEY_CLICK) */
    int detected;         /* graphics mode detected at start (for `t`) */
} tui_app;

/* ---- app services (tui_app.c) ---- */
tui_view *tui_top(tui_app *a);
/* Pushes v (which owns its page) on the stack; the oldest view goes when it is full. */
void tui_push(tui_app *a, tui_view v);
/* Closes the top view (quits on the last). */
void tui_pop(tui_app *a);
const store_run *tui_cur_run(const tui_app *a);
void tui_msg(tui_app *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prompts on the status line; returns 1 with the text in buf, 0 when cancelled. */
int tui_prompt(tui_app *a, const char *question, char *buf, int n);
/* Sets the colour for the next text: a colormap value v in [0,1] or -1 default. */
void tui_color_value(tui_app *a, double v);
/* Foreground/background RGB for a thumbnail cell. */
void tui_color_rgb(tui_app *a, uint32_t fg, uint32_t bg);
void tui_color_reset(tui_app *a);
/* Copies a plot grid onto the screen at (x, y). */
void tui_draw_grid(tui_app *a, const plot_grid *g, int x, int y);
/* Draws a galaxy's picture in the rectangle (symbols into cells, or a pixel overlay
 * registered for after doupdate), rendered once per size and mode. Returns 0 when
 * there is no image. */
int tui_draw_thumb(tui_app *a, const tui_image *img, tui_rect r);
/* Text clipped to the screen width from (x, y); returns columns used. */
int tui_text(tui_app *a, int y, int x, int max_cols, const char *s);
/* Opens a feature of the current run (pushes the feature page, or replaces the one on
 * top); a failure leaves the screen as it was, with a message. */
void tui_open_feature(tui_app *a, int feature);
/* The same, always pushing (so that q comes back to the page below); SF_ERR with a
 * message when the page could not be loaded. */
int tui_push_feature(tui_app *a, int feature, int zoom);
void tui_open_galaxy(tui_app *a, int64_t galaxy_id);
/* Switches to run index i (loads it, back to its feature list). */
int tui_switch_run(tui_app *a, int i);
/* Orders the current run's list again after a.sort/reverse/show_dead changed. */
void tui_resort(tui_app *a);
/* Exports the feature to <prefix>_<feature>.png in the current directory. */
void tui_export(tui_app *a, int feature);

/* ---- between runs (tui_cross.c, tui_compare.c) ---- */
/* Lists the current run's others sharing galaxies into a->others (on every run change). */
int tui_cross_runs_load(tui_app *a);
void tui_cross_free(tui_app *a);
/* The feature page's counterpart blocks in every other run (after tui_feature_page_load). */
int tui_cross_feature_load(tui_app *a, tui_feature_page *p);
void tui_cross_feature_clear(tui_feature_page *p);
/* Makes run index i the current run without closing the views (their pages were loaded
 * for the runs they record: a view is shown in its own run, switched back to when it is
 * on top again). */
int tui_load_run(tui_app *a, int i);
/* Opens a feature of run index run on top of the stack (switching runs): q comes back. */
void tui_open_in_run(tui_app *a, int run, int feature);
/* The galaxy page's other runs and similar galaxies (after tui_galaxy_page_load). */
int tui_cross_galaxy_load(tui_app *a, int64_t galaxy_id, tui_galaxy_page *p);
void tui_cross_galaxy_clear(tui_galaxy_page *p);
/* Opens the compare screen of the current run against run index other (-1: the first
 * other run sharing galaxies). */
void tui_open_compare(tui_app *a, int other);
/* Loads the compare screen v's matrix and R^2 into a->cmp unless they are there. */
int tui_compare_load(tui_app *a, const tui_view *v);

/* ---- marks (tui_marks.c) ---- */
/* Marks or unmarks a feature (galaxy_id 0) or a galaxy (feature -1) of the current
 * run through a connection opened for writing (the explorer's own one only reads). */
void tui_toggle_mark(tui_app *a, int feature, int64_t galaxy_id);

/* ---- screens ---- */
void tui_list_draw(tui_app *a, tui_view *v, tui_rect area);
int tui_list_key(tui_app *a, tui_view *v, int ch, tui_rect area);
void tui_feature_draw(tui_app *a, tui_view *v, tui_rect area);
int tui_feature_key(tui_app *a, tui_view *v, int ch, tui_rect area);
void tui_equation_draw(tui_app *a, tui_view *v, tui_rect area);
int tui_equation_key(tui_app *a, tui_view *v, int ch, tui_rect area);
void tui_galaxy_draw(tui_app *a, tui_view *v, tui_rect area);
int tui_galaxy_key(tui_app *a, tui_view *v, int ch, tui_rect area);
void tui_marks_draw(tui_app *a, tui_view *v, tui_rect area);
int tui_marks_key(tui_app *a, tui_view *v, int ch, tui_rect area);
void tui_compare_draw(tui_app *a, tui_view *v, tui_rect area);
int tui_compare_key(tui_app *a, tui_view *v, int ch, tui_rect area);

/* A list's selection moved by a key (j/k, arrows, PgUp/PgDn, g/G, Home/End,
 * Ctrl-d/u, wheel). Returns 1 when the key was a movement key. */
int tui_list_move(int ch, int *sel, int *top, int n, int rows);

#endif
