/* Tests of the data set: joining rows and images (PNG and JPEG), skipped missing
 * and corrupt images, refused objIDs, the split, normalisation, dihedral flips, the
 * cache file (reuse, stale rebuild, foreign file), and the real 400-galaxy sample. */
#include <math.h>
#include <sys/time.h>

#include "data_fixture.h"
#include "data_image.h"

TestSuite(dataset, .init = fx_make_dir, .fini = fx_remove_dir);

static void assert_contains(const char *hay, const char *needle) {
    cr_assert(strstr(hay, needle) != NULL, "expected '%s' in: %s", needle, hay);
}

#define FX_SIZE 12 /* fixture images are 12 x 12; resize 12 keeps them as they are */

static void fx_id(char *out, size_t n, int i) { snprintf(out, n, "12376487040439%05d", i); }

/* Galaxy i's image: an asymmetric pattern whose colour depends on i. */
static uint8_t *fx_galaxy(int i) {
    uint8_t *p = malloc(FX_SIZE * FX_SIZE * 3);
    for (int y = 0; y < FX_SIZE; y++)
        for (int x = 0; x < FX_SIZE; x++)
            for (int c = 0; c < 3; c++)
                p[(y * FX_SIZE + x) * 3 + c] = (uint8_t)((i * 37 + c * 60 + x * 9 + y * y) % 256);
    return p;
}

/* Writes galaxies.csv (objID, oh_p50 = 8 + i / 100) and images/<objID>.png for
 * n galaxies (every third one a JPEG at quality 100). */
static void fx_survey(int n) {
    mkdir(fx_path("images"), 0755);
    size_t cap = 64 + (size_t)n * 64;
    char *csv = malloc(cap);
    size_t used = (size_t)snprintf(csv, cap, "objID,oh_p50\n");
    for (int i = 0; i < n; i++) {
        char id[32], rel[64];
        fx_id(id, sizeof id, i);
        used += (size_t)snprintf(csv + used, cap - used, "%s,%.2f\n", id, 8 + i / 100.0);
        uint8_t *img = fx_galaxy(i);
        if (i % 3 == 2) {
            snprintf(rel, sizeof rel, "images/%s.jpg", id);
            fx_write_jpeg(fx_path(rel), img, FX_SIZE, FX_SIZE, 100);
        } else {
            snprintf(rel, sizeof rel, "images/%s.png", id);
            fx_write_png(fx_path(rel), img, FX_SIZE, FX_SIZE);
        }
        free(img);
    }
    fx_write_text(fx_path("galaxies.csv"), csv);
    free(csv);
}

/* Paths the options point at, which must outlive fx_path's rotating buffers. */
static char opt_csv[512], opt_images[512], opt_cache[512];

static dataset_options fx_options(void) {
    dataset_options o;
    dataset_options_default(&o);
    snprintf(opt_csv, sizeof opt_csv, "%s", fx_path("galaxies.csv"));
    snprintf(opt_images, sizeof opt_images, "%s", fx_path("images"));
    snprintf(opt_cache, sizeof opt_cache, "%s", fx_path("pixels.sfcache"));
    o.catalog_path = opt_csv;
    o.images_dir = opt_images;
    o.resize = FX_SIZE;
    o.crop = FX_SIZE;
    o.quiet = 1;
    return o;
}

static void open_ok(dataset *ds, const dataset_options *o) {
    cr_assert_eq(dataset_open(ds, o), SF_OK, "%s", sf_last_error());
}

Test(dataset, joins_png_and_jpeg_images) {
    fx_survey(9);
    dataset_options o = fx_options();
    dataset ds;
    open_ok(&ds, &o);
    cr_assert_eq(ds.n, 9);
    cr_assert_eq(ds.size, FX_SIZE);
    cr_assert_eq(ds.n_missing, 0);
    cr_assert_eq(ds.n_corrupt, 0);
    cr_assert_eq(ds.n_decoded, 9);
    cr_assert_eq(ds.pixels_mapped, 0, "a small set stays in RAM");
    for (int i = 0; i < 9; i++) {
        char id[32];
        fx_id(id, sizeof id, i);
        cr_assert_str_eq(dataset_obj_id(&ds, i), id);
        cr_assert_float_eq(ds.y[i], 8 + i / 100.0, 1e-5);
        /* PNG: the pixels written; JPEG: exactly what the decoder gives for the file
         * (identity resize). */
        uint8_t *img = fx_galaxy(i);
        if (i % 3 == 2) {
            char rel[64];
            int w, h;
            snprintf(rel, sizeof rel, "images/%s.jpg", id);
            free(img);
            cr_assert_eq(image_decode(fx_path(rel), &img, &w, &h), SF_OK);
        }
        const uint8_t *px = ds.pixels + (size_t)i * 3 * FX_SIZE * FX_SIZE;
        for (int c = 0; c < 3; c++)
            for (int k = 0; k < FX_SIZE * FX_SIZE; k++)
                cr_assert_eq(px[c * FX_SIZE * FX_SIZE + k], img[k * 3 + c], "galaxy %d c%d k%d", i,
                             c, k);
        free(img);
    }
    dataset_close(&ds);
}

