/* sf_util.h: what every module of sfnet-explore shares.
 *
 * Two kinds of failure exist in this program:
 *  - programming errors (a broken invariant, out of memory): SF_ASSERT and the
 *    x* allocators stop the program with file:line. They stay on in release.
 *  - recoverable failures (bad input, I/O, SQLite): the function returns
 *    SF_ERR (-1) after sf_fail() has recorded a message the user can act on,
 *    e.g. "galaxies.csv:17: expected 12 fields, found 11". The caller shows it
 *    with sf_last_error(). Library code never calls exit().
 *
 * The message buffer is per thread. sf_progress draws a progress bar with ETA
 * on stderr (a plain line every few seconds when stderr is not a terminal).
 */
#ifndef SF_UTIL_H
#define SF_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define SF_VERSION "0.1.0"

enum { SF_OK = 0, SF_ERR = -1 };

#define SF_ASSERT(cond)                                                                            \
    do {                                                                                           \
        if (!(cond)) sf_assert_fail(#cond, __FILE__, __LINE__);                                    \
    } while (0)

void sf_assert_fail(const char *cond, const char *file, int line) __attribute__((noreturn));

/* The way out of a programming error: SF_ASSERT, the allocators and oneDNN's run-time
 * failures print their message and call sf_die(), which calls the die hook (once)
 * and then abort(). The explorer sets a hook that gives the terminal back (ends
 * curses, restores what the terminal probe changed), as tig's die_callback does;
 * nothing else needs one. */
typedef void (*sf_die_hook)(void);
void sf_set_die_hook(sf_die_hook hook);
void sf_die(void) __attribute__((noreturn));

/* A test hook: SF_TEST_DIE("probe") fails an assertion when $SFNET_TEST_DIE is "probe"
 * (read once), so that a test can check what a fatal error at that point leaves behind. */
#define SF_TEST_DIE(where) sf_test_die(where, __FILE__, __LINE__)
void sf_test_die(const char *where, const char *file, int line);

void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
/* 64-byte aligned memory, released with free(). */
void *xmalloc_aligned(size_t n);

/* Records a printf-style message for this thread; always returns SF_ERR so
 * that `return sf_fail("...")` reads naturally. The message is kept on one line
 * and safe for a terminal: control characters in it (a newline or an escape
 * sequence in an objID, a label or a file name) are stored as sf_escape_text
 * shows them. */
int sf_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prefixes the recorded message with "<prefix>: " (e.g. a file name). */
int sf_fail_prefix(const char *prefix);
const char *sf_last_error(void);

/* Prints "sfnet-explore: <message>" to stderr, escaped as sf_escape_text does,
 * unless sf_warn_muted. */
void sf_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Set by the ranks of an MPI job other than rank 0 while they do what every rank
 * does alike, so that each message appears once (from rank 0). */
extern int sf_warn_muted;
/* The integer value of a command-line option: SF_OK, or SF_ERR after a warning
 * "--OPTION 'TEXT': expected an integer in LO..HI" (option without dashes; a
 * one-letter option is shown as -X). */
int sf_parse_option_long(const char *option, const char *text, long lo, long hi, long *out);
int sf_parse_option_int(const char *option, const char *text, int lo, int hi, int *out);

/* Text from files and users (labels, notes, objIDs, column and file names) is
 * shown, never sent, to a terminal: sf_escape_text copies text into out (n bytes,
 * always NUL-terminated, never cutting an escape or a character in half) with C0
 * controls and DEL written \n, \r, \t or \xNN, C1 controls (U+0080..U+009F, which
 * terminals also obey) as \u00NN, and bytes that are not UTF-8 as \xNN; UTF-8
 * text is left as it is. Returns the length the whole escaped text needs (as
 * snprintf). */
size_t sf_escape_text(char *out, size_t n, const char *text);
/* The escaped text in a new string (free()). */
char *sf_escaped(const char *text);
/* 1 when sf_escape_text would leave text unchanged. */
int sf_text_is_clean(const char *text);
/* fputs of the escaped text. */
void sf_fputs_escaped(const char *text, FILE *out);
/* The escaped text for a printf argument: printf("galaxy %s\n", sf_shown(objid)).
 * The string belongs to this thread and stays valid for the next 15 calls. */
const char *sf_shown(const char *text);

/* Wall clock in seconds (monotonic). */
double sf_now(void);

/* Progress bar on stderr: "label [#####.....] 45% 120/267 12.3 it/s ETA 0:12 extra". */
typedef struct {
    const char *label;
    long total;
    long done;
    double t_start;
    double t_last_draw;
    int is_tty;
    int quiet;
    char unit[16];
} sf_progress;

void sf_progress_start(sf_progress *p, const char *label, long total, const char *unit);
/* extra may be NULL; it is appended to the bar (loss, epoch ...). */
void sf_progress_update(sf_progress *p, long done, const char *extra);
void sf_progress_finish(sf_progress *p, const char *extra);
/* Set once from the command line (--quiet) or SFNET_QUIET=1. */
extern int sf_progress_quiet;

/* Deterministic pseudo random numbers (splitmix64 seeded xoshiro256**). */
typedef struct {
    uint64_t s[4];
} sf_rng;
void sf_rng_seed(sf_rng *r, uint64_t seed);
uint64_t sf_rng_next(sf_rng *r);
double sf_rng_uniform(sf_rng *r);             /* [0, 1) */
double sf_rng_normal(sf_rng *r);              /* mean 0, sd 1 */
uint32_t sf_rng_below(sf_rng *r, uint32_t n); /* [0, n) without bias */
void sf_rng_shuffle(sf_rng *r, int *a, int n);

/* A 64-bit hash of bytes (FNV-1a, then splitmix64's finaliser so that every bit,
 * and so any remainder, is evenly spread). The same on every machine and build:
 * it names catalogue shards and weights files. */
uint64_t sf_hash64(const void *data, size_t len);

/* Writes one CSV field (RFC 4180): as it is, or quoted with its quotes doubled when it
 * holds a comma, a quote or a line break. */
void sf_csv_field(FILE *out, const char *s);

/* Reads a whole file into a NUL-terminated buffer; SF_ERR with a message on failure. */
int sf_read_file(const char *path, char **data, size_t *len);

/* Creates the folder path and every missing parent (mode 0755), as mkdir -p; SF_ERR
 * naming the folder that could not be made. */
int sf_mkdir_p(const char *path);

/* Directory holding share/ (schema, fonts, man page): $SFNET_SHARE, the
 * build-time install prefix, or the source tree the binary was built in. */
const char *sf_share_dir(void);

#endif
