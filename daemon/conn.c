/* conn: a connection's life, its read/dispatch loop and its one teardown. */
#include "conn.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "text.h"
#include "tls.h"

struct conn *conn_new(int fd, const struct sockaddr *sa, const struct service *svc, void *ctx,
                      struct conf_store *store, const struct conn_halt *halt)
{
        struct conn *c = calloc(1, sizeof(*c));

        if (!c) {
                close(fd);
                return NULL;
        }
        /* From here on every exit is conn_free(), which copes with each
         * field as far as it got. */
        transport_plain(&c->t, fd);
        c->wake_fd = -1;
        c->bye_why = FRAMING_BYE_CLOSE;
        c->entry = c->svc = svc;
        c->svc_ctx = ctx;
        c->halt = halt;
        c->store = store;
        c->conf = conf_current(store);
        c->fr = svc->framing ? svc->framing : &framing_telnet;
        atomic_init(&c->blocking, !svc->shared);
        addr_key_prefix(sa, c->conf->server.ipv6_prefix_len, &c->key);
        addr_format(sa, c->peer, sizeof(c->peer));
        if (msg_queue_init(&c->out, SIZE_MAX, -1, c->fr) < 0 ||
            c->fr->init(&c->fs, c->conf->server.max_line_bytes) < 0) {
                conn_free(c);
                return NULL;
        }
        return c;
}

void conn_use_tls(struct conn *c, const char *plain_hint)
{
        transport_tls(&c->t, c->t.fd);
        c->plain_hint = plain_hint;
}

void conn_free(struct conn *c)
{
        if (!c)
                return;
        c->t.ops->close(&c->t);
        if (c->wake_fd >= 0)
                close(c->wake_fd);
        c->fr->free(&c->fs);
        msg_queue_destroy(&c->out);
        free(c->rbuf);
        conf_cache_drop(&c->live);
        conf_unref(c->conf);
        free(c);
}

struct conf *conn_conf(struct conn *c)
{
        return conf_cached(c->store, &c->live);
}

bool conn_stopping(const struct conn *c)
{
        return atomic_load(&c->halt->stopping);
}

void conn_set_reason(struct conn *c, const char *fmt, ...)
{
        char full[CONN_REASON_SIZE * 3];
        va_list ap;

        if (c->reason[0])
                return;
        va_start(ap, fmt);
        vsnprintf(full, sizeof(full), fmt, ap);
        va_end(ap);
        /* Others see it ("left room ... (quit: ...)"): cut between two
         * characters. */
        size_t n = text_fit(full, sizeof(c->reason) - 1);
        memcpy(c->reason, full, n);
        c->reason[n] = '\0';
}

void conn_limit_output(struct conn *c, size_t bytes)
{
        int sndbuf = bytes > INT32_MAX ? INT32_MAX : (int)bytes;

        msg_queue_set_limit(&c->out, bytes);
        setsockopt(c->t.fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
}

void conn_wake(struct conn *c)
{
        if (atomic_load(&c->blocking))
                c->t.ops->wake(&c->t);
}

/* The client's own thread writes to its transport outside its queue
 * (telnet replies, greetings of echo, goodbyes): others' batches must
 * not write meanwhile. Its own batch ends first: a thread never waits
 * with claims of its own (msg.h). */
static void conn_hold(struct conn *c, bool on)
{
        if (!c->svc->shared)
                return;
        if (on)
                msg_batch_end(&c->batch);
        msg_queue_hold(&c->out, on);
}

static int conn_write(struct conn *c, const void *buf, size_t len)
{
        struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
        int64_t stall = c->conf->server.idle_timeout_s ?
                        (int64_t)c->conf->server.idle_timeout_s * 1000 : -1;

        conn_hold(c, true);
        int r = transport_send_all(&c->t, &iov, 1, stall, c->halt->fd);
        conn_hold(c, false);
        return r;
}

int conn_sayv(struct conn *c, const struct iovec *parts, int n)
{
        size_t len = 0;

        for (int i = 0; i < n; i++)
                len += parts[i].iov_len;
        size_t size = c->fr->encoded_max(len);
        char stackbuf[1024];
        char *buf = size <= sizeof(stackbuf) ? stackbuf : malloc(size);
        int r = -ENOMEM;

        if (buf) {
                r = conn_write(c, buf, c->fr->encode(parts, n, buf));
                if (buf != stackbuf)
                        free(buf);
        }
        return r;
}

int conn_say(struct conn *c, const char *text, size_t len)
{
        struct iovec part = { .iov_base = (void *)text, .iov_len = len };

        return conn_sayv(c, &part, 1);
}

/* Best effort, never waiting: for bytes to clients that may be gone. */
static void conn_send_nowait(struct conn *c, const char *buf, size_t len)
{
        struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };

        if (len == 0)
                return;
        conn_hold(c, true);
        transport_sendv(&c->t, &iov, 1);
        conn_hold(c, false);
}

