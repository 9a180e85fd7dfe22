/* cli_compare.c: `sfnet-explore compare DB RUN_A RUN_B`: two runs' features against each
 * other (correlation matrix, best matches, ridge R^2 of each of B's from all of A's).
 * Layer: cli. Calls: cli_common, query_cross, store, sf_util.
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
    fprintf(out, "Usage: sfnet-explore compare [OPTIONS] DB RUN_A RUN_B\n"
                 "\n"
                 "Run A's features against run B's over the galaxies both runs hold (RUN_A and\n"
                 "RUN_B: prefixes such as SL and Z, or ids):\n"
                 " - the correlation matrix: Pearson r of every live feature of A (rows) with\n"
                 "   every live feature of B (columns), a galaxy where a feature is inactive\n"
                 "   counting as 0, ordered so that related features sit together (each column\n"
                 "   beside the row it correlates most with);\n"
                 " - the analysis of Wu 2025, Section 4.4: for each feature of B, the R^2 of a\n"
                 "   ridge regression (with intercept, as scikit-learn's Ridge) predicting its\n"
                 "   activation from all d activations of A, fitted on the shared galaxies of\n"
                 "   B's training split and scored on those of its validation split. Run A may\n"
                 "   be dense (trained with --k 0), standing in for the paper's Zoobot.\n"
                 "\n"
                 "The text output lists B's features in matrix order: galaxies where each is\n"
                 "active, its R^2, and its best match in A (largest r, with n_both, the\n"
                 "galaxies where both are active). --matrix prints the matrix itself. The\n"
                 "explorer shows the same (C on a feature list); `export DB --compare A B -o\n"
                 "out.png` draws it.\n"
                 "\n"
                 "Options:\n"
                 "      --alpha X        ridge penalty (default 1, scikit-learn's default)\n"
                 "      --no-r2          the correlation matrix only\n"
                 "      --min-active N   only features active on at least N shared galaxies\n"
                 "                       (default 1)\n"
                 "      --matrix         the matrix: a grid of r (text), one row per feature of\n"
                 "                       A with a column per feature of B (CSV)\n"
                 "      --json           JSON: one object with the runs, rows, columns (with\n"
                 "                       R^2 and best match), r and n_both\n"
                 "      --csv            CSV\n"
                 "  -h, --help           show this help\n");
}

static int print_json(const query_compare *c, const store_run *a, const store_run *b) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "run_a", a->prefix);
    cJSON_AddStringToObject(root, "run_b", b->prefix);
    cJSON_AddNumberToObject(root, "d_a", c->d_a);
    cJSON_AddNumberToObject(root, "d_b", c->d_b);
    cJSON_AddNumberToObject(root, "n_shared", c->n_shared);
    if (c->has_r2) {
        cJSON_AddNumberToObject(root, "alpha", c->alpha);
        cJSON_AddNumberToObject(root, "n_train", c->n_train);
        cJSON_AddNumberToObject(root, "n_valid", c->n_valid);
    }
    char name[STORE_PREFIX_MAX + 16];
    cJSON *rows = cJSON_AddArrayToObject(root, "rows");
    for (int i = 0; i < c->n_rows; i++) {
        cJSON *o = cJSON_CreateObject();
        query_feature_name(a, c->rows[i], name, sizeof name);
        cJSON_AddStringToObject(o, "feature", name);
        cJSON_AddNumberToObject(o, "index", c->rows[i]);
        cJSON_AddNumberToObject(o, "n_active", c->n_active_a[i]);
        cJSON_AddItemToArray(rows, o);
    }
    cJSON *cols = cJSON_AddArrayToObject(root, "columns");
    for (int j = 0; j < c->n_cols; j++) {
        cJSON *o = cJSON_CreateObject();
        query_feature_name(b, c->cols[j], name, sizeof name);
        cJSON_AddStringToObject(o, "feature", name);
        cJSON_AddNumberToObject(o, "index", c->cols[j]);
        cJSON_AddNumberToObject(o, "n_active", c->n_active_b[j]);
        if (c->has_r2) cli_json_num(o, "r2", c->r2[j]);
        int best = c->best_row[j];
        if (best >= 0) {
            query_feature_name(a, c->rows[best], name, sizeof name);
            cJSON_AddStringToObject(o, "best_match", name);
            cli_json_num(o, "best_r", c->r[(size_t)best * c->n_cols + j]);
            cJSON_AddNumberToObject(o, "best_n_both", c->n_both[(size_t)best * c->n_cols + j]);
        } else {
            cJSON_AddNullToObject(o, "best_match");
        }
        cJSON_AddItemToArray(cols, o);
    }
    cJSON *r = cJSON_AddArrayToObject(root, "r");
    cJSON *both = cJSON_AddArrayToObject(root, "n_both");
    for (int i = 0; i < c->n_rows; i++) {
        cJSON *rr = cJSON_CreateArray(), *bb = cJSON_CreateArray();
        for (int j = 0; j < c->n_cols; j++) {
            double v = c->r[(size_t)i * c->n_cols + j];
            cJSON_AddItemToArray(rr, isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull());
            cJSON_AddItemToArray(bb, cJSON_CreateNumber(c->n_both[(size_t)i * c->n_cols + j]));
        }
        cJSON_AddItemToArray(r, rr);
        cJSON_AddItemToArray(both, bb);
    }
    return cli_print_json(root);
}

/* B's features in matrix order: R^2 and best match. */
static query_table *columns_table(store *s, const query_compare *c, const store_run *a,
                                  const store_run *b, query_format fmt) {
    static const char *const names[] = {"feature", "n_active", "r2",   "best_match",
                                        "r",       "n_both",   "label"};
    query_table *t = query_table_new(7, names);
    store_feature *every = NULL;
    int n_all = 0;
    if (store_features(s, b->id, STORE_SORT_FEATURE, 1, &every, &n_all) != SF_OK) n_all = 0;
    char name[STORE_PREFIX_MAX + 16];
    for (int j = 0; j < c->n_cols; j++) {
        query_feature_name(b, c->cols[j], name, sizeof name);
        query_table_text(t, name);
        query_table_int(t, c->n_active_b[j]);
        query_table_num(t, c->has_r2 ? c->r2[j] : NAN, 4);
        int best = c->best_row[j];
        if (best >= 0) {
            query_feature_name(a, c->rows[best], name, sizeof name);
            query_table_text(t, name);
            query_table_num(t, c->r[(size_t)best * c->n_cols + j], 4);
            query_table_int(t, c->n_both[(size_t)best * c->n_cols + j]);
        } else {
            query_table_text(t, NULL);
            query_table_num(t, NAN, 4);
            query_table_num(t, NAN, 0);
        }
        const store_feature *f = c->cols[j] < n_all ? &every[c->cols[j]] : NULL;
        query_table_text(t, f && f->label[0] ? f->label : (fmt == QUERY_TEXT ? "" : NULL));
    }
    free(every);
    return t;
}

