/* transport: the bottom layer of a connection, which moves its bytes.
 *
 * A transport reads and writes bytes and knows nothing of lines, frames
 * or rooms. There are two: a plain socket, and TLS (tls.h), which goes
 * under the same framings and services with its own ops.
 *
 * Threads: the connection's own thread reads, and writes its own output;
 * at the same time one other thread may write (a chat sender's direct
 * write, see msg.h), never two. A transport whose writes are not safe
 * beside a read keeps them apart inside its ops (tls.h says how TLS
 * does, without holding a lock while the socket is written). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

struct transport;

/* Results of recv besides a count of bytes and -errno. */
enum {
        TRANSPORT_NONE = 0,     /* nothing came: it would block, or the wait ran out */
};

struct transport_ops {
        const char *name;
        /* Read up to len bytes into buf: how many, TRANSPORT_NONE, or
         * -errno (-ECONNRESET at the peer's end of stream). With wait,
         * sleep until bytes come or the timeout set with set_timeout()
         * runs out; with peek, leave them to be read again. */
        ssize_t (*recv)(struct transport *t, void *buf, size_t len, bool wait, bool peek);
        /* Write what can be written at once of iov[0 .. n-1], never
         * waiting: bytes taken (0 if none fit), or -errno. A transport
         * may take bytes it could not put on the wire yet and hold them
         * (held()); every call writes what it holds first, and with n 0
         * does only that. */
        ssize_t (*sendv)(struct transport *t, const struct iovec *iov, int n);
        /* Optional: bytes taken are still held, to go out when the socket
         * has room (poll for POLLOUT, then sendv(t, NULL, 0)). From any
         * thread. */
        bool (*held)(const struct transport *t);
        /* Optional: bytes have come that a read returns now, though the
         * socket may not be readable (a TLS record read in part). From the
         * reading thread. */
        bool (*buffered)(const struct transport *t);
        /* How long a waiting recv may sleep (ms, 0 for ever): 0 or -errno. */
        int (*set_timeout)(struct transport *t, int64_t ms);
        /* Make a sleeping recv return now (it returns -ECONNRESET); writes
         * still work. From another thread, for shutdown. */
        void (*wake)(struct transport *t);
        /* No more output: what was written still reaches the peer. */
        void (*finish)(struct transport *t);
        /* Release everything; after this the transport is unused. */
        void (*close)(struct transport *t);
};

struct transport {
        const struct transport_ops *ops;
        int fd;                 /* the socket, for poll(); -1 once closed */
        void *state;            /* the ops' own (a TLS session), or NULL */
};

/* A plain socket fd (connected, blocking). Takes ownership of fd. */
void transport_plain(struct transport *t, int fd);

/* Write all of iov, and all the transport holds, waiting (poll) while the
 * peer does not read, but no longer than stall_ms (-1: no limit) and not
 * past the moment stop_fd becomes readable (-1: none). 0, -ETIMEDOUT,
 * -ESHUTDOWN (stop_fd), or -errno. The iov array is consumed. */
int transport_send_all(struct transport *t, struct iovec *iov, int n, int64_t stall_ms,
                       int stop_fd);

static inline ssize_t transport_recv(struct transport *t, void *buf, size_t len, bool wait,
                                     bool peek)
{
        return t->ops->recv(t, buf, len, wait, peek);
}

static inline ssize_t transport_sendv(struct transport *t, const struct iovec *iov, int n)
{
        return t->ops->sendv(t, iov, n);
}

static inline bool transport_held(const struct transport *t)
{
        return t->ops->held && t->ops->held(t);
}

static inline bool transport_buffered(const struct transport *t)
{
        return t->ops->buffered && t->ops->buffered(t);
}

/* Write what the transport holds, without waiting: 0 or -errno (what is
 * still held, transport_held() says). */
static inline int transport_flush(struct transport *t)
{
        ssize_t w = transport_held(t) ? t->ops->sendv(t, NULL, 0) : 0;

        return w < 0 ? (int)w : 0;
}
