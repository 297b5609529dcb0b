/* Integration: SIGHUP reloads pichat.ini without dropping a client; a file
 * that no longer parses keeps the configuration in force. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "harness.h"
#include "suite.h"

#define WELCOME "Welcome to the server. Type something and hit enter"
#define CHAT_WELCOME "* Welcome to pichat chat. Type /help for commands."

static const char old_ini[] =
        "[echo]\nwelcome = old welcome\nprefix = OLD>\n"
        "[chat]\nmotd = old motd\n";
static const char new_ini[] =
        "[echo]\nwelcome = new welcome\nprefix = NEW>\n"
        "[chat]\nmotd = new motd\nrooms = lobby games\n";

/* SIGHUP, then wait for the reload to be over (READY=1 after RELOADING=1):
 * the status line that came with READY=1 goes to status. */
static void reload(struct pd *d, char *status, size_t size)
{
        char msg[1024];

        pd_signal(d, SIGHUP);
        ck_assert(pd_notify_wait(d, "RELOADING=1", msg, sizeof(msg), 5000));
        ck_assert(pd_notify_wait(d, "READY=1", msg, sizeof(msg), 5000));
        ck_assert(pd_notify_field(msg, "STATUS", status, size));
}

static void start(struct pd *d, const char *ini)
{
        struct pd_opts o = { .fdnames = "echo:chat:udp", .notify = true };
        char msg[1024];

        ck_assert_int_eq(pd_start_opts(d, ini, &o), 0);
        ck_assert(pd_notify_wait(d, "READY=1", msg, sizeof(msg), 5000));
}

START_TEST(reload_keeps_clients_new_texts_apply)
{
        struct pd d;
        struct pd_client e, c, e2, c2;
        char status[512], reply[64];

        start(&d, old_ini);
        ck_assert_int_eq(pd_connect(&e, d.echo_port, AF_INET), 0);
        ck_assert(pd_expect_next(&e, "old welcome", 5000));
        ck_assert_int_eq(pd_connect(&c, d.chat_port, AF_INET), 0);
        ck_assert(pd_expect(&c, "* old motd", 5000));
        pd_send(&c, "/nick keeper\n");
        ck_assert(pd_expect(&c, "* you are now known as keeper", 5000));

        pd_write_conf(&d, new_ini);
        reload(&d, status, sizeof(status));
        ck_assert_msg(strstr(status, "reload failed") == NULL, "%s", status);

        /* Both clients are still there: the echo one gets the new prefix at
         * once, the chat one keeps its nick and sees the new room. */
        pd_send(&e, "still here\n");
        ck_assert(pd_expect_next(&e, "NEW>still here", 5000));
        pd_send(&c, "/rooms\n");
        ck_assert(pd_expect(&c, "* rooms:", 5000));
        ck_assert(pd_expect(&c, "*   games: 0 members", 5000));
        pd_send(&c, "/who\n");
        ck_assert(pd_expect(&c, "*   keeper", 5000));

        /* New clients see the new texts. */
        ck_assert_int_eq(pd_connect(&e2, d.echo_port, AF_INET6), 0);
        ck_assert(pd_expect_next(&e2, "new welcome", 5000));
        ck_assert_int_eq(pd_connect(&c2, d.chat_port, AF_INET), 0);
        ck_assert(pd_expect_next(&c2, CHAT_WELCOME, 5000));
        ck_assert(pd_expect_next(&c2, "* new motd", 5000));
        /* The UDP prefix was not changed: still the default. */
        ck_assert_int_eq(pd_udp_exchange(AF_INET, d.udp_port, "u", 1, reply, sizeof(reply),
                                         5000), 6);
        ck_assert_str_eq(reply, "OK...u");

        ck_assert_int_eq(pd_log_count(&d, "disconnected"), 0);
        ck_assert_int_eq(pd_log_count_when(&d, "reloaded configuration", 1), 1);
        pd_close(&e);
        pd_close(&c);
        pd_close(&e2);
        pd_close(&c2);
        ck_assert_int_eq(pd_stop(&d), 0);
}
END_TEST

START_TEST(reload_broken_file_keeps_config)
{
        struct pd d;
        struct pd_client e, e2, e3;
        char status[512], want[256];

        start(&d, old_ini);
        ck_assert_int_eq(pd_connect(&e, d.echo_port, AF_INET), 0);
        ck_assert(pd_expect_next(&e, "old welcome", 5000));

        /* The defaults take 7 lines, old_ini 5 more: line 15 is bad. */
        char broken[512];
        snprintf(broken, sizeof(broken), "%s[echo]\nwelcome = broken\nthis is not ini\n", old_ini);
        pd_write_conf(&d, broken);
        reload(&d, status, sizeof(status));
        snprintf(want, sizeof(want), "reload failed: %s:15: syntax error", d.conf_path);
        ck_assert_msg(strncmp(status, want, strlen(want)) == 0, "status: %s", status);
        /* The status line still counts clients after the problem. */
        ck_assert_msg(strstr(status, "; echo: 1 client; chat: 0 clients in 1 room;") != NULL,
                      "status: %s", status);
        snprintf(want, sizeof(want), "error: reload: %s:15: syntax error", d.conf_path);
        ck_assert_int_eq(pd_log_count_when(&d, want, 1), 1);
        ck_assert_int_eq(pd_log_count_when(&d, "reload failed, keeping the configuration in force",
                                           1), 1);

        /* Nothing of the broken file applies. */
        pd_send(&e, "x\n");
        ck_assert(pd_expect_next(&e, "OLD>x", 5000));
        ck_assert_int_eq(pd_connect(&e2, d.echo_port, AF_INET), 0);
        ck_assert(pd_expect_next(&e2, "old welcome", 5000));

        /* Fixed, the next reload clears the problem. */
        pd_write_conf(&d, new_ini);
        reload(&d, status, sizeof(status));
        ck_assert_msg(strncmp(status, "echo: 2 clients;", 16) == 0, "status: %s", status);
        ck_assert_int_eq(pd_connect(&e3, d.echo_port, AF_INET), 0);
        ck_assert(pd_expect_next(&e3, "new welcome", 5000));
        pd_close(&e);
        pd_close(&e2);
        pd_close(&e3);
        ck_assert_int_eq(pd_stop(&d), 0);
}
END_TEST

