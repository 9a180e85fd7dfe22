/* store_image.c: thumbnails in memory: JPEG encode (libjpeg) and JPEG/PNG decode. */
#include "store_internal.h"

#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>

/* libjpeg reports errors through error_exit, which must not return: jump back. */
typedef struct {
    struct jpeg_error_mgr mgr;
    jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
} jpeg_error;

static void jpeg_error_exit(j_common_ptr cinfo) {
    jpeg_error *err = (jpeg_error *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, err->message);
    longjmp(err->jump, 1);
}

/* Warnings are counted by the default emit_message (num_warnings), not printed. */
static void jpeg_silent(j_common_ptr cinfo) { (void)cinfo; }

int store_jpeg_encode(const uint8_t *rgb, int w, int h, int quality, uint8_t **out, size_t *len) {
    *out = NULL;
    *len = 0;
    if (w <= 0 || h <= 0) return sf_fail("cannot encode an empty %dx%d image", w, h);
    struct jpeg_compress_struct cinfo;
    jpeg_error err;
    /* volatile: read after longjmp */
    unsigned char *volatile buf = NULL;
    unsigned long size = 0;
    cinfo.err = jpeg_std_error(&err.mgr);
    err.mgr.error_exit = jpeg_error_exit;
    if (setjmp(err.jump)) {
        jpeg_destroy_compress(&cinfo);
        free(buf);
        return sf_fail("JPEG encoding failed: %s", err.message);
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

static int decode_jpeg(const uint8_t *data, size_t len, uint8_t **rgb, int *w, int *h) {
    struct jpeg_decompress_struct cinfo;
    jpeg_error err;
    uint8_t *volatile pixels = NULL;
    cinfo.err = jpeg_std_error(&err.mgr);
    err.mgr.error_exit = jpeg_error_exit;
    err.mgr.output_message = jpeg_silent;
    if (setjmp(err.jump)) {
        jpeg_destroy_decompress(&cinfo);
        free(pixels);
        return sf_fail("corrupt JPEG: %s", err.message);
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, (unsigned long)len);
    jpeg_read_header(&cinfo, TRUE);
    cinfo.out_color_space = JCS_RGB;
    jpeg_start_decompress(&cinfo);
    int width = (int)cinfo.output_width, height = (int)cinfo.output_height;
    if (width <= 0 || height <= 0 || width > 16384 || height > 16384) {
        jpeg_destroy_decompress(&cinfo);
        return sf_fail("JPEG of unusable size %dx%d", width, height);
    }
    pixels = xmalloc((size_t)width * (size_t)height * 3);
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = pixels + (size_t)cinfo.output_scanline * (size_t)width * 3;
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_decompress(&cinfo);
    long warnings = err.mgr.num_warnings;
    jpeg_destroy_decompress(&cinfo);
    if (warnings) {
        free(pixels);
        return sf_fail("corrupt or truncated JPEG");
    }
    *rgb = pixels;
    *w = width;
    *h = height;
    return SF_OK;
}

static int decode_png(const uint8_t *data, size_t len, uint8_t **rgb, int *w, int *h) {
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&img, data, len))
        return sf_fail("corrupt PNG: %s", img.message);
    img.format = PNG_FORMAT_RGB;
    if (img.width == 0 || img.height == 0 || img.width > 16384 || img.height > 16384) {
        png_image_free(&img);
        return sf_fail("PNG of unusable size %ux%u", img.width, img.height);
    }
    uint8_t *pixels = xmalloc(PNG_IMAGE_SIZE(img));
    if (!png_image_finish_read(&img, NULL, pixels, 0, NULL)) {
        free(pixels);
        png_image_free(&img);
        return sf_fail("corrupt PNG: %s", img.message);
    }
    *rgb = pixels;
    *w = (int)img.width;
    *h = (int)img.height;
    return SF_OK;
}

int store_image_decode_mem(const uint8_t *data, size_t len, uint8_t **rgb, int *w, int *h) {
    *rgb = NULL;
    *w = *h = 0;
    if (len >= 3 && data[0] == 0xff && data[1] == 0xd8 && data[2] == 0xff)
        return decode_jpeg(data, len, rgb, w, h);
    if (len >= 8 && !memcmp(data, "\x89PNG\r\n\x1a\n", 8)) return decode_png(data, len, rgb, w, h);
    return sf_fail("image data is neither JPEG nor PNG (%zu bytes)", len);
}
