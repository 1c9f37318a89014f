/* Unit tests for dict: the chained hash table under the keyspace, hashes
 * and sets. Growth and shrinking are incremental, so most tests interleave
 * operations with a rehash in progress; the scan test checks Redis's SCAN
 * guarantee (every entry present for a whole scan is returned) while
 * entries are added and removed between steps, in both directions. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dict.h"

/* Values are malloc'd ints freed by free_counted, so a leak, a double free
 * (ASan) or a free of a value the caller took back shows up. */
static int freed;

static void free_counted(void *v)
{
    freed++;
    free(v);
}

static int *ival(int x)
{
    int *p = malloc(sizeof *p);
    assert_non_null(p);
    *p = x;
    return p;
}

static size_t key_of(char *out, const char *prefix, size_t i)
{
    return (size_t)snprintf(out, 40, "%s:%zu", prefix, i);
}

static int setup(void **state)
{
    freed = 0;
    *state = dict_new(free_counted);
    return 0;
}

static int teardown(void **state)
{
    dict_free(*state);
    return 0;
}

static int value_at(struct dict *d, const void *key, size_t klen)
{
    struct dict_entry *e = dict_find(d, key, klen);
    assert_non_null(e);
    return *(int *)e->v;
}

static void test_empty(void **state)
{
    struct dict *d = *state;
    assert_int_equal(dict_size(d), 0);
    assert_null(dict_find(d, "k", 1));
    assert_null(dict_find(d, "", 0));
    assert_false(dict_del(d, "k", 1));
    void *v = (void *)1;
    assert_false(dict_take(d, "k", 1, &v));
    assert_null(dict_random(d, 12345));
    assert_int_equal(dict_scan(d, 0, NULL, NULL), 0);
    dict_free(NULL); /* allowed */
}

static void test_set_add_find_take_del(void **state)
{
    struct dict *d = *state;
    struct dict_entry *e = dict_set(d, "a", 1, ival(1));
    assert_non_null(e);
    assert_int_equal(e->klen, 1);
    assert_memory_equal(e->key, "a", 2); /* NUL-terminated */
    assert_int_equal(dict_size(d), 1);
    assert_int_equal(value_at(d, "a", 1), 1);

    /* dict_set replaces, freeing the old value. */
    dict_set(d, "a", 1, ival(2));
    assert_int_equal(freed, 1);
    assert_int_equal(dict_size(d), 1);
    assert_int_equal(value_at(d, "a", 1), 2);

    /* Setting the same pointer again does not free it. */
    e = dict_find(d, "a", 1);
    dict_set(d, "a", 1, e->v);
    assert_int_equal(freed, 1);
    assert_int_equal(value_at(d, "a", 1), 2);

    /* dict_add refuses an existing key and leaves v to the caller. */
    int *mine = ival(3);
    assert_null(dict_add(d, "a", 1, mine));
    assert_int_equal(freed, 1);
    assert_int_equal(value_at(d, "a", 1), 2);
    e = dict_add(d, "b", 1, mine);
    assert_non_null(e);
    assert_ptr_equal(e->v, mine);
    assert_int_equal(dict_size(d), 2);

    /* dict_take hands the value back without freeing it. */
    void *v = NULL;
    assert_true(dict_take(d, "b", 1, &v));
    assert_ptr_equal(v, mine);
    assert_int_equal(freed, 1);
    assert_null(dict_find(d, "b", 1));
    assert_false(dict_take(d, "b", 1, &v));
    free(v);

    /* dict_del frees. */
    assert_true(dict_del(d, "a", 1));
    assert_int_equal(freed, 2);
    assert_false(dict_del(d, "a", 1));
    assert_int_equal(dict_size(d), 0);

    /* The empty key is a key like any other. */
    dict_set(d, "", 0, ival(7));
    assert_int_equal(value_at(d, "", 0), 7);
    assert_int_equal(dict_size(d), 1);
}

static void test_null_values_not_owned(void **state)
{
    (void)state;
    struct dict *set = dict_new(NULL); /* a set: member -> NULL */
    int x = 5;
    assert_non_null(dict_add(set, "m", 1, NULL));
    assert_non_null(dict_set(set, "p", 1, &x)); /* never freed */
    assert_true(dict_del(set, "p", 1));
    assert_null(dict_find(set, "p", 1));
    assert_non_null(dict_find(set, "m", 1));
    assert_null(dict_find(set, "m", 1)->v);
    dict_free(set);
}

