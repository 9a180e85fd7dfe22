/* store_codes.c: a run's sparse codes packed in galaxy order (schema version 4), read
 * one galaxy at a time or all at once.
 *
 * A chunk of run_codes holds up to CHUNK_ROWS galaxies (fewer when they carry many
 * active features), little-endian:
 *   "SFC1"  uint32 n_rows  uint32 nnz  uint32 d
 *   int64 galaxy_id[n_rows]  uint8 split[n_rows]  uint16 count[n_rows]
 *   uint16 feature[nnz]  float32 value[nnz]
 * Chunks follow each other in ascending galaxy id. A run whose chunks do not add up to
 * its galaxies (a file of an older version) is read from the activations instead.
 * Layer: store. Calls: store, sf_util; SQLite.
 * Called by: store_cross, store_write (through store_cross_refresh), query_cross.
 */
#include "store_internal.h"

#include <stdlib.h>
#include <string.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "store_codes.c packs codes in the host's byte order and assumes a little-endian host"
#endif

#define CODES_MAGIC "SFC1"
#define CODES_HEADER 16
#define CHUNK_ROWS 8192
#define CHUNK_PAIRS (1 << 21) /* a chunk of a dense run stays near 12 MB */

struct store_codes_cursor {
    store *s;
    int64_t run_id;
    int d;
    int from_chunks;
    int64_t last_id; /* the previous galaxy, for the order check */
    /* chunks */
    sqlite3_stmt *chunks;
    int n_rows, row;   /* rows of the decoded chunk, the next one */
    int64_t *ids;      /* (n_rows) */
    uint8_t *split;    /* (n_rows) */
    size_t *start;     /* (n_rows + 1) */
    uint16_t *feature; /* (nnz) */
    float *value;      /* (nnz) */
    size_t cap_rows, cap_pairs;
    /* activations */
    sqlite3_stmt *galaxies, *acts;
    int act_rc;      /* the activations statement's last step */
    uint16_t *one_f; /* (d) the current galaxy's features */
    float *one_v;    /* (d) */
};

static int run_d(store *s, int64_t run_id, int *d, int *n_galaxies) {
    sqlite3_stmt *st = store_prepare(s, "SELECT d, n_galaxies FROM runs WHERE id = ?1");
    if (!st) return SF_ERR;
    sqlite3_bind_int64(st, 1, run_id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *d = sqlite3_column_int(st, 0);
        *n_galaxies = sqlite3_column_int(st, 1);
    }
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE) return sf_fail("%s: no run with id %lld", s->path, (long long)run_id);
    if (rc != SQLITE_ROW) return store_db_fail(s, "reading a run");
    if (*d < 1 || *d > 65535)
        return sf_fail("%s: run %lld has d = %d", s->path, (long long)run_id, *d);
    return SF_OK;
}

/* Whether the run's chunks hold exactly its n galaxies. */
static int chunks_complete(store *s, int64_t run_id, int n, int *yes) {
    *yes = 0;
    if (s->version < 4) return SF_OK;
    sqlite3_stmt *st =
        store_prepare(s, "SELECT count(*), total(n_rows) FROM run_codes WHERE run_id = ?1");
    if (!st) return SF_ERR;
    sqlite3_bind_int64(st, 1, run_id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) *yes = sqlite3_column_int(st, 0) > 0 && sqlite3_column_double(st, 1) == n;
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? SF_OK : store_db_fail(s, "reading a run's codes");
}

