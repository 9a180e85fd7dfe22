/* synth.c: drawing a synthetic galaxy's catalogue row and latent truths.
 *
 * Each galaxy is drawn from its own random stream (seed, index) in a fixed
 * order, so any galaxy can be drawn alone. The recipes, in drawing order:
 *  sky position  the SDSS north galactic cap; galactic latitude for the star counts
 *  stellar mass  Schechter function, alpha = -1.1, log M* = 10.75, 8.5 < log M < 11.5
 *  environment   log Sigma_5 (Baldry et al. 2006), denser around massive galaxies
 *  quenching     mass quenching (logistic, 50% at log M = 10.45) and environment
 *                quenching, combined as in Peng et al. 2010: 1 - (1 - e_m)(1 - e_env)
 *  SFR           main sequence log SFR = 0.76 (log M - 10) - 0.04 (Renzini & Peng 2015),
 *                0.3 dex scatter; quenched galaxies ~1.2 dex below
 *  morphology    B/T rising with mass, quenching and density (Dressler 1980); Sersic
 *                bulge (n 2-5) + exponential disk; disk and bulge mass-size relations;
 *                random inclination (cos i uniform) and PA; thick disk
 *                q = sqrt((1 - q0^2) cos^2 i + q0^2); bars (Masters et al. 2011)
 *  mergers       close companions (4-25 kpc), commoner in dense regions; their SFR
 *                raised 0.2 dex (Ellison et al. 2008b)
 *  AGN           in massive bulge-dominated hosts (Kauffmann et al. 2003), 2.5 times
 *                commoner in close pairs (Ellison et al. 2011b), rarer in dense regions
 *                (Kauffmann et al. 2004), in hosts below the main sequence (the green
 *                valley: Schawinski et al. 2010); hosts' SFR lowered
 *  dust          A_V rising with mass and SFR, times (1 + 1.5 (1 - cos i))
 *  colours       Bell et al. 2003 M/L(g-r); flux-limited (r < 17.77) redshift drawn
 *                uniformly in volume over 0.02 < z < min(0.2, z_max): apparent size
 *                and brightness follow the distance (surface brightness dims as
 *                (1 + z)^-4)
 *  the field     seeing: log-normal about 1.3" (SDSS DR7 r band, Abazajian et al.
 *                2009), g 6% wider and i 4% narrower (FWHM ~ lambda^-0.2), a core plus
 *                a wide wing (the double Gaussian of the SDSS photometric pipeline,
 *                Stoughton et al. 2002); sky
 *                brightness 20.9 +- 0.25 r mag/arcsec^2, the pixel noise following it,
 *                and a residual background of the sky subtraction; foreground stars at
 *                ~1500 / sin(b)^1.2 per deg^2 for 15 < r < 23; background galaxies at
 *                the SDSS number counts, N(< r) = 970 x 10^(0.45 (r - 20)) per deg^2
 *                (Yasuda et al. 2001), 16 < r < 23; galaxies of the same group at the
 *                galaxy's redshift, ~30 Sigma_5 per Mpc^2 brighter than M_r = -17.5
 *                (the excess of galaxies around a galaxy, its correlation function),
 *                luminosities from a Schechter function (Blanton et al. 2003)
 *  metallicity   the fibre's 12 + log O/H, the sum of
 *                - the Tremonti et al. 2004 mass-metallicity relation,
 *                - the fundamental metallicity relation: -0.15 dex per dex of SFR above
 *                  the main sequence (Mannucci et al. 2010; Lara-Lopez et al. 2010),
 *                - size at fixed mass: -0.25 dex per dex of disk radius (Ellison et al.
 *                  2008a: compact galaxies are metal-richer),
 *                - the aperture: the fibre sees the inner disk of large, nearby,
 *                  face-on galaxies and the outer disk of edge-on ones, with a gradient
 *                  of -0.15 dex per half-light radius (Sanchez et al. 2014; Belfiore et
 *                  al. 2017), dust hiding the inclined inner disk (the effect
 *                  of Kewley, Jansen & Geller 2005 and of inclination noted by Tremonti
 *                  et al. 2004 and by Wu 2025 for Z 256),
 *                - environment: +0.03 dex per dex of Sigma_5 at fixed mass (Cooper et
 *                  al. 2008; Ellison et al. 2009),
 *                - close pairs: down to -0.07 dex at small separation (Kewley et al.
 *                  2006; Ellison et al. 2008b; Scudder et al. 2012),
 *                - bars in galaxies above 10^10 Msun: +0.06 dex (Ellison et al. 2011a),
 *                - 0.065 dex of scatter no image shows.
 *  lines         Halpha from SFR (Kennicutt & Evans 2012) in the 3" fibre, Hbeta by
 *                the 2.86 Balmer decrement, [NII]/Halpha from metallicity through the
 *                Pettini & Pagel 2004 N2 calibration, [OIII]/Hbeta on the star-forming
 *                sequence below the Kauffmann et al. 2003 line; AGN and retired
 *                (old-star ionised) components with their own ratios add their own
 *                flux; Cardelli et al. 1989 attenuation; measurement noise.
 *
 * Sources: Abazajian et al. 2009, ApJS 182, 543; Baldry et al. 2006, MNRAS 373, 469;
 * Belfiore et al. 2017, MNRAS 469, 151; Bell et al. 2003, ApJS 149, 289; Blanton et al.
 * 2003, ApJ 592, 819; Cardelli, Clayton & Mathis 1989, ApJ 345, 245; Cooper et al. 2008,
 * MNRAS 390, 245; Dressler 1980, ApJ 236, 351; Ellison et al. 2008a, ApJ 672, L107;
 * Ellison et al. 2008b, AJ 135, 1877; Ellison et al. 2009, MNRAS 396, 1257; Ellison et
 * al. 2011a, MNRAS 416, 2182; Ellison et al. 2011b, MNRAS 418, 2043; Kauffmann et al.
 * 2003, MNRAS 346, 1055; Kauffmann et al. 2004, MNRAS 353, 713; Kennicutt & Evans 2012,
 * ARA&A 50, 531; Kewley, Jansen & Geller 2005, PASP 117, 227; Kewley et al. 2006, AJ 131,
 * 2004; Lara-Lopez et al. 2010, A&A 521, L53; Mannucci et al. 2010, MNRAS 408, 2115;
 * Masters et al. 2011, MNRAS 411, 2026; Peng et al. 2010, ApJ 721, 193; Pettini & Pagel
 * 2004, MNRAS 348, L59; Renzini & Peng 2015, ApJ 801, L29; Sanchez et al. 2014, A&A 563,
 * A49; Schawinski et al. 2010, ApJ 711, 284; Scudder et al. 2012, MNRAS 426, 549;
 * Stoughton et al. 2002, AJ 123, 485; Tremonti et al. 2004, ApJ 613, 898; Wu 2025, ApJ
 * 980, 183; Yasuda et al. 2001, AJ 122, 1104.
 *
 * Layer: library. Calls: sf_util.
 * Called by: synth_survey.
 */
