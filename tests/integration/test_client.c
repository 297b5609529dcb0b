/* Integration: the pichat client ($PICHAT) against the real pichatd, and
 * against small servers inside the test that play their part on cue.
 *
 * Scripted runs give the client pipes; interactive runs give it a
 * pseudo-terminal whose slave end the test keeps open too, so it can see
 * the terminal settings the client leaves behind. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <utmp.h>

#include "clock.h"
#include "harness.h"
#include "suite.h"

#define WELCOME "Welcome to the server. Type something and hit enter"
#define CONNECTED "Connected to remote host. Start sending messages"
#define DISCONNECTED "Disconnected from chat server"

static const char *pichat_binary(void)
{
        const char *p = getenv("PICHAT");
        return p && *p ? p : "pichat";
}

/* argv for execv: "pichat" and up to 15 words. */
static void make_argv(char *argv[17], const char *const args[])
{
        int n = 0;

        argv[n++] = (char *)"pichat";
        for (int i = 0; args[i] && n < 16; i++)
                argv[n++] = (char *)args[i];
        argv[n] = NULL;
}

/* execv pichat with argv (argv[0] is ignored), run by $PICHAT_WRAPPER when
 * it is set. Returns only on failure. */
static void exec_pichat(char *const argv[])
{
        pd_exec_wrapped("PICHAT_WRAPPER", pichat_binary(), (const char *const *)argv);
}

/* ---- scripted runs: stdin, stdout and stderr are pipes ---- */

struct proc {
        pid_t pid;
        int in, out, err;       /* our ends, -1 once closed */
        char obuf[256 * 1024];
        size_t olen;
        char ebuf[16384];
        size_t elen;
};

static struct proc P;

/* Start pichat with args, or (nc set) nc with them, on pipes. */
static void proc_spawn(struct proc *p, const char *const args[], bool nc)
{
        int i[2], o[2], e[2];
        char *argv[17];

        make_argv(argv, args);
        signal(SIGPIPE, SIG_IGN);
        ck_assert(pipe2(i, O_CLOEXEC) == 0 && pipe2(o, O_CLOEXEC) == 0 && pipe2(e, O_CLOEXEC) == 0);
        p->olen = p->elen = 0;
        p->obuf[0] = p->ebuf[0] = '\0';
        p->pid = fork();
        ck_assert_int_ge(p->pid, 0);
        if (p->pid == 0) {
                signal(SIGPIPE, SIG_DFL);
                dup2(i[0], STDIN_FILENO);
                dup2(o[1], STDOUT_FILENO);
                dup2(e[1], STDERR_FILENO);
                if (nc) {
                        argv[0] = (char *)"nc";
                        execvp("nc", argv);
                } else {
                        exec_pichat(argv);
                }
                _exit(127);
        }
        close(i[0]);
        close(o[1]);
        close(e[1]);
        p->in = i[1];
        p->out = o[0];
        p->err = e[0];
}

static void proc_start(struct proc *p, const char *const args[])
{
        proc_spawn(p, args, false);
}

static bool proc_write(struct proc *p, const char *s)
{
        return write(p->in, s, strlen(s)) == (ssize_t)strlen(s);
}

static void proc_close_input(struct proc *p)
{
        if (p->in >= 0)
                close(p->in);
        p->in = -1;
}

/* Read what stdout and stderr have within timeout_ms; false once both are
 * at EOF. */
static bool proc_pump(struct proc *p, int timeout_ms)
{
        struct pollfd pfd[2] = { { .fd = p->out, .events = POLLIN },
                                 { .fd = p->err, .events = POLLIN } };

        if (p->out < 0 && p->err < 0)
                return false;
        if (poll(pfd, 2, timeout_ms) <= 0)
                return true;
        for (int k = 0; k < 2; k++) {
                int *fd = k == 0 ? &p->out : &p->err;
                char *buf = k == 0 ? p->obuf : p->ebuf;
                size_t *len = k == 0 ? &p->olen : &p->elen;
                size_t size = k == 0 ? sizeof(p->obuf) : sizeof(p->ebuf);

                if (!pfd[k].revents)
                        continue;
                ssize_t n = read(*fd, buf + *len, size - 1 - *len);
                if (n <= 0) {
                        close(*fd);
                        *fd = -1;
                        continue;
                }
                *len += (size_t)n;
                buf[*len] = '\0';
        }
        return true;
}

/* true once stdout (or stderr) contains needle. */
static bool proc_wait(struct proc *p, bool on_stderr, const char *needle, int timeout_ms)
{
        long long end = clock_now_ms() + timeout_ms;

        while (!strstr(on_stderr ? p->ebuf : p->obuf, needle)) {
                long long left = end - clock_now_ms();
                if (left <= 0 || !proc_pump(p, (int)left)) {
                        fprintf(stderr, "waited for '%s' on %s; stdout: '%s' stderr: '%s'\n",
                                needle, on_stderr ? "stderr" : "stdout", p->obuf, p->ebuf);
                        return false;
                }
        }
        return true;
}

/* Close stdin, collect all output, and return the exit status (-1 if it
 * had to be killed). */
static int proc_end(struct proc *p, int timeout_ms)
{
        long long end = clock_now_ms() + timeout_ms;

        proc_close_input(p);
        while (clock_now_ms() < end && proc_pump(p, 50))
                ;
        int r = pd_wait_pid(p->pid, (int)(end - clock_now_ms() > 0 ? end - clock_now_ms() : 1));
        if (p->out >= 0)
                close(p->out);
        if (p->err >= 0)
                close(p->err);
        p->out = p->err = -1;
        return r;
}

/* Run to the end with input on stdin. */
static int run(const char *const args[], const char *input, int timeout_ms)
{
        proc_start(&P, args);
        /* A client that ends early (refused, usage) closes the pipe:
         * a failed write is its business, not the test's. */
        if (input)
                proc_write(&P, input);
        return proc_end(&P, timeout_ms);
}

/* ---- sockets of our own ---- */

static unsigned local_port(int fd)
{
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);

        ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
        return ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                              : ((struct sockaddr_in *)&ss)->sin_port);
}

/* A socket bound to 127.0.0.1, port chosen by the kernel; listening if
 * listen_too. */
