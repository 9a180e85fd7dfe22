/* data_catalog.c: RFC 4180 catalogue reader (FITS tables through data_fits.c) and the
 * target presets of the paper.
 * Layer: data. Calls: sf_util, data_fits.
 * Called by: analysis_bpt, cli_bpt, cli_predict, data_catalog_join, data_dataset,
 * infer_store.
 */
#include "data_catalog.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
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
                       "(e.g. %s/galaxies.csv)", path, path);
    if (!S_ISREG(st.st_mode))
        return sf_fail("%s is %s, not a regular file: give the catalogue as a file",
                       path, file_kind(st.st_mode));
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

    int rc = csv_next(&r);
    if (rc == SF_ERR) goto fail;
    if (rc == 0) {
        sf_fail("%s: empty file: expected a header row naming the columns, one of them objID",
                path);
        goto fail;
    }
    int n_fields = r.n_fields, id_field = -1;
    int header_line = r.record_line;
    char **names = xcalloc((size_t)n_fields, sizeof *names);
    for (int i = 0; i < n_fields; i++) {
        names[i] = trimmed_dup(csv_field(&r, i));
        if (!names[i][0]) {
            sf_fail("%s:%d: header field %d is empty: every column needs a name", path,
                    header_line, i + 1);
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
        sf_fail("%s:%d: no %s column in the header (the galaxy IDs that name the images)",
                path, header_line, id_name);
        goto fail_names;
    }
    cat->n_cols = n_fields - 1;
    cat->col_names = xcalloc((size_t)(cat->n_cols ? cat->n_cols : 1), sizeof(char *));
    for (int i = 0, c = 0; i < n_fields; i++) {
        if (i == id_field)
            free(names[i]);
        else
            cat->col_names[c++] = names[i];
    }
    free(names);
    names = NULL;

    int cap = 0;
    while ((rc = csv_next(&r)) == 1) {
        if (r.n_fields != n_fields) {
            sf_fail("%s:%d: expected %d fields (as in the header on line %d), found %d", path,
                    r.record_line, n_fields, header_line, r.n_fields);
            goto fail;
        }
        if (cat->n_rows == cap) {
            cap = cap ? 2 * cap : 1024;
            cat->obj_ids = xrealloc(cat->obj_ids, (size_t)cap * sizeof *cat->obj_ids);
            cat->line_of_row = xrealloc(cat->line_of_row, (size_t)cap * sizeof(int));
            cat->values = xrealloc(cat->values,
                                   (size_t)cap * (size_t)(cat->n_cols ? cat->n_cols : 1) *
                                       sizeof(double));
        }
        int row = cat->n_rows;
        char *id = trimmed_dup(csv_field(&r, id_field));
        if (!id[0]) {
            free(id);
            sf_fail("%s:%d: empty objID", path, r.record_line);
            goto fail;
        }
        cat->obj_ids[row] = id;
        cat->line_of_row[row] = r.record_line;
        double *v = cat->values + (size_t)row * (size_t)cat->n_cols;
        for (int i = 0, c = 0; i < n_fields; i++)
            if (i != id_field) v[c++] = parse_value(csv_field(&r, i));
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

fail_names:
    for (int i = 0; i < n_fields; i++) free(names[i]);
    free(names);
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

/* ---- targets ---- */

typedef enum { CUT_MISSING, CUT_GREATER, CUT_LESS, CUT_POSITIVE, CUT_SNR, CUT_FLOAT } cut_kind;

typedef struct {
    cut_kind kind;
    int col, err_col; /* err_col: a flux's error, for CUT_MISSING, CUT_POSITIVE, CUT_SNR */
    double limit;
} cut_rule;

static void add_cut(target_set *ts, cut_rule *rules, cut_rule rule, const char *fmt,
                    const char *col) {
    SF_ASSERT(ts->n_cuts < TARGET_MAX_CUTS);
    rules[ts->n_cuts] = rule;
    snprintf(ts->cuts[ts->n_cuts].name, sizeof ts->cuts[0].name, fmt, col);
    ts->cuts[ts->n_cuts].removed = 0;
    ts->n_cuts++;
}

static int rule_passes(const catalog *cat, int row, const cut_rule *c) {
    double v = catalog_value(cat, row, c->col);
    switch (c->kind) {
    case CUT_MISSING:
        return !isnan(v) && (c->err_col < 0 || !isnan(catalog_value(cat, row, c->err_col)));
    case CUT_GREATER:
        return v > c->limit;
    case CUT_LESS:
        return v < c->limit;
    case CUT_POSITIVE:
        /* a negative flux over a negative error passes S/N > 3, and has no logarithm */
        return v > 0 && catalog_value(cat, row, c->err_col) > 0;
    case CUT_SNR:
        return v / catalog_value(cat, row, c->err_col) > c->limit;
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
        sf_fail("%s: target '%s' needs the column '%s', which is not numeric: %s", cat->path,
                spec, name, note);
    else if (c < 0)
        sf_fail("%s: target '%s' needs the column '%s', which the header does not have",
                cat->path, spec, name);
    return c;
}

int targets_select(target_set *ts, const catalog *cat, const char *spec) {
    memset(ts, 0, sizeof *ts);
    cut_rule rules[TARGET_MAX_CUTS];
    int cols[TARGET_MAX];
    int take_log = 0;
    const cut_rule none = {.err_col = -1};

    if (!strcmp(spec, "metallicity")) {
        snprintf(ts->preset, sizeof ts->preset, "metallicity");
        int oh = need_column(cat, "oh_p50", spec);
        if (oh < 0) return SF_ERR;
        ts->n_targets = 1;
        cols[0] = oh;
        snprintf(ts->names[0], sizeof ts->names[0], "oh_p50");
        static const struct {
            const char *name;
            double limit;
        } cuts[] = {{"oh_p50", 0}, {"lgm_tot_p50", 0}, {"sfr_tot_p50", -10}};
        for (int i = 0; i < 3; i++) {
            int c = catalog_column(cat, cuts[i].name);
            if (c < 0) continue; /* as the paper's code: each cut where its column exists */
            cut_rule m = none, g = none;
            m.kind = CUT_MISSING, m.col = c;
            g.kind = CUT_GREATER, g.col = c, g.limit = cuts[i].limit;
            add_cut(ts, rules, m, "%s missing", cuts[i].name);
            char fmt[64];
            snprintf(fmt, sizeof fmt, "%%s > %g", cuts[i].limit);
            add_cut(ts, rules, g, fmt, cuts[i].name);
        }
        cut_rule f = none;
        f.kind = CUT_FLOAT, f.col = oh;
        add_cut(ts, rules, f, "%s finite as float32", "oh_p50");
    } else if (!strcmp(spec, "bpt_lines")) {
        snprintf(ts->preset, sizeof ts->preset, "bpt_lines");
        static const char *lines[] = {"nii_6584_flux", "h_alpha_flux", "oiii_5007_flux",
                                      "h_beta_flux"};
        ts->n_targets = 4;
        take_log = 1;
        for (int i = 0; i < 4; i++) {
            char err_name[80];
            snprintf(err_name, sizeof err_name, "%s_err", lines[i]);
            int f = need_column(cat, lines[i], spec);
            if (f < 0) return SF_ERR;
            int e = need_column(cat, err_name, spec);
            if (e < 0) return SF_ERR;
            cols[i] = f;
            snprintf(ts->names[i], sizeof ts->names[i], "log_%s", lines[i]);
            cut_rule m = none, p = none, s = none, l = none;
            m.kind = CUT_MISSING, m.col = f, m.err_col = e;
            p.kind = CUT_POSITIVE, p.col = f, p.err_col = e;
            s.kind = CUT_SNR, s.col = f, s.err_col = e, s.limit = 3;
            l.kind = CUT_LESS, l.col = f, l.limit = 1e5;
            add_cut(ts, rules, m, "%s or its error missing", lines[i]);
            add_cut(ts, rules, p, "%s > 0 and its error > 0", lines[i]);
            add_cut(ts, rules, s, "%s S/N > 3", lines[i]);
            add_cut(ts, rules, l, "%s < 1e5", lines[i]);
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
            cols[ts->n_targets] = c;
            snprintf(ts->names[ts->n_targets], sizeof ts->names[0], "%s", tok);
            ts->n_targets++;
            cut_rule m = none;
            m.kind = CUT_MISSING, m.col = c;
            add_cut(ts, rules, m, "%s missing", tok);
        }
        for (int t = 0; t < ts->n_targets; t++) {
            cut_rule f = none;
            f.kind = CUT_FLOAT, f.col = cols[t];
            add_cut(ts, rules, f, "%s finite as float32", ts->names[t]);
        }
        free(list);
        if (ts->n_targets == 0)
            return sf_fail("empty target list: give a preset (metallicity, bpt_lines) or "
                           "column names separated by commas");
    }

    ts->rows = xmalloc((size_t)cat->n_rows * sizeof *ts->rows);
    ts->y = xmalloc((size_t)cat->n_rows * (size_t)ts->n_targets * sizeof *ts->y);
    for (int row = 0; row < cat->n_rows; row++) {
        int kept = 1;
        for (int c = 0; c < ts->n_cuts && kept; c++)
            if (!rule_passes(cat, row, &rules[c])) {
                ts->cuts[c].removed++;
                kept = 0;
            }
        if (!kept) continue;
        float *y = ts->y + (size_t)ts->n_rows * (size_t)ts->n_targets;
        for (int t = 0; t < ts->n_targets; t++) {
            double v = catalog_value(cat, row, cols[t]);
            y[t] = (float)(take_log ? log10(v) : v);
        }
        ts->rows[ts->n_rows++] = row;
    }
    if (ts->n_rows == 0) {
        char detail[1024] = "";
        size_t used = 0;
        for (int c = 0; c < ts->n_cuts && used + 1 < sizeof detail; c++)
            if (ts->cuts[c].removed)
                used += (size_t)snprintf(detail + used, sizeof detail - used, "%s%s: %d",
                                         used ? ", " : "", ts->cuts[c].name,
                                         ts->cuts[c].removed);
        sf_fail("%s: no usable rows for target '%s' among %d (removed by %s)", cat->path, spec,
                cat->n_rows, detail);
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
