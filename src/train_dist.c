/* train_dist.c: data-parallel training over MPI ranks: batch slices, gradient and
 * running-statistics averages, rank 0's state shared, and the checks that every rank
 * trains on the same galaxies with the same weights. See include/train_dist.h.
 * Layer: train. Calls: data_dataset, data_image, nn_model, sf_mpi, sf_util.
 * Called by: train_loop, cli_train.
 */
#include "train_dist.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sf_mpi.h"

int train_dist_begin(train_dist *d, int batch) {
    memset(d, 0, sizeof *d);
    d->rank = sf_mpi_rank();
    d->size = sf_mpi_size();
    d->batch = batch;
    if (batch >= 1 && batch % d->size != 0)
        return sf_fail("--batch %d is the global batch, split evenly among the %d ranks: it "
                       "must be a multiple of %d (e.g. %d or %d)",
                       batch, d->size, d->size, batch / d->size * d->size,
                       (batch / d->size + 1) * d->size);
    d->local = batch / d->size;
    d->first = d->rank * d->local;
    return SF_OK;
}

void train_dist_range(const train_dist *d, int n, int *lo, int *hi) {
    *lo = (int)((long)n * d->rank / d->size);
    *hi = (int)((long)n * (d->rank + 1) / d->size);
}

void train_dist_slice(const train_dist *d, const dataset *ds, const int *batch, const uint8_t *tr,
                      float *x, float *y) {
    dataset_batch_transformed(ds, batch + d->first, d->local, x, y, tr ? tr + d->first : NULL);
}

int train_dist_backward(train_dist *d, sfnet *m, const float *x, const float *y, float *loss) {
    sfnet_zero_grad(m);
    int ok = sfnet_forward(m, x, d->local, 1) == SF_OK;
    float local = ok ? sfnet_loss(m, y, d->local, 1) : NAN;
    if (d->size == 1) {
        *loss = local;
        return ok ? SF_OK : SF_ERR;
    }
    if (!ok) train_dist_say("%s", sf_last_error());
    /* every rank takes part in the sums, failed or not, so that none waits for ever */
    train_dist_average_grads(d, m);
    /* every slice has d->local images: the batch's mean square is the mean of theirs */
    double sums[2] = {ok ? (double)local * local : 0, ok ? 0 : 1};
    sf_mpi_sum_f64(sums, 2);
    *loss = (float)sqrt(sums[0] / d->size);
    if (!ok) return SF_ERR;
    if (sums[1] > 0) return sf_fail("another rank could not run its slice (see its message)");
    return SF_OK;
}

int train_dist_gradient(train_dist *d, sfnet *m, const dataset *ds, const int *batch,
                        const sf_rng *flips, float *x, float *y, float *loss) {
    /* the global batch's dihedral transforms, drawn as one process draws them */
    uint8_t *tr = NULL;
    if (flips) {
        sf_rng r = *flips;
        tr = xmalloc((size_t)d->batch);
        for (int b = 0; b < d->batch; b++) tr[b] = (uint8_t)sf_rng_below(&r, 8);
    }
    train_dist_slice(d, ds, batch, tr, x, y);
    free(tr);
    return train_dist_backward(d, m, x, y, loss);
}

void train_dist_average_grads(train_dist *d, sfnet *m) {
    if (d->size == 1) return;
    double t0 = sf_now();
    sf_mpi_sum_f32(m->grads, m->n_params);
    const float inv = 1.0f / (float)d->size;
    float *g = m->grads;
    const size_t n = m->n_params;
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++) g[i] *= inv;
    d->grad_sum_s += sf_now() - t0;
    d->grad_sums++;
}

void train_dist_average_running_stats(sfnet *m) {
    int size = sf_mpi_size();
    if (size == 1 || m->n_buffers == 0) return;
    sf_mpi_sum_f32(m->buffers, m->n_buffers);
    for (size_t i = 0; i < m->n_buffers; i++) m->buffers[i] /= (float)size;
    sfnet_params_changed(m);
}

void train_dist_share_model(sfnet *m, ranger *o) {
    if (sf_mpi_size() == 1) return;
    sf_mpi_bcast(m->params, m->n_params * sizeof(float), 0);
    sf_mpi_bcast(m->buffers, m->n_buffers * sizeof(float), 0);
    int64_t nbt = m->num_batches_tracked;
    sf_mpi_bcast(&nbt, sizeof nbt, 0);
    m->num_batches_tracked = (long)nbt;
    if (o) {
        /* grad_avg, sqr_avg and slow are one allocation (ranger_init) */
        sf_mpi_bcast(o->grad_avg, 3 * o->n * sizeof(float), 0);
        int64_t counters[3] = {o->step, o->count, o->slow_ready};
        sf_mpi_bcast(counters, sizeof counters, 0);
        o->step = (long)counters[0];
        o->count = (long)counters[1];
        o->slow_ready = (int)counters[2];
    }
    sfnet_params_changed(m);
}

static uint64_t hash_words(uint64_t h, const void *data, size_t bytes) {
    const uint8_t *p = data;
    for (size_t i = 0; i < bytes; i++) h = (h ^ p[i]) * 0x100000001b3ULL;
    return h;
}

/* FNV-1a over 32-bit words in 8 interleaved lanes (a byte at a time would take a
 * second for a width-64 model and its optimizer), folded at the end. */
