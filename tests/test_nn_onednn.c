/* Tests of the oneDNN backbone engine against PyTorch.
 *
 * tests/parity_onednn.py dumps a torchvision resnet18 backbone (random weights and BN
 * statistics, computed in float64) into a temp directory: the training forward, every
 * gradient of sum(feats * dfeats), the running statistics after it and the eval
 * forward. The engine runs on the same weights in an sfnet built here from the dump,
 * and every tensor is compared by max |ours - torch| / max |torch|: below 1e-4 in fp32;
 * in bf16 below twice PyTorch's own bf16 autocast error on the same computation
 * (+0.02), which the script measures too (bf16 gradients of a random network are far
 * from exact: PyTorch's are off by 30-60% in max norm at this size).
 * Skipped (and said so) when /usr/bin/python3 has no torch.
 *
 * Also, on both engines and without PyTorch: a model made inference_only gives
 * exactly the eval outputs of a full model with the same weights, and refuses to
 * train (an assertion, SIGABRT).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nn_model.h"
#include "nn_onednn.h"
#include "sf_util.h"

typedef struct {
    char dir[64];
    int width, B, S;
    sfnet m;
    float *state, *after, *grads; /* state-dict order: params and buffers interleaved */
    size_t n_all;
    size_t *all_off; /* offset of tensor i in state/after/grads */
    float *x, *dfeats, *feats_train, *feats_eval;
    char bf16_name[128][64]; /* PyTorch's bf16 error per tensor, "feats_train" ... */
    double bf16_err[128];
    int n_bf16;
} fixture;

static const char *python(void) {
    const char *p = getenv("PYTHON");
    return p && *p ? p : "/usr/bin/python3";
}

static int have_torch(void) {
    char cmd[256];
    snprintf(cmd, sizeof cmd, "%s -c 'import torch, torchvision' >/dev/null 2>&1", python());
    return system(cmd) == 0;
}

static float *read_floats(const char *dir, const char *name, size_t n) {
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    char *data;
    size_t len;
    cr_assert_eq(sf_read_file(path, &data, &len), SF_OK, "%s", sf_last_error());
    cr_assert_eq(len, n * sizeof(float), "%s: %zu bytes, expected %zu", path, len,
                 n * sizeof(float));
    float *f = xmalloc(n * sizeof(float) + 1);
    memcpy(f, data, len);
    free(data);
    return f;
}

/* Runs the dump script and builds an sfnet (tensors, params, grads = 0, buffers) from it. */
static void fixture_make(fixture *f, int width, int B, int S, int max_batch, int precision) {
    memset(f, 0, sizeof *f);
    if (!have_torch()) cr_skip_test("skipped: %s has no torch/torchvision", python());
    f->width = width;
    f->B = B;
    f->S = S;
    snprintf(f->dir, sizeof f->dir, "/tmp/sfnet-onednn-XXXXXX");
    cr_assert_not_null(mkdtemp(f->dir));
    char cmd[512];
    snprintf(cmd, sizeof cmd, "%s tests/parity_onednn.py %s %d %d %d 7", python(), f->dir, width, B,
             S);
    cr_assert_eq(system(cmd), 0, "%s failed", cmd);

    char path[128], *text;
    size_t len;
    snprintf(path, sizeof path, "%s/manifest.txt", f->dir);
    cr_assert_eq(sf_read_file(path, &text, &len), SF_OK);
    sfnet *m = &f->m;
    m->tensors = xcalloc(128, sizeof *m->tensors);
    f->all_off = xcalloc(128, sizeof *f->all_off);
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        cr_assert_lt(m->n_tensors, 128);
        sfnet_tensor *t = &m->tensors[m->n_tensors];
        int n = sscanf(line, "%63s %d %zu %d %d %d %d %d", t->name, &t->is_buffer, &t->numel,
                       &t->ndim, &t->shape[0], &t->shape[1], &t->shape[2], &t->shape[3]);
        cr_assert_eq(n, 4 + t->ndim, "manifest: bad line %s", line);
        t->offset = t->is_buffer ? m->n_buffers : m->n_params;
        if (t->is_buffer) m->n_buffers += t->numel;
        else m->n_params += t->numel;
        f->all_off[m->n_tensors] = f->n_all;
        f->n_all += t->numel;
        m->n_tensors++;
    }
    free(text);
    snprintf(path, sizeof path, "%s/bf16_err.txt", f->dir);
    cr_assert_eq(sf_read_file(path, &text, &len), SF_OK);
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        cr_assert_lt(f->n_bf16, 128);
        cr_assert_eq(sscanf(line, "%63s %lf", f->bf16_name[f->n_bf16], &f->bf16_err[f->n_bf16]), 2);
        f->n_bf16++;
    }
    free(text);
    f->state = read_floats(f->dir, "state.bin", f->n_all);
    f->after = read_floats(f->dir, "after.bin", f->n_all);
    f->grads = read_floats(f->dir, "grads.bin", f->n_all);
    int d = 8 * width;
    f->x = read_floats(f->dir, "x.bin", (size_t)B * 3 * S * S);
    f->dfeats = read_floats(f->dir, "dfeats.bin", (size_t)B * d);
    f->feats_train = read_floats(f->dir, "feats_train.bin", (size_t)B * d);
    f->feats_eval = read_floats(f->dir, "feats_eval.bin", (size_t)B * d);

    m->cfg.width = width;
    m->cfg.k = 0;
    m->cfg.n_out = 1;
    m->cfg.in_size = S;
    m->cfg.precision = precision;
    m->d = d;
    m->max_batch = max_batch;
    m->params = xcalloc(m->n_params, sizeof(float));
    m->grads = xcalloc(m->n_params, sizeof(float));
    m->buffers = xcalloc(m->n_buffers, sizeof(float));
    for (int i = 0; i < m->n_tensors; i++) {
        sfnet_tensor *t = &m->tensors[i];
        memcpy((t->is_buffer ? m->buffers : m->params) + t->offset, f->state + f->all_off[i],
               t->numel * sizeof(float));
    }
}

