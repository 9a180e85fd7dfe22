/* tui_fixture.h: a run database with an SL run (four line fluxes, BPT columns)
 * and a Z run (metallicity), written through the store API, for the explorer's
 * and the export command's tests. Galaxy thumbnails are small JPEGs whose
 * colour follows the galaxy's BPT position. */
#ifndef SF_TUI_FIXTURE_H
#define SF_TUI_FIXTURE_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data_image.h"
#include "sf_util.h"
#include "store.h"

#define TFX_N 240
#define TFX_D 64
#define TFX_K 4

static const char *tfx_columns[5] = {"oh_p50", "nii_6584_flux", "h_alpha_flux", "oiii_5007_flux",
                                     "h_beta_flux"};

/* Writes path (with_fluxes 0: the catalogue has oh_p50 only); returns SF_OK. Feature f of the SL run is live for f < 12, of the Z run for
 * f < 6; SL 3 is strong on the AGN side (high [NII]/Ha and [OIII]/Hb). */
static inline int tfx_make_opt(const char *path, int with_fluxes) {
    sf_rng rng;
    sf_rng_seed(&rng, 7);
    int n = TFX_N;
    char(*objid)[24] = calloc(n, sizeof *objid);
    double *values = calloc((size_t)n * 5, sizeof(double));
    store_galaxy_input *gal = calloc(n, sizeof *gal);
    uint8_t *split = calloc(n, 1);
    uint8_t **thumbs = calloc(n, sizeof *thumbs);
    size_t *thumb_len = calloc(n, sizeof *thumb_len);
    double *bx = calloc(n, sizeof(double)), *by = calloc(n, sizeof(double));
    for (int i = 0; i < n; i++) {
        snprintf(objid[i], sizeof objid[i], "12376000000%08d", 1000 + i);
        split[i] = i % 4 == 0; /* a quarter for validation */
        double t = sf_rng_uniform(&rng);
        bx[i] = -1.2 + 1.5 * t + 0.08 * sf_rng_normal(&rng);
        by[i] = (t < 0.6 ? -0.3 - 0.5 * t : -0.6 + 2.5 * (t - 0.6)) + 0.1 * sf_rng_normal(&rng);
        double ha = 100 + 50 * sf_rng_uniform(&rng), hb = ha / 2.86;
        double *v = &values[(size_t)i * 5];
        v[0] = 8.4 + 0.5 * (1 - t) + 0.05 * sf_rng_normal(&rng);
        v[1] = ha * pow(10, bx[i]);
        v[2] = ha;
        v[3] = hb * pow(10, by[i]);
        v[4] = hb;
        uint8_t rgb[24 * 24 * 3];
        for (int p = 0; p < 24 * 24; p++) {
            int x = p % 24, y = p / 24;
            double r2 = (x - 11.5) * (x - 11.5) + (y - 11.5) * (y - 11.5);
            double glow = exp(-r2 / 30.0);
            rgb[3 * p] = (uint8_t)(255 * glow * (0.4 + 0.6 * t));
            rgb[3 * p + 1] = (uint8_t)(200 * glow * 0.6);
            rgb[3 * p + 2] = (uint8_t)(255 * glow * (1 - t));
        }
        if (image_encode_jpeg(rgb, 24, 24, 90, &thumbs[i], &thumb_len[i]) != SF_OK) return SF_ERR;
        gal[i] = (store_galaxy_input){
            objid[i], 150 + 0.01 * i, 2 - 0.01 * i, v, thumbs[i], thumb_len[i], 24, 24, "jpeg"};
    }
    store *s = NULL;
    int rc = store_open(&s, path, STORE_CREATE);
    for (int r = 0; r < 2 && rc == SF_OK; r++) {
        int sl = r == 0, n_out = sl ? 4 : 1, n_live = sl ? 12 : 6;
        store_run_input in;
        memset(&in, 0, sizeof in);
        store_run *run = &in.run;
        snprintf(run->prefix, sizeof run->prefix, "%s", sl ? "SL" : "Z");
        snprintf(run->target_spec, sizeof run->target_spec, "%s", sl ? "bpt_lines" : "metallicity");
        run->n_out = n_out;
        static const char *sl_names[4] = {"log_nii_6584", "log_h_alpha", "log_oiii_5007",
                                          "log_h_beta"};
        for (int t = 0; t < n_out; t++) {
            snprintf(run->target_names[t], sizeof run->target_names[t], "%s",
                     sl ? sl_names[t] : "oh_p50");
            run->bias[t] = 0.1 * (t + 1);
            run->target_mean[t] = sl ? 1.5 + 0.2 * t : 8.7;
            run->target_std[t] = sl ? 0.3 : 0.2;
            run->train_rmse_t[t] = run->valid_rmse_t[t] = NAN;
        }
        run->k = TFX_K;
        run->width = 64;
        run->d = TFX_D;
        run->seed = 1;
        run->split_seed = 256;
        run->train_rmse = run->valid_rmse = NAN;
        for (int c = 0; c < 3; c++) run->image_mean[c] = 0.1f, run->image_std[c] = 0.2f;
        float *w = calloc((size_t)n_out * TFX_D, sizeof(float));
        for (int t = 0; t < n_out; t++)
            for (int f = 0; f < n_live; f++)
                w[t * TFX_D + f] = (float)(((f * 7 + t * 3) % 11) - 5) / 10.0f;
        int *idx = calloc((size_t)n * TFX_K, sizeof(int));
        float *val = calloc((size_t)n * TFX_K, sizeof(float));
        float *pred = calloc((size_t)n * n_out, sizeof(float)),
              *truth = calloc((size_t)n * n_out, sizeof(float));
        for (int i = 0; i < n; i++) {
            double agn = (bx[i] + 1.2) / 1.5; /* 0 star-forming .. 1 AGN */
            for (int j = 0; j < TFX_K; j++) {
                /* feature 3 first, then three distinct others of the live ones */
                int o = (i + j * 3) % (n_live - 1);
                int f = j == 0 ? 3 : (o >= 3 ? o + 1 : o);
                idx[i * TFX_K + j] = f;
                val[i * TFX_K + j] =
                    j == 0 ? (float)fmax(0, 3.0 * agn * agn) : (float)(0.5 + 0.1 * ((i + j) % 13));
            }
            for (int t = 0; t < n_out; t++) {
                double z = run->bias[t];
                for (int j = 0; j < TFX_K; j++)
                    z += w[t * TFX_D + idx[i * TFX_K + j]] * val[i * TFX_K + j];
                pred[i * n_out + t] = (float)(z * run->target_std[t] + run->target_mean[t]);
                truth[i * n_out + t] = sl ? (float)(log10(values[(size_t)i * 5 + 1 + t]))
                                          : (float)values[(size_t)i * 5];
            }
        }
        in.head_w = w;
        in.n_columns = with_fluxes ? 5 : 1;
        in.column_names = tfx_columns;
        in.n = n;
        in.galaxies = gal;
        in.split = split;
        in.pred = pred;
        in.truth = truth;
        in.k_stored = TFX_K;
        in.topk_idx = idx;
        in.topk_val = val;
        rc = store_add_run(s, &in, NULL);
        free(w);
        free(idx);
        free(val);
        free(pred);
        free(truth);
    }
    if (s) store_close(s);
    for (int i = 0; i < n; i++) free(thumbs[i]);
    free(thumbs);
    free(thumb_len);
    free(objid);
    free(values);
    free(gal);
    free(split);
    free(bx);
    free(by);
    return rc;
}

static inline int tfx_make(const char *path) { return tfx_make_opt(path, 1); }

#endif
