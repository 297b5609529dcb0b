/* cluster: rooms shared with other pichatd nodes through an MQTT v5 broker.
 *
 * Each node is one MQTT client (client id = its node name) of one broker,
 * with libmosquitto's own network thread (mosquitto_loop_start). Members
 * of other nodes are members of the local registry without a queue
 * (struct member, q NULL, node set): /who, /rooms and nick checks see
 * them, fan-out skips them. What a local member does is published by the
 * thread that did it, after the registry's lock is dropped; what comes
 * from the broker is applied by the network thread. No registry lock is
 * ever held across a libmosquitto call.
 *
 * Wire format, version 1. P is [cluster] topic_prefix, N the node:
 *
 *   P/1/N/room/ROOM  room events (QoS 1)
 *   P/1/N/msg        private messages (QoS 1)
 *   P/1/N/presence   N's members (QoS 1, retained); the last will, and a
 *                    clean stop, publish it empty: N is gone
 *   P/1/N/nack       "resend me what I missed of node M" (QoS 1)
 *   P/1/N/ping, pong the start-up check that no live node is called N
 *
 * Every payload but ping/pong is UTF-8 text, lines ended by LF: a header
 * "1 NODE INCARNATION SEQ KIND", then the kind's own lines:
 *
 *   say, me   NICK, TEXT           a line said (or /me) in ROOM
 *   join      NICK, "" or "quiet"  NICK entered ROOM (quiet: no notice)
 *   leave     NICK, REASON, ""/"quiet"  NICK left the chat
 *   nick      OLD, NEW             a member renamed
 *   topic     NICK, TEXT           the topic of ROOM set
 *   msg       FROM, TO, TEXT       a private message (on P/1/N/msg)
 *   skip      (none)               the lines before SEQ are lost (see nack)
 *   presence  AS_OF, then "ROOM NICK" lines: N's members as of event AS_OF
 *   nack      M, M's INCARNATION, FROM
 *
 * NODE must be the topic's node, and not this node's own (a forged node);
 * INCARNATION is a node process's start (a restarted node starts over);
 * SEQ numbers a node's events 1, 2, 3... without gaps, across all rooms.
 * A receiver applies each (node, incarnation) event once, in SEQ order:
 * what it saw already is a duplicate (QoS 1 resends, resends asked for)
 * and dropped; a gap makes it publish a nack, and the sender resends what
 * it still holds ([cluster] max_queue_kib), or a skip saying how many are
 * lost, which the receiver's members are told. Names must be valid nicks,
 * rooms and nodes; texts pass text_sanitize() and are cut to
 * max_line_bytes; anything else (bad UTF-8 in a header, an unknown
 * version or kind, oversize, a forged node, more than peer_lines_per_sec
 * from one node) is dropped and counted in the log.
 *
 * Trust: whoever may publish under P/1/ is a node. Protect the prefix
 * with the broker's ACLs (README, "Several machines"). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "room.h"

#define CLUSTER_WIRE_VERSION 1

struct cluster;

/* Results besides 0 and -errno. */
enum {
        CLUSTER_UNREACHABLE = 1,        /* started, but the broker is not there yet */
};

/* Connect to the broker in cf [cluster] (which must be enabled) for the
 * rooms of reg: first checks, in the calling thread, that the broker
 * accepts this node (credentials, ACLs) and that no live node holds its
 * name; then starts the network thread. *out gets the cluster (also with
 * CLUSTER_UNREACHABLE: it keeps trying). -EACCES (refused by the broker),
 * -EADDRINUSE (the node name is in use) or another -errno, with a line for
 * the log in err. */
int cluster_start(struct cluster **out, const struct conf *cf, struct registry *reg, char *err,
                  size_t errsize);
/* Tell the others this node is gone, and stop. Before reg is freed; no
 * chat thread may call in any more. NULL does nothing. */
void cluster_stop(struct cluster *c);
/* The supervisor's step: publishes the member list when it changed, says
 * in the log what was dropped. */
void cluster_tick(struct cluster *c, int64_t now_ms);
/* New reloadable limits: max_queue_kib, peer_lines_per_sec. */
void cluster_reconfigure(struct cluster *c, const struct conf *cf);

/* What local members do, published to the other nodes; from the member's
 * thread, with no lock held. c NULL does nothing. */
void cluster_said(struct cluster *c, const char *room, const char *nick, const char *text,
                  bool action);
void cluster_entered(struct cluster *c, const char *room, const char *nick, bool quiet);
void cluster_left(struct cluster *c, const char *room, const char *nick, const char *reason,
                  bool quiet);
void cluster_renamed(struct cluster *c, const char *room, const char *old, const char *nick);
void cluster_topic(struct cluster *c, const char *room, const char *nick, const char *topic);
void cluster_privmsg(struct cluster *c, const char *from, const char *to, const char *text);

/* ---- the wire format, for the unit tests ------------------------------ */

enum cluster_kind {
        CK_SAY, CK_ME, CK_JOIN, CK_LEAVE, CK_NICK, CK_TOPIC, CK_MSG, CK_SKIP, CK_PRESENCE,
        CK_NACK, CK_COUNT
};

/* Why a message from the broker was dropped. */
enum cluster_drop {
        CD_OK = 0,
        CD_MALFORMED,   /* topic or payload not as cluster.h says, bad names */
        CD_VERSION,     /* another wire version */
        CD_OVERSIZE,
        CD_FORGED,      /* the node is not the topic's, or is this one */
        CD_FLOOD,       /* more than peer_lines_per_sec from one node */
        CD_COUNT
};

/* One message, parsed and checked. Strings point into text, which the
 * caller gives (at least TEXT_SANITIZED_MAX(payload length) + 1 bytes). */
struct cluster_msg {
        enum cluster_kind kind;
        char node[PICHAT_CLUSTER_NODE_MAX + 1];
        uint64_t inc, seq;
        char room[ROOM_NAME_MAX + 1];   /* room events */
        char nick[ROOM_NICK_MAX + 1];   /* say..topic, msg (from), nack (node M) */
        char nick2[ROOM_NICK_MAX + 1];  /* nick (new), msg (to) */
        const char *text;               /* say, me, topic, msg, leave (reason) */
        bool quiet;                     /* join, leave */
        uint64_t a, b;                  /* presence: as of; nack: inc, from */
        const char *members;            /* presence: the "ROOM NICK" lines */
};

/* Whether the first n bytes of what the broker sent next (head) begin an
 * MQTT PUBLISH that is all there, avail bytes being readable: its fixed
 * header's type, and the remaining length (1 to 4 bytes) against avail.
 * False when head is too short to tell. */
bool cluster_publish_whole(const unsigned char *head, size_t n, size_t avail);

/* Parse topic and payload as sent under prefix, for a node called self:
 * CD_OK or why it is dropped. max_line is [server] max_line_bytes. */
enum cluster_drop cluster_parse(const char *prefix, const char *self, const char *topic,
                                const char *payload, size_t len, size_t max_line,
                                struct cluster_msg *m, char *text, size_t text_size);
/* The drop reasons' names, for the log. */
const char *cluster_drop_name(enum cluster_drop d);
