/* Integration: access control: [access] allow/deny on TCP and UDP, their
 * reload, and the chat password. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "clock.h"
#include "harness.h"
#include "suite.h"

#define WELCOME "Welcome to the server. Type something and hit enter"
#define CHAT_WELCOME "* Welcome to pichat chat. Type /help for commands."

/* A client from src is refused: closed at once with no byte said. */
static void assert_refused(const char *src, unsigned port)
{
        struct pd_client c;

        ck_assert_int_eq(pd_connect_from(&c, src, port), 0);
        ck_assert_msg(pd_closed_silently(&c, 5000), "%s was not refused silently", src);
        pd_close(&c);
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
        assert_refused("127.0.0.1", d.echo_port);
        assert_refused("127.0.0.1", d.chat_port);
        ck_assert(pd_log_wait(&d, "echo: access denied for 127.0.0.1:", 2000));
        ck_assert(pd_log_wait(&d, "chat: access denied for 127.0.0.1:", 2000));
        ck_assert(pd_log_wait_count(&d, "(in [access] deny)", 2, 5000));
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
        assert_refused("127.0.0.1", d.echo_port);
        assert_refused("::1", d.echo_port);
        ck_assert(pd_log_wait(&d, "access denied for [::1]:", 2000));
        ck_assert(pd_log_wait_count(&d, "(not in [access] allow)", 2, 5000));
        ck_assert(pd_log_wait_count(&d, "echo: access allowed for 127.0.0.2:", 1, 5000));
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
        assert_refused("127.0.0.1", d.echo_port);
        assert_refused("127.0.0.254", d.echo_port);
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
                assert_refused("127.0.0.9", d.echo_port);
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
        ck_assert_int_eq(pd_log_count_when(d, "reloaded configuration", n), n);
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
        ck_assert(pd_log_wait(&d, "reload: [access] now has 0 allow and 1 deny prefixes", 2000));
        /* New clients and datagrams see the list; the client here stays. */
        assert_refused("127.0.0.1", d.echo_port);
        ck_assert(!udp_answered_from(&d, "127.0.0.1"));
        pd_send(&kept, "still here\n");
        ck_assert(pd_expect_next(&kept, "OK...still here", 5000));

        /* A list that does not parse keeps the one in force. */
        pd_write_conf(&d, "[access]\ndeny = 127.0.0.1/8\n");
        pd_signal(&d, SIGHUP);
        ck_assert(pd_log_wait(&d, "reload failed", 5000));
        assert_refused("127.0.0.1", d.echo_port);

        reload_and_wait(&d, "[access]\nallow = 127.0.0.1\n", 2);
        assert_served(&d, "127.0.0.1");
        ck_assert(udp_answered_from(&d, "127.0.0.1"));
        assert_refused("127.0.0.2", d.echo_port);
        pd_close(&kept);
        ck_assert_int_eq(pd_stop(&d), 0);
}
END_TEST

#define SECRET "s3cr3t-Pa55 word"
#define NEED_PASS "* this server needs a password: /pass SECRET"

/* Connect to chat and read up to the password prompt. */
static void chat_unlogged(struct pd *d, struct pd_client *c)
{
        ck_assert_int_eq(pd_connect(c, d->chat_port, AF_INET), 0);
        ck_assert(pd_expect_next(c, CHAT_WELCOME, 5000));
        ck_assert(pd_expect_next(c, NEED_PASS, 5000));
}

/* The whole log holds none of the words. */
static void assert_log_lacks(struct pd *d, const char *const *words, size_t n)
{
        for (size_t i = 0; i < n; i++)
                ck_assert_msg(pd_log_count(d, words[i]) == 0, "'%s' is in the log", words[i]);
}