#include <math.h>
#include <string.h>

#include "sf_util.h"
#include "synth.h"

#define C_OVER_H0_MPC (299792.458 / 70.0)
#define OMEGA_M 0.3
#define R_LIMIT 17.77

/* A_lambda / A_V (Cardelli et al. 1989, R_V = 3.1) at the lines and the band centres. */
static const double k_line[SYNTH_N_LINES] = {0.816, 0.818, 1.132, 1.164};
static const double k_band[SYNTH_N_BANDS] = {1.18, 0.84, 0.63};

/* ---- cosmology ---- */

static double inv_e(double z) { return 1.0 / sqrt(OMEGA_M * pow(1 + z, 3) + (1 - OMEGA_M)); }

double synth_comoving_distance(double z) {
    if (z <= 0) return 0;
    enum { N = 64 }; /* Simpson's rule: far below 1e-6 relative error for z < 1 */
    double h = z / N, s = inv_e(0) + inv_e(z);
    for (int k = 1; k < N; k++) s += (k & 1 ? 4 : 2) * inv_e(k * h);
    return C_OVER_H0_MPC * s * h / 3;
}

double synth_angular_diameter_distance(double z) { return synth_comoving_distance(z) / (1 + z); }
double synth_luminosity_distance(double z) { return synth_comoving_distance(z) * (1 + z); }

/* z where the luminosity distance is d_mpc (bisection; D_L is monotonic). */
static double z_at_luminosity_distance(double d_mpc) {
    double lo = 0, hi = 1;
    for (int it = 0; it < 50; it++) {
        double mid = 0.5 * (lo + hi);
        if (synth_luminosity_distance(mid) < d_mpc) lo = mid;
        else hi = mid;
    }
    return 0.5 * (lo + hi);
}

/* ---- BPT lines ---- */

double synth_kauffmann03(double x) { return 0.61 / (x - 0.05) + 1.3; }
double synth_kewley01(double x) { return 0.61 / (x - 0.47) + 1.19; }

/* ---- small helpers ---- */

static double clampd(double x, double lo, double hi) { return x < lo ? lo : x > hi ? hi : x; }
static double sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }
static double uniform(sf_rng *r, double lo, double hi) {
    return lo + (hi - lo) * sf_rng_uniform(r);
}
static double normal(sf_rng *r, double mean, double sd) { return mean + sd * sf_rng_normal(r); }

static uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Intrinsic SDSS r-i from g-r along the galaxy colour sequence. */
static double ri_from_gr(double gr) { return 0.05 + 0.44 * gr; }

/* Fraction of an exponential disk's light (half-light radius re) inside radius r. */
static double exp_disk_enclosed(double r, double re) {
    double u = 1.678 * r / re;
    return 1 - (1 + u) * exp(-u);
}

