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
            "       sfnet-explore features DB F --similar --in RUN2 [--number N] [--json|--csv]\n"
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
            "With --in RUN2 (or --in all: every other run sharing galaxies), F's counterparts\n"
            "in another run: the N features of RUN2 most correlated with F over the galaxies\n"
            "both runs hold (n_shared; F is active on n_this of them): Pearson r, the\n"
            "galaxies where both are active (n_both), the counterpart's n_active there, the\n"
            "conditional f_activated f_cond = n_both / n_this (of the galaxies where F is\n"
            "active, the fraction where the counterpart is too) and the reverse f_cond_rev =\n"
            "n_both / n_active. The explorer's feature page shows them for every other run.\n"
            "F may come as the second argument (\"SL 97\", SL97) or as --similar F.\n"
            "\n"
            "Options:\n"
            "  -s, --sort KEY     frequency (default), feature, weight, correlation, max, label\n"
            "  -a, --all          include dead features (never active)\n"
            "      --similar F    the features most correlated with F (17, SL17 or \"SL 17\")\n"
            "      --in RUN2      with --similar: F's counterparts in RUN2 (or all other runs)\n"
            "  -n, --number N     how many similar features or counterparts (default 5)\n"
            "      --json         JSON (an array of objects)\n"
            "      --csv          CSV\n"
            "  -h, --help         show this help\n");
}

static int parse_sort(const char *s, store_sort *out) {
    static const char *const names[] = {"frequency",   "feature", "weight",
                                        "correlation", "max",     "label"};
    for (int i = 0; i < 6; i++)
        if (!strcmp(s, names[i])) {
            *out = (store_sort)i;
            return SF_OK;
        }
    return sf_fail("unknown sort key '%s' (frequency, feature, weight, correlation, max, label)",
                   s);
}

/* `features --similar F`: the features most correlated with F. */
static int print_similar(cli_db *db, int number) {
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
    else rc = cli_print(db, t);
    query_table_free(t);
    free(sim);
    free(every);
    cli_close(db);
    return rc;
}

/* `features DB F --similar --in RUN2`: F's counterparts in other runs. */
static int print_counterparts(cli_db *db, const char *in_spec, int number) {
    store *s = db->s;
    const store_run *run = &db->run;
    int feature = db->feature;
    query_format fmt = db->fmt;
    int64_t *others = NULL;
    int *shared = NULL, n_others = 0, rc = 1;
    if (!strcmp(in_spec, "all")) {
        if (store_cross_runs(s, run->id, &others, &shared, &n_others) != SF_OK) goto fail;
    } else {
        store_run other;
        if (store_run_find(s, in_spec, &other) != SF_OK) goto fail;
        others = xmalloc(sizeof *others);
        others[0] = other.id;
        n_others = 1;
        store_run_clear(&other);
        if (others[0] == run->id) {
            sf_fail("--in %s names the run of %s %d itself: --similar without --in lists its "
                    "similar features",
                    in_spec, run->prefix, feature);
            goto fail;
        }
    }
    static const char *const cols[] = {"run",        "feature",  "counterpart", "r",
                                       "n_both",     "n_this",   "f_cond",      "n_active",
                                       "f_cond_rev", "n_shared", "label"};
    query_table *t = query_table_new(11, cols);
    char name[STORE_PREFIX_MAX + 16], other_name[STORE_PREFIX_MAX + 16];
    query_feature_name(run, feature, name, sizeof name);
    int listed = 0;
    for (int o = 0; o < n_others; o++) {
        store_run other;
        query_counterparts cp;
        store_feature *every = NULL;
        int n_all = 0;
        if (store_run_get(s, others[o], &other) != SF_OK) goto fail_table;
        if (query_counterparts_compute(s, run->id, feature, other.id, number, &cp) != SF_OK ||
            store_features(s, other.id, STORE_SORT_FEATURE, 1, &every, &n_all) != SF_OK) {
            store_run_clear(&other);
            goto fail_table;
        }
        if (fmt == QUERY_TEXT && cp.n_shared == 0)
            printf("%s and %s share no galaxy\n", run->prefix, other.prefix);
        else if (fmt == QUERY_TEXT && cp.n == 0)
            printf("%s has no counterpart in %s: it is %s on the %d galaxies both hold\n", name,
                   other.prefix,
                   cp.n_active ? "active on every one with the same value" : "never active",
                   cp.n_shared);
        for (int i = 0; i < cp.n; i++) {
            const query_counterpart *c = &cp.list[i];
            const store_feature *f = c->feature < n_all ? &every[c->feature] : NULL;
            query_feature_name(&other, c->feature, other_name, sizeof other_name);
            query_table_text(t, other.prefix);
            query_table_text(t, name);
            query_table_text(t, other_name);
            query_table_num(t, c->r, 4);
            query_table_int(t, c->n_both);
            query_table_int(t, cp.n_active);
            query_table_num(t, c->f_cond, 4);
            query_table_int(t, c->n_active);
            query_table_num(t, c->f_cond_rev, 4);
            query_table_int(t, cp.n_shared);
            query_table_text(t, f && f->label[0] ? f->label : (fmt == QUERY_TEXT ? "" : NULL));
            listed++;
        }
        free(every);
        query_counterparts_clear(&cp);
        store_run_clear(&other);
    }
    rc = 0;
    if (fmt == QUERY_TEXT && n_others == 0)
        printf("no other run of %s shares galaxies with %s\n", store_path(s), run->prefix);
    else if (fmt != QUERY_TEXT || listed) rc = cli_print(db, t);
    query_table_free(t);
    free(others);
    free(shared);
    cli_close(db);
    return rc;
fail_table:
    query_table_free(t);
fail:
    free(others);
    free(shared);
    return cli_fail(db);
}

