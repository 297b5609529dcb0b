/* rate: per-source packet rate limits, for the UDP service.
 *
 * A fixed table of token buckets (bucket.h) keyed by address. A source may
 * send per_sec datagrams at once, then per_sec a second; the rest are
 * dropped. A source whose bucket is full again (it stopped sending, or
 * is well within its rate) is the same as an unknown one, so its entry is
 * free for another source: the table never grows and needs no sweeping.
 * A source is looked for in RATE_PROBE entries from its keyed hash
 * (addr_key_hash(), a seed of the table's own). An entry whose source is
 * being limited is never taken over, since its source would come back
 * with a fresh bucket: a newcomer that finds no free entry shares one
 * overflow bucket of the same rate with every other such newcomer. So no
 * choice of addresses resets anyone's limit, and a flood of many
 * addresses costs bounded time and memory and sheds load.
 *
 * Not locked: the caller serialises calls on one table. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "bucket.h"

#define RATE_PROBE      8
#define RATE_FORGET_MS  1000    /* a bucket's burst is one second's rate */

struct rate_entry {
        struct addr_key key;
        bool used;
        bool dropping;          /* in a run of drops (reported once) */
        int64_t seen_ms;
        struct bucket b;
};

struct rate_table {
        struct rate_entry *e;
        size_t size;            /* a power of two */
        uint64_t seed;
        struct rate_entry overflow;     /* the newcomers' shared bucket */
};

/* Results of rate_check(). */
enum {
        RATE_PASS = 0,
        RATE_DROP = 1,          /* over the rate: drop it */
        RATE_DROP_FIRST = 2,    /* the same, and the first of a run: worth a log line */
};

/* A table of at least size entries (rounded up to a power of two), with
 * a random seed. 0 or -ENOMEM. */
int rate_init(struct rate_table *t, size_t size);
/* The same with a given seed (tests: to know which sources collide). */
int rate_init_seeded(struct rate_table *t, size_t size, uint64_t seed);
/* The first entry k is looked for in (tests). */
size_t rate_slot(const struct rate_table *t, const struct addr_key *k);
void rate_free(struct rate_table *t);

/* Account one datagram from k at now_ms (a monotonic clock): RATE_PASS,
 * RATE_DROP or RATE_DROP_FIRST. per_sec 0 means no limit (RATE_PASS); a
 * change of per_sec (a reload) applies to known sources at once. */
int rate_check(struct rate_table *t, const struct addr_key *k, unsigned per_sec, int64_t now_ms);

/* Sources in the table seen within RATE_FORGET_MS of now_ms. */
size_t rate_sources(const struct rate_table *t, int64_t now_ms);
