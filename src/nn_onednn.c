/* nn_onednn.c: the resnet18 backbone on oneDNN, forward and backward.
 *
 * The backbone is a list of 20 "units" (a convolution and the batch norm after it:
 * conv1/bn1, then per BasicBlock conv1/bn1, conv2/bn2 and the downsample pair) and
 * 8 blocks that name their units. A "plan" is every primitive the backbone needs
 * for one batch size and one mode, with its arguments bound, as two lists of
 * executions (forward, backward) that the entry points run in order:
 *
 *   training forward    x -reorder-> conv1 -> bn1+relu -> maxpool ->
 *                       blocks [convA -> bnA+relu -> convB -> bnB (-> out);
 *                               convD -> bnD (downsample); out = relu(out + identity)]
 *                       -> avgpool -reorder-> feats
 *   training backward   the same in reverse: relu', bn', conv' (data and weights),
 *                       weight gradients reordered to OIHW and added to m->grads
 *   eval forward        BN folded into each conv (bias = beta - mean*scale, weights
 *                       scaled per output channel); ReLU and the residual sum are
 *                       post-ops of the convs, the residual sum in place.
 *
 * Activations stay in blocked formats from the input reorder to the pooled features:
 * the ones the training convolutions choose (format_tag_any), nChw16c in eval (nChw8c
 * on processors without AVX-512). Buffers ("slots") belong to the engine and are
 * shared by every plan: a slot grows when a plan needs more, and every plan's memory
 * objects over it are re-pointed. All primitives use one user-mode scratchpad slot.
 * Weights are reordered from the flat OIHW fp32 params into each format a primitive
 * asks for ("variants"), lazily after sfnet_params_changed (raw) or a change of
 * params or running statistics (folded).
 * Their reorders use the scratchpad slot too: with a scratchpad of its own, each
 * Winograd weight reorder held 10-17 MB for good (150 MB at width 64).
 *
 * An inference_only model gets the eval plans alone: no training plan, so none of
 * the activations, workspaces and gradient slots they keep, no raw weight variants,
 * and no per-unit batch statistics or gradient memories.
 *
 * Layer: nn. Calls: sf_util; oneDNN.
 * Called by: nn_model.
 */
#include <dnnl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn_model.h"
#include "nn_onednn.h"
#include "sf_util.h"

#define OD_EPS 1e-5f
#define OD_MOMENTUM 0.1f
#define OD_MAX_UNITS 20
#define OD_MAX_VARIANTS 6
#define OD_MAX_ARGS 12
#define OD_MAX_PLANS 6
#define OD_MAX_PDS 512

/* A failed oneDNN call at run time is a programming error (shapes were checked
 * when the primitives were built). */
#define OD_CHECK(call)                                                                             \
    do {                                                                                           \
        dnnl_status_t st_ = (call);                                                                \
        if (st_ != dnnl_success) od_die(#call, st_, __FILE__, __LINE__);                           \
    } while (0)

static void od_die(const char *what, dnnl_status_t st, const char *file, int line) {
    fprintf(stderr, "sfnet-explore: %s:%d: oneDNN call failed (status %d): %s\n", file, line,
            (int)st, what);
    sf_die();
}

enum { HOOK_NONE, HOOK_BN_STATS, HOOK_BN_GRADS };

/* Slots: engine-owned buffers. Per-block slots follow S_BLOCKS. */
enum {
    S_X,     /* input in conv1's format */
    S_C0,    /* conv1 output */
    S_A0,    /* bn1 + relu output */
    S_WS0,   /* bn1 relu workspace */
    S_P0,    /* maxpool output */
    S_PWS,   /* maxpool workspace */
    S_POOL,  /* pooled features, blocked */
    S_DPOOL, /* their gradient, blocked */
    S_D0,
    S_D1,
    S_D2,
    S_D3, /* backward gradients; eval activations */
    S_DW, /* one conv's weight gradient in its blocked format */
    S_PSRC,
    S_PDDST,   /* a conv's input and output gradient in plain nchw, for the
                      * weight gradients the jit kernels do not cover */
    S_SCRATCH, /* oneDNN scratchpad */
    S_BLOCKS
};
enum { B_CA, B_AA, B_WSA, B_CB, B_OUT, B_CD, B_NSLOTS };
#define OD_NSLOTS (S_BLOCKS + 8 * B_NSLOTS)

typedef struct {
    dnnl_memory_desc_t md;
    int folded; /* weights scaled by the BN, for eval */
    void *data;
    dnnl_memory_t mem;
    dnnl_primitive_t reorder; /* OIHW fp32 params -> md */
    dnnl_memory_t scratch;    /* its scratchpad over S_SCRATCH, or NULL */
} od_wvar;

typedef struct {
    char name[48]; /* "layer2.0.downsample" */
    int cin, cout, k, stride, pad, hin, hout;
    int relu;                          /* ReLU right after the BN */
    size_t w_off, gamma_off, beta_off; /* into params / grads */
    size_t mean_off, var_off;          /* into buffers */
    float *batch_mean, *batch_var;     /* (cout) statistics of the last training forward */
    float *fold_bias;                  /* (cout) beta - mean * gamma / sqrt(var + eps) */
    float *dscale, *dshift;            /* (cout) BN parameter gradients of one backward */
    dnnl_memory_t w_user, g_user;      /* (cout, cin, k, k) views of params, grads */
    dnnl_memory_t wf_user;             /* the same over the engine's fold_w */
    dnnl_memory_t gamma_mem, beta_mem, mean_mem, var_mem;
    dnnl_memory_t dscale_mem, dshift_mem, bias_mem;
    od_wvar var[OD_MAX_VARIANTS];
    int n_var;
} od_unit;

typedef struct {
    int ua, ub, ud; /* units; ud = -1 without downsample */
} od_block;

typedef struct {
    void *ptr;
    size_t cap;
} od_slot;

typedef struct {
    dnnl_primitive_t prim;
    int nargs;
    dnnl_exec_arg_t args[OD_MAX_ARGS];
    int hook, unit;
} od_exec;

typedef struct {
    od_exec *v;
    int n, cap;
} od_list;

typedef struct {
    dnnl_memory_t mem;
    int slot; /* -1: not over a slot */
} od_bound;

typedef struct od_plan {
    int B, train;
    od_list fwd, bwd;
    od_bound *bound;
    int n_bound, cap_bound;
    dnnl_memory_t x_user, feats_user, dfeats_user;
    long last_used;
    struct od_plan *next;
} od_plan;

typedef struct {
    nn_engine base; /* first: the engine is passed around as nn_engine * */
    sfnet *m;
    int width, size, max_batch;
    dnnl_data_type_t dt;
    dnnl_engine_t eng;
    dnnl_stream_t stream;
    od_unit units[OD_MAX_UNITS];
    int n_units;
    od_block blocks[8];
    od_slot slots[OD_NSLOTS];
    od_plan *plans;
    od_plan *last_train; /* plan of the last training forward, for backward */
    int inference_only;  /* eval plans only */
    long clock;
    int raw_dirty, fold_dirty;
    float *fold_w; /* (largest cout*cin*k*k) one unit's BN-scaled OIHW weights */
} od_engine;

/* ---- memory descriptors ---------------------------------------------------- */

static dnnl_memory_desc_t md_4d(int n, int c, int h, int w, dnnl_data_type_t dt,
                                dnnl_format_tag_t tag) {
    dnnl_memory_desc_t md;
    dnnl_dims_t dims = {n, c, h, w};
    OD_CHECK(dnnl_memory_desc_init_by_tag(&md, 4, dims, dt, tag));
    return md;
}

static dnnl_memory_desc_t md_1d(int c) {
    dnnl_memory_desc_t md;
    dnnl_dims_t dims = {c};
    OD_CHECK(dnnl_memory_desc_init_by_tag(&md, 1, dims, dnnl_f32, dnnl_a));
    return md;
}

static dnnl_memory_desc_t pd_md(const_dnnl_primitive_desc_t pd, dnnl_query_t what) {
    const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(pd, what, 0);
    SF_ASSERT(md != NULL);
    return *md;
}

/* ---- slots and plans' memory objects --------------------------------------- */

static void plan_bound_add(od_plan *p, dnnl_memory_t mem, int slot) {
    if (p->n_bound == p->cap_bound) {
        p->cap_bound = p->cap_bound ? 2 * p->cap_bound : 64;
        p->bound = xrealloc(p->bound, (size_t)p->cap_bound * sizeof *p->bound);
    }
    p->bound[p->n_bound].mem = mem;
    p->bound[p->n_bound].slot = slot;
    p->n_bound++;
}

/* Makes slot hold at least n bytes; existing memory objects over it follow. */
static void slot_reserve(od_engine *e, od_plan *building, int slot, size_t n) {
    od_slot *s = &e->slots[slot];
    if (n <= s->cap) return;
    free(s->ptr);
    s->ptr = xmalloc_aligned(n);
    s->cap = n;
    for (od_plan *p = e->plans;; p = p->next) {
        if (!p) p = building;
        for (int i = 0; i < p->n_bound; i++)
            if (p->bound[i].slot == slot)
                OD_CHECK(dnnl_memory_set_data_handle(p->bound[i].mem, s->ptr));
        if (p == building) break;
    }
}

/* ---- building a plan --------------------------------------------------------- */

typedef struct {
    od_engine *e;
    od_plan *p;
    int failed;
    dnnl_primitive_desc_t pds[OD_MAX_PDS];
    int n_pds;
} od_build;

/* Records the first failure of a plan build; later calls return early. */
static int build_ok(od_build *b, dnnl_status_t st, const char *what) {
    if (st == dnnl_success) return 1;
    if (!b->failed)
        sf_fail("oneDNN cannot build %s for this configuration on this CPU (status %d)%s", what,
                (int)st, b->e->dt == dnnl_bf16 ? "; bf16 needs AVX-512, use --precision fp32" : "");
    b->failed = 1;
    return 0;
}

static dnnl_memory_t bind_slot(od_build *b, const dnnl_memory_desc_t *md, int slot) {
    if (b->failed) return NULL;
    slot_reserve(b->e, b->p, slot, dnnl_memory_desc_get_size(md));
    dnnl_memory_t mem;
    OD_CHECK(dnnl_memory_create(&mem, md, b->e->eng, b->e->slots[slot].ptr));
    plan_bound_add(b->p, mem, slot);
    return mem;
}

static dnnl_memory_t bind_ptr(od_build *b, const dnnl_memory_desc_t *md, void *ptr) {
    if (b->failed) return NULL;
    dnnl_memory_t mem;
    OD_CHECK(dnnl_memory_create(&mem, md, b->e->eng, ptr));
    plan_bound_add(b->p, mem, -1);
    return mem;
}

/* Attributes: user scratchpad, optional post-ops (ReLU, sum). */
static dnnl_primitive_attr_t make_attr(int post_sum, int post_relu) {
    dnnl_primitive_attr_t attr;
    OD_CHECK(dnnl_primitive_attr_create(&attr));
    OD_CHECK(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user));
    if (post_sum || post_relu) {
        dnnl_post_ops_t po;
        OD_CHECK(dnnl_post_ops_create(&po));
        if (post_sum) OD_CHECK(dnnl_post_ops_append_sum(po, 1.0f));
        if (post_relu) OD_CHECK(dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_relu, 0, 0));
        OD_CHECK(dnnl_primitive_attr_set_post_ops(attr, po));
        OD_CHECK(dnnl_post_ops_destroy(po));
    }
    return attr;
}

