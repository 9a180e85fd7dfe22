/* data_image.c: JPEG/PNG decoding (FITS cutouts through data_fits.c), JPEG encoding
 * (the stored thumbnails), resize + crop/pad to CHW bytes, image lookup.
 * Layer: data. Calls: sf_util, data_fits; libjpeg, libpng.
 * Called by: cli_predict, data_dataset, data_shard, infer_pipe, query_view, tui_app.
 */
#include "data_image.h"

#include <jpeglib.h>
#include <math.h>
#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Every image is turned away, with its size, before any pixel is decoded when it has
 * more pixels than this (a decompression bomb: 200 KB of PNG can claim 8000x8000). */
#define IMAGE_MAX_PIXELS ((long)IMAGE_MAX_SIDE * IMAGE_MAX_SIDE)
/* Progressive JPEGs decode every scan; thousands of tiny scans are a way to make a
 * small file cost minutes. libjpeg-turbo's tools refuse beyond a limit too. */
#define JPEG_MAX_SCANS 500

static int too_large(const char *path, unsigned long w, unsigned long h) {
    return sf_fail("%s: %lux%lu pixels is more than an image may have here (%dx%d, %.1f "
                   "megapixels): refusing to decode it",
                   path, w, h, IMAGE_MAX_SIDE, IMAGE_MAX_SIDE, (double)IMAGE_MAX_PIXELS / 1e6);
}

/* ---- JPEG ---- */

typedef struct {
    struct jpeg_error_mgr pub;
    struct jpeg_progress_mgr progress;
    jmp_buf jmp;
    char msg[JMSG_LENGTH_MAX];
    int warned;
    int too_large; /* msg holds the size: not a corrupt file */
} jpeg_guard;

static void jpeg_on_progress(j_common_ptr c) {
    jpeg_guard *g = (jpeg_guard *)c->err;
    if (c->is_decompressor && ((j_decompress_ptr)c)->input_scan_number > JPEG_MAX_SCANS) {
        snprintf(g->msg, sizeof g->msg, "more than %d progressive scans", JPEG_MAX_SCANS);
        longjmp(g->jmp, 1);
    }
}

/* Adobe's CMYK JPEGs store inverted samples (255 = no ink), as libjpeg hands them out
 * for JCS_CMYK (YCCK too: libjpeg converts it to CMYK): R = C' K' / 255 and so on. */
static void cmyk_row_to_rgb(uint8_t *rgb, const uint8_t *cmyk, int w, int inverted) {
    for (int x = 0; x < w; x++) {
        unsigned c = cmyk[4 * x], m = cmyk[4 * x + 1], y = cmyk[4 * x + 2], k = cmyk[4 * x + 3];
        if (!inverted) c = 255 - c, m = 255 - m, y = 255 - y, k = 255 - k;
        rgb[3 * x] = (uint8_t)((c * k + 127) / 255);
        rgb[3 * x + 1] = (uint8_t)((m * k + 127) / 255);
        rgb[3 * x + 2] = (uint8_t)((y * k + 127) / 255);
    }
}

static void jpeg_on_error(j_common_ptr c) {
    jpeg_guard *g = (jpeg_guard *)c->err;
    (*c->err->format_message)(c, g->msg);
    longjmp(g->jmp, 1);
}

/* libjpeg only warns on a truncated file or corrupt entropy data and then fills
 * the rest with grey; for training data that is a corrupt image, so the first
 * warning is kept and the decode fails at the end. */
static void jpeg_on_message(j_common_ptr c, int level) {
    jpeg_guard *g = (jpeg_guard *)c->err;
    if (level < 0 && !g->warned) {
        (*c->err->format_message)(c, g->msg);
        g->warned = 1;
    }
}

