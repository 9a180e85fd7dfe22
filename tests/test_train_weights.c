/* Tests of weights files: save/load round trip, the reference model's names, backbone
 * only loading, clear errors on shape and name mismatches and bad metadata, and, with
 * PyTorch (/usr/bin/python3), that our file loads into torchvision's resnet18 with
 * load_state_dict(strict=True) and gives our outputs, and that share/convert_pth.py
 * output loads here and gives PyTorch's outputs. The PyTorch parts skip, saying so,
 * when torch is absent. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "safetensors.h"
#include "sf_util.h"
#include "train.h"

static char tmpdir[256];
static void make_tmpdir(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/sf_test_weights_XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
}
static void remove_tmpdir(void) {
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    cr_assert_eq(system(cmd), 0);
}
TestSuite(weights, .init = make_tmpdir, .fini = remove_tmpdir);

static const char *path_in(const char *name) {
    static char p[2][400];
    static int w;
    w ^= 1;
    snprintf(p[w], sizeof p[w], "%s/%s", tmpdir, name);
    return p[w];
}

static sfnet *model(int width, int k, int n_out, int in_size, int batch, uint64_t seed) {
    sfnet_config cfg = {.width = width, .k = k, .n_out = n_out, .in_size = in_size};
    sfnet *m = sfnet_create(&cfg, batch, NN_ENGINE_REFERENCE);
    cr_assert_not_null(m, "%s", sf_last_error());
    sfnet_init(m, seed);
    return m;
}

static void random_input(float *x, size_t n, uint64_t seed) {
    sf_rng r;
    sf_rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++) x[i] = (float)sf_rng_normal(&r);
}

/* Two train-mode forwards, so that the BN running statistics are not their init. */
static void stir_running_stats(sfnet *m, int B) {
    size_t n = (size_t)B * 3 * m->cfg.in_size * m->cfg.in_size;
    float *x = xmalloc(n * sizeof(float));
    random_input(x, n, 99);
    sfnet_forward(m, x, B, 1);
    sfnet_forward(m, x, B, 1);
    free(x);
}

static weights_meta full_meta(const sfnet *m) {
    weights_meta wm;
    weights_meta_from(&wm, m, NULL, -1);
    wm.resize = 40;
    wm.crop = m->cfg.in_size;
    wm.has_norm = 1;
    for (int c = 0; c < 3; c++) wm.mean[c] = 0.1f * (float)c, wm.std[c] = 0.2f + 0.1f * (float)c;
    wm.n_targets = m->cfg.n_out;
    for (int t = 0; t < wm.n_targets; t++) snprintf(wm.targets[t], 64, "target_%d", t);
    return wm;
}

Test(weights, round_trip_restores_every_tensor_and_the_metadata) {
    sfnet *a = model(4, 2, 2, 32, 2, 1);
    stir_running_stats(a, 2);
    weights_meta wm = full_meta(a);
    const char *p = path_in("a.safetensors");
    cr_assert_eq(weights_save(a, &wm, p), SF_OK, "%s", sf_last_error());

    sfnet *b = model(4, 2, 2, 32, 2, 2);
    cr_assert_eq(weights_load(b, p, 0), SF_OK, "%s", sf_last_error());
    cr_assert_eq(memcmp(a->params, b->params, a->n_params * sizeof(float)), 0);
    cr_assert_eq(memcmp(a->buffers, b->buffers, a->n_buffers * sizeof(float)), 0);
    cr_assert_eq(b->num_batches_tracked, 2);

    weights_meta back;
    cr_assert_eq(weights_read_meta(p, &back), SF_OK, "%s", sf_last_error());
    cr_assert_eq(back.width, 4);
    cr_assert_eq(back.k, 2);
    cr_assert_eq(back.n_out, 2);
    cr_assert_eq(back.in_size, 32);
    cr_assert_eq(back.resize, 40);
    cr_assert_eq(back.crop, 32);
    cr_assert(back.has_norm);
    cr_assert_float_eq(back.std[2], 0.4f, 1e-7);
    cr_assert_eq(back.n_targets, 2);
    cr_assert_str_eq(back.targets[1], "target_1");

    /* every BN layer gets a num_batches_tracked, as in PyTorch */
    st_file f;
    cr_assert_eq(st_open(&f, p), SF_OK);
    const st_tensor *t = st_find(&f, "layer3.0.downsample.1.num_batches_tracked");
    cr_assert_not_null(t);
    cr_assert_eq(t->dtype, ST_I64);
    cr_assert_eq(f.n_tensors, a->n_tensors + 20); /* resnet18 has 20 BN layers */
    st_close(&f);

    sfnet *c = weights_load_model(p, NULL, 3, NN_ENGINE_REFERENCE, 0, &back);
    cr_assert_not_null(c, "%s", sf_last_error());
    cr_assert_eq(c->cfg.k, 2);
    cr_assert_eq(c->max_batch, 3);
    cr_assert_eq(memcmp(a->params, c->params, a->n_params * sizeof(float)), 0);
    sfnet_free(a);
    sfnet_free(b);
    sfnet_free(c);
}