static int bound_socket(int type, bool listen_too, unsigned *port)
{
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);

        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        if (listen_too)
                ck_assert_int_eq(listen(fd, 8), 0);
        *port = local_port(fd);
        return fd;
}

/* Accept one client within timeout_ms into c (for pd_line and friends). */
static void accept_client(int lfd, struct pd_client *c, int timeout_ms)
{
        struct pollfd pfd = { .fd = lfd, .events = POLLIN };

        ck_assert_msg(poll(&pfd, 1, timeout_ms) == 1, "pichat did not connect");
        c->fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        ck_assert_int_ge(c->fd, 0);
        c->len = 0;
        c->tls = NULL;
}

/* Exactly n bytes from fd within timeout_ms. */
static void read_exactly(int fd, void *buf, size_t n, int timeout_ms)
{
        long long end = clock_now_ms() + timeout_ms;
        size_t got = 0;

        while (got < n) {
                struct pollfd pfd = { .fd = fd, .events = POLLIN };
                long long left = end - clock_now_ms();
                ck_assert_msg(left > 0 && poll(&pfd, 1, (int)left) == 1,
                              "only %zu of %zu bytes arrived", got, n);
                ssize_t r = recv(fd, (char *)buf + got, n - got, 0);
                ck_assert_int_gt(r, 0);
                got += (size_t)r;
        }
}

/* ---- scripted, against pichatd ---- */

static struct pd d;
static bool d_running;

static void start_daemon(void)
{
        ck_assert_int_eq(pd_start(&d, NULL), 0);
        d_running = true;
}

static void stop_daemon(void)
{
        if (d_running)
                ck_assert_int_eq(pd_stop(&d), 0);
        d_running = false;
}

START_TEST(tcp_echo_scripted)
{
        char port[16];

        start_daemon();
        snprintf(port, sizeof(port), "%u", d.echo_port);
        /* the last line has no line end: it is sent all the same */
        const char *const args[] = { "127.0.0.1", port, NULL };
        ck_assert_int_eq(run(args, "hi\ntwo words\r\nlast", 15000), 0);
        ck_assert_str_eq(P.obuf, WELCOME "\nOK...hi\nOK...two words\nOK...last\n");
        /* no prompt, no "Connected", no "Disconnected": we ended it */
        ck_assert_str_eq(P.ebuf, "");
        ck_assert(pd_log_wait(&d, "connected 127.0.0.1:", 2000));
        stop_daemon();
}
END_TEST

START_TEST(tcp_echo_ipv6)
{
        char port[16];

        start_daemon();
        snprintf(port, sizeof(port), "%u", d.echo_port);
        const char *const args[] = { "-6", "::1", port, NULL };
        ck_assert_int_eq(run(args, "over six\n", 15000), 0);
        ck_assert_str_eq(P.obuf, WELCOME "\nOK...over six\n");
        ck_assert(pd_log_wait(&d, "connected [::1]:", 2000));
        stop_daemon();
}
END_TEST

START_TEST(udp_echo_scripted)
{
        char port[16];

        start_daemon();
        snprintf(port, sizeof(port), "%u", d.udp_port);
        const char *const v4[] = { "-u", "127.0.0.1", port, NULL };
        ck_assert_int_eq(run(v4, "one\ntwo\n", 15000), 0);
        ck_assert_str_eq(P.obuf, "OK...one\nOK...two\n");
        ck_assert_str_eq(P.ebuf, "");
        const char *const v6[] = { "--udp", "-6", "::1", port, NULL };
        ck_assert_int_eq(run(v6, "six\n", 15000), 0);
        ck_assert_str_eq(P.obuf, "OK...six\n");
        stop_daemon();
}
END_TEST

START_TEST(udp_timeout_carries_on)
{
        unsigned port;
        int fd = bound_socket(SOCK_DGRAM, false, &port);
        char sport[16], want[96], got[64];
        long long start = clock_now_ms();

        snprintf(sport, sizeof(sport), "%u", port);
        const char *const args[] = { "-u", "-t", "1", "127.0.0.1", sport, NULL };
        ck_assert_int_eq(run(args, "x\ny\n", 15000), 0);
        ck_assert_int_ge(clock_now_ms() - start, 2000);
        snprintf(want, sizeof(want), "pichat: no reply from 127.0.0.1:%u (timeout)\n", port);
        /* one per line: the first silence did not end the dialogue */
        ck_assert_ptr_nonnull(strstr(P.ebuf, want));
        ck_assert_ptr_nonnull(strstr(strstr(P.ebuf, want) + 1, want));
        ck_assert_str_eq(P.obuf, "");
        /* both went out, as bare datagrams */
        ck_assert_int_eq(recv(fd, got, sizeof(got), MSG_DONTWAIT), 1);
        ck_assert_int_eq(got[0], 'x');
        ck_assert_int_eq(recv(fd, got, sizeof(got), MSG_DONTWAIT), 1);
        ck_assert_int_eq(got[0], 'y');
        close(fd);
}
END_TEST

START_TEST(connection_refused)
{
        unsigned port;
        /* bound but never listening: the port is ours, and refuses */
        int fd = bound_socket(SOCK_STREAM, false, &port);
        char sport[16], want[96];
        long long start = clock_now_ms();

        snprintf(sport, sizeof(sport), "%u", port);
        const char *const args[] = { "127.0.0.1", sport, NULL };
        ck_assert_int_eq(run(args, "never sent\n", 15000), 1);
        ck_assert_int_lt(clock_now_ms() - start, 5000);
        snprintf(want, sizeof(want), "pichat: cannot connect to 127.0.0.1:%u: Connection refused\n",
                 port);
        ck_assert_str_eq(P.ebuf, want);
        ck_assert_str_eq(P.obuf, "");
        close(fd);
}
END_TEST

START_TEST(connect_timeout)
{
        unsigned port;
        /* A listener whose queue is full drops new SYNs: connecting to it
         * hangs until the client gives up. */
        int lfd = bound_socket(SOCK_STREAM, false, &port);
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        int fill[4];
        char sport[16], want[96];
        long long start;

        ck_assert_int_eq(listen(lfd, 0), 0);
        for (int i = 0; i < 4; i++) {
                fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
                ck_assert_int_ge(fill[i], 0);
                connect(fill[i], (struct sockaddr *)&sa, sizeof(sa));
        }
        usleep(200000);
        snprintf(sport, sizeof(sport), "%u", port);
        const char *const args[] = { "-t", "1", "127.0.0.1", sport, NULL };
        start = clock_now_ms();
        ck_assert_int_eq(run(args, NULL, 15000), 1);
        ck_assert_int_ge(clock_now_ms() - start, 900);
        ck_assert_int_lt(clock_now_ms() - start, 8000);
        snprintf(want, sizeof(want), "pichat: cannot connect to 127.0.0.1:%u: Connection timed out\n",
                 port);
        ck_assert_str_eq(P.ebuf, want);
        for (int i = 0; i < 4; i++)
                close(fill[i]);
        close(lfd);
}
END_TEST

