/* Integration: pichatd under a service manager, played by the test: the
 * notify protocol (READY, STATUS, WATCHDOG, RELOADING, STOPPING) and socket
 * activation (by name, by type and port, names and types that disagree).
 * The journal is test_journal.c's. */
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <dirent.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "harness.h"
#include "suite.h"

#define WELCOME "Welcome to the server. Type something and hit enter"
#define CHAT_WELCOME "* Welcome to pichat chat. Type /help for commands."
#define IDLE_STATUS "echo: 0 clients; chat: 0 clients in 1 room; udp: 0 datagrams answered"

static void start_notify(struct pd *d, const char *ini, struct pd_opts *o)
{
        o->notify = true;
        ck_assert_int_eq(pd_start_opts(d, ini, o), 0);
}

/* Every service answers, at once (TCP over IPv4, and IPv6 when dual). */
static void answer(struct pd *d, bool dual)
{
        struct pd_client e, c;
        char reply[256];

        ck_assert_int_eq(pd_connect(&e, d->echo_port, AF_INET), 0);
        ck_assert(pd_expect_next(&e, WELCOME, 5000));
        pd_send(&e, "ping\n");
        ck_assert(pd_expect_next(&e, "OK...ping", 5000));
        pd_close(&e);
        ck_assert_int_eq(pd_connect(&c, d->chat_port, dual ? AF_INET6 : AF_INET), 0);
        ck_assert(pd_expect_next(&c, CHAT_WELCOME, 5000));
        pd_close(&c);
        ck_assert_int_eq(pd_udp_exchange(AF_INET, d->udp_port, "hi", 2, reply, sizeof(reply),
                                         5000), 7);
        ck_assert_str_eq(reply, "OK...hi");
}

static void all_answer(struct pd *d)
{
        answer(d, true);
}

/* ---- READY=1 ------------------------------------------------------------ */

START_TEST(ready_after_inherited_listeners)
{
        struct pd d;
        struct pd_opts o = { .fdnames = "echo:chat:udp", .no_wait = true };
        char msg[1024], status[512];

        start_notify(&d, NULL, &o);
        /* READY=1 is the first thing said, with the first status line. */
        ck_assert_int_gt(pd_notify_next(&d, msg, sizeof(msg), 10000), 0);
        ck_assert_msg(strncmp(msg, "READY=1\n", 8) == 0, "first message: %s", msg);
        ck_assert(pd_notify_field(msg, "STATUS", status, sizeof(status)));
        ck_assert_str_eq(status, IDLE_STATUS);
        ck_assert(pd_log_wait(&d, "started", 5000));
        ck_assert_int_eq(pd_log_count_when(&d, "started", 1), 1);
        all_answer(&d);
        ck_assert_int_eq(pd_stop(&d), 0);
}
END_TEST

START_TEST(ready_after_own_listeners)
{
        /* pichatd binds its own ports (0 = any): when READY=1 arrives each
         * must accept a connection right away. */
        struct pd d;
        struct pd_opts o = { .no_wait = true };
        char msg[1024];

        start_notify(&d, "[server]\nbind = 127.0.0.1\n[echo]\nport = 0\n"
                         "[chat]\nport = 0\n[udp]\nport = 0\n", &o);
        ck_assert(pd_notify_wait(&d, "READY=1", msg, sizeof(msg), 10000));
        /* The log is written by its own thread: the ports are in it a
         * moment later, the listeners were listening before READY=1. */
        ck_assert(pd_log_wait(&d, "started", 5000));
        ck_assert_int_eq(pd_ports_from_log(&d), 3);
        ck_assert_uint_ne(d.echo_port, 0);
        ck_assert_uint_ne(d.chat_port, 0);
        ck_assert_uint_ne(d.udp_port, 0);
        answer(&d, false);
        ck_assert_int_eq(pd_stop(&d), 0);
}
END_TEST

