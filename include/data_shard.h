/* data_shard.h: the galaxies one `predict` goes over, found by reading the catalogue
 * once as a stream: every row that passes the target's cuts and has an image, or the
 * slice of them that one shard of a survey takes.
 *
 * A shard is slice I of N (0 <= I < N): the galaxies whose objID text hashes
 * (sf_hash64) to I modulo N. Which shard a galaxy falls in depends on its objID
 * alone, not on the catalogue's order or on the other rows, so a re-sorted or
 * extended catalogue keeps every galaxy in its shard, and the N shards split the
 * catalogue into disjoint parts that together hold every galaxy once. Two rows
 * with the same objID fall in the same shard, which refuses them.
 *
 * The train/valid split is the whole catalogue's: dataset_split() over every galaxy
 * with an image, in catalogue order (as one `predict --into` over everything draws
 * it, and as `--train` does on the same catalogue), so each galaxy of a shard has
 * the split it has in the unsharded run, and merged shards reproduce that run's
 * statistics. Finding it means looking for every row's image (a stat per row), not
 * only the slice's.
 *
 * Memory: per galaxy of the slice, its objID and image file name, where its row
 * starts in the file, its outputs and split (some 50 bytes); no catalogue values.
 * Those are read again, row by row, with a catalog_stream positioned at pos[i], when
 * the galaxy is written. A catalogue of any length thus costs the same memory.
 */
#ifndef SF_DATA_SHARD_H
#define SF_DATA_SHARD_H

#include <stddef.h>
#include <stdint.h>

#include "data_catalog.h"

typedef struct {
    int index, count; /* slice index of count; {0, 1} is the whole catalogue */
} shard_spec;

/* "I/N" (0 <= I < N <= 1000000), or "slurm": I and N of a Slurm job array's task,
 * from SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT, or from the array's
 * SLURM_ARRAY_TASK_MIN/MAX (I = ID - MIN, N = MAX - MIN + 1). An array with gaps or
 * a step (COUNT below MAX - MIN + 1) is refused: a rerun of a few tasks of a larger
 * array gives "--shard ID/N" itself. SF_ERR with a message saying what to give. */
int shard_parse(const char *text, shard_spec *out);
/* Which of count slices the objID falls in. */
int shard_of(const char *obj_id, int count);

typedef struct {
    catalog columns; /* the catalogue's path and columns; no rows */
    shard_spec shard;
    int n;                   /* galaxies of the slice (cuts passed, image found) */
    int n_all;               /* the same over the whole catalogue: the split's galaxies */
    int n_rows;              /* rows of the catalogue */
    int n_cut;               /* rows that the target's cuts removed (whole catalogue) */
    int n_missing;           /* rows of the slice that pass the cuts but have no image */
    char missing_ids[3][64]; /* the first few of them */
    int has_targets;
    target_set targets; /* names, cuts and their counts; rows, y empty */
    char *images;       /* the image folder */
    char *names;        /* objID '\0' file name '\0' of every galaxy, packed */
    size_t *name_at;    /* (n) where galaxy i's objID starts in names */
    catalog_pos *pos;   /* (n) where its row starts in the catalogue */
    float *truth;       /* (n, targets.n_targets) when has_targets */
    uint8_t *split;     /* (n) SPLIT_TRAIN / SPLIT_VALID */
} shard_plan;

/* Reads the catalogue once from st (freshly opened; it stays open, for the rows): the galaxies of shard (NULL: all) whose row passes the
 * cuts of target_spec (NULL: no target, every row) and whose image
 * <images>/<objID>.{jpg,jpeg,png} exists, in catalogue order, each with its outputs
 * and its split of the whole catalogue (seed, valid_fraction as dataset_split).
 * valid_fraction < 0: no split (all SPLIT_TRAIN), and then only the slice's images are
 * looked for (n_all counts the galaxies found).
 * SF_ERR with a message for an unreadable or malformed catalogue, an unknown target,
 * an objID that cannot name a file, one that appears twice, or no row passing the
 * cuts; a slice with no galaxy is not an error (n = 0). */
int shard_plan_build(shard_plan *p, catalog_stream *st, const char *target_spec, const char *images,
                     const shard_spec *shard, uint64_t split_seed, double valid_fraction);
void shard_plan_free(shard_plan *p);
const char *shard_plan_objid(const shard_plan *p, int i);
/* Galaxy i's image file: <images>/<file name>. SF_ERR when it does not fit in n. */
int shard_plan_path(const shard_plan *p, int i, char *buf, size_t n);

#endif
