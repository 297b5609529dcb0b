/* udp: the UDP echo service: one thread per socket, answering prefix +
 * datagram, in batches; and the UDP side of the services that answer
 * once (daytime, time, qotd: answer.h), under the same protections.
 *
 * A UDP service answers anyone who can write a source address, so it is
 * built not to become a reflector or one end of a loop: it never answers
 * a source that is a service port (below 1024, and NFS) or an address no
 * peer has (0/8, 255/8, broadcast, multicast), a datagram sent to a
 * broadcast or multicast address, or one that already starts with its own
 * prefix (another echo's answer); each source has its rate, and all
 * sources together a budget that sheds what is over it. Replies leave
 * from the address the datagram was sent to.
 *
 * All state is in struct udp, which main (or a test) makes beside the
 * server whose threads, heartbeats and shutdown it uses. */
#pragma once

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <netinet/in.h>

#include "bucket.h"
#include "conf.h"
#include "rate.h"
#include "server.h"

/* Interface broadcast addresses kept, and how often they are read again. */
#define UDP_BROADCASTS_MAX 32
#define UDP_BROADCASTS_MS  10000
/* UDP sockets served at once: each UDP service on each bind address. */
#define UDP_SOCKETS_MAX    (PICHAT_BIND_MAX * 4)

struct udp {
        struct server *srv;
        struct conf_store *conf;
        /* [udp] rate_per_source: one table for all UDP sockets, so a
         * source gets its rate once, not once per bind address. */
        pthread_mutex_t rate_lock;      /* guards what follows */
        struct rate_table rates;
        struct bucket total;            /* [udp] rate_total, for every source (cap 0: unused yet) */
        bool shedding;                  /* in a run of replies over it */
        struct in_addr bcast[UDP_BROADCASTS_MAX];
        unsigned n_bcast;
        int64_t bcast_ms;               /* when they were read (0: never) */
        atomic_ulong answered;          /* by the UDP echo */
        /* The ports of the sockets served (each listed as its thread
         * starts, then never changed): a datagram from one of them is
         * another service's answer, from this server or its twin, and
         * answering it would start a loop. */
        _Atomic unsigned short ports[UDP_SOCKETS_MAX];
        atomic_uint n_ports;
};

/* Source ports never answered: those below 1024, where the services live
 * that would answer back (echo, daytime, chargen, DNS, ...), and NFS's. */
bool udp_port_ignored(unsigned port);

/* Whether port is one of those u serves a UDP socket on. */
bool udp_port_ours(struct udp *u, unsigned port);

/* Whether a datagram from sa, sent to the local address to (NULL: not
 * known), is not to be answered whatever it holds: the source or the
 * destination is an address no single peer has. */
bool udp_addr_refused(struct udp *u, const struct sockaddr *sa, const struct sockaddr *to);

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
/* The same for a service that answers once (svc->answer, with its shared
 * state ctx) instead of the echo: every datagram let in gets the answer.
 * The rates, refused sources and [access] are the echo's, and shared
 * with it: a source has one rate for all of them. */
int udp_start_service(struct udp *u, int fd, const struct service *svc, void *ctx);

/* Datagrams the UDP echo answered so far. */
unsigned long udp_answered(struct udp *u);
