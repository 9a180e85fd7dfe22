/* cli_bpt.c: `sfnet-explore bpt`: the BPT class of every galaxy of a catalogue.
 * Layer: cli. Calls: analysis_bpt, cli_data_options, data_catalog_join, sf_output, sf_util.
 * Called by: main.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis.h"
#include "cli.h"
#include "cli_data_options.h"
#include "data_catalog.h"
#include "sf_output.h"
#include "sf_util.h"

static void usage(FILE *out) {
    fprintf(out, "Usage: sfnet-explore bpt --catalog FILE [--catalog FILE...] [-o OUT.csv]\n"
                 "                         [--from-lines]\n"
                 "\n"
                 "Classifies each galaxy on the BPT diagram: x = log [NII]6584/Halpha,\n"
                 "y = log [OIII]5007/Hbeta; star-forming below Kauffmann et al. (2003),\n"
                 "AGN above Kewley et al. (2001), composite between. A line that is missing,\n"
                 "non-positive or has S/N <= 3 (when *_err columns exist) gives no class, and\n"
                 "the reason is written instead. When the catalogue has a bptclass column\n"
                 "(MPA-JHU codes) the class comes from it unless --from-lines is given.\n"
                 "\n"
                 "Writes CSV objID,log_nii_ha,log_oiii_hb,class,why to OUT.csv (or stdout)\n"
                 "and a summary to stderr.\n"
                 "\n"
                 "The catalogue needs the columns nii_6584_flux, h_alpha_flux, oiii_5007_flux,\n"
                 "h_beta_flux and their _err, or bptclass (the MPA-JHU gal_line and gal_info\n"
                 "FITS files, joined row by row, have them).\n"
                 "\n"
                 "Options:\n" CLI_DATA_HELP
                 "  -o, --output FILE   where to write the CSV (default stdout)\n"
                 "      --from-lines    classify from the line ratios even when bptclass exists\n"
                 "  -h, --help          show this help\n");
}

static void put_number(FILE *f, double v) {
    if (isfinite(v)) fprintf(f, "%.6f", v);
}

/* Writes the table; SF_ERR on an I/O failure. On a terminal the objIDs are shown
 * with their control characters escaped. */
static int write_table(FILE *f, int tty, const catalog *cat, const bpt_result *res) {
    fprintf(f, "objID,log_nii_ha,log_oiii_hb,class,why\n");
    for (int i = 0; i < cat->n_rows; i++) {
        const bpt_result *r = &res[i];
        fprintf(f, "%s,", tty ? sf_shown(cat->obj_ids[i]) : cat->obj_ids[i]);
        put_number(f, r->log_nii_ha);
        fputc(',', f);
        put_number(f, r->log_oiii_hb);
        fprintf(f, ",%s,%s\n", r->cls == BPT_NONE ? "" : bpt_class_name(r->cls), r->why);
    }
    return ferror(f) ? sf_fail("write failed") : SF_OK;
}

int cli_bpt(int argc, char **argv) {
    static const struct option opts[] = {
        CLI_DATA_LONGOPTS,
        {"output", required_argument, NULL, 'o'},
        {"from-lines", no_argument, NULL, 'L'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *cat_path = NULL, *out_path = NULL;
    int from_lines = 0, c;
    cli_data data;
    cli_data_init(&data);
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:o:h", opts, NULL)) != -1) {
        int taken = cli_data_option(&data, c, optarg);
        if (taken < 0) return 2;
        if (taken) continue;
        switch (c) {
        case 'o': out_path = optarg; break;
        case 'L': from_lines = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (cli_data_finish(&data)) cat_path = data.desc;
    if (!cat_path || optind != argc) {
        fprintf(stderr, "sfnet-explore: bpt needs --catalog FILE and nothing else\n");
        usage(stderr);
        return 2;
    }

    /* a directory or a socket as -o is refused before the catalogue is read */
    if (out_path && sf_output_check(out_path) == SF_ERR) {
        sf_warn("%s", sf_last_error());
        return 1;
    }
    catalog cat;
    if (catalog_load_sources(&cat, &data.src) != SF_OK) {
        sf_warn("%s", sf_last_error());
        return 1;
    }
    bpt_result *res = xcalloc((size_t)(cat.n_rows > 0 ? cat.n_rows : 1), sizeof *res);
    int source = BPT_SOURCE_LINES, rc = 1;
    if (bpt_classify_catalog(res, &source, &cat, !from_lines) != SF_OK) {
        sf_warn("%s", sf_last_error());
        goto done;
    }

    sf_output out;
    if (sf_output_open(&out, out_path ? out_path : "-") != SF_OK) {
        sf_warn("%s", sf_last_error());
        goto done;
    }
    if (write_table(out.f, out.is_tty, &cat, res) != SF_OK) {
        sf_warn("%s: cannot write the table: %s", out.path, strerror(errno));
        sf_output_abort(&out);
        goto done;
    }
    if (sf_output_commit(&out) != SF_OK) {
        sf_warn("%s", sf_last_error());
        goto done;
    }

    int n_class[4] = {0};
    for (int i = 0; i < cat.n_rows; i++) n_class[res[i].cls]++;
    fprintf(stderr,
            "%s: %d galaxies classified from %s: %d star-forming, %d composite, %d AGN, "
            "%d without a class\n",
            sf_shown(cat_path), cat.n_rows,
            source == BPT_SOURCE_BPTCLASS ? "the catalogue's bptclass column"
                                          : "the line ratios (Kauffmann 2003, Kewley 2001)",
            n_class[BPT_STAR_FORMING], n_class[BPT_COMPOSITE], n_class[BPT_AGN], n_class[BPT_NONE]);
    if (source == BPT_SOURCE_LINES && catalog_column(&cat, "h_beta_flux_err") < 0)
        fprintf(stderr, "%s: no *_err columns: no S/N cut was applied\n", sf_shown(cat_path));
    rc = 0;
done:
    free(res);
    catalog_free(&cat);
    return rc;
}
