/* Tests of the BPT classes: points either side of each demarcation (the curves
 * written out again here from Kauffmann et al. 2003 and Kewley et al. 2001), fluxes
 * with missing or low-S/N lines, the MPA-JHU codes. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "analysis.h"

static double kauffmann(double x) { return 0.61 / (x - 0.05) + 1.3; }
static double kewley(double x) { return 0.61 / (x - 0.47) + 1.19; }

Test(bpt, demarcation_curves) {
    cr_assert_float_eq(bpt_kauffmann03(-0.5), kauffmann(-0.5), 1e-12);
    cr_assert_float_eq(bpt_kewley01(0.2), kewley(0.2), 1e-12);
    cr_assert(isnan(bpt_kauffmann03(0.05)));
    cr_assert(isnan(bpt_kewley01(0.47)));
}

Test(bpt, either_side_of_kauffmann) {
    const double xs[] = {-1.0, -0.6, -0.3, 0.0, 0.04};
    for (size_t i = 0; i < sizeof xs / sizeof xs[0]; i++) {
        double x = xs[i], y = kauffmann(x);
        cr_assert_eq(bpt_classify_ratios(x, y - 0.01), BPT_STAR_FORMING, "x=%g", x);
        cr_assert_eq(bpt_classify_ratios(x, y + 0.01), BPT_COMPOSITE, "x=%g", x);
    }
    /* Right of x = 0.05 nothing is star-forming, however low. */
    cr_assert_eq(bpt_classify_ratios(0.06, -3.0), BPT_COMPOSITE);
}

Test(bpt, either_side_of_kewley) {
    const double xs[] = {-0.8, -0.4, 0.0, 0.2, 0.4, 0.46};
    for (size_t i = 0; i < sizeof xs / sizeof xs[0]; i++) {
        double x = xs[i], y = kewley(x);
        cr_assert_eq(bpt_classify_ratios(x, y + 0.01), BPT_AGN, "x=%g", x);
        cr_assert_eq(bpt_classify_ratios(x, y - 0.01), BPT_COMPOSITE, "x=%g", x);
    }
    cr_assert_eq(bpt_classify_ratios(0.47, -2.0), BPT_AGN);
    cr_assert_eq(bpt_classify_ratios(0.9, 0.0), BPT_AGN);
    /* Far left the curves cross: above Kewley wins even below Kauffmann. */
    double x = -1.6;
    cr_assert_lt(kewley(x), kauffmann(x));
    cr_assert_eq(bpt_classify_ratios(x, 0.5 * (kewley(x) + kauffmann(x))), BPT_AGN);
    cr_assert_eq(bpt_classify_ratios(NAN, 0.0), BPT_NONE);
}

/* Fluxes whose ratios are exactly (x, y), every line at S/N sn. */
static void fluxes_for(double flux[4], double err[4], double x, double y, double sn) {
    flux[BPT_HALPHA] = 300.0;
    flux[BPT_NII] = 300.0 * pow(10, x);
    flux[BPT_HBETA] = 80.0;
    flux[BPT_OIII] = 80.0 * pow(10, y);
    for (int l = 0; l < 4; l++) err[l] = flux[l] / sn;
}

Test(bpt, classes_from_fluxes) {
    double f[4], e[4];
    bpt_result r;
    fluxes_for(f, e, -0.5, kauffmann(-0.5) - 0.1, 10);
    bpt_classify_fluxes(&r, f, e);
    cr_assert_eq(r.cls, BPT_STAR_FORMING);
    cr_assert_float_eq(r.log_nii_ha, -0.5, 1e-12);
    cr_assert_float_eq(r.log_oiii_hb, kauffmann(-0.5) - 0.1, 1e-12);
    cr_assert_str_eq(r.why, "");
    fluxes_for(f, e, 0.1, kewley(0.1) + 0.1, 10);
    bpt_classify_fluxes(&r, f, e);
    cr_assert_eq(r.cls, BPT_AGN);
    fluxes_for(f, e, 0.1, kewley(0.1) - 0.1, 10);
    bpt_classify_fluxes(&r, f, NULL); /* no errors: no S/N cut */
    cr_assert_eq(r.cls, BPT_COMPOSITE);
    cr_assert_str_eq(bpt_class_name(r.cls), "composite");
}