START_TEST(unknown_host)
{
        /* .invalid never resolves (RFC 6761) */
        static const char want[] = "pichat: cannot resolve no-such-host.pichat-test.invalid: ";
        const char *const args[] = { "no-such-host.pichat-test.invalid", NULL };

        ck_assert_int_eq(run(args, NULL, 30000), 1);
        ck_assert_msg(strncmp(P.ebuf, want, sizeof(want) - 1) == 0, "stderr: %s", P.ebuf);
        /* one line */
        ck_assert_ptr_eq(strchr(P.ebuf, '\n'), P.ebuf + P.elen - 1);
}
END_TEST

START_TEST(usage_errors)
{
        static const char *const bad[][4] = {
                { NULL },
                { "-x", "localhost", NULL },
                { "localhost", "0", NULL },
                { "localhost", "65536", NULL },
                { "-t", "0", "localhost", NULL },
                { "-4", "-6", "localhost", NULL },
                { "a", "1", "b", NULL },
        };

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                ck_assert_int_eq(run(bad[i], NULL, 10000), 2);
                ck_assert_ptr_nonnull(strstr(P.ebuf, "pichat: "));
                ck_assert_ptr_nonnull(strstr(P.ebuf, "--help"));
                ck_assert_str_eq(P.obuf, "");
        }
        const char *const help[] = { "--help", NULL };
        ck_assert_int_eq(run(help, NULL, 10000), 0);
        ck_assert_ptr_nonnull(strstr(P.obuf, "Usage: pichat "));
        const char *const version[] = { "--version", NULL };
        ck_assert_int_eq(run(version, NULL, 10000), 0);
        ck_assert_int_eq(strncmp(P.obuf, "pichat ", 7), 0);
}
END_TEST

START_TEST(server_closes)
{
        char port[16];

        start_daemon();
        snprintf(port, sizeof(port), "%u", d.echo_port);
        const char *const args[] = { "127.0.0.1", port, NULL };
        proc_start(&P, args);
        ck_assert(proc_wait(&P, false, WELCOME "\n", 10000));
        /* stdin stays open: the close comes from the server */
        stop_daemon();
        ck_assert(proc_wait(&P, true, DISCONNECTED "\n", 10000));
        ck_assert_int_eq(proc_end(&P, 10000), 0);
        ck_assert_str_eq(P.obuf, WELCOME "\nserver shutting down\n");
        ck_assert_str_eq(P.ebuf, DISCONNECTED "\n");
}
END_TEST

START_TEST(chat_between_two_clients)
{
        char port[16];
        static struct proc bob;

        start_daemon();
        snprintf(port, sizeof(port), "%u", d.chat_port);
        const char *const a_args[] = { "-n", "alice", "127.0.0.1", port, NULL };
        const char *const b_args[] = { "-n", "bob", "::1", port, NULL };
        proc_start(&P, a_args);
        proc_start(&bob, b_args);
        /* a greeting first, then the nick is taken */
        ck_assert(proc_wait(&P, false, "* you are now known as alice\n", 10000));
        ck_assert(proc_wait(&bob, false, "* you are now known as bob\n", 10000));
        ck_assert_ptr_nonnull(strstr(P.obuf, "Welcome"));
        ck_assert(proc_write(&P, "hello bob\n"));
        ck_assert(proc_wait(&bob, false, "<alice> hello bob\n", 10000));
        ck_assert(proc_write(&bob, "hi alice, caf\xc3\xa9\n"));
        ck_assert(proc_wait(&P, false, "<bob> hi alice, caf\xc3\xa9\n", 10000));
        ck_assert_int_eq(proc_end(&P, 15000), 0);
        ck_assert_int_eq(proc_end(&bob, 15000), 0);
        ck_assert_str_eq(P.ebuf, "");
        stop_daemon();
}
END_TEST

START_TEST(password_from_environment)
{
        char port[16];

        ck_assert_int_eq(pd_start(&d, "[chat]\npassword = s3cret\n"), 0);
        d_running = true;
        snprintf(port, sizeof(port), "%u", d.chat_port);
        const char *const args[] = { "-n", "alice", "127.0.0.1", port, NULL };
        setenv("PICHAT_PASSWORD", "s3cret", 1);
        proc_start(&P, args);
        unsetenv("PICHAT_PASSWORD");
        /* /pass goes before /nick, or the nick would count as a wrong try */
        ck_assert(proc_wait(&P, false, "* password accepted\n", 10000));
        ck_assert(proc_wait(&P, false, "* you are now known as alice\n", 10000));
        ck_assert_ptr_null(strstr(P.obuf, "wrong password"));
        proc_close_input(&P);
        ck_assert_int_eq(proc_end(&P, 15000), 0);
        stop_daemon();
}
END_TEST

/* ---- scripted, against a server of our own ---- */

START_TEST(nick_sent_first)
{
        unsigned port;
        int lfd = bound_socket(SOCK_STREAM, true, &port);
        struct pd_client c;
        char sport[16], raw[64];
        static const char want[] = "/nick alice\r\nhello\r\n";

        snprintf(sport, sizeof(sport), "%u", port);
        const char *const args[] = { "-n", "alice", "127.0.0.1", sport, NULL };
        proc_start(&P, args);
        accept_client(lfd, &c, 10000);
        ck_assert(proc_write(&P, "hello\n"));
        read_exactly(c.fd, raw, sizeof(want) - 1, 10000);
        ck_assert_int_eq(memcmp(raw, want, sizeof(want) - 1), 0);
        proc_close_input(&P);
        /* end of input closes our sending side; the server sees EOF */
        ck_assert(pd_wait_closed(&c, 10000));
        pd_close(&c);
        ck_assert_int_eq(proc_end(&P, 10000), 0);
        close(lfd);
}
END_TEST

