/* Integration: max_clients, max_clients_per_ip, the idle and line timeouts. */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "harness.h"
#include "suite.h"

#define WELCOME "Welcome to the server. Type something and hit enter"
#define FULL "server full, try again later"

START_TEST(limits_max_clients)
{
        struct pd d;
        struct pd_client c[4], extra;

        ck_assert_int_eq(pd_start(&d, "[server]\nmax_clients = 3\nmax_clients_per_ip = 0\n"), 0);
        for (int i = 0; i < 3; i++) {
                ck_assert_int_eq(pd_connect(&c[i], d.echo_port, AF_INET), 0);
                ck_assert(pd_expect_next(&c[i], WELCOME, 5000));
        }
        ck_assert_int_eq(pd_connect(&extra, d.echo_port, AF_INET6), 0);
        ck_assert(pd_expect_next(&extra, FULL, 5000));
        ck_assert(pd_wait_closed(&extra, 5000));
        pd_close(&extra);
        ck_assert(pd_log_wait(&d, "max_clients reached", 2000));

        /* The daemon stays responsive, and a freed slot can be used again. */
        pd_send(&c[0], "still here\n");
        ck_assert(pd_expect_next(&c[0], "OK...still here", 5000));
        pd_close(&c[1]);
        ck_assert(pd_log_wait(&d, "disconnected", 5000));
        ck_assert_int_eq(pd_connect(&extra, d.echo_port, AF_INET), 0);
        ck_assert(pd_expect_next(&extra, WELCOME, 5000));
        pd_close(&extra);
        pd_close(&c[0]);
        pd_close(&c[2]);
        ck_assert_int_eq(pd_stop(&d), 0);
}
END_TEST

START_TEST(limits_per_ip)
{
        struct pd d;
        struct pd_client c[3], v6;

        ck_assert_int_eq(pd_start(&d, "[server]\nmax_clients_per_ip = 2\n"), 0);
        for (int i = 0; i < 2; i++) {
                ck_assert_int_eq(pd_connect(&c[i], d.echo_port, AF_INET), 0);
                ck_assert(pd_expect_next(&c[i], WELCOME, 5000));
        }
        ck_assert_int_eq(pd_connect(&c[2], d.echo_port, AF_INET), 0);
        ck_assert(pd_expect_next(&c[2], FULL, 5000));
        ck_assert(pd_wait_closed(&c[2], 5000));
        ck_assert(pd_log_wait(&d, "max_clients_per_ip reached", 2000));
        /* Another address (::1) is not affected. */
        ck_assert_int_eq(pd_connect(&v6, d.echo_port, AF_INET6), 0);
        ck_assert(pd_expect_next(&v6, WELCOME, 5000));
        for (int i = 0; i < 3; i++)
                pd_close(&c[i]);
        pd_close(&v6);
        ck_assert_int_eq(pd_stop(&d), 0);
}
END_TEST

START_TEST(limits_idle_timeout)
{
        struct pd d;
        struct pd_client idle, busy;
        struct timespec t0, t1;

        ck_assert_int_eq(pd_start(&d, "[server]\nidle_timeout_s = 1\n"), 0);
        ck_assert_int_eq(pd_connect(&idle, d.echo_port, AF_INET), 0);
        ck_assert_int_eq(pd_connect(&busy, d.echo_port, AF_INET), 0);
        clock_gettime(CLOCK_MONOTONIC, &t0);
        ck_assert(pd_expect_next(&idle, WELCOME, 5000));
        ck_assert(pd_expect_next(&busy, WELCOME, 5000));
        /* busy talks every 400 ms and must survive past the timeout */
        for (int i = 0; i < 5; i++) {
                struct timespec ts = { 0, 400 * 1000 * 1000 };
                nanosleep(&ts, NULL);
                pd_send(&busy, "tick\n");
                ck_assert(pd_expect_next(&busy, "OK...tick", 5000));
        }
        ck_assert(pd_expect_next(&idle, "idle timeout (1 s), closing connection", 100));
        ck_assert(pd_wait_closed(&idle, 2000));
        clock_gettime(CLOCK_MONOTONIC, &t1);
        ck_assert(pd_log_wait(&d, "(idle timeout)", 2000));
        pd_close(&idle);
        pd_close(&busy);
        ck_assert_int_eq(pd_stop(&d), 0);
}
END_TEST

