/* Tests of sf_util: error messages, RNG determinism and ranges, file reading. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sf_util.h"

Test(util, fail_records_message_and_prefix) {
    cr_assert_eq(sf_fail("expected %d fields, found %d", 12, 11), SF_ERR);
    sf_fail_prefix("galaxies.csv:17");
    cr_assert_str_eq(sf_last_error(), "galaxies.csv:17: expected 12 fields, found 11");
}

Test(util, rng_is_deterministic_and_uniform) {
    sf_rng a, b;
    sf_rng_seed(&a, 256);
    sf_rng_seed(&b, 256);
    double sum = 0, sum2 = 0;
    for (int i = 0; i < 100000; i++) {
        uint64_t x = sf_rng_next(&a);
        cr_assert_eq(x, sf_rng_next(&b));
        double u = sf_rng_uniform(&a);
        cr_assert(u >= 0 && u < 1);
        sf_rng_next(&b);
        sum += u;
        sum2 += u * u;
    }
    cr_assert_float_eq(sum / 1e5, 0.5, 0.01);
    cr_assert_float_eq(sum2 / 1e5 - 0.25, 1.0 / 12, 0.005);
}

Test(util, rng_normal_has_unit_variance) {
    sf_rng r;
    sf_rng_seed(&r, 1);
    double s = 0, s2 = 0;
    for (int i = 0; i < 200000; i++) {
        double z = sf_rng_normal(&r);
        s += z;
        s2 += z * z;
    }
    cr_assert_float_eq(s / 2e5, 0.0, 0.01);
    cr_assert_float_eq(s2 / 2e5, 1.0, 0.02);
}

Test(util, shuffle_is_a_permutation) {
    sf_rng r;
    sf_rng_seed(&r, 7);
    int a[100], seen[100] = {0};
    for (int i = 0; i < 100; i++) a[i] = i;
    sf_rng_shuffle(&r, a, 100);
    int moved = 0;
    for (int i = 0; i < 100; i++) {
        seen[a[i]]++;
        moved += a[i] != i;
    }
    for (int i = 0; i < 100; i++) cr_assert_eq(seen[i], 1);
    cr_assert_gt(moved, 50);
}

Test(util, read_file_missing_names_the_file) {
    char *data = NULL;
    cr_assert_eq(sf_read_file("/nonexistent/x.csv", &data, NULL), SF_ERR);
    cr_assert(strstr(sf_last_error(), "/nonexistent/x.csv") != NULL);
    cr_assert_null(data);
    /* a directory says so, not "read error" */
    cr_assert_eq(sf_read_file("/tmp", &data, NULL), SF_ERR);
    cr_assert_str_eq(sf_last_error(), "/tmp is a directory, not a file");
}

Test(util, integer_options_are_range_checked) {
    long v = -7;
    int i = -7;
    cr_assert_eq(sf_parse_option_long("batch", "64", 1, 4096, &v), SF_OK);
    cr_assert_eq(v, 64);
    cr_assert_eq(sf_parse_option_int("n", "1", 1, 10, &i), SF_OK);
    cr_assert_eq(i, 1);
    /* refused: out of range, not a number, trailing text, empty, overflow; the value
     * is left alone */
    const char *bad[] = {"0", "4097", "x", "12abc", "", "99999999999999999999999", "1.5"};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        v = -7;
        cr_assert_eq(sf_parse_option_long("batch", bad[k], 1, 4096, &v), SF_ERR, "'%s'", bad[k]);
        cr_assert_eq(v, -7, "'%s' changed the value", bad[k]);
    }
    i = -7;
    cr_assert_eq(sf_parse_option_int("n", "-1", 0, 5, &i), SF_ERR);
    cr_assert_eq(i, -7);
}

Test(util, escaped_text_shows_control_characters_instead_of_sending_them) {
    /* a label that would set the terminal's title and clear the screen */
    char *e = sf_escaped("\x1b]0;PWNED\a\x1b[2J");
    cr_assert_str_eq(e, "\\x1b]0;PWNED\\x07\\x1b[2J");
    free(e);
    e = sf_escaped("line\none\ttab\r\x7f");
    cr_assert_str_eq(e, "line\\none\\ttab\\r\\x7f");
    free(e);
    /* UTF-8 text stays; C1 controls (U+009B is CSI) and bytes that are not UTF-8 do not */
    e = sf_escaped("H\xce\xb1 \xe2\x80\x94 \xc2\x9b"
                   "2J \x9b"
                   "2J \xff");
    cr_assert_str_eq(e, "H\xce\xb1 \xe2\x80\x94 \\u009b2J \\x9b2J \\xff");
    free(e);
    /* a sequence cut short, an overlong encoding and a surrogate are not UTF-8 */
    e = sf_escaped("\xe2\x80 \xc0\x9b \xed\xa0\x80");
    cr_assert_str_eq(e, "\\xe2\\x80 \\xc0\\x9b \\xed\\xa0\\x80");
    free(e);
    cr_assert(sf_text_is_clean("plain text, \xce\xb1"));
    cr_assert(!sf_text_is_clean("a\x1b[2J"));
    char small[8];
    cr_assert_eq(sf_escape_text(small, sizeof small,
                                "ab\x1b"
                                "cd"),
                 8);
    cr_assert_str_eq(small, "ab\\x1bc"); /* never half an escape */
}

Test(util, messages_are_one_line_without_control_characters) {
    /* an objID with a newline and an escape sequence, named in an error message */
    sf_fail("galaxies.csv:3: objID '%s' appears twice", "123\n\x1b[2Jfake: all is well");
    cr_assert_str_eq(sf_last_error(),
                     "galaxies.csv:3: objID '123\\n\\x1b[2Jfake: all is well' appears twice");
    sf_fail("x");
    sf_fail_prefix("bad\x1b]0;t\a.csv");
    cr_assert_str_eq(sf_last_error(), "bad\\x1b]0;t\\x07.csv: x");
}

/* CSV fields as RFC 4180 has them: quoted only when they must be, quotes doubled. */
Test(util, csv_fields_are_quoted_when_they_must_be) {
    static const char *const in[] = {"plain", "a,b", "say \"hi\"", "two\nlines", "cr\r", ""};
    static const char *const want[] = {"plain",          "\"a,b\"",  "\"say \"\"hi\"\"\"",
                                       "\"two\nlines\"", "\"cr\r\"", ""};
    for (int i = 0; i < 6; i++) {
        char buf[64] = "";
        FILE *f = fmemopen(buf, sizeof buf - 1, "w");
        cr_assert_not_null(f);
        sf_csv_field(f, in[i]);
        fclose(f);
        cr_assert_str_eq(buf, want[i], "field %d", i);
    }
}
