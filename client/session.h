/* session: what the TCP and UDP dialogues share, and their entry points.
 *
 * The client keeps the daemon's error convention: a function that can
 * fail returns a negative errno (having said why on stderr where the
 * caller cannot), 0 to go on, and the positive codes below for results
 * its caller must handle. */
#pragma once

#include <stdbool.h>

#include "addr.h"
#include "cliargs.h"

/* Exit status of pichat: 0 clean end, 1 connection error, 2 usage error. */
#define EXIT_CONNECT 1
#define EXIT_USAGE 2

/* A step of a session loop that ended the session cleanly: the server
 * closed, the input ended, the user quit. */
#define SESSION_END 1

struct ctls;

struct session {
        const struct args *a;
        int fd;                 /* connected, non-blocking socket (UDP chat: unconnected) */
        struct ctls *tls;       /* --tls: the session over fd (else NULL) */
        int sigfd;              /* self-pipe of caught signals */
        bool interactive;       /* stdin and stdout are terminals */
        char where[320];        /* "HOST:PORT" for messages; with -l, the peer's address */
        int listen_fd;          /* -l over TCP: the listener, to refuse a second peer; or -1 */
        char bound[ADDR_STR_MAX];       /* -l: where it listens */
};

/* Run a session to its end: the exit status (0, or EXIT_CONNECT). */
int tcp_run(struct session *s);
int udp_run(struct session *s);
/* The UDP chat: with -l, answering whoever sent last; with --chat, the
 * peer at HOST PORT. Datagrams from anyone else are shown with their
 * sender. */
int udp_chat_run(struct session *s);

/* -l over TCP: wait on s->listen_fd for the peer (or a signal). 0 with
 * s->fd and s->where set, SESSION_END, or -errno (said on stderr). */
int tcp_wait_peer(struct session *s);
