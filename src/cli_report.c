/* cli_report.c: `sfnet-explore report`: the paper's analyses of one run.
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
    fprintf(
        out,
        "Usage: sfnet-explore report RUN.db [RUN] [--figures DIR] [--top N] [--min-galaxies N]\n"
        "                            [--class-weight none|balanced|both]\n"
        "\n"
        "Prints the analyses of Wu (2025) for one run of the database (RUN: its prefix\n"
        "such as Z or SL, or its id; optional when the database holds one run):\n"
        "  Table 1: the most frequent features with f_activated, the Pearson\n"
        "    correlation of the scaled activation with each target, the head's weight\n"
        "    and the label (yours, and one suggested from the catalogue columns);\n"
        "  the share of the variance of the predictions carried by the top 1, 2, 4, 8\n"
        "    features, and the validation RMSE of a linear fit on them;\n"
        "  the correlation matrix of the features active on more than 100 validation\n"
        "    galaxies;\n"
        "  an AGN classifier (linear SVM) on the 4 most frequent features and on all\n"
        "    non-zero ones, when the catalogue has the BPT lines or bptclass, with\n"
        "    accuracy, F1, precision and recall on the validation galaxies.\n"
        "\n"
        "Options:\n"
        "  -f, --figures DIR      also write PNGs there: correlation heat map,\n"
        "                         activation against target, predicted against true\n"
        "  -t, --top N            rows of Table 1 (default 8)\n"
        "  -m, --min-galaxies N   correlation matrix threshold (default 100)\n"
        "  -w, --class-weight W   the AGN SVM's class weights: none (as the paper),\n"
        "                         balanced (each class weighted n / (2 n_class), as\n"
        "                         scikit-learn's 'balanced'), or both (default)\n"
        "  -h, --help             show this help\n");
}

int cli_report(int argc, char **argv) {
    static const struct option opts[] = {
        {"figures", required_argument, NULL, 'f'},
        {"top", required_argument, NULL, 't'},
        {"min-galaxies", required_argument, NULL, 'm'},
        {"class-weight", required_argument, NULL, 'w'},
        CLI_OPTIONS_END,
    };
    cli_db db = {.usage = usage};
    report_options opt = {.top = 8, .min_galaxies = 100, .figures_dir = NULL};
    int c, rc;
    char *end;
    optind = 1;
    while ((c = getopt_long(argc, argv, "f:t:m:w:h", opts, NULL)) != -1) {
        switch (c) {
        case 'f': opt.figures_dir = optarg; break;
        case 't':
            opt.top = (int)strtol(optarg, &end, 10);
            if (*end || opt.top < 1) {
                fprintf(stderr, "sfnet-explore: --top needs a positive integer, not '%s'\n",
                        optarg);
                return 2;
            }
            break;
        case 'm':
            opt.min_galaxies = (int)strtol(optarg, &end, 10);
            if (*end || opt.min_galaxies < 0) {
                fprintf(stderr, "sfnet-explore: --min-galaxies needs an integer >= 0, not '%s'\n",
                        optarg);
                return 2;
            }
            break;
        case 'w':
            if (!strcmp(optarg, "both")) opt.class_weight = SVM_WEIGHTS_BOTH;
            else if (!strcmp(optarg, "none")) opt.class_weight = SVM_WEIGHTS_NONE;
            else if (!strcmp(optarg, "balanced")) opt.class_weight = SVM_WEIGHTS_BALANCED;
            else {
                fprintf(stderr, "sfnet-explore: --class-weight: none, balanced or both, not '%s'\n",
                        optarg);
                return 2;
            }
            break;
        default:
            if ((rc = cli_option_common(&db, c)) != CLI_CONTINUE) return rc;
        }
    }
    if (optind >= argc || argc - optind > 2) return cli_usage_error(&db);
    const char *run_spec = optind + 1 < argc ? argv[optind + 1] : NULL;
    if (cli_open(&db, argv[optind], STORE_READ)) return 1;
    store *s = db.s;
    run_data rd;
    report_result rr;
    rc = 1;
    if (run_data_load(&rd, s, run_spec) != SF_OK) return cli_fail(&db);
    if (report_compute(&rr, &rd, s, &opt) != SF_OK) {
        sf_warn("%s", sf_last_error());
        goto done;
    }
    report_print(stdout, &rd, &rr);
    if (opt.figures_dir) {
        if (report_figures(opt.figures_dir, &rd, s, &rr) != SF_OK) {
            sf_warn("%s", sf_last_error());
            report_result_free(&rr);
            goto done;
        }
        printf("\nFigures written to %s/\n", sf_shown(opt.figures_dir));
    }
    report_result_free(&rr);
    rc = 0;
done:
    run_data_free(&rd);
    cli_close(&db);
    return rc;
}
