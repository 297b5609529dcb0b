/* torture: helpers shared by the torture cases. */
#include "clock.h"
#include "torture.h"

#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

unsigned tt_scale_percent(void)
{
        const char *s = getenv("PICHAT_TORTURE_SCALE");
        long v = s && *s ? strtol(s, NULL, 10) : 100;

        return v >= 1 && v <= 100 ? (unsigned)v : 100;
}

unsigned tt_scaled(unsigned n)
{
        unsigned long long v = (unsigned long long)n * tt_scale_percent() / 100;

        return v ? (unsigned)v : 1;
}

void tt_sleep_ms(int ms)
{
        struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
        nanosleep(&ts, NULL);
}

void tt_raise_nofile(void)
{
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
                rl.rlim_cur = rl.rlim_max;
                setrlimit(RLIMIT_NOFILE, &rl);
        }
}

void tt_baseline(struct pd *d, struct tt_base *b)
{
        b->threads = pd_proc_threads(d->pid);
        b->fds = pd_proc_fds(d->pid);
        b->rss_kib = pd_proc_rss_kib(d->pid);
        ck_assert_int_gt(b->threads, 0);
        ck_assert_int_gt(b->fds, 0);
}

bool tt_back_to(struct pd *d, const struct tt_base *b, struct tt_base *now, int timeout_ms)
{
        long long end = clock_now_ms() + timeout_ms;

        for (;;) {
                tt_baseline(d, now);
                if (now->threads == b->threads && now->fds == b->fds)
                        return true;
                if (clock_now_ms() > end)
                        return false;
                tt_sleep_ms(50);
        }
}

void tt_report(const char *fmt, ...)
{
        va_list ap;

        printf("torture: ");
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        printf(" (scale %u%%)\n", tt_scale_percent());
        fflush(stdout);
}

int tt_chat_enter(struct pd_client *c, struct pd *d, const char *src, char nick[64])
{
        char line[1024];

        if (pd_connect_from(c, src ? src : "127.0.0.1", d->chat_port) < 0)
                return -1;
        for (int i = 0; i < 100; i++) {
                if (pd_line(c, line, sizeof(line), 10000) < 0)
                        return -1;
                if (strncmp(line, "* you are ", 10) == 0) {
                        if (nick)
                                sscanf(line + 10, "%63[^,]", nick);
                        return 0;
                }
        }
        return -1;
}

void tt_assert_alive(struct pd *d, const char *src_v4)
{
        struct pd_client c;
        char reply[64];
        int r = -1;

        ck_assert_msg(pd_running(d), "pichatd is gone");
        ck_assert_int_eq(pd_connect(&c, d->echo_port, AF_INET6), 0);
        ck_assert(pd_expect_next(&c, "Welcome to the server. Type something and hit enter", 10000));
        pd_send(&c, "alive?\r\n");
        ck_assert(pd_expect_next(&c, "OK...alive?", 10000));
        pd_close(&c);
        ck_assert_int_eq(tt_chat_enter(&c, d, NULL, NULL), 0);
        pd_close(&c);
        /* A datagram may be lost on loopback after a flood: try thrice. */
        for (int i = 0; i < 3 && r != 10; i++)
                r = pd_udp_exchange_from(src_v4, 0, d->udp_port, "alive", 5, reply,
                                         sizeof(reply), 2000);
        ck_assert_int_eq(r, 10);
        ck_assert_msg(pd_running(d), "pichatd is gone");
}

bool tt_clean_text(const char *str, size_t n)
{
        const unsigned char *s = (const unsigned char *)str;

        for (size_t i = 0; i < n;) {
                unsigned char b = s[i];
                size_t need;
                unsigned char lo = 0x80, hi = 0xBF;

                if (b < 0x80) {
                        if ((b < 0x20 && b != '\t') || b == 0x7f)
                                return false;
                        i++;
                        continue;
                }
                if (b >= 0xC2 && b <= 0xDF)
                        need = 2;
                else if (b >= 0xE0 && b <= 0xEF)
                        need = 3;
                else if (b >= 0xF0 && b <= 0xF4)
                        need = 4;
                else
                        return false;
                if (b == 0xC2)
                        lo = 0xA0;      /* U+0080-U+009F are C1 controls */
                else if (b == 0xE0)
                        lo = 0xA0;
                else if (b == 0xED)
                        hi = 0x9F;
                else if (b == 0xF0)
                        lo = 0x90;
                else if (b == 0xF4)
                        hi = 0x8F;
                if (i + need > n || s[i + 1] < lo || s[i + 1] > hi)
                        return false;
                for (size_t k = 2; k < need; k++)
                        if (s[i + k] < 0x80 || s[i + k] > 0xBF)
                                return false;
                i += need;
        }
        return true;
}
