/* Torture: hostile input on every TCP service: a 1 MiB line without a
 * line end, 100 KiB of telnet commands, NULs, invalid UTF-8 and terminal
 * escape sequences. After each, the connection that sent it is still
 * served, a bystander lost nothing and saw nothing it should not, and
 * pichatd answers on every service. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "suite.h"
#include "torture.h"

#define WELCOME "Welcome to the server. Type something and hit enter"
#define MIB (1024 * 1024)

static struct pd d;

static void setup(void)
{
        ck_assert_int_eq(pd_start(&d, "[server]\nmax_line_bytes = 1024\n"
                                      "[chat]\nlines_per_sec = 100000\nburst = 100000\n"
                                      "history = 0\nmax_queue_kib = 4096\n"
                                      "[log]\nlevel = info\n"), 0);
}

static void teardown(void)
{
        ck_assert_int_eq(pd_stop(&d), 0);
}

static void echo_client(struct pd_client *c)
{
        ck_assert_int_eq(pd_connect(c, d.echo_port, AF_INET), 0);
        ck_assert(pd_expect_next(c, WELCOME, 10000));
}

/* Send all of buf within 30 s, however slowly pichatd takes it. */
static void send_all(struct pd_client *c, const void *buf, size_t len)
{
        long long end = clock_now_ms() + 30000;
        const char *p = buf;

        while (len > 0) {
                struct pollfd pfd = { .fd = c->fd, .events = POLLOUT };
                ck_assert_msg(clock_now_ms() < end, "pichatd stopped reading");
                if (poll(&pfd, 1, 1000) != 1)
                        continue;
                ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n < 0 && (errno == EAGAIN || errno == EINTR))
                        continue;
                ck_assert_int_gt(n, 0);
                p += n;
                len -= (size_t)n;
        }
}

/* The next line nick said in the room, skipping room notices ("* ...");
 * it must be exactly "<nick> text". */
static void expect_said(struct pd_client *c, const char *nick, const char *text)
{
        char line[16384], want[4096];

        snprintf(want, sizeof(want), "<%s> %s", nick, text);
        for (;;) {
                int n = pd_line(c, line, sizeof(line), 10000);
                ck_assert_msg(n >= 0, "waiting for '%s': %s", want, n == -1 ? "timeout" : "EOF");
                if (line[0] == '*')
                        continue;
                ck_assert_msg(strcmp(line, want) == 0, "got '%.200s', want '%s'", line, want);
                return;
        }
}

/* Two chat clients: the one that sends (nick in sn) and a bystander. */
static void chat_pair(struct pd_client *s, char sn[64], struct pd_client *by)
{
        char entered[128];

        ck_assert_int_eq(tt_chat_enter(by, &d, NULL, NULL), 0);
        ck_assert_int_eq(tt_chat_enter(s, &d, NULL, sn), 0);
        snprintf(entered, sizeof(entered), "* %s entered room lobby", sn);
        ck_assert(pd_expect_next(by, entered, 10000));
}

START_TEST(input_huge_line)
{
        struct pd_client a, b, cs, cb;
        char sn[64];
        char *big = malloc(MIB);

        ck_assert_ptr_nonnull(big);
        for (size_t i = 0; i < MIB; i++)
                big[i] = (char)('a' + i % 26);
        long long t0 = clock_now_ms();

        echo_client(&a);
        echo_client(&b);
        send_all(&a, big, MIB);
        ck_assert(pd_expect_next(&a, "line too long (max 1024 bytes)", 10000));
        pd_send(&a, "\r\nafter\r\n");
        ck_assert(pd_expect_next(&a, "OK...after", 10000));
        pd_send(&b, "bystander\r\n");
        ck_assert(pd_expect_next(&b, "OK...bystander", 10000));

        chat_pair(&cs, sn, &cb);
        send_all(&cs, big, MIB);
        ck_assert(pd_expect(&cs, "line too long (max 1024 bytes)", 10000));
        pd_send(&cs, "\nafter\n");
        expect_said(&cb, sn, "after");
        ck_assert(pd_quiet(&cb, 200));
        tt_report("1 MiB line without a line end: refused once on echo and chat, "
                  "sender kept, bystanders fine, %lld ms", clock_now_ms() - t0);
        pd_close(&a);
        pd_close(&b);
        pd_close(&cs);
        pd_close(&cb);
        free(big);
        tt_assert_alive(&d, "127.0.0.1");
}
END_TEST

