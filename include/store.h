/* store.h: the run database (SQLite), where every galaxy's sparse activations live.
 *
 * A run database holds several runs (trained SFNets) over one shared set of
 * galaxies. The schema is share/schema.sql (version 1, never edited) followed by the
 * migrations in store.c (version 2 adds the marks, version 3 the per-run summaries,
 * version 4 each run's packed codes and the statistics of every two runs); the file's
 * version is in PRAGMA user_version, and PRAGMA application_id = STORE_APPLICATION_ID
 * marks it as ours. Files of older versions are migrated when opened for writing (in
 * order, 2 -> 3 -> 4, in one transaction: the summaries of every run, the codes of
 * every run and the statistics of every two runs are computed in it) and read as they
 * are when opened for reading (what they lack reads as empty: no marks; summaries are
 * computed in memory, per run, when first read; codes and pair statistics are computed
 * from the activations when asked for); files that are not ours, or of a newer
 * version, are refused with a message. Every open checks that the file has the
 * tables, columns and indexes of its version (the expected ones come from a fresh
 * in-memory database made with schema.sql and the migrations up to that version, so a
 * new migration is covered without editing the check), and an open for writing runs
 * PRAGMA quick_check on files up to 64 MiB: a damaged file is refused before any work
 * (hours of training) is done for it.
 *
 * Tour:
 *   store *s;
 *   if (store_open(&s, "run.db", STORE_READ) != SF_OK) die(sf_last_error());
 *   store_run run;
 *   store_run_find(s, "Z", &run);                    // by prefix or id
 *   store_feature *f; int nf;
 *   store_features(s, run.id, STORE_SORT_FREQUENCY, 0, &f, &nf);
 *   store_hit *hits; int nh;
 *   store_top(s, run.id, f[0].feature, 10, -1, &hits, &nh);
 *   ...free(f); free(hits); store_run_clear(&run); store_close(s);
 *
 * Features are numbered 0..d-1 within a run; "Z 256" is feature 256 of the run
 * whose prefix is "Z". Activations are the raw values of the top-k layer; the
 * paper's A in [0, 1] is value / max_valid (the feature's maximum over the
 * validation set), given as `scaled` where useful.
 *
 * Run-aligned arrays: store_run_rows() lists a run's galaxies in a fixed order
 * (ascending galaxy id); the dense readers (activations, predictions, catalogue
 * columns) fill arrays in that order, for plots, PCA, regressions and exports.
 *
 * Errors: every function returning int gives SF_OK or SF_ERR with a message in
 * sf_last_error(). Memory handed out is owned by the caller: free() for plain
 * arrays, the *_clear() functions for structs. A `store` is one SQLite
 * connection: use it from one thread at a time.
 *
 * Writes: store_add_run() writes a whole run in one transaction; a failure or a
 * killed process leaves the file as it was. Labels, notes and marks are single updates.
 */
#ifndef SF_STORE_H
#define SF_STORE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#define STORE_SCHEMA_VERSION 4          /* what this binary writes and reads up to */
#define STORE_SCHEMA_BASE_VERSION 1     /* what share/schema.sql describes */
#define STORE_APPLICATION_ID 0x53464e58 /* "SFNX" */

#define STORE_MAX_TARGETS 16 /* = TARGET_MAX of data_catalog.h */
#define STORE_MAX_D 65536    /* features a run may have (d = 8 x width) */
#define STORE_PREFIX_MAX                                                                           \
    16 /* "Z", "SL", --name: letters, digits, '_', '-'; not starting with a digit */
#define STORE_OBJID_MAX 64
#define STORE_NAME_MAX 64
#define STORE_LABEL_MAX 256
#define STORE_NOTE_MAX 4096

typedef struct store store;

enum {
    STORE_READ = 0,   /* existing file, read-only; older schema versions are read as they are */
    STORE_WRITE = 1,  /* existing file, read-write; migrated to the current version */
    STORE_CREATE = 2, /* read-write, created (with the schema) when absent */
};

