/* answer: the services that answer once and close, each over TCP and UDP:
 * daytime (RFC 867: the date and time as one line of text), time (RFC
 * 868: the seconds since 1900 as 32 bits) and qotd (RFC 865: a quote
 * from [qotd] file).
 *
 * Nothing a client sends is read: whoever connects, or sends a datagram
 * whatever it holds, gets the answer. Each service makes it with its
 * answer() (service.h), at most PICHAT_ANSWER_MAX bytes, the same bytes
 * for TCP, where the accepting thread writes them and closes without
 * giving the client a thread (server.c), and for UDP, under the UDP
 * echo's protections (udp.c).
 *
 * Each service's shared state is a struct answer, made in main (or a
 * test): what it has answered, for the status line and the journal. */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "conf.h"
#include "service.h"

extern const struct service daytime_service;
extern const struct service time_service;
extern const struct service qotd_service;

/* How often at most answer_report() writes a line about a service. */
#define ANSWER_REPORT_MS 60000

struct answer {
        atomic_ulong tcp, udp;          /* requests answered */
        uint64_t seed;                  /* qotd: which quote comes when */
        atomic_ulong drawn;             /* qotd: quotes given so far */
        /* answer_report()'s, from one thread only (the supervisor). */
        unsigned long reported;
        int64_t reported_ms;
};

/* A service's state, with nothing answered yet. */
void answer_init(struct answer *a);

/* Requests answered so far, over TCP and UDP together. */
unsigned long answer_requests(struct answer *a);

/* Now and then (at most every ANSWER_REPORT_MS of now_ms, a monotonic
 * clock), or at once when final: when svc answered anything since its
 * last report, log how much, over TCP and UDP, and since the start, with
 * the service's name as PICHAT_SERVICE. */
void answer_report(struct answer *a, const struct service *svc, int64_t now_ms, bool final);

/* Log how many quotes the qotd service has from cf's [qotd] file, and
 * the quotes skipped as too long (FILE:LINE of the first): at start and
 * after each reload. */
void answer_quotes_log(const struct conf *cf);

/* ---- the answers themselves (pure) --------------------------------------- */

/* [daytime] format as strftime(3) takes it: a preset's ("ctime": what
 * Python's time.ctime() prints), or the value itself. */
const char *answer_daytime_format(const char *value);
/* The daytime line for now in the local time zone, with its CR LF, into
 * buf (size bytes, at most PICHAT_ANSWER_MAX used): its length, or 0 when
 * the format gives nothing, more than fits, or a control character. */
size_t answer_daytime(char *buf, size_t size, const char *value, time_t now);
/* Whether value makes a daytime line whatever the date (the longest day
 * and month names, any hour): NULL, or why not. */
const char *answer_daytime_check(const char *value);

/* RFC 868: seconds since 1900-01-01 00:00 UTC for the Unix time t, modulo
 * 2^32 (it wraps on 2036-02-07 06:28:16 UTC). */
uint32_t answer_time_value(int64_t t);
/* The same as the 4 bytes that go on the wire, most significant first. */
void answer_time(uint8_t out[4], int64_t t);

/* Which quote the n-th request gets of a set of count (count > 0): every
 * quote once in a while, in an order seed makes hard to foresee. */
size_t answer_pick(uint64_t seed, unsigned long n, size_t count);