/* 100 KiB of telnet commands: every option verb at random, subnegotiations,
 * NOP, AYT, GA; no data byte. */
static size_t iac_storm(unsigned char *buf, size_t size, unsigned seed)
{
        static const unsigned char verbs[] = { 251, 252, 253, 254 };
        static const unsigned char simple[] = { 241, 246, 249, 243 };
        size_t n = 0;

        srand(seed);
        while (n + 40 < size) {
                switch (rand() % 4) {
                case 0:
                case 1:
                        buf[n++] = 255;
                        buf[n++] = verbs[rand() % 4];
                        buf[n++] = (unsigned char)rand();
                        break;
                case 2:
                        buf[n++] = 255;
                        buf[n++] = simple[rand() % 4];
                        break;
                default:
                        buf[n++] = 255;
                        buf[n++] = 250;
                        for (int k = rand() % 30; k > 0; k--) {
                                unsigned char b = (unsigned char)rand();
                                buf[n++] = b;
                                if (b == 255)
                                        buf[n++] = 255;
                        }
                        buf[n++] = 255;
                        buf[n++] = 240;
                        break;
                }
        }
        return n;
}

/* Read raw bytes until they end with suffix: their count, the bytes in buf. */
static size_t read_until(struct pd_client *c, const char *suffix, unsigned char *buf, size_t cap)
{
        size_t n = 0, sl = strlen(suffix);
        long long end = clock_now_ms() + 20000;

        while (n < sl || memcmp(buf + n - sl, suffix, sl) != 0) {
                struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
                ck_assert_msg(clock_now_ms() < end && n < cap, "no '%s' after %zu bytes", suffix, n);
                if (poll(&pfd, 1, 1000) != 1)
                        continue;
                ssize_t r = recv(c->fd, buf + n, cap - n, 0);
                ck_assert_int_gt(r, 0);
                n += (size_t)r;
        }
        return n;
}

/* The bytes are IAC WONT/DONT refusals, each option at most once per verb:
 * how many. */
static unsigned check_refusals(const unsigned char *b, size_t n)
{
        unsigned char seen[2][256] = { { 0 } };

        ck_assert_uint_eq(n % 3, 0);
        for (size_t i = 0; i < n; i += 3) {
                ck_assert_uint_eq(b[i], 255);
                ck_assert(b[i + 1] == 252 || b[i + 1] == 254);
                int v = b[i + 1] == 254;
                ck_assert_msg(!seen[v][b[i + 2]], "option %u refused twice", b[i + 2]);
                seen[v][b[i + 2]] = 1;
        }
        return (unsigned)(n / 3);
}

START_TEST(input_iac_storm)
{
        size_t cap = 100 * 1024 + 64;
        unsigned char *storm = malloc(cap), *got = malloc(64 * 1024);
        struct pd_client a, cs, cb;
        char sn[64];

        ck_assert_ptr_nonnull(storm);
        ck_assert_ptr_nonnull(got);
        size_t n = iac_storm(storm, 100 * 1024, 8);
        memcpy(storm + n, "after\r\n", 7);

        echo_client(&a);
        send_all(&a, storm, n + 7);
        size_t len = read_until(&a, "OK...after\r\n", got, 64 * 1024);
        unsigned echo_refused = check_refusals(got, len - 12);
        ck_assert_uint_le(echo_refused, 512);

        chat_pair(&cs, sn, &cb);
        send_all(&cs, storm, n + 7);
        expect_said(&cb, sn, "after");
        ck_assert(pd_quiet(&cb, 200));
        tt_report("%zu bytes of telnet commands: %u refusals (each option once), nothing "
                  "else on echo; chat bystander saw only the line after", n, echo_refused);
        pd_close(&a);
        pd_close(&cs);
        pd_close(&cb);
        free(storm);
        free(got);
        tt_assert_alive(&d, "127.0.0.1");
}
END_TEST

