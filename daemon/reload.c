/* reload: re-reads pichat.ini, keeps what needs a restart, swaps the rest in. */
#include "reload.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "chat.h"
#include "log.h"
#include "quotes.h"
#include "tls.h"

static void bind_list(const struct conf *c, char *buf, size_t size)
{
        size_t n = 0;

        buf[0] = '\0';
        for (unsigned i = 0; i < c->server.n_bind && n < size; i++) {
                int r = snprintf(buf + n, size - n, "%s%s", i ? " " : "", c->server.bind[i]);
                if (r < 0)
                        break;
                n += (size_t)r;
        }
}

static unsigned keep_uint(const char *what, unsigned cur, unsigned *next)
{
        if (cur == *next)
                return 0;
        log_msg(LOG_WARNING, "reload: %s changed from %u to %u; needs a restart, keeping %u",
                what, cur, *next, cur);
        *next = cur;
        return 1;
}

static unsigned keep_bool(const char *what, bool cur, bool *next)
{
        if (cur == *next)
                return 0;
        log_msg(LOG_WARNING, "reload: %s changed from %s to %s; needs a restart, keeping %s",
                what, cur ? "yes" : "no", *next ? "yes" : "no", cur ? "yes" : "no");
        *next = cur;
        return 1;
}

static void tls_port_text(const struct conf_tls_port *tp, char *buf, size_t size)
{
        if (tp->on)
                snprintf(buf, size, "%u", tp->port);
        else
                snprintf(buf, size, "off");
}

static unsigned keep_tls_port(const char *what, const struct conf_tls_port *cur,
                              struct conf_tls_port *next)
{
        char a[16], b[16];

        if (cur->on == next->on && (!cur->on || cur->port == next->port))
                return 0;
        tls_port_text(cur, a, sizeof(a));
        tls_port_text(next, b, sizeof(b));
        log_msg(LOG_WARNING, "reload: %s changed from %s to %s; needs a restart, keeping %s",
                what, a, b, a);
        *next = *cur;
        return 1;
}

static unsigned keep_text(const char *what, const char *cur, char *next, bool secret)
{
        if (strcmp(cur, next) == 0)
                return 0;
        if (secret)
                log_msg(LOG_WARNING, "reload: %s changed; needs a restart, keeping the old one",
                        what);
        else
                log_msg(LOG_WARNING, "reload: %s changed from '%s' to '%s'; needs a restart, "
                        "keeping '%s'", what, cur, next, cur);
        snprintf(next, CONF_TEXT_SIZE, "%s", cur);
        return 1;
}

/* The link to the broker is made once: all of [cluster] but its limits
 * (max_queue_kib, peer_lines_per_sec) needs a restart. */
static unsigned keep_cluster(const struct conf *cur, struct conf *next)
{
        unsigned changed = 0;

        changed += keep_bool("[cluster] enabled", cur->cluster.enabled, &next->cluster.enabled);
        changed += keep_text("[cluster] broker", cur->cluster.broker, next->cluster.broker, false);
        snprintf(next->cluster.broker_host, CONF_TEXT_SIZE, "%s", cur->cluster.broker_host);
        next->cluster.broker_port = cur->cluster.broker_port;
        changed += keep_text("[cluster] node", cur->cluster.node, next->cluster.node, false);
        changed += keep_text("[cluster] topic_prefix", cur->cluster.topic_prefix,
                             next->cluster.topic_prefix, false);
        changed += keep_text("[cluster] username", cur->cluster.username,
                             next->cluster.username, false);
        changed += keep_text("[cluster] password", cur->cluster.password,
                             next->cluster.password, true);
        changed += keep_text("[cluster] password_file", cur->cluster.password_file,
                             next->cluster.password_file, false);
        changed += keep_text("[cluster] cafile", cur->cluster.cafile, next->cluster.cafile, false);
        changed += keep_text("[cluster] certfile", cur->cluster.certfile, next->cluster.certfile,
                             false);
        changed += keep_text("[cluster] keyfile", cur->cluster.keyfile, next->cluster.keyfile,
                             false);
        changed += keep_uint("[cluster] keepalive_s", cur->cluster.keepalive_s,
                             &next->cluster.keepalive_s);
        return changed;
}

