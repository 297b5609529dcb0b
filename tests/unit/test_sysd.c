/* Unit tests: sysd's side of the service manager's protocols, against
 * sockets and environments the test makes: notify datagrams (path and
 * abstract addresses), the watchdog variables, the socket-activation
 * variables (good, for another process, malformed) and journal entries,
 * decoded here from the wire. */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "suite.h"
#include "sysd.h"

/* A datagram socket bound in a directory of its own, or (abstract) to
 * "\0pichat-sysd-PID"; name is what NOTIFY_SOCKET would say. */
struct peer {
        int fd;
        char dir[32];
        char name[108];
};

static void peer_open(struct peer *p, int abstract)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        socklen_t len = sizeof(sa);

        p->dir[0] = '\0';
        if (abstract) {
                snprintf(p->name, sizeof(p->name), "@pichat-sysd-%d", (int)getpid());
                memcpy(sa.sun_path, p->name, strlen(p->name));
                sa.sun_path[0] = '\0';
                len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(p->name));
        } else {
                snprintf(p->dir, sizeof(p->dir), "/tmp/pichat-sysd.XXXXXX");
                ck_assert_ptr_nonnull(mkdtemp(p->dir));
                snprintf(p->name, sizeof(p->name), "%s/sock", p->dir);
                snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", p->name);
        }
        p->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        ck_assert_int_ge(p->fd, 0);
        ck_assert_int_eq(bind(p->fd, (struct sockaddr *)&sa, len), 0);
}

static void peer_close(struct peer *p)
{
        close(p->fd);
        if (p->dir[0]) {
                unlink(p->name);
                rmdir(p->dir);
        }
}

/* The next datagram, without waiting: its length (-1 if none). It must
 * come with no control data: sysd passes neither fds nor credentials. */
static ssize_t peer_next(struct peer *p, char *buf, size_t size)
{
        char control[256];
        struct iovec iov = { buf, size - 1 };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
                             .msg_control = control, .msg_controllen = sizeof(control) };
        ssize_t n = recvmsg(p->fd, &mh, MSG_DONTWAIT);

        buf[n > 0 ? n : 0] = '\0';
        if (n >= 0) {
                ck_assert_uint_eq(mh.msg_controllen, 0);
                ck_assert_int_eq(mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC), 0);
        }
        return n;
}

/* ---- notify ------------------------------------------------------------- */

static void notify_to(int abstract)
{
        struct peer p;
        char buf[256];

        peer_open(&p, abstract);
        setenv("NOTIFY_SOCKET", p.name, 1);
        ck_assert_int_eq(sysd_notify("READY=1\nSTATUS=up"), 1);
        ck_assert_int_eq(peer_next(&p, buf, sizeof(buf)), 17);
        ck_assert_str_eq(buf, "READY=1\nSTATUS=up");
        ck_assert_int_eq(sysd_notify("WATCHDOG=1"), 1);
        ck_assert_int_eq(peer_next(&p, buf, sizeof(buf)), 10);
        ck_assert_str_eq(buf, "WATCHDOG=1");
        ck_assert_int_lt(peer_next(&p, buf, sizeof(buf)), 0);
        unsetenv("NOTIFY_SOCKET");
        peer_close(&p);
}

START_TEST(notify_to_a_path)
{
        notify_to(0);
}
END_TEST

START_TEST(notify_to_an_abstract_name)
{
        notify_to(1);
}
END_TEST

START_TEST(notify_unset_is_a_no_op)
{
        unsetenv("NOTIFY_SOCKET");
        ck_assert_int_eq(sysd_notify("READY=1"), 0);
}
END_TEST

