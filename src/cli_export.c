/* cli_export.c: `sfnet-explore export RUN.db FEATURE -o out.png [--grid 3x3 | --top 10] [--bpt]`.
 * Layer: cli. Calls: cli_common, export, query_view, store, sf_util.
 * Called by: main.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis_figures.h"
#include "cli.h"
#include "export.h"
#include "query.h"
#include "query_view.h"
#include "sf_output.h"
#include "sf_util.h"
#include "store.h"

static void usage(FILE *out) {
    fprintf(out,
            "Usage: sfnet-explore export RUN.db FEATURE -o OUT.png [--grid CxR | --top N] [--bpt]\n"
            "       sfnet-explore export RUN.db --compare RUN_A RUN_B -o OUT.png [--alpha X]\n"
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
            "  --compare          the compare view of two runs instead (see `compare`): the\n"
            "                     correlation matrix of A's live features (rows) with B's\n"
            "                     (columns), related ones together, and under each column\n"
            "                     the ridge R^2 of that feature of B from all of A's\n"
            "  --alpha X          with --compare: the ridge penalty (default 1)\n"
            "  -h, --help         this help\n");
}

/* `export DB --compare A B -o OUT.png`. */
static int export_compare(const char *path, const char *spec_a, const char *spec_b, const char *out,
                          double alpha) {
    store *s;
    if (store_open(&s, path, STORE_READ) != SF_OK) {
        fprintf(stderr, "sfnet-explore export: %s\n", sf_last_error());
        return 1;
    }
    store_run a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    query_compare c;
    memset(&c, 0, sizeof c);
    int rc = 1;
    if (store_run_find(s, spec_a, &a) != SF_OK || store_run_find(s, spec_b, &b) != SF_OK) goto fail;
    if (a.id == b.id) {
        sf_fail("--compare needs two different runs, not %s twice", a.prefix);
        goto fail;
    }
    if (query_compare_compute(s, a.id, b.id, 1, &c) != SF_OK) goto fail;
    if (c.n_rows == 0 || c.n_cols == 0) {
        sf_fail("%s and %s share no galaxy where features of both are active: nothing to draw",
                a.prefix, b.prefix);
        goto fail;
    }
    if (query_compare_ridge(s, &c, alpha) != SF_OK) goto fail;
    char(*names)[STORE_PREFIX_MAX + 16] = xmalloc((size_t)(c.n_rows + c.n_cols) * sizeof *names);
    const char **labels = xmalloc((size_t)(c.n_rows + c.n_cols) * sizeof *labels);
    for (int i = 0; i < c.n_rows; i++) {
        query_feature_name(&a, c.rows[i], names[i], sizeof names[i]);
        labels[i] = names[i];
    }
    for (int j = 0; j < c.n_cols; j++) {
        query_feature_name(&b, c.cols[j], names[c.n_rows + j], sizeof names[0]);
        labels[c.n_rows + j] = names[c.n_rows + j];
    }
    char title[256], r2_label[160];
    snprintf(title, sizeof title, "%s (rows) against %s (columns): Pearson r over %d galaxies",
             a.prefix, b.prefix, c.n_shared);
    snprintf(r2_label, sizeof r2_label,
             "R^2 of each %s feature from all %d of %s (ridge, alpha %g)", b.prefix, c.d_a,
             a.prefix, alpha);
    int drawn = figure_compare(out, c.r, c.n_rows, c.n_cols, labels, labels + c.n_rows, c.r2,
                               r2_label, title);
    free(names);
    free(labels);
    if (drawn != SF_OK) goto fail;
    printf("wrote %s (%s against %s)\n", out, a.prefix, b.prefix);
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "sfnet-explore export: %s\n", sf_last_error());
done:
    query_compare_clear(&c);
    store_run_clear(&a);
    store_run_clear(&b);
    store_close(s);
    export_shutdown();
    return rc;
}

int cli_export(int argc, char **argv) {
    static const struct option opts[] = {
        {"output", required_argument, 0, 'o'}, {"run", required_argument, 0, 'r'},
        {"grid", required_argument, 0, 'g'},   {"top", required_argument, 0, 't'},
        {"bpt", no_argument, 0, 'b'},          {"compare", no_argument, 0, 'C'},
        {"alpha", required_argument, 0, 'A'},  CLI_OPTIONS_END};
    cli_db db = {.usage = usage};
    const char *out = NULL, *run_opt = NULL;
    int cols = 3, rows = 3, bpt = 0, have_grid = 0, have_top = 0, compare = 0;
    double alpha = 1;
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
        case 'C': compare = 1; break;
        case 'A': {
            char *end = NULL;
            alpha = strtod(optarg, &end);
            if (!end || *end || !(alpha > 0)) {
                fprintf(stderr, "sfnet-explore export: --alpha %s: expected a positive number\n",
                        optarg);
                return 2;
            }
            break;
        }
        default:
            if ((rc = cli_option_common(&db, c)) != CLI_CONTINUE) return rc;
        }
    }
    if (have_grid && have_top) {
        fprintf(stderr, "sfnet-explore export: --grid and --top exclude each other\n");
        return 2;
    }
    if (compare) {
        if (argc - optind != 3 || !out || have_grid || have_top || bpt) return cli_usage_error(&db);
        return export_compare(argv[optind], argv[optind + 1], argv[optind + 2], out, alpha);
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
        fprintf(stderr, "sfnet-explore export: run %s has features 0..%d, not %d\n", run.prefix,
                run.d - 1, feature);
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
