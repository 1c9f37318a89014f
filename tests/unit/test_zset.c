/* Unit tests for zset: order by (score, member bytes), ranks, deletes,
 * score updates, score and lexicographic ranges, and a long random
 * sequence of inserts, updates and deletes checked against a sorted array
 * after every step batch (order, backward links, spans via rank and at). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "snapshot.h"
#include "store.h"
#include "value.h"
#include "zset.h"

/* Walk z and check every structural invariant; returns the length. */
static size_t check_structure(const struct zset *z)
{
    size_t i = 0;
    const struct zset_node *prev = NULL;
    for (struct zset_node *x = zset_first(z); x != NULL; x = zset_next(x)) {
        assert_ptr_equal(zset_prev(x), prev);
        if (prev != NULL) {
            bool ordered = prev->score < x->score;
            if (prev->score == x->score) {
                size_t n = prev->len < x->len ? prev->len : x->len;
                int c = n > 0 ? memcmp(prev->member, x->member, n) : 0;
                ordered = c < 0 || (c == 0 && prev->len < x->len);
            }
            assert_true(ordered);
        }
        assert_ptr_equal(zset_at(z, i), x);
        assert_ptr_equal(zset_find(z, x->member, x->len), x);
        size_t r;
        assert_true(zset_rank(z, x->member, x->len, &r));
        assert_int_equal(r, i);
        prev = x;
        i++;
    }
    assert_ptr_equal(zset_last(z), prev);
    assert_int_equal(i, zset_len(z));
    assert_null(zset_at(z, i));
    return i;
}

static void expect_order(const struct zset *z, const char *const *members,
                         size_t n)
{
    assert_int_equal(check_structure(z), n);
    struct zset_node *x = zset_first(z);
    for (size_t i = 0; i < n; i++, x = zset_next(x)) {
        assert_int_equal(x->len, strlen(members[i]));
        assert_memory_equal(x->member, members[i], x->len);
    }
}

static void test_empty(void **state)
{
    (void)state;
    struct zset *z = zset_new();
    assert_int_equal(zset_len(z), 0);
    assert_null(zset_first(z));
    assert_null(zset_last(z));
    assert_null(zset_at(z, 0));
    assert_false(zset_del(z, "a", 1));
    size_t r;
    assert_false(zset_rank(z, "a", 1, &r));
    struct zset_range all = {-INFINITY, INFINITY, false, false};
    assert_null(zset_first_in_range(z, &all, NULL));
    assert_null(zset_last_in_range(z, &all, NULL));
    zset_free(z);
    zset_free(NULL);
}

static void test_equal_scores_order_by_member_bytes(void **state)
{
    (void)state;
    struct zset *z = zset_new();
    const char *in[] = {"b", "a", "ab", "B", "", "\xff", "aa", "a\x01"};
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
        assert_int_equal(zset_add(z, in[i], strlen(in[i]), 1.0), ZSET_ADDED);
    }
    /* memcmp over the common length, shorter first; bytes are unsigned. */
    const char *want[] = {"", "B", "a", "a\x01", "aa", "ab", "b", "\xff"};
    expect_order(z, want, 8);
    /* A member with an embedded NUL sorts by its bytes. */
    assert_int_equal(zset_add(z, "a\0b", 3, 1.0), ZSET_ADDED);
    size_t r;
    assert_true(zset_rank(z, "a\0b", 3, &r));
    assert_int_equal(r, 3);
    assert_int_equal(zset_at(z, 3)->len, 3);
    /* Scores come first. */
    assert_int_equal(zset_add(z, "zz", 2, 0.5), ZSET_ADDED);
    assert_int_equal(zset_add(z, "0", 1, 2.0), ZSET_ADDED);
    assert_string_equal(zset_first(z)->member, "zz");
    assert_string_equal(zset_last(z)->member, "0");
    check_structure(z);
    zset_free(z);
}