/* The weights a run database keeps: made in memory, and loaded from their bytes as
 * from the file weights_save writes. */
Test(weights, in_memory_file_loads_as_the_saved_one) {
    sfnet *a = model(4, 2, 2, 32, 2, 1);
    stir_running_stats(a, 2);
    weights_meta wm = full_meta(a);
    uint8_t *data;
    size_t len;
    weights_save_mem(a, &wm, &data, &len);
    const char *p = path_in("mem.safetensors");
    cr_assert_eq(weights_save(a, &wm, p), SF_OK, "%s", sf_last_error());
    char *disk;
    size_t disk_len;
    cr_assert_eq(sf_read_file(p, &disk, &disk_len), SF_OK);
    cr_assert_eq(disk_len, len);
    cr_assert_eq(memcmp(disk, data, len), 0);
    free(disk);
    st_file f;
    cr_assert_eq(st_parse(&f, "stored weights", data, len), SF_OK, "%s", sf_last_error());
    weights_meta back;
    sfnet *c = weights_load_model_from(&f, NULL, 3, NN_ENGINE_REFERENCE, 1, &back);
    cr_assert_not_null(c, "%s", sf_last_error());
    cr_assert_eq(back.resize, 40);
    cr_assert_eq(c->cfg.k, 2);
    cr_assert_eq(memcmp(a->params, c->params, a->n_params * sizeof(float)), 0);
    cr_assert_eq(memcmp(a->buffers, c->buffers, a->n_buffers * sizeof(float)), 0);
    sfnet_free(c);
    /* a message names the label given to the bytes */
    weights_meta ov;
    weights_meta_clear(&ov);
    ov.crop = 24;
    cr_assert_null(weights_load_model_from(&f, &ov, 3, NN_ENGINE_REFERENCE, 1, NULL));
    cr_assert(strstr(sf_last_error(), "stored weights"), "%s", sf_last_error());
    st_close(&f);
    sfnet_free(a);
}

/* What predict loads: an inference-only model of the file, on either engine, with no
 * gradients and the eval outputs of the model that was saved. */
Test(weights, inference_only_load_gives_the_saved_model_s_outputs, .timeout = 120) {
    sfnet *a = model(8, 2, 2, 40, 3, 5);
    stir_running_stats(a, 3);
    weights_meta wm = full_meta(a);
    const char *p = path_in("infer.safetensors");
    cr_assert_eq(weights_save(a, &wm, p), SF_OK, "%s", sf_last_error());
    size_t n = (size_t)3 * 3 * 40 * 40;
    float *x = xmalloc(n * sizeof(float));
    random_input(x, n, 6);
    sfnet_forward(a, x, 3, 0);
    nn_engine_kind engines[2] = {NN_ENGINE_REFERENCE, NN_ENGINE_ONEDNN};
    for (int e = 0; e < 2; e++) {
        sfnet *full = weights_load_model(p, NULL, 3, engines[e], 0, NULL);
        sfnet *inf = weights_load_model(p, NULL, 3, engines[e], 1, NULL);
        cr_assert(full && inf, "%s", sf_last_error());
        cr_assert(inf->cfg.inference_only);
        cr_assert_null(inf->grads);
        cr_assert_eq(memcmp(inf->params, a->params, a->n_params * sizeof(float)), 0);
        sfnet_forward(full, x, 3, 0);
        sfnet_forward(inf, x, 3, 0);
        cr_assert_eq(memcmp(inf->out, full->out, 3 * 2 * sizeof(float)), 0, "%s: %.9g vs %.9g",
                     nn_engine_name(engines[e]), inf->out[0], full->out[0]);
        cr_assert_eq(memcmp(inf->topk_idx, full->topk_idx, 3 * 2 * sizeof(int)), 0);
        if (engines[e] == NN_ENGINE_REFERENCE)
            cr_assert_eq(memcmp(inf->out, a->out, 3 * 2 * sizeof(float)), 0);
        else /* another engine: the same model within rounding */
            for (int i = 0; i < 6; i++)
                cr_assert_float_eq(inf->out[i], a->out[i], 1e-4 * (1 + fabsf(a->out[i])));
        sfnet_free(full);
        sfnet_free(inf);
    }
    free(x);
    sfnet_free(a);
}

