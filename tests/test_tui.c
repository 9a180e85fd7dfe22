/* test_tui.c: the explorer driven through tmux: every screen and key, checked
 * against the run database's own answers. Each test starts its own tmux server
 * (a unique -L socket) running $SFNET_BIN on a database it builds, sends keys,
 * reads the screen with capture-pane and kills the server at the end. */
#include <criterion/criterion.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "query.h"
#include "sf_util.h"
#include "store.h"
#include "store_fixture.h"
#include "tui_fixture.h"

static char dir[64], db[128], sock[64], bin[1024];
static int have_tmux, n_servers;

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...) {
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    return system(cmd);
}

static void setup(void) {
    strcpy(dir, "/tmp/sfnet-tui-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(db, sizeof db, "%s/run.db", dir);
    cr_assert_eq(tfx_make(db), SF_OK, "%s", sf_last_error());
    n_servers = 0;
    const char *b = getenv("SFNET_BIN");
    if (b) snprintf(bin, sizeof bin, "%s", b);
    else if (realpath("build/sfnet-explore", bin) == NULL) bin[0] = 0;
    have_tmux = sh("command -v tmux >/dev/null 2>&1") == 0;
}

static void teardown(void) {
    for (int i = 0; have_tmux && i < n_servers; i++) {
        sh("tmux -L sfnet-tui-%d-%d kill-server >/dev/null 2>&1", (int)getpid(), i);
        sh("rm -f \"${TMUX_TMPDIR:-/tmp}/tmux-$(id -u)/sfnet-tui-%d-%d\"", (int)getpid(), i);
    }
    sh("rm -rf '%s'", dir);
}

static int ready(void) {
    if (!have_tmux) {
        cr_skip_test("tmux is not installed: the explorer's screen tests are skipped");
        return 0;
    }
    if (!bin[0] || access(bin, X_OK) != 0) {
        cr_skip_test("no sfnet-explore binary (set SFNET_BIN or build first): skipped");
        return 0;
    }
    return 1;
}

/* The screen as text (malloc'd). */
static char *screen(void) {
    char cmd[256];
    snprintf(cmd, sizeof cmd, "tmux -L %s capture-pane -p 2>/dev/null", sock);
    FILE *p = popen(cmd, "r");
    size_t cap = 1 << 16, n = 0;
    char *s = xmalloc(cap);
    size_t got;
    while ((got = fread(s + n, 1, cap - n - 1, p)) > 0) {
        n += got;
        if (n + 1 >= cap) s = xrealloc(s, cap *= 2);
    }
    s[n] = 0;
    pclose(p);
    return s;
}

/* Waits (up to 40 s: the sanitizer build on a loaded machine) until the screen contains want;
 * returns the screen (malloc'd). */
static char *wait_for(const char *want) {
    char *prev = NULL;
    for (int i = 0; i < 400; i++) {
        char *s = screen();
        /* the text is there and the screen has settled (no frame half drawn) */
        if (strstr(s, want) && prev && !strcmp(prev, s)) {
            free(prev);
            return s;
        }
        free(prev);
        prev = s;
        usleep(100000);
    }
    cr_assert_fail("the screen never showed \"%s\"; it shows:\n%s", want, prev);
    return prev;
}

/* Starts the explorer in a new tmux server (its own socket) on the database db. */
static void start_db(int w, int h, const char *env, const char *args, const char *dbpath) {
    snprintf(sock, sizeof sock, "sfnet-tui-%d-%d", (int)getpid(), n_servers++);
    int rc = -1;
    /* a busy machine can make tmux's first start fail: try a few times */
    for (int attempt = 0; attempt < 5 && rc != 0; attempt++) {
        if (attempt) usleep(300000);
        rc = sh(
            "cd '%s' && tmux -L %s new-session -d -x %d -y %d \"env %s ASAN_OPTIONS=detect_leaks=0 "
            "'%s' '%s' %s; sleep 30\" 2>>'%s/tmux.log'",
            dir, sock, w, h, env ? env : "", bin, dbpath, args ? args : "", dir);
    }
    cr_assert_eq(rc, 0, "tmux new-session failed (see %s/tmux.log)", dir);
}

static void start(int w, int h, const char *env, const char *args) {
    start_db(w, h, env, args, db);
}

/* Sends tmux key names (space separated, as send-keys takes them). */
static void keys(const char *k) { sh("tmux -L %s send-keys %s", sock, k); }
/* Sends literal text. */
static void text(const char *t) { sh("tmux -L %s send-keys -l '%s'", sock, t); }

static int count(const char *hay, const char *needle) {
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p++) n++;
    return n;
}

TestSuite(tui, .init = setup, .fini = teardown, .timeout = 400);

