/* cli.h: the subcommands of the one binary, sfnet-explore.
 *
 * Each subcommand lives in src/cli_<name>.c as `int cli_<name>(int argc, char **argv)`
 * where argv[0] is the subcommand's name. It parses its own options (getopt_long),
 * prints --help, and returns the process exit status: 0 success, 1 failure (the
 * message already printed), 2 bad usage. main.c dispatches through cli_commands[].
 */
#ifndef SF_CLI_H
#define SF_CLI_H

#include <getopt.h>
#include <stdio.h>

#include "query.h"
#include "store.h"

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
int cli_compare(int argc, char **argv);
int cli_top(int argc, char **argv);
int cli_galaxy(int argc, char **argv);
int cli_equation(int argc, char **argv);
int cli_label(int argc, char **argv);
int cli_marks(int argc, char **argv);
int cli_export_activations(int argc, char **argv);
int cli_report(int argc, char **argv);
int cli_pca(int argc, char **argv);
int cli_latents(int argc, char **argv);
int cli_sweep(int argc, char **argv);

int cli_synth(int argc, char **argv);
int cli_predict(int argc, char **argv);
int cli_merge(int argc, char **argv);

/* ---- what the run-database commands share (cli_common.c) ----------------------
 *
 *   static const struct option opts[] = {{"number", required_argument, NULL, 'n'},
 *                                        CLI_OPTIONS_FORMAT, CLI_OPTIONS_END};
 *   cli_db db = {.usage = usage};
 *   while ((c = getopt_long(argc, argv, "n:h", opts, NULL)) != -1) {
 *       switch (c) {
 *       case 'n': ...; break;
 *       default:
 *           if ((rc = cli_option_common(&db, c)) != CLI_CONTINUE) return rc;
 *       }
 *   }
 *   if (argc - optind != 2) return cli_usage_error(&db);
 *   if (cli_open_run(&db, argv[optind], STORE_READ, argv[optind + 1])) return 1;
 *   ... db.s, db.run ...  (a failure: return cli_fail(&db);)
 *   rc = cli_print(&db, table);
 *   cli_close(&db);
 */

/* Option values of --json and --csv (no short options). */
enum { CLI_OPT_JSON = 0x1000, CLI_OPT_CSV };
/* The entries of an option table: --json and --csv; --help and the end mark. */
#define CLI_OPTIONS_FORMAT                                                                         \
    {"json", no_argument, NULL, CLI_OPT_JSON}, { "csv", no_argument, NULL, CLI_OPT_CSV }
#define CLI_OPTIONS_END                                                                            \
    {"help", no_argument, NULL, 'h'}, { NULL, 0, NULL, 0 }
#define CLI_CONTINUE (-1)

typedef struct {
    void (*usage)(FILE *out); /* the command's help */
    query_format fmt;         /* QUERY_TEXT, or --json / --csv */
    store *s;                 /* open after cli_open* */
    store_run run;            /* found by cli_open_run / cli_open_feature */
    int has_run;
    int feature; /* found by cli_open_feature, else -1 */
} cli_db;

/* The end of an option switch: --json and --csv set c->fmt (CLI_CONTINUE); --help
 * prints the usage on stdout (0); anything else prints it on stderr (2). Returns
 * CLI_CONTINUE, or the exit status to return. */
int cli_option_common(cli_db *c, int opt);
/* Wrong positional arguments: the usage on stderr; returns 2. */
int cli_usage_error(const cli_db *c);
/* Opens the run database at path (STORE_READ or STORE_WRITE); cli_open_run also
 * finds the run named by run_spec (prefix or id; NULL: the only run), and
 * cli_open_feature the run and feature of 1 or 2 words ("SL 17", "SL17", "SL" "17",
 * "17"). 0, or 1 after printing why (nothing left open). */
int cli_open(cli_db *c, const char *path, int mode);
int cli_open_run(cli_db *c, const char *path, int mode, const char *run_spec);
int cli_open_feature(cli_db *c, const char *path, int mode, int n_words, char *const *words);
/* Prints t in c->fmt on stdout; 0, or 1 after printing why. */
int cli_print(const cli_db *c, const query_table *t);
/* Clears the run and closes the database (both may be absent). */
void cli_close(cli_db *c);
/* After a failure with a message (sf_fail): prints it, closes; returns 1. */
int cli_fail(cli_db *c);

/* JSON output (libcjson): a number, null when it is NaN or infinite; printing a
 * document on stdout (root is deleted), 0 or 1 as the exit status. */
struct cJSON;
void cli_json_num(struct cJSON *o, const char *key, double x);
int cli_print_json(struct cJSON *root);

#endif
