/* infer_store.c: the pipeline's sink that writes a run into a database (infer.h).
 * Layer: infer. Calls: data_catalog, infer_pipe, nn_model, store, store_write, sf_util.
 * Called by: cli_predict, cli_train.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infer.h"
#include "sf_util.h"

typedef struct {
    store_run_writer *w;
    const infer_galaxies *g;
    int n_out, d, dense;
    int n_cols, col_ra, col_dec;
    const int *col_of; /* (n_cols) catalogue column of each stored column */
    /* one batch's inputs, sized for the model's batch */
    store_galaxy_input *gal;
    char (*objids)[STORE_OBJID_MAX];
    double *values;
    uint8_t *split;
    float *truth;
    int *idx;
    float *val;
} run_sink;

static int write_batch(void *ctx, const infer_batch *b) {
    run_sink *rs = ctx;
    const infer_galaxies *g = rs->g;
    const catalog *cat = g->cat;
    int n_out = rs->n_out, d = rs->d;
    for (int i = 0; i < b->n; i++) {
        int gi = b->gal[i];
        const char *obj_id;
        const double *row_values;
        if (g->row) {
            if (g->row(g->row_ctx, gi, &obj_id, &row_values) != SF_OK) return SF_ERR;
        } else {
            obj_id = cat->obj_ids[g->rows[gi]];
            row_values = cat->values + (size_t)g->rows[gi] * (size_t)cat->n_cols;
        }
        store_galaxy_input *gal = &rs->gal[i];
        memset(gal, 0, sizeof *gal);
        /* the row's text may not outlive the next row: the batch keeps a copy */
        char *id = rs->objids[i];
        snprintf(id, STORE_OBJID_MAX, "%s", obj_id);
        if (strlen(obj_id) >= STORE_OBJID_MAX)
            return sf_fail("galaxy %s: objID longer than %d characters", obj_id,
                           STORE_OBJID_MAX - 1);
        gal->objid = id;
        gal->ra = rs->col_ra >= 0 ? row_values[rs->col_ra] : NAN;
        gal->dec = rs->col_dec >= 0 ? row_values[rs->col_dec] : NAN;
        double *v = &rs->values[(size_t)i * (size_t)rs->n_cols];
        for (int c = 0; c < rs->n_cols; c++) v[c] = row_values[rs->col_of[c]];
        gal->values = v;
        if (b->thumb && b->thumb[i]) {
            gal->thumb = b->thumb[i];
            gal->thumb_len = b->thumb_len[i];
            gal->thumb_w = gal->thumb_h = INFER_THUMB_SIZE;
            gal->thumb_format = "jpeg";
        }
        rs->split[i] = g->split[gi];
        memcpy(&rs->truth[(size_t)i * n_out], &g->truth[(size_t)gi * n_out],
               (size_t)n_out * sizeof(float));
        if (rs->dense)
            for (int j = 0; j < d; j++) {
                float a = b->dense[(size_t)i * d + j];
                rs->idx[(size_t)i * d + j] = j;
                rs->val[(size_t)i * d + j] = a > 0 ? a : 0;
            }
    }
    store_run_input part;
    memset(&part, 0, sizeof part);
    part.n = b->n;
    part.galaxies = rs->gal;
    part.split = rs->split;
    part.pred = b->pred;
    part.truth = rs->truth;
    part.topk_idx = rs->dense ? rs->idx : b->feat_idx;
    part.topk_val = rs->dense ? rs->val : b->feat_val;
    return store_run_add(rs->w, &part);
}