int store_codes_open(store *s, int64_t run_id, store_codes_cursor **out) {
    *out = NULL;
    int d = 0, n = 0, complete = 0;
    if (run_d(s, run_id, &d, &n) != SF_OK || chunks_complete(s, run_id, n, &complete) != SF_OK)
        return SF_ERR;
    store_codes_cursor *c = xcalloc(1, sizeof *c);
    c->s = s;
    c->run_id = run_id;
    c->d = d;
    c->last_id = INT64_MIN;
    c->from_chunks = complete;
    if (complete) {
        c->chunks =
            store_prepare(s, "SELECT n_rows, data FROM run_codes WHERE run_id = ?1 ORDER BY chunk");
        if (!c->chunks) goto fail;
        sqlite3_bind_int64(c->chunks, 1, run_id);
    } else {
        c->galaxies = store_prepare(
            s, "SELECT galaxy_id, split FROM run_galaxies WHERE run_id = ?1 ORDER BY galaxy_id");
        c->acts = store_prepare(s, "SELECT galaxy_id, feature, value FROM activations "
                                   "WHERE run_id = ?1 ORDER BY galaxy_id, feature");
        if (!c->galaxies || !c->acts) goto fail;
        sqlite3_bind_int64(c->galaxies, 1, run_id);
        sqlite3_bind_int64(c->acts, 1, run_id);
        c->act_rc = sqlite3_step(c->acts);
        c->one_f = xmalloc((size_t)d * sizeof *c->one_f);
        c->one_v = xmalloc((size_t)d * sizeof *c->one_v);
    }
    *out = c;
    return SF_OK;
fail:
    store_codes_close(c);
    return SF_ERR;
}

void store_codes_close(store_codes_cursor *c) {
    if (!c) return;
    sqlite3_finalize(c->chunks);
    sqlite3_finalize(c->galaxies);
    sqlite3_finalize(c->acts);
    free(c->ids);
    free(c->split);
    free(c->start);
    free(c->feature);
    free(c->value);
    free(c->one_f);
    free(c->one_v);
    free(c);
}

static int damaged(store_codes_cursor *c, const char *why) {
    return sf_fail(
        "%s: the stored codes of run %lld are damaged (%s): restore the file from a copy",
        c->s->path, (long long)c->run_id, why);
}

/* Decodes the next chunk; 0 when there is none. */
static int next_chunk(store_codes_cursor *c) {
    int rc = sqlite3_step(c->chunks);
    if (rc == SQLITE_DONE) return 0;
    if (rc != SQLITE_ROW) return store_db_fail(c->s, "reading a run's codes");
    const uint8_t *p = sqlite3_column_blob(c->chunks, 1);
    size_t len = (size_t)sqlite3_column_bytes(c->chunks, 1);
    uint32_t n, nnz, d;
    if (len < CODES_HEADER || memcmp(p, CODES_MAGIC, 4) != 0) return damaged(c, "no chunk header");
    memcpy(&n, p + 4, 4);
    memcpy(&nnz, p + 8, 4);
    memcpy(&d, p + 12, 4);
    if ((int)d != c->d || (int64_t)n != sqlite3_column_int64(c->chunks, 0))
        return damaged(c, "chunk shape");
    size_t want = CODES_HEADER + (size_t)n * (8 + 1 + 2) + (size_t)nnz * (2 + 4);
    if (len != want) return damaged(c, "chunk size");
    if (n > c->cap_rows) {
        c->cap_rows = n;
        c->ids = xrealloc(c->ids, (size_t)n * sizeof *c->ids);
        c->split = xrealloc(c->split, (size_t)n);
        c->start = xrealloc(c->start, ((size_t)n + 1) * sizeof *c->start);
    }
    if (nnz > c->cap_pairs || !c->feature) {
        c->cap_pairs = nnz ? nnz : 1;
        c->feature = xrealloc(c->feature, c->cap_pairs * sizeof *c->feature);
        c->value = xrealloc(c->value, c->cap_pairs * sizeof *c->value);
    }
    const uint8_t *q = p + CODES_HEADER;
    memcpy(c->ids, q, (size_t)n * 8);
    q += (size_t)n * 8;
    memcpy(c->split, q, n);
    q += n;
    c->start[0] = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint16_t m;
        memcpy(&m, q + 2 * (size_t)i, 2);
        c->start[i + 1] = c->start[i] + m;
    }
    q += (size_t)n * 2;
    if (c->start[n] != nnz) return damaged(c, "counts");
    memcpy(c->feature, q, (size_t)nnz * 2);
    q += (size_t)nnz * 2;
    memcpy(c->value, q, (size_t)nnz * 4);
    for (uint32_t j = 0; j < nnz; j++)
        if (c->feature[j] >= d) return damaged(c, "feature number");
    c->n_rows = (int)n;
    c->row = 0;
    return 1;
}

/* The next galaxy of run_galaxies with its activations (features outside 0..d-1 and
 * values that are not positive are left out, as the writer never stores them). */
