/* Integration: the UDP echo thread: replies, IPv6, truncation, loop ports. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "harness.h"
#include "suite.h"

static struct pd d;

static void setup(void)
{
        ck_assert_int_eq(pd_start(&d, NULL), 0);
}

static void teardown(void)
{
        ck_assert_int_eq(pd_stop(&d), 0);
}

START_TEST(udp_echo_v4_v6)
{
        char reply[256];

        ck_assert_int_eq(pd_udp_exchange(AF_INET, d.udp_port, "Hello", 5, reply, sizeof(reply), 3000), 10);
        ck_assert_str_eq(reply, "OK...Hello");
        ck_assert_int_eq(pd_udp_exchange(AF_INET6, d.udp_port, "v6", 2, reply, sizeof(reply), 3000), 7);
        ck_assert_str_eq(reply, "OK...v6");
        /* An empty datagram is answered with the prefix alone. */
        ck_assert_int_eq(pd_udp_exchange(AF_INET, d.udp_port, "", 0, reply, sizeof(reply), 3000), 5);
}
END_TEST

START_TEST(udp_truncated_to_max)
{
        /* 65,000 bytes over IPv6 (IPv4's limit is 65,507 with the prefix). */
        size_t n = 65507;
        char *big = malloc(n), *reply = malloc(70000);

        memset(big, 'z', n);
        int r = pd_udp_exchange(AF_INET6, d.udp_port, big, n, reply, 70000, 3000);
        ck_assert_int_eq(r, 65507);
        ck_assert_int_eq(memcmp(reply, "OK...zzz", 8), 0);
        free(big);
        free(reply);
}
END_TEST

/* From a socket bound to a loop-prone source port, nothing comes back.
 * Returns false, checking nothing, when this process may not bind the
 * port (below 1024 that needs root or CAP_NET_BIND_SERVICE, which a
 * package build as an ordinary user does not have). */
static bool check_silent_from(unsigned src)
{
        struct sockaddr_in me = { .sin_family = AF_INET, .sin_port = htons((uint16_t)src),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons((uint16_t)d.udp_port),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        int one = 1;
        int fd = socket(AF_INET, SOCK_DGRAM, 0);

        ck_assert_int_ge(fd, 0);
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, (struct sockaddr *)&me, sizeof(me)) < 0) {
                int e = errno;
                close(fd);
                ck_assert_msg(e == EACCES || e == EPERM, "binding source port %u: %s", src,
                              strerror(e));
                return false;
        }
        ck_assert_int_eq(sendto(fd, "loop", 4, 0, (struct sockaddr *)&to, sizeof(to)), 4);
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        ck_assert_int_eq(poll(&pfd, 1, 300), 0);
        close(fd);
        return true;
}

START_TEST(udp_loop_ports_silent)
{
        static const unsigned ports[] = { 2049, 7, 13, 17, 19, 37, 53, 123, 1023 };
        char reply[64];

        for (size_t i = 0; i < sizeof(ports) / sizeof(ports[0]); i++) {
                if (!check_silent_from(ports[i])) {
                        pd_skipped("may not bind UDP source port %u here (not root)", ports[i]);
                        return;
                }
        }
        ck_assert(pd_log_wait(&d, ":7: its source port is a service's", 2000));
        ck_assert(pd_log_wait(&d, ":2049: its source port is a service's", 2000));
        /* and ordinary senders are still answered */
        ck_assert_int_gt(pd_udp_exchange(AF_INET, d.udp_port, "x", 1, reply, sizeof(reply), 3000), 0);
}
END_TEST

START_TEST(udp_many)
{
        char msg[32], reply[64], want[40];

        for (int i = 0; i < 200; i++) {
                int n = snprintf(msg, sizeof(msg), "datagram %d", i);
                snprintf(want, sizeof(want), "OK...%s", msg);
                ck_assert_int_gt(pd_udp_exchange(i % 2 ? AF_INET6 : AF_INET, d.udp_port, msg,
                                                 (size_t)n, reply, sizeof(reply), 3000), 0);
                ck_assert_str_eq(reply, want);
        }
}
END_TEST

