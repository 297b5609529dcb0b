/* cmd: turns one chat input line into a command and its arguments.
 *
 * Pure parsing: the parser knows how many arguments each command takes,
 * nothing about nicks, rooms or whether the client may do it. The line is
 * expected to have passed text_sanitize() already, so the only whitespace
 * it can hold is space and TAB. */
#pragma once

#include <stddef.h>

enum cmd_type {
        CMD_NONE = 0,   /* empty or whitespace-only line: ignore it */
        CMD_SAY,        /* a plain message: text */
        CMD_NICK,       /* /nick NAME: name */
        CMD_JOIN,       /* /join ROOM [KEY]: name, key (NULL if none) */
        CMD_LEAVE,      /* /leave */
        CMD_ROOMS,      /* /rooms */
        CMD_WHO,        /* /who */
        CMD_MSG,        /* /msg NICK TEXT: name, text */
        CMD_ME,         /* /me ACTION: text */
        CMD_TOPIC,      /* /topic [TEXT]: text (NULL: show the topic) */
        CMD_QUIT,       /* /quit [MESSAGE]: text (NULL if none) */
        CMD_HELP,       /* /help */
        CMD_PASS,       /* /pass SECRET: text ([chat] password) */
        CMD_UNKNOWN,    /* not a command we know: word */
        CMD_BAD,        /* a known command with wrong arguments: error */
};

struct cmd {
        enum cmd_type type;
        /* The command word as typed, without '/' (NULL for CMD_NONE and
         * CMD_SAY). The caller says "unknown command /WORD (try /help)". */
        const char *word;
        const char *name;       /* NICK, JOIN (the room), MSG (the nick) */
        const char *key;        /* JOIN */
        /* SAY, MSG, ME, TOPIC, QUIT, PASS: the rest of the line, inner
         * spacing kept, trailing whitespace removed. */
        const char *text;
        /* CMD_BAD: one line to send back, e.g. "usage: /nick NAME". */
        const char *error;
};

/* Parse line (NUL-terminated) into *c and return c->type. Parsing is done
 * in place: line is modified (words are NUL-terminated where they end)
 * and every string in *c points into it, or to a static string for
 * c->error; nothing is allocated.
 *
 * Commands are case-insensitive. A line that does not start with '/' is
 * CMD_SAY, its leading spaces kept. "//text" is CMD_SAY with text "/text".
 * Whitespace before '/' makes a line a plain message too. */
enum cmd_type cmd_parse(char *line, struct cmd *c);

/* The command word of a type ("nick" for CMD_NICK), or NULL for CMD_NONE,
 * CMD_SAY, CMD_UNKNOWN and CMD_BAD. */
const char *cmd_name(enum cmd_type type);

/* One line of /help. The caller aligns usage in a column, for instance
 * "%-18s %s". */
struct cmd_help {
        enum cmd_type type;
        const char *usage;      /* "/join ROOM [KEY]" */
        const char *desc;       /* "join or create a room (KEY makes it private)" */
};

/* The /help lines, in the order to show them; *n gets their number.
 * /pass is left out: it is only of use before a session begins, when
 * /help answers how to give it instead. */
const struct cmd_help *cmd_help_table(size_t *n);
