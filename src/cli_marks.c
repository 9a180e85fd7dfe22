/* cli_marks.c: `sfnet-explore marks DB`: list, add and remove the marks (bookmarks) of
 * features and galaxies, as the explorer's m key does.
 * Layer: cli. Calls: cli_common, query, query_table, store, store_marks, store_read, sf_util.
 * Called by: main.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "query.h"
#include "sf_util.h"
#include "store.h"

static void usage(FILE *out) {
    fprintf(out,
            "Usage: sfnet-explore marks [--run RUN] [--json|--csv] DB\n"
            "       sfnet-explore marks [--run RUN] [--note TEXT] ACTION... DB\n"
            "\n"
            "The marks (bookmarks) kept in the run database: each run's marked features\n"
            "with their labels, and its marked galaxies with their objIDs, with notes and\n"
            "when they were made. The explorer's m key makes and removes them, M lists them.\n"
            "The actions below change the marks first, in the order given (DB is then\n"
            "opened for writing, which upgrades a file of an older schema version), then the\n"
            "marks are printed. Without --run every run's marks are listed; an action takes\n"
            "its run from --run, from the feature (\"SL 17\"), or from DB holding one run.\n"
            "\n"
            "Actions (each may be repeated):\n"
            "  -a, --add F                 mark feature F (17, SL17 or \"SL 17\")\n"
            "  -r, --remove F              remove the mark of feature F\n"
            "  -g, --add-galaxy OBJID      mark a galaxy\n"
            "  -G, --remove-galaxy OBJID   remove the mark of a galaxy\n"
            "\n"
            "Options:\n"
            "  -R, --run RUN    the run (prefix such as Z or SL, or id)\n"
            "  -n, --note TEXT  note for the marks this command adds (\"\" clears their note)\n"
            "      --json       JSON (an array of objects)\n"
            "      --csv        CSV\n"
            "  -h, --help       show this help\n");
}

typedef struct {
    int add;    /* 1 add, 0 remove */
    int galaxy; /* the text is an objID, not a feature */
    const char *text;
} mark_action;

/* The run an action applies to: the feature's own prefix, else --run, else the only run. */
static int action_run(store *s, const char *run_spec, const char *feature_prefix, store_run *run) {
    if (feature_prefix[0]) {
        if (store_run_find(s, feature_prefix, run) != SF_OK) return SF_ERR;
        if (run_spec) {
            store_run given;
            if (store_run_find(s, run_spec, &given) != SF_OK) {
                store_run_clear(run);
                return SF_ERR;
            }
            int same = given.id == run->id;
            store_run_clear(&given);
            if (!same) {
                store_run_clear(run);
                return sf_fail("the feature names run %s but --run %s was given", feature_prefix,
                               run_spec);
            }
        }
        return SF_OK;
    }
    return store_run_find(s, run_spec, run);
}

static int apply(store *s, const char *run_spec, const mark_action *act, const char *note,
                 query_format fmt) {
    char prefix[STORE_PREFIX_MAX + 8] = "";
    int feature = -1;
    int64_t galaxy_id = 0;
    if (!act->galaxy && store_parse_feature(act->text, prefix, sizeof prefix, &feature) != SF_OK)
        return SF_ERR;
    store_run run;
    if (action_run(s, run_spec, prefix, &run) != SF_OK) return SF_ERR;
    char name[STORE_PREFIX_MAX + STORE_OBJID_MAX + 16];
    if (act->galaxy) {
        store_galaxy g;
        if (store_galaxy_find(s, act->text, &g) != SF_OK) {
            store_run_clear(&run);
            return SF_ERR;
        }
        galaxy_id = g.id;
        snprintf(name, sizeof name, "galaxy %s (run %s)", g.objid, run.prefix);
        store_galaxy_clear(&g);
    } else {
        if (feature >= run.d) {
            int d = run.d;
            store_run_clear(&run);
            return sf_fail("run %s has features 0..%d, not %d", run.prefix, d - 1, feature);
        }
        query_feature_name(&run, feature, name, sizeof name);
    }
    int changed = 0, rc;
    if (act->add) rc = store_mark_add(s, run.id, feature, galaxy_id, note, &changed);
    else rc = store_mark_remove(s, run.id, feature, galaxy_id, &changed);
    store_run_clear(&run);
    if (rc != SF_OK) return SF_ERR;
    if (fmt == QUERY_TEXT)
        printf("%s: %s\n", name,
               act->add ? (changed ? "marked"
                           : note  ? "already marked, note saved"
                                   : "already marked")
                        : (changed ? "mark removed" : "was not marked"));
    return SF_OK;
}

