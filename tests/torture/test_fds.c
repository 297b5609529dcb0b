/* Torture: descriptor exhaustion. pichatd's RLIMIT_NOFILE is lowered
 * (prlimit, the soft limit) to a few more than it holds, then clients keep coming: the
 * accept loops back off instead of spinning on the connection they cannot
 * take (its CPU use stays low), UDP is still answered, and once clients
 * leave, the waiting ones are served: it recovers by itself. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "suite.h"
#include "torture.h"

#define WELCOME "Welcome to the server. Type something and hit enter"
#define SPARE 16        /* descriptors left to pichatd above what it holds */
#define WINDOW_MS 3000

/* The greeting arrives within timeout_ms (a quiet pd_expect_next). */
static bool welcomed(struct pd_client *c, int timeout_ms)
{
        char line[128];

        return pd_line(c, line, sizeof(line), timeout_ms) >= 0 && strcmp(line, WELCOME) == 0;
}

START_TEST(fd_exhaustion)
{
        unsigned n = 4 * SPARE;
        struct pd_client *c = calloc(n, sizeof(*c));
        bool *served = calloc(n, sizeof(*served));
        struct rlimit low, old;
        struct pd d;
        char reply[64];

        ck_assert(c && served);
        ck_assert_int_eq(pd_start(&d, "[log]\nlevel = info\n"), 0);
        long fds = pd_proc_fds(d.pid);
        ck_assert_int_gt(fds, 0);
        /* Only the soft limit: the hard one stays, so it can be put back. */
        ck_assert_int_eq(prlimit(d.pid, RLIMIT_NOFILE, NULL, &old), 0);
        low.rlim_cur = (rlim_t)(fds + SPARE);
        low.rlim_max = old.rlim_max;
        ck_assert_int_eq(prlimit(d.pid, RLIMIT_NOFILE, &low, NULL), 0);

        /* More clients than descriptors: the kernel completes every
         * connection, pichatd can accept only some. */
        for (unsigned i = 0; i < n; i++)
                ck_assert_int_eq(pd_connect(&c[i], d.echo_port, AF_INET), 0);
        unsigned got = 0;
        for (unsigned i = 0; i < n; i++)
                if ((served[i] = welcomed(&c[i], i < SPARE / 2 ? 5000 : 100)))
                        got++;
        ck_assert_uint_lt(got, n);
        ck_assert(pd_log_wait(&d, "accept: Too many open files; backing off", 5000));

        /* Out of descriptors with connections waiting: no spinning. */
        long cpu0 = pd_proc_cpu_ticks(d.pid);
        long long t0 = clock_now_ms();
        tt_sleep_ms(WINDOW_MS);
        long ticks = pd_proc_cpu_ticks(d.pid) - cpu0;
        long long ms = clock_now_ms() - t0;
        double cpu = 100.0 * (double)ticks / (double)sysconf(_SC_CLK_TCK) / ((double)ms / 1000.0);
        ck_assert_msg(cpu < 10.0, "pichatd used %.1f%% of a CPU while out of descriptors", cpu);
        /* Datagrams need no new descriptor: UDP is still answered. */
        ck_assert_int_eq(pd_udp_exchange_from("127.0.0.2", 0, d.udp_port, "x", 1, reply,
                                              sizeof(reply), 2000), 6);

        /* Clients leave, the ones waiting are served, until all were. */
        unsigned first = got;
        t0 = clock_now_ms();
        while (got < n && clock_now_ms() - t0 < 30000) {
                for (unsigned i = 0; i < n; i++)
                        if (served[i] && c[i].fd >= 0)
                                pd_close(&c[i]);
                tt_sleep_ms(50);
                for (unsigned i = 0; i < n; i++)
                        if (!served[i] && (served[i] = welcomed(&c[i], 0)))
                                got++;
        }
        ck_assert_msg(got == n, "only %u of %u clients were ever served", got, n);
        long long recover_ms = clock_now_ms() - t0;
        for (unsigned i = 0; i < n; i++)
                pd_close(&c[i]);
        tt_report("fd exhaustion: RLIMIT_NOFILE %ld (pichatd held %ld), %u clients: %u served at "
                  "once, the rest waited; CPU %.1f%% over %lld ms while out of descriptors; UDP "
                  "answered; all %u served %lld ms after clients began to leave",
                  fds + SPARE, fds, n, first, cpu, ms, n, recover_ms);

        ck_assert_int_eq(prlimit(d.pid, RLIMIT_NOFILE, &old, NULL), 0);
        tt_assert_alive(&d, "127.0.0.1");
        ck_assert_int_eq(pd_stop(&d), 0);
        free(c);
        free(served);
}
END_TEST

Suite *test_suite(void)
{
        Suite *s = suite_create("torture-fds");
        TCase *tc = tcase_create("fds");

        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, fd_exhaustion);
        suite_add_tcase(s, tc);
        return s;
}
