/* Integration: max_clients, max_clients_per_ip, the idle and line timeouts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

#include "clock.h"
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
        /* "disconnected" is logged just before the slot is released: a
         * slow (emulated) daemon may still be full for a moment. */
        char first[256] = "";
        for (int tries = 0; tries < 50; tries++) {
                ck_assert_int_eq(pd_connect(&extra, d.echo_port, AF_INET), 0);
                ck_assert_int_gt(pd_line(&extra, first, sizeof(first), 5000), 0);
                if (strcmp(first, FULL) != 0)
                        break;
                pd_close(&extra);
                struct timespec pause = { 0, 20000000L };
                nanosleep(&pause, NULL);
        }
        ck_assert_str_eq(first, WELCOME);
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

/* IPv6 clients count per [server] ipv6_prefix_len: anyone with one /64
 * has millions of addresses, and must not fill max_clients from 16 of
 * them. In a network namespace of the test's own, with a /64 and a
 * second prefix on its loopback. */
START_TEST(limits_per_ipv6_prefix)
{
        static const char *const addrs[] = {
                "2001:db8:1::1/64", "2001:db8:1::2/64", "2001:db8:1::3/64", "2001:db8:2::1/64",
                NULL,
        };
        struct pd d;
        struct pd_client c[4];
        char why[128], reply[64];

        if (pd_netns_private(addrs, why, sizeof(why)) < 0) {
                pd_skipped("%s", why);
                return;
        }
        ck_assert_int_eq(pd_start(&d, "[server]\nmax_clients_per_ip = 2\n"
                                      "[udp]\nrate_per_source = 2\n"), 0);
        ck_assert_int_eq(pd_connect_from(&c[0], "2001:db8:1::1", d.echo_port), 0);
        ck_assert(pd_expect_next(&c[0], WELCOME, 5000));
        ck_assert_int_eq(pd_connect_from(&c[1], "2001:db8:1::2", d.echo_port), 0);
        ck_assert(pd_expect_next(&c[1], WELCOME, 5000));
        /* A third address of the same /64 is the same client. */
        ck_assert_int_eq(pd_connect_from(&c[2], "2001:db8:1::3", d.echo_port), 0);
        ck_assert(pd_expect_next(&c[2], "server full, try again later", 5000));
        ck_assert(pd_wait_closed(&c[2], 5000));
        pd_close(&c[2]);
        /* Another /64 is another client. */
        ck_assert_int_eq(pd_connect_from(&c[3], "2001:db8:2::1", d.echo_port), 0);
        ck_assert(pd_expect_next(&c[3], WELCOME, 5000));
        /* The UDP rate is per /64 too: two datagrams from it, whatever
         * address they come from, then nothing. */
        int answered = 0;
        for (int i = 0; i < 4; i++)
                answered += pd_udp_exchange_from(i % 2 ? "2001:db8:1::2" : "2001:db8:1::3", 0,
                                                 d.udp_port, "x", 1, reply, sizeof(reply),
                                                 300) > 0;
        ck_assert_int_eq(answered, 2);
        pd_close(&c[0]);
        pd_close(&c[1]);
        pd_close(&c[3]);
        ck_assert_int_eq(pd_stop(&d), 0);

        /* With 128 bits every address counts on its own. */
        ck_assert_int_eq(pd_start(&d, "[server]\nmax_clients_per_ip = 1\nipv6_prefix_len = 128\n"),
                         0);
        static const char *const same64[] = { "2001:db8:1::1", "2001:db8:1::2", "2001:db8:1::3" };
        for (int i = 0; i < 3; i++) {
                ck_assert_int_eq(pd_connect_from(&c[i], same64[i], d.echo_port), 0);
                ck_assert(pd_expect_next(&c[i], WELCOME, 5000));
        }
        for (int i = 0; i < 3; i++)
                pd_close(&c[i]);
        ck_assert_int_eq(pd_stop(&d), 0);
}
END_TEST

START_TEST(limits_idle_timeout)
{
        struct pd d;
        struct pd_client idle, busy;

        ck_assert_int_eq(pd_start(&d, "[server]\nidle_timeout_s = 1\n"), 0);
        ck_assert_int_eq(pd_connect(&idle, d.echo_port, AF_INET), 0);
        ck_assert_int_eq(pd_connect(&busy, d.echo_port, AF_INET), 0);
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
        ck_assert_int_eq(pd_log_count_when(&d, "(line timeout)", 2), 2);
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

/* Thousands of idle clients, one thread each, fit in a 32-bit address
 * space because pichatd's threads have 64 KiB stacks (thread_stack_kib):
 * with the default 8 MiB stacks a 3 GiB user space stops near 300. Meant
 * for the armhf build under qemu-user (tests/run-all cross), it runs in
 * every build. PICHAT_IDLE_CLIENTS sets the count (default 2000). */
START_TEST(limits_many_idle_clients)
{
        const char *env = getenv("PICHAT_IDLE_CLIENTS");
        int n = env && *env ? atoi(env) : 2000;
        struct rlimit rl;
        struct pd d;
        char ini[160];
        long long t0, t1;

        ck_assert_int_gt(n, 0);
        /* Our n sockets and pichatd's n (it inherits the limit), and some. */
        ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
        if (rl.rlim_cur < (rlim_t)n + 64) {
                if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < (rlim_t)n + 64) {
                        pd_skipped("open files limit %llu is below %d clients",
                                   (unsigned long long)rl.rlim_max, n);
                        return;
                }
                rl.rlim_cur = (rlim_t)n + 64;
                ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
        }
        struct pd_client *c = calloc((size_t)n, sizeof(*c));
        ck_assert_ptr_nonnull(c);
        snprintf(ini, sizeof(ini), "[server]\nmax_clients = %d\nmax_clients_per_ip = 0\n"
                 "idle_timeout_s = 0\nthread_stack_kib = 64\n", n + 10);
        ck_assert_int_eq(pd_start(&d, ini), 0);
        t0 = clock_now_ms();
        for (int i = 0; i < n; i++) {
                ck_assert_msg(pd_connect(&c[i], d.echo_port, AF_INET) == 0, "client %d: connect", i);
                ck_assert_msg(pd_expect_next(&c[i], WELCOME, 10000), "client %d: no welcome", i);
        }
        t1 = clock_now_ms();
        long threads = pd_proc_threads(d.pid);
        long rss = pd_proc_rss_kib(d.pid);
        printf("idle clients: %d connected in %.1f s; pichatd (or its emulator) %ld threads, "
               "RSS %ld KiB, %zu-bit\n", n,
               (double)(t1 - t0) / 1e3,
               threads, rss, sizeof(void *) * 8);
        ck_assert_int_ge(threads, n);
        /* Every one of them is still served, the first and the last. */
        pd_send(&c[0], "first\n");
        ck_assert(pd_expect_next(&c[0], "OK...first", 10000));
        pd_send(&c[n - 1], "last\n");
        ck_assert(pd_expect_next(&c[n - 1], "OK...last", 10000));
        ck_assert_int_eq(pd_log_count(&d, "max_clients reached"), 0);
        for (int i = 0; i < n; i++)
                pd_close(&c[i]);
        free(c);
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
        tcase_add_test(tc, limits_per_ipv6_prefix);
        tcase_add_test(tc, limits_idle_timeout);
        tcase_add_test(tc, limits_line_timeout);
        tcase_add_test(tc, limits_telnet_is_not_activity);
        suite_add_tcase(s, tc);
        TCase *many = tcase_create("many");
        tcase_set_timeout(many, 240);
        tcase_add_test(many, limits_many_idle_clients);
        suite_add_tcase(s, many);
        return s;
}
