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

Suite *test_suite(void)
{
        Suite *s = suite_create("addr");
        TCase *tc = tcase_create("addr");

        tcase_add_test(tc, addr_format_v4_v6_mapped);
        tcase_add_test(tc, addr_keys_match_mapped);
        tcase_add_test(tc, addr_parse_bad);
        suite_add_tcase(s, tc);
        return s;
}
