/* main.c: dispatch to the subcommands of sfnet-explore.
 * Layer: main (the top). Calls: cli_* (17), tui_app, sf_mpi, sf_threads.
 * Called by: nobody: the program starts here.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "sf_mpi.h"
#include "sf_threads.h"
#include "sf_util.h"
#include "tui.h"

const cli_command cli_commands[] = {
    {"inspect", cli_inspect, "summarise a catalogue and its image cutouts"},
    {"export", cli_export, "a feature's top galaxies and BPT figure as PNG or PDF"},
    {"bpt", cli_bpt, "BPT class of every galaxy of a catalogue (CSV out)"},
    {"runs", cli_runs, "list the runs of a run database"},
    {"features", cli_features, "a run's features: frequency, weights, correlations, labels"},
    {"compare", cli_compare,
     "two runs' features against each other: correlations, best matches, ridge R^2"},
    {"top", cli_top, "the galaxies where a feature is strongest"},
    {"galaxy", cli_galaxy, "one galaxy: catalogue, predictions, active features"},
    {"equation", cli_equation,
     "prediction = b + sum w A, and the RMSE with the top 1/2/4/8 features"},
    {"label", cli_label, "label a feature (stored in the run database)"},
    {"marks", cli_marks, "list, add or remove marks (bookmarks) of features and galaxies"},
    {"export-activations", cli_export_activations, "a run's activations as a dense N x d .npy"},
    {"report", cli_report, "the paper's analyses of a run: Table 1, few-feature RMSE, AGN SVM"},
    {"pca", cli_pca, "Table 2 baseline: PCA of a dense run's features + linear regression"},
    {"latents", cli_latents, "what a run's features or principal components track (Spearman)"},
    {"sweep", cli_sweep,
     "Table 2 and Figure 4: SFNets for k = 2..8 x 3 seeds against PCA (resumable)"},
    {"synth", cli_synth, "write a synthetic galaxy survey (catalogue + cutouts) or its preview"},
    {"predict", cli_predict,
     "run a trained model over a catalogue: CSV out, or --into a run database"},
    {"merge", cli_merge, "join the runs of predict --shard databases into one run"},
    {NULL, NULL, NULL},
};

static void print_help(FILE *out) {
    fprintf(out, "Usage: sfnet-explore [OPTIONS] RUN.db          browse a run database\n"
                 "       sfnet-explore --train [OPTIONS] RUN.db  train a model, add it to RUN.db\n"
                 "       sfnet-explore COMMAND [OPTIONS] ...     run a headless command\n"
                 "\n"
                 "Sparse Feature Networks for galaxy images: train, store every galaxy's\n"
                 "sparse activations in SQLite, and browse the learned features.\n"
                 "\n"
                 "Commands:\n");
    for (const cli_command *c = cli_commands; c->name; c++)
        fprintf(out, "  %-20s %s\n", c->name, c->summary);
    fprintf(out, "\n"
                 "Options:\n"
                 "  -h, --help       show this help (COMMAND --help for a command's own)\n"
                 "  -V, --version    print the version\n"
                 "\n"
                 "See sfnet-explore(1) for every option and key.\n");
}

/* --train is the one command that runs as a rank of an MPI job (mpirun, srun); started
 * alone it never initialises MPI. */
static int train_main(int argc, char **argv) {
    if (sf_mpi_init(&argc, &argv) != SF_OK) {
        sf_warn("%s", sf_last_error());
        sf_mpi_finalize();
        return 1;
    }
    /* ranks that share this machine's cores share its threads */
    if (sf_mpi_local_size() > 1) sf_threads_init(sf_mpi_local_size(), NULL);
    int rc = cli_train(argc, argv);
    sf_mpi_finalize();
    return rc;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        print_help(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    /* sfnet-explore --train [OPTIONS] RUN.db, the options in any order */
    int train = 0;
    for (int i = 1; i < argc && cmd[0] == '-'; i++) train |= !strcmp(argv[i], "--train");
    /* the commands that run the network: OpenMP's threads wait passively */
    if (train || !strcmp(cmd, "predict")) sf_threads_wait_passively(argv);
    sf_threads_init(1, NULL); /* the CPUs really there: affinity, cgroup quota, Slurm */
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
        print_help(stdout);
        return 0;
    }
    if (!strcmp(cmd, "-V") || !strcmp(cmd, "--version")) {
        printf("sfnet-explore %s\n", SF_VERSION);
        return 0;
    }
    if (train) return train_main(argc, argv);
    for (const cli_command *c = cli_commands; c->name; c++)
        if (!strcmp(cmd, c->name)) return c->run(argc - 1, argv + 1);
    if (cli_is_database(cmd)) return tui_main(argc, argv);
    fprintf(stderr, "sfnet-explore: unknown command '%s' (see sfnet-explore --help)\n", cmd);
    return 2;
}
