/* bucket: token bucket arithmetic for flood control. */
#include "bucket.h"

static void set_rate(struct bucket *b, unsigned rate_per_sec, unsigned burst)
{
        b->rate = rate_per_sec > 0 ? rate_per_sec : 1;
        b->cap = (int64_t)(burst > 0 ? burst : 1) * BUCKET_MILLI;
}

/* The fill at now_ms. Long gaps are capped before multiplying, so no
 * elapsed time, however large, can overflow. */
static int64_t fill_at(const struct bucket *b, int64_t now_ms)
{
        int64_t elapsed = now_ms - b->last_ms;

        if (elapsed <= 0)
                return b->fill;
        if (elapsed >= (b->cap - b->fill) / b->rate + 1)
                return b->cap;
        return b->fill + elapsed * b->rate;
}

static void refill(struct bucket *b, int64_t now_ms)
{
        b->fill = fill_at(b, now_ms);
        if (now_ms > b->last_ms)
                b->last_ms = now_ms;
}

static int64_t wait_for(const struct bucket *b, int64_t fill)
{
        if (fill >= BUCKET_MILLI)
                return 0;
        return (BUCKET_MILLI - fill + b->rate - 1) / b->rate;
}

void bucket_init(struct bucket *b, unsigned rate_per_sec, unsigned burst, int64_t now_ms)
{
        set_rate(b, rate_per_sec, burst);
        b->fill = b->cap;
        b->last_ms = now_ms;
}

int64_t bucket_take(struct bucket *b, int64_t now_ms)
{
        int64_t wait;

        refill(b, now_ms);
        wait = wait_for(b, b->fill);
        if (wait == 0)
                b->fill -= BUCKET_MILLI;
        return wait;
}

int64_t bucket_delay(const struct bucket *b, int64_t now_ms)
{
        return wait_for(b, fill_at(b, now_ms));
}

bool bucket_full(const struct bucket *b, int64_t now_ms)
{
        return fill_at(b, now_ms) >= b->cap;
}

void bucket_set_rate(struct bucket *b, unsigned rate_per_sec, unsigned burst, int64_t now_ms)
{
        /* Time up to now was earned at the old rate. */
        refill(b, now_ms);
        set_rate(b, rate_per_sec, burst);
        if (b->fill > b->cap)
                b->fill = b->cap;
}
