/* lineedit: key handling of the minimal line editor. */
#include "lineedit.h"

#include <string.h>
#include <wchar.h>

enum { ESC_NONE, ESC_START, ESC_CSI, ESC_SS3 };

void ledit_init(struct ledit *e)
{
        memset(e, 0, sizeof(*e));
}

void ledit_clear(struct ledit *e)
{
        e->len = 0;
        e->buf[0] = '\0';
        e->dropping = false;
}

static bool is_cont(uint8_t b)
{
        return (b & 0xC0) == 0x80;
}

static void drop_char(struct ledit *e)
{
        while (e->len > 0 && is_cont((uint8_t)e->buf[e->len - 1]))
                e->len--;
        if (e->len > 0)
                e->len--;
        e->buf[e->len] = '\0';
}

static void drop_word(struct ledit *e)
{
        while (e->len > 0 && e->buf[e->len - 1] == ' ')
                e->len--;
        while (e->len > 0 && e->buf[e->len - 1] != ' ')
                e->len--;
        e->buf[e->len] = '\0';
}

/* true while c belongs to an escape sequence (ESC [ ... final, ESC O x). */
static bool swallow_escape(struct ledit *e, uint8_t c)
{
        switch (e->esc) {
        case ESC_START:
                /* A lone Esc followed by Enter or Backspace keeps the key. */
                if (c < 0x20 || c >= 0x7F)
                        return false;
                e->esc = c == '[' ? ESC_CSI : c == 'O' ? ESC_SS3 : ESC_NONE;
                return true;
        case ESC_CSI:
                if (c >= 0x20 && c <= 0x3F)
                        return true;
                if (c >= 0x40 && c <= 0x7E) {
                        e->esc = ESC_NONE;
                        return true;
                }
                return false;
        case ESC_SS3:
                if (c < 0x20 || c >= 0x7F)
                        return false;
                e->esc = ESC_NONE;
                return true;
        }
        return false;
}

int ledit_key(struct ledit *e, uint8_t c)
{
        if (e->esc != ESC_NONE) {
                if (swallow_escape(e, c))
                        return LEDIT_NONE;
                e->esc = ESC_NONE;
        }
        if (is_cont(c)) {
                if (e->dropping || e->len == 0 || e->len >= LEDIT_MAX)
                        return LEDIT_NONE;
                e->buf[e->len++] = (char)c;
                e->buf[e->len] = '\0';
                return LEDIT_ECHO;
        }
        e->dropping = false;
        if (c >= 0x20 && c != 0x7F) {
                /* Leave room for the longest character, so a full line
                 * never ends in half of one. */
                if (e->len + 4 > LEDIT_MAX) {
                        e->dropping = true;
                        return LEDIT_BELL;
                }
                e->buf[e->len++] = (char)c;
                e->buf[e->len] = '\0';
                return LEDIT_ECHO;
        }
        switch (c) {
        case '\r':
        case '\n':
                return LEDIT_ENTER;
        case 0x7F:              /* Backspace on most terminals */
        case 0x08:              /* Ctrl-H */
        case 0x15:              /* Ctrl-U */
        case 0x17:              /* Ctrl-W */
                if (e->len == 0)
                        return LEDIT_NONE;
                if (c == 0x15)
                        ledit_clear(e);
                else if (c == 0x17)
                        drop_word(e);
                else
                        drop_char(e);
                return LEDIT_REDRAW;
        case 0x0C:              /* Ctrl-L */
                return LEDIT_REDRAW;
        case 0x04:              /* Ctrl-D */
                return e->len == 0 ? LEDIT_EOF : LEDIT_NONE;
        case 0x1B:
                e->esc = ESC_START;
                return LEDIT_NONE;
        default:
                return LEDIT_NONE;
        }
}

size_t ledit_width(const char *s, size_t len)
{
        const uint8_t *p = (const uint8_t *)s;
        size_t cols = 0, i = 0;

        while (i < len) {
                uint32_t cp = p[i];
                size_t n = cp < 0x80 ? 1 : cp >= 0xF8 ? 0 : cp >= 0xF0 ? 4 :
                           cp >= 0xE0 ? 3 : cp >= 0xC0 ? 2 : 0;
                size_t k = 1;

                if (n > 1) {
                        cp &= 0x7Fu >> n;
                        for (; k < n && i + k < len && is_cont(p[i + k]); k++)
                                cp = cp << 6 | (p[i + k] & 0x3F);
                        if (k < n && i + k == len)
                                break;  /* a character still being typed: not shown yet */
                }
                if (n == 0 || k < n) {
                        cols++;
                        i++;
                        continue;
                }
                /* wcwidth knows wide and combining characters once main()
                 * has set the locale; without one, count a column each. */
                int w = wcwidth((wchar_t)cp);
                cols += w >= 0 ? (size_t)w : 1;
                i += n;
        }
        return cols;
}
