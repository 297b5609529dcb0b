/* conf: reads pichat.ini with inih, checks every value, owns the current config.
 *
 * inih is driven through ini_parse_stream() with our own line reader so we
 * always know the line number (Debian's inih handler has none) and can turn
 * lines longer than inih's fixed buffer into errors instead of truncation. */
#include "conf.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "answer.h"
#include "config.h"
#include "http.h"
#include "log.h"
#include "quotes.h"
#include "text.h"
#include "tls.h"

enum conf_type {
        CT_BOOL,
        CT_UINT,
        CT_PORT,
        CT_TEXT,
        CT_BIND,
        CT_LEVEL,
        CT_ACL,
        CT_SECRET,
        CT_ROOM,        /* a room name, kept without its '#' */
        CT_ROOMS,       /* a list of room names, also kept parsed */
        CT_ORIGINS,     /* a list of web origins */
        CT_TLS_PORT,    /* off, or a port */
};

struct conf_key {
        const char *section;
        const char *name;
        enum conf_type type;
        size_t offset;
        unsigned min, max;      /* CT_UINT */
};

#define K(sec, key, type, field, lo, hi) \
        { sec, key, type, offsetof(struct conf, field), lo, hi }

static const struct conf_key conf_keys[] = {
        K("server", "bind", CT_BIND, server, 0, 0),
        K("server", "max_clients", CT_UINT, server.max_clients, 1, PICHAT_MAX_CLIENTS_MAX),
        K("server", "max_clients_per_ip", CT_UINT, server.max_clients_per_ip, 0, PICHAT_MAX_CLIENTS_MAX),
        K("server", "ipv6_prefix_len", CT_UINT, server.ipv6_prefix_len, 32, 128),
        K("server", "thread_stack_kib", CT_UINT, server.thread_stack_kib,
          PICHAT_STACK_KIB_MIN, PICHAT_STACK_KIB_MAX),
        K("server", "idle_timeout_s", CT_UINT, server.idle_timeout_s, 0, PICHAT_IDLE_TIMEOUT_MAX),
        K("server", "line_timeout_s", CT_UINT, server.line_timeout_s, 0, PICHAT_IDLE_TIMEOUT_MAX),
        K("server", "max_line_bytes", CT_UINT, server.max_line_bytes,
          PICHAT_LINE_BYTES_MIN, PICHAT_LINE_BYTES_MAX),

        K("echo", "enabled", CT_BOOL, echo.enabled, 0, 0),
        K("echo", "port", CT_PORT, echo.port, 0, 0),
        K("echo", "prefix", CT_TEXT, echo.prefix, 0, 0),
        K("echo", "welcome", CT_TEXT, echo.welcome, 0, 0),

        K("udp", "enabled", CT_BOOL, udp.enabled, 0, 0),
        K("udp", "port", CT_PORT, udp.port, 0, 0),
        K("udp", "prefix", CT_TEXT, udp.prefix, 0, 0),
        K("udp", "rate_per_source", CT_UINT, udp.rate_per_source, 0, PICHAT_UDP_RATE_MAX),
        K("udp", "rate_total", CT_UINT, udp.rate_total, 0, PICHAT_UDP_RATE_MAX),

        K("chat", "enabled", CT_BOOL, chat.enabled, 0, 0),
        K("chat", "port", CT_PORT, chat.port, 0, 0),
        K("chat", "motd", CT_TEXT, chat.motd, 0, 0),
        K("chat", "motd_file", CT_TEXT, chat.motd_file, 0, 0),
        K("chat", "default_room", CT_ROOM, chat.default_room, 0, 0),
        K("chat", "rooms", CT_ROOMS, chat.rooms, 0, 0),
        K("chat", "max_nick_len", CT_UINT, chat.max_nick_len, 1, PICHAT_NICK_MAX),
        K("chat", "max_rooms", CT_UINT, chat.max_rooms, 1, PICHAT_ROOMS_MAX),
        K("chat", "max_room_members", CT_UINT, chat.max_room_members, 0, PICHAT_MAX_CLIENTS_MAX),
        K("chat", "history", CT_UINT, chat.history, 0, PICHAT_HISTORY_MAX),
        K("chat", "max_queue_kib", CT_UINT, chat.max_queue_kib, PICHAT_QUEUE_KIB_MIN,
          PICHAT_QUEUE_KIB_MAX),
        K("chat", "lines_per_sec", CT_UINT, chat.lines_per_sec, 1, PICHAT_LINES_PER_SEC_MAX),
        K("chat", "burst", CT_UINT, chat.burst, 1, PICHAT_LINES_PER_SEC_MAX),
        K("chat", "password", CT_SECRET, chat.password, 0, 0),
        K("chat", "password_file", CT_TEXT, chat.password_file, 0, 0),
        K("chat", "tls_port", CT_TLS_PORT, chat.tls_port, 0, 0),

        K("web", "enabled", CT_BOOL, web.enabled, 0, 0),
        K("web", "port", CT_PORT, web.port, 0, 0),
        K("web", "title", CT_TEXT, web.title, 0, 0),
        K("web", "allowed_origins", CT_ORIGINS, web.allowed_origins, 0, 0),
        K("web", "status_json", CT_BOOL, web.status_json, 0, 0),
        K("web", "tls_port", CT_TLS_PORT, web.tls_port, 0, 0),

        K("tls", "certfile", CT_TEXT, tls.certfile, 0, 0),
        K("tls", "keyfile", CT_TEXT, tls.keyfile, 0, 0),
        K("tls", "priority", CT_TEXT, tls.priority, 0, 0),

        K("daytime", "enabled", CT_BOOL, daytime.enabled, 0, 0),
        K("daytime", "port", CT_PORT, daytime.port, 0, 0),
        K("daytime", "udp", CT_BOOL, daytime.udp, 0, 0),
        K("daytime", "format", CT_TEXT, daytime.format, 0, 0),

        K("time", "enabled", CT_BOOL, time.enabled, 0, 0),
        K("time", "port", CT_PORT, time.port, 0, 0),
        K("time", "udp", CT_BOOL, time.udp, 0, 0),

        K("qotd", "enabled", CT_BOOL, qotd.enabled, 0, 0),
        K("qotd", "port", CT_PORT, qotd.port, 0, 0),
        K("qotd", "udp", CT_BOOL, qotd.udp, 0, 0),
        K("qotd", "file", CT_TEXT, qotd.file, 0, 0),

        K("access", "allow", CT_ACL, access.allow, 0, 0),
        K("access", "deny", CT_ACL, access.deny, 0, 0),

        K("log", "level", CT_LEVEL, log.level, 0, 0),
        K("log", "queue_kib", CT_UINT, log.queue_kib, PICHAT_LOG_QUEUE_KIB_MIN,
          PICHAT_LOG_QUEUE_KIB_MAX),

        K("cluster", "enabled", CT_BOOL, cluster.enabled, 0, 0),
        K("cluster", "broker", CT_TEXT, cluster.broker, 0, 0),
        K("cluster", "node", CT_TEXT, cluster.node, 0, 0),
        K("cluster", "topic_prefix", CT_TEXT, cluster.topic_prefix, 0, 0),
        K("cluster", "username", CT_TEXT, cluster.username, 0, 0),
        K("cluster", "password", CT_SECRET, cluster.password, 0, 0),
        K("cluster", "password_file", CT_TEXT, cluster.password_file, 0, 0),
        K("cluster", "cafile", CT_TEXT, cluster.cafile, 0, 0),
        K("cluster", "certfile", CT_TEXT, cluster.certfile, 0, 0),
        K("cluster", "keyfile", CT_TEXT, cluster.keyfile, 0, 0),
        K("cluster", "keepalive_s", CT_UINT, cluster.keepalive_s, PICHAT_CLUSTER_KEEPALIVE_MIN,
          PICHAT_CLUSTER_KEEPALIVE_MAX),
        K("cluster", "max_queue_kib", CT_UINT, cluster.max_queue_kib, PICHAT_QUEUE_KIB_MIN,
          PICHAT_QUEUE_KIB_MAX),
        K("cluster", "peer_lines_per_sec", CT_UINT, cluster.peer_lines_per_sec, 1,
          PICHAT_LINES_PER_SEC_MAX),
};

