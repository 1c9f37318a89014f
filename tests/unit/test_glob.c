/* Unit tests for glob: Redis's stringmatchlen (util.c, 7.0), as KEYS, SCAN
 * MATCH, HSCAN MATCH and PSUBSCRIBE see it. Each case is a pattern, a
 * subject, the nocase flag and what redis-server 7.0 answers; the cases in
 * test_redis_quirks were checked against redis-server 7.0.15 through HSCAN
 * MATCH where the quirk is observable there. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "glob.h"

struct gcase {
    const char *pat;
    size_t plen; /* 0: strlen(pat) */
    const char *s;
    size_t slen; /* 0: strlen(s) (use "" with slen 0 for empty) */
    bool nocase;
    bool want;
};

/* Cases with NUL bytes give explicit lengths; the others use strlen. */
#define C(p, s, want)                                                          \
    {                                                                          \
        p, 0, s, 0, false, want                                                \
    }
#define CI(p, s, want)                                                         \
    {                                                                          \
        p, 0, s, 0, true, want                                                 \
    }
#define B(p, pl, s, sl, want)                                                  \
    {                                                                          \
        p, pl, s, sl, false, want                                              \
    }

static void run_cases(const struct gcase *cases, size_t n)
{
    int failures = 0;
    for (size_t i = 0; i < n; i++) {
        const struct gcase *t = &cases[i];
        size_t pl = t->plen ? t->plen : strlen(t->pat);
        size_t sl = t->slen ? t->slen : strlen(t->s);
        bool got = glob_match(t->pat, pl, t->s, sl, t->nocase);
        if (got != t->want) {
            print_error("case %zu: glob_match(\"%.*s\", \"%.*s\", nocase=%d) "
                        "= %d, redis says %d\n",
                        i, (int)pl, t->pat, (int)sl, t->s, t->nocase, got,
                        t->want);
            failures++;
        }
    }
    assert_int_equal(failures, 0);
}

#define RUN(cases) run_cases(cases, sizeof(cases) / sizeof((cases)[0]))

static void test_literals(void **state)
{
    (void)state;
    static const struct gcase cases[] = {
        C("abc", "abc", true),  C("abc", "abd", false),  C("abc", "ab", false),
        C("ab", "abc", false),  C("", "", true),         C("", "a", false),
        C("a", "", false),      C("ABC", "abc", false),  CI("ABC", "abc", true),
        CI("abc", "AbC", true), CI("abc", "abd", false),
    };
    RUN(cases);
}