static void fixture_free(fixture *f) {
    const char *files[] = {"manifest.txt", "bf16_err.txt",    "state.bin",
                           "after.bin",    "grads.bin",       "x.bin",
                           "dfeats.bin",   "feats_train.bin", "feats_eval.bin"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[128];
        snprintf(path, sizeof path, "%s/%s", f->dir, files[i]);
        unlink(path);
    }
    rmdir(f->dir);
    free(f->m.tensors);
    free(f->m.params);
    free(f->m.grads);
    free(f->m.buffers);
    free(f->all_off);
    free(f->state);
    free(f->after);
    free(f->grads);
    free(f->x);
    free(f->dfeats);
    free(f->feats_train);
    free(f->feats_eval);
}

/* max |a - scale * ref| / max |scale * ref| */
static double rel_err(const float *a, const float *ref, size_t n, double scale) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        num = fmax(num, fabs(a[i] - scale * ref[i]));
        den = fmax(den, fabs(scale * ref[i]));
    }
    return den > 0 ? num / den : num;
}

/* The tolerance on tensor name: tol in fp32; from PyTorch's bf16 error in bf16. */
static double tolerance(const fixture *f, const char *name, double tol) {
    if (f->m.cfg.precision != NN_PRECISION_BF16) return tol;
    for (int i = 0; i < f->n_bf16; i++)
        if (strcmp(f->bf16_name[i], name) == 0) return 2 * f->bf16_err[i] + 0.02;
    return tol; /* running statistics */
}

/* Checks every gradient (times scale) and every running statistic; returns the worst. */
static double check_state(fixture *f, double tol, double grad_scale, int check_buffers) {
    sfnet *m = &f->m;
    double worst = 0;
    for (int i = 0; i < m->n_tensors; i++) {
        sfnet_tensor *t = &m->tensors[i];
        double e;
        if (t->is_buffer) {
            if (!check_buffers) continue;
            e = rel_err(m->buffers + t->offset, f->after + f->all_off[i], t->numel, 1);
        } else {
            e = rel_err(m->grads + t->offset, f->grads + f->all_off[i], t->numel, grad_scale);
        }
        double t_tol = tolerance(f, t->name, tol);
        cr_expect_lt(e, t_tol, "%s: relative error %.3g (tolerance %.3g)", t->name, e, t_tol);
        worst = fmax(worst, e);
    }
    return worst;
}

