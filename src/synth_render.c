/* synth_render.c: g, r, i images of a drawn galaxy, the asinh colour stretch,
 * and PNG output.
 *
 * The image is rendered at the output pixel scale (0.262"/px): analytic
 * profiles evaluated at pixel centres, with 4x4 sub-samples near the centre
 * where a Sersic cusp changes faster than a pixel; point-like things (stars,
 * clumps, an AGN) are dropped as bilinear deltas. One separable Gaussian
 * convolution gives the seeing, then sky + source noise (lightly correlated,
 * as in resampled survey coadds), then the stretch.
 *
 * Layer: library. Calls: sf_util; libpng, pthreads.
 * Called by: synth_survey.
 */
#include <errno.h>
#include <math.h>
#include <png.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "sf_util.h"
#include "synth.h"

/* Arms and clumps are bluer than the disk they sit on: per-band boost. */
static const float arm_boost[SYNTH_N_BANDS] = {1.6f, 1.0f, 0.7f};
static const float clump_colour[SYNTH_N_BANDS] = {1.35f, 1.0f, 0.85f};
static const float lane_k[SYNTH_N_BANDS] = {1.18f, 0.84f, 0.63f};
/* Sky noise per pixel (nanomaggies) and effective gain (counts per nanomaggy). */
static const float sky_sigma[SYNTH_N_BANDS] = {0.0005f, 0.0006f, 0.00085f};
static const float gain[SYNTH_N_BANDS] = {2000.0f, 1500.0f, 1000.0f};

typedef struct {
    int size;
    float *bands; /* (3, size, size) */
} canvas;

/* ---- random numbers for the image ---- */

static double uni(sf_rng *r, double lo, double hi) { return lo + (hi - lo) * sf_rng_uniform(r); }

/* Sky noise: standard normal quantiles at 4096 evenly spaced probabilities, so
 * one 64-bit random number gives five normal deviates (12 bits each). Built once
 * by bisection on erfc; the table is the same in every run and thread. */
enum { NORMAL_TABLE = 4096 };
static float normal_table[NORMAL_TABLE];
static pthread_once_t normal_once = PTHREAD_ONCE_INIT;

static void normal_table_init(void) {
    for (int i = 0; i < NORMAL_TABLE; i++) {
        double p = (i + 0.5) / NORMAL_TABLE, lo = -8, hi = 8;
        for (int it = 0; it < 60; it++) {
            double mid = 0.5 * (lo + hi);
            if (0.5 * erfc(-mid / M_SQRT2) < p) lo = mid;
            else hi = mid;
        }
        normal_table[i] = (float)(0.5 * (lo + hi));
    }
}

static void fill_normal(float *out, size_t n, sf_rng *r) {
    pthread_once(&normal_once, normal_table_init);
    size_t i = 0;
    while (i < n) {
        uint64_t x = sf_rng_next(r);
        for (int k = 0; k < 5 && i < n; k++, i++, x >>= 12)
            out[i] = normal_table[x & (NORMAL_TABLE - 1)];
    }
}

static int poisson(sf_rng *r, double lambda) {
    double p = exp(-lambda), s = sf_rng_uniform(r);
    int k = 0;
    while (s > p && k < 50) s *= sf_rng_uniform(r), k++;
    return k;
}

/* ---- profiles ---- */

static double sersic_b(double n) { return 2 * n - 1.0 / 3 + 4 / (405 * n) + 46 / (25515 * n * n); }

/* Adds a point source of per-band flux f at pixel coordinates (x, y) (col, row). */
static void add_point(canvas *c, double x, double y, const double *f) {
    int S = c->size;
    int x0 = (int)floor(x), y0 = (int)floor(y);
    double fx = x - x0, fy = y - y0;
    double w[4] = {(1 - fx) * (1 - fy), fx * (1 - fy), (1 - fx) * fy, fx * fy};
    int xs[4] = {x0, x0 + 1, x0, x0 + 1}, ys[4] = {y0, y0, y0 + 1, y0 + 1};
    for (int k = 0; k < 4; k++) {
        if (xs[k] < 0 || ys[k] < 0 || xs[k] >= S || ys[k] >= S) continue;
        for (int b = 0; b < SYNTH_N_BANDS; b++)
            c->bands[(size_t)b * S * S + (size_t)ys[k] * S + xs[k]] += (float)(f[b] * w[k]);
    }
}

