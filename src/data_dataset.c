/* data_dataset.c: catalogue rows joined with their decoded cutouts, the cache of
 * decoded pixels (RAM or a memory-mapped file), the split, normalisation and batches.
 * Layer: data. Calls: data_catalog, data_catalog_join, data_fits, data_image, sf_util;
 *     OpenMP.
 * Called by: cli_inspect, cli_predict, cli_train, data_shard, infer_forward, train_loop.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data_image.h"

#define CACHE_MAGIC "SFNETIMG"
#define CACHE_VERSION 1u
#define CACHE_HEADER_BYTES 4096

/* The first CACHE_HEADER_BYTES of a cache file; pixels (n, 3, crop, crop) follow at
 * pixels_offset, then n int32 catalogue rows at rows_offset. Native byte order: a
 * cache is a local artefact, rebuilt rather than moved. */
typedef struct {
    char magic[8];
    uint32_t version;
    uint32_t complete;
    /* key */
    uint64_t catalog_size;
    int64_t catalog_mtime_sec, catalog_mtime_nsec;
    int64_t images_mtime_sec, images_mtime_nsec;
    int32_t resize, crop;
    char catalog_path[1024];
    char images_dir[1024];
    char target_spec[256];
    /* contents */
    int32_t n, n_missing, n_corrupt, reserved;
    uint64_t pixels_offset, rows_offset, file_size;
    char first_missing[3][64];
} cache_header;

_Static_assert(sizeof(cache_header) <= CACHE_HEADER_BYTES, "cache header fits its block");

void dataset_options_default(dataset_options *opt) {
    memset(opt, 0, sizeof *opt);
    opt->target_spec = "metallicity";
    opt->resize = 160;
    opt->crop = 144;
    opt->seed = 256;
    opt->valid_fraction = 0.2;
}

static size_t image_bytes(int crop) { return 3 * (size_t)crop * (size_t)crop; }

/* ---- cache key ---- */

static uint64_t fnv1a(const char *s, uint64_t h) {
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return h;
}