/* Eval (stale folds), train forward + backward, eval again: everything against torch. */
static void parity_run(fixture *f, double tol, const char *label) {
    sfnet *m = &f->m;
    nn_engine *e = nn_onednn_create(m);
    cr_assert_not_null(e, "%s", sf_last_error());
    cr_assert_eq(e->kind, NN_ENGINE_ONEDNN);
    size_t nf = (size_t)f->B * m->d;
    float *feats = xcalloc(nf, sizeof(float));

    /* an eval forward first, so that the one after training must refold the BN */
    e->ops->forward(e, m, f->x, f->B, 0, feats);
    e->ops->forward(e, m, f->x, f->B, 1, feats);
    double ef = rel_err(feats, f->feats_train, nf, 1);
    cr_expect_lt(ef, tolerance(f, "feats_train", tol), "%s train feats: relative error %.3g", label,
                 ef);
    e->ops->backward(e, m, f->dfeats, f->B);
    double eg = check_state(f, tol, 1, 1);
    e->ops->forward(e, m, f->x, f->B, 0, feats);
    double ee = rel_err(feats, f->feats_eval, nf, 1);
    cr_expect_lt(ee, tolerance(f, "feats_eval", tol), "%s eval feats: relative error %.3g", label,
                 ee);
    cr_log_info("%s: feats train %.2g, grads and stats %.2g, feats eval %.2g", label, ef, eg, ee);

    /* a second step on the same batch: same features, gradients accumulate to twice */
    e->ops->forward(e, m, f->x, f->B, 1, feats);
    ef = rel_err(feats, f->feats_train, nf, 1);
    cr_expect_lt(ef, tolerance(f, "feats_train", tol), "%s second train feats: relative error %.3g",
                 label, ef);
    e->ops->backward(e, m, f->dfeats, f->B);
    check_state(f, tol, 2, 0);

    free(feats);
    e->ops->free(e);
}

Test(nn_onednn, fp32_matches_torch_at_max_batch, .timeout = 300) {
    fixture f;
    fixture_make(&f, 16, 2, 64, 2, NN_PRECISION_FP32);
    parity_run(&f, 1e-4, "fp32 B=2 of 2");
    fixture_free(&f);
}

Test(nn_onednn, fp32_matches_torch_on_a_smaller_batch, .timeout = 300) {
    fixture f;
    fixture_make(&f, 16, 3, 64, 5, NN_PRECISION_FP32);
    parity_run(&f, 1e-4, "fp32 B=3 of 5");
    fixture_free(&f);
}

/* 1 when this CPU runs the bf16 engine; 0 after checking that the refusal says why. */
static int bf16_supported(void) {
    sfnet_config cfg = {
        .width = 8, .k = 3, .n_out = 2, .in_size = 48, .precision = NN_PRECISION_BF16};
    sfnet *probe = sfnet_create(&cfg, 2, NN_ENGINE_ONEDNN);
    if (probe) {
        sfnet_free(probe);
        return 1;
    }
    cr_assert(strstr(sf_last_error(), "bf16 needs AVX-512, use --precision fp32") != NULL,
              "bf16 refused without saying why: %s", sf_last_error());
    cr_log_info("this CPU has no bf16 kernels; checked the refusal: %s", sf_last_error());
    return 0;
}

Test(nn_onednn, bf16_is_close_to_torch, .timeout = 300) {
    if (!bf16_supported()) return;
    fixture f;
    fixture_make(&f, 16, 4, 64, 4, NN_PRECISION_BF16);
    parity_run(&f, 0.03, "bf16 B=4 of 4");
    fixture_free(&f);
}

Test(nn_onednn, refuses_a_model_without_its_tensors) {
    sfnet m;
    memset(&m, 0, sizeof m);
    m.cfg.width = 16;
    m.cfg.in_size = 64;
    m.max_batch = 2;
    m.d = 128;
    float one = 0;
    m.params = m.grads = m.buffers = &one;
    cr_assert_null(nn_onednn_create(&m));
    cr_assert(strstr(sf_last_error(), "no tensor conv1.weight") != NULL, "%s", sf_last_error());
    m.cfg.in_size = 16;
    cr_assert_null(nn_onednn_create(&m));
    cr_assert(strstr(sf_last_error(), "input size >= 32") != NULL, "%s", sf_last_error());
}

/* The oneDNN engine against the reference engine through the model (no PyTorch needed):
 * same weights from sfnet_init, two training steps with a plain SGD update and
 * sfnet_params_changed between them (the weight refresh), eval after each. Dense head
 * (k = 0) so that near-ties of the top-k cannot pick different features. */