/* A plain Sersic galaxy (companions, background galaxies): centre (cx, cy) in
 * pixels, re in pixels, pa in degrees, per-band total flux f. Evaluated in a box
 * of 8 re around the centre. */
static void add_sersic(canvas *c, double cx, double cy, double re, double n, double q,
                       double pa_deg, const double *f) {
    int S = c->size;
    if (re < 0.3) re = 0.3;
    /* a minor axis far below a pixel would be sampled badly at pixel centres; the
     * seeing blurs it to the same image anyway */
    if (re * q < 0.7) q = 0.7 / re < 1 ? 0.7 / re : 1;
    double b = sersic_b(n);
    double norm = 1.0 / (2 * M_PI * re * re * q * n * exp(b) * pow(b, -2 * n) * tgamma(2 * n));
    double ca = cos(pa_deg * M_PI / 180), sa = sin(pa_deg * M_PI / 180);
    int rad = (int)ceil(8 * re) + 2;
    int xa = (int)floor(cx) - rad, xb = (int)ceil(cx) + rad;
    int ya = (int)floor(cy) - rad, yb = (int)ceil(cy) + rad;
    if (xa < 0) xa = 0;
    if (ya < 0) ya = 0;
    if (xb > S - 1) xb = S - 1;
    if (yb > S - 1) yb = S - 1;
    float inv_n = (float)(1 / n);
    for (int y = ya; y <= yb; y++) {
        for (int x = xa; x <= xb; x++) {
            int sub = (fabs(x - cx) < 2.5 && fabs(y - cy) < 2.5) ? 4 : 1;
            double acc = 0;
            for (int sy = 0; sy < sub; sy++)
                for (int sx = 0; sx < sub; sx++) {
                    double dx = x + (sx + 0.5) / sub - 0.5 - cx;
                    double dy = -(y + (sy + 0.5) / sub - 0.5 - cy);
                    double u = dx * ca + dy * sa, v = -dx * sa + dy * ca;
                    float rr = (float)(sqrt(u * u + v * v / (q * q)) / re);
                    acc += expf(-(float)b * (powf(rr, inv_n) - 1));
                }
            acc *= norm / (sub * sub);
            for (int k = 0; k < SYNTH_N_BANDS; k++)
                c->bands[(size_t)k * S * S + (size_t)y * S + x] += (float)(f[k] * acc);
        }
    }
}

/* The main galaxy: Sersic bulge + exponential disk with spiral arms (a zero-mean,
 * bluer modulation of the disk in its own plane) and a mid-plane dust lane. */