Test(dataset, missing_and_corrupt_images_are_skipped_counted_and_named) {
    fx_survey(12);
    char id[32], src[64], dst[64];
    /* 3, 5, 7, 9: no image; 4 (PNG) and 8 (JPEG): truncated; 10 (PNG): garbage. */
    int gone[] = {3, 5, 7, 9};
    for (int k = 0; k < 4; k++) {
        fx_id(id, sizeof id, gone[k]);
        snprintf(src, sizeof src, "images/%s.%s", id, gone[k] % 3 == 2 ? "jpg" : "png");
        cr_assert_eq(unlink(fx_path(src)), 0);
    }
    fx_id(id, sizeof id, 4);
    snprintf(src, sizeof src, "images/%s.png", id);
    snprintf(dst, sizeof dst, "cut.png");
    fx_truncate_copy(fx_path(src), fx_path(dst), 60);
    rename(fx_path(dst), fx_path(src));
    fx_id(id, sizeof id, 8);
    snprintf(src, sizeof src, "images/%s.jpg", id);
    fx_truncate_copy(fx_path(src), fx_path("cut.jpg"), 300);
    rename(fx_path("cut.jpg"), fx_path(src));
    fx_id(id, sizeof id, 10);
    snprintf(src, sizeof src, "images/%s.png", id);
    fx_write_text(fx_path(src), "\x89PNG\r\n\x1a\nnot really a png at all");

    dataset_options o = fx_options();
    dataset ds;
    fx_capture_begin();
    int rc = dataset_open(&ds, &o);
    char *err = fx_capture_end();
    cr_assert_eq(rc, SF_OK, "%s", sf_last_error());
    cr_assert_eq(ds.n, 5);
    cr_assert_eq(ds.n_missing, 4);
    cr_assert_eq(ds.n_corrupt, 3);
    int kept[] = {0, 1, 2, 6, 11};
    for (int i = 0; i < 5; i++) {
        fx_id(id, sizeof id, kept[i]);
        cr_assert_str_eq(dataset_obj_id(&ds, i), id);
        cr_assert_float_eq(ds.y[i], 8 + kept[i] / 100.0, 1e-5);
    }
    for (int k = 0; k < 3; k++) {
        fx_id(id, sizeof id, gone[k]);
        cr_assert_str_eq(ds.first_missing[k], id);
    }
    /* The warnings: the first missing objIDs named, each corrupt file named. */
    fx_id(id, sizeof id, 3);
    assert_contains(err, "4 of 12 galaxies have no image");
    assert_contains(err, id);
    fx_id(id, sizeof id, 4);
    assert_contains(err, id);
    assert_contains(err, "corrupt PNG");
    fx_id(id, sizeof id, 8);
    assert_contains(err, id);
    assert_contains(err, "corrupt JPEG");
    assert_contains(err, "3 corrupt images skipped");
    free(err);
    dataset_close(&ds);
}

Test(dataset, objids_that_are_not_file_names_are_refused) {
    fx_survey(2);
    mkdir(fx_path("images"), 0755);
    const char *bad[] = {"../galaxies", "sub/1", ".."};
    for (int k = 0; k < 3; k++) {
        char csv[256];
        snprintf(csv, sizeof csv, "objID,oh_p50\n1237648704043900000,8.9\n%s,9.0\n", bad[k]);
        fx_write_text(fx_path("galaxies.csv"), csv);
        dataset_options o = fx_options();
        dataset ds;
        cr_assert_eq(dataset_open(&ds, &o), SF_ERR);
        char want[600];
        snprintf(want, sizeof want, "galaxies.csv:3: objID '%s' is not a plain file name", bad[k]);
        assert_contains(sf_last_error(), want);
        cr_assert_null(ds.pixels);
    }
}

