/* fuzz_safetensors.c: libFuzzer harness for the safetensors reader: any bytes are
 * either a valid file, whose every tensor converts to floats, or an error. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "safetensors.h"
#include "sf_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint8_t *copy = xmalloc(size);
    if (size) memcpy(copy, data, size);
    st_file f;
    if (st_parse(&f, "fuzz.safetensors", copy, size) != SF_OK) return 0;
    for (int i = 0; i < f.n_tensors; i++) {
        const st_tensor *t = &f.tensors[i];
        SF_ASSERT(t->begin <= t->end && t->end <= f.data_len);
        SF_ASSERT(st_find(&f, t->name) != NULL);
        if (t->numel > (1u << 20)) continue; /* the bytes fit the file; the floats need not */
        float *out = xmalloc((t->numel ? t->numel : 1) * sizeof *out);
        SF_ASSERT(st_read_f32(&f, t, out, t->numel) == SF_OK);
        free(out);
    }
    for (int i = 0; i < f.n_meta; i++) SF_ASSERT(st_meta(&f, f.meta_keys[i]) != NULL);
    st_close(&f);
    return 0;
}