/* "--similar" with no feature after it (the next word is an option, or there is none)
 * becomes "--similar=": the feature is then the second positional argument. */
static void similar_as_flag(int argc, char **argv) {
    static char flag[] = "--similar=";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--")) return;
        if (!strcmp(argv[i], "--similar") && (i + 1 == argc || argv[i + 1][0] == '-'))
            argv[i] = flag;
    }
}

int cli_features(int argc, char **argv) {
    static const struct option opts[] = {
        {"sort", required_argument, NULL, 's'},
        {"all", no_argument, NULL, 'a'},
        {"similar", required_argument, NULL, 'S'},
        {"in", required_argument, NULL, 'I'},
        {"number", required_argument, NULL, 'n'},
        CLI_OPTIONS_FORMAT,
        CLI_OPTIONS_END,
    };
    cli_db db = {.usage = usage};
    store_sort sort = STORE_SORT_FREQUENCY;
    int all = 0, number = 5, c, rc;
    const char *similar = NULL, *in_spec = NULL;
    similar_as_flag(argc, argv);
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
        case 'I': in_spec = optarg; break;
        case 'n':
            if (sf_parse_option_int("n", optarg, 1, 1000000, &number) != SF_OK) return 2;
            break;
        default:
            if ((rc = cli_option_common(&db, c)) != CLI_CONTINUE) return rc;
        }
    }
    int npos = argc - optind;
    /* --similar without a feature takes it from the arguments after DB */
    int feature_words = similar && !similar[0] ? npos - 1 : 0;
    if (in_spec && !similar) {
        sf_warn("--in goes with --similar: features DB F --similar --in RUN2");
        return 2;
    }
    if (npos < 1 || npos > (feature_words ? 3 : 2) || (similar && !similar[0] && feature_words < 1))
        return cli_usage_error(&db);
    const char *run_spec = npos == 2 ? argv[optind + 1] : NULL;
    if (similar) {
        /* F as "SL 97", as RUN and "97", or --similar F with an optional RUN */
        char *words[2] = {(char *)run_spec, (char *)similar};
        if (feature_words) {
            if (cli_open_feature(&db, argv[optind], STORE_READ, feature_words, &argv[optind + 1]))
                return 1;
        } else if (cli_open_feature(&db, argv[optind], STORE_READ, run_spec ? 2 : 1,
                                    run_spec ? words : words + 1)) {
            return 1;
        }
        return in_spec ? print_counterparts(&db, in_spec, number) : print_similar(&db, number);
    }
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