static void test_binary_keys(void **state)
{
    struct dict *d = *state;
    static const char k1[] = {'a', '\0', 'b'};
    static const char k2[] = {'a', '\0', 'c'};
    static const char k3[] = {'a'};
    static const char k4[] = {'\0'};
    static const char k5[] = {'\0', '\0'};
    static const char k6[] = {'\xff', '\r', '\n', '\0'};
    const char *keys[] = {k1, k2, k3, k4, k5, k6, ""};
    size_t lens[] = {3, 3, 1, 1, 2, 4, 0};
    size_t n = sizeof lens / sizeof lens[0];
    for (size_t i = 0; i < n; i++) {
        assert_non_null(dict_add(d, keys[i], lens[i], ival((int)i)));
    }
    assert_int_equal(dict_size(d), n);
    for (size_t i = 0; i < n; i++) {
        struct dict_entry *e = dict_find(d, keys[i], lens[i]);
        assert_non_null(e);
        assert_int_equal(*(int *)e->v, (int)i);
        assert_int_equal(e->klen, lens[i]);
        assert_memory_equal(e->key, keys[i], lens[i]);
        assert_int_equal(e->key[lens[i]], '\0');
    }
    /* A prefix up to the NUL is a different key. */
    assert_null(dict_find(d, "a\0", 2));
    assert_true(dict_del(d, k1, 3));
    assert_null(dict_find(d, k1, 3));
    assert_int_equal(value_at(d, k2, 3), 1);
    assert_int_equal(value_at(d, k3, 1), 2);
}

/* Insert n keys one by one (checking a sample of the earlier ones at every
 * step, so lookups run mid-rehash), then delete all but a few, checking the
 * survivors while the table shrinks. */
static void test_grow_and_shrink(void **state)
{
    struct dict *d = *state;
    enum { N = 50000 };
    char k[40];
    for (size_t i = 0; i < N; i++) {
        size_t kl = key_of(k, "g", i);
        assert_non_null(dict_add(d, k, kl, ival((int)i)));
        assert_int_equal(dict_size(d), i + 1);
        size_t j = (i * 7919) % (i + 1);
        kl = key_of(k, "g", j);
        assert_int_equal(value_at(d, k, kl), (int)j);
    }
    for (size_t i = 0; i < N; i++) {
        size_t kl = key_of(k, "g", i);
        assert_int_equal(value_at(d, k, kl), (int)i);
    }
    for (size_t i = 0; i < N; i++) {
        if (i % 1000 == 0) {
            continue;
        }
        size_t kl = key_of(k, "g", i);
        assert_true(dict_del(d, k, kl));
        size_t j = (i / 1000) * 1000;
        kl = key_of(k, "g", j);
        assert_int_equal(value_at(d, k, kl), (int)j);
    }
    assert_int_equal(dict_size(d), N / 1000);
    assert_int_equal(freed, N - N / 1000);
    for (size_t i = 0; i < N; i++) {
        size_t kl = key_of(k, "g", i);
        struct dict_entry *e = dict_find(d, k, kl);
        if (i % 1000 == 0) {
            assert_non_null(e);
            assert_int_equal(*(int *)e->v, (int)i);
        } else {
            assert_null(e);
        }
    }
    /* Empty it entirely, then use it again. */
    for (size_t i = 0; i < N; i += 1000) {
        size_t kl = key_of(k, "g", i);
        assert_true(dict_del(d, k, kl));
    }
    assert_int_equal(dict_size(d), 0);
    assert_int_equal(dict_scan(d, 0, NULL, NULL), 0);
    dict_set(d, "again", 5, ival(1));
    assert_int_equal(value_at(d, "again", 5), 1);
}

/* Entry pointers stay valid while the table rehashes around them. */
static void test_entries_stable_across_rehash(void **state)
{
    struct dict *d = *state;
    struct dict_entry *first = dict_set(d, "first", 5, ival(-1));
    char k[40];
    for (size_t i = 0; i < 5000; i++) {
        dict_set(d, k, key_of(k, "s", i), ival((int)i));
    }
    assert_ptr_equal(dict_find(d, "first", 5), first);
    for (size_t i = 0; i < 5000; i++) {
        dict_del(d, k, key_of(k, "s", i));
    }
    assert_ptr_equal(dict_find(d, "first", 5), first);
    assert_int_equal(*(int *)first->v, -1);
}

