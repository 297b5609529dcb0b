/* Unit tests: notify's status line, and what the supervisor's tick sends
 * (to a NOTIFY_SOCKET of the test's own) for which times and liveness. */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "notify.h"
#include "suite.h"

/* ---- the status line ---------------------------------------------------- */

START_TEST(status_all_services)
{
        struct notify_counts c = { .echo = true, .chat = true, .udp = true,
                                   .echo_clients = 3, .chat_clients = 12, .chat_rooms = 4,
                                   .udp_datagrams = 1234 };
        char buf[NOTIFY_STATUS_MAX];

        notify_status_format(buf, sizeof(buf), &c, NULL);
        ck_assert_str_eq(buf, "echo: 3 clients; chat: 12 clients in 4 rooms; "
                              "udp: 1234 datagrams answered");
}
END_TEST

START_TEST(status_singular_and_zero)
{
        struct notify_counts c = { .echo = true, .chat = true, .udp = true,
                                   .echo_clients = 1, .chat_clients = 0, .chat_rooms = 1,
                                   .udp_datagrams = 1 };
        char buf[NOTIFY_STATUS_MAX];

        notify_status_format(buf, sizeof(buf), &c, "");
        ck_assert_str_eq(buf, "echo: 1 client; chat: 0 clients in 1 room; "
                              "udp: 1 datagram answered");
}
END_TEST

START_TEST(status_services_off_left_out)
{
        struct notify_counts c = { .chat = true, .chat_clients = 2, .chat_rooms = 1,
                                   .echo_clients = 7 };
        char buf[NOTIFY_STATUS_MAX];

        notify_status_format(buf, sizeof(buf), &c, NULL);
        ck_assert_str_eq(buf, "chat: 2 clients in 1 room");
        c.chat = false;
        c.udp = true;
        notify_status_format(buf, sizeof(buf), &c, NULL);
        ck_assert_str_eq(buf, "udp: 0 datagrams answered");
        c.web = true;
        c.web_clients = 1;
        notify_status_format(buf, sizeof(buf), &c, NULL);
        ck_assert_str_eq(buf, "udp: 0 datagrams answered; web: 1 client");
        c.udp = false;
        c.web_clients = 3;
        notify_status_format(buf, sizeof(buf), &c, NULL);
        ck_assert_str_eq(buf, "web: 3 clients");
}
END_TEST

START_TEST(status_answer_services)
{
        struct notify_counts c = { .web = true, .web_clients = 2, .daytime = true,
                                   .daytime_requests = 5, .time = true, .time_requests = 1,
                                   .qotd = true, .qotd_requests = 0 };
        char buf[NOTIFY_STATUS_MAX];

        notify_status_format(buf, sizeof(buf), &c, NULL);
        ck_assert_str_eq(buf, "web: 2 clients; daytime: 5 requests; time: 1 request; "
                              "qotd: 0 requests");
        c.web = c.daytime = c.time = false;
        c.qotd_requests = 1234567;
        notify_status_format(buf, sizeof(buf), &c, NULL);
        ck_assert_str_eq(buf, "qotd: 1234567 requests");
        /* Everything on, every count at its largest, and a long problem:
         * all of the counts still fit. */
        struct notify_counts big = { true, true, true, true, UINT32_MAX, UINT32_MAX, UINT32_MAX,
                                     100000, ULONG_MAX, true, true, true, ULONG_MAX, ULONG_MAX,
                                     ULONG_MAX };
        size_t n = notify_status_format(buf, sizeof(buf), &big, NULL);
        ck_assert_uint_lt(n, sizeof(buf) - 1);
        char want[64];
        snprintf(want, sizeof(want), "qotd: %lu requests", ULONG_MAX);
        ck_assert_ptr_nonnull(strstr(buf, want));
}
END_TEST

START_TEST(status_problem_first)
{
        struct notify_counts c = { .echo = true, .echo_clients = 2 };
        char buf[NOTIFY_STATUS_MAX];

        notify_status_format(buf, sizeof(buf), &c,
                             "reload failed: /etc/pichat.ini:3: syntax error");
        ck_assert_str_eq(buf, "reload failed: /etc/pichat.ini:3: syntax error; echo: 2 clients");
}
END_TEST

START_TEST(status_cut_to_fit)
{
        struct notify_counts c = { .echo = true, .chat = true, .echo_clients = 100 };
        char buf[16];
        size_t n = notify_status_format(buf, sizeof(buf), &c, NULL);

        ck_assert_uint_eq(n, 15);
        ck_assert_str_eq(buf, "echo: 100 clien");
        ck_assert_uint_eq(notify_status_format(buf, 1, &c, NULL), 0);
        ck_assert_str_eq(buf, "");
}
END_TEST

/* ---- what gets sent ----------------------------------------------------- */

static int sock = -1;
static char sock_dir[32];

static void sock_setup(void)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };

        snprintf(sock_dir, sizeof(sock_dir), "/tmp/pichat-notify.XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(sock_dir));
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/notify", sock_dir);
        sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        ck_assert_int_ge(sock, 0);
        ck_assert_int_eq(bind(sock, (struct sockaddr *)&sa, sizeof(sa)), 0);
        setenv("NOTIFY_SOCKET", sa.sun_path, 1);
        unsetenv("WATCHDOG_USEC");
        unsetenv("WATCHDOG_PID");
}

static void sock_teardown(void)
{
        char path[128];

        snprintf(path, sizeof(path), "%s/notify", sock_dir);
        close(sock);
        unlink(path);
        rmdir(sock_dir);
        unsetenv("NOTIFY_SOCKET");
}

/* The next message notify left on the socket, or "" if none: it is
 * sent synchronously, so it is there as soon as the call returns. */