static const char *const conf_sections[] = { "server", "echo", "udp", "chat", "web", "access",
                                             "log", "tls", "daytime", "time", "qotd", "cluster" };

void conf_defaults(struct conf *c)
{
        memset(c, 0, sizeof(*c));
        atomic_init(&c->refs, 1);
        strcpy(c->server.bind[0], "::");
        c->server.n_bind = 1;
        c->server.max_clients = 1024;
        c->server.max_clients_per_ip = 64;
        c->server.ipv6_prefix_len = 64;
        c->server.thread_stack_kib = 64;
        c->server.idle_timeout_s = 900;
        c->server.line_timeout_s = 60;
        c->server.max_line_bytes = 1024;

        c->echo.enabled = true;
        c->echo.port = 8888;
        strcpy(c->echo.prefix, "OK...");
        strcpy(c->echo.welcome, "Welcome to the server. Type something and hit enter");

        c->udp.enabled = true;
        c->udp.port = 8888;
        strcpy(c->udp.prefix, "OK...");
        c->udp.rate_per_source = 100;
        c->udp.rate_total = 1000;

        c->chat.enabled = true;
        c->chat.port = 5000;
        strcpy(c->chat.motd, "Be nice, and have fun.");
        strcpy(c->chat.default_room, "lobby");
        strcpy(c->chat.rooms, "lobby");
        c->chat.room_list.n = 1;
        strcpy(c->chat.room_list.name[0], "lobby");
        c->chat.max_nick_len = 16;
        c->chat.max_rooms = 256;
        c->chat.max_room_members = 0;
        c->chat.history = 20;
        c->chat.max_queue_kib = 64;
        c->chat.lines_per_sec = 10;
        c->chat.burst = 20;

        c->web.enabled = true;
        c->web.port = 8080;
        strcpy(c->web.title, "pichat");
        c->web.status_json = true;

        /* Off: UDP daytime and qotd answer forged sources too (see
         * pichat.ini(5)), and their ports need privileges. */
        c->daytime.port = 13;
        c->daytime.udp = true;
        strcpy(c->daytime.format, "%A, %B %-d, %Y %H:%M:%S %Z");
        c->time.port = 37;
        c->time.udp = true;
        c->qotd.port = 17;
        c->qotd.udp = true;
        strcpy(c->tls.priority, TLS_PRIORITY_DEFAULT);

        c->log.level = LOG_INFO;
        c->log.queue_kib = 256;

        c->cluster.enabled = false;
        strcpy(c->cluster.broker, "localhost");
        c->cluster.broker_port = PICHAT_CLUSTER_PORT;
        strcpy(c->cluster.topic_prefix, "pichat");
        c->cluster.keepalive_s = 30;
        c->cluster.max_queue_kib = 256;
        c->cluster.peer_lines_per_sec = 2000;
}

struct parse_state {
        const char *name;
        struct conf *conf;
        struct conf_errors *errs;
        unsigned line;
        /* the reader */
        FILE *file;
        const char *text;
        size_t text_pos;
        int read_errno;         /* of a failed read, 0 if none */
        bool section_known;
        /* The line each key was last set on (0: not set), so that a check
         * of several keys can say where. */
        unsigned key_line[sizeof(conf_keys) / sizeof(conf_keys[0])];
};

__attribute__((format(printf, 3, 4)))
static void conf_error(struct parse_state *ps, unsigned line, const char *fmt, ...)
{
        char msg[CONF_TEXT_SIZE + 64];
        va_list ap;

        if (ps->errs->n >= CONF_ERRORS_MAX)
                return;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        if (line)
                snprintf(ps->errs->msg[ps->errs->n++], sizeof(ps->errs->msg[0]),
                         "%s:%u: %s", ps->name, line, msg);
        else
                snprintf(ps->errs->msg[ps->errs->n++], sizeof(ps->errs->msg[0]),
                         "%s: %s", ps->name, msg);
}

static int parse_bool(const char *v, bool *out)
{
        static const char *const yes[] = { "yes", "true", "on", "1" };
        static const char *const no[] = { "no", "false", "off", "0" };

        for (size_t i = 0; i < 4; i++) {
                if (strcasecmp(v, yes[i]) == 0) {
                        *out = true;
                        return 0;
                }
                if (strcasecmp(v, no[i]) == 0) {
                        *out = false;
                        return 0;
                }
        }
        return -EINVAL;
}

