/* acl: [access] allow and deny lists of address prefixes, and the decision
 * whether a client address may talk to pichatd.
 *
 * Pure parsing and matching, no locking: a list lives in the immutable
 * struct conf, so a reload swaps whole lists at once.
 *
 * Precedence: an address in deny is refused, whatever allow says; an
 * empty allow list lets in every address that is not denied; a non-empty
 * one lets in only the addresses it holds. IPv4 clients are matched
 * against IPv4 prefixes only, also when a dual-stack socket reports them
 * as IPv4-mapped IPv6 (::ffff:a.b.c.d, see addr.h); a mapped prefix
 * written in the configuration (::ffff:10.0.0.0/104) is read as the IPv4
 * prefix it covers (10.0.0.0/8). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "bounds.h"

struct acl_prefix {
        uint8_t family;         /* AF_INET or AF_INET6 */
        uint8_t bits;           /* 0-32 or 0-128 */
        uint8_t bytes[16];      /* host bits are zero */
};

struct acl {
        unsigned n;
        struct acl_prefix p[PICHAT_ACL_MAX];
};

/* Results of acl_check() besides ACL_ALLOWED (0). */
enum {
        ACL_ALLOWED = 0,
        ACL_DENIED = 1,         /* the address is in the deny list */
        ACL_NOT_ALLOWED = 2,    /* the allow list is not empty and lacks the address */
};

/* Parse one prefix: "192.168.1.0/24", "2001:db8::/32", or an address
 * alone (a /32 or /128). 0, or -EINVAL with the reason in err
 * (bad address, bad length, host bits set). */
int acl_parse_prefix(const char *s, struct acl_prefix *p, char *err, size_t errsize);

/* Append the prefixes in text (separated by spaces, TABs or commas) to
 * *a: the number added, or -EINVAL (a bad prefix) or -ENOSPC (more than
 * PICHAT_ACL_MAX in all), with the reason in err; then *a is unchanged. */
int acl_parse_list(struct acl *a, const char *text, char *err, size_t errsize);

/* true if k lies in one of a's prefixes. */
bool acl_match(const struct acl *a, const struct addr_key *k);

/* ACL_ALLOWED, ACL_DENIED or ACL_NOT_ALLOWED for k (precedence above). */
int acl_check(const struct acl *allow, const struct acl *deny, const struct addr_key *k);

/* "10.0.0.0/8" or "2001:db8::/32". */
void acl_format(const struct acl_prefix *p, char *buf, size_t size);
