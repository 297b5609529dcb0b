/* Unit: pichat.ini parsing and validation (conf_load, conf_load_string),
 * the shipped defaults, error reporting, and the reference counted
 * configuration in force (conf_ref, conf_unref, conf_store). */
#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "config.h"
#include "harness.h"
#include "log.h"
#include "quotes.h"
#include "suite.h"

#define NAME "test.ini"

/* Longest line conf/pichat.ini promises, without its line end. */
#define LINE_MAX_TEXT 197

static struct conf_errors errs;
static char tmpdir[64];

/* ---- helpers ---------------------------------------------------------- */

static void dump_errors(const char *what)
{
        fprintf(stderr, "--- %s: %u error(s)\n", what, errs.n);
        for (unsigned i = 0; i < errs.n; i++)
                fprintf(stderr, "    %s\n", errs.msg[i]);
}

/* text must load without any error; the caller unrefs the result. */
static struct conf *load_ok(const char *text)
{
        struct conf *c = conf_load_string(NAME, text, &errs);

        if (!c || errs.n)
                dump_errors(text);
        ck_assert_msg(c != NULL, "rejected:\n%s", text);
        ck_assert_uint_eq(errs.n, 0);
        ck_assert_uint_eq(atomic_load(&c->refs), 1);
        return c;
}

/* Is there an error "FILE:LINE: ..." (or "FILE: ..." for line 0) whose
 * message contains reason? */
static bool has_error(const char *file, unsigned line, const char *reason)
{
        char prefix[CONF_TEXT_SIZE];

        if (line)
                snprintf(prefix, sizeof(prefix), "%s:%u: ", file, line);
        else
                snprintf(prefix, sizeof(prefix), "%s: ", file);
        for (unsigned i = 0; i < errs.n; i++) {
                size_t n = strlen(prefix);
                if (strncmp(errs.msg[i], prefix, n) == 0 && strstr(errs.msg[i] + n, reason))
                        return true;
        }
        return false;
}

/* text must be rejected with exactly one error, at line, naming reason. */
static void expect_error(const char *text, unsigned line, const char *reason)
{
        struct conf *c = conf_load_string(NAME, text, &errs);

        if (c || errs.n != 1 || !has_error(NAME, line, reason)) {
                dump_errors(text);
                fprintf(stderr, "    wanted: %s:%u: ...%s...\n", NAME, line, reason);
        }
        ck_assert_msg(c == NULL, "accepted:\n%s", text);
        ck_assert_uint_eq(errs.n, 1);
        ck_assert_msg(has_error(NAME, line, reason), "wrong error for:\n%s", text);
}

/* One key alone (and queues large enough for any line length, which a
 * long max_line_bytes needs: cross_queue_holds_a_line). */
static struct conf *load_key(const char *section, const char *key, const char *value)
{
        char text[1024];
        bool queue = strcmp(key, "max_queue_kib") == 0;

        snprintf(text, sizeof(text), "[%s]\n%s = %s\n%s", section, key, value,
                 queue ? "" : "[chat]\nmax_queue_kib = 65536\n");
        return load_ok(text);
}

static void expect_key_error(const char *section, const char *key, const char *value,
                             const char *reason)
{
        char text[1024];

        snprintf(text, sizeof(text), "; a comment\n[%s]\n%s = %s\n", section, key, value);
        expect_error(text, 3, reason);
}

static unsigned field_uint(const struct conf *c, size_t offset)
{
        return *(const unsigned *)((const char *)c + offset);
}

static bool field_bool(const struct conf *c, size_t offset)
{
        return *(const bool *)((const char *)c + offset);
}

static const char *field_text(const struct conf *c, size_t offset)
{
        return (const char *)c + offset;
}

/* A file in the temporary directory; returns its path in path. */
static void write_file(const char *name, const void *data, size_t len, char *path, size_t size)
{
        FILE *f;

        snprintf(path, size, "%s/%s", tmpdir, name);
        f = fopen(path, "w");
        ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
        ck_assert_uint_eq(fwrite(data, 1, len, f), len);
        ck_assert_int_eq(fclose(f), 0);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        (void)st;
        (void)flag;
        (void)ftw;
        chmod(path, 0700);
        return remove(path);
}

static void tmpdir_setup(void)
{
        snprintf(tmpdir, sizeof(tmpdir), "/tmp/pichat-conf.XXXXXX");
        if (!mkdtemp(tmpdir)) {
                perror("mkdtemp");
                abort();
        }
}

static void tmpdir_teardown(void)
{
        nftw(tmpdir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}

#define EQ_UINT(f) ck_assert_msg(a->f == b->f, #f ": %u, expected %u", \
                                 (unsigned)a->f, (unsigned)b->f)
#define EQ_STR(f)  ck_assert_msg(strcmp(a->f, b->f) == 0, #f ": '%s', expected '%s'", a->f, b->f)

/* Every field of a equals that of b (refs aside). */
static void assert_conf_eq(const struct conf *a, const struct conf *b)
{
        EQ_UINT(server.n_bind);
        for (unsigned i = 0; i < b->server.n_bind; i++)
                EQ_STR(server.bind[i]);
        EQ_UINT(server.max_clients);
        EQ_UINT(server.max_clients_per_ip);
        EQ_UINT(server.ipv6_prefix_len);
        EQ_UINT(server.thread_stack_kib);
        EQ_UINT(server.idle_timeout_s);
        EQ_UINT(server.line_timeout_s);
        EQ_UINT(server.max_line_bytes);

        EQ_UINT(echo.enabled);
        EQ_UINT(echo.port);
        EQ_STR(echo.prefix);
        EQ_STR(echo.welcome);

        EQ_UINT(udp.enabled);
        EQ_UINT(udp.port);
        EQ_STR(udp.prefix);
        EQ_UINT(udp.rate_per_source);
        EQ_UINT(udp.rate_total);

        EQ_UINT(chat.enabled);
        EQ_UINT(chat.port);
        EQ_STR(chat.motd);
        EQ_STR(chat.motd_file);
        EQ_STR(chat.default_room);
        EQ_STR(chat.rooms);
        EQ_UINT(chat.max_nick_len);
        EQ_UINT(chat.max_rooms);
        EQ_UINT(chat.max_room_members);
        EQ_UINT(chat.history);
        EQ_UINT(chat.max_queue_kib);
        EQ_UINT(chat.lines_per_sec);
        EQ_UINT(chat.burst);
        EQ_STR(chat.password);
        EQ_STR(chat.password_file);

        EQ_UINT(web.enabled);
        EQ_UINT(web.port);
        EQ_STR(web.title);
        EQ_STR(web.allowed_origins);
        EQ_UINT(web.status_json);
        EQ_UINT(web.tls_port.on);
        EQ_UINT(web.tls_port.port);
        EQ_UINT(chat.tls_port.on);
        EQ_UINT(chat.tls_port.port);

        EQ_STR(tls.certfile);
        EQ_STR(tls.keyfile);
        EQ_STR(tls.priority);
        ck_assert_ptr_eq(a->tls.creds, b->tls.creds);

        EQ_UINT(daytime.enabled);
        EQ_UINT(daytime.port);
        EQ_UINT(daytime.udp);
        EQ_STR(daytime.format);
        EQ_UINT(time.enabled);
        EQ_UINT(time.port);
        EQ_UINT(time.udp);
        EQ_UINT(qotd.enabled);
        EQ_UINT(qotd.port);
        EQ_UINT(qotd.udp);
        EQ_STR(qotd.file);
        ck_assert_msg((a->qotd.quotes == NULL) == (b->qotd.quotes == NULL), "qotd.quotes differ");

        EQ_UINT(access.allow.n);
        EQ_UINT(access.deny.n);
        ck_assert_msg(memcmp(&a->access, &b->access, sizeof(a->access)) == 0,
                      "[access] lists differ");

        EQ_UINT(log.level);

        /* Catches a field added to struct conf but not to the list above:
         * both sides start from conf_defaults(), which clears everything. */
        static struct conf x, y;
        memcpy(&x, a, sizeof(x));
        memcpy(&y, b, sizeof(y));
        atomic_store(&x.refs, 0);
        atomic_store(&y.refs, 0);
        x.qotd.quotes = y.qotd.quotes = NULL;   /* compared above */
        ck_assert_msg(memcmp(&x, &y, sizeof(x)) == 0, "struct conf differs in a field not compared");
}

/* ---- the keys --------------------------------------------------------- */

static const struct {
        const char *section, *key;
} all_keys[] = {
        { "server", "bind" },
        { "server", "max_clients" },
        { "server", "max_clients_per_ip" },
        { "server", "ipv6_prefix_len" },
        { "server", "thread_stack_kib" },
        { "server", "idle_timeout_s" },
        { "server", "line_timeout_s" },
        { "server", "max_line_bytes" },
        { "echo", "enabled" },
        { "echo", "port" },
        { "echo", "prefix" },
        { "echo", "welcome" },
        { "udp", "enabled" },
        { "udp", "port" },
        { "udp", "prefix" },
        { "udp", "rate_per_source" },
        { "udp", "rate_total" },
        { "chat", "enabled" },
        { "chat", "port" },
        { "chat", "motd" },
        { "chat", "motd_file" },
        { "chat", "default_room" },
        { "chat", "rooms" },
        { "chat", "max_nick_len" },
        { "chat", "max_rooms" },
        { "chat", "max_room_members" },
        { "chat", "history" },
        { "chat", "max_queue_kib" },
        { "chat", "lines_per_sec" },
        { "chat", "burst" },
        { "chat", "password" },
        { "chat", "password_file" },
        { "daytime", "enabled" },
        { "daytime", "port" },
        { "daytime", "udp" },
        { "daytime", "format" },
        { "time", "enabled" },
        { "time", "port" },
        { "time", "udp" },
        { "qotd", "enabled" },
        { "qotd", "port" },
        { "qotd", "udp" },
        { "qotd", "file" },
        { "chat", "tls_port" },
        { "access", "allow" },
        { "access", "deny" },
        { "log", "level" },
        { "tls", "certfile" },
        { "tls", "keyfile" },
        { "tls", "priority" },
};
#define N_ALL_KEYS ((int)(sizeof(all_keys) / sizeof(all_keys[0])))