Test(tui, feature_list_matches_the_store) {
    if (!ready()) return;
    start(120, 40, NULL, NULL);
    char *s = wait_for("SL 3");
    store *st;
    cr_assert_eq(store_open(&st, db, STORE_READ), SF_OK);
    store_run run;
    cr_assert_eq(store_run_find(st, "SL", &run), SF_OK);
    store_feature *f;
    int nf;
    cr_assert_eq(store_features(st, run.id, STORE_SORT_FREQUENCY, 0, &f, &nf), SF_OK);
    cr_assert_eq(nf, 12);
    char want[128];
    snprintf(want, sizeof want, "%d live features of %d, %d dead", nf, run.d, run.d - nf);
    cr_assert(strstr(s, want), "header \"%s\" in:\n%s", want, s);
    for (int i = 0; i < nf; i++) {
        snprintf(want, sizeof want, "SL %-5d", f[i].feature);
        const char *row = strstr(s, want);
        cr_assert(row, "row of SL %d in:\n%s", f[i].feature, s);
        char nums[128];
        snprintf(nums, sizeof nums, "%7d %5.1f%%", f[i].n_active, 100 * f[i].f_activated);
        const char *eol = strchr(row, '\n');
        cr_assert(strstr(row, nums) && strstr(row, nums) < eol, "SL %d: \"%s\" in the row",
                  f[i].feature, nums);
        snprintf(nums, sizeof nums, "%8.3f %8.3f", f[i].max, f[i].mean);
        cr_assert(strstr(row, nums) && strstr(row, nums) < eol, "SL %d: max/mean \"%s\"",
                  f[i].feature, nums);
    }
    /* the first row is the most frequent feature, dead ones are hidden */
    cr_assert(strstr(s, "SL 3 ") < strstr(s, "SL 4 "));
    cr_assert_null(strstr(s, "SL 40 "));
    free(s);
    keys("z");
    s = wait_for("dead shown");
    cr_assert(strstr(s, "SL 12 "), "dead features appear with z:\n%s", s);
    free(s);
    free(f);
    store_run_clear(&run);
    store_close(st);
}

Test(tui, feature_page_bpt_histogram_thumbnails) {
    if (!ready()) return;
    start(120, 40, NULL, NULL);
    free(wait_for("SL 3"));
    keys("Enter");
    char *s = wait_for("top ");
    cr_assert(strstr(s, "log([NII]/H\xce\xb1)"), "%s", s);
    cr_assert(strstr(s, "log([OIII]/H\xce\xb2)"), "%s", s);
    cr_assert(strstr(s, "-1.5") && strstr(s, "0.5"), "BPT ticks:\n%s", s);
    cr_assert(strstr(s, "samples at activation quantiles"), "%s", s);
    cr_assert(strstr(s, "scaled activation A"), "histogram axis:\n%s", s);
    cr_assert(strstr(s, "galaxies"), "%s", s);
    store *st;
    cr_assert_eq(store_open(&st, db, STORE_READ), SF_OK);
    store_run run;
    cr_assert_eq(store_run_find(st, "SL", &run), SF_OK);
    store_feature f;
    cr_assert_eq(store_feature_get(st, run.id, 3, &f), SF_OK);
    char want[128];
    snprintf(want, sizeof want, "active in %d galaxies, %d of %d validation", f.n_active,
             f.n_active_valid, run.n_valid);
    cr_assert(strstr(s, want), "\"%s\" in:\n%s", want, s);
    snprintf(want, sizeof want, "nii_6584 %+.3f (%+.2f)", f.weight[0], f.pearson[0]);
    cr_assert(strstr(s, want), "\"%s\" in:\n%s", want, s);
    query_equation eq;
    cr_assert_eq(query_equation_compute(st, run.id, &eq), SF_OK);
    for (int i = 0; i < eq.n_terms; i++)
        if (eq.terms[i].feature == 3) {
            snprintf(want, sizeof want, "mean w'A to %s %+.4f", eq.target_names[0],
                     eq.terms[i].mean_contrib[0]);
            cr_assert(strstr(s, want), "share of the prediction \"%s\":\n%s", want, s);
        }
    query_equation_clear(&eq);
    store_hit *top;
    int nt;
    cr_assert_eq(store_top(st, run.id, 3, 1, -1, &top, &nt), SF_OK);
    const char *id = top[0].objid;
    cr_assert(strstr(s, id + strlen(id) - 12), "top galaxy %s on screen:\n%s", id, s);
    snprintf(want, sizeof want, "%.3f A=", top[0].value);
    cr_assert(strstr(s, want), "its activation \"%s\":\n%s", want, s);
    /* braille dots in the scatter, block symbols of the thumbnails */
    cr_assert(strstr(s, "\xe2\xa0") || strstr(s, "\xe2\xa1") || strstr(s, "\xe2\xa2") ||
              strstr(s, "\xe2\xa3"));
    cr_assert(strstr(s, "\xe2\x96"), "block symbols:\n%s", s);
    free(s);

    /* + zooms the scatter (the axes narrow), 0 resets */
    keys("+");
    s = wait_for("scatter zoom x1.50");
    free(s);
    keys("0");
    free(wait_for("-1.5"));
    /* ] and [ step through the list order, q goes back */
    keys("']'");
    s = wait_for("SL 4  (no label");
    free(s);
    keys("'['");
    free(wait_for("SL 3  (no label"));
    /* Enter opens the selected (top) galaxy */
    keys("Enter");
    s = wait_for("predicted");
    cr_assert(strstr(s, id), "galaxy page of %s:\n%s", id, s);
    store_galaxy_run gr;
    cr_assert_eq(store_galaxy_in_run(st, run.id, top[0].galaxy_id, &gr), SF_OK);
    snprintf(want, sizeof want, "%10.4f %10.4f", gr.pred[0], gr.truth[0]);
    cr_assert(strstr(s, want), "prediction and truth \"%s\":\n%s", want, s);
    snprintf(want, sizeof want, "%d active features", gr.n_active);
    cr_assert(strstr(s, want), "%s", s);
    snprintf(want, sizeof want, "(stored prediction %.4f)", gr.pred[0]);
    cr_assert(strstr(s, want), "waterfall sums to the prediction:\n%s", s);
    free(s);
    keys("l");
    s = wait_for("contributions to log_h_alpha");
    free(s);
    keys("q q");
    free(wait_for("sorted by frequency"));
    store_galaxy_run_clear(&gr);
    free(top);
    store_run_clear(&run);
    store_close(st);
}

