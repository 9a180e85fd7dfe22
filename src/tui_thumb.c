/* tui_thumb.c: chafa thumbnails, the mode and cell-size choice, the thumbnail cache.
 * Layer: tui. Calls: sf_util; libchafa.
 * Called by: tui_app.
 */
#include "tui_thumb.h"

#include <chafa.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "sf_util.h"

static const char *mode_names[] = {"none", "symbols", "sixel", "kitty"};

int thumb_mode_parse(const char *name, int *mode) {
    if (!strcmp(name, "auto")) {
        *mode = THUMB_AUTO;
        return SF_OK;
    }
    for (int i = 0; i < 4; i++)
        if (!strcmp(name, mode_names[i])) {
            *mode = i;
            return SF_OK;
        }
    return sf_fail("unknown graphics mode '%s' (use auto, sixel, kitty, symbols or none)", name);
}

const char *thumb_mode_name(int mode) {
    if (mode == THUMB_AUTO) return "auto";
    if (mode < 0 || mode > THUMB_KITTY) return "?";
    return mode_names[mode];
}

static const char *env_get(char **envp, const char *name) {
    if (!envp) return getenv(name);
    size_t n = strlen(name);
    for (char **e = envp; *e; e++)
        if (!strncmp(*e, name, n) && (*e)[n] == '=') return *e + n + 1;
    return NULL;
}

int thumb_cell_pixels(int fd, int *cell_w, int *cell_h) {
    struct winsize ws;
    if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 && ws.ws_row > 0 && ws.ws_xpixel > 0 &&
        ws.ws_ypixel > 0) {
        *cell_w = ws.ws_xpixel / ws.ws_col;
        *cell_h = ws.ws_ypixel / ws.ws_row;
        if (*cell_w > 0 && *cell_h > 0) return 1;
    }
    *cell_w = 10;
    *cell_h = 20;
    return 0;
}

static const char *cell_source_names[] = {
    "?",
    "--cell-size",
    "SFNET_CELL_SIZE",
    "the terminal's reply to CSI 16 t",
    "the terminal's CSI 14 t text area over its rows and columns",
    "TIOCGWINSZ pixels",
    "guessed: nothing measured; --cell-size sets it"};

const char *thumb_cell_source_name(int source) {
    if (source < THUMB_CELL_OPTION || source > THUMB_CELL_GUESS) return "?";
    return cell_source_names[source];
}

int thumb_cell_size_parse(const char *text, const char *what, int *w, int *h) {
    int cw, ch, used = 0;
    if (sscanf(text, "%4dx%4d%n", &cw, &ch, &used) != 2 || text[used] || cw < 1 || ch < 1 ||
        cw > 1024 || ch > 1024)
        return sf_fail("%s '%s': give the cell size in pixels as WIDTHxHEIGHT, e.g. 10x20", what,
                       text);
    *w = cw;
    *h = ch;
    return SF_OK;
}

int thumb_cell_resolve(const char *given, char **envp, const thumb_probe *p, int fd, int *w, int *h,
                       int *source) {
    if (given) {
        *source = THUMB_CELL_OPTION;
        return thumb_cell_size_parse(given, "--cell-size", w, h);
    }
    const char *env = env_get(envp, "SFNET_CELL_SIZE");
    if (env && *env) {
        *source = THUMB_CELL_ENV;
        return thumb_cell_size_parse(env, "SFNET_CELL_SIZE", w, h);
    }
    if (p && p->cell_w > 0 && p->cell_h > 0) {
        *w = p->cell_w;
        *h = p->cell_h;
        *source = THUMB_CELL_CSI16T;
        return SF_OK;
    }
    struct winsize ws;
    int have_ws = fd >= 0 && ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 && ws.ws_row > 0;
    /* the rows and columns at the time of the reply, when the probe saw them */
    int cols = p && p->ws_cols > 0 ? p->ws_cols : have_ws ? ws.ws_col : 0;
    int rows = p && p->ws_rows > 0 ? p->ws_rows : have_ws ? ws.ws_row : 0;
    if (p && p->win_w > 0 && p->win_h > 0 && cols > 0 && rows > 0 && p->win_w / cols > 0 &&
        p->win_h / rows > 0) {
        *w = p->win_w / cols;
        *h = p->win_h / rows;
        *source = THUMB_CELL_CSI14T;
        return SF_OK;
    }
    if (have_ws && thumb_cell_pixels(fd, w, h)) {
        *source = THUMB_CELL_WINSZ;
        return SF_OK;
    }
    *w = 10;
    *h = 20;
    *source = THUMB_CELL_GUESS;
    return SF_OK;
}