static void test_star(void **state)
{
    (void)state;
    static const struct gcase cases[] = {
        C("*", "anything", true),
        C("*", "a", true),
        C("a*", "a", true),
        C("a*", "abc", true),
        C("a*", "ba", false),
        C("*a", "bca", true),
        C("*a", "ab", false),
        C("a*c", "ac", true),
        C("a*c", "abbbc", true),
        C("a*c", "abbbd", false),
        C("a**c", "abc", true),
        C("***", "x", true),
        C("*b*", "abc", true),
        C("*b*", "ac", false),
        C("h*llo", "hello", true),
        C("h*llo", "heeeello", true),
        C("h*llo", "hllo", true),
        C("*.*", "file.txt", true),
        C("*.*", "file", false),
        C("a*b*c*d", "aXbYcZd", true),
        C("a*b*c*d", "aXbYcZ", false),
        C("*x*y*z*", "xyz", true),
        C("a*?", "a", false),
        C("a*?", "ab", true),
        C("?*", "a", true),
        /* Backtracking where the first candidate fails. */
        C("*ab", "aab", true),
        C("*aab", "aaab", true),
        C("*abc*abd", "abcabcabd", true),
        C("*abc*abd", "abcabcab", false),
        /* Several stars against a subject that fails. */
        C("a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false),
    };
    RUN(cases);
}

static void test_question(void **state)
{
    (void)state;
    static const struct gcase cases[] = {
        C("?", "a", true),         C("?", "", false),
        C("?", "ab", false),       C("h?llo", "hello", true),
        C("h?llo", "hllo", false), C("??", "ab", true),
        C("a?c", "abc", true),     C("a?c", "ac", false),
        C("*?", "x", true),        C("?*?", "ab", true),
        C("?*?", "a", false),
    };
    RUN(cases);
}

static void test_classes(void **state)
{
    (void)state;
    static const struct gcase cases[] = {
        C("[abc]", "a", true),
        C("[abc]", "c", true),
        C("[abc]", "d", false),
        C("[abc]", "", false),
        C("[abc]", "ab", false),
        C("h[ae]llo", "hello", true),
        C("h[ae]llo", "hallo", true),
        C("h[ae]llo", "hillo", false),
        C("[^a]", "b", true),
        C("[^a]", "a", false),
        C("[^abc]x", "dx", true),
        C("[^abc]x", "cx", false),
        C("h[^e]llo", "hallo", true),
        C("h[^e]llo", "hello", false),
        C("[a-z]", "m", true),
        C("[a-z]", "a", true),
        C("[a-z]", "z", true),
        C("[a-z]", "A", false),
        C("[a-z]", "0", false),
        C("[0-9][0-9]", "42", true),
        C("[0-9][0-9]", "4x", false),
        C("[^0-9]", "x", true),
        C("[^0-9]", "5", false),
        C("[a-cx-z]", "y", true),
        C("[a-cx-z]", "d", false),
        C("h[a-b]llo", "hbllo", true),
        /* Reversed ranges are swapped. */
        C("[z-a]", "m", true),
        C("[z-a]", "A", false),
        C("[9-0]", "5", true),
        /* '-' first or last, and ']' handling. */
        C("[-a]", "-", true),
        C("[-a]", "a", true),
        C("[a-]x", "ax", false), /* "a-]" is a range a..']' (class unclosed) */
        C("[a-]", "a", true),
        C("[a-]", "]", true),
        C("[a-]", "_", true),
        C("[a-]", "-", false),
        C("[]", "]", false),
        C("[]a]", "]", false),
        C("[]a]", "]a]", false),
        C("[]a]", "a]", false),
        /* An empty class matches nothing; "[]" then the rest. */
        C("[]x", "x", false),
        C("[^]x", "ax", true),
        /* Unterminated class: it runs to the end of the pattern. */
        C("[a", "a", true),
        C("[ab", "b", true),
        C("[ab", "c", false),
        C("a[", "a", false),
        C("a[", "ab", false),
        C("[^", "x", true),
        /* Classes with nocase. */
        CI("[abc]", "B", true),
        CI("[ABC]", "b", true),
        CI("[a-z]", "Q", true),
        CI("[A-Z]", "q", true),
        CI("[^a]", "A", false),
        CI("[^a]", "b", true),
        /* Star then class. */
        C("*[0-9]", "abc7", true),
        C("*[0-9]", "abc", false),
        C("[a-z]*", "x", true),
    };
    RUN(cases);
}

static void test_escapes(void **state)
{
    (void)state;
    static const struct gcase cases[] = {
        C("\\*", "*", true),
        C("\\*", "a", false),
        C("a\\*b", "a*b", true),
        C("a\\*b", "axb", false),
        C("\\?", "?", true),
        C("\\?", "x", false),
        C("\\[a]", "[a]", true),
        C("\\[a]", "a", false),
        C("\\\\", "\\", true),
        C("\\a", "a", true),
        C("\\a", "b", false),
        /* A trailing backslash matches itself. */
        C("a\\", "a\\", true),
        C("\\", "\\", true),
        C("\\", "a", false),
        /* Escapes inside classes. */
        C("[\\]]", "]", true),
        C("[\\]]", "\\", false),
        C("[\\-]", "-", true),
        C("[a\\-z]", "b", false),
        C("[a\\-z]", "-", true),
        C("[a\\-z]", "z", true),
        C("[\\^a]", "^", true),
        C("[\\^a]", "b", false),
        C("[\\\\]", "\\", true),
        C("*\\*", "abc*", true),
        C("*\\*", "abc", false),
        CI("\\A", "a", true),
    };
    RUN(cases);
}

static void test_binary(void **state)
{
    (void)state;
    static const struct gcase cases[] = {
        /* NUL is an ordinary byte on both sides. */
        B("a\0b", 3, "a\0b", 3, true), B("a\0b", 3, "a\0c", 3, false),
        B("a\0b", 3, "a", 1, false), B("a", 1, "a\0", 2, false),
        B("a?b", 3, "a\0b", 3, true), B("a*", 2, "a\0\0\0", 4, true),
        B("*\0", 2, "xyz\0", 4, true), B("*\0", 2, "xyz", 3, false),
        B("[\0]", 3, "\0", 1, true), B("[\0]", 3, "0", 1, false),
        B("[^\0]", 4, "\0", 1, false), B("[^\0]", 4, "x", 1, true),
        B("\\\0", 2, "\0", 1, true), B("*", 1, "\0", 1, true),
        B("?", 1, "\0", 1, true), B("\0*\0", 3, "\0abc\0", 5, true),
        B("\0*\0", 3, "\0abc", 4, false),
        /* High bytes compare as bytes. */
        C("\xff", "\xff", true), C("\xfe", "\xff", false),
        C("?\xc3\xa9", "x\xc3\xa9", true), C("[\xe9]", "\xe9", true),
        CI("\xc9", "\xe9", false), /* tolower in the C locale: ASCII only */
    };
    RUN(cases);
}

/* Where Redis's stringmatchlen has behaviour a fresh implementation easily
 * gets "wrong": each is what redis-server 7.0 does. */
static void test_redis_quirks(void **state)
{
    (void)state;
    static const struct gcase cases[] = {
        /* A non-empty pattern never matches an empty subject, not even
         * "**" (KEYS and SCAN special-case the pattern "*" alone). Seen
         * with HSCAN h 0 MATCH ** on a hash holding the field "". */
        C("**", "", false),
        C("*", "", false),
        C("a*", "", false),
        /* nocase ranges swap before lowering: "[Z-a]" is 'Z'..'a', then
         * 'z'..'a' after tolower, an empty range. */
        CI("[Z-a]", "m", false),
        CI("[Z-a]", "_", false),
        C("[Z-a]", "_", true),
        C("[Z-a]", "m", false),
        /* An escaped byte in a class is compared case-sensitively even
         * with nocase. */
        CI("[\\A]", "a", false),
        CI("[\\A]", "A", true),
        /* Range bounds and the subject byte are (signed) chars: "[a-\xc3]"
         * is -61..97, so it takes 0x10 and 'Z' but not 'b'. Seen with HSCAN
         * MATCH on redis-server 7.0.15. */
        C("[a-\xc3]", "\x10", true),
        C("[a-\xc3]", "Z", true),
        C("[a-\xc3]", "b", false),
        C("[a-\xc3]", "\xc3", true),
        C("[a-\xc3]", "\xc4", true),
        C("[a-\xc3]", "\xc2", false),
        C("[\x80-\x90]", "\x85", true),
        C("[\x80-\x90]", "a", false),
    };
    RUN(cases);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_literals),     cmocka_unit_test(test_star),
        cmocka_unit_test(test_question),     cmocka_unit_test(test_classes),
        cmocka_unit_test(test_escapes),      cmocka_unit_test(test_binary),
        cmocka_unit_test(test_redis_quirks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
