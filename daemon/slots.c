/* slots: the client counting table behind max_clients and max_clients_per_ip. */
#include "slots.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "locked.h"

struct slots_entry {
        struct slots_entry *next;
        struct addr_key key;
        unsigned count;
};

void slots_init(struct slots *s)
{
        memset(s, 0, sizeof(*s));
        pthread_mutex_init(&s->lock, NULL);
        s->seed = addr_hash_seed();
}

void slots_destroy(struct slots *s)
{
        for (unsigned i = 0; i < SLOTS_BUCKETS; i++) {
                struct slots_entry *e = s->bucket[i], *next;
                for (; e; e = next) {
                        next = e->next;
                        free(e);
                }
                s->bucket[i] = NULL;
        }
        pthread_mutex_destroy(&s->lock);
}

/* Keyed, so that nobody can pick addresses that all land in one chain. */
static unsigned slots_hash(const struct slots *s, const struct addr_key *k)
{
        return (unsigned)(addr_key_hash(k, s->seed) % SLOTS_BUCKETS);
}

static struct slots_entry **slots_find(struct slots *s, const struct addr_key *k)
{
        struct slots_entry **p = &s->bucket[slots_hash(s, k)];
        for (; *p; p = &(*p)->next)
                if (memcmp(&(*p)->key, k, sizeof(*k)) == 0)
                        break;
        return p;
}

int slots_acquire(struct slots *s, const struct addr_key *k, unsigned max_total,
                  unsigned max_per_addr)
{
        int r = SLOTS_OK;

        pthread_mutex_lock(&s->lock);
        struct slots_entry **p = slots_find(s, k);
        if (s->total >= max_total) {
                r = SLOTS_FULL;
        } else if (max_per_addr && *p && (*p)->count >= max_per_addr) {
                r = SLOTS_ADDR_FULL;
        } else {
                if (!*p) {
                        *p = calloc(1, sizeof(**p));
                        if (!*p) {
                                pthread_mutex_unlock(&s->lock);
                                return -ENOMEM;
                        }
                        (*p)->key = *k;
                }
                (*p)->count++;
                s->total++;
        }
        pthread_mutex_unlock(&s->lock);
        return r;
}

void slots_release(struct slots *s, const struct addr_key *k)
{
        pthread_mutex_lock(&s->lock);
        struct slots_entry **p = slots_find(s, k);
        if (*p) {
                s->total--;
                if (--(*p)->count == 0) {
                        struct slots_entry *e = *p;
                        *p = e->next;
                        free(e);
                }
        }
        pthread_mutex_unlock(&s->lock);
}

unsigned slots_total(struct slots *s)
{
        return LOCKED_READ(&s->lock, s->total);
}

unsigned slots_of(struct slots *s, const struct addr_key *k)
{
        struct slots_entry **p;

        return LOCKED_READ(&s->lock, (p = slots_find(s, k), *p ? (*p)->count : 0));
}