static void test_clear_and_reserve(void **state)
{
    struct dict *d = *state;
    char k[40];
    for (size_t i = 0; i < 1000; i++) {
        dict_set(d, k, key_of(k, "c", i), ival((int)i));
    }
    dict_clear(d);
    assert_int_equal(freed, 1000);
    assert_int_equal(dict_size(d), 0);
    assert_null(dict_find(d, "c:1", 3));

    dict_reserve(d, 3000);
    for (size_t i = 0; i < 3000; i++) {
        dict_set(d, k, key_of(k, "r", i), ival((int)i));
    }
    for (size_t i = 0; i < 3000; i++) {
        size_t kl = key_of(k, "r", i);
        assert_int_equal(value_at(d, k, kl), (int)i);
    }
    /* Reserve on a non-empty dict is a no-op. */
    dict_reserve(d, 1000000);
    assert_int_equal(dict_size(d), 3000);
    assert_int_equal(value_at(d, "r:7", 3), 7);
}

struct count_visit {
    unsigned char *seen; /* per index of "<prefix>:<index>" keys */
    size_t n;
    size_t visits;
};

static void count_visit(void *arg, const struct dict_entry *e)
{
    struct count_visit *cv = arg;
    cv->visits++;
    const char *colon = memchr(e->key, ':', e->klen);
    assert_non_null(colon);
    if (e->key[0] != 'p') {
        return; /* a transient key */
    }
    size_t i = (size_t)strtoul(colon + 1, NULL, 10);
    assert_true(i < cv->n);
    if (cv->seen[i] < 255) {
        cv->seen[i]++;
    }
}

static void test_foreach_visits_each_once(void **state)
{
    struct dict *d = *state;
    enum { N = 3000 };
    char k[40];
    unsigned char seen[N] = {0};
    /* Stop part-way through a rehash: dict_foreach must see both tables. */
    for (size_t i = 0; i < N; i++) {
        dict_set(d, k, key_of(k, "p", i), ival((int)i));
    }
    struct count_visit cv = {seen, N, 0};
    dict_foreach(d, count_visit, &cv);
    assert_int_equal(cv.visits, N);
    for (size_t i = 0; i < N; i++) {
        assert_int_equal(seen[i], 1);
    }
}

/* One whole scan of d, mutating between steps with step_fn. Returns the
 * number of steps. */
static size_t scan_with(struct dict *d, struct count_visit *cv,
                        void (*step_fn)(struct dict *, size_t))
{
    uint64_t cursor = 0;
    size_t steps = 0;
    do {
        cursor = dict_scan(d, cursor, count_visit, cv);
        step_fn(d, steps++);
        assert_true(steps < 10000000);
    } while (cursor != 0);
    return steps;
}

/* Between the first 200 scan steps: add transient keys, forcing the table
 * to grow from 1024 to 16384 buckets (then stop, or the scan never ends). */
static void grow_step(struct dict *d, size_t step)
{
    char k[40];
    if (step >= 200) {
        return;
    }
    for (size_t i = 0; i < 40; i++) {
        dict_set(d, k, key_of(k, "t", step * 40 + i), ival(0));
    }
}

static size_t transient_left;

/* Between scan steps: delete transient keys, forcing the table to shrink
 * (every dict_del also moves a rehash step forward). */
static void shrink_step(struct dict *d, size_t step)
{
    (void)step;
    char k[40];
    for (size_t i = 0; i < 200 && transient_left > 0; i++) {
        transient_left--;
        assert_true(dict_del(d, k, key_of(k, "t", transient_left)));
    }
}

/* Between scan steps: one lookup, so a rehash in progress moves slowly and
 * many steps see two tables. */
static void lookup_step(struct dict *d, size_t step)
{
    char k[40];
    dict_find(d, k, key_of(k, "p", step));
}

static void assert_all_seen(const unsigned char *seen, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (seen[i] == 0) {
            fail_msg("key p:%zu present for the whole scan was not visited", i);
        }
    }
}

static void test_scan_covers_stable_keys_while_growing(void **state)
{
    struct dict *d = *state;
    enum { P = 500 };
    char k[40];
    for (size_t i = 0; i < P; i++) {
        dict_set(d, k, key_of(k, "p", i), ival((int)i));
    }
    unsigned char seen[P] = {0};
    struct count_visit cv = {seen, P, 0};
    size_t steps = scan_with(d, &cv, grow_step);
    assert_all_seen(seen, P);
    /* The table grew several times during the scan. */
    assert_true(dict_size(d) > 8 * P);
    assert_true(steps > 1);
}