Test(tui, tab_switches_runs_and_metallicity_plot) {
    if (!ready()) return;
    start(120, 40, NULL, NULL);
    free(wait_for("[SL]"));
    keys("Tab");
    char *s = wait_for("[Z]");
    cr_assert(strstr(s, "Z 3 "), "%s", s);
    cr_assert(strstr(s, "6 live features of 64"), "%s", s);
    free(s);
    keys("Enter");
    s = wait_for("BPT, 60 validation galaxies");
    cr_assert(strstr(s, "head w (r): oh_p50 "), "%s", s);
    free(s);
    keys("Tab");
    free(wait_for("[SL]"));
}

Test(tui, equation_view_matches_the_head) {
    if (!ready()) return;
    start(120, 40, NULL, NULL);
    free(wait_for("SL 3"));
    keys("E");
    char *s = wait_for("Equation of run SL");
    store *st;
    cr_assert_eq(store_open(&st, db, STORE_READ), SF_OK);
    store_run run;
    cr_assert_eq(store_run_find(st, "SL", &run), SF_OK);
    char want[128];
    snprintf(want, sizeof want, "log_nii_6584 = %.4f",
             run.target_mean[0] + run.target_std[0] * run.bias[0]);
    cr_assert(strstr(s, want), "\"%s\" in:\n%s", want, s);
    query_equation eq;
    cr_assert_eq(query_equation_compute(st, run.id, &eq), SF_OK);
    for (int i = 0; i < eq.n_terms; i++) {
        if (eq.terms[i].feature != 3) continue;
        snprintf(want, sizeof want, "+ %.4f\xc2\xb7[SL 3]", eq.terms[i].coef[0]);
        cr_assert(strstr(s, want), "term \"%s\" in:\n%s", want, s);
        snprintf(want, sizeof want, "SL 3     %+11.4f %+11.4f", eq.terms[i].coef[0],
                 eq.terms[i].mean_contrib[0]);
        cr_assert(strstr(s, want), "table row \"%s\" in:\n%s", want, s);
    }
    snprintf(want, sizeof want, "all %d: %.4f", eq.n_terms, eq.rmse_t[eq.n_levels - 1][0]);
    cr_assert(strstr(s, want), "RMSE with every feature \"%s\":\n%s", want, s);
    query_equation_clear(&eq);
    free(s);
    keys("l");
    s = wait_for("target 2 of 4: log_h_alpha");
    snprintf(want, sizeof want, "log_h_alpha = %.4f",
             run.target_mean[1] + run.target_std[1] * run.bias[1]);
    cr_assert(strstr(s, want), "\"%s\" in:\n%s", want, s);
    free(s);
    keys("h g Enter");
    free(wait_for("SL 3  (no label"));
    store_run_clear(&run);
    store_close(st);
}

Test(tui, jump_search_label_help) {
    if (!ready()) return;
    start(120, 40, NULL, NULL);
    free(wait_for("SL 3"));
    keys(":");
    text("SL 7");
    keys("Enter");
    free(wait_for("SL 7  (no label"));
    keys("L");
    free(wait_for("label for SL 7"));
    text("agn side");
    keys("Enter");
    free(wait_for("label 'agn side'"));
    keys("q");
    free(wait_for("sorted by"));
    keys("g /");
    text("agn");
    keys("Enter");
    char *s = wait_for("/agn: SL 7");
    free(s);
    keys("Enter");
    free(wait_for("\xe2\x80\x9c"
                  "agn side"
                  "\xe2\x80\x9d"));
    keys("q '?'");
    s = wait_for("Help: sfnet-explore keys");
    const char *lines[] = {"switch to the next run",
                           "previous / next feature",
                           "search a feature number",
                           "jump to a feature",
                           "export the feature",
                           "this help",
                           "page down",
                           "first / last"};
    for (size_t i = 0; i < sizeof lines / sizeof *lines; i++)
        cr_assert(strstr(s, lines[i]), "help: %s\n%s", lines[i], s);
    free(s);
    keys("j j j j j j j j j j j j j j j j");
    s = wait_for("Galaxy page");
    free(s);
    keys("x");
    s = wait_for("sorted by");
    cr_assert_null(strstr(s, "Help: sfnet"));
    free(s);
    /* a galaxy by objID */
    keys(":");
    text("1237600000000001010");
    keys("Enter");
    s = wait_for("predicted");
    cr_assert(strstr(s, "1237600000000001010"), "%s", s);
    free(s);
    keys("Q");
    usleep(300000);
    store *st;
    cr_assert_eq(store_open(&st, db, STORE_READ), SF_OK);
    store_run run;
    cr_assert_eq(store_run_find(st, "SL", &run), SF_OK);
    store_feature f;
    cr_assert_eq(store_feature_get(st, run.id, 7, &f), SF_OK);
    cr_assert_str_eq(f.label, "agn side", "the label is stored");
    store_run_clear(&run);
    store_close(st);
}

Test(tui, resize_and_small_terminal) {
    if (!ready()) return;
    start(120, 40, NULL, NULL);
    free(wait_for("SL 3"));
    sh("tmux -L %s resize-window -x 80 -y 24", sock);
    char *s = wait_for("SL 11");
    /* every line fits in 80 columns */
    for (char *line = strtok(s, "\n"); line; line = strtok(NULL, "\n")) {
        size_t cols = 0;
        for (const char *p = line; *p; p++) cols += ((unsigned char)*p & 0xC0) != 0x80;
        cr_assert_leq(cols, 80, "line too wide after resize: %s", line);
    }
    free(s);
    sh("tmux -L %s resize-window -x 40 -y 12", sock);
    free(wait_for("Terminal too small (40x12)"));
    sh("tmux -L %s resize-window -x 120 -y 40", sock);
    s = wait_for("sorted by frequency");
    cr_assert_null(strstr(s, "too small"));
    free(s);
    keys("Enter");
    free(wait_for("log([NII]"));
    sh("tmux -L %s resize-window -x 90 -y 30", sock);
    free(wait_for("log([NII]"));
}

