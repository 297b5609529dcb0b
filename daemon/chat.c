/* chat: greeting, commands and flood control of chat clients. */
#include "chat.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bucket.h"
#include "cluster.h"
#include "cmd.h"
#include "conn.h"
#include "log.h"
#include "msg.h"
#include "text.h"

#define CHAT_WHO_LINE 400       /* /who output is cut into lines of about this */
/* When a line leaves some member's queue this full (percent), its sender
 * waits before its next line: readers that are merely behind (short of CPU
 * on a busy machine) catch up, while one that stopped reading still
 * overflows and is dropped. The nearer a queue is to overflowing, the
 * longer the wait, so a starved reader gets more time exactly when it
 * needs it; a stalled one costs the room at most a second or so of slower
 * sending before it goes. */
#define CHAT_HIGH_WATER 50
#define CHAT_YIELD_MS 1
#define CHAT_NEAR_FULL 85
#define CHAT_NEAR_FULL_YIELD_MS 10

struct chat_client {
        struct member m;
        struct chat *chat;
        struct bucket bucket;
        bool told_slow;
        bool logged_in;                 /* gave [chat] password, or none is set */
        bool quiet;                     /* came in unannounced: leaves so too */
        unsigned wrong;                 /* tries at the password so far */
        int64_t yield_until;            /* see CHAT_HIGH_WATER, PICHAT_PASS_PAUSE_MS */
        struct conn *conn;
};

static struct room_limits limits_of(const struct conf *cf)
{
        struct room_limits lim = {
                .history = cf->chat.history,
                .max_rooms = cf->chat.max_rooms,
                .max_members = cf->chat.max_room_members,
        };
        return lim;
}

int chat_init(struct chat *ch, const struct conf *cf)
{
        struct room_limits lim = limits_of(cf);

        guard_init(&ch->pass);
        guard_init(&ch->notices);
        return room_registry_init(&ch->reg, cf->chat.default_room, &cf->chat.room_list, &lim);
}

void chat_reconfigure(struct chat *ch, const struct conf *cf)
{
        struct room_limits lim = limits_of(cf);

        room_set_limits(&ch->reg, &lim);
        cluster_reconfigure(ch->cluster, cf);
        if (room_set_rooms(&ch->reg, cf->chat.default_room, &cf->chat.room_list) < 0)
                log_msg(LOG_WARNING, "chat: could not apply the rooms list in full");
}

void chat_destroy(struct chat *ch)
{
        room_registry_free(&ch->reg);
        guard_destroy(&ch->pass);
        guard_destroy(&ch->notices);
}

static void log_wrong_passwords(void *arg, const struct addr_key *k, unsigned n)
{
        char who[64];

        (void)arg;
        addr_key_format(k, who, sizeof(who));
        log_msg(LOG_NOTICE, "chat: %u wrong password%s from %s in the last %d s", n,
                n == 1 ? "" : "s", who, PICHAT_PASS_LOG_MS / 1000);
}

static struct msg *note_came_and_went(size_t n)
{
        return msg_new("* %zu guest%s came and went", n, n == 1 ? "" : "s");
}

void chat_tick(struct chat *ch, int64_t now_ms)
{
        guard_pass_report(&ch->pass, now_ms, log_wrong_passwords, NULL);
        room_summaries(&ch->reg, now_ms, PICHAT_NOTICE_SUMMARY_MS, note_came_and_went);
}

size_t chat_clients(struct chat *ch)
{
        return room_members_total(&ch->reg);
}

size_t chat_rooms(struct chat *ch)
{
        return room_count(&ch->reg);
}

/* Queue a line for the client itself (all its output goes through its
 * queue, so replies and room lines keep their order). Never cut: a line
 * is as long as what it says. */
__attribute__((format(printf, 2, 3)))
static void tell(struct chat_client *cc, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        struct msg *m = msg_vnew(fmt, ap);
        va_end(ap);
        if (m) {
                msg_queue_push(conn_queue(cc->conn), m, NULL);
                msg_unref(m);
        }
}

