/* Tests of safetensors: round trip, dtype conversion, atomic save, and many hostile
 * files (each must give an error naming the file and the problem, never a crash),
 * then a fuzz loop of random byte flips and truncations (meant for the ASan build). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "safetensors.h"
#include "sf_util.h"

static char tmpdir[256];

static void make_tmpdir(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/sf_test_st_XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
}

static void remove_tmpdir(void) {
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(safetensors, .init = make_tmpdir, .fini = remove_tmpdir);

/* Writes an 8-byte length (hl, or strlen(header) when hl is (uint64_t)-1), the
 * header text, then data_len bytes 0..255 repeating. */
static void write_raw(const char *path, uint64_t hl, const char *header, size_t data_len) {
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    size_t n = strlen(header);
    if (hl == (uint64_t)-1) hl = n;
    fwrite(&hl, 8, 1, f);
    fwrite(header, 1, n, f);
    for (size_t i = 0; i < data_len; i++) fputc((int)(i & 255), f);
    fclose(f);
}

static const char *path_in(const char *name) {
    static char p[400];
    snprintf(p, sizeof p, "%s/%s", tmpdir, name);
    return p;
}

Test(safetensors, round_trip_keeps_tensors_metadata_and_alignment) {
    float w[2][3] = {{1, -2, 3.5f}, {0, 1e-30f, -7}};
    int64_t nbt = 12345678901LL;
    uint16_t half[4] = {0x3c00, 0xc000, 0x3800, 0x0001};
    st_writer wr;
    st_writer_init(&wr);
    st_writer_add(&wr, "conv1.weight", ST_F32, 2, (int64_t[]){2, 3}, w);
    st_writer_add(&wr, "bn1.num_batches_tracked", ST_I64, 0, NULL, &nbt);
    st_writer_add(&wr, "h", ST_F16, 1, (int64_t[]){4}, half);
    st_writer_add(&wr, "empty", ST_F32, 2, (int64_t[]){0, 5}, NULL);
    st_writer_meta(&wr, "k", "4");
    st_writer_meta(&wr, "targets", "oh_p50");
    st_writer_meta(&wr, "k", "8"); /* replaces */
    const char *p = path_in("a.safetensors");
    cr_assert_eq(st_writer_save(&wr, p), SF_OK, "%s", sf_last_error());
    st_writer_free(&wr);

    st_file f;
    cr_assert_eq(st_open(&f, p), SF_OK, "%s", sf_last_error());
    cr_assert_eq(f.n_tensors, 4);
    cr_assert_eq((f.len - f.data_len) % 8, 0, "data section must start 8-byte aligned");
    cr_assert_str_eq(st_meta(&f, "k"), "8");
    cr_assert_str_eq(st_meta(&f, "targets"), "oh_p50");
    cr_assert_null(st_meta(&f, "nope"));
    const st_tensor *t = st_find(&f, "conv1.weight");
    cr_assert_not_null(t);
    cr_assert_eq(t->dtype, ST_F32);
    cr_assert_eq(t->ndim, 2);
    cr_assert_eq(t->shape[0], 2);
    cr_assert_eq(t->shape[1], 3);
    float back[6];
    cr_assert_eq(st_read_f32(&f, t, back, 6), SF_OK);
    cr_assert_eq(memcmp(back, w, sizeof back), 0);
    cr_assert_eq(st_read_f32(&f, t, back, 5), SF_ERR);
    cr_assert(strstr(sf_last_error(), "a.safetensors"), "%s", sf_last_error());

    t = st_find(&f, "bn1.num_batches_tracked");
    cr_assert_eq(t->dtype, ST_I64);
    cr_assert_eq(t->ndim, 0);
    cr_assert_eq(t->numel, 1);
    int64_t nb;
    memcpy(&nb, st_bytes(&f, t), 8);
    cr_assert_eq(nb, nbt);

    t = st_find(&f, "h");
    float hv[4];
    cr_assert_eq(st_read_f32(&f, t, hv, 4), SF_OK);
    cr_assert_eq(hv[0], 1.0f);
    cr_assert_eq(hv[1], -2.0f);
    cr_assert_eq(hv[2], 0.5f);
    cr_assert_eq(hv[3], ldexpf(1, -24));
    cr_assert_eq(st_find(&f, "empty")->numel, 0);
    st_close(&f);
}

