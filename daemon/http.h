/* http: HTTP/1.1 requests as the web service reads them (RFC 9110, 9112):
 * the framing that cuts a byte stream into request heads, the parser of
 * one head, and the small pieces of the protocol the web service needs
 * (origins, dates).
 *
 * pichatd serves GET and HEAD of a fixed set of assets and the WebSocket
 * handshake, and never takes a request body, so a request is its head
 * alone: the request line and the header fields, at most
 * PICHAT_HTTP_HEAD_MAX bytes. The parser is strict where the RFCs let a
 * server be (no whitespace before a field's colon, no line folding, no
 * bare CR, one Host) and says which status answers what it refuses. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "bounds.h"

enum http_method {
        HTTP_GET = 1,
        HTTP_HEAD,
        HTTP_OTHER,             /* any other method token */
};

/* A piece of the head: not NUL-terminated. */
struct http_str {
        const char *p;
        size_t n;
};

/* One request head, parsed; its strings point into the head (but for
 * the path "/" of an absolute-form target that has none). */
struct http_req {
        enum http_method method;
        struct http_str path;           /* of the request target, without the query */
        unsigned minor;                 /* HTTP/1.minor */
        struct http_str host;           /* empty: none was sent */
        struct http_str origin;
        struct http_str ws_key;         /* Sec-WebSocket-Key */
        struct http_str ws_version;     /* Sec-WebSocket-Version */
        struct http_str if_none_match;
        bool has_origin, has_ws_version;
        bool conn_close;                /* Connection: close */
        bool conn_keep_alive;           /* Connection: keep-alive */
        bool conn_upgrade;              /* Connection: upgrade */
        bool has_upgrade;               /* an Upgrade field was sent */
        bool upgrade_websocket;         /* ... naming websocket */
        bool has_body;                  /* Content-Length other than 0, or Transfer-Encoding */
        unsigned n_fields;
};

/* The framing's state: the head being read. Its buffer is allocated
 * with the first byte of a head and grows to PICHAT_HTTP_HEAD_MAX at
 * most; it is freed with the framing (after a switch to WebSocket). */
struct http_heads {
        char *buf;
        size_t len, cap;
        unsigned char eol;      /* how near the blank line that ends the head (http.c) */
        bool line_done;         /* the request line of this head has ended */
        bool delivered;         /* buf holds a head handed out: start again */
};

/* Whether the head being read had its request line ended when it went
 * over the limit: 431 then, else 414 (the framing's FRAMING_TOOLONG). */
bool http_heads_line_done(const struct http_heads *h);

/* Parse the head (len bytes, the blank line that ended it left out): 0, or
 * the status that refuses it: 400 (malformed), 431 (more than
 * PICHAT_HTTP_FIELDS_MAX fields) or 505 (not HTTP/1.x). */
int http_parse(const char *head, size_t len, struct http_req *req);

/* Whether the request wants the connection kept open after the response
 * (HTTP/1.1 unless "close"; HTTP/1.0 only with "keep-alive"). */
bool http_keep_alive(const struct http_req *req);

/* Whether s (n bytes) is an origin as a browser sends one in Origin:
 * http or https, "://", a host name or [IPv6 address], an optional port,
 * and nothing else. */
bool http_origin_valid(const char *s, size_t n);

/* Whether origin names the same host and port as the Host field host
 * (case-insensitive; a missing port is the origin scheme's default). */
bool http_origin_same_host(struct http_str origin, struct http_str host);

/* Whether origin is one of the words of list (spaces or commas between;
 * "*" matches any), compared without regard to case. */
bool http_origin_listed(struct http_str origin, const char *list);

/* t as an HTTP date, "Sun, 06 Nov 1994 08:49:37 GMT": HTTP_DATE_LEN
 * characters and a NUL into out. */
#define HTTP_DATE_LEN 29
void http_date(time_t t, char out[HTTP_DATE_LEN + 1]);

/* The reason phrase of a status this server sends ("Not Found"). */
const char *http_reason(int status);

/* Whether a and b (n bytes of a; b a NUL-terminated lower-case string)
 * are the same, ignoring case. */
bool http_str_is(struct http_str a, const char *b);