Test(tui, starts_small_at_feature_and_galaxy) {
    if (!ready()) return;
    start(40, 12, NULL, NULL);
    free(wait_for("too small"));
    /* a database without line fluxes: the Z feature plots activation against oh_p50 */
    char nofl[160];
    snprintf(nofl, sizeof nofl, "%s/z.db", dir);
    cr_assert_eq(tfx_make_opt(nofl, 0), SF_OK, "%s", sf_last_error());
    start_db(120, 40, NULL, "--feature 'Z 3'", nofl);
    char *s = wait_for("activation vs target");
    cr_assert(strstr(s, "oh_p50 (true)"), "%s", s);
    cr_assert_null(strstr(s, "[NII]"), "%s", s);
    cr_assert(strstr(s, "[Z]") && strstr(s, "Z 3  "), "%s", s);
    free(s);
    start(120, 40, NULL, "--galaxy 1237600000000001001");
    s = wait_for("predicted");
    cr_assert(strstr(s, "1237600000000001001"), "%s", s);
    free(s);
}

Test(tui, no_color_uses_plain_glyphs_and_export_key) {
    if (!ready()) return;
    start(120, 40, "NO_COLOR=1", NULL);
    free(wait_for("SL 3"));
    keys("Enter");
    char *s = wait_for("log([NII]");
    for (unsigned c = 0xA0; c <= 0xA3; c++) {
        char braille[3] = {(char)0xE2, (char)c, 0};
        cr_assert_null(strstr(s, braille), "no braille under NO_COLOR:\n%s", s);
    }
    cr_assert(strstr(s, "#") || strstr(s, "*"), "glyph points:\n%s", s);
    free(s);
    keys("e");
    free(wait_for("wrote SL_3.png"));
    char png[160];
    snprintf(png, sizeof png, "%s/SL_3.png", dir);
    struct stat stt;
    cr_assert_eq(stat(png, &stt), 0, "the export is in the working directory");
    cr_assert_gt(stt.st_size, 10000);
}

Test(tui, pixel_graphics_modes_keep_the_text) {
    if (!ready()) return;
    /* tmux drops the images, but the frame, the cells under them and the keys work */
    start(120, 40, NULL, "--graphics kitty");
    free(wait_for("SL 3"));
    keys("Enter");
    char *s = wait_for("log([NII]");
    cr_assert(strstr(s, "samples at activation quantiles"), "%s", s);
    free(s);
    keys("q");
    free(wait_for("sorted by"));
    start(120, 40, NULL, "--graphics sixel");
    free(wait_for("SL 3"));
    keys("Enter");
    free(wait_for("log([NII]"));
    keys("t");
    free(wait_for("thumbnails: none"));
    keys("t");
    free(wait_for("thumbnails: symbols"));
}

Test(tui, eight_and_direct_colour_terminals) {
    if (!ready()) return;
    const char *terms[] = {"TERM=xterm", "TERM=xterm-direct",
                           "TERM=xterm-256color COLORTERM=truecolor"};
    for (int i = 0; i < 3; i++) {
        start(120, 40, terms[i], NULL);
        free(wait_for("SL 3"));
        keys("Enter");
        char *s = wait_for("log([NII]");
        cr_assert(strstr(s, "\xe2\xa0") || strstr(s, "\xe2\xa1") || strstr(s, "\xe2\xa2") ||
                      strstr(s, "\xe2\xa3"),
                  "%s: braille plot:\n%s", terms[i], s);
        free(s);
    }
}

/* Mouse events in the X10 encoding (ESC [ M, then button, column, row as 32 + value,
 * 33 + 0-based position): what the terminal would send, typed into the pane. */
Test(tui, mouse_wheel_and_click) {
    if (!ready()) return;
    start(120, 40, NULL, NULL);
    free(wait_for("SL 3"));
    sh("tmux -L %s send-keys -l \"$(printf '\\033[Ma++')\"", sock); /* wheel down */
    free(wait_for("key j"));
    /* row 7 of the screen is the fifth feature of the list (rows start at 3) */
    char *s = screen();
    const char *rows = s;
    for (int i = 0; i < 7; i++) rows = strchr(rows, '\n') + 1;
    char name[16];
    cr_assert_eq(sscanf(rows, " SL %15s", name), 1, "%s", s);
    free(s);
    for (int i = 0; i < 2; i++) { /* a click selects, the second opens */
        sh("tmux -L %s send-keys -l \"$(printf '\\033[M +(')\"", sock);
        sh("tmux -L %s send-keys -l \"$(printf '\\033[M#+(')\"", sock);
        usleep(400000);
    }
    char want[48];
    snprintf(want, sizeof want, "SL %s  (no label", name);
    free(wait_for(want));
}

/* The marks of run SL in db, as "f3 g1237600000000001010 ..." for messages and checks. */
static void marks_text(const char *path, char *out, size_t n) {
    store *st;
    cr_assert_eq(store_open(&st, path, STORE_READ), SF_OK, "%s", sf_last_error());
    store_run run;
    cr_assert_eq(store_run_find(st, "SL", &run), SF_OK);
    store_mark *m;
    int nm;
    cr_assert_eq(store_marks(st, run.id, &m, &nm), SF_OK, "%s", sf_last_error());
    out[0] = 0;
    for (int i = 0; i < nm; i++) {
        size_t len = strlen(out);
        if (m[i].feature >= 0) snprintf(out + len, n - len, "%sf%d", i ? " " : "", m[i].feature);
        else snprintf(out + len, n - len, "%sg%s", i ? " " : "", m[i].objid);
    }
    free(m);
    store_run_clear(&run);
    store_close(st);
}

