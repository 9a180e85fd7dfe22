/* test_tui_thumb.c: chafa thumbnails (symbols, sixel, kitty), decoding, detection, cache. */
#include <cairo.h>
#include <criterion/criterion.h>
#include <jpeglib.h>
#include <stdlib.h>
#include <string.h>

#include "data_image.h"
#include "sf_util.h"
#include "tui_thumb.h"

/* Left half red, right half blue, 32 x 32. */
static uint8_t *two_colour_image(int *w, int *h) {
    *w = *h = 32;
    uint8_t *rgb = xmalloc(32 * 32 * 3);
    for (int y = 0; y < 32; y++)
        for (int x = 0; x < 32; x++) {
            uint8_t *p = rgb + (y * 32 + x) * 3;
            p[0] = x < 16 ? 230 : 10;
            p[1] = 10;
            p[2] = x < 16 ? 10 : 230;
        }
    return rgb;
}

static int reddish(uint32_t c) { return (c >> 16) > 150 && (c & 0xFF) < 80; }
static int bluish(uint32_t c) { return (c & 0xFF) > 150 && (c >> 16) < 80; }

Test(thumb, symbols_cells_follow_the_image) {
    int w, h;
    uint8_t *rgb = two_colour_image(&w, &h);
    thumb t;
    cr_assert_eq(thumb_render(&t, rgb, w, h, 8, 4, THUMB_SYMBOLS, 0, 0), SF_OK, "%s",
                 sf_last_error());
    cr_assert_eq(t.cols, 8);
    cr_assert_eq(t.rows, 4);
    cr_assert_null(t.seq);
    for (int y = 0; y < 4; y++) {
        const thumb_cell *l = &t.cells[y * 8 + 0], *r = &t.cells[y * 8 + 7];
        cr_assert(strlen(l->glyph) >= 1);
        /* a uniform cell shows its colour as fg (full block) or bg (space) */
        int l_ok = (!strcmp(l->glyph, " ") ? reddish(l->bg) : reddish(l->fg));
        int r_ok = (!strcmp(r->glyph, " ") ? bluish(r->bg) : bluish(r->fg));
        cr_assert(l_ok, "row %d left '%s' fg %06x bg %06x", y, l->glyph, l->fg, l->bg);
        cr_assert(r_ok, "row %d right '%s' fg %06x bg %06x", y, r->glyph, r->fg, r->bg);
    }
    thumb_free(&t);
    free(rgb);
}

Test(thumb, sixel_and_kitty_sequences) {
    int w, h;
    uint8_t *rgb = two_colour_image(&w, &h);
    thumb t;
    cr_assert_eq(thumb_render(&t, rgb, w, h, 6, 3, THUMB_SIXEL, 10, 20), SF_OK, "%s",
                 sf_last_error());
    cr_assert_not_null(t.seq);
    cr_assert(strstr(t.seq, "\x1bP") != NULL, "sixel starts with DCS");
    cr_assert(strstr(t.seq, "q") != NULL);
    cr_assert_eq(strlen(t.seq), t.seq_len);
    thumb_free(&t);
    cr_assert_eq(thumb_render(&t, rgb, w, h, 6, 3, THUMB_KITTY, 10, 20), SF_OK, "%s",
                 sf_last_error());
    cr_assert(strstr(t.seq, "\x1b_G") != NULL, "kitty graphics APC");
    thumb_free(&t);
    cr_assert_eq(thumb_render(&t, rgb, w, h, 6, 3, THUMB_NONE, 10, 20), SF_ERR);
    cr_assert_eq(thumb_render(&t, rgb, w, h, 0, 3, THUMB_SYMBOLS, 10, 20), SF_ERR);
    free(rgb);
}

static cairo_status_t append(void *closure, const unsigned char *data, unsigned int len) {
    char **buf = closure;
    size_t *n = (size_t *)(buf + 1);
    *buf = xrealloc(*buf, *n + len);
    memcpy(*buf + *n, data, len);
    *n += len;
    return CAIRO_STATUS_SUCCESS;
}

