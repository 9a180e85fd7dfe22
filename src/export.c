/* export.c: galleries and the Figure-2 layout with cairo (see export.h).
 * Layer: library. Calls: plot, sf_util; cairo.
 * Called by: cli_export, query_view, tui_app.
 */
#include "export.h"

#include <cairo-pdf.h>
#include <cairo.h>
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plot.h"
#include "sf_output.h"
#include "sf_util.h"

#define FONT "DejaVu Sans"
#define TILE 256   /* galaxy tile, px */
#define CAPTION 40 /* two caption lines under a tile */
#define GAP 12
#define MARGIN 24
#define TITLE_H 44
#define BPT_W 610    /* BPT panel including its axes and colour bar */
#define BPT_PLOT 400 /* plot area, px (square) */

void export_shutdown(void) {
    cairo_debug_reset_static_data();
    /* fontconfig comes with cairo; look FcFini up rather than link it ourselves */
    void (*fc_fini)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, "FcFini");
    if (fc_fini) fc_fini();
}

int export_parse_grid(const char *s, int *cols, int *rows) {
    char tail;
    if (sscanf(s, "%dx%d%c", cols, rows, &tail) != 2 || *cols < 1 || *rows < 1 || *cols > 20 ||
        *rows > 20)
        return sf_fail("--grid '%s': expected COLSxROWS such as 3x3", s);
    return SF_OK;
}

static int n_tiles(const export_figure *f) {
    int n = f->grid_cols * f->grid_rows;
    return n < f->n_galaxies ? n : f->n_galaxies;
}

void export_figure_size(const export_figure *f, int *width, int *height) {
    int gw = f->grid_cols * TILE + (f->grid_cols - 1) * GAP;
    int gh = f->grid_rows * (TILE + CAPTION) + (f->grid_rows - 1) * GAP;
    if (f->bpt) {
        *width = MARGIN + BPT_W + GAP + gw + MARGIN;
        int bh = BPT_PLOT + 120;
        *height = TITLE_H + (gh > bh ? gh : bh) + MARGIN;
    } else {
        *width = MARGIN + gw + MARGIN;
        *height = TITLE_H + gh + MARGIN;
    }
}

static void set_font(cairo_t *cr, double size, int bold) {
    cairo_select_font_face(cr, FONT, CAIRO_FONT_SLANT_NORMAL,
                           bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, size);
}

/* Draws text with its reference point placed by (ax, ay): 0 left/top, 0.5 centre, 1 right/bottom. */
static void text_at(cairo_t *cr, double x, double y, const char *s, double ax, double ay) {
    cairo_text_extents_t e;
    cairo_text_extents(cr, s, &e);
    cairo_font_extents_t fe;
    cairo_font_extents(cr, &fe);
    double h = fe.ascent;
    cairo_move_to(cr, round(x - ax * e.x_advance), round(y + (1 - ay) * h - 0 * ay));
    cairo_show_text(cr, s);
}

static void draw_galaxy(cairo_t *cr, const export_galaxy *g, double x, double y) {
    if (g->rgb && g->w > 0 && g->h > 0) {
        cairo_surface_t *img = cairo_image_surface_create(CAIRO_FORMAT_RGB24, g->w, g->h);
        cairo_surface_flush(img);
        unsigned char *data = cairo_image_surface_get_data(img);
        int stride = cairo_image_surface_get_stride(img);
        for (int r = 0; r < g->h; r++) {
            uint32_t *row = (uint32_t *)(data + (size_t)r * stride);
            const uint8_t *src = g->rgb + (size_t)r * g->w * 3;
            for (int c = 0; c < g->w; c++)
                row[c] =
                    (uint32_t)src[3 * c] << 16 | (uint32_t)src[3 * c + 1] << 8 | src[3 * c + 2];
        }
        cairo_surface_mark_dirty(img);
        cairo_save(cr);
        cairo_translate(cr, x, y);
        double s = (double)TILE / (g->w > g->h ? g->w : g->h);
        cairo_scale(cr, s, s);
        cairo_set_source_surface(cr, img, 0, 0);
        cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_BEST);
        cairo_rectangle(cr, 0, 0, g->w, g->h);
        cairo_fill(cr);
        cairo_restore(cr);
        cairo_surface_destroy(img);
    } else {
        cairo_set_source_rgb(cr, 0.85, 0.85, 0.85);
        cairo_rectangle(cr, x, y, TILE, TILE);
        cairo_fill(cr);
        cairo_set_source_rgb(cr, 0.3, 0.3, 0.3);
        set_font(cr, 14, 0);
        text_at(cr, x + TILE / 2.0, y + TILE / 2.0, "no image", 0.5, 0.5);
    }
    /* a frame in the activation's colour */
    uint8_t r, gg, b;
    plot_colormap(g->scaled, &r, &gg, &b);
    cairo_set_source_rgb(cr, r / 255.0, gg / 255.0, b / 255.0);
    cairo_set_line_width(cr, 4);
    cairo_rectangle(cr, x + 2, y + 2, TILE - 4, TILE - 4);
    cairo_stroke(cr);

    char buf[96];
    cairo_set_source_rgb(cr, 0, 0, 0);
    set_font(cr, 14, 0);
    text_at(cr, x + TILE / 2.0, y + TILE + 4, g->obj_id, 0.5, 0);
    snprintf(buf, sizeof buf, "activation %.3f  (%.2f of max)", g->activation, g->scaled);
    set_font(cr, 13, 0);
    text_at(cr, x + TILE / 2.0, y + TILE + 22, buf, 0.5, 0);
}

