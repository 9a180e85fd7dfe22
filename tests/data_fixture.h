/* data_fixture.h: what the data tests share: a temporary folder, PNG and JPEG
 * writers (libpng, libjpeg) for fixture images, stderr capture, the path of the
 * real sample. Static functions, included by tests/test_data_*.c only. */
#ifndef SF_TEST_DATA_FIXTURE_H
#define SF_TEST_DATA_FIXTURE_H

#include <criterion/criterion.h>
#include <fcntl.h>
#include <ftw.h>
#include <jpeglib.h>
#include <png.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sf_util.h"

static char fx_dir[256];

static inline void fx_make_dir(void) {
    snprintf(fx_dir, sizeof fx_dir, "/tmp/sfnet-data-XXXXXX");
    cr_assert_not_null(mkdtemp(fx_dir));
}

static inline int fx_unlink_cb(const char *path, const struct stat *st, int flag, struct FTW *f) {
    return remove(path);
}

static inline void fx_remove_dir(void) {
    if (fx_dir[0]) nftw(fx_dir, fx_unlink_cb, 16, FTW_DEPTH | FTW_PHYS);
    fx_dir[0] = 0;
}

/* fx_path("images/1.png") -> "<tmp>/images/1.png" (a rotating static buffer). */
static inline const char *fx_path(const char *rel) {
    static char bufs[8][512];
    static int k;
    char *b = bufs[k++ % 8];
    snprintf(b, sizeof bufs[0], "%s/%s", fx_dir, rel);
    return b;
}

static inline void fx_write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "cannot write %s", path);
    fputs(text, f);
    fclose(f);
}

static inline void fx_write_bytes(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "cannot write %s", path);
    cr_assert_eq(fwrite(data, 1, n, f), n);
    fclose(f);
}

static inline size_t fx_read_bytes(const char *path, uint8_t **data) {
    char *d;
    size_t n;
    cr_assert_eq(sf_read_file(path, &d, &n), SF_OK, "%s", sf_last_error());
    *data = (uint8_t *)d;
    return n;
}

/* PNG of color_type (PNG_COLOR_TYPE_RGB, _GRAY, _RGB_ALPHA, _PALETTE) from
 * interleaved samples with `channels` per pixel at bit depth 8 (or 16 for RGB:
 * each sample value v written as v * 257). */
static inline void fx_write_png_ex(const char *path, const uint8_t *px, int w, int h,
                                   int color_type, int depth, const png_color *palette,
                                   int n_palette) {
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "cannot write %s", path);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    cr_assert(png && info);
    if (setjmp(png_jmpbuf(png))) cr_assert_fail("libpng failed writing %s", path);
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, depth, color_type, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (palette) png_set_PLTE(png, info, palette, n_palette);
    png_write_info(png, info);
    int channels = color_type == PNG_COLOR_TYPE_RGB         ? 3
                   : color_type == PNG_COLOR_TYPE_RGB_ALPHA ? 4
                                                            : 1;
    int bytes = depth == 16 ? 2 : 1;
    uint8_t *row = malloc((size_t)w * channels * bytes);
    for (int y = 0; y < h; y++) {
        const uint8_t *s = px + (size_t)y * w * channels;
        for (int i = 0; i < w * channels; i++) {
            if (bytes == 2) row[2 * i] = row[2 * i + 1] = s[i]; /* v * 257, big-endian */
            else row[i] = s[i];
        }
        png_write_row(png, row);
    }
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(row);
    fclose(f);
}

static inline void fx_write_png(const char *path, const uint8_t *rgb, int w, int h) {
    fx_write_png_ex(path, rgb, w, h, PNG_COLOR_TYPE_RGB, 8, NULL, 0);
}

static inline void fx_write_jpeg(const char *path, const uint8_t *rgb, int w, int h, int quality) {
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "cannot write %s", path);
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr err;
    c.err = jpeg_std_error(&err);
    jpeg_create_compress(&c);
    jpeg_stdio_dest(&c, f);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = 3;
    c.in_color_space = JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, quality, TRUE);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = (JSAMPROW)(rgb + (size_t)c.next_scanline * w * 3);
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    fclose(f);
}

/* An image of one colour. */
static inline uint8_t *fx_solid(int w, int h, uint8_t r, uint8_t g, uint8_t b) {
    uint8_t *p = malloc((size_t)w * h * 3);
    for (int i = 0; i < w * h; i++) p[3 * i] = r, p[3 * i + 1] = g, p[3 * i + 2] = b;
    return p;
}

/* Copies the first `keep` bytes of src to dst: a truncated file. */
static inline void fx_truncate_copy(const char *src, const char *dst, size_t keep) {
    uint8_t *d;
    size_t n = fx_read_bytes(src, &d);
    cr_assert_lt(keep, n);
    fx_write_bytes(dst, d, keep);
    free(d);
}

/* stderr capture: everything written between begin and end is returned (malloc). */
static int fx_saved_fd = -1;
static inline void fx_capture_begin(void) {
    fflush(stderr);
    fx_saved_fd = dup(2);
    int fd = open(fx_path("stderr.txt"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    cr_assert_geq(fd, 0);
    dup2(fd, 2);
    close(fd);
}
static inline char *fx_capture_end(void) {
    fflush(stderr);
    dup2(fx_saved_fd, 2);
    close(fx_saved_fd);
    uint8_t *d;
    fx_read_bytes(fx_path("stderr.txt"), &d);
    return (char *)d;
}

/* The real sample folder; 0 when absent. */
static inline int fx_shared_dir(char *out, size_t n) {
    const char *dir = getenv("SFNET_SHARED_DATA");
    snprintf(out, n, "%s", dir && *dir ? dir : "../shared/data/sdss-metallicity-400");
    char csv[1100];
    snprintf(csv, sizeof csv, "%s/galaxies.csv", out);
    return access(csv, R_OK) == 0;
}

#define FX_SKIP_WITHOUT_SHARED(dir)                                                                \
    do {                                                                                           \
        if (!fx_shared_dir(dir, sizeof dir))                                                       \
            cr_skip_test("SKIPPED: %s is absent (run from the repository root beside "             \
                         "../shared, or set SFNET_SHARED_DATA)",                                   \
                         dir);                                                                     \
    } while (0)

/* Reads a binary PPM (P6, maxval 255) as written by djpeg. */
static inline uint8_t *fx_read_ppm(const char *path, int *w, int *h) {
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot read %s", path);
    int maxval;
    cr_assert_eq(fscanf(f, "P6 %d %d %d", w, h, &maxval), 3);
    cr_assert_eq(maxval, 255);
    fgetc(f);
    size_t n = (size_t)*w * *h * 3;
    uint8_t *p = malloc(n);
    cr_assert_eq(fread(p, 1, n, f), n);
    fclose(f);
    return p;
}

#endif