static dnnl_primitive_desc_t make_pd(od_build *b, const void *op_desc, int post_sum, int post_relu,
                                     const_dnnl_primitive_desc_t hint, const char *what) {
    if (b->failed) return NULL;
    SF_ASSERT(b->n_pds < OD_MAX_PDS);
    dnnl_primitive_attr_t attr = make_attr(post_sum, post_relu);
    dnnl_primitive_desc_t pd = NULL;
    dnnl_status_t st = dnnl_primitive_desc_create(&pd, op_desc, attr, b->e->eng, hint);
    OD_CHECK(dnnl_primitive_attr_destroy(attr));
    if (!build_ok(b, st, what)) return NULL;
    b->pds[b->n_pds++] = pd;
    return pd;
}

static dnnl_primitive_desc_t make_reorder_pd(od_build *b, const dnnl_memory_desc_t *from,
                                             const dnnl_memory_desc_t *to, int post_sum) {
    if (b->failed) return NULL;
    SF_ASSERT(b->n_pds < OD_MAX_PDS);
    dnnl_primitive_attr_t attr = make_attr(post_sum, 0);
    dnnl_primitive_desc_t pd = NULL;
    dnnl_status_t st =
        dnnl_reorder_primitive_desc_create(&pd, from, b->e->eng, to, b->e->eng, attr);
    OD_CHECK(dnnl_primitive_attr_destroy(attr));
    if (!build_ok(b, st, "a reorder")) return NULL;
    b->pds[b->n_pds++] = pd;
    return pd;
}

static void exec_arg(od_exec *x, int what, dnnl_memory_t mem) {
    if (!x) return;
    SF_ASSERT(x->nargs < OD_MAX_ARGS);
    x->args[x->nargs].arg = what;
    x->args[x->nargs].memory = mem;
    x->nargs++;
}

/* Appends an execution of pd's primitive to list, with its scratchpad bound. */
static od_exec *add_exec(od_build *b, od_list *list, const_dnnl_primitive_desc_t pd) {
    if (b->failed) return NULL;
    if (list->n == list->cap) {
        list->cap = list->cap ? 2 * list->cap : 64;
        list->v = xrealloc(list->v, (size_t)list->cap * sizeof *list->v);
    }
    od_exec *x = &list->v[list->n];
    memset(x, 0, sizeof *x);
    if (!build_ok(b, dnnl_primitive_create(&x->prim, pd), "a primitive")) return NULL;
    list->n++;
    dnnl_memory_desc_t sp = pd_md(pd, dnnl_query_scratchpad_md);
    if (dnnl_memory_desc_get_size(&sp) > 0)
        exec_arg(x, DNNL_ARG_SCRATCHPAD, bind_slot(b, &sp, S_SCRATCH));
    return x;
}

/* ---- weight variants --------------------------------------------------------- */

/* The memory holding unit u's weights in format md (scaled by the BN if folded),
 * made on first request and refreshed with the others after a change. */
static dnnl_memory_t weights_for(od_build *b, od_unit *u, const dnnl_memory_desc_t *md,
                                 int folded) {
    if (b->failed) return NULL;
    od_engine *e = b->e;
    for (int i = 0; i < u->n_var; i++)
        if (u->var[i].folded == folded && dnnl_memory_desc_equal(&u->var[i].md, md))
            return u->var[i].mem;
    SF_ASSERT(u->n_var < OD_MAX_VARIANTS);
    const dnnl_memory_desc_t *user = NULL;
    OD_CHECK(dnnl_memory_get_memory_desc(u->w_user, &user));
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_attr_t attr = make_attr(0, 0);
    dnnl_status_t st = dnnl_reorder_primitive_desc_create(&pd, user, e->eng, md, e->eng, attr);
    OD_CHECK(dnnl_primitive_attr_destroy(attr));
    if (!build_ok(b, st, "a weight reorder")) return NULL;
    od_wvar *v = &u->var[u->n_var++];
    v->md = *md;
    v->folded = folded;
    v->data = xmalloc_aligned(dnnl_memory_desc_get_size(md));
    OD_CHECK(dnnl_memory_create(&v->mem, md, e->eng, v->data));
    OD_CHECK(dnnl_primitive_create(&v->reorder, pd));
    dnnl_memory_desc_t sp = pd_md(pd, dnnl_query_scratchpad_md);
    if (dnnl_memory_desc_get_size(&sp) > 0) {
        /* pointed at the slot's current buffer before each use */
        slot_reserve(e, b->p, S_SCRATCH, dnnl_memory_desc_get_size(&sp));
        OD_CHECK(dnnl_memory_create(&v->scratch, &sp, e->eng, e->slots[S_SCRATCH].ptr));
    }
    OD_CHECK(dnnl_primitive_desc_destroy(pd));
    if (folded) e->fold_dirty = 1;
    else e->raw_dirty = 1;
    return v->mem;
}

