/* Integration: the chat service with several real clients. */
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bounds.h"
#include "clock.h"
#include "harness.h"
#include "suite.h"

static struct pd d;

/* Connect and read the greeting up to "* you are NICK, in room ...". */
static void enter(struct pd_client *c, char nick[64])
{
        char line[1024];

        ck_assert_int_eq(pd_connect(c, d.chat_port, AF_INET), 0);
        for (;;) {
                ck_assert_int_ge(pd_line(c, line, sizeof(line), 5000), 0);
                if (strncmp(line, "* you are ", 10) == 0)
                        break;
        }
        sscanf(line + 10, "%63[^,]", nick);
}

/* Read and drop whatever arrives until the connection is quiet. */
static void settle(struct pd_client *c)
{
        char line[1024];
        while (pd_line(c, line, sizeof(line), 200) >= 0)
                ;
}

/* Connect, take nick, and wait until the others saw it. */
static void enter_as(struct pd_client *c, const char *nick)
{
        char guest[64], want[128];

        enter(c, guest);
        snprintf(want, sizeof(want), "/nick %s\r\n", nick);
        pd_send(c, want);
        snprintf(want, sizeof(want), "* you are now known as %s", nick);
        ck_assert(pd_expect(c, want, 5000));
}

static void start(const char *extra)
{
        ck_assert_int_eq(pd_start(&d, extra), 0);
}

static void stop(void)
{
        ck_assert_int_eq(pd_stop(&d), 0);
}

START_TEST(chat_greeting)
{
        struct pd_client c;
        char nick[64];

        start("[chat]\nmotd = \"Hello, chatters!\"\n");
        ck_assert_int_eq(pd_connect(&c, d.chat_port, AF_INET6), 0);
        ck_assert(pd_expect_next(&c, "* Welcome to pichat chat. Type /help for commands.", 5000));
        ck_assert(pd_expect_next(&c, "* Hello, chatters!", 5000));
        ck_assert(pd_expect_next(&c, "* you are guest1, in room lobby (1 member)", 5000));
        pd_close(&c);
        enter(&c, nick);
        ck_assert_str_eq(nick, "guest2");
        pd_close(&c);
        stop();
}
END_TEST

