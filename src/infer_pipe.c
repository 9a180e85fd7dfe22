/* infer_pipe.c: reading, decoding, the network and the sink overlapped over a ring of
 * batch slots (see infer.h). One mutex and one condition variable guard every slot's
 * state; the work itself runs outside the lock.
 *
 * A slot goes FREE -> READ (a reader thread has the batch's files in memory) ->
 * COMPUTED (the calling thread decoded them with its OpenMP team and ran the
 * network) -> FREE (the sink thread wrote it). Decoding runs on the network's own
 * threads, between two batches, rather than on threads of its own: a decoding thread
 * beside the network's takes a core from one of them, and every other thread of the
 * network then waits for that one at the end of each layer, which on two cores cost
 * more than the decoding itself (211 against 230 galaxies/s). Reading, which waits on
 * the disk or the network file system rather than the processor, and the SQLite
 * writes, which are serial, overlap the network.
 * Layer: infer. Calls: data_image, infer_forward, sf_util; pthreads, OpenMP.
 * Called by: cli_predict, infer_store.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infer.h"
#include "sf_util.h"
#include "store.h"

enum { SLOT_FREE, SLOT_READ, SLOT_COMPUTED };
enum { N_SLOTS = 4 };

typedef struct {
    int state;
    int batch;    /* the batch it holds (READ, COMPUTED) or may take next (FREE) */
    int n_kept;   /* galaxies that decoded */
    int *gal;     /* (B) their galaxy numbers */
    char **path;  /* (B) their files, when the source gives them by path() */
    char **bytes; /* (B) file contents (NULL: unreadable, why in err) */
    size_t *len;
    char (*err)[256]; /* (B) */
    float *x;         /* (B, 3, S, S) */
    uint8_t *u8;      /* (B, 3, S, S) the prepared bytes of decoded images */
    uint8_t *ok;      /* (B) decoded */
    uint8_t **thumb;  /* (B) */
    size_t *thumb_len;
    float *pred; /* (B, n_out) */
    int *idx;    /* (B, k) */
    float *val;
    float *dense; /* (B, d) or NULL */
} slot;

typedef struct {
    sfnet *m;
    const infer_source *src;
    infer_sink sink;
    void *ctx;
    int B, S, n, n_batches;
    slot slots[N_SLOTS];
    float lut[3][256];
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop; /* an error or Ctrl-C: every stage winds down */
    int sink_failed;
    char sink_error[1024];
    int net_failed; /* the network could not run a batch */
    char net_error[1024];
    int n_corrupt, n_done;
} pipe_state;

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig) {
    (void)sig;
    interrupted = 1;
    signal(SIGINT, SIG_DFL); /* a second Ctrl-C kills at once */
}

int infer_thumbnail(const uint8_t *chw, int size, uint8_t **jpg, size_t *len) {
    enum { T = INFER_THUMB_SIZE };
    size_t plane = (size_t)size * (size_t)size;
    uint8_t *hwc = xmalloc(plane * 3);
    uint8_t small_chw[3 * T * T], small_hwc[3 * T * T];
    for (int c = 0; c < 3; c++)
        for (size_t p = 0; p < plane; p++) hwc[p * 3 + (size_t)c] = chw[(size_t)c * plane + p];
    image_prepare(small_chw, hwc, size, size, T, T);
    free(hwc);
    for (int c = 0; c < 3; c++)
        for (int p = 0; p < T * T; p++) small_hwc[p * 3 + c] = small_chw[c * T * T + p];
    return image_encode_jpeg(small_hwc, T, T, INFER_THUMB_QUALITY, jpg, len);
}

static int batch_size(const pipe_state *p, int b) {
    int g0 = b * p->B;
    return g0 + p->B < p->n ? p->B : p->n - g0;
}

/* Waits until slot sl is in state for batch b; 0 when the pipeline stops instead (an
 * error, or Ctrl-C, which the first stage to see it turns into a stop for all). */
static int wait_slot(pipe_state *p, slot *sl, int state, int b) {
    pthread_mutex_lock(&p->mu);
    while (!p->stop && !interrupted && !(sl->state == state && sl->batch == b))
        pthread_cond_wait(&p->cv, &p->mu);
    if (interrupted && !p->stop) {
        p->stop = 1;
        pthread_cond_broadcast(&p->cv);
    }
    int go = !p->stop;
    pthread_mutex_unlock(&p->mu);
    return go;
}

