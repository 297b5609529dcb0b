/* Unit: quote files in fortune's format (quotes.c): separators, line ends,
 * blank lines, the size limit, and reading a file with its own limit. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bounds.h"
#include "quotes.h"
#include "suite.h"

static struct quotes *parse(const char *text, size_t max)
{
        struct quotes *q = quotes_parse(text, strlen(text), max);

        ck_assert_ptr_nonnull(q);
        return q;
}

/* Quote i is exactly want. */
static void expect_quote(const struct quotes *q, size_t i, const char *want)
{
        size_t len;
        const char *p;

        ck_assert_uint_lt(i, q->n);
        p = quotes_get(q, i, &len);
        ck_assert_msg(len == strlen(want) && memcmp(p, want, len) == 0,
                      "quote %zu: '%.*s', expected '%s'", i, (int)len, p, want);
}

START_TEST(fortune_format)
{
        struct quotes *q = parse("First line.\n\t\t-- Someone\n%\nSecond.\n%\nThird,\nin two.\n",
                                 PICHAT_ANSWER_MAX);

        ck_assert_uint_eq(q->n, 3);
        ck_assert_uint_eq(q->skipped, 0);
        expect_quote(q, 0, "First line.\r\n\t\t-- Someone\r\n");
        expect_quote(q, 1, "Second.\r\n");
        expect_quote(q, 2, "Third,\r\nin two.\r\n");
        ck_assert_uint_eq(q->longest, strlen("First line.\r\n\t\t-- Someone\r\n"));
        quotes_free(q);
}
END_TEST

/* A file ending in "%", or without a line end; CR LF files; a BOM. */
START_TEST(line_ends_and_ends)
{
        struct quotes *q = parse("\xef\xbb\xbf" "one\r\n%\r\ntwo\r\n%\r\n", PICHAT_ANSWER_MAX);

        ck_assert_uint_eq(q->n, 2);
        expect_quote(q, 0, "one\r\n");
        expect_quote(q, 1, "two\r\n");
        quotes_free(q);

        q = parse("one\n%\nno line end", PICHAT_ANSWER_MAX);
        ck_assert_uint_eq(q->n, 2);
        expect_quote(q, 1, "no line end\r\n");
        quotes_free(q);

        /* "%" with trailing blanks still separates; "%%" or "50%" do not. */
        q = parse("a\n% \t\nb\n%%\n50%\n", PICHAT_ANSWER_MAX);
        ck_assert_uint_eq(q->n, 2);
        expect_quote(q, 0, "a\r\n");
        expect_quote(q, 1, "b\r\n%%\r\n50%\r\n");
        quotes_free(q);
}
END_TEST

/* Blank lines around a quote go, those inside it stay; empty quotes
 * (separators in a row, blank-only texts) are none. */
START_TEST(blank_lines)
{
        struct quotes *q = parse("%\n%\n\n  \nverse one\n\n\nverse two\n \n\n%\n\t\n%\n",
                                 PICHAT_ANSWER_MAX);

        ck_assert_uint_eq(q->n, 1);
        expect_quote(q, 0, "verse one\r\n\r\n\r\nverse two\r\n");
        quotes_free(q);

        q = parse("", PICHAT_ANSWER_MAX);
        ck_assert_uint_eq(q->n, 0);
        ck_assert_uint_eq(q->skipped, 0);
        quotes_free(q);
        q = parse("\n\n%\n%\n   \n", PICHAT_ANSWER_MAX);
        ck_assert_uint_eq(q->n, 0);
        quotes_free(q);
}
END_TEST

/* The limit counts the bytes as they go out (CR LF): a quote of exactly
 * max is kept, one byte more is skipped whole, never cut, and the line
 * it began on is remembered. */
