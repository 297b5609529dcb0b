/* guard: the chat service's per-source password and notice throttles. */
#include "guard.h"

#include <string.h>

void guard_init(struct guard *g)
{
        memset(g, 0, sizeof(*g));
        pthread_mutex_init(&g->lock, NULL);
}

void guard_destroy(struct guard *g)
{
        pthread_mutex_destroy(&g->lock);
}

/* An entry that holds its source back in nothing any more, so that
 * forgetting it gives the source nothing: it may go to another. */
static bool idle(const struct guard_entry *e, int64_t now_ms)
{
        int64_t refilled = (now_ms - e->refill_ms) / PICHAT_NOTICE_REFILL_MS;

        if (!e->used)
                return true;
        return (e->failures == 0 || now_ms - e->fail_ms >= PICHAT_GUARD_FORGET_MS) &&
               e->unlogged == 0 && e->tokens + refilled >= PICHAT_NOTICE_BURST;
}

/* k's entry, or (with make) a free one made k's; without a free one,
 * the overflow entry every such source shares. NULL: k has none and none
 * was made. Under the lock. */
static struct guard_entry *find(struct guard *g, const struct addr_key *k, int64_t now_ms,
                                bool make)
{
        struct guard_entry *take = NULL;

        for (size_t i = 0; i < PICHAT_GUARD_SOURCES; i++) {
                struct guard_entry *e = &g->e[i];

                if (e->used && memcmp(&e->key, k, sizeof(*k)) == 0)
                        return e;
                if (!take && idle(e, now_ms))
                        take = e;
        }
        if (!take)
                take = &g->overflow;
        else if (!make)
                return NULL;
        if (take != &g->overflow || !take->used) {
                memset(take, 0, sizeof(*take));
                take->key = *k;
                take->used = true;
                take->tokens = PICHAT_NOTICE_BURST;
                take->refill_ms = now_ms;
        }
        return take;
}

int64_t guard_pass_wait(struct guard *g, const struct addr_key *k, int64_t now_ms)
{
        int64_t wait = 0;

        pthread_mutex_lock(&g->lock);
        const struct guard_entry *e = find(g, k, now_ms, false);
        if (e && e->failures && e->until_ms > now_ms)
                wait = e->until_ms - now_ms;
        pthread_mutex_unlock(&g->lock);
        return wait;
}

unsigned guard_pass_failed(struct guard *g, const struct addr_key *k, int64_t now_ms)
{
        unsigned log = 0;

        pthread_mutex_lock(&g->lock);
        struct guard_entry *e = find(g, k, now_ms, true);
        unsigned shift = e->failures < 16 ? e->failures : 16;
        int64_t pause = (int64_t)PICHAT_PASS_PAUSE_MS << shift;

        e->failures++;
        e->fail_ms = now_ms;
        e->until_ms = now_ms + (pause < PICHAT_PASS_BACKOFF_MAX_MS ? pause :
                                PICHAT_PASS_BACKOFF_MAX_MS);
        e->unlogged++;
        if (!e->logged_ms || now_ms - e->logged_ms >= PICHAT_PASS_LOG_MS) {
                log = e->unlogged;
                e->unlogged = 0;
                e->logged_ms = now_ms;
        }
        pthread_mutex_unlock(&g->lock);
        return log;
}

void guard_pass_ok(struct guard *g, const struct addr_key *k)
{
        pthread_mutex_lock(&g->lock);
        for (size_t i = 0; i < PICHAT_GUARD_SOURCES; i++)
                if (g->e[i].used && memcmp(&g->e[i].key, k, sizeof(*k)) == 0) {
                        g->e[i].failures = 0;
                        g->e[i].until_ms = 0;
                }
        pthread_mutex_unlock(&g->lock);
}

void guard_pass_report(struct guard *g, int64_t now_ms,
                       void (*fn)(void *arg, const struct addr_key *k, unsigned n), void *arg)
{
        struct {
                struct addr_key key;
                unsigned n;
        } due[PICHAT_GUARD_SOURCES + 1];
        size_t n = 0;

        pthread_mutex_lock(&g->lock);
        for (size_t i = 0; i < PICHAT_GUARD_SOURCES + 1; i++) {
                struct guard_entry *e = i < PICHAT_GUARD_SOURCES ? &g->e[i] : &g->overflow;
                if (e->used && e->unlogged && now_ms - e->logged_ms >= PICHAT_PASS_LOG_MS) {
                        due[n].key = e->key;
                        due[n++].n = e->unlogged;
                        e->unlogged = 0;
                        e->logged_ms = now_ms;
                }
        }
        pthread_mutex_unlock(&g->lock);
        for (size_t i = 0; i < n; i++)
                fn(arg, &due[i].key, due[i].n);
}

bool guard_notice(struct guard *g, const struct addr_key *k, int64_t now_ms)
{
        bool ok;

        pthread_mutex_lock(&g->lock);
        struct guard_entry *e = find(g, k, now_ms, true);
        int64_t back = (now_ms - e->refill_ms) / PICHAT_NOTICE_REFILL_MS;

        if (back > 0) {
                e->tokens = e->tokens + back > PICHAT_NOTICE_BURST ? PICHAT_NOTICE_BURST :
                                                                     e->tokens + (unsigned)back;
                e->refill_ms += back * PICHAT_NOTICE_REFILL_MS;
        }
        ok = e->tokens > 0;
        if (ok)
                e->tokens--;
        pthread_mutex_unlock(&g->lock);
        return ok;
}
