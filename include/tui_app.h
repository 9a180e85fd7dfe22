/* tui_app.h: the explorer's state and the screens' draw/key pairs (internal to tui_*.c).
 *
 * tui_app.c owns the terminal (curses setup, colours, the main loop, the status
 * line, prompts, the help overlay, pixel-image overlays) and dispatches to one
 * screen at a time. The explorer's connection is read-only: labels and marks are
 * written through a second connection opened for writing, for that one change. A screen draws the whole area between the title line and
 * the status line from the app's state, and handles the keys it knows; keys it
 * does not know fall back to the global ones (q, Tab, :, ?, ...).
 */
#ifndef SF_TUI_APP_H
#define SF_TUI_APP_H

#include "plot.h"
#include "query_view.h"
#include "store.h"
#include "tui.h"
#include "tui_thumb.h"

enum { SCREEN_LIST = 0, SCREEN_FEATURE, SCREEN_EQUATION, SCREEN_GALAXY, SCREEN_MARKS, SCREEN_COUNT };

#define TUI_MIN_W 50
#define TUI_MIN_H 14
#define TUI_STACK 16
#define TUI_SIMILAR 5 /* similar features on the feature page */
#define TUI_MARK_SIGN "*"
/* Synthetic keys the app hands to screens. */
#define TUI_KEY_CLICK 0x7FFF0001
#define TUI_KEY_DCLICK 0x7FFF0002

typedef struct {
    int type;
    int feature;       /* SCREEN_FEATURE */
    int64_t galaxy_id; /* SCREEN_GALAXY */
    int sel, top;      /* selection and scroll of the screen's list */
    int target;        /* equation/galaxy: which output */
    int zoom;          /* feature page: scatter zoom steps (x1.5 each, 0 = the paper's limits) */
} tui_view;

/* Colours: what a terminal can show. */
enum { TUI_COLOR_NONE = 0, TUI_COLOR_8, TUI_COLOR_256, TUI_COLOR_DIRECT };

typedef struct {
    int x, y, cols, rows;
} tui_rect;

/* Data of the feature on screen, loaded when the feature page opens. */
typedef struct {
    int64_t run_id;
    int feature;
    store_feature f;
    store_hit *top;
    int n_top;
    store_hit *quant;
    int n_quant;
    float *hist;        /* scaled activations of active validation galaxies */
    int n_hist;
    query_scatter sc;
    char suggestion[STORE_LABEL_MAX]; /* from the catalogue correlations, "" none */
    query_similar similar[TUI_SIMILAR]; /* most correlated features, from the app's coact */
    int n_similar;
    int similar_loaded;
    int loaded;
} tui_feature_data;

typedef struct tui_app {
    store *db;
    const char *path;
    store_run *runs;
    int n_runs, cur;      /* current run index */
    store_feature *feats; /* current run's features in list order (dead ones included) */
    int n_feats;
    int *visible;         /* indices into feats of the rows shown */
    int n_visible, n_dead;
    int sort, reverse, show_dead;
    query_run_data rd;      /* current run's arrays */
    int rd_loaded;
    tui_feature_data fd;
    query_equation eq;    /* current run's equation, loaded by the equation view */
    int eq_loaded;
    query_coact coact;    /* co-activation sums of a run, computed by the first feature page */
    int coact_loaded;
    store_mark *marks;    /* current run's marks (tui_marks_reload) */
    int n_marks;

    tui_view stack[TUI_STACK];
    int depth;

    int color;            /* TUI_COLOR_* */
    int plot_mode;        /* PLOT_MODE_* */
    int graphics;         /* THUMB_* in use */
    int cell_w, cell_h;   /* pixel size of a cell (sixel/kitty) */
    int cell_given;       /* by --cell-size or $SFNET_CELL_SIZE: kept on resize */
    int late_replies;     /* the probe got no answer: its replies may still come */
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
    int help;             /* help overlay shown */
    int help_top;
    int W, H;             /* screen size */
    int click_x, click_y; /* the mouse click being handled (TUI_KEY_CLICK) */
    int detected;         /* graphics mode detected at start (for `t`) */
} tui_app;

/* ---- app services (tui_app.c) ---- */
extern const char *tui_sort_names[]; /* the list's sort keys, in the order s cycles them */
tui_view *tui_top(tui_app *a);
void tui_push(tui_app *a, tui_view v);
void tui_pop(tui_app *a);
const store_run *tui_run(const tui_app *a);
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
/* Draws a galaxy thumbnail in the rectangle (symbols into cells, or a pixel
 * overlay registered for after doupdate). Returns 0 when no image exists. */
int tui_draw_thumb(tui_app *a, int64_t galaxy_id, const char *objid, tui_rect r);
/* Text clipped to the screen width from (x, y); returns columns used. */
int tui_text(tui_app *a, int y, int x, int max_cols, const char *s);
/* Opens a feature of the current run (pushes the feature page). */
void tui_open_feature(tui_app *a, int feature);
void tui_open_galaxy(tui_app *a, int64_t galaxy_id);
/* Switches to run index i, reloading its features. */
int tui_switch_run(tui_app *a, int i);
int tui_reload_features(tui_app *a);
/* Index into a->visible of the feature, or -1. */
int tui_visible_index(const tui_app *a, int feature);
/* Exports the feature to <prefix>_<feature>.png in the current directory. */
void tui_export(tui_app *a, int feature);
int tui_load_feature(tui_app *a, int feature);

/* The current run's equation into a->eq (query.h), computed once per run. */
int tui_equation_load(tui_app *a);

/* ---- marks (tui_marks.c) ---- */
/* Reads the current run's marks into a->marks (none on a failure, with a message). */
void tui_marks_reload(tui_app *a);
void tui_marks_free(tui_app *a);
int tui_feature_marked(const tui_app *a, int feature);
int tui_galaxy_marked(const tui_app *a, int64_t galaxy_id);
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

/* A list's selection moved by a key (j/k, arrows, PgUp/PgDn, g/G, Home/End,
 * Ctrl-d/u, wheel). Returns 1 when the key was a movement key. */
int tui_list_move(int ch, int *sel, int *top, int n, int rows);

#endif