Test(thumb, decode_png_and_jpeg) {
    /* PNG through cairo: 20 x 10, green */
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, 20, 10);
    cairo_t *cr = cairo_create(s);
    cairo_set_source_rgb(cr, 0, 1, 0);
    cairo_paint(cr);
    cairo_destroy(cr);
    struct {
        char *buf;
        size_t n;
    } png = {NULL, 0};
    cairo_surface_write_to_png_stream(s, append, &png);
    cairo_surface_destroy(s);
    uint8_t *rgb;
    int w, h;
    cr_assert_eq(image_decode_mem((uint8_t *)png.buf, png.n, "thumbnail", &rgb, &w, &h), SF_OK,
                 "%s", sf_last_error());
    cr_assert_eq(w, 20);
    cr_assert_eq(h, 10);
    cr_assert(rgb[0] == 0 && rgb[1] == 255 && rgb[2] == 0);
    free(rgb);
    /* truncated PNG */
    cr_assert_eq(image_decode_mem((uint8_t *)png.buf, png.n / 2, "thumbnail", &rgb, &w, &h),
                 SF_ERR);
    cr_assert(strstr(sf_last_error(), "PNG"), "%s", sf_last_error());
    free(png.buf);

    /* JPEG through libjpeg: 16 x 8 grey 128 */
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr err;
    c.err = jpeg_std_error(&err);
    jpeg_create_compress(&c);
    unsigned char *jbuf = NULL;
    unsigned long jlen = 0;
    jpeg_mem_dest(&c, &jbuf, &jlen);
    c.image_width = 16;
    c.image_height = 8;
    c.input_components = 3;
    c.in_color_space = JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 95, TRUE);
    jpeg_start_compress(&c, TRUE);
    uint8_t row[16 * 3];
    memset(row, 128, sizeof row);
    while (c.next_scanline < 8) {
        JSAMPROW r = row;
        jpeg_write_scanlines(&c, &r, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    cr_assert_eq(image_decode_mem(jbuf, jlen, "thumbnail", &rgb, &w, &h), SF_OK, "%s",
                 sf_last_error());
    cr_assert_eq(w, 16);
    cr_assert_eq(h, 8);
    cr_assert(abs(rgb[0] - 128) <= 2);
    free(rgb);
    cr_assert_eq(image_decode_mem(jbuf, 40, "thumbnail", &rgb, &w, &h), SF_ERR);
    cr_assert(strstr(sf_last_error(), "JPEG"), "%s", sf_last_error());
    free(jbuf);
    cr_assert_eq(image_decode_mem((const uint8_t *)"GIF89a....", 10, "thumbnail", &rgb, &w, &h),
                 SF_ERR);
    cr_assert_eq(image_decode("/nonexistent/x.jpg", &rgb, &w, &h), SF_ERR);
}

Test(thumb, detection_order) {
    int m;
    cr_assert_eq(thumb_mode_parse("sixel", &m), SF_OK);
    cr_assert_eq(m, THUMB_SIXEL);
    cr_assert_eq(thumb_mode_parse("auto", &m), SF_OK);
    cr_assert_eq(m, THUMB_AUTO);
    cr_assert_eq(thumb_mode_parse("iterm", &m), SF_ERR);
    cr_assert(strstr(sf_last_error(), "iterm"));

    char why[128];
    char *kitty_env[] = {"TERM=xterm-kitty", "KITTY_WINDOW_ID=1", NULL};
    cr_assert_eq(thumb_detect(THUMB_SYMBOLS, kitty_env, NULL, 0, why, sizeof why), THUMB_SYMBOLS);
    cr_assert_eq(thumb_detect(THUMB_AUTO, kitty_env, NULL, 0, why, sizeof why), THUMB_KITTY, "%s",
                 why);
    char *tmux_env[] = {"TERM=xterm-kitty", "KITTY_WINDOW_ID=1", "TMUX=/tmp/x,1,0", NULL};
    cr_assert_eq(thumb_detect(THUMB_AUTO, tmux_env, NULL, 0, why, sizeof why), THUMB_SYMBOLS);
    cr_assert(strstr(why, "tmux"), "%s", why);
    char *env_override[] = {"TERM=xterm-kitty", "TMUX=/tmp/x,1,0", "SFNET_GRAPHICS=none", NULL};
    cr_assert_eq(thumb_detect(THUMB_AUTO, env_override, NULL, 0, why, sizeof why), THUMB_NONE);
    char *plain[] = {"TERM=dumb", NULL};
    cr_assert_eq(thumb_detect(THUMB_AUTO, plain, NULL, 0, why, sizeof why), THUMB_SYMBOLS);
}

Test(thumb, cache_by_key_with_eviction) {
    int w, h;
    uint8_t *rgb = two_colour_image(&w, &h);
    thumb_cache *c = thumb_cache_new(2);
    thumb t;
    thumb_render(&t, rgb, w, h, 4, 2, THUMB_SYMBOLS, 0, 0);
    const thumb *a = thumb_cache_put(c, "111", &t);
    cr_assert_null(t.cells, "ownership moves to the cache");
    cr_assert_eq(thumb_cache_get(c, "111", 4, 2, THUMB_SYMBOLS), a);
    cr_assert_null(thumb_cache_get(c, "111", 4, 3, THUMB_SYMBOLS));
    cr_assert_null(thumb_cache_get(c, "111", 4, 2, THUMB_SIXEL));
    thumb_render(&t, rgb, w, h, 4, 3, THUMB_SYMBOLS, 0, 0);
    thumb_cache_put(c, "111", &t);
    thumb_cache_get(c, "111", 4, 2, THUMB_SYMBOLS); /* make (4,3) the oldest */
    thumb_render(&t, rgb, w, h, 4, 2, THUMB_SYMBOLS, 0, 0);
    thumb_cache_put(c, "222", &t);
    cr_assert_eq(thumb_cache_count(c), 2);
    cr_assert_not_null(thumb_cache_get(c, "111", 4, 2, THUMB_SYMBOLS));
    cr_assert_null(thumb_cache_get(c, "111", 4, 3, THUMB_SYMBOLS));
    cr_assert_not_null(thumb_cache_get(c, "222", 4, 2, THUMB_SYMBOLS));
    thumb_cache_free(c);
    free(rgb);
}

Test(thumb, overlay_sequences) {
    int w, h;
    uint8_t *rgb = two_colour_image(&w, &h);
    thumb t;
    cr_assert_eq(thumb_render(&t, rgb, w, h, 4, 2, THUMB_KITTY, 10, 20), SF_OK);
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    thumb_overlay_begin(out);
    thumb_overlay_clear(out, THUMB_KITTY);
    thumb_overlay_draw(out, &t, 7, 3);
    thumb_overlay_end(out);
    fclose(out);
    /* synchronized output around everything, the cursor saved and restored */
    cr_assert(!strncmp(buf,
                       "\x1b[?2026h\x1b"
                       "7",
                       10),
              "begins with sync + save");
    cr_assert(strstr(buf, "\x1b_Ga=d"), "kitty placements deleted before drawing");
    const char *cup = strstr(buf, "\x1b[4;8H");
    cr_assert_not_null(cup, "absolute position row 4 column 8 (1-based)");
    cr_assert(strstr(cup, "\x1b_G"), "the image after the position");
    cr_assert(len > 10 && !strcmp(buf + len - 10, "\x1b"
                                                  "8\x1b[?2026l"),
              "ends with restore + end of sync");
    free(buf);
    thumb_free(&t);
    /* sixel: no kitty delete */
    buf = NULL;
    out = open_memstream(&buf, &len);
    thumb_overlay_clear(out, THUMB_SIXEL);
    fclose(out);
    cr_assert_eq(len, 0);
    free(buf);
    free(rgb);
}
