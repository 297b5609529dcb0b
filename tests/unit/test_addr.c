/* Unit: address formatting, parsing and per-address keys. */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "addr.h"
#include "suite.h"

START_TEST(addr_format_v4_v6_mapped)
{
        struct sockaddr_storage ss;
        socklen_t len;
        char buf[ADDR_STR_MAX];

        ck_assert_int_eq(addr_parse("127.0.0.1", 54012, &ss, &len), 0);
        addr_format((struct sockaddr *)&ss, buf, sizeof(buf));
        ck_assert_str_eq(buf, "127.0.0.1:54012");

        ck_assert_int_eq(addr_parse("::1", 5000, &ss, &len), 0);
        addr_format((struct sockaddr *)&ss, buf, sizeof(buf));
        ck_assert_str_eq(buf, "[::1]:5000");

        /* What a dual-stack socket reports for an IPv4 client. */
        ck_assert_int_eq(addr_parse("::ffff:10.1.2.3", 7, &ss, &len), 0);
        addr_format((struct sockaddr *)&ss, buf, sizeof(buf));
        ck_assert_str_eq(buf, "10.1.2.3:7");
        ck_assert_uint_eq(addr_port((struct sockaddr *)&ss), 7);
}
END_TEST

START_TEST(addr_keys_match_mapped)
{
        struct sockaddr_storage a, b, c;
        socklen_t len;
        struct addr_key ka, kb, kc;

        ck_assert_int_eq(addr_parse("192.168.1.9", 1, &a, &len), 0);
        ck_assert_int_eq(addr_parse("::ffff:192.168.1.9", 2, &b, &len), 0);
        ck_assert_int_eq(addr_parse("::1", 2, &c, &len), 0);
        addr_key_from((struct sockaddr *)&a, &ka);
        addr_key_from((struct sockaddr *)&b, &kb);
        addr_key_from((struct sockaddr *)&c, &kc);
        ck_assert_int_eq(memcmp(&ka, &kb, sizeof(ka)), 0);
        ck_assert_int_ne(memcmp(&ka, &kc, sizeof(ka)), 0);
        ck_assert_int_eq(ka.family, AF_INET);
        ck_assert_int_eq(kc.family, AF_INET6);
}
END_TEST

START_TEST(addr_parse_bad)
{
        struct sockaddr_storage ss;
        socklen_t len;

        ck_assert_int_eq(addr_parse("localhost", 1, &ss, &len), -EINVAL);
        ck_assert_int_eq(addr_parse("1.2.3", 1, &ss, &len), -EINVAL);
        ck_assert_int_eq(addr_parse("::1", 65536, &ss, &len), -EINVAL);
        ck_assert_int_eq(addr_parse("", 1, &ss, &len), -EINVAL);
}
END_TEST

static struct addr_key prefixed(const char *ip, unsigned bits)
{
        struct sockaddr_storage ss;
        socklen_t len;
        struct addr_key k;

        ck_assert_int_eq(addr_parse(ip, 1, &ss, &len), 0);
        addr_key_prefix((struct sockaddr *)&ss, bits, &k);
        return k;
}

/* One /64 is one client; IPv4 (and IPv4 behind ::ffff:) one by one. */
START_TEST(addr_keys_per_prefix)
{
        struct addr_key a = prefixed("2001:db8:1:2::1", 64), b = prefixed("2001:db8:1:2:ffff::9", 64);
        struct addr_key c = prefixed("2001:db8:1:3::1", 64);

        ck_assert_mem_eq(&a, &b, sizeof(a));
        ck_assert_int_ne(memcmp(&a, &c, sizeof(a)), 0);
        a = prefixed("2001:db8:1:2::1", 128);
        b = prefixed("2001:db8:1:2::2", 128);
        ck_assert_int_ne(memcmp(&a, &b, sizeof(a)), 0);
        a = prefixed("2001:db8:1:2::1", 48);
        b = prefixed("2001:db8:1:ffff::1", 48);
        ck_assert_mem_eq(&a, &b, sizeof(a));
        a = prefixed("10.0.0.1", 32);
        b = prefixed("10.0.0.2", 32);
        ck_assert_int_ne(memcmp(&a, &b, sizeof(a)), 0);
        a = prefixed("::ffff:10.0.0.1", 32);
        b = prefixed("10.0.0.1", 64);
        ck_assert_mem_eq(&a, &b, sizeof(a));
}
END_TEST

/* The hash depends on its seed: where an address lands is not known
 * without it. */
START_TEST(addr_hash_seeded)
{
        struct addr_key k = prefixed("192.0.2.7", 32), l = prefixed("192.0.2.8", 32);

        ck_assert_uint_eq(addr_key_hash(&k, 1), addr_key_hash(&k, 1));
        ck_assert_uint_ne(addr_key_hash(&k, 1), addr_key_hash(&k, 2));
        ck_assert_uint_ne(addr_key_hash(&k, 1), addr_key_hash(&l, 1));
        ck_assert_uint_ne(addr_hash_seed(), addr_hash_seed());
}
END_TEST

Suite *test_suite(void)
{
        Suite *s = suite_create("addr");
        TCase *tc = tcase_create("addr");

        tcase_add_test(tc, addr_format_v4_v6_mapped);
        tcase_add_test(tc, addr_keys_match_mapped);
        tcase_add_test(tc, addr_parse_bad);
        tcase_add_test(tc, addr_keys_per_prefix);
        tcase_add_test(tc, addr_hash_seeded);
        suite_add_tcase(s, tc);
        return s;
}
