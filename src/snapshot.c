/* snapshot: keyspace (de)serialisation (see snapshot.h). */
#include "snapshot.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "store.h"
#include "value.h"

#define SNAPSHOT_MAGIC   "RRSNAP\0\1"
#define SNAPSHOT_VERSION 1
#define SNAPSHOT_SEED    0x52524e53ull

struct encoder {
    struct buf *out;
    uint64_t count;
};

static void encode_key(void *arg, const char *key, size_t klen,
                       const struct value *v)
{
    struct encoder *e = arg;
    buf_put_u8(e->out, (uint8_t)v->type);
    buf_put_u32(e->out, (uint32_t)klen);
    buf_append(e->out, key, klen);
    if (v->type == VALUE_STRING) {
        buf_put_u32(e->out, (uint32_t)v->str.len);
        buf_append(e->out, v->str.p, v->str.len);
    } else {
        size_t n = value_list_len(v);
        buf_put_u32(e->out, (uint32_t)n);
        for (size_t i = 0; i < n; i++) {
            const struct lelem *el = value_list_at(v, i);
            buf_put_u32(e->out, (uint32_t)el->len);
            buf_append(e->out, el->data, el->len);
        }
    }
    e->count++;
}

void snapshot_encode(struct store *s, struct buf *out)
{
    size_t start = out->len;
    buf_append(out, SNAPSHOT_MAGIC, 8);
    buf_put_u32(out, SNAPSHOT_VERSION);
    buf_put_u32(out, 0);
    buf_put_u64(out, store_size(s));
    struct encoder e = {out, 0};
    store_foreach(s, encode_key, &e);
    buf_put_u64(out,
                store_hash(out->data + start, out->len - start, SNAPSHOT_SEED));
}

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

static int take_u32(struct decoder *d, uint32_t *v)
{
    const uint8_t *p;
    if (take(d, 4, &p) != 0) {
        return -1;
    }
    *v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
    return 0;
}

static int take_u64(struct decoder *d, uint64_t *v)
{
    uint32_t lo, hi;
    if (take_u32(d, &lo) != 0 || take_u32(d, &hi) != 0) {
        return -1;
    }
    *v = (uint64_t)lo | (uint64_t)hi << 32;
    return 0;
}

/* Decode one key into s; returns 0 or -1. */
static int decode_key(struct decoder *d, struct store *s)
{
    const uint8_t *type, *key, *bytes;
    uint32_t klen, n;
    if (take(d, 1, &type) != 0 || take_u32(d, &klen) != 0 ||
        take(d, klen, &key) != 0) {
        return -1;
    }
    if (store_get(s, key, klen) != NULL) {
        return -1; /* duplicate key */
    }
    struct value *v;
    if (*type == VALUE_STRING) {
        if (take_u32(d, &n) != 0 || take(d, n, &bytes) != 0) {
            return -1;
        }
        v = value_new_string(bytes, n);
    } else if (*type == VALUE_LIST) {
        if (take_u32(d, &n) != 0) {
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
    } else {
        return -1;
    }
    store_set(s, key, klen, v);
    return 0;
}

struct store *snapshot_decode(const void *data, size_t len, char *err,
                              size_t errlen)
{
    struct decoder d = {data, (const uint8_t *)data + len};
    const uint8_t *magic;
    uint32_t version, reserved;
    uint64_t count, sum = 0;
    if (len < 32 || take(&d, 8, &magic) != 0 ||
        memcmp(magic, SNAPSHOT_MAGIC, 8) != 0) {
        snprintf(err, errlen, "not a redis-raft snapshot (bad magic)");
        return NULL;
    }
    if (take_u32(&d, &version) != 0 || version != SNAPSHOT_VERSION ||
        take_u32(&d, &reserved) != 0 || reserved != 0) {
        snprintf(err, errlen, "unsupported snapshot version");
        return NULL;
    }
    struct decoder tail = {(const uint8_t *)data + len - 8,
                           (const uint8_t *)data + len};
    take_u64(&tail, &sum);
    if (store_hash(data, len - 8, SNAPSHOT_SEED) != sum) {
        snprintf(err, errlen, "snapshot checksum mismatch");
        return NULL;
    }
    d.end = (const uint8_t *)data + len - 8;
    if (take_u64(&d, &count) != 0) {
        snprintf(err, errlen, "truncated snapshot");
        return NULL;
    }
    struct store *s = store_new();
    for (uint64_t i = 0; i < count; i++) {
        if (decode_key(&d, s) != 0) {
            snprintf(err, errlen, "corrupt snapshot at key %llu",
                     (unsigned long long)i);
            store_free(s);
            return NULL;
        }
    }
    if (d.p != d.end) {
        snprintf(err, errlen, "trailing bytes in snapshot");
        store_free(s);
        return NULL;
    }
    return s;
}
