/* snapshot: the snapshot file format (see snapshot.h). */
#include "snapshot.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dict.h"
#include "store.h"
#include "value.h"
#include "zset.h"

#define SNAPSHOT_MAGIC   "RRSNAP\0\1"
#define SNAPSHOT_VERSION 4
#define KEY_EXPIRES      1u /* key flags: an i64 expiry time follows */
#define KEY_STAMPED      2u /* key flags: a u64 modification stamp follows */
#define SNAPSHOT_SEED    0x52524e53ull
#define TAIL_HEADER      16

/* --- writing the image ---------------------------------------------------- */

struct writer {
    snapshot_sink sink;
    void *arg;
    char *block;
    size_t len;    /* bytes in block */
    uint64_t hash; /* chained over the full blocks so far */
    uint64_t count;
    int err;
    bool values; /* the dict being written is a hash's */
};

static void w_flush(struct writer *w)
{
    if (w->len == 0 || w->err != 0) {
        return;
    }
    w->hash = store_hash(w->block, w->len, w->hash);
    w->err = w->sink(w->arg, w->block, w->len);
    w->len = 0;
}

static void w_put(struct writer *w, const void *p, size_t n)
{
    const char *s = p;
    while (n > 0 && w->err == 0) {
        size_t room = SNAPSHOT_BLOCK - w->len;
        size_t take = n < room ? n : room;
        memcpy(w->block + w->len, s, take);
        w->len += take;
        s += take;
        n -= take;
        if (w->len == SNAPSHOT_BLOCK) {
            w_flush(w);
        }
    }
}

static void w_u8(struct writer *w, uint8_t v)
{
    w_put(w, &v, 1);
}

static void w_u32(struct writer *w, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16),
                    (uint8_t)(v >> 24)};
    w_put(w, b, 4);
}

static void le64(uint8_t b[8], uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        b[i] = (uint8_t)(v >> (8 * i));
    }
}

static void w_u64(struct writer *w, uint64_t v)
{
    uint8_t b[8];
    le64(b, v);
    w_put(w, b, 8);
}

/* Lengths are 32-bit in the format: a longer one fails the snapshot
 * (EFBIG) rather than write a file that cannot be read back. */
static void w_len(struct writer *w, size_t n)
{
    if (n > UINT32_MAX) {
        if (w->err == 0) {
            w->err = EFBIG;
        }
        return;
    }
    w_u32(w, (uint32_t)n);
}

static void write_elem(void *arg, const struct dict_entry *e)
{
    struct writer *w = arg;
    w_len(w, e->klen);
    w_put(w, e->key, e->klen);
    if (w->values) { /* a hash field's value */
        const struct lelem *x = e->v;
        w_len(w, x->len);
        w_put(w, x->data, x->len);
    }
}

static void write_key(void *arg, const char *key, size_t klen,
                      const struct value *v)
{
    struct writer *w = arg;
    uint8_t flags = (v->expire_ms != 0 ? KEY_EXPIRES : 0) |
                    (v->version != 0 ? KEY_STAMPED : 0);
    w_u8(w, (uint8_t)v->type);
    w_u8(w, flags);
    w_len(w, klen);
    w_put(w, key, klen);
    if (flags & KEY_EXPIRES) {
        w_u64(w, (uint64_t)v->expire_ms);
    }
    if (flags & KEY_STAMPED) {
        w_u64(w, v->version);
    }
    if (v->type == VALUE_STRING) {
        w_len(w, v->str.len);
        w_put(w, v->str.p, v->str.len);
    } else if (v->type == VALUE_LIST) {
        size_t n = value_list_len(v);
        w_len(w, n);
        for (size_t i = 0; i < n && w->err == 0; i++) {
            const struct lelem *el = value_list_at(v, i);
            w_len(w, el->len);
            w_put(w, el->data, el->len);
        }
    } else if (v->type == VALUE_ZSET) {
        w_len(w, zset_len(v->zset));
        for (const struct zset_node *x = zset_first(v->zset);
             x != NULL && w->err == 0; x = zset_next(x)) {
            uint64_t bits;
            memcpy(&bits, &x->score, sizeof bits);
            w_len(w, x->len);
            w_put(w, x->member, x->len);
            w_u64(w, bits);
        }
    } else {
        w_len(w, dict_size(v->dict));
        w->values = v->type == VALUE_HASH;
        dict_foreach(v->dict, write_elem, w);
    }
    w->count++;
}