/* Last words (a goodbye, or the framing's close), as the framing says
 * them; without its own way, the text of a goodbye as a message. */
static void conn_say_nowait(struct conn *c, enum framing_bye why, const char *text)
{
        char buf[FRAMING_WORDS_MAX(CONN_REASON_SIZE)];
        size_t len = strlen(text);
        struct iovec part = { .iov_base = (void *)text, .iov_len = len };

        if (len > CONN_REASON_SIZE)
                return;
        if (c->fr->last_words)
                len = c->fr->last_words(&c->fs, why, text, len, buf);
        else if (why != FRAMING_BYE_CLOSE && c->fr->encoded_max(len) <= sizeof(buf))
                len = c->fr->encode(&part, 1, buf);
        else
                len = 0;
        conn_send_nowait(c, buf, len);
}

void conn_refuse(struct conn *c, const char *why)
{
        struct log_ctx ctx = { .service = c->entry->name, .peer = c->peer };

        conn_say_nowait(c, FRAMING_BYE_REFUSED, "server full, try again later");
        log_ctx(LOG_NOTICE, &ctx, "refused %s: %s", c->peer, why);
}

static int conn_stop(struct conn *c)
{
        conn_set_reason(c, "server shutting down");
        c->bye_why = FRAMING_BYE_SHUTDOWN;
        return SERVICE_CLOSE;
}

/* The session ends for a timeout: the reason for the log, and a last
 * line telling the client (conn_finish()). */
static int conn_time_out(struct conn *c, const char *what, unsigned secs)
{
        conn_set_reason(c, "%s", what);
        c->bye_why = FRAMING_BYE_TIMEOUT;
        c->bye_what = what;
        c->bye_secs = secs;
        return SERVICE_CLOSE;
}

/* The goodbye conn_stop() or conn_time_out() chose, then the framing's
 * close: the last things the client gets. */
static void conn_goodbye(struct conn *c)
{
        char msg[CONN_REASON_SIZE];

        if (c->bye_why == FRAMING_BYE_SHUTDOWN) {
                conn_say_nowait(c, FRAMING_BYE_SHUTDOWN, "server shutting down");
        } else if (c->bye_why == FRAMING_BYE_TIMEOUT) {
                snprintf(msg, sizeof(msg), "%s (%u s), closing connection", c->bye_what,
                         c->bye_secs);
                conn_say_nowait(c, FRAMING_BYE_TIMEOUT, msg);
        }
        conn_say_nowait(c, FRAMING_BYE_CLOSE, c->reason);
}

/* Hand buffered input to the service, message by message, while flood
 * control allows. 0, SERVICE_CLOSE or -errno; *delay set when paused. */
