/* cli_export_activations.c: `sfnet-explore export-activations DB [RUN] OUT.npy`, or
 * `... --fits OUT.fits DB [RUN]` for a FITS binary table.
 * Layer: cli. Calls: cli_common, query.
 * Called by: main.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "query.h"
#include "sf_util.h"
#include "store.h"

static void usage(FILE *out) {
    fprintf(out, "Usage: sfnet-explore export-activations DB [RUN] OUT.npy\n"
                 "       sfnet-explore export-activations [--pairs] --fits OUT.fits DB [RUN]\n"
                 "\n"
                 "Writes a run's activations as a dense N x d float32 NumPy array (like the\n"
                 "reference implementation's activations.npy; zero where a feature is not among a\n"
                 "galaxy's top k) and the galaxies' objIDs, one a line and in the same order, to\n"
                 "OUT.objids.txt. Read them with numpy.load and numpy.loadtxt(..., dtype=str).\n"
                 "\n"
                 "With --fits, one FITS binary table (HDU 2, ACTIVATIONS) that astropy and TOPCAT\n"
                 "read: OBJID (a 64-bit integer column when every ID is an integer, else text),\n"
                 "SPLIT (train or valid), PRED_<target> and TRUE_<target> for each output, and\n"
                 "the activations as one vector column ACTIVATIONS of d floats; with --pairs\n"
                 "instead the k strongest FEATURE_1, VALUE_1 ... FEATURE_k, VALUE_k (feature -1\n"
                 "where a galaxy has fewer active features). The header names the run (RUN,\n"
                 "TARGET, TARGETS, TOPK, NFEAT, CATALOG). In Python:\n"
                 "  astropy.table.Table.read('OUT.fits')\n"
                 "\n"
                 "Options:\n"
                 "      --fits OUT.fits  write a FITS table instead of .npy\n"
                 "      --pairs          with --fits: the k (feature, value) pairs, not dense\n"
                 "  -h, --help           show this help\n");
}

int cli_export_activations(int argc, char **argv) {
    static const struct option opts[] = {
        {"fits", required_argument, NULL, 'F'},
        {"pairs", no_argument, NULL, 'P'},
        CLI_OPTIONS_END,
    };
    cli_db db = {.usage = usage};
    int c, rc, pairs = 0;
    const char *fits = NULL;
    optind = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'F') fits = optarg;
        else if (c == 'P') pairs = 1;
        else if ((rc = cli_option_common(&db, c)) != CLI_CONTINUE) return rc;
    }
    int npos = argc - optind;
    if (fits ? npos < 1 || npos > 2 : npos < 2 || npos > 3) return cli_usage_error(&db);
    if (pairs && !fits) {
        fprintf(stderr, "sfnet-explore: --pairs goes with --fits\n");
        return 2;
    }
    const char *run =
        fits ? (npos == 2 ? argv[optind + 1] : NULL) : (npos == 3 ? argv[optind + 1] : NULL);
    if (cli_open_run(&db, argv[optind], STORE_READ, run)) return 1;
    if (fits) {
        if (query_export_fits(db.s, db.run.id, fits, pairs) != SF_OK) return cli_fail(&db);
        fprintf(stderr, "sfnet-explore: wrote %s: %d galaxies of run %s (%s)\n", sf_shown(fits),
                db.run.n_galaxies, db.run.prefix, pairs ? "top-k pairs" : "dense activations");
    } else {
        const char *out = argv[argc - 1];
        if (query_export_npy(db.s, db.run.id, out) != SF_OK) return cli_fail(&db);
        char ids[4096];
        query_objids_path(out, ids, sizeof ids);
        fprintf(stderr, "sfnet-explore: wrote %s (%d x %d float32) and %s\n", sf_shown(out),
                db.run.n_galaxies, db.run.d, sf_shown(ids));
    }
    cli_close(&db);
    return 0;
}
