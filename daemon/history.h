/* history: the last lines said in a room, replayed to whoever joins.
 *
 * A fixed-capacity ring: once full, each new line pushes out the oldest.
 * Every line is the history's own malloc'd copy, NUL-terminated, so the
 * caller's buffer can be reused at once; a pointer from history_get()
 * stays valid until the next push, resize, clear or free.
 *
 * Not locked: the room's lock must be held around every call. */
#pragma once

#include <stddef.h>

#include "bounds.h"

#define HISTORY_MAX PICHAT_HISTORY_MAX  /* largest capacity, [chat] history's bound */

struct history_line {
        char *text;
        size_t len;
};

struct history {
        struct history_line *lines;     /* cap slots; NULL when cap is 0 */
        size_t cap;
        size_t first;                   /* slot of the oldest line */
        size_t count;
};

/* An empty history for capacity lines (0 = history off, every push is
 * dropped). 0, -EINVAL (capacity > HISTORY_MAX) or -ENOMEM. */
int history_init(struct history *h, size_t capacity);
/* Free every line and the ring; h may be initialised again. */
void history_free(struct history *h);
/* Forget every line, keeping the capacity. */
void history_clear(struct history *h);

/* Store a copy of len bytes of line, dropping the oldest line when full.
 * 0 (also when the capacity is 0) or -ENOMEM (nothing changed). */
int history_push(struct history *h, const char *line, size_t len);

size_t history_count(const struct history *h);
size_t history_capacity(const struct history *h);

/* Line i, 0 being the oldest, and its length in *len (if len is not
 * NULL); NULL if i >= count. */
const char *history_get(const struct history *h, size_t i, size_t *len);

/* Call fn on each line, oldest first, until it returns non-zero; returns
 * that value, or 0 once every line was seen. */
int history_foreach(const struct history *h,
                    int (*fn)(const char *line, size_t len, void *arg), void *arg);

/* Change the capacity, keeping the newest lines that fit.
 * 0, -EINVAL (capacity > HISTORY_MAX) or -ENOMEM (nothing changed). */
int history_resize(struct history *h, size_t capacity);
