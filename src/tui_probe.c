/* tui_probe.c: asking the terminal what it draws and how big its cells are
 * (see tui_probe.h). The I/O (thumb_probe_run) is kept apart from the parsing
 * (thumb_probe_parse), which only looks at the bytes it is given.
 * Layer: tui. Calls: sf_util; pthreads, termios.
 * Called by: tui_app.
 */
#include "tui_probe.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "sf_util.h"

#define ESC 0x1b

/* The kitty graphics query: a 1x1 RGB image (f=24, "AAAA" = 3 zero bytes)
 * sent directly (t=d) with a=q, which checks it without storing it. */
static const char kitty_query[] = "\x1b_Gi=31,s=1,v=1,a=q,t=d,f=24;AAAA\x1b\\";
static const char cell_queries[] = "\x1b[16t\x1b[14t";
static const char da1_query[] = "\x1b[c";

/* ---- parsing ---- */

/* Semicolon-separated decimal numbers (an empty one is 0) into v; returns how
 * many, or -1 when s holds anything else or a number beyond 99999. */
static int parse_numbers(const char *s, size_t n, int *v, int max) {
    int count = 0, cur = 0, digits = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || s[i] == ';') {
            if (count < max) v[count] = cur;
            count++;
            cur = digits = 0;
        } else if (s[i] >= '0' && s[i] <= '9') {
            if (++digits > 5) return -1;
            cur = cur * 10 + (s[i] - '0');
        } else {
            return -1;
        }
    }
    return count;
}

/* A complete CSI sequence: params (between "ESC [" and the final byte). */
static void parse_csi(thumb_probe *p, const char *params, size_t n, char final) {
    int v[16];
    if (final == 'c' && n >= 1 && params[0] == '?') {
        /* DA1: CSI ? class ; attr ; ... c (kitty ends with "62;", an empty last one) */
        int count = parse_numbers(params + 1, n - 1, v, 16);
        if (count < 1) {
            p->garbage += n + 3;
            return;
        }
        if (count > 16) count = 16;
        p->answered = 1;
        p->n_da1 = count;
        memcpy(p->da1, v, (size_t)count * sizeof(int));
        for (int i = 1; i < count; i++) /* v[0] is the class: "?4;6c" is a VT132 */
            if (v[i] == 4) p->sixel = 1;
        return;
    }
    if (final == 't' && n >= 1 && params[0] >= '0' && params[0] <= '9') {
        if (parse_numbers(params, n, v, 16) != 3) return;
        if (v[0] == 6 && v[1] >= 1 && v[1] <= 1024 && v[2] >= 1 && v[2] <= 1024) {
            p->cell_h = v[1];
            p->cell_w = v[2];
        } else if (v[0] == 4 && v[1] >= 1 && v[2] >= 1) {
            p->win_h = v[1];
            p->win_w = v[2];
        }
        return;
    }
    /* a reply to something else (another program's query, a key such as
     * ESC [ A): not ours, not an answer */
}

/* A complete APC string: body between "ESC _" and the terminator. The kitty
 * reply is G<key=value,...>;<message>, ours carries i=31. */
static void parse_apc(thumb_probe *p, const char *body, size_t n) {
    if (n < 1 || body[0] != 'G') return;
    const char *semi = memchr(body, ';', n);
    if (!semi) return;
    const char *keys = body + 1, *msg = semi + 1;
    size_t keys_n = (size_t)(semi - keys), msg_n = n - (size_t)(msg - body);
    int ours = 0;
    for (size_t i = 0; i < keys_n;) {
        size_t j = i;
        while (j < keys_n && keys[j] != ',') j++;
        if (j - i == 4 && !memcmp(keys + i, "i=31", 4)) ours = 1;
        i = j + 1;
    }
    if (!ours) return;
    p->kitty_replied = 1;
    if (msg_n == 2 && !memcmp(msg, "OK", 2)) p->kitty = 1;
}

int thumb_probe_parse(thumb_probe *p, const char *buf, size_t len) {
    p->answered = p->sixel = p->kitty = p->kitty_replied = 0;
    p->n_da1 = 0;
    p->cell_w = p->cell_h = p->win_w = p->win_h = 0;
    p->garbage = 0;
    size_t i = 0;
    while (i < len) {
        if ((unsigned char)buf[i] != ESC) {
            p->garbage++;
            i++;
            continue;
        }
        if (i + 1 == len) return 0; /* ESC at the end: the rest is on its way */
        char kind = buf[i + 1];
        if (kind == '[') {
            size_t j = i + 2;
            /* parameter bytes 0x30-0x3F, intermediate bytes 0x20-0x2F */
            while (j < len && (unsigned char)buf[j] >= 0x20 && (unsigned char)buf[j] <= 0x3F) j++;
            if (j == len) return 0; /* cut: wait for more */
            unsigned char final = (unsigned char)buf[j];
            if (final < 0x40 || final > 0x7E) { /* broken by a control byte: not a reply */
                p->garbage += j - i;
                i = j;
                continue;
            }
            parse_csi(p, buf + i + 2, j - (i + 2), (char) final);
            i = j + 1;
            if (p->answered) return 1; /* what follows DA1's reply is not ours */
            continue;
        }
        if (kind == '_' || kind == 'P' || kind == ']' || kind == '^' || kind == 'X') {
            /* APC, DCS, OSC, PM, SOS: a string ended by ST (ESC \) or BEL;
             * an ESC followed by anything else aborts it, as in a terminal */
            size_t j = i + 2, end = 0, next = 0;
            int done = 0, aborted = 0;
            while (j < len && !done) {
                if (buf[j] == 0x07) {
                    end = j;
                    next = j + 1;
                    done = 1;
                } else if ((unsigned char)buf[j] == ESC) {
                    if (j + 1 == len) return 0;
                    end = j;
                    next = buf[j + 1] == '\\' ? j + 2 : j;
                    aborted = buf[j + 1] != '\\';
                    done = 1;
                } else {
                    j++;
                }
            }
            if (!done) return 0; /* cut: wait for more */
            if (aborted) p->garbage += end - i;
            else if (kind == '_') parse_apc(p, buf + i + 2, end - (i + 2));
            i = next;
            continue;
        }
        p->garbage += 2; /* ESC and a key: Alt+key or Esc typed */
        i += 2;
    }
    return 0;
}

