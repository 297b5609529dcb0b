/* addr: formatting and normalising of peer addresses. */
#include "addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "clock.h"

void addr_key_from(const struct sockaddr *sa, struct addr_key *k)
{
        memset(k, 0, sizeof(*k));
        if (sa->sa_family == AF_INET) {
                const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
                k->family = AF_INET;
                memcpy(k->bytes, &in->sin_addr, 4);
        } else if (sa->sa_family == AF_INET6) {
                const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
                if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
                        k->family = AF_INET;
                        memcpy(k->bytes, in6->sin6_addr.s6_addr + 12, 4);
                } else {
                        k->family = AF_INET6;
                        memcpy(k->bytes, &in6->sin6_addr, 16);
                }
        }
}

void addr_key_prefix(const struct sockaddr *sa, unsigned prefix_len, struct addr_key *k)
{
        addr_key_from(sa, k);
        if (k->family != AF_INET6 || prefix_len >= 128)
                return;
        for (unsigned bit = prefix_len; bit < 128; bit++)
                k->bytes[bit / 8] &= (uint8_t)~(0x80u >> (bit % 8));
}

/* The splitmix64 finaliser: every input bit moves every output bit. */
static uint64_t mix(uint64_t x)
{
        x ^= x >> 30;
        x *= 0xbf58476d1ce4e5b9ULL;
        x ^= x >> 27;
        x *= 0x94d049bb133111ebULL;
        return x ^ (x >> 31);
}

uint64_t addr_key_hash(const struct addr_key *k, uint64_t seed)
{
        uint64_t a, b;

        memcpy(&a, k->bytes, 8);
        memcpy(&b, k->bytes + 8, 8);
        return mix(mix(mix(seed ^ k->family) ^ a) ^ b);
}

uint64_t addr_hash_seed(void)
{
        uint64_t seed;

        /* getrandom() does not block once the pool is initialised, which
         * it is long before any service starts. */
        if (getrandom(&seed, sizeof(seed), 0) != (ssize_t)sizeof(seed))
                seed = mix((uint64_t)clock_now_us() ^ (uint64_t)getpid() << 32);
        return seed;
}

unsigned addr_port(const struct sockaddr *sa)
{
        if (sa->sa_family == AF_INET)
                return ntohs(((const struct sockaddr_in *)sa)->sin_port);
        if (sa->sa_family == AF_INET6)
                return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
        return 0;
}

void addr_format(const struct sockaddr *sa, char *buf, size_t size)
{
        struct addr_key k;
        char ip[INET6_ADDRSTRLEN];

        addr_key_from(sa, &k);
        if (k.family == 0) {
                snprintf(buf, size, "(unknown)");
                return;
        }
        inet_ntop(k.family, k.bytes, ip, sizeof(ip));
        if (k.family == AF_INET6)
                snprintf(buf, size, "[%s]:%u", ip, addr_port(sa));
        else
                snprintf(buf, size, "%s:%u", ip, addr_port(sa));
}

void addr_key_format(const struct addr_key *k, char *buf, size_t size)
{
        char ip[INET6_ADDRSTRLEN];

        if (k->family != AF_INET && k->family != AF_INET6)
                snprintf(buf, size, "(unknown)");
        else
                snprintf(buf, size, "%s", inet_ntop(k->family, k->bytes, ip, sizeof(ip)));
}

int addr_parse(const char *ip, unsigned port, struct sockaddr_storage *ss, socklen_t *len)
{
        memset(ss, 0, sizeof(*ss));
        if (port > 65535)
                return -EINVAL;
        struct sockaddr_in *in = (struct sockaddr_in *)ss;
        if (inet_pton(AF_INET, ip, &in->sin_addr) == 1) {
                in->sin_family = AF_INET;
                in->sin_port = htons((uint16_t)port);
                *len = sizeof(*in);
                return 0;
        }
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
        if (inet_pton(AF_INET6, ip, &in6->sin6_addr) == 1) {
                in6->sin6_family = AF_INET6;
                in6->sin6_port = htons((uint16_t)port);
                *len = sizeof(*in6);
                return 0;
        }
        return -EINVAL;
}
