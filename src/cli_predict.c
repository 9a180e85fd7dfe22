/* cli_predict.c: `sfnet-explore predict`: run a weights file over a catalogue's images
 * and write every galaxy's prediction and its k (feature, value) pairs.
 * Layer: cli. Calls: cli_data_options, data_catalog, data_catalog_join, data_fits,
 *     data_image, data_shard, infer_pipe, infer_store, nn_model, safetensors, store,
 *     train_weights, sf_util; cJSON.
 * Called by: main.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cJSON.h>

#include "cli.h"
#include "cli_data_options.h"
#include "data_catalog.h"
#include "data_shard.h"
#include "infer.h"
#include "safetensors.h"
#include "sf_output.h"
#include "sf_util.h"
#include "store.h"
#include "train.h"

static void usage(FILE *out) {
    fprintf(out,
            "Usage: sfnet-explore predict --weights FILE --catalog FILE --images DIR\n"
            "                             (-o OUT.csv | -o OUT.fits | --into RUN.db) [OPTIONS]\n"
            "\n"
            "Runs a trained SFNet (a safetensors weights file) over every galaxy of the\n"
            "catalogue whose image <DIR>/<objID>.{jpg,jpeg,png,fits} exists. Reading, the\n"
            "network and the writing run at once. Missing or corrupt images are skipped\n"
            "and counted on stderr. A CSV catalogue is read as a stream and its values again\n"
            "when each galaxy is written, so memory does not grow with its length; a FITS\n"
            "table (or a join of several files) is held in memory whole, 8 bytes a value:\n"
            "select the columns the target needs, 'survey.fits[1][col OBJID; OH_P50]'.\n"
            "\n"
            "With -o it writes CSV: objID, one column per output (named by the file's\n"
            "target names), then feature_1,value_1 ... feature_k,value_k: the k features\n"
            "the top-k layer kept, strongest first. A name ending in .fits (or .fit)\n"
            "gives a FITS binary table instead (HDU 2, PREDICTIONS): OBJID (64-bit integer\n"
            "when every ID is one, else text), one column per output, then FEATURE_j (J),\n"
            "VALUE_j (E), or for a dense model (k 0) the vector column ACTIVATIONS.\n"
            "\n"
            "With --into it adds a run to the run database RUN.db (created when absent),\n"
            "as --train does, for browsing and the other commands: the galaxies that pass\n"
            "the target's cuts, each with its split, prediction, truth, activations and a\n"
            "%dx%d thumbnail, and each feature's statistics, in one transaction: an\n"
            "error or Ctrl-C leaves RUN.db as it was.\n"
            "  -t, --target SPEC    metallicity, bpt_lines or COL,COL... (default: the one\n"
            "                       whose outputs the weights file names)\n"
            "      --split-seed N   the 80/20 train/valid split (default 256, as --train's;\n"
            "                       the feature statistics use the validation fifth)\n"
            "  -n, --name PREFIX    feature prefix of the run, up to 15 characters (default\n"
            "                       Z, SL or R, plus 2, 3..)\n"
            "      --from-run RUN   the weights of run RUN of RUN.db instead of --weights,\n"
            "                       and its FITS cutout stretch (--fits-* options change it);\n"
            "                       FILE.db:RUN takes them from another run database\n"
            "                       (FILE.db: its only run), as shards and -o need\n"
            "\n"
            "A survey too large for one machine runs as shards, each into its own file:\n"
            "      --shard I/N      only slice I of N (0 <= I < N): the galaxies whose objID\n"
            "                       hashes to I, whatever the catalogue's order. With --into\n"
            "                       each galaxy keeps the whole catalogue's split (every\n"
            "                       row's image is looked for); `sfnet-explore merge` joins\n"
            "                       the shards' databases into one run that equals one\n"
            "                       predict --into over everything. With -o each shard\n"
            "                       writes its own CSV or FITS table (their rows together\n"
            "                       are the whole).\n"
            "      --shard slurm    I and N of this task of a Slurm job array\n"
            "                       (SLURM_ARRAY_TASK_ID, _COUNT or _MIN/_MAX); see\n"
            "                       share/slurm/predict-array.sbatch and merge.sbatch\n"
            "\n"
            "The weights file's metadata gives k, width, outputs, resize/crop and the\n"
            "normalisation. For a file converted from PyTorch (share/convert_pth.py)\n"
            "that lacks them, or to override them:\n"
            "      --k N            active features per galaxy (0: dense)\n"
            "      --width N        base channels (64 for the paper's model)\n"
            "      --n-out N        outputs of the linear head\n"
            "      --resize N       resize images to N x N first (the paper: 160)\n"
            "      --crop N         then centre crop to N x N (the paper: 144)\n"
            "      --mean R,G,B     per-channel mean on the 0..1 scale\n"
            "      --std R,G,B      per-channel standard deviation on the 0..1 scale\n"
            "      --targets A,B    names of the outputs\n"
            "\n"
            "Options:\n"
            "  -w, --weights FILE   the weights (safetensors)\n" CLI_DATA_HELP
            "  -i, --images DIR     the folder of <objID>.jpg (.png, .fits) cutouts\n"
            "  -o, --output FILE    the CSV to write ('-': stdout)\n"
            "      --into RUN.db    add a run to this database instead\n"
            "  -b, --batch N        images per batch (default 64)\n"
            "  -e, --engine NAME    onednn (default) or reference (im2col + OpenBLAS)\n"
            "  -q, --quiet          no progress bar\n"
            "  -h, --help           show this help\n"
            "\n" CLI_FITS_HELP,
            INFER_THUMB_SIZE, INFER_THUMB_SIZE);
}

static int parse_three(const char *name, const char *s, float v[3], int positive) {
    char *end;
    const char *p = s;
    for (int i = 0; i < 3; i++) {
        errno = 0;
        double d = strtod(p, &end);
        if (errno || end == p || !isfinite(d) || (positive && !(d > 0)) || (i < 2 && *end != ',') ||
            (i == 2 && *end)) {
            fprintf(stderr, "sfnet-explore: --%s '%s': expected three numbers R,G,B%s\n", name, s,
                    positive ? " above 0" : "");
            return SF_ERR;
        }
        v[i] = (float)d;
        p = end + 1;
    }
    return SF_OK;
}

static int parse_targets(const char *s, weights_meta *wm) {
    int n = 0;
    const char *p = s;
    while (*p) {
        size_t len = strcspn(p, ",");
        if (len == 0 || len >= sizeof wm->targets[0] || n == TARGET_MAX) {
            fprintf(stderr,
                    "sfnet-explore: --targets '%s': expected 1..%d comma-separated "
                    "names\n",
                    s, TARGET_MAX);
            return SF_ERR;
        }
        memcpy(wm->targets[n], p, len);
        wm->targets[n][len] = 0;
        n++;
        p += len;
        if (*p == ',') p++;
    }
    wm->n_targets = n;
    return n > 0 ? SF_OK : SF_ERR;
}

/* ---- the galaxies and their images --------------------------------------------- */

