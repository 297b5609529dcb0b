/* chat: the chat rooms service (one thread per client, like echo).
 *
 * Each client's thread reads its own socket and drains its own bounded
 * queue; lines for other clients are given to their queues, or written
 * by the sender's batch (msg.h), so a slow client can stall nobody but
 * itself, and is dropped when its queue overflows.
 *
 * Its shared state is struct chat, which main (or a test) makes and gives
 * the listener as the service's context. */
#pragma once

#include <stddef.h>

#include "conf.h"
#include "guard.h"
#include "room.h"
#include "service.h"

extern const struct service chat_service;

struct cluster;

struct chat {
        struct registry reg;
        struct cluster *cluster;        /* [cluster]: the other nodes, or NULL */
        struct guard pass;              /* wrong passwords, per source */
        struct guard notices;           /* "entered" notices, per source */
};

/* The room registry from cf. 0 or -ENOMEM. */
int chat_init(struct chat *ch, const struct conf *cf);
/* Apply reloadable settings (room limits, history size, default room and
 * rooms list); new texts and flood limits are read where they are used. */
void chat_reconfigure(struct chat *ch, const struct conf *cf);
/* Once no client is left. */
void chat_destroy(struct chat *ch);
/* The supervisor's periodic step: summaries of what was not said at
 * once (wrong passwords in the log, guests who came and went). */
void chat_tick(struct chat *ch, int64_t now_ms);

size_t chat_clients(struct chat *ch);
size_t chat_rooms(struct chat *ch);
