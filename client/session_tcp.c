/* session_tcp: the TCP chat/echo dialogue, with a server or with one peer.
 *
 * One poll loop waits on the socket, stdin and the signal pipe at once.
 * Nothing blocks but the writes to stdout: outgoing text waits in a
 * bounded queue, and stdin is not read while the queue lacks room for
 * what one read could add, so a server that stops reading stalls the
 * input instead of growing memory.
 *
 * A peer (pichat -l on the other side, or this side listening) may
 * introduce itself with "/nick NAME" as its first line, as -n does here:
 * the line is not shown, and the peer's lines are shown as "<NAME> text".
 * Without it, lines are shown as they come, so nc and telnet are peers
 * too. Listening, a second peer is told it is not wanted and closed. */
#include "session.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "net.h"
#include "ctls.h"
#include "outfilter.h"
#include "screen.h"
#include "telnet.h"
#include "term.h"

#define READ_SIZE       4096
#define KEYS_SIZE       256
#define OUTQ_SIZE       65536
#define PIECE_MAX       4096    /* longest piece of a server line shown at once */
#define PARTIAL_MS      300     /* show a line with no end yet after this */
#define INTRO           "/nick "        /* how a peer introduces itself */
#define INTRO_MAX       (sizeof(INTRO) + PICHAT_NICK_MAX)

struct tcp {
        struct session *s;
        struct screen sc;
        struct outf filt;
        char outq[OUTQ_SIZE];
        size_t qlen;
        /* Interactive only: the server line being received, shown once
         * complete so that it can go above the prompt in one piece. */
        char piece[PIECE_MAX];
        size_t plen;
        int64_t piece_since;
        bool stdin_eof;
        bool midline;           /* scripted input ended without a line end */
        bool shut;              /* our side is closed: the server's close is expected */
        int64_t linger_end;     /* give up waiting for the server then */
        /* The peer's first line, held while it may be an introduction. */
        char intro[INTRO_MAX];
        size_t ilen;
        bool intro_done;
        char name[PICHAT_NICK_MAX + 1]; /* the peer's, "" if it gave none */
        bool line_start;        /* the next byte shown begins a line */
};

static void queue_raw(struct tcp *t, const void *p, size_t n)
{
        /* Only telnet refusals can find the queue full; they are a
         * courtesy, and half of one would be worse than none. */
        if (n > OUTQ_SIZE - t->qlen)
                return;
        memcpy(t->outq + t->qlen, p, n);
        t->qlen += n;
}

/* A line as the network wants it: 0xFF doubled (telnet IAC), CR LF. The
 * caller has checked there is room for 2 * n + 2 bytes. */
static void queue_line(struct tcp *t, const char *line, size_t n)
{
        t->qlen += telnet_escape(line, n, t->outq + t->qlen);
        t->outq[t->qlen++] = '\r';
        t->outq[t->qlen++] = '\n';
}

/* The socket's bytes, plain or through TLS: bytes, -EAGAIN or -errno
 * (0 from net_recv: the server closed). */
static ssize_t net_send(struct session *s, const void *p, size_t n)
{
        ssize_t w;

        if (s->tls)
                return ctls_send(s->tls, p, n);
        do
                w = send(s->fd, p, n, MSG_NOSIGNAL);
        while (w < 0 && errno == EINTR);
        return w < 0 ? -(errno == EWOULDBLOCK ? EAGAIN : errno) : w;
}

static ssize_t net_recv(struct session *s, void *p, size_t n)
{
        ssize_t r;

        if (s->tls)
                return ctls_recv(s->tls, p, n);
        do
                r = recv(s->fd, p, n, 0);
        while (r < 0 && errno == EINTR);
        return r < 0 ? -(errno == EWOULDBLOCK ? EAGAIN : errno) : r;
}

/* Send what the socket takes now: 0 or -errno. */
static int flush_queue(struct tcp *t)
{
        while (t->qlen > 0) {
                ssize_t n = net_send(t->s, t->outq, t->qlen);
                if (n < 0) {
                        if (n == -EAGAIN)
                                return 0;
                        return (int)n;
                }
                t->qlen -= (size_t)n;
                memmove(t->outq, t->outq + n, t->qlen);
        }
        return 0;
}

/* Print the held piece of a server line as a line of its own. */
static void show_piece(struct tcp *t)
{
        screen_hide(&t->sc);
        t->piece[t->plen++] = '\n';
        write_all(STDOUT_FILENO, t->piece, t->plen);
        t->plen = 0;
}

static bool is_cont(unsigned char b)
{
        return (b & 0xC0) == 0x80;
}

/* Filtered server text to the terminal. Scripted, it goes straight out;
 * interactive, whole lines go above the prompt, which is drawn again once. */
