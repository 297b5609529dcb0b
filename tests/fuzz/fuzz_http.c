/* Fuzz target: the HTTP framing and request parser, as the web service
 * chains them: bytes cut into request heads (http.c's framing), each head
 * parsed.
 *
 * Input: byte 0 seeds how the rest is cut into reads. Besides the
 * sanitizers' own checks, it aborts when:
 *   - the same bytes cut into other reads give other heads or events;
 *   - a head is longer than PICHAT_HTTP_HEAD_MAX, or ends in a line end;
 *   - the parser answers with a status it does not document, or accepts a
 *     head whose strings point outside it, an HTTP/1.1 head without Host,
 *     or a path that does not begin with '/' (or is not "*"). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "framing.h"
#include "http.h"

#define CHECK(x) do { if (!(x)) abort(); } while (0)

static uint32_t next_rand(uint32_t *s)
{
        *s = *s * 1103515245u + 12345u;
        return *s >> 8;
}

static int inside(struct http_str s, const char *head, size_t len)
{
        return !s.p || (s.p >= head && s.p + s.n <= head + len);
}

static void check_head(const char *head, size_t len)
{
        struct http_req r;
        int st = http_parse(head, len, &r);

        CHECK(st == 0 || st == 400 || st == 431 || st == 505);
        if (st != 0)
                return;
        CHECK(r.method == HTTP_GET || r.method == HTTP_HEAD || r.method == HTTP_OTHER);
        /* An absolute-form target without a path is "/", not in the head. */
        CHECK(inside(r.path, head, len) || http_str_is(r.path, "/"));
        CHECK(inside(r.host, head, len) &&
              inside(r.origin, head, len) && inside(r.ws_key, head, len) &&
              inside(r.ws_version, head, len) && inside(r.if_none_match, head, len));
        CHECK(r.path.n > 0 && (r.path.p[0] == '/' || (r.path.n == 1 && r.path.p[0] == '*')));
        CHECK(r.minor > 0 ? r.host.p != NULL : 1);
        CHECK(r.n_fields <= PICHAT_HTTP_FIELDS_MAX);
        /* Origins: whatever the strings, no crash, and a valid one of the
         * same host agrees with itself. */
        if (r.has_origin && r.host.p)
                (void)http_origin_same_host(r.origin, r.host);
        (void)http_origin_listed(r.origin, "http://a.example *");
}

/* Feed in[0..n) in reads cut by seed (0: one read); the events into ev. */
static size_t run(const uint8_t *in, size_t n, uint32_t seed, uint8_t *ev)
{
        struct framing_state st;
        size_t pos = 0, nev = 0;

        CHECK(framing_http.init(&st, 0) == 0);
        while (pos < n) {
                size_t take = n - pos;
                if (seed)
                        take = 1 + next_rand(&seed) % (take < 2048 ? take : 2048);
                const char *data = (const char *)in + pos, *msg;
                size_t left = take, len;
                int r;
                pos += take;
                while ((r = framing_http.next(&st, &data, &left, &msg, &len)) != FRAMING_NONE) {
                        if (r == FRAMING_TOOLONG) {
                                ev[nev++] = 'T';
                                continue;
                        }
                        CHECK(r == FRAMING_MSG);
                        CHECK(len <= PICHAT_HTTP_HEAD_MAX);
                        CHECK(len == 0 || msg[len - 1] != '\n');
                        check_head(msg, len);
                        ev[nev++] = 'H';
                        memcpy(ev + nev, &len, sizeof(len));
                        nev += sizeof(len);
                        memcpy(ev + nev, msg, len);
                        nev += len;
                }
                CHECK(left == 0);
        }
        ev[nev++] = framing_http.mid_message(&st) ? 'm' : '.';
        framing_http.free(&st);
        return nev;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size < 1)
                return 0;
        uint32_t seed = data[0] | 0x100u;
        data++;
        size--;
        /* A byte adds at most 1 + sizeof(size_t) + itself to the events. */
        uint8_t *a = malloc(size * (2 + sizeof(size_t)) + 16);
        uint8_t *b = malloc(size * (2 + sizeof(size_t)) + 16);
        CHECK(a && b);
        size_t na = run(data, size, 0, a);
        size_t nb = run(data, size, seed, b);
        CHECK(na == nb && memcmp(a, b, na) == 0);
        /* The whole input as one head, too. */
        check_head((const char *)data, size < PICHAT_HTTP_HEAD_MAX ? size : PICHAT_HTTP_HEAD_MAX);
        free(a);
        free(b);
        return 0;
}
