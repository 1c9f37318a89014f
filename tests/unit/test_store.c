/* Unit tests for store: a binary-safe dictionary that grows and shrinks by
 * incremental rehashing. Every test runs lookups while a rehash is in
 * progress, since that is where the two-table logic can go wrong. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

#define BIG 200000

static int setup(void **state)
{
    *state = store_new();
    return 0;
}

static int teardown(void **state)
{
    store_free(*state);
    return 0;
}

static struct value *str(const char *s)
{
    return value_new_string(s, strlen(s));
}

static void expect_str(const struct value *v, const char *s)
{
    assert_non_null(v);
    assert_int_equal(v->type, VALUE_STRING);
    assert_int_equal(v->str.len, strlen(s));
    assert_memory_equal(v->str.p, s, v->str.len);
}

static size_t key_of(char *out, size_t i)
{
    return (size_t)snprintf(out, 32, "key:%zu", i);
}

static void test_empty_store(void **state)
{
    struct store *s = *state;
    assert_int_equal(store_size(s), 0);
    assert_null(store_get(s, "k", 1));
    assert_null(store_get(s, "", 0));
    assert_false(store_del(s, "k", 1));
    assert_null(store_take(s, "k", 1));
    assert_int_equal(store_size(s), 0);
    store_free(NULL); /* allowed, does nothing */
}

static void test_set_get_del(void **state)
{
    struct store *s = *state;
    store_set(s, "foo", 3, str("bar"));
    assert_int_equal(store_size(s), 1);
    expect_str(store_get(s, "foo", 3), "bar");
    assert_null(store_get(s, "fo", 2));
    assert_null(store_get(s, "fooo", 4));
    assert_true(store_del(s, "foo", 3));
    assert_false(store_del(s, "foo", 3));
    assert_null(store_get(s, "foo", 3));
    assert_int_equal(store_size(s), 0);
}

/* Replacing a key frees the old value (ASan checks) and keeps the size. */
static void test_set_replaces_value(void **state)
{
    struct store *s = *state;
    store_set(s, "k", 1, str("one"));
    store_set(s, "k", 1, str("two"));
    assert_int_equal(store_size(s), 1);
    expect_str(store_get(s, "k", 1), "two");
    struct value *list = value_new_list();
    value_list_push(list, false, "x", 1);
    store_set(s, "k", 1, list); /* a different type replaces too */
    assert_ptr_equal(store_get(s, "k", 1), list);
    store_set(s, "k", 1, list); /* same pointer again: no double free */
    assert_ptr_equal(store_get(s, "k", 1), list);
    assert_int_equal(store_size(s), 1);
}

static void test_take_hands_value_back(void **state)
{
    struct store *s = *state;
    struct value *v = str("val");
    store_set(s, "k", 1, v);
    struct value *got = store_take(s, "k", 1);
    assert_ptr_equal(got, v);
    assert_int_equal(store_size(s), 0);
    assert_null(store_get(s, "k", 1));
    assert_null(store_take(s, "k", 1));
    expect_str(got, "val"); /* still alive: the caller owns it */
    value_free(got);
}

/* Keys are byte strings: NULs are ordinary bytes and a prefix is a
 * different key. */
static void test_binary_keys(void **state)
{
    struct store *s = *state;
    static const struct {
        const char *k;
        size_t len;
        const char *v;
    } keys[] = {
        {"", 0, "empty"},      {"\0", 1, "nul"},     {"\0\0", 2, "nulnul"},
        {"a", 1, "a"},         {"a\0", 2, "a0"},     {"a\0b", 3, "a0b"},
        {"a\0c", 3, "a0c"},    {"\0a", 2, "0a"},     {"a\r\nb", 4, "crlf"},
        {"\xff\xfe", 2, "hi"}, {"12345678", 8, "8"}, {"123456789", 9, "9"},
    };
    size_t n = sizeof keys / sizeof keys[0];
    for (size_t i = 0; i < n; i++) {
        store_set(s, keys[i].k, keys[i].len, str(keys[i].v));
    }
    assert_int_equal(store_size(s), n);
    for (size_t i = 0; i < n; i++) {
        expect_str(store_get(s, keys[i].k, keys[i].len), keys[i].v);
    }
    assert_true(store_del(s, "a\0", 2));
    assert_null(store_get(s, "a\0", 2));
    expect_str(store_get(s, "a", 1), "a");
    expect_str(store_get(s, "a\0b", 3), "a0b");
    assert_true(store_del(s, "", 0));
    expect_str(store_get(s, "\0", 1), "nul");
    assert_int_equal(store_size(s), n - 2);
}

