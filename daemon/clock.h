/* clock: the monotonic clock every timeout, rate and deadline in pichat
 * (daemon, client and tests) is measured on. Never the wall clock: a
 * clock set back or forward must not end sessions or let floods through. */
#pragma once

#include <stdint.h>

/* Milliseconds and microseconds of CLOCK_MONOTONIC (the same clock the
 * service manager's MONOTONIC_USEC means). */
int64_t clock_now_ms(void);
int64_t clock_now_us(void);
