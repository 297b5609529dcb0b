/* net: name resolution, connecting and listening, with one clear message
 * on failure. */
#pragma once

#include <stddef.h>
#include <sys/socket.h>

#include "cliargs.h"

/* "HOST:PORT", with an IPv6 literal in brackets, for messages. */
void net_hostport(const char *host, const char *port, char *buf, size_t size);

/* Resolve a->host and connect a socket of socktype (SOCK_STREAM or
 * SOCK_DGRAM) to the first address that works, trying each address that
 * getaddrinfo returns; a TCP attempt gives up after a->timeout_s. Returns
 * a non-blocking socket, or -errno after printing why to stderr in one
 * line (-EHOSTUNREACH for a name that does not resolve). */
int net_connect(const struct args *a, int socktype);

/* A socket bound to a->host (NULL: every address, IPv6 and IPv4 at once
 * where the system has IPv6) and a->port, of socktype; a TCP one
 * listening, with room for one peer and those it refuses. where gets the
 * address as bound ("[::]:4000"). Returns a non-blocking socket, or
 * -errno after printing why to stderr in one line ("pichat: cannot
 * listen on [::]:4000: Address already in use"). */
int net_listen(const struct args *a, int socktype, char *where, size_t size);

/* An unconnected UDP socket for talking to a->host a->port (resolved into
 * *peer, *len), which also hears datagrams from anyone else and is told
 * of ICMP errors (IP_RECVERR). Returns a non-blocking socket, or -errno
 * after printing why to stderr in one line. */
int net_udp_peer(const struct args *a, struct sockaddr_storage *peer, socklen_t *len);

/* Ask the kernel to report ICMP errors for the datagrams fd sends (read
 * them with net_udp_error()). */
void net_want_errors(int fd);
/* An ICMP error queued on fd: 0 and *err (an errno), *about set to the
 * address the failed datagram was for; or -EAGAIN when none is queued. */
int net_udp_error(int fd, int *err, struct sockaddr_storage *about);