static int cache_key(cache_header *key, const dataset_options *opt, int resize, int crop) {
    memset(key, 0, sizeof *key);
    memcpy(key->magic, CACHE_MAGIC, 8);
    key->version = CACHE_VERSION;
    struct stat st;
    char real[PATH_MAX];
    catalog_sources one = {.n_files = 1, .files = {opt->catalog_path}};
    const catalog_sources *src = opt->sources ? opt->sources : &one;
    if (src->n_files == 1 && !src->join_column && !src->id_column && !strchr(src->files[0], '[')) {
        const char *path = src->files[0];
        if (stat(path, &st) != 0) return sf_fail("%s: %s", path, strerror(errno));
        key->catalog_size = (uint64_t)st.st_size;
        key->catalog_mtime_sec = st.st_mtim.tv_sec;
        key->catalog_mtime_nsec = st.st_mtim.tv_nsec;
        if (!realpath(path, real)) return sf_fail("%s: %s", path, strerror(errno));
        if (snprintf(key->catalog_path, sizeof key->catalog_path, "%s", real) >=
            (int)sizeof key->catalog_path)
            return sf_fail("%s: path too long for the image cache", real);
    } else {
        /* several files, a join or a cfitsio selection: the files' sizes and newest
         * mtime, and the whole description (hashed when it does not fit) */
        if (catalog_sources_stat(src, &key->catalog_size, &key->catalog_mtime_sec,
                                 &key->catalog_mtime_nsec) != SF_OK)
            return SF_ERR;
        char desc[8192];
        size_t used = 0;
        if (!getcwd(real, sizeof real)) real[0] = 0;
        used = (size_t)snprintf(desc, sizeof desc, "[in %s] ", real);
        catalog_sources_describe(src, desc + used, sizeof desc - used);
        if (snprintf(key->catalog_path, sizeof key->catalog_path, "%s", desc) >=
            (int)sizeof key->catalog_path)
            snprintf(key->catalog_path, sizeof key->catalog_path, "%.900s... %016llx", desc,
                     (unsigned long long)fnv1a(desc, 0xcbf29ce484222325ULL));
    }
    if (stat(opt->images_dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return sf_fail("%s: not a folder of images", opt->images_dir);
    key->images_mtime_sec = st.st_mtim.tv_sec;
    key->images_mtime_nsec = st.st_mtim.tv_nsec;
    if (!realpath(opt->images_dir, real))
        return sf_fail("%s: %s", opt->images_dir, strerror(errno));
    /* FITS cutouts depend on the stretch: a non-default one is part of the key */
    char stretch[256] = "";
    if (opt->fits_rgb && !fits_rgb_is_default(opt->fits_rgb)) {
        char d[200];
        fits_rgb_describe(opt->fits_rgb, d, sizeof d);
        snprintf(stretch, sizeof stretch, " [FITS %s]", d);
    }
    if (snprintf(key->images_dir, sizeof key->images_dir, "%s%s", real, stretch) >=
        (int)sizeof key->images_dir)
        return sf_fail("%s: path too long for the image cache", real);
    if (snprintf(key->target_spec, sizeof key->target_spec, "%s", opt->target_spec) >=
        (int)sizeof key->target_spec)
        return sf_fail("target '%s' is too long", opt->target_spec);
    key->resize = resize;
    key->crop = crop;
    return SF_OK;
}

/* NULL when the key matches, else what differs (for the rebuild notice). */
static const char *cache_key_mismatch(const cache_header *have, const cache_header *want) {
    if (have->version != want->version) return "an older or newer version of sfnet-explore";
    if (!have->complete) return "an interrupted build";
    if (strcmp(have->catalog_path, want->catalog_path)) return "another catalogue";
    if (have->catalog_size != want->catalog_size ||
        have->catalog_mtime_sec != want->catalog_mtime_sec ||
        have->catalog_mtime_nsec != want->catalog_mtime_nsec)
        return "an earlier version of the catalogue";
    if (strcmp(have->images_dir, want->images_dir)) return "another images folder";
    if (have->images_mtime_sec != want->images_mtime_sec ||
        have->images_mtime_nsec != want->images_mtime_nsec)
        return "the images folder before files were added or removed";
    if (strcmp(have->target_spec, want->target_spec)) return "another target";
    if (have->resize != want->resize || have->crop != want->crop) return "another --resize/--crop";
    return NULL;
}

static int dir_writable(const char *dir) { return access(dir, W_OK | X_OK) == 0; }

/* Automatic cache path: beside the images folder ("<images>.<hash>.r160c144.sfcache"),
 * or under $XDG_CACHE_HOME (~/.cache)/sfnet-explore when that folder is read-only. */
static int auto_cache_path(char *out, size_t n, const cache_header *key) {
    uint64_t h = fnv1a(key->target_spec, fnv1a(key->catalog_path, 0xcbf29ce484222325ULL));
    char parent[1024];
    snprintf(parent, sizeof parent, "%s", key->images_dir);
    char *slash = strrchr(parent, '/');
    if (slash && slash != parent) *slash = 0;
    else snprintf(parent, sizeof parent, "/");
    if (dir_writable(parent)) {
        int k = snprintf(out, n, "%s.%08llx.r%dc%d.sfcache", key->images_dir,
                         (unsigned long long)(h & 0xffffffffULL), key->resize, key->crop);
        return k >= 0 && (size_t)k < n ? SF_OK : sf_fail("%s: path too long", key->images_dir);
    }
    char base[1024];
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    if (xdg && *xdg) snprintf(base, sizeof base, "%s/sfnet-explore", xdg);
    else snprintf(base, sizeof base, "%s/.cache/sfnet-explore", home && *home ? home : "/tmp");
    (void)sf_mkdir_p(base); /* a folder that cannot be made is named when the cache opens */
    uint64_t hd = fnv1a(key->images_dir, h);
    int k = snprintf(out, n, "%s/%016llx.r%dc%d.sfcache", base, (unsigned long long)hd, key->resize,
                     key->crop);
    return k >= 0 && (size_t)k < n ? SF_OK : sf_fail("%s: path too long", base);
}

/* ---- opening an existing cache ---- */

enum { CACHE_USED = 0, CACHE_REBUILD = 1 };

/* Maps the cache at path when its key matches: CACHE_USED with ds->pixels etc. set,
 * CACHE_REBUILD (absent or stale, with a notice), or SF_ERR (not a cache file). */
static int cache_try_open(dataset *ds, const char *path, const cache_header *want,
                          const int *target_of_row) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return CACHE_REBUILD;
        return sf_fail("%s: cannot open the image cache: %s", path, strerror(errno));
    }
    struct stat st;
    cache_header have;
    if (fstat(fd, &st) != 0 || pread(fd, &have, sizeof have, 0) != (ssize_t)sizeof have ||
        memcmp(have.magic, CACHE_MAGIC, 8)) {
        close(fd);
        return sf_fail("%s exists but is not an sfnet-explore image cache; delete it (if it "
                       "is nothing you need) or choose another cache path",
                       path);
    }
    const char *why = cache_key_mismatch(&have, want);
    size_t img = image_bytes(want->crop);
    if (!why && (have.n <= 0 || have.file_size != (uint64_t)st.st_size ||
                 have.pixels_offset != CACHE_HEADER_BYTES ||
                 have.rows_offset != have.pixels_offset + (uint64_t)have.n * img ||
                 have.file_size != have.rows_offset + (uint64_t)have.n * sizeof(int32_t)))
        why = "a file of the wrong size (damaged)";
    if (why) {
        close(fd);
        sf_warn("image cache %s was made for %s; rebuilding it", path, why);
        return CACHE_REBUILD;
    }
    void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (map == MAP_FAILED)
        return sf_fail("%s: cannot map the image cache: %s", path, strerror(errno));
    const int32_t *rows = (const int32_t *)((const uint8_t *)map + have.rows_offset);
    for (int i = 0; i < have.n; i++)
        if (rows[i] < 0 || rows[i] >= ds->cat.n_rows || target_of_row[rows[i]] < 0 ||
            (i && rows[i] <= rows[i - 1])) {
            munmap(map, (size_t)st.st_size);
            sf_warn("image cache %s lists galaxies the catalogue does not keep; rebuilding it",
                    path);
            return CACHE_REBUILD;
        }
    ds->n = have.n;
    ds->cat_row = xmalloc((size_t)have.n * sizeof *ds->cat_row);
    for (int i = 0; i < have.n; i++) ds->cat_row[i] = rows[i];
    ds->pixels = (uint8_t *)map + have.pixels_offset;
    ds->pixels_mapped = 1;
    ds->map_base = map;
    ds->map_len = (size_t)st.st_size;
    ds->n_missing = have.n_missing;
    ds->n_corrupt = have.n_corrupt;
    memcpy(ds->first_missing, have.first_missing, sizeof ds->first_missing);
    ds->from_cache = 1;
    snprintf(ds->cache_file, sizeof ds->cache_file, "%s", path);
    return CACHE_USED;
}