static void draw_grid(cairo_t *cr, const export_figure *f, double x0, double y0) {
    int n = n_tiles(f);
    for (int i = 0; i < n; i++) {
        int c = i % f->grid_cols, r = i / f->grid_cols;
        draw_galaxy(cr, &f->galaxies[i], x0 + c * (TILE + GAP), y0 + r * (TILE + CAPTION + GAP));
    }
}

typedef struct {
    float v;
    int i;
} order_item;

static int by_value(const void *a, const void *b) {
    const order_item *x = a, *y = b;
    if (x->v != y->v) return x->v < y->v ? -1 : 1;
    return x->i - y->i;
}

static void draw_bpt(cairo_t *cr, const export_figure *f, double x0, double y0) {
    double xmin = f->x_min, xmax = f->x_max, ymin = f->y_min, ymax = f->y_max;
    if (xmin == 0 && xmax == 0 && ymin == 0 && ymax == 0) {
        xmin = -1.55;
        xmax = 0.55;
        ymin = -1.05;
        ymax = 1.3;
    }
    const char *xl = f->x_label ? f->x_label : "log([NII] / H\xce\xb1)";
    const char *yl = f->y_label ? f->y_label : "log([OIII] / H\xce\xb2)";
    double px = x0 + 70, py = y0 + 10, pw = BPT_PLOT, ph = BPT_PLOT;
#define MAPX(v) (px + ((v)-xmin) / (xmax - xmin) * pw)
#define MAPY(v) (py + (ymax - (v)) / (ymax - ymin) * ph)

    cairo_save(cr);
    cairo_rectangle(cr, px, py, pw, ph);
    cairo_clip(cr);
    /* strongest drawn last */
    order_item *ord = xmalloc((size_t)(f->n_points > 0 ? f->n_points : 1) * sizeof *ord);
    int n = 0;
    for (int i = 0; i < f->n_points; i++) {
        if (!isfinite(f->bpt_x[i]) || !isfinite(f->bpt_y[i])) continue;
        ord[n].v = isfinite(f->bpt_scaled[i]) ? f->bpt_scaled[i] : 0;
        ord[n].i = i;
        n++;
    }
    qsort(ord, (size_t)n, sizeof *ord, by_value);
    for (int k = 0; k < n; k++) {
        int i = ord[k].i;
        uint8_t r, g, b;
        plot_colormap(ord[k].v, &r, &g, &b);
        cairo_set_source_rgb(cr, r / 255.0, g / 255.0, b / 255.0);
        cairo_arc(cr, MAPX(f->bpt_x[i]), MAPY(f->bpt_y[i]), 2.6, 0, 2 * M_PI);
        cairo_fill(cr);
    }
    free(ord);
    if (f->demarcations) {
        const plot_hyperbola *curves[2] = {&plot_kauffmann2003, &plot_kewley2001};
        for (int c = 0; c < 2; c++) {
            const plot_hyperbola *hc = curves[c];
            int started = 0;
            for (int s = 0; s <= 800; s++) {
                double x = xmin + (hc->x_max - xmin) * s / 800.0;
                if (x >= hc->x_max - 1e-6) break;
                double y = hc->a / (x - hc->c) + hc->d;
                if (y < ymin - 1) break;
                if (!started) cairo_move_to(cr, MAPX(x), MAPY(y));
                else cairo_line_to(cr, MAPX(x), MAPY(y));
                started = 1;
            }
            cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
            cairo_set_line_width(cr, 1.8);
            double dash[2] = {7, 4};
            cairo_set_dash(cr, dash, c == 0 ? 2 : 0, 0);
            cairo_stroke(cr);
            cairo_set_dash(cr, NULL, 0, 0);
        }
    }
    cairo_restore(cr);

    /* frame, ticks, labels */
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_set_line_width(cr, 1.2);
    cairo_rectangle(cr, px, py, pw, ph);
    cairo_stroke(cr);
    set_font(cr, 13, 0);
    double t[16];
    char buf[32];
    int nt = plot_ticks(xmin, xmax, 6, t);
    for (int i = 0; i < nt; i++) {
        double x = round(MAPX(t[i])) + 0.5;
        cairo_move_to(cr, x, py + ph);
        cairo_line_to(cr, x, py + ph - 6);
        cairo_stroke(cr);
        plot_format_number(buf, sizeof buf, t[i]);
        text_at(cr, x, py + ph + 6, buf, 0.5, 0);
    }
    nt = plot_ticks(ymin, ymax, 6, t);
    for (int i = 0; i < nt; i++) {
        double y = round(MAPY(t[i])) + 0.5;
        cairo_move_to(cr, px, y);
        cairo_line_to(cr, px + 6, y);
        cairo_stroke(cr);
        plot_format_number(buf, sizeof buf, t[i]);
        text_at(cr, px - 6, y, buf, 1, 0.5);
    }
    set_font(cr, 16, 0);
    text_at(cr, px + pw / 2, py + ph + 30, xl, 0.5, 0);
    cairo_save(cr);
    cairo_translate(cr, x0 + 14, py + ph / 2);
    cairo_rotate(cr, -M_PI / 2);
    text_at(cr, 0, 0, yl, 0.5, 0.5);
    cairo_restore(cr);
    if (f->demarcations) {
        set_font(cr, 12, 0);
        double lx = px + 10, ly = py + ph - 40;
        double dash[2] = {7, 4};
        cairo_set_source_rgba(cr, 1, 1, 1, 0.85);
        cairo_rectangle(cr, lx - 6, ly - 12, 192, 42);
        cairo_fill_preserve(cr);
        cairo_set_source_rgb(cr, 0.6, 0.6, 0.6);
        cairo_set_line_width(cr, 1);
        cairo_stroke(cr);
        cairo_set_source_rgb(cr, 0, 0, 0);
        for (int c = 0; c < 2; c++) {
            cairo_set_dash(cr, dash, c == 0 ? 2 : 0, 0);
            cairo_set_line_width(cr, 1.8);
            cairo_move_to(cr, lx, ly + c * 18);
            cairo_line_to(cr, lx + 28, ly + c * 18);
            cairo_stroke(cr);
            cairo_set_dash(cr, NULL, 0, 0);
            text_at(cr, lx + 34, ly + c * 18,
                    c == 0 ? "Kauffmann et al. 2003" : "Kewley et al. 2001", 0, 0.5);
        }
    }

    /* colour bar */
    double cx = px + pw + 24, cw = 18;
    for (int r = 0; r < (int)ph; r++) {
        uint8_t rr, g, b;
        plot_colormap(1.0 - (r + 0.5) / ph, &rr, &g, &b);
        cairo_set_source_rgb(cr, rr / 255.0, g / 255.0, b / 255.0);
        cairo_rectangle(cr, cx, py + r, cw, 1);
        cairo_fill(cr);
    }
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_set_line_width(cr, 1);
    cairo_rectangle(cr, cx + 0.5, py + 0.5, cw - 1, ph - 1);
    cairo_stroke(cr);
    set_font(cr, 13, 0);
    for (int i = 0; i <= 4; i++) {
        double v = i / 4.0, y = round(py + (1 - v) * ph) + 0.5;
        cairo_move_to(cr, cx + cw, y);
        cairo_line_to(cr, cx + cw + 5, y);
        cairo_stroke(cr);
        plot_format_number(buf, sizeof buf, v);
        text_at(cr, cx + cw + 8, y, buf, 0, 0.5);
    }
    cairo_save(cr);
    cairo_translate(cr, cx + cw + 48, py + ph / 2);
    cairo_rotate(cr, -M_PI / 2);
    set_font(cr, 15, 0);
    text_at(cr, 0, 0, "scaled activation", 0.5, 0.5);
    cairo_restore(cr);
#undef MAPX
#undef MAPY
}

