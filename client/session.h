/* session: what the TCP and UDP dialogues share, and their entry points. */
#pragma once

#include <stdbool.h>

#include "cliargs.h"

struct session {
        const struct args *a;
        int fd;                 /* connected, non-blocking socket */
        int sigfd;              /* self-pipe of caught signals */
        bool interactive;       /* stdin and stdout are terminals */
        char where[320];        /* "HOST:PORT" for messages */
};

/* Run a session to its end: the exit status (0 clean, 1 connection error). */
int tcp_run(struct session *s);
int udp_run(struct session *s);

/* Milliseconds on the monotonic clock. */
long long session_now_ms(void);