/* Client text shown back in a reply, cut to at most max bytes between
 * two characters: the two arguments of a "%.*s". */
#define CUT(text, max) (int)text_fit(text, max), text

static struct msg *note_entered(const struct member *m, const struct room *r)
{
        return msg_new("* %s entered room %s", m->nick, r->name);
}

static struct msg *note_joined(const struct member *m, const struct room *r)
{
        if (r->topic[0])
                return msg_new("* you are %s, in room %s (%zu member%s; topic: %s)",
                               m->nick, r->name, r->n_members, r->n_members == 1 ? "" : "s",
                               r->topic);
        return msg_new("* you are %s, in room %s (%zu member%s)", m->nick, r->name,
                       r->n_members, r->n_members == 1 ? "" : "s");
}

static const struct room_notes chat_notes = {
        .entered = note_entered,
        .joined = note_joined,
};

/* For a member whose source has caused too many notices. */
static const struct room_notes quiet_notes = {
        .joined = note_joined,
};

/* The notes for cc coming into a room: whether the room hears of it
 * depends on how many notices its source has caused (guard.h). */
static const struct room_notes *entering(struct chat_client *cc)
{
        cc->quiet = !guard_notice(&cc->chat->notices, &cc->conn->key, clock_now_ms());
        return cc->quiet ? &quiet_notes : &chat_notes;
}

static struct msg *note_renamed(const char *old, const char *nick)
{
        return msg_new("* %s is now known as %s", old, nick);
}

static struct log_ctx chat_log_ctx(struct chat_client *cc)
{
        /* Only the client's own thread changes its nick and room. */
        struct log_ctx ctx = {
                .service = cc->conn->entry->name,
                .peer = cc->conn->peer,
                .nick = cc->m.nick,
                .room = cc->m.room ? cc->m.room->name : NULL,
        };
        return ctx;
}

/* The first line of motd_file, or motd. */
static void motd_line(const struct conf *cf, char *out, size_t size)
{
        snprintf(out, size, "%s", cf->chat.motd);
        if (!cf->chat.motd_file[0])
                return;
        FILE *f = fopen(cf->chat.motd_file, "re");
        char line[CONF_TEXT_SIZE * 2];
        if (!f) {
                log_msg(LOG_WARNING, "chat: cannot read motd_file %s: %s", cf->chat.motd_file,
                        strerror(errno));
                return;
        }
        if (fgets(line, sizeof(line), f)) {
                line[strcspn(line, "\r\n")] = '\0';
                text_sanitize(line, strlen(line), out, size);
        }
        fclose(f);
}

/* The MOTD, then into the default room: a session proper begins. */
static int chat_enter(struct chat_client *cc, const struct conf *cf)
{
        char motd[CONF_TEXT_SIZE * 2];
        int r;

        cc->logged_in = true;
        motd_line(cf, motd, sizeof(motd));
        if (motd[0])
                tell(cc, "* %s", motd);
        r = room_add(&cc->chat->reg, &cc->m, entering(cc));
        if (r == 0) {
                cluster_entered(cc->chat->cluster, cc->m.room->name, cc->m.nick, cc->quiet);
                struct log_ctx ctx = chat_log_ctx(cc);
                log_ctx(LOG_INFO, &ctx, "%s joined as %s", cc->conn->peer, cc->m.nick);
        }
        return r;
}

