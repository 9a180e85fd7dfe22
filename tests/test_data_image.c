/* Tests of data_image: PNG/JPEG decoding (every colour type, corrupt and truncated
 * files), resize/crop/pad geometry, antialiasing, image lookup and objID refusal,
 * and one real cutout against djpeg's independent decode. */
#include <math.h>
#include <sys/resource.h>

#include "data_fixture.h"
#include "data_image.h"

TestSuite(image, .init = fx_make_dir, .fini = fx_remove_dir);

static void assert_contains(const char *hay, const char *needle) {
    cr_assert(strstr(hay, needle) != NULL, "expected '%s' in: %s", needle, hay);
}

/* A 7x5 pattern where every pixel differs. */
static uint8_t *pattern(int w, int h) {
    uint8_t *p = malloc((size_t)w * h * 3);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++) p[(y * w + x) * 3 + c] = (uint8_t)(x * 30 + y * 7 + c * 50);
    return p;
}

Test(image, png_rgb_round_trip_is_exact) {
    uint8_t *src = pattern(7, 5);
    fx_write_png(fx_path("a.png"), src, 7, 5);
    uint8_t *rgb;
    int w, h;
    cr_assert_eq(image_decode(fx_path("a.png"), &rgb, &w, &h), SF_OK, "%s", sf_last_error());
    cr_assert_eq(w, 7);
    cr_assert_eq(h, 5);
    cr_assert_arr_eq(rgb, src, 7 * 5 * 3);
    free(rgb);
    free(src);
}

Test(image, png_gray_palette_alpha_and_16_bit_become_rgb) {
    uint8_t gray[6] = {0, 50, 100, 150, 200, 255};
    fx_write_png_ex(fx_path("g.png"), gray, 3, 2, PNG_COLOR_TYPE_GRAY, 8, NULL, 0);
    uint8_t *rgb;
    int w, h;
    cr_assert_eq(image_decode(fx_path("g.png"), &rgb, &w, &h), SF_OK, "%s", sf_last_error());
    for (int i = 0; i < 6; i++)
        for (int c = 0; c < 3; c++) cr_assert_eq(rgb[3 * i + c], gray[i]);
    free(rgb);

    png_color pal[2] = {{10, 20, 30}, {200, 100, 50}};
    uint8_t idx[4] = {0, 1, 1, 0};
    fx_write_png_ex(fx_path("p.png"), idx, 2, 2, PNG_COLOR_TYPE_PALETTE, 8, pal, 2);
    cr_assert_eq(image_decode(fx_path("p.png"), &rgb, &w, &h), SF_OK, "%s", sf_last_error());
    cr_assert_eq(rgb[0], 10);
    cr_assert_eq(rgb[3], 200);
    cr_assert_eq(rgb[5], 50);
    free(rgb);

    uint8_t rgba[8] = {1, 2, 3, 255, 4, 5, 6, 0};
    fx_write_png_ex(fx_path("ra.png"), rgba, 2, 1, PNG_COLOR_TYPE_RGB_ALPHA, 8, NULL, 0);
    cr_assert_eq(image_decode(fx_path("ra.png"), &rgb, &w, &h), SF_OK, "%s", sf_last_error());
    uint8_t want[6] = {1, 2, 3, 4, 5, 6};
    cr_assert_arr_eq(rgb, want, 6);
    free(rgb);

    uint8_t *src = pattern(4, 3);
    fx_write_png_ex(fx_path("16.png"), src, 4, 3, PNG_COLOR_TYPE_RGB, 16, NULL, 0);
    cr_assert_eq(image_decode(fx_path("16.png"), &rgb, &w, &h), SF_OK, "%s", sf_last_error());
    cr_assert_arr_eq(rgb, src, 4 * 3 * 3);
    free(rgb);
    free(src);
}