static void weights_refresh(od_engine *e, int folded) {
    sfnet *m = e->m;
    for (int i = 0; i < e->n_units; i++) {
        od_unit *u = &e->units[i];
        int any = 0;
        for (int j = 0; j < u->n_var; j++) any |= u->var[j].folded == folded;
        if (!any) continue;
        if (folded) {
            /* OIHW weights times the BN scale into the staging buffer, then its reorders */
            const float *g = m->params + u->gamma_off, *bt = m->params + u->beta_off;
            const float *rm = m->buffers + u->mean_off, *rv = m->buffers + u->var_off;
            const float *w = m->params + u->w_off;
            size_t per_o = (size_t)u->cin * u->k * u->k;
            for (int c = 0; c < u->cout; c++) {
                float sc = g[c] / sqrtf(rv[c] + OD_EPS);
                u->fold_bias[c] = bt[c] - rm[c] * sc;
                for (size_t j = 0; j < per_o; j++) e->fold_w[c * per_o + j] = w[c * per_o + j] * sc;
            }
        }
        for (int j = 0; j < u->n_var; j++) {
            od_wvar *v = &u->var[j];
            if (v->folded != folded) continue;
            dnnl_exec_arg_t args[3] = {{DNNL_ARG_FROM, folded ? u->wf_user : u->w_user},
                                       {DNNL_ARG_TO, v->mem},
                                       {DNNL_ARG_SCRATCHPAD, v->scratch}};
            if (v->scratch)
                OD_CHECK(dnnl_memory_set_data_handle(v->scratch, e->slots[S_SCRATCH].ptr));
            OD_CHECK(dnnl_primitive_execute(v->reorder, e->stream, v->scratch ? 3 : 2, args));
        }
        /* the staging buffer is reused by the next unit */
        if (folded) OD_CHECK(dnnl_stream_wait(e->stream));
    }
    OD_CHECK(dnnl_stream_wait(e->stream));
    if (folded) e->fold_dirty = 0;
    else e->raw_dirty = 0;
}

/* The library's choice of convolution algorithm: Winograd F(4x4, 3x3) for the 3x3
 * stride-1 convolutions of the wide layers (16-20% more images/s than direct kernels
 * in training and inference at width 64, batch 32; gradients within 2e-5 of
 * PyTorch's), direct kernels elsewhere and in bf16. */
#define OD_CONV_ALG dnnl_convolution_auto
/* ---- the pieces of a plan ------------------------------------------------------ */

static void conv_geometry(const od_unit *u, dnnl_dims_t strides, dnnl_dims_t pad_l,
                          dnnl_dims_t pad_r) {
    /* PyTorch's floor((h + 2p - k) / s) + 1 outputs; the right pad is what is used. */
    int pr = (u->hout - 1) * u->stride + u->k - u->hin - u->pad;
    strides[0] = strides[1] = u->stride;
    pad_l[0] = pad_l[1] = u->pad;
    pad_r[0] = pad_r[1] = pr;
}

/* The blocked layout of eval activations: the channel block of the processor's jit
 * kernels. On a processor without AVX-512 the direct kernels block by 8, and nChw16c
 * leaves oneDNN nothing but its reference convolution (ref:any), about a thousand
 * times slower. */
static dnnl_format_tag_t eval_blocked_tag(void) {
    dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    return (isa & dnnl_cpu_isa_avx512_core) == dnnl_cpu_isa_avx512_core ? dnnl_nChw16c
                                                                        : dnnl_nChw8c;
}

/* Forward conv pd of unit u: src md given (NULL = any), weights any, dst given or any;
 * eval adds the folded bias and post-ops. */
static dnnl_primitive_desc_t conv_fwd_pd(od_build *b, od_unit *u, int B,
                                         const dnnl_memory_desc_t *src,
                                         const dnnl_memory_desc_t *dst, int train, int post_sum,
                                         int post_relu) {
    od_engine *e = b->e;
    dnnl_memory_desc_t s_any = md_4d(B, u->cin, u->hin, u->hin, e->dt, dnnl_format_tag_any);
    /* Training lets the primitives choose (they take nChw16c here). For inference
     * "any" picks brgemm kernels on nhwc, which took 11.2 CPU-ms per 144x144 image
     * against 9.4 for the direct kernels on nChw16c (width 64, batch 64, AVX-512):
     * eval asks for the blocked layout. */
    dnnl_memory_desc_t d_any = md_4d(B, u->cout, u->hout, u->hout, e->dt,
                                     train ? dnnl_format_tag_any : eval_blocked_tag());
    dnnl_memory_desc_t w_any = md_4d(u->cout, u->cin, u->k, u->k, e->dt, dnnl_format_tag_any);
    dnnl_memory_desc_t bias = md_1d(u->cout);
    dnnl_dims_t st, pl, pr;
    conv_geometry(u, st, pl, pr);
    dnnl_convolution_desc_t cd;
    OD_CHECK(dnnl_convolution_forward_desc_init(
        &cd, train ? dnnl_forward_training : dnnl_forward_inference, OD_CONV_ALG,
        src ? src : &s_any, &w_any, train ? NULL : &bias, dst ? dst : &d_any, st, pl, pr));
    return make_pd(b, &cd, post_sum, post_relu, NULL, u->name);
}

/* Training forward of unit u: conv then BN (+ReLU) with batch statistics.
 * Returns the conv's pd (hint for backward); *c, *a get the conv and BN outputs. */
typedef struct {
    dnnl_primitive_desc_t conv, bn;
    dnnl_memory_desc_t src_md, dst_md; /* conv src, conv dst (= BN data) */
    dnnl_memory_t src, c, a, ws;
} od_unit_fwd;

static od_unit_fwd unit_train_fwd(od_build *b, int ui, int B, const dnnl_memory_desc_t *src_md,
                                  dnnl_memory_t src, int slot_c, int slot_a, int slot_ws) {
    od_engine *e = b->e;
    od_unit *u = &e->units[ui];
    od_unit_fwd r;
    memset(&r, 0, sizeof r);
    r.conv = conv_fwd_pd(b, u, B, src_md, NULL, 1, 0, 0);
    if (b->failed) return r;
    r.src_md = pd_md(r.conv, dnnl_query_src_md);
    r.dst_md = pd_md(r.conv, dnnl_query_dst_md);
    dnnl_memory_desc_t w_md = pd_md(r.conv, dnnl_query_weights_md);
    r.src = src;
    r.c = bind_slot(b, &r.dst_md, slot_c);
    od_exec *x = add_exec(b, &b->p->fwd, r.conv);
    exec_arg(x, DNNL_ARG_SRC, src);
    exec_arg(x, DNNL_ARG_WEIGHTS, weights_for(b, u, &w_md, 0));
    exec_arg(x, DNNL_ARG_DST, r.c);

    dnnl_batch_normalization_desc_t bd;
    unsigned flags = dnnl_use_scale | dnnl_use_shift | (u->relu ? dnnl_fuse_norm_relu : 0);
    OD_CHECK(dnnl_batch_normalization_forward_desc_init(&bd, dnnl_forward_training, &r.dst_md,
                                                        OD_EPS, flags));
    r.bn = make_pd(b, &bd, 0, 0, NULL, "batch norm");
    if (b->failed) return r;
    r.a = bind_slot(b, &r.dst_md, slot_a);
    x = add_exec(b, &b->p->fwd, r.bn);
    exec_arg(x, DNNL_ARG_SRC, r.c);
    exec_arg(x, DNNL_ARG_DST, r.a);
    exec_arg(x, DNNL_ARG_SCALE, u->gamma_mem);
    exec_arg(x, DNNL_ARG_SHIFT, u->beta_mem);
    exec_arg(x, DNNL_ARG_MEAN, u->mean_mem);
    exec_arg(x, DNNL_ARG_VARIANCE, u->var_mem);
    if (u->relu) {
        dnnl_memory_desc_t ws_md = pd_md(r.bn, dnnl_query_workspace_md);
        r.ws = bind_slot(b, &ws_md, slot_ws);
        exec_arg(x, DNNL_ARG_WORKSPACE, r.ws);
    }
    if (x) {
        x->hook = HOOK_BN_STATS;
        x->unit = ui;
    }
    return r;
}

