/* Tests of the report and the PCA baseline on run databases written here through
 * the store API: every number is recomputed in the test from the arrays that went
 * into the database. */
#include <cairo.h>
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analysis_run.h"
#include "cli.h"
#include "sf_util.h"
#include "store.h"

enum { N = 300, D = 16, K = 2 };
enum { F_ALWAYS = 3, F_OFTEN = 7, F_RARE = 11 };

static char dir[64], db[128];

static void setup(void) {
    snprintf(dir, sizeof dir, "/tmp/sfnet-report-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(db, sizeof db, "%s/run.db", dir);
}

static void teardown(void) {
    cairo_debug_reset_static_data();
    void (*fc_fini)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, "FcFini");
    if (fc_fini) fc_fini();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

/* A sparse run "Z": feature 3 fires on every galaxy, 7 on about 70%, 11 on about
 * 20% (the AGN); metallicity follows 3 and 7; the catalogue has a stellar mass that
 * follows 3, a D4000 that falls with 7, and BPT fluxes (AGN exactly where 11 fires). */
typedef struct {
    char objid[N][24];
    store_galaxy_input gal[N];
    double values[N * 11];
    uint8_t split[N];
    int idx[N * K];
    float val[N * K];
    float pred[N], truth[N];
    float head_w[D];
    double a[N][D]; /* raw activations */
} sparse_run;

static const char *sparse_columns[11] = {"lgm_tot_p50",     "d4000",
                                         "nii_6584_flux",   "nii_6584_flux_err",
                                         "h_alpha_flux",    "h_alpha_flux_err",
                                         "oiii_5007_flux",  "oiii_5007_flux_err",
                                         "h_beta_flux",     "h_beta_flux_err",
                                         "true_inclination"};

static void make_sparse(sparse_run *r, store_run_input *in) {
    memset(r, 0, sizeof *r);
    memset(in, 0, sizeof *in);
    sf_rng g;
    sf_rng_seed(&g, 42);
    r->head_w[F_ALWAYS] = 0.3f;
    r->head_w[F_OFTEN] = -0.2f;
    r->head_w[F_RARE] = 0.05f;
    for (int i = 0; i < N; i++) {
        snprintf(r->objid[i], sizeof r->objid[i], "%d", 1000 + i);
        r->split[i] = i % 5 == 0;
        double u = sf_rng_uniform(&g);
        r->a[i][F_ALWAYS] = 0.1 + sf_rng_uniform(&g);
        int second = u < 0.7 ? F_OFTEN : u < 0.9 ? F_RARE : -1;
        /* The AGN feature fires strongly, so that a linear SVM separates it. */
        if (second >= 0) r->a[i][second] = (second == F_RARE ? 0.6 : 0.1) + sf_rng_uniform(&g);
        r->idx[i * K] = F_ALWAYS;
        r->val[i * K] = (float)r->a[i][F_ALWAYS];
        r->idx[i * K + 1] = second >= 0 ? second : 0;
        r->val[i * K + 1] = second >= 0 ? (float)r->a[i][second] : 0.0f;
        r->a[i][F_ALWAYS] = r->val[i * K]; /* the float the store keeps */
        if (second >= 0) r->a[i][second] = r->val[i * K + 1];
        double p = 8.7;
        for (int f = 0; f < D; f++) p += r->head_w[f] * r->a[i][f];
        r->pred[i] = (float)p;
        r->truth[i] = (float)(p + 0.05 * sf_rng_normal(&g));
        double *v = &r->values[i * 11];
        v[0] = 10 + 2 * r->a[i][F_ALWAYS] + 0.1 * sf_rng_normal(&g);
        v[1] = 1.5 - r->a[i][F_OFTEN] + 0.2 * sf_rng_normal(&g);
        int agn = r->a[i][F_RARE] > 0;
        double x = agn ? 0.1 : -0.5, y = agn ? 0.6 : -0.5;
        v[2] = 100 * pow(10, x), v[4] = 100, v[6] = 50 * pow(10, y), v[8] = 50;
        for (int l = 0; l < 4; l++) v[3 + 2 * l] = v[2 + 2 * l] / 10;
        v[10] = 60 - 30 * r->a[i][F_OFTEN] + 12 * sf_rng_normal(&g); /* weaker than D4000 */
        r->gal[i] = (store_galaxy_input){.objid = r->objid[i], .ra = NAN, .dec = NAN, .values = v};
    }
    store_run *run = &in->run;
    snprintf(run->prefix, sizeof run->prefix, "Z");
    snprintf(run->target_spec, sizeof run->target_spec, "metallicity");
    run->n_out = 1;
    snprintf(run->target_names[0], sizeof run->target_names[0], "oh_p50");
    run->bias[0] = 8.7;
    run->target_mean[0] = 0;
    run->target_std[0] = 1;
    run->k = K, run->d = D, run->width = 2, run->seed = 1, run->split_seed = 256;
    run->valid_rmse = run->train_rmse = NAN;
    run->train_rmse_t[0] = run->valid_rmse_t[0] = NAN;
    in->head_w = r->head_w;
    in->n_columns = 11;
    in->column_names = sparse_columns;
    in->n = N;
    in->galaxies = r->gal;
    in->split = r->split;
    in->pred = r->pred;
    in->truth = r->truth;
    in->k_stored = K;
    in->topk_idx = r->idx;
    in->topk_val = r->val;
}

static void write_sparse(sparse_run *r) {
    store_run_input in;
    make_sparse(r, &in);
    store *s;
    cr_assert_eq(store_open(&s, db, STORE_CREATE), SF_OK, "%s", sf_last_error());
    cr_assert_eq(store_add_run(s, &in, NULL), SF_OK, "%s", sf_last_error());
    store_close(s);
}

static double pearson(const double *x, const double *y, int n) {
    double mx = 0, my = 0, sxy = 0, sxx = 0, syy = 0;
    for (int i = 0; i < n; i++) mx += x[i] / n, my += y[i] / n;
    for (int i = 0; i < n; i++) {
        sxy += (x[i] - mx) * (y[i] - my);
        sxx += (x[i] - mx) * (x[i] - mx);
        syy += (y[i] - my) * (y[i] - my);
    }
    return sxy / sqrt(sxx * syy);
}

Test(report, numbers_match_the_arrays, .init = setup, .fini = teardown) {
    static sparse_run r;
    write_sparse(&r);
    store *s;
    cr_assert_eq(store_open(&s, db, STORE_READ), SF_OK);
    run_data rd;
    cr_assert_eq(run_data_load(&rd, s, NULL), SF_OK, "%s", sf_last_error());
    int nv = 0, nt = 0, count[D] = {0};
    static double av[N][D], yv[N], pv[N];
    for (int i = 0; i < N; i++) {
        if (!r.split[i]) {
            nt++;
            continue;
        }
        for (int f = 0; f < D; f++) av[nv][f] = r.a[i][f], count[f] += r.a[i][f] > 0;
        yv[nv] = r.truth[i], pv[nv] = r.pred[i];
        nv++;
    }
    cr_assert_eq(rd.n_valid, nv);
    cr_assert_eq(rd.n_train, nt);
    cr_assert_eq(rd.n_live, 3);
    cr_assert_eq(rd.features[0].feature, F_ALWAYS);
    cr_assert_eq(rd.features[1].feature, F_OFTEN);
    cr_assert_eq(rd.features[2].feature, F_RARE);
    cr_assert_eq(rd.features[1].n_active_valid, count[F_OFTEN]);

    report_options opt = {.top = 8, .min_galaxies = 5};
    report_result rr;
    cr_assert_eq(report_compute(&rr, &rd, s, &opt), SF_OK, "%s", sf_last_error());
    cr_assert_eq(rr.n_top, 3);
    cr_assert_eq(rr.n_m, 2, "m = 1, 2 (only 3 live features)");

    /* The model's RMSE over the validation galaxies. */
    double se = 0;
    for (int i = 0; i < nv; i++) se += (pv[i] - yv[i]) * (pv[i] - yv[i]);
    cr_assert_float_eq(rr.rmse_model, sqrt(se / nv), 1e-9);

    /* Variance share of the top 1: R^2 of the predictions on A_3, Pearson squared. */
    double a3[N];
    for (int i = 0; i < nv; i++) a3[i] = av[i][F_ALWAYS];
    double r3 = pearson(a3, pv, nv);
    cr_assert_float_eq(rr.share[0][0], r3 * r3, 1e-9);
    cr_assert_gt(rr.share[1][0], rr.share[0][0]);

    /* Refit on the top 1: y = b0 + b1 a3, by the closed form on the training rows. */
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (int i = 0; i < N; i++) {
        if (r.split[i]) continue;
        double x = r.a[i][F_ALWAYS], y = r.truth[i];
        sx += x, sy += y, sxx += x * x, sxy += x * y;
    }
    double b1 = (nt * sxy - sx * sy) / (nt * sxx - sx * sx), b0 = (sy - b1 * sx) / nt;
    se = 0;
    for (int i = 0; i < nv; i++) {
        double e = b0 + b1 * av[i][F_ALWAYS] - yv[i];
        se += e * e;
    }
    cr_assert_float_eq(rr.rmse_top[0], sqrt(se / nv), 1e-6);
    cr_assert_lt(rr.rmse_top[1], rr.rmse_top[0], "adding feature 7 helps");
    /* The stored head with only feature 3: pred = 8.7 + 0.3 a3. */
    se = 0;
    for (int i = 0; i < nv; i++) {
        double e = 8.7 + r.head_w[F_ALWAYS] * av[i][F_ALWAYS] - yv[i];
        se += e * e;
    }
    cr_assert_float_eq(rr.rmse_head[0], sqrt(se / nv), 1e-5);

    /* Correlation matrix: all three fire on more than 5 validation galaxies. */
    cr_assert_eq(rr.n_corr, 3);
    double c0[N], c1[N];
    for (int i = 0; i < nv; i++) c0[i] = av[i][F_OFTEN], c1[i] = av[i][F_RARE];
    cr_assert_float_eq(rr.corr[1 * 3 + 2], pearson(c0, c1, nv), 1e-9);
    cr_assert_lt(rr.corr[1 * 3 + 2], 0, "7 and 11 never fire together");

    /* Suggested labels name the columns each feature was made to follow. */
    cr_assert(!strncmp(rr.labels[0], "high stellar mass (rho 0.", 25), "%s", rr.labels[0]);
    cr_assert(!strncmp(rr.labels[1], "low D4000 (stellar age) (rho -0.", 32), "%s", rr.labels[1]);
    cr_assert(strstr(rr.labels[1], "; latent: low true_inclination (rho -0."), "%s", rr.labels[1]);

    char one[STORE_LABEL_MAX];
    cr_assert_eq(analysis_feature_suggestion(s, rd.run.id, F_ALWAYS, one, sizeof one), SF_OK);
    cr_assert_str_eq(one, rr.labels[0]);

    /* AGN: the classes come from the line ratios, AGN exactly where 11 fires, so
     * the confusion matrix on validation is counted from the arrays. */
    cr_assert(rr.svm_done, "%s", rr.svm_why);
    cr_assert_eq(rr.svm_source, BPT_SOURCE_LINES);
    cr_assert_eq(rr.svm_n_features[0], 3);
    cr_assert_eq(rr.svm[1].tp + rr.svm[1].fn, count[F_RARE]);
    cr_assert_eq(rr.svm[1].tn + rr.svm[1].fp, nv - count[F_RARE]);
    cr_assert_float_eq(rr.svm[1].accuracy, 1.0, 1e-12,
                       "separable by feature 11: tp %d fp %d tn %d fn %d", rr.svm[1].tp,
                       rr.svm[1].fp, rr.svm[1].tn, rr.svm[1].fn);
    cr_assert_float_eq(rr.svm[1].f1, 1.0, 1e-12);
    /* balanced class weights: the same confusion matrix's totals, and separable too */
    cr_assert_eq(rr.svm_balanced[1].tp + rr.svm_balanced[1].fn, count[F_RARE]);
    cr_assert_float_eq(rr.svm_balanced[1].f1, 1.0, 1e-12);

    char *text;
    size_t len;
    FILE *mem = open_memstream(&text, &len);
    report_print(mem, &rd, &rr);
    fclose(mem);
    cr_assert(strstr(text, "Table 1"), "%s", text);
    cr_assert(strstr(text, "Z 3 "), "%s", text);
    cr_assert(strstr(text, "suggested: high stellar mass"), "%s", text);
    cr_assert(strstr(text, "BPT classes from the line ratios"), "%s", text);
    cr_assert(strstr(text, "balanced"), "%s", text);
    cr_assert(strstr(text, " none "), "%s", text);
    free(text);
    rr.class_weight = SVM_WEIGHTS_BALANCED;
    mem = open_memstream(&text, &len);
    report_print(mem, &rd, &rr);
    fclose(mem);
    cr_assert(!strstr(text, " none "), "only the balanced rows: %s", text);
    free(text);

    char figs[128], png[256];
    snprintf(figs, sizeof figs, "%s/figs", dir);
    cr_assert_eq(report_figures(figs, &rd, s, &rr), SF_OK, "%s", sf_last_error());
    snprintf(png, sizeof png, "%s/Z_correlations.png", figs);
    cr_assert_eq(access(png, R_OK), 0, "%s", png);
    snprintf(png, sizeof png, "%s/Z_3_oh_p50.png", figs);
    cr_assert_eq(access(png, R_OK), 0, "%s", png);
    snprintf(png, sizeof png, "%s/Z_predicted_oh_p50.png", figs);
    cr_assert_eq(access(png, R_OK), 0, "%s", png);

    /* The PCA baseline refuses a sparse run. */
    double rmse[1];
    int k1[1] = {2};
    cr_assert_eq(run_pca_rmse(rmse, NULL, k1, 1, &rd, s), SF_ERR);
    cr_assert(strstr(sf_last_error(), "dense run"), "%s", sf_last_error());

    report_result_free(&rr);
    run_data_free(&rd);
    store_close(s);
}

Test(report, without_bpt_columns_says_why, .init = setup, .fini = teardown) {
    static sparse_run r;
    store_run_input in;
    make_sparse(&r, &in);
    in.n_columns = 2; /* mass and D4000 only */
    store *s;
    cr_assert_eq(store_open(&s, db, STORE_CREATE), SF_OK);
    cr_assert_eq(store_add_run(s, &in, NULL), SF_OK, "%s", sf_last_error());
    run_data rd;
    cr_assert_eq(run_data_load(&rd, s, "Z"), SF_OK, "%s", sf_last_error());
    report_options opt = {.top = 2, .min_galaxies = 100};
    report_result rr;
    cr_assert_eq(report_compute(&rr, &rd, s, &opt), SF_OK, "%s", sf_last_error());
    cr_assert_eq(rr.n_top, 2);
    cr_assert_eq(rr.n_corr, 0, "no feature fires on more than 100 of 60 galaxies");
    cr_assert(!rr.svm_done);
    cr_assert(strstr(rr.svm_why, "no BPT information"), "%s", rr.svm_why);
    report_result_free(&rr);
    run_data_free(&rd);
    store_close(s);
}

/* A dense run "D": all D features on every galaxy, stored as D pairs. */
Test(pca, dense_run_matches_the_arrays, .init = setup, .fini = teardown) {
    static sparse_run r;
    store_run_input in;
    make_sparse(&r, &in); /* galaxies, split and catalogue reused */
    static int idx[N * D];
    static float val[N * D];
    static double x[N * D], y[N];
    sf_rng g;
    sf_rng_seed(&g, 7);
    for (int i = 0; i < N; i++) {
        double z1 = sf_rng_normal(&g), z2 = sf_rng_normal(&g);
        for (int f = 0; f < D; f++) {
            idx[i * D + f] = f;
            /* Positive (ReLU outputs), two strong directions plus noise. */
            double v = 3 + z1 * (f % 3 == 0 ? 1.0 : 0.1) + z2 * (f % 4 == 1 ? 0.5 : 0.05) +
                       0.02 * sf_rng_normal(&g);
            val[i * D + f] = (float)(v > 0.01 ? v : 0.01);
            x[i * D + f] = val[i * D + f];
        }
        y[i] = 8.5 + 0.1 * z1 + 0.01 * sf_rng_normal(&g);
        r.truth[i] = (float)y[i];
        y[i] = r.truth[i];
        r.pred[i] = r.truth[i];
    }
    snprintf(in.run.prefix, sizeof in.run.prefix, "D");
    in.run.k = 0;
    in.k_stored = D;
    in.topk_idx = idx;
    in.topk_val = val;
    store *s;
    cr_assert_eq(store_open(&s, db, STORE_CREATE), SF_OK);
    cr_assert_eq(store_add_run(s, &in, NULL), SF_OK, "%s", sf_last_error());
    store_close(s);

    const char *args[] = {"pca", db, "D", "--k", "1,2,4", NULL};
    cr_assert_eq(cli_pca(5, (char **)args), 0, "%s", sf_last_error());

    cr_assert_eq(store_open(&s, db, STORE_READ), SF_OK);
    run_data rd;
    cr_assert_eq(run_data_load(&rd, s, "D"), SF_OK, "%s", sf_last_error());
    const int ks[3] = {1, 2, 4};
    double rmse[3], expl[3];
    cr_assert_eq(run_pca_rmse(rmse, expl, ks, 3, &rd, s), SF_OK, "%s", sf_last_error());
    /* The same computation on the arrays that went in, split by hand. */
    static double xt[N * D], xv[N * D], yt[N], yv[N];
    int nt = 0, nv = 0;
    for (int i = 0; i < N; i++) {
        if (r.split[i]) {
            memcpy(xv + nv * D, x + i * D, sizeof(double) * D);
            yv[nv++] = y[i];
        } else {
            memcpy(xt + nt * D, x + i * D, sizeof(double) * D);
            yt[nt++] = y[i];
        }
    }
    double want[3], want_expl[3];
    cr_assert_eq(pca_regression_rmse(want, want_expl, ks, 3, xt, yt, nt, xv, yv, nv, D, 1), SF_OK);
    for (int i = 0; i < 3; i++) {
        cr_assert_float_eq(rmse[i], want[i], 1e-9, "k = %d", ks[i]);
        cr_assert_float_eq(expl[i], want_expl[i], 1e-9);
    }
    cr_assert_lt(rmse[0], 0.03, "the first component carries the target");
    /* latents of a dense run are its leading components: the first follows z1, as
     * the stellar-mass column does not; its share is the first eigenvalue's */
    latent_table t;
    cr_assert_eq(run_latents(&t, &rd, s, 2, ""), SF_OK, "%s", sf_last_error());
    cr_assert_eq(t.is_pca, 1);
    cr_assert_eq(t.n_rows, 2);
    cr_assert_eq(t.row_id[0], 1);
    cr_assert_float_eq(t.row_share[0], want_expl[0], 1e-9);
    cr_assert_gt(t.row_share[0], t.row_share[1]);
    run_data_free(&rd);
    latent_table_free(&t);
    store_close(s);
}

Test(report, cli_usage_and_missing_file, .init = setup, .fini = teardown) {
    const char *none[] = {"report", NULL};
    cr_assert_eq(cli_report(1, (char **)none), 2);
    char missing[160];
    snprintf(missing, sizeof missing, "%s/nothing.db", dir);
    const char *args[] = {"report", missing, NULL};
    cr_assert_eq(cli_report(2, (char **)args), 1);
    const char *bad_k[] = {"pca", missing, "D", "--k", "2,x", NULL};
    cr_assert_eq(cli_pca(5, (char **)bad_k), 2);
}

Test(report, parse_int_list) {
    int v[8], n;
    cr_assert_eq(analysis_parse_int_list("2,3,4,6,8", v, 8, 1, 512, &n), SF_OK);
    cr_assert_eq(n, 5);
    cr_assert_eq(v[4], 8);
    cr_assert_eq(analysis_parse_int_list("2,,3", v, 8, 1, 512, &n), SF_ERR);
    cr_assert_eq(analysis_parse_int_list("0", v, 8, 1, 512, &n), SF_ERR);
    cr_assert_eq(analysis_parse_int_list("1,2,3", v, 2, 1, 512, &n), SF_ERR);
}

/* The sweep's table from runs named as the sweep names them. */
Test(sweep, table_from_named_runs, .init = setup, .fini = teardown) {
    static sparse_run r;
    store_run_input in;
    store *s;
    cr_assert_eq(store_open(&s, db, STORE_CREATE), SF_OK);
    const double rmse_k2[3] = {0.090, 0.094, 0.095};
    for (int seed = 1; seed <= 3; seed++) {
        make_sparse(&r, &in);
        sweep_run_name(in.run.prefix, sizeof in.run.prefix, 2, seed);
        in.run.seed = (uint64_t)seed;
        in.run.valid_rmse = rmse_k2[seed - 1];
        cr_assert_eq(store_add_run(s, &in, NULL), SF_OK, "%s", sf_last_error());
    }
    make_sparse(&r, &in);
    sweep_run_name(in.run.prefix, sizeof in.run.prefix, 4, 1);
    cr_assert_str_eq(in.run.prefix, "k4s1");
    in.run.valid_rmse = 0.2;
    cr_assert_eq(store_add_run(s, &in, NULL), SF_OK, "%s", sf_last_error()); /* k = 2 inside */
    sweep_table t;
    const int ks[2] = {2, 3};
    cr_assert_eq(sweep_collect(&t, s, ks, 2, 3), SF_OK, "%s", sf_last_error());
    cr_assert_eq(t.n_runs[0], 3);
    cr_assert_eq(t.n_runs[1], 0);
    double mean = (0.090 + 0.094 + 0.095) / 3, ss = 0;
    for (int i = 0; i < 3; i++) ss += (rmse_k2[i] - mean) * (rmse_k2[i] - mean);
    cr_assert_float_eq(t.rmse_mean[0], mean, 1e-12);
    cr_assert_float_eq(t.rmse_se[0], sqrt(ss / 2) / sqrt(3.0), 1e-12);
    cr_assert(isnan(t.rmse_mean[1]));
    /* The three k = 2 runs hold the same activations: the refit is the regression
     * (tested against the normal equations in test_analysis_pca) on features 3, 7, 11
     * of the arrays that went in, training rows fitted, validation rows scored. */
    static double xt[N * 3], xv[N * 3], yt[N], yv[N], pv[N];
    const int fs[3] = {F_ALWAYS, F_OFTEN, F_RARE};
    int nt = 0, nv = 0;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < 3; j++) {
            if (r.split[i]) xv[nv * 3 + j] = r.a[i][fs[j]], yv[nv] = r.truth[i], nv += j == 2;
            else xt[nt * 3 + j] = r.a[i][fs[j]], yt[nt] = r.truth[i], nt += j == 2;
        }
    linreg lr;
    cr_assert_eq(linreg_fit(&lr, xt, nt, 3, yt, 1), SF_OK);
    linreg_predict(&lr, xv, nv, pv);
    double want = analysis_rmse(pv, yv, nv, 1);
    linreg_free(&lr);
    cr_assert_float_eq(t.refit_mean[0], want, 1e-6);
    cr_assert_float_eq(t.refit_se[0], 0.0, 1e-9);
    cr_assert(!t.have_dense);
    cr_assert(isnan(t.pca[0]));
    /* A run whose name says k = 4 but holds k = 2 is refused. */
    const int k4[1] = {4};
    cr_assert_eq(sweep_collect(&t, s, k4, 1, 1), SF_ERR);
    cr_assert(strstr(sf_last_error(), "k4s1 has k = 2"), "%s", sf_last_error());
    store_close(s);

    char fig[160];
    snprintf(fig, sizeof fig, "%s/fig4.png", dir);
    const char *args[] = {"sweep", "--no-train", "--ks", "2,3", "--figure", fig, db, NULL};
    cr_assert_eq(cli_sweep(7, (char **)args), 0, "%s", sf_last_error());
    cr_assert_eq(access(fig, R_OK), 0);
}