/* Decimal digits only: "+5", " 5", "5k" and "0x10" are all rejected. */
static int parse_uint(const char *v, unsigned long *out)
{
        unsigned long n = 0;

        if (*v == '-')
                return -ERANGE;
        if (!*v)
                return -EINVAL;
        for (; *v; v++) {
                if (*v < '0' || *v > '9')
                        return -EINVAL;
                if (n > (ULONG_MAX - 9) / 10)
                        return -ERANGE;
                n = n * 10 + (unsigned long)(*v - '0');
        }
        *out = n;
        return 0;
}

static bool bind_addr_ok(const char *a)
{
        unsigned char buf[sizeof(struct in6_addr)];
        return inet_pton(AF_INET, a, buf) == 1 || inet_pton(AF_INET6, a, buf) == 1;
}

static int parse_bind(struct parse_state *ps, const char *v)
{
        char copy[CONF_TEXT_SIZE];
        char *save = NULL;
        unsigned n = 0;

        snprintf(copy, sizeof(copy), "%s", v);
        for (char *tok = strtok_r(copy, " \t,", &save); tok;
             tok = strtok_r(NULL, " \t,", &save)) {
                if (!bind_addr_ok(tok)) {
                        conf_error(ps, ps->line, "bind: '%s' is not an IPv4 or IPv6 address", tok);
                        return -EINVAL;
                }
                if (n == PICHAT_BIND_MAX) {
                        conf_error(ps, ps->line, "bind: more than %d addresses", PICHAT_BIND_MAX);
                        return -EINVAL;
                }
                snprintf(ps->conf->server.bind[n++], CONF_TEXT_SIZE, "%s", tok);
        }
        if (n == 0) {
                conf_error(ps, ps->line, "bind: needs at least one address");
                return -EINVAL;
        }
        ps->conf->server.n_bind = n;
        return 0;
}

/* Every text value goes into a CONF_TEXT_SIZE field. inih's line buffer
 * happens to be shorter, but the copy must not rest on that. */
static void parse_text(struct parse_state *ps, const char *name, const char *v, char *out)
{
        size_t len = strlen(v);

        /* Quotes keep leading or trailing spaces that inih would strip. */
        if (len >= 2 && v[0] == '"' && v[len - 1] == '"') {
                v++;
                len -= 2;
        }
        for (size_t i = 0; i < len; i++) {
                if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f) {
                        conf_error(ps, ps->line, "%s: control characters are not allowed", name);
                        return;
                }
        }
        if (len >= CONF_TEXT_SIZE) {
                conf_error(ps, ps->line, "%s: too long (max %d bytes)", name, CONF_TEXT_SIZE - 1);
                return;
        }
        memcpy(out, v, len);
        out[len] = '\0';
}

/* A secret is text a client can type back: what a chat line turns into
 * after text_sanitize() and cmd_parse(). Errors never show the value. */
static void parse_secret(struct parse_state *ps, const char *name, const char *v, char *out)
{
        char clean[TEXT_SANITIZED_MAX(CONF_TEXT_SIZE)];
        unsigned before = ps->errs->n;
        size_t len;

        parse_text(ps, name, v, out);
        if (ps->errs->n != before)
                return;
        len = strlen(out);
        if (len > 0 && (out[0] == ' ' || out[len - 1] == ' '))
                conf_error(ps, ps->line, "%s: cannot begin or end with a space "
                           "(clients cannot send those)", name);
        else if (text_sanitize(out, len, clean, sizeof(clean)) != len || memcmp(clean, out, len))
                conf_error(ps, ps->line, "%s: must be valid UTF-8", name);
        else
                return;
        memset(out, 0, CONF_TEXT_SIZE);
}

/* Room names are checked here, with the line they are on, so that a name
 * the registry would refuse can never pass --check-config. */
static void parse_room(struct parse_state *ps, const char *name, const char *value, char *out)
{
        char norm[PICHAT_ROOM_NAME_MAX + 1], v[CONF_TEXT_SIZE];
        unsigned before = ps->errs->n;

        parse_text(ps, name, value, v);
        if (ps->errs->n != before)
                return;
        if (text_room_name(v, norm, sizeof(norm), PICHAT_ROOM_NAME_MAX) < 0) {
                conf_error(ps, ps->line, "%s: '%s' is not a room name (an optional # and 1 to "
                           "%d of A-Z a-z 0-9 _ -)", name, v, PICHAT_ROOM_NAME_MAX);
                return;
        }
        snprintf(out, CONF_TEXT_SIZE, "%s", norm);
}

static void parse_rooms(struct parse_state *ps, const char *name, const char *value, char *out)
{
        char bad[CONF_TEXT_SIZE], v[CONF_TEXT_SIZE];
        unsigned before = ps->errs->n;
        int r;

        parse_text(ps, name, value, v);
        if (ps->errs->n != before)
                return;
        r = text_room_list(v, &ps->conf->chat.room_list, bad, sizeof(bad));
        if (r == -E2BIG)
                conf_error(ps, ps->line, "%s: more than %d rooms", name, PICHAT_ROOMS_LISTED_MAX);
        else if (r < 0)
                conf_error(ps, ps->line, "%s: '%s' is not a room name (an optional # and 1 to "
                           "%d of A-Z a-z 0-9 _ -)", name, bad, PICHAT_ROOM_NAME_MAX);
        else
                snprintf(out, CONF_TEXT_SIZE, "%s", v);
}

/* Each word an origin as a browser sends it (scheme://host[:port]), or "*". */
static void parse_origins(struct parse_state *ps, const char *name, const char *value, char *out)
{
        char v[CONF_TEXT_SIZE], *save = NULL;
        unsigned before = ps->errs->n, n = 0;

        parse_text(ps, name, value, v);
        if (ps->errs->n != before)
                return;
        snprintf(out, CONF_TEXT_SIZE, "%s", v);
        for (char *w = strtok_r(v, " ,", &save); w; w = strtok_r(NULL, " ,", &save)) {
                if (++n > PICHAT_ORIGINS_MAX) {
                        conf_error(ps, ps->line, "%s: more than %d origins", name,
                                   PICHAT_ORIGINS_MAX);
                        break;
                }
                if (strcmp(w, "*") != 0 && !http_origin_valid(w, strlen(w))) {
                        conf_error(ps, ps->line, "%s: '%s' is not an origin (like "
                                   "http://pi.local:8080, or *)", name, w);
                        break;
                }
        }
        if (ps->errs->n != before)
                out[0] = '\0';
}