Test(bpt, low_sn_and_missing_lines_have_reasons) {
    double f[4], e[4];
    bpt_result r;
    fluxes_for(f, e, -0.5, -0.5, 10);
    e[BPT_HBETA] = f[BPT_HBETA] / 2.5;
    bpt_classify_fluxes(&r, f, e);
    cr_assert_eq(r.cls, BPT_NONE);
    cr_assert_str_eq(r.why, "low S/N h_beta (2.5)");
    cr_assert(isfinite(r.log_oiii_hb), "ratios stay for plotting");

    fluxes_for(f, e, -0.5, -0.5, 10);
    e[BPT_NII] = f[BPT_NII] / 3.0; /* S/N exactly 3 is not enough */
    bpt_classify_fluxes(&r, f, e);
    cr_assert_eq(r.cls, BPT_NONE);
    cr_assert(strstr(r.why, "low S/N nii_6584"), "%s", r.why);

    fluxes_for(f, e, -0.5, -0.5, 10);
    f[BPT_OIII] = NAN;
    bpt_classify_fluxes(&r, f, e);
    cr_assert_eq(r.cls, BPT_NONE);
    cr_assert_str_eq(r.why, "missing oiii_5007");
    cr_assert(isnan(r.log_oiii_hb));
    cr_assert_float_eq(r.log_nii_ha, -0.5, 1e-12);

    fluxes_for(f, e, -0.5, -0.5, 10);
    f[BPT_HALPHA] = -4;
    bpt_classify_fluxes(&r, f, e);
    cr_assert(strstr(r.why, "non-positive h_alpha"), "%s", r.why);

    fluxes_for(f, e, -0.5, -0.5, 10);
    e[BPT_HALPHA] = NAN;
    bpt_classify_fluxes(&r, f, e);
    cr_assert_str_eq(r.why, "missing h_alpha error");
}

Test(bpt, mpa_codes) {
    cr_assert_eq(bpt_from_mpa_code(1), BPT_STAR_FORMING);
    cr_assert_eq(bpt_from_mpa_code(2), BPT_STAR_FORMING);
    cr_assert_eq(bpt_from_mpa_code(3), BPT_COMPOSITE);
    cr_assert_eq(bpt_from_mpa_code(4), BPT_AGN);
    cr_assert_eq(bpt_from_mpa_code(5), BPT_AGN);
    cr_assert_eq(bpt_from_mpa_code(-1), BPT_NONE);
    cr_assert_eq(bpt_from_mpa_code(NAN), BPT_NONE);
}

/* ---- the bpt subcommand on a catalogue written here ---- */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cli.h"
#include "sf_util.h"

static char tmpdir[64];

static void make_tmpdir(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/sfnet-bpt-XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
}

static void remove_tmpdir(void) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    cr_assert_eq(system(cmd), 0);
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

static int run_bpt(int n, const char **args) {
    char *argv[8];
    for (int i = 0; i < n; i++) argv[i] = (char *)args[i];
    argv[n] = NULL;
    return cli_bpt(n, argv);
}

/* Row 1 star-forming (x = -0.5, y = -0.5), row 2 AGN (x = 0.0, y = 0.5),
 * row 3 composite (x = -0.2, y = 0.0: Ka(-0.2) = -1.14, Ke(-0.2) = 0.28),
 * row 4 low S/N [OIII], row 5 missing Hbeta. bptclass says 4, 1, 3, -1, 2. */
static const char *catalogue_text =
    "objID,nii_6584_flux,nii_6584_flux_err,h_alpha_flux,h_alpha_flux_err,"
    "oiii_5007_flux,oiii_5007_flux_err,h_beta_flux,h_beta_flux_err,bptclass\n"
    "1237648704043942146,31.6227766,1,100,1,31.6227766,1,100,1,4\n"
    "2,100,1,100,1,316.227766,1,100,1,1\n"
    "3,63.0957344,1,100,1,100,1,100,1,3\n"
    "4,31.6227766,1,100,1,2.5,1,100,1,-1\n"
    "5,31.6227766,1,100,1,31.6227766,1,,1,2\n";

