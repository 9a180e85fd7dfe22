/* cli_top.c: `sfnet-explore top DB [RUN] FEATURE -n N`: a feature's strongest galaxies.
 * Layer: cli. Calls: cli_common, query, query_table, store_read, sf_util.
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
            "Usage: sfnet-explore top [-n N] [--split all|train|valid] [--json|--csv] DB [RUN] "
            "FEATURE\n"
            "\n"
            "The N galaxies (default 10) where FEATURE is strongest, strongest first: objID,\n"
            "activation, scaled activation A (activation / the feature's maximum over the\n"
            "validation set), split. FEATURE: 17, SL17 or \"SL 17\"; RUN may also come first.\n"
            "\n"
            "Options:\n"
            "  -n, --number N      how many galaxies (default 10)\n"
            "      --split WHICH   all (default), train or valid\n"
            "      --json          JSON (an array of objects)\n"
            "      --csv           CSV\n"
            "  -h, --help          show this help\n");
}

int cli_top(int argc, char **argv) {
    static const struct option opts[] = {
        {"number", required_argument, NULL, 'n'},
        {"split", required_argument, NULL, 'S'},
        CLI_OPTIONS_FORMAT,
        CLI_OPTIONS_END,
    };
    cli_db db = {.usage = usage};
    int number = 10, split = -1, c, rc;
    optind = 0;
    while ((c = getopt_long(argc, argv, "n:h", opts, NULL)) != -1) {
        switch (c) {
        case 'n':
            if (sf_parse_option_int("n", optarg, 1, 1000000, &number) != SF_OK) return 2;
            break;
        case 'S':
            if (!strcmp(optarg, "all")) split = -1;
            else if (!strcmp(optarg, "train")) split = 0;
            else if (!strcmp(optarg, "valid")) split = 1;
            else {
                sf_warn("--split wants all, train or valid, not '%s'", optarg);
                return 2;
            }
            break;
        default:
            if ((rc = cli_option_common(&db, c)) != CLI_CONTINUE) return rc;
        }
    }
    int npos = argc - optind;
    if (npos < 2 || npos > 3) return cli_usage_error(&db);
    if (cli_open_feature(&db, argv[optind], STORE_READ, npos - 1, argv + optind + 1)) return 1;
    store_hit *hits = NULL;
    int nh = 0;
    if (store_top(db.s, db.run.id, db.feature, number, split, &hits, &nh) != SF_OK)
        return cli_fail(&db);
    static const char *const cols[] = {"rank", "feature", "objid", "value", "scaled", "split"};
    query_table *t = query_table_new(6, cols);
    char name[STORE_PREFIX_MAX + 16];
    query_feature_name(&db.run, db.feature, name, sizeof name);
    for (int i = 0; i < nh; i++) {
        query_table_int(t, i + 1);
        query_table_text(t, name);
        query_table_text(t, hits[i].objid);
        query_table_num(t, hits[i].value, 5);
        query_table_num(t, hits[i].scaled, 4);
        query_table_text(t, hits[i].split ? "valid" : "train");
    }
    rc = cli_print(&db, t);
    if (rc == 0 && nh == 0 && db.fmt == QUERY_TEXT) printf("(%s is never active)\n", name);
    query_table_free(t);
    free(hits);
    cli_close(&db);
    return rc;
}