/* Opens path. Fails with a message when the file is missing (READ/WRITE), is not
 * an SQLite file, is an SQLite file that is not ours, has a newer schema version,
 * is read-only while WRITE/CREATE was asked for, or stays locked by another
 * process longer than the busy timeout (5 s; $SFNET_BUSY_TIMEOUT_MS overrides). */
int store_open(store **out, const char *path, int mode);
/* A run database given as the bytes of its file (len bytes, copied), opened READ;
 * name is what messages call it. The same checks as store_open. */
int store_open_bytes(store **out, const void *data, size_t len, const char *name);
void store_close(store *s);
/* store_close, and when that open created the file (STORE_CREATE of a path that was
 * not there) and it still holds no run, removes it and its -wal/-shm files: a
 * command that fails before writing its run leaves no empty database behind. */
void store_close_unless_used(store *s);
const char *store_path(const store *s);
/* The schema version of the file (< STORE_SCHEMA_VERSION only for old files opened READ). */
int store_schema_version(const store *s);
/* Busy timeout for this connection, in milliseconds. */
void store_set_busy_timeout(store *s, int ms);

/* A schema change from version to_version - 1 to to_version: SQL run as a script. */
typedef struct {
    int to_version;
    const char *sql;
} store_migration;
/* Applies the steps above the file's version, in order, in one transaction that
 * also sets user_version; on failure the file keeps its version and contents.
 * store_open(WRITE/CREATE) calls it with the built-in steps; public for tests. */
int store_migrate(store *s, const store_migration *steps, int n_steps);

/* ---- runs ---------------------------------------------------------------- */

typedef struct {
    int epoch;         /* 1-based */
    double train_loss; /* mean training loss of the epoch (standardised units when targets are) */
    double valid_rmse; /* validation RMSE after the epoch, target units */
    double lr;         /* learning rate at the end of the epoch */
} store_curve_point;

typedef struct {
    int64_t id;
    char prefix[STORE_PREFIX_MAX];
    char target_spec[STORE_NAME_MAX * 4];
    int n_out;
    char target_names[STORE_MAX_TARGETS][STORE_NAME_MAX];
    double bias[STORE_MAX_TARGETS];        /* the head's bias */
    double target_mean[STORE_MAX_TARGETS]; /* prediction = (bias + w.a) * std + mean */
    double target_std[STORE_MAX_TARGETS];
    double train_rmse_t[STORE_MAX_TARGETS]; /* per output, target units (NAN unknown) */
    double valid_rmse_t[STORE_MAX_TARGETS];
    int k, width, d;
    uint64_t seed, split_seed;
    int n_galaxies, n_train, n_valid;
    double train_rmse, valid_rmse; /* over all outputs, target units (NAN unknown) */
    float image_mean[3], image_std[3];
    char *hyper_json; /* owned: {"epochs":..,"batch":..,"lr":..,...} */
    int n_curve;
    store_curve_point *curve; /* owned (n_curve) */
    char catalog[1024];
    char images[1024];
    char engine[32];
    double train_seconds;
    char created[32]; /* "2026-11-28T12:00:00Z" */
    char tool_version[32];
} store_run;

void store_run_clear(store_run *r);

/* All runs, by id. *runs is owned by the caller: store_runs_free(). */
int store_runs(store *s, store_run **runs, int *n);
void store_runs_free(store_run *runs, int n);
/* spec: a run id ("3") or a prefix ("Z", "SL"); with NULL or "" the database's
 * only run (an error naming the runs when there are several). */
int store_run_find(store *s, const char *spec, store_run *out);
int store_run_get(store *s, int64_t run_id, store_run *out);
/* The run's safetensors file, owned by the caller (free). */
int store_run_weights(store *s, int64_t run_id, uint8_t **data, size_t *len);

/* SF_OK when name can name a new run: 1 to STORE_PREFIX_MAX - 1 (15) letters, digits,
 * '_' or '-', not starting with a digit; else SF_ERR saying what is wrong (too long:
 * the limit). Commands check --name with it before any work, never cutting it. */
int store_prefix_check(const char *name);

