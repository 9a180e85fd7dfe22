/* test_sf_output.c: output files (-o) written the way the user means: regular files
 * replaced atomically, symbolic links followed, FIFOs, character devices and "-"
 * written through as streams, directories and other things refused. Through the
 * module, FITS tables (cfitsio writes them by name) and `sfnet-explore bpt -o`. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fitsio.h>

#include "data_fits.h"
#include "sf_output.h"
#include "sf_util.h"

static char dir[64];

static void setup(void) {
    snprintf(dir, sizeof dir, "/tmp/sfnet-output-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(output, .init = setup, .fini = teardown);

static const char *in_dir(const char *name) {
    static char bufs[8][256];
    static int k;
    char *b = bufs[k++ % 8];
    snprintf(b, sizeof bufs[0], "%s/%s", dir, name);
    return b;
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s", path);
    fputs(text, f);
    fclose(f);
}

static char *read_text(const char *path) {
    char *data = NULL;
    cr_assert_eq(sf_read_file(path, &data, NULL), SF_OK, "%s", sf_last_error());
    return data;
}

static mode_t kind_of(const char *path) {
    struct stat st;
    cr_assert_eq(lstat(path, &st), 0, "%s: %s", path, strerror(errno));
    return st.st_mode & S_IFMT;
}

static int write_through(const char *path, const char *text) {
    sf_output o;
    if (sf_output_open(&o, path) != SF_OK) return SF_ERR;
    fputs(text, o.f);
    return sf_output_commit(&o);
}

/* ---- the module ----------------------------------------------------------------- */

Test(output, a_regular_file_is_replaced_only_when_complete_and_keeps_its_mode) {
    const char *p = in_dir("out.csv");
    write_text(p, "old\n");
    chmod(p, 0640);
    sf_output o;
    cr_assert_eq(sf_output_open(&o, p), SF_OK, "%s", sf_last_error());
    fputs("new\n", o.f);
    fflush(o.f);
    char *mid = read_text(p);
    cr_assert_str_eq(mid, "old\n", "the old contents stay until commit");
    free(mid);
    cr_assert_eq(sf_output_commit(&o), SF_OK, "%s", sf_last_error());
    char *now = read_text(p);
    cr_assert_str_eq(now, "new\n");
    free(now);
    struct stat st;
    cr_assert_eq(stat(p, &st), 0);
    cr_assert_eq(st.st_mode & 07777, 0640);

    /* abort leaves it as it was, with no temporary file beside it */
    cr_assert_eq(sf_output_open(&o, p), SF_OK);
    fputs("half", o.f);
    sf_output_abort(&o);
    now = read_text(p);
    cr_assert_str_eq(now, "new\n");
    free(now);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "test $(ls -A '%s' | wc -l) -eq 1", dir);
    cr_assert_eq(system(cmd), 0, "a temporary file was left behind");
    /* a new file */
    cr_assert_eq(write_through(in_dir("new.csv"), "x\n"), SF_OK);
    cr_assert_eq(kind_of(in_dir("new.csv")), S_IFREG);
}

Test(output, a_symbolic_link_is_followed_to_its_target) {
    mkdir(in_dir("data"), 0755);
    write_text(in_dir("data/real.csv"), "old\n");
    cr_assert_eq(symlink("data/real.csv", in_dir("link.csv")), 0);
    cr_assert_eq(symlink("link.csv", in_dir("link2.csv")), 0);
    cr_assert_eq(write_through(in_dir("link2.csv"), "new\n"), SF_OK, "%s", sf_last_error());
    cr_assert_eq(kind_of(in_dir("link.csv")), S_IFLNK, "the link stays a link");
    cr_assert_eq(kind_of(in_dir("link2.csv")), S_IFLNK);
    char *t = read_text(in_dir("data/real.csv"));
    cr_assert_str_eq(t, "new\n", "its target has the new contents");
    free(t);
    /* a link to a file not there yet creates it */
    cr_assert_eq(symlink("data/later.csv", in_dir("dangling.csv")), 0);
    cr_assert_eq(write_through(in_dir("dangling.csv"), "made\n"), SF_OK, "%s", sf_last_error());
    cr_assert_eq(kind_of(in_dir("dangling.csv")), S_IFLNK);
    t = read_text(in_dir("data/later.csv"));
    cr_assert_str_eq(t, "made\n");
    free(t);
    /* a loop of links is refused */
    cr_assert_eq(symlink("loop2", in_dir("loop1")), 0);
    cr_assert_eq(symlink("loop1", in_dir("loop2")), 0);
    cr_assert_eq(write_through(in_dir("loop1"), "x"), SF_ERR);
    cr_assert(strstr(sf_last_error(), "symbolic links"), "%s", sf_last_error());
}

