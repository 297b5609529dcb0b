/* Unit: the telnet filter, with every input split at every byte boundary. */
#include <string.h>

#include "suite.h"
#include "telnet.h"

struct result {
        unsigned char out[256];
        size_t out_len;
        unsigned char reply[256];
        size_t reply_len;
};

static void filter_split(const unsigned char *in, size_t n, size_t cut1, size_t cut2,
                         struct result *res)
{
        struct telnet t;
        size_t cuts[4] = { 0, cut1, cut2, n };

        telnet_init(&t);
        memset(res, 0, sizeof(*res));
        for (int i = 0; i < 3; i++) {
                unsigned char buf[256], reply[256 + 2];
                size_t len = cuts[i + 1] - cuts[i], o, r;

                memcpy(buf, in + cuts[i], len);
                telnet_filter(&t, buf, len, buf, &o, reply, &r);
                ck_assert_uint_le(o, len);
                ck_assert_uint_le(r, len + 2);
                memcpy(res->out + res->out_len, buf, o);
                res->out_len += o;
                memcpy(res->reply + res->reply_len, reply, r);
                res->reply_len += r;
        }
}

/* Every way of cutting the input into three pieces gives the same result. */
static void check(const unsigned char *in, size_t n,
                  const unsigned char *want_out, size_t want_out_len,
                  const unsigned char *want_reply, size_t want_reply_len)
{
        struct result res;

        for (size_t a = 0; a <= n; a++) {
                for (size_t b = a; b <= n; b++) {
                        filter_split(in, n, a, b, &res);
                        ck_assert_msg(res.out_len == want_out_len &&
                                      memcmp(res.out, want_out, want_out_len) == 0,
                                      "data differs with cuts at %zu,%zu", a, b);
                        ck_assert_msg(res.reply_len == want_reply_len &&
                                      memcmp(res.reply, want_reply, want_reply_len) == 0,
                                      "reply differs with cuts at %zu,%zu", a, b);
                }
        }
}

START_TEST(telnet_plain)
{
        static const unsigned char in[] = "hello\r\n";
        check(in, 7, in, 7, (const unsigned char *)"", 0);
}
END_TEST

START_TEST(telnet_do_will_refused)
{
        static const unsigned char in[] = { 'a', 255, 253, 1, 'b', 255, 251, 3, 'c' };
        static const unsigned char out[] = { 'a', 'b', 'c' };
        static const unsigned char reply[] = { 255, 252, 1, 255, 254, 3 };
        check(in, sizeof(in), out, sizeof(out), reply, sizeof(reply));
}
END_TEST

START_TEST(telnet_wont_dont_not_answered)
{
        static const unsigned char in[] = { 255, 252, 1, 'x', 255, 254, 3 };
        static const unsigned char out[] = { 'x' };
        check(in, sizeof(in), out, sizeof(out), (const unsigned char *)"", 0);
}
END_TEST

START_TEST(telnet_iac_iac)
{
        static const unsigned char in[] = { 'a', 255, 255, 'b', 255, 255 };
        static const unsigned char out[] = { 'a', 255, 'b', 255 };
        check(in, sizeof(in), out, sizeof(out), (const unsigned char *)"", 0);
}
END_TEST

START_TEST(telnet_subnegotiation)
{
        /* SB NAWS with an IAC IAC inside, then SE; data around it survives. */
        static const unsigned char in[] = {
                'x', 255, 250, 31, 0, 80, 255, 255, 24, 255, 240, 'y',
        };
        static const unsigned char out[] = { 'x', 'y' };
        check(in, sizeof(in), out, sizeof(out), (const unsigned char *)"", 0);
}
END_TEST

START_TEST(telnet_two_byte_commands)
{
        /* NOP, AYT, GA are dropped without reply. */
        static const unsigned char in[] = { 'a', 255, 241, 'b', 255, 246, 255, 249, 'c' };
        static const unsigned char out[] = { 'a', 'b', 'c' };
        check(in, sizeof(in), out, sizeof(out), (const unsigned char *)"", 0);
}
END_TEST

START_TEST(telnet_refuse_once_per_option)
{
        /* A flood of the same request is answered once: no amplification. */
        static const unsigned char in[] = {
                255, 253, 24, 255, 253, 24, 255, 253, 24, 255, 251, 24, 255, 251, 24,
        };
        static const unsigned char reply[] = { 255, 252, 24, 255, 254, 24 };
        check(in, sizeof(in), (const unsigned char *)"", 0, reply, sizeof(reply));
}
END_TEST

START_TEST(telnet_reply_bound)
{
        /* IAC DO in one call and the option in the next: reply of 3 bytes
         * from 1 input byte, within the documented n + 2. */
        struct telnet t;
        unsigned char a[] = { 255, 253 }, b[] = { 5 }, reply[8];
        size_t o, r;

        telnet_init(&t);
        telnet_filter(&t, a, 2, a, &o, reply, &r);
        ck_assert_uint_eq(o, 0);
        ck_assert_uint_eq(r, 0);
        telnet_filter(&t, b, 1, b, &o, reply, &r);
        ck_assert_uint_eq(o, 0);
        ck_assert_uint_eq(r, 3);
        ck_assert_int_eq(reply[0], 255);
        ck_assert_int_eq(reply[1], 252);
        ck_assert_int_eq(reply[2], 5);
}
END_TEST

Suite *test_suite(void)
{
        Suite *s = suite_create("telnet");
        TCase *tc = tcase_create("filter");

        tcase_add_test(tc, telnet_plain);
        tcase_add_test(tc, telnet_do_will_refused);
        tcase_add_test(tc, telnet_wont_dont_not_answered);
        tcase_add_test(tc, telnet_iac_iac);
        tcase_add_test(tc, telnet_subnegotiation);
        tcase_add_test(tc, telnet_two_byte_commands);
        tcase_add_test(tc, telnet_refuse_once_per_option);
        tcase_add_test(tc, telnet_reply_bound);
        suite_add_tcase(s, tc);
        return s;
}