/* What the features track: feature 7 was made to follow -true_inclination (and only
 * D4000 more strongly among all columns); Spearman recomputed from the arrays. */
Test(latents, features_and_components_against_the_catalogue, .init = setup, .fini = teardown) {
    static sparse_run r;
    write_sparse(&r);
    store *s;
    cr_assert_eq(store_open(&s, db, STORE_READ), SF_OK);
    run_data rd;
    cr_assert_eq(run_data_load(&rd, s, NULL), SF_OK, "%s", sf_last_error());
    latent_table t;
    cr_assert_eq(run_latents(&t, &rd, s, 8, "true_"), SF_OK, "%s", sf_last_error());
    cr_assert_eq(t.is_pca, 0);
    cr_assert_eq(t.n_rows, 3, "three live features");
    cr_assert_eq(t.n_cols, 1);
    cr_assert_str_eq(t.cols[0], "true_inclination");
    cr_assert_eq(t.row_id[1], F_OFTEN);
    static double a[N], c[N];
    int nv = 0;
    for (int i = 0; i < N; i++)
        if (r.split[i]) a[nv] = r.a[i][F_OFTEN], c[nv] = r.values[i * 11 + 10], nv++;
    cr_assert_float_eq(t.rho[1], analysis_spearman(a, c, nv), 1e-9);
    cr_assert_lt(t.rho[1], -0.3);
    char *text;
    size_t len;
    FILE *mem = open_memstream(&text, &len);
    latent_table_print(mem, &rd, &t, 3, 1);
    fclose(mem);
    cr_assert(strstr(text, "Z 7"), "%s", text);
    cr_assert(strstr(text, "true_inclination -0."), "%s", text);
    free(text);
    latent_table_free(&t);
    /* all physical columns: D4000 is feature 7's strongest */
    cr_assert_eq(run_latents(&t, &rd, s, 2, ""), SF_OK, "%s", sf_last_error());
    cr_assert_eq(t.n_rows, 2);
    int best = 0;
    for (int j = 1; j < t.n_cols; j++)
        if (fabs(t.rho[t.n_cols + j]) > fabs(t.rho[t.n_cols + best])) best = j;
    cr_assert_str_eq(t.cols[best], "d4000");
    latent_table_free(&t);
    cr_assert_eq(run_latents(&t, &rd, s, 2, "nothing_"), SF_ERR);
    cr_assert(strstr(sf_last_error(), "nothing_"), "%s", sf_last_error());
    run_data_free(&rd);
    store_close(s);
    const char *args[] = {"latents", db, "Z", "--top", "2", NULL};
    cr_assert_eq(cli_latents(5, (char **)args), 0, "%s", sf_last_error());
    const char *bad[] = {"latents", db, "--top", "0", NULL};
    cr_assert_eq(cli_latents(4, (char **)bad), 2);
}
