/* data_fits.c: FITS catalogues, cutouts and result tables through cfitsio (see
 * data_fits.h).
 * Layer: data. Calls: sf_output, sf_util; cfitsio, cJSON.
 * Called by: data_catalog, data_catalog_join, data_image, cli_data_options,
 * cli_predict, query_fits.
 */
#include "data_fits.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <fitsio.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cJSON.h>

#include "sf_output.h"
#include "sf_util.h"

/* Larger claims in a header are treated as corrupt rather than allocated (as the
 * JPEG and PNG decoders do). */
#define FITS_MAX_PIXELS (64L * 1024 * 1024)

/* cfitsio built without --enable-reentrant shares state between threads: the
 * cutouts of a batch are decoded side by side, so they then take turns. */
static pthread_mutex_t fits_lock = PTHREAD_MUTEX_INITIALIZER;
static void fits_enter(void) {
    if (!fits_is_reentrant()) pthread_mutex_lock(&fits_lock);
}
static void fits_leave(void) {
    if (!fits_is_reentrant()) pthread_mutex_unlock(&fits_lock);
}

/* cfitsio's own words for status, on one line: its short text and the first
 * message of its stack, which it then clears. */
static void fits_why(int status, char *out, size_t n) {
    char text[FLEN_STATUS] = "", msg[FLEN_ERRMSG] = "", first[FLEN_ERRMSG] = "";
    fits_get_errstatus(status, text);
    while (fits_read_errmsg(msg))
        if (!first[0]) snprintf(first, sizeof first, "%s", msg);
    for (char *p = first; *p; p++)
        if (*p == '\n' || *p == '\r') *p = ' ';
    size_t len = strlen(first);
    while (len && (first[len - 1] == ' ' || first[len - 1] == ':')) first[--len] = 0;
    if (first[0] && strcasecmp(first, text) != 0) snprintf(out, n, "%s (cfitsio: %s)", text, first);
    else snprintf(out, n, "%s", text);
}

/* "HDU 2 (GALLINE)" or "HDU 1" of the current HDU. */
static void hdu_label(fitsfile *f, char *out, size_t n) {
    int num = 0, st = 0;
    fits_get_hdu_num(f, &num);
    char ext[FLEN_VALUE] = "";
    if (fits_read_key(f, TSTRING, "EXTNAME", ext, NULL, &st) != 0) {
        ext[0] = 0;
        fits_clear_errmsg();
    }
    if (ext[0]) snprintf(out, n, "HDU %d (%s)", num, ext);
    else snprintf(out, n, "HDU %d", num);
}

static int has_fits_suffix(const char *name, size_t len) {
    static const char *suffixes[] = {".fits",   ".fit",    ".fts", ".fits.gz",
                                     ".fit.gz", ".fts.gz", ".fz"};
    for (size_t i = 0; i < sizeof suffixes / sizeof *suffixes; i++) {
        size_t sl = strlen(suffixes[i]);
        if (len >= sl && !strncasecmp(name + len - sl, suffixes[i], sl)) return 1;
    }
    return 0;
}

int fits_is_fits_data(const uint8_t *data, size_t len) {
    return len >= 9 && !memcmp(data, "SIMPLE  =", 9);
}

int fits_name_is_fits(const char *name) {
    struct stat st;
    if (stat(name, &st) == 0) {
        /* a file of that very name (even with brackets in it): its suffix, or the
         * first bytes of a regular file (a FIFO or a device is not read: that could
         * wait for a writer forever) */
        if (has_fits_suffix(name, strlen(name))) return 1;
        if (!S_ISREG(st.st_mode)) return 0;
        FILE *f = fopen(name, "rb");
        if (!f) return 0;
        uint8_t head[9];
        size_t got = fread(head, 1, sizeof head, f);
        fclose(f);
        return fits_is_fits_data(head, got);
    }
    const char *bracket = strchr(name, '[');
    if (bracket && bracket > name) return 1; /* cfitsio's selection syntax */
    return has_fits_suffix(name, strlen(name));
}

int fits_root_name(const char *name, char *root, size_t n) {
    const char *bracket = strchr(name, '[');
    size_t len = bracket ? (size_t)(bracket - name) : strlen(name);
    if (len == 0 || len >= n) return sf_fail("%s: not a file name", name);
    memcpy(root, name, len);
    root[len] = 0;
    return SF_OK;
}

/* ---- a guard before cfitsio ------------------------------------------------------ */

/* cfitsio takes a table header's TFIELDS on trust: it allocates and clears a record
 * of about 160 bytes per column before it reads any of them, so a 6 KB file that
 * claims 45 million columns costs 7 GB. FITS allows at most 999 columns. The headers
 * of a plain (not compressed) file are walked here, HDU by HDU, before cfitsio reads
 * it; whatever this walk does not follow (a truncated header, sizes that overflow)
 * is left to cfitsio's own checks. */
typedef size_t (*fits_reader)(void *ctx, uint8_t *buf, size_t n, uint64_t off);

/* The integer value of a header card (columns 11-30); 0 when it is not one. */
static int card_integer(const uint8_t *card, long long *v) {
    char text[72];
    memcpy(text, card + 10, 70);
    text[70] = 0;
    char *end;
    errno = 0;
    long long x = strtoll(text, &end, 10);
    if (end == text || errno) return 0;
    *v = x;
    return 1;
}

