/* Unit: the chat sanitiser (controls, UTF-8 repair) and name rules. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "text.h"
#include "suite.h"

#define R TEXT_REPLACEMENT

/* Sanitise a literal (which may hold NUL bytes) and compare with want. */
#define CHECK_SAN(in, want) check_san(in, sizeof(in) - 1, want, sizeof(want) - 1)

static void check_san(const char *in, size_t len, const char *want, size_t want_len)
{
        char out[512];
        size_t n;

        ck_assert_uint_lt(TEXT_SANITIZED_MAX(len), sizeof(out));
        memset(out, 'x', sizeof(out));
        n = text_sanitize(in, len, out, sizeof(out));
        ck_assert_uint_eq(n, want_len);
        ck_assert_mem_eq(out, want, want_len);
        ck_assert_int_eq(out[n], '\0');
}

/* An independent strict check, by decoding code points: true if s is
 * UTF-8 with no overlong form, surrogate or code point past U+10FFFF, and
 * holds no control character the sanitiser must remove. */
static bool valid_output(const uint8_t *s, size_t n)
{
        size_t i = 0;

        while (i < n) {
                uint32_t cp, min;
                size_t k;

                if (s[i] < 0x80) {
                        cp = s[i];
                        k = 1;
                        min = 0;
                } else if ((s[i] & 0xE0) == 0xC0) {
                        cp = s[i] & 0x1F;
                        k = 2;
                        min = 0x80;
                } else if ((s[i] & 0xF0) == 0xE0) {
                        cp = s[i] & 0x0F;
                        k = 3;
                        min = 0x800;
                } else if ((s[i] & 0xF8) == 0xF0) {
                        cp = s[i] & 0x07;
                        k = 4;
                        min = 0x10000;
                } else {
                        return false;
                }
                if (i + k > n)
                        return false;
                for (size_t j = 1; j < k; j++) {
                        if ((s[i + j] & 0xC0) != 0x80)
                                return false;
                        cp = cp << 6 | (s[i + j] & 0x3F);
                }
                if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
                        return false;
                if ((cp < 0x20 && cp != '\t') || (cp >= 0x7F && cp <= 0x9F))
                        return false;
                i += k;
        }
        return true;
}

/* What the sanitiser removes (text.h), written out again here. */
static bool invisible(uint32_t cp)
{
        return cp == 0x061C || cp == 0x180E || cp == 0x200B || cp == 0x200E || cp == 0x200F ||
               (cp >= 0x2028 && cp <= 0x202E) || (cp >= 0x2060 && cp <= 0x2064) ||
               (cp >= 0x2066 && cp <= 0x2069) || cp == 0xFEFF || (cp >= 0xE0000 && cp <= 0xE007F);
}

/* The combining marks it counts. */
static bool combining(uint32_t cp)
{
        return (cp >= 0x0300 && cp <= 0x036F) || (cp >= 0x1AB0 && cp <= 0x1AFF) ||
               (cp >= 0x1DC0 && cp <= 0x1DFF) || (cp >= 0x20D0 && cp <= 0x20FF) ||
               (cp >= 0xFE20 && cp <= 0xFE2F);
}

static uint64_t rng_state;

static uint32_t rng(void)
{
        /* xorshift64*: the same sequence on every run and every machine */
        rng_state ^= rng_state >> 12;
        rng_state ^= rng_state << 25;
        rng_state ^= rng_state >> 27;
        return (uint32_t)((rng_state * 0x2545F4914F6CDD1DULL) >> 32);
}

static size_t put_utf8(uint8_t *p, uint32_t cp)
{
        if (cp < 0x80) {
                p[0] = (uint8_t)cp;
                return 1;
        }
        if (cp < 0x800) {
                p[0] = (uint8_t)(0xC0 | cp >> 6);
                p[1] = (uint8_t)(0x80 | (cp & 0x3F));
                return 2;
        }
        if (cp < 0x10000) {
                p[0] = (uint8_t)(0xE0 | cp >> 12);
                p[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3F));
                p[2] = (uint8_t)(0x80 | (cp & 0x3F));
                return 3;
        }
        p[0] = (uint8_t)(0xF0 | cp >> 18);
        p[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3F));
        p[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3F));
        p[3] = (uint8_t)(0x80 | (cp & 0x3F));
        return 4;
}

