/* web: HTTP requests of the web service, the built-in assets, and the
 * WebSocket handshake that hands a browser to the chat service. */
#include "web.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>

#include "chat.h"
#include "conn.h"
#include "framing.h"
#include "http.h"
#include "log.h"
#include "ws.h"

#define WEB_HEAD_MAX 2048       /* a response's head: the CSP is the longest part */
#define WEB_TITLE_MARK "@TITLE@"

const struct web_asset *web_asset_find(const char *path, size_t n)
{
        for (size_t i = 0; i < web_assets_count; i++)
                if (strlen(web_assets[i].path) == n && memcmp(web_assets[i].path, path, n) == 0)
                        return &web_assets[i];
        return NULL;
}

/* What one response says; the head is made from it. */
struct web_resp {
        int status;
        const char *type;               /* Content-Type, or NULL (no body) */
        const char *etag;
        const char *cache;              /* Cache-Control */
        const char *extra;              /* more fields, each with its CR LF */
        const struct http_req *req;     /* the request (NULL: none parsed) */
        const void *body;
        size_t len;
        bool close;
        bool page;                      /* HTML: with its Content-Security-Policy */
};

/* The page may load only itself, and talk only to this server. */
static int web_csp(char *out, size_t size, const struct http_req *req)
{
        if (!req || req->host.n == 0)
                return snprintf(out, size, "Content-Security-Policy: default-src 'none'; "
                                "script-src 'self'; style-src 'self'; img-src 'self'; "
                                "connect-src 'self'; base-uri 'none'; form-action 'none'; "
                                "frame-ancestors 'none'\r\n");
        /* The host was checked by the parser: a name, address and port. */
        return snprintf(out, size, "Content-Security-Policy: default-src 'none'; "
                        "script-src 'self'; style-src 'self'; img-src 'self'; "
                        "connect-src 'self' ws://%.*s wss://%.*s; base-uri 'none'; "
                        "form-action 'none'; frame-ancestors 'none'\r\n",
                        (int)req->host.n, req->host.p, (int)req->host.n, req->host.p);
}

/* Send r: 0 to go on with the next request, SERVICE_CLOSE, or -errno. */
static int web_send(struct conn *c, const struct web_resp *r)
{
        char head[WEB_HEAD_MAX], date[HTTP_DATE_LEN + 1];
        size_t n = 0;
        bool head_only = r->req && r->req->method == HTTP_HEAD;
        bool close = r->close || !r->req || !http_keep_alive(r->req);

#define ADD(...) \
        n += (size_t)snprintf(head + n, n < sizeof(head) ? sizeof(head) - n : 0, __VA_ARGS__)
        http_date(time(NULL), date);
        ADD("HTTP/1.1 %d %s\r\nDate: %s\r\nServer: pichat\r\n", r->status,
            http_reason(r->status), date);
        if (r->type)
                ADD("Content-Type: %s\r\n", r->type);
        if (r->status != 304)
                ADD("Content-Length: %zu\r\n", r->len);
        ADD("Cache-Control: %s\r\n", r->cache ? r->cache : "no-store");
        if (r->etag)
                ADD("ETag: %s\r\n", r->etag);
        ADD("X-Content-Type-Options: nosniff\r\nReferrer-Policy: no-referrer\r\n");
        if (r->page && n < sizeof(head))
                n += (size_t)web_csp(head + n, sizeof(head) - n, r->req);
        if (r->extra)
                ADD("%s", r->extra);
        if (close)
                ADD("Connection: close\r\n");
        else if (r->req->minor == 0)
                ADD("Connection: keep-alive\r\n");
        ADD("\r\n");
#undef ADD
        if (n >= sizeof(head))
                return -EOVERFLOW;
        struct iovec parts[2] = {
                { .iov_base = head, .iov_len = n },
                { .iov_base = (void *)r->body, .iov_len = head_only || !r->body ? 0 : r->len },
        };
        int w = conn_sayv(c, parts, 2);
        if (w < 0)
                return w;
        return close ? SERVICE_CLOSE : 0;
}

/* An error, or a short answer: its text is the body. */
static int web_error(struct conn *c, const struct http_req *req, int status, bool close,
                     const char *extra, const char *text)
{
        char body[256];
        int len = snprintf(body, sizeof(body), "%d %s%s%s\n", status, http_reason(status),
                           text ? ": " : "", text ? text : "");
        struct web_resp r = {
                .status = status, .type = "text/plain; charset=utf-8", .extra = extra,
                .req = req, .body = body, .len = (size_t)len, .close = close,
        };

        return web_send(c, &r);
}