static void engines_agree(int width, int S, int max_batch, int B, int precision, double tol) {
    sfnet_config cfg = {.width = width, .k = 0, .n_out = 2, .in_size = S};
    sfnet *ref = sfnet_create(&cfg, max_batch, NN_ENGINE_REFERENCE);
    cr_assert_not_null(ref, "%s", sf_last_error());
    cfg.precision = precision;
    sfnet *dn = sfnet_create(&cfg, max_batch, NN_ENGINE_ONEDNN);
    cr_assert_not_null(dn, "%s", sf_last_error());
    cr_assert_eq(dn->engine->kind, NN_ENGINE_ONEDNN);
    sfnet_init(ref, 11);
    sfnet_init(dn, 11);
    sf_rng rng;
    sf_rng_seed(&rng, 5);
    size_t nx = (size_t)B * 3 * S * S;
    float *x = xmalloc(nx * sizeof(float)), y[64];
    for (size_t i = 0; i < nx; i++) x[i] = (float)sf_rng_normal(&rng);
    for (int i = 0; i < 2 * B; i++) y[i] = (float)sf_rng_normal(&rng);
    size_t nf = (size_t)B * ref->d, no = (size_t)B * 2;
    for (int step = 0; step < 2; step++) {
        sfnet_zero_grad(ref);
        sfnet_zero_grad(dn);
        sfnet_forward(ref, x, B, 1);
        sfnet_forward(dn, x, B, 1);
        double ef = rel_err(dn->feats, ref->feats, nf, 1);
        cr_expect_lt(ef, tol, "step %d train feats: relative error %.3g", step, ef);
        float lr = sfnet_loss(ref, y, B, 1), ld = sfnet_loss(dn, y, B, 1);
        cr_expect_lt(fabs(lr - ld), tol * fabs(lr), "step %d loss %g vs %g", step, ld, lr);
        double worst = 0;
        for (int i = 0; i < ref->n_tensors; i++) {
            const sfnet_tensor *t = &ref->tensors[i];
            const float *a = (t->is_buffer ? dn->buffers : dn->grads) + t->offset;
            const float *b = (t->is_buffer ? ref->buffers : ref->grads) + t->offset;
            double e = rel_err(a, b, t->numel, 1);
            cr_expect_lt(e, tol, "step %d %s %s: relative error %.3g", step, t->name,
                         t->is_buffer ? "value" : "gradient", e);
            worst = fmax(worst, e);
        }
        sfnet_forward(ref, x, B, 0);
        sfnet_forward(dn, x, B, 0);
        double ee = rel_err(dn->out, ref->out, no, 1);
        cr_expect_lt(ee, tol, "step %d eval out: relative error %.3g", step, ee);
        cr_log_info("width %d %dx%d B=%d of %d %s step %d: feats %.2g, grads and stats %.2g, "
                    "eval out %.2g",
                    width, S, S, B, max_batch, precision ? "bf16" : "fp32", step, ef, worst, ee);
        /* the same update on both, from the reference gradients */
        for (size_t i = 0; i < ref->n_params; i++) {
            ref->params[i] -= 0.05f * ref->grads[i];
            dn->params[i] = ref->params[i];
        }
        memcpy(dn->buffers, ref->buffers, ref->n_buffers * sizeof(float));
        sfnet_params_changed(ref);
        sfnet_params_changed(dn);
    }
    free(x);
    sfnet_free(ref);
    sfnet_free(dn);
}

Test(nn_onednn, agrees_with_the_reference_engine, .timeout = 300) {
    engines_agree(16, 64, 4, 4, NN_PRECISION_FP32, 1e-4);
}

Test(nn_onednn, agrees_with_the_reference_engine_on_a_smaller_batch, .timeout = 300) {
    engines_agree(8, 48, 4, 3, NN_PRECISION_FP32, 1e-4);
}

/* The paper's width: the kernels for 64..512 channels (Winograd among them) differ
 * from the narrow ones above. */
Test(nn_onednn, fp32_matches_torch_at_width_64, .timeout = 300) {
    fixture f;
    fixture_make(&f, 64, 4, 64, 4, NN_PRECISION_FP32);
    parity_run(&f, 1e-4, "fp32 width 64 B=4 of 4");
    fixture_free(&f);
}

/* ---- inference-only models (both engines) ------------------------------------------ */

/* A full model after one SGD step (so every weight moved and the running statistics
 * are no longer 0 and 1) and an inference-only model given its weights: every eval
 * output is bit for bit the same, at max_batch and on smaller batches in turn (the
 * inference-only engines reuse their activation buffers in place, batch after batch). */