Test(output, a_fifo_is_written_through_and_stays_a_fifo) {
    const char *fifo = in_dir("pipe");
    cr_assert_eq(mkfifo(fifo, 0600), 0);
    pid_t reader = fork();
    cr_assert_neq(reader, -1);
    if (reader == 0) {
        FILE *in = fopen(fifo, "r");
        FILE *out = fopen(in_dir("got"), "w");
        int c;
        while ((c = fgetc(in)) != EOF) fputc(c, out);
        fclose(out);
        _exit(0);
    }
    cr_assert_eq(write_through(fifo, "streamed\n"), SF_OK, "%s", sf_last_error());
    int st;
    waitpid(reader, &st, 0);
    cr_assert_eq(kind_of(fifo), S_IFIFO);
    char *t = read_text(in_dir("got"));
    cr_assert_str_eq(t, "streamed\n");
    free(t);
}

Test(output, a_character_device_is_written_through_and_its_errors_reported) {
    const char *full = in_dir("full"), *null = in_dir("null");
    if (mknod(full, S_IFCHR | 0666, makedev(1, 7)) != 0 ||
        mknod(null, S_IFCHR | 0666, makedev(1, 3)) != 0)
        cr_skip_test("cannot make device nodes here (%s): needs root", strerror(errno));
    cr_assert_eq(write_through(null, "gone\n"), SF_OK, "%s", sf_last_error());
    cr_assert_eq(kind_of(null), S_IFCHR, "still the device");
    cr_assert_eq(write_through(full, "no room\n"), SF_ERR);
    cr_assert(strstr(sf_last_error(), "No space left"), "%s", sf_last_error());
    cr_assert_eq(kind_of(full), S_IFCHR, "still the device");
}

Test(output, directories_and_sockets_are_refused_before_anything_is_written) {
    mkdir(in_dir("sub"), 0755);
    sf_output o;
    cr_assert_eq(sf_output_open(&o, in_dir("sub")), SF_ERR);
    cr_assert(strstr(sf_last_error(), "is a directory"), "%s", sf_last_error());
    cr_assert_eq(sf_output_check(in_dir("sub")), SF_ERR);
    cr_assert_eq(symlink("sub", in_dir("to-sub")), 0);
    cr_assert_eq(sf_output_open(&o, in_dir("to-sub")), SF_ERR);
    cr_assert(strstr(sf_last_error(), "through the link"), "%s", sf_last_error());
    cr_assert_eq(sf_output_open(&o, in_dir("no/such/dir/x.csv")), SF_ERR);
    cr_assert(strstr(sf_last_error(), "No such file"), "%s", sf_last_error());
    cr_assert_eq(sf_output_check(in_dir("x.csv")), 1);
    cr_assert_eq(sf_output_check("-"), 0);
}

/* ---- FITS tables: cfitsio makes the file from its name ----------------------------- */

/* A table of 3 rows (ID = 10, 11, 12) to path; SF_ERR with the message otherwise. */
static int write_fits_table(const char *path) {
    fits_col cols[1] = {{.name = "ID", .kind = FITS_COL_INT64}};
    fits_table_writer *w;
    if (fits_table_create(&w, path, "T", cols, 1, NULL) != SF_OK) return SF_ERR;
    int64_t ids[3] = {10, 11, 12};
    int rc = fits_table_write(w, 0, 0, 3, ids);
    int rc2 = fits_table_close(w, rc == SF_OK);
    return rc == SF_OK ? rc2 : rc;
}