static void test_rank_delete_update(void **state)
{
    (void)state;
    struct zset *z = zset_new();
    for (int i = 0; i < 10; i++) {
        char m[8];
        snprintf(m, sizeof m, "m%d", i);
        zset_add(z, m, strlen(m), (double)i);
    }
    size_t r;
    assert_true(zset_rank(z, "m7", 2, &r));
    assert_int_equal(r, 7);
    assert_true(zset_del(z, "m3", 2));
    assert_false(zset_del(z, "m3", 2));
    assert_false(zset_rank(z, "m3", 2, &r));
    assert_true(zset_rank(z, "m7", 2, &r));
    assert_int_equal(r, 6);
    assert_int_equal(check_structure(z), 9);
    /* Update: same score is a no-op, a new score moves the member. */
    assert_int_equal(zset_add(z, "m7", 2, 7.0), ZSET_SAME);
    assert_int_equal(zset_add(z, "m7", 2, -1.0), ZSET_UPDATED);
    assert_true(zset_rank(z, "m7", 2, &r));
    assert_int_equal(r, 0);
    assert_true(zset_find(z, "m7", 2)->score == -1.0);
    assert_int_equal(zset_add(z, "m0", 2, 100.0), ZSET_UPDATED);
    assert_string_equal(zset_last(z)->member, "m0");
    assert_int_equal(check_structure(z), 9);
    /* -0 and 0 are equal scores. */
    assert_int_equal(zset_add(z, "zero", 4, 0.0), ZSET_ADDED);
    assert_int_equal(zset_add(z, "zero", 4, -0.0), ZSET_SAME);
    /* Delete everything, first and last alternately. */
    while (zset_len(z) > 0) {
        struct zset_node *x = zset_len(z) % 2 ? zset_first(z) : zset_last(z);
        char m[16];
        size_t len = x->len;
        memcpy(m, x->member, len);
        assert_true(zset_del(z, m, len));
        check_structure(z);
    }
    assert_null(zset_first(z));
    zset_free(z);
}

static void test_ranges_by_score(void **state)
{
    (void)state;
    struct zset *z = zset_new();
    const char *names[] = {"a", "b", "c", "d", "e", "f"};
    double scores[] = {-INFINITY, 1, 2, 2, 3, INFINITY};
    for (int i = 0; i < 6; i++) {
        zset_add(z, names[i], 1, scores[i]);
    }
    size_t lo, hi;
    struct zset_range r = {2, 3, false, false};
    assert_string_equal(zset_first_in_range(z, &r, &lo)->member, "c");
    assert_string_equal(zset_last_in_range(z, &r, &hi)->member, "e");
    assert_int_equal(lo, 2);
    assert_int_equal(hi, 4);
    r = (struct zset_range){2, 3, true, false};
    assert_string_equal(zset_first_in_range(z, &r, &lo)->member, "e");
    assert_int_equal(lo, 4);
    r = (struct zset_range){2, 3, true, true};
    assert_null(zset_first_in_range(z, &r, NULL));
    assert_null(zset_last_in_range(z, &r, NULL));
    r = (struct zset_range){-INFINITY, INFINITY, false, false};
    assert_string_equal(zset_first_in_range(z, &r, &lo)->member, "a");
    assert_string_equal(zset_last_in_range(z, &r, &hi)->member, "f");
    assert_int_equal(hi - lo + 1, 6);
    r = (struct zset_range){-INFINITY, INFINITY, true, true};
    assert_string_equal(zset_first_in_range(z, &r, NULL)->member, "b");
    assert_string_equal(zset_last_in_range(z, &r, NULL)->member, "e");
    r = (struct zset_range){3, 2, false, false}; /* min > max: empty */
    assert_null(zset_first_in_range(z, &r, NULL));
    r = (struct zset_range){2, 2, false, true}; /* [2, 2): empty */
    assert_null(zset_last_in_range(z, &r, NULL));
    r = (struct zset_range){10, 20, false, false};
    assert_null(zset_first_in_range(z, &r, NULL));
    r = (struct zset_range){1.5, 1.7, false, false}; /* between members */
    assert_null(zset_first_in_range(z, &r, NULL));
    assert_null(zset_last_in_range(z, &r, NULL));
    zset_free(z);
}

