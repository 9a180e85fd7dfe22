/* data_catalog.h: galaxy catalogues (CSV) and the targets a run learns.
 *
 * catalog_load() reads an RFC 4180 CSV file: a header row, quoted fields
 * ("a,b", "say ""x"""), CRLF or LF line ends, an optional UTF-8 BOM. The column
 * `objID` is required and stays text (19-digit SDSS IDs do not fit a double).
 * Every other field is parsed with strtod; an empty field, NaN, a non-numeric
 * field and -9999 are "missing" and stored as NAN. The catalogue owns all its
 * memory; catalog_free() releases it.
 *
 * A FITS table (a name ending in .fits/.fit/.fts, in cfitsio's extended syntax
 * `file.fits[HDU][col ...][rows]`, or a file starting "SIMPLE  =") is read by
 * data_fits.c instead, into the same structure (see data_fits.h).
 *
 * catalog_load_sources() loads several catalogues as one: joined row by row when
 * their lengths agree (the MPA-JHU gal_info / gal_line / gal_totsfr files share
 * their row order), or by a key column (join_column) otherwise. A column that
 * several files have is kept once when its values agree in every row; when they
 * differ, the load fails saying so (rename one with cfitsio's column filter).
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
 * many rows each cut removed, for reports (inspect prints them). targets_prepare()
 * and targets_apply() do the same one row at a time, for a catalogue read as a stream.
 *
 * catalog_parse() reads a catalogue already in memory; catalog_load() reads a file
 * and refuses, with a message, anything but a regular file (a directory, a FIFO that
 * would wait for a writer, /dev/zero that never ends) and binary files.
 *
 * A catalogue too large to hold (a survey) is read as a stream: catalog_stream_next()
 * gives one row at a time, parsed as catalog_load() parses it, and its position in the
 * file, so that catalog_stream_seek() can come back to it; only one record of the file
 * is in memory at a time. objIDs are not checked for uniqueness there (the caller
 * checks those it keeps). A FITS table or a join of several files is loaded whole
 * and then given row by row in the same way (catalog_stream_open_sources).
 */
#ifndef SF_DATA_CATALOG_H
#define SF_DATA_CATALOG_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    char *path;
    int n_rows;
    int n_cols;       /* numeric columns, objID excluded */
    char **col_names; /* (n_cols) */
    char **obj_ids;   /* (n_rows) objID text */
    double *values;   /* (n_rows, n_cols) row-major, NAN where missing */
    int *line_of_row; /* (n_rows) 1-based line in the file, for messages */
    int n_skipped;    /* columns left out (FITS: not numeric scalars), for messages */
    char **skipped;   /* (n_skipped) "NAME (why)" */
} catalog;

/* Returns SF_OK or SF_ERR with a message "file:line: what was wrong". */
int catalog_load(catalog *cat, const char *path);
/* The same for a catalogue in memory (len bytes, NUL bytes refused); name is its
 * path in messages. data stays the caller's. */
int catalog_parse(catalog *cat, const char *name, const char *data, size_t len);
/* SF_ERR with a message when path exists but is not a regular file (or a link to
 * one): a directory, a FIFO (reading it would wait for a writer), a device
 * (/dev/zero never ends). SF_OK otherwise, also when it is not there. */
int catalog_file_check(const char *path);
/* The same with the galaxy IDs from id_column (NULL: objID; for FITS also
 * specObjID). id_optional: a FITS table without that column loads with obj_ids
 * NULL (a file to be joined to one that has the IDs); a CSV file always needs it. */
int catalog_load_file(catalog *cat, const char *path, const char *id_column, int id_optional);

#define CATALOG_MAX_FILES 16

/* Where a catalogue comes from: one or more files (CSV paths or FITS names in
 * cfitsio's extended syntax), the key that joins them (NULL: row by row) and the
 * column of galaxy IDs (NULL: objID, OBJID or specObjID). */
typedef struct {
    int n_files;
    const char *files[CATALOG_MAX_FILES];
    const char *join_column;
    const char *id_column;
} catalog_sources;

/* Loads and joins the sources; the catalogue's path names them all ("a + b").
 * Rows are the first file's; with a key, a row that a later file lacks gets NAN
 * for that file's columns (counted in a warning). SF_ERR: any file failing to
 * load, lengths that differ without a key, a key missing from a file or repeated
 * within one, a shared column whose values differ, an objID repeated. */
int catalog_load_sources(catalog *cat, const catalog_sources *src);
/* One line naming the sources, as runs and caches record them: the file names
 * joined by " + ", then " (join on COL)" and " (IDs from COL)" when set. */
