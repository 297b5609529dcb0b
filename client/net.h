/* net: name resolution and connecting, with one clear message on failure. */
#pragma once

#include <stddef.h>

#include "cliargs.h"

/* "HOST:PORT", with an IPv6 literal in brackets, for messages. */
void net_hostport(const char *host, const char *port, char *buf, size_t size);

/* Resolve a->host and connect a socket of socktype (SOCK_STREAM or
 * SOCK_DGRAM) to the first address that works, trying each address that
 * getaddrinfo returns; a TCP attempt gives up after a->timeout_s. Returns
 * a non-blocking socket, or -errno after printing why to stderr in one
 * line (-EHOSTUNREACH for a name that does not resolve). */
int net_connect(const struct args *a, int socktype);