static void test_ranges_by_lex(void **state)
{
    (void)state;
    struct zset *z = zset_new();
    const char *names[] = {"a", "ab", "b", "c", "d"};
    for (int i = 0; i < 5; i++) {
        zset_add(z, names[i], strlen(names[i]), 0);
    }
    size_t lo, hi;
    struct zset_lex_range r = {{NULL, 0, -1, true}, {NULL, 0, 1, true}};
    assert_string_equal(zset_first_in_lex(z, &r, &lo)->member, "a");
    assert_string_equal(zset_last_in_lex(z, &r, &hi)->member, "d");
    assert_int_equal(hi - lo + 1, 5);
    r = (struct zset_lex_range){{"a", 1, 0, true}, {"c", 1, 0, false}};
    assert_string_equal(zset_first_in_lex(z, &r, &lo)->member, "ab");
    assert_string_equal(zset_last_in_lex(z, &r, &hi)->member, "c");
    assert_int_equal(lo, 1);
    assert_int_equal(hi, 3);
    r = (struct zset_lex_range){{NULL, 0, 1, true}, {NULL, 0, -1, true}};
    assert_null(zset_first_in_lex(z, &r, NULL)); /* + to -: empty */
    r = (struct zset_lex_range){{NULL, 0, -1, true}, {NULL, 0, -1, true}};
    assert_null(zset_last_in_lex(z, &r, NULL)); /* - to -: empty */
    r = (struct zset_lex_range){{"b", 1, 0, false}, {"b", 1, 0, true}};
    assert_null(zset_first_in_lex(z, &r, NULL)); /* [b (b: empty */
    zset_free(z);
}

/* ---- snapshots ------------------------------------------------------------
 */

/* The format's checksum seed (SNAPSHOT_SEED in snapshot.c; not exported). */
#define SNAP_SEED 0x52524e53ull

/* out = the image of s and an empty tail; returns the image's length. */
static size_t encode_snapshot(const struct store *s, struct buf *out)
{
    buf_init(out);
    snapshot_encode_image(s, 7, out);
    size_t image_len = out->len;
    struct buf tail;
    buf_init(&tail);
    snapshot_tail_begin(&tail);
    snapshot_tail_finish(&tail, 9, 0);
    buf_append(out, tail.data, tail.len);
    buf_free(&tail);
    return image_len;
}

/* Rewrite the image checksum after a patch (one block: images here are
 * smaller than SNAPSHOT_BLOCK). */
static void reseal(struct buf *b, size_t image_len)
{
    uint64_t h = store_hash(b->data, image_len - 8, SNAP_SEED);
    for (int i = 0; i < 8; i++) {
        b->data[image_len - 8 + (size_t)i] = (char)(h >> (8 * i));
    }
}

static struct value *zset_value(const char *const *members,
                                const double *scores, size_t n)
{
    struct value *v = value_new_zset();
    for (size_t i = 0; i < n; i++) {
        zset_add(v->zset, members[i], strlen(members[i]), scores[i]);
    }
    return v;
}

static void test_snapshot_round_trip(void **state)
{
    (void)state;
    struct store *s = store_new();
    const char *m[] = {"a", "bb", "", "long member", "x"};
    double sc[] = {1.1, INFINITY, -INFINITY, 0.30000000000000004, -2.5};
    store_set(s, "z", 1, zset_value(m, sc, 5));
    struct value *big = value_new_zset();
    for (int i = 0; i < 500; i++) {
        char name[16];
        snprintf(name, sizeof name, "m%d", i);
        zset_add(big->zset, name, strlen(name), (double)(i % 7));
    }
    zset_add(big->zset, "a\0b", 3, 1e-300);
    store_set(s, "big", 3, big);
    store_set_expire(s, big, 123456789);
    struct buf b;
    encode_snapshot(s, &b);
    struct snapshot_tail tail;
    char err[128] = "";
    struct store *t = snapshot_decode(b.data, b.len, &tail, err, sizeof err);
    assert_non_null(t);
    const char *keys[] = {"z", "big"};
    for (int k = 0; k < 2; k++) {
        struct value *x = store_get_raw(s, keys[k], strlen(keys[k]));
        struct value *y = store_get_raw(t, keys[k], strlen(keys[k]));
        assert_non_null(y);
        assert_int_equal(y->type, VALUE_ZSET);
        assert_int_equal(y->expire_ms, x->expire_ms);
        assert_int_equal(check_structure(y->zset), zset_len(x->zset));
        for (struct zset_node *p = zset_first(x->zset),
                              *q = zset_first(y->zset);
             p != NULL; p = zset_next(p), q = zset_next(q)) {
            assert_int_equal(p->len, q->len);
            assert_memory_equal(p->member, q->member, p->len);
            assert_memory_equal(&p->score, &q->score, sizeof p->score);
        }
    }
    buf_free(&b);
    store_free(t);
    store_free(s);
}

