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

/* Many more sources than entries: time and memory stay bounded, a
 * source being limited keeps its limit however many others come, and
 * the newcomers that find no entry share one bucket of the same rate. */
START_TEST(rate_table_busy)
{
        struct rate_table t;
        struct addr_key hot = src(424242);
        unsigned hot_passed = 0, new_passed = 0;

        ck_assert_int_eq(rate_init(&t, 100), 0);
        ck_assert_uint_eq(t.size, 128);
        ck_assert_uint_eq(passed(&t, &hot, 10, 10, 0), 10);
        for (unsigned i = 0; i < 100000; i++) {
                struct addr_key k = src(i);
                int64_t now = 1 + i / 1000;     /* 100 ms in all */
                new_passed += rate_check(&t, &k, 10, now) == RATE_PASS;
                if (i % 16 == 0)
                        hot_passed += rate_check(&t, &hot, 10, now) == RATE_PASS;
        }
        /* 10/s for 100 ms: one more at most, never a fresh burst. */
        ck_assert_uint_le(hot_passed, 1);
        /* The table's own entries, and the shared bucket: bounded. */
        ck_assert_uint_le(new_passed, t.size * 10 + 10 + 10);
        ck_assert_uint_le(rate_sources(&t, 100), t.size);
        rate_free(&t);
}
END_TEST

/* Sources chosen to collide (the key is known here) cannot take a
 * limited source's entry and so reset it. */
START_TEST(rate_collisions_do_not_reset)
{
        struct rate_table t;
        struct addr_key victim = src(1), other[64];
        size_t home, n = 0;

        ck_assert_int_eq(rate_init_seeded(&t, 64, 12345), 0);
        home = rate_slot(&t, &victim);
        for (unsigned i = 2; n < 64 && i < 1000000; i++) {
                struct addr_key k = src(i);
                if (rate_slot(&t, &k) == home)
                        other[n++] = k;
        }
        ck_assert_uint_eq(n, 64);
        /* The victim is being limited... */
        ck_assert_uint_eq(passed(&t, &victim, 5, 10, 0), 5);
        /* ...colliding sources fill its window, many times over... */
        for (size_t i = 0; i < n; i++)
                passed(&t, &other[i], 5, 1, 10);
        /* ...and it is still limited: no fresh bucket of 5. */
        ck_assert_uint_eq(passed(&t, &victim, 5, 10, 20), 0);
        rate_free(&t);

        /* Two keys, two places: where a source lands depends on the key,
         * which each process draws for itself. */
        struct rate_table u;
        unsigned same = 0;
        ck_assert_int_eq(rate_init_seeded(&t, 4096, 1), 0);
        ck_assert_int_eq(rate_init_seeded(&u, 4096, 2), 0);
        for (unsigned i = 0; i < 1000; i++) {
                struct addr_key k = src(i);
                same += rate_slot(&t, &k) == rate_slot(&u, &k);
        }
        ck_assert_uint_lt(same, 20);
        rate_free(&t);
        rate_free(&u);
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
        tcase_add_test(tc, rate_collisions_do_not_reset);
        suite_add_tcase(s, tc);
        return s;
}