START_TEST(password_login)
{
        struct pd d;
        struct pd_client a, b, e;

        ck_assert_int_eq(pd_start(&d, "[chat]\npassword = " SECRET "\n"), 0);
        chat_unlogged(&d, &a);
        pd_send(&a, "/pass " SECRET "\r\n");
        ck_assert(pd_expect_next(&a, "* password accepted", 5000));
        ck_assert(pd_expect_next(&a, "* Be nice, and have fun.", 5000));
        ck_assert(pd_expect_next(&a, "* you are guest1, in room lobby (1 member)", 5000));
        pd_send(&a, "/nick alice\n");
        ck_assert(pd_expect_next(&a, "* you are now known as alice", 5000));

        /* Before the password, b is nobody: alice sees nothing of it, it
         * sees nothing of alice, and /help only says how to log in. */
        chat_unlogged(&d, &b);
        pd_send(&a, "anyone?\n");
        ck_assert(pd_quiet(&b, 300));
        pd_send(&b, "/help\n");
        ck_assert(pd_expect_next(&b, "* this server needs a password first: /pass SECRET", 5000));
        pd_send(&b, "hello\n");
        ck_assert(pd_expect_next(&b, "* send /pass SECRET first (2 more tries)", 5000));
        pd_send(&b, "/who\n");
        ck_assert(pd_expect_next(&b, "* send /pass SECRET first (1 more try)", 5000));
        ck_assert(pd_quiet(&a, 300));
        pd_send(&b, "/pass   " SECRET "  \n");        /* spacing around it is not part of it */
        ck_assert(pd_expect_next(&b, "* password accepted", 5000));
        ck_assert(pd_expect(&b, "* you are guest2, in room lobby (2 members)", 5000));
        ck_assert(pd_expect_next(&b, "[history] <alice> anyone?", 5000));
        ck_assert(pd_expect_next(&a, "* guest2 entered room lobby", 5000));
        pd_send(&b, "/pass " SECRET "\n");
        ck_assert(pd_expect_next(&b, "* you gave the password already", 5000));
        pd_send(&b, "hi alice\n");
        ck_assert(pd_expect_next(&a, "<guest2> hi alice", 5000));

        /* The echo service needs no password. */
        ck_assert_int_eq(pd_connect(&e, d.echo_port, AF_INET), 0);
        ck_assert(pd_expect_next(&e, WELCOME, 5000));
        pd_close(&e);
        pd_close(&a);
        pd_close(&b);
        ck_assert_int_eq(pd_log_count_when(&d, "gave the password", 2), 2);
        static const char *const secrets[] = { SECRET, "s3cr3t" };
        assert_log_lacks(&d, secrets, 2);
        ck_assert_int_eq(pd_stop(&d), 0);
}
END_TEST

START_TEST(password_three_wrong_tries)
{
        struct pd d;
        struct pd_client c;
        long long t0;

        ck_assert_int_eq(pd_start(&d, "[chat]\npassword = " SECRET "\n"), 0);
        chat_unlogged(&d, &c);
        t0 = clock_now_ms();
        pd_send(&c, "/pass guess-one\n/pass s3cr3t-Pa55\n/pass " SECRET "x\n/pass " SECRET "\n");
        ck_assert(pd_expect_next(&c, "* wrong password (2 more tries)", 5000));
        ck_assert(pd_expect_next(&c, "* wrong password (1 more try)", 5000));
        ck_assert(pd_expect_next(&c, "* wrong password, closing connection", 5000));
        /* the right one, sent fourth, came too late */
        ck_assert(pd_wait_closed(&c, 5000));
        /* each wrong try holds the next line back a second */
        ck_assert_int_ge(clock_now_ms() - t0, 2 * 1000 - 50);
        pd_close(&c);
        ck_assert(pd_log_wait(&d, "(wrong password)", 2000));
        /* One line for the address, not one a try: the first at once,
         * the others in the next one a minute later. */
        ck_assert_int_eq(pd_log_count_when(&d,
                                           "chat: 1 wrong password from 127.0.0.1 in the last 60 s",
                                           1), 1);
        ck_assert_int_eq(pd_log_count_when(&d, "wrong password from", 1), 1);
        ck_assert_int_eq(pd_log_count(&d, "gave the password"), 0);

        /* /quit needs no password */
        chat_unlogged(&d, &c);
        pd_send(&c, "/quit bye\n");
        ck_assert(pd_expect_next(&c, "* bye", 5000));
        ck_assert(pd_wait_closed(&c, 5000));
        pd_close(&c);

        static const char *const secrets[] = { SECRET, "s3cr3t", "guess-one" };
        assert_log_lacks(&d, secrets, 3);
        ck_assert_int_eq(pd_stop(&d), 0);
}
END_TEST