int snapshot_write_image(const struct store *s, uint64_t image_index,
                         snapshot_sink sink, void *arg,
                         char block[SNAPSHOT_BLOCK])
{
    struct writer w = {sink, arg, block, 0, SNAPSHOT_SEED, 0, 0, false};
    w_put(&w, SNAPSHOT_MAGIC, 8);
    w_u32(&w, SNAPSHOT_VERSION);
    w_u32(&w, 0);
    w_u64(&w, image_index);
    w_u64(&w, (uint64_t)s->now_ms);
    w_u64(&w, s->version);
    w_u64(&w, s->max_node_id);
    uint32_t ntombs = 0;
    for (size_t i = 0; i < STORE_TOMBS; i++) {
        ntombs += s->tomb[i] != 0;
    }
    w_u32(&w, ntombs);
    for (size_t i = 0; i < STORE_TOMBS; i++) {
        if (s->tomb[i] != 0) {
            w_u32(&w, (uint32_t)i);
            w_u64(&w, s->tomb[i]);
        }
    }
    w_u64(&w, store_size(s));
    store_foreach(s, write_key, &w);
    w_flush(&w);
    uint8_t sum[8];
    le64(sum, w.hash);
    if (w.err == 0) {
        w.err = sink(arg, sum, 8);
    }
    return w.err;
}

static int buf_sink(void *arg, const void *p, size_t n)
{
    buf_append(arg, p, n);
    return 0;
}

void snapshot_encode_image(const struct store *s, uint64_t image_index,
                           struct buf *out)
{
    struct buf block;
    buf_init(&block);
    snapshot_write_image(s, image_index, buf_sink, out,
                         buf_reserve(&block, SNAPSHOT_BLOCK));
    buf_free(&block);
}

/* --- the tail ------------------------------------------------------------- */

void snapshot_tail_begin(struct buf *tail)
{
    buf_clear(tail);
    memset(buf_reserve(tail, TAIL_HEADER), 0, TAIL_HEADER);
    tail->len += TAIL_HEADER;
}

int snapshot_tail_add(struct buf *tail, const void *entry, size_t len)
{
    if (len > UINT32_MAX) {
        return EFBIG;
    }
    buf_put_u32(tail, (uint32_t)len);
    buf_append(tail, entry, len);
    return 0;
}

void snapshot_tail_finish(struct buf *tail, uint64_t index, uint64_t count)
{
    le64((uint8_t *)tail->data, index);
    le64((uint8_t *)tail->data + 8, count);
    buf_put_u64(tail, store_hash(tail->data, tail->len, SNAPSHOT_SEED));
}

/* --- decoding ------------------------------------------------------------- */

struct decoder {
    const uint8_t *p, *end;
};

static int take(struct decoder *d, size_t n, const uint8_t **out)
{
    if ((size_t)(d->end - d->p) < n) {
        return -1;
    }
    *out = d->p;
    d->p += n;
    return 0;
}

static uint64_t get_le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++) {
        v |= (uint64_t)p[i] << (8 * i);
    }
    return v;
}

static int take_u32(struct decoder *d, uint32_t *v)
{
    const uint8_t *p;
    if (take(d, 4, &p) != 0) {
        return -1;
    }
    *v = (uint32_t)get_le(p, 4);
    return 0;
}

static int take_u64(struct decoder *d, uint64_t *v)
{
    const uint8_t *p;
    if (take(d, 8, &p) != 0) {
        return -1;
    }
    *v = get_le(p, 8);
    return 0;
}

/* Decode a hash's or a set's n >= 1 elements into v; returns 0 or -1
 * (duplicates included). */
static int decode_elems(struct decoder *d, struct value *v, uint32_t n)
{
    if (n == 0) {
        return -1;
    }
    for (uint32_t i = 0; i < n; i++) {
        uint32_t klen, vlen;
        const uint8_t *key, *bytes;
        if (take_u32(d, &klen) != 0 || take(d, klen, &key) != 0) {
            return -1;
        }
        struct lelem *x = NULL;
        if (v->type == VALUE_HASH) {
            if (take_u32(d, &vlen) != 0 || take(d, vlen, &bytes) != 0) {
                return -1;
            }
            x = lelem_new(bytes, vlen);
        }
        if (dict_add(v->dict, key, klen, x) == NULL) {
            free(x);
            return -1;
        }
    }
    return 0;
}

