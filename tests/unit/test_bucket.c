/* Unit: the flood control token bucket. */
#include <stdint.h>

#include "bucket.h"
#include "suite.h"

/* Take n tokens at now, each of which must be there. */
static void take_n(struct bucket *b, int n, int64_t now)
{
        for (int i = 0; i < n; i++)
                ck_assert_msg(bucket_take(b, now) == 0, "token %d of %d missing", i + 1, n);
}

START_TEST(burst_then_delay)
{
        struct bucket b;

        bucket_init(&b, 10, 20, 1000);
        take_n(&b, 20, 1000);
        /* 10 a second: the next token is 100 ms away */
        ck_assert_int_eq(bucket_take(&b, 1000), 100);
        /* refusing takes nothing: the wait does not grow */
        ck_assert_int_eq(bucket_take(&b, 1000), 100);
        ck_assert_int_eq(bucket_take(&b, 1040), 60);
        ck_assert_int_eq(bucket_take(&b, 1099), 1);
        ck_assert_int_eq(bucket_take(&b, 1100), 0);
        ck_assert_int_eq(bucket_take(&b, 1100), 100);
}
END_TEST

START_TEST(refill)
{
        struct bucket b;

        bucket_init(&b, 10, 20, 0);
        take_n(&b, 20, 0);
        /* one second earns exactly rate tokens */
        take_n(&b, 10, 1000);
        ck_assert_int_eq(bucket_take(&b, 1000), 100);
        /* a long quiet spell earns no more than burst */
        take_n(&b, 20, 3600 * 1000);
        ck_assert_int_eq(bucket_take(&b, 3600 * 1000), 100);
}
END_TEST

START_TEST(delay_rounds_up)
{
        struct bucket b;

        /* 3 a second: a token every 333.3 ms, waits are whole ms rounded
         * up. A burst of 2 leaves room for the fraction past a token. */
        bucket_init(&b, 3, 2, 0);
        take_n(&b, 2, 0);
        ck_assert_int_eq(bucket_take(&b, 0), 334);
        ck_assert_int_eq(bucket_take(&b, 333), 1);
        ck_assert_int_eq(bucket_take(&b, 334), 0);
        /* 2 thousandths left over: the next one is due at 667, then 1000 */
        ck_assert_int_eq(bucket_take(&b, 334), 333);
        ck_assert_int_eq(bucket_take(&b, 667), 0);
        ck_assert_int_eq(bucket_take(&b, 999), 1);
        ck_assert_int_eq(bucket_take(&b, 1000), 0);
}
END_TEST

START_TEST(no_drift)
{
        static const unsigned rates[] = { 1, 3, 7, 10, 999, 1000, 1001 };

        for (size_t r = 0; r < sizeof(rates) / sizeof(rates[0]); r++) {
                struct bucket b;
                int64_t t = 0, taken = 0;

                /* A client that always waits exactly as long as told. (A
                 * burst of 2 keeps rates above 1000/s from overflowing
                 * the bucket within one millisecond.) */
                bucket_init(&b, rates[r], 2, 0);
                while (t <= 60000) {
                        int64_t w = bucket_take(&b, t);

                        if (w == 0) {
                                taken++;
                                continue;
                        }
                        ck_assert_int_gt(w, 0);
                        /* the wait is not a millisecond too long */
                        if (t + w - 1 <= 60000)
                                ck_assert_int_eq(bucket_take(&b, t + w - 1), 1);
                        t += w;
                }
                /* burst, plus exactly rate a second for 60 s */
                ck_assert_int_eq(taken, 2 + 60 * (int64_t)rates[r]);
        }
}
END_TEST

START_TEST(polling_every_ms)
{
        struct bucket b;
        int64_t taken = 0;

        bucket_init(&b, 7, 5, 0);
        for (int64_t t = 0; t <= 10000; t++)
                while (bucket_take(&b, t) == 0)
                        taken++;
        ck_assert_int_eq(taken, 5 + 70);
}
END_TEST