/* moved_frac: the share of the disk's light drawn elsewhere (clumps, bar, tidal debris). */
static void add_main_galaxy(canvas *c, const synth_galaxy *g, double cx, double cy,
                            double moved_frac) {
    int S = c->size;
    double ps = SYNTH_PIXEL_ARCSEC;
    double kpc_px = g->kpc_per_arcsec * ps;
    double h = g->disk_re_kpc / 1.678 / kpc_px;
    double re_b = g->bulge_re_kpc / kpc_px;
    if (h < 0.3) h = 0.3;
    if (re_b < 0.25) re_b = 0.25;
    double qd = g->axis_ratio, qb = g->bulge_axis_ratio, n = g->sersic_n;
    double b = sersic_b(n);
    double norm_b =
        1.0 / (2 * M_PI * re_b * re_b * qb * n * exp(b) * pow(b, -2 * n) * tgamma(2 * n));
    double norm_d = (1 - moved_frac) / (2 * M_PI * h * h * qd);
    double ca = cos(g->pa * M_PI / 180), sa = sin(g->pa * M_PI / 180);
    double cosi = cos(g->inclination * M_PI / 180);
    double cosi_c = cosi < 0.15 ? 0.15 : cosi;
    int m = g->arms;
    double s_arm = g->arm_strength;
    double tan_p = tan(g->arm_pitch * M_PI / 180);
    const double w_mean = 35.0 / 128; /* mean of ((1 + cos)/2)^4 */
    double lane_sigma = 0.5 * g->q0 * h;
    if (lane_sigma < 0.6) lane_sigma = 0.6;
    double lane_off = 0.2 * g->q0 * h;
    float inv_n = (float)(1 / n);
    int has_disk = g->bulge_frac<0.999, has_bulge = g->bulge_frac> 0.001;
    /* radii beyond which a component adds less than 1e-3 of the sky noise */
    double thr = 1e-3 * sky_sigma[SYNTH_R];
    double peak_d = g->disk_flux[SYNTH_R] * norm_d,
           peak_b = g->bulge_flux[SYNTH_R] * norm_b * exp(b);
    double cut_d = peak_d > thr ? h * log(peak_d / thr) : 0;
    double cut_b = peak_b > thr ? re_b * pow(log(peak_b / thr) / b, n) : 0;
    if (cut_d <= 0) has_disk = 0;
    if (cut_b <= 0) has_bulge = 0;

    for (int y = 0; y < S; y++) {
        for (int x = 0; x < S; x++) {
            int sub = (fabs(x - cx) < 3 && fabs(y - cy) < 3) ? 4 : 1;
            double acc_b = 0, acc_d = 0, acc_a = 0, acc_lane = 0;
            for (int sy = 0; sy < sub; sy++)
                for (int sx = 0; sx < sub; sx++) {
                    double dx = x + (sx + 0.5) / sub - 0.5 - cx;
                    double dy = -(y + (sy + 0.5) / sub - 0.5 - cy);
                    double u = dx * ca + dy * sa, v = -dx * sa + dy * ca;
                    double rb2 = u * u + v * v / (qb * qb);
                    if (has_bulge && rb2 < cut_b * cut_b) {
                        float rr = (float)(sqrt(rb2) / re_b);
                        acc_b += expf(-(float)b * (powf(rr, inv_n) - 1));
                    }
                    double rd = sqrt(u * u + v * v / (qd * qd));
                    if (has_disk && rd < cut_d) {
                        float dval = expf((float)(-rd / h));
                        acc_d += dval;
                        if (m > 0) {
                            float yp = (float)(v / cosi_c), uf = (float)u;
                            float rp = sqrtf(uf * uf + yp * yp) + 1e-6f;
                            float theta = atan2f(yp, uf);
                            float lr = logf(rp / (float)h), ph0 = (float)g->arm_phase;
                            float phi = (float)m * (theta - lr / (float)tan_p) + ph0;
                            /* irregular arms: a wobble in phase and patchy strength */
                            phi += 0.5f * sinf(3 * theta + 2.1f * lr + 1.7f * ph0);
                            float patch = 1 + 0.35f * sinf(5 * theta + 3.3f * lr + 2.9f * ph0);
                            float w = 0.5f * (1 + cosf(phi));
                            w *= w;
                            w *= w * patch;
                            float q = rp / (float)h;
                            float grow = 1 - expf(-q * q);
                            acc_a += dval * s_arm * (w - w_mean) / w_mean * 0.8f * grow;
                        }
                        if (g->dust_lane > 0.01) {
                            float t = (float)((v - lane_off) / lane_sigma);
                            acc_lane +=
                                g->dust_lane * expf(-0.5f * t * t - (float)(fabs(u) / (4 * h)));
                        }
                    }
                }
            double inv = 1.0 / (sub * sub);
            acc_b *= norm_b * inv;
            acc_d *= norm_d * inv;
            acc_a *= norm_d * inv;
            acc_lane *= inv;
            size_t p = (size_t)y * S + x;
            for (int k = 0; k < SYNTH_N_BANDS; k++) {
                double val =
                    g->bulge_flux[k] * acc_b + g->disk_flux[k] * (acc_d + arm_boost[k] * acc_a);
                if (acc_lane > 1e-4) val *= expf(-0.921034f * lane_k[k] * (float)acc_lane);
                if (val < 0) val = 0;
                c->bands[(size_t)k * S * S + p] += (float)val;
            }
        }
    }
}

/* Blue star-forming clumps, preferably on the arms, dropped as points (smaller
 * than the seeing). */
