/* data_fits.h: FITS files through cfitsio: binary-table catalogues, cutouts turned
 * into RGB, and result tables written for astropy and TOPCAT.
 *
 * Catalogues. fits_catalog_load() reads one FITS table into a catalog (see
 * data_catalog.h) from a name in cfitsio's extended syntax: `gal_line.fits`
 * (the first HDU that holds a table), `file.fits[1]`, `file.fits[GALLINE]`,
 * `file.fits[GALLINE][col OH_P50; LGM_TOT_P50]`, `file.fits[1][Z > 0.02]`,
 * `file.fits[1][#row < 1000]` ... cfitsio applies the selection; this module
 * never parses FITS itself. Every numeric scalar column of any FITS type (B, S
 * via TZERO, I, U, J, V, K, W, E, D, and ASCII-table numbers) becomes a value
 * column, named in lower case (FITS column names are case-insensitive; the
 * paper's CSV spells them in lower case, so the presets find both). TNULL, NaN,
 * infinities and -9999 are missing (NAN), as in CSV. Other columns (text,
 * logical, bit, complex, vectors) are left out and remembered, so that a target
 * naming one is told what it is. The galaxy ID column is id_column, or by
 * default the first of objID, OBJID, specObjID (any case); integers of every
 * width are kept exactly as text (64-bit IDs included), text IDs are trimmed.
 * The catalogue's path is `<name>[HDU n EXTNAME]`, so messages name the HDU,
 * and line_of_row holds the 1-based table row.
 *
 * Every failure is one line naming the file, the HDU and the column where there
 * is one: not a FITS file, no table in any HDU, a truncated or corrupt HDU, a
 * missing ID column, a null or non-integer ID.
 *
 * Cutouts. fits_cutout_decode_mem() turns a FITS cutout in memory into 8-bit RGB:
 * a (3, H, W) cube (the Legacy Survey cutout service's layout) or three image
 * HDUs of the same size, planes in band order bluest first (g, r, i for the
 * SDSS). The stretch is the asinh mapping of Lupton et al. (2004, PASP 116,
 * 133) as the Legacy Survey viewer applies it (legacysurvey/imagine,
 * map/views.py, sdss_rgb(), used by its SDSS layer):
 *
 *   v_b  = scale_b * flux_b + offset               (each plane b)
 *   I    = mean over b of max(0, v_b)
 *   f(I) = asinh(stretch * Q * I) / sqrt(Q)
 *   out_b = clip(v_b * f(I) / I, 0, 1)             (I = 0 taken as 1e-6)
 *   byte = floor(255 * out_b)                      (matplotlib's imsave)
 *
 * with plane 0 (the bluest) drawn blue, plane 1 green and plane 2 red. The
 * defaults are the viewer's for SDSS gri: scales g 2.5, r 1.5, i 1.0 (its table
 * also has u 1.5 and z 0.4), offset m = 0.02, Q = 20, stretch 1 (the viewer
 * folds Lupton's alpha into the scales). FITS rows run upwards (row 1 is the
 * south edge); the viewer's JPEG cutouts put north at the top, so rows are
 * flipped. NaN or blank pixels count as zero flux. A cube whose BAND0..BAND2
 * keywords (or image HDUs whose BAND keywords) name other bands than the
 * settings is refused rather than coloured wrongly.
 *
 * Tables out. fits_table_* write a binary table (one HDU after an empty
 * primary) row block by row block, to a path as sf_output.h writes it: into a
 * temporary file renamed over a regular file (or a link's target) when complete;
 * to a FIFO, a device or '-' as a stream (the file is built in memory first, since
 * cfitsio goes back to finish the header); a directory, socket or disk refused.
 */
#ifndef SF_DATA_FITS_H
#define SF_DATA_FITS_H

#include <stddef.h>
#include <stdint.h>

#include "data_catalog.h"

/* 1 when name is meant as a FITS file: it ends in .fits, .fit, .fts (optionally
 * .gz) or cfitsio's [..] selection, or the file starts with "SIMPLE  =". */
int fits_name_is_fits(const char *name);

/* Loads one FITS table (see above). id_column NULL: objID, OBJID or specObjID.
 * id_optional: a table without it loads with obj_ids NULL. SF_ERR with a one-line
 * message; cat is then empty. */
int fits_catalog_load(catalog *cat, const char *name, const char *id_column, int id_optional);

