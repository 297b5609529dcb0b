/* Unit: the client's output filter (telnet, line ends, controls, UTF-8),
 * with every input cut into three reads at every pair of boundaries. */
#include <stdlib.h>
#include <string.h>

#include "outfilter.h"
#include "suite.h"

#define IAC "\xFF"
#define FFFD "\xEF\xBF\xBD"

struct result {
        char out[1024];
        size_t out_len;
        unsigned char reply[256];
        size_t reply_len;
};

static void run_split(bool telnet, const char *in, size_t n, size_t cut1, size_t cut2,
                      struct result *res)
{
        struct outf f;
        size_t cuts[4] = { 0, cut1, cut2, n };

        outf_init(&f, telnet);
        memset(res, 0, sizeof(*res));
        for (int i = 0; i < 3; i++) {
                size_t len = cuts[i + 1] - cuts[i], rlen = 0;
                char out[OUTF_MAX(256)];
                uint8_t reply[OUTF_REPLY_MAX(256)];
                size_t o = outf_feed(&f, (const uint8_t *)in + cuts[i], len, out, reply, &rlen);

                ck_assert_uint_le(o, OUTF_MAX(len));
                ck_assert_uint_le(rlen, OUTF_REPLY_MAX(len));
                memcpy(res->out + res->out_len, out, o);
                res->out_len += o;
                memcpy(res->reply + res->reply_len, reply, rlen);
                res->reply_len += rlen;
        }
        res->out_len += outf_finish(&f, res->out + res->out_len);
}

static void check_mode(bool telnet, const char *in, size_t n, const char *want,
                       const char *want_reply, size_t want_reply_len)
{
        for (size_t a = 0; a <= n; a++) {
                for (size_t b = a; b <= n; b++) {
                        struct result r;
                        run_split(telnet, in, n, a, b, &r);
                        r.out[r.out_len] = '\0';
                        if (r.out_len != strlen(want) || memcmp(r.out, want, r.out_len) != 0)
                                ck_abort_msg("cut %zu/%zu: got '%s', want '%s'", a, b, r.out, want);
                        ck_assert_uint_eq(r.reply_len, want_reply_len);
                        ck_assert(memcmp(r.reply, want_reply, want_reply_len) == 0);
                }
        }
}

/* Telnet on, no replies expected; in is a string literal. */
#define CHECK(in, want) check_mode(true, in, sizeof(in) - 1, want, "", 0)

START_TEST(plain_text_and_line_ends)
{
        CHECK("hello world", "hello world");
        CHECK("a\r\nb\r\n", "a\nb\n");
        CHECK("a\nb\n", "a\nb\n");
        /* CR NUL and a lone CR end a line too, the telnet way */
        CHECK("a\r\0b\rc\r\n", "a\nb\nc\n");
        CHECK("\r\n\r\n", "\n\n");
        CHECK("tab\there", "tab\there");
}
END_TEST

START_TEST(controls_stripped)
{
        CHECK("be\x07l\x08l\x7f!", "bell!");
        CHECK("nul\0byte", "nulbyte");
        CHECK("\x01\x02\x03\x0b\x0c\x0e\x1f" "x", "x");
        /* C1 controls, e.g. U+009B (CSI) and U+0085 (NEL) */
        CHECK("a\xc2\x9b" "31mb\xc2\x85", "a31mb");
}
END_TEST

START_TEST(escape_sequences_dropped)
{
        CHECK("\x1b[1;31mred\x1b[0m", "red");
        CHECK("\x1b[2J\x1b[Hclear", "clear");
        /* window title (OSC) ended by BEL or by ST */
        CHECK("\x1b]0;pwned\x07title", "title");
        CHECK("\x1b]2;pwned\x1b\\title", "title");
        /* reset, charset designation, keypad mode */
        CHECK("\x1b" "c\x1b(B\x1b=ok", "ok");
        /* an unterminated string ends at the line end, not later */
        CHECK("\x1b]0;never ends\r\nnext\r\n", "\nnext\n");
        /* a broken CSI keeps the byte that broke it */
        CHECK("\x1b[12\r\nx", "\nx");
}
END_TEST

START_TEST(utf8_kept)
{
        CHECK("h\xc3\xa9llo \xe2\x9c\x93 \xf0\x9f\x98\x80 \xe6\x97\xa5\xe6\x9c\xac",
              "h\xc3\xa9llo \xe2\x9c\x93 \xf0\x9f\x98\x80 \xe6\x97\xa5\xe6\x9c\xac");
        /* U+00A0, the first code point after the C1 block, is kept */
        CHECK("\xc2\xa0", "\xc2\xa0");
}
END_TEST

