/* Integration: access control: [access] allow/deny on TCP and UDP, their
 * reload, and the chat password. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "harness.h"
#include "suite.h"

#define WELCOME "Welcome to the server. Type something and hit enter"
#define CHAT_WELCOME "* Welcome to pichat chat. Type /help for commands."

/* A client from src is refused: closed at once with no byte said. */
static void assert_refused(struct pd *d, const char *src, unsigned port)
{
        struct pd_client c;

        ck_assert_int_eq(pd_connect_from(&c, src, port), 0);
        ck_assert_msg(pd_closed_silently(&c, 5000), "%s was not refused silently", src);
        pd_close(&c);
        (void)d;
}

/* A client from src on the echo port is served. */
static void assert_served(struct pd *d, const char *src)
{
        struct pd_client c;

        ck_assert_int_eq(pd_connect_from(&c, src, d->echo_port), 0);
        ck_assert(pd_expect_next(&c, WELCOME, 5000));
        pd_send(&c, "hi\n");
        ck_assert(pd_expect_next(&c, "OK...hi", 5000));
        pd_close(&c);
}

static bool udp_answered_from(struct pd *d, const char *src)
{
        char reply[64];

        return pd_udp_exchange_from(src, 0, d->udp_port, "u", 1, reply, sizeof(reply), 500) == 6;
}

START_TEST(access_deny_tcp_and_udp)
{
        struct pd d;

        ck_assert_int_eq(pd_start(&d, "[access]\ndeny = 127.0.0.1 ::2\n"), 0);
        /* An IPv4 client arrives on the dual-stack socket as ::ffff:127.0.0.1
         * and is matched as 127.0.0.1. */
        assert_refused(&d, "127.0.0.1", d.echo_port);
        assert_refused(&d, "127.0.0.1", d.chat_port);
        ck_assert(pd_log_wait(&d, "echo: access denied for 127.0.0.1:", 2000));
        ck_assert(pd_log_wait(&d, "chat: access denied for 127.0.0.1:", 2000));
        ck_assert(pd_log_count(&d, "(in [access] deny)") >= 2);
        /* No thread, no session: nothing was connected or disconnected. */
        ck_assert_int_eq(pd_log_count(&d, "connected 127.0.0.1"), 0);

        assert_served(&d, "127.0.0.2");
        assert_served(&d, "::1");
        ck_assert(!udp_answered_from(&d, "127.0.0.1"));
        ck_assert(pd_log_wait(&d, "udp: access denied for 127.0.0.1:", 2000));
        ck_assert(udp_answered_from(&d, "127.0.0.2"));
        ck_assert(udp_answered_from(&d, "::1"));
        ck_assert_int_eq(pd_stop(&d), 0);
}
END_TEST

START_TEST(access_allow_list_only)
{
        struct pd d;

        ck_assert_int_eq(pd_start(&d, "[access]\nallow = 127.0.0.2/32\nallow = 127.0.1.0/24\n"),
                         0);
        assert_served(&d, "127.0.0.2");
        assert_served(&d, "127.0.1.200");
        assert_refused(&d, "127.0.0.1", d.echo_port);
        assert_refused(&d, "::1", d.echo_port);
        ck_assert(pd_log_wait(&d, "access denied for [::1]:", 2000));
        ck_assert(pd_log_count(&d, "(not in [access] allow)") >= 2);
        ck_assert(pd_log_count(&d, "echo: access allowed for 127.0.0.2:") >= 1);
        ck_assert(!udp_answered_from(&d, "::1"));
        ck_assert(udp_answered_from(&d, "127.0.1.1"));
        ck_assert_int_eq(pd_stop(&d), 0);
}
END_TEST

START_TEST(access_deny_wins_and_mapped_prefix)
{
        struct pd d;

        /* 127.0.0.0/8 allowed, but 127.0.0.0/24 denied, written mapped. */
        ck_assert_int_eq(pd_start(&d, "[access]\nallow = 127.0.0.0/8 ::1\n"
                                      "deny = ::ffff:127.0.0.0/120\n"), 0);
        assert_refused(&d, "127.0.0.1", d.echo_port);
        assert_refused(&d, "127.0.0.254", d.echo_port);
        assert_served(&d, "127.0.1.1");
        assert_served(&d, "::1");
        ck_assert_int_eq(pd_stop(&d), 0);
}
END_TEST

/* Refused clients take no slot: max_clients = 1 still lets one in after
 * a crowd of refused ones. */
START_TEST(access_refused_take_no_slot)
{
        struct pd d;
        struct pd_client c;

        ck_assert_int_eq(pd_start(&d, "[server]\nmax_clients = 1\n[access]\ndeny = 127.0.0.9\n"),
                         0);
        for (int i = 0; i < 50; i++)
                assert_refused(&d, "127.0.0.9", d.echo_port);
        ck_assert_int_eq(pd_connect_from(&c, "127.0.0.1", d.echo_port), 0);
        ck_assert(pd_expect_next(&c, WELCOME, 5000));
        pd_close(&c);
        ck_assert_int_eq(pd_log_count(&d, "max_clients reached"), 0);
        ck_assert_int_eq(pd_stop(&d), 0);
}
END_TEST

static void reload_and_wait(struct pd *d, const char *ini, int n)
{
        pd_write_conf(d, ini);
        pd_signal(d, SIGHUP);
        for (int i = 0; i < 500 && pd_log_count(d, "reloaded configuration") < n; i++) {
                struct timespec ts = { 0, 10 * 1000 * 1000 };
                nanosleep(&ts, NULL);
        }
        ck_assert_int_eq(pd_log_count(d, "reloaded configuration"), n);
}

START_TEST(access_reload)
{
        struct pd d;
        struct pd_client kept;

        ck_assert_int_eq(pd_start(&d, NULL), 0);
        ck_assert_int_eq(pd_connect_from(&kept, "127.0.0.1", d.echo_port), 0);
        ck_assert(pd_expect_next(&kept, WELCOME, 5000));
        ck_assert(udp_answered_from(&d, "127.0.0.1"));

        reload_and_wait(&d, "[access]\ndeny = 127.0.0.1\n", 1);
        /* New clients and datagrams see the list; the client here stays. */
        assert_refused(&d, "127.0.0.1", d.echo_port);
        ck_assert(!udp_answered_from(&d, "127.0.0.1"));
        pd_send(&kept, "still here\n");
        ck_assert(pd_expect_next(&kept, "OK...still here", 5000));

        /* A list that does not parse keeps the one in force. */
        pd_write_conf(&d, "[access]\ndeny = 127.0.0.1/8\n");
        pd_signal(&d, SIGHUP);
        ck_assert(pd_log_wait(&d, "reload failed", 5000));
        assert_refused(&d, "127.0.0.1", d.echo_port);

        reload_and_wait(&d, "[access]\nallow = 127.0.0.1\n", 2);
        assert_served(&d, "127.0.0.1");
        ck_assert(udp_answered_from(&d, "127.0.0.1"));
        assert_refused(&d, "127.0.0.2", d.echo_port);
        pd_close(&kept);
        ck_assert_int_eq(pd_stop(&d), 0);
}
END_TEST

Suite *test_suite(void)
{
        Suite *s = suite_create("integration-access");
        TCase *tc = tcase_create("acl");

        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, access_deny_tcp_and_udp);
        tcase_add_test(tc, access_allow_list_only);
        tcase_add_test(tc, access_deny_wins_and_mapped_prefix);
        tcase_add_test(tc, access_refused_take_no_slot);
        tcase_add_test(tc, access_reload);
        suite_add_tcase(s, tc);
        return s;
}
