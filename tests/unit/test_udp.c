/* Unit: the UDP echo service (udp.c) with a server and its own state on
 * the stack: answers, the per-source rate, the access lists, the count of
 * answers, a socket that cannot be served (closed, not leaked), and a
 * shutdown that wakes the loop by signal, leaving the socket as it was.
 * The served sockets are bound to an address of their own on the loopback
 * (FIXTURE_ADDR), not 127.0.0.1: another test running meanwhile that
 * probes a port it let go of on 127.0.0.1 can never reach them and bump a
 * count asserted here. */
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

#include "answer.h"
#include "clock.h"
#include "harness.h"
#include "suite.h"
#include "udp.h"

#define FIXTURE_ADDR "127.0.82.1"

/* A numeric address into ss: its length, or 0. */
static socklen_t pd_parse(const char *ip, struct sockaddr_storage *ss)
{
        socklen_t len;

        return addr_parse(ip, 9, ss, &len) == 0 ? len : 0;
}

struct fixture {
        struct conf_store conf;
        struct server srv;
        struct udp udp;
        int fd;                 /* our copy of the served socket, as systemd keeps one */
        unsigned port;
};

static void up(struct fixture *f, const char *ini)
{
        struct conf_errors errs;
        struct conf *cf = conf_load_string("test.ini", ini, &errs);
        struct sockaddr_in sa = { .sin_family = AF_INET };
        socklen_t len = sizeof(sa);

        ck_assert_ptr_nonnull(cf);
        conf_store_init(&f->conf, cf);
        ck_assert_int_eq(server_init(&f->srv, &f->conf), 0);
        ck_assert_int_eq(udp_init(&f->udp, &f->srv, &f->conf), 0);
        f->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        inet_pton(AF_INET, FIXTURE_ADDR, &sa.sin_addr);
        ck_assert_int_eq(bind(f->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        ck_assert_int_eq(getsockname(f->fd, (struct sockaddr *)&sa, &len), 0);
        f->port = ntohs(sa.sin_port);
        ck_assert_int_eq(udp_start(&f->udp, fcntl(f->fd, F_DUPFD_CLOEXEC, 0)), 0);
}

static void down(struct fixture *f)
{
        int64_t t0 = clock_now_ms();

        ck_assert_int_eq(server_stop(&f->srv), 0);
        /* Woken by the signal, not by the heartbeat's read timeout. */
        ck_assert_int_lt(clock_now_ms() - t0, PICHAT_HEARTBEAT_MS);
        udp_destroy(&f->udp);
        server_destroy(&f->srv);
        conf_store_destroy(&f->conf);
        /* Left as found: neither readable nor dead. */
        struct pollfd p = { .fd = f->fd, .events = POLLIN };
        ck_assert_int_eq(poll(&p, 1, 0), 0);
        close(f->fd);
}

/* Send text from a fresh socket on src (127.0.0.x) and wait 300 ms for
 * the reply: its length (reply NUL-terminated), or -1. */
static int ask(const struct fixture *f, const char *src, const char *text, char *reply,
               size_t size)
{
        struct sockaddr_in from = { .sin_family = AF_INET }, to = { .sin_family = AF_INET };
        int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        struct pollfd p = { .fd = fd, .events = POLLIN };
        int n = -1;

        inet_pton(AF_INET, src, &from.sin_addr);
        ck_assert_int_eq(bind(fd, (struct sockaddr *)&from, sizeof(from)), 0);
        inet_pton(AF_INET, FIXTURE_ADDR, &to.sin_addr);
        to.sin_port = htons((uint16_t)f->port);
        ck_assert_int_eq(sendto(fd, text, strlen(text), 0, (struct sockaddr *)&to, sizeof(to)),
                         (ssize_t)strlen(text));
        struct sockaddr_in by;
        socklen_t blen = sizeof(by);
        if (poll(&p, 1, 300) == 1 &&
            (n = (int)recvfrom(fd, reply, size - 1, 0, (struct sockaddr *)&by, &blen)) >= 0) {
                reply[n] = '\0';
                /* From the address it was sent to (the socket is bound to
                 * it, so no packet info is asked for). */
                ck_assert_int_eq(by.sin_addr.s_addr, to.sin_addr.s_addr);
                ck_assert_int_eq(by.sin_port, to.sin_port);
        }
        close(fd);
        return n;
}

/* n datagrams from one socket on src at once: how many were answered. */
static int burst(const struct fixture *f, const char *src, int n)
{
        struct sockaddr_in from = { .sin_family = AF_INET }, to = { .sin_family = AF_INET };
        int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), got = 0;
        char reply[64];

        inet_pton(AF_INET, src, &from.sin_addr);
        ck_assert_int_eq(bind(fd, (struct sockaddr *)&from, sizeof(from)), 0);
        inet_pton(AF_INET, FIXTURE_ADDR, &to.sin_addr);
        to.sin_port = htons((uint16_t)f->port);
        for (int i = 0; i < n; i++)
                ck_assert_int_eq(sendto(fd, "x", 1, 0, (struct sockaddr *)&to, sizeof(to)), 1);
        for (struct pollfd p = { .fd = fd, .events = POLLIN }; poll(&p, 1, 300) == 1;)
                got += recv(fd, reply, sizeof(reply), 0) > 0;
        close(fd);
        return got;
}

/* The count is bumped once the replies are sent: wait for it. */
static unsigned long answered(struct fixture *f, unsigned long want)
{
        int64_t end = clock_now_ms() + 2000;

        while (udp_answered(&f->udp) != want && clock_now_ms() < end)
                usleep(5 * 1000);
        return udp_answered(&f->udp);
}

START_TEST(answers_and_counts)
{
        struct fixture f;
        char reply[128];

        up(&f, "[udp]\nprefix = ok:\n");
        ck_assert_int_eq(ask(&f, "127.0.0.1", "hi", reply, sizeof(reply)), 5);
        ck_assert_str_eq(reply, "ok:hi");
        ck_assert_int_eq(ask(&f, "127.0.0.1", "again", reply, sizeof(reply)), 8);
        ck_assert_uint_eq(answered(&f, 2), 2);
        ck_assert_int_lt(clock_now_ms() - server_oldest_beat_ms(&f.srv), PICHAT_HEARTBEAT_STALE_MS);
        down(&f);
}
END_TEST

START_TEST(rate_per_source)
{
        struct fixture f;
        up(&f, "[udp]\nrate_per_source = 3\n");
        ck_assert_int_eq(burst(&f, "127.0.0.2", 6), 3);
        /* Another source has a rate of its own. */
        ck_assert_int_eq(burst(&f, "127.0.0.3", 2), 2);
        down(&f);
}
END_TEST

START_TEST(access_lists)
{
        struct fixture f;
        char reply[128];

        up(&f, "[access]\ndeny = 127.0.0.4\n");
        ck_assert_int_eq(ask(&f, "127.0.0.4", "x", reply, sizeof(reply)), -1);
        ck_assert_int_gt(ask(&f, "127.0.0.5", "x", reply, sizeof(reply)), 0);
        ck_assert_uint_eq(answered(&f, 1), 1);
        down(&f);
}
END_TEST


/* A socket that is not a datagram socket (a listening TCP socket, passed
 * by mistake) fails every receive: the loop backs off, not spins. */
START_TEST(failing_receive_backs_off)
{
        struct conf_store cs;
        struct conf_errors errs;
        struct server srv;
        struct udp u;
        struct sockaddr_in sa = { .sin_family = AF_INET };
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        conf_store_init(&cs, conf_load_string("test.ini", "", &errs));
        ck_assert_int_eq(server_init(&srv, &cs), 0);
        ck_assert_int_eq(udp_init(&u, &srv, &cs), 0);
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        ck_assert_int_eq(listen(fd, 4), 0);
        ck_assert_int_eq(udp_start(&u, fd), 0);
        usleep(200 * 1000);
        long before = pd_thread_ticks("udp");
        usleep(1000 * 1000);
        long used = pd_thread_ticks("udp") - before;
        ck_assert_msg(used < sysconf(_SC_CLK_TCK) / 10, "%ld ticks in a second", used);
        ck_assert_int_eq(server_stop(&srv), 0);
        udp_destroy(&u);
        server_destroy(&srv);
        conf_store_destroy(&cs);
}
END_TEST

/* What cannot be served is closed, not leaked. */
START_TEST(bad_socket_closed)
{
        struct conf_store cs;
        struct server srv;
        struct udp u;
        int p[2];

        conf_store_init(&cs, NULL);
        ck_assert_int_eq(server_init(&srv, &cs), 0);
        ck_assert_int_eq(udp_init(&u, &srv, &cs), 0);
        ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
        ck_assert_int_lt(udp_start(&u, p[0]), 0);
        ck_assert_int_eq(fcntl(p[0], F_GETFD), -1);
        ck_assert_int_eq(errno, EBADF);
        close(p[1]);
        udp_destroy(&u);
        server_destroy(&srv);
        conf_store_destroy(&cs);
}
END_TEST

/* Sources and destinations no single peer has are never answered. */
START_TEST(refused_addresses)
{
        static const char *const refused[] = {
                "0.1.2.3", "255.1.2.3", "255.255.255.255", "224.0.0.1", "239.9.9.9",
                "::ffff:224.0.0.1", "ff02::1", "::",
        };
        static const char *const fine[] = { "127.0.0.1", "192.0.2.1", "2001:db8::1", "::1" };
        struct fixture f;
        struct sockaddr_storage ss, ok;

        up(&f, "");
        ck_assert_uint_gt(pd_parse(fine[0], &ok), 0);
        for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
                ck_assert_uint_gt(pd_parse(refused[i], &ss), 0);
                ck_assert_msg(udp_addr_refused(&f.udp, (struct sockaddr *)&ss, NULL), "%s",
                              refused[i]);
                /* As a destination too. */
                ck_assert(udp_addr_refused(&f.udp, (struct sockaddr *)&ok, (struct sockaddr *)&ss));
        }
        for (size_t i = 0; i < sizeof(fine) / sizeof(fine[0]); i++) {
                ck_assert_uint_gt(pd_parse(fine[i], &ss), 0);
                ck_assert_msg(!udp_addr_refused(&f.udp, (struct sockaddr *)&ss, NULL), "%s", fine[i]);
        }
        down(&f);
}
END_TEST

