/* test_tui_probe.c: asking the terminal (tui_probe.c) and what the answers
 * decide (tui_thumb.c): the reply parser on what real terminals send, whole, cut
 * and mixed with noise; the choice of queries, mode and cell size; the probe
 * end to end against a pseudo terminal whose other end answers like a sixel
 * terminal, like kitty, late, or not at all; and the explorer itself through a
 * pseudo terminal (--dump-detect, late replies, a font zoom).
 * Every wait here has its own bound (the fake terminal gives up after a
 * second, the explorer is killed after 20 s), so the suites set no Criterion
 * .timeout: under AddressSanitizer its watchdog now and then leaks 48 bytes in
 * the runner, which then exits with 1. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "sf_util.h"
#include "tui_fixture.h"
#include "tui_thumb.h"

static const char all_queries[] =
    "\x1b_Gi=31,s=1,v=1,a=q,t=d,f=24;AAAA\x1b\\\x1b[16t\x1b[14t\x1b[c";
static const char cell_queries[] = "\x1b[16t\x1b[14t\x1b[c";

static thumb_probe parsed(const char *s) {
    thumb_probe p;
    memset(&p, 0, sizeof p);
    thumb_probe_parse(&p, s, strlen(s));
    return p;
}

/* ---- the parser on real replies ---- */

Test(probe_parse, xterm_as_vt340_has_sixel) {
    /* xterm -ti vt340: DA1 lists 4; it answers 16 t and 14 t */
    thumb_probe p = parsed("\x1b[6;17;8t\x1b[4;408;640t\x1b[?63;1;2;4;6;9;15;22c");
    cr_assert(p.answered);
    cr_assert(p.sixel);
    cr_assert_not(p.kitty);
    cr_assert_eq(p.n_da1, 8);
    cr_assert_eq(p.da1[0], 63);
    cr_assert_eq(p.cell_w, 8);
    cr_assert_eq(p.cell_h, 17);
    cr_assert_eq(p.win_w, 640);
    cr_assert_eq(p.win_h, 408);
    cr_assert_eq(p.garbage, 0);
}

Test(probe_parse, xterm_default_and_others_without_sixel) {
    const char *no_sixel[] = {
        "\x1b[?64;1;2;6;9;15;16;17;18;21;22;28c", /* xterm as a VT420 (its default) */
        "\x1b[?65;1;9c",                          /* VTE: GNOME Terminal, Xfce */
        "\x1b[?1;2c",                             /* tmux 3.3a, Apple Terminal */
        "\x1b[?6c",                               /* st, PuTTY, the Linux console */
        "\x1b[?4;6c",                             /* a VT132: 4 is its class, not sixel */
        "\x1b[?62;22c",                           /* Ghostty */
    };
    for (size_t i = 0; i < sizeof no_sixel / sizeof *no_sixel; i++) {
        thumb_probe p = parsed(no_sixel[i]);
        cr_assert(p.answered, "reply %zu", i);
        cr_assert_not(p.sixel, "reply %zu", i);
        cr_assert_not(p.kitty, "reply %zu", i);
    }
}

Test(probe_parse, mlterm_foot_iterm_mintty_have_sixel) {
    const char *sixel[] = {
        "\x1b[?63;1;2;3;4;7;29c",             /* mlterm */
        "\x1b[6;16;8t\x1b[?62;4;22;28c",      /* foot with sixel */
        "\x1b[?62;4c",                        /* iTerm2 */
        "\x1b[?64;1;2;4;6;9;15;21;22;28;29c", /* mintty */
    };
    for (size_t i = 0; i < sizeof sixel / sizeof *sixel; i++) {
        thumb_probe p = parsed(sixel[i]);
        cr_assert(p.answered && p.sixel, "reply %zu", i);
    }
    thumb_probe foot = parsed(sixel[1]);
    cr_assert_eq(foot.cell_w, 8);
    cr_assert_eq(foot.cell_h, 16);
}

Test(probe_parse, kitty) {
    /* kitty answers the graphics query, both sizes, and "62;" with an empty attribute */
    thumb_probe p = parsed("\x1b_Gi=31;OK\x1b\\\x1b[6;20;10t\x1b[4;960;1600t\x1b[?62;c");
    cr_assert(p.answered);
    cr_assert(p.kitty);
    cr_assert(p.kitty_replied);
    cr_assert_not(p.sixel);
    cr_assert_eq(p.n_da1, 2);
    cr_assert_eq(p.da1[0], 62);
    cr_assert_eq(p.da1[1], 0);
    cr_assert_eq(p.cell_w, 10);
    cr_assert_eq(p.cell_h, 20);
    cr_assert_eq(p.win_w, 1600);
    cr_assert_eq(p.win_h, 960);
    cr_assert_eq(p.garbage, 0);
}

Test(probe_parse, wezterm_like_with_other_replies_between) {
    /* kitty OK, a cell size, an XTSMGRAPHICS reply and an XTVERSION string
     * (DCS) before a DA1 with sixel: both protocols */
    thumb_probe p = parsed("\x1b_Gi=31;OK\x1b\\\x1b[6;19;10t\x1b[?1;0;65536S"
                           "\x1bP>|WezTerm 20240203-110809-5046fc22\x1b\\\x1b[?65;4;6;18;22c");
    cr_assert(p.answered);
    cr_assert(p.kitty);
    cr_assert(p.sixel);
    cr_assert_eq(p.cell_w, 10);
    cr_assert_eq(p.cell_h, 19);
    cr_assert_eq(p.garbage, 0);
}

