/* data_catalog.c: RFC 4180 catalogue reader and stream (FITS tables through data_fits.c)
 * and the target presets of the paper.
 * Layer: data. Calls: sf_util, data_fits.
 * Called by: analysis_bpt, cli_bpt, cli_predict, data_catalog_join, data_dataset,
 * data_shard, infer_store.
 */
#include "data_catalog.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data_fits.h"
#include "sf_util.h"

/* ---- CSV records ---- */

/* Walks a NUL-terminated buffer one record at a time. Field text is unescaped
 * into `text` (each field NUL-terminated); field_off[i] is where field i starts. */
typedef struct {
    const char *path;
    const char *buf;
    size_t len, pos;
    int line;        /* 1-based line of buf[pos] */
    int record_line; /* line the current record starts on */
    char *text;
    size_t text_len, text_cap;
    size_t *field_off;
    int n_fields, field_cap;
} csv_reader;

static void csv_put(csv_reader *r, char c) {
    if (r->text_len + 1 >= r->text_cap) {
        r->text_cap = r->text_cap ? 2 * r->text_cap : 256;
        r->text = xrealloc(r->text, r->text_cap);
    }
    r->text[r->text_len++] = c;
}

static void csv_begin_field(csv_reader *r) {
    if (r->n_fields == r->field_cap) {
        r->field_cap = r->field_cap ? 2 * r->field_cap : 32;
        r->field_off = xrealloc(r->field_off, (size_t)r->field_cap * sizeof *r->field_off);
    }
    r->field_off[r->n_fields++] = r->text_len;
}

static const char *csv_field(const csv_reader *r, int i) { return r->text + r->field_off[i]; }

