/* answer: daytime, time and qotd, and what they answered. */
#include "answer.h"

#include <errno.h>
#include <string.h>

#include "addr.h"
#include "bounds.h"
#include "log.h"
#include "quotes.h"

/* Seconds from 1900-01-01 to 1970-01-01, both 00:00 UTC (RFC 868). */
#define ANSWER_EPOCH_1900 2208988800LL

static const struct {
        const char *name;
        const char *format;
} daytime_presets[] = {
        /* Python's time.ctime(), as the classic time server sends it:
         * "Wed Dec  2 15:37:37 2026", the day padded with a space. */
        { "ctime", "%a %b %e %H:%M:%S %Y" },
};

void answer_init(struct answer *a)
{
        memset(a, 0, sizeof(*a));
        atomic_init(&a->tcp, 0);
        atomic_init(&a->udp, 0);
        atomic_init(&a->drawn, 0);
        a->seed = addr_hash_seed();
}

unsigned long answer_requests(struct answer *a)
{
        return atomic_load(&a->tcp) + atomic_load(&a->udp);
}

void answer_report(struct answer *a, const struct service *svc, int64_t now_ms, bool final)
{
        unsigned long tcp = atomic_load(&a->tcp), udp = atomic_load(&a->udp);
        struct log_ctx ctx = { .service = svc->name };

        if (!a->reported_ms)
                a->reported_ms = now_ms;
        if (tcp + udp == a->reported || (!final && now_ms - a->reported_ms < ANSWER_REPORT_MS))
                return;
        log_ctx(LOG_INFO, &ctx, "%lu request%s answered in the last %lld s; since the start "
                "%lu over TCP, %lu over UDP", tcp + udp - a->reported,
                tcp + udp - a->reported == 1 ? "" : "s",
                (long long)((now_ms - a->reported_ms + 500) / 1000), tcp, udp);
        a->reported = tcp + udp;
        a->reported_ms = now_ms;
}

void answer_quotes_log(const struct conf *cf)
{
        const struct quotes *q = cf->qotd.quotes;
        struct log_ctx ctx = { .service = "qotd" };

        if (!q)
                return;
        if (q->skipped)
                log_ctx(LOG_WARNING, &ctx, "%s:%u: skipped %zu quote%s longer than %d "
                        "bytes (the first begins here)", conf_quotes_path(cf),
                        q->first_skipped_line, q->skipped, q->skipped == 1 ? "" : "s",
                        PICHAT_ANSWER_MAX);
        log_ctx(LOG_INFO, &ctx, "%zu quote%s from %s", q->n, q->n == 1 ? "" : "s",
                conf_quotes_path(cf));
}

/* ---- daytime ------------------------------------------------------------ */

const char *answer_daytime_format(const char *value)
{
        for (size_t i = 0; i < sizeof(daytime_presets) / sizeof(daytime_presets[0]); i++)
                if (strcmp(value, daytime_presets[i].name) == 0)
                        return daytime_presets[i].format;
        return value;
}

/* strftime() with the configured format: a format that is not a literal
 * is the point of [daytime] format, and answer_daytime_check() has tried
 * it at load. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static size_t daytime_strftime(char *buf, size_t size, const char *format, const struct tm *tm)
{
        return strftime(buf, size, format, tm);
}
#pragma GCC diagnostic pop

/* The line for tm: its length with CR LF, or 0. */
static size_t daytime_line(char *buf, size_t size, const char *value, const struct tm *tm)
{
        size_t max = size < PICHAT_ANSWER_MAX ? size : PICHAT_ANSWER_MAX;
        size_t n;

        if (max < 3)
                return 0;
        /* strftime() gives 0 for a line too long and for an empty one;
         * its size counts the NUL, whose place CR LF takes. */
        n = daytime_strftime(buf, max - 1, answer_daytime_format(value), tm);
        if (n == 0)
                return 0;
        for (size_t i = 0; i < n; i++)
                if ((unsigned char)buf[i] < 0x20 && buf[i] != '\t')
                        return 0;
        memcpy(buf + n, "\r\n", 2);
        return n + 2;
}

size_t answer_daytime(char *buf, size_t size, const char *value, time_t now)
{
        struct tm tm;

        if (!localtime_r(&now, &tm))
                return 0;
        return daytime_line(buf, size, value, &tm);
}

