/* Fuzz target: the telnet filter and the line splitter, chained the way
 * conn.c chains them for every TCP client.
 *
 * Input: byte 0 picks the line limit (16-271), byte 1 seeds how the rest
 * is cut into reads. The rest is what a client sends. Besides the
 * sanitizers' own checks, it aborts when:
 *   - the same bytes cut into other reads give other lines, events,
 *     telnet replies or line state (a split IAC or CR LF must not matter);
 *   - a line is longer than the limit or holds CR, LF or NUL;
 *   - a reply is anything but IAC WONT/DONT for an option never refused
 *     before in that direction. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "line.h"
#include "telnet.h"

#define READ_MAX 2048   /* conn.c reads at most CONN_READ_SIZE bytes at once */

struct trace {
        uint8_t *ev;            /* 'L', 4-byte length, the line; or 'T' */
        size_t nev;
        uint8_t *rep;           /* telnet replies, in order */
        size_t nrep;
        int mid_line;
};

#define CHECK(x) do { if (!(x)) abort(); } while (0)

static uint32_t next_rand(uint32_t *s)
{
        *s = *s * 1103515245u + 12345u;
        return *s >> 8;
}

/* Feed in[0..n) in reads cut by seed (0: one read), filtering in place
 * when inplace is set, as conn.c does. */
static void run(const uint8_t *in, size_t n, size_t max, uint32_t seed, int inplace,
                struct trace *t)
{
        struct telnet tn;
        struct line_splitter ls;
        uint8_t *buf = malloc(READ_MAX), *out = malloc(READ_MAX), *reply = malloc(READ_MAX + 2);
        size_t pos = 0;

        CHECK(buf && out && reply);
        telnet_init(&tn);
        CHECK(line_init(&ls, max) == 0);
        t->nev = t->nrep = 0;
        while (pos < n) {
                size_t take = n - pos, got, nreply;

                if (seed)
                        take = 1 + next_rand(&seed) % (take < READ_MAX ? take : READ_MAX);
                else if (take > READ_MAX)
                        take = READ_MAX;
                memcpy(buf, in + pos, take);
                pos += take;
                uint8_t *dst = inplace ? buf : out;
                telnet_filter(&tn, buf, take, dst, &got, reply, &nreply);
                CHECK(got <= take && nreply <= take + 2);
                memcpy(t->rep + t->nrep, reply, nreply);
                t->nrep += nreply;

                const char *data = (const char *)dst, *line;
                size_t left = got, len;
                int r;
                while ((r = line_next(&ls, &data, &left, &line, &len)) != LINE_NONE) {
                        if (r == LINE_TOOLONG) {
                                t->ev[t->nev++] = 'T';
                                continue;
                        }
                        CHECK(r == LINE_OK && len <= max && line[len] == '\0');
                        CHECK(!memchr(line, '\r', len) && !memchr(line, '\n', len) &&
                              strlen(line) == len);
                        t->ev[t->nev++] = 'L';
                        memcpy(t->ev + t->nev, &len, 4);
                        t->nev += 4;
                        memcpy(t->ev + t->nev, line, len);
                        t->nev += len;
                }
                CHECK(left == 0);
        }
        t->mid_line = ls.mid_line;
        line_free(&ls);
        free(buf);
        free(out);
        free(reply);
}

/* Replies are IAC WONT/DONT triples, each option at most once per verb. */
static void check_replies(const struct trace *t)
{
        uint8_t seen[2][256] = { { 0 } };

        CHECK(t->nrep % 3 == 0);
        for (size_t i = 0; i < t->nrep; i += 3) {
                CHECK(t->rep[i] == TELNET_IAC);
                CHECK(t->rep[i + 1] == TELNET_WONT || t->rep[i + 1] == TELNET_DONT);
                int v = t->rep[i + 1] == TELNET_DONT;
                CHECK(!seen[v][t->rep[i + 2]]);
                seen[v][t->rep[i + 2]] = 1;
        }
}

static int same(const struct trace *a, const struct trace *b)
{
        return a->nev == b->nev && memcmp(a->ev, b->ev, a->nev) == 0 &&
               a->nrep == b->nrep && memcmp(a->rep, b->rep, a->nrep) == 0 &&
               a->mid_line == b->mid_line;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct trace whole, cut;
        size_t n, cap;
        uint32_t seed;

        if (size < 2)
                return 0;
        size_t max = 16 + data[0];
        seed = data[1] | 0x100u;        /* never 0: always cut */
        data += 2;
        n = size - 2;
        /* An input byte adds at most 6 bytes of events (a 5-byte header
         * and itself) or 1 of replies. */
        cap = 6 * n + 16;
        whole.ev = malloc(cap);
        whole.rep = malloc(cap);
        cut.ev = malloc(cap);
        cut.rep = malloc(cap);
        CHECK(whole.ev && whole.rep && cut.ev && cut.rep);

        run(data, n, max, 0, 0, &whole);
        check_replies(&whole);
        run(data, n, max, seed, 1, &cut);
        CHECK(same(&whole, &cut));
        run(data, n, max, seed * 7 + 1, 0, &cut);
        CHECK(same(&whole, &cut));

        free(whole.ev);
        free(whole.rep);
        free(cut.ev);
        free(cut.rep);
        return 0;
}
