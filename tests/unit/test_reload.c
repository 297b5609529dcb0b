/* Unit tests: what a reload keeps from the configuration in force. */
#include <string.h>
#include <syslog.h>

#include "conf.h"
#include "reload.h"
#include "suite.h"

START_TEST(nothing_changed)
{
        struct conf cur, next;

        conf_defaults(&cur);
        conf_defaults(&next);
        ck_assert_uint_eq(reload_keep_restart_only(&cur, &next), 0);
}
END_TEST

START_TEST(restart_only_settings_kept)
{
        struct conf cur, next;

        conf_defaults(&cur);
        conf_defaults(&next);
        strcpy(next.server.bind[0], "127.0.0.1");
        strcpy(next.server.bind[1], "::1");
        next.server.n_bind = 2;
        next.server.thread_stack_kib = 256;
        next.echo.enabled = false;
        next.echo.port = 7777;
        next.udp.enabled = false;
        next.udp.port = 7778;
        next.chat.enabled = false;
        next.chat.port = 7779;
        next.chat.tls_port = (struct conf_tls_port){ true, 5001 };
        cur.web.tls_port = (struct conf_tls_port){ true, 8443 };
        next.web.tls_port = (struct conf_tls_port){ true, 8444 };
        ck_assert_uint_eq(reload_keep_restart_only(&cur, &next), 10);
        ck_assert(!next.chat.tls_port.on);
        ck_assert(next.web.tls_port.on && next.web.tls_port.port == 8443);
        ck_assert_uint_eq(next.server.n_bind, 1);
        ck_assert_str_eq(next.server.bind[0], "::");
        ck_assert_uint_eq(next.server.thread_stack_kib, 64);
        ck_assert(next.echo.enabled && next.udp.enabled && next.chat.enabled);
        ck_assert_uint_eq(next.echo.port, 8888);
        ck_assert_uint_eq(next.udp.port, 8888);
        ck_assert_uint_eq(next.chat.port, 5000);
}
END_TEST

START_TEST(answer_services_kept)
{
        struct conf cur, next;

        conf_defaults(&cur);
        conf_defaults(&next);
        cur.qotd.enabled = true;
        next.daytime.enabled = true;
        next.daytime.port = 1313;
        next.daytime.udp = false;
        next.time.enabled = true;
        next.time.port = 3737;
        next.time.udp = false;
        next.qotd.enabled = false;
        next.qotd.port = 1717;
        next.qotd.udp = false;
        strcpy(next.daytime.format, "ctime");
        strcpy(next.qotd.file, "/elsewhere");
        ck_assert_uint_eq(reload_keep_restart_only(&cur, &next), 9);
        ck_assert(!next.daytime.enabled && !next.time.enabled && next.qotd.enabled);
        ck_assert_uint_eq(next.daytime.port, 13);
        ck_assert_uint_eq(next.time.port, 37);
        ck_assert_uint_eq(next.qotd.port, 17);
        ck_assert(next.daytime.udp && next.time.udp && next.qotd.udp);
        /* What they say is reloadable. */
        ck_assert_str_eq(next.daytime.format, "ctime");
        ck_assert_str_eq(next.qotd.file, "/elsewhere");
}
END_TEST

START_TEST(reloadable_settings_untouched)
{
        struct conf cur, next;

        conf_defaults(&cur);
        conf_defaults(&next);
        strcpy(next.echo.welcome, "hello");
        strcpy(next.echo.prefix, "> ");
        strcpy(next.udp.prefix, "U ");
        strcpy(next.chat.motd, "motd");
        strcpy(next.chat.rooms, "a b");
        next.server.max_clients = 5;
        next.server.idle_timeout_s = 7;
        next.chat.lines_per_sec = 3;
        next.log.level = LOG_WARNING;
        ck_assert_uint_eq(reload_keep_restart_only(&cur, &next), 0);
        ck_assert_str_eq(next.echo.welcome, "hello");
        ck_assert_str_eq(next.echo.prefix, "> ");
        ck_assert_str_eq(next.udp.prefix, "U ");
        ck_assert_str_eq(next.chat.motd, "motd");
        ck_assert_str_eq(next.chat.rooms, "a b");
        ck_assert_uint_eq(next.server.max_clients, 5);
        ck_assert_uint_eq(next.server.idle_timeout_s, 7);
        ck_assert_uint_eq(next.chat.lines_per_sec, 3);
        ck_assert_int_eq(next.log.level, LOG_WARNING);
}
END_TEST

START_TEST(same_bind_list_differently_spaced)
{
        /* Compared as lists: only the addresses count. */
        struct conf cur, next;

        conf_defaults(&cur);
        conf_defaults(&next);
        strcpy(cur.server.bind[0], "::1");
        strcpy(cur.server.bind[1], "127.0.0.1");
        cur.server.n_bind = 2;
        memcpy(next.server.bind, cur.server.bind, sizeof(cur.server.bind));
        next.server.n_bind = 2;
        ck_assert_uint_eq(reload_keep_restart_only(&cur, &next), 0);
}
END_TEST

Suite *test_suite(void)
{
        Suite *s = suite_create("reload");
        TCase *tc = tcase_create("keep");

        tcase_add_test(tc, nothing_changed);
        tcase_add_test(tc, restart_only_settings_kept);
        tcase_add_test(tc, answer_services_kept);
        tcase_add_test(tc, reloadable_settings_untouched);
        tcase_add_test(tc, same_bind_list_differently_spaced);
        suite_add_tcase(s, tc);
        return s;
}
