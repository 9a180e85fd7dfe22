/* cli_galaxy.c: `sfnet-explore galaxy DB OBJID [--run RUN]`: one galaxy in every run.
 * Layer: cli. Calls: cli_common, query, query_table, store, store_read, sf_util; cJSON.
 * Called by: main.
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "cli.h"
#include "query.h"
#include "sf_util.h"
#include "store.h"

static void usage(FILE *out) {
    fprintf(
        out,
        "Usage: sfnet-explore galaxy [--run RUN] [--json|--csv] DB OBJID\n"
        "       sfnet-explore galaxy --similar [--number N] [--run RUN] [--json|--csv] DB OBJID\n"
        "\n"
        "One galaxy: its coordinates and catalogue values, and for each run that saw\n"
        "it (or only RUN) its split, prediction and truth per target, and its active\n"
        "features with activation, scaled activation A and contribution to each\n"
        "prediction (std * w * a, in target units; the prediction is the intercept\n"
        "plus these contributions).\n"
        "\n"
        "With --similar, the N galaxies nearest it in each run by their sparse codes:\n"
        "cosine similarity of the activations over the features active in either\n"
        "(only galaxies sharing an active feature can be near), with how many active\n"
        "features the two share and the neighbour's split. The explorer's galaxy page\n"
        "shows them as thumbnails.\n"
        "\n"
        "Options:\n"
        "  -r, --run RUN   only this run (prefix or id)\n"
        "      --similar   the most similar galaxies instead\n"
        "  -n, --number N  how many similar galaxies (default 12)\n"
        "      --json      JSON (one object)\n"
        "      --csv       CSV, one row per run and active feature\n"
        "  -h, --help      show this help\n");
}

/* One run's view of the galaxy, with the weights of its active features. */
typedef struct {
    store_run run;
    store_galaxy_run gr;
    double *weight; /* (n_active, n_out) */
} galaxy_view;

static int load_view(store *s, int64_t run_id, int64_t galaxy_id, galaxy_view *v) {
    memset(v, 0, sizeof *v);
    if (store_run_get(s, run_id, &v->run) != SF_OK) return SF_ERR;
    if (store_galaxy_in_run(s, run_id, galaxy_id, &v->gr) != SF_OK) return SF_ERR;
    v->weight = xcalloc((size_t)(v->gr.n_active + 1) * (size_t)v->run.n_out, sizeof *v->weight);
    for (int j = 0; j < v->gr.n_active; j++) {
        store_feature f;
        if (store_feature_get(s, run_id, v->gr.feature[j], &f) != SF_OK) return SF_ERR;
        for (int t = 0; t < v->run.n_out; t++) v->weight[j * v->run.n_out + t] = f.weight[t];
    }
    return SF_OK;
}

static void free_view(galaxy_view *v) {
    store_run_clear(&v->run);
    store_galaxy_run_clear(&v->gr);
    free(v->weight);
}

static double contribution(const galaxy_view *v, int j, int t) {
    return v->run.target_std[t] * v->weight[j * v->run.n_out + t] * v->gr.value[j];
}

static int print_json(const store_galaxy *g, const galaxy_view *views, int nv) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "objid", g->objid);
    cli_json_num(root, "ra", g->ra);
    cli_json_num(root, "dec", g->dec);
    cJSON *cat = cJSON_AddObjectToObject(root, "catalog");
    for (int c = 0; c < g->n_columns; c++) cli_json_num(cat, g->column_names[c], g->values[c]);
    cJSON *runs = cJSON_AddArrayToObject(root, "runs");
    for (int i = 0; i < nv; i++) {
        const galaxy_view *v = &views[i];
        cJSON *r = cJSON_CreateObject();
        cJSON_AddStringToObject(r, "run", v->run.prefix);
        cJSON_AddNumberToObject(r, "run_id", (double)v->run.id);
        cJSON_AddStringToObject(r, "split", v->gr.split ? "valid" : "train");
        cJSON *targets = cJSON_AddArrayToObject(r, "targets");
        for (int t = 0; t < v->gr.n_out; t++) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "name", v->run.target_names[t]);
            cli_json_num(o, "prediction", v->gr.pred[t]);
            cli_json_num(o, "truth", v->gr.truth[t]);
            cli_json_num(o, "intercept",
                         v->run.target_mean[t] + v->run.target_std[t] * v->run.bias[t]);
            cJSON_AddItemToArray(targets, o);
        }
        cJSON *feats = cJSON_AddArrayToObject(r, "features");
        for (int j = 0; j < v->gr.n_active; j++) {
            cJSON *o = cJSON_CreateObject();
            char name[STORE_PREFIX_MAX + 16];
            query_feature_name(&v->run, v->gr.feature[j], name, sizeof name);
            cJSON_AddStringToObject(o, "feature", name);
            cJSON_AddNumberToObject(o, "index", v->gr.feature[j]);
            cli_json_num(o, "value", v->gr.value[j]);
            cli_json_num(o, "scaled", v->gr.scaled[j]);
            double contrib[STORE_MAX_TARGETS];
            for (int t = 0; t < v->run.n_out; t++) contrib[t] = contribution(v, j, t);
            cJSON_AddItemToObject(o, "contribution",
                                  cJSON_CreateDoubleArray(contrib, v->run.n_out));
            cJSON_AddItemToArray(feats, o);
        }
        cJSON_AddItemToArray(runs, r);
    }
    return cli_print_json(root);
}

