/* data_catalog_join.c: several catalogue files (CSV or FITS) as one catalogue,
 * joined row by row or on a key column (see data_catalog.h).
 * Layer: data. Calls: sf_util, data_catalog, data_fits.
 * Called by: data_dataset, cli_bpt, cli_predict, cli_data_options.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "data_catalog.h"
#include "data_fits.h"
#include "sf_util.h"

void catalog_sources_describe(const catalog_sources *src, char *out, size_t n) {
    size_t used = 0;
    out[0] = 0;
    for (int i = 0; i < src->n_files && used < n; i++)
        used += (size_t)snprintf(out + used, n - used, "%s%s", i ? " + " : "", src->files[i]);
    if (src->join_column && used < n)
        used += (size_t)snprintf(out + used, n - used, " (join on %s)", src->join_column);
    if (src->id_column && used < n)
        snprintf(out + used, n - used, " (IDs from %s)", src->id_column);
}

int catalog_sources_stat(const catalog_sources *src, uint64_t *size, int64_t *mtime_sec,
                         int64_t *mtime_nsec) {
    *size = 0;
    *mtime_sec = *mtime_nsec = 0;
    for (int i = 0; i < src->n_files; i++) {
        char root[4096];
        const char *file = src->files[i];
        if (fits_name_is_fits(file) && fits_root_name(file, root, sizeof root) == SF_OK)
            file = root;
        struct stat st;
        if (stat(file, &st) != 0) return sf_fail("%s: %s", file, strerror(errno));
        *size += (uint64_t)st.st_size;
        if (st.st_mtim.tv_sec > *mtime_sec ||
            (st.st_mtim.tv_sec == *mtime_sec && st.st_mtim.tv_nsec > *mtime_nsec)) {
            *mtime_sec = st.st_mtim.tv_sec;
            *mtime_nsec = st.st_mtim.tv_nsec;
        }
    }
    return SF_OK;
}

/* Row r's key in cat as text: its ID when the key is the ID column, else the
 * value of column key_col exactly ("%.17g"); NULL when missing. */
static const char *row_key(const catalog *cat, int key_col, int r, char *buf, size_t n) {
    if (key_col < 0) return cat->obj_ids[r];
    double v = catalog_value(cat, r, key_col);
    if (isnan(v)) return NULL;
    snprintf(buf, n, "%.17g", v == 0 ? 0.0 : v);
    return buf;
}

typedef struct {
    char *key;
    int row;
} keyed_row;

static int cmp_keyed(const void *a, const void *b) {
    return strcmp(((const keyed_row *)a)->key, ((const keyed_row *)b)->key);
}

/* The column of the key in cat: a value column (>= 0), the ID column (-1), or
 * SF_ERR (-2 returned) when cat has neither. */
static int key_column(const catalog *cat, const catalog_sources *src) {
    int c = catalog_column(cat, src->join_column);
    if (c >= 0) return c;
    const char *id = src->id_column;
    int is_id =
        id ? !strcasecmp(src->join_column, id)
           : !strcasecmp(src->join_column, "objID") || !strcasecmp(src->join_column, "specObjID");
    if (is_id && cat->obj_ids) return -1;
    sf_fail("%s: no column '%s' to join on (--join)", cat->path, src->join_column);
    return -2;
}