unsigned reload_keep_restart_only(const struct conf *cur, struct conf *next)
{
        char a[PICHAT_BIND_MAX * 48], b[PICHAT_BIND_MAX * 48];
        unsigned changed = 0;

        bind_list(cur, a, sizeof(a));
        bind_list(next, b, sizeof(b));
        if (strcmp(a, b) != 0) {
                log_msg(LOG_WARNING, "reload: [server] bind changed from '%s' to '%s'; "
                        "needs a restart, keeping '%s'", a, b, a);
                memcpy(next->server.bind, cur->server.bind, sizeof(next->server.bind));
                next->server.n_bind = cur->server.n_bind;
                changed++;
        }
        changed += keep_uint("[server] thread_stack_kib", cur->server.thread_stack_kib,
                             &next->server.thread_stack_kib);
        changed += keep_bool("[echo] enabled", cur->echo.enabled, &next->echo.enabled);
        changed += keep_uint("[echo] port", cur->echo.port, &next->echo.port);
        changed += keep_bool("[udp] enabled", cur->udp.enabled, &next->udp.enabled);
        changed += keep_uint("[udp] port", cur->udp.port, &next->udp.port);
        changed += keep_bool("[chat] enabled", cur->chat.enabled, &next->chat.enabled);
        changed += keep_uint("[chat] port", cur->chat.port, &next->chat.port);
        changed += keep_bool("[web] enabled", cur->web.enabled, &next->web.enabled);
        changed += keep_uint("[web] port", cur->web.port, &next->web.port);
        changed += keep_uint("[log] queue_kib", cur->log.queue_kib, &next->log.queue_kib);
        changed += keep_bool("[daytime] enabled", cur->daytime.enabled, &next->daytime.enabled);
        changed += keep_uint("[daytime] port", cur->daytime.port, &next->daytime.port);
        changed += keep_bool("[daytime] udp", cur->daytime.udp, &next->daytime.udp);
        changed += keep_bool("[time] enabled", cur->time.enabled, &next->time.enabled);
        changed += keep_uint("[time] port", cur->time.port, &next->time.port);
        changed += keep_bool("[time] udp", cur->time.udp, &next->time.udp);
        changed += keep_bool("[qotd] enabled", cur->qotd.enabled, &next->qotd.enabled);
        changed += keep_uint("[qotd] port", cur->qotd.port, &next->qotd.port);
        changed += keep_bool("[qotd] udp", cur->qotd.udp, &next->qotd.udp);
        changed += keep_tls_port("[chat] tls_port", &cur->chat.tls_port, &next->chat.tls_port);
        changed += keep_tls_port("[web] tls_port", &cur->web.tls_port, &next->web.tls_port);
        changed += keep_cluster(cur, next);
        return changed;
}

int reload_config(struct conf_store *store, const char *path, struct chat *chat, char *problem,
                  size_t size)
{
        struct conf_errors errs;
        struct conf *next = conf_load(path, &errs);
        struct conf *cur;
        int r;

        if (!next) {
                for (unsigned i = 0; i < errs.n; i++)
                        log_msg(LOG_ERR, "reload: %s", errs.msg[i]);
                log_msg(LOG_ERR, "reload failed, keeping the configuration in force");
                snprintf(problem, size, "%s", errs.n ? errs.msg[0] : "cannot load the configuration");
                return -EINVAL;
        }
        cur = conf_current(store);
        reload_keep_restart_only(cur, next);
        /* qotd kept on by the above, in a file that turned it off: it
         * still needs the quotes the file names. */
        r = 0;
        if (next->qotd.enabled && !next->qotd.quotes &&
            (r = quotes_load(conf_quotes_path(next), PICHAT_QOTD_FILE_MAX, PICHAT_ANSWER_MAX,
                             &next->qotd.quotes)) == 0 && next->qotd.quotes->n == 0)
                r = -ENODATA;   /* no quote (of the size allowed) */
        if (r < 0) {
                log_msg(LOG_ERR, "reload: [qotd] file: cannot read %s: %s",
                        conf_quotes_path(next), strerror(-r));
                log_msg(LOG_ERR, "reload failed, keeping the configuration in force");
                snprintf(problem, size, "[qotd] file: cannot read %s: %s",
                         conf_quotes_path(next), strerror(-r));
                conf_unref(cur);
                conf_unref(next);
                return r;
        }
        /* TLS ports kept on by a file that turned them off: they keep the
         * certificate in force, which that file did not load. */
        if ((next->chat.tls_port.on || next->web.tls_port.on) && !next->tls.creds)
                next->tls.creds = tls_creds_ref(cur->tls.creds);
        /* Who may connect is worth a line of its own in the log. */
        bool access = memcmp(&cur->access, &next->access, sizeof(cur->access)) != 0;
        conf_unref(cur);

        /* From here on every new use of the configuration sees next;
         * clients keep the one they hold until they are done with it. */
        int level = next->log.level;
        conf_set_current(store, conf_ref(next));
        log_set_level(level);
        if (chat)
                chat_reconfigure(chat, next);
        if (access)
                log_msg(LOG_NOTICE, "reload: [access] now has %u allow and %u deny prefixes "
                        "(for new connections and datagrams)", next->access.allow.n,
                        next->access.deny.n);
        if (next->tls.creds) {
                char what[CONF_TEXT_SIZE + 128];
                tls_creds_describe(next->tls.creds, what, sizeof(what));
                log_msg(LOG_NOTICE, "reload: TLS: new connections get %s; established ones "
                        "keep theirs", what);
        }
        conf_unref(next);
        log_msg(LOG_NOTICE, "reloaded configuration %s", path);
        return 0;
}