/* Encode {"k": {"aa": 1, "bb": 2}} as a version 4 image, or as version 3
 * (the same without the u64 max node id after the store version), let
 * patch (if any) change the zset's bytes, reseal it and expect the decoder
 * to refuse it, or (no patch: the control) to load it. */
static void expect_patched(void (*patch)(char *zdata), uint32_t version)
{
    struct store *s = store_new();
    const char *m[] = {"aa", "bb"};
    double sc[] = {1, 2};
    store_set(s, "k", 1, zset_value(m, sc, 2));
    s->max_node_id = 5;
    struct buf b;
    size_t image_len = encode_snapshot(s, &b);
    assert_int_equal((unsigned char)b.data[8], 4); /* format version */
    size_t header = 60; /* version 4, no tombstones */
    if (version == 3) {
        /* drop the max node id (bytes 40..47) */
        memmove(b.data + 40, b.data + 48, b.len - 48);
        b.len -= 8;
        image_len -= 8;
        header = 52;
        b.data[8] = 3;
    }
    /* the header, then type, flags, u32 klen, "k", u32 count. */
    char *zdata = b.data + header + 1 + 1 + 4 + 1;
    assert_int_equal((unsigned char)b.data[header], VALUE_ZSET);
    assert_int_equal((unsigned char)b.data[header + 1 + 1 + 4], 'k');
    if (patch != NULL) {
        patch(zdata);
    }
    reseal(&b, image_len);
    struct snapshot_tail tail;
    char err[128] = "";
    struct store *t = snapshot_decode(b.data, b.len, &tail, err, sizeof err);
    if (patch != NULL) {
        assert_null(t);
        assert_true(strlen(err) > 0);
    } else {
        if (t == NULL) {
            fail_msg("control refused: %s", err);
        }
        assert_true(t->max_node_id == (version == 3 ? 0 : 5));
        struct value *v = store_get_raw(t, "k", 1);
        assert_non_null(v);
        assert_int_equal(v->type, VALUE_ZSET);
        assert_int_equal(check_structure(v->zset), 2);
        store_free(t);
    }
    buf_free(&b);
    store_free(s);
}

static void expect_refused(void (*patch)(char *zdata))
{
    expect_patched(patch, 4);
    expect_patched(patch, 3);
}

/* zdata: u32 count, u32 2, "aa", u64 score, u32 2, "bb", u64 score. */
static void patch_nan(char *zdata)
{
    uint64_t nan_bits = 0x7ff8000000000000ull;
    for (int i = 0; i < 8; i++) {
        zdata[4 + 4 + 2 + i] = (char)(nan_bits >> (8 * i));
    }
}

static void patch_duplicate(char *zdata)
{
    memcpy(zdata + 4 + 4 + 2 + 8 + 4, "aa", 2);
}

static void patch_zero_count(char *zdata)
{
    memset(zdata, 0, 4);
}

static void test_snapshot_refuses_bad_zsets(void **state)
{
    (void)state;
    expect_refused(patch_nan);
    expect_refused(patch_duplicate);
    expect_refused(patch_zero_count);
    expect_patched(NULL, 4); /* controls */
    expect_patched(NULL, 3);
}

/* ---- random sequence against a sorted array ----------------------------- */

struct item {
    char m[8];
    size_t len;
    double score;
};

static int item_cmp(const void *pa, const void *pb)
{
    const struct item *a = pa, *b = pb;
    if (a->score != b->score) {
        return a->score < b->score ? -1 : 1;
    }
    size_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->m, b->m, n);
    if (c != 0) {
        return c;
    }
    return a->len < b->len ? -1 : a->len > b->len ? 1 : 0;
}

static uint64_t rng_state = 88172645463325252ull;