/* A quoted ETag matches If-None-Match (a list, or "*"). */
static bool web_etag_match(const struct http_req *req, const char *etag)
{
        const char *p = req->if_none_match.p, *end = p + req->if_none_match.n;
        size_t n = strlen(etag);

        if (!p)
                return false;
        for (; p < end; p++) {
                if (*p == '*')
                        return true;
                /* A weak validator compares the same (RFC 9110 13.1.2). */
                if (end - p >= 2 && p[0] == 'W' && p[1] == '/')
                        p += 2;
                if ((size_t)(end - p) >= n && memcmp(p, etag, n) == 0)
                        return true;
                const char *comma = memchr(p, ',', (size_t)(end - p));
                if (!comma)
                        break;
                p = comma;
        }
        return false;
}

/* The page, its title filled in (escaped: it is text, never markup). */
static char *web_page(const struct web_asset *a, const char *title, size_t *len)
{
        size_t tlen = strlen(title), marks = 0;
        const char *p = (const char *)a->data, *end = p + a->len;

        for (const char *q = p; (q = memmem(q, (size_t)(end - q), WEB_TITLE_MARK,
                                           sizeof(WEB_TITLE_MARK) - 1)); q++)
                marks++;
        char *out = malloc(a->len + marks * tlen * 6 + 1);
        size_t n = 0;
        if (!out)
                return NULL;
        while (p < end) {
                const char *q = memmem(p, (size_t)(end - p), WEB_TITLE_MARK,
                                       sizeof(WEB_TITLE_MARK) - 1);
                size_t k = q ? (size_t)(q - p) : (size_t)(end - p);
                memcpy(out + n, p, k);
                n += k;
                if (!q)
                        break;
                for (size_t i = 0; i < tlen; i++) {
                        const char *e = title[i] == '&' ? "&amp;" : title[i] == '<' ? "&lt;" :
                                        title[i] == '>' ? "&gt;" : title[i] == '"' ? "&quot;" :
                                        title[i] == '\'' ? "&#39;" : NULL;
                        if (e) {
                                memcpy(out + n, e, strlen(e));
                                n += strlen(e);
                        } else {
                                out[n++] = title[i];
                        }
                }
                p = q + sizeof(WEB_TITLE_MARK) - 1;
        }
        *len = n;
        return out;
}

static int web_asset(struct conn *c, const struct http_req *req, const struct web_asset *a)
{
        const struct conf *cf = conn_conf(c);
        struct web_resp r = {
                .status = 200, .type = a->type, .cache = "no-cache", .etag = a->etag,
                .req = req, .body = a->data, .len = a->len, .page = a->page,
        };
        char etag[64];
        char *page = NULL;
        int ret;

        if (a->page) {
                /* The title is part of what the page is. */
                uint32_t h = 2166136261u;
                for (const char *t = cf->web.title; *t; t++)
                        h = (h ^ (uint8_t)*t) * 16777619u;
                snprintf(etag, sizeof(etag), "%.*s-%08x\"", (int)strlen(a->etag) - 1, a->etag, h);
                r.etag = etag;
                if (!(page = web_page(a, cf->web.title, &r.len)))
                        return -ENOMEM;
                r.body = page;
        }
        if (web_etag_match(req, r.etag)) {
                r.status = 304;
                r.type = NULL;
                r.body = NULL;
                r.len = 0;
        }
        ret = web_send(c, &r);
        free(page);
        return ret;
}