/* Records "path:line: <message>" and returns SF_ERR. */
static int csv_fail(const csv_reader *r, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int csv_fail(const csv_reader *r, int line, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return sf_fail("%s:%d: %s", r->path, line, msg);
}

/* Reads the next record. Returns 1 (a record), 0 (end of file) or SF_ERR with
 * "path:line: what was wrong". Blank lines are skipped. */
static int csv_next(csv_reader *r) {
    const char *b = r->buf;
    for (;;) {
        if (r->pos >= r->len) return 0;
        if (b[r->pos] == '\n') {
            r->pos++, r->line++;
            continue;
        }
        if (b[r->pos] == '\r' && r->pos + 1 < r->len && b[r->pos + 1] == '\n') {
            r->pos += 2, r->line++;
            continue;
        }
        break;
    }
    r->record_line = r->line;
    r->n_fields = 0;
    r->text_len = 0;
    for (;;) {
        csv_begin_field(r);
        if (r->pos < r->len && b[r->pos] == '"') {
            int open_line = r->line;
            r->pos++;
            for (;;) {
                if (r->pos >= r->len) {
                    return csv_fail(r, open_line,
                                    "unterminated quoted field %d (the quote opened here is "
                                    "never closed)",
                                    r->n_fields);
                }
                char c = b[r->pos];
                if (c == '"') {
                    if (r->pos + 1 < r->len && b[r->pos + 1] == '"') {
                        csv_put(r, '"');
                        r->pos += 2;
                        continue;
                    }
                    r->pos++;
                    break;
                }
                if (c == '\n') r->line++;
                csv_put(r, c);
                r->pos++;
            }
            if (r->pos < r->len && b[r->pos] != ',' && b[r->pos] != '\n' &&
                !(b[r->pos] == '\r' && r->pos + 1 < r->len && b[r->pos + 1] == '\n')) {
                return csv_fail(r, r->line,
                                "unexpected '%c' after the closing quote of field %d (a quote "
                                "inside a quoted field is written \"\")",
                                b[r->pos], r->n_fields);
            }
        } else {
            while (r->pos < r->len) {
                char c = b[r->pos];
                if (c == ',' || c == '\n') break;
                if (c == '\r' && r->pos + 1 < r->len && b[r->pos + 1] == '\n') break;
                if (c == '"') {
                    return csv_fail(r, r->line,
                                    "quote inside unquoted field %d (quote the whole field "
                                    "and write a quote inside it as \"\")",
                                    r->n_fields);
                }
                csv_put(r, c);
                r->pos++;
            }
        }
        csv_put(r, '\0');
        if (r->pos >= r->len) return 1;
        if (b[r->pos] == ',') {
            r->pos++;
            continue;
        }
        r->pos += b[r->pos] == '\r' ? 2 : 1;
        r->line++;
        return 1;
    }
}

/* ---- numbers ---- */

/* Empty, non-numeric, non-finite and -9999 fields are missing (NAN). */
static double parse_value(const char *s) {
    while (*s == ' ' || *s == '\t') s++;
    if (!*s) return NAN;
    char *end;
    double v = strtod(s, &end);
    if (end == s) return NAN;
    while (*end == ' ' || *end == '\t') end++;
    if (*end) return NAN;
    if (!isfinite(v) || v == -9999.0) return NAN;
    return v;
}

static char *trimmed_dup(const char *s) {
    while (*s == ' ' || *s == '\t') s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t')) n--;
    char *d = xmalloc(n + 1);
    memcpy(d, s, n);
    d[n] = 0;
    return d;
}

/* ---- catalogue ---- */

static const catalog *dup_sort_cat;
static int cmp_row_by_id(const void *a, const void *b) {
    int ia = *(const int *)a, ib = *(const int *)b;
    int c = strcmp(dup_sort_cat->obj_ids[ia], dup_sort_cat->obj_ids[ib]);
    return c ? c : (ia > ib) - (ia < ib);
}

/* SF_ERR naming both lines when an objID appears twice: a galaxy must be one row. */
int catalog_check_unique_ids(const catalog *cat) {
    int *order = xmalloc((size_t)cat->n_rows * sizeof *order);
    for (int i = 0; i < cat->n_rows; i++) order[i] = i;
    dup_sort_cat = cat;
    qsort(order, (size_t)cat->n_rows, sizeof *order, cmp_row_by_id);
    int rc = SF_OK;
    for (int i = 1; i < cat->n_rows; i++) {
        int a = order[i - 1], b = order[i];
        if (!strcmp(cat->obj_ids[a], cat->obj_ids[b])) {
            rc = sf_fail("%s:%d: objID %s appears again (first on line %d); each galaxy "
                         "must be one row",
                         cat->path, cat->line_of_row[b], cat->obj_ids[b], cat->line_of_row[a]);
            break;
        }
    }
    free(order);
    return rc;
}

/* Reads the header record: the column names (every one named, none twice) and which
 * field holds the galaxy IDs (id_name: objID unless told). cat gets its columns
 * (col_names owned). */
static int read_header(csv_reader *r, catalog *cat, const char *id_name, int *n_fields_out,
                       int *id_field_out) {
    const char *path = r->path;
    int rc = csv_next(r);
    if (rc == SF_ERR) return SF_ERR;
    if (rc == 0)
        return sf_fail("%s: empty file: expected a header row naming the columns, one of them "
                       "objID",
                       path);
    int n_fields = r->n_fields, id_field = -1;
    int header_line = r->record_line;
    char **names = xcalloc((size_t)n_fields, sizeof *names);
    for (int i = 0; i < n_fields; i++) {
        names[i] = trimmed_dup(csv_field(r, i));
        if (!names[i][0]) {
            sf_fail("%s:%d: header field %d is empty: every column needs a name", path, header_line,
                    i + 1);
            goto fail_names;
        }
        for (int j = 0; j < i; j++)
            if (!strcmp(names[i], names[j])) {
                sf_fail("%s:%d: column '%s' appears twice in the header", path, header_line,
                        names[i]);
                goto fail_names;
            }
        if (id_field < 0 && !strcasecmp(names[i], id_name)) id_field = i;
    }
    if (id_field < 0) {
        sf_fail("%s:%d: no %s column in the header (the galaxy IDs that name the images)", path,
                header_line, id_name);
        goto fail_names;
    }
    cat->n_cols = n_fields - 1;
    cat->col_names = xcalloc((size_t)(cat->n_cols ? cat->n_cols : 1), sizeof(char *));
    for (int i = 0, c = 0; i < n_fields; i++) {
        if (i == id_field) free(names[i]);
        else cat->col_names[c++] = names[i];
    }
    free(names);
    *n_fields_out = n_fields;
    *id_field_out = id_field;
    return SF_OK;

fail_names:
    for (int i = 0; i < n_fields; i++) free(names[i]);
    free(names);
    return SF_ERR;
}

/* A data record as a row: SF_ERR when its field count is not the header's or its
 * objID is empty; else the numeric fields parsed into v (n_fields - 1). */
static int read_row(const csv_reader *r, int n_fields, int id_field, int header_line, double *v) {
    if (r->n_fields != n_fields)
        return sf_fail("%s:%d: expected %d fields (as in the header on line %d), found %d", r->path,
                       r->record_line, n_fields, header_line, r->n_fields);
    const char *id = csv_field(r, id_field);
    while (*id == ' ' || *id == '\t') id++;
    if (!*id) return sf_fail("%s:%d: empty objID", r->path, r->record_line);
    for (int i = 0, c = 0; i < n_fields; i++)
        if (i != id_field) v[c++] = parse_value(csv_field(r, i));
    return SF_OK;
}

/* What a path that is not a regular file is, for messages. */
static const char *file_kind(mode_t mode) {
    if (S_ISDIR(mode)) return "a directory";
    if (S_ISFIFO(mode)) return "a FIFO";
    if (S_ISCHR(mode)) return "a character device";
    if (S_ISBLK(mode)) return "a block device";
    if (S_ISSOCK(mode)) return "a socket";
    return "not a file";
}

/* Reads the catalogue file whole. Only a regular file (or a link to one) is read: a
 * FIFO would wait for a writer forever and /dev/zero never ends. A NUL byte in the
 * first block (an image or a FITS file given by mistake) is refused before the rest
 * is read. */
int catalog_file_check(const char *path) {
    struct stat st;
    if (stat(path, &st) != 0) return SF_OK; /* the reader says why it cannot open it */
    if (S_ISDIR(st.st_mode))
        return sf_fail("%s is a directory, not a catalogue: give the catalogue file "
                       "(e.g. %s/galaxies.csv)",
                       path, path);
    if (!S_ISREG(st.st_mode))
        return sf_fail("%s is %s, not a regular file: give the catalogue as a file", path,
                       file_kind(st.st_mode));
    return SF_OK;
}

static int read_catalog_file(const char *path, char **data, size_t *len) {
    *data = NULL;
    *len = 0;
    struct stat st;
    if (catalog_file_check(path) != SF_OK) return SF_ERR;
    if (stat(path, &st) != 0) return sf_fail("%s: cannot open: %s", path, strerror(errno));
    /* O_NONBLOCK: should it have become a FIFO since stat, open does not wait */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return sf_fail("%s: cannot open: %s", path, strerror(errno));
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return sf_fail("%s is not a regular file: give the catalogue as a file", path);
    }
    size_t cap = (size_t)st.st_size + 1, n = 0;
    char *buf = xmalloc(cap);
    int checked = 0;
    for (;;) {
        if (n + 1 >= cap) buf = xrealloc(buf, cap *= 2); /* it grew while being read */
        ssize_t got = read(fd, buf + n, cap - n - 1);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) {
            int err = errno;
            close(fd);
            free(buf);
            return sf_fail("%s: cannot read: %s", path, strerror(err));
        }
        if (got == 0) break;
        n += (size_t)got;
        if (!checked && n >= 65536) {
            checked = 1;
            if (memchr(buf, 0, n)) break;
        }
    }
    close(fd);
    buf[n] = 0;
    *data = buf;
    *len = n;
    return SF_OK;
}