/* The file laid out in memory is the saved file byte for byte, and parses as it. */
Test(safetensors, the_file_in_memory_is_the_file_on_disk) {
    float w[2][3] = {{1, -2, 3.5f}, {0, 1e-30f, -7}};
    int64_t nbt = 7;
    st_writer wr;
    st_writer_init(&wr);
    st_writer_add(&wr, "conv1.weight", ST_F32, 2, (int64_t[]){2, 3}, w);
    st_writer_add(&wr, "bn1.num_batches_tracked", ST_I64, 0, NULL, &nbt);
    st_writer_add(&wr, "empty", ST_F32, 1, (int64_t[]){0}, NULL);
    st_writer_meta(&wr, "format", "test");
    const char *p = path_in("m.safetensors");
    cr_assert_eq(st_writer_save(&wr, p), SF_OK, "%s", sf_last_error());
    uint8_t *mem;
    size_t len;
    st_writer_save_mem(&wr, &mem, &len);
    st_writer_free(&wr);
    char *disk;
    size_t disk_len;
    cr_assert_eq(sf_read_file(p, &disk, &disk_len), SF_OK);
    cr_assert_eq(len, disk_len);
    cr_assert_eq(memcmp(mem, disk, len), 0);
    free(disk);
    st_file f;
    cr_assert_eq(st_parse(&f, "in memory", mem, len), SF_OK, "%s", sf_last_error());
    cr_assert_eq(f.n_tensors, 3);
    cr_assert_str_eq(st_meta(&f, "format"), "test");
    float back[6];
    cr_assert_eq(st_read_f32(&f, st_find(&f, "conv1.weight"), back, 6), SF_OK);
    cr_assert_eq(memcmp(back, w, sizeof back), 0);
    st_close(&f);
}

Test(safetensors, reads_bf16_and_integers_as_floats) {
    /* bf16 1.0 = 0x3f80, -3.0 = 0xc040; i64 -5; f64 0.25 */
    uint8_t data[4 + 8 + 8] = {0x80, 0x3f, 0x40, 0xc0};
    int64_t m5 = -5;
    double q = 0.25;
    memcpy(data + 4, &m5, 8);
    memcpy(data + 12, &q, 8);
    const char *h = "{\"b\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[0,4]},"
                    "\"i\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[4,12]},"
                    "\"d\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[12,20]}}";
    size_t hl = strlen(h), len = 8 + hl + sizeof data;
    uint8_t *buf = xmalloc(len);
    uint64_t hl64 = hl;
    memcpy(buf, &hl64, 8);
    memcpy(buf + 8, h, hl);
    memcpy(buf + 8 + hl, data, sizeof data);
    st_file f;
    cr_assert_eq(st_parse(&f, "mem", buf, len), SF_OK, "%s", sf_last_error());
    float v[2];
    cr_assert_eq(st_read_f32(&f, st_find(&f, "b"), v, 2), SF_OK);
    cr_assert_eq(v[0], 1.0f);
    cr_assert_eq(v[1], -3.0f);
    cr_assert_eq(st_read_f32(&f, st_find(&f, "i"), v, 1), SF_OK);
    cr_assert_eq(v[0], -5.0f);
    cr_assert_eq(st_read_f32(&f, st_find(&f, "d"), v, 1), SF_OK);
    cr_assert_eq(v[0], 0.25f);
    st_close(&f);
}

Test(safetensors, save_failure_names_the_file_and_keeps_the_old_one) {
    float x = 1;
    st_writer wr;
    st_writer_init(&wr);
    st_writer_add(&wr, "x", ST_F32, 1, (int64_t[]){1}, &x);
    char p[400];
    snprintf(p, sizeof p, "%s/no/such/dir/w.safetensors", tmpdir);
    cr_assert_eq(st_writer_save(&wr, p), SF_ERR);
    cr_assert(strstr(sf_last_error(), "no/such/dir"), "%s", sf_last_error());
    /* Renaming over a directory fails: the directory stays, no temp file is left. */
    snprintf(p, sizeof p, "%s/adir", tmpdir);
    cr_assert_eq(mkdir(p, 0700), 0);
    cr_assert_eq(st_writer_save(&wr, p), SF_ERR);
    cr_assert(strstr(sf_last_error(), "adir"), "%s", sf_last_error());
    struct stat s;
    cr_assert_eq(stat(p, &s), 0);
    cr_assert(S_ISDIR(s.st_mode));
    char tmp[500];
    snprintf(tmp, sizeof tmp, "%s.tmp-%ld", p, (long)getpid());
    cr_assert_neq(access(tmp, F_OK), 0, "temp file left behind");
    st_writer_free(&wr);
}

Test(safetensors, missing_file_names_it) {
    st_file f;
    cr_assert_eq(st_open(&f, path_in("absent.safetensors")), SF_ERR);
    cr_assert(strstr(sf_last_error(), "absent.safetensors"), "%s", sf_last_error());
}

typedef struct {
    const char *what;
    uint64_t hl; /* (uint64_t)-1: the header's length */
    const char *header;
    size_t data_len;
    const char *expect; /* part of the message */
} hostile_case;

