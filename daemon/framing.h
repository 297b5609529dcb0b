/* framing: the middle layer of a connection, between the bytes its
 * transport moves and the whole messages its service sees.
 *
 * A framing turns received bytes into messages, answers what belongs to
 * it alone (telnet option requests, WebSocket pings), and turns a
 * service's text into the bytes the peer expects. There are three:
 *
 *   - telnet lines: IAC commands filtered, every line end a telnet client
 *     sends understood, CR LF out and 0xFF doubled (every TCP service);
 *   - HTTP request heads (http.h): the web service's first phase;
 *   - WebSocket frames (ws.h): a browser's chat session, after the web
 *     service switched the connection over (conn_switch()).
 *
 * Besides messages a framing may answer the peer itself (FRAMING_REPLY),
 * end the session when the peer closes or breaks its protocol
 * (FRAMING_END), say the connection's last words its own way (an HTTP
 * error response, a WebSocket close frame with its code), and keep a
 * silent peer's connection alive (a ping).
 *
 * A line said to many (struct msg) is encoded once per framing and the
 * encoding shared by every member with that framing (msg_encode()). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "http.h"
#include "line.h"
#include "telnet.h"
#include "ws.h"

/* Framings a struct msg can carry an encoding for (HTTP carries none:
 * nothing is said to many in it). */
enum {
        FRAMING_TELNET = 0,
        FRAMING_WS,
        FRAMING_COUNT,
        FRAMING_NO_MSG = FRAMING_COUNT,
};

/* Results of next() besides -errno. */
enum {
        FRAMING_NONE = 0,       /* the data is used up without a whole message */
        FRAMING_MSG = 1,        /* *msg and *len hold one */
        FRAMING_TOOLONG = 2,    /* a message went over the limit; it is being discarded */
        FRAMING_REPLY = 3,      /* *msg and *len hold bytes the framing answers
                                 * itself (a pong), to be written now */
        FRAMING_END = 4,        /* the session is over for the framing: the peer
                                 * closed it or broke the protocol (*msg, *len:
                                 * why, for the log); read nothing more */
};

/* Why a connection says its last words (last_words()). */
enum framing_bye {
        FRAMING_BYE_REFUSED,    /* not let in: "server full" */
        FRAMING_BYE_SHUTDOWN,   /* the server is stopping */
        FRAMING_BYE_TIMEOUT,    /* idle or line timeout */
        FRAMING_BYE_CLOSE,      /* the session ends for another reason (text) */
};

/* What one connection's framing keeps between reads. */
struct framing_state {
        union {
                struct {
                        struct telnet tn;
                        struct line_splitter ls;
                } telnet;
                struct http_heads http;
                struct ws ws;
        };
};

struct framing {
        const char *name;
        unsigned index;         /* FRAMING_*, its slot in struct msg (FRAMING_NO_MSG: none) */
        /* Messages longer than max are refused (FRAMING_TOOLONG). 0 or -errno. */
        int (*init)(struct framing_state *st, size_t max);
        void (*free)(struct framing_state *st);
        /* n bytes just received in buf: the data stays in place (*kept
         * bytes), and what the framing must answer itself goes to reply
         * (room for FRAMING_REPLY_MAX(n); *nreply set). */
        void (*take)(struct framing_state *st, uint8_t *buf, size_t n, size_t *kept,
                     uint8_t *reply, size_t *nreply);
        /* The next message from data (advancing *data and *n): FRAMING_*
         * or -errno. A message stays valid until the next call. */
        int (*next)(struct framing_state *st, const char **data, size_t *n, const char **msg,
                    size_t *len);
        /* Bytes of a message have come since the last whole one (what the
         * line timeout measures). */
        bool (*mid_message)(const struct framing_state *st);
        /* The wire form of one message, whose text is the n parts one
         * after the other: encode() writes at most encoded_max(their
         * length) bytes to out and returns how many. */
        size_t (*encoded_max)(size_t len);
        size_t (*encode)(const struct iovec *parts, int n, char *out);
        /* Optional: whether a line as msg_new() makes it (text, CR LF) is
         * already its own wire form, to be sent without a copy. */
        bool (*line_as_is)(const char *text, size_t len);
        /* Optional: the connection's last words, why and text (its
         * reason), as this framing says them: at most
         * FRAMING_WORDS_MAX(len) bytes to out, how many returned (0: say
         * nothing). Without it the text of every why but
         * FRAMING_BYE_CLOSE is sent as a message, and nothing at the
         * close. Called for FRAMING_BYE_CLOSE as the session's very last
         * output. */
        size_t (*last_words)(struct framing_state *st, enum framing_bye why, const char *text,
                             size_t len, char *out);
        /* Optional: what to send a peer that has been silent for a while
         * (PICHAT_KEEPALIVE_MS, see bounds.h), at most FRAMING_PING_MAX
         * bytes; a peer that then stays silent as long again is gone. */
        size_t (*keepalive)(struct framing_state *st, char *out);
        /* Bytes the framing keeps for next() are the client's own text
         * (telnet): their arrival is activity for [server]
         * idle_timeout_s. Otherwise only whole messages are (a
         * WebSocket's pongs are not, nor are telnet's commands). */
        bool activity_on_bytes;
        /* The peer may still be sending when the session ends (an HTTP
         * body, WebSocket frames after a close): after the last words,
         * what comes is read and dropped for a moment (PICHAT_LINGER_MS),
         * so that a reset does not destroy what was said. */
        bool linger;
};

#define FRAMING_REPLY_MAX(n) ((size_t)(n) + 2)
#define FRAMING_WORDS_MAX(n) ((size_t)(n) + 320)
#define FRAMING_PING_MAX 16

/* take() for a framing whose next() reads the bytes as they came: all are
 * kept, nothing is answered (HTTP heads, WebSocket frames). */
void framing_take_all(struct framing_state *st, uint8_t *buf, size_t n, size_t *kept,
                      uint8_t *reply, size_t *nreply);

extern const struct framing framing_telnet;
extern const struct framing framing_http;      /* http.c */
extern const struct framing framing_ws;        /* ws.c */