static void add_clumps(canvas *c, const synth_galaxy *g, double cx, double cy, sf_rng *r) {
    int nclump = g->clump_frac > 0 ? poisson(r, 4 + 60 * g->clump_frac) : 0;
    if (!nclump) return;
    double kpc_px = g->kpc_per_arcsec * SYNTH_PIXEL_ARCSEC;
    double h = g->disk_re_kpc / 1.678 / kpc_px;
    double ca = cos(g->pa * M_PI / 180), sa = sin(g->pa * M_PI / 180);
    double cosi = cos(g->inclination * M_PI / 180);
    double tan_p = g->arms ? tan(g->arm_pitch * M_PI / 180) : 1;
    double weight[64], wsum = 0;
    if (nclump > 64) nclump = 64;
    for (int k = 0; k < nclump; k++) wsum += weight[k] = uni(r, 0.3, 1.7);
    for (int k = 0; k < nclump; k++) {
        double rad = -h * (log(1 - sf_rng_uniform(r)) + log(1 - sf_rng_uniform(r)));
        double theta;
        if (g->arms && sf_rng_uniform(r) < 0.7) {
            int arm = (int)sf_rng_below(r, (uint32_t)g->arms);
            theta = log(rad / h + 1e-6) / tan_p + (2 * M_PI * arm - g->arm_phase) / g->arms +
                    0.15 * sf_rng_normal(r);
        } else {
            theta = uni(r, 0, 2 * M_PI);
        }
        double u = rad * cos(theta), v = rad * sin(theta) * cosi;
        double dx = u * ca - v * sa, dy = u * sa + v * ca;
        double share = g->clump_frac * weight[k] / wsum;
        double f[SYNTH_N_BANDS];
        for (int b = 0; b < SYNTH_N_BANDS; b++)
            f[b] = share * g->disk_flux[SYNTH_R] * clump_colour[b];
        add_point(c, cx + dx, cy - dy, f);
    }
}

/* A bar: an elongated flat (n = 0.5) ellipse in the disk plane, seen through the
 * disk's projection. The projected ellipse comes from the in-plane second-moment
 * matrix squeezed by cos i along the minor axis of the disk, then rotated by PA. */
static void add_bar(canvas *c, const synth_galaxy *g, double cx, double cy) {
    double kpc_px = g->kpc_per_arcsec * SYNTH_PIXEL_ARCSEC;
    double a = 0.6 * g->bar_len_kpc / kpc_px, b = a * g->bar_q;
    double cosi = cos(g->inclination * M_PI / 180);
    double ct = cos(g->bar_angle), st = sin(g->bar_angle);
    /* in-plane moments (u along the line of nodes), then v scaled by cos i */
    double muu = a * a * ct * ct + b * b * st * st;
    double mvv = (a * a * st * st + b * b * ct * ct) * cosi * cosi;
    double muv = (a * a - b * b) * ct * st * cosi;
    double tr = muu + mvv, det = muu * mvv - muv * muv;
    double l1 = tr / 2 + sqrt(fmax(tr * tr / 4 - det, 0)), l2 = tr - l1;
    double ang = 0.5 * atan2(2 * muv, muu - mvv) * 180 / M_PI;
    double f[SYNTH_N_BANDS];
    for (int k = 0; k < SYNTH_N_BANDS; k++) f[k] = g->bar_frac * g->disk_flux[k];
    add_sersic(c, cx, cy, sqrt(l1), 0.5, sqrt(fmax(l2, 1e-6) / l1), g->pa + ang, f);
}

/* Tidal debris of a merger: a curved tail away from the companion and a bridge
 * towards it, as strings of points closer than the seeing (smooth after it). */