/* Parses "17", "Z 17", "Z17", "Z:17" into an optional run spec and a feature
 * number. run_spec gets "" when the text has no prefix. SF_ERR on anything else. */
int store_parse_feature(const char *text, char *run_spec, size_t run_spec_size, int *feature);

/* ---- writing a run ------------------------------------------------------- */

/* One galaxy as the catalogue gives it. */
typedef struct {
    const char *objid;
    double ra, dec;       /* NAN when unknown */
    const double *values; /* (n_columns of store_run_input) NAN = missing; may be NULL */
    const uint8_t *thumb; /* encoded JPEG/PNG, or NULL */
    size_t thumb_len;
    int thumb_w, thumb_h;
    const char *thumb_format; /* "jpeg" or "png" */
} store_galaxy_input;

typedef struct {
    /* run metadata: id, n_galaxies/n_train/n_valid and created are filled in by
     * store_add_run; an empty prefix picks one from the targets ("Z" for
     * metallicity, "SL" for bpt_lines, else "R"), adding 2, 3, ... when taken. */
    store_run run;
    const float *head_w;    /* (n_out, d) the head's weights */
    const uint8_t *weights; /* safetensors bytes, or NULL */
    size_t weights_len;

    int n_columns;                   /* numeric catalogue columns (ra, dec excluded) */
    const char *const *column_names; /* (n_columns) */

    int n;                              /* galaxies */
    const store_galaxy_input *galaxies; /* (n) */
    const uint8_t *split;               /* (n) 0 train, 1 valid */
    const float *pred;                  /* (n, n_out) target units */
    const float *truth;                 /* (n, n_out) */
    int k_stored;                       /* pairs per galaxy in topk_* (k, or d for a dense run) */
    const int *topk_idx;                /* (n, k_stored) feature numbers */
    const float *topk_val; /* (n, k_stored) values; pairs with value <= 0 are not stored */
    /* Optional, for galaxies without thumb: makes galaxy i's thumbnail while the run is
     * written, so a large run never holds them all. *data is malloc'd (the store frees
     * it), or NULL for none. SF_ERR aborts the write. */
    int (*thumbnail)(void *ctx, int i, uint8_t **data, size_t *len, int *w, int *h);
    void *thumbnail_ctx;
} store_run_input;

/* Writes the run, its galaxies (objIDs already present are shared: their
 * catalogue values are updated, thumbnails kept), activations, predictions and
 * per-feature statistics (computed here from the inputs) in one transaction:
 * on any failure nothing is written. The new run's id goes to *run_id (may be
 * NULL); in->run.n_galaxies/n_train/n_valid/created are derived, not read. */
int store_add_run(store *s, const store_run_input *in, int64_t *run_id);

/* The same, a part at a time, for runs written while their galaxies are computed:
 * store_run_begin() opens the transaction and adds the run from in's metadata
 * (in->n and the per-galaxy arrays are ignored); store_run_add() adds the galaxies
 * of a part (in->n, galaxies, split, pred, truth, topk_*, thumbnail; its metadata
 * is ignored); store_run_finish() writes the counts and feature statistics and
 * commits; store_run_abort() rolls everything back. Every call after a failure
 * must be store_run_abort. The run's RMSEs (whole, and per target) are kept when
 * given, and computed from the stored predictions when NAN. One writer per store,
 * used by one thread at a time. Inside a transaction the caller holds (store merge),
 * the writer works in a savepoint of it: store_run_finish writes the statistics
 * without committing, store_run_abort undoes the run alone, and the caller commits
 * or rolls back. */
typedef struct store_run_writer store_run_writer;
int store_run_begin(store *s, const store_run_input *in, store_run_writer **w);
int store_run_add(store_run_writer *w, const store_run_input *part);
int store_run_finish(store_run_writer *w, int64_t *run_id);
void store_run_abort(store_run_writer *w);

/* store_run_finish() also computes the run's summaries (store_run_summarize). */

/* ---- merging runs ------------------------------------------------------------ */

