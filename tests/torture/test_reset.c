/* Torture: 1,000 chat clients that join a room in the middle of a
 * broadcast and reset the connection (RST, via SO_LINGER 0) while lines
 * are queued for them. The clients that keep reading get every line of
 * the broadcast, in order, and pichatd goes back to its baseline. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "suite.h"
#include "torture.h"

#define LISTENERS 3

static struct pd d;
static atomic_uint resets;
static atomic_bool resetting;

/* tt_chat_enter(), saying an empty line (which chat ignores) first: a
 * client that has said nothing is held PICHAT_TLS_SNIFF_MS for a TLS
 * ClientHello before it enters a room, and 1,000 joins in a row would
 * spend 150 s waiting. */
static int enter_at_once(struct pd_client *c)
{
        char line[1024];

        if (pd_connect_from(c, "127.0.0.1", d.chat_port) < 0)
                return -1;
        pd_send(c, "\r\n");
        for (int i = 0; i < 100; i++) {
                if (pd_line(c, line, sizeof(line), 10000) < 0)
                        return -1;
                if (strncmp(line, "* you are ", 10) == 0)
                        return 0;
        }
        return -1;
}

/* Join, take a line or two of the broadcast, then reset. */
static void *resetter(void *arg)
{
        unsigned n = *(unsigned *)arg;
        struct linger lg = { .l_onoff = 1, .l_linger = 0 };
        char line[512];

        for (unsigned i = 0; i < n; i++) {
                struct pd_client c;

                if (enter_at_once(&c) < 0)
                        break;
                pd_line(&c, line, sizeof(line), i % 4);
                setsockopt(c.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
                pd_close(&c);
                atomic_fetch_add(&resets, 1);
        }
        atomic_store(&resetting, false);
        return NULL;
}

/* Read what each listener has; check "<sender> line K" comes in order. */
static void drain(struct pd_client *l, unsigned *next, int timeout_ms)
{
        char line[512];

        for (int i = 0; i < LISTENERS; i++) {
                while (pd_line(&l[i], line, sizeof(line), timeout_ms) >= 0) {
                        unsigned k;
                        if (line[0] == '*')
                                continue;       /* joins and leaves */
                        if (strcmp(line, "<sender> last") == 0) {
                                next[i] |= 1u << 31;
                                break;
                        }
                        ck_assert_msg(sscanf(line, "<sender> line %u", &k) == 1, "'%s'", line);
                        ck_assert_msg(k == next[i], "listener %d: line %u after %u", i, k,
                                      next[i]);
                        next[i]++;
                }
        }
}

START_TEST(reset_mid_broadcast)
{
        unsigned n = tt_scaled(1000), sent = 0, next[LISTENERS] = { 0 };
        struct pd_client l[LISTENERS], s;
        struct tt_base base, now;
        pthread_t t;
        char buf[64];

        /* The listeners only read: on a loaded machine the broadcast can
         * outlast the harness's 60 s idle timeout. */
        ck_assert_int_eq(pd_start(&d, "[server]\nidle_timeout_s = 300\n"
                                      "[chat]\nlines_per_sec = 100000\nburst = 100000\n"
                                      "history = 0\n[log]\nlevel = notice\n"), 0);
        tt_baseline(&d, &base);
        for (int i = 0; i < LISTENERS; i++)
                ck_assert_int_eq(tt_chat_enter(&l[i], &d, "::1", NULL), 0);
        ck_assert_int_eq(tt_chat_enter(&s, &d, "127.0.0.2", NULL), 0);
        pd_send(&s, "/nick sender\r\n");
        ck_assert(pd_expect(&s, "* you are now known as sender", 10000));

        long long t0 = clock_now_ms();
        atomic_store(&resetting, true);
        ck_assert_int_eq(pthread_create(&t, NULL, resetter, &n), 0);
        while (atomic_load(&resetting) && clock_now_ms() - t0 < 120000) {
                for (int k = 0; k < 8; k++) {
                        snprintf(buf, sizeof(buf), "line %u\r\n", sent++);
                        ck_assert_int_eq(pd_send(&s, buf), 0);
                }
                drain(l, next, 1);
        }
        pthread_join(t, NULL);
        pd_send(&s, "last\r\n");
        long long end = clock_now_ms() + 20000;
        bool all;
        do {
                drain(l, next, 50);
                all = true;
                for (int i = 0; i < LISTENERS; i++)
                        all = all && (next[i] & (1u << 31));
        } while (!all && clock_now_ms() < end);
        for (int i = 0; i < LISTENERS; i++)
                ck_assert_msg(next[i] == (sent | (1u << 31)), "listener %d got %u of %u lines",
                              i, next[i] & ~(1u << 31), sent);
        ck_assert_uint_eq(atomic_load(&resets), n);
        long long ms = clock_now_ms() - t0;

        for (int i = 0; i < LISTENERS; i++)
                pd_close(&l[i]);
        pd_close(&s);
        ck_assert_msg(tt_back_to(&d, &base, &now, 20000), "threads %ld (was %ld), fds %ld (was %ld)",
                      now.threads, base.threads, now.fds, base.fds);
        tt_report("resets: %u chat clients joined mid-broadcast and reset (RST) in %lld ms; "
                  "%d listeners got all %u broadcast lines in order; threads %ld and fds %ld "
                  "back to baseline", n, ms, LISTENERS, sent, now.threads, now.fds);
        tt_assert_alive(&d, "127.0.0.1");
        ck_assert_int_eq(pd_stop(&d), 0);
}
END_TEST

Suite *test_suite(void)
{
        Suite *s = suite_create("torture-reset");
        TCase *tc = tcase_create("reset");

        tcase_set_timeout(tc, 300);
        tcase_add_test(tc, reset_mid_broadcast);
        suite_add_tcase(s, tc);
        return s;
}