START_TEST(san_ascii_kept)
{
        CHECK_SAN("hello, world! ~{}[]", "hello, world! ~{}[]");
        CHECK_SAN("", "");
}
END_TEST

START_TEST(san_c0_removed)
{
        char in[32], want[2] = "\t";
        size_t n = 0;

        for (int c = 0; c < 0x20; c++)
                in[n++] = (char)c;
        check_san(in, n, want, 1);
        CHECK_SAN("a\0b\rc\nd\be\af", "abcdef");
}
END_TEST

START_TEST(san_ansi_escape)
{
        CHECK_SAN("\x1b[31mred\x1b[0m", "[31mred[0m");
        CHECK_SAN("\x1b]0;title\a", "]0;title");
        CHECK_SAN("\x1b" "c", "c");
}
END_TEST

START_TEST(san_tab_kept_del_removed)
{
        CHECK_SAN("a\tb\x7f" "c", "a\tbc");
        CHECK_SAN("\x7f\x7f", "");
}
END_TEST

START_TEST(san_c1_removed)
{
        CHECK_SAN("a\xc2\x80" "b", "ab");
        CHECK_SAN("\xc2\x9b" "31m", "31m");     /* 8-bit CSI */
        CHECK_SAN("\xc2\x9f\xc2\xa0", "\xc2\xa0");  /* U+009F gone, U+00A0 kept */
}
END_TEST

START_TEST(san_multibyte_kept)
{
        CHECK_SAN("caf\xc3\xa9", "caf\xc3\xa9");                  /* 2 bytes */
        CHECK_SAN("\xe2\x82\xac 5", "\xe2\x82\xac 5");             /* 3 bytes */
        CHECK_SAN("\xf0\x9f\x98\x80!", "\xf0\x9f\x98\x80!");       /* 4 bytes */
        /* edges of every range */
        CHECK_SAN("\xc2\xa0\xdf\xbf", "\xc2\xa0\xdf\xbf");
        CHECK_SAN("\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80\xef\xbf\xbf",
                  "\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80\xef\xbf\xbf");
        CHECK_SAN("\xf0\x90\x80\x80\xf4\x8f\xbf\xbf",
                  "\xf0\x90\x80\x80\xf4\x8f\xbf\xbf");
}
END_TEST

START_TEST(san_overlong)
{
        CHECK_SAN("\xc0\xaf", R R);
        CHECK_SAN("\xc1\xbf", R R);
        CHECK_SAN("\xe0\x80\xaf", R R R);
        CHECK_SAN("\xe0\x9f\xbf", R R R);
        CHECK_SAN("\xf0\x80\x80\xaf", R R R R);
        CHECK_SAN("\xf0\x8f\xbf\xbf", R R R R);
}
END_TEST

START_TEST(san_surrogates)
{
        CHECK_SAN("\xed\xa0\x80", R R R);
        CHECK_SAN("\xed\xbf\xbf", R R R);
        CHECK_SAN("\xed\xa0\xbd\xed\xb8\x80", R R R R R R);   /* CESU-8 pair */
}
END_TEST

START_TEST(san_beyond_unicode)
{
        CHECK_SAN("\xf4\x90\x80\x80", R R R R);
        CHECK_SAN("\xf5\x80\x80\x80", R R R R);
        CHECK_SAN("\xf7\xbf\xbf\xbf", R R R R);
}
END_TEST

START_TEST(san_truncated)
{
        CHECK_SAN("a\xc3", "a" R);
        CHECK_SAN("\xe2\x82", R);
        CHECK_SAN("\xf0\x9f\x98", R);
        CHECK_SAN("\xf0\x9f", R);
        /* cut short by a byte that cannot continue it: that byte stays */
        CHECK_SAN("\xe2\x82" "A", R "A");
        CHECK_SAN("\xf0\x9f\x98\xc3\xa9", R "\xc3\xa9");
        CHECK_SAN("\xc3\x1b", R);
}
END_TEST

START_TEST(san_bad_bytes)
{
        CHECK_SAN("\xff", R);
        CHECK_SAN("\xfe", R);
        CHECK_SAN("a\xff\xfe" "b", "a" R R "b");
        CHECK_SAN("\x80", R);
        CHECK_SAN("\x80\xbf", R R);
        CHECK_SAN("\xf8\x88\x80\x80\x80", R R R R R);     /* old 5-byte form */
}
END_TEST

