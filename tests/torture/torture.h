/* torture: what the torture cases share: the scale of their figures, the
 * daemon's baseline of threads and descriptors, and the check that it is
 * still alive and answering.
 *
 * Figures are the (5,000 connections, 10,000 cycles, ...) in
 * every build. On a machine too slow for them (sanitizer builds on a small
 * board, say) PICHAT_TORTURE_SCALE=N (a percentage) shrinks the counts;
 * every case prints the figures it used. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "clock.h"
#include "harness.h"

/* n scaled by PICHAT_TORTURE_SCALE percent (default 100), at least 1. */
unsigned tt_scaled(unsigned n);
unsigned tt_scale_percent(void);

void tt_sleep_ms(int ms);

/* Raise this process's open-files limit to its hard limit (pichatd,
 * started afterwards, inherits it). */
void tt_raise_nofile(void);

struct tt_base {
        long threads, fds, rss_kib;
};

/* pichatd's threads, descriptors and resident memory now. */
void tt_baseline(struct pd *d, struct tt_base *b);
/* Wait up to timeout_ms until threads and descriptors are back at b:
 * true if they are. *now gets the figures seen last. */
bool tt_back_to(struct pd *d, const struct tt_base *b, struct tt_base *now, int timeout_ms);

/* pichatd still runs, and answers an echo line, a chat client and a
 * datagram (sent from src_v4, so a source's UDP rate limit is dodged). */
void tt_assert_alive(struct pd *d, const char *src_v4);

/* Connect to chat from src (NULL: 127.0.0.1) and read up to "* you are
 * NICK, ..." with the nick in nick: 0 or -1. */
int tt_chat_enter(struct pd_client *c, struct pd *d, const char *src, char nick[64]);

/* true if s[0..n) is strict UTF-8 without C0 (but TAB), DEL or C1
 * controls: text that cannot repaint a terminal. */
bool tt_clean_text(const char *s, size_t n);

/* Print a line of figures to stdout (kept in meson's test log). */
void tt_report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