/* Ranges as documented in conf/pichat.ini and bounds.h. */
static const struct {
        const char *section, *key;
        size_t offset;
        unsigned min, max;
} uint_keys[] = {
        { "server", "max_clients", offsetof(struct conf, server.max_clients),
          1, PICHAT_MAX_CLIENTS_MAX },
        { "server", "max_clients_per_ip", offsetof(struct conf, server.max_clients_per_ip),
          0, PICHAT_MAX_CLIENTS_MAX },
        { "server", "ipv6_prefix_len", offsetof(struct conf, server.ipv6_prefix_len), 32, 128 },
        { "server", "thread_stack_kib", offsetof(struct conf, server.thread_stack_kib),
          16, 8192 },
        { "server", "idle_timeout_s", offsetof(struct conf, server.idle_timeout_s),
          0, 7 * 24 * 3600 },
        { "server", "line_timeout_s", offsetof(struct conf, server.line_timeout_s),
          0, 7 * 24 * 3600 },
        { "server", "max_line_bytes", offsetof(struct conf, server.max_line_bytes),
          16, 65536 },
        { "udp", "rate_total", offsetof(struct conf, udp.rate_total), 0, PICHAT_UDP_RATE_MAX },
        { "udp", "rate_per_source", offsetof(struct conf, udp.rate_per_source),
          0, PICHAT_UDP_RATE_MAX },
        { "chat", "max_nick_len", offsetof(struct conf, chat.max_nick_len), 1, 64 },
        { "chat", "max_rooms", offsetof(struct conf, chat.max_rooms), 1, 100000 },
        { "chat", "max_room_members", offsetof(struct conf, chat.max_room_members),
          0, PICHAT_MAX_CLIENTS_MAX },
        { "chat", "history", offsetof(struct conf, chat.history), 0, 1000 },
        { "chat", "max_queue_kib", offsetof(struct conf, chat.max_queue_kib), 4, 65536 },
        { "chat", "lines_per_sec", offsetof(struct conf, chat.lines_per_sec), 1, 100000 },
        { "chat", "burst", offsetof(struct conf, chat.burst), 1, 100000 },
};
#define N_UINT_KEYS ((int)(sizeof(uint_keys) / sizeof(uint_keys[0])))

static const struct {
        const char *section;
        size_t offset;
} port_keys[] = {
        { "echo", offsetof(struct conf, echo.port) },
        { "udp", offsetof(struct conf, udp.port) },
        { "chat", offsetof(struct conf, chat.port) },
        { "web", offsetof(struct conf, web.port) },
        { "daytime", offsetof(struct conf, daytime.port) },
        { "time", offsetof(struct conf, time.port) },
        { "qotd", offsetof(struct conf, qotd.port) },
};
#define N_PORT_KEYS ((int)(sizeof(port_keys) / sizeof(port_keys[0])))

static const struct {
        const char *section;
        size_t offset;
} bool_keys[] = {
        { "echo", offsetof(struct conf, echo.enabled) },
        { "udp", offsetof(struct conf, udp.enabled) },
        { "chat", offsetof(struct conf, chat.enabled) },
        { "web", offsetof(struct conf, web.enabled) },
        /* qotd's needs its quotes file: answer_keys. */
        { "daytime", offsetof(struct conf, daytime.enabled) },
        { "time", offsetof(struct conf, time.enabled) },
};
#define N_BOOL_KEYS ((int)(sizeof(bool_keys) / sizeof(bool_keys[0])))

static const struct {
        const char *section, *key;
        size_t offset;
} text_keys[] = {
        { "echo", "prefix", offsetof(struct conf, echo.prefix) },
        { "echo", "welcome", offsetof(struct conf, echo.welcome) },
        { "udp", "prefix", offsetof(struct conf, udp.prefix) },
        { "chat", "motd", offsetof(struct conf, chat.motd) },
        { "chat", "motd_file", offsetof(struct conf, chat.motd_file) },
        { "web", "title", offsetof(struct conf, web.title) },
        { "qotd", "file", offsetof(struct conf, qotd.file) },
};

/* ---- defaults --------------------------------------------------------- */

static const char *shipped_ini(void)
{
        const char *p = getenv("PICHAT_INI");

        ck_assert_msg(p && *p, "PICHAT_INI is not set (run through meson test)");
        return p;
}

START_TEST(defaults_match_shipped_ini)
{
        struct conf def;
        struct conf *c = conf_load(shipped_ini(), &errs);

        if (!c)
                dump_errors(shipped_ini());
        ck_assert_ptr_nonnull(c);
        ck_assert_uint_eq(errs.n, 0);
        conf_defaults(&def);
        assert_conf_eq(c, &def);
        conf_unref(c);
}
END_TEST

START_TEST(defaults_values)
{
        struct conf d;

        /* The documented values themselves, not only their agreement. */
        conf_defaults(&d);
        ck_assert_uint_eq(atomic_load(&d.refs), 1);
        ck_assert_uint_eq(d.server.n_bind, 1);
        ck_assert_str_eq(d.server.bind[0], "::");
        ck_assert_uint_eq(d.server.max_clients, 1024);
        ck_assert_uint_eq(d.server.max_clients_per_ip, 64);
        ck_assert_uint_eq(d.server.ipv6_prefix_len, 64);
        ck_assert_uint_eq(d.server.thread_stack_kib, 64);
        ck_assert_uint_eq(d.server.idle_timeout_s, 900);
        ck_assert_uint_eq(d.server.line_timeout_s, 60);
        ck_assert_uint_eq(d.server.max_line_bytes, 1024);
        ck_assert(d.echo.enabled);
        ck_assert_uint_eq(d.echo.port, 8888);
        ck_assert_str_eq(d.echo.prefix, "OK...");
        ck_assert_str_eq(d.echo.welcome, "Welcome to the server. Type something and hit enter");
        ck_assert(d.udp.enabled);
        ck_assert_uint_eq(d.udp.port, 8888);
        ck_assert_str_eq(d.udp.prefix, "OK...");
        ck_assert_uint_eq(d.udp.rate_per_source, 100);
        ck_assert_uint_eq(d.udp.rate_total, 1000);
        ck_assert(d.chat.enabled);
        ck_assert_uint_eq(d.chat.port, 5000);
        ck_assert_str_eq(d.chat.motd, "Be nice, and have fun.");
        ck_assert_str_eq(d.chat.motd_file, "");
        ck_assert_str_eq(d.chat.default_room, "lobby");
        ck_assert_str_eq(d.chat.rooms, "lobby");
        ck_assert_uint_eq(d.chat.max_nick_len, 16);
        ck_assert_uint_eq(d.chat.max_rooms, 256);
        ck_assert_uint_eq(d.chat.max_room_members, 0);
        ck_assert_uint_eq(d.chat.history, 20);
        ck_assert_uint_eq(d.chat.max_queue_kib, 64);
        ck_assert_uint_eq(d.chat.lines_per_sec, 10);
        ck_assert_uint_eq(d.chat.burst, 20);
        ck_assert_str_eq(d.chat.password, "");
        ck_assert(!d.chat.tls_port.on);
        ck_assert(!d.web.tls_port.on);
        ck_assert_str_eq(d.tls.certfile, "");
        ck_assert_str_eq(d.tls.keyfile, "");
        ck_assert_str_eq(d.tls.priority, "SECURE:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2");
        ck_assert_ptr_null(d.tls.creds);
        ck_assert_uint_eq(d.access.allow.n, 0);
        ck_assert_uint_eq(d.access.deny.n, 0);
        ck_assert_int_eq(d.log.level, LOG_INFO);
        /* Off, on the RFCs' ports, over UDP too once on. */
        ck_assert(!d.daytime.enabled);
        ck_assert_uint_eq(d.daytime.port, 13);
        ck_assert(d.daytime.udp);
        ck_assert_str_eq(d.daytime.format, "%A, %B %-d, %Y %H:%M:%S %Z");
        ck_assert(!d.time.enabled);
        ck_assert_uint_eq(d.time.port, 37);
        ck_assert(d.time.udp);
        ck_assert(!d.qotd.enabled);
        ck_assert_uint_eq(d.qotd.port, 17);
        ck_assert(d.qotd.udp);
        ck_assert_str_eq(d.qotd.file, "");
        ck_assert_str_eq(conf_quotes_path(&d), PICHAT_DEFAULT_QUOTES);
        ck_assert_ptr_null(d.qotd.quotes);
}
END_TEST

/* conf/pichat.ini says it lists every key: each one the parser knows is
 * there, in its section. */
START_TEST(shipped_ini_lists_every_key)
{
        FILE *f = fopen(shipped_ini(), "r");
        char line[512], section[64] = "";
        bool seen[N_ALL_KEYS] = { false };

        ck_assert_ptr_nonnull(f);
        while (fgets(line, sizeof(line), f)) {
                char *p = line + strspn(line, " \t");
                size_t n;

                ck_assert_msg(strchr(line, '\n') && strlen(line) - 1 <= LINE_MAX_TEXT,
                              "shipped line too long: %s", line);
                if (*p == '[') {
                        n = strcspn(p + 1, "]");
                        snprintf(section, sizeof(section), "%.*s", (int)n, p + 1);
                        continue;
                }
                if (*p == ';' || *p == '#' || *p == '\n')
                        continue;
                n = strcspn(p, " \t=");
                for (int i = 0; i < N_ALL_KEYS; i++)
                        if (strcmp(all_keys[i].section, section) == 0 &&
                            strlen(all_keys[i].key) == n && strncmp(all_keys[i].key, p, n) == 0)
                                seen[i] = true;
        }
        fclose(f);
        for (int i = 0; i < N_ALL_KEYS; i++)
                ck_assert_msg(seen[i], "[%s] %s is not in pichat.ini",
                              all_keys[i].section, all_keys[i].key);
}
END_TEST

/* Every key is known to the parser in its own section, and only there. */
START_TEST(every_key_known)
{
        static const char *const sections[] = { "server", "echo", "udp", "chat", "access", "log",
                                                "daytime", "time", "qotd" };
        const char *sec = all_keys[_i].section, *key = all_keys[_i].key;
        char text[256];
        struct conf *c;

        /* An out-of-type value: the complaint must be about the value. */
        snprintf(text, sizeof(text), "[%s]\n%s = \x01\n", sec, key);
        c = conf_load_string(NAME, text, &errs);
        ck_assert_ptr_null(c);
        ck_assert_uint_eq(errs.n, 1);
        ck_assert_msg(!strstr(errs.msg[0], "unknown key"), "%s", errs.msg[0]);

        for (size_t s = 0; s < sizeof(sections) / sizeof(sections[0]); s++) {
                bool elsewhere = false;
                if (strcmp(sections[s], sec) == 0)
                        continue;
                for (int i = 0; i < N_ALL_KEYS; i++)
                        if (strcmp(all_keys[i].section, sections[s]) == 0 &&
                            strcmp(all_keys[i].key, key) == 0)
                                elsewhere = true;
                if (elsewhere)
                        continue;       /* "port", "enabled", "prefix" */
                snprintf(text, sizeof(text), "[%s]\n%s = 1\n", sections[s], key);
                char reason[128];
                snprintf(reason, sizeof(reason), "unknown key '%s' in section [%s]",
                         key, sections[s]);
                expect_error(text, 2, reason);
        }
}
END_TEST

START_TEST(empty_file_gives_defaults)
{
        static const char *const empties[] = {
                "",
                "\n",
                "\n\n   \n\t\n",
                "; only comments\n# and hashes\n   ; indented\n",
                "\r\n; CRLF comment\r\n",
        };
        struct conf def;
        char path[128];

        conf_defaults(&def);
        for (size_t i = 0; i < sizeof(empties) / sizeof(empties[0]); i++) {
                struct conf *c = load_ok(empties[i]);
                assert_conf_eq(c, &def);
                conf_unref(c);
        }

        write_file("empty.ini", "", 0, path, sizeof(path));
        struct conf *c = conf_load(path, &errs);
        ck_assert_ptr_nonnull(c);
        ck_assert_uint_eq(errs.n, 0);
        assert_conf_eq(c, &def);
        conf_unref(c);
}
END_TEST

/* ---- every key parsed ------------------------------------------------- */