static int next_from_activations(store_codes_cursor *c, store_code_row *row) {
    int rc = sqlite3_step(c->galaxies);
    if (rc == SQLITE_DONE) return 0;
    if (rc != SQLITE_ROW) return store_db_fail(c->s, "reading a run's galaxies");
    int64_t g = sqlite3_column_int64(c->galaxies, 0);
    row->galaxy_id = g;
    row->split = sqlite3_column_int(c->galaxies, 1);
    int m = 0;
    while (c->act_rc == SQLITE_ROW) {
        int64_t ag = sqlite3_column_int64(c->acts, 0);
        if (ag > g) break;
        if (ag == g) {
            int f = sqlite3_column_int(c->acts, 1);
            double v = sqlite3_column_double(c->acts, 2);
            if (f >= 0 && f < c->d && v > 0 && m < c->d) {
                c->one_f[m] = (uint16_t)f;
                c->one_v[m++] = (float)v;
            }
        }
        c->act_rc = sqlite3_step(c->acts);
    }
    if (c->act_rc != SQLITE_ROW && c->act_rc != SQLITE_DONE)
        return store_db_fail(c->s, "reading a run's activations");
    row->m = m;
    row->feature = c->one_f;
    row->value = c->one_v;
    return 1;
}

int store_codes_next(store_codes_cursor *c, store_code_row *row) {
    int got;
    if (c->from_chunks) {
        while (c->row >= c->n_rows) {
            got = next_chunk(c);
            if (got <= 0) return got;
        }
        int i = c->row++;
        row->galaxy_id = c->ids[i];
        row->split = c->split[i];
        row->m = (int)(c->start[i + 1] - c->start[i]);
        row->feature = c->feature + c->start[i];
        row->value = c->value + c->start[i];
    } else {
        got = next_from_activations(c, row);
        if (got <= 0) return got;
    }
    if (row->galaxy_id <= c->last_id) return damaged(c, "galaxies out of order");
    c->last_id = row->galaxy_id;
    return 1;
}

int store_codes_next_shared(store_codes_cursor *a, store_codes_cursor *b, store_code_row *ra,
                            store_code_row *rb) {
    int ga = store_codes_next(a, ra);
    if (ga <= 0) return ga;
    int gb = store_codes_next(b, rb);
    if (gb <= 0) return gb;
    for (;;) {
        if (ra->galaxy_id == rb->galaxy_id) return 1;
        int got = ra->galaxy_id < rb->galaxy_id ? store_codes_next(a, ra) : store_codes_next(b, rb);
        if (got <= 0) return got;
    }
}

/* ---- all of a run's codes ------------------------------------------------------------ */

void store_codes_clear(store_codes *c) {
    free(c->galaxy_id);
    free(c->split);
    free(c->start);
    free(c->feature);
    free(c->value);
    memset(c, 0, sizeof *c);
}

store_code_row store_codes_get(const store_codes *c, int i) {
    return (store_code_row){c->galaxy_id[i], c->split[i], (int)(c->start[i + 1] - c->start[i]),
                            c->feature + c->start[i], c->value + c->start[i]};
}

int store_codes_find(const store_codes *c, int64_t galaxy_id) {
    int lo = 0, hi = c->n - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        if (c->galaxy_id[mid] == galaxy_id) return mid;
        if (c->galaxy_id[mid] < galaxy_id) lo = mid + 1;
        else hi = mid - 1;
    }
    return -1;
}