/* Per-band fluxes (nanomaggies) of a component with r flux fr and colours. */
static void band_fluxes(double *f, double fr, double gr, double ri, double av) {
    f[SYNTH_G] = fr * pow(10, -0.4 * (gr + av * k_band[SYNTH_G]));
    f[SYNTH_R] = fr * pow(10, -0.4 * av * k_band[SYNTH_R]);
    f[SYNTH_I] = fr * pow(10, -0.4 * (-ri + av * k_band[SYNTH_I]));
}

static double mag_of(double nmgy) { return 22.5 - 2.5 * log10(nmgy > 1e-6 ? nmgy : 1e-6); }

/* Line flux components: sets ha (intrinsic Halpha, fibre) and log ratios. */
typedef struct {
    double ha; /* 1e-17 erg/s/cm^2, before dust */
    double n2; /* log [NII]/Halpha */
    double o3; /* log [OIII]/Hbeta */
    double av; /* attenuation of this component */
} line_component;

static void add_component(double *flux, const line_component *c) {
    double hb = c->ha / 2.86;
    double f[SYNTH_N_LINES] = {c->ha * pow(10, c->n2), c->ha, hb * pow(10, c->o3), hb};
    for (int l = 0; l < SYNTH_N_LINES; l++) flux[l] += f[l] * pow(10, -0.4 * c->av * k_line[l]);
}

/* Galactic latitude (degrees) of equatorial (ra, dec) J2000, degrees. */
static double galactic_latitude(double ra, double dec) {
    const double ra_ngp = 192.85948 * M_PI / 180, dec_ngp = 27.12825 * M_PI / 180;
    double d = dec * M_PI / 180, a = ra * M_PI / 180;
    double sb = sin(d) * sin(dec_ngp) + cos(d) * cos(dec_ngp) * cos(a - ra_ngp);
    return asin(clampd(sb, -1, 1)) * 180 / M_PI;
}

static int poisson_draw(sf_rng *r, double lambda) {
    double p = exp(-lambda), s = sf_rng_uniform(r);
    int k = 0;
    while (s > p && k < 64) s *= sf_rng_uniform(r), k++;
    return k;
}

/* Where a field object lands: uniform over SYNTH_FIELD_PIXELS; 1 when inside the
 * central SYNTH_COUNT_PIXELS. */
static int place_object(synth_object *o, sf_rng *r) {
    double half = 0.5 * SYNTH_FIELD_PIXELS * SYNTH_PIXEL_ARCSEC;
    o->dx = uniform(r, -half, half);
    o->dy = uniform(r, -half, half);
    double inner = 0.5 * SYNTH_COUNT_PIXELS * SYNTH_PIXEL_ARCSEC;
    return fabs(o->dx) < inner && fabs(o->dy) < inner;
}

/* Magnitude m with counts dN/dm ~ 10^(slope m) between lo and hi. */
static double draw_counts_mag(sf_rng *r, double slope, double lo, double hi) {
    double a = pow(10, slope * lo), b = pow(10, slope * hi);
    return log10(a + sf_rng_uniform(r) * (b - a)) / slope;
}

/* The field around the galaxy: foreground stars, galaxies of its group (at its
 * redshift) and background galaxies. Counts per deg^2 scaled to the field's area. */