int catalog_load(catalog *cat, const char *path) { return catalog_load_file(cat, path, NULL, 0); }

static int parse_csv(catalog *cat, const char *path, const char *data, size_t len,
                     const char *id_name);

int catalog_load_file(catalog *cat, const char *path, const char *id_column, int id_optional) {
    memset(cat, 0, sizeof *cat);
    if (fits_name_is_fits(path)) {
        if (fits_catalog_load(cat, path, id_column, id_optional) != SF_OK) return SF_ERR;
        if (cat->obj_ids && catalog_check_unique_ids(cat) != SF_OK) {
            catalog_free(cat);
            return SF_ERR;
        }
        return SF_OK;
    }
    char *data = NULL;
    size_t len = 0;
    if (read_catalog_file(path, &data, &len) != SF_OK) return SF_ERR;
    int rc = parse_csv(cat, path, data, len, id_column ? id_column : "objID");
    free(data);
    return rc;
}

int catalog_parse(catalog *cat, const char *path, const char *data, size_t len) {
    return parse_csv(cat, path, data, len, "objID");
}

/* A CSV catalogue in memory, its galaxy IDs in column id_name. */
static int parse_csv(catalog *cat, const char *path, const char *data, size_t len,
                     const char *id_name) {
    memset(cat, 0, sizeof *cat);
    cat->path = xstrdup(path);

    csv_reader r = {.path = path, .buf = data, .len = len, .line = 1};
    if (len >= 3 && !memcmp(data, "\xEF\xBB\xBF", 3)) r.pos = 3;
    if (memchr(data, 0, len)) {
        sf_fail("%s: contains NUL bytes: not a text CSV file", path);
        goto fail;
    }

    int n_fields, id_field;
    if (read_header(&r, cat, id_name, &n_fields, &id_field) != SF_OK) goto fail;
    int header_line = r.record_line;

    int cap = 0, rc;
    while ((rc = csv_next(&r)) == 1) {
        if (cat->n_rows == cap) {
            cap = cap ? 2 * cap : 1024;
            cat->obj_ids = xrealloc(cat->obj_ids, (size_t)cap * sizeof *cat->obj_ids);
            cat->line_of_row = xrealloc(cat->line_of_row, (size_t)cap * sizeof(int));
            cat->values =
                xrealloc(cat->values,
                         (size_t)cap * (size_t)(cat->n_cols ? cat->n_cols : 1) * sizeof(double));
        }
        int row = cat->n_rows;
        double *v = cat->values + (size_t)row * (size_t)cat->n_cols;
        if (read_row(&r, n_fields, id_field, header_line, v) != SF_OK) goto fail;
        cat->obj_ids[row] = trimmed_dup(csv_field(&r, id_field));
        cat->line_of_row[row] = r.record_line;
        cat->n_rows++;
    }
    if (rc == SF_ERR) goto fail;
    if (cat->n_rows == 0) {
        sf_fail("%s: no galaxies: the header on line %d is followed by no data rows", path,
                header_line);
        goto fail;
    }
    if (catalog_check_unique_ids(cat) != SF_OK) goto fail;
    free(r.text);
    free(r.field_off);
    return SF_OK;

fail:
    free(r.text);
    free(r.field_off);
    catalog_free(cat);
    return SF_ERR;
}