/* $SFNET_GRAPHICS when it names a mode other than auto, else THUMB_AUTO. */
static int env_mode(char **envp) {
    const char *env = env_get(envp, "SFNET_GRAPHICS");
    int m;
    if (env && *env && thumb_mode_parse(env, &m) == SF_OK) return m;
    return THUMB_AUTO;
}

int thumb_probe_queries(int requested, char **envp, int cell_given, char *why, size_t why_len) {
    char dummy[8];
    if (!why) {
        why = dummy;
        why_len = sizeof dummy;
    }
    int mode = requested != THUMB_AUTO ? requested : env_mode(envp);
    const char *term = env_get(envp, "TERM");
    if (mode == THUMB_SYMBOLS || mode == THUMB_NONE) {
        snprintf(why, why_len, "not needed: thumbnails are %s", thumb_mode_name(mode));
        return 0;
    }
    if (mode != THUMB_AUTO && cell_given) {
        snprintf(why, why_len, "not needed: %s with the cell size given", thumb_mode_name(mode));
        return 0;
    }
    if (term && !strcmp(term, "dumb")) {
        snprintf(why, why_len, "not run: TERM=dumb shows escape sequences as text");
        return 0;
    }
    if (mode != THUMB_AUTO) {
        snprintf(why, why_len, "cell size and DA1 (%s asked for)", thumb_mode_name(mode));
        return THUMB_PROBE_CELL;
    }
    const char *tmux = env_get(envp, "TMUX"), *sty = env_get(envp, "STY");
    if ((tmux && *tmux) || (sty && *sty) || (term && !strncmp(term, "screen", 6))) {
        snprintf(why, why_len,
                 "cell size and DA1; no kitty query inside tmux or screen "
                 "(they take it for a title)");
        return THUMB_PROBE_CELL;
    }
    if (term && !strcmp(term, "linux")) {
        snprintf(why, why_len,
                 "cell size and DA1; no kitty query on the Linux console (it prints it)");
        return THUMB_PROBE_CELL;
    }
    snprintf(why, why_len, "kitty graphics query, cell size and DA1");
    return THUMB_PROBE_CELL | THUMB_PROBE_KITTY;
}