/* Decode a sorted set's n >= 1 members into v; returns 0 or -1 (NaN
 * scores and duplicate members included). */
static int decode_zset(struct decoder *d, struct value *v, uint32_t n)
{
    if (n == 0) {
        return -1;
    }
    for (uint32_t i = 0; i < n; i++) {
        uint32_t mlen;
        uint64_t bits;
        const uint8_t *m;
        double score;
        if (take_u32(d, &mlen) != 0 || take(d, mlen, &m) != 0 ||
            take_u64(d, &bits) != 0) {
            return -1;
        }
        memcpy(&score, &bits, sizeof score);
        if (score != score || zset_add(v->zset, m, mlen, score) != ZSET_ADDED) {
            return -1;
        }
    }
    return 0;
}

/* Decode one key into s; returns 0 or -1. Version 2 keys have no flags,
 * and only strings and lists. */
static int decode_key(struct decoder *d, struct store *s, uint32_t version)
{
    const uint8_t *type, *flags, *key, *bytes;
    uint32_t klen, n;
    uint64_t expire = 0, stamp = 0;
    unsigned allowed = version >= 3 ? KEY_EXPIRES | KEY_STAMPED : 0;
    if (take(d, 1, &type) != 0 || take(d, 1, &flags) != 0 ||
        (*flags & ~allowed) != 0 || take_u32(d, &klen) != 0 ||
        take(d, klen, &key) != 0) {
        return -1;
    }
    if (((*flags & KEY_EXPIRES) &&
         (take_u64(d, &expire) != 0 || expire == 0 || expire > INT64_MAX)) ||
        ((*flags & KEY_STAMPED) && (take_u64(d, &stamp) != 0 || stamp == 0))) {
        return -1;
    }
    struct value *v;
    if (*type == VALUE_STRING) {
        if (take_u32(d, &n) != 0 || take(d, n, &bytes) != 0) {
            return -1;
        }
        v = value_new_string(bytes, n);
    } else if (*type == VALUE_LIST) {
        if (take_u32(d, &n) != 0 || n == 0) {
            return -1;
        }
        v = value_new_list();
        for (uint32_t i = 0; i < n; i++) {
            uint32_t len;
            if (take_u32(d, &len) != 0 || take(d, len, &bytes) != 0) {
                value_free(v);
                return -1;
            }
            value_list_push(v, false, bytes, len);
        }
    } else if ((*type == VALUE_HASH || *type == VALUE_SET) && version >= 3) {
        if (take_u32(d, &n) != 0) {
            return -1;
        }
        v = *type == VALUE_HASH ? value_new_hash() : value_new_set();
        if (decode_elems(d, v, n) != 0) {
            value_free(v);
            return -1;
        }
    } else if (*type == VALUE_ZSET && version >= 3) {
        if (take_u32(d, &n) != 0) {
            return -1;
        }
        v = value_new_zset();
        if (decode_zset(d, v, n) != 0) {
            value_free(v);
            return -1;
        }
    } else {
        return -1;
    }
    v->expire_ms = (int64_t)expire;
    v->version = stamp;
    if (!store_add(s, key, klen, v)) {
        value_free(v);
        return -1; /* duplicate key */
    }
    return 0;
}

/* Tombstones: u32 count, then (u32 slot, u64 version) with slots strictly
 * increasing below STORE_TOMBS and versions in 1..store version. */
static int decode_tombs(struct decoder *d, struct store *s, uint64_t stamps)
{
    uint32_t n, slot;
    uint64_t v;
    long long prev = -1;
    if (take_u32(d, &n) != 0 || n > STORE_TOMBS) {
        return -1;
    }
    for (uint32_t i = 0; i < n; i++) {
        if (take_u32(d, &slot) != 0 || take_u64(d, &v) != 0 ||
            (long long)slot <= prev || slot >= STORE_TOMBS || v == 0 ||
            v > stamps) {
            return -1;
        }
        s->tomb[slot] = v;
        prev = slot;
    }
    return 0;
}

static uint64_t image_checksum(const uint8_t *p, size_t n)
{
    uint64_t h = SNAPSHOT_SEED;
    while (n > 0) {
        size_t take_n = n < SNAPSHOT_BLOCK ? n : SNAPSHOT_BLOCK;
        h = store_hash(p, take_n, h);
        p += take_n;
        n -= take_n;
    }
    return h;
}