/* Writes m's tensors under the reference model's names: resnet.*, trunk.* copies. */
static void save_reference_style(sfnet *m, const char *p, int with_trunk) {
    st_writer w;
    st_writer_init(&w);
    char name[128];
    for (int i = 0; i < m->n_tensors; i++) {
        const sfnet_tensor *t = &m->tensors[i];
        int64_t shape[4] = {t->shape[0], t->shape[1], t->shape[2], t->shape[3]};
        snprintf(name, sizeof name, "resnet.%s", t->name);
        st_writer_add(&w, name, ST_F32, t->ndim, shape, sfnet_tensor_data(m, t));
        if (with_trunk && !strcmp(t->name, "conv1.weight"))
            st_writer_add(&w, "trunk.0.weight", ST_F32, t->ndim, shape, sfnet_tensor_data(m, t));
    }
    cr_assert_eq(st_writer_save(&w, p), SF_OK);
    st_writer_free(&w);
}

Test(weights, reference_names_load_and_missing_k_is_asked_for) {
    sfnet *a = model(4, 3, 1, 32, 2, 3);
    const char *p = path_in("ref.safetensors");
    save_reference_style(a, p, 1);
    sfnet *b = model(4, 3, 1, 32, 2, 4);
    cr_assert_eq(weights_load(b, p, 0), SF_OK, "%s", sf_last_error());
    cr_assert_eq(memcmp(a->params, b->params, a->n_params * sizeof(float)), 0);

    /* no metadata at all: width and n_out come from the shapes, k must be given */
    cr_assert_null(weights_load_model(p, NULL, 2, NN_ENGINE_REFERENCE, 0, NULL));
    cr_assert(strstr(sf_last_error(), "--k"), "%s", sf_last_error());
    cr_assert(strstr(sf_last_error(), "ref.safetensors"), "%s", sf_last_error());
    weights_meta ov;
    weights_meta_clear(&ov);
    ov.k = 3;
    cr_assert_null(weights_load_model(p, &ov, 2, NN_ENGINE_REFERENCE, 0, NULL));
    cr_assert(strstr(sf_last_error(), "--crop"), "%s", sf_last_error());
    ov.crop = ov.in_size = 32;
    ov.resize = 36;
    cr_assert_null(weights_load_model(p, &ov, 2, NN_ENGINE_REFERENCE, 0, NULL));
    cr_assert(strstr(sf_last_error(), "--mean"), "%s", sf_last_error());
    ov.has_norm = 1;
    for (int c = 0; c < 3; c++) ov.mean[c] = 0.5f, ov.std[c] = 0.25f;
    weights_meta used;
    sfnet *c = weights_load_model(p, &ov, 2, NN_ENGINE_REFERENCE, 0, &used);
    cr_assert_not_null(c, "%s", sf_last_error());
    cr_assert_eq(used.width, 4);
    cr_assert_eq(used.n_out, 1);
    cr_assert_eq(c->cfg.k, 3);
    sfnet_free(a);
    sfnet_free(b);
    sfnet_free(c);
}

