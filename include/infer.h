/* infer.h: running a trained model over many galaxies, with decoding, the network and
 * the output overlapped, and adding the result to a run database as a run.
 *
 * One batch (src/infer_forward.c): infer_forward_batch() runs the model in eval mode
 * over images already normalised and keeps each galaxy's prediction and its k
 * (feature, value) pairs; infer_dataset() does so over galaxies of a dataset in
 * memory, in batches of the model's max_batch (validation, tests, benches).
 *
 * The pipeline (src/infer_pipe.c) moves batches through a ring of slots, each
 * allocated once:
 *
 *   a reader thread     the image files of the batches ahead, into memory
 *   the calling thread  decoding, resizing, cropping and normalising them, and a JPEG
 *                       thumbnail of each, with its OpenMP team (or, from a dataset,
 *                       its cached pixels); then the network
 *   one sink thread     the caller's sink: SQLite writes, CSV lines ...
 *
 * so that while the network works on batch b, batch b+1 is read and batch b-1 is
 * written. Batches pass every stage in order, so the sink sees the galaxies in the
 * source's order whatever the timing. A galaxy whose image cannot be read or decoded
 * is skipped and counted (the first few named on stderr). Ctrl-C (SIGINT) stops at
 * the next batch: infer_pipe_run returns with stats->interrupted set and the sink is
 * not called again.
 *
 * infer_build_run (src/infer_store.c) is the sink that adds a run to a database:
 * the run, every galaxy's catalogue values, thumbnail, split, predictions and
 * activations, and the feature statistics, in one transaction that is committed
 * only when every galaxy went through; an error or Ctrl-C rolls it back and leaves
 * the database as it was.
 */
#ifndef SF_INFER_H
#define SF_INFER_H

#include <stddef.h>
#include <stdint.h>

#include "data_catalog.h"
#include "data_image.h"
#include "nn_model.h"
#include "store.h"

#define INFER_THUMB_SIZE 64
#define INFER_THUMB_QUALITY 85

/* ---- one batch, and a dataset's galaxies ------------------------------------ */

typedef struct {
    int n, n_out, k, d;
    float *pred;     /* (n, n_out) */
    int *feat_idx;   /* (n, k) the kept features, by value descending */
    float *feat_val; /* (n, k) their values after ReLU (may be 0 when fewer fire) */
    float *dense;    /* (n, d) pooled backbone features before ReLU/top-k, if asked */
} infer_result;

/* One batch already normalised: x (B, 3, S, S). Writes pred (B, n_out), feat_idx and
 * feat_val (B, k), dense (B, d) when not NULL. SF_ERR (with the engine's message)
 * when the model cannot run a batch of B (see sfnet_forward). */
int infer_forward_batch(sfnet *m, const float *x, int B, float *pred, int *feat_idx,
                        float *feat_val, float *dense);
/* Eval-mode forward of the galaxies idx[0..n) of ds in batches of m->max_batch, no
 * flips. want_dense also keeps the pooled features. quiet: no progress bar. res is
 * owned: infer_result_free (nothing to free after SF_ERR). */
int infer_dataset(sfnet *m, const dataset *ds, const int *idx, int n, int want_dense, int quiet,
                  infer_result *res);
void infer_result_free(infer_result *r);

/* ---- the pipeline ------------------------------------------------------------ */

/* Where the galaxies come from: a dataset's cached pixels (ds), or image files
 * (paths, or path() for catalogues too large to hold every path), decoded, resized
 * to resize and centre-cropped to the model's input. */
typedef struct {
    const dataset *ds;        /* galaxies 0..ds->n; or NULL and: */
    int n;                    /* galaxies */
    const char *const *paths; /* (n) their image files; or NULL and: */
    /* galaxy i's image file into buf (size n); called on the reader thread, i ascending */
    int (*path)(void *ctx, int i, char *buf, size_t n);
    void *path_ctx;
    int resize;               /* 0: no resize (the crop only) */
    const fits_rgb *fits_rgb; /* the stretch of FITS cutouts (NULL: the defaults) */
    float mean[3], std[3];    /* normalisation on the 0..1 scale (a dataset has its own) */
    int want_dense;           /* give the pooled features (dense) too */
    int want_thumbs;          /* give a JPEG thumbnail of each galaxy */
    int quiet;                /* no progress bar */
    const char *label;        /* of the progress bar */
} infer_source;

