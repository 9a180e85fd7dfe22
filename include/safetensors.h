/* safetensors.h: read and write safetensors files (prefix st_).
 *
 * The format: an 8-byte little-endian header length N, N bytes of JSON, then the raw
 * little-endian tensor bytes. The JSON maps each tensor name to
 *   {"dtype": "F32", "shape": [64, 3, 7, 7], "data_offsets": [begin, end]}
 * (offsets relative to the start of the data section) and may hold one
 * "__metadata__" object of string -> string.
 *
 * Reading is strict, because weight files come from elsewhere: st_open() checks the
 * header length against the file size, that the JSON is well formed, that every
 * tensor has a known dtype, a shape whose product times the dtype size equals its
 * byte range, and that the byte ranges are in range, do not overlap and tile the data
 * section exactly. Any failure is SF_ERR with a message naming the file and the
 * problem; no input makes it crash. st_read_f32() converts F32/F16/BF16/F64 and the
 * integer dtypes (num_batches_tracked is I64 in PyTorch) to floats.
 *
 * Writing: st_writer collects tensors (borrowed pointers, valid until save) and
 * metadata, then st_writer_save_mem() lays the file out in memory (what st_parse
 * reads back), or st_writer_save() writes it to "<path>.tmp-<pid>" and renames that
 * over path, so a crash never leaves a half-written file under the final name.
 *
 * Ownership: st_file owns the whole file in memory and the parsed header;
 * st_close() frees them. Assumes a little-endian host (checked at compile time).
 */
#ifndef SF_SAFETENSORS_H
#define SF_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#define ST_MAX_DIMS 8
/* The Rust reference refuses headers larger than this; so do we. */
#define ST_MAX_HEADER (100u * 1000u * 1000u)

typedef enum {
    ST_BOOL,
    ST_U8,
    ST_I8,
    ST_I16,
    ST_U16,
    ST_F16,
    ST_BF16,
    ST_I32,
    ST_U32,
    ST_F32,
    ST_F64,
    ST_I64,
    ST_U64,
    ST_N_DTYPES
} st_dtype;

typedef struct {
    char *name;
    st_dtype dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    size_t numel;
    size_t begin, end; /* byte range in the data section */
} st_tensor;

typedef struct {
    char *path;   /* for messages */
    uint8_t *buf; /* (len) the whole file */
    size_t len;
    const uint8_t *data; /* (data_len) the data section, inside buf */
    size_t data_len;
    int n_tensors;
    st_tensor *tensors; /* (n_tensors) in header order */
    int n_meta;
    char **meta_keys;   /* (n_meta) */
    char **meta_values; /* (n_meta) */
} st_file;

/* Reads and validates path. SF_ERR "<path>: <problem>" on any failure (nothing to
 * close then). */
int st_open(st_file *f, const char *path);
/* Validates a file already in memory; takes ownership of buf (malloc'd) even on
 * failure. label names it in messages. */
int st_parse(st_file *f, const char *label, uint8_t *buf, size_t len);
void st_close(st_file *f);

/* NULL when absent. */
const st_tensor *st_find(const st_file *f, const char *name);
const char *st_meta(const st_file *f, const char *key);
/* The tensor's raw bytes (may be unaligned). */
static inline const uint8_t *st_bytes(const st_file *f, const st_tensor *t) {
    return f->data + t->begin;
}
/* Converts the tensor's numel values to float into out (n floats). SF_ERR when
 * n != numel. */
int st_read_f32(const st_file *f, const st_tensor *t, float *out, size_t n);

const char *st_dtype_name(st_dtype dt);
size_t st_dtype_size(st_dtype dt);
/* "[64, 3, 7, 7]" into buf. */
void st_shape_str(char *buf, size_t n, int ndim, const int64_t *shape);

typedef struct {
    char *name;
    st_dtype dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    const void *data; /* borrowed until st_writer_save */
    size_t nbytes;
} st_pending;

typedef struct {
    int n, cap;
    st_pending *items;
    int n_meta, meta_cap;
    char **meta_keys, **meta_values;
} st_writer;

void st_writer_init(st_writer *w);
/* Adds a tensor; the bytes at data are read at save time. Names must be unique
 * (SF_ASSERT). */
void st_writer_add(st_writer *w, const char *name, st_dtype dtype, int ndim, const int64_t *shape,
                   const void *data);
/* Adds or replaces a metadata entry. */
void st_writer_meta(st_writer *w, const char *key, const char *value);
/* The whole file in memory, *data owned (free). */
void st_writer_save_mem(const st_writer *w, uint8_t **data, size_t *len);
/* Writes the file atomically. SF_ERR "<path>: <problem>" on I/O failure; the old
 * file at path, if any, is then untouched. */
int st_writer_save(const st_writer *w, const char *path);
void st_writer_free(st_writer *w);

#endif
