/* query_fits.c: a run's galaxies, predictions and activations as a FITS binary table
 * (see query.h, query_export_fits).
 * Layer: query. Calls: store, data_fits, sf_output; SQLite (store_internal.h).
 * Called by: cli_export_activations.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data_fits.h"
#include "query.h"
#include "sf_output.h"
#include "store_internal.h"

enum { FITS_BLOCK = 4096 };

/* The k largest positive values of row (d): indices strongest first (ties by index). */
static void top_pairs(const float *row, int d, int k, int32_t *idx, float *val) {
    for (int j = 0; j < k; j++) idx[j] = -1, val[j] = 0;
    for (int f = 0; f < d; f++) {
        float v = row[f];
        if (!(v > 0)) continue;
        int at = k;
        while (at > 0 && (idx[at - 1] < 0 || val[at - 1] < v)) at--;
        if (at >= k) continue;
        for (int j = k - 1; j > at; j--) idx[j] = idx[j - 1], val[j] = val[j - 1];
        idx[at] = f, val[at] = v;
    }
}

int query_export_fits(store *s, int64_t run_id, const char *path, int pairs) {
    /* a directory or a socket is refused before the run is read */
    if (sf_output_check(path) == SF_ERR) return SF_ERR;
    store_run run;
    if (store_run_get(s, run_id, &run) != SF_OK) return SF_ERR;
    store_rows rows;
    if (store_run_rows(s, run_id, &rows) != SF_OK) {
        store_run_clear(&run);
        return SF_ERR;
    }
    int n = rows.n, d = run.d, no = run.n_out;
    int k = pairs ? (run.k > 0 ? run.k : d) : 0;
    int id_int = 1;
    size_t id_width = 1;
    for (int i = 0; i < n; i++) {
        int64_t v;
        if (!fits_id_as_int64(rows.objid[i], &v)) id_int = 0;
        size_t len = strlen(rows.objid[i]);
        if (len > id_width) id_width = len;
    }

    /* columns: OBJID, SPLIT, PRED_*, TRUE_*, then ACTIVATIONS or the pairs */
    int n_cols = 2 + 2 * no + (pairs ? 2 * k : 1);
    fits_col *cols = xcalloc((size_t)n_cols, sizeof *cols);
    snprintf(cols[0].name, sizeof cols[0].name, "OBJID");
    cols[0].kind = id_int ? FITS_COL_INT64 : FITS_COL_TEXT;
    cols[0].repeat = id_int ? 1 : (int)id_width;
    snprintf(cols[1].name, sizeof cols[1].name, "SPLIT");
    cols[1].kind = FITS_COL_TEXT;
    cols[1].repeat = 5;
    for (int t = 0; t < no; t++) {
        snprintf(cols[2 + t].name, sizeof cols[0].name, "PRED_%.60s", run.target_names[t]);
        snprintf(cols[2 + no + t].name, sizeof cols[0].name, "TRUE_%.60s", run.target_names[t]);
        cols[2 + t].kind = cols[2 + no + t].kind = FITS_COL_FLOAT;
        cols[2 + t].repeat = cols[2 + no + t].repeat = 1;
    }
    int c0 = 2 + 2 * no;
    if (pairs) {
        for (int j = 0; j < k; j++) {
            snprintf(cols[c0 + 2 * j].name, sizeof cols[0].name, "FEATURE_%d", j + 1);
            cols[c0 + 2 * j].kind = FITS_COL_INT32;
            cols[c0 + 2 * j].repeat = 1;
            snprintf(cols[c0 + 2 * j + 1].name, sizeof cols[0].name, "VALUE_%d", j + 1);
            cols[c0 + 2 * j + 1].kind = FITS_COL_FLOAT;
            cols[c0 + 2 * j + 1].repeat = 1;
        }
    } else {
        snprintf(cols[c0].name, sizeof cols[0].name, "ACTIVATIONS");
        cols[c0].kind = FITS_COL_FLOAT;
        cols[c0].repeat = d;
    }
    char k_text[32], d_text[32], targets[1024] = "";
    snprintf(k_text, sizeof k_text, "%d", run.k);
    snprintf(d_text, sizeof d_text, "%d", d);
    for (int t = 0; t < no; t++)
        snprintf(targets + strlen(targets), sizeof targets - strlen(targets), "%s%s", t ? "," : "",
                 run.target_names[t]);
    const char *cards[] = {"RUN",     run.prefix,  "TARGET", run.target_spec, "TARGETS",
                           targets,   "TOPK",      k_text,   "NFEAT",         d_text,
                           "CATALOG", run.catalog, NULL};

    float *pred = xmalloc(((size_t)n * no + 1) * sizeof *pred);
    float *truth = xmalloc(((size_t)n * no + 1) * sizeof *truth);
    float *dense = xmalloc((size_t)FITS_BLOCK * (size_t)d * sizeof *dense);
    float *colbuf = xmalloc((size_t)FITS_BLOCK * sizeof *colbuf);
    int64_t *ids = xmalloc((size_t)FITS_BLOCK * sizeof *ids);
    char **texts = xmalloc((size_t)FITS_BLOCK * sizeof *texts);
    char **splits = xmalloc((size_t)FITS_BLOCK * sizeof *splits);
    int32_t *pidx = xmalloc(((size_t)FITS_BLOCK * k + 1) * sizeof *pidx);
    float *pval = xmalloc(((size_t)FITS_BLOCK * k + 1) * sizeof *pval);
    int32_t *icol = xmalloc((size_t)FITS_BLOCK * sizeof *icol);
    fits_table_writer *w = NULL;
    sqlite3_stmt *st = NULL;
    int status = store_run_predictions(s, run_id, &rows, no, pred, truth);
    if (status == SF_OK) status = fits_table_create(&w, path, "ACTIVATIONS", cols, n_cols, cards);
    if (status == SF_OK) {
        st = store_prepare(s, "SELECT galaxy_id, feature, value FROM activations WHERE run_id = "
                              "?1 ORDER BY galaxy_id");
        if (!st) status = SF_ERR;
    }
    int rc = SQLITE_DONE;
    if (st) {
        sqlite3_bind_int64(st, 1, run_id);
        rc = sqlite3_step(st);
    }
    for (int b0 = 0; b0 < n && status == SF_OK; b0 += FITS_BLOCK) {
        int m = n - b0 < FITS_BLOCK ? n - b0 : FITS_BLOCK;
        memset(dense, 0, (size_t)m * (size_t)d * sizeof *dense);
        for (int i = 0; i < m; i++) {
            int64_t gid = rows.galaxy_id[b0 + i];
            while (rc == SQLITE_ROW && sqlite3_column_int64(st, 0) <= gid) {
                int f = sqlite3_column_int(st, 1);
                if (sqlite3_column_int64(st, 0) == gid && f >= 0 && f < d)
                    dense[(size_t)i * d + f] = (float)sqlite3_column_double(st, 2);
                rc = sqlite3_step(st);
            }
            if (rc != SQLITE_ROW && rc != SQLITE_DONE) break;
            if (id_int) fits_id_as_int64(rows.objid[b0 + i], &ids[i]);
            texts[i] = rows.objid[b0 + i];
            splits[i] = rows.split[b0 + i] ? "valid" : "train";
        }
        if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
            status = store_db_fail(s, "reading activations");
            break;
        }
        status = fits_table_write(w, 0, b0, m, id_int ? (const void *)ids : (const void *)texts);
        if (status == SF_OK) status = fits_table_write(w, 1, b0, m, splits);
        for (int t = 0; t < no && status == SF_OK; t++) {
            for (int i = 0; i < m; i++) colbuf[i] = pred[(size_t)(b0 + i) * no + t];
            status = fits_table_write(w, 2 + t, b0, m, colbuf);
            for (int i = 0; i < m && status == SF_OK; i++)
                colbuf[i] = truth[(size_t)(b0 + i) * no + t];
            if (status == SF_OK) status = fits_table_write(w, 2 + no + t, b0, m, colbuf);
        }
        if (status != SF_OK) break;
        if (!pairs) {
            status = fits_table_write(w, c0, b0, m, dense);
            continue;
        }
        for (int i = 0; i < m; i++)
            top_pairs(dense + (size_t)i * d, d, k, pidx + (size_t)i * k, pval + (size_t)i * k);
        for (int j = 0; j < k && status == SF_OK; j++) {
            for (int i = 0; i < m; i++) icol[i] = pidx[(size_t)i * k + j];
            status = fits_table_write(w, c0 + 2 * j, b0, m, icol);
            for (int i = 0; i < m; i++) colbuf[i] = pval[(size_t)i * k + j];
            if (status == SF_OK) status = fits_table_write(w, c0 + 2 * j + 1, b0, m, colbuf);
        }
    }
    sqlite3_finalize(st);
    if (w && fits_table_close(w, status == SF_OK) != SF_OK) status = SF_ERR;
    free(pred);
    free(truth);
    free(dense);
    free(colbuf);
    free(ids);
    free(texts);
    free(splits);
    free(pidx);
    free(pval);
    free(icol);
    free(cols);
    store_rows_clear(&rows);
    store_run_clear(&run);
    return status;
}
