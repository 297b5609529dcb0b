/* Unit: per-source rate limits: the burst, the rate, sources apart,
 * forgetting, eviction when the table is busy, and a rate changed. */
#include <string.h>
#include <sys/socket.h>

#include "rate.h"
#include "suite.h"

static struct addr_key src(unsigned n)
{
        struct addr_key k;

        memset(&k, 0, sizeof(k));
        k.family = AF_INET;
        k.bytes[0] = 10;
        k.bytes[1] = (uint8_t)(n >> 16);
        k.bytes[2] = (uint8_t)(n >> 8);
        k.bytes[3] = (uint8_t)n;
        return k;
}

/* Datagrams of count from k at now that pass. */
static unsigned passed(struct rate_table *t, const struct addr_key *k, unsigned per_sec,
                       unsigned count, int64_t now)
{
        unsigned n = 0;

        for (unsigned i = 0; i < count; i++)
                n += rate_check(t, k, per_sec, now) == RATE_PASS;
        return n;
}

START_TEST(rate_burst_then_rate)
{
        struct rate_table t;
        struct addr_key a = src(1);

        ck_assert_int_eq(rate_init(&t, 64), 0);
        ck_assert_uint_eq(passed(&t, &a, 100, 100, 1000), 100);
        /* the first drop of a run says so, the others do not */
        ck_assert_int_eq(rate_check(&t, &a, 100, 1000), RATE_DROP_FIRST);
        ck_assert_int_eq(rate_check(&t, &a, 100, 1000), RATE_DROP);
        /* 100/s: one more every 10 ms */
        ck_assert_int_eq(rate_check(&t, &a, 100, 1009), RATE_DROP);
        ck_assert_int_eq(rate_check(&t, &a, 100, 1010), RATE_PASS);
        ck_assert_int_eq(rate_check(&t, &a, 100, 1010), RATE_DROP);
        /* A steady flood gets exactly the rate: 10 s at 1000/s, 100 through a second. */
        unsigned n = 0;
        for (int64_t ms = 1011; ms < 11011; ms++)
                n += passed(&t, &a, 100, 1, ms);
        ck_assert_uint_eq(n, 1000);
        rate_free(&t);
}
END_TEST

START_TEST(rate_sources_apart)
{
        struct rate_table t;
        struct addr_key a = src(1), b = src(2);

        ck_assert_int_eq(rate_init(&t, 64), 0);
        ck_assert_uint_eq(passed(&t, &a, 10, 1000, 5000), 10);
        ck_assert_uint_eq(passed(&t, &b, 10, 5, 5000), 5);
        ck_assert_uint_eq(rate_sources(&t, 5000), 2);
        rate_free(&t);
}
END_TEST

START_TEST(rate_off_and_changed)
{
        struct rate_table t;
        struct addr_key a = src(1);

        ck_assert_int_eq(rate_init(&t, 64), 0);
        ck_assert_uint_eq(passed(&t, &a, 0, 10000, 0), 10000);
        ck_assert_uint_eq(rate_sources(&t, 0), 0);
        ck_assert_uint_eq(passed(&t, &a, 5, 100, 100), 5);
        /* A reload to 50/s: half a token was earned at 5/s by 200 ms, then
         * 5 more at the new rate by 300 ms. */
        ck_assert_uint_eq(passed(&t, &a, 50, 100, 200), 0);
        ck_assert_uint_eq(passed(&t, &a, 50, 100, 300), 5);
        rate_free(&t);
}
END_TEST

START_TEST(rate_forgets_quiet_sources)
{
        struct rate_table t;
        struct addr_key a = src(7);

        ck_assert_int_eq(rate_init(&t, 64), 0);
        ck_assert_uint_eq(passed(&t, &a, 20, 100, 0), 20);
        ck_assert_uint_eq(rate_sources(&t, RATE_FORGET_MS - 1), 1);
        ck_assert_uint_eq(rate_sources(&t, RATE_FORGET_MS), 0);
        /* Back after a quiet second: a full burst, and a new run is reported. */
        ck_assert_uint_eq(passed(&t, &a, 20, 20, RATE_FORGET_MS), 20);
        ck_assert_int_eq(rate_check(&t, &a, 20, RATE_FORGET_MS), RATE_DROP_FIRST);
        rate_free(&t);
}
END_TEST

/* Many more sources than entries: time and memory stay bounded, sources
 * that are seen keep their limit, and none is kept out. */
START_TEST(rate_table_busy)
{
        struct rate_table t;
        struct addr_key hot = src(424242);

        ck_assert_int_eq(rate_init(&t, 100), 0);
        ck_assert_uint_eq(t.size, 128);
        ck_assert_uint_eq(passed(&t, &hot, 10, 10, 0), 10);
        for (unsigned i = 0; i < 100000; i++) {
                struct addr_key k = src(i);
                /* every new source gets through: eviction never blocks */
                ck_assert_int_eq(rate_check(&t, &k, 10, 1 + i / 1000), RATE_PASS);
                if (i % 16 == 0)
                        rate_check(&t, &hot, 10, 1 + i / 1000);
        }
        ck_assert_uint_le(rate_sources(&t, 100), t.size);
        rate_free(&t);
}
END_TEST

Suite *test_suite(void)
{
        Suite *s = suite_create("rate");
        TCase *tc = tcase_create("rate");

        tcase_add_test(tc, rate_burst_then_rate);
        tcase_add_test(tc, rate_sources_apart);
        tcase_add_test(tc, rate_off_and_changed);
        tcase_add_test(tc, rate_forgets_quiet_sources);
        tcase_add_test(tc, rate_table_busy);
        suite_add_tcase(s, tc);
        return s;
}
