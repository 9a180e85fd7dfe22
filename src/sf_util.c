/* sf_util.c: assertions and the die hook, allocation, error messages, option parsing,
 * CSV fields, progress bar, RNG.
 * Layer: util (the bottom). Calls: no other module.
 * Called by: nearly every other module.
 */
#include "sf_util.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifndef SF_SHARE_DIR
#define SF_SHARE_DIR "share"
#endif
#ifndef SF_SOURCE_SHARE_DIR
#define SF_SOURCE_SHARE_DIR "share"
#endif

int sf_progress_quiet = 0;

static _Thread_local char err_buf[2048];

static sf_die_hook die_hook;

void sf_set_die_hook(sf_die_hook hook) { die_hook = hook; }

void sf_die(void) {
    /* once: a hook that fails an assertion itself must not loop */
    static volatile int dying;
    sf_die_hook hook = die_hook;
    if (hook && !dying++) hook();
    abort();
}

void sf_assert_fail(const char *cond, const char *file, int line) {
    fprintf(stderr, "sfnet-explore: internal error at %s:%d: assertion '%s' failed\n", file, line,
            cond);
    sf_die();
}

void sf_test_die(const char *where, const char *file, int line) {
    static const char *want;
    static int read_env;
    if (!read_env) {
        want = getenv("SFNET_TEST_DIE");
        read_env = 1;
    }
    if (want && !strcmp(want, where)) sf_assert_fail("SFNET_TEST_DIE is not set here", file, line);
}

static void *check_alloc(void *p, size_t n) {
    if (!p && n) {
        fprintf(stderr, "sfnet-explore: out of memory (asked for %zu bytes)\n", n);
        sf_die();
    }
    return p;
}

void *xmalloc(size_t n) { return check_alloc(malloc(n ? n : 1), n); }
void *xcalloc(size_t count, size_t size) {
    return check_alloc(calloc(count ? count : 1, size ? size : 1), count * size);
}
void *xrealloc(void *p, size_t n) { return check_alloc(realloc(p, n ? n : 1), n); }
char *xstrdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = xmalloc(n);
    memcpy(d, s, n);
    return d;
}
void *xmalloc_aligned(size_t n) {
    void *p = NULL;
    size_t rounded = (n + 63) / 64 * 64;
    if (posix_memalign(&p, 64, rounded ? rounded : 64) != 0) p = NULL;
    return check_alloc(p, n);
}

/* ---- text shown on a terminal ---- */

/* Length of the UTF-8 character at s (2..4), or 0 when s does not start a valid,
 * shortest-form encoding of a scalar value. */