/* `predict --shard I/N --into SHARD.db` writes one run per shard file; store_merge
 * joins the runs of shard files into one run of out, as one `predict --into` over the
 * whole catalogue would have made it:
 *  - every run must come from the same weights (the safetensors bytes) and settings
 *    (target and outputs, k and width, resize and crop, normalisation, split seed,
 *    and the number of galaxies the split was drawn over); the first that differs
 *    fails the merge with a message naming the shard file and the setting;
 *  - galaxies are taken once per objID (the first source that has one), with their
 *    catalogue values, coordinates and thumbnails;
 *  - the merged run is written through the run writer (store_run_begin/add/finish), so
 *    its counts, RMSEs and every per-feature statistic come from its galaxies as for
 *    any stored run;
 *  - the run merged into is opt->name's, or else the one run of out made from the same
 *    weights and settings (several: an error asking for a name), or else a new run
 *    (named opt->name, or as the shards' run when that name is free). Extending a run
 *    writes it anew with its labels, notes and marks (its id changes);
 *  - one transaction: on any failure, or when *opt->stop becomes non-zero (Ctrl-C),
 *    out is left as it was. When no galaxy is new (the same shards again) out is not
 *    written at all (res->unchanged).
 * Shard files without a run (an empty slice) are skipped and counted. */
typedef struct {
    const char *name;                  /* the run of out to merge into or create, or NULL */
    const volatile sig_atomic_t *stop; /* polled between parts; may be NULL */
    int quiet;                         /* no progress bar */
} store_merge_options;

typedef struct {
    int64_t run_id; /* the merged run */
    char prefix[STORE_PREFIX_MAX];
    int n_galaxies;   /* galaxies in it */
    int n_added;      /* galaxies new to out's run (all, for a new run) */
    int n_duplicates; /* galaxies already in it or in an earlier shard */
    int n_empty;      /* shard files without a run, skipped */
    int unchanged;    /* nothing new: out was not written */
    int replaced;     /* an existing run was extended; it had id old_run_id */
    int64_t old_run_id;
    double seconds;
} store_merge_result;

int store_merge(store *out, store *const *shards, int n, const store_merge_options *opt,
                store_merge_result *res);

/* Deletes a run and everything of it (galaxies stay). */
int store_delete_run(store *s, int64_t run_id);

/* ---- features ------------------------------------------------------------ */

typedef struct {
    int feature;
    int n_active;       /* galaxies (all splits) where non-zero */
    int n_active_valid; /* validation galaxies where non-zero */
    double f_activated; /* n_active_valid / n_valid */
    double max_valid;   /* the scale of A */
    double max, mean;   /* over active galaxies, all splits (0 when dead) */
    int n_out;
    double weight[STORE_MAX_TARGETS];  /* head weight for each output */
    double pearson[STORE_MAX_TARGETS]; /* corr(A, target) over validation; NAN when undefined */
    char label[STORE_LABEL_MAX];       /* "" when none */
    char note[STORE_NOTE_MAX];
} store_feature;

typedef enum {
    STORE_SORT_FREQUENCY = 0, /* n_active_valid descending, then n_active, then feature */
    STORE_SORT_FEATURE,       /* feature number ascending */
    STORE_SORT_WEIGHT,        /* |weight| of output 0 descending */
    STORE_SORT_CORRELATION,   /* |pearson| of output 0 descending (NAN last) */
    STORE_SORT_MAX,           /* max descending */
    STORE_SORT_LABEL,         /* labelled first, by label text */
} store_sort;

/* The run's features; dead ones (n_active == 0) only with include_dead. */
int store_features(store *s, int64_t run_id, store_sort sort, int include_dead, store_feature **out,
                   int *n);
int store_feature_get(store *s, int64_t run_id, int feature, store_feature *out);
/* Sorts features as store_features does (for a list already in memory). */
void store_features_sort(store_feature *f, int n, store_sort sort);
/* label/note NULL leaves that field as it is; "" clears it. */
int store_feature_label(store *s, int64_t run_id, int feature, const char *label, const char *note);

/* ---- marks ---------------------------------------------------------------------- */

