/* Unit: the services that answer once (answer.c): RFC 868's count and its
 * 2036 wrap, the daytime line and its presets (checked against what
 * Python's time.ctime() prints), the checks a format gets at load, the
 * order quotes come in, and each service's answer() with its counts. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "answer.h"
#include "bounds.h"
#include "conf.h"
#include "quotes.h"
#include "suite.h"

/* The daytime tests read the local time: make it UTC. */
static void utc(void)
{
        setenv("TZ", "UTC", 1);
        tzset();
}

START_TEST(time_value)
{
        /* Values from Python: (t + 2208988800) % 2**32. */
        static const struct {
                int64_t t;
                uint32_t v;
        } cases[] = {
                { 0, 2208988800u },             /* 1970-01-01 */
                { -2208988800LL, 0 },           /* 1900-01-01 */
                { 951782400, 3160771200u },     /* 2000-02-29 */
                { 1796218657, 4005207457u },    /* Wed Dec  2 13:37:37 2026 */
                { 2085978495, 4294967295u },    /* 2036-02-07 06:28:15: the last */
                { 2085978496, 0 },              /* 06:28:16: it wraps */
                { 2085978497, 1 },
        };
        uint8_t b[4];

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
                ck_assert_uint_eq(answer_time_value(cases[i].t), cases[i].v);
        answer_time(b, 1796218657);
        ck_assert_mem_eq(b, "\xee\xba\x9d\xa1", 4);     /* 4005207457, big-endian */
}
END_TEST

START_TEST(daytime_lines)
{
        char buf[PICHAT_ANSWER_MAX + 1];
        size_t n;

        utc();
        /* The default, as conf/pichat.ini shows it. */
        n = answer_daytime(buf, sizeof(buf), "%A, %B %-d, %Y %H:%M:%S %Z", 1796218657);
        buf[n] = '\0';
        ck_assert_str_eq(buf, "Wednesday, December 2, 2026 13:37:37 UTC\r\n");
        /* The preset: time.ctime() + "\r\n", byte for byte (the day
         * padded with a space). */
        n = answer_daytime(buf, sizeof(buf), "ctime", 1796218657);
        buf[n] = '\0';
        ck_assert_str_eq(buf, "Wed Dec  2 13:37:37 2026\r\n");
        n = answer_daytime(buf, sizeof(buf), "ctime", 2085978496);
        buf[n] = '\0';
        ck_assert_str_eq(buf, "Thu Feb  7 06:28:16 2036\r\n");
        n = answer_daytime(buf, sizeof(buf), "ctime", 0);
        buf[n] = '\0';
        ck_assert_str_eq(buf, "Thu Jan  1 00:00:00 1970\r\n");
        ck_assert_str_eq(answer_daytime_format("ctime"), "%a %b %e %H:%M:%S %Y");
        ck_assert_str_eq(answer_daytime_format("%c"), "%c");
        /* Literal text is a format too. */
        n = answer_daytime(buf, sizeof(buf), "now", 0);
        buf[n] = '\0';
        ck_assert_str_eq(buf, "now\r\n");
        /* What does not fit is nothing, never a line cut short. */
        ck_assert_uint_eq(answer_daytime(buf, 10, "%A %B", 0), 0);
        n = answer_daytime(buf, 10, "%H:%M:%S", 0);
        ck_assert_uint_eq(n, 10);
        ck_assert_mem_eq(buf, "00:00:00\r\n", 10);
}
END_TEST

START_TEST(daytime_checks)
{
        char longest[200];

        ck_assert_ptr_null(answer_daytime_check("%A, %B %-d, %Y %H:%M:%S %Z"));
        ck_assert_ptr_null(answer_daytime_check("ctime"));
        ck_assert_ptr_null(answer_daytime_check("%c"));
        ck_assert_ptr_null(answer_daytime_check("%FT%T%z"));
        ck_assert_ptr_null(answer_daytime_check("tab\t%T"));
        ck_assert_str_eq(answer_daytime_check(""), "empty");
        ck_assert_ptr_nonnull(strstr(answer_daytime_check("%T%n"), "line end"));
        ck_assert_ptr_nonnull(strstr(answer_daytime_check("a%tb%nc"), "line end"));
        /* A value of a line's length that strftime makes ten times longer. */
        memset(longest, 0, sizeof(longest));
        for (size_t i = 0; i + 2 < 190; i += 2)
                memcpy(longest + i, "%c", 2);
        ck_assert_ptr_nonnull(strstr(answer_daytime_check(longest), "more than 509 bytes"));
        /* Just fits: 509 bytes of text and CR LF. */
        char fits[510];
        memset(fits, 'x', 509);
        fits[509] = '\0';
        ck_assert_ptr_null(answer_daytime_check(fits));
        fits[508] = '\0';
        ck_assert_ptr_null(answer_daytime_check(fits));
}
END_TEST