static const char *next(void)
{
        static char buf[1024];
        ssize_t n = recv(sock, buf, sizeof(buf) - 1, MSG_DONTWAIT);

        buf[n > 0 ? n : 0] = '\0';
        return buf;
}

/* Module state outlives a test when check does not fork (CK_FORK=no), so
 * each test uses its own clock range and status texts. */

START_TEST(tick_status_on_change_at_most_once_a_second)
{
        const int64_t t = 1000000;

        notify_tick(t, true, "s1 a");
        ck_assert_str_eq(next(), "STATUS=s1 a");
        notify_tick(t + 200, true, "s1 a");
        notify_tick(t + 5000, true, "s1 a");
        ck_assert_str_eq(next(), "");           /* unchanged: nothing */
        notify_tick(t + 5200, true, "s1 b");
        ck_assert_str_eq(next(), "STATUS=s1 b");
        notify_tick(t + 5400, true, "s1 c");
        notify_tick(t + 6100, true, "s1 d");
        ck_assert_str_eq(next(), "");           /* within a second of the last */
        notify_tick(t + 6200, true, "s1 d");
        ck_assert_str_eq(next(), "STATUS=s1 d");        /* the latest, once allowed */
        notify_tick(t + 6400, true, "s1 d");
        ck_assert_str_eq(next(), "");
}
END_TEST

START_TEST(ready_reloading_stopping)
{
        const int64_t t = 2000000;

        ck_assert_int_gt(notify_ready(t, "s2 ready"), 0);
        ck_assert_str_eq(next(), "READY=1\nSTATUS=s2 ready");
        /* READY's status counts as the last one sent. */
        notify_tick(t + 500, true, "s2 other");
        ck_assert_str_eq(next(), "");
        ck_assert_int_gt(notify_reloading(), 0);
        const char *m = next();
        ck_assert_msg(strncmp(m, "RELOADING=1\nMONOTONIC_USEC=", 27) == 0, "%s", m);
        ck_assert(strstr(m, "\nSTATUS=reloading configuration") != NULL);
        ck_assert_int_gt(notify_stopping(), 0);
        ck_assert_str_eq(next(), "STOPPING=1\nSTATUS=shutting down");
}
END_TEST

START_TEST(watchdog_half_interval_only_while_alive)
{
        const int64_t t = 3000000;

        setenv("WATCHDOG_USEC", "1000000", 1);
        ck_assert_int_eq(notify_init(), 1000000);
        ck_assert_int_eq(notify_watchdog_usec(), 1000000);
        notify_tick(t, true, "s3");
        ck_assert_str_eq(next(), "STATUS=s3");
        ck_assert_str_eq(next(), "WATCHDOG=1");
        notify_tick(t + 400, true, "s3");
        ck_assert_str_eq(next(), "");
        notify_tick(t + 500, true, "s3");
        ck_assert_str_eq(next(), "WATCHDOG=1");
        /* A stuck loop: no more pings, however long, so systemd restarts us. */
        notify_tick(t + 1000, false, "s3");
        notify_tick(t + 1500, false, "s3");
        notify_tick(t + 9000, false, "s3");
        ck_assert_str_eq(next(), "");
        /* Running again: pings again at once. */
        notify_tick(t + 9200, true, "s3");
        ck_assert_str_eq(next(), "WATCHDOG=1");
        unsetenv("WATCHDOG_USEC");
}
END_TEST

START_TEST(watchdog_off)
{
        const int64_t t = 4000000;

        ck_assert_int_eq(notify_init(), 0);
        ck_assert_int_eq(notify_watchdog_usec(), 0);
        notify_tick(t, true, "s4");
        ck_assert_str_eq(next(), "STATUS=s4");
        for (int i = 1; i < 50; i++)
                notify_tick(t + i * 1000, true, "s4");
        ck_assert_str_eq(next(), "");
}
END_TEST

START_TEST(watchdog_of_another_process)
{
        char pid[16];

        setenv("WATCHDOG_USEC", "1000000", 1);
        snprintf(pid, sizeof(pid), "%d", (int)getppid());
        setenv("WATCHDOG_PID", pid, 1);
        ck_assert_int_eq(notify_init(), 0);
        unsetenv("WATCHDOG_USEC");
        unsetenv("WATCHDOG_PID");
}
END_TEST

START_TEST(no_notify_socket)
{
        unsetenv("NOTIFY_SOCKET");
        ck_assert_int_eq(notify_ready(5000000, "s5"), 0);
        ck_assert_int_eq(notify_stopping(), 0);
        notify_tick(5000000, true, "s5 x");
        ck_assert_str_eq(next(), "");
}
END_TEST

Suite *test_suite(void)
{
        Suite *s = suite_create("notify");
        TCase *tc = tcase_create("status");

        tcase_add_test(tc, status_all_services);
        tcase_add_test(tc, status_singular_and_zero);
        tcase_add_test(tc, status_services_off_left_out);
        tcase_add_test(tc, status_answer_services);
        tcase_add_test(tc, status_problem_first);
        tcase_add_test(tc, status_cut_to_fit);
        suite_add_tcase(s, tc);

        tc = tcase_create("send");
        tcase_add_checked_fixture(tc, sock_setup, sock_teardown);
        tcase_add_test(tc, tick_status_on_change_at_most_once_a_second);
        tcase_add_test(tc, ready_reloading_stopping);
        tcase_add_test(tc, watchdog_half_interval_only_while_alive);
        tcase_add_test(tc, watchdog_off);
        tcase_add_test(tc, watchdog_of_another_process);
        tcase_add_test(tc, no_notify_socket);
        suite_add_tcase(s, tc);
        return s;
}
