/* analysis_bpt.c: BPT classes from emission-line fluxes (Kauffmann et al. 2003,
 * Kewley et al. 2001 demarcations).
 * Layer: analysis. Calls: data_catalog, sf_util.
 * Called by: analysis_run, cli_bpt.
 */
#include <math.h>
#include <stdio.h>

#include "analysis.h"
#include "sf_util.h"

double bpt_kauffmann03(double x) {
    if (!(x < 0.05)) return NAN;
    return 0.61 / (x - 0.05) + 1.3;
}

double bpt_kewley01(double x) {
    if (!(x < 0.47)) return NAN;
    return 0.61 / (x - 0.47) + 1.19;
}

/* Kewley first: where the two curves cross (x < -1.3) a point above Kewley is an
 * AGN even when it is also below Kauffmann. */
bpt_class bpt_classify_ratios(double x, double y) {
    if (!isfinite(x) || !isfinite(y)) return BPT_NONE;
    if (x >= 0.47 || y > bpt_kewley01(x)) return BPT_AGN;
    if (x < 0.05 && y < bpt_kauffmann03(x)) return BPT_STAR_FORMING;
    return BPT_COMPOSITE;
}

const char *bpt_class_name(bpt_class c) {
    switch (c) {
    case BPT_STAR_FORMING: return "star-forming";
    case BPT_COMPOSITE: return "composite";
    case BPT_AGN: return "AGN";
    case BPT_NONE: break;
    }
    return "none";
}

const char *bpt_line_name(int line) {
    static const char *names[BPT_N_LINES] = {"nii_6584", "h_alpha", "oiii_5007", "h_beta"};
    return line >= 0 && line < BPT_N_LINES ? names[line] : "?";
}

bpt_class bpt_from_mpa_code(double code) {
    if (code == 1 || code == 2) return BPT_STAR_FORMING;
    if (code == 3) return BPT_COMPOSITE;
    if (code == 4 || code == 5) return BPT_AGN;
    return BPT_NONE;
}

static double log_ratio(double num, double den) {
    if (!(num > 0) || !(den > 0) || !isfinite(num) || !isfinite(den)) return NAN;
    return log10(num / den);
}

void bpt_classify_fluxes(bpt_result *r, const double flux[BPT_N_LINES], const double *err) {
    r->log_nii_ha = log_ratio(flux[BPT_NII], flux[BPT_HALPHA]);
    r->log_oiii_hb = log_ratio(flux[BPT_OIII], flux[BPT_HBETA]);
    r->cls = BPT_NONE;
    r->why[0] = '\0';
    /* The first unusable line, in the order of the diagram's lines, is the reason. */
    for (int l = 0; l < BPT_N_LINES; l++) {
        const char *name = bpt_line_name(l);
        if (isnan(flux[l])) {
            snprintf(r->why, sizeof r->why, "missing %s", name);
            return;
        }
        if (!(flux[l] > 0) || !isfinite(flux[l])) {
            snprintf(r->why, sizeof r->why, "non-positive %s flux (%g)", name, flux[l]);
            return;
        }
        if (!err) continue;
        if (isnan(err[l])) {
            snprintf(r->why, sizeof r->why, "missing %s error", name);
            return;
        }
        if (!(err[l] > 0) || !isfinite(err[l])) {
            snprintf(r->why, sizeof r->why, "invalid %s error (%g)", name, err[l]);
            return;
        }
        double sn = flux[l] / err[l];
        if (!(sn > BPT_MIN_SN)) {
            snprintf(r->why, sizeof r->why, "low S/N %s (%.1f)", name, sn);
            return;
        }
    }
    r->cls = bpt_classify_ratios(r->log_nii_ha, r->log_oiii_hb);
}

int bpt_classify_catalog(bpt_result *out, int *source, const catalog *cat, int prefer_bptclass) {
    static const char *flux_cols[BPT_N_LINES] = {"nii_6584_flux", "h_alpha_flux", "oiii_5007_flux",
                                                 "h_beta_flux"};
    int fcol[BPT_N_LINES], ecol[BPT_N_LINES], have_flux = 1, have_err = 1;
    for (int l = 0; l < BPT_N_LINES; l++) {
        char name[64];
        fcol[l] = catalog_column(cat, flux_cols[l]);
        snprintf(name, sizeof name, "%s_err", flux_cols[l]);
        ecol[l] = catalog_column(cat, name);
        have_flux &= fcol[l] >= 0;
        have_err &= ecol[l] >= 0;
    }
    int class_col = catalog_column(cat, "bptclass");
    int use_class = class_col >= 0 && (prefer_bptclass || !have_flux);
    if (!have_flux && !use_class)
        return sf_fail("%s: no BPT information: needs the columns nii_6584_flux, h_alpha_flux, "
                       "oiii_5007_flux, h_beta_flux (and their _err for the S/N cut) or bptclass",
                       cat->path ? cat->path : "catalogue");
    *source = use_class ? BPT_SOURCE_BPTCLASS : BPT_SOURCE_LINES;
    for (int i = 0; i < cat->n_rows; i++) {
        bpt_result *r = &out[i];
        if (have_flux) {
            double f[BPT_N_LINES], e[BPT_N_LINES];
            for (int l = 0; l < BPT_N_LINES; l++) {
                f[l] = catalog_value(cat, i, fcol[l]);
                e[l] = have_err ? catalog_value(cat, i, ecol[l]) : NAN;
            }
            bpt_classify_fluxes(r, f, have_err ? e : NULL);
        } else {
            *r = (bpt_result){.log_nii_ha = NAN, .log_oiii_hb = NAN, .cls = BPT_NONE};
        }
        if (use_class) {
            double code = catalog_value(cat, i, class_col);
            r->cls = bpt_from_mpa_code(code);
            if (r->cls == BPT_NONE) {
                if (isnan(code)) snprintf(r->why, sizeof r->why, "missing bptclass");
                else snprintf(r->why, sizeof r->why, "bptclass %g (unclassifiable)", code);
            } else {
                r->why[0] = '\0';
            }
        }
    }
    return SF_OK;
}
