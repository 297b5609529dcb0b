/* Torture: a seeded, randomised soak of the chat service. Actors, each
 * from an address of its own, connect, rename, say numbered lines, run
 * every command with random text, change rooms, stop reading for a
 * while, quit or just vanish, and come back; reloads change the texts
 * and limits meanwhile. Observers stay in the lobby and read everything.
 *
 * It asserts: pichatd never stops; every byte any client gets is clean
 * UTF-8; every actor session's lobby lines reach every observer in order,
 * none twice; a session that ended with "* bye" had every one of them
 * delivered; a session whose arrival was announced and whose lines were
 * not all delivered had its leaving announced; and once everyone has
 * gone, threads and descriptors are back to where they started and
 * memory is near it.
 *
 * PICHAT_SOAK_SECONDS (default 60) sets how long, PICHAT_SOAK_SEED (default
 * 1) the run; both are printed, so that a failure can be run again. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "suite.h"
#include "torture.h"

#define ACTORS 8
#define OBSERVERS 3
#define SESSIONS_MAX 4096

static const char ini_fmt[] =
        "[server]\nidle_timeout_s = 120\nmax_line_bytes = %d\n"
        "[chat]\nmotd = soak %d\nlines_per_sec = %d\nburst = 400\nhistory = %d\n"
        "max_queue_kib = 64\nrooms = lobby r0 r1 r2\n[log]\nlevel = notice\n";

static unsigned rng_state;

static unsigned rnd(unsigned n)
{
        return (unsigned)rand_r(&rng_state) % n;
}

/* What is known of every actor session, by its number. */
struct session {
        unsigned sent;          /* numbered lines said in the lobby */
        bool clean;             /* ended with "* bye": all must arrive */
        bool ended;
        bool announced[OBSERVERS];      /* its "entered" (or rename) seen */
        bool left_seen[OBSERVERS];      /* its "left" notice seen */
        unsigned got[OBSERVERS];        /* lines seen, in order */
};

static struct session sess[SESSIONS_MAX];
static unsigned n_sess;
/* Which guests' arrivals each observer was told of (guestN, by N). */
#define GUESTS_MAX (SESSIONS_MAX + 64)
static bool entered[OBSERVERS][GUESTS_MAX];

enum { OFF, NAMING, ACTIVE, QUITTING };

struct actor {
        struct pd_client c;
        int state;
        unsigned s;             /* its session */
        char nick[32];
        bool in_lobby;
        int slow;               /* steps left not reading */
        int64_t next;           /* when it acts again */
};

static struct pd d;
static struct actor act[ACTORS];
static struct pd_client obs[OBSERVERS];
static unsigned unclean_lines, checked_lines;

/* Random text: ASCII, characters of every length, invisible ones,
 * controls and bytes that are not UTF-8 (not 0xFF: telnet's own). */
static size_t random_text(char *out, size_t max)
{
        static const char *const pieces[] = {
                "a", "b", "Z", " ", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xe2\x80\xae",
                "\xe2\x80\x8b", "\xcc\x81\xcc\x81\xcc\x81\xcc\x81\xcc\x81", "\x1b[2J", "\x07",
                "\x80", "\xc3", "\xfe", "\xed\xa0\x80", "\t",
        };
        size_t n = 0, want = rnd((unsigned)max);

        while (n < want) {
                const char *p = pieces[rnd(sizeof(pieces) / sizeof(pieces[0]))];
                size_t k = strlen(p);
                if (n + k > max)
                        break;
                memcpy(out + n, p, k);
                n += k;
        }
        out[n] = '\0';
        return n;
}

static void check_clean(const char *line, int n, const char *who)
{
        checked_lines++;
        if (!tt_clean_text(line, (size_t)n)) {
                if (unclean_lines++ == 0)
                        fprintf(stderr, "%s got unclean '%.120s'\n", who, line);
        }
}

/* A line an observer read. */
static void observe(int o, const char *line)
{
        unsigned a, s, seq, g;

        if (sscanf(line, "<a%us%u> L %u ", &a, &s, &seq) == 3 && s < n_sess) {
                ck_assert_msg(seq == sess[s].got[o], "observer %d: session %u line %u after %u",
                              o, s, seq, sess[s].got[o]);
                sess[s].got[o]++;
                return;
        }
        if (sscanf(line, "* guest%u entered room lobby", &g) == 1 && g < GUESTS_MAX)
                entered[o][g] = true;
        else if (sscanf(line, "* guest%u is now known as a%us%u", &g, &a, &s) == 3 &&
                 s < n_sess && g < GUESTS_MAX)
                sess[s].announced[o] = entered[o][g];
        else if (sscanf(line, "* a%us%u left room lobby", &a, &s) == 2 && s < n_sess)
                sess[s].left_seen[o] = true;
}

