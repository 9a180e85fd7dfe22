/* cli_export_activations.c: `sfnet-explore export-activations DB [RUN] OUT.npy`. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "query.h"
#include "sf_util.h"
#include "store.h"

static void usage(FILE *out) {
    fprintf(out,
            "Usage: sfnet-explore export-activations DB [RUN] OUT.npy\n"
            "\n"
            "Writes a run's activations as a dense N x d float32 NumPy array (like the\n"
            "reference implementation's activations.npy; zero where a feature is not among a\n"
            "galaxy's top k) and the galaxies' objIDs, one a line and in the same order, to\n"
            "OUT.objids.txt. Read them with numpy.load and numpy.loadtxt(..., dtype=str).\n"
            "\n"
            "Options:\n"
            "  -h, --help   show this help\n");
}

int cli_export_activations(int argc, char **argv) {
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    optind = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    int npos = argc - optind;
    if (npos < 2 || npos > 3) {
        usage(stderr);
        return 2;
    }
    store *s = NULL;
    if (query_cli_open(argv[optind], STORE_READ, &s) != SF_OK) return 1;
    store_run run;
    const char *out = argv[argc - 1];
    if (store_run_find(s, npos == 3 ? argv[optind + 1] : NULL, &run) != SF_OK ||
        query_export_npy(s, run.id, out) != SF_OK) {
        sf_warn("%s", sf_last_error());
        store_run_clear(&run);
        store_close(s);
        return 1;
    }
    char ids[4096];
    query_objids_path(out, ids, sizeof ids);
    fprintf(stderr, "sfnet-explore: wrote %s (%d x %d float32) and %s\n", sf_shown(out),
            run.n_galaxies, run.d, sf_shown(ids));
    store_run_clear(&run);
    store_close(s);
    return 0;
}