/* ---- decoding ---- */

enum { IMG_OK = 0, IMG_MISSING = 1, IMG_CORRUPT = 2 };

/* Where decode_all puts the usable images, in catalogue order: the next slot of
 * pixels in memory, or the end of the cache file being written (so that a cache of
 * any size is built in the memory of one block of images). */
typedef struct {
    uint8_t *pixels; /* in memory; NULL when writing to fd */
    int fd;
    off_t offset; /* in the file: where the next image goes */
    const char *path;
} image_sink;

static int sink_put(image_sink *sink, const uint8_t *img, size_t bytes, int n) {
    if (sink->pixels) {
        memcpy(sink->pixels + (size_t)n * bytes, img, bytes);
        return SF_OK;
    }
    for (size_t done = 0; done < bytes;) {
        ssize_t w = pwrite(sink->fd, img + done, bytes - done, sink->offset);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0)
            return sf_fail("cannot write the image cache %s: %s", sink->path,
                           w < 0 ? strerror(errno) : "short write");
        done += (size_t)w;
        sink->offset += w;
    }
    return SF_OK;
}

/* Decodes the images of the target rows a block at a time, in parallel, and puts the
 * usable ones into sink in catalogue order. Fills ds->n, cat_row and the counts.
 * SF_ERR when the sink cannot be written (a full disk). */
