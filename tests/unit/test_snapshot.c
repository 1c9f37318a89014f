/* Unit tests for snapshot: the image + tail file format. Every snapshot
 * that goes through snapshot_decode is first copied into an exactly-sized
 * heap block so that the sanitizer build catches any read past the end, and
 * every refusal must leave nothing allocated (the leak checker verifies).
 * Structural refusals are shown on hand-made images whose checksums are
 * fixed up, so that it is the structural check, not a checksum, that
 * refuses them. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dict.h"
#include "snapshot.h"
#include "store.h"
#include "value.h"

/* The format's checksum seed (SNAPSHOT_SEED in snapshot.c; not exported).
 * test_byte_layout checks that hand-made images built with it equal the
 * encoder's bytes. */
#define SEED 0x52524e53ull
/* Version 4 header: magic, version, flags, image index, clock, store
 * version, max node id, tombstone count, key count; version 3 has no max
 * node id, version 2 no clock, store version or tombstones either. */
#define IMAGE_HEADER    60 /* with no tombstones */
#define IMAGE_HEADER_V3 52
#define IMAGE_HEADER_V2 32
#define MAX_ID_AT       40 /* offset of the max node id in version 4 */
#define V4              4u
#define V3              3u
#define V2              2u
#define KEY_EXPIRES     1u
#define KEY_STAMPED     2u

/* ---- helpers ---------------------------------------------------------- */

static uint8_t *dup_bytes(const void *p, size_t n)
{
    uint8_t *q = malloc(n ? n : 1);
    if (n > 0) {
        memcpy(q, p, n);
    }
    return q;
}

static struct value *str(const char *s)
{
    return value_new_string(s, strlen(s));
}

static struct value *list_of(size_t n, const char *const *items,
                             const size_t *lens)
{
    struct value *v = value_new_list();
    for (size_t i = 0; i < n; i++) {
        value_list_push(v, false, items[i], lens[i]);
    }
    return v;
}

/* A deterministic byte pattern (with NULs) of n bytes; the caller frees. */
static char *pattern(size_t n, uint64_t seed)
{
    char *p = malloc(n ? n : 1);
    uint64_t x = seed | 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        p[i] = (char)(x % 5 == 0 ? 0 : x >> 24);
    }
    return p;
}

struct same_elems {
    struct dict *other;
    bool hash;
    size_t visited;
};

static void same_elem_visit(void *arg, const struct dict_entry *e)
{
    struct same_elems *se = arg;
    se->visited++;
    struct dict_entry *o = dict_find(se->other, e->key, e->klen);
    assert_non_null(o);
    if (!se->hash) {
        assert_null(e->v);
        assert_null(o->v);
        return;
    }
    const struct lelem *x = e->v, *y = o->v;
    assert_non_null(x);
    assert_non_null(y);
    assert_int_equal(x->len, y->len);
    if (x->len > 0) {
        assert_memory_equal(x->data, y->data, x->len);
    }
}

static void expect_same_value(const struct value *a, const struct value *b)
{
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(a->type, b->type);
    assert_true(a->expire_ms == b->expire_ms);
    assert_true(a->version == b->version);
    if (a->type == VALUE_HASH || a->type == VALUE_SET) {
        assert_int_equal(dict_size(a->dict), dict_size(b->dict));
        struct same_elems se = {b->dict, a->type == VALUE_HASH, 0};
        dict_foreach(a->dict, same_elem_visit, &se);
        assert_int_equal(se.visited, dict_size(a->dict));
        return;
    }
    if (a->type == VALUE_STRING) {
        assert_int_equal(a->str.len, b->str.len);
        if (a->str.len > 0) {
            assert_memory_equal(a->str.p, b->str.p, a->str.len);
        }
        return;
    }
    size_t n = value_list_len(a);
    assert_int_equal(n, value_list_len(b));
    for (size_t i = 0; i < n; i++) {
        const struct lelem *x = value_list_at(a, i);
        const struct lelem *y = value_list_at(b, i);
        assert_int_equal(x->len, y->len);
        if (x->len > 0) {
            assert_memory_equal(x->data, y->data, x->len);
        }
    }
}

struct same {
    struct store *other;
    size_t visited;
};

static void same_visit(void *arg, const char *key, size_t klen,
                       const struct value *v)
{
    struct same *sm = arg;
    sm->visited++;
    /* raw: expired keys are part of the image too */
    expect_same_value(v, store_get_raw(sm->other, key, klen));
}

/* Same size and every key of a is in b with an equal value (expiry and
 * stamp included): equal maps; and the same clock, store version, max node
 * id and count of keys with an expiry time. */
static void expect_same_store(const struct store *a, struct store *b)
{
    assert_int_equal(store_size(a), store_size(b));
    assert_true(a->now_ms == b->now_ms);
    assert_true(a->version == b->version);
    assert_true(a->max_node_id == b->max_node_id);
    assert_int_equal(store_expires(a), store_expires(b));
    struct same sm = {b, 0};
    store_foreach(a, same_visit, &sm);
    assert_int_equal(sm.visited, store_size(a));
}

struct tentry {
    const void *p;
    size_t len;
};

/* out = image of s + a tail of n entries; returns the image's length. */
static size_t make_snapshot(const struct store *s, uint64_t image_index,
                            uint64_t index, const struct tentry *entries,
                            size_t n, struct buf *out)
{
    buf_init(out);
    snapshot_encode_image(s, image_index, out);
    size_t image_len = out->len;
    struct buf tail;
    buf_init(&tail);
    snapshot_tail_begin(&tail);
    for (size_t i = 0; i < n; i++) {
        snapshot_tail_add(&tail, entries[i].p, entries[i].len);
    }
    snapshot_tail_finish(&tail, index, n);
    buf_append(out, tail.data, tail.len);
    buf_free(&tail);
    return image_len;
}

/* Decode a copy of data; the copy is returned in *copy (the tail points
 * into it) and must be freed with the store. */
static struct store *decode_ok(const void *data, size_t len,
                               struct snapshot_tail *tail, uint8_t **copy)
{
    char err[160] = "";
    *copy = dup_bytes(data, len);
    struct store *s = snapshot_decode(*copy, len, tail, err, sizeof err);
    if (s == NULL) {
        fail_msg("snapshot refused: %s", err);
    }
    assert_string_equal(err, ""); /* no error written on success */
    return s;
}

/* Decode a copy of data, expect a refusal with a reason; the reason is left
 * in err (errlen bytes) for callers that check it. */
static void expect_refused_err(const void *data, size_t len, char *err,
                               size_t errlen)
{
    uint8_t *copy = dup_bytes(data, len);
    struct snapshot_tail tail;
    err[0] = '\0';
    assert_null(snapshot_decode(copy, len, &tail, err, errlen));
    assert_true(err[0] != '\0');
    assert_true(strlen(err) < errlen);
    free(copy);
}

static void expect_refused(const void *data, size_t len)
{
    char err[160];
    expect_refused_err(data, len, err, sizeof err);
}

/* Refused by a structural check: the reason is not a checksum mismatch. */
static void expect_refused_structurally(const void *data, size_t len)
{
    char err[160];
    expect_refused_err(data, len, err, sizeof err);
    if (strstr(err, "checksum") != NULL) {
        fail_msg("refused only by a checksum: %s", err);
    }
}

/* Round trip: encode s (and a tail), decode, compare; also checks the
 * decoded tail. */
static void expect_roundtrip(const struct store *s, uint64_t image_index,
                             uint64_t index, const struct tentry *entries,
                             size_t n)
{
    struct buf b;
    make_snapshot(s, image_index, index, entries, n, &b);
    struct snapshot_tail tail;
    uint8_t *copy;
    struct store *d = decode_ok(b.data, b.len, &tail, &copy);
    expect_same_store(s, d);
    assert_true(tail.index == index);
    assert_true(tail.image_index == image_index);
    assert_true(tail.count == n);
    for (size_t i = 0; i < n; i++) {
        const void *e = NULL;
        size_t elen = 12345;
        assert_int_equal(snapshot_tail_next(&tail, &e, &elen), 1);
        assert_int_equal(elen, entries[i].len);
        /* entries point into the decoded data */
        assert_true((const uint8_t *)e >= copy);
        assert_true((const uint8_t *)e + elen <= copy + b.len);
        if (elen > 0) {
            assert_memory_equal(e, entries[i].p, elen);
        }
    }
    const void *e;
    size_t elen;
    assert_int_equal(snapshot_tail_next(&tail, &e, &elen), 0);
    assert_int_equal(snapshot_tail_next(&tail, &e, &elen), 0);
    store_free(d);
    free(copy);
    buf_free(&b);
}

/* ---- hand-made images ------------------------------------------------- */