START_TEST(no_ready_when_a_listener_fails)
{
        /* The chat port is taken: pichatd must exit 1 without READY=1,
         * although the echo port before it was bound fine. */
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof(sa);
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct pd d;
        struct pd_opts o = { .no_wait = true };
        char ini[256], msg[1024];

        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        ck_assert_int_eq(listen(fd, 1), 0);
        getsockname(fd, (struct sockaddr *)&sa, &len);
        snprintf(ini, sizeof(ini), "[server]\nbind = 127.0.0.1\n[echo]\nport = 0\n"
                 "[chat]\nport = %u\n[udp]\nport = 0\n", ntohs(sa.sin_port));
        start_notify(&d, ini, &o);
        ck_assert_int_eq(pd_wait_exit(&d, 5000), 1);
        while (pd_notify_next(&d, msg, sizeof(msg), 100) >= 0)
                ck_assert_msg(strstr(msg, "READY=1") == NULL, "got %s", msg);
        pd_stop(&d);
        close(fd);
}
END_TEST

/* ---- STATUS= ------------------------------------------------------------ */

/* Wait for a status line equal to want; the time it came in *at. */
static bool status_is(struct pd *d, const char *want, long long *at, int timeout_ms)
{
        long long end = clock_now_ms() + timeout_ms;
        char msg[1024], status[512] = "";

        while (clock_now_ms() < end) {
                if (!pd_notify_wait(d, "STATUS=", msg, sizeof(msg), (int)(end - clock_now_ms())))
                        break;
                pd_notify_field(msg, "STATUS", status, sizeof(status));
                if (strcmp(status, want) == 0) {
                        if (at)
                                *at = clock_now_ms();
                        return true;
                }
        }
        fprintf(stderr, "status: wanted '%s', last '%s'\n", want, status);
        return false;
}

START_TEST(status_follows_clients)
{
        struct pd d;
        struct pd_opts o = { .fdnames = "echo:chat:udp" };
        struct pd_client e, c1, c2;
        char reply[64];

        start_notify(&d, NULL, &o);
        ck_assert(status_is(&d, IDLE_STATUS, NULL, 5000));
        ck_assert_int_eq(pd_connect(&e, d.echo_port, AF_INET), 0);
        ck_assert(pd_expect_next(&e, WELCOME, 5000));
        ck_assert(status_is(&d, "echo: 1 client; chat: 0 clients in 1 room; "
                                "udp: 0 datagrams answered", NULL, 5000));
        ck_assert_int_eq(pd_connect(&c1, d.chat_port, AF_INET), 0);
        ck_assert_int_eq(pd_connect(&c2, d.chat_port, AF_INET), 0);
        ck_assert(pd_expect(&c1, CHAT_WELCOME, 5000));
        ck_assert(pd_expect(&c2, CHAT_WELCOME, 5000));
        pd_send(&c2, "/join games\n");
        ck_assert(status_is(&d, "echo: 1 client; chat: 2 clients in 2 rooms; "
                                "udp: 0 datagrams answered", NULL, 5000));
        ck_assert_int_eq(pd_udp_exchange(AF_INET, d.udp_port, "x", 1, reply, sizeof(reply),
                                         5000), 6);
        ck_assert(status_is(&d, "echo: 1 client; chat: 2 clients in 2 rooms; "
                                "udp: 1 datagram answered", NULL, 5000));
        pd_close(&e);
        pd_close(&c2);
        ck_assert(status_is(&d, "echo: 0 clients; chat: 1 client in 1 room; "
                                "udp: 1 datagram answered", NULL, 5000));
        pd_close(&c1);
        ck_assert_int_eq(pd_stop(&d), 0);
}
END_TEST

