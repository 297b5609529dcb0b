/* outfilter: telnet, escape sequence and UTF-8 filtering of server output. */
#include "outfilter.h"

#include <string.h>

#include "text.h"

/* The server's own rules for telnet (telnet.c) and UTF-8 (text.c), shared
 * through libpichat: a byte the daemon reads as data is data here too. */

enum { E_NONE, E_ESC, E_CSI, E_STR };

void outf_init(struct outf *f, bool telnet)
{
        memset(f, 0, sizeof(*f));
        f->telnet = telnet;
        telnet_init(&f->tn);
}


static size_t put_replacement(char *out)
{
        memcpy(out, TEXT_REPLACEMENT, 3);
        return 3;
}

/* Feed one byte to the escape-sequence eater. true if it was swallowed;
 * false if the byte ended a malformed sequence and is ordinary data. */
static bool eat_escape(struct outf *f, uint8_t b)
{
        switch (f->estate) {
        case E_ESC:
                if (b == '[') {
                        f->estate = E_CSI;
                } else if (b == ']' || b == 'P' || b == '_' || b == '^' || b == 'X') {
                        f->estate = E_STR;      /* OSC, DCS, APC, PM, SOS */
                } else if (b >= 0x20 && b <= 0x2F) {
                        /* intermediate byte: the final one follows */
                } else if (b >= 0x30 && b <= 0x7E) {
                        f->estate = E_NONE;
                } else {
                        f->estate = E_NONE;
                        return false;
                }
                return true;
        case E_CSI:
                if (b >= 0x20 && b <= 0x3F)
                        return true;
                f->estate = E_NONE;
                return b >= 0x40 && b <= 0x7E;
        case E_STR:
                /* Ends at BEL or ST (ESC \). Any other control character
                 * ends it too, so an unterminated string cannot swallow
                 * more than the rest of its line. */
                if (b == 0x07) {
                        f->estate = E_NONE;
                        return true;
                }
                if (b == 0x1B) {
                        f->estate = E_ESC;
                        return true;
                }
                if (b < 0x20) {
                        f->estate = E_NONE;
                        return false;
                }
                return true;
        }
        return false;
}

/* One byte of data (telnet already removed) into out; returns bytes written. */
static size_t text_byte(struct outf *f, uint8_t b, char *out)
{
        size_t o = 0;

        if (f->u8_need > 0) {
                uint8_t lo = f->u8_len == 1 ? f->u8_lo : 0x80;
                uint8_t hi = f->u8_len == 1 ? f->u8_hi : 0xBF;

                if (b >= lo && b <= hi) {
                        f->u8[f->u8_len++] = b;
                        if (f->u8_len < f->u8_need)
                                return 0;
                        f->u8_need = 0;
                        /* C1 controls (U+0080-U+009F) are as dangerous as ESC. */
                        if (f->u8_len == 2 && f->u8[0] == 0xC2 && f->u8[1] <= 0x9F)
                                return 0;
                        memcpy(out, f->u8, f->u8_len);
                        return f->u8_len;
                }
                /* The sequence broke off: one U+FFFD for it, then b afresh. */
                f->u8_need = 0;
                o += put_replacement(out);
        }
        if (f->estate != E_NONE && eat_escape(f, b))
                return o;
        if (f->after_cr) {
                f->after_cr = false;
                if (b == '\n' || b == '\0')
                        return o;
        }
        if (b >= 0x80) {
                unsigned need = text_utf8_lead(b, &f->u8_lo, &f->u8_hi);
                if (need == 0)
                        return o + put_replacement(out + o);
                f->u8[0] = b;
                f->u8_len = 1;
                f->u8_need = (uint8_t)need;
                return o;
        }
        switch (b) {
        case '\r':
                f->after_cr = true;
                out[o++] = '\n';
                break;
        case '\n':
        case '\t':
                out[o++] = (char)b;
                break;
        case 0x1B:
                f->estate = E_ESC;
                break;
        default:
                if (b >= 0x20 && b != 0x7F)
                        out[o++] = (char)b;
                break;
        }
        return o;
}

/* Bytes of input taken through the telnet filter at once. */
#define OUTF_CHUNK 512

size_t outf_feed(struct outf *f, const uint8_t *in, size_t n, char *out,
                 uint8_t *reply, size_t *reply_len)
{
        uint8_t data[OUTF_CHUNK], scratch[OUTF_REPLY_MAX(OUTF_CHUNK)];
        size_t o = 0, r = 0;

        if (!f->telnet) {
                for (size_t i = 0; i < n; i++)
                        o += text_byte(f, in[i], out + o);
                if (reply_len)
                        *reply_len = 0;
                return o;
        }
        for (size_t done = 0; done < n;) {
                size_t k = n - done < OUTF_CHUNK ? n - done : OUTF_CHUNK, len, rlen;

                telnet_filter(&f->tn, in + done, k, data, &len, reply ? reply + r : scratch,
                              &rlen);
                if (reply)
                        r += rlen;
                for (size_t i = 0; i < len; i++)
                        o += text_byte(f, data[i], out + o);
                done += k;
        }
        if (reply_len)
                *reply_len = r;
        return o;
}

size_t outf_finish(struct outf *f, char *out)
{
        if (f->u8_need == 0)
                return 0;
        f->u8_need = 0;
        return put_replacement(out);
}
