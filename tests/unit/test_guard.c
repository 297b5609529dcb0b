/* Unit: the chat service's per-source throttles (guard.c): the password
 * back-off across connections, its log lines, the notice budget, and
 * that more sources than entries buy nobody a fresh start. */
#include <string.h>
#include <sys/socket.h>

#include "guard.h"
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

static struct guard g;

static void setup(void)
{
        guard_init(&g);
}

static void teardown(void)
{
        guard_destroy(&g);
}

START_TEST(pass_backoff_doubles)
{
        struct addr_key a = src(1), b = src(2);
        int64_t now = 1000000;

        ck_assert_int_eq(guard_pass_wait(&g, &a, now), 0);
        /* 1 s, 2 s, 4 s, ... up to the cap. */
        for (int i = 0; i < 10; i++) {
                guard_pass_failed(&g, &a, now);
                int64_t want = (int64_t)PICHAT_PASS_PAUSE_MS << i;
                if (want > PICHAT_PASS_BACKOFF_MAX_MS)
                        want = PICHAT_PASS_BACKOFF_MAX_MS;
                ck_assert_int_eq(guard_pass_wait(&g, &a, now), want);
                now += want;
                ck_assert_int_eq(guard_pass_wait(&g, &a, now), 0);
        }
        /* Another address is not held back; the right password clears. */
        ck_assert_int_eq(guard_pass_wait(&g, &b, now), 0);
        guard_pass_failed(&g, &a, now);
        guard_pass_ok(&g, &a);
        ck_assert_int_eq(guard_pass_wait(&g, &a, now), 0);
        guard_pass_failed(&g, &a, now);
        ck_assert_int_eq(guard_pass_wait(&g, &a, now), PICHAT_PASS_PAUSE_MS);
}
END_TEST

static unsigned reported, reports;

static void count_report(void *arg, const struct addr_key *k, unsigned n)
{
        (void)arg;
        (void)k;
        reported += n;
        reports++;
}

/* The first wrong try of an address is logged at once; then at most a
 * line a PICHAT_PASS_LOG_MS, with the count. */
START_TEST(pass_log_lines)
{
        struct addr_key a = src(1);
        int64_t now = 5000000;

        ck_assert_uint_eq(guard_pass_failed(&g, &a, now), 1);
        for (int i = 0; i < 50; i++)
                ck_assert_uint_eq(guard_pass_failed(&g, &a, now + i), 0);
        reported = reports = 0;
        guard_pass_report(&g, now + PICHAT_PASS_LOG_MS - 1, count_report, NULL);
        ck_assert_uint_eq(reports, 0);
        guard_pass_report(&g, now + PICHAT_PASS_LOG_MS, count_report, NULL);
        ck_assert_uint_eq(reports, 1);
        ck_assert_uint_eq(reported, 50);
        guard_pass_report(&g, now + 3 * PICHAT_PASS_LOG_MS, count_report, NULL);
        ck_assert_uint_eq(reports, 1);
}
END_TEST

/* More guessing addresses than entries: those without one share one, so
 * a guesser with many addresses gains no fresh back-off; an address being
 * held back keeps its entry. */
START_TEST(pass_many_sources)
{
        struct addr_key victim = src(0);
        int64_t now = 1000;

        for (int i = 0; i < 5; i++)
                guard_pass_failed(&g, &victim, now);
        for (unsigned i = 1; i < 3 * PICHAT_GUARD_SOURCES; i++) {
                struct addr_key k = src(i);
                guard_pass_failed(&g, &k, now);
        }
        ck_assert_int_eq(guard_pass_wait(&g, &victim, now), (int64_t)PICHAT_PASS_PAUSE_MS << 4);
        /* A newcomer now shares the overflow entry, held back too. */
        struct addr_key late = src(999999);
        ck_assert_int_gt(guard_pass_failed(&g, &late, now) + 1, 0);
        ck_assert_int_gt(guard_pass_wait(&g, &late, now), PICHAT_PASS_PAUSE_MS);
}
END_TEST

START_TEST(notice_budget)
{
        struct addr_key a = src(1), b = src(2);
        int64_t now = 1000;

        for (int i = 0; i < PICHAT_NOTICE_BURST; i++)
                ck_assert(guard_notice(&g, &a, now));
        ck_assert(!guard_notice(&g, &a, now));
        ck_assert(guard_notice(&g, &b, now));
        ck_assert(!guard_notice(&g, &a, now + PICHAT_NOTICE_REFILL_MS - 1));
        ck_assert(guard_notice(&g, &a, now + PICHAT_NOTICE_REFILL_MS));
        ck_assert(!guard_notice(&g, &a, now + PICHAT_NOTICE_REFILL_MS));
        /* Quiet long enough, a full budget again. */
        now += (PICHAT_NOTICE_BURST + 1) * PICHAT_NOTICE_REFILL_MS;
        for (int i = 0; i < PICHAT_NOTICE_BURST; i++)
                ck_assert(guard_notice(&g, &a, now));
}
END_TEST

Suite *test_suite(void)
{
        Suite *s = suite_create("guard");
        TCase *tc = tcase_create("guard");

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, pass_backoff_doubles);
        tcase_add_test(tc, pass_log_lines);
        tcase_add_test(tc, pass_many_sources);
        tcase_add_test(tc, notice_budget);
        suite_add_tcase(s, tc);
        return s;
}
