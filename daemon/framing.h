/* framing: the middle layer of a connection, between the bytes its
 * transport moves and the whole messages its service sees.
 *
 * A framing turns received bytes into messages, answers what belongs to
 * it alone (telnet option requests), and turns a service's text into the
 * bytes the peer expects. Today there is one, telnet lines: IAC commands
 * filtered, every line end a telnet client sends understood, CR LF out
 * and 0xFF doubled. WebSocket frames are the next, as another struct
 * framing and another member of struct framing_state.
 *
 * A line said to many (struct msg) is encoded once per framing and the
 * encoding shared by every member with that framing (msg_encode()). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "line.h"
#include "telnet.h"

/* Framings a struct msg can carry an encoding for. */
enum {
        FRAMING_TELNET = 0,
        FRAMING_COUNT,
};

/* Results of next() besides -errno. */
enum {
        FRAMING_NONE = 0,       /* the data is used up without a whole message */
        FRAMING_MSG = 1,        /* *msg and *len hold one */
        FRAMING_TOOLONG = 2,    /* a message went over the limit; it is being discarded */
};

/* What one connection's framing keeps between reads. */
struct framing_state {
        union {
                struct {
                        struct telnet tn;
                        struct line_splitter ls;
                } telnet;
        };
};

struct framing {
        const char *name;
        unsigned index;         /* FRAMING_*, its slot in struct msg */
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
};

#define FRAMING_REPLY_MAX(n) ((size_t)(n) + 2)

extern const struct framing framing_telnet;