static int check_headers(const char *name, fits_reader rd, void *ctx) {
    uint8_t block[2880];
    uint64_t off = 0;
    for (int hdu = 1; hdu <= 10000; hdu++) {
        long long bitpix = 0, naxis = -1, pcount = 0, gcount = 1, v;
        uint64_t pixels = 1;
        int end = 0, overflow = 0;
        while (!end) {
            if (rd(ctx, block, sizeof block, off) != sizeof block) return SF_OK;
            off += sizeof block;
            for (int c = 0; c < 36 && !end; c++) {
                const uint8_t *card = block + 80 * c;
                if (!memcmp(card, "END     ", 8)) {
                    end = 1;
                } else if (card[8] != '=' || !card_integer(card, &v)) {
                    continue;
                } else if (!memcmp(card, "BITPIX  ", 8)) {
                    bitpix = v;
                } else if (!memcmp(card, "NAXIS   ", 8)) {
                    naxis = v;
                } else if (!memcmp(card, "NAXIS", 5) && isdigit(card[5])) {
                    if (v < 0 || (v > 0 && pixels > UINT64_MAX / (uint64_t)v)) overflow = 1;
                    else pixels *= (uint64_t)v;
                } else if (!memcmp(card, "PCOUNT  ", 8)) {
                    pcount = v;
                } else if (!memcmp(card, "GCOUNT  ", 8)) {
                    gcount = v;
                } else if (!memcmp(card, "TFIELDS ", 8) && (v < 0 || v > 999)) {
                    /* even in a header cut short: cfitsio reads what is there */
                    return sf_fail("%s: HDU %d claims %lld columns (TFIELDS); FITS allows at "
                                   "most 999: the file is corrupt",
                                   name, hdu, v);
                }
            }
        }
        if (naxis < 0 || overflow || pcount < 0 || gcount < 0 || bitpix == 0) return SF_OK;
        if (naxis == 0) pixels = 0;
        uint64_t bytes_per = (uint64_t)(bitpix < 0 ? -bitpix : bitpix) / 8;
        if (pixels > UINT64_MAX / 4 - (uint64_t)pcount) return SF_OK;
        uint64_t n = pixels + (uint64_t)pcount;
        if (gcount && n > UINT64_MAX / 16 / (uint64_t)gcount) return SF_OK;
        uint64_t bytes = n * (uint64_t)gcount * bytes_per;
        if (bytes > UINT64_MAX / 2) return SF_OK;
        off += (bytes + 2879) / 2880 * 2880;
    }
    return SF_OK;
}

typedef struct {
    const uint8_t *data;
    size_t len;
} mem_source;

static size_t read_mem(void *ctx, uint8_t *buf, size_t n, uint64_t off) {
    const mem_source *m = ctx;
    if (off >= m->len) return 0;
    size_t k = m->len - off < n ? (size_t)(m->len - off) : n;
    memcpy(buf, m->data + off, k);
    return k;
}

static size_t read_fd(void *ctx, uint8_t *buf, size_t n, uint64_t off) {
    int fd = *(const int *)ctx;
    size_t got = 0;
    while (got < n) {
        ssize_t k = pread(fd, buf + got, n - got, (off_t)(off + got));
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) break;
        got += (size_t)k;
    }
    return got;
}

/* The guard above for the plain FITS file path (a compressed one is left to cfitsio). */
static int check_file_headers(const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return SF_OK; /* cfitsio says why it cannot open it */
    uint8_t head[9];
    int rc = SF_OK;
    if (read_fd(&fd, head, sizeof head, 0) == sizeof head && fits_is_fits_data(head, sizeof head))
        rc = check_headers(path, read_fd, &fd);
    close(fd);
    return rc;
}

/* ---- catalogues ------------------------------------------------------------------- */

/* Numeric scalar columns: those cfitsio converts to double. */
static int is_numeric_type(int type) {
    switch (type) {
    case TBYTE:
    case TSBYTE:
    case TSHORT:
    case TUSHORT:
    case TINT:
    case TUINT:
    case TLONG:
    case TULONG:
    case TLONGLONG:
    case TULONGLONG:
    case TFLOAT:
    case TDOUBLE: return 1;
    default: return 0;
    }
}

static int is_integer_type(int type) {
    return is_numeric_type(type) && type != TFLOAT && type != TDOUBLE;
}

static const char *type_name(int type) {
    switch (type) {
    case TBIT: return "bits (X)";
    case TLOGICAL: return "logical (L)";
    case TSTRING: return "text (A)";
    case TCOMPLEX: return "complex (C)";
    case TDBLCOMPLEX: return "complex (M)";
    default: return type < 0 ? "variable-length array (P/Q)" : "not numeric";
    }
}

/* The column's TTYPE, or "col<n>" when it has none. */
static void column_name(fitsfile *f, int col, char *out, size_t n) {
    char key[FLEN_KEYWORD], val[FLEN_VALUE] = "";
    int st = 0;
    fits_make_keyn("TTYPE", col, key, &st);
    if (fits_read_key(f, TSTRING, key, val, NULL, &st) != 0 || !val[0]) {
        fits_clear_errmsg();
        snprintf(out, n, "col%d", col);
        return;
    }
    size_t len = strlen(val);
    while (len && val[len - 1] == ' ') val[--len] = 0;
    snprintf(out, n, "%s", val);
}

static char *lower_dup(const char *s) {
    char *d = xstrdup(s);
    for (char *p = d; *p; p++) *p = (char)tolower((unsigned char)*p);
    return d;
}

static int is_id_name(const char *name, const char *id_column) {
    if (id_column) return !strcasecmp(name, id_column);
    return !strcasecmp(name, "objID") || !strcasecmp(name, "specObjID");
}

/* Moves to the HDU that holds the table: the one the name selects, or the first
 * table when it selects none (cfitsio then opens the primary HDU). */
static int move_to_table(fitsfile *f, const char *name, char *label, size_t label_n) {
    int type = 0, st = 0;
    fits_get_hdu_type(f, &type, &st);
    if (type == BINARY_TBL || type == ASCII_TBL) {
        hdu_label(f, label, label_n);
        return SF_OK;
    }
    int num = 0;
    fits_get_hdu_num(f, &num);
    if (strchr(name, '[') || num != 1) {
        hdu_label(f, label, label_n);
        return sf_fail("%s: %s is an image, not a table", name, label);
    }
    int n_hdu = 1;
    for (;;) {
        st = 0;
        if (fits_movrel_hdu(f, 1, &type, &st) != 0) {
            char why[300];
            fits_why(st, why, sizeof why);
            if (st == END_OF_FILE)
                return sf_fail("%s: no table in any of its %d HDU%s (images only)", name, n_hdu,
                               n_hdu > 1 ? "s" : "");
            return sf_fail("%s: HDU %d is truncated or corrupt: %s", name, n_hdu + 1, why);
        }
        n_hdu++;
        if (type == BINARY_TBL || type == ASCII_TBL) {
            hdu_label(f, label, label_n);
            return SF_OK;
        }
    }
}

