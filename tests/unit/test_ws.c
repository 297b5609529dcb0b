/* Unit: the WebSocket frame parser and the server's frames (ws.c), and
 * the HTTP framing's cutting of request heads. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "framing.h"
#include "suite.h"
#include "ws.h"

/* A masked client frame into out: its length. */
static size_t client_frame(unsigned char *out, int fin, int op, const char *p, size_t n)
{
        static const unsigned char key[4] = { 0x37, 0xfa, 0x21, 0x3d };
        size_t h = 0;

        out[h++] = (unsigned char)((fin ? 0x80 : 0) | op);
        if (n < 126) {
                out[h++] = (unsigned char)(0x80 | n);
        } else {
                out[h++] = 0x80 | 126;
                out[h++] = (unsigned char)(n >> 8);
                out[h++] = (unsigned char)n;
        }
        memcpy(out + h, key, 4);
        h += 4;
        for (size_t i = 0; i < n; i++)
                out[h + i] = (unsigned char)p[i] ^ key[i % 4];
        return h + n;
}

/* Everything ws_next() makes of in, fed in pieces of cut bytes (0: all
 * at once), as text: "M:text|R:len|E:why|". */
static void run(const unsigned char *in, size_t n, size_t cut, size_t max, char *trace)
{
        struct ws w;
        size_t pos = 0;

        ws_init(&w, max);
        trace[0] = '\0';
        while (pos < n) {
                size_t k = cut && n - pos > cut ? cut : n - pos;
                const char *data = (const char *)in + pos, *out;
                size_t left = k, len;
                int r;
                while ((r = ws_next(&w, &data, &left, &out, &len)) != WS_NONE) {
                        char *t = trace + strlen(trace);
                        if (r == WS_MSG)
                                sprintf(t, "M:%.*s|", (int)len, out);
                        else if (r == WS_REPLY)
                                sprintf(t, "R:%zu:%02x|", len, (unsigned char)out[0]);
                        else
                                sprintf(t, "E:%.*s:%u|", (int)len, out, w.close_code);
                }
                ck_assert_uint_eq(left, 0);
                pos += k;
        }
        ws_free(&w);
}

