/* notify: messages to the service manager, the rate-limited status line
 * and the liveness-gated watchdog. */
#include "notify.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "bounds.h"
#include "clock.h"
#include "log.h"

static struct {
        int64_t watchdog_usec;
        int64_t last_ping_ms;
        bool pinged;
        int64_t last_status_ms;
        bool status_sent;
        bool was_alive;
        char status[NOTIFY_STATUS_MAX];
} nt = { .was_alive = true };

static size_t append(char *buf, size_t size, size_t n, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

static size_t append(char *buf, size_t size, size_t n, const char *fmt, ...)
{
        va_list ap;
        int r;

        if (n >= size)
                return n;
        va_start(ap, fmt);
        r = vsnprintf(buf + n, size - n, fmt, ap);
        va_end(ap);
        if (r < 0)
                return n;
        return n + (size_t)r < size ? n + (size_t)r : size - 1;
}

static const char *plural(unsigned long n)
{
        return n == 1 ? "" : "s";
}

size_t notify_status_format(char *buf, size_t size, const struct notify_counts *c,
                            const char *problem)
{
        const char *sep = "";
        size_t n = 0;

        if (size == 0)
                return 0;
        buf[0] = '\0';
        if (problem && *problem) {
                n = append(buf, size, n, "%s", problem);
                sep = "; ";
        }
        if (c->echo) {
                n = append(buf, size, n, "%secho: %u client%s", sep, c->echo_clients,
                           plural(c->echo_clients));
                sep = "; ";
        }
        if (c->chat) {
                n = append(buf, size, n, "%schat: %u client%s in %zu room%s", sep,
                           c->chat_clients, plural(c->chat_clients), c->chat_rooms,
                           plural(c->chat_rooms));
                sep = "; ";
        }
        if (c->udp) {
                n = append(buf, size, n, "%sudp: %lu datagram%s answered", sep,
                           c->udp_datagrams, plural(c->udp_datagrams));
                sep = "; ";
        }
        if (c->web) {
                n = append(buf, size, n, "%sweb: %u client%s", sep, c->web_clients,
                           plural(c->web_clients));
                sep = "; ";
        }
        const struct {
                bool on;
                const char *name;
                unsigned long requests;
        } answers[] = {
                { c->daytime, "daytime", c->daytime_requests },
                { c->time, "time", c->time_requests },
                { c->qotd, "qotd", c->qotd_requests },
        };
        for (size_t i = 0; i < sizeof(answers) / sizeof(answers[0]); i++) {
                if (!answers[i].on)
                        continue;
                n = append(buf, size, n, "%s%s: %lu request%s", sep, answers[i].name,
                           answers[i].requests, plural(answers[i].requests));
                sep = "; ";
        }
        return n;
}

int64_t notify_init(void)
{
        uint64_t usec = 0;
        /* The variables stay: nothing pichatd starts is a service. */
        int r = sd_watchdog_enabled(0, &usec);

        nt.watchdog_usec = r > 0 ? (int64_t)usec : 0;
        if (r < 0) {
                log_msg(LOG_WARNING, "watchdog: bad WATCHDOG_USEC or WATCHDOG_PID, watchdog off");
                return r;
        }
        if (r > 0)
                log_msg(LOG_INFO, "watchdog: every %lld ms", (long long)(usec / 1000));
        return nt.watchdog_usec;
}

int64_t notify_watchdog_usec(void)
{
        return nt.watchdog_usec;
}

static int send_status(int64_t now_ms, const char *status, const char *before)
{
        int r = sd_notifyf(0, "%sSTATUS=%s", before, status);

        snprintf(nt.status, sizeof(nt.status), "%s", status);
        nt.status_sent = true;
        nt.last_status_ms = now_ms;
        return r;
}

int notify_ready(int64_t now_ms, const char *status)
{
        return send_status(now_ms, status, "READY=1\n");
}

int notify_reloading(void)
{
        /* MONOTONIC_USEC: when the reload began, on the service manager's
         * clock, so that it can tell this reload's READY=1 from an older one. */
        return sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%lld\nSTATUS=reloading configuration",
                          (long long)clock_now_us());
}

int notify_stopping(void)
{
        return sd_notify(0, "STOPPING=1\nSTATUS=shutting down");
}

void notify_tick(int64_t now_ms, bool alive, const char *status)
{
        if ((!nt.status_sent || strcmp(status, nt.status) != 0) &&
            now_ms - nt.last_status_ms >= PICHAT_STATUS_INTERVAL_MS)
                send_status(now_ms, status, "");

        if (alive != nt.was_alive) {
                if (alive)
                        log_msg(LOG_NOTICE, "watchdog: service loops running again");
                else if (nt.watchdog_usec > 0)
                        log_msg(LOG_ERR, "watchdog: a service loop is stuck; no longer "
                                "telling the service manager that pichatd is alive");
                else
                        log_msg(LOG_ERR, "a service loop is stuck");
                nt.was_alive = alive;
        }
        if (nt.watchdog_usec <= 0 || !alive)
                return;
        if (!nt.pinged || now_ms - nt.last_ping_ms >= nt.watchdog_usec / 2000) {
                sd_notify(0, "WATCHDOG=1");
                nt.last_ping_ms = now_ms;
                nt.pinged = true;
        }
}
