/* nn_onednn.h: the oneDNN backbone engine (NN_ENGINE_ONEDNN).
 *
 * Runs the whole resnet18 backbone of an sfnet on oneDNN (libdnnl, C API) in the
 * blocked memory formats its primitives choose, from the input reorder to the
 * pooled features: conv, batch norm (+ fused ReLU), max/avg pooling, residual adds,
 * forward in training and eval mode and backward to every weight. Training runs
 * conv -> BN (batch statistics, running averages updated as PyTorch does) -> ReLU;
 * eval folds each BN into its convolution (bias + ReLU/sum post-ops).
 *
 * Backward differentiates the last training forward (an eval forward in between does
 * not disturb it); unlike the reference engine it cannot differentiate an eval forward.
 *
 * cfg.precision NN_PRECISION_BF16 runs every activation and convolution in bf16 with
 * fp32 weights kept in m->params, fp32 BN statistics and fp32 weight gradients. On
 * AVX512_BF16 without AMX it halves the memory but runs at about half the fp32 speed
 * (fp32 uses Winograd kernels on the 3x3 layers, bf16 has none): fp32 is the default.
 *
 * Ownership: the engine keeps pointers to m->params, m->grads and m->buffers (they
 * must not move) and owns every primitive and buffer; an inference_only model has no
 * grads and gets the eval primitives and buffers alone. Primitives for a batch size are
 * built on its first use (max_batch at creation) and cached; a build that fails there
 * makes that forward return SF_ERR, the engine staying usable. Buffers are sized once
 * and shared between batch sizes. The caller frees the engine with e->ops->free(e).
 */
#ifndef SF_NN_ONEDNN_H
#define SF_NN_ONEDNN_H

#include "nn_model.h"

/* The engine for m (m->cfg, m->max_batch, m->tensors must be set); NULL with
 * sf_fail() when the configuration cannot run on this CPU (e.g. bf16 without
 * AVX-512) or a tensor is missing from m->tensors. */
nn_engine *nn_onednn_create(sfnet *m);

/* For tests: the next n plan builds fail as a refusal by oneDNN does (a forward at a
 * new batch size then returns SF_ERR). 0 in normal use. */
extern int nn_onednn_failing_builds;

#endif