static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

#define UNIVERSE 3000

static void check_against_model(const struct zset *z, struct item *model,
                                const bool *present)
{
    static struct item sorted[UNIVERSE];
    size_t n = 0;
    for (size_t i = 0; i < UNIVERSE; i++) {
        if (present[i]) {
            sorted[n++] = model[i];
        }
    }
    qsort(sorted, n, sizeof sorted[0], item_cmp);
    assert_int_equal(check_structure(z), n);
    size_t i = 0;
    for (struct zset_node *x = zset_first(z); x != NULL; x = zset_next(x)) {
        assert_int_equal(x->len, sorted[i].len);
        assert_memory_equal(x->member, sorted[i].m, x->len);
        assert_true(x->score == sorted[i].score);
        i++;
    }
    /* A few score ranges: the first/last ranks match the array. */
    for (int k = 0; k < 5; k++) {
        double a = (double)(rnd() % 60) - 30, b = (double)(rnd() % 60) - 30;
        struct zset_range r = {a < b ? a : b, a < b ? b : a, rnd() % 2 == 0,
                               rnd() % 2 == 0};
        size_t want_lo = n, want_hi = n;
        for (size_t j = 0; j < n; j++) {
            if (zset_gte_min(sorted[j].score, &r) &&
                zset_lte_max(sorted[j].score, &r)) {
                if (want_lo == n) {
                    want_lo = j;
                }
                want_hi = j;
            }
        }
        size_t lo, hi;
        struct zset_node *f = zset_first_in_range(z, &r, &lo);
        struct zset_node *l = zset_last_in_range(z, &r, &hi);
        if (want_lo == n) {
            assert_null(f);
            assert_null(l);
        } else {
            assert_non_null(f);
            assert_non_null(l);
            assert_int_equal(lo, want_lo);
            assert_int_equal(hi, want_hi);
        }
    }
}

static void test_random_against_sorted_array(void **state)
{
    (void)state;
    static struct item model[UNIVERSE];
    static bool present[UNIVERSE];
    memset(present, 0, sizeof present);
    struct zset *z = zset_new();
    for (size_t i = 0; i < UNIVERSE; i++) {
        model[i].len = (size_t)snprintf(model[i].m, sizeof model[i].m, "%zx",
                                        i * 2654435761u % 100000);
    }
    for (int step = 0; step < 60000; step++) {
        size_t i = rnd() % UNIVERSE;
        uint64_t op = rnd() % 10;
        if (op < 6) {
            double s = (double)(int)(rnd() % 61) - 30; /* many ties */
            if (rnd() % 8 == 0) {
                s = rnd() % 2 ? INFINITY : -INFINITY;
            }
            enum zset_add_result rv = zset_add(z, model[i].m, model[i].len, s);
            if (!present[i]) {
                assert_int_equal(rv, ZSET_ADDED);
            } else {
                assert_int_equal(rv, model[i].score == s ? ZSET_SAME
                                                         : ZSET_UPDATED);
            }
            present[i] = true;
            model[i].score = s;
        } else {
            assert_int_equal(zset_del(z, model[i].m, model[i].len), present[i]);
            present[i] = false;
        }
        if (step % 5000 == 4999) {
            check_against_model(z, model, present);
        }
    }
    check_against_model(z, model, present);
    /* A copy holds the same members in the same order. */
    struct zset *c = zset_dup(z);
    assert_int_equal(check_structure(c), zset_len(z));
    for (struct zset_node *x = zset_first(z), *y = zset_first(c); x != NULL;
         x = zset_next(x), y = zset_next(y)) {
        assert_int_equal(x->len, y->len);
        assert_memory_equal(x->member, y->member, x->len);
        assert_true(x->score == y->score);
    }
    zset_free(c);
    zset_free(z);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_equal_scores_order_by_member_bytes),
        cmocka_unit_test(test_rank_delete_update),
        cmocka_unit_test(test_ranges_by_score),
        cmocka_unit_test(test_ranges_by_lex),
        cmocka_unit_test(test_random_against_sorted_array),
        cmocka_unit_test(test_snapshot_round_trip),
        cmocka_unit_test(test_snapshot_refuses_bad_zsets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
