/* Tests of the Ranger optimizer and the schedules: values at known points, the first
 * step by hand, and several steps against fastai's formulas run with torch by
 * tests/ranger_ref.py (skipped, saying so, when /usr/bin/python3 has no torch). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "safetensors.h"
#include "sf_util.h"
#include "train.h"

static void assert_close(double got, double want, double rel, const char *what) {
    cr_assert(fabs(got - want) <= rel * fabs(want) + 1e-15, "%s: got %.12g, want %.12g", what, got,
              want);
}

Test(sched, one_cycle_at_known_points) {
    double lr, mom;
    sched_at(SCHED_ONE_CYCLE, 0.1, 0.0, &lr, &mom);
    assert_close(lr, 0.1 / 25, 1e-12, "lr at 0");
    assert_close(mom, 0.95, 1e-12, "mom at 0");
    sched_at(SCHED_ONE_CYCLE, 0.1, 0.125, &lr, &mom);
    assert_close(lr, (0.1 / 25 + 0.1) / 2, 1e-12, "lr halfway up");
    assert_close(mom, 0.90, 1e-12, "mom halfway down");
    sched_at(SCHED_ONE_CYCLE, 0.1, 0.25, &lr, &mom);
    assert_close(lr, 0.1, 1e-12, "peak lr");
    assert_close(mom, 0.85, 1e-12, "lowest mom");
    sched_at(SCHED_ONE_CYCLE, 0.1, 0.625, &lr, &mom);
    assert_close(lr, (0.1 + 0.1 / 1e5) / 2, 1e-12, "lr halfway down");
    assert_close(mom, 0.90, 1e-12, "mom halfway up");
    sched_at(SCHED_ONE_CYCLE, 0.1, 1.0, &lr, &mom);
    assert_close(lr, 0.1 / 1e5, 1e-12, "final lr");
    assert_close(mom, 0.95, 1e-12, "final mom");
    /* the warm-up is monotone */
    double prev = 0;
    for (int i = 0; i <= 25; i++) {
        sched_at(SCHED_ONE_CYCLE, 0.1, i / 100.0, &lr, &mom);
        cr_assert_gt(lr, prev);
        prev = lr;
    }
}

Test(sched, flat_cos_at_known_points) {
    double lr, mom;
    for (double p = 0; p <= 0.75; p += 0.05) {
        sched_at(SCHED_FLAT_COS, 0.1, p, &lr, &mom);
        assert_close(lr, 0.1, 1e-12, "flat part");
        assert_close(mom, 0.95, 1e-12, "mom");
    }
    sched_at(SCHED_FLAT_COS, 0.1, 0.875, &lr, &mom);
    assert_close(lr, (0.1 + 0.1 / 1e5) / 2, 1e-12, "halfway down");
    sched_at(SCHED_FLAT_COS, 0.1, 1.0, &lr, &mom);
    assert_close(lr, 0.1 / 1e5, 1e-12, "final lr");
}

Test(sched, names_parse_and_unknown_is_an_error) {
    sched_kind k;
    cr_assert_eq(sched_parse("flat-cos", &k), SF_OK);
    cr_assert_eq(k, SCHED_FLAT_COS);
    cr_assert_str_eq(sched_name(k), "flat-cos");
    cr_assert_eq(sched_parse("one-cycle", &k), SF_OK);
    cr_assert_eq(k, SCHED_ONE_CYCLE);
    cr_assert_eq(sched_parse("cosine", &k), SF_ERR);
    cr_assert(strstr(sf_last_error(), "cosine"), "%s", sf_last_error());
}