START_TEST(status_at_most_once_a_second)
{
        /* A client arrives every 50 ms, so the count changes at every
         * supervisor tick; status lines still come at most once a second. */
        struct pd d;
        struct pd_opts o = { .fdnames = "echo:chat:udp" };
        struct pd_client e[60];
        char msg[1024];
        long long last = 0, end;
        int statuses = 0, n = 0;

        start_notify(&d, "[server]\nmax_clients_per_ip = 0\n", &o);
        ck_assert(status_is(&d, IDLE_STATUS, &last, 5000));
        end = clock_now_ms() + 3000;
        while (clock_now_ms() < end && n < 60) {
                ck_assert_int_eq(pd_connect(&e[n], d.echo_port, AF_INET), 0);
                ck_assert(pd_expect_next(&e[n], WELCOME, 5000));
                n++;
                while (pd_notify_next(&d, msg, sizeof(msg), 50) >= 0) {
                        if (!strstr(msg, "STATUS="))
                                continue;
                        long long now = clock_now_ms();
                        /* 900: the test sees a message a little after it was sent. */
                        ck_assert_msg(now - last >= 900, "status after %lld ms", now - last);
                        last = now;
                        statuses++;
                }
        }
        ck_assert_int_ge(statuses, 2);
        ck_assert_int_le(statuses, 4);
        for (int i = 0; i < n; i++)
                pd_close(&e[i]);
        /* The last change shows, and then nothing while nothing changes. */
        ck_assert(status_is(&d, IDLE_STATUS, NULL, 3000));
        ck_assert_int_lt(pd_notify_next(&d, msg, sizeof(msg), 2500), 0);
        ck_assert_int_eq(pd_stop(&d), 0);
}
END_TEST

/* ---- WATCHDOG=1 ---------------------------------------------------------- */

START_TEST(watchdog_pings_at_half_interval)
{
        struct pd d;
        struct pd_opts o = { .fdnames = "echo:chat:udp", .watchdog_usec = 600000 };
        char msg[1024];
        long long first = 0, last = 0;
        int pings = 0;

        start_notify(&d, NULL, &o);
        ck_assert(pd_notify_wait(&d, "READY=1", msg, sizeof(msg), 5000));
        long long end = clock_now_ms() + 2000;
        while (clock_now_ms() < end) {
                if (!pd_notify_wait(&d, "WATCHDOG=1", msg, sizeof(msg),
                                    (int)(end - clock_now_ms())))
                        break;
                last = clock_now_ms();
                if (pings++ == 0)
                        first = last;
        }
        /* Every 300 ms: 6 or 7 in 2 s. */
        ck_assert_int_ge(pings, 5);
        ck_assert_int_le(pings, 8);
        ck_assert_int_ge(last - first, (pings - 1) * 250);
        ck_assert(pd_log_wait(&d, "watchdog: every 600 ms", 1000));
        ck_assert_int_eq(pd_stop(&d), 0);
}
END_TEST

/* The thread of pid whose name is name, or -1. */
static pid_t thread_named(pid_t pid, const char *name)
{
        char path[320], comm[32];
        pid_t found = -1;

        snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
        DIR *dir = opendir(path);
        if (!dir)
                return -1;
        for (struct dirent *e; found < 0 && (e = readdir(dir));) {
                if (e->d_name[0] == '.')
                        continue;
                snprintf(path, sizeof(path), "/proc/%d/task/%s/comm", (int)pid, e->d_name);
                FILE *f = fopen(path, "r");
                if (f && fgets(comm, sizeof(comm), f)) {
                        comm[strcspn(comm, "\n")] = '\0';
                        if (strcmp(comm, name) == 0)
                                found = atoi(e->d_name);
                }
                if (f)
                        fclose(f);
        }
        closedir(dir);
        return found;
}

/* Stop one loop (thread) of pichatd while the rest runs on: the
 * supervisor must stop feeding the watchdog, then feed it again once the
 * loop runs again. ptrace stops a single thread, as a real hang would. */
