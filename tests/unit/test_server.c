/* Unit: the server (server.c) with a context built on the stack: a
 * listener on a loopback port of its own, a test service, the limits
 * that refuse a client (access lists, max_clients, max_clients_per_ip),
 * the list of connections, heartbeats, and a shutdown that wakes every
 * client and waits for it. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "server.h"
#include "harness.h"
#include "suite.h"

static atomic_int opened, closed;

static int t_open(struct conn *c)
{
        atomic_fetch_add(&opened, 1);
        return conn_say(c, "hi", 2);
}

static int t_message(struct conn *c, const char *text, size_t len)
{
        return conn_say(c, text, len);
}

static int t_too_long(struct conn *c)
{
        (void)c;
        return 0;
}

static void t_close(struct conn *c, const char *reason)
{
        (void)c;
        (void)reason;
        atomic_fetch_add(&closed, 1);
}

static const struct service test_svc = {
        .name = "test", .open = t_open, .message = t_message, .too_long = t_too_long,
        .close = t_close,
};

/* A listening socket on 127.0.0.1, any port: the fd, its port in *port. */
static int listener(unsigned *port)
{
        struct sockaddr_in sa = { .sin_family = AF_INET };
        socklen_t len = sizeof(sa);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

        ck_assert_int_ge(fd, 0);
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        ck_assert_int_eq(listen(fd, 64), 0);
        ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
        *port = ntohs(sa.sin_port);
        return fd;
}

static int dial(unsigned port)
{
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        return fd;
}

/* What arrives on fd until it holds want, the server closes, or 3 s. */
static const char *hear(int fd, const char *want)
{
        static char buf[1024];

        return pd_hear(fd, want, buf, sizeof(buf), 3000);
}