/* match[r]: the row of cat b whose key equals row r's of cat a, or -1. */
static int match_rows(const catalog *a, const catalog *b, const catalog_sources *src, int *match,
                      int *unmatched) {
    int ka = key_column(a, src), kb = ka == -2 ? -2 : key_column(b, src);
    if (ka == -2 || kb == -2) return SF_ERR;
    /* values are doubles: integers past 2^53 (64-bit IDs) would meet the wrong row */
    const catalog *sides[2] = {a, b};
    const int keys[2] = {ka, kb};
    for (int side = 0; side < 2; side++)
        for (int r = 0; keys[side] >= 0 && r < sides[side]->n_rows; r++)
            if (fabs(catalog_value(sides[side], r, keys[side])) > 9007199254740992.0)
                return sf_fail("%s: row %d: the key %s (%.17g) is past 2^53, where values "
                               "read as numbers are no longer exact; make it the ID column "
                               "(--id-column %s), which is kept as text",
                               sides[side]->path, sides[side]->line_of_row[r], src->join_column,
                               catalog_value(sides[side], r, keys[side]), src->join_column);
    keyed_row *idx = xmalloc((size_t)(b->n_rows ? b->n_rows : 1) * sizeof *idx);
    int n = 0, rc = SF_OK;
    char buf[64];
    for (int r = 0; r < b->n_rows; r++) {
        const char *k = row_key(b, kb, r, buf, sizeof buf);
        if (!k) continue;
        idx[n].key = xstrdup(k);
        idx[n++].row = r;
    }
    qsort(idx, (size_t)n, sizeof *idx, cmp_keyed);
    for (int i = 1; i < n && rc == SF_OK; i++)
        if (!strcmp(idx[i - 1].key, idx[i].key))
            rc = sf_fail("%s: rows %d and %d have the same %s (%s): a key must name one row",
                         b->path, b->line_of_row[idx[i - 1].row], b->line_of_row[idx[i].row],
                         src->join_column, idx[i].key);
    *unmatched = 0;
    for (int r = 0; r < a->n_rows && rc == SF_OK; r++) {
        keyed_row probe = {.key = (char *)row_key(a, ka, r, buf, sizeof buf)};
        keyed_row *hit = probe.key ? bsearch(&probe, idx, (size_t)n, sizeof *idx, cmp_keyed) : NULL;
        match[r] = hit ? hit->row : -1;
        if (!hit) (*unmatched)++;
    }
    for (int i = 0; i < n; i++) free(idx[i].key);
    free(idx);
    return rc;
}

static int same_value(double x, double y) { return (isnan(x) && isnan(y)) || x == y; }