struct visit {
    unsigned char *seen; /* one flag per key index */
    size_t calls;
    size_t max;
};

/* Keys are "key:<i>" with a value "v<i>"; each must be seen once. */
static void visit_key(void *arg, const char *key, size_t klen,
                      const struct value *v)
{
    struct visit *vis = arg;
    char buf[32];
    vis->calls++;
    assert_true(klen > 4 && klen < sizeof buf);
    memcpy(buf, key, klen);
    buf[klen] = '\0';
    size_t i = strtoul(buf + 4, NULL, 10);
    assert_true(i < vis->max);
    assert_int_equal(vis->seen[i], 0);
    vis->seen[i] = 1;
    char want[32];
    snprintf(want, sizeof want, "v%zu", i);
    expect_str(v, want);
}

static void expect_visits(struct store *s, size_t max, size_t want_calls,
                          unsigned char *seen)
{
    struct visit vis = {seen, 0, max};
    memset(seen, 0, max);
    store_foreach(s, visit_key, &vis);
    assert_int_equal(vis.calls, want_calls);
}

/* Grow to BIG keys checking lookups at every step (old and new keys, many
 * while a rehash is under way), then shrink back by deleting, then grow
 * again in the same store. */
static void test_grow_and_shrink(void **state)
{
    struct store *s = *state;
    unsigned char *seen = malloc(BIG);
    char k[32], v[32];
    uint64_t x = 88172645463325252ull;
    for (int round = 0; round < 2; round++) {
        for (size_t i = 0; i < BIG; i++) {
            size_t kl = key_of(k, i);
            int vl = snprintf(v, sizeof v, "v%zu", i);
            store_set(s, k, kl, value_new_string(v, (size_t)vl));
            assert_int_equal(store_size(s), i + 1);
            if (i % 7 == 0) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                size_t j = (size_t)(x % (i + 1));
                kl = key_of(k, j);
                snprintf(v, sizeof v, "v%zu", j);
                expect_str(store_get(s, k, kl), v);
                kl = key_of(k, i + 1);
                assert_null(store_get(s, k, kl));
            }
        }
        expect_visits(s, BIG, BIG, seen);
        for (size_t i = 0; i < BIG; i++) {
            assert_int_equal(seen[i], 1);
        }
        /* Delete the even keys, then the odd ones (descending). */
        for (size_t i = 0; i < BIG; i += 2) {
            size_t kl = key_of(k, i);
            assert_true(store_del(s, k, kl));
            assert_false(store_del(s, k, kl));
        }
        assert_int_equal(store_size(s), BIG / 2);
        for (size_t i = 0; i < BIG; i++) {
            size_t kl = key_of(k, i);
            struct value *got = store_get(s, k, kl);
            if (i % 2 == 0) {
                assert_null(got);
            } else {
                snprintf(v, sizeof v, "v%zu", i);
                expect_str(got, v);
            }
        }
        expect_visits(s, BIG, BIG / 2, seen);
        for (size_t i = BIG - 1; i < BIG; i -= 2) { /* stops on wrap */
            size_t kl = key_of(k, i);
            assert_true(store_del(s, k, kl));
            if (i % 11 == 1 && i > 1) {
                kl = key_of(k, i - 2);
                snprintf(v, sizeof v, "v%zu", i - 2);
                expect_str(store_get(s, k, kl), v);
            }
        }
        assert_int_equal(store_size(s), 0);
        expect_visits(s, BIG, 0, seen);
    }
    free(seen);
}

/* A pointer from store_get survives any amount of rehashing. */
static void test_value_pointers_survive_rehash(void **state)
{
    struct store *s = *state;
    store_set(s, "anchor", 6, str("a"));
    struct value *anchor = store_get(s, "anchor", 6);
    char k[32];
    for (size_t i = 0; i < 5000; i++) {
        store_set(s, k, key_of(k, i), str("x"));
        assert_ptr_equal(store_get(s, "anchor", 6), anchor);
    }
    for (size_t i = 0; i < 5000; i++) {
        assert_true(store_del(s, k, key_of(k, i)));
        assert_ptr_equal(store_get(s, "anchor", 6), anchor);
    }
    expect_str(anchor, "a");
}

