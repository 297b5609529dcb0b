/* Integration: the UDP echo thread: replies, IPv6, truncation, loop ports. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

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
        static const unsigned ports[] = { 7, 13, 17, 19, 37 };
        char reply[64];

        for (size_t i = 0; i < sizeof(ports) / sizeof(ports[0]); i++) {
                if (!check_silent_from(ports[i])) {
                        pd_skipped("may not bind UDP source port %u here (not root)", ports[i]);
                        return;
                }
        }
        ck_assert(pd_log_wait(&d, "ignoring datagram from port 7", 2000));
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
        suite_add_tcase(s, tc);
        return s;
}
