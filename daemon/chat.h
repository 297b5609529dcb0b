/* chat: the chat rooms service (one thread per client, like echo).
 *
 * Each client's thread reads its own socket and drains its own bounded
 * queue; lines for other clients are only ever queued (see room.h), so a
 * slow client can stall nobody but itself, and is dropped when its queue
 * overflows. */
#pragma once

#include <stddef.h>

#include "conf.h"
#include "conn.h"

extern const struct service chat_service;

/* Set up the room registry from cf. 0 or -ENOMEM. */
int chat_init(const struct conf *cf);
/* Apply reloadable settings (room limits, history size, default room and
 * rooms list); new texts and flood limits are read where they are used. */
void chat_reconfigure(const struct conf *cf);
void chat_shutdown(void);

size_t chat_clients(void);
size_t chat_rooms(void);
