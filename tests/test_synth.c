/* Tests of the synthetic survey: the physics of the drawn catalogue (without
 * rendering), image properties of rendered galaxies (noise-free), byte-identical
 * output for a seed whatever the thread count, the layout read back by the data
 * loader, the preview, and the error paths. */
#include <cairo.h>
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "data_catalog.h"
#include "data_image.h"
#include "sf_util.h"
#include "synth.h"

enum { N_CAT = 4000 };
static synth_galaxy *cat;

static void draw_catalogue(void) {
    cat = xmalloc(sizeof *cat * N_CAT);
    for (int k = 0; k < N_CAT; k++) synth_draw(&cat[k], 256, k);
}

static void free_catalogue(void) { free(cat); }

static double tremonti04(double x) { return -1.492 + 1.847 * x - 0.08026 * x * x; }

static double snr_ok(const synth_galaxy *g) {
    for (int l = 0; l < SYNTH_N_LINES; l++)
        if (!(g->flux[l] > 3 * g->flux_err[l])) return 0;
    return 1;
}

TestSuite(synth_catalogue, .init = draw_catalogue, .fini = free_catalogue);

Test(synth_catalogue, draws_are_deterministic_with_unique_19_digit_ids) {
    synth_galaxy a, b;
    synth_draw(&a, 256, 17);
    synth_draw(&b, 256, 17);
    cr_assert_eq(memcmp(&a, &b, sizeof a), 0, "same (seed, index) must give the same galaxy");
    synth_draw(&b, 257, 17);
    cr_assert_neq(a.lgm, b.lgm, "another seed gives another galaxy");
    for (int k = 0; k < N_CAT; k++) {
        cr_assert_eq(strlen(cat[k].obj_id), 19, "%s", cat[k].obj_id);
        cr_assert_eq(strncmp(cat[k].obj_id, "1237", 4), 0);
        cr_assert(cat[k].lgm >= 8.5 && cat[k].lgm <= 11.5);
        cr_assert(cat[k].z >= 0.02 && cat[k].z <= 0.2, "z %g", cat[k].z);
        cr_assert(cat[k].axis_ratio >= cat[k].q0 - 1e-9 && cat[k].axis_ratio <= 1 + 1e-9);
    }
    /* ids: sorted copy has no duplicates */
    char(*ids)[24] = xmalloc(sizeof *ids * N_CAT);
    for (int k = 0; k < N_CAT; k++) memcpy(ids[k], cat[k].obj_id, 24);
    qsort(ids, N_CAT, 24, (int (*)(const void *, const void *))strcmp);
    for (int k = 1; k < N_CAT; k++) cr_assert_str_neq(ids[k - 1], ids[k]);
    free(ids);
}

Test(synth_catalogue, mass_function_has_more_low_mass_galaxies_and_quenching_rises) {
    int low = 0, high = 0, nq[3] = {0}, nt[3] = {0};
    for (int k = 0; k < N_CAT; k++) {
        low += cat[k].lgm < 9.5;
        high += cat[k].lgm > 10.5;
        int bin = cat[k].lgm < 9.5 ? 0 : cat[k].lgm < 10.5 ? 1 : 2;
        nt[bin]++;
        nq[bin] += cat[k].quenched;
    }
    cr_assert_gt(low, high);
    double f0 = (double)nq[0] / nt[0], f2 = (double)nq[2] / nt[2];
    cr_assert_lt(f0, 0.2, "quenched fraction below 10^9.5: %.2f", f0);
    cr_assert_gt(f2, 0.5, "quenched fraction above 10^10.5: %.2f", f2);
}

Test(synth_catalogue, cosmology_matches_flat_lcdm) {
    /* H0 = 70, Omega_m = 0.3: D_C(0.1) = 418.45 Mpc (independent numerical integral) */
    cr_assert_float_eq(synth_comoving_distance(0.1), 418.45, 0.05);
    cr_assert_float_eq(synth_angular_diameter_distance(0.1), 380.41, 0.05);
    cr_assert_float_eq(synth_luminosity_distance(0.1), 460.30, 0.05);
    cr_assert_eq(synth_comoving_distance(0), 0);
}

Test(synth_catalogue, metallicity_rises_with_mass) {
    double sum[3] = {0}, n[3] = {0};
    for (int k = 0; k < N_CAT; k++) {
        if (isnan(cat[k].oh)) continue;
        double x = cat[k].lgm;
        int bin = x < 9.25 ? 0 : (x > 9.75 && x < 10.25) ? 1 : x > 10.5 ? 2 : -1;
        if (bin < 0) continue;
        sum[bin] += cat[k].oh, n[bin]++;
    }
    for (int b = 0; b < 3; b++) cr_assert_gt(n[b], 30, "bin %d has %g galaxies", b, n[b]);
    double m0 = sum[0] / n[0], m1 = sum[1] / n[1], m2 = sum[2] / n[2];
    cr_assert_gt(m1, m0 + 0.1, "oh_p50: %.3f (9) %.3f (10)", m0, m1);
    cr_assert_gt(m2, m1 + 0.05, "oh_p50: %.3f (10) %.3f (10.7)", m1, m2);
}

