/* ws: the WebSocket frame parser, the frames the server sends, the
 * handshake's accept key, and the framing that puts them on a connection. */
#include "ws.h"

#include <errno.h>
#include <nettle/base64.h>
#include <nettle/sha1.h>
#include <stdlib.h>
#include <string.h>

#include "framing.h"

_Static_assert((int)WS_NONE == (int)FRAMING_NONE && (int)WS_MSG == (int)FRAMING_MSG &&
               (int)WS_REPLY == (int)FRAMING_REPLY && (int)WS_END == (int)FRAMING_END,
               "ws_next() returns the framing results");

enum {
        OP_CONT = 0x0,
        OP_TEXT = 0x1,
        OP_BINARY = 0x2,
        OP_CLOSE = 0x8,
        OP_PING = 0x9,
        OP_PONG = 0xA,
};

/* The buffer: the message (max bytes and a NUL), then a control frame's
 * payload behind room for its reply's 2-byte header. */
#define CTL_OFFSET(w) ((w)->max + 1)
#define BUF_SIZE(w) ((w)->max + 1 + 2 + WS_CONTROL_MAX)

void ws_init(struct ws *w, size_t max)
{
        memset(w, 0, sizeof(*w));
        w->max = max;
}

void ws_free(struct ws *w)
{
        free(w->buf);
        w->buf = NULL;
}

bool ws_mid_message(const struct ws *w)
{
        return !w->ended && (w->hlen > 0 || w->in_frame || w->in_message);
}

/* One byte of text, checked against RFC 3629's table of well-formed
 * sequences: false if it cannot be where it is. */
static bool utf8_step(struct ws *w, uint8_t b)
{
        if (w->u_need > 0) {
                if (b < w->u_lo || b > w->u_hi)
                        return false;
                w->u_need--;
                w->u_lo = 0x80;
                w->u_hi = 0xBF;
                return true;
        }
        w->u_lo = 0x80;
        w->u_hi = 0xBF;
        if (b < 0x80)
                return true;
        if (b >= 0xC2 && b <= 0xDF)
                w->u_need = 1;
        else if (b >= 0xE0 && b <= 0xEF)
                w->u_need = 2;
        else if (b >= 0xF0 && b <= 0xF4)
                w->u_need = 3;
        else
                return false;
        if (b == 0xE0)
                w->u_lo = 0xA0;         /* no overlong 3-byte forms */
        else if (b == 0xED)
                w->u_hi = 0x9F;         /* no surrogates */
        else if (b == 0xF0)
                w->u_lo = 0x90;         /* no overlong 4-byte forms */
        else if (b == 0xF4)
                w->u_hi = 0x8F;         /* nothing past U+10FFFF */
        return true;
}

bool ws_utf8_valid(const char *s, size_t n)
{
        struct ws w = { .u_need = 0 };

        for (size_t i = 0; i < n; i++)
                if (!utf8_step(&w, (uint8_t)s[i]))
                        return false;
        return w.u_need == 0;
}

static int ws_fail(struct ws *w, uint16_t code, const char *why, const char **out, size_t *len)
{
        w->ended = true;
        w->close_code = code;
        w->why = why;
        *out = why;
        *len = strlen(why);
        return WS_END;
}

/* The first two header bytes are in: what can be refused from them alone. */
static const char *ws_check_start(struct ws *w, uint16_t *code)
{
        uint8_t op = w->hdr[0] & 0x0F, len7 = w->hdr[1] & 0x7F;
        bool control = op & 0x8;

        *code = WS_CLOSE_PROTOCOL;
        if (w->hdr[0] & 0x70)
                return "reserved bits set";     /* no extension was agreed */
        if (!(w->hdr[1] & 0x80))
                return "unmasked frame";
        if (control) {
                if (op != OP_CLOSE && op != OP_PING && op != OP_PONG)
                        return "unknown opcode";
                if (!(w->hdr[0] & 0x80))
                        return "fragmented control frame";
                if (len7 > WS_CONTROL_MAX)
                        return "control frame too long";
                return NULL;
        }
        if (op == OP_BINARY) {
                *code = WS_CLOSE_UNSUPPORTED;
                return "binary frame";
        }
        if (op != OP_TEXT && op != OP_CONT)
                return "unknown opcode";
        if (op == OP_CONT && !w->in_message)
                return "continuation without a message";
        if (op == OP_TEXT && w->in_message)
                return "new message inside a fragmented one";
        return NULL;
}

/* Header bytes from *data until it is whole: 1 when it is, 0 when the
 * data ran out first, or WS_END. */
