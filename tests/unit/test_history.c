/* Unit: the room history ring. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "history.h"
#include "suite.h"

static struct history h;

static void teardown(void)
{
        history_free(&h);
}

static void push_str(const char *s)
{
        ck_assert_int_eq(history_push(&h, s, strlen(s)), 0);
}

/* Push "line FIRST" .. "line LAST". */
static void push_range(int first, int last)
{
        char s[32];

        for (int i = first; i <= last; i++) {
                snprintf(s, sizeof(s), "line %d", i);
                push_str(s);
        }
}

/* The history holds exactly "line FIRST" .. "line LAST", oldest first. */
static void assert_range(int first, int last)
{
        char want[32];
        size_t len;

        ck_assert_uint_eq(history_count(&h), (size_t)(last - first + 1));
        for (int i = first; i <= last; i++) {
                const char *got = history_get(&h, (size_t)(i - first), &len);

                snprintf(want, sizeof(want), "line %d", i);
                ck_assert_ptr_nonnull(got);
                ck_assert_str_eq(got, want);
                ck_assert_uint_eq(len, strlen(want));
        }
        ck_assert_ptr_null(history_get(&h, history_count(&h), &len));
}

struct collect {
        char text[512];
        int calls;
        int stop_after;
};

static int collect(const char *line, size_t len, void *arg)
{
        struct collect *co = arg;

        strncat(co->text, line, len);
        strcat(co->text, "|");
        co->calls++;
        return co->calls == co->stop_after ? 7 : 0;
}

START_TEST(empty)
{
        ck_assert_int_eq(history_init(&h, 5), 0);
        ck_assert_uint_eq(history_capacity(&h), 5);
        ck_assert_uint_eq(history_count(&h), 0);
        ck_assert_ptr_null(history_get(&h, 0, NULL));
}
END_TEST

START_TEST(push_in_order)
{
        ck_assert_int_eq(history_init(&h, 5), 0);
        push_range(1, 3);
        assert_range(1, 3);
}
END_TEST

START_TEST(copies_are_owned)
{
        char line[16] = "first";
        size_t len;

        ck_assert_int_eq(history_init(&h, 2), 0);
        ck_assert_int_eq(history_push(&h, line, 5), 0);
        strcpy(line, "XXXXX");
        ck_assert_str_eq(history_get(&h, 0, NULL), "first");
        /* len bytes are taken, not up to a NUL, and NUL-terminated */
        ck_assert_int_eq(history_push(&h, "abcdef", 3), 0);
        ck_assert_str_eq(history_get(&h, 1, &len), "abc");
        ck_assert_uint_eq(len, 3);
        ck_assert_int_eq(history_push(&h, "", 0), 0);
        ck_assert_str_eq(history_get(&h, 1, &len), "");
        ck_assert_uint_eq(len, 0);
}
END_TEST

START_TEST(wraparound)
{
        ck_assert_int_eq(history_init(&h, 3), 0);
        push_range(1, 3);
        assert_range(1, 3);
        push_range(4, 4);
        assert_range(2, 4);
        /* many laps around the ring */
        push_range(5, 31);
        assert_range(29, 31);
        ck_assert_uint_eq(history_capacity(&h), 3);
}
END_TEST

START_TEST(capacity_one)
{
        ck_assert_int_eq(history_init(&h, 1), 0);
        push_range(1, 5);
        assert_range(5, 5);
}
END_TEST

START_TEST(capacity_zero)
{
        ck_assert_int_eq(history_init(&h, 0), 0);
        ck_assert_uint_eq(history_capacity(&h), 0);
        push_range(1, 10);
        ck_assert_uint_eq(history_count(&h), 0);
        ck_assert_ptr_null(history_get(&h, 0, NULL));
        history_clear(&h);
        ck_assert_uint_eq(history_count(&h), 0);
}
END_TEST

START_TEST(capacity_limit)
{
        ck_assert_int_eq(history_init(&h, HISTORY_MAX + 1), -EINVAL);
        ck_assert_int_eq(history_init(&h, HISTORY_MAX), 0);
        push_range(1, HISTORY_MAX + 10);
        assert_range(11, HISTORY_MAX + 10);
        ck_assert_int_eq(history_resize(&h, HISTORY_MAX + 1), -EINVAL);
        assert_range(11, HISTORY_MAX + 10);
}
END_TEST

