/* cli_runs.c: `sfnet-explore runs DB`: the runs a database holds.
 * Layer: cli. Calls: cli_common, query_table, store; cJSON.
 * Called by: main.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "cli.h"
#include "query.h"
#include "sf_util.h"
#include "store.h"

static void usage(FILE *out) {
    fprintf(out, "Usage: sfnet-explore runs [--json|--csv] DB\n"
                 "       sfnet-explore runs --delete RUN DB\n"
                 "\n"
                 "Lists the runs (trained models) in the run database DB: id, prefix (features\n"
                 "are named \"<prefix> <n>\", e.g. Z 256), targets, k, d, galaxies (train/valid),\n"
                 "RMSE, epochs, when it was made. --delete removes a run (its activations,\n"
                 "predictions, statistics, labels and weights; the galaxies stay).\n"
                 "\n"
                 "Options:\n"
                 "      --json      JSON (an array of objects)\n"
                 "      --csv       CSV\n"
                 "      --delete RUN  delete the run RUN (prefix or id)\n"
                 "  -h, --help      show this help\n");
}

static int hyper_int(const char *json, const char *key) {
    cJSON *root = cJSON_Parse(json);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    int r = cJSON_IsNumber(v) ? v->valueint : -1;
    cJSON_Delete(root);
    return r;
}

int cli_runs(int argc, char **argv) {
    static const struct option opts[] = {
        CLI_OPTIONS_FORMAT,
        {"delete", required_argument, NULL, 'D'},
        CLI_OPTIONS_END,
    };
    cli_db db = {.usage = usage};
    const char *delete_spec = NULL;
    int c, rc;
    optind = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'D': delete_spec = optarg; break;
        default:
            if ((rc = cli_option_common(&db, c)) != CLI_CONTINUE) return rc;
        }
    }
    if (argc - optind != 1) return cli_usage_error(&db);
    query_format fmt = db.fmt;
    if (delete_spec) {
        if (cli_open_run(&db, argv[optind], STORE_WRITE, delete_spec)) return 1;
        if (store_delete_run(db.s, db.run.id) != SF_OK) return cli_fail(&db);
        printf("deleted run %s (id %lld) from %s\n", db.run.prefix, (long long)db.run.id,
               sf_shown(argv[optind]));
        cli_close(&db);
        return 0;
    }
    if (cli_open(&db, argv[optind], STORE_READ)) return 1;
    store_run *runs = NULL;
    int n = 0;
    if (store_runs(db.s, &runs, &n) != SF_OK) return cli_fail(&db);
    /* JSON and CSV also carry what reproduces the run */
    static const char *const cols[] = {
        "id",    "prefix",     "targets",       "k",       "d",      "galaxies",     "train",
        "valid", "train_rmse", "valid_rmse",    "epochs",  "engine", "created",      "width",
        "seed",  "split_seed", "train_seconds", "catalog", "images", "tool_version", "hyper"};
    int full = fmt != QUERY_TEXT;
    query_table *t = query_table_new(full ? 21 : 13, cols);
    for (int i = 0; i < n; i++) {
        const store_run *r = &runs[i];
        char targets[STORE_MAX_TARGETS * STORE_NAME_MAX] = "";
        size_t used = 0;
        for (int o = 0; o < r->n_out && used + 1 < sizeof targets; o++)
            used += (size_t)snprintf(targets + used, sizeof targets - used, "%s%s", o ? "," : "",
                                     r->target_names[o]);
        query_table_int(t, r->id);
        query_table_text(t, r->prefix);
        query_table_text(t, targets);
        query_table_int(t, r->k);
        query_table_int(t, r->d);
        query_table_int(t, r->n_galaxies);
        query_table_int(t, r->n_train);
        query_table_int(t, r->n_valid);
        query_table_num(t, r->train_rmse, 4);
        query_table_num(t, r->valid_rmse, 4);
        int epochs = hyper_int(r->hyper_json, "epochs");
        if (epochs >= 0) query_table_int(t, epochs);
        else query_table_text(t, NULL);
        query_table_text(t, r->engine);
        query_table_text(t, r->created);
        if (!full) continue;
        query_table_int(t, r->width);
        query_table_int(t, (long long)r->seed);
        query_table_int(t, (long long)r->split_seed);
        query_table_num(t, r->train_seconds, 1);
        query_table_text(t, r->catalog);
        query_table_text(t, r->images);
        query_table_text(t, r->tool_version);
        query_table_text(t, r->hyper_json);
    }
    rc = cli_print(&db, t);
    if (rc == 0 && n == 0 && fmt == QUERY_TEXT)
        printf("(no runs yet: sfnet-explore --train ... %s)\n", argv[optind]);
    query_table_free(t);
    store_runs_free(runs, n);
    cli_close(&db);
    return rc;
}
