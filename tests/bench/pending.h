/* pending: what a non-blocking socket did not take yet, kept until
 * EPOLLOUT, for the bench's single-threaded epoll servers (ref_epoll.c,
 * null_server.c). Header only: each server stays one file beside it. */
#pragma once

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

struct pending {
        char *buf;
        size_t len;
};

/* Send what fits of data on fd; keep the rest, and ask ep (with data.ptr
 * = ptr) for EPOLLOUT. -1: the peer is gone. */
static inline int pending_put(struct pending *p, int ep, int fd, void *ptr, const char *data,
                              size_t len)
{
        if (!p->len) {
                ssize_t n = send(fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n < 0 && errno != EAGAIN)
                        return -1;
                if (n > 0) {
                        data += n;
                        len -= (size_t)n;
                }
                if (!len)
                        return 0;
        }
        char *o = realloc(p->buf, p->len + len);
        if (!o)
                return -1;
        memcpy(o + p->len, data, len);
        p->buf = o;
        if (!p->len) {
                struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT, .data.ptr = ptr };
                epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
        }
        p->len += len;
        return 0;
}

/* On EPOLLOUT: send more; once all of it is gone, EPOLLIN alone again. */
static inline int pending_flush(struct pending *p, int ep, int fd, void *ptr)
{
        ssize_t n = send(fd, p->buf, p->len, MSG_NOSIGNAL | MSG_DONTWAIT);

        if (n < 0)
                return errno == EAGAIN ? 0 : -1;
        memmove(p->buf, p->buf + n, p->len - (size_t)n);
        p->len -= (size_t)n;
        if (!p->len) {
                struct epoll_event ev = { .events = EPOLLIN, .data.ptr = ptr };
                epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
        }
        return 0;
}