static int web_status(struct conn *c, const struct http_req *req)
{
        const struct web *web = c->svc_ctx;
        struct notify_counts n = { 0 };
        char body[768];

        if (!conn_conf(c)->web.status_json || !web->counts)
                return web_error(c, req, 404, false, NULL, NULL);
        web->counts(web->counts_arg, &n);
        int len = snprintf(body, sizeof(body),
                           "{\"echo\":{\"enabled\":%s,\"clients\":%u},"
                           "\"chat\":{\"enabled\":%s,\"clients\":%u,\"rooms\":%zu},"
                           "\"udp\":{\"enabled\":%s,\"datagrams\":%lu},"
                           "\"web\":{\"enabled\":%s,\"clients\":%u},"
                           "\"daytime\":{\"enabled\":%s,\"requests\":%lu},"
                           "\"time\":{\"enabled\":%s,\"requests\":%lu},"
                           "\"qotd\":{\"enabled\":%s,\"requests\":%lu}}\n",
                           n.echo ? "true" : "false", n.echo_clients, n.chat ? "true" : "false",
                           n.chat_clients, n.chat_rooms, n.udp ? "true" : "false",
                           n.udp_datagrams, n.web ? "true" : "false", n.web_clients,
                           n.daytime ? "true" : "false", n.daytime_requests,
                           n.time ? "true" : "false", n.time_requests,
                           n.qotd ? "true" : "false", n.qotd_requests);
        struct web_resp r = {
                .status = 200, .type = "application/json", .req = req, .body = body,
                .len = (size_t)len,
        };
        return web_send(c, &r);
}

/* RFC 6455 4.2: a handshake that passes becomes a chat client. */
static int web_handshake(struct conn *c, const struct http_req *req)
{
        const struct web *web = c->svc_ctx;
        const struct conf *cf = conn_conf(c);
        struct log_ctx ctx = { .service = c->entry->name, .peer = c->peer };
        char accept[WS_ACCEPT_LEN + 1], head[256];

        if (!req->has_upgrade && !req->conn_upgrade)
                return web_error(c, req, 426, false, "Upgrade: websocket\r\n",
                                 "this is a WebSocket endpoint");
        if (req->method != HTTP_GET || !req->upgrade_websocket || !req->conn_upgrade ||
            req->minor < 1)
                return web_error(c, req, 400, true, NULL, "not a WebSocket handshake");
        if (!req->has_ws_version || !http_str_is(req->ws_version, "13"))
                return web_error(c, req, 426, true, "Sec-WebSocket-Version: 13\r\n",
                                 "WebSocket version 13 only");
        if (!ws_key_valid(req->ws_key.p, req->ws_key.n))
                return web_error(c, req, 400, true, NULL, "bad Sec-WebSocket-Key");
        if (!req->has_origin ||
            (!http_origin_same_host(req->origin, req->host) &&
             !http_origin_listed(req->origin, cf->web.allowed_origins))) {
                log_ctx(LOG_NOTICE, &ctx, "%s: WebSocket refused: origin '%.*s' is not allowed",
                        c->peer, req->has_origin ? (int)req->origin.n : 6,
                        req->has_origin ? req->origin.p : "(none)");
                return web_error(c, req, 403, true, NULL, "origin not allowed");
        }
        ws_accept(req->ws_key.p, req->ws_key.n, accept);
        int n = snprintf(head, sizeof(head),
                         "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                         "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n", accept);
        int r = conn_say(c, head, (size_t)n);
        if (r < 0)
                return r;
        log_ctx(LOG_DEBUG, &ctx, "%s: WebSocket from origin %.*s", c->peer, (int)req->origin.n,
                req->origin.p);
        conn_switch(c, &framing_ws, &chat_service, web->chat);
        return SERVICE_SWITCH;
}

static int web_request(struct conn *c, const char *text, size_t len)
{
        struct http_req req;
        int status = http_parse(text, len, &req);

        if (status)
                return web_error(c, NULL, status, true, NULL, NULL);
        if (req.method == HTTP_OTHER)
                return web_error(c, &req, 405, req.has_body, "Allow: GET, HEAD\r\n", NULL);
        if (req.has_body)
                return web_error(c, &req, 413, true, NULL, "no request content is taken");
        if (http_str_is(req.path, "/ws"))
                return web_handshake(c, &req);
        if (http_str_is(req.path, "/status.json"))
                return web_status(c, &req);
        const struct web_asset *a = web_asset_find(req.path.p, req.path.n);
        if (!a)
                return web_error(c, &req, 404, false, NULL, NULL);
        return web_asset(c, &req, a);
}

static int web_too_long(struct conn *c)
{
        return web_error(c, NULL, http_heads_line_done(&c->fs.http) ? 431 : 414, true, NULL,
                         NULL);
}

static int web_open(struct conn *c)
{
        (void)c;
        return 0;
}

const struct service web_service = {
        .name = "web", .shared = false, .framing = &framing_http,
        .open = web_open, .message = web_request, .too_long = web_too_long,
};
