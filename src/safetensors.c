/* safetensors.c: strict reader and writer of safetensors files, in memory or as files
 * (written atomically).
 * See include/safetensors.h for the format and the checks.
 * Layer: library. Calls: sf_util; cJSON.
 * Called by: cli_predict, train_loop, train_weights.
 */
#include "safetensors.h"

#include <cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sf_util.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors.c reads tensors in place and assumes a little-endian host"
#endif

static const struct {
    const char *name;
    size_t size;
} dtype_info[ST_N_DTYPES] = {
    [ST_BOOL] = {"BOOL", 1}, [ST_U8] = {"U8", 1},   [ST_I8] = {"I8", 1},     [ST_I16] = {"I16", 2},
    [ST_U16] = {"U16", 2},   [ST_F16] = {"F16", 2}, [ST_BF16] = {"BF16", 2}, [ST_I32] = {"I32", 4},
    [ST_U32] = {"U32", 4},   [ST_F32] = {"F32", 4}, [ST_F64] = {"F64", 8},   [ST_I64] = {"I64", 8},
    [ST_U64] = {"U64", 8},
};

const char *st_dtype_name(st_dtype dt) {
    SF_ASSERT((int)dt >= 0 && dt < ST_N_DTYPES);
    return dtype_info[dt].name;
}

size_t st_dtype_size(st_dtype dt) {
    SF_ASSERT((int)dt >= 0 && dt < ST_N_DTYPES);
    return dtype_info[dt].size;
}