Test(synth_catalogue, edge_on_disks_are_metal_poorer_at_fixed_mass) {
    /* residuals from the MZR remove the mass dependence */
    double s_face = 0, n_face = 0, s_edge = 0, n_edge = 0;
    for (int k = 0; k < N_CAT; k++) {
        const synth_galaxy *g = &cat[k];
        if (isnan(g->oh) || g->bulge_frac > 0.3) continue;
        double res = g->oh - tremonti04(g->lgm);
        if (g->inclination < 40) s_face += res, n_face++;
        if (g->inclination > 75) s_edge += res, n_edge++;
    }
    cr_assert_gt(n_face, 100);
    cr_assert_gt(n_edge, 100);
    double d = s_face / n_face - s_edge / n_edge;
    cr_assert_gt(d, 0.04, "face-on minus edge-on metallicity residual %.3f dex", d);
    cr_assert_lt(d, 0.25, "face-on minus edge-on metallicity residual %.3f dex", d);
}

/* Mean residual from the MZR of the galaxies with a metallicity where sel holds;
 * counts them in *n. */
static double mean_residual(int (*sel)(const synth_galaxy *g), int *n) {
    double s = 0;
    *n = 0;
    for (int k = 0; k < N_CAT; k++) {
        if (isnan(cat[k].oh) || !sel(&cat[k])) continue;
        s += cat[k].oh - tremonti04(cat[k].lgm);
        (*n)++;
    }
    return *n ? s / *n : NAN;
}

static double ms_offset(const synth_galaxy *g) { return g->sfr - (0.76 * (g->lgm - 10) - 0.04); }
static int above_ms(const synth_galaxy *g) { return ms_offset(g) > 0.2; }
static int below_ms(const synth_galaxy *g) { return ms_offset(g) < -0.2; }
static int compact(const synth_galaxy *g) { return g->size_offset < -0.1; }
static int extended(const synth_galaxy *g) { return g->size_offset > 0.1; }
static int dense(const synth_galaxy *g) { return g->env - (0.1 + 0.25 * (g->lgm - 10)) > 0.5; }
static int sparse(const synth_galaxy *g) { return g->env - (0.1 + 0.25 * (g->lgm - 10)) < -0.5; }
static int close_pair(const synth_galaxy *g) { return g->merger; }
static int no_pair(const synth_galaxy *g) { return !g->merger; }
static int barred_massive(const synth_galaxy *g) { return g->bar && g->lgm > 10; }
static int unbarred_disk_massive(const synth_galaxy *g) {
    return !g->bar && g->lgm > 10 && !g->quenched && g->bulge_frac < 0.5;
}

Test(synth_catalogue, metallicity_follows_the_visible_properties_of_the_literature) {
    /* each pair: the side expected metal-richer at fixed mass, then the other */
    static const struct {
        const char *what;
        int (*rich)(const synth_galaxy *), (*poor)(const synth_galaxy *);
        double min_diff;
    } cases[] = {
        {"below minus above the main sequence (FMR)", below_ms, above_ms, 0.04},
        {"compact minus extended disks", compact, extended, 0.03},
        {"dense minus sparse environments", dense, sparse, 0.01},
        {"isolated minus close pairs", no_pair, close_pair, 0.02},
        {"barred minus unbarred massive disks", barred_massive, unbarred_disk_massive, 0.02},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int na, nb;
        double a = mean_residual(cases[c].rich, &na), b = mean_residual(cases[c].poor, &nb);
        cr_log_info("%s: %+.3f dex (%d, %d galaxies)", cases[c].what, a - b, na, nb);
        cr_assert_geq(na, 20, "%s: %d galaxies", cases[c].what, na);
        cr_assert_geq(nb, 20, "%s: %d galaxies", cases[c].what, nb);
        cr_assert_gt(a - b, cases[c].min_diff, "%s: %+.3f dex", cases[c].what, a - b);
        cr_assert_lt(a - b, 0.3, "%s: %+.3f dex", cases[c].what, a - b);
    }
}

Test(synth_catalogue, the_fibre_sees_the_inner_disk_of_large_face_on_galaxies) {
    /* mean radius of the fibre's light in half-light radii: small for large, nearby,
     * face-on disks, larger for small distant ones (the whole disk's would be 1.19) and
     * for edge-on ones */
    double big = 0, small = 0, edge = 0;
    int nb = 0, ns = 0, ne = 0;
    for (int k = 0; k < N_CAT; k++) {
        const synth_galaxy *g = &cat[k];
        double re = g->disk_re_kpc / g->kpc_per_arcsec;
        cr_assert(g->fibre_r > 0 && g->fibre_r < 5, "fibre_r %g", g->fibre_r);
        if (g->inclination < 40 && re > 6) big += g->fibre_r, nb++;
        if (g->inclination < 40 && re < 2) small += g->fibre_r, ns++;
        if (g->inclination > 80 && re > 6) edge += g->fibre_r, ne++;
    }
    cr_assert(nb > 20 && ns > 20 && ne > 10, "%d %d %d", nb, ns, ne);
    cr_assert_lt(big / nb, 0.6, "large face-on: %.2f", big / nb);
    cr_assert_gt(small / ns, big / nb + 0.2, "small face-on %.2f, large %.2f", small / ns,
                 big / nb);
    cr_assert_lt(small / ns, 1.19);
    cr_assert_gt(edge / ne, big / nb + 0.2, "edge-on %.2f, face-on %.2f", edge / ne, big / nb);
}

