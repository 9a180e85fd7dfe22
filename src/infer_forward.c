/* infer_forward.c: the model in eval mode over one batch already in memory, or over
 * galaxies of a dataset, keeping each galaxy's prediction and its k (feature, value)
 * pairs. See include/infer.h.
 * Layer: infer. Calls: data_dataset, nn_model, sf_util.
 * Called by: infer_pipe.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infer.h"
#include "sf_util.h"

int infer_forward_batch(sfnet *m, const float *x, int B, float *pred, int *feat_idx,
                        float *feat_val, float *dense) {
    int k = m->cfg.k, d = m->d, no = m->cfg.n_out;
    if (sfnet_forward(m, x, B, 0) != SF_OK) return SF_ERR;
    memcpy(pred, m->out, (size_t)B * no * sizeof(float));
    for (int b = 0; b < B; b++)
        for (int j = 0; j < k; j++) {
            int f = m->topk_idx[(size_t)b * k + j];
            feat_idx[(size_t)b * k + j] = f;
            feat_val[(size_t)b * k + j] = m->sparse[(size_t)b * d + f];
        }
    if (dense) memcpy(dense, m->feats, (size_t)B * d * sizeof(float));
    return SF_OK;
}

void infer_result_free(infer_result *r) {
    free(r->pred);
    free(r->feat_idx);
    free(r->feat_val);
    free(r->dense);
    memset(r, 0, sizeof *r);
}

int infer_dataset(sfnet *m, const dataset *ds, const int *idx, int n, int want_dense, int quiet,
                  infer_result *res) {
    memset(res, 0, sizeof *res);
    if (ds->size != m->cfg.in_size)
        return sf_fail("the data set's images are %dx%d but the model takes %dx%d", ds->size,
                       ds->size, m->cfg.in_size, m->cfg.in_size);
    int k = m->cfg.k, d = m->d, no = m->cfg.n_out;
    res->n = n;
    res->n_out = no;
    res->k = k;
    res->d = d;
    res->pred = xmalloc(((size_t)n * no + 1) * sizeof(float));
    res->feat_idx = xmalloc(((size_t)n * k + 1) * sizeof(int));
    res->feat_val = xmalloc(((size_t)n * k + 1) * sizeof(float));
    res->dense = want_dense ? xmalloc(((size_t)n * d + 1) * sizeof(float)) : NULL;
    size_t img = (size_t)3 * ds->size * ds->size;
    float *x = xmalloc_aligned((size_t)m->max_batch * img * sizeof(float));
    sf_progress bar;
    sf_progress_start(&bar, "inference", n, "img");
    bar.quiet |= quiet;
    int rc = SF_OK;
    for (int i = 0; i < n && rc == SF_OK; i += m->max_batch) {
        int b = n - i < m->max_batch ? n - i : m->max_batch;
        dataset_batch(ds, idx + i, b, x, NULL, NULL);
        rc = infer_forward_batch(m, x, b, res->pred + (size_t)i * no, res->feat_idx + (size_t)i * k,
                                 res->feat_val + (size_t)i * k,
                                 want_dense ? res->dense + (size_t)i * d : NULL);
        sf_progress_update(&bar, i + b, NULL);
    }
    if (rc == SF_OK) sf_progress_finish(&bar, NULL);
    else if (!bar.quiet) fputc('\n', stderr);
    free(x);
    if (rc != SF_OK) infer_result_free(res);
    return rc;
}
