/* data_image.h: galaxy cutouts, decoded, resized and cropped, and the data set
 * a run trains on.
 *
 * image_decode() reads a JPEG (libjpeg-turbo) or PNG (libpng) into 8-bit RGB, from a
 * file or from memory: grey, palette, alpha and 16-bit PNGs, grey, YCbCr, CMYK and
 * YCCK JPEGs (Adobe's inverted CMYK, as Photoshop writes it), and a FITS cutout
 * (cfitsio) through the asinh stretch of data_fits.h: the format is told by the
 * file's first bytes. image_encode_jpeg() writes the JPEG thumbnails a run stores. A
 * corrupt or truncated file is an SF_ERR with a message, never a crash. So is an
 * image of more than IMAGE_MAX_SIDE x IMAGE_MAX_SIDE pixels (a cutout is 160 x 160;
 * a 200 KB PNG can claim 8000 x 8000, 192 MB decoded), refused from its header
 * before any pixel is decoded, and a progressive JPEG of more than 500 scans.
 * image_prepare() resizes (bilinear, antialiased when shrinking) to resize x resize and
 * centre-crops (or pads with zeros) to crop x crop, giving CHW bytes.
 *
 * A dataset joins a catalogue's kept rows with `<images>/<objID>.{jpg,jpeg,png}`:
 * galaxies whose image is missing or corrupt are skipped and counted. The decoded
 * pixels (n, 3, crop, crop) uint8 are cached: in RAM for small sets, in a
 * memory-mapped cache file for large ones, so epochs after the first never decode
 * again. The train/valid split is a seeded 80/20 shuffle; the per-channel
 * normalisation (mean, std over training pixels, on the 0..1 scale) comes from the
 * training images only.
 *
 * The cache file starts with a header (magic "SFNETIMG", version, and a key: the
 * catalogue's real path, size and mtime, the images folder's path and mtime, the
 * target spec, resize and crop). A cache whose key or version differs is rebuilt
 * (with a notice); a file at the cache path that is not a cache at all is left
 * alone and dataset_open fails, saying to delete it or choose another path. It is
 * written to a temporary name and renamed when complete, so an interrupted build
 * never looks valid.
 */
#ifndef SF_DATA_IMAGE_H
#define SF_DATA_IMAGE_H

#include <stdint.h>

#include "data_catalog.h"
#include "data_fits.h"
#include "sf_util.h"

/* Images may have at most IMAGE_MAX_SIDE^2 pixels (16.8 megapixels, 48 MiB decoded). */
#define IMAGE_MAX_SIDE 4096

int image_decode(const char *path, uint8_t **rgb, int *width, int *height);
/* The same for an encoded image in memory (a thumbnail blob); name (may be NULL)
 * is what messages call it. */
int image_decode_mem(const uint8_t *data, size_t len, const char *name, uint8_t **rgb, int *width,
                     int *height);
/* The same, FITS cutouts stretched with stretch (NULL: the defaults). */
int image_decode_fits(const char *path, const fits_rgb *stretch, uint8_t **rgb, int *width,
                      int *height);
int image_decode_mem_fits(const uint8_t *data, size_t len, const char *name,
                          const fits_rgb *stretch, uint8_t **rgb, int *width, int *height);
/* Encodes interleaved RGB (h, w, 3) as a JPEG of the given quality (1..100) into
 * malloc'd *out (*len bytes), for the thumbnails a run stores. */
int image_encode_jpeg(const uint8_t *rgb, int w, int h, int quality, uint8_t **out, size_t *len);
/* out: (3, crop, crop) bytes. src: (h, w, 3) interleaved RGB. */
void image_prepare(uint8_t *out, const uint8_t *src, int w, int h, int resize, int crop);

/* 1 when obj_id can name a file inside a folder: not empty, no '/', no "..",
 * no control characters. */
int image_name_ok(const char *obj_id);

/* Path of an objID's image in dir (.jpg, .jpeg, .png, then .fits, .fit, in that
 * order of preference), or SF_ERR ("not found") when none exists.
 * Refuses objIDs that are not plain file names ("/", "..", empty). */