static void drain_observers(int quiet_ms)
{
        char line[16384];
        int n;

        for (int o = 0; o < OBSERVERS; o++)
                while ((n = pd_line(&obs[o], line, sizeof(line), quiet_ms)) >= 0) {
                        check_clean(line, n, "an observer");
                        observe(o, line);
                }
}

static void end_session(struct actor *a, bool clean)
{
        sess[a->s].clean = clean;
        sess[a->s].ended = true;
        pd_close(&a->c);
        a->state = OFF;
        a->next = clock_now_ms() + rnd(500);
}

/* Read what actor a has now; returns false if its connection is gone. */
static bool read_actor(struct actor *a, bool *bye)
{
        char line[16384];
        int n;

        while ((n = pd_line(&a->c, line, sizeof(line), 0)) >= 0) {
                check_clean(line, n, "an actor");
                if (a->state == NAMING && strncmp(line, "* you are now known as ", 23) == 0)
                        a->state = ACTIVE;
                if (strcmp(line, "* bye") == 0)
                        *bye = true;
        }
        return n != -2;
}

static void say(struct actor *a, const char *text)
{
        if (pd_send(&a->c, text) < 0 || pd_send(&a->c, "\r\n") < 0)
                end_session(a, false);
}

static void step(struct actor *a, int i, char *src)
{
        char buf[1024], text[400];
        bool bye = false;

        if (a->state == OFF) {
                if (n_sess == SESSIONS_MAX)
                        return;
                snprintf(src, 32, "127.0.2.%d", i + 1);
                if (pd_connect_from(&a->c, src, d.chat_port) < 0)
                        return;
                a->s = n_sess++;
                memset(&sess[a->s], 0, sizeof(sess[a->s]));
                snprintf(a->nick, sizeof(a->nick), "a%ds%u", i, a->s);
                a->state = NAMING;
                a->in_lobby = true;
                a->slow = 0;
                snprintf(buf, sizeof(buf), "/nick %s", a->nick);
                say(a, buf);
                return;
        }
        if (a->slow > 0) {
                a->slow--;
        } else if (!read_actor(a, &bye)) {
                end_session(a, a->state == QUITTING && bye);
                return;
        }
        if (a->state == QUITTING) {
                /* Read to the end: "* bye" says every line came through. */
                if (!read_actor(a, &bye) || bye)
                        end_session(a, bye);
                return;
        }
        if (a->state != ACTIVE)
                return;
        unsigned what = rnd(100);
        if (what < 45) {
                random_text(text, 120);
                snprintf(buf, sizeof(buf), "L %u %s", a->in_lobby ? sess[a->s].sent : 0, text);
                if (a->in_lobby)
                        sess[a->s].sent++;
                say(a, buf);
        } else if (what < 70) {
                static const char *const cmds[] = {
                        "/who", "/rooms", "/me ", "/topic ", "/msg a0s0 ", "/help", "/bogus ",
                        "/msg ", "//", "/nick bad name!",
                };
                random_text(text, 200);
                snprintf(buf, sizeof(buf), "%s%s", cmds[rnd(sizeof(cmds) / sizeof(cmds[0]))],
                         text);
                say(a, buf);
        } else if (what < 78) {
                snprintf(buf, sizeof(buf), "/join #r%u", rnd(3));
                a->in_lobby = false;
                say(a, buf);
        } else if (what < 86) {
                a->in_lobby = true;
                say(a, "/leave");
        } else if (what < 90) {
                a->slow = (int)rnd(200);        /* stops reading for a while */
        } else if (what < 95) {
                snprintf(buf, sizeof(buf), "/quit %s", (random_text(text, 80), text));
                say(a, buf);
                if (a->state == ACTIVE)
                        a->state = QUITTING;
        } else if (what < 97) {
                /* Vanishes: a reset, lines in flight lost. */
                struct linger lg = { .l_onoff = 1, .l_linger = 0 };
                setsockopt(a->c.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
                end_session(a, false);
        }
}

START_TEST(soak)
{
        const char *e = getenv("PICHAT_SOAK_SECONDS"), *sd = getenv("PICHAT_SOAK_SEED");
        int secs = e && atoi(e) > 0 ? atoi(e) : 60;
        unsigned seed = sd && *sd ? (unsigned)strtoul(sd, NULL, 10) : 1, reloads = 0;
        struct tt_base base, now;
        char ini[1024], src[32];

        rng_state = seed;
        tt_raise_nofile();
        snprintf(ini, sizeof(ini), ini_fmt, 1024, 0, 200, 5);
        ck_assert_int_eq(pd_start(&d, ini), 0);
        tt_baseline(&d, &base);
        for (int o = 0; o < OBSERVERS; o++)
                ck_assert_int_eq(tt_chat_enter(&obs[o], &d, NULL, NULL), 0);
        memset(act, 0, sizeof(act));

        int64_t t0 = clock_now_ms(), end = t0 + (int64_t)secs * 1000, next_reload = t0 + 3000;
        while (clock_now_ms() < end) {
                for (int i = 0; i < ACTORS; i++)
                        if (clock_now_ms() >= act[i].next)
                                step(&act[i], i, src);
                drain_observers(0);
                if (clock_now_ms() >= next_reload) {
                        snprintf(ini, sizeof(ini), ini_fmt, 512 + (int)rnd(2) * 512, ++reloads,
                                 100 + (int)rnd(200), (int)rnd(10));
                        pd_write_conf(&d, ini);
                        pd_signal(&d, SIGHUP);
                        next_reload = clock_now_ms() + 2000 + rnd(2000);
                }
                tt_sleep_ms(2);
        }
        /* Everyone still there leaves cleanly, and is read to the end. */
        for (int i = 0; i < ACTORS; i++) {
                if (act[i].state == ACTIVE) {
                        act[i].slow = 0;
                        say(&act[i], "/quit done");
                        if (act[i].state == ACTIVE)
                                act[i].state = QUITTING;
                }
        }
        int64_t stop = clock_now_ms() + 20000;
        for (bool busy = true; busy && clock_now_ms() < stop;) {
                busy = false;
                for (int i = 0; i < ACTORS; i++) {
                        if (act[i].state == OFF)
                                continue;
                        if (act[i].state == NAMING || act[i].state == ACTIVE) {
                                end_session(&act[i], false);
                                continue;
                        }
                        act[i].slow = 0;
                        step(&act[i], i, src);
                        busy = true;
                }
                drain_observers(0);
                tt_sleep_ms(5);
        }
        drain_observers(1000);

        unsigned clean = 0, announced_losses = 0, lines = 0;
        for (unsigned s = 0; s < n_sess; s++) {
                lines += sess[s].sent;
                for (int o = 0; o < OBSERVERS; o++) {
                        ck_assert_msg(sess[s].got[o] <= sess[s].sent,
                                      "session %u: observer %d got %u of %u", s, o,
                                      sess[s].got[o], sess[s].sent);
                        if (sess[s].clean)
                                ck_assert_msg(sess[s].got[o] == sess[s].sent,
                                              "session %u ended with '* bye' but observer %d got "
                                              "%u of its %u lines", s, o, sess[s].got[o],
                                              sess[s].sent);
                        else if (sess[s].got[o] < sess[s].sent && sess[s].announced[o]) {
                                ck_assert_msg(sess[s].left_seen[o], "session %u: %u of %u lines "
                                              "reached observer %d, and its leaving was not told",
                                              s, sess[s].got[o], sess[s].sent, o);
                                announced_losses++;
                        }
                }
                clean += sess[s].clean;
        }
        ck_assert_msg(unclean_lines == 0, "%u unclean lines of %u", unclean_lines, checked_lines);
        ck_assert_uint_gt(clean, 0);
        for (int o = 0; o < OBSERVERS; o++)
                pd_close(&obs[o]);
        ck_assert_msg(tt_back_to(&d, &base, &now, 20000), "threads %ld (was %ld), fds %ld (was %ld)",
                      now.threads, base.threads, now.fds, base.fds);
        tt_report("soak: %d s, seed %u: %u sessions (%u ended with '* bye'), %u lobby lines, "
                  "%u reloads, %u lines checked clean; threads %ld and fds %ld back to baseline, "
                  "RSS %ld KiB (was %ld)", secs, seed, n_sess, clean, lines, reloads,
                  checked_lines, now.threads, now.fds, now.rss_kib, base.rss_kib);
        (void)announced_losses;
        /* Memory near where it started: what the clients cost is given
         * back (the allocator keeps some, never a client's worth each).
         * The sanitizers keep freed memory on purpose: not there. */
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
        const char *wrapper = getenv("PICHATD_WRAPPER");
        if (!wrapper || !*wrapper)
                ck_assert_msg(now.rss_kib <= base.rss_kib + 2048, "RSS grew from %ld to %ld KiB",
                              base.rss_kib, now.rss_kib);
#endif
        tt_assert_alive(&d, "127.0.0.1");
        ck_assert_int_eq(pd_stop(&d), 0);
}
END_TEST

Suite *test_suite(void)
{
        Suite *s = suite_create("torture-soak");
        TCase *tc = tcase_create("soak");

        tcase_set_timeout(tc, 600);
        tcase_add_test(tc, soak);
        suite_add_tcase(s, tc);
        return s;
}
