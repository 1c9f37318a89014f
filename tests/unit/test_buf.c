/* Unit tests for buf: growth, consumption from the front, and the
 * little-endian writers used by the entry format. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "buf.h"

static void test_zeroed_buf_is_empty_and_usable(void **state)
{
    (void)state;
    struct buf b = {0};
    assert_int_equal(b.len, 0);
    buf_append(&b, "abc", 3);
    assert_int_equal(b.len, 3);
    assert_memory_equal(b.data, "abc", 3);
    buf_free(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
    buf_free(&b); /* freeing twice is harmless */
}

static void test_append_grows_and_keeps_content(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b);
    buf_append(&b, "", 0);
    assert_int_equal(b.len, 0);
    for (int i = 0; i < 100000; i++) {
        char c = (char)('a' + i % 26);
        buf_append(&b, &c, 1);
    }
    assert_int_equal(b.len, 100000);
    assert_true(b.cap >= b.len);
    for (int i = 0; i < 100000; i++) {
        assert_int_equal(b.data[i], 'a' + i % 26);
    }
    buf_append_str(&b, "tail");
    assert_memory_equal(b.data + 100000, "tail", 4);
    buf_free(&b);
}

static void test_reserve_points_at_free_space(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b);
    buf_append(&b, "xy", 2);
    char *p = buf_reserve(&b, 1000);
    assert_ptr_equal(p, b.data + 2);
    assert_true(b.cap - b.len >= 1000);
    assert_int_equal(b.len, 2); /* reserving does not use the space */
    memset(p, 'z', 1000);
    b.len += 1000;
    assert_int_equal(b.data[1001], 'z');
    buf_free(&b);
}

static void test_printf_appends_formatted_text(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b);
    buf_printf(&b, "%s=%d", "x", 42);
    buf_printf(&b, ";%05d", 7);
    assert_int_equal(b.len, strlen("x=42;00007"));
    assert_memory_equal(b.data, "x=42;00007", b.len);
    char big[5000];
    memset(big, 'q', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    buf_printf(&b, "%s", big);
    assert_int_equal(b.len, 10 + 4999);
    assert_int_equal(b.data[b.len - 1], 'q');
    buf_free(&b);
}

static void test_consume_drops_prefix(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b);
    buf_append_str(&b, "0123456789");
    buf_consume(&b, 0);
    assert_int_equal(b.len, 10);
    buf_consume(&b, 3);
    assert_int_equal(b.len, 7);
    assert_memory_equal(b.data, "3456789", 7);
    buf_consume(&b, 7);
    assert_int_equal(b.len, 0);
    buf_append_str(&b, "ab");
    buf_consume(&b, 100); /* more than held: empties */
    assert_int_equal(b.len, 0);
    buf_append_str(&b, "cd");
    buf_clear(&b);
    assert_int_equal(b.len, 0);
    buf_free(&b);
}

static void test_fixed_width_writers_are_little_endian(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b);
    buf_put_u8(&b, 0xAB);
    buf_put_u32(&b, 0x01020304u);
    buf_put_u64(&b, 0x1122334455667788ull);
    static const unsigned char want[] = {
        0xAB, 0x04, 0x03, 0x02, 0x01, 0x88, 0x77,
        0x66, 0x55, 0x44, 0x33, 0x22, 0x11,
    };
    assert_int_equal(b.len, sizeof want);
    assert_memory_equal(b.data, want, sizeof want);
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_zeroed_buf_is_empty_and_usable),
        cmocka_unit_test(test_append_grows_and_keeps_content),
        cmocka_unit_test(test_reserve_points_at_free_space),
        cmocka_unit_test(test_printf_appends_formatted_text),
        cmocka_unit_test(test_consume_drops_prefix),
        cmocka_unit_test(test_fixed_width_writers_are_little_endian),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
