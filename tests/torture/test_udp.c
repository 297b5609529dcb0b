/* Torture: UDP floods. One source sends as fast as it can for two
 * seconds: [udp] rate_per_source holds (it gets the burst and the rate,
 * no more) while other sources are still answered, every one. Then floods
 * from the loop-prone source ports (19 chargen, 7 echo, ...) get no
 * answer at all, with other sources still answered. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "suite.h"
#include "torture.h"

#define RATE 100
#define FLOOD_MS 2000

static struct pd d;

struct flood {
        const char *src;
        unsigned src_port;
        int ms;
        unsigned long sent, replies;
        long long took_ms;
        int bind_errno;
};

/* Send from src:src_port to the UDP port for f->ms, counting replies, then
 * take the late replies for 300 ms. */
static void *flood(void *arg)
{
        struct flood *f = arg;
        struct sockaddr_storage me, to;
        socklen_t len = pd_sockaddr(f->src, f->src_port, &me), tolen;
        int fd = socket(me.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0), one = 1, big = 4 << 20;
        char buf[256], msg[32];

        tolen = pd_sockaddr(me.ss_family == AF_INET6 ? "::1" : "127.0.0.1", d.udp_port, &to);
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
        if (bind(fd, (struct sockaddr *)&me, len) < 0) {
                f->bind_errno = errno;
                close(fd);
                return NULL;
        }
        long long t0 = clock_now_ms();
        while (clock_now_ms() - t0 < f->ms) {
                for (int k = 0; k < 64; k++) {
                        int n = snprintf(msg, sizeof(msg), "flood %lu", f->sent);
                        if (sendto(fd, msg, (size_t)n, 0, (struct sockaddr *)&to, tolen) == n)
                                f->sent++;
                }
                while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
                        f->replies++;
        }
        f->took_ms = clock_now_ms() - t0;
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        while (poll(&pfd, 1, 300) == 1 && recv(fd, buf, sizeof(buf), 0) > 0)
                f->replies++;
        close(fd);
        return NULL;
}

/* n exchanges from src while a flood runs, each answered. The flood keeps
 * pichatd's socket buffer full, where the kernel drops datagrams of any
 * source before pichatd sees them: one may be sent again, up to 6 times. */
static unsigned others_answered(const char *src, unsigned n, unsigned *tries)
{
        char msg[32], reply[64], want[40];
        unsigned ok = 0;

        for (unsigned i = 0; i < n; i++) {
                int len = snprintf(msg, sizeof(msg), "other %u", i);
                snprintf(want, sizeof(want), "OK...%s", msg);
                for (int t = 0; t < 6; t++) {
                        (*tries)++;
                        if (pd_udp_exchange_from(src, 0, d.udp_port, msg, (size_t)len, reply,
                                                 sizeof(reply), 300) > 0 &&
                            strcmp(reply, want) == 0) {
                                ok++;
                                break;
                        }
                }
                tt_sleep_ms(FLOOD_MS / (int)n / 2);
        }
        return ok;
}

START_TEST(udp_flood_one_source)
{
        struct flood f = { .src = "127.0.0.1", .ms = FLOOD_MS };
        unsigned tries = 0, ok4, ok6;
        pthread_t t;
        char ini[128];

        snprintf(ini, sizeof(ini), "[udp]\nrate_per_source = %d\n[log]\nlevel = info\n", RATE);
        ck_assert_int_eq(pd_start(&d, ini), 0);
        ck_assert_int_eq(pthread_create(&t, NULL, flood, &f), 0);
        ok4 = others_answered("127.0.0.2", 20, &tries);
        ok6 = others_answered("::1", 20, &tries);
        pthread_join(t, NULL);
        ck_assert_int_eq(f.bind_errno, 0);
        unsigned long limit = RATE + (unsigned long)(RATE * (f.took_ms + 300) / 1000) + 2;
        ck_assert_msg(f.replies <= limit, "%lu replies to the flood, more than %lu", f.replies,
                      limit);
        ck_assert_uint_ge(f.replies, RATE);
        ck_assert_uint_eq(ok4, 20);
        ck_assert_uint_eq(ok6, 20);
        ck_assert_int_eq(pd_log_count_when(&d, "127.0.0.1:", 1), 1);    /* the first drop, once */
        tt_report("UDP flood: %lu datagrams from one source in %lld ms (%lu/s), %lu answered "
                  "(rate_per_source %d: at most %lu); 40 datagrams from two other sources all "
                  "answered (%u sends)", f.sent, f.took_ms, f.sent * 1000 / (unsigned long)f.took_ms,
                  f.replies, RATE, limit, tries);
        tt_assert_alive(&d, "127.0.0.3");
        ck_assert_int_eq(pd_stop(&d), 0);
}
END_TEST

START_TEST(udp_flood_loop_ports)
{
        static const unsigned ports[] = { 19, 7, 13, 17, 37 };
        struct flood f[5];
        unsigned tries = 0, ok;
        unsigned long sent = 0, replies = 0;
        pthread_t t[5];

        ck_assert_int_eq(pd_start(&d, "[udp]\nrate_per_source = 0\n[log]\nlevel = info\n"), 0);
        for (int i = 0; i < 5; i++) {
                f[i] = (struct flood){ .src = "127.0.0.1", .src_port = ports[i],
                                       .ms = i == 0 ? FLOOD_MS : FLOOD_MS / 4 };
                ck_assert_int_eq(pthread_create(&t[i], NULL, flood, &f[i]), 0);
        }
        ok = others_answered("127.0.0.2", 20, &tries);
        for (int i = 0; i < 5; i++) {
                pthread_join(t[i], NULL);
                sent += f[i].sent;
                replies += f[i].replies;
        }
        if (f[0].bind_errno == EACCES) {
                pd_skipped("binding source port 19 needs root (CAP_NET_BIND_SERVICE)");
                ck_assert_int_eq(pd_stop(&d), 0);
                return;
        }
        for (int i = 0; i < 5; i++)
                ck_assert_msg(f[i].bind_errno == 0, "bind port %u: %s", ports[i],
                              strerror(f[i].bind_errno));
        ck_assert_uint_eq(replies, 0);
        ck_assert_uint_eq(ok, 20);
        tt_report("UDP flood from source ports 19, 7, 13, 17, 37: %lu datagrams, none answered; "
                  "20 datagrams from another source all answered (%u sends)", sent, tries);
        tt_assert_alive(&d, "127.0.0.3");
        ck_assert_int_eq(pd_stop(&d), 0);
}
END_TEST

Suite *test_suite(void)
{
        Suite *s = suite_create("torture-udp");
        TCase *tc = tcase_create("udp");

        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, udp_flood_one_source);
        tcase_add_test(tc, udp_flood_loop_ports);
        suite_add_tcase(s, tc);
        return s;
}
