/* cluster: the bridge to the MQTT broker: what this node publishes (the
 * ordered, bounded outgoing ring), what it applies from the others (one
 * peer record per node: dedupe, order, flood, members), the start-up
 * check, and the wire format (cluster.h). */
#include "cluster.h"

#include <errno.h>
#include <inttypes.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bucket.h"
#include "clock.h"
#include "log.h"
#include "mosq.h"
#include "text.h"

/* A peer asked again for what it misses at most this often. */
#define CLUSTER_NACK_MS 300
/* How long the start-up check waits for a live node to answer. */
#define CLUSTER_PROBE_MS 1500
/* How long the start-up check waits for the broker at all. */
#define CLUSTER_CONNECT_MS 5000
/* How long after this node is back a peer must say it is there. */
#define CLUSTER_CONFIRM_MS(keepalive_s) ((int64_t)(keepalive_s) * 2000 + 5000)
/* Reasons a member leaves, as published, are cut to this. */
#define CLUSTER_REASON_MAX 80
/* The drop counters go to the log at most this often. */
#define CLUSTER_REPORT_MS 10000

/* ---- the wire format -------------------------------------------------- */

static const char *const kind_names[CK_COUNT] = {
        [CK_SAY] = "say", [CK_ME] = "me", [CK_JOIN] = "join", [CK_LEAVE] = "leave",
        [CK_NICK] = "nick", [CK_TOPIC] = "topic", [CK_MSG] = "msg", [CK_SKIP] = "skip",
        [CK_PRESENCE] = "presence", [CK_NACK] = "nack",
};

static const char *const drop_names[CD_COUNT] = {
        [CD_OK] = "ok", [CD_MALFORMED] = "malformed", [CD_VERSION] = "unknown version",
        [CD_OVERSIZE] = "oversize", [CD_FORGED] = "forged node", [CD_FLOOD] = "flood",
};

const char *cluster_drop_name(enum cluster_drop d)
{
        return d < CD_COUNT ? drop_names[d] : "?";
}

/* The next line of [*p, end) (without its LF) into line: false at the end. */
static bool next_line(const char **p, const char *end, const char **line, size_t *len)
{
        if (*p > end)
                return false;
        const char *nl = memchr(*p, '\n', (size_t)(end - *p));
        *line = *p;
        *len = nl ? (size_t)(nl - *p) : (size_t)(end - *p);
        *p = nl ? nl + 1 : end + 1;
        return true;
}

static bool copy_name(char *out, size_t size, const char *s, size_t len, size_t max)
{
        if (len == 0 || len >= size)
                return false;
        memcpy(out, s, len);
        out[len] = '\0';
        return text_valid_name(out, max);
}

static bool copy_room(char *out, size_t size, const char *s, size_t len)
{
        char raw[ROOM_NAME_MAX + 2];

        if (len == 0 || len >= sizeof(raw))
                return false;
        memcpy(raw, s, len);
        raw[len] = '\0';
        return text_room_name(raw, out, size, ROOM_NAME_MAX) == 0;
}

/* s as a member may see it: sanitised, cut to max bytes. */
static const char *clean_text(const char *s, size_t len, size_t max, char **text, size_t *left)
{
        char *out = *text;
        size_t n = text_sanitize(s, len, out, *left);

        n = text_fit(out, n < max ? n : max);
        out[n] = '\0';
        *text += n + 1;
        *left -= n + 1;
        return out;
}

static bool parse_u64(const char *s, uint64_t *out)
{
        char *end;

        if (*s < '0' || *s > '9')
                return false;
        errno = 0;
        unsigned long long v = strtoull(s, &end, 10);
        if (errno || *end)
                return false;
        *out = v;
        return true;
}

enum cluster_drop cluster_parse(const char *prefix, const char *self, const char *topic,
                                const char *payload, size_t len, size_t max_line,
                                struct cluster_msg *m, char *text, size_t text_size)
{
        size_t plen = strlen(prefix), n;
        const char *t = topic, *slash, *line, *p = payload, *end = payload + len;
        char tnode[PICHAT_CLUSTER_NODE_MAX + 1], head[PICHAT_CLUSTER_HEADER_MAX];
        char hv[16], hnode[64], hinc[24], hseq[24], hkind[16];
        bool presence;

        memset(m, 0, sizeof(*m));
        /* P/1/NODE/KIND[/ROOM] */
        if (strncmp(t, prefix, plen) != 0 || t[plen] != '/')
                return CD_MALFORMED;
        t += plen + 1;
        if (strncmp(t, "1/", 2) != 0)
                return strchr(t, '/') ? CD_VERSION : CD_MALFORMED;
        t += 2;
        if (!(slash = strchr(t, '/')) ||
            !copy_name(tnode, sizeof(tnode), t, (size_t)(slash - t), PICHAT_CLUSTER_NODE_MAX))
                return CD_MALFORMED;
        t = slash + 1;
        presence = strcmp(t, "presence") == 0;
        if (len > (presence ? PICHAT_CLUSTER_PRESENCE_MAX :
                   PICHAT_CLUSTER_HEADER_MAX + PICHAT_ROOM_LINE_MAX(max_line)))
                return CD_OVERSIZE;
        if (strcmp(tnode, self) == 0)
                return CD_FORGED;       /* no-local: only another can send these */
        if (memchr(payload, '\0', len))
                return CD_MALFORMED;
        if (!next_line(&p, end, &line, &n) || n >= sizeof(head))
                return CD_MALFORMED;
        memcpy(head, line, n);
        head[n] = '\0';
        if (sscanf(head, "%15s", hv) == 1 && strcmp(hv, "1") != 0)
                return CD_VERSION;
        if (sscanf(head, "%15s %63s %23s %23s %15s%n", hv, hnode, hinc, hseq, hkind,
                   (int *)&n) != 5 || head[n] != '\0')
                return CD_MALFORMED;
        if (strcmp(hnode, tnode) != 0)
                return CD_FORGED;
        snprintf(m->node, sizeof(m->node), "%s", tnode);
        if (!parse_u64(hinc, &m->inc) || !parse_u64(hseq, &m->seq))
                return CD_MALFORMED;
        for (m->kind = 0; m->kind < CK_COUNT; m->kind++)
                if (strcmp(hkind, kind_names[m->kind]) == 0)
                        break;
        if (m->kind == CK_COUNT)
                return CD_MALFORMED;

        /* Which topic each kind comes on. */
        bool room_topic = strncmp(t, "room/", 5) == 0;
        switch (m->kind) {
        case CK_MSG:
                if (strcmp(t, "msg") != 0)
                        return CD_MALFORMED;
                break;
        case CK_PRESENCE:
                if (!presence)
                        return CD_MALFORMED;
                break;
        case CK_NACK:
                if (strcmp(t, "nack") != 0)
                        return CD_MALFORMED;
                break;
        case CK_SKIP:
                if (!room_topic && strcmp(t, "msg") != 0)
                        return CD_MALFORMED;
                break;
        default:
                if (!room_topic)
                        return CD_MALFORMED;
                break;
        }
        if (room_topic && !copy_room(m->room, sizeof(m->room), t + 5, strlen(t + 5)))
                return CD_MALFORMED;
        if (m->seq == 0 && m->kind != CK_PRESENCE && m->kind != CK_NACK)
                return CD_MALFORMED;