static int decode_jpeg(const char *path, const uint8_t *data, size_t len, uint8_t **rgb, int *width,
                       int *height) {
    struct jpeg_decompress_struct cinfo;
    jpeg_guard guard;
    uint8_t *volatile out = NULL;
    uint8_t *volatile cmyk_row = NULL;
    memset(&guard, 0, sizeof guard);
    cinfo.err = jpeg_std_error(&guard.pub);
    guard.pub.error_exit = jpeg_on_error;
    guard.pub.emit_message = jpeg_on_message;
    guard.progress.progress_monitor = jpeg_on_progress;
    if (setjmp(guard.jmp)) {
        jpeg_destroy_decompress(&cinfo);
        free(out);
        free(cmyk_row);
        if (guard.too_large) return SF_ERR; /* the message is set */
        return sf_fail("%s: corrupt JPEG: %s", path, guard.msg);
    }
    jpeg_create_decompress(&cinfo);
    cinfo.progress = &guard.progress;
    jpeg_mem_src(&cinfo, data, (unsigned long)len);
    jpeg_read_header(&cinfo, TRUE);
    if ((long)cinfo.image_width * (long)cinfo.image_height > IMAGE_MAX_PIXELS) {
        too_large(path, cinfo.image_width, cinfo.image_height);
        guard.too_large = 1;
        longjmp(guard.jmp, 1);
    }
    /* libjpeg converts grey and YCbCr to RGB, and YCCK to CMYK; CMYK to RGB is ours */
    int cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
    cinfo.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
    jpeg_start_decompress(&cinfo);
    int w = (int)cinfo.output_width, h = (int)cinfo.output_height;
    SF_ASSERT(cinfo.output_components == (cmyk ? 4 : 3));
    out = xmalloc((size_t)w * (size_t)h * 3);
    if (cmyk) cmyk_row = xmalloc((size_t)w * 4);
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = out + (size_t)cinfo.output_scanline * (size_t)w * 3;
        if (!cmyk) {
            jpeg_read_scanlines(&cinfo, &row, 1);
            continue;
        }
        JSAMPROW in = cmyk_row;
        if (jpeg_read_scanlines(&cinfo, &in, 1) == 1)
            cmyk_row_to_rgb(row, cmyk_row, w, cinfo.saw_Adobe_marker);
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    free(cmyk_row);
    if (guard.warned) {
        free(out);
        return sf_fail("%s: corrupt JPEG: %s", path, guard.msg);
    }
    *rgb = out;
    *width = w;
    *height = h;
    return SF_OK;
}

/* ---- PNG ---- */

typedef struct {
    const uint8_t *data;
    size_t len, pos;
    char msg[256];
} png_source;

static void png_on_error(png_structp png, png_const_charp msg) {
    png_source *src = png_get_error_ptr(png);
    snprintf(src->msg, sizeof src->msg, "%s", msg);
    png_longjmp(png, 1);
}

static void png_on_warning(png_structp png, png_const_charp msg) {}

static void png_read_mem(png_structp png, png_bytep dst, png_size_t n) {
    png_source *src = png_get_io_ptr(png);
    if (n > src->len - src->pos) png_error(png, "file is truncated");
    memcpy(dst, src->data + src->pos, n);
    src->pos += n;
}

static int decode_png(const char *path, const uint8_t *data, size_t len, uint8_t **rgb, int *width,
                      int *height) {
    png_source src = {.data = data, .len = len};
    png_structp png =
        png_create_read_struct(PNG_LIBPNG_VER_STRING, &src, png_on_error, png_on_warning);
    SF_ASSERT(png);
    png_infop info = png_create_info_struct(png);
    SF_ASSERT(info);
    uint8_t *volatile out = NULL;
    png_bytep *volatile rows = NULL;
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        free(out);
        free(rows);
        return sf_fail("%s: corrupt PNG: %s", path, src.msg);
    }
    png_set_read_fn(png, &src, png_read_mem);
    png_read_info(png, info);
    png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    if ((long)w * (long)h > IMAGE_MAX_PIXELS) {
        png_destroy_read_struct(&png, &info, NULL);
        return too_large(path, w, h);
    }
    png_set_expand(png); /* palette and low bit depths to 8-bit, tRNS to alpha */
    png_set_strip_16(png);
    png_set_gray_to_rgb(png);
    png_set_strip_alpha(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    SF_ASSERT(png_get_rowbytes(png, info) == (size_t)w * 3);
    out = xmalloc((size_t)w * h * 3);
    rows = xmalloc(h * sizeof(png_bytep));
    for (png_uint_32 y = 0; y < h; y++) rows[y] = out + (size_t)y * w * 3;
    png_read_image(png, rows);
    png_read_end(png, NULL); /* a missing IEND means the file was cut short */
    png_destroy_read_struct(&png, &info, NULL);
    free(rows);
    *rgb = out;
    *width = (int)w;
    *height = (int)h;
    return SF_OK;
}

int image_decode_mem(const uint8_t *data, size_t len, const char *name, uint8_t **rgb, int *width,
                     int *height) {
    return image_decode_mem_fits(data, len, name, NULL, rgb, width, height);
}

int image_decode_mem_fits(const uint8_t *data, size_t len, const char *name,
                          const fits_rgb *stretch, uint8_t **rgb, int *width, int *height) {
    *rgb = NULL;
    *width = *height = 0;
    if (!name) name = "image data";
    if (len >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF)
        return decode_jpeg(name, data, len, rgb, width, height);
    if (len >= 8 && !png_sig_cmp(data, 0, 8))
        return decode_png(name, data, len, rgb, width, height);
    if (fits_is_fits_data(data, len))
        return fits_cutout_decode_mem(data, len, name, stretch, rgb, width, height);
    return sf_fail("%s: neither a JPEG, a PNG nor a FITS file (%zu bytes)", name, len);
}

