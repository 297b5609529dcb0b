/* Fuzz target: the chat input path, text_sanitize() then cmd_parse(), as
 * chat.c runs it on every line, and the name and secret checks after it.
 *
 * Besides the sanitizers' own checks, it aborts when the sanitised text
 * is not strict UTF-8, holds a control character (other than TAB), NUL or
 * 0xFF, changes when sanitised again, or when cut short is not a prefix
 * of the whole cut at a character boundary; or when a parsed command's
 * parts do not point into the line, keep trailing blanks, or disagree
 * with its type. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "text.h"

#define CHECK(x) do { if (!(x)) abort(); } while (0)

/* Strict UTF-8 with no C0 (but TAB), DEL or C1 control: its length in
 * characters, or -1. */
static long clean_utf8(const uint8_t *s, size_t n)
{
        long chars = 0;

        for (size_t i = 0; i < n; chars++) {
                uint8_t lo, hi, b = s[i];
                unsigned need;

                if (b < 0x80) {
                        if ((b < 0x20 && b != '\t') || b == 0x7f)
                                return -1;
                        i++;
                        continue;
                }
                need = text_utf8_lead(b, &lo, &hi);
                if (need < 2 || i + need > n || s[i + 1] < lo || s[i + 1] > hi)
                        return -1;
                for (unsigned k = 2; k < need; k++)
                        if (s[i + k] < 0x80 || s[i + k] > 0xBF)
                                return -1;
                if (b == 0xC2 && s[i + 1] <= 0x9F)
                        return -1;      /* C1 control */
                i += need;
        }
        return chars;
}

static bool inside(const char *p, const char *line, size_t len)
{
        return p >= line && p <= line + len;
}

static void check_cmd(const char *line, size_t len, const struct cmd *c)
{
        const char *parts[] = { c->word, c->name, c->key, c->text };

        for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
                if (!parts[i])
                        continue;
                CHECK(inside(parts[i], line, len));
                size_t l = strlen(parts[i]);
                CHECK(l == 0 || (parts[i][l - 1] != ' ' && parts[i][l - 1] != '\t'));
        }
        if (c->name)
                CHECK(!strchr(c->name, ' ') && !strchr(c->name, '\t') && c->name[0]);
        if (c->key)
                CHECK(!strchr(c->key, ' ') && !strchr(c->key, '\t') && c->key[0]);
        switch (c->type) {
        case CMD_NONE:
                CHECK(!c->word && !c->text);
                break;
        case CMD_SAY:
                CHECK(c->text && !c->word);
                break;
        case CMD_BAD:
                CHECK(c->error && c->error[0] && c->word);
                break;
        case CMD_UNKNOWN:
                CHECK(c->word && c->word[0] && !cmd_name(c->type));
                break;
        case CMD_NICK:
        case CMD_JOIN:
                CHECK(c->name);
                break;
        case CMD_MSG:
                CHECK(c->name && c->text && c->text[0]);
                break;
        case CMD_ME:
        case CMD_PASS:
                CHECK(c->text && c->text[0]);
                break;
        default:
                CHECK(c->type > CMD_SAY && c->type < CMD_UNKNOWN);
                break;
        }
        if (c->type > CMD_SAY && c->type < CMD_UNKNOWN)
                CHECK(cmd_name(c->type) && text_casecmp(c->word, cmd_name(c->type)) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        size_t cap = TEXT_SANITIZED_MAX(size);
        char *out = malloc(cap), *again = malloc(cap), *cut = malloc(cap);
        size_t len, len2;
        struct cmd c;

        CHECK(out && again && cut);
        len = text_sanitize((const char *)data, size, out, cap);
        CHECK(len < cap && out[len] == '\0' && strlen(out) == len);
        CHECK(!memchr(out, 0xFF, len));
        CHECK(clean_utf8((const uint8_t *)out, len) >= 0);
        len2 = text_sanitize(out, len, again, cap);
        CHECK(len2 == len && memcmp(out, again, len) == 0);

        /* A short buffer keeps a prefix that ends on a character boundary. */
        size_t small = size ? 1 + data[0] % cap : 1;
        size_t lc = text_sanitize((const char *)data, size, cut, small);
        CHECK(lc < small && cut[lc] == '\0' && memcmp(cut, out, lc) == 0);
        CHECK(clean_utf8((const uint8_t *)cut, lc) >= 0);

        CHECK(len > TEXT_SECRET_MAX || text_secret_equal(out, again));
        CHECK(text_casecmp(out, again) == 0);

        memcpy(again, out, len + 1);
        cmd_parse(again, &c);
        check_cmd(again, len, &c);

        if (c.name) {
                char room[65];
                if (text_valid_name(c.name, 64))
                        CHECK(strlen(c.name) <= 64 && clean_utf8((const uint8_t *)c.name,
                                                                  strlen(c.name)) >= 0);
                if (text_room_name(c.name, room, sizeof(room), 64) == 0)
                        CHECK(text_valid_name(room, 64));
        }
        free(out);
        free(again);
        free(cut);
        return 0;
}
