/* session_udp: the UDP echo dialogue, one datagram and one reply at a time;
 * and the UDP chat, lines both ways as datagrams.
 *
 * Echo: each input line is sent as one datagram (without a line end) and
 * its reply is awaited for the timeout; a missing reply is reported and
 * the dialogue goes on, since UDP promises nothing. The socket is
 * connected, so only the server's datagrams are received, and anything
 * left over from an earlier, late reply is thrown away before the next
 * send.
 *
 * Chat: each input line goes to the peer as one datagram ending in a line
 * end (as nc -u sends them), and every datagram that comes is shown as it
 * arrives. The socket is not connected, so datagrams from anyone may come:
 * one from another than the peer is shown after its sender, "[ADDR:PORT]
 * text", never as the peer's. Listening (-l), the peer is whoever sent
 * last; with --chat it is HOST PORT, whoever else writes. ICMP errors
 * (nobody listening there) are reported, and the chat goes on. */
#include "session.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "clock.h"
#include "net.h"
#include "outfilter.h"
#include "screen.h"
#include "term.h"

#define DGRAM_SIZE      65536   /* more than any UDP payload */
#define INPUT_MAX       8192    /* a longer input line goes in several datagrams */
#define KEYS_SIZE       256

/* Scripted input, cut into lines. */
struct input_lines {
        char line[INPUT_MAX];   /* the line being collected */
        size_t len;
};

struct udp {
        struct session *s;
        struct screen sc;
        struct input_lines in;
};

/* Every line of p (CR LF or LF) to fn without its line end; a line longer
 * than INPUT_MAX goes in pieces. true when fn asks to end. */
static bool lines_feed(struct input_lines *in, const char *p, size_t n,
                       bool (*fn)(void *arg, const char *line, size_t len), void *arg)
{
        for (size_t i = 0; i < n; i++) {
                if (p[i] == '\n') {
                        size_t len = in->len;
                        if (len > 0 && in->line[len - 1] == '\r')
                                len--;
                        in->len = 0;
                        if (fn(arg, in->line, len))
                                return true;
                        continue;
                }
                if (in->len == INPUT_MAX) {
                        in->len = 0;
                        if (fn(arg, in->line, INPUT_MAX))
                                return true;
                }
                in->line[in->len++] = p[i];
        }
        return false;
}

/* The end of the input: a last line without its line end still counts. */
static void lines_end(struct input_lines *in,
                      bool (*fn)(void *arg, const char *line, size_t len), void *arg)
{
        if (in->len > 0)
                fn(arg, in->line, in->len);
        in->len = 0;
}

/* What stdin has: bytes into buf (keys, one read's worth, when
 * interactive), 0 at its end (or when it cannot be read), -1 for
 * nothing now. */
static ssize_t stdin_read(const struct session *s, char *buf, size_t size)
{
        ssize_t n = read(STDIN_FILENO, buf, s->interactive && size > KEYS_SIZE ? KEYS_SIZE : size);

        if (n < 0)
                return errno == EINTR || errno == EAGAIN ? -1 : 0;
        return n;
}

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

/* A datagram as one line for the terminal (its controls filtered), in
 * a buffer of the caller's: its length. A datagram is one line to us: our
 * own line end closes it. */
static size_t dgram_line(const uint8_t *data, size_t n, char out[OUTF_MAX(DGRAM_SIZE) + 3])
{
        struct outf f;
        size_t len;

        outf_init(&f, false);
        len = outf_feed(&f, data, n, out, NULL, NULL);
        len += outf_finish(&f, out + len);
        if (len > 0 && out[len - 1] == '\n')
                len--;
        out[len++] = '\n';
        return len;
}