/* Room keys and a password refused by --check-config stay out of logs
 * and error messages too. */
START_TEST(password_and_keys_never_logged)
{
        struct pd d;
        struct pd_client a, b;
        char out[4096];

        ck_assert_int_eq(pd_start(&d, "[chat]\npassword = " SECRET "\n"), 0);
        chat_unlogged(&d, &a);
        pd_send(&a, "/pass " SECRET "\n/join #vault k3y-S3cret\n");
        ck_assert(pd_expect(&a, "* you are guest1, in room vault (1 member)", 5000));
        chat_unlogged(&d, &b);
        pd_send(&b, "/pass " SECRET "\n/join vault wr0ng-K3y\n/join vault k3y-S3cret\n");
        ck_assert(pd_expect(&b, "wrong key for room vault", 5000));
        ck_assert(pd_expect(&b, "* you are guest2, in room vault (2 members)", 5000));
        pd_close(&a);
        pd_close(&b);
        ck_assert(pd_log_wait(&d, "guest2 left", 5000));
        static const char *const secrets[] = { SECRET, "s3cr3t", "k3y-S3cret", "wr0ng-K3y" };
        assert_log_lacks(&d, secrets, 4);

        /* A password the configuration check refuses is not shown. */
        pd_write_conf(&d, "[chat]\npassword = \"tr41ling-s3cret \"\n");
        const char *argv[] = { "pichatd", "--check-config", "-c", d.conf_path, NULL };
        ck_assert_int_eq(pd_run(argv, out, sizeof(out), 5000), 1);
        ck_assert_ptr_nonnull(strstr(out, "password: cannot begin or end with a space"));
        ck_assert_ptr_null(strstr(out, "tr41ling"));
        ck_assert_int_eq(pd_stop(&d), 0);
}
END_TEST

/* Reconnecting buys no fresh tries: wrong passwords count against the
 * address across connections, each making the next wait twice as long,
 * and the right one is judged only once the wait is over. */
START_TEST(password_throttled_across_connections)
{
        struct pd d;
        struct pd_client c;
        char line[256];

        ck_assert_int_eq(pd_start(&d, "[chat]\npassword = " SECRET "\n"), 0);
        /* Three wrong tries, on three connections: 1 s, 2 s, 4 s. */
        for (int i = 0; i < 3; i++) {
                chat_unlogged(&d, &c);
                if (i > 0) {
                        pd_send(&c, "/pass " SECRET "\n");
                        ck_assert_int_ge(pd_line(&c, line, sizeof(line), 5000), 0);
                        ck_assert_msg(strncmp(line, "* too many wrong passwords from your address: "
                                              "try again in ", 46) == 0, "got '%s'", line);
                }
                usleep((useconds_t)(1000 << i) * 1000);
                pd_send(&c, "/pass wrong\n");
                ck_assert(pd_expect_next(&c, i == 0 ? "* wrong password (2 more tries)" :
                                                      "* wrong password (1 more try)", 5000));
                pd_close(&c);
        }
        /* Held back 4 s now: the right password, at once, is not judged. */
        chat_unlogged(&d, &c);
        pd_send(&c, "/pass " SECRET "\n");
        ck_assert(pd_expect_next(&c, "* too many wrong passwords from your address: try again in 4 s",
                                 5000));
        usleep(4100 * 1000);
        pd_send(&c, "/pass " SECRET "\n");
        ck_assert(pd_expect_next(&c, "* password accepted", 5000));
        pd_close(&c);
        /* Given right, the address starts afresh. */
        chat_unlogged(&d, &c);
        pd_send(&c, "/pass wrong\n");
        ck_assert(pd_expect_next(&c, "* wrong password (2 more tries)", 5000));
        pd_close(&c);
        ck_assert_int_eq(pd_log_count_when(&d, "wrong password from 127.0.0.1", 1), 1);
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

        tc = tcase_create("password");
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, password_login);
        tcase_add_test(tc, password_three_wrong_tries);
        tcase_add_test(tc, password_throttled_across_connections);
        tcase_add_test(tc, password_and_keys_never_logged);
        suite_add_tcase(s, tc);
        return s;
}
