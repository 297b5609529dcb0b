/* Unit: echo replies as the telnet framing puts them on the wire, UDP
 * reply formatting, and the UDP loop-port rule. */
#include <stdlib.h>
#include <string.h>

#include "bounds.h"
#include "framing.h"
#include "suite.h"
#include "udp.h"

/* An echo reply: prefix and line, one message in two parts. */
static size_t echo_wire(char *out, const char *prefix, const char *line, size_t len)
{
        struct iovec parts[2] = {
                { .iov_base = (void *)prefix, .iov_len = strlen(prefix) },
                { .iov_base = (void *)line, .iov_len = len },
        };

        ck_assert_uint_le(framing_telnet.encoded_max(strlen(prefix) + len), 64);
        return framing_telnet.encode(parts, 2, out);
}

START_TEST(echo_format_plain)
{
        char out[64];
        size_t n = echo_wire(out, "OK...", "hi", 2);
        ck_assert_uint_eq(n, 9);
        ck_assert_int_eq(memcmp(out, "OK...hi\r\n", 9), 0);
}
END_TEST

START_TEST(echo_format_doubles_iac)
{
        char out[64];
        size_t n = echo_wire(out, ">", "a\xff" "b", 3);
        ck_assert_uint_eq(n, 7);
        ck_assert_int_eq(memcmp(out, ">a\xff\xff" "b\r\n", 7), 0);
        /* In the prefix too: every byte of the message is data. */
        n = echo_wire(out, "\xff>", "b", 1);
        ck_assert_uint_eq(n, 6);
        ck_assert_int_eq(memcmp(out, "\xff\xff>b\r\n", 6), 0);
}
END_TEST

/* Every port below 1024 is a service's, that may answer back; so is NFS. */
START_TEST(udp_loop_ports)
{
        for (unsigned p = 0; p < 1024; p++)
                ck_assert(udp_port_ignored(p));
        ck_assert(udp_port_ignored(2049));
        ck_assert(!udp_port_ignored(8888));
        ck_assert(!udp_port_ignored(1024));
        ck_assert(!udp_port_ignored(2048));
        ck_assert(!udp_port_ignored(2050));
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