/* ---- one parser for each type of key --------------------------------- */

static void key_bool(struct parse_state *ps, const struct conf_key *k, const char *v, char *field)
{
        if (parse_bool(v, (bool *)field) < 0)
                conf_error(ps, ps->line, "%s: '%s' is not a boolean (use yes or no)", k->name, v);
}

static void key_uint(struct parse_state *ps, const struct conf_key *k, const char *v, char *field)
{
        unsigned lo = k->type == CT_PORT ? 0 : k->min;
        unsigned hi = k->type == CT_PORT ? 65535 : k->max;
        unsigned long n;
        int r = parse_uint(v, &n);

        if (r == -ERANGE && *v == '-')
                conf_error(ps, ps->line, "%s: must not be negative (got '%s')", k->name, v);
        else if (r < 0 && r != -ERANGE)
                conf_error(ps, ps->line, "%s: '%s' is not a number", k->name, v);
        else if (r < 0 || n < lo || n > hi)
                conf_error(ps, ps->line, "%s: %s is out of range (%u-%u%s)", k->name, v, lo, hi,
                           k->type == CT_PORT ? ", 0 = any free port" : "");
        else
                *(unsigned *)field = (unsigned)n;
}

static void key_tls_port(struct parse_state *ps, const struct conf_key *k, const char *v,
                         char *field)
{
        struct conf_tls_port *tp = (struct conf_tls_port *)field;
        unsigned long n;

        if (!*v || strcasecmp(v, "off") == 0 || strcasecmp(v, "no") == 0) {
                tp->on = false;
                return;
        }
        if (parse_uint(v, &n) < 0 || n > 65535) {
                conf_error(ps, ps->line, "%s: '%s' is neither off nor a port (0-65535, "
                           "0 = any free port)", k->name, v);
                return;
        }
        tp->on = true;
        tp->port = (unsigned)n;
}

static void key_text(struct parse_state *ps, const struct conf_key *k, const char *v, char *field)
{
        parse_text(ps, k->name, v, field);
}

static void key_secret(struct parse_state *ps, const struct conf_key *k, const char *v,
                       char *field)
{
        parse_secret(ps, k->name, v, field);
}

static void key_room(struct parse_state *ps, const struct conf_key *k, const char *v, char *field)
{
        parse_room(ps, k->name, v, field);
}

static void key_rooms(struct parse_state *ps, const struct conf_key *k, const char *v, char *field)
{
        parse_rooms(ps, k->name, v, field);
}

static void key_origins(struct parse_state *ps, const struct conf_key *k, const char *v,
                        char *field)
{
        parse_origins(ps, k->name, v, field);
}

static void key_bind(struct parse_state *ps, const struct conf_key *k, const char *v, char *field)
{
        (void)k;
        (void)field;
        parse_bind(ps, v);
}

/* Lines add up: one line holds only a few IPv6 prefixes. */
static void key_acl(struct parse_state *ps, const struct conf_key *k, const char *v, char *field)
{
        char err[CONF_TEXT_SIZE];

        if (acl_parse_list((struct acl *)field, v, err, sizeof(err)) < 0)
                conf_error(ps, ps->line, "%s: %s", k->name, err);
}

static void key_level(struct parse_state *ps, const struct conf_key *k, const char *v, char *field)
{
        int r = log_level_parse(v);

        if (r < 0)
                conf_error(ps, ps->line,
                           "%s: '%s' is not a log level (debug, info, notice, warning, error)",
                           k->name, v);
        else
                *(int *)field = r;
}

static void (*const conf_parsers[])(struct parse_state *ps, const struct conf_key *k,
                                    const char *value, char *field) = {
        [CT_BOOL] = key_bool, [CT_UINT] = key_uint, [CT_PORT] = key_uint, [CT_TEXT] = key_text,
        [CT_BIND] = key_bind, [CT_LEVEL] = key_level, [CT_ACL] = key_acl,
        [CT_SECRET] = key_secret, [CT_ROOM] = key_room, [CT_ROOMS] = key_rooms,
        [CT_ORIGINS] = key_origins, [CT_TLS_PORT] = key_tls_port,
};

static int conf_handler(void *user, const char *section, const char *name, const char *value)
{
        struct parse_state *ps = user;
        const struct conf_key *k = NULL;
        char *field;

        if (!ps->section_known)
                return 1;       /* already reported at the section header */
        if (!*section) {
                conf_error(ps, ps->line, "'%s' is outside any [section]", name);
                return 1;
        }
        for (size_t i = 0; i < sizeof(conf_keys) / sizeof(conf_keys[0]); i++) {
                if (strcmp(conf_keys[i].section, section) == 0 &&
                    strcmp(conf_keys[i].name, name) == 0) {
                        k = &conf_keys[i];
                        break;
                }
        }
        if (!k) {
                conf_error(ps, ps->line, "unknown key '%s' in section [%s]", name, section);
                return 1;
        }
        field = (char *)ps->conf + k->offset;
        ps->key_line[k - conf_keys] = ps->line;
        conf_parsers[k->type](ps, k, value, field);
        return 1;
}

/* Where inih's line scan stops: at one of chars, at a ';' that follows
 * whitespace (an inline comment), or at the end. */
static const char *find_chars_or_comment(const char *s, const char *chars)
{
        bool was_space = false;

        while (*s && !strchr(chars, *s) && !(was_space && *s == ';')) {
                was_space = isspace((unsigned char)*s);
                s++;
        }
        return s;
}

/* Checks a line's syntax before inih sees it, since inih reports only the
 * first bad line of a file and ignores text after a section's ']'. Notices
 * section headers, so that unknown (even empty) sections are reported.
 * Returns false for a bad line, which is reported here. */
