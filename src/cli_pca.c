/* cli_pca.c: `sfnet-explore pca`: the dense baseline of Table 2.
 * Layer: cli. Calls: analysis_run, cli_common, sf_util.
 * Called by: main.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "analysis_run.h"
#include "cli.h"
#include "sf_util.h"
#include "store.h"

#define PCA_MAX_K 64

static void usage(FILE *out) {
    fprintf(out, "Usage: sfnet-explore pca RUN.db DENSE_RUN [--k 2,3,4,6,8]\n"
                 "\n"
                 "The baseline of Table 2 of Wu (2025): the principal components of a dense\n"
                 "run's pooled features (a run trained with --k 0, so that all d of them are\n"
                 "stored) on its training split, a linear regression of the targets on the top\n"
                 "k components, and the validation RMSE for each k.\n"
                 "\n"
                 "Options:\n"
                 "  -k, --k LIST   numbers of components (default 2,3,4,6,8)\n"
                 "  -h, --help     show this help\n");
}

int cli_pca(int argc, char **argv) {
    static const struct option opts[] = {
        {"k", required_argument, NULL, 'k'},
        CLI_OPTIONS_END,
    };
    cli_db db = {.usage = usage};
    const char *k_text = "2,3,4,6,8";
    int c, rc;
    optind = 1;
    while ((c = getopt_long(argc, argv, "k:h", opts, NULL)) != -1) {
        switch (c) {
        case 'k': k_text = optarg; break;
        default:
            if ((rc = cli_option_common(&db, c)) != CLI_CONTINUE) return rc;
        }
    }
    if (argc - optind != 2) return cli_usage_error(&db);
    int k[PCA_MAX_K], n_k;
    if (analysis_parse_int_list(k_text, k, PCA_MAX_K, 1, 1 << 20, &n_k) != SF_OK) {
        sf_warn("--k: %s", sf_last_error());
        return 2;
    }
    if (cli_open(&db, argv[optind], STORE_READ)) return 1;
    run_data rd;
    if (run_data_load(&rd, db.s, argv[optind + 1]) != SF_OK) return cli_fail(&db);
    double rmse[PCA_MAX_K], explained[PCA_MAX_K];
    rc = 1;
    if (run_pca_rmse(rmse, explained, k, n_k, &rd, db.s) != SF_OK) {
        sf_warn("%s", sf_last_error());
    } else {
        printf(
            "PCA baseline of run %s (dense, d = %d): %s, %d training and %d validation galaxies\n",
            rd.run.prefix, rd.d, sf_shown(rd.run.target_spec), rd.n_train, rd.n_valid);
        printf("%4s %11s %12s\n", "k", "explained", "valid RMSE");
        for (int i = 0; i < n_k; i++) printf("%4d %11.3f %12.4f\n", k[i], explained[i], rmse[i]);
        printf("(dense model itself: valid RMSE %.4f)\n", rd.run.valid_rmse);
        rc = 0;
    }
    run_data_free(&rd);
    cli_close(&db);
    return rc;
}
