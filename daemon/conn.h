/* conn: one client connection, from accept to close, and the thread
 * body that serves it.
 *
 * A connection is three layers (see daemon/README.md): a transport that
 * moves bytes (transport.h), a framing that turns them into messages and
 * back (framing.h), and a service that gives the messages a meaning
 * (service.h). conn ties them together: it reads, hands whole messages
 * to the service, writes its output queue, enforces the idle and line
 * timeouts, and ends every session the same way.
 *
 * Life: conn_new() makes one around an accepted socket; conn_run() serves
 * it to its end on its own thread; conn_free() releases whatever it holds,
 * at any stage (refused, never started, served). The server owns the
 * list of connections and calls these; a connection never calls back
 * into the server.
 *
 * Which configuration a connection sees: c->conf, the one it was let in
 * under, for everything that sizes or times it (line length, queue size,
 * timeouts, the password) — a reload changes those for new connections
 * only; and conn_conf(c), the one in force now, for what it says (texts,
 * prefixes, the MOTD) and the flood limits, which a reload changes for
 * everyone at once. */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "addr.h"
#include "clock.h"
#include "conf.h"
#include "framing.h"
#include "list.h"
#include "msg.h"
#include "service.h"
#include "transport.h"

#define CONN_READ_SIZE   2048
#define CONN_REASON_SIZE 96

/* Shutdown as a connection sees it; its owner (the server) sets it once. */
struct conn_halt {
        atomic_bool stopping;
        int fd;                 /* readable once stopping: poll it, never read it */
};

struct conn {
        /* The server's: its list of connections, its slot count, itself. */
        struct list link;
        bool slot_held;
        void *owner;

        /* The service it came in for (its listener's): its name in the
         * log and the count it is in. svc is the one serving it now,
         * which conn_switch() may change. */
        const struct service *entry;
        const struct service *svc;
        void *svc_ctx;                  /* the service's shared state */
        void *priv;                     /* the service's state for this client */
        const struct conn_halt *halt;
        struct conf_store *store;
        struct conf *conf;              /* let in under: limits (see above) */
        struct conf_cache live;         /* in force: texts, flood limits */
        struct addr_key key;
        char peer[ADDR_STR_MAX];

        struct transport t;
        const char *plain_hint;         /* TLS port: said to a plain-text client */
        bool heard;                     /* a byte came: the first ones are checked */
        const struct framing *fr;
        struct framing_state fs;
        struct msg_queue out;           /* its output, for a shared service */
        struct msg_batch batch;         /* what its thread says to others */
        int wake_fd;                    /* eventfd its queue is woken by, or -1 */

        uint8_t *rbuf;                  /* CONN_READ_SIZE, from the first byte on */
        size_t rpos, rlen;
        int64_t last_input;             /* clock_now_ms() of the last text */
        int64_t last_heard;             /* ... of the last bytes of any kind */
        int64_t pinged;                 /* ... of a keepalive unanswered yet (0: none) */
        /* clock_now_ms() since which input has not ended a message (0:
         * none): what [server] line_timeout_s is measured against. */
        int64_t line_since;
        /* Not shared: the thread sleeps in its read itself, and the
         * server wakes it with conn_wake() (from its thread: atomic, as
         * a switch changes it). */
        atomic_bool blocking;
        int64_t rcvtimeo_ms;            /* the read timeout set (0: none) */
        char reason[CONN_REASON_SIZE];  /* why the session ends */
        /* The goodbye it ends with, said once its queue is written (so
         * that it is the last thing a client gets): FRAMING_BYE_SHUTDOWN
         * or _TIMEOUT (what timed out, and after how long), or
         * FRAMING_BYE_CLOSE for none. */
        uint8_t bye_why;
        const char *bye_what;
        unsigned bye_secs;
        /* What conn_switch() asked for, applied when the message that
         * asked is handled. */
        const struct framing *next_fr;
        const struct service *next_svc;
        void *next_ctx;
};

/* A connection around socket fd (accepted, blocking) from sa, for svc
 * with its shared state ctx, under the configuration now in store. It
 * takes fd whatever happens: NULL (ENOMEM) means fd is closed. */
struct conn *conn_new(int fd, const struct sockaddr *sa, const struct service *svc, void *ctx,
                      struct conf_store *store, const struct conn_halt *halt);
/* Release everything c holds, at whatever stage it is. */
void conn_free(struct conn *c);
/* c came to a TLS port: its socket moves no bytes until conn_run() has
 * made the handshake, within [server] line_timeout_s (tls.h); a client
 * that speaks plain text there is told plain_hint in clear, and closed.
 * Before conn_run(). */
void conn_use_tls(struct conn *c, const char *plain_hint);

/* Tell a client that is not let in why (one line, if its socket takes it
 * now) and log it. */
void conn_refuse(struct conn *c, const char *why);

/* Serve c to its end: greet, read, dispatch, write, time out, and say
 * goodbye. Runs on c's own thread; c is still to be freed afterwards. */
void conn_run(struct conn *c);

/* Wake c's thread from a sleeping read (shutdown); from any thread, while
 * c is not yet freed. */
void conn_wake(struct conn *c);

/* ---- for services ------------------------------------------------------- */

/* The configuration in force (the reference is c's, valid until its next
 * call here). */
struct conf *conn_conf(struct conn *c);
bool conn_stopping(const struct conn *c);

/* Set a reason for the coming close, unless one is set already. */
void conn_set_reason(struct conn *c, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

/* Send one message of text to the client now, from its own thread,
 * waiting while it does not read (but not past [server] idle_timeout_s
 * nor shutdown). 0, -ETIMEDOUT, -ESHUTDOWN or another -errno. */
int conn_say(struct conn *c, const char *text, size_t len);
/* The same for one message made of n parts (prefix and line, say). */
int conn_sayv(struct conn *c, const struct iovec *parts, int n);

/* A shared service's client: its output queue, which its thread writes,
 * and its thread's batch for what it says to others (msg.h). */
static inline struct msg_queue *conn_queue(struct conn *c)
{
        return &c->out;
}

static inline struct msg_batch *conn_batch(struct conn *c)
{
        return &c->batch;
}

/* From a service's message(), which then returns SERVICE_SWITCH: the
 * session goes on under framing fr and service svc (shared state ctx).
 * The connection then frees the old framing's state, makes the new one,
 * hands it the bytes that came after the message, and opens svc as for a
 * new client; the old service's close() is called first, and c->priv
 * starts again from NULL. The web service uses it to turn an HTTP
 * connection into a WebSocket chat client. */
void conn_switch(struct conn *c, const struct framing *fr, const struct service *svc, void *ctx);

/* Whether a client on a plain port speaks TLS, told by its first bytes
 * if they come within ms: true (logged, and the reason set: the caller
 * ends the session before anyone sees the client), or false (plain text
 * came, or nothing in time, or bytes came already). What c's queue holds
 * is written first, so that the wait does not hold back what the client
 * was told. From open(), before a client is shown to others. */
bool conn_sniff_tls(struct conn *c, int64_t ms);

/* Bound what is held for a slow reader: the queue's bytes, and what the
 * kernel keeps for the socket, so that "too slow" comes after bytes, not
 * after megabytes of socket buffer. From open(). */
void conn_limit_output(struct conn *c, size_t bytes);