typedef struct {
    int fits_col; /* 1-based column in the file */
    int type;     /* equivalent type */
} col_plan;

/* Reads the ID column's rows [row0, row0 + n) as text into ids. */
static int read_ids(fitsfile *f, const char *where, const char *id_name, int col, int type,
                    long width, int64_t row0, long n, char **ids, int *status) {
    if (type == TSTRING) {
        char **bufs = xmalloc((size_t)n * sizeof *bufs);
        char *block = xcalloc((size_t)n, (size_t)width + 1);
        for (long i = 0; i < n; i++) bufs[i] = block + (size_t)i * ((size_t)width + 1);
        int anynul = 0;
        fits_read_col_str(f, col, row0 + 1, 1, n, "", bufs, &anynul, status);
        int rc = SF_OK;
        for (long i = 0; i < n && !*status; i++) {
            const char *s = bufs[i];
            while (*s == ' ') s++;
            size_t len = strlen(s);
            while (len && s[len - 1] == ' ') len--;
            if (!len) {
                rc = sf_fail("%s: row %lld: column '%s' (the galaxy ID) is empty", where,
                             (long long)(row0 + i + 1), id_name);
                break;
            }
            ids[i] = xmalloc(len + 1);
            memcpy(ids[i], s, len);
            ids[i][len] = 0;
        }
        free(block);
        free(bufs);
        return rc;
    }
    char *nul = xcalloc((size_t)n, 1);
    int anynul = 0, rc = SF_OK;
    if (type == TULONGLONG) {
        unsigned long long *v = xmalloc((size_t)n * sizeof *v);
        fits_read_colnull(f, TULONGLONG, col, row0 + 1, 1, n, v, nul, &anynul, status);
        for (long i = 0; i < n && !*status && rc == SF_OK; i++) {
            if (nul[i])
                rc = sf_fail("%s: row %lld: column '%s' (the galaxy ID) is null", where,
                             (long long)(row0 + i + 1), id_name);
            else if (asprintf(&ids[i], "%llu", v[i]) < 0) SF_ASSERT(!"out of memory");
        }
        free(v);
    } else if (is_integer_type(type)) {
        long long *v = xmalloc((size_t)n * sizeof *v);
        fits_read_colnull(f, TLONGLONG, col, row0 + 1, 1, n, v, nul, &anynul, status);
        for (long i = 0; i < n && !*status && rc == SF_OK; i++) {
            if (nul[i])
                rc = sf_fail("%s: row %lld: column '%s' (the galaxy ID) is null", where,
                             (long long)(row0 + i + 1), id_name);
            else if (asprintf(&ids[i], "%lld", v[i]) < 0) SF_ASSERT(!"out of memory");
        }
        free(v);
    } else {
        double *v = xmalloc((size_t)n * sizeof *v);
        fits_read_colnull(f, TDOUBLE, col, row0 + 1, 1, n, v, nul, &anynul, status);
        for (long i = 0; i < n && !*status && rc == SF_OK; i++) {
            /* a float column holds an ID only when it is an integer below 2^53 */
            if (nul[i] || !(fabs(v[i]) <= 9007199254740992.0) || v[i] != floor(v[i]))
                rc =
                    sf_fail("%s: row %lld: column '%s' (the galaxy ID) is %s, not an integer "
                            "a float column can hold exactly; store IDs as K or text columns",
                            where, (long long)(row0 + i + 1), id_name, nul[i] ? "null" : "a float");
            else if (asprintf(&ids[i], "%.0f", v[i]) < 0) SF_ASSERT(!"out of memory");
        }
        free(v);
    }
    free(nul);
    return rc;
}