Test(tui, marks_and_the_marks_screen) {
    if (!ready()) return;
    start(120, 40, NULL, NULL);
    free(wait_for("SL 3"));
    /* m on the list marks the selected feature (SL 3, the most frequent) */
    keys("m");
    char *s = wait_for("SL 3 marked");
    cr_assert(strstr(s, "\n*SL 3 "), "the row shows the mark:\n%s", s);
    cr_assert_eq(count(s, "\n*SL"), 1, "only that row:\n%s", s);
    free(s);
    char marks[512];
    marks_text(db, marks, sizeof marks);
    cr_assert_str_eq(marks, "f3", "stored in the run database");
    /* M lists it, Enter opens it */
    keys("M");
    s = wait_for("Marks of run SL: 1 feature, 0 galaxies");
    cr_assert(strstr(s, "*feature  SL 3 "), "%s", s);
    free(s);
    keys("Enter");
    s = wait_for("SL 3  (no label");
    cr_assert(strstr(s, "*SL 3  (no label"), "the feature page shows the mark:\n%s", s);
    free(s);
    /* the top galaxy: m on its page marks the galaxy */
    keys("g Enter");
    s = wait_for("predicted");
    store *st;
    cr_assert_eq(store_open(&st, db, STORE_READ), SF_OK);
    store_run run;
    cr_assert_eq(store_run_find(st, "SL", &run), SF_OK);
    store_hit *top;
    int nt;
    cr_assert_eq(store_top(st, run.id, 3, 1, -1, &top, &nt), SF_OK);
    char want[128];
    snprintf(want, sizeof want, " %s", top[0].objid);
    cr_assert(strstr(s, want), "%s", s);
    free(s);
    keys("m");
    snprintf(want, sizeof want, "galaxy %s marked", top[0].objid);
    s = wait_for(want);
    snprintf(want, sizeof want, "*%s", top[0].objid);
    cr_assert(strstr(s, want), "the galaxy page shows the mark:\n%s", s);
    /* its waterfall marks SL 3, a marked feature */
    cr_assert(strstr(s, "*SL 3 "), "%s", s);
    free(s);
    marks_text(db, marks, sizeof marks);
    snprintf(want, sizeof want, "f3 g%s", top[0].objid);
    cr_assert_str_eq(marks, want);
    /* the marks screen: features first, then galaxies; Enter opens the galaxy */
    keys("M");
    s = wait_for("Marks of run SL: 1 feature, 1 galaxy");
    snprintf(want, sizeof want, "*galaxy   %s", top[0].objid);
    cr_assert(strstr(s, want), "%s", s);
    cr_assert(strstr(s, "*feature  SL 3 ") < strstr(s, want), "%s", s);
    free(s);
    keys("j Enter");
    s = wait_for("predicted");
    snprintf(want, sizeof want, "*%s", top[0].objid);
    cr_assert(strstr(s, want), "%s", s);
    free(s);
    /* m on the marks screen removes the selected one */
    keys("q");
    free(wait_for("Marks of run SL"));
    keys("m");
    s = wait_for("mark removed");
    cr_assert(strstr(s, "Marks of run SL: 1 feature, 0 galaxies"), "%s", s);
    free(s);
    marks_text(db, marks, sizeof marks);
    cr_assert_str_eq(marks, "f3");
    /* Z has its own marks */
    keys("Tab M");
    free(wait_for("no marks in run Z yet"));
    /* m again on a marked feature unmarks it */
    keys("Tab");
    free(wait_for("[SL]"));
    keys("m");
    s = wait_for("SL 3: mark removed");
    cr_assert_null(strstr(s, "\n*SL"), "%s", s);
    free(s);
    marks_text(db, marks, sizeof marks);
    cr_assert_str_eq(marks, "");
    /* the help lists the keys */
    keys("'?'");
    s = wait_for("Help: sfnet-explore keys");
    cr_assert(strstr(s, "mark or unmark the feature"), "%s", s);
    cr_assert(strstr(s, "the marks of the run"), "%s", s);
    free(s);
    keys("j j j j j j j j j j j j j j j j j j j j j j j j j j j j j j j j j j j j j j j j");
    s = wait_for("remove the selected mark");
    cr_assert(strstr(s, "select the similar features"), "%s", s);
    free(s);
    free(top);
    store_run_clear(&run);
    store_close(st);
}