void thumb_probe_describe(const thumb_probe *p, char *out, size_t n) {
    if (n == 0) return;
    size_t o = 0;
    for (size_t i = 0; i < p->raw_len && o + 5 < n; i++) {
        unsigned char c = (unsigned char)p->raw[i];
        if (c == ESC) {
            out[o++] = '\\';
            out[o++] = 'e';
        } else if (c < 0x20 || c == 0x7f) {
            out[o++] = '^';
            out[o++] = c == 0x7f ? '?' : (char)(c + 64);
        } else if (c >= 0x80) {
            o += (size_t)snprintf(out + o, n - o, "\\x%02x", c);
        } else {
            out[o++] = (char)c;
        }
    }
    out[o] = 0;
}

/* ---- talking to the terminal ---- */

static int write_all(int fd, const char *s, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, s, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

/* The settings a probe in raw mode is to restore, for thumb_probe_restore_terminal. */
static struct termios raw_saved;
static volatile int raw_fd = -1;

void thumb_probe_restore_terminal(void) {
    if (raw_fd >= 0) tcsetattr(raw_fd, TCSANOW, &raw_saved);
}

int thumb_probe_run(thumb_probe *p, int in_fd, int out_fd, int queries, int timeout_ms) {
    memset(p, 0, sizeof *p);
    double t0 = sf_now();
    if (!isatty(in_fd) || !isatty(out_fd))
        return sf_fail("terminal probe: stdin or stdout is not a terminal");
    struct winsize ws;
    if (ioctl(in_fd, TIOCGWINSZ, &ws) == 0) {
        p->ws_cols = ws.ws_col;
        p->ws_rows = ws.ws_row;
    }
    struct termios saved;
    if (tcgetattr(in_fd, &saved) != 0)
        return sf_fail("terminal probe: cannot read the terminal settings: %s", strerror(errno));

    /* Signals that would stop or kill us wait until the settings are back. */
    sigset_t block, old_mask;
    sigemptyset(&block);
    int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGTSTP, SIGTTIN, SIGTTOU};
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++) sigaddset(&block, sigs[i]);
    pthread_sigmask(SIG_BLOCK, &block, &old_mask);

    int rc = SF_OK;
    struct termios raw = saved;
    raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO | ECHONL | ISIG | IEXTEN);
    raw.c_iflag &= ~(tcflag_t)(IXON | ICRNL | INLCR | IGNCR | ISTRIP);
    raw.c_cc[VMIN] = 0;
    raw.c_cc[VTIME] = 0;
    raw_saved = saved;
    raw_fd = in_fd;
    if (tcsetattr(in_fd, TCSANOW, &raw) != 0) {
        raw_fd = -1;
        rc = sf_fail("terminal probe: cannot set the terminal to raw mode: %s", strerror(errno));
        goto unblock;
    }

    /* DA1 goes last: every terminal answers it, and after the others. */
    char q[128];
    size_t qn = 0;
    if (queries & THUMB_PROBE_KITTY) {
        memcpy(q + qn, kitty_query, sizeof kitty_query - 1);
        qn += sizeof kitty_query - 1;
    }
    memcpy(q + qn, cell_queries, sizeof cell_queries - 1);
    qn += sizeof cell_queries - 1;
    memcpy(q + qn, da1_query, sizeof da1_query - 1);
    qn += sizeof da1_query - 1;
    if (write_all(out_fd, q, qn) != 0) {
        rc = sf_fail("terminal probe: cannot write to the terminal: %s", strerror(errno));
        goto restore;
    }
    p->ran = 1;
    p->queries = queries | THUMB_PROBE_CELL;
    SF_TEST_DIE("probe");

    double deadline = t0 + timeout_ms / 1000.0;
    for (;;) {
        double left = deadline - sf_now();
        if (left <= 0 || p->raw_len == sizeof p->raw) break;
        struct pollfd pfd = {.fd = in_fd, .events = POLLIN};
        int r = poll(&pfd, 1, (int)ceil(left * 1000));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0 || !(pfd.revents & POLLIN)) break; /* timeout, error or hang-up */
        ssize_t got = read(in_fd, p->raw + p->raw_len, sizeof p->raw - p->raw_len);
        if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (got <= 0) break;
        p->raw_len += (size_t)got;
        if (thumb_probe_parse(p, p->raw, p->raw_len)) break;
    }
    thumb_probe_parse(p, p->raw, p->raw_len);

restore:
    if (tcsetattr(in_fd, TCSANOW, &saved) != 0 && rc == SF_OK)
        rc = sf_fail("terminal probe: cannot restore the terminal settings: %s", strerror(errno));
    raw_fd = -1;
unblock:
    pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
    p->ms = (sf_now() - t0) * 1000;
    return rc;
}

void thumb_probe_flush(int in_fd, const thumb_probe *p) {
    if (p && p->ran && !p->answered) tcflush(in_fd, TCIFLUSH);
}