static int show_text(struct tcp *t, const char *s, size_t n)
{
        if (!t->s->interactive)
                return write_all(STDOUT_FILENO, s, n);
        for (size_t i = 0; i < n; i++) {
                unsigned char b = (unsigned char)s[i];

                if (b == '\n') {
                        show_piece(t);
                        continue;
                }
                /* Full: out it goes as a line, cut between characters
                 * (the filter only lets whole UTF-8 characters through). */
                if ((t->plen >= PIECE_MAX - 5 && !is_cont(b)) || t->plen >= PIECE_MAX - 1)
                        show_piece(t);
                if (t->plen == 0)
                        t->piece_since = clock_now_ms();
                t->piece[t->plen++] = (char)b;
        }
        screen_show(&t->sc);
        return 0;
}

static void status(struct tcp *t, const char *msg)
{
        screen_hide(&t->sc);
        fprintf(stderr, "%s\n", msg);
}

/* Server text, each line after "<NAME> " once the peer has given one. */
static int show_labelled(struct tcp *t, const char *s, size_t n)
{
        char label[PICHAT_NICK_MAX + 4];
        int r;

        if (!t->name[0])
                return show_text(t, s, n);
        while (n > 0) {
                const char *nl = memchr(s, '\n', n);
                size_t k = nl ? (size_t)(nl - s) + 1 : n;

                if (t->line_start) {
                        int len = snprintf(label, sizeof(label), "<%s> ", t->name);
                        if ((r = show_text(t, label, (size_t)len)) < 0)
                                return r;
                }
                if ((r = show_text(t, s, k)) < 0)
                        return r;
                t->line_start = nl != NULL;
                s += k;
                n -= k;
        }
        return 0;
}

/* Whether the held first line is "/nick NAME": NAME is kept. */
static bool intro_is_name(struct tcp *t)
{
        size_t p = strlen(INTRO), n = t->ilen - p;

        if (t->ilen <= p || n > PICHAT_NICK_MAX)
                return false;
        for (size_t i = p; i < t->ilen; i++)
                if ((unsigned char)t->intro[i] <= ' ')
                        return false;
        memcpy(t->name, t->intro + p, n);
        t->name[n] = '\0';
        return true;
}

/* The first line, as far as it has come: held while it still reads like
 * an introduction, shown as it is once it cannot be one. Consumes what
 * it looks at from *s and *n. */
static int intro_feed(struct tcp *t, const char **s, size_t *n)
{
        char msg[PICHAT_NICK_MAX + sizeof(t->s->where) + 32];

        while (*n > 0 && !t->intro_done) {
                char c = **s;

                if (c == '\n') {
                        (*s)++;
                        (*n)--;
                        t->intro_done = true;
                        if (intro_is_name(t)) {
                                snprintf(msg, sizeof(msg), "Chatting with %s (%s)", t->name,
                                         t->s->where);
                                if (t->s->interactive) {
                                        status(t, msg);
                                        screen_show(&t->sc);
                                }
                                return 0;
                        }
                        int r = show_labelled(t, t->intro, t->ilen);
                        return r < 0 ? r : show_labelled(t, "\n", 1);
                }
                if (t->ilen == sizeof(t->intro) ||
                    (t->ilen < strlen(INTRO) && c != INTRO[t->ilen])) {
                        t->intro_done = true;
                        return show_labelled(t, t->intro, t->ilen);
                }
                t->intro[t->ilen++] = c;
                (*s)++;
                (*n)--;
        }
        return 0;
}

static int peer_text(struct tcp *t, const char *s, size_t n)
{
        int r;

        if (!t->intro_done && (r = intro_feed(t, &s, &n)) < 0)
                return r;
        return n > 0 ? show_labelled(t, s, n) : 0;
}

/* The connection ended: show what is left of the server's output. */
static void drain_output(struct tcp *t)
{
        char tail[3];
        size_t n = outf_finish(&t->filt, tail);

        /* A first line cut short is text like any other. */
        if (!t->intro_done) {
                t->intro_done = true;
                show_labelled(t, t->intro, t->ilen);
        }
        show_labelled(t, tail, n);
        if (t->plen > 0)
                show_piece(t);
        screen_hide(&t->sc);
}

/* The connection failed with -errno r: say so, and return r. */
static int lost(struct tcp *t, int r)
{
        drain_output(t);
        fprintf(stderr, "pichat: connection to %s lost: %s\n", t->s->where, strerror(-r));
        return r;
}

