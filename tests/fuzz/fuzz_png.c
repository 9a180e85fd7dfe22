/* fuzz_png.c: libFuzzer harness for the PNG decoder (libpng through
 * image_decode_mem) and the resize that follows it in training. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "data_image.h"
#include "sf_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Images of up to 4096 x 4096 pixels are decoded, a second or so each under the
 * sanitizers; the fuzzer would spend its time on a few of them. Above this it only
 * checks the size limit's message, the path all large images take. */
#define FUZZ_DECODE_MAX_PIXELS (1L << 20)

/* The size the IHDR chunk (always the first, at byte 8) claims. */
static unsigned long header_pixels(const uint8_t *data, size_t size) {
    if (size < 24 || memcmp(data + 12, "IHDR", 4)) return 0;
    unsigned long w = (unsigned long)data[16] << 24 | (unsigned long)data[17] << 16 |
                      (unsigned long)data[18] << 8 | data[19];
    unsigned long h = (unsigned long)data[20] << 24 | (unsigned long)data[21] << 16 |
                      (unsigned long)data[22] << 8 | data[23];
    return w * h; /* below 2^64 */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* only what the decoder takes for a PNG: the JPEG harness covers the rest */
    if (size < 8 || memcmp(data, "\x89PNG\r\n\x1a\n", 8)) return 0;
    unsigned long pixels = header_pixels(data, size);
    if (pixels > FUZZ_DECODE_MAX_PIXELS && pixels <= (unsigned long)IMAGE_MAX_SIDE * IMAGE_MAX_SIDE)
        return 0;
    uint8_t *rgb = NULL;
    int w = 0, h = 0;
    if (image_decode_mem(data, size, "fuzz.png", &rgb, &w, &h) != SF_OK) {
        SF_ASSERT(rgb == NULL);
        return 0;
    }
    SF_ASSERT(w > 0 && h > 0 && (long)w * h <= (long)IMAGE_MAX_SIDE * IMAGE_MAX_SIDE);
    uint8_t out[3 * 24 * 24];
    image_prepare(out, rgb, w, h, 32, 24);
    free(rgb);
    return 0;
}
