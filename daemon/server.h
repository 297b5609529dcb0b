/* server: listeners, the connections they let in, threads and shutdown.
 *
 * Every client gets a detached thread with a small stack. The server owns
 * the list of connections being served: it makes each one (conn_new),
 * refuses it or starts its thread, and ends each one, at whatever stage,
 * in server_close_conn(): a connection never calls back into the server.
 *
 * Signals are blocked in every thread but the main one, which owns them.
 * All state is in struct server, which main (or a test) makes; nothing
 * here is global but the handler of SERVER_WAKE_SIGNAL. */
#pragma once

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "conf.h"
#include "conn.h"
#include "list.h"
#include "service.h"
#include "slots.h"

/* TCP listeners: each TCP service on each [server] bind address. */
#define SERVER_LISTENERS_MAX 64
/* Loops that show they are alive (accept loops, UDP loops: UDP echo,
 * daytime, time and qotd on each address). */
#define SERVER_LOOPS_MAX     (SERVER_LISTENERS_MAX + PICHAT_BIND_MAX * 4)

/* A thread that sleeps in a read of a socket that is not its own alone (a
 * UDP socket systemd passed, which systemd keeps watching): it cannot be
 * woken by shutting the socket, so server_stop() sends it
 * SERVER_WAKE_SIGNAL, which interrupts the read (EINTR) or, if it comes
 * just before, leaves it to the read's own timeout. */
struct server_sleeper {
        struct list link;
        pthread_t thread;
};
#define SERVER_WAKE_SIGNAL (SIGRTMIN + 2)

struct server_listener {
        struct server *srv;
        int fd;
        const struct service *svc;
        void *svc_ctx;
        unsigned loop;                  /* its heartbeat */
        bool tls;                       /* its clients speak TLS first */
        const char *plain_hint;         /* what a plain-text client there is told */
};

struct server {
        struct conf_store *conf;
        struct conn_halt halt;          /* what connections see of shutdown */
        int halt_pipe[2];               /* halt.fd is the read end */
        struct slots slots;
        struct server_listener listeners[SERVER_LISTENERS_MAX];
        unsigned n_listeners;
        /* Clients per service, for the status line. */
        struct {
                const struct service *svc;
                atomic_uint clients;
        } counts[SERVER_LISTENERS_MAX];
        unsigned n_counts;
        /* clock_now_ms() of each loop's last turn, for the watchdog. */
        _Atomic int64_t beats[SERVER_LOOPS_MAX];
        atomic_uint n_loops;

        pthread_mutex_t lock;           /* guards what follows */
        pthread_cond_t done;
        unsigned running;               /* threads server_stop() waits for */
        struct list conns;              /* every connection let in */
        struct list sleepers;
};

/* A server with no listener yet, under the configuration in conf. 0 or
 * -errno. */
int server_init(struct server *srv, struct conf_store *conf);
/* Free what server_init() made, once every thread has ended. */
void server_destroy(struct server *srv);

/* Serve TCP clients on listening socket fd with svc and its shared state
 * ctx. Takes fd whatever happens: 0, or -ENOSPC (fd closed). */
int server_add_listener(struct server *srv, int fd, const struct service *svc, void *ctx);
/* The same for a TLS port: each client's thread starts with the TLS
 * handshake (conn_use_tls()), under the credentials of the configuration
 * in force when it connected; plain_hint is said, in clear, to a client
 * that speaks plain text there. */
int server_add_tls_listener(struct server *srv, int fd, const struct service *svc, void *ctx,
                            const char *plain_hint);
/* Start an accept thread for every listener: 0 or -errno. */
int server_start(struct server *srv);

/* Start a detached thread with the configured stack size: 0 or -errno. */
int server_spawn(struct server *srv, void *(*fn)(void *), void *arg);
/* The same for a thread that server_stop() must wait for; such a thread
 * calls server_thread_done() as the last thing it does. */
int server_spawn_counted(struct server *srv, void *(*fn)(void *), void *arg);
void server_thread_done(struct server *srv);

bool server_stopping(const struct server *srv);
/* Tell every thread to finish (clients say goodbye); wait up to the
 * grace period. 0 once every thread has ended, or -EBUSY (then nothing
 * they use may be freed). */
int server_stop(struct server *srv);

/* Clients currently connected (all TCP services), and to one service. */
unsigned server_clients(struct server *srv);
unsigned server_clients_of(struct server *srv, const struct service *svc);

/* A loop that must show it is alive: its index for server_beat(), or
 * -ENOSPC. It has beaten once now. */
int server_loop_add(struct server *srv);
void server_beat(struct server *srv, unsigned loop);
/* clock_now_ms() at which the least recent loop last went round
 * (INT64_MAX when there is none). A loop goes round at least every
 * PICHAT_HEARTBEAT_MS while it is healthy. */
int64_t server_oldest_beat_ms(struct server *srv);

/* A loop whose call keeps failing (a socket that is not what its loop
 * takes it for, say) waits longer each time instead of spinning: after
 * a few failures in a row, 100 ms doubling up to PICHAT_BACKOFF_MAX_MS,
 * cut short by shutdown. The first wait of a run is logged with what and
 * errno. */
struct server_backoff {
        unsigned failures;
};
void server_backoff(struct server *srv, struct server_backoff *b, const char *what);
static inline void server_backoff_clear(struct server_backoff *b)
{
        b->failures = 0;
}

/* Whether [access] in cf lets the peer sa use service; each decision is
 * logged at debug (the allowed ones only when log_allowed). */
bool server_access(const struct conf *cf, const char *service, const struct sockaddr *sa,
                   bool log_allowed);

/* List (or unlist) the calling thread for SERVER_WAKE_SIGNAL. Unlist
 * before the thread ends. */
void server_sleeper_add(struct server *srv, struct server_sleeper *s);
void server_sleeper_del(struct server *srv, struct server_sleeper *s);