void catalog_free(catalog *cat) {
    if (cat->obj_ids)
        for (int i = 0; i < cat->n_rows; i++) free(cat->obj_ids[i]);
    if (cat->col_names)
        for (int i = 0; i < cat->n_cols; i++) free(cat->col_names[i]);
    if (cat->skipped)
        for (int i = 0; i < cat->n_skipped; i++) free(cat->skipped[i]);
    free(cat->skipped);
    free(cat->obj_ids);
    free(cat->col_names);
    free(cat->values);
    free(cat->line_of_row);
    free(cat->path);
    memset(cat, 0, sizeof *cat);
}

int catalog_column(const catalog *cat, const char *name) {
    for (int i = 0; i < cat->n_cols; i++)
        if (!strcmp(cat->col_names[i], name)) return i;
    /* FITS names are read in lower case: OH_P50 finds oh_p50 */
    for (int i = 0; i < cat->n_cols; i++)
        if (!strcasecmp(cat->col_names[i], name)) return i;
    return -1;
}

/* ---- catalogue streams ---- */

struct catalog_stream {
    catalog cols;  /* path and columns; no rows */
    catalog mem;   /* a catalogue held whole (FITS, joins): its rows; else empty */
    int in_memory; /* rows from mem */
    int mem_next;  /* the next row of mem */
    FILE *f;
    csv_reader r; /* over buf, a window of the file starting at base */
    char *buf;
    size_t cap;
    long long base;
    int eof;
    int n_fields, id_field, header_line;
    char *id; /* the current row's objID, trimmed */
    size_t id_cap;
    double *values; /* (n_cols) the current row */
};