static void wedge(const char *thread)
{
        struct pd d;
        struct pd_opts o = { .fdnames = "echo:chat:udp", .watchdog_usec = 1000000 };
        char msg[1024];
        int st;

        start_notify(&d, NULL, &o);
        ck_assert(pd_notify_wait(&d, "WATCHDOG=1", msg, sizeof(msg), 5000));
        pid_t tid = thread_named(d.pid, thread);
        ck_assert_int_gt(tid, 0);
        if (ptrace(PTRACE_SEIZE, tid, NULL, NULL) < 0) {
                pd_skipped("cannot ptrace here (%s)", strerror(errno));
                pd_stop(&d);
                return;
        }
        ck_assert_int_eq(ptrace(PTRACE_INTERRUPT, tid, NULL, NULL), 0);
        ck_assert_int_eq(waitpid(tid, &st, __WALL), tid);
        ck_assert(WIFSTOPPED(st));

        /* Within the stale limit (5 s) and a tick, it is noticed... */
        ck_assert(pd_log_wait(&d, "watchdog: a service loop is stuck", 8000));
        /* ... and from then on there is no ping (one may be on its way). */
        while (pd_notify_next(&d, msg, sizeof(msg), 0) >= 0)
                ;
        long long end = clock_now_ms() + 1500;
        while (clock_now_ms() < end &&
               pd_notify_next(&d, msg, sizeof(msg), (int)(end - clock_now_ms())) >= 0)
                ck_assert_msg(strstr(msg, "WATCHDOG=1") == NULL, "pinged while stuck");
        /* The other services are still served meanwhile. */
        struct pd_client c;
        ck_assert_int_eq(pd_connect(&c, strcmp(thread, "accept-chat") ? d.chat_port : d.echo_port,
                                    AF_INET), 0);
        pd_close(&c);

        ck_assert_int_eq(ptrace(PTRACE_DETACH, tid, NULL, NULL), 0);
        ck_assert(pd_notify_wait(&d, "WATCHDOG=1", msg, sizeof(msg), 3000));
        ck_assert(pd_log_wait(&d, "watchdog: service loops running again", 1000));
        all_answer(&d);
        ck_assert_int_eq(pd_stop(&d), 0);
}

START_TEST(watchdog_stops_when_accept_loop_stuck)
{
        wedge("accept-echo");
}
END_TEST

START_TEST(watchdog_stops_when_udp_loop_stuck)
{
        wedge("udp");
}
END_TEST

static void no_watchdog(struct pd_opts *o)
{
        struct pd d;
        char msg[1024];
        long long end;

        start_notify(&d, NULL, o);
        ck_assert(pd_notify_wait(&d, "READY=1", msg, sizeof(msg), 5000));
        end = clock_now_ms() + 1500;
        while (clock_now_ms() < end &&
               pd_notify_next(&d, msg, sizeof(msg), (int)(end - clock_now_ms())) >= 0)
                ck_assert_msg(strstr(msg, "WATCHDOG=1") == NULL, "got %s", msg);
        ck_assert_int_eq(pd_stop(&d), 0);
}

START_TEST(watchdog_off_without_watchdog_usec)
{
        struct pd_opts o = { .fdnames = "echo:chat:udp" };
        no_watchdog(&o);
}
END_TEST

START_TEST(watchdog_off_for_another_pid)
{
        /* WATCHDOG_USEC meant for another process (WATCHDOG_PID) is not ours. */
        struct pd_opts o = { .fdnames = "echo:chat:udp", .watchdog_usec = 400000,
                             .watchdog_pid_other = true };
        no_watchdog(&o);
}
END_TEST

/* ---- RELOADING=1, STOPPING=1 --------------------------------------------- */

START_TEST(reloading_then_ready_on_sighup)
{
        struct pd d;
        struct pd_opts o = { .fdnames = "echo:chat:udp" };
        char msg[1024], usec[32];

        start_notify(&d, NULL, &o);
        ck_assert(pd_notify_wait(&d, "READY=1", msg, sizeof(msg), 5000));
        long long t0 = clock_now_us();
        pd_signal(&d, SIGHUP);
        ck_assert(pd_notify_wait(&d, "RELOADING=1", msg, sizeof(msg), 5000));
        long long t1 = clock_now_us();
        /* MONOTONIC_USEC is the daemon's CLOCK_MONOTONIC when it began. */
        ck_assert(pd_notify_field(msg, "MONOTONIC_USEC", usec, sizeof(usec)));
        unsigned long long u = strtoull(usec, NULL, 10);
        ck_assert_uint_ge(u, (unsigned long long)t0);
        ck_assert_uint_le(u, (unsigned long long)t1);
        ck_assert(pd_notify_wait(&d, "READY=1", msg, sizeof(msg), 5000));
        ck_assert(strstr(msg, "STATUS=" IDLE_STATUS) != NULL);
        ck_assert(pd_log_wait(&d, "reloaded configuration", 1000));
        ck_assert_int_eq(pd_stop(&d), 0);
}
END_TEST

