/* cli_synth.c: `sfnet-explore synth`, the synthetic survey and its preview.
 * Layer: cli. Calls: synth_survey, sf_util.
 * Called by: main.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "sf_util.h"
#include "synth.h"

static void usage(FILE *out) {
    fprintf(out, "Usage: sfnet-explore synth -n N [--seed S] [--size PX] OUT_DIR\n"
                 "       sfnet-explore synth --preview OUT.png [-n N] [--seed S] [--size PX]\n"
                 "\n"
                 "Writes a synthetic galaxy survey in the layout of the SDSS data set:\n"
                 "OUT_DIR/galaxies.csv (objID, ra, dec, z, lgm_tot_p50, sfr_tot_p50, oh_p50,\n"
                 "emission-line fluxes and errors, bptclass, model magnitudes, and the true\n"
                 "latent factors as true_* columns) and OUT_DIR/images/<objID>.png (gri colour\n"
                 "cutouts, 0.262\"/pixel, asinh stretch), each seen through a field of its own:\n"
                 "seeing about 1.3\" with a PSF wing, sky brightness and noise, a residual\n"
                 "background, foreground stars, galaxies of its group and background galaxies.\n"
                 "The sources of its physics are cited in src/synth.c; --physics-version prints\n"
                 "the version of that physics (written to OUT_DIR/synth-version too).\n"
                 "\n"
                 "Options:\n"
                 "  -n, --count N        galaxies to make (preview: 48)\n"
                 "  -s, --seed S         random seed (256); the same seed gives the same bytes\n"
                 "      --size PX        cutout size in pixels (144)\n"
                 "  -j, --threads T      threads (default: all cores)\n"
                 "      --preview PNG    write a contact sheet of the first N galaxies instead\n"
                 "      --physics-version  print the version of the survey's physics and exit\n"
                 "  -q, --quiet          no progress bar\n"
                 "  -h, --help           show this help\n");
}

static int parse_long(const char *s, long lo, long hi, long *out) {
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < lo || v > hi) return 0;
    *out = v;
    return 1;
}

int cli_synth(int argc, char **argv) {
    static const struct option longopts[] = {
        {"count", required_argument, NULL, 'n'},
        {"seed", required_argument, NULL, 's'},
        {"size", required_argument, NULL, 'S'},
        {"threads", required_argument, NULL, 'j'},
        {"preview", required_argument, NULL, 'p'},
        {"quiet", no_argument, NULL, 'q'},
        {"physics-version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    synth_options opt = {.n = -1, .seed = 256, .size = 144, .threads = 0, .quiet = 0};
    const char *preview = NULL;
    int c;
    long v;
    optind = 1;
    while ((c = getopt_long(argc, argv, "n:s:j:qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'n':
            if (!parse_long(optarg, 1, 100000000, &opt.n)) {
                fprintf(stderr, "sfnet-explore: synth: -n wants a count from 1 to 1e8, not '%s'\n",
                        optarg);
                return 2;
            }
            break;
        case 's': {
            char *end;
            unsigned long long s = strtoull(optarg, &end, 10);
            if (!*optarg || *end || optarg[0] == '-') {
                fprintf(stderr,
                        "sfnet-explore: synth: --seed wants a non-negative integer, not '%s'\n",
                        optarg);
                return 2;
            }
            opt.seed = s;
            break;
        }
        case 'S':
            if (!parse_long(optarg, 16, 1024, &v)) {
                fprintf(stderr, "sfnet-explore: synth: --size wants 16 to 1024 pixels, not '%s'\n",
                        optarg);
                return 2;
            }
            opt.size = (int)v;
            break;
        case 'j':
            if (!parse_long(optarg, 1, 1024, &v)) {
                fprintf(stderr, "sfnet-explore: synth: --threads wants 1 to 1024, not '%s'\n",
                        optarg);
                return 2;
            }
            opt.threads = (int)v;
            break;
        case 'p': preview = optarg; break;
        case 'q': opt.quiet = 1; break;
        case 'V': printf("%d\n", SYNTH_VERSION); return 0;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (preview) {
        if (optind != argc) {
            fprintf(stderr, "sfnet-explore: synth: --preview takes no OUT_DIR\n");
            return 2;
        }
        if (opt.n < 0) opt.n = 48;
        if (opt.n > 400) {
            fprintf(stderr, "sfnet-explore: synth: a preview shows at most 400 galaxies\n");
            return 2;
        }
        if (synth_preview(preview, &opt) != SF_OK) {
            fprintf(stderr, "sfnet-explore: %s\n", sf_last_error());
            return 1;
        }
        return 0;
    }
    if (optind != argc - 1 || opt.n < 0) {
        fprintf(stderr, "sfnet-explore: synth: need -n N and one OUT_DIR\n");
        usage(stderr);
        return 2;
    }
    double t0 = sf_now();
    if (synth_survey(argv[optind], &opt) != SF_OK) {
        fprintf(stderr, "sfnet-explore: %s\n", sf_last_error());
        return 1;
    }
    if (!opt.quiet)
        fprintf(stderr, "synth: %ld galaxies in %s (%.1f s)\n", opt.n, sf_shown(argv[optind]),
                sf_now() - t0);
    return 0;
}