/* 1 when buf[pos..len) holds blank lines and then a whole record (up to an unquoted
 * line end). */
static int record_complete(const char *b, size_t pos, size_t len) {
    while (pos < len && (b[pos] == '\n' || (b[pos] == '\r' && pos + 1 < len && b[pos + 1] == '\n')))
        pos += b[pos] == '\r' ? 2 : 1;
    int quoted = 0;
    for (; pos < len; pos++) {
        if (b[pos] == '"') quoted = !quoted;
        else if (b[pos] == '\n' && !quoted) return 1;
    }
    return 0;
}

/* Reads on until the window holds the next whole record, or the end of the file. */
static int stream_fill(catalog_stream *st) {
    csv_reader *r = &st->r;
    enum { CHUNK = 1 << 16 };
    while (!st->eof && !record_complete(st->buf, r->pos, r->len)) {
        if (r->pos > 0) {
            memmove(st->buf, st->buf + r->pos, r->len - r->pos);
            st->base += (long long)r->pos;
            r->len -= r->pos;
            r->pos = 0;
        }
        if (r->len + CHUNK + 1 > st->cap) {
            st->cap = 2 * (r->len + CHUNK + 1);
            st->buf = xrealloc(st->buf, st->cap);
        }
        size_t got = fread(st->buf + r->len, 1, CHUNK, st->f);
        if (got < CHUNK) {
            if (ferror(st->f)) return sf_fail("%s: read error", st->cols.path);
            st->eof = 1;
        }
        if (memchr(st->buf + r->len, 0, got))
            return sf_fail("%s: contains NUL bytes: not a text CSV file", st->cols.path);
        if (st->base == 0 && r->len == 0 && got >= 3 && !memcmp(st->buf, "\xEF\xBB\xBF", 3))
            r->pos = 3;
        r->len += got;
        st->buf[r->len] = 0;
        r->buf = st->buf;
    }
    return SF_OK;
}

int catalog_stream_open(catalog_stream **out, const char *path) {
    return catalog_stream_open_file(out, path, NULL);
}

int catalog_stream_open_file(catalog_stream **out, const char *path, const char *id_column) {
    *out = NULL;
    catalog_stream *st = xcalloc(1, sizeof *st);
    st->cols.path = xstrdup(path);
    /* a directory, a FIFO or a device is refused before it is opened */
    if (catalog_file_check(path) != SF_OK) {
        catalog_stream_close(st);
        return SF_ERR;
    }
    st->f = fopen(path, "rb");
    if (!st->f) {
        sf_fail("%s: cannot open: %s", path, strerror(errno));
        catalog_stream_close(st);
        return SF_ERR;
    }
    st->cap = 1 << 17;
    st->buf = xmalloc(st->cap);
    st->buf[0] = 0;
    st->r = (csv_reader){.path = st->cols.path, .buf = st->buf, .line = 1};
    if (stream_fill(st) != SF_OK || read_header(&st->r, &st->cols, id_column ? id_column : "objID",
                                                &st->n_fields, &st->id_field) != SF_OK) {
        catalog_stream_close(st);
        return SF_ERR;
    }
    st->header_line = st->r.record_line;
    st->values = xcalloc((size_t)(st->cols.n_cols ? st->cols.n_cols : 1), sizeof *st->values);
    *out = st;
    return SF_OK;
}

int catalog_stream_from_catalog(catalog_stream **out, catalog *cat) {
    catalog_stream *st = xcalloc(1, sizeof *st);
    st->mem = *cat;
    st->in_memory = 1;
    memset(cat, 0, sizeof *cat);
    const catalog *m = &st->mem;
    st->cols.path = xstrdup(m->path);
    st->cols.n_cols = m->n_cols;
    st->cols.col_names = xcalloc((size_t)(m->n_cols ? m->n_cols : 1), sizeof(char *));
    for (int c = 0; c < m->n_cols; c++) st->cols.col_names[c] = xstrdup(m->col_names[c]);
    st->cols.n_skipped = m->n_skipped;
    st->cols.skipped = xcalloc((size_t)(m->n_skipped ? m->n_skipped : 1), sizeof(char *));
    for (int c = 0; c < m->n_skipped; c++) st->cols.skipped[c] = xstrdup(m->skipped[c]);
    *out = st;
    return SF_OK;
}

