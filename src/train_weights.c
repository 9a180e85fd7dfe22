/* train_weights.c: an sfnet to and from a safetensors file with PyTorch state-dict
 * names and the metadata inference needs. See include/train.h.
 * Layer: train. Calls: nn_model, safetensors, sf_util; cJSON.
 * Called by: cli_predict, cli_train, train_loop.
 */
#include <cJSON.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "safetensors.h"
#include "sf_util.h"
#include "train.h"

void weights_meta_clear(weights_meta *wm) {
    memset(wm, 0, sizeof *wm);
    wm->width = wm->k = wm->n_out = wm->in_size = wm->resize = wm->crop = -1;
}

void weights_meta_from(weights_meta *wm, const sfnet *m, const dataset *ds, int resize) {
    weights_meta_clear(wm);
    wm->width = m->cfg.width;
    wm->k = m->cfg.k;
    wm->n_out = m->cfg.n_out;
    wm->in_size = m->cfg.in_size;
    if (!ds) return;
    wm->resize = resize;
    wm->crop = ds->size;
    wm->has_norm = 1;
    memcpy(wm->mean, ds->mean, sizeof wm->mean);
    memcpy(wm->std, ds->std, sizeof wm->std);
    wm->n_targets = ds->targets.n_targets;
    for (int i = 0; i < wm->n_targets && i < TARGET_MAX; i++)
        snprintf(wm->targets[i], sizeof wm->targets[i], "%s", ds->targets.names[i]);
}

void weights_meta_apply(weights_meta *wm, const weights_meta *o) {
    if (o->width >= 0) wm->width = o->width;
    if (o->k >= 0) wm->k = o->k;
    if (o->n_out >= 0) wm->n_out = o->n_out;
    if (o->in_size >= 0) wm->in_size = o->in_size;
    if (o->resize >= 0) wm->resize = o->resize;
    if (o->crop >= 0) wm->crop = o->crop;
    if (o->has_norm) {
        wm->has_norm = 1;
        memcpy(wm->mean, o->mean, sizeof wm->mean);
        memcpy(wm->std, o->std, sizeof wm->std);
    }
    if (o->n_targets > 0) {
        wm->n_targets = o->n_targets;
        memcpy(wm->targets, o->targets, sizeof wm->targets);
    }
}

/* ---------------------------------------------------------------- saving */

static void meta_int(st_writer *w, const char *key, int v) {
    char buf[32];
    if (v < 0) return;
    snprintf(buf, sizeof buf, "%d", v);
    st_writer_meta(w, key, buf);
}

static void meta_floats(st_writer *w, const char *key, const float *v, int n) {
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber((double)v[i]));
    char *s = cJSON_PrintUnformatted(a);
    SF_ASSERT(s);
    st_writer_meta(w, key, s);
    free(s);
    cJSON_Delete(a);
}

static int is_bn_running_var(const char *name) {
    size_t n = strlen(name), s = strlen(".running_var");
    return n > s && !strcmp(name + n - s, ".running_var");
}

void weights_add(st_writer *w, sfnet *m, const weights_meta *wm, const int64_t *nbt) {
    for (int i = 0; i < m->n_tensors; i++) {
        const sfnet_tensor *t = &m->tensors[i];
        int64_t shape[4];
        for (int d = 0; d < t->ndim; d++) shape[d] = t->shape[d];
        st_writer_add(w, t->name, ST_F32, t->ndim, shape, sfnet_tensor_data(m, t));
        if (is_bn_running_var(t->name)) {
            /* PyTorch keeps one counter per BN layer; ours is shared, all equal. */
            char name[96];
            snprintf(name, sizeof name, "%.*s.num_batches_tracked",
                     (int)(strlen(t->name) - strlen(".running_var")), t->name);
            st_writer_add(w, name, ST_I64, 0, NULL, nbt);
        }
    }
    st_writer_meta(w, "format", WEIGHTS_FORMAT);
    st_writer_meta(w, "model", "resnet18-topk");
    meta_int(w, "width", wm->width);
    meta_int(w, "k", wm->k);
    meta_int(w, "n_out", wm->n_out);
    meta_int(w, "in_size", wm->in_size);
    meta_int(w, "resize", wm->resize);
    meta_int(w, "crop", wm->crop);
    if (wm->has_norm) {
        meta_floats(w, "mean", wm->mean, 3);
        meta_floats(w, "std", wm->std, 3);
    }
    if (wm->n_targets > 0) {
        cJSON *a = cJSON_CreateArray();
        for (int i = 0; i < wm->n_targets; i++)
            cJSON_AddItemToArray(a, cJSON_CreateString(wm->targets[i]));
        char *s = cJSON_PrintUnformatted(a);
        SF_ASSERT(s);
        st_writer_meta(w, "targets", s);
        free(s);
        cJSON_Delete(a);
    }
}

