/* quotes: fortune-format quote files, parsed into wire-ready quotes. */
#include "quotes.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The quote being collected, written in place at the end of the text. */
struct quote_acc {
        size_t begin;           /* its offset in the text */
        size_t len;             /* bytes written (or that would be, once over) */
        unsigned blanks;        /* blank lines seen since its last text */
        unsigned line;          /* line its text begins on (0: no text yet) */
};

static bool is_blank(const char *s, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (s[i] != ' ' && s[i] != '\t')
                        return false;
        return true;
}

static bool is_separator(const char *s, size_t n)
{
        return n >= 1 && s[0] == '%' && is_blank(s + 1, n - 1);
}

/* Append one line of text (not blank) to the quote: the blank lines held
 * back before it, then it, each ended by CR LF; past max only counted. */
static void acc_line(struct quotes *q, struct quote_acc *a, const char *s, size_t n,
                     unsigned lineno, size_t max)
{
        size_t need = (a->line ? a->blanks * 2 : 0) + n + 2;

        if (!a->line)
                a->line = lineno;
        if (a->len + need <= max) {
                char *p = q->text + a->begin + a->len;
                if (a->len > 0)
                        for (unsigned i = 0; i < a->blanks; i++, p += 2)
                                memcpy(p, "\r\n", 2);
                memcpy(p, s, n);
                memcpy(p + n, "\r\n", 2);
        }
        a->len += need;
        a->blanks = 0;
}

/* The quote is complete: keep it, skip it, or drop it (empty). 0 or -ENOMEM. */
static int acc_end(struct quotes *q, struct quote_acc *a, size_t *cap, size_t max)
{
        if (a->line && a->len > max) {
                if (q->skipped++ == 0)
                        q->first_skipped_line = a->line;
        } else if (a->line) {
                if (q->n + 2 > *cap) {
                        size_t ncap = *cap ? *cap * 2 : 64;
                        uint32_t *s = realloc(q->start, ncap * sizeof(*s));
                        if (!s)
                                return -ENOMEM;
                        q->start = s;
                        *cap = ncap;
                }
                q->start[q->n++] = (uint32_t)a->begin;
                if (a->len > q->longest)
                        q->longest = a->len;
                a->begin += a->len;
        }
        q->start[q->n] = (uint32_t)a->begin;
        a->len = 0;
        a->blanks = 0;
        a->line = 0;
        return 0;
}

struct quotes *quotes_parse(const char *data, size_t len, size_t max)
{
        struct quotes *q = calloc(1, sizeof(*q));
        struct quote_acc a = { 0 };
        size_t cap = 1, pos = 0;
        unsigned lineno = 0;

        if (!q)
                return NULL;
        /* LF becomes CR LF: never more than twice the file, and the
         * offsets are 32 bits (the files read are far smaller). */
        if (len > UINT32_MAX / 2 - 2 || !(q->text = malloc(2 * len + 2)) ||
            !(q->start = malloc(sizeof(*q->start)))) {
                quotes_free(q);
                return NULL;
        }
        q->start[0] = 0;
        if (len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0)
                pos = 3;
        while (pos < len) {
                const char *line = data + pos;
                const char *nl = memchr(line, '\n', len - pos);
                size_t n = nl ? (size_t)(nl - line) : len - pos;

                pos += n + (nl ? 1 : 0);
                lineno++;
                if (n > 0 && line[n - 1] == '\r')
                        n--;
                if (is_separator(line, n)) {
                        if (acc_end(q, &a, &cap, max) < 0)
                                goto oom;
                } else if (is_blank(line, n)) {
                        a.blanks++;
                } else {
                        acc_line(q, &a, line, n, lineno, max);
                }
        }
        if (acc_end(q, &a, &cap, max) < 0)
                goto oom;
        /* Give back what the CR LFs did not take. */
        char *t = realloc(q->text, q->start[q->n] ? q->start[q->n] : 1);
        if (t)
                q->text = t;
        return q;
oom:
        quotes_free(q);
        return NULL;
}

int quotes_load(const char *path, size_t limit, size_t max, struct quotes **out)
{
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        struct stat st;
        char *data = NULL;
        size_t len = 0;
        int r = 0;

        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0) {
                r = -errno;
                goto done;
        }
        if (S_ISDIR(st.st_mode)) {
                r = -EISDIR;
                goto done;
        }
        /* Read one byte more than allowed, to tell "too long" from "all
         * of it", whatever st_size said (a pipe, a file still growing). */
        if (!(data = malloc(limit + 1))) {
                r = -ENOMEM;
                goto done;
        }
        for (;;) {
                ssize_t k = read(fd, data + len, limit + 1 - len);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0) {
                        r = -errno;
                        goto done;
                }
                if (k == 0)
                        break;
                len += (size_t)k;
                if (len > limit) {
                        r = -EFBIG;
                        goto done;
                }
        }
        *out = quotes_parse(data, len, max);
        if (!*out)
                r = -ENOMEM;
done:
        free(data);
        close(fd);
        return r;
}

void quotes_free(struct quotes *q)
{
        if (!q)
                return;
        free(q->start);
        free(q->text);
        free(q);
}

const char *quotes_get(const struct quotes *q, size_t i, size_t *len)
{
        *len = q->start[i + 1] - q->start[i];
        return q->text + q->start[i];
}