        const char *l2;
        size_t n2;
        switch (m->kind) {
        case CK_SAY: case CK_ME: case CK_TOPIC:
                if (!next_line(&p, end, &line, &n) ||
                    !copy_name(m->nick, sizeof(m->nick), line, n, ROOM_NICK_MAX))
                        return CD_MALFORMED;
                /* The rest, whatever it holds, is one line of text. */
                if (p > end)
                        return CD_MALFORMED;
                m->text = clean_text(p, (size_t)(end - p),
                                     m->kind == CK_TOPIC ? ROOM_TOPIC_MAX : max_line, &text,
                                     &text_size);
                if (!m->text[0] && m->kind != CK_TOPIC)
                        return CD_MALFORMED;
                break;
        case CK_JOIN:
                if (!next_line(&p, end, &line, &n) ||
                    !copy_name(m->nick, sizeof(m->nick), line, n, ROOM_NICK_MAX))
                        return CD_MALFORMED;
                m->quiet = next_line(&p, end, &line, &n) && n == 5 && !memcmp(line, "quiet", 5);
                break;
        case CK_LEAVE:
                if (!next_line(&p, end, &line, &n) ||
                    !copy_name(m->nick, sizeof(m->nick), line, n, ROOM_NICK_MAX) ||
                    !next_line(&p, end, &l2, &n2))
                        return CD_MALFORMED;
                m->text = clean_text(l2, n2, CLUSTER_REASON_MAX, &text, &text_size);
                m->quiet = next_line(&p, end, &line, &n) && n == 5 && !memcmp(line, "quiet", 5);
                break;
        case CK_NICK:
                if (!next_line(&p, end, &line, &n) ||
                    !copy_name(m->nick, sizeof(m->nick), line, n, ROOM_NICK_MAX) ||
                    !next_line(&p, end, &line, &n) ||
                    !copy_name(m->nick2, sizeof(m->nick2), line, n, ROOM_NICK_MAX))
                        return CD_MALFORMED;
                break;
        case CK_MSG:
                if (!next_line(&p, end, &line, &n) ||
                    !copy_name(m->nick, sizeof(m->nick), line, n, ROOM_NICK_MAX) ||
                    !next_line(&p, end, &line, &n) ||
                    !copy_name(m->nick2, sizeof(m->nick2), line, n, ROOM_NICK_MAX) || p > end)
                        return CD_MALFORMED;
                m->text = clean_text(p, (size_t)(end - p), max_line, &text, &text_size);
                if (!m->text[0])
                        return CD_MALFORMED;
                break;
        case CK_SKIP:
                break;
        case CK_PRESENCE: {
                char num[24];
                if (!next_line(&p, end, &line, &n) || n == 0 || n >= sizeof(num))
                        return CD_MALFORMED;
                memcpy(num, line, n);
                num[n] = '\0';
                if (!parse_u64(num, &m->a))
                        return CD_MALFORMED;
                m->members = p <= end ? p : end;
                break;
        }
        case CK_NACK: {
                char a[24], b[24], who[64];
                if (!next_line(&p, end, &line, &n) || n >= sizeof(head))
                        return CD_MALFORMED;
                memcpy(head, line, n);
                head[n] = '\0';
                if (sscanf(head, "%63s %23s %23s%n", who, a, b, (int *)&n) != 3 ||
                    head[n] != '\0' || !copy_name(m->nick, sizeof(m->nick), who, strlen(who),
                                                  PICHAT_CLUSTER_NODE_MAX) ||
                    !parse_u64(a, &m->a) || !parse_u64(b, &m->b))
                        return CD_MALFORMED;
                break;
        }
        default:
                return CD_MALFORMED;
        }
        return CD_OK;
}

/* ---- state ------------------------------------------------------------- */

/* One line this node published, kept until the ring's bound pushes it
 * out: for resends after an outage and to peers that missed it. */
struct out {
        struct out *next;
        uint64_t seq;
        int mid;                /* libmosquitto's id while unacknowledged */
        bool acked;
        size_t cost;            /* against max_queue_kib */
        int len;
        char *payload;          /* after the topic in data */
        char data[];            /* topic, NUL, payload */
};

struct rmember {
        struct member m;
        bool seen;              /* in the presence being applied */
};

/* Another node, as this one knows it. Only the network thread touches
 * peers, under peers_lock (cluster_tick looks at them too). */
struct peer {
        bool used;
        char name[PICHAT_CLUSTER_NODE_MAX + 1];
        uint64_t inc;           /* its process, 0 until heard of */
        uint64_t top;           /* its last event applied here */
        int64_t nack_ms;        /* when a resend was last asked for */
        uint64_t presence_as_of;
        bool confirmed;         /* heard since this node (re)connected */
        bool gone;              /* its members left; its place in the stream is kept */
        struct bucket flood;
        struct rmember **members;
        size_t n_members, cap_members;
};

struct cluster {
        struct mosquitto *mosq;
        struct registry *reg;
        struct msg_batch batch;         /* libmosquitto's thread's, in on_message() */
        bool tls;                       /* to the broker */
        char node[PICHAT_CLUSTER_NODE_MAX + 1];
        char prefix[PICHAT_CLUSTER_PREFIX_MAX + 1];
        char where[CONF_TEXT_SIZE + 16];        /* host:port, for messages */
        unsigned keepalive_s;
        size_t max_line;
        uint64_t inc;

        /* The outgoing ring and the link's state. */
        pthread_mutex_t lock;
        struct out *head, *tail;
        size_t bytes, limit;
        uint64_t seq;                   /* of the last event */
        bool connected, stopping;
        bool was_down;                  /* members were told the others are away */
        size_t lost_out;                /* lines that did not fit while away */
        uint64_t presence_seq;

        /* The others. */
        pthread_mutex_t peers_lock;
        struct peer peers[PICHAT_CLUSTER_NODES_MAX];
        unsigned peer_rate;
        int64_t confirm_by;             /* peers not heard of by then are gone */

        atomic_bool presence_dirty;
        atomic_ulong drops[CD_COUNT];
        unsigned long reported[CD_COUNT];
        int64_t report_ms;
};

static void cluster_topic_of(const struct cluster *c, char *out, size_t size, const char *what,
                             const char *room)
{
        if (room)
                snprintf(out, size, "%s/1/%s/%s/%s", c->prefix, c->node, what, room);
        else
                snprintf(out, size, "%s/1/%s/%s", c->prefix, c->node, what);
}

/* ---- publishing -------------------------------------------------------- */

/* Hand o to libmosquitto (QoS 1), under c->lock. In threaded mode the
 * call only queues: it never waits for the network. */
static void out_send(struct cluster *c, struct out *o)
{
        int mid = 0;
        int r = mosq_lib.publish_v5(c->mosq, &mid, o->data, o->len, o->payload, 1, false, NULL);

        o->mid = r == MOSQ_ERR_SUCCESS ? mid : 0;
}

/* An event of this node's stream: queued in the ring, sent at once when
 * the broker is there. body is the kind's lines. */
