/* fuzz_catalog.c: libFuzzer harness for the CSV catalogue reader and the target
 * presets: any bytes either load or fail with a message, and the cuts keep only rows
 * whose targets are finite floats. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "data_catalog.h"
#include "sf_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    catalog cat;
    if (catalog_parse(&cat, "fuzz.csv", (const char *)data, size) != SF_OK) return 0;
    SF_ASSERT(cat.n_rows > 0);
    /* the presets, and the first columns as targets */
    char spec[256] = "";
    size_t used = 0;
    for (int c = 0; c < cat.n_cols && c < 3; c++) {
        int w = snprintf(spec + used, sizeof spec - used, "%s%s", c ? "," : "", cat.col_names[c]);
        if (w < 0 || (size_t)w >= sizeof spec - used) break;
        used += (size_t)w;
    }
    const char *specs[] = {"metallicity", "bpt_lines", spec};
    for (int i = 0; i < 3; i++) {
        target_set ts;
        if (targets_select(&ts, &cat, specs[i]) != SF_OK) continue;
        int total = ts.n_rows;
        for (int c = 0; c < ts.n_cuts; c++) total += ts.cuts[c].removed;
        SF_ASSERT(total == cat.n_rows);
        for (int k = 0; k < ts.n_rows * ts.n_targets; k++) SF_ASSERT(isfinite(ts.y[k]));
        targets_free(&ts);
    }
    catalog_free(&cat);
    return 0;
}