Test(ranger, first_step_is_plain_sgd_with_decoupled_decay) {
    /* step 1: grad_avg = (1-mom) g, debias1 = 1-mom, r = 1 (not rectified), so
     * p1 = p0 * (1 - lr wd) - lr g where decay applies, p0 - lr g where not. */
    ranger_config c = ranger_defaults();
    float p[4] = {1, -2, 0.5f, 3}, g[4] = {0.1f, 0.2f, -0.3f, 1};
    uint8_t decay[4] = {1, 0, 1, 0};
    ranger o;
    ranger_init(&o, 4, &c, decay);
    double lr = 0.1;
    float want[4];
    for (int i = 0; i < 4; i++)
        want[i] = (float)(p[i] * (decay[i] ? 1 - lr * c.wd : 1) - lr * g[i]);
    ranger_step(&o, p, g, lr, c.mom);
    for (int i = 0; i < 4; i++) assert_close(p[i], want[i], 1e-6, "p after one step");
    cr_assert_eq(o.step, 1);
    ranger_free(&o);
}

Test(ranger, lookahead_pulls_back_every_k_steps) {
    /* With zero gradients and no decay the fast weights stay; with a constant gradient
     * the weights after k steps are halfway between the start and the fast weights. */
    ranger_config c = ranger_defaults();
    c.wd = 0;
    c.lookahead_k = 2;
    float p[1] = {1}, g[1] = {1};
    ranger o;
    ranger_init(&o, 1, &c, NULL);
    ranger_step(&o, p, g, 0.1, 0.9);
    float fast1 = p[0];
    cr_assert_lt(fast1, 1);
    ranger_step(&o, p, g, 0.1, 0.9);
    cr_assert_float_eq(o.slow[0], p[0], 0);
    cr_assert_gt(p[0], fast1 - 0.1f * 1.5f);
    cr_assert_lt(p[0], 1);
    ranger_free(&o);
}

static const char *python(void) {
    const char *p = getenv("PYTHON");
    return p && *p ? p : "/usr/bin/python3";
}

static int have_torch(void) {
    char cmd[300];
    snprintf(cmd, sizeof cmd, "%s -c 'import torch' >/dev/null 2>&1", python());
    return access("tests/ranger_ref.py", R_OK) == 0 && system(cmd) == 0;
}

/* Runs `steps` Ranger steps in C and in tests/ranger_ref.py on the same random
 * parameters, gradients and decay mask, and compares the weights. */
