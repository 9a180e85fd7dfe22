/* synth_survey.c: writing a whole synthetic survey (catalogue + cutouts) and the
 * preview contact sheet.
 *
 * Galaxies are drawn in blocks; each block's cutouts are rendered in parallel
 * (OpenMP over galaxies, each with its own random stream) and its catalogue rows
 * written in order, so the bytes do not depend on the number of threads. The
 * catalogue is written to galaxies.csv.tmp and renamed when complete: a survey
 * that stopped half-way never looks finished.
 *
 * Layer: library. Calls: synth, synth_render, sf_util; cairo, OpenMP.
 * Called by: cli_synth, cli_train.
 */
#include <cairo.h>
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sf_output.h"
#include "sf_util.h"
#include "synth.h"

enum { BLOCK = 1024 };

/* mkdir -p for one or two levels; SF_ERR with a message. */
static int make_dir(const char *path) {
    if (mkdir(path, 0777) == 0 || errno == EEXIST) {
        struct stat st;
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) return SF_OK;
        return sf_fail("%s: exists and is not a directory", path);
    }
    if (errno == ENOENT) {
        char *parent = xstrdup(path);
        char *slash = strrchr(parent, '/');
        int rc = SF_ERR;
        if (slash && slash != parent) {
            *slash = 0;
            rc = make_dir(parent);
        }
        free(parent);
        if (rc == SF_OK && (mkdir(path, 0777) == 0 || errno == EEXIST)) return SF_OK;
    }
    return sf_fail("%s: cannot create the directory: %s", path, strerror(errno));
}

int synth_survey(const char *out_dir, const synth_options *opt) {
    if (opt->n <= 0) return sf_fail("the number of galaxies must be positive (got %ld)", opt->n);
    if (opt->size < 16 || opt->size > 1024)
        return sf_fail("cutout size must be between 16 and 1024 pixels (got %d)", opt->size);
    size_t dlen = strlen(out_dir) + 64;
    char *images = xmalloc(dlen), *csv = xmalloc(dlen), *csv_tmp = xmalloc(dlen);
    snprintf(images, dlen, "%s/images", out_dir);
    snprintf(csv, dlen, "%s/galaxies.csv", out_dir);
    snprintf(csv_tmp, dlen, "%s/galaxies.csv.tmp", out_dir);
    int rc = SF_ERR;
    FILE *f = NULL;
    synth_galaxy *gal = NULL;
    if (make_dir(out_dir) != SF_OK || make_dir(images) != SF_OK) goto done;
    f = fopen(csv_tmp, "w");
    if (!f) {
        sf_fail("%s: cannot create: %s", csv_tmp, strerror(errno));
        goto done;
    }
    synth_csv_header(f);
    gal = xmalloc(sizeof *gal * BLOCK);
    int threads = opt->threads > 0 ? opt->threads : omp_get_max_threads();
    sf_progress prog;
    sf_progress_start(&prog, "synth", opt->n, "gal");
    prog.quiet |= opt->quiet;
    long done_count = 0;
    char err[512] = "";
    int failed = 0;
    for (long start = 0; start < opt->n && !failed; start += BLOCK) {
        int nb = (int)(opt->n - start < BLOCK ? opt->n - start : BLOCK);
        for (int k = 0; k < nb; k++) synth_draw(&gal[k], opt->seed, start + k);
#pragma omp parallel num_threads(threads)
        {
            int S = opt->size;
            uint8_t *rgb = xmalloc((size_t)S * S * 3);
            char *path = xmalloc(dlen);
#pragma omp for schedule(dynamic, 4)
            for (int k = 0; k < nb; k++) {
                int bad;
#pragma omp atomic read
                bad = failed;
                if (bad) continue;
                synth_render_rgb(rgb, &gal[k], S);
                snprintf(path, dlen, "%s/%s.png", images, gal[k].obj_id);
                int wrc = synth_write_png(path, rgb, S, S);
#pragma omp critical(synth_progress)
                {
                    if (wrc != SF_OK && !failed) {
                        snprintf(err, sizeof err, "%s", sf_last_error());
#pragma omp atomic write
                        failed = 1;
                    }
                    done_count++;
                    sf_progress_update(&prog, done_count, NULL);
                }
            }
            free(rgb);
            free(path);
        }
        for (int k = 0; k < nb && !failed; k++) synth_csv_row(f, &gal[k]);
    }
    if (failed) {
        sf_fail("%s", err);
        goto done;
    }
    sf_progress_finish(&prog, NULL);
    if (ferror(f) || fclose(f) != 0) {
        f = NULL;
        sf_fail("%s: cannot write: %s", csv_tmp, strerror(errno));
        goto done;
    }
    f = NULL;
    /* the physics' version beside the catalogue, for scripts that keep a survey */
    snprintf(csv_tmp, dlen, "%s/synth-version", out_dir);
    FILE *vf = fopen(csv_tmp, "w");
    int v_ok = vf != NULL;
    if (vf) {
        v_ok = fprintf(vf, "%d\n", SYNTH_VERSION) >= 0;
        if (fclose(vf) != 0) v_ok = 0;
    }
    if (!v_ok) {
        sf_fail("%s: cannot write: %s", csv_tmp, strerror(errno));
        goto done;
    }
    snprintf(csv_tmp, dlen, "%s/galaxies.csv.tmp", out_dir);
    if (rename(csv_tmp, csv) != 0) {
        sf_fail("%s: cannot rename to %s: %s", csv_tmp, csv, strerror(errno));
        goto done;
    }
    rc = SF_OK;
done:
    if (f) fclose(f);
    free(gal);
    free(images);
    free(csv);
    free(csv_tmp);
    return rc;
}