static int decode_all(dataset *ds, const dataset_options *opt, image_sink *sink, int resize,
                      int crop) {
    const target_set *ts = &ds->targets;
    int n_cand = ts->n_rows;
    size_t img = image_bytes(crop);
    const int block = n_cand < 512 ? (n_cand > 0 ? n_cand : 1) : 512;
    uint8_t *pixels = xmalloc_aligned((size_t)block * img);
    uint8_t *status = xcalloc((size_t)block, 1);
    char **why = xcalloc((size_t)block, sizeof *why);
    ds->cat_row = xmalloc(((size_t)n_cand + 1) * sizeof *ds->cat_row);
    int n = 0, rc = SF_OK;
    sf_progress bar;
    sf_progress_start(&bar, "decoding images", n_cand, "img");
    bar.quiet |= opt->quiet;
    for (int b0 = 0; b0 < n_cand && rc == SF_OK; b0 += block) {
        int b1 = b0 + block < n_cand ? b0 + block : n_cand;
#pragma omp parallel for schedule(dynamic, 4)
        for (int i = b0; i < b1; i++) {
            char path[4096];
            const char *id = ds->cat.obj_ids[ts->rows[i]];
            status[i - b0] = IMG_OK;
            if (image_find(path, sizeof path, opt->images_dir, id) != SF_OK) {
                status[i - b0] = IMG_MISSING;
                continue;
            }
            uint8_t *rgb;
            int w, h;
            if (image_decode_fits(path, opt->fits_rgb, &rgb, &w, &h) != SF_OK) {
                status[i - b0] = IMG_CORRUPT;
                why[i - b0] = xstrdup(sf_last_error());
                continue;
            }
            image_prepare(pixels + (size_t)(i - b0) * img, rgb, w, h, resize, crop);
            free(rgb);
        }
        for (int i = b0; i < b1; i++) {
            if (status[i - b0] == IMG_MISSING) {
                if (ds->n_missing < 3)
                    snprintf(ds->first_missing[ds->n_missing], sizeof ds->first_missing[0], "%s",
                             ds->cat.obj_ids[ts->rows[i]]);
                ds->n_missing++;
            } else if (status[i - b0] == IMG_CORRUPT) {
                if (ds->n_corrupt < 10) sf_warn("skipping %s", why[i - b0]);
                ds->n_corrupt++;
                free(why[i - b0]);
                why[i - b0] = NULL;
            } else if (rc == SF_OK) {
                rc = sink_put(sink, pixels + (size_t)(i - b0) * img, img, n);
                ds->cat_row[n++] = ts->rows[i];
            }
        }
        sf_progress_update(&bar, b1, NULL);
    }
    if (rc == SF_OK) sf_progress_finish(&bar, NULL);
    else if (!bar.quiet) fputc('\n', stderr);
    ds->n = n;
    ds->n_decoded = n_cand - ds->n_missing;
    free(pixels);
    free(status);
    free(why);
    return rc;
}

/* Builds the cache file at path (through a temporary name, written a block of images
 * at a time) and maps it. */
