/* echo: the classic "Welcome ... / OK...line" service over TCP. */
#include "echo.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "telnet.h"

size_t echo_format(char *out, const char *prefix, const char *line, size_t len)
{
        size_t n = strlen(prefix);

        memcpy(out, prefix, n);
        n += telnet_escape(line, len, out + n);
        out[n++] = '\r';
        out[n++] = '\n';
        out[n] = '\0';
        return n;
}

static int echo_open(struct conn *c)
{
        /* Texts come from the config in force, so a reload shows at once. */
        return conn_write_line(c, conf_cached(&c->live)->echo.welcome);
}

static int echo_line(struct conn *c, const char *line, size_t len)
{
        const struct conf *cf = conf_cached(&c->live);
        size_t size = strlen(cf->echo.prefix) + 2 * len + 3;
        char stackbuf[1024];
        char *buf = size <= sizeof(stackbuf) ? stackbuf : malloc(size);
        int r = -ENOMEM;

        if (buf) {
                size_t n = echo_format(buf, cf->echo.prefix, line, len);
                r = conn_write(c, buf, n);
                if (buf != stackbuf)
                        free(buf);
        }
        return r;
}

static int echo_too_long(struct conn *c)
{
        char msg[64];

        snprintf(msg, sizeof(msg), "line too long (max %zu bytes)", c->ls.max);
        return conn_write_line(c, msg);
}

const struct service echo_service = {
        .name = "echo",
        .open = echo_open,
        .line = echo_line,
        .too_long = echo_too_long,
};
