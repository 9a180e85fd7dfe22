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
