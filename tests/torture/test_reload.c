/* Torture: 100 reloads (SIGHUP, each with a changed file) while 200 chat
 * clients, each from an address of its own, talk in one room. Every
 * client gets every other client's every line, in order: a reload drops
 * nothing and nobody. */
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "suite.h"
#include "torture.h"

#define HUPS 100
#define ROUNDS_MIN 20
#define READ_BUF (64 * 1024)

static struct pd d;
static atomic_int hups_done;
static atomic_llong hups_ms;
static atomic_bool hup_failed;

static const char ini_fmt[] =
        "[server]\nidle_timeout_s = 120\n"
        "[chat]\nmotd = reload %d\nlines_per_sec = 1000\nburst = 1000\nhistory = 0\n"
        "max_queue_kib = 1024\n[log]\nlevel = info\n";

/* Rewrite the file (so each reload swaps in a new config), SIGHUP, and
 * wait for that reload to be logged before the next: signals sent
 * closer than that would merge into one. */
static void *hupper(void *arg)
{
        char ini[512];

        long long t0 = clock_now_ms();

        (void)arg;
        for (int h = 1; h <= HUPS; h++) {
                snprintf(ini, sizeof(ini), ini_fmt, h);
                pd_write_conf(&d, ini);
                pd_signal(&d, SIGHUP);
                long long end = clock_now_ms() + 10000;
                while (pd_log_count(&d, "reloaded configuration") < h) {
                        if (clock_now_ms() > end) {
                                atomic_store(&hup_failed, true);
                                return NULL;
                        }
                        tt_sleep_ms(5);
                }
                atomic_store(&hups_done, h);
        }
        atomic_store(&hups_ms, clock_now_ms() - t0);
        return NULL;
}

struct reader {
        int fd;
        size_t len;
        char *buf;
};

/* Take all complete lines out of r: "<guestJ> m K" must be K == next[J]. */
static void take_lines(struct reader *r, unsigned self, unsigned *next, unsigned n,
                       unsigned long *count)
{
        char *p = r->buf, *end = r->buf + r->len, *nl;

        while ((nl = memchr(p, '\n', (size_t)(end - p)))) {
                unsigned g, k;
                *nl = '\0';
                if (p[0] == '<') {
                        ck_assert_msg(sscanf(p, "<guest%u> m %u", &g, &k) == 2, "'%s'", p);
                        ck_assert_msg(g >= 1 && g <= n && g - 1 != self, "'%s'", p);
                        ck_assert_msg(k == next[g - 1], "client %u: line %u of guest%u after %u",
                                      self, k, g, next[g - 1]);
                        next[g - 1]++;
                        (*count)++;
                }
                p = nl + 1;
        }
        r->len = (size_t)(end - p);
        memmove(r->buf, p, r->len);
}

/* Read whatever is waiting on every client. */
static void drain(struct reader *r, struct pollfd *pfd, unsigned n, unsigned *next,
                  unsigned long *count, int timeout_ms)
{
        for (unsigned i = 0; i < n; i++) {
                pfd[i].fd = r[i].fd;
                pfd[i].events = POLLIN;
        }
        if (poll(pfd, n, timeout_ms) <= 0)
                return;
        for (unsigned i = 0; i < n; i++) {
                if (!pfd[i].revents)
                        continue;
                ssize_t got = recv(r[i].fd, r[i].buf + r[i].len, READ_BUF - r[i].len,
                                   MSG_DONTWAIT);
                ck_assert_msg(got > 0, "client %u lost its connection", i);
                r[i].len += (size_t)got;
                take_lines(&r[i], i, next + (size_t)i * n, n, count);
        }
}