static int conn_dispatch(struct conn *c, int64_t *delay)
{
        *delay = 0;
        while (c->rlen > 0) {
                const char *data = (const char *)c->rbuf + c->rpos, *msg;
                size_t n = c->rlen, len;
                int r;

                if (c->svc->delay_ms && (*delay = c->svc->delay_ms(c)) > 0)
                        return 0;
                r = c->fr->next(&c->fs, &data, &n, &msg, &len);
                c->rpos += c->rlen - n;
                c->rlen = n;
                if (r == FRAMING_MSG) {
                        c->line_since = 0;
                        c->last_input = clock_now_ms();
                        r = c->svc->message(c, msg, len);
                } else if (r == FRAMING_TOOLONG) {
                        c->last_input = clock_now_ms();
                        r = c->svc->too_long(c);
                } else if (r == FRAMING_REPLY) {
                        r = conn_write(c, msg, len);
                } else if (r == FRAMING_END) {
                        conn_set_reason(c, "%.*s", (int)len, msg);
                        return SERVICE_CLOSE;
                }
                if (r != 0)
                        return r;
        }
        return 0;
}

static void conn_tls_on_plain(struct conn *c)
{
        struct log_ctx ctx = { .service = c->entry->name, .peer = c->peer };

        log_ctx(LOG_NOTICE, &ctx, "%s: a TLS handshake on a plain port, closing", c->peer);
        conn_set_reason(c, "TLS on a plain port");
}

bool conn_sniff_tls(struct conn *c, int64_t ms)
{
        struct pollfd pfd[2] = {
                { .fd = c->t.fd, .events = POLLIN },
                { .fd = c->halt->fd, .events = POLLIN },
        };
        uint8_t b[3];
        ssize_t n;

        if (c->heard || transport_is_tls(&c->t))
                return false;
        if (c->svc->shared)
                msg_queue_write(&c->out, &c->t);
        if (poll(pfd, 2, (int)ms) <= 0 || !(pfd[0].revents & POLLIN))
                return false;
        do
                n = recv(c->t.fd, b, sizeof(b), MSG_PEEK | MSG_DONTWAIT);
        while (n < 0 && errno == EINTR);
        if (n <= 0 || !tls_looks_like_hello(b, (size_t)n))
                return false;
        conn_tls_on_plain(c);
        return true;
}

/* The framing takes n bytes just read: what is its own it answers, the
 * data stays for dispatch. 1 if data came (telnet commands alone are not
 * activity: a peer must not keep a session alive with them), 0, or
 * -errno. Never inlined: its reply buffer must not deepen the frame a
 * thread sleeps in (see conn_read). */
__attribute__((noinline))
static int conn_take(struct conn *c, ssize_t n)
{
        uint8_t reply[FRAMING_REPLY_MAX(CONN_READ_SIZE)];
        size_t kept, nreply;

        if (n <= 0)
                return (int)n;
        /* A TLS client on a plain port: its ClientHello is no text for
         * any room. */
        if (!c->heard && !transport_is_tls(&c->t) && tls_looks_like_hello(c->rbuf, (size_t)n)) {
                conn_tls_on_plain(c);
                return -EPROTO;
        }
        c->heard = true;
        c->last_heard = clock_now_ms();
        c->pinged = 0;
        c->fr->take(&c->fs, c->rbuf, (size_t)n, &kept, reply, &nreply);
        c->rpos = 0;
        c->rlen = kept;
        if (nreply > 0) {
                int r = conn_write(c, reply, nreply);
                if (r < 0)
                        return r;
        }
        if (kept > 0 && c->fr->activity_on_bytes)
                c->last_input = c->last_heard;
        return kept > 0;
}

/* Read into the read buffer: bytes, TRANSPORT_NONE or -errno. The
 * buffer is allocated when the client first sends: an idle client keeps
 * none, so thousands of them fit in less memory. Small frame on purpose:
 * a blocking client thread sleeps here, and every stack page it has
 * touched stays resident. */
static ssize_t conn_read(struct conn *c, bool wait)
{
        if (!c->rbuf) {
                char peek;
                ssize_t n = 1;

                /* Sleep until the first byte without a buffer. */
                if (wait)
                        n = transport_recv(&c->t, &peek, 1, true, true);
                if (n <= 0)
                        return n;
                if (!(c->rbuf = malloc(CONN_READ_SIZE)))
                        return -ENOMEM;
        }
        return transport_recv(&c->t, c->rbuf, CONN_READ_SIZE, wait, false);
}