Test(probe_parse, kitty_reply_must_be_ok_ours_and_before_da1) {
    thumb_probe p = parsed("\x1b_Gi=31;ENOTSUPPORTED:unsupported format\x1b\\\x1b[?62;c");
    cr_assert(p.answered);
    cr_assert(p.kitty_replied);
    cr_assert_not(p.kitty, "an error is no support");
    p = parsed("\x1b_Gi=7;OK\x1b\\\x1b[?62;c");
    cr_assert_not(p.kitty_replied, "another image id is another program's");
    p = parsed("\x1b_Gi=31,I=0;OK\x1b\\\x1b[?62;c");
    cr_assert(p.kitty, "other keys beside i=31");
    p = parsed("\x1b_Gi=31;OK\x07\x1b[?62;c");
    cr_assert(p.kitty, "ended by BEL");
    p = parsed("\x1b[?62;c\x1b_Gi=31;OK\x1b\\");
    cr_assert(p.answered);
    cr_assert_not(p.kitty, "after the DA1 reply it is not an answer to our query");
    p = parsed("\x1b_Gi=31;OK\x1b[?62;c");
    cr_assert(p.answered);
    cr_assert_not(p.kitty, "an APC string cut by a new ESC is aborted");
}

Test(probe_parse, garbage_and_no_reply) {
    /* typed keys, an arrow key, Alt+x, Ctrl-C, a DA2 reply: none is DA1 */
    thumb_probe p = parsed("hello\x1b[A\x1bx\x03\x1b[>1;4000;19c");
    cr_assert_not(p.answered);
    cr_assert_not(p.sixel);
    cr_assert_eq(p.garbage, 5 + 2 + 1);
    /* sizes out of range or malformed are ignored */
    p = parsed("\x1b[6;0;10t\x1b[6;20;2000t\x1b[6;20t\x1b[6;a;10t\x1b[4;-1;5t");
    cr_assert_eq(p.cell_w, 0);
    cr_assert_eq(p.cell_h, 0);
    cr_assert_eq(p.win_w, 0);
    /* keys typed around the replies: before counts as garbage, after is not read */
    p = parsed("j\x1b[6;20;10t\x1b[?62;4cq\x1b[6;30;15t");
    cr_assert(p.answered && p.sixel);
    cr_assert_eq(p.garbage, 1);
    cr_assert_eq(p.cell_w, 10, "the reply after DA1 is not taken");
    /* a sequence broken by a control byte, then the real reply */
    p = parsed("\x1b[6;20\x1b[?62;c");
    cr_assert(p.answered);
    cr_assert_eq(p.cell_w, 0);
    cr_assert_eq(p.garbage, 6);
    p = parsed("");
    cr_assert_not(p.answered);
}

/* Every cut of a whole answer: no answer before the last byte, then the same
 * result as the whole; a reply cut in two is not lost or half taken. */
Test(probe_parse, split_and_partial_replies) {
    const char *whole = "\x1b_Gi=31;OK\x1b\\\x1b[6;20;10t\x1b[4;960;1600t\x1b[?62;4c";
    size_t n = strlen(whole);
    thumb_probe full = parsed(whole);
    cr_assert(full.answered && full.kitty && full.sixel);
    for (size_t cut = 0; cut < n; cut++) {
        thumb_probe p;
        memset(&p, 0, sizeof p);
        cr_assert_eq(thumb_probe_parse(&p, whole, cut), 0, "cut at %zu", cut);
        cr_assert_not(p.answered, "cut at %zu", cut);
        cr_assert_eq(p.garbage, 0, "cut at %zu: a partial reply is not garbage", cut);
        /* a size is taken only once its reply is whole */
        size_t size_end = strstr(whole, "10t") + 3 - whole;
        cr_assert_eq(p.cell_w, cut >= size_end ? 10 : 0, "cut at %zu", cut);
        cr_assert_eq(p.kitty, cut >= strlen("\x1b_Gi=31;OK\x1b\\"), "cut at %zu", cut);
    }
    thumb_probe p;
    memset(&p, 0, sizeof p);
    cr_assert_eq(thumb_probe_parse(&p, whole, n), 1);
    cr_assert_eq(memcmp(&p.answered, &full.answered, sizeof p - offsetof(thumb_probe, answered)),
                 0);
}

Test(probe_parse, describe_is_printable) {
    thumb_probe p;
    memset(&p, 0, sizeof p);
    const char *raw = "\x1b[?62;c\x03\xc3";
    memcpy(p.raw, raw, strlen(raw));
    p.raw_len = strlen(raw);
    char out[64];
    thumb_probe_describe(&p, out, sizeof out);
    cr_assert_str_eq(out, "\\e[?62;c^C\\xc3");
    char tiny[6];
    thumb_probe_describe(&p, tiny, sizeof tiny);
    cr_assert_lt(strlen(tiny), sizeof tiny);
}

/* ---- queries, mode, cell size ---- */

Test(probe_policy, which_queries) {
    char why[160];
    char *plain[] = {"TERM=xterm-256color", NULL};
    cr_assert_eq(thumb_probe_queries(THUMB_AUTO, plain, 0, why, sizeof why),
                 THUMB_PROBE_CELL | THUMB_PROBE_KITTY);
    cr_assert_eq(thumb_probe_queries(THUMB_AUTO, plain, 1, why, sizeof why),
                 THUMB_PROBE_CELL | THUMB_PROBE_KITTY,
                 "auto still asks for the mode when the size is given");
    cr_assert_eq(thumb_probe_queries(THUMB_SYMBOLS, plain, 0, why, sizeof why), 0);
    cr_assert_eq(thumb_probe_queries(THUMB_NONE, plain, 0, why, sizeof why), 0);
    cr_assert_eq(thumb_probe_queries(THUMB_SIXEL, plain, 0, why, sizeof why), THUMB_PROBE_CELL);
    cr_assert_eq(thumb_probe_queries(THUMB_KITTY, plain, 1, why, sizeof why), 0);
    char *env_symbols[] = {"TERM=xterm-256color", "SFNET_GRAPHICS=symbols", NULL};
    cr_assert_eq(thumb_probe_queries(THUMB_AUTO, env_symbols, 0, why, sizeof why), 0);
    char *env_sixel[] = {"TERM=xterm-256color", "SFNET_GRAPHICS=sixel", NULL};
    cr_assert_eq(thumb_probe_queries(THUMB_AUTO, env_sixel, 0, why, sizeof why), THUMB_PROBE_CELL);
    char *tmux[] = {"TERM=tmux-256color", "TMUX=/tmp/tmux-0/default,1,0", NULL};
    cr_assert_eq(thumb_probe_queries(THUMB_AUTO, tmux, 0, why, sizeof why), THUMB_PROBE_CELL);
    cr_assert(strstr(why, "tmux"), "%s", why);
    char *screen[] = {"TERM=screen-256color", "STY=1234.pts-0.host", NULL};
    cr_assert_eq(thumb_probe_queries(THUMB_AUTO, screen, 0, why, sizeof why), THUMB_PROBE_CELL);
    char *console[] = {"TERM=linux", NULL};
    cr_assert_eq(thumb_probe_queries(THUMB_AUTO, console, 0, why, sizeof why), THUMB_PROBE_CELL);
    char *dumb[] = {"TERM=dumb", NULL};
    cr_assert_eq(thumb_probe_queries(THUMB_AUTO, dumb, 0, why, sizeof why), 0);
    cr_assert(strstr(why, "dumb"), "%s", why);
}

