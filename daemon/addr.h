/* addr: socket address helpers: printing, parsing, per-address keys.
 *
 * IPv4-mapped IPv6 addresses (what a dual-stack socket reports for IPv4
 * clients) are treated as the IPv4 address they carry, so that logs and
 * per-address limits see one client the same way on every socket. */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define ADDR_STR_MAX (INET6_ADDRSTRLEN + 8)     /* "[addr]:port" */

struct addr_key {
        uint8_t family;         /* AF_INET or AF_INET6 */
        uint8_t bytes[16];
};

void addr_key_from(const struct sockaddr *sa, struct addr_key *k);
/* The same, with an IPv6 address cut to its first prefix_len bits: one
 * site's /64 counts as one client, as one IPv4 address does. */
void addr_key_prefix(const struct sockaddr *sa, unsigned prefix_len, struct addr_key *k);

/* A hash of k under seed, for the tables keyed by address. The seed is
 * each table's own, drawn at random (addr_hash_seed()), so that nobody
 * can choose addresses that collide without knowing it. Not a MAC: the
 * tables are built so that collisions only cost time, never a limit. */
uint64_t addr_key_hash(const struct addr_key *k, uint64_t seed);
uint64_t addr_hash_seed(void);
/* "127.0.0.1:54012" or "[::1]:5000" */
void addr_format(const struct sockaddr *sa, char *buf, size_t size);
/* "192.0.2.1" or "2001:db8::" (a prefix is shown as its first address). */
void addr_key_format(const struct addr_key *k, char *buf, size_t size);
unsigned addr_port(const struct sockaddr *sa);
/* Fill *ss from a numeric address and a port: 0 or -EINVAL. */
int addr_parse(const char *ip, unsigned port, struct sockaddr_storage *ss, socklen_t *len);