/* A mark (bookmark) on a feature or on a galaxy, kept per run, with an optional note.
 * Files of schema version 1 have none: opened READ they list no marks, and opening
 * them WRITE (as marking does) migrates them. */
typedef struct {
    int64_t id;
    int64_t run_id;
    int feature;                 /* the marked feature, or -1 for a galaxy mark */
    int64_t galaxy_id;           /* the marked galaxy, or 0 for a feature mark */
    char objid[STORE_OBJID_MAX]; /* galaxy marks: its objID */
    char label[STORE_LABEL_MAX]; /* feature marks: the feature's label ("" none) */
    char note[STORE_NOTE_MAX];   /* "" none */
    char created[32];            /* "2026-11-28T12:00:00Z" */
} store_mark;

/* The run's marks: features by number, then galaxies by objID. *marks owned (free);
 * SF_OK with none on a version-1 file. */
int store_marks(store *s, int64_t run_id, store_mark **marks, int *n);
/* Marks a feature (galaxy_id 0) or a galaxy (feature -1) of the run. Marking again
 * keeps the mark; note NULL leaves its note as it is, "" clears it. *added (may be
 * NULL) says whether the mark is new. SF_ERR for a feature outside the run, an
 * unknown galaxy or a store opened READ. */
int store_mark_add(store *s, int64_t run_id, int feature, int64_t galaxy_id, const char *note,
                   int *added);
/* Removes that mark; *removed (may be NULL) says whether there was one. */
int store_mark_remove(store *s, int64_t run_id, int feature, int64_t galaxy_id, int *removed);

/* ---- galaxies of a feature -------------------------------------------------- */

typedef struct {
    int64_t galaxy_id;
    char objid[STORE_OBJID_MAX];
    double value;  /* raw activation */
    double scaled; /* value / max_valid (may exceed 1 on training galaxies) */
    int split;
} store_hit;

/* The n galaxies with the largest activation of the feature, largest first (ties by
 * galaxy id); split -1 for all, 0 train, 1 valid. *hits owned by the caller (free). */
int store_top(store *s, int64_t run_id, int feature, int n, int split, store_hit **hits,
              int *n_hits);
/* Every galaxy where the feature is active, in no particular order. */
int store_feature_hits(store *s, int64_t run_id, int feature, store_hit **hits, int *n_hits);

/* ---- one galaxy --------------------------------------------------------------- */

typedef struct {
    int64_t id;
    char objid[STORE_OBJID_MAX];
    double ra, dec; /* NAN when unknown */
    int n_columns;
    char (*column_names)[STORE_NAME_MAX]; /* owned (n_columns) */
    double *values;                       /* owned (n_columns); NAN = missing */
} store_galaxy;

/* Finds a galaxy by objID (SF_ERR "no galaxy ... in file" when absent). */
int store_galaxy_find(store *s, const char *objid, store_galaxy *out);
int store_galaxy_get(store *s, int64_t galaxy_id, store_galaxy *out);
void store_galaxy_clear(store_galaxy *g);

typedef struct {
    int64_t run_id;
    int64_t galaxy_id;
    int split;
    int n_out;
    double pred[STORE_MAX_TARGETS];
    double truth[STORE_MAX_TARGETS];
    int n_active;
    int *feature;   /* owned (n_active), by value descending */
    double *value;  /* owned */
    double *scaled; /* owned */
} store_galaxy_run;

/* The galaxy in one run. Returns SF_OK with out->n_out = 0 when the run did not
 * include the galaxy. */
int store_galaxy_in_run(store *s, int64_t run_id, int64_t galaxy_id, store_galaxy_run *out);
void store_galaxy_run_clear(store_galaxy_run *g);

/* The run ids that include the galaxy. *runs owned (free). */
int store_galaxy_runs(store *s, int64_t galaxy_id, int64_t **runs, int *n);

/* The galaxy's thumbnail as stored (JPEG or PNG bytes; data_image.h decodes them),
 * *data owned (free). SF_OK with *data = NULL when it has none. */
int store_thumbnail(store *s, int64_t galaxy_id, uint8_t **data, size_t *len);

/* ---- run-aligned arrays -------------------------------------------------------- */

