/* transport: the bottom layer of a connection, which moves its bytes.
 *
 * A transport reads and writes bytes and knows nothing of lines, frames
 * or rooms. Today there is one, a plain socket; an encrypted one (TLS)
 * goes under the same framings and services by giving its own ops.
 *
 * Threads: the connection's own thread reads, and writes its own output;
 * at the same time one other thread may write (a chat sender's direct
 * write, see msg.h), never two. A transport whose writes are not safe
 * beside a read must lock inside its ops. */
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
         * waiting: bytes taken (0 if none fit), or -errno. */
        ssize_t (*sendv)(struct transport *t, const struct iovec *iov, int n);
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
};

/* A plain socket fd (connected, blocking). Takes ownership of fd. */
void transport_plain(struct transport *t, int fd);

/* Write all of iov, waiting (poll) while the peer does not read, but no
 * longer than stall_ms (-1: no limit) and not past the moment stop_fd
 * becomes readable (-1: none). 0, -ETIMEDOUT, -ESHUTDOWN (stop_fd), or
 * -errno. The iov array is consumed. */
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