/* ---- reading ----------------------------------------------------------------- */

/* Galaxy g's image file, held at position j of the slot; NULL (with sf_fail) when
 * the source cannot name it. */
static const char *source_path(pipe_state *p, slot *sl, int j, int g) {
    if (p->src->paths) return p->src->paths[g];
    char buf[4096];
    free(sl->path[j]);
    sl->path[j] = NULL;
    if (p->src->path(p->src->path_ctx, g, buf, sizeof buf) != SF_OK) return NULL;
    sl->path[j] = xstrdup(buf);
    return sl->path[j];
}

/* The name of galaxy g (position j of the slot) for messages. */
static const char *galaxy_name(const pipe_state *p, const slot *sl, int j, int g) {
    if (p->src->paths) return p->src->paths[g];
    return sl->path[j] ? sl->path[j] : "image";
}

static void *reader_main(void *arg) {
    pipe_state *p = arg;
    for (int b = 0; b < p->n_batches; b++) {
        slot *sl = &p->slots[b % N_SLOTS];
        if (!wait_slot(p, sl, SLOT_FREE, b)) break;
        int n = batch_size(p, b);
        for (int j = 0; j < n; j++) {
            sl->bytes[j] = NULL;
            sl->err[j][0] = 0;
            const char *path = source_path(p, sl, j, b * p->B + j);
            if (!path || sf_read_file(path, &sl->bytes[j], &sl->len[j]) != SF_OK)
                snprintf(sl->err[j], sizeof sl->err[j], "%s", sf_last_error());
        }
        pthread_mutex_lock(&p->mu);
        sl->state = SLOT_READ;
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
    }
    return NULL;
}

/* ---- decoding ---------------------------------------------------------------- */

/* Galaxy g into position j of the slot: normalised floats and, when asked, its
 * thumbnail. 0 (with a warning) when its image cannot be read or decoded. */
static int decode_one(pipe_state *p, slot *sl, int j, int g) {
    const infer_source *src = p->src;
    size_t plane = (size_t)p->S * p->S, img = 3 * plane;
    const uint8_t *u;
    if (src->ds) {
        u = src->ds->pixels + (size_t)g * img;
    } else {
        uint8_t *rgb = NULL;
        int w, h, rc = SF_ERR;
        if (sl->bytes[j])
            rc = image_decode_mem_fits((const uint8_t *)sl->bytes[j], sl->len[j],
                                       galaxy_name(p, sl, j, g), src->fits_rgb, &rgb, &w, &h);
        free(sl->bytes[j]);
        sl->bytes[j] = NULL;
        if (rc != SF_OK) {
            const char *why = sl->err[j][0] ? sl->err[j] : sf_last_error();
            pthread_mutex_lock(&p->mu);
            if (++p->n_corrupt <= 3) sf_warn("skipped: %s", why);
            pthread_mutex_unlock(&p->mu);
            return 0;
        }
        uint8_t *dst = sl->u8 + (size_t)j * img;
        image_prepare(dst, rgb, w, h, src->resize > 0 ? src->resize : p->S, p->S);
        free(rgb);
        u = dst;
    }
    float *x = sl->x + (size_t)j * img;
    for (int c = 0; c < 3; c++)
        for (size_t k = 0; k < plane; k++) x[c * plane + k] = p->lut[c][u[c * plane + k]];
    sl->thumb[j] = NULL;
    sl->thumb_len[j] = 0;
    if (src->want_thumbs && infer_thumbnail(u, p->S, &sl->thumb[j], &sl->thumb_len[j]) != SF_OK) {
        sl->thumb[j] = NULL;
        sl->thumb_len[j] = 0;
    }
    return 1;
}

/* Batch b into the slot, its images decoded side by side by the calling thread's
 * OpenMP team; the galaxies that failed are left out. */
