/* analysis_labels.c: suggested feature labels from Spearman correlations of a
 * feature's activation with the catalogue's numeric columns.
 * Layer: analysis. Calls: analysis_stats, sf_util.
 * Called by: analysis_run.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis.h"
#include "sf_util.h"

static const struct {
    const char *column;
    const char *name;
} friendly_names[] = {
    {"log_nii_ha", "[NII]/Halpha"},
    {"log_oiii_hb", "[OIII]/Hbeta"},
    {"nii_6584_flux", "[NII] flux"},
    {"h_alpha_flux", "Halpha flux"},
    {"oiii_5007_flux", "[OIII] flux"},
    {"h_beta_flux", "Hbeta flux"},
    {"log_nii_6584_flux", "log [NII] flux"},
    {"log_h_alpha_flux", "log Halpha flux"},
    {"log_oiii_5007_flux", "log [OIII] flux"},
    {"log_h_beta_flux", "log Hbeta flux"},
    {"oh_p50", "metallicity"},
    {"oh_p16", "metallicity (16th pct)"},
    {"oh_p84", "metallicity (84th pct)"},
    {"lgm_tot_p50", "stellar mass"},
    {"sfr_tot_p50", "SFR"},
    {"specsfr_tot_p50", "specific SFR"},
    {"d4000", "D4000 (stellar age)"},
    {"z", "redshift"},
    {"petroR50_r", "half-light radius"},
    {"modelMag_u", "u magnitude"},
    {"modelMag_g", "g magnitude"},
    {"modelMag_r", "r magnitude"},
    {"modelMag_i", "i magnitude"},
    {"modelMag_z", "z magnitude"},
    {"bptclass", "BPT class"},
    {"ra", "right ascension"},
    {"dec", "declination"},
};

const char *label_friendly_name(const char *column_name) {
    for (size_t i = 0; i < sizeof friendly_names / sizeof friendly_names[0]; i++)
        if (!strcmp(friendly_names[i].column, column_name)) return friendly_names[i].name;
    return column_name;
}

void label_format(char *buf, size_t size, const char *column_name, double rho) {
    snprintf(buf, size, "%s %s (rho %.2f)", rho >= 0 ? "high" : "low",
             label_friendly_name(column_name), rho);
}

static int cmp_abs_rho_desc(const void *a, const void *b) {
    const label_match *x = a, *y = b;
    double ax = fabs(x->rho), ay = fabs(y->rho);
    if (ax != ay) return ax > ay ? -1 : 1;
    return (x->column > y->column) - (x->column < y->column);
}

int label_rank(label_match *m, int n) {
    int kept = 0;
    for (int i = 0; i < n; i++)
        if (m[i].n >= LABEL_MIN_PAIRS && isfinite(m[i].rho)) m[kept++] = m[i];
    qsort(m, (size_t)kept, sizeof(label_match), cmp_abs_rho_desc);
    return kept;
}

int label_suggest(label_match *out, int max_out, const double *a, int n, const double *cols,
                  int n_cols) {
    label_match *all = xmalloc(sizeof(label_match) * (size_t)(n_cols > 0 ? n_cols : 1));
    double *col = xmalloc(sizeof(double) * (size_t)(n > 0 ? n : 1));
    int m = 0;
    for (int c = 0; c < n_cols; c++) {
        int pairs = 0;
        for (int i = 0; i < n; i++) {
            col[i] = cols[(size_t)i * (size_t)n_cols + (size_t)c];
            pairs += isfinite(col[i]) && isfinite(a[i]);
        }
        if (pairs < LABEL_MIN_PAIRS) continue;
        all[m++] = (label_match){c, analysis_spearman(a, col, n), pairs};
    }
    m = label_rank(all, m);
    int k = m < max_out ? m : max_out;
    memcpy(out, all, sizeof(label_match) * (size_t)(k > 0 ? k : 0));
    free(all);
    free(col);
    return k;
}