static void put_le(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

/* A header without tombstones; version 3 has no max node id, version 2
 * no clock and no store version either (ignored). Versions the format does
 * not know get version 4's layout. */
static void img_header_ids(struct buf *b, uint32_t version, uint32_t flags,
                           uint64_t image_index, uint64_t clock,
                           uint64_t stamps, uint64_t max_id, uint64_t count)
{
    buf_init(b);
    buf_append(b, "RRSNAP\0\1", 8);
    buf_put_u32(b, version);
    buf_put_u32(b, flags);
    buf_put_u64(b, image_index);
    if (version != V2) {
        buf_put_u64(b, clock);
        buf_put_u64(b, stamps);
        if (version != V3) {
            buf_put_u64(b, max_id);
        }
        buf_put_u32(b, 0); /* no tombstones */
    }
    buf_put_u64(b, count);
}

static void img_header_full(struct buf *b, uint32_t version, uint32_t flags,
                            uint64_t image_index, uint64_t clock,
                            uint64_t stamps, uint64_t count)
{
    img_header_ids(b, version, flags, image_index, clock, stamps, 0, count);
}

static void img_header(struct buf *b, uint32_t version, uint32_t flags,
                       uint64_t image_index, uint64_t count)
{
    img_header_full(b, version, flags, image_index, 0, 0, count);
}

static void img_key(struct buf *b, uint8_t type, uint8_t kflags,
                    const char *key, size_t klen)
{
    buf_put_u8(b, type);
    buf_put_u8(b, kflags);
    buf_put_u32(b, (uint32_t)klen);
    buf_append(b, key, klen);
}

static void img_bytes(struct buf *b, const void *p, size_t n)
{
    buf_put_u32(b, (uint32_t)n);
    buf_append(b, p, n);
}

static void img_string(struct buf *b, const char *key, const char *val)
{
    img_key(b, VALUE_STRING, 0, key, strlen(key));
    img_bytes(b, val, strlen(val));
}

/* The image checksum as the format describes it: chained over blocks. */
static uint64_t image_sum(const void *data, size_t n)
{
    const char *p = data;
    uint64_t h = SEED;
    while (n > 0) {
        size_t k = n < SNAPSHOT_BLOCK ? n : SNAPSHOT_BLOCK;
        h = store_hash(p, k, h);
        p += k;
        n -= k;
    }
    return h;
}

/* Append the image checksum and an empty tail (index 9). */
static void img_finish(struct buf *b)
{
    buf_put_u64(b, image_sum(b->data, b->len));
    size_t t = b->len;
    buf_put_u64(b, 9); /* snapshot index */
    buf_put_u64(b, 0); /* entry count */
    buf_put_u64(b, store_hash(b->data + t, b->len - t, SEED));
}

/* Recompute both checksums of an image with an empty tail in place (after
 * a header or key byte has been patched). */
static void img_refix(struct buf *b)
{
    size_t image_len = b->len - 8 - 24;
    put_le((uint8_t *)b->data + image_len, image_sum(b->data, image_len), 8);
}

/* ---- round trips ------------------------------------------------------ */

static void test_empty_store(void **state)
{
    (void)state;
    struct store *s = store_new();
    expect_roundtrip(s, 0, 0, NULL, 0);
    expect_roundtrip(s, 5, 7, NULL, 0);
    expect_roundtrip(s, UINT64_MAX, UINT64_MAX, NULL, 0);
    /* header + checksum, then a tail of header + checksum */
    struct buf b;
    size_t image_len = make_snapshot(s, 1, 2, NULL, 0, &b);
    assert_int_equal(image_len, IMAGE_HEADER + 8);
    assert_int_equal(b.len, IMAGE_HEADER + 8 + 24);
    buf_free(&b);
    store_free(s);
}

/* The exact bytes of a one-key image, built by hand with the seed above. */
static void test_byte_layout(void **state)
{
    (void)state;
    struct store *s = store_new();
    s->now_ms = 0x1112131415161718ll;
    s->version = 0x2122232425262728ull;
    s->max_node_id = 0x3132333435363738ull;
    s->tomb[5] = 7;
    store_set(s, "k\0y", 3, value_new_string("v\0", 2));
    struct buf got;
    buf_init(&got);
    snapshot_encode_image(s, 0x0102030405060708ull, &got);
    static const uint8_t head[] = {
        'R',  'R',  'S',  'N',  'A',  'P',  0,    1,    /* magic */
        4,    0,    0,    0,                            /* version */
        0,    0,    0,    0,                            /* flags */
        8,    7,    6,    5,    4,    3,    2,    1,    /* image index */
        0x18, 0x17, 0x16, 0x15, 0x14, 0x13, 0x12, 0x11, /* clock */
        0x28, 0x27, 0x26, 0x25, 0x24, 0x23, 0x22, 0x21, /* store version */
        0x38, 0x37, 0x36, 0x35, 0x34, 0x33, 0x32, 0x31, /* max node id */
        1,    0,    0,    0,                            /* tombstones */
        5,    0,    0,    0,    7,    0,    0,    0,    /* slot 5: */
        0,    0,    0,    0,                            /* version 7 */
        1,    0,    0,    0,    0,    0,    0,    0,    /* key count */
        0,    0,                                        /* type, key flags */
        3,    0,    0,    0,    'k',  0,    'y',        /* key */
        2,    0,    0,    0,    'v',  0,                /* value */
    };
    assert_int_equal(got.len, sizeof head + 8);
    assert_memory_equal(got.data, head, sizeof head);
    uint8_t sum[8];
    put_le(sum, image_sum(head, sizeof head), 8);
    assert_memory_equal(got.data + sizeof head, sum, 8);

    /* The same through the hand-made image helpers, and a list. */
    s->tomb[5] = 0;
    buf_clear(&got);
    snapshot_encode_image(s, 0x0102030405060708ull, &got);
    struct buf want;
    img_header_ids(&want, V4, 0, 0x0102030405060708ull, 0x1112131415161718ull,
                   0x2122232425262728ull, 0x3132333435363738ull, 1);
    img_key(&want, VALUE_STRING, 0, "k\0y", 3);
    img_bytes(&want, "v\0", 2);
    buf_put_u64(&want, image_sum(want.data, want.len));
    assert_int_equal(got.len, want.len);
    assert_memory_equal(got.data, want.data, want.len);
    buf_free(&want);

    static const char *const items[] = {"a", "", "bc"};
    static const size_t lens[] = {1, 0, 2};
    store_set(s, "k\0y", 3, list_of(3, items, lens));
    buf_clear(&got);
    s->now_ms = 0;
    s->version = 0;
    s->max_node_id = 0;
    snapshot_encode_image(s, 0, &got);
    img_header(&want, V4, 0, 0, 1);
    img_key(&want, VALUE_LIST, 0, "k\0y", 3);
    buf_put_u32(&want, 3);
    for (int i = 0; i < 3; i++) {
        img_bytes(&want, items[i], lens[i]);
    }
    buf_put_u64(&want, image_sum(want.data, want.len));
    assert_int_equal(got.len, want.len);
    assert_memory_equal(got.data, want.data, want.len);
    buf_free(&want);

    /* Key flags: an expiry time (bit 0) then a stamp (bit 1), each only
     * when set; a hash's fields with their values; a set's members. One key
     * per image, since key order is the dict's. */
    struct store *t = store_new();
    struct value *v = value_new_string("x", 1);
    store_set(t, "e", 1, v);
    store_set_expire(t, v, 0x0A0B0C0D0E0F1011ll);
    v->version = 0x0102030405060709ull;
    buf_clear(&got);
    snapshot_encode_image(t, 0, &got);
    static const uint8_t ehead[] = {
        0,    3,                                        /* type, key flags */
        1,    0,    0,    0,    'e',                    /* key */
        0x11, 0x10, 0x0F, 0x0E, 0x0D, 0x0C, 0x0B, 0x0A, /* expiry */
        9,    7,    6,    5,    4,    3,    2,    1,    /* stamp */
        1,    0,    0,    0,    'x',                    /* value */
    };
    assert_int_equal(got.len, IMAGE_HEADER + sizeof ehead + 8);
    assert_memory_equal(got.data + IMAGE_HEADER, ehead, sizeof ehead);
    store_set_expire(t, v, 0); /* the stamp alone */
    buf_clear(&got);
    snapshot_encode_image(t, 0, &got);
    img_header(&want, V4, 0, 0, 1);
    img_key(&want, VALUE_STRING, KEY_STAMPED, "e", 1);
    buf_put_u64(&want, 0x0102030405060709ull);
    img_bytes(&want, "x", 1);
    buf_put_u64(&want, image_sum(want.data, want.len));
    assert_int_equal(got.len, want.len);
    assert_memory_equal(got.data, want.data, want.len);
    buf_free(&want);
    v->version = 0; /* the expiry alone */
    store_set_expire(t, v, 77);
    buf_clear(&got);
    snapshot_encode_image(t, 0, &got);
    img_header(&want, V4, 0, 0, 1);
    img_key(&want, VALUE_STRING, KEY_EXPIRES, "e", 1);
    buf_put_u64(&want, 77);
    img_bytes(&want, "x", 1);
    buf_put_u64(&want, image_sum(want.data, want.len));
    assert_int_equal(got.len, want.len);
    assert_memory_equal(got.data, want.data, want.len);
    buf_free(&want);
    store_free(t);

    t = store_new();
    struct value *h = value_new_hash();
    dict_set(h->dict, "f", 1, lelem_new("val", 3));
    store_set(t, "h", 1, h);
    buf_clear(&got);
    snapshot_encode_image(t, 0, &got);
    img_header(&want, V4, 0, 0, 1);
    img_key(&want, VALUE_HASH, 0, "h", 1);
    buf_put_u32(&want, 1);
    img_bytes(&want, "f", 1);
    img_bytes(&want, "val", 3);
    buf_put_u64(&want, image_sum(want.data, want.len));
    assert_int_equal(got.len, want.len);
    assert_memory_equal(got.data, want.data, want.len);
    buf_free(&want);
    struct value *set = value_new_set();
    dict_add(set->dict, "m\0", 2, NULL);
    store_set(t, "h", 1, set);
    buf_clear(&got);
    snapshot_encode_image(t, 0, &got);
    img_header(&want, V4, 0, 0, 1);
    img_key(&want, VALUE_SET, 0, "h", 1);
    buf_put_u32(&want, 1);
    img_bytes(&want, "m\0", 2);
    buf_put_u64(&want, image_sum(want.data, want.len));
    assert_int_equal(got.len, want.len);
    assert_memory_equal(got.data, want.data, want.len);
    buf_free(&want);
    store_free(t);

    /* The tail: header, length-prefixed entries, checksum. */
    struct buf tail;
    buf_init(&tail);
    snapshot_tail_begin(&tail);
    snapshot_tail_add(&tail, "xy", 2);
    snapshot_tail_add(&tail, "", 0);
    snapshot_tail_finish(&tail, 0x1122, 2);
    static const uint8_t thead[] = {
        0x22, 0x11, 0, 0, 0,   0,   0, 0, /* index */
        2,    0,    0, 0, 0,   0,   0, 0, /* count */
        2,    0,    0, 0, 'x', 'y',       /* entry */
        0,    0,    0, 0,                 /* empty entry */
    };
    assert_int_equal(tail.len, sizeof thead + 8);
    assert_memory_equal(tail.data, thead, sizeof thead);
    put_le(sum, store_hash(thead, sizeof thead, SEED), 8);
    assert_memory_equal(tail.data + sizeof thead, sum, 8);
    buf_free(&tail);

    /* snapshot_encode_image appends: what was in out stays. */
    buf_clear(&got);
    buf_append(&got, "prefix", 6);
    snapshot_encode_image(s, 0, &got);
    assert_memory_equal(got.data, "prefix", 6);
    assert_int_equal(got.len, 6 + IMAGE_HEADER + 6 + 3 + 4 + 15 + 8);
    buf_free(&got);
    store_free(s);
}

static void test_strings(void **state)
{
    (void)state;
    struct store *s = store_new();
    store_set(s, "empty", 5, value_new_string("", 0));
    store_set(s, "", 0, str("empty key"));
    store_set(s, "\0", 1, value_new_string("\0\0\0", 3));
    store_set(s, "bin\0key\r\n", 9, value_new_string("a\0b\0\xff\x80", 6));
    store_set(s, "plain", 5, str("hello world"));
    expect_roundtrip(s, 3, 4, NULL, 0);

    /* Values larger than a block, so blocks split them (and keys). */
    static const size_t big[] = {SNAPSHOT_BLOCK - 1, SNAPSHOT_BLOCK,
                                 SNAPSHOT_BLOCK + 1, 3 * SNAPSHOT_BLOCK + 17,
                                 1000003};
    for (size_t i = 0; i < sizeof big / sizeof big[0]; i++) {
        char *p = pattern(big[i], i + 1);
        char key[32];
        int kl = snprintf(key, sizeof key, "big:%zu", i);
        store_set(s, key, (size_t)kl, value_new_string(p, big[i]));
        free(p);
    }
    /* A key larger than a block as well. */
    char *k = pattern(SNAPSHOT_BLOCK + 100, 99);
    store_set(s, k, SNAPSHOT_BLOCK + 100, str("long key"));
    free(k);
    expect_roundtrip(s, 100, 200, NULL, 0);
    store_free(s);
}

/* Images whose bytes before the checksum end exactly on, just before and
 * just after a block boundary (one key "k": IMAGE_HEADER + 6 + 1 + 4 +
 * value). */
static void test_block_boundaries(void **state)
{
    (void)state;
    static const size_t sizes[] = {
        SNAPSHOT_BLOCK - 1,     SNAPSHOT_BLOCK,     SNAPSHOT_BLOCK + 1,
        2 * SNAPSHOT_BLOCK - 1, 2 * SNAPSHOT_BLOCK, 2 * SNAPSHOT_BLOCK + 1,
    };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t vlen = sizes[i] - (IMAGE_HEADER + 6 + 1 + 4);
        char *p = pattern(vlen, 7 + i);
        struct store *s = store_new();
        store_set(s, "k", 1, value_new_string(p, vlen));
        struct buf b;
        buf_init(&b);
        snapshot_encode_image(s, 1, &b);
        assert_int_equal(b.len, sizes[i] + 8);
        uint8_t sum[8];
        put_le(sum, image_sum(b.data, sizes[i]), 8);
        assert_memory_equal(b.data + sizes[i], sum, 8);
        buf_free(&b);
        expect_roundtrip(s, 1, 2, NULL, 0);
        store_free(s);
        free(p);
    }
}