int image_decode(const char *path, uint8_t **rgb, int *width, int *height) {
    return image_decode_fits(path, NULL, rgb, width, height);
}

int image_decode_fits(const char *path, const fits_rgb *stretch, uint8_t **rgb, int *width,
                      int *height) {
    *rgb = NULL;
    *width = *height = 0;
    char *data = NULL;
    size_t len = 0;
    if (sf_read_file(path, &data, &len) != SF_OK) return SF_ERR;
    int rc = image_decode_mem_fits((const uint8_t *)data, len, path, stretch, rgb, width, height);
    free(data);
    return rc;
}

/* ---- resize, crop, pad ---- */

/* Weights of a separable resampling from in_len source pixels starting at in_start
 * to out_len pixels: a triangle (bilinear) filter, widened by the scale when
 * shrinking so that every source pixel contributes (antialiasing), as PIL's
 * BILINEAR resize does. first[o] is the first source index of output o, its n[o]
 * weights start at w + o * max_taps. */
typedef struct {
    int max_taps;
    int *first, *n;
    float *w;
} resample_plan;

static void resample_plan_init(resample_plan *p, int in_start, int in_len, int out_len) {
    double scale = (double)in_len / out_len;
    double filter_scale = scale > 1 ? scale : 1;
    double support = filter_scale; /* triangle support 1, widened */
    p->max_taps = (int)ceil(support) * 2 + 1;
    p->first = xmalloc((size_t)out_len * sizeof(int));
    p->n = xmalloc((size_t)out_len * sizeof(int));
    p->w = xcalloc((size_t)out_len * (size_t)p->max_taps, sizeof(float));
    for (int o = 0; o < out_len; o++) {
        double center = (o + 0.5) * scale;
        int lo = (int)floor(center - support + 0.5), hi = (int)floor(center + support + 0.5);
        if (lo < 0) lo = 0;
        if (hi > in_len) hi = in_len;
        if (hi - lo > p->max_taps) hi = lo + p->max_taps;
        double sum = 0;
        float *w = p->w + (size_t)o * (size_t)p->max_taps;
        for (int i = lo; i < hi; i++) {
            double x = fabs((i - center + 0.5) / filter_scale);
            double k = x < 1 ? 1 - x : 0;
            w[i - lo] = (float)k;
            sum += k;
        }
        if (sum > 0)
            for (int i = 0; i < hi - lo; i++) w[i] = (float)(w[i] / sum);
        p->first[o] = lo + in_start;
        p->n[o] = hi - lo;
    }
}

static void resample_plan_free(resample_plan *p) {
    free(p->first);
    free(p->n);
    free(p->w);
}

static uint8_t to_byte(float v) {
    if (!(v > 0)) return 0;
    if (v >= 255) return 255;
    return (uint8_t)(v + 0.5f);
}

/* A non-square source is first centre-cropped to a square (fastai's Resize with
 * its default crop method), then resampled to resize x resize; only the window that
 * survives the crop is computed. */