static int chat_open(struct conn *c)
{
        struct chat_client *cc = calloc(1, sizeof(*cc));

        if (!cc)
                return -ENOMEM;
        cc->conn = c;
        cc->chat = c->svc_ctx;
        cc->m.q = conn_queue(c);
        c->priv = cc;
        /* The queue is sized when the client comes in; flood limits
         * follow the configuration in force. */
        conn_limit_output(c, (size_t)c->conf->chat.max_queue_kib * 1024);
        bucket_init(&cc->bucket, conn_conf(c)->chat.lines_per_sec, conn_conf(c)->chat.burst,
                    clock_now_ms());

        tell(cc, "* Welcome to pichat chat. Type /help for commands.");
        /* Until the password is given the client is in no room, has no
         * nick, and sees and is seen by nobody. */
        if (c->conf->chat.password[0]) {
                tell(cc, "* this server needs a password: /pass SECRET");
                return 0;
        }
        /* A TLS client that came to the plain port says so at once: it
         * must not enter a room, not even for a moment. */
        if (conn_sniff_tls(c, PICHAT_TLS_SNIFF_MS))
                return SERVICE_CLOSE;
        return chat_enter(cc, conn_conf(c));
}

static int64_t chat_delay(struct conn *c)
{
        struct chat_client *cc = c->priv;
        int64_t now = clock_now_ms();
        int64_t d = bucket_delay(&cc->bucket, now);

        if (d > 0 && !cc->told_slow) {
                cc->told_slow = true;
                tell(cc, "* you are sending fast: your lines are being delayed (none are lost)");
        }
        if (cc->yield_until - now > d)
                d = cc->yield_until - now;
        return d;
}

static int chat_too_long(struct conn *c)
{
        tell(c->priv, "line too long (max %u bytes)", c->conf->server.max_line_bytes);
        return 0;
}

static void do_help(struct chat_client *cc)
{
        size_t n;
        const struct cmd_help *h = cmd_help_table(&n);

        tell(cc, "* commands:");
        for (size_t i = 0; i < n; i++)
                tell(cc, "*   %-18s %s", h[i].usage, h[i].desc);
        tell(cc, "*   %-18s %s", "//text", "say a line that starts with /");
}

static void do_nick(struct chat_client *cc, const struct conf *cf, const char *nick)
{
        char old[ROOM_NICK_MAX + 1];

        if (!text_valid_name(nick, cf->chat.max_nick_len)) {
                tell(cc, "bad nick %.*s: use 1 to %u of A-Z a-z 0-9 _ -", CUT(nick, 64),
                     cf->chat.max_nick_len);
                return;
        }
        snprintf(old, sizeof(old), "%s", cc->m.nick);
        if (room_set_nick(&cc->chat->reg, &cc->m, nick, note_renamed) == ROOM_NICK_TAKEN) {
                tell(cc, "nick %s is taken", nick);
                return;
        }
        tell(cc, "* you are now known as %s", nick);
        if (cc->m.room)
                cluster_renamed(cc->chat->cluster, cc->m.room->name, old, nick);
        struct log_ctx ctx = chat_log_ctx(cc);
        log_ctx(LOG_INFO, &ctx, "%s is now known as %s", old, nick);
}

static void do_join(struct chat_client *cc, const char *room, const char *key, const char *why)
{
        char name[ROOM_NAME_MAX + 1], oldroom[ROOM_NAME_MAX + 1];
        int r;

        if (text_room_name(room, name, sizeof(name), PICHAT_ROOM_NAME_NEW_MAX) < 0) {
                tell(cc, "bad room name %.*s: use an optional # and 1 to %d of A-Z a-z 0-9 _ -",
                     CUT(room, 64), PICHAT_ROOM_NAME_NEW_MAX);
                return;
        }
        if (key && strlen(key) > ROOM_KEY_MAX) {
                tell(cc, "room key too long (max %d bytes)", ROOM_KEY_MAX);
                return;
        }
        snprintf(oldroom, sizeof(oldroom), "%s", cc->m.room ? cc->m.room->name : "");
        /* A member that came unannounced leaves so, counted instead. */
        bool was_quiet = cc->quiet;
        struct msg *left = was_quiet ? NULL :
                           msg_new("* %s left room %s (%s)", cc->m.nick, oldroom, why);
        if (was_quiet)
                room_note_quiet(&cc->chat->reg, &cc->m, clock_now_ms());
        r = room_join(&cc->chat->reg, &cc->m, name, key, left, entering(cc));
        msg_unref(left);
        switch (r) {
        case 0: {
                cluster_entered(cc->chat->cluster, name, cc->m.nick, cc->quiet);
                struct log_ctx ctx = chat_log_ctx(cc);
                log_ctx(LOG_INFO, &ctx, "%s moved from %s", cc->m.nick, oldroom);
                break;
        }
        case ROOM_SAME:
                tell(cc, "* you are in room %s already", name);
                break;
        case ROOM_BAD_KEY:
                tell(cc, key ? "wrong key for room %s" : "room %s needs a key (/join ROOM KEY)", name);
                break;
        case ROOM_FULL:
                tell(cc, "room %s is full", name);
                break;
        case ROOM_TOO_MANY:
                tell(cc, "cannot create room %s: too many rooms", name);
                break;
        default:
                tell(cc, "cannot join room %s: %s", name, strerror(-r));
                break;
        }
}