START_TEST(accept_key)
{
        char out[WS_ACCEPT_LEN + 1];

        /* RFC 6455 1.3's example. */
        ws_accept("dGhlIHNhbXBsZSBub25jZQ==", 24, out);
        ck_assert_str_eq(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        ck_assert(ws_key_valid("dGhlIHNhbXBsZSBub25jZQ==", 24));
        ck_assert(!ws_key_valid("dGhlIHNhbXBsZSBub25jZQ=", 23));
        ck_assert(!ws_key_valid("dGhlIHNhbXBsZSBub25jZ!==", 24));
        ck_assert(!ws_key_valid("dGhlIHNhbXBsZSBub25jZQo=", 24));      /* 17 bytes */
}
END_TEST

/* The same bytes cut anywhere give the same messages, replies and end. */
START_TEST(cut_anywhere)
{
        unsigned char in[2048];
        size_t n = 0;
        char whole[1024], cut[1024];
        char big[300];

        memset(big, 'b', sizeof(big));
        n += client_frame(in + n, 1, 0x1, "hello", 5);
        n += client_frame(in + n, 0, 0x1, "frag", 4);
        n += client_frame(in + n, 1, 0x9, "pi", 2);
        n += client_frame(in + n, 0, 0x0, "men", 3);
        n += client_frame(in + n, 1, 0xA, "", 0);
        n += client_frame(in + n, 1, 0x0, "ted \xe2\x9c\x93", 7);
        n += client_frame(in + n, 1, 0x1, big, sizeof(big));
        n += client_frame(in + n, 1, 0x1, "", 0);
        n += client_frame(in + n, 1, 0x8, "\x03\xe8ok", 4);
        n += client_frame(in + n, 1, 0x1, "after the close", 15);

        run(in, n, 0, 1024, whole);
        ck_assert_ptr_nonnull(strstr(whole, "M:hello|R:4:8a|M:fragmented \xe2\x9c\x93|M:bbb"));
        ck_assert_ptr_nonnull(strstr(whole, "|M:|E:closed by client:1000|"));
        ck_assert_ptr_null(strstr(whole, "after the close"));
        for (size_t c = 1; c < 40; c++) {
                run(in, n, c, 1024, cut);
                ck_assert_msg(strcmp(whole, cut) == 0, "cut %zu:\n%s\n%s", c, whole, cut);
        }
        /* A limit below the big message ends the session there. */
        run(in, n, 0, 100, cut);
        ck_assert_ptr_nonnull(strstr(cut, "E:message too big:1009|"));
        ck_assert_ptr_null(strstr(cut, "M:|"));
}
END_TEST

START_TEST(utf8)
{
        static const char *const good[] = {
                "", "a", "\xc2\x80", "\xdf\xbf", "\xe0\xa0\x80", "\xed\x9f\xbf", "\xee\x80\x80",
                "\xef\xbf\xbf", "\xf0\x90\x80\x80", "\xf4\x8f\xbf\xbf", "caf\xc3\xa9 \xe2\x9c\x93",
        };
        static const char *const bad[] = {
                "\x80", "\xc0\x80", "\xc1\xbf", "\xc2", "\xe0\x80\x80", "\xed\xa0\x80",
                "\xf0\x80\x80\x80", "\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "\xff", "\xfe",
                "\xe2\x9c", "a\xc3(",
        };

        for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
                ck_assert_msg(ws_utf8_valid(good[i], strlen(good[i])), "good %zu", i);
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                ck_assert_msg(!ws_utf8_valid(bad[i], strlen(bad[i])), "bad %zu", i);
}
END_TEST

START_TEST(server_frames)
{
        static char payload[70000], out[70100];
        struct iovec part = { .iov_base = payload, .iov_len = 125 };
        struct ws w;

        memset(payload, 'p', sizeof(payload));
        ck_assert_uint_eq(ws_frame(0x1, &part, 1, out), 127);
        ck_assert_uint_eq((unsigned char)out[0], 0x81);
        ck_assert_uint_eq((unsigned char)out[1], 125);
        part.iov_len = 126;
        ck_assert_uint_eq(ws_frame(0x1, &part, 1, out), 130);
        ck_assert_uint_eq((unsigned char)out[1], 126);
        ck_assert_uint_eq((unsigned char)out[3], 126);
        part.iov_len = 65536;
        ck_assert_uint_eq(ws_frame(0x1, &part, 1, out), 65546);
        ck_assert_uint_eq((unsigned char)out[1], 127);
        ck_assert_uint_eq((unsigned char)out[7], 1);
        ck_assert_uint_le(ws_frame(0x1, &part, 1, out), WS_FRAME_MAX(65536));

        /* A close once; its reason cut at a character, within 125 bytes. */
        char reason[200];
        memset(reason, 'r', sizeof(reason));
        memcpy(reason + 121, "\xe2\x9c\x93", 3);
        ws_init(&w, 100);
        size_t n = ws_close_frame(&w, 1001, reason, sizeof(reason), out);
        ck_assert_uint_eq(n, 2 + 2 + 121);
        ck_assert_uint_eq((unsigned char)out[0], 0x88);
        ck_assert_uint_eq((unsigned char)out[2], 0x03);
        ck_assert_uint_eq((unsigned char)out[3], 0xe9);
        ck_assert(ws_utf8_valid(out + 4, n - 4));
        ck_assert_uint_eq(ws_close_frame(&w, 1000, "again", 5, out), 0);
        ws_free(&w);
}
END_TEST

/* Request heads cut out of a stream, however it is read. */
START_TEST(http_heads)
{
        const char *in = "\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.0\n\nHEAD /c";
        struct framing_state st;

        for (size_t cut = 1; cut <= strlen(in); cut++) {
                char got[256] = "";
                ck_assert_int_eq(framing_http.init(&st, 0), 0);
                for (size_t pos = 0; pos < strlen(in); pos += cut) {
                        size_t k = strlen(in) - pos < cut ? strlen(in) - pos : cut;
                        const char *data = in + pos, *msg;
                        size_t left = k, len;
                        int r;
                        while ((r = framing_http.next(&st, &data, &left, &msg, &len)) != FRAMING_NONE) {
                                ck_assert_int_eq(r, FRAMING_MSG);
                                snprintf(got + strlen(got), sizeof(got) - strlen(got), "[%.*s]",
                                         (int)len, msg);
                        }
                }
                ck_assert_str_eq(got, "[GET / HTTP/1.1\r\nHost: a][GET /b HTTP/1.0]");
                ck_assert(framing_http.mid_message(&st));
                framing_http.free(&st);
        }
        /* Past the limit: too long, whether the request line ended or not. */
        static char big[PICHAT_HTTP_HEAD_MAX + 10];
        memset(big, 'a', sizeof(big));
        for (int line = 0; line < 2; line++) {
                ck_assert_int_eq(framing_http.init(&st, 0), 0);
                if (line)
                        memcpy(big, "GET / HTTP/1.1\r\n", 16);
                const char *data = big, *msg;
                size_t left = sizeof(big), len;
                ck_assert_int_eq(framing_http.next(&st, &data, &left, &msg, &len), FRAMING_TOOLONG);
                ck_assert(http_heads_line_done(&st.http) == (line == 1));
                framing_http.free(&st);
        }
}
END_TEST

Suite *test_suite(void)
{
        Suite *s = suite_create("ws");
        TCase *tc = tcase_create("ws");

        tcase_add_test(tc, accept_key);
        tcase_add_test(tc, cut_anywhere);
        tcase_add_test(tc, utf8);
        tcase_add_test(tc, server_frames);
        tcase_add_test(tc, http_heads);
        suite_add_tcase(s, tc);
        return s;
}
