/* line: the line splitter shared by every TCP service. */
#include "line.h"

#include <errno.h>
#include <stdlib.h>

int line_init(struct line_splitter *ls, size_t max)
{
        /* The buffer comes with the first byte of a line: a client that
         * never sends one (an idle one) costs no max_line_bytes. */
        ls->buf = NULL;
        ls->len = 0;
        ls->max = max;
        ls->after_cr = false;
        ls->discarding = false;
        ls->mid_line = false;
        return 0;
}

void line_free(struct line_splitter *ls)
{
        free(ls->buf);
        ls->buf = NULL;
}

int line_next(struct line_splitter *ls, const char **data, size_t *n,
              const char **line, size_t *len)
{
        while (*n > 0) {
                char c = **data;
                bool was_cr = ls->after_cr;

                (*data)++;
                (*n)--;
                ls->after_cr = false;

                if (was_cr && (c == '\n' || c == '\0'))
                        continue;       /* second half of CR LF / CR NUL */
                if (c == '\r' || c == '\n') {
                        ls->after_cr = c == '\r';
                        ls->mid_line = false;
                        if (ls->discarding) {
                                ls->discarding = false;
                                continue;
                        }
                        if (!ls->buf) {
                                *line = "";     /* an empty line before any text */
                                *len = 0;
                                return LINE_OK;
                        }
                        ls->buf[ls->len] = '\0';
                        *line = ls->buf;
                        *len = ls->len;
                        ls->len = 0;
                        return LINE_OK;
                }
                ls->mid_line = true;
                if (c == '\0')
                        continue;
                if (ls->discarding)
                        continue;
                if (ls->len == ls->max) {
                        ls->len = 0;
                        ls->discarding = true;
                        return LINE_TOOLONG;
                }
                if (!ls->buf && !(ls->buf = malloc(ls->max + 1))) {
                        ls->discarding = true;  /* nowhere to keep this line */
                        return -ENOMEM;
                }
                ls->buf[ls->len++] = c;
        }
        return LINE_NONE;
}
