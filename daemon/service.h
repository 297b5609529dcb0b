/* service: the top layer of a connection, what its messages mean.
 *
 * A service sees whole messages from one client (a line, whatever the
 * framing under it) and decides what to say and to whom; it never reads
 * or writes bytes itself. It talks back with conn_say() (its own thread,
 * now) or through the connection's queue (conn_queue()), which is how
 * other connections' threads reach it too.
 *
 * Callbacks return 0 to carry on, SERVICE_CLOSE to end the session, or
 * -errno. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct conf;
struct conn;

enum {
        SERVICE_CLOSE = 1,      /* the session is over (e.g. /quit) */
        SERVICE_SWITCH = 2,     /* it goes on under another framing and service,
                                 * given to conn_switch() (message() only) */
};

struct framing;

struct service {
        const char *name;
        /* Other connections' threads give lines to its clients (chat):
         * their threads wait in poll() for input, output and wake-ups.
         * Without, a client's thread sleeps in its read alone. */
        bool shared;
        /* How its clients' bytes are cut into messages (NULL: telnet lines). */
        const struct framing *framing;
        /* The client is in: greet it. c->priv is the service's. */
        int (*open)(struct conn *c);
        int (*message)(struct conn *c, const char *text, size_t len);
        /* A message went over [server] max_line_bytes. */
        int (*too_long)(struct conn *c);
        /* Optional: milliseconds before the next message may be handled
         * (flood control; shared services only). */
        int64_t (*delay_ms)(struct conn *c);
        /* Optional: the session ends (reason is for people); leave rooms,
         * free c->priv. Called once, also when open failed. */
        void (*close)(struct conn *c, const char *reason);
        /* Instead of the above: a service that answers once, unasked,
         * and is done (daytime, time, qotd: answer.h). Its whole answer
         * under cf, as it goes on the wire, into buf (size bytes, at
         * most PICHAT_ANSWER_MAX used): the length, or -errno. ctx is
         * its shared state; datagram says whether a datagram asked or a
         * connection. Such a client never gets a thread: the accepting
         * thread writes the answer without waiting and closes the
         * connection (server.c); over UDP the answer goes back as one
         * datagram (udp.c). */
        ssize_t (*answer)(void *ctx, const struct conf *cf, bool datagram, char *buf,
                          size_t size);
};