/* Says how many galaxies of the slice have no image (they are skipped). */
static void warn_missing(const shard_plan *plan) {
    if (plan->n_missing == 0) return;
    char names[256] = "";
    for (int i = 0; i < plan->n_missing && i < 3; i++)
        snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? ", " : "",
                 plan->missing_ids[i]);
    sf_warn("%d of %d galaxies have no image in %s (first: %s%s); skipped", plan->n_missing,
            plan->n + plan->n_missing, plan->images, names, plan->n_missing > 3 ? ", ..." : "");
}

static int plan_path(void *ctx, int i, char *buf, size_t n) {
    return shard_plan_path(ctx, i, buf, n);
}

/* Galaxy i's catalogue row, read again from the file where the plan found it. */
typedef struct {
    const shard_plan *plan;
    catalog_stream *st;
} plan_rows;

static int plan_row(void *ctx, int i, const char **obj_id, const double **values) {
    plan_rows *pr = ctx;
    const shard_plan *plan = pr->plan;
    catalog_row row;
    if (catalog_stream_seek(pr->st, plan->pos[i]) != SF_OK) return SF_ERR;
    int rc = catalog_stream_next(pr->st, &row);
    if (rc == SF_ERR) return SF_ERR;
    if (rc == 0 || strcmp(row.obj_id, shard_plan_objid(plan, i)) != 0)
        return sf_fail("%s:%d: objID %s is no longer there: the catalogue changed while "
                       "predict ran",
                       plan->columns.path, plan->pos[i].line, shard_plan_objid(plan, i));
    *obj_id = row.obj_id;
    *values = row.values;
    return SF_OK;
}

/* ---- CSV out ------------------------------------------------------------------ */

typedef struct {
    FILE *out;
    int tty; /* out is a terminal: objIDs shown escaped */
    const shard_plan *plan;
    int n_out, k;
} csv_sink;

static int write_csv(void *ctx, const infer_batch *b) {
    csv_sink *cs = ctx;
    for (int i = 0; i < b->n; i++) {
        const char *id = shard_plan_objid(cs->plan, b->gal[i]);
        sf_csv_field(cs->out, cs->tty ? sf_shown(id) : id);
        for (int t = 0; t < cs->n_out; t++)
            fprintf(cs->out, ",%.7g", b->pred[(size_t)i * cs->n_out + t]);
        for (int j = 0; j < cs->k; j++)
            fprintf(cs->out, ",%d,%.7g", b->feat_idx[(size_t)i * cs->k + j],
                    b->feat_val[(size_t)i * cs->k + j]);
        fputc('\n', cs->out);
    }
    if (ferror(cs->out)) return sf_fail("write failed: %s", strerror(errno));
    return SF_OK;
}

