/* text: the chat input sanitiser and the nick / room name rules. */
#include "text.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Length of the sequence a lead byte starts (0: never valid as a lead) and
 * the range its second byte must be in. The narrower second-byte ranges
 * are what rule out overlong forms (E0, F0), surrogates (ED) and code
 * points above U+10FFFF (F4); Unicode 3.9, table 3-7. */
unsigned text_utf8_lead(uint8_t b, uint8_t *lo, uint8_t *hi)
{
        *lo = 0x80;
        *hi = 0xBF;
        if (b >= 0xC2 && b <= 0xDF)
                return 2;
        if (b >= 0xE0 && b <= 0xEF) {
                if (b == 0xE0)
                        *lo = 0xA0;
                else if (b == 0xED)
                        *hi = 0x9F;
                return 3;
        }
        if (b >= 0xF0 && b <= 0xF4) {
                if (b == 0xF0)
                        *lo = 0x90;
                else if (b == 0xF4)
                        *hi = 0x8F;
                return 4;
        }
        return 0;
}

/* The code point of a valid sequence of n bytes. */
static uint32_t decode(const uint8_t *s, size_t n)
{
        uint32_t cp = n == 2 ? s[0] & 0x1F : n == 3 ? s[0] & 0x0F : s[0] & 0x07;

        for (size_t i = 1; i < n; i++)
                cp = cp << 6 | (s[i] & 0x3F);
        return cp;
}

/* The invisible and reordering characters text.h lists. */
static bool invisible(uint32_t cp)
{
        return cp == 0x061C || cp == 0x180E || cp == 0x200B || cp == 0x200E || cp == 0x200F ||
               (cp >= 0x2028 && cp <= 0x202E) || (cp >= 0x2060 && cp <= 0x2064) ||
               (cp >= 0x2066 && cp <= 0x2069) || cp == 0xFEFF || (cp >= 0xE0000 && cp <= 0xE007F);
}

static bool combining(uint32_t cp)
{
        return (cp >= 0x0300 && cp <= 0x036F) || (cp >= 0x1AB0 && cp <= 0x1AFF) ||
               (cp >= 0x1DC0 && cp <= 0x1DFF) || (cp >= 0x20D0 && cp <= 0x20FF) ||
               (cp >= 0xFE20 && cp <= 0xFE2F);
}

static bool keep_ascii(uint8_t b)
{
        return b == '\t' || (b >= 0x20 && b != 0x7F);
}

size_t text_sanitize(const char *in, size_t len, char *out, size_t outsize)
{
        const uint8_t *s = (const uint8_t *)in;
        size_t i = 0, o = 0;
        unsigned marks = 0;     /* combining marks since the last base */

        if (outsize == 0)
                return 0;

        while (i < len) {
                uint8_t lo, hi, b = s[i];
                unsigned need, got;
                const void *src;
                size_t n;

                if (b < 0x80) {
                        i++;
                        if (!keep_ascii(b))
                                continue;
                        src = &s[i - 1];
                        n = 1;
                        marks = 0;
                } else {
                        need = text_utf8_lead(b, &lo, &hi);
                        got = 1;
                        while (got < need && i + got < len) {
                                uint8_t c = s[i + got];

                                if (c < lo || c > hi)
                                        break;
                                lo = 0x80;
                                hi = 0xBF;
                                got++;
                        }
                        src = &s[i];
                        i += got;
                        if (got == need) {
                                uint32_t cp = decode(src, got);

                                /* U+0080..U+009F are the C1 controls. */
                                if (cp <= 0x9F || invisible(cp))
                                        continue;
                                if (!combining(cp))
                                        marks = 0;
                                else if (++marks > TEXT_COMBINING_MAX)
                                        continue;
                                n = got;
                        } else {
                                /* The lead and the continuation bytes that
                                 * fitted are one maximal invalid subpart;
                                 * the offending byte starts afresh. */
                                src = TEXT_REPLACEMENT;
                                n = 3;
                                marks = 0;
                        }
                }
                if (o + n >= outsize)
                        break;
                memcpy(out + o, src, n);
                o += n;
        }
        out[o] = '\0';
        return o;
}