Test(tui, similar_features_on_the_feature_page) {
    if (!ready()) return;
    start(120, 40, NULL, NULL);
    free(wait_for("SL 3"));
    keys("Enter");
    char *s = wait_for("similar features: Pearson r over all 240 galaxies");
    store *st;
    cr_assert_eq(store_open(&st, db, STORE_READ), SF_OK);
    store_run run;
    cr_assert_eq(store_run_find(st, "SL", &run), SF_OK);
    query_coact c;
    cr_assert_eq(query_coact_load(st, run.id, &c), SF_OK, "%s", sf_last_error());
    query_similar sim[5];
    int n = query_similar_features(&c, 3, 5, sim);
    cr_assert_eq(n, 5);
    /* the rows, in order, against the run database's own numbers */
    const char *prev = s;
    for (int i = 0; i < n; i++) {
        char want[128];
        snprintf(want, sizeof want, "SL %-5d r=%+.3f  both active in %-7d", sim[i].feature,
                 sim[i].r, sim[i].n_both);
        const char *at = strstr(s, want);
        cr_assert(at && at > prev, "row %d \"%s\" in order:\n%s", i, want, s);
        prev = at;
    }
    free(s);
    /* c selects the first, Enter opens it, q comes back */
    keys("c Enter");
    char want[64];
    snprintf(want, sizeof want, "SL %d  (no label", sim[0].feature);
    s = wait_for(want);
    /* its own block names SL 3 among the features most like it, or at least shows one */
    cr_assert(strstr(s, "similar features: "), "%s", s);
    free(s);
    keys("q");
    free(wait_for("SL 3  (no label"));
    /* the page kept its selection (the first); c moves down the block */
    keys("c Enter");
    snprintf(want, sizeof want, "SL %d  (no label", sim[1].feature);
    free(wait_for(want));
    query_coact_clear(&c);
    store_run_clear(&run);
    store_close(st);
}

/* From the SL list to an SL feature, one key to its strongest Z counterpart, one key back
 * to the same SL feature and selection (the selected tile and the list's row). */
Test(tui, counterpart_jump_and_back_across_runs) {
    if (!ready()) return;
    store *st;
    cr_assert_eq(store_open(&st, db, STORE_READ), SF_OK);
    store_run sl, z;
    cr_assert_eq(store_run_find(st, "SL", &sl), SF_OK);
    cr_assert_eq(store_run_find(st, "Z", &z), SF_OK);
    store_feature *f;
    int nf;
    cr_assert_eq(store_features(st, sl.id, STORE_SORT_FREQUENCY, 0, &f, &nf), SF_OK);
    int feature = f[2].feature; /* the list's third row */
    store_hit *top;
    int n_top;
    cr_assert_eq(store_top(st, sl.id, feature, 12, -1, &top, &n_top), SF_OK);
    query_counterparts cp;
    cr_assert_eq(query_counterparts_compute(st, sl.id, feature, z.id, 3, &cp), SF_OK, "%s",
                 sf_last_error());
    cr_assert_geq(cp.n, 1);

    start(120, 40, NULL, NULL);
    free(wait_for("SL 3"));
    keys("j j Enter");
    char want[128];
    snprintf(want, sizeof want, "SL %d  (no label", feature);
    char *s = wait_for(want);
    /* the block lists the counterparts in Z with the run database's numbers */
    snprintf(want, sizeof want, "counterparts in Z (o, x): r over %d shared galaxies", cp.n_shared);
    cr_assert(strstr(s, want), "\"%s\" in:\n%s", want, s);
    const char *prev = s;
    for (int i = 0; i < cp.n; i++) {
        snprintf(want, sizeof want, "Z %-4d r=%+.3f  both in %-6d (%.1f%% of SL %d's)",
                 cp.list[i].feature, cp.list[i].r, cp.list[i].n_both, 100 * cp.list[i].f_cond,
                 feature);
        const char *at = strstr(s, want);
        cr_assert(at && at > prev, "counterpart %d \"%s\" in order:\n%s", i, want, s);
        prev = at;
    }
    free(s);
    /* select the fourth top galaxy, then one key: the strongest counterpart, in run Z */
    keys("j j j");
    keys("x");
    snprintf(want, sizeof want, "Z %d  (no label", cp.list[0].feature);
    s = wait_for(want);
    cr_assert(strstr(s, " SL [Z] "), "the title shows run Z:\n%s", s);
    free(s);
    /* one key back: the SL feature, in run SL, with the same galaxy selected */
    keys("q");
    snprintf(want, sizeof want, "SL %d  (no label", feature);
    s = wait_for(want);
    cr_assert(strstr(s, "[SL] Z "), "the title shows run SL again:\n%s", s);
    free(s);
    keys("Enter");
    s = wait_for(top[3].objid);
    cr_assert(strstr(s, "run SL, "), "the galaxy page of the tile that was selected:\n%s", s);
    free(s);
    /* and the list kept its row: back twice, Enter opens the same feature */
    keys("q");
    snprintf(want, sizeof want, "SL %d  (no label", feature);
    free(wait_for(want));
    keys("q");
    free(wait_for("live features of"));
    keys("Enter");
    free(wait_for(want));
    /* o selects the counterparts, Enter opens the second one, Backspace comes back */
    keys("o o Enter");
    snprintf(want, sizeof want, "Z %d  (no label", cp.list[1].feature);
    free(wait_for(want));
    keys("BSpace");
    snprintf(want, sizeof want, "SL %d  (no label", feature);
    free(wait_for(want));
    query_counterparts_clear(&cp);
    free(top);
    free(f);
    store_run_clear(&sl);
    store_run_clear(&z);
    store_close(st);
}