int weights_save(sfnet *m, const weights_meta *wm, const char *path) {
    st_writer w;
    st_writer_init(&w);
    int64_t nbt = m->num_batches_tracked;
    weights_add(&w, m, wm, &nbt);
    int rc = st_writer_save(&w, path);
    st_writer_free(&w);
    return rc;
}

void weights_save_mem(sfnet *m, const weights_meta *wm, uint8_t **data, size_t *len) {
    st_writer w;
    st_writer_init(&w);
    int64_t nbt = m->num_batches_tracked;
    weights_add(&w, m, wm, &nbt);
    st_writer_save_mem(&w, data, len);
    st_writer_free(&w);
}

/* ---------------------------------------------------------------- metadata */

static int parse_meta_int(const st_file *f, const char *key, int lo, int hi, int *out) {
    const char *s = st_meta(f, key);
    if (!s) return SF_OK;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return sf_fail("%s: metadata %s = '%.40s' is not an integer in %d..%d", f->path, key, s, lo,
                       hi);
    *out = (int)v;
    return SF_OK;
}

static int parse_meta_floats(const st_file *f, const char *key, float *out, int n, int *found) {
    const char *s = st_meta(f, key);
    if (!s) return SF_OK;
    cJSON *a = cJSON_Parse(s);
    int ok = cJSON_IsArray(a) && cJSON_GetArraySize(a) == n;
    for (int i = 0; ok && i < n; i++) {
        cJSON *e = cJSON_GetArrayItem(a, i);
        ok = cJSON_IsNumber(e) && isfinite(e->valuedouble);
        if (ok) out[i] = (float)e->valuedouble;
    }
    cJSON_Delete(a);
    if (!ok)
        return sf_fail("%s: metadata %s = '%.60s' is not a list of %d numbers", f->path, key, s, n);
    (*found)++;
    return SF_OK;
}

int weights_meta_parse(const st_file *f, weights_meta *wm) {
    weights_meta_clear(wm);
    const char *fmt = st_meta(f, "format");
    if (fmt && strncmp(fmt, "sfnet-explore-", 14) == 0 && strcmp(fmt, WEIGHTS_FORMAT) != 0 &&
        strcmp(fmt, "sfnet-explore-checkpoint-1") != 0)
        return sf_fail("%s: weights format '%.40s' is not %s (written by another version of "
                       "sfnet-explore?)",
                       f->path, fmt, WEIGHTS_FORMAT);
    if (parse_meta_int(f, "width", 1, 1024, &wm->width) ||
        parse_meta_int(f, "k", 0, 8192, &wm->k) ||
        parse_meta_int(f, "n_out", 1, TARGET_MAX * 64, &wm->n_out) ||
        parse_meta_int(f, "in_size", 8, 4096, &wm->in_size) ||
        parse_meta_int(f, "resize", 8, 8192, &wm->resize) ||
        parse_meta_int(f, "crop", 8, 4096, &wm->crop))
        return SF_ERR;
    int norms = 0;
    if (parse_meta_floats(f, "mean", wm->mean, 3, &norms) ||
        parse_meta_floats(f, "std", wm->std, 3, &norms))
        return SF_ERR;
    if (norms == 1) return sf_fail("%s: metadata has only one of mean and std", f->path);
    wm->has_norm = norms == 2;
    for (int c = 0; wm->has_norm && c < 3; c++)
        if (!(wm->std[c] > 0))
            return sf_fail("%s: metadata std[%d] = %g must be positive", f->path, c,
                           (double)wm->std[c]);
    const char *tg = st_meta(f, "targets");
    if (tg) {
        cJSON *a = cJSON_Parse(tg);
        int n = cJSON_IsArray(a) ? cJSON_GetArraySize(a) : -1;
        int ok = n >= 1 && n <= TARGET_MAX;
        for (int i = 0; ok && i < n; i++) {
            cJSON *e = cJSON_GetArrayItem(a, i);
            ok = cJSON_IsString(e) && e->valuestring && *e->valuestring &&
                 strlen(e->valuestring) < sizeof wm->targets[0];
            if (ok) strcpy(wm->targets[i], e->valuestring);
        }
        cJSON_Delete(a);
        if (!ok)
            return sf_fail("%s: metadata targets = '%.60s' is not a list of 1..%d names", f->path,
                           tg, TARGET_MAX);
        wm->n_targets = n;
    }
    return SF_OK;
}

