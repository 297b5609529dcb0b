/* outfilter: makes what a server sends safe and plain for a terminal.
 *
 * Telnet commands are removed (option requests are refused, once per
 * option), every line end (CR LF, CR NUL, lone CR, LF) becomes '\n',
 * control characters and escape sequences are dropped, and bytes that are
 * not UTF-8 become U+FFFD. So a server can never move the cursor, change
 * colours, retitle the window or garble the prompt. All state carries over
 * between calls: any sequence may be split across any number of reads. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "telnet.h"

/* Output room that always suffices for n input bytes: every byte can
 * become a 3-byte U+FFFD, plus one for a sequence left from the last call. */
#define OUTF_MAX(n) (3 * (size_t)(n) + 3)
/* Reply room for n input bytes: a request split across calls is answered
 * on its last byte, so one answer can come from a single byte. */
#define OUTF_REPLY_MAX(n) ((size_t)(n) + 2)

struct outf {
        bool telnet;            /* interpret IAC (TCP); off for UDP replies */
        struct telnet tn;       /* the daemon's own telnet rules (telnet.h) */
        uint8_t estate;         /* escape sequence being dropped */
        bool after_cr;          /* a CR ended a line: swallow a following LF or NUL */
        uint8_t u8[4];          /* incomplete UTF-8 sequence */
        uint8_t u8_len, u8_need;
        uint8_t u8_lo, u8_hi;   /* allowed range of the second byte */
};

void outf_init(struct outf *f, bool telnet);

/* Filter n bytes of in into out (room OUTF_MAX(n)); returns the length
 * written. Telnet refusals are appended to reply (room OUTF_REPLY_MAX(n)),
 * *reply_len set; reply may be NULL when telnet is off. */
size_t outf_feed(struct outf *f, const uint8_t *in, size_t n, char *out,
                 uint8_t *reply, size_t *reply_len);

/* End of stream: an unfinished UTF-8 sequence becomes U+FFFD. out needs
 * 3 bytes; returns the length written. */
size_t outf_finish(struct outf *f, char *out);