static int ws_header(struct ws *w, const char **data, size_t *n, const char **out, size_t *len)
{
        for (;;) {
                size_t need = 2;

                if (w->hlen >= 2) {
                        uint8_t len7 = w->hdr[1] & 0x7F;
                        need = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + 4;
                }
                if (w->hlen == need)
                        break;
                if (*n == 0)
                        return 0;
                w->hdr[w->hlen++] = (uint8_t)**data;
                (*data)++;
                (*n)--;
                if (w->hlen == 2) {
                        uint16_t code;
                        const char *why = ws_check_start(w, &code);
                        if (why)
                                return ws_fail(w, code, why, out, len);
                }
        }

        uint8_t len7 = w->hdr[1] & 0x7F, *p = w->hdr + 2;
        uint64_t length = len7;
        if (len7 == 126) {
                length = (uint64_t)p[0] << 8 | p[1];
                p += 2;
        } else if (len7 == 127) {
                length = 0;
                for (int i = 0; i < 8; i++)
                        length = length << 8 | p[i];
                p += 8;
                if (length >> 63)
                        return ws_fail(w, WS_CLOSE_PROTOCOL, "frame length out of range", out,
                                       len);
        }
        memcpy(w->mask, p, 4);
        w->opcode = w->hdr[0] & 0x0F;
        w->fin = w->hdr[0] & 0x80;
        w->hlen = 0;
        w->left = length;
        w->mpos = 0;
        w->ctl_len = 0;
        if (w->opcode == OP_TEXT) {
                w->len = 0;
                w->u_need = 0;
        }
        /* Refused before a byte of it is buffered. */
        if (!(w->opcode & 0x8) && length > w->max - w->len)
                return ws_fail(w, WS_CLOSE_TOO_BIG, "message too big", out, len);
        w->in_frame = true;
        return 1;
}

/* A whole frame is in: what it means. */
static int ws_frame_done(struct ws *w, const char **out, size_t *len)
{
        char *ctl = w->buf ? w->buf + CTL_OFFSET(w) : NULL;

        w->in_frame = false;
        switch (w->opcode) {
        case OP_PING:
                ctl[0] = (char)(0x80 | OP_PONG);
                ctl[1] = (char)w->ctl_len;
                *out = ctl;
                *len = 2 + (size_t)w->ctl_len;
                w->delivered = true;
                return WS_REPLY;
        case OP_PONG:
                return WS_NONE;
        case OP_CLOSE: {
                uint16_t code = WS_CLOSE_NORMAL;
                if (w->ctl_len == 1)
                        return ws_fail(w, WS_CLOSE_PROTOCOL, "bad close frame", out, len);
                if (w->ctl_len >= 2) {
                        code = (uint16_t)((uint8_t)ctl[2] << 8 | (uint8_t)ctl[3]);
                        /* The codes an endpoint may send (RFC 6455 7.4). */
                        bool ok = (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011) ||
                                  (code >= 3000 && code <= 4999);
                        if (!ok)
                                return ws_fail(w, WS_CLOSE_PROTOCOL, "bad close code", out, len);
                        if (!ws_utf8_valid(ctl + 4, (size_t)w->ctl_len - 2))
                                return ws_fail(w, WS_CLOSE_BAD_DATA, "invalid UTF-8 in close",
                                               out, len);
                }
                /* The server's close echoes the client's code. */
                return ws_fail(w, code, "closed by client", out, len);
        }
        default:
                if (!w->fin) {
                        w->in_message = true;
                        return WS_NONE;
                }
                if (w->u_need)
                        return ws_fail(w, WS_CLOSE_BAD_DATA, "invalid UTF-8", out, len);
                w->in_message = false;
                w->buf[w->len] = '\0';
                *out = w->buf;
                *len = w->len;
                w->delivered = true;
                return WS_MSG;
        }
}

int ws_next(struct ws *w, const char **data, size_t *n, const char **out, size_t *len)
{
        if (w->delivered) {
                /* Handed out: a message is over, its buffer not needed
                 * until the next one begins. */
                w->delivered = false;
                if (!w->in_message) {
                        w->len = 0;
                        ws_free(w);
                }
        }
        while (!w->ended) {
                if (!w->in_frame) {
                        int r = ws_header(w, data, n, out, len);
                        if (r != 1)
                                return r;
                }
                bool pong = w->opcode == OP_PONG;
                if (!pong && !w->buf && !(w->buf = malloc(BUF_SIZE(w))))
                        return -ENOMEM;
                size_t k = w->left < *n ? (size_t)w->left : *n;
                const uint8_t *in = (const uint8_t *)*data;
                if (w->opcode & 0x8) {
                        char *ctl = w->buf ? w->buf + CTL_OFFSET(w) + 2 : NULL;
                        for (size_t i = 0; i < k && !pong; i++)
                                ctl[w->ctl_len++] = (char)(in[i] ^ w->mask[w->mpos++ & 3]);
                        if (pong)
                                w->mpos = (uint8_t)(w->mpos + k);
                } else {
                        for (size_t i = 0; i < k; i++) {
                                uint8_t b = in[i] ^ w->mask[w->mpos++ & 3];
                                if (!utf8_step(w, b)) {
                                        *data += i + 1;
                                        *n -= i + 1;
                                        return ws_fail(w, WS_CLOSE_BAD_DATA, "invalid UTF-8",
                                                       out, len);
                                }
                                w->buf[w->len++] = (char)b;
                        }
                }
                *data += k;
                *n -= k;
                w->left -= k;
                if (w->left > 0)
                        return WS_NONE;
                int r = ws_frame_done(w, out, len);
                if (r != WS_NONE)
                        return r;
        }
        /* Ended: whatever else comes is not read. */
        *data += *n;
        *n = 0;
        return WS_NONE;
}

