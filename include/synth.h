/* synth.h: a seeded synthetic galaxy survey whose physics is known.
 *
 * The survey stands in for the SDSS + MPA-JHU data set that cannot ship with
 * the tool: `sfnet-explore synth` writes OUT_DIR/galaxies.csv and
 * OUT_DIR/images/<objID>.png in the layout of the real data set, so the data
 * loader (data_catalog.h, data_image.h) reads it as it reads SDSS.
 *
 * Two layers, usable apart:
 *  - synth_draw() draws one galaxy's catalogue row and latent truths from
 *    (seed, index) alone: environment, stellar mass, quenching, SFR, morphology,
 *    inclination, dust, AGN, redshift, magnitudes, the field it was observed in (seeing,
 *    sky, stars, group neighbours and background galaxies), emission lines and
 *    metallicity. It renders nothing, so tests of the physics draw thousands of rows
 *    in milliseconds.
 *  - synth_render_bands() renders a drawn galaxy into g, r, i images
 *    (nanomaggies per 0.262" pixel, seeing-convolved, with sky noise) and
 *    synth_stretch_rgb() turns them into an 8-bit colour cutout with the asinh
 *    stretch of survey colour images (i -> red, r -> green, g -> blue).
 * Every galaxy has its own random stream (seed, index), so the output is
 * byte-identical for a seed whatever the number of threads.
 *
 * Units and conventions (the catalogue's):
 *  - lgm_tot_p50 log10 (M* / Msun), sfr_tot_p50 log10 SFR/(Msun/yr), oh_p50 = 12 + log O/H
 *    on the Tremonti et al. 2004 scale, -9999 where the catalogue has none
 *    (bptclass other than 1: AGN, composites, low S/N).
 *  - line fluxes and errors: fibre (3" diameter) fluxes in 1e-17 erg/s/cm^2, measured
 *    (true flux plus Gaussian noise of the quoted error: may be negative).
 *  - bptclass, MPA-JHU codes from the measured lines: 1 star-forming, 2 low S/N
 *    star-forming, 3 composite, 4 AGN, 5 low S/N LINER, -1 unclassifiable.
 *  - position angle: degrees counter-clockwise from the image's +x axis (right),
 *    with image y pointing up (row 0 is the top row).
 * All memory passed in is owned by the caller; nothing here keeps a pointer.
 */
#ifndef SF_SYNTH_H
#define SF_SYNTH_H

#include <stdint.h>
#include <stdio.h>

#define SYNTH_PIXEL_ARCSEC 0.262
#define SYNTH_FIBRE_RADIUS_ARCSEC 1.5
/* The physics' version: a survey made by another version is another survey (caches
 * of generated surveys carry it in their names). */
#define SYNTH_VERSION 2
/* Field objects (stars, galaxies of the same group, background galaxies) are drawn
 * over a square of this many pixels around the galaxy (the largest cutout the tool
 * makes); the catalogue counts those inside the central SYNTH_COUNT_PIXELS (the
 * paper's 144-pixel crop). */
#define SYNTH_FIELD_PIXELS 160
#define SYNTH_COUNT_PIXELS 144
#define SYNTH_MAX_OBJECTS 32

enum { SYNTH_OBJ_STAR = 0, SYNTH_OBJ_NEIGHBOUR = 1, SYNTH_OBJ_BACKGROUND = 2 };

/* A star or a galaxy in the cutout besides the galaxy itself (and its merger
 * companion). */
typedef struct {
    int kind;                   /* SYNTH_OBJ_* */
    double dx, dy;              /* arcsec from the galaxy's centre, x right, y up */
    double flux[3];             /* nanomaggies per band (g, r, i) */
    double re_arcsec, n, q, pa; /* galaxies: Sersic half-light radius, index, b/a, PA (deg) */
} synth_object;

enum { SYNTH_NII = 0, SYNTH_HALPHA, SYNTH_OIII, SYNTH_HBETA, SYNTH_N_LINES };
enum { SYNTH_G = 0, SYNTH_R, SYNTH_I, SYNTH_N_BANDS };

