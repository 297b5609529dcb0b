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
/* "127.0.0.1:54012" or "[::1]:5000" */
void addr_format(const struct sockaddr *sa, char *buf, size_t size);
unsigned addr_port(const struct sockaddr *sa);
/* Fill *ss from a numeric address and a port: 0 or -EINVAL. */
int addr_parse(const char *ip, unsigned port, struct sockaddr_storage *ss, socklen_t *len);