/* Whether pd runs oneDNN's reference code (its implementation name begins "ref"). */
static int is_reference_impl(const_dnnl_primitive_desc_t pd) {
    const char *impl = NULL;
    if (!pd || dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) != dnnl_success)
        return 0;
    return impl && !strncmp(impl, "ref", 3);
}

/* md's shape and type in plain nchw. */
static dnnl_memory_desc_t plain_md(const dnnl_memory_desc_t *md) {
    return md_4d((int)md->dims[0], (int)md->dims[1], (int)md->dims[2], (int)md->dims[3],
                 md->data_type, dnnl_nchw);
}

/* Backward of unit u given the gradient of its BN output (in memory dy, format
 * f->dst_md): BN backward into slot_dc, the weight gradient added to m->grads, and
 * (when dx_slot >= 0) the gradient of the conv's input into slot dx_slot. */
static dnnl_memory_t unit_train_bwd(od_build *b, int ui, const od_unit_fwd *f, dnnl_memory_t dy,
                                    int slot_dc, int dx_slot) {
    od_engine *e = b->e;
    od_unit *u = &e->units[ui];
    if (b->failed) return NULL;
    dnnl_batch_normalization_desc_t bd;
    unsigned flags = dnnl_use_scale | dnnl_use_shift | (u->relu ? dnnl_fuse_norm_relu : 0);
    OD_CHECK(dnnl_batch_normalization_backward_desc_init(&bd, dnnl_backward, &f->dst_md, &f->dst_md,
                                                         OD_EPS, flags));
    dnnl_primitive_desc_t bn = make_pd(b, &bd, 0, 0, f->bn, "batch norm backward");
    dnnl_memory_t dc = bind_slot(b, &f->dst_md, slot_dc);
    od_exec *x = add_exec(b, &b->p->bwd, bn);
    exec_arg(x, DNNL_ARG_SRC, f->c);
    exec_arg(x, DNNL_ARG_MEAN, u->mean_mem);
    exec_arg(x, DNNL_ARG_VARIANCE, u->var_mem);
    exec_arg(x, DNNL_ARG_SCALE, u->gamma_mem);
    exec_arg(x, DNNL_ARG_SHIFT, u->beta_mem);
    exec_arg(x, DNNL_ARG_DIFF_DST, dy);
    if (u->relu) exec_arg(x, DNNL_ARG_WORKSPACE, f->ws);
    exec_arg(x, DNNL_ARG_DIFF_SRC, dc);
    exec_arg(x, DNNL_ARG_DIFF_SCALE, u->dscale_mem);
    exec_arg(x, DNNL_ARG_DIFF_SHIFT, u->dshift_mem);
    if (x) {
        x->hook = HOOK_BN_GRADS;
        x->unit = ui;
    }

    dnnl_dims_t st, pl, pr;
    conv_geometry(u, st, pl, pr);
    dnnl_memory_desc_t dw_any = md_4d(u->cout, u->cin, u->k, u->k, dnnl_f32, dnnl_format_tag_any);
    dnnl_convolution_desc_t cd;
    OD_CHECK(dnnl_convolution_backward_weights_desc_init(&cd, OD_CONV_ALG, &f->src_md, &dw_any,
                                                         NULL, &f->dst_md, st, pl, pr));
    dnnl_primitive_desc_t cw = make_pd(b, &cd, 0, 0, f->conv, "convolution weight gradient");
    if (b->failed) return NULL;
    dnnl_memory_t cw_src = f->src, cw_ddst = dc;
    if (is_reference_impl(cw)) {
        /* Without AVX-512 the blocked jit kernels leave a 3x3 convolution over a 2x2
         * map (layer4 of a 64-pixel crop) to the reference code, thousands of times
         * slower: its input and output gradient go to plain nchw for the gemm kernel. */
        dnnl_memory_desc_t ps = plain_md(&f->src_md), pd = plain_md(&f->dst_md);
        OD_CHECK(dnnl_convolution_backward_weights_desc_init(&cd, OD_CONV_ALG, &ps, &dw_any, NULL,
                                                             &pd, st, pl, pr));
        cw = make_pd(b, &cd, 0, 0, f->conv, "convolution weight gradient");
        if (b->failed) return NULL;
        cw_src = bind_slot(b, &ps, S_PSRC);
        cw_ddst = bind_slot(b, &pd, S_PDDST);
        x = add_exec(b, &b->p->bwd, make_reorder_pd(b, &f->src_md, &ps, 0));
        exec_arg(x, DNNL_ARG_FROM, f->src);
        exec_arg(x, DNNL_ARG_TO, cw_src);
        x = add_exec(b, &b->p->bwd, make_reorder_pd(b, &f->dst_md, &pd, 0));
        exec_arg(x, DNNL_ARG_FROM, dc);
        exec_arg(x, DNNL_ARG_TO, cw_ddst);
    }
    dnnl_memory_desc_t dw_md = pd_md(cw, dnnl_query_diff_weights_md);
    dnnl_memory_t dw = bind_slot(b, &dw_md, S_DW);
    x = add_exec(b, &b->p->bwd, cw);
    exec_arg(x, DNNL_ARG_SRC, cw_src);
    exec_arg(x, DNNL_ARG_DIFF_DST, cw_ddst);
    exec_arg(x, DNNL_ARG_DIFF_WEIGHTS, dw);
    const dnnl_memory_desc_t *g_md = NULL;
    OD_CHECK(dnnl_memory_get_memory_desc(u->g_user, &g_md));
    dnnl_primitive_desc_t ro = make_reorder_pd(b, &dw_md, g_md, 1);
    x = add_exec(b, &b->p->bwd, ro);
    exec_arg(x, DNNL_ARG_FROM, dw);
    exec_arg(x, DNNL_ARG_TO, u->g_user);
    if (dx_slot < 0) return NULL;

    dnnl_memory_desc_t w_any = md_4d(u->cout, u->cin, u->k, u->k, e->dt, dnnl_format_tag_any);
    OD_CHECK(dnnl_convolution_backward_data_desc_init(&cd, OD_CONV_ALG, &f->src_md, &w_any,
                                                      &f->dst_md, st, pl, pr));
    dnnl_primitive_desc_t cdd = make_pd(b, &cd, 0, 0, f->conv, "convolution data gradient");
    if (b->failed) return NULL;
    dnnl_memory_desc_t w_md = pd_md(cdd, dnnl_query_weights_md);
    dnnl_memory_t dx = bind_slot(b, &f->src_md, dx_slot);
    x = add_exec(b, &b->p->bwd, cdd);
    exec_arg(x, DNNL_ARG_DIFF_DST, dc);
    exec_arg(x, DNNL_ARG_WEIGHTS, weights_for(b, u, &w_md, 0));
    exec_arg(x, DNNL_ARG_DIFF_SRC, dx);
    return dx;
}