const catalog *catalog_stream_columns(const catalog_stream *st) { return &st->cols; }

/* catalog_stream_next over a catalogue held whole: a row's position is its index. */
static int mem_next(catalog_stream *st, catalog_row *row) {
    const catalog *m = &st->mem;
    if (st->mem_next >= m->n_rows) return 0;
    int i = st->mem_next++;
    row->obj_id = m->obj_ids[i];
    row->values = m->values + (size_t)i * (size_t)m->n_cols;
    row->pos = (catalog_pos){.offset = i, .line = m->line_of_row ? m->line_of_row[i] : i + 1};
    return 1;
}

int catalog_stream_next(catalog_stream *st, catalog_row *row) {
    if (st->in_memory) return mem_next(st, row);
    csv_reader *r = &st->r;
    if (stream_fill(st) != SF_OK) return SF_ERR;
    /* the blank lines before the record, so that its position is where it starts */
    while (r->pos < r->len &&
           (r->buf[r->pos] == '\n' ||
            (r->buf[r->pos] == '\r' && r->pos + 1 < r->len && r->buf[r->pos + 1] == '\n'))) {
        r->pos += r->buf[r->pos] == '\r' ? 2 : 1;
        r->line++;
    }
    catalog_pos at = {.offset = st->base + (long long)r->pos, .line = r->line};
    int rc = csv_next(r);
    if (rc != 1) return rc;
    if (read_row(r, st->n_fields, st->id_field, st->header_line, st->values) != SF_OK)
        return SF_ERR;
    const char *id = csv_field(r, st->id_field);
    while (*id == ' ' || *id == '\t') id++;
    size_t n = strlen(id);
    while (n && (id[n - 1] == ' ' || id[n - 1] == '\t')) n--;
    if (n + 1 > st->id_cap) {
        st->id_cap = 2 * (n + 1);
        st->id = xrealloc(st->id, st->id_cap);
    }
    memcpy(st->id, id, n);
    st->id[n] = 0;
    row->obj_id = st->id;
    row->values = st->values;
    row->pos = at;
    return 1;
}

int catalog_stream_seek(catalog_stream *st, catalog_pos at) {
    if (st->in_memory) {
        if (at.offset < 0 || at.offset > st->mem.n_rows)
            return sf_fail("%s: no row %lld", st->cols.path, at.offset);
        st->mem_next = (int)at.offset;
        return SF_OK;
    }
    csv_reader *r = &st->r;
    if (at.offset >= st->base && at.offset <= st->base + (long long)r->len) {
        r->pos = (size_t)(at.offset - st->base);
    } else {
        if (fseeko(st->f, (off_t)at.offset, SEEK_SET) != 0)
            return sf_fail("%s: cannot seek to byte %lld: %s", st->cols.path, at.offset,
                           strerror(errno));
        st->base = at.offset;
        r->pos = r->len = 0;
        st->buf[0] = 0;
        st->eof = 0;
    }
    r->line = at.line;
    return SF_OK;
}

void catalog_stream_close(catalog_stream *st) {
    if (!st) return;
    if (st->f) fclose(st->f);
    free(st->buf);
    free(st->r.text);
    free(st->r.field_off);
    free(st->id);
    free(st->values);
    catalog_free(&st->cols);
    catalog_free(&st->mem);
    free(st);
}

/* ---- targets ---- */

enum { CUT_MISSING, CUT_GREATER, CUT_LESS, CUT_POSITIVE, CUT_SNR, CUT_FLOAT };

static void add_cut(target_set *ts, target_rule rule, const char *fmt, const char *col) {
    SF_ASSERT(ts->n_cuts < TARGET_MAX_CUTS);
    ts->rules[ts->n_cuts] = rule;
    snprintf(ts->cuts[ts->n_cuts].name, sizeof ts->cuts[0].name, fmt, col);
    ts->cuts[ts->n_cuts].removed = 0;
    ts->n_cuts++;
}

