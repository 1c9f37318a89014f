/* dict: chained hash table with incremental rehashing (see dict.h). */
#include "dict.h"

#include <stdlib.h>
#include <string.h>

#include "mem.h"

struct table {
    struct dict_entry **b;
    size_t size; /* 0 or a power of two */
    size_t used;
};

struct dict {
    struct table t[2];
    long rehash; /* next bucket of t[0] to move, -1 when not rehashing */
    uint64_t seed;
    dict_free_fn free_value;
};

#define DICT_MIN_SIZE 16

uint64_t dict_hash(const void *p, size_t n, uint64_t seed)
{
    /* Multiply-xorshift over 8-byte words; not cryptographic. */
    const unsigned char *s = p;
    uint64_t h = seed ^ (n * 0x9E3779B97F4A7C15ull);
    while (n >= 8) {
        uint64_t k;
        memcpy(&k, s, 8);
        k *= 0xBF58476D1CE4E5B9ull;
        k ^= k >> 31;
        h = (h ^ k) * 0x94D049BB133111EBull;
        h ^= h >> 29;
        s += 8;
        n -= 8;
    }
    uint64_t k = 0;
    for (size_t i = 0; i < n; i++) {
        k |= (uint64_t)s[i] << (8 * i);
    }
    h = (h ^ (k * 0xBF58476D1CE4E5B9ull)) * 0x94D049BB133111EBull;
    h ^= h >> 32;
    h *= 0xD6E8FEB86659FD93ull;
    h ^= h >> 32;
    return h;
}

struct dict *dict_new(dict_free_fn free_value)
{
    struct dict *d = xcalloc(1, sizeof *d);
    d->rehash = -1;
    d->seed = 0x5EED5EED12345678ull ^ (uint64_t)(uintptr_t)d;
    d->free_value = free_value;
    return d;
}

static void table_free(struct dict *d, struct table *t)
{
    for (size_t i = 0; i < t->size; i++) {
        struct dict_entry *e = t->b[i];
        while (e != NULL) {
            struct dict_entry *next = e->next;
            if (d->free_value != NULL) {
                d->free_value(e->v);
            }
            free(e);
            e = next;
        }
    }
    free(t->b);
    memset(t, 0, sizeof *t);
}

void dict_clear(struct dict *d)
{
    table_free(d, &d->t[0]);
    table_free(d, &d->t[1]);
    d->rehash = -1;
}

void dict_free(struct dict *d)
{
    if (d == NULL) {
        return;
    }
    dict_clear(d);
    free(d);
}

size_t dict_size(const struct dict *d)
{
    return d->t[0].used + d->t[1].used;
}

static bool rehashing(const struct dict *d)
{
    return d->rehash != -1;
}

/* Move up to one non-empty bucket (visiting at most 10 empty ones). */
static void rehash_step(struct dict *d)
{
    if (!rehashing(d)) {
        return;
    }
    int empty = 10;
    struct table *from = &d->t[0], *to = &d->t[1];
    while ((size_t)d->rehash < from->size && from->b[d->rehash] == NULL) {
        d->rehash++;
        if (--empty == 0) {
            return;
        }
    }
    if ((size_t)d->rehash < from->size) {
        struct dict_entry *e = from->b[d->rehash];
        while (e != NULL) {
            struct dict_entry *next = e->next;
            size_t i = e->hash & (to->size - 1);
            e->next = to->b[i];
            to->b[i] = e;
            from->used--;
            to->used++;
            e = next;
        }
        from->b[d->rehash] = NULL;
        d->rehash++;
    }
    if ((size_t)d->rehash >= from->size) {
        free(from->b);
        *from = *to;
        memset(to, 0, sizeof *to);
        d->rehash = -1;
    }
}

static void start_rehash(struct dict *d, size_t size)
{
    if (d->t[0].size == 0) {
        d->t[0].b = xcalloc(size, sizeof(struct dict_entry *));
        d->t[0].size = size;
        return;
    }
    d->t[1].b = xcalloc(size, sizeof(struct dict_entry *));
    d->t[1].size = size;
    d->t[1].used = 0;
    d->rehash = 0;
}