static void each_room(void *arg, const char *name, size_t members, size_t remote, bool keyed)
{
        char others[48] = "";

        if (remote)
                snprintf(others, sizeof(others), " (%zu on other nodes)", remote);
        tell(arg, "*   %s: %zu member%s%s%s", name, members, members == 1 ? "" : "s", others,
             keyed ? " (key)" : "");
}

struct who {
        struct chat_client *cc;
        char line[CHAT_WHO_LINE + ROOM_NICK_MAX + PICHAT_CLUSTER_NODE_MAX + 8];
        size_t len;
        size_t count;
};

static void each_member(void *arg, const char *room, const char *nick, const char *node)
{
        struct who *w = arg;

        if (w->count++ == 0)
                tell(w->cc, "* members of room %s:", room);
        if (w->len > CHAT_WHO_LINE) {
                tell(w->cc, "*   %s", w->line);
                w->len = 0;
        }
        /* A member of another node is nick@node. */
        w->len += (size_t)snprintf(w->line + w->len, sizeof(w->line) - w->len, "%s%s%s%s",
                                   w->len ? " " : "", nick, node ? "@" : "", node ? node : "");
}

static void do_who(struct chat_client *cc)
{
        struct who w = { .cc = cc };

        room_each_member(&cc->chat->reg, &cc->m, each_member, &w);
        if (w.len)
                tell(cc, "*   %s", w.line);
        tell(cc, "* %zu member%s", w.count, w.count == 1 ? "" : "s");
}

static void do_msg(struct chat_client *cc, const char *nick, const char *text)
{
        char to[ROOM_NICK_MAX + 1], node[PICHAT_CLUSTER_NODE_MAX + 1];
        struct msg *m = msg_new("*%s* %s", cc->m.nick, text);
        int r;

        if (!m)
                return;
        r = room_privmsg(&cc->chat->reg, nick, m, to, cc->chat->cluster ? node : NULL,
                         sizeof(node));
        if (r == ROOM_REMOTE)
                cluster_privmsg(cc->chat->cluster, cc->m.nick, to, text);
        if (r == ROOM_NO_SUCH_NICK)
                tell(cc, "no such nick %.*s", CUT(nick, 64));
        else
                tell(cc, "-> *%s* %s", to, text);
        msg_unref(m);
}

static void do_topic(struct chat_client *cc, const char *text)
{
        char name[ROOM_NAME_MAX + 1], topic[ROOM_TOPIC_MAX + 1];
        struct msg *announce = NULL;

        if (text && strlen(text) > ROOM_TOPIC_MAX) {
                tell(cc, "topic too long (max %d bytes)", ROOM_TOPIC_MAX);
                return;
        }
        if (text)
                announce = msg_new("* %s set the topic of %s: %s", cc->m.nick,
                                   cc->m.room ? cc->m.room->name : "", text);
        room_topic(&cc->chat->reg, &cc->m, text, announce, name, topic);
        msg_unref(announce);
        if (text && name[0])
                cluster_topic(cc->chat->cluster, name, cc->m.nick, text);
        if (!text) {
                if (topic[0])
                        tell(cc, "* topic of %s: %s", name, topic);
                else
                        tell(cc, "* room %s has no topic", name);
        }
}