static int rule_passes(const double *values, const target_rule *c) {
    double v = values[c->col];
    switch (c->kind) {
    case CUT_MISSING: return !isnan(v) && (c->err_col < 0 || !isnan(values[c->err_col]));
    case CUT_GREATER: return v > c->limit;
    case CUT_LESS: return v < c->limit;
    case CUT_POSITIVE:
        /* a negative flux over a negative error passes S/N > 3, and has no logarithm */
        return v > 0 && values[c->err_col] > 0;
    case CUT_SNR: return v / values[c->err_col] > c->limit;
    case CUT_FLOAT:
        /* finite as a double (missing is NAN) but 1e300 becomes inf as a float */
        return isfinite(v) && fabs(v) <= FLT_MAX;
    }
    return 0;
}

/* The reason a column is not among the values: "NAME (why)" of a skipped one. */
static const char *skipped_note(const catalog *cat, const char *name) {
    size_t len = strlen(name);
    for (int i = 0; i < cat->n_skipped; i++)
        if (!strncasecmp(cat->skipped[i], name, len) && cat->skipped[i][len] == ' ')
            return cat->skipped[i];
    return NULL;
}

static int need_column(const catalog *cat, const char *name, const char *spec) {
    int c = catalog_column(cat, name);
    const char *note = c < 0 ? skipped_note(cat, name) : NULL;
    if (note)
        sf_fail("%s: target '%s' needs the column '%s', which is not numeric: %s", cat->path, spec,
                name, note);
    else if (c < 0)
        sf_fail("%s: target '%s' needs the column '%s', which the header does not have", cat->path,
                spec, name);
    return c;
}

int targets_prepare(target_set *ts, const catalog *cat, const char *spec) {
    memset(ts, 0, sizeof *ts);
    const target_rule none = {.err_col = -1};

    if (!strcmp(spec, "metallicity")) {
        snprintf(ts->preset, sizeof ts->preset, "metallicity");
        int oh = need_column(cat, "oh_p50", spec);
        if (oh < 0) return SF_ERR;
        ts->n_targets = 1;
        ts->cols[0] = oh;
        snprintf(ts->names[0], sizeof ts->names[0], "oh_p50");
        static const struct {
            const char *name;
            double limit;
        } cuts[] = {{"oh_p50", 0}, {"lgm_tot_p50", 0}, {"sfr_tot_p50", -10}};
        for (int i = 0; i < 3; i++) {
            int c = catalog_column(cat, cuts[i].name);
            if (c < 0) continue; /* as the paper's code: each cut where its column exists */
            target_rule m = none, g = none;
            m.kind = CUT_MISSING, m.col = c;
            g.kind = CUT_GREATER, g.col = c, g.limit = cuts[i].limit;
            add_cut(ts, m, "%s missing", cuts[i].name);
            char fmt[64];
            snprintf(fmt, sizeof fmt, "%%s > %g", cuts[i].limit);
            add_cut(ts, g, fmt, cuts[i].name);
        }
        target_rule fl = none;
        fl.kind = CUT_FLOAT, fl.col = oh;
        add_cut(ts, fl, "%s finite as float32", "oh_p50");
    } else if (!strcmp(spec, "bpt_lines")) {
        snprintf(ts->preset, sizeof ts->preset, "bpt_lines");
        static const char *lines[] = {"nii_6584_flux", "h_alpha_flux", "oiii_5007_flux",
                                      "h_beta_flux"};
        ts->n_targets = 4;
        ts->take_log = 1;
        for (int i = 0; i < 4; i++) {
            char err_name[80];
            snprintf(err_name, sizeof err_name, "%s_err", lines[i]);
            int f = need_column(cat, lines[i], spec);
            if (f < 0) return SF_ERR;
            int e = need_column(cat, err_name, spec);
            if (e < 0) return SF_ERR;
            ts->cols[i] = f;
            snprintf(ts->names[i], sizeof ts->names[i], "log_%s", lines[i]);
            target_rule m = none, p = none, s = none, l = none;
            m.kind = CUT_MISSING, m.col = f, m.err_col = e;
            p.kind = CUT_POSITIVE, p.col = f, p.err_col = e;
            s.kind = CUT_SNR, s.col = f, s.err_col = e, s.limit = 3;
            l.kind = CUT_LESS, l.col = f, l.limit = 1e5;
            add_cut(ts, m, "%s or its error missing", lines[i]);
            add_cut(ts, p, "%s > 0 and its error > 0", lines[i]);
            add_cut(ts, s, "%s S/N > 3", lines[i]);
            add_cut(ts, l, "%s < 1e5", lines[i]);
        }
    } else {
        snprintf(ts->preset, sizeof ts->preset, "columns");
        char *list = xstrdup(spec), *save = NULL;
        for (char *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            while (*tok == ' ') tok++;
            size_t n = strlen(tok);
            while (n && tok[n - 1] == ' ') tok[--n] = 0;
            if (!n) continue;
            if (ts->n_targets == TARGET_MAX) {
                free(list);
                return sf_fail("target '%s': at most %d columns", spec, TARGET_MAX);
            }
            int c = catalog_column(cat, tok);
            if (c < 0) {
                const char *note = skipped_note(cat, tok);
                if (note)
                    sf_fail("%s: target column '%s' is not numeric: %s", cat->path, tok, note);
                else
                    sf_fail("%s: target column '%s' is not in the header (presets: "
                            "metallicity, bpt_lines)",
                            cat->path, tok);
                free(list);
                return SF_ERR;
            }
            ts->cols[ts->n_targets] = c;
            snprintf(ts->names[ts->n_targets], sizeof ts->names[0], "%s", tok);
            ts->n_targets++;
            target_rule m = none;
            m.kind = CUT_MISSING, m.col = c;
            add_cut(ts, m, "%s missing", tok);
        }
        for (int t = 0; t < ts->n_targets; t++) {
            target_rule fl = none;
            fl.kind = CUT_FLOAT, fl.col = ts->cols[t];
            add_cut(ts, fl, "%s finite as float32", ts->names[t]);
        }
        free(list);
        if (ts->n_targets == 0)
            return sf_fail("empty target list: give a preset (metallicity, bpt_lines) or "
                           "column names separated by commas");
    }
    return SF_OK;
}

