/* screen: erase and redraw of the prompt line with ANSI sequences. */
#include "screen.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "term.h"

void screen_init(struct screen *sc, bool interactive, const char *prompt)
{
        memset(sc, 0, sizeof(*sc));
        sc->interactive = interactive;
        sc->prompt = prompt;
        ledit_init(&sc->ed);
}

static size_t line_width(const struct screen *sc)
{
        return ledit_width(sc->prompt, strlen(sc->prompt)) + ledit_width(sc->ed.buf, sc->ed.len);
}

void screen_hide(struct screen *sc)
{
        char seq[32];
        size_t rows;

        if (!sc->interactive || !sc->shown)
                return;
        /* A line that fills its last row exactly leaves the cursor on that
         * row (terminals defer the wrap), hence drawn - 1. */
        rows = sc->drawn ? (sc->drawn - 1) / term_cols() : 0;
        if (rows > 0)
                snprintf(seq, sizeof(seq), "\r\033[%zuA\033[J", rows);
        else
                snprintf(seq, sizeof(seq), "\r\033[J");
        write_all(STDOUT_FILENO, seq, strlen(seq));
        sc->shown = false;
}

void screen_show(struct screen *sc)
{
        if (!sc->interactive || sc->shown)
                return;
        write_all(STDOUT_FILENO, sc->prompt, strlen(sc->prompt));
        write_all(STDOUT_FILENO, sc->ed.buf, sc->ed.len);
        sc->drawn = line_width(sc);
        sc->shown = true;
}

int screen_key(struct screen *sc, uint8_t c)
{
        int r = ledit_key(&sc->ed, c);

        if (!sc->interactive)
                return r;
        switch (r) {
        case LEDIT_ECHO:
                if (sc->shown) {
                        write_all(STDOUT_FILENO, &c, 1);
                        sc->drawn = line_width(sc);
                } else {
                        screen_show(sc);
                }
                break;
        case LEDIT_REDRAW:
                screen_hide(sc);
                screen_show(sc);
                break;
        case LEDIT_BELL:
                write_all(STDOUT_FILENO, "\a", 1);
                break;
        case LEDIT_ENTER:
                screen_show(sc);
                write_all(STDOUT_FILENO, "\n", 1);
                sc->shown = false;
                break;
        }
        return r;
}

bool screen_signals(struct screen *sc)
{
        int sig;

        while ((sig = sig_next()) != 0) {
                if (sig != SIGTSTP)
                        return true;
                screen_hide(sc);
                term_suspend();
                screen_show(sc);
        }
        return false;
}

bool screen_keys(struct screen *sc, const char *keys, size_t n,
                 bool (*on_line)(void *arg, const char *line, size_t len), void *arg)
{
        for (size_t i = 0; i < n; i++) {
                switch (screen_key(sc, (uint8_t)keys[i])) {
                case LEDIT_ENTER:
                        if (on_line(arg, sc->ed.buf, sc->ed.len))
                                return true;
                        ledit_clear(&sc->ed);
                        screen_show(sc);
                        break;
                case LEDIT_EOF:
                        return true;
                }
        }
        return false;
}
