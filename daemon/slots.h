/* slots: counts connected clients, in total and per address, so the accept
 * threads can refuse a client over max_clients or max_clients_per_ip. */
#pragma once

#include <pthread.h>
#include <stdint.h>

#include "addr.h"

enum {
        SLOTS_OK = 0,
        SLOTS_FULL = 1,         /* max_clients reached */
        SLOTS_ADDR_FULL = 2,    /* max_clients_per_ip reached for this address */
};

#define SLOTS_BUCKETS 1024

struct slots_entry;

struct slots {
        pthread_mutex_t lock;
        uint64_t seed;          /* of the hash (addr_key_hash) */
        unsigned total;
        struct slots_entry *bucket[SLOTS_BUCKETS];
};

void slots_init(struct slots *s);
void slots_destroy(struct slots *s);
/* SLOTS_OK (a slot is taken), SLOTS_FULL, SLOTS_ADDR_FULL or -ENOMEM.
 * max_per_addr 0 means no per-address limit. */
int slots_acquire(struct slots *s, const struct addr_key *k, unsigned max_total,
                  unsigned max_per_addr);
void slots_release(struct slots *s, const struct addr_key *k);
unsigned slots_total(struct slots *s);
unsigned slots_of(struct slots *s, const struct addr_key *k);