static void decode_batch(pipe_state *p, slot *sl, int b) {
    size_t img = (size_t)3 * p->S * p->S;
    int g0 = b * p->B, n = batch_size(p, b), kept = 0;
#pragma omp parallel for schedule(dynamic)
    for (int j = 0; j < n; j++) sl->ok[j] = (uint8_t)decode_one(p, sl, j, g0 + j);
    for (int j = 0; j < n; j++) {
        if (!sl->ok[j]) continue;
        if (kept != j) {
            memcpy(sl->x + (size_t)kept * img, sl->x + (size_t)j * img, img * sizeof(float));
            sl->thumb[kept] = sl->thumb[j];
            sl->thumb_len[kept] = sl->thumb_len[j];
            sl->thumb[j] = NULL;
        }
        sl->gal[kept++] = g0 + j;
    }
    sl->n_kept = kept;
}

/* ---- the sink ---------------------------------------------------------------- */

static void *sink_main(void *arg) {
    pipe_state *p = arg;
    for (int b = 0; b < p->n_batches; b++) {
        slot *sl = &p->slots[b % N_SLOTS];
        if (!wait_slot(p, sl, SLOT_COMPUTED, b)) break;
        infer_batch ib = {
            .n = sl->n_kept,
            .gal = sl->gal,
            .pred = sl->pred,
            .feat_idx = sl->idx,
            .feat_val = sl->val,
            .dense = sl->dense,
            .thumb = p->src->want_thumbs ? sl->thumb : NULL,
            .thumb_len = p->src->want_thumbs ? sl->thumb_len : NULL,
        };
        int rc = sl->n_kept > 0 ? p->sink(p->ctx, &ib) : SF_OK;
        for (int i = 0; i < sl->n_kept; i++) {
            free(sl->thumb[i]);
            sl->thumb[i] = NULL;
        }
        pthread_mutex_lock(&p->mu);
        if (rc != SF_OK) {
            snprintf(p->sink_error, sizeof p->sink_error, "%s", sf_last_error());
            p->sink_failed = 1;
            p->stop = 1;
        } else {
            p->n_done += sl->n_kept;
        }
        sl->state = SLOT_FREE;
        sl->batch = b + N_SLOTS;
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
        if (rc != SF_OK) break;
    }
    return NULL;
}

/* ---- the run ----------------------------------------------------------------- */

