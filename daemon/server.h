/* server: listeners, accept threads, client threads and shutdown.
 *
 * Every client gets a detached thread with a small stack. Signals are
 * blocked in all threads but the main one, which owns them. */
#pragma once

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "conf.h"
#include "conn.h"
#include "slots.h"

int server_init(void);
/* Serve TCP clients on listening socket fd with svc (ownership of fd taken). */
int server_add_listener(int fd, const struct service *svc);
int server_start(void);

/* Start a detached thread with the configured stack size: 0 or -errno. */
int server_spawn(void *(*fn)(void *), void *arg);
/* The same for a thread that server_stop() must wait for; such a thread
 * calls server_thread_done() as the last thing it does. */
int server_spawn_counted(void *(*fn)(void *), void *arg);
void server_thread_done(void);

/* Readable once the server is stopping; never read from it. */
int server_stop_fd(void);
bool server_stopping(void);
/* Tell every thread to finish (clients say goodbye); wait up to the grace period. */
void server_stop(void);

/* Clients currently connected (all TCP services). */
unsigned server_clients(void);
/* Clients currently connected to one service. */
unsigned server_clients_of(const struct service *svc);

/* clock_now_ms() at which the least recent accept loop last went round
 * (INT64_MAX when there is none). A loop goes round at least every
 * PICHAT_HEARTBEAT_MS while it is healthy. */
int64_t server_oldest_beat_ms(void);

/* Whether [access] in cf lets the peer sa use service; each decision is
 * logged at debug (the allowed ones only when log_allowed). */
bool server_access(const struct conf *cf, const char *service, const struct sockaddr *sa,
                   bool log_allowed);

/* Called once by each client thread as it ends. */
void server_conn_done(struct conn *c);

/* A thread that sleeps in a blocking read lists itself, so that
 * server_stop() can wake it once stopping is set. A client thread names
 * its connection's socket, whose read side is then shut (a read returns
 * 0 at once; writes still work). A socket that is not ours alone (a UDP
 * socket systemd passed, which it keeps watching after we exit) must not
 * be shut: its thread lists itself with server_sleeper_add_self() and is
 * sent SERVER_WAKE_SIGNAL instead, which interrupts the read (EINTR), or,
 * if it comes just before the read, leaves it to its SO_RCVTIMEO. Unlist
 * before closing the socket or ending the thread. */
void server_sleeper_add(struct server_sleeper *s, int fd);
void server_sleeper_add_self(struct server_sleeper *s);
void server_sleeper_del(struct server_sleeper *s);
#define SERVER_WAKE_SIGNAL (SIGRTMIN + 2)