static void test_lists(void **state)
{
    (void)state;
    struct store *s = store_new();
    static const char *const several[] = {"a", "", "b\0c", "\r\n", "last"};
    static const size_t several_len[] = {1, 0, 3, 2, 4};
    store_set(s, "several", 7, list_of(5, several, several_len));
    static const char *const one[] = {"only"};
    static const size_t one_len[] = {4};
    store_set(s, "one", 3, list_of(1, one, one_len));
    static const char *const empty_elem[] = {""};
    static const size_t empty_len[] = {0};
    store_set(s, "one empty", 9, list_of(1, empty_elem, empty_len));

    /* A list whose ring buffer has wrapped (pushes at the head). */
    struct value *ring = value_new_list();
    for (int i = 0; i < 20; i++) {
        char e[8];
        int n = snprintf(e, sizeof e, "r%d", i);
        value_list_push(ring, i % 2 == 0, e, (size_t)n);
    }
    store_set(s, "ring", 4, ring);

    /* Big elements spanning blocks, mixed with small ones. */
    struct value *bigl = value_new_list();
    static const size_t sizes[] = {SNAPSHOT_BLOCK + 3, 1,     0,
                                   2 * SNAPSHOT_BLOCK, 70000, 5};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char *p = pattern(sizes[i], 31 + i);
        value_list_push(bigl, false, p, sizes[i]);
        free(p);
    }
    store_set(s, "big list", 8, bigl);

    /* Many small elements. */
    struct value *many = value_new_list();
    for (int i = 0; i < 30000; i++) {
        char e[16];
        int n = snprintf(e, sizeof e, "%d", i);
        value_list_push(many, false, e, (size_t)n);
    }
    store_set(s, "many", 4, many);
    expect_roundtrip(s, 11, 12, NULL, 0);
    store_free(s);
}

static struct value *hash_of(size_t n, const char *const *fields,
                             const size_t *flens, const char *const *vals,
                             const size_t *vlens)
{
    struct value *v = value_new_hash();
    for (size_t i = 0; i < n; i++) {
        dict_set(v->dict, fields[i], flens[i], lelem_new(vals[i], vlens[i]));
    }
    return v;
}

static struct value *set_of(size_t n, const char *const *members,
                            const size_t *lens)
{
    struct value *v = value_new_set();
    for (size_t i = 0; i < n; i++) {
        dict_add(v->dict, members[i], lens[i], NULL);
    }
    return v;
}

/* WATCH's tombstones come back; out-of-order slots, a slot out of range
 * and a version newer than the store's are refused. */
static void test_tombstones(void **state)
{
    (void)state;
    struct store *s = store_new();
    s->version = 10;
    s->tomb[3] = 4;
    s->tomb[STORE_TOMBS - 1] = 10;
    struct buf b;
    make_snapshot(s, 1, 2, NULL, 0, &b);
    struct snapshot_tail tail;
    uint8_t *copy;
    struct store *t = decode_ok(b.data, b.len, &tail, &copy);
    assert_memory_equal(t->tomb, s->tomb, sizeof s->tomb);
    assert_true(t->version == 10);
    store_free(t);
    free(copy);
    buf_free(&b);
    store_free(s);

    static const struct {
        uint32_t slot[2];
        uint64_t version[2];
    } bad[] = {
        {{5, 3}, {1, 1}},           /* not increasing */
        {{5, 5}, {1, 1}},           /* repeated */
        {{1, STORE_TOMBS}, {1, 1}}, /* out of range */
        {{1, 2}, {1, 11}},          /* newer than the store */
        {{1, 2}, {0, 1}},           /* version 0 */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        for (uint32_t version = V3; version <= V4; version++) {
            struct buf img;
            buf_init(&img);
            buf_append(&img, "RRSNAP\0\1", 8);
            buf_put_u32(&img, version);
            buf_put_u32(&img, 0);
            buf_put_u64(&img, 0);  /* image index */
            buf_put_u64(&img, 0);  /* clock */
            buf_put_u64(&img, 10); /* store version */
            if (version == V4) {
                buf_put_u64(&img, 3); /* max node id */
            }
            buf_put_u32(&img, 2);
            for (int k = 0; k < 2; k++) {
                buf_put_u32(&img, bad[i].slot[k]);
                buf_put_u64(&img, bad[i].version[k]);
            }
            buf_put_u64(&img, 0); /* keys */
            img_finish(&img);
            expect_refused(img.data, img.len);
            buf_free(&img);
        }
    }
}

static void test_hashes_and_sets(void **state)
{
    (void)state;
    struct store *s = store_new();
    static const char *const f[] = {"a", "", "b\0c", "\r\n", "\xff"};
    static const size_t fl[] = {1, 0, 3, 2, 1};
    static const char *const vals[] = {"1", "empty field", "", "\0\0", "x"};
    static const size_t vl[] = {1, 11, 0, 2, 1};
    store_set(s, "hash", 4, hash_of(5, f, fl, vals, vl));
    store_set(s, "one field", 9, hash_of(1, f + 1, fl + 1, vals + 2, vl + 2));
    store_set(s, "set", 3, set_of(5, f, fl));
    store_set(s, "one member", 10, set_of(1, f + 1, fl + 1));
    store_set(s, "str", 3, str("v"));

    /* Big fields, values and members spanning blocks. */
    struct value *bh = value_new_hash();
    struct value *bs = value_new_set();
    static const size_t sizes[] = {SNAPSHOT_BLOCK + 3, 1, 2 * SNAPSHOT_BLOCK,
                                   70000};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char *p = pattern(sizes[i], 41 + i);
        char field[16];
        int n = snprintf(field, sizeof field, "f%zu", i);
        dict_set(bh->dict, field, (size_t)n, lelem_new(p, sizes[i]));
        dict_set(bh->dict, p, sizes[i], lelem_new(field, (size_t)n));
        dict_add(bs->dict, p, sizes[i], NULL);
        free(p);
    }
    store_set(s, "big hash", 8, bh);
    store_set(s, "big set", 7, bs);

    /* Many elements (the dicts rehash while they fill). */
    struct value *mh = value_new_hash();
    struct value *ms = value_new_set();
    for (int i = 0; i < 20000; i++) {
        char e[16];
        int n = snprintf(e, sizeof e, "%d", i);
        dict_set(mh->dict, e, (size_t)n, lelem_new(e + 1, (size_t)n - 1));
        dict_add(ms->dict, e, (size_t)n, NULL);
    }
    store_set(s, "many hash", 9, mh);
    store_set(s, "many set", 8, ms);
    expect_roundtrip(s, 21, 22, NULL, 0);
    store_free(s);
}