/* Checks that path is a FITS file holding that table. */
static void assert_fits_table(const char *path) {
    fitsfile *f;
    int status = 0, hdutype;
    long long n = 0, ids[3] = {0};
    fits_open_file(&f, path, READONLY, &status);
    fits_movabs_hdu(f, 2, &hdutype, &status);
    fits_get_num_rowsll(f, &n, &status);
    fits_read_col(f, TLONGLONG, 1, 1, 1, 3, NULL, ids, NULL, &status);
    fits_close_file(f, &status);
    cr_assert_eq(status, 0, "%s: cfitsio status %d", path, status);
    cr_assert_eq(n, 3);
    cr_assert(ids[0] == 10 && ids[2] == 12);
}

Test(output, fits_tables_are_written_as_every_output) {
    /* a regular file, replaced keeping its mode */
    write_text(in_dir("t.fits"), "old\n");
    chmod(in_dir("t.fits"), 0640);
    cr_assert_eq(write_fits_table(in_dir("t.fits")), SF_OK, "%s", sf_last_error());
    assert_fits_table(in_dir("t.fits"));
    struct stat st;
    cr_assert_eq(stat(in_dir("t.fits"), &st), 0);
    cr_assert_eq(st.st_mode & 07777, 0640, "the mode is kept: %o", st.st_mode & 07777);

    /* a link: followed, the link stays */
    write_text(in_dir("real.fits"), "old\n");
    cr_assert_eq(symlink("real.fits", in_dir("link.fits")), 0);
    cr_assert_eq(write_fits_table(in_dir("link.fits")), SF_OK, "%s", sf_last_error());
    cr_assert_eq(kind_of(in_dir("link.fits")), S_IFLNK, "the link was replaced");
    assert_fits_table(in_dir("real.fits"));

    /* a FIFO: the whole file goes through it, the FIFO stays */
    const char *fifo = in_dir("pipe.fits");
    cr_assert_eq(mkfifo(fifo, 0600), 0);
    pid_t reader = fork();
    cr_assert_neq(reader, -1);
    if (reader == 0) {
        FILE *in = fopen(fifo, "r");
        FILE *out = fopen(in_dir("got.fits"), "w");
        int c;
        while ((c = fgetc(in)) != EOF) fputc(c, out);
        fclose(out);
        _exit(0);
    }
    cr_assert_eq(write_fits_table(fifo), SF_OK, "%s", sf_last_error());
    int wst;
    waitpid(reader, &wst, 0);
    cr_assert_eq(kind_of(fifo), S_IFIFO, "the FIFO was replaced");
    assert_fits_table(in_dir("got.fits"));
    cr_assert_eq(stat(in_dir("got.fits"), &st), 0);
    cr_assert_eq(st.st_size % 2880, 0, "whole FITS blocks, nothing more: %lld",
                 (long long)st.st_size);
    cr_assert_eq(st.st_size, 2 * 2880 + 2880, "primary, table header, one data block");

    /* a directory or a socket: refused, nothing left behind */
    mkdir(in_dir("sub.fits"), 0755);
    cr_assert_eq(write_fits_table(in_dir("sub.fits")), SF_ERR);
    cr_assert(strstr(sf_last_error(), "is a directory"), "%s", sf_last_error());

    /* a full device (as root, as CI runs): the error is told, the node stays */
    if (mknod(in_dir("full"), S_IFCHR | 0666, makedev(1, 7)) == 0) {
        cr_assert_eq(write_fits_table(in_dir("full")), SF_ERR);
        cr_assert(strstr(sf_last_error(), "No space left"), "%s", sf_last_error());
        cr_assert_eq(kind_of(in_dir("full")), S_IFCHR, "the device node was replaced");
    } else {
        cr_log_info("device nodes cannot be made here (%s): that part is not checked",
                    strerror(errno));
    }
    /* no temporary file is left anywhere */
    char cmd[256];
    snprintf(cmd, sizeof cmd, "ls '%s' | grep -q tmp-", dir);
    cr_assert_neq(system(cmd), 0, "a temporary file was left");
}

/* ---- through a command ----------------------------------------------------------- */

/* The binary's absolute path (the commands run from the temporary folder). */
static const char *binary(void) {
    static char abs[4096];
    const char *env = getenv("SFNET_BIN");
#ifdef __SANITIZE_ADDRESS__
    const char *rel = env && *env ? env : "build-san/sfnet-explore";
#else
    const char *rel = env && *env ? env : "build/sfnet-explore";
#endif
    cr_assert_not_null(realpath(rel, abs), "%s: %s", rel, strerror(errno));
    return abs;
}

