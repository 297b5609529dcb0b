/* Unit: [access] prefixes: parsing, matching, precedence, mapped addresses. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "acl.h"
#include "addr.h"
#include "suite.h"

static struct addr_key key_of(const char *ip)
{
        struct sockaddr_storage ss;
        socklen_t len;
        struct addr_key k;

        ck_assert_msg(addr_parse(ip, 1234, &ss, &len) == 0, "bad test address %s", ip);
        addr_key_from((struct sockaddr *)&ss, &k);
        return k;
}

static struct acl list_of(const char *text)
{
        static struct acl a;    /* 4.6 KiB: kept off check's stack */
        char err[256];

        memset(&a, 0, sizeof(a));
        ck_assert_msg(acl_parse_list(&a, text, err, sizeof(err)) >= 0, "%s: %s", text, err);
        return a;
}

START_TEST(acl_parse_good)
{
        static const struct {
                const char *in, *out;
        } cases[] = {
                { "10.0.0.0/8", "10.0.0.0/8" },
                { "192.168.1.0/24", "192.168.1.0/24" },
                { "127.0.0.1", "127.0.0.1/32" },
                { "127.0.0.1/32", "127.0.0.1/32" },
                { "0.0.0.0/0", "0.0.0.0/0" },
                { "::1", "::1/128" },
                { "::/0", "::/0" },
                { "2001:db8::/32", "2001:db8::/32" },
                { "fe80::/10", "fe80::/10" },
                { "2001:db8:0:0:0:0:0:1/128", "2001:db8::1/128" },
                /* mapped prefixes are the IPv4 ones they cover */
                { "::ffff:10.0.0.0/104", "10.0.0.0/8" },
                { "::ffff:127.0.0.1", "127.0.0.1/32" },
                { "::ffff:0.0.0.0/96", "0.0.0.0/0" },
                /* shorter than /96 it is an IPv6 prefix like any other */
                { "::fffe:0:0/95", "::fffe:0:0/95" },
                { "10.0.0.0/008", "10.0.0.0/8" },
        };
        struct acl_prefix p;
        char err[128], buf[64];

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                int r = acl_parse_prefix(cases[i].in, &p, err, sizeof(err));
                ck_assert_msg(r == 0, "%s: %s", cases[i].in, err);
                acl_format(&p, buf, sizeof(buf));
                ck_assert_str_eq(buf, cases[i].out);
        }
}
END_TEST

START_TEST(acl_parse_bad)
{
        static const struct {
                const char *in, *why;
        } cases[] = {
                { "", "is not an address" },
                { "/8", "is not an address" },
                { "10.0.0.0/", "prefix length must be 0-32" },
                { "10.0.0.0/33", "prefix length must be 0-32" },
                { "10.0.0.0/-1", "prefix length must be 0-32" },
                { "10.0.0.0/+8", "prefix length must be 0-32" },
                { "10.0.0.0/8x", "prefix length must be 0-32" },
                { "10.0.0.0/1000", "prefix length must be 0-32" },
                { "10.0.0.0/8/8", "prefix length must be 0-32" },
                { "::/129", "prefix length must be 0-128" },
                { "10.1.0.0/8", "has bits set after the first 8" },
                { "2001:db8::1/32", "has bits set after the first 32" },
                { "::ffff:0:0/95", "has bits set after the first 95" },
                { "10.0.0", "is not an address" },
                { "localhost", "is not an address" },
                { "fe80::1%eth0", "is not an address" },
                { "[::1]", "is not an address" },
                { "10.0.0.0 /8", "is not an address" },
                { "1234:1234:1234:1234:1234:1234:1234:1234:1234/64", "is not an address" },
        };
        struct acl_prefix p;
        char err[256];

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                err[0] = '\0';
                ck_assert_msg(acl_parse_prefix(cases[i].in, &p, err, sizeof(err)) == -EINVAL,
                              "accepted '%s'", cases[i].in);
                ck_assert_msg(strstr(err, cases[i].why), "'%s': %s", cases[i].in, err);
        }
}
END_TEST

START_TEST(acl_list_separators_and_adding_up)
{
        static struct acl a;
        char err[128];

        memset(&a, 0, sizeof(a));
        ck_assert_int_eq(acl_parse_list(&a, " 10.0.0.0/8,::1\t192.168.0.0/16 ,, ", err,
                                        sizeof(err)), 3);
        ck_assert_uint_eq(a.n, 3);
        ck_assert_int_eq(acl_parse_list(&a, "", err, sizeof(err)), 0);
        ck_assert_int_eq(acl_parse_list(&a, " , ", err, sizeof(err)), 0);
        ck_assert_int_eq(acl_parse_list(&a, "172.16.0.0/12", err, sizeof(err)), 1);
        ck_assert_uint_eq(a.n, 4);

        /* A bad token anywhere adds nothing, not even the good ones before it. */
        struct acl before = a;
        ck_assert_int_eq(acl_parse_list(&a, "1.1.1.1 2.2.2.2 nope 3.3.3.3", err, sizeof(err)),
                         -EINVAL);
        ck_assert_ptr_nonnull(strstr(err, "'nope'"));
        ck_assert_int_eq(memcmp(&a, &before, sizeof(a)), 0);
}
END_TEST