Test(dataset, no_usable_galaxies_is_a_clear_error) {
    fx_survey(3);
    for (int i = 0; i < 3; i++) {
        char id[32], rel[64];
        fx_id(id, sizeof id, i);
        snprintf(rel, sizeof rel, "images/%s.%s", id, i % 3 == 2 ? "jpg" : "png");
        unlink(fx_path(rel));
    }
    dataset_options o = fx_options();
    dataset ds;
    fx_capture_begin();
    int rc = dataset_open(&ds, &o);
    free(fx_capture_end());
    cr_assert_eq(rc, SF_ERR);
    assert_contains(sf_last_error(), "no usable galaxies");
    assert_contains(sf_last_error(), "3 have no image");

    fx_write_text(fx_path("galaxies.csv"), "");
    cr_assert_eq(dataset_open(&ds, &o), SF_ERR);
    assert_contains(sf_last_error(), "empty file");
    fx_write_text(fx_path("galaxies.csv"), "objID,oh_p50\n");
    cr_assert_eq(dataset_open(&ds, &o), SF_ERR);
    assert_contains(sf_last_error(), "no galaxies");
    fx_write_text(fx_path("galaxies.csv"), "objID,oh_p50\n1,-9999\n2,NaN\n");
    cr_assert_eq(dataset_open(&ds, &o), SF_ERR);
    assert_contains(sf_last_error(), "no usable rows");
    fx_write_text(fx_path("galaxies.csv"), "objID,oh_p50\n1,8\n2,\"9\n");
    cr_assert_eq(dataset_open(&ds, &o), SF_ERR);
    assert_contains(sf_last_error(), "galaxies.csv:3: unterminated quoted field");
}

Test(dataset, split_is_seeded_80_20_and_disjoint) {
    fx_survey(50);
    dataset_options o = fx_options();
    dataset a, b, c;
    open_ok(&a, &o);
    open_ok(&b, &o);
    o.seed = 7;
    open_ok(&c, &o);
    cr_assert_eq(a.n_valid, 10);
    cr_assert_eq(a.n_train, 40);
    cr_assert_arr_eq(a.split, b.split, 50);
    cr_assert_arr_eq(a.valid_idx, b.valid_idx, 10 * sizeof(int));
    cr_assert(memcmp(a.split, c.split, 50) != 0, "another seed, another split");
    int seen[50] = {0};
    for (int i = 0; i < a.n_train; i++) {
        seen[a.train_idx[i]]++;
        cr_assert_eq(a.split[a.train_idx[i]], SPLIT_TRAIN);
        if (i) cr_assert_gt(a.train_idx[i], a.train_idx[i - 1]);
    }
    for (int i = 0; i < a.n_valid; i++) {
        seen[a.valid_idx[i]]++;
        cr_assert_eq(a.split[a.valid_idx[i]], SPLIT_VALID);
    }
    for (int i = 0; i < 50; i++) cr_assert_eq(seen[i], 1);
    dataset_close(&a);
    dataset_close(&b);
    dataset_close(&c);
}

Test(dataset, normalisation_comes_from_training_pixels) {
    fx_survey(20);
    dataset_options o = fx_options();
    dataset ds;
    open_ok(&ds, &o);
    size_t plane = FX_SIZE * FX_SIZE;
    for (int c = 0; c < 3; c++) {
        double s = 0, q = 0, n = 0;
        for (int t = 0; t < ds.n_train; t++)
            for (size_t k = 0; k < plane; k++) {
                double v = ds.pixels[((size_t)ds.train_idx[t] * 3 + c) * plane + k] / 255.0;
                s += v, q += v * v, n++;
            }
        double mean = s / n, sd = sqrt(q / n - mean * mean);
        cr_assert_float_eq(ds.mean[c], mean, 1e-6);
        cr_assert_float_eq(ds.std[c], sd, 1e-6);
    }
    /* Valid images change nothing: another seed moves images between the sets and
     * the statistics with them. */
    o.seed = 99;
    dataset other;
    open_ok(&other, &o);
    cr_assert(fabsf(other.mean[0] - ds.mean[0]) > 1e-7);
    dataset_close(&other);

    int idx[3] = {4, 0, 19};
    float *x = malloc(3 * 3 * plane * sizeof(float)), y[3];
    dataset_batch(&ds, idx, 3, x, y, NULL);
    for (int b = 0; b < 3; b++) {
        cr_assert_float_eq(y[b], ds.y[idx[b]], 0);
        for (int c = 0; c < 3; c++)
            for (size_t k = 0; k < plane; k++) {
                float v = ds.pixels[((size_t)idx[b] * 3 + c) * plane + k] / 255.0f;
                cr_assert_float_eq(x[((size_t)b * 3 + c) * plane + k], (v - ds.mean[c]) / ds.std[c],
                                   1e-5);
            }
    }
    free(x);
    dataset_close(&ds);
}

