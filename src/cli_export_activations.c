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
    static const struct option opts[] = {CLI_OPTIONS_END};
    cli_db db = {.usage = usage};
    int c, rc;
    optind = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1)
        if ((rc = cli_option_common(&db, c)) != CLI_CONTINUE) return rc;
    int npos = argc - optind;
    if (npos < 2 || npos > 3) return cli_usage_error(&db);
    const char *out = argv[argc - 1];
    if (cli_open_run(&db, argv[optind], STORE_READ, npos == 3 ? argv[optind + 1] : NULL))
        return 1;
    if (query_export_npy(db.s, db.run.id, out) != SF_OK) return cli_fail(&db);
    char ids[4096];
    query_objids_path(out, ids, sizeof ids);
    fprintf(stderr, "sfnet-explore: wrote %s (%d x %d float32) and %s\n", sf_shown(out),
            db.run.n_galaxies, db.run.d, sf_shown(ids));
    cli_close(&db);
    return 0;
}
