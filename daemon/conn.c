/* conn: the per-client read/dispatch loop and its single teardown path. */
#include "conn.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "server.h"

void conn_set_reason(struct conn *c, const char *fmt, ...)
{
        va_list ap;

        if (c->reason[0])
                return;
        va_start(ap, fmt);
        vsnprintf(c->reason, sizeof(c->reason), fmt, ap);
        va_end(ap);
}

static void conn_hold(struct conn *c, bool on)
{
        if (c->svc->hold)
                c->svc->hold(c, on);
}

static int conn_send_all(struct conn *c, const void *buf, size_t len)
{
        const char *p = buf;
        int64_t stall_ms = c->conf->server.idle_timeout_s ?
                           (int64_t)c->conf->server.idle_timeout_s * 1000 : -1;

        while (len > 0) {
                ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n > 0) {
                        p += n;
                        len -= (size_t)n;
                        continue;
                }
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
                        return -errno;
                /* The client is not reading: wait for it, but not past
                 * shutdown and not forever. */
                struct pollfd pfd[2] = {
                        { .fd = c->fd, .events = POLLOUT },
                        { .fd = server_stop_fd(), .events = POLLIN },
                };
                int r = poll(pfd, 2, stall_ms > INT32_MAX ? INT32_MAX : (int)stall_ms);
                if (r < 0 && errno != EINTR)
                        return -errno;
                if (r == 0)
                        return -ETIMEDOUT;
                if (pfd[1].revents)
                        return -ESHUTDOWN;
        }
        return 0;
}

int conn_write(struct conn *c, const void *buf, size_t len)
{
        conn_hold(c, true);
        int r = conn_send_all(c, buf, len);
        conn_hold(c, false);
        return r;
}

int conn_write_line(struct conn *c, const char *text)
{
        size_t n = strlen(text);
        char buf[CONF_TEXT_SIZE + 64];

        if (n + 2 > sizeof(buf)) {
                int r = conn_write(c, text, n);
                return r < 0 ? r : conn_write(c, "\r\n", 2);
        }
        memcpy(buf, text, n);
        memcpy(buf + n, "\r\n", 2);
        return conn_write(c, buf, n + 2);
}

