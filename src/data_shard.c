/* data_shard.c: the galaxies of a catalogue, or of one shard of it, found in one pass
 * over the catalogue as a stream (data_shard.h).
 * Layer: data. Calls: data_catalog, data_dataset, data_image, sf_util.
 * Called by: cli_predict.
 */
#include "data_shard.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data_image.h"
#include "sf_util.h"

enum { SHARD_COUNT_MAX = 1000000 };

/* A whole decimal number in lo..hi; 0 when text is anything else. */
static int parse_count(const char *text, long lo, long hi, long *out) {
    if (!text || !*text) return 0;
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || *end || v < lo || v > hi) return 0;
    *out = v;
    return 1;
}

static int shard_from_slurm(shard_spec *out) {
    const char *id_text = getenv("SLURM_ARRAY_TASK_ID");
    const char *count_text = getenv("SLURM_ARRAY_TASK_COUNT");
    const char *min_text = getenv("SLURM_ARRAY_TASK_MIN");
    const char *max_text = getenv("SLURM_ARRAY_TASK_MAX");
    long id, count = -1, lo, hi;
    if (!id_text || !*id_text)
        return sf_fail("--shard slurm: SLURM_ARRAY_TASK_ID is not set: run it as a task of a "
                       "job array (sbatch --array=0-N), or give --shard I/N");
    if (!parse_count(id_text, 0, LONG_MAX, &id))
        return sf_fail("--shard slurm: SLURM_ARRAY_TASK_ID '%s' is not a task number", id_text);
    if (count_text && *count_text && !parse_count(count_text, 1, SHARD_COUNT_MAX, &count))
        return sf_fail("--shard slurm: SLURM_ARRAY_TASK_COUNT '%s' is not a count of 1 to %d",
                       count_text, SHARD_COUNT_MAX);
    if (min_text && *min_text && max_text && *max_text) {
        if (!parse_count(min_text, 0, LONG_MAX, &lo) || !parse_count(max_text, lo, LONG_MAX, &hi) ||
            hi - lo + 1 > SHARD_COUNT_MAX)
            return sf_fail("--shard slurm: SLURM_ARRAY_TASK_MIN '%s' and _MAX '%s' are not an "
                           "array's first and last task",
                           min_text, max_text);
        if (count > 0 && count != hi - lo + 1)
            return sf_fail("--shard slurm: the job array has %ld tasks from %ld to %ld (gaps or "
                           "a step): shards need every task from first to last; to rerun a few "
                           "shards give --shard ID/N with the array's full N",
                           count, lo, hi);
        if (id < lo || id > hi)
            return sf_fail("--shard slurm: task %ld is outside the array %ld-%ld", id, lo, hi);
        out->index = (int)(id - lo);
        out->count = (int)(hi - lo + 1);
        return SF_OK;
    }
    if (count < 0)
        return sf_fail("--shard slurm: neither SLURM_ARRAY_TASK_COUNT nor "
                       "SLURM_ARRAY_TASK_MIN/MAX is set: give --shard I/N");
    if (id >= count)
        return sf_fail("--shard slurm: task %ld of an array of %ld tasks: number the tasks "
                       "from 0 (sbatch --array=0-%ld) or give --shard I/N",
                       id, count, count - 1);
    out->index = (int)id;
    out->count = (int)count;
    return SF_OK;
}

int shard_parse(const char *text, shard_spec *out) {
    if (!strcmp(text, "slurm")) return shard_from_slurm(out);
    const char *slash = strchr(text, '/');
    char index_text[32];
    long index, count;
    if (!slash || (size_t)(slash - text) >= sizeof index_text)
        return sf_fail("--shard '%s': expected I/N (slice I of N, 0 <= I < N) or 'slurm'", text);
    memcpy(index_text, text, (size_t)(slash - text));
    index_text[slash - text] = 0;
    if (!parse_count(slash + 1, 1, SHARD_COUNT_MAX, &count) ||
        !parse_count(index_text, 0, SHARD_COUNT_MAX, &index))
        return sf_fail("--shard '%s': expected I/N with whole numbers, N from 1 to %d", text,
                       SHARD_COUNT_MAX);
    if (index >= count)
        return sf_fail("--shard '%s': slices are numbered 0 to %ld", text, count - 1);
    out->index = (int)index;
    out->count = (int)count;
    return SF_OK;
}

