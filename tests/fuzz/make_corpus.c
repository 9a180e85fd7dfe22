/* make_corpus.c: writes the seed corpus of the fuzz harnesses into
 * tests/fuzz/corpus/NAME/ (`make fuzz-corpus`; the seeds are committed). Each seed
 * is small and made here, by the libraries the project reads them with: catalogues
 * (presets, quoting, BOM, CRLF, missing values), PNGs (RGB, grey, palette, alpha,
 * 16-bit, interlaced), JPEGs (baseline, grey, progressive, CMYK), safetensors files
 * (every dtype, metadata), a run database with two runs, labels and marks (page
 * size 512, so that the fuzzer mutates a few KB), and terminal replies. */
#include <stdio.h> /* before jpeglib.h, which uses FILE and size_t */
#include <stdlib.h>

#include <jpeglib.h>
#include <math.h>
#include <png.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data_image.h"
#include "safetensors.h"
#include "sf_util.h"
#include "store.h"

static const char *root;

static void put(const char *dir, const char *name, const void *data, size_t n) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", root, dir);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/%s/%s", root, dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "make_corpus: cannot write %s\n", path);
        exit(1);
    }
}

static void put_text(const char *dir, const char *name, const char *text) {
    put(dir, name, text, strlen(text));
}

static void put_file(const char *dir, const char *name, const char *src) {
    char *d;
    size_t n;
    if (sf_read_file(src, &d, &n) != SF_OK) {
        fprintf(stderr, "make_corpus: %s\n", sf_last_error());
        exit(1);
    }
    put(dir, name, d, n);
    free(d);
}

/* ---- catalogues ---- */

static void catalogues(void) {
    put_text("catalog", "metallicity.csv",
             "objID,ra,dec,z,oh_p50,lgm_tot_p50,sfr_tot_p50\n"
             "1237648704043942146,150.1,2.2,0.05,8.88,10.1,0.5\n"
             "1237667292122513532,151.0,2.5,0.07,8.95,10.4,-0.2\n"
             "1237662199888150750,152.3,-1.0,0.11,-9999,9.9,NaN\n");
    put_text("catalog", "bpt_lines.csv",
             "objID,nii_6584_flux,nii_6584_flux_err,h_alpha_flux,h_alpha_flux_err,"
             "oiii_5007_flux,oiii_5007_flux_err,h_beta_flux,h_beta_flux_err,bptclass\n"
             "1,100,10,1000,10,50,5,300,10,1\n"
             "2,-50,-2,1000,10,50,5,300,10,4\n"
             "3,100,0,2e5,10,15,5,300,10,-1\n");
    put_text("catalog", "quoted.csv",
             "\xEF\xBB\xBF\"objID\",\"a,b\",c\r\n"
             "\"x\"\"1\",\"1e300\",\" 2 \"\r\n"
             "\r\n"
             "\"line\nbreak\",,-4e38\r\n");
    put_text("catalog", "columns.csv", "c,objID,b\n1.5,7,inf\n-0,8,1e-50\n");
}

/* ---- images ---- */

static void pattern(uint8_t *rgb, int w, int h) {
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *p = rgb + 3 * ((size_t)y * w + x);
            p[0] = (uint8_t)(x * 29), p[1] = (uint8_t)(y * 37), p[2] = (uint8_t)((x ^ y) * 11);
        }
}