static bool name_char(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
               (c >= '0' && c <= '9') || c == '_' || c == '-';
}

/* Length of the valid name at s, or 0 if s is not one. */
static size_t name_len(const char *s, size_t max_len)
{
        size_t n = 0;

        while (s[n] != '\0') {
                if (!name_char(s[n]) || n == max_len)
                        return 0;
                n++;
        }
        return n;
}

bool text_valid_name(const char *s, size_t max_len)
{
        return name_len(s, max_len) > 0;
}

int text_room_name(const char *in, char *out, size_t outsize, size_t max_len)
{
        size_t n;

        if (*in == '#')
                in++;
        n = name_len(in, max_len);
        if (n == 0)
                return -EINVAL;
        if (n >= outsize)
                return -ENOSPC;
        memcpy(out, in, n + 1);
        return 0;
}

size_t text_fit(const char *s, size_t max)
{
        size_t n = strnlen(s, max + 1);

        if (n <= max)
                return n;
        /* Back over continuation bytes to the start of the character
         * that does not fit whole. */
        n = max;
        while (n > 0 && ((uint8_t)s[n] & 0xC0) == 0x80)
                n--;
        return n;
}

static bool name_sep(char c)
{
        return c == ' ' || c == '\t' || c == ',';
}

int text_room_list(const char *text, struct text_room_list *out, char *bad, size_t badsize)
{
        /* Cleared whole: two lists of the same names compare equal. */
        memset(out, 0, sizeof(*out));
        for (;;) {
                char word[PICHAT_ROOM_NAME_MAX + 2], name[PICHAT_ROOM_NAME_MAX + 1];
                size_t len = 0;
                bool seen = false;

                while (name_sep(*text))
                        text++;
                if (!*text)
                        return 0;
                while (text[len] && !name_sep(text[len]))
                        len++;
                /* A word too long for the buffer cannot be a name. */
                snprintf(word, sizeof(word), "%.*s", (int)len, text);
                if (len >= sizeof(word) ||
                    text_room_name(word, name, sizeof(name), PICHAT_ROOM_NAME_MAX) < 0) {
                        snprintf(bad, badsize, "%.*s", (int)len, text);
                        memset(out, 0, sizeof(*out));
                        return -EINVAL;
                }
                text += len;
                for (size_t i = 0; i < out->n && !seen; i++)
                        seen = text_casecmp(out->name[i], name) == 0;
                if (seen)
                        continue;
                if (out->n == PICHAT_ROOMS_LISTED_MAX) {
                        memset(out, 0, sizeof(*out));
                        return -E2BIG;
                }
                strcpy(out->name[out->n++], name);
        }
}

static int ascii_lower(unsigned char c)
{
        return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

bool text_secret_equal(const char *given, const char *secret)
{
        unsigned char a[TEXT_SECRET_MAX] = { 0 }, b[TEXT_SECRET_MAX] = { 0 };
        size_t la = strnlen(given, TEXT_SECRET_MAX + 1);
        size_t lb = strnlen(secret, TEXT_SECRET_MAX + 1);
        unsigned d = (la != lb) | (la > TEXT_SECRET_MAX) | (lb > TEXT_SECRET_MAX);

        memcpy(a, given, la < TEXT_SECRET_MAX ? la : TEXT_SECRET_MAX);
        memcpy(b, secret, lb < TEXT_SECRET_MAX ? lb : TEXT_SECRET_MAX);
        for (size_t i = 0; i < TEXT_SECRET_MAX; i++)
                d |= a[i] ^ b[i];
        return d == 0;
}

int text_casecmp(const char *a, const char *b)
{
        const unsigned char *x = (const unsigned char *)a;
        const unsigned char *y = (const unsigned char *)b;

        while (*x != '\0' && ascii_lower(*x) == ascii_lower(*y)) {
                x++;
                y++;
        }
        return ascii_lower(*x) - ascii_lower(*y);
}