START_TEST(acl_list_full)
{
        static struct acl a, before;
        char err[128], text[64];

        memset(&a, 0, sizeof(a));
        for (unsigned i = 0; i < PICHAT_ACL_MAX; i++) {
                snprintf(text, sizeof(text), "10.%u.%u.0/24", i / 256, i % 256);
                ck_assert_int_eq(acl_parse_list(&a, text, err, sizeof(err)), 1);
        }
        ck_assert_uint_eq(a.n, PICHAT_ACL_MAX);
        before = a;
        ck_assert_int_eq(acl_parse_list(&a, "11.0.0.0/8", err, sizeof(err)), -ENOSPC);
        ck_assert_ptr_nonnull(strstr(err, "more than 256 prefixes"));
        ck_assert_int_eq(memcmp(&a, &before, sizeof(a)), 0);
        /* Nothing at all still fits. */
        ck_assert_int_eq(acl_parse_list(&a, " ", err, sizeof(err)), 0);
}
END_TEST

START_TEST(acl_match_prefixes)
{
        struct acl a = list_of("10.0.0.0/8 192.168.1.128/25 2001:db8::/32 ::1 172.16.0.0/13");
        struct addr_key k;

        static const char *const in[] = {
                "10.0.0.0", "10.255.255.255", "192.168.1.128", "192.168.1.255",
                "2001:db8::", "2001:db8:ffff::1", "::1", "172.23.1.1",
                "::ffff:10.1.2.3",      /* a dual-stack socket's IPv4 client */
        };
        static const char *const out[] = {
                "11.0.0.0", "9.255.255.255", "192.168.1.127", "192.168.2.200",
                "2001:db9::", "2001:db7:ffff::", "::2", "::", "172.24.0.0",
                "0.0.0.1",              /* not ::1 */
                "::a00:1",              /* IPv4-compatible, not mapped: IPv6 */
        };
        for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
                k = key_of(in[i]);
                ck_assert_msg(acl_match(&a, &k), "%s should match", in[i]);
        }
        for (size_t i = 0; i < sizeof(out) / sizeof(out[0]); i++) {
                k = key_of(out[i]);
                ck_assert_msg(!acl_match(&a, &k), "%s should not match", out[i]);
        }
}
END_TEST

START_TEST(acl_match_everything_and_families)
{
        struct acl v4 = list_of("0.0.0.0/0"), v6 = list_of("::/0");
        struct addr_key a = key_of("203.0.113.9"), b = key_of("2001:db8::9"),
                        c = key_of("::ffff:203.0.113.9");

        ck_assert(acl_match(&v4, &a));
        ck_assert(acl_match(&v4, &c));
        ck_assert(!acl_match(&v4, &b));
        /* ::/0 is every IPv6 client, never an IPv4 one, mapped or not */
        ck_assert(acl_match(&v6, &b));
        ck_assert(!acl_match(&v6, &a));
        ck_assert(!acl_match(&v6, &c));
        /* a mapped prefix in the list covers plain IPv4 clients */
        struct acl m = list_of("::ffff:203.0.113.0/120");
        ck_assert(acl_match(&m, &a));
        ck_assert(acl_match(&m, &c));
        ck_assert(!acl_match(&m, &b));
}
END_TEST

START_TEST(acl_precedence)
{
        static struct acl allow, deny, none;
        struct addr_key lan = key_of("192.168.1.10"), bad = key_of("192.168.1.66"),
                        far = key_of("198.51.100.1"), v6 = key_of("fd00::1");
        char err[64];

        memset(&none, 0, sizeof(none));
        /* No lists: everyone. */
        ck_assert_int_eq(acl_check(&none, &none, &far), ACL_ALLOWED);
        ck_assert_int_eq(acl_check(&none, &none, &v6), ACL_ALLOWED);

        /* deny alone: everyone but the denied. */
        memset(&deny, 0, sizeof(deny));
        ck_assert_int_eq(acl_parse_list(&deny, "192.168.1.64/26", err, sizeof(err)), 1);
        ck_assert_int_eq(acl_check(&none, &deny, &bad), ACL_DENIED);
        ck_assert_int_eq(acl_check(&none, &deny, &lan), ACL_ALLOWED);
        ck_assert_int_eq(acl_check(&none, &deny, &far), ACL_ALLOWED);

        /* allow alone: only the allowed. */
        memset(&allow, 0, sizeof(allow));
        ck_assert_int_eq(acl_parse_list(&allow, "192.168.1.0/24 fd00::/8", err, sizeof(err)), 2);
        ck_assert_int_eq(acl_check(&allow, &none, &lan), ACL_ALLOWED);
        ck_assert_int_eq(acl_check(&allow, &none, &v6), ACL_ALLOWED);
        ck_assert_int_eq(acl_check(&allow, &none, &far), ACL_NOT_ALLOWED);

        /* both: deny wins inside allow */
        ck_assert_int_eq(acl_check(&allow, &deny, &bad), ACL_DENIED);
        ck_assert_int_eq(acl_check(&allow, &deny, &lan), ACL_ALLOWED);
        ck_assert_int_eq(acl_check(&allow, &deny, &far), ACL_NOT_ALLOWED);
}
END_TEST

Suite *test_suite(void)
{
        Suite *s = suite_create("acl");
        TCase *tc = tcase_create("acl");

        tcase_add_test(tc, acl_parse_good);
        tcase_add_test(tc, acl_parse_bad);
        tcase_add_test(tc, acl_list_separators_and_adding_up);
        tcase_add_test(tc, acl_list_full);
        tcase_add_test(tc, acl_match_prefixes);
        tcase_add_test(tc, acl_match_everything_and_families);
        tcase_add_test(tc, acl_precedence);
        suite_add_tcase(s, tc);
        return s;
}