typedef struct {
    int n;
    int64_t *galaxy_id;             /* (n) ascending */
    char (*objid)[STORE_OBJID_MAX]; /* (n) */
    uint8_t *split;                 /* (n) */
} store_rows;

int store_run_rows(store *s, int64_t run_id, store_rows *rows);
/* The same without the objIDs (rows->objid NULL): a join less, for computations. */
int store_run_rows_ids(store *s, int64_t run_id, store_rows *rows);
void store_rows_clear(store_rows *rows);
/* out (rows->n, d) raw activations, zero where inactive. */
int store_run_dense(store *s, int64_t run_id, const store_rows *rows, int d, float *out);
/* Every activation of the rows in one scan, row by row (CSR): row i holds the entries
 * start[i] .. start[i + 1] - 1 of *feature and *value (by feature number). start
 * (rows->n + 1) is the caller's; *feature and *value are owned (free). */
int store_run_sparse(store *s, int64_t run_id, const store_rows *rows, int64_t *start,
                     int **feature, float **value);
/* out (rows->n) one feature's raw activation, zero where inactive. */
int store_run_feature_column(store *s, int64_t run_id, const store_rows *rows, int feature,
                             float *out);
/* pred, truth (rows->n, n_out); either may be NULL. */
int store_run_predictions(store *s, int64_t run_id, const store_rows *rows, int n_out, float *pred,
                          float *truth);
/* The names of the catalogue columns stored (ra, dec first when any galaxy has them). */
int store_catalog_columns(store *s, char (**names)[STORE_NAME_MAX], int *n);
/* out (rows->n) a catalogue column ("ra", "dec" or any stored column); NAN = missing.
 * SF_ERR naming the columns there are when the column is unknown. */
int store_catalog_values(store *s, const store_rows *rows, const char *column, double *out);

/* ---- per-run summaries (schema version 3) ----------------------------------------- */

/* What the explorer's pages and the headless commands need from every galaxy of a run,
 * computed once, when the run is stored, so that a page reads a few rows:
 *   - per feature: sums of its raw activation a over all galaxies and over the
 *     validation galaxies (and of a^2), and its active validation galaxies with their
 *     values (the feature page's scatter colours and histogram);
 *   - per pair of features active together on some galaxy: the cross sums of a_i a_j
 *     and the number of galaxies where both are active, over all galaxies and over the
 *     validation ones (similar features, the report's correlation matrix):
 *     r_ij = (N C_ij - S_i S_j) / sqrt((N C_ii - S_i^2) (N C_jj - S_j^2));
 *   - per feature, STORE_QUANTILE_SAMPLES galaxies at activation quantiles: of the n
 *     galaxies where it is active, sorted by value then galaxy id, the one at
 *     floor((i + 0.5) / m * n), m = min(n, STORE_QUANTILE_SAMPLES);
 *   - per live feature and catalogue column (every stored column, ra and dec first,
 *     then log_nii_ha and log_oiii_hb when the four BPT line fluxes are stored):
 *     Spearman's rho of the activation (0 where inactive) with the column over the
 *     validation galaxies where the column is known (as analysis_spearman computes it);
 *   - per run: the plot points of its validation galaxies in galaxy order (the BPT
 *     diagram's log [NII]/Halpha and log [OIII]/Hbeta when the catalogue has the four
 *     fluxes and some galaxy of the run has all four positive, else the first target's
 *     truth), and the validation RMSE of the stored head with only the top 1, 2, 4, 8
 *     and all live features by frequency (store_features' order) kept.
 * The readers below compute them in memory for a file of an older version opened READ. */

#define STORE_QUANTILE_SAMPLES 6
enum { STORE_POINTS_TARGET = 0, STORE_POINTS_BPT = 1 };

/* Computes the stored run's summaries and writes them, replacing any it had: the one
 * code path for every way a run is stored (the run writer's finish step, the upgrade
 * of older files, merging). Runs inside the caller's transaction when there is one.
 * Draws a progress bar (sf_progress) when it takes more than a second. */
int store_run_summarize(store *s, int64_t run_id);