START_TEST(san_unicode_example)
{
        /* The example of maximal subparts in Unicode 15, section 3.9. */
        CHECK_SAN("\x61\xf1\x80\x80\xe1\x80\xc2\x62\x80\x63\x80\xbf\x64",
                  "a" R R R "b" R "c" R R "d");
}
END_TEST

START_TEST(san_worst_case_size)
{
        char in[100], out[TEXT_SANITIZED_MAX(100)];
        size_t n;

        memset(in, 0xff, sizeof(in));
        n = text_sanitize(in, sizeof(in), out, sizeof(out));
        ck_assert_uint_eq(n, 300);
        for (size_t i = 0; i < n; i += 3)
                ck_assert_mem_eq(out + i, R, 3);
        ck_assert_int_eq(out[300], '\0');
}
END_TEST

START_TEST(san_small_output)
{
        char out[8];

        /* cut at a character boundary, never inside a sequence */
        memset(out, 'x', sizeof(out));
        ck_assert_uint_eq(text_sanitize("ab\xe2\x82\xac", 5, out, 5), 2);
        ck_assert_str_eq(out, "ab");
        ck_assert_uint_eq(text_sanitize("ab\xe2\x82\xac", 5, out, 6), 5);
        ck_assert_str_eq(out, "ab\xe2\x82\xac");
        ck_assert_uint_eq(text_sanitize("abc", 3, out, 1), 0);
        ck_assert_str_eq(out, "");
        out[0] = 'x';
        ck_assert_uint_eq(text_sanitize("abc", 3, out, 0), 0);
        ck_assert_int_eq(out[0], 'x');
}
END_TEST

START_TEST(san_random_bytes)
{
        /* Bytes picked to hit every class of lead and continuation often. */
        static const uint8_t pick[] = {
                0x00, 0x09, 0x1b, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0,
                0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xe1, 0xed, 0xee, 0xef,
                0xf0, 0xf1, 0xf4, 0xf5, 0xfe, 0xff,
        };
        uint8_t in[64];
        char out[TEXT_SANITIZED_MAX(64)], again[TEXT_SANITIZED_MAX(3 * 64)];

        rng_state = 0x9E3779B97F4A7C15ULL;
        for (int iter = 0; iter < 5000; iter++) {
                size_t len = rng() % (sizeof(in) + 1), n, m;

                for (size_t i = 0; i < len; i++)
                        in[i] = rng() % 2 ? pick[rng() % sizeof(pick)] : (uint8_t)rng();
                n = text_sanitize((const char *)in, len, out, sizeof(out));
                ck_assert_uint_lt(n, TEXT_SANITIZED_MAX(len));
                ck_assert_uint_eq(strlen(out), n);
                ck_assert_ptr_null(memchr(out, 0xff, n));
                ck_assert_msg(valid_output((const uint8_t *)out, n),
                              "invalid output at iteration %d", iter);
                /* what comes out is clean: a second pass changes nothing */
                m = text_sanitize(out, n, again, sizeof(again));
                ck_assert_uint_eq(m, n);
                ck_assert_mem_eq(again, out, n);
        }
}
END_TEST

START_TEST(san_random_valid_kept)
{
        uint8_t in[16 * 4];
        char out[TEXT_SANITIZED_MAX(sizeof(in))];

        rng_state = 42;
        for (int iter = 0; iter < 3000; iter++) {
                size_t len = 0, n;

                for (int k = rng() % 16; k > 0; k--) {
                        uint32_t cp;

                        do {
                                switch (rng() % 4) {
                                case 0: cp = rng() % 0x80; break;
                                case 1: cp = rng() % 0x800; break;
                                case 2: cp = rng() % 0x10000; break;
                                default: cp = rng() % 0x110000; break;
                                }
                        } while ((cp < 0x20 && cp != '\t') || (cp >= 0x7f && cp <= 0x9f) ||
                                 (cp >= 0xd800 && cp <= 0xdfff) || invisible(cp) ||
                                 combining(cp));
                        len += put_utf8(in + len, cp);
                }
                n = text_sanitize((const char *)in, len, out, sizeof(out));
                ck_assert_uint_eq(n, len);
                ck_assert_mem_eq(out, in, len);
        }
}
END_TEST

/* Every invisible or reordering character is taken out, wherever it is;
 * the joiners that scripts and emoji need stay. */
