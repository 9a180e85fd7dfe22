/* cli.h: the subcommands of the one binary, sfnet-explore.
 *
 * Each subcommand lives in src/cli_<name>.c as `int cli_<name>(int argc, char **argv)`
 * where argv[0] is the subcommand's name. It parses its own options (getopt_long),
 * prints --help, and returns the process exit status: 0 success, 1 failure (the
 * message already printed), 2 bad usage. main.c dispatches through cli_commands[].
 */
#ifndef SF_CLI_H
#define SF_CLI_H

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary; /* one line for `sfnet-explore --help` */
} cli_command;

extern const cli_command cli_commands[];
int cli_inspect(int argc, char **argv);

int cli_bpt(int argc, char **argv);
int cli_export(int argc, char **argv);
int cli_runs(int argc, char **argv);
int cli_train(int argc, char **argv); /* --train, dispatched when argv holds it */
int cli_features(int argc, char **argv);
int cli_top(int argc, char **argv);
int cli_galaxy(int argc, char **argv);
int cli_equation(int argc, char **argv);
int cli_label(int argc, char **argv);
int cli_marks(int argc, char **argv);
int cli_export_activations(int argc, char **argv);
int cli_report(int argc, char **argv);
int cli_pca(int argc, char **argv);
int cli_sweep(int argc, char **argv);

int cli_synth(int argc, char **argv);
int cli_predict(int argc, char **argv);
int cli_merge(int argc, char **argv);


#endif
