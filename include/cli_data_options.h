/* cli_data_options.h: the data options that inspect, --train, predict and bpt share:
 * --catalog (repeatable: several files joined), --join COL, --id-column COL, and the
 * stretch of FITS cutouts (--fits-bands, --fits-scales, --fits-q, --fits-stretch,
 * --fits-offset). Each command puts CLI_DATA_LONGOPTS (and CLI_FITS_LONGOPTS where
 * it reads images) in its getopt_long table and hands every option to
 * cli_data_option() before its own. */
#ifndef SF_CLI_DATA_OPTIONS_H
#define SF_CLI_DATA_OPTIONS_H

#include <getopt.h>

#include "data_catalog.h"
#include "data_fits.h"

enum {
    CLI_OPT_CATALOG = 'c',
    CLI_OPT_JOIN = 1100,
    CLI_OPT_ID_COLUMN,
    CLI_OPT_FITS_BANDS,
    CLI_OPT_FITS_SCALES,
    CLI_OPT_FITS_Q,
    CLI_OPT_FITS_STRETCH,
    CLI_OPT_FITS_OFFSET,
};

#define CLI_DATA_LONGOPTS                                                                          \
    {"catalog", required_argument, NULL, CLI_OPT_CATALOG},                                         \
        {"join", required_argument, NULL, CLI_OPT_JOIN}, {                                         \
        "id-column", required_argument, NULL, CLI_OPT_ID_COLUMN                                    \
    }
#define CLI_FITS_LONGOPTS                                                                          \
    {"fits-bands", required_argument, NULL, CLI_OPT_FITS_BANDS},                                   \
        {"fits-scales", required_argument, NULL, CLI_OPT_FITS_SCALES},                             \
        {"fits-q", required_argument, NULL, CLI_OPT_FITS_Q},                                       \
        {"fits-stretch", required_argument, NULL, CLI_OPT_FITS_STRETCH}, {                         \
        "fits-offset", required_argument, NULL, CLI_OPT_FITS_OFFSET                                \
    }

/* Help lines, 2-space indented like the commands' own. */
#define CLI_DATA_HELP                                                                              \
    "  -c, --catalog FILE     a CSV file or a FITS table; FITS names take cfitsio's\n"             \
    "                         selections: 'gal.fits[GALLINE][col OH_P50; OBJID]',\n"               \
    "                         'gal.fits[1][Z > 0.01]' (column filters apply first).\n"             \
    "                         Give it again to join files: row by row when their\n"                \
    "                         lengths agree (the MPA-JHU gal_info, gal_line ...)\n"                \
    "      --join COL         join the catalogues on the key column COL instead\n"                 \
    "      --id-column COL    the galaxy IDs (default objID; FITS: objID, OBJID or\n"              \
    "                         specObjID)\n"
#define CLI_FITS_HELP                                                                              \
    "FITS cutouts (<objID>.fits: a 3-plane cube or three image HDUs, bluest band first)\n"         \
    "are made RGB by the asinh stretch of Lupton et al. (2004) as the Legacy Survey\n"             \
    "viewer's SDSS layer applies it; the settings are stored with the run:\n"                      \
    "      --fits-bands B,B,B the planes' bands (default g,r,i; sets their scales)\n"              \
    "      --fits-scales S,S,S flux multipliers (default: g 2.5, r 1.5, i 1.0,\n"                  \
    "                         u 1.5, z 0.4)\n"                                                     \
    "      --fits-q Q         softening Q (default 20)\n"                                          \
    "      --fits-stretch A   Lupton's alpha (default 1)\n"                                        \
    "      --fits-offset M    added to every scaled flux (default 0.02)\n"

typedef struct {
    catalog_sources src;
    fits_rgb rgb;
    int scales_given;
    int rgb_given;   /* any --fits-* option */
    char desc[4096]; /* catalog_sources_describe, after cli_data_finish */
    int n_fits_opts; /* the --fits-* options as given, for cli_data_rebase */
    int fits_code[16];
    const char *fits_arg[16];
} cli_data;

void cli_data_init(cli_data *d);
/* 1: option c was one of these and is taken; 0: not one of these; -1: refused
 * (the message printed: exit 2). */
int cli_data_option(cli_data *d, int c, const char *arg);
/* Fills desc; 1 when at least one --catalog was given. */
int cli_data_finish(cli_data *d);
/* The stretch base (a run's) with the --fits-* options given applied over it. */
int cli_data_rebase(cli_data *d, const fits_rgb *base);

#endif