START_TEST(reload_while_chatting)
{
        unsigned n = tt_scaled(200);
        struct pd_client c;
        struct reader *r = calloc(n, sizeof(*r));
        struct pollfd *pfd = calloc(n, sizeof(*pfd));
        unsigned *next = calloc((size_t)n * n, sizeof(*next));
        unsigned long count = 0;
        struct tt_base base, now;
        char ini[512], src[32], nick[64], line[64];
        pthread_t t;

        ck_assert(r && pfd && next);
        tt_raise_nofile();
        snprintf(ini, sizeof(ini), ini_fmt, 0);
        ck_assert_int_eq(pd_start(&d, ini), 0);
        tt_baseline(&d, &base);
        for (unsigned i = 0; i < n; i++) {
                snprintf(src, sizeof(src), "127.1.%u.%u", i / 200, 1 + i % 200);
                ck_assert_int_eq(tt_chat_enter(&c, &d, src, nick), 0);
                snprintf(line, sizeof(line), "guest%u", i + 1);
                ck_assert_str_eq(nick, line);
                r[i].fd = c.fd;
                r[i].buf = malloc(READ_BUF);
                ck_assert_ptr_nonnull(r[i].buf);
                /* what pd_line had buffered past the greeting */
                memcpy(r[i].buf, c.buf, c.len);
                r[i].len = c.len;
        }

        long long t0 = clock_now_ms();
        ck_assert_int_eq(pthread_create(&t, NULL, hupper, NULL), 0);
        unsigned rounds = 0;
        while ((rounds < ROUNDS_MIN || atomic_load(&hups_done) < HUPS) &&
               !atomic_load(&hup_failed) && clock_now_ms() - t0 < 120000) {
                for (unsigned i = 0; i < n; i++) {
                        int len = snprintf(line, sizeof(line), "m %u\r\n", rounds);
                        ck_assert_int_eq(send(r[i].fd, line, (size_t)len, MSG_NOSIGNAL), len);
                }
                rounds++;
                long long until = clock_now_ms() + 20;
                while (clock_now_ms() < until)
                        drain(r, pfd, n, next, &count, 5);
        }
        pthread_join(t, NULL);
        ck_assert_msg(!atomic_load(&hup_failed), "a reload was not logged within 10 s");
        unsigned long want = (unsigned long)n * (n - 1) * rounds;
        long long end = clock_now_ms() + 60000;
        while (count < want && clock_now_ms() < end)
                drain(r, pfd, n, next, &count, 100);
        for (unsigned i = 0; i < n; i++)
                for (unsigned j = 0; j < n; j++)
                        ck_assert_msg(i == j || next[(size_t)i * n + j] == rounds,
                                      "client %u got %u of guest%u's %u lines", i,
                                      next[(size_t)i * n + j], j + 1, rounds);
        ck_assert_uint_eq(count, want);
        long long ms = clock_now_ms() - t0;
        ck_assert_int_eq(pd_log_count_when(&d, "reloaded configuration", HUPS), HUPS);
        ck_assert_int_eq(pd_log_count(&d, "disconnected"), 0);

        for (unsigned i = 0; i < n; i++) {
                close(r[i].fd);
                free(r[i].buf);
        }
        ck_assert_msg(tt_back_to(&d, &base, &now, 30000), "threads %ld (was %ld), fds %ld (was %ld)",
                      now.threads, base.threads, now.fds, base.fds);
        tt_report("reload: %d SIGHUPs in %lld ms while %u chat clients sent %u lines each: "
                  "all %lu lines delivered in order, no client dropped, %lld ms in all", HUPS,
                  (long long)atomic_load(&hups_ms), n, rounds, count, ms);
        tt_assert_alive(&d, "127.0.0.1");
        ck_assert_int_eq(pd_stop(&d), 0);
        free(r);
        free(pfd);
        free(next);
}
END_TEST

Suite *test_suite(void)
{
        Suite *s = suite_create("torture-reload");
        TCase *tc = tcase_create("reload");

        tcase_set_timeout(tc, 300);
        tcase_add_test(tc, reload_while_chatting);
        suite_add_tcase(s, tc);
        return s;
}