int store_codes_load(store *s, int64_t run_id, store_codes *out) {
    memset(out, 0, sizeof *out);
    store_codes_cursor *cur;
    if (store_codes_open(s, run_id, &cur) != SF_OK) return SF_ERR;
    int n_galaxies = 0, d = 0;
    if (run_d(s, run_id, &d, &n_galaxies) != SF_OK) {
        store_codes_close(cur);
        return SF_ERR;
    }
    size_t cap = (size_t)(n_galaxies > 0 ? n_galaxies : 1), cap_pairs = cap * 4, nnz = 0;
    out->run_id = run_id;
    out->d = d;
    out->galaxy_id = xmalloc(cap * sizeof *out->galaxy_id);
    out->split = xmalloc(cap);
    out->start = xmalloc((cap + 1) * sizeof *out->start);
    out->feature = xmalloc(cap_pairs * sizeof *out->feature);
    out->value = xmalloc(cap_pairs * sizeof *out->value);
    out->start[0] = 0;
    store_code_row r;
    int got;
    /* whole chunks at a time when the run has them */
    while (cur->from_chunks && (got = next_chunk(cur)) == 1) {
        int m = cur->n_rows;
        size_t pairs = cur->start[m];
        if (m && cur->ids[0] <= cur->last_id) {
            got = damaged(cur, "galaxies out of order");
            break;
        }
        for (int i = 1; i < m; i++)
            if (cur->ids[i] <= cur->ids[i - 1]) m = -1;
        if (m < 0) {
            got = damaged(cur, "galaxies out of order");
            break;
        }
        if (m) cur->last_id = cur->ids[m - 1];
        while ((size_t)out->n + (size_t)m > cap) cap *= 2;
        out->galaxy_id = xrealloc(out->galaxy_id, cap * sizeof *out->galaxy_id);
        out->split = xrealloc(out->split, cap);
        out->start = xrealloc(out->start, (cap + 1) * sizeof *out->start);
        while (nnz + pairs > cap_pairs) cap_pairs *= 2;
        out->feature = xrealloc(out->feature, cap_pairs * sizeof *out->feature);
        out->value = xrealloc(out->value, cap_pairs * sizeof *out->value);
        memcpy(out->galaxy_id + out->n, cur->ids, (size_t)m * sizeof *cur->ids);
        memcpy(out->split + out->n, cur->split, (size_t)m);
        memcpy(out->feature + nnz, cur->feature, pairs * sizeof *cur->feature);
        memcpy(out->value + nnz, cur->value, pairs * sizeof *cur->value);
        for (int i = 0; i < m; i++) out->start[out->n + i + 1] = nnz + cur->start[i + 1];
        out->n += m;
        nnz += pairs;
        cur->row = cur->n_rows;
    }
    if (cur->from_chunks) {
        store_codes_close(cur);
        if (got != 0) {
            store_codes_clear(out);
            return SF_ERR;
        }
        return SF_OK;
    }
    while ((got = store_codes_next(cur, &r)) == 1) {
        if ((size_t)out->n == cap) {
            cap *= 2;
            out->galaxy_id = xrealloc(out->galaxy_id, cap * sizeof *out->galaxy_id);
            out->split = xrealloc(out->split, cap);
            out->start = xrealloc(out->start, (cap + 1) * sizeof *out->start);
        }
        if (nnz + (size_t)r.m > cap_pairs) {
            while (nnz + (size_t)r.m > cap_pairs) cap_pairs *= 2;
            out->feature = xrealloc(out->feature, cap_pairs * sizeof *out->feature);
            out->value = xrealloc(out->value, cap_pairs * sizeof *out->value);
        }
        int i = out->n++;
        out->galaxy_id[i] = r.galaxy_id;
        out->split[i] = (uint8_t)r.split;
        memcpy(out->feature + nnz, r.feature, (size_t)r.m * sizeof *r.feature);
        memcpy(out->value + nnz, r.value, (size_t)r.m * sizeof *r.value);
        nnz += (size_t)r.m;
        out->start[i + 1] = nnz;
    }
    store_codes_close(cur);
    if (got != 0) {
        store_codes_clear(out);
        return SF_ERR;
    }
    return SF_OK;
}

/* ---- writing ---------------------------------------------------------------------------- */

typedef struct {
    uint8_t *buf;
    size_t cap;
    int n;
    size_t nnz;
    int64_t *ids;
    uint8_t *split;
    uint16_t *count;
    uint16_t *feature;
    float *value;
    size_t cap_pairs;
} chunk_builder;

static void builder_put(chunk_builder *b, const store_code_row *r) {
    if (b->nnz + (size_t)r->m > b->cap_pairs) {
        while (b->nnz + (size_t)r->m > b->cap_pairs)
            b->cap_pairs = b->cap_pairs ? 2 * b->cap_pairs : 4096;
        b->feature = xrealloc(b->feature, b->cap_pairs * sizeof *b->feature);
        b->value = xrealloc(b->value, b->cap_pairs * sizeof *b->value);
    }
    b->ids[b->n] = r->galaxy_id;
    b->split[b->n] = (uint8_t)r->split;
    b->count[b->n] = (uint16_t)r->m;
    memcpy(b->feature + b->nnz, r->feature, (size_t)r->m * sizeof *r->feature);
    memcpy(b->value + b->nnz, r->value, (size_t)r->m * sizeof *r->value);
    b->n++;
    b->nnz += (size_t)r->m;
}

