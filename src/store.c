/* store: the keyspace over a dict, with expiry and stamps (see store.h). */
#include "store.h"

#include <stdlib.h>
#include <string.h>

#include "mem.h"

static void free_value(void *v)
{
    value_free(v);
}

uint64_t store_hash(const void *p, size_t n, uint64_t seed)
{
    return dict_hash(p, n, seed);
}

size_t store_tomb_slot(const void *key, size_t klen)
{
    return (size_t)(dict_hash(key, klen, 0x70AB5703Eull) % STORE_TOMBS);
}

uint64_t store_tomb(const struct store *s, const void *key, size_t klen)
{
    return s->tomb[store_tomb_slot(key, klen)];
}

static void bury(struct store *s, const void *key, size_t klen)
{
    s->tomb[store_tomb_slot(key, klen)] = s->version;
}

struct store *store_new(void)
{
    struct store *s = xcalloc(1, sizeof *s);
    s->d = dict_new(free_value);
    return s;
}

void store_free(struct store *s)
{
    if (s == NULL) {
        return;
    }
    dict_free(s->d);
    free(s);
}

static void bury_entry(void *arg, const struct dict_entry *e)
{
    bury(arg, e->key, e->klen);
}

void store_clear(struct store *s)
{
    dict_foreach(s->d, bury_entry, s);
    dict_clear(s->d);
    s->nexpires = 0;
}

size_t store_size(const struct store *s)
{
    return dict_size(s->d);
}

size_t store_expires(const struct store *s)
{
    return s->nexpires;
}

int64_t store_clock_peek(struct store *s, int64_t now_ms)
{
    int64_t clock = s->now_ms;
    if (now_ms > clock) {
        s->now_ms = now_ms;
    }
    return clock;
}

bool store_expired(const struct store *s, const struct value *v)
{
    return v->expire_ms != 0 && s->now_ms > v->expire_ms;
}

struct value *store_get_raw(struct store *s, const void *key, size_t klen)
{
    struct dict_entry *e = dict_find(s->d, key, klen);
    return e ? e->v : NULL;
}

/* Account for v leaving the store. */
static void forget(struct store *s, const struct value *v)
{
    if (v != NULL && v->expire_ms != 0) {
        s->nexpires--;
    }
}

struct value *store_get(struct store *s, const void *key, size_t klen)
{
    struct dict_entry *e = dict_find(s->d, key, klen);
    if (e == NULL) {
        return NULL;
    }
    struct value *v = e->v;
    if (!store_expired(s, v)) {
        return v;
    }
    if (s->writable) {
        forget(s, v);
        bury(s, key, klen);
        dict_del(s->d, key, klen);
        s->expired_keys++;
    }
    return NULL;
}

void store_set(struct store *s, const void *key, size_t klen, struct value *v)
{
    struct dict_entry *e = dict_find(s->d, key, klen);
    if (e != NULL && e->v == v) {
        return;
    }
    if (e != NULL) {
        forget(s, e->v);
    }
    if (v->expire_ms != 0) {
        s->nexpires++;
    }
    dict_set(s->d, key, klen, v);
}

bool store_add(struct store *s, const void *key, size_t klen, struct value *v)
{
    if (store_get(s, key, klen) != NULL) {
        return false;
    }
    store_set(s, key, klen, v);
    return true;
}

void store_reserve(struct store *s, size_t n)
{
    dict_reserve(s->d, n);
}

struct value *store_take(struct store *s, const void *key, size_t klen)
{
    if (store_get(s, key, klen) == NULL) {
        return NULL;
    }
    void *v;
    dict_take(s->d, key, klen, &v);
    forget(s, v);
    bury(s, key, klen);
    return v;
}

bool store_del(struct store *s, const void *key, size_t klen)
{
    struct value *v = store_take(s, key, klen);
    if (v == NULL) {
        return false;
    }
    value_free(v);
    return true;
}

void store_set_expire(struct store *s, struct value *v, int64_t when_ms)
{
    if (v->expire_ms != 0) {
        s->nexpires--;
    }
    v->expire_ms = when_ms;
    if (when_ms != 0) {
        s->nexpires++;
    }
}

void store_stamp(struct store *s, const void *key, size_t klen)
{
    struct dict_entry *e = dict_find(s->d, key, klen);
    if (e != NULL) {
        ((struct value *)e->v)->version = s->version;
    }
}

struct visit {
    store_visit_fn fn;
    void *arg;
};

static void visit(void *arg, const struct dict_entry *e)
{
    struct visit *vi = arg;
    vi->fn(vi->arg, e->key, e->klen, e->v);
}

void store_foreach(const struct store *s, store_visit_fn fn, void *arg)
{
    struct visit vi = {fn, arg};
    dict_foreach(s->d, visit, &vi);
}

uint64_t store_scan(const struct store *s, uint64_t cursor, store_visit_fn fn,
                    void *arg)
{
    struct visit vi = {fn, arg};
    return dict_scan(s->d, cursor, visit, &vi);
}
