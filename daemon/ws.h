/* ws: WebSocket (RFC 6455) as the server end speaks it: the opening
 * handshake's accept key, the frame parser, and the frames it sends.
 *
 * The parser takes what a client sends, in pieces of any size, and gives
 * whole text messages: client frames must be masked, a message may come
 * in fragments with control frames between them, text must be valid
 * UTF-8 (checked as it comes, across fragments), and a message is at
 * most max bytes. Pings are answered with pongs; a close frame, a
 * binary frame, or anything the RFC calls a protocol error ends the
 * session with the close code that fits, which the server's close frame
 * then carries. Frames the server sends are never masked and never
 * fragmented.
 *
 * The state is small, for thousands of idle browsers: the buffer for a
 * message is allocated when one begins and freed once it is handed out. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/* Close codes (RFC 6455 7.4.1). */
enum {
        WS_CLOSE_NORMAL = 1000,
        WS_CLOSE_GOING_AWAY = 1001,
        WS_CLOSE_PROTOCOL = 1002,
        WS_CLOSE_UNSUPPORTED = 1003,    /* a binary frame */
        WS_CLOSE_NO_STATUS = 1005,      /* never sent: the peer's close had no code */
        WS_CLOSE_BAD_DATA = 1007,       /* text that is not UTF-8 */
        WS_CLOSE_POLICY = 1008,
        WS_CLOSE_TOO_BIG = 1009,
        WS_CLOSE_TRY_LATER = 1013,
};

/* Results of ws_next() (the framing's FRAMING_* values). */
enum {
        WS_NONE = 0,            /* the data is used up */
        WS_MSG = 1,             /* *out, *len: a whole text message (NUL after it) */
        WS_REPLY = 3,           /* *out, *len: a pong to send now */
        WS_END = 4,             /* *out, *len: why the session ends (for the log) */
};

#define WS_CONTROL_MAX 125      /* payload of a control frame */
#define WS_HEADER_MAX 14        /* of a client frame: 2, 8 bytes of length, 4 of mask */
/* A frame the server sends: 2 to 10 bytes of header, then the payload. */
#define WS_FRAME_MAX(len) ((size_t)(len) + 10)
#define WS_ACCEPT_LEN 28        /* base64 of a SHA-1 digest */

struct ws {
        char *buf;              /* the message (max + 1), then a control payload */
        size_t len;             /* message bytes so far */
        size_t max;
        uint64_t left;          /* payload bytes of this frame still to come */
        uint8_t hdr[WS_HEADER_MAX];
        uint8_t hlen;           /* header bytes so far (0: between frames) */
        uint8_t mask[4];
        uint8_t mpos;           /* payload bytes of this frame so far, mod 4 */
        uint8_t opcode;         /* of this frame */
        uint8_t ctl_len;        /* control payload bytes so far */
        uint8_t u_need, u_lo, u_hi;     /* UTF-8: continuation bytes due, and the next's range */
        bool fin;
        bool in_message;        /* a fragmented text message is open */
        bool in_frame;          /* the header is whole; payload comes */
        bool delivered;         /* buf holds a message handed out */
        bool ended;             /* no more frames are read */
        bool close_sent;
        uint16_t close_code;    /* what the server's close frame says */
        const char *why;        /* why it ended, for the log */
};

/* Messages over max bytes end the session (WS_CLOSE_TOO_BIG). */
void ws_init(struct ws *w, size_t max);
void ws_free(struct ws *w);

/* Take frames from *data (advancing it and *n) until a message, a reply,
 * the end, or the data is used up: WS_* or -ENOMEM. What *out points to
 * stays valid until the next call. */
int ws_next(struct ws *w, const char **data, size_t *n, const char **out, size_t *len);

/* Bytes of a frame or of a fragmented message have come, and it is not
 * whole yet. */
bool ws_mid_message(const struct ws *w);

/* A frame of opcode (0x1 text, 0x8 close, 0x9 ping, 0xA pong) with the
 * n parts as payload, to out (room for WS_FRAME_MAX of their length):
 * its length. */
size_t ws_frame(uint8_t opcode, const struct iovec *parts, int n, char *out);
/* The server's close frame, once (0 bytes afterwards): code, and reason
 * cut to fit at a character boundary. Marks the close as sent. */
size_t ws_close_frame(struct ws *w, uint16_t code, const char *reason, size_t len, char *out);

/* The handshake. Whether key (n bytes, a Sec-WebSocket-Key value) is the
 * base64 of 16 bytes, and the Sec-WebSocket-Accept for it (SHA-1 and
 * base64 from nettle): WS_ACCEPT_LEN characters and a NUL. */
bool ws_key_valid(const char *key, size_t n);
void ws_accept(const char *key, size_t n, char out[WS_ACCEPT_LEN + 1]);

/* Whether the n bytes at s are UTF-8 as RFC 3629 has it (no overlong
 * forms, no surrogates, nothing past U+10FFFF). */
bool ws_utf8_valid(const char *s, size_t n);
