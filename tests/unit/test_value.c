/* Unit tests for value: binary-safe strings, and lists as a ring buffer
 * checked against a plain-array model through wraps and growth. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "value.h"

/* ---- strings ---------------------------------------------------------- */

static void expect_strval(const struct value *v, const void *p, size_t len)
{
    assert_int_equal(v->type, VALUE_STRING);
    assert_int_equal(v->str.len, len);
    assert_memory_equal(v->str.p, p, len);
    assert_int_equal(v->str.p[len], '\0'); /* a NUL always follows */
}

static void test_string_new_is_binary_safe(void **state)
{
    (void)state;
    struct value *v = value_new_string("a\0b\r\n", 5);
    expect_strval(v, "a\0b\r\n", 5);
    value_free(v);
    v = value_new_string("", 0);
    expect_strval(v, "", 0);
    value_free(v);
    value_free(NULL); /* allowed, does nothing */
}

static void test_string_set_replaces_bytes(void **state)
{
    (void)state;
    struct value *v = value_new_string("hello", 5);
    value_string_set(v, "hi", 2); /* shorter */
    expect_strval(v, "hi", 2);
    value_string_set(v, "a much longer value\0x", 21); /* grows */
    expect_strval(v, "a much longer value\0x", 21);
    value_string_set(v, "", 0);
    expect_strval(v, "", 0);
    value_string_set(v, "again", 5);
    expect_strval(v, "again", 5);
    value_free(v);
}

static void test_string_append_accumulates(void **state)
{
    (void)state;
    struct value *v = value_new_string("", 0);
    char want[10000];
    size_t n = 0;
    while (n < sizeof want) {
        char chunk[7];
        size_t k = n % 7 + 1;
        if (n + k > sizeof want) {
            k = sizeof want - n;
        }
        for (size_t i = 0; i < k; i++) {
            chunk[i] = (char)(n + i); /* includes NUL bytes */
        }
        value_string_append(v, chunk, k);
        memcpy(want + n, chunk, k);
        n += k;
        expect_strval(v, want, n);
    }
    value_string_append(v, "", 0);
    expect_strval(v, want, n);
    value_free(v);
}

/* ---- lists: basics ---------------------------------------------------- */

static void expect_elem(const struct lelem *e, const char *s)
{
    assert_non_null(e);
    assert_int_equal(e->len, strlen(s));
    assert_memory_equal(e->data, s, e->len);
    assert_int_equal(e->data[e->len], '\0');
}

/* Assert the list holds exactly the NULL-terminated strings in want. */
static void expect_list(const struct value *v, const char *const *want)
{
    size_t n = 0;
    while (want[n] != NULL) {
        n++;
    }
    assert_int_equal(v->type, VALUE_LIST);
    assert_int_equal(value_list_len(v), n);
    for (size_t i = 0; i < n; i++) {
        expect_elem(value_list_at(v, i), want[i]);
    }
}

/* Build a list from strings; `rotate` pops from the head and pushes back at
 * the tail first so that element 0 is not in slot 0 (the ring wraps). */
static struct value *make_list(const char *const *items, int rotate)
{
    struct value *v = value_new_list();
    for (int i = 0; i < rotate; i++) {
        value_list_push(v, false, "pad", 3);
    }
    for (int i = 0; i < rotate; i++) {
        free(value_list_pop(v, true));
    }
    for (size_t i = 0; items[i] != NULL; i++) {
        value_list_push(v, false, items[i], strlen(items[i]));
    }
    return v;
}

static void test_list_empty(void **state)
{
    (void)state;
    struct value *v = value_new_list();
    assert_int_equal(v->type, VALUE_LIST);
    assert_int_equal(value_list_len(v), 0);
    assert_null(value_list_pop(v, true));
    assert_null(value_list_pop(v, false));
    value_free(v);
}

static void test_list_push_pop_both_ends(void **state)
{
    (void)state;
    struct value *v = value_new_list();
    value_list_push(v, false, "b", 1); /* RPUSH b */
    value_list_push(v, true, "a", 1);  /* LPUSH a */
    value_list_push(v, false, "c", 1); /* RPUSH c */
    value_list_push(v, true, "", 0);   /* LPUSH "" */
    expect_list(v, (const char *[]){"", "a", "b", "c", NULL});

    struct lelem *e = value_list_pop(v, true);
    expect_elem(e, "");
    free(e);
    e = value_list_pop(v, false);
    expect_elem(e, "c");
    free(e);
    expect_list(v, (const char *[]){"a", "b", NULL});
    e = value_list_pop(v, false);
    expect_elem(e, "b");
    free(e);
    e = value_list_pop(v, false);
    expect_elem(e, "a");
    free(e);
    assert_null(value_list_pop(v, false));
    assert_int_equal(value_list_len(v), 0);
    value_free(v);
}