Test(probe_policy, the_terminal_outranks_its_name) {
    char why[160];
    char *plain[] = {"TERM=xterm-256color", NULL};
    char *mlterm[] = {"TERM=mlterm", NULL};
    char *kitty_env[] = {"TERM=xterm-kitty", NULL};
    char *tmux[] = {"TERM=xterm-256color", "TMUX=/tmp/x,1,0", NULL};
    thumb_probe sixel = parsed("\x1b[6;20;10t\x1b[?63;1;2;4;6;9;15;22c");
    sixel.ran = 1;
    cr_assert_eq(thumb_detect(THUMB_AUTO, plain, &sixel, 1, why, sizeof why), THUMB_SIXEL, "%s",
                 why);
    cr_assert(strstr(why, "DA1"), "%s", why);
    cr_assert_eq(thumb_detect(THUMB_AUTO, plain, &sixel, 0, why, sizeof why), THUMB_SYMBOLS,
                 "sixel needs the cell size");
    cr_assert(strstr(why, "--cell-size"), "%s", why);
    thumb_probe kitty = parsed("\x1b_Gi=31;OK\x1b\\\x1b[?62;4c");
    kitty.ran = 1;
    cr_assert_eq(thumb_detect(THUMB_AUTO, plain, &kitty, 1, why, sizeof why), THUMB_KITTY,
                 "kitty before sixel");
    thumb_probe none = parsed("\x1b[?65;1;9c");
    none.ran = 1;
    cr_assert_eq(thumb_detect(THUMB_AUTO, mlterm, &none, 1, why, sizeof why), THUMB_SYMBOLS,
                 "an answer without sixel beats TERM=mlterm: %s", why);
    cr_assert_eq(thumb_detect(THUMB_AUTO, kitty_env, &none, 1, why, sizeof why), THUMB_SYMBOLS,
                 "%s", why);
    /* no answer: the terminal database, as before the probe */
    thumb_probe silent;
    memset(&silent, 0, sizeof silent);
    silent.ran = 1;
    cr_assert_eq(thumb_detect(THUMB_AUTO, mlterm, &silent, 1, why, sizeof why), THUMB_SIXEL, "%s",
                 why);
    cr_assert(strstr(why, "did not answer"), "%s", why);
    cr_assert_eq(thumb_detect(THUMB_AUTO, mlterm, &silent, 0, why, sizeof why), THUMB_SYMBOLS);
    cr_assert_eq(thumb_detect(THUMB_AUTO, plain, &silent, 1, why, sizeof why), THUMB_SYMBOLS);
    /* tmux keeps symbols, whatever answered; asking wins over everything */
    cr_assert_eq(thumb_detect(THUMB_AUTO, tmux, &kitty, 1, why, sizeof why), THUMB_SYMBOLS);
    cr_assert_eq(thumb_detect(THUMB_SIXEL, tmux, &none, 0, why, sizeof why), THUMB_SIXEL);
    char *env_none[] = {"TERM=xterm-256color", "SFNET_GRAPHICS=none", NULL};
    cr_assert_eq(thumb_detect(THUMB_AUTO, env_none, &kitty, 1, why, sizeof why), THUMB_NONE);
}