START_TEST(telnet_and_controls_filtered)
{
        unsigned port;
        int lfd = bound_socket(SOCK_STREAM, true, &port);
        struct pd_client c;
        char sport[16];
        unsigned char reply[6];
        /* DO ECHO, WILL SUPPRESS-GO-AHEAD, a subnegotiation, colour codes,
         * a bell, a title change, and UTF-8 that must survive */
        static const char burst[] =
                "\xff\xfd\x01\xff\xfb\x03" "\x1b[1;31mred\x1b[0m\r\n"
                "be\x07ll\xff\xfa\x18\x01\xff\xf0!\r\n"
                "\x1b]0;owned\x07" "caf\xc3\xa9 \xe2\x9c\x93\r\n"
                "lone\rcr\n";
        static const unsigned char refusals[] = { 0xff, 0xfc, 0x01, 0xff, 0xfe, 0x03 };

        snprintf(sport, sizeof(sport), "%u", port);
        const char *const args[] = { "127.0.0.1", sport, NULL };
        proc_start(&P, args);
        accept_client(lfd, &c, 10000);
        /* split mid-sequence, to cross reads */
        ck_assert_int_eq(pd_send_raw(&c, burst, 4), 0);
        usleep(100000);
        ck_assert_int_eq(pd_send_raw(&c, burst + 4, sizeof(burst) - 1 - 4), 0);
        /* WONT ECHO, DONT SGA */
        read_exactly(c.fd, reply, sizeof(reply), 10000);
        ck_assert_int_eq(memcmp(reply, refusals, sizeof(refusals)), 0);
        ck_assert(proc_wait(&P, false, "cr\n", 10000));
        pd_close(&c);
        ck_assert(proc_wait(&P, true, DISCONNECTED "\n", 10000));
        ck_assert_int_eq(proc_end(&P, 10000), 0);
        ck_assert_str_eq(P.obuf, "red\nbell!\ncaf\xc3\xa9 \xe2\x9c\x93\nlone\ncr\n");
        close(lfd);
}
END_TEST

START_TEST(connection_reset)
{
        unsigned port;
        int lfd = bound_socket(SOCK_STREAM, true, &port);
        struct pd_client c;
        struct linger hard = { .l_onoff = 1, .l_linger = 0 };
        char sport[16], want[96];

        snprintf(sport, sizeof(sport), "%u", port);
        const char *const args[] = { "127.0.0.1", sport, NULL };
        proc_start(&P, args);
        accept_client(lfd, &c, 10000);
        ck_assert_int_eq(pd_send(&c, "last words\r\n"), 0);
        ck_assert(proc_wait(&P, false, "last words\n", 10000));
        /* a reset is not a goodbye: it is a connection error */
        setsockopt(c.fd, SOL_SOCKET, SO_LINGER, &hard, sizeof(hard));
        pd_close(&c);
        ck_assert_int_eq(proc_end(&P, 10000), 1);
        snprintf(want, sizeof(want), "pichat: connection to 127.0.0.1:%u lost: "
                 "Connection reset by peer\n", port);
        ck_assert_str_eq(P.ebuf, want);
        close(lfd);
}
END_TEST

START_TEST(long_line_scripted)
{
        enum { N = 100000 };
        unsigned port;
        int lfd = bound_socket(SOCK_STREAM, true, &port);
        struct pd_client c;
        char sport[16];
        static char big[N + 2];

        memset(big, 'x', N);
        memcpy(big + N, "\r\n", 2);
        snprintf(sport, sizeof(sport), "%u", port);
        const char *const args[] = { "127.0.0.1", sport, NULL };
        proc_start(&P, args);
        accept_client(lfd, &c, 10000);
        ck_assert_int_eq(pd_send_raw(&c, big, sizeof(big)), 0);
        pd_close(&c);
        ck_assert_int_eq(proc_end(&P, 15000), 0);
        ck_assert_uint_eq(P.olen, N + 1);
        ck_assert_int_eq(P.obuf[N], '\n');
        ck_assert_uint_eq(strspn(P.obuf, "x"), N);
        close(lfd);
}
END_TEST

START_TEST(silent_server_after_input_ends)
{
        unsigned port;
        int lfd = bound_socket(SOCK_STREAM, true, &port);
        struct pd_client c;
        char sport[16];
        long long start;

        snprintf(sport, sizeof(sport), "%u", port);
        const char *const args[] = { "-t", "1", "127.0.0.1", sport, NULL };
        proc_start(&P, args);
        accept_client(lfd, &c, 10000);
        ck_assert_int_eq(pd_send(&c, "hello, never closing\r\n"), 0);
        ck_assert(proc_wait(&P, false, "hello, never closing\n", 10000));
        /* The server keeps the connection open: the client must still end,
         * about -t seconds after its input did. */
        start = clock_now_ms();
        ck_assert_int_eq(proc_end(&P, 10000), 0);
        ck_assert_int_lt(clock_now_ms() - start, 5000);
        ck_assert_str_eq(P.ebuf, "");
        pd_close(&c);
        close(lfd);
}
END_TEST

/* ---- interactive, on a pseudo-terminal ---- */

struct tty {
        pid_t pid;
        int master, slave;      /* we keep the slave open to read its settings */
        struct termios orig;
        char buf[256 * 1024];
        size_t len, pos;        /* pos: where the next expectation starts */
};

static struct tty T;

static void tty_start(struct tty *t, const char *const args[])
{
        struct winsize ws = { .ws_row = 24, .ws_col = 80 };
        char *argv[17];

        make_argv(argv, args);
        ck_assert_int_eq(openpty(&t->master, &t->slave, NULL, NULL, &ws), 0);
        ck_assert_int_eq(tcgetattr(t->slave, &t->orig), 0);
        ck_assert(t->orig.c_lflag & ICANON);
        t->len = t->pos = 0;
        t->pid = fork();
        ck_assert_int_ge(t->pid, 0);
        if (t->pid == 0) {
                signal(SIGPIPE, SIG_DFL);
                close(t->master);
                if (login_tty(t->slave) < 0)
                        _exit(126);
                exec_pichat(argv);
                _exit(127);
        }
}