/* dst = src0 + src1 (ReLU'd when relu), dst may be src0. */
static void add_binary(od_build *b, od_list *list, dnnl_memory_t src0,
                       const dnnl_memory_desc_t *md0, dnnl_memory_t src1,
                       const dnnl_memory_desc_t *md1, int relu) {
    if (b->failed) return;
    dnnl_binary_desc_t bd;
    OD_CHECK(dnnl_binary_desc_init(&bd, dnnl_binary_add, md0, md1, md0));
    dnnl_primitive_desc_t pd = make_pd(b, &bd, 0, relu, NULL, "a residual sum");
    od_exec *x = add_exec(b, list, pd);
    exec_arg(x, DNNL_ARG_SRC_0, src0);
    exec_arg(x, DNNL_ARG_SRC_1, src1);
    exec_arg(x, DNNL_ARG_DST, src0);
}

/* The pooling pd: max 3x3 s2 p1 or the global average. */
static dnnl_primitive_desc_t pool_fwd_pd(od_build *b, int max, int train,
                                         const dnnl_memory_desc_t *src, int B, int c, int hin) {
    int hout = max ? (hin + 2 - 3) / 2 + 1 : 1;
    dnnl_memory_desc_t dst = md_4d(B, c, hout, hout, b->e->dt, dnnl_format_tag_any);
    dnnl_dims_t st = {max ? 2 : 1, max ? 2 : 1}, k = {max ? 3 : hin, max ? 3 : hin}, dil = {0, 0},
                pl = {max ? 1 : 0, max ? 1 : 0};
    dnnl_dims_t pr = {(hout - 1) * st[0] + k[0] - hin - pl[0],
                      (hout - 1) * st[1] + k[1] - hin - pl[1]};
    dnnl_pooling_v2_desc_t pd_desc;
    OD_CHECK(dnnl_pooling_v2_forward_desc_init(
        &pd_desc, train ? dnnl_forward_training : dnnl_forward_inference,
        max ? dnnl_pooling_max : dnnl_pooling_avg_exclude_padding, src, &dst, st, k, dil, pl, pr));
    return make_pd(b, &pd_desc, 0, 0, NULL, "pooling");
}

static dnnl_primitive_desc_t pool_bwd_pd(od_build *b, int max, const dnnl_memory_desc_t *dsrc,
                                         const dnnl_memory_desc_t *ddst, int hin,
                                         const_dnnl_primitive_desc_t hint) {
    int hout = max ? (hin + 2 - 3) / 2 + 1 : 1;
    dnnl_dims_t st = {max ? 2 : 1, max ? 2 : 1}, k = {max ? 3 : hin, max ? 3 : hin}, dil = {0, 0},
                pl = {max ? 1 : 0, max ? 1 : 0};
    dnnl_dims_t pr = {(hout - 1) * st[0] + k[0] - hin - pl[0],
                      (hout - 1) * st[1] + k[1] - hin - pl[1]};
    dnnl_pooling_v2_desc_t pd_desc;
    OD_CHECK(dnnl_pooling_v2_backward_desc_init(
        &pd_desc, max ? dnnl_pooling_max : dnnl_pooling_avg_exclude_padding, dsrc, ddst, st, k, dil,
        pl, pr));
    return make_pd(b, &pd_desc, 0, 0, hint, "pooling backward");
}

/* The user-side memories: x (B,3,S,S), feats and dfeats (B,d,1,1), plain fp32; their
 * handles are set at each call. */
static dnnl_memory_t user_mem(od_build *b, int B, int c, int h) {
    dnnl_memory_desc_t md = md_4d(B, c, h, h, dnnl_f32, dnnl_nchw);
    return bind_ptr(b, &md, DNNL_MEMORY_NONE);
}

/* Reorder execution from -> to (memories with descriptors). */
static void add_reorder(od_build *b, od_list *list, dnnl_memory_t from, dnnl_memory_t to) {
    if (b->failed) return;
    const dnnl_memory_desc_t *fm = NULL, *tm = NULL;
    OD_CHECK(dnnl_memory_get_memory_desc(from, &fm));
    OD_CHECK(dnnl_memory_get_memory_desc(to, &tm));
    dnnl_primitive_desc_t pd = make_reorder_pd(b, fm, tm, 0);
    od_exec *x = add_exec(b, list, pd);
    exec_arg(x, DNNL_ARG_FROM, from);
    exec_arg(x, DNNL_ARG_TO, to);
}

/* Reorders x (nchw fp32) into conv1's chosen format in slot. */
static dnnl_memory_t input_reorder(od_build *b, od_plan *p, const dnnl_memory_desc_t *conv_src,
                                   int slot) {
    dnnl_memory_t xin = bind_slot(b, conv_src, slot);
    add_reorder(b, &p->fwd, p->x_user, xin);
    return xin;
}

/* The tail of both forward plans: the global average pool of the last block's output
 * (src, src_md) into S_POOL, reordered into the caller's feats. Returns the pool's
 * primitive descriptor (the hint of its backward) with its output's desc in *pool_md;
 * NULL when building failed (b->failed). */
static dnnl_primitive_desc_t add_avgpool(od_build *b, int train, int B,
                                         const dnnl_memory_desc_t *src_md, dnnl_memory_t src,
                                         dnnl_memory_desc_t *pool_md) {
    od_engine *e = b->e;
    od_plan *p = b->p;
    od_unit *ul = &e->units[e->blocks[7].ub];
    dnnl_primitive_desc_t ap = pool_fwd_pd(b, 0, train, src_md, B, 8 * e->width, ul->hout);
    if (b->failed) return NULL;
    *pool_md = pd_md(ap, dnnl_query_dst_md);
    dnnl_memory_t pool = bind_slot(b, pool_md, S_POOL);
    od_exec *x = add_exec(b, &p->fwd, ap);
    exec_arg(x, DNNL_ARG_SRC, src);
    exec_arg(x, DNNL_ARG_DST, pool);
    add_reorder(b, &p->fwd, pool, p->feats_user);
    return ap;
}