static bool check_line(struct parse_state *ps, const char *line)
{
        const char *p = line, *end, *rest;
        size_t len;

        if (ps->line == 1 && strncmp(p, "\xef\xbb\xbf", 3) == 0)
                p += 3;         /* inih skips a UTF-8 byte order mark */
        while (isspace((unsigned char)*p))
                p++;
        if (*p == '\0' || *p == ';' || *p == '#')
                return true;
        if (*p != '[') {
                end = find_chars_or_comment(p, "=:");
                if (*end == '=' || *end == ':')
                        return true;
                conf_error(ps, ps->line, "syntax error (expected [section], key = value or a comment)");
                return false;
        }
        end = find_chars_or_comment(p + 1, "]");
        rest = *end == ']' ? end + 1 + strspn(end + 1, " \t\r\n") : end;
        if (*end != ']' || (*rest && *rest != ';' && *rest != '#')) {
                conf_error(ps, ps->line, "syntax error (expected [section] alone on its line)");
                ps->section_known = false;      /* its keys belong nowhere */
                return false;
        }
        p++;
        len = (size_t)(end - p);
        ps->section_known = false;
        for (size_t i = 0; i < sizeof(conf_sections) / sizeof(conf_sections[0]); i++)
                if (strlen(conf_sections[i]) == len && strncmp(conf_sections[i], p, len) == 0)
                        ps->section_known = true;
        if (!ps->section_known)
                conf_error(ps, ps->line, "unknown section [%.*s]", (int)len, p);
        return true;
}

/* One line into str, like fgets(); a line that does not fit is an error and
 * is handed to inih as an empty line, so nothing is parsed from half of it. */
static char *conf_reader(char *str, int num, void *stream)
{
        struct parse_state *ps = stream;
        size_t max = (size_t)num - 1, len = 0, text;
        bool eol = false, eof = false;

        while (!eol) {
                int ch;
                if (ps->file) {
                        ch = getc(ps->file);
                } else {
                        ch = ps->text[ps->text_pos] ? (unsigned char)ps->text[ps->text_pos++] : EOF;
                }
                if (ch == EOF) {
                        if (ps->file && ferror(ps->file))
                                ps->read_errno = errno;
                        eof = true;
                        break;
                }
                if (len < max)
                        str[len] = (char)ch;
                len++;
                if (ch == '\n')
                        eol = true;
        }
        if (eof && len == 0)
                return NULL;
        ps->line++;
        /* inih needs room for "\r\n\0" beyond the text, however this line
         * ends: a file must not turn bad when saved with CR LF. */
        text = eol ? len - 1 : len;
        if (text > 0 && text <= max && str[text - 1] == '\r')
                text--;
        if (text > (size_t)num - 3) {
                conf_error(ps, ps->line, "line too long (max %d bytes)", num - 3);
                str[0] = '\n';
                str[1] = '\0';
                return str;
        }
        if (memchr(str, '\0', len)) {
                conf_error(ps, ps->line, "NUL byte in line");
                str[0] = '\n';
                str[1] = '\0';
                return str;
        }
        str[len] = '\0';
        if (!check_line(ps, str)) {
                str[0] = '\n';
                str[1] = '\0';
        }
        return str;
}

/* The line of the key set last of those named ("section.key", ...,
 * NULL): where a check of them all is reported (0: none was set). */
static unsigned last_line(const struct parse_state *ps, ...)
{
        unsigned line = 0;
        va_list ap;

        va_start(ap, ps);
        for (const char *sk; (sk = va_arg(ap, const char *));) {
                for (size_t i = 0; i < sizeof(conf_keys) / sizeof(conf_keys[0]); i++) {
                        size_t sl = strlen(conf_keys[i].section);
                        if (strncmp(sk, conf_keys[i].section, sl) == 0 && sk[sl] == '.' &&
                            strcmp(sk + sl + 1, conf_keys[i].name) == 0 && ps->key_line[i] > line)
                                line = ps->key_line[i];
                }
        }
        va_end(ap);
        return line;
}

#define CREDENTIAL "credential:"

/* The file a key names: a path, or "credential:NAME", which is NAME in
 * $CREDENTIALS_DIRECTORY, where systemd puts what LoadCredential= gave
 * the service (readable by its dynamic user, which a root-owned 0600
 * file is not). false, reported at line, when there is none. */
static bool resolve_file(struct parse_state *ps, unsigned line, const char *key, const char *name,
                         char *path, size_t size)
{
        const char *dir = getenv("CREDENTIALS_DIRECTORY");

        if (strncmp(name, CREDENTIAL, strlen(CREDENTIAL)) != 0) {
                snprintf(path, size, "%s", name);
                return true;
        }
        if (!dir || !*dir) {
                conf_error(ps, line, "%s: %s needs the service manager's credentials "
                           "(LoadCredential=), and none were passed", key, name);
                return false;
        }
        snprintf(path, size, "%s/%s", dir, name + strlen(CREDENTIAL));
        return true;
}

/* A password_file ([chat] or [cluster]): the password is the file's
 * first line; name is a path or "credential:NAME" (resolve_file()). sec
 * names the section, and out gets the password, which must not be set
 * already. */
static void read_password_file(struct parse_state *ps, const char *sec, const char *name,
                               char *out)
{
        char key_pw[32], key_file[32];
        char path[PATH_MAX], text[TEXT_SECRET_MAX + 2];
        FILE *f;

        snprintf(key_pw, sizeof(key_pw), "%s.password", sec);
        snprintf(key_file, sizeof(key_file), "%s.password_file", sec);
        unsigned line = last_line(ps, key_file, NULL);
        if (out[0]) {
                conf_error(ps, last_line(ps, key_pw, key_file, NULL),
                           "[%s] password and password_file are both set: use one", sec);
                return;
        }
        if (!resolve_file(ps, line, "password_file", name, path, sizeof(path)))
                return;
        if (!(f = fopen(path, "re"))) {
                conf_error(ps, line, "password_file: cannot read %s: %s", path, strerror(errno));
                return;
        }
        if (!fgets(text, sizeof(text), f))
                text[0] = '\0';
        fclose(f);
        text[strcspn(text, "\r\n")] = '\0';
        if (strlen(text) > TEXT_SECRET_MAX - 1) {
                conf_error(ps, line, "password_file: %s: the password is longer than %d bytes",
                           path, TEXT_SECRET_MAX - 1);
        } else if (!text[0]) {
                conf_error(ps, line, "password_file: %s holds no password on its first line", path);
        } else {
                unsigned saved = ps->line;
                /* Checked as a password written in the file would be. */
                ps->line = line;
                parse_secret(ps, "password_file", text, out);
                ps->line = saved;
        }
        memset(text, 0, sizeof(text));
}