START_TEST(reload_bad_room_name_keeps_config)
{
        /* A room name is checked before anything is swapped in, with
         * the line it is on (the harness writes 7 lines of its own). */
        struct pd d;
        char status[512], want[256];

        start(&d, old_ini);
        pd_write_conf(&d, "[echo]\nwelcome = new\n[chat]\nrooms = lobby no/slash\n");
        reload(&d, status, sizeof(status));
        snprintf(want, sizeof(want), "reload failed: %s:11: rooms: 'no/slash' is not a room name",
                 d.conf_path);
        ck_assert_msg(strncmp(status, want, strlen(want)) == 0, "status: %s", status);
        struct pd_client e;
        ck_assert_int_eq(pd_connect(&e, d.echo_port, AF_INET), 0);
        ck_assert(pd_expect_next(&e, "old welcome", 5000));
        pd_close(&e);
        ck_assert_int_eq(pd_stop(&d), 0);
}
END_TEST

START_TEST(reload_restart_only_settings_ignored)
{
        struct pd d;
        struct pd_client e;
        char status[512];

        start(&d, old_ini);
        pd_write_conf(&d, "[server]\nbind = 127.0.0.1\nthread_stack_kib = 128\n"
                          "[echo]\nport = 1\nwelcome = moved\n"
                          "[udp]\nenabled = no\n[chat]\nport = 2\n");
        reload(&d, status, sizeof(status));
        ck_assert_msg(strstr(status, "reload failed") == NULL, "%s", status);
        ck_assert_int_eq(pd_log_count_when(&d, "warning: reload: [server] bind changed from "
                                           "'::' to '127.0.0.1'; needs a restart, keeping '::'",
                                           1), 1);
        ck_assert_int_eq(pd_log_count_when(&d, "warning: reload: [server] thread_stack_kib "
                                           "changed from 64 to 128; needs a restart, keeping 64",
                                           1), 1);
        ck_assert_int_eq(pd_log_count_when(&d, "warning: reload: [echo] port changed from 8888 "
                                           "to 1; needs a restart, keeping 8888", 1), 1);
        ck_assert_int_eq(pd_log_count_when(&d, "warning: reload: [udp] enabled changed from yes "
                                           "to no; needs a restart, keeping yes", 1), 1);
        ck_assert_int_eq(pd_log_count_when(&d, "warning: reload: [chat] port changed", 1), 1);
        /* Everything else applied, and every service still answers. */
        ck_assert_int_eq(pd_connect(&e, d.echo_port, AF_INET6), 0);
        ck_assert(pd_expect_next(&e, "moved", 5000));
        pd_close(&e);
        char reply[64];
        ck_assert_int_eq(pd_udp_exchange(AF_INET, d.udp_port, "u", 1, reply, sizeof(reply),
                                         5000), 6);
        ck_assert_int_eq(pd_stop(&d), 0);
}
END_TEST

START_TEST(reload_log_level)
{
        struct pd d;
        struct pd_client e;

        start(&d, old_ini);
        char status[512];
        pd_write_conf(&d, "[log]\nlevel = warning\n");
        reload(&d, status, sizeof(status));
        ck_assert_int_eq(pd_connect(&e, d.echo_port, AF_INET), 0);
        ck_assert(pd_expect_next(&e, WELCOME, 5000));
        pd_close(&e);
        /* A warning still shows: a restart-only change. */
        pd_write_conf(&d, "[log]\nlevel = warning\n[echo]\nport = 1\n");
        reload(&d, status, sizeof(status));
        ck_assert(pd_log_wait(&d, "warning: reload: [echo] port changed", 1000));
        ck_assert_int_eq(pd_log_count(&d, "echo: connected"), 0);
        ck_assert_int_eq(pd_log_count(&d, "reloaded configuration"), 0);
        ck_assert_int_eq(pd_stop(&d), 0);
}
END_TEST

Suite *test_suite(void)
{
        Suite *s = suite_create("reload");
        TCase *tc = tcase_create("reload");

        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, reload_keeps_clients_new_texts_apply);
        tcase_add_test(tc, reload_broken_file_keeps_config);
        tcase_add_test(tc, reload_bad_room_name_keeps_config);
        tcase_add_test(tc, reload_restart_only_settings_ignored);
        tcase_add_test(tc, reload_log_level);
        suite_add_tcase(s, tc);
        return s;
}
