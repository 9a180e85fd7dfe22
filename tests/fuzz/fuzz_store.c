/* fuzz_store.c: libFuzzer harness for a run database given as bytes (a file shared by
 * a collaborator, damaged on disk): opened read-only from memory with the checks of
 * every open, then read the way the commands and the explorer read it. Any bytes are
 * refused with a message or read without a crash, a leak or an allocation beyond
 * what the file itself justifies. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "data_image.h"
#include "query.h"
#include "safetensors.h"
#include "sf_util.h"
#include "store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void read_galaxy(store *s, int64_t run_id, int64_t galaxy_id) {
    store_galaxy g;
    if (store_galaxy_get(s, galaxy_id, &g) == SF_OK) store_galaxy_clear(&g);
    store_galaxy_run gr;
    if (store_galaxy_in_run(s, run_id, galaxy_id, &gr) == SF_OK) store_galaxy_run_clear(&gr);
    int64_t *runs = NULL;
    int n = 0;
    if (store_galaxy_runs(s, galaxy_id, &runs, &n) == SF_OK) free(runs);
    uint8_t *thumb = NULL;
    size_t len = 0;
    if (store_thumbnail(s, galaxy_id, &thumb, &len) == SF_OK && thumb) {
        uint8_t *rgb = NULL;
        int w, h;
        if (image_decode_mem(thumb, len, "thumbnail", &rgb, &w, &h) == SF_OK) free(rgb);
        free(thumb);
    }
}

static void read_run(store *s, const store_run *r) {
    store_feature *f = NULL;
    int nf = 0;
    if (store_features(s, r->id, STORE_SORT_FREQUENCY, 1, &f, &nf) == SF_OK) {
        if (nf > 0) {
            store_feature one;
            store_feature_get(s, r->id, f[0].feature, &one);
            store_hit *hits = NULL;
            int nh = 0;
            if (store_top(s, r->id, f[0].feature, 5, -1, &hits, &nh) == SF_OK) {
                if (nh > 0) read_galaxy(s, r->id, hits[0].galaxy_id);
                free(hits);
            }
        }
        free(f);
    }
    store_mark *m = NULL;
    int nm = 0;
    if (store_marks(s, r->id, &m, &nm) == SF_OK) free(m);
    uint8_t *w = NULL;
    size_t wl = 0;
    if (store_run_weights(s, r->id, &w, &wl) == SF_OK) {
        st_file st;
        if (st_parse(&st, "stored weights", w, wl) == SF_OK) st_close(&st); /* takes w */
    }
    store_rows rows;
    if (store_run_rows(s, r->id, &rows) == SF_OK) {
        /* the arrays a plot or a PCA reads, where the run's shape is small */
        if (r->d > 0 && r->d <= 4096 && (size_t)rows.n * (size_t)r->d <= (1u << 20)) {
            float *dense = xmalloc(((size_t)rows.n * (size_t)r->d + 1) * sizeof *dense);
            store_run_dense(s, r->id, &rows, r->d, dense);
            free(dense);
        }
        if (r->n_out > 0 && (size_t)rows.n * (size_t)r->n_out <= (1u << 20)) {
            float *pred = xmalloc(((size_t)rows.n * (size_t)r->n_out + 1) * sizeof *pred);
            store_run_predictions(s, r->id, &rows, r->n_out, pred, NULL);
            free(pred);
        }
        double *col = xmalloc(((size_t)rows.n + 1) * sizeof *col);
        store_catalog_values(s, &rows, "ra", col);
        free(col);
        store_rows_clear(&rows);
    }
    if (r->d > 0 && r->d <= 4096) {
        query_equation eq;
        if (query_equation_compute(s, r->id, &eq) == SF_OK) query_equation_clear(&eq);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    store *s = NULL;
    if (store_open_bytes(&s, data, size, "fuzz.db") != SF_OK) return 0;
    store_run *runs = NULL;
    int n = 0;
    if (store_runs(s, &runs, &n) == SF_OK) {
        for (int i = 0; i < n && i < 3; i++) read_run(s, &runs[i]);
        store_runs_free(runs, n);
    }
    store_run one;
    if (store_run_find(s, NULL, &one) == SF_OK) store_run_clear(&one);
    char(*names)[STORE_NAME_MAX] = NULL;
    int nc = 0;
    if (store_catalog_columns(s, &names, &nc) == SF_OK) free(names);
    store_close(s);
    return 0;
}