int thumb_detect(int requested, char **envp, const thumb_probe *probe, int cell_known, char *why,
                 size_t why_len) {
    char dummy[8];
    if (!why) {
        why = dummy;
        why_len = sizeof dummy;
    }
    if (requested != THUMB_AUTO) {
        snprintf(why, why_len, "%s: asked for with --graphics", thumb_mode_name(requested));
        return requested;
    }
    int m = env_mode(envp);
    if (m != THUMB_AUTO) {
        snprintf(why, why_len, "%s: from SFNET_GRAPHICS", thumb_mode_name(m));
        return m;
    }
    const char *tmux = env_get(envp, "TMUX");
    if (tmux && *tmux) {
        snprintf(why, why_len,
                 "symbols: inside tmux (pixel images need passthrough; "
                 "use --graphics to force)");
        return THUMB_SYMBOLS;
    }
    if (probe && probe->ran && probe->answered) {
        if (probe->kitty) {
            snprintf(why, why_len, "kitty: the terminal answered the kitty graphics query");
            return THUMB_KITTY;
        }
        if (probe->sixel && cell_known) {
            snprintf(why, why_len, "sixel: the terminal's DA1 reply lists attribute 4 (sixel)");
            return THUMB_SIXEL;
        }
        if (probe->sixel) {
            snprintf(why, why_len,
                     "symbols: the terminal has sixel but does not say its cell size "
                     "(give --cell-size)");
            return THUMB_SYMBOLS;
        }
        snprintf(why, why_len,
                 "symbols: the terminal answered, with neither kitty graphics nor sixel");
        return THUMB_SYMBOLS;
    }
    gchar **genv = envp ? g_strdupv(envp) : g_get_environ();
    ChafaTermInfo *ti = chafa_term_db_detect(chafa_term_db_get_default(), genv);
    g_strfreev(genv);
    int mode = THUMB_SYMBOLS;
    const char *reason = "symbols: no pixel graphics known for this terminal";
    if (ti) {
        if (chafa_term_info_have_seq(ti, CHAFA_TERM_SEQ_BEGIN_KITTY_IMMEDIATE_IMAGE_V1)) {
            mode = THUMB_KITTY;
            reason = "kitty: the terminal database knows this terminal";
        } else if (chafa_term_info_have_seq(ti, CHAFA_TERM_SEQ_BEGIN_SIXELS)) {
            if (cell_known) {
                mode = THUMB_SIXEL;
                reason = "sixel: the terminal database knows this terminal";
            } else {
                reason = "symbols: sixel terminal, but it does not report its pixel size";
            }
        }
        chafa_term_info_unref(ti);
    }
    const char *how = !probe || !probe->ran ? "" : " (the terminal did not answer the probe)";
    snprintf(why, why_len, "%s%s", reason, how);
    return mode;
}

/* ---- rendering ---- */

int thumb_render(thumb *t, const uint8_t *rgb, int w, int h, int cols, int rows, int mode,
                 int cell_w, int cell_h) {
    memset(t, 0, sizeof *t);
    if (cols < 1 || rows < 1 || w < 1 || h < 1 || !rgb)
        return sf_fail("thumbnail: empty image or size (%dx%d into %dx%d cells)", w, h, cols, rows);
    if (mode != THUMB_SYMBOLS && mode != THUMB_SIXEL && mode != THUMB_KITTY)
        return sf_fail("thumbnail: nothing to render in mode %s", thumb_mode_name(mode));
    t->mode = mode;
    t->cols = cols;
    t->rows = rows;

    ChafaCanvasConfig *cfg = chafa_canvas_config_new();
    chafa_canvas_config_set_geometry(cfg, cols, rows);
    ChafaSymbolMap *map = NULL;
    if (mode == THUMB_SYMBOLS) {
        chafa_canvas_config_set_canvas_mode(cfg, CHAFA_CANVAS_MODE_TRUECOLOR);
        map = chafa_symbol_map_new();
        chafa_symbol_map_add_by_tags(map, CHAFA_SYMBOL_TAG_BLOCK | CHAFA_SYMBOL_TAG_SPACE);
        chafa_canvas_config_set_symbol_map(cfg, map);
        chafa_canvas_config_set_work_factor(cfg, 0.8f);
    } else {
        chafa_canvas_config_set_pixel_mode(cfg, mode == THUMB_SIXEL ? CHAFA_PIXEL_MODE_SIXELS
                                                                    : CHAFA_PIXEL_MODE_KITTY);
        chafa_canvas_config_set_cell_geometry(cfg, cell_w > 0 ? cell_w : 10,
                                              cell_h > 0 ? cell_h : 20);
    }
    ChafaCanvas *canvas = chafa_canvas_new(cfg);
    chafa_canvas_draw_all_pixels(canvas, CHAFA_PIXEL_RGB8, rgb, w, h, w * 3);

    if (mode == THUMB_SYMBOLS) {
        t->cells = xcalloc((size_t)cols * rows, sizeof(thumb_cell));
        for (int y = 0; y < rows; y++)
            for (int x = 0; x < cols; x++) {
                thumb_cell *c = &t->cells[y * cols + x];
                gunichar ch = chafa_canvas_get_char_at(canvas, x, y);
                int len = g_unichar_to_utf8(ch ? ch : ' ', c->glyph);
                c->glyph[len] = 0;
                gint fg = 0, bg = 0;
                chafa_canvas_get_colors_at(canvas, x, y, &fg, &bg);
                c->fg = fg < 0 ? 0 : (uint32_t)fg & 0xFFFFFF;
                c->bg = bg < 0 ? 0 : (uint32_t)bg & 0xFFFFFF;
            }
    } else {
        ChafaTermInfo *ti = chafa_term_db_get_fallback_info(chafa_term_db_get_default());
        /* The fallback knows no graphics; give it the sequences of the mode asked for. */
        ChafaTermDb *db = chafa_term_db_get_default();
        gchar *fake_env[] = {mode == THUMB_SIXEL ? "TERM=mlterm" : "TERM=xterm-kitty", NULL};
        ChafaTermInfo *gi = chafa_term_db_detect(db, fake_env);
        chafa_term_info_supplement(gi, ti);
        GString *s = chafa_canvas_print(canvas, gi);
        t->seq_len = s->len;
        t->seq = xmalloc(s->len + 1);
        memcpy(t->seq, s->str, s->len);
        t->seq[s->len] = 0;
        g_string_free(s, TRUE);
        chafa_term_info_unref(gi);
        chafa_term_info_unref(ti);
    }
    chafa_canvas_unref(canvas);
    chafa_canvas_config_unref(cfg);
    if (map) chafa_symbol_map_unref(map);
    return SF_OK;
}