/* A read timeout in ms (0 for none), as the transport keeps it. A value a
 * little shorter than wanted only wakes the thread early to look again;
 * one longer would let a timeout pass late, so it is set again only when
 * it moved by more than an eighth. */
static bool conn_rcvtimeo_stale(int64_t set, int64_t want)
{
        if (want == 0)
                return set != 0;
        return set == 0 || set > want || set < want - want / 8;
}

/* How long a peer may be silent before its framing's keepalive goes out:
 * PICHAT_KEEPALIVE_MS, or half the idle timeout if that is shorter, so
 * that a peer that is gone is found before its session would end anyway. */
static int64_t conn_keepalive_ms(const struct conn *c)
{
        int64_t half = (int64_t)c->conf->server.idle_timeout_s * 500;

        return half > 0 && half < PICHAT_KEEPALIVE_MS ? half : PICHAT_KEEPALIVE_MS;
}

/* The nearest deadline (idle, or a message begun and not ended) as a
 * poll timeout from now: ms, or -1 for none; no later than delay when
 * that is set. */
static int64_t conn_timeout(struct conn *c, int64_t delay)
{
        int64_t idle_ms = (int64_t)c->conf->server.idle_timeout_s * 1000;
        int64_t line_ms = (int64_t)c->conf->server.line_timeout_s * 1000;
        int64_t now = clock_now_ms(), timeout = -1;
        int64_t deadline = idle_ms > 0 ? c->last_input + idle_ms : INT64_MAX;

        /* Once all input is handled, a message begun and not ended runs
         * the line clock; input held back by flood control is ours to
         * finish, not the client's. */
        if (c->rlen == 0) {
                if (!c->fr->mid_message(&c->fs))
                        c->line_since = 0;
                else if (c->line_since == 0)
                        c->line_since = now;
        }
        if (line_ms > 0 && c->line_since && c->rlen == 0 && c->line_since + line_ms < deadline)
                deadline = c->line_since + line_ms;
        if (c->fr->keepalive) {
                int64_t ka = (c->pinged ? c->pinged : c->last_heard) + conn_keepalive_ms(c);
                if (ka < deadline)
                        deadline = ka;
        }
        if (deadline != INT64_MAX)
                timeout = deadline > now ? deadline - now : 0;
        if (delay > 0 && (timeout < 0 || delay < timeout))
                timeout = delay;
        return timeout;
}

/* SERVICE_CLOSE if a timeout has run out, else 0. */
static int conn_timed_out(struct conn *c)
{
        unsigned idle_s = c->conf->server.idle_timeout_s, line_s = c->conf->server.line_timeout_s;
        int64_t now = clock_now_ms();

        if (idle_s && now - c->last_input >= (int64_t)idle_s * 1000)
                return conn_time_out(c, "idle timeout", idle_s);
        if (line_s && c->line_since && c->rlen == 0 && now - c->line_since >= (int64_t)line_s * 1000)
                return conn_time_out(c, "line timeout", line_s);
        if (c->fr->keepalive) {
                int64_t ka = conn_keepalive_ms(c);
                if (c->pinged && now - c->pinged >= ka) {
                        conn_set_reason(c, "no answer to a ping");
                        return SERVICE_CLOSE;
                }
                if (!c->pinged && now - c->last_heard >= ka) {
                        char ping[FRAMING_PING_MAX];
                        conn_send_nowait(c, ping, c->fr->keepalive(&c->fs, ping));
                        c->pinged = now;
                }
        }
        return 0;
}

/* One turn of a client that only answers messages: sleep in the read
 * itself, one system call a message fewer than poll() and read(). */