/* The 8 symmetries of the square, written as rotations and a mirror. */
static void rotate90(float *dst, const float *src, int S) {
    for (int i = 0; i < S; i++)
        for (int j = 0; j < S; j++) dst[j * S + (S - 1 - i)] = src[i * S + j];
}
static void mirror(float *dst, const float *src, int S) {
    for (int i = 0; i < S; i++)
        for (int j = 0; j < S; j++) dst[i * S + (S - 1 - j)] = src[i * S + j];
}

Test(dataset, flips_are_the_eight_dihedral_transforms) {
    fx_survey(6);
    dataset_options o = fx_options();
    dataset ds;
    open_ok(&ds, &o);
    int S = FX_SIZE;
    size_t plane = (size_t)S * S;
    float *plain = malloc(3 * plane * sizeof(float));
    float *cand = malloc(8 * 3 * plane * sizeof(float));
    int B = 32, idx[32], hits[8] = {0};
    for (int b = 0; b < B; b++) idx[b] = 1;
    int one = 1;
    dataset_batch(&ds, &one, 1, plain, NULL, NULL);
    for (int c = 0; c < 3; c++) {
        float *t0 = cand + c * plane;
        memcpy(t0, plain + c * plane, plane * sizeof(float));
        for (int r = 1; r < 4; r++)
            rotate90(cand + ((size_t)r * 3 + c) * plane, cand + ((size_t)(r - 1) * 3 + c) * plane,
                     S);
        for (int r = 0; r < 4; r++)
            mirror(cand + ((size_t)(r + 4) * 3 + c) * plane, cand + ((size_t)r * 3 + c) * plane, S);
    }
    for (int t = 1; t < 8; t++)
        cr_assert(memcmp(cand, cand + (size_t)t * 3 * plane, 3 * plane * sizeof(float)),
                  "the fixture image has no symmetry");
    float *x = malloc((size_t)B * 3 * plane * sizeof(float));
    float *x2 = malloc((size_t)B * 3 * plane * sizeof(float));
    sf_rng rng, rng2;
    sf_rng_seed(&rng, 5);
    sf_rng_seed(&rng2, 5);
    for (int round = 0; round < 4; round++) {
        dataset_batch(&ds, idx, B, x, NULL, &rng);
        dataset_batch(&ds, idx, B, x2, NULL, &rng2);
        cr_assert_arr_eq(x, x2, (size_t)B * 3 * plane * sizeof(float), "same seed, same flips");
        for (int b = 0; b < B; b++) {
            int match = -1;
            for (int t = 0; t < 8 && match < 0; t++)
                if (!memcmp(x + (size_t)b * 3 * plane, cand + (size_t)t * 3 * plane,
                            3 * plane * sizeof(float)))
                    match = t;
            cr_assert_geq(match, 0, "batch image %d is not a symmetry of the square", b);
            hits[match]++;
        }
    }
    for (int t = 0; t < 8; t++) cr_assert_gt(hits[t], 0, "transform %d never drawn", t);
    /* the transforms given: 0 is the identity; bits 0 and 1 mirror without transposing
     * (1, 2, 3 are the candidates 4.., i.e. mirror images and the half turn) */
    uint8_t tr[4] = {0, 1, 2, 3};
    int four[4] = {1, 1, 1, 1};
    dataset_batch_transformed(&ds, four, 4, x, NULL, tr);
    cr_assert_arr_eq(x, plain, 3 * plane * sizeof(float), "transform 0 leaves the image");
    for (int b = 1; b < 4; b++) {
        int match = -1;
        for (int t = 0; t < 8 && match < 0; t++)
            if (!memcmp(x + (size_t)b * 3 * plane, cand + (size_t)t * 3 * plane,
                        3 * plane * sizeof(float)))
                match = t;
        cr_assert(match > 0, "transform %d is a symmetry other than the identity (%d)", tr[b],
                  match);
    }
    dataset_batch_transformed(&ds, four, 1, x2, NULL, NULL);
    cr_assert_arr_eq(x2, plain, 3 * plane * sizeof(float), "no transforms: the image as it is");
    free(plain);
    free(cand);
    free(x);
    free(x2);
    dataset_close(&ds);
}

