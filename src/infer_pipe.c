/* infer_pipe.c: decoding, the network and the sink overlapped over a ring of batch
 * slots (see infer.h). One mutex and one condition variable guard every slot's
 * state; the work itself runs outside the lock. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "infer.h"
#include "sf_util.h"
#include "store.h"
#include "train.h"

enum { SLOT_FREE, SLOT_DECODED, SLOT_COMPUTED };

typedef struct {
    int state;
    int batch;        /* the batch it holds (DECODED, COMPUTED) or may take next (FREE) */
    int n_kept;       /* galaxies that decoded */
    int *gal;         /* (B) their galaxy numbers */
    float *x;         /* (B, 3, S, S) */
    uint8_t *u8;      /* (3, S, S) one image's prepared bytes */
    uint8_t **thumb;  /* (B) */
    size_t *thumb_len;
    float *pred;      /* (B, n_out) */
    int *idx;         /* (B, k) */
    float *val;
    float *dense;     /* (B, d) or NULL */
} slot;

typedef struct {
    sfnet *m;
    const infer_source *src;
    infer_sink sink;
    void *ctx;
    int B, S, n, n_batches, n_slots;
    slot *slots;
    float lut[3][256];
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int next_decode;  /* the next batch a decoder takes */
    int stop;         /* an error or Ctrl-C: every stage winds down */
    int sink_failed;
    char sink_error[1024];
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
    return store_jpeg_encode(small_hwc, T, T, INFER_THUMB_QUALITY, jpg, len);
}

/* Galaxy g's prepared bytes: from the dataset's cache, or decoded into st->u8.
 * NULL (with a warning) when the image cannot be decoded. */
static const uint8_t *prepared(pipe_state *p, slot *sl, int g) {
    const infer_source *src = p->src;
    size_t img = (size_t)3 * p->S * p->S;
    if (src->ds) return src->ds->pixels + (size_t)g * img;
    uint8_t *rgb = NULL;
    int w, h;
    if (image_decode(src->paths[g], &rgb, &w, &h) != SF_OK) {
        pthread_mutex_lock(&p->mu);
        if (++p->n_corrupt <= 3) sf_warn("skipped: %s", sf_last_error());
        pthread_mutex_unlock(&p->mu);
        return NULL;
    }
    image_prepare(sl->u8, rgb, w, h, src->resize > 0 ? src->resize : p->S, p->S);
    free(rgb);
    return sl->u8;
}

static void decode_batch(pipe_state *p, slot *sl, int b) {
    size_t plane = (size_t)p->S * p->S;
    int g0 = b * p->B, g1 = g0 + p->B < p->n ? g0 + p->B : p->n, kept = 0;
    for (int g = g0; g < g1; g++) {
        const uint8_t *u = prepared(p, sl, g);
        if (!u) continue;
        float *dst = sl->x + (size_t)kept * 3 * plane;
        for (int c = 0; c < 3; c++)
            for (size_t k = 0; k < plane; k++) dst[c * plane + k] = p->lut[c][u[c * plane + k]];
        sl->thumb[kept] = NULL;
        sl->thumb_len[kept] = 0;
        if (p->src->want_thumbs &&
            infer_thumbnail(u, p->S, &sl->thumb[kept], &sl->thumb_len[kept]) != SF_OK) {
            sl->thumb[kept] = NULL;
            sl->thumb_len[kept] = 0;
        }
        sl->gal[kept++] = g;
    }
    sl->n_kept = kept;
}

