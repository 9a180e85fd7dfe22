/* test_layers.c: the layer check (tests/check_layers.sh) on the tree, and on a copy of
 * it with one broken rule of each kind, which it must name. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sf_util.h"

/* Runs the check on root (NULL: the repository); returns its exit status and its
 * output in out (malloc'd). */
static int check(const char *root, char **out) {
    char cmd[512];
    snprintf(cmd, sizeof cmd, "sh tests/check_layers.sh %s 2>&1", root ? root : "");
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t cap = 1 << 16, n = 0;
    *out = xcalloc(1, cap);
    for (size_t r; (r = fread(*out + n, 1, cap - 1 - n, p)) > 0;) n += r;
    int status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

Test(layers, every_include_of_the_tree_points_down) {
    char *out;
    int rc = check(NULL, &out);
    cr_assert_eq(rc, 0, "%s", out);
    cr_assert(strstr(out, "every include points down"), "%s", out);
    free(out);
}

static void append(const char *root, const char *file, const char *line) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", root, file);
    FILE *f = fopen(path, "a");
    cr_assert_not_null(f, "%s", path);
    fprintf(f, "%s\n", line);
    fclose(f);
}

Test(layers, each_kind_of_broken_rule_is_named) {
    char root[] = "/tmp/sfnet-layers-XXXXXX";
    cr_assert_not_null(mkdtemp(root));
    char cmd[256];
    snprintf(cmd, sizeof cmd, "cp -r src include '%s'/", root);
    cr_assert_eq(system(cmd), 0);
    append(root, "src/store.c", "#include <curses.h>");
    append(root, "src/data_image.c", "#include <chafa.h>");
    append(root, "src/data_catalog.c", "#include \"tui.h\"");
    append(root, "src/store_read.c", "#include \"data_image.h\"");
    append(root, "src/query.c", "#include <sqlite3.h>");
    append(root, "include/infer.h", "#include \"query_view.h\"");
    append(root, "src/helpers.c", "#include \"sf_util.h\"");
    char *out;
    int rc = check(root, &out);
    cr_assert_eq(rc, 1, "%s", out);
    const char *want[] = {
        "src/store.c:",
        "curses.h outside tui_*",
        "src/data_image.c:",
        "chafa.h outside tui_*",
        "src/data_catalog.c:",
        "data (layer 2) includes tui.h of tui (layer 5), above it",
        "src/store_read.c:",
        "store includes data_image.h of data, a neighbour in layer 2",
        "src/query.c:",
        "sqlite3.h outside store_*",
        "include/infer.h:",
        "infer includes query_view.h of query, a neighbour in layer 3",
        "src/helpers.c: prefix of no known layer",
    };
    for (size_t i = 0; i < sizeof want / sizeof *want; i++)
        cr_assert(strstr(out, want[i]), "the check should say \"%s\":\n%s", want[i], out);
    free(out);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    cr_assert_eq(system(cmd), 0);
}
