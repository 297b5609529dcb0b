/* line: splits a byte stream into lines the way telnet clients end them.
 *
 * A line ends at LF, CR LF, CR NUL or a lone CR. Other NUL bytes are
 * dropped (telnet NVT treats NUL as a no-op). A line longer than the limit
 * is reported once, as soon as it overflows, and the rest of it is
 * discarded up to its end.
 *
 * mid_line tells whether bytes have come since the last line end (NULs
 * and discarded bytes too): a client that keeps it set without ever ending
 * a line is dribbling, which the line timeout is for (see conn.c). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

enum {
        LINE_NONE = 0,          /* input used up, no complete line */
        LINE_OK = 1,            /* *line / *len hold a complete line */
        LINE_TOOLONG = 2,       /* a line overflowed max bytes; it is being discarded */
};

struct line_splitter {
        char *buf;
        size_t len;
        size_t max;
        bool after_cr;          /* last byte was CR: swallow a following LF or NUL */
        bool discarding;        /* inside an overflowed line */
        bool mid_line;          /* bytes taken since the last line end */
};

/* 0 (kept for callers that check; the buffer of max + 1 bytes is only
 * allocated when the first line byte arrives). */
int line_init(struct line_splitter *ls, size_t max);
void line_free(struct line_splitter *ls);

/* Consume bytes from *data (advancing it and *n) until a line or an event
 * is ready. The returned line stays valid until the next call. -ENOMEM if
 * the line buffer cannot be allocated (that line is then discarded). */
int line_next(struct line_splitter *ls, const char **data, size_t *n,
              const char **line, size_t *len);
