/* train_loop.c: the training loop (epochs of Ranger steps under a schedule, validation,
 * checkpoints, Ctrl-C, resume). See include/train.h.
 * Layer: train. Calls: data_dataset, nn_model, safetensors, train_dist, train_optim,
 *     train_weights, sf_mpi, sf_util.
 * Called by: cli_train.
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "safetensors.h"
#include "sf_mpi.h"
#include "sf_util.h"
#include "train.h"
#include "train_dist.h"

#define CHECKPOINT_FORMAT "sfnet-explore-checkpoint-1"

void train_options_default(train_options *o) {
    memset(o, 0, sizeof *o);
    o->epochs = 20;
    o->batch = 64;
    o->lr = 0.1;
    o->seed = 256;
    o->schedule = SCHED_ONE_CYCLE;
    o->flips = TRAIN_FLIPS_DIHEDRAL;
    o->targets = TRAIN_TARGETS_STANDARDISED;
    o->head_bias_mean = 1;
    o->opt = ranger_defaults();
}

const char *train_flips_name(train_flips f) {
    switch (f) {
    case TRAIN_FLIPS_NONE: return "none";
    case TRAIN_FLIPS_DIHEDRAL: return "dihedral";
    case TRAIN_FLIPS_HV: return "hv";
    case TRAIN_FLIPS_BATCH: return "batch";
    }
    return "?";
}

int train_flips_parse(const char *s, train_flips *f) {
    static const train_flips all[] = {TRAIN_FLIPS_NONE, TRAIN_FLIPS_DIHEDRAL, TRAIN_FLIPS_HV,
                                      TRAIN_FLIPS_BATCH};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (!strcmp(s, train_flips_name(all[i]))) {
            *f = all[i];
            return SF_OK;
        }
    return sf_fail("'%s': expected dihedral, hv, batch or none", s);
}

const char *train_targets_name(train_targets t) {
    return t == TRAIN_TARGETS_RAW ? "raw" : "standardised";
}

int train_targets_parse(const char *s, train_targets *t) {
    if (!strcmp(s, "standardised") || !strcmp(s, "standardized")) *t = TRAIN_TARGETS_STANDARDISED;
    else if (!strcmp(s, "raw")) *t = TRAIN_TARGETS_RAW;
    else return sf_fail("'%s': expected standardised or raw", s);
    return SF_OK;
}

void train_result_free(train_result *r) {
    free(r->train_loss);
    free(r->valid_rmse);
    memset(r, 0, sizeof *r);
}

void train_decay_mask(const sfnet *m, uint8_t *decay) {
    for (int i = 0; i < m->n_tensors; i++) {
        const sfnet_tensor *t = &m->tensors[i];
        if (t->is_buffer) continue;
        memset(decay + t->offset, t->ndim >= 2, t->numel);
    }
}

void train_head_bias_to_mean(sfnet *m, const dataset *ds) {
    int no = ds->targets.n_targets;
    SF_ASSERT(no == m->cfg.n_out && ds->n_train > 0);
    float *bias = sfnet_tensor_data(m, sfnet_find_tensor(m, "fc.bias"));
    for (int t = 0; t < no; t++) {
        double s = 0;
        for (int i = 0; i < ds->n_train; i++) s += ds->y[(size_t)ds->train_idx[i] * no + t];
        bias[t] = (float)(s / ds->n_train);
    }
    sfnet_params_changed(m);
}

/* ---------------------------------------------------------------- target units */

/* What the network learns: z = (y - mean[t]) / scale. */
typedef struct {
    int n_out;
    double mean[TARGET_MAX];
    double scale;
} target_units;

/* Per-output means over the training split and the sd pooled over outputs (the square
 * root of the mean of the per-output variances), so that the loss on z is the RMSE
 * in target units over scale. Identity for TRAIN_TARGETS_RAW or a constant target. */
static void target_units_of(target_units *u, const dataset *ds, train_targets kind) {
    int no = ds->targets.n_targets, n = ds->n_train;
    memset(u, 0, sizeof *u);
    u->n_out = no;
    u->scale = 1;
    if (kind == TRAIN_TARGETS_RAW || n < 2) return;
    double var = 0;
    for (int t = 0; t < no; t++) {
        double s = 0, q = 0;
        for (int i = 0; i < n; i++) s += ds->y[(size_t)ds->train_idx[i] * no + t];
        double mean = s / n;
        for (int i = 0; i < n; i++) {
            double e = ds->y[(size_t)ds->train_idx[i] * no + t] - mean;
            q += e * e;
        }
        u->mean[t] = mean;
        var += q / n;
    }
    double sd = sqrt(var / no);
    u->scale = sd > 0 && isfinite(sd) ? sd : 1;
}

/* y (B, n_out) in target units -> z in place. */
static void to_training_units(const target_units *u, float *y, int B) {
    for (int b = 0; b < B; b++)
        for (int t = 0; t < u->n_out; t++) {
            float *v = &y[(size_t)b * u->n_out + t];
            *v = (float)((*v - u->mean[t]) / u->scale);
        }
}

/* The head from z units back to target units: W *= scale, b = scale b + mean. The
 * head is computed outside the engines, so they need no refresh. */