Test(image, jpeg_round_trip_is_close) {
    uint8_t *src = fx_solid(16, 8, 200, 120, 40);
    fx_write_jpeg(fx_path("a.jpg"), src, 16, 8, 100);
    uint8_t *rgb;
    int w, h;
    cr_assert_eq(image_decode(fx_path("a.jpg"), &rgb, &w, &h), SF_OK, "%s", sf_last_error());
    cr_assert_eq(w, 16);
    cr_assert_eq(h, 8);
    for (int i = 0; i < 16 * 8 * 3; i++) cr_assert_leq(abs(rgb[i] - src[i]), 3, "byte %d", i);
    free(rgb);
    free(src);
}

/* The JPEG encoder that makes the stored thumbnails, and decoding from memory. */
Test(image, jpeg_encoder_and_decoding_from_memory) {
    uint8_t rgb[16 * 12 * 3];
    for (int i = 0; i < (int)sizeof rgb; i++) rgb[i] = (uint8_t)(128 + 40 * sin(i * 0.01));
    uint8_t *jpg = NULL;
    size_t len = 0;
    cr_assert_eq(image_encode_jpeg(rgb, 16, 12, 95, &jpg, &len), SF_OK);
    cr_assert_gt(len, 100);
    uint8_t *back = NULL;
    int w = 0, h = 0;
    cr_assert_eq(image_decode_mem(jpg, len, "thumbnail", &back, &w, &h), SF_OK, "%s",
                 sf_last_error());
    cr_assert_eq(w, 16);
    cr_assert_eq(h, 12);
    int maxdiff = 0;
    for (int i = 0; i < (int)sizeof rgb; i++) {
        int dlt = abs((int)back[i] - (int)rgb[i]);
        if (dlt > maxdiff) maxdiff = dlt;
    }
    cr_assert_lt(maxdiff, 12, "JPEG q95 close to the original (max diff %d)", maxdiff);
    free(back);
    /* truncated: an error, not a crash */
    cr_assert_eq(image_decode_mem(jpg, len / 3, "thumbnail", &back, &w, &h), SF_ERR);
    cr_assert_null(back);
    cr_assert_eq(image_decode_mem((const uint8_t *)"hello", 5, "thumbnail", &back, &w, &h), SF_ERR);
    free(jpg);
}

Test(image, corrupt_and_truncated_jpeg_are_errors) {
    uint8_t *src = pattern(64, 48);
    fx_write_jpeg(fx_path("ok.jpg"), src, 64, 48, 90);
    free(src);
    uint8_t *data;
    size_t n = fx_read_bytes(fx_path("ok.jpg"), &data);
    uint8_t *rgb = (uint8_t *)"untouched";
    int w = 1, h = 1;

    fx_truncate_copy(fx_path("ok.jpg"), fx_path("cut.jpg"), n * 2 / 3);
    cr_assert_eq(image_decode(fx_path("cut.jpg"), &rgb, &w, &h), SF_ERR);
    assert_contains(sf_last_error(), "cut.jpg: corrupt JPEG");
    cr_assert_null(rgb);
    cr_assert_eq(w, 0);

    fx_truncate_copy(fx_path("ok.jpg"), fx_path("head.jpg"), 40);
    cr_assert_eq(image_decode(fx_path("head.jpg"), &rgb, &w, &h), SF_ERR);
    assert_contains(sf_last_error(), "head.jpg: corrupt JPEG");

    /* Garbage after the start-of-image marker. */
    for (size_t i = 3; i < n; i++) data[i] = (uint8_t)(i * 131 + 7);
    fx_write_bytes(fx_path("junk.jpg"), data, n);
    cr_assert_eq(image_decode(fx_path("junk.jpg"), &rgb, &w, &h), SF_ERR);
    assert_contains(sf_last_error(), "junk.jpg: corrupt JPEG");
    free(data);
}