/* A service that answers once, on a socket beside the echo's: it answers
 * any datagram, but never one from a port this server answers on (the
 * echo's here: another service's answer, the first step of a loop), and
 * its answers are its own count, not the echo's. */
START_TEST(answer_service_beside_echo)
{
        struct fixture f;
        struct answer a;
        struct sockaddr_in sa = { .sin_family = AF_INET };
        socklen_t len = sizeof(sa);
        char reply[128];

        up(&f, "[daytime]\nformat = ctime\n");
        answer_init(&a);
        int b = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        inet_pton(AF_INET, FIXTURE_ADDR, &sa.sin_addr);
        ck_assert_int_eq(bind(b, (struct sockaddr *)&sa, sizeof(sa)), 0);
        ck_assert_int_eq(getsockname(b, (struct sockaddr *)&sa, &len), 0);
        ck_assert_int_eq(udp_start_service(&f.udp, b, &daytime_service, &a), 0);
        ck_assert(udp_port_ours(&f.udp, f.port));
        ck_assert(udp_port_ours(&f.udp, ntohs(sa.sin_port)));

        /* From the echo's own port (our copy of its socket). */
        ck_assert_int_eq(sendto(f.fd, "", 0, 0, (struct sockaddr *)&sa, sizeof(sa)), 0);
        usleep(300 * 1000);
        ck_assert_uint_eq(answer_requests(&a), 0);

        /* From anyone else (ask() sends to f.port: the daytime one now). */
        unsigned echo_port = f.port;
        f.port = ntohs(sa.sin_port);
        ck_assert_int_eq(ask(&f, "127.0.0.1", "", reply, sizeof(reply)), 26);
        f.port = echo_port;
        ck_assert_str_eq(reply + 24, "\r\n");
        ck_assert_uint_eq(atomic_load(&a.udp), 1);
        ck_assert_uint_eq(atomic_load(&a.tcp), 0);
        ck_assert_uint_eq(udp_answered(&f.udp), 0);
        ck_assert(!udp_port_ours(&f.udp, 9));
        down(&f);
}
END_TEST

Suite *test_suite(void)
{
        Suite *s = suite_create("udp");
        TCase *tc = tcase_create("udp");

        tcase_set_timeout(tc, 30);
        tcase_add_test(tc, answers_and_counts);
        tcase_add_test(tc, rate_per_source);
        tcase_add_test(tc, access_lists);
        tcase_add_test(tc, bad_socket_closed);
        tcase_add_test(tc, failing_receive_backs_off);
        tcase_add_test(tc, refused_addresses);
        tcase_add_test(tc, answer_service_beside_echo);
        suite_add_tcase(s, tc);
        return s;
}
