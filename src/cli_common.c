/* cli_common.c: what the run-database commands share: the options every one of them
 * takes (--json, --csv, --help), opening the database and finding the run or the
 * feature they are about, printing a result table, and the messages of a failure.
 * See include/cli.h.
 * Layer: cli. Calls: query, query_table, store, sf_util; cJSON.
 * Called by: cli_* (12).
 */
#include <math.h>
#include <stdio.h>

#include <cJSON.h>

#include "cli.h"
#include "query.h"
#include "sf_util.h"
#include "store.h"

int cli_option_common(cli_db *c, int opt) {
    switch (opt) {
    case CLI_OPT_JSON: c->fmt = QUERY_JSON; return CLI_CONTINUE;
    case CLI_OPT_CSV: c->fmt = QUERY_CSV; return CLI_CONTINUE;
    case 'h': c->usage(stdout); return 0;
    default: c->usage(stderr); return 2;
    }
}

int cli_usage_error(const cli_db *c) {
    c->usage(stderr);
    return 2;
}

int cli_open(cli_db *c, const char *path, int mode) {
    c->s = NULL;
    c->has_run = 0;
    c->feature = -1;
    if (store_open(&c->s, path, mode) != SF_OK) {
        sf_warn("%s", sf_last_error());
        return 1;
    }
    return 0;
}

int cli_open_run(cli_db *c, const char *path, int mode, const char *run_spec) {
    if (cli_open(c, path, mode)) return 1;
    if (store_run_find(c->s, run_spec, &c->run) != SF_OK) return cli_fail(c);
    c->has_run = 1;
    return 0;
}

int cli_open_feature(cli_db *c, const char *path, int mode, int n_words, char *const *words) {
    if (cli_open(c, path, mode)) return 1;
    if (query_resolve_feature(c->s, n_words, words, &c->run, &c->feature) != SF_OK)
        return cli_fail(c);
    c->has_run = 1;
    return 0;
}

int cli_print(const cli_db *c, const query_table *t) {
    if (query_table_print(t, stdout, c->fmt) != SF_OK) {
        sf_warn("%s", sf_last_error());
        return 1;
    }
    return 0;
}

void cli_close(cli_db *c) {
    if (c->has_run) store_run_clear(&c->run);
    c->has_run = 0;
    store_close(c->s);
    c->s = NULL;
}

int cli_fail(cli_db *c) {
    sf_warn("%s", sf_last_error());
    cli_close(c);
    return 1;
}

void cli_json_num(cJSON *o, const char *key, double x) {
    if (isfinite(x)) cJSON_AddNumberToObject(o, key, x);
    else cJSON_AddNullToObject(o, key);
}

int cli_print_json(cJSON *root) {
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (!text) return 1;
    puts(text);
    cJSON_free(text);
    return ferror(stdout) ? 1 : 0;
}