/* The listeners of one protocol that are on, each on its own port (0 is
 * any free one, never shared): keys[] name their port keys, "echo.port"
 * or "chat.tls_port". */
static void check_ports(struct parse_state *ps, const char *proto, const char *const keys[],
                        const bool on[], const unsigned port[], int n)
{
        for (int i = 0; i < n; i++) {
                for (int j = i + 1; j < n; j++) {
                        size_t si = strcspn(keys[i], "."), sj = strcspn(keys[j], ".");
                        unsigned line = last_line(ps, keys[i], keys[j], NULL);

                        if (!on[i] || !on[j] || port[i] == 0 || port[i] != port[j])
                                continue;
                        if (strcmp(keys[i] + si, ".port") == 0 &&
                            strcmp(keys[j] + sj, ".port") == 0)
                                conf_error(ps, line, "[%.*s] and [%.*s] cannot share %s port %u",
                                           (int)si, keys[i], (int)sj, keys[j], proto, port[i]);
                        else
                                conf_error(ps, line,
                                           "[%.*s] %s and [%.*s] %s cannot share %s port %u "
                                           "(plain and TLS never share a port)", (int)si, keys[i],
                                           keys[i] + si + 1, (int)sj, keys[j], keys[j] + sj + 1,
                                           proto, port[i]);
                }
        }
}

/* [qotd] file, read now: a missing, unreadable or empty file (or one
 * whose every quote is too long) refuses the configuration, at the line
 * that named it or turned the service on. */
static void read_quotes_file(struct parse_state *ps)
{
        struct conf *c = ps->conf;
        unsigned line = last_line(ps, "qotd.file", NULL);
        int r;

        if (!line)
                line = last_line(ps, "qotd.enabled", NULL);
        const char *path = conf_quotes_path(c);

        r = quotes_load(path, PICHAT_QOTD_FILE_MAX, PICHAT_ANSWER_MAX, &c->qotd.quotes);
        if (r == -EFBIG)
                conf_error(ps, line, "[qotd] file: %s is larger than %d MiB", path,
                           PICHAT_QOTD_FILE_MAX / (1024 * 1024));
        else if (r < 0)
                conf_error(ps, line, "[qotd] file: cannot read %s: %s", path, strerror(-r));
        else if (c->qotd.quotes->n == 0 && c->qotd.quotes->skipped > 0)
                conf_error(ps, line, "[qotd] file: every quote in %s is longer than %d bytes",
                           path, PICHAT_ANSWER_MAX);
        else if (c->qotd.quotes->n == 0)
                conf_error(ps, line, "[qotd] file: %s holds no quote (fortune's format: quotes "
                           "separated by lines of %%)", path);
}

/* [tls]: the certificate, key and priority the TLS ports serve with,
 * loaded here so that --check-config refuses what a start would, each
 * error at the line of the key to blame. */
static void load_tls(struct parse_state *ps)
{
        struct conf *c = ps->conf;
        static const char *const keys[] = {
                [TLS_WHAT_LIBRARY] = "chat.tls_port", [TLS_WHAT_CERT] = "tls.certfile",
                [TLS_WHAT_KEY] = "tls.keyfile", [TLS_WHAT_PRIORITY] = "tls.priority",
        };
        char cert[PATH_MAX], key[PATH_MAX], err[CONF_TEXT_SIZE + PATH_MAX];
        enum tls_what what;

        if (!c->tls.certfile[0] || !c->tls.keyfile[0]) {
                conf_error(ps, last_line(ps, "chat.tls_port", "web.tls_port", NULL),
                           "a TLS port needs [tls] certfile and keyfile (%s is not set)",
                           c->tls.certfile[0] ? "keyfile" : "certfile");
                return;
        }
        if (!resolve_file(ps, last_line(ps, keys[TLS_WHAT_CERT], NULL), "certfile",
                          c->tls.certfile, cert, sizeof(cert)) ||
            !resolve_file(ps, last_line(ps, keys[TLS_WHAT_KEY], NULL), "keyfile",
                          c->tls.keyfile, key, sizeof(key)))
                return;
        if (tls_creds_load(cert, key, c->tls.priority, &c->tls.creds, &what, err,
                           sizeof(err)) < 0)
                conf_error(ps, what == TLS_WHAT_LIBRARY ?
                           last_line(ps, "chat.tls_port", "web.tls_port", NULL) :
                           last_line(ps, keys[what], NULL), "%s", err);
}

/* [cluster] broker: HOST, HOST:PORT, [IPv6] or [IPv6]:PORT. */
static void check_broker(struct parse_state *ps, struct conf *c)
{
        unsigned line = last_line(ps, "cluster.broker", NULL);
        const char *b = c->cluster.broker, *host = b, *port = NULL;
        size_t hlen;

        if (b[0] == '[') {
                const char *e = strchr(b, ']');
                if (!e || (e[1] && e[1] != ':')) {
                        conf_error(ps, line, "broker: '%s' is not HOST[:PORT] ([IPv6]:PORT for "
                                   "an IPv6 address)", b);
                        return;
                }
                host = b + 1;
                hlen = (size_t)(e - host);
                port = e[1] ? e + 2 : NULL;
        } else {
                const char *colon = strchr(b, ':');
                if (colon && strchr(colon + 1, ':')) {
                        conf_error(ps, line, "broker: write an IPv6 address in brackets "
                                   "([%s]:%u)", b, PICHAT_CLUSTER_PORT);
                        return;
                }
                hlen = colon ? (size_t)(colon - b) : strlen(b);
                port = colon ? colon + 1 : NULL;
        }
        if (hlen == 0 || strcspn(host, " \t/") < hlen) {
                conf_error(ps, line, "broker: '%s' names no host (HOST[:PORT])", b);
                return;
        }
        memcpy(c->cluster.broker_host, host, hlen);
        c->cluster.broker_host[hlen] = '\0';
        if (port) {
                unsigned long n;
                if (parse_uint(port, &n) < 0 || n < 1 || n > 65535) {
                        conf_error(ps, line, "broker: '%s' is not a port (1-65535)", port);
                        return;
                }
                c->cluster.broker_port = (unsigned)n;
        }
}