START_TEST(bool_spellings)
{
        static const char *const yes[] = {
                "yes", "YES", "Yes", "yEs", "true", "TRUE", "True", "on", "ON", "On", "1",
        };
        static const char *const no[] = {
                "no", "NO", "No", "nO", "false", "FALSE", "fAlSe", "off", "OFF", "Off", "0",
        };
        const char *sec = bool_keys[_i].section;
        size_t off = bool_keys[_i].offset;
        char text[256];

        for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
                struct conf *c = load_key(sec, "enabled", no[i]);
                ck_assert_msg(!field_bool(c, off), "[%s] enabled = %s", sec, no[i]);
                conf_unref(c);
        }
        for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
                snprintf(text, sizeof(text), "[%s]\nenabled = no\nenabled = %s\n", sec, yes[i]);
                struct conf *c = load_ok(text);
                ck_assert_msg(field_bool(c, off), "[%s] enabled = %s", sec, yes[i]);
                conf_unref(c);
        }
}
END_TEST

START_TEST(bool_bad)
{
        static const char *const bad[] = {
                "maybe", "", "2", "-1", "01", "yess", "y", "n", "enabled", "t", "f",
                "\"yes\"", "yes please", "oui",
        };
        const char *sec = bool_keys[_i].section;
        char reason[128];

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                snprintf(reason, sizeof(reason), "enabled: '%s' is not a boolean", bad[i]);
                expect_key_error(sec, "enabled", bad[i], reason);
        }
}
END_TEST

START_TEST(uint_range)
{
        const char *sec = uint_keys[_i].section, *key = uint_keys[_i].key;
        unsigned lo = uint_keys[_i].min, hi = uint_keys[_i].max;
        size_t off = uint_keys[_i].offset;
        const unsigned good[] = { lo, hi, lo + (hi - lo) / 2, lo + 1, hi - 1 };
        char v[64], reason[128];
        struct conf *c;

        for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
                snprintf(v, sizeof(v), "%u", good[i]);
                c = load_key(sec, key, v);
                ck_assert_uint_eq(field_uint(c, off), good[i]);
                conf_unref(c);
        }
        /* leading zeros are still decimal */
        snprintf(v, sizeof(v), "000%u", hi);
        c = load_key(sec, key, v);
        ck_assert_uint_eq(field_uint(c, off), hi);
        conf_unref(c);

        if (lo > 0) {
                snprintf(v, sizeof(v), "%u", lo - 1);
                snprintf(reason, sizeof(reason), "%s: %s is out of range (%u-%u)", key, v, lo, hi);
                expect_key_error(sec, key, v, reason);
        }
        snprintf(v, sizeof(v), "%u", hi + 1);
        snprintf(reason, sizeof(reason), "%s: %s is out of range (%u-%u)", key, v, lo, hi);
        expect_key_error(sec, key, v, reason);
        /* Values that would wrap around in an unsigned or an unsigned long. */
        static const char *const huge[] = {
                "4294967296", "4294967297", "18446744073709551615",
                "18446744073709551616", "99999999999999999999999999999",
        };
        for (size_t i = 0; i < sizeof(huge) / sizeof(huge[0]); i++) {
                snprintf(reason, sizeof(reason), "%s: %s is out of range", key, huge[i]);
                expect_key_error(sec, key, huge[i], reason);
        }
}
END_TEST

START_TEST(uint_negative)
{
        static const char *const neg[] = { "-1", "-0", "-16", "-4294967295", "-99999999999999999999" };
        const char *sec = uint_keys[_i].section, *key = uint_keys[_i].key;
        char reason[128];

        for (size_t i = 0; i < sizeof(neg) / sizeof(neg[0]); i++) {
                snprintf(reason, sizeof(reason), "%s: must not be negative (got '%s')", key, neg[i]);
                expect_key_error(sec, key, neg[i], reason);
        }
}
END_TEST

static const char *const not_numbers[] = {
        "12abc", "0x10", "+5", "", "1.5", "1e3", "1,000", "1 000", "ten", "\"12\"", "12k",
        "0b1", "\xd9\xa1", "64 KiB",
};

START_TEST(uint_not_a_number)
{
        const char *sec = uint_keys[_i].section, *key = uint_keys[_i].key;
        char reason[128];

        for (size_t i = 0; i < sizeof(not_numbers) / sizeof(not_numbers[0]); i++) {
                snprintf(reason, sizeof(reason), "%s: '%s' is not a number", key, not_numbers[i]);
                expect_key_error(sec, key, not_numbers[i], reason);
        }
}
END_TEST

START_TEST(port_values)
{
        const char *sec = port_keys[_i].section;
        size_t off = port_keys[_i].offset;
        static const unsigned good[] = { 0, 1, 80, 1234, 65534, 65535 };
        static const char *const range[] = {
                "65536", "65537", "70000", "100000", "4294967296", "18446744073709551616",
        };
        char v[32], reason[128];

        for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
                snprintf(v, sizeof(v), "%u", good[i]);
                struct conf *c = load_key(sec, "port", v);
                ck_assert_uint_eq(field_uint(c, off), good[i]);
                conf_unref(c);
        }
        for (size_t i = 0; i < sizeof(range) / sizeof(range[0]); i++) {
                snprintf(reason, sizeof(reason),
                         "port: %s is out of range (0-65535, 0 = any free port)", range[i]);
                expect_key_error(sec, "port", range[i], reason);
        }
        expect_key_error(sec, "port", "-1", "port: must not be negative (got '-1')");
        for (size_t i = 0; i < sizeof(not_numbers) / sizeof(not_numbers[0]); i++) {
                snprintf(reason, sizeof(reason), "port: '%s' is not a number", not_numbers[i]);
                expect_key_error(sec, "port", not_numbers[i], reason);
        }
}
END_TEST

START_TEST(stack_and_line_bounds)
{
        struct conf *c;

        /* The issue's own examples, spelled out. */
        expect_key_error("server", "thread_stack_kib", "15", "thread_stack_kib: 15 is out of range");
        expect_key_error("server", "thread_stack_kib", "0", "thread_stack_kib: 0 is out of range");
        c = load_key("server", "thread_stack_kib", "16");
        ck_assert_uint_eq(c->server.thread_stack_kib, 16);
        conf_unref(c);
        expect_key_error("server", "thread_stack_kib", "8193", "out of range (16-8192)");

        expect_key_error("server", "max_line_bytes", "15", "max_line_bytes: 15 is out of range");
        c = load_key("server", "max_line_bytes", "16");
        ck_assert_uint_eq(c->server.max_line_bytes, 16);
        conf_unref(c);
        c = load_key("server", "max_line_bytes", "65536");
        ck_assert_uint_eq(c->server.max_line_bytes, 65536);
        conf_unref(c);
        expect_key_error("server", "max_line_bytes", "65537", "out of range (16-65536)");
}
END_TEST

START_TEST(text_values)
{
        static const struct {
                const char *in, *want;
        } cases[] = {
                { "hello", "hello" },
                { "hello   world", "hello   world" },
                { "   padded   ", "padded" },                   /* inih strips */
                { "\"  two  spaces  \"", "  two  spaces  " },   /* quotes keep them */
                { "\" \"", " " },
                { "\"\"", "" },
                { "", "" },
                { "say \"hi\"", "say \"hi\"" },
                { "\"half", "\"half" },
                { "half\"", "half\"" },
                { "\"", "\"" },
                { "\"\"\"", "\"" },
                { "a=b:c", "a=b:c" },
                { "a;b", "a;b" },                               /* ';' after text */
                { "kept ; an inline comment", "kept" },
                { "h\xc3\xa9llo \xe2\x98\xba", "h\xc3\xa9llo \xe2\x98\xba" },
                { "[not a section]", "[not a section]" },
                { "# not a comment", "# not a comment" },
        };
        const char *sec = text_keys[_i].section, *key = text_keys[_i].key;
        size_t off = text_keys[_i].offset;

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                struct conf *c = load_key(sec, key, cases[i].in);
                ck_assert_msg(strcmp(field_text(c, off), cases[i].want) == 0,
                              "[%s] %s = %s: got '%s', expected '%s'", sec, key, cases[i].in,
                              field_text(c, off), cases[i].want);
                conf_unref(c);
        }
}
END_TEST

START_TEST(text_control_characters)
{
        static const char *const bad[] = {
                "a\x01" "b", "a\tb", "bell\a", "\x1b[31mred", "del\x7f", "\"\x02\"",
                "a\x1f", "\"\tquoted tab\"",
        };
        const char *sec = text_keys[_i].section, *key = text_keys[_i].key;
        char reason[128];

        snprintf(reason, sizeof(reason), "%s: control characters are not allowed", key);
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                expect_key_error(sec, key, bad[i], reason);
}
END_TEST

/* The longest value that fits on a line is kept whole, in every text key. */
START_TEST(text_longest_value)
{
        const char *sec = text_keys[_i].section, *key = text_keys[_i].key;
        size_t off = text_keys[_i].offset;
        size_t room = LINE_MAX_TEXT - strlen(key) - strlen(" = ");
        char value[256], text[512];

        memset(value, 'v', room);
        value[0] = 'A';
        value[room - 1] = 'Z';
        value[room] = '\0';
        snprintf(text, sizeof(text), "[%s]\n%s = %s\n", sec, key, value);
        struct conf *c = load_ok(text);
        ck_assert_str_eq(field_text(c, off), value);
        conf_unref(c);

        /* One byte more is an error, never a value missing its end. */
        snprintf(text, sizeof(text), "[%s]\n%s = %sZ\n", sec, key, value);
        expect_error(text, 2, "line too long (max 197 bytes)");
}
END_TEST

/* Room names are checked where they are written, so --check-config
 * refuses every name the room registry would. */
START_TEST(room_names)
{
        char long_name[PICHAT_ROOM_NAME_MAX + 2], text[256];
        struct conf *c;

        c = load_ok("[chat]\ndefault_room = #Main\nrooms = lobby, #games,music  LOBBY Games\n");
        ck_assert_str_eq(c->chat.default_room, "Main");
        ck_assert_str_eq(c->chat.rooms, "lobby, #games,music  LOBBY Games");
        ck_assert_uint_eq(c->chat.room_list.n, 3);
        ck_assert_str_eq(c->chat.room_list.name[0], "lobby");
        ck_assert_str_eq(c->chat.room_list.name[1], "games");
        ck_assert_str_eq(c->chat.room_list.name[2], "music");
        conf_unref(c);
        c = load_ok("[chat]\nrooms = \" , \"\n");
        ck_assert_uint_eq(c->chat.room_list.n, 0);
        conf_unref(c);

        memset(long_name, 'a', sizeof(long_name) - 1);
        long_name[sizeof(long_name) - 1] = '\0';
        expect_error("[chat]\ndefault_room = bad room\n", 2,
                     "default_room: 'bad room' is not a room name");
        expect_error("[chat]\ndefault_room = #\n", 2, "default_room: '#' is not a room name");
        expect_error("[chat]\ndefault_room = l\xc3\xb6" "bby\n", 2, "is not a room name");
        snprintf(text, sizeof(text), "[chat]\ndefault_room = %s\n", long_name);
        expect_error(text, 2, "is not a room name (an optional # and 1 to 64 of");
        expect_error("[chat]\n\nrooms = games, b@d\n", 3, "rooms: 'b@d' is not a room name");
        expect_error("[chat]\nrooms = games ##x\n", 2, "rooms: '##x' is not a room name");
        expect_error("[chat]\nrooms = lobby no/slash\n", 2, "rooms: 'no/slash' is not a room name");
        snprintf(text, sizeof(text), "[chat]\nrooms = lobby %s\n", long_name);
        expect_error(text, 2, "is not a room name");

        /* The longest name is fine. */
        long_name[PICHAT_ROOM_NAME_MAX] = '\0';
        snprintf(text, sizeof(text), "[chat]\nrooms = %s\ndefault_room = %s\n", long_name,
                 long_name);
        c = load_ok(text);
        ck_assert_str_eq(c->chat.room_list.name[0], long_name);
        ck_assert_str_eq(c->chat.default_room, long_name);
        conf_unref(c);
}
END_TEST

