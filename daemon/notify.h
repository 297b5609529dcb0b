/* notify: what pichatd tells its service manager (NOTIFY_SOCKET, through
 * libsystemd's sd_notify()): readiness, a status line, reloads, shutdown,
 * and the watchdog. The protocol is libsystemd's; when to say what is
 * pichat's, here.
 *
 * Every call is a no-op returning 0 when NOTIFY_SOCKET is not set, so the
 * daemon calls them the same way whether or not systemd runs it. Only the
 * main thread (the supervisor) calls into this module.
 *
 * No EXTEND_TIMEOUT_USEC: nothing before READY=1 waits (the configuration
 * is read, the listeners opened, the log only queued: 3.5 ms from exec to
 * READY=1 in tests/bench), and shutdown is bounded by
 * PICHAT_SHUTDOWN_GRACE_MS and the log's flush, seconds inside the
 * service manager's timeouts. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NOTIFY_STATUS_MAX 512

/* What the status line shows. A service that is off is left out. */
struct notify_counts {
        bool echo, chat, udp, web;
        unsigned echo_clients;
        unsigned chat_clients;
        unsigned web_clients;
        size_t chat_rooms;
        unsigned long udp_datagrams;
        /* The services that answer once: requests, TCP and UDP together. */
        bool daytime, time, qotd;
        unsigned long daytime_requests, time_requests, qotd_requests;
};

/* "echo: 1 client; chat: 2 clients in 1 room; udp: 5 datagrams answered;
 * web: 3 clients; daytime: 4 requests; time: 1 request; qotd: 2 requests",
 * after "PROBLEM; " when problem is not NULL or empty (e.g. "reload failed:
 * FILE:LINE: reason"). Returns the length, cut to fit size. */
size_t notify_status_format(char *buf, size_t size, const struct notify_counts *c,
                            const char *problem);

/* Learn whether the watchdog is on (sd_watchdog_enabled(): WATCHDOG_USEC,
 * and WATCHDOG_PID naming this process). Returns the interval in
 * microseconds, 0 when it is off, or -errno for a malformed value. */
int64_t notify_init(void);
/* The interval notify_init() found (0 = off). */
int64_t notify_watchdog_usec(void);

/* READY=1 with a status line (at start-up and after a reload); now_ms is
 * the clock notify_tick() gets. 0 (no NOTIFY_SOCKET), 1 (sent) or -errno, as sd_notify(). */
int notify_ready(int64_t now_ms, const char *status);
/* RELOADING=1 with MONOTONIC_USEC=now, before the configuration is read again. */
int notify_reloading(void);
/* STOPPING=1, as shutdown begins. */
int notify_stopping(void);

/* The supervisor's periodic step, at least every PICHAT_HEARTBEAT_MS.
 * Sends STATUS=status when it changed and the last one is at least
 * PICHAT_STATUS_INTERVAL_MS old (a change in between goes out later), and
 * WATCHDOG=1 every half interval, but only while alive: a daemon whose
 * service loops are stuck must stop pinging so that it gets restarted.
 * now_ms is a monotonic clock. */
void notify_tick(int64_t now_ms, bool alive, const char *status);
