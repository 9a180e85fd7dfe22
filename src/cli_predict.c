/* cli_predict.c: `sfnet-explore predict`: run a weights file over a catalogue's images
 * and write every galaxy's prediction and its k (feature, value) pairs. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "data_catalog.h"
#include "data_image.h"
#include "sf_util.h"
#include "train.h"

static void usage(FILE *out) {
    fprintf(out,
            "Usage: sfnet-explore predict --weights FILE --catalog CSV --images DIR\n"
            "                             -o OUT.csv [OPTIONS]\n"
            "\n"
            "Runs a trained SFNet (a safetensors weights file) over every galaxy of the\n"
            "catalogue whose image <DIR>/<objID>.{jpg,jpeg,png} exists, in batches, and\n"
            "writes CSV: objID, one column per output (named by the file's target\n"
            "names), then feature_1,value_1 ... feature_k,value_k: the k features the\n"
            "top-k layer kept, strongest first. Missing or corrupt images are skipped\n"
            "and counted on stderr.\n"
            "\n"
            "The weights file's metadata gives k, width, outputs, resize/crop and the\n"
            "normalisation. For a file converted from PyTorch (share/convert_pth.py)\n"
            "that lacks them, or to override them:\n"
            "      --k N            active features per galaxy (0: dense)\n"
            "      --width N        base channels (64 for the paper's model)\n"
            "      --n-out N        outputs of the linear head\n"
            "      --resize N       resize images to N x N first (the paper: 160)\n"
            "      --crop N         then centre crop to N x N (the paper: 144)\n"
            "      --mean R,G,B     per-channel mean on the 0..1 scale\n"
            "      --std R,G,B      per-channel standard deviation on the 0..1 scale\n"
            "      --targets A,B    names of the outputs\n"
            "\n"
            "Options:\n"
            "  -w, --weights FILE   the weights (safetensors)\n"
            "  -c, --catalog CSV    the catalogue (needs an objID column)\n"
            "  -i, --images DIR     the folder of <objID>.jpg cutouts\n"
            "  -o, --output FILE    the CSV to write ('-': stdout)\n"
            "  -b, --batch N        images per batch (default 64)\n"
            "  -e, --engine NAME    onednn (default) or reference (im2col + OpenBLAS)\n"
            "  -q, --quiet          no progress bar\n"
            "  -h, --help           show this help\n");
}

static int parse_int_opt(const char *name, const char *s, int lo, int hi, int *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "sfnet-explore: --%s '%s': expected an integer in %d..%d\n", name, s, lo,
                hi);
        return SF_ERR;
    }
    *out = (int)v;
    return SF_OK;
}

static int parse_three(const char *name, const char *s, float v[3], int positive) {
    char *end;
    const char *p = s;
    for (int i = 0; i < 3; i++) {
        errno = 0;
        double d = strtod(p, &end);
        if (errno || end == p || !isfinite(d) || (positive && !(d > 0)) ||
            (i < 2 && *end != ',') || (i == 2 && *end)) {
            fprintf(stderr, "sfnet-explore: --%s '%s': expected three numbers R,G,B%s\n", name,
                    s, positive ? " above 0" : "");
            return SF_ERR;
        }
        v[i] = (float)d;
        p = end + 1;
    }
    return SF_OK;
}

static int parse_targets(const char *s, weights_meta *wm) {
    int n = 0;
    const char *p = s;
    while (*p) {
        size_t len = strcspn(p, ",");
        if (len == 0 || len >= sizeof wm->targets[0] || n == TARGET_MAX) {
            fprintf(stderr, "sfnet-explore: --targets '%s': expected 1..%d comma-separated "
                    "names\n", s, TARGET_MAX);
            return SF_ERR;
        }
        memcpy(wm->targets[n], p, len);
        wm->targets[n][len] = 0;
        n++;
        p += len;
        if (*p == ',') p++;
    }
    wm->n_targets = n;
    return n > 0 ? SF_OK : SF_ERR;
}

/* Writes a CSV field, quoted when it holds a comma, quote or line break. */
static void put_field(FILE *f, const char *s) {
    if (!s[strcspn(s, ",\"\r\n")]) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

typedef struct {
    int status; /* 0 ok, 1 missing, 2 corrupt */
    char why[160];
} load_status;

/* Decodes and prepares the images of rows[0..n) into x (normalised floats); status
 * tells which failed. */
static void load_batch(const catalog *cat, const int *rows, int n, const char *dir,
                       const weights_meta *wm, float *x, uint8_t *scratch, load_status *st) {
    int S = wm->crop;
    size_t plane = (size_t)S * S;
    float lut[3][256];
    for (int c = 0; c < 3; c++)
        for (int v = 0; v < 256; v++) lut[c][v] = ((float)v / 255.0f - wm->mean[c]) / wm->std[c];
#pragma omp parallel for schedule(dynamic)
    for (int b = 0; b < n; b++) {
        char path[4096];
        const char *id = cat->obj_ids[rows[b]];
        st[b].status = 0;
        if (image_find(path, sizeof path, dir, id) != SF_OK) {
            st[b].status = 1;
            snprintf(st[b].why, sizeof st[b].why, "%s", sf_last_error());
            continue;
        }
        uint8_t *rgb = NULL;
        int w, h;
        if (image_decode(path, &rgb, &w, &h) != SF_OK) {
            st[b].status = 2;
            snprintf(st[b].why, sizeof st[b].why, "%s", sf_last_error());
            continue;
        }
        uint8_t *u = scratch + (size_t)b * 3 * plane;
        image_prepare(u, rgb, w, h, wm->resize, S);
        free(rgb);
        float *dst = x + (size_t)b * 3 * plane;
        for (int c = 0; c < 3; c++)
            for (size_t k = 0; k < plane; k++) dst[c * plane + k] = lut[c][u[c * plane + k]];
    }
}

int cli_predict(int argc, char **argv) {
    static const struct option opts[] = {
        {"weights", required_argument, NULL, 'w'}, {"catalog", required_argument, NULL, 'c'},
        {"images", required_argument, NULL, 'i'},  {"output", required_argument, NULL, 'o'},
        {"batch", required_argument, NULL, 'b'},   {"quiet", no_argument, NULL, 'q'},
        {"k", required_argument, NULL, 'K'},       {"width", required_argument, NULL, 'W'},
        {"n-out", required_argument, NULL, 'N'},   {"resize", required_argument, NULL, 'R'},
        {"crop", required_argument, NULL, 'C'},    {"mean", required_argument, NULL, 'M'},
        {"std", required_argument, NULL, 'S'},     {"targets", required_argument, NULL, 'T'},
        {"engine", required_argument, NULL, 'e'},  {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *weights = NULL, *cat_path = NULL, *dir = NULL, *out_path = NULL;
    int batch = 64, quiet = 0, c, have_mean = 0, have_std = 0;
    nn_engine_kind engine = NN_ENGINE_ONEDNN;
    weights_meta ov;
    weights_meta_clear(&ov);
    optind = 1;
    while ((c = getopt_long(argc, argv, "w:c:i:o:b:e:qh", opts, NULL)) != -1) {
        int bad = 0;
        switch (c) {
        case 'w': weights = optarg; break;
        case 'c': cat_path = optarg; break;
        case 'i': dir = optarg; break;
        case 'o': out_path = optarg; break;
        case 'q': quiet = 1; break;
        case 'e':
            if (!strcmp(optarg, nn_engine_name(NN_ENGINE_REFERENCE))) engine = NN_ENGINE_REFERENCE;
            else if (!strcmp(optarg, nn_engine_name(NN_ENGINE_ONEDNN))) engine = NN_ENGINE_ONEDNN;
            else {
                fprintf(stderr, "sfnet-explore: --engine '%s': reference or onednn\n", optarg);
                bad = 1;
            }
            break;
        case 'b': bad = parse_int_opt("batch", optarg, 1, 4096, &batch); break;
        case 'K': bad = parse_int_opt("k", optarg, 0, 8192, &ov.k); break;
        case 'W': bad = parse_int_opt("width", optarg, 1, 1024, &ov.width); break;
        case 'N': bad = parse_int_opt("n-out", optarg, 1, TARGET_MAX, &ov.n_out); break;
        case 'R': bad = parse_int_opt("resize", optarg, 8, 8192, &ov.resize); break;
        case 'C': bad = parse_int_opt("crop", optarg, 8, 4096, &ov.crop); break;
        case 'M': bad = parse_three("mean", optarg, ov.mean, 0), have_mean = 1; break;
        case 'S': bad = parse_three("std", optarg, ov.std, 1), have_std = 1; break;
        case 'T': bad = parse_targets(optarg, &ov); break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
        if (bad) return 2;
    }
    if (!weights || !cat_path || !dir || !out_path || optind != argc) {
        fprintf(stderr, "sfnet-explore: predict needs --weights, --catalog, --images and -o, "
                        "and nothing else\n");
        usage(stderr);
        return 2;
    }
    if (have_mean != have_std) {
        fprintf(stderr, "sfnet-explore: --mean and --std go together\n");
        return 2;
    }
    ov.has_norm = have_mean && have_std;
    if (ov.crop >= 0) ov.in_size = ov.crop;
    if (quiet) sf_progress_quiet = 1;

    weights_meta wm;
    sfnet *m = weights_load_model(weights, &ov, batch, engine, &wm);
    if (!m) {
        sf_warn("%s", sf_last_error());
        return 1;
    }
    catalog cat;
    if (catalog_load(&cat, cat_path) != SF_OK) {
        sf_warn("%s", sf_last_error());
        sfnet_free(m);
        return 1;
    }

    FILE *out = stdout;
    char *tmp = NULL;
    if (strcmp(out_path, "-") != 0) {
        size_t tl = strlen(out_path) + 32;
        tmp = xmalloc(tl);
        snprintf(tmp, tl, "%s.tmp-%ld", out_path, (long)getpid());
        out = fopen(tmp, "w");
        if (!out) {
            sf_warn("%s: cannot create: %s", tmp, strerror(errno));
            free(tmp);
            catalog_free(&cat);
            sfnet_free(m);
            return 1;
        }
    }

    int no = m->cfg.n_out, k = m->cfg.k, S = wm.crop;
    fputs("objID", out);
    for (int t = 0; t < no; t++) {
        fputc(',', out);
        if (wm.n_targets == no) put_field(out, wm.targets[t]);
        else fprintf(out, "out_%d", t);
    }
    for (int j = 1; j <= k; j++) fprintf(out, ",feature_%d,value_%d", j, j);
    fputc('\n', out);

    size_t img = (size_t)3 * S * S;
    float *x = xmalloc_aligned((size_t)batch * img * sizeof(float));
    uint8_t *scratch = xmalloc((size_t)batch * img);
    int *rows = xmalloc((size_t)batch * sizeof(int)), *kept = xmalloc((size_t)batch * sizeof(int));
    load_status *st = xmalloc((size_t)batch * sizeof *st);
    float *pred = xmalloc((size_t)batch * no * sizeof(float));
    int *fidx = xmalloc(((size_t)batch * k + 1) * sizeof(int));
    float *fval = xmalloc(((size_t)batch * k + 1) * sizeof(float));
    int n_missing = 0, n_corrupt = 0, n_done = 0;

    sf_progress bar;
    sf_progress_start(&bar, "predict", cat.n_rows, "img");
    for (int r0 = 0; r0 < cat.n_rows; r0 += batch) {
        int n = cat.n_rows - r0 < batch ? cat.n_rows - r0 : batch;
        for (int b = 0; b < n; b++) rows[b] = r0 + b;
        load_batch(&cat, rows, n, dir, &wm, x, scratch, st);
        int B = 0;
        for (int b = 0; b < n; b++) {
            if (st[b].status) {
                int *count = st[b].status == 1 ? &n_missing : &n_corrupt;
                if (++*count <= 3) sf_warn("skipped: %s", st[b].why);
                continue;
            }
            if (B != b) memcpy(x + (size_t)B * img, x + (size_t)b * img, img * sizeof(float));
            kept[B++] = rows[b];
        }
        if (B > 0) train_infer_batch(m, x, B, pred, fidx, fval, NULL);
        for (int b = 0; b < B; b++) {
            put_field(out, cat.obj_ids[kept[b]]);
            for (int t = 0; t < no; t++) fprintf(out, ",%.7g", pred[(size_t)b * no + t]);
            for (int j = 0; j < k; j++)
                fprintf(out, ",%d,%.7g", fidx[(size_t)b * k + j], fval[(size_t)b * k + j]);
            fputc('\n', out);
        }
        n_done += B;
        sf_progress_update(&bar, r0 + n, NULL);
    }
    sf_progress_finish(&bar, NULL);

    int rc = 0;
    if (tmp) {
        int bad = ferror(out) != 0;
        if (fclose(out) != 0) bad = 1;
        if (bad) {
            sf_warn("%s: write failed", out_path);
            unlink(tmp);
            rc = 1;
        } else if (rename(tmp, out_path) != 0) {
            sf_warn("%s: cannot rename %s over it: %s", out_path, tmp, strerror(errno));
            unlink(tmp);
            rc = 1;
        }
    } else if (fflush(out) != 0 || ferror(out)) {
        sf_warn("write to stdout failed");
        rc = 1;
    }
    if (rc == 0 && !quiet)
        fprintf(stderr, "sfnet-explore: %d galaxies predicted (%d without an image, %d "
                "corrupt)%s%s\n", n_done, n_missing, n_corrupt, tmp ? " -> " : "",
                tmp ? out_path : "");
    if (rc == 0 && n_done == 0) {
        sf_warn("no galaxy of %s has a usable image in %s", cat_path, dir);
        rc = 1;
    }
    free(tmp);
    free(x);
    free(scratch);
    free(rows);
    free(kept);
    free(st);
    free(pred);
    free(fidx);
    free(fval);
    catalog_free(&cat);
    sfnet_free(m);
    return rc;
}