/* An MQTT topic filter made of it must mean what it says: no wildcards,
 * no empty level, nothing the broker keeps for itself ($SYS). */
static bool topic_prefix_ok(const char *p)
{
        size_t len = strlen(p);

        if (len == 0 || len > PICHAT_CLUSTER_PREFIX_MAX || p[0] == '$' || p[0] == '/' ||
            p[len - 1] == '/' || strstr(p, "//"))
                return false;
        for (; *p; p++)
                if (*p == '+' || *p == '#' || (unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e)
                        return false;
        return true;
}

static void check_tls_file(struct parse_state *ps, const char *key, const char *path)
{
        char sk[32];

        snprintf(sk, sizeof(sk), "cluster.%s", key);
        if (path[0] && access(path, R_OK) < 0)
                conf_error(ps, last_line(ps, sk, NULL), "%s: cannot read %s: %s", key, path,
                           strerror(errno));
}

static void check_cluster(struct parse_state *ps)
{
        struct conf *c = ps->conf;

        if (c->cluster.password_file[0])
                read_password_file(ps, "cluster", c->cluster.password_file, c->cluster.password);
        if (!c->cluster.enabled)
                return;
        check_broker(ps, c);
        if (!c->cluster.node[0]) {
                char host[256] = "";
                gethostname(host, sizeof(host) - 1);
                host[strcspn(host, ".")] = '\0';
                if (!text_valid_name(host, PICHAT_CLUSTER_NODE_MAX)) {
                        conf_error(ps, last_line(ps, "cluster.enabled", NULL),
                                   "[cluster] node is not set and the host name '%s' cannot be "
                                   "one: set node = NAME (1 to %d of A-Z a-z 0-9 _ -)", host,
                                   PICHAT_CLUSTER_NODE_MAX);
                        return;
                }
                snprintf(c->cluster.node, sizeof(c->cluster.node), "%s", host);
        } else if (!text_valid_name(c->cluster.node, PICHAT_CLUSTER_NODE_MAX)) {
                conf_error(ps, last_line(ps, "cluster.node", NULL),
                           "node: '%s' is not a node name (1 to %d of A-Z a-z 0-9 _ -)",
                           c->cluster.node, PICHAT_CLUSTER_NODE_MAX);
        }
        if (!topic_prefix_ok(c->cluster.topic_prefix))
                conf_error(ps, last_line(ps, "cluster.topic_prefix", NULL),
                           "topic_prefix: '%s' is not a topic prefix (1 to %d printable ASCII "
                           "characters without spaces, + or #, not starting with $ or /, no "
                           "empty level)", c->cluster.topic_prefix, PICHAT_CLUSTER_PREFIX_MAX);
        if (c->cluster.password[0] && !c->cluster.username[0])
                conf_error(ps, last_line(ps, "cluster.password", "cluster.password_file", NULL),
                           "[cluster] a password needs a username");
        if (!c->cluster.certfile[0] != !c->cluster.keyfile[0])
                conf_error(ps, last_line(ps, "cluster.certfile", "cluster.keyfile", NULL),
                           "[cluster] certfile and keyfile go together: set both or neither");
        if ((c->cluster.certfile[0] || c->cluster.keyfile[0]) && !c->cluster.cafile[0])
                conf_error(ps, last_line(ps, "cluster.certfile", "cluster.keyfile", NULL),
                           "[cluster] a client certificate needs cafile (TLS to the broker)");
        check_tls_file(ps, "cafile", c->cluster.cafile);
        check_tls_file(ps, "certfile", c->cluster.certfile);
        check_tls_file(ps, "keyfile", c->cluster.keyfile);
        if (!c->chat.enabled && !c->web.enabled)
                conf_error(ps, last_line(ps, "cluster.enabled", NULL),
                           "[cluster] shares chat rooms, but [chat] and [web] are both off");
        /* The outage queue must hold the longest line a room can send. */
        size_t longest = PICHAT_ROOM_LINE_MAX(c->server.max_line_bytes) + PICHAT_CLUSTER_HEADER_MAX;
        if ((size_t)c->cluster.max_queue_kib * 1024 < longest)
                conf_error(ps, last_line(ps, "cluster.max_queue_kib", "server.max_line_bytes", NULL),
                           "[cluster] max_queue_kib = %u cannot hold one line of max_line_bytes "
                           "= %u: use at least %zu", c->cluster.max_queue_kib,
                           c->server.max_line_bytes, (longest + 1023) / 1024);
}

/* What no single key can tell: every check that could refuse a start
 * later is made here, so that --check-config refuses it first. */
static void conf_validate(struct parse_state *ps)
{
        struct conf *c = ps->conf;
        const char *why;

        /* The TCP listeners, plain and TLS, and the UDP ones. */
        static const char *const keys[] = { "echo.port", "chat.port", "web.port",
                                            "daytime.port", "time.port", "qotd.port",
                                            "chat.tls_port", "web.tls_port" };
        const bool on[] = { c->echo.enabled, c->chat.enabled, c->web.enabled, c->daytime.enabled,
                            c->time.enabled, c->qotd.enabled,
                            c->chat.enabled && c->chat.tls_port.on,
                            c->web.enabled && c->web.tls_port.on };
        const unsigned port[] = { c->echo.port, c->chat.port, c->web.port, c->daytime.port,
                                  c->time.port, c->qotd.port, c->chat.tls_port.port,
                                  c->web.tls_port.port };
        static const char *const udp_keys[] = { "udp.port", "daytime.port", "time.port",
                                                "qotd.port" };
        const bool udp_on[] = { c->udp.enabled, c->daytime.enabled && c->daytime.udp,
                                c->time.enabled && c->time.udp, c->qotd.enabled && c->qotd.udp };
        const unsigned udp_port[] = { c->udp.port, c->daytime.port, c->time.port, c->qotd.port };

        if (!c->echo.enabled && !c->udp.enabled && !c->chat.enabled && !c->web.enabled &&
            !c->daytime.enabled && !c->time.enabled && !c->qotd.enabled)
                conf_error(ps, last_line(ps, "echo.enabled", "udp.enabled", "chat.enabled",
                                         "web.enabled", "daytime.enabled", "time.enabled",
                                         "qotd.enabled", NULL),
                           "no service is enabled ([echo], [udp], [chat], [web], [daytime], "
                           "[time] and [qotd] are all off)");
        check_ports(ps, "TCP", keys, on, port, (int)(sizeof(keys) / sizeof(keys[0])));
        check_ports(ps, "UDP", udp_keys, udp_on, udp_port,
                    (int)(sizeof(udp_keys) / sizeof(udp_keys[0])));
        if ((why = answer_daytime_check(c->daytime.format)))
                conf_error(ps, last_line(ps, "daytime.format", NULL),
                           "[daytime] format: '%s' %s", c->daytime.format, why);
        if (c->qotd.enabled)
                read_quotes_file(ps);
        if (on[6] || on[7])
                load_tls(ps);
        /* Every member's queue must hold the longest line a room can
         * send, or saying it would drop everyone as too slow. */
        size_t longest = PICHAT_ROOM_LINE_MAX(c->server.max_line_bytes);
        if ((c->chat.enabled || c->web.enabled) && (size_t)c->chat.max_queue_kib * 1024 < longest)
                conf_error(ps, last_line(ps, "chat.max_queue_kib", "server.max_line_bytes", NULL),
                           "[chat] max_queue_kib = %u cannot hold one line of max_line_bytes = %u "
                           "(%zu bytes once cleaned): use at least %zu", c->chat.max_queue_kib,
                           c->server.max_line_bytes, longest, (longest + 1023) / 1024);
        if (c->chat.password_file[0])
                read_password_file(ps, "chat", c->chat.password_file, c->chat.password);
        check_cluster(ps);
}

/* What a configuration owns besides itself. */
static void conf_free(struct conf *c)
{
        if (c) {
                quotes_free(c->qotd.quotes);
                tls_creds_unref(c->tls.creds);
        }
        free(c);
}

static struct conf *conf_parse(struct parse_state *ps)
{
        struct conf *c = malloc(sizeof(*c));
        int r;

        if (!c) {
                conf_error(ps, 0, "out of memory");
                return NULL;
        }
        conf_defaults(c);
        ps->conf = c;
        ps->section_known = true;       /* keys before any [section] */

        /* Indented lines are ordinary lines here, never continuations. */
        ini_allow_multiline = false;
        r = ini_parse_stream(conf_reader, ps, conf_handler, ps);
        if (r > 0) {
                /* inih stops calling us at a syntax error only to report it */
                bool seen = false;
                char prefix[CONF_TEXT_SIZE + 32];
                snprintf(prefix, sizeof(prefix), "%s:%d:", ps->name, r);
                for (unsigned i = 0; i < ps->errs->n; i++)
                        if (strncmp(ps->errs->msg[i], prefix, strlen(prefix)) == 0)
                                seen = true;
                if (!seen)
                        conf_error(ps, (unsigned)r,
                                   "syntax error (expected [section], key = value or a comment)");
        } else if (r < 0) {
                conf_error(ps, 0, "cannot read file");
        }
        if (ps->errs->n == 0)
                conf_validate(ps);
        if (ps->errs->n > 0) {
                conf_free(c);
                return NULL;
        }
        return c;
}

struct conf *conf_load(const char *path, struct conf_errors *errs)
{
        struct parse_state ps = { .name = path, .errs = errs };
        struct conf *c;

        errs->n = 0;
        ps.file = fopen(path, "re");
        if (!ps.file) {
                conf_error(&ps, 0, "cannot open: %s", strerror(errno));
                return NULL;
        }
        c = conf_parse(&ps);
        if (ferror(ps.file)) {
                conf_error(&ps, 0, "cannot read: %s", strerror(ps.read_errno));
                conf_free(c);
                c = NULL;
        }
        fclose(ps.file);
        return c;
}

struct conf *conf_load_string(const char *name, const char *text, struct conf_errors *errs)
{
        struct parse_state ps = { .name = name, .errs = errs, .text = text };

        errs->n = 0;
        return conf_parse(&ps);
}

const char *conf_quotes_path(const struct conf *c)
{
        return c->qotd.file[0] ? c->qotd.file : PICHAT_DEFAULT_QUOTES;
}

struct conf *conf_ref(struct conf *c)
{
        if (c)
                atomic_fetch_add(&c->refs, 1);
        return c;
}

void conf_unref(struct conf *c)
{
        if (c && atomic_fetch_sub(&c->refs, 1) == 1)
                conf_free(c);
}

void conf_store_init(struct conf_store *s, struct conf *c)
{
        pthread_mutex_init(&s->lock, NULL);
        s->cur = c;
        atomic_init(&s->gen, 1);
}

void conf_store_destroy(struct conf_store *s)
{
        conf_unref(s->cur);
        s->cur = NULL;
        pthread_mutex_destroy(&s->lock);
}

struct conf *conf_current(struct conf_store *s)
{
        struct conf *c;

        pthread_mutex_lock(&s->lock);
        c = conf_ref(s->cur);
        pthread_mutex_unlock(&s->lock);
        return c;
}

void conf_set_current(struct conf_store *s, struct conf *c)
{
        struct conf *old;

        pthread_mutex_lock(&s->lock);
        old = s->cur;
        s->cur = c;
        atomic_fetch_add_explicit(&s->gen, 1, memory_order_release);
        pthread_mutex_unlock(&s->lock);
        conf_unref(old);
}

struct conf *conf_cached(struct conf_store *s, struct conf_cache *cc)
{
        unsigned gen = atomic_load_explicit(&s->gen, memory_order_acquire);

        /* Read before taking the config: a reload in between leaves an
         * older number with the newer config, so the next call only takes
         * it again, never keeps a stale one. */
        if (!cc->conf || cc->gen != gen) {
                conf_unref(cc->conf);
                cc->conf = conf_current(s);
                cc->gen = gen;
        }
        return cc->conf;
}

void conf_cache_drop(struct conf_cache *cc)
{
        conf_unref(cc->conf);
        cc->conf = NULL;
}