static void test_clear(void **state)
{
    struct store *s = *state;
    char k[32];
    for (size_t i = 0; i < 1000; i++) {
        store_set(s, k, key_of(k, i), str("x"));
    }
    store_clear(s); /* frees everything, possibly mid-rehash */
    assert_int_equal(store_size(s), 0);
    assert_null(store_get(s, k, key_of(k, 5)));
    unsigned char seen[1];
    expect_visits(s, 1, 0, seen);
    store_set(s, "k", 1, str("after"));
    expect_str(store_get(s, "k", 1), "after");
    assert_int_equal(store_size(s), 1);
    store_clear(s);
    store_clear(s); /* clearing an empty store is fine */
    assert_int_equal(store_size(s), 0);
}

/* Random set/del/take/get against a flag array, on a key space small
 * enough that the table grows and shrinks many times over. */
static void test_matches_model(void **state)
{
    struct store *s = *state;
    enum { NKEYS = 3000 };
    static int model[NKEYS]; /* 0 absent, else the value's tag */
    memset(model, 0, sizeof model);
    size_t live = 0;
    uint64_t x = 0xDEADBEEFCAFEull;
    char k[32], v[32];
    for (int step = 0; step < 400000; step++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        /* Bias the workload in phases: fill up, then drain. */
        int filling = (step / 40000) % 2 == 0;
        size_t i = (size_t)((x >> 8) % NKEYS);
        size_t kl = key_of(k, i);
        unsigned op = (unsigned)(x % 10);
        if (op < (filling ? 6u : 2u)) {
            int tag = step + 1;
            snprintf(v, sizeof v, "%d", tag);
            store_set(s, k, kl, str(v));
            live += model[i] == 0;
            model[i] = tag;
        } else if (op < 8) {
            bool existed = model[i] != 0;
            if (op % 2) {
                assert_int_equal(store_del(s, k, kl), existed);
            } else {
                struct value *got = store_take(s, k, kl);
                assert_int_equal(got != NULL, existed);
                if (got) {
                    snprintf(v, sizeof v, "%d", model[i]);
                    expect_str(got, v);
                    value_free(got);
                }
            }
            live -= existed;
            model[i] = 0;
        } else {
            struct value *got = store_get(s, k, kl);
            if (model[i] == 0) {
                assert_null(got);
            } else {
                snprintf(v, sizeof v, "%d", model[i]);
                expect_str(got, v);
            }
        }
        assert_int_equal(store_size(s), live);
    }
    for (size_t i = 0; i < NKEYS; i++) {
        size_t kl = key_of(k, i);
        struct value *got = store_get(s, k, kl);
        assert_int_equal(got != NULL, model[i] != 0);
    }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static void test_hash_properties(void **state)
{
    (void)state;
    assert_true(store_hash("abc", 3, 1) == store_hash("abc", 3, 1));
    assert_true(store_hash("abc", 3, 1) != store_hash("abc", 3, 2));
    assert_true(store_hash("a", 1, 0) != store_hash("a\0", 2, 0));
    assert_true(store_hash("", 0, 0) != store_hash("\0", 1, 0));
    assert_true(store_hash("12345678", 8, 0) != store_hash("123456789", 9, 0));
    /* The hash reads exactly n bytes: an unaligned, unterminated span. */
    char buf[17] = "xabcdefghijklmno";
    assert_true(store_hash(buf + 1, 9, 7) == store_hash("abcdefghi", 9, 7));
    /* 20000 sequential keys: no full 64-bit collision, and the low 10 bits
     * (bucket index of a 1024-slot table) spread over most buckets. */
    enum { N = 20000 };
    uint64_t *h = malloc(N * sizeof *h);
    unsigned char used[1024] = {0};
    char k[32];
    for (size_t i = 0; i < N; i++) {
        h[i] = store_hash(k, key_of(k, i), 0x1234);
        used[h[i] & 1023] = 1;
    }
    size_t buckets = 0;
    for (size_t i = 0; i < 1024; i++) {
        buckets += used[i];
    }
    assert_true(buckets > 1000);
    qsort(h, N, sizeof *h, cmp_u64);
    for (size_t i = 1; i < N; i++) {
        assert_true(h[i - 1] != h[i]);
    }
    free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_empty_store, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_get_del, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_replaces_value, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_take_hands_value_back, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_binary_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_grow_and_shrink, setup, teardown),
        cmocka_unit_test_setup_teardown(test_value_pointers_survive_rehash,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_clear, setup, teardown),
        cmocka_unit_test_setup_teardown(test_matches_model, setup, teardown),
        cmocka_unit_test(test_hash_properties),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