/* ---- preview ---- */

static const char *bpt_name(int c) {
    switch (c) {
    case 1: return "SF";
    case 2: return "SF?";
    case 3: return "comp";
    case 4: return "AGN";
    case 5: return "LINER?";
    default: return "-";
    }
}

int synth_preview(const char *png_path, const synth_options *opt) {
    int n = (int)opt->n, S = opt->size;
    if (n <= 0 || n > 400) return sf_fail("a preview shows 1 to 400 galaxies (got %d)", n);
    if (S < 16 || S > 512)
        return sf_fail("cutout size must be between 16 and 512 pixels (got %d)", S);
    int cols = n < 8 ? n : 8, rows = (n + cols - 1) / cols;
    const int pad = 6, line_h = 12, n_lines = 3;
    int cell_w = S + pad, cell_h = S + pad + n_lines * line_h + 4;
    int W = cols * cell_w + pad, H = rows * cell_h + pad;
    cairo_surface_t *sheet = cairo_image_surface_create(CAIRO_FORMAT_RGB24, W, H);
    cairo_t *cr = cairo_create(sheet);
    cairo_set_source_rgb(cr, 0.12, 0.12, 0.14);
    cairo_paint(cr);
    cairo_select_font_face(cr, "DejaVu Sans Mono", CAIRO_FONT_SLANT_NORMAL,
                           CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, 10);
    uint8_t *rgb = xmalloc((size_t)S * S * 3);
    int stride = cairo_format_stride_for_width(CAIRO_FORMAT_RGB24, S);
    unsigned char *cell = xmalloc((size_t)stride * S);
    for (int k = 0; k < n; k++) {
        synth_galaxy g;
        synth_draw(&g, opt->seed, k);
        synth_render_rgb(rgb, &g, S);
        for (int y = 0; y < S; y++) {
            uint32_t *row = (uint32_t *)(cell + (size_t)y * stride);
            for (int x = 0; x < S; x++) {
                const uint8_t *p = rgb + ((size_t)y * S + x) * 3;
                row[x] = 0xff000000u | (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
            }
        }
        cairo_surface_t *img =
            cairo_image_surface_create_for_data(cell, CAIRO_FORMAT_RGB24, S, S, stride);
        double x0 = pad + (k % cols) * cell_w, y0 = pad + (k / cols) * cell_h;
        cairo_set_source_surface(cr, img, x0, y0);
        cairo_paint(cr);
        cairo_surface_destroy(img);
        char lines[3][96];
        snprintf(lines[0], sizeof lines[0], "M%.2f z%.3f %s%s", g.lgm, g.z, g.quenched ? "Q" : "SF",
                 g.agn ? " AGN" : "");
        if (isnan(g.oh))
            snprintf(lines[1], sizeof lines[1], "Z --   sfr%+.2f %s", g.sfr, bpt_name(g.bptclass));
        else
            snprintf(lines[1], sizeof lines[1], "Z%.2f sfr%+.2f %s", g.oh, g.sfr,
                     bpt_name(g.bptclass));
        snprintf(lines[2], sizeof lines[2], "i%2.0f B/T%.2f a%d%s g-r%.2f", g.inclination,
                 g.bulge_frac, g.arms, g.merger ? " M" : "", g.gr);
        cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
        for (int l = 0; l < n_lines; l++) {
            cairo_move_to(cr, x0, y0 + S + line_h * (l + 1));
            cairo_show_text(cr, lines[l]);
        }
    }
    free(rgb);
    free(cell);
    cairo_destroy(cr);
    cairo_surface_flush(sheet);
    int rc = sf_output_png(sheet, png_path);
    cairo_surface_destroy(sheet);
    return rc;
}