START_TEST(notify_bad_addresses)
{
        char longer[120];

        setenv("NOTIFY_SOCKET", "", 1);
        ck_assert_int_eq(sysd_notify("READY=1"), -EINVAL);
        setenv("NOTIFY_SOCKET", "run/notify", 1);
        ck_assert_int_eq(sysd_notify("READY=1"), -EINVAL);
        setenv("NOTIFY_SOCKET", "@", 1);
        ck_assert_int_eq(sysd_notify("READY=1"), -EINVAL);
        setenv("NOTIFY_SOCKET", "/", 1);
        ck_assert_int_eq(sysd_notify("READY=1"), -EINVAL);
        setenv("NOTIFY_SOCKET", "vsock:2:1234", 1);
        ck_assert_int_eq(sysd_notify("READY=1"), -EAFNOSUPPORT);
        /* 108 bytes leave no room for the NUL in sun_path. */
        memset(longer, 'x', sizeof(longer));
        longer[0] = '/';
        longer[108] = '\0';
        setenv("NOTIFY_SOCKET", longer, 1);
        ck_assert_int_eq(sysd_notify("READY=1"), -ENAMETOOLONG);
        longer[0] = '@';
        setenv("NOTIFY_SOCKET", longer, 1);
        ck_assert_int_eq(sysd_notify("READY=1"), -EINVAL);
        /* Well formed, but nobody there. */
        setenv("NOTIFY_SOCKET", "/nonexistent/pichat/notify", 1);
        ck_assert_int_eq(sysd_notify("READY=1"), -ENOENT);
        ck_assert_int_eq(sysd_notify(NULL), -EINVAL);
        unsetenv("NOTIFY_SOCKET");
}
END_TEST

/* ---- watchdog ----------------------------------------------------------- */

static int watchdog(const char *usec, const char *pid, uint64_t *out)
{
        unsetenv("WATCHDOG_USEC");
        unsetenv("WATCHDOG_PID");
        if (usec)
                setenv("WATCHDOG_USEC", usec, 1);
        if (pid)
                setenv("WATCHDOG_PID", pid, 1);
        *out = 42;
        return sysd_watchdog_usec(out);
}

START_TEST(watchdog_cases)
{
        char self[16], other[16];
        uint64_t u;

        snprintf(self, sizeof(self), "%d", (int)getpid());
        snprintf(other, sizeof(other), "%d", (int)getppid());
        ck_assert_int_eq(watchdog(NULL, NULL, &u), 0);
        ck_assert_uint_eq(u, 42);
        ck_assert_int_eq(watchdog("30000000", NULL, &u), 1);
        ck_assert_uint_eq(u, 30000000);
        ck_assert_int_eq(watchdog("600000", self, &u), 1);
        ck_assert_uint_eq(u, 600000);
        /* Meant for another process. */
        ck_assert_int_eq(watchdog("600000", other, &u), 0);
        ck_assert_uint_eq(u, 42);
        /* Malformed: a clean error, nothing stored. */
        ck_assert_int_eq(watchdog("", NULL, &u), -EINVAL);
        ck_assert_int_eq(watchdog("abc", NULL, &u), -EINVAL);
        ck_assert_int_eq(watchdog("-5", NULL, &u), -EINVAL);
        ck_assert_int_eq(watchdog(" 5", NULL, &u), -EINVAL);
        ck_assert_int_eq(watchdog("5s", NULL, &u), -EINVAL);
        ck_assert_int_eq(watchdog("0", NULL, &u), -EINVAL);
        ck_assert_int_eq(watchdog("18446744073709551615", NULL, &u), -EINVAL);
        ck_assert_int_eq(watchdog("18446744073709551616", NULL, &u), -ERANGE);
        ck_assert_int_eq(watchdog("600000", "", &u), -EINVAL);
        ck_assert_int_eq(watchdog("600000", "0", &u), -EINVAL);
        ck_assert_int_eq(watchdog("600000", "-1", &u), -EINVAL);
        ck_assert_int_eq(watchdog("600000", "99999999999", &u), -ERANGE);
        ck_assert_uint_eq(u, 42);
        /* Left in place: a child started by pichatd is no concern of it. */
        ck_assert_ptr_nonnull(getenv("WATCHDOG_USEC"));
        unsetenv("WATCHDOG_USEC");
        unsetenv("WATCHDOG_PID");
}
END_TEST

/* ---- socket activation -------------------------------------------------- */

/* The fds live at 3.., where check may have files of its own, so each case
 * runs in a child: it places nfds sockets (TCP listener, UDP, unix stream)
 * at 3.., sets the variables (pid NULL: our pid), calls sysd_listen_fds()
 * and writes what it saw to a pipe as one line. */