Test(image, corrupt_and_truncated_png_are_errors) {
    uint8_t *src = pattern(40, 30);
    fx_write_png(fx_path("ok.png"), src, 40, 30);
    free(src);
    uint8_t *data;
    size_t n = fx_read_bytes(fx_path("ok.png"), &data);
    uint8_t *rgb;
    int w, h;

    fx_truncate_copy(fx_path("ok.png"), fx_path("cut.png"), n / 2);
    cr_assert_eq(image_decode(fx_path("cut.png"), &rgb, &w, &h), SF_ERR);
    assert_contains(sf_last_error(), "cut.png: corrupt PNG");
    cr_assert_null(rgb);

    fx_truncate_copy(fx_path("ok.png"), fx_path("noend.png"), n - 12); /* no IEND chunk */
    cr_assert_eq(image_decode(fx_path("noend.png"), &rgb, &w, &h), SF_ERR);
    assert_contains(sf_last_error(), "corrupt PNG");

    data[n / 2] ^= 0x5a; /* inside IDAT: CRC mismatch or bad deflate data */
    fx_write_bytes(fx_path("flip.png"), data, n);
    cr_assert_eq(image_decode(fx_path("flip.png"), &rgb, &w, &h), SF_ERR);
    assert_contains(sf_last_error(), "flip.png: corrupt PNG");
    free(data);
}

Test(image, not_an_image_empty_and_missing_files) {
    uint8_t *rgb;
    int w, h;
    fx_write_text(fx_path("x.jpg"), "objID,oh_p50\n");
    cr_assert_eq(image_decode(fx_path("x.jpg"), &rgb, &w, &h), SF_ERR);
    assert_contains(sf_last_error(), "neither a JPEG, a PNG nor a FITS");
    fx_write_text(fx_path("e.png"), "");
    cr_assert_eq(image_decode(fx_path("e.png"), &rgb, &w, &h), SF_ERR);
    assert_contains(sf_last_error(), "0 bytes");
    cr_assert_eq(image_decode(fx_path("none.png"), &rgb, &w, &h), SF_ERR);
    assert_contains(sf_last_error(), "none.png");
}

/* ---- geometry ---- */

Test(image, same_size_resize_is_identity_and_crop_takes_the_centre) {
    int n = 10;
    uint8_t *src = malloc((size_t)n * n * 3);
    for (int y = 0; y < n; y++)
        for (int x = 0; x < n; x++)
            for (int c = 0; c < 3; c++) src[(y * n + x) * 3 + c] = (uint8_t)(y * 20 + x + c * 3);
    uint8_t out[3 * 6 * 6];
    image_prepare(out, src, n, n, n, 6); /* crop offset (10 - 6) / 2 = 2 */
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < 6; y++)
            for (int x = 0; x < 6; x++)
                cr_assert_eq(out[(c * 6 + y) * 6 + x], src[((y + 2) * n + x + 2) * 3 + c],
                             "c%d y%d x%d", c, y, x);
    free(src);
}

Test(image, padding_is_zero_around_the_centred_image) {
    uint8_t *src = fx_solid(4, 4, 9, 99, 199);
    uint8_t out[3 * 8 * 8];
    memset(out, 77, sizeof out);
    image_prepare(out, src, 4, 4, 4, 8); /* pad 2 on each side */
    uint8_t colour[3] = {9, 99, 199};
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < 8; y++)
            for (int x = 0; x < 8; x++) {
                int inside = y >= 2 && y < 6 && x >= 2 && x < 6;
                cr_assert_eq(out[(c * 8 + y) * 8 + x], inside ? colour[c] : 0, "c%d y%d x%d", c, y,
                             x);
            }
    free(src);
}

