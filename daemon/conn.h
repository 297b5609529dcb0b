/* conn: one TCP client and the thread that serves it.
 *
 * conn_run() is the body of every client thread: it reads, strips telnet
 * commands, splits lines, hands them to the service, enforces the idle
 * and line timeouts, and always ends in the same teardown path (conn_teardown). A
 * service only supplies callbacks. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "clock.h"
#include "conf.h"
#include "line.h"
#include "telnet.h"

/* A thread that sleeps reading a socket; see server_sleeper_add(). */
struct server_sleeper {
        bool listed;
        int fd;                 /* its read side is shut to wake the thread, */
        pthread_t thread;       /* or, with fd -1, this thread is signalled */
        struct server_sleeper *prev, *next;
};

/* Results of service callbacks besides 0 (carry on) and negative errno. */
enum {
        CONN_CLOSE = 1,         /* the service ended the session (e.g. /quit) */
};

#define CONN_READ_SIZE   2048
#define CONN_REASON_SIZE 96

struct conn;

struct service {
        const char *name;
        /* Greets the client; may set conn->wake_fd and conn->priv. */
        int (*open)(struct conn *c);
        int (*line)(struct conn *c, const char *line, size_t len);
        int (*too_long)(struct conn *c);
        /* Optional: wake_fd became readable. */
        int (*wake)(struct conn *c);
        /* Optional: output is queued (poll for POLLOUT) / the socket can take more. */
        bool (*want_write)(struct conn *c);
        int (*writable)(struct conn *c);
        /* Optional: milliseconds before the next line may be handled (flood control). */
        int64_t (*delay_ms)(struct conn *c);
        /* Optional: the lines at hand have been handled (or are held back);
         * the end of a batch of line() calls. */
        void (*dispatched)(struct conn *c);
        /* Optional: send any farewell, leave rooms. reason is for people. */
        void (*close)(struct conn *c, const char *reason);
        /* Optional: the client's own thread is about to write to its
         * socket directly (on: telnet replies, goodbyes) or is done (off),
         * for a service whose sockets other threads write to too. */
        void (*hold)(struct conn *c, bool on);
};

struct conn {
        int fd;
        int wake_fd;                    /* -1 unless the service sets one */
        const struct service *svc;
        struct conf *conf;              /* config at connect time */
        struct addr_key key;
        char peer[ADDR_STR_MAX];
        struct telnet tn;
        struct line_splitter ls;
        size_t rpos, rlen;
        /* clock_now_ms() since which input has not ended a line (0: none):
         * what [server] line_timeout_s is measured against. */
        int64_t line_since;
        uint8_t *rbuf;                  /* CONN_READ_SIZE, from the first read on */
        /* The service only answers lines (no wake-ups, no output of its
         * own, no flood control): the thread sleeps in recv() itself, and
         * server_stop() wakes it by shutting the socket's read side. */
        bool blocking;
        int64_t rcvtimeo_ms;            /* SO_RCVTIMEO set on fd (-1: none) */
        struct conf_cache live;         /* the config in force, for each line */
        struct server_sleeper sleeper;  /* listed while blocking */
        char reason[CONN_REASON_SIZE];  /* why the session ends */
        void *priv;                     /* service state */
};

/* Set a reason for the coming close, unless one is set already. */
void conn_set_reason(struct conn *c, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

/* Write all of buf, waiting for the socket while the server runs.
 * 0, or -ESHUTDOWN (server stopping), -ETIMEDOUT, or another -errno. */
int conn_write(struct conn *c, const void *buf, size_t len);
/* Write a line of text with CR LF appended. */
int conn_write_line(struct conn *c, const char *text);

/* The client thread's body; takes ownership of c. */
void conn_run(struct conn *c);

/* Whether svc's clients can be served by conn_run() blocking in recv(). */
bool conn_can_block(const struct service *svc);