static int conn_turn_blocking(struct conn *c)
{
        int64_t delay, timeout;
        int r = conn_dispatch(c, &delay);

        if (r != 0)
                return r;
        if (conn_stopping(c))
                return conn_stop(c);
        timeout = conn_timeout(c, 0);
        if (timeout != 0 && conn_rcvtimeo_stale(c->rcvtimeo_ms, timeout < 0 ? 0 : timeout)) {
                if ((r = c->t.ops->set_timeout(&c->t, timeout < 0 ? 0 : timeout)) < 0)
                        return r;
                c->rcvtimeo_ms = timeout < 0 ? 0 : timeout;
        }
        r = conn_take(c, conn_read(c, timeout != 0));
        /* A read woken by conn_wake() looks like the client's end of
         * stream: ask first. */
        if (conn_stopping(c))
                return conn_stop(c);
        if (r < 0)
                return r;
        return c->rlen > 0 ? 0 : conn_timed_out(c);
}

/* One turn of a shared service's client: wait for input, room to write
 * its queue, a wake-up from other threads, or shutdown. */
static int conn_turn_polling(struct conn *c)
{
        int64_t delay, timeout;
        int r = conn_dispatch(c, &delay);

        /* The messages at hand are handled (or held back): what they
         * said to others goes out now, before this thread waits. */
        msg_batch_end(&c->batch);
        if (r != 0)
                return r;
        /* Input that was no activity (a browser's pongs, all it sends
         * while idle) is handled: its read buffer goes back, as an idle
         * client keeps none (see conn_read). */
        if (c->rbuf && c->rlen == 0 && !c->fr->activity_on_bytes &&
            c->last_input < c->last_heard) {
                free(c->rbuf);
                c->rbuf = NULL;
        }
        bool want_write = msg_queue_pending(&c->out) || transport_held(&c->t);
        /* Bytes a TLS record brought beyond the last read are there
         * already: no poll would say so. */
        bool ready = c->rlen == 0 && transport_buffered(&c->t);
        timeout = ready ? 0 : conn_timeout(c, delay);
        struct pollfd pfd[3] = {
                { .fd = c->t.fd,
                  .events = (short)((c->rlen == 0 ? POLLIN : 0) | (want_write ? POLLOUT : 0)) },
                { .fd = c->halt->fd, .events = POLLIN },
                { .fd = c->wake_fd, .events = POLLIN },
        };
        /* While input is held back, a hang-up must not spin us. */
        if (pfd[0].events == 0)
                pfd[0].fd = -1;
        if (poll(pfd, 3, timeout > INT32_MAX ? INT32_MAX : (int)timeout) < 0)
                return errno == EINTR ? 0 : -errno;
        if (pfd[1].revents || conn_stopping(c))
                return conn_stop(c);
        if (pfd[2].revents & POLLIN) {
                uint64_t v;
                ssize_t w = read(c->wake_fd, &v, sizeof(v));
                (void)w;
                if (msg_queue_overflowed(&c->out)) {
                        conn_set_reason(c, "too slow");
                        return -ENOBUFS;
                }
                /* Woken for output: write it now rather than poll again
                 * first (the socket almost always has room; if not, the
                 * next poll waits for it). */
                pfd[0].revents |= POLLOUT;
        }
        if ((pfd[0].revents & POLLOUT) && (r = msg_queue_write(&c->out, &c->t)) < 0)
                return r;
        if (ready)
                pfd[0].revents |= POLLIN;
        if (c->rlen == 0 && (pfd[0].revents & (POLLIN | POLLHUP | POLLERR))) {
                r = conn_take(c, conn_read(c, false));
                return r < 0 ? r : 0;
        }
        return conn_timed_out(c);
}

static void conn_reason_from(struct conn *c, int r)
{
        if (r == -ECONNRESET || r == -EPIPE)
                conn_set_reason(c, "connection closed by client");
        else if (r == -ESHUTDOWN)
                conn_set_reason(c, "server shutting down");
        else if (r == -ETIMEDOUT)
                conn_set_reason(c, "client stopped reading");
        else if (r < 0)
                conn_set_reason(c, "%s", strerror(-r));
        else
                conn_set_reason(c, "closed");
}

/* Give back the stack pages below the current frame. Greeting a client
 * (formatting a log line, a welcome, a chat room's notes) reaches a few
 * KiB deeper than an idle client ever goes again, and every page a thread
 * has touched stays resident while it lives: with thousands of idle
 * clients that is the largest part of their memory. Below the stack
 * pointer (and the red zone under it) nothing is live; a page used again
 * later comes back zeroed. */