/* C: the compare screen, its numbers, x to the column's feature in the other run, w swaps. */
Test(tui, compare_screen_and_galaxy_page_across_runs) {
    if (!ready()) return;
    store *st;
    cr_assert_eq(store_open(&st, db, STORE_READ), SF_OK);
    store_run sl, z;
    cr_assert_eq(store_run_find(st, "SL", &sl), SF_OK);
    cr_assert_eq(store_run_find(st, "Z", &z), SF_OK);
    query_compare c;
    cr_assert_eq(query_compare_compute(st, sl.id, z.id, 1, &c), SF_OK);
    cr_assert_eq(query_compare_ridge(st, &c, 1.0), SF_OK);
    start(120, 40, NULL, NULL);
    free(wait_for("SL 3"));
    keys("C");
    char want[256];
    snprintf(want, sizeof want,
             "SL (rows, %d live) against Z (columns, %d live): Pearson r over the %d galaxies",
             c.n_rows, c.n_cols, c.n_shared);
    char *s = wait_for(want);
    snprintf(want, sizeof want, "%d training and %d validation galaxies of Z", c.n_train,
             c.n_valid);
    cr_assert(strstr(s, want), "\"%s\" in:\n%s", want, s);
    free(s);
    /* the cursor's cell: second row, third column */
    keys("j l l");
    int i = 1, j = 2;
    snprintf(want, sizeof want, "SL %d x Z %d", c.rows[i], c.cols[j]);
    s = wait_for(want);
    snprintf(want, sizeof want, "r = %+.3f", c.r[(size_t)i * c.n_cols + j]);
    cr_assert(strstr(s, want), "\"%s\" in:\n%s", want, s);
    snprintf(want, sizeof want, "R^2 of Z %d from SL: %.3f", c.cols[j], c.r2[j]);
    cr_assert(strstr(s, want), "\"%s\" in:\n%s", want, s);
    free(s);
    keys("x");
    snprintf(want, sizeof want, "Z %d  (no label", c.cols[j]);
    free(wait_for(want));
    keys("q");
    snprintf(want, sizeof want, "SL %d x Z %d", c.rows[i], c.cols[j]);
    free(wait_for(want));
    keys("w");
    free(wait_for("Z (rows, "));
    keys("q");
    free(wait_for("live features of"));

    /* the galaxy page: its features in Z beside, similar galaxies below */
    query_neighbors nb;
    cr_assert_eq(query_neighbors_load(st, sl.id, &nb), SF_OK);
    store_hit *top;
    int n_top;
    cr_assert_eq(store_top(st, sl.id, 3, 1, -1, &top, &n_top), SF_OK);
    query_neighbor near[8];
    int n_near;
    cr_assert_eq(query_similar_galaxies(st, &nb, top[0].galaxy_id, 8, near, &n_near), SF_OK);
    store_galaxy_run gz;
    cr_assert_eq(store_galaxy_in_run(st, z.id, top[0].galaxy_id, &gz), SF_OK);
    keys("Enter");
    free(wait_for("SL 3  (no label"));
    keys("Enter");
    s = wait_for("similar galaxies in SL: cosine of the sparse codes");
    snprintf(want, sizeof want, "in Z (%s): %d active", gz.split ? "valid" : "train", gz.n_active);
    cr_assert(strstr(s, want), "\"%s\" in:\n%s", want, s);
    snprintf(want, sizeof want, "cos %.3f", near[0].cosine);
    cr_assert(strstr(s, want), "\"%s\" in:\n%s", want, s);
    cr_assert(strstr(s, near[0].objid + strlen(near[0].objid) - 8), "neighbour %s in:\n%s",
              near[0].objid, s);
    free(s);
    /* o selects its first feature in Z, x jumps there, q comes back */
    keys("o x");
    snprintf(want, sizeof want, "Z %d  (no label", gz.feature[0]);
    free(wait_for(want));
    keys("q");
    free(wait_for("similar galaxies in SL"));
    /* c selects the nearest galaxy, Enter opens it */
    keys("c Enter");
    free(wait_for(near[0].objid));
    store_galaxy_run_clear(&gz);
    free(top);
    query_neighbors_clear(&nb);
    query_compare_clear(&c);
    store_run_clear(&sl);
    store_run_clear(&z);
    store_close(st);
}

/* A run database of schema version 1: upgraded when the explorer opens it (the runs'
 * summaries computed once); a read-only one is browsed as it is (summaries in memory)
 * and says why it cannot be marked. */
Test(tui, version_1_file_upgrades_on_open_or_browses_read_only) {
    if (!ready()) return;
    char v1[160], ro[160];
    snprintf(v1, sizeof v1, "%s/v1.db", dir);
    snprintf(ro, sizeof ro, "%s/ro.db", dir);
    cr_assert_eq(fixture_make_v1(v1, db), SF_OK, "%s", sf_last_error());
    cr_assert_eq(fixture_make_v1(ro, db), SF_OK, "%s", sf_last_error());
    cr_assert_eq(chmod(ro, 0444), 0);
    start_db(120, 40, NULL, NULL, ro);
    free(wait_for("SL 3"));
    keys("Enter");
    free(wait_for("similar features: Pearson r"));
    keys("m");
    char *s = wait_for("cannot save the mark");
    cr_assert(strstr(s, "read-only"), "%s", s);
    free(s);
    store *st;
    cr_assert_eq(store_open(&st, ro, STORE_READ), SF_OK);
    cr_assert_eq(store_schema_version(st), 1);
    store_close(st);

    start_db(120, 40, NULL, NULL, v1);
    free(wait_for("SL 3"));
    cr_assert_eq(store_open(&st, v1, STORE_READ), SF_OK);
    cr_assert_eq(store_schema_version(st), STORE_SCHEMA_VERSION, "upgraded when opened");
    store_close(st);
    keys("m");
    free(wait_for("SL 3 marked"));
    keys("M");
    free(wait_for("*feature  SL 3 "));
    cr_assert_eq(store_open(&st, v1, STORE_READ), SF_OK);
    cr_assert_eq(store_schema_version(st), STORE_SCHEMA_VERSION);
    store_close(st);
    char marks[64];
    marks_text(v1, marks, sizeof marks);
    cr_assert_str_eq(marks, "f3");
}

/* A file of the previous schema version (2, before the per-run summaries): the explorer
 * says it upgrades it, shows it, and leaves it at the current version; a read-only copy
 * is shown with the summaries computed in memory and a line saying why it stays as it
 * is. The lines go to the terminal before the explorer's screen and are there again
 * once it quits. */