static int predict_csv(sfnet *m, const weights_meta *wm, const shard_plan *plan,
                       const infer_source *src0, const char *out_path, int quiet) {
    sf_output o;
    if (sf_output_open(&o, out_path) != SF_OK) {
        sf_warn("%s", sf_last_error());
        return 1;
    }
    FILE *out = o.f;
    int no = m->cfg.n_out, k = m->cfg.k;
    fputs("objID", out);
    for (int t = 0; t < no; t++) {
        fputc(',', out);
        if (wm->n_targets == no)
            sf_csv_field(out, o.is_tty ? sf_shown(wm->targets[t]) : wm->targets[t]);
        else fprintf(out, "out_%d", t);
    }
    for (int j = 1; j <= k; j++) fprintf(out, ",feature_%d,value_%d", j, j);
    fputc('\n', out);

    csv_sink cs = {.out = out, .tty = o.is_tty, .plan = plan, .n_out = no, .k = k};
    infer_source src = *src0;
    src.path = plan_path;
    src.path_ctx = (void *)plan;
    src.n = plan->n;
    infer_stats st;
    int rc = infer_pipe_run(m, &src, write_csv, &cs, &st) == SF_OK ? 0 : 1;
    if (rc) sf_warn("%s: %s", out_path, sf_last_error());
    int to_file = o.tmp != NULL;
    if (!rc && st.interrupted) {
        sf_warn("interrupted after %d galaxies%s%s", st.n_done,
                to_file ? "; nothing written to " : "", to_file ? out_path : "");
        rc = 130;
    }
    if (rc) {
        sf_output_abort(&o);
    } else if (sf_output_commit(&o) != SF_OK) {
        sf_warn("%s", sf_last_error());
        rc = 1;
    }
    if (rc == 0 && !quiet)
        fprintf(stderr,
                "sfnet-explore: %d galaxies predicted (%d corrupt images skipped) in "
                "%.1f s: %.1f galaxies/s (the network alone: %.1f/s)%s%s\n",
                st.n_done, st.n_corrupt, st.seconds, st.seconds > 0 ? st.n_done / st.seconds : 0,
                st.network_seconds > 0 ? st.n_done / st.network_seconds : 0,
                strcmp(out_path, "-") ? " -> " : "",
                strcmp(out_path, "-") ? sf_shown(out_path) : "");
    if (rc == 0 && st.n_done == 0 && plan->shard.count == 1) {
        sf_warn("no galaxy of %s has a usable image", plan->columns.path);
        rc = 1;
    }
    return rc;
}

/* ---- FITS out ----------------------------------------------------------------- */

static int is_fits_name(const char *path) {
    size_t n = strlen(path);
    return (n > 5 && !strcasecmp(path + n - 5, ".fits")) ||
           (n > 4 && !strcasecmp(path + n - 4, ".fit"));
}

typedef struct {
    fits_table_writer *w;
    const shard_plan *plan;
    int n_out, k, d, id_int;
    int64_t next; /* rows written */
    int64_t *ids; /* (B) scratch */
    char **texts;
    float *fcol;
    int32_t *icol;
    float *dense; /* (B, d) ReLU'd */
} fits_sink;

static int write_fits(void *ctx, const infer_batch *b) {
    fits_sink *fs = ctx;
    int n = b->n, rc = SF_OK;
    for (int i = 0; i < n; i++) {
        const char *id = shard_plan_objid(fs->plan, b->gal[i]);
        if (fs->id_int) fits_id_as_int64(id, &fs->ids[i]);
        fs->texts[i] = (char *)id;
    }
    rc = fits_table_write(fs->w, 0, fs->next, n, fs->id_int ? (void *)fs->ids : (void *)fs->texts);
    for (int t = 0; t < fs->n_out && rc == SF_OK; t++) {
        for (int i = 0; i < n; i++) fs->fcol[i] = b->pred[(size_t)i * fs->n_out + t];
        rc = fits_table_write(fs->w, 1 + t, fs->next, n, fs->fcol);
    }
    int c0 = 1 + fs->n_out;
    if (fs->k == 0 && rc == SF_OK) {
        for (size_t i = 0; i < (size_t)n * fs->d; i++)
            fs->dense[i] = b->dense[i] > 0 ? b->dense[i] : 0;
        rc = fits_table_write(fs->w, c0, fs->next, n, fs->dense);
    }
    for (int j = 0; j < fs->k && rc == SF_OK; j++) {
        for (int i = 0; i < n; i++) fs->icol[i] = b->feat_idx[(size_t)i * fs->k + j];
        rc = fits_table_write(fs->w, c0 + 2 * j, fs->next, n, fs->icol);
        for (int i = 0; i < n; i++) fs->fcol[i] = b->feat_val[(size_t)i * fs->k + j];
        if (rc == SF_OK) rc = fits_table_write(fs->w, c0 + 2 * j + 1, fs->next, n, fs->fcol);
    }
    fs->next += n;
    return rc;
}