int shard_of(const char *obj_id, int count) {
    SF_ASSERT(count >= 1);
    return (int)(sf_hash64(obj_id, strlen(obj_id)) % (uint64_t)count);
}

/* ---- the plan ------------------------------------------------------------------- */

typedef struct {
    shard_plan *p;
    size_t names_len, names_cap;
    int cap;
    int *global; /* (n) each galaxy's number among the whole catalogue's */
} plan_builder;

static void plan_add(plan_builder *b, const catalog_row *row, const char *file, const float *y,
                     int global) {
    shard_plan *p = b->p;
    if (p->n == b->cap) {
        b->cap = b->cap ? 2 * b->cap : 1024;
        p->name_at = xrealloc(p->name_at, (size_t)b->cap * sizeof *p->name_at);
        p->pos = xrealloc(p->pos, (size_t)b->cap * sizeof *p->pos);
        b->global = xrealloc(b->global, (size_t)b->cap * sizeof *b->global);
        if (p->has_targets)
            p->truth = xrealloc(p->truth,
                                (size_t)b->cap * (size_t)p->targets.n_targets * sizeof *p->truth);
    }
    size_t id_len = strlen(row->obj_id) + 1, file_len = strlen(file) + 1;
    if (b->names_len + id_len + file_len > b->names_cap) {
        b->names_cap = 2 * (b->names_len + id_len + file_len) + 4096;
        p->names = xrealloc(p->names, b->names_cap);
    }
    p->name_at[p->n] = b->names_len;
    memcpy(p->names + b->names_len, row->obj_id, id_len);
    memcpy(p->names + b->names_len + id_len, file, file_len);
    b->names_len += id_len + file_len;
    p->pos[p->n] = row->pos;
    b->global[p->n] = global;
    if (p->has_targets)
        memcpy(&p->truth[(size_t)p->n * p->targets.n_targets], y,
               (size_t)p->targets.n_targets * sizeof *y);
    p->n++;
}

static const shard_plan *dup_plan;
static int cmp_by_objid(const void *a, const void *b) {
    int ia = *(const int *)a, ib = *(const int *)b;
    int c = strcmp(shard_plan_objid(dup_plan, ia), shard_plan_objid(dup_plan, ib));
    return c ? c : (ia > ib) - (ia < ib);
}

/* SF_ERR naming both lines when two galaxies of the plan share an objID. */
static int check_unique(const shard_plan *p) {
    if (p->n < 2) return SF_OK;
    int *order = xmalloc((size_t)p->n * sizeof *order);
    for (int i = 0; i < p->n; i++) order[i] = i;
    dup_plan = p;
    qsort(order, (size_t)p->n, sizeof *order, cmp_by_objid);
    int rc = SF_OK;
    for (int i = 1; i < p->n; i++) {
        int a = order[i - 1], b = order[i];
        if (!strcmp(shard_plan_objid(p, a), shard_plan_objid(p, b))) {
            rc = sf_fail("%s:%d: objID %s appears again (first on line %d); each galaxy "
                         "must be one row",
                         p->columns.path, p->pos[b].line, shard_plan_objid(p, b), p->pos[a].line);
            break;
        }
    }
    free(order);
    return rc;
}

static void copy_columns(catalog *dst, const catalog *src) {
    memset(dst, 0, sizeof *dst);
    dst->path = xstrdup(src->path);
    dst->n_cols = src->n_cols;
    dst->col_names = xcalloc((size_t)(src->n_cols ? src->n_cols : 1), sizeof *dst->col_names);
    for (int c = 0; c < src->n_cols; c++) dst->col_names[c] = xstrdup(src->col_names[c]);
    dst->n_skipped = src->n_skipped;
    dst->skipped = xcalloc((size_t)(src->n_skipped ? src->n_skipped : 1), sizeof *dst->skipped);
    for (int c = 0; c < src->n_skipped; c++) dst->skipped[c] = xstrdup(src->skipped[c]);
}