static void build_train(od_build *b, int B) {
    od_engine *e = b->e;
    od_plan *p = b->p;
    int d = 8 * e->width;
    od_unit_fwd f0, fa[8], fb[8], fd[8];
    memset(fd, 0, sizeof fd);
    p->x_user = user_mem(b, B, 3, e->size);
    p->feats_user = user_mem(b, B, d, 1);
    p->dfeats_user = user_mem(b, B, d, 1);

    /* conv1's own choice of input format decides the reorder: build its pd first. */
    od_unit *u0 = &e->units[0];
    dnnl_primitive_desc_t probe = conv_fwd_pd(b, u0, B, NULL, NULL, 1, 0, 0);
    if (b->failed) return;
    dnnl_memory_desc_t x_md = pd_md(probe, dnnl_query_src_md);
    dnnl_memory_t xin = input_reorder(b, p, &x_md, S_X);
    f0 = unit_train_fwd(b, 0, B, &x_md, xin, S_C0, S_A0, S_WS0);
    if (b->failed) return;

    dnnl_primitive_desc_t mp = pool_fwd_pd(b, 1, 1, &f0.dst_md, B, u0->cout, u0->hout);
    if (b->failed) return;
    dnnl_memory_desc_t p0_md = pd_md(mp, dnnl_query_dst_md);
    dnnl_memory_desc_t pws_md = pd_md(mp, dnnl_query_workspace_md);
    dnnl_memory_t p0 = bind_slot(b, &p0_md, S_P0), pws = bind_slot(b, &pws_md, S_PWS);
    od_exec *x = add_exec(b, &p->fwd, mp);
    exec_arg(x, DNNL_ARG_SRC, f0.a);
    exec_arg(x, DNNL_ARG_DST, p0);
    exec_arg(x, DNNL_ARG_WORKSPACE, pws);

    dnnl_memory_t t_in = p0, out[8];
    dnnl_memory_desc_t in_md[8], out_md[8];
    dnnl_memory_desc_t cur_md = p0_md;
    for (int bi = 0; bi < 8 && !b->failed; bi++) {
        od_block *bk = &e->blocks[bi];
        int base = S_BLOCKS + bi * B_NSLOTS;
        in_md[bi] = cur_md;
        fa[bi] =
            unit_train_fwd(b, bk->ua, B, &cur_md, t_in, base + B_CA, base + B_AA, base + B_WSA);
        if (b->failed) return;
        fb[bi] =
            unit_train_fwd(b, bk->ub, B, &fa[bi].dst_md, fa[bi].a, base + B_CB, base + B_OUT, -1);
        if (b->failed) return;
        out_md[bi] = fb[bi].dst_md;
        out[bi] = fb[bi].a;
        if (bk->ud >= 0) {
            fd[bi] = unit_train_fwd(b, bk->ud, B, &cur_md, t_in, base + B_CD, S_D3, -1);
            if (b->failed) return;
            add_binary(b, &p->fwd, out[bi], &out_md[bi], fd[bi].a, &fd[bi].dst_md, 1);
        } else {
            add_binary(b, &p->fwd, out[bi], &out_md[bi], t_in, &cur_md, 1);
        }
        t_in = out[bi];
        cur_md = out_md[bi];
    }
    if (b->failed) return;

    od_unit *ul = &e->units[e->blocks[7].ub];
    dnnl_memory_desc_t pool_md;
    dnnl_primitive_desc_t ap = add_avgpool(b, 1, B, &cur_md, t_in, &pool_md);
    if (b->failed) return;

    /* Backward. */
    dnnl_memory_t dpool = bind_slot(b, &pool_md, S_DPOOL);
    add_reorder(b, &p->bwd, p->dfeats_user, dpool);
    dnnl_primitive_desc_t apb = pool_bwd_pd(b, 0, &cur_md, &pool_md, ul->hout, ap);
    dnnl_memory_t g = bind_slot(b, &cur_md, S_D0);
    x = add_exec(b, &p->bwd, apb);
    exec_arg(x, DNNL_ARG_DIFF_DST, dpool);
    exec_arg(x, DNNL_ARG_DIFF_SRC, g);

    for (int bi = 7; bi >= 0 && !b->failed; bi--) {
        od_block *bk = &e->blocks[bi];
        /* ReLU of the block output, then the two branches. */
        dnnl_eltwise_desc_t ed;
        OD_CHECK(dnnl_eltwise_forward_desc_init(
            &ed, dnnl_forward_training, dnnl_eltwise_relu_use_dst_for_bwd, &out_md[bi], 0, 0));
        dnnl_primitive_desc_t rf = make_pd(b, &ed, 0, 0, NULL, "relu");
        OD_CHECK(dnnl_eltwise_backward_desc_init(&ed, dnnl_eltwise_relu_use_dst_for_bwd,
                                                 &out_md[bi], &out_md[bi], 0, 0));
        dnnl_primitive_desc_t rb = make_pd(b, &ed, 0, 0, rf, "relu backward");
        dnnl_memory_t gpre = bind_slot(b, &out_md[bi], S_D1);
        x = add_exec(b, &p->bwd, rb);
        exec_arg(x, DNNL_ARG_DIFF_DST, g);
        exec_arg(x, DNNL_ARG_DST, out[bi]);
        exec_arg(x, DNNL_ARG_DIFF_SRC, gpre);

        dnnl_memory_t da = unit_train_bwd(b, bk->ub, &fb[bi], gpre, S_D2, S_D0);
        dnnl_memory_t din = unit_train_bwd(b, bk->ua, &fa[bi], da, S_D2, S_D0);
        if (bk->ud >= 0) {
            dnnl_memory_t dds = unit_train_bwd(b, bk->ud, &fd[bi], gpre, S_D2, S_D3);
            add_binary(b, &p->bwd, din, &in_md[bi], dds, &in_md[bi], 0);
        } else {
            add_binary(b, &p->bwd, din, &in_md[bi], gpre, &out_md[bi], 0);
        }
        g = din;
    }
    if (b->failed) return;
    dnnl_primitive_desc_t mpb = pool_bwd_pd(b, 1, &f0.dst_md, &p0_md, u0->hout, mp);
    dnnl_memory_t da0 = bind_slot(b, &f0.dst_md, S_D1);
    x = add_exec(b, &p->bwd, mpb);
    exec_arg(x, DNNL_ARG_DIFF_DST, g);
    exec_arg(x, DNNL_ARG_WORKSPACE, pws);
    exec_arg(x, DNNL_ARG_DIFF_SRC, da0);
    unit_train_bwd(b, 0, &f0, da0, S_D0, -1);
}

/* Eval conv of unit u with folded BN: dst = [relu](conv(src) + bias [+ dst]). */
static dnnl_memory_desc_t eval_conv(od_build *b, int ui, int B, const dnnl_memory_desc_t *src_md,
                                    dnnl_memory_t src, const dnnl_memory_desc_t *dst_md,
                                    dnnl_memory_t dst_mem, int dst_slot, int post_sum,
                                    dnnl_memory_t *dst_out) {
    od_unit *u = &b->e->units[ui];
    dnnl_memory_desc_t none;
    memset(&none, 0, sizeof none);
    dnnl_primitive_desc_t pd =
        conv_fwd_pd(b, u, B, src_md, dst_md, 0, post_sum, u->relu || post_sum);
    if (b->failed) return none;
    dnnl_memory_desc_t w_md = pd_md(pd, dnnl_query_weights_md);
    dnnl_memory_desc_t d_md = pd_md(pd, dnnl_query_dst_md);
    dnnl_memory_t dst = dst_mem ? dst_mem : bind_slot(b, &d_md, dst_slot);
    od_exec *x = add_exec(b, &b->p->fwd, pd);
    exec_arg(x, DNNL_ARG_SRC, src);
    exec_arg(x, DNNL_ARG_WEIGHTS, weights_for(b, u, &w_md, 1));
    exec_arg(x, DNNL_ARG_BIAS, u->bias_mem);
    exec_arg(x, DNNL_ARG_DST, dst);
    *dst_out = dst;
    return d_md;
}

static void build_eval(od_build *b, int B) {
    od_engine *e = b->e;
    od_plan *p = b->p;
    int d = 8 * e->width;
    p->x_user = user_mem(b, B, 3, e->size);
    p->feats_user = user_mem(b, B, d, 1);

    od_unit *u0 = &e->units[0];
    dnnl_primitive_desc_t probe = conv_fwd_pd(b, u0, B, NULL, NULL, 0, 0, 1);
    if (b->failed) return;
    dnnl_memory_desc_t x_md = pd_md(probe, dnnl_query_src_md);
    dnnl_memory_t xin = input_reorder(b, p, &x_md, S_D2), a0;
    dnnl_memory_desc_t a0_md = eval_conv(b, 0, B, &x_md, xin, NULL, NULL, S_D0, 0, &a0);
    if (b->failed) return;

    dnnl_primitive_desc_t mp = pool_fwd_pd(b, 1, 0, &a0_md, B, u0->cout, u0->hout);
    if (b->failed) return;
    dnnl_memory_desc_t cur_md = pd_md(mp, dnnl_query_dst_md);
    int cur_slot = S_D1;
    dnnl_memory_t cur = bind_slot(b, &cur_md, cur_slot);
    od_exec *x = add_exec(b, &p->fwd, mp);
    exec_arg(x, DNNL_ARG_SRC, a0);
    exec_arg(x, DNNL_ARG_DST, cur);

    for (int bi = 0; bi < 8 && !b->failed; bi++) {
        od_block *bk = &e->blocks[bi];
        int free_slots[2], nf = 0;
        for (int s = S_D1; s <= S_D3; s++)
            if (s != cur_slot) free_slots[nf++] = s;
        dnnl_memory_t a, out;
        dnnl_memory_desc_t a_md =
            eval_conv(b, bk->ua, B, &cur_md, cur, NULL, NULL, free_slots[0], 0, &a);
        if (b->failed) return;
        if (bk->ud >= 0) {
            /* downsample into a fresh slot, then conv2 sums onto it */
            dnnl_memory_desc_t o_md =
                eval_conv(b, bk->ud, B, &cur_md, cur, NULL, NULL, free_slots[1], 0, &out);
            if (b->failed) return;
            eval_conv(b, bk->ub, B, &a_md, a, &o_md, out, -1, 1, &out);
            cur_md = o_md;
            cur_slot = free_slots[1];
        } else {
            /* identity: conv2 sums onto the block input in place */
            eval_conv(b, bk->ub, B, &a_md, a, &cur_md, cur, -1, 1, &out);
        }
        cur = out;
    }
    if (b->failed) return;
    dnnl_memory_desc_t pool_md;
    add_avgpool(b, 0, B, &cur_md, cur, &pool_md);
}

