/* fuzz_probe.c: libFuzzer harness for the parser of the terminal's replies to the
 * explorer's queries (kitty graphics, CSI 16 t / 14 t, DA1): any bytes, whole or cut
 * anywhere, give a result within bounds, and a description that is plain text. */
#include <stdint.h>
#include <string.h>

#include "sf_util.h"
#include "tui_probe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    thumb_probe p;
    memset(&p, 0, sizeof p);
    int done = thumb_probe_parse(&p, (const char *)data, size);
    SF_ASSERT(done == 0 || done == 1);
    SF_ASSERT(p.n_da1 >= 0 && p.n_da1 <= 16);
    SF_ASSERT(p.cell_w >= 0 && p.cell_w <= 1024 && p.cell_h >= 0 && p.cell_h <= 1024);
    SF_ASSERT(p.garbage <= size);
    /* a prefix: what the explorer sees while the reply is still arriving */
    thumb_probe q;
    memset(&q, 0, sizeof q);
    thumb_probe_parse(&q, (const char *)data, size / 2);
    /* --dump-detect shows the raw bytes: never a control character */
    p.raw_len = size < sizeof p.raw ? size : sizeof p.raw;
    memcpy(p.raw, data, p.raw_len);
    char text[4 * sizeof p.raw + 1];
    thumb_probe_describe(&p, text, sizeof text);
    for (const unsigned char *c = (const unsigned char *)text; *c; c++)
        SF_ASSERT(*c >= 0x20 && *c < 0x7f);
    return 0;
}