START_TEST(input_nuls)
{
        size_t k = 100 * 1024;
        char *buf = calloc(1, k + 16);
        struct pd_client a, cs, cb;
        char sn[64];

        ck_assert_ptr_nonnull(buf);
        memcpy(buf, "be", 2);
        memcpy(buf + 2 + k, "fore\r\n", 6);
        echo_client(&a);
        send_all(&a, buf, k + 8);
        ck_assert(pd_expect_next(&a, "OK...before", 10000));
        /* NULs alone, then a line */
        send_all(&a, buf + 2, k);
        pd_send(&a, "x\r\n");
        ck_assert(pd_expect_next(&a, "OK...x", 10000));

        chat_pair(&cs, sn, &cb);
        send_all(&cs, buf, k + 8);
        expect_said(&cb, sn, "before");
        ck_assert(pd_quiet(&cb, 200));
        tt_report("2 x 100 KiB of NULs: dropped, lines around them intact on echo and chat");
        pd_close(&a);
        pd_close(&cs);
        pd_close(&cb);
        free(buf);
        tt_assert_alive(&d, "127.0.0.1");
}
END_TEST

/* A line of random bytes: anything but CR, LF, NUL; 0xFF sent as IAC IAC
 * (a data byte), so lines are lines. Its data bytes go to data. */
static size_t junk_line(unsigned char *wire, unsigned char *data, size_t *dlen, int i)
{
        size_t n = 0, dn = 0;
        int len = 1 + rand() % 200;

        n += (size_t)sprintf((char *)wire, "u%d ", i);
        memcpy(data, wire, n);
        dn = n;
        for (int k = 0; k < len; k++) {
                unsigned char b = (unsigned char)(rand() % 2 ? 0x80 + rand() % 128 : rand());
                if (b == '\r' || b == '\n' || b == 0)
                        b = 0xC3;
                wire[n++] = b;
                if (b == 255)
                        wire[n++] = 255;
                data[dn++] = b;
        }
        wire[n++] = '\r';
        wire[n++] = '\n';
        *dlen = dn;
        return n;
}

START_TEST(input_invalid_utf8)
{
        unsigned lines = tt_scaled(2000);
        unsigned char wire[1024], data[512];
        char line[4096], want[1200];
        struct pd_client a, cs, cb;
        char sn[64], prefix[80];
        size_t dlen;

        srand(5);
        /* echo gives the bytes back as they came, IAC doubled */
        echo_client(&a);
        for (int i = 0; i < 200; i++) {
                size_t n = junk_line(wire, data, &dlen, i);
                send_all(&a, wire, n);
                memcpy(want, "OK...", 5);
                memcpy(want + 5, wire, n - 2);
                want[5 + n - 2] = '\0';
                int got = pd_line(&a, line, sizeof(line), 10000);
                ck_assert_int_eq(got, (int)(n - 2 + 5));
                ck_assert_int_eq(memcmp(line, want, (size_t)got), 0);
        }

        /* chat: every line arrives, in order, as clean UTF-8 */
        chat_pair(&cs, sn, &cb);
        snprintf(prefix, sizeof(prefix), "<%s> u", sn);
        for (unsigned i = 0; i < lines; i++) {
                size_t n = junk_line(wire, data, &dlen, (int)i);
                int got;
                send_all(&cs, wire, n);
                do
                        ck_assert_int_ge(got = pd_line(&cb, line, sizeof(line), 10000), 0);
                while (line[0] == '*');
                char seq[128];
                snprintf(seq, sizeof(seq), "%s%u ", prefix, i);
                ck_assert_msg(strncmp(line, seq, strlen(seq)) == 0, "line %u: '%.80s'", i, line);
                ck_assert_msg(tt_clean_text(line, (size_t)got), "line %u is not clean", i);
        }
        ck_assert(pd_quiet(&cb, 200));
        tt_report("invalid UTF-8: 200 echo lines returned byte for byte; %u chat lines "
                  "all delivered in order as clean UTF-8", lines);
        pd_close(&a);
        pd_close(&cs);
        pd_close(&cb);
        tt_assert_alive(&d, "127.0.0.1");
}
END_TEST