int weights_read_meta(const char *path, weights_meta *wm) {
    st_file f;
    if (st_open(&f, path) != SF_OK) return SF_ERR;
    int rc = weights_meta_parse(&f, wm);
    st_close(&f);
    return rc;
}

/* ---------------------------------------------------------------- loading */

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

static int skipped_name(const char *name) {
    return !strncmp(name, "trunk.", 6) || !strncmp(name, "optimizer.", 10) ||
           !strncmp(name, "train.", 6);
}

int weights_load_from(sfnet *m, const st_file *f, int backbone_only) {
    char *seen = xcalloc((size_t)m->n_tensors + 1, 1);
    int rc = SF_OK, got_nbt = 0;
    char fs[128], ms[128];
    for (int i = 0; i < f->n_tensors && rc == SF_OK; i++) {
        const st_tensor *st = &f->tensors[i];
        const char *name = st->name;
        if (!strncmp(name, "resnet.", 7)) name += 7;
        if (skipped_name(name)) continue;
        if (backbone_only && !strncmp(name, "fc.", 3)) continue;
        if (ends_with(name, ".num_batches_tracked")) {
            if (st->numel != 1 || (st->dtype != ST_I64 && st->dtype != ST_F32)) {
                rc = sf_fail("%s: tensor '%s' should be one I64 value", f->path, st->name);
                break;
            }
            if (!got_nbt++) {
                if (st->dtype == ST_I64) {
                    int64_t v;
                    memcpy(&v, st_bytes(f, st), 8);
                    m->num_batches_tracked = (long)v;
                } else {
                    float v;
                    st_read_f32(f, st, &v, 1);
                    m->num_batches_tracked = (long)v;
                }
            }
            continue;
        }
        const sfnet_tensor *t = sfnet_find_tensor(m, name);
        if (!t) {
            rc = sf_fail("%s: tensor '%s' is not part of a width-%d resnet18-topk (a "
                         "different architecture, or the wrong file?)",
                         f->path, st->name, m->cfg.width);
            break;
        }
        int64_t mshape[4];
        for (int d = 0; d < t->ndim; d++) mshape[d] = t->shape[d];
        int same = st->ndim == t->ndim;
        for (int d = 0; same && d < t->ndim; d++) same = st->shape[d] == mshape[d];
        if (!same) {
            st_shape_str(fs, sizeof fs, st->ndim, st->shape);
            st_shape_str(ms, sizeof ms, t->ndim, mshape);
            rc = sf_fail("%s: tensor '%s' has shape %s but the model (width %d, n_out %d) "
                         "needs %s%s",
                         f->path, st->name, fs, m->cfg.width, m->cfg.n_out, ms,
                         !strncmp(t->name, "fc.", 3) ? " (--n-out, or load only the "
                                                       "backbone)"
                                                     : " (--width?)");
            break;
        }
        if (st->dtype != ST_F32 && st->dtype != ST_F16 && st->dtype != ST_BF16 &&
            st->dtype != ST_F64) {
            rc = sf_fail("%s: tensor '%s' has dtype %s; weights must be floating point", f->path,
                         st->name, st_dtype_name(st->dtype));
            break;
        }
        int idx = (int)(t - m->tensors);
        if (seen[idx]) {
            rc = sf_fail("%s: tensor '%s' appears twice (with and without 'resnet.'?)", f->path,
                         t->name);
            break;
        }
        seen[idx] = 1;
        rc = st_read_f32(f, st, sfnet_tensor_data(m, t), t->numel);
    }
    for (int i = 0; i < m->n_tensors && rc == SF_OK; i++) {
        const char *name = m->tensors[i].name;
        if (seen[i] || (backbone_only && !strncmp(name, "fc.", 3))) continue;
        rc = sf_fail("%s: tensor '%s' is missing (a width-%d resnet18-topk needs %d tensors)",
                     f->path, name, m->cfg.width, m->n_tensors);
    }
    free(seen);
    if (rc == SF_OK) sfnet_params_changed(m);
    return rc;
}