static void png_to(const char *name, int w, int h, int color, int depth, int interlace) {
    char path[1024];
    snprintf(path, sizeof path, "%s/tmp.png", root);
    FILE *f = fopen(path, "wb");
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    if (!f || !png || !info || setjmp(png_jmpbuf(png))) exit(1);
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, depth, color, interlace,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_color pal[4] = {{0, 0, 0}, {255, 0, 0}, {0, 255, 0}, {0, 0, 255}};
    if (color == PNG_COLOR_TYPE_PALETTE) {
        png_set_PLTE(png, info, pal, 4);
        png_byte alpha[2] = {0, 128};
        png_set_tRNS(png, info, alpha, 2, NULL);
    }
    png_write_info(png, info);
    int channels = color == PNG_COLOR_TYPE_RGB         ? 3
                   : color == PNG_COLOR_TYPE_RGB_ALPHA ? 4
                   : color == PNG_COLOR_TYPE_GA        ? 2
                                                       : 1;
    size_t row_bytes = ((size_t)w * channels * depth + 7) / 8;
    uint8_t *row = calloc(row_bytes, 1);
    int passes = png_set_interlace_handling(png);
    for (int pass = 0; pass < passes; pass++)
        for (int y = 0; y < h; y++) {
            for (size_t i = 0; i < row_bytes; i++)
                row[i] = (uint8_t)(color == PNG_COLOR_TYPE_PALETTE ? (i + y) % 4 : i * 13 + y * 7);
            png_write_row(png, row);
        }
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(row);
    fclose(f);
    put_file("png", name, path);
    unlink(path);
}