size_t ws_frame(uint8_t opcode, const struct iovec *parts, int n, char *out)
{
        size_t len = 0, h = 0;

        for (int i = 0; i < n; i++)
                len += parts[i].iov_len;
        out[h++] = (char)(0x80 | opcode);
        if (len < 126) {
                out[h++] = (char)len;
        } else if (len < 65536) {
                out[h++] = 126;
                out[h++] = (char)(len >> 8);
                out[h++] = (char)len;
        } else {
                out[h++] = 127;
                for (int i = 7; i >= 0; i--)
                        out[h++] = (char)((uint64_t)len >> (8 * i));
        }
        for (int i = 0; i < n; i++) {
                if (parts[i].iov_len == 0)
                        continue;
                memcpy(out + h, parts[i].iov_base, parts[i].iov_len);
                h += parts[i].iov_len;
        }
        return h;
}

size_t ws_close_frame(struct ws *w, uint16_t code, const char *reason, size_t len, char *out)
{
        uint8_t c[2] = { (uint8_t)(code >> 8), (uint8_t)code };

        if (w->close_sent)
                return 0;
        w->close_sent = true;
        if (len > WS_CONTROL_MAX - 2) {
                len = WS_CONTROL_MAX - 2;
                /* Never half a character: the reason must be UTF-8. */
                while (len > 0 && ((uint8_t)reason[len] & 0xC0) == 0x80)
                        len--;
        }
        struct iovec parts[2] = {
                { .iov_base = c, .iov_len = 2 },
                { .iov_base = (void *)reason, .iov_len = len },
        };
        return ws_frame(OP_CLOSE, parts, 2, out);
}

bool ws_key_valid(const char *key, size_t n)
{
        struct base64_decode_ctx ctx;
        uint8_t raw[BASE64_DECODE_LENGTH(24)];
        size_t got = sizeof(raw);

        if (n != 24)
                return false;
        base64_decode_init(&ctx);
        return base64_decode_update(&ctx, &got, raw, n, key) && base64_decode_final(&ctx) &&
               got == 16;
}

void ws_accept(const char *key, size_t n, char out[WS_ACCEPT_LEN + 1])
{
        static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
        struct sha1_ctx ctx;
        uint8_t digest[SHA1_DIGEST_SIZE];

        sha1_init(&ctx);
        sha1_update(&ctx, n, (const uint8_t *)key);
        sha1_update(&ctx, sizeof(guid) - 1, (const uint8_t *)guid);
        sha1_digest(&ctx, sizeof(digest), digest);
        base64_encode_raw(out, sizeof(digest), digest);
        out[WS_ACCEPT_LEN] = '\0';
}

/* ---- the framing -------------------------------------------------------- */

static int ws_framing_init(struct framing_state *st, size_t max)
{
        ws_init(&st->ws, max);
        return 0;
}

static void ws_framing_free(struct framing_state *st)
{
        ws_free(&st->ws);
}

static int ws_framing_next(struct framing_state *st, const char **data, size_t *n,
                           const char **msg, size_t *len)
{
        return ws_next(&st->ws, data, n, msg, len);
}

static bool ws_framing_mid(const struct framing_state *st)
{
        return ws_mid_message(&st->ws);
}

static size_t ws_framing_max(size_t len)
{
        return WS_FRAME_MAX(len);
}

static size_t ws_framing_encode(const struct iovec *parts, int n, char *out)
{
        return ws_frame(OP_TEXT, parts, n, out);
}

/* A goodbye is a line the page shows, then the close frame with its code;
 * the close at the end of a session says why, once. */
static size_t ws_framing_words(struct framing_state *st, enum framing_bye why, const char *text,
                               size_t len, char *out)
{
        struct ws *w = &st->ws;
        struct iovec part = { .iov_base = (void *)text, .iov_len = len };
        size_t n = 0;
        uint16_t code = why == FRAMING_BYE_REFUSED ? WS_CLOSE_TRY_LATER :
                        why == FRAMING_BYE_SHUTDOWN ? WS_CLOSE_GOING_AWAY :
                        w->close_code ? w->close_code : WS_CLOSE_NORMAL;

        if (w->close_sent)
                return 0;
        if (why != FRAMING_BYE_CLOSE)
                n = ws_frame(OP_TEXT, &part, 1, out);
        return n + ws_close_frame(w, code, text, len, out + n);
}

static size_t ws_framing_ping(struct framing_state *st, char *out)
{
        (void)st;
        return ws_frame(OP_PING, NULL, 0, out);
}

const struct framing framing_ws = {
        .name = "websocket", .index = FRAMING_WS,
        .init = ws_framing_init, .free = ws_framing_free,
        /* Frames are parsed by next(), which answers them: the bytes stay. */
        .take = framing_take_all, .next = ws_framing_next, .mid_message = ws_framing_mid,
        .encoded_max = ws_framing_max, .encode = ws_framing_encode,
        .last_words = ws_framing_words, .keepalive = ws_framing_ping, .linger = true,
};
