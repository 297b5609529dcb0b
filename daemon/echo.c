/* echo: the classic "Welcome ... / OK...line" service over TCP. */
#include "echo.h"

#include <stdio.h>
#include <string.h>

#include "conn.h"

/* Texts come from the config in force, so a reload shows at once. */
static int echo_open(struct conn *c)
{
        const char *welcome = conn_conf(c)->echo.welcome;

        return conn_say(c, welcome, strlen(welcome));
}

static int echo_message(struct conn *c, const char *line, size_t len)
{
        const char *prefix = conn_conf(c)->echo.prefix;
        struct iovec reply[2] = {
                { .iov_base = (void *)prefix, .iov_len = strlen(prefix) },
                { .iov_base = (void *)line, .iov_len = len },
        };

        return conn_sayv(c, reply, 2);
}

static int echo_too_long(struct conn *c)
{
        char msg[64];
        int n = snprintf(msg, sizeof(msg), "line too long (max %u bytes)",
                         c->conf->server.max_line_bytes);

        return conn_say(c, msg, (size_t)n);
}

const struct service echo_service = {
        .name = "echo", .open = echo_open, .message = echo_message, .too_long = echo_too_long,
};