static void jpeg_to(const char *name, int w, int h, J_COLOR_SPACE in, int progressive) {
    char path[1024];
    snprintf(path, sizeof path, "%s/tmp.jpg", root);
    FILE *f = fopen(path, "wb");
    if (!f) exit(1);
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr err;
    c.err = jpeg_std_error(&err);
    jpeg_create_compress(&c);
    jpeg_stdio_dest(&c, f);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = in == JCS_GRAYSCALE ? 1 : in == JCS_CMYK ? 4 : 3;
    c.in_color_space = in;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 75, TRUE);
    if (progressive) jpeg_simple_progression(&c);
    jpeg_start_compress(&c, TRUE);
    uint8_t *row = malloc((size_t)w * 4);
    while (c.next_scanline < c.image_height) {
        for (int i = 0; i < w * c.input_components; i++)
            row[i] = (uint8_t)(i * 17 + c.next_scanline * 5);
        JSAMPROW r = row;
        jpeg_write_scanlines(&c, &r, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    free(row);
    fclose(f);
    put_file("jpeg", name, path);
    unlink(path);
}

static void images(void) {
    png_to("rgb.png", 12, 9, PNG_COLOR_TYPE_RGB, 8, PNG_INTERLACE_NONE);
    png_to("gray.png", 7, 5, PNG_COLOR_TYPE_GRAY, 8, PNG_INTERLACE_NONE);
    png_to("gray2.png", 9, 4, PNG_COLOR_TYPE_GRAY, 2, PNG_INTERLACE_NONE);
    png_to("palette.png", 8, 8, PNG_COLOR_TYPE_PALETTE, 2, PNG_INTERLACE_NONE);
    png_to("rgba16.png", 5, 6, PNG_COLOR_TYPE_RGB_ALPHA, 16, PNG_INTERLACE_NONE);
    png_to("interlaced.png", 10, 10, PNG_COLOR_TYPE_GA, 8, PNG_INTERLACE_ADAM7);
    jpeg_to("baseline.jpg", 16, 12, JCS_RGB, 0);
    jpeg_to("gray.jpg", 9, 7, JCS_GRAYSCALE, 0);
    jpeg_to("progressive.jpg", 17, 9, JCS_RGB, 1);
    jpeg_to("cmyk.jpg", 8, 8, JCS_CMYK, 0);
    uint8_t rgb[20 * 20 * 3], *thumb = NULL;
    size_t len = 0;
    pattern(rgb, 20, 20);
    if (image_encode_jpeg(rgb, 20, 20, 80, &thumb, &len) != SF_OK) exit(1);
    put("jpeg", "thumbnail.jpg", thumb, len);
    free(thumb);
}

/* ---- safetensors ---- */

static void safetensors(void) {
    char path[1024];
    snprintf(path, sizeof path, "%s/tmp.safetensors", root);
    float w[6] = {0.5f, -1, 2, 3.25f, 1e-3f, -7};
    uint16_t half[4] = {0x3c00, 0xc000, 0x7bff, 0x0001};
    double dbl[2] = {1.5, -2.25};
    int64_t i64[1] = {42};
    uint8_t u8[3] = {1, 2, 255};
    int64_t s23[2] = {2, 3}, s4[1] = {4}, s2[1] = {2}, s1[1] = {1}, s3[1] = {3};
    st_writer wr;
    st_writer_init(&wr);
    st_writer_add(&wr, "fc.weight", ST_F32, 2, s23, w);
    st_writer_add(&wr, "half", ST_F16, 1, s4, half);
    st_writer_add(&wr, "bf", ST_BF16, 1, s4, half);
    st_writer_add(&wr, "double", ST_F64, 1, s2, dbl);
    st_writer_add(&wr, "bn1.num_batches_tracked", ST_I64, 1, s1, i64);
    st_writer_add(&wr, "bytes", ST_U8, 1, s3, u8);
    st_writer_add(&wr, "scalar", ST_F32, 0, s1, w);
    st_writer_meta(&wr, "format", "sfnet-explore-1");
    st_writer_meta(&wr, "targets", "oh_p50");
    if (st_writer_save(&wr, path) != SF_OK) exit(1);
    st_writer_free(&wr);
    put_file("safetensors", "dtypes.safetensors", path);
    st_writer_init(&wr);
    if (st_writer_save(&wr, path) != SF_OK) exit(1);
    st_writer_free(&wr);
    put_file("safetensors", "empty.safetensors", path);
    unlink(path);
}

/* ---- a run database ---- */

static void add_run(store *s, const char *prefix, int n, int d, int k, int n_out, int seed) {
    store_run_input in;
    memset(&in, 0, sizeof in);
    store_run *r = &in.run;
    snprintf(r->prefix, sizeof r->prefix, "%s", prefix);
    snprintf(r->target_spec, sizeof r->target_spec, "%s", n_out == 1 ? "metallicity" : "a,b");
    r->n_out = n_out;
    r->d = d;
    r->k = k;
    r->width = d / 8;
    r->seed = (uint64_t)seed;
    r->split_seed = 256;
    for (int t = 0; t < n_out; t++) {
        snprintf(r->target_names[t], sizeof r->target_names[t], "%s", t ? "b" : "oh_p50");
        r->target_std[t] = 0.2;
        r->target_mean[t] = 8.9;
        r->train_rmse_t[t] = r->valid_rmse_t[t] = NAN;
    }
    r->train_rmse = r->valid_rmse = NAN;
    r->hyper_json = "{\"epochs\":1,\"lr\":0.01}";
    snprintf(r->engine, sizeof r->engine, "reference");
    for (int c = 0; c < 3; c++) r->image_mean[c] = 0.2f, r->image_std[c] = 0.1f;
    float *head = calloc((size_t)n_out * d, sizeof *head);
    for (int i = 0; i < n_out * d; i++) head[i] = (float)((i * 7) % 5) - 2;
    in.head_w = head;
    uint8_t weights[64];
    memset(weights, 0, sizeof weights);
    in.weights = weights;
    in.weights_len = sizeof weights;
    const char *cols[] = {"oh_p50", "z"};
    in.n_columns = 2;
    in.column_names = cols;
    store_galaxy_input *g = calloc((size_t)n, sizeof *g);
    char(*ids)[24] = calloc((size_t)n, sizeof *ids);
    double *values = calloc((size_t)n * 2, sizeof *values);
    uint8_t *split = calloc((size_t)n, 1);
    float *pred = calloc((size_t)n * n_out, sizeof *pred),
          *truth = calloc((size_t)n * n_out, sizeof *truth);
    int *idx = calloc((size_t)n * k, sizeof *idx);
    float *val = calloc((size_t)n * k, sizeof *val);
    uint8_t rgb[8 * 8 * 3], *thumb = NULL;
    size_t thumb_len = 0;
    pattern(rgb, 8, 8);
    image_encode_jpeg(rgb, 8, 8, 50, &thumb, &thumb_len);
    for (int i = 0; i < n; i++) {
        snprintf(ids[i], sizeof ids[i], "12376487040439%05d", i);
        g[i].objid = ids[i];
        g[i].ra = 150 + i, g[i].dec = i % 2 ? NAN : -1.0 * i;
        values[2 * i] = 8.5 + 0.1 * i, values[2 * i + 1] = i == 2 ? NAN : 0.01 * i;
        g[i].values = values + 2 * i;
        if (i < 2) {
            g[i].thumb = thumb, g[i].thumb_len = thumb_len, g[i].thumb_w = 8, g[i].thumb_h = 8;
            g[i].thumb_format = "jpeg";
        }
        split[i] = i % 3 == 0;
        for (int t = 0; t < n_out; t++)
            pred[i * n_out + t] = 8.7f + 0.01f * i, truth[i * n_out + t] = 8.8f;
        for (int j = 0; j < k; j++)
            idx[i * k + j] = (i + 3 * j) % d,
                        val[i * k + j] = j == k - 1 && i % 2 ? 0 : 1.5f - 0.1f * j;
    }
    in.n = n;
    in.galaxies = g;
    in.split = split;
    in.pred = pred;
    in.truth = truth;
    in.k_stored = k;
    in.topk_idx = idx;
    in.topk_val = val;
    int64_t id = 0;
    if (store_add_run(s, &in, &id) != SF_OK) {
        fprintf(stderr, "make_corpus: %s\n", sf_last_error());
        exit(1);
    }
    store_feature_label(s, id, idx[0], "bright \x1b[1mbulge\x1b[0m", "a note");
    store_mark_add(s, id, idx[0], 0, "look", NULL);
    free(head), free(g), free(ids), free(values), free(split), free(pred), free(truth), free(idx),
        free(val), free(thumb);
}

static void database(void) {
    char path[1024], small[1100];
    snprintf(path, sizeof path, "%s/tmp.db", root);
    unlink(path);
    store *s = NULL;
    if (store_open(&s, path, STORE_CREATE) != SF_OK) {
        fprintf(stderr, "make_corpus: %s\n", sf_last_error());
        exit(1);
    }
    add_run(s, "Z", 6, 16, 2, 1, 1);
    add_run(s, "SL", 4, 8, 3, 2, 2);
    store_close(s);
    /* a copy in rollback mode with 512-byte pages: the fuzzer's mutations then fall on
     * a few KB of b-tree pages rather than on 4 KB of free space per table */
    snprintf(small, sizeof small, "%s/small.db", root);
    unlink(small);
    sqlite3 *db = NULL;
    char sql[2400];
    snprintf(sql, sizeof sql, "VACUUM INTO '%s'", small);
    if (sqlite3_open(path, &db) != SQLITE_OK ||
        sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
        exit(1);
    sqlite3_close(db);
    if (sqlite3_open(small, &db) != SQLITE_OK ||
        sqlite3_exec(db, "PRAGMA journal_mode = DELETE; PRAGMA page_size = 512; VACUUM", NULL, NULL,
                     NULL) != SQLITE_OK)
        exit(1);
    sqlite3_close(db);
    put_file("store", "two_runs.db", small);
    unlink(small);
    unlink(path);
}

/* ---- terminal replies ---- */

static void replies(void) {
    put_text("probe", "xterm_vt340", "\x1b[6;17;8t\x1b[4;408;640t\x1b[?63;1;2;4;6;9;15;22c");
    put_text("probe", "kitty", "\x1b_Gi=31;OK\x1b\\\x1b[6;20;10t\x1b[4;800;1200t\x1b[?62;c");
    put_text("probe", "vte", "\x1b[?65;1;9c");
    put_text("probe", "noise",
             "a\x1b[A\x1b]11;rgb:0000/0000/0000\x07\x1bOP\x1b_Gi=1;ENOENT\x1b\\\x1b[?1;2c");
    put_text("probe", "cut", "\x1b[6;17;8t\x1b[?6");
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: make_corpus DIR (tests/fuzz/corpus)\n");
        return 2;
    }
    root = argv[1];
    mkdir(root, 0755);
    catalogues();
    images();
    safetensors();
    database();
    replies();
    return 0;
}
