/* tui_run.c: the run on screen (tui_run, loaded once per run) and the galaxy pictures
 * the pages load when they open. Loading only: no curses here, so the scale bench can
 * time it headless.
 * Layer: tui. Calls: query, store, data_image, sf_util.
 * Called by: tui_app, tui_list, bench_scale.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data_image.h"
#include "sf_util.h"
#include "tui_app.h"

const char *tui_sort_names[TUI_N_SORTS] = {"frequency",     "feature", "|weight|",
                                           "|correlation|", "max",     "label"};
static const store_sort sort_keys[TUI_N_SORTS] = {STORE_SORT_FREQUENCY, STORE_SORT_FEATURE,
                                                  STORE_SORT_WEIGHT,    STORE_SORT_CORRELATION,
                                                  STORE_SORT_MAX,       STORE_SORT_LABEL};

void tui_run_sort(tui_run *r, int sort, int reverse, int show_dead) {
    int d = r->v.run.d;
    store_feature *f = xmalloc(((size_t)d + 1) * sizeof *f);
    memcpy(f, r->v.features, (size_t)d * sizeof *f);
    store_features_sort(f, d, sort_keys[sort >= 0 && sort < TUI_N_SORTS ? sort : 0]);
    free(r->order);
    free(r->visible);
    r->order = xmalloc(((size_t)d + 1) * sizeof *r->order);
    r->visible = xmalloc(((size_t)d + 1) * sizeof *r->visible);
    r->n_visible = r->n_dead = 0;
    for (int i = 0; i < d; i++) {
        const store_feature *x = &f[reverse ? d - 1 - i : i];
        r->order[i] = x->feature;
        if (x->n_active == 0) r->n_dead++;
        if (x->n_active > 0 || show_dead) r->visible[r->n_visible++] = x->feature;
    }
    free(f);
}

int tui_run_load(store *s, int64_t run_id, int sort, int reverse, int show_dead, tui_run *r) {
    memset(r, 0, sizeof *r);
    if (query_run_view_load(s, run_id, &r->v) != SF_OK) return SF_ERR;
    tui_run_sort(r, sort, reverse, show_dead);
    return SF_OK;
}

void tui_run_clear(tui_run *r) {
    query_run_view_clear(&r->v);
    free(r->order);
    free(r->visible);
    memset(r, 0, sizeof *r);
}

int tui_run_visible_index(const tui_run *r, int feature) {
    for (int i = 0; i < r->n_visible; i++)
        if (r->visible[i] == feature) return i;
    return -1;
}

void tui_image_load(store *s, const store_run *run, int64_t galaxy_id, const char *objid,
                    tui_image *img) {
    memset(img, 0, sizeof *img);
    snprintf(img->objid, sizeof img->objid, "%s", objid);
    if (query_thumbnail(s, galaxy_id, &img->rgb, &img->w, &img->h) == SF_OK && img->rgb) return;
    free(img->rgb);
    img->rgb = NULL;
    /* the run's image folder, when the file has no thumbnail (and the folder is still there) */
    if (!run->images[0] || strchr(objid, '/')) return;
    static const char *ext[] = {"jpg", "jpeg", "png"};
    for (int i = 0; i < 3; i++) {
        char path[1200];
        snprintf(path, sizeof path, "%s/%s.%s", run->images, objid, ext[i]);
        if (access(path, R_OK) == 0 && image_decode(path, &img->rgb, &img->w, &img->h) == SF_OK)
            return;
    }
    img->rgb = NULL;
}

void tui_image_clear(tui_image *img) {
    free(img->rgb);
    memset(img, 0, sizeof *img);
}
