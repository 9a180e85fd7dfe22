/* query.c: the equation and its few-feature RMSEs, the .npy export, feature names.
 * Layer: query. Calls: store, store_read, sf_util; SQLite.
 * Called by: analysis_run, cli_* (8), query_view, tui_* (4).
 */
#include "query.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sf_output.h"
#include "store_internal.h"

/* ---- names ---------------------------------------------------------------------- */

void query_feature_name(const store_run *run, int feature, char *buf, size_t n) {
    snprintf(buf, n, "%s %d", run->prefix, feature);
}

int query_resolve_feature(store *s, int n_words, char *const *words, store_run *run, int *feature) {
    memset(run, 0, sizeof *run);
    char spec[STORE_PREFIX_MAX + 8] = "";
    const char *feature_text = NULL;
    if (n_words == 2) {
        snprintf(spec, sizeof spec, "%s", words[0]);
        feature_text = words[1];
        char inner[STORE_PREFIX_MAX + 8];
        if (store_parse_feature(feature_text, inner, sizeof inner, feature) != SF_OK) return SF_ERR;
        if (inner[0] && strcmp(inner, spec) != 0)
            return sf_fail("feature '%s' names run '%s' but run '%s' was given", feature_text,
                           inner, spec);
    } else if (n_words == 1) {
        feature_text = words[0];
        if (store_parse_feature(feature_text, spec, sizeof spec, feature) != SF_OK) return SF_ERR;
    } else {
        return sf_fail("expected a feature, e.g. 17, SL17 or SL 17");
    }
    if (store_run_find(s, spec, run) != SF_OK) return SF_ERR;
    if (*feature < 0 || *feature >= run->d) {
        int d = run->d;
        store_run_clear(run);
        return sf_fail("run %s has features 0..%d, not %d", spec[0] ? spec : "", d - 1, *feature);
    }
    return SF_OK;
}

/* ---- the equation ----------------------------------------------------------------- */

void query_equation_clear(query_equation *eq) {
    free(eq->terms);
    memset(eq, 0, sizeof *eq);
}

/* Accumulates, for every run row, z[level][row][t] = b_t + sum over the features
 * whose rank (order of frequency; -1 = not in any level) is below level_terms[level]
 * of w_tf * a_f, then the RMSE over validation rows of (z * std + mean) vs truth. */
static int rmse_levels(store *s, const store_run *run, const double *w /* (n_out, d) */,
                       const int *rank /* (d) */, int n_levels, const int *level_terms,
                       double *rmse, double (*rmse_t)[STORE_MAX_TARGETS], int *n_valid_out) {
    int n_out = run->n_out, d = run->d;
    store_rows rows;
    if (store_run_rows(s, run->id, &rows) != SF_OK) return SF_ERR;
    int n = rows.n;
    float *truth = xmalloc((size_t)n * n_out * sizeof *truth + 1);
    if (store_run_predictions(s, run->id, &rows, n_out, NULL, truth) != SF_OK) {
        free(truth);
        store_rows_clear(&rows);
        return SF_ERR;
    }
    size_t per_level = (size_t)n * n_out;
    double *z = xmalloc((size_t)n_levels * per_level * sizeof *z + 1);
    for (int L = 0; L < n_levels; L++)
        for (int r = 0; r < n; r++)
            for (int t = 0; t < n_out; t++) z[L * per_level + (size_t)r * n_out + t] = run->bias[t];

    /* rows and the activations' primary key are both in galaxy order: merge */
    sqlite3_stmt *st =
        store_prepare(s, "SELECT galaxy_id, feature, value FROM activations WHERE run_id = ?1 "
                         "ORDER BY galaxy_id");
    int status = SF_OK;
    if (!st) {
        status = SF_ERR;
        goto done;
    }
    sqlite3_bind_int64(st, 1, run->id);
    int r = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t gid = sqlite3_column_int64(st, 0);
        while (r < n && rows.galaxy_id[r] < gid) r++;
        if (r >= n || rows.galaxy_id[r] != gid || !rows.split[r]) continue;
        int f = sqlite3_column_int(st, 1);
        if (f < 0 || f >= d || rank[f] < 0) continue;
        double v = sqlite3_column_double(st, 2);
        for (int L = 0; L < n_levels; L++) {
            if (rank[f] >= level_terms[L]) continue;
            double *zr = &z[L * per_level + (size_t)r * n_out];
            for (int t = 0; t < n_out; t++) zr[t] += w[(size_t)t * d + f] * v;
        }
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        status = store_db_fail(s, "reading activations");
        goto done;
    }
    int nv = 0;
    for (int i = 0; i < n; i++) nv += rows.split[i] != 0;
    for (int L = 0; L < n_levels; L++) {
        double se = 0, se_t[STORE_MAX_TARGETS] = {0};
        for (int i = 0; i < n; i++) {
            if (!rows.split[i]) continue;
            for (int t = 0; t < n_out; t++) {
                double pred = z[L * per_level + (size_t)i * n_out + t] * run->target_std[t] +
                              run->target_mean[t];
                double e = pred - truth[(size_t)i * n_out + t];
                se += e * e;
                se_t[t] += e * e;
            }
        }
        rmse[L] = nv ? sqrt(se / ((double)nv * n_out)) : NAN;
        for (int t = 0; t < n_out; t++) rmse_t[L][t] = nv ? sqrt(se_t[t] / nv) : NAN;
    }
    *n_valid_out = nv;