/* Every quote once per round, in an order the seed changes. */
START_TEST(pick_order)
{
        static const size_t counts[] = { 1, 2, 3, 7, 40, 64, 1000, 4099 };

        for (size_t c = 0; c < sizeof(counts) / sizeof(counts[0]); c++) {
                size_t count = counts[c];
                unsigned char *seen = calloc(count, 1);
                size_t same = 0;

                ck_assert_ptr_nonnull(seen);
                for (unsigned long n = 0; n < 3 * count; n++) {
                        size_t i = answer_pick(0x1234, n, count);
                        ck_assert_uint_lt(i, count);
                        ck_assert_msg(seen[i] == n / count, "count %zu: %zu twice in round %lu",
                                      count, i, n / count);
                        seen[i]++;
                        same += i == answer_pick(0x9876, n, count);
                }
                if (count >= 40)
                        ck_assert_msg(same < count, "count %zu: two seeds, one order", count);
                free(seen);
        }
}
END_TEST

static struct conf *load(const char *ini)
{
        struct conf_errors errs;
        struct conf *cf = conf_load_string("test.ini", ini, &errs);

        for (unsigned i = 0; cf == NULL && i < errs.n; i++)
                fprintf(stderr, "%s\n", errs.msg[i]);
        ck_assert_ptr_nonnull(cf);
        return cf;
}

/* Each service's answer() through its struct service, as the server and
 * the UDP loop call it: the bytes, and what it counts. */
START_TEST(services)
{
        char ini[512], buf[PICHAT_ANSWER_MAX];
        struct answer a;
        ssize_t n;

        utc();
        snprintf(ini, sizeof(ini), "[daytime]\nenabled = yes\nformat = ctime\n"
                 "[qotd]\nenabled = yes\nfile = %s\n", getenv("PICHAT_QUOTES"));
        struct conf *cf = load(ini);

        answer_init(&a);
        time_t before = time(NULL);
        n = daytime_service.answer(&a, cf, false, buf, sizeof(buf));
        ck_assert_int_eq(n, 26);
        ck_assert_mem_eq(buf + 24, "\r\n", 2);
        char want[32];
        struct tm tm;
        time_t after = time(NULL);
        bool match = false;
        for (time_t t = before; t <= after; t++) {
                gmtime_r(&t, &tm);
                strftime(want, sizeof(want), "%a %b %e %H:%M:%S %Y\r\n", &tm);
                match |= memcmp(buf, want, 26) == 0;
        }
        ck_assert_msg(match, "daytime answered '%.*s'", (int)n, buf);
        n = daytime_service.answer(&a, cf, true, buf, sizeof(buf));
        ck_assert_int_eq(n, 26);
        ck_assert_uint_eq(atomic_load(&a.tcp), 1);
        ck_assert_uint_eq(atomic_load(&a.udp), 1);
        ck_assert_uint_eq(answer_requests(&a), 2);

        answer_init(&a);
        n = time_service.answer(&a, cf, true, buf, sizeof(buf));
        ck_assert_int_eq(n, 4);
        uint32_t v = (uint32_t)(uint8_t)buf[0] << 24 | (uint32_t)(uint8_t)buf[1] << 16 |
                     (uint32_t)(uint8_t)buf[2] << 8 | (uint8_t)buf[3];
        ck_assert_uint_le(v - answer_time_value(time(NULL)) + 2, 4);   /* within 2 s */
        ck_assert_uint_eq(atomic_load(&a.udp), 1);
        ck_assert_int_eq(time_service.answer(&a, cf, false, buf, 3), -ENOSPC);

        /* qotd: each quote of the file once before any comes again. */
        answer_init(&a);
        const struct quotes *q = cf->qotd.quotes;
        ck_assert_ptr_nonnull(q);
        unsigned char *seen = calloc(q->n, 1);
        for (size_t k = 0; k < q->n; k++) {
                n = qotd_service.answer(&a, cf, k % 2, buf, sizeof(buf));
                ck_assert_int_gt(n, 0);
                ck_assert_int_le(n, PICHAT_ANSWER_MAX);
                ck_assert_mem_eq(buf + n - 2, "\r\n", 2);
                bool found = false;
                for (size_t i = 0; i < q->n; i++) {
                        size_t len;
                        const char *text = quotes_get(q, i, &len);
                        if (len == (size_t)n && memcmp(text, buf, len) == 0) {
                                ck_assert_msg(!seen[i], "quote %zu twice", i);
                                seen[i] = 1;
                                found = true;
                        }
                }
                ck_assert(found);
        }
        free(seen);
        ck_assert_uint_eq(answer_requests(&a), q->n);
        ck_assert_uint_eq(atomic_load(&a.udp), q->n / 2);
        conf_unref(cf);

        /* A configuration without quotes (qotd off) answers nothing. */
        cf = load("");
        ck_assert_int_lt(qotd_service.answer(&a, cf, false, buf, sizeof(buf)), 0);
        conf_unref(cf);
}
END_TEST

Suite *test_suite(void)
{
        Suite *s = suite_create("answer");
        TCase *tc = tcase_create("answer");

        tcase_add_test(tc, time_value);
        tcase_add_test(tc, daytime_lines);
        tcase_add_test(tc, daytime_checks);
        tcase_add_test(tc, pick_order);
        tcase_add_test(tc, services);
        suite_add_tcase(s, tc);
        return s;
}