/* Expiry times, stamps, the clock and the store version come back, for
 * every type, expired keys included (the image is the exact state). */
static void test_expiry_and_stamps(void **state)
{
    (void)state;
    struct store *s = store_new();
    s->now_ms = 1700000000000ll;
    s->version = 123456789;
    static const char *const e[] = {"x", "y"};
    static const size_t el[] = {1, 1};
    struct value *vals[] = {
        str("plain"),         str("expires"),    str("stamped"),
        str("both"),          list_of(2, e, el), hash_of(2, e, el, e, el),
        set_of(2, e, el),     str("expired"),    str("far"),
        set_of(1, e + 1, el),
    };
    static const int64_t expire[] = {0,
                                     1700000001000ll,
                                     0,
                                     1700000000001ll,
                                     1800000000000ll,
                                     1,
                                     1700000000000ll,
                                     1600000000000ll /* before the clock */,
                                     INT64_MAX,
                                     0};
    static const uint64_t stamp[] = {0, 0, 5, 123456789,  7,
                                     0, 1, 3, UINT64_MAX, 99};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        char k[16];
        int n = snprintf(k, sizeof k, "k%zu", i);
        store_set(s, k, (size_t)n, vals[i]);
        store_set_expire(s, vals[i], expire[i]);
        vals[i]->version = stamp[i];
    }
    assert_int_equal(store_expires(s), 7);
    expect_roundtrip(s, 1, 2, NULL, 0);

    /* The extremes of the header fields. */
    s->now_ms = INT64_MAX;
    s->version = UINT64_MAX;
    expect_roundtrip(s, 3, 4, NULL, 0);
    s->now_ms = 0;
    s->version = 0;
    expect_roundtrip(s, 3, 4, NULL, 0);

    /* The decoded store applies expiry at the restored clock. */
    s->now_ms = 1700000000500ll;
    struct buf b;
    make_snapshot(s, 1, 1, NULL, 0, &b);
    struct snapshot_tail t;
    uint8_t *copy;
    struct store *d = decode_ok(b.data, b.len, &t, &copy);
    assert_non_null(store_get(d, "k1", 2));     /* expires later */
    assert_null(store_get(d, "k3", 2));         /* expired at +1 ms */
    assert_null(store_get(d, "k7", 2));         /* long expired */
    assert_non_null(store_get_raw(d, "k7", 2)); /* but in the image */
    assert_non_null(store_get(d, "k8", 2));
    assert_int_equal(store_size(d), store_size(s));
    store_free(d);
    free(copy);
    buf_free(&b);
    store_free(s);
}

/* key:<i> holds a list for i % 3 == 0, a string otherwise. */
static void fill_store(struct store *s, size_t n)
{
    char k[32], v[64];
    for (size_t i = 0; i < n; i++) {
        int kl = snprintf(k, sizeof k, "key:%zu", i);
        struct value *val;
        if (i % 3 == 0) {
            val = value_new_list();
            for (size_t j = 0; j <= i % 5; j++) {
                int vl = snprintf(v, sizeof v, "e%zu.%zu", i, j);
                value_list_push(val, false, v, (size_t)vl);
            }
        } else {
            static const char tailbytes[40] = "\0x\0y\r\n\xff\x80 binary";
            int vl = snprintf(v, sizeof v, "v%zu", i);
            memcpy(v + vl, tailbytes, i % 40);
            val = value_new_string(v, (size_t)vl + i % 40);
        }
        store_set(s, k, (size_t)kl, val);
    }
}

static void test_many_keys(void **state)
{
    (void)state;
    struct store *s = store_new();
    fill_store(s, 10000);
    assert_int_equal(store_size(s), 10000);
    static const struct tentry entries[] = {
        {"first", 5}, {"", 0}, {"\0\1\2", 3}, {"last entry", 10}};
    expect_roundtrip(s, 123456, 123460, entries, 4);
    store_free(s);
}

/* Round trip after every insert and every delete of a growing then
 * shrinking store: every image is taken at a different point of the
 * table's incremental rehashing, and every key must be written once. */
static void test_roundtrip_through_rehashing(void **state)
{
    (void)state;
    enum { N = 700 };
    struct store *s = store_new();
    char k[32];
    for (size_t i = 0; i < N; i++) {
        int kl = snprintf(k, sizeof k, "key:%zu", i);
        store_set(s, k, (size_t)kl, str(k));
        expect_roundtrip(s, i, i, NULL, 0);
    }
    for (size_t i = 0; i < N; i++) {
        int kl = snprintf(k, sizeof k, "key:%zu", i);
        assert_true(store_del(s, k, (size_t)kl));
        expect_roundtrip(s, i, i, NULL, 0);
    }
    store_free(s);
}

/* ---- the streaming writer --------------------------------------------- */

struct collect {
    struct buf all;
    size_t calls;
    size_t sizes[64];
};

static int collect_sink(void *arg, const void *p, size_t n)
{
    struct collect *c = arg;
    assert_true(n > 0);
    assert_true(n <= SNAPSHOT_BLOCK);
    if (c->calls < 64) {
        c->sizes[c->calls] = n;
    }
    c->calls++;
    buf_append(&c->all, p, n);
    return 0;
}

/* The streamed image equals snapshot_encode_image's bytes, comes in full
 * blocks (then the rest, then the 8-byte checksum), and uses only the
 * scratch block (an exactly-sized heap block: ASan checks). */
static void expect_stream_equals_encode(const struct store *s, uint64_t idx)
{
    struct buf enc;
    buf_init(&enc);
    snapshot_encode_image(s, idx, &enc);
    struct collect c;
    memset(&c, 0, sizeof c);
    char *block = malloc(SNAPSHOT_BLOCK);
    assert_int_equal(snapshot_write_image(s, idx, collect_sink, &c, block), 0);
    free(block);
    assert_int_equal(c.all.len, enc.len);
    assert_memory_equal(c.all.data, enc.data, enc.len);
    size_t body = enc.len - 8;
    size_t want_calls = (body + SNAPSHOT_BLOCK - 1) / SNAPSHOT_BLOCK + 1;
    assert_int_equal(c.calls, want_calls);
    assert_true(c.calls <= 64);
    for (size_t i = 0; i + 2 < c.calls; i++) {
        assert_int_equal(c.sizes[i], SNAPSHOT_BLOCK);
    }
    assert_int_equal(c.sizes[c.calls - 1], 8);
    buf_free(&c.all);
    buf_free(&enc);
}

static void test_write_image_equals_encode(void **state)
{
    (void)state;
    struct store *s = store_new();
    expect_stream_equals_encode(s, 0);
    fill_store(s, 10000);
    expect_stream_equals_encode(s, 42);
    char *p = pattern(5 * SNAPSHOT_BLOCK + 3, 5);
    store_set(s, "big", 3, value_new_string(p, 5 * SNAPSHOT_BLOCK + 3));
    free(p);
    expect_stream_equals_encode(s, UINT64_MAX);
    store_free(s);

    /* An image that is exactly two blocks before its checksum. */
    s = store_new();
    size_t vlen = 2 * SNAPSHOT_BLOCK - (IMAGE_HEADER + 6 + 1 + 4);
    p = pattern(vlen, 8);
    store_set(s, "k", 1, value_new_string(p, vlen));
    free(p);
    expect_stream_equals_encode(s, 1);
    store_free(s);
}

struct failing {
    size_t calls;
    size_t fail_at; /* 1-based call that fails; 0 never */
    int ret;
};

static int failing_sink(void *arg, const void *p, size_t n)
{
    struct failing *f = arg;
    (void)p;
    assert_true(n > 0);
    f->calls++;
    /* After the failure, the writer must not call again. */
    assert_true(f->fail_at == 0 || f->calls <= f->fail_at);
    return f->calls == f->fail_at ? f->ret : 0;
}

/* A sink's error stops the writer at once and is returned, whichever call
 * fails (a middle block, the last partial block, the checksum). */
static void test_sink_error_stops_writer(void **state)
{
    (void)state;
    struct store *s = store_new();
    fill_store(s, 2000);
    char *p = pattern(4 * SNAPSHOT_BLOCK + 5, 3);
    store_set(s, "big", 3, value_new_string(p, 4 * SNAPSHOT_BLOCK + 5));
    free(p);
    char *block = malloc(SNAPSHOT_BLOCK);
    struct failing f = {0, 0, 0};
    assert_int_equal(snapshot_write_image(s, 1, failing_sink, &f, block), 0);
    size_t total = f.calls;
    assert_true(total >= 6);
    static const int rets[] = {-1, 1, 28, -5, 0x7fffffff};
    for (size_t at = 1; at <= total; at++) {
        int ret = rets[at % (sizeof rets / sizeof rets[0])];
        struct failing g = {0, at, ret};
        assert_int_equal(snapshot_write_image(s, 1, failing_sink, &g, block),
                         ret);
        assert_int_equal(g.calls, at);
    }
    store_free(s);

    /* An empty store: two calls (header, checksum). */
    s = store_new();
    for (size_t at = 1; at <= 2; at++) {
        struct failing g = {0, at, -7};
        assert_int_equal(snapshot_write_image(s, 1, failing_sink, &g, block),
                         -7);
        assert_int_equal(g.calls, at);
    }
    store_free(s);
    free(block);
}

/* ---- the tail --------------------------------------------------------- */