static void test_scan_covers_stable_keys_while_shrinking(void **state)
{
    struct dict *d = *state;
    enum { P = 300, T = 60000 };
    char k[40];
    for (size_t i = 0; i < T; i++) {
        dict_set(d, k, key_of(k, "t", i), ival(0));
    }
    for (size_t i = 0; i < P; i++) {
        dict_set(d, k, key_of(k, "p", i), ival((int)i));
    }
    transient_left = T;
    unsigned char seen[P] = {0};
    struct count_visit cv = {seen, P, 0};
    scan_with(d, &cv, shrink_step);
    assert_all_seen(seen, P);
    assert_int_equal(dict_size(d), P);
}

static void test_scan_mid_rehash_and_no_duplicates_when_static(void **state)
{
    struct dict *d = *state;
    enum { P = 4097 };
    char k[40];
    /* P keys: the last insert (used == 4096) starts a grow that lookup_step
     * advances one bucket at a time while the scan runs. */
    for (size_t i = 0; i < P; i++) {
        dict_set(d, k, key_of(k, "p", i), ival((int)i));
    }
    unsigned char seen[P] = {0};
    struct count_visit cv = {seen, P, 0};
    scan_with(d, &cv, lookup_step);
    assert_all_seen(seen, P);

    /* Without mutation, a scan returns every key exactly once. */
    memset(seen, 0, sizeof seen);
    cv.visits = 0;
    uint64_t cursor = 0;
    do {
        cursor = dict_scan(d, cursor, count_visit, &cv);
    } while (cursor != 0);
    assert_int_equal(cv.visits, P);
    for (size_t i = 0; i < P; i++) {
        assert_int_equal(seen[i], 1);
    }
}

static void test_random_returns_entries(void **state)
{
    struct dict *d = *state;
    enum { N = 64 };
    char k[40];
    for (size_t i = 0; i < N; i++) {
        dict_set(d, k, key_of(k, "p", i), ival((int)i));
    }
    unsigned char seen[N] = {0};
    uint64_t r = 0x12345678;
    for (size_t i = 0; i < 20000; i++) {
        r = r * 6364136223846793005ull + 1442695040888963407ull;
        struct dict_entry *e = dict_random(d, r);
        assert_non_null(e);
        /* The entry is in the dict. */
        assert_ptr_equal(dict_find(d, e->key, e->klen), e);
        seen[*(int *)e->v] = 1;
    }
    /* With a small dict, every entry comes up. */
    for (size_t i = 0; i < N; i++) {
        assert_int_equal(seen[i], 1);
    }
    /* Same r, same entry (no hidden state). */
    assert_ptr_equal(dict_random(d, 42), dict_random(d, 42));
    /* While rehashing (grow, then shrink). */
    for (size_t i = 0; i < 2000; i++) {
        dict_set(d, k, key_of(k, "t", i), ival(0));
        struct dict_entry *e = dict_random(d, r + i);
        assert_non_null(e);
        assert_ptr_equal(dict_find(d, e->key, e->klen), e);
    }
    for (size_t i = 0; i < 2000; i++) {
        dict_del(d, k, key_of(k, "t", i));
        struct dict_entry *e = dict_random(d, r ^ i);
        assert_non_null(e);
        assert_ptr_equal(dict_find(d, e->key, e->klen), e);
    }
    /* A single entry is always the one returned. */
    struct dict *one = dict_new(NULL);
    dict_add(one, "x", 1, NULL);
    for (uint64_t i = 0; i < 100; i++) {
        struct dict_entry *e = dict_random(one, i * 0x9E3779B97F4A7C15ull);
        assert_non_null(e);
        assert_memory_equal(e->key, "x", 1);
    }
    dict_free(one);
}

static void test_hash_is_seeded_and_spreads(void **state)
{
    (void)state;
    assert_int_equal(dict_hash("abc", 3, 1), dict_hash("abc", 3, 1));
    assert_true(dict_hash("abc", 3, 1) != dict_hash("abc", 3, 2));
    assert_true(dict_hash("abc", 3, 1) != dict_hash("abd", 3, 1));
    assert_true(dict_hash("a\0", 2, 1) != dict_hash("a", 1, 1));
    assert_true(dict_hash("", 0, 1) != dict_hash("\0", 1, 1));
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_empty),
        T(test_set_add_find_take_del),
        T(test_null_values_not_owned),
        T(test_binary_keys),
        T(test_grow_and_shrink),
        T(test_entries_stable_across_rehash),
        T(test_clear_and_reserve),
        T(test_foreach_visits_each_once),
        T(test_scan_covers_stable_keys_while_growing),
        T(test_scan_covers_stable_keys_while_shrinking),
        T(test_scan_mid_rehash_and_no_duplicates_when_static),
        T(test_random_returns_entries),
        T(test_hash_is_seeded_and_spreads),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