START_TEST(bind_lists)
{
        static const struct {
                const char *in;
                unsigned n;
                const char *want[PICHAT_BIND_MAX];
        } cases[] = {
                { "::", 1, { "::" } },
                { "127.0.0.1", 1, { "127.0.0.1" } },
                { "::1", 1, { "::1" } },
                { "0.0.0.0", 1, { "0.0.0.0" } },
                { "::1, 127.0.0.1", 2, { "::1", "127.0.0.1" } },
                { "127.0.0.1,::1", 2, { "127.0.0.1", "::1" } },
                { "0.0.0.0 ::", 2, { "0.0.0.0", "::" } },
                { "10.0.0.1   192.168.1.2", 2, { "10.0.0.1", "192.168.1.2" } },
                { ", 10.0.0.1 ,, fe80::1 ,", 2, { "10.0.0.1", "fe80::1" } },
                { "::ffff:127.0.0.1", 1, { "::ffff:127.0.0.1" } },
                { "2001:db8::1 2001:0db8:0000:0000:0000:0000:0000:0002", 2,
                  { "2001:db8::1", "2001:0db8:0000:0000:0000:0000:0000:0002" } },
                { "1.1.1.1 2.2.2.2 3.3.3.3 4.4.4.4 ::5 ::6 ::7 ::8", 8,
                  { "1.1.1.1", "2.2.2.2", "3.3.3.3", "4.4.4.4", "::5", "::6", "::7", "::8" } },
        };

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                struct conf *c = load_key("server", "bind", cases[i].in);
                ck_assert_msg(c->server.n_bind == cases[i].n, "bind = %s: %u addresses",
                              cases[i].in, c->server.n_bind);
                for (unsigned k = 0; k < cases[i].n; k++)
                        ck_assert_str_eq(c->server.bind[k], cases[i].want[k]);
                conf_unref(c);
        }

        /* A later bind replaces an earlier one entirely. */
        struct conf *c = load_ok("[server]\nbind = 1.1.1.1 2.2.2.2 ::3\nbind = ::1\n");
        ck_assert_uint_eq(c->server.n_bind, 1);
        ck_assert_str_eq(c->server.bind[0], "::1");
        conf_unref(c);
}
END_TEST

START_TEST(bind_bad)
{
        static const struct {
                const char *in, *bad;
        } cases[] = {
                { "localhost", "localhost" },
                { "1.2.3.256", "1.2.3.256" },
                { "1.2.3", "1.2.3" },
                { "::g", "::g" },
                { "127.0.0.1:80", "127.0.0.1:80" },
                { "[::1]", "[::1]" },
                { "*", "*" },
                { "fe80::1%eth0", "fe80::1%eth0" },
                { "::1 127.0.0.1 nope", "nope" },
                { "\"::\"", "\"::\"" },
                { "::1;127.0.0.1", "::1;127.0.0.1" },
        };
        char reason[128];

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                snprintf(reason, sizeof(reason), "bind: '%s' is not an IPv4 or IPv6 address",
                         cases[i].bad);
                expect_key_error("server", "bind", cases[i].in, reason);
        }
        expect_key_error("server", "bind", "", "bind: needs at least one address");
        expect_key_error("server", "bind", ", ,", "bind: needs at least one address");
        expect_key_error("server", "bind", "::1 ::2 ::3 ::4 ::5 ::6 ::7 ::8 ::9",
                         "bind: more than 8 addresses");
}
END_TEST

START_TEST(access_lists)
{
        char buf[64];
        struct conf *c;

        c = load_ok("[access]\nallow = 10.0.0.0/8, ::1\ndeny = 10.6.6.0/24\n"
                    "allow = ::ffff:192.168.0.0/112\nallow =\n");
        /* Lines add up, an empty one adds nothing. */
        ck_assert_uint_eq(c->access.allow.n, 3);
        ck_assert_uint_eq(c->access.deny.n, 1);
        acl_format(&c->access.allow.p[0], buf, sizeof(buf));
        ck_assert_str_eq(buf, "10.0.0.0/8");
        acl_format(&c->access.allow.p[1], buf, sizeof(buf));
        ck_assert_str_eq(buf, "::1/128");
        acl_format(&c->access.allow.p[2], buf, sizeof(buf));
        ck_assert_str_eq(buf, "192.168.0.0/16");
        acl_format(&c->access.deny.p[0], buf, sizeof(buf));
        ck_assert_str_eq(buf, "10.6.6.0/24");
        conf_unref(c);

        expect_key_error("access", "allow", "10.0.0.0/8 nope",
                         "allow: 'nope' is not an address or prefix");
        expect_key_error("access", "deny", "10.0.0.1/8", "deny: '10.0.0.1/8' has bits set");
        expect_key_error("access", "deny", "::/200", "deny: '::/200': prefix length must be 0-128");
        expect_key_error("access", "allow", "\"10.0.0.0/8\"", "is not an address or prefix");
}
END_TEST

START_TEST(access_list_bound)
{
        /* PICHAT_ACL_MAX prefixes fit, over lines; one more is an error at its line. */
        char *text = malloc(64 * 1024);
        size_t n = 0;
        unsigned lines = 0;

        ck_assert_ptr_nonnull(text);
        n += (size_t)sprintf(text + n, "[access]\n");
        lines++;
        for (unsigned i = 0; i < PICHAT_ACL_MAX; i += 8) {
                n += (size_t)sprintf(text + n, "deny =");
                for (unsigned k = i; k < i + 8; k++)
                        n += (size_t)sprintf(text + n, " 10.%u.%u.0/24", k / 256, k % 256);
                n += (size_t)sprintf(text + n, "\n");
                lines++;
        }
        struct conf *c = load_ok(text);
        ck_assert_uint_eq(c->access.deny.n, PICHAT_ACL_MAX);
        conf_unref(c);
        sprintf(text + n, "deny = 11.0.0.0/8\n");
        expect_error(text, lines + 1, "deny: more than 256 prefixes");
        free(text);
}
END_TEST

START_TEST(password_values)
{
        static const struct {
                const char *in, *want;
        } good[] = {
                { "s3cret", "s3cret" },
                { "correct horse battery staple", "correct horse battery staple" },
                { "  padded  ", "padded" },                     /* inih strips */
                { "\"quoted\"", "quoted" },
                { "p\xc3\xa4ss", "p\xc3\xa4ss" },
                { "", "" },
        };
        static const struct {
                const char *in, *why;
        } bad[] = {
                { "\" leading\"", "password: cannot begin or end with a space" },
                { "\"trailing \"", "password: cannot begin or end with a space" },
                { "\" \"", "password: cannot begin or end with a space" },
                { "p\xff\xfess", "password: must be valid UTF-8" },
                { "p\xc3", "password: must be valid UTF-8" },
                { "tab\there", "password: control characters are not allowed" },
        };

        for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
                struct conf *c = load_key("chat", "password", good[i].in);
                ck_assert_str_eq(c->chat.password, good[i].want);
                conf_unref(c);
        }
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                expect_key_error("chat", "password", bad[i].in, bad[i].why);
                /* the value itself is never shown */
                ck_assert_msg(!strstr(errs.msg[0], bad[i].in + 1), "%s", errs.msg[0]);
        }
}
END_TEST

START_TEST(log_levels)
{
        static const struct {
                const char *in;
                int want;
        } cases[] = {
                { "debug", LOG_DEBUG }, { "DEBUG", LOG_DEBUG },
                { "info", LOG_INFO }, { "Info", LOG_INFO },
                { "notice", LOG_NOTICE }, { "NOTICE", LOG_NOTICE },
                { "warning", LOG_WARNING }, { "Warning", LOG_WARNING },
                { "error", LOG_ERR }, { "ERROR", LOG_ERR },
        };
        static const char *const bad[] = {
                "verbose", "warn", "err", "critical", "", "7", "info debug", "\"info\"",
        };
        char reason[160];

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                struct conf *c = load_key("log", "level", cases[i].in);
                ck_assert_int_eq(c->log.level, cases[i].want);
                conf_unref(c);
        }
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                snprintf(reason, sizeof(reason),
                         "level: '%s' is not a log level (debug, info, notice, warning, error)",
                         bad[i]);
                expect_key_error("log", "level", bad[i], reason);
        }
}
END_TEST

/* A whole file setting every key, to something other than its default. */
START_TEST(full_file)
{
        static const char text[] =
                "; every key\n"
                "[server]\n"
                "bind = 127.0.0.1, ::1\n"
                "max_clients = 10\n"
                "max_clients_per_ip = 0\n"
                "thread_stack_kib = 128\n"
                "idle_timeout_s = 0\n"
                "line_timeout_s = 5\n"
                "max_line_bytes = 512\n"
                "[echo]\n"
                "enabled = off\n"
                "port = 7007\n"
                "prefix = \"> \"\n"
                "welcome = hello there\n"
                "[udp]\n"
                "enabled = TRUE\n"
                "port = 0\n"
                "prefix = U:\n"
                "rate_per_source = 0\n"
                "[chat]\n"
                "enabled = 1\n"
                "port = 7777\n"
                "motd = Have fun\n"
                "motd_file = /etc/pichat/motd\n"
                "default_room = main\n"
                "rooms = main off-topic\n"
                "max_nick_len = 32\n"
                "max_rooms = 10\n"
                "max_room_members = 50\n"
                "history = 0\n"
                "max_queue_kib = 4\n"
                "lines_per_sec = 2\n"
                "burst = 3\n"
                "password = open sesame\n"
                "[access]\n"
                "allow = 192.168.0.0/16 fd00::/8\n"
                "deny = 192.168.1.66\n"
                "[log]\n"
                "level = warning\n";
        struct conf *c = load_ok(text);

        ck_assert_uint_eq(c->server.n_bind, 2);
        ck_assert_str_eq(c->server.bind[0], "127.0.0.1");
        ck_assert_str_eq(c->server.bind[1], "::1");
        ck_assert_uint_eq(c->server.max_clients, 10);
        ck_assert_uint_eq(c->server.max_clients_per_ip, 0);
        ck_assert_uint_eq(c->server.thread_stack_kib, 128);
        ck_assert_uint_eq(c->server.idle_timeout_s, 0);
        ck_assert_uint_eq(c->server.line_timeout_s, 5);
        ck_assert_uint_eq(c->server.max_line_bytes, 512);
        ck_assert(!c->echo.enabled);
        ck_assert_uint_eq(c->echo.port, 7007);
        ck_assert_str_eq(c->echo.prefix, "> ");
        ck_assert_str_eq(c->echo.welcome, "hello there");
        ck_assert(c->udp.enabled);
        ck_assert_uint_eq(c->udp.port, 0);
        ck_assert_str_eq(c->udp.prefix, "U:");
        ck_assert_uint_eq(c->udp.rate_per_source, 0);
        ck_assert(c->chat.enabled);
        ck_assert_uint_eq(c->chat.port, 7777);
        ck_assert_str_eq(c->chat.motd, "Have fun");
        ck_assert_str_eq(c->chat.motd_file, "/etc/pichat/motd");
        ck_assert_str_eq(c->chat.default_room, "main");
        ck_assert_str_eq(c->chat.rooms, "main off-topic");
        ck_assert_uint_eq(c->chat.max_nick_len, 32);
        ck_assert_uint_eq(c->chat.max_rooms, 10);
        ck_assert_uint_eq(c->chat.max_room_members, 50);
        ck_assert_uint_eq(c->chat.history, 0);
        ck_assert_uint_eq(c->chat.max_queue_kib, 4);
        ck_assert_uint_eq(c->chat.lines_per_sec, 2);
        ck_assert_uint_eq(c->chat.burst, 3);
        ck_assert_str_eq(c->chat.password, "open sesame");
        ck_assert_uint_eq(c->access.allow.n, 2);
        ck_assert_uint_eq(c->access.deny.n, 1);
        ck_assert_int_eq(c->log.level, LOG_WARNING);
        conf_unref(c);
}
END_TEST

