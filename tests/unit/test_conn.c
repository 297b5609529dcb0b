/* Unit: one connection's life (conn.c) over a socketpair, with a test
 * service and a context of its own: the one teardown path (also for a
 * connection that never ran), framing of input and output, telnet
 * replies, the idle and line timeouts, shutdown, and a shared service's
 * queue written by other threads and dropped when too slow. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "conn.h"
#include "harness.h"
#include "suite.h"

/* ---- a context of the test's own ---------------------------------------- */

static struct conf_store store;
static struct conn_halt halt;
static int halt_pipe[2];
static struct conf_errors errs;

static void use_conf(const char *ini)
{
        struct conf *c = conf_load_string("test.ini", ini, &errs);

        ck_assert_ptr_nonnull(c);
        conf_set_current(&store, c);
}

static void setup(void)
{
        conf_store_init(&store, NULL);
        use_conf("");
        ck_assert_int_eq(pipe2(halt_pipe, O_CLOEXEC), 0);
        atomic_init(&halt.stopping, false);
        halt.fd = halt_pipe[0];
}

static void teardown(void)
{
        conf_store_destroy(&store);
        close(halt_pipe[0]);
        close(halt_pipe[1]);
}

static void halt_now(void)
{
        atomic_store(&halt.stopping, true);
        ck_assert_int_eq(write(halt_pipe[1], "x", 1), 1);
}

/* ---- a test service ------------------------------------------------------ */

static char got[4096];          /* every message, each followed by '|' */
static atomic_int closes;
static char close_reason[CONN_REASON_SIZE];

static int t_open(struct conn *c)
{
        return conn_say(c, "hello", 5);
}

static int t_message(struct conn *c, const char *text, size_t len)
{
        size_t n = strlen(got);

        snprintf(got + n, sizeof(got) - n, "%.*s|", (int)len, text);
        if (len == 4 && memcmp(text, "quit", 4) == 0) {
                conn_set_reason(c, "asked to");
                return SERVICE_CLOSE;
        }
        struct iovec parts[2] = { { "re:", 3 }, { (void *)text, len } };
        return c->svc->shared ? 0 : conn_sayv(c, parts, 2);
}

static int t_too_long(struct conn *c)
{
        return conn_say(c, "too long", 8);
}

static void t_close(struct conn *c, const char *reason)
{
        static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

        (void)c;
        pthread_mutex_lock(&lock);
        snprintf(close_reason, sizeof(close_reason), "%s", reason);
        pthread_mutex_unlock(&lock);
        atomic_fetch_add(&closes, 1);
}

static const struct service blocking_svc = {
        .name = "test", .open = t_open, .message = t_message, .too_long = t_too_long,
        .close = t_close,
};

static int shared_open(struct conn *c)
{
        conn_limit_output(c, 4096);
        return 0;
}

static const struct service shared_svc = {
        .name = "shared", .shared = true, .open = shared_open, .message = t_message,
        .too_long = t_too_long, .close = t_close,
};

/* ---- plumbing ------------------------------------------------------------ */

struct running {
        struct conn *c;
        pthread_t t;
        int peer;               /* the client's end */
};

static void *serve(void *arg)
{
        struct conn *c = arg;

        conn_run(c);
        return NULL;
}

static struct sockaddr_storage some_peer(void)
{
        struct sockaddr_storage ss = { 0 };
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;

        in->sin_family = AF_INET;
        in->sin_port = htons(40000);
        in->sin_addr.s_addr = htonl(0x7f000001);
        return ss;
}

static void start(struct running *r, const struct service *svc)
{
        int sv[2];
        struct sockaddr_storage ss = some_peer();

        got[0] = '\0';
        close_reason[0] = '\0';
        atomic_store(&closes, 0);
        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        r->peer = sv[1];
        r->c = conn_new(sv[0], (struct sockaddr *)&ss, svc, NULL, &store, &halt);
        ck_assert_ptr_nonnull(r->c);
        ck_assert_int_eq(pthread_create(&r->t, NULL, serve, r->c), 0);
}

/* Wait for the thread, free the connection, close our end. */
static void finish(struct running *r)
{
        pthread_join(r->t, NULL);
        conn_free(r->c);
        close(r->peer);
}