static int predict_fits(sfnet *m, const weights_meta *wm, const shard_plan *plan,
                        const infer_source *src0, const char *out_path, int quiet) {
    int n = plan->n;
    int no = m->cfg.n_out, k = m->cfg.k, d = m->d, B = m->max_batch;
    int id_int = 1, id_width = 1;
    for (int i = 0; i < n; i++) {
        int64_t v;
        const char *id = shard_plan_objid(plan, i);
        if (!fits_id_as_int64(id, &v)) id_int = 0;
        if ((int)strlen(id) > id_width) id_width = (int)strlen(id);
    }
    int n_cols = 1 + no + (k > 0 ? 2 * k : 1);
    fits_col *cols = xcalloc((size_t)n_cols, sizeof *cols);
    snprintf(cols[0].name, sizeof cols[0].name, "OBJID");
    cols[0].kind = id_int ? FITS_COL_INT64 : FITS_COL_TEXT;
    cols[0].repeat = id_int ? 1 : id_width;
    for (int t = 0; t < no; t++) {
        if (wm->n_targets == no)
            snprintf(cols[1 + t].name, sizeof cols[0].name, "%.70s", wm->targets[t]);
        else snprintf(cols[1 + t].name, sizeof cols[0].name, "OUT_%d", t);
        cols[1 + t].kind = FITS_COL_FLOAT;
        cols[1 + t].repeat = 1;
    }
    for (int j = 0; j < k; j++) {
        fits_col *f = &cols[1 + no + 2 * j];
        snprintf(f[0].name, sizeof f[0].name, "FEATURE_%d", j + 1);
        f[0].kind = FITS_COL_INT32;
        f[0].repeat = 1;
        snprintf(f[1].name, sizeof f[1].name, "VALUE_%d", j + 1);
        f[1].kind = FITS_COL_FLOAT;
        f[1].repeat = 1;
    }
    if (k == 0) {
        snprintf(cols[1 + no].name, sizeof cols[0].name, "ACTIVATIONS");
        cols[1 + no].kind = FITS_COL_FLOAT;
        cols[1 + no].repeat = d;
    }
    char k_text[16], d_text[16];
    snprintf(k_text, sizeof k_text, "%d", k);
    snprintf(d_text, sizeof d_text, "%d", d);
    const char *cards[] = {"TOPK", k_text, "NFEAT", d_text, "CATALOG", plan->columns.path, NULL};
    fits_sink fs = {.plan = plan, .n_out = no, .k = k, .d = d, .id_int = id_int};
    int rc =
        fits_table_create(&fs.w, out_path, "PREDICTIONS", cols, n_cols, cards) == SF_OK ? 0 : 1;
    free(cols);
    if (rc) {
        sf_warn("%s", sf_last_error());
        return 1;
    }
    fs.ids = xmalloc((size_t)B * sizeof *fs.ids);
    fs.texts = xmalloc((size_t)B * sizeof *fs.texts);
    fs.fcol = xmalloc((size_t)B * sizeof *fs.fcol);
    fs.icol = xmalloc((size_t)B * sizeof *fs.icol);
    fs.dense = k == 0 ? xmalloc((size_t)B * (size_t)d * sizeof *fs.dense) : NULL;
    infer_source src = *src0;
    src.path = plan_path;
    src.path_ctx = (void *)plan;
    src.n = n;
    src.want_dense = k == 0;
    infer_stats st;
    if (infer_pipe_run(m, &src, write_fits, &fs, &st) != SF_OK) {
        sf_warn("%s: %s", out_path, sf_last_error());
        rc = 1;
    } else if (st.interrupted) {
        sf_warn("interrupted after %d galaxies; nothing written to %s", st.n_done, out_path);
        rc = 130;
    } else if (st.n_done == 0 && plan->shard.count == 1) {
        sf_warn("no galaxy of %s has a usable image", plan->columns.path);
        rc = 1;
    }
    if (fits_table_close(fs.w, rc == 0) != SF_OK && rc == 0) {
        sf_warn("%s", sf_last_error());
        rc = 1;
    }
    if (rc == 0 && !quiet)
        fprintf(stderr,
                "sfnet-explore: %d galaxies predicted (%d corrupt images skipped) in "
                "%.1f s: %.1f galaxies/s -> %s\n",
                st.n_done, st.n_corrupt, st.seconds, st.seconds > 0 ? st.n_done / st.seconds : 0,
                out_path);
    free(fs.ids);
    free(fs.texts);
    free(fs.fcol);
    free(fs.icol);
    free(fs.dense);
    return rc;
}

/* The FITS cutout stretch a run was built with (its settings' "fits_rgb"); rgb is
 * left as it is for a run that has none. */
