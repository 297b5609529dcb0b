/* echo: the TCP echo service (greets, answers prefix + line). */
#pragma once

#include "conn.h"

extern const struct service echo_service;

/* Build prefix + line + CR LF into out, doubling 0xFF bytes so telnet shows
 * them as data. out needs strlen(prefix) + 2 * len + 3 bytes. Returns the
 * length written. */
size_t echo_format(char *out, const char *prefix, const char *line, size_t len);
