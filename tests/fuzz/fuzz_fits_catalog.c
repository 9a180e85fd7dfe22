/* fuzz_fits_catalog.c: libFuzzer harness over the FITS catalogue path: the input is
 * written to a file named .fits (cfitsio opens catalogues by name, for its extended
 * syntax) and loaded as a catalogue, joined with itself row by row and on its IDs,
 * and put through the target presets, as `--catalog` does. A crash, a sanitizer
 * report or a leak in any of it is a finding; an SF_ERR is the expected answer to
 * a malformed file. Seeds: tests/fuzz/corpus/fits_catalog (tests/fuzz/fits_seeds.py
 * writes them). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data_catalog.h"
#include "data_fits.h"
#include "sf_util.h"

static char path[256];

/* cfitsio 4.2.0 (Debian 12) copies the value of a TTYPEn card into a 70-byte field
 * with strcpy: an unquoted value that fills columns 11-80 is 70 characters plus
 * its NUL, one byte too many, and the _FORTIFY_SOURCE build aborts ("buffer
 * overflow detected") while the HDU is opened, before any of our code sees it.
 * Inputs holding such a card are left out so that the run looks for other
 * faults. Reproducer: any table whose TTYPE1 card reads "TTYPE1  = " followed by
 * 70 letters; `sfnet-explore bpt --catalog` on it aborts the same way. */
static int has_known_cfitsio_crash(const uint8_t *data, size_t size) {
    for (size_t at = 0; at + 80 <= size; at += 80) {
        const uint8_t *card = data + at;
        if (memcmp(card, "TTYPE", 5) != 0) continue;
        if (card[10] == ' ' || card[10] == '\'' || card[79] == ' ') continue;
        if (!memchr(card + 10, '/', 70)) return 1;
    }
    return 0;
}

static void remove_file(void) {
    if (path[0]) unlink(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (has_known_cfitsio_crash(data, size)) return -1; /* not added to the corpus */
    if (!path[0]) {
        /* a file system in memory when there is one: every input is a file */
        const char *dir = getenv("TMPDIR");
        if (!dir || !*dir) dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        snprintf(path, sizeof path, "%s/fuzz-fits-%ld.fits", dir, (long)getpid());
        atexit(remove_file);
    }
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    if (size && fwrite(data, 1, size, f) != size) abort();
    fclose(f);

    catalog cat;
    if (catalog_load(&cat, path) == SF_OK) {
        static const char *specs[] = {"metallicity", "bpt_lines", "z,ra"};
        for (int i = 0; i < 3; i++) {
            target_set ts;
            if (targets_select(&ts, &cat, specs[i]) == SF_OK) targets_free(&ts);
        }
        catalog_free(&cat);
    }
    catalog_sources src = {.n_files = 2};
    src.files[0] = path;
    src.files[1] = path;
    if (catalog_load_sources(&cat, &src) == SF_OK) catalog_free(&cat);
    src.join_column = "objID";
    if (catalog_load_sources(&cat, &src) == SF_OK) catalog_free(&cat);
    return 0;
}
