/* rate: the per-source token bucket table behind [udp] rate_per_source. */
#include "rate.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int rate_init_seeded(struct rate_table *t, size_t size, uint64_t seed)
{
        size_t n = RATE_PROBE;

        while (n < size)
                n *= 2;
        memset(t, 0, sizeof(*t));
        t->seed = seed;
        t->e = calloc(n, sizeof(*t->e));
        t->size = t->e ? n : 0;
        return t->e ? 0 : -ENOMEM;
}

int rate_init(struct rate_table *t, size_t size)
{
        return rate_init_seeded(t, size, addr_hash_seed());
}

void rate_free(struct rate_table *t)
{
        free(t->e);
        t->e = NULL;
        t->size = 0;
}

size_t rate_slot(const struct rate_table *t, const struct addr_key *k)
{
        return (size_t)addr_key_hash(k, t->seed) & (t->size - 1);
}

/* An entry another source may take: nobody's, or its source's bucket is
 * full again (forgetting it gives that source nothing). */
static bool free_for_others(const struct rate_entry *e, int64_t now_ms)
{
        return !e->used || now_ms - e->seen_ms >= RATE_FORGET_MS || bucket_full(&e->b, now_ms);
}

/* k's entry; or a free one made k's; or, when every entry k may have is
 * some other source's that is being limited, the shared overflow entry. */
static struct rate_entry *rate_find(struct rate_table *t, const struct addr_key *k,
                                    unsigned per_sec, int64_t now_ms)
{
        size_t start = rate_slot(t, k);
        struct rate_entry *take = NULL;

        for (size_t i = 0; i < RATE_PROBE; i++) {
                struct rate_entry *e = &t->e[(start + i) & (t->size - 1)];

                if (e->used && memcmp(&e->key, k, sizeof(*k)) == 0)
                        return e;
                if (!take && free_for_others(e, now_ms))
                        take = e;
        }
        if (!take) {
                if (!t->overflow.used) {
                        t->overflow.used = true;
                        bucket_init(&t->overflow.b, per_sec, per_sec, now_ms);
                }
                return &t->overflow;
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
        /* A full bucket is a new start: its next run of drops is news. */
        if (bucket_full(&e->b, now_ms))
                e->dropping = false;
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
                if (t->e[i].used && now_ms - t->e[i].seen_ms < RATE_FORGET_MS)
                        n++;
        return n;
}