/* Everything the peer receives until it has want (or timeout_ms). */
static char *receive(int fd, const char *want, int timeout_ms)
{
        static char buf[8192];

        return (char *)pd_hear(fd, want, buf, sizeof(buf), timeout_ms);
}

static bool closed_by_server(int fd, int timeout_ms)
{
        char b[256];
        int64_t end = clock_now_ms() + timeout_ms;

        while (clock_now_ms() < end) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                if (poll(&p, 1, 50) <= 0)
                        continue;
                ssize_t k = recv(fd, b, sizeof(b), MSG_DONTWAIT);
                if (k == 0)
                        return true;
                if (k < 0)
                        return false;
        }
        return false;
}

static void say(int fd, const char *s, size_t n)
{
        ck_assert_int_eq(send(fd, s, n, MSG_NOSIGNAL), (ssize_t)n);
}

/* ---- cases --------------------------------------------------------------- */

/* A connection refused or never started goes the same way: conn_free()
 * closes its socket and gives back its configuration. */
START_TEST(free_half_built)
{
        int sv[2];
        struct sockaddr_storage ss = some_peer();
        struct conf *cf = conf_current(&store);
        unsigned refs = atomic_load(&cf->refs);

        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        struct conn *c = conn_new(sv[0], (struct sockaddr *)&ss, &shared_svc, NULL, &store,
                                  &halt);
        ck_assert_ptr_nonnull(c);
        ck_assert_str_eq(c->peer, "127.0.0.1:40000");
        ck_assert_uint_eq(atomic_load(&cf->refs), refs + 1);
        conn_refuse(c, "testing");
        conn_free(c);
        ck_assert_int_eq(fcntl(sv[0], F_GETFD), -1);
        ck_assert_int_eq(errno, EBADF);
        ck_assert_uint_eq(atomic_load(&cf->refs), refs);
        ck_assert_str_eq(receive(sv[1], "\r\n", 1000), "server full, try again later\r\n");
        ck_assert(closed_by_server(sv[1], 1000));
        close(sv[1]);
        conf_unref(cf);
        conn_free(NULL);
}
END_TEST

START_TEST(messages_and_telnet)
{
        struct running r;

        start(&r, &blocking_svc);
        ck_assert_str_eq(receive(r.peer, "\r\n", 2000), "hello\r\n");
        /* Every line end telnet clients send; a DO request refused once;
         * 0xFF doubled on the way out. */
        say(r.peer, "one\r\ntwo\nthree\r\0four\r", 21);
        ck_assert_str_eq(receive(r.peer, "re:four\r\n", 2000),
                         "re:one\r\nre:two\r\nre:three\r\nre:four\r\n");
        say(r.peer, "\xff\xfd\x01" "\xff\xfd\x01" "f\xff\xffve\r\n", 13);
        ck_assert_str_eq(receive(r.peer, "ve\r\n", 2000), "\xff\xfc\x01" "re:f\xff\xffve\r\n");
        say(r.peer, "quit\r\n", 6);
        ck_assert(closed_by_server(r.peer, 2000));
        finish(&r);
        ck_assert_str_eq(got, "one|two|three|four|f\xffve|quit|");
        ck_assert_int_eq(atomic_load(&closes), 1);
        ck_assert_str_eq(close_reason, "asked to");
}
END_TEST

START_TEST(too_long_then_on)
{
        struct running r;
        char big[100];

        use_conf("[server]\nmax_line_bytes = 16\n");
        start(&r, &blocking_svc);
        receive(r.peer, "hello\r\n", 2000);
        memset(big, 'x', sizeof(big));
        say(r.peer, big, sizeof(big));
        say(r.peer, "\r\nok\r\n", 6);
        ck_assert_str_eq(receive(r.peer, "re:ok\r\n", 2000), "too long\r\nre:ok\r\n");
        shutdown(r.peer, SHUT_WR);
        ck_assert(closed_by_server(r.peer, 2000));
        finish(&r);
        ck_assert_str_eq(got, "ok|");
        ck_assert_str_eq(close_reason, "connection closed by client");
}
END_TEST

