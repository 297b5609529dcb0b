/* Unit: the line splitter (line ends, NULs, overlong lines, split input). */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "line.h"
#include "suite.h"

/* Feed input in chunks of chunk bytes; collect "L:text" / "TOOLONG" events. */
static void run(const char *in, size_t n, size_t max, size_t chunk, char *out, size_t outsize)
{
        struct line_splitter ls;
        size_t pos = 0;

        out[0] = '\0';
        ck_assert_int_eq(line_init(&ls, max), 0);
        while (pos < n) {
                size_t take = n - pos < chunk ? n - pos : chunk;
                const char *data = in + pos, *line;
                size_t left = take, len;
                int r;

                while ((r = line_next(&ls, &data, &left, &line, &len)) != LINE_NONE) {
                        if (r == LINE_OK) {
                                strncat(out, "L:", outsize - strlen(out) - 1);
                                strncat(out, line, outsize - strlen(out) - 1);
                                ck_assert_uint_eq(strlen(line), len);
                        } else {
                                ck_assert_int_eq(r, LINE_TOOLONG);
                                strncat(out, "TOOLONG", outsize - strlen(out) - 1);
                        }
                        strncat(out, "|", outsize - strlen(out) - 1);
                }
                ck_assert_uint_eq(left, 0);
                pos += take;
        }
        line_free(&ls);
}

static void check_all_chunks(const char *in, size_t n, size_t max, const char *want)
{
        char out[1024];

        for (size_t chunk = 1; chunk <= n; chunk++) {
                run(in, n, max, chunk, out, sizeof(out));
                ck_assert_msg(strcmp(out, want) == 0, "chunk %zu: got '%s' want '%s'",
                              chunk, out, want);
        }
}

START_TEST(line_ends)
{
        static const char in[] = "a\r\nb\r\0c\rd\ne\n\r\n";
        check_all_chunks(in, sizeof(in) - 1, 64, "L:a|L:b|L:c|L:d|L:e|L:|");
}
END_TEST

START_TEST(line_cr_then_cr)
{
        /* CR CR is two lines; the second CR's LF is swallowed. */
        static const char in[] = "x\r\r\ny\r";
        check_all_chunks(in, sizeof(in) - 1, 64, "L:x|L:|L:y|");
}
END_TEST

START_TEST(line_nul_dropped)
{
        static const char in[] = "a\0b\0\nc\n";
        check_all_chunks(in, sizeof(in) - 1, 64, "L:ab|L:c|");
}
END_TEST

START_TEST(line_incomplete_kept)
{
        char out[256];
        run("abc", 3, 64, 1, out, sizeof(out));
        ck_assert_str_eq(out, "");
}
END_TEST

START_TEST(line_exact_max)
{
        static const char in[] = "12345678\n123456789\nok\n";
        check_all_chunks(in, sizeof(in) - 1, 8, "L:12345678|TOOLONG|L:ok|");
}
END_TEST

START_TEST(line_toolong_once)
{
        char in[200];
        memset(in, 'x', sizeof(in));
        memcpy(in + 190, "\r\nnext\r\n", 8);
        check_all_chunks(in, 198, 16, "TOOLONG|L:next|");
}
END_TEST

START_TEST(line_toolong_crlf_split)
{
        /* The CR ends the long line; the LF after it must not make an empty line. */
        static const char in[] = "0123456789abcdefXYZ\r\nz\n";
        check_all_chunks(in, sizeof(in) - 1, 16, "TOOLONG|L:z|");
}
END_TEST

/* mid_line after all of in has been taken, one byte at a time. */
static bool mid_after(const char *in, size_t n, size_t max)
{
        struct line_splitter ls;
        bool mid;

        ck_assert_int_eq(line_init(&ls, max), 0);
        for (size_t i = 0; i < n; i++) {
                const char *data = in + i, *line;
                size_t left = 1, len;
                while (line_next(&ls, &data, &left, &line, &len) != LINE_NONE)
                        ;
        }
        mid = ls.mid_line;
        line_free(&ls);
        return mid;
}

START_TEST(line_mid_line)
{
        ck_assert(!mid_after("", 0, 64));
        ck_assert(mid_after("a", 1, 64));
        ck_assert(!mid_after("a\n", 2, 64));
        ck_assert(!mid_after("a\r", 2, 64));
        /* the LF or NUL that completes CR LF / CR NUL begins nothing */
        ck_assert(!mid_after("a\r\n", 3, 64));
        ck_assert(!mid_after("a\r\0", 3, 64));
        ck_assert(mid_after("a\nb", 3, 64));
        /* NULs make no text, but a client sending only them is mid-line */
        ck_assert(mid_after("\0", 1, 64));
        ck_assert(mid_after("a\n\0\0", 4, 64));
        ck_assert(mid_after("a\r\0\0", 4, 64));
        /* so is one whose overlong line is being discarded, until it ends */
        ck_assert(mid_after("0123456789abcdefXYZ", 19, 16));
        ck_assert(!mid_after("0123456789abcdefXYZ\n", 20, 16));
}
END_TEST

Suite *test_suite(void)
{
        Suite *s = suite_create("line");
        TCase *tc = tcase_create("split");

        tcase_add_test(tc, line_ends);
        tcase_add_test(tc, line_cr_then_cr);
        tcase_add_test(tc, line_nul_dropped);
        tcase_add_test(tc, line_incomplete_kept);
        tcase_add_test(tc, line_exact_max);
        tcase_add_test(tc, line_toolong_once);
        tcase_add_test(tc, line_toolong_crlf_split);
        tcase_add_test(tc, line_mid_line);
        suite_add_tcase(s, tc);
        return s;
}