Test(image, resize_then_crop_sizes_of_the_paper) {
    /* A left-right ramp 128 -> 160 -> crop 144: still a ramp, constant down columns,
     * and a constant image stays constant. */
    int n = 128;
    uint8_t *src = malloc((size_t)n * n * 3);
    for (int y = 0; y < n; y++)
        for (int x = 0; x < n; x++)
            for (int c = 0; c < 3; c++) src[(y * n + x) * 3 + c] = (uint8_t)(x * 2);
    uint8_t *out = malloc(3 * 144 * 144);
    image_prepare(out, src, n, n, 160, 144);
    for (int y = 0; y < 144; y++)
        for (int x = 0; x < 144; x++) {
            cr_assert_eq(out[y * 144 + x], out[x], "column %d is constant", x);
            if (x) cr_assert_geq(out[y * 144 + x], out[y * 144 + x - 1]);
        }
    /* Output column x is resized column x + 8, centred at source (x + 8.5) * 0.8 - 0.5. */
    double centre = (0 + 8.5) * 0.8 - 0.5;
    cr_assert_leq(fabs(out[0] - 2 * centre), 1.0, "out %d", out[0]);
    free(src);
    free(out);

    uint8_t *flat = fx_solid(100, 60, 30, 60, 90);
    uint8_t *o2 = malloc(3 * 32 * 32);
    image_prepare(o2, flat, 100, 60, 40, 32);
    for (int c = 0; c < 3; c++)
        for (int k = 0; k < 32 * 32; k++) cr_assert_eq(o2[c * 32 * 32 + k], 30 * (c + 1));
    free(flat);
    free(o2);
}

Test(image, shrinking_is_antialiased) {
    /* A one-pixel checkerboard halved: every output pixel averages black and white
     * instead of picking one of them. */
    int n = 64;
    uint8_t *src = malloc((size_t)n * n * 3);
    for (int y = 0; y < n; y++)
        for (int x = 0; x < n; x++)
            for (int c = 0; c < 3; c++) src[(y * n + x) * 3 + c] = ((x + y) & 1) ? 255 : 0;
    uint8_t out[3 * 32 * 32];
    image_prepare(out, src, n, n, 32, 32);
    for (int k = 0; k < 3 * 32 * 32; k++)
        cr_assert(out[k] >= 100 && out[k] <= 155, "pixel %d is %d", k, out[k]);
    free(src);
}

Test(image, non_square_source_is_centre_cropped_first) {
    /* 30 x 10: left third red, middle green, right blue; resizing to 10 keeps the
     * green middle square only. */
    uint8_t *src = malloc(30 * 10 * 3);
    for (int y = 0; y < 10; y++)
        for (int x = 0; x < 30; x++) {
            uint8_t *p = src + (y * 30 + x) * 3;
            p[0] = x < 10 ? 255 : 0;
            p[1] = x >= 10 && x < 20 ? 255 : 0;
            p[2] = x >= 20 ? 255 : 0;
        }
    uint8_t out[3 * 10 * 10];
    image_prepare(out, src, 30, 10, 10, 10);
    for (int k = 0; k < 100; k++) {
        cr_assert_eq(out[k], 0);
        cr_assert_eq(out[100 + k], 255);
        cr_assert_eq(out[200 + k], 0);
    }
    free(src);
}

/* ---- lookup ---- */

Test(image, find_tries_jpg_jpeg_png) {
    mkdir(fx_path("img"), 0755);
    fx_write_text(fx_path("img/1.jpg"), "x");
    fx_write_text(fx_path("img/2.jpeg"), "x");
    fx_write_text(fx_path("img/3.png"), "x");
    char path[600];
    cr_assert_eq(image_find(path, sizeof path, fx_path("img"), "1"), SF_OK);
    cr_assert_str_eq(path, fx_path("img/1.jpg"));
    cr_assert_eq(image_find(path, sizeof path, fx_path("img"), "2"), SF_OK);
    cr_assert_str_eq(path, fx_path("img/2.jpeg"));
    cr_assert_eq(image_find(path, sizeof path, fx_path("img"), "3"), SF_OK);
    cr_assert_str_eq(path, fx_path("img/3.png"));
    cr_assert_eq(image_find(path, sizeof path, fx_path("img"), "4"), SF_ERR);
    assert_contains(sf_last_error(), "4.{jpg,jpeg,png,fits}: not found");
}

Test(image, objids_that_are_not_plain_names_are_refused) {
    cr_assert(image_name_ok("1237648704043942146"));
    cr_assert(image_name_ok("gal-1.v2"));
    const char *bad[] = {"", "../1", "..", "a/b", "/etc/passwd", "x\ny"};
    char path[600];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_not(image_name_ok(bad[i]), "'%s'", bad[i]);
        cr_assert_eq(image_find(path, sizeof path, fx_path("."), bad[i]), SF_ERR);
        assert_contains(sf_last_error(), "not a plain file name");
    }
}

