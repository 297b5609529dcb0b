/* Unit: the HTTP request parser, origins and dates (http.c). */
#include <string.h>

#include "http.h"
#include "suite.h"

static int parse(const char *head, struct http_req *r)
{
        return http_parse(head, strlen(head), r);
}

static struct http_str str(const char *s)
{
        return (struct http_str){ s, strlen(s) };
}

START_TEST(parse_request)
{
        struct http_req r;

        ck_assert_int_eq(parse("GET /app.js?v=2 HTTP/1.1\r\nHost: pi.local:8080\r\n"
                               "Connection: keep-alive, Upgrade\r\nUpgrade: h2c, WebSocket/13\r\n"
                               "Origin: http://pi.local:8080\r\nSec-WebSocket-Key:  abc \r\n"
                               "If-None-Match: \"x\"\r\nContent-Length: 000", &r), 0);
        ck_assert_int_eq(r.method, HTTP_GET);
        ck_assert_uint_eq(r.minor, 1);
        ck_assert(http_str_is(r.path, "/app.js"));
        ck_assert(http_str_is(r.host, "pi.local:8080"));
        ck_assert(r.conn_keep_alive && r.conn_upgrade && !r.conn_close);
        ck_assert(r.has_upgrade && r.upgrade_websocket);
        ck_assert(http_str_is(r.ws_key, "abc"));        /* whitespace trimmed */
        ck_assert(r.has_origin);
        ck_assert(!r.has_body);
        ck_assert_uint_eq(r.n_fields, 7);
        ck_assert(http_keep_alive(&r));

        ck_assert_int_eq(parse("HEAD http://pi.local HTTP/1.0", &r), 0);
        ck_assert_int_eq(r.method, HTTP_HEAD);
        ck_assert(http_str_is(r.path, "/"));
        ck_assert(!http_keep_alive(&r));
        ck_assert_int_eq(parse("PUT /x HTTP/1.1\nHost: a\nTransfer-Encoding: chunked", &r), 0);
        ck_assert_int_eq(r.method, HTTP_OTHER);
        ck_assert(r.has_body);
        ck_assert_int_eq(parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: close", &r), 0);
        ck_assert(!http_keep_alive(&r));
        ck_assert_int_eq(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive", &r), 0);
        ck_assert(http_keep_alive(&r));
        ck_assert_int_eq(parse("GET / HTTP/1.1\r\nHost: [::1]:8080", &r), 0);
}
END_TEST

START_TEST(parse_refused)
{
        static const struct {
                const char *head;
                int status;
        } cases[] = {
                { "", 400 },
                { "GET", 400 },
                { "GET /", 400 },
                { "GET / HTTP/1.1", 400 },                      /* no Host */
                { "GET / HTTP/1.1\r\nHost: a\r\nHost: a", 400 },
                { "GET / HTTP/1.1\r\nHost: a/b", 400 },
                { "GET / HTTP/1.1\r\nHost: a:123456", 400 },
                { "GET / HTTP/1.1\r\nHost:", 400 },
                { "GET / HTTP/1.1\r\nHost: a\r\n\r\nX: 1", 400 },
                { "GET / HTTP/1.1\r\nHost: a\r\nX : 1", 400 },
                { "GET / HTTP/1.1\r\nHost: a\r\n X: 1", 400 },
                { "GET / HTTP/1.1\r\nHost: a\r\nX: \x01", 400 },
                { "GET / HTTP/1.1\r\nHost: a\r\n: 1", 400 },
                { "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1x", 400 },
                { "GET / HTTP/1.1\r\nHost: a\r\nContent-Length:", 400 },
                { "GET / HTTP/1.1\rHost: a", 400 },
                { "GET /a\x7f HTTP/1.1\r\nHost: a", 400 },
                { "GET a HTTP/1.1\r\nHost: a", 400 },
                { "GET / HTTP/1.1 \r\nHost: a", 400 },
                { "GET / http/1.1\r\nHost: a", 400 },
                { "GET / HTTP/11\r\nHost: a", 400 },
                { "GET / HTTP/2.0\r\nHost: a", 505 },
                { "GET / HTTP/3.0\r\nHost: a", 505 },
                { " GET / HTTP/1.1\r\nHost: a", 400 },
                { "G@T / HTTP/1.1\r\nHost: a", 400 },
        };

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                struct http_req r;
                ck_assert_msg(parse(cases[i].head, &r) == cases[i].status, "case %zu: %s", i,
                              cases[i].head);
        }
        /* More than PICHAT_HTTP_FIELDS_MAX fields. */
        char many[4096] = "GET / HTTP/1.1\r\nHost: a";
        struct http_req r;
        for (int i = 1; i < PICHAT_HTTP_FIELDS_MAX; i++)
                strcat(many, "\r\nX: 1");
        ck_assert_int_eq(parse(many, &r), 0);
        strcat(many, "\r\nX: 1");
        ck_assert_int_eq(parse(many, &r), 431);
}
END_TEST

START_TEST(origins)
{
        ck_assert(http_origin_valid("http://pi.local", 15));
        ck_assert(http_origin_valid("https://[2001:db8::1]:8443", 26));
        ck_assert(!http_origin_valid("http://pi.local/", 16));
        ck_assert(!http_origin_valid("null", 4));
        ck_assert(!http_origin_valid("http://", 7));

        ck_assert(http_origin_same_host(str("http://pi.local:8080"), str("pi.local:8080")));
        ck_assert(http_origin_same_host(str("http://PI.local:8080"), str("pi.LOCAL:8080")));
        ck_assert(http_origin_same_host(str("http://pi.local"), str("pi.local:80")));
        ck_assert(http_origin_same_host(str("http://pi.local"), str("pi.local")));
        /* Behind a TLS proxy the Host has no port. */
        ck_assert(http_origin_same_host(str("https://pi.local"), str("pi.local")));
        ck_assert(!http_origin_same_host(str("http://pi.local:8081"), str("pi.local:8080")));
        ck_assert(!http_origin_same_host(str("http://pi.local"), str("pi.local:8080")));
        ck_assert(!http_origin_same_host(str("http://evil.example"), str("pi.local")));
        ck_assert(!http_origin_same_host(str("http://pi.local.evil.example"), str("pi.local")));
        ck_assert(!http_origin_same_host(str("null"), str("pi.local")));
        ck_assert(!http_origin_same_host(str("http://pi.local"), str("")));

        ck_assert(http_origin_listed(str("http://a.example"), "http://b.example, http://A.example"));
        ck_assert(!http_origin_listed(str("http://a.example"), "http://a.example:81"));
        ck_assert(!http_origin_listed(str("http://a.example"), ""));
        ck_assert(http_origin_listed(str("http://whatever"), "http://x *"));
}
END_TEST

START_TEST(dates)
{
        char d[HTTP_DATE_LEN + 1];

        http_date(784111777, d);
        ck_assert_str_eq(d, "Sun, 06 Nov 1994 08:49:37 GMT");
        http_date(0, d);
        ck_assert_str_eq(d, "Thu, 01 Jan 1970 00:00:00 GMT");
        ck_assert_str_eq(http_reason(431), "Request Header Fields Too Large");
        ck_assert_str_eq(http_reason(505), "HTTP Version Not Supported");
}
END_TEST

Suite *test_suite(void)
{
        Suite *s = suite_create("http");
        TCase *tc = tcase_create("http");

        tcase_add_test(tc, parse_request);
        tcase_add_test(tc, parse_refused);
        tcase_add_test(tc, origins);
        tcase_add_test(tc, dates);
        suite_add_tcase(s, tc);
        return s;
}
