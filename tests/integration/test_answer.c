/* Integration: the services that answer once (daytime, time, qotd) in the
 * real pichatd, asked by real clients: the classic samples' Python 3
 * clients, Debian's rdate and nc, and the test's own sockets. What they
 * answer over TCP and UDP, that no client gets a thread or can stall one,
 * the UDP echo's protections shared (rates, refused ports, [access]),
 * the quotes file (oversize quotes, an empty file, reloads), the status
 * line and the log's counts, socket activation by name and by port, and
 * the "cannot listen" error of a start by hand. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "answer.h"
#include "bounds.h"
#include "clock.h"
#include "harness.h"
#include "quotes.h"
#include "suite.h"

/* Every listener of the three, named as their socket units name them. */
#define ANSWER_FDS "daytime:daytime/udp:time:time/udp:qotd:qotd/udp"
/* The services under test alone: no fixed port is bound by pichatd. */
#define ONLY_ANSWERS "[echo]\nenabled = no\n[chat]\nenabled = no\n[udp]\nenabled = no\n"
#define DEFAULT_FORMAT "%A, %B %-d, %Y %H:%M:%S %Z"

static struct pd d;
static char ini[2048];

static const char *quotes_path(void)
{
        const char *p = getenv("PICHAT_QUOTES");

        ck_assert_msg(p && *p, "PICHAT_QUOTES is not set (run through meson test)");
        return p;
}

/* The daytime lines are compared with the local time: make it UTC, for
 * pichatd (which inherits it) and for the clients alike. */
static void utc(void)
{
        setenv("TZ", "UTC", 1);
        tzset();
}

/* Whether the log has n lines with needle within timeout_ms. */
static bool log_count_wait(const char *needle, int n, int timeout_ms)
{
        int64_t end = clock_now_ms() + timeout_ms;

        while (pd_log_count(&d, needle) < n && clock_now_ms() < end)
                usleep(10 * 1000);
        return pd_log_count(&d, needle) == n;
}

/* Start pichatd with the three services on (and extra after them). */
static void start_answers(const char *extra, const char *fdnames)
{
        utc();
        snprintf(ini, sizeof(ini), ONLY_ANSWERS "[daytime]\nenabled = yes\n[time]\nenabled = yes\n"
                 "[qotd]\nenabled = yes\nfile = %s\n%s", quotes_path(), extra ? extra : "");
        ck_assert_int_eq(pd_start_with(&d, ini, fdnames ? fdnames : ANSWER_FDS), 0);
}

/* What a TCP connection to port gets until the server closes it: the
 * length (buf NUL-terminated), or -1 when it did not close within
 * timeout_ms. */
static int tcp_fetch(unsigned port, int family, char *buf, size_t size, int timeout_ms)
{
        struct pd_client c;
        size_t n = 0;
        int64_t end = clock_now_ms() + timeout_ms;

        ck_assert_int_eq(pd_connect(&c, port, family), 0);
        for (;;) {
                struct pollfd p = { .fd = c.fd, .events = POLLIN };
                int64_t left = end - clock_now_ms();
                if (left <= 0 || poll(&p, 1, (int)left) <= 0) {
                        pd_close(&c);
                        return -1;
                }
                ssize_t k = recv(c.fd, buf + n, size - 1 - n, 0);
                if (k <= 0)
                        break;
                n += (size_t)k;
        }
        pd_close(&c);
        buf[n] = '\0';
        return (int)n;
}

/* Whether text is t formatted with format (strftime, UTC) for a t within
 * slack seconds of now. The formats are the test's own. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static bool is_now(const char *text, const char *format, int slack)
{
        time_t now = time(NULL);

        for (time_t t = now - slack; t <= now + slack; t++) {
                char want[256];
                struct tm tm;
                localtime_r(&t, &tm);
                strftime(want, sizeof(want), format, &tm);
                if (strcmp(text, want) == 0)
                        return true;
        }
        fprintf(stderr, "'%s' is not the time now as '%s'\n", text, format);
        return false;
}
#pragma GCC diagnostic pop

static bool is_time_now(const uint8_t *b, int slack)
{
        uint32_t v = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
        int64_t diff = (int64_t)v - (int64_t)answer_time_value((int64_t)time(NULL));

        return diff >= -slack && diff <= slack;
}

/* Whether the n bytes at p are one of the file's quotes. */
static bool is_quote(const char *path, const char *p, size_t n)
{
        struct quotes *q = NULL;
        bool found = false;

        ck_assert_int_eq(quotes_load(path, PICHAT_QOTD_FILE_MAX, PICHAT_ANSWER_MAX, &q), 0);
        for (size_t i = 0; i < q->n && !found; i++) {
                size_t len;
                const char *text = quotes_get(q, i, &len);
                found = len == n && memcmp(text, p, n) == 0;
        }
        quotes_free(q);
        if (!found)
                fprintf(stderr, "not a quote of %s: '%.*s'\n", path, (int)n, p);
        return found;
}

/* A command's output (stdout and stderr), run by sh under a timeout: its
 * exit status. */