static int cache_build(dataset *ds, const dataset_options *opt, const char *path, cache_header *key,
                       const int *target_of_row) {
    double t0 = sf_now();
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return sf_fail("cannot create the image cache %s: %s (choose another cache path)", tmp,
                       strerror(errno));
    size_t img = image_bytes(key->crop);
    size_t n_cand = (size_t)ds->targets.n_rows;
    size_t len = CACHE_HEADER_BYTES + n_cand * (img + sizeof(int32_t));
    /* find out now, not after an hour of decoding, that the disk is too small */
    int e = posix_fallocate(fd, 0, (off_t)len);
    if (e == ENOSPC || e == EFBIG) {
        close(fd);
        unlink(tmp);
        return sf_fail("the image cache %s needs %.2f GB: %s (choose another cache path)", tmp,
                       len / 1e9, strerror(e));
    }
    image_sink sink = {.fd = fd, .offset = CACHE_HEADER_BYTES, .path = tmp};
    int rc = decode_all(ds, opt, &sink, key->resize, key->crop);
    if (rc == SF_OK && ds->n > 0) {
        cache_header h = *key;
        h.n = ds->n;
        h.n_missing = ds->n_missing;
        h.n_corrupt = ds->n_corrupt;
        memcpy(h.first_missing, ds->first_missing, sizeof h.first_missing);
        h.pixels_offset = CACHE_HEADER_BYTES;
        h.rows_offset = CACHE_HEADER_BYTES + (uint64_t)ds->n * img;
        h.file_size = h.rows_offset + (uint64_t)ds->n * sizeof(int32_t);
        h.complete = 1;
        int32_t *rows = xmalloc((size_t)ds->n * sizeof *rows);
        for (int i = 0; i < ds->n; i++) rows[i] = ds->cat_row[i];
        size_t rows_bytes = (size_t)ds->n * sizeof *rows;
        if (ftruncate(fd, (off_t)h.file_size) != 0 ||
            pwrite(fd, rows, rows_bytes, (off_t)h.rows_offset) != (ssize_t)rows_bytes ||
            pwrite(fd, &h, sizeof h, 0) != (ssize_t)sizeof h || fsync(fd) != 0 ||
            rename(tmp, path) != 0)
            rc = sf_fail("cannot write the image cache %s: %s", path, strerror(errno));
        free(rows);
    }
    close(fd);
    if (rc != SF_OK || ds->n == 0) {
        unlink(tmp);
        return rc;
    }
    /* Map the finished file read-only, as a later open would. */
    int decoded = ds->n_decoded;
    free(ds->cat_row);
    ds->cat_row = NULL;
    int used = cache_try_open(ds, path, key, target_of_row);
    if (used != CACHE_USED)
        return used == SF_ERR ? SF_ERR : sf_fail("%s: cache unreadable after writing it", path);
    ds->from_cache = 0;
    ds->n_decoded = decoded;
    ds->cache_build_seconds = sf_now() - t0;
    return SF_OK;
}

/* ---- split and normalisation ---- */

void dataset_split(int n, uint64_t seed, double valid_fraction, uint8_t *split) {
    int *perm = xmalloc((size_t)(n > 0 ? n : 1) * sizeof *perm);
    for (int i = 0; i < n; i++) perm[i] = i;
    sf_rng rng;
    sf_rng_seed(&rng, seed);
    sf_rng_shuffle(&rng, perm, n);
    int n_valid = (int)(valid_fraction * n); /* as fastai's RandomSplitter: int(valid_pct * n) */
    for (int i = 0; i < n; i++) split[perm[i]] = i < n_valid ? SPLIT_VALID : SPLIT_TRAIN;
    free(perm);
}

static void split_and_normalise(dataset *ds, const dataset_options *opt) {
    int n = ds->n;
    ds->split = xmalloc((size_t)(n > 0 ? n : 1));
    dataset_split(n, opt->seed, opt->valid_fraction, ds->split);
    ds->n_valid = (int)(opt->valid_fraction * n);
    ds->n_train = n - ds->n_valid;
    ds->valid_idx = xmalloc((size_t)(ds->n_valid ? ds->n_valid : 1) * sizeof(int));
    ds->train_idx = xmalloc((size_t)(ds->n_train ? ds->n_train : 1) * sizeof(int));
    for (int i = 0, nv = 0, nt = 0; i < n; i++) {
        if (ds->split[i] == SPLIT_VALID) ds->valid_idx[nv++] = i;
        else ds->train_idx[nt++] = i;
    }

    /* Exact integer sums, so the statistics do not depend on the thread count. */
    size_t plane = (size_t)ds->size * (size_t)ds->size;
    uint64_t s0 = 0, s1 = 0, s2 = 0, q0 = 0, q1 = 0, q2 = 0;
#pragma omp parallel for schedule(static) reduction(+ : s0, s1, s2, q0, q1, q2)
    for (int t = 0; t < ds->n_train; t++) {
        const uint8_t *p = ds->pixels + (size_t)ds->train_idx[t] * 3 * plane;
        uint64_t s[3] = {0, 0, 0}, q[3] = {0, 0, 0};
        for (int c = 0; c < 3; c++)
            for (size_t k = 0; k < plane; k++) {
                uint32_t v = p[c * plane + k];
                s[c] += v;
                q[c] += v * v;
            }
        s0 += s[0], s1 += s[1], s2 += s[2];
        q0 += q[0], q1 += q[1], q2 += q[2];
    }
    uint64_t s[3] = {s0, s1, s2}, q[3] = {q0, q1, q2};
    double count = (double)ds->n_train * (double)plane;
    for (int c = 0; c < 3; c++) {
        double mean = (double)s[c] / count / 255.0;
        double var = (double)q[c] / count / (255.0 * 255.0) - mean * mean;
        double sd = var > 0 ? sqrt(var) : 0;
        ds->mean[c] = (float)mean;
        ds->std[c] = sd > 1e-6 ? (float)sd : 1.0f; /* a constant channel: leave it unscaled */
    }
}