static void print_reply(struct udp *u, const uint8_t *data, size_t n)
{
        static char out[OUTF_MAX(DGRAM_SIZE) + 3];
        size_t len = dgram_line(data, n, out);

        screen_hide(&u->sc);
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

/* A line typed or read is a message: true when the session ends. */
static bool typed_line(void *arg, const char *line, size_t n)
{
        return exchange(arg, line, n) == SESSION_END;
}

/* The loop of both UDP sessions: stdin (once *quiet_end is set, not any
 * more: the session ends when that time comes), the terminal's signals,
 * and sock when it is one (on_sock). Ends the screen. */
static void udp_loop(struct session *s, struct screen *sc, int sock, const int64_t *quiet_end,
                     int (*on_stdin)(void *arg), void (*on_sock)(void *arg), void *arg)
{
        int r = 0;

        while (r == 0) {
                int64_t now = clock_now_ms(), quiet = quiet_end ? *quiet_end : 0;
                struct pollfd pfd[3] = {
                        { .fd = quiet ? -1 : STDIN_FILENO, .events = POLLIN },
                        { .fd = s->sigfd, .events = POLLIN },
                        { .fd = sock, .events = POLLIN },
                };
                int wait = quiet ? (quiet > now ? (int)(quiet - now) : 0) : -1;

                if (poll(pfd, 3, wait) < 0) {
                        if (errno == EINTR)
                                continue;
                        fprintf(stderr, "pichat: poll: %s\n", strerror(errno));
                        break;
                }
                if (pfd[1].revents && screen_signals(sc))
                        r = SESSION_END;
                if (r == 0 && pfd[2].revents)
                        on_sock(arg);
                if (r == 0 && pfd[0].revents)
                        r = on_stdin(arg);
                if (quiet_end && *quiet_end && clock_now_ms() >= *quiet_end)
                        r = SESSION_END;
        }
        screen_hide(sc);
}

/* Read what stdin has and hand its lines to typed (a terminal's through
 * the line editor): what typed said (SESSION_END) or 0, and -1 at the
 * end of stdin (its last line handed on first). */
static int stdin_take(struct session *s, struct screen *sc, struct input_lines *in,
                      bool (*typed)(void *arg, const char *line, size_t n), void *arg)
{
        static char buf[INPUT_MAX];
        ssize_t n = stdin_read(s, buf, sizeof(buf));

        if (n < 0)
                return 0;
        if (n == 0) {
                if (!s->interactive)
                        lines_end(in, typed, arg);
                return -1;
        }
        if (!s->interactive)
                return lines_feed(in, buf, (size_t)n, typed, arg) ? SESSION_END : 0;
        return screen_keys(sc, buf, (size_t)n, typed, arg) ? SESSION_END : 0;
}

static int read_stdin(void *arg)
{
        struct udp *u = arg;
        int r = stdin_take(u->s, &u->sc, &u->in, typed_line, u);

        return r < 0 ? SESSION_END : r;
}

int udp_run(struct session *s)
{
        static struct udp u;

        memset(&u, 0, sizeof(u));
        u.s = s;
        screen_init(&u.sc, s->interactive, "Enter message to send : ");
        screen_show(&u.sc);
        /* Each message waits for its answer in read_stdin(). */
        udp_loop(s, &u.sc, -1, NULL, read_stdin, NULL, &u);
        /* UDP has no connection to lose: every end is a clean one. */
        return 0;
}

/* ---- the UDP chat ------------------------------------------------------- */

struct uchat {
        struct session *s;
        struct screen sc;
        struct sockaddr_storage peer;   /* where lines go */
        socklen_t peer_len;
        bool have_peer;
        bool fixed;                     /* --chat: the peer stays HOST PORT */
        struct input_lines in;
        int64_t quiet_end;              /* input done: end when silent till then */
};

static bool same_peer(const struct sockaddr *a, const struct sockaddr *b)
{
        struct addr_key ka, kb;

        addr_key_from(a, &ka);
        addr_key_from(b, &kb);
        return memcmp(&ka, &kb, sizeof(ka)) == 0 && addr_port(a) == addr_port(b);
}

/* A datagram from from: the peer's as it is, anyone else's after its
 * sender, who becomes the peer when listening. */
static void chat_show(struct uchat *u, const struct sockaddr *from, socklen_t flen,
                      const uint8_t *data, size_t n)
{
        static char out[OUTF_MAX(DGRAM_SIZE) + 3];
        char who[ADDR_STR_MAX + 4];
        bool other = !u->have_peer || !same_peer(from, (struct sockaddr *)&u->peer);
        size_t len = dgram_line(data, n, out);

        screen_hide(&u->sc);
        if (other) {
                addr_format(from, who + 1, sizeof(who) - 3);
                who[0] = '[';
                strcat(who, "] ");
                write_all(STDOUT_FILENO, who, strlen(who));
        }
        write_all(STDOUT_FILENO, out, len);
        if (other && !u->fixed) {
                memcpy(&u->peer, from, flen);
                u->peer_len = flen;
                u->have_peer = true;
                if (u->s->interactive) {
                        addr_format(from, who, sizeof(who));
                        fprintf(stderr, "pichat: now answering %s\n", who);
                }
        }
        screen_show(&u->sc);
}

/* Say the ICMP error queued for a datagram sent earlier, if there is one:
 * whether there was. */
static bool chat_error(struct uchat *u)
{
        struct sockaddr_storage about;
        char who[ADDR_STR_MAX];
        int err;

        if (net_udp_error(u->s->fd, &err, &about) < 0)
                return false;
        screen_hide(&u->sc);
        addr_format((struct sockaddr *)&about, who, sizeof(who));
        if (err == ECONNREFUSED)
                fprintf(stderr, "pichat: nobody listens at %s (%s)\n", who, strerror(err));
        else
                fprintf(stderr, "pichat: cannot reach %s: %s\n", who, strerror(err));
        screen_show(&u->sc);
        return true;
}

/* What the socket has: datagrams, or the ICMP errors of some sent. */
static void chat_receive(void *arg)
{
        struct uchat *u = arg;
        static uint8_t in[DGRAM_SIZE];
        struct sockaddr_storage from;

        for (int i = 0; i < 64; i++) {
                socklen_t flen = sizeof(from);
                ssize_t n = recvfrom(u->s->fd, in, sizeof(in), MSG_DONTWAIT,
                                     (struct sockaddr *)&from, &flen);
                if (n >= 0) {
                        chat_show(u, (struct sockaddr *)&from, flen, in, (size_t)n);
                        if (u->quiet_end)
                                u->quiet_end = clock_now_ms() + (int64_t)u->s->a->timeout_s * 1000;
                        continue;
                }
                if (errno == EINTR)
                        continue;
                /* With IP_RECVERR an ICMP error waits in the error queue
                 * (poll says POLLERR), whatever recvfrom() says. */
                if (!chat_error(u))
                        return;
        }
}

/* One line to the peer, with its line end. */
static void chat_send(struct uchat *u, const char *msg, size_t len)
{
        static char out[INPUT_MAX + 1];
        char who[ADDR_STR_MAX];
        bool retried = false;

        if (!u->have_peer) {
                screen_hide(&u->sc);
                fprintf(stderr, "pichat: nobody to send to yet: not sent (waiting for a datagram "
                        "on %s)\n", u->s->bound);
                screen_show(&u->sc);
                return;
        }
        memcpy(out, msg, len);
        out[len++] = '\n';
        while (sendto(u->s->fd, out, len, 0, (struct sockaddr *)&u->peer, u->peer_len) < 0) {
                if (errno == EINTR)
                        continue;
                /* The error of an earlier datagram fails this send: say
                 * that one, and send this one again. */
                int e = errno;
                if (!retried && chat_error(u)) {
                        retried = true;
                        continue;
                }
                screen_hide(&u->sc);
                addr_format((struct sockaddr *)&u->peer, who, sizeof(who));
                fprintf(stderr, "pichat: cannot send to %s: %s\n", who, strerror(e));
                screen_show(&u->sc);
                return;
        }
}

/* A line typed or read is a datagram. */
static bool chat_typed(void *arg, const char *line, size_t n)
{
        chat_send(arg, line, n);
        return false;
}

/* 0 to go on, SESSION_END. */
static int chat_stdin(void *arg)
{
        struct uchat *u = arg;
        int r = stdin_take(u->s, &u->sc, &u->in, chat_typed, u);

        if (r >= 0)
                return r;
        if (u->s->interactive)
                return SESSION_END;
        /* What the peer still says is shown, until it is silent. */
        u->quiet_end = clock_now_ms() + (int64_t)u->s->a->timeout_s * 1000;
        return 0;
}

int udp_chat_run(struct session *s)
{
        static struct uchat u;

        memset(&u, 0, sizeof(u));
        u.s = s;
        if (!s->a->listen) {
                u.fixed = true;
                s->fd = net_udp_peer(s->a, &u.peer, &u.peer_len);
                if (s->fd < 0)
                        return EXIT_CONNECT;
                u.have_peer = true;
                addr_format((struct sockaddr *)&u.peer, s->bound, sizeof(s->bound));
        }
        screen_init(&u.sc, s->interactive, "<You> ");
        if (s->interactive && u.fixed)
                fprintf(stderr, "Chatting over UDP with %s. Start sending messages\n", s->where);
        else if (s->interactive)
                fprintf(stderr, "Waiting for datagrams on %s\n", s->bound);
        screen_show(&u.sc);
        udp_loop(s, &u.sc, s->fd, &u.quiet_end, chat_stdin, chat_receive, &u);
        /* UDP has no connection to lose: every end is a clean one. */
        return 0;
}