Test(synth_catalogue, quenching_and_agn_follow_mass_environment_and_pairs) {
    /* at 10 < log M < 10.5: quenched fraction higher in dense regions (Peng et al.
     * 2010); AGN commoner in close pairs (Ellison et al. 2011) and above 10^10.5 */
    int q[2] = {0}, n[2] = {0}, agn_pair = 0, n_pair = 0, agn_single = 0, n_single = 0;
    int agn_hi = 0, n_hi = 0, agn_lo = 0, n_lo = 0;
    for (int k = 0; k < N_CAT; k++) {
        const synth_galaxy *g = &cat[k];
        if (g->lgm > 10 && g->lgm < 10.5 && (dense(g) || sparse(g))) {
            n[dense(g)]++;
            q[dense(g)] += g->quenched;
        }
        if (g->lgm > 10.3) {
            if (g->merger) n_pair++, agn_pair += g->agn;
            else n_single++, agn_single += g->agn;
        }
        if (g->lgm > 10.5) n_hi++, agn_hi += g->agn;
        if (g->lgm < 9.8) n_lo++, agn_lo += g->agn;
    }
    double fd = (double)q[1] / n[1], fs = (double)q[0] / n[0];
    cr_assert_gt(fd, fs + 0.1, "quenched: dense %.2f, sparse %.2f", fd, fs);
    double fp = (double)agn_pair / n_pair, fi = (double)agn_single / n_single;
    cr_assert_gt(n_pair, 15);
    cr_assert_gt(fp, 1.5 * fi, "AGN: pairs %.2f, isolated %.2f", fp, fi);
    cr_assert_gt((double)agn_hi / n_hi, 10 * (double)agn_lo / n_lo + 0.05, "AGN by mass");
}

Test(synth_catalogue, the_field_holds_stars_neighbours_and_background_galaxies) {
    /* stars: more towards the galactic plane; group neighbours: more in dense regions;
     * background galaxies: ~2 per 144-pixel cutout at the SDSS counts, fainter ones
     * commoner */
    double st_low = 0, st_high = 0, nb_dense = 0, nb_sparse = 0, bg = 0;
    int n_low = 0, n_high = 0, n_dense = 0, n_sparse = 0, bright = 0, faint = 0;
    for (int k = 0; k < N_CAT; k++) {
        const synth_galaxy *g = &cat[k];
        cr_assert(g->n_objects >= g->n_stars + g->n_neighbours + g->n_background);
        if (g->gal_lat < 45) st_low += g->n_stars, n_low++;
        if (g->gal_lat > 70) st_high += g->n_stars, n_high++;
        if (g->env > 1) nb_dense += g->n_neighbours, n_dense++;
        if (g->env < 0) nb_sparse += g->n_neighbours, n_sparse++;
        bg += g->n_background;
        for (int o = 0; o < g->n_objects; o++) {
            if (g->objects[o].kind != SYNTH_OBJ_BACKGROUND) continue;
            double mag = 22.5 - 2.5 * log10(g->objects[o].flux[SYNTH_R]);
            cr_assert(mag > 15.99 && mag < 23.01, "background r = %.2f", mag);
            bright += mag < 20;
            faint += mag > 22;
        }
    }
    cr_assert(n_low > 100 && n_high > 100 && n_dense > 100 && n_sparse > 100);
    cr_assert_gt(st_low / n_low, 1.2 * st_high / n_high, "stars: low b %.2f, high b %.2f",
                 st_low / n_low, st_high / n_high);
    cr_assert_gt(nb_dense / n_dense, 5 * nb_sparse / n_sparse + 0.05,
                 "neighbours: dense %.2f, sparse %.2f", nb_dense / n_dense, nb_sparse / n_sparse);
    cr_assert(bg / N_CAT > 1.2 && bg / N_CAT < 3.5, "background galaxies per cutout %.2f",
              bg / N_CAT);
    cr_assert_gt(faint, 5 * bright, "background r > 22: %d, r < 20: %d", faint, bright);
}

Test(synth_catalogue, fields_differ_in_seeing_and_sky) {
    double s = 0, s2 = 0, m = 0, m2 = 0;
    int wide = 0;
    for (int k = 0; k < N_CAT; k++) {
        const synth_galaxy *g = &cat[k];
        cr_assert(g->psf_fwhm >= 0.8 && g->psf_fwhm <= 2.2);
        cr_assert(g->psf_wing > 0 && g->psf_wing < 0.25);
        s += g->psf_fwhm, s2 += g->psf_fwhm * g->psf_fwhm;
        m += g->sky_mag, m2 += g->sky_mag * g->sky_mag;
        wide += g->psf_fwhm > 1.7;
        /* a brighter sky is a noisier field */
        cr_assert_float_eq(log10(g->sky_noise), -0.2 * (g->sky_mag - 20.9), 0.2);
    }
    double sd = sqrt(s2 / N_CAT - (s / N_CAT) * (s / N_CAT));
    cr_assert_float_eq(s / N_CAT, 1.32, 0.06, "mean seeing %.2f", s / N_CAT);
    cr_assert(sd > 0.12 && sd < 0.3, "seeing sd %.2f", sd);
    cr_assert_gt(wide, N_CAT / 50, "a tail of bad seeing");
    double msd = sqrt(m2 / N_CAT - (m / N_CAT) * (m / N_CAT));
    cr_assert_float_eq(msd, 0.25, 0.03, "sky brightness sd %.3f", msd);
}

