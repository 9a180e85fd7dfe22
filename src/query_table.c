/* query_table.c: result tables printed as aligned text, JSON (libcjson) or CSV.
 * Layer: query. Calls: sf_util; cJSON.
 * Called by: cli_* (7).
 */
#include "query.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cJSON.h>

#include "sf_util.h"

typedef enum { CELL_NULL, CELL_TEXT, CELL_INT, CELL_NUM } cell_kind;

typedef struct {
    cell_kind kind;
    char *text; /* CELL_TEXT; and the formatted number for text/CSV */
    long long i;
    double v;
} cell;

struct query_table {
    int n_cols;
    char **names;
    int n_cells, cap;
    cell *cells;
};

query_table *query_table_new(int n_cols, const char *const *names) {
    SF_ASSERT(n_cols > 0);
    query_table *t = xcalloc(1, sizeof *t);
    t->n_cols = n_cols;
    t->names = xcalloc((size_t)n_cols, sizeof *t->names);
    for (int c = 0; c < n_cols; c++) t->names[c] = xstrdup(names[c]);
    return t;
}

void query_table_free(query_table *t) {
    if (!t) return;
    for (int c = 0; c < t->n_cols; c++) free(t->names[c]);
    for (int i = 0; i < t->n_cells; i++) free(t->cells[i].text);
    free(t->names);
    free(t->cells);
    free(t);
}

static cell *push(query_table *t) {
    if (t->n_cells == t->cap) {
        t->cap = t->cap ? 2 * t->cap : 64;
        t->cells = xrealloc(t->cells, (size_t)t->cap * sizeof *t->cells);
    }
    cell *c = &t->cells[t->n_cells++];
    memset(c, 0, sizeof *c);
    return c;
}

void query_table_text(query_table *t, const char *text) {
    cell *c = push(t);
    if (!text) return;
    c->kind = CELL_TEXT;
    c->text = xstrdup(text);
}

void query_table_int(query_table *t, long long v) {
    cell *c = push(t);
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", v);
    c->kind = CELL_INT;
    c->i = v;
    c->text = xstrdup(buf);
}

void query_table_num(query_table *t, double v, int digits) {
    cell *c = push(t);
    if (!isfinite(v)) return;
    char buf[64];
    snprintf(buf, sizeof buf, "%.*f", digits, v);
    c->kind = CELL_NUM;
    c->v = v;
    c->text = xstrdup(buf);
}

int query_table_rows(const query_table *t) { return t->n_cells / t->n_cols; }

/* Display width of UTF-8 text: code points, not bytes. */
static int text_width(const char *s) {
    int w = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xc0) != 0x80) w++;
    return w;
}

/* A cell as the text table shows it: on one line (newlines and tabs in labels and
 * notes become spaces) and with control characters escaped, never sent to the
 * terminal. Owned by the caller. */
static char *display_text(const char *s) {
    char *flat = xstrdup(s);
    for (char *p = flat; *p; p++)
        if (*p == '\n' || *p == '\r' || *p == '\t') *p = ' ';
    char *shown = sf_escaped(flat);
    free(flat);
    return shown;
}

static void print_padded(FILE *out, const char *s, int width, int right) {
    int pad = width - text_width(s);
    if (right)
        for (int i = 0; i < pad; i++) fputc(' ', out);
    fputs(s, out);
    if (!right)
        for (int i = 0; i < pad; i++) fputc(' ', out);
}

static void print_text(const query_table *t, FILE *out) {
    int rows = query_table_rows(t);
    int *width = xcalloc((size_t)t->n_cols, sizeof *width);
    int *numeric = xcalloc((size_t)t->n_cols, sizeof *numeric);
    for (int c = 0; c < t->n_cols; c++) {
        char *name = display_text(t->names[c]);
        width[c] = text_width(name);
        numeric[c] = 1;
        free(name);
    }
    char **shown = xcalloc((size_t)t->n_cells, sizeof *shown);
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < t->n_cols; c++) {
            const cell *x = &t->cells[r * t->n_cols + c];
            shown[r * t->n_cols + c] = display_text(x->text ? x->text : "-");
            int w = text_width(shown[r * t->n_cols + c]);
            if (w > width[c]) width[c] = w;
            if (x->kind == CELL_TEXT) numeric[c] = 0;
        }
    for (int c = 0; c < t->n_cols; c++) {
        char *name = display_text(t->names[c]);
        if (c) fputs("  ", out);
        if (c == t->n_cols - 1 && !numeric[c]) fputs(name, out);
        else print_padded(out, name, width[c], numeric[c]);
        free(name);
    }
    fputc('\n', out);
    for (int r = 0; r < rows; r++) {
        for (int c = 0; c < t->n_cols; c++) {
            const char *flat = shown[r * t->n_cols + c];
            if (c) fputs("  ", out);
            if (c == t->n_cols - 1 && !numeric[c]) fputs(flat, out);
            else print_padded(out, flat, width[c], numeric[c]);
        }
        fputc('\n', out);
    }
    for (int i = 0; i < rows * t->n_cols; i++) free(shown[i]);
    free(shown);
    free(width);
    free(numeric);
}

static void print_csv(const query_table *t, FILE *out) {
    int rows = query_table_rows(t);
    int tty = isatty(fileno(out));
    for (int c = 0; c < t->n_cols; c++) {
        if (c) fputc(',', out);
        sf_csv_field(out, tty ? sf_shown(t->names[c]) : t->names[c]);
    }
    fputs("\r\n", out);
    for (int r = 0; r < rows; r++) {
        for (int c = 0; c < t->n_cols; c++) {
            if (c) fputc(',', out);
            const cell *x = &t->cells[r * t->n_cols + c];
            if (x->text) sf_csv_field(out, tty ? sf_shown(x->text) : x->text);
        }
        fputs("\r\n", out);
    }
}

static int print_json(const query_table *t, FILE *out) {
    int rows = query_table_rows(t);
    cJSON *arr = cJSON_CreateArray();
    for (int r = 0; r < rows; r++) {
        cJSON *obj = cJSON_CreateObject();
        for (int c = 0; c < t->n_cols; c++) {
            const cell *x = &t->cells[r * t->n_cols + c];
            switch (x->kind) {
            case CELL_NULL: cJSON_AddNullToObject(obj, t->names[c]); break;
            case CELL_TEXT: cJSON_AddStringToObject(obj, t->names[c], x->text); break;
            case CELL_INT: cJSON_AddNumberToObject(obj, t->names[c], (double)x->i); break;
            case CELL_NUM: cJSON_AddNumberToObject(obj, t->names[c], x->v); break;
            }
        }
        cJSON_AddItemToArray(arr, obj);
    }
    char *s = cJSON_Print(arr);
    cJSON_Delete(arr);
    if (!s) return sf_fail("out of memory printing JSON");
    fputs(s, out);
    fputc('\n', out);
    cJSON_free(s);
    return SF_OK;
}

int query_table_print(const query_table *t, FILE *out, query_format fmt) {
    SF_ASSERT(t->n_cells % t->n_cols == 0);
    int rc = SF_OK;
    switch (fmt) {
    case QUERY_TEXT: print_text(t, out); break;
    case QUERY_CSV: print_csv(t, out); break;
    case QUERY_JSON: rc = print_json(t, out); break;
    }
    if (fflush(out) != 0 || ferror(out)) return sf_fail("cannot write the output");
    return rc;
}