static void add_tidal(canvas *c, const synth_galaxy *g, double cx, double cy, sf_rng *r) {
    double len = g->tail_len_arcsec / SYNTH_PIXEL_ARCSEC;
    double away = atan2(-g->comp_dy, -g->comp_dx);
    double sep = hypot(g->comp_dx, g->comp_dy) / SYNTH_PIXEL_ARCSEC;
    /* the tail: points spread across a width growing along it */
    int n_tail = (int)(4 * len) + 8, n_bridge = (int)(sep / 0.7) + 2;
    for (int k = 0; k < n_tail; k++) {
        double t = sf_rng_uniform(r), rho = 0.5 * len + t * len, th = away + g->tail_curl * t;
        double wid = 0.12 * len * (0.4 + t) * sf_rng_normal(r);
        double f[SYNTH_N_BANDS];
        for (int b = 0; b < SYNTH_N_BANDS; b++)
            f[b] = 0.7 * g->tail_frac * g->disk_flux[b] * 2 * (1 - 0.7 * t) / 1.3 / n_tail;
        add_point(c, cx + rho * cos(th) - wid * sin(th), cy - rho * sin(th) - wid * cos(th), f);
    }
    /* the bridge: towards the companion, bowed sideways by the same sense of curl */
    double ux = g->comp_dx / SYNTH_PIXEL_ARCSEC / sep, uy = -g->comp_dy / SYNTH_PIXEL_ARCSEC / sep;
    for (int k = 0; k < n_bridge; k++) {
        double t = (double)k / n_bridge, bow = 0.15 * sep * g->tail_curl * sin(M_PI * t);
        double f[SYNTH_N_BANDS];
        for (int b = 0; b < SYNTH_N_BANDS; b++)
            f[b] = 0.3 * g->tail_frac * g->disk_flux[b] / n_bridge;
        add_point(c, cx + t * sep * ux - bow * uy, cy + t * sep * uy + bow * ux, f);
    }
}

/* The field objects drawn with the galaxy (stars, group neighbours, background
 * galaxies), where they fall on this canvas. */
static void add_field(canvas *c, const synth_galaxy *g, double cx, double cy) {
    for (int k = 0; k < g->n_objects; k++) {
        const synth_object *o = &g->objects[k];
        double x = cx + o->dx / SYNTH_PIXEL_ARCSEC, y = cy - o->dy / SYNTH_PIXEL_ARCSEC;
        if (o->kind == SYNTH_OBJ_STAR) {
            add_point(c, x, y, o->flux);
        } else {
            double re = o->re_arcsec / SYNTH_PIXEL_ARCSEC;
            /* skip what lies wholly off this canvas */
            if (x < -8 * re || y < -8 * re || x > c->size + 8 * re || y > c->size + 8 * re)
                continue;
            add_sersic(c, x, y, re, o->n, o->q, o->pa, o->flux);
        }
    }
}

/* ---- seeing and noise ---- */

/* In-place separable convolution of an (S, S) image with a symmetric kernel of
 * half-width rad (k[0..rad]); outside the image counts as zero. tmp: (S, S). */
static void convolve_separable(float *img, float *tmp, int S, const float *k, int rad) {
    float row[1024 + 2 * 64];
    SF_ASSERT(S <= 1024 && rad <= 64);
    memset(row, 0, sizeof(float) * (size_t)(S + 2 * rad));
    for (int y = 0; y < S; y++) {
        memcpy(row + rad, img + (size_t)y * S, sizeof(float) * (size_t)S);
        float *out = tmp + (size_t)y * S;
        for (int x = 0; x < S; x++) out[x] = k[0] * row[rad + x];
        for (int j = 1; j <= rad; j++) {
            const float *lo = row + rad - j, *hi = row + rad + j;
            float kj = k[j];
#pragma omp simd
            for (int x = 0; x < S; x++) out[x] += kj * (lo[x] + hi[x]);
        }
    }
    for (int y = 0; y < S; y++) {
        float *out = img + (size_t)y * S;
        for (int x = 0; x < S; x++) out[x] = k[0] * tmp[(size_t)y * S + x];
        for (int j = 1; j <= rad; j++) {
            if (y - j >= 0) {
                const float *src = tmp + (size_t)(y - j) * S;
#pragma omp simd
                for (int x = 0; x < S; x++) out[x] += k[j] * src[x];
            }
            if (y + j < S) {
                const float *src = tmp + (size_t)(y + j) * S;
#pragma omp simd
                for (int x = 0; x < S; x++) out[x] += k[j] * src[x];
            }
        }
    }
}

/* A normalised Gaussian kernel k[0..rad] of sigma pixels; returns rad. */
static int gauss_kernel(float *k, double sigma, int max_rad) {
    int rad = (int)ceil(3.5 * sigma);
    if (rad > max_rad) rad = max_rad;
    double sum = 0;
    for (int j = 0; j <= rad; j++) sum += (j ? 2 : 1) * exp(-0.5 * j * j / (sigma * sigma));
    for (int j = 0; j <= rad; j++) k[j] = (float)(exp(-0.5 * j * j / (sigma * sigma)) / sum);
    return rad;
}

