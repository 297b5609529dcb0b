/* session_udp: the UDP echo dialogue, one datagram and one reply at a time.
 *
 * Each input line is sent as one datagram (without a line end) and its
 * reply is awaited for the timeout; a missing reply is reported and the
 * dialogue goes on, since UDP promises nothing. The socket is connected,
 * so only the server's datagrams are received, and anything left over
 * from an earlier, late reply is thrown away before the next send. */
#include "session.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "outfilter.h"
#include "screen.h"
#include "term.h"

#define DGRAM_SIZE      65536   /* more than any UDP payload */
#define INPUT_MAX       8192    /* a longer input line goes in several datagrams */
#define KEYS_SIZE       256

struct udp {
        struct session *s;
        struct screen sc;
        char line[INPUT_MAX];   /* scripted input line being collected */
        size_t len;
};

static void drain_stale(int fd)
{
        static char junk[DGRAM_SIZE];

        /* Also clears an ICMP error left by an earlier datagram, which
         * would otherwise fail the next send. */
        for (;;) {
                ssize_t n = recv(fd, junk, sizeof(junk), MSG_DONTWAIT);
                if (n < 0 && errno != ECONNREFUSED && errno != EINTR)
                        return;
        }
}

static void print_reply(struct udp *u, const uint8_t *data, size_t n)
{
        static char out[OUTF_MAX(DGRAM_SIZE) + 3];
        struct outf f;
        size_t len;

        screen_hide(&u->sc);
        outf_init(&f, false);
        len = outf_feed(&f, data, n, out, NULL, NULL);
        len += outf_finish(&f, out + len);
        /* The reply is one line to us; our own line end closes it. */
        if (len > 0 && out[len - 1] == '\n')
                len--;
        out[len++] = '\n';
        if (u->s->interactive)
                write_all(STDOUT_FILENO, "Server reply : ", 15);
        write_all(STDOUT_FILENO, out, len);
}

static void no_reply(struct udp *u, const char *why)
{
        fprintf(stderr, "pichat: no reply from %s (%s)\n", u->s->where, why);
}

/* Send one message and wait for its reply: 0 to go on, or SESSION_END. */
static int exchange(struct udp *u, const char *msg, size_t len)
{
        static uint8_t in[DGRAM_SIZE];
        int fd = u->s->fd;
        int64_t end;

        drain_stale(fd);
        while (send(fd, msg, len, 0) < 0) {
                if (errno == EINTR)
                        continue;
                fprintf(stderr, "pichat: cannot send to %s: %s\n", u->s->where, strerror(errno));
                return 0;
        }
        end = clock_now_ms() + (int64_t)u->s->a->timeout_s * 1000;
        for (;;) {
                struct pollfd pfd[2] = {
                        { .fd = fd, .events = POLLIN },
                        { .fd = u->s->sigfd, .events = POLLIN },
                };
                int64_t left = end - clock_now_ms();
                int r;

                if (left <= 0) {
                        no_reply(u, "timeout");
                        return 0;
                }
                r = poll(pfd, 2, (int)left);
                if (r < 0 && errno != EINTR) {
                        fprintf(stderr, "pichat: poll: %s\n", strerror(errno));
                        return SESSION_END;
                }
                if (r <= 0)
                        continue;
                if (pfd[1].revents && screen_signals(&u->sc))
                        return SESSION_END;
                if (pfd[0].revents) {
                        ssize_t n = recv(fd, in, sizeof(in), MSG_DONTWAIT);
                        if (n >= 0) {
                                print_reply(u, in, (size_t)n);
                                return 0;
                        }
                        if (errno != EINTR && errno != EAGAIN) {
                                no_reply(u, strerror(errno));
                                return 0;
                        }
                }
        }
}

/* Scripted input: every line (CR LF or LF) is a message. */
static int feed_lines(struct udp *u, const char *p, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                if (p[i] == '\n') {
                        size_t len = u->len;
                        if (len > 0 && u->line[len - 1] == '\r')
                                len--;
                        u->len = 0;
                        if (exchange(u, u->line, len) == SESSION_END)
                                return SESSION_END;
                        continue;
                }
                if (u->len == INPUT_MAX && exchange(u, u->line, u->len) == SESSION_END)
                        return SESSION_END;
                if (u->len == INPUT_MAX)
                        u->len = 0;
                u->line[u->len++] = p[i];
        }
        return 0;
}

static bool typed_line(void *arg, const char *line, size_t n)
{
        return exchange(arg, line, n) == SESSION_END;
}

static int read_stdin(struct udp *u)
{
        static char in[INPUT_MAX];
        ssize_t n = read(STDIN_FILENO, in, u->s->interactive ? KEYS_SIZE : sizeof(in));

        if (n < 0) {
                if (errno == EINTR || errno == EAGAIN)
                        return 0;
                n = 0;
        }
        if (n == 0) {
                /* A last line without its line end still counts. */
                if (!u->s->interactive && u->len > 0)
                        exchange(u, u->line, u->len);
                return SESSION_END;
        }
        if (!u->s->interactive)
                return feed_lines(u, in, (size_t)n);
        return screen_keys(&u->sc, in, (size_t)n, typed_line, u) ? SESSION_END : 0;
}

int udp_run(struct session *s)
{
        static struct udp u;
        int r = 0;

        memset(&u, 0, sizeof(u));
        u.s = s;
        screen_init(&u.sc, s->interactive, "Enter message to send : ");
        screen_show(&u.sc);
        while (r == 0) {
                struct pollfd pfd[2] = {
                        { .fd = STDIN_FILENO, .events = POLLIN },
                        { .fd = s->sigfd, .events = POLLIN },
                };

                if (poll(pfd, 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        fprintf(stderr, "pichat: poll: %s\n", strerror(errno));
                        break;
                }
                if (pfd[1].revents && screen_signals(&u.sc))
                        r = SESSION_END;
                if (r == 0 && pfd[0].revents)
                        r = read_stdin(&u);
        }
        screen_hide(&u.sc);
        /* UDP has no connection to lose: every end is a clean one. */
        return 0;
}
