/* Fuzz target: the WebSocket frame parser, as a browser's connection
 * feeds it (ws.c).
 *
 * Input: byte 0 picks the message limit (16-271), byte 1 seeds how the
 * rest is cut into reads. Besides the sanitizers' own checks, it aborts
 * when:
 *   - the same bytes cut into other reads give other messages, replies or
 *     end (a frame split anywhere must not matter);
 *   - a message is over the limit or not valid UTF-8;
 *   - a reply is anything but a pong of at most 125 bytes;
 *   - an end comes without a close code the RFC lets a server send, or
 *     anything comes after it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ws.h"

#define CHECK(x) do { if (!(x)) abort(); } while (0)

static uint32_t next_rand(uint32_t *s)
{
        *s = *s * 1103515245u + 12345u;
        return *s >> 8;
}

static size_t run(const uint8_t *in, size_t n, size_t max, uint32_t seed, uint8_t *ev)
{
        struct ws w;
        size_t pos = 0, nev = 0;
        int ended = 0;

        ws_init(&w, max);
        while (pos < n) {
                size_t take = n - pos;
                if (seed)
                        take = 1 + next_rand(&seed) % (take < 2048 ? take : 2048);
                const char *data = (const char *)in + pos, *out;
                size_t left = take, len;
                int r;
                pos += take;
                while ((r = ws_next(&w, &data, &left, &out, &len)) != WS_NONE) {
                        CHECK(!ended);
                        if (r == WS_MSG) {
                                CHECK(len <= max && out[len] == '\0');
                                CHECK(ws_utf8_valid(out, len));
                        } else if (r == WS_REPLY) {
                                CHECK(len >= 2 && len <= 127);
                                CHECK((uint8_t)out[0] == 0x8A && (size_t)(uint8_t)out[1] == len - 2);
                        } else {
                                CHECK(r == WS_END);
                                uint16_t c = w.close_code;
                                CHECK((c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1011) ||
                                      (c >= 3000 && c <= 4999));
                                ended = 1;
                        }
                        ev[nev++] = (uint8_t)r;
                        memcpy(ev + nev, &len, sizeof(len));
                        nev += sizeof(len);
                        memcpy(ev + nev, out, len);
                        nev += len;
                }
                CHECK(left == 0);
        }
        ev[nev++] = ws_mid_message(&w) ? 'm' : '.';
        ws_free(&w);
        return nev;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size < 2)
                return 0;
        size_t max = 16 + data[0];
        uint32_t seed = data[1] | 0x100u;
        data += 2;
        size -= 2;
        /* Each event is at least 1 + sizeof(size_t) bytes for at least one
         * input byte (a header), and its payload no more than came. */
        size_t cap = size * (2 + sizeof(size_t)) + 1024;
        uint8_t *a = malloc(cap), *b = malloc(cap);
        CHECK(a && b);
        size_t na = run(data, size, max, 0, a);
        size_t nb = run(data, size, max, seed, b);
        CHECK(na == nb && memcmp(a, b, na) == 0);
        nb = run(data, size, max, seed * 7 + 1, b);
        CHECK(na == nb && memcmp(a, b, na) == 0);
        free(a);
        free(b);
        return 0;
}
