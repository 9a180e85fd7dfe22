/* tui_probe.h: asking the explorer's terminal, before curses starts, what it draws
 * and how big its cells are (tui_probe.c; tui_thumb.h decides from the answers).
 *
 * Asking the terminal (thumb_probe_run, before curses starts, only when stdin
 * and stdout are terminals): raw mode, then the kitty graphics query
 * (ESC _G i=31,a=q ... ESC \), CSI 16 t (cell size), CSI 14 t (text area in
 * pixels) and DA1 (CSI c) last. Terminals answer in order, so the DA1 reply
 * ends the wait; a terminal that answers nothing costs the timeout
 * (THUMB_PROBE_TIMEOUT_MS) and leaves nothing behind. The terminal settings
 * and the signal mask are restored on every path. The replies are parsed by
 * thumb_probe_parse, a pure function of the bytes read. The kitty query is
 * not sent inside tmux or GNU screen (they take an APC string as a title) nor
 * on the Linux console (it prints it); nothing is sent for TERM=dumb.
 */
#ifndef SF_TUI_PROBE_H
#define SF_TUI_PROBE_H

#include <stddef.h>

#define THUMB_PROBE_TIMEOUT_MS 150
/* Queries of a probe: CSI 16 t, CSI 14 t and DA1; the kitty graphics query. */
enum { THUMB_PROBE_CELL = 1, THUMB_PROBE_KITTY = 2 };

typedef struct {
    /* what thumb_probe_run did */
    int ran;       /* the queries were written */
    int queries;   /* THUMB_PROBE_* sent */
    double ms;     /* time spent in thumb_probe_run */
    char raw[512]; /* bytes read (the first 512), not NUL-terminated */
    size_t raw_len;
    int ws_cols, ws_rows; /* TIOCGWINSZ when probing (0: unknown) */
    /* what thumb_probe_parse found in raw */
    int answered;       /* the DA1 reply came: every reply before it is in */
    int da1[16], n_da1; /* its parameters (the first is the terminal class) */
    int sixel;          /* DA1 lists attribute 4 */
    int kitty;          /* the kitty query came back OK before the DA1 reply */
    int kitty_replied;  /* it came back at all (OK or an error) */
    int cell_w, cell_h; /* CSI 6 ; h ; w t, the reply to CSI 16 t (0: none) */
    int win_w, win_h;   /* CSI 4 ; h ; w t, the reply to CSI 14 t (0: none) */
    size_t garbage;     /* bytes that belonged to no reply (typed keys, noise) */
} thumb_probe;

/* Probes the terminal on in_fd (replies) and out_fd (queries), both terminals,
 * for at most timeout_ms. Fills *p (zeroed first). Returns SF_OK when the
 * queries were written (p->answered says whether the terminal answered), or
 * SF_ERR with a message when the terminal could not be set up (then nothing
 * was written). Terminal settings and the signal mask are restored on every
 * path; blocked INT, TERM, HUP, QUIT, TSTP, TTIN and TTOU arrive afterwards. */
int thumb_probe_run(thumb_probe *p, int in_fd, int out_fd, int queries, int timeout_ms);

/* Puts back the terminal settings a probe running now has changed (nothing when no
 * probe is in raw mode): for the explorer's die hook (sf_util.h), when a fatal error
 * stops the program in the middle of a probe. */
void thumb_probe_restore_terminal(void);

/* Parses len bytes of replies into p's reply fields (reset first; ran, ms,
 * raw and ws_* are left alone). Complete replies anywhere in buf count, up to
 * the first DA1 reply; a reply cut at the end of buf is left for a longer
 * buf; bytes of no reply are counted as garbage. Returns 1 when the DA1 reply
 * is complete (p->answered), 0 otherwise. */
int thumb_probe_parse(thumb_probe *p, const char *buf, size_t len);

/* The bytes read, printable (ESC as \e, other controls as ^X), into out. */
void thumb_probe_describe(const thumb_probe *p, char *out, size_t n);

/* After a probe that got no DA1 reply, replies may still be on their way:
 * drops the terminal's pending input on in_fd (call just before curses takes
 * the terminal). Does nothing after an answered probe. */
void thumb_probe_flush(int in_fd, const thumb_probe *p);

#endif