static const char catalogue[] = "objID,nii_6584_flux,h_alpha_flux,oiii_5007_flux,h_beta_flux\n"
                                "1,10,100,20,30\n"
                                "2,80,100,300,40\n";

/* Runs `sfnet-explore bpt -c cat.csv -o OUT` through sh (extra before it); returns its
 * exit status and its stderr in err. */
static int bpt_to(const char *out, const char *before, char *err, size_t n) {
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "cd '%s' && %s %s bpt -c cat.csv -o '%s' 2>err.txt", dir,
             before ? before : "", binary(), out);
    int rc = system(cmd);
    char *e = read_text(in_dir("err.txt"));
    snprintf(err, n, "%s", e);
    free(e);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

Test(output, bpt_writes_through_fifos_devices_links_and_refuses_directories) {
    write_text(in_dir("cat.csv"), catalogue);
    char err[2048];
    /* a regular file: the table */
    cr_assert_eq(bpt_to("table.csv", NULL, err, sizeof err), 0, "%s", err);
    char *table = read_text(in_dir("table.csv"));
    cr_assert(strstr(table, "objID,log_nii_ha,log_oiii_hb,class,why\n1,"), "%s", table);

    /* a FIFO with a reader */
    cr_assert_eq(mkfifo(in_dir("pipe"), 0600), 0);
    cr_assert_eq(bpt_to("pipe", "(timeout 20 cat pipe >from-pipe.csv 2>/dev/null </dev/null &) &&",
                        err, sizeof err),
                 0, "%s", err);
    cr_assert_eq(kind_of(in_dir("pipe")), S_IFIFO, "the FIFO was replaced");
    char cmd[256];
    snprintf(cmd, sizeof cmd,
             "cd '%s' && for i in 1 2 3 4 5 6 7 8 9 10; do "
             "cmp -s table.csv from-pipe.csv && exit 0; sleep 0.2; done; exit 1",
             dir);
    cr_assert_eq(system(cmd), 0, "the reader got the table");

    /* a link: its target is updated, the link kept */
    write_text(in_dir("real.csv"), "old\n");
    cr_assert_eq(symlink("real.csv", in_dir("link.csv")), 0);
    cr_assert_eq(bpt_to("link.csv", NULL, err, sizeof err), 0, "%s", err);
    cr_assert_eq(kind_of(in_dir("link.csv")), S_IFLNK, "the link was replaced");
    char *real = read_text(in_dir("real.csv"));
    cr_assert_str_eq(real, table);
    free(real);

    /* "-": standard output */
    cr_assert_eq(bpt_to("-", NULL, err, sizeof err), 0, "%s", err);
    /* /dev/stdout, a link into /proc: written through, whether a file or a pipe */
    char cmd2[8192];
    snprintf(cmd2, sizeof cmd2,
             "cd '%s' && %s bpt -c cat.csv -o /dev/stdout > via-dev.csv && "
             "%s bpt -c cat.csv -o /dev/stdout | cat > via-pipe.csv && "
             "cmp table.csv via-dev.csv && cmp table.csv via-pipe.csv",
             dir, binary(), binary());
    cr_assert_eq(system(cmd2), 0, "%s", cmd2);

    /* a directory: refused, saying so */
    mkdir(in_dir("sub"), 0755);
    cr_assert_eq(bpt_to("sub", NULL, err, sizeof err), 1);
    cr_assert(strstr(err, "sub is a directory"), "%s", err);

    /* a character device (as root, as CI runs): written through, never replaced */
    if (mknod(in_dir("full"), S_IFCHR | 0666, makedev(1, 7)) == 0) {
        cr_assert_eq(bpt_to("full", NULL, err, sizeof err), 1, "a full device fails");
        cr_assert(strstr(err, "No space left"), "%s", err);
        cr_assert_eq(kind_of(in_dir("full")), S_IFCHR, "the device node was replaced");
    } else {
        cr_log_info("device nodes cannot be made here (%s): that part is not checked",
                    strerror(errno));
    }
    free(table);
}
