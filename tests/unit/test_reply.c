/* Unit tests for reply: every encoder must emit the exact RESP2 bytes
 * redis-server sends. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "reply.h"

/* Assert that b holds exactly the n bytes at want, then empty it. */
static void expect_bytes(struct buf *b, const char *want, size_t n)
{
    if (b->len != n || memcmp(b->data, want, n) != 0) {
        fail_msg("got %zu bytes \"%.*s\", want %zu bytes \"%.*s\"", b->len,
                 (int)b->len, b->data, n, (int)n, want);
    }
    buf_clear(b);
}

#define EXPECT(b, lit) expect_bytes((b), (lit), sizeof(lit) - 1)

static int setup(void **state)
{
    struct buf *b = test_calloc(1, sizeof *b);
    buf_init(b);
    *state = b;
    return 0;
}

static int teardown(void **state)
{
    struct buf *b = *state;
    buf_free(b);
    test_free(b);
    return 0;
}

static void test_status_and_ok(void **state)
{
    struct buf *b = *state;
    reply_ok(b);
    EXPECT(b, "+OK\r\n");
    reply_status(b, "PONG");
    EXPECT(b, "+PONG\r\n");
    reply_status(b, "");
    EXPECT(b, "+\r\n");
}

static void test_error_adds_dash_and_crlf(void **state)
{
    struct buf *b = *state;
    reply_error(b, ERR_SYNTAX);
    EXPECT(b, "-ERR syntax error\r\n");
    reply_error(b, ERR_WRONGTYPE);
    EXPECT(b, "-WRONGTYPE Operation against a key holding the wrong kind "
              "of value\r\n");
}

static void test_error_replaces_cr_and_lf_by_spaces(void **state)
{
    struct buf *b = *state;
    reply_error(b, "ERR a\r\nb\nc\rd");
    EXPECT(b, "-ERR a  b c d\r\n");
    reply_error(b, "\r\n");
    EXPECT(b, "-  \r\n");
    reply_errorf(b, "ERR bad %s", "x\r\ny");
    EXPECT(b, "-ERR bad x  y\r\n");
}

static void test_errorf_and_arity_error(void **state)
{
    struct buf *b = *state;
    reply_errorf(b, "ERR %d%s", 12, "ab");
    EXPECT(b, "-ERR 12ab\r\n");
    reply_arity_error(b, "get");
    EXPECT(b, "-ERR wrong number of arguments for 'get' command\r\n");
}

static void test_integers(void **state)
{
    struct buf *b = *state;
    reply_int(b, 0);
    EXPECT(b, ":0\r\n");
    reply_int(b, -1);
    EXPECT(b, ":-1\r\n");
    reply_int(b, LLONG_MAX);
    EXPECT(b, ":9223372036854775807\r\n");
    reply_int(b, LLONG_MIN);
    EXPECT(b, ":-9223372036854775808\r\n");
}

static void test_bulk_strings(void **state)
{
    struct buf *b = *state;
    reply_bulk(b, "foo", 3);
    EXPECT(b, "$3\r\nfoo\r\n");
    reply_bulk(b, "", 0);
    EXPECT(b, "$0\r\n\r\n");
    reply_bulk(b, "a\0\r\nb", 5); /* binary safe */
    EXPECT(b, "$5\r\na\0\r\nb\r\n");
    reply_bulk_str(b, "hello");
    EXPECT(b, "$5\r\nhello\r\n");
    reply_bulk_ll(b, -42);
    EXPECT(b, "$3\r\n-42\r\n");
    reply_bulk_ll(b, LLONG_MIN);
    EXPECT(b, "$20\r\n-9223372036854775808\r\n");
}

static void test_nulls_and_arrays(void **state)
{
    struct buf *b = *state;
    reply_null(b);
    EXPECT(b, "$-1\r\n");
    reply_null_array(b);
    EXPECT(b, "*-1\r\n");
    reply_array(b, 0);
    EXPECT(b, "*0\r\n");
    reply_array(b, 2);
    reply_bulk_str(b, "a");
    reply_int(b, 7);
    EXPECT(b, "*2\r\n$1\r\na\r\n:7\r\n");
}

/* Encoders append: many replies in one buffer stay in order, including
 * across the buffer's growth. */
static void test_replies_append_in_order(void **state)
{
    struct buf *b = *state;
    for (int i = 0; i < 1000; i++) {
        reply_int(b, i);
    }
    size_t off = 0;
    for (int i = 0; i < 1000; i++) {
        char want[32];
        int n = snprintf(want, sizeof want, ":%d\r\n", i);
        assert_true(off + (size_t)n <= b->len);
        assert_memory_equal(b->data + off, want, (size_t)n);
        off += (size_t)n;
    }
    assert_int_equal(off, b->len);
}

/* The error constants are client-visible: they must stay Redis's text. */
static void test_error_texts_match_redis(void **state)
{
    (void)state;
    assert_string_equal(ERR_NOT_INT,
                        "ERR value is not an integer or out of range");
    assert_string_equal(ERR_OVERFLOW,
                        "ERR increment or decrement would overflow");
    assert_string_equal(ERR_NO_SUCH_KEY, "ERR no such key");
    assert_string_equal(ERR_INDEX_RANGE, "ERR index out of range");
    assert_string_equal(ERR_POSITIVE,
                        "ERR value is out of range, must be positive");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_status_and_ok, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_adds_dash_and_crlf, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_error_replaces_cr_and_lf_by_spaces,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_errorf_and_arity_error, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_integers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bulk_strings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nulls_and_arrays, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replies_append_in_order, setup,
                                        teardown),
        cmocka_unit_test(test_error_texts_match_redis),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