static void tty_pump(struct tty *t, int timeout_ms)
{
        struct pollfd pfd = { .fd = t->master, .events = POLLIN };

        if (poll(&pfd, 1, timeout_ms) <= 0)
                return;
        ssize_t n = read(t->master, t->buf + t->len, sizeof(t->buf) - 1 - t->len);
        if (n > 0) {
                t->len += (size_t)n;
                t->buf[t->len] = '\0';
        }
}

/* true once the screen output after the last expectation contains needle;
 * the next expectation starts after it. */
static bool tty_expect(struct tty *t, const char *needle, int timeout_ms)
{
        long long end = clock_now_ms() + timeout_ms;

        for (;;) {
                char *hit = strstr(t->buf + t->pos, needle);
                if (hit) {
                        t->pos = (size_t)(hit - t->buf) + strlen(needle);
                        return true;
                }
                long long left = end - clock_now_ms();
                if (left <= 0 || t->len == sizeof(t->buf) - 1) {
                        fprintf(stderr, "waited for '%s' on the terminal; after it had: '%s'\n",
                                needle, t->buf + t->pos);
                        return false;
                }
                tty_pump(t, (int)left);
        }
}

static void tty_type(struct tty *t, const char *keys)
{
        ck_assert_int_eq(write(t->master, keys, strlen(keys)), (ssize_t)strlen(keys));
}

