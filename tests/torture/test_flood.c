/* Torture: connection floods. 5,000 connections in one burst against
 * max_clients 1,000: exactly 1,000 are served and the rest told the
 * server is full, nothing crashes, and threads and descriptors go back
 * to the baseline once the clients leave. Then 10,000 connect/disconnect
 * cycles (echo and chat), after which threads, descriptors and resident
 * memory are back at the baseline: nothing leaks per client. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "suite.h"
#include "torture.h"

#define WELCOME "Welcome to the server. Type something and hit enter"
#define FULL "server full, try again later"

struct flood_conn {
        int fd;
        size_t len;
        char buf[96];
        int verdict;            /* 0 undecided, 1 welcome, 2 full (then closed), -1 failed */
};

START_TEST(connect_flood)
{
        unsigned n = tt_scaled(5000), max = tt_scaled(1000);
        struct flood_conn *c = calloc(n, sizeof(*c));
        struct pollfd *pfd = calloc(n, sizeof(*pfd));
        struct sockaddr_in to = { .sin_family = AF_INET,
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        struct tt_base base, now;
        unsigned welcome = 0, full = 0, failed = 0;
        long peak_threads = 0;
        struct pd d;
        char ini[160];

        ck_assert(c && pfd);
        tt_raise_nofile();
        snprintf(ini, sizeof(ini), "[server]\nmax_clients = %u\nmax_clients_per_ip = 0\n"
                 "[log]\nlevel = notice\n", max);
        ck_assert_int_eq(pd_start(&d, ini), 0);
        tt_baseline(&d, &base);
        to.sin_port = htons((uint16_t)d.echo_port);

        long long t0 = clock_now_ms();
        for (unsigned i = 0; i < n; i++) {
                c[i].fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
                ck_assert_int_ge(c[i].fd, 0);
                int r = connect(c[i].fd, (struct sockaddr *)&to, sizeof(to));
                ck_assert_msg(r == 0 || errno == EINPROGRESS, "connect %u: %s", i, strerror(errno));
        }
        long long burst_ms = clock_now_ms() - t0;
        unsigned undecided = n;
        while (undecided > 0 && clock_now_ms() - t0 < 60000) {
                unsigned k = 0;
                for (unsigned i = 0; i < n; i++) {
                        if (c[i].verdict != 0 && c[i].verdict != 2)
                                continue;
                        if (c[i].fd < 0)
                                continue;
                        pfd[k].fd = c[i].fd;
                        pfd[k].events = POLLIN;
                        pfd[k].revents = 0;
                        k++;
                }
                if (poll(pfd, k, 200) <= 0)
                        continue;
                long th = pd_proc_threads(d.pid);
                if (th > peak_threads)
                        peak_threads = th;
                for (unsigned i = 0, j = 0; i < n && j < k; i++) {
                        if (c[i].fd != pfd[j].fd)
                                continue;
                        short ev = pfd[j++].revents;
                        if (!ev)
                                continue;
                        ssize_t r = recv(c[i].fd, c[i].buf + c[i].len,
                                         sizeof(c[i].buf) - 1 - c[i].len, 0);
                        if (r <= 0 && c[i].verdict == 2) {
                                close(c[i].fd);         /* refused, and now closed */
                                c[i].fd = -1;
                                continue;
                        }
                        if (r <= 0) {
                                c[i].verdict = -1;
                                failed++;
                                undecided--;
                                continue;
                        }
                        c[i].len += (size_t)r;
                        c[i].buf[c[i].len] = '\0';
                        if (c[i].verdict == 0 && strstr(c[i].buf, "\r\n")) {
                                undecided--;
                                if (strncmp(c[i].buf, WELCOME "\r\n", sizeof(WELCOME) + 1) == 0) {
                                        c[i].verdict = 1;
                                        welcome++;
                                } else {
                                        ck_assert_msg(strncmp(c[i].buf, FULL "\r\n",
                                                              sizeof(FULL) + 1) == 0,
                                                      "connection %u got '%s'", i, c[i].buf);
                                        c[i].verdict = 2;
                                        full++;
                                }
                        }
                }
        }
        long long decided_ms = clock_now_ms() - t0;
        ck_assert_msg(undecided == 0, "%u connections got no answer", undecided);
        ck_assert_uint_eq(failed, 0);
        ck_assert_uint_eq(welcome, max);
        ck_assert_uint_eq(full, n - max);
        ck_assert_int_le(peak_threads, base.threads + (long)max);
        ck_assert(pd_running(&d));
        int refused = (int)(n - max);
        ck_assert_int_eq(pd_log_count_when(&d, "max_clients reached", refused), refused);

        for (unsigned i = 0; i < n; i++)
                if (c[i].fd >= 0)
                        close(c[i].fd);
        t0 = clock_now_ms();
        ck_assert_msg(tt_back_to(&d, &base, &now, 30000), "threads %ld (was %ld), fds %ld (was %ld)",
                      now.threads, base.threads, now.fds, base.fds);
        tt_report("connect flood: %u connections in %lld ms against max_clients %u: %u served, "
                  "%u told \"server full\", all answered within %lld ms; peak %ld threads; "
                  "threads %ld and fds %ld back to baseline %lld ms after they left",
                  n, burst_ms, max, welcome, full, decided_ms, peak_threads, now.threads,
                  now.fds, clock_now_ms() - t0);
        tt_assert_alive(&d, "127.0.0.1");
        ck_assert_int_eq(pd_stop(&d), 0);
        free(c);
        free(pfd);
}
END_TEST

/* One client's whole life: connect, greeting, maybe a line, close. */
static void cycle(struct pd *d, unsigned i)
{
        struct pd_client c;
        char src[32];

        snprintf(src, sizeof(src), "127.0.%u.%u", 1 + i % 7, 1 + i % 200);
        if (i % 10 == 9) {
                ck_assert_int_eq(tt_chat_enter(&c, d, src, NULL), 0);
        } else {
                ck_assert_int_eq(pd_connect_from(&c, src, d->echo_port), 0);
                ck_assert(pd_expect_next(&c, WELCOME, 10000));
                if (i % 3 == 0) {
                        pd_send(&c, "bye\r\n");
                        ck_assert(pd_expect_next(&c, "OK...bye", 10000));
                }
        }
        pd_close(&c);
}

START_TEST(connect_cycles)
{
        unsigned n = tt_scaled(10000), warm = tt_scaled(500);
        struct tt_base start, base, now;
        struct pd d;

        ck_assert_int_eq(pd_start(&d, "[log]\nlevel = notice\n"), 0);
        tt_baseline(&d, &start);
        /* Warm up first: the allocator's arenas and glibc's cache of thread
         * stacks fill to what this load needs, and stay. */
        for (unsigned i = 0; i < warm; i++)
                cycle(&d, i);
        ck_assert(tt_back_to(&d, &start, &base, 20000));
        long long t0 = clock_now_ms();
        for (unsigned i = 0; i < n; i++)
                cycle(&d, i);
        long long ms = clock_now_ms() - t0;
        ck_assert_msg(tt_back_to(&d, &base, &now, 30000), "threads %ld (was %ld), fds %ld (was %ld)",
                      now.threads, base.threads, now.fds, base.fds);
        tt_sleep_ms(200);
        tt_baseline(&d, &now);
        tt_report("connect/disconnect: %u cycles (1 in 10 chat) in %lld ms: threads %ld -> %ld, "
                  "fds %ld -> %ld, RSS %ld -> %ld KiB", n, ms, base.threads, now.threads,
                  base.fds, now.fds, base.rss_kib, now.rss_kib);
        /* The sanitizers keep freed memory in quarantine, so resident
         * memory says nothing about leaks there (LeakSanitizer and the
         * valgrind run do): the plain build checks it. */
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
        ck_assert_msg(now.rss_kib <= base.rss_kib + 1024, "RSS grew from %ld to %ld KiB",
                              base.rss_kib, now.rss_kib);
#endif
        tt_assert_alive(&d, "127.0.0.1");
        ck_assert_int_eq(pd_stop(&d), 0);
}
END_TEST

Suite *test_suite(void)
{
        Suite *s = suite_create("torture-flood");
        TCase *tc = tcase_create("flood");

        tcase_set_timeout(tc, 300);
        tcase_add_test(tc, connect_flood);
        tcase_add_test(tc, connect_cycles);
        suite_add_tcase(s, tc);
        return s;
}
