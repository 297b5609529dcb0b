/* lineedit: the buffer behind the interactive prompt, one key at a time.
 *
 * Deliberately minimal: typing appends, Backspace, Ctrl-W and Ctrl-U
 * delete, Enter finishes the line, Ctrl-D on an empty line asks to quit.
 * There is no cursor movement, so the cursor is always at the end of the
 * line and a redraw is just "erase, print prompt and buffer". Escape
 * sequences sent by cursor and function keys are swallowed whole. Nothing
 * here touches the terminal; the caller draws what the result asks for. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LEDIT_MAX 4000          /* bytes in a line */

enum {
        LEDIT_NONE = 0,         /* nothing changed on screen */
        LEDIT_ECHO,             /* the key was appended: print it */
        LEDIT_REDRAW,           /* the line changed: erase and redraw it */
        LEDIT_BELL,             /* the key was refused (line full) */
        LEDIT_ENTER,            /* the line is complete (buf, len) */
        LEDIT_EOF,              /* Ctrl-D on an empty line */
};

struct ledit {
        char buf[LEDIT_MAX + 1];        /* NUL-terminated */
        size_t len;
        uint8_t esc;                    /* escape sequence being swallowed */
        bool dropping;                  /* rest of a refused UTF-8 character */
};

void ledit_init(struct ledit *e);
void ledit_clear(struct ledit *e);
int ledit_key(struct ledit *e, uint8_t c);

/* Columns s takes on a terminal, read as UTF-8: a byte that is not UTF-8
 * counts as one column (terminals show a replacement for it), a character
 * cut short at the end as none (the terminal shows it once complete). */
size_t ledit_width(const char *s, size_t len);
