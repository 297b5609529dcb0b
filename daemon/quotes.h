/* quotes: a file of quotes in fortune's format, for the qotd service.
 *
 * The format is strfile(1)'s, so Debian's fortune files work as they
 * are: texts separated by lines that hold only "%". Each quote is kept
 * as it goes on the wire, its lines ended by CR LF, without the blank
 * lines around it; an empty one (two "%" lines in a row) is no quote.
 * A quote longer than the limit given is skipped, not cut, and counted.
 * A line end may be LF or CR LF.
 *
 * Once made, a set is never changed: every thread may read it. */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct quotes {
        size_t n;                       /* quotes kept */
        size_t skipped;                 /* quotes over the limit */
        unsigned first_skipped_line;    /* line the first of them began on (0: none) */
        size_t longest;                 /* bytes of the longest quote kept */
        uint32_t *start;                /* n + 1 offsets into text */
        char *text;
};

/* The quotes in the len bytes at data, each kept if it is at most max
 * bytes with its CR LFs: a set (maybe of no quote), or NULL when out of
 * memory. */
struct quotes *quotes_parse(const char *data, size_t len, size_t max);

/* Read path, at most limit bytes, and parse it as quotes_parse(): 0 with
 * *out set, or -errno (-EFBIG: longer than limit). */
int quotes_load(const char *path, size_t limit, size_t max, struct quotes **out);

void quotes_free(struct quotes *q);

/* Quote i (below q->n): its bytes, and their count in *len. */
const char *quotes_get(const struct quotes *q, size_t i, size_t *len);
