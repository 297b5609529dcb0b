/* Torture: slowloris: 200 clients, each on an address of its own, sending
 * one byte a second and never a line end. The line timeout closes every
 * one of them (the idle timeout never would: they are never silent),
 * while a client that behaves is answered promptly throughout. */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "suite.h"
#include "torture.h"

#define WELCOME "Welcome to the server. Type something and hit enter"
#define LINE_TIMEOUT_S 3

START_TEST(slowloris)
{
        unsigned n = tt_scaled(200);
        struct pd d;
        struct pd_client *drip = calloc(n, sizeof(*drip)), good;
        long long *closed_at = calloc(n, sizeof(*closed_at));
        bool *told = calloc(n, sizeof(*told));
        struct tt_base base, now;
        char src[32], line[256], ini[256];

        ck_assert(drip && closed_at && told);
        tt_raise_nofile();
        snprintf(ini, sizeof(ini), "[server]\nidle_timeout_s = 60\nline_timeout_s = %d\n"
                 "[log]\nlevel = info\n", LINE_TIMEOUT_S);
        ck_assert_int_eq(pd_start(&d, ini), 0);
        tt_baseline(&d, &base);
        for (unsigned i = 0; i < n; i++) {
                snprintf(src, sizeof(src), "127.0.%u.%u", 10 + i / 200, 10 + i % 200);
                ck_assert_int_eq(pd_connect_from(&drip[i], src, d.echo_port), 0);
        }
        for (unsigned i = 0; i < n; i++)
                ck_assert(pd_expect_next(&drip[i], WELCOME, 10000));
        ck_assert_int_eq(pd_connect(&good, d.echo_port, AF_INET6), 0);
        ck_assert(pd_expect_next(&good, WELCOME, 10000));

        long long t0 = clock_now_ms(), next_drip = t0, worst = 0;
        unsigned open = n, pings = 0, bytes = 0;
        while (open > 0 && clock_now_ms() - t0 < (LINE_TIMEOUT_S + 10) * 1000) {
                if (clock_now_ms() >= next_drip) {
                        for (unsigned i = 0; i < n; i++)
                                if (!closed_at[i] && send(drip[i].fd, "x", 1, MSG_NOSIGNAL) == 1)
                                        bytes++;
                        next_drip += 1000;
                }
                /* the well-behaved client, every 100 ms */
                char ping[32];
                long long p0 = clock_now_ms();
                snprintf(ping, sizeof(ping), "ping %u\r\n", pings);
                pd_send(&good, ping);
                snprintf(ping, sizeof(ping), "OK...ping %u", pings++);
                ck_assert(pd_expect_next(&good, ping, 2000));
                if (clock_now_ms() - p0 > worst)
                        worst = clock_now_ms() - p0;
                /* what the dribblers are told */
                for (unsigned i = 0; i < n; i++) {
                        if (closed_at[i])
                                continue;
                        int r;
                        while ((r = pd_line(&drip[i], line, sizeof(line), 0)) >= 0) {
                                ck_assert_str_eq(line, "line timeout (3 s), closing connection");
                                told[i] = true;
                        }
                        if (r == -2) {
                                closed_at[i] = clock_now_ms();
                                open--;
                        }
                }
                tt_sleep_ms(100);
        }
        long long first = 0, last = 0;
        for (unsigned i = 0; i < n; i++) {
                ck_assert_msg(closed_at[i], "dribbler %u still open", i);
                ck_assert_msg(told[i], "dribbler %u not told why", i);
                if (!first || closed_at[i] < first)
                        first = closed_at[i];
                if (closed_at[i] > last)
                        last = closed_at[i];
                pd_close(&drip[i]);
        }
        /* Closed by the line timeout: not before it, and well before the
         * idle timeout (a busy CI machine may run it a little late). */
        ck_assert_int_ge(first - t0, LINE_TIMEOUT_S * 1000 - 200);
        ck_assert_int_le(last - t0, LINE_TIMEOUT_S * 1000 + 8000);
        ck_assert_int_eq(pd_log_count_when(&d, "(line timeout)", (int)n), (int)n);
        pd_close(&good);
        ck_assert_msg(tt_back_to(&d, &base, &now, 20000), "threads %ld (was %ld), fds %ld (was %ld)",
                      now.threads, base.threads, now.fds, base.fds);
        tt_report("slowloris: %u clients x 1 byte/s (%u bytes): all closed by the %d s line "
                  "timeout after %.1f-%.1f s; a normal client meanwhile got %u answers, slowest "
                  "%lld ms; threads %ld and fds %ld back to baseline", n, bytes, LINE_TIMEOUT_S,
                  (first - t0) / 1000.0, (last - t0) / 1000.0, pings, worst, now.threads, now.fds);
        tt_assert_alive(&d, "127.0.0.1");
        ck_assert_int_eq(pd_stop(&d), 0);
        free(drip);
        free(closed_at);
        free(told);
}
END_TEST

Suite *test_suite(void)
{
        Suite *s = suite_create("torture-slowloris");
        TCase *tc = tcase_create("slowloris");

        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, slowloris);
        suite_add_tcase(s, tc);
        return s;
}