/* Each step of the loop: 0 to go on, SESSION_END, or -errno. */
static int read_socket(struct tcp *t)
{
        static uint8_t in[READ_SIZE];
        static char out[OUTF_MAX(READ_SIZE)];
        static uint8_t reply[OUTF_REPLY_MAX(READ_SIZE)];
        size_t olen, rlen;
        ssize_t n = net_recv(t->s, in, sizeof(in));
        int r;

        if (n < 0) {
                if (n == -EAGAIN)
                        return 0;
                return lost(t, (int)n);
        }
        if (n == 0) {
                drain_output(t);
                if (!t->shut && t->s->listen_fd >= 0) {
                        char msg[sizeof(t->s->where) + 32];
                        snprintf(msg, sizeof(msg), "Disconnected from %s", t->s->where);
                        status(t, msg);
                } else if (!t->shut) {
                        status(t, "Disconnected from chat server");
                }
                return SESSION_END;
        }
        if (t->shut)
                t->linger_end = clock_now_ms() + (int64_t)t->s->a->timeout_s * 1000;
        olen = outf_feed(&t->filt, in, (size_t)n, out, reply, &rlen);
        queue_raw(t, reply, rlen);
        if ((r = peer_text(t, out, olen)) < 0)
                return r;       /* stdout is gone: nobody to talk to */
        return 0;
}

/* Listening, with a peer already: whoever else connects is told so and
 * closed at once (never who the peer is). */
static void refuse_peer(struct tcp *t)
{
        static const char busy[] = "pichat: busy: already chatting with someone else; try again "
                                   "later\r\n";
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        char who[ADDR_STR_MAX], msg[ADDR_STR_MAX + 64];
        int fd = accept4(t->s->listen_fd, (struct sockaddr *)&ss, &len,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);

        if (fd < 0)
                return;
        send(fd, busy, sizeof(busy) - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
        shutdown(fd, SHUT_WR);
        close(fd);
        addr_format((struct sockaddr *)&ss, who, sizeof(who));
        snprintf(msg, sizeof(msg), "pichat: turned away %s: already chatting", who);
        status(t, msg);
        screen_show(&t->sc);
}

/* Scripted input goes out as it comes: LF becomes CR LF, CR is dropped,
 * 0xFF is doubled. The caller has checked room for 2 * n + 2 bytes. */
static void queue_stream(struct tcp *t, const char *p, size_t n)
{
        while (n > 0) {
                size_t text = 0;

                while (text < n && p[text] != '\r' && p[text] != '\n')
                        text++;
                t->qlen += telnet_escape(p, text, t->outq + t->qlen);
                if (text > 0)
                        t->midline = true;
                if (text < n && p[text] == '\n') {
                        t->outq[t->qlen++] = '\r';
                        t->outq[t->qlen++] = '\n';
                        t->midline = false;
                }
                if (text < n)
                        text++;         /* the CR (dropped) or LF just seen */
                p += text;
                n -= text;
        }
}

static bool typed_line(void *arg, const char *line, size_t n)
{
        queue_line(arg, line, n);
        return false;
}

static int read_stdin(struct tcp *t)
{
        static char in[READ_SIZE];
        size_t max = t->s->interactive ? KEYS_SIZE : READ_SIZE;
        ssize_t n = read(STDIN_FILENO, in, max);

        if (n < 0) {
                if (errno == EINTR || errno == EAGAIN)
                        return 0;
                n = 0;          /* unreadable input ends it like EOF */
        }
        if (n == 0) {
                if (t->s->interactive)
                        return SESSION_END;
                t->stdin_eof = true;
                if (t->midline) {
                        queue_raw(t, "\r\n", 2);
                        t->midline = false;
                }
                return 0;
        }
        if (!t->s->interactive) {
                queue_stream(t, in, (size_t)n);
                return 0;
        }
        return screen_keys(&t->sc, in, (size_t)n, typed_line, t) ? SESSION_END : 0;
}

/* Room stdin reading needs in the queue: one read's worth, doubled (0xFF,
 * CR LF), plus a whole line being typed when interactive. */
static size_t stdin_room(const struct tcp *t)
{
        return t->s->interactive ? 2 * (LEDIT_MAX + KEYS_SIZE) + 2 * KEYS_SIZE
                                 : 2 * READ_SIZE + 2;
}

static int run(struct tcp *t)
{
        struct session *s = t->s;

        for (;;) {
                int64_t now = clock_now_ms();
                int64_t wake = -1;
                int r;

                if (s->interactive && t->plen > 0)
                        wake = t->piece_since + PARTIAL_MS;
                if (t->shut && (wake < 0 || t->linger_end < wake))
                        wake = t->linger_end;

                struct pollfd pfd[4] = {
                        { .fd = s->fd, .events = (short)(POLLIN | (t->qlen ? POLLOUT : 0)) },
                        { .fd = STDIN_FILENO, .events = POLLIN },
                        { .fd = s->sigfd, .events = POLLIN },
                        { .fd = s->listen_fd, .events = POLLIN },
                };
                if (t->stdin_eof || OUTQ_SIZE - t->qlen < stdin_room(t))
                        pfd[1].fd = -1;
                /* Bytes a TLS record brought beyond the last read: no
                 * poll would say so. */
                bool pending = s->tls && ctls_pending(s->tls);
                if (pending)
                        wake = now;
                if (poll(pfd, 4, wake < 0 ? -1 : wake > now ? (int)(wake - now) : 0) < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        fprintf(stderr, "pichat: poll: %s\n", strerror(-r));
                        return r;
                }
                if (pfd[2].revents && screen_signals(&t->sc))
                        return SESSION_END;
                if (pfd[3].revents)
                        refuse_peer(t);
                if (pending)
                        pfd[0].revents |= POLLIN;
                if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR) &&
                    (r = read_socket(t)) != 0)
                        return r;
                if (pfd[1].revents && (r = read_stdin(t)) != 0)
                        return r;
                if (t->qlen > 0 && (r = flush_queue(t)) < 0)
                        return lost(t, r);
                now = clock_now_ms();
                if (t->stdin_eof && !t->shut && t->qlen == 0) {
                        /* Input is done: say so and take in the rest of
                         * the answers, for as long as they keep coming. */
                        if (s->tls)
                                ctls_bye(s->tls);
                        shutdown(s->fd, SHUT_WR);
                        t->shut = true;
                        t->linger_end = now + (int64_t)s->a->timeout_s * 1000;
                }
                if (s->interactive && t->plen > 0 && now >= t->piece_since + PARTIAL_MS) {
                        /* A prompt from the server, most likely: show it. */
                        show_piece(t);
                        screen_show(&t->sc);
                }
                if (t->shut && now >= t->linger_end)
                        return SESSION_END;
        }
}

