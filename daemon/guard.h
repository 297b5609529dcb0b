/* guard: per-source throttles of the chat service, for what one address
 * may do to everyone else across any number of connections: guess the
 * password, or fill the rooms with "entered" and "left" notices.
 *
 * A small table of sources (addresses, IPv6 ones per prefix), searched
 * whole: these are rare events, and a table without hashing has no
 * collisions to choose. A source keeps its entry while it is being held
 * back; one that finds no free entry shares an overflow entry with every
 * other such source, so that no number of addresses buys a fresh start.
 *
 * Locked inside: every call may come from any client thread. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "addr.h"
#include "bounds.h"

struct guard_entry {
        struct addr_key key;
        bool used;
        /* passwords */
        unsigned failures;      /* wrong tries in a row */
        int64_t fail_ms;        /* when the last one was */
        int64_t until_ms;       /* no try is judged before then */
        unsigned unlogged;      /* wrong tries not yet in a log line */
        int64_t logged_ms;      /* when the last line about it went out */
        /* notices */
        unsigned tokens;        /* notices it may still cause now */
        int64_t refill_ms;      /* when the last token came back */
};

struct guard {
        pthread_mutex_t lock;
        struct guard_entry e[PICHAT_GUARD_SOURCES];
        struct guard_entry overflow;
};

void guard_init(struct guard *g);
void guard_destroy(struct guard *g);

/* Passwords. Milliseconds before k's next try may be judged (0: now). */
int64_t guard_pass_wait(struct guard *g, const struct addr_key *k, int64_t now_ms);
/* A wrong try from k: from now on k waits PICHAT_PASS_PAUSE_MS, doubling
 * with every wrong try in a row up to PICHAT_PASS_BACKOFF_MAX_MS. Returns
 * how many wrong tries to log now in one line (the first of a source at
 * once, then at most one line a PICHAT_PASS_LOG_MS), or 0. */
unsigned guard_pass_failed(struct guard *g, const struct addr_key *k, int64_t now_ms);
/* The right password from k: its slate is clean. */
void guard_pass_ok(struct guard *g, const struct addr_key *k);
/* Wrong tries not logged yet that are due (each source's last line at
 * least PICHAT_PASS_LOG_MS old): fn is called for each, outside the lock
 * (key, count). For the supervisor's tick. */
void guard_pass_report(struct guard *g, int64_t now_ms,
                       void (*fn)(void *arg, const struct addr_key *k, unsigned n), void *arg);

/* Notices. Whether k may cause one more notice to a room now: at most
 * PICHAT_NOTICE_BURST at once, then one every PICHAT_NOTICE_REFILL_MS. */
bool guard_notice(struct guard *g, const struct addr_key *k, int64_t now_ms);
