/* screen: the interactive prompt line and the text printed above it.
 *
 * The prompt and what the user has typed so far sit on the last line(s)
 * of the terminal. Anything else to print first erases them, prints, and
 * draws them again, so incoming text never lands in the middle of a half
 * typed line. When not interactive every call here is a no-op but
 * screen_key(), which still edits (a script gets no prompt and no echo). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "lineedit.h"

struct screen {
        bool interactive;
        bool shown;             /* prompt and input are on the terminal */
        const char *prompt;
        size_t drawn;           /* columns they take there */
        struct ledit ed;
};

void screen_init(struct screen *sc, bool interactive, const char *prompt);
/* Erase prompt and input (the cursor ends at the start of their line). */
void screen_hide(struct screen *sc);
/* Draw prompt and input if they are not shown. */
void screen_show(struct screen *sc);
/* Handle the signals caught so far (sig_next()): true when one of them
 * ends the session; after Ctrl-Z the process was suspended with the
 * terminal restored, and the prompt is drawn again. */
bool screen_signals(struct screen *sc);
/* Handle n typed keys (screen_key()): each line finished with Enter goes
 * to on_line, the prompt then drawn again empty. true when the session
 * should end: Ctrl-D on an empty line, or on_line returned true. */
bool screen_keys(struct screen *sc, const char *keys, size_t n,
                 bool (*on_line)(void *arg, const char *line, size_t len), void *arg);
/* Handle one key: draws what changed and returns the LEDIT_ result. On
 * LEDIT_ENTER the finished line stays on screen, the cursor moves below
 * it and the caller takes sc->ed.buf, then calls ledit_clear(). */
int screen_key(struct screen *sc, uint8_t c);
