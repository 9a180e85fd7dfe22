/* train.h: training an SFNet - the Ranger optimizer, the learning-rate schedules, the
 * training loop with checkpoints and resume, weights files, and batched inference.
 *
 * Optimizer (src/train_optim.c): fastai 2.7's `ranger` = Lookahead(RAdam), step for
 * step as fastai computes it, over flat float arrays (m->params, m->grads):
 *   p *= 1 - lr*wd                       decoupled weight decay (fastai's true_wd), only
 *                                        where decay[i] (fastai's Learner exempts BN
 *                                        and bias parameters: wd_bn_bias=False)
 *   g_avg = mom*g_avg + (1-mom)*g        sqr_avg = sqr_mom*sqr_avg + (1-sqr_mom)*g^2
 *   step += 1;  debias1 = 1 - mom^step,  debias2 = 1 - sqr_mom^step
 *   r_inf = 2/(1-sqr_mom) - 1,  r = r_inf - 2*step*sqr_mom^step/(1-sqr_mom^step)
 *   r > 5:  v = sqrt((r-4)(r-2)r_inf / ((r_inf-4)(r_inf-2)r))
 *           p -= lr*v/debias1 * g_avg / (sqrt(sqr_avg/debias2) + eps)
 *   else:   p -= lr/debias1 * g_avg      (the un-rectified first steps)
 *   every k-th step: slow += alpha*(p - slow); p = slow  (slow = p before the 1st step)
 * fastai's `ranger` defaults: mom 0.95, sqr_mom 0.99, eps 1e-6 (RAdam's own default is
 * 1e-5), wd 0.01, k 6, alpha 0.5.
 *
 * Schedules (fastai's fit_one_cycle and fit_flat_cos) give lr and mom at the fraction
 * pct = step / total_steps of training, evaluated before each step:
 *   one-cycle: lr cosine lr_max/25 -> lr_max over the first 25%, then cosine ->
 *              lr_max/1e5; mom cosine 0.95 -> 0.85 -> 0.95.
 *   flat-cos:  lr flat at lr_max for 75%, then cosine -> lr_max/1e5; mom 0.95.
 */
#ifndef SF_TRAIN_H
#define SF_TRAIN_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    double mom;             /* used when no schedule sets it */
    double sqr_mom;
    double eps;
    double wd;              /* decoupled weight decay */
    int lookahead_k;
    double lookahead_alpha;
} ranger_config;

typedef struct {
    ranger_config cfg;
    size_t n;
    float *grad_avg;  /* (n) first moment, fastai's grad_avg */
    float *sqr_avg;   /* (n) second moment */
    float *slow;      /* (n) lookahead's slow weights */
    uint8_t *decay;   /* (n) 1 where weight decay applies */
    long step;        /* RAdam steps taken */
    long count;       /* lookahead steps taken */
    int slow_ready;   /* slow holds the weights (copied at the first step) */
} ranger;

/* fastai 2.7's ranger() defaults. */
ranger_config ranger_defaults(void);
/* Allocates the state for n parameters, zeroed. decay may be NULL (decay all). */
void ranger_init(ranger *o, size_t n, const ranger_config *cfg, const uint8_t *decay);
void ranger_free(ranger *o);
/* One step on params (n) with grads (n) at learning rate lr and momentum mom. */
void ranger_step(ranger *o, float *params, const float *grads, double lr, double mom);

typedef enum { SCHED_ONE_CYCLE = 0, SCHED_FLAT_COS = 1 } sched_kind;

/* lr and mom at pct in [0, 1] of training, for a peak learning rate lr_max. */
void sched_at(sched_kind kind, double lr_max, double pct, double *lr, double *mom);
/* "one-cycle" / "flat-cos" <-> kind; sched_parse gives SF_ERR with a message. */
const char *sched_name(sched_kind kind);
int sched_parse(const char *s, sched_kind *kind);

#endif
