/* Integration: shutdown on SIGTERM/SIGINT, port-in-use errors, SIGPIPE. */
#include <arpa/inet.h>
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "harness.h"
#include "suite.h"

static void shutdown_by(int sig)
{
        struct pd d;
        struct pd_client c[5];

        ck_assert_int_eq(pd_start(&d, NULL), 0);
        for (int i = 0; i < 5; i++) {
                ck_assert_int_eq(pd_connect(&c[i], d.echo_port, i % 2 ? AF_INET6 : AF_INET), 0);
                ck_assert(pd_expect(&c[i], "Welcome to the server. Type something and hit enter", 5000));
        }
        long long t0 = clock_now_ms();
        pd_signal(&d, sig);
        for (int i = 0; i < 5; i++) {
                ck_assert(pd_expect_next(&c[i], "server shutting down", 3000));
                ck_assert(pd_wait_closed(&c[i], 3000));
                pd_close(&c[i]);
        }
        ck_assert_int_eq(pd_stop(&d), 0);
        ck_assert_int_lt(clock_now_ms() - t0, 2000);
}

START_TEST(lifecycle_sigterm)
{
        shutdown_by(SIGTERM);
}
END_TEST

START_TEST(lifecycle_sigint)
{
        shutdown_by(SIGINT);
}
END_TEST

START_TEST(lifecycle_sigterm_with_stuck_reader)
{
        /* A client that never reads must not hold up the exit. */
        struct pd d;
        struct pd_client c;
        char big[4096];

        ck_assert_int_eq(pd_start(&d, NULL), 0);
        ck_assert_int_eq(pd_connect(&c, d.echo_port, AF_INET), 0);
        memset(big, 'y', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\n';
        int rcv = 4096;
        setsockopt(c.fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
        for (int i = 0; i < 2000; i++)
                if (send(c.fd, big, 1000, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
                        break;
        usleep(200000);
        long long t0 = clock_now_ms();
        ck_assert_int_eq(pd_stop(&d), 0);
        ck_assert_int_lt(clock_now_ms() - t0, 2500);
        pd_close(&c);
}
END_TEST

START_TEST(lifecycle_sigpipe)
{
        /* Clients that vanish while answers are on their way. */
        struct pd d;

        ck_assert_int_eq(pd_start(&d, NULL), 0);
        for (int i = 0; i < 20; i++) {
                struct pd_client c;
                ck_assert_int_eq(pd_connect(&c, d.echo_port, AF_INET), 0);
                struct linger lg = { .l_onoff = 1, .l_linger = 0 };
                setsockopt(c.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
                for (int j = 0; j < 50; j++)
                        pd_send(&c, "ping ping ping ping ping ping ping ping\n");
                pd_close(&c);   /* RST */
        }
        struct pd_client c;
        ck_assert_int_eq(pd_connect(&c, d.echo_port, AF_INET), 0);
        ck_assert(pd_expect(&c, "Welcome to the server. Type something and hit enter", 5000));
        pd_send(&c, "alive?\n");
        ck_assert(pd_expect_next(&c, "OK...alive?", 5000));
        pd_close(&c);
        ck_assert_int_eq(pd_stop(&d), 0);
}
END_TEST

static int hold_port(int type, unsigned *port)
{
        struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_ANY_INIT };
        socklen_t len = sizeof(sa);
        int zero = 0;
        int fd = socket(AF_INET6, type, 0);

        ck_assert_int_ge(fd, 0);
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
        ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        if (type == SOCK_STREAM)
                ck_assert_int_eq(listen(fd, 1), 0);
        getsockname(fd, (struct sockaddr *)&sa, &len);
        *port = ntohs(sa.sin6_port);
        return fd;
}

static void port_in_use(int type, bool foreground)
{
        char dir[] = "/tmp/pichat-port.XXXXXX";
        char path[64], out[4096], want[128];
        unsigned port;
        int fd = hold_port(type, &port);

        ck_assert_ptr_nonnull(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/pichat.ini", dir);
        FILE *f = fopen(path, "w");
        ck_assert_ptr_nonnull(f);
        if (type == SOCK_STREAM)
                fprintf(f, "[echo]\nport = %u\n[udp]\nenabled = no\n[chat]\nenabled = no\n", port);
        else
                fprintf(f, "[echo]\nenabled = no\n[udp]\nport = %u\n[chat]\nenabled = no\n", port);
        fclose(f);

        const char *argv_fg[] = { "pichatd", "--foreground", "-c", path, NULL };
        const char *argv_bg[] = { "pichatd", "-c", path, NULL };
        int status = pd_run(foreground ? argv_fg : argv_bg, out, sizeof(out), 5000);
        snprintf(want, sizeof(want), "pichatd: cannot listen on [::]:%u/%s: Address already in use\n",
                 port, type == SOCK_STREAM ? "tcp" : "udp");
        ck_assert_int_eq(status, 1);
        ck_assert_msg(strstr(out, want) != NULL, "output was: %s", out);
        close(fd);
        unlink(path);
        rmdir(dir);
}

START_TEST(lifecycle_port_in_use_tcp)
{
        port_in_use(SOCK_STREAM, true);
}
END_TEST

START_TEST(lifecycle_port_in_use_udp)
{
        port_in_use(SOCK_DGRAM, true);
}
END_TEST

START_TEST(lifecycle_port_in_use_daemon_mode)
{
        /* Without --foreground the error still reaches the terminal. */
        port_in_use(SOCK_STREAM, false);
}
END_TEST

Suite *test_suite(void)
{
        Suite *s = suite_create("integration-lifecycle");
        TCase *tc = tcase_create("lifecycle");

        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, lifecycle_sigterm);
        tcase_add_test(tc, lifecycle_sigint);
        tcase_add_test(tc, lifecycle_sigterm_with_stuck_reader);
        tcase_add_test(tc, lifecycle_sigpipe);
        tcase_add_test(tc, lifecycle_port_in_use_tcp);
        tcase_add_test(tc, lifecycle_port_in_use_udp);
        tcase_add_test(tc, lifecycle_port_in_use_daemon_mode);
        suite_add_tcase(s, tc);
        return s;
}