static void list_free(od_list *l) {
    for (int i = 0; i < l->n; i++) dnnl_primitive_destroy(l->v[i].prim);
    free(l->v);
}

static void plan_free(od_plan *p) {
    if (!p) return;
    list_free(&p->fwd);
    list_free(&p->bwd);
    for (int i = 0; i < p->n_bound; i++) dnnl_memory_destroy(p->bound[i].mem);
    free(p->bound);
    free(p);
}

int nn_onednn_failing_builds;

static od_plan *plan_build(od_engine *e, int B, int train) {
    od_build *b = xcalloc(1, sizeof *b);
    b->e = e;
    b->p = xcalloc(1, sizeof *b->p);
    b->p->B = B;
    b->p->train = train;
    if (nn_onednn_failing_builds > 0) {
        nn_onednn_failing_builds--;
        build_ok(b, dnnl_unimplemented, "the plan (a failure a test asked for)");
    } else if (train) {
        build_train(b, B);
    } else {
        build_eval(b, B);
    }
    for (int i = 0; i < b->n_pds; i++) dnnl_primitive_desc_destroy(b->pds[i]);
    od_plan *p = b->p;
    int failed = b->failed;
    free(b);
    if (failed) {
        plan_free(p);
        return NULL;
    }
    p->next = e->plans;
    e->plans = p;
    return p;
}

/* The cached plan for (B, train), built on first use; the least recently used
 * plan of another batch size goes when too many are cached. NULL (with the message
 * of plan_build) when it cannot be built: recoverable, the other plans stay. */
static od_plan *plan_get(od_engine *e, int B, int train) {
    SF_ASSERT(!train || !e->inference_only);
    od_plan *p;
    for (p = e->plans; p; p = p->next)
        if (p->B == B && p->train == train) break;
    if (!p) {
        int n = 0;
        for (od_plan *q = e->plans; q; q = q->next) n++;
        if (n >= OD_MAX_PLANS) {
            od_plan **victim = NULL;
            for (od_plan **q = &e->plans; *q; q = &(*q)->next)
                if ((*q)->B != e->max_batch && *q != e->last_train &&
                    (!victim || (*q)->last_used < (*victim)->last_used))
                    victim = q;
            if (victim) {
                od_plan *v = *victim;
                *victim = v->next;
                plan_free(v);
            }
        }
        p = plan_build(e, B, train);
        if (!p) return NULL;
    }
    p->last_used = ++e->clock;
    return p;
}

/* ---- running ----------------------------------------------------------------- */

static void run_list(od_engine *e, od_plan *p, od_list *l) {
    sfnet *m = e->m;
    for (int i = 0; i < l->n; i++) {
        od_exec *x = &l->v[i];
        OD_CHECK(dnnl_primitive_execute(x->prim, e->stream, x->nargs, x->args));
        if (x->hook == HOOK_NONE) continue;
        OD_CHECK(dnnl_stream_wait(e->stream));
        od_unit *u = &e->units[x->unit];
        if (x->hook == HOOK_BN_STATS) {
            /* PyTorch: running = (1 - momentum) running + momentum * batch, with the
             * unbiased variance (n / (n - 1)) for the running one. */
            double n = (double)p->B * u->hout * u->hout;
            float corr = n > 1 ? (float)(n / (n - 1)) : 1.0f;
            float *rm = m->buffers + u->mean_off, *rv = m->buffers + u->var_off;
            for (int c = 0; c < u->cout; c++) {
                rm[c] = (1 - OD_MOMENTUM) * rm[c] + OD_MOMENTUM * u->batch_mean[c];
                rv[c] = (1 - OD_MOMENTUM) * rv[c] + OD_MOMENTUM * u->batch_var[c] * corr;
            }
        } else {
            float *gg = m->grads + u->gamma_off, *gb = m->grads + u->beta_off;
            for (int c = 0; c < u->cout; c++) {
                gg[c] += u->dscale[c];
                gb[c] += u->dshift[c];
            }
        }
    }
    OD_CHECK(dnnl_stream_wait(e->stream));
}

static int od_forward(nn_engine *ne, sfnet *m, const float *x, int B, int train, float *feats) {
    od_engine *e = (od_engine *)ne;
    SF_ASSERT(m == e->m && B >= 1 && B <= e->max_batch);
    od_plan *p = plan_get(e, B, train);
    if (!p) {
        char why[512];
        snprintf(why, sizeof why, "%s", sf_last_error());
        return sf_fail("batches of %d: %s", B, why);
    }
    if (train && e->raw_dirty) weights_refresh(e, 0);
    if (!train && e->fold_dirty) weights_refresh(e, 1);
    OD_CHECK(dnnl_memory_set_data_handle(p->x_user, (void *)x));
    OD_CHECK(dnnl_memory_set_data_handle(p->feats_user, feats));
    run_list(e, p, &p->fwd);
    if (train) {
        e->last_train = p;
        e->fold_dirty = 1; /* the running statistics moved */
    }
    return SF_OK;
}

static void od_backward(nn_engine *ne, sfnet *m, const float *dfeats, int B) {
    od_engine *e = (od_engine *)ne;
    SF_ASSERT(!e->inference_only);
    od_plan *p = e->last_train;
    SF_ASSERT(m == e->m && p && p->B == B);
    if (e->raw_dirty) weights_refresh(e, 0);
    OD_CHECK(dnnl_memory_set_data_handle(p->dfeats_user, (void *)dfeats));
    run_list(e, p, &p->bwd);
}

static void od_params_changed(nn_engine *ne, sfnet *m) {
    od_engine *e = (od_engine *)ne;
    SF_ASSERT(m == e->m);
    e->raw_dirty = 1;
    e->fold_dirty = 1;
}

static void od_free(nn_engine *ne) {
    od_engine *e = (od_engine *)ne;
    if (!e) return;
    while (e->plans) {
        od_plan *p = e->plans;
        e->plans = p->next;
        plan_free(p);
    }
    for (int i = 0; i < e->n_units; i++) {
        od_unit *u = &e->units[i];
        for (int j = 0; j < u->n_var; j++) {
            dnnl_primitive_destroy(u->var[j].reorder);
            dnnl_memory_destroy(u->var[j].mem);
            if (u->var[j].scratch) dnnl_memory_destroy(u->var[j].scratch);
            free(u->var[j].data);
        }
        dnnl_memory_t mems[] = {u->w_user,  u->g_user,     u->gamma_mem,  u->beta_mem, u->mean_mem,
                                u->var_mem, u->dscale_mem, u->dshift_mem, u->bias_mem, u->wf_user};
        for (size_t j = 0; j < sizeof mems / sizeof mems[0]; j++)
            if (mems[j]) dnnl_memory_destroy(mems[j]);
        free(u->batch_mean);
        free(u->batch_var);
        free(u->fold_bias);
        free(u->dscale);
        free(u->dshift);
    }
    for (int i = 0; i < OD_NSLOTS; i++) free(e->slots[i].ptr);
    free(e->fold_w);
    if (e->stream) dnnl_stream_destroy(e->stream);
    if (e->eng) dnnl_engine_destroy(e->eng);
    free(e);
}

static const nn_engine_ops od_ops = {od_forward, od_backward, od_params_changed, od_free};

/* ---- creation ------------------------------------------------------------------ */