/* ---- a real cutout ---- */

Test(image, real_jpeg_matches_djpeg) {
    char dir[1024];
    FX_SKIP_WITHOUT_SHARED(dir);
    cr_assert_eq(system("command -v djpeg >/dev/null 2>&1"), 0,
                 "djpeg is missing: install libjpeg-turbo-progs (share/install-deps.sh)");
    char jpg[1200], cmd[3000];
    snprintf(jpg, sizeof jpg, "%s/images/1237648704043942146.jpg", dir);
    snprintf(cmd, sizeof cmd, "djpeg -ppm -outfile '%s' '%s'", fx_path("ref.ppm"), jpg);
    cr_assert_eq(system(cmd), 0, "%s", cmd);
    int rw, rh;
    uint8_t *ref = fx_read_ppm(fx_path("ref.ppm"), &rw, &rh);
    uint8_t *rgb;
    int w, h;
    cr_assert_eq(image_decode(jpg, &rgb, &w, &h), SF_OK, "%s", sf_last_error());
    cr_assert_eq(w, 128);
    cr_assert_eq(h, 128);
    cr_assert_eq(rw, 128);
    cr_assert_eq(rh, 128);
    cr_assert_arr_eq(rgb, ref, 128 * 128 * 3);
    /* A galaxy in the middle of a dark sky. */
    double centre = 0, corner = 0;
    for (int c = 0; c < 3; c++) {
        centre += rgb[(64 * 128 + 64) * 3 + c];
        corner += rgb[c];
    }
    cr_assert_gt(centre, corner);
    free(rgb);
    free(ref);
}

/* ---- CMYK JPEGs and decompression bombs ---- */

/* A JPEG of cmyk (w*h*4 samples, as Adobe's applications store them: inverted, 255 =
 * no ink) in colour space cs (JCS_CMYK, or JCS_YCCK as Photoshop writes them). */
static void write_cmyk_jpeg(const char *path, const uint8_t *cmyk, int w, int h, J_COLOR_SPACE cs) {
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr err;
    c.err = jpeg_std_error(&err);
    jpeg_create_compress(&c);
    jpeg_stdio_dest(&c, f);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = 4;
    c.in_color_space = JCS_CMYK;
    jpeg_set_defaults(&c);
    jpeg_set_colorspace(&c, cs); /* writes the Adobe marker */
    jpeg_set_quality(&c, 98, TRUE);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = (JSAMPROW)(cmyk + (size_t)c.next_scanline * w * 4);
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    fclose(f);
}

Test(image, cmyk_and_ycck_jpegs_are_converted_to_rgb) {
    /* left half: no ink but cyan (stored 255 - 255 = 0): (0, 255, 255); right half:
     * half black on white: (128, 128, 128) */
    int w = 16, h = 8;
    uint8_t *cmyk = malloc((size_t)w * h * 4);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *p = cmyk + ((size_t)y * w + x) * 4;
            if (x < w / 2) p[0] = 0, p[1] = 255, p[2] = 255, p[3] = 255;
            else p[0] = 255, p[1] = 255, p[2] = 255, p[3] = 128;
        }
    J_COLOR_SPACE spaces[2] = {JCS_CMYK, JCS_YCCK};
    for (int k = 0; k < 2; k++) {
        const char *path = fx_path(k ? "ycck.jpg" : "cmyk.jpg");
        write_cmyk_jpeg(path, cmyk, w, h, spaces[k]);
        uint8_t *rgb;
        int dw, dh;
        cr_assert_eq(image_decode(path, &rgb, &dw, &dh), SF_OK, "%s", sf_last_error());
        cr_assert_eq(dw, w);
        cr_assert_eq(dh, h);
        const uint8_t *l = rgb + (4 * w + 2) * 3, *r = rgb + (4 * w + 13) * 3;
        cr_assert(l[0] < 12 && l[1] > 243 && l[2] > 243, "cyan: %d %d %d", l[0], l[1], l[2]);
        for (int c = 0; c < 3; c++) cr_assert(abs(r[c] - 128) < 8, "grey: %d", r[c]);
        free(rgb);
    }
    free(cmyk);
}