const char *answer_daytime_check(const char *value)
{
        /* The longest names (Wednesday, September), two-digit days and
         * hours, the afternoon, the end of a year and a leap day. */
        static const struct tm probes[] = {
                { .tm_year = 126, .tm_mon = 8, .tm_mday = 30, .tm_wday = 3, .tm_yday = 272,
                  .tm_hour = 23, .tm_min = 59, .tm_sec = 59, .tm_zone = "AKDT" },
                { .tm_year = 128, .tm_mon = 1, .tm_mday = 29, .tm_wday = 2, .tm_yday = 59,
                  .tm_hour = 9, .tm_min = 5, .tm_sec = 7, .tm_zone = "UTC" },
                { .tm_year = 126, .tm_mon = 11, .tm_mday = 31, .tm_wday = 4, .tm_yday = 364,
                  .tm_hour = 12, .tm_min = 0, .tm_sec = 0, .tm_zone = "CET" },
        };
        char buf[PICHAT_ANSWER_MAX];
        const char *format = answer_daytime_format(value);

        if (!*format)
                return "empty";
        for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
                struct tm tm = probes[i];
                size_t n = daytime_strftime(buf, sizeof(buf) - 1, format, &tm);
                if (n == 0)
                        return "gives nothing, or more than 509 bytes";
                for (size_t k = 0; k < n; k++)
                        if ((unsigned char)buf[k] < 0x20 && buf[k] != '\t')
                                return "gives a line end or a control character (%n?)";
        }
        return NULL;
}

static ssize_t daytime_answer(void *ctx, const struct conf *cf, bool datagram, char *buf,
                              size_t size)
{
        struct answer *a = ctx;
        size_t n = answer_daytime(buf, size, cf->daytime.format, time(NULL));

        if (n == 0)
                return -EINVAL;
        atomic_fetch_add(datagram ? &a->udp : &a->tcp, 1);
        return (ssize_t)n;
}

/* ---- time --------------------------------------------------------------- */

uint32_t answer_time_value(int64_t t)
{
        return (uint32_t)((uint64_t)(t + ANSWER_EPOCH_1900) & 0xffffffffu);
}

void answer_time(uint8_t out[4], int64_t t)
{
        uint32_t v = answer_time_value(t);

        out[0] = (uint8_t)(v >> 24);
        out[1] = (uint8_t)(v >> 16);
        out[2] = (uint8_t)(v >> 8);
        out[3] = (uint8_t)v;
}

static ssize_t time_answer(void *ctx, const struct conf *cf, bool datagram, char *buf,
                           size_t size)
{
        struct answer *a = ctx;
        struct timespec ts;

        (void)cf;
        if (size < 4)
                return -ENOSPC;
        clock_gettime(CLOCK_REALTIME, &ts);
        answer_time((uint8_t *)buf, (int64_t)ts.tv_sec);
        atomic_fetch_add(datagram ? &a->udp : &a->tcp, 1);
        return 4;
}

/* ---- qotd --------------------------------------------------------------- */

static uint64_t mix64(uint64_t x)
{
        /* splitmix64's finaliser */
        x += 0x9e3779b97f4a7c15ULL;
        x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
        x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
        return x ^ (x >> 31);
}

static uint64_t gcd(uint64_t a, uint64_t b)
{
        while (b) {
                uint64_t t = a % b;
                a = b;
                b = t;
        }
        return a;
}

size_t answer_pick(uint64_t seed, unsigned long n, size_t count)
{
        uint64_t c = count, step, off;

        if (count <= 1)
                return 0;
        /* A step coprime to count walks every index once per count
         * requests: no quote comes twice before all have come once. */
        step = 1 + mix64(seed) % (c - 1);
        while (gcd(step, c) != 1)
                step = step % (c - 1) + 1;
        off = mix64(seed ^ 0x5851f42d4c957f2dULL) % c;
        return (size_t)((off + (uint64_t)(n % c) * step) % c);
}

static ssize_t qotd_answer(void *ctx, const struct conf *cf, bool datagram, char *buf,
                           size_t size)
{
        struct answer *a = ctx;
        const struct quotes *q = cf->qotd.quotes;
        const char *text;
        size_t len;

        /* A configuration with qotd on always has quotes (conf.c). */
        if (!q || q->n == 0)
                return -ENOENT;
        text = quotes_get(q, answer_pick(a->seed, atomic_fetch_add(&a->drawn, 1), q->n), &len);
        if (len > size || len > PICHAT_ANSWER_MAX)
                return -ENOSPC;
        memcpy(buf, text, len);
        atomic_fetch_add(datagram ? &a->udp : &a->tcp, 1);
        return (ssize_t)len;
}

const struct service daytime_service = { .name = "daytime", .answer = daytime_answer };
const struct service time_service = { .name = "time", .answer = time_answer };
const struct service qotd_service = { .name = "qotd", .answer = qotd_answer };