START_TEST(utf8_invalid_replaced)
{
        CHECK("a\x80" "b", "a" FFFD "b");
        /* overlong, surrogate, above U+10FFFF */
        CHECK("\xc0\xaf", FFFD FFFD);
        CHECK("\xed\xa0\x80", FFFD FFFD FFFD);
        CHECK("\xf4\x90\x80\x80", FFFD FFFD FFFD FFFD);
        /* a sequence cut short by ASCII, by a line end, by the end */
        CHECK("\xe2\x9c" "x", FFFD "x");
        CHECK("\xe2\r\n", FFFD "\n");
        CHECK("end\xf0\x9f\x98", "end" FFFD);
}
END_TEST

START_TEST(telnet_commands_removed)
{
        /* NOP, GA, subnegotiation with an IAC IAC inside */
        CHECK("a" IAC "\xf1" "b" IAC "\xf9" "c", "abc");
        CHECK("x" IAC "\xfa\x18\x01" IAC IAC "z" IAC "\xf0" "y", "xy");
        /* IAC IAC is a literal 0xFF, which is not UTF-8 */
        CHECK("a" IAC IAC "b", "a" FFFD "b");
        /* WONT and DONT are never answered */
        CHECK(IAC "\xfc\x01" IAC "\xfe\x03" "ok", "ok");
}
END_TEST

START_TEST(telnet_requests_refused_once)
{
        static const char in[] = IAC "\xfd\x01" "a" IAC "\xfb\x03" "b" IAC "\xfd\x01" IAC "\xfb\x03";
        /* WONT ECHO, DONT SUPPRESS-GO-AHEAD, each only once */
        static const char reply[] = IAC "\xfc\x01" IAC "\xfe\x03";

        check_mode(true, in, sizeof(in) - 1, "ab", reply, sizeof(reply) - 1);
}
END_TEST

START_TEST(telnet_off_for_udp)
{
        static const char in[] = "a" IAC "\xfd\x01" "b";

        /* 0xFF and 0xFD are just bytes that are not UTF-8; no reply */
        check_mode(false, in, sizeof(in) - 1, "a" FFFD FFFD "b", "", 0);
}
END_TEST

/* What a terminal may be given: UTF-8 with no control but LF and TAB. */
static bool terminal_safe(const unsigned char *s, size_t n)
{
        size_t i = 0;

        while (i < n) {
                unsigned char b = s[i];
                size_t len;

                if (b < 0x80) {
                        if ((b < 0x20 && b != '\n' && b != '\t') || b == 0x7F)
                                return false;
                        i++;
                        continue;
                }
                len = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC2 ? 2 : 0;
                if (len == 0 || b > 0xF4 || i + len > n)
                        return false;
                for (size_t k = 1; k < len; k++)
                        if ((s[i + k] & 0xC0) != 0x80)
                                return false;
                if (b == 0xC2 && s[i + 1] <= 0x9F)
                        return false;
                i += len;
        }
        return true;
}

START_TEST(random_input_is_safe_and_bounded)
{
        static unsigned char in[4096];
        static char out[OUTF_MAX(sizeof(in))];
        static uint8_t reply[OUTF_REPLY_MAX(sizeof(in))];
        unsigned seed = 12345;

        for (int round = 0; round < 200; round++) {
                struct outf f;
                size_t total = 0;

                outf_init(&f, round % 2 == 0);
                for (size_t i = 0; i < sizeof(in); i++) {
                        seed = seed * 1103515245u + 12345u;
                        /* favour the interesting bytes */
                        unsigned v = (seed >> 16) & 0xFF;
                        in[i] = (unsigned char)(v < 64 ? 0x1B : v < 96 ? 0xFF : v < 128 ? '\r' : v);
                }
                for (size_t pos = 0; pos < sizeof(in);) {
                        size_t rlen, n = 1 + (size_t)(rand_r(&seed) % 300);
                        if (n > sizeof(in) - pos)
                                n = sizeof(in) - pos;
                        size_t o = outf_feed(&f, in + pos, n, out, reply, &rlen);
                        ck_assert_uint_le(o, OUTF_MAX(n));
                        ck_assert_uint_le(rlen, OUTF_REPLY_MAX(n));
                        /* Whole characters only, even when a read ends
                         * in the middle of one. */
                        ck_assert(terminal_safe((unsigned char *)out, o));
                        pos += n;
                        total += o;
                }
                ck_assert_uint_le(total, OUTF_MAX(sizeof(in)));
        }
}
END_TEST

Suite *test_suite(void)
{
        Suite *s = suite_create("client_filter");
        TCase *tc = tcase_create("outfilter");

        tcase_add_test(tc, plain_text_and_line_ends);
        tcase_add_test(tc, controls_stripped);
        tcase_add_test(tc, escape_sequences_dropped);
        tcase_add_test(tc, utf8_kept);
        tcase_add_test(tc, utf8_invalid_replaced);
        tcase_add_test(tc, telnet_commands_removed);
        tcase_add_test(tc, telnet_requests_refused_once);
        tcase_add_test(tc, telnet_off_for_udp);
        tcase_add_test(tc, random_input_is_safe_and_bounded);
        suite_add_tcase(s, tc);
        return s;
}