static int run_stretch(store *s, const char *spec, fits_rgb *rgb) {
    store_run run;
    if (store_run_find(s, spec, &run) != SF_OK) return SF_ERR;
    cJSON *h = run.hyper_json ? cJSON_Parse(run.hyper_json) : NULL;
    const cJSON *o = cJSON_GetObjectItem(h, "fits_rgb");
    int rc = SF_OK;
    if (o) {
        char *text = cJSON_PrintUnformatted(o);
        rc = fits_rgb_from_json(rgb, text);
        free(text);
        if (rc != SF_OK) sf_fail_prefix(run.prefix);
    }
    cJSON_Delete(h);
    store_run_clear(&run);
    return rc;
}

/* ---- a run in a database -------------------------------------------------------- */

/* The target spec whose outputs are the weights' target names: a preset when its
 * names match, else the names as columns. */
static void spec_from_names(const weights_meta *wm, const catalog *cat, char *spec, size_t n) {
    static const char *const presets[] = {"metallicity", "bpt_lines"};
    for (size_t p = 0; p < sizeof presets / sizeof *presets; p++) {
        target_set ts;
        if (targets_prepare(&ts, cat, presets[p]) != SF_OK) continue;
        int same = ts.n_targets == wm->n_targets;
        for (int t = 0; same && t < ts.n_targets; t++) same = !strcmp(ts.names[t], wm->targets[t]);
        targets_free(&ts);
        if (same) {
            snprintf(spec, n, "%s", presets[p]);
            return;
        }
    }
    spec[0] = 0;
    for (int t = 0; t < wm->n_targets; t++)
        snprintf(spec + strlen(spec), n - strlen(spec), "%s%s", t ? "," : "", wm->targets[t]);
}

/* The run's settings as predict made it: where the weights came from, the input
 * pipeline (the FITS stretch too), and what a merge of shards checks: the galaxies the
 * split was drawn over and which slice this is. */
static char *build_hyper(const weights_meta *wm, const char *from, int batch, const fits_rgb *rgb,
                         const shard_plan *plan) {
    cJSON *h = cJSON_CreateObject();
    char *rgb_json = fits_rgb_to_json(rgb);
    cJSON_AddItemToObject(h, "fits_rgb", cJSON_Parse(rgb_json));
    free(rgb_json);
    cJSON_AddStringToObject(h, "built_from", from);
    cJSON_AddNumberToObject(h, "batch", batch);
    cJSON_AddNumberToObject(h, "resize", wm->resize);
    cJSON_AddNumberToObject(h, "crop", wm->crop);
    cJSON_AddNumberToObject(h, "k", wm->k);
    cJSON_AddNumberToObject(h, "width", wm->width);
    cJSON_AddNumberToObject(h, "split_over", plan->n_all);
    if (plan->shard.count > 1) {
        char shard[64];
        snprintf(shard, sizeof shard, "%d/%d", plan->shard.index, plan->shard.count);
        cJSON_AddStringToObject(h, "shard", shard);
    }
    char *s = cJSON_PrintUnformatted(h);
    cJSON_Delete(h);
    return s;
}

typedef struct {
    const char *db, *name, *target, *from, *catalog_name;
    catalog_stream *rows; /* the catalogue the plan was built from */
    uint64_t split_seed;
    int batch;
    nn_engine_kind engine;
    const shard_spec *shard;
} into_args;

/* The target spec of the run: --target, or the one whose outputs the weights name.
 * 0, or the exit status after a message. */
static int choose_spec(const weights_meta *wm, int n_out, const catalog *columns,
                       const into_args *a, char *spec, size_t n) {
    if (a->target) snprintf(spec, n, "%s", a->target);
    else if (wm->n_targets == n_out) spec_from_names(wm, columns, spec, n);
    else {
        sf_warn("%s: the weights do not name their outputs: say which they are with --target",
                a->from);
        return 2;
    }
    target_set ts;
    if (targets_prepare(&ts, columns, spec) != SF_OK) {
        sf_warn("%s", sf_last_error());
        return 1;
    }
    int n_targets = ts.n_targets;
    targets_free(&ts);
    if (n_targets != n_out) {
        sf_warn("--target '%s' gives %d outputs but the model has %d", spec, n_targets, n_out);
        return 2;
    }
    return 0;
}