done:
    free(z);
    free(truth);
    store_rows_clear(&rows);
    return status;
}

/* The run, all its features by frequency, and the head as (n_out, d). */
static int load_head(store *s, int64_t run_id, store_run *run, store_feature **feats, int *nf,
                     double **w) {
    if (store_run_get(s, run_id, run) != SF_OK) return SF_ERR;
    if (store_features(s, run_id, STORE_SORT_FREQUENCY, 1, feats, nf) != SF_OK) {
        store_run_clear(run);
        return SF_ERR;
    }
    *w = xcalloc((size_t)run->n_out * run->d, sizeof **w);
    for (int i = 0; i < *nf; i++)
        for (int t = 0; t < run->n_out; t++)
            (*w)[(size_t)t * run->d + (*feats)[i].feature] = (*feats)[i].weight[t];
    return SF_OK;
}

int query_rmse_with_features(store *s, int64_t run_id, const int *features, int n, double *rmse,
                             double *rmse_t) {
    store_run run;
    store_feature *feats = NULL;
    int nf = 0;
    double *w = NULL;
    if (load_head(s, run_id, &run, &feats, &nf, &w) != SF_OK) return SF_ERR;
    int *rank = xmalloc((size_t)run.d * sizeof *rank);
    for (int f = 0; f < run.d; f++) rank[f] = n < 0 ? 0 : -1;
    for (int i = 0; i < n; i++) {
        if (features[i] < 0 || features[i] >= run.d) {
            free(rank);
            free(w);
            free(feats);
            store_run_clear(&run);
            return sf_fail("feature %d outside 0..%d", features[i], run.d - 1);
        }
        rank[features[i]] = 0;
    }
    int level = 1, nv = 0;
    double r[1] = {NAN}, rt[1][STORE_MAX_TARGETS] = {{0}};
    int status = rmse_levels(s, &run, w, rank, 1, &level, r, rt, &nv);
    if (status == SF_OK) {
        *rmse = r[0];
        if (rmse_t)
            for (int t = 0; t < run.n_out; t++) rmse_t[t] = rt[0][t];
    }
    free(rank);
    free(w);
    free(feats);
    store_run_clear(&run);
    return status;
}