START_TEST(san_invisible_removed)
{
        static const uint32_t gone[] = {
                0x061C, 0x180E, 0x200B, 0x200E, 0x200F, 0x2028, 0x2029, 0x202A, 0x202B,
                0x202C, 0x202D, 0x202E, 0x2060, 0x2061, 0x2064, 0x2066, 0x2067, 0x2068,
                0x2069, 0xFEFF, 0xE0001, 0xE0041, 0xE007F,
        };
        uint8_t in[16];
        char out[64];

        for (size_t i = 0; i < sizeof(gone) / sizeof(gone[0]); i++) {
                size_t n = 0;
                in[n++] = 'a';
                n += put_utf8(in + n, gone[i]);
                in[n++] = 'b';
                ck_assert_uint_eq(text_sanitize((const char *)in, n, out, sizeof(out)), 2);
                ck_assert_msg(strcmp(out, "ab") == 0, "U+%04X kept", gone[i]);
        }
        /* A whole "override" attack, and a BOM first. */
        CHECK_SAN("\xef\xbb\xbfuser\xe2\x80\xaetxt.exe", "usertxt.exe");
        /* ZWNJ and ZWJ stay: Persian and Indic writing and emoji need them. */
        CHECK_SAN("\xe2\x80\x8c\xe2\x80\x8d", "\xe2\x80\x8c\xe2\x80\x8d");
}
END_TEST

START_TEST(san_combining_capped)
{
        uint8_t in[128];
        char out[256];
        size_t n = 0;

        in[n++] = 'e';
        for (int i = 0; i < 20; i++)
                n += put_utf8(in + n, 0x0301);
        in[n++] = 'o';
        for (int i = 0; i < 3; i++)
                n += put_utf8(in + n, 0x1DC0);
        size_t len = text_sanitize((const char *)in, n, out, sizeof(out));
        /* e, 4 marks; o and its 3 (a new base counts afresh). */
        ck_assert_uint_eq(len, 1 + TEXT_COMBINING_MAX * 2 + 1 + 3 * 3);
        ck_assert_int_eq(out[0], 'e');
        ck_assert_int_eq(out[1 + TEXT_COMBINING_MAX * 2], 'o');
        ck_assert(valid_output((const uint8_t *)out, len));
}
END_TEST

/* Cut user text at a character boundary, never inside one. */
START_TEST(fit_boundaries)
{
        const char *s = "ab\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";     /* a b é € 😀 */

        ck_assert_uint_eq(text_fit(s, 100), strlen(s));
        ck_assert_uint_eq(text_fit(s, 2), 2);
        ck_assert_uint_eq(text_fit(s, 3), 2);   /* not half of é */
        ck_assert_uint_eq(text_fit(s, 4), 4);
        ck_assert_uint_eq(text_fit(s, 6), 4);
        ck_assert_uint_eq(text_fit(s, 7), 7);
        ck_assert_uint_eq(text_fit(s, 10), 7);
        ck_assert_uint_eq(text_fit(s, 11), 11);
        ck_assert_uint_eq(text_fit(s, 0), 0);
        ck_assert_uint_eq(text_fit("", 5), 0);
}
END_TEST

START_TEST(name_valid)
{
        ck_assert(text_valid_name("a", 16));
        ck_assert(text_valid_name("Bob_the-2nd", 16));
        ck_assert(text_valid_name("0123456789abcdef", 16));     /* max_len */
        ck_assert(text_valid_name("x", 1));
}
END_TEST

START_TEST(name_invalid)
{
        ck_assert(!text_valid_name("", 16));
        ck_assert(!text_valid_name("0123456789abcdefg", 16));   /* max_len + 1 */
        ck_assert(!text_valid_name("xy", 1));
        ck_assert(!text_valid_name("a b", 16));
        ck_assert(!text_valid_name("a.b", 16));
        ck_assert(!text_valid_name("#bob", 16));
        ck_assert(!text_valid_name("bob!", 16));
        ck_assert(!text_valid_name("b\xc3\xb6" "b", 16));
        ck_assert(!text_valid_name("tab\t", 16));
        ck_assert(!text_valid_name("a", 0));
}
END_TEST

