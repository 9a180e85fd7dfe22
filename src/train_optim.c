/* train_optim.c: fastai's Ranger (RAdam + Lookahead) and its one-cycle and flat+cosine
 * schedules. The scalar factors are computed in double as fastai does in Python, the
 * element-wise updates in float as PyTorch does on float32 tensors.
 * Layer: train. Calls: sf_util; OpenMP.
 * Called by: cli_train, train_loop.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sf_util.h"
#include "train.h"

ranger_config ranger_defaults(void) {
    return (ranger_config){.mom = 0.95,
                           .sqr_mom = 0.99,
                           .eps = 1e-6,
                           .wd = 0.01,
                           .lookahead_k = 6,
                           .lookahead_alpha = 0.5};
}

void ranger_init(ranger *o, size_t n, const ranger_config *cfg, const uint8_t *decay) {
    memset(o, 0, sizeof *o);
    o->cfg = *cfg;
    o->n = n;
    SF_ASSERT(cfg->lookahead_k >= 1 && cfg->sqr_mom > 0 && cfg->sqr_mom < 1);
    /* One allocation for the three float states, carved in place. */
    float *state = xcalloc(3 * n + 1, sizeof(float));
    o->grad_avg = state;
    o->sqr_avg = state + n;
    o->slow = state + 2 * n;
    o->decay = xmalloc(n + 1);
    if (decay) memcpy(o->decay, decay, n);
    else memset(o->decay, 1, n);
}

void ranger_free(ranger *o) {
    free(o->grad_avg);
    free(o->decay);
    memset(o, 0, sizeof *o);
}

/* fastai's debias(mom, damp, step) = damp * (1 - mom^step) / (1 - mom). */
static double debias(double mom, double damp, long step) {
    return damp * (1 - pow(mom, (double)step)) / (1 - mom);
}

void ranger_step(ranger *o, float *params, const float *grads, double lr, double mom) {
    const size_t n = o->n;
    const double sqr_mom = o->cfg.sqr_mom;
    if (!o->slow_ready) {
        memcpy(o->slow, params, n * sizeof(float));
        o->slow_ready = 1;
    }
    o->step++;
    const float wd_mul = (float)(1 - lr * o->cfg.wd);
    const float m1 = (float)mom, d1 = (float)(1 - mom);
    const float m2 = (float)sqr_mom, d2 = (float)(1 - sqr_mom);
    const double debias1 = debias(mom, 1 - mom, o->step);
    const double debias2 = debias(sqr_mom, 1 - sqr_mom, o->step);
    const double r_inf = 2 / (1 - sqr_mom) - 1;
    const double sp = pow(sqr_mom, (double)o->step);
    const double r = r_inf - 2 * (double)o->step * sp / (1 - sp);
    const int rectified = r > 5;
    float scale, deb2 = (float)debias2, eps = (float)o->cfg.eps;
    if (rectified) {
        double v = sqrt(((r - 4) * (r - 2) * r_inf) / ((r_inf - 4) * (r_inf - 2) * r));
        scale = (float)(-lr * v / debias1);
    } else {
        scale = (float)(-lr / debias1);
    }
    float *restrict p = params, *restrict ga = o->grad_avg, *restrict sa = o->sqr_avg;
    const float *restrict g = grads;
    const uint8_t *restrict dec = o->decay;
    const int do_wd = o->cfg.wd != 0 && lr != 0;
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++) {
        float pi = p[i];
        if (do_wd && dec[i]) pi *= wd_mul;
        float gi = g[i];
        float a = ga[i] * m1 + d1 * gi;
        float s = sa[i] * m2 + d2 * gi * gi;
        ga[i] = a;
        sa[i] = s;
        if (rectified) pi = pi + scale * a / (sqrtf(s / deb2) + eps);
        else pi = pi + scale * a;
        p[i] = pi;
    }
    o->count++;
    if (o->count % o->cfg.lookahead_k == 0) {
        const float alpha = (float)o->cfg.lookahead_alpha;
        float *restrict slow = o->slow;
#pragma omp parallel for simd schedule(static)
        for (size_t i = 0; i < n; i++) {
            float sl = slow[i] + alpha * (p[i] - slow[i]);
            slow[i] = sl;
            p[i] = sl;
        }
    }
}

/* fastai's sched_cos. */
static double sched_cos(double start, double end, double pos) {
    return start + (1 + cos(M_PI * (1 - pos))) * (end - start) / 2;
}

/* fastai's combined_cos(pct, start, middle, end) at pos. */
static double combined_cos(double pct, double start, double middle, double end, double pos) {
    if (pos < pct) return sched_cos(start, middle, pos / pct);
    return sched_cos(middle, end, (pos - pct) / (1 - pct));
}

void sched_at(sched_kind kind, double lr_max, double pct, double *lr, double *mom) {
    if (pct < 0) pct = 0;
    if (pct > 1) pct = 1;
    switch (kind) {
    case SCHED_ONE_CYCLE:
        *lr = combined_cos(0.25, lr_max / 25, lr_max, lr_max / 1e5, pct);
        *mom = combined_cos(0.25, 0.95, 0.85, 0.95, pct);
        break;
    case SCHED_FLAT_COS:
        *lr = combined_cos(0.75, lr_max, lr_max, lr_max / 1e5, pct);
        *mom = 0.95;
        break;
    default: SF_ASSERT(0);
    }
}

const char *sched_name(sched_kind kind) {
    return kind == SCHED_FLAT_COS ? "flat-cos" : "one-cycle";
}

int sched_parse(const char *s, sched_kind *kind) {
    if (!strcmp(s, "one-cycle") || !strcmp(s, "one_cycle")) *kind = SCHED_ONE_CYCLE;
    else if (!strcmp(s, "flat-cos") || !strcmp(s, "flat_cos")) *kind = SCHED_FLAT_COS;
    else return sf_fail("unknown schedule '%s' (one-cycle or flat-cos)", s);
    return SF_OK;
}