void st_shape_str(char *buf, size_t n, int ndim, const int64_t *shape) {
    size_t used = (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < ndim && used < n; i++)
        used +=
            (size_t)snprintf(buf + used, n - used, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (used < n) snprintf(buf + used, n - used, "]");
}

/* ---------------------------------------------------------------- reading */

static void file_reset(st_file *f) {
    for (int i = 0; i < f->n_tensors; i++) free(f->tensors[i].name);
    free(f->tensors);
    for (int i = 0; i < f->n_meta; i++) {
        free(f->meta_keys[i]);
        free(f->meta_values[i]);
    }
    free(f->meta_keys);
    free(f->meta_values);
    free(f->buf);
    free(f->path);
    memset(f, 0, sizeof *f);
}

void st_close(st_file *f) {
    if (f) file_reset(f);
}

/* A JSON number that is an exact non-negative integer below 2^53, or -1. */
static int64_t json_size(const cJSON *v) {
    if (!cJSON_IsNumber(v)) return -1;
    double d = v->valuedouble;
    if (!isfinite(d) || d < 0 || d > 9007199254740992.0 || d != floor(d)) return -1;
    return (int64_t)d;
}

static int parse_dtype(const char *s, st_dtype *dt) {
    for (int i = 0; i < ST_N_DTYPES; i++)
        if (!strcmp(s, dtype_info[i].name)) {
            *dt = (st_dtype)i;
            return SF_OK;
        }
    return SF_ERR;
}

static int parse_metadata(st_file *f, const cJSON *meta) {
    if (!cJSON_IsObject(meta)) return sf_fail("header: __metadata__ is not an object");
    int n = cJSON_GetArraySize(meta);
    f->meta_keys = xcalloc((size_t)n + 1, sizeof(char *));
    f->meta_values = xcalloc((size_t)n + 1, sizeof(char *));
    for (const cJSON *e = meta->child; e; e = e->next) {
        if (!cJSON_IsString(e) || !e->valuestring)
            return sf_fail("header: __metadata__ entry '%.64s' is not a string", e->string);
        for (int i = 0; i < f->n_meta; i++)
            if (!strcmp(f->meta_keys[i], e->string))
                return sf_fail("header: __metadata__ key '%.64s' appears twice", e->string);
        f->meta_keys[f->n_meta] = xstrdup(e->string);
        f->meta_values[f->n_meta] = xstrdup(e->valuestring);
        f->n_meta++;
    }
    return SF_OK;
}

static int parse_tensor(st_tensor *t, const cJSON *e, size_t data_len) {
    const char *name = e->string;
    if (!name || !*name) return sf_fail("header: a tensor has an empty name");
    if (!cJSON_IsObject(e)) return sf_fail("header: tensor '%.64s' is not an object", name);
    t->name = xstrdup(name);

    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    if (!cJSON_IsString(dtype) || !dtype->valuestring)
        return sf_fail("header: tensor '%.64s' has no dtype string", name);
    if (parse_dtype(dtype->valuestring, &t->dtype))
        return sf_fail("header: tensor '%.64s' has unsupported dtype '%.16s'", name,
                       dtype->valuestring);

    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(e, "shape");
    if (!cJSON_IsArray(shape)) return sf_fail("header: tensor '%.64s' has no shape array", name);
    int ndim = cJSON_GetArraySize(shape);
    if (ndim > ST_MAX_DIMS)
        return sf_fail("header: tensor '%.64s' has %d dimensions (at most %d)", name, ndim,
                       ST_MAX_DIMS);
    t->ndim = ndim;
    size_t numel = 1;
    int i = 0;
    for (const cJSON *d = shape->child; d; d = d->next, i++) {
        int64_t v = json_size(d);
        if (v < 0)
            return sf_fail("header: tensor '%.64s' has a shape entry that is not a "
                           "non-negative integer",
                           name);
        t->shape[i] = v;
        if (__builtin_mul_overflow(numel, (size_t)v, &numel))
            return sf_fail("header: tensor '%.64s' has a shape too large", name);
    }
    t->numel = numel;

    const cJSON *offs = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    if (!cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2)
        return sf_fail("header: tensor '%.64s' needs data_offsets [begin, end]", name);
    int64_t b = json_size(offs->child), en = json_size(offs->child->next);
    if (b < 0 || en < 0)
        return sf_fail("header: tensor '%.64s' has data_offsets that are not "
                       "non-negative integers",
                       name);
    if (b > en)
        return sf_fail("header: tensor '%.64s' has data_offsets [%lld, %lld] with begin "
                       "after end",
                       name, (long long)b, (long long)en);
    if ((uint64_t)en > data_len)
        return sf_fail("header: tensor '%.64s' has data_offsets [%lld, %lld] beyond the "
                       "%zu bytes of data in the file (truncated?)",
                       name, (long long)b, (long long)en, data_len);
    t->begin = (size_t)b;
    t->end = (size_t)en;

    size_t nbytes;
    char sh[128];
    st_shape_str(sh, sizeof sh, t->ndim, t->shape);
    if (__builtin_mul_overflow(numel, st_dtype_size(t->dtype), &nbytes) ||
        nbytes != t->end - t->begin)
        return sf_fail("header: tensor '%.64s' of shape %s and dtype %s needs %zu * %zu "
                       "bytes, but data_offsets [%zu, %zu] hold %zu",
                       name, sh, st_dtype_name(t->dtype), numel, st_dtype_size(t->dtype), t->begin,
                       t->end, t->end - t->begin);
    return SF_OK;
}

static const st_tensor *sort_base;
static int cmp_by_name(const void *a, const void *b) {
    return strcmp(sort_base[*(const int *)a].name, sort_base[*(const int *)b].name);
}
static int cmp_by_offset(const void *a, const void *b) {
    const st_tensor *x = &sort_base[*(const int *)a], *y = &sort_base[*(const int *)b];
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

/* Names unique; byte ranges sorted by offset tile [0, data_len) exactly. */
static int check_layout(const st_file *f) {
    int n = f->n_tensors;
    int *order = xmalloc(((size_t)n + 1) * sizeof(int));
    for (int i = 0; i < n; i++) order[i] = i;
    int rc = SF_OK;
    sort_base = f->tensors;
    qsort(order, (size_t)n, sizeof(int), cmp_by_name);
    for (int i = 1; i < n && rc == SF_OK; i++)
        if (!strcmp(f->tensors[order[i]].name, f->tensors[order[i - 1]].name))
            rc = sf_fail("header: tensor '%.64s' appears twice", f->tensors[order[i]].name);
    qsort(order, (size_t)n, sizeof(int), cmp_by_offset);
    size_t at = 0;
    for (int i = 0; i < n && rc == SF_OK; i++) {
        const st_tensor *t = &f->tensors[order[i]];
        if (t->begin < at)
            rc = sf_fail("header: tensor '%.64s' at bytes [%zu, %zu] overlaps the tensor "
                         "before it (which ends at %zu)",
                         t->name, t->begin, t->end, at);
        else if (t->begin > at)
            rc = sf_fail("header: tensor '%.64s' starts at byte %zu, leaving a gap after "
                         "byte %zu",
                         t->name, t->begin, at);
        at = t->end;
    }
    if (rc == SF_OK && at != f->data_len)
        rc = sf_fail("header: the tensors cover %zu bytes but the data section has %zu "
                     "(trailing bytes or a truncated header)",
                     at, f->data_len);
    sort_base = NULL;
    free(order);
    return rc;
}

static int parse_header(st_file *f) {
    if (f->len < 8)
        return sf_fail("file is %zu bytes, too short for a safetensors header length", f->len);
    uint64_t hl;
    memcpy(&hl, f->buf, 8);
    if (hl > ST_MAX_HEADER)
        return sf_fail("header length %llu is larger than the %u bytes allowed (not a "
                       "safetensors file?)",
                       (unsigned long long)hl, ST_MAX_HEADER);
    if (hl > f->len - 8)
        return sf_fail("header length %llu runs past the end of the %zu-byte file "
                       "(truncated?)",
                       (unsigned long long)hl, f->len);
    const char *json = (const char *)f->buf + 8;
    if (hl < 2 || json[0] != '{')
        return sf_fail("header does not start with '{' (not a safetensors file?)");
    f->data = f->buf + 8 + hl;
    f->data_len = f->len - 8 - (size_t)hl;

    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(json, (size_t)hl, &end, 0);
    if (!root) {
        const char *at = cJSON_GetErrorPtr();
        size_t pos = at && at >= json && at <= json + hl ? (size_t)(at - json) : 0;
        return sf_fail("header: malformed JSON near byte %zu of %llu", pos, (unsigned long long)hl);
    }
    int rc = SF_OK;
    for (const char *p = end; p && p < json + hl && rc == SF_OK; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
            rc = sf_fail("header: unexpected bytes after the JSON object at byte %zu",
                         (size_t)(p - json));
    if (rc == SF_OK && !cJSON_IsObject(root)) rc = sf_fail("header: JSON is not an object");
    if (rc == SF_OK) {
        int n = cJSON_GetArraySize(root);
        f->tensors = xcalloc((size_t)n + 1, sizeof(st_tensor));
        int seen_meta = 0;
        for (const cJSON *e = root->child; e && rc == SF_OK; e = e->next) {
            if (e->string && !strcmp(e->string, "__metadata__")) {
                if (seen_meta++) rc = sf_fail("header: __metadata__ appears twice");
                else rc = parse_metadata(f, e);
                continue;
            }
            rc = parse_tensor(&f->tensors[f->n_tensors], e, f->data_len);
            f->n_tensors++; /* counted even on failure so its name is freed */
        }
    }
    cJSON_Delete(root);
    if (rc == SF_OK) rc = check_layout(f);
    return rc;
}

int st_parse(st_file *f, const char *label, uint8_t *buf, size_t len) {
    memset(f, 0, sizeof *f);
    f->path = xstrdup(label);
    f->buf = buf;
    f->len = len;
    if (parse_header(f) != SF_OK) {
        sf_fail_prefix(label);
        file_reset(f);
        return SF_ERR;
    }
    return SF_OK;
}

int st_open(st_file *f, const char *path) {
    char *buf;
    size_t len;
    memset(f, 0, sizeof *f);
    if (sf_read_file(path, &buf, &len) != SF_OK) return SF_ERR;
    return st_parse(f, path, (uint8_t *)buf, len);
}

const st_tensor *st_find(const st_file *f, const char *name) {
    for (int i = 0; i < f->n_tensors; i++)
        if (!strcmp(f->tensors[i].name, name)) return &f->tensors[i];
    return NULL;
}

const char *st_meta(const st_file *f, const char *key) {
    for (int i = 0; i < f->n_meta; i++)
        if (!strcmp(f->meta_keys[i], key)) return f->meta_values[i];
    return NULL;
}

static float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
    float v;
    if (exp == 0) {
        v = ldexpf((float)man, -24); /* zero and subnormals */
    } else if (exp == 31) {
        v = man ? NAN : INFINITY;
    } else {
        uint32_t bits = ((exp + 112) << 23) | (man << 13);
        memcpy(&v, &bits, 4);
    }
    return sign ? -v : v;
}

int st_read_f32(const st_file *f, const st_tensor *t, float *out, size_t n) {
    if (n != t->numel)
        return sf_fail("%s: tensor '%s' has %zu values, expected %zu", f->path, t->name, t->numel,
                       n);
    const uint8_t *p = st_bytes(f, t);
    size_t sz = st_dtype_size(t->dtype);
    for (size_t i = 0; i < n; i++, p += sz) {
        union {
            uint8_t b[8];
            uint16_t u16;
            int16_t i16;
            uint32_t u32;
            int32_t i32;
            uint64_t u64;
            int64_t i64;
            float f32;
            double f64;
        } v;
        memcpy(v.b, p, sz);
        switch (t->dtype) {
        case ST_BOOL: out[i] = v.b[0] != 0; break;
        case ST_U8: out[i] = v.b[0]; break;
        case ST_I8: out[i] = (int8_t)v.b[0]; break;
        case ST_I16: out[i] = v.i16; break;
        case ST_U16: out[i] = v.u16; break;
        case ST_F16: out[i] = half_to_float(v.u16); break;
        case ST_BF16: {
            uint32_t bits = (uint32_t)v.u16 << 16;
            memcpy(&out[i], &bits, 4);
            break;
        }
        case ST_I32: out[i] = (float)v.i32; break;
        case ST_U32: out[i] = (float)v.u32; break;
        case ST_F32: out[i] = v.f32; break;
        case ST_F64: out[i] = (float)v.f64; break;
        case ST_I64: out[i] = (float)v.i64; break;
        case ST_U64: out[i] = (float)v.u64; break;
        default: SF_ASSERT(0);
        }
    }
    return SF_OK;
}

/* ---------------------------------------------------------------- writing */

void st_writer_init(st_writer *w) { memset(w, 0, sizeof *w); }

void st_writer_add(st_writer *w, const char *name, st_dtype dtype, int ndim, const int64_t *shape,
                   const void *data) {
    SF_ASSERT(ndim >= 0 && ndim <= ST_MAX_DIMS && *name);
    SF_ASSERT(strcmp(name, "__metadata__") != 0);
    for (int i = 0; i < w->n; i++) SF_ASSERT(strcmp(w->items[i].name, name) != 0);
    if (w->n == w->cap) {
        w->cap = w->cap ? 2 * w->cap : 64;
        w->items = xrealloc(w->items, (size_t)w->cap * sizeof *w->items);
    }
    st_pending *p = &w->items[w->n++];
    memset(p, 0, sizeof *p);
    p->name = xstrdup(name);
    p->dtype = dtype;
    p->ndim = ndim;
    size_t numel = 1;
    for (int i = 0; i < ndim; i++) {
        SF_ASSERT(shape[i] >= 0);
        p->shape[i] = shape[i];
        numel *= (size_t)shape[i];
    }
    p->data = data;
    p->nbytes = numel * st_dtype_size(dtype);
}

void st_writer_meta(st_writer *w, const char *key, const char *value) {
    for (int i = 0; i < w->n_meta; i++)
        if (!strcmp(w->meta_keys[i], key)) {
            free(w->meta_values[i]);
            w->meta_values[i] = xstrdup(value);
            return;
        }
    if (w->n_meta == w->meta_cap) {
        w->meta_cap = w->meta_cap ? 2 * w->meta_cap : 16;
        w->meta_keys = xrealloc(w->meta_keys, (size_t)w->meta_cap * sizeof(char *));
        w->meta_values = xrealloc(w->meta_values, (size_t)w->meta_cap * sizeof(char *));
    }
    w->meta_keys[w->n_meta] = xstrdup(key);
    w->meta_values[w->n_meta] = xstrdup(value);
    w->n_meta++;
}

void st_writer_free(st_writer *w) {
    for (int i = 0; i < w->n; i++) free(w->items[i].name);
    free(w->items);
    for (int i = 0; i < w->n_meta; i++) {
        free(w->meta_keys[i]);
        free(w->meta_values[i]);
    }
    free(w->meta_keys);
    free(w->meta_values);
    memset(w, 0, sizeof *w);
}

static char *header_json(const st_writer *w) {
    cJSON *root = cJSON_CreateObject();
    SF_ASSERT(root);
    if (w->n_meta) {
        cJSON *meta = cJSON_AddObjectToObject(root, "__metadata__");
        for (int i = 0; i < w->n_meta; i++)
            SF_ASSERT(cJSON_AddStringToObject(meta, w->meta_keys[i], w->meta_values[i]));
    }
    size_t at = 0;
    for (int i = 0; i < w->n; i++) {
        const st_pending *p = &w->items[i];
        cJSON *t = cJSON_AddObjectToObject(root, p->name);
        SF_ASSERT(t && cJSON_AddStringToObject(t, "dtype", st_dtype_name(p->dtype)));
        cJSON *shape = cJSON_AddArrayToObject(t, "shape");
        for (int d = 0; d < p->ndim; d++)
            cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)p->shape[d]));
        cJSON *offs = cJSON_AddArrayToObject(t, "data_offsets");
        cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)at));
        cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)(at + p->nbytes)));
        at += p->nbytes;
    }
    char *s = cJSON_PrintUnformatted(root);
    SF_ASSERT(s);
    cJSON_Delete(root);
    return s;
}