static void inference_only_matches(nn_engine_kind engine, int width, int S, int max_batch,
                                   int precision) {
    sfnet_config cfg = {.width = width, .k = 3, .n_out = 2, .in_size = S, .precision = precision};
    sfnet *full = sfnet_create(&cfg, max_batch, engine);
    cr_assert_not_null(full, "%s", sf_last_error());
    cfg.inference_only = 1;
    sfnet *inf = sfnet_create(&cfg, max_batch, engine);
    cr_assert_not_null(inf, "%s", sf_last_error());
    cr_assert_null(inf->grads);
    cr_assert_null(sfnet_tensor_grad(inf, sfnet_find_tensor(inf, "conv1.weight")));
    sfnet_init(full, 21);
    sfnet_init(inf, 99); /* overwritten below: nothing of its own init may survive */

    sf_rng rng;
    sf_rng_seed(&rng, 22);
    size_t img = (size_t)3 * S * S;
    float *x = xmalloc((size_t)max_batch * img * sizeof(float));
    float *y = xmalloc((size_t)max_batch * 2 * sizeof(float));
    for (size_t i = 0; i < (size_t)max_batch * img; i++) x[i] = (float)sf_rng_normal(&rng);
    for (int i = 0; i < 2 * max_batch; i++) y[i] = (float)sf_rng_normal(&rng);
    sfnet_zero_grad(full);
    sfnet_forward(full, x, max_batch, 1);
    sfnet_loss(full, y, max_batch, 1);
    for (size_t i = 0; i < full->n_params; i++) full->params[i] -= 0.05f * full->grads[i];
    sfnet_params_changed(full);
    memcpy(inf->params, full->params, full->n_params * sizeof(float));
    memcpy(inf->buffers, full->buffers, full->n_buffers * sizeof(float));
    sfnet_params_changed(inf);

    int sizes[] = {max_batch, 1, max_batch - 1, max_batch};
    for (int r = 0; r < 4; r++) {
        int B = sizes[r] >= 1 ? sizes[r] : 1, d = full->d;
        for (size_t i = 0; i < (size_t)B * img; i++) x[i] = (float)sf_rng_normal(&rng);
        sfnet_forward(full, x, B, 0);
        sfnet_forward(inf, x, B, 0);
        int active = 0;
        for (size_t i = 0; i < (size_t)B * d; i++) active += full->sparse[i] > 0;
        cr_assert_gt(active, 0, "round %d: the full model kept no feature", r);
        cr_expect_eq(memcmp(inf->feats, full->feats, (size_t)B * d * sizeof(float)), 0,
                     "round %d (B=%d): pooled features differ", r, B);
        cr_expect_eq(memcmp(inf->sparse, full->sparse, (size_t)B * d * sizeof(float)), 0,
                     "round %d (B=%d): top-k features differ", r, B);
        cr_expect_eq(memcmp(inf->topk_idx, full->topk_idx, (size_t)B * 3 * sizeof(int)), 0,
                     "round %d (B=%d): kept feature indices differ", r, B);
        cr_expect_eq(memcmp(inf->out, full->out, (size_t)B * 2 * sizeof(float)), 0,
                     "round %d (B=%d): outputs differ (%.9g vs %.9g)", r, B, inf->out[0],
                     full->out[0]);
    }
    free(x);
    free(y);
    sfnet_free(full);
    sfnet_free(inf);
}

Test(inference_only, reference_gives_the_full_model_s_outputs, .timeout = 300) {
    inference_only_matches(NN_ENGINE_REFERENCE, 8, 40, 3, NN_PRECISION_FP32);
    inference_only_matches(NN_ENGINE_REFERENCE, 4, 37, 2, NN_PRECISION_FP32);
}

Test(inference_only, onednn_gives_the_full_model_s_outputs, .timeout = 300) {
    inference_only_matches(NN_ENGINE_ONEDNN, 16, 64, 4, NN_PRECISION_FP32);
    inference_only_matches(NN_ENGINE_ONEDNN, 8, 37, 3, NN_PRECISION_FP32);
}

/* The paper's width: Winograd kernels and their weight reorders. */
Test(inference_only, onednn_at_width_64, .timeout = 300) {
    inference_only_matches(NN_ENGINE_ONEDNN, 64, 64, 2, NN_PRECISION_FP32);
}