/* Random text: ASCII, characters of every length, bidi and invisible
 * characters, combining pile-ups, controls and bytes that are not UTF-8
 * (not 0xFF: telnet has its own case). */
static size_t random_text(char *out, size_t max)
{
        static const char *const pieces[] = {
                "a", "Z", " ", "\t", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80",
                "\xe2\x80\xae", "\xe2\x81\xa6", "\xe2\x80\x8b", "\xef\xbb\xbf", "\xe2\x80\xa8",
                "\xcc\x81", "\xcc\x81\xcc\x82\xcc\x83\xcc\x84\xcc\x85\xcc\x86", "\x1b[31m",
                "\x07", "\x80", "\xc3", "\xe2\x82", "\xfe", "\xc0\xaf", "\xed\xa0\x80",
                "\xf4\x90\x80\x80", "\xc2\x9b",
        };
        size_t n = 0, want = (size_t)rand() % max;

        while (n < want) {
                const char *p = pieces[(size_t)rand() % (sizeof(pieces) / sizeof(pieces[0]))];
                size_t k = strlen(p);
                if (n + k > max)
                        break;
                memcpy(out + n, p, k);
                n += k;
        }
        return n;
}

/* Read every line c has now (until quiet_ms of quiet): each must be clean. */
static unsigned drain_clean(struct pd_client *c, const char *who, int quiet_ms)
{
        char line[16384];
        unsigned lines = 0;
        int n;

        while ((n = pd_line(c, line, sizeof(line), quiet_ms)) >= 0) {
                ck_assert_msg(tt_clean_text(line, (size_t)n), "%s got unclean '%.200s'", who, line);
                lines++;
        }
        return lines;
}

/* Every command with random text: every byte any client gets back, the
 * sender included, is clean UTF-8. A /quit reason, the /msg echo and
 * every other piece of user text a reply shows are cut between two
 * characters. */