static query_table *matrix_table(const query_compare *c, const store_run *a, const store_run *b) {
    const char **names = xmalloc((size_t)(c->n_cols + 1) * sizeof *names);
    char(*labels)[STORE_PREFIX_MAX + 16] = xmalloc((size_t)(c->n_cols + 1) * sizeof *labels);
    names[0] = "feature";
    for (int j = 0; j < c->n_cols; j++) {
        query_feature_name(b, c->cols[j], labels[j], sizeof labels[j]);
        names[j + 1] = labels[j];
    }
    query_table *t = query_table_new(c->n_cols + 1, names);
    free(names);
    free(labels);
    char name[STORE_PREFIX_MAX + 16];
    for (int i = 0; i < c->n_rows; i++) {
        query_feature_name(a, c->rows[i], name, sizeof name);
        query_table_text(t, name);
        for (int j = 0; j < c->n_cols; j++) query_table_num(t, c->r[(size_t)i * c->n_cols + j], 2);
    }
    return t;
}

int cli_compare(int argc, char **argv) {
    static const struct option opts[] = {
        {"alpha", required_argument, NULL, 'A'},
        {"no-r2", no_argument, NULL, 'N'},
        {"min-active", required_argument, NULL, 'm'},
        {"matrix", no_argument, NULL, 'M'},
        CLI_OPTIONS_FORMAT,
        CLI_OPTIONS_END,
    };
    cli_db db = {.usage = usage};
    double alpha = 1;
    int with_r2 = 1, min_active = 1, matrix = 0, c, rc;
    optind = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'A': {
            char *end = NULL;
            alpha = strtod(optarg, &end);
            if (!end || *end || !(alpha > 0) || !isfinite(alpha)) {
                sf_warn("--alpha '%s': expected a positive number", optarg);
                return 2;
            }
            break;
        }
        case 'N': with_r2 = 0; break;
        case 'm':
            if (sf_parse_option_int("min-active", optarg, 1, 1000000000, &min_active) != SF_OK)
                return 2;
            break;
        case 'M': matrix = 1; break;
        default:
            if ((rc = cli_option_common(&db, c)) != CLI_CONTINUE) return rc;
        }
    }
    if (argc - optind != 3) return cli_usage_error(&db);
    if (cli_open(&db, argv[optind], STORE_READ)) return 1;
    store *s = db.s;
    query_format fmt = db.fmt;
    store_run a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    query_compare cmp;
    memset(&cmp, 0, sizeof cmp);
    rc = 1;
    if (store_run_find(s, argv[optind + 1], &a) != SF_OK ||
        store_run_find(s, argv[optind + 2], &b) != SF_OK)
        goto fail;
    if (a.id == b.id) {
        sf_fail("compare needs two different runs, not %s twice", a.prefix);
        goto fail;
    }
    if (query_compare_compute(s, a.id, b.id, min_active, &cmp) != SF_OK) goto fail;
    if (cmp.n_shared == 0) {
        sf_fail("%s and %s share no galaxy: nothing to compare", a.prefix, b.prefix);
        goto fail;
    }
    if (with_r2 && query_compare_ridge(s, &cmp, alpha) != SF_OK) goto fail;
    if (fmt == QUERY_JSON) {
        rc = print_json(&cmp, &a, &b);
    } else {
        if (fmt == QUERY_TEXT) {
            printf("%s (rows, %d live features) against %s (columns, %d live features) over the %d "
                   "galaxies both hold\n",
                   a.prefix, cmp.n_rows, b.prefix, cmp.n_cols, cmp.n_shared);
            if (cmp.has_r2)
                printf("R^2: ridge regression (alpha %g) of each %s feature on all %d activations "
                       "of %s, "
                       "fitted on %d training galaxies of %s, scored on %d validation galaxies\n",
                       cmp.alpha, b.prefix, cmp.d_a, a.prefix, cmp.n_train, b.prefix, cmp.n_valid);
            printf("\n");
        }
        query_table *t = matrix ? matrix_table(&cmp, &a, &b) : columns_table(s, &cmp, &a, &b, fmt);
        rc = cli_print(&db, t);
        query_table_free(t);
    }
    goto done;
fail:
    sf_warn("%s", sf_last_error());
done:
    query_compare_clear(&cmp);
    store_run_clear(&a);
    store_run_clear(&b);
    cli_close(&db);
    return rc;
}