static void sleep_ms(int ms)
{
        struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
        nanosleep(&ts, NULL);
}

/* A client that begins lines and never ends them (a byte, or a NUL, at a
 * time) is closed by the line timeout although it is never idle; one that
 * ends its lines, however slowly it types them, and one that says nothing
 * at all, stay. */
START_TEST(limits_line_timeout)
{
        struct pd d;
        struct pd_client drip, nul, slow, silent;

        ck_assert_int_eq(pd_start(&d, "[server]\nidle_timeout_s = 60\nline_timeout_s = 1\n"), 0);
        ck_assert_int_eq(pd_connect(&drip, d.echo_port, AF_INET), 0);
        ck_assert_int_eq(pd_connect(&nul, d.echo_port, AF_INET), 0);
        ck_assert_int_eq(pd_connect(&slow, d.echo_port, AF_INET6), 0);
        ck_assert_int_eq(pd_connect(&silent, d.echo_port, AF_INET6), 0);
        ck_assert(pd_expect_next(&drip, WELCOME, 5000));
        ck_assert(pd_expect_next(&nul, WELCOME, 5000));
        ck_assert(pd_expect_next(&slow, WELCOME, 5000));
        ck_assert(pd_expect_next(&silent, WELCOME, 5000));
        for (int i = 0; i < 8; i++) {
                pd_send_raw(&drip, "x", 1);
                pd_send_raw(&nul, "\0", 1);
                /* half a line now, the rest 200 ms later: a slow typist */
                pd_send(&slow, i % 2 ? "ing\r\n" : "typ");
                if (i % 2)
                        ck_assert(pd_expect_next(&slow, "OK...typing", 2000));
                sleep_ms(200);
        }
        ck_assert(pd_expect_next(&drip, "line timeout (1 s), closing connection", 2000));
        ck_assert(pd_wait_closed(&drip, 2000));
        ck_assert(pd_expect_next(&nul, "line timeout (1 s), closing connection", 2000));
        ck_assert(pd_wait_closed(&nul, 2000));
        ck_assert(pd_log_wait(&d, "(line timeout)", 2000));
        ck_assert_int_eq(pd_log_count(&d, "(line timeout)"), 2);
        pd_send(&slow, "still here\n");
        ck_assert(pd_expect_next(&slow, "OK...still here", 2000));
        pd_send(&silent, "me too\n");
        ck_assert(pd_expect_next(&silent, "OK...me too", 2000));
        pd_close(&drip);
        pd_close(&nul);
        pd_close(&slow);
        pd_close(&silent);
        ck_assert_int_eq(pd_stop(&d), 0);
}
END_TEST

/* Telnet commands alone are not activity: a peer sending nothing but
 * IAC NOP is closed by the idle timeout like a silent one. */
START_TEST(limits_telnet_is_not_activity)
{
        struct pd d;
        struct pd_client c;
        static const char nop[] = { (char)255, (char)241 };

        ck_assert_int_eq(pd_start(&d, "[server]\nidle_timeout_s = 1\n"), 0);
        ck_assert_int_eq(pd_connect(&c, d.echo_port, AF_INET), 0);
        ck_assert(pd_expect_next(&c, WELCOME, 5000));
        /* The timeout must come while the NOPs keep coming. */
        char line[128];
        int r = -1;
        for (int i = 0; i < 15 && r == -1; i++) {
                ck_assert_int_eq(pd_send_raw(&c, nop, sizeof(nop)), 0);
                r = pd_line(&c, line, sizeof(line), 200);
        }
        ck_assert_int_ge(r, 0);
        ck_assert_str_eq(line, "idle timeout (1 s), closing connection");
        ck_assert(pd_wait_closed(&c, 2000));
        pd_close(&c);
        ck_assert_int_eq(pd_stop(&d), 0);
}
END_TEST

Suite *test_suite(void)
{
        Suite *s = suite_create("integration-limits");
        TCase *tc = tcase_create("limits");

        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, limits_max_clients);
        tcase_add_test(tc, limits_per_ip);
        tcase_add_test(tc, limits_idle_timeout);
        tcase_add_test(tc, limits_line_timeout);
        tcase_add_test(tc, limits_telnet_is_not_activity);
        suite_add_tcase(s, tc);
        return s;
}