static void draw_field(synth_galaxy *g, sf_rng *r) {
    double side_deg = SYNTH_FIELD_PIXELS * SYNTH_PIXEL_ARCSEC / 3600;
    double area_deg2 = side_deg * side_deg;
    double sinb = sin(fabs(g->gal_lat) * M_PI / 180);
    if (sinb < 0.3) sinb = 0.3;
    int n_star = poisson_draw(r, 1500 * area_deg2 / pow(sinb, 1.2));
    /* N(< r) = 970 x 10^(0.45 (r - 20)) per deg^2, 16 < r < 23 */
    int n_bg = poisson_draw(r, 970 * area_deg2 * (pow(10, 0.45 * 3) - pow(10, 0.45 * -4)));
    double side_mpc = SYNTH_FIELD_PIXELS * SYNTH_PIXEL_ARCSEC * g->kpc_per_arcsec / 1000;
    int n_nb = poisson_draw(r, 30 * pow(10, g->env) * side_mpc * side_mpc);
    double dmod = 5 * log10(synth_luminosity_distance(g->z)) + 25;
    g->n_objects = 0;
    g->n_stars = g->n_neighbours = g->n_background = 0;
    for (int k = 0; k < n_star + n_bg + n_nb && g->n_objects < SYNTH_MAX_OBJECTS; k++) {
        synth_object *o = &g->objects[g->n_objects++];
        memset(o, 0, sizeof *o);
        int inside = place_object(o, r);
        double mag, gr, ri;
        if (k < n_star) {
            o->kind = SYNTH_OBJ_STAR;
            mag = draw_counts_mag(r, 0.25, 15, 23);
            gr = uniform(r, 0.3, 1.5);
            ri = 0.1 + 0.45 * gr * uniform(r, 0.6, 1.4);
            g->n_stars += inside;
        } else if (k < n_star + n_bg) {
            o->kind = SYNTH_OBJ_BACKGROUND;
            mag = draw_counts_mag(r, 0.45, 16, 23);
            gr = uniform(r, 0.6, 1.6); /* redshifted: redder than the sample */
            ri = 0.2 + 0.4 * gr;
            o->re_arcsec = pow(10, normal(r, 0.25 - 0.1 * (mag - 20), 0.12));
            o->n = uniform(r, 0.8, 3.5);
            o->q = uniform(r, 0.3, 1);
            o->pa = uniform(r, 0, 180);
            g->n_background += inside;
        } else {
            /* a group member: Schechter luminosity (M* = -21.2, alpha = -1.1) above
             * M_r = -17.5, red when quenched (commoner in dense groups) */
            o->kind = SYNTH_OBJ_NEIGHBOUR;
            double m_abs;
            for (;;) {
                m_abs = uniform(r, -23, -17.5);
                double l = pow(10, -0.4 * (m_abs + 21.2));
                if (sf_rng_uniform(r) * 4.2 < pow(l, -0.1) * exp(-l)) break;
            }
            mag = m_abs + dmod + 0.1 * g->z;
            int red = sf_rng_uniform(r) < 0.3 + 0.25 * sigmoid((g->env - 0.5) / 0.4);
            gr = (red ? normal(r, 0.76, 0.04) : normal(r, 0.45, 0.08)) + g->z;
            ri = ri_from_gr(gr) + 0.3 * g->z;
            double lgm_nb = 10 + 0.4 * (-21.0 - m_abs);
            double re_kpc = pow(10, normal(r, (red ? 0.35 : 0.5) + 0.22 * (lgm_nb - 10), 0.15));
            o->re_arcsec = re_kpc / g->kpc_per_arcsec;
            o->n = red ? uniform(r, 2.5, 4.5) : uniform(r, 0.8, 1.5);
            o->q = red ? uniform(r, 0.55, 1) : uniform(r, 0.2, 1);
            o->pa = uniform(r, 0, 180);
            g->n_neighbours += inside;
        }
        double fr = pow(10, (22.5 - mag) / 2.5);
        o->flux[SYNTH_G] = fr * pow(10, -0.4 * gr);
        o->flux[SYNTH_R] = fr;
        o->flux[SYNTH_I] = fr * pow(10, 0.4 * ri);
    }
}

/* Light-weighted mean deprojected radius (in half-light radii) of the line emission of
 * an exponential disk inside the fibre: disk half-light radius re_arcsec, projected axis
 * ratio q, seeing FWHM, and the face-on A_V of the disk. The fibre is widened by the
 * seeing (light from outside blurs in); dust, following the disk's light and seen
 * through a path 1/q times longer, dims the inner disk of inclined galaxies most, so
 * that their fibres see the outer, metal-poorer gas. */
static double fibre_mean_radius(double re_arcsec, double q, double fwhm, double av_face) {
    enum { N = 24 };
    double sig = fwhm / 2.3548;
    double rf = sqrt(SYNTH_FIBRE_RADIUS_ARCSEC * SYNTH_FIBRE_RADIUS_ARCSEC + 2 * sig * sig);
    double h = re_arcsec / 1.678;
    double sw = 0, swr = 0;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            double u = rf * (2 * (i + 0.5) / N - 1), v = rf * (2 * (j + 0.5) / N - 1);
            if (u * u + v * v > rf * rf) continue;
            double rd = sqrt(u * u + (v / q) * (v / q)); /* deprojected radius */
            double e = exp(-rd / h);
            /* A(Halpha) = 0.82 A_V, twice the disk's mean at its centre */
            double tau = 0.82 * 2 * av_face / 1.086 * e / (q > 0.1 ? q : 0.1);
            double w = e * exp(-tau);
            sw += w;
            swr += w * rd;
        }
    return sw > 0 ? swr / sw / re_arcsec : 1;
}

