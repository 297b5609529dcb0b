/* framing: telnet lines, the framing of every TCP service today. */
#include "framing.h"

#include <string.h>

void framing_take_all(struct framing_state *st, uint8_t *buf, size_t n, size_t *kept,
                      uint8_t *reply, size_t *nreply)
{
        (void)st;
        (void)buf;
        (void)reply;
        *kept = n;
        *nreply = 0;
}

static int telnet_lines_init(struct framing_state *st, size_t max)
{
        telnet_init(&st->telnet.tn);
        return line_init(&st->telnet.ls, max);
}

static void telnet_lines_free(struct framing_state *st)
{
        line_free(&st->telnet.ls);
}

static void telnet_lines_take(struct framing_state *st, uint8_t *buf, size_t n, size_t *kept,
                              uint8_t *reply, size_t *nreply)
{
        telnet_filter(&st->telnet.tn, buf, n, buf, kept, reply, nreply);
}

static int telnet_lines_next(struct framing_state *st, const char **data, size_t *n,
                             const char **msg, size_t *len)
{
        int r = line_next(&st->telnet.ls, data, n, msg, len);

        return r == LINE_OK ? FRAMING_MSG : r == LINE_TOOLONG ? FRAMING_TOOLONG : r;
}

static bool telnet_lines_mid(const struct framing_state *st)
{
        return st->telnet.ls.mid_line;
}

static size_t telnet_lines_max(size_t len)
{
        return TELNET_ESCAPED_MAX(len) + 2;
}

static size_t telnet_lines_encode(const struct iovec *parts, int k, char *out)
{
        size_t n = 0;

        for (int i = 0; i < k; i++)
                n += telnet_escape(parts[i].iov_base, parts[i].iov_len, out + n);
        out[n++] = '\r';
        out[n++] = '\n';
        return n;
}

/* Chat text never holds 0xFF (text_sanitize() sees to it), so a shared
 * line is almost always sent as msg_new() made it. */
static bool telnet_lines_as_is(const char *text, size_t len)
{
        return !memchr(text, TELNET_IAC, len);
}

const struct framing framing_telnet = {
        .name = "telnet", .index = FRAMING_TELNET,
        .init = telnet_lines_init, .free = telnet_lines_free,
        .take = telnet_lines_take, .next = telnet_lines_next, .mid_message = telnet_lines_mid,
        .encoded_max = telnet_lines_max, .encode = telnet_lines_encode,
        .line_as_is = telnet_lines_as_is, .activity_on_bytes = true,
};