void catalog_sources_describe(const catalog_sources *src, char *out, size_t n);
/* Size and newest mtime over the sources' files (cfitsio selections removed), for
 * cache keys; SF_ERR naming a file that cannot be read. */
int catalog_sources_stat(const catalog_sources *src, uint64_t *size, int64_t *mtime_sec,
                         int64_t *mtime_nsec);
/* SF_ERR naming both rows when an objID appears twice. */
int catalog_check_unique_ids(const catalog *cat);
void catalog_free(catalog *cat);
/* Column index of name (exact, else ignoring case), or -1. */
int catalog_column(const catalog *cat, const char *name);
static inline double catalog_value(const catalog *cat, int row, int col) {
    return cat->values[(size_t)row * (size_t)cat->n_cols + (size_t)col];
}

/* Where a row starts in the file: its byte offset and line. */
typedef struct {
    long long offset;
    int line;
} catalog_pos;

typedef struct {
    const char *obj_id;   /* trimmed; valid until the next call */
    const double *values; /* (n_cols of the stream's columns) NAN where missing */
    catalog_pos pos;
} catalog_row;

typedef struct catalog_stream catalog_stream;

/* Opens the CSV file and reads its header. SF_ERR "file:line: what was wrong". */
int catalog_stream_open(catalog_stream **out, const char *path);
/* The same with the galaxy IDs from id_column (NULL: objID). */
int catalog_stream_open_file(catalog_stream **out, const char *path, const char *id_column);
/* A stream over a catalogue already held whole (taken: cat is left empty); a row's
 * position is its index. */
int catalog_stream_from_catalog(catalog_stream **out, catalog *cat);
/* The stream of the sources: a single CSV file is read as a file stream; FITS tables
 * and joined files are loaded whole (catalog_load_sources) and streamed from memory,
 * so that their memory grows with the catalogue's numeric columns. */
int catalog_stream_open_sources(catalog_stream **out, const catalog_sources *src);
/* The catalogue's path and columns (n_cols, col_names); it holds no rows. */
const catalog *catalog_stream_columns(const catalog_stream *st);
/* The next data row: 1, 0 at the end of the file, or SF_ERR as catalog_load's. */
int catalog_stream_next(catalog_stream *st, catalog_row *row);
/* The next catalog_stream_next gives the row that starts at pos (from an earlier row). */
int catalog_stream_seek(catalog_stream *st, catalog_pos pos);
void catalog_stream_close(catalog_stream *st);

#define TARGET_MAX 16
#define TARGET_MAX_CUTS 40 /* 2 per target for 16 columns; 16 for bpt_lines */

typedef struct {
    char name[96]; /* "oh_p50 > 0", "h_alpha_flux S/N > 3", "missing oh_p50" ... */
    int removed;   /* rows removed by this cut, in the order the cuts are applied */
} target_cut;

/* One cut of a target: its kind, the column tested (and its error column), the limit. */
typedef struct {
    int kind;
    int col, err_col;
    double limit;
} target_rule;

typedef struct {
    char preset[32]; /* "metallicity", "bpt_lines" or "columns" */
    int n_targets;
    char names[TARGET_MAX][64]; /* what each output is called, e.g. "oh_p50", "log_h_alpha_flux" */
    int n_rows;                 /* rows kept */
    int *rows;                  /* (n_rows) indices into the catalogue */
    float *y;                   /* (n_rows, n_targets) */
    int n_cuts;
    target_cut cuts[TARGET_MAX_CUTS];
    target_rule rules[TARGET_MAX_CUTS]; /* (n_cuts) applied in order */
    int cols[TARGET_MAX];               /* (n_targets) the column of each output */
    int take_log;                       /* outputs are log10 of the columns */
} target_set;

/* spec: "metallicity", "bpt_lines" or comma-separated column names.
 * SF_ERR when a column is missing or no row survives the cuts. */
int targets_select(target_set *ts, const catalog *cat, const char *spec);
void targets_free(target_set *ts);
/* The outputs and cuts of spec for cat's columns (cat may hold no rows): rows, y empty. */
int targets_prepare(target_set *ts, const catalog *cat, const char *spec);
/* One row's values (n_cols): 1 with its outputs in y (n_targets) when every cut
 * passes, else 0, counted against the first cut that failed. */
int targets_apply(target_set *ts, const double *values, float *y);
/* "path: no usable rows for target 'spec' among n_rows (removed by ...)"; SF_ERR. */
int targets_fail_empty(const target_set *ts, const char *path, const char *spec, int n_rows);

#endif