/* The file of an extended name, without cfitsio's [..] parts: "a.fits[1][col X]"
 * gives "a.fits". */
int fits_root_name(const char *name, char *root, size_t n);

/* ---- cutouts ----------------------------------------------------------------- */

typedef struct {
    char bands[3][8]; /* band of each plane, in file order, bluest first */
    float scale[3];   /* flux multiplier of each plane */
    float q;          /* Q of the asinh (viewer: 20) */
    float stretch;    /* Lupton's alpha (viewer: 1) */
    float offset;     /* m, added to every scaled flux (viewer's SDSS layer: 0.02) */
} fits_rgb;

/* The viewer's SDSS settings: bands g, r, i; scales 2.5, 1.5, 1.0; Q 20; stretch 1;
 * offset 0.02. */
void fits_rgb_default(fits_rgb *s);
/* 1 when s is the default (its settings change nothing in caches or runs). */
int fits_rgb_is_default(const fits_rgb *s);

/* The command-line options shared by --train, inspect and predict. opt is the
 * option's name without dashes: "fits-bands" (B,B,B: sets the viewer's scale of
 * each band too, unless fits-scales is given), "fits-scales" (S,S,S), "fits-q",
 * "fits-stretch", "fits-offset". Returns SF_OK, or SF_ERR with a message. A
 * later fits-bands keeps scales that fits-scales set. */
int fits_rgb_option(fits_rgb *s, const char *opt, const char *arg, int *scales_given);
/* One line for messages and run settings: "bands g,r,i scales 2.5,1.5,1 Q 20
 * stretch 1 offset 0.02". */
void fits_rgb_describe(const fits_rgb *s, char *out, size_t n);
/* As JSON text {"bands":["g","r","i"],"scales":[..],"Q":..,"stretch":..,"offset":..}
 * (malloc'd), and back. fits_rgb_from_json leaves s alone and returns SF_ERR on
 * text that is not such an object. */
char *fits_rgb_to_json(const fits_rgb *s);
int fits_rgb_from_json(fits_rgb *s, const char *json);

/* planes (3, h, w) fluxes as stored in the file (row 0 the bottom edge) to rgb
 * (h, w, 3) bytes, top row first, with the stretch above. */
void fits_rgb_stretch(const float *planes, int w, int h, const fits_rgb *s, uint8_t *rgb);

/* 1 when data starts like a FITS file. */
int fits_is_fits_data(const uint8_t *data, size_t len);
/* Decodes a FITS cutout held in memory; name is what messages call it. *rgb is
 * (h, w, 3), malloc'd. s NULL: the defaults. */
int fits_cutout_decode_mem(const uint8_t *data, size_t len, const char *name, const fits_rgb *s,
                           uint8_t **rgb, int *w, int *h);

/* ---- tables out -------------------------------------------------------------- */

typedef enum {
    FITS_COL_INT64, /* K */
    FITS_COL_INT32, /* J */
    FITS_COL_FLOAT, /* E, repeat floats a row */
    FITS_COL_TEXT,  /* repeat characters a row */
} fits_col_kind;

typedef struct {
    char name[72];
    fits_col_kind kind;
    int repeat;    /* elements a row (FLOAT: a vector column when > 1; TEXT: width) */
    char unit[24]; /* "" none */
} fits_col;

typedef struct fits_table_writer fits_table_writer;

/* Opens path for writing (see above; SF_ERR names a refused path) with a binary
 * table HDU named extname of the columns; header cards (key, value text: an integer is written as an integer) are
 * added to it (NULL-terminated pairs, may be NULL). */
int fits_table_create(fits_table_writer **w, const char *path, const char *extname,
                      const fits_col *cols, int n_cols, const char *const *cards);
/* Writes column col of rows [first, first + n) (0-based, appended past the end);
 * data is int64_t, int32_t, float (n * repeat) or char* (n strings). */
int fits_table_write(fits_table_writer *w, int col, int64_t first, int64_t n, const void *data);
/* commit 1: closes and renames over path (a stream gets the whole file); 0:
 * removes the temporary file, path stays as it was. SF_ERR on a failed write (the
 * file is then not replaced). Frees w either way. */
int fits_table_close(fits_table_writer *w, int commit);

/* 1 when id is a decimal integer that int64 holds exactly and prints back the
 * same (no '+', no leading zeros), so that a K column keeps it; *v its value. */
int fits_id_as_int64(const char *id, int64_t *v);

#endif