int fits_catalog_load(catalog *cat, const char *name, const char *id_column, int id_optional) {
    memset(cat, 0, sizeof *cat);
    fitsfile *f = NULL;
    int status = 0, rc = SF_ERR;
    char label[FLEN_VALUE + 32] = "", why[300], where[1200];
    col_plan *plan = NULL;
    /* a directory, FIFO or device under a FITS name is refused before cfitsio waits
     * on it or reads it forever */
    char root[4096];
    if (fits_root_name(name, root, sizeof root) == SF_OK &&
        (catalog_file_check(root) != SF_OK || check_file_headers(root) != SF_OK))
        return SF_ERR;
    fits_enter();
    if (fits_open_file(&f, name, READONLY, &status) != 0) {
        fits_why(status, why, sizeof why);
        fits_leave();
        return sf_fail("%s: cannot open as FITS: %s", name, why);
    }
    if (move_to_table(f, name, label, sizeof label) != SF_OK) goto done;
    snprintf(where, sizeof where, "%s %s", name, label);

    int n_cols = 0;
    long long n_rows = 0;
    if (fits_get_num_cols(f, &n_cols, &status) || fits_get_num_rowsll(f, &n_rows, &status)) {
        fits_why(status, why, sizeof why);
        sf_fail("%s: unreadable table header: %s", where, why);
        goto done;
    }
    if (n_rows <= 0) {
        sf_fail("%s: the table has no rows", where);
        goto done;
    }
    if (n_rows > INT_MAX / 2) {
        sf_fail("%s: %lld rows is more than a catalogue can hold", where, n_rows);
        goto done;
    }

    int id_col = -1, id_type = 0;
    long id_width = 0;
    char id_name[FLEN_VALUE] = "";
    plan = xcalloc((size_t)n_cols + 1, sizeof *plan);
    cat->col_names = xcalloc((size_t)n_cols + 1, sizeof *cat->col_names);
    cat->skipped = xcalloc((size_t)n_cols + 1, sizeof *cat->skipped);
    for (int c = 1; c <= n_cols; c++) {
        char cname[FLEN_VALUE];
        column_name(f, c, cname, sizeof cname);
        int type = 0;
        long repeat = 0, width = 0;
        if (fits_get_eqcoltype(f, c, &type, &repeat, &width, &status)) {
            fits_why(status, why, sizeof why);
            sf_fail("%s: column '%s': %s", where, cname, why);
            goto done;
        }
        if (id_col < 0 && is_id_name(cname, id_column)) {
            int scalar = type == TSTRING || repeat == 1;
            if (!scalar || !(type == TSTRING || is_numeric_type(type))) {
                sf_fail("%s: column '%s' (the galaxy ID) is %s%s; IDs are integer or text "
                        "scalars",
                        where, cname, repeat > 1 && type != TSTRING ? "a vector of " : "",
                        type_name(type));
                goto done;
            }
            id_col = c, id_type = type, id_width = width;
            snprintf(id_name, sizeof id_name, "%s", cname);
            continue;
        }
        for (int j = 0; j < cat->n_cols; j++)
            if (!strcasecmp(cat->col_names[j], cname)) {
                sf_fail("%s: column '%s' appears twice (as '%s' too)", where, cname,
                        cat->col_names[j]);
                goto done;
            }
        if (is_numeric_type(type) && repeat == 1) {
            plan[cat->n_cols].fits_col = c;
            plan[cat->n_cols].type = type;
            cat->col_names[cat->n_cols++] = lower_dup(cname);
        } else {
            char note[FLEN_VALUE + 80];
            if (is_numeric_type(type))
                snprintf(note, sizeof note, "%s (a vector of %ld numbers, not a scalar)", cname,
                         repeat);
            else snprintf(note, sizeof note, "%s (%s)", cname, type_name(type));
            cat->skipped[cat->n_skipped++] = xstrdup(note);
        }
    }
    if (id_col < 0 && !id_optional) {
        if (id_column)
            sf_fail("%s: no column '%s' for the galaxy IDs (--id-column)", where, id_column);
        else
            sf_fail("%s: no objID, OBJID or specObjID column for the galaxy IDs; name the ID "
                    "column with --id-column",
                    where);
        goto done;
    }

    cat->n_rows = (int)n_rows;
    size_t nc = (size_t)(cat->n_cols ? cat->n_cols : 1);
    cat->values = xmalloc((size_t)n_rows * nc * sizeof(double));
    cat->obj_ids = id_col > 0 ? xcalloc((size_t)n_rows, sizeof *cat->obj_ids) : NULL;
    cat->line_of_row = xmalloc((size_t)n_rows * sizeof *cat->line_of_row);
    for (int r = 0; r < cat->n_rows; r++) cat->line_of_row[r] = r + 1;

    /* Row blocks of cfitsio's buffer size, every column of a block in turn: one pass
     * over the file rather than one per column. */
    long block = 0;
    if (fits_get_rowsize(f, &block, &status) || block < 1) block = 1, status = 0;
    if (block > 65536) block = 65536;
    double *buf = xmalloc((size_t)block * sizeof *buf);
    char *nul = xmalloc((size_t)block);
    for (int64_t r0 = 0; r0 < n_rows && !status; r0 += block) {
        long n = (long)(n_rows - r0 < block ? n_rows - r0 : block);
        if (id_col > 0 && read_ids(f, where, id_name, id_col, id_type, id_width, r0, n,
                                   cat->obj_ids + r0, &status) != SF_OK) {
            free(buf);
            free(nul);
            goto done;
        }
        if (status) {
            fits_why(status, why, sizeof why);
            sf_fail("%s: column '%s', rows %lld-%lld: truncated or corrupt: %s", where, id_name,
                    (long long)r0 + 1, (long long)(r0 + n), why);
            break;
        }
        for (int j = 0; j < cat->n_cols; j++) {
            int anynul = 0;
            memset(nul, 0, (size_t)n);
            if (fits_read_colnull(f, TDOUBLE, plan[j].fits_col, r0 + 1, 1, n, buf, nul, &anynul,
                                  &status)) {
                fits_why(status, why, sizeof why);
                sf_fail("%s: column '%s', rows %lld-%lld: truncated or corrupt: %s", where,
                        cat->col_names[j], (long long)r0 + 1, (long long)(r0 + n), why);
                break;
            }
            for (long i = 0; i < n; i++) {
                double v = buf[i];
                if (nul[i] || !isfinite(v) || v == -9999.0) v = NAN;
                cat->values[(size_t)(r0 + i) * nc + (size_t)j] = v;
            }
        }
    }
    free(buf);
    free(nul);
    if (status) goto done;
    cat->path = xstrdup(where);
    rc = SF_OK;
done:
    status = 0;
    if (f) fits_close_file(f, &status);
    fits_clear_errmsg();
    fits_leave();
    free(plan);
    if (rc != SF_OK) catalog_free(cat);
    return rc;
}

/* ---- cutouts ----------------------------------------------------------------- */

/* The viewer's sdss_rgb() table of band scales. */
static const struct {
    const char *band;
    float scale;
} viewer_scales[] = {{"u", 1.5f}, {"g", 2.5f}, {"r", 1.5f}, {"i", 1.0f}, {"z", 0.4f}};

static int viewer_scale(const char *band, float *scale) {
    for (size_t i = 0; i < sizeof viewer_scales / sizeof *viewer_scales; i++)
        if (!strcmp(viewer_scales[i].band, band)) {
            *scale = viewer_scales[i].scale;
            return 1;
        }
    return 0;
}

void fits_rgb_default(fits_rgb *s) {
    memset(s, 0, sizeof *s);
    static const char *bands[3] = {"g", "r", "i"};
    for (int b = 0; b < 3; b++) {
        snprintf(s->bands[b], sizeof s->bands[b], "%s", bands[b]);
        viewer_scale(bands[b], &s->scale[b]);
    }
    s->q = 20;
    s->stretch = 1;
    s->offset = 0.02f;
}

int fits_rgb_is_default(const fits_rgb *s) {
    fits_rgb d;
    fits_rgb_default(&d);
    for (int b = 0; b < 3; b++)
        if (strcmp(s->bands[b], d.bands[b]) || s->scale[b] != d.scale[b]) return 0;
    return s->q == d.q && s->stretch == d.stretch && s->offset == d.offset;
}

