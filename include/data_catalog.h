/* data_catalog.h: galaxy catalogues (CSV) and the targets a run learns.
 *
 * catalog_load() reads an RFC 4180 CSV file: a header row, quoted fields
 * ("a,b", "say ""x"""), CRLF or LF line ends, an optional UTF-8 BOM. The column
 * `objID` is required and stays text (19-digit SDSS IDs do not fit a double).
 * Every other field is parsed with strtod; an empty field, NaN, a non-numeric
 * field and -9999 are "missing" and stored as NAN. The catalogue owns all its
 * memory; catalog_free() releases it.
 *
 * targets_select() applies a target preset and returns the rows kept:
 *   "metallicity": oh_p50, keeping oh_p50 > 0, lgm_tot_p50 > 0, sfr_tot_p50 > -10
 *                  (each cut only where its column exists)
 *   "bpt_lines":   log10 of nii_6584_flux, h_alpha_flux, oiii_5007_flux, h_beta_flux,
 *                  keeping every flux > 0 with its error > 0 (a negative flux over a
 *                  negative error would pass S/N > 3 and have no logarithm), every
 *                  flux/flux_err > 3 and flux < 1e5
 *   "a,b,c":       those numeric columns as they are, keeping rows where all are present.
 * Every target kept is finite as a float32: a value finite as a double but beyond
 * float range (oh_p50 = 1e300) is cut ("oh_p50 finite as float32"). It records how
 * many rows each cut removed, for reports (inspect prints them).
 *
 * catalog_parse() reads a catalogue already in memory; catalog_load() reads a file
 * and refuses, with a message, anything but a regular file (a directory, a FIFO that
 * would wait for a writer, /dev/zero that never ends) and binary files.
 */
#ifndef SF_DATA_CATALOG_H
#define SF_DATA_CATALOG_H

#include <stddef.h>

typedef struct {
    char *path;
    int n_rows;
    int n_cols;          /* numeric columns, objID excluded */
    char **col_names;    /* (n_cols) */
    char **obj_ids;      /* (n_rows) objID text */
    double *values;      /* (n_rows, n_cols) row-major, NAN where missing */
    int *line_of_row;    /* (n_rows) 1-based line in the file, for messages */
} catalog;

/* Returns SF_OK or SF_ERR with a message "file:line: what was wrong". */
int catalog_load(catalog *cat, const char *path);
/* The same for a catalogue in memory (len bytes, NUL bytes refused); name is its
 * path in messages. data stays the caller's. */
int catalog_parse(catalog *cat, const char *name, const char *data, size_t len);
void catalog_free(catalog *cat);
/* Column index of name, or -1. */
int catalog_column(const catalog *cat, const char *name);
static inline double catalog_value(const catalog *cat, int row, int col) {
    return cat->values[(size_t)row * (size_t)cat->n_cols + (size_t)col];
}

#define TARGET_MAX 16
#define TARGET_MAX_CUTS 40 /* 2 per target for 16 columns; 16 for bpt_lines */

typedef struct {
    char name[96];  /* "oh_p50 > 0", "h_alpha_flux S/N > 3", "missing oh_p50" ... */
    int removed;    /* rows removed by this cut, in the order the cuts are applied */
} target_cut;

typedef struct {
    char preset[32];                  /* "metallicity", "bpt_lines" or "columns" */
    int n_targets;
    char names[TARGET_MAX][64];       /* what each output is called, e.g. "oh_p50", "log_h_alpha_flux" */
    int n_rows;                       /* rows kept */
    int *rows;                        /* (n_rows) indices into the catalogue */
    float *y;                         /* (n_rows, n_targets) */
    int n_cuts;
    target_cut cuts[TARGET_MAX_CUTS];
} target_set;

/* spec: "metallicity", "bpt_lines" or comma-separated column names.
 * SF_ERR when a column is missing or no row survives the cuts. */
int targets_select(target_set *ts, const catalog *cat, const char *spec);
void targets_free(target_set *ts);

#endif