/* Best effort, never blocking: for goodbyes to clients that may be gone. */
static void conn_say_nowait(struct conn *c, const char *text)
{
        char buf[CONN_REASON_SIZE + 8];
        int n = snprintf(buf, sizeof(buf), "%s\r\n", text);
        conn_hold(c, true);
        ssize_t w = send(c->fd, buf, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
        conn_hold(c, false);
        (void)w;
}

static void conn_say_stopping(struct conn *c)
{
        conn_set_reason(c, "server shutting down");
        conn_say_nowait(c, "server shutting down");
}

/* The session ends for a timeout: the reason for the log, and a last
 * line telling the client. */
static void conn_time_out(struct conn *c, const char *what, unsigned secs)
{
        char msg[CONN_REASON_SIZE];

        snprintf(msg, sizeof(msg), "%s (%u s), closing connection", what, secs);
        conn_set_reason(c, "%s", what);
        conn_say_nowait(c, msg);
}

bool conn_can_block(const struct service *svc)
{
        return !svc->wake && !svc->want_write && !svc->writable && !svc->delay_ms;
}

static void conn_teardown(struct conn *c)
{
        struct log_ctx ctx = { .service = c->svc->name, .peer = c->peer };

        if (c->svc->close)
                c->svc->close(c, c->reason[0] ? c->reason : "closed");
        log_ctx(LOG_INFO, &ctx, "disconnected %s (%s)", c->peer,
                c->reason[0] ? c->reason : "closed");
        /* Let a pending goodbye reach the peer rather than being reset. */
        shutdown(c->fd, SHUT_WR);
        /* Off the server's list before the descriptor number can be reused. */
        server_sleeper_del(&c->sleeper);
        close(c->fd);
        if (c->wake_fd >= 0)
                close(c->wake_fd);
        line_free(&c->ls);
        free(c->rbuf);
        conf_cache_drop(&c->live);
        server_conn_done(c);
        conf_unref(c->conf);
        free(c);
}

/* Hand buffered input to the service, line by line, while flood control
 * allows. Returns 0, CONN_CLOSE or -errno; *delay set when paused. */
static int conn_dispatch(struct conn *c, int64_t *delay)
{
        *delay = 0;
        while (c->rlen > 0) {
                const char *data = (const char *)c->rbuf + c->rpos, *line;
                size_t n = c->rlen, len;
                int r;

                if (c->svc->delay_ms) {
                        *delay = c->svc->delay_ms(c);
                        if (*delay > 0)
                                return 0;
                }
                r = line_next(&c->ls, &data, &n, &line, &len);
                c->rpos += c->rlen - n;
                c->rlen = n;
                if (r == LINE_OK) {
                        c->line_since = 0;
                        r = c->svc->line(c, line, len);
                } else if (r == LINE_TOOLONG) {
                        r = c->svc->too_long(c);
                }
                if (r != 0)
                        return r;
        }
        return 0;
}

/* recv() with EINTR retried: bytes, 0 when none came (EAGAIN, or
 * SO_RCVTIMEO ran out), or -errno (-ECONNRESET at end of stream). */
static ssize_t conn_recv_raw(int fd, void *buf, size_t len, int flags)
{
        ssize_t n;

        do
                n = recv(fd, buf, len, flags);
        while (n < 0 && errno == EINTR);
        if (n == 0)
                return -ECONNRESET;
        if (n < 0)
                return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
        return n;
}

/* Receive into the read buffer, as conn_recv_raw(). The buffer is
 * allocated when the client first sends: an idle client keeps none, so
 * thousands of them fit in less memory. Small frame on purpose: a
 * blocking client thread sleeps here, and every stack page it has
 * touched stays resident. */
static ssize_t conn_recv(struct conn *c, int flags)
{
        if (!c->rbuf) {
                char peek;
                ssize_t n = 1;

                /* Sleep until the first byte without a buffer. */
                if (!(flags & MSG_DONTWAIT))
                        n = conn_recv_raw(c->fd, &peek, 1, flags | MSG_PEEK);
                if (n <= 0)
                        return n;
                if (!(c->rbuf = malloc(CONN_READ_SIZE)))
                        return -ENOMEM;
        }
        return conn_recv_raw(c->fd, c->rbuf, CONN_READ_SIZE, flags);
}

/* Strip telnet commands from n received bytes, answer negotiation, keep
 * the text. 1 if text came (telnet commands alone are not activity: a
 * peer must not keep a session alive with them), 0, or -errno. Never
 * inlined: its reply buffer must not deepen the frame a thread sleeps
 * in (see conn_recv). */
__attribute__((noinline))
static int conn_take(struct conn *c, ssize_t n)
{
        uint8_t reply[CONN_READ_SIZE + 2];
        size_t out, nreply;

        if (n <= 0)
                return (int)n;
        telnet_filter(&c->tn, c->rbuf, (size_t)n, c->rbuf, &out, reply, &nreply);
        c->rpos = 0;
        c->rlen = out;
        if (nreply > 0) {
                int r = conn_write(c, reply, nreply);
                if (r < 0)
                        return r;
        }
        return out > 0;
}

/* SO_RCVTIMEO in ms, 0 for none, as struct conn keeps it. A value a
 * little shorter than wanted only wakes the thread early to look again;
 * one longer would let a timeout pass late. */
static bool conn_rcvtimeo_stale(int64_t set, int64_t want)
{
        if (want == 0)
                return set != 0;
        return set == 0 || set > want || set < want - want / 8;
}

/* Blocking mode: sleep in recv() until input, the timeout (ms, -1 for
 * none) or server_stop() shutting the read side. As conn_take(). */
static int conn_recv_wait(struct conn *c, int64_t timeout)
{
        int64_t want = timeout < 0 ? 0 : timeout;
        int flags = 0;

        if (timeout == 0) {
                flags = MSG_DONTWAIT;
        } else if (conn_rcvtimeo_stale(c->rcvtimeo_ms, want)) {
                struct timeval tv = {
                        .tv_sec = (time_t)(want / 1000),
                        .tv_usec = (suseconds_t)(want % 1000) * 1000,
                };
                if (setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
                        return -errno;
                c->rcvtimeo_ms = want;
        }
        return conn_take(c, conn_recv(c, flags));
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

void conn_run(struct conn *c)
{
        struct log_ctx ctx = { .service = c->svc->name, .peer = c->peer };
        int64_t idle_ms = (int64_t)c->conf->server.idle_timeout_s * 1000;
        int64_t line_ms = (int64_t)c->conf->server.line_timeout_s * 1000;
        int64_t last_input = clock_now_ms();
        int r;

        log_ctx(LOG_INFO, &ctx, "connected %s", c->peer);
        r = c->svc->open(c);
        conn_trim_stack();
        while (r == 0) {
                int64_t delay = 0, now, timeout = -1;
                bool want_write;

                r = conn_dispatch(c, &delay);
                if (c->svc->dispatched)
                        c->svc->dispatched(c);
                if (r != 0)
                        break;
                want_write = c->svc->want_write && c->svc->want_write(c);

                now = clock_now_ms();
                /* Once all input is handled, a line begun and not ended
                 * runs the line clock; input held back by flood control
                 * is ours to finish, not the client's. */
                if (c->rlen == 0) {
                        if (!c->ls.mid_line)
                                c->line_since = 0;
                        else if (c->line_since == 0)
                                c->line_since = now;
                }
                int64_t deadline = idle_ms > 0 ? last_input + idle_ms : INT64_MAX;
                if (line_ms > 0 && c->line_since && c->rlen == 0 &&
                    c->line_since + line_ms < deadline)
                        deadline = c->line_since + line_ms;
                if (deadline != INT64_MAX)
                        timeout = deadline > now ? deadline - now : 0;
                if (delay > 0 && (timeout < 0 || delay < timeout))
                        timeout = delay;
                if (c->blocking) {
                        if (server_stopping()) {
                                conn_say_stopping(c);
                                break;
                        }
                        r = conn_recv_wait(c, timeout);
                        /* A read side shut by server_stop() looks like
                         * the client's end of stream: ask first. */
                        if (server_stopping()) {
                                conn_say_stopping(c);
                                break;
                        }
                        if (r < 0)
                                break;
                        if (r > 0)
                                last_input = clock_now_ms();
                        r = 0;
                        if (c->rlen > 0)
                                continue;
                        goto timeouts;
                }
                struct pollfd pfd[3] = {
                        { .fd = c->fd,
                          .events = (short)((c->rlen == 0 ? POLLIN : 0) |
                                            (want_write ? POLLOUT : 0)) },
                        { .fd = server_stop_fd(), .events = POLLIN },
                        { .fd = c->wake_fd, .events = POLLIN },
                };
                /* While input is held back, a hang-up must not spin us. */
                if (pfd[0].events == 0)
                        pfd[0].fd = -1;
                if (poll(pfd, c->wake_fd >= 0 ? 3 : 2,
                         timeout > INT32_MAX ? INT32_MAX : (int)timeout) < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        break;
                }
                if (pfd[1].revents || server_stopping()) {
                        conn_say_stopping(c);
                        break;
                }
                if (c->wake_fd >= 0 && (pfd[2].revents & POLLIN)) {
                        uint64_t v;
                        ssize_t w = read(c->wake_fd, &v, sizeof(v));
                        (void)w;
                        if (c->svc->wake && (r = c->svc->wake(c)) != 0)
                                break;
                        /* Woken for output: write it now rather than poll
                         * again first (the socket almost always has room;
                         * if not, the next poll waits for it). */
                        if (c->svc->want_write && c->svc->writable &&
                            !(pfd[0].revents & POLLOUT) && c->svc->want_write(c) &&
                            (r = c->svc->writable(c)) != 0)
                                break;
                }
                if ((pfd[0].revents & POLLOUT) && c->svc->writable &&
                    (r = c->svc->writable(c)) != 0)
                        break;
                if (c->rlen == 0 && (pfd[0].revents & (POLLIN | POLLHUP | POLLERR))) {
                        if ((r = conn_take(c, conn_recv(c, MSG_DONTWAIT))) < 0)
                                break;
                        if (r > 0)
                                last_input = clock_now_ms();
                        r = 0;
                        continue;
                }
timeouts:
                if (idle_ms > 0 && clock_now_ms() - last_input >= idle_ms) {
                        conn_time_out(c, "idle timeout", c->conf->server.idle_timeout_s);
                        break;
                }
                if (line_ms > 0 && c->line_since && c->rlen == 0 &&
                    clock_now_ms() - c->line_since >= line_ms) {
                        conn_time_out(c, "line timeout", c->conf->server.line_timeout_s);
                        break;
                }
        }
        conn_reason_from(c, r);
        conn_teardown(c);
}