/* The field's PSF: per band, a Gaussian core of the band's FWHM (seeing ~ lambda^-0.2)
 * holding 1 - wing of the light and a Gaussian wing 2.5 times wider holding wing.
 * wide: (S, S) scratch, tmp: (S, S). */
static const double band_seeing[SYNTH_N_BANDS] = {1.06, 1.0, 0.96};

static void seeing(canvas *c, double fwhm_arcsec, double wing, float *wide, float *tmp) {
    int S = c->size;
    size_t np = (size_t)S * S;
    for (int b = 0; b < SYNTH_N_BANDS; b++) {
        float *img = c->bands + (size_t)b * np;
        double sigma = band_seeing[b] * fwhm_arcsec / 2.354820045 / SYNTH_PIXEL_ARCSEC;
        float k[65];
        if (wing > 0) {
            memcpy(wide, img, np * sizeof(float));
            int rw = gauss_kernel(k, 2.5 * sigma, 64);
            convolve_separable(wide, tmp, S, k, rw);
        }
        int rad = gauss_kernel(k, sigma, 32);
        convolve_separable(img, tmp, S, k, rad);
        if (wing > 0) {
            float a = (float)(1 - wing), w = (float)wing;
            for (size_t p = 0; p < np; p++) img[p] = a * img[p] + w * wide[p];
        }
    }
}

/* The field's sky noise (its level set by the sky brightness), source noise, and the
 * residual background the sky subtraction left. */
static void add_noise(canvas *c, const synth_galaxy *g, sf_rng *r, float *noise, float *tmp) {
    int S = c->size;
    /* [1 2 1]/4 smoothing in each direction leaves 0.375 of the variance per axis */
    const float k[2] = {0.5f, 0.25f};
    const float restore = 1.0f / 0.375f;
    float field = g->sky_noise > 0 ? (float)g->sky_noise : 1.0f;
    for (int b = 0; b < SYNTH_N_BANDS; b++) {
        fill_normal(noise, (size_t)S * S, r);
        convolve_separable(noise, tmp, S, k, 1);
        float *img = c->bands + (size_t)b * S * S;
        float sky = sky_sigma[b] * field, offset = (float)g->sky_offset[b] * sky_sigma[b];
        for (size_t p = 0; p < (size_t)S * S; p++) {
            float src = img[p] > 0 ? img[p] / gain[b] : 0;
            img[p] += sqrtf(sky * sky + src) * noise[p] * restore + offset;
        }
    }
}

void synth_render_bands(float *bands, const synth_galaxy *g, const synth_render_options *opt) {
    int S = opt->size;
    SF_ASSERT(S >= 8);
    memset(bands, 0, sizeof(float) * 3 * (size_t)S * S);
    canvas c = {S, bands};
    sf_rng rng;
    sf_rng_seed(&rng, g->render_seed);
    double cx = (S - 1) / 2.0 + uni(&rng, -0.5, 0.5), cy = (S - 1) / 2.0 + uni(&rng, -0.5, 0.5);

    add_main_galaxy(&c, g, cx, cy,
                    g->clump_frac + (g->bar ? g->bar_frac : 0) + (g->merger ? g->tail_frac : 0));
    add_clumps(&c, g, cx, cy, &rng);
    if (g->agn_point_frac > 0) {
        double f[SYNTH_N_BANDS];
        static const double blue[SYNTH_N_BANDS] = {1.3, 1.0, 0.85};
        for (int b = 0; b < SYNTH_N_BANDS; b++)
            f[b] = g->agn_point_frac * (g->bulge_flux[b] + g->disk_flux[b]) * blue[b];
        add_point(&c, cx, cy, f);
    }
    if (g->bar) add_bar(&c, g, cx, cy);
    if (g->merger) {
        add_tidal(&c, g, cx, cy, &rng);
        double re = g->comp_re_arcsec / SYNTH_PIXEL_ARCSEC;
        add_sersic(&c, cx + g->comp_dx / SYNTH_PIXEL_ARCSEC, cy - g->comp_dy / SYNTH_PIXEL_ARCSEC,
                   re, g->comp_n, g->comp_q, g->comp_pa, g->comp_flux);
    }
    if (opt->field) add_field(&c, g, cx, cy);

    float *tmp = xmalloc(sizeof(float) * 2 * (size_t)S * S);
    seeing(&c, g->psf_fwhm, g->psf_wing, tmp + (size_t)S * S, tmp);
    if (opt->sky_noise) {
        sf_rng noise_rng;
        sf_rng_seed(&noise_rng, g->render_seed ^ 0x2545f4914f6cdd1dULL);
        add_noise(&c, g, &noise_rng, tmp + (size_t)S * S, tmp);
    }
    free(tmp);
}