/* ---- open / close ---- */

static int64_t default_ram_limit(void) {
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    int64_t quarter = pages > 0 && page > 0 ? (int64_t)pages * page / 4 : (int64_t)1 << 30;
    int64_t two_gib = (int64_t)2 << 30;
    return quarter < two_gib ? quarter : two_gib;
}

int dataset_open(dataset *ds, const dataset_options *opt_in) {
    memset(ds, 0, sizeof *ds);
    dataset_options opt = *opt_in;
    if (opt.resize <= 0) opt.resize = 160;
    if (opt.crop <= 0) opt.crop = 144;
    if (!opt.target_spec) opt.target_spec = "metallicity";
    if (!(opt.valid_fraction >= 0 && opt.valid_fraction < 1))
        return sf_fail("valid fraction %g is outside [0, 1)", opt.valid_fraction);
    if (opt.sources) opt.catalog_path = opt.sources->files[0];
    SF_ASSERT(opt.catalog_path && opt.images_dir);

    catalog_sources one = {.n_files = 1, .files = {opt.catalog_path}};
    if (catalog_load_sources(&ds->cat, opt.sources ? opt.sources : &one) != SF_OK) return SF_ERR;
    if (targets_select(&ds->targets, &ds->cat, opt.target_spec) != SF_OK) {
        catalog_free(&ds->cat);
        return SF_ERR;
    }
    const target_set *ts = &ds->targets;
    for (int i = 0; i < ts->n_rows; i++) {
        const char *id = ds->cat.obj_ids[ts->rows[i]];
        if (!image_name_ok(id)) {
            sf_fail("%s:%d: objID '%s' is not a plain file name (it has '/', '..' or control "
                    "characters); refusing to look for its image outside %s",
                    ds->cat.path, ds->cat.line_of_row[ts->rows[i]], id, opt.images_dir);
            dataset_close(ds);
            return SF_ERR;
        }
    }
    cache_header key;
    if (cache_key(&key, &opt, opt.resize, opt.crop) != SF_OK) {
        dataset_close(ds);
        return SF_ERR;
    }
    ds->size = opt.crop;
    int *target_of_row = xmalloc((size_t)ds->cat.n_rows * sizeof *target_of_row);
    for (int r = 0; r < ds->cat.n_rows; r++) target_of_row[r] = -1;
    for (int i = 0; i < ts->n_rows; i++) target_of_row[ts->rows[i]] = i;

    size_t img = image_bytes(opt.crop);
    int64_t ram_max = opt.ram_cache_max > 0 ? opt.ram_cache_max : default_ram_limit();
    int rc = SF_OK;
    if (!opt.cache_path && (int64_t)((size_t)ts->n_rows * img) <= ram_max) {
        ds->pixels = xmalloc((size_t)ts->n_rows * img + 1);
        image_sink sink = {.pixels = ds->pixels};
        rc = decode_all(ds, &opt, &sink, opt.resize, opt.crop);
    } else {
        char path[1024];
        if (opt.cache_path)
            rc = snprintf(path, sizeof path, "%s", opt.cache_path) < (int)sizeof path
                     ? SF_OK
                     : sf_fail("%s: cache path too long", opt.cache_path);
        else rc = auto_cache_path(path, sizeof path, &key);
        if (rc == SF_OK) rc = cache_try_open(ds, path, &key, target_of_row);
        if (rc == CACHE_REBUILD) rc = cache_build(ds, &opt, path, &key, target_of_row);
    }
    if (rc == SF_OK && ds->n_missing > 0) {
        char names[256] = "";
        size_t used = 0;
        for (int i = 0; i < ds->n_missing && i < 3; i++)
            used += (size_t)snprintf(names + used, sizeof names - used, "%s%s", i ? ", " : "",
                                     ds->first_missing[i]);
        sf_warn("%d of %d galaxies have no image in %s (first: %s%s); skipped", ds->n_missing,
                ts->n_rows, opt.images_dir, names, ds->n_missing > 3 ? ", ..." : "");
    }
    if (rc == SF_OK && ds->n_corrupt > 0)
        sf_warn("%d corrupt image%s skipped", ds->n_corrupt, ds->n_corrupt > 1 ? "s" : "");
    if (rc == SF_OK && ds->n == 0)
        rc = sf_fail("no usable galaxies: of the %d catalogue rows kept for '%s', %d have no "
                     "image in %s and %d have a corrupt one",
                     ts->n_rows, opt.target_spec, ds->n_missing, opt.images_dir, ds->n_corrupt);
    if (rc == SF_OK && ds->n - (int)(opt.valid_fraction * ds->n) <= 0)
        rc = sf_fail("no training galaxies: %d usable galaxies and a valid fraction of %g", ds->n,
                     opt.valid_fraction);
    if (rc != SF_OK) {
        free(target_of_row);
        dataset_close(ds);
        return SF_ERR;
    }

    int nt = ts->n_targets;
    ds->y = xmalloc((size_t)ds->n * (size_t)nt * sizeof *ds->y);
    for (int i = 0; i < ds->n; i++)
        memcpy(ds->y + (size_t)i * nt, ts->y + (size_t)target_of_row[ds->cat_row[i]] * nt,
               (size_t)nt * sizeof *ds->y);
    free(target_of_row);
    split_and_normalise(ds, &opt);
    return SF_OK;
}

