/* Integration: the TCP echo service over IPv4 and IPv6, line ends, telnet. */
#include <check.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "harness.h"
#include "suite.h"

#define WELCOME "Welcome to the server. Type something and hit enter"

static struct pd d;

static void setup(void)
{
        ck_assert_int_eq(pd_start(&d, NULL), 0);
}

static void teardown(void)
{
        ck_assert_int_eq(pd_stop(&d), 0);
}

static void echo_roundtrip(int family)
{
        struct pd_client c;

        ck_assert_int_eq(pd_connect(&c, d.echo_port, family), 0);
        ck_assert(pd_expect_next(&c, WELCOME, 5000));
        pd_send(&c, "hi\r\n");
        ck_assert(pd_expect_next(&c, "OK...hi", 5000));
        pd_send(&c, "two words\n");
        ck_assert(pd_expect_next(&c, "OK...two words", 5000));
        pd_close(&c);
}

START_TEST(echo_ipv4)
{
        echo_roundtrip(AF_INET);
        ck_assert(pd_log_wait(&d, "connected 127.0.0.1:", 2000));
}
END_TEST

START_TEST(echo_ipv6)
{
        echo_roundtrip(AF_INET6);
        ck_assert(pd_log_wait(&d, "connected [::1]:", 2000));
}
END_TEST

START_TEST(echo_line_ends)
{
        struct pd_client c;
        char raw[64];
        char line[256];

        ck_assert_int_eq(pd_connect(&c, d.echo_port, AF_INET), 0);
        ck_assert(pd_expect_next(&c, WELCOME, 5000));
        /* CR LF, CR NUL, lone CR, LF, and an empty line */
        memcpy(raw, "a\r\nb\r\0c\rd\n\n", 12);
        pd_send_raw(&c, raw, 12);
        ck_assert(pd_expect_next(&c, "OK...a", 5000));
        ck_assert(pd_expect_next(&c, "OK...b", 5000));
        ck_assert(pd_expect_next(&c, "OK...c", 5000));
        ck_assert(pd_expect_next(&c, "OK...d", 5000));
        ck_assert(pd_expect_next(&c, "OK...", 5000));
        /* A line split over many writes is still one line. */
        pd_send(&c, "sp");
        ck_assert(pd_quiet(&c, 200));
        pd_send(&c, "lit\r");
        pd_send(&c, "\nnext\r\n");
        ck_assert(pd_expect_next(&c, "OK...split", 5000));
        ck_assert(pd_expect_next(&c, "OK...next", 5000));
        /* Every output line ends in CR LF. */
        pd_send(&c, "crlf\n");
        ck_assert(pd_line(&c, line, sizeof(line), 5000) >= 0);
        ck_assert_str_eq(line, "OK...crlf");
        pd_close(&c);
}
END_TEST

START_TEST(echo_output_crlf)
{
        struct pd_client c;
        char buf[256];

        ck_assert_int_eq(pd_connect(&c, d.echo_port, AF_INET), 0);
        pd_send(&c, "x\n");
        /* Read raw bytes: the welcome and the echo, each with CR LF. */
        size_t want = strlen(WELCOME "\r\nOK...x\r\n");
        size_t got = 0;
        while (got < want) {
                ssize_t n = recv(c.fd, buf + got, sizeof(buf) - got, 0);
                ck_assert_int_gt(n, 0);
                got += (size_t)n;
        }
        ck_assert_int_eq(memcmp(buf, WELCOME "\r\nOK...x\r\n", want), 0);
        pd_close(&c);
}
END_TEST

START_TEST(echo_telnet_negotiation)
{
        struct pd_client c;
        unsigned char buf[64];
        /* IAC DO ECHO, IAC WILL NAWS, IAC SB NAWS 0 80 0 24 IAC SE, text with
         * IAC IAC (a literal 0xFF) */
        static const unsigned char in[] = {
                255, 253, 1, 255, 251, 31, 'h', 255, 250, 31, 0, 80, 0, 24, 255, 240,
                'i', 255, 255, '!', '\r', '\n',
        };

        ck_assert_int_eq(pd_connect(&c, d.echo_port, AF_INET), 0);
        ck_assert(pd_expect_next(&c, WELCOME, 5000));
        pd_send_raw(&c, in, sizeof(in));
        /* WONT ECHO, DONT NAWS, then OK...hi<IAC IAC>! */
        static const unsigned char want[] = {
                255, 252, 1, 255, 254, 31,
                'O', 'K', '.', '.', '.', 'h', 'i', 255, 255, '!', '\r', '\n',
        };
        size_t got = 0;
        while (got < sizeof(want)) {
                ssize_t n = recv(c.fd, buf + got, sizeof(buf) - got, 0);
                ck_assert_int_gt(n, 0);
                got += (size_t)n;
        }
        ck_assert_uint_eq(got, sizeof(want));
        ck_assert_int_eq(memcmp(buf, want, sizeof(want)), 0);
        pd_close(&c);
}
END_TEST

START_TEST(echo_too_long_line)
{
        struct pd_client c;
        char big[1100];

        memset(big, 'x', sizeof(big));
        ck_assert_int_eq(pd_connect(&c, d.echo_port, AF_INET), 0);
        ck_assert(pd_expect_next(&c, WELCOME, 5000));
        pd_send_raw(&c, big, sizeof(big));
        pd_send(&c, "\r\n");
        ck_assert(pd_expect_next(&c, "line too long (max 1024 bytes)", 5000));
        /* The connection stays usable, and nothing of the long line leaks. */
        pd_send(&c, "after\r\n");
        ck_assert(pd_expect_next(&c, "OK...after", 5000));
        pd_close(&c);
}
END_TEST

START_TEST(echo_many_clients)
{
        enum { N = 40 };
        struct pd_client c[N];
        char msg[32], want[40];

        for (int i = 0; i < N; i++) {
                ck_assert_int_eq(pd_connect(&c[i], d.echo_port, i % 2 ? AF_INET6 : AF_INET), 0);
                ck_assert(pd_expect_next(&c[i], WELCOME, 5000));
        }
        for (int i = 0; i < N; i++) {
                snprintf(msg, sizeof(msg), "client %d\n", i);
                pd_send(&c[i], msg);
        }
        for (int i = 0; i < N; i++) {
                snprintf(want, sizeof(want), "OK...client %d", i);
                ck_assert(pd_expect_next(&c[i], want, 5000));
                pd_close(&c[i]);
        }
}
END_TEST

Suite *test_suite(void)
{
        Suite *s = suite_create("integration-echo");
        TCase *tc = tcase_create("echo");

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, echo_ipv4);
        tcase_add_test(tc, echo_ipv6);
        tcase_add_test(tc, echo_line_ends);
        tcase_add_test(tc, echo_output_crlf);
        tcase_add_test(tc, echo_telnet_negotiation);
        tcase_add_test(tc, echo_too_long_line);
        tcase_add_test(tc, echo_many_clients);
        suite_add_tcase(s, tc);
        return s;
}