/* One row per run and active feature (a run without active features: one row). */
static query_table *feature_table(const galaxy_view *views, int nv, int max_out) {
    const char *cols[6 + 3 * STORE_MAX_TARGETS];
    char names[3 * STORE_MAX_TARGETS][24];
    int nc = 0;
    cols[nc++] = "run";
    cols[nc++] = "split";
    cols[nc++] = "feature";
    cols[nc++] = "value";
    cols[nc++] = "scaled";
    for (int t = 0; t < max_out; t++) {
        snprintf(names[3 * t], sizeof names[0], "pred%d", t);
        snprintf(names[3 * t + 1], sizeof names[0], "truth%d", t);
        snprintf(names[3 * t + 2], sizeof names[0], "contrib%d", t);
        cols[nc++] = names[3 * t];
        cols[nc++] = names[3 * t + 1];
        cols[nc++] = names[3 * t + 2];
    }
    query_table *t = query_table_new(nc, cols);
    for (int i = 0; i < nv; i++) {
        const galaxy_view *v = &views[i];
        int rows = v->gr.n_active > 0 ? v->gr.n_active : 1;
        for (int j = 0; j < rows; j++) {
            query_table_text(t, v->run.prefix);
            query_table_text(t, v->gr.split ? "valid" : "train");
            if (j < v->gr.n_active) {
                char name[STORE_PREFIX_MAX + 16];
                query_feature_name(&v->run, v->gr.feature[j], name, sizeof name);
                query_table_text(t, name);
                query_table_num(t, v->gr.value[j], 5);
                query_table_num(t, v->gr.scaled[j], 4);
            } else {
                query_table_text(t, NULL);
                query_table_num(t, NAN, 0);
                query_table_num(t, NAN, 0);
            }
            for (int o = 0; o < max_out; o++) {
                int has = o < v->gr.n_out;
                query_table_num(t, has ? v->gr.pred[o] : NAN, 4);
                query_table_num(t, has ? v->gr.truth[o] : NAN, 4);
                query_table_num(t, has && j < v->gr.n_active ? contribution(v, j, o) : NAN, 4);
            }
        }
    }
    return t;
}

static void print_text(const store_galaxy *g, const galaxy_view *views, int nv) {
    printf("galaxy %s", sf_shown(g->objid));
    if (isfinite(g->ra) && isfinite(g->dec)) printf("  ra %.6f  dec %.6f", g->ra, g->dec);
    printf("\n");
    for (int c = 0; c < g->n_columns; c++)
        printf("  %-20s %.6g\n", sf_shown(g->column_names[c]), g->values[c]);
    for (int i = 0; i < nv; i++) {
        const galaxy_view *v = &views[i];
        printf("\nrun %s (id %lld), %s set\n", v->run.prefix, (long long)v->run.id,
               v->gr.split ? "validation" : "training");
        for (int t = 0; t < v->gr.n_out; t++) {
            double icpt = v->run.target_mean[t] + v->run.target_std[t] * v->run.bias[t];
            printf("  %-20s prediction %.4f  truth %.4f  residual %+.4f  (intercept %.4f)\n",
                   sf_shown(v->run.target_names[t]), v->gr.pred[t], v->gr.truth[t],
                   v->gr.pred[t] - v->gr.truth[t], icpt);
        }
        if (!v->gr.n_active) printf("  no active feature\n");
        for (int j = 0; j < v->gr.n_active; j++) {
            char name[STORE_PREFIX_MAX + 16];
            query_feature_name(&v->run, v->gr.feature[j], name, sizeof name);
            printf("  %-10s a %9.4f  A %6.3f  contribution", name, v->gr.value[j], v->gr.scaled[j]);
            for (int t = 0; t < v->run.n_out; t++) printf(" %+.4f", contribution(v, j, t));
            printf("\n");
        }
    }
}