static void head_to_target_units(sfnet *m, const target_units *u) {
    const sfnet_tensor *tw = sfnet_find_tensor(m, "fc.weight");
    const sfnet_tensor *tb = sfnet_find_tensor(m, "fc.bias");
    float *w = sfnet_tensor_data(m, tw), *b = sfnet_tensor_data(m, tb);
    for (size_t i = 0; i < tw->numel; i++) w[i] = (float)(w[i] * u->scale);
    for (int t = 0; t < u->n_out; t++) b[t] = (float)(b[t] * u->scale + u->mean[t]);
}

/* The checkpoint's record of the target units: "standardised <mean>... <scale>". */
static void target_units_text(char *buf, size_t n, train_targets kind, const target_units *u) {
    size_t used =
        (size_t)snprintf(buf, n, "%s", kind == TRAIN_TARGETS_RAW ? "raw" : "standardised");
    for (int t = 0; t < u->n_out && used < n; t++)
        used += (size_t)snprintf(buf + used, n - used, " %a", u->mean[t]);
    if (used < n) snprintf(buf + used, n - used, " %a", u->scale);
}

/* The flips of one batch: tr (B), from the generator of its position. */
static void draw_flips(uint8_t *tr, int B, train_flips kind, sf_rng *rng) {
    switch (kind) {
    case TRAIN_FLIPS_NONE: memset(tr, 0, (size_t)B); break;
    case TRAIN_FLIPS_DIHEDRAL:
        for (int b = 0; b < B; b++) tr[b] = (uint8_t)sf_rng_below(rng, 8);
        break;
    case TRAIN_FLIPS_HV:
        for (int b = 0; b < B; b++) tr[b] = (uint8_t)sf_rng_below(rng, 4);
        break;
    case TRAIN_FLIPS_BATCH: memset(tr, (int)sf_rng_below(rng, 8), (size_t)B); break;
    default: SF_ASSERT(0);
    }
}

/* The seed of the generator for (epoch, step): shuffles use step = -1. Deriving every
 * generator from the position makes the position the whole random state. */
static uint64_t position_seed(uint64_t seed, int epoch, int step) {
    return seed * 0x9E3779B97F4A7C15ull + (uint64_t)(epoch + 1) * 0xD1B54A32D192ED03ull +
           (uint64_t)(int64_t)(step + 2) * 0x8CB92BA72F3D8DD7ull;
}

static volatile sig_atomic_t stop_requested;
static void on_sigint(int sig) {
    (void)sig;
    stop_requested = 1;
}

/* Where a run stands: `step` steps of `epoch` done, with the partial epoch's squared
 * error sum for its training loss. */
typedef struct {
    int epoch, step;
    double sq_sum;
    double sq_count;
} train_pos;

/* ---------------------------------------------------------------- checkpoints */

