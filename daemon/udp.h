/* udp: the UDP echo service: one thread per socket, answering prefix +
 * datagram, in batches.
 *
 * All state is in struct udp, which main (or a test) makes beside the
 * server whose threads, heartbeats and shutdown it uses. */
#pragma once

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "rate.h"
#include "server.h"

struct udp {
        struct server *srv;
        struct conf_store *conf;
        /* [udp] rate_per_source: one table for all UDP sockets, so a
         * source gets its rate once, not once per bind address. */
        pthread_mutex_t rate_lock;
        struct rate_table rates;
        atomic_ulong answered;
};

/* Ports whose traffic is never answered: 0 and the classic UDP services
 * (echo, daytime, qotd, chargen, time) that would answer us back. */
bool udp_port_ignored(unsigned port);

/* Build the reply into out (PICHAT_UDP_MAX bytes), truncated to fit. */
size_t udp_format(char *out, const char *prefix, const char *data, size_t len);

/* UDP service state for srv's threads, under the configuration in conf:
 * 0 or -ENOMEM. */
int udp_init(struct udp *u, struct server *srv, struct conf_store *conf);
/* Free it, once its threads have ended. */
void udp_destroy(struct udp *u);

/* Serve datagrams on fd in a thread of its own. Takes fd whatever
 * happens: 0 or -errno (fd closed). */
int udp_start(struct udp *u, int fd);

/* Datagrams answered so far. */
unsigned long udp_answered(struct udp *u);