int query_equation_compute(store *s, int64_t run_id, query_equation *eq) {
    memset(eq, 0, sizeof *eq);
    store_run run;
    store_feature *feats = NULL;
    store_feature_sums *sums = NULL;
    store_level *levels = NULL;
    int nf = 0, n_levels = 0;
    if (store_run_get(s, run_id, &run) != SF_OK) return SF_ERR;
    int n_out = run.n_out, d = run.d, status = SF_ERR;
    sums = xcalloc((size_t)d, sizeof *sums);
    if (store_features(s, run_id, STORE_SORT_FREQUENCY, 0, &feats, &nf) != SF_OK ||
        store_run_feature_sums(s, run_id, d, sums) != SF_OK ||
        store_run_levels(s, run_id, &levels, &n_levels) != SF_OK)
        goto done;
    eq->run_id = run.id;
    snprintf(eq->prefix, sizeof eq->prefix, "%s", run.prefix);
    eq->n_out = n_out;
    for (int t = 0; t < n_out; t++) {
        snprintf(eq->target_names[t], sizeof eq->target_names[t], "%s", run.target_names[t]);
        eq->intercept[t] = run.target_mean[t] + run.target_std[t] * run.bias[t];
    }
    eq->model_valid_rmse = run.valid_rmse;
    eq->n_valid = run.n_valid;

    /* live features, already by frequency; mean over validation galaxies of
     * w'_ti A_i = std_t w_ti mean(a_i), a_i = 0 where inactive */
    eq->terms = xcalloc((size_t)(nf > 0 ? nf : 1), sizeof *eq->terms);
    for (int i = 0; i < nf; i++) {
        const store_feature *f = &feats[i];
        query_term *term = &eq->terms[eq->n_terms++];
        term->feature = f->feature;
        term->n_active_valid = f->n_active_valid;
        term->f_activated = f->f_activated;
        term->max_valid = f->max_valid;
        snprintf(term->label, sizeof term->label, "%s", f->label);
        double mean_a = eq->n_valid ? sums[f->feature].sum_valid / eq->n_valid : 0;
        for (int t = 0; t < n_out; t++) {
            term->weight[t] = f->weight[t];
            term->coef[t] = run.target_std[t] * f->weight[t] * f->max_valid;
            term->mean_contrib[t] = run.target_std[t] * term->weight[t] * mean_a;
        }
    }
    /* the RMSEs with the top 1, 2, 4, 8 and all terms, computed when the run was stored */
    for (int l = 0; l < n_levels && eq->n_levels < QUERY_EQ_LEVELS; l++) {
        int L = eq->n_levels++;
        eq->level_terms[L] = levels[l].n_terms;
        eq->rmse[L] = levels[l].rmse;
        for (int t = 0; t < n_out; t++) eq->rmse_t[L][t] = levels[l].rmse_t[t];
    }
    status = SF_OK;
done:
    free(levels);
    free(sums);
    free(feats);
    store_run_clear(&run);
    if (status != SF_OK) query_equation_clear(eq);
    return status;
}

int query_rmse_top(store *s, int64_t run_id, int m, double *rmse, double *rmse_t) {
    store_level *levels = NULL;
    int n = 0;
    if (store_run_levels(s, run_id, &levels, &n) != SF_OK) return SF_ERR;
    for (int l = 0; l < n; l++) {
        if (levels[l].n_terms != m && !(l == n - 1 && m > levels[l].n_terms)) continue;
        *rmse = levels[l].rmse;
        if (rmse_t)
            for (int t = 0; t < STORE_MAX_TARGETS; t++) rmse_t[t] = levels[l].rmse_t[t];
        free(levels);
        return SF_OK;
    }
    free(levels);
    /* a number of terms not stored: the head over the validation galaxies, once more */
    store_feature *f = NULL;
    int nf = 0;
    if (store_features(s, run_id, STORE_SORT_FREQUENCY, 0, &f, &nf) != SF_OK) return SF_ERR;
    int *top = xmalloc(((size_t)nf + 1) * sizeof *top);
    int k = m < nf ? m : nf;
    for (int i = 0; i < k; i++) top[i] = f[i].feature;
    int rc = query_rmse_with_features(s, run_id, top, k, rmse, rmse_t);
    free(top);
    free(f);
    return rc;
}

/* ---- .npy export ---------------------------------------------------------------------- */

void query_objids_path(const char *npy_path, char *out, size_t n) {
    size_t len = strlen(npy_path);
    if (len > 4 && !strcmp(npy_path + len - 4, ".npy"))
        snprintf(out, n, "%.*s.objids.txt", (int)(len - 4), npy_path);
    else snprintf(out, n, "%s.objids.txt", npy_path);
}

/* The NPY 1.0 header: magic, version, little-endian header length, then a Python dict
 * padded with spaces and a newline so the data starts at a multiple of 64 bytes. */