int targets_apply(target_set *ts, const double *values, float *y) {
    for (int c = 0; c < ts->n_cuts; c++)
        if (!rule_passes(values, &ts->rules[c])) {
            ts->cuts[c].removed++;
            return 0;
        }
    for (int t = 0; t < ts->n_targets; t++) {
        double v = values[ts->cols[t]];
        y[t] = (float)(ts->take_log ? log10(v) : v);
    }
    return 1;
}

int targets_fail_empty(const target_set *ts, const char *path, const char *spec, int n_rows) {
    char detail[1024] = "";
    size_t used = 0;
    for (int c = 0; c < ts->n_cuts && used + 1 < sizeof detail; c++)
        if (ts->cuts[c].removed)
            used += (size_t)snprintf(detail + used, sizeof detail - used, "%s%s: %d",
                                     used ? ", " : "", ts->cuts[c].name, ts->cuts[c].removed);
    return sf_fail("%s: no usable rows for target '%s' among %d (removed by %s)", path, spec,
                   n_rows, detail);
}

int targets_select(target_set *ts, const catalog *cat, const char *spec) {
    if (targets_prepare(ts, cat, spec) != SF_OK) return SF_ERR;
    ts->rows = xmalloc((size_t)cat->n_rows * sizeof *ts->rows);
    ts->y = xmalloc((size_t)cat->n_rows * (size_t)ts->n_targets * sizeof *ts->y);
    for (int row = 0; row < cat->n_rows; row++) {
        float *y = ts->y + (size_t)ts->n_rows * (size_t)ts->n_targets;
        if (targets_apply(ts, cat->values + (size_t)row * (size_t)cat->n_cols, y))
            ts->rows[ts->n_rows++] = row;
    }
    if (ts->n_rows == 0) {
        targets_fail_empty(ts, cat->path, spec, cat->n_rows);
        targets_free(ts);
        return SF_ERR;
    }
    return SF_OK;
}

void targets_free(target_set *ts) {
    free(ts->rows);
    free(ts->y);
    ts->rows = NULL;
    ts->y = NULL;
    ts->n_rows = 0;
}