/* ---- the cache ---- */

Test(dataset, cache_file_is_reused_without_decoding) {
    fx_survey(10);
    dataset_options o = fx_options();
    o.cache_path = opt_cache;
    dataset a, b;
    open_ok(&a, &o);
    cr_assert_eq(a.n_decoded, 10);
    cr_assert_eq(a.from_cache, 0);
    cr_assert_eq(a.pixels_mapped, 1);
    cr_assert_str_eq(a.cache_file, o.cache_path);
    cr_assert_eq(access(o.cache_path, R_OK), 0);
    open_ok(&b, &o);
    cr_assert_eq(b.n_decoded, 0, "the second open decodes nothing");
    cr_assert_eq(b.from_cache, 1);
    cr_assert_eq(b.n, 10);
    cr_assert_arr_eq(a.pixels, b.pixels, (size_t)10 * 3 * FX_SIZE * FX_SIZE);
    cr_assert_arr_eq(a.cat_row, b.cat_row, 10 * sizeof(int));
    cr_assert_arr_eq(a.y, b.y, 10 * sizeof(float));
    cr_assert_arr_eq(a.mean, b.mean, sizeof a.mean);
    dataset_close(&a);
    dataset_close(&b);
}

Test(dataset, cache_file_written_block_by_block_equals_the_images_in_memory) {
    /* more than one block of 512, with missing and corrupt images in both */
    const int n = 1100;
    fx_survey(n);
    const int gone[] = {3, 511, 512, 700, 1099};
    for (size_t k = 0; k < sizeof gone / sizeof *gone; k++) {
        char id[32], rel[64];
        fx_id(id, sizeof id, gone[k]);
        snprintf(rel, sizeof rel, gone[k] % 3 == 2 ? "images/%s.jpg" : "images/%s.png", id);
        if (k % 2) fx_write_text(fx_path(rel), "not an image");
        else unlink(fx_path(rel));
    }
    dataset_options o = fx_options();
    dataset ram, file;
    fx_capture_begin();
    open_ok(&ram, &o);
    o.cache_path = opt_cache;
    open_ok(&file, &o);
    free(fx_capture_end());
    cr_assert_eq(ram.pixels_mapped, 0);
    cr_assert_eq(file.pixels_mapped, 1);
    cr_assert_gt(file.cache_build_seconds, 0);
    cr_assert_eq(file.n, n - 5);
    cr_assert_eq(ram.n, file.n);
    cr_assert_eq(file.n_missing, 3);
    cr_assert_eq(file.n_corrupt, 2);
    cr_assert_arr_eq(ram.cat_row, file.cat_row, (size_t)file.n * sizeof(int));
    cr_assert_arr_eq(ram.pixels, file.pixels, (size_t)file.n * 3 * FX_SIZE * FX_SIZE);
    struct stat st;
    cr_assert_eq(stat(opt_cache, &st), 0);
    cr_assert_eq((size_t)st.st_size,
                 4096 + (size_t)file.n * (3 * FX_SIZE * FX_SIZE + sizeof(int32_t)),
                 "the cache file is cut to the images it holds");
    dataset_close(&ram);
    dataset_close(&file);
}

Test(dataset, cache_keeps_skip_counts) {
    fx_survey(5);
    char id[32], rel[64];
    fx_id(id, sizeof id, 1);
    snprintf(rel, sizeof rel, "images/%s.png", id);
    unlink(fx_path(rel));
    dataset_options o = fx_options();
    o.cache_path = opt_cache;
    dataset a, b;
    fx_capture_begin();
    int rc = dataset_open(&a, &o);
    int rc2 = dataset_open(&b, &o);
    char *err = fx_capture_end();
    cr_assert_eq(rc, SF_OK);
    cr_assert_eq(rc2, SF_OK);
    cr_assert_eq(b.from_cache, 1);
    cr_assert_eq(b.n, 4);
    cr_assert_eq(b.n_missing, 1);
    cr_assert_str_eq(b.first_missing[0], id);
    free(err);
    dataset_close(&a);
    dataset_close(&b);
}