static int parse_float(const char *text, float *out) {
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || *end || !isfinite(v)) return SF_ERR;
    *out = (float)v;
    return SF_OK;
}

int fits_rgb_option(fits_rgb *s, const char *opt, const char *arg, int *scales_given) {
    if (!strcmp(opt, "fits-bands")) {
        char copy[64], bands[3][8] = {{0}};
        snprintf(copy, sizeof copy, "%s", arg);
        int n = 0;
        char *save = NULL;
        for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            if (n == 3 || !t[0] || strlen(t) >= sizeof bands[0]) {
                n = -1;
                break;
            }
            snprintf(bands[n++], sizeof bands[0], "%s", t);
        }
        if (n != 3)
            return sf_fail("--fits-bands '%s': expected the three bands of the planes in file "
                           "order, bluest first, e.g. g,r,i",
                           arg);
        float scales[3];
        for (int b = 0; b < 3; b++)
            if (!viewer_scale(bands[b], &scales[b]) && !*scales_given)
                return sf_fail("--fits-bands '%s': no default scale for band '%s' (the "
                               "viewer's are u, g, r, i, z): give --fits-scales too",
                               arg, bands[b]);
        for (int b = 0; b < 3; b++) {
            memcpy(s->bands[b], bands[b], sizeof s->bands[b]);
            if (!*scales_given) s->scale[b] = scales[b];
        }
        return SF_OK;
    }
    if (!strcmp(opt, "fits-scales")) {
        char copy[128];
        snprintf(copy, sizeof copy, "%s", arg);
        float v[3];
        int n = 0;
        char *save = NULL;
        for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            if (n == 3 || parse_float(t, &v[n]) != SF_OK || !(v[n] > 0)) {
                n = -1;
                break;
            }
            n++;
        }
        if (n != 3)
            return sf_fail("--fits-scales '%s': expected three positive numbers, one per plane "
                           "in file order",
                           arg);
        memcpy(s->scale, v, sizeof v);
        *scales_given = 1;
        return SF_OK;
    }
    float v;
    if (parse_float(arg, &v) != SF_OK) return sf_fail("--%s '%s': expected a number", opt, arg);
    if (!strcmp(opt, "fits-q")) {
        if (!(v > 0)) return sf_fail("--fits-q '%s': Q must be above 0", arg);
        s->q = v;
    } else if (!strcmp(opt, "fits-stretch")) {
        if (!(v > 0)) return sf_fail("--fits-stretch '%s': must be above 0", arg);
        s->stretch = v;
    } else if (!strcmp(opt, "fits-offset")) {
        s->offset = v;
    } else {
        return sf_fail("--%s: not a FITS cutout option", opt);
    }
    return SF_OK;
}

void fits_rgb_describe(const fits_rgb *s, char *out, size_t n) {
    snprintf(out, n, "bands %s,%s,%s scales %g,%g,%g Q %g stretch %g offset %g", s->bands[0],
             s->bands[1], s->bands[2], s->scale[0], s->scale[1], s->scale[2], s->q, s->stretch,
             s->offset);
}

/* The shortest decimal that reads back as v (0.02, not 0.0199999995529651), as a
 * JSON number. */
static cJSON *float_number(float v) {
    char text[32];
    for (int digits = 6; digits <= 9; digits++) {
        snprintf(text, sizeof text, "%.*g", digits, (double)v);
        if ((float)strtod(text, NULL) == v) break;
    }
    return cJSON_CreateNumber(strtod(text, NULL));
}