/* Wait for the client to end; its terminal must be as it found it. */
static int tty_end(struct tty *t, int timeout_ms)
{
        struct termios now;
        long long end = clock_now_ms() + timeout_ms;
        int status = -1;

        for (;;) {
                pid_t r = waitpid(t->pid, &status, WNOHANG);
                if (r == t->pid)
                        break;
                if (clock_now_ms() > end) {
                        fprintf(stderr, "pichat did not end; terminal: '%s'\n", t->buf + t->pos);
                        kill(t->pid, SIGKILL);
                        waitpid(t->pid, &status, 0);
                        status = -1;
                        break;
                }
                tty_pump(t, 10);
        }
        tty_pump(t, 50);
        ck_assert_int_eq(tcgetattr(t->slave, &now), 0);
        ck_assert_uint_eq(now.c_lflag, t->orig.c_lflag);
        ck_assert_int_eq(memcmp(now.c_cc, t->orig.c_cc, sizeof(now.c_cc)), 0);
        close(t->master);
        close(t->slave);
        return status >= 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* An interactive client connected to a server of our own. */
static int tty_connect(struct pd_client *c, const char *nick)
{
        unsigned port;
        int lfd = bound_socket(SOCK_STREAM, true, &port);
        char sport[16];

        snprintf(sport, sizeof(sport), "%u", port);
        const char *const plain[] = { "127.0.0.1", sport, NULL };
        const char *const named[] = { "-n", nick, "127.0.0.1", sport, NULL };
        tty_start(&T, nick ? named : plain);
        accept_client(lfd, c, 10000);
        ck_assert(tty_expect(&T, CONNECTED "\r\n", 10000));
        ck_assert(tty_expect(&T, "<You> ", 10000));
        /* the line editor is on: no canonical mode, no kernel echo */
        struct termios raw;
        ck_assert_int_eq(tcgetattr(T.slave, &raw), 0);
        ck_assert(!(raw.c_lflag & (ICANON | ECHO)));
        return lfd;
}

START_TEST(tty_prompt_survives_incoming_line)
{
        struct pd_client c;
        int lfd = tty_connect(&c, NULL);
        char line[256];

        /* half a line, no Enter: it is echoed after the prompt */
        tty_type(&T, "half a li");
        ck_assert(tty_expect(&T, "half a li", 5000));
        ck_assert(pd_quiet(&c, 200));
        /* a line arrives: the prompt line is erased, the line printed, and
         * the prompt drawn again with the half line, ready for more */
        ck_assert_int_eq(pd_send(&c, "incoming line\r\n"), 0);
        ck_assert(tty_expect(&T, "\r\033[J", 5000));
        ck_assert(tty_expect(&T, "incoming line\r\n", 5000));
        ck_assert(tty_expect(&T, "<You> half a li", 5000));
        ck_assert_str_eq(T.buf + T.pos, "");
        /* Enter sends the whole line, typed before and after */
        tty_type(&T, "ne\r");
        ck_assert_int_eq(pd_line(&c, line, sizeof(line), 5000), 11);
        ck_assert_str_eq(line, "half a line");
        /* the sent line stays on screen, a fresh prompt follows */
        ck_assert(tty_expect(&T, "ne\r\n<You> ", 5000));
        /* Backspace and Ctrl-U edit before anything is sent */
        tty_type(&T, "abX\x7f" "c\r");
        ck_assert(pd_expect_next(&c, "abc", 5000));
        tty_type(&T, "junk\x15ok\r");
        ck_assert(pd_expect_next(&c, "ok", 5000));
        /* Ctrl-D on the empty prompt ends it cleanly */
        tty_type(&T, "\x04");
        ck_assert_int_eq(tty_end(&T, 10000), 0);
        ck_assert(pd_wait_closed(&c, 5000));
        pd_close(&c);
        close(lfd);
}
END_TEST

START_TEST(tty_nick_and_long_line)
{
        enum { N = 10000 };
        struct pd_client c;
        int lfd = tty_connect(&c, "carol");
        static char big[N + 3];
        size_t xs = 0, pieces = 0;

        ck_assert(pd_expect_next(&c, "/nick carol", 5000));
        tty_type(&T, "typing");
        ck_assert(tty_expect(&T, "typing", 5000));
        memset(big, 'x', N);
        memcpy(big + N, "\r\n", 3);
        ck_assert_int_eq(pd_send(&c, big), 0);
        ck_assert_int_eq(pd_send(&c, "after\r\n"), 0);
        ck_assert(tty_expect(&T, "after\r\n<You> typing", 10000));
        /* all of it arrived, in pieces of at most 4 KiB, each a line */
        for (size_t i = 0; i < T.len; i++) {
                if (T.buf[i] != 'x')
                        continue;
                size_t run = strspn(T.buf + i, "x");
                ck_assert_uint_le(run, 4096);
                ck_assert_int_eq(T.buf[i + run], '\r');
                xs += run;
                pieces++;
                i += run;
        }
        ck_assert_uint_eq(xs, N);
        ck_assert_uint_ge(pieces, 3);
        tty_type(&T, "\x03");
        ck_assert_int_eq(tty_end(&T, 10000), 0);
        pd_close(&c);
        close(lfd);
}
END_TEST

START_TEST(tty_ctrl_c_restores_terminal)
{
        struct pd_client c;
        char line[64];
        int lfd = tty_connect(&c, NULL);

        tty_type(&T, "unsent");
        ck_assert(tty_expect(&T, "unsent", 5000));
        tty_type(&T, "\x03");
        ck_assert_int_eq(tty_end(&T, 10000), 0);
        /* the connection ends, and nothing half typed leaked out */
        ck_assert_int_eq(pd_line(&c, line, sizeof(line), 5000), -2);
        pd_close(&c);
        close(lfd);
}
END_TEST

START_TEST(tty_server_closes)
{
        struct pd_client c;
        int lfd = tty_connect(&c, NULL);

        ck_assert_int_eq(pd_send(&c, "goodbye\r\n"), 0);
        ck_assert(tty_expect(&T, "goodbye\r\n<You> ", 5000));
        pd_close(&c);
        ck_assert(tty_expect(&T, DISCONNECTED "\r\n", 5000));
        ck_assert_int_eq(tty_end(&T, 10000), 0);
        close(lfd);
}
END_TEST

START_TEST(tty_udp_dialogue)
{
        char port[16];

        start_daemon();
        snprintf(port, sizeof(port), "%u", d.udp_port);
        const char *const args[] = { "-u", "127.0.0.1", port, NULL };
        tty_start(&T, args);
        ck_assert(tty_expect(&T, "Enter message to send : ", 10000));
        tty_type(&T, "ping\r");
        ck_assert(tty_expect(&T, "Server reply : OK...ping\r\n", 10000));
        ck_assert(tty_expect(&T, "Enter message to send : ", 10000));
        tty_type(&T, "\x04");
        ck_assert_int_eq(tty_end(&T, 10000), 0);
        stop_daemon();
}
END_TEST

START_TEST(tty_chat_redraw)
{
        char port[16];
        static struct proc bob;

        start_daemon();
        snprintf(port, sizeof(port), "%u", d.chat_port);
        const char *const a_args[] = { "-n", "alice", "127.0.0.1", port, NULL };
        const char *const b_args[] = { "-n", "bob", "127.0.0.1", port, NULL };
        tty_start(&T, a_args);
        ck_assert(tty_expect(&T, "* you are now known as alice\r\n<You> ", 10000));
        proc_start(&bob, b_args);
        ck_assert(proc_wait(&bob, false, "* you are now known as bob\n", 10000));
        tty_type(&T, "half");
        ck_assert(tty_expect(&T, "half", 5000));
        ck_assert(proc_write(&bob, "hey alice\n"));
        ck_assert(tty_expect(&T, "<bob> hey alice\r\n<You> half", 10000));
        tty_type(&T, " done\r");
        ck_assert(proc_wait(&bob, false, "<alice> half done\n", 10000));
        tty_type(&T, "\x04");
        ck_assert_int_eq(tty_end(&T, 10000), 0);
        ck_assert_int_eq(proc_end(&bob, 15000), 0);
        stop_daemon();
}
END_TEST

/* ---- one peer: pichat -l, TCP and UDP ---- */

/* The port a listening pichat said it got ("pichat: listening on
 * 127.0.0.1:PORT", when asked for port 0). */
static unsigned listening_port(struct proc *p)
{
        unsigned port = 0;

        ck_assert(proc_wait(p, true, "pichat: listening on 127.0.0.1:", 10000));
        ck_assert(proc_wait(p, true, "\n", 10000));
        const char *at = strstr(p->ebuf, "pichat: listening on 127.0.0.1:");
        ck_assert_int_eq(sscanf(at + strlen("pichat: listening on 127.0.0.1:"), "%u", &port), 1);
        ck_assert_uint_gt(port, 0);
        return port;
}

/* Two pichats, each named: introductions, not shown, then "<name> line". */
START_TEST(peer_chat_named)
{
        static struct proc alice, bob;
        char sport[16];

        const char *const a_args[] = { "-l", "-n", "alice", "-t", "2", "127.0.0.1", "0", NULL };
        proc_start(&alice, a_args);
        snprintf(sport, sizeof(sport), "%u", listening_port(&alice));
        ck_assert(proc_write(&alice, "hello bob\n"));
        const char *const b_args[] = { "-n", "bob", "-t", "2", "127.0.0.1", sport, NULL };
        proc_start(&bob, b_args);
        ck_assert(proc_write(&bob, "hi alice\nhow are you?\n"));
        ck_assert(proc_wait(&alice, false, "<bob> hi alice\n<bob> how are you?\n", 10000));
        ck_assert(proc_wait(&bob, false, "<alice> hello bob\n", 10000));
        ck_assert(proc_write(&alice, "fine\n"));
        ck_assert(proc_wait(&bob, false, "<alice> fine\n", 10000));
        ck_assert_int_eq(proc_end(&bob, 15000), 0);
        ck_assert_int_eq(proc_end(&alice, 15000), 0);
        /* Nothing but the lines: the introductions are not shown. */
        ck_assert_str_eq(alice.obuf, "<bob> hi alice\n<bob> how are you?\n");
        ck_assert_str_eq(bob.obuf, "<alice> hello bob\n<alice> fine\n");
}
END_TEST

/* Without -n, plain lines both ways: nc is a peer (and telnet's lines,
 * CR LF, arrive the same). With -n (the second run) the nc user sees the
 * introduction first; nc gives none, so its lines stay plain. */
START_TEST(peer_chat_with_nc)
{
        static struct proc lis, nc;
        char sport[16];

        const char *const plain[] = { "-l", "-t", "2", "127.0.0.1", "0", NULL };
        const char *const named[] = { "-l", "-n", "alice", "-t", "2", "127.0.0.1", "0", NULL };
        proc_start(&lis, _i ? named : plain);
        snprintf(sport, sizeof(sport), "%u", listening_port(&lis));
        ck_assert(proc_write(&lis, "to nc\n"));
        const char *const nc_args[] = { "-q", "2", "127.0.0.1", sport, NULL };
        proc_spawn(&nc, nc_args, true);
        ck_assert(proc_write(&nc, "from nc\r\nsecond\n"));
        ck_assert(proc_wait(&lis, false, "from nc\nsecond\n", 10000));
        ck_assert(proc_wait(&nc, false, "to nc\r\n", 10000));
        ck_assert_int_eq(proc_end(&nc, 15000), 0);
        ck_assert_int_eq(proc_end(&lis, 15000), 0);
        ck_assert_str_eq(nc.obuf, _i ? "/nick alice\r\nto nc\r\n" : "to nc\r\n");
        ck_assert_str_eq(lis.obuf, "from nc\nsecond\n");
}
END_TEST

/* A second peer is told it is not wanted and closed; the first goes on. */
START_TEST(peer_second_refused)
{
        static struct proc lis;
        struct pd_client first, second;
        char line[256];

        const char *const args[] = { "-l", "-t", "2", "127.0.0.1", "0", NULL };
        proc_start(&lis, args);
        unsigned port = listening_port(&lis);
        ck_assert_int_eq(pd_connect(&first, port, AF_INET), 0);
        ck_assert_int_eq(pd_send(&first, "first\r\n"), 0);
        ck_assert(proc_wait(&lis, false, "first\n", 10000));
        ck_assert_int_eq(pd_connect(&second, port, AF_INET), 0);
        ck_assert_int_gt(pd_line(&second, line, sizeof(line), 5000), 0);
        ck_assert_str_eq(line, "pichat: busy: already chatting with someone else; try again later");
        ck_assert(pd_wait_closed(&second, 5000));
        ck_assert(proc_wait(&lis, true, "pichat: turned away 127.0.0.1:", 5000));
        ck_assert(proc_wait(&lis, true, ": already chatting\n", 5000));
        ck_assert_int_eq(pd_send(&first, "still here\r\n"), 0);
        ck_assert(proc_wait(&lis, false, "first\nstill here\n", 10000));
        ck_assert(proc_write(&lis, "bye\n"));
        ck_assert(pd_expect_next(&first, "bye", 5000));
        /* The peer leaves: the session ends, saying so. */
        pd_close(&first);
        pd_close(&second);
        ck_assert(proc_wait(&lis, true, "Disconnected from 127.0.0.1:", 10000));
        ck_assert_int_eq(proc_end(&lis, 15000), 0);
}
END_TEST

/* A port in use: one clear line and exit status 1, over TCP and UDP. */
START_TEST(peer_port_in_use)
{
        unsigned port;
        char sport[16], want[128];

        for (int udp = 0; udp < 2; udp++) {
                int fd = bound_socket(udp ? SOCK_DGRAM : SOCK_STREAM, !udp, &port);
                snprintf(sport, sizeof(sport), "%u", port);
                const char *const tcp_args[] = { "-l", "127.0.0.1", sport, NULL };
                const char *const udp_args[] = { "-u", "-l", "127.0.0.1", sport, NULL };
                ck_assert_int_eq(run(udp ? udp_args : tcp_args, NULL, 15000), 1);
                snprintf(want, sizeof(want), "pichat: cannot listen on 127.0.0.1:%u: Address "
                         "already in use\n", port);
                ck_assert_str_eq(P.ebuf, want);
                ck_assert_str_eq(P.obuf, "");
                close(fd);
        }
        const char *const bad[] = { "-l", "no-such-host.pichat-test.invalid", "4000", NULL };
        ck_assert_int_eq(run(bad, NULL, 30000), 1);
        ck_assert_ptr_nonnull(strstr(P.ebuf, "pichat: cannot resolve no-such-host"));
}
END_TEST

/* The address "[ADDR:PORT] " of a datagram's line in out (after from),
 * its port into *port: where that line starts, or NULL. */
static const char *marked(const char *out, unsigned *port)
{
        const char *m = strstr(out, "[127.0.0.1:");
        if (!m || sscanf(m + strlen("[127.0.0.1:"), "%u", port) != 1)
                return NULL;
        return m;
}

/* Two pichats chat over UDP; a datagram from a third party is shown with
 * its sender on both sides, and the listener then answers it. */
START_TEST(udp_chat_peers)
{
        static struct proc lis, cli;
        char sport[16], buf[256];
        unsigned cport = 0, tport;

        const char *const l_args[] = { "-u", "-l", "-t", "2", "127.0.0.1", "0", NULL };
        proc_start(&lis, l_args);
        unsigned port = listening_port(&lis);
        snprintf(sport, sizeof(sport), "%u", port);
        const char *const c_args[] = { "-u", "--chat", "-t", "3", "127.0.0.1", sport, NULL };
        proc_start(&cli, c_args);
        ck_assert(proc_write(&cli, "ping\n"));
        /* The first sender is marked: it is new, and the peer from now on. */
        ck_assert(proc_wait(&lis, false, "] ping\n", 10000));
        ck_assert_ptr_eq(marked(lis.obuf, &cport), lis.obuf);
        ck_assert(proc_write(&lis, "pong\n"));
        ck_assert(proc_wait(&cli, false, "pong\n", 10000));
        ck_assert_str_eq(cli.obuf, "pong\n");

        /* A stranger writes to the chatting client: marked, never mixed in. */
        int s = bound_socket(SOCK_DGRAM, false, &tport);
        struct sockaddr_storage to;
        socklen_t tl = pd_sockaddr("127.0.0.1", cport, &to);
        ck_assert_int_eq(sendto(s, "who is this?\n", 13, 0, (struct sockaddr *)&to, tl), 13);
        snprintf(buf, sizeof(buf), "pong\n[127.0.0.1:%u] who is this?\n", tport);
        ck_assert(proc_wait(&cli, false, buf, 10000));
        /* ... and to the listener, who answers it from then on. */
        tl = pd_sockaddr("127.0.0.1", port, &to);
        ck_assert_int_eq(sendto(s, "hello?\n", 7, 0, (struct sockaddr *)&to, tl), 7);
        snprintf(buf, sizeof(buf), "[127.0.0.1:%u] hello?\n", tport);
        ck_assert(proc_wait(&lis, false, buf, 10000));
        ck_assert(proc_write(&lis, "hi stranger\n"));
        struct pollfd p = { .fd = s, .events = POLLIN };
        ck_assert_int_eq(poll(&p, 1, 5000), 1);
        ck_assert_int_eq(recv(s, buf, sizeof(buf), 0), 12);
        ck_assert_mem_eq(buf, "hi stranger\n", 12);
        /* The client's peer stays the listener: its next line goes there. */
        ck_assert(proc_write(&cli, "still me\n"));
        snprintf(buf, sizeof(buf), "[127.0.0.1:%u] still me\n", cport);
        ck_assert(proc_wait(&lis, false, buf, 10000));
        close(s);
        ck_assert_int_eq(proc_end(&cli, 15000), 0);
        ck_assert_int_eq(proc_end(&lis, 15000), 0);
}
END_TEST

/* Nobody at the other end, nobody yet: said, and the chat goes on. */
START_TEST(udp_chat_nobody)
{
        unsigned port;
        char sport[16], want[160];
        int fd = bound_socket(SOCK_DGRAM, false, &port);

        /* Closed: bound a moment ago, closed now, so it refuses. */
        close(fd);
        snprintf(sport, sizeof(sport), "%u", port);
        const char *const args[] = { "-u", "--chat", "-t", "1", "127.0.0.1", sport, NULL };
        ck_assert_int_eq(run(args, "anyone?\nstill?\n", 15000), 0);
        snprintf(want, sizeof(want), "pichat: nobody listens at 127.0.0.1:%u (Connection "
                 "refused)\n", port);
        ck_assert_ptr_nonnull(strstr(P.ebuf, want));
        ck_assert_str_eq(P.obuf, "");

        const char *const l_args[] = { "-u", "-l", "-t", "1", "127.0.0.1", "0", NULL };
        proc_start(&P, l_args);
        port = listening_port(&P);
        ck_assert(proc_write(&P, "too early\n"));
        snprintf(want, sizeof(want), "pichat: nobody to send to yet: not sent (waiting for a "
                 "datagram on 127.0.0.1:%u)\n", port);
        ck_assert(proc_wait(&P, true, want, 10000));
        ck_assert_int_eq(proc_end(&P, 15000), 0);
}
END_TEST

/* Interactive: the same prompt and redraw as with a server. */
START_TEST(tty_peer_listen)
{
        static struct proc bob;
        char sport[16];

        const char *const args[] = { "-l", "-n", "alice", "127.0.0.1", "0", NULL };
        tty_start(&T, args);
        ck_assert(tty_expect(&T, "pichat: listening on 127.0.0.1:", 10000));
        ck_assert(tty_expect(&T, "\r\n", 10000));
        unsigned port = 0;
        ck_assert_int_eq(sscanf(strstr(T.buf, "listening on 127.0.0.1:") +
                                strlen("listening on 127.0.0.1:"), "%u", &port), 1);
        ck_assert(tty_expect(&T, "Waiting for a peer on 127.0.0.1:", 10000));
        snprintf(sport, sizeof(sport), "%u", port);
        const char *const b_args[] = { "-n", "bob", "-t", "2", "127.0.0.1", sport, NULL };
        proc_start(&bob, b_args);
        ck_assert(tty_expect(&T, "Connected with 127.0.0.1:", 10000));
        ck_assert(tty_expect(&T, ". Start sending messages\r\n", 10000));
        ck_assert(tty_expect(&T, "Chatting with bob (127.0.0.1:", 10000));
        ck_assert(tty_expect(&T, "<You> ", 10000));
        tty_type(&T, "half");
        ck_assert(tty_expect(&T, "half", 5000));
        ck_assert(proc_write(&bob, "hey alice\n"));
        ck_assert(tty_expect(&T, "<bob> hey alice\r\n<You> half", 10000));
        tty_type(&T, " done\r");
        ck_assert(proc_wait(&bob, false, "<alice> half done\n", 10000));
        tty_type(&T, "\x04");
        ck_assert_int_eq(tty_end(&T, 10000), 0);
        ck_assert_int_eq(proc_end(&bob, 15000), 0);
}
END_TEST

static void teardown(void)
{
        if (d_running)
                pd_stop(&d);
        d_running = false;
}

Suite *test_suite(void)
{
        Suite *s = suite_create("integration-client");
        TCase *scripted = tcase_create("scripted");
        TCase *own = tcase_create("own-server");
        TCase *tty = tcase_create("terminal");

        tcase_add_checked_fixture(scripted, NULL, teardown);
        tcase_set_timeout(scripted, 60);
        tcase_add_test(scripted, tcp_echo_scripted);
        tcase_add_test(scripted, tcp_echo_ipv6);
        tcase_add_test(scripted, udp_echo_scripted);
        tcase_add_test(scripted, udp_timeout_carries_on);
        tcase_add_test(scripted, connection_refused);
        tcase_add_test(scripted, unknown_host);
        tcase_add_test(scripted, usage_errors);
        tcase_add_test(scripted, server_closes);
        tcase_add_test(scripted, chat_between_two_clients);
        tcase_add_test(scripted, password_from_environment);
        suite_add_tcase(s, scripted);

        tcase_set_timeout(own, 60);
        tcase_add_test(own, connect_timeout);
        tcase_add_test(own, nick_sent_first);
        tcase_add_test(own, telnet_and_controls_filtered);
        tcase_add_test(own, connection_reset);
        tcase_add_test(own, long_line_scripted);
        tcase_add_test(own, silent_server_after_input_ends);
        suite_add_tcase(s, own);

        TCase *peers = tcase_create("peers");
        tcase_set_timeout(peers, 60);
        tcase_add_test(peers, peer_chat_named);
        tcase_add_loop_test(peers, peer_chat_with_nc, 0, 2);
        tcase_add_test(peers, peer_second_refused);
        tcase_add_test(peers, peer_port_in_use);
        tcase_add_test(peers, udp_chat_peers);
        tcase_add_test(peers, udp_chat_nobody);
        suite_add_tcase(s, peers);

        tcase_add_checked_fixture(tty, NULL, teardown);
        tcase_set_timeout(tty, 60);
        tcase_add_test(tty, tty_prompt_survives_incoming_line);
        tcase_add_test(tty, tty_nick_and_long_line);
        tcase_add_test(tty, tty_ctrl_c_restores_terminal);
        tcase_add_test(tty, tty_server_closes);
        tcase_add_test(tty, tty_udp_dialogue);
        tcase_add_test(tty, tty_chat_redraw);
        tcase_add_test(tty, tty_peer_listen);
        suite_add_tcase(s, tty);
        return s;
}