int tcp_run(struct session *s)
{
        static struct tcp t;
        int r;

        memset(&t, 0, sizeof(t));
        t.s = s;
        t.line_start = true;
        outf_init(&t.filt, true);
        screen_init(&t.sc, s->interactive, "<You> ");
        /* A password server wants /pass before anything else, /nick too.
         * It comes from the environment, never the command line, so that
         * ps does not show it. */
        const char *pass = getenv("PICHAT_PASSWORD");
        if (pass && *pass) {
                char cmd[16 + 512];
                int n = snprintf(cmd, sizeof(cmd), "/pass %s", pass);
                if (n > 0 && (size_t)n < sizeof(cmd))
                        queue_line(&t, cmd, (size_t)n);
        }
        if (s->a->nick) {
                char cmd[16 + PICHAT_NICK_MAX];
                int n = snprintf(cmd, sizeof(cmd), "/nick %s", s->a->nick);
                queue_line(&t, cmd, (size_t)n);
        }
        if (s->interactive) {
                if (s->tls) {
                        char how[96];
                        ctls_describe(s->tls, how, sizeof(how));
                        fprintf(stderr, "Connected to remote host (%s). Start sending messages\n",
                                how);
                } else if (s->listen_fd >= 0) {
                        fprintf(stderr, "Connected with %s. Start sending messages\n", s->where);
                } else {
                        fprintf(stderr, "Connected to remote host. Start sending messages\n");
                }
                screen_show(&t.sc);
        }
        r = run(&t);
        screen_hide(&t.sc);
        /* Lines typed just before quitting still go out if they can. */
        flush_queue(&t);
        return r < 0 ? EXIT_CONNECT : 0;
}

int tcp_wait_peer(struct session *s)
{
        if (s->interactive)
                fprintf(stderr, "Waiting for a peer on %s\n", s->bound);
        for (;;) {
                struct pollfd pfd[2] = {
                        { .fd = s->listen_fd, .events = POLLIN },
                        { .fd = s->sigfd, .events = POLLIN },
                };
                struct sockaddr_storage ss;
                socklen_t len = sizeof(ss);

                if (poll(pfd, 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        fprintf(stderr, "pichat: poll: %s\n", strerror(errno));
                        return -errno;
                }
                if (pfd[1].revents && sig_next() != 0)
                        return SESSION_END;
                if (!pfd[0].revents)
                        continue;
                int fd = accept4(s->listen_fd, (struct sockaddr *)&ss, &len,
                                 SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (fd < 0) {
                        /* A peer gone before its accept: wait for the next. */
                        if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED)
                                continue;
                        fprintf(stderr, "pichat: cannot accept on %s: %s\n", s->bound,
                                strerror(errno));
                        return -errno;
                }
                s->fd = fd;
                addr_format((struct sockaddr *)&ss, s->where, sizeof(s->where));
                return 0;
        }
}