/* Say text to the room: others see it, the history keeps it. */
static void say(struct chat_client *cc, const char *text, bool action)
{
        struct msg *m = action ? msg_new("* %s %s", cc->m.nick, text) :
                                 msg_new("<%s> %s", cc->m.nick, text);

        if (m) {
                /* The connection ends the batch once the lines of this
                 * read are handled. */
                msg_batch_begin(conn_batch(cc->conn));
                unsigned fullest = room_say(&cc->chat->reg, &cc->m, m, false, true,
                                            conn_batch(cc->conn));
                if (cc->m.room)
                        cluster_said(cc->chat->cluster, cc->m.room->name, cc->m.nick, text,
                                     action);
                if (fullest >= CHAT_HIGH_WATER)
                        cc->yield_until = clock_now_ms() + (fullest >= CHAT_NEAR_FULL ?
                                                           CHAT_NEAR_FULL_YIELD_MS : CHAT_YIELD_MS);
                msg_unref(m);
        }
}

/* A line from a client that has not given the password yet. The secret
 * and what was tried are never logged. 0, SERVICE_CLOSE or -errno. */
static int chat_login(struct chat_client *cc, struct conn *c, const struct cmd *cmd)
{
        struct log_ctx ctx = { .service = c->entry->name, .peer = c->peer };
        int64_t now = clock_now_ms(), wait = 0;
        bool held = false;
        unsigned left;

        switch (cmd->type) {
        case CMD_NONE:
                return 0;
        case CMD_HELP:
                tell(cc, "* this server needs a password first: /pass SECRET");
                return 0;
        case CMD_PASS:
                /* Wrong tries count against the address, whatever the
                 * connection: a try while it is held back is not judged. */
                if ((wait = guard_pass_wait(&cc->chat->pass, &c->key, now)) > 0) {
                        held = true;
                        break;
                }
                if (text_secret_equal(cmd->text, c->conf->chat.password)) {
                        guard_pass_ok(&cc->chat->pass, &c->key);
                        log_ctx(LOG_INFO, &ctx, "%s gave the password", c->peer);
                        tell(cc, "* password accepted");
                        return chat_enter(cc, conn_conf(c));
                }
                /* One line per address and minute in the log, not one a
                 * try: a guesser must not flood it. */
                unsigned n = guard_pass_failed(&cc->chat->pass, &c->key, now);
                if (n)
                        log_wrong_passwords(NULL, &c->key, n);
                wait = guard_pass_wait(&cc->chat->pass, &c->key, now);
                break;
        default:
                break;
        }
        cc->wrong++;
        log_ctx(LOG_DEBUG, &ctx, "%s: %s (%u of %d tries)", c->peer,
                held ? "password while held back" :
                cmd->type == CMD_PASS ? "wrong password" : "no password given",
                cc->wrong, PICHAT_PASS_TRIES);
        if (cc->wrong >= PICHAT_PASS_TRIES) {
                tell(cc, "* wrong password, closing connection");
                conn_set_reason(c, "wrong password");
                return SERVICE_CLOSE;
        }
        /* The next line waits as long as the address must. */
        cc->yield_until = now + (wait > PICHAT_PASS_PAUSE_MS ? wait : PICHAT_PASS_PAUSE_MS);
        left = PICHAT_PASS_TRIES - cc->wrong;
        if (held)
                tell(cc, "* too many wrong passwords from your address: try again in %lld s",
                     (long long)(wait + 999) / 1000);
        else if (cmd->type == CMD_PASS)
                tell(cc, "* wrong password (%u more %s)", left, left == 1 ? "try" : "tries");
        else
                tell(cc, "* send /pass SECRET first (%u more %s)", left, left == 1 ? "try" : "tries");
        return 0;
}