/* The INI syntax inih accepts and pichat documents. */
START_TEST(syntax_accepted)
{
        struct conf *c;

        c = load_ok("[echo]\nport: 1234\n");                    /* ':' like '=' */
        ck_assert_uint_eq(c->echo.port, 1234);
        conf_unref(c);

        c = load_ok("[echo]\nport=1234\nprefix=x\n");           /* no spaces */
        ck_assert_uint_eq(c->echo.port, 1234);
        ck_assert_str_eq(c->echo.prefix, "x");
        conf_unref(c);

        c = load_ok("  [echo]  \n\tport   =   1234   \n");     /* padding */
        ck_assert_uint_eq(c->echo.port, 1234);
        conf_unref(c);

        /* An indented line is a key of its own, never a continuation. */
        c = load_ok("[echo]\nprefix = a\n    welcome = b\n");
        ck_assert_str_eq(c->echo.prefix, "a");
        ck_assert_str_eq(c->echo.welcome, "b");
        conf_unref(c);

        c = load_ok("[echo]\r\nprefix = crlf\r\nport = 1\r\n");
        ck_assert_str_eq(c->echo.prefix, "crlf");
        ck_assert_uint_eq(c->echo.port, 1);
        conf_unref(c);

        c = load_ok("[echo]\nport = 4321");                     /* no final newline */
        ck_assert_uint_eq(c->echo.port, 4321);
        conf_unref(c);

        c = load_ok("[echo]\n; port = 1\n# port = 2\nport = 3 ; inline comment\n");
        ck_assert_uint_eq(c->echo.port, 3);
        conf_unref(c);

        c = load_ok("[echo] ; section comment\nport = 3\n[udp]# another\nport = 4\n");
        ck_assert_uint_eq(c->echo.port, 3);
        ck_assert_uint_eq(c->udp.port, 4);
        conf_unref(c);

        /* Later keys win, sections may repeat. */
        c = load_ok("[echo]\nport = 1\n[chat]\nport = 2\n[echo]\nport = 3\n");
        ck_assert_uint_eq(c->echo.port, 3);
        ck_assert_uint_eq(c->chat.port, 2);
        conf_unref(c);

        /* A UTF-8 byte order mark, as some editors write. */
        c = load_ok("\xef\xbb\xbf[echo]\nport = 99\n");
        ck_assert_uint_eq(c->echo.port, 99);
        conf_unref(c);
}
END_TEST

/* ---- errors: file, line and reason ------------------------------------ */

START_TEST(error_unknown_section)
{
        expect_error("[server]\nmax_clients = 5\n\n[bogus]\nkey = 1\nother = 2\n", 4,
                     "unknown section [bogus]");
        /* An empty one too, and names are case sensitive. */
        expect_error("[echo]\nport = 1\n[nothing]\n", 3, "unknown section [nothing]");
        expect_error("[Echo]\nport = 1\n", 1, "unknown section [Echo]");
        expect_error("[ echo ]\nport = 1\n", 1, "unknown section [ echo ]");
        expect_error("[]\nport = 1\n", 1, "unknown section []");
        /* Longer than inih's own section buffer. */
        expect_error("[echo_with_a_very_long_name_that_inih_would_cut_off_somewhere]\nport = 1\n",
                     1, "unknown section [echo_with_a_very_long_name_that_inih_would_cut_off_somewhere]");
        /* Keys after it are not taken for the previous section. */
        expect_error("[echo]\n[bogus]\nport = 1\n", 2, "unknown section [bogus]");
}
END_TEST

START_TEST(error_unknown_key)
{
        expect_error("[echo]\nport = 1\ncolour = red\n", 3, "unknown key 'colour' in section [echo]");
        expect_error("[udp]\nwelcome = hi\n", 2, "unknown key 'welcome' in section [udp]");
        expect_error("[echo]\nPort = 1\n", 2, "unknown key 'Port' in section [echo]");
        expect_error("[chat]\nmax nick len = 3\n", 2, "unknown key 'max nick len' in section [chat]");
        expect_error("[log]\n= debug\n", 2, "unknown key '' in section [log]");
}
END_TEST

START_TEST(error_key_before_section)
{
        expect_error("port = 1\n[echo]\nport = 2\n", 1, "'port' is outside any [section]");
        expect_error("; comment\n\nbogus = 1\n[echo]\n", 3, "'bogus' is outside any [section]");
}
END_TEST

START_TEST(error_syntax)
{
        expect_error("[echo]\njust some words\n", 2, "syntax error");
        expect_error("[echo]\nport 1234\n", 2, "syntax error");
        expect_error("[echo]\nport ; = 1\n", 2, "syntax error");       /* '=' is in the comment */
        expect_error("[echo\nport = 1\n", 1, "syntax error");
        expect_error("[server]\n[echo\nport = 1\n", 2, "syntax error");
        expect_error("[echo]\nport = 1\n[udp ; ]\nport = 2\n", 3, "syntax error");
        /* Text after a section header would be silently ignored by inih. */
        expect_error("[echo] port = 1\n", 1, "syntax error");
        expect_error("[echo]]\n", 1, "syntax error");
}
END_TEST

static void make_line(char *buf, size_t size, size_t text_len, const char *end)
{
        /* "prefix = " then x's up to text_len bytes, then the line end */
        ck_assert_uint_lt(text_len + strlen(end), size);
        memset(buf, 'x', text_len);
        memcpy(buf, "prefix = ", 9);
        strcpy(buf + text_len, end);
}

/* conf.c's reader hands inih at most ini_max_line - 3 = 197 bytes of text,
 * whatever the line end: a longer line is an error, never a cut value. */
START_TEST(long_lines)
{
        static const char *const ends[] = { "\n", "\r\n", "" };
        static char line[200000], text[200100];

        for (size_t e = 0; e < sizeof(ends) / sizeof(ends[0]); e++) {
                make_line(line, sizeof(line), LINE_MAX_TEXT, ends[e]);
                snprintf(text, sizeof(text), "[echo]\n%s", line);
                struct conf *c = load_ok(text);
                ck_assert_uint_eq(strlen(c->echo.prefix), LINE_MAX_TEXT - 9);
                conf_unref(c);

                static const size_t too_long[] = { 198, 199, 200, 201, 205, 255, 256, 1000, 150000 };
                for (size_t i = 0; i < sizeof(too_long) / sizeof(too_long[0]); i++) {
                        make_line(line, sizeof(line), too_long[i], ends[e]);
                        snprintf(text, sizeof(text), "[echo]\n%s", line);
                        expect_error(text, 2, "line too long (max 197 bytes)");
                }
        }

        /* Comment lines and section lines obey the same limit. */
        memset(line, ';', 250);
        line[250] = '\0';
        snprintf(text, sizeof(text), "[echo]\n%s\n", line);
        expect_error(text, 2, "line too long");
        memset(line, 'e', 250);
        line[0] = '[';
        line[249] = ']';
        snprintf(text, sizeof(text), "%s\n", line);
        expect_error(text, 1, "line too long");
        /* What follows a header that could not be read may draw more
         * errors, but the file stays rejected for the right reason. */
        snprintf(text, sizeof(text), "%s\nport = 1\n", line);
        ck_assert_ptr_null(conf_load_string(NAME, text, &errs));
        ck_assert(has_error(NAME, 1, "line too long"));
}
END_TEST

/* The rest of a long line is skipped as a whole: nothing of it is parsed,
 * and the lines after it keep their numbers. */
START_TEST(long_line_no_leftover)
{
        static char text[4096];
        char pad[300];
        struct conf *c;

        memset(pad, 'x', 195);
        pad[195] = '\0';
        /* inih would have cut this line at 199 bytes: its value, and if the
         * reader resumed mid-line, "bogus = 1" as a line of its own. */
        snprintf(text, sizeof(text), "[echo]\nwelcome = %s\nport = 1\n", pad);
        expect_error(text, 2, "line too long");

        snprintf(text, sizeof(text), "[echo]\nwelcome = %s\nbogus = 1\nport = x\n", pad);
        c = conf_load_string(NAME, text, &errs);
        ck_assert_ptr_null(c);
        ck_assert_uint_eq(errs.n, 3);
        ck_assert(has_error(NAME, 2, "line too long"));
        ck_assert(has_error(NAME, 3, "unknown key 'bogus'"));
        ck_assert(has_error(NAME, 4, "port: 'x' is not a number"));

        /* A tail that would itself be a valid line after the cut. */
        memset(pad, ' ', 200);
        memcpy(pad + 200, "port = 5", 9);
        snprintf(text, sizeof(text), "[echo]\nwelcome = a%s\n", pad);
        expect_error(text, 2, "line too long");
}
END_TEST

START_TEST(nul_byte)
{
        static const char data[] = "[echo]\nprefix = a\0b\nport = 1\n";
        static const char comment[] = "[echo]\n; a \0 in a comment\n";
        char path[128], want[192];

        write_file("nul.ini", data, sizeof(data) - 1, path, sizeof(path));
        ck_assert_ptr_null(conf_load(path, &errs));
        ck_assert_uint_eq(errs.n, 1);
        snprintf(want, sizeof(want), "%s:2: NUL byte in line", path);
        ck_assert_str_eq(errs.msg[0], want);

        write_file("nul2.ini", comment, sizeof(comment) - 1, path, sizeof(path));
        ck_assert_ptr_null(conf_load(path, &errs));
        ck_assert_uint_eq(errs.n, 1);
        ck_assert(has_error(path, 2, "NUL byte"));
}
END_TEST

