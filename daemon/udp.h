/* udp: the UDP echo thread (answers prefix + datagram). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Ports whose traffic is never answered: 0 and the classic UDP services
 * (echo, daytime, qotd, chargen, time) that would answer us back. */
bool udp_port_ignored(unsigned port);

/* Build the reply into out (PICHAT_UDP_MAX bytes), truncated to fit. */
size_t udp_format(char *out, const char *prefix, const char *data, size_t len);

/* Serve datagrams on fd in a thread of its own (ownership of fd taken). */
int udp_start(int fd);

/* Datagrams answered so far. */
unsigned long udp_answered(void);

/* clock_now_ms() at which the least recent UDP loop last went round
 * (INT64_MAX when there is none); see server_oldest_beat_ms(). */
int64_t udp_oldest_beat_ms(void);
