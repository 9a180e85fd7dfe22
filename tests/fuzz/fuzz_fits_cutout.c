/* fuzz_fits_cutout.c: libFuzzer harness over FITS cutout decoding from memory (the
 * path every image of `--images` takes when it is a FITS file). Seeds:
 * tests/fuzz/corpus/fits_cutout (tests/fuzz/fits_seeds.py writes them). */
#include <stdint.h>
#include <stdlib.h>

#include "data_fits.h"
#include "data_image.h"
#include "sf_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint8_t *rgb = NULL;
    int w, h;
    if (fits_cutout_decode_mem(data, size, "fuzz.fits", NULL, &rgb, &w, &h) == SF_OK) free(rgb);
    return 0;
}