/* The file's first bytes: the header length, the JSON and its padding (the data
 * then starts 8-byte aligned, as the Rust writer has it). *head owned (free). */
static void header_bytes(const st_writer *w, uint8_t **head, size_t *head_len) {
    char *json = header_json(w);
    size_t jl = strlen(json);
    size_t pad = (8 - jl % 8) % 8;
    uint64_t hl = jl + pad;
    *head_len = 8 + (size_t)hl;
    *head = xmalloc(*head_len);
    memcpy(*head, &hl, 8);
    memcpy(*head + 8, json, jl);
    memset(*head + 8 + jl, ' ', pad);
    free(json);
}

void st_writer_save_mem(const st_writer *w, uint8_t **data, size_t *len) {
    uint8_t *head;
    size_t head_len, total;
    header_bytes(w, &head, &head_len);
    total = head_len;
    for (int i = 0; i < w->n; i++) total += w->items[i].nbytes;
    uint8_t *buf = xrealloc(head, total);
    size_t at = head_len;
    for (int i = 0; i < w->n; i++) {
        if (w->items[i].nbytes) memcpy(buf + at, w->items[i].data, w->items[i].nbytes);
        at += w->items[i].nbytes;
    }
    *data = buf;
    *len = total;
}

int st_writer_save(const st_writer *w, const char *path) {
    uint8_t *head;
    size_t head_len;
    header_bytes(w, &head, &head_len);

    size_t tl = strlen(path) + 32;
    char *tmp = xmalloc(tl);
    snprintf(tmp, tl, "%s.tmp-%ld", path, (long)getpid());
    FILE *fp = fopen(tmp, "wb");
    int rc = SF_OK;
    if (!fp) {
        rc = sf_fail("%s: cannot create: %s", tmp, strerror(errno));
        goto done;
    }
    int ok = fwrite(head, 1, head_len, fp) == head_len;
    for (int i = 0; ok && i < w->n; i++)
        ok = w->items[i].nbytes == 0 ||
             fwrite(w->items[i].data, 1, w->items[i].nbytes, fp) == w->items[i].nbytes;
    ok = ok && fflush(fp) == 0 && fsync(fileno(fp)) == 0;
    int err = errno;
    if (fclose(fp) != 0 && ok) {
        ok = 0;
        err = errno;
    }
    if (!ok) {
        unlink(tmp);
        rc = sf_fail("%s: write failed: %s", path, strerror(err));
        goto done;
    }
    if (rename(tmp, path) != 0) {
        err = errno;
        unlink(tmp);
        rc = sf_fail("%s: cannot rename %s over it: %s", path, tmp, strerror(err));
    }
done:
    free(tmp);
    free(head);
    return rc;
}