Test(tui, version_2_file_upgrades_on_open_with_a_line_or_browses_read_only) {
    if (!ready()) return;
    char v2[160], ro[160], want[256];
    snprintf(v2, sizeof v2, "%s/v2.db", dir);
    snprintf(ro, sizeof ro, "%s/ro2.db", dir);
    cr_assert_eq(fixture_make_v2(v2, db), SF_OK, "%s", sf_last_error());
    cr_assert_eq(fixture_make_v2(ro, db), SF_OK, "%s", sf_last_error());
    cr_assert_eq(chmod(ro, 0444), 0);

    start_db(120, 40, NULL, NULL, ro);
    free(wait_for("SL 3"));
    keys("Enter");
    free(wait_for("similar features: Pearson r"));
    keys("q q");
    snprintf(want, sizeof want, "is of schema version 2: upgrading it to version %d",
             STORE_SCHEMA_VERSION);
    free(wait_for(want));
    char *s = wait_for("cannot upgrade it");
    cr_assert(strstr(s, "summaries are computed in memory"), "%s", s);
    free(s);
    store *st;
    cr_assert_eq(store_open(&st, ro, STORE_READ), SF_OK);
    cr_assert_eq(store_schema_version(st), 2, "a read-only file stays as it is");
    store_close(st);

    start_db(120, 40, NULL, NULL, v2);
    free(wait_for("SL 3"));
    cr_assert_eq(store_open(&st, v2, STORE_READ), SF_OK);
    cr_assert_eq(store_schema_version(st), STORE_SCHEMA_VERSION, "upgraded when opened");
    store_close(st);
    keys("Enter");
    free(wait_for("similar features: Pearson r"));
    keys("q q");
    s = wait_for(want);
    cr_assert(!strstr(s, "cannot upgrade"), "%s", s);
    free(s);
}

Test(tui, plain_output_when_not_a_terminal) {
    if (!bin[0] || access(bin, X_OK) != 0) {
        cr_skip_test("no sfnet-explore binary: skipped");
        return;
    }
    char cmd[2400];
    snprintf(cmd, sizeof cmd, "ASAN_OPTIONS=detect_leaks=1 '%s' '%s' </dev/null | cat", bin, db);
    FILE *p = popen(cmd, "r");
    char *out = xcalloc(1, 1 << 16);
    size_t n = fread(out, 1, (1 << 16) - 1, p);
    out[n] = 0;
    cr_assert_eq(pclose(p), 0);
    cr_assert(strstr(out, "run SL (id 1): bpt_lines"), "%s", out);
    cr_assert(strstr(out, "run Z (id 2): metallicity"), "%s", out);
    cr_assert(strstr(out, "log_nii_6584 = 1.5300 + "), "%s", out);
    cr_assert(strstr(out, "*[SL 3]"), "%s", out);
    cr_assert(strstr(out, "oh_p50 = 8.7200"), "%s", out);
    cr_assert_eq(count(out, "\nSL "), 12, "12 live SL features:\n%s", out);
    free(out);
    /* missing database */
    snprintf(cmd, sizeof cmd, "'%s' '%s/none.db' </dev/null >/dev/null 2>&1", bin, dir);
    cr_assert_neq(system(cmd), 0);
}

Test(tui, man_page_covers_every_command_and_key) {
    if (!bin[0] || access(bin, X_OK) != 0) {
        cr_skip_test("no sfnet-explore binary: skipped");
        return;
    }
    char *man;
    size_t n;
    if (sf_read_file("share/man/man1/sfnet-explore.1", &man, &n) != SF_OK) {
        cr_skip_test("share/man/man1/sfnet-explore.1 not found (tests run from the source tree)");
        return;
    }
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "'%s' --help", bin);
    FILE *p = popen(cmd, "r");
    char line[512];
    int in_commands = 0, n_commands = 0;
    while (fgets(line, sizeof line, p)) {
        if (!strncmp(line, "Commands:", 9)) {
            in_commands = 1;
            continue;
        }
        if (in_commands && line[0] == '\n') in_commands = 0;
        if (!in_commands) continue;
        char name[64], want[80];
        cr_assert_eq(sscanf(line, " %63s", name), 1);
        snprintf(want, sizeof want, ".SS %s\n", name);
        cr_assert(strstr(man, want),
                  "the man page lacks the command %s: sh share/man/mkman.sh ./sfnet-explore > "
                  "share/man/man1/sfnet-explore.1",
                  name);
        n_commands++;
    }
    pclose(p);
    cr_assert_geq(n_commands, 2);
    const char *explorer[] = {"\\-\\-feature",
                              "\\-\\-galaxy",
                              "\\-\\-graphics",
                              "\\-\\-color",
                              "\\-\\-no\\-mouse",
                              "\\-\\-dump\\-detect",
                              "\\-\\-run",
                              ".B Tab",
                              ".B /",
                              ".B :",
                              ".B e\n",
                              ".B ?",
                              ".B m\n",
                              ".B M\n",
                              ".B c\n",
                              "similar features",
                              ".B o\n",
                              ".B x\n",
                              ".B C\n",
                              ".B w\n",
                              "counterparts",
                              "similar galaxies",
                              ".B Compare",
                              "NO_COLOR",
                              "SFNET_GRAPHICS",
                              "\\-\\-cell\\-size",
                              "SFNET_CELL_SIZE"};
    for (size_t i = 0; i < sizeof explorer / sizeof *explorer; i++)
        cr_assert(strstr(man, explorer[i]), "the man page mentions %s", explorer[i]);
    free(man);
}