/* Every mistake in a file is reported at once, in order. */
START_TEST(many_errors)
{
        static char text[4096];
        char pad[256];

        memset(pad, 'x', 200);
        pad[200] = '\0';
        snprintf(text, sizeof(text),
                 "[server]\n"                           /* 1 */
                 "max_clients = 12abc\n"                /* 2 */
                 "thread_stack_kib = 15\n"              /* 3 */
                 "bind = ::1 example.org\n"             /* 4 */
                 "[echo]\n"                             /* 5 */
                 "enabled = perhaps\n"                  /* 6 */
                 "port = 65536\n"                       /* 7 */
                 "colour = blue\n"                      /* 8 */
                 "welcome = %s\n"                       /* 9 */
                 "prefix = \"\x01\"\n"                  /* 10 */
                 "this is not ini\n"                    /* 11 */
                 "[nope]\n"                             /* 12 */
                 "port = 1\n"                           /* 13 */
                 "[chat]\n"                             /* 14 */
                 "history = -3\n"                       /* 15 */
                 "[udp\n"                               /* 16 */
                 "[log]\n"                              /* 17 */
                 "level = loud\n",                      /* 18 */
                 pad);
        ck_assert_ptr_null(conf_load_string(NAME, text, &errs));
        dump_errors("many");
        ck_assert_uint_eq(errs.n, 13);
        ck_assert(has_error(NAME, 2, "max_clients: '12abc' is not a number"));
        ck_assert(has_error(NAME, 3, "thread_stack_kib: 15 is out of range"));
        ck_assert(has_error(NAME, 4, "bind: 'example.org' is not an IPv4 or IPv6 address"));
        ck_assert(has_error(NAME, 6, "enabled: 'perhaps' is not a boolean"));
        ck_assert(has_error(NAME, 7, "port: 65536 is out of range"));
        ck_assert(has_error(NAME, 8, "unknown key 'colour'"));
        ck_assert(has_error(NAME, 9, "line too long"));
        ck_assert(has_error(NAME, 10, "prefix: control characters"));
        ck_assert(has_error(NAME, 11, "syntax error"));
        ck_assert(has_error(NAME, 12, "unknown section [nope]"));
        ck_assert(has_error(NAME, 15, "history: must not be negative"));
        ck_assert(has_error(NAME, 16, "syntax error"));
        ck_assert(has_error(NAME, 18, "level: 'loud' is not a log level"));
        /* in file order */
        for (unsigned i = 1; i < errs.n; i++)
                ck_assert_int_lt(atoi(errs.msg[i - 1] + strlen(NAME) + 1),
                                 atoi(errs.msg[i] + strlen(NAME) + 1));
}
END_TEST

/* Several syntax errors: inih itself reports only the first one. */
START_TEST(many_syntax_errors)
{
        ck_assert_ptr_null(conf_load_string(NAME, "[echo]\nfoo\nport = 1\nbar\n[udp\nbaz\n", &errs));
        dump_errors("syntax");
        ck_assert_uint_eq(errs.n, 4);
        ck_assert(has_error(NAME, 2, "syntax error"));
        ck_assert(has_error(NAME, 4, "syntax error"));
        ck_assert(has_error(NAME, 5, "syntax error"));
        ck_assert(has_error(NAME, 6, "syntax error"));
}
END_TEST

START_TEST(error_cap)
{
        static char text[8192];
        size_t len = 0;

        len += (size_t)snprintf(text + len, sizeof(text) - len, "[echo]\n");
        for (int i = 0; i < CONF_ERRORS_MAX + 10; i++)
                len += (size_t)snprintf(text + len, sizeof(text) - len, "bad_%d = 1\n", i);
        ck_assert_ptr_null(conf_load_string(NAME, text, &errs));
        ck_assert_uint_eq(errs.n, CONF_ERRORS_MAX);
        ck_assert(has_error(NAME, 2, "unknown key 'bad_0'"));
        ck_assert(has_error(NAME, CONF_ERRORS_MAX + 1, "unknown key 'bad_31'"));
}
END_TEST

START_TEST(error_message_format)
{
        char path[128], want[256];

        /* Exactly "FILE:LINE: reason", with the name the caller gave. */
        ck_assert_ptr_null(conf_load_string("/etc/pichat.ini", "[echo]\n\nport = x\n", &errs));
        ck_assert_uint_eq(errs.n, 1);
        ck_assert_str_eq(errs.msg[0], "/etc/pichat.ini:3: port: 'x' is not a number");

        write_file("bad.ini", "[log]\nlevel = loud\n", 19, path, sizeof(path));
        ck_assert_ptr_null(conf_load(path, &errs));
        ck_assert_uint_eq(errs.n, 1);
        snprintf(want, sizeof(want),
                 "%s:2: level: 'loud' is not a log level (debug, info, notice, warning, error)",
                 path);
        ck_assert_str_eq(errs.msg[0], want);

        /* A good load after a bad one starts with no errors. */
        struct conf *c = conf_load_string(NAME, "[echo]\nport = 1\n", &errs);
        ck_assert_ptr_nonnull(c);
        ck_assert_uint_eq(errs.n, 0);
        conf_unref(c);
}
END_TEST

START_TEST(file_missing)
{
        char path[128], want[256];

        snprintf(path, sizeof(path), "%s/does-not-exist.ini", tmpdir);
        ck_assert_ptr_null(conf_load(path, &errs));
        ck_assert_uint_eq(errs.n, 1);
        snprintf(want, sizeof(want), "%s: cannot open: %s", path, strerror(ENOENT));
        ck_assert_str_eq(errs.msg[0], want);

        snprintf(path, sizeof(path), "%s/no-such-dir/pichat.ini", tmpdir);
        ck_assert_ptr_null(conf_load(path, &errs));
        ck_assert_uint_eq(errs.n, 1);
        ck_assert(has_error(path, 0, "cannot open"));
}
END_TEST

START_TEST(file_unreadable)
{
        char path[128], want[256];

        /* A directory opens but cannot be read: this works even as root. */
        ck_assert_ptr_null(conf_load(tmpdir, &errs));
        ck_assert_uint_eq(errs.n, 1);
        snprintf(want, sizeof(want), "%s: cannot read: %s", tmpdir, strerror(EISDIR));
        ck_assert_str_eq(errs.msg[0], want);

        /* chmod 000 only stops a process without CAP_DAC_OVERRIDE; as root
         * the file is readable anyway, so that case is left out then. */
        write_file("secret.ini", "[echo]\nport = 1\n", 16, path, sizeof(path));
        ck_assert_int_eq(chmod(path, 0), 0);
        if (access(path, R_OK) == 0)
                return;
        ck_assert_ptr_null(conf_load(path, &errs));
        ck_assert_uint_eq(errs.n, 1);
        snprintf(want, sizeof(want), "%s: cannot open: %s", path, strerror(EACCES));
        ck_assert_str_eq(errs.msg[0], want);
}
END_TEST

START_TEST(file_good)
{
        static const char text[] = "[echo]\nport = 7001\n[chat]\nport = 7002\n";
        char path[128];

        write_file("good.ini", text, sizeof(text) - 1, path, sizeof(path));
        struct conf *c = conf_load(path, &errs);
        ck_assert_ptr_nonnull(c);
        ck_assert_uint_eq(errs.n, 0);
        ck_assert_uint_eq(atomic_load(&c->refs), 1);
        ck_assert_uint_eq(c->echo.port, 7001);
        ck_assert_uint_eq(c->chat.port, 7002);
        conf_unref(c);
}
END_TEST

/* The password from a file, or from a credential systemd passed. */
START_TEST(password_from_file)
{
        char path[128], text[400];
        struct conf *c;

        write_file("pw", "open sesame\nsecond line\n", 24, path, sizeof(path));
        snprintf(text, sizeof(text), "[chat]\npassword_file = %s\n", path);
        c = load_ok(text);
        ck_assert_str_eq(c->chat.password, "open sesame");
        conf_unref(c);

        /* Not both; a file that cannot be read, or says nothing, is an
         * error at its line. */
        snprintf(text, sizeof(text), "[chat]\npassword = x\n\npassword_file = %s\n", path);
        expect_error(text, 4, "[chat] password and password_file are both set");
        snprintf(text, sizeof(text), "[chat]\n\npassword_file = %s/none\n", tmpdir);
        expect_error(text, 3, "No such file or directory");
        write_file("empty", "\n", 1, path, sizeof(path));
        snprintf(text, sizeof(text), "[chat]\npassword_file = %s\n", path);
        expect_error(text, 2, "holds no password on its first line");
        write_file("spaced", " lead\n", 6, path, sizeof(path));
        snprintf(text, sizeof(text), "[chat]\npassword_file = %s\n", path);
        expect_error(text, 2, "password_file: cannot begin or end with a space");

        /* credential:NAME is NAME in $CREDENTIALS_DIRECTORY. */
        unsetenv("CREDENTIALS_DIRECTORY");
        expect_error("[chat]\npassword_file = credential:pw\n", 2,
                     "needs the service manager's credentials (LoadCredential=)");
        setenv("CREDENTIALS_DIRECTORY", tmpdir, 1);
        c = load_ok("[chat]\npassword_file = credential:pw\n");
        ck_assert_str_eq(c->chat.password, "open sesame");
        conf_unref(c);
        unsetenv("CREDENTIALS_DIRECTORY");
}
END_TEST

/* ---- checks across keys ----------------------------------------------- */

/* No queue too small for the longest line: it would drop every member
 * the moment someone said one. */
START_TEST(cross_queue_holds_a_line)
{
        struct conf *c;

        expect_error("[server]\nmax_line_bytes = 65536\n", 2,
                     "[chat] max_queue_kib = 64 cannot hold one line of max_line_bytes = 65536 "
                     "(196736 bytes once cleaned): use at least 193");
        expect_error("[chat]\nmax_queue_kib = 4\n[server]\nmax_line_bytes = 2000\n", 4,
                     "max_queue_kib = 4 cannot hold");
        c = load_ok("[server]\nmax_line_bytes = 65536\n[chat]\nmax_queue_kib = 193\n");
        conf_unref(c);
        /* The queue is the chat's, and the web's members use it too. */
        c = load_ok("[server]\nmax_line_bytes = 65536\n[chat]\nenabled = no\n[web]\nenabled = no\n");
        conf_unref(c);
        /* The defaults, and the smallest queue with the default line. */
        c = load_ok("[chat]\nmax_queue_kib = 4\n");
        conf_unref(c);
}
END_TEST

START_TEST(cross_same_tcp_port)
{
        struct conf *c;

        ck_assert_ptr_null(conf_load_string(NAME, "[echo]\nport = 7000\n[chat]\nport = 7000\n",
                                            &errs));
        ck_assert_uint_eq(errs.n, 1);
        /* At the line of the port set last. */
        ck_assert_str_eq(errs.msg[0], NAME ":4: [echo] and [chat] cannot share TCP port 7000");

        /* chat on the default echo port */
        ck_assert_ptr_null(conf_load_string(NAME, "[chat]\nport = 8888\n", &errs));
        ck_assert(has_error(NAME, 2, "cannot share TCP port 8888"));

        /* Fine when one of them is off, when both take any free port, and
         * between TCP echo and UDP echo (the default). */
        c = load_ok("[echo]\nport = 7000\n[chat]\nport = 7000\nenabled = no\n");
        conf_unref(c);
        c = load_ok("[echo]\nport = 7000\nenabled = no\n[chat]\nport = 7000\n");
        conf_unref(c);
        c = load_ok("[echo]\nport = 0\n[chat]\nport = 0\n");
        conf_unref(c);
        c = load_ok("[echo]\nport = 7000\n[udp]\nport = 7000\n");
        conf_unref(c);
        c = load_ok("[udp]\nport = 5000\n");
        conf_unref(c);
}
END_TEST

