/* bucket: a token bucket, the flood control of chat clients.
 *
 * A client may send burst lines at once, then rate_per_sec lines a second.
 * The fill is kept in thousandths of a token, so a refill over any number
 * of milliseconds is exact (rate_per_sec thousandths per millisecond) and
 * the bucket never drifts, however often it is asked. Times are a caller's
 * monotonic clock in milliseconds (clock_now_ms()); a time earlier than one
 * already seen refills nothing.
 *
 * Not locked: a bucket belongs to one client thread. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#define BUCKET_MILLI 1000       /* fill units per token */

struct bucket {
        int64_t fill;           /* thousandths of a token, 0 .. cap */
        int64_t cap;            /* burst * BUCKET_MILLI */
        int64_t rate;           /* thousandths of a token per ms = tokens per second */
        int64_t last_ms;        /* time of the last refill */
};

/* A full bucket: burst tokens, refilled at rate_per_sec. A rate or burst
 * of 0 is taken as 1 (the config never allows 0). */
void bucket_init(struct bucket *b, unsigned rate_per_sec, unsigned burst, int64_t now_ms);

/* Take a token: 0 if one was taken, else the milliseconds (>= 1) until one
 * is available, and nothing is taken. */
int64_t bucket_take(struct bucket *b, int64_t now_ms);

/* The milliseconds until bucket_take() would succeed (0: now), taking
 * nothing. */
int64_t bucket_delay(const struct bucket *b, int64_t now_ms);

/* Whether the bucket is full at now_ms: its owner is not being limited,
 * and forgetting it would give it nothing. */
bool bucket_full(const struct bucket *b, int64_t now_ms);

/* New rate and burst (a config reload). The fill earned so far at the old
 * rate is kept, capped at the new burst. */
void bucket_set_rate(struct bucket *b, unsigned rate_per_sec, unsigned burst, int64_t now_ms);