/* Pushing far past the initial capacity at both ends keeps the order. */
static void test_list_growth_keeps_order(void **state)
{
    (void)state;
    struct value *v = value_new_list();
    for (int i = 0; i < 1000; i++) {
        char s[16];
        int n = snprintf(s, sizeof s, "%d", i);
        value_list_push(v, i % 2 == 0, s, (size_t)n);
    }
    /* LPUSHed evens come out descending, then RPUSHed odds ascending. */
    assert_int_equal(value_list_len(v), 1000);
    for (size_t i = 0; i < 1000; i++) {
        int want = i < 500 ? 998 - 2 * (int)i : 2 * ((int)i - 500) + 1;
        char s[16];
        snprintf(s, sizeof s, "%d", want);
        expect_elem(value_list_at(v, i), s);
    }
    value_free(v); /* frees every element (ASan checks) */
}

static void test_list_binary_elements(void **state)
{
    (void)state;
    struct value *v = value_new_list();
    value_list_push(v, false, "a\0b", 3);
    value_list_push(v, false, "a\0c", 3);
    struct lelem *e = value_list_at(v, 0);
    assert_int_equal(e->len, 3);
    assert_memory_equal(e->data, "a\0b", 3);
    assert_int_equal(value_list_remove(v, 0, "a\0c", 3), 1);
    assert_int_equal(value_list_remove(v, 0, "a", 1), 0);
    assert_int_equal(value_list_len(v), 1);
    value_free(v);
}

static void test_list_set_replaces_one_element(void **state)
{
    (void)state;
    for (int rotate = 0; rotate < 8; rotate++) {
        struct value *v =
            make_list((const char *[]){"a", "b", "c", "d", "e", NULL}, rotate);
        value_list_set(v, 0, "first", 5);
        value_list_set(v, 4, "", 0);
        value_list_set(v, 2, "a longer element than before", 28);
        expect_list(v, (const char *[]){"first", "b",
                                        "a longer element than before", "d", "",
                                        NULL});
        value_free(v);
    }
}

static void test_lelem_new_copies(void **state)
{
    (void)state;
    char src[4] = {'x', '\0', 'y', 'z'};
    struct lelem *e = lelem_new(src, 4);
    src[0] = 'Q';
    assert_int_equal(e->len, 4);
    assert_memory_equal(e->data, "x\0yz", 4);
    assert_int_equal(e->data[4], '\0');
    free(e);
    e = lelem_new(NULL, 0);
    assert_int_equal(e->len, 0);
    assert_int_equal(e->data[0], '\0');
    free(e);
}

/* ---- lists: remove ---------------------------------------------------- */

static const char *const rm_items[] = {"x", "a", "b", "a", "c",
                                       "a", "a", "d", NULL};

static void test_list_remove_from_head(void **state)
{
    (void)state;
    for (int rotate = 0; rotate < 8; rotate++) {
        struct value *v = make_list(rm_items, rotate);
        assert_int_equal(value_list_remove(v, 2, "a", 1), 2);
        expect_list(v, (const char *[]){"x", "b", "c", "a", "a", "d", NULL});
        assert_int_equal(value_list_remove(v, 1, "a", 1), 1);
        expect_list(v, (const char *[]){"x", "b", "c", "a", "d", NULL});
        assert_int_equal(value_list_remove(v, 100, "a", 1), 1);
        expect_list(v, (const char *[]){"x", "b", "c", "d", NULL});
        assert_int_equal(value_list_remove(v, 1, "a", 1), 0);
        expect_list(v, (const char *[]){"x", "b", "c", "d", NULL});
        /* Still a working ring afterwards. */
        value_list_push(v, true, "h", 1);
        value_list_push(v, false, "t", 1);
        expect_list(v, (const char *[]){"h", "x", "b", "c", "d", "t", NULL});
        value_free(v);
    }
}