/* Wait (3 s at most) for cond, a condition on the server. */
#define WAIT_FOR(cond)                                                   \
        do {                                                             \
                int64_t end_ = clock_now_ms() + 3000;                    \
                while (!(cond) && clock_now_ms() < end_)                 \
                        usleep(10 * 1000);                               \
                ck_assert_msg(cond, "timed out waiting for " #cond);     \
        } while (0)

struct fixture {
        struct conf_store conf;
        struct server srv;
        unsigned port;
};

static void up(struct fixture *f, const char *ini)
{
        struct conf_errors errs;
        struct conf *cf = conf_load_string("test.ini", ini, &errs);

        ck_assert_ptr_nonnull(cf);
        atomic_store(&opened, 0);
        atomic_store(&closed, 0);
        conf_store_init(&f->conf, cf);
        ck_assert_int_eq(server_init(&f->srv, &f->conf), 0);
        ck_assert_int_eq(server_add_listener(&f->srv, listener(&f->port), &test_svc, NULL), 0);
        ck_assert_int_eq(server_start(&f->srv), 0);
}

static void down(struct fixture *f)
{
        ck_assert_int_eq(server_stop(&f->srv), 0);
        server_destroy(&f->srv);
        conf_store_destroy(&f->conf);
}

START_TEST(serves_and_counts)
{
        struct fixture f;
        int a, b;

        up(&f, "");
        a = dial(f.port);
        b = dial(f.port);
        ck_assert_str_eq(hear(a, "\r\n"), "hi\r\n");
        ck_assert_str_eq(hear(b, "\r\n"), "hi\r\n");
        ck_assert_uint_eq(server_clients(&f.srv), 2);
        ck_assert_uint_eq(server_clients_of(&f.srv, &test_svc), 2);
        ck_assert_int_eq(send(a, "ping\r\n", 6, 0), 6);
        ck_assert_str_eq(hear(a, "\r\n"), "ping\r\n");
        /* A client that leaves is gone from every count, and its
         * connection is freed (the leak check sees to that). */
        close(a);
        WAIT_FOR(server_clients(&f.srv) == 1);
        ck_assert_uint_eq(server_clients_of(&f.srv, &test_svc), 1);
        ck_assert_int_eq(atomic_load(&closed), 1);
        /* The accept loop shows it is alive. */
        ck_assert_int_lt(clock_now_ms() - server_oldest_beat_ms(&f.srv), PICHAT_HEARTBEAT_STALE_MS);
        close(b);
        down(&f);
}
END_TEST

/* Refused clients take the same way out as served ones: nothing held. */
START_TEST(refused_by_limits)
{
        struct fixture f;
        int a, b, c;

        up(&f, "[server]\nmax_clients = 2\nmax_clients_per_ip = 1\n");
        a = dial(f.port);
        ck_assert_str_eq(hear(a, "\r\n"), "hi\r\n");
        b = dial(f.port);
        ck_assert_str_eq(hear(b, "\r\n"), "server full, try again later\r\n");
        ck_assert_str_eq(hear(b, "never"), "");         /* and closed */
        ck_assert_uint_eq(server_clients(&f.srv), 1);
        ck_assert_int_eq(atomic_load(&opened), 1);
        close(b);
        down(&f);
        close(a);

        up(&f, "[access]\ndeny = 127.0.0.0/8\n");
        c = dial(f.port);
        ck_assert_str_eq(hear(c, "never"), "");         /* closed, not a word */
        ck_assert_int_eq(atomic_load(&opened), 0);
        ck_assert_uint_eq(server_clients(&f.srv), 0);
        close(c);
        down(&f);
}
END_TEST

/* Shutdown wakes a client asleep in its read, says goodbye, and waits
 * for its thread. */
START_TEST(stop_wakes_and_waits)
{
        struct fixture f;
        int fds[8];

        up(&f, "");
        for (int i = 0; i < 8; i++) {
                fds[i] = dial(f.port);
                ck_assert_str_eq(hear(fds[i], "\r\n"), "hi\r\n");
        }
        int64_t t0 = clock_now_ms();
        ck_assert(!server_stopping(&f.srv));
        ck_assert_int_eq(server_stop(&f.srv), 0);
        ck_assert(server_stopping(&f.srv));
        ck_assert_int_lt(clock_now_ms() - t0, PICHAT_SHUTDOWN_GRACE_MS);
        ck_assert_int_eq(atomic_load(&closed), 8);
        for (int i = 0; i < 8; i++) {
                ck_assert_str_eq(hear(fds[i], "\r\n"), "server shutting down\r\n");
                close(fds[i]);
        }
        server_destroy(&f.srv);
        conf_store_destroy(&f.conf);
}
END_TEST


/* A "listener" that is not one (a datagram socket, passed by mistake)
 * keeps accept() failing while it is readable: the loop must back off,
 * not spin, and still stop at once. */
START_TEST(failing_accept_backs_off)
{
        struct conf_errors errs;
        struct conf_store cs;
        struct server srv;
        struct sockaddr_in sa = { .sin_family = AF_INET };
        socklen_t len = sizeof(sa);
        int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        int out = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

        conf_store_init(&cs, conf_load_string("test.ini", "", &errs));
        ck_assert_int_eq(server_init(&srv, &cs), 0);
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
        ck_assert_int_eq(server_add_listener(&srv, fd, &test_svc, NULL), 0);
        ck_assert_int_eq(server_start(&srv), 0);
        /* Readable for good: a datagram nobody takes. */
        ck_assert_int_eq(sendto(out, "x", 1, 0, (struct sockaddr *)&sa, sizeof(sa)), 1);
        usleep(200 * 1000);
        long before = pd_thread_ticks("accept-test");
        usleep(1000 * 1000);
        long used = pd_thread_ticks("accept-test") - before;
        /* A spinning loop takes a whole core: sysconf(_SC_CLK_TCK) a second. */
        ck_assert_msg(used < sysconf(_SC_CLK_TCK) / 10, "%ld ticks in a second", used);
        int64_t t0 = clock_now_ms();
        ck_assert_int_eq(server_stop(&srv), 0);
        ck_assert_int_lt(clock_now_ms() - t0, 1000);
        close(out);
        server_destroy(&srv);
        conf_store_destroy(&cs);
}
END_TEST

/* A listener that does not fit is closed, not leaked; so are loops. */
START_TEST(bounded_tables)
{
        struct conf_store cs;
        struct server srv;
        int fd = -1;

        conf_store_init(&cs, NULL);
        ck_assert_int_eq(server_init(&srv, &cs), 0);
        for (int i = 0; i < SERVER_LISTENERS_MAX; i++) {
                fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
                ck_assert_int_eq(server_add_listener(&srv, fd, &test_svc, NULL), 0);
        }
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ck_assert_int_eq(server_add_listener(&srv, fd, &test_svc, NULL), -ENOSPC);
        ck_assert_int_eq(fcntl(fd, F_GETFD), -1);
        ck_assert_int_eq(errno, EBADF);
        while (server_loop_add(&srv) >= 0)
                ;
        ck_assert_uint_eq(atomic_load(&srv.n_loops), SERVER_LOOPS_MAX);
        for (unsigned i = 0; i < srv.n_listeners; i++)
                close(srv.listeners[i].fd);
        server_destroy(&srv);
        conf_store_destroy(&cs);
}
END_TEST

Suite *test_suite(void)
{
        Suite *s = suite_create("server");
        TCase *tc = tcase_create("server");

        tcase_set_timeout(tc, 30);
        tcase_add_test(tc, serves_and_counts);
        tcase_add_test(tc, refused_by_limits);
        tcase_add_test(tc, stop_wakes_and_waits);
        tcase_add_test(tc, bounded_tables);
        tcase_add_test(tc, failing_accept_backs_off);
        suite_add_tcase(s, tc);
        return s;
}