Test(probe_policy, cell_size_sources) {
    int w, h, src;
    char *plain[] = {"TERM=xterm", NULL};
    char *env[] = {"TERM=xterm", "SFNET_CELL_SIZE=12x24", NULL};
    char *bad_env[] = {"SFNET_CELL_SIZE=12", NULL};
    thumb_probe p = parsed("\x1b[6;20;10t\x1b[4;480;800t\x1b[?62;c");
    p.ws_cols = 80;
    p.ws_rows = 24;
    cr_assert_eq(thumb_cell_resolve("7x15", env, &p, -1, &w, &h, &src), SF_OK);
    cr_assert(w == 7 && h == 15 && src == THUMB_CELL_OPTION, "the option wins: %dx%d from %d", w, h,
              src);
    cr_assert_eq(thumb_cell_resolve(NULL, env, &p, -1, &w, &h, &src), SF_OK);
    cr_assert(w == 12 && h == 24 && src == THUMB_CELL_ENV);
    cr_assert_eq(thumb_cell_resolve(NULL, plain, &p, -1, &w, &h, &src), SF_OK);
    cr_assert(w == 10 && h == 20 && src == THUMB_CELL_CSI16T);
    /* no 16 t reply: the 14 t text area over the rows and columns */
    thumb_probe p14 = parsed("\x1b[4;480;800t\x1b[?62;c");
    p14.ws_cols = 80;
    p14.ws_rows = 24;
    cr_assert_eq(thumb_cell_resolve(NULL, plain, &p14, -1, &w, &h, &src), SF_OK);
    cr_assert(w == 800 / 80 && h == 480 / 24 && src == THUMB_CELL_CSI14T, "%dx%d from %d", w, h,
              src);
    thumb_probe silent;
    memset(&silent, 0, sizeof silent);
    cr_assert_eq(thumb_cell_resolve(NULL, plain, &silent, -1, &w, &h, &src), SF_OK);
    cr_assert(w == 10 && h == 20 && src == THUMB_CELL_GUESS);
    cr_assert_eq(thumb_cell_resolve(NULL, bad_env, NULL, -1, &w, &h, &src), SF_ERR);
    cr_assert(strstr(sf_last_error(), "SFNET_CELL_SIZE"), "%s", sf_last_error());
    const char *bad[] = {"10", "10x", "x20", "0x20", "10x2000", "10x20px", "-5x10", ""};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        cr_assert_eq(thumb_cell_size_parse(bad[i], "--cell-size", &w, &h), SF_ERR, "'%s'", bad[i]);
        cr_assert(strstr(sf_last_error(), "--cell-size"), "%s", sf_last_error());
    }
    /* TIOCGWINSZ pixels, from a pseudo terminal that reports them */
    int master, slave;
    struct winsize ws = {.ws_row = 30, .ws_col = 100, .ws_xpixel = 900, .ws_ypixel = 540};
    cr_assert_eq(openpty(&master, &slave, NULL, NULL, &ws), 0);
    cr_assert_eq(thumb_cell_resolve(NULL, plain, &silent, slave, &w, &h, &src), SF_OK);
    cr_assert(w == 9 && h == 18 && src == THUMB_CELL_WINSZ, "%dx%d from %d", w, h, src);
    cr_assert_eq(thumb_cell_resolve(NULL, plain, &p, slave, &w, &h, &src), SF_OK);
    cr_assert(src == THUMB_CELL_CSI16T, "the terminal's own reply before TIOCGWINSZ");
    close(master);
    close(slave);
}

/* ---- end to end against a pseudo terminal ---- */

typedef struct {
    const char *chunks[4]; /* written in turn once the DA1 query came */
    int gap_ms;            /* between chunks */
    int delay_ms;          /* before the first */
    int sigterm_parent;    /* sends SIGTERM to the prober before answering */
} answers;

typedef struct {
    int master, slave, report; /* report: what the terminal read, from the child */
    pid_t child;
} fake_terminal;

/* A pseudo terminal (80x24, no pixels) whose master end is a child process
 * that reads the queries and, once DA1 came, writes the answers; it keeps
 * reading for a while and then reports everything it read through a pipe. */
static fake_terminal fake_start(const answers *a) {
    fake_terminal t;
    struct winsize ws = {.ws_row = 24, .ws_col = 80};
    cr_assert_eq(openpty(&t.master, &t.slave, NULL, NULL, &ws), 0);
    int pipefd[2];
    cr_assert_eq(pipe(pipefd), 0);
    pid_t parent = getpid();
    t.child = fork();
    cr_assert_neq(t.child, -1);
    if (t.child == 0) {
        close(pipefd[0]);
        char got[1024];
        size_t n = 0;
        int answered = 0;
        double t_end = sf_now() + 1.0;
        while (sf_now() < t_end) {
            struct pollfd pfd = {.fd = t.master, .events = POLLIN};
            if (poll(&pfd, 1, 20) > 0) {
                ssize_t r = read(t.master, got + n, sizeof got - n);
                if (r > 0) n += (size_t)r;
            }
            if (!answered && memmem(got, n, "\x1b[c", 3)) {
                answered = 1;
                if (a->sigterm_parent) {
                    kill(parent, SIGTERM);
                    usleep(20000);
                }
                if (a->delay_ms) usleep(a->delay_ms * 1000);
                for (int i = 0; i < 4 && a->chunks[i]; i++) {
                    if (i && a->gap_ms) usleep(a->gap_ms * 1000);
                    if (write(t.master, a->chunks[i], strlen(a->chunks[i])) < 0) _exit(3);
                }
                t_end = sf_now() + 0.4; /* then read what comes back (echoes) */
            }
        }
        if (write(pipefd[1], got, n) < 0) _exit(3);
        _exit(0);
    }
    close(pipefd[1]);
    t.report = pipefd[0];
    return t;
}

/* Waits for the child; returns what the terminal read (static buffer). */
static const char *fake_finish(fake_terminal *t, size_t *len) {
    static char got[1024];
    size_t n = 0;
    ssize_t r;
    while ((r = read(t->report, got + n, sizeof got - 1 - n)) > 0) n += (size_t)r;
    got[n] = 0;
    *len = n;
    int status;
    waitpid(t->child, &status, 0);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close(t->report);
    close(t->master);
    close(t->slave);
    return got;
}

/* Bytes waiting on the slave's input, read (and so dropped) without waiting
 * for a line: canonical mode hides a reply that has no newline. */
static size_t pending_input(int fd) {
    struct termios saved, raw;
    tcgetattr(fd, &saved);
    raw = saved;
    raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
    raw.c_cc[VMIN] = 0;
    raw.c_cc[VTIME] = 0;
    tcsetattr(fd, TCSANOW, &raw);
    char buf[256];
    size_t n = 0;
    ssize_t r;
    while ((r = read(fd, buf, sizeof buf)) > 0) n += (size_t)r;
    tcsetattr(fd, TCSANOW, &saved);
    return n;
}

static int same_termios(const struct termios *a, const struct termios *b) {
    return a->c_iflag == b->c_iflag && a->c_oflag == b->c_oflag && a->c_cflag == b->c_cflag &&
           a->c_lflag == b->c_lflag && !memcmp(a->c_cc, b->c_cc, sizeof a->c_cc);
}

static char *xterm_env[] = {"TERM=xterm-256color", NULL};

/* Runs the probe with every query on the fake terminal; checks that the
 * terminal settings and the signal mask came back and that the terminal read
 * exactly the queries. */