typedef struct {
    char obj_id[24];      /* 19-digit decimal string, unique within a survey */
    uint64_t render_seed; /* the image's own random stream */

    /* what the catalogue shows */
    double ra, dec, z;
    double lgm;                                          /* log10 (M* / Msun) */
    double sfr;                                          /* log10 SFR */
    double oh;                                           /* 12 + log O/H, NAN where missing */
    double flux[SYNTH_N_LINES], flux_err[SYNTH_N_LINES]; /* measured, 1e-17 erg/s/cm^2 */
    int bptclass;
    double mag[SYNTH_N_BANDS]; /* model magnitudes (AB) of the galaxy, companion excluded */
    double petro_r50;          /* half-light radius, arcsec (before seeing) */

    /* latent truths */
    int quenched, agn, merger, arms;
    int n_stars, n_neighbours, n_background; /* field objects inside the central 144 pixels */
    double bulge_frac;                       /* B/T in r */
    double sersic_n;                         /* bulge Sersic index (the disk is exponential) */
    double re_kpc; /* approximate half-light radius: B/T-weighted mean of bulge and disk */
    double disk_re_kpc, bulge_re_kpc;
    double inclination;      /* degrees, 0 face-on */
    double axis_ratio;       /* projected disk axis ratio b/a */
    double bulge_axis_ratio; /* projected bulge axis ratio */
    double q0;               /* intrinsic disk thickness */
    double pa;               /* degrees, see above */
    double arm_pitch;        /* degrees */
    double arm_strength;     /* 0..1 */
    double arm_phase;        /* radians */
    double clump_frac;       /* fraction of disk light in star-forming clumps */
    double dust_av;          /* V-band attenuation of the disk (stars), mag */
    double gr;               /* g - r of the galaxy including dust */
    double oh_true;          /* metallicity before the catalogue's missing mask */
    double psf_fwhm;         /* r-band seeing of the field, arcsec (g 6% wider, i 4% narrower) */
    double psf_wing;      /* share of the PSF's light in its wide wing (2.5 x the core's sigma) */
    double sky_mag;       /* r-band sky brightness of the field, mag/arcsec^2 */
    double sky_noise;     /* the field's pixel noise relative to the nominal (sky_sigma) */
    double sky_offset[3]; /* residual background left by the sky subtraction, per band,
                                 in units of that band's nominal pixel noise */
    double gal_lat;       /* galactic latitude, degrees (star counts) */
    double env;           /* log10 Sigma_5 / Mpc^-2, the local density of bright galaxies */
    double size_offset;   /* log10 of the disk's size over the mass-size relation, dex */
    double fibre_r;       /* light-weighted mean deprojected radius of the disk light in
                                 the fibre, in disk half-light radii */
    double comp_sep_kpc;  /* projected separation of a merger's companion, kpc */
    double kpc_per_arcsec;
    double dust_lane;      /* optical depth of the mid-plane lane (0: none) */
    double agn_point_frac; /* r flux of a central point source / galaxy flux */
    /* component fluxes in nanomaggies, per band */
    double bulge_flux[SYNTH_N_BANDS], disk_flux[SYNTH_N_BANDS];
    /* companion (merger): offset in arcsec, size, shape, fluxes */
    double comp_dx, comp_dy, comp_re_arcsec, comp_n, comp_q, comp_pa;
    double comp_flux[SYNTH_N_BANDS];
    /* tidal tail and bridge of a merger: r-flux fraction, curl (radians), length (arcsec) */
    double tail_frac, tail_curl, tail_len_arcsec;
    /* stellar bar: fraction of the disk light, in-plane semi-major axis (kpc),
     * in-plane axis ratio and angle from the line of nodes (radians) */
    int bar;
    double bar_frac, bar_len_kpc, bar_q, bar_angle;
    /* field objects over SYNTH_FIELD_PIXELS around the galaxy */
    int n_objects;
    synth_object objects[SYNTH_MAX_OBJECTS];
} synth_galaxy;

/* Draws galaxy `index` of the survey with seed `seed`. Deterministic. */
void synth_draw(synth_galaxy *g, uint64_t seed, long index);

/* Cosmology: flat LCDM, H0 = 70 km/s/Mpc, Omega_m = 0.3. Distances in Mpc. */
double synth_comoving_distance(double z);
double synth_angular_diameter_distance(double z);
double synth_luminosity_distance(double z);

/* Catalogue: header line and one row per galaxy, fixed formats (deterministic). */
void synth_csv_header(FILE *f);
void synth_csv_row(FILE *f, const synth_galaxy *g);

/* Demarcation lines of the BPT diagram, x = log [NII]/Ha: log [OIII]/Hb. */
double synth_kauffmann03(double x); /* valid for x < 0.05 */
double synth_kewley01(double x);    /* valid for x < 0.47 */

typedef struct {
    int size;      /* pixels on a side (144), 8 to 1024 */
    int sky_noise; /* 1: add the field's sky noise, source noise and residual background */
    int field;     /* 1: add the field objects (stars, group neighbours, background) */
} synth_render_options;

/* bands: (3, size, size) floats, g r i in nanomaggies per pixel, row 0 at the top.
 * Deterministic in (g->render_seed, options). */
void synth_render_bands(float *bands, const synth_galaxy *g, const synth_render_options *opt);
/* rgb: (size, size, 3) bytes from bands (3, size, size): asinh stretch. */
void synth_stretch_rgb(uint8_t *rgb, const float *bands, int size);
/* Renders with noise and field into rgb (size, size, 3). */
void synth_render_rgb(uint8_t *rgb, const synth_galaxy *g, int size);

/* 8-bit RGB PNG through libpng, no timestamps. SF_ERR with a message on failure. */
int synth_write_png(const char *path, const uint8_t *rgb, int width, int height);

typedef struct {
    long n; /* galaxies */
    uint64_t seed;
    int size;    /* cutout pixels (144) */
    int threads; /* 0: OpenMP's default */
    int quiet;   /* no progress bar */
} synth_options;

/* Writes out_dir/galaxies.csv and out_dir/images/<objID>.png, creating the
 * directories. SF_ERR with a message naming the file on failure. */
int synth_survey(const char *out_dir, const synth_options *opt);

/* Contact sheet of opt->n cutouts (galaxies 0..n-1 of the seed) with their key
 * properties written under each, as a PNG (cairo). */
int synth_preview(const char *png_path, const synth_options *opt);

#endif