Test(weights, backbone_only_keeps_the_head_and_full_load_names_the_mismatch) {
    sfnet *imagenet = model(4, 0, 1000, 32, 1, 5); /* torchvision-like 1000-class fc */
    weights_meta wm;
    weights_meta_from(&wm, imagenet, NULL, -1);
    const char *p = path_in("imagenet.safetensors");
    cr_assert_eq(weights_save(imagenet, &wm, p), SF_OK);

    sfnet *m = model(4, 4, 1, 32, 1, 6);
    const sfnet_tensor *fc = sfnet_find_tensor(m, "fc.weight");
    float *head = xmalloc(fc->numel * sizeof(float));
    memcpy(head, sfnet_tensor_data(m, fc), fc->numel * sizeof(float));
    cr_assert_eq(weights_load(m, p, 1), SF_OK, "%s", sf_last_error());
    cr_assert_eq(memcmp(head, sfnet_tensor_data(m, fc), fc->numel * sizeof(float)), 0);
    const sfnet_tensor *c1 = sfnet_find_tensor(m, "layer4.1.conv2.weight");
    cr_assert_eq(memcmp(sfnet_tensor_data(imagenet, sfnet_find_tensor(imagenet, c1->name)),
                        sfnet_tensor_data(m, c1), c1->numel * sizeof(float)),
                 0);

    cr_assert_eq(weights_load(m, p, 0), SF_ERR);
    const char *e = sf_last_error();
    cr_assert(strstr(e, "imagenet.safetensors") && strstr(e, "fc.weight") &&
                  strstr(e, "[1000, 32]") && strstr(e, "[1, 32]"),
              "%s", e);
    free(head);
    sfnet_free(imagenet);
    sfnet_free(m);
}

Test(weights, wrong_width_missing_and_unknown_tensors_are_clear_errors) {
    sfnet *a = model(4, 2, 1, 32, 1, 7);
    weights_meta wm;
    weights_meta_from(&wm, a, NULL, -1);
    const char *p = path_in("w4.safetensors");
    cr_assert_eq(weights_save(a, &wm, p), SF_OK);
    sfnet *b = model(8, 2, 1, 32, 1, 8);
    cr_assert_eq(weights_load(b, p, 0), SF_ERR);
    cr_assert(strstr(sf_last_error(), "conv1.weight") && strstr(sf_last_error(), "--width"), "%s",
              sf_last_error());

    /* one tensor missing, then one foreign tensor */
    st_writer w;
    st_writer_init(&w);
    for (int i = 0; i < a->n_tensors; i++) {
        const sfnet_tensor *t = &a->tensors[i];
        if (!strcmp(t->name, "layer2.1.bn2.bias")) continue;
        int64_t shape[4] = {t->shape[0], t->shape[1], t->shape[2], t->shape[3]};
        st_writer_add(&w, t->name, ST_F32, t->ndim, shape, sfnet_tensor_data(a, t));
    }
    const char *q = path_in("missing.safetensors");
    cr_assert_eq(st_writer_save(&w, q), SF_OK);
    cr_assert_eq(weights_load(a, q, 0), SF_ERR);
    cr_assert(strstr(sf_last_error(), "layer2.1.bn2.bias") && strstr(sf_last_error(), "missing"),
              "%s", sf_last_error());
    float junk[2] = {0};
    st_writer_add(&w, "layer2.1.bn2.bias", ST_F32, 1, (int64_t[]){4 * 2},
                  sfnet_tensor_data(a, sfnet_find_tensor(a, "layer2.1.bn2.bias")));
    st_writer_add(&w, "head2.weight", ST_F32, 1, (int64_t[]){2}, junk);
    cr_assert_eq(st_writer_save(&w, q), SF_OK);
    cr_assert_eq(weights_load(a, q, 0), SF_ERR);
    cr_assert(strstr(sf_last_error(), "head2.weight") && strstr(sf_last_error(), "not part"), "%s",
              sf_last_error());
    st_writer_free(&w);
    sfnet_free(a);
    sfnet_free(b);
}

