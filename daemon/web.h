/* web: the web service, what a browser talks to on [web] port.
 *
 * A connection starts in HTTP (framing_http, one request head at a time,
 * keep-alive allowed): GET and HEAD of the page and its assets, which are
 * built into pichatd from a fixed table (web_assets.c, made from web/ at
 * build time), so that no path a client sends ever reaches the
 * filesystem; /status.json with the status line's counters; and /ws, the
 * WebSocket handshake. A handshake that is well formed and comes from an
 * allowed origin switches the same connection (conn_switch()) to the
 * WebSocket framing and the chat service, with the chat's registry as its
 * context: a browser is a chat client like any other, with the same
 * nicks, rooms, commands, history, flood control, limits and sanitising.
 *
 * Origin rule: a browser sends the page's origin with every WebSocket
 * handshake, and any page on the web can make it connect, so the origin
 * must name the host the browser asked for (the Host field, the same
 * port), or be listed in [web] allowed_origins; a handshake without an
 * Origin is refused too (403). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "notify.h"
#include "service.h"

struct chat;

/* The web service's shared state, made in main (or a test). */
struct web {
        struct chat *chat;              /* where its WebSocket clients chat */
        /* The status line's counters for /status.json (NULL: none). Called
         * from client threads: it must only read counters. */
        void (*counts)(void *arg, struct notify_counts *out);
        void *counts_arg;
};

extern const struct service web_service;

/* One file of the page, built in. */
struct web_asset {
        const char *path;               /* as requested: "/", "/app.js" */
        const char *type;               /* Content-Type */
        const unsigned char *data;
        size_t len;
        const char *etag;               /* of data, quoted */
        bool page;                      /* HTML: its title is filled in, with a CSP */
};

/* The table (web_assets.c), and the asset at path (n bytes), or NULL. */
extern const struct web_asset web_assets[];
extern const size_t web_assets_count;
const struct web_asset *web_asset_find(const char *path, size_t n);