START_TEST(room_names)
{
        char out[32];

        ck_assert_int_eq(text_room_name("#lobby", out, sizeof(out), 16), 0);
        ck_assert_str_eq(out, "lobby");
        ck_assert_int_eq(text_room_name("Dev-ops_2", out, sizeof(out), 16), 0);
        ck_assert_str_eq(out, "Dev-ops_2");
        /* max_len counts the name, not the '#' */
        ck_assert_int_eq(text_room_name("#abcd", out, sizeof(out), 4), 0);
        ck_assert_str_eq(out, "abcd");
        ck_assert_int_eq(text_room_name("abcd", out, sizeof(out), 4), 0);
        ck_assert_int_eq(text_room_name("#abcde", out, sizeof(out), 4), -EINVAL);
        ck_assert_int_eq(text_room_name("abcde", out, sizeof(out), 4), -EINVAL);
}
END_TEST

START_TEST(room_names_invalid)
{
        char out[32];

        strcpy(out, "untouched");
        ck_assert_int_eq(text_room_name("", out, sizeof(out), 16), -EINVAL);
        ck_assert_int_eq(text_room_name("#", out, sizeof(out), 16), -EINVAL);
        ck_assert_int_eq(text_room_name("##a", out, sizeof(out), 16), -EINVAL);
        ck_assert_int_eq(text_room_name("a#", out, sizeof(out), 16), -EINVAL);
        ck_assert_int_eq(text_room_name("# a", out, sizeof(out), 16), -EINVAL);
        ck_assert_int_eq(text_room_name("a b", out, sizeof(out), 16), -EINVAL);
        ck_assert_int_eq(text_room_name("caf\xc3\xa9", out, sizeof(out), 16), -EINVAL);
        ck_assert_str_eq(out, "untouched");
}
END_TEST

START_TEST(room_names_out_size)
{
        char out[8];

        ck_assert_int_eq(text_room_name("#abcdefg", out, 8, 16), 0);
        ck_assert_str_eq(out, "abcdefg");
        ck_assert_int_eq(text_room_name("#abcdefgh", out, 8, 16), -ENOSPC);
        ck_assert_int_eq(text_room_name("abcdefgh", out, 8, 16), -ENOSPC);
}
END_TEST

START_TEST(secret_equal)
{
        char longer[TEXT_SECRET_MAX + 2];

        ck_assert(text_secret_equal("s3cret", "s3cret"));
        ck_assert(text_secret_equal("", ""));
        ck_assert(text_secret_equal("p\xc3\xa4ss word", "p\xc3\xa4ss word"));
        ck_assert(!text_secret_equal("s3cre", "s3cret"));
        ck_assert(!text_secret_equal("s3crett", "s3cret"));
        ck_assert(!text_secret_equal("S3cret", "s3cret"));
        ck_assert(!text_secret_equal("", "s3cret"));
        ck_assert(!text_secret_equal("s3cret", ""));
        /* Past the compared span nothing is equal, even to itself. */
        memset(longer, 'x', sizeof(longer) - 1);
        longer[sizeof(longer) - 1] = '\0';
        ck_assert(!text_secret_equal(longer, longer));
        longer[TEXT_SECRET_MAX] = '\0';
        ck_assert(text_secret_equal(longer, longer));
        ck_assert(!text_secret_equal(longer, "x"));
}
END_TEST

START_TEST(casecmp)
{
        ck_assert_int_eq(text_casecmp("Bob", "bOB"), 0);
        ck_assert_int_eq(text_casecmp("lobby", "LOBBY"), 0);
        ck_assert_int_eq(text_casecmp("", ""), 0);
        ck_assert_int_lt(text_casecmp("a", "B"), 0);
        ck_assert_int_gt(text_casecmp("B", "a"), 0);
        ck_assert_int_lt(text_casecmp("ab", "ABC"), 0);
        ck_assert_int_gt(text_casecmp("ABC", "ab"), 0);
        ck_assert_int_ne(text_casecmp("_", "-"), 0);
        /* only ASCII letters fold: '[' is not '{' */
        ck_assert_int_ne(text_casecmp("[", "{"), 0);
        ck_assert_int_ne(text_casecmp("\xc3\x89", "\xc3\xa9"), 0);
}
END_TEST

