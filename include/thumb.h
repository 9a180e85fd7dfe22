/* thumb.h: galaxy thumbnails for the terminal, rendered by libchafa.
 *
 * THUMB_SYMBOLS (the default) turns an RGB image into cols x rows cells of
 * Unicode block symbols with a foreground and background colour each; the
 * explorer writes them into curses cells, so they scroll, resize and survive
 * tmux and ssh like any text. THUMB_SIXEL and THUMB_KITTY give an escape
 * sequence (chafa's canvas printing) that the explorer writes itself after
 * curses has drawn the frame (thumb_overlay_*): the cells under it are kept
 * blank by curses and repainted with spaces to clear the image.
 *
 * Mode choice (thumb_detect): an explicit --graphics, then $SFNET_GRAPHICS,
 * then symbols inside tmux ($TMUX: passthrough is not assumed), then what
 * chafa's terminal database finds in the environment (kitty, sixel), and
 * symbols otherwise. Sixel is chosen automatically only when the terminal
 * reports its pixel size.
 *
 * Images come as PNG or JPEG bytes (the run database's thumbnail blob, or a
 * file in the image folder) and are decoded with libpng/libjpeg. A cache keyed
 * by (objID, cols, rows, mode) owns the rendered thumbnails.
 * No curses here: the caller owns the screen.
 */
#ifndef SF_THUMB_H
#define SF_THUMB_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum { THUMB_AUTO = -1, THUMB_NONE = 0, THUMB_SYMBOLS, THUMB_SIXEL, THUMB_KITTY };

/* "auto", "none", "symbols", "sixel", "kitty" -> THUMB_*; SF_ERR with a message otherwise. */
int thumb_mode_parse(const char *name, int *mode);
const char *thumb_mode_name(int mode);

/* The mode to use for `requested` (THUMB_AUTO or an explicit mode) in the
 * environment envp (NULL: the process environment). Writes a one-line reason
 * into why (may be NULL) for --dump-detect. */
int thumb_detect(int requested, char **envp, char *why, size_t why_len);

/* Pixel size of one terminal cell from TIOCGWINSZ on fd, or 10 x 20 when the
 * terminal does not say (many report 0). Returns 1 when measured, 0 on the fallback. */
int thumb_cell_pixels(int fd, int *cell_w, int *cell_h);

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

/* Decodes PNG or JPEG bytes into malloc'd RGB (h, w, 3). SF_ERR with a message
 * for anything else or a corrupt image. */
int thumb_decode(const uint8_t *data, size_t len, uint8_t **rgb, int *w, int *h);
/* Reads and decodes an image file. */
int thumb_decode_file(const char *path, uint8_t **rgb, int *w, int *h);

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