void synth_draw(synth_galaxy *g, uint64_t seed, long index) {
    memset(g, 0, sizeof *g);
    sf_rng rng;
    sf_rng_seed(&rng, mix64(seed * 0x9e3779b97f4a7c15ULL + 0x632be59bd9b4e019ULL) ^
                          mix64((uint64_t)index + 0xd1b54a32d192ed03ULL));
    sf_rng *r = &rng;
    g->render_seed = sf_rng_next(r);

    /* objID: SDSS-like 1237 prefix, a per-seed block and a bijection of the index */
    uint64_t block = mix64(seed + 12345) % 90000 + 10000;
    uint64_t spread = ((uint64_t)index * 7654321ULL) % 10000000000ULL;
    snprintf(g->obj_id, sizeof g->obj_id, "%llu",
             (unsigned long long)(1237000000000000000ULL + block * 10000000000ULL + spread));

    /* sky position in the SDSS north galactic cap */
    g->ra = uniform(r, 120, 250);
    g->dec = asin(uniform(r, 0, sin(60 * M_PI / 180))) * 180 / M_PI;
    g->gal_lat = galactic_latitude(g->ra, g->dec);

    /* stellar mass: dN/dlogM ~ 10^((alpha+1)(x-x*)) exp(-10^(x-x*)) by rejection */
    const double alpha = -1.1, xstar = 10.75;
    double x;
    for (;;) {
        x = uniform(r, 8.5, 11.5);
        double dens = pow(10, (alpha + 1) * (x - xstar)) * exp(-pow(10, x - xstar));
        if (sf_rng_uniform(r) * 1.7 < dens) break;
    }
    g->lgm = x;

    /* environment: log Sigma_5, denser around massive galaxies */
    double env_mean = 0.1 + 0.25 * (x - 10);
    g->env = normal(r, env_mean, 0.55);

    /* quenching by mass and by environment, and star formation */
    double q_mass = 0.03 + 0.9 * sigmoid((x - 10.45) / 0.3);
    double q_env = 0.6 * sigmoid((g->env - 0.6) / 0.3);
    g->quenched = sf_rng_uniform(r) < 1 - (1 - q_mass) * (1 - q_env);
    double sfr_ms = 0.76 * (x - 10) - 0.04;
    double ms_offset = g->quenched ? normal(r, -1.2, 0.35) : normal(r, 0, 0.3);

    /* bulge fraction: mass, quenching, and a little density */
    double bt = g->quenched ? normal(r, 0.35 + 0.15 * (x - 9.5), 0.12)
                            : normal(r, 0.04 + 0.09 * (x - 8.5), 0.07);
    bt += 0.04 * (g->env - env_mean);
    bt = clampd(bt, 0, g->quenched ? 1.0 : 0.7);
    g->bulge_frac = bt;

    /* mergers and close companions, commoner in dense regions */
    g->merger = sf_rng_uniform(r) < clampd(0.05 + 0.02 * (g->env - env_mean), 0.02, 0.12);
    if (g->merger) g->comp_sep_kpc = uniform(r, 4, 25);

    /* AGN: massive bulge-dominated hosts, close pairs, sparse regions, hosts already
     * below the main sequence */
    double p_agn = 0.85 * sigmoid((x - 10.3) / 0.2) * sigmoid((bt - 0.25) / 0.08);
    if (g->merger) p_agn *= 2.5;
    p_agn *= 1 - 0.35 * sigmoid((g->env - 0.8) / 0.3);
    p_agn *= g->quenched ? 0.7 : 1.0;
    g->agn = sf_rng_uniform(r) < clampd(p_agn, 0, 0.9);
    if (g->agn && !g->quenched) ms_offset -= uniform(r, 0.3, 0.8);
    if (g->merger && !g->quenched) ms_offset += 0.2;
    g->sfr = sfr_ms + ms_offset;

    /* sizes: disk and bulge mass-size relations (kpc) */
    g->size_offset = normal(r, 0, 0.15);
    g->disk_re_kpc = pow(10, 0.5 + 0.22 * (x - 10) + g->size_offset);
    g->bulge_re_kpc = pow(10, normal(r, (bt > 0.8 ? 0.55 : 0.42) + 0.55 * (x - 11), 0.12));
    if (bt < 0.8 && g->bulge_re_kpc > 0.6 * g->disk_re_kpc) g->bulge_re_kpc = 0.6 * g->disk_re_kpc;
    g->sersic_n = clampd(normal(r, 2.5 + 1.5 * sigmoid((x - 10) / 0.4), 0.4), 1.5, 6);
    g->re_kpc = bt * g->bulge_re_kpc + (1 - bt) * g->disk_re_kpc;

    /* orientation: cos i uniform; thick-disk projection */
    double cosi = sf_rng_uniform(r);
    g->inclination = acos(cosi) * 180 / M_PI;
    g->q0 = clampd(normal(r, 0.2, 0.04), 0.1, 0.35);
    g->axis_ratio = sqrt((1 - g->q0 * g->q0) * cosi * cosi + g->q0 * g->q0);
    double qb = clampd(normal(r, 0.75, 0.1), 0.45, 1.0);
    g->bulge_axis_ratio = sqrt((1 - qb * qb) * cosi * cosi + qb * qb);
    g->pa = uniform(r, 0, 180);

    /* spiral arms and clumps on star-forming disks */
    double ssfr_offset = g->sfr - sfr_ms;
    if (!g->quenched && bt < 0.6) {
        double u = sf_rng_uniform(r);
        g->arms = x < 9.3 && u < 0.35 ? 0 : u < 0.6 ? 2 : u < 0.8 ? 3 : u < 0.9 ? 4 : 1;
        g->arm_pitch = clampd(normal(r, 25 - 20 * bt, 5), 8, 40);
        g->arm_strength = clampd(normal(r, 0.3 + 0.15 * (x - 9), 0.12), 0.1, 0.85);
        g->arm_phase = uniform(r, 0, 2 * M_PI);
        if (!g->arms) g->arm_strength = g->arm_pitch = g->arm_phase = 0;
        g->clump_frac =
            clampd(normal(r, 0.035 + 0.03 * ssfr_offset - 0.01 * (x - 9.5), 0.02), 0, 0.12);
    }

    /* bars: star-forming disks, commoner at higher mass (Masters et al. 2011) */
    g->bar = !g->quenched && bt < 0.5 && sf_rng_uniform(r) < 0.4 * sigmoid((x - 9.7) / 0.3);
    if (g->bar) {
        g->bar_frac = uniform(r, 0.06, 0.16);
        g->bar_len_kpc = uniform(r, 0.5, 1.0) * g->disk_re_kpc;
        g->bar_q = uniform(r, 0.22, 0.35);
        g->bar_angle = uniform(r, 0, M_PI);
    }

    /* dust: A_V of the disk's starlight, growing with mass, SFR and inclination */
    double av_face =
        g->quenched ? uniform(r, 0.0, 0.15)
                    : clampd(normal(r, 0.15 + 0.22 * (x - 9) + 0.2 * ssfr_offset, 0.1), 0.02, 1.2);
    g->dust_av = av_face * (1 + 1.5 * (1 - cosi));
    g->dust_lane = (1 - bt) * av_face * pow(1 - cosi, 4) * 1.5;

    /* intrinsic colours; a simple K-correction is added once z is known */
    double ssfr = g->sfr - x;
    double gr_disk = clampd(normal(r, 0.45 - 0.2 * (ssfr + 10), 0.04), 0.2, 0.82);
    double gr_bulge = clampd(normal(r, 0.74 + 0.04 * (x - 10.5), 0.03), 0.6, 0.85);
    double gr_int = bt * gr_bulge + (1 - bt) * gr_disk;
    double log_ml = -0.306 + 1.097 * gr_int; /* Bell et al. 2003, r band */
    double abs_r = 4.65 - 2.5 * (x - log_ml);
    double av_eff = bt * 0.4 * g->dust_av + (1 - bt) * g->dust_av;

    /* redshift: flux-limited, uniform in volume */
    double dm_lim = R_LIMIT - abs_r - k_band[SYNTH_R] * av_eff;
    double zmax = clampd(z_at_luminosity_distance(pow(10, (dm_lim - 25) / 5)), 0.035, 0.2);
    double zlo = 0.02;
    g->z = cbrt(zlo * zlo * zlo + sf_rng_uniform(r) * (zmax * zmax * zmax - zlo * zlo * zlo));
    double dl = synth_luminosity_distance(g->z);
    double da = dl / ((1 + g->z) * (1 + g->z));
    g->kpc_per_arcsec = da * 1000 * M_PI / 648000;
    double dmod = 5 * log10(dl) + 25;

    double fr_total = pow(10, (22.5 - (abs_r + dmod)) / 2.5);
    double kg = 1.0 * g->z, ki = 0.3 * g->z;
    band_fluxes(g->bulge_flux, bt * fr_total, gr_bulge + kg, ri_from_gr(gr_bulge) + ki,
                0.4 * g->dust_av);
    band_fluxes(g->disk_flux, (1 - bt) * fr_total, gr_disk + kg, ri_from_gr(gr_disk) + ki,
                g->dust_av);
    g->agn_point_frac = g->agn && sf_rng_uniform(r) < 0.5 ? uniform(r, 0.03, 0.15) : 0;
    for (int b = 0; b < SYNTH_N_BANDS; b++) {
        double f = g->bulge_flux[b] + g->disk_flux[b];
        double blue = b == SYNTH_G ? 1.3 : b == SYNTH_I ? 0.85 : 1.0;
        g->mag[b] = mag_of(f * (1 + g->agn_point_frac * blue));
    }
    g->gr = g->mag[SYNTH_G] - g->mag[SYNTH_R];
    g->petro_r50 = g->re_kpc / g->kpc_per_arcsec;

    /* the field it was observed in: seeing, PSF wing, sky */
    g->psf_fwhm = clampd(1.3 * exp(normal(r, 0, 0.15)), 0.8, 2.2);
    g->psf_wing = clampd(normal(r, 0.1, 0.03), 0.03, 0.2);
    g->sky_mag = normal(r, 20.9, 0.25);
    g->sky_noise = pow(10, -0.2 * (g->sky_mag - 20.9)) * pow(10, normal(r, 0, 0.04));
    for (int b = 0; b < SYNTH_N_BANDS; b++) g->sky_offset[b] = normal(r, 0, 0.3);

    /* companion */
    if (g->merger) {
        double ratio = pow(10, uniform(r, -1, 0));
        double theta = uniform(r, 0, 2 * M_PI);
        g->comp_dx = g->comp_sep_kpc / g->kpc_per_arcsec * cos(theta);
        g->comp_dy = g->comp_sep_kpc / g->kpc_per_arcsec * sin(theta);
        int red = sf_rng_uniform(r) < 0.4;
        g->comp_n = red ? 3.5 : 1.0;
        g->comp_re_arcsec =
            pow(10, 0.5 + 0.22 * (x + log10(ratio) - 10)) / g->kpc_per_arcsec * (red ? 0.6 : 1.0);
        g->comp_q = uniform(r, 0.35, 1.0);
        g->comp_pa = uniform(r, 0, 180);
        double gr_c = red ? 0.75 : 0.45;
        band_fluxes(g->comp_flux, ratio * fr_total * (red ? 0.8 : 1.2), gr_c + kg,
                    ri_from_gr(gr_c) + ki, red ? 0.1 : 0.4);
        g->tail_frac = uniform(r, 0.03, 0.08);
        g->tail_curl = uniform(r, -1.5, 1.5);
        g->tail_len_arcsec = uniform(r, 1.5, 3.0) * g->disk_re_kpc / g->kpc_per_arcsec;
    }

    /* stars, group neighbours and background galaxies */
    draw_field(g, r);

    /* metallicity in the fibre */
    double mzr = -1.492 + 1.847 * x - 0.08026 * x * x;
    double sfr_term = g->quenched ? 0 : -0.15 * ssfr_offset;
    double size_term = -0.25 * g->size_offset;
    double re_arcsec = g->disk_re_kpc / g->kpc_per_arcsec;
    g->fibre_r = fibre_mean_radius(re_arcsec, g->axis_ratio, g->psf_fwhm, av_face);
    /* the light-weighted mean radius of a whole exponential disk is 1.19 half-light
     * radii: a fibre that sees all of it measures the global value */
    double aperture_term = -0.15 * (g->fibre_r - 1.19);
    double env_term = 0.03 * (g->env - env_mean);
    double pair_term = g->merger ? -0.07 * clampd(1 - (g->comp_sep_kpc - 4) / 30, 0.3, 1) : 0;
    double bar_term = g->bar && x > 10 ? 0.06 : 0;
    g->oh_true = mzr + sfr_term + size_term + aperture_term + env_term + pair_term + bar_term +
                 normal(r, 0, 0.065);

    /* emission lines in the fibre */
    double dl_cm = dl * 3.0857e24;
    double to_flux = 1.0 / (4 * M_PI * dl_cm * dl_cm) / 1e-17;
    double seeing = 0.6 * g->psf_fwhm;
    double f_fibre =
        exp_disk_enclosed(SYNTH_FIBRE_RADIUS_ARCSEC, sqrt(re_arcsec * re_arcsec + seeing * seeing));
    double av_gas = 1.3 * (g->dust_av + 0.1);
    double truth[SYNTH_N_LINES] = {0, 0, 0, 0};

    line_component sf = {0, 0, 0, av_gas};
    sf.ha = pow(10, g->sfr + 41.27) * to_flux * f_fibre; /* Kennicutt & Evans 2012 */
    double z_pp04 = 8.3 + 0.615 * (g->oh_true - 8.5);    /* T04 -> PP04 scale */
    sf.n2 = clampd((z_pp04 - 8.90) / 0.57 + normal(r, 0, 0.04), -2.0, -0.25);
    double ridge = synth_kauffmann03(sf.n2) - 0.2;
    sf.o3 = ridge + normal(r, 0, 0.08) + 0.1 * ssfr_offset;
    if (sf.o3 > synth_kauffmann03(sf.n2) - 0.04) sf.o3 = synth_kauffmann03(sf.n2) - 0.04;
    add_component(truth, &sf);

    line_component nuc = {0, 0, 0, 0.5 * av_gas};
    if (g->agn) {
        int seyfert = sf_rng_uniform(r) < 0.55;
        nuc.n2 = seyfert ? normal(r, -0.05, 0.15) : normal(r, 0.08, 0.12);
        nuc.o3 = seyfert ? normal(r, 0.65, 0.2) : normal(r, 0.0, 0.15);
        nuc.n2 = clampd(nuc.n2, -0.5, 0.4);
        double kw = synth_kewley01(nuc.n2) + 0.05;
        if (nuc.o3 < kw) nuc.o3 = kw + fabs(normal(r, 0, 0.08));
        nuc.ha = sf.ha * pow(10, normal(r, 0.7, 0.3)) + pow(10, normal(r, 39.8, 0.4)) * to_flux;
    } else if (g->quenched) {
        /* retired galaxies: weak LINER-like emission from old stars */
        nuc.n2 = normal(r, 0.0, 0.12);
        nuc.o3 = normal(r, -0.05, 0.15);
        nuc.ha = pow(10, normal(r, 39.0 + 0.5 * (x - 10.5), 0.3)) * to_flux;
    }
    add_component(truth, &nuc);

    /* measurement: errors grow with the continuum under the line and with the flux */
    static const double err0[SYNTH_N_LINES] = {3.0, 3.5, 2.8, 2.6};
    double cont = sqrt(1 + pow(10, -0.4 * (g->mag[SYNTH_R] - 16)));
    for (int l = 0; l < SYNTH_N_LINES; l++) {
        double e = err0[l] * cont * pow(10, normal(r, 0, 0.12));
        e = sqrt(e * e + (0.03 * truth[l]) * (0.03 * truth[l]));
        g->flux_err[l] = e;
        g->flux[l] = truth[l] + e * sf_rng_normal(r);
    }

    /* classification as the MPA-JHU catalogue does it, from the measured lines */
    int ok[SYNTH_N_LINES], all = 1;
    for (int l = 0; l < SYNTH_N_LINES; l++) all &= ok[l] = g->flux[l] > 3 * g->flux_err[l];
    if (all) {
        double bx = log10(g->flux[SYNTH_NII] / g->flux[SYNTH_HALPHA]);
        double by = log10(g->flux[SYNTH_OIII] / g->flux[SYNTH_HBETA]);
        if (bx < 0.05 && by < synth_kauffmann03(bx)) g->bptclass = 1;
        else if (bx < 0.47 && by < synth_kewley01(bx)) g->bptclass = 3;
        else g->bptclass = 4;
    } else if (g->flux[SYNTH_HALPHA] > 2 * g->flux_err[SYNTH_HALPHA] &&
               g->flux[SYNTH_NII] > 2 * g->flux_err[SYNTH_NII]) {
        double bx = log10(g->flux[SYNTH_NII] / g->flux[SYNTH_HALPHA]);
        g->bptclass = bx < -0.4 ? 2 : 5;
    } else {
        g->bptclass = -1;
    }
    g->oh = g->bptclass == 1 ? g->oh_true : NAN;
}