int image_find(char *path, size_t n, const char *dir, const char *obj_id);

enum { SPLIT_TRAIN = 0, SPLIT_VALID = 1 };

/* Start from dataset_options_default() and set the paths: a zeroed struct gets
 * resize/crop 160/144 and the metallicity target, but seed 0 and no validation set. */
typedef struct {
    const char *catalog_path;
    const catalog_sources *sources; /* several catalogues, a join, an ID column: used
                                       instead of catalog_path when set */
    const fits_rgb *fits_rgb;       /* the stretch of FITS cutouts (NULL: the defaults) */
    const char *images_dir;
    const char *target_spec; /* "metallicity", "bpt_lines", "col,col" */
    int resize;              /* 160 */
    int crop;                /* 144 */
    uint64_t seed;           /* 256: the train/valid split */
    double valid_fraction;   /* 0.2 */
    const char *cache_path;  /* NULL: automatic (RAM when small, else a file beside the images) */
    int quiet;               /* no progress bar */
    int64_t ram_cache_max;   /* bytes held in RAM before the automatic cache goes to a
                                  file; 0: min(2 GiB, a quarter of physical memory) */
} dataset_options;

/* The defaults above: resize 160, crop 144, seed 256, valid_fraction 0.2. */
void dataset_options_default(dataset_options *opt);

typedef struct {
    catalog cat;
    target_set targets;
    int n;             /* galaxies with a usable image */
    int size;          /* crop */
    int *cat_row;      /* (n) catalogue row of each galaxy */
    float *y;          /* (n, n_targets) */
    uint8_t *pixels;   /* (n, 3, size, size), heap or mmap */
    int pixels_mapped; /* pixels is an mmap of a cache file */
    uint8_t *split;    /* (n) SPLIT_TRAIN or SPLIT_VALID */
    int n_train, n_valid;
    int *train_idx, *valid_idx;
    float mean[3], std[3];      /* normalisation, 0..1 pixel scale */
    int n_missing, n_corrupt;   /* images skipped */
    char first_missing[3][64];  /* objIDs named in messages */
    int n_decoded;              /* images decoded by this open (0 when the cache was reused) */
    int from_cache;             /* pixels came from an existing cache file */
    char cache_file[1024];      /* the cache file in use, "" when pixels are in RAM */
    double cache_build_seconds; /* decoding into a new cache file; 0 when none was built */
    void *map_base;             /* the mapping behind pixels, for munmap */
    size_t map_len;
} dataset;

/* Loads the catalogue, selects the targets, finds and decodes the images (or maps
 * the cache), splits and computes the normalisation. Warnings (missing, corrupt
 * images; cache rebuilt) go to stderr. SF_ERR: malformed catalogue, an objID that
 * is not a plain file name, no usable galaxy, a foreign file at the cache path. */
int dataset_open(dataset *ds, const dataset_options *opt);
void dataset_close(dataset *ds);
static inline const char *dataset_obj_id(const dataset *ds, int i) {
    return ds->cat.obj_ids[ds->cat_row[i]];
}

/* The seeded train/valid split of n galaxies dataset_open makes: a shuffle, whose
 * first int(valid_fraction * n) become SPLIT_VALID. */
void dataset_split(int n, uint64_t seed, double valid_fraction, uint8_t *split);
/* Fills x (B, 3, size, size) normalised floats and y (B, n_targets) for the galaxies
 * idx[0..B). With rng != NULL each image gets a random one of the 8 dihedral
 * transforms (flips and transposes); NULL leaves them as they are. y may be NULL. */
void dataset_batch(const dataset *ds, const int *idx, int B, float *x, float *y, sf_rng *rng);
/* The same with the transform of each image given: tr (B) in 0..7 (bit 2 transposes,
 * bit 0 mirrors left-right, bit 1 mirrors top-bottom; 0 leaves the image as it is), or
 * tr = NULL for none. */
void dataset_batch_transformed(const dataset *ds, const int *idx, int B, float *x, float *y,
                               const uint8_t *tr);

#endif