Test(dataset, stale_cache_is_rebuilt) {
    fx_survey(8);
    dataset_options o = fx_options();
    o.cache_path = opt_cache;
    dataset ds;
    open_ok(&ds, &o);
    dataset_close(&ds);

    /* Another crop: the key differs, the cache is rebuilt with a notice. */
    o.crop = 8;
    fx_capture_begin();
    int rc = dataset_open(&ds, &o);
    char *err = fx_capture_end();
    cr_assert_eq(rc, SF_OK, "%s", sf_last_error());
    cr_assert_eq(ds.n_decoded, 8);
    cr_assert_eq(ds.size, 8);
    assert_contains(err, "was made for another --resize/--crop; rebuilding it");
    free(err);
    dataset_close(&ds);

    /* The catalogue rewritten (its mtime moves): rebuilt again. */
    struct timeval tv[2];
    gettimeofday(&tv[0], NULL);
    tv[0].tv_sec += 5;
    tv[1] = tv[0];
    cr_assert_eq(utimes(fx_path("galaxies.csv"), tv), 0);
    fx_capture_begin();
    rc = dataset_open(&ds, &o);
    err = fx_capture_end();
    cr_assert_eq(rc, SF_OK, "%s", sf_last_error());
    cr_assert_eq(ds.n_decoded, 8);
    assert_contains(err, "an earlier version of the catalogue");
    free(err);
    dataset_close(&ds);

    open_ok(&ds, &o);
    cr_assert_eq(ds.n_decoded, 0, "fresh again");
    dataset_close(&ds);

    /* A damaged (cut short) cache file is rebuilt, not trusted. */
    uint8_t *data;
    size_t n = fx_read_bytes(o.cache_path, &data);
    fx_write_bytes(o.cache_path, data, n - 100);
    free(data);
    fx_capture_begin();
    rc = dataset_open(&ds, &o);
    err = fx_capture_end();
    cr_assert_eq(rc, SF_OK, "%s", sf_last_error());
    cr_assert_eq(ds.n_decoded, 8);
    assert_contains(err, "damaged");
    free(err);
    dataset_close(&ds);
}

Test(dataset, foreign_file_at_cache_path_is_left_alone) {
    fx_survey(3);
    dataset_options o = fx_options();
    snprintf(opt_cache, sizeof opt_cache, "%s", fx_path("notes.txt"));
    o.cache_path = opt_cache;
    fx_write_text(o.cache_path, "my precious notes, not a cache\n");
    dataset ds;
    cr_assert_eq(dataset_open(&ds, &o), SF_ERR);
    assert_contains(sf_last_error(), "is not an sfnet-explore image cache; delete it");
    uint8_t *data;
    size_t n = fx_read_bytes(o.cache_path, &data);
    cr_assert_eq(n, strlen("my precious notes, not a cache\n"));
    cr_assert_eq(memcmp(data, "my precious", 11), 0);
    free(data);
}

Test(dataset, large_sets_go_to_an_automatic_cache_file) {
    fx_survey(6);
    dataset_options o = fx_options();
    o.ram_cache_max = 1000; /* bytes: pretend memory is scarce */
    dataset a, b;
    open_ok(&a, &o);
    cr_assert_eq(a.pixels_mapped, 1);
    cr_assert_eq(a.n_decoded, 6);
    cr_assert(strncmp(a.cache_file, fx_dir, strlen(fx_dir)) == 0, "beside the images: %s",
              a.cache_file);
    assert_contains(a.cache_file, ".r12c12.sfcache");
    open_ok(&b, &o);
    cr_assert_eq(b.from_cache, 1);
    cr_assert_str_eq(a.cache_file, b.cache_file);
    dataset_close(&a);
    dataset_close(&b);
}

/* ---- the real sample ---- */