static char *read_all(const char *path) {
    char *data;
    size_t len;
    cr_assert_eq(sf_read_file(path, &data, &len), SF_OK, "%s", sf_last_error());
    return data;
}

Test(bpt_cli, classifies_from_lines, .init = make_tmpdir, .fini = remove_tmpdir) {
    char csv[128], out[128];
    snprintf(csv, sizeof csv, "%s/cat.csv", tmpdir);
    snprintf(out, sizeof out, "%s/bpt.csv", tmpdir);
    write_file(csv, catalogue_text);
    const char *args[] = {"bpt", "--catalog", csv, "-o", out, "--from-lines"};
    cr_assert_eq(run_bpt(6, args), 0);
    char *text = read_all(out);
    cr_assert(strstr(text, "objID,log_nii_ha,log_oiii_hb,class,why\n"), "%s", text);
    cr_assert(strstr(text, "1237648704043942146,-0.500000,-0.500000,star-forming,\n"), "%s", text);
    cr_assert(strstr(text, "\n2,0.000000,0.500000,AGN,\n"), "%s", text);
    cr_assert(strstr(text, "\n3,-0.200000,0.000000,composite,\n"), "%s", text);
    cr_assert(strstr(text, "\n4,-0.500000,-1.602060,,low S/N oiii_5007 (2.5)\n"), "%s", text);
    cr_assert(strstr(text, "\n5,-0.500000,,,missing h_beta\n"), "%s", text);
    free(text);
}

Test(bpt_cli, prefers_the_catalogue_class, .init = make_tmpdir, .fini = remove_tmpdir) {
    char csv[128], out[128];
    snprintf(csv, sizeof csv, "%s/cat.csv", tmpdir);
    snprintf(out, sizeof out, "%s/bpt.csv", tmpdir);
    write_file(csv, catalogue_text);
    const char *args[] = {"bpt", "-c", csv, "-o", out};
    cr_assert_eq(run_bpt(5, args), 0);
    char *text = read_all(out);
    cr_assert(strstr(text, "1237648704043942146,-0.500000,-0.500000,AGN,\n"), "%s", text);
    cr_assert(strstr(text, "\n2,0.000000,0.500000,star-forming,\n"), "%s", text);
    cr_assert(strstr(text, "\n4,-0.500000,-1.602060,,bptclass -1 (unclassifiable)\n"), "%s", text);
    cr_assert(strstr(text, "\n5,-0.500000,,star-forming,\n"), "%s", text);
    free(text);

    catalog cat;
    cr_assert_eq(catalog_load(&cat, csv), SF_OK);
    bpt_result res[5];
    int source = -1;
    cr_assert_eq(bpt_classify_catalog(res, &source, &cat, 1), SF_OK);
    cr_assert_eq(source, BPT_SOURCE_BPTCLASS);
    cr_assert_eq(bpt_classify_catalog(res, &source, &cat, 0), SF_OK);
    cr_assert_eq(source, BPT_SOURCE_LINES);
    cr_assert_eq(res[2].cls, BPT_COMPOSITE);
    catalog_free(&cat);
}

Test(bpt_cli, refuses_a_catalogue_without_lines, .init = make_tmpdir, .fini = remove_tmpdir) {
    char csv[128], out[128];
    snprintf(csv, sizeof csv, "%s/cat.csv", tmpdir);
    snprintf(out, sizeof out, "%s/bpt.csv", tmpdir);
    write_file(csv, "objID,oh_p50\n1,8.9\n2,9.0\n");
    const char *args[] = {"bpt", "--catalog", csv, "-o", out};
    cr_assert_eq(run_bpt(5, args), 1);
    cr_assert(strstr(sf_last_error(), "no BPT information"), "%s", sf_last_error());
    cr_assert_neq(access(out, F_OK), 0, "no output file on failure");
    const char *bad[] = {"bpt", "-o", out};
    cr_assert_eq(run_bpt(3, bad), 2);
}