static void conn_trim_stack(void)
{
        pthread_attr_t attr;
        void *low;
        size_t size;
        long page = sysconf(_SC_PAGESIZE);
        char here;

        if (page <= 0 || pthread_getattr_np(pthread_self(), &attr) != 0)
                return;
        int r = pthread_attr_getstack(&attr, &low, &size);
        pthread_attr_destroy(&attr);
        if (r != 0)
                return;
        uintptr_t start = ((uintptr_t)low + (uintptr_t)page - 1) & ~((uintptr_t)page - 1);
        uintptr_t end = ((uintptr_t)&here - 1024) & ~((uintptr_t)page - 1);
        if (end > start && end <= (uintptr_t)low + size)
                madvise((void *)start, end - start, MADV_DONTNEED);
}

/* A TLS port's client: the handshake, bounded by [server] line_timeout_s
 * (or idle_timeout_s, or PICHAT_TLS_HANDSHAKE_MS when both are off), under
 * the credentials of the configuration it was let in under. 0, or
 * SERVICE_CLOSE / -errno with the reason set and logged. */
static int conn_handshake(struct conn *c)
{
        struct log_ctx ctx = { .service = c->entry->name, .peer = c->peer };
        unsigned secs = c->conf->server.line_timeout_s ? c->conf->server.line_timeout_s :
                        c->conf->server.idle_timeout_s;
        int64_t ms = secs ? (int64_t)secs * 1000 : PICHAT_TLS_HANDSHAKE_MS;
        char why[CONN_REASON_SIZE * 2], what[64];
        int r;

        if (!c->conf->tls.creds) {
                conn_set_reason(c, "no TLS certificate");
                return -ENOKEY;
        }
        r = tls_handshake(&c->t, c->conf->tls.creds, ms, c->halt->fd, c->plain_hint, why,
                          sizeof(why));
        if (r == 0) {
                tls_describe(&c->t, what, sizeof(what));
                log_ctx(LOG_DEBUG, &ctx, "%s: %s", c->peer, what);
                return 0;
        }
        if (r == -ESHUTDOWN)
                return conn_stop(c);
        if (why[0]) {
                log_ctx(r == -ECONNRESET ? LOG_INFO : LOG_NOTICE, &ctx, "%s: %s", c->peer, why);
                conn_set_reason(c, "%s", why);
        }
        return r > 0 ? SERVICE_CLOSE : r;
}

/* What a connection needs once it is let in: every line is written whole,
 * often a single one, and Nagle's algorithm would hold one back behind an
 * unacknowledged one for up to the peer's delayed-ACK time (40 ms); a
 * shared service's client is woken by an eventfd. */
static int conn_start_shared(struct conn *c);

