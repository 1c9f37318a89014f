/* value: strings and lists. */
#include "value.h"

#include <stdlib.h>
#include <string.h>

#include "dict.h"
#include "mem.h"
#include "zset.h"

struct value *value_new_string(const void *p, size_t len)
{
    struct value *v = xcalloc(1, sizeof *v);
    v->type = VALUE_STRING;
    v->str.p = xmemdup(p, len);
    v->str.len = len;
    v->str.cap = len;
    return v;
}

void value_string_set(struct value *v, const void *p, size_t len)
{
    if (len > v->str.cap) {
        v->str.p = xrealloc(v->str.p, len + 1);
        v->str.cap = len;
    }
    memmove(v->str.p, p, len);
    v->str.p[len] = '\0';
    v->str.len = len;
}

void value_string_append(struct value *v, const void *p, size_t len)
{
    size_t need = v->str.len + len;
    if (need > v->str.cap) {
        size_t cap = v->str.cap * 2 > need ? v->str.cap * 2 : need;
        v->str.p = xrealloc(v->str.p, cap + 1);
        v->str.cap = cap;
    }
    memcpy(v->str.p + v->str.len, p, len);
    v->str.len = need;
    v->str.p[need] = '\0';
}

struct value *value_new_list(void)
{
    struct value *v = xcalloc(1, sizeof *v);
    v->type = VALUE_LIST;
    v->list.cap = 8;
    v->list.items = xmalloc(v->list.cap * sizeof *v->list.items);
    v->list.head = 0;
    v->list.len = 0;
    return v;
}

void value_free(struct value *v)
{
    if (v == NULL) {
        return;
    }
    if (v->type == VALUE_STRING) {
        free(v->str.p);
    } else if (v->type == VALUE_HASH || v->type == VALUE_SET) {
        dict_free(v->dict);
    } else if (v->type == VALUE_ZSET) {
        zset_free(v->zset);
    } else {
        for (size_t i = 0; i < v->list.len; i++) {
            free(value_list_at(v, i));
        }
        free(v->list.items);
    }
    free(v);
}

static void free_elem(void *p)
{
    free(p);
}

struct value *value_new_hash(void)
{
    struct value *v = xcalloc(1, sizeof *v);
    v->type = VALUE_HASH;
    v->dict = dict_new(free_elem);
    return v;
}

struct value *value_new_set(void)
{
    struct value *v = xcalloc(1, sizeof *v);
    v->type = VALUE_SET;
    v->dict = dict_new(NULL);
    return v;
}

struct value *value_new_zset(void)
{
    struct value *v = xcalloc(1, sizeof *v);
    v->type = VALUE_ZSET;
    v->zset = zset_new();
    return v;
}

static void dup_entry(void *arg, const struct dict_entry *e)
{
    struct value *to = arg;
    void *copy = NULL;
    if (to->type == VALUE_HASH) {
        const struct lelem *x = e->v;
        copy = lelem_new(x->data, x->len);
    }
    dict_set(to->dict, e->key, e->klen, copy);
}

struct value *value_dup(const struct value *v)
{
    struct value *c;
    if (v->type == VALUE_ZSET) {
        c = xcalloc(1, sizeof *c);
        c->type = VALUE_ZSET;
        c->zset = zset_dup(v->zset);
        c->expire_ms = v->expire_ms;
        return c;
    }
    switch (v->type) {
    case VALUE_STRING:
        c = value_new_string(v->str.p, v->str.len);
        break;
    case VALUE_LIST:
        c = value_new_list();
        for (size_t i = 0; i < v->list.len; i++) {
            const struct lelem *e = value_list_at(v, i);
            value_list_push(c, false, e->data, e->len);
        }
        break;
    default:
        c = v->type == VALUE_HASH ? value_new_hash() : value_new_set();
        dict_reserve(c->dict, dict_size(v->dict));
        dict_foreach(v->dict, dup_entry, c);
        break;
    }
    c->expire_ms = v->expire_ms;
    return c;
}

