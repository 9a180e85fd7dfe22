/* cli_export.c: `sfnet-explore export RUN.db FEATURE -o out.png [--grid 3x3 | --top 10] [--bpt]`.
 * Layer: cli. Calls: cli_common, export, query_view, store, sf_util.
 * Called by: main.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "export.h"
#include "sf_output.h"
#include "sf_util.h"
#include "store.h"
#include "query_view.h"

static void usage(FILE *out) {
    fprintf(out,
            "Usage: sfnet-explore export RUN.db FEATURE -o OUT.png [--grid CxR | --top N] [--bpt]\n"
            "Draws a feature's top galaxies (with objID and activation under each) as a PNG,\n"
            "or a PDF when OUT ends in .pdf. The output is deterministic.\n"
            "\n"
            "  FEATURE            \"SL 17\", SL:17, or 17 with --run (or a single-run file)\n"
            "  -o, --output FILE  the image to write (required)\n"
            "  --run SPEC         the run (prefix such as SL or Z, or id)\n"
            "  --grid CxR         a grid of C columns and R rows of galaxies (default 3x3)\n"
            "  --top N            the top N galaxies in one row (the reference's strip)\n"
            "  --bpt              Figure 2 of Wu 2025: the BPT diagram of the validation\n"
            "                     galaxies coloured by scaled activation (activation vs the\n"
            "                     target when the catalogue has no line fluxes) beside the grid\n"
            "  -h, --help         this help\n");
}

int cli_export(int argc, char **argv) {
    static const struct option opts[] = {{"output", required_argument, 0, 'o'},
                                         {"run", required_argument, 0, 'r'},
                                         {"grid", required_argument, 0, 'g'},
                                         {"top", required_argument, 0, 't'},
                                         {"bpt", no_argument, 0, 'b'},
                                         CLI_OPTIONS_END};
    cli_db db = {.usage = usage};
    const char *out = NULL, *run_opt = NULL;
    int cols = 3, rows = 3, bpt = 0, have_grid = 0, have_top = 0;
    optind = 1;
    int c, rc;
    while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'r': run_opt = optarg; break;
        case 'g':
            if (export_parse_grid(optarg, &cols, &rows) != SF_OK) {
                fprintf(stderr, "sfnet-explore export: %s\n", sf_last_error());
                return 2;
            }
            have_grid = 1;
            break;
        case 't': {
            char *end;
            long n = strtol(optarg, &end, 10);
            if (*end || n < 1 || n > 20) {
                fprintf(stderr, "sfnet-explore export: --top %s: expected 1..20\n", optarg);
                return 2;
            }
            cols = (int)n;
            rows = 1;
            have_top = 1;
            break;
        }
        case 'b': bpt = 1; break;
        default:
            if ((rc = cli_option_common(&db, c)) != CLI_CONTINUE) return rc;
        }
    }
    if (have_grid && have_top) {
        fprintf(stderr, "sfnet-explore export: --grid and --top exclude each other\n");
        return 2;
    }
    if (argc - optind != 2 || !out) return cli_usage_error(&db);
    const char *path = argv[optind], *feature_text = argv[optind + 1];
    if (sf_output_check(out) == SF_ERR) {
        fprintf(stderr, "sfnet-explore export: %s\n", sf_last_error());
        return 1;
    }
    char spec[STORE_PREFIX_MAX + 8];
    int feature;
    if (store_parse_feature(feature_text, spec, sizeof spec, &feature) != SF_OK) {
        fprintf(stderr, "sfnet-explore export: %s\n", sf_last_error());
        return 2;
    }
    if (run_opt) snprintf(spec, sizeof spec, "%s", run_opt);
    store *s;
    if (store_open(&s, path, STORE_READ) != SF_OK) {
        fprintf(stderr, "sfnet-explore export: %s\n", sf_last_error());
        return 1;
    }
    store_run run;
    rc = 1;
    if (store_run_find(s, spec, &run) != SF_OK) {
        fprintf(stderr, "sfnet-explore export: %s\n", sf_last_error());
        store_close(s);
        return 1;
    }
    if (feature < 0 || feature >= run.d) {
        fprintf(stderr, "sfnet-explore export: run %s has features 0..%d, not %d\n", run.prefix, run.d - 1,
                feature);
    } else if (query_export_feature(s, &run, feature, out, cols, rows, bpt) != SF_OK) {
        fprintf(stderr, "sfnet-explore export: %s\n", sf_last_error());
    } else {
        printf("wrote %s (%s %d)\n", sf_shown(out), run.prefix, feature);
        rc = 0;
    }
    store_run_clear(&run);
    store_close(s);
    export_shutdown();
    return rc;
}