#define T1 "{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}"

static const hostile_case hostile[] = {
    {"zero length header", 0, "", 0, "start with '{'"},
    {"huge header length", 1ull << 62, "{}", 0, "larger than"},
    {"header past end", 1000, "{}", 0, "past the end"},
    {"not json object start", (uint64_t)-1, "[1,2]", 0, "start with '{'"},
    {"truncated json", (uint64_t)-1, "{\"t\":{\"dtype\":", 0, "malformed JSON"},
    {"trailing garbage", (uint64_t)-1, "{} xx", 0, "unexpected bytes"},
    {"tensor not object", (uint64_t)-1, "{\"t\":3}", 0, "not an object"},
    {"no dtype", (uint64_t)-1, "{\"t\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "dtype"},
    {"dtype not string", (uint64_t)-1, "{\"t\":{\"dtype\":7,\"shape\":[1],\"data_offsets\":[0,4]}}",
     4, "dtype"},
    {"unknown dtype", (uint64_t)-1,
     "{\"t\":{\"dtype\":\"F8_E4M3\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1,
     "unsupported dtype"},
    {"no shape", (uint64_t)-1, "{\"t\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, "shape"},
    {"negative dim", (uint64_t)-1,
     "{\"t\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4, "shape entry"},
    {"fractional dim", (uint64_t)-1,
     "{\"t\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4, "shape entry"},
    {"string dim", (uint64_t)-1,
     "{\"t\":{\"dtype\":\"F32\",\"shape\":[\"1\"],\"data_offsets\":[0,4]}}", 4, "shape entry"},
    {"huge dim", (uint64_t)-1,
     "{\"t\":{\"dtype\":\"F32\",\"shape\":[1e300],\"data_offsets\":[0,4]}}", 4, "shape entry"},
    {"too many dims", (uint64_t)-1,
     "{\"t\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4,
     "dimensions"},
    {"shape overflow", (uint64_t)-1,
     "{\"t\":{\"dtype\":\"F32\",\"shape\":[4503599627370496,4503599627370496],"
     "\"data_offsets\":[0,4]}}",
     4, "too large"},
    {"shape product overflow with dtype", (uint64_t)-1,
     "{\"t\":{\"dtype\":\"F64\",\"shape\":[4503599627370496,1024],"
     "\"data_offsets\":[0,4]}}",
     4, "needs"},
    {"no offsets", (uint64_t)-1, "{\"t\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, "data_offsets"},
    {"three offsets", (uint64_t)-1,
     "{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 8, "data_offsets"},
    {"negative offset", (uint64_t)-1,
     "{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", 4, "non-negative"},
    {"begin after end", (uint64_t)-1,
     "{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}}", 8, "begin after end"},
    {"end beyond data", (uint64_t)-1, T1, 4, "beyond"},
    {"offsets far beyond data", (uint64_t)-1,
     "{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[9007199254740988,"
     "9007199254740992]}}",
     4, "beyond"},
    {"byte length mismatch", (uint64_t)-1,
     "{\"t\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, "needs"},
    {"wrong dtype for bytes", (uint64_t)-1,
     "{\"t\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "needs"},
    {"overlap", (uint64_t)-1,
     "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
     "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
     12, "overlaps"},
    {"same range twice", (uint64_t)-1,
     "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
     "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
     8, "overlaps"},
    {"gap", (uint64_t)-1,
     "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
     "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}",
     12, "gap"},
    {"not starting at zero", (uint64_t)-1,
     "{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "gap"},
    {"trailing data", (uint64_t)-1, T1, 12, "cover"},
    {"duplicate names", (uint64_t)-1,
     "{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
     "\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
     8, "twice"},
    {"empty name", (uint64_t)-1, "{\"\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
     4, "empty name"},
    {"metadata not object", (uint64_t)-1, "{\"__metadata__\":[1]}", 0, "__metadata__"},
    {"metadata value not string", (uint64_t)-1, "{\"__metadata__\":{\"k\":4}}", 0, "not a string"},
    {"metadata twice", (uint64_t)-1,
     "{\"__metadata__\":{\"k\":\"4\"},\"__metadata__\":{\"k\":\"5\"}}", 0, "twice"},
    {"metadata key twice", (uint64_t)-1, "{\"__metadata__\":{\"k\":\"4\",\"k\":\"5\"}}", 0,
     "twice"},
    {"root with number", (uint64_t)-1, "{\"t\":null}", 0, "not an object"},
};

Test(safetensors, hostile_files_give_errors_naming_file_and_problem) {
    for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++) {
        const hostile_case *c = &hostile[i];
        const char *p = path_in("hostile.safetensors");
        write_raw(p, c->hl, c->header, c->data_len);
        st_file f;
        int rc = st_open(&f, p);
        cr_assert_eq(rc, SF_ERR, "case '%s' was accepted", c->what);
        cr_assert(strstr(sf_last_error(), "hostile.safetensors"), "case '%s': %s", c->what,
                  sf_last_error());
        cr_assert(strstr(sf_last_error(), c->expect), "case '%s': message '%s' lacks '%s'", c->what,
                  sf_last_error(), c->expect);
    }
}

Test(safetensors, short_files_and_deep_nesting_are_refused) {
    const char *p = path_in("short.safetensors");
    for (int n = 0; n < 8; n++) {
        FILE *f = fopen(p, "wb");
        for (int i = 0; i < n; i++) fputc(0, f);
        fclose(f);
        st_file st;
        cr_assert_eq(st_open(&st, p), SF_ERR);
        cr_assert(strstr(sf_last_error(), "too short"), "%s", sf_last_error());
    }
    /* 100000 nested arrays inside a tensor entry: the parser's nesting limit, no stack
     * overflow. */
    size_t depth = 100000;
    char *h = xmalloc(2 * depth + 16);
    size_t n = 0;
    n += (size_t)sprintf(h, "{\"t\":");
    memset(h + n, '[', depth);
    n += depth;
    memset(h + n, ']', depth);
    n += depth;
    h[n++] = '}';
    h[n] = 0;
    write_raw(p, (uint64_t)-1, h, 0);
    free(h);
    st_file st;
    cr_assert_eq(st_open(&st, p), SF_ERR);
    cr_assert(strstr(sf_last_error(), "short.safetensors"), "%s", sf_last_error());
}

/* A valid file of several tensors and metadata, as bytes. */
static uint8_t *valid_file(size_t *len) {
    static float a[3 * 4], b[7];
    static int64_t nbt = 3;
    for (int i = 0; i < 12; i++) a[i] = (float)i - 5.5f;
    for (int i = 0; i < 7; i++) b[i] = (float)i * 0.25f;
    st_writer w;
    st_writer_init(&w);
    st_writer_meta(&w, "format", "sfnet-1");
    st_writer_meta(&w, "targets", "oh_p50");
    st_writer_add(&w, "conv1.weight", ST_F32, 2, (int64_t[]){3, 4}, a);
    st_writer_add(&w, "bn1.num_batches_tracked", ST_I64, 0, NULL, &nbt);
    st_writer_add(&w, "fc.bias", ST_F32, 1, (int64_t[]){7}, b);
    st_writer_add(&w, "half", ST_F16, 1, (int64_t[]){2}, b);
    const char *p = path_in("fuzz.safetensors");
    cr_assert_eq(st_writer_save(&w, p), SF_OK);
    st_writer_free(&w);
    char *buf;
    cr_assert_eq(sf_read_file(p, &buf, len), SF_OK);
    return (uint8_t *)buf;
}

Test(safetensors, fuzzed_files_never_crash) {
    size_t len;
    uint8_t *good = valid_file(&len);
    sf_rng r;
    sf_rng_seed(&r, 2025);
    int accepted = 0, refused = 0;
    for (int it = 0; it < 3000; it++) {
        size_t n = len;
        uint8_t *buf = xmalloc(len + 1);
        memcpy(buf, good, len);
        int kind = (int)sf_rng_below(&r, 4);
        if (kind == 0) {
            n = sf_rng_below(&r, (uint32_t)len); /* truncation */
        } else {
            int flips = 1 + (int)sf_rng_below(&r, 4);
            for (int k = 0; k < flips; k++) {
                /* mostly in the length and header, where parsing happens */
                size_t at = kind == 3 ? sf_rng_below(&r, (uint32_t)len)
                                      : sf_rng_below(&r, (uint32_t)(len - 28));
                if (kind == 1) buf[at] ^= (uint8_t)(1u << sf_rng_below(&r, 8));
                else buf[at] = (uint8_t)sf_rng_below(&r, 256);
            }
        }
        st_file f;
        if (st_parse(&f, "fuzz", buf, n) == SF_OK) {
            accepted++;
            for (int t = 0; t < f.n_tensors; t++) {
                float *v = xmalloc(f.tensors[t].numel * sizeof(float) + 1);
                cr_assert_eq(st_read_f32(&f, &f.tensors[t], v, f.tensors[t].numel), SF_OK);
                free(v);
            }
            st_close(&f);
        } else {
            refused++;
            cr_assert(strncmp(sf_last_error(), "fuzz: ", 6) == 0, "%s", sf_last_error());
        }
    }
    free(good);
    cr_assert_gt(refused, 1000);
    cr_assert_gt(accepted, 10, "flips in tensor data must still load");
}