struct lelem *lelem_new(const void *p, size_t len)
{
    struct lelem *e = xmalloc(sizeof *e + len + 1);
    e->len = len;
    if (len > 0) {
        memcpy(e->data, p, len);
    }
    e->data[len] = '\0';
    return e;
}

size_t value_list_len(const struct value *v)
{
    return v->list.len;
}

static size_t slot(const struct value *v, size_t idx)
{
    return (v->list.head + idx) & (v->list.cap - 1);
}

/* Double the ring (cap stays a power of two) and unwrap it at slot 0. */
static void grow(struct value *v)
{
    size_t cap = v->list.cap * 2;
    struct lelem **items = xmalloc(cap * sizeof *items);
    for (size_t i = 0; i < v->list.len; i++) {
        items[i] = v->list.items[slot(v, i)];
    }
    free(v->list.items);
    v->list.items = items;
    v->list.cap = cap;
    v->list.head = 0;
}

void value_list_push(struct value *v, bool head, const void *p, size_t len)
{
    if (v->list.len == v->list.cap) {
        grow(v);
    }
    struct lelem *e = lelem_new(p, len);
    if (head) {
        v->list.head = (v->list.head + v->list.cap - 1) & (v->list.cap - 1);
        v->list.items[v->list.head] = e;
    } else {
        v->list.items[slot(v, v->list.len)] = e;
    }
    v->list.len++;
}

struct lelem *value_list_pop(struct value *v, bool head)
{
    if (v->list.len == 0) {
        return NULL;
    }
    struct lelem *e;
    if (head) {
        e = v->list.items[v->list.head];
        v->list.head = (v->list.head + 1) & (v->list.cap - 1);
    } else {
        e = v->list.items[slot(v, v->list.len - 1)];
    }
    v->list.len--;
    return e;
}

struct lelem *value_list_at(const struct value *v, size_t idx)
{
    return v->list.items[slot(v, idx)];
}

void value_list_set(struct value *v, size_t idx, const void *p, size_t len)
{
    size_t s = slot(v, idx);
    free(v->list.items[s]);
    v->list.items[s] = lelem_new(p, len);
}

static bool elem_eq(const struct lelem *e, const void *p, size_t len)
{
    return e->len == len && (len == 0 || memcmp(e->data, p, len) == 0);
}

size_t value_list_remove(struct value *v, long long count, const void *p,
                         size_t len)
{
    size_t n = v->list.len;
    /* |count| without negating LLONG_MIN. */
    unsigned long long mag = count < 0 ? 0ull - (unsigned long long)count
                                       : (unsigned long long)count;
    size_t limit = count == 0 || mag > n ? n : (size_t)mag;
    size_t removed = 0;
    /* Compact the survivors in place, walking from the chosen end. */
    if (count >= 0) {
        size_t w = 0;
        for (size_t r = 0; r < n; r++) {
            struct lelem *e = v->list.items[slot(v, r)];
            if (removed < limit && elem_eq(e, p, len)) {
                free(e);
                removed++;
            } else {
                v->list.items[slot(v, w++)] = e;
            }
        }
    } else {
        size_t w = n;
        for (size_t r = n; r-- > 0;) {
            struct lelem *e = v->list.items[slot(v, r)];
            if (removed < limit && elem_eq(e, p, len)) {
                free(e);
                removed++;
            } else {
                v->list.items[slot(v, --w)] = e;
            }
        }
        v->list.head = slot(v, removed);
    }
    v->list.len = n - removed;
    return removed;
}

void value_list_trim(struct value *v, size_t start, size_t stop)
{
    size_t n = v->list.len;
    if (start > stop || start >= n) {
        for (size_t i = 0; i < n; i++) {
            free(value_list_at(v, i));
        }
        v->list.len = 0;
        v->list.head = 0;
        return;
    }
    if (stop >= n) {
        stop = n - 1;
    }
    for (size_t i = 0; i < start; i++) {
        free(value_list_at(v, i));
    }
    for (size_t i = stop + 1; i < n; i++) {
        free(value_list_at(v, i));
    }
    v->list.head = slot(v, start);
    v->list.len = stop - start + 1;
}