Test(dataset_real, sdss_metallicity_400) {
    char dir[1024];
    FX_SKIP_WITHOUT_SHARED(dir);
    fx_make_dir();
    char csv[1100], images[1100];
    snprintf(csv, sizeof csv, "%s/galaxies.csv", dir);
    snprintf(images, sizeof images, "%s/images", dir);
    dataset_options o;
    dataset_options_default(&o);
    o.catalog_path = csv;
    o.images_dir = images;
    o.quiet = 1;
    dataset ds;
    double t0 = sf_now();
    open_ok(&ds, &o);
    double seconds = sf_now() - t0;
    cr_log_info("loaded and decoded %d galaxies in %.3f s", ds.n, seconds);
    cr_assert_eq(ds.n, 400);
    cr_assert_eq(ds.n_missing, 0);
    cr_assert_eq(ds.n_corrupt, 0);
    cr_assert_eq(ds.size, 144);
    cr_assert_eq(ds.n_train, 320);
    cr_assert_eq(ds.n_valid, 80);
    cr_assert_eq(ds.pixels_mapped, 0);

    /* objIDs in catalogue order, against an independent read of the CSV. */
    FILE *f = fopen(csv, "r");
    cr_assert_not_null(f);
    char line[256];
    cr_assert_not_null(fgets(line, sizeof line, f));
    for (int i = 0; i < 400; i++) {
        cr_assert_not_null(fgets(line, sizeof line, f));
        *strchr(line, ',') = 0;
        cr_assert_str_eq(dataset_obj_id(&ds, i), line, "galaxy %d", i);
    }
    fclose(f);
    double s = 0, q = 0;
    for (int i = 0; i < 400; i++) s += ds.y[i];
    for (int i = 0; i < 400; i++) q += (ds.y[i] - s / 400) * (ds.y[i] - s / 400);
    cr_assert_eq(lround(s / 400 * 1000), 8901);
    cr_assert_eq(lround(sqrt(q / 400) * 1000), 200, "ddof 0");
    cr_assert_eq(lround(sqrt(q / 399) * 1000), 200, "ddof 1");

    /* One tensor against djpeg's decode put through the same resize and crop. */
    int g = 17;
    char jpg[1200], cmd[3000];
    snprintf(jpg, sizeof jpg, "%s/%s.jpg", images, dataset_obj_id(&ds, g));
    snprintf(cmd, sizeof cmd, "djpeg -ppm -outfile '%s' '%s'", fx_path("ref.ppm"), jpg);
    cr_assert_eq(system(cmd), 0, "%s (install libjpeg-turbo-progs)", cmd);
    int w, h;
    uint8_t *ref = fx_read_ppm(fx_path("ref.ppm"), &w, &h);
    cr_assert_eq(w, 128);
    uint8_t *want = malloc(3 * 144 * 144);
    image_prepare(want, ref, w, h, 160, 144);
    cr_assert_arr_eq(ds.pixels + (size_t)g * 3 * 144 * 144, want, 3 * 144 * 144);
    free(ref);
    free(want);

    /* Plausible sky cutouts: dark on average, bright galaxy centres, full range used. */
    for (int c = 0; c < 3; c++) {
        cr_assert(ds.mean[c] > 0.01 && ds.mean[c] < 0.3, "mean[%d] %f", c, ds.mean[c]);
        cr_assert(ds.std[c] > 0.02 && ds.std[c] < 0.3, "std[%d] %f", c, ds.std[c]);
    }
    long centre = 0, corner = 0;
    uint8_t maxv = 0;
    for (int i = 0; i < 400; i++) {
        const uint8_t *p = ds.pixels + (size_t)i * 3 * 144 * 144;
        centre += p[72 * 144 + 72];
        corner += p[0];
        for (int k = 0; k < 3 * 144 * 144; k++) maxv = p[k] > maxv ? p[k] : maxv;
    }
    cr_assert_gt(centre, 3 * corner, "galaxies sit in the middle");
    cr_assert_eq(maxv, 255);

    float *x = malloc(2 * 3 * 144 * 144 * sizeof(float));
    int idx[2] = {0, 399};
    float y[2];
    dataset_batch(&ds, idx, 2, x, y, NULL);
    cr_assert_float_eq(y[1], ds.y[399], 0);
    double xm = 0;
    for (int k = 0; k < 2 * 3 * 144 * 144; k++) xm += x[k];
    cr_assert(fabs(xm / (2 * 3 * 144 * 144)) < 1.0, "normalised pixels near 0: %f", xm);
    free(x);
    dataset_close(&ds);
    fx_remove_dir();
}

/* ---- the inspect command ---- */

#include <cJSON.h>

#include "cli.h"

