/* acl: parsing of address prefixes and the allow/deny decision. */
#include "acl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Longest text a prefix can be: a full IPv6 address, '/', three digits. */
#define ACL_TEXT_MAX (INET6_ADDRSTRLEN + 4)

static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

/* Decimal digits only, at most three of them: 0 or -EINVAL. */
static int parse_bits(const char *s, unsigned *out)
{
        unsigned n = 0;
        size_t len = strlen(s);

        if (len == 0 || len > 3)
                return -EINVAL;
        for (; *s; s++) {
                if (*s < '0' || *s > '9')
                        return -EINVAL;
                n = n * 10 + (unsigned)(*s - '0');
        }
        *out = n;
        return 0;
}

/* true if every bit of bytes after the first bits is zero. */
static bool host_bits_clear(const uint8_t *bytes, unsigned bits, unsigned total)
{
        for (unsigned i = bits; i < total; i++)
                if (bytes[i / 8] & (0x80u >> (i % 8)))
                        return false;
        return true;
}

int acl_parse_prefix(const char *s, struct acl_prefix *p, char *err, size_t errsize)
{
        char addr[ACL_TEXT_MAX + 1];
        const char *slash = strchr(s, '/');
        size_t alen = slash ? (size_t)(slash - s) : strlen(s);
        unsigned bits, total;

        memset(p, 0, sizeof(*p));
        if (alen == 0 || alen > ACL_TEXT_MAX) {
                snprintf(err, errsize, "'%.64s' is not an address or prefix", s);
                return -EINVAL;
        }
        memcpy(addr, s, alen);
        addr[alen] = '\0';
        if (inet_pton(AF_INET, addr, p->bytes) == 1) {
                p->family = AF_INET;
                total = 32;
        } else if (inet_pton(AF_INET6, addr, p->bytes) == 1) {
                p->family = AF_INET6;
                total = 128;
        } else {
                snprintf(err, errsize, "'%.64s' is not an address or prefix "
                         "(like 192.168.1.0/24 or 2001:db8::/32)", s);
                return -EINVAL;
        }
        bits = total;
        if (slash && (parse_bits(slash + 1, &bits) < 0 || bits > total)) {
                snprintf(err, errsize, "'%.64s': prefix length must be 0-%u", s, total);
                return -EINVAL;
        }
        if (!host_bits_clear(p->bytes, bits, total)) {
                snprintf(err, errsize, "'%.64s' has bits set after the first %u", s, bits);
                return -EINVAL;
        }
        /* Clients on a dual-stack socket are seen as IPv4 (addr_key_from),
         * so a mapped prefix must be IPv4 to ever match one. */
        if (p->family == AF_INET6 && bits >= 96 && memcmp(p->bytes, v4mapped, 12) == 0) {
                memmove(p->bytes, p->bytes + 12, 4);
                memset(p->bytes + 4, 0, 12);
                p->family = AF_INET;
                bits -= 96;
        }
        p->bits = (uint8_t)bits;
        return 0;
}

int acl_parse_list(struct acl *a, const char *text, char *err, size_t errsize)
{
        unsigned n = a->n;
        const char *s = text;
        int r = 0;

        /* Entries go in past a->n and count only once the whole text has
         * parsed, so a bad list adds nothing. */
        for (;;) {
                char tok[ACL_TEXT_MAX + 2];
                size_t len;

                s += strspn(s, " \t,");
                if (!*s)
                        break;
                len = strcspn(s, " \t,");
                /* A token cut here is still too long for acl_parse_prefix. */
                snprintf(tok, sizeof(tok), "%.*s",
                         (int)(len < sizeof(tok) - 1 ? len : sizeof(tok) - 1), s);
                s += len;
                if (n == PICHAT_ACL_MAX) {
                        snprintf(err, errsize, "more than %d prefixes", PICHAT_ACL_MAX);
                        r = -ENOSPC;
                        break;
                }
                if ((r = acl_parse_prefix(tok, &a->p[n], err, errsize)) < 0)
                        break;
                n++;
        }
        if (r < 0) {
                /* Including the slot the bad prefix was parsed into. */
                unsigned end = n < PICHAT_ACL_MAX ? n + 1 : n;
                memset(&a->p[a->n], 0, (end - a->n) * sizeof(a->p[0]));
                return r;
        }
        r = (int)(n - a->n);
        a->n = n;
        return r;
}

static bool prefix_match(const struct acl_prefix *p, const struct addr_key *k)
{
        unsigned full = p->bits / 8, rest = p->bits % 8;

        if (p->family != k->family)
                return false;
        if (memcmp(p->bytes, k->bytes, full) != 0)
                return false;
        if (rest == 0)
                return true;
        uint8_t mask = (uint8_t)(0xff00u >> rest);
        return (p->bytes[full] & mask) == (k->bytes[full] & mask);
}

bool acl_match(const struct acl *a, const struct addr_key *k)
{
        for (unsigned i = 0; i < a->n; i++)
                if (prefix_match(&a->p[i], k))
                        return true;
        return false;
}

int acl_check(const struct acl *allow, const struct acl *deny, const struct addr_key *k)
{
        if (acl_match(deny, k))
                return ACL_DENIED;
        if (allow->n > 0 && !acl_match(allow, k))
                return ACL_NOT_ALLOWED;
        return ACL_ALLOWED;
}

void acl_format(const struct acl_prefix *p, char *buf, size_t size)
{
        char ip[INET6_ADDRSTRLEN];

        if (!inet_ntop(p->family, p->bytes, ip, sizeof(ip)))
                snprintf(ip, sizeof(ip), "?");
        snprintf(buf, size, "%s/%u", ip, p->bits);
}