static int conn_start(struct conn *c)
{
        int one = 1, r;

        setsockopt(c->t.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (transport_is_tls(&c->t) && (r = conn_handshake(c)) != 0)
                return r;
        c->last_input = c->last_heard = clock_now_ms();
        return conn_start_shared(c);
}

/* A switch: the new framing and service in place of the old, and the
 * bytes that came after the message that asked for it handed to the new
 * framing; then the new service opens. 0, SERVICE_CLOSE or -errno. */
static int conn_apply_switch(struct conn *c)
{
        size_t left = c->rlen;
        int r;

        msg_batch_end(&c->batch);
        if (c->svc->close)
                c->svc->close(c, "switched");
        c->priv = NULL;
        c->fr->free(&c->fs);
        c->fr = c->next_fr;
        c->svc = c->next_svc;
        c->svc_ctx = c->next_ctx;
        c->next_fr = NULL;
        /* The queue has carried nothing yet: no other thread knows it
         * before the new service makes it a room member. */
        c->out.fr = c->fr;
        c->line_since = 0;
        memset(&c->fs, 0, sizeof(c->fs));
        if ((r = c->fr->init(&c->fs, c->conf->server.max_line_bytes)) < 0)
                return r;
        atomic_store(&c->blocking, !c->svc->shared);
        if (c->rcvtimeo_ms && (r = c->t.ops->set_timeout(&c->t, 0)) < 0)
                return r;
        c->rcvtimeo_ms = 0;
        if ((r = conn_start_shared(c)) < 0)
                return r;
        if (left > 0) {
                memmove(c->rbuf, c->rbuf + c->rpos, left);
                if ((r = conn_take(c, (ssize_t)left)) < 0)
                        return r;
        } else {
                /* An idle client keeps no read buffer (see conn_read). */
                free(c->rbuf);
                c->rbuf = NULL;
                c->rpos = c->rlen = 0;
        }
        r = c->svc->open(c);
        conn_trim_stack();
        return r;
}

void conn_switch(struct conn *c, const struct framing *fr, const struct service *svc, void *ctx)
{
        c->next_fr = fr;
        c->next_svc = svc;
        c->next_ctx = ctx;
}

/* What a shared service's client needs besides: an eventfd its queue is
 * woken by, and direct writes. */
static int conn_start_shared(struct conn *c)
{
        if (!c->svc->shared || c->wake_fd >= 0)
                return 0;
        c->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (c->wake_fd < 0)
                return -errno;
        c->out.wake_fd = c->wake_fd;
        msg_queue_set_direct(&c->out, &c->t);
        return 0;
}

/* Read and drop what the peer still sends, until it closes its end, for
 * PICHAT_LINGER_MS and PICHAT_LINGER_BYTES at most (or shutdown): a
 * close with unread input would reset the connection, and the reset
 * could destroy the last words before the peer read them. */
static void conn_linger(struct conn *c)
{
        int64_t end = clock_now_ms() + PICHAT_LINGER_MS;
        size_t total = 0;
        char sink[512];

        while (total < PICHAT_LINGER_BYTES) {
                int64_t left = end - clock_now_ms();
                struct pollfd pfd[2] = {
                        { .fd = c->t.fd, .events = POLLIN },
                        { .fd = c->halt->fd, .events = POLLIN },
                };
                if (left <= 0 || poll(pfd, 2, (int)left) <= 0 || pfd[1].revents)
                        return;
                ssize_t n = transport_recv(&c->t, sink, sizeof(sink), false, false);
                if (n < 0)
                        return;
                total += (size_t)n;
        }
}

/* The one way a session ends, whatever ended it: the service lets go
 * (leaves its rooms), nobody writes to the transport any more, last words
 * go out if they can, and the peer is told no more is coming. */
static void conn_finish(struct conn *c, int r)
{
        struct log_ctx ctx = { .service = c->entry->name, .peer = c->peer };

        conn_reason_from(c, r);
        msg_batch_end(&c->batch);
        if (c->svc->close)
                c->svc->close(c, c->reason);
        if (c->svc->shared) {
                /* Out of every room, so no batch claims the queue again;
                 * wait for one that has, before the socket is closed. */
                msg_queue_close(&c->out);
                if (!msg_queue_overflowed(&c->out))
                        msg_queue_write(&c->out, &c->t);
        }
        conn_goodbye(c);
        log_ctx(LOG_INFO, &ctx, "disconnected %s (%s)", c->peer, c->reason);
        c->t.ops->finish(&c->t);
        if (c->fr->linger && !conn_stopping(c))
                conn_linger(c);
}

void conn_run(struct conn *c)
{
        struct log_ctx ctx = { .service = c->entry->name, .peer = c->peer };
        int r;

        log_ctx(LOG_INFO, &ctx, "connected %s", c->peer);
        r = conn_start(c);
        if (r == 0)
                r = c->svc->open(c);
        conn_trim_stack();
        for (;;) {
                if (r == SERVICE_SWITCH && c->next_fr)
                        r = conn_apply_switch(c);
                if (r != 0)
                        break;
                r = atomic_load(&c->blocking) ? conn_turn_blocking(c) : conn_turn_polling(c);
        }
        conn_finish(c, r);
}