START_TEST(foreach)
{
        struct collect co = { .stop_after = -1 };

        ck_assert_int_eq(history_init(&h, 3), 0);
        ck_assert_int_eq(history_foreach(&h, collect, &co), 0);
        ck_assert_int_eq(co.calls, 0);
        push_range(1, 5);
        ck_assert_int_eq(history_foreach(&h, collect, &co), 0);
        ck_assert_str_eq(co.text, "line 3|line 4|line 5|");

        co = (struct collect){ .stop_after = 2 };
        ck_assert_int_eq(history_foreach(&h, collect, &co), 7);
        ck_assert_int_eq(co.calls, 2);
        ck_assert_str_eq(co.text, "line 3|line 4|");
}
END_TEST

START_TEST(clear)
{
        ck_assert_int_eq(history_init(&h, 3), 0);
        push_range(1, 5);
        history_clear(&h);
        ck_assert_uint_eq(history_count(&h), 0);
        ck_assert_uint_eq(history_capacity(&h), 3);
        push_range(6, 7);
        assert_range(6, 7);
}
END_TEST

START_TEST(resize_up)
{
        ck_assert_int_eq(history_init(&h, 3), 0);
        push_range(1, 5);              /* ring wrapped: 3 4 5 */
        ck_assert_int_eq(history_resize(&h, 6), 0);
        ck_assert_uint_eq(history_capacity(&h), 6);
        assert_range(3, 5);
        push_range(6, 8);
        assert_range(3, 8);
        push_range(9, 9);
        assert_range(4, 9);
}
END_TEST

START_TEST(resize_down)
{
        ck_assert_int_eq(history_init(&h, 5), 0);
        push_range(1, 7);              /* 3 .. 7, wrapped */
        ck_assert_int_eq(history_resize(&h, 2), 0);
        ck_assert_uint_eq(history_capacity(&h), 2);
        assert_range(6, 7);             /* the newest survive */
        push_range(8, 8);
        assert_range(7, 8);

        /* shrinking to more than is stored keeps everything */
        history_free(&h);
        ck_assert_int_eq(history_init(&h, 10), 0);
        push_range(1, 3);
        ck_assert_int_eq(history_resize(&h, 4), 0);
        assert_range(1, 3);
}
END_TEST

START_TEST(resize_zero_and_back)
{
        ck_assert_int_eq(history_init(&h, 4), 0);
        push_range(1, 6);
        ck_assert_int_eq(history_resize(&h, 0), 0);
        ck_assert_uint_eq(history_capacity(&h), 0);
        ck_assert_uint_eq(history_count(&h), 0);
        push_range(7, 8);
        ck_assert_uint_eq(history_count(&h), 0);
        ck_assert_int_eq(history_resize(&h, 2), 0);
        ck_assert_uint_eq(history_count(&h), 0);
        push_range(9, 11);
        assert_range(10, 11);
        ck_assert_int_eq(history_resize(&h, 2), 0);    /* same size: no change */
        assert_range(10, 11);
}
END_TEST

START_TEST(free_twice)
{
        ck_assert_int_eq(history_init(&h, 3), 0);
        push_range(1, 2);
        history_free(&h);
        ck_assert_uint_eq(history_count(&h), 0);
        ck_assert_uint_eq(history_capacity(&h), 0);
        history_free(&h);       /* the teardown frees it once more */
}
END_TEST

Suite *test_suite(void)
{
        Suite *s = suite_create("history");
        TCase *tc = tcase_create("ring");

        tcase_add_checked_fixture(tc, NULL, teardown);
        tcase_add_test(tc, empty);
        tcase_add_test(tc, push_in_order);
        tcase_add_test(tc, copies_are_owned);
        tcase_add_test(tc, wraparound);
        tcase_add_test(tc, capacity_one);
        tcase_add_test(tc, capacity_zero);
        tcase_add_test(tc, capacity_limit);
        tcase_add_test(tc, foreach);
        tcase_add_test(tc, clear);
        tcase_add_test(tc, resize_up);
        tcase_add_test(tc, resize_down);
        tcase_add_test(tc, resize_zero_and_back);
        tcase_add_test(tc, free_twice);
        suite_add_tcase(s, tc);
        return s;
}