static thumb_probe probe_against(const answers *a, fake_terminal *t) {
    *t = fake_start(a);
    struct termios before, after;
    cr_assert_eq(tcgetattr(t->slave, &before), 0);
    sigset_t mask_before, mask_after;
    pthread_sigmask(SIG_SETMASK, NULL, &mask_before);
    thumb_probe p;
    cr_assert_eq(thumb_probe_run(&p, t->slave, t->slave, THUMB_PROBE_CELL | THUMB_PROBE_KITTY,
                                 THUMB_PROBE_TIMEOUT_MS),
                 SF_OK, "%s", sf_last_error());
    cr_assert_eq(tcgetattr(t->slave, &after), 0);
    cr_assert(same_termios(&before, &after), "terminal settings restored");
    pthread_sigmask(SIG_SETMASK, NULL, &mask_after);
    for (int s = 1; s < 32; s++)
        cr_assert_eq(sigismember(&mask_before, s), sigismember(&mask_after, s), "signal %d's mask",
                     s);
    cr_assert(p.ran);
    cr_assert_eq(p.ws_cols, 80);
    return p;
}

static void expect_queries_only(fake_terminal *t) {
    size_t n;
    const char *got = fake_finish(t, &n);
    cr_assert_eq(n, strlen(all_queries), "the terminal read %zu bytes", n);
    cr_assert_eq(memcmp(got, all_queries, n), 0, "the terminal read only the queries");
}

TestSuite(probe_pty);

Test(probe_pty, sixel_terminal) {
    answers a = {.chunks = {"\x1b[6;20;10t\x1b[?63;1;2;4;6;9;15;22c"}};
    fake_terminal t;
    thumb_probe p = probe_against(&a, &t);
    cr_assert(p.answered);
    cr_assert(p.sixel);
    cr_assert_not(p.kitty);
    cr_assert_lt(p.ms, THUMB_PROBE_TIMEOUT_MS, "an answer ends the wait: %.1f ms", p.ms);
    int w, h, src;
    cr_assert_eq(thumb_cell_resolve(NULL, xterm_env, &p, t.slave, &w, &h, &src), SF_OK);
    cr_assert(w == 10 && h == 20 && src == THUMB_CELL_CSI16T);
    char why[160];
    cr_assert_eq(thumb_detect(THUMB_AUTO, xterm_env, &p, src != THUMB_CELL_GUESS, why, sizeof why),
                 THUMB_SIXEL, "%s", why);
    cr_assert_eq(pending_input(t.slave), 0, "nothing left in the input");
    cr_log_info("sixel terminal answered in %.2f ms", p.ms);
    expect_queries_only(&t);
}

Test(probe_pty, kitty_terminal) {
    answers a = {.chunks = {"\x1b_Gi=31;OK\x1b\\\x1b[6;18;9t\x1b[4;432;720t\x1b[?62;c"}};
    fake_terminal t;
    thumb_probe p = probe_against(&a, &t);
    cr_assert(p.answered && p.kitty && !p.sixel);
    int w, h, src;
    cr_assert_eq(thumb_cell_resolve(NULL, xterm_env, &p, t.slave, &w, &h, &src), SF_OK);
    cr_assert(w == 9 && h == 18 && src == THUMB_CELL_CSI16T);
    char why[160];
    cr_assert_eq(thumb_detect(THUMB_AUTO, xterm_env, &p, 1, why, sizeof why), THUMB_KITTY, "%s",
                 why);
    cr_assert_eq(pending_input(t.slave), 0);
    cr_log_info("kitty terminal answered in %.2f ms", p.ms);
    expect_queries_only(&t);
}

Test(probe_pty, replies_in_pieces_and_14t_only) {
    /* no 16 t reply; the rest cut in the middle of sequences, 15 ms apart */
    answers a = {.chunks = {"\x1b[4;4", "80;800t\x1b[?6", "2;4", "c"}, .gap_ms = 15};
    fake_terminal t;
    thumb_probe p = probe_against(&a, &t);
    cr_assert(p.answered && p.sixel);
    cr_assert_eq(p.garbage, 0);
    int w, h, src;
    cr_assert_eq(thumb_cell_resolve(NULL, xterm_env, &p, t.slave, &w, &h, &src), SF_OK);
    cr_assert(w == 10 && h == 20 && src == THUMB_CELL_CSI14T, "%dx%d from %s", w, h,
              thumb_cell_source_name(src));
    expect_queries_only(&t);
}

Test(probe_pty, silent_terminal_times_out) {
    answers a = {.chunks = {NULL}};
    fake_terminal t;
    double t0 = sf_now();
    thumb_probe p = probe_against(&a, &t);
    double ms = (sf_now() - t0) * 1000;
    cr_assert_not(p.answered);
    cr_assert_eq(p.raw_len, 0);
    cr_assert_geq(p.ms, THUMB_PROBE_TIMEOUT_MS - 1, "waits the whole timeout: %.1f ms", p.ms);
    cr_assert_lt(ms, THUMB_PROBE_TIMEOUT_MS + 500,
                 "and no longer (a loaded machine aside): %.1f ms", ms);
    char why[160];
    int w, h, src;
    cr_assert_eq(thumb_cell_resolve(NULL, xterm_env, &p, t.slave, &w, &h, &src), SF_OK);
    cr_assert_eq(src, THUMB_CELL_GUESS);
    cr_assert_eq(thumb_detect(THUMB_AUTO, xterm_env, &p, 0, why, sizeof why), THUMB_SYMBOLS, "%s",
                 why);
    thumb_probe_flush(t.slave, &p);
    cr_assert_eq(pending_input(t.slave), 0);
    cr_log_info("silent terminal: %.1f ms", p.ms);
    expect_queries_only(&t);
}