void image_prepare(uint8_t *out, const uint8_t *src, int w, int h, int resize, int crop) {
    SF_ASSERT(w > 0 && h > 0 && resize > 0 && crop > 0);
    int side = w < h ? w : h;
    /* Window of the resized image [r0, r0 + len) that lands at [o0, o0 + len) of out. */
    int r0 = crop <= resize ? (resize - crop) / 2 : 0;
    int o0 = crop <= resize ? 0 : (crop - resize) / 2;
    int len = crop <= resize ? crop : resize;
    size_t plane = (size_t)crop * (size_t)crop;
    if (crop > resize) memset(out, 0, 3 * plane);

    if (side == resize) {
        /* no resampling (its weights would be exactly 1 and 0): the crop alone */
        int x0 = (w - side) / 2, y0 = (h - side) / 2;
        for (int y = 0; y < len; y++) {
            const uint8_t *s = src + ((size_t)(y0 + r0 + y) * (size_t)w + (size_t)(x0 + r0)) * 3;
            size_t orow = (size_t)(o0 + y) * (size_t)crop + (size_t)o0;
            for (int x = 0; x < len; x++)
                for (int c = 0; c < 3; c++) out[c * plane + orow + (size_t)x] = s[3 * x + c];
        }
        return;
    }
    resample_plan px, py;
    resample_plan_init(&px, (w - side) / 2, side, resize);
    resample_plan_init(&py, (h - side) / 2, side, resize);

    /* Horizontal pass over every source row into float, then vertical per output row. */
    /* only the rows of the centred square: a long thin image costs what its square does */
    int y0 = (h - side) / 2;
    float *hrow = xmalloc((size_t)side * (size_t)len * 3 * sizeof(float)); /* (side, len, 3) */
    for (int y = 0; y < side; y++) {
        const uint8_t *s = src + (size_t)(y0 + y) * (size_t)w * 3;
        float *d = hrow + (size_t)y * (size_t)len * 3;
        for (int x = 0; x < len; x++) {
            int o = r0 + x;
            const float *wt = px.w + (size_t)o * (size_t)px.max_taps;
            float a = 0, b = 0, c = 0;
            for (int t = 0; t < px.n[o]; t++) {
                const uint8_t *p = s + (size_t)(px.first[o] + t) * 3;
                a += wt[t] * p[0];
                b += wt[t] * p[1];
                c += wt[t] * p[2];
            }
            d[3 * x] = a, d[3 * x + 1] = b, d[3 * x + 2] = c;
        }
    }
    for (int y = 0; y < len; y++) {
        int o = r0 + y;
        const float *wt = py.w + (size_t)o * (size_t)py.max_taps;
        size_t orow = (size_t)(o0 + y) * (size_t)crop + (size_t)o0;
        for (int x = 0; x < len; x++) {
            float acc[3] = {0, 0, 0};
            for (int t = 0; t < py.n[o]; t++) {
                const float *p = hrow + ((size_t)(py.first[o] + t - y0) * (size_t)len + x) * 3;
                acc[0] += wt[t] * p[0];
                acc[1] += wt[t] * p[1];
                acc[2] += wt[t] * p[2];
            }
            for (int c = 0; c < 3; c++) out[c * plane + orow + (size_t)x] = to_byte(acc[c]);
        }
    }
    free(hrow);
    resample_plan_free(&px);
    resample_plan_free(&py);
}

/* ---- lookup ---- */

int image_name_ok(const char *obj_id) {
    if (!obj_id || !obj_id[0]) return 0;
    if (strchr(obj_id, '/') || strstr(obj_id, "..")) return 0;
    for (const unsigned char *p = (const unsigned char *)obj_id; *p; p++)
        if (*p < 0x20 || *p == 0x7f) return 0;
    return 1;
}

int image_find(char *path, size_t n, const char *dir, const char *obj_id) {
    if (!image_name_ok(obj_id))
        return sf_fail("objID '%s' is not a plain file name (it has '/', '..' or control "
                       "characters); refusing to look for its image outside %s",
                       obj_id, dir);
    static const char *exts[] = {"jpg", "jpeg", "png", "JPG",  "JPEG",
                                 "PNG", "fits", "fit", "FITS", "FIT"};
    for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++) {
        int k = snprintf(path, n, "%s/%s.%s", dir, obj_id, exts[i]);
        if (k < 0 || (size_t)k >= n) return sf_fail("%s/%s: path too long", dir, obj_id);
        struct stat st;
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) return SF_OK;
    }
    snprintf(path, n, "%s/%s.jpg", dir, obj_id);
    return sf_fail("%s/%s.{jpg,jpeg,png,fits}: not found", dir, obj_id);
}

/* ---- encoding ---- */

int image_encode_jpeg(const uint8_t *rgb, int w, int h, int quality, uint8_t **out, size_t *len) {
    *out = NULL;
    *len = 0;
    if (w <= 0 || h <= 0) return sf_fail("cannot encode an empty %dx%d image", w, h);
    struct jpeg_compress_struct cinfo;
    jpeg_guard guard;
    memset(&guard, 0, sizeof guard);
    /* volatile: read after longjmp */
    unsigned char *volatile buf = NULL;
    unsigned long size = 0;
    cinfo.err = jpeg_std_error(&guard.pub);
    guard.pub.error_exit = jpeg_on_error;
    if (setjmp(guard.jmp)) {
        jpeg_destroy_compress(&cinfo);
        free(buf);
        return sf_fail("JPEG encoding failed: %s", guard.msg);
    }
    jpeg_create_compress(&cinfo);
    unsigned char *mem = NULL;
    jpeg_mem_dest(&cinfo, &mem, &size);
    cinfo.image_width = (JDIMENSION)w;
    cinfo.image_height = (JDIMENSION)h;
    cinfo.input_components = 3;
    cinfo.in_color_space = JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality, TRUE);
    jpeg_start_compress(&cinfo, TRUE);
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row = (JSAMPROW)(rgb + (size_t)cinfo.next_scanline * (size_t)w * 3);
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    buf = mem;
    jpeg_destroy_compress(&cinfo);
    /* jpeg_mem_dest allocates with malloc: hand it on as it is */
    *out = buf;
    *len = size;
    return SF_OK;
}