static int builder_flush(store *s, sqlite3_stmt *ins, int64_t run_id, int chunk, int d,
                         chunk_builder *b) {
    if (!b->n) return SF_OK;
    size_t len = CODES_HEADER + (size_t)b->n * (8 + 1 + 2) + b->nnz * (2 + 4);
    if (len > b->cap) {
        b->cap = len;
        b->buf = xrealloc(b->buf, len);
    }
    uint8_t *p = b->buf;
    uint32_t n = (uint32_t)b->n, nnz = (uint32_t)b->nnz, dd = (uint32_t)d;
    memcpy(p, CODES_MAGIC, 4);
    memcpy(p + 4, &n, 4);
    memcpy(p + 8, &nnz, 4);
    memcpy(p + 12, &dd, 4);
    p += CODES_HEADER;
    memcpy(p, b->ids, (size_t)n * 8);
    p += (size_t)n * 8;
    memcpy(p, b->split, n);
    p += n;
    memcpy(p, b->count, (size_t)n * 2);
    p += (size_t)n * 2;
    memcpy(p, b->feature, b->nnz * 2);
    p += b->nnz * 2;
    memcpy(p, b->value, b->nnz * 4);
    sqlite3_bind_int64(ins, 1, run_id);
    sqlite3_bind_int(ins, 2, chunk);
    sqlite3_bind_int(ins, 3, b->n);
    sqlite3_bind_blob64(ins, 4, b->buf, len, SQLITE_STATIC);
    int rc = sqlite3_step(ins);
    sqlite3_reset(ins);
    b->n = 0;
    b->nnz = 0;
    return rc == SQLITE_DONE ? SF_OK : store_db_fail(s, "writing a run's codes");
}

/* Writes run_id's codes from its activations (replacing any), inside the caller's
 * transaction. */
int store_codes_write(store *s, int64_t run_id) {
    if (store_exec(s, "SAVEPOINT codes", "writing a run's codes") != SF_OK) return SF_ERR;
    sqlite3_stmt *del = store_prepare(s, "DELETE FROM run_codes WHERE run_id = ?1");
    sqlite3_stmt *ins = store_prepare(s, "INSERT INTO run_codes (run_id, chunk, n_rows, data) "
                                         "VALUES (?1, ?2, ?3, ?4)");
    store_codes_cursor *cur = NULL;
    chunk_builder b = {0};
    int status = SF_ERR, chunk = 0, got;
    if (!del || !ins) goto done;
    sqlite3_bind_int64(del, 1, run_id);
    if (sqlite3_step(del) != SQLITE_DONE) {
        store_db_fail(s, "replacing a run's codes");
        goto done;
    }
    /* the old chunks are gone: the cursor reads the activations */
    if (store_codes_open(s, run_id, &cur) != SF_OK) goto done;
    b.ids = xmalloc(CHUNK_ROWS * sizeof *b.ids);
    b.split = xmalloc(CHUNK_ROWS);
    b.count = xmalloc(CHUNK_ROWS * sizeof *b.count);
    store_code_row r;
    while ((got = store_codes_next(cur, &r)) == 1) {
        if (b.n == CHUNK_ROWS || (b.n && b.nnz + (size_t)r.m > CHUNK_PAIRS)) {
            if (builder_flush(s, ins, run_id, chunk++, cur->d, &b) != SF_OK) goto done;
        }
        builder_put(&b, &r);
    }
    if (got != 0 || builder_flush(s, ins, run_id, chunk, cur->d, &b) != SF_OK) goto done;
    status = SF_OK;
done:
    store_codes_close(cur);
    sqlite3_finalize(del);
    sqlite3_finalize(ins);
    free(b.buf);
    free(b.ids);
    free(b.split);
    free(b.count);
    free(b.feature);
    free(b.value);
    if (status == SF_OK) return store_exec(s, "RELEASE codes", "writing a run's codes");
    sqlite3_exec(s->db, "ROLLBACK TO codes; RELEASE codes", NULL, NULL, NULL);
    return SF_ERR;
}