static void *decoder_main(void *arg) {
    pipe_state *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        if (p->stop || p->next_decode >= p->n_batches) break;
        int b = p->next_decode++;
        slot *sl = &p->slots[b % p->n_slots];
        while (!p->stop && !(sl->state == SLOT_FREE && sl->batch == b))
            pthread_cond_wait(&p->cv, &p->mu);
        if (p->stop) break;
        pthread_mutex_unlock(&p->mu);
        decode_batch(p, sl, b);
        pthread_mutex_lock(&p->mu);
        sl->state = SLOT_DECODED;
        pthread_cond_broadcast(&p->cv);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

static void *sink_main(void *arg) {
    pipe_state *p = arg;
    for (int b = 0; b < p->n_batches; b++) {
        slot *sl = &p->slots[b % p->n_slots];
        pthread_mutex_lock(&p->mu);
        while (!p->stop && !interrupted && !(sl->state == SLOT_COMPUTED && sl->batch == b))
            pthread_cond_wait(&p->cv, &p->mu);
        int stop = p->stop || interrupted;
        pthread_mutex_unlock(&p->mu);
        if (stop) break;
        infer_batch ib = {
            .n = sl->n_kept, .gal = sl->gal, .pred = sl->pred, .feat_idx = sl->idx,
            .feat_val = sl->val, .dense = sl->dense,
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
        sl->batch = b + p->n_slots;
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
        if (rc != SF_OK) break;
    }
    return NULL;
}

/* Decoding threads when not asked: a quarter of the processors (at least one); the
 * network keeps the others busy. */
static int auto_decoders(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    int d = n > 0 ? (int)(n / 4) : 1;
    return d < 1 ? 1 : d > 16 ? 16 : d;
}

int infer_pipe_run(sfnet *m, const infer_source *src, infer_sink sink, void *ctx,
                   infer_stats *stats) {
    memset(stats, 0, sizeof *stats);
    double t0 = sf_now();
    int S = m->cfg.in_size;
    if (src->ds && src->ds->size != S)
        return sf_fail("the data set's images are %dx%d but the model takes %dx%d",
                       src->ds->size, src->ds->size, S, S);
    int n = src->ds ? src->ds->n : src->n;
    if (!src->ds && n > 0 && !src->paths) return sf_fail("no images to run the model over");

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
    int decoders = src->decoders > 0 ? src->decoders : auto_decoders();
    if (decoders > p.n_batches) decoders = p.n_batches > 0 ? p.n_batches : 1;
    p.n_slots = decoders + 3;
    const float *mean = src->ds ? src->ds->mean : src->mean;
    const float *std = src->ds ? src->ds->std : src->std;
    for (int c = 0; c < 3; c++)
        for (int v = 0; v < 256; v++) p.lut[c][v] = ((float)v / 255.0f - mean[c]) / std[c];

    int B = p.B, k = m->cfg.k, d = m->d, no = m->cfg.n_out;
    size_t img = (size_t)3 * S * S;
    p.slots = xcalloc((size_t)p.n_slots, sizeof *p.slots);
    for (int i = 0; i < p.n_slots; i++) {
        slot *sl = &p.slots[i];
        sl->state = SLOT_FREE;
        sl->batch = i;
        sl->gal = xmalloc((size_t)B * sizeof *sl->gal);
        sl->x = xmalloc_aligned((size_t)B * img * sizeof(float));
        sl->u8 = xmalloc(img);
        sl->thumb = xcalloc((size_t)B, sizeof *sl->thumb);
        sl->thumb_len = xcalloc((size_t)B, sizeof *sl->thumb_len);
        sl->pred = xmalloc(((size_t)B * no + 1) * sizeof(float));
        sl->idx = xmalloc(((size_t)B * k + 1) * sizeof(int));
        sl->val = xmalloc(((size_t)B * k + 1) * sizeof(float));
        sl->dense = src->want_dense ? xmalloc((size_t)B * d * sizeof(float)) : NULL;
    }
    pthread_mutex_init(&p.mu, NULL);
    pthread_cond_init(&p.cv, NULL);

    struct sigaction sa, old_sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    interrupted = 0;
    sigaction(SIGINT, &sa, &old_sa);

    pthread_t *dec = xcalloc((size_t)decoders, sizeof *dec);
    pthread_t sink_thread;
    for (int i = 0; i < decoders; i++) pthread_create(&dec[i], NULL, decoder_main, &p);
    pthread_create(&sink_thread, NULL, sink_main, &p);

    sf_progress bar;
    sf_progress_start(&bar, src->label ? src->label : "inference", n, "img");
    bar.quiet |= src->quiet;
    double t_net = 0;
    for (int b = 0; b < p.n_batches; b++) {
        slot *sl = &p.slots[b % p.n_slots];
        pthread_mutex_lock(&p.mu);
        if (interrupted) {
            p.stop = 1;
            pthread_cond_broadcast(&p.cv);
        }
        while (!p.stop && !(sl->state == SLOT_DECODED && sl->batch == b))
            pthread_cond_wait(&p.cv, &p.mu);
        int stop = p.stop;
        pthread_mutex_unlock(&p.mu);
        if (stop) break;
        if (sl->n_kept > 0) {
            double t1 = sf_now();
            train_infer_batch(m, sl->x, sl->n_kept, sl->pred, sl->idx, sl->val, sl->dense);
            t_net += sf_now() - t1;
        }
        pthread_mutex_lock(&p.mu);
        sl->state = SLOT_COMPUTED;
        pthread_cond_broadcast(&p.cv);
        pthread_mutex_unlock(&p.mu);
        int done = (b + 1) * B < n ? (b + 1) * B : n;
        sf_progress_update(&bar, done, NULL);
    }
    pthread_join(sink_thread, NULL);
    pthread_mutex_lock(&p.mu);
    if (interrupted) p.stop = 1;
    int stopped = p.stop;
    p.stop = 1; /* decoders still waiting for a slot give up */
    pthread_cond_broadcast(&p.cv);
    pthread_mutex_unlock(&p.mu);
    for (int i = 0; i < decoders; i++) pthread_join(dec[i], NULL);
    if (!stopped) sf_progress_finish(&bar, NULL);
    else if (!bar.quiet) fputc('\n', stderr);
    sigaction(SIGINT, &old_sa, NULL);

    stats->n_done = p.n_done;
    stats->n_corrupt = p.n_corrupt;
    stats->seconds = sf_now() - t0;
    stats->network_seconds = t_net;
    stats->interrupted = interrupted && !p.sink_failed;

    for (int i = 0; i < p.n_slots; i++) {
        slot *sl = &p.slots[i];
        for (int j = 0; j < B; j++) free(sl->thumb[j]);
        free(sl->gal);
        free(sl->x);
        free(sl->u8);
        free(sl->thumb);
        free(sl->thumb_len);
        free(sl->pred);
        free(sl->idx);
        free(sl->val);
        free(sl->dense);
    }
    free(p.slots);
    free(dec);
    pthread_mutex_destroy(&p.mu);
    pthread_cond_destroy(&p.cv);
    if (p.sink_failed) return sf_fail("%s", p.sink_error);
    return SF_OK;
}