static void test_list_remove_from_tail(void **state)
{
    (void)state;
    for (int rotate = 0; rotate < 8; rotate++) {
        struct value *v = make_list(rm_items, rotate);
        assert_int_equal(value_list_remove(v, -2, "a", 1), 2);
        expect_list(v, (const char *[]){"x", "a", "b", "a", "c", "d", NULL});
        assert_int_equal(value_list_remove(v, -1, "a", 1), 1);
        expect_list(v, (const char *[]){"x", "a", "b", "c", "d", NULL});
        assert_int_equal(value_list_remove(v, -100, "a", 1), 1);
        expect_list(v, (const char *[]){"x", "b", "c", "d", NULL});
        assert_int_equal(value_list_remove(v, -1, "zz", 2), 0);
        value_list_push(v, true, "h", 1);
        value_list_push(v, false, "t", 1);
        expect_list(v, (const char *[]){"h", "x", "b", "c", "d", "t", NULL});
        value_free(v);
    }
}

static void test_list_remove_all(void **state)
{
    (void)state;
    for (int rotate = 0; rotate < 8; rotate++) {
        struct value *v = make_list(rm_items, rotate);
        assert_int_equal(value_list_remove(v, 0, "a", 1), 4);
        expect_list(v, (const char *[]){"x", "b", "c", "d", NULL});
        value_free(v);

        v = make_list((const char *[]){"a", "a", "a", NULL}, rotate);
        assert_int_equal(value_list_remove(v, 0, "a", 1), 3);
        assert_int_equal(value_list_len(v), 0);
        value_list_push(v, false, "z", 1);
        expect_list(v, (const char *[]){"z", NULL});
        value_free(v);
    }
}

/* LREM key -9223372036854775808 x reaches value_list_remove with
 * LLONG_MIN: it must remove every match, from the tail. */
static void test_list_remove_extreme_counts(void **state)
{
    (void)state;
    struct value *v = make_list(rm_items, 3);
    assert_int_equal(value_list_remove(v, LLONG_MAX, "a", 1), 4);
    expect_list(v, (const char *[]){"x", "b", "c", "d", NULL});
    value_free(v);
    v = make_list(rm_items, 3);
    assert_int_equal(value_list_remove(v, LLONG_MIN, "a", 1), 4);
    expect_list(v, (const char *[]){"x", "b", "c", "d", NULL});
    value_free(v);
}

static void test_list_remove_empty_element(void **state)
{
    (void)state;
    struct value *v =
        make_list((const char *[]){"", "a", "", "", "b", NULL}, 5);
    assert_int_equal(value_list_remove(v, -1, "", 0), 1);
    expect_list(v, (const char *[]){"", "a", "", "b", NULL});
    assert_int_equal(value_list_remove(v, 0, "", 0), 2);
    expect_list(v, (const char *[]){"a", "b", NULL});
    value_free(v);
}

/* ---- lists: trim ------------------------------------------------------ */

static void test_list_trim(void **state)
{
    (void)state;
    static const char *const items[] = {"0", "1", "2", "3", "4", "5", NULL};
    for (int rotate = 0; rotate < 8; rotate++) {
        struct value *v = make_list(items, rotate);
        value_list_trim(v, 0, 5); /* everything */
        expect_list(v, items);
        value_list_trim(v, 1, 4);
        expect_list(v, (const char *[]){"1", "2", "3", "4", NULL});
        value_list_trim(v, 2, 3);
        expect_list(v, (const char *[]){"3", "4", NULL});
        value_list_trim(v, 1, 1);
        expect_list(v, (const char *[]){"4", NULL});
        value_list_push(v, true, "h", 1);
        value_list_push(v, false, "t", 1);
        expect_list(v, (const char *[]){"h", "4", "t", NULL});
        value_list_trim(v, 1, 0); /* start > stop empties */
        assert_int_equal(value_list_len(v), 0);
        assert_null(value_list_pop(v, true));
        value_list_push(v, false, "again", 5);
        expect_list(v, (const char *[]){"again", NULL});
        value_free(v);
    }
}

/* ---- lists: model-based ----------------------------------------------- */

struct model {
    char **s;
    size_t *len;
    size_t n;
};