static int chat_line(struct conn *c, const char *raw, size_t len)
{
        struct chat_client *cc = c->priv;
        size_t size = TEXT_SANITIZED_MAX(len);
        char *line = malloc(size);
        struct conf *cf;
        struct cmd cmd;
        int r = 0;

        if (!line)
                return -ENOMEM;
        cf = conn_conf(c);
        /* A reload may have changed the flood limits of clients already here. */
        if (cc->bucket.rate != (int64_t)cf->chat.lines_per_sec ||
            cc->bucket.cap != (int64_t)cf->chat.burst * BUCKET_MILLI)
                bucket_set_rate(&cc->bucket, cf->chat.lines_per_sec, cf->chat.burst,
                                clock_now_ms());
        bucket_take(&cc->bucket, clock_now_ms());
        text_sanitize(raw, len, line, size);
        cmd_parse(line, &cmd);
        if (!cc->logged_in && cmd.type != CMD_QUIT) {
                r = chat_login(cc, c, &cmd);
                goto out;
        }
        switch (cmd.type) {
        case CMD_NONE:
                break;
        case CMD_SAY:
                say(cc, cmd.text, false);
                break;
        case CMD_ME:
                say(cc, cmd.text, true);
                break;
        case CMD_NICK:
                do_nick(cc, cf, cmd.name);
                break;
        case CMD_JOIN:
                do_join(cc, cmd.name, cmd.key, "changed room");
                break;
        case CMD_LEAVE:
                do_join(cc, cf->chat.default_room, NULL, "changed room");
                break;
        case CMD_ROOMS:
                tell(cc, "* rooms:");
                room_each_room(&cc->chat->reg, each_room, cc);
                break;
        case CMD_WHO:
                do_who(cc);
                break;
        case CMD_MSG:
                do_msg(cc, cmd.name, cmd.text);
                break;
        case CMD_TOPIC:
                do_topic(cc, cmd.text);
                break;
        case CMD_QUIT:
                if (cmd.text)
                        conn_set_reason(c, "quit: %.*s", CUT(cmd.text, 64));
                else
                        conn_set_reason(c, "quit");
                tell(cc, "* bye");
                r = SERVICE_CLOSE;
                break;
        case CMD_HELP:
                do_help(cc);
                break;
        case CMD_PASS:
                if (c->conf->chat.password[0])
                        tell(cc, "* you gave the password already");
                else
                        tell(cc, "no password is needed on this server");
                break;
        case CMD_UNKNOWN:
                tell(cc, "unknown command /%.*s (try /help)", CUT(cmd.word, 32));
                break;
        case CMD_BAD:
                tell(cc, "%s", cmd.error);
                break;
        }
out:
        free(line);
        return r;
}

static void chat_close(struct conn *c, const char *reason)
{
        struct chat_client *cc = c->priv;
        struct msg *left = NULL;

        if (!cc)
                return;
        if (cc->m.room) {
                struct log_ctx ctx = chat_log_ctx(cc);
                log_ctx(LOG_INFO, &ctx, "%s left (%s)", cc->m.nick, reason);
                /* At shutdown everyone is leaving: spare them the notices. */
                if (cc->quiet && !conn_stopping(c))
                        room_note_quiet(&cc->chat->reg, &cc->m, clock_now_ms());
                else if (!conn_stopping(c))
                        left = msg_new("* %s left room %s (%s)", cc->m.nick, cc->m.room->name,
                                       reason);
                /* At shutdown the node's empty member list says it all. */
                if (!conn_stopping(c))
                        cluster_left(cc->chat->cluster, cc->m.room->name, cc->m.nick, reason,
                                     cc->quiet);
                room_remove(&cc->chat->reg, &cc->m, left);
                msg_unref(left);
        }
        free(cc);
        c->priv = NULL;
}

const struct service chat_service = {
        .name = "chat", .shared = true,
        .open = chat_open, .message = chat_line, .too_long = chat_too_long,
        .delay_ms = chat_delay, .close = chat_close,
};