Test(synth_catalogue, farther_galaxies_look_smaller_and_fainter) {
    /* at fixed mass (10 < log M < 10.5) and disk size, a larger z gives a smaller
     * apparent radius and a fainter magnitude */
    double r_near = 0, r_far = 0, m_near = 0, m_far = 0;
    int n_near = 0, n_far = 0;
    for (int k = 0; k < N_CAT; k++) {
        const synth_galaxy *g = &cat[k];
        if (g->lgm < 10 || g->lgm > 10.5) continue;
        if (g->z < 0.04)
            r_near += g->petro_r50 * pow(10, -g->size_offset), m_near += g->mag[SYNTH_R], n_near++;
        if (g->z > 0.07)
            r_far += g->petro_r50 * pow(10, -g->size_offset), m_far += g->mag[SYNTH_R], n_far++;
    }
    cr_assert(n_near > 20 && n_far > 20, "%d near, %d far", n_near, n_far);
    cr_assert_gt(r_near / n_near, 1.8 * r_far / n_far);
    cr_assert_gt(m_far / n_far, m_near / n_near + 1.2);
}

Test(synth_catalogue, metallicity_scatter_and_missing_fraction_are_realistic) {
    double s = 0, s2 = 0, n = 0;
    int missing = 0;
    for (int k = 0; k < N_CAT; k++) {
        if (isnan(cat[k].oh)) {
            missing++;
            continue;
        }
        double r = cat[k].oh - tremonti04(cat[k].lgm);
        s += r, s2 += r * r, n++;
    }
    double sd = sqrt(s2 / n - (s / n) * (s / n));
    cr_assert(sd > 0.08 && sd < 0.2, "scatter about the MZR %.3f", sd);
    double f = (double)missing / N_CAT;
    cr_assert(f > 0.15 && f < 0.6, "fraction without oh_p50 %.2f", f);
    /* AGN never get a metallicity */
    for (int k = 0; k < N_CAT; k++)
        if (cat[k].bptclass == 4) cr_assert(isnan(cat[k].oh));
}

Test(synth_catalogue, quenched_galaxies_are_redder) {
    double sq = 0, nq = 0, ss = 0, ns = 0;
    for (int k = 0; k < N_CAT; k++) {
        double gr = cat[k].mag[SYNTH_G] - cat[k].mag[SYNTH_R];
        if (cat[k].quenched) sq += gr, nq++;
        else ss += gr, ns++;
    }
    cr_assert_gt(nq, 100);
    cr_assert_gt(sq / nq, ss / ns + 0.15, "g-r quenched %.3f, star-forming %.3f", sq / nq, ss / ns);
}

Test(synth_catalogue, kauffmann_line_separates_agn_from_star_forming) {
    int agn = 0, agn_above = 0, sf = 0, sf_below = 0;
    for (int k = 0; k < N_CAT; k++) {
        const synth_galaxy *g = &cat[k];
        if (!snr_ok(g)) continue;
        double x = log10(g->flux[SYNTH_NII] / g->flux[SYNTH_HALPHA]);
        double y = log10(g->flux[SYNTH_OIII] / g->flux[SYNTH_HBETA]);
        int above = x >= 0.05 || y > synth_kauffmann03(x);
        if (g->agn) agn++, agn_above += above;
        else if (!g->quenched) sf++, sf_below += !above;
    }
    cr_assert_gt(agn, 40, "only %d AGN with S/N > 3", agn);
    cr_assert_gt(sf, 500);
    double fa = (double)agn_above / agn, fs = (double)sf_below / sf;
    double acc = (double)(agn_above + sf_below) / (agn + sf);
    cr_assert_geq(fa, 0.9, "AGN above the Kauffmann line: %.3f", fa);
    cr_assert_geq(fs, 0.9, "star-forming below the Kauffmann line: %.3f", fs);
    cr_assert_geq(acc, 0.9);
}

Test(synth_catalogue, snr_cut_removes_some_but_not_most) {
    int kept = 0;
    for (int k = 0; k < N_CAT; k++) kept += snr_ok(&cat[k]);
    double removed = 1 - (double)kept / N_CAT;
    cr_assert(removed > 0.08 && removed < 0.45, "S/N > 3 removes %.2f", removed);
}

Test(synth_catalogue, line_fluxes_follow_sfr_distance_and_balmer_decrement) {
    /* Halpha fluxes in the catalogue's range (1e-17 erg/s/cm^2), and the observed
     * decrement of star-forming galaxies at or above the intrinsic 2.86 */
    int n = 0, typical = 0, decrement_ok = 0;
    for (int k = 0; k < N_CAT; k++) {
        const synth_galaxy *g = &cat[k];
        if (g->quenched || g->agn || !snr_ok(g)) continue;
        n++;
        typical += g->flux[SYNTH_HALPHA] > 10 && g->flux[SYNTH_HALPHA] < 1e4;
        double dec = g->flux[SYNTH_HALPHA] / g->flux[SYNTH_HBETA];
        decrement_ok += dec > 2.86 * 0.85;
    }
    cr_assert_gt((double)typical / n, 0.95);
    cr_assert_gt((double)decrement_ok / n, 0.95);
}

/* ---- rendering ---- */

static double band_sum(const float *bands, int S, int b) {
    double s = 0;
    for (int p = 0; p < S * S; p++) s += bands[(size_t)b * S * S + p];
    return s;
}

/* Second moments of band b about the flux-weighted centre, y pointing up. */
static void moments(const float *bands, int S, int b, double *mxx, double *myy, double *mxy) {
    const float *img = bands + (size_t)b * S * S;
    double s = 0, sx = 0, sy = 0;
    for (int r = 0; r < S; r++)
        for (int c = 0; c < S; c++) {
            double w = img[r * S + c];
            s += w, sx += w * c, sy += w * -r;
        }
    double cx = sx / s, cy = sy / s;
    *mxx = *myy = *mxy = 0;
    for (int r = 0; r < S; r++)
        for (int c = 0; c < S; c++) {
            double w = img[r * S + c] / s, dx = c - cx, dy = -r - cy;
            *mxx += w * dx * dx, *myy += w * dy * dy, *mxy += w * dx * dy;
        }
}

