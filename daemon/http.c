/* http: request heads out of a byte stream, their parser, origins and
 * dates; and the framing of a web connection before it becomes a
 * WebSocket. */
#include "http.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "framing.h"

/* ---- small pieces --------------------------------------------------------- */

static int lower(int ch)
{
        return ch >= 'A' && ch <= 'Z' ? ch + 32 : ch;
}

bool http_str_is(struct http_str a, const char *b)
{
        size_t n = strlen(b);

        if (a.n != n)
                return false;
        for (size_t i = 0; i < n; i++)
                if (lower((unsigned char)a.p[i]) != b[i])
                        return false;
        return true;
}

/* RFC 9110 5.6.2: tchar. */
static bool is_tchar(int ch)
{
        return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
               (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

static struct http_str trim(const char *p, size_t n)
{
        while (n > 0 && (*p == ' ' || *p == '\t')) {
                p++;
                n--;
        }
        while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
                n--;
        return (struct http_str){ p, n };
}

/* Each element of a comma-separated list (RFC 9110 5.6.1), as fn sees it;
 * true if fn said true for any. */
static bool list_any(struct http_str v, bool (*fn)(struct http_str el, const char *arg),
                     const char *arg)
{
        const char *p = v.p, *end = v.p + v.n;

        while (p < end) {
                const char *comma = memchr(p, ',', (size_t)(end - p));
                const char *stop = comma ? comma : end;
                if (fn(trim(p, (size_t)(stop - p)), arg))
                        return true;
                p = stop + 1;
        }
        return false;
}

static bool token_is(struct http_str el, const char *name)
{
        return http_str_is(el, name);
}

/* An Upgrade element: a protocol name, perhaps with "/version". */
static bool protocol_is(struct http_str el, const char *name)
{
        const char *slash = memchr(el.p, '/', el.n);

        if (slash)
                el.n = (size_t)(slash - el.p);
        return http_str_is(el, name);
}

/* Host, or the authority of an origin: a reg-name, IPv4 or [IPv6], and an
 * optional port of digits. Splits it; false if it is none. */
static bool authority(const char *p, size_t n, struct http_str *host, long *port)
{
        size_t i = 0;

        *port = -1;
        if (n > 0 && p[0] == '[') {
                while (i < n && p[i] != ']') {
                        if (i > 0 && !strchr("0123456789abcdefABCDEF:.", p[i]))
                                return false;
                        i++;
                }
                if (i == n || i < 2)
                        return false;
                i++;
        } else {
                while (i < n && p[i] != ':') {
                        int ch = (unsigned char)p[i];
                        if (!((ch >= '0' && ch <= '9') || (lower(ch) >= 'a' && lower(ch) <= 'z') ||
                              ch == '-' || ch == '.' || ch == '_'))
                                return false;
                        i++;
                }
                if (i == 0)
                        return false;
        }
        *host = (struct http_str){ p, i };
        if (i == n)
                return true;
        if (p[i] != ':' || i + 1 == n || n - i - 1 > 5)
                return false;
        long v = 0;
        for (size_t j = i + 1; j < n; j++) {
                if (p[j] < '0' || p[j] > '9')
                        return false;
                v = v * 10 + (p[j] - '0');
        }
        if (v > 65535)
                return false;
        *port = v;
        return true;
}

/* Splits an origin: its scheme's default port, host and port. */
static bool origin_split(const char *s, size_t n, struct http_str *host, long *port)
{
        long def;

        if (n > 7 && strncasecmp(s, "http://", 7) == 0) {
                def = 80;
                s += 7;
                n -= 7;
        } else if (n > 8 && strncasecmp(s, "https://", 8) == 0) {
                def = 443;
                s += 8;
                n -= 8;
        } else {
                return false;
        }
        if (!authority(s, n, host, port))
                return false;
        if (*port < 0)
                *port = def;
        return true;
}

bool http_origin_valid(const char *s, size_t n)
{
        struct http_str host;
        long port;

        return origin_split(s, n, &host, &port);
}

bool http_origin_same_host(struct http_str origin, struct http_str host)
{
        struct http_str oh, hh;
        long op, hp;

        if (!origin_split(origin.p, origin.n, &oh, &op) || !authority(host.p, host.n, &hh, &hp))
                return false;
        if (oh.n != hh.n || strncasecmp(oh.p, hh.p, oh.n) != 0)
                return false;
        return hp < 0 || hp == op;
}

bool http_origin_listed(struct http_str origin, const char *list)
{
        const char *p = list;

        while (*p) {
                size_t skip = strspn(p, " ,"), len;
                p += skip;
                len = strcspn(p, " ,");
                if (len == 0)
                        break;
                if ((len == 1 && *p == '*') ||
                    (len == origin.n && strncasecmp(p, origin.p, len) == 0))
                        return true;
                p += len;
        }
        return false;
}

void http_date(time_t t, char out[HTTP_DATE_LEN + 1])
{
        static const char days[][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
        static const char months[][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
        struct tm tm;

        gmtime_r(&t, &tm);
        snprintf(out, HTTP_DATE_LEN + 1, "%s, %02d %s %04d %02d:%02d:%02d GMT",
                 days[tm.tm_wday % 7], tm.tm_mday % 100, months[tm.tm_mon % 12],
                 (tm.tm_year + 1900) % 10000, tm.tm_hour % 100, tm.tm_min % 100,
                 tm.tm_sec % 100);
}

const char *http_reason(int status)
{
        switch (status) {
        case 101: return "Switching Protocols";
        case 200: return "OK";
        case 304: return "Not Modified";
        case 400: return "Bad Request";
        case 403: return "Forbidden";
        case 404: return "Not Found";
        case 405: return "Method Not Allowed";
        case 408: return "Request Timeout";
        case 413: return "Content Too Large";
        case 414: return "URI Too Long";
        case 426: return "Upgrade Required";
        case 431: return "Request Header Fields Too Large";
        case 500: return "Internal Server Error";
        case 503: return "Service Unavailable";
        case 505: return "HTTP Version Not Supported";
        default: return "Error";
        }
}

bool http_keep_alive(const struct http_req *req)
{
        return req->minor >= 1 ? !req->conn_close : req->conn_keep_alive && !req->conn_close;
}

/* ---- the parser ------------------------------------------------------------ */

/* The next line of the head: its text without CR LF (or LF). false at
 * the end; *bad when a CR stands anywhere but before the LF. */
static bool next_line(const char **p, const char *end, struct http_str *line, bool *bad)
{
        if (*p >= end)
                return false;
        const char *nl = memchr(*p, '\n', (size_t)(end - *p));
        const char *stop = nl ? nl : end;
        size_t n = (size_t)(stop - *p);

        if (n > 0 && (*p)[n - 1] == '\r')
                n--;
        if (memchr(*p, '\r', n))
                *bad = true;
        *line = (struct http_str){ *p, n };
        *p = nl ? nl + 1 : end;
        return true;
}

static int parse_request_line(struct http_str l, struct http_req *req)
{
        const char *p = l.p, *end = l.p + l.n, *sp;
        size_t i = 0;

        while (p + i < end && is_tchar((unsigned char)p[i]))
                i++;
        if (i == 0 || p + i == end || p[i] != ' ')
                return 400;
        struct http_str method = { p, i };
        req->method = method.n == 3 && memcmp(method.p, "GET", 3) == 0 ? HTTP_GET :
                      method.n == 4 && memcmp(method.p, "HEAD", 4) == 0 ? HTTP_HEAD : HTTP_OTHER;
        p += i + 1;
        sp = memchr(p, ' ', (size_t)(end - p));
        if (!sp || sp == p)
                return 400;
        struct http_str target = { p, (size_t)(sp - p) };
        for (size_t j = 0; j < target.n; j++)
                if ((unsigned char)target.p[j] <= 0x20 || (unsigned char)target.p[j] >= 0x7F)
                        return 400;
        p = sp + 1;
        /* HTTP-version = "HTTP/" DIGIT "." DIGIT */
        if (end - p != 8 || memcmp(p, "HTTP/", 5) != 0 || p[5] < '0' || p[5] > '9' ||
            p[6] != '.' || p[7] < '0' || p[7] > '9')
                return 400;
        if (p[5] != '1')
                return 505;
        req->minor = (unsigned)(p[7] - '0');

        /* origin-form, or absolute-form (which a server must accept). */
        if (target.n > 7 && strncasecmp(target.p, "http://", 7) == 0) {
                const char *slash = memchr(target.p + 7, '/', target.n - 7);
                target = slash ? (struct http_str){ slash, (size_t)(target.p + target.n - slash) } :
                                 (struct http_str){ "/", 1 };
        } else if (target.n == 1 && target.p[0] == '*') {
                req->path = target;     /* asterisk-form: OPTIONS only, refused later */
                return 0;
        } else if (target.p[0] != '/') {
                return 400;
        }
        const char *q = memchr(target.p, '?', target.n);
        req->path = (struct http_str){ target.p, q ? (size_t)(q - target.p) : target.n };
        return 0;
}

/* One header field: the ones the web service reads are kept. */
static int parse_field(struct http_str l, struct http_req *req)
{
        size_t i = 0;

        if (l.n > 0 && (l.p[0] == ' ' || l.p[0] == '\t'))
                return 400;     /* obsolete line folding */
        while (i < l.n && is_tchar((unsigned char)l.p[i]))
                i++;
        if (i == 0 || i == l.n || l.p[i] != ':')
                return 400;     /* no name, or whitespace before the colon */
        struct http_str name = { l.p, i };
        for (size_t j = i + 1; j < l.n; j++) {
                unsigned char ch = (unsigned char)l.p[j];
                if ((ch < 0x20 && ch != '\t') || ch == 0x7F)
                        return 400;
        }
        struct http_str v = trim(l.p + i + 1, l.n - i - 1);

        if (++req->n_fields > PICHAT_HTTP_FIELDS_MAX)
                return 431;
        if (http_str_is(name, "host")) {
                struct http_str h;
                long port;
                if (req->host.p || !authority(v.p, v.n, &h, &port))
                        return 400;     /* one Host, and a valid one */
                req->host = v;
        } else if (http_str_is(name, "origin")) {
                req->origin = v;
                req->has_origin = true;
        } else if (http_str_is(name, "connection")) {
                req->conn_close |= list_any(v, token_is, "close");
                req->conn_keep_alive |= list_any(v, token_is, "keep-alive");
                req->conn_upgrade |= list_any(v, token_is, "upgrade");
        } else if (http_str_is(name, "upgrade")) {
                req->has_upgrade = true;
                req->upgrade_websocket |= list_any(v, protocol_is, "websocket");
        } else if (http_str_is(name, "sec-websocket-key")) {
                req->ws_key = v;
        } else if (http_str_is(name, "sec-websocket-version")) {
                req->ws_version = v;
                req->has_ws_version = true;
        } else if (http_str_is(name, "if-none-match")) {
                req->if_none_match = v;
        } else if (http_str_is(name, "content-length")) {
                if (v.n == 0)
                        return 400;
                for (size_t j = 0; j < v.n; j++) {
                        if (v.p[j] < '0' || v.p[j] > '9')
                                return 400;
                        if (v.p[j] != '0')
                                req->has_body = true;
                }
        } else if (http_str_is(name, "transfer-encoding")) {
                req->has_body = true;
        }
        return 0;
}

int http_parse(const char *head, size_t len, struct http_req *req)
{
        const char *p = head, *end = head + len;
        struct http_str line;
        bool bad = false;
        int r;

        memset(req, 0, sizeof(*req));
        if (!next_line(&p, end, &line, &bad) || bad)
                return 400;
        if ((r = parse_request_line(line, req)) != 0)
                return r;
        while (next_line(&p, end, &line, &bad)) {
                if (bad)
                        return 400;
                if (line.n == 0)
                        return 400;     /* the head ends at its first empty line */
                if ((r = parse_field(line, req)) != 0)
                        return r;
        }
        if (req->minor >= 1 && !req->host.p)
                return 400;     /* HTTP/1.1 requires Host */
        return 0;
}

/* ---- the framing: request heads ------------------------------------------- */

bool http_heads_line_done(const struct http_heads *h)
{
        return h->line_done;
}

static int http_framing_init(struct framing_state *st, size_t max)
{
        (void)max;      /* a head's limit is PICHAT_HTTP_HEAD_MAX */
        memset(&st->http, 0, sizeof(st->http));
        return 0;
}

static void http_framing_free(struct framing_state *st)
{
        free(st->http.buf);
        st->http.buf = NULL;
}

/* Bytes into the head until its blank line: the head (without it), or
 * FRAMING_TOOLONG past PICHAT_HTTP_HEAD_MAX. The buffer starts small and
 * doubles: most heads are a few hundred bytes. */
static int http_framing_next(struct framing_state *st, const char **data, size_t *n,
                             const char **msg, size_t *len)
{
        struct http_heads *h = &st->http;

        if (h->delivered) {
                h->delivered = false;
                h->len = 0;
                h->eol = 0;
                h->line_done = false;
        }
        while (*n > 0) {
                char ch = **data;
                (*data)++;
                (*n)--;
                /* Empty lines before a request line are ignored (RFC 9112 2.2). */
                if (h->len == 0 && (ch == '\r' || ch == '\n'))
                        continue;
                if (h->len == PICHAT_HTTP_HEAD_MAX) {
                        h->delivered = true;    /* start again, from the next byte */
                        return FRAMING_TOOLONG;
                }
                if (h->len + 1 >= h->cap) {
                        size_t cap = h->cap ? h->cap * 2 : 1024;
                        if (cap > PICHAT_HTTP_HEAD_MAX + 1)
                                cap = PICHAT_HTTP_HEAD_MAX + 1;
                        char *b = realloc(h->buf, cap);
                        if (!b)
                                return -ENOMEM;
                        h->buf = b;
                        h->cap = cap;
                }
                h->buf[h->len++] = ch;
                /* eol: 1 just after a line end, 2 after a line end and a
                 * CR; a line end then ends the head. */
                if (ch == '\r') {
                        h->eol = h->eol == 1 ? 2 : 0;
                } else if (ch != '\n') {
                        h->eol = 0;
                } else if (h->eol == 0) {
                        h->eol = 1;
                        h->line_done = true;
                } else {
                        /* Cut the blank line and the line end before it. */
                        size_t k = h->len - 1;
                        for (int ends = 0; ends < 2 && k > 0; ends++) {
                                if (ends && h->buf[k - 1] == '\n')
                                        k--;
                                if (k > 0 && h->buf[k - 1] == '\r')
                                        k--;
                        }
                        h->buf[k] = '\0';
                        *msg = h->buf;
                        *len = k;
                        h->delivered = true;
                        return FRAMING_MSG;
                }
        }
        return FRAMING_NONE;
}

static bool http_framing_mid(const struct framing_state *st)
{
        return st->http.len > 0 && !st->http.delivered;
}

static size_t http_framing_max(size_t len)
{
        return len;
}

/* A response is its own wire form: head and body, one after the other. */
static size_t http_framing_encode(const struct iovec *parts, int n, char *out)
{
        size_t len = 0;

        for (int i = 0; i < n; i++) {
                if (parts[i].iov_len == 0)
                        continue;       /* a response without a body has no base */
                memcpy(out + len, parts[i].iov_base, parts[i].iov_len);
                len += parts[i].iov_len;
        }
        return len;
}

/* The connection's goodbyes as responses that close it: 503 when it is
 * not let in or the server stops, 408 for a timeout; nothing at the end
 * of a session (its last response said whether it closes). */
static size_t http_framing_words(struct framing_state *st, enum framing_bye why,
                                 const char *text, size_t len, char *out)
{
        char date[HTTP_DATE_LEN + 1];
        int status = why == FRAMING_BYE_TIMEOUT ? 408 : 503;

        (void)st;
        if (why == FRAMING_BYE_CLOSE)
                return 0;
        http_date(time(NULL), date);
        int n = snprintf(out, FRAMING_WORDS_MAX(len),
                         "HTTP/1.1 %d %s\r\nDate: %s\r\nServer: pichat\r\n"
                         "Content-Type: text/plain; charset=utf-8\r\nContent-Length: %zu\r\n"
                         "Cache-Control: no-store\r\nConnection: close\r\n%s\r\n%.*s\r\n",
                         status, http_reason(status), date, len + 2,
                         why == FRAMING_BYE_TIMEOUT ? "" : "Retry-After: 5\r\n", (int)len, text);
        return n > 0 ? (size_t)n : 0;
}

const struct framing framing_http = {
        .name = "http", .index = FRAMING_NO_MSG,
        .init = http_framing_init, .free = http_framing_free,
        .take = framing_take_all, .next = http_framing_next, .mid_message = http_framing_mid,
        .encoded_max = http_framing_max, .encode = http_framing_encode,
        .last_words = http_framing_words, .linger = true,
};
