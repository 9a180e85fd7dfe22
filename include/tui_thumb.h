/* tui_thumb.h: galaxy thumbnails for the explorer's terminal, rendered by libchafa.
 *
 * THUMB_SYMBOLS (the default) turns an RGB image into cols x rows cells of
 * Unicode block symbols with a foreground and background colour each; the
 * explorer writes them into curses cells, so they scroll, resize and survive
 * tmux and ssh like any text. THUMB_SIXEL and THUMB_KITTY give an escape
 * sequence (chafa's canvas printing) that the explorer writes itself after
 * curses has drawn the frame (thumb_overlay_*): the cells under it are kept
 * blank by curses and repainted with spaces to clear the image.
 *
 * What the terminal answers when asked (tui_probe.h) feeds the two choices below.
 *
 * Mode choice (thumb_detect): an explicit --graphics, then $SFNET_GRAPHICS,
 * then symbols inside tmux ($TMUX: passthrough is not assumed), then the
 * terminal's own answer when the probe got its DA1 reply (kitty when the kitty
 * query came back OK, sixel when DA1 lists attribute 4 and the cell size is
 * known, symbols otherwise: the terminal itself outranks $TERM), and only
 * when the probe did not run or got no answer, what chafa's terminal database
 * finds in the environment (kitty, sixel with a known cell size), symbols
 * otherwise.
 *
 * Cell size in pixels (thumb_cell_resolve): --cell-size WxH, then
 * $SFNET_CELL_SIZE, then the reply to CSI 16 t, then the CSI 14 t text area
 * divided by the TIOCGWINSZ rows and columns, then the TIOCGWINSZ pixels,
 * then 10 x 20. On a resize the explorer re-reads only TIOCGWINSZ (the probe
 * does not run while curses reads the terminal: a reply arriving late would
 * be read as keys, its ESC as Esc), so a font zoom is followed when the
 * terminal reports pixels there; a size given by hand is kept.
 *
 * Images come as RGB pixels, decoded by data_image.h from the run database's
 * thumbnail blob or a file in the image folder. A cache keyed by (objID, cols,
 * rows, mode) owns the rendered thumbnails.
 * No curses here: the caller owns the screen.
 */
#ifndef SF_TUI_THUMB_H
#define SF_TUI_THUMB_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "tui_probe.h"

enum { THUMB_AUTO = -1, THUMB_NONE = 0, THUMB_SYMBOLS, THUMB_SIXEL, THUMB_KITTY };

/* "auto", "none", "symbols", "sixel", "kitty" -> THUMB_*; SF_ERR with a message otherwise. */
int thumb_mode_parse(const char *name, int *mode);
const char *thumb_mode_name(int mode);

/* ---- mode and cell size ---- */

/* Which queries are worth sending for `requested` (the --graphics mode,
 * THUMB_AUTO when not given; $SFNET_GRAPHICS is read from envp, NULL: the
 * process environment) when the cell size is or is not given by hand.
 * Returns 0 (no probe) or THUMB_PROBE_* flags, with a one-line reason in why
 * (may be NULL). Does not look at whether stdin/stdout are terminals. */
int thumb_probe_queries(int requested, char **envp, int cell_given, char *why, size_t why_len);

/* The mode to use for `requested` (THUMB_AUTO or an explicit mode) in the
 * environment envp (NULL: the process environment), given the probe's
 * answers (NULL or not run: none) and whether the cell size is known
 * (measured or given, not the 10 x 20 guess). Writes a one-line reason into
 * why (may be NULL) for --dump-detect. */
int thumb_detect(int requested, char **envp, const thumb_probe *probe, int cell_known, char *why,
                 size_t why_len);

/* Pixel size of one terminal cell from TIOCGWINSZ on fd, or 10 x 20 when the
 * terminal does not say (many report 0). Returns 1 when measured, 0 on the fallback. */
int thumb_cell_pixels(int fd, int *cell_w, int *cell_h);

/* Where a cell size came from, best first. */
enum {
    THUMB_CELL_OPTION = 1, /* --cell-size */
    THUMB_CELL_ENV,        /* $SFNET_CELL_SIZE */
    THUMB_CELL_CSI16T,     /* the reply to CSI 16 t */
    THUMB_CELL_CSI14T,     /* the CSI 14 t text area / TIOCGWINSZ rows and columns */
    THUMB_CELL_WINSZ,      /* TIOCGWINSZ pixels / rows and columns */
    THUMB_CELL_GUESS       /* nothing measured: 10 x 20 */
};
const char *thumb_cell_source_name(int source);

/* "WxH" in pixels (e.g. 10x20; each 1..1024) -> SF_OK, or SF_ERR with a
 * message naming `what` (the option or variable it came from). */
int thumb_cell_size_parse(const char *text, const char *what, int *w, int *h);

/* The cell size from the best source (see the top of this file): given (the
 * --cell-size text, NULL when absent), $SFNET_CELL_SIZE from envp (NULL: the
 * process environment), the probe p (NULL: none), TIOCGWINSZ on fd (-1: none).
 * Sets *source to THUMB_CELL_*. SF_ERR with a message when the given text or
 * the variable is not WxH. */
int thumb_cell_resolve(const char *given, char **envp, const thumb_probe *p, int fd, int *w, int *h,
                       int *source);

typedef struct {
    char glyph[8];   /* UTF-8 */
    uint32_t fg, bg; /* 0xRRGGBB */
} thumb_cell;

typedef struct {
    int mode, cols, rows;
    thumb_cell *cells; /* THUMB_SYMBOLS: (rows, cols) */
    char *seq;         /* THUMB_SIXEL / THUMB_KITTY: escape sequence, NUL-terminated */
    size_t seq_len;
} thumb;

/* Renders rgb (h, w, 3) into cols x rows cells. cell_w/cell_h: the pixel size
 * of a cell, for sixel/kitty (ignored for symbols). Returns SF_OK or SF_ERR. */
int thumb_render(thumb *t, const uint8_t *rgb, int w, int h, int cols, int rows, int mode,
                 int cell_w, int cell_h);
void thumb_free(thumb *t);

/* Rendered thumbnails by (objID, cols, rows, mode); the least recently used is
 * dropped beyond capacity. Pointers returned stay valid until the next put. */
typedef struct thumb_cache thumb_cache;
thumb_cache *thumb_cache_new(int capacity);
void thumb_cache_free(thumb_cache *c);
const thumb *thumb_cache_get(thumb_cache *c, const char *obj_id, int cols, int rows, int mode);
/* Takes ownership of *t (left zeroed); returns the cached copy. */
const thumb *thumb_cache_put(thumb_cache *c, const char *obj_id, thumb *t);
int thumb_cache_count(const thumb_cache *c);

/* Pixel images over a curses screen: begin (synchronized output, save cursor),
 * draw each at cell (x, y) with an absolute cursor position, end (restore
 * cursor, end synchronized output, flush). thumb_overlay_clear deletes kitty
 * placements; sixel pixels are cleared by the caller repainting the cells. */
void thumb_overlay_begin(FILE *out);
void thumb_overlay_draw(FILE *out, const thumb *t, int x, int y);
void thumb_overlay_clear(FILE *out, int mode);
void thumb_overlay_end(FILE *out);

#endif