static uint64_t rnd(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

static void model_insert(struct model *m, size_t at, const char *s, size_t len)
{
    m->s = realloc(m->s, (m->n + 1) * sizeof *m->s);
    m->len = realloc(m->len, (m->n + 1) * sizeof *m->len);
    memmove(m->s + at + 1, m->s + at, (m->n - at) * sizeof *m->s);
    memmove(m->len + at + 1, m->len + at, (m->n - at) * sizeof *m->len);
    m->s[at] = malloc(len + 1);
    memcpy(m->s[at], s, len);
    m->len[at] = len;
    m->n++;
}

static void model_erase(struct model *m, size_t at)
{
    free(m->s[at]);
    memmove(m->s + at, m->s + at + 1, (m->n - at - 1) * sizeof *m->s);
    memmove(m->len + at, m->len + at + 1, (m->n - at - 1) * sizeof *m->len);
    m->n--;
}

static void expect_model(const struct value *v, const struct model *m)
{
    assert_int_equal(value_list_len(v), m->n);
    for (size_t i = 0; i < m->n; i++) {
        const struct lelem *e = value_list_at(v, i);
        assert_int_equal(e->len, m->len[i]);
        assert_memory_equal(e->data, m->s[i], e->len);
    }
}

/* Random pushes, pops, sets, removes and trims against the model: the ring
 * wraps, grows and compacts in every position. A small alphabet makes
 * removals hit often. */
static void test_list_matches_model(void **state)
{
    (void)state;
    uint64_t x = 0x2545F4914F6CDD1Dull;
    struct value *v = value_new_list();
    struct model m = {0};
    for (int step = 0; step < 200000; step++) {
        char s[2] = {(char)('a' + rnd(&x) % 4), '\0'};
        size_t len = rnd(&x) % 3 == 0 ? 0 : 1;
        unsigned op = (unsigned)(rnd(&x) % 100);
        if (op < 40 || m.n == 0) {
            bool head = rnd(&x) % 2;
            value_list_push(v, head, s, len);
            model_insert(&m, head ? 0 : m.n, s, len);
        } else if (op < 75) {
            bool head = rnd(&x) % 2;
            struct lelem *e = value_list_pop(v, head);
            size_t at = head ? 0 : m.n - 1;
            assert_non_null(e);
            assert_int_equal(e->len, m.len[at]);
            assert_memory_equal(e->data, m.s[at], e->len);
            free(e);
            model_erase(&m, at);
        } else if (op < 85) {
            size_t at = (size_t)(rnd(&x) % m.n);
            value_list_set(v, at, s, len);
            free(m.s[at]);
            m.s[at] = malloc(len + 1);
            memcpy(m.s[at], s, len);
            m.len[at] = len;
        } else if (op < 97) {
            long long count = (long long)(rnd(&x) % 5) - 2;
            size_t want = 0;
            size_t limit =
                count == 0 ? m.n : (size_t)(count < 0 ? -count : count);
            if (count >= 0) {
                for (size_t i = 0; i < m.n && want < limit;) {
                    if (m.len[i] == len && memcmp(m.s[i], s, len) == 0) {
                        model_erase(&m, i);
                        want++;
                    } else {
                        i++;
                    }
                }
            } else {
                for (size_t i = m.n; i-- > 0 && want < limit;) {
                    if (m.len[i] == len && memcmp(m.s[i], s, len) == 0) {
                        model_erase(&m, i);
                        want++;
                    }
                }
            }
            assert_int_equal(value_list_remove(v, count, s, len), want);
        } else {
            size_t start = (size_t)(rnd(&x) % (m.n / 8 + 1));
            size_t stop = m.n - 1 - (size_t)(rnd(&x) % (m.n / 8 + 1));
            if (stop < start) {
                stop = start;
            }
            value_list_trim(v, start, stop);
            while (m.n > stop + 1) {
                model_erase(&m, m.n - 1);
            }
            for (size_t i = 0; i < start; i++) {
                model_erase(&m, 0);
            }
        }
        if (step % 97 == 0 || m.n < 20) {
            expect_model(v, &m);
        }
    }
    expect_model(v, &m);
    value_free(v);
    while (m.n > 0) {
        model_erase(&m, m.n - 1);
    }
    free(m.s);
    free(m.len);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_string_new_is_binary_safe),
        cmocka_unit_test(test_string_set_replaces_bytes),
        cmocka_unit_test(test_string_append_accumulates),
        cmocka_unit_test(test_list_empty),
        cmocka_unit_test(test_list_push_pop_both_ends),
        cmocka_unit_test(test_list_growth_keeps_order),
        cmocka_unit_test(test_list_binary_elements),
        cmocka_unit_test(test_list_set_replaces_one_element),
        cmocka_unit_test(test_lelem_new_copies),
        cmocka_unit_test(test_list_remove_from_head),
        cmocka_unit_test(test_list_remove_from_tail),
        cmocka_unit_test(test_list_remove_all),
        cmocka_unit_test(test_list_remove_empty_element),
        cmocka_unit_test(test_list_trim),
        cmocka_unit_test(test_list_matches_model),
        /* Last: under UBSan a failure here aborts the whole run. */
        cmocka_unit_test(test_list_remove_extreme_counts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
