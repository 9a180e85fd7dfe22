/* cli_features.c: `sfnet-explore features DB [RUN]`: a run's features and their statistics.
 * Layer: cli. Calls: cli_common, query, query_similar, query_table, store_read, sf_util.
 * Called by: main.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "query.h"
#include "sf_util.h"
#include "store.h"

static void usage(FILE *out) {
    fprintf(out,
            "Usage: sfnet-explore features [--sort KEY] [--all] [--json|--csv] DB [RUN]\n"
            "       sfnet-explore features --similar F [--number N] [--json|--csv] DB [RUN]\n"
            "\n"
            "The features of a run (RUN: its prefix such as Z or SL, or its id; optional\n"
            "when DB holds one run), most frequent first: galaxies where each is active\n"
            "(all, and validation), f_activated (fraction of validation galaxies), max and\n"
            "mean activation over the galaxies where it is active, the head's weight for\n"
            "each target, the Pearson correlation of the scaled activation with each target\n"
            "over the validation set, and its label.\n"
            "\n"
            "With --similar F, the N features whose activation correlates most with F's:\n"
            "Pearson r over all the run's galaxies (a galaxy where a feature is inactive\n"
            "counts as 0), highest first, with the galaxies where both are active\n"
            "(n_both), each one's n_active, and its label; the explorer's feature page\n"
            "shows the first 5.\n"
            "\n"
            "Options:\n"
            "  -s, --sort KEY     frequency (default), feature, weight, correlation, max, label\n"
            "  -a, --all          include dead features (never active)\n"
            "      --similar F    the features most correlated with F (17, SL17 or \"SL 17\")\n"
            "  -n, --number N     how many similar features (default 5)\n"
            "      --json         JSON (an array of objects)\n"
            "      --csv          CSV\n"
            "  -h, --help         show this help\n");
}

static int parse_sort(const char *s, store_sort *out) {
    static const char *const names[] = {"frequency", "feature", "weight", "correlation", "max", "label"};
    for (int i = 0; i < 6; i++)
        if (!strcmp(s, names[i])) {
            *out = (store_sort)i;
            return SF_OK;
        }
    return sf_fail("unknown sort key '%s' (frequency, feature, weight, correlation, max, label)", s);
}

/* `features --similar F`: the features most correlated with F. */
static int print_similar(cli_db *db, const char *path, const char *run_spec,
                         const char *feature_text, int number) {
    char *words[2] = {(char *)run_spec, (char *)feature_text};
    if (cli_open_feature(db, path, STORE_READ, run_spec ? 2 : 1, run_spec ? words : words + 1))
        return 1;
    const store_run *run = &db->run;
    int feature = db->feature;
    query_format fmt = db->fmt;
    store *s = db->s;
    store_feature *every = NULL;
    int n_all = 0, n = 0;
    query_similar *sim = xcalloc((size_t)number, sizeof *sim);
    if (query_similar_load(s, run->id, feature, number, sim, &n) != SF_OK ||
        store_features(s, run->id, STORE_SORT_FEATURE, 1, &every, &n_all) != SF_OK) {
        free(sim);
        free(every);
        return cli_fail(db);
    }
    static const char *const cols[] = {"feature", "r", "n_both", "n_active", "label"};
    query_table *t = query_table_new(5, cols);
    for (int i = 0; i < n; i++) {
        char name[STORE_PREFIX_MAX + 16];
        query_feature_name(run, sim[i].feature, name, sizeof name);
        const store_feature *f = sim[i].feature < n_all ? &every[sim[i].feature] : NULL;
        query_table_text(t, name);
        query_table_num(t, sim[i].r, 4);
        query_table_int(t, sim[i].n_both);
        query_table_int(t, f ? f->n_active : 0);
        query_table_text(t, f && f->label[0] ? f->label : (fmt == QUERY_TEXT ? "" : NULL));
    }
    char name[STORE_PREFIX_MAX + 16];
    query_feature_name(run, feature, name, sizeof name);
    int rc = 0;
    if (fmt == QUERY_TEXT && n == 0)
        printf("%s: no feature correlates (it is dead, or every other one is)\n", name);
    else
        rc = cli_print(db, t);
    query_table_free(t);
    free(sim);
    free(every);
    cli_close(db);
    return rc;
}