Test(weights, bad_metadata_is_named) {
    float x = 1;
    const char *bad[][2] = {{"k", "four"},         {"width", "-3"},
                            {"mean", "[1,2]"},     {"std", "[1,0,1]"},
                            {"targets", "oh_p50"}, {"format", "sfnet-explore-weights-9"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        st_writer w;
        st_writer_init(&w);
        st_writer_add(&w, "x", ST_F32, 1, (int64_t[]){1}, &x);
        st_writer_meta(&w, bad[i][0], bad[i][1]);
        if (!strcmp(bad[i][0], "std")) st_writer_meta(&w, "mean", "[0,0,0]");
        const char *p = path_in("meta.safetensors");
        cr_assert_eq(st_writer_save(&w, p), SF_OK);
        st_writer_free(&w);
        weights_meta wm;
        cr_assert_eq(weights_read_meta(p, &wm), SF_ERR, "metadata %s=%s accepted", bad[i][0],
                     bad[i][1]);
        cr_assert(strstr(sf_last_error(), "meta.safetensors") && strstr(sf_last_error(), bad[i][0]),
                  "%s", sf_last_error());
    }
}

static const char *python(void) {
    const char *p = getenv("PYTHON");
    return p && *p ? p : "/usr/bin/python3";
}

static int have_torch(void) {
    char cmd[300];
    snprintf(cmd, sizeof cmd, "%s -c 'import torch, torchvision' >/dev/null 2>&1", python());
    return access("tests/torch_check.py", R_OK) == 0 && system(cmd) == 0;
}

Test(weights, our_file_loads_strictly_in_pytorch_with_the_same_outputs) {
    if (!have_torch())
        cr_skip_test("%s has no torch/torchvision (or not run from the source tree): "
                     "PyTorch load test skipped",
                     python());
    /* torchvision's resnet18 exactly: width 64, on a small input to stay quick */
    const int B = 2, S = 48;
    sfnet *m = model(64, 4, 3, S, B, 11);
    stir_running_stats(m, B);
    size_t n = (size_t)B * 3 * S * S;
    float *x = xmalloc(n * sizeof(float));
    random_input(x, n, 12);
    sfnet_forward(m, x, B, 0);
    weights_meta wm = full_meta(m);
    const char *p = path_in("ours.safetensors");
    cr_assert_eq(weights_save(m, &wm, p), SF_OK);

    st_writer w;
    st_writer_init(&w);
    st_writer_add(&w, "x", ST_F32, 4, (int64_t[]){B, 3, S, S}, x);
    st_writer_add(&w, "out", ST_F32, 2, (int64_t[]){B, 3}, m->out);
    st_writer_add(&w, "topk", ST_I32, 2, (int64_t[]){B, 4}, m->topk_idx);
    const char *io = path_in("io.safetensors");
    cr_assert_eq(st_writer_save(&w, io), SF_OK);
    st_writer_free(&w);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "cd tests && %s torch_check.py load %s/ours.safetensors %s", python(),
             tmpdir, io);
    cr_assert_eq(system(cmd), 0, "PyTorch did not load our file or gave other outputs");
    free(x);
    sfnet_free(m);
}

Test(weights, converted_reference_pth_gives_pytorch_outputs) {
    if (!have_torch())
        cr_skip_test("%s has no torch/torchvision: convert_pth.py test skipped", python());
    char cmd[1500];
    snprintf(cmd, sizeof cmd,
             "cd tests && %s torch_check.py make-pth %s/ref.pth %s/io.safetensors 8 2 3 && "
             "%s ../share/convert_pth.py %s/ref.pth %s/conv.safetensors --k 3 "
             "--targets a,b >/dev/null",
             python(), tmpdir, tmpdir, python(), tmpdir, tmpdir);
    cr_assert_eq(system(cmd), 0, "%s", cmd);
    weights_meta ov;
    weights_meta_clear(&ov);
    ov.crop = ov.in_size = 32;
    ov.resize = 32;
    ov.has_norm = 1;
    for (int c = 0; c < 3; c++) ov.mean[c] = 0, ov.std[c] = 1;
    weights_meta used;
    sfnet *m =
        weights_load_model(path_in("conv.safetensors"), &ov, 3, NN_ENGINE_REFERENCE, 0, &used);
    cr_assert_not_null(m, "%s", sf_last_error());
    cr_assert_eq(used.width, 8);
    cr_assert_eq(used.k, 3);
    cr_assert_eq(used.n_targets, 2);
    cr_assert_str_eq(used.targets[1], "b");
    cr_assert_eq(m->num_batches_tracked, 42);
    st_file io;
    cr_assert_eq(st_open(&io, path_in("io.safetensors")), SF_OK);
    float x[3 * 3 * 32 * 32], want[3 * 2];
    cr_assert_eq(st_read_f32(&io, st_find(&io, "x"), x, sizeof x / sizeof x[0]), SF_OK);
    cr_assert_eq(st_read_f32(&io, st_find(&io, "out"), want, 6), SF_OK);
    st_close(&io);
    sfnet_forward(m, x, 3, 0);
    double worst = 0, scale = 0;
    for (int i = 0; i < 6; i++) {
        worst = fmax(worst, fabs(m->out[i] - want[i]));
        scale = fmax(scale, fabs(want[i]));
    }
    cr_assert_lt(worst / scale, 1e-4, "converted model differs from PyTorch by %.3g",
                 worst / scale);
    sfnet_free(m);
}
