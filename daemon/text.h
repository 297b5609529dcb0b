/* text: what chat text may contain, and what names may look like.
 *
 * Everything a client types passes text_sanitize() before anyone else
 * sees it, so no other terminal can be sent control sequences (ESC, C1
 * controls) or bytes that are not UTF-8 (a raw 0xFF would also be taken
 * for telnet IAC on the way out). Nicks and room names are plain ASCII so
 * that they compare, log and type the same everywhere. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bounds.h"

/* U+FFFD REPLACEMENT CHARACTER, what invalid UTF-8 turns into. */
#define TEXT_REPLACEMENT "\xEF\xBF\xBD"

/* Output size that always suffices for len input bytes: every input byte
 * can become one 3-byte U+FFFD, plus the terminating NUL. */
#define TEXT_SANITIZED_MAX(len) (3 * (size_t)(len) + 1)

/* Combining marks kept after one base character (more are a pile-up). */
#define TEXT_COMBINING_MAX 4

/* Copy len bytes of in to out as valid UTF-8 without control characters:
 *   - C0 controls (0x00-0x1F) except TAB, DEL (0x7F) and C1 controls
 *     (U+0080-U+009F) are removed;
 *   - characters that are invisible or reorder what follows them are
 *     removed, so that a line shows what it holds, in the order it holds
 *     it: the bidi embeddings, overrides and isolates (U+202A-202E,
 *     U+2066-2069) and marks (U+200E, U+200F, U+061C), the zero-width
 *     space (U+200B), word joiner and invisible operators (U+2060-2064),
 *     the BOM (U+FEFF), the Mongolian vowel separator (U+180E), the line
 *     and paragraph separators (U+2028, U+2029) and the tag characters
 *     (U+E0000-E007F). The zero-width joiner and non-joiner (U+200C,
 *     U+200D) stay: Persian and Indic writing and emoji need them;
 *   - after one base character at most TEXT_COMBINING_MAX combining
 *     marks of the generic blocks (U+0300-036F, U+1AB0-1AFF,
 *     U+1DC0-1DFF, U+20D0-20FF, U+FE20-FE2F) are kept;
 *   - invalid UTF-8 (stray continuation bytes, truncated or overlong
 *     sequences, surrogates, code points above U+10FFFF, the bytes 0xC0,
 *     0xC1, 0xF5-0xFF) becomes U+FFFD, one per maximal invalid subpart,
 *     the way the Unicode standard and browsers do it.
 * out is always NUL-terminated (when outsize > 0) and never contains NUL
 * or 0xFF. If outsize is smaller than TEXT_SANITIZED_MAX(len) the output
 * is cut at a character boundary. Returns the length written, without
 * the NUL. */
size_t text_sanitize(const char *in, size_t len, char *out, size_t outsize);

/* The longest prefix of the UTF-8 text s, at most max bytes, that ends
 * between two characters: where user text may be cut. */
size_t text_fit(const char *s, size_t max);

/* Length of the UTF-8 sequence lead byte b starts (0: never valid as a
 * lead) and the range its second byte must be in, which is what rules out
 * overlong forms, surrogates and code points above U+10FFFF. */
unsigned text_utf8_lead(uint8_t b, uint8_t *lo, uint8_t *hi);

/* true if s is a valid nick: 1 to max_len characters of [A-Za-z0-9_-]. */
bool text_valid_name(const char *s, size_t max_len);

/* Check and normalise a room name: an optional leading '#', then 1 to
 * max_len characters of [A-Za-z0-9_-]. out gets the name without '#'.
 * 0, -EINVAL (not a valid room name) or -ENOSPC (out is too small). */
int text_room_name(const char *in, char *out, size_t outsize, size_t max_len);

/* Room names as [chat] rooms lists them: each checked and normalised as
 * text_room_name() does, at most PICHAT_ROOM_NAME_MAX long, without
 * repeats (compared ignoring case). */
struct text_room_list {
        size_t n;
        char name[PICHAT_ROOMS_LISTED_MAX][PICHAT_ROOM_NAME_MAX + 1];
};

/* Parse names separated by spaces, TABs or commas into *out. 0; -EINVAL
 * with the bad name (cut to fit) in bad; or -E2BIG for more than
 * PICHAT_ROOMS_LISTED_MAX. *out is then empty. */
int text_room_list(const char *text, struct text_room_list *out, char *bad, size_t badsize);

/* Longest secret text_secret_equal() compares ([chat] password, room keys). */
#define TEXT_SECRET_MAX 256

/* true if given equals secret. Every byte of a fixed span is compared
 * whatever the two hold, so the time taken tells nothing about how much
 * of a guess was right. A given longer than TEXT_SECRET_MAX never
 * equals. */
bool text_secret_equal(const char *given, const char *secret);

/* ASCII case-insensitive comparison (<0, 0, >0) for nick and room
 * uniqueness. Unlike strcasecmp() it never depends on the locale. */
int text_casecmp(const char *a, const char *b);