struct listen_case {
        int nfds;
        const char *pid, *fds, *names;
};

static void listen_run(const struct listen_case *c, char *out, size_t size)
{
        int pfd[2], st;
        ssize_t n;

        ck_assert_int_eq(pipe(pfd), 0);
        pid_t child = fork();
        ck_assert_int_ge(child, 0);
        if (child == 0) {
                char line[512], self[16];
                int w = fcntl(pfd[1], F_DUPFD, 200), len = 0;
                char **names = (char **)1;

                for (int i = 0; i < c->nfds; i++) {
                        int s = socket(i % 3 == 1 ? AF_INET : AF_UNIX,
                                       i % 3 == 1 ? SOCK_DGRAM : SOCK_STREAM, 0);
                        int at = fcntl(s, F_DUPFD, 100 + i);
                        close(s);
                        s = at;
                        if (i % 3 == 0)
                                listen(s, 1);
                        dup2(s, SYSD_LISTEN_FDS_START + i);
                        close(s);
                }
                for (int fd = SYSD_LISTEN_FDS_START + c->nfds; fd < 1024; fd++)
                        if (fd != w)
                                close(fd);
                snprintf(self, sizeof(self), "%d", (int)getpid());
                setenv("LISTEN_PID", c->pid ? c->pid : self, 1);
                setenv("LISTEN_PIDFDID", "1", 1);
                if (c->fds)
                        setenv("LISTEN_FDS", c->fds, 1);
                if (c->names)
                        setenv("LISTEN_FDNAMES", c->names, 1);
                int r = sysd_listen_fds(&names);
                len += snprintf(line + len, sizeof(line) - (size_t)len, "%d", r);
                if (r <= 0 && names)
                        len += snprintf(line + len, sizeof(line) - (size_t)len, " names!");
                for (int i = 0; i < r; i++) {
                        int fl = fcntl(SYSD_LISTEN_FDS_START + i, F_GETFD);
                        len += snprintf(line + len, sizeof(line) - (size_t)len, " %s%s",
                                        names[i], fl >= 0 && (fl & FD_CLOEXEC) ? "" : "(inherit)");
                }
                free(r > 0 ? names : NULL);
                if (getenv("LISTEN_PID") || getenv("LISTEN_FDS") || getenv("LISTEN_FDNAMES") ||
                    getenv("LISTEN_PIDFDID"))
                        len += snprintf(line + len, sizeof(line) - (size_t)len, " env-left");
                _exit(write(w, line, (size_t)len) == len ? 0 : 1);
        }
        close(pfd[1]);
        n = read(pfd[0], out, size - 1);
        out[n > 0 ? n : 0] = '\0';
        close(pfd[0]);
        ck_assert_int_eq(waitpid(child, &st, 0), child);
        ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void listen_expect(const struct listen_case *c, const char *want)
{
        char got[512];

        listen_run(c, got, sizeof(got));
        ck_assert_msg(strcmp(got, want) == 0, "pid %s fds %s names %s: got '%s', want '%s'",
                      c->pid ? c->pid : "(self)", c->fds ? c->fds : "(unset)",
                      c->names ? c->names : "(unset)", got, want);
}

START_TEST(listen_fds_with_names)
{
        listen_expect(&(struct listen_case){ 3, NULL, "3", "echo:udp:chat" }, "3 echo udp chat");
        /* Empty names are names too. */
        listen_expect(&(struct listen_case){ 3, NULL, "3", "a::" }, "3 a  ");
}
END_TEST

START_TEST(listen_fds_without_names)
{
        listen_expect(&(struct listen_case){ 2, NULL, "2", NULL }, "2 unknown unknown");
}
END_TEST

START_TEST(listen_fds_not_ours)
{
        /* Another pid, or no LISTEN_FDS: nothing taken, fds untouched. */
        listen_expect(&(struct listen_case){ 2, "1", "2", "echo:chat" }, "0");
        listen_expect(&(struct listen_case){ 2, NULL, NULL, "echo:chat" }, "0");
}
END_TEST

START_TEST(listen_fds_bad_numbers)
{
        listen_expect(&(struct listen_case){ 1, "x1", "1", NULL }, "-22");
        listen_expect(&(struct listen_case){ 1, "", "1", NULL }, "-22");
        listen_expect(&(struct listen_case){ 1, "0", "1", NULL }, "-22");
        listen_expect(&(struct listen_case){ 1, "-1", "1", NULL }, "-22");
        listen_expect(&(struct listen_case){ 1, "99999999999", "1", NULL }, "-34");
        listen_expect(&(struct listen_case){ 1, NULL, "", NULL }, "-22");
        listen_expect(&(struct listen_case){ 1, NULL, "one", NULL }, "-22");
        listen_expect(&(struct listen_case){ 1, NULL, "-1", NULL }, "-22");
        listen_expect(&(struct listen_case){ 1, NULL, "0", NULL }, "-22");
        listen_expect(&(struct listen_case){ 1, NULL, "1 ", NULL }, "-22");
        listen_expect(&(struct listen_case){ 1, NULL, "2147483647", NULL }, "-22");
        listen_expect(&(struct listen_case){ 1, NULL, "99999999999999999999", NULL }, "-34");
        /* More than were passed: fd 3 + 1 is not open. */
        listen_expect(&(struct listen_case){ 1, NULL, "2", NULL }, "-9");
        listen_expect(&(struct listen_case){ 1, NULL, "2000000", NULL }, "-9");
}
END_TEST

START_TEST(listen_fds_name_count_mismatch)
{
        listen_expect(&(struct listen_case){ 3, NULL, "3", "echo:chat" }, "-22");
        listen_expect(&(struct listen_case){ 1, NULL, "1", "echo:chat" }, "-22");
        listen_expect(&(struct listen_case){ 1, NULL, "1", "" }, "-22");
}
END_TEST

START_TEST(listen_fds_count_only)
{
        /* Without a names pointer the count alone, and still cleared. */
        int pfd[2], st;
        pid_t child;

        ck_assert_int_eq(pipe(pfd), 0);
        child = fork();
        ck_assert_int_ge(child, 0);
        if (child == 0) {
                char self[16];
                dup2(pfd[1], SYSD_LISTEN_FDS_START);
                snprintf(self, sizeof(self), "%d", (int)getpid());
                setenv("LISTEN_PID", self, 1);
                setenv("LISTEN_FDS", "1", 1);
                setenv("LISTEN_FDNAMES", "x:y", 1);
                _exit(sysd_listen_fds(NULL) == 1 && !getenv("LISTEN_FDS") ? 0 : 1);
        }
        close(pfd[0]);
        close(pfd[1]);
        ck_assert_int_eq(waitpid(child, &st, 0), child);
        ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}
END_TEST

/* ---- is_socket ---------------------------------------------------------- */

START_TEST(is_socket_kinds)
{
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        int tcp = socket(AF_INET, SOCK_STREAM, 0), lst = socket(AF_INET, SOCK_STREAM, 0);
        int udp = socket(AF_INET, SOCK_DGRAM, 0), pfd[2];

        ck_assert_int_eq(bind(lst, (struct sockaddr *)&sa, sizeof(sa)), 0);
        ck_assert_int_eq(listen(lst, 1), 0);
        ck_assert_int_eq(pipe(pfd), 0);

        ck_assert_int_eq(sysd_is_socket(lst, AF_UNSPEC, SOCK_STREAM, 1), 1);
        ck_assert_int_eq(sysd_is_socket(lst, AF_UNSPEC, 0, -1), 1);
        ck_assert_int_eq(sysd_is_socket(lst, AF_INET, SOCK_STREAM, 1), 1);
        ck_assert_int_eq(sysd_is_socket(lst, AF_INET6, SOCK_STREAM, 1), 0);
        ck_assert_int_eq(sysd_is_socket(lst, AF_UNSPEC, SOCK_STREAM, 0), 0);
        ck_assert_int_eq(sysd_is_socket(lst, AF_UNSPEC, SOCK_DGRAM, -1), 0);
        ck_assert_int_eq(sysd_is_socket(tcp, AF_UNSPEC, SOCK_STREAM, 1), 0);
        ck_assert_int_eq(sysd_is_socket(tcp, AF_UNSPEC, SOCK_STREAM, 0), 1);
        ck_assert_int_eq(sysd_is_socket(udp, AF_UNSPEC, SOCK_DGRAM, -1), 1);
        ck_assert_int_eq(sysd_is_socket(udp, AF_INET, SOCK_STREAM, -1), 0);
        ck_assert_int_eq(sysd_is_socket(pfd[0], AF_UNSPEC, 0, -1), 0);
        ck_assert_int_eq(sysd_is_socket(-1, AF_UNSPEC, 0, -1), -EBADF);
        close(pfd[1]);
        ck_assert_int_eq(sysd_is_socket(pfd[1], AF_UNSPEC, 0, -1), -EBADF);
        close(pfd[0]);
        close(tcp);
        close(lst);
        close(udp);
}
END_TEST

/* ---- the journal -------------------------------------------------------- */

/* Decode one native-protocol entry into "NAME=value" strings (a value's
 * '\n' kept) joined by '|'. Returns false for anything malformed. */
static bool journal_decode(const char *d, size_t n, char *out, size_t size)
{
        size_t o = 0;

        out[0] = '\0';
        while (n > 0) {
                const char *lf = memchr(d, '\n', n), *eq;
                size_t line, vlen;
                uint64_t le;

                if (!lf)
                        return false;
                line = (size_t)(lf - d);
                eq = memchr(d, '=', line);
                if (eq) {
                        o += (size_t)snprintf(out + o, size - o, "%s%.*s", o ? "|" : "",
                                              (int)line, d);
                        d += line + 1;
                        n -= line + 1;
                        continue;
                }
                /* NAME '\n' le64 value '\n' */
                if (n < line + 1 + 8)
                        return false;
                memcpy(&le, lf + 1, 8);
                vlen = (size_t)le64toh(le);
                if (n < line + 1 + 8 + vlen + 1 || lf[1 + 8 + vlen] != '\n')
                        return false;
                o += (size_t)snprintf(out + o, size - o, "%s%.*s=%.*s", o ? "|" : "", (int)line,
                                      d, (int)vlen, lf + 1 + 8);
                d += line + 1 + 8 + vlen + 1;
                n -= line + 1 + 8 + vlen + 1;
        }
        return o < size;
}

#define FIELD(s) { (void *)(s), sizeof(s) - 1 }

START_TEST(journal_entry_on_the_wire)
{
        struct peer p;
        static char raw[4096];
        char got[4096];
        const struct iovec plain[] = { FIELD("MESSAGE=hello"), FIELD("PRIORITY=6"),
                                       FIELD("PICHAT_NICK=") };
        const struct iovec lines[] = { FIELD("MESSAGE=two\nlines\n"), FIELD("PRIORITY=3"),
                                       FIELD("PICHAT_ROOM=a=b") };
        ssize_t n;

        peer_open(&p, 0);
        ck_assert_int_eq(sysd_journal_sendv(p.name, plain, 3), 0);
        n = peer_next(&p, raw, sizeof(raw));
        ck_assert_int_eq(n, 38);
        ck_assert_str_eq(raw, "MESSAGE=hello\nPRIORITY=6\nPICHAT_NICK=\n");

        ck_assert_int_eq(sysd_journal_sendv(p.name, lines, 3), 0);
        n = peer_next(&p, raw, sizeof(raw));
        /* The binary form: name, '\n', 8 bytes of size, value, '\n'. */
        ck_assert_int_eq(n, 8 + 8 + 10 + 1 + 11 + 16);
        ck_assert(memcmp(raw, "MESSAGE\n\x0a\0\0\0\0\0\0\0two\nlines\n\n", 8 + 8 + 11) == 0);
        ck_assert(journal_decode(raw, (size_t)n, got, sizeof(got)));
        ck_assert_str_eq(got, "MESSAGE=two\nlines\n|PRIORITY=3|PICHAT_ROOM=a=b");
        peer_close(&p);
}
END_TEST

START_TEST(journal_bad_fields)
{
        struct peer p;
        char raw[256];
        const struct iovec ok = FIELD("MESSAGE=x");
        const struct iovec bad[] = { FIELD("NOEQUALS"), FIELD("=value"), FIELD("A\nB=x"),
                                     FIELD("X"), { NULL, 4 } };
        struct iovec many[SYSD_JOURNAL_FIELDS_MAX + 1];

        peer_open(&p, 0);
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                const struct iovec two[] = { ok, bad[i] };
                ck_assert_int_eq(sysd_journal_sendv(p.name, two, 2), -EINVAL);
        }
        ck_assert_int_eq(sysd_journal_sendv(p.name, &ok, 0), -EINVAL);
        for (size_t i = 0; i < sizeof(many) / sizeof(many[0]); i++)
                many[i] = ok;
        ck_assert_int_eq(sysd_journal_sendv(p.name, many, SYSD_JOURNAL_FIELDS_MAX + 1), -E2BIG);
        ck_assert_int_eq(sysd_journal_sendv(p.name, many, SYSD_JOURNAL_FIELDS_MAX), 0);
        /* Nothing was sent for a refused entry. */
        ck_assert_int_gt(peer_next(&p, raw, sizeof(raw)), 0);
        ck_assert_int_lt(peer_next(&p, raw, sizeof(raw)), 0);
        peer_close(&p);
}
END_TEST