/* Grow when the load factor reaches 1 (checked on insert), shrink below
 * 1/8 (checked on delete only, so a table sized up front by dict_reserve
 * is not shrunk by the first inserts). */
static void maybe_resize(struct dict *d, bool inserting)
{
    if (rehashing(d)) {
        return;
    }
    size_t size = d->t[0].size, used = d->t[0].used;
    if (size == 0) {
        start_rehash(d, DICT_MIN_SIZE);
    } else if (inserting && used >= size) {
        start_rehash(d, size * 2);
    } else if (!inserting && size > DICT_MIN_SIZE && used < size / 8) {
        size_t target = DICT_MIN_SIZE;
        while (target < used * 2) {
            target *= 2;
        }
        start_rehash(d, target);
    }
}

static struct dict_entry **find_link(struct dict *d, const void *key,
                                     size_t klen, uint64_t h,
                                     struct table **owner)
{
    for (int t = 0; t < 2; t++) {
        struct table *tab = &d->t[t];
        if (tab->size == 0) {
            continue;
        }
        struct dict_entry **link = &tab->b[h & (tab->size - 1)];
        while (*link != NULL) {
            struct dict_entry *e = *link;
            if (e->hash == h && e->klen == klen &&
                (klen == 0 || memcmp(e->key, key, klen) == 0)) {
                *owner = tab;
                return link;
            }
            link = &e->next;
        }
        if (!rehashing(d)) {
            break;
        }
    }
    return NULL;
}

struct dict_entry *dict_find(struct dict *d, const void *key, size_t klen)
{
    rehash_step(d);
    struct table *owner;
    uint64_t h = dict_hash(key, klen, d->seed);
    struct dict_entry **link = find_link(d, key, klen, h, &owner);
    return link ? *link : NULL;
}

static struct dict_entry *insert_new(struct dict *d, const void *key,
                                     size_t klen, uint64_t h, void *v)
{
    maybe_resize(d, true);
    struct table *tab = rehashing(d) ? &d->t[1] : &d->t[0];
    struct dict_entry *e = xmalloc(sizeof *e + klen + 1);
    e->hash = h;
    e->v = v;
    e->klen = klen;
    if (klen > 0) {
        memcpy(e->key, key, klen);
    }
    e->key[klen] = '\0';
    size_t i = h & (tab->size - 1);
    e->next = tab->b[i];
    tab->b[i] = e;
    tab->used++;
    return e;
}

struct dict_entry *dict_set(struct dict *d, const void *key, size_t klen,
                            void *v)
{
    rehash_step(d);
    struct table *owner;
    uint64_t h = dict_hash(key, klen, d->seed);
    struct dict_entry **link = find_link(d, key, klen, h, &owner);
    if (link != NULL) {
        struct dict_entry *e = *link;
        if (e->v != v && d->free_value != NULL) {
            d->free_value(e->v);
        }
        e->v = v;
        return e;
    }
    return insert_new(d, key, klen, h, v);
}

struct dict_entry *dict_add(struct dict *d, const void *key, size_t klen,
                            void *v)
{
    rehash_step(d);
    struct table *owner;
    uint64_t h = dict_hash(key, klen, d->seed);
    if (find_link(d, key, klen, h, &owner) != NULL) {
        return NULL;
    }
    return insert_new(d, key, klen, h, v);
}

void dict_reserve(struct dict *d, size_t n)
{
    if (dict_size(d) != 0 || rehashing(d) || n > ((size_t)1 << 40)) {
        return;
    }
    size_t size = DICT_MIN_SIZE;
    while (size < n) {
        size *= 2;
    }
    if (size > d->t[0].size) {
        free(d->t[0].b);
        d->t[0].b = xcalloc(size, sizeof(struct dict_entry *));
        d->t[0].size = size;
    }
}

bool dict_take(struct dict *d, const void *key, size_t klen, void **v)
{
    rehash_step(d);
    struct table *owner;
    uint64_t h = dict_hash(key, klen, d->seed);
    struct dict_entry **link = find_link(d, key, klen, h, &owner);
    if (link == NULL) {
        return false;
    }
    struct dict_entry *e = *link;
    *v = e->v;
    *link = e->next;
    owner->used--;
    free(e);
    maybe_resize(d, false);
    return true;
}