static void meta_printf(st_writer *w, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void meta_printf(st_writer *w, const char *key, const char *fmt, ...) {
    char buf[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    st_writer_meta(w, key, buf);
}

/* A checkpoint's fc.weight and fc.bias are in target units, so that it loads as plain
 * weights; the head in training units, which a resume continues from bit for bit, is in
 * train.fc_weight and train.fc_bias. */
static int checkpoint_save(const char *path, sfnet *m, const ranger *o, const train_options *opt,
                           const dataset *ds, const target_units *u, const train_pos *pos,
                           const train_result *res) {
    st_writer w;
    st_writer_init(&w);
    weights_meta wm;
    weights_meta_from(&wm, m, ds, -1);
    int64_t nbt = m->num_batches_tracked;
    const sfnet_tensor *tw = sfnet_find_tensor(m, "fc.weight");
    const sfnet_tensor *tb = sfnet_find_tensor(m, "fc.bias");
    float *head_w = xmalloc(tw->numel * sizeof(float)),
          *head_b = xmalloc(tb->numel * sizeof(float));
    memcpy(head_w, sfnet_tensor_data(m, tw), tw->numel * sizeof(float));
    memcpy(head_b, sfnet_tensor_data(m, tb), tb->numel * sizeof(float));
    head_to_target_units(m, u);
    weights_add(&w, m, &wm, &nbt);
    int64_t wshape[2] = {tw->shape[0], tw->shape[1]}, bshape[1] = {tb->shape[0]};
    st_writer_add(&w, "train.fc_weight", ST_F32, 2, wshape, head_w);
    st_writer_add(&w, "train.fc_bias", ST_F32, 1, bshape, head_b);
    int64_t n = (int64_t)o->n, ne = res->epochs;
    st_writer_add(&w, "optimizer.grad_avg", ST_F32, 1, &n, o->grad_avg);
    st_writer_add(&w, "optimizer.sqr_avg", ST_F32, 1, &n, o->sqr_avg);
    st_writer_add(&w, "optimizer.slow", ST_F32, 1, &n, o->slow);
    st_writer_add(&w, "train.train_loss", ST_F64, 1, &ne, res->train_loss);
    st_writer_add(&w, "train.valid_rmse", ST_F64, 1, &ne, res->valid_rmse);
    st_writer_meta(&w, "format", CHECKPOINT_FORMAT);
    meta_printf(&w, "epoch", "%d", pos->epoch);
    meta_printf(&w, "step", "%d", pos->step);
    meta_printf(&w, "sq_sum", "%a", pos->sq_sum);
    meta_printf(&w, "sq_count", "%a", pos->sq_count);
    meta_printf(&w, "opt_step", "%ld", o->step);
    meta_printf(&w, "opt_count", "%ld", o->count);
    meta_printf(&w, "slow_ready", "%d", o->slow_ready);
    meta_printf(&w, "epochs", "%d", opt->epochs);
    meta_printf(&w, "batch", "%d", opt->batch);
    meta_printf(&w, "lr", "%a", opt->lr);
    meta_printf(&w, "seed", "%llu", (unsigned long long)opt->seed);
    st_writer_meta(&w, "schedule", sched_name(opt->schedule));
    meta_printf(&w, "flips", "%d", (int)opt->flips);
    char units[64 * (TARGET_MAX + 2)];
    target_units_text(units, sizeof units, opt->targets, u);
    st_writer_meta(&w, "targets", units);
    meta_printf(&w, "n_train", "%d", ds->n_train);
    meta_printf(&w, "n_valid", "%d", ds->n_valid);
    meta_printf(&w, "ranger", "%a %a %a %a %d %a", opt->opt.mom, opt->opt.sqr_mom, opt->opt.eps,
                opt->opt.wd, opt->opt.lookahead_k, opt->opt.lookahead_alpha);
    int rc = st_writer_save(&w, path);
    st_writer_free(&w);
    memcpy(sfnet_tensor_data(m, tw), head_w, tw->numel * sizeof(float));
    memcpy(sfnet_tensor_data(m, tb), head_b, tb->numel * sizeof(float));
    free(head_w);
    free(head_b);
    return rc;
}

/* The checkpoint's metadata value of key as text; SF_ERR when absent. */
static int ck_meta(const st_file *f, const char *key, const char **v) {
    *v = st_meta(f, key);
    if (!*v) return sf_fail("%s: checkpoint has no '%s' (damaged?)", f->path, key);
    return SF_OK;
}

static int ck_long(const st_file *f, const char *key, long lo, long hi, long *out) {
    const char *s;
    if (ck_meta(f, key, &s)) return SF_ERR;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return sf_fail("%s: checkpoint %s = '%.40s' is out of range", f->path, key, s);
    *out = v;
    return SF_OK;
}

static int ck_double(const st_file *f, const char *key, double *out) {
    const char *s;
    if (ck_meta(f, key, &s)) return SF_ERR;
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !isfinite(v))
        return sf_fail("%s: checkpoint %s = '%.40s' is not a number", f->path, key, s);
    *out = v;
    return SF_OK;
}

/* The checkpoint must describe this very run: same options, data and model. */
static int ck_same(const st_file *f, const char *key, const char *want) {
    const char *s;
    if (ck_meta(f, key, &s)) return SF_ERR;
    if (strcmp(s, want) != 0)
        return sf_fail("%s: the checkpoint was made with %s = %s, this run has %s; resume "
                       "with the same options and data, or start afresh without --resume",
                       f->path, key, s, want);
    return SF_OK;
}

static int ck_read_floats(const st_file *f, const char *name, float *out, size_t n) {
    const st_tensor *t = st_find(f, name);
    if (!t) return sf_fail("%s: checkpoint has no tensor '%s'", f->path, name);
    if (t->dtype != ST_F32 || t->numel != n)
        return sf_fail("%s: checkpoint tensor '%s' is not %zu F32 values", f->path, name, n);
    return st_read_f32(f, t, out, n);
}

static int ck_read_curve(const st_file *f, const char *name, double *out, size_t n) {
    const st_tensor *t = st_find(f, name);
    if (!t || t->dtype != ST_F64 || t->numel != n)
        return sf_fail("%s: checkpoint tensor '%s' is not %zu F64 values", f->path, name, n);
    memcpy(out, st_bytes(f, t), n * sizeof(double));
    return SF_OK;
}

static int checkpoint_load(const char *path, sfnet *m, ranger *o, const train_options *opt,
                           const dataset *ds, const target_units *u, int steps_per_epoch,
                           train_pos *pos, train_result *res) {
    st_file f;
    if (st_open(&f, path) != SF_OK) return SF_ERR;
    int rc = SF_ERR;
    const char *fmt = st_meta(&f, "format");
    if (!fmt || strcmp(fmt, CHECKPOINT_FORMAT) != 0) {
        sf_fail("%s: not a checkpoint of this version (format '%s', expected %s)", path,
                fmt ? fmt : "none", CHECKPOINT_FORMAT);
        goto done;
    }
    char buf[64 * (TARGET_MAX + 2)], units[64 * (TARGET_MAX + 2)];
    target_units_text(units, sizeof units, opt->targets, u);
#define SAME(key, ...) (snprintf(buf, sizeof buf, __VA_ARGS__), ck_same(&f, key, buf) != SF_OK)
    if (SAME("epochs", "%d", opt->epochs) || SAME("batch", "%d", opt->batch) ||
        SAME("lr", "%a", opt->lr) || SAME("seed", "%llu", (unsigned long long)opt->seed) ||
        SAME("schedule", "%s", sched_name(opt->schedule)) || SAME("flips", "%d", (int)opt->flips) ||
        SAME("targets", "%s", units) || SAME("n_train", "%d", ds->n_train) ||
        SAME("n_valid", "%d", ds->n_valid) || SAME("k", "%d", m->cfg.k) ||
        SAME("width", "%d", m->cfg.width) || SAME("n_out", "%d", m->cfg.n_out) ||
        SAME("ranger", "%a %a %a %a %d %a", opt->opt.mom, opt->opt.sqr_mom, opt->opt.eps,
             opt->opt.wd, opt->opt.lookahead_k, opt->opt.lookahead_alpha))
        goto done;
#undef SAME
    long epoch, step, ostep, ocount, ready;
    if (ck_long(&f, "epoch", 0, opt->epochs, &epoch) ||
        ck_long(&f, "step", 0, steps_per_epoch - 1, &step) ||
        ck_long(&f, "opt_step", 0, 1L << 40, &ostep) ||
        ck_long(&f, "opt_count", 0, 1L << 40, &ocount) || ck_long(&f, "slow_ready", 0, 1, &ready) ||
        ck_double(&f, "sq_sum", &pos->sq_sum) || ck_double(&f, "sq_count", &pos->sq_count))
        goto done;
    if (weights_load_from(m, &f, 0) != SF_OK) goto done;
    const sfnet_tensor *tw = sfnet_find_tensor(m, "fc.weight");
    const sfnet_tensor *tb = sfnet_find_tensor(m, "fc.bias");
    if (ck_read_floats(&f, "train.fc_weight", sfnet_tensor_data(m, tw), tw->numel) ||
        ck_read_floats(&f, "train.fc_bias", sfnet_tensor_data(m, tb), tb->numel) ||
        ck_read_floats(&f, "optimizer.grad_avg", o->grad_avg, o->n) ||
        ck_read_floats(&f, "optimizer.sqr_avg", o->sqr_avg, o->n) ||
        ck_read_floats(&f, "optimizer.slow", o->slow, o->n) ||
        ck_read_curve(&f, "train.train_loss", res->train_loss, (size_t)res->epochs) ||
        ck_read_curve(&f, "train.valid_rmse", res->valid_rmse, (size_t)res->epochs))
        goto done;
    o->step = ostep;
    o->count = ocount;
    o->slow_ready = (int)ready;
    pos->epoch = (int)epoch;
    pos->step = (int)step;
    res->epochs_done = (int)epoch;
    rc = SF_OK;
done:
    st_close(&f);
    return rc;
}

/* ---------------------------------------------------------------- the loop */

/* Eval-mode RMSE in target units over the galaxies idx[0..n) into *rmse, in batches of
 * m->max_batch, the head in the training units u. x and y hold max_batch images /
 * targets. Each rank takes its share of the galaxies; their squared errors are summed
 * over the ranks. SF_ERR when the model cannot run a batch on this rank or on another
 * (all ranks return it). */
static int evaluate(sfnet *m, const dataset *ds, const train_dist *dist, const target_units *u,
                    const int *idx, int n, float *x, float *y, double *rmse) {
    int no = m->cfg.n_out, lo, hi, failed = 0;
    train_dist_range(dist, n, &lo, &hi);
    double sq = 0;
    for (int i = lo; i < hi && !failed; i += m->max_batch) {
        int b = hi - i < m->max_batch ? hi - i : m->max_batch;
        dataset_batch(ds, idx + i, b, x, y, NULL);
        if (sfnet_forward(m, x, b, 0) != SF_OK) {
            failed = 1;
            break;
        }
        for (int j = 0; j < b * no; j++) {
            double e = (double)m->out[j] * u->scale + u->mean[j % no] - y[j];
            sq += e * e;
        }
    }
    if (failed && dist->size > 1) train_dist_say("%s", sf_last_error());
    double sums[2] = {sq, failed};
    sf_mpi_sum_f64(sums, 2);
    if (failed) return SF_ERR;
    if (sums[1] > 0) return sf_fail("another rank could not validate its share (see its message)");
    *rmse = n > 0 ? sqrt(sums[0] / ((double)n * no)) : NAN;
    return SF_OK;
}

/* RMSE on the validation split of predicting the training split's mean. */
static double mean_baseline(const dataset *ds) {
    int no = ds->targets.n_targets;
    double mean[TARGET_MAX] = {0}, sq = 0;
    for (int i = 0; i < ds->n_train; i++)
        for (int t = 0; t < no; t++) mean[t] += ds->y[(size_t)ds->train_idx[i] * no + t];
    for (int t = 0; t < no; t++) mean[t] /= ds->n_train > 0 ? ds->n_train : 1;
    for (int i = 0; i < ds->n_valid; i++)
        for (int t = 0; t < no; t++) {
            double e = ds->y[(size_t)ds->valid_idx[i] * no + t] - mean[t];
            sq += e * e;
        }
    return ds->n_valid > 0 ? sqrt(sq / ((double)ds->n_valid * no)) : NAN;
}

/* The last message, copied (sf_fail writes into the buffer sf_last_error reads). */
static const char *last_error_copy(void) {
    static _Thread_local char copy[1024];
    snprintf(copy, sizeof copy, "%s", sf_last_error());
    return copy;
}

static void format_hms(char *buf, size_t n, double s) {
    if (!(s >= 0) || s > 1e7) s = 0;
    long t = (long)(s + 0.5);
    snprintf(buf, n, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
}

/* Seconds the rest of the run takes (its ETA): the steps left at this call's mean step
 * time, then per epoch left the validation and checkpoint at the time the last one
 * took, then `then_images` (what the caller runs through the model afterwards, such as
 * storing the run) at the validation's time per image. Before the first validation a
 * validation image is taken to cost a third of a training image (a forward pass of a
 * step's forward and backward). */
typedef struct {
    double step_s;      /* mean seconds of a step */
    double epoch_end_s; /* seconds of the last validation + checkpoint; < 0: none yet */
    double eval_img_s;  /* seconds per validation image on this rank; < 0: none yet */
    int valid_here;     /* validation images this rank evaluates */
    int batch;          /* global batch */
    int ranks;
} run_clock;

static double run_eta(const run_clock *c, long steps_left, int epoch_ends_left, long then_images) {
    double per_img = c->eval_img_s >= 0 ? c->eval_img_s : c->step_s * c->ranks / c->batch / 3;
    double epoch_end = c->epoch_end_s >= 0 ? c->epoch_end_s : per_img * c->valid_here;
    return c->step_s * (double)steps_left + epoch_end * epoch_ends_left +
           per_img * (double)then_images;
}

static int check_options(const sfnet *m, const dataset *ds, const train_options *opt,
                         const train_dist *dist) {
    if (m->cfg.inference_only)
        return sf_fail("the model was created for inference only and cannot be trained");
    if (opt->epochs < 1) return sf_fail("--epochs %d: need at least 1", opt->epochs);
    if (opt->batch < 1) return sf_fail("--batch %d: need at least 1", opt->batch);
    if (dist->size == 1 && opt->batch > m->max_batch)
        return sf_fail("--batch %d exceeds the model's max batch %d", opt->batch, m->max_batch);
    if (dist->local > m->max_batch)
        return sf_fail("--batch %d gives each of the %d ranks %d images, more than the model's "
                       "max batch %d",
                       opt->batch, dist->size, dist->local, m->max_batch);
    if (!(opt->lr > 0) || !isfinite(opt->lr)) return sf_fail("--lr %g must be positive", opt->lr);
    if (ds->n_train < 2)
        return sf_fail("the training split has %d galaxies; need at least 2", ds->n_train);
    if (ds->targets.n_targets != m->cfg.n_out)
        return sf_fail("the data set has %d targets but the model %d outputs",
                       ds->targets.n_targets, m->cfg.n_out);
    if (ds->size != m->cfg.in_size)
        return sf_fail("the data set's images are %dx%d but the model takes %dx%d", ds->size,
                       ds->size, m->cfg.in_size, m->cfg.in_size);
    if (opt->resume && !opt->checkpoint) return sf_fail("--resume needs a checkpoint path");
    if (opt->checkpoint && !opt->resume && dist->rank == 0) {
        /* Find out now, not after the first epoch, that the checkpoint cannot be written. */
        char tmp[4096];
        snprintf(tmp, sizeof tmp, "%s.tmp-%ld", opt->checkpoint, (long)getpid());
        FILE *f = fopen(tmp, "wb");
        if (!f)
            return sf_fail("%s: cannot write the checkpoint here: %s", opt->checkpoint,
                           strerror(errno));
        fclose(f);
        unlink(tmp);
    }
    return SF_OK;
}

/* The message for a loss that is not finite at (epoch, step), batch idx[0..B) with
 * this rank's inputs x (n_x images from idx[x_first]): bad data when a target (or an
 * input) of the batch is not finite, or so
 * large that its square overflows a float (naming the galaxy and the target), else
 * divergence (naming the learning rate). It names the checkpoint on disk only when
 * there is one: checkpoint_epoch epochs done, or -1 for none. Returns SF_ERR. */
static int loss_failure(const dataset *ds, const int *idx, int B, int x_first, int n_x,
                        const float *x, float loss, int epoch, int step, double lr,
                        const train_options *opt, int checkpoint_epoch) {
    char where[96], ckpt[1400] = "";
    snprintf(where, sizeof where, "the training loss became %g at epoch %d, step %d", (double)loss,
             epoch + 1, step + 1);
    if (opt->checkpoint && checkpoint_epoch >= 0)
        snprintf(ckpt, sizeof ckpt, "; the checkpoint %s (%s%d) is intact", opt->checkpoint,
                 checkpoint_epoch ? "after epoch " : "epoch ",
                 checkpoint_epoch ? checkpoint_epoch : 1);
    else if (opt->checkpoint)
        snprintf(ckpt, sizeof ckpt,
                 "; no checkpoint was written (the first epoch did not "
                 "finish)");
    int nt = ds->targets.n_targets;
    /* beyond this, the squared errors of a batch overflow a float */
    double too_large = sqrt(3.0e38 / ((double)B * nt + 1));
    for (int b = 0; b < B; b++)
        for (int t = 0; t < nt; t++) {
            double v = ds->y[(size_t)idx[b] * nt + t];
            if (!isfinite(v) || fabs(v) > too_large)
                return sf_fail("%s: bad data, not the learning rate: galaxy %s has %s = %g%s, "
                               "which %s; remove or fix that row of %s%s",
                               where, dataset_obj_id(ds, idx[b]), ds->targets.names[t], v,
                               isfinite(v) ? "" : " (not a number)",
                               isfinite(v) ? "is too large for a float32 loss"
                                           : "no loss can be computed with",
                               ds->cat.path ? ds->cat.path : "the catalogue", ckpt);
        }
    size_t img = (size_t)3 * ds->size * ds->size;
    for (int b = 0; b < n_x; b++) /* x: this rank's images, idx[x_first ...] */
        for (size_t k = 0; k < img; k++)
            if (!isfinite(x[(size_t)b * img + k]))
                return sf_fail("%s: bad data, not the learning rate: the image of galaxy %s "
                               "gives non-finite pixels (normalisation mean %g %g %g, std %g "
                               "%g %g)%s",
                               where, dataset_obj_id(ds, idx[x_first + b]), ds->mean[0],
                               ds->mean[1], ds->mean[2], ds->std[0], ds->std[1], ds->std[2], ckpt);
    return sf_fail("%s: the training diverged (the data of that batch is finite): lower --lr "
                   "(%.3g there, %.3g at the peak)%s",
                   where, lr, opt->lr, ckpt);
}

/* Every target of the training and validation galaxies is finite (the catalogue's
 * cuts see to that; a data set filled otherwise may not be): one that is not would
 * make the training units (mean, scale) and so every loss NaN, which is bad data,
 * not divergence. SF_ERR naming the first such galaxy and target. */
static int check_targets(const dataset *ds) {
    int nt = ds->targets.n_targets;
    const int *sets[2] = {ds->train_idx, ds->valid_idx};
    const int counts[2] = {ds->n_train, ds->n_valid};
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < counts[k]; i++)
            for (int t = 0; t < nt; t++) {
                int g = sets[k][i];
                double v = ds->y[(size_t)g * nt + t];
                if (!isfinite(v))
                    return sf_fail("bad data, not the learning rate: galaxy %s has %s = %g, "
                                   "which no loss can be computed with; remove or fix that "
                                   "row of %s (nothing was trained)",
                                   dataset_obj_id(ds, g), ds->targets.names[t], v,
                                   ds->cat.path ? ds->cat.path : "the catalogue");
            }
    return SF_OK;
}

/* Rank 0 writes the checkpoint (the other ranks hold the same state); every rank
 * learns whether it could. */
static int checkpoint_save_shared(const char *path, sfnet *m, const ranger *o,
                                  const train_options *opt, const dataset *ds,
                                  const target_units *u, const train_pos *pos,
                                  const train_result *res) {
    int rc = sf_mpi_rank() == 0 ? checkpoint_save(path, m, o, opt, ds, u, pos, res) : SF_OK;
    if (!sf_mpi_all_ok(rc == SF_OK) && rc == SF_OK)
        rc = sf_fail("rank 0 could not write the checkpoint %s", path);
    return rc;
}

/* Every rank starts from rank 0's model, optimizer state and position: what rank 0
 * initialised or loaded from the checkpoint (the only rank that reads it). */
static int start_shared(sfnet *m, ranger *o, const train_options *opt, const dataset *ds,
                        const target_units *u, int steps, train_pos *pos, train_result *res) {
    int rc = SF_OK;
    if (opt->resume && sf_mpi_rank() == 0)
        rc = checkpoint_load(opt->checkpoint, m, o, opt, ds, u, steps, pos, res);
    if (!sf_mpi_all_ok(rc == SF_OK))
        return rc != SF_OK ? rc
                           : sf_fail("rank 0 could not read the checkpoint %s", opt->checkpoint);
    if (sf_mpi_size() == 1) return SF_OK;
    train_dist_share_model(m, opt->resume ? o : NULL);
    sf_mpi_bcast(pos, sizeof *pos, 0);
    sf_mpi_bcast(res->train_loss, (size_t)res->epochs * sizeof(double), 0);
    sf_mpi_bcast(res->valid_rmse, (size_t)res->epochs * sizeof(double), 0);
    sf_mpi_bcast(&res->epochs_done, sizeof res->epochs_done, 0);
    return SF_OK;
}

int train_run(sfnet *m, const dataset *ds, const train_options *opt, train_result *res) {
    memset(res, 0, sizeof *res);
    res->epochs = opt->epochs > 0 ? opt->epochs : 0;
    res->train_loss = xmalloc(((size_t)res->epochs + 1) * sizeof(double));
    res->valid_rmse = xmalloc(((size_t)res->epochs + 1) * sizeof(double));
    for (int e = 0; e < res->epochs; e++) res->train_loss[e] = res->valid_rmse[e] = NAN;
    res->final_train_rmse = res->final_valid_rmse = NAN;
    /* the ranks of an MPI job (one in a world of one): each takes its slice of every
     * global batch; rank 0 alone prints and writes the checkpoint */
    train_dist dist;
    int ok = train_dist_begin(&dist, opt->batch) == SF_OK &&
             check_options(m, ds, opt, &dist) == SF_OK && check_targets(ds) == SF_OK;
    if (!sf_mpi_all_ok(ok)) {
        if (ok) sf_fail("rank 0 refused the options (see its message)");
        return SF_ERR;
    }
    res->train_mean_rmse = mean_baseline(ds);
    const int quiet = opt->quiet || dist.rank != 0;
    target_units u;
    target_units_of(&u, ds, opt->targets);
    for (int t = 0; t < u.n_out; t++) res->target_mean[t] = u.mean[t];
    res->target_scale = u.scale;

    int B = opt->batch < ds->n_train ? opt->batch : ds->n_train;
    if (B < opt->batch) {
        /* fewer training galaxies than one batch: the batch is all of them that divide
         * among the ranks, and each rank's slice shrinks with it */
        B -= B % dist.size;
        if (B < dist.size)
            return sf_fail("the training split has %d galaxies, fewer than the "
                           "%d ranks",
                           ds->n_train, dist.size);
        if (train_dist_begin(&dist, B) != SF_OK) return SF_ERR;
    }
    const int steps = ds->n_train / B; /* the last incomplete batch is dropped */
    const long total = (long)steps * opt->epochs;
    const int S = ds->size, no = m->cfg.n_out;
    const size_t img = (size_t)3 * S * S;

    /* Every buffer of the run, allocated once. */
    float *x = xmalloc_aligned((size_t)m->max_batch * img * sizeof(float));
    float *y = xmalloc((size_t)m->max_batch * no * sizeof(float));
    int *perm = xmalloc((size_t)ds->n_train * sizeof(int));
    uint8_t *flips = xmalloc((size_t)B);
    uint8_t *decay = xmalloc(m->n_params + 1);
    train_decay_mask(m, decay);
    ranger o;
    ranger_init(&o, m->n_params, &opt->opt, decay);
    free(decay);

    train_pos pos = {0};
    int checkpoint_epoch = -1; /* epochs done in the checkpoint on disk; -1: none written */
    int rc = start_shared(m, &o, opt, ds, &u, steps, &pos, res);
    if (rc != SF_OK) goto out;
    if (opt->resume) {
        checkpoint_epoch = pos.epoch;
        if (!quiet && pos.epoch < opt->epochs)
            fprintf(stderr, "sfnet-explore: resuming at epoch %d, step %d of %d\n", pos.epoch + 1,
                    pos.step, steps);
    } else if (opt->head_bias_mean) {
        /* the mean of what the head learns: 0 in standardised units (the same on every
         * rank: they hold the same galaxies) */
        if (opt->targets == TRAIN_TARGETS_RAW) {
            train_head_bias_to_mean(m, ds);
        } else {
            float *bias = sfnet_tensor_data(m, sfnet_find_tensor(m, "fc.bias"));
            memset(bias, 0, (size_t)no * sizeof(float));
            sfnet_params_changed(m);
        }
    }
    /* from here on the head is in training units, until the fold after `restore` */
    /* from here on a rank that waits too long for the others stops the job */
    double old_timeout = sf_mpi_set_timeout(sf_mpi_default_timeout());

    /* Ctrl-C, and SIGUSR1 (which mpirun passes to every rank, and Slurm sends with
     * `scancel --signal=USR1` or `#SBATCH --signal`), stop after the current step with
     * a checkpoint. SIGTERM keeps its default: when a rank dies, mpirun and srun
     * end the others with it, and a rank that waited for the dead one would not finish
     * its step. */
    struct sigaction sa, old_int, old_usr1;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sa.sa_flags = SA_RESETHAND; /* a second Ctrl-C ends the program at once */
    sigemptyset(&sa.sa_mask);
    stop_requested = 0;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGUSR1, &sa, &old_usr1);

    const double t0 = sf_now();
    int valid_lo, valid_hi;
    train_dist_range(&dist, ds->n_valid, &valid_lo, &valid_hi);
    run_clock clock = {.epoch_end_s = -1,
                       .eval_img_s = -1,
                       .valid_here = valid_hi - valid_lo,
                       .batch = B,
                       .ranks = dist.size};
    double t_train = 0, smooth = 0;
    long done_here = 0, n_smooth = 0;
    int stop = 0;
    for (int epoch = pos.epoch; epoch < opt->epochs && !stop; epoch++) {
        int first = epoch == pos.epoch ? pos.step : 0;
        double sq_sum = epoch == pos.epoch ? pos.sq_sum : 0;
        double sq_count = epoch == pos.epoch ? pos.sq_count : 0;
        memcpy(perm, ds->train_idx, (size_t)ds->n_train * sizeof(int));
        sf_rng rng;
        sf_rng_seed(&rng, position_seed(opt->seed, epoch, -1));
        sf_rng_shuffle(&rng, perm, ds->n_train);

        char label[48], extra[160], eta[32];
        snprintf(label, sizeof label, "epoch %d/%d", epoch + 1, opt->epochs);
        sf_progress bar;
        sf_progress_start(&bar, label, (long)(steps - first) * B, "img");
        bar.quiet |= quiet;
        for (int step = first; step < steps; step++) {
            double lr, mom;
            sched_at(opt->schedule, opt->lr, (double)((long)epoch * steps + step) / (double)total,
                     &lr, &mom);
            if (opt->schedule == SCHED_FLAT_COS) mom = opt->opt.mom;
            double ts = sf_now();
            sf_rng flip;
            sf_rng_seed(&flip, position_seed(opt->seed, epoch, step));
            draw_flips(flips, B, opt->flips, &flip);
            train_dist_slice(&dist, ds, perm + (size_t)step * B, flips, x, y);
            to_training_units(&u, y, dist.local);
            float loss;
            if (train_dist_backward(&dist, m, x, y, &loss) != SF_OK) {
                if (!quiet) fputc('\n', stderr);
                rc = sf_fail("epoch %d, step %d: %s; the last checkpoint is intact", epoch + 1,
                             step + 1, last_error_copy());
                goto restore;
            }
            /* the loss in training units; reported in target units */
            loss = (float)(loss * u.scale);
            if (!isfinite(loss)) {
                if (!quiet) fputc('\n', stderr);
                rc = loss_failure(ds, perm + (size_t)step * B, B, dist.first, dist.local, x, loss,
                                  epoch, step, lr, opt, checkpoint_epoch);
                goto restore;
            }
            ranger_step(&o, m->params, m->grads, lr, mom);
            sfnet_params_changed(m);
            t_train += sf_now() - ts;
            sq_sum += (double)loss * loss * B * no;
            sq_count += (double)B * no;
            done_here++;
            /* fastai's smoothed loss: debiased exponential average, beta 0.98 */
            smooth = 0.98 * smooth + 0.02 * loss;
            n_smooth++;
            clock.step_s = t_train / (double)done_here;
            format_hms(eta, sizeof eta,
                       run_eta(&clock, total - ((long)epoch * steps + step + 1),
                               opt->epochs - epoch, opt->then_images));
            snprintf(extra, sizeof extra, "step %d/%d loss %.4f lr %.2g run ETA %s", step + 1,
                     steps, smooth / (1 - pow(0.98, (double)n_smooth)), lr, eta);
            sf_progress_update(&bar, (long)(step + 1 - first) * B, extra);
            if (opt->on_step && opt->on_step(opt->ctx, epoch, step, loss)) stop = 1;
            if (stop_requested) stop = 1;
            stop = train_dist_any(stop); /* every rank stops at the same step */
            if (stop && step + 1 < steps) {
                res->interrupted = 1;
                if (!quiet) fputc('\n', stderr);
                if (opt->checkpoint) {
                    train_pos here = {epoch, step + 1, sq_sum, sq_count};
                    rc = checkpoint_save_shared(opt->checkpoint, m, &o, opt, ds, &u, &here, res);
                    if (rc != SF_OK) goto restore;
                    checkpoint_epoch = epoch;
                    if (!quiet)
                        fprintf(stderr,
                                "sfnet-explore: stopped at epoch %d, step %d; "
                                "checkpoint saved to %s (--resume continues)\n",
                                epoch + 1, step + 1, opt->checkpoint);
                } else if (!quiet) {
                    fprintf(stderr,
                            "sfnet-explore: stopped at epoch %d, step %d (no "
                            "checkpoint path, nothing saved)\n",
                            epoch + 1, step + 1);
                }
                goto restore;
            }
        }
        res->train_loss[epoch] = sqrt(sq_sum / sq_count);
        double t_end = sf_now();
        train_dist_average_running_stats(m);
        train_dist_keep_identical(m, &o, epoch);
        if (evaluate(m, ds, &dist, &u, ds->valid_idx, ds->n_valid, x, y, &res->valid_rmse[epoch]) !=
            SF_OK) {
            if (!quiet) fputc('\n', stderr);
            rc = sf_fail("validating epoch %d: %s; the last checkpoint is intact", epoch + 1,
                         last_error_copy());
            goto restore;
        }
        if (clock.valid_here > 0) clock.eval_img_s = (sf_now() - t_end) / clock.valid_here;
        res->epochs_done = epoch + 1;
        snprintf(extra, sizeof extra, "train loss %.4f valid RMSE %.4f", res->train_loss[epoch],
                 res->valid_rmse[epoch]);
        sf_progress_finish(&bar, extra);
        if (opt->checkpoint) {
            train_pos next = {epoch + 1, 0, 0, 0};
            rc = checkpoint_save_shared(opt->checkpoint, m, &o, opt, ds, &u, &next, res);
            if (rc != SF_OK) goto restore;
            checkpoint_epoch = epoch + 1;
        }
        clock.epoch_end_s = sf_now() - t_end;
        if (stop && epoch + 1 < opt->epochs) {
            res->interrupted = 1;
            if (!quiet)
                fprintf(stderr, "sfnet-explore: stopped after epoch %d%s%s%s\n", epoch + 1,
                        opt->checkpoint ? "; checkpoint saved to " : "",
                        opt->checkpoint ? opt->checkpoint : "",
                        opt->checkpoint ? " (--resume continues)" : "");
        }
    }
restore:
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGUSR1, &old_usr1, NULL);
    sf_mpi_set_timeout(old_timeout);
    res->seconds = sf_now() - t0;
    res->images_per_s = t_train > 0 ? (double)done_here * B / t_train : 0;
    res->ranks = dist.size;
    res->grad_sum_ms = dist.grad_sums ? 1e3 * dist.grad_sum_s / dist.grad_sums : 0;
    head_to_target_units(m, &u);
out:
    if (res->epochs_done > 0) {
        res->final_train_rmse = res->train_loss[res->epochs_done - 1];
        res->final_valid_rmse = res->valid_rmse[res->epochs_done - 1];
    }
    ranger_free(&o);
    free(x);
    free(y);
    free(perm);
    free(flips);
    return rc;
}