static char *run_inspect(int argc, char **argv, int *rc) {
    fflush(stdout);
    int saved = dup(1);
    int fd = open(fx_path("stdout.txt"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    cr_assert_geq(fd, 0);
    dup2(fd, 1);
    close(fd);
    fx_capture_begin();
    *rc = cli_inspect(argc, argv);
    free(fx_capture_end());
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    uint8_t *d;
    fx_read_bytes(fx_path("stdout.txt"), &d);
    return (char *)d;
}

Test(dataset, inspect_summarises_as_json_and_text) {
    fx_survey(10);
    char id[32], rel[64];
    fx_id(id, sizeof id, 4);
    snprintf(rel, sizeof rel, "images/%s.png", id);
    unlink(fx_path(rel));
    fx_write_text(fx_path("galaxies.csv"),
                  "objID,oh_p50\n"
                  "1237648704043900000,8.0\n1237648704043900001,8.2\n1237648704043900002,-9999\n"
                  "1237648704043900003,8.4\n1237648704043900004,8.6\n1237648704043900005,8.8\n"
                  "1237648704043900006,9.0\n1237648704043900007,0\n1237648704043900008,9.2\n"
                  "1237648704043900009,9.4\n");
    char csv[512], images[512];
    snprintf(csv, sizeof csv, "%s", fx_path("galaxies.csv"));
    snprintf(images, sizeof images, "%s", fx_path("images"));
    char *argv[] = {"inspect", "--catalog", csv,  "--images", images, "--resize",
                    "12",      "--crop",    "10", "--json",   NULL};
    int rc;
    char *out = run_inspect(10, argv, &rc);
    cr_assert_eq(rc, 0, "%s", out);
    cJSON *j = cJSON_Parse(out);
    cr_assert_not_null(j, "not JSON: %s", out);
    cr_assert_eq(cJSON_GetObjectItem(j, "rows_read")->valueint, 10);
    cr_assert_eq(cJSON_GetObjectItem(j, "rows_kept")->valueint, 8);
    cJSON *cuts = cJSON_GetObjectItem(j, "cuts");
    cr_assert_eq(cJSON_GetArraySize(cuts), 3);
    cr_assert_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(cuts, 0), "removed")->valueint, 1);
    cr_assert_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(cuts, 1), "removed")->valueint, 1);
    cr_assert_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(cuts, 2), "removed")->valueint, 0);
    cJSON *img = cJSON_GetObjectItem(j, "images_found");
    cr_assert_eq(cJSON_GetObjectItem(img, "usable")->valueint, 7);
    cr_assert_eq(cJSON_GetObjectItem(img, "missing")->valueint, 1);
    cr_assert_str_eq(cJSON_GetArrayItem(cJSON_GetObjectItem(img, "first_missing"), 0)->valuestring,
                     "1237648704043900004");
    cJSON *t = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "targets"), 0);
    cr_assert_str_eq(cJSON_GetObjectItem(t, "name")->valuestring, "oh_p50");
    /* 8.0 8.2 8.4 8.8 9.0 9.2 9.4: mean 8.7143, sample std (ddof 1) 0.52735 */
    cr_assert_float_eq(cJSON_GetObjectItem(t, "mean")->valuedouble, 61.0 / 7, 1e-5);
    cr_assert_float_eq(cJSON_GetObjectItem(t, "std")->valuedouble, 0.527347, 1e-5);
    cr_assert_eq(cJSON_GetObjectItem(j, "n_train")->valueint, 6);
    cr_assert_eq(cJSON_GetObjectItem(j, "n_valid")->valueint, 1);
    cr_assert_eq(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "image_shape"), 1)->valueint, 10);
    cJSON_Delete(j);
    free(out);

    char *argv2[] = {"inspect", "--catalog", csv, "--images", images, "-q", NULL};
    out = run_inspect(6, argv2, &rc);
    cr_assert_eq(rc, 0);
    assert_contains(out, "rows read   10");
    assert_contains(out, "found 7, missing 1, corrupt 0");
    assert_contains(out, "train 6, valid 1 (seed 256)");
    free(out);

    char *argv3[] = {"inspect", "--catalog", csv, NULL};
    out = run_inspect(3, argv3, &rc);
    cr_assert_eq(rc, 2);
    free(out);
    char *argv4[] = {"inspect", "--catalog", images, "--images", images, NULL};
    out = run_inspect(5, argv4, &rc);
    cr_assert_eq(rc, 1);
    free(out);
}

/* A target finite as a double but not as a float is cut, and inspect counts it. */
Test(dataset, inspect_counts_targets_beyond_float_range) {
    fx_survey(4);
    fx_write_text(fx_path("galaxies.csv"), "objID,oh_p50\n"
                                           "1237648704043900000,8.0\n1237648704043900001,1e300\n"
                                           "1237648704043900002,8.4\n1237648704043900003,8.6\n");
    char csv[512], images[512];
    snprintf(csv, sizeof csv, "%s", fx_path("galaxies.csv"));
    snprintf(images, sizeof images, "%s", fx_path("images"));
    char *argv[] = {"inspect", "--catalog", csv, "--images", images, "-q", NULL};
    int rc;
    char *out = run_inspect(6, argv, &rc);
    cr_assert_eq(rc, 0, "%s", out);
    assert_contains(out, "cut oh_p50 finite as float32");
    assert_contains(out, "removed       1  kept       3");
    assert_contains(out, "rows kept   3");
    free(out);
}
