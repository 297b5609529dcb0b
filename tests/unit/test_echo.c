/* Unit: echo and UDP reply formatting, and the UDP loop-port rule. */
#include <stdlib.h>
#include <string.h>

#include "bounds.h"
#include "echo.h"
#include "suite.h"
#include "udp.h"

START_TEST(echo_format_plain)
{
        char out[64];
        size_t n = echo_format(out, "OK...", "hi", 2);
        ck_assert_uint_eq(n, 9);
        ck_assert_int_eq(memcmp(out, "OK...hi\r\n", 9), 0);
}
END_TEST

START_TEST(echo_format_doubles_iac)
{
        char out[64];
        size_t n = echo_format(out, ">", "a\xff" "b", 3);
        ck_assert_uint_eq(n, 7);
        ck_assert_int_eq(memcmp(out, ">a\xff\xff" "b\r\n", 7), 0);
}
END_TEST

START_TEST(udp_loop_ports)
{
        static const unsigned ignored[] = { 0, 7, 13, 17, 19, 37 };
        for (size_t i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++)
                ck_assert(udp_port_ignored(ignored[i]));
        ck_assert(!udp_port_ignored(8888));
        ck_assert(!udp_port_ignored(1024));
        ck_assert(!udp_port_ignored(53));
}
END_TEST

START_TEST(udp_format_truncates)
{
        char *in = malloc(PICHAT_UDP_MAX);
        char *out = malloc(PICHAT_UDP_MAX);

        memset(in, 'x', PICHAT_UDP_MAX);
        ck_assert_uint_eq(udp_format(out, "OK...", "hey", 3), 8);
        ck_assert_int_eq(memcmp(out, "OK...hey", 8), 0);
        ck_assert_uint_eq(udp_format(out, "OK...", in, PICHAT_UDP_MAX), PICHAT_UDP_MAX);
        ck_assert_int_eq(memcmp(out, "OK...xxx", 8), 0);
        free(in);
        free(out);
}
END_TEST

Suite *test_suite(void)
{
        Suite *s = suite_create("echo");
        TCase *tc = tcase_create("format");

        tcase_add_test(tc, echo_format_plain);
        tcase_add_test(tc, echo_format_doubles_iac);
        tcase_add_test(tc, udp_loop_ports);
        tcase_add_test(tc, udp_format_truncates);
        suite_add_tcase(s, tc);
        return s;
}