static void compare_with_fastai(const char *sched, int steps, size_t n, uint64_t seed) {
    if (!have_torch()) {
        cr_skip_test("%s has no torch (or tests/ranger_ref.py is not in the working "
                     "directory): fastai comparison skipped",
                     python());
    }
    char dir[] = "/tmp/sf_test_ranger_XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    sf_rng r;
    sf_rng_seed(&r, seed);
    float *p0 = xmalloc(n * sizeof(float)), *p = xmalloc(n * sizeof(float));
    float *g = xmalloc((size_t)steps * n * sizeof(float));
    uint8_t *decay = xmalloc(n);
    for (size_t i = 0; i < n; i++) {
        p0[i] = (float)sf_rng_normal(&r);
        decay[i] = sf_rng_uniform(&r) < 0.7;
    }
    for (size_t i = 0; i < (size_t)steps * n; i++)
        g[i] = (float)(sf_rng_normal(&r) * (0.01 + sf_rng_uniform(&r)));
    memcpy(p, p0, n * sizeof(float));

    ranger_config c = ranger_defaults();
    double lr_max = 0.1;
    sched_kind kind = SCHED_ONE_CYCLE;
    int scheduled = strcmp(sched, "none") != 0;
    if (scheduled) cr_assert_eq(sched_parse(sched, &kind), SF_OK);

    double *lrs = xmalloc((size_t)steps * sizeof(double));
    double *moms = xmalloc((size_t)steps * sizeof(double));
    for (int s = 0; s < steps; s++) {
        lrs[s] = lr_max, moms[s] = c.mom;
        if (scheduled) sched_at(kind, lr_max, (double)s / steps, &lrs[s], &moms[s]);
    }
    ranger o;
    ranger_init(&o, n, &c, decay);
    for (int s = 0; s < steps; s++) ranger_step(&o, p, g + (size_t)s * n, lrs[s], moms[s]);

    char in[300], out[300], cmd[1000], num[64];
    snprintf(in, sizeof in, "%s/in.safetensors", dir);
    snprintf(out, sizeof out, "%s/out.safetensors", dir);
    st_writer w;
    st_writer_init(&w);
    st_writer_add(&w, "p0", ST_F32, 1, (int64_t[]){(int64_t)n}, p0);
    st_writer_add(&w, "grads", ST_F32, 2, (int64_t[]){steps, (int64_t)n}, g);
    st_writer_add(&w, "decay", ST_U8, 1, (int64_t[]){(int64_t)n}, decay);
    st_writer_add(&w, "use_lr", ST_F64, 1, (int64_t[]){steps}, lrs);
    st_writer_add(&w, "use_mom", ST_F64, 1, (int64_t[]){steps}, moms);
    st_writer_meta(&w, "schedule", sched);
#define META(key, fmt, v) snprintf(num, sizeof num, fmt, v), st_writer_meta(&w, key, num)
    META("lr_max", "%.17g", lr_max);
    META("mom", "%.17g", c.mom);
    META("sqr_mom", "%.17g", c.sqr_mom);
    META("eps", "%.17g", c.eps);
    META("wd", "%.17g", c.wd);
    META("k", "%d", c.lookahead_k);
    META("alpha", "%.17g", c.lookahead_alpha);
#undef META
    cr_assert_eq(st_writer_save(&w, in), SF_OK);
    st_writer_free(&w);
    snprintf(cmd, sizeof cmd, "cd tests && %s ranger_ref.py %s %s", python(), in, out);
    cr_assert_eq(system(cmd), 0, "ranger_ref.py failed: %s", cmd);

    st_file f;
    cr_assert_eq(st_open(&f, out), SF_OK, "%s", sf_last_error());
    float *want = xmalloc(n * sizeof(float));
    cr_assert_eq(st_read_f32(&f, st_find(&f, "params"), want, n), SF_OK);
    double ref_lr[64], ref_mom[64];
    cr_assert_leq(steps, 64);
    memcpy(ref_lr, st_bytes(&f, st_find(&f, "lr")), (size_t)steps * 8);
    memcpy(ref_mom, st_bytes(&f, st_find(&f, "mom")), (size_t)steps * 8);
    for (int s = 0; s < steps; s++) {
        /* fastai rounds the position within a phase to float32 */
        assert_close(lrs[s], ref_lr[s], 1e-5, "scheduled lr");
        assert_close(moms[s], ref_mom[s], 1e-5, "scheduled mom");
    }
    /* Relative to the weights' scale: an element near zero after the update is the
     * difference of terms of order 1, each rounded to float32 (torch fuses some into
     * FMAs, C does not), so its own magnitude is not the scale of its error. */
    double worst = 0, scale = 0, moved = 0;
    for (size_t i = 0; i < n; i++) {
        worst = fmax(worst, fabs((double)p[i] - want[i]));
        scale = fmax(scale, fabs(want[i]));
        moved = fmax(moved, fabs((double)want[i] - p0[i]));
    }
    cr_log_info("%s, %d steps: max |C - fastai| %.3g, max |w| %.3g, relative %.3g", sched, steps,
                worst, scale, worst / scale);
    cr_assert_lt(worst / scale, 1e-6, "%s, %d steps: C and fastai differ by %.3g relative", sched,
                 steps, worst / scale);
    for (size_t i = 0; i < n; i++)
        cr_assert_leq(fabs((double)p[i] - want[i]), 1e-6 * fabs(want[i]) + 1e-7,
                      "element %zu: C %.9g fastai %.9g", i, p[i], want[i]);
    cr_assert_gt(moved, 1e-3, "the reference did not move the weights");

    st_close(&f);
    ranger_free(&o);
    free(p0), free(p), free(g), free(decay), free(want), free(lrs), free(moms);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

Test(ranger, five_steps_match_fastai) { compare_with_fastai("none", 5, 1000, 1); }

Test(ranger, fourteen_one_cycle_steps_match_fastai) {
    /* covers the rectified steps (r > 5 from step 6) and two lookahead syncs */
    compare_with_fastai("one-cycle", 14, 3000, 2);
}

Test(ranger, fourteen_flat_cos_steps_match_fastai) { compare_with_fastai("flat-cos", 14, 3000, 3); }
