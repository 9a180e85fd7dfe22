/* cli_equation.c: `sfnet-explore equation DB [RUN]`: the prediction as a sum of features.
 * Layer: cli. Calls: cli_common, query, query_table, sf_util; cJSON.
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
    fprintf(out, "Usage: sfnet-explore equation [--terms N] [--rmse] [--json|--csv] DB [RUN]\n"
                 "\n"
                 "Writes each target as the paper's Figure 3 does:\n"
                 "  target = c + w'_1 A_1 + w'_2 A_2 + ...\n"
                 "over the most frequent features (f_activated on the validation set), where A\n"
                 "is the activation scaled to [0, 1] by its validation maximum, c and w' in the\n"
                 "target's units. Then the validation RMSE using only the top 1, 2, 4, 8 and all\n"
                 "features (the others' activations set to zero, the stored head applied); with\n"
                 "all of them it equals the model's validation RMSE.\n"
                 "\n"
                 "Options:\n"
                 "  -t, --terms N   terms written in the equation (default 8)\n"
                 "      --rmse      CSV: the RMSE table instead of the terms\n"
                 "      --json      JSON (one object)\n"
                 "      --csv       CSV of the terms\n"
                 "  -h, --help      show this help\n");
}

static int print_json(const query_equation *eq) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "run", eq->prefix);
    cJSON_AddNumberToObject(root, "run_id", (double)eq->run_id);
    cJSON_AddNumberToObject(root, "n_valid", eq->n_valid);
    cJSON *targets = cJSON_AddArrayToObject(root, "targets");
    for (int t = 0; t < eq->n_out; t++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", eq->target_names[t]);
        cli_json_num(o, "intercept", eq->intercept[t]);
        cJSON_AddItemToArray(targets, o);
    }
    cJSON *terms = cJSON_AddArrayToObject(root, "terms");
    for (int i = 0; i < eq->n_terms; i++) {
        const query_term *q = &eq->terms[i];
        cJSON *o = cJSON_CreateObject();
        char name[STORE_PREFIX_MAX + 16];
        snprintf(name, sizeof name, "%s %d", eq->prefix, q->feature);
        cJSON_AddStringToObject(o, "feature", name);
        cJSON_AddNumberToObject(o, "index", q->feature);
        cli_json_num(o, "f_activated", q->f_activated);
        cli_json_num(o, "max_valid", q->max_valid);
        cJSON_AddItemToObject(o, "weight", cJSON_CreateDoubleArray(q->weight, eq->n_out));
        cJSON_AddItemToObject(o, "coef", cJSON_CreateDoubleArray(q->coef, eq->n_out));
        cJSON_AddItemToObject(o, "mean_contribution",
                              cJSON_CreateDoubleArray(q->mean_contrib, eq->n_out));
        if (q->label[0]) cJSON_AddStringToObject(o, "label", q->label);
        cJSON_AddItemToArray(terms, o);
    }
    cJSON *rmse = cJSON_AddArrayToObject(root, "rmse");
    for (int L = 0; L < eq->n_levels; L++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "features", eq->level_terms[L]);
        cli_json_num(o, "rmse", eq->rmse[L]);
        double per[STORE_MAX_TARGETS];
        for (int t = 0; t < eq->n_out; t++) per[t] = eq->rmse_t[L][t];
        cJSON_AddItemToObject(o, "per_target", cJSON_CreateDoubleArray(per, eq->n_out));
        cJSON_AddItemToArray(rmse, o);
    }
    cli_json_num(root, "model_valid_rmse", eq->model_valid_rmse);
    return cli_print_json(root);
}

static query_table *terms_table(const query_equation *eq, int n_rows) {
    const char *cols[4 + 2 * STORE_MAX_TARGETS];
    char names[2 * STORE_MAX_TARGETS][STORE_NAME_MAX + 16];
    int nc = 0;
    cols[nc++] = "feature";
    cols[nc++] = "f_activated";
    for (int t = 0; t < eq->n_out; t++) {
        snprintf(names[2 * t], sizeof names[0], "coef_%s", eq->target_names[t]);
        snprintf(names[2 * t + 1], sizeof names[0], "mean_contrib_%s", eq->target_names[t]);
        cols[nc++] = names[2 * t];
        cols[nc++] = names[2 * t + 1];
    }
    cols[nc++] = "label";
    query_table *t = query_table_new(nc, cols);
    for (int i = 0; i < eq->n_terms && i < n_rows; i++) {
        const query_term *q = &eq->terms[i];
        char name[STORE_PREFIX_MAX + 16];
        snprintf(name, sizeof name, "%s %d", eq->prefix, q->feature);
        query_table_text(t, name);
        query_table_num(t, q->f_activated, 4);
        for (int o = 0; o < eq->n_out; o++) {
            query_table_num(t, q->coef[o], 5);
            query_table_num(t, q->mean_contrib[o], 5);
        }
        query_table_text(t, q->label);
    }
    return t;
}

static query_table *rmse_table(const query_equation *eq) {
    const char *cols[2 + STORE_MAX_TARGETS];
    char names[STORE_MAX_TARGETS][STORE_NAME_MAX + 8];
    int nc = 0;
    cols[nc++] = "features";
    cols[nc++] = "rmse";
    for (int t = 0; t < eq->n_out && eq->n_out > 1; t++) {
        snprintf(names[t], sizeof names[0], "rmse_%s", eq->target_names[t]);
        cols[nc++] = names[t];
    }
    query_table *t = query_table_new(nc, cols);
    for (int L = 0; L < eq->n_levels; L++) {
        query_table_int(t, eq->level_terms[L]);
        query_table_num(t, eq->rmse[L], 5);
        for (int o = 0; o < eq->n_out && eq->n_out > 1; o++)
            query_table_num(t, eq->rmse_t[L][o], 5);
    }
    return t;
}

static void print_text(const query_equation *eq, int n_show) {
    for (int t = 0; t < eq->n_out; t++) {
        printf("%s = %.4f", sf_shown(eq->target_names[t]), eq->intercept[t]);
        int shown = 0;
        for (int i = 0; i < eq->n_terms && shown < n_show; i++, shown++) {
            const query_term *q = &eq->terms[i];
            printf(" %c %.4f A(%s %d)", q->coef[t] < 0 ? '-' : '+', fabs(q->coef[t]), eq->prefix,
                   q->feature);
        }
        if (eq->n_terms > n_show) printf(" + ... (%d more)", eq->n_terms - n_show);
        printf("\n");
    }
    printf("\n");
    query_table *t = terms_table(eq, n_show);
    query_table_print(t, stdout, QUERY_TEXT);
    query_table_free(t);
    if (eq->n_terms > n_show)
        printf("(%d more features: --terms N shows more, --csv all)\n", eq->n_terms - n_show);
    printf("\nvalidation RMSE (%d galaxies) using only the most frequent features:\n", eq->n_valid);
    t = rmse_table(eq);
    query_table_print(t, stdout, QUERY_TEXT);
    query_table_free(t);
    if (isfinite(eq->model_valid_rmse))
        printf("model's validation RMSE: %.5f\n", eq->model_valid_rmse);
}

int cli_equation(int argc, char **argv) {
    static const struct option opts[] = {
        {"terms", required_argument, NULL, 't'},
        {"rmse", no_argument, NULL, 'R'},
        CLI_OPTIONS_FORMAT,
        CLI_OPTIONS_END,
    };
    cli_db db = {.usage = usage};
    int n_show = 8, want_rmse = 0, c, rc;
    optind = 0;
    while ((c = getopt_long(argc, argv, "t:h", opts, NULL)) != -1) {
        switch (c) {
        case 't':
            if (sf_parse_option_int("terms", optarg, 0, 1000000, &n_show) != SF_OK) return 2;
            break;
        case 'R': want_rmse = 1; break;
        default:
            if ((rc = cli_option_common(&db, c)) != CLI_CONTINUE) return rc;
        }
    }
    int npos = argc - optind;
    if (npos < 1 || npos > 2) return cli_usage_error(&db);
    if (cli_open_run(&db, argv[optind], STORE_READ, npos == 2 ? argv[optind + 1] : NULL)) return 1;
    query_equation eq;
    if (query_equation_compute(db.s, db.run.id, &eq) != SF_OK) return cli_fail(&db);
    rc = 0;
    if (db.fmt == QUERY_JSON) {
        rc = print_json(&eq);
    } else if (db.fmt == QUERY_CSV) {
        query_table *t = want_rmse ? rmse_table(&eq) : terms_table(&eq, eq.n_terms);
        rc = cli_print(&db, t);
        query_table_free(t);
    } else {
        print_text(&eq, n_show);
        rc = ferror(stdout) ? 1 : 0;
    }
    query_equation_clear(&eq);
    cli_close(&db);
    return rc;
}