Test(probe_pty, late_replies_are_dropped_before_curses) {
    /* answers after 300 ms: too late for the probe; the flush drops them */
    answers a = {.chunks = {"\x1b[?62;4c"}, .delay_ms = 300};
    fake_terminal t;
    thumb_probe p = probe_against(&a, &t);
    cr_assert_not(p.answered);
    usleep(500000);
    thumb_probe_flush(t.slave, &p);
    cr_assert_eq(pending_input(t.slave), 0, "no reply left to be read as keys");
    size_t n;
    fake_finish(&t, &n);
    /* the same without the flush: the check does see a late reply */
    answers b = {.chunks = {"\x1b[?62;4c"}, .delay_ms = 300};
    p = probe_against(&b, &t);
    usleep(500000);
    cr_assert_eq(pending_input(t.slave), strlen("\x1b[?62;4c"));
    fake_finish(&t, &n);
}

static volatile sig_atomic_t term_seen, term_canonical;
static int term_fd;
static void on_term(int sig) {
    struct termios now;
    term_seen = 1;
    term_canonical = tcgetattr(term_fd, &now) == 0 && (now.c_lflag & ICANON);
}

Test(probe_pty, signals_wait_for_the_settings) {
    /* SIGTERM while the terminal is raw arrives after it is restored */
    answers a = {.chunks = {"\x1b[?62;c"}, .sigterm_parent = 1};
    struct sigaction sa = {.sa_handler = on_term};
    sigaction(SIGTERM, &sa, NULL);
    fake_terminal t = fake_start(&a);
    term_fd = t.slave;
    thumb_probe p;
    cr_assert_eq(thumb_probe_run(&p, t.slave, t.slave, THUMB_PROBE_CELL, THUMB_PROBE_TIMEOUT_MS),
                 SF_OK);
    cr_assert(p.answered);
    cr_assert(term_seen, "the signal was delivered once unblocked");
    cr_assert(term_canonical, "with the terminal back in canonical mode");
    size_t n;
    const char *got = fake_finish(&t, &n);
    cr_assert_eq(n, strlen(cell_queries), "no kitty query when not asked");
    cr_assert_eq(memcmp(got, cell_queries, n), 0);
}

Test(probe_pty, not_a_terminal) {
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    thumb_probe p;
    cr_assert_eq(thumb_probe_run(&p, fds[0], fds[1], THUMB_PROBE_CELL, THUMB_PROBE_TIMEOUT_MS),
                 SF_ERR);
    cr_assert_not(p.ran);
    cr_assert(strstr(sf_last_error(), "not a terminal"), "%s", sf_last_error());
    close(fds[0]);
    close(fds[1]);
}

/* ---- the explorer's --dump-detect through a pseudo terminal ---- */

static char dump_dir[64], dump_db[128];

/* The binary under test and a run database for it; 0 when there is no binary. */
static int explorer_ready(char *bin, size_t n) {
    const char *b = getenv("SFNET_BIN");
    if (b) snprintf(bin, n, "%s", b);
    else if (!realpath("build/sfnet-explore", bin)) return 0;
    if (access(bin, X_OK) != 0) return 0;
    if (!dump_db[0]) {
        strcpy(dump_dir, "/tmp/sfnet-probe-XXXXXX");
        cr_assert_not_null(mkdtemp(dump_dir));
        snprintf(dump_db, sizeof dump_db, "%s/run.db", dump_dir);
        cr_assert_eq(tfx_make(dump_db), SF_OK, "%s", sf_last_error());
    }
    return 1;
}

/* One run of the explorer on a pseudo terminal. */
typedef struct {
    const char *arg1, *arg2, *arg3; /* after the database (NULL: none) */
    struct winsize size;            /* at the start; 120x40 without pixels when zero */
    const char *reply;              /* written reply_ms after the DA1 query (NULL: never) */
    int reply_ms;
    struct winsize resize; /* set resize_ms after the start (0: never): SIGWINCH */
    int resize_ms;
    const char *resize_after; /* and not before the output shows this (NULL: no wait) */
    const char *keys;         /* typed keys_ms after the start (0: never) */
    int keys_ms;
    const char *keys_after; /* and not before this shows after the resize (NULL: no wait) */
    int quiet_ms;           /* the resize and the keys also wait until the program has
                                 written nothing for this long (a whole frame is out) */
    /* what happened */
    size_t reply_at, resize_at; /* offsets in the output when they were done */
    int alive_at_keys;          /* the program still ran when the keys were typed */
} session;

/* Runs `sfnet-explore DB arg1 arg2 arg3` as s says; returns everything the
 * program wrote (malloc'd), NULL when there is no binary. Fails the test
 * unless the program exits with 0 within 20 s. */