static int run_cmd(const char *cmd, char *out, size_t size)
{
        char full[1024];
        size_t n = 0;

        snprintf(full, sizeof(full), "timeout 10 sh -c '%s' 2>&1", cmd);
        FILE *f = popen(full, "r");
        ck_assert_ptr_nonnull(f);
        while (n + 1 < size) {
                size_t k = fread(out + n, 1, size - 1 - n, f);
                if (k == 0)
                        break;
                n += k;
        }
        out[n] = '\0';
        int st = pclose(f);
        fprintf(stderr, "$ %s\n%s(exit %d)\n", cmd, out, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
        return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static const char *classic(const char *script)
{
        static char path[512];
        const char *dir = getenv("PICHAT_CLASSIC");

        ck_assert_msg(dir && *dir, "PICHAT_CLASSIC is not set (run through meson test)");
        snprintf(path, sizeof(path), "%s/%s", dir, script);
        return path;
}

static const char *rdate(void)
{
        /* In /usr/sbin, which an ordinary user's PATH may lack. */
        return access("/usr/sbin/rdate", X_OK) == 0 ? "/usr/sbin/rdate" : "rdate";
}

/* ---- what they answer --------------------------------------------------- */

START_TEST(tcp_answers_then_closes)
{
        char buf[1024];
        int n;

        start_answers(NULL, NULL);
        for (int family = AF_INET; family; family = family == AF_INET ? AF_INET6 : 0) {
                /* daytime: one line, CR LF, the time now, then the close. */
                n = tcp_fetch(d.daytime_port, family, buf, sizeof(buf), 2000);
                ck_assert_int_gt(n, 2);
                ck_assert_str_eq(buf + n - 2, "\r\n");
                buf[n - 2] = '\0';
                ck_assert(is_now(buf, DEFAULT_FORMAT, 2));
                /* time: exactly 4 bytes. */
                n = tcp_fetch(d.time_port, family, buf, sizeof(buf), 2000);
                ck_assert_int_eq(n, 4);
                ck_assert(is_time_now((uint8_t *)buf, 2));
                /* qotd: one quote of the file, whole. */
                n = tcp_fetch(d.qotd_port, family, buf, sizeof(buf), 2000);
                ck_assert_int_gt(n, 0);
                ck_assert_int_le(n, PICHAT_ANSWER_MAX);
                ck_assert(is_quote(quotes_path(), buf, (size_t)n));
        }
        ck_assert(pd_log_wait(&d, "daytime: answered 127.0.0.1:", 2000));
        ck_assert(pd_log_wait(&d, "qotd: answered [::1]:", 2000));
        ck_assert_int_eq(pd_log_count(&d, " time: answered"), 2);
        struct quotes *q = NULL;
        char want[256];
        ck_assert_int_eq(quotes_load(quotes_path(), PICHAT_QOTD_FILE_MAX, PICHAT_ANSWER_MAX, &q),
                         0);
        snprintf(want, sizeof(want), "qotd: %zu quotes from %s", q->n, quotes_path());
        quotes_free(q);
        ck_assert(pd_log_wait(&d, want, 100));
        ck_assert_int_eq(pd_stop(&d), 0);
}
END_TEST

START_TEST(udp_answers)
{
        char buf[2048];
        int n;

        start_answers(NULL, NULL);
        /* Whatever a datagram holds (nothing, a line typed into nc), the
         * answer is the same, and never more than 511 bytes. */
        static const char *const asks[] = { "", "what time is it?\n" };
        for (size_t i = 0; i < 2; i++) {
                size_t len = strlen(asks[i]);
                n = pd_udp_exchange(AF_INET, d.daytime_udp_port, asks[i], len, buf, sizeof(buf),
                                    3000);
                ck_assert_int_gt(n, 2);
                ck_assert_str_eq(buf + n - 2, "\r\n");
                buf[n - 2] = '\0';
                ck_assert(is_now(buf, DEFAULT_FORMAT, 2));
                n = pd_udp_exchange(AF_INET6, d.time_udp_port, asks[i], len, buf, sizeof(buf),
                                    3000);
                ck_assert_int_eq(n, 4);
                ck_assert(is_time_now((uint8_t *)buf, 2));
                for (int k = 0; k < 20; k++) {
                        n = pd_udp_exchange(AF_INET, d.qotd_udp_port, asks[i], len, buf,
                                            sizeof(buf), 3000);
                        ck_assert_int_gt(n, 0);
                        ck_assert_int_le(n, PICHAT_ANSWER_MAX);
                        ck_assert(is_quote(quotes_path(), buf, (size_t)n));
                }
        }
        /* A datagram of the largest size gets the same small answer. */
        char *big = calloc(1, 65507);
        n = pd_udp_exchange(AF_INET, d.time_udp_port, big, 65507, buf, sizeof(buf), 3000);
        free(big);
        ck_assert_int_eq(n, 4);
        ck_assert_int_eq(pd_stop(&d), 0);
}
END_TEST

/* The classic samples' own clients print what they should. */
START_TEST(classic_clients)
{
        char cmd[768], out[4096];

        /* The time server's client asks for time.ctime() + CR LF, which
         * is the daytime service with format = ctime. */
        start_answers("[daytime]\nformat = ctime\n", NULL);
        snprintf(cmd, sizeof(cmd), "python3 %s 127.0.0.1 %u", classic("time_client.py"),
                 d.daytime_port);
        ck_assert_int_eq(run_cmd(cmd, out, sizeof(out)), 0);
        /* print(' Current time from Sever :', tm.decode()): the line with
         * its CR LF, and print's own line end. */
        ck_assert_uint_eq(strlen(out), strlen(" Current time from Sever : ") + 24 + 3);
        ck_assert_mem_eq(out, " Current time from Sever : ", 27);
        ck_assert_str_eq(out + 27 + 24, "\r\n\n");
        out[27 + 24] = '\0';
        ck_assert(is_now(out + 27, "%a %b %e %H:%M:%S %Y", 2));

        snprintf(cmd, sizeof(cmd), "python3 %s 127.0.0.1 %u", classic("daytime_client.py"),
                 d.daytime_port);
        ck_assert_int_eq(run_cmd(cmd, out, sizeof(out)), 0);
        ck_assert_uint_eq(strlen(out), 24 + 3);
        out[24] = '\0';
        ck_assert(is_now(out, "%a %b %e %H:%M:%S %Y", 2));

        /* The QOTD client's empty datagram gets a quote. */
        snprintf(cmd, sizeof(cmd), "python3 %s 127.0.0.1 %u", classic("qotd_client.py"),
                 d.qotd_udp_port);
        ck_assert_int_eq(run_cmd(cmd, out, sizeof(out)), 0);
        size_t n = strlen(out);
        ck_assert_uint_gt(n, 3);
        ck_assert_str_eq(out + n - 1, "\n");
        ck_assert(is_quote(quotes_path(), out, n - 1));
        ck_assert_int_eq(pd_stop(&d), 0);

        /* The default format through the daytime client. */
        start_answers(NULL, NULL);
        snprintf(cmd, sizeof(cmd), "python3 %s 127.0.0.1 %u", classic("daytime_client.py"),
                 d.daytime_port);
        ck_assert_int_eq(run_cmd(cmd, out, sizeof(out)), 0);
        n = strlen(out);
        ck_assert_uint_gt(n, 3);
        ck_assert_str_eq(out + n - 3, "\r\n\n");
        out[n - 3] = '\0';
        ck_assert(is_now(out, DEFAULT_FORMAT, 2));
        ck_assert_int_eq(pd_stop(&d), 0);
}
END_TEST

/* Debian's rdate, the RFC 868 client, over TCP and UDP. */
START_TEST(rdate_prints_the_time)
{
        char cmd[256], out[1024];

        start_answers(NULL, NULL);
        snprintf(cmd, sizeof(cmd), "TZ=UTC %s -p -o %u 127.0.0.1", rdate(), d.time_port);
        ck_assert_int_eq(run_cmd(cmd, out, sizeof(out)), 0);
        out[strcspn(out, "\n")] = '\0';
        /* It prints ctime() of what it got, with the zone. */
        ck_assert(is_now(out, "%a %b %e %H:%M:%S UTC %Y", 2));
        snprintf(cmd, sizeof(cmd), "TZ=UTC %s -u -p -o %u 127.0.0.1", rdate(), d.time_udp_port);
        ck_assert_int_eq(run_cmd(cmd, out, sizeof(out)), 0);
        out[strcspn(out, "\n")] = '\0';
        ck_assert(is_now(out, "%a %b %e %H:%M:%S UTC %Y", 2));
        snprintf(cmd, sizeof(cmd), "TZ=UTC %s -6 -p -o %u ::1", rdate(), d.time_port);
        ck_assert_int_eq(run_cmd(cmd, out, sizeof(out)), 0);
        out[strcspn(out, "\n")] = '\0';
        ck_assert(is_now(out, "%a %b %e %H:%M:%S UTC %Y", 2));
        ck_assert_int_eq(pd_stop(&d), 0);
}
END_TEST

/* nc, over TCP and UDP, as a user tries it. */
START_TEST(nc_asks)
{
        char cmd[256], out[2048];
        size_t n;

        start_answers(NULL, NULL);
        snprintf(cmd, sizeof(cmd), "echo | nc -u -w 1 127.0.0.1 %u", d.daytime_udp_port);
        ck_assert_int_eq(run_cmd(cmd, out, sizeof(out)), 0);
        n = strlen(out);
        ck_assert_uint_gt(n, 2);
        ck_assert_str_eq(out + n - 2, "\r\n");
        out[n - 2] = '\0';
        ck_assert(is_now(out, DEFAULT_FORMAT, 3));
        snprintf(cmd, sizeof(cmd), "echo hello | nc -u -w 1 127.0.0.1 %u", d.qotd_udp_port);
        ck_assert_int_eq(run_cmd(cmd, out, sizeof(out)), 0);
        ck_assert(is_quote(quotes_path(), out, strlen(out)));
        snprintf(cmd, sizeof(cmd), "nc -N 127.0.0.1 %u </dev/null", d.qotd_port);
        ck_assert_int_eq(run_cmd(cmd, out, sizeof(out)), 0);
        ck_assert(is_quote(quotes_path(), out, strlen(out)));
        /* Typing at a TCP daytime service changes nothing: the answer and
         * the close come at once. */
        snprintf(cmd, sizeof(cmd), "printf \"hi\\r\\n\" | nc 127.0.0.1 %u", d.daytime_port);
        ck_assert_int_eq(run_cmd(cmd, out, sizeof(out)), 0);
        n = strlen(out);
        ck_assert_uint_gt(n, 2);
        out[n - 2] = '\0';
        ck_assert(is_now(out, DEFAULT_FORMAT, 3));
        ck_assert_int_eq(pd_stop(&d), 0);
}
END_TEST

/* ---- nobody can stall them ---------------------------------------------- */

/* Clients that connect and never read, or send and never read: no thread
 * is spent on any, and the next client is answered at once. */
START_TEST(never_read_stalls_nothing)
{
        enum { IDLE = 400 };
        static struct pd_client idle[IDLE];
        char buf[1024], junk[4096];
        long base, most = 0;

        start_answers(NULL, NULL);
        base = pd_proc_threads(d.pid);
        memset(junk, 'j', sizeof(junk));
        int64_t t0 = clock_now_ms();
        for (int i = 0; i < IDLE; i++) {
                unsigned port = i % 3 == 0 ? d.qotd_port : i % 3 == 1 ? d.daytime_port : d.time_port;
                ck_assert_int_eq(pd_connect_rcvbuf(&idle[i], port, AF_INET, 1024), 0);
                /* Every other one also sends what it never gets to say. */
                if (i % 2)
                        send(idle[i].fd, junk, sizeof(junk), MSG_DONTWAIT | MSG_NOSIGNAL);
                if (i % 50 == 0) {
                        long t = pd_proc_threads(d.pid);
                        most = t > most ? t : most;
                }
        }
        int64_t connected = clock_now_ms() - t0;
        t0 = clock_now_ms();
        int n = tcp_fetch(d.qotd_port, AF_INET, buf, sizeof(buf), 2000);
        int64_t answered = clock_now_ms() - t0;
        ck_assert_int_gt(n, 0);
        ck_assert(is_quote(quotes_path(), buf, (size_t)n));
        printf("%d clients that never read connected in %lld ms; pichatd threads %ld, at most "
               "%ld meanwhile; the next client answered in %lld ms\n", IDLE,
               (long long)connected, base, most, (long long)answered);
        ck_assert_int_eq(most, base);
        ck_assert_int_lt(answered, 500);
        for (int i = 0; i < IDLE; i++)
                pd_close(&idle[i]);
        ck_assert_int_eq(pd_proc_threads(d.pid), base);
        ck_assert_int_eq(pd_stop(&d), 0);
}
END_TEST

/* ---- the UDP echo's protections, shared --------------------------------- */

/* Datagrams from the addresses srcs[0 .. nsrc-1], each sending count
 * datagrams to each of ports[0 .. nports-1], all sent before any answer
 * is read: how many answers come within wait_ms. */
static int answered_from(const char *const srcs[], int nsrc, const unsigned ports[], int nports,
                         int count, int wait_ms)
{
        int fds[16], total = 0;
        char buf[1024];

        ck_assert_int_le(nsrc, 16);
        for (int s = 0; s < nsrc; s++) {
                struct sockaddr_storage me, to;
                socklen_t ml = pd_sockaddr(srcs[s], 0, &me);
                fds[s] = socket(me.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
                ck_assert_int_ge(fds[s], 0);
                ck_assert_int_eq(bind(fds[s], (struct sockaddr *)&me, ml), 0);
                for (int i = 0; i < count; i++)
                        for (int p = 0; p < nports; p++) {
                                socklen_t tl = pd_sockaddr("127.0.0.1", ports[p], &to);
                                ck_assert_int_eq(sendto(fds[s], "", 0, 0, (struct sockaddr *)&to,
                                                        tl), 0);
                        }
        }
        int64_t end = clock_now_ms() + wait_ms;
        for (;;) {
                struct pollfd p[16];
                int64_t left = end - clock_now_ms();
                for (int s = 0; s < nsrc; s++)
                        p[s] = (struct pollfd){ .fd = fds[s], .events = POLLIN };
                if (left <= 0 || poll(p, (nfds_t)nsrc, (int)left) <= 0)
                        break;
                for (int s = 0; s < nsrc; s++)
                        if (p[s].revents && recv(fds[s], buf, sizeof(buf), 0) >= 0)
                                total++;
        }
        for (int s = 0; s < nsrc; s++)
                close(fds[s]);
        return total;
}

START_TEST(udp_rate_shared_with_echo)
{
        static const char *const one[] = { "127.0.0.1" }, *const two[] = { "127.0.0.2" };

        start_answers("[udp]\nenabled = yes\nrate_per_source = 3\nrate_total = 0\n",
                      ANSWER_FDS ":udp");
        /* 10 datagrams to each of qotd, daytime, time and the echo from
         * one address, at once: its 3, for all of them together (and what
         * the rate gives back meanwhile), never 3 each. */
        const unsigned all[] = { d.qotd_udp_port, d.daytime_udp_port, d.time_udp_port,
                                 d.udp_port };
        int total = answered_from(one, 1, all, 4, 10, 500);
        printf("rate_per_source 3: %d of 40 datagrams to 4 UDP services from one address "
               "answered\n", total);
        ck_assert_int_ge(total, 3);
        ck_assert_int_le(total, 5);
        ck_assert(pd_log_wait(&d, "sends over rate_per_source (3/s)", 2000));
        /* Another address has its own. */
        total = answered_from(two, 1, all, 1, 10, 500);
        ck_assert_int_ge(total, 3);
        ck_assert_int_le(total, 5);
        /* A second later the first has its allowance back. */
        usleep(1200 * 1000);
        ck_assert_int_eq(answered_from(one, 1, all + 2, 1, 3, 500), 3);
        ck_assert_int_eq(pd_stop(&d), 0);

        /* rate_total: 10 addresses together get 3 (and the refill). */
        start_answers("[udp]\nrate_per_source = 0\nrate_total = 3\n", NULL);
        static const char *const ten[] = { "127.0.0.10", "127.0.0.11", "127.0.0.12",
                                           "127.0.0.13", "127.0.0.14", "127.0.0.15",
                                           "127.0.0.16", "127.0.0.17", "127.0.0.18",
                                           "127.0.0.19" };
        const unsigned daytime[] = { d.daytime_udp_port };
        total = answered_from(ten, 10, daytime, 1, 1, 500);
        printf("rate_total 3: %d of 10 datagrams from 10 addresses answered\n", total);
        ck_assert_int_ge(total, 3);
        ck_assert_int_le(total, 5);
        ck_assert(pd_log_wait(&d, "daytime: over rate_total (3 replies/s)", 2000));
        ck_assert_int_eq(pd_stop(&d), 0);
}
END_TEST

/* The ports of services that answer back (below 1024) get nothing: a
 * daytime server's answer from port 13 must not start a loop. */
START_TEST(udp_refused_source_ports)
{
        static const unsigned ports[] = { 13, 17, 37, 7, 19, 2049 };
        unsigned tried = 0;

        start_answers(NULL, NULL);
        for (size_t i = 0; i < sizeof(ports) / sizeof(ports[0]); i++) {
                char buf[1024];
                int r = pd_udp_exchange_from("127.0.0.1", ports[i], d.qotd_udp_port, "", 0, buf,
                                             sizeof(buf), 300);
                if (r == -1 && ports[i] < 1024 && geteuid() != 0)
                        continue;       /* could not bind it: nothing tried */
                ck_assert_msg(r == -1, "answered from source port %u", ports[i]);
                tried++;
                r = pd_udp_exchange_from("127.0.0.1", ports[i], d.daytime_udp_port, "", 0, buf,
                                         sizeof(buf), 300);
                ck_assert_msg(r == -1, "answered from source port %u", ports[i]);
        }
        /* The same address from an ordinary port is answered. */
        char buf[1024];
        ck_assert_int_gt(pd_udp_exchange_from("127.0.0.1", 0, d.qotd_udp_port, "", 0, buf,
                                              sizeof(buf), 2000), 0);
        ck_assert_int_eq(pd_stop(&d), 0);
        if (tried < sizeof(ports) / sizeof(ports[0]))
                pd_skipped("%u of 6 source ports tried: binding below 1024 needs root", tried);
}
END_TEST

/* [access] applies to both: a denied TCP client is closed unanswered, a
 * denied datagram gets nothing. */
START_TEST(access_lists_apply)
{
        char buf[1024];

        start_answers("[access]\ndeny = 127.0.0.0/8\n", NULL);
        struct pd_client c;
        ck_assert_int_eq(pd_connect(&c, d.daytime_port, AF_INET), 0);
        ck_assert(pd_closed_silently(&c, 2000));
        pd_close(&c);
        ck_assert_int_eq(pd_udp_exchange(AF_INET, d.qotd_udp_port, "", 0, buf, sizeof(buf), 300),
                         -1);
        /* ::1 is not denied. */
        ck_assert_int_eq(tcp_fetch(d.time_port, AF_INET6, buf, sizeof(buf), 2000), 4);
        ck_assert_int_gt(pd_udp_exchange(AF_INET6, d.qotd_udp_port, "", 0, buf, sizeof(buf),
                                         2000), 0);
        ck_assert_int_eq(pd_log_count(&d, "answered 127.0.0.1"), 0);
        ck_assert_int_eq(pd_stop(&d), 0);
}
END_TEST

/* Read the notify socket until a datagram holds text: whether one did
 * within timeout_ms. */
static bool notify_until(struct pd *p, const char *text, int timeout_ms)
{
        int64_t end = clock_now_ms() + timeout_ms;
        char buf[1024];

        for (;;) {
                int64_t left = end - clock_now_ms();
                if (left <= 0 || pd_notify_next(p, buf, sizeof(buf), (int)left) < 0) {
                        fprintf(stderr, "no '%s' from pichatd\n", text);
                        return false;
                }
                if (strstr(buf, text))
                        return true;
        }
}

/* ---- the quotes file ---------------------------------------------------- */

static void write_quotes(const char *path, const char *text)
{
        char tmp[256];

        snprintf(tmp, sizeof(tmp), "%s.tmp", path);
        FILE *f = fopen(tmp, "w");
        ck_assert_ptr_nonnull(f);
        fputs(text, f);
        ck_assert_int_eq(fclose(f), 0);
        ck_assert_int_eq(rename(tmp, path), 0);
}

/* The quotes a qotd port gives in count requests over UDP, as one string. */
static void ask_quotes(unsigned port, int count, char *seen, size_t size)
{
        size_t n = 0;

        seen[0] = '\0';
        for (int i = 0; i < count; i++) {
                char buf[1024];
                int r = pd_udp_exchange(AF_INET, port, "", 0, buf, sizeof(buf), 2000);
                ck_assert_int_gt(r, 0);
                ck_assert_int_le(r, PICHAT_ANSWER_MAX);
                n += (size_t)snprintf(seen + n, size - n, "[%s]", buf);
        }
}

START_TEST(oversize_quotes_skipped)
{
        char dir[] = "/tmp/pichat-qotd.XXXXXX", path[128], text[2048], seen[16384];
        char big[600];

        ck_assert_ptr_nonnull(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/quotes", dir);
        memset(big, 'x', 599);
        big[599] = '\0';
        snprintf(text, sizeof(text), "short one\n%%\n%s\n%%\nshort two\n", big);
        write_quotes(path, text);
        snprintf(ini, sizeof(ini), ONLY_ANSWERS "[qotd]\nenabled = yes\nfile = %s\n", path);
        ck_assert_int_eq(pd_start_with(&d, ini, "qotd:qotd/udp"), 0);
        char want[256];
        snprintf(want, sizeof(want), "qotd: %s:3: skipped 1 quote longer than 511 bytes", path);
        ck_assert(pd_log_wait(&d, want, 100));
        ck_assert(pd_log_wait(&d, "qotd: 2 quotes from", 100));
        ask_quotes(d.qotd_udp_port, 10, seen, sizeof(seen));
        ck_assert_ptr_null(strstr(seen, "xxx"));
        ck_assert_ptr_nonnull(strstr(seen, "[short one\r\n]"));
        ck_assert_ptr_nonnull(strstr(seen, "[short two\r\n]"));
        ck_assert_int_eq(pd_stop(&d), 0);
        unlink(path);
        rmdir(dir);
}
END_TEST

/* An empty file, or one whose every quote is too long, stops the start
 * before any socket, as --check-config says, with FILE:LINE. */
START_TEST(empty_quotes_file)
{
        char dir[] = "/tmp/pichat-qotd.XXXXXX", path[128], conf[128], out[4096], want[512];
        char big[600];

        ck_assert_ptr_nonnull(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/quotes", dir);
        snprintf(conf, sizeof(conf), "%s/pichat.ini", dir);
        memset(big, 'x', 599);
        big[599] = '\0';
        const char *const texts[] = { "", "\n%\n\n%\n", big };
        const char *const why[] = { "holds no quote", "holds no quote", "every quote in" };
        for (int i = 0; i < 3; i++) {
                write_quotes(path, texts[i]);
                snprintf(ini, sizeof(ini), "[echo]\nenabled = no\n[chat]\nenabled = no\n"
                         "[udp]\nenabled = no\n[web]\nenabled = no\n[qotd]\nenabled = yes\n"
                         "port = 0\nfile = %s\n", path);
                write_quotes(conf, ini);
                snprintf(want, sizeof(want), "pichatd: %s:12: [qotd] file: ", conf);
                const char *const check[] = { "pichatd", "--check-config", "-c", conf, NULL };
                ck_assert_int_eq(pd_run(check, out, sizeof(out), 10000), 1);
                ck_assert_msg(strncmp(out, want, strlen(want)) == 0 && strstr(out, why[i]),
                              "--check-config said: %s", out);
                const char *const fg[] = { "pichatd", "--foreground", "-c", conf, NULL };
                ck_assert_int_eq(pd_run(fg, out, sizeof(out), 10000), 1);
                ck_assert_msg(strncmp(out, want, strlen(want)) == 0 && strstr(out, why[i]),
                              "the start said: %s", out);
                ck_assert_ptr_null(strstr(out, "listening"));
        }
        unlink(path);
        unlink(conf);
        rmdir(dir);
}
END_TEST

/* A reload reads the file again; a reload that fails keeps the quotes in
 * force. */
START_TEST(reload_rereads_quotes)
{
        char dir[] = "/tmp/pichat-qotd.XXXXXX", path[128], seen[8192], buf[1024];

        ck_assert_ptr_nonnull(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/quotes", dir);
        write_quotes(path, "alpha\n");
        snprintf(ini, sizeof(ini), ONLY_ANSWERS "[qotd]\nenabled = yes\nfile = %s\n", path);
        struct pd_opts o = { .fdnames = "qotd:qotd/udp", .notify = true };
        ck_assert_int_eq(pd_start_opts(&d, ini, &o), 0);
        ask_quotes(d.qotd_udp_port, 3, seen, sizeof(seen));
        ck_assert_str_eq(seen, "[alpha\r\n][alpha\r\n][alpha\r\n]");

        write_quotes(path, "beta\n%\ngamma\n");
        pd_signal(&d, SIGHUP);
        ck_assert(pd_log_wait(&d, "reloaded configuration", 5000));
        ck_assert(pd_log_wait(&d, "qotd: 2 quotes from", 1000));
        ask_quotes(d.qotd_udp_port, 4, seen, sizeof(seen));
        ck_assert_ptr_null(strstr(seen, "alpha"));
        ck_assert_ptr_nonnull(strstr(seen, "[beta\r\n]"));
        ck_assert_ptr_nonnull(strstr(seen, "[gamma\r\n]"));

        /* Emptied: the reload fails, at the line of the file, and the
         * quotes in force stay. */
        write_quotes(path, "");
        pd_signal(&d, SIGHUP);
        ck_assert(pd_log_wait(&d, "reload failed", 5000));
        char want[512];
        snprintf(want, sizeof(want), "reload: %s:16: [qotd] file: %s holds no quote",
                 d.conf_path, path);
        ck_assert(pd_log_wait(&d, want, 1000));
        ck_assert(notify_until(&d, "STATUS=reload failed: ", 5000));
        ask_quotes(d.qotd_udp_port, 4, seen, sizeof(seen));
        ck_assert_ptr_null(strstr(seen, "alpha"));
        ck_assert_ptr_nonnull(strstr(seen, "beta"));
        ck_assert_int_gt(tcp_fetch(d.qotd_port, AF_INET, buf, sizeof(buf), 2000), 0);
        ck_assert(strcmp(buf, "beta\r\n") == 0 || strcmp(buf, "gamma\r\n") == 0);

        /* Gone: the same. Back: read again. */
        unlink(path);
        pd_signal(&d, SIGHUP);
        ck_assert(pd_log_wait(&d, "No such file or directory", 5000));
        write_quotes(path, "delta\n");
        pd_signal(&d, SIGHUP);
        ck_assert(log_count_wait("qotd: 1 quote from", 2, 5000));
        ask_quotes(d.qotd_udp_port, 2, seen, sizeof(seen));
        ck_assert_str_eq(seen, "[delta\r\n][delta\r\n]");
        ck_assert_int_eq(pd_stop(&d), 0);
        unlink(path);
        rmdir(dir);
}
END_TEST

/* ---- status line and log ------------------------------------------------ */

START_TEST(status_and_counts)
{
        char buf[1024];
        struct pd_opts o = { .fdnames = ANSWER_FDS, .notify = true };

        utc();
        snprintf(ini, sizeof(ini), ONLY_ANSWERS "[daytime]\nenabled = yes\n[time]\nenabled = yes\n"
                 "[qotd]\nenabled = yes\nfile = %s\n", quotes_path());
        ck_assert_int_eq(pd_start_opts(&d, ini, &o), 0);
        ck_assert(notify_until(&d, "READY=1\nSTATUS=daytime: 0 requests; time: 0 requests; "
                                   "qotd: 0 requests", 5000));
        ck_assert_int_gt(tcp_fetch(d.daytime_port, AF_INET, buf, sizeof(buf), 2000), 0);
        ck_assert_int_gt(pd_udp_exchange(AF_INET, d.daytime_udp_port, "", 0, buf, sizeof(buf),
                                         2000), 0);
        ck_assert_int_eq(tcp_fetch(d.time_port, AF_INET, buf, sizeof(buf), 2000), 4);
        for (int i = 0; i < 3; i++)
                ck_assert_int_gt(pd_udp_exchange(AF_INET, d.qotd_udp_port, "", 0, buf,
                                                 sizeof(buf), 2000), 0);
        ck_assert(notify_until(&d, "STATUS=daytime: 2 requests; time: 1 request; "
                                   "qotd: 3 requests", 5000));
        /* At the stop, what each answered, for the journal. */
        pd_signal(&d, SIGTERM);
        ck_assert_int_eq(pd_wait_exit(&d, 5000), 0);
        ck_assert(pd_log_wait(&d, "daytime: 2 requests answered in the last ", 100));
        ck_assert(pd_log_wait(&d, "s; since the start 1 over TCP, 1 over UDP", 100));
        ck_assert(pd_log_wait(&d, "time: 1 request answered in the last ", 100));
        ck_assert(pd_log_wait(&d, "qotd: 3 requests answered in the last ", 100));
        ck_assert(pd_log_wait(&d, "s; since the start 0 over TCP, 3 over UDP", 100));
        d.log_path[0] = '\0';
        pd_stop(&d);
}
END_TEST

/* ---- sockets ------------------------------------------------------------- */

/* Passed without names, each socket is known by its type and the port its
 * service has in the configuration; the UDP echo keeps every other
 * datagram socket. */
START_TEST(unnamed_sockets_by_port)
{
        char buf[1024];
        struct pd_opts o = { .fdnames = "udp:" ANSWER_FDS, .no_fdnames = true,
                             .ports_in_conf = true };

        utc();
        snprintf(ini, sizeof(ini), "[echo]\nenabled = no\n[chat]\nenabled = no\n"
                 "[daytime]\nenabled = yes\n[time]\nenabled = yes\n"
                 "[qotd]\nenabled = yes\nfile = %s\n", quotes_path());
        ck_assert_int_eq(pd_start_opts(&d, ini, &o), 0);
        /* The harness bound each UDP socket on its TCP socket's port. */
        ck_assert_uint_eq(d.daytime_udp_port, d.daytime_port);
        ck_assert_uint_eq(d.time_udp_port, d.time_port);
        ck_assert_uint_eq(d.qotd_udp_port, d.qotd_port);
        ck_assert_int_eq(tcp_fetch(d.time_port, AF_INET, buf, sizeof(buf), 2000), 4);
        ck_assert_int_eq(pd_udp_exchange(AF_INET, d.time_udp_port, "", 0, buf, sizeof(buf), 2000),
                         4);
        int n = tcp_fetch(d.daytime_port, AF_INET, buf, sizeof(buf), 2000);
        ck_assert_int_gt(n, 2);
        buf[n - 2] = '\0';
        ck_assert(is_now(buf, DEFAULT_FORMAT, 2));
        n = pd_udp_exchange(AF_INET, d.qotd_udp_port, "", 0, buf, sizeof(buf), 2000);
        ck_assert(n > 0 && is_quote(quotes_path(), buf, (size_t)n));
        ck_assert_int_eq(pd_udp_exchange(AF_INET, d.udp_port, "hi", 2, buf, sizeof(buf), 2000), 7);
        ck_assert_str_eq(buf, "OK...hi");
        ck_assert(pd_log_wait(&d, "daytime: using socket [::]:", 100));
        ck_assert_int_eq(pd_log_count(&d, "unknown inherited socket"), 0);
        ck_assert_int_eq(pd_stop(&d), 0);
}
END_TEST

/* Given its sockets, a service turned off closes them (and says so); one
 * with udp = no closes its UDP socket and answers over TCP. */
START_TEST(sockets_of_services_off)
{
        char buf[1024];

        snprintf(ini, sizeof(ini), ONLY_ANSWERS "[daytime]\nenabled = yes\nudp = no\n");
        ck_assert_int_eq(pd_start_with(&d, ini, ANSWER_FDS), 0);
        ck_assert(pd_log_wait(&d, "daytime: udp = no in the configuration, closing [::]:", 100));
        ck_assert(pd_log_wait(&d, "time: disabled in the configuration, closing", 100));
        ck_assert(pd_log_wait(&d, "qotd: disabled in the configuration, closing", 100));
        ck_assert_int_gt(tcp_fetch(d.daytime_port, AF_INET, buf, sizeof(buf), 2000), 0);
        ck_assert_int_eq(pd_udp_exchange(AF_INET, d.daytime_udp_port, "", 0, buf, sizeof(buf),
                                         300), -1);
        ck_assert_int_eq(pd_stop(&d), 0);
}
END_TEST

/* Started by hand without sockets, pichatd binds the ports itself (0:
 * any), and a port it may not have stops it with "cannot listen". */
START_TEST(binds_its_own_or_cannot_listen)
{
        char dir[] = "/tmp/pichat-bind.XXXXXX", conf[128], out[4096], want[256];
        struct pd_opts o = { .fdnames = NULL };

        utc();
        snprintf(ini, sizeof(ini), ONLY_ANSWERS "[server]\nbind = 127.0.0.1\n"
                 "[daytime]\nenabled = yes\nport = 0\n[time]\nenabled = yes\nport = 0\n");
        ck_assert_int_eq(pd_start_opts(&d, ini, &o), 0);
        ck_assert_uint_gt(d.daytime_port, 0);
        ck_assert_uint_gt(d.time_udp_port, 0);
        char buf[256];
        ck_assert_int_eq(tcp_fetch(d.time_port, AF_INET, buf, sizeof(buf), 2000), 4);
        ck_assert_int_eq(pd_udp_exchange(AF_INET, d.time_udp_port, "", 0, buf, sizeof(buf), 2000),
                         4);
        ck_assert_int_gt(pd_udp_exchange(AF_INET, d.daytime_udp_port, "", 0, buf, sizeof(buf),
                                         2000), 0);
        ck_assert_int_eq(pd_stop(&d), 0);

        /* A port taken: TCP, then UDP. */
        ck_assert_ptr_nonnull(mkdtemp(dir));
        snprintf(conf, sizeof(conf), "%s/pichat.ini", dir);
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof(sa);
        int types[] = { SOCK_STREAM, SOCK_DGRAM };
        for (int i = 0; i < 2; i++) {
                int fd = socket(AF_INET, types[i], 0);
                ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
                if (types[i] == SOCK_STREAM)
                        ck_assert_int_eq(listen(fd, 1), 0);
                ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
                unsigned port = ntohs(sa.sin_port);
                sa.sin_port = 0;
                snprintf(ini, sizeof(ini), ONLY_ANSWERS "[web]\nenabled = no\n[server]\n"
                         "bind = 127.0.0.1\n[qotd]\nenabled = yes\nport = %u\nfile = %s\n", port,
                         quotes_path());
                write_quotes(conf, ini);
                const char *const argv[] = { "pichatd", "--foreground", "-c", conf, NULL };
                ck_assert_int_eq(pd_run(argv, out, sizeof(out), 10000), 1);
                snprintf(want, sizeof(want), "pichatd: cannot listen on 127.0.0.1:%u/%s: Address "
                         "already in use\n", port, i ? "udp" : "tcp");
                ck_assert_msg(strstr(out, want), "got: %s", out);
                close(fd);
        }

        /* Port 13 as someone who may not bind it: as this user, or as
         * nobody when the test runs as root. */
        FILE *f = fopen("/proc/sys/net/ipv4/ip_unprivileged_port_start", "r");
        int start = 1024;
        if (f) {
                if (fscanf(f, "%d", &start) != 1)
                        start = 1024;
                fclose(f);
        }
        snprintf(ini, sizeof(ini), ONLY_ANSWERS "[web]\nenabled = no\n[daytime]\nenabled = yes\n");
        write_quotes(conf, ini);
        chmod(dir, 0755);
        chmod(conf, 0644);
        if (start > 13) {
                int p[2];
                ck_assert_int_eq(pipe(p), 0);
                pid_t pid = fork();
                if (pid == 0) {
                        dup2(p[1], STDERR_FILENO);
                        dup2(p[1], STDOUT_FILENO);
                        struct passwd *pw = getpwnam("nobody");
                        if (geteuid() == 0 && (!pw || setgid(pw->pw_gid) < 0 ||
                                               setuid(pw->pw_uid) < 0))
                                _exit(99);
                        unsetenv("LISTEN_FDS");
                        unsetenv("LISTEN_PID");
                        const char *w = getenv("PICHATD_WRAPPER");
                        if (w && *w) {
                                char cmd[1024];
                                snprintf(cmd, sizeof(cmd), "exec %s %s --foreground -c %s", w,
                                         pd_binary(), conf);
                                execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
                        }
                        execl(pd_binary(), "pichatd", "--foreground", "-c", conf, (char *)NULL);
                        _exit(127);
                }
                close(p[1]);
                size_t n = 0;
                ssize_t k;
                while (n + 1 < sizeof(out) && (k = read(p[0], out + n, sizeof(out) - 1 - n)) > 0)
                        n += (size_t)k;
                out[n] = '\0';
                close(p[0]);
                ck_assert_int_eq(pd_wait_pid(pid, 10000), 1);
                ck_assert_msg(strstr(out, "pichatd: cannot listen on [::]:13/tcp: Permission "
                                          "denied\n"), "got: %s", out);
        }
        unlink(conf);
        rmdir(dir);
        if (start <= 13)
                pd_skipped("ip_unprivileged_port_start is %d: anyone may bind port 13 here",
                           start);
}
END_TEST

Suite *test_suite(void)
{
        Suite *s = suite_create("integration-answer");
        TCase *tc = tcase_create("answer");

        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, tcp_answers_then_closes);
        tcase_add_test(tc, udp_answers);
        tcase_add_test(tc, classic_clients);
        tcase_add_test(tc, rdate_prints_the_time);
        tcase_add_test(tc, nc_asks);
        tcase_add_test(tc, never_read_stalls_nothing);
        tcase_add_test(tc, udp_rate_shared_with_echo);
        tcase_add_test(tc, udp_refused_source_ports);
        tcase_add_test(tc, access_lists_apply);
        tcase_add_test(tc, oversize_quotes_skipped);
        tcase_add_test(tc, empty_quotes_file);
        tcase_add_test(tc, reload_rereads_quotes);
        tcase_add_test(tc, status_and_counts);
        tcase_add_test(tc, unnamed_sockets_by_port);
        tcase_add_test(tc, sockets_of_services_off);
        tcase_add_test(tc, binds_its_own_or_cannot_listen);
        suite_add_tcase(s, tc);
        return s;
}
