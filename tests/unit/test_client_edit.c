/* Unit: the client's line editor (keys, limits, escape keys, widths). */
#include <string.h>

#include "lineedit.h"
#include "suite.h"

static struct ledit e;

static void setup(void)
{
        ledit_init(&e);
}

/* Feed keys; returns the result of the last one. */
static int keys(const char *s)
{
        int r = LEDIT_NONE;

        for (; *s; s++)
                r = ledit_key(&e, (uint8_t)*s);
        return r;
}

START_TEST(typing_and_enter)
{
        ck_assert_int_eq(ledit_key(&e, 'h'), LEDIT_ECHO);
        ck_assert_int_eq(keys("i there"), LEDIT_ECHO);
        ck_assert_int_eq(ledit_key(&e, '\n'), LEDIT_ENTER);
        ck_assert_str_eq(e.buf, "hi there");
        ck_assert_uint_eq(e.len, 8);
        ledit_clear(&e);
        ck_assert_uint_eq(e.len, 0);
        /* CR is Enter too (a terminal without ICRNL) */
        keys("x");
        ck_assert_int_eq(ledit_key(&e, '\r'), LEDIT_ENTER);
        ck_assert_str_eq(e.buf, "x");
}
END_TEST

START_TEST(backspace_and_kills)
{
        keys("abc");
        ck_assert_int_eq(ledit_key(&e, 0x7F), LEDIT_REDRAW);
        ck_assert_str_eq(e.buf, "ab");
        ck_assert_int_eq(ledit_key(&e, 0x08), LEDIT_REDRAW);
        ck_assert_str_eq(e.buf, "a");
        /* a whole UTF-8 character goes at once */
        keys("\xc3\xa9\xe2\x9c\x93");
        ck_assert_int_eq(ledit_key(&e, 0x7F), LEDIT_REDRAW);
        ck_assert_str_eq(e.buf, "a\xc3\xa9");
        ck_assert_int_eq(ledit_key(&e, 0x7F), LEDIT_REDRAW);
        ck_assert_str_eq(e.buf, "a");
        /* Ctrl-W: the last word and the spaces after it */
        keys(" two words  ");
        ck_assert_int_eq(ledit_key(&e, 0x17), LEDIT_REDRAW);
        ck_assert_str_eq(e.buf, "a two ");
        /* Ctrl-U: everything */
        ck_assert_int_eq(ledit_key(&e, 0x15), LEDIT_REDRAW);
        ck_assert_str_eq(e.buf, "");
        /* nothing to delete: nothing to redraw */
        ck_assert_int_eq(ledit_key(&e, 0x7F), LEDIT_NONE);
        ck_assert_int_eq(ledit_key(&e, 0x15), LEDIT_NONE);
        ck_assert_int_eq(ledit_key(&e, 0x17), LEDIT_NONE);
}
END_TEST

START_TEST(ctrl_d_quits_only_on_empty_line)
{
        keys("x");
        ck_assert_int_eq(ledit_key(&e, 0x04), LEDIT_NONE);
        ck_assert_str_eq(e.buf, "x");
        ledit_key(&e, 0x15);
        ck_assert_int_eq(ledit_key(&e, 0x04), LEDIT_EOF);
}
END_TEST

START_TEST(escape_keys_swallowed)
{
        /* arrows (CSI and SS3 forms), Ctrl-arrow, Delete, F5, Alt-x */
        keys("a\x1b[A\x1bOB\x1b[1;5C\x1b[3~\x1b[15~\x1bxb");
        ck_assert_str_eq(e.buf, "ab");
        /* Esc then Enter still enters; Esc then Backspace still deletes */
        ck_assert_int_eq(keys("\x1b\x7f"), LEDIT_REDRAW);
        ck_assert_str_eq(e.buf, "a");
        ck_assert_int_eq(keys("\x1b\n"), LEDIT_ENTER);
        /* other control characters are ignored */
        ledit_clear(&e);
        keys("\x01\x02\x07\x09\x0b\x0e\x1f" "c");
        ck_assert_str_eq(e.buf, "c");
}
END_TEST

START_TEST(full_line_refused_whole_characters)
{
        size_t i;

        for (i = 0; i + 4 <= LEDIT_MAX; i++)
                ck_assert_int_eq(ledit_key(&e, 'x'), LEDIT_ECHO);
        ck_assert_uint_eq(e.len, LEDIT_MAX - 3);
        /* no room for a 4-byte character: refused with all its bytes */
        ck_assert_int_eq(ledit_key(&e, 0xF0), LEDIT_BELL);
        ck_assert_int_eq(keys("\x9f\x98\x80"), LEDIT_NONE);
        ck_assert_int_eq(ledit_key(&e, 'y'), LEDIT_BELL);
        ck_assert_uint_eq(e.len, LEDIT_MAX - 3);
        ck_assert_uint_eq(strlen(e.buf), e.len);
        /* making room makes typing work again */
        ledit_key(&e, 0x7F);
        ck_assert_int_eq(ledit_key(&e, 'z'), LEDIT_ECHO);
        ck_assert_int_eq(ledit_key(&e, '\n'), LEDIT_ENTER);
        ck_assert_int_eq(e.buf[e.len - 1], 'z');
}
END_TEST

START_TEST(stray_continuation_ignored)
{
        /* a continuation byte cannot start the line */
        ck_assert_int_eq(ledit_key(&e, 0x80), LEDIT_NONE);
        ck_assert_uint_eq(e.len, 0);
}
END_TEST

START_TEST(widths)
{
        ck_assert_uint_eq(ledit_width("", 0), 0);
        ck_assert_uint_eq(ledit_width("<You> ", 6), 6);
        ck_assert_uint_eq(ledit_width("h\xc3\xa9llo", 6), 5);
        ck_assert_uint_eq(ledit_width("\xe2\x9c\x93!", 4), 2);
        /* a character still being typed takes no room yet */
        ck_assert_uint_eq(ledit_width("ab\xe2\x9c", 4), 2);
        /* bytes that are not UTF-8 take one column each */
        ck_assert_uint_eq(ledit_width("a\xff\x80" "b", 4), 4);
        ck_assert_uint_eq(ledit_width("\xc3" "a", 2), 2);
}
END_TEST

Suite *test_suite(void)
{
        Suite *s = suite_create("client_edit");
        TCase *tc = tcase_create("lineedit");

        tcase_add_checked_fixture(tc, setup, NULL);
        tcase_add_test(tc, typing_and_enter);
        tcase_add_test(tc, backspace_and_kills);
        tcase_add_test(tc, ctrl_d_quits_only_on_empty_line);
        tcase_add_test(tc, escape_keys_swallowed);
        tcase_add_test(tc, full_line_refused_whole_characters);
        tcase_add_test(tc, stray_continuation_ignored);
        tcase_add_test(tc, widths);
        suite_add_tcase(s, tc);
        return s;
}