__attribute__((format(printf, 5, 6)))
static void emit(struct cluster *c, enum cluster_kind kind, const char *topic_kind,
                 const char *room, const char *fmt, ...)
{
        char topic[PICHAT_CLUSTER_PREFIX_MAX + PICHAT_CLUSTER_NODE_MAX + ROOM_NAME_MAX + 32];
        va_list ap;

        if (!c)
                return;
        cluster_topic_of(c, topic, sizeof(topic), topic_kind, room);
        va_start(ap, fmt);
        int blen = vsnprintf(NULL, 0, fmt, ap);
        va_end(ap);
        if (blen < 0)
                return;
        size_t tlen = strlen(topic), max = (size_t)blen + PICHAT_CLUSTER_HEADER_MAX;
        struct out *o = malloc(sizeof(*o) + tlen + 1 + max);
        if (!o)
                return;
        memcpy(o->data, topic, tlen + 1);
        o->payload = o->data + tlen + 1;
        o->next = NULL;
        o->acked = false;
        o->mid = 0;
        o->cost = sizeof(*o) + tlen + 1 + max;

        pthread_mutex_lock(&c->lock);
        /* What the others acknowledged goes first; a line that does not
         * fit beside those not yet sent is counted, never sent out of
         * order. */
        while (c->head && c->head->acked && c->bytes + o->cost > c->limit) {
                struct out *h = c->head;
                c->head = h->next;
                if (!c->head)
                        c->tail = NULL;
                c->bytes -= h->cost;
                free(h);
        }
        if (c->stopping || c->bytes + o->cost > c->limit) {
                c->lost_out += !c->stopping;
                pthread_mutex_unlock(&c->lock);
                free(o);
                return;
        }
        o->seq = ++c->seq;
        int h = snprintf(o->payload, max, "1 %s %" PRIu64 " %" PRIu64 " %s\n", c->node, c->inc,
                         o->seq, kind_names[kind]);
        va_start(ap, fmt);
        vsnprintf(o->payload + h, max - (size_t)h, fmt, ap);
        va_end(ap);
        o->len = h + blen;
        if (c->tail)
                c->tail->next = o;
        else
                c->head = o;
        c->tail = o;
        c->bytes += o->cost;
        if (c->connected)
                out_send(c, o);
        pthread_mutex_unlock(&c->lock);
        if (kind == CK_JOIN || kind == CK_LEAVE || kind == CK_NICK)
                atomic_store(&c->presence_dirty, true);
}

void cluster_said(struct cluster *c, const char *room, const char *nick, const char *text,
                  bool action)
{
        emit(c, action ? CK_ME : CK_SAY, "room", room, "%s\n%s", nick, text);
}

void cluster_entered(struct cluster *c, const char *room, const char *nick, bool quiet)
{
        emit(c, CK_JOIN, "room", room, "%s\n%s", nick, quiet ? "quiet" : "");
}

void cluster_left(struct cluster *c, const char *room, const char *nick, const char *reason,
                  bool quiet)
{
        emit(c, CK_LEAVE, "room", room, "%s\n%.*s\n%s", nick,
             (int)text_fit(reason, CLUSTER_REASON_MAX), reason, quiet ? "quiet" : "");
}

void cluster_renamed(struct cluster *c, const char *room, const char *old, const char *nick)
{
        emit(c, CK_NICK, "room", room, "%s\n%s", old, nick);
}

void cluster_topic(struct cluster *c, const char *room, const char *nick, const char *topic)
{
        emit(c, CK_TOPIC, "room", room, "%s\n%s", nick, topic);
}

void cluster_privmsg(struct cluster *c, const char *from, const char *to, const char *text)
{
        emit(c, CK_MSG, "msg", NULL, "%s\n%s\n%s", from, to, text);
}

/* One line of the member list. */
struct snapshot {
        char *buf;
        size_t len, cap;
        bool full;
};

static void add_member(void *arg, const char *room, const char *nick)
{
        struct snapshot *s = arg;
        size_t need = strlen(room) + strlen(nick) + 2;

        if (s->full || s->len + need > s->cap) {
                s->full = true;
                return;
        }
        s->len += (size_t)snprintf(s->buf + s->len, s->cap - s->len, "%s %s\n", room, nick);
}

/* The member list, retained: what a node that comes later, or comes back,
 * learns this node's members from. Built under the registry's lock,
 * published after. */
static void publish_presence(struct cluster *c)
{
        char topic[PICHAT_CLUSTER_PREFIX_MAX + PICHAT_CLUSTER_NODE_MAX + 32];
        struct snapshot s = { .cap = PICHAT_CLUSTER_PRESENCE_MAX };
        uint64_t as_of, pseq;

        if (!(s.buf = malloc(s.cap)))
                return;
        atomic_store(&c->presence_dirty, false);
        /* The seq is read before the registry: every event up to it was
         * applied to the registry before its seq was taken. */
        pthread_mutex_lock(&c->lock);
        as_of = c->seq;
        pseq = ++c->presence_seq;
        pthread_mutex_unlock(&c->lock);
        s.len = (size_t)snprintf(s.buf, s.cap, "1 %s %" PRIu64 " %" PRIu64 " presence\n%" PRIu64
                                 "\n", c->node, c->inc, pseq, as_of);
        room_each_local(c->reg, add_member, &s);
        if (s.full)
                log_msg(LOG_WARNING, "cluster: the member list is over %d KiB: the other nodes "
                        "see only part of it", PICHAT_CLUSTER_PRESENCE_MAX / 1024);
        cluster_topic_of(c, topic, sizeof(topic), "presence", NULL);
        pthread_mutex_lock(&c->lock);
        if (c->connected)
                mosq_lib.publish_v5(c->mosq, NULL, topic, (int)s.len, s.buf, 1, true, NULL);
        else
                atomic_store(&c->presence_dirty, true);
        pthread_mutex_unlock(&c->lock);
        free(s.buf);
}

/* ---- applying what the others say --------------------------------------- */

static struct peer *peer_find(struct cluster *c, const char *name, bool make)
{
        struct peer *free_slot = NULL;

        for (size_t i = 0; i < PICHAT_CLUSTER_NODES_MAX; i++) {
                struct peer *p = &c->peers[i];
                if (p->used && strcmp(p->name, name) == 0)
                        return p;
                if (!p->used && !free_slot)
                        free_slot = p;
        }
        if (!make || !free_slot)
                return NULL;
        memset(free_slot, 0, sizeof(*free_slot));
        free_slot->used = true;
        snprintf(free_slot->name, sizeof(free_slot->name), "%s", name);
        bucket_init(&free_slot->flood, c->peer_rate, c->peer_rate * 2, clock_now_ms());
        return free_slot;
}

static struct rmember *peer_member(struct peer *p, const char *nick)
{
        for (size_t i = 0; i < p->n_members; i++)
                if (text_casecmp(p->members[i]->m.nick, nick) == 0)
                        return p->members[i];
        return NULL;
}