static char *run_explorer(session *s) {
    static char bin[1024];
    if (!explorer_ready(bin, sizeof bin)) return NULL;
    int master;
    struct winsize ws = s->size.ws_row ? s->size : (struct winsize){.ws_row = 40, .ws_col = 120};
    pid_t pid = forkpty(&master, NULL, NULL, &ws);
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        char *env[] = {"TERM=xterm-256color", "ASAN_OPTIONS=detect_leaks=0", NULL};
        char *argv[] = {bin, dump_db, (char *)s->arg1, (char *)s->arg2, (char *)s->arg3, NULL};
        execve(bin, argv, env);
        _exit(127);
    }
    size_t cap = 1 << 22, n = 0;
    char *out = xcalloc(1, cap);
    double t0 = sf_now(), t_query = 0, t_output = t0;
    int replied = 0, typed = 0, resized = 0;
    s->reply_at = s->resize_at = 0;
    s->alive_at_keys = 0;
    for (;;) {
        double now = sf_now();
        if (now - t0 > 20) break;
        int quiet = now - t_output >= s->quiet_ms / 1000.0;
        if (!t_query && memmem(out, n, "\x1b[c", 3)) t_query = now;
        if (t_query && s->reply && !replied && now >= t_query + s->reply_ms / 1000.0) {
            replied = 1;
            s->reply_at = n;
            cr_assert_eq(write(master, s->reply, strlen(s->reply)), (ssize_t)strlen(s->reply));
        }
        if (s->resize_ms && !resized && quiet && now >= t0 + s->resize_ms / 1000.0 &&
            (!s->resize_after || memmem(out, n, s->resize_after, strlen(s->resize_after)))) {
            resized = 1;
            s->resize_at = n;
            cr_assert_eq(ioctl(master, TIOCSWINSZ, &s->resize), 0);
        }
        const char *after = s->keys_after;
        if (s->keys_ms && !typed && quiet && now >= t0 + s->keys_ms / 1000.0 &&
            (!s->resize_ms || resized) &&
            (!after || memmem(out + s->resize_at, n - s->resize_at, after, strlen(after)))) {
            typed = 1;
            s->alive_at_keys = waitpid(pid, NULL, WNOHANG) == 0;
            cr_assert_eq(write(master, s->keys, strlen(s->keys)), (ssize_t)strlen(s->keys));
        }
        struct pollfd pfd = {.fd = master, .events = POLLIN};
        if (poll(&pfd, 1, 10) < 0) break;
        if (pfd.revents & POLLIN) {
            ssize_t r = read(master, out + n, cap - 1 - n);
            if (r <= 0) break; /* EIO once the program has exited */
            n += (size_t)r;
            t_output = sf_now();
        } else if (pfd.revents & (POLLHUP | POLLERR)) {
            break;
        }
    }
    int status;
    pid_t done = 0;
    for (int i = 0; i < 500 && (done = waitpid(pid, &status, WNOHANG)) == 0; i++) usleep(10000);
    if (done == 0) { /* never let a stuck explorer hang the suite */
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        cr_assert_fail("the explorer was still running after 20 s:\n%s", out);
    }
    close(master);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "exit status %d:\n%s", status, out);
    return out;
}

/* `sfnet-explore DB --dump-detect [extra]` on a terminal answering `reply` at once. */
static char *dump_detect(const char *reply, const char *extra) {
    session s = {.arg1 = "--dump-detect", .arg2 = extra, .reply = reply};
    return run_explorer(&s);
}

static void dump_cleanup(void) {
    if (dump_dir[0]) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dump_dir);
        cr_assert_eq(system(cmd), 0);
    }
}

TestSuite(probe_dump, .fini = dump_cleanup);

Test(probe_dump, explorer_reports_what_the_terminal_said) {
    char *out = dump_detect("\x1b[6;20;10t\x1b[?63;1;2;4;6;9;15;22c", NULL);
    if (!out) {
        cr_skip_test("no sfnet-explore binary (set SFNET_BIN or build first): skipped");
        return;
    }
    cr_assert(strstr(out, "probe: kitty graphics query, cell size and DA1; answered in"), "%s",
              out);
    cr_assert(strstr(out, "replies: \\e[6;20;10t\\e[?63;1;2;4;6;9;15;22c"), "%s", out);
    cr_assert(strstr(out, "graphics: sixel: the terminal's DA1 reply lists attribute 4"), "%s",
              out);
    cr_assert(strstr(out, "cell: 10x20 px (the terminal's reply to CSI 16 t)"), "%s", out);
    free(out);

    out = dump_detect(NULL, NULL);
    cr_assert(strstr(out, "no DA1 reply in"), "%s", out);
    cr_assert(strstr(out, "replies: none"), "%s", out);
    cr_assert(strstr(out, "graphics: symbols"), "%s", out);
    cr_assert(strstr(out, "cell: 10x20 px (guessed"), "%s", out);
    free(out);

    out = dump_detect("\x1b_Gi=31;OK\x1b\\\x1b[6;20;10t\x1b[?62;c", "--cell-size=7x15");
    cr_assert(strstr(out, "graphics: kitty: the terminal answered"), "%s", out);
    cr_assert(strstr(out, "cell: 7x15 px (--cell-size)"), "%s", out);
    free(out);

    out = dump_detect(NULL, "--graphics=symbols");
    cr_assert(strstr(out, "probe: not needed: thumbnails are symbols"), "%s", out);
    cr_assert_null(strstr(out, "\x1b["), "no query written: %s", out);
    free(out);
}

/* A terminal that answers after the probe gave up (a slow ssh link): its
 * replies reach curses, and must not be taken for Esc, '[', '?' and letters,
 * which would leave the feature page, open the help or quit. */
Test(probe_dump, late_replies_are_not_keys) {
    const char *late = "\x1b_Gi=31;OK\x1b\\\x1b[6;20;10t\x1b[?63;1;2;4;6;9;15;22c";
    session s = {.arg1 = "--feature",
                 .arg2 = "3",
                 .reply = late,
                 .reply_ms = 600,
                 .keys = "Q",
                 .keys_ms = 2500};
    char *out = run_explorer(&s);
    if (!out) {
        cr_skip_test("no sfnet-explore binary (set SFNET_BIN or build first): skipped");
        return;
    }
    size_t at = s.reply_at;
    cr_assert_gt(at, 0, "the reply was sent");
    cr_assert(s.alive_at_keys, "the explorer still ran when Q was typed:\n%s", out + at);
    cr_assert_null(strstr(out + at, "does nothing here"), "a reply was read as keys:\n%s",
                   out + at);
    cr_assert_null(strstr(out + at, "Help: sfnet-explore"), "its '?' opened the help:\n%s",
                   out + at);
    cr_assert_null(strstr(out + at, "\x1bP"),
                   "no sixel image: the mode was chosen without the reply");
    free(out);
    /* and Esc still works after the probe gave up: back from the feature page, then quit */
    session esc = {.arg1 = "--feature", .arg2 = "3", .keys = "\x1b\x1b", .keys_ms = 1500};
    out = run_explorer(&esc);
    cr_assert(esc.alive_at_keys);
    free(out);
}