static void test_tail(void **state)
{
    (void)state;
    struct store *s = store_new();
    store_set(s, "a", 1, str("1"));
    static const char *const items[] = {"x", "y"};
    static const size_t lens[] = {1, 1};
    store_set(s, "l", 1, list_of(2, items, lens));

    /* No entries, one, several (empty, binary, larger than a block). */
    expect_roundtrip(s, 10, 10, NULL, 0);
    static const struct tentry one[] = {{"entry", 5}};
    expect_roundtrip(s, 10, 11, one, 1);
    char *big = pattern(SNAPSHOT_BLOCK * 2 + 9, 77);
    struct tentry several[] = {
        {"", 0},         {"\0\0\0\0", 4}, {big, SNAPSHOT_BLOCK * 2 + 9},
        {"12345678", 8}, {"\xff", 1},
    };
    expect_roundtrip(s, 10, 15, several, 5);
    /* The tail's index need not relate to the image's. */
    expect_roundtrip(s, UINT64_MAX, 0, several, 5);

    /* Many entries. */
    enum { N = 3000 };
    struct tentry *many = malloc(N * sizeof *many);
    for (size_t i = 0; i < N; i++) {
        many[i].p = big + i;
        many[i].len = i % 97;
    }
    expect_roundtrip(s, 1, 1 + N, many, N);
    free(many);
    free(big);

    /* snapshot_tail_begin reuses a buffer: what was in it is dropped. */
    struct buf tail;
    buf_init(&tail);
    buf_append(&tail, "stale bytes", 11);
    snapshot_tail_begin(&tail);
    snapshot_tail_add(&tail, "old", 3);
    snapshot_tail_finish(&tail, 1, 1);
    snapshot_tail_begin(&tail);
    snapshot_tail_add(&tail, "new", 3);
    snapshot_tail_finish(&tail, 2, 1);
    assert_int_equal(tail.len, 16 + 4 + 3 + 8);
    struct buf b;
    buf_init(&b);
    snapshot_encode_image(s, 2, &b);
    buf_append(&b, tail.data, tail.len);
    struct snapshot_tail t;
    uint8_t *copy;
    struct store *d = decode_ok(b.data, b.len, &t, &copy);
    expect_same_store(s, d);
    assert_true(t.index == 2 && t.image_index == 2 && t.count == 1);
    const void *e;
    size_t elen;
    assert_int_equal(snapshot_tail_next(&t, &e, &elen), 1);
    assert_int_equal(elen, 3);
    assert_memory_equal(e, "new", 3);
    assert_int_equal(snapshot_tail_next(&t, &e, &elen), 0);
    store_free(d);
    free(copy);
    buf_free(&b);
    buf_free(&tail);
    store_free(s);
}

/* ---- refusal of damaged snapshots ------------------------------------- */

/* A complete snapshot of a few hundred bytes: strings (empty, binary), a
 * list, and a tail of three entries. */
static size_t small_snapshot(struct buf *b)
{
    struct store *s = store_new();
    store_set(s, "str", 3, str("hello"));
    store_set(s, "empty", 5, value_new_string("", 0));
    store_set(s, "bin\0", 4, value_new_string("\0\1\2\3", 4));
    static const char *const items[] = {"one", "", "three"};
    static const size_t lens[] = {3, 0, 5};
    store_set(s, "list", 4, list_of(3, items, lens));
    store_set(s, "hash", 4, hash_of(2, items, lens, items + 1, lens + 1));
    struct value *set = set_of(3, items, lens);
    store_set(s, "set", 3, set);
    store_set_expire(s, set, 1700000000000ll);
    set->version = 12;
    s->now_ms = 1600000000000ll;
    s->version = 40;
    s->max_node_id = 3;
    static const struct tentry entries[] = {
        {"SET k v", 7}, {"", 0}, {"\0binary\0entry", 14}};
    size_t image_len = make_snapshot(s, 40, 43, entries, 3, b);
    store_free(s);
    /* It decodes (the control case). */
    struct snapshot_tail t;
    uint8_t *copy;
    s = decode_ok(b->data, b->len, &t, &copy);
    assert_int_equal(store_size(s), 6);
    assert_true(t.count == 3);
    store_free(s);
    free(copy);
    return image_len;
}

static void test_refuses_every_flipped_byte(void **state)
{
    (void)state;
    struct buf b;
    size_t image_len = small_snapshot(&b);
    assert_true(b.len > 250 && b.len < 600);
    assert_true(image_len < b.len);
    for (size_t at = 0; at < b.len; at++) {
        for (int bit = 0; bit < 8; bit++) {
            uint8_t *m = dup_bytes(b.data, b.len);
            m[at] ^= (uint8_t)(1u << bit);
            expect_refused(m, b.len);
            free(m);
        }
        uint8_t *m = dup_bytes(b.data, b.len);
        m[at] ^= 0xff;
        expect_refused(m, b.len);
        free(m);
    }
    buf_free(&b);
}

static void test_refuses_every_truncation(void **state)
{
    (void)state;
    struct buf b;
    size_t image_len = small_snapshot(&b);
    for (size_t n = 0; n < b.len; n++) {
        expect_refused(b.data, n);
    }
    /* The image alone (no tail) says so. */
    char err[160];
    expect_refused_err(b.data, image_len, err, sizeof err);
    assert_non_null(strstr(err, "tail"));
    buf_free(&b);
}

static void test_refuses_appended_garbage(void **state)
{
    (void)state;
    struct buf b;
    small_snapshot(&b);
    for (size_t extra = 1; extra <= 40; extra++) {
        uint8_t *m = calloc(1, b.len + extra);
        memcpy(m, b.data, b.len);
        expect_refused(m, b.len + extra); /* zeros */
        memset(m + b.len, 0x55, extra);
        expect_refused(m, b.len + extra);
        free(m);
    }
    /* A second copy of the tail appended. */
    uint8_t *m = malloc(2 * b.len);
    memcpy(m, b.data, b.len);
    memcpy(m + b.len, b.data, b.len);
    expect_refused(m, 2 * b.len);
    free(m);
    buf_free(&b);

    /* Garbage inside a tail whose checksum covers it: the structure
     * refuses it (extra bytes after the last of `count` entries). */
    struct store *s = store_new();
    struct buf img;
    buf_init(&img);
    snapshot_encode_image(s, 1, &img);
    for (size_t extra = 1; extra <= 8; extra++) {
        struct buf tail;
        buf_init(&tail);
        snapshot_tail_begin(&tail);
        snapshot_tail_add(&tail, "entry", 5);
        buf_append(&tail, "\0\0\0\0\0\0\0\0", extra);
        snapshot_tail_finish(&tail, 2, 1);
        struct buf all;
        buf_init(&all);
        buf_append(&all, img.data, img.len);
        buf_append(&all, tail.data, tail.len);
        expect_refused_structurally(all.data, all.len);
        buf_free(&all);
        buf_free(&tail);
    }
    buf_free(&img);
    store_free(s);
}

static void test_refuses_bad_magic(void **state)
{
    (void)state;
    struct buf b;
    img_header(&b, V4, 0, 0, 1);
    img_string(&b, "k", "v");
    img_finish(&b);
    char err[160];
    uint8_t *copy;
    struct snapshot_tail t;
    store_free(decode_ok(b.data, b.len, &t, &copy)); /* control */
    free(copy);
    for (size_t at = 0; at < 8; at++) {
        uint8_t save = (uint8_t)b.data[at];
        b.data[at] ^= 0x20;
        img_refix(&b);
        expect_refused_err(b.data, b.len, err, sizeof err);
        assert_non_null(strstr(err, "magic"));
        b.data[at] = (char)save;
    }
    buf_free(&b);
}

static void test_refuses_wrong_version_and_flags(void **state)
{
    (void)state;
    static const uint32_t versions[] = {0, 1, 5, 0x100, 0xFFFFFFFFu};
    for (size_t i = 0; i < sizeof versions / sizeof versions[0]; i++) {
        struct buf b;
        img_header(&b, versions[i], 0, 0, 1);
        img_string(&b, "k", "v");
        img_finish(&b);
        char err[160];
        expect_refused_err(b.data, b.len, err, sizeof err);
        assert_non_null(strstr(err, "version"));
        buf_free(&b);
    }
    static const uint32_t flags[] = {1, 2, 0x80000000u, 0xFFFFFFFFu};
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
        for (uint32_t version = V2; version <= V4; version++) {
            struct buf b;
            img_header(&b, version, flags[i], 0, 1);
            img_string(&b, "k", "v");
            img_finish(&b);
            expect_refused_structurally(b.data, b.len);
            buf_free(&b);
        }
    }
    /* A clock past INT64_MAX. */
    for (uint32_t version = V3; version <= V4; version++) {
        struct buf b;
        img_header_full(&b, version, 0, 0, (uint64_t)INT64_MAX + 1, 0, 1);
        img_string(&b, "k", "v");
        img_finish(&b);
        expect_refused_structurally(b.data, b.len);
        buf_free(&b);
    }
}

static void test_refuses_duplicate_key(void **state)
{
    (void)state;
    struct buf b;
    /* Control: two different keys decode. */
    img_header(&b, V4, 0, 0, 2);
    img_string(&b, "k", "v1");
    img_string(&b, "k2", "v2");
    img_finish(&b);
    struct snapshot_tail t;
    uint8_t *copy;
    struct store *s = decode_ok(b.data, b.len, &t, &copy);
    assert_int_equal(store_size(s), 2);
    store_free(s);
    free(copy);
    buf_free(&b);

    /* The same key twice, with the same or another value or type. */
    img_header(&b, V4, 0, 0, 2);
    img_string(&b, "k", "v1");
    img_string(&b, "k", "v2");
    img_finish(&b);
    expect_refused_structurally(b.data, b.len);
    buf_free(&b);

    img_header(&b, V4, 0, 0, 3);
    img_key(&b, VALUE_STRING, 0, "a\0b", 3);
    img_bytes(&b, "x", 1);
    img_string(&b, "other", "y");
    img_key(&b, VALUE_LIST, 0, "a", 1); /* a prefix is another key */
    buf_put_u32(&b, 1);
    img_bytes(&b, "e", 1);
    img_finish(&b);
    store_free(decode_ok(b.data, b.len, &t, &copy)); /* control */
    free(copy);
    buf_free(&b);

    img_header(&b, V4, 0, 0, 3);
    img_key(&b, VALUE_STRING, 0, "a\0b", 3);
    img_bytes(&b, "x", 1);
    img_string(&b, "other", "y");
    img_key(&b, VALUE_LIST, 0, "a\0b", 3);
    buf_put_u32(&b, 1);
    img_bytes(&b, "e", 1);
    img_finish(&b);
    expect_refused_structurally(b.data, b.len);
    buf_free(&b);

    /* Among many keys. */
    img_header(&b, V4, 0, 0, 1001);
    char k[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(k, sizeof k, "key:%d", i);
        img_string(&b, k, "v");
    }
    img_string(&b, "key:517", "again");
    img_finish(&b);
    expect_refused_structurally(b.data, b.len);
    buf_free(&b);
}