static void tell_room(struct cluster *c, const char *room, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static void tell_room(struct cluster *c, const char *room, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        struct msg *m = msg_vnew(fmt, ap);
        va_end(ap);
        if (m) {
                room_inject(c->reg, room, m, false, NULL);
                msg_unref(m);
        }
}

/* nick of p is in room now (announced unless quiet). */
static void peer_place(struct cluster *c, struct peer *p, const char *room, const char *nick,
                       bool quiet)
{
        struct rmember *r = peer_member(p, nick);
        bool made = false;

        if (!r) {
                if (p->n_members == p->cap_members) {
                        size_t cap = p->cap_members ? p->cap_members * 2 : 16;
                        struct rmember **mm = realloc(p->members, cap * sizeof(*mm));
                        if (!mm)
                                return;
                        p->members = mm;
                        p->cap_members = cap;
                }
                if (!(r = calloc(1, sizeof(*r))))
                        return;
                snprintf(r->m.nick, sizeof(r->m.nick), "%s", nick);
                r->m.node = p->name;
                made = true;
        }
        char old[ROOM_NAME_MAX + 1];
        snprintf(old, sizeof(old), "%s", r->m.room ? r->m.room->name : "");
        struct msg *left = quiet || !old[0] ? NULL :
                           msg_new("* %s left room %s (changed room)", nick, old);
        struct msg *entered = quiet ? NULL : msg_new("* %s entered room %s", nick, room);
        int ret = room_place(c->reg, &r->m, room, left, entered);
        msg_unref(left);
        msg_unref(entered);
        if (made && ret == 0) {
                p->members[p->n_members++] = r;
        } else if (made) {
                if (ret == ROOM_NICK_TAKEN)
                        log_msg(LOG_WARNING, "cluster: %s of node %s has a nick taken here",
                                nick, p->name);
                free(r);
        }
}

static void peer_unplace(struct cluster *c, struct peer *p, size_t i, struct msg *left)
{
        struct rmember *r = p->members[i];

        room_remove(c->reg, &r->m, left);
        p->members[i] = p->members[--p->n_members];
        free(r);
}

/* Every member of p leaves; the others are told why, unless why is NULL. */
static void peer_clear(struct cluster *c, struct peer *p, const char *why)
{
        while (p->n_members) {
                struct rmember *r = p->members[p->n_members - 1];
                struct msg *left = why && r->m.room ?
                                   msg_new("* %s left room %s (%s)", r->m.nick, r->m.room->name,
                                           why) : NULL;
                peer_unplace(c, p, p->n_members - 1, left);
                msg_unref(left);
        }
}

/* p is gone (its will, a clean stop, no word after an outage): its
 * members leave, but where it was in its stream is kept, so that if it
 * was only cut off (a broker going down sends every will) nothing it
 * said meanwhile is taken for a first word and its gap is seen. */
static void peer_forget(struct cluster *c, struct peer *p, const char *why)
{
        peer_clear(c, p, why);
        p->gone = true;
}

static void peer_free(struct peer *p)
{
        free(p->members);
        memset(p, 0, sizeof(*p));
}

/* The member list of p as of event as_of: who is not in it leaves, who
 * is comes in, quietly: the events told the members already. */
static void peer_presence(struct cluster *c, struct peer *p, const struct cluster_msg *m,
                          const char *end)
{
        const char *q = m->members, *line;
        size_t n;
        /* Back after it was taken for gone: the rooms hear of it. */
        bool quiet = !p->gone;

        p->gone = false;
        for (size_t i = 0; i < p->n_members; i++)
                p->members[i]->seen = false;
        while (q < end && next_line(&q, end - 1, &line, &n)) {
                const char *sp = memchr(line, ' ', n);
                char room[ROOM_NAME_MAX + 1], nick[ROOM_NICK_MAX + 1];
                if (!sp || !copy_room(room, sizeof(room), line, (size_t)(sp - line)) ||
                    !copy_name(nick, sizeof(nick), sp + 1, n - (size_t)(sp - line) - 1,
                               ROOM_NICK_MAX)) {
                        atomic_fetch_add(&c->drops[CD_MALFORMED], 1);
                        continue;
                }
                peer_place(c, p, room, nick, quiet);
                struct rmember *r = peer_member(p, nick);
                if (r)
                        r->seen = true;
        }
        for (size_t i = p->n_members; i-- > 0;)
                if (!p->members[i]->seen)
                        peer_unplace(c, p, i, NULL);
}

static void apply_event(struct cluster *c, struct peer *p, const struct cluster_msg *m)
{
        struct rmember *r;
        struct msg *msg = NULL;

        switch (m->kind) {
        case CK_SAY:
        case CK_ME:
                msg = m->kind == CK_SAY ? msg_new("<%s> %s", m->nick, m->text) :
                                          msg_new("* %s %s", m->nick, m->text);
                /* A room no one here is in (its sender was not placed,
                 * max_rooms) has no one to tell. */
                if (msg)
                        room_inject(c->reg, m->room, msg, true, &c->batch);
                break;
        case CK_JOIN:
                peer_place(c, p, m->room, m->nick, m->quiet);
                break;
        case CK_LEAVE:
                if ((r = peer_member(p, m->nick))) {
                        msg = m->quiet ? NULL : msg_new("* %s left room %s (%s)", m->nick,
                                                        r->m.room ? r->m.room->name : m->room,
                                                        m->text);
                        for (size_t i = 0; i < p->n_members; i++)
                                if (p->members[i] == r)
                                        peer_unplace(c, p, i, msg);
                }
                break;
        case CK_NICK:
                if ((r = peer_member(p, m->nick)) && r->m.room) {
                        if (room_set_nick(c->reg, &r->m, m->nick2, NULL) == 0)
                                tell_room(c, r->m.room->name, "* %s is now known as %s",
                                          m->nick, m->nick2);
                }
                break;
        case CK_TOPIC:
                msg = msg_new("* %s set the topic of %s: %s", m->nick, m->room, m->text);
                if (msg)
                        room_set_topic_of(c->reg, m->room, m->text, msg);
                break;
        case CK_MSG: {
                char to[ROOM_NICK_MAX + 1];
                msg = msg_new("*%s* %s", m->nick, m->text);
                if (msg)
                        room_privmsg(c->reg, m->nick2, msg, to, NULL, 0);
                break;
        }
        default:
                break;
        }
        msg_unref(msg);
}

/* Ask p to resend from top + 1 (at most every CLUSTER_NACK_MS). */
static void nack(struct cluster *c, struct peer *p, int64_t now)
{
        char topic[PICHAT_CLUSTER_PREFIX_MAX + PICHAT_CLUSTER_NODE_MAX + 32], body[256];

        if (now - p->nack_ms < CLUSTER_NACK_MS)
                return;
        p->nack_ms = now;
        cluster_topic_of(c, topic, sizeof(topic), "nack", NULL);
        int n = snprintf(body, sizeof(body), "1 %s %" PRIu64 " 0 nack\n%s %" PRIu64 " %" PRIu64,
                         c->node, c->inc, p->name, p->inc, p->top + 1);
        mosq_lib.publish_v5(c->mosq, NULL, topic, n, body, 1, false, NULL);
}

/* A peer asked for this node's events from m->b on. */
static void resend(struct cluster *c, const struct cluster_msg *m)
{
        pthread_mutex_lock(&c->lock);
        if (m->a == c->inc && c->connected) {
                struct out *o = c->head;
                while (o && o->seq < m->b)
                        o = o->next;
                if (o && o->seq > m->b) {
                        /* Pushed out of the ring: say so, in order. */
                        char topic[PICHAT_CLUSTER_PREFIX_MAX + PICHAT_CLUSTER_NODE_MAX + 32];
                        char body[128];
                        cluster_topic_of(c, topic, sizeof(topic), "msg", NULL);
                        int n = snprintf(body, sizeof(body), "1 %s %" PRIu64 " %" PRIu64 " skip\n",
                                         c->node, c->inc, o->seq - 1);
                        mosq_lib.publish_v5(c->mosq, NULL, topic, n, body, 1, false, NULL);
                }
                for (; o; o = o->next)
                        out_send(c, o);
        }
        pthread_mutex_unlock(&c->lock);
}

static void take_message(struct mosquitto *mosq, struct cluster *c,
                         const struct mosquitto_message *mm, const mosquitto_property *props)
{
        struct cluster_msg m;
        size_t len = mm->payloadlen > 0 ? (size_t)mm->payloadlen : 0;
        int64_t now = clock_now_ms();
        char *text;

        (void)mosq;
        (void)props;
        /* A ping of the start-up check of a node that wants this name. */
        size_t pl = strlen(c->prefix);
        if (strncmp(mm->topic, c->prefix, pl) == 0 && strncmp(mm->topic + pl, "/1/", 3) == 0 &&
            strncmp(mm->topic + pl + 3, c->node, strlen(c->node)) == 0 &&
            strcmp(mm->topic + pl + 3 + strlen(c->node), "/ping") == 0) {
                char topic[PICHAT_CLUSTER_PREFIX_MAX + PICHAT_CLUSTER_NODE_MAX + 32];
                cluster_topic_of(c, topic, sizeof(topic), "pong", NULL);
                if (len <= 64)
                        mosq_lib.publish_v5(c->mosq, NULL, topic, (int)len, mm->payload, 0, false,
                                             NULL);
                log_msg(LOG_WARNING, "cluster: another pichatd wants to start as node %s; "
                        "told it the name is in use", c->node);
                return;
        }
        /* A node that is gone: its last will, or its clean stop. */
        if (len == 0) {
                char node[PICHAT_CLUSTER_NODE_MAX + 1];
                const char *t = mm->topic + pl + 3;
                const char *sl = strncmp(mm->topic, c->prefix, pl) == 0 &&
                                 strncmp(mm->topic + pl, "/1/", 3) == 0 ? strchr(t, '/') : NULL;
                if (sl && strcmp(sl, "/presence") == 0 &&
                    copy_name(node, sizeof(node), t, (size_t)(sl - t), PICHAT_CLUSTER_NODE_MAX) &&
                    strcmp(node, c->node) != 0) {
                        pthread_mutex_lock(&c->peers_lock);
                        struct peer *p = peer_find(c, node, false);
                        if (p && !p->gone) {
                                char why[PICHAT_CLUSTER_NODE_MAX + 32];
                                snprintf(why, sizeof(why), "node %s is gone", node);
                                log_msg(LOG_NOTICE, "cluster: node %s is gone", node);
                                peer_forget(c, p, why);
                        }
                        pthread_mutex_unlock(&c->peers_lock);
                }
                return;
        }
        if (!(text = malloc(TEXT_SANITIZED_MAX(len) + 1)))
                return;
        enum cluster_drop d = cluster_parse(c->prefix, c->node, mm->topic, mm->payload, len,
                                            c->max_line, &m, text, TEXT_SANITIZED_MAX(len) + 1);
        if (d != CD_OK) {
                atomic_fetch_add(&c->drops[d], 1);
                free(text);
                return;
        }
        if (m.kind == CK_NACK) {
                if (strcmp(m.nick, c->node) == 0)
                        resend(c, &m);
                free(text);
                return;
        }
        pthread_mutex_lock(&c->peers_lock);
        struct peer *p = peer_find(c, m.node, true);
        if (!p) {
                atomic_fetch_add(&c->drops[CD_FLOOD], 1);       /* more nodes than we keep */
        } else if (bucket_take(&p->flood, now) != 0) {
                atomic_fetch_add(&c->drops[CD_FLOOD], 1);
        } else if (m.kind == CK_PRESENCE) {
                p->confirmed = true;
                if (m.inc != p->inc) {
                        /* Another process of that node: start over with it. */
                        if (p->inc)
                                peer_clear(c, p, "its node restarted");
                        p->inc = m.inc;
                        p->top = m.a;
                        p->presence_as_of = 0;
                }
                if (m.a >= p->presence_as_of && m.a >= p->top) {
                        p->presence_as_of = m.a;
                        peer_presence(c, p, &m, (const char *)mm->payload + len);
                } else if (m.a > p->top) {
                        nack(c, p, now);
                }
        } else if (m.inc != p->inc) {
                /* Events of a process not met yet: its presence comes. */
                if (p->inc == 0 || m.inc > p->inc) {
                        if (p->inc)
                                peer_clear(c, p, "its node restarted");
                        p->inc = m.inc;
                        p->top = m.seq - 1;
                        p->presence_as_of = 0;
                        apply_event(c, p, &m);
                        p->top = m.seq;
                }
        } else if (m.kind == CK_SKIP) {
                if (m.seq > p->top) {
                        uint64_t lost = m.seq - p->top;
                        struct msg *note = msg_new("* %" PRIu64 " line%s from node %s could not "
                                                   "reach this node", lost, lost == 1 ? "" : "s",
                                                   p->name);
                        if (note) {
                                room_tell_all(c->reg, note);
                                msg_unref(note);
                        }
                        log_msg(LOG_WARNING, "cluster: %" PRIu64 " events of node %s are lost",
                                lost, p->name);
                        p->top = m.seq;
                }
        } else if (m.seq == p->top + 1) {
                apply_event(c, p, &m);
                p->top = m.seq;
        } else if (m.seq > p->top + 1) {
                nack(c, p, now);        /* a gap: dropped, it comes again in order */
        }
        /* else a duplicate: seen already */
        pthread_mutex_unlock(&c->peers_lock);
        free(text);
}

bool cluster_publish_whole(const unsigned char *head, size_t n, size_t avail)
{
        size_t len = 0;

        if (n < 2 || head[0] >> 4 != 3)
                return false;
        /* The remaining length: 1 to 4 bytes of 7 bits, lowest first. */
        for (size_t i = 1; i < n && i <= 4; i++) {
                len |= (size_t)(head[i] & 127) << (7 * (i - 1));
                if (!(head[i] & 128))
                        return avail >= i + 1 + len;
        }
        return false;
}

/* Whether the broker's next packet is a PUBLISH that is all in the socket
 * already: libmosquitto reads a packet to its last byte before it calls
 * on_message(), so the socket starts with the next one, and one that is
 * all there is read and handed to on_message() before libmosquitto waits
 * for anything. Over TLS the bytes are not the packets': never. */
static bool next_publish_ready(struct cluster *c)
{
        unsigned char h[5];
        int fd = c->tls ? -1 : mosq_lib.socket(c->mosq), avail;

        if (fd < 0 || ioctl(fd, FIONREAD, &avail) < 0 || avail < 2)
                return false;
        ssize_t n = recv(fd, h, sizeof(h), MSG_PEEK | MSG_DONTWAIT);
        return n > 0 && cluster_publish_whole(h, (size_t)n, (size_t)avail);
}

/* The lines of the broker's messages go out as a local sender's do:
 * written by this thread to the members with nothing queued, rather than
 * each member's thread woken to write each line (two context switches a
 * member a line). The batch stays open from one message to the next while
 * the next is in the socket already (so a burst is written to each member
 * with one call, as a local sender's lines of one read are), and is
 * written out before this thread could wait for the broker. room_inject()
 * never writes it out: here no lock is held when it is. */
static void on_message(struct mosquitto *mosq, void *arg, const struct mosquitto_message *mm,
                       const mosquitto_property *props)
{
        struct cluster *c = arg;

        msg_batch_reserve(&c->batch);
        msg_batch_begin(&c->batch);
        take_message(mosq, c, mm, props);
        if (!next_publish_ready(c))
                msg_batch_end(&c->batch);
}

/* ---- the link ----------------------------------------------------------- */

static void subscribe_all(struct cluster *c)
{
        char subs[5][PICHAT_CLUSTER_PREFIX_MAX + PICHAT_CLUSTER_NODE_MAX + 32];
        char *list[5];

        snprintf(subs[0], sizeof(subs[0]), "%s/1/+/room/+", c->prefix);
        snprintf(subs[1], sizeof(subs[1]), "%s/1/+/msg", c->prefix);
        snprintf(subs[2], sizeof(subs[2]), "%s/1/+/presence", c->prefix);
        snprintf(subs[3], sizeof(subs[3]), "%s/1/+/nack", c->prefix);
        snprintf(subs[4], sizeof(subs[4]), "%s/1/%s/ping", c->prefix, c->node);
        for (int i = 0; i < 5; i++)
                list[i] = subs[i];
        mosq_lib.subscribe_multiple(c->mosq, NULL, 5, list, 1, MQTT_SUB_OPT_NO_LOCAL, NULL);
}

static void on_connect(struct mosquitto *mosq, void *arg, int rc, int flags,
                       const mosquitto_property *props)
{
        struct cluster *c = arg;
        bool was_down;
        size_t lost;

        (void)mosq;
        (void)flags;
        (void)props;
        if (rc != 0) {
                log_msg(LOG_ERR, "cluster: the broker %s refused node %s: %s", c->where, c->node,
                        mosq_lib.reason_string(rc));
                return;
        }
        subscribe_all(c);
        pthread_mutex_lock(&c->lock);
        c->connected = true;
        was_down = c->was_down;
        c->was_down = false;
        lost = c->lost_out;
        c->lost_out = 0;
        /* What the broker did not acknowledge goes again, in order: the
         * others drop what they have seen. */
        for (struct out *o = c->head; o; o = o->next)
                if (!o->acked)
                        out_send(c, o);
        pthread_mutex_unlock(&c->lock);
        publish_presence(c);

        pthread_mutex_lock(&c->peers_lock);
        c->confirm_by = clock_now_ms() + CLUSTER_CONFIRM_MS(c->keepalive_s);
        for (size_t i = 0; i < PICHAT_CLUSTER_NODES_MAX; i++) {
                struct peer *p = &c->peers[i];
                if (!p->used)
                        continue;
                p->confirmed = false;
                /* Whatever of it did not come while away. */
                p->nack_ms = 0;
                nack(c, p, clock_now_ms());
        }
        pthread_mutex_unlock(&c->peers_lock);
        log_msg(LOG_NOTICE, "cluster: node %s connected to the broker %s", c->node, c->where);
        if (was_down) {
                struct msg *m = msg_new("* the other nodes are reachable again");
                if (m) {
                        room_tell_all(c->reg, m);
                        msg_unref(m);
                }
        }
        if (lost) {
                struct msg *m = msg_new("* %zu line%s said here while the other nodes were "
                                        "unreachable could not be kept for them", lost,
                                        lost == 1 ? "" : "s");
                if (m) {
                        room_tell_all(c->reg, m);
                        msg_unref(m);
                }
                log_msg(LOG_WARNING, "cluster: %zu lines did not fit in max_queue_kib while the "
                        "broker was away", lost);
        }
}

static void on_disconnect(struct mosquitto *mosq, void *arg, int rc,
                          const mosquitto_property *props)
{
        struct cluster *c = arg;
        bool tell;

        (void)mosq;
        (void)props;
        msg_batch_end(&c->batch);       /* nothing more comes: the rest goes out */
        pthread_mutex_lock(&c->lock);
        tell = c->connected && !c->stopping && !c->was_down;
        c->connected = false;
        if (tell)
                c->was_down = true;
        pthread_mutex_unlock(&c->lock);
        if (!tell)
                return;
        log_msg(LOG_WARNING, "cluster: lost the broker %s (%s); serving local rooms, keeping "
                "lines for the others", c->where, mosq_lib.strerror(rc));
        struct msg *m = msg_new("* the other nodes are unreachable: this room goes on here, "
                                "and what is said is kept for them");
        if (m) {
                room_tell_all(c->reg, m);
                msg_unref(m);
        }
}

static void on_publish(struct mosquitto *mosq, void *arg, int mid, int reason,
                       const mosquitto_property *props)
{
        struct cluster *c = arg;

        (void)mosq;
        (void)props;
        if (reason >= 0x80)
                log_msg(LOG_ERR, "cluster: the broker %s refused a message of node %s: %s "
                        "(check its ACL)", c->where, c->node, mosq_lib.reason_string(reason));
        pthread_mutex_lock(&c->lock);
        for (struct out *o = c->head; o; o = o->next) {
                if (o->mid == mid && !o->acked) {
                        o->acked = true;
                        o->mid = 0;
                        break;
                }
        }
        pthread_mutex_unlock(&c->lock);
}

/* Credentials, TLS and MQTT v5 for a client of cf's broker. */
static int setup_client(struct mosquitto *mosq, const struct conf *cf, char *err, size_t size)
{
        int r;

        mosq_lib.int_option(mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
        /* A line is one small PUBLISH: Nagle would hold it behind the last
         * one until the broker's delayed ACK, tens of ms on every hop. */
        mosq_lib.int_option(mosq, MOSQ_OPT_TCP_NODELAY, 1);
        if (cf->cluster.username[0] &&
            (r = mosq_lib.username_pw_set(mosq, cf->cluster.username,
                                           cf->cluster.password[0] ? cf->cluster.password :
                                                                     NULL)) != 0) {
                snprintf(err, size, "cluster: username: %s", mosq_lib.strerror(r));
                return -EINVAL;
        }
        if (cf->cluster.cafile[0] &&
            (r = mosq_lib.tls_set(mosq, cf->cluster.cafile, NULL,
                                   cf->cluster.certfile[0] ? cf->cluster.certfile : NULL,
                                   cf->cluster.keyfile[0] ? cf->cluster.keyfile : NULL,
                                   NULL)) != 0) {
                snprintf(err, size, "cluster: TLS to the broker: %s", mosq_lib.strerror(r));
                return -EINVAL;
        }
        return 0;
}

/* ---- the start-up check ------------------------------------------------ */

struct probe {
        bool connack, suback, puback, pong;
        int connack_rc, suback_rc, puback_rc;
        char nonce[40];
};

static void probe_connect(struct mosquitto *mosq, void *arg, int rc, int flags,
                          const mosquitto_property *props)
{
        struct probe *p = arg;

        (void)mosq;
        (void)flags;
        (void)props;
        p->connack = true;
        p->connack_rc = rc;
}

static void probe_subscribe(struct mosquitto *mosq, void *arg, int mid, int n, const int *granted,
                            const mosquitto_property *props)
{
        struct probe *p = arg;

        (void)mosq;
        (void)mid;
        (void)props;
        p->suback = true;
        for (int i = 0; i < n; i++)
                if (granted[i] >= 0x80)
                        p->suback_rc = granted[i];
}

static void probe_publish(struct mosquitto *mosq, void *arg, int mid, int reason,
                          const mosquitto_property *props)
{
        struct probe *p = arg;

        (void)mosq;
        (void)mid;
        (void)props;
        p->puback = true;
        p->puback_rc = reason;
}

static void probe_message(struct mosquitto *mosq, void *arg, const struct mosquitto_message *mm,
                          const mosquitto_property *props)
{
        struct probe *p = arg;

        (void)mosq;
        (void)props;
        if (mm->payloadlen == (int)strlen(p->nonce) && !memcmp(mm->payload, p->nonce, strlen(p->nonce)))
                p->pong = true;
}

/* Run mosq's loop until *flag or ms pass. */
static void probe_wait(struct mosquitto *mosq, const bool *flag, int ms)
{
        int64_t end = clock_now_ms() + ms;

        while (!*flag && clock_now_ms() < end)
                if (mosq_lib.loop(mosq, 50, 1) != MOSQ_ERR_SUCCESS)
                        break;
}

/* As another client (same credentials), ask the broker whether this node
 * may be: 0, CLUSTER_UNREACHABLE, -EACCES or -EADDRINUSE. */
static int probe(const struct cluster *c, const struct conf *cf, char *err, size_t size)
{
        struct probe p = { .connack_rc = 0 };
        char id[PICHAT_CLUSTER_NODE_MAX + 48], topic[2][PICHAT_CLUSTER_PREFIX_MAX + 64];
        char *subs[2];
        uint64_t rnd = 0;
        int r, ret = 0;

        if (getrandom(&rnd, sizeof(rnd), 0) < 0)
                rnd = (uint64_t)clock_now_ms() ^ (uint64_t)getpid();
        snprintf(id, sizeof(id), "%s-check-%016" PRIx64, c->node, rnd);
        snprintf(p.nonce, sizeof(p.nonce), "%016" PRIx64, rnd);
        struct mosquitto *mosq = mosq_lib.new(id, true, &p);
        if (!mosq) {
                snprintf(err, size, "cluster: %s", strerror(errno));
                return -errno;
        }
        if ((ret = setup_client(mosq, cf, err, size)) < 0)
                goto out;
        mosq_lib.connect_v5_callback_set(mosq, probe_connect);
        mosq_lib.subscribe_v5_callback_set(mosq, probe_subscribe);
        mosq_lib.publish_v5_callback_set(mosq, probe_publish);
        mosq_lib.message_v5_callback_set(mosq, probe_message);
        r = mosq_lib.connect_bind_v5(mosq, cf->cluster.broker_host, (int)cf->cluster.broker_port,
                                      (int)cf->cluster.keepalive_s, NULL, NULL);
        if (r != MOSQ_ERR_SUCCESS) {
                snprintf(err, size, "cluster: cannot reach the broker %s: %s", c->where,
                         r == MOSQ_ERR_ERRNO ? strerror(errno) : mosq_lib.strerror(r));
                ret = CLUSTER_UNREACHABLE;
                goto out;
        }
        probe_wait(mosq, &p.connack, CLUSTER_CONNECT_MS);
        if (!p.connack) {
                snprintf(err, size, "cluster: the broker %s did not answer", c->where);
                ret = CLUSTER_UNREACHABLE;
                goto out;
        }
        if (p.connack_rc != 0) {
                snprintf(err, size, "cluster: the broker %s refused node %s: %s (check [cluster] "
                         "username and password)", c->where, c->node,
                         mosq_lib.reason_string(p.connack_rc));
                ret = -EACCES;
                goto out;
        }
        snprintf(topic[0], sizeof(topic[0]), "%s/1/%s/pong", c->prefix, c->node);
        snprintf(topic[1], sizeof(topic[1]), "%s/1/+/room/+", c->prefix);
        subs[0] = topic[0];
        subs[1] = topic[1];
        mosq_lib.subscribe_multiple(mosq, NULL, 2, subs, 1, 0, NULL);
        probe_wait(mosq, &p.suback, CLUSTER_CONNECT_MS);
        if (!p.suback || p.suback_rc) {
                snprintf(err, size, "cluster: the broker %s does not let node %s read %s/1/#: %s "
                         "(check its ACL)", c->where, c->node, c->prefix,
                         p.suback ? mosq_lib.reason_string(p.suback_rc) : "no answer");
                ret = -EACCES;
                goto out;
        }
        snprintf(topic[1], sizeof(topic[1]), "%s/1/%s/ping", c->prefix, c->node);
        mosq_lib.publish_v5(mosq, NULL, topic[1], (int)strlen(p.nonce), p.nonce, 1, false, NULL);
        probe_wait(mosq, &p.puback, CLUSTER_CONNECT_MS);
        if (!p.puback || p.puback_rc >= 0x80) {
                snprintf(err, size, "cluster: the broker %s does not let node %s publish on "
                         "%s/1/%s/#: %s (check its ACL)", c->where, c->node, c->prefix, c->node,
                         p.puback ? mosq_lib.reason_string(p.puback_rc) : "no answer");
                ret = -EACCES;
                goto out;
        }
        probe_wait(mosq, &p.pong, CLUSTER_PROBE_MS);
        if (p.pong) {
                snprintf(err, size, "cluster: node name %s is in use by a live node on the "
                         "broker %s: give this one another [cluster] node", c->node, c->where);
                ret = -EADDRINUSE;
        }
out:
        mosq_lib.disconnect(mosq);
        mosq_lib.destroy(mosq);
        return ret;
}

/* ---- the module --------------------------------------------------------- */

void cluster_reconfigure(struct cluster *c, const struct conf *cf)
{
        if (!c)
                return;
        pthread_mutex_lock(&c->lock);
        c->limit = (size_t)cf->cluster.max_queue_kib * 1024;
        pthread_mutex_unlock(&c->lock);
        pthread_mutex_lock(&c->peers_lock);
        c->peer_rate = cf->cluster.peer_lines_per_sec;
        for (size_t i = 0; i < PICHAT_CLUSTER_NODES_MAX; i++)
                if (c->peers[i].used)
                        bucket_set_rate(&c->peers[i].flood, c->peer_rate, c->peer_rate * 2,
                                        clock_now_ms());
        pthread_mutex_unlock(&c->peers_lock);
}

int cluster_start(struct cluster **out, const struct conf *cf, struct registry *reg, char *err,
                  size_t errsize)
{
        struct cluster *c = calloc(1, sizeof(*c));
        char topic[PICHAT_CLUSTER_PREFIX_MAX + PICHAT_CLUSTER_NODE_MAX + 32];
        struct timespec ts;
        int r;

        *out = NULL;
        if (!c) {
                snprintf(err, errsize, "cluster: out of memory");
                return -ENOMEM;
        }
        char why[256];
        if ((r = mosq_load(why, sizeof(why))) < 0) {
                snprintf(err, errsize, "cluster: cannot load libmosquitto: %s (install "
                         "libmosquitto1)", why);
                free(c);
                return r;
        }
        c->reg = reg;
        /* Both checked to fit (conf.c). */
        snprintf(c->node, sizeof(c->node), "%.*s", PICHAT_CLUSTER_NODE_MAX, cf->cluster.node);
        snprintf(c->prefix, sizeof(c->prefix), "%.*s", PICHAT_CLUSTER_PREFIX_MAX,
                 cf->cluster.topic_prefix);
        snprintf(c->where, sizeof(c->where), strchr(cf->cluster.broker_host, ':') ? "[%s]:%u" :
                 "%s:%u", cf->cluster.broker_host, cf->cluster.broker_port);
        c->keepalive_s = cf->cluster.keepalive_s;
        c->max_line = cf->server.max_line_bytes;
        c->limit = (size_t)cf->cluster.max_queue_kib * 1024;
        c->peer_rate = cf->cluster.peer_lines_per_sec;
        c->tls = cf->cluster.cafile[0] != '\0';
        /* A process's incarnation: its start, in microseconds of real
         * time, which a restarted node never repeats. */
        clock_gettime(CLOCK_REALTIME, &ts);
        c->inc = (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
        pthread_mutex_init(&c->lock, NULL);
        pthread_mutex_init(&c->peers_lock, NULL);
        /* guestN of two nodes would meet at once: each node counts from
         * its own place (a clash left is settled like any nick's). */
        room_set_guest_base(reg, (unsigned long)(c->inc % 900) * 100 + 1000);

        int checked = probe(c, cf, err, errsize);
        if (checked < 0) {
                cluster_stop(c);
                return checked;
        }
        if (!(c->mosq = mosq_lib.new(c->node, true, c))) {
                r = -errno;
                snprintf(err, errsize, "cluster: %s", strerror(errno));
                cluster_stop(c);
                return r;
        }
        if ((r = setup_client(c->mosq, cf, err, errsize)) < 0) {
                cluster_stop(c);
                return r;
        }
        cluster_topic_of(c, topic, sizeof(topic), "presence", NULL);
        /* Dead or cut off: the broker says so with an empty member list. */
        mosq_lib.will_set_v5(c->mosq, topic, 0, NULL, 1, true, NULL);
        mosq_lib.connect_v5_callback_set(c->mosq, on_connect);
        mosq_lib.disconnect_v5_callback_set(c->mosq, on_disconnect);
        mosq_lib.publish_v5_callback_set(c->mosq, on_publish);
        mosq_lib.message_v5_callback_set(c->mosq, on_message);
        mosq_lib.reconnect_delay_set(c->mosq, 1, 5, true);
        r = mosq_lib.connect_async(c->mosq, cf->cluster.broker_host, (int)cf->cluster.broker_port,
                                    (int)cf->cluster.keepalive_s);
        if (r == MOSQ_ERR_INVAL || r == MOSQ_ERR_NOMEM) {
                snprintf(err, errsize, "cluster: %s", mosq_lib.strerror(r));
                cluster_stop(c);
                return -EINVAL;
        }
        if ((r = mosq_lib.loop_start(c->mosq)) != MOSQ_ERR_SUCCESS) {
                snprintf(err, errsize, "cluster: cannot start its thread: %s",
                         mosq_lib.strerror(r));
                cluster_stop(c);
                return -EAGAIN;
        }
        *out = c;
        return checked;
}

void cluster_stop(struct cluster *c)
{
        char topic[PICHAT_CLUSTER_PREFIX_MAX + PICHAT_CLUSTER_NODE_MAX + 32];

        if (!c)
                return;
        if (c->mosq) {
                pthread_mutex_lock(&c->lock);
                c->stopping = true;
                bool connected = c->connected;
                if (connected) {
                        /* Gone on purpose: the others see the members leave. */
                        cluster_topic_of(c, topic, sizeof(topic), "presence", NULL);
                        mosq_lib.publish_v5(c->mosq, NULL, topic, 0, NULL, 1, true, NULL);
                }
                pthread_mutex_unlock(&c->lock);
                /* A moment for the list to go out before the goodbye. */
                for (int i = 0; connected && i < 20 && mosq_lib.want_write(c->mosq); i++)
                        usleep(10000);
                mosq_lib.disconnect(c->mosq);
                mosq_lib.loop_stop(c->mosq, false);
                /* Its thread is gone: what its last batch holds goes now. */
                msg_batch_end(&c->batch);
                mosq_lib.destroy(c->mosq);
        }
        for (size_t i = 0; i < PICHAT_CLUSTER_NODES_MAX; i++) {
                if (c->peers[i].used) {
                        peer_clear(c, &c->peers[i], NULL);
                        peer_free(&c->peers[i]);
                }
        }
        while (c->head) {
                struct out *o = c->head;
                c->head = o->next;
                free(o);
        }
        pthread_mutex_destroy(&c->lock);
        pthread_mutex_destroy(&c->peers_lock);
        free(c);
}

void cluster_tick(struct cluster *c, int64_t now_ms)
{
        if (!c)
                return;
        if (atomic_load(&c->presence_dirty))
                publish_presence(c);
        /* Peers that did not say they are there since this node came back
         * are gone: their last will was lost with the broker's state. */
        pthread_mutex_lock(&c->peers_lock);
        if (c->confirm_by && now_ms > c->confirm_by) {
                for (size_t i = 0; i < PICHAT_CLUSTER_NODES_MAX; i++) {
                        struct peer *p = &c->peers[i];
                        if (p->used && !p->confirmed && !p->gone) {
                                char why[PICHAT_CLUSTER_NODE_MAX + 32];
                                snprintf(why, sizeof(why), "node %s is gone", p->name);
                                log_msg(LOG_NOTICE, "cluster: node %s did not come back", p->name);
                                peer_forget(c, p, why);
                        }
                }
                c->confirm_by = 0;
        }
        pthread_mutex_unlock(&c->peers_lock);
        if (now_ms - c->report_ms >= CLUSTER_REPORT_MS) {
                c->report_ms = now_ms;
                for (int d = 1; d < CD_COUNT; d++) {
                        unsigned long n = atomic_load(&c->drops[d]);
                        if (n != c->reported[d])
                                log_msg(LOG_WARNING, "cluster: dropped %lu message%s from the "
                                        "broker (%s)", n - c->reported[d],
                                        n - c->reported[d] == 1 ? "" : "s", drop_names[d]);
                        c->reported[d] = n;
                }
        }
}