/* A plain galaxy: no arms, clumps, bar, companion, AGN point or dust lane. */
static synth_galaxy plain_galaxy(long index) {
    synth_galaxy g;
    synth_draw(&g, 99, index);
    g.arms = 0;
    g.clump_frac = 0;
    g.merger = 0;
    g.agn_point_frac = 0;
    g.dust_lane = 0;
    g.bar = 0;
    g.n_objects = 0;
    return g;
}

Test(synth_render, seeing_has_the_psf_width) {
    enum { S = 64 };
    synth_galaxy g = plain_galaxy(1);
    g.bulge_frac = 1;
    for (int b = 0; b < SYNTH_N_BANDS; b++) g.bulge_flux[b] += g.disk_flux[b], g.disk_flux[b] = 0;
    g.sersic_n = 1;
    g.bulge_re_kpc = 1e-3; /* far below a pixel: a point source */
    g.psf_fwhm = 1.3;
    g.psf_wing = 0; /* the core alone */
    float *bands = xmalloc(sizeof(float) * 3 * S * S);
    synth_render_options opt = {S, 0, 0};
    synth_render_bands(bands, &g, &opt);
    double mxx, myy, mxy;
    moments(bands, S, SYNTH_R, &mxx, &myy, &mxy);
    double fwhm = 2.3548 * sqrt(0.5 * (mxx + myy)) * SYNTH_PIXEL_ARCSEC;
    cr_assert_float_eq(fwhm, 1.3, 0.1, "measured FWHM %.3f arcsec", fwhm);
    cr_assert_float_eq(mxx, myy, 0.05 * mxx, "the PSF is round");
    /* seeing ~ lambda^-0.2: g wider than r wider than i */
    double gxx, gyy, ixx, iyy;
    moments(bands, S, SYNTH_G, &gxx, &gyy, &mxy);
    moments(bands, S, SYNTH_I, &ixx, &iyy, &mxy);
    cr_assert_gt(gxx + gyy, 1.05 * (mxx + myy));
    cr_assert_gt(mxx + myy, 1.03 * (ixx + iyy));
    /* the wing: a share w of the light in a Gaussian 2.5 times wider, so the second
     * moment grows to (1 - w) + w 6.25 times the core's */
    g.psf_wing = 0.1;
    synth_render_bands(bands, &g, &opt);
    double wxx, wyy;
    moments(bands, S, SYNTH_R, &wxx, &wyy, &mxy);
    cr_assert_float_eq((wxx + wyy) / (mxx + myy), 0.9 + 0.1 * 6.25, 0.08);
    free(bands);
}

Test(synth_render, flux_matches_the_magnitude_and_brighter_is_more) {
    enum { S = 144 };
    float *bands = xmalloc(sizeof(float) * 3 * S * S);
    synth_render_options opt = {S, 0, 0};
    int checked = 0;
    for (long k = 0; k < 60 && checked < 15; k++) {
        synth_galaxy g = plain_galaxy(k);
        if (g.petro_r50 > 4) continue; /* most light inside the cutout */
        synth_render_bands(bands, &g, &opt);
        double f = band_sum(bands, S, SYNTH_R), expect = pow(10, (22.5 - g.mag[SYNTH_R]) / 2.5);
        cr_assert_float_eq(f, expect, 0.1 * expect, "galaxy %ld: r flux %g, magnitude says %g", k,
                           f, expect);
        /* the same galaxy 1 mag brighter has 2.5 times the flux */
        for (int b = 0; b < SYNTH_N_BANDS; b++) g.bulge_flux[b] *= 2.5119, g.disk_flux[b] *= 2.5119;
        synth_render_bands(bands, &g, &opt);
        cr_assert_float_eq(band_sum(bands, S, SYNTH_R), 2.5119 * f, 0.01 * f);
        checked++;
    }
    cr_assert_geq(checked, 10);
    free(bands);
}

Test(synth_render, bars_and_clumps_move_light_without_adding_any) {
    enum { S = 144 };
    float *bands = xmalloc(sizeof(float) * 3 * S * S);
    synth_render_options opt = {S, 0, 0};
    synth_galaxy g = plain_galaxy(4);
    g.petro_r50 = 2;
    g.disk_re_kpc = 2 * g.kpc_per_arcsec;
    synth_render_bands(bands, &g, &opt);
    double plain = band_sum(bands, S, SYNTH_R);
    g.bar = 1, g.bar_frac = 0.12, g.bar_len_kpc = g.disk_re_kpc, g.bar_q = 0.3, g.bar_angle = 0.7;
    g.clump_frac = 0.08;
    synth_render_bands(bands, &g, &opt);
    cr_assert_float_eq(band_sum(bands, S, SYNTH_R), plain, 0.01 * plain);
    free(bands);
}