START_TEST(journal_refusals_are_errors)
{
        /* No journal, a full queue, an entry too large: an error at once,
         * for log.c to fall back on, never a wait. */
        struct peer p;
        const struct iovec ok = FIELD("MESSAGE=filler");
        struct iovec big = { NULL, 8u << 20 };
        char longer[120];
        int r = 0, sent;

        ck_assert_int_eq(sysd_journal_sendv("/nonexistent/pichat/journal", &ok, 1), -ENOENT);
        memset(longer, 'x', sizeof(longer));
        longer[0] = '/';
        longer[sizeof(longer) - 1] = '\0';
        ck_assert_int_eq(sysd_journal_sendv(longer, &ok, 1), -ENAMETOOLONG);

        peer_open(&p, 0);
        for (sent = 0; sent < 100000 && (r = sysd_journal_sendv(p.name, &ok, 1)) == 0; sent++)
                ;
        ck_assert_int_eq(r, -EAGAIN);
        ck_assert_int_gt(sent, 0);

        big.iov_base = malloc(big.iov_len);
        ck_assert_ptr_nonnull(big.iov_base);
        memcpy(big.iov_base, "MESSAGE=", 8);
        memset((char *)big.iov_base + 8, 'm', big.iov_len - 8);
        ck_assert_int_eq(sysd_journal_sendv(p.name, &big, 1), -EMSGSIZE);
        free(big.iov_base);
        peer_close(&p);
}
END_TEST

Suite *test_suite(void)
{
        Suite *s = suite_create("sysd");
        TCase *tc = tcase_create("notify");

        tcase_add_test(tc, notify_to_a_path);
        tcase_add_test(tc, notify_to_an_abstract_name);
        tcase_add_test(tc, notify_unset_is_a_no_op);
        tcase_add_test(tc, notify_bad_addresses);
        tcase_add_test(tc, watchdog_cases);
        suite_add_tcase(s, tc);

        tc = tcase_create("listen");
        tcase_add_test(tc, listen_fds_with_names);
        tcase_add_test(tc, listen_fds_without_names);
        tcase_add_test(tc, listen_fds_not_ours);
        tcase_add_test(tc, listen_fds_bad_numbers);
        tcase_add_test(tc, listen_fds_name_count_mismatch);
        tcase_add_test(tc, listen_fds_count_only);
        tcase_add_test(tc, is_socket_kinds);
        suite_add_tcase(s, tc);

        tc = tcase_create("journal");
        tcase_add_test(tc, journal_entry_on_the_wire);
        tcase_add_test(tc, journal_bad_fields);
        tcase_add_test(tc, journal_refusals_are_errors);
        suite_add_tcase(s, tc);
        return s;
}