START_TEST(cross_no_service)
{
        struct conf *c;

        ck_assert_ptr_null(conf_load_string(NAME,
                "[echo]\nenabled = no\n[udp]\nenabled = off\n[chat]\nenabled = false\n"
                "[web]\nenabled = no\n", &errs));
        ck_assert_uint_eq(errs.n, 1);
        ck_assert(has_error(NAME, 8, "no service is enabled"));

        /* Any one service is enough. */
        c = load_ok("[echo]\nenabled = no\n[udp]\nenabled = no\n");
        ck_assert(c->chat.enabled);
        conf_unref(c);
        c = load_ok("[echo]\nenabled = no\n[chat]\nenabled = no\n");
        ck_assert(c->udp.enabled);
        conf_unref(c);
        c = load_ok("[udp]\nenabled = no\n[chat]\nenabled = no\n");
        ck_assert(c->echo.enabled);
        conf_unref(c);
}
END_TEST

START_TEST(tls_keys)
{
        char pki[64], text[1024];
        struct conf *c;

        /* Off, or a port (0: any free one). */
        static const char *const off[] = { "off", "no", "OFF", "" };
        for (size_t i = 0; i < sizeof(off) / sizeof(off[0]); i++) {
                snprintf(text, sizeof(text), "[chat]\ntls_port = %s\n[web]\ntls_port = %s\n", off[i],
                         off[i]);
                c = load_ok(text);
                ck_assert(!c->chat.tls_port.on && !c->web.tls_port.on);
                ck_assert_ptr_null(c->tls.creds);
                conf_unref(c);
        }
        static const char *const bad[] = { "yes", "on", "-1", "65536", "5001x", "port" };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                snprintf(text, sizeof(text), "[web]\ntls_port = %s\n", bad[i]);
                ck_assert_ptr_null(conf_load_string(NAME, text, &errs));
                ck_assert_msg(has_error(NAME, 2, "tls_port: '"), "%s", bad[i]);
                ck_assert(has_error(NAME, 2, "is neither off nor a port (0-65535, 0 = any free port)"));
        }
        /* On, without a certificate: refused at the port's line. */
        ck_assert_ptr_null(conf_load_string(NAME, "[chat]\ntls_port = 5001\n", &errs));
        ck_assert_uint_eq(errs.n, 1);
        ck_assert_str_eq(errs.msg[0], NAME ":2: a TLS port needs [tls] certfile and keyfile "
                         "(certfile is not set)");
        ck_assert_ptr_null(conf_load_string(NAME, "[tls]\ncertfile = x.pem\n[web]\ntls_port = 0\n",
                                            &errs));
        ck_assert(has_error(NAME, 4, "(keyfile is not set)"));
        /* A service that is off has no TLS port either: nothing loaded. */
        c = load_ok("[chat]\nenabled = no\ntls_port = 5001\n");
        ck_assert_ptr_null(c->tls.creds);
        conf_unref(c);

        ck_assert_int_eq(pd_tls_certs(pki, sizeof(pki)), 0);
        snprintf(text, sizeof(text), "[chat]\ntls_port = 5001\n[web]\ntls_port = 8443\n"
                 "[tls]\ncertfile = %s/fullchain.pem\nkeyfile = %s/privkey.pem\n", pki, pki);
        c = load_ok(text);
        ck_assert(c->chat.tls_port.on && c->chat.tls_port.port == 5001);
        ck_assert(c->web.tls_port.on && c->web.tls_port.port == 8443);
        ck_assert_ptr_nonnull(c->tls.creds);
        conf_unref(c);
        /* Each file's fault at its own line; the priority's at its. */
        snprintf(text, sizeof(text), "[chat]\ntls_port = 5001\n[tls]\ncertfile = %s/fullchain.pem\n"
                 "keyfile = %s/privkey2.pem\n", pki, pki);
        ck_assert_ptr_null(conf_load_string(NAME, text, &errs));
        ck_assert(has_error(NAME, 5, "is not the key of the certificate in"));
        snprintf(text, sizeof(text), "[chat]\ntls_port = 5001\n[tls]\npriority = NORMAL:+BAD\n"
                 "certfile = %s/fullchain.pem\nkeyfile = %s/privkey.pem\n", pki, pki);
        ck_assert_ptr_null(conf_load_string(NAME, text, &errs));
        ck_assert(has_error(NAME, 4, "priority: 'NORMAL:+BAD' is not a GnuTLS priority string"));
        /* A key that is no key, and a file that is not there. */
        snprintf(text, sizeof(text), "[chat]\ntls_port = 5001\n[tls]\ncertfile = %s/nothere.pem\n"
                 "keyfile = %s/broken.key\n", pki, pki);
        ck_assert_ptr_null(conf_load_string(NAME, text, &errs));
        ck_assert(has_error(NAME, 4, "certfile: cannot read "));
        pd_tls_remove(pki);

        /* Plain and TLS never share a port, whichever service. */
        ck_assert_ptr_null(conf_load_string(NAME, "[chat]\nport = 7001\ntls_port = 7001\n", &errs));
        ck_assert_str_eq(errs.msg[0], NAME ":3: [chat] port and [chat] tls_port cannot share TCP "
                         "port 7001 (plain and TLS never share a port)");
        ck_assert_ptr_null(conf_load_string(NAME, "[web]\ntls_port = 8888\n", &errs));
        ck_assert(has_error(NAME, 2, "[echo] port and [web] tls_port cannot share TCP port 8888"));
        ck_assert_ptr_null(conf_load_string(NAME, "[chat]\ntls_port = 9\n[web]\ntls_port = 9\n",
                                            &errs));
        ck_assert(has_error(NAME, 4, "[chat] tls_port and [web] tls_port cannot share TCP port 9"));
        /* Any free port each is no sharing. */
        ck_assert_ptr_null(conf_load_string(NAME, "[chat]\nport = 0\ntls_port = 0\n", &errs));
        ck_assert(!has_error(NAME, 3, "cannot share"));
}
END_TEST

START_TEST(web_keys)
{
        struct conf *c = load_ok("");

        ck_assert(c->web.enabled);
        ck_assert_uint_eq(c->web.port, 8080);
        ck_assert_str_eq(c->web.title, "pichat");
        ck_assert_str_eq(c->web.allowed_origins, "");
        ck_assert(c->web.status_json);
        conf_unref(c);

        c = load_ok("[web]\ntitle = \"Class 4B\"\nstatus_json = no\n"
                    "allowed_origins = http://pi.local:8080 https://chat.example.org, *\n");
        ck_assert_str_eq(c->web.title, "Class 4B");
        ck_assert(!c->web.status_json);
        ck_assert_str_eq(c->web.allowed_origins,
                         "http://pi.local:8080 https://chat.example.org, *");
        conf_unref(c);

        static const char *const bad[] = {
                "pi.local", "http://", "ftp://pi.local", "http://pi.local/", "http://pi.local:99999",
                "http://[::1", "http://pi.local:80x", "http://pi@local",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                char text[256];
                snprintf(text, sizeof(text), "[web]\nallowed_origins = http://ok %s\n", bad[i]);
                ck_assert_ptr_null(conf_load_string(NAME, text, &errs));
                ck_assert_msg(has_error(NAME, 2, "allowed_origins: '"), "%s", bad[i]);
        }
        char many[512] = "[web]\nallowed_origins =";
        for (int i = 0; i <= PICHAT_ORIGINS_MAX; i++)
                snprintf(many + strlen(many), sizeof(many) - strlen(many), " http://h%d", i);
        ck_assert_ptr_null(conf_load_string(NAME, many, &errs));
        ck_assert(has_error(NAME, 2, "allowed_origins: more than 16 origins"));

        /* Its port is its own, like every TCP service's. */
        ck_assert_ptr_null(conf_load_string(NAME, "[web]\nport = 5000\n", &errs));
        ck_assert(has_error(NAME, 2, "[chat] and [web] cannot share TCP port 5000"));
        ck_assert_ptr_null(conf_load_string(NAME, "[echo]\nport = 9\n[web]\nport = 9\n", &errs));
        ck_assert(has_error(NAME, 4, "[echo] and [web] cannot share TCP port 9"));
        c = load_ok("[web]\nport = 5000\n[chat]\nenabled = no\n");
        conf_unref(c);
        /* The web alone is a service. */
        c = load_ok("[echo]\nenabled = no\n[udp]\nenabled = no\n[chat]\nenabled = no\n");
        ck_assert(c->web.enabled);
        conf_unref(c);
}
END_TEST

/* ---- references and the configuration in force ------------------------ */

START_TEST(ref_unref)
{
        struct conf *c = load_ok("");

        ck_assert_ptr_eq(conf_ref(c), c);
        ck_assert_uint_eq(atomic_load(&c->refs), 2);
        ck_assert_ptr_eq(conf_ref(c), c);
        ck_assert_uint_eq(atomic_load(&c->refs), 3);
        conf_unref(c);
        conf_unref(c);
        ck_assert_uint_eq(atomic_load(&c->refs), 1);
        conf_unref(c);          /* freed: the sanitizer build would notice a leak or reuse */

        ck_assert_ptr_null(conf_ref(NULL));
        conf_unref(NULL);
}
END_TEST

/* A store as main() makes one; each case leaves it holding nothing. */
static struct conf_store store;

static void store_setup(void)
{
        conf_store_init(&store, NULL);
}

static void store_teardown(void)
{
        conf_store_destroy(&store);
}

START_TEST(current_swap)
{
        struct conf *a = load_ok("[echo]\nport = 1\n");
        struct conf *b = load_ok("[echo]\nport = 2\n");
        struct conf *cur;

        conf_set_current(&store, NULL);
        ck_assert_ptr_null(conf_current(&store));

        conf_ref(a);                    /* keep one for ourselves */
        conf_set_current(&store, a);            /* takes the other */
        ck_assert_uint_eq(atomic_load(&a->refs), 2);
        cur = conf_current(&store);
        ck_assert_ptr_eq(cur, a);
        ck_assert_uint_eq(atomic_load(&a->refs), 3);
        conf_unref(cur);

        /* Replacing drops the old one's reference, not ours. */
        conf_set_current(&store, b);
        ck_assert_uint_eq(atomic_load(&a->refs), 1);
        ck_assert_uint_eq(a->echo.port, 1);
        cur = conf_current(&store);
        ck_assert_ptr_eq(cur, b);
        ck_assert_uint_eq(cur->echo.port, 2);
        conf_unref(cur);
        conf_unref(a);

        conf_set_current(&store, NULL);         /* frees b */
        ck_assert_ptr_null(conf_current(&store));
}
END_TEST

