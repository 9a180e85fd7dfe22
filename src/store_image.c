/* store_image.c: thumbnails in memory: JPEG encode (libjpeg) and JPEG/PNG decode. */
#include "store_internal.h"

#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>

#include "data_image.h"

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

int store_image_decode_mem(const uint8_t *data, size_t len, uint8_t **rgb, int *w, int *h) {
    return image_decode_mem(data, len, "thumbnail", rgb, w, h);
}
