/* cmd: the chat command table, the line parser and the /help text. */
#include "cmd.h"

#include <stdbool.h>

#include "text.h"

enum args {
        ARGS_NONE,              /* nothing may follow */
        ARGS_NAME,              /* exactly one word */
        ARGS_NAME_KEY,          /* one word, then an optional second one */
        ARGS_NAME_TEXT,         /* one word, then a text */
        ARGS_TEXT,              /* a text that must be there */
        ARGS_TEXT_OPT,          /* a text that may be missing */
};

struct cmd_def {
        enum cmd_type type;
        const char *name;
        enum args args;
        const char *missing;    /* error when a required argument is missing */
        const char *extra;      /* error when there is too much */
        const char *no_text;    /* ARGS_NAME_TEXT: the word but no text */
};

static const struct cmd_def defs[] = {
        { CMD_NICK, "nick", ARGS_NAME,
          "usage: /nick NAME",
          "/nick: a nick is a single word (usage: /nick NAME)", NULL },
        { CMD_JOIN, "join", ARGS_NAME_KEY,
          "usage: /join ROOM [KEY]",
          "/join: too many arguments (usage: /join ROOM [KEY])", NULL },
        { CMD_LEAVE, "leave", ARGS_NONE, NULL,
          "/leave takes no arguments", NULL },
        { CMD_ROOMS, "rooms", ARGS_NONE, NULL,
          "/rooms takes no arguments", NULL },
        { CMD_WHO, "who", ARGS_NONE, NULL,
          "/who takes no arguments", NULL },
        { CMD_MSG, "msg", ARGS_NAME_TEXT,
          "/msg needs a nick and a text (usage: /msg NICK TEXT)", NULL,
          "/msg needs a text after the nick (usage: /msg NICK TEXT)" },
        { CMD_ME, "me", ARGS_TEXT,
          "/me needs an action (usage: /me ACTION)", NULL, NULL },
        { CMD_TOPIC, "topic", ARGS_TEXT_OPT, NULL, NULL, NULL },
        { CMD_QUIT, "quit", ARGS_TEXT_OPT, NULL, NULL, NULL },
        { CMD_HELP, "help", ARGS_NONE, NULL,
          "/help takes no arguments", NULL },
        { CMD_PASS, "pass", ARGS_TEXT,
          "usage: /pass SECRET", NULL, NULL },
};

static const struct cmd_help help[] = {
        { CMD_NICK, "/nick NAME", "change your nick" },
        { CMD_JOIN, "/join ROOM [KEY]", "join or create a room (KEY makes it private)" },
        { CMD_LEAVE, "/leave", "leave the room you are in" },
        { CMD_ROOMS, "/rooms", "list the rooms" },
        { CMD_WHO, "/who", "list who is in the room" },
        { CMD_MSG, "/msg NICK TEXT", "send TEXT to NICK alone" },
        { CMD_ME, "/me ACTION", "tell the room what you are doing" },
        { CMD_TOPIC, "/topic [TEXT]", "show the room's topic, or set it to TEXT" },
        { CMD_QUIT, "/quit [MESSAGE]", "leave the chat, saying MESSAGE" },
        { CMD_HELP, "/help", "show this list" },
};

static const char no_word[] =
        "missing command after / (try /help; start a line with // to say something beginning with /)";

static bool is_space(char c)
{
        return c == ' ' || c == '\t';
}

static char *skip_space(char *p)
{
        while (is_space(*p))
                p++;
        return p;
}

/* End the word at *p with a NUL and move *p to what follows it. */
static char *take_word(char **p)
{
        char *w = *p, *e = w;

        while (*e != '\0' && !is_space(*e))
                e++;
        if (*e != '\0')
                *e++ = '\0';
        *p = skip_space(e);
        return w;
}

static enum cmd_type bad(struct cmd *c, const char *error)
{
        c->type = CMD_BAD;
        c->error = error;
        return CMD_BAD;
}

static enum cmd_type parse_args(const struct cmd_def *d, char *rest, struct cmd *c)
{
        c->type = d->type;
        switch (d->args) {
        case ARGS_NONE:
                if (*rest != '\0')
                        return bad(c, d->extra);
                break;
        case ARGS_NAME:
        case ARGS_NAME_KEY:
                if (*rest == '\0')
                        return bad(c, d->missing);
                c->name = take_word(&rest);
                if (d->args == ARGS_NAME_KEY && *rest != '\0')
                        c->key = take_word(&rest);
                if (*rest != '\0')
                        return bad(c, d->extra);
                break;
        case ARGS_NAME_TEXT:
                if (*rest == '\0')
                        return bad(c, d->missing);
                c->name = take_word(&rest);
                if (*rest == '\0')
                        return bad(c, d->no_text);
                c->text = rest;
                break;
        case ARGS_TEXT:
                if (*rest == '\0')
                        return bad(c, d->missing);
                c->text = rest;
                break;
        case ARGS_TEXT_OPT:
                if (*rest != '\0')
                        c->text = rest;
                break;
        }
        return c->type;
}

enum cmd_type cmd_parse(char *line, struct cmd *c)
{
        char *end = line, *p;

        *c = (struct cmd){ .type = CMD_NONE };

        /* Trailing whitespace is invisible; drop it once for every case. */
        for (p = line; *p != '\0'; p++)
                if (!is_space(*p))
                        end = p + 1;
        *end = '\0';
        if (*line == '\0')
                return CMD_NONE;

        if (line[0] != '/' || line[1] == '/') {
                c->type = CMD_SAY;
                c->text = line[0] == '/' ? line + 1 : line;
                return CMD_SAY;
        }

        p = line + 1;
        c->word = take_word(&p);
        if (*c->word == '\0')
                return bad(c, no_word);
        for (size_t i = 0; i < sizeof(defs) / sizeof(defs[0]); i++)
                if (text_casecmp(c->word, defs[i].name) == 0)
                        return parse_args(&defs[i], p, c);
        c->type = CMD_UNKNOWN;
        return CMD_UNKNOWN;
}

const char *cmd_name(enum cmd_type type)
{
        for (size_t i = 0; i < sizeof(defs) / sizeof(defs[0]); i++)
                if (defs[i].type == type)
                        return defs[i].name;
        return NULL;
}

const struct cmd_help *cmd_help_table(size_t *n)
{
        *n = sizeof(help) / sizeof(help[0]);
        return help;
}
