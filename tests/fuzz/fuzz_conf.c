/* Fuzz target: pichat.ini text to a validated configuration
 * (conf_load_string), the way pichatd --check-config and a reload read it.
 *
 * Besides the sanitizers' own checks (a leak included: the conf must be
 * freed by its last unref), it aborts when a configuration is returned
 * with errors, or none with no error, or when a returned one holds a value
 * outside the bounds the rest of the daemon trusts (bounds.h). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "log.h"
#include "text.h"

#define CHECK(x) do { if (!(x)) abort(); } while (0)

static void check_text(const char *s)
{
        size_t n = strnlen(s, CONF_TEXT_SIZE);

        CHECK(n < CONF_TEXT_SIZE);
        for (size_t i = 0; i < n; i++)
                CHECK((unsigned char)s[i] >= 0x20 && s[i] != 0x7f);
}

static void check_acl(const struct acl *a)
{
        CHECK(a->n <= PICHAT_ACL_MAX);
        for (unsigned i = 0; i < a->n; i++) {
                const struct acl_prefix *p = &a->p[i];
                CHECK((p->family == AF_INET && p->bits <= 32) ||
                      (p->family == AF_INET6 && p->bits <= 128));
        }
}

static void check_conf(const struct conf *c)
{
        CHECK(c->server.n_bind >= 1 && c->server.n_bind <= PICHAT_BIND_MAX);
        for (unsigned i = 0; i < c->server.n_bind; i++)
                check_text(c->server.bind[i]);
        CHECK(c->server.max_clients >= 1 && c->server.max_clients <= PICHAT_MAX_CLIENTS_MAX);
        CHECK(c->server.max_clients_per_ip <= PICHAT_MAX_CLIENTS_MAX);
        CHECK(c->server.thread_stack_kib >= PICHAT_STACK_KIB_MIN &&
              c->server.thread_stack_kib <= PICHAT_STACK_KIB_MAX);
        CHECK(c->server.idle_timeout_s <= PICHAT_IDLE_TIMEOUT_MAX);
        CHECK(c->server.line_timeout_s <= PICHAT_IDLE_TIMEOUT_MAX);
        CHECK(c->server.max_line_bytes >= PICHAT_LINE_BYTES_MIN &&
              c->server.max_line_bytes <= PICHAT_LINE_BYTES_MAX);
        CHECK(c->echo.port <= 65535 && c->udp.port <= 65535 && c->chat.port <= 65535);
        CHECK(c->echo.enabled || c->udp.enabled || c->chat.enabled);
        CHECK(c->udp.rate_per_source <= PICHAT_UDP_RATE_MAX);
        check_text(c->echo.prefix);
        check_text(c->echo.welcome);
        check_text(c->udp.prefix);
        check_text(c->chat.motd);
        check_text(c->chat.motd_file);
        check_text(c->chat.default_room);
        check_text(c->chat.rooms);
        check_text(c->chat.password);
        size_t pw = strlen(c->chat.password);
        char clean[TEXT_SANITIZED_MAX(CONF_TEXT_SIZE)];
        CHECK(text_sanitize(c->chat.password, pw, clean, sizeof(clean)) == pw);
        CHECK(pw == 0 || (c->chat.password[0] != ' ' && c->chat.password[pw - 1] != ' '));
        CHECK(c->chat.max_nick_len >= 1 && c->chat.max_nick_len <= 64);
        CHECK(c->chat.history <= 1000);
        CHECK(c->chat.max_queue_kib >= 4 && c->chat.lines_per_sec >= 1 && c->chat.burst >= 1);
        CHECK(c->log.level >= LOG_ERR && c->log.level <= LOG_DEBUG);
        check_acl(&c->access.allow);
        check_acl(&c->access.deny);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static struct conf_errors errs;
        char *text = malloc(size + 1);
        struct conf *c;

        CHECK(text);
        memcpy(text, data, size);
        text[size] = '\0';
        c = conf_load_string("fuzz.ini", text, &errs);
        if (c) {
                CHECK(errs.n == 0);
                check_conf(c);
                CHECK(conf_ref(c) == c);
                conf_unref(c);
                conf_unref(c);
        } else {
                CHECK(errs.n >= 1 && errs.n <= CONF_ERRORS_MAX);
                for (unsigned i = 0; i < errs.n; i++)
                        CHECK(strncmp(errs.msg[i], "fuzz.ini:", 9) == 0 &&
                              memchr(errs.msg[i], '\0', sizeof(errs.msg[i])));
        }
        free(text);
        return 0;
}