int shard_plan_build(shard_plan *p, catalog_stream *st, const char *target_spec, const char *images,
                     const shard_spec *shard, uint64_t split_seed, double valid_fraction) {
    memset(p, 0, sizeof *p);
    p->shard = shard ? *shard : (shard_spec){0, 1};
    SF_ASSERT(p->shard.count >= 1 && p->shard.index >= 0 && p->shard.index < p->shard.count);
    p->images = xstrdup(images);
    copy_columns(&p->columns, catalog_stream_columns(st));
    const char *catalog_path = p->columns.path;
    if (target_spec) {
        if (targets_prepare(&p->targets, &p->columns, target_spec) != SF_OK) {
            shard_plan_free(p);
            return SF_ERR;
        }
        p->has_targets = 1;
    }
    plan_builder b = {.p = p};
    int want_split = valid_fraction >= 0;
    float y[TARGET_MAX];
    catalog_row row;
    int rc, n_kept = 0;
    while ((rc = catalog_stream_next(st, &row)) == 1) {
        p->n_rows++;
        if (p->has_targets && !targets_apply(&p->targets, row.values, y)) {
            p->n_cut++;
            continue;
        }
        n_kept++;
        char path[4096];
        if (!image_name_ok(row.obj_id)) {
            sf_fail("%s:%d: objID '%s' is not a plain file name (it has '/', '..' or control "
                    "characters); refusing to look for its image outside %s",
                    catalog_path, row.pos.line, row.obj_id, images);
            rc = SF_ERR;
            break;
        }
        int mine = p->shard.count == 1 || shard_of(row.obj_id, p->shard.count) == p->shard.index;
        if (!mine && !want_split) continue;
        int has_image = image_find(path, sizeof path, images, row.obj_id) == SF_OK;
        if (mine && !has_image) {
            if (p->n_missing < 3)
                snprintf(p->missing_ids[p->n_missing], sizeof p->missing_ids[0], "%s", row.obj_id);
            p->n_missing++;
        }
        if (!has_image) continue;
        if (mine) plan_add(&b, &row, strrchr(path, '/') + 1, y, p->n_all);
        p->n_all++;
    }
    if (rc == SF_OK && p->n_rows == 0)
        rc = sf_fail("%s: no galaxies: the header is followed by no data rows", catalog_path);
    if (rc == SF_OK && p->has_targets && n_kept == 0)
        rc = targets_fail_empty(&p->targets, catalog_path, target_spec, p->n_rows);
    if (rc == SF_OK) rc = check_unique(p);
    if (rc != SF_OK) {
        free(b.global);
        shard_plan_free(p);
        return SF_ERR;
    }
    /* the whole catalogue's split, kept for the slice's galaxies */
    p->split = xcalloc((size_t)p->n + 1, 1);
    if (want_split) {
        uint8_t *all = xmalloc((size_t)p->n_all + 1);
        dataset_split(p->n_all, split_seed, valid_fraction, all);
        for (int i = 0; i < p->n; i++) p->split[i] = all[b.global[i]];
        free(all);
    }
    free(b.global);
    return SF_OK;
}

void shard_plan_free(shard_plan *p) {
    catalog_free(&p->columns);
    targets_free(&p->targets);
    free(p->images);
    free(p->names);
    free(p->name_at);
    free(p->pos);
    free(p->truth);
    free(p->split);
    memset(p, 0, sizeof *p);
}

const char *shard_plan_objid(const shard_plan *p, int i) { return p->names + p->name_at[i]; }

int shard_plan_path(const shard_plan *p, int i, char *buf, size_t n) {
    const char *id = shard_plan_objid(p, i);
    const char *file = id + strlen(id) + 1;
    int k = snprintf(buf, n, "%s/%s", p->images, file);
    if (k < 0 || (size_t)k >= n) return sf_fail("%s/%s: path too long", p->images, file);
    return SF_OK;
}