START_TEST(room_lists)
{
        static struct text_room_list l;
        char bad[32];

        ck_assert_int_eq(text_room_list("lobby, #games,music  LOBBY\tGames", &l, bad, sizeof(bad)),
                         0);
        ck_assert_uint_eq(l.n, 3);
        ck_assert_str_eq(l.name[0], "lobby");
        ck_assert_str_eq(l.name[1], "games");
        ck_assert_str_eq(l.name[2], "music");
        ck_assert_int_eq(text_room_list("", &l, bad, sizeof(bad)), 0);
        ck_assert_uint_eq(l.n, 0);
        ck_assert_int_eq(text_room_list(" ,\t, ", &l, bad, sizeof(bad)), 0);
        ck_assert_uint_eq(l.n, 0);

        /* A bad name is named, and leaves the list empty. */
        ck_assert_int_eq(text_room_list("games, b@d x", &l, bad, sizeof(bad)), -EINVAL);
        ck_assert_str_eq(bad, "b@d");
        ck_assert_uint_eq(l.n, 0);
        ck_assert_int_eq(text_room_list("games ##x", &l, bad, sizeof(bad)), -EINVAL);
        ck_assert_str_eq(bad, "##x");
        ck_assert_int_eq(text_room_list("#", &l, bad, sizeof(bad)), -EINVAL);

        /* Too long by one; a name far too long is cut in the message. */
        char name[PICHAT_ROOM_NAME_MAX + 2], huge[200];
        memset(name, 'n', sizeof(name) - 1);
        name[sizeof(name) - 1] = '\0';
        ck_assert_int_eq(text_room_list(name, &l, bad, sizeof(bad)), -EINVAL);
        name[PICHAT_ROOM_NAME_MAX] = '\0';
        ck_assert_int_eq(text_room_list(name, &l, bad, sizeof(bad)), 0);
        ck_assert_str_eq(l.name[0], name);
        memset(huge, 'h', sizeof(huge) - 1);
        huge[sizeof(huge) - 1] = '\0';
        ck_assert_int_eq(text_room_list(huge, &l, bad, sizeof(bad)), -EINVAL);
        ck_assert_uint_eq(strlen(bad), sizeof(bad) - 1);
}
END_TEST

START_TEST(room_list_bound)
{
        static struct text_room_list l;
        char text[PICHAT_ROOMS_LISTED_MAX * 6 + 8], bad[16];
        size_t n = 0;

        for (int i = 0; i < PICHAT_ROOMS_LISTED_MAX; i++)
                n += (size_t)snprintf(text + n, sizeof(text) - n, "r%d ", i);
        ck_assert_int_eq(text_room_list(text, &l, bad, sizeof(bad)), 0);
        ck_assert_uint_eq(l.n, PICHAT_ROOMS_LISTED_MAX);
        /* Repeats cost nothing; one name more is too many. */
        snprintf(text + n, sizeof(text) - n, "R0 r1 extra");
        ck_assert_int_eq(text_room_list(text, &l, bad, sizeof(bad)), -E2BIG);
        ck_assert_uint_eq(l.n, 0);
}
END_TEST

Suite *test_suite(void)
{
        Suite *s = suite_create("text");
        TCase *tc = tcase_create("sanitize");

        tcase_add_test(tc, san_ascii_kept);
        tcase_add_test(tc, san_invisible_removed);
        tcase_add_test(tc, san_combining_capped);
        tcase_add_test(tc, fit_boundaries);
        tcase_add_test(tc, san_c0_removed);
        tcase_add_test(tc, san_ansi_escape);
        tcase_add_test(tc, san_tab_kept_del_removed);
        tcase_add_test(tc, san_c1_removed);
        tcase_add_test(tc, san_multibyte_kept);
        tcase_add_test(tc, san_overlong);
        tcase_add_test(tc, san_surrogates);
        tcase_add_test(tc, san_beyond_unicode);
        tcase_add_test(tc, san_truncated);
        tcase_add_test(tc, san_bad_bytes);
        tcase_add_test(tc, san_unicode_example);
        tcase_add_test(tc, san_worst_case_size);
        tcase_add_test(tc, san_small_output);
        tcase_add_test(tc, san_random_bytes);
        tcase_add_test(tc, san_random_valid_kept);
        suite_add_tcase(s, tc);

        tc = tcase_create("names");
        tcase_add_test(tc, name_valid);
        tcase_add_test(tc, name_invalid);
        tcase_add_test(tc, room_names);
        tcase_add_test(tc, room_names_invalid);
        tcase_add_test(tc, room_names_out_size);
        tcase_add_test(tc, room_lists);
        tcase_add_test(tc, room_list_bound);
        tcase_add_test(tc, casecmp);
        tcase_add_test(tc, secret_equal);
        suite_add_tcase(s, tc);
        return s;
}
