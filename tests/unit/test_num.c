/* Unit tests for num: num_parse_ll must accept exactly what Redis's
 * string2ll accepts, and num_format_ll must be its inverse. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "num.h"

struct accepted {
    const char *s;
    long long v;
};

static void test_parse_accepts_canonical_integers(void **state)
{
    (void)state;
    static const struct accepted cases[] = {
        {"0", 0},
        {"1", 1},
        {"-1", -1},
        {"9", 9},
        {"10", 10},
        {"100", 100},
        {"-100", -100},
        {"123456789", 123456789},
        {"4294967296", 4294967296LL},
        {"9223372036854775807", LLONG_MAX},
        {"9223372036854775806", LLONG_MAX - 1},
        {"-9223372036854775808", LLONG_MIN},
        {"-9223372036854775807", LLONG_MIN + 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        long long v = 42;
        bool ok = num_parse_ll(cases[i].s, strlen(cases[i].s), &v);
        if (!ok) {
            fail_msg("rejected \"%s\"", cases[i].s);
        }
        assert_true(v == cases[i].v);
    }
}

static void test_parse_rejects_non_canonical_forms(void **state)
{
    (void)state;
    static const char *const cases[] = {
        "",
        "-",
        "+",
        "+1",
        "+0",
        "-0",
        "00",
        "01",
        "-01",
        "007",
        " 1",
        "1 ",
        "\t1",
        "1\n",
        "1\r\n",
        "1a",
        "a1",
        "abc",
        "--1",
        "-+1",
        "0x10",
        "1.5",
        "1e3",
        "1,000",
        "9223372036854775808",   /* LLONG_MAX + 1 */
        "-9223372036854775809",  /* LLONG_MIN - 1 */
        "18446744073709551615",  /* ULLONG_MAX */
        "18446744073709551616",  /* ULLONG_MAX + 1 */
        "99999999999999999999",  /* 20 digits, wraps a u64 */
        "-99999999999999999999", /* 21 chars */
        "100000000000000000000", /* 21 digits */
        "123456789012345678901234567890",
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        long long v = 42;
        if (num_parse_ll(cases[i], strlen(cases[i]), &v)) {
            fail_msg("accepted \"%s\" as %lld", cases[i], v);
        }
    }
}

/* Only the first len bytes count: the input need not be NUL-terminated and
 * a NUL inside the span is an invalid character, not a terminator. */
static void test_parse_respects_length(void **state)
{
    (void)state;
    long long v = 0;
    char digits[3] = {'1', '2', '3'}; /* no terminator */
    assert_true(num_parse_ll(digits, 3, &v));
    assert_true(v == 123);
    assert_true(num_parse_ll(digits, 2, &v));
    assert_true(v == 12);
    assert_true(num_parse_ll("123abc", 3, &v));
    assert_true(v == 123);
    assert_false(num_parse_ll("1\0"
                              "2",
                              3, &v));
    assert_false(num_parse_ll("12\0", 3, &v));
    assert_false(num_parse_ll("0", 0, &v));
}

static void test_format_extremes(void **state)
{
    (void)state;
    char out[21];
    assert_int_equal(num_format_ll(out, 0), 1);
    assert_string_equal(out, "0");
    assert_int_equal(num_format_ll(out, -1), 2);
    assert_string_equal(out, "-1");
    assert_int_equal(num_format_ll(out, LLONG_MAX), 19);
    assert_string_equal(out, "9223372036854775807");
    assert_int_equal(num_format_ll(out, LLONG_MIN), 20);
    assert_string_equal(out, "-9223372036854775808");
}

/* Every formatted value parses back to itself (xorshift-generated values
 * spanning all magnitudes). */
static void test_format_parse_roundtrip(void **state)
{
    (void)state;
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (int i = 0; i < 100000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        long long v = (long long)(x >> (i % 64));
        if (i % 2) {
            v = -v;
        }
        char out[21];
        int n = num_format_ll(out, v);
        assert_int_equal((size_t)n, strlen(out));
        long long back = 0;
        assert_true(num_parse_ll(out, (size_t)n, &back));
        assert_true(back == v);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_accepts_canonical_integers),
        cmocka_unit_test(test_parse_rejects_non_canonical_forms),
        cmocka_unit_test(test_parse_respects_length),
        cmocka_unit_test(test_format_extremes),
        cmocka_unit_test(test_format_parse_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