/* Send count datagrams from src to port as fast as they go, then collect
 * replies until 300 ms pass without one: the replies, and in *ms the time
 * the sending took. */
static int flood(const char *src, unsigned port, int count, long long *ms)
{
        struct sockaddr_storage me, to;
        socklen_t len = pd_sockaddr(src, 0, &me), tolen;
        int fd = socket(me.ss_family, SOCK_DGRAM, 0), big = 4 << 20, replies = 0;
        char buf[128];

        tolen = pd_sockaddr(me.ss_family == AF_INET6 ? "::1" : "127.0.0.1", port, &to);
        ck_assert_int_ge(fd, 0);
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
        ck_assert_int_eq(bind(fd, (struct sockaddr *)&me, len), 0);
        long long t0 = clock_now_ms();
        for (int i = 0; i < count; i++) {
                sendto(fd, "flood", 5, 0, (struct sockaddr *)&to, tolen);
                while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
                        replies++;
        }
        *ms = clock_now_ms() - t0;
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        while (poll(&pfd, 1, 300) == 1 && recv(fd, buf, sizeof(buf), 0) > 0)
                replies++;
        close(fd);
        return replies;
}

/* [udp] rate_per_source holds for a flooding source; other sources are
 * answered all the while, and a reload can lift the limit. */
START_TEST(udp_rate_per_source)
{
        struct pd r;
        char reply[64];
        long long ms;

        ck_assert_int_eq(pd_start(&r, "[udp]\nrate_per_source = 20\n"), 0);
        int got = flood("127.0.0.1", r.udp_port, 500, &ms);
        /* the burst (20) and 20/s for as long as the sending took */
        ck_assert_int_ge(got, 20);
        ck_assert_int_le(got, 20 + (int)(ms * 20 / 1000) + 1);
        ck_assert(pd_log_wait(&r, "udp: 127.0.0.1:", 2000));
        ck_assert_int_eq(pd_log_count_when(&r, "sends over rate_per_source (20/s)", 1), 1);
        /* another address is not held back by the first one's limit */
        for (int i = 0; i < 10; i++)
                ck_assert_int_eq(pd_udp_exchange_from("127.0.0.2", 0, r.udp_port, "x", 1, reply,
                                                      sizeof(reply), 1000), 6);
        ck_assert_int_eq(pd_udp_exchange_from("::1", 0, r.udp_port, "x", 1, reply,
                                              sizeof(reply), 1000), 6);

        pd_write_conf(&r, "[udp]\nrate_per_source = 0\n");
        pd_signal(&r, SIGHUP);
        ck_assert(pd_log_wait(&r, "reloaded configuration", 5000));
        got = flood("127.0.0.1", r.udp_port, 300, &ms);
        /* far more than 20/s could let through (socket buffers may drop some) */
        ck_assert_int_gt(got, 3 * (20 + (int)(ms * 20 / 1000) + 1));
        ck_assert_int_eq(pd_stop(&r), 0);
}
END_TEST

/* A reply leaves from the address its datagram was sent to: a client
 * that talks to 127.0.0.2 (a second address of the machine, as a Pi has
 * on eth0 and wlan0) through a connected socket takes no reply from
 * 127.0.0.1. The socket pichatd serves is bound to [::], both stacks. */
START_TEST(udp_reply_from_destination)
{
        struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons((uint16_t)d.udp_port) };
        int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        char reply[64];

        inet_pton(AF_INET, "127.0.0.2", &to.sin_addr);
        ck_assert_int_eq(connect(fd, (struct sockaddr *)&to, sizeof(to)), 0);
        for (int i = 0; i < 3; i++) {
                ck_assert_int_eq(send(fd, "where", 5, 0), 5);
                struct pollfd pfd = { .fd = fd, .events = POLLIN };
                ck_assert_msg(poll(&pfd, 1, 2000) == 1, "no reply from 127.0.0.2");
                ck_assert_int_eq(recv(fd, reply, sizeof(reply), 0), 10);
        }
        close(fd);
}
END_TEST