START_TEST(stopping_on_sigterm)
{
        struct pd d;
        struct pd_opts o = { .fdnames = "echo:chat:udp" };
        char msg[1024];

        start_notify(&d, NULL, &o);
        ck_assert(pd_notify_wait(&d, "READY=1", msg, sizeof(msg), 5000));
        pd_signal(&d, SIGTERM);
        ck_assert(pd_notify_wait(&d, "STOPPING=1", msg, sizeof(msg), 5000));
        ck_assert_int_eq(pd_wait_exit(&d, 5000), 0);
        pd_stop(&d);
}
END_TEST

/* ---- socket activation -------------------------------------------------- */

START_TEST(activation_by_name)
{
        /* The config names the very ports passed in: had pichatd bound
         * them itself it would have failed with "Address already in use". */
        struct pd d;
        struct pd_opts o = { .fdnames = "udp:chat:echo", .ports_in_conf = true };

        ck_assert_int_eq(pd_start_opts(&d, NULL, &o), 0);
        all_answer(&d);
        ck_assert_int_eq(pd_log_count_when(&d, "from the service manager", 3), 3);
        ck_assert_int_eq(pd_log_count(&d, "cannot listen"), 0);
        ck_assert_int_eq(pd_stop(&d), 0);
}
END_TEST

START_TEST(activation_by_type_and_port)
{
        /* No LISTEN_FDNAMES: datagram = udp, stream on [chat] port = chat,
         * other stream = echo. */
        struct pd d;
        struct pd_opts o = { .fdnames = "chat:echo:udp", .no_fdnames = true,
                             .ports_in_conf = true };

        ck_assert_int_eq(pd_start_opts(&d, NULL, &o), 0);
        all_answer(&d);
        ck_assert_int_eq(pd_log_count_when(&d, "from the service manager", 3), 3);
        ck_assert_int_eq(pd_stop(&d), 0);
}
END_TEST

START_TEST(activation_udp_socket_left_as_found)
{
        /* systemd keeps the UDP socket it passed and watches it once
         * pichatd has exited: had pichatd shut it to wake its UDP thread,
         * it would read as ready forever and systemd would start the
         * service again and again. */
        struct pd d;
        struct pd_opts o = { .fdnames = "echo:chat:udp", .keep_udp = true };
        char reply[64];

        ck_assert_int_eq(pd_start_opts(&d, NULL, &o), 0);
        ck_assert_int_ge(d.udp_fd, 0);
        ck_assert_int_gt(pd_udp_exchange(AF_INET, d.udp_port, "hi", 2, reply, sizeof(reply),
                                         5000), 0);
        long long t0 = clock_now_ms();
        kill(d.pid, SIGTERM);
        ck_assert_int_eq(pd_wait_exit(&d, 5000), 0);
        /* The UDP thread was woken, not left to its heartbeat timeout. */
        ck_assert_int_lt(clock_now_ms() - t0, 2000);

        struct pollfd p = { .fd = d.udp_fd, .events = POLLIN };
        ck_assert_int_eq(poll(&p, 1, 200), 0);
        /* And it still receives, for the next start. */
        ck_assert_int_lt(pd_udp_exchange(AF_INET, d.udp_port, "next", 4, reply, sizeof(reply),
                                         300), 0);
        ck_assert_int_eq(poll(&p, 1, 2000), 1);
        ck_assert_int_eq(recv(d.udp_fd, reply, sizeof(reply) - 1, 0), 4);
        pd_stop(&d);            /* removes the directory, closes udp_fd */
}
END_TEST

START_TEST(activation_unknown_fds_closed)
{
        /* A TCP listener under a name we do not know on a port that is not
         * ours, and an AF_UNIX socket: both logged and closed. */
        struct pd d;
        struct pd_opts o = { .fdnames = "echo:bogus:chat:unix:udp", .ports_in_conf = true };
        struct pd_client x;

        ck_assert_int_eq(pd_start_opts(&d, NULL, &o), 0);
        all_answer(&d);
        ck_assert_int_eq(pd_log_count_when(&d, "closing unknown inherited socket", 2), 2);
        ck_assert_int_eq(pd_log_count_when(&d, "name 'bogus'", 1), 1);
        ck_assert_int_eq(pd_log_count_when(&d, "name 'unix'", 1), 1);
        /* Closed in pichatd, and the harness kept no copy: nobody listens. */
        ck_assert_int_ne(pd_connect(&x, d.extra_port, AF_INET), 0);
        ck_assert_int_eq(pd_stop(&d), 0);
}
END_TEST

