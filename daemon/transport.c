/* transport: plain sockets, and writing all of a buffer through any transport. */
#include "transport.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static ssize_t plain_recv(struct transport *t, void *buf, size_t len, bool wait, bool peek)
{
        int flags = (wait ? 0 : MSG_DONTWAIT) | (peek ? MSG_PEEK : 0);
        ssize_t n;

        do
                n = recv(t->fd, buf, len, flags);
        while (n < 0 && errno == EINTR);
        if (n == 0)
                return -ECONNRESET;
        if (n < 0)
                return errno == EAGAIN || errno == EWOULDBLOCK ? TRANSPORT_NONE : -errno;
        return n;
}

static ssize_t plain_sendv(struct transport *t, const struct iovec *iov, int n)
{
        struct msghdr mh = { .msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)n };
        ssize_t w;

        if (n == 0)
                return 0;       /* nothing is ever held */
        do
                w = sendmsg(t->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
        while (w < 0 && errno == EINTR);
        if (w < 0)
                return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
        return w;
}

static int plain_set_timeout(struct transport *t, int64_t ms)
{
        struct timeval tv = {
                .tv_sec = (time_t)(ms / 1000),
                .tv_usec = (suseconds_t)(ms % 1000) * 1000,
        };

        return setsockopt(t->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ? -errno : 0;
}

/* The read side, shut, makes a sleeping recv() return 0 at once. */
static void plain_wake(struct transport *t)
{
        shutdown(t->fd, SHUT_RD);
}

/* A goodbye still in the socket reaches the peer rather than being reset. */
static void plain_finish(struct transport *t)
{
        shutdown(t->fd, SHUT_WR);
}

static void plain_close(struct transport *t)
{
        if (t->fd >= 0)
                close(t->fd);
        t->fd = -1;
}

static const struct transport_ops plain_ops = {
        .name = "plain", .recv = plain_recv, .sendv = plain_sendv,
        .set_timeout = plain_set_timeout, .wake = plain_wake, .finish = plain_finish,
        .close = plain_close,
};

void transport_plain(struct transport *t, int fd)
{
        t->ops = &plain_ops;
        t->fd = fd;
        t->state = NULL;
}

int transport_send_all(struct transport *t, struct iovec *iov, int n, int64_t stall_ms,
                       int stop_fd)
{
        while (n > 0 || transport_held(t)) {
                ssize_t w = transport_sendv(t, iov, n);

                if (w < 0)
                        return (int)w;
                size_t left = (size_t)w;
                while (n > 0 && left >= iov->iov_len) {
                        left -= iov->iov_len;
                        iov++;
                        n--;
                }
                if (n == 0 && !transport_held(t))
                        return 0;
                if (n > 0) {
                        iov->iov_base = (char *)iov->iov_base + left;
                        iov->iov_len -= left;
                }
                if (w > 0)
                        continue;
                /* The peer is not reading: wait for it, but not past
                 * shutdown and not for ever. */
                struct pollfd pfd[2] = {
                        { .fd = t->fd, .events = POLLOUT },
                        { .fd = stop_fd, .events = POLLIN },
                };
                int wait = stall_ms < 0 ? -1 : stall_ms > INT32_MAX ? INT32_MAX : (int)stall_ms;
                int r = poll(pfd, stop_fd >= 0 ? 2 : 1, wait);
                if (r < 0 && errno != EINTR)
                        return -errno;
                if (r == 0)
                        return -ETIMEDOUT;
                if (stop_fd >= 0 && pfd[1].revents)
                        return -ESHUTDOWN;
        }
        return 0;
}