static const sfnet_tensor *find_tensor(const sfnet *m, const char *name) {
    for (int i = 0; i < m->n_tensors; i++) {
        const char *n = m->tensors[i].name;
        if (strncmp(n, "resnet.", 7) == 0) n += 7;
        if (strcmp(n, name) == 0) return &m->tensors[i];
    }
    return NULL;
}

/* Fills unit u from the tensors "<conv>.weight" and "<bn>.{weight,bias,running_*}". */
static int unit_init(od_engine *e, od_unit *u, const char *conv, const char *bn, int cin, int cout,
                     int k, int stride, int hin, int relu) {
    sfnet *m = e->m;
    snprintf(u->name, sizeof u->name, "%s", conv);
    u->cin = cin;
    u->cout = cout;
    u->k = k;
    u->stride = stride;
    u->pad = k / 2;
    u->hin = hin;
    u->hout = (hin + 2 * u->pad - k) / stride + 1;
    u->relu = relu;
    const char *suffix[5] = {"weight", "weight", "bias", "running_mean", "running_var"};
    size_t *off[5] = {&u->w_off, &u->gamma_off, &u->beta_off, &u->mean_off, &u->var_off};
    size_t numel[5] = {(size_t)cout * cin * k * k, (size_t)cout, (size_t)cout, (size_t)cout,
                       (size_t)cout};
    for (int i = 0; i < 5; i++) {
        char name[96];
        snprintf(name, sizeof name, "%s.%s", i == 0 ? conv : bn, suffix[i]);
        const sfnet_tensor *t = find_tensor(m, name);
        if (!t) return sf_fail("onednn engine: the model has no tensor %s", name);
        if (t->numel != numel[i] || t->is_buffer != (i >= 3))
            return sf_fail("onednn engine: tensor %s has %zu values, expected %zu", name, t->numel,
                           numel[i]);
        *off[i] = t->offset;
    }
    u->fold_bias = xcalloc((size_t)cout, sizeof(float));
    dnnl_memory_desc_t w_md = md_4d(cout, cin, k, k, dnnl_f32, dnnl_oihw), c_md = md_1d(cout);
    OD_CHECK(dnnl_memory_create(&u->w_user, &w_md, e->eng, m->params + u->w_off));
    OD_CHECK(dnnl_memory_create(&u->bias_mem, &c_md, e->eng, u->fold_bias));
    if (e->inference_only) return SF_OK;
    /* what the training plan binds */
    u->batch_mean = xcalloc((size_t)cout, sizeof(float));
    u->batch_var = xcalloc((size_t)cout, sizeof(float));
    u->dscale = xcalloc((size_t)cout, sizeof(float));
    u->dshift = xcalloc((size_t)cout, sizeof(float));
    OD_CHECK(dnnl_memory_create(&u->g_user, &w_md, e->eng, m->grads + u->w_off));
    OD_CHECK(dnnl_memory_create(&u->gamma_mem, &c_md, e->eng, m->params + u->gamma_off));
    OD_CHECK(dnnl_memory_create(&u->beta_mem, &c_md, e->eng, m->params + u->beta_off));
    OD_CHECK(dnnl_memory_create(&u->mean_mem, &c_md, e->eng, u->batch_mean));
    OD_CHECK(dnnl_memory_create(&u->var_mem, &c_md, e->eng, u->batch_var));
    OD_CHECK(dnnl_memory_create(&u->dscale_mem, &c_md, e->eng, u->dscale));
    OD_CHECK(dnnl_memory_create(&u->dshift_mem, &c_md, e->eng, u->dshift));
    return SF_OK;
}

nn_engine *nn_onednn_create(sfnet *m) {
    const sfnet_config *cfg = &m->cfg;
    if (cfg->width < 1 || cfg->in_size < 32 || m->max_batch < 1)
        return sf_fail("onednn engine: needs width >= 1, input size >= 32 and a batch "
                       "(width %d, input %d, batch %d)",
                       cfg->width, cfg->in_size, m->max_batch),
               NULL;
    if (!m->params || !m->buffers || (!m->grads && !cfg->inference_only))
        return sf_fail("onednn engine: the model's parameters are not allocated"), NULL;
    od_engine *e = xcalloc(1, sizeof *e);
    e->base.ops = &od_ops;
    e->base.kind = NN_ENGINE_ONEDNN;
    e->m = m;
    e->inference_only = cfg->inference_only;
    e->width = cfg->width;
    e->size = cfg->in_size;
    e->max_batch = m->max_batch;
    e->dt = cfg->precision == NN_PRECISION_BF16 ? dnnl_bf16 : dnnl_f32;
    if (dnnl_engine_create(&e->eng, dnnl_cpu, 0) != dnnl_success ||
        dnnl_stream_create(&e->stream, e->eng, dnnl_stream_default_flags) != dnnl_success) {
        od_free(&e->base);
        return sf_fail("onednn engine: cannot create a oneDNN CPU engine"), NULL;
    }

    int w = cfg->width, h = cfg->in_size;
    int ok = unit_init(e, &e->units[e->n_units++], "conv1", "bn1", 3, w, 7, 2, h, 1) == SF_OK;
    h = (h + 6 - 7) / 2 + 1; /* conv1 */
    h = (h + 2 - 3) / 2 + 1; /* maxpool */
    int cin = w;
    for (int layer = 1; layer <= 4 && ok; layer++) {
        int cout = w << (layer - 1);
        for (int i = 0; i < 2 && ok; i++) {
            int stride = (layer > 1 && i == 0) ? 2 : 1;
            int c_in = i == 0 ? cin : cout;
            od_block *bk = &e->blocks[(layer - 1) * 2 + i];
            char conv[48], bn[48];
            bk->ua = e->n_units;
            snprintf(conv, sizeof conv, "layer%d.%d.conv1", layer, i);
            snprintf(bn, sizeof bn, "layer%d.%d.bn1", layer, i);
            ok = ok && unit_init(e, &e->units[e->n_units++], conv, bn, c_in, cout, 3, stride, h,
                                 1) == SF_OK;
            int hout = (h + 2 - 3) / stride + 1;
            bk->ub = e->n_units;
            snprintf(conv, sizeof conv, "layer%d.%d.conv2", layer, i);
            snprintf(bn, sizeof bn, "layer%d.%d.bn2", layer, i);
            ok = ok && unit_init(e, &e->units[e->n_units++], conv, bn, cout, cout, 3, 1, hout, 0) ==
                           SF_OK;
            bk->ud = -1;
            if (stride != 1 || c_in != cout) {
                bk->ud = e->n_units;
                snprintf(conv, sizeof conv, "layer%d.%d.downsample.0", layer, i);
                snprintf(bn, sizeof bn, "layer%d.%d.downsample.1", layer, i);
                ok = ok && unit_init(e, &e->units[e->n_units++], conv, bn, c_in, cout, 1, stride, h,
                                     0) == SF_OK;
            }
            h = hout;
        }
        cin = cout;
    }
    if (ok) {
        size_t most = 0;
        for (int i = 0; i < e->n_units; i++) {
            od_unit *u = &e->units[i];
            size_t n = (size_t)u->cout * u->cin * u->k * u->k;
            most = n > most ? n : most;
        }
        e->fold_w = xmalloc_aligned(most * sizeof(float));
        for (int i = 0; i < e->n_units; i++) {
            od_unit *u = &e->units[i];
            dnnl_memory_desc_t w_md = md_4d(u->cout, u->cin, u->k, u->k, dnnl_f32, dnnl_oihw);
            OD_CHECK(dnnl_memory_create(&u->wf_user, &w_md, e->eng, e->fold_w));
        }
    }
    e->raw_dirty = e->fold_dirty = 1;
    /* The eval plan for max_batch now: it proves the configuration runs here. */
    if (!ok || !plan_build(e, e->max_batch, 0)) {
        od_free(&e->base);
        return NULL;
    }
    return &e->base;
}