static int predict_into(store *s, sfnet *m, const weights_meta *wm, const uint8_t *weights,
                        size_t weights_len, const shard_plan *plan, const char *spec,
                        const infer_source *src0, const into_args *a) {
    const char *cat_path = plan->columns.path;
    warn_missing(plan);
    if (plan->n == 0 && plan->shard.count > 1) {
        sf_warn("shard %d/%d holds no galaxy of %s that passes the cuts of '%s' and has an "
                "image: %s has no run (merge skips it)",
                plan->shard.index, plan->shard.count, cat_path, spec, a->db);
        return 0;
    }
    if (plan->n == 0) {
        sf_warn("no galaxy of %s passing the cuts of '%s' has an image in %s", cat_path, spec,
                plan->images);
        return 1;
    }
    catalog_stream *rows_st = a->rows;
    store_run_input in;
    infer_run_meta(&in, m, &plan->targets, wm->mean, wm->std, a->catalog_name, plan->images,
                   nn_engine_name(a->engine));
    store_run *r = &in.run;
    snprintf(r->prefix, sizeof r->prefix, "%s", a->name ? a->name : "");
    snprintf(r->target_spec, sizeof r->target_spec, "%s", spec);
    r->split_seed = a->split_seed;
    r->hyper_json = build_hyper(wm, a->from, a->batch, src0->fits_rgb, plan);
    in.weights = weights;
    in.weights_len = weights_len;

    infer_source src = *src0;
    src.n = plan->n;
    src.path = plan_path;
    src.path_ctx = (void *)plan;
    src.want_thumbs = 1;
    plan_rows pr = {.plan = plan, .st = rows_st};
    infer_galaxies g = {.cat = catalog_stream_columns(rows_st),
                        .n = plan->n,
                        .row = plan_row,
                        .row_ctx = &pr,
                        .truth = plan->truth,
                        .split = plan->split};
    infer_stats st;
    int64_t run_id = 0;
    int rc = 0;
    if (infer_build_run(s, m, &src, &g, &in, &run_id, &st) != SF_OK) {
        if (st.interrupted)
            sf_warn("interrupted after %d of %d galaxies: %s is unchanged", st.n_done, plan->n,
                    a->db);
        else sf_warn("%s; %s is unchanged", sf_last_error(), a->db);
        rc = st.interrupted ? 130 : 1;
    } else {
        store_run run;
        if (store_run_get(s, run_id, &run) == SF_OK) {
            printf("run %s (id %lld) added to %s: %d galaxies (%d validation)", run.prefix,
                   (long long)run.id, sf_shown(a->db), run.n_galaxies, run.n_valid);
            if (run.n_valid > 0) printf(", validation RMSE %.4f\n", run.valid_rmse);
            else
                printf(", no validation RMSE%s\n",
                       plan->shard.count > 1 ? " (the validation galaxies are in other shards)"
                                             : "");
            store_run_clear(&run);
        }
        if (plan->shard.count > 1)
            fprintf(stderr,
                    "sfnet-explore: shard %d/%d: %d of the catalogue's %d galaxies "
                    "with an image\n",
                    plan->shard.index, plan->shard.count, plan->n, plan->n_all);
        fprintf(stderr,
                "sfnet-explore: %d galaxies in %.1f s: %.1f galaxies/s (the network "
                "alone: %.1f/s); %d corrupt images skipped\n",
                st.n_done, st.seconds, st.seconds > 0 ? st.n_done / st.seconds : 0,
                st.network_seconds > 0 ? st.n_done / st.network_seconds : 0, st.n_corrupt);
    }
    free(r->hyper_json);
    return rc;
}

/* The weights of run spec of the database, parsed from the bytes it keeps. */
static int run_weights(store *s, const char *db, const char *spec, st_file *f) {
    store_run run;
    if (store_run_find(s, spec, &run) != SF_OK) return SF_ERR;
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = store_run_weights(s, run.id, &data, &len);
    char label[4200];
    snprintf(label, sizeof label, "%s: the weights of run %s", db, run.prefix);
    store_run_clear(&run);
    if (rc != SF_OK) return SF_ERR;
    return st_parse(f, label, data, len);
}

/* --from-run RUN: a run of the --into database s; FILE.db:RUN (or FILE.db: for its
 * only run): a run of another database, opened read-only. Gives the run's weights and
 * the FITS cutout stretch it was built with (rgb left alone when it has none). */
static int from_run_read(store *s, const char *db, const char *from, st_file *f, fits_rgb *rgb) {
    const char *colon = strrchr(from, ':');
    if (!colon) {
        if (run_stretch(s, from, rgb) != SF_OK) return SF_ERR;
        return run_weights(s, db, from, f);
    }
    char path[4096];
    if ((size_t)(colon - from) >= sizeof path)
        return sf_fail("--from-run '%s': path too long", from);
    memcpy(path, from, (size_t)(colon - from));
    path[colon - from] = 0;
    store *other;
    if (store_open(&other, path, STORE_READ) != SF_OK) return SF_ERR;
    const char *spec = colon[1] ? colon + 1 : NULL;
    int rc = run_stretch(other, spec, rgb);
    if (rc == SF_OK) rc = run_weights(other, path, spec, f);
    store_close(other);
    return rc;
}