void dataset_close(dataset *ds) {
    if (ds->pixels_mapped) munmap(ds->map_base, ds->map_len);
    else free(ds->pixels);
    free(ds->cat_row);
    free(ds->y);
    free(ds->split);
    free(ds->train_idx);
    free(ds->valid_idx);
    targets_free(&ds->targets);
    catalog_free(&ds->cat);
    memset(ds, 0, sizeof *ds);
}

/* ---- batches ---- */

/* Source index in a (S, S) plane of output (i, j) under dihedral transform t:
 * bit 2 transposes, bit 0 mirrors left-right, bit 1 mirrors top-bottom. */
static inline size_t dihedral_src(int t, int i, int j, int S) {
    int a = i, b = j;
    if (t & 4) a = j, b = i;
    if (t & 1) b = S - 1 - b;
    if (t & 2) a = S - 1 - a;
    return (size_t)a * (size_t)S + (size_t)b;
}

void dataset_batch(const dataset *ds, const int *idx, int B, float *x, float *y, sf_rng *rng) {
    uint8_t *tr = xcalloc((size_t)B, 1);
    if (rng)
        for (int b = 0; b < B; b++) tr[b] = (uint8_t)sf_rng_below(rng, 8);
    dataset_batch_transformed(ds, idx, B, x, y, tr);
    free(tr);
}

void dataset_batch_transformed(const dataset *ds, const int *idx, int B, float *x, float *y,
                               const uint8_t *tr) {
    int S = ds->size, nt = ds->targets.n_targets;
    size_t plane = (size_t)S * (size_t)S;
    float lut[3][256];
    for (int c = 0; c < 3; c++)
        for (int v = 0; v < 256; v++) lut[c][v] = ((float)v / 255.0f - ds->mean[c]) / ds->std[c];
#pragma omp parallel for schedule(static) if (B >= 8)
    for (int b = 0; b < B; b++) {
        SF_ASSERT(idx[b] >= 0 && idx[b] < ds->n);
        const uint8_t *src = ds->pixels + (size_t)idx[b] * 3 * plane;
        float *dst = x + (size_t)b * 3 * plane;
        for (int c = 0; c < 3; c++) {
            const uint8_t *s = src + c * plane;
            float *d = dst + c * plane;
            if (!tr || tr[b] == 0) {
                for (size_t k = 0; k < plane; k++) d[k] = lut[c][s[k]];
            } else {
                for (int i = 0; i < S; i++)
                    for (int j = 0; j < S; j++)
                        d[(size_t)i * S + j] = lut[c][s[dihedral_src(tr[b] & 7, i, j, S)]];
            }
        }
        if (y) memcpy(y + (size_t)b * nt, ds->y + (size_t)idx[b] * nt, (size_t)nt * sizeof *y);
    }
}
