/* tui.h: the explorer, `sfnet-explore run.db`, and the data it shows.
 *
 * The explorer is a thin curses layer over the run database's API (store.h):
 * it never runs SQL itself. Each screen is a draw/key pair (tui_<screen>.c)
 * behind one dispatch in tui_app.c:
 *   feature list (home)  ->  feature page  ->  galaxy page
 *                        ->  equation view ->  feature page
 *   any screen           ->  marks (M)     ->  feature or galaxy page
 * plus a help overlay. The feature page also lists the most correlated features
 * (query.h's similar features), each of which opens. Plots come from plot.h (braille or glyph cells),
 * thumbnails from tui_thumb.h (chafa), exports from export.h (cairo). What the
 * screens show is computed by query_view.h, which the headless export command and
 * the plain-text output (stdout not a terminal) use too.
 */
#ifndef SF_TUI_H
#define SF_TUI_H

/* Entry of `sfnet-explore [options] RUN.db [options]`: argv as main has it. */
int tui_main(int argc, char **argv);
/* Whether main's first argument opens the explorer: one of the explorer's
 * options (--feature ...), a name ending in .db, or an existing file (main
 * checks the subcommand names first). */
int cli_is_database(const char *arg);

#endif