/* A PNG of w x h black pixels: tiny on disk, w * h * 3 bytes decoded. */
static void write_black_png(const char *path, int w, int h) {
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_set_compression_level(png, 1); /* quick; black rows still shrink ~1000 times */
    png_set_filter(png, 0, PNG_FILTER_NONE);
    png_write_info(png, info);
    uint8_t *row = calloc((size_t)w * 3, 1);
    for (int y = 0; y < h; y++) png_write_row(png, row);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(row);
    fclose(f);
}

Test(image, decompression_bombs_are_refused_naming_file_and_size) {
    /* 8000 x 8000: a few hundred KB of PNG that would decode to 192 MB */
    const char *bomb = fx_path("bomb.png");
    write_black_png(bomb, 8000, 8000);
    struct stat st;
    cr_assert_eq(stat(bomb, &st), 0);
    cr_assert_lt(st.st_size, 1000000);
    uint8_t *rgb = NULL;
    int w, h;
    cr_assert_eq(image_decode(bomb, &rgb, &w, &h), SF_ERR);
    cr_assert_null(rgb);
    const char *e = sf_last_error();
    cr_assert(strstr(e, "bomb.png") && strstr(e, "8000x8000") && strstr(e, "4096x4096"), "%s", e);

    /* a JPEG whose header claims 20000 x 20000 (patched into a small one) */
    uint8_t *px = fx_solid(8, 8, 10, 20, 30);
    fx_write_jpeg(fx_path("small.jpg"), px, 8, 8, 90);
    free(px);
    uint8_t *d;
    size_t n = fx_read_bytes(fx_path("small.jpg"), &d);
    size_t sof = 0;
    for (size_t i = 2; i + 9 < n; i++)
        if (d[i] == 0xFF && (d[i + 1] == 0xC0 || d[i + 1] == 0xC2)) {
            sof = i;
            break;
        }
    cr_assert_gt(sof, 0, "no SOF marker");
    d[sof + 5] = 20000 >> 8, d[sof + 6] = 20000 & 0xff; /* height */
    d[sof + 7] = 20000 >> 8, d[sof + 8] = 20000 & 0xff; /* width */
    cr_assert_eq(image_decode_mem(d, n, "huge.jpg", &rgb, &w, &h), SF_ERR);
    e = sf_last_error();
    cr_assert(strstr(e, "huge.jpg") && strstr(e, "20000x20000") && strstr(e, "4096x4096"), "%s", e);
    free(d);

    /* a real cutout size is fine; so is a long thin strip within the pixel limit */
    write_black_png(fx_path("strip.png"), 5000, 3);
    cr_assert_eq(image_decode(fx_path("strip.png"), &rgb, &w, &h), SF_OK, "%s", sf_last_error());
    free(rgb);
}

/* A long thin image within the pixel limit: only the centred square is resampled, so
 * memory follows the square (4 x 4), not the length (before, 4 million rows of 144
 * floats x 3 were allocated: 6.9 GB). */
Test(image, a_long_thin_image_costs_what_its_square_costs) {
#ifndef __SANITIZE_ADDRESS__
    struct rlimit lim = {(rlim_t)1 << 30, (rlim_t)1 << 30};
    setrlimit(RLIMIT_AS, &lim);
#endif
    int w = 4, h = 4000000;
    uint8_t *src = malloc((size_t)w * h * 3);
    cr_assert_not_null(src);
    for (size_t i = 0; i < (size_t)w * h * 3; i++)
        src[i] = (uint8_t)(i / 3 / (size_t)w < (size_t)h / 2 ? 10 : 200);
    uint8_t out[3 * 144 * 144];
    image_prepare(out, src, w, h, 160, 144);
    /* the centre rows straddle the change from 10 to 200 */
    cr_assert_eq(out[0], 10);
    cr_assert_eq(out[144 * 144 - 1], 200);
    free(src);
}