/* A datagram that starts with the prefix is another echo's answer: never
 * answered, so two echo services cannot be made to bounce one datagram
 * between them. Here one is "sent by" the first pichatd to the second
 * (from a copy of the first's own socket, as a forged source would be),
 * with no rate limits to stop a loop. */
START_TEST(udp_no_loop_between_echoes)
{
        struct pd a, b;
        struct pd_opts o = { .fdnames = "echo:chat:udp", .keep_udp = true, .notify = true };
        char msg[1024], status[256];
        const char *ini = "[udp]\nrate_per_source = 0\nrate_total = 0\n";

        ck_assert_int_eq(pd_start_opts(&a, ini, &o), 0);
        ck_assert_int_eq(pd_start_opts(&b, ini, &o), 0);
        struct sockaddr_in6 to = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT,
                                   .sin6_port = htons((uint16_t)b.udp_port) };
        ck_assert_int_eq(sendto(a.udp_fd, "ping", 4, 0, (struct sockaddr *)&to, sizeof(to)), 4);
        ck_assert(pd_log_wait(&a, "it starts with the prefix, an echo's answer", 3000));
        usleep(1500 * 1000);
        /* b answered once, a never. */
        ck_assert(pd_notify_wait(&b, "STATUS=", msg, sizeof(msg), 3000));
        ck_assert(pd_notify_field(msg, "STATUS", status, sizeof(status)));
        while (pd_notify_next(&b, msg, sizeof(msg), 1200) > 0)
                pd_notify_field(msg, "STATUS", status, sizeof(status));
        ck_assert_msg(strstr(status, "udp: 1 datagram answered"), "b: %s", status);
        while (pd_notify_next(&a, msg, sizeof(msg), 100) > 0)
                pd_notify_field(msg, "STATUS", status, sizeof(status));
        ck_assert_msg(strstr(status, "udp: 0 datagrams answered"), "a: %s", status);
        ck_assert_int_eq(pd_stop(&a), 0);
        ck_assert_int_eq(pd_stop(&b), 0);
}
END_TEST

/* [udp] rate_total holds for many sources together, and sheds load
 * rather than switching the service off. */
START_TEST(udp_rate_total)
{
        struct pd r;
        char src[32], reply[64];
        long long ms, took = 0;
        int got = 0;

        ck_assert_int_eq(pd_start(&r, "[udp]\nrate_per_source = 0\nrate_total = 30\n"), 0);
        for (int i = 0; i < 10; i++) {
                snprintf(src, sizeof(src), "127.0.1.%d", i + 1);
                got += flood(src, r.udp_port, 40, &ms);
                took += ms;
        }
        /* the burst (30), 30/s for as long as the sending took, and the
         * 300 ms each source waited for its last replies */
        ck_assert_int_ge(got, 30);
        ck_assert_int_le(got, 30 + (int)((took + 10 * 300) * 30 / 1000) + 1);
        ck_assert_int_eq(pd_log_count_when(&r, "over rate_total (30 replies/s)", 1), 1);
        /* Still on: once the flood is over, answered again. */
        usleep(200 * 1000);
        ck_assert_int_eq(pd_udp_exchange_from("127.0.0.9", 0, r.udp_port, "x", 1, reply,
                                              sizeof(reply), 1000), 6);
        ck_assert_int_eq(pd_stop(&r), 0);
}
END_TEST

Suite *test_suite(void)
{
        Suite *s = suite_create("integration-udp");
        TCase *tc = tcase_create("udp");

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, udp_echo_v4_v6);
        tcase_add_test(tc, udp_truncated_to_max);
        tcase_add_test(tc, udp_loop_ports_silent);
        tcase_add_test(tc, udp_many);
        tcase_add_test(tc, udp_reply_from_destination);
        suite_add_tcase(s, tc);

        tc = tcase_create("rate");
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, udp_rate_per_source);
        tcase_add_test(tc, udp_rate_total);
        tcase_add_test(tc, udp_no_loop_between_echoes);
        suite_add_tcase(s, tc);
        return s;
}
