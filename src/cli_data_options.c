/* cli_data_options.c: the catalogue and FITS-stretch options shared by inspect,
 * --train, predict and bpt (see cli_data_options.h).
 * Layer: cli. Calls: sf_util, data_catalog, data_fits.
 * Called by: cli_bpt, cli_inspect, cli_predict, cli_train.
 */
#include "cli_data_options.h"

#include <string.h>

#include "sf_util.h"

void cli_data_init(cli_data *d) {
    memset(d, 0, sizeof *d);
    fits_rgb_default(&d->rgb);
}

int cli_data_option(cli_data *d, int c, const char *arg) {
    static const struct {
        int code;
        const char *name;
    } fits_opts[] = {{CLI_OPT_FITS_BANDS, "fits-bands"},
                     {CLI_OPT_FITS_SCALES, "fits-scales"},
                     {CLI_OPT_FITS_Q, "fits-q"},
                     {CLI_OPT_FITS_STRETCH, "fits-stretch"},
                     {CLI_OPT_FITS_OFFSET, "fits-offset"}};
    switch (c) {
    case CLI_OPT_CATALOG:
        if (d->src.n_files == CATALOG_MAX_FILES) {
            sf_warn("--catalog: at most %d files", CATALOG_MAX_FILES);
            return -1;
        }
        d->src.files[d->src.n_files++] = arg;
        return 1;
    case CLI_OPT_JOIN: d->src.join_column = arg; return 1;
    case CLI_OPT_ID_COLUMN: d->src.id_column = arg; return 1;
    }
    for (size_t i = 0; i < sizeof fits_opts / sizeof *fits_opts; i++)
        if (c == fits_opts[i].code) {
            if (fits_rgb_option(&d->rgb, fits_opts[i].name, arg, &d->scales_given) != SF_OK) {
                sf_warn("%s", sf_last_error());
                return -1;
            }
            if (d->n_fits_opts == (int)(sizeof d->fits_code / sizeof *d->fits_code)) {
                sf_warn("--%s: too many --fits-* options", fits_opts[i].name);
                return -1;
            }
            d->fits_code[d->n_fits_opts] = c;
            d->fits_arg[d->n_fits_opts++] = arg;
            d->rgb_given = 1;
            return 1;
        }
    return 0;
}

int cli_data_rebase(cli_data *d, const fits_rgb *base) {
    int n = d->n_fits_opts;
    d->rgb = *base;
    d->n_fits_opts = 0;
    d->scales_given = 0;
    for (int i = 0; i < n; i++)
        if (cli_data_option(d, d->fits_code[i], d->fits_arg[i]) < 0) return SF_ERR;
    return SF_OK;
}

int cli_data_finish(cli_data *d) {
    catalog_sources_describe(&d->src, d->desc, sizeof d->desc);
    return d->src.n_files > 0;
}