/* An unknown type followed by a payload that would be valid as a string,
 * and one that would be valid as a list (or a set): neither is read as
 * such. Version 2 knows strings and lists only. */
static void test_refuses_unknown_type(void **state)
{
    (void)state;
    static const struct {
        uint32_t version;
        uint8_t type;
    } cases[] = {{V4, 5},    {V4, 0x7f}, {V4, 0x80}, {V4, 0xff}, {V3, 5},
                 {V3, 0x7f}, {V3, 0x80}, {V3, 0xff}, {V2, 2},    {V2, 3},
                 {V2, 4},    {V2, 0x7f}, {V2, 0xff}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint32_t version = cases[i].version;
        uint8_t type = cases[i].type;
        for (int last = 0; last <= 1; last++) {
            struct buf b;
            img_header(&b, version, 0, 0, 2);
            if (last) {
                img_string(&b, "first", "ok");
            }
            img_key(&b, type, 0, "k", 1);
            img_bytes(&b, "v", 1); /* as a string */
            if (!last) {
                img_string(&b, "next", "ok");
            }
            img_finish(&b);
            expect_refused_structurally(b.data, b.len);
            buf_free(&b);

            img_header(&b, version, 0, 0, 2);
            if (last) {
                img_string(&b, "first", "ok");
            }
            img_key(&b, type, 0, "k", 1);
            buf_put_u32(&b, 2); /* as a list or a set */
            img_bytes(&b, "e", 1);
            img_bytes(&b, "f", 1);
            if (!last) {
                img_string(&b, "next", "ok");
            }
            img_finish(&b);
            expect_refused_structurally(b.data, b.len);
            buf_free(&b);
        }
    }
}

/* Key flag bits other than 0 and 1 are refused in versions 3 and 4, every
 * bit in version 2, even in front of a payload that would be valid. */
static void test_refuses_key_flags(void **state)
{
    (void)state;
    for (uint32_t version = V2; version <= V4; version++) {
        for (int bit = version >= V3 ? 2 : 0; bit < 8; bit++) {
            struct buf b;
            img_header(&b, version, 0, 0, 2);
            img_string(&b, "first", "ok");
            img_key(&b, VALUE_STRING, (uint8_t)(1u << bit), "k", 1);
            img_bytes(&b, "v", 1);
            img_finish(&b);
            expect_refused_structurally(b.data, b.len);
            buf_free(&b);
            /* on a list key too */
            img_header(&b, version, 0, 0, 1);
            img_key(&b, VALUE_LIST, (uint8_t)(1u << bit), "l", 1);
            buf_put_u32(&b, 1);
            img_bytes(&b, "e", 1);
            img_finish(&b);
            expect_refused_structurally(b.data, b.len);
            buf_free(&b);
        }
    }
    /* An unknown bit alongside the known ones, with their fields present. */
    struct buf b;
    img_header(&b, V4, 0, 0, 1);
    img_key(&b, VALUE_STRING, KEY_EXPIRES | KEY_STAMPED | 4u, "k", 1);
    buf_put_u64(&b, 100);
    buf_put_u64(&b, 5);
    img_bytes(&b, "v", 1);
    img_finish(&b);
    expect_refused_structurally(b.data, b.len);
    buf_free(&b);
    /* Control: the same without the unknown bit decodes. */
    img_header(&b, V4, 0, 0, 1);
    img_key(&b, VALUE_STRING, KEY_EXPIRES | KEY_STAMPED, "k", 1);
    buf_put_u64(&b, 100);
    buf_put_u64(&b, 5);
    img_bytes(&b, "v", 1);
    img_finish(&b);
    struct snapshot_tail t;
    uint8_t *copy;
    struct store *s = decode_ok(b.data, b.len, &t, &copy);
    struct value *v = store_get_raw(s, "k", 1);
    assert_non_null(v);
    assert_true(v->expire_ms == 100 && v->version == 5);
    assert_int_equal(store_expires(s), 1);
    store_free(s);
    free(copy);
    buf_free(&b);
}

/* An expiry flag with expiry time 0 (or one past INT64_MAX, a negative
 * i64), a stamp flag with stamp 0: refused; the smallest valid ones are
 * not. */
static void test_refuses_zero_expiry_and_stamp(void **state)
{
    (void)state;
    static const struct {
        uint8_t flags;
        uint64_t expire, stamp;
        bool ok;
    } cases[] = {
        {KEY_EXPIRES, 0, 0, false},
        {KEY_EXPIRES, (uint64_t)INT64_MAX + 1, 0, false},
        {KEY_EXPIRES, UINT64_MAX, 0, false},
        {KEY_STAMPED, 0, 0, false},
        {KEY_EXPIRES | KEY_STAMPED, 0, 1, false},
        {KEY_EXPIRES | KEY_STAMPED, 1, 0, false},
        {KEY_EXPIRES, 1, 0, true},
        {KEY_EXPIRES, INT64_MAX, 0, true},
        {KEY_STAMPED, 0, 1, true},
        {KEY_STAMPED, 0, UINT64_MAX, true},
        {KEY_EXPIRES | KEY_STAMPED, 1, 1, true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (int type = VALUE_STRING; type <= VALUE_SET; type++) {
            struct buf b;
            img_header(&b, V4, 0, 0, 2);
            img_key(&b, (uint8_t)type, cases[i].flags, "k", 1);
            if (cases[i].flags & KEY_EXPIRES) {
                buf_put_u64(&b, cases[i].expire);
            }
            if (cases[i].flags & KEY_STAMPED) {
                buf_put_u64(&b, cases[i].stamp);
            }
            if (type == VALUE_STRING) {
                img_bytes(&b, "v", 1);
            } else {
                buf_put_u32(&b, 1);
                img_bytes(&b, "e", 1);
                if (type == VALUE_HASH) {
                    img_bytes(&b, "x", 1);
                }
            }
            img_string(&b, "next", "ok");
            img_finish(&b);
            if (!cases[i].ok) {
                expect_refused_structurally(b.data, b.len);
            } else {
                struct snapshot_tail t;
                uint8_t *copy;
                struct store *s = decode_ok(b.data, b.len, &t, &copy);
                struct value *v = store_get_raw(s, "k", 1);
                assert_non_null(v);
                assert_int_equal(v->type, type);
                assert_true((uint64_t)v->expire_ms == cases[i].expire);
                assert_true(v->version == cases[i].stamp);
                assert_int_equal(store_expires(s),
                                 (cases[i].flags & KEY_EXPIRES) ? 1 : 0);
                store_free(s);
                free(copy);
            }
            buf_free(&b);
        }
    }
}

/* A hash with a field twice, a set with a member twice (first, middle,
 * last position; same or other value): refused. Controls decode. */
static void test_refuses_duplicate_fields_and_members(void **state)
{
    (void)state;
    static const char *const fields[][4] = {
        {"a", "b", "c", "d"}, /* control */
        {"a", "a", "c", "d"}, {"a", "b", "c", "a"},   {"a", "b", "b", "d"},
        {"", "b", "", "d"},   {"a\0", "a", "c", "d"}, /* control: another field
                                                       */
    };
    static const size_t flens[][4] = {{1, 1, 1, 1}, {1, 1, 1, 1}, {1, 1, 1, 1},
                                      {1, 1, 1, 1}, {0, 1, 0, 1}, {2, 1, 1, 1}};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        bool ok = i == 0 || i == 5;
        for (int type = VALUE_HASH; type <= VALUE_SET; type++) {
            struct buf b;
            img_header(&b, V4, 0, 0, 2);
            img_string(&b, "first", "ok");
            img_key(&b, (uint8_t)type, 0, "k", 1);
            buf_put_u32(&b, 4);
            for (int j = 0; j < 4; j++) {
                img_bytes(&b, fields[i][j], flens[i][j]);
                if (type == VALUE_HASH) {
                    char val[8];
                    int n = snprintf(val, sizeof val, "v%d", j);
                    img_bytes(&b, val, (size_t)n);
                }
            }
            img_finish(&b);
            if (ok) {
                struct snapshot_tail t;
                uint8_t *copy;
                struct store *s = decode_ok(b.data, b.len, &t, &copy);
                struct value *v = store_get_raw(s, "k", 1);
                assert_non_null(v);
                assert_int_equal(v->type, type);
                assert_int_equal(dict_size(v->dict), 4);
                store_free(s);
                free(copy);
            } else {
                expect_refused_structurally(b.data, b.len);
            }
            buf_free(&b);
        }
    }
    /* Among many members. */
    struct buf b;
    img_header(&b, V4, 0, 0, 1);
    img_key(&b, VALUE_SET, 0, "big", 3);
    buf_put_u32(&b, 1001);
    char m[32];
    for (int i = 0; i < 1000; i++) {
        int n = snprintf(m, sizeof m, "member:%d", i);
        img_bytes(&b, m, (size_t)n);
    }
    img_bytes(&b, "member:999", 10);
    img_finish(&b);
    expect_refused_structurally(b.data, b.len);
    buf_free(&b);
}

/* Hashes and sets hold at least one element, like lists. */
static void test_refuses_empty_hash_and_set(void **state)
{
    (void)state;
    for (int type = VALUE_HASH; type <= VALUE_SET; type++) {
        struct buf b;
        img_header(&b, V4, 0, 0, 2);
        img_string(&b, "first", "ok");
        img_key(&b, (uint8_t)type, 0, "e", 1);
        buf_put_u32(&b, 0);
        img_finish(&b);
        expect_refused_structurally(b.data, b.len);
        buf_free(&b);
        /* followed by what would be a valid next key */
        img_header(&b, V4, 0, 0, 2);
        img_key(&b, (uint8_t)type, 0, "e", 1);
        buf_put_u32(&b, 0);
        img_string(&b, "next", "ok");
        img_finish(&b);
        expect_refused_structurally(b.data, b.len);
        buf_free(&b);
    }
}