/* ---- catalogue ---- */

void synth_csv_header(FILE *f) {
    fputs("objID,ra,dec,z,lgm_tot_p50,sfr_tot_p50,oh_p50,"
          "nii_6584_flux,nii_6584_flux_err,h_alpha_flux,h_alpha_flux_err,"
          "oiii_5007_flux,oiii_5007_flux_err,h_beta_flux,h_beta_flux_err,bptclass,"
          "modelMag_g,modelMag_r,modelMag_i,petroR50_r,"
          "true_bulge_frac,true_sersic_n,true_re_kpc,true_inclination,true_axis_ratio,"
          "true_pa,true_arms,true_arm_pitch,true_arm_strength,true_clump_frac,true_merger,"
          "true_agn,true_dust_av,true_quenched,true_gr,true_oh,true_psf_fwhm,true_n_stars,true_bar,"
          "true_env,true_n_neighbours,true_n_background,true_sky_mag,true_sky_noise,"
          "true_psf_wing,true_size_offset,true_fibre_r\n",
          f);
}

void synth_csv_row(FILE *f, const synth_galaxy *g) {
    char oh[32];
    if (isnan(g->oh)) snprintf(oh, sizeof oh, "-9999");
    else snprintf(oh, sizeof oh, "%.4f", g->oh);
    fprintf(f, "%s,%.6f,%.6f,%.6f,%.4f,%.4f,%s", g->obj_id, g->ra, g->dec, g->z, g->lgm, g->sfr,
            oh);
    for (int l = 0; l < SYNTH_N_LINES; l++) fprintf(f, ",%.4f,%.4f", g->flux[l], g->flux_err[l]);
    fprintf(f, ",%d,%.4f,%.4f,%.4f,%.4f", g->bptclass, g->mag[SYNTH_G], g->mag[SYNTH_R],
            g->mag[SYNTH_I], g->petro_r50);
    fprintf(f,
            ",%.4f,%.3f,%.4f,%.3f,%.4f,%.3f,%d,%.3f,%.4f,%.4f,%d,%d,%.4f,%d,%.4f,%.4f,%.4f,%d,%d",
            g->bulge_frac, g->sersic_n, g->re_kpc, g->inclination, g->axis_ratio, g->pa, g->arms,
            g->arm_pitch, g->arm_strength, g->clump_frac, g->merger, g->agn, g->dust_av,
            g->quenched, g->gr, g->oh_true, g->psf_fwhm, g->n_stars, g->bar);
    fprintf(f, ",%.4f,%d,%d,%.3f,%.4f,%.4f,%.4f,%.4f\n", g->env, g->n_neighbours, g->n_background,
            g->sky_mag, g->sky_noise, g->psf_wing, g->size_offset, g->fibre_r);
}