/* ---- colour ---- */

/* The asinh stretch of SDSS/Legacy Survey colour images (Lupton et al. 2004):
 * per-band scales, I = mean of the scaled bands, every channel multiplied by
 * asinh(Q (I - m)) / sqrt(Q) / I so that colours are kept, then saturated
 * colours scaled down by their largest channel rather than clipped. */
#define STRETCH_Q 100.0f
#define STRETCH_M 0.0f
static const float rgb_scale[3] = {2.03f, 2.52f, 3.3f}; /* R <- i, G <- r, B <- g */
/* A faint sky pedestal, as left by the sky subtraction of survey colour images. */
static const float rgb_pedestal[3] = {0.0012f, 0.0009f, 0.0009f};

void synth_stretch_rgb(uint8_t *rgb, const float *bands, int size) {
    size_t np = (size_t)size * size;
    const float *gb = bands, *rb = bands + np, *ib = bands + 2 * np;
    for (size_t p = 0; p < np; p++) {
        float R = ib[p] * rgb_scale[0] + rgb_pedestal[0],
              G = rb[p] * rgb_scale[1] + rgb_pedestal[1],
              B = gb[p] * rgb_scale[2] + rgb_pedestal[2];
        float I = (R + G + B) / 3;
        float out[3] = {0, 0, 0};
        if (I > STRETCH_M && I > 1e-9f) {
            float f = asinhf(STRETCH_Q * (I - STRETCH_M)) / sqrtf(STRETCH_Q) / I;
            out[0] = R * f, out[1] = G * f, out[2] = B * f;
            float mx = out[0] > out[1] ? out[0] : out[1];
            if (out[2] > mx) mx = out[2];
            if (mx > 1) out[0] /= mx, out[1] /= mx, out[2] /= mx;
        }
        for (int k = 0; k < 3; k++) {
            float v = out[k] < 0 ? 0 : out[k] > 1 ? 1 : out[k];
            rgb[p * 3 + k] = (uint8_t)lrintf(v * 255.0f);
        }
    }
}

void synth_render_rgb(uint8_t *rgb, const synth_galaxy *g, int size) {
    float *bands = xmalloc(sizeof(float) * 3 * (size_t)size * size);
    synth_render_options opt = {size, 1, 1};
    synth_render_bands(bands, g, &opt);
    synth_stretch_rgb(rgb, bands, size);
    free(bands);
}

/* ---- PNG ---- */

int synth_write_png(const char *path, const uint8_t *rgb, int width, int height) {
    FILE *f = fopen(path, "wb");
    if (!f) return sf_fail("%s: cannot create: %s", path, strerror(errno));
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) {
        png_destroy_write_struct(&png, &info);
        fclose(f);
        return sf_fail("%s: libpng could not start", path);
    }
    png_bytep *rows = xmalloc(sizeof(png_bytep) * (size_t)height);
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        free(rows);
        fclose(f);
        return sf_fail("%s: writing the PNG failed (disk full?)", path);
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8, PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_set_compression_strategy(png, Z_RLE); /* fast; the dark sky compresses well */
    png_set_filter(png, 0, PNG_FILTER_SUB);
    png_write_info(png, info);
    for (int y = 0; y < height; y++) rows[y] = (png_bytep)(rgb + (size_t)y * width * 3);
    png_write_image(png, rows);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(rows);
    if (fclose(f) != 0) return sf_fail("%s: cannot write: %s", path, strerror(errno));
    return SF_OK;
}