int cli_predict(int argc, char **argv) {
    static const struct option opts[] = {
        {"weights", required_argument, NULL, 'w'},
        {"images", required_argument, NULL, 'i'},
        {"output", required_argument, NULL, 'o'},
        {"batch", required_argument, NULL, 'b'},
        {"quiet", no_argument, NULL, 'q'},
        {"k", required_argument, NULL, 'K'},
        {"width", required_argument, NULL, 'W'},
        {"n-out", required_argument, NULL, 'N'},
        {"resize", required_argument, NULL, 'R'},
        {"crop", required_argument, NULL, 'C'},
        {"mean", required_argument, NULL, 'M'},
        {"std", required_argument, NULL, 'S'},
        {"targets", required_argument, NULL, 'T'},
        {"engine", required_argument, NULL, 'e'},
        {"help", no_argument, NULL, 'h'},
        {"into", required_argument, NULL, 'I'},
        {"target", required_argument, NULL, 't'},
        {"name", required_argument, NULL, 'n'},
        {"split-seed", required_argument, NULL, 'P'},
        {"from-run", required_argument, NULL, 'F'},
        {"shard", required_argument, NULL, 'H'},
        CLI_DATA_LONGOPTS,
        CLI_FITS_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    cli_data data;
    cli_data_init(&data);
    const char *weights = NULL, *cat_path = NULL, *dir = NULL, *out_path = NULL;
    const char *from_run = NULL;
    int batch = 64, quiet = 0, c, have_mean = 0, have_std = 0, split_seed = 256;
    into_args ia;
    memset(&ia, 0, sizeof ia);
    shard_spec shard = {0, 1};
    nn_engine_kind engine = NN_ENGINE_ONEDNN;
    weights_meta ov;
    weights_meta_clear(&ov);
    optind = 1;
    while ((c = getopt_long(argc, argv, "w:c:i:o:b:e:t:n:qh", opts, NULL)) != -1) {
        int bad = 0;
        int taken = cli_data_option(&data, c, optarg);
        if (taken < 0) return 2;
        if (taken) continue;
        switch (c) {
        case 'w': weights = optarg; break;
        case 'i': dir = optarg; break;
        case 'o': out_path = optarg; break;
        case 'I': ia.db = optarg; break;
        case 't': ia.target = optarg; break;
        case 'n': ia.name = optarg; break;
        case 'F': from_run = optarg; break;
        case 'q': quiet = 1; break;
        case 'e':
            if (!strcmp(optarg, nn_engine_name(NN_ENGINE_REFERENCE))) engine = NN_ENGINE_REFERENCE;
            else if (!strcmp(optarg, nn_engine_name(NN_ENGINE_ONEDNN))) engine = NN_ENGINE_ONEDNN;
            else {
                fprintf(stderr, "sfnet-explore: --engine '%s': reference or onednn\n", optarg);
                bad = 1;
            }
            break;
        case 'b': bad = sf_parse_option_int("batch", optarg, 1, 4096, &batch); break;
        case 'P':
            bad = sf_parse_option_int("split-seed", optarg, 0, 0x7fffffff, &split_seed);
            break;
        case 'K': bad = sf_parse_option_int("k", optarg, 0, 8192, &ov.k); break;
        case 'W': bad = sf_parse_option_int("width", optarg, 1, 1024, &ov.width); break;
        case 'N': bad = sf_parse_option_int("n-out", optarg, 1, TARGET_MAX, &ov.n_out); break;
        case 'R': bad = sf_parse_option_int("resize", optarg, 8, 8192, &ov.resize); break;
        case 'C': bad = sf_parse_option_int("crop", optarg, 8, 4096, &ov.crop); break;
        case 'M': bad = parse_three("mean", optarg, ov.mean, 0), have_mean = 1; break;
        case 'S': bad = parse_three("std", optarg, ov.std, 1), have_std = 1; break;
        case 'T': bad = parse_targets(optarg, &ov); break;
        case 'H':
            if (shard_parse(optarg, &shard) != SF_OK) {
                fprintf(stderr, "sfnet-explore: %s\n", sf_last_error());
                bad = 1;
            }
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
        if (bad) return 2;
    }
    const char *why = NULL;
    if (cli_data_finish(&data)) cat_path = data.src.files[0];
    if (!cat_path || !dir || optind != argc)
        why = "predict needs --catalog and --images, and no other arguments";
    else if (!weights == !from_run)
        why = "predict needs --weights FILE, or --from-run RUN with --into";
    else if (from_run && !ia.db && !strchr(from_run, ':'))
        why = "--from-run RUN takes a run of the --into database (FILE.db:RUN one of another)";
    else if (!out_path == !ia.db)
        why = "predict writes either CSV (-o FILE) or a run (--into RUN.db)";
    else if (out_path && (ia.target || ia.name))
        why = "--target and --name are for --into (a run in a database)";
    if (why) {
        fprintf(stderr, "sfnet-explore: %s\n", why);
        usage(stderr);
        return 2;
    }
    if (ia.name && store_prefix_check(ia.name) != SF_OK) {
        sf_warn("--name: %s", sf_last_error());
        return 2;
    }
    if (have_mean != have_std) {
        fprintf(stderr, "sfnet-explore: --mean and --std go together\n");
        return 2;
    }
    /* a directory or a socket as -o is refused before any work */
    if (out_path && sf_output_check(out_path) == SF_ERR) {
        sf_warn("%s", sf_last_error());
        return 1;
    }
    ov.has_norm = have_mean && have_std;
    if (ov.crop >= 0) ov.in_size = ov.crop;
    if (quiet) sf_progress_quiet = 1;

    store *s = NULL;
    if (ia.db && store_open(&s, ia.db, STORE_CREATE) != SF_OK) {
        sf_warn("%s", sf_last_error());
        return 1;
    }
    if (s && ia.name) {
        /* refuse a taken name before the work */
        store_run existing;
        if (store_run_find(s, ia.name, &existing) == SF_OK) {
            sf_warn("%s already has a run named '%s': choose another --name", ia.db, ia.name);
            store_run_clear(&existing);
            store_close_unless_used(s);
            return 1;
        }
    }
    /* the weights file, read once: parsed for the model, and its bytes kept with a run;
     * a run's weights come with its stretch, any --fits-* given applied over it */
    st_file wf;
    fits_rgb base = data.rgb;
    if ((from_run ? from_run_read(s, ia.db, from_run, &wf, &base) : st_open(&wf, weights)) !=
        SF_OK) {
        sf_warn("%s", sf_last_error());
        store_close_unless_used(s);
        return 1;
    }
    if (from_run && cli_data_rebase(&data, &base) != SF_OK) {
        sf_warn("%s", sf_last_error());
        st_close(&wf);
        store_close_unless_used(s);
        return 1;
    }
    weights_meta wm;
    /* predict only runs the model forward: no gradients or backward buffers */
    sfnet *m = weights_load_model_from(&wf, &ov, batch, engine, 1, &wm);
    if (!m) {
        sf_warn("%s", sf_last_error());
        st_close(&wf);
        store_close_unless_used(s);
        return 1;
    }
    if (!s) st_close(&wf); /* the bytes are kept only for a run */

    infer_source src;
    memset(&src, 0, sizeof src);
    src.resize = wm.resize;
    for (int ch = 0; ch < 3; ch++) {
        src.mean[ch] = wm.mean[ch];
        src.std[ch] = wm.std[ch];
    }
    src.quiet = quiet;
    src.label = "predict";
    char from[4200];
    if (from_run) snprintf(from, sizeof from, "run %s", from_run);
    else {
        char *abs = realpath(weights, NULL);
        snprintf(from, sizeof from, "%s", abs ? abs : weights);
        free(abs);
    }
    ia.from = from;
    ia.split_seed = (uint64_t)split_seed;
    ia.batch = batch;
    ia.engine = engine;
    ia.shard = &shard;
    ia.catalog_name =
        data.src.n_files > 1 || data.src.join_column || data.src.id_column ? data.desc : cat_path;
    src.fits_rgb = &data.rgb;

    /* the galaxies: one pass over the catalogue, keeping only what the run needs */
    int rc = 0;
    char spec[1024] = "";
    catalog_stream *cat_st = NULL;
    if (catalog_stream_open_sources(&cat_st, &data.src) != SF_OK) {
        sf_warn("%s", sf_last_error());
        rc = 1;
    }
    if (rc == 0 && s)
        rc = choose_spec(&wm, m->cfg.n_out, catalog_stream_columns(cat_st), &ia, spec, sizeof spec);
    shard_plan plan;
    memset(&plan, 0, sizeof plan);
    if (rc == 0 && shard_plan_build(&plan, cat_st, s ? spec : NULL, dir, &shard,
                                    (uint64_t)split_seed, s ? 0.2 : -1) != SF_OK) {
        sf_warn("%s", sf_last_error());
        rc = 1;
    }
    if (rc == 0 && s) {
        /* another command may be writing into the same file: wait for it */
        const char *env = getenv("SFNET_BUSY_TIMEOUT_MS");
        if (!env || !*env) store_set_busy_timeout(s, 600000);
        ia.rows = cat_st;
        rc = predict_into(s, m, &wm, wf.buf, wf.len, &plan, spec, &src, &ia);
    } else if (rc == 0) {
        /* the plan holds what -o writes: the catalogue is no longer needed */
        catalog_stream_close(cat_st);
        cat_st = NULL;
        warn_missing(&plan);
        rc = is_fits_name(out_path) ? predict_fits(m, &wm, &plan, &src, out_path, quiet)
                                    : predict_csv(m, &wm, &plan, &src, out_path, quiet);
    }
    shard_plan_free(&plan);
    catalog_stream_close(cat_st);
    st_close(&wf);
    sfnet_free(m);
    store_close_unless_used(s);
    return rc;
}