static void set_state(pipe_state *p, slot *sl, int state) {
    pthread_mutex_lock(&p->mu);
    sl->state = state;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

static void slots_alloc(pipe_state *p) {
    const sfnet *m = p->m;
    int B = p->B, k = m->cfg.k, d = m->d, no = m->cfg.n_out;
    size_t img = (size_t)3 * p->S * p->S;
    int files = !p->src->ds;
    for (int i = 0; i < N_SLOTS; i++) {
        slot *sl = &p->slots[i];
        sl->state = SLOT_FREE;
        sl->batch = i;
        sl->gal = xmalloc((size_t)B * sizeof *sl->gal);
        sl->path = xcalloc((size_t)B, sizeof *sl->path);
        sl->bytes = xcalloc((size_t)B, sizeof *sl->bytes);
        sl->len = xcalloc((size_t)B, sizeof *sl->len);
        sl->err = xcalloc((size_t)B, sizeof *sl->err);
        sl->x = xmalloc_aligned((size_t)B * img * sizeof(float));
        sl->u8 = files ? xmalloc((size_t)B * img) : NULL;
        sl->ok = xmalloc((size_t)B);
        sl->thumb = xcalloc((size_t)B, sizeof *sl->thumb);
        sl->thumb_len = xcalloc((size_t)B, sizeof *sl->thumb_len);
        sl->pred = xmalloc(((size_t)B * no + 1) * sizeof(float));
        sl->idx = xmalloc(((size_t)B * k + 1) * sizeof(int));
        sl->val = xmalloc(((size_t)B * k + 1) * sizeof(float));
        sl->dense = p->src->want_dense ? xmalloc((size_t)B * d * sizeof(float)) : NULL;
    }
}

static void slots_free(pipe_state *p) {
    for (int i = 0; i < N_SLOTS; i++) {
        slot *sl = &p->slots[i];
        for (int j = 0; j < p->B; j++) {
            free(sl->thumb[j]);
            free(sl->bytes[j]);
            free(sl->path[j]);
        }
        free(sl->gal);
        free(sl->path);
        free(sl->bytes);
        free(sl->len);
        free(sl->err);
        free(sl->x);
        free(sl->u8);
        free(sl->ok);
        free(sl->thumb);
        free(sl->thumb_len);
        free(sl->pred);
        free(sl->idx);
        free(sl->val);
        free(sl->dense);
    }
}

int infer_pipe_run(sfnet *m, const infer_source *src, infer_sink sink, void *ctx,
                   infer_stats *stats) {
    memset(stats, 0, sizeof *stats);
    double t0 = sf_now();
    int S = m->cfg.in_size;
    if (src->ds && src->ds->size != S)
        return sf_fail("the data set's images are %dx%d but the model takes %dx%d", src->ds->size,
                       src->ds->size, S, S);
    int n = src->ds ? src->ds->n : src->n;
    if (!src->ds && n > 0 && !src->paths && !src->path)
        return sf_fail("no images to run the model over");

    pipe_state p;
    memset(&p, 0, sizeof p);
    p.m = m;
    p.src = src;
    p.sink = sink;
    p.ctx = ctx;
    p.B = m->max_batch;
    p.S = S;
    p.n = n;
    p.n_batches = (n + p.B - 1) / p.B;
    const float *mean = src->ds ? src->ds->mean : src->mean;
    const float *std = src->ds ? src->ds->std : src->std;
    for (int c = 0; c < 3; c++)
        for (int v = 0; v < 256; v++) p.lut[c][v] = ((float)v / 255.0f - mean[c]) / std[c];
    slots_alloc(&p);
    pthread_mutex_init(&p.mu, NULL);
    pthread_cond_init(&p.cv, NULL);

    struct sigaction sa, old_sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    interrupted = 0;
    sigaction(SIGINT, &sa, &old_sa);

    /* a dataset's pixels are in memory already: no reader */
    int reading = !src->ds;
    pthread_t reader, sink_thread;
    if (reading) pthread_create(&reader, NULL, reader_main, &p);
    pthread_create(&sink_thread, NULL, sink_main, &p);

    sf_progress bar;
    sf_progress_start(&bar, src->label ? src->label : "inference", n, "img");
    bar.quiet |= src->quiet;
    double t_net = 0;
    for (int b = 0; b < p.n_batches; b++) {
        slot *sl = &p.slots[b % N_SLOTS];
        if (!wait_slot(&p, sl, reading ? SLOT_READ : SLOT_FREE, b)) break;
        decode_batch(&p, sl, b);
        if (sl->n_kept > 0) {
            double t1 = sf_now();
            int rc =
                infer_forward_batch(m, sl->x, sl->n_kept, sl->pred, sl->idx, sl->val, sl->dense);
            t_net += sf_now() - t1;
            if (rc != SF_OK) {
                pthread_mutex_lock(&p.mu);
                snprintf(p.net_error, sizeof p.net_error, "%s", sf_last_error());
                p.net_failed = 1;
                p.stop = 1;
                pthread_cond_broadcast(&p.cv);
                pthread_mutex_unlock(&p.mu);
                break;
            }
        }
        set_state(&p, sl, SLOT_COMPUTED);
        sf_progress_update(&bar, (long)b * p.B + batch_size(&p, b), NULL);
    }
    pthread_join(sink_thread, NULL);
    pthread_mutex_lock(&p.mu);
    int stopped = p.stop || interrupted;
    p.stop = 1; /* a reader still waiting for a slot gives up */
    pthread_cond_broadcast(&p.cv);
    pthread_mutex_unlock(&p.mu);
    if (reading) pthread_join(reader, NULL);
    if (!stopped) sf_progress_finish(&bar, NULL);
    else if (!bar.quiet) fputc('\n', stderr);
    sigaction(SIGINT, &old_sa, NULL);

    stats->n_done = p.n_done;
    stats->n_corrupt = p.n_corrupt;
    stats->seconds = sf_now() - t0;
    stats->network_seconds = t_net;
    stats->interrupted = interrupted && !p.sink_failed && !p.net_failed;
    slots_free(&p);
    pthread_mutex_destroy(&p.mu);
    pthread_cond_destroy(&p.cv);
    if (p.sink_failed) return sf_fail("%s", p.sink_error);
    if (p.net_failed) return sf_fail("%s", p.net_error);
    return SF_OK;
}