void infer_run_meta(store_run_input *in, sfnet *m, const target_set *ts, const float mean[3],
                    const float std[3], const char *catalog_path, const char *images,
                    const char *engine) {
    memset(in, 0, sizeof *in);
    store_run *r = &in->run;
    int n_out = m->cfg.n_out;
    SF_ASSERT(ts->n_targets == n_out && n_out <= STORE_MAX_TARGETS);
    r->n_out = n_out;
    const sfnet_tensor *fc_b = sfnet_find_tensor(m, "fc.bias");
    const sfnet_tensor *fc_w = sfnet_find_tensor(m, "fc.weight");
    SF_ASSERT(fc_b && fc_w);
    for (int t = 0; t < n_out; t++) {
        snprintf(r->target_names[t], sizeof r->target_names[t], "%s", ts->names[t]);
        r->bias[t] = sfnet_tensor_data(m, fc_b)[t];
        r->target_mean[t] = 0;
        r->target_std[t] = 1;
        r->train_rmse_t[t] = r->valid_rmse_t[t] = NAN;
    }
    r->train_rmse = r->valid_rmse = NAN;
    r->k = m->cfg.k;
    r->width = m->cfg.width;
    r->d = m->d;
    for (int c = 0; c < 3; c++) {
        r->image_mean[c] = mean[c];
        r->image_std[c] = std[c];
    }
    char *abs_cat = realpath(catalog_path, NULL), *abs_img = realpath(images, NULL);
    snprintf(r->catalog, sizeof r->catalog, "%s", abs_cat ? abs_cat : catalog_path);
    snprintf(r->images, sizeof r->images, "%s", abs_img ? abs_img : images);
    free(abs_cat);
    free(abs_img);
    snprintf(r->engine, sizeof r->engine, "%s", engine);
    r->train_seconds = NAN;
    in->head_w = sfnet_tensor_data(m, fc_w);
}

int infer_build_run(store *s, sfnet *m, const infer_source *src, const infer_galaxies *g,
                    const store_run_input *meta, int64_t *run_id, infer_stats *stats) {
    memset(stats, 0, sizeof *stats);
    const catalog *cat = g->cat;
    int n_source = src->ds ? src->ds->n : src->n;
    if (g->n != n_source) return sf_fail("%d galaxies to store but %d images", g->n, n_source);
    int B = m->max_batch, d = m->d, dense = m->cfg.k == 0;
    run_sink rs;
    memset(&rs, 0, sizeof rs);
    rs.g = g;
    rs.n_out = m->cfg.n_out;
    rs.d = d;
    rs.dense = dense;
    rs.col_ra = catalog_column(cat, "ra");
    rs.col_dec = catalog_column(cat, "dec");
    int *col_of = xmalloc((size_t)(cat->n_cols + 1) * sizeof *col_of);
    const char **names = xmalloc((size_t)(cat->n_cols + 1) * sizeof *names);
    for (int c = 0; c < cat->n_cols; c++) {
        if (c == rs.col_ra || c == rs.col_dec) continue;
        col_of[rs.n_cols] = c;
        names[rs.n_cols++] = cat->col_names[c];
    }
    rs.col_of = col_of;
    rs.gal = xcalloc((size_t)B, sizeof *rs.gal);
    rs.objids = xcalloc((size_t)B, sizeof *rs.objids);
    rs.values = xmalloc(((size_t)B * (size_t)rs.n_cols + 1) * sizeof *rs.values);
    rs.split = xmalloc((size_t)B);
    rs.truth = xmalloc((size_t)B * (size_t)rs.n_out * sizeof *rs.truth);
    if (dense) {
        rs.idx = xmalloc((size_t)B * d * sizeof *rs.idx);
        rs.val = xmalloc((size_t)B * d * sizeof *rs.val);
    }

    store_run_input in = *meta;
    in.n_columns = rs.n_cols;
    in.column_names = names;
    in.k_stored = dense ? d : m->cfg.k;
    in.n = 0;
    int rc = store_run_begin(s, &in, &rs.w);
    if (rc == SF_OK) {
        infer_source with_dense = *src;
        with_dense.want_dense = dense;
        rc = infer_pipe_run(m, &with_dense, write_batch, &rs, stats);
        if (rc == SF_OK && stats->interrupted)
            rc = sf_fail("interrupted: nothing was written to %s", store_path(s));
        if (rc == SF_OK && stats->n_done == 0)
            rc = sf_fail("no galaxy could be run through the model: nothing was written");
        if (rc == SF_OK) rc = store_run_finish(rs.w, run_id);
        else store_run_abort(rs.w);
    }
    free(col_of);
    free(names);
    free(rs.gal);
    free(rs.objids);
    free(rs.values);
    free(rs.split);
    free(rs.truth);
    free(rs.idx);
    free(rs.val);
    return rc;
}