bool dict_del(struct dict *d, const void *key, size_t klen)
{
    void *v;
    if (!dict_take(d, key, klen, &v)) {
        return false;
    }
    if (d->free_value != NULL) {
        d->free_value(v);
    }
    return true;
}

void dict_foreach(const struct dict *d, dict_visit_fn fn, void *arg)
{
    for (int t = 0; t < 2; t++) {
        const struct table *tab = &d->t[t];
        for (size_t i = 0; i < tab->size; i++) {
            for (struct dict_entry *e = tab->b[i]; e != NULL; e = e->next) {
                fn(arg, e);
            }
        }
    }
}

static uint64_t rev64(uint64_t v)
{
    v = ((v >> 1) & 0x5555555555555555ull) | ((v & 0x5555555555555555ull) << 1);
    v = ((v >> 2) & 0x3333333333333333ull) | ((v & 0x3333333333333333ull) << 2);
    v = ((v >> 4) & 0x0F0F0F0F0F0F0F0Full) | ((v & 0x0F0F0F0F0F0F0F0Full) << 4);
    v = ((v >> 8) & 0x00FF00FF00FF00FFull) | ((v & 0x00FF00FF00FF00FFull) << 8);
    v = ((v >> 16) & 0x0000FFFF0000FFFFull) |
        ((v & 0x0000FFFF0000FFFFull) << 16);
    return (v >> 32) | (v << 32);
}

/* Increment the cursor's bits under mask counting from the high end. */
static uint64_t next_cursor(uint64_t v, uint64_t mask)
{
    v |= ~mask;
    v = rev64(v);
    v++;
    return rev64(v);
}

static void visit_bucket(const struct table *t, uint64_t idx, dict_visit_fn fn,
                         void *arg)
{
    for (struct dict_entry *e = t->b[idx & (t->size - 1)]; e != NULL;
         e = e->next) {
        fn(arg, e);
    }
}

/* With a smaller table s and a larger table l, the buckets of l that
 * expand bucket (v & ms) of s are visited together with it, so an entry
 * is found wherever rehashing has moved it. */
uint64_t dict_scan(const struct dict *d, uint64_t v, dict_visit_fn fn,
                   void *arg)
{
    if (dict_size(d) == 0) {
        return 0;
    }
    if (!rehashing(d)) {
        const struct table *t = &d->t[0];
        uint64_t m = t->size - 1;
        visit_bucket(t, v & m, fn, arg);
        return next_cursor(v, m);
    }
    const struct table *s = &d->t[0], *l = &d->t[1];
    if (s->size > l->size) {
        const struct table *tmp = s;
        s = l;
        l = tmp;
    }
    uint64_t ms = s->size - 1, ml = l->size - 1;
    visit_bucket(s, v & ms, fn, arg);
    do {
        visit_bucket(l, v & ml, fn, arg);
        v = next_cursor(v, ml);
    } while (v & (ms ^ ml));
    return v;
}

struct dict_entry *dict_random(const struct dict *d, uint64_t r)
{
    size_t n = dict_size(d);
    if (n == 0) {
        return NULL;
    }
    /* Probe buckets from a random start, then a random chain position. */
    for (uint64_t probe = 0;; probe++) {
        uint64_t x = r + probe * 0x9E3779B97F4A7C15ull;
        const struct table *t = &d->t[0];
        if (rehashing(d) && (x >> 63)) {
            t = &d->t[1];
        }
        if (t->size == 0 || t->used == 0) {
            t = t == &d->t[0] ? &d->t[1] : &d->t[0];
        }
        struct dict_entry *e = t->b[(x >> 7) & (t->size - 1)];
        if (e == NULL) {
            continue;
        }
        size_t len = 0;
        for (struct dict_entry *p = e; p != NULL; p = p->next) {
            len++;
        }
        size_t k = (size_t)((x ^ (x >> 29)) % len);
        while (k-- > 0) {
            e = e->next;
        }
        return e;
    }
}

uint64_t dict_next_random(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
