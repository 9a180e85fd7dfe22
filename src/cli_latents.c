/* cli_latents.c: `sfnet-explore latents`: what a run's features (or a dense run's
 * principal components) track among the catalogue's columns.
 * Layer: cli. Calls: analysis_run, cli_common, sf_util.
 * Called by: main.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis_run.h"
#include "cli.h"
#include "sf_util.h"
#include "store.h"

static void usage(FILE *out) {
    fprintf(out,
            "Usage: sfnet-explore latents RUN.db [RUN] [--top N] [--columns PREFIX] [--best N]\n"
            "                             [--matrix]\n"
            "\n"
            "What a run's units track: the Spearman correlation, over the validation\n"
            "galaxies, of each of its most frequent features (raw activations) with the\n"
            "catalogue's columns; for a dense run (trained with --k 0), of each of the\n"
            "leading principal components of its pooled features (fitted on the training\n"
            "split), as the PCA baseline of Table 2 uses them. On the synthetic survey the\n"
            "columns are its true_* latents, so this says which physical or nuisance\n"
            "property each feature or component follows.\n"
            "\n"
            "Options:\n"
            "  -t, --top N          features or components (default 8)\n"
            "  -c, --columns P      columns whose names start with P (default true_; 'all':\n"
            "                       the physical columns, as the suggested labels use)\n"
            "  -b, --best N         strongest columns shown per row (default 3)\n"
            "  -m, --matrix         also print every correlation\n"
            "  -h, --help           show this help\n");
}

int cli_latents(int argc, char **argv) {
    static const struct option opts[] = {
        {"top", required_argument, NULL, 't'},
        {"columns", required_argument, NULL, 'c'},
        {"best", required_argument, NULL, 'b'},
        {"matrix", no_argument, NULL, 'm'},
        CLI_OPTIONS_END,
    };
    cli_db db = {.usage = usage};
    int top = 8, best = 3, matrix = 0, c, rc;
    const char *prefix = "true_";
    long v;
    optind = 1;
    while ((c = getopt_long(argc, argv, "t:c:b:mh", opts, NULL)) != -1) {
        switch (c) {
        case 't':
            if (sf_parse_option_long("top", optarg, 1, 4096, &v)) return 2;
            top = (int)v;
            break;
        case 'b':
            if (sf_parse_option_long("best", optarg, 1, 64, &v)) return 2;
            best = (int)v;
            break;
        case 'c': prefix = strcmp(optarg, "all") ? optarg : ""; break;
        case 'm': matrix = 1; break;
        default:
            if ((rc = cli_option_common(&db, c)) != CLI_CONTINUE) return rc;
        }
    }
    if (optind >= argc || argc - optind > 2) return cli_usage_error(&db);
    const char *run_spec = optind + 1 < argc ? argv[optind + 1] : NULL;
    if (cli_open(&db, argv[optind], STORE_READ)) return 1;
    run_data rd;
    if (run_data_load(&rd, db.s, run_spec) != SF_OK) return cli_fail(&db);
    latent_table t;
    rc = 1;
    if (run_latents(&t, &rd, db.s, top, prefix) != SF_OK) {
        sf_warn("%s", sf_last_error());
    } else {
        latent_table_print(stdout, &rd, &t, best, matrix);
        latent_table_free(&t);
        rc = 0;
    }
    run_data_free(&rd);
    cli_close(&db);
    return rc;
}