static int write_npy_header(FILE *f, int rows, int cols) {
    char dict[128];
    int dl = snprintf(dict, sizeof dict,
                      "{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d), }", rows, cols);
    int total = 10 + dl + 1;
    int padded = (total + 63) / 64 * 64;
    int header_len = padded - 10;
    unsigned char pre[10] = {0x93,
                             'N',
                             'U',
                             'M',
                             'P',
                             'Y',
                             1,
                             0,
                             (unsigned char)(header_len & 0xff),
                             (unsigned char)(header_len >> 8)};
    if (fwrite(pre, 1, 10, f) != 10 || fwrite(dict, 1, (size_t)dl, f) != (size_t)dl) return SF_ERR;
    for (int i = 10 + dl; i < padded - 1; i++) fputc(' ', f);
    fputc('\n', f);
    return ferror(f) ? SF_ERR : SF_OK;
}

static int little_endian(void) {
    const uint16_t one = 1;
    return *(const uint8_t *)&one == 1;
}

int query_export_npy(store *s, int64_t run_id, const char *path) {
    if (!strcmp(path, "-"))
        return sf_fail("the activations go to two files (OUT.npy and OUT.objids.txt): give a "
                       "file name, not '-'");
    char ids_path[4096];
    query_objids_path(path, ids_path, sizeof ids_path);
    if (sf_output_check(path) == SF_ERR || sf_output_check(ids_path) == SF_ERR) return SF_ERR;
    store_run run;
    if (store_run_get(s, run_id, &run) != SF_OK) return SF_ERR;
    int d = run.d;
    store_run_clear(&run);
    store_rows rows;
    if (store_run_rows(s, run_id, &rows) != SF_OK) return SF_ERR;

    sf_output npy, ids;
    int have_npy = 0, have_ids = 0;
    float *row = xcalloc((size_t)d, sizeof *row);
    int status = SF_OK;
    sqlite3_stmt *st = NULL;
    if (sf_output_open(&npy, path) != SF_OK) {
        status = SF_ERR;
        goto done;
    }
    have_npy = 1;
    if (sf_output_open(&ids, ids_path) != SF_OK) {
        status = SF_ERR;
        goto done;
    }
    have_ids = 1;
    FILE *f = npy.f, *g = ids.f;
    if (write_npy_header(f, rows.n, d) != SF_OK) {
        status = sf_fail("%s: write error: %s", path, strerror(errno));
        goto done;
    }
    st = store_prepare(s, "SELECT galaxy_id, feature, value FROM activations WHERE run_id = ?1 "
                          "ORDER BY galaxy_id");
    if (!st) {
        status = SF_ERR;
        goto done;
    }
    sqlite3_bind_int64(st, 1, run_id);
    int rc = sqlite3_step(st);
    for (int r = 0; r < rows.n; r++) {
        memset(row, 0, (size_t)d * sizeof *row);
        while (rc == SQLITE_ROW && sqlite3_column_int64(st, 0) <= rows.galaxy_id[r]) {
            if (sqlite3_column_int64(st, 0) == rows.galaxy_id[r]) {
                int feat = sqlite3_column_int(st, 1);
                if (feat >= 0 && feat < d) row[feat] = (float)sqlite3_column_double(st, 2);
            }
            rc = sqlite3_step(st);
        }
        if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
            status = store_db_fail(s, "reading activations");
            goto done;
        }
        if (!little_endian())
            for (int j = 0; j < d; j++) {
                uint32_t u;
                memcpy(&u, &row[j], 4);
                u = __builtin_bswap32(u);
                memcpy(&row[j], &u, 4);
            }
        if (fwrite(row, sizeof *row, (size_t)d, f) != (size_t)d) {
            status = sf_fail("%s: write error: %s", path, strerror(errno));
            goto done;
        }
        fprintf(g, "%s\n", rows.objid[r]);
    }
done:
    sqlite3_finalize(st);
    free(row);
    store_rows_clear(&rows);
    /* the objIDs first: the .npy is what readers look for */
    if (have_ids) {
        if (status == SF_OK) status = sf_output_commit(&ids);
        else sf_output_abort(&ids);
    }
    if (have_npy) {
        if (status == SF_OK) status = sf_output_commit(&npy);
        else sf_output_abort(&npy);
    }
    return status;
}