Test(synth_render, edge_on_disks_are_elongated_along_the_pa) {
    enum { S = 144 };
    float *bands = xmalloc(sizeof(float) * 3 * S * S);
    synth_render_options opt = {S, 0, 0};
    const double pas[3] = {20, 75, 140};
    for (int t = 0; t < 3; t++) {
        synth_galaxy g = plain_galaxy(3);
        g.bulge_frac = 0.05;
        for (int b = 0; b < SYNTH_N_BANDS; b++) {
            double tot = g.bulge_flux[b] + g.disk_flux[b];
            g.bulge_flux[b] = 0.05 * tot, g.disk_flux[b] = 0.95 * tot;
        }
        g.disk_re_kpc = 3 * g.kpc_per_arcsec; /* 3 arcsec */
        g.inclination = 85;
        g.axis_ratio = sqrt((1 - g.q0 * g.q0) * pow(cos(85 * M_PI / 180), 2) + g.q0 * g.q0);
        g.pa = pas[t];
        synth_render_bands(bands, &g, &opt);
        double mxx, myy, mxy;
        moments(bands, S, SYNTH_R, &mxx, &myy, &mxy);
        double angle = 0.5 * atan2(2 * mxy, mxx - myy) * 180 / M_PI;
        if (angle < 0) angle += 180;
        double tr = mxx + myy, det = mxx * myy - mxy * mxy;
        double l1 = tr / 2 + sqrt(tr * tr / 4 - det), l2 = tr / 2 - sqrt(tr * tr / 4 - det);
        cr_assert_float_eq(angle, pas[t], 3.0, "major axis at %.1f deg, PA %.1f", angle, pas[t]);
        cr_assert_lt(sqrt(l2 / l1), 0.5, "edge-on disk looks round: b/a %.2f", sqrt(l2 / l1));
    }
    free(bands);
}

Test(synth_render, quenched_galaxies_are_redder_in_the_images) {
    enum { S = 96 };
    float *bands = xmalloc(sizeof(float) * 3 * S * S);
    synth_render_options opt = {S, 0, 0};
    double sq = 0, ss = 0;
    int nq = 0, ns = 0;
    for (long k = 0; k < 400 && (nq < 12 || ns < 12); k++) {
        synth_galaxy g;
        synth_draw(&g, 5, k);
        if ((g.quenched && nq >= 12) || (!g.quenched && ns >= 12)) continue;
        synth_render_bands(bands, &g, &opt);
        double gr = -2.5 * log10(band_sum(bands, S, SYNTH_G) / band_sum(bands, S, SYNTH_R));
        if (g.quenched) sq += gr, nq++;
        else ss += gr, ns++;
    }
    cr_assert_eq(nq, 12);
    cr_assert_gt(sq / nq, ss / ns + 0.15, "image g-r: quenched %.3f, star-forming %.3f", sq / nq,
                 ss / ns);
    free(bands);
}

Test(synth_render, sky_noise_is_seeded_and_has_its_level) {
    enum { S = 64 };
    synth_galaxy g = plain_galaxy(2);
    for (int b = 0; b < SYNTH_N_BANDS; b++) g.bulge_flux[b] = g.disk_flux[b] = 0;
    float *a = xmalloc(sizeof(float) * 3 * S * S), *b = xmalloc(sizeof(float) * 3 * S * S);
    synth_render_options opt = {S, 1, 0};
    synth_render_bands(a, &g, &opt);
    synth_render_bands(b, &g, &opt);
    cr_assert_eq(memcmp(a, b, sizeof(float) * 3 * S * S), 0);
    double s = 0, s2 = 0;
    for (int p = 0; p < S * S; p++) s += a[S * S + p], s2 += (double)a[S * S + p] * a[S * S + p];
    double sd = sqrt(s2 / (S * S) - (s / (S * S)) * (s / (S * S)));
    cr_assert(sd > 2e-4 && sd < 2e-3, "r sky noise %g nanomaggies", sd);
    cr_assert_lt(fabs(s / (S * S) - g.sky_offset[SYNTH_R] * 0.0006), 3 * sd / S * 3,
                 "the sky is subtracted but for the field's residual (mean %g)", s / (S * S));
    /* a field with twice the noise */
    g.sky_noise *= 2;
    for (int k = 0; k < 3; k++) g.sky_offset[k] = 0;
    synth_render_bands(b, &g, &opt);
    double t = 0, t2 = 0;
    for (int p = 0; p < S * S; p++) t += b[S * S + p], t2 += (double)b[S * S + p] * b[S * S + p];
    double sd2 = sqrt(t2 / (S * S) - (t / (S * S)) * (t / (S * S)));
    cr_assert_float_eq(sd2 / sd, 2, 0.15, "noise ratio %.2f", sd2 / sd);
    free(a);
    free(b);
}

Test(synth_render, field_objects_land_where_drawn) {
    /* a galaxy with one star placed 10" right and 5" up: its light peaks there */
    enum { S = 144 };
    synth_galaxy g = plain_galaxy(6);
    for (int b = 0; b < SYNTH_N_BANDS; b++) g.bulge_flux[b] = g.disk_flux[b] = 0;
    g.n_objects = 1;
    memset(&g.objects[0], 0, sizeof g.objects[0]);
    g.objects[0].kind = SYNTH_OBJ_STAR;
    g.objects[0].dx = 10, g.objects[0].dy = 5;
    for (int b = 0; b < SYNTH_N_BANDS; b++) g.objects[0].flux[b] = 1;
    float *bands = xmalloc(sizeof(float) * 3 * S * S);
    synth_render_options with = {S, 0, 1}, without = {S, 0, 0};
    synth_render_bands(bands, &g, &without);
    cr_assert_lt(band_sum(bands, S, SYNTH_R), 1e-6);
    synth_render_bands(bands, &g, &with);
    cr_assert_float_eq(band_sum(bands, S, SYNTH_R), 1.0, 0.02);
    int best = 0;
    for (int p = 1; p < S * S; p++)
        if (bands[S * S + p] > bands[S * S + best]) best = p;
    double x = best % S - (S - 1) / 2.0, y = (S - 1) / 2.0 - best / S;
    cr_assert_float_eq(x * SYNTH_PIXEL_ARCSEC, 10, 0.5, "star at x %.2f arcsec",
                       x * SYNTH_PIXEL_ARCSEC);
    cr_assert_float_eq(y * SYNTH_PIXEL_ARCSEC, 5, 0.5, "star at y %.2f arcsec",
                       y * SYNTH_PIXEL_ARCSEC);
    free(bands);
}