/* Validate the tail at [p, end): structure and checksum. */
static int decode_tail(const uint8_t *p, const uint8_t *end,
                       struct snapshot_tail *t, char *err, size_t errlen)
{
    size_t len = (size_t)(end - p);
    if (len < TAIL_HEADER + 8) {
        snprintf(err, errlen, "truncated snapshot (no tail)");
        return -1;
    }
    if (store_hash(p, len - 8, SNAPSHOT_SEED) != get_le(end - 8, 8)) {
        snprintf(err, errlen, "snapshot tail checksum mismatch");
        return -1;
    }
    t->index = get_le(p, 8);
    t->count = get_le(p + 8, 8);
    struct decoder d = {p + TAIL_HEADER, end - 8};
    for (uint64_t i = 0; i < t->count; i++) {
        uint32_t n;
        const uint8_t *bytes;
        if (take_u32(&d, &n) != 0 || take(&d, n, &bytes) != 0) {
            snprintf(err, errlen, "corrupt snapshot tail at entry %llu",
                     (unsigned long long)i);
            return -1;
        }
    }
    if (d.p != d.end) {
        snprintf(err, errlen, "trailing bytes in snapshot tail");
        return -1;
    }
    t->next = p + TAIL_HEADER;
    t->end = end - 8;
    return 0;
}

int snapshot_tail_next(struct snapshot_tail *t, const void **entry, size_t *len)
{
    if (t->next >= t->end) {
        return 0;
    }
    uint32_t n = (uint32_t)get_le(t->next, 4);
    *entry = t->next + 4;
    *len = n;
    t->next += 4 + (size_t)n;
    return 1;
}

struct store *snapshot_decode(const void *data, size_t len,
                              struct snapshot_tail *tail, char *err,
                              size_t errlen)
{
    struct decoder d = {data, (const uint8_t *)data + len};
    const uint8_t *magic;
    uint32_t version, flags;
    uint64_t image_index, count, sum, clock = 0, stamps = 0, max_id = 0;
    if (take(&d, 8, &magic) != 0 || memcmp(magic, SNAPSHOT_MAGIC, 8) != 0) {
        snprintf(err, errlen, "not a redis-raft snapshot (bad magic)");
        return NULL;
    }
    if (take_u32(&d, &version) != 0 || version < 2 ||
        version > SNAPSHOT_VERSION || take_u32(&d, &flags) != 0 || flags != 0) {
        snprintf(err, errlen, "unsupported snapshot version or flags");
        return NULL;
    }
    if (take_u64(&d, &image_index) != 0 ||
        (version >= 3 &&
         (take_u64(&d, &clock) != 0 || take_u64(&d, &stamps) != 0)) ||
        (version >= 4 && take_u64(&d, &max_id) != 0)) {
        snprintf(err, errlen, "truncated snapshot");
        return NULL;
    }
    if (clock > INT64_MAX) {
        snprintf(err, errlen, "bad snapshot clock");
        return NULL;
    }
    struct store *s = store_new();
    if ((version >= 3 && decode_tombs(&d, s, stamps) != 0) ||
        take_u64(&d, &count) != 0) {
        snprintf(err, errlen, "truncated snapshot or bad tombstones");
        store_free(s);
        return NULL;
    }
    /* Every key takes at least 10 bytes: a count the data cannot hold is
     * refused below, but must not size the table first. */
    if (count <= len / 10) {
        store_reserve(s, (size_t)count);
    }
    for (uint64_t i = 0; i < count; i++) {
        if (decode_key(&d, s, version) != 0) {
            snprintf(err, errlen, "corrupt or truncated snapshot at key %llu",
                     (unsigned long long)i);
            store_free(s);
            return NULL;
        }
    }
    size_t image_len = (size_t)(d.p - (const uint8_t *)data);
    if (take_u64(&d, &sum) != 0) {
        snprintf(err, errlen, "truncated snapshot");
        store_free(s);
        return NULL;
    }
    if (image_checksum(data, image_len) != sum) {
        snprintf(err, errlen, "snapshot checksum mismatch");
        store_free(s);
        return NULL;
    }
    if (decode_tail(d.p, d.end, tail, err, errlen) != 0) {
        store_free(s);
        return NULL;
    }
    tail->image_index = image_index;
    s->now_ms = (int64_t)clock;
    s->version = stamps;
    s->max_node_id = max_id;
    return s;
}