START_TEST(cached_follows_reloads)
{
        struct conf *a = load_ok("[echo]\nport = 1\n");
        struct conf *b = load_ok("[echo]\nport = 2\n");
        struct conf_cache cc = { 0 };

        conf_set_current(&store, a);
        ck_assert_ptr_eq(conf_cached(&store, &cc), a);
        ck_assert_uint_eq(atomic_load(&a->refs), 2);    /* the cache's own */
        /* No reload: the same reference, no new one taken. */
        ck_assert_ptr_eq(conf_cached(&store, &cc), a);
        ck_assert_uint_eq(atomic_load(&a->refs), 2);

        conf_ref(a);
        conf_set_current(&store, b);
        ck_assert_uint_eq(atomic_load(&a->refs), 2);    /* ours and the cache's */
        ck_assert_ptr_eq(conf_cached(&store, &cc), b);          /* seen at the next call */
        ck_assert_uint_eq(atomic_load(&a->refs), 1);    /* the cache let go */
        ck_assert_uint_eq(atomic_load(&b->refs), 2);
        conf_unref(a);

        conf_cache_drop(&cc);
        ck_assert_ptr_null(cc.conf);
        ck_assert_uint_eq(atomic_load(&b->refs), 1);
        conf_cache_drop(&cc);                           /* twice is harmless */
        conf_set_current(&store, NULL);
}
END_TEST

enum { READERS = 4 };
static atomic_bool readers_stop;
static atomic_ulong readers_seen[READERS];

static void *reader_thread(void *arg)
{
        atomic_ulong *seen = arg;

        while (!atomic_load(&readers_stop)) {
                struct conf *c = conf_current(&store);
                if (c) {
                        /* each conf's two ports agree: a torn or freed one would not */
                        if (c->echo.port + 1 != c->chat.port)
                                abort();
                        atomic_fetch_add(seen, 1);
                        conf_unref(c);
                }
        }
        return NULL;
}

static bool every_reader_busy(void)
{
        for (int i = 0; i < READERS; i++)
                if (atomic_load(&readers_seen[i]) < 100)
                        return false;
        return true;
}

/* Readers in threads keep what they got while the main thread swaps. */
START_TEST(current_threads)
{
        enum { SWAPS = 2000 };
        pthread_t t[READERS];
        char text[64];
        unsigned i, port = 0;

        atomic_store(&readers_stop, false);
        conf_set_current(&store, load_ok("[echo]\nport = 100\n[chat]\nport = 101\n"));
        for (int k = 0; k < READERS; k++) {
                atomic_store(&readers_seen[k], 0);
                ck_assert_int_eq(pthread_create(&t[k], NULL, reader_thread, &readers_seen[k]), 0);
        }
        /* At least SWAPS swaps, and on until every reader has been at it. */
        for (i = 0; i < SWAPS || !every_reader_busy(); i++) {
                port = 1000 + 2 * (i % 30000);
                snprintf(text, sizeof(text), "[echo]\nport = %u\n[chat]\nport = %u\n",
                         port, port + 1);
                conf_set_current(&store, load_ok(text));
        }
        atomic_store(&readers_stop, true);
        for (int k = 0; k < READERS; k++)
                ck_assert_int_eq(pthread_join(t[k], NULL), 0);
        struct conf *c = conf_current(&store);
        ck_assert_uint_eq(c->echo.port, port);
        ck_assert_uint_eq(atomic_load(&c->refs), 2);
        conf_unref(c);
        conf_set_current(&store, NULL);
}
END_TEST

/* [daytime], [time], [qotd]: the format checked where it is written, the
 * quotes file read at load (its errors at the line that names it, or that
 * turned qotd on), and ports shared with the other services. */
START_TEST(answer_keys)
{
        char path[256], text[768], big[600];
        struct conf *c;

        c = load_ok("[daytime]\nenabled = yes\nformat = ctime\nudp = no\n"
                    "[time]\nenabled = yes\nport = 0\n");
        ck_assert(c->daytime.enabled && !c->daytime.udp && c->time.enabled);
        ck_assert_str_eq(c->daytime.format, "ctime");
        ck_assert_ptr_null(c->qotd.quotes);
        conf_unref(c);
        expect_error("[daytime]\n\nformat = %H%n%M\n", 3,
                     "[daytime] format: '%H%n%M' gives a line end or a control character");
        expect_error("[daytime]\nformat = \"\"\n", 2, "[daytime] format: '' empty");
        /* Checked also while the service is off: it is the file's error. */
        expect_error("[daytime]\nenabled = no\nformat = %c%c%c%c%c%c%c%c%c%c%c%c%c%c%c%c%c%c%c%c%c%c%c%c%c\n",
                     3, "gives nothing, or more than 509 bytes");

        write_file("quotes", "one\n%\ntwo\n", 10, path, sizeof(path));
        snprintf(text, sizeof(text), "[qotd]\nenabled = yes\nfile = %s\n", path);
        c = load_ok(text);
        ck_assert_ptr_nonnull(c->qotd.quotes);
        ck_assert_uint_eq(c->qotd.quotes->n, 2);
        ck_assert_str_eq(conf_quotes_path(c), path);
        conf_unref(c);
        /* Off, the file is not read at all. */
        c = load_ok("[qotd]\nfile = /nonexistent/quotes\n");
        ck_assert_ptr_null(c->qotd.quotes);
        conf_unref(c);

        snprintf(text, sizeof(text), "[qotd]\nfile = %s/none\nenabled = yes\n", tmpdir);
        expect_error(text, 2, "[qotd] file: cannot read");
        ck_assert(has_error(NAME, 2, "No such file or directory"));
        write_file("empty", "", 0, path, sizeof(path));
        snprintf(text, sizeof(text), "[qotd]\nenabled = yes\n\nfile = %s\n", path);
        expect_error(text, 4, "holds no quote");
        write_file("blank", "\n%\n\n%\n", 6, path, sizeof(path));
        snprintf(text, sizeof(text), "[qotd]\nenabled = yes\nfile = %s\n", path);
        expect_error(text, 3, "holds no quote");
        memset(big, 'q', 520);
        write_file("big", big, 520, path, sizeof(path));
        snprintf(text, sizeof(text), "[qotd]\nfile = %s\nenabled = yes\n", path);
        expect_error(text, 2, "every quote in");
        snprintf(text, sizeof(text), "[qotd]\nenabled = yes\nfile = %s\n", tmpdir);
        expect_error(text, 3, "Is a directory");
        /* No file key: the line that turned it on, and the default path. */
        if (access(PICHAT_DEFAULT_QUOTES, R_OK) != 0) {
                expect_error("[qotd]\n\nenabled = yes\n", 3, PICHAT_DEFAULT_QUOTES);
        }

        /* Ports: TCP against every TCP service, UDP against the UDP ones;
         * a service off, or without udp, shares nothing. */
        expect_error("[daytime]\nenabled = yes\nport = 5000\n", 3,
                     "[chat] and [daytime] cannot share TCP port 5000");
        expect_error("[daytime]\nenabled = yes\nport = 0\n[time]\nenabled = yes\nport = 0\n"
                     "[udp]\nport = 7000\n[echo]\nport = 7001\n[time]\nport = 7000\n", 12,
                     "[udp] and [time] cannot share UDP port 7000");
        c = load_ok("[udp]\nport = 7000\n[echo]\nport = 7001\n"
                    "[time]\nenabled = yes\nport = 7000\nudp = no\n");
        conf_unref(c);
        c = load_ok("[time]\nport = 8888\n[daytime]\nport = 5000\n");
        conf_unref(c);
        ck_assert_ptr_null(conf_load_string(NAME, "[time]\nenabled = yes\nport = 1300\n"
                                            "[daytime]\nenabled = yes\nport = 1300\n", &errs));
        ck_assert_uint_eq(errs.n, 2);
        ck_assert(has_error(NAME, 6, "[daytime] and [time] cannot share TCP port 1300"));
        ck_assert(has_error(NAME, 6, "[daytime] and [time] cannot share UDP port 1300"));

        /* One of them alone is a service. */
        c = load_ok("[echo]\nenabled = no\n[udp]\nenabled = no\n[chat]\nenabled = no\n"
                    "[web]\nenabled = no\n[time]\nenabled = yes\n");
        conf_unref(c);
}
END_TEST

Suite *test_suite(void)
{
        Suite *s = suite_create("conf");
        TCase *tc;

        tc = tcase_create("defaults");
        tcase_add_unchecked_fixture(tc, tmpdir_setup, tmpdir_teardown);
        tcase_add_test(tc, defaults_match_shipped_ini);
        tcase_add_test(tc, defaults_values);
        tcase_add_test(tc, shipped_ini_lists_every_key);
        tcase_add_loop_test(tc, every_key_known, 0, N_ALL_KEYS);
        tcase_add_test(tc, empty_file_gives_defaults);
        suite_add_tcase(s, tc);

        tc = tcase_create("keys");
        tcase_add_loop_test(tc, bool_spellings, 0, N_BOOL_KEYS);
        tcase_add_loop_test(tc, bool_bad, 0, N_BOOL_KEYS);
        tcase_add_loop_test(tc, uint_range, 0, N_UINT_KEYS);
        tcase_add_loop_test(tc, uint_negative, 0, N_UINT_KEYS);
        tcase_add_loop_test(tc, uint_not_a_number, 0, N_UINT_KEYS);
        tcase_add_loop_test(tc, port_values, 0, N_PORT_KEYS);
        tcase_add_test(tc, stack_and_line_bounds);
        tcase_add_loop_test(tc, text_values, 0, (int)(sizeof(text_keys) / sizeof(text_keys[0])));
        tcase_add_loop_test(tc, text_control_characters, 0,
                            (int)(sizeof(text_keys) / sizeof(text_keys[0])));
        tcase_add_loop_test(tc, text_longest_value, 0,
                            (int)(sizeof(text_keys) / sizeof(text_keys[0])));
        tcase_add_test(tc, room_names);
        tcase_add_test(tc, bind_lists);
        tcase_add_test(tc, bind_bad);
        tcase_add_test(tc, password_values);
        tcase_add_test(tc, access_lists);
        tcase_add_test(tc, access_list_bound);
        tcase_add_test(tc, log_levels);
        tcase_add_test(tc, full_file);
        tcase_add_test(tc, syntax_accepted);
        suite_add_tcase(s, tc);

        tc = tcase_create("errors");
        tcase_add_unchecked_fixture(tc, tmpdir_setup, tmpdir_teardown);
        tcase_add_test(tc, error_unknown_section);
        tcase_add_test(tc, error_unknown_key);
        tcase_add_test(tc, error_key_before_section);
        tcase_add_test(tc, error_syntax);
        tcase_add_test(tc, long_lines);
        tcase_add_test(tc, long_line_no_leftover);
        tcase_add_test(tc, nul_byte);
        tcase_add_test(tc, many_errors);
        tcase_add_test(tc, many_syntax_errors);
        tcase_add_test(tc, error_cap);
        tcase_add_test(tc, error_message_format);
        tcase_add_test(tc, file_missing);
        tcase_add_test(tc, file_unreadable);
        tcase_add_test(tc, file_good);
        tcase_add_test(tc, password_from_file);
        tcase_add_test(tc, cross_same_tcp_port);
        tcase_add_test(tc, cross_queue_holds_a_line);
        tcase_add_test(tc, cross_no_service);
        tcase_add_test(tc, web_keys);
        tcase_add_test(tc, answer_keys);
        tcase_add_test(tc, tls_keys);
        suite_add_tcase(s, tc);

        tc = tcase_create("refs");
        tcase_add_checked_fixture(tc, store_setup, store_teardown);
        tcase_add_test(tc, ref_unref);
        tcase_add_test(tc, current_swap);
        tcase_add_test(tc, cached_follows_reloads);
        tcase_add_test(tc, current_threads);
        suite_add_tcase(s, tc);
        return s;
}