void thumb_free(thumb *t) {
    free(t->cells);
    free(t->seq);
    memset(t, 0, sizeof *t);
}

/* ---- cache ---- */

typedef struct {
    char *obj_id;
    thumb t;
    unsigned long used;
} cache_entry;

struct thumb_cache {
    cache_entry *e;
    int n, cap;
    unsigned long clock;
};

thumb_cache *thumb_cache_new(int capacity) {
    SF_ASSERT(capacity >= 1);
    thumb_cache *c = xcalloc(1, sizeof *c);
    c->cap = capacity;
    c->e = xcalloc((size_t)capacity, sizeof(cache_entry));
    return c;
}

void thumb_cache_free(thumb_cache *c) {
    if (!c) return;
    for (int i = 0; i < c->n; i++) {
        free(c->e[i].obj_id);
        thumb_free(&c->e[i].t);
    }
    free(c->e);
    free(c);
}

const thumb *thumb_cache_get(thumb_cache *c, const char *obj_id, int cols, int rows, int mode) {
    for (int i = 0; i < c->n; i++) {
        cache_entry *e = &c->e[i];
        if (e->t.cols == cols && e->t.rows == rows && e->t.mode == mode &&
            !strcmp(e->obj_id, obj_id)) {
            e->used = ++c->clock;
            return &e->t;
        }
    }
    return NULL;
}

const thumb *thumb_cache_put(thumb_cache *c, const char *obj_id, thumb *t) {
    cache_entry *slot;
    if (c->n < c->cap) {
        slot = &c->e[c->n++];
    } else {
        slot = &c->e[0];
        for (int i = 1; i < c->n; i++)
            if (c->e[i].used < slot->used) slot = &c->e[i];
        free(slot->obj_id);
        thumb_free(&slot->t);
    }
    slot->obj_id = xstrdup(obj_id);
    slot->t = *t;
    slot->used = ++c->clock;
    memset(t, 0, sizeof *t);
    return &slot->t;
}

int thumb_cache_count(const thumb_cache *c) { return c->n; }

/* ---- overlay ---- */

void thumb_overlay_begin(FILE *out) {
    fputs("\x1b[?2026h\x1b"
          "7",
          out);
}

void thumb_overlay_draw(FILE *out, const thumb *t, int x, int y) {
    if (!t->seq) return;
    fprintf(out, "\x1b[%d;%dH", y + 1, x + 1);
    fwrite(t->seq, 1, t->seq_len, out);
}

void thumb_overlay_clear(FILE *out, int mode) {
    if (mode == THUMB_KITTY) fputs("\x1b_Ga=d,d=a\x1b\\", out);
}

void thumb_overlay_end(FILE *out) {
    fputs("\x1b"
          "8\x1b[?2026l",
          out);
    fflush(out);
}