/* The sixel raster size ("Pan;Pad;width;height) of the first image at or after from. */
static int sixel_width(const char *out, size_t from) {
    const char *dcs = strstr(out + from, "\x1bP");
    if (!dcs) return -1;
    const char *ra = strchr(dcs, '"');
    int pan, pad, w, h;
    if (!ra || sscanf(ra, "\"%d;%d;%d;%d", &pan, &pad, &w, &h) != 4) return -1;
    return w;
}

/* A font zoom: the same rows and columns, twice the pixels. The cell size is
 * read again on the resize and the images are drawn again at the new size;
 * a cell size given by hand stays. The resize waits until the first frame is
 * out, and Q until the frame after the resize is (a loaded machine can take
 * longer than the fixed delays to write a frame of sixel images). */
Test(probe_dump, font_zoom_redraws_pixel_images) {
    session s = {.arg1 = "--graphics=sixel",
                 .arg2 = "--feature=3",
                 .size = {.ws_row = 40, .ws_col = 120, .ws_xpixel = 1200, .ws_ypixel = 800},
                 .reply = "\x1b[?63;1;2;4;6;9;15;22c",
                 .resize = {.ws_row = 40, .ws_col = 120, .ws_xpixel = 2400, .ws_ypixel = 1600},
                 .resize_ms = 500,
                 .resize_after = "\x1bP",
                 .keys = "Q",
                 .keys_ms = 1000,
                 .keys_after = "\x1bP",
                 .quiet_ms = 300};
    char *out = run_explorer(&s);
    if (!out) {
        cr_skip_test("no sfnet-explore binary (set SFNET_BIN or build first): skipped");
        return;
    }
    int before = sixel_width(out, 0), after = sixel_width(out, s.resize_at);
    cr_assert_gt(before, 0, "a sixel image before the zoom");
    cr_assert_eq(after, 2 * before, "images twice as wide after it: %d then %d px", before, after);
    free(out);
    session fixed = s;
    fixed.arg3 = "--cell-size=10x20";
    out = run_explorer(&fixed);
    before = sixel_width(out, 0);
    after = sixel_width(out, fixed.resize_at);
    cr_assert_gt(before, 0);
    cr_assert(after == -1 || after == before, "a size given by hand stays: %d then %d px", before,
              after);
    free(out);
}

/* ---- a fatal error gives the terminal back ---- */

/* `stty -a` of the terminal at path. */
static char *stty_of(const char *path) {
    char cmd[256];
    snprintf(cmd, sizeof cmd, "stty -a < '%s' 2>&1", path);
    FILE *f = popen(cmd, "r");
    cr_assert_not_null(f);
    char *text = xcalloc(1, 8192);
    size_t n = fread(text, 1, 8191, f);
    text[n] = 0;
    cr_assert_eq(pclose(f), 0, "stty failed: %s", text);
    return text;
}

/* The explorer on a pseudo terminal with $SFNET_TEST_DIE=where: it must die of its
 * assertion (abort) with the terminal settings as they were before it started. */
static void die_at(const char *where, const char *must_have, const char *what) {
    static char bin[1024];
    if (!explorer_ready(bin, sizeof bin)) {
        cr_skip_test("no sfnet-explore binary (set SFNET_BIN or build first): skipped");
        return;
    }
    int master, slave;
    struct winsize ws = {.ws_row = 40, .ws_col = 120};
    cr_assert_eq(openpty(&master, &slave, NULL, NULL, &ws), 0);
    char name[128];
    cr_assert_eq(ttyname_r(slave, name, sizeof name), 0);
    char *before = stty_of(name);
    char env_die[64];
    snprintf(env_die, sizeof env_die, "SFNET_TEST_DIE=%s", where);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        setsid();
        ioctl(slave, TIOCSCTTY, 0);
        dup2(slave, 0);
        dup2(slave, 1);
        dup2(slave, 2);
        close(master);
        close(slave);
        char *env[] = {"TERM=xterm-256color", "ASAN_OPTIONS=detect_leaks=0", env_die, NULL};
        char *argv[] = {bin, dump_db, NULL};
        execve(bin, argv, env);
        _exit(127);
    }
    size_t cap = 1 << 20, n = 0;
    char *out = xcalloc(1, cap);
    int status = 0;
    pid_t done = 0;
    double t0 = sf_now();
    while (sf_now() - t0 < 20 && (done = waitpid(pid, &status, WNOHANG)) == 0) {
        struct pollfd pfd = {.fd = master, .events = POLLIN};
        if (poll(&pfd, 1, 10) > 0 && (pfd.revents & POLLIN)) {
            ssize_t r = read(master, out + n, cap - 1 - n);
            if (r > 0) n += (size_t)r;
        }
    }
    if (done == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        cr_assert_fail("the explorer was still running after 20 s:\n%s", out);
    }
    /* what is left (the slave stays open here: no EOF, so poll rather than block) */
    for (struct pollfd pfd = {.fd = master, .events = POLLIN};
         poll(&pfd, 1, 100) > 0 && (pfd.revents & POLLIN);) {
        ssize_t r = read(master, out + n, cap - 1 - n);
        if (r <= 0) break;
        n += (size_t)r;
    }
    char *after = stty_of(name);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT,
              "the explorer should have aborted (status %d):\n%s", status, out);
    cr_assert(strstr(out, "assertion 'SFNET_TEST_DIE is not set here' failed"), "%s", out);
    cr_assert(memmem(out, n, must_have, strlen(must_have)), "%s had not begun:\n%s", what, out);
    cr_assert_str_eq(after, before, "stty -a after dying in %s differs from before", what);
    free(before);
    free(after);
    free(out);
    close(master);
    close(slave);
}

Test(probe_dump, a_fatal_error_in_the_probe_restores_the_terminal) {
    die_at("probe", "\x1b[c", "the probe (raw mode, DA1 sent)");
}

Test(probe_dump, a_fatal_error_in_the_explorer_restores_the_terminal) {
    die_at("explorer", "\x1b[?1049h", "curses (the alternate screen)");
}
