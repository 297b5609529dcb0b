/* telnet: IAC parsing, option refusal and escaping, for pichatd and pichat. */
#include "telnet.h"

#include <stdbool.h>
#include <string.h>

enum {
        ST_DATA,
        ST_IAC,         /* after IAC */
        ST_OPT,         /* after IAC DO/DONT/WILL/WONT: the option byte */
        ST_SB,          /* inside subnegotiation */
        ST_SB_IAC,      /* IAC inside subnegotiation */
};

void telnet_init(struct telnet *t)
{
        memset(t, 0, sizeof(*t));
        t->state = ST_DATA;
}

static bool test_and_set(uint8_t *bits, uint8_t opt)
{
        bool was = bits[opt / 8] & (1u << (opt % 8));
        bits[opt / 8] |= (uint8_t)(1u << (opt % 8));
        return was;
}

void telnet_filter(struct telnet *t, const uint8_t *in, size_t n,
                   uint8_t *out, size_t *out_len,
                   uint8_t *reply, size_t *reply_len)
{
        size_t o = 0, r = 0;

        for (size_t i = 0; i < n; i++) {
                uint8_t c = in[i];

                switch (t->state) {
                case ST_DATA:
                        if (c == TELNET_IAC)
                                t->state = ST_IAC;
                        else
                                out[o++] = c;
                        break;
                case ST_IAC:
                        if (c == TELNET_IAC) {
                                out[o++] = c;
                                t->state = ST_DATA;
                        } else if (c >= TELNET_WILL) {
                                t->cmd = c;
                                t->state = ST_OPT;
                        } else if (c == TELNET_SB) {
                                t->state = ST_SB;
                        } else {
                                t->state = ST_DATA;     /* NOP, AYT, GA, ...: ignored */
                        }
                        break;
                case ST_OPT:
                        if (t->cmd == TELNET_DO && !test_and_set(t->refused_do, c)) {
                                reply[r++] = TELNET_IAC;
                                reply[r++] = TELNET_WONT;
                                reply[r++] = c;
                        } else if (t->cmd == TELNET_WILL && !test_and_set(t->refused_will, c)) {
                                reply[r++] = TELNET_IAC;
                                reply[r++] = TELNET_DONT;
                                reply[r++] = c;
                        }
                        t->state = ST_DATA;
                        break;
                case ST_SB:
                        if (c == TELNET_IAC)
                                t->state = ST_SB_IAC;
                        break;
                case ST_SB_IAC:
                        t->state = c == TELNET_SE ? ST_DATA : ST_SB;
                        break;
                }
        }
        *out_len = o;
        *reply_len = r;
}

size_t telnet_escape(const void *in, size_t n, void *out)
{
        const uint8_t *s = in;
        uint8_t *o = out;
        size_t k = 0;

        for (size_t i = 0; i < n; i++) {
                o[k++] = s[i];
                if (s[i] == TELNET_IAC)
                        o[k++] = TELNET_IAC;
        }
        return k;
}