int weights_load(sfnet *m, const char *path, int backbone_only) {
    st_file f;
    if (st_open(&f, path) != SF_OK) return SF_ERR;
    int rc = weights_load_from(m, &f, backbone_only);
    st_close(&f);
    return rc;
}

sfnet *weights_load_model_from(const st_file *f, const weights_meta *override, int max_batch,
                               nn_engine_kind engine, int inference_only, weights_meta *wm_out) {
    const char *path = f->path;
    weights_meta wm;
    if (weights_meta_parse(f, &wm) != SF_OK) return NULL;
    /* What the tensors say, when the metadata does not. */
    const st_tensor *c1 = st_find(f, "conv1.weight");
    if (!c1) c1 = st_find(f, "resnet.conv1.weight");
    const st_tensor *fc = st_find(f, "fc.weight");
    if (!fc) fc = st_find(f, "resnet.fc.weight");
    if (wm.width < 0 && c1 && c1->ndim == 4 && c1->shape[0] <= 1024) wm.width = (int)c1->shape[0];
    if (wm.n_out < 0 && fc && fc->ndim == 2 && fc->shape[0] <= INT_MAX)
        wm.n_out = (int)fc->shape[0];
    if (override) weights_meta_apply(&wm, override);
    if (wm.in_size < 0) wm.in_size = wm.crop;
    if (wm.crop < 0) wm.crop = wm.in_size;
    const char *missing = wm.width < 0    ? "width (--width)"
                          : wm.n_out < 0  ? "n_out (--n-out)"
                          : wm.k < 0      ? "k (--k)"
                          : wm.crop < 0   ? "crop (--crop)"
                          : wm.resize < 0 ? "resize (--resize)"
                          : !wm.has_norm  ? "normalisation (--mean and --std)"
                                          : NULL;
    if (missing) {
        sf_fail("%s: the file does not say its %s; pass it on the command line", path, missing);
        return NULL;
    }
    if (wm.n_targets > 0 && wm.n_targets != wm.n_out) {
        sf_fail("%s: %d target names for %d outputs", path, wm.n_targets, wm.n_out);
        return NULL;
    }
    if (wm.crop != wm.in_size) {
        sf_fail("%s: crop %d differs from the model's input size %d", path, wm.crop, wm.in_size);
        return NULL;
    }
    sfnet_config cfg = {.width = wm.width,
                        .k = wm.k,
                        .n_out = wm.n_out,
                        .in_size = wm.in_size,
                        .inference_only = inference_only};
    sfnet *m = sfnet_create(&cfg, max_batch, engine);
    if (!m) {
        sf_fail_prefix(path);
        return NULL;
    }
    if (weights_load_from(m, f, 0) != SF_OK) {
        sfnet_free(m);
        return NULL;
    }
    if (wm_out) *wm_out = wm;
    return m;
}

sfnet *weights_load_model(const char *path, const weights_meta *override, int max_batch,
                          nn_engine_kind engine, int inference_only, weights_meta *wm_out) {
    st_file f;
    if (st_open(&f, path) != SF_OK) return NULL;
    sfnet *m = weights_load_model_from(&f, override, max_batch, engine, inference_only, wm_out);
    st_close(&f);
    return m;
}