static int utf8_length(const unsigned char *s) {
    unsigned c = s[0];
    int len;
    unsigned cp, min;
    if (c >= 0xc2 && c <= 0xdf) len = 2, cp = c & 0x1f, min = 0x80;
    else if (c >= 0xe0 && c <= 0xef) len = 3, cp = c & 0x0f, min = 0x800;
    else if (c >= 0xf0 && c <= 0xf4) len = 4, cp = c & 0x07, min = 0x10000;
    else return 0;
    for (int i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    return len;
}

/* The escape for the character at s into esc (NUL-terminated), or "" when it is
 * shown as it is; *used gets its length in bytes of s. */
static void escape_one(const unsigned char *s, char esc[8], int *used) {
    unsigned c = s[0];
    esc[0] = 0;
    *used = 1;
    if (c < 0x20 || c == 0x7f) {
        if (c == '\n') snprintf(esc, 8, "\\n");
        else if (c == '\r') snprintf(esc, 8, "\\r");
        else if (c == '\t') snprintf(esc, 8, "\\t");
        else snprintf(esc, 8, "\\x%02x", c);
        return;
    }
    if (c < 0x80) return;
    int len = utf8_length(s);
    if (!len) {
        snprintf(esc, 8, "\\x%02x", c);
        return;
    }
    *used = len;
    if (len == 2 && c == 0xc2 && s[1] < 0xa0) snprintf(esc, 8, "\\u%04x", s[1] & 0xffu);
}

size_t sf_escape_text(char *out, size_t n, const char *text) {
    const unsigned char *s = (const unsigned char *)text;
    size_t need = 0, o = 0;
    int full = n == 0;
    while (*s) {
        char esc[8];
        int used;
        escape_one(s, esc, &used);
        const char *piece = esc[0] ? esc : (const char *)s;
        size_t len = esc[0] ? strlen(esc) : (size_t)used;
        if (!full && o + len < n) {
            memcpy(out + o, piece, len);
            o += len;
        } else {
            full = 1;
        }
        need += len;
        s += used;
    }
    if (n) out[o] = 0;
    return need;
}

char *sf_escaped(const char *text) {
    size_t need = sf_escape_text(NULL, 0, text);
    char *out = xmalloc(need + 1);
    sf_escape_text(out, need + 1, text);
    return out;
}

int sf_text_is_clean(const char *text) {
    for (const unsigned char *s = (const unsigned char *)text; *s;) {
        char esc[8];
        int used;
        escape_one(s, esc, &used);
        if (esc[0]) return 0;
        s += used;
    }
    return 1;
}

void sf_fputs_escaped(const char *text, FILE *out) {
    if (sf_text_is_clean(text)) {
        fputs(text, out);
        return;
    }
    char *e = sf_escaped(text);
    fputs(e, out);
    free(e);
}

const char *sf_shown(const char *text) {
    static _Thread_local char *ring[16];
    static _Thread_local unsigned next;
    unsigned slot = next++ % 16;
    free(ring[slot]);
    ring[slot] = sf_escaped(text ? text : "");
    return ring[slot];
}

/* ---- messages ---- */

/* Rewrites buf (size n) as sf_escape_text shows it, cut to fit. */
static void escape_in_place(char *buf, size_t n) {
    if (sf_text_is_clean(buf)) return;
    char *copy = xstrdup(buf);
    sf_escape_text(buf, n, copy);
    free(copy);
}

void sf_csv_field(FILE *out, const char *s) {
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, out);
        return;
    }
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"') fputc('"', out);
        fputc(*s, out);
    }
    fputc('"', out);
}

int sf_fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err_buf, sizeof err_buf, fmt, ap);
    va_end(ap);
    escape_in_place(err_buf, sizeof err_buf);
    return SF_ERR;
}

int sf_fail_prefix(const char *prefix) {
    char *shown = sf_escaped(prefix);
    size_t plen = strlen(shown) + 2;
    if (plen < sizeof err_buf) {
        memmove(err_buf + plen, err_buf, sizeof err_buf - plen);
        err_buf[sizeof err_buf - 1] = 0;
        memcpy(err_buf, shown, plen - 2);
        memcpy(err_buf + plen - 2, ": ", 2);
    }
    free(shown);
    return SF_ERR;
}

const char *sf_last_error(void) { return err_buf[0] ? err_buf : "unknown error"; }

int sf_warn_muted = 0;