START_TEST(chat_motd_file)
{
        struct pd_client c;
        char dir[] = "/tmp/pichat-motd.XXXXXX", path[64], extra[128];

        ck_assert_ptr_nonnull(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/motd", dir);
        FILE *f = fopen(path, "w");
        ck_assert_ptr_nonnull(f);
        fputs("Today: \x1b[31mred\x1b[0m cake\nsecond line\n", f);
        fclose(f);
        snprintf(extra, sizeof(extra), "[chat]\nmotd_file = %s\n", path);
        start(extra);
        ck_assert_int_eq(pd_connect(&c, d.chat_port, AF_INET), 0);
        ck_assert(pd_expect_next(&c, "* Welcome to pichat chat. Type /help for commands.", 5000));
        /* first line only, with the escape sequences taken out */
        ck_assert(pd_expect_next(&c, "* Today: [31mred[0m cake", 5000));
        pd_close(&c);
        /* a motd file that went away: the motd line is used */
        unlink(path);
        ck_assert_int_eq(pd_connect(&c, d.chat_port, AF_INET), 0);
        ck_assert(pd_expect_next(&c, "* Welcome to pichat chat. Type /help for commands.", 5000));
        ck_assert(pd_expect_next(&c, "* Be nice, and have fun.", 5000));
        ck_assert(pd_log_wait(&d, "cannot read motd_file", 2000));
        pd_close(&c);
        rmdir(dir);
        stop();
}
END_TEST

START_TEST(chat_broadcast_not_to_sender)
{
        struct pd_client a, b, c;

        start(NULL);
        enter_as(&a, "alice");
        enter_as(&b, "bob");
        ck_assert(pd_expect(&a, "* guest2 entered room lobby", 5000));
        ck_assert(pd_expect(&a, "* guest2 is now known as bob", 5000));
        enter_as(&c, "carol");
        ck_assert(pd_expect(&a, "* guest3 is now known as carol", 5000));
        ck_assert(pd_expect(&b, "* guest3 is now known as carol", 5000));

        pd_send(&a, "hello room\r\n");
        ck_assert(pd_expect_next(&b, "<alice> hello room", 5000));
        ck_assert(pd_expect_next(&c, "<alice> hello room", 5000));
        ck_assert(pd_quiet(&a, 300));
        /* telnet line ends and /me */
        pd_send(&b, "/me waves\r");
        ck_assert(pd_expect_next(&a, "* bob waves", 5000));
        ck_assert(pd_expect_next(&c, "* bob waves", 5000));
        pd_send(&c, "//slash is literal\n");
        ck_assert(pd_expect_next(&a, "<carol> /slash is literal", 5000));
        ck_assert(pd_quiet(&c, 200));
        pd_close(&a);
        pd_close(&b);
        pd_close(&c);
        stop();
}
END_TEST

START_TEST(chat_leave_notices)
{
        struct pd_client a, b, c;

        start(NULL);
        enter_as(&a, "alice");
        enter_as(&b, "bob");
        enter_as(&c, "carol");
        pd_send(&b, "/quit see you\r\n");
        ck_assert(pd_expect(&b, "* bye", 5000));
        ck_assert(pd_wait_closed(&b, 5000));
        ck_assert(pd_expect(&a, "* bob left room lobby (quit: see you)", 5000));
        pd_close(&c);           /* dropped without /quit */
        ck_assert(pd_expect(&a, "* carol left room lobby (connection closed by client)", 5000));
        ck_assert(pd_log_wait(&d, "carol left (connection closed by client)", 2000));
        pd_close(&a);
        pd_close(&b);
        stop();
}
END_TEST

START_TEST(chat_commands)
{
        struct pd_client a, b;

        start("[chat]\nrooms = lobby games\n");
        enter_as(&a, "alice");
        enter_as(&b, "bob");
        settle(&a);

        pd_send(&a, "/who\r\n");
        ck_assert(pd_expect_next(&a, "* members of room lobby:", 5000));
        char line[512];
        ck_assert_int_ge(pd_line(&a, line, sizeof(line), 5000), 0);
        ck_assert(strstr(line, "alice") && strstr(line, "bob"));
        ck_assert(pd_expect_next(&a, "* 2 members", 5000));

        pd_send(&a, "/ROOMS\r\n");
        ck_assert(pd_expect_next(&a, "* rooms:", 5000));
        bool lobby = false, games = false;
        for (int i = 0; i < 2; i++) {
                ck_assert_int_ge(pd_line(&a, line, sizeof(line), 5000), 0);
                lobby |= strcmp(line, "*   lobby: 2 members") == 0;
                games |= strcmp(line, "*   games: 0 members") == 0;
        }
        ck_assert(lobby && games);

        pd_send(&a, "/msg BOB psst, secret\r\n");
        ck_assert(pd_expect_next(&a, "-> *bob* psst, secret", 5000));
        ck_assert(pd_expect_next(&b, "*alice* psst, secret", 5000));
        pd_send(&a, "/msg nobody hi\r\n");
        ck_assert(pd_expect_next(&a, "no such nick nobody", 5000));
        pd_send(&a, "/msg bob\r\n");
        ck_assert_int_ge(pd_line(&a, line, sizeof(line), 5000), 0);
        ck_assert_ptr_nonnull(strstr(line, "/msg"));

        pd_send(&a, "/topic\r\n");
        ck_assert(pd_expect_next(&a, "* room lobby has no topic", 5000));
        pd_send(&a, "/topic cake at five\r\n");
        ck_assert(pd_expect_next(&a, "* alice set the topic of lobby: cake at five", 5000));
        ck_assert(pd_expect_next(&b, "* alice set the topic of lobby: cake at five", 5000));
        pd_send(&b, "/topic\r\n");
        ck_assert(pd_expect_next(&b, "* topic of lobby: cake at five", 5000));

        pd_send(&a, "/frobnicate now\r\n");
        ck_assert(pd_expect_next(&a, "unknown command /frobnicate (try /help)", 5000));
        pd_send(&a, "/nick\r\n");
        ck_assert_int_ge(pd_line(&a, line, sizeof(line), 5000), 0);
        ck_assert_ptr_nonnull(strstr(line, "/nick"));
        pd_send(&a, "/nick bad!name\r\n");
        ck_assert_int_ge(pd_line(&a, line, sizeof(line), 5000), 0);
        ck_assert_ptr_nonnull(strstr(line, "bad nick"));
        pd_send(&a, "/nick abcdefghijklmnopq\r\n");     /* 17 > max_nick_len 16 */
        ck_assert_int_ge(pd_line(&a, line, sizeof(line), 5000), 0);
        ck_assert_ptr_nonnull(strstr(line, "bad nick"));
        pd_send(&a, "/nick BOB\r\n");
        ck_assert(pd_expect_next(&a, "nick BOB is taken", 5000));

        pd_send(&a, "/help\r\n");
        ck_assert(pd_expect_next(&a, "* commands:", 5000));
        int help_lines = 0;
        while (pd_line(&a, line, sizeof(line), 300) >= 0) {
                ck_assert(strncmp(line, "*   /", 5) == 0);
                help_lines++;
        }
        ck_assert_int_ge(help_lines, 10);

        /* rooms: join, leave */
        pd_send(&b, "/join #games\r\n");
        ck_assert(pd_expect_next(&b, "* you are bob, in room games (1 member)", 5000));
        ck_assert(pd_expect(&a, "* bob left room lobby (changed room)", 5000));
        pd_send(&b, "/join games\r\n");
        ck_assert(pd_expect_next(&b, "* you are in room games already", 5000));
        pd_send(&a, "only lobby hears this\r\n");
        ck_assert(pd_quiet(&b, 300));
        pd_send(&b, "/leave\r\n");
        ck_assert(pd_expect_next(&b, "* you are bob, in room lobby (2 members; topic: cake at five)", 5000));
        ck_assert(pd_expect(&a, "* bob entered room lobby", 5000));
        settle(&b);
        pd_send(&b, "/join bad/room\r\n");
        ck_assert_int_ge(pd_line(&b, line, sizeof(line), 5000), 0);
        ck_assert_msg(strstr(line, "bad room name") != NULL, "got '%s'", line);
        pd_close(&a);
        pd_close(&b);
        stop();
}
END_TEST

START_TEST(chat_keyed_room_and_history)
{
        struct pd_client a, b, c;

        start("[chat]\nhistory = 3\n");
        enter_as(&a, "alice");
        enter_as(&b, "bob");
        settle(&a);
        pd_send(&a, "/join secret k1\r\n");
        ck_assert(pd_expect_next(&a, "* you are alice, in room secret (1 member)", 5000));
        for (int i = 1; i <= 5; i++) {
                char msg[32];
                snprintf(msg, sizeof(msg), "line %d\r\n", i);
                pd_send(&a, msg);
        }
        /* a reply to alice means her lines before it were all handled */
        pd_send(&a, "/topic\r\n");
        ck_assert(pd_expect(&a, "* room secret has no topic", 5000));
        pd_send(&b, "/join secret\r\n");
        ck_assert(pd_expect(&b, "room secret needs a key (/join ROOM KEY)", 5000));
        pd_send(&b, "/join #secret nope\r\n");
        ck_assert(pd_expect_next(&b, "wrong key for room secret", 5000));
        pd_send(&b, "/join Secret k1\r\n");
        ck_assert(pd_expect_next(&b, "* you are bob, in room secret (2 members)", 5000));
        /* the last 3 lines, marked as history, oldest first */
        ck_assert(pd_expect_next(&b, "[history] <alice> line 3", 5000));
        ck_assert(pd_expect_next(&b, "[history] <alice> line 4", 5000));
        ck_assert(pd_expect_next(&b, "[history] <alice> line 5", 5000));
        ck_assert(pd_expect(&a, "* bob entered room secret", 5000));

        /* A room not in [chat] rooms disappears with its last member. */
        enter_as(&c, "carol");
        pd_send(&a, "/leave\r\n");
        ck_assert(pd_expect(&a, "* you are alice, in room lobby (2 members)", 5000));
        pd_send(&b, "/leave\r\n");
        ck_assert(pd_expect(&b, "* you are bob, in room lobby (3 members)", 5000));
        ck_assert(pd_expect(&c, "* bob entered room lobby", 5000));
        settle(&c);
        pd_send(&c, "/rooms\r\n");
        ck_assert(pd_expect_next(&c, "* rooms:", 5000));
        ck_assert(pd_expect_next(&c, "*   lobby: 3 members", 5000));
        ck_assert(pd_quiet(&c, 300));
        pd_send(&c, "/join secret\r\n");
        ck_assert(pd_expect_next(&c, "* you are carol, in room secret (1 member)", 5000));
        pd_close(&a);
        pd_close(&b);
        pd_close(&c);
        stop();
}
END_TEST

struct racer {
        struct pd_client c;
        int won;
};

static void *race(void *arg)
{
        struct racer *r = arg;
        char line[256];

        pd_send(&r->c, "/nick winner\r\n");
        while (pd_line(&r->c, line, sizeof(line), 5000) >= 0) {
                if (strcmp(line, "* you are now known as winner") == 0) {
                        r->won = 1;
                        break;
                }
                if (strcmp(line, "nick winner is taken") == 0) {
                        r->won = 0;
                        break;
                }
        }
        return NULL;
}

START_TEST(chat_nick_race)
{
        enum { N = 20 };
        struct racer r[N];
        pthread_t t[N];
        char nick[64];
        int winners = 0;

        start(NULL);
        for (int i = 0; i < N; i++) {
                enter(&r[i].c, nick);
                r[i].won = -1;
        }
        for (int i = 0; i < N; i++)
                pthread_create(&t[i], NULL, race, &r[i]);
        for (int i = 0; i < N; i++) {
                pthread_join(t[i], NULL);
                ck_assert_int_ge(r[i].won, 0);
                winners += r[i].won;
        }
        ck_assert_int_eq(winners, 1);
        for (int i = 0; i < N; i++)
                pd_close(&r[i].c);
        stop();
}
END_TEST

START_TEST(chat_sanitised)
{
        struct pd_client a, b;
        char buf[256];

        start(NULL);
        enter_as(&a, "alice");
        enter_as(&b, "bob");
        /* ESC sequences, BEL, a raw 0xFF, invalid UTF-8, valid UTF-8 */
        /* (0xFF must be doubled on a telnet connection to be a byte at all) */
        static const char evil[] = "x\x1b[31mred\x07 \xfe\xff\xff ok \xc3\xa9 \xed\xa0\x80!\r\n";
        pd_send_raw(&a, evil, sizeof(evil) - 1);
        int n = pd_line(&b, buf, sizeof(buf), 5000);
        ck_assert_int_gt(n, 0);
        ck_assert_ptr_null(memchr(buf, 0x1b, (size_t)n));
        ck_assert_ptr_null(memchr(buf, 0x07, (size_t)n));
        ck_assert_ptr_null(memchr(buf, 0xff, (size_t)n));
        ck_assert_str_eq(buf, "<alice> x[31mred \xef\xbf\xbd\xef\xbf\xbd ok \xc3\xa9 "
                              "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd!");
        pd_close(&a);
        pd_close(&b);
        stop();
}
END_TEST

/* Read every receiver until each has count numbered lines from sender;
 * fails on a lost, corrupted or reordered line. */
static void collect(struct pd_client *rc, int nr, const char *sender, int count,
                    long long deadline, long long *last_ms)
{
        int *next = calloc((size_t)nr, sizeof(int));
        int done = 0;
        char line[1024], want[1024];

        while (done < nr) {
                struct pollfd pfd[64];
                ck_assert_int_lt(clock_now_ms(), deadline);
                for (int i = 0; i < nr; i++) {
                        pfd[i].fd = rc[i].fd;
                        pfd[i].events = POLLIN;
                        /* lines already buffered first */
                        while (next[i] < count && memchr(rc[i].buf, '\n', rc[i].len)) {
                                ck_assert_int_ge(pd_line(&rc[i], line, sizeof(line), 0), 0);
                                if (strncmp(line, "* ", 2) == 0)
                                        continue;       /* notices */
                                snprintf(want, sizeof(want), "<%s> line %05d %s", sender, next[i],
                                         "the quick brown fox jumps over the lazy dog");
                                ck_assert_msg(strcmp(line, want) == 0,
                                              "receiver %d: got '%s', want '%s'", i, line, want);
                                if (++next[i] == count)
                                        done++;
                        }
                }
                if (done == nr)
                        break;
                ck_assert_int_ge(poll(pfd, (nfds_t)nr, 1000), 0);
                for (int i = 0; i < nr; i++) {
                        if (!(pfd[i].revents & POLLIN) || next[i] == count)
                                continue;
                        ssize_t n = recv(rc[i].fd, rc[i].buf + rc[i].len,
                                         sizeof(rc[i].buf) - rc[i].len, MSG_DONTWAIT);
                        ck_assert_int_gt(n, 0);
                        rc[i].len += (size_t)n;
                }
        }
        *last_ms = clock_now_ms();
        free(next);
}

static void send_lines(struct pd_client *s, int count)
{
        size_t size = (size_t)count * 80, len = 0;
        char *all = malloc(size);

        for (int i = 0; i < count; i++)
                len += (size_t)snprintf(all + len, size - len, "line %05d %s\r\n", i,
                                        "the quick brown fox jumps over the lazy dog");
        ck_assert_int_eq(pd_send_raw(s, all, len), 0);
        free(all);
}

START_TEST(chat_burst_no_loss)
{
        enum { N = 50, LINES = 2000 };
        struct pd_client *rc = calloc(N, sizeof(*rc));
        struct pd_client s;
        long long last;

        start("[server]\nmax_clients_per_ip = 0\n[chat]\nlines_per_sec = 100000\nburst = 100000\n");
        for (int i = 0; i < N; i++) {
                char nick[64];
                enter(&rc[i], nick);
        }
        enter_as(&s, "sender");
        send_lines(&s, LINES);
        collect(rc, N, "sender", LINES, clock_now_ms() + 60000, &last);
        for (int i = 0; i < N; i++)
                pd_close(&rc[i]);
        pd_close(&s);
        free(rc);
        stop();
}
END_TEST

/* A history that cleaning has made three times as long as what was typed
 * (every invalid byte becomes U+FFFD) is more than a new member's queue
 * holds. The joiner gets the newest lines that fit, told how many older
 * ones were left out, and stays: it was never too slow, it had not had
 * the chance to read. */
START_TEST(chat_history_never_drops_a_joiner)
{
        struct pd_client a, b;
        char line[4096], junk[1002];
        int n;

        start("[chat]\nhistory = 25\nmax_queue_kib = 16\nlines_per_sec = 1000\nburst = 1000\n");
        enter_as(&a, "alice");
        memset(junk, 0xC0, 1000);
        memcpy(junk + 1000, "\r\n", 2);
        for (int i = 0; i < 25; i++)
                ck_assert_int_eq(pd_send_raw(&a, junk, sizeof(junk)), 0);
        pd_send(&a, "/who\r\n");
        ck_assert(pd_expect(&a, "* 1 member", 5000));

        ck_assert_int_eq(pd_connect(&b, d.chat_port, AF_INET), 0);
        ck_assert(pd_expect(&b, "* you are guest2, in room lobby (2 members)", 5000));
        ck_assert_int_ge(n = pd_line(&b, line, sizeof(line), 5000), 0);
        unsigned left_out = 0;
        ck_assert_msg(sscanf(line, "[history] (%u older lines left out)", &left_out) == 1,
                      "got '%.80s'", line);
        ck_assert_uint_gt(left_out, 0);
        for (unsigned i = left_out; i < 25; i++) {
                ck_assert_int_ge(n = pd_line(&b, line, sizeof(line), 5000), 0);
                ck_assert_msg(strncmp(line, "[history] <alice> \xef\xbf\xbd", 21) == 0,
                              "history line %u: '%.40s'", i, line);
                ck_assert_int_eq(n, 18 + 3000);
        }
        /* Still a member, and live lines reach it. */
        pd_send(&a, "after\r\n");
        ck_assert(pd_expect(&b, "<alice> after", 5000));
        ck_assert_int_eq(pd_log_count(&d, "(too slow)"), 0);
        pd_close(&a);
        pd_close(&b);
        stop();
}
END_TEST

/* A connect/close loop from one address does not flood a room: the
 * first few arrivals are announced, the rest are said once, as a count. */
START_TEST(chat_notices_coalesced)
{
        struct pd_client w, g;
        char line[512], nick[64];
        unsigned entered = 0, left = 0, came = 0, n;

        start("");
        enter(&w, nick);
        for (int i = 0; i < 40; i++) {
                ck_assert_int_eq(pd_connect_from(&g, "127.0.0.5", d.chat_port), 0);
                do
                        ck_assert_int_ge(pd_line(&g, line, sizeof(line), 5000), 0);
                while (strncmp(line, "* you are ", 10) != 0);
                pd_close(&g);
        }
        long long end = clock_now_ms() + 15000;
        while (entered + came < 40 && clock_now_ms() < end) {
                if (pd_line(&w, line, sizeof(line), 500) < 0)
                        continue;
                if (strstr(line, "entered room lobby"))
                        entered++;
                else if (strstr(line, "left room lobby"))
                        left++;
                else if (sscanf(line, "* %u guest", &n) == 1 && strstr(line, "came and went"))
                        came += n;
        }
        ck_assert_uint_le(entered, PICHAT_NOTICE_BURST + 2);
        ck_assert_uint_eq(entered + came, 40);
        settle(&w);
        pd_close(&w);
        stop();
}
END_TEST

START_TEST(chat_slow_reader_dropped)
{
        enum { N = 20, LINES = 3000 };
        struct pd_client rc[N], s, slow;
        char nick[64];
        long long last;

        start("[chat]\nmax_queue_kib = 16\nlines_per_sec = 100000\nburst = 100000\n");
        /* The slow client never reads, with a small receive buffer. */
        ck_assert_int_eq(pd_connect_rcvbuf(&slow, d.chat_port, AF_INET, 4096), 0);
        pd_send(&slow, "/nick slowpoke\r\n");
        for (int i = 0; i < N; i++)
                enter(&rc[i], nick);
        enter_as(&s, "sender");
        long long t0 = clock_now_ms();
        send_lines(&s, LINES);
        collect(rc, N, "sender", LINES, clock_now_ms() + 30000, &last);
        /* every line of 3,000 (about 200 KiB) reached every reader quickly */
        ck_assert_int_lt(last - t0, 1000 * (LINES / 1000 + 1));
        ck_assert(pd_log_wait(&d, "slowpoke left (too slow)", 5000));
        ck_assert(pd_log_wait(&d, "disconnected", 5000));
        /* the others heard it, and slowpoke is gone from the room */
        settle(&rc[0]);
        pd_send(&rc[0], "/who\r\n");
        char line[1024];
        ck_assert(pd_expect_next(&rc[0], "* members of room lobby:", 5000));
        while (pd_line(&rc[0], line, sizeof(line), 500) >= 0)
                ck_assert_ptr_null(strstr(line, "slowpoke"));
        for (int i = 0; i < N; i++)
                pd_close(&rc[i]);
        pd_close(&s);
        pd_close(&slow);
        stop();
}
END_TEST

START_TEST(chat_slow_reader_others_within_a_second)
{
        /* Paced lines: each must reach the 20 readers within 1 s although a
         * member has stopped reading. */
        enum { N = 20 };
        struct pd_client rc[N], s, slow;
        char nick[64], line[1024];

        start("[chat]\nmax_queue_kib = 4\nlines_per_sec = 1000\nburst = 1000\n");
        ck_assert_int_eq(pd_connect_rcvbuf(&slow, d.chat_port, AF_INET, 2048), 0);
        pd_send(&slow, "/nick slowpoke\r\n");
        for (int i = 0; i < N; i++)
                enter(&rc[i], nick);
        enter_as(&s, "sender");
        char big[900];
        memset(big, 'b', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        for (int k = 0; k < 60; k++) {
                char out[1000];
                snprintf(out, sizeof(out), "%03d %s\r\n", k, big);
                long long t0 = clock_now_ms();
                pd_send(&s, out);
                snprintf(out, sizeof(out), "<sender> %03d %s", k, big);
                for (int i = 0; i < N; i++) {
                        for (;;) {
                                long long left = t0 + 1000 - clock_now_ms();
                                ck_assert_int_ge(pd_line(&rc[i], line, sizeof(line),
                                                         left > 0 ? (int)left : 0), 0);
                                if (line[0] != '*')
                                        break;
                        }
                        ck_assert_str_eq(line, out);
                }
        }
        ck_assert(pd_log_wait(&d, "slowpoke left (too slow)", 5000));
        for (int i = 0; i < N; i++)
                pd_close(&rc[i]);
        pd_close(&s);
        pd_close(&slow);
        stop();
}
END_TEST

START_TEST(chat_flood_control)
{
        struct pd_client a, b;
        long long last;

        start("[chat]\nlines_per_sec = 50\nburst = 5\n");
        enter_as(&b, "bob");
        enter_as(&a, "alice");
        long long t0 = clock_now_ms();
        send_lines(&a, 30);
        collect(&b, 1, "alice", 30, clock_now_ms() + 10000, &last);
        /* 5 at once, then 25 at 50/s: about 0.5 s, nothing dropped */
        ck_assert_int_ge(last - t0, 400);
        ck_assert(pd_expect(&a, "* you are sending fast: your lines are being delayed (none are lost)", 2000));
        send_lines(&a, 10);
        ck_assert(pd_quiet(&a, 500));   /* told only once */
        pd_close(&a);
        pd_close(&b);
        stop();
}
END_TEST

START_TEST(chat_telnet_client)
{
        struct pd_client a, b;
        static const unsigned char neg[] = { 255, 253, 1, 255, 251, 3 };

        start(NULL);
        enter_as(&b, "bob");
        ck_assert_int_eq(pd_connect(&a, d.chat_port, AF_INET), 0);
        pd_send_raw(&a, neg, sizeof(neg));
        pd_send(&a, "hi from telnet\r\n");
        ck_assert(pd_expect(&b, "<guest2> hi from telnet", 5000));
        pd_close(&a);
        pd_close(&b);
        stop();
}
END_TEST

Suite *test_suite(void)
{
        Suite *s = suite_create("integration-chat");
        TCase *tc = tcase_create("chat");

        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, chat_greeting);
        tcase_add_test(tc, chat_motd_file);
        tcase_add_test(tc, chat_broadcast_not_to_sender);
        tcase_add_test(tc, chat_leave_notices);
        tcase_add_test(tc, chat_commands);
        tcase_add_test(tc, chat_keyed_room_and_history);
        tcase_add_test(tc, chat_nick_race);
        tcase_add_test(tc, chat_sanitised);
        tcase_add_test(tc, chat_burst_no_loss);
        tcase_add_test(tc, chat_history_never_drops_a_joiner);
        tcase_add_test(tc, chat_notices_coalesced);
        tcase_add_test(tc, chat_slow_reader_dropped);
        tcase_add_test(tc, chat_slow_reader_others_within_a_second);
        tcase_add_test(tc, chat_flood_control);
        tcase_add_test(tc, chat_telnet_client);
        suite_add_tcase(s, tc);
        return s;
}