int catalog_load_sources(catalog *out, const catalog_sources *src) {
    memset(out, 0, sizeof *out);
    SF_ASSERT(src->n_files >= 1 && src->n_files <= CATALOG_MAX_FILES);
    if (src->n_files == 1 && !src->join_column)
        return catalog_load_file(out, src->files[0], src->id_column, 0);

    catalog cats[CATALOG_MAX_FILES];
    int *match[CATALOG_MAX_FILES] = {NULL};
    memset(cats, 0, sizeof cats);
    int rc = SF_ERR, id_from = -1;
    for (int i = 0; i < src->n_files; i++) {
        if (catalog_load_file(&cats[i], src->files[i], src->id_column, 1) != SF_OK) goto done;
        if (id_from < 0 && cats[i].obj_ids) id_from = i;
    }
    if (id_from < 0) {
        sf_fail("%s: no file has a %s column for the galaxy IDs%s", src->files[0],
                src->id_column ? src->id_column : "objID, OBJID or specObjID",
                src->id_column ? "" : "; name it with --id-column");
        goto done;
    }
    const catalog *first = &cats[0];
    for (int i = 1; i < src->n_files; i++) {
        match[i] = xmalloc((size_t)first->n_rows * sizeof(int));
        if (src->join_column) {
            int unmatched = 0;
            if (match_rows(first, &cats[i], src, match[i], &unmatched) != SF_OK) goto done;
            if (unmatched)
                sf_warn("%d of %d rows of %s have no row with the same %s in %s: its columns "
                        "are missing there",
                        unmatched, first->n_rows, first->path, src->join_column, cats[i].path);
        } else {
            if (cats[i].n_rows != first->n_rows) {
                sf_fail("%s has %d rows but %s has %d: files are joined row by row only when "
                        "their lengths agree; join on a key column with --join COL",
                        first->path, first->n_rows, cats[i].path, cats[i].n_rows);
                goto done;
            }
            for (int r = 0; r < first->n_rows; r++) match[i][r] = r;
        }
    }

    /* the columns: the first file's, then each later file's new ones */
    int n_cols = 0, max_cols = 0;
    for (int i = 0; i < src->n_files; i++) max_cols += cats[i].n_cols;
    int *from_file = xmalloc((size_t)(max_cols + 1) * sizeof(int));
    int *from_col = xmalloc((size_t)(max_cols + 1) * sizeof(int));
    for (int i = 0; i < src->n_files; i++)
        for (int c = 0; c < cats[i].n_cols; c++) {
            int seen = -1;
            for (int j = 0; j < n_cols && seen < 0; j++)
                if (!strcasecmp(cats[from_file[j]].col_names[from_col[j]], cats[i].col_names[c]))
                    seen = j;
            if (seen < 0) {
                from_file[n_cols] = i;
                from_col[n_cols++] = c;
                continue;
            }
            /* a column two files share must be the same column */
            const catalog *a = &cats[from_file[seen]];
            int ca = from_col[seen];
            for (int r = 0; r < first->n_rows; r++) {
                int ra = from_file[seen] ? match[from_file[seen]][r] : r, rb = i ? match[i][r] : r;
                if (ra < 0 || rb < 0) continue;
                double x = catalog_value(a, ra, ca), y = catalog_value(&cats[i], rb, c);
                if (!same_value(x, y)) {
                    sf_fail("column '%s' differs between %s (row %d: %.17g) and %s (row %d: "
                            "%.17g); rename one with cfitsio's column filter, e.g. "
                            "'FILE[1][col NEWNAME = %s]'",
                            cats[i].col_names[c], a->path, a->line_of_row[ra], x, cats[i].path,
                            cats[i].line_of_row[rb], y, cats[i].col_names[c]);
                    free(from_file);
                    free(from_col);
                    goto done;
                }
            }
        }

    /* the IDs: from the first file that has them; others must agree */
    int n_keep = 0;
    int *keep = xmalloc((size_t)first->n_rows * sizeof(int));
    int dropped = 0, id_clash = 0;
    for (int r = 0; r < first->n_rows && !id_clash; r++) {
        int rid = id_from ? match[id_from][r] : r;
        if (rid < 0) {
            dropped++;
            continue;
        }
        for (int i = id_from + 1; i < src->n_files; i++) {
            int ri = match[i][r];
            if (ri >= 0 && cats[i].obj_ids &&
                strcmp(cats[i].obj_ids[ri], cats[id_from].obj_ids[rid])) {
                sf_fail("row %d of %s has ID %s but the row joined to it in %s has %s",
                        cats[id_from].line_of_row[rid], cats[id_from].path,
                        cats[id_from].obj_ids[rid], cats[i].path, cats[i].obj_ids[ri]);
                id_clash = 1;
                break;
            }
        }
        keep[n_keep++] = r;
    }
    if (id_clash || n_keep == 0) {
        if (!id_clash)
            sf_fail("no row of %s has a match in %s, where the IDs are", first->path,
                    cats[id_from].path);
        free(keep);
        free(from_file);
        free(from_col);
        goto done;
    }
    if (dropped)
        sf_warn("%d rows of %s have no match in %s, where the IDs are: left out", dropped,
                first->path, cats[id_from].path);

    char desc[4096];
    catalog_sources_describe(src, desc, sizeof desc);
    out->path = xstrdup(desc);
    out->n_rows = n_keep;
    out->n_cols = n_cols;
    out->col_names = xcalloc((size_t)n_cols + 1, sizeof(char *));
    for (int j = 0; j < n_cols; j++)
        out->col_names[j] = xstrdup(cats[from_file[j]].col_names[from_col[j]]);
    size_t nc = (size_t)(n_cols ? n_cols : 1);
    out->values = xmalloc((size_t)n_keep * nc * sizeof(double));
    out->obj_ids = xcalloc((size_t)n_keep, sizeof(char *));
    out->line_of_row = xmalloc((size_t)n_keep * sizeof(int));
    for (int k = 0; k < n_keep; k++) {
        int r = keep[k];
        int rid = id_from ? match[id_from][r] : r;
        out->obj_ids[k] = xstrdup(cats[id_from].obj_ids[rid]);
        out->line_of_row[k] = first->line_of_row[r];
        for (int j = 0; j < n_cols; j++) {
            int i = from_file[j], ri = i ? match[i][r] : r;
            out->values[(size_t)k * nc + (size_t)j] =
                ri < 0 ? NAN : catalog_value(&cats[i], ri, from_col[j]);
        }
    }
    int n_skipped = 0;
    for (int i = 0; i < src->n_files; i++) n_skipped += cats[i].n_skipped;
    out->skipped = xcalloc((size_t)n_skipped + 1, sizeof(char *));
    for (int i = 0; i < src->n_files; i++)
        for (int j = 0; j < cats[i].n_skipped; j++)
            out->skipped[out->n_skipped++] = xstrdup(cats[i].skipped[j]);
    free(keep);
    free(from_file);
    free(from_col);
    rc = catalog_check_unique_ids(out);
    if (rc != SF_OK) catalog_free(out);
done:
    for (int i = 0; i < src->n_files; i++) {
        catalog_free(&cats[i]);
        free(match[i]);
    }
    return rc;
}

int catalog_stream_open_sources(catalog_stream **out, const catalog_sources *src) {
    *out = NULL;
    if (src->n_files == 1 && !src->join_column && !fits_name_is_fits(src->files[0]))
        return catalog_stream_open_file(out, src->files[0], src->id_column);
    catalog cat;
    if (catalog_load_sources(&cat, src) != SF_OK) return SF_ERR;
    return catalog_stream_from_catalog(out, &cat);
}
