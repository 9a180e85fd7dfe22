/* cli_runs.c: `sfnet-explore runs DB`: the runs a database holds. */
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
    fprintf(out,
            "Usage: sfnet-explore runs [--json|--csv] DB\n"
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
        {"json", no_argument, NULL, 'j'},
        {"csv", no_argument, NULL, 'c'},
        {"delete", required_argument, NULL, 'D'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    query_format fmt = QUERY_TEXT;
    const char *delete_spec = NULL;
    int c;
    optind = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'j': fmt = QUERY_JSON; break;
        case 'c': fmt = QUERY_CSV; break;
        case 'D': delete_spec = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (argc - optind != 1) {
        usage(stderr);
        return 2;
    }
    store *s = NULL;
    if (delete_spec) {
        if (query_cli_open(argv[optind], STORE_WRITE, &s) != SF_OK) return 1;
        store_run r;
        int rc = 0;
        if (store_run_find(s, delete_spec, &r) != SF_OK || store_delete_run(s, r.id) != SF_OK) {
            sf_warn("%s", sf_last_error());
            rc = 1;
        } else {
            printf("deleted run %s (id %lld) from %s\n", r.prefix, (long long)r.id, sf_shown(argv[optind]));
        }
        store_run_clear(&r);
        store_close(s);
        return rc;
    }
    if (query_cli_open(argv[optind], STORE_READ, &s) != SF_OK) return 1;
    store_run *runs = NULL;
    int n = 0;
    if (store_runs(s, &runs, &n) != SF_OK) {
        sf_warn("%s", sf_last_error());
        store_close(s);
        return 1;
    }
    /* JSON and CSV also carry what reproduces the run */
    static const char *const cols[] = {"id", "prefix", "targets", "k", "d", "galaxies",
                                       "train", "valid", "train_rmse", "valid_rmse",
                                       "epochs", "engine", "created", "width", "seed",
                                       "split_seed", "train_seconds", "catalog", "images",
                                       "tool_version", "hyper"};
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
        if (epochs >= 0)
            query_table_int(t, epochs);
        else
            query_table_text(t, NULL);
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
    int rc = query_cli_print(t, fmt);
    if (rc == 0 && n == 0 && fmt == QUERY_TEXT) printf("(no runs yet: sfnet-explore --train ... %s)\n", sf_shown(argv[optind]));
    query_table_free(t);
    store_runs_free(runs, n);
    store_close(s);
    return rc;
}