START_TEST(size_limit)
{
        char text[4096], line[600];
        size_t n = 0;

        /* 509 bytes + CR LF = 511: kept. */
        memset(line, 'a', 509);
        line[509] = '\0';
        n += (size_t)snprintf(text + n, sizeof(text) - n, "short\n%%\n%s\n%%\n", line);
        /* 510 + CR LF = 512: skipped (its text begins on line 6, after a
         * blank line). */
        memset(line, 'b', 510);
        line[510] = '\0';
        n += (size_t)snprintf(text + n, sizeof(text) - n, "\n%s\n%%\n", line);
        /* Two lines, 255 + 2 + 253 + 2 = 512: skipped. */
        memset(line, 'c', 255);
        line[255] = '\n';
        memset(line + 256, 'd', 253);
        line[509] = '\0';
        n += (size_t)snprintf(text + n, sizeof(text) - n, "%s\n%%\nlast\n", line);

        struct quotes *q = parse(text, PICHAT_ANSWER_MAX);
        ck_assert_uint_eq(q->n, 3);
        ck_assert_uint_eq(q->skipped, 2);
        ck_assert_uint_eq(q->first_skipped_line, 6);
        expect_quote(q, 0, "short\r\n");
        size_t len;
        quotes_get(q, 1, &len);
        ck_assert_uint_eq(len, 511);
        ck_assert_uint_eq(q->longest, 511);
        expect_quote(q, 2, "last\r\n");
        quotes_free(q);

        /* Every quote too long: none kept, all counted. */
        q = parse(text, 4);
        ck_assert_uint_eq(q->n, 0);
        ck_assert_uint_eq(q->skipped, 5);
        ck_assert_uint_eq(q->first_skipped_line, 1);
        quotes_free(q);
}
END_TEST

/* Bytes that are not text are kept as they are: the file is the
 * administrator's, and a fortune file may hold anything. */
START_TEST(bytes_kept)
{
        static const char text[] = "caf\xc3\xa9 \xff\x01\n%\nx\0y\n";
        struct quotes *q = quotes_parse(text, sizeof(text) - 1, PICHAT_ANSWER_MAX);

        ck_assert_ptr_nonnull(q);
        ck_assert_uint_eq(q->n, 2);
        expect_quote(q, 0, "caf\xc3\xa9 \xff\x01\r\n");
        size_t len;
        const char *p = quotes_get(q, 1, &len);
        ck_assert_uint_eq(len, 5);
        ck_assert_mem_eq(p, "x\0y\r\n", 5);
        quotes_free(q);
}
END_TEST

START_TEST(load_file)
{
        char dir[] = "/tmp/pichat-quotes.XXXXXX", path[64];
        struct quotes *q = NULL;
        FILE *f;

        ck_assert_ptr_nonnull(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/quotes", dir);
        f = fopen(path, "w");
        ck_assert_ptr_nonnull(f);
        fputs("one\n%\ntwo\n", f);
        ck_assert_int_eq(fclose(f), 0);

        ck_assert_int_eq(quotes_load(path, 100, PICHAT_ANSWER_MAX, &q), 0);
        ck_assert_uint_eq(q->n, 2);
        quotes_free(q);
        /* The file's 10 bytes: a limit of 10 takes it, 9 does not. */
        ck_assert_int_eq(quotes_load(path, 10, PICHAT_ANSWER_MAX, &q), 0);
        quotes_free(q);
        ck_assert_int_eq(quotes_load(path, 9, PICHAT_ANSWER_MAX, &q), -EFBIG);
        ck_assert_int_eq(quotes_load(dir, 100, PICHAT_ANSWER_MAX, &q), -EISDIR);
        unlink(path);
        ck_assert_int_eq(quotes_load(path, 100, PICHAT_ANSWER_MAX, &q), -ENOENT);
        rmdir(dir);
}
END_TEST

/* The shipped file: every quote fits, none is skipped. */
START_TEST(shipped_quotes)
{
        const char *path = getenv("PICHAT_QUOTES");
        struct quotes *q = NULL;

        ck_assert_msg(path && *path, "PICHAT_QUOTES is not set (run through meson test)");
        ck_assert_int_eq(quotes_load(path, PICHAT_QOTD_FILE_MAX, PICHAT_ANSWER_MAX, &q), 0);
        printf("shipped quotes: %zu, longest %zu bytes\n", q->n, q->longest);
        ck_assert_uint_ge(q->n, 30);
        ck_assert_uint_eq(q->skipped, 0);
        ck_assert_uint_lt(q->longest, 512);
        quotes_free(q);
}
END_TEST

Suite *test_suite(void)
{
        Suite *s = suite_create("quotes");
        TCase *tc = tcase_create("quotes");

        tcase_add_test(tc, fortune_format);
        tcase_add_test(tc, line_ends_and_ends);
        tcase_add_test(tc, blank_lines);
        tcase_add_test(tc, size_limit);
        tcase_add_test(tc, bytes_kept);
        tcase_add_test(tc, load_file);
        tcase_add_test(tc, shipped_quotes);
        suite_add_tcase(s, tc);
        return s;
}