typedef struct {
    int n_valid;  /* validation galaxies, in galaxy order (the index of store_valid_hit) */
    int kind;     /* STORE_POINTS_* */
    float *x, *y; /* owned (n_valid): BPT x, y; or the first target's truth and NAN; NAN unusable */
} store_points;
int store_run_points(store *s, int64_t run_id, store_points *out);
void store_points_clear(store_points *p);

typedef struct {
    double sum, sum_sq;             /* of the raw activation over every galaxy of the run */
    double sum_valid, sum_sq_valid; /* over the validation galaxies */
} store_feature_sums;
/* out (d), by feature number; zeros for dead features. */
int store_run_feature_sums(store *s, int64_t run_id, int d, store_feature_sums *out);

typedef struct {
    int index;   /* into store_points (validation galaxies in galaxy order) */
    float value; /* raw activation */
} store_valid_hit;
/* The validation galaxies where the feature is active, by index; *out owned (free). */
int store_feature_valid_hits(store *s, int64_t run_id, int feature, store_valid_hit **out, int *n);

typedef struct {
    int other;        /* the other feature */
    int n_both;       /* galaxies where both are active (all of the run) */
    double cross;     /* sum of a_feature a_other over them */
    int n_both_valid; /* the same over the validation galaxies */
    double cross_valid;
} store_pair;
/* The features active together with feature on some galaxy, by number; *out owned. */
int store_feature_pairs(store *s, int64_t run_id, int feature, store_pair **out, int *n);

/* The quantile samples (low to high) as store_hit; *hits owned (free). */
int store_feature_samples(store *s, int64_t run_id, int feature, store_hit **hits, int *n);

typedef struct {
    int position; /* the column's place in the order above (ties of |rho|) */
    char name[STORE_NAME_MAX];
    double rho;  /* finite */
    int n_pairs; /* validation galaxies where the column is known */
} store_column_rho;
/* The feature's Spearman correlations with the catalogue columns, by position; only
 * those defined (3 pairs or more, neither side constant). *out owned (free). */
int store_feature_columns(store *s, int64_t run_id, int feature, store_column_rho **out, int *n);

typedef struct {
    int n_terms; /* the top n_terms features by frequency */
    double rmse; /* over all outputs (NAN without validation galaxies) */
    double rmse_t[STORE_MAX_TARGETS];
} store_level;
/* The few-feature RMSEs by n_terms (1, 2, 4, 8 below the number of live features, then
 * all of them); *out owned (free). */
int store_run_levels(store *s, int64_t run_id, store_level **out, int *n);

/* ---- sparse codes and pairs of runs (schema version 4) -------------------------------
 *
 * A run's codes are its activations again, packed in galaxy order (run_codes, a few
 * blobs per run written with the run): loading a run's 250,000 codes reads about
 * 9 MB instead of a million rows. Similar galaxies and the statistics of two runs
 * are computed from them.
 *
 * Two runs that share galaxies (the SL and Z runs of one survey) have pair statistics,
 * stored when the later run is written: over the galaxies both hold, for every feature
 * of either run, how many galaxies it is active in and the sums of its activation and
 * of its square, and for every two features (one of each run) active together on some
 * galaxy, on how many and the sum of the products. From these the Pearson correlation
 * of any feature of one run with any feature of the other is one formula (query.h).
 * They are stored both ways round (run, other) and (other, run) and go with either run
 * when it is deleted.
 *
 * Files written before version 4 have neither: opened READ, codes are read from the
 * activations and pair statistics computed from the codes, as the writer would (the
 * same functions), only slower; opened for writing, they get both stored. */

/* One galaxy's code: its active features (ascending) and their values (> 0). */
typedef struct {
    int64_t galaxy_id;
    int split;               /* 0 train, 1 valid */
    int m;                   /* active features */
    const uint16_t *feature; /* (m) */
    const float *value;      /* (m) */
} store_code_row;