/* Element counts and lengths of hashes and sets past the data. */
static void test_refuses_bad_hash_and_set_lengths(void **state)
{
    (void)state;
    static const uint32_t bad[] = {60, 1000, 0x7FFFFFFFu, 0xFFFFFFFFu};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        for (int type = VALUE_HASH; type <= VALUE_SET; type++) {
            for (int where = 0; where < 3; where++) {
                if (where == 2 && type == VALUE_SET) {
                    continue; /* a set has no values */
                }
                struct buf b;
                img_header(&b, V4, 0, 0, 1);
                img_key(&b, (uint8_t)type, 0, "k", 1);
                buf_put_u32(&b, where == 0 ? bad[i] : 2);
                img_bytes(&b, "a", 1); /* first element, complete */
                if (type == VALUE_HASH) {
                    img_bytes(&b, "1", 1);
                }
                buf_put_u32(&b, where == 1 ? bad[i] : 1); /* second */
                buf_append(&b, "b", 1);
                if (type == VALUE_HASH) {
                    buf_put_u32(&b, where == 2 ? bad[i] : 1);
                    buf_append(&b, "2", 1);
                }
                img_finish(&b);
                expect_refused_structurally(b.data, b.len);
                buf_free(&b);
            }
        }
    }
}

/* A version 2 image (no clock, no store version, no key flags; strings and
 * lists) is still read: clock, stamps and expiry times all 0. */
static void test_accepts_version2(void **state)
{
    (void)state;
    struct buf b;
    img_header(&b, V2, 0, 77, 3);
    img_string(&b, "s", "hello");
    img_key(&b, VALUE_STRING, 0, "e\0", 2);
    img_bytes(&b, "", 0);
    img_key(&b, VALUE_LIST, 0, "l", 1);
    buf_put_u32(&b, 2);
    img_bytes(&b, "x", 1);
    img_bytes(&b, "", 0);
    size_t image_len = b.len + 8;
    img_finish(&b);
    assert_int_equal(image_len, IMAGE_HEADER_V2 + (6 + 1 + 4 + 5) +
                                    (6 + 2 + 4) + (6 + 1 + 4 + 5 + 4) + 8);
    struct snapshot_tail t;
    uint8_t *copy;
    struct store *s = decode_ok(b.data, b.len, &t, &copy);
    assert_true(t.image_index == 77 && t.index == 9 && t.count == 0);
    assert_int_equal(store_size(s), 3);
    assert_true(s->now_ms == 0 && s->version == 0);
    assert_int_equal(store_expires(s), 0);
    struct value *v = store_get(s, "s", 1);
    assert_non_null(v);
    assert_int_equal(v->type, VALUE_STRING);
    assert_int_equal(v->str.len, 5);
    assert_memory_equal(v->str.p, "hello", 5);
    assert_true(v->expire_ms == 0 && v->version == 0);
    v = store_get(s, "e\0", 2);
    assert_non_null(v);
    assert_int_equal(v->str.len, 0);
    v = store_get(s, "l", 1);
    assert_non_null(v);
    assert_int_equal(v->type, VALUE_LIST);
    assert_int_equal(value_list_len(v), 2);
    assert_int_equal(value_list_at(v, 0)->len, 1);
    assert_int_equal(value_list_at(v, 1)->len, 0);
    store_free(s);
    free(copy);
    buf_free(&b);

    /* Its duplicate keys and empty lists are refused as in version 4. */
    img_header(&b, V2, 0, 0, 2);
    img_string(&b, "k", "1");
    img_string(&b, "k", "2");
    img_finish(&b);
    expect_refused_structurally(b.data, b.len);
    buf_free(&b);
    img_header(&b, V2, 0, 0, 1);
    img_key(&b, VALUE_LIST, 0, "l", 1);
    buf_put_u32(&b, 0);
    img_finish(&b);
    expect_refused_structurally(b.data, b.len);
    buf_free(&b);
    /* A version 3 image read as version 2 (or the reverse) fails (the
     * fields shift: what is refused first may be the checksum). */
    img_header(&b, V3, 0, 0, 1);
    img_string(&b, "k", "v");
    img_finish(&b);
    put_le((uint8_t *)b.data + 8, V2, 4);
    img_refix(&b);
    expect_refused(b.data, b.len);
    buf_free(&b);
    img_header(&b, V2, 0, 0, 1);
    img_string(&b, "k", "v");
    img_finish(&b);
    put_le((uint8_t *)b.data + 8, V3, 4);
    img_refix(&b);
    expect_refused(b.data, b.len);
    buf_free(&b);
}

/* A version 3 image (no max node id) is still read, every type, key flag
 * and tombstone included: max node id 0. A version 4 header around the
 * same body carries the id; version 3 read as 4 (or the reverse) fails. */
static void test_accepts_version3(void **state)
{
    (void)state;
    for (uint32_t version = V3; version <= V4; version++) {
        struct buf b;
        buf_init(&b);
        buf_append(&b, "RRSNAP\0\1", 8);
        buf_put_u32(&b, version);
        buf_put_u32(&b, 0);
        buf_put_u64(&b, 77);             /* image index */
        buf_put_u64(&b, 1700000000000u); /* clock */
        buf_put_u64(&b, 50);             /* store version */
        if (version == V4) {
            buf_put_u64(&b, 6); /* max node id */
        }
        size_t tombs_at = b.len;
        buf_put_u32(&b, 1); /* tombstones */
        buf_put_u32(&b, 3);
        buf_put_u64(&b, 49);
        buf_put_u64(&b, 5); /* keys */
        img_key(&b, VALUE_STRING, KEY_EXPIRES | KEY_STAMPED, "s", 1);
        buf_put_u64(&b, 1800000000000u);
        buf_put_u64(&b, 50);
        img_bytes(&b, "hello", 5);
        img_key(&b, VALUE_LIST, 0, "l", 1);
        buf_put_u32(&b, 1);
        img_bytes(&b, "x", 1);
        img_key(&b, VALUE_HASH, KEY_STAMPED, "h", 1);
        buf_put_u64(&b, 7);
        buf_put_u32(&b, 1);
        img_bytes(&b, "f", 1);
        img_bytes(&b, "v", 1);
        img_key(&b, VALUE_SET, 0, "t", 1);
        buf_put_u32(&b, 2);
        img_bytes(&b, "a", 1);
        img_bytes(&b, "b", 1);
        img_key(&b, VALUE_ZSET, 0, "z", 1);
        buf_put_u32(&b, 1);
        img_bytes(&b, "m", 1);
        buf_put_u64(&b, 0x3FF0000000000000ull); /* 1.0 */
        img_finish(&b);
        assert_int_equal(tombs_at, version == V4 ? IMAGE_HEADER - 12
                                                 : IMAGE_HEADER_V3 - 12);
        struct snapshot_tail t;
        uint8_t *copy;
        struct store *s = decode_ok(b.data, b.len, &t, &copy);
        assert_true(t.image_index == 77 && t.index == 9 && t.count == 0);
        assert_true(s->max_node_id == (version == V4 ? 6 : 0));
        assert_true(s->now_ms == 1700000000000ll && s->version == 50);
        assert_true(s->tomb[3] == 49);
        assert_int_equal(store_size(s), 5);
        assert_int_equal(store_expires(s), 1);
        struct value *v = store_get(s, "s", 1);
        assert_non_null(v);
        assert_true(v->expire_ms == 1800000000000ll && v->version == 50);
        assert_int_equal(v->str.len, 5);
        assert_memory_equal(v->str.p, "hello", 5);
        v = store_get(s, "h", 1);
        assert_non_null(v);
        assert_int_equal(v->type, VALUE_HASH);
        assert_true(v->version == 7);
        v = store_get(s, "t", 1);
        assert_non_null(v);
        assert_int_equal(v->type, VALUE_SET);
        assert_int_equal(dict_size(v->dict), 2);
        v = store_get(s, "z", 1);
        assert_non_null(v);
        assert_int_equal(v->type, VALUE_ZSET);

        /* Written back, it is a version 4 image with the same state. */
        struct buf again;
        make_snapshot(s, 77, 9, NULL, 0, &again);
        assert_int_equal(again.data[8], V4);
        struct snapshot_tail t2;
        uint8_t *copy2;
        struct store *s2 = decode_ok(again.data, again.len, &t2, &copy2);
        expect_same_store(s, s2);
        assert_memory_equal(s2->tomb, s->tomb, sizeof s->tomb);
        store_free(s2);
        free(copy2);
        buf_free(&again);
        store_free(s);
        free(copy);

        /* The other version number on the same bytes: the fields shift. */
        put_le((uint8_t *)b.data + 8, version == V4 ? V3 : V4, 4);
        img_refix(&b);
        expect_refused(b.data, b.len);
        buf_free(&b);
    }
    /* Version 3's header size, with no tombstones. */
    struct buf b;
    img_header(&b, V3, 0, 0, 0);
    assert_int_equal(b.len, IMAGE_HEADER_V3);
    buf_free(&b);
    img_header(&b, V4, 0, 0, 0);
    assert_int_equal(b.len, IMAGE_HEADER);
    buf_free(&b);
}

/* The highest member id ever used comes back from the image, whatever the
 * rest of the store (streamed or encoded: the same bytes), at its place in
 * the header. */