static void draw_figure(cairo_t *cr, const export_figure *f, int width) {
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    cairo_set_source_rgb(cr, 0, 0, 0);
    set_font(cr, 22, 1);
    text_at(cr, MARGIN, 12, f->title ? f->title : "", 0, 0);
    if (f->subtitle) {
        cairo_text_extents_t e;
        cairo_text_extents(cr, f->title ? f->title : "", &e);
        set_font(cr, 15, 0);
        cairo_set_source_rgb(cr, 0.25, 0.25, 0.25);
        text_at(cr, MARGIN + e.x_advance + 16, 17, f->subtitle, 0, 0);
    }
    double x = MARGIN;
    if (f->bpt) {
        draw_bpt(cr, f, x, TITLE_H);
        x += BPT_W + GAP;
    }
    draw_grid(cr, f, x, TITLE_H);
    (void)width;
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcasecmp(s + n - m, suffix);
}

/* cairo's stream callback for the PDF: appends to the output file. */
static cairo_status_t write_to_file(void *closure, const unsigned char *data, unsigned int len) {
    FILE *f = closure;
    return fwrite(data, 1, len, f) == len ? CAIRO_STATUS_SUCCESS : CAIRO_STATUS_WRITE_ERROR;
}

int export_figure_write(const export_figure *f, const char *path) {
    SF_ASSERT(f->grid_cols >= 1 && f->grid_rows >= 1);
    int w, h;
    export_figure_size(f, &w, &h);
    sf_output out; /* the PDF's stream; a PNG is written whole at the end */
    int pdf = ends_with(path, ".pdf");
    if (pdf && sf_output_open(&out, path) != SF_OK) return SF_ERR;
    cairo_surface_t *s;
    if (pdf) {
        s = cairo_pdf_surface_create_for_stream(write_to_file, out.f, w, h);
        /* a fixed date keeps the file reproducible */
        cairo_pdf_surface_set_metadata(s, CAIRO_PDF_METADATA_CREATE_DATE, "2025-01-01T00:00:00Z");
        cairo_pdf_surface_set_metadata(s, CAIRO_PDF_METADATA_CREATOR, "sfnet-explore " SF_VERSION);
        if (f->title) cairo_pdf_surface_set_metadata(s, CAIRO_PDF_METADATA_TITLE, f->title);
    } else {
        s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
    }
    if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS) {
        int rc =
            sf_fail("%s: cannot create: %s", path, cairo_status_to_string(cairo_surface_status(s)));
        cairo_surface_destroy(s);
        if (pdf) sf_output_abort(&out);
        return rc;
    }
    cairo_t *cr = cairo_create(s);
    cairo_font_options_t *fo = cairo_font_options_create();
    cairo_font_options_set_antialias(fo, CAIRO_ANTIALIAS_GRAY);
    cairo_font_options_set_hint_style(fo, CAIRO_HINT_STYLE_SLIGHT);
    cairo_font_options_set_hint_metrics(fo, CAIRO_HINT_METRICS_ON);
    cairo_set_font_options(cr, fo);
    cairo_font_options_destroy(fo);
    draw_figure(cr, f, w);
    cairo_status_t st = cairo_status(cr);
    cairo_destroy(cr);
    int rc = SF_OK;
    if (st != CAIRO_STATUS_SUCCESS)
        rc = sf_fail("%s: drawing failed: %s", path, cairo_status_to_string(st));
    if (rc == SF_OK && !pdf) rc = sf_output_png(s, path);
    cairo_surface_finish(s);
    if (rc == SF_OK && pdf && cairo_surface_status(s) != CAIRO_STATUS_SUCCESS)
        rc = sf_fail("%s: cannot write the PDF: %s", path,
                     cairo_status_to_string(cairo_surface_status(s)));
    cairo_surface_destroy(s);
    if (!pdf) return rc;
    if (rc != SF_OK) {
        sf_output_abort(&out);
        return rc;
    }
    return sf_output_commit(&out);
}