/* `galaxy --similar`: the nearest galaxies in each run by sparse code. */
static int print_similar(cli_db *db, const store_galaxy *g, const int64_t *run_ids, int n_runs,
                         int number) {
    store *s = db->s;
    query_format fmt = db->fmt;
    static const char *const cols[] = {"run", "rank", "objid", "cosine", "n_common", "split"};
    query_table *t = query_table_new(6, cols);
    query_neighbor *near = xcalloc((size_t)number, sizeof *near);
    int rc = 0, listed = 0;
    for (int r = 0; r < n_runs && rc == 0; r++) {
        store_run run;
        query_neighbors nb;
        int n = 0;
        if (store_run_get(s, run_ids[r], &run) != SF_OK) {
            rc = 1;
            break;
        }
        if (query_neighbors_load(s, run.id, &nb) != SF_OK) {
            store_run_clear(&run);
            rc = 1;
            break;
        }
        if (store_codes_find(&nb.codes, g->id) < 0) {
            sf_fail("galaxy %s is not in run %s", g->objid, run.prefix);
            rc = 1;
        } else if (query_similar_galaxies(s, &nb, g->id, number, near, &n) != SF_OK) {
            rc = 1;
        } else if (n == 0 && fmt == QUERY_TEXT) {
            printf("run %s: galaxy %s has no active feature, so no similar galaxy\n", run.prefix,
                   g->objid);
        }
        for (int i = 0; i < n; i++) {
            query_table_text(t, run.prefix);
            query_table_int(t, i + 1);
            query_table_text(t, near[i].objid);
            query_table_num(t, near[i].cosine, 6);
            query_table_int(t, near[i].n_common);
            query_table_text(t, near[i].split ? "valid" : "train");
            listed++;
        }
        query_neighbors_clear(&nb);
        store_run_clear(&run);
    }
    if (rc == 0 && (fmt != QUERY_TEXT || listed)) {
        if (fmt == QUERY_TEXT)
            printf("galaxies most similar to %s by sparse code (cosine over the active features)\n",
                   g->objid);
        rc = cli_print(db, t);
    } else if (rc) {
        sf_warn("%s", sf_last_error());
    }
    free(near);
    query_table_free(t);
    return rc;
}

int cli_galaxy(int argc, char **argv) {
    static const struct option opts[] = {
        {"run", required_argument, NULL, 'r'},
        {"similar", no_argument, NULL, 'S'},
        {"number", required_argument, NULL, 'n'},
        CLI_OPTIONS_FORMAT,
        CLI_OPTIONS_END,
    };
    cli_db db = {.usage = usage};
    const char *run_spec = NULL;
    int c, rc, similar = 0, number = 12;
    optind = 0;
    while ((c = getopt_long(argc, argv, "r:n:h", opts, NULL)) != -1) {
        switch (c) {
        case 'r': run_spec = optarg; break;
        case 'S': similar = 1; break;
        case 'n':
            if (sf_parse_option_int("n", optarg, 1, 100000, &number) != SF_OK) return 2;
            break;
        default:
            if ((rc = cli_option_common(&db, c)) != CLI_CONTINUE) return rc;
        }
    }
    if (argc - optind != 2) return cli_usage_error(&db);
    if (cli_open(&db, argv[optind], STORE_READ)) return 1;
    store *s = db.s;
    query_format fmt = db.fmt;
    store_galaxy g;
    int64_t *run_ids = NULL;
    int n_runs = 0;
    rc = 1;
    galaxy_view *views = NULL;
    int nv = 0;
    if (store_galaxy_find(s, argv[optind + 1], &g) != SF_OK) return cli_fail(&db);
    if (run_spec) {
        store_run r;
        if (store_run_find(s, run_spec, &r) != SF_OK) goto fail;
        run_ids = xmalloc(sizeof *run_ids);
        run_ids[0] = r.id;
        n_runs = 1;
        store_run_clear(&r);
    } else if (store_galaxy_runs(s, g.id, &run_ids, &n_runs) != SF_OK) {
        goto fail;
    }
    if (similar) {
        rc = print_similar(&db, &g, run_ids, n_runs, number);
        goto done;
    }
    views = xcalloc((size_t)(n_runs + 1), sizeof *views);
    int max_out = 1;
    for (int i = 0; i < n_runs; i++) {
        if (load_view(s, run_ids[i], g.id, &views[nv]) != SF_OK) {
            nv++;
            goto fail;
        }
        if (views[nv].gr.n_out == 0) {
            if (run_spec) {
                sf_fail("galaxy %s is not in run %s", g.objid, views[nv].run.prefix);
                nv++;
                goto fail;
            }
            free_view(&views[nv]);
            continue;
        }
        if (views[nv].gr.n_out > max_out) max_out = views[nv].gr.n_out;
        nv++;
    }
    if (fmt == QUERY_JSON) {
        rc = print_json(&g, views, nv);
    } else if (fmt == QUERY_CSV) {
        query_table *t = feature_table(views, nv, max_out);
        rc = cli_print(&db, t);
        query_table_free(t);
    } else {
        print_text(&g, views, nv);
        rc = ferror(stdout) ? 1 : 0;
    }
    goto done;
fail:
    sf_warn("%s", sf_last_error());
    rc = 1;
done:
    for (int i = 0; i < nv; i++) free_view(&views[i]);
    free(views);
    free(run_ids);
    store_galaxy_clear(&g);
    cli_close(&db);
    return rc;
}