int cli_features(int argc, char **argv) {
    static const struct option opts[] = {
        {"sort", required_argument, NULL, 's'},
        {"all", no_argument, NULL, 'a'},
        {"similar", required_argument, NULL, 'S'},
        {"number", required_argument, NULL, 'n'},
        CLI_OPTIONS_FORMAT,
        CLI_OPTIONS_END,
    };
    cli_db db = {.usage = usage};
    store_sort sort = STORE_SORT_FREQUENCY;
    int all = 0, number = 5, c, rc;
    const char *similar = NULL;
    optind = 0;
    while ((c = getopt_long(argc, argv, "s:an:h", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            if (parse_sort(optarg, &sort) != SF_OK) {
                sf_warn("%s", sf_last_error());
                return 2;
            }
            break;
        case 'a': all = 1; break;
        case 'S': similar = optarg; break;
        case 'n':
            if (sf_parse_option_int("n", optarg, 1, 1000000, &number) != SF_OK) return 2;
            break;
        default:
            if ((rc = cli_option_common(&db, c)) != CLI_CONTINUE) return rc;
        }
    }
    int npos = argc - optind;
    if (npos < 1 || npos > 2) return cli_usage_error(&db);
    const char *run_spec = npos == 2 ? argv[optind + 1] : NULL;
    if (similar) return print_similar(&db, argv[optind], run_spec, similar, number);
    if (cli_open_run(&db, argv[optind], STORE_READ, run_spec)) return 1;
    const store_run *run = &db.run;
    store_feature *f = NULL;
    int n = 0, n_all = 0;
    store_feature *every = NULL;
    if (store_features(db.s, run->id, sort, all, &f, &n) != SF_OK ||
        store_features(db.s, run->id, STORE_SORT_FEATURE, 1, &every, &n_all) != SF_OK) {
        free(f);
        return cli_fail(&db);
    }
    free(every);
    const char *cols[8 + 2 * STORE_MAX_TARGETS];
    char names[2 * STORE_MAX_TARGETS][STORE_NAME_MAX + 8];
    int nc = 0;
    cols[nc++] = "feature";
    cols[nc++] = "n_active";
    cols[nc++] = "n_valid";
    cols[nc++] = "f_activated";
    cols[nc++] = "max";
    cols[nc++] = "mean";
    for (int t = 0; t < run->n_out; t++) {
        snprintf(names[t], sizeof names[t], "w_%s", run->target_names[t]);
        cols[nc++] = names[t];
    }
    for (int t = 0; t < run->n_out; t++) {
        snprintf(names[STORE_MAX_TARGETS + t], sizeof names[0], "r_%s", run->target_names[t]);
        cols[nc++] = names[STORE_MAX_TARGETS + t];
    }
    cols[nc++] = "label";
    query_table *t = query_table_new(nc, cols);
    for (int i = 0; i < n; i++) {
        char name[STORE_PREFIX_MAX + 16];
        query_feature_name(run, f[i].feature, name, sizeof name);
        query_table_text(t, name);
        query_table_int(t, f[i].n_active);
        query_table_int(t, f[i].n_active_valid);
        query_table_num(t, f[i].f_activated, 4);
        query_table_num(t, f[i].max, 4);
        query_table_num(t, f[i].mean, 4);
        for (int o = 0; o < run->n_out; o++) query_table_num(t, f[i].weight[o], 5);
        for (int o = 0; o < run->n_out; o++) query_table_num(t, f[i].pearson[o], 3);
        query_table_text(t, f[i].label[0] ? f[i].label : (db.fmt == QUERY_TEXT ? "" : NULL));
    }
    rc = cli_print(&db, t);
    if (rc == 0 && db.fmt == QUERY_TEXT && !all && n_all > n)
        printf("(%d dead features hidden: --all shows them)\n", n_all - n);
    query_table_free(t);
    free(f);
    cli_close(&db);
    return rc;
}