static void add_rows(query_table *t, const store_run *run, const store_mark *m, int n,
                     query_format fmt) {
    for (int i = 0; i < n; i++) {
        char name[STORE_PREFIX_MAX + 16];
        query_table_text(t, run->prefix);
        query_table_text(t, m[i].feature >= 0 ? "feature" : "galaxy");
        if (m[i].feature >= 0) {
            query_feature_name(run, m[i].feature, name, sizeof name);
            query_table_text(t, name);
            query_table_text(t, NULL);
            query_table_text(t, m[i].label[0] ? m[i].label : fmt == QUERY_TEXT ? "" : NULL);
        } else {
            query_table_text(t, NULL);
            query_table_text(t, m[i].objid);
            query_table_text(t, fmt == QUERY_TEXT ? "" : NULL);
        }
        query_table_text(t, m[i].note[0] ? m[i].note : fmt == QUERY_TEXT ? "" : NULL);
        query_table_text(t, m[i].created);
    }
}

int cli_marks(int argc, char **argv) {
    static const struct option opts[] = {
        {"run", required_argument, NULL, 'R'},
        {"add", required_argument, NULL, 'a'},
        {"remove", required_argument, NULL, 'r'},
        {"add-galaxy", required_argument, NULL, 'g'},
        {"remove-galaxy", required_argument, NULL, 'G'},
        {"note", required_argument, NULL, 'n'},
        CLI_OPTIONS_FORMAT,
        CLI_OPTIONS_END,
    };
    cli_db db = {.usage = usage};
    const char *run_spec = NULL, *note = NULL;
    mark_action *acts = xcalloc((size_t)argc + 1, sizeof *acts);
    int n_acts = 0, c, rc;
    optind = 0;
    while ((c = getopt_long(argc, argv, "R:a:r:g:G:n:h", opts, NULL)) != -1) {
        switch (c) {
        case 'R': run_spec = optarg; break;
        case 'a': acts[n_acts++] = (mark_action){1, 0, optarg}; break;
        case 'r': acts[n_acts++] = (mark_action){0, 0, optarg}; break;
        case 'g': acts[n_acts++] = (mark_action){1, 1, optarg}; break;
        case 'G': acts[n_acts++] = (mark_action){0, 1, optarg}; break;
        case 'n': note = optarg; break;
        default:
            if ((rc = cli_option_common(&db, c)) != CLI_CONTINUE) {
                free(acts);
                return rc;
            }
        }
    }
    if (argc - optind != 1 || (note && !n_acts)) {
        if (note && !n_acts) sf_warn("--note goes with --add or --add-galaxy");
        free(acts);
        return cli_usage_error(&db);
    }
    if (cli_open(&db, argv[optind], n_acts ? STORE_WRITE : STORE_READ)) {
        free(acts);
        return 1;
    }
    store *s = db.s;
    query_format fmt = db.fmt;
    rc = 0;
    for (int i = 0; i < n_acts && rc == 0; i++)
        if (apply(s, run_spec, &acts[i], note, fmt) != SF_OK) {
            sf_warn("%s", sf_last_error());
            rc = 1;
        }
    free(acts);
    store_run *runs = NULL;
    int n_runs = 0;
    if (rc == 0) {
        store_run one;
        if (run_spec) {
            if (store_run_find(s, run_spec, &one) == SF_OK) {
                runs = xmalloc(sizeof *runs);
                runs[0] = one;
                n_runs = 1;
            } else {
                rc = 1;
            }
        } else if (store_runs(s, &runs, &n_runs) != SF_OK) {
            rc = 1;
        }
        if (rc) sf_warn("%s", sf_last_error());
    }
    static const char *const cols[] = {"run",   "kind", "feature", "objid",
                                       "label", "note", "created"};
    query_table *t = query_table_new(7, cols);
    for (int r = 0; r < n_runs && rc == 0; r++) {
        store_mark *m = NULL;
        int n = 0;
        if (store_marks(s, runs[r].id, &m, &n) != SF_OK) {
            sf_warn("%s", sf_last_error());
            rc = 1;
        }
        add_rows(t, &runs[r], m, n, fmt);
        free(m);
    }
    if (rc == 0) {
        if (fmt == QUERY_TEXT && query_table_rows(t) == 0)
            printf("no marks%s%s (the explorer's m key, or --add F, makes some)\n",
                   run_spec ? " in run " : "", run_spec ? sf_shown(run_spec) : "");
        else rc = cli_print(&db, t);
    }
    query_table_free(t);
    store_runs_free(runs, n_runs);
    cli_close(&db);
    return rc;
}