Test(synth_render, stretch_maps_sky_dark_and_galaxy_bright_in_survey_colours) {
    float bands[3 * 4] = {0};
    /* pixel 0: empty sky; 1: a red galaxy core; 2: a blue clump; 3: saturated, colour kept */
    float g_[4] = {0, 0.05f, 0.1f, 50}, r_[4] = {0, 0.1f, 0.08f, 50}, i_[4] = {0, 0.14f, 0.06f, 50};
    for (int p = 0; p < 4; p++) bands[p] = g_[p], bands[4 + p] = r_[p], bands[8 + p] = i_[p];
    uint8_t rgb[12];
    synth_stretch_rgb(rgb, bands, 2);
    cr_assert(rgb[0] < 10 && rgb[1] < 10 && rgb[2] < 10, "sky %d %d %d", rgb[0], rgb[1], rgb[2]);
    cr_assert(rgb[3] > rgb[5] && rgb[3] > 100, "red core %d %d %d", rgb[3], rgb[4], rgb[5]);
    cr_assert(rgb[8] > rgb[6], "blue clump %d %d %d", rgb[6], rgb[7], rgb[8]);
    int mx = rgb[9] > rgb[10] ? rgb[9] : rgb[10];
    mx = mx > rgb[11] ? mx : rgb[11];
    cr_assert(mx == 255 && rgb[9] > 150 && rgb[10] > 150 && rgb[11] > 150, "saturated %d %d %d",
              rgb[9], rgb[10], rgb[11]);
}

/* ---- the survey on disk ---- */

static char tmp_root[64];

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *f) {
    return remove(path);
}

static void make_tmp(void) {
    snprintf(tmp_root, sizeof tmp_root, "/tmp/sfnet-synth-XXXXXX");
    cr_assert_not_null(mkdtemp(tmp_root));
}