void sf_warn(const char *fmt, ...) {
    if (sf_warn_muted) return;
    char msg[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fputs("sfnet-explore: ", stderr);
    sf_fputs_escaped(msg, stderr);
    fputc('\n', stderr);
}

double sf_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- progress bar ---- */

static void format_duration(char *buf, size_t n, double seconds) {
    if (!(seconds >= 0) || seconds > 99 * 3600) {
        snprintf(buf, n, "--:--");
        return;
    }
    long s = (long)(seconds + 0.5);
    if (s >= 3600) snprintf(buf, n, "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
    else snprintf(buf, n, "%ld:%02ld", s / 60, s % 60);
}

void sf_progress_start(sf_progress *p, const char *label, long total, const char *unit) {
    memset(p, 0, sizeof *p);
    p->label = label;
    p->total = total;
    p->t_start = sf_now();
    p->t_last_draw = 0;
    p->is_tty = isatty(STDERR_FILENO);
    const char *q = getenv("SFNET_QUIET");
    p->quiet = sf_progress_quiet || (q && *q && strcmp(q, "0") != 0);
    snprintf(p->unit, sizeof p->unit, "%s", unit ? unit : "it");
}

static void progress_draw(sf_progress *p, const char *extra, int final) {
    double now = sf_now();
    double elapsed = now - p->t_start;
    double rate = elapsed > 0 ? (double)p->done / elapsed : 0;
    char eta[32], el[32];
    format_duration(el, sizeof el, elapsed);
    if (final || rate <= 0) snprintf(eta, sizeof eta, "%s", final ? "" : "--:--");
    else format_duration(eta, sizeof eta, (double)(p->total - p->done) / rate);
    int pct = p->total > 0 ? (int)(100.0 * (double)p->done / (double)p->total) : 0;
    char bar[32];
    int width = 20, filled = p->total > 0 ? (int)((double)width * p->done / p->total) : 0;
    if (filled > width) filled = width;
    for (int i = 0; i < width; i++) bar[i] = i < filled ? '#' : '.';
    bar[width] = 0;
    fprintf(stderr, "%s%s [%s] %3d%% %ld/%ld %.1f %s/s %s %s%s%s%s", p->is_tty ? "\r\033[K" : "",
            p->label, bar, pct, p->done, p->total, rate, p->unit, final ? "in" : "ETA",
            final ? el : eta, extra ? " " : "", extra ? extra : "",
            (p->is_tty && !final) ? "" : "\n");
    fflush(stderr);
    p->t_last_draw = now;
}

void sf_progress_update(sf_progress *p, long done, const char *extra) {
    p->done = done;
    if (p->quiet || (p->total > 0 && done >= p->total)) return; /* finish draws the last line */
    double now = sf_now();
    double interval = p->is_tty ? 0.1 : 5.0;
    if (now - p->t_last_draw < interval) return;
    progress_draw(p, extra, 0);
}

void sf_progress_finish(sf_progress *p, const char *extra) {
    if (p->quiet) return;
    progress_draw(p, extra, 1);
}

/* ---- random numbers ---- */

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void sf_rng_seed(sf_rng *r, uint64_t seed) {
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t sf_rng_next(sf_rng *r) {
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double sf_rng_uniform(sf_rng *r) { return (double)(sf_rng_next(r) >> 11) * 0x1.0p-53; }

double sf_rng_normal(sf_rng *r) {
    double u1 = sf_rng_uniform(r), u2 = sf_rng_uniform(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

uint32_t sf_rng_below(sf_rng *r, uint32_t n) {
    SF_ASSERT(n > 0);
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do x = sf_rng_next(r);
    while (x >= limit);
    return (uint32_t)(x % n);
}

void sf_rng_shuffle(sf_rng *r, int *a, int n) {
    for (int i = n - 1; i > 0; i--) {
        int j = (int)sf_rng_below(r, (uint32_t)i + 1);
        int t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}

/* ---- files ---- */

uint64_t sf_hash64(const void *data, size_t len) {
    const uint8_t *p = data;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebull;
    h ^= h >> 31;
    return h;
}

int sf_mkdir_p(const char *path) {
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return sf_fail("cannot create %s: %s", buf, strerror(errno));
        *p = '/';
    }
    if (mkdir(buf, 0755) != 0 && errno != EEXIST)
        return sf_fail("cannot create %s: %s", buf, strerror(errno));
    return SF_OK;
}

int sf_read_file(const char *path, char **data, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return sf_fail("%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(f);
        return sf_fail("%s is a directory, not a file", path);
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = xmalloc(cap);
    for (;;) {
        if (n + 1 >= cap) buf = xrealloc(buf, cap *= 2);
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0) break;
    }
    int bad = ferror(f), err = errno;
    fclose(f);
    if (bad) {
        free(buf);
        return sf_fail("%s: cannot read: %s", path, strerror(err));
    }
    buf[n] = 0;
    *data = buf;
    if (len) *len = n;
    return SF_OK;
}

static int is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

const char *sf_share_dir(void) {
    const char *env = getenv("SFNET_SHARE");
    if (env && *env) return env;
    if (is_dir(SF_SHARE_DIR)) return SF_SHARE_DIR;
    return SF_SOURCE_SHARE_DIR;
}

int sf_parse_option_long(const char *option, const char *text, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end || v < lo || v > hi) {
        sf_warn("%s%s '%s': expected an integer in %ld..%ld", option[1] ? "--" : "-", option, text,
                lo, hi);
        return SF_ERR;
    }
    *out = v;
    return SF_OK;
}

int sf_parse_option_int(const char *option, const char *text, int lo, int hi, int *out) {
    long v;
    if (sf_parse_option_long(option, text, lo, hi, &v) != SF_OK) return SF_ERR;
    *out = (int)v;
    return SF_OK;
}