typedef struct {
    int64_t run_id;
    int d;
    int n;              /* galaxies of the run */
    int64_t *galaxy_id; /* (n) ascending */
    uint8_t *split;     /* (n) */
    size_t *start;      /* (n + 1): galaxy i's pairs are [start[i], start[i + 1]) */
    uint16_t *feature;  /* (nnz) ascending within a galaxy */
    float *value;       /* (nnz) */
} store_codes;

/* Every galaxy's code of the run. Owned by the caller: store_codes_clear. */
int store_codes_load(store *s, int64_t run_id, store_codes *c);
void store_codes_clear(store_codes *c);
/* Row i of c as a store_code_row. */
store_code_row store_codes_get(const store_codes *c, int i);
/* The row of galaxy_id in c, or -1. */
int store_codes_find(const store_codes *c, int64_t galaxy_id);

/* Reads a run's codes one galaxy at a time, in ascending galaxy id, without holding
 * them all (a dense run of 250,000 galaxies is 750 MB of codes). */
typedef struct store_codes_cursor store_codes_cursor;
int store_codes_open(store *s, int64_t run_id, store_codes_cursor **cur);
/* 1 with the next galaxy in *row (valid until the next call), 0 after the last one,
 * SF_ERR on a failure. */
int store_codes_next(store_codes_cursor *cur, store_code_row *row);
void store_codes_close(store_codes_cursor *cur);
/* The next galaxy both cursors hold: 1 with it in *ra and *rb, 0 when either ends,
 * SF_ERR on a failure. */
int store_codes_next_shared(store_codes_cursor *a, store_codes_cursor *b, store_code_row *ra,
                            store_code_row *rb);

/* Sums of x y^T over pairs of codes x (dx features) and y (dy features):
 * cross (dx, dy) += x y^T and n_both (dx, dy) += [x > 0][y > 0]^T (n_both may be NULL).
 * Sparse pairs add their m_x m_y products one by one; pairs with many active features
 * (dense runs) are gathered into blocks and added by BLAS. The sums are complete after
 * store_cross_sums_finish, which frees the accumulator (not the arrays). */
typedef struct store_cross_sums store_cross_sums;
store_cross_sums *store_cross_sums_new(int dx, int dy, double *cross, int *n_both);
void store_cross_sums_add(store_cross_sums *a, const store_code_row *x, const store_code_row *y);
void store_cross_sums_finish(store_cross_sums *a);

/* The statistics of a run (rows) and another run (columns) over the galaxies both hold. */
typedef struct {
    int64_t run_id, other_id;
    int d, d_other;
    int n_shared;                     /* galaxies both runs hold */
    int *n_active;                    /* (d) over the shared galaxies */
    double *sum, *sum_sq;             /* (d) of the activation and of its square */
    int *n_active_other;              /* (d_other) */
    double *sum_other, *sum_sq_other; /* (d_other) */
    int row;                          /* -1: every row below; else only this feature's */
    int *n_both;                      /* (d, d_other) galaxies where both are active */
    double *cross;                    /* (d, d_other) sum of the products */
    int stored;                       /* read from the file (0: computed now) */
} store_cross;

/* The pair statistics of run_id against other_id (every row with feature -1, else only
 * that feature's row of n_both and cross, the rest zero). Read when stored, else
 * computed from the two runs' codes. Owned: store_cross_clear. */
int store_cross_load(store *s, int64_t run_id, int64_t other_id, int feature, store_cross *p);
void store_cross_clear(store_cross *p);
/* Computes them from the two runs' codes (what the writer stores). */
int store_cross_compute(store *s, int64_t run_id, int64_t other_id, store_cross *p);

/* The other runs that share galaxies with run_id, by id, and how many they share.
 * *others and *n_shared owned (free). */
int store_cross_runs(store *s, int64_t run_id, int64_t **others, int **n_shared, int *n);

/* Writes the codes of every run that lacks them and the pair statistics of every two
 * runs that lack them: inside the caller's write transaction when there is one, else in
 * its own. store_run_finish calls it, and store_open for writing (a file upgraded from
 * an older version); a writer that adds activations another way (merging shards) calls
 * it too. Nothing to do costs one query. */
int store_cross_refresh(store *s);

#endif