START_TEST(idle_timeout)
{
        struct running r;
        int64_t t0 = clock_now_ms();

        use_conf("[server]\nidle_timeout_s = 1\n");
        start(&r, &blocking_svc);
        /* Telnet commands alone are no activity. */
        say(r.peer, "\xff\xf1", 2);
        ck_assert(strstr(receive(r.peer, "closing connection\r\n", 3000),
                         "idle timeout (1 s), closing connection\r\n"));
        ck_assert(closed_by_server(r.peer, 2000));
        ck_assert_int_ge(clock_now_ms() - t0, 1000);
        finish(&r);
        ck_assert_str_eq(close_reason, "idle timeout");
}
END_TEST

START_TEST(line_timeout_shared)
{
        struct running r;

        use_conf("[server]\nline_timeout_s = 1\n");
        start(&r, &shared_svc);
        say(r.peer, "never ends", 10);
        ck_assert(strstr(receive(r.peer, "closing connection\r\n", 3000),
                         "line timeout (1 s), closing connection\r\n"));
        ck_assert(closed_by_server(r.peer, 2000));
        finish(&r);
        ck_assert_str_eq(got, "");
        ck_assert_str_eq(close_reason, "line timeout");
}
END_TEST

/* Shutdown wakes a thread asleep in its read (conn_wake) and one in
 * poll (the halt fd); both say goodbye. */
START_TEST(shutdown_wakes_both_kinds)
{
        struct running a, b;

        start(&a, &blocking_svc);
        receive(a.peer, "hello\r\n", 2000);
        start(&b, &shared_svc);
        usleep(100 * 1000);
        halt_now();
        conn_wake(a.c);
        conn_wake(b.c);         /* a shared one needs none: harmless */
        ck_assert_str_eq(receive(a.peer, "\r\n", 2000), "server shutting down\r\n");
        ck_assert_str_eq(receive(b.peer, "\r\n", 2000), "server shutting down\r\n");
        finish(&a);
        finish(&b);
        ck_assert_int_eq(atomic_load(&closes), 2);
        ck_assert_str_eq(close_reason, "server shutting down");
}
END_TEST

/* Other threads give a shared service's client lines through its queue;
 * one that does not read is dropped once the queue is full. */
START_TEST(shared_queue_written_and_too_slow)
{
        struct running r;
        char buf[4096 + 16];

        start(&r, &shared_svc);
        usleep(50 * 1000);      /* the queue is sized in open() */
        for (int i = 0; i < 3; i++) {
                struct msg *m = msg_new("line %d", i);
                ck_assert_int_eq(msg_queue_push(conn_queue(r.c), m, NULL), 0);
                msg_unref(m);
        }
        ck_assert_str_eq(receive(r.peer, "line 2\r\n", 2000), "line 0\r\nline 1\r\nline 2\r\n");

        /* Now stop reading: the kernel's buffers fill, then the queue. */
        memset(buf, 'z', sizeof(buf) - 1);
        buf[sizeof(buf) - 1] = '\0';
        int overflowed = 0;
        for (int i = 0; i < 10000 && !overflowed; i++) {
                struct msg *m = msg_new("%.1000s", buf);
                overflowed = msg_queue_push(conn_queue(r.c), m, NULL) == MSG_QUEUE_OVERFLOW;
                msg_unref(m);
                if (i % 16 == 0)
                        usleep(1000);
        }
        ck_assert(overflowed);
        pthread_join(r.t, NULL);
        ck_assert_str_eq(close_reason, "too slow");
        conn_free(r.c);
        close(r.peer);
}
END_TEST

Suite *test_suite(void)
{
        Suite *s = suite_create("conn");
        TCase *tc = tcase_create("conn");

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 30);
        tcase_add_test(tc, free_half_built);
        tcase_add_test(tc, messages_and_telnet);
        tcase_add_test(tc, too_long_then_on);
        tcase_add_test(tc, idle_timeout);
        tcase_add_test(tc, line_timeout_shared);
        tcase_add_test(tc, shutdown_wakes_both_kinds);
        tcase_add_test(tc, shared_queue_written_and_too_slow);
        suite_add_tcase(s, tc);
        return s;
}