/* One batch as the sink gets it: its galaxies that went through, in order. */
typedef struct {
    int n;
    const int *gal;          /* (n) galaxy numbers of the source */
    const float *pred;       /* (n, n_out) */
    const int *feat_idx;     /* (n, k) kept features, strongest first */
    const float *feat_val;   /* (n, k) their values */
    const float *dense;      /* (n, d) pooled features before ReLU/top-k, or NULL */
    uint8_t *const *thumb;   /* (n) JPEG bytes, or NULL (none asked / failed) */
    const size_t *thumb_len; /* (n) */
} infer_batch;

/* Called on the sink thread, once per batch, in order; SF_ERR (with sf_fail) stops
 * the pipeline. */
typedef int (*infer_sink)(void *ctx, const infer_batch *b);

typedef struct {
    int n_done;             /* galaxies the sink took */
    int n_corrupt;          /* images that could not be decoded */
    double seconds;         /* wall time of the whole run */
    double network_seconds; /* time in the network alone */
    int interrupted;        /* stopped by Ctrl-C */
} infer_stats;

/* Runs m (eval mode) over the source in batches of m->max_batch. SF_ERR when the
 * sink failed (its message), the network could not run a batch, or the source does
 * not fit the model; SF_OK otherwise, also when interrupted (stats->interrupted). */
int infer_pipe_run(sfnet *m, const infer_source *src, infer_sink sink, void *ctx,
                   infer_stats *stats);

/* The JPEG thumbnail (INFER_THUMB_SIZE square) of a (3, size, size) image. */
int infer_thumbnail(const uint8_t *chw, int size, uint8_t **jpg, size_t *len);

/* ---- adding a run ------------------------------------------------------------ */

/* The galaxies of a run to build: catalogue rows with their truth and split. */
typedef struct {
    const catalog *cat; /* the catalogue; with row(), only its columns are used */
    int n;
    const int *rows; /* (n) catalogue rows of cat; or NULL and: */
    /* galaxy i's objID and catalogue values (cat->n_cols), valid until the next call;
     * called on the sink thread, i ascending; SF_ERR (with sf_fail) stops the run */
    int (*row)(void *ctx, int i, const char **obj_id, const double **values);
    void *row_ctx;
    const float *truth;   /* (n, n_out) */
    const uint8_t *split; /* (n) SPLIT_TRAIN / SPLIT_VALID */
} infer_galaxies;

/* Fills in (zeroed first) with what model m says of a run over ts's outputs: their
 * names, the head's bias and weights (borrowed from m), k, width and d, the input
 * normalisation mean/std, the catalogue and image folder (made absolute, so the run
 * says where its data was whoever opens the file) and the engine name; the RMSEs NAN,
 * so that they are computed from the stored predictions. The caller adds the name,
 * target spec, seeds, settings, curve and weights file. */
void infer_run_meta(store_run_input *in, sfnet *m, const target_set *ts, const float mean[3],
                    const float std[3], const char *catalog_path, const char *images,
                    const char *engine);

/* Adds the run meta describes (its metadata, head weights and weights file; its
 * RMSEs NAN to compute them from the stored predictions) with the galaxies of g,
 * run through m from src (whose galaxy i is g's galaxy i). Catalogue columns other
 * than objID, ra and dec are stored as the galaxies' values. A k = 0 (dense) model
 * stores every ReLU'd pooled feature. SF_ERR (nothing written) on failure or Ctrl-C
 * (stats->interrupted tells which). */
int infer_build_run(store *s, sfnet *m, const infer_source *src, const infer_galaxies *g,
                    const store_run_input *meta, int64_t *run_id, infer_stats *stats);

#endif