START_TEST(activation_disabled_service_closed)
{
        struct pd d;
        struct pd_opts o = { .fdnames = "echo:chat:udp" };
        char reply[64];

        ck_assert_int_eq(pd_start_opts(&d, "[udp]\nenabled = no\n", &o), 0);
        ck_assert(pd_log_wait(&d, "udp: disabled in the configuration, closing", 1000));
        ck_assert_int_lt(pd_udp_exchange(AF_INET, d.udp_port, "x", 1, reply, sizeof(reply),
                                         300), 0);
        ck_assert_int_eq(pd_stop(&d), 0);
}
END_TEST

START_TEST(activation_name_and_type_disagree)
{
        /* A datagram socket named chat and a TCP socket named echo that does
         * not listen: each refused with a line saying so (served, either
         * would fail at every turn of its loop), while udp, which fits its
         * name, is used. The two services bind their own ports instead. */
        struct pd d;
        struct pd_opts o = { .fdnames = "chat/dgram:udp", .no_wait = true };
        struct pd e;
        struct pd_opts oe = { .fdnames = "echo/bound:udp" };
        const char *own = "[server]\nbind = 127.0.0.1\n[echo]\nport = 0\n[chat]\nport = 0\n";

        ck_assert_int_eq(pd_start_opts(&d, own, &o), 0);
        ck_assert(pd_log_wait(&d, "started", 10000));
        ck_assert_int_eq(pd_log_count_when(&d, "chat: refusing socket ", 1), 1);
        ck_assert_int_eq(pd_log_count_when(&d, "named 'chat' but not a listening TCP socket",
                                           1), 1);
        ck_assert_int_eq(pd_log_count_when(&d, "udp: using socket", 1), 1);
        ck_assert_int_eq(pd_log_count(&d, "chat: using socket"), 0);
        ck_assert_int_eq(pd_ports_from_log(&d), 3);
        answer(&d, false);
        ck_assert_int_eq(pd_stop(&d), 0);

        ck_assert_int_eq(pd_start_opts(&e, own, &oe), 0);
        ck_assert_int_eq(pd_log_count_when(&e, "named 'echo' but not a listening TCP socket",
                                           1), 1);
        ck_assert_int_eq(pd_log_count(&e, "echo: using socket"), 0);
        ck_assert_int_eq(pd_ports_from_log(&e), 3);
        /* Nothing spins on the socket that was refused. */
        long t0 = pd_proc_cpu_ticks(e.pid);
        usleep(1000000);
        ck_assert_int_le(pd_proc_cpu_ticks(e.pid) - t0, 10);
        answer(&e, false);
        ck_assert_int_eq(pd_stop(&e), 0);
}
END_TEST

Suite *test_suite(void)
{
        Suite *s = suite_create("systemd");
        TCase *tc = tcase_create("notify");

        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, ready_after_inherited_listeners);
        tcase_add_test(tc, ready_after_own_listeners);
        tcase_add_test(tc, no_ready_when_a_listener_fails);
        tcase_add_test(tc, status_follows_clients);
        tcase_add_test(tc, status_at_most_once_a_second);
        tcase_add_test(tc, watchdog_pings_at_half_interval);
        tcase_add_test(tc, watchdog_off_without_watchdog_usec);
        tcase_add_test(tc, watchdog_off_for_another_pid);
        tcase_add_test(tc, watchdog_stops_when_accept_loop_stuck);
        tcase_add_test(tc, watchdog_stops_when_udp_loop_stuck);
        tcase_add_test(tc, reloading_then_ready_on_sighup);
        tcase_add_test(tc, stopping_on_sigterm);
        suite_add_tcase(s, tc);

        tc = tcase_create("activation");
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, activation_by_name);
        tcase_add_test(tc, activation_by_type_and_port);
        tcase_add_test(tc, activation_udp_socket_left_as_found);
        tcase_add_test(tc, activation_unknown_fds_closed);
        tcase_add_test(tc, activation_disabled_service_closed);
        tcase_add_test(tc, activation_name_and_type_disagree);
        suite_add_tcase(s, tc);
        return s;
}
