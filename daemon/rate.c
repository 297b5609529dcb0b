/* rate: the per-source token bucket table behind [udp] rate_per_source. */
#include "rate.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int rate_init(struct rate_table *t, size_t size)
{
        size_t n = RATE_PROBE;

        while (n < size)
                n *= 2;
        t->e = calloc(n, sizeof(*t->e));
        t->size = t->e ? n : 0;
        return t->e ? 0 : -ENOMEM;
}

void rate_free(struct rate_table *t)
{
        free(t->e);
        t->e = NULL;
        t->size = 0;
}

static size_t rate_hash(const struct addr_key *k)
{
        /* FNV-1a. A peer that picks colliding addresses only evicts
         * entries, which makes limits laxer, never blocks anyone. */
        uint32_t h = 2166136261u;
        const uint8_t *p = (const uint8_t *)k;

        for (size_t i = 0; i < sizeof(*k); i++)
                h = (h ^ p[i]) * 16777619u;
        return h;
}

static bool forgotten(const struct rate_entry *e, int64_t now_ms)
{
        return !e->used || now_ms - e->seen_ms >= RATE_FORGET_MS;
}

/* k's entry, or a free, forgotten or least recently seen one made k's. */
static struct rate_entry *rate_find(struct rate_table *t, const struct addr_key *k,
                                    unsigned per_sec, int64_t now_ms)
{
        size_t start = rate_hash(k) & (t->size - 1);
        struct rate_entry *take = NULL;

        for (size_t i = 0; i < RATE_PROBE; i++) {
                struct rate_entry *e = &t->e[(start + i) & (t->size - 1)];

                if (e->used && memcmp(&e->key, k, sizeof(*k)) == 0) {
                        if (!forgotten(e, now_ms))
                                return e;
                        take = e;
                        break;
                }
                if (!take || (!forgotten(take, now_ms) &&
                              (forgotten(e, now_ms) || e->seen_ms < take->seen_ms)))
                        take = e;
        }
        memset(take, 0, sizeof(*take));
        take->key = *k;
        take->used = true;
        bucket_init(&take->b, per_sec, per_sec, now_ms);
        return take;
}

int rate_check(struct rate_table *t, const struct addr_key *k, unsigned per_sec, int64_t now_ms)
{
        struct rate_entry *e;

        if (per_sec == 0 || !t->e)
                return RATE_PASS;
        e = rate_find(t, k, per_sec, now_ms);
        e->seen_ms = now_ms;
        if (e->b.rate != (int64_t)per_sec)
                bucket_set_rate(&e->b, per_sec, per_sec, now_ms);
        if (bucket_take(&e->b, now_ms) == 0)
                return RATE_PASS;
        if (e->dropping)
                return RATE_DROP;
        e->dropping = true;
        return RATE_DROP_FIRST;
}

size_t rate_sources(const struct rate_table *t, int64_t now_ms)
{
        size_t n = 0;

        for (size_t i = 0; i < t->size; i++)
                if (!forgotten(&t->e[i], now_ms))
                        n++;
        return n;
}
