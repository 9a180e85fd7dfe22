/* fuzz_jpeg.c: libFuzzer harness for the JPEG decoder (libjpeg-turbo through
 * image_decode_mem) and the resize that follows it in training. */
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <jpeglib.h>

#include "data_image.h"
#include "sf_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Images of up to 4096 x 4096 pixels are decoded, a second or so each under the
 * sanitizers; the fuzzer would spend its time on a few of them. Above this it only
 * checks the size limit's message, the path all large images take. */
#define FUZZ_DECODE_MAX_PIXELS (1L << 20)

typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jmp;
} header_guard;

static void header_error(j_common_ptr c) { longjmp(((header_guard *)c->err)->jmp, 1); }
static void header_message(j_common_ptr c, int level) {}

/* The size the header claims, by libjpeg; 0 when it cannot be read. */
static long header_pixels(const uint8_t *data, size_t size) {
    struct jpeg_decompress_struct c;
    header_guard g;
    c.err = jpeg_std_error(&g.pub);
    g.pub.error_exit = header_error;
    g.pub.emit_message = header_message;
    jpeg_create_decompress(&c);
    long pixels = 0;
    if (!setjmp(g.jmp)) {
        jpeg_mem_src(&c, data, (unsigned long)size);
        if (jpeg_read_header(&c, TRUE) == JPEG_HEADER_OK)
            pixels = (long)c.image_width * (long)c.image_height;
    }
    jpeg_destroy_decompress(&c);
    return pixels;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* only what the decoder takes for a JPEG: the PNG harness covers the rest */
    if (size < 3 || data[0] != 0xFF || data[1] != 0xD8 || data[2] != 0xFF) return 0;
    long pixels = header_pixels(data, size);
    if (pixels > FUZZ_DECODE_MAX_PIXELS && pixels <= (long)IMAGE_MAX_SIDE * IMAGE_MAX_SIDE)
        return 0;
    uint8_t *rgb = NULL;
    int w = 0, h = 0;
    if (image_decode_mem(data, size, "fuzz.jpg", &rgb, &w, &h) != SF_OK) {
        SF_ASSERT(rgb == NULL);
        return 0;
    }
    SF_ASSERT(w > 0 && h > 0 && (long)w * h <= (long)IMAGE_MAX_SIDE * IMAGE_MAX_SIDE);
    uint8_t out[3 * 24 * 24];
    image_prepare(out, rgb, w, h, 32, 24);
    free(rgb);
    return 0;
}