static void remove_tmp(void) {
    cairo_debug_reset_static_data();
    void (*fc_fini)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, "FcFini");
    if (fc_fini) fc_fini();
    nftw(tmp_root, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static int same_file(const char *a, const char *b) {
    char *da, *db;
    size_t na, nb;
    cr_assert_eq(sf_read_file(a, &da, &na), SF_OK, "%s", sf_last_error());
    cr_assert_eq(sf_read_file(b, &db, &nb), SF_OK, "%s", sf_last_error());
    int same = na == nb && memcmp(da, db, na) == 0;
    free(da);
    free(db);
    return same;
}

Test(synth_survey, same_seed_same_bytes_whatever_the_threads, .init = make_tmp,
     .fini = remove_tmp) {
    char d1[128], d2[128], a[256], b[256];
    snprintf(d1, sizeof d1, "%s/one", tmp_root);
    snprintf(d2, sizeof d2, "%s/two/deeper", tmp_root);
    synth_options o1 = {.n = 24, .seed = 7, .size = 96, .threads = 1, .quiet = 1};
    synth_options o2 = o1;
    o2.threads = 2;
    cr_assert_eq(synth_survey(d1, &o1), SF_OK, "%s", sf_last_error());
    cr_assert_eq(synth_survey(d2, &o2), SF_OK, "%s", sf_last_error());
    snprintf(a, sizeof a, "%s/galaxies.csv", d1);
    snprintf(b, sizeof b, "%s/galaxies.csv", d2);
    cr_assert(same_file(a, b), "catalogues differ");
    for (int k = 0; k < 24; k += 5) {
        synth_galaxy g;
        synth_draw(&g, 7, k);
        snprintf(a, sizeof a, "%s/images/%s.png", d1, g.obj_id);
        snprintf(b, sizeof b, "%s/images/%s.png", d2, g.obj_id);
        cr_assert(same_file(a, b), "%s differs", a);
    }
}

Test(synth_survey, data_loader_reads_the_survey, .init = make_tmp, .fini = remove_tmp) {
    synth_options o = {.n = 60, .seed = 3, .size = 64, .threads = 0, .quiet = 1};
    cr_assert_eq(synth_survey(tmp_root, &o), SF_OK, "%s", sf_last_error());
    char csv[128], images[128], path[512];
    snprintf(csv, sizeof csv, "%s/galaxies.csv", tmp_root);
    snprintf(images, sizeof images, "%s/images", tmp_root);
    char vpath[160], *vtext;
    size_t vlen;
    snprintf(vpath, sizeof vpath, "%s/synth-version", tmp_root);
    cr_assert_eq(sf_read_file(vpath, &vtext, &vlen), SF_OK, "%s", sf_last_error());
    cr_assert_eq(atoi(vtext), SYNTH_VERSION, "synth-version holds %s", vtext);
    free(vtext);
    catalog c;
    cr_assert_eq(catalog_load(&c, csv), SF_OK, "%s", sf_last_error());
    cr_assert_eq(c.n_rows, 60);
    const char *cols[] = {"ra",
                          "dec",
                          "z",
                          "lgm_tot_p50",
                          "sfr_tot_p50",
                          "oh_p50",
                          "nii_6584_flux",
                          "nii_6584_flux_err",
                          "h_alpha_flux",
                          "h_alpha_flux_err",
                          "oiii_5007_flux",
                          "oiii_5007_flux_err",
                          "h_beta_flux",
                          "h_beta_flux_err",
                          "bptclass",
                          "true_bulge_frac",
                          "true_inclination",
                          "true_arms",
                          "true_merger",
                          "true_agn",
                          "true_dust_av",
                          "true_quenched",
                          "true_gr",
                          "true_bar",
                          "true_env",
                          "true_n_neighbours",
                          "true_n_background",
                          "true_sky_mag",
                          "true_sky_noise",
                          "true_psf_wing",
                          "true_size_offset",
                          "true_fibre_r"};
    for (size_t k = 0; k < sizeof cols / sizeof *cols; k++)
        cr_assert_geq(catalog_column(&c, cols[k]), 0, "column %s missing", cols[k]);
    int oh = catalog_column(&c, "oh_p50"), lgm = catalog_column(&c, "lgm_tot_p50");
    int n_missing = 0;
    for (int r = 0; r < c.n_rows; r++) {
        synth_galaxy g;
        synth_draw(&g, 3, r);
        cr_assert_str_eq(c.obj_ids[r], g.obj_id);
        cr_assert_float_eq(catalog_value(&c, r, lgm), g.lgm, 1e-4);
        n_missing += isnan(catalog_value(&c, r, oh));
        cr_assert_eq(isnan(catalog_value(&c, r, oh)), isnan(g.oh), "-9999 reads as missing");
        cr_assert_eq(image_find(path, sizeof path, images, c.obj_ids[r]), SF_OK, "%s",
                     sf_last_error());
        if (r % 20 == 0) {
            uint8_t *rgb;
            int w, h;
            cr_assert_eq(image_decode(path, &rgb, &w, &h), SF_OK, "%s", sf_last_error());
            cr_assert(w == 64 && h == 64);
            free(rgb);
        }
    }
    cr_assert(n_missing > 0 && n_missing < 60);
    target_set ts;
    cr_assert_eq(targets_select(&ts, &c, "metallicity"), SF_OK, "%s", sf_last_error());
    cr_assert_eq(ts.n_rows, 60 - n_missing);
    targets_free(&ts);
    cr_assert_eq(targets_select(&ts, &c, "bpt_lines"), SF_OK, "%s", sf_last_error());
    cr_assert(ts.n_rows > 20 && ts.n_rows < 60, "bpt_lines keeps %d of 60", ts.n_rows);
    targets_free(&ts);
    catalog_free(&c);
}

Test(synth_survey, preview_writes_a_contact_sheet, .init = make_tmp, .fini = remove_tmp) {
    char path[128];
    snprintf(path, sizeof path, "%s/sheet.png", tmp_root);
    synth_options o = {.n = 10, .seed = 1, .size = 64, .quiet = 1};
    cr_assert_eq(synth_preview(path, &o), SF_OK, "%s", sf_last_error());
    uint8_t *rgb;
    int w, h;
    cr_assert_eq(image_decode(path, &rgb, &w, &h), SF_OK, "%s", sf_last_error());
    cr_assert_eq(w, 8 * (64 + 6) + 6, "8 columns");
    cr_assert_gt(h, 2 * 64, "two rows with text under the cutouts");
    /* some text pixels (light grey) below the first cutout */
    int light = 0;
    for (int y = 6 + 64; y < 6 + 64 + 36; y++)
        for (int x = 6; x < 6 + 64; x++) light += rgb[((size_t)y * w + x) * 3] > 150;
    cr_assert_gt(light, 20);
    free(rgb);
    o.n = 0;
    cr_assert_eq(synth_preview(path, &o), SF_ERR);
}

Test(synth_survey, errors_name_the_problem, .init = make_tmp, .fini = remove_tmp) {
    synth_options o = {.n = 3, .seed = 1, .size = 32, .quiet = 1};
    char path[128];
    snprintf(path, sizeof path, "%s/file", tmp_root);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fclose(f);
    char under[160];
    snprintf(under, sizeof under, "%s/sub", path);
    cr_assert_eq(synth_survey(under, &o), SF_ERR);
    cr_assert_not_null(strstr(sf_last_error(), path), "%s", sf_last_error());
    cr_assert_eq(synth_survey(path, &o), SF_ERR);
    cr_assert_not_null(strstr(sf_last_error(), "not a directory"), "%s", sf_last_error());
    o.n = 0;
    cr_assert_eq(synth_survey(tmp_root, &o), SF_ERR);
    cr_assert_not_null(strstr(sf_last_error(), "positive"));
    uint8_t px[3] = {1, 2, 3};
    snprintf(under, sizeof under, "%s/missing/x.png", tmp_root);
    cr_assert_eq(synth_write_png(under, px, 1, 1), SF_ERR);
    cr_assert_not_null(strstr(sf_last_error(), "cannot create"));
}

Test(synth_survey, command_line_usage) {
    char *help[] = {"synth", "--help", NULL};
    cr_assert_eq(cli_synth(2, help), 0);
    char *no_dir[] = {"synth", "-n", "5", NULL};
    cr_assert_eq(cli_synth(3, no_dir), 2);
    char *bad_n[] = {"synth", "-n", "x", "out", NULL};
    cr_assert_eq(cli_synth(4, bad_n), 2);
    char *bad_size[] = {"synth", "-n", "3", "--size", "4", "out", NULL};
    cr_assert_eq(cli_synth(6, bad_size), 2);
    char *version[] = {"synth", "--physics-version", NULL};
    cr_assert_eq(cli_synth(2, version), 0);
}
