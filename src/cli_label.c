/* cli_label.c: `sfnet-explore label DB [RUN] FEATURE TEXT`: name a feature.
 * Layer: cli. Calls: cli_common, query, store_read, sf_util.
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
    fprintf(out, "Usage: sfnet-explore label [--note TEXT] DB [RUN] FEATURE LABEL\n"
                 "       sfnet-explore label --clear DB [RUN] FEATURE\n"
                 "\n"
                 "Stores a label (and optionally a note) for a feature in the run database,\n"
                 "e.g. sfnet-explore label run.db \"SL 17\" \"starburst, hard ionising field\".\n"
                 "The explorer and `features` show it. LABEL \"-\" keeps the label as it is\n"
                 "(to change only the note).\n"
                 "\n"
                 "Options:\n"
                 "      --note TEXT   also store a longer note (\"\" removes it)\n"
                 "      --clear       remove the label\n"
                 "  -h, --help        show this help\n");
}

int cli_label(int argc, char **argv) {
    static const struct option opts[] = {
        {"note", required_argument, NULL, 'N'},
        {"clear", no_argument, NULL, 'C'},
        CLI_OPTIONS_END,
    };
    cli_db db = {.usage = usage};
    const char *note = NULL;
    int clear = 0, c, rc;
    optind = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'N': note = optarg; break;
        case 'C': clear = 1; break;
        default:
            if ((rc = cli_option_common(&db, c)) != CLI_CONTINUE) return rc;
        }
    }
    int npos = argc - optind;
    /* DB, 1-2 words naming the feature, then the label unless --clear */
    int label_words = clear ? 0 : 1;
    int feature_words = npos - 1 - label_words;
    if (feature_words < 1 || feature_words > 2) return cli_usage_error(&db);
    if (cli_open_feature(&db, argv[optind], STORE_WRITE, feature_words, argv + optind + 1))
        return 1;
    const char *label = clear ? "" : argv[argc - 1];
    if (!clear && !strcmp(label, "-")) label = NULL; /* keep it: only the note changes */
    rc = 0;
    char name[STORE_PREFIX_MAX + 16];
    query_feature_name(&db.run, db.feature, name, sizeof name);
    if (store_feature_label(db.s, db.run.id, db.feature, label, note) != SF_OK) {
        sf_warn("%s", sf_last_error());
        rc = 1;
    } else if (label && *label) {
        printf("%s: label \"%s\"\n", name, sf_shown(label));
    } else if (label) {
        printf("%s: label removed\n", name);
    } else {
        printf("%s: note saved\n", name);
    }
    cli_close(&db);
    return rc;
}