START_TEST(input_every_command_clean)
{
        static const char *const cmds[] = {
                "", "/me ", "/msg guest1 ", "/msg ", "/topic ", "/nick ", "/join ", "/quit ",
                "//", "/", "/who ", "/rooms ", "/help ", "/pass ", "/bogus", "/leave ",
        };
        unsigned rounds = tt_scaled(1500), quits = 0, seen = 0;
        struct pd_client s, o1, o2;
        char wire[600], sn[64];

        srand(8);
        ck_assert_int_eq(tt_chat_enter(&o1, &d, NULL, NULL), 0);        /* guest1 */
        ck_assert_int_eq(tt_chat_enter(&o2, &d, NULL, NULL), 0);
        ck_assert_int_eq(tt_chat_enter(&s, &d, NULL, sn), 0);
        /* The quit reason that used to end half way through a character. */
        snprintf(wire, sizeof(wire), "/quit %.63s\xc3\xa9\r\n",
                 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
        send_all(&s, wire, strlen(wire));
        ck_assert(pd_wait_closed(&s, 10000));
        pd_close(&s);
        seen += drain_clean(&o1, "observer 1", 500);
        ck_assert_int_eq(tt_chat_enter(&s, &d, NULL, sn), 0);
        for (unsigned i = 0; i < rounds; i++) {
                const char *cmd = cmds[(size_t)rand() % (sizeof(cmds) / sizeof(cmds[0]))];
                size_t n = strlen(cmd);

                memcpy(wire, cmd, n);
                n += random_text(wire + n, 300);
                wire[n++] = '\r';
                wire[n++] = '\n';
                send_all(&s, wire, n);
                if (strcmp(cmd, "/quit ") == 0) {
                        quits++;
                        ck_assert(pd_wait_closed(&s, 10000));
                        pd_close(&s);
                        ck_assert_int_eq(tt_chat_enter(&s, &d, NULL, sn), 0);
                        continue;
                }
                if (i % 20 == 19) {
                        drain_clean(&s, "the sender", 5);
                        seen += drain_clean(&o1, "observer 1", 5);
                        seen += drain_clean(&o2, "observer 2", 5);
                }
        }
        drain_clean(&s, "the sender", 500);
        seen += drain_clean(&o1, "observer 1", 500);
        seen += drain_clean(&o2, "observer 2", 500);
        ck_assert_uint_gt(seen, rounds / 4);
        tt_report("every command with random text: %u commands (%u quits), %u lines seen by "
                  "the others, all clean UTF-8", rounds, quits, seen);
        pd_close(&s);
        pd_close(&o1);
        pd_close(&o2);
        tt_assert_alive(&d, "127.0.0.1");
}
END_TEST

START_TEST(input_escapes)
{
        static const char *const nasty[] = {
                "\x1b[2J\x1b[Hcleared your screen",
                "\x1b]0;pwned\x07 set your title",
                "\x1b[31mred\x1b[0m and \x1b[5mblink\x1b[25m",
                "bell\x07\x07\x07 and back\x08\x08\x08space and del\x7f",
                "c1 \xc2\x9b" "31m csi and raw \x9b" "31m csi",
                "\x1bP+q544e\x1b\\ a DCS query",
                "\x1b[6n where is your cursor",
                "tab\tkept \x1b" "c reset",
        };
        unsigned rounds = tt_scaled(200);
        struct pd_client cs, cb;
        char sn[64], line[4096], cmd[512];

        chat_pair(&cs, sn, &cb);
        unsigned got = 0;
        for (unsigned r = 0; r < rounds; r++) {
                const char *t = nasty[r % 8];
                switch (r % 4) {
                case 0: snprintf(cmd, sizeof(cmd), "%s\r\n", t); break;
                case 1: snprintf(cmd, sizeof(cmd), "/me %s\r\n", t); break;
                case 2: snprintf(cmd, sizeof(cmd), "/topic %s\r\n", t); break;
                default: snprintf(cmd, sizeof(cmd), "/nick %s\r\n", t); break;
                }
                pd_send(&cs, cmd);
                if (r % 4 == 3) {
                        /* refused, after the notices of this client's own topics */
                        int n;
                        do {
                                ck_assert_int_ge(n = pd_line(&cs, line, sizeof(line), 10000), 0);
                                ck_assert(tt_clean_text(line, (size_t)n));
                        } while (line[0] == '*');
                        ck_assert_msg(strncmp(line, "bad nick ", 9) == 0 ||
                                      strncmp(line, "/nick: ", 7) == 0, "'%s'", line);
                        continue;
                }
                int n = pd_line(&cb, line, sizeof(line), 10000);
                ck_assert_int_ge(n, 0);
                ck_assert_msg(tt_clean_text(line, (size_t)n), "round %u not clean", r);
                got++;
        }
        /* the sender's own topic notices, clean too */
        while (pd_line(&cs, line, sizeof(line), 300) >= 0)
                ck_assert(tt_clean_text(line, strlen(line)));
        ck_assert(pd_quiet(&cb, 200));
        tt_report("escape sequences: %u chat lines, /me, /topic, all delivered without an ESC, "
                  "BEL, BS, DEL or C1 byte; nicks with them refused", got);
        pd_close(&cs);
        pd_close(&cb);
        tt_assert_alive(&d, "127.0.0.1");
}
END_TEST

Suite *test_suite(void)
{
        Suite *s = suite_create("torture-input");
        TCase *tc = tcase_create("input");

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, input_huge_line);
        tcase_add_test(tc, input_iac_storm);
        tcase_add_test(tc, input_nuls);
        tcase_add_test(tc, input_invalid_utf8);
        tcase_add_test(tc, input_escapes);
        tcase_add_test(tc, input_every_command_clean);
        suite_add_tcase(s, tc);
        return s;
}