char *fits_rgb_to_json(const fits_rgb *s) {
    cJSON *o = cJSON_CreateObject();
    cJSON *bands = cJSON_AddArrayToObject(o, "bands");
    cJSON *scales = cJSON_AddArrayToObject(o, "scales");
    for (int b = 0; b < 3; b++) {
        cJSON_AddItemToArray(bands, cJSON_CreateString(s->bands[b]));
        cJSON_AddItemToArray(scales, float_number(s->scale[b]));
    }
    cJSON_AddItemToObject(o, "Q", float_number(s->q));
    cJSON_AddItemToObject(o, "stretch", float_number(s->stretch));
    cJSON_AddItemToObject(o, "offset", float_number(s->offset));
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

int fits_rgb_from_json(fits_rgb *s, const char *json) {
    cJSON *o = cJSON_Parse(json);
    fits_rgb r;
    memset(&r, 0, sizeof r);
    int ok = cJSON_IsObject(o);
    const cJSON *bands = ok ? cJSON_GetObjectItem(o, "bands") : NULL;
    const cJSON *scales = ok ? cJSON_GetObjectItem(o, "scales") : NULL;
    ok = ok && cJSON_GetArraySize(bands) == 3 && cJSON_GetArraySize(scales) == 3;
    for (int b = 0; ok && b < 3; b++) {
        const cJSON *bn = cJSON_GetArrayItem(bands, b), *sc = cJSON_GetArrayItem(scales, b);
        ok =
            cJSON_IsString(bn) && strlen(bn->valuestring) < sizeof r.bands[b] && cJSON_IsNumber(sc);
        if (ok) {
            snprintf(r.bands[b], sizeof r.bands[b], "%s", bn->valuestring);
            r.scale[b] = (float)sc->valuedouble;
        }
    }
    const char *keys[3] = {"Q", "stretch", "offset"};
    float *dst[3] = {&r.q, &r.stretch, &r.offset};
    for (int i = 0; ok && i < 3; i++) {
        const cJSON *v = cJSON_GetObjectItem(o, keys[i]);
        ok = cJSON_IsNumber(v);
        if (ok) *dst[i] = (float)v->valuedouble;
    }
    cJSON_Delete(o);
    if (!ok) return sf_fail("not a FITS cutout stretch: %.80s", json);
    *s = r;
    return SF_OK;
}

void fits_rgb_stretch(const float *planes, int w, int h, const fits_rgb *s, uint8_t *rgb) {
    size_t plane = (size_t)w * (size_t)h;
    float sq = sqrtf(s->q), aq = s->stretch * s->q;
    for (int y = 0; y < h; y++) {
        const size_t src_row = (size_t)(h - 1 - y) * (size_t)w; /* north up */
        uint8_t *out = rgb + (size_t)y * (size_t)w * 3;
        for (int x = 0; x < w; x++) {
            float v[3], sum = 0;
            for (int b = 0; b < 3; b++) {
                float flux = planes[(size_t)b * plane + src_row + (size_t)x];
                if (!isfinite(flux)) flux = 0;
                v[b] = flux * s->scale[b] + s->offset;
                sum += v[b] > 0 ? v[b] : 0;
            }
            float I = sum / 3;
            float fI = asinhf(aq * I) / sq;
            if (I == 0) I = 1e-6f;
            for (int b = 0; b < 3; b++) {
                float c = v[b] * fI / I;
                c = c > 0 ? (c < 1 ? c : 1) : 0;
                /* plane 0 (bluest) is blue: RGB index 2 */
                out[3 * x + (2 - b)] = (uint8_t)(c * 255.0f);
            }
        }
    }
}

/* The bands a header names: BAND<b> of a cube (key "BAND0".."BAND2") or BAND of one
 * plane's HDU; "" where absent. */
static void header_band(fitsfile *f, const char *key, char *out, size_t n) {
    int st = 0;
    char val[FLEN_VALUE] = "";
    if (fits_read_key(f, TSTRING, key, val, NULL, &st) != 0) {
        fits_clear_errmsg();
        val[0] = 0;
    }
    size_t len = strlen(val);
    while (len && val[len - 1] == ' ') val[--len] = 0;
    snprintf(out, n, "%s", val);
}

/* SF_ERR when the file names bands that differ from the settings'. */
static int check_band(fitsfile *f, const char *name, const char *key, const fits_rgb *s, int b) {
    char band[FLEN_VALUE];
    header_band(f, key, band, sizeof band);
    if (!band[0] || !strcasecmp(band, s->bands[b])) return SF_OK;
    char label[FLEN_VALUE + 32];
    hdu_label(f, label, sizeof label);
    return sf_fail("%s: %s: %s = '%s' but plane %d is taken as band %s (--fits-bands %s,%s,%s);"
                   " give the file's bands with --fits-bands",
                   name, label, key, band, b, s->bands[b], s->bands[0], s->bands[1], s->bands[2]);
}

/* Image dimensions of the current HDU: *naxis 0 for an empty or non-image HDU. */
static int image_dims(fitsfile *f, int *naxis, long long dims[3], int *status) {
    int type = 0;
    *naxis = 0;
    if (fits_get_hdu_type(f, &type, status)) return *status;
    if (type != IMAGE_HDU) return 0;
    long long d[9] = {0};
    int nax = 0;
    if (fits_get_img_dim(f, &nax, status) || nax > 9 || fits_get_img_sizell(f, nax, d, status))
        return *status ? *status : (*status = BAD_NAXIS);
    /* trailing axes of length 1 do not count (NAXIS = 4 with NAXIS4 = 1 is a cube) */
    while (nax > 2 && d[nax - 1] == 1) nax--;
    for (int i = 0; i < nax; i++)
        if (d[i] <= 0) nax = 0;
    *naxis = nax;
    for (int i = 0; i < 3; i++) dims[i] = i < nax ? d[i] : 1;
    return 0;
}

/* cfitsio's memory driver reads whole 2880-byte records and, for a buffer opened
 * READONLY, does not stop at the buffer's end (cfitsio 4.2: a truncated cutout made
 * it read past the allocation). So the buffer handed to it is padded to whole
 * records, and no HDU's data is read unless the file really holds all of it. */
static int data_in_file(fitsfile *f, const char *name, size_t len, long long n_elem, int *status) {
    long long head = 0, start = 0, end = 0;
    int bitpix = 0;
    if (fits_get_hduaddrll(f, &head, &start, &end, status) || fits_get_img_type(f, &bitpix, status))
        return SF_ERR;
    long long need = start + (long long)(abs(bitpix) / 8) * n_elem;
    if (need > (long long)len) {
        char label[FLEN_VALUE + 32];
        hdu_label(f, label, sizeof label);
        return sf_fail("%s: %s: truncated or corrupt: its data needs %lld bytes, the file has "
                       "%zu",
                       name, label, need, len);
    }
    return SF_OK;
}

static int read_plane(fitsfile *f, long long npix, int is_cube, int b, float *dst, int *status) {
    long long first = 1 + (is_cube ? (long long)b * npix : 0);
    float nulval = 0; /* 0: no null checking; NaN stays NaN, counted as 0 later */
    int anynul = 0;
    return fits_read_img(f, TFLOAT, first, npix, &nulval, dst, &anynul, status);
}

int fits_cutout_decode_mem(const uint8_t *data, size_t len, const char *name, const fits_rgb *s,
                           uint8_t **rgb, int *w, int *h) {
    *rgb = NULL;
    *w = *h = 0;
    fits_rgb defaults;
    if (!s) {
        fits_rgb_default(&defaults);
        s = &defaults;
    }
    if (!name) name = "FITS data";
    mem_source src = {data, len};
    if (check_headers(name, read_mem, &src) != SF_OK) return SF_ERR;
    fitsfile *f = NULL;
    int status = 0, rc = SF_ERR;
    char why[300], label[FLEN_VALUE + 32] = "";
    size_t memsize = (len + 2879) / 2880 * 2880;
    uint8_t *copy = xmalloc(memsize ? memsize : 2880);
    memcpy(copy, data, len);
    memset(copy + len, 0, memsize - len);
    void *mem = copy;
    float *planes = NULL;
    fits_enter();
    if (fits_open_memfile(&f, "cutout", READONLY, &mem, &memsize, 0, NULL, &status)) {
        fits_why(status, why, sizeof why);
        rc = sf_fail("%s: corrupt FITS: %s", name, why);
        goto done;
    }
    /* the first HDU that holds an image: a cube, or the first of three planes */
    int naxis = 0, hdu = 1;
    long long dims[3];
    for (;;) {
        if (image_dims(f, &naxis, dims, &status)) {
            fits_why(status, why, sizeof why);
            rc = sf_fail("%s: HDU %d is truncated or corrupt: %s", name, hdu, why);
            goto done;
        }
        if (naxis >= 2) break;
        int type;
        if (fits_movrel_hdu(f, 1, &type, &status)) {
            if (status == END_OF_FILE) {
                fits_clear_errmsg();
                rc = sf_fail("%s: no image in any of its %d HDU%s", name, hdu, hdu > 1 ? "s" : "");
            } else {
                fits_why(status, why, sizeof why);
                rc = sf_fail("%s: HDU %d is truncated or corrupt: %s", name, hdu + 1, why);
            }
            goto done;
        }
        hdu++;
    }
    hdu_label(f, label, sizeof label);
    if (naxis > 3) {
        rc = sf_fail("%s: %s has %d axes; a cutout is a (3, H, W) cube or three 2-d images", name,
                     label, naxis);
        goto done;
    }
    long long W = dims[0], H = dims[1];
    if (W * H > FITS_MAX_PIXELS / 3) {
        rc = sf_fail("%s: %s: %lldx%lld is larger than any cutout", name, label, W, H);
        goto done;
    }
    long long npix = W * H;
    planes = xmalloc((size_t)npix * 3 * sizeof *planes);
    if (naxis == 3) {
        if (dims[2] != 3) {
            rc = sf_fail("%s: %s: a cube of %lld planes; a cutout has 3 (bands %s, %s, %s)", name,
                         label, dims[2], s->bands[0], s->bands[1], s->bands[2]);
            goto done;
        }
        for (int b = 0; b < 3; b++) {
            char key[16];
            snprintf(key, sizeof key, "BAND%d", b);
            if (check_band(f, name, key, s, b) != SF_OK) goto done;
        }
        if (data_in_file(f, name, len, npix * 3, &status) != SF_OK && !status) goto done;
        for (int b = 0; b < 3 && !status; b++)
            read_plane(f, npix, 1, b, planes + (size_t)b * (size_t)npix, &status);
        if (status) {
            fits_why(status, why, sizeof why);
            rc = sf_fail("%s: %s: truncated or corrupt data: %s", name, label, why);
            goto done;
        }
    } else {
        for (int b = 0; b < 3; b++) {
            if (b > 0) {
                int type, nax = 0;
                long long d2[3];
                if (fits_movrel_hdu(f, 1, &type, &status)) {
                    if (status == END_OF_FILE) {
                        fits_clear_errmsg();
                        rc = sf_fail("%s: %d image HDU%s from %s on; a cutout has 3 (bands %s, "
                                     "%s, %s) or a (3, H, W) cube",
                                     name, b, b > 1 ? "s" : "", label, s->bands[0], s->bands[1],
                                     s->bands[2]);
                    } else {
                        fits_why(status, why, sizeof why);
                        rc = sf_fail("%s: HDU %d is truncated or corrupt: %s", name, hdu + b, why);
                    }
                    goto done;
                }
                char l2[FLEN_VALUE + 32];
                hdu_label(f, l2, sizeof l2);
                if (image_dims(f, &nax, d2, &status) || nax != 2 || d2[0] != W || d2[1] != H) {
                    if (status) fits_why(status, why, sizeof why);
                    rc = status ? sf_fail("%s: %s is truncated or corrupt: %s", name, l2, why)
                                : sf_fail("%s: %s is not a %lldx%lld image like %s; a cutout "
                                          "is three planes of one size",
                                          name, l2, W, H, label);
                    goto done;
                }
            }
            if (check_band(f, name, "BAND", s, b) != SF_OK) goto done;
            if (data_in_file(f, name, len, npix, &status) != SF_OK && !status) goto done;
            if (status || read_plane(f, npix, 0, b, planes + (size_t)b * (size_t)npix, &status)) {
                char l2[FLEN_VALUE + 32];
                hdu_label(f, l2, sizeof l2);
                fits_why(status, why, sizeof why);
                rc = sf_fail("%s: %s: truncated or corrupt data: %s", name, l2, why);
                goto done;
            }
        }
    }
    *rgb = xmalloc((size_t)npix * 3);
    fits_rgb_stretch(planes, (int)W, (int)H, s, *rgb);
    *w = (int)W;
    *h = (int)H;
    rc = SF_OK;
done:
    free(planes);
    free(copy);
    status = 0;
    if (f) fits_close_file(f, &status);
    fits_clear_errmsg();
    fits_leave();
    return rc;
}

/* ---- tables out -------------------------------------------------------------- */

struct fits_table_writer {
    fitsfile *f;
    char *path;
    sf_output out; /* a file: cfitsio writes out.tmp; a stream: the memory file below */
    void *mem;     /* a stream's FITS file, built in memory (cfitsio seeks back) */
    size_t mem_size;
    int n_cols;
    fits_col *cols;
    int failed;
};

int fits_id_as_int64(const char *id, int64_t *v) {
    const char *p = id;
    if (*p == '-') p++;
    if (!isdigit((unsigned char)*p) || (p[0] == '0' && p[1])) return 0;
    for (const char *q = p; *q; q++)
        if (!isdigit((unsigned char)*q)) return 0;
    errno = 0;
    char *end;
    long long x = strtoll(id, &end, 10);
    if (errno || *end) return 0;
    *v = x;
    return 1;
}

static int writer_fail(fits_table_writer *w, int status, const char *what) {
    char why[300];
    fits_why(status, why, sizeof why);
    w->failed = 1;
    return sf_fail("%s: %s: %s", w->path, what, why);
}

/* The memory file of a stream's table grows through this realloc, which clears what
 * it adds: cfitsio reads the bytes past the end of a memory file when it adds an HDU
 * (memcheck: "depends on uninitialised value"). The size is kept in front. */
#define MEM_FRONT 16
static void *mem_grow(void *p, size_t n) {
    size_t old = 0;
    uint8_t *base = NULL;
    if (p) {
        base = (uint8_t *)p - MEM_FRONT;
        memcpy(&old, base, sizeof old);
    }
    base = realloc(base, n + MEM_FRONT);
    if (!base) return NULL;
    if (n > old) memset(base + MEM_FRONT + old, 0, n - old);
    memcpy(base, &n, sizeof n);
    return base + MEM_FRONT;
}

static void mem_free(void *p) {
    if (p) free((uint8_t *)p - MEM_FRONT);
}

int fits_table_create(fits_table_writer **out, const char *path, const char *extname,
                      const fits_col *cols, int n_cols, const char *const *cards) {
    *out = NULL;
    /* as every output: a regular file (or a link's target) is replaced when complete,
     * a FIFO, a device or '-' written through, anything else refused */
    sf_output o;
    if (sf_output_open_named(&o, path) != SF_OK) return SF_ERR;
    fits_table_writer *w = xcalloc(1, sizeof *w);
    w->path = xstrdup(path);
    w->out = o;
    w->n_cols = n_cols;
    w->cols = xmalloc((size_t)n_cols * sizeof *w->cols);
    memcpy(w->cols, cols, (size_t)n_cols * sizeof *cols);
    char **ttype = xmalloc((size_t)n_cols * sizeof *ttype);
    char **tform = xmalloc((size_t)n_cols * sizeof *tform);
    char **tunit = xmalloc((size_t)n_cols * sizeof *tunit);
    char(*forms)[24] = xmalloc((size_t)n_cols * sizeof *forms);
    for (int c = 0; c < n_cols; c++) {
        ttype[c] = w->cols[c].name;
        tunit[c] = w->cols[c].unit;
        int rep = cols[c].repeat > 0 ? cols[c].repeat : 1;
        const char *code = cols[c].kind == FITS_COL_INT64   ? "K"
                           : cols[c].kind == FITS_COL_INT32 ? "J"
                           : cols[c].kind == FITS_COL_FLOAT ? "E"
                                                            : "A";
        snprintf(forms[c], sizeof forms[c], "%d%s", rep, code);
        tform[c] = forms[c];
    }
    int status = 0, rc = SF_OK;
    fits_enter();
    if (!w->out.tmp) {
        w->mem_size = 2880 * 4;
        w->mem = mem_grow(NULL, w->mem_size);
        SF_ASSERT(w->mem);
    }
    if ((w->out.tmp
             ? fits_create_file(&w->f, w->out.tmp, &status)
             : fits_create_memfile(&w->f, &w->mem, &w->mem_size, 2880 * 64, mem_grow, &status)) ||
        fits_create_tbl(w->f, BINARY_TBL, 0, n_cols, ttype, tform, tunit, extname, &status))
        rc = writer_fail(w, status, "cannot create the FITS table");
    for (int i = 0; rc == SF_OK && cards && cards[i] && cards[i + 1]; i += 2) {
        /* an integer is written as one, other text as a (long) string */
        char *end;
        errno = 0;
        long long v = strtoll(cards[i + 1], &end, 10);
        int integer = cards[i + 1][0] && !*end && !errno;
        status = 0;
        if (integer ? fits_update_key(w->f, TLONGLONG, cards[i], &v, NULL, &status)
                    : fits_update_key_longstr(w->f, cards[i], cards[i + 1], NULL, &status))
            rc = writer_fail(w, status, "cannot write the header");
    }
    fits_leave();
    free(ttype);
    free(tform);
    free(tunit);
    free(forms);
    if (rc != SF_OK) {
        fits_table_close(w, 0);
        return SF_ERR;
    }
    *out = w;
    return SF_OK;
}

int fits_table_write(fits_table_writer *w, int col, int64_t first, int64_t n, const void *data) {
    SF_ASSERT(col >= 0 && col < w->n_cols);
    if (n <= 0) return SF_OK;
    int status = 0;
    int rep = w->cols[col].repeat > 0 ? w->cols[col].repeat : 1;
    fits_enter();
    switch (w->cols[col].kind) {
    case FITS_COL_INT64:
        fits_write_col(w->f, TLONGLONG, col + 1, first + 1, 1, n, (void *)data, &status);
        break;
    case FITS_COL_INT32:
        fits_write_col(w->f, TINT, col + 1, first + 1, 1, n, (void *)data, &status);
        break;
    case FITS_COL_FLOAT:
        fits_write_col(w->f, TFLOAT, col + 1, first + 1, 1, n * rep, (void *)data, &status);
        break;
    case FITS_COL_TEXT:
        fits_write_col_str(w->f, col + 1, first + 1, 1, n, (char **)data, &status);
        break;
    }
    int rc = status ? writer_fail(w, status, "write failed") : SF_OK;
    fits_leave();
    return rc;
}

int fits_table_close(fits_table_writer *w, int commit) {
    if (!w) return SF_OK;
    int status = 0, rc = SF_OK;
    long long length = 0; /* a stream's file: the end of its table (the last HDU) */
    fits_enter();
    if (w->f && !w->out.tmp && commit && !w->failed) {
        long long head, start;
        if (fits_flush_file(w->f, &status) ||
            fits_get_hduaddrll(w->f, &head, &start, &length, &status))
            rc = writer_fail(w, status, "write failed");
        status = 0;
    }
    if (w->f) {
        fits_close_file(w->f, &status);
        if (status && commit && !w->failed) rc = writer_fail(w, status, "write failed");
    }
    fits_clear_errmsg();
    fits_leave();
    int ok = commit && !w->failed && rc == SF_OK;
    /* a stream gets the finished file (the memory beyond it is cfitsio's spare room) */
    if (ok && !w->out.tmp &&
        (length <= 0 || (size_t)length > w->mem_size ||
         fwrite(w->mem, 1, (size_t)length, w->out.f) != (size_t)length))
        rc = sf_fail("%s: write failed: %s", w->path, strerror(errno ? errno : EIO));
    if (ok && rc == SF_OK) rc = sf_output_commit(&w->out);
    else sf_output_abort(&w->out);
    if (commit && rc == SF_OK && !ok) rc = SF_ERR; /* the failure was reported when it happened */
    mem_free(w->mem);
    free(w->path);
    free(w->cols);
    free(w);
    return rc;
}
