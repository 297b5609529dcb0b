/* history: the per-room ring of recent lines. */
#include "history.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static size_t slot(const struct history *h, size_t i)
{
        return (h->first + i) % h->cap;
}

int history_init(struct history *h, size_t capacity)
{
        *h = (struct history){ 0 };
        if (capacity > HISTORY_MAX)
                return -EINVAL;
        if (capacity == 0)
                return 0;
        h->lines = calloc(capacity, sizeof(*h->lines));
        if (!h->lines)
                return -ENOMEM;
        h->cap = capacity;
        return 0;
}

void history_clear(struct history *h)
{
        for (size_t i = 0; i < h->count; i++) {
                struct history_line *l = &h->lines[slot(h, i)];

                free(l->text);
                *l = (struct history_line){ 0 };
        }
        h->first = 0;
        h->count = 0;
}

void history_free(struct history *h)
{
        history_clear(h);
        free(h->lines);
        *h = (struct history){ 0 };
}

int history_push(struct history *h, const char *line, size_t len)
{
        struct history_line *l;
        char *copy;

        if (h->cap == 0)
                return 0;
        /* Copy first, so a failed allocation loses nothing. */
        copy = malloc(len + 1);
        if (!copy)
                return -ENOMEM;
        memcpy(copy, line, len);
        copy[len] = '\0';

        if (h->count == h->cap) {
                l = &h->lines[h->first];
                free(l->text);
                h->first = slot(h, 1);
        } else {
                l = &h->lines[slot(h, h->count)];
                h->count++;
        }
        l->text = copy;
        l->len = len;
        return 0;
}

size_t history_count(const struct history *h)
{
        return h->count;
}

size_t history_capacity(const struct history *h)
{
        return h->cap;
}

const char *history_get(const struct history *h, size_t i, size_t *len)
{
        const struct history_line *l;

        if (i >= h->count)
                return NULL;
        l = &h->lines[slot(h, i)];
        if (len)
                *len = l->len;
        return l->text;
}

int history_foreach(const struct history *h,
                    int (*fn)(const char *line, size_t len, void *arg), void *arg)
{
        for (size_t i = 0; i < h->count; i++) {
                const struct history_line *l = &h->lines[slot(h, i)];
                int r = fn(l->text, l->len, arg);

                if (r != 0)
                        return r;
        }
        return 0;
}

int history_resize(struct history *h, size_t capacity)
{
        struct history_line *lines = NULL;
        size_t keep, drop;

        if (capacity > HISTORY_MAX)
                return -EINVAL;
        if (capacity == h->cap)
                return 0;
        if (capacity > 0) {
                lines = calloc(capacity, sizeof(*lines));
                if (!lines)
                        return -ENOMEM;
        }

        keep = h->count < capacity ? h->count : capacity;
        drop = h->count - keep;
        for (size_t i = 0; i < drop; i++)
                free(h->lines[slot(h, i)].text);
        for (size_t i = 0; i < keep; i++)
                lines[i] = h->lines[slot(h, drop + i)];

        free(h->lines);
        h->lines = lines;
        h->cap = capacity;
        h->first = 0;
        h->count = keep;
        return 0;
}