START_TEST(delay_takes_nothing)
{
        struct bucket b;

        bucket_init(&b, 10, 2, 0);
        ck_assert_int_eq(bucket_delay(&b, 0), 0);
        ck_assert_int_eq(bucket_delay(&b, 0), 0);
        take_n(&b, 2, 0);
        ck_assert_int_eq(bucket_delay(&b, 0), 100);
        ck_assert_int_eq(bucket_delay(&b, 30), 70);
        ck_assert_int_eq(bucket_delay(&b, 100), 0);
        ck_assert_int_eq(bucket_delay(&b, 100), 0);
        ck_assert_int_eq(bucket_take(&b, 100), 0);
        ck_assert_int_eq(bucket_delay(&b, 100), 100);
}
END_TEST

START_TEST(rate_change_keeps_fill)
{
        struct bucket b;

        bucket_init(&b, 10, 20, 0);
        take_n(&b, 20, 0);
        /* half a token earned at the old rate, kept across the change */
        bucket_set_rate(&b, 1000, 20, 50);
        ck_assert_int_eq(bucket_take(&b, 50), 1);
        ck_assert_int_eq(bucket_take(&b, 51), 0);
        /* the new rate applies from now on: 1000 a second */
        ck_assert_int_eq(bucket_take(&b, 51), 1);
        take_n(&b, 5, 56);
        ck_assert_int_eq(bucket_take(&b, 56), 1);
}
END_TEST

START_TEST(rate_change_slower)
{
        struct bucket b;

        bucket_init(&b, 10, 20, 0);
        take_n(&b, 20, 0);
        /* 100 ms at 10 a second earned one token before the change */
        bucket_set_rate(&b, 1, 20, 100);
        ck_assert_int_eq(bucket_take(&b, 100), 0);
        ck_assert_int_eq(bucket_take(&b, 100), 1000);
}
END_TEST

START_TEST(burst_change)
{
        struct bucket b;

        /* a smaller burst caps the fill */
        bucket_init(&b, 10, 20, 0);
        bucket_set_rate(&b, 10, 5, 0);
        take_n(&b, 5, 0);
        ck_assert_int_eq(bucket_take(&b, 0), 100);

        /* a larger one adds room, not tokens */
        bucket_init(&b, 10, 3, 0);
        bucket_set_rate(&b, 10, 50, 0);
        take_n(&b, 3, 0);
        ck_assert_int_eq(bucket_take(&b, 0), 100);
        take_n(&b, 50, 60000);
        ck_assert_int_eq(bucket_take(&b, 60000), 100);
}
END_TEST

START_TEST(zero_is_one)
{
        struct bucket b;

        bucket_init(&b, 0, 0, 0);
        ck_assert_int_eq(bucket_take(&b, 0), 0);
        ck_assert_int_eq(bucket_take(&b, 0), 1000);
}
END_TEST

START_TEST(clock_oddities)
{
        struct bucket b;

        bucket_init(&b, 10, 1, 1000);
        take_n(&b, 1, 1000);
        /* an earlier time earns nothing and does not move the clock back */
        ck_assert_int_eq(bucket_take(&b, 500), 100);
        ck_assert_int_eq(bucket_take(&b, 1050), 50);
        ck_assert_int_eq(bucket_take(&b, 1100), 0);

        /* a gap far too long to multiply by the rate */
        bucket_init(&b, 100000, 100000, 0);
        take_n(&b, 100000, 0);
        take_n(&b, 100000, INT64_MAX / 2);
        ck_assert_int_eq(bucket_take(&b, INT64_MAX / 2), 1);
}
END_TEST

Suite *test_suite(void)
{
        Suite *s = suite_create("bucket");
        TCase *tc = tcase_create("bucket");

        tcase_add_test(tc, burst_then_delay);
        tcase_add_test(tc, refill);
        tcase_add_test(tc, delay_rounds_up);
        tcase_add_test(tc, no_drift);
        tcase_add_test(tc, polling_every_ms);
        tcase_add_test(tc, delay_takes_nothing);
        tcase_add_test(tc, rate_change_keeps_fill);
        tcase_add_test(tc, rate_change_slower);
        tcase_add_test(tc, burst_change);
        tcase_add_test(tc, zero_is_one);
        tcase_add_test(tc, clock_oddities);
        suite_add_tcase(s, tc);
        return s;
}