static void test_max_node_id(void **state)
{
    (void)state;
    static const uint64_t ids[] = {
        0, 1, 2, 7, 0x100, 0xFFFFFFFFull, 0x100000000ull, UINT64_MAX};
    struct store *s = store_new();
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        s->max_node_id = ids[i];
        expect_roundtrip(s, i, i + 1, NULL, 0);
        expect_stream_equals_encode(s, i);
        struct buf b;
        make_snapshot(s, 1, 2, NULL, 0, &b);
        uint8_t want[8];
        put_le(want, ids[i], 8);
        assert_memory_equal(b.data + MAX_ID_AT, want, 8);
        struct snapshot_tail t;
        uint8_t *copy;
        struct store *d = decode_ok(b.data, b.len, &t, &copy);
        assert_true(d->max_node_id == ids[i]);
        store_free(d);
        free(copy);
        buf_free(&b);
    }
    /* With keys, tombstones, a clock and a store version around it. */
    fill_store(s, 300);
    s->now_ms = 1700000000000ll;
    s->version = 300;
    s->tomb[9] = 299;
    s->max_node_id = 42;
    static const struct tentry entries[] = {{"RAFT.NODEID 43", 14}};
    expect_roundtrip(s, 300, 301, entries, 1);
    store_free(s);

    /* A hand-made version 4 image with the id decodes to it. */
    struct buf b;
    img_header_ids(&b, V4, 0, 0, 5, 6, 0x0102030405060708ull, 1);
    img_string(&b, "k", "v");
    img_finish(&b);
    struct snapshot_tail t;
    uint8_t *copy;
    struct store *d = decode_ok(b.data, b.len, &t, &copy);
    assert_true(d->max_node_id == 0x0102030405060708ull);
    assert_true(d->now_ms == 5 && d->version == 6);
    assert_int_equal(store_size(d), 1);
    store_free(d);
    free(copy);
    buf_free(&b);
}

/* A version 4 image cut anywhere inside its max node id (or just before
 * it) is refused as truncated; one whose id is missing altogether (a
 * version 3 body under a version 4 header, checksum fixed up) is refused
 * too. */
static void test_refuses_truncated_max_node_id(void **state)
{
    (void)state;
    struct store *s = store_new();
    s->max_node_id = 0x1122334455667788ull;
    s->version = 3;
    struct buf b;
    make_snapshot(s, 1, 2, NULL, 0, &b);
    store_free(s);
    assert_int_equal(b.len, IMAGE_HEADER + 8 + 24);
    for (size_t n = MAX_ID_AT; n < MAX_ID_AT + 8; n++) {
        char err[160];
        expect_refused_err(b.data, n, err, sizeof err);
        assert_non_null(strstr(err, "truncated"));
    }
    buf_free(&b);

    /* The id is missing: the tombstone and key counts are read as the id,
     * then the checksum as the counts. */
    for (size_t keys = 0; keys <= 1; keys++) {
        img_header(&b, V3, 0, 0, keys);
        if (keys) {
            img_string(&b, "k", "v");
        }
        img_finish(&b);
        put_le((uint8_t *)b.data + 8, V4, 4);
        img_refix(&b);
        expect_refused(b.data, b.len);
        buf_free(&b);
    }
}

static void test_refuses_empty_list(void **state)
{
    (void)state;
    struct buf b;
    img_header(&b, V4, 0, 0, 2);
    img_string(&b, "first", "ok");
    img_key(&b, VALUE_LIST, 0, "l", 1);
    buf_put_u32(&b, 0);
    img_finish(&b);
    expect_refused_structurally(b.data, b.len);
    buf_free(&b);

    /* An empty list followed by what would be a valid next key. */
    img_header(&b, V4, 0, 0, 2);
    img_key(&b, VALUE_LIST, 0, "l", 1);
    buf_put_u32(&b, 0);
    img_string(&b, "next", "ok");
    img_finish(&b);
    expect_refused_structurally(b.data, b.len);
    buf_free(&b);
}

/* Lengths and counts that point past the data, with fixed checksums. */
static void test_refuses_bad_lengths(void **state)
{
    (void)state;
    /* All larger than the bytes left after the field (at most 38). */
    static const uint32_t bad[] = {39, 100, 1000, 0x7FFFFFFFu, 0xFFFFFFFFu};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct buf b;
        /* key length */
        img_header(&b, V4, 0, 0, 1);
        img_key(&b, VALUE_STRING, 0, "k", 1);
        img_bytes(&b, "v", 1);
        img_finish(&b);
        put_le((uint8_t *)b.data + IMAGE_HEADER + 2, bad[i], 4);
        img_refix(&b);
        expect_refused_structurally(b.data, b.len);
        buf_free(&b);
        /* string length */
        img_header(&b, V4, 0, 0, 1);
        img_key(&b, VALUE_STRING, 0, "k", 1);
        buf_put_u32(&b, bad[i]);
        buf_append(&b, "v", 1);
        img_finish(&b);
        expect_refused_structurally(b.data, b.len);
        buf_free(&b);
        /* element count */
        img_header(&b, V4, 0, 0, 1);
        img_key(&b, VALUE_LIST, 0, "l", 1);
        buf_put_u32(&b, bad[i]);
        img_bytes(&b, "e", 1);
        img_finish(&b);
        expect_refused_structurally(b.data, b.len);
        buf_free(&b);
        /* element length (second element, so the first is freed) */
        img_header(&b, V4, 0, 0, 1);
        img_key(&b, VALUE_LIST, 0, "l", 1);
        buf_put_u32(&b, 2);
        img_bytes(&b, "e", 1);
        buf_put_u32(&b, bad[i]);
        buf_append(&b, "f", 1);
        img_finish(&b);
        expect_refused_structurally(b.data, b.len);
        buf_free(&b);
    }
    /* Key count larger than the keys there are. */
    static const uint64_t counts[] = {2, 3, 1000, UINT64_MAX};
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        struct buf b;
        img_header(&b, V4, 0, 0, counts[i]);
        img_string(&b, "k", "v");
        img_finish(&b);
        expect_refused(b.data, b.len);
        buf_free(&b);
    }
}

/* Tails whose checksum is right (snapshot_tail_finish computes it) but
 * whose structure is not. */
static void test_refuses_bad_tail(void **state)
{
    (void)state;
    struct store *s = store_new();
    store_set(s, "k", 1, str("v"));
    struct buf img;
    buf_init(&img);
    snapshot_encode_image(s, 1, &img);
    static const uint64_t counts[] = {0, 1, 2, 4, 5, 1000, UINT64_MAX};
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        struct buf tail;
        buf_init(&tail);
        snapshot_tail_begin(&tail);
        snapshot_tail_add(&tail, "a", 1);
        snapshot_tail_add(&tail, "", 0);
        snapshot_tail_add(&tail, "ccc", 3);
        snapshot_tail_finish(&tail, 5, counts[i]); /* 3 were added */
        struct buf all;
        buf_init(&all);
        buf_append(&all, img.data, img.len);
        buf_append(&all, tail.data, tail.len);
        expect_refused_structurally(all.data, all.len);
        buf_free(&all);
        buf_free(&tail);
    }
    /* An entry length past the end of the tail. */
    static const uint32_t lens[] = {4, 5, 100, 0xFFFFFFFFu};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        struct buf tail;
        buf_init(&tail);
        snapshot_tail_begin(&tail);
        snapshot_tail_add(&tail, "a", 1);
        snapshot_tail_add(&tail, "ccc", 3);
        put_le((uint8_t *)tail.data + 16 + 5, lens[i], 4);
        snapshot_tail_finish(&tail, 5, 2);
        struct buf all;
        buf_init(&all);
        buf_append(&all, img.data, img.len);
        buf_append(&all, tail.data, tail.len);
        expect_refused_structurally(all.data, all.len);
        buf_free(&all);
        buf_free(&tail);
    }
    buf_free(&img);
    store_free(s);
}

/* A refusal after many keys were built frees them all (ASan's leak
 * checker), and an error buffer too small for the reason is fine. */
static void test_refusal_frees_partial_store(void **state)
{
    (void)state;
    struct store *s = store_new();
    fill_store(s, 5000);
    struct buf b;
    make_snapshot(s, 1, 2, NULL, 0, &b);
    store_free(s);
    b.data[b.len - 1] ^= 1; /* tail checksum: the last check of all */
    expect_refused(b.data, b.len);
    b.data[b.len - 1] ^= 1;
    b.data[b.len - 30] ^= 1; /* image checksum */
    expect_refused(b.data, b.len);
    char tiny[4];
    expect_refused_err(b.data, b.len, tiny, sizeof tiny);
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_store),
        cmocka_unit_test(test_byte_layout),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_block_boundaries),
        cmocka_unit_test(test_lists),
        cmocka_unit_test(test_hashes_and_sets),
        cmocka_unit_test(test_tombstones),
        cmocka_unit_test(test_expiry_and_stamps),
        cmocka_unit_test(test_many_keys),
        cmocka_unit_test(test_roundtrip_through_rehashing),
        cmocka_unit_test(test_write_image_equals_encode),
        cmocka_unit_test(test_sink_error_stops_writer),
        cmocka_unit_test(test_tail),
        cmocka_unit_test(test_refuses_every_flipped_byte),
        cmocka_unit_test(test_refuses_every_truncation),
        cmocka_unit_test(test_refuses_appended_garbage),
        cmocka_unit_test(test_refuses_bad_magic),
        cmocka_unit_test(test_refuses_wrong_version_and_flags),
        cmocka_unit_test(test_refuses_duplicate_key),
        cmocka_unit_test(test_refuses_unknown_type),
        cmocka_unit_test(test_refuses_key_flags),
        cmocka_unit_test(test_refuses_zero_expiry_and_stamp),
        cmocka_unit_test(test_refuses_duplicate_fields_and_members),
        cmocka_unit_test(test_refuses_empty_hash_and_set),
        cmocka_unit_test(test_refuses_bad_hash_and_set_lengths),
        cmocka_unit_test(test_accepts_version2),
        cmocka_unit_test(test_accepts_version3),
        cmocka_unit_test(test_max_node_id),
        cmocka_unit_test(test_refuses_truncated_max_node_id),
        cmocka_unit_test(test_refuses_empty_list),
        cmocka_unit_test(test_refuses_bad_lengths),
        cmocka_unit_test(test_refuses_bad_tail),
        cmocka_unit_test(test_refusal_frees_partial_store),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
