/* telnet: the telnet rules both ends of a pichat connection follow: a
 * stateful filter that strips telnet commands from what is read, and the
 * escaping of data that is written.
 *
 * The filter handles IAC sequences split across reads. IAC IAC is a
 * literal 0xFF. Option requests (DO/WILL) are refused with WONT/DONT, once
 * per option, so a peer cannot make us amplify a flood of requests; WONT
 * and DONT are never answered, which is how negotiation loops start. */
#pragma once

#include <stddef.h>
#include <stdint.h>

enum {
        TELNET_IAC = 255,
        TELNET_DONT = 254,
        TELNET_DO = 253,
        TELNET_WONT = 252,
        TELNET_WILL = 251,
        TELNET_SB = 250,
        TELNET_SE = 240,
};

struct telnet {
        uint8_t state;
        uint8_t cmd;
        uint8_t refused_do[32];         /* bitmaps of options already refused */
        uint8_t refused_will[32];
};

void telnet_init(struct telnet *t);

/* Filter n bytes of in into out (at most n bytes, *out_len set) and append
 * any replies to send back into reply (room for n + 2 bytes: a request
 * split across calls answers on its last byte; *reply_len set).
 * in and out may be the same buffer. */
void telnet_filter(struct telnet *t, const uint8_t *in, size_t n,
                   uint8_t *out, size_t *out_len,
                   uint8_t *reply, size_t *reply_len);

/* Copy n bytes of data to out as telnet must send them: every 0xFF
 * doubled, so that the peer reads it as data, not as IAC. out needs
 * TELNET_ESCAPED_MAX(n) bytes and must not overlap in. Returns the length
 * written. */
#define TELNET_ESCAPED_MAX(n) (2 * (size_t)(n))
size_t telnet_escape(const void *in, size_t n, void *out);