static uint64_t hash_floats(uint64_t h, const float *x, size_t n) {
    uint64_t lane[8];
    for (int l = 0; l < 8; l++) lane[l] = h + (uint64_t)l * 0x9E3779B97F4A7C15ULL;
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; l++) {
            uint32_t w;
            memcpy(&w, x + i + l, 4);
            lane[l] = (lane[l] ^ w) * 0x100000001b3ULL;
        }
    for (; i < n; i++) {
        uint32_t w;
        memcpy(&w, x + i, 4);
        lane[0] = (lane[0] ^ w) * 0x100000001b3ULL;
    }
    return hash_words(h, lane, sizeof lane);
}

uint64_t train_dist_checksum(const sfnet *m, const ranger *o) {
    uint64_t h = 0xcbf29ce484222325ULL;
    h = hash_floats(h, m->params, m->n_params);
    h = hash_floats(h, m->buffers, m->n_buffers);
    int64_t nbt = m->num_batches_tracked;
    h = hash_words(h, &nbt, sizeof nbt);
    if (o) {
        h = hash_floats(h, o->grad_avg, 3 * o->n);
        int64_t counters[3] = {o->step, o->count, o->slow_ready};
        h = hash_words(h, counters, sizeof counters);
    }
    return h;
}

int train_dist_keep_identical(sfnet *m, ranger *o, int epoch) {
    if (sf_mpi_size() == 1) return 1;
    uint64_t lo, hi;
    sf_mpi_minmax_u64(train_dist_checksum(m, o), &lo, &hi);
    if (lo == hi) return 1;
    if (sf_mpi_rank() == 0)
        sf_warn("after epoch %d the ranks' weights differ in their last bits (the MPI sums "
                "are not the same bits on every rank); every rank continues from rank 0's",
                epoch + 1);
    train_dist_share_model(m, o);
    return 0;
}

void train_dist_say(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    if (sf_mpi_size() > 1) fprintf(stderr, "sfnet-explore: %s: ", sf_mpi_where());
    else fputs("sfnet-explore: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* What identifies the galaxies a rank opened: their catalogue rows, their split and
 * the normalisation (computed from the training pixels). */
static uint64_t dataset_hash(const dataset *ds) {
    uint64_t h = 0xcbf29ce484222325ULL;
    int32_t head[3] = {ds->n, ds->n_train, ds->n_valid};
    h = hash_words(h, head, sizeof head);
    h = hash_words(h, ds->cat_row, (size_t)ds->n * sizeof *ds->cat_row);
    h = hash_words(h, ds->split, (size_t)ds->n);
    h = hash_words(h, ds->mean, sizeof ds->mean);
    h = hash_words(h, ds->std, sizeof ds->std);
    return h;
}

/* Says what this rank makes of the image of catalogue row `row`, which rank 0 read
 * (theirs = 1) or could not (theirs = 0). */
static void say_image(const dataset *ds, const char *images_dir, int row, int theirs) {
    const char *id = ds->cat.obj_ids[row];
    char path[4200];
    if (image_find(path, sizeof path, images_dir, id) != SF_OK)
        train_dist_say("finds no image of objID %s (catalogue line %d) in %s, which rank 0 "
                       "%s: every rank must see the same images",
                       id, ds->cat.line_of_row[row], images_dir, theirs ? "read" : "lacks too");
    else if (theirs)
        train_dist_say("cannot read %s (objID %s), which rank 0 read: every rank must see the "
                       "same images",
                       path, id);
    else
        train_dist_say("read %s (objID %s), which rank 0 could not: every rank must see the "
                       "same images",
                       path, id);
}

int train_dist_same_galaxies(const dataset *ds, const char *images_dir) {
    if (sf_mpi_size() == 1) return SF_OK;
    uint64_t lo, hi;
    sf_mpi_minmax_u64(dataset_hash(ds), &lo, &hi);
    if (lo == hi) return SF_OK;

    /* Find out what differs from rank 0 and let the rank that differs say it. */
    int n0 = ds->n;
    sf_mpi_bcast(&n0, sizeof n0, 0);
    int *rows0 = xmalloc(((size_t)n0 + 1) * sizeof *rows0);
    if (sf_mpi_rank() == 0) memcpy(rows0, ds->cat_row, (size_t)n0 * sizeof *rows0);
    sf_mpi_bcast(rows0, (size_t)n0 * sizeof *rows0, 0);
    float norm0[6];
    memcpy(norm0, ds->mean, sizeof ds->mean);
    memcpy(norm0 + 3, ds->std, sizeof ds->std);
    sf_mpi_bcast(norm0, sizeof norm0, 0);
    if (sf_mpi_rank() != 0) {
        int i = 0, j = 0, said = 0;
        while (!said && (i < n0 || j < ds->n)) {
            int a = i < n0 ? rows0[i] : 1 << 30, b = j < ds->n ? ds->cat_row[j] : 1 << 30;
            if (a == b) {
                i++, j++;
            } else {
                say_image(ds, images_dir, a < b ? a : b, a < b);
                said = 1;
            }
        }
        if (!said && (memcmp(norm0, ds->mean, sizeof ds->mean) ||
                      memcmp(norm0 + 3, ds->std, sizeof ds->std)))
            train_dist_say("the images under %s decode to other pixels than rank 0's "
                           "(channel means %.6f %.6f %.6f, rank 0: %.6f %.6f %.6f): every "
                           "rank must read the same files",
                           images_dir, ds->mean[0], ds->mean[1], ds->mean[2], norm0[0], norm0[1],
                           norm0[2]);
    }
    free(rows0);
    return sf_fail("the ranks do not see the same galaxies (the rank that differs named "
                   "the file)");
}

int train_dist_any(int flag) {
    if (sf_mpi_size() == 1) return flag != 0;
    return !sf_mpi_all_ok(!flag);
}
