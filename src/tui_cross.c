/* tui_cross.c: the explorer between runs: the other runs sharing the current run's
 * galaxies, a feature's counterparts in each (the feature page's block), jumps to another
 * run's feature that q comes back from, and the galaxy page's other runs and similar
 * galaxies. The data is loaded when a page opens (query.h), and drawn from there.
 * Layer: tui. Calls: query_cross, store_read, tui_app, tui_thumb, sf_util; ncursesw.
 * Called by: tui_app, tui_feature, tui_galaxy.
 */
#include <curses.h>
#include <stdlib.h>
#include <string.h>

#include "sf_util.h"
#include "tui_app.h"

static int run_index(const tui_app *a, int64_t id) {
    for (int i = 0; i < a->n_runs; i++)
        if (a->runs[i].id == id) return i;
    return -1;
}

int tui_cross_runs_load(tui_app *a) {
    free(a->others);
    free(a->n_shared);
    a->others = a->n_shared = NULL;
    a->n_others = 0;
    int64_t *ids = NULL;
    int *shared = NULL, n = 0;
    if (store_cross_runs(a->db, tui_cur_run(a)->id, &ids, &shared, &n) != SF_OK) return SF_ERR;
    a->others = xmalloc((size_t)(n + 1) * sizeof *a->others);
    a->n_shared = shared;
    for (int i = 0; i < n; i++) {
        int r = run_index(a, ids[i]);
        if (r < 0) continue;
        a->n_shared[a->n_others] = shared[i];
        a->others[a->n_others++] = r;
    }
    free(ids);
    return SF_OK;
}

void tui_cross_free(tui_app *a) {
    free(a->others);
    free(a->n_shared);
    a->others = a->n_shared = NULL;
    a->n_others = 0;
    if (a->nb_run_id) query_neighbors_clear(&a->nb);
    a->nb_run_id = 0;
    if (a->cmp_a) query_compare_clear(&a->cmp);
    a->cmp_a = a->cmp_b = 0;
}

/* ---- the feature page's counterparts -------------------------------------------------------- */

void tui_cross_feature_clear(tui_feature_page *p) {
    for (int i = 0; i < p->n_cross; i++) query_counterparts_clear(&p->cross[i].cp);
    free(p->cross);
    p->cross = NULL;
    p->n_cross = 0;
}

int tui_cross_feature_load(tui_app *a, tui_feature_page *p) {
    tui_cross_feature_clear(p);
    if (!a->n_others) return SF_OK;
    p->cross = xcalloc((size_t)a->n_others, sizeof *p->cross);
    for (int i = 0; i < a->n_others; i++) {
        tui_cross_block *b = &p->cross[p->n_cross];
        b->run = a->others[i];
        if (query_counterparts_compute(a->db, tui_cur_run(a)->id, p->feature, a->runs[b->run].id,
                                       TUI_COUNTERPARTS, &b->cp) != SF_OK)
            return SF_ERR;
        p->n_cross++;
    }
    return SF_OK;
}

void tui_open_in_run(tui_app *a, int run, int feature) {
    if (run < 0 || run >= a->n_runs) return;
    tui_view here = *tui_top(a);
    if (run != a->cur && tui_load_run(a, run) != SF_OK) {
        tui_msg(a, "%s", sf_last_error());
        return;
    }
    if (tui_push_feature(a, feature, here.type == SCREEN_FEATURE ? here.zoom : 0) != SF_OK) {
        /* stay where we were, in its run (the message says why) */
        if (here.run != a->cur) {
            char why[sizeof a->message];
            snprintf(why, sizeof why, "%s", a->message);
            if (tui_load_run(a, here.run) != SF_OK) tui_msg(a, "%s", sf_last_error());
            else tui_msg(a, "%s", why);
        }
        return;
    }
    tui_msg(a, "%s %d (q comes back to %s)", a->runs[run].prefix, feature,
            here.type == SCREEN_FEATURE ? "the feature before" : "the page before");
}

/* ---- the galaxy page's other runs and similar galaxies ---------------------------------------- */

void tui_cross_galaxy_clear(tui_galaxy_page *p) {
    tui_galaxy_cross *g = p->cross;
    if (!g) return;
    for (int i = 0; i < g->n_runs; i++) store_galaxy_run_clear(&g->gr[i]);
    for (int i = 0; i < g->n_near; i++) tui_image_clear(&g->near_image[i]);
    free(g->gr);
    free(g->run);
    free(g);
    p->cross = NULL;
}

int tui_cross_galaxy_load(tui_app *a, int64_t galaxy_id, tui_galaxy_page *p) {
    tui_cross_galaxy_clear(p);
    tui_galaxy_cross *g = p->cross = xcalloc(1, sizeof *g);
    const store_run *cur = tui_cur_run(a);
    int64_t run_id = cur->id;
    int64_t *ids = NULL;
    int n = 0;
    if (store_galaxy_runs(a->db, galaxy_id, &ids, &n) != SF_OK) return SF_ERR;
    g->run = xcalloc((size_t)(n + 1), sizeof *g->run);
    g->gr = xcalloc((size_t)(n + 1), sizeof *g->gr);
    int in_run = 0, status = SF_OK;
    for (int i = 0; i < n && status == SF_OK; i++) {
        if (ids[i] == run_id) {
            in_run = 1;
            continue;
        }
        int r = run_index(a, ids[i]);
        if (r < 0) continue;
        status = store_galaxy_in_run(a->db, ids[i], galaxy_id, &g->gr[g->n_runs]);
        if (status == SF_OK) g->run[g->n_runs++] = r;
    }
    free(ids);
    if (status != SF_OK) return SF_ERR;
    if (!in_run) {
        snprintf(g->near_why, sizeof g->near_why, "not in run %s", cur->prefix);
        return SF_OK;
    }
    if (a->nb_run_id != run_id) {
        if (a->nb_run_id) query_neighbors_clear(&a->nb);
        a->nb_run_id = 0;
        if (query_neighbors_load(a->db, run_id, &a->nb) != SF_OK) return SF_ERR;
        a->nb_run_id = run_id;
    }
    if (query_similar_galaxies(a->db, &a->nb, galaxy_id, TUI_NEIGHBORS, g->near, &g->n_near) !=
        SF_OK)
        return SF_ERR;
    if (!g->n_near)
        snprintf(g->near_why, sizeof g->near_why, "none: no active feature in %s", cur->prefix);
    /* their pictures, decoded now as the page's own are */
    for (int i = 0; i < g->n_near; i++)
        tui_image_load(a->db, cur, g->near[i].galaxy_id, g->near[i].objid, &g->near_image[i]);
    return SF_OK;
}