Test(inference_only, onednn_bf16, .timeout = 300) {
    if (!bf16_supported()) return;
    inference_only_matches(NN_ENGINE_ONEDNN, 8, 48, 2, NN_PRECISION_BF16);
}

/* Asking an inference-only model to train is a programming error: the assertion stops
 * the program (SIGABRT) before anything is written. */
static sfnet *inference_model(nn_engine_kind engine, float **x) {
    sfnet_config cfg = {.width = 8, .k = 2, .n_out = 1, .in_size = 40, .inference_only = 1};
    sfnet *m = sfnet_create(&cfg, 2, engine);
    cr_assert_not_null(m, "%s", sf_last_error());
    sfnet_init(m, 1);
    size_t n = (size_t)2 * 3 * 40 * 40;
    *x = xcalloc(n, sizeof(float));
    sfnet_forward(m, *x, 2, 0); /* eval is fine */
    return m;
}

Test(inference_only, reference_refuses_a_train_forward, .signal = SIGABRT) {
    float *x;
    sfnet *m = inference_model(NN_ENGINE_REFERENCE, &x);
    sfnet_forward(m, x, 2, 1);
}

Test(inference_only, reference_refuses_backward, .signal = SIGABRT) {
    float *x, y[2] = {1, 2};
    sfnet *m = inference_model(NN_ENGINE_REFERENCE, &x);
    cr_assert(isfinite(sfnet_loss(m, y, 2, 0)), "the loss alone is fine");
    sfnet_loss(m, y, 2, 1);
}

Test(inference_only, reference_engine_refuses_backward, .signal = SIGABRT) {
    float *x, dfeats[2 * 64] = {0};
    sfnet *m = inference_model(NN_ENGINE_REFERENCE, &x);
    m->engine->ops->backward(m->engine, m, dfeats, 2);
}

Test(inference_only, onednn_refuses_a_train_forward, .signal = SIGABRT) {
    float *x;
    sfnet *m = inference_model(NN_ENGINE_ONEDNN, &x);
    sfnet_forward(m, x, 2, 1);
}

Test(inference_only, onednn_engine_refuses_backward, .signal = SIGABRT) {
    float *x, dfeats[2 * 64] = {0};
    sfnet *m = inference_model(NN_ENGINE_ONEDNN, &x);
    m->engine->ops->backward(m->engine, m, dfeats, 2);
}

/* oneDNN builds the primitives of a batch size on its first use; when that fails, the
 * forward says so and the engine goes on: the batch size built at creation still runs,
 * and the failed one builds on a later try. Training and inference pass the error on. */
Test(plan_failure, a_new_batch_size_that_cannot_be_built_is_an_error, .timeout = 300) {
    sfnet_config cfg = {.width = 8, .k = 2, .n_out = 1, .in_size = 40};
    sfnet *m = sfnet_create(&cfg, 4, NN_ENGINE_ONEDNN);
    cr_assert_not_null(m, "%s", sf_last_error());
    sfnet_init(m, 1);
    float *x = xcalloc((size_t)4 * 3 * 40 * 40, sizeof(float));
    for (size_t i = 0; i < (size_t)4 * 3 * 40 * 40; i++) x[i] = (float)((i * 7919) % 101) / 50 - 1;
    nn_onednn_failing_builds = 1;
    cr_assert_eq(sfnet_forward(m, x, 3, 0), SF_ERR);
    cr_assert(strstr(sf_last_error(), "batches of 3"), "%s", sf_last_error());
    cr_assert_eq(sfnet_forward(m, x, 4, 0), SF_OK, "%s", sf_last_error());
    float out4 = m->out[0];
    cr_assert_eq(sfnet_forward(m, x, 3, 0), SF_OK, "%s", sf_last_error());
    cr_assert_eq(m->out[0], out4, "the same first image, the same output");
    /* a training batch of a new size, then backward through it */
    nn_onednn_failing_builds = 1;
    cr_assert_eq(sfnet_forward(m, x, 2, 1), SF_ERR);
    cr_assert_eq(sfnet_forward(m, x, 2, 1), SF_OK, "%s", sf_last_error());
    float y[2] = {0.5f, -0.5f};
    sfnet_zero_grad(m);
    cr_assert(isfinite(sfnet_loss(m, y, 2, 1)));
    free(x);
    sfnet_free(m);
}
