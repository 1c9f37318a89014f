/* store: a chained hash table with incremental rehashing.
 *
 * Two tables, as in Redis's dict: while rehashing, every operation first
 * moves one bucket from t[0] to t[1]; lookups search both. Table sizes are
 * powers of two. */
#include "store.h"

#include <stdlib.h>
#include <string.h>

#include "mem.h"

struct dentry {
    struct dentry *next;
    uint64_t hash;
    struct value *v;
    size_t klen;
    char key[];
};

struct table {
    struct dentry **b;
    size_t size; /* 0 or a power of two */
    size_t used;
};

struct store {
    struct table t[2];
    long rehash; /* next bucket of t[0] to move, -1 when not rehashing */
    uint64_t seed;
};

#define STORE_MIN_SIZE 16

uint64_t store_hash(const void *p, size_t n, uint64_t seed)
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

struct store *store_new(void)
{
    struct store *s = xcalloc(1, sizeof *s);
    s->rehash = -1;
    s->seed = 0x5EED5EED12345678ull ^ (uint64_t)(uintptr_t)s;
    return s;
}

static void table_free(struct table *t)
{
    for (size_t i = 0; i < t->size; i++) {
        struct dentry *e = t->b[i];
        while (e != NULL) {
            struct dentry *next = e->next;
            value_free(e->v);
            free(e);
            e = next;
        }
    }
    free(t->b);
    memset(t, 0, sizeof *t);
}

void store_clear(struct store *s)
{
    table_free(&s->t[0]);
    table_free(&s->t[1]);
    s->rehash = -1;
}

void store_free(struct store *s)
{
    if (s == NULL) {
        return;
    }
    store_clear(s);
    free(s);
}

size_t store_size(const struct store *s)
{
    return s->t[0].used + s->t[1].used;
}

static bool rehashing(const struct store *s)
{
    return s->rehash != -1;
}

/* Move up to one non-empty bucket (visiting at most 10 empty ones). */
static void rehash_step(struct store *s)
{
    if (!rehashing(s)) {
        return;
    }
    int empty = 10;
    struct table *from = &s->t[0], *to = &s->t[1];
    while ((size_t)s->rehash < from->size && from->b[s->rehash] == NULL) {
        s->rehash++;
        if (--empty == 0) {
            return;
        }
    }
    if ((size_t)s->rehash < from->size) {
        struct dentry *e = from->b[s->rehash];
        while (e != NULL) {
            struct dentry *next = e->next;
            size_t i = e->hash & (to->size - 1);
            e->next = to->b[i];
            to->b[i] = e;
            from->used--;
            to->used++;
            e = next;
        }
        from->b[s->rehash] = NULL;
        s->rehash++;
    }
    if ((size_t)s->rehash >= from->size) {
        free(from->b);
        *from = *to;
        memset(to, 0, sizeof *to);
        s->rehash = -1;
    }
}

static void start_rehash(struct store *s, size_t size)
{
    if (s->t[0].size == 0) {
        s->t[0].b = xcalloc(size, sizeof(struct dentry *));
        s->t[0].size = size;
        return;
    }
    s->t[1].b = xcalloc(size, sizeof(struct dentry *));
    s->t[1].size = size;
    s->t[1].used = 0;
    s->rehash = 0;
}

/* Grow when the load factor reaches 1 (checked on insert), shrink below
 * 1/8 (checked on delete only, so a table sized up front by store_reserve
 * is not shrunk by the first inserts). */
static void maybe_resize(struct store *s, bool inserting)
{
    if (rehashing(s)) {
        return;
    }
    size_t size = s->t[0].size, used = s->t[0].used;
    if (size == 0) {
        start_rehash(s, STORE_MIN_SIZE);
    } else if (inserting && used >= size) {
        start_rehash(s, size * 2);
    } else if (!inserting && size > STORE_MIN_SIZE && used < size / 8) {
        size_t target = STORE_MIN_SIZE;
        while (target < used * 2) {
            target *= 2;
        }
        start_rehash(s, target);
    }
}

static struct dentry **find_link(struct store *s, const void *key, size_t klen,
                                 uint64_t h, struct table **owner)
{
    for (int t = 0; t < 2; t++) {
        struct table *tab = &s->t[t];
        if (tab->size == 0) {
            continue;
        }
        struct dentry **link = &tab->b[h & (tab->size - 1)];
        while (*link != NULL) {
            struct dentry *e = *link;
            if (e->hash == h && e->klen == klen &&
                memcmp(e->key, key, klen) == 0) {
                *owner = tab;
                return link;
            }
            link = &e->next;
        }
        if (!rehashing(s)) {
            break;
        }
    }
    return NULL;
}

struct value *store_get(struct store *s, const void *key, size_t klen)
{
    rehash_step(s);
    struct table *owner;
    uint64_t h = store_hash(key, klen, s->seed);
    struct dentry **link = find_link(s, key, klen, h, &owner);
    return link ? (*link)->v : NULL;
}

static void insert_new(struct store *s, const void *key, size_t klen,
                       uint64_t h, struct value *v)
{
    maybe_resize(s, true);
    struct table *tab = rehashing(s) ? &s->t[1] : &s->t[0];
    struct dentry *e = xmalloc(sizeof *e + klen + 1);
    e->hash = h;
    e->v = v;
    e->klen = klen;
    memcpy(e->key, key, klen);
    e->key[klen] = '\0';
    size_t i = h & (tab->size - 1);
    e->next = tab->b[i];
    tab->b[i] = e;
    tab->used++;
}

void store_set(struct store *s, const void *key, size_t klen, struct value *v)
{
    rehash_step(s);
    struct table *owner;
    uint64_t h = store_hash(key, klen, s->seed);
    struct dentry **link = find_link(s, key, klen, h, &owner);
    if (link != NULL) {
        if ((*link)->v != v) {
            value_free((*link)->v);
            (*link)->v = v;
        }
        return;
    }
    insert_new(s, key, klen, h, v);
}

bool store_add(struct store *s, const void *key, size_t klen, struct value *v)
{
    rehash_step(s);
    struct table *owner;
    uint64_t h = store_hash(key, klen, s->seed);
    if (find_link(s, key, klen, h, &owner) != NULL) {
        return false;
    }
    insert_new(s, key, klen, h, v);
    return true;
}

void store_reserve(struct store *s, size_t n)
{
    if (store_size(s) != 0 || rehashing(s) || n > ((size_t)1 << 40)) {
        return;
    }
    size_t size = STORE_MIN_SIZE;
    while (size < n) {
        size *= 2;
    }
    if (size > s->t[0].size) {
        free(s->t[0].b);
        s->t[0].b = xcalloc(size, sizeof(struct dentry *));
        s->t[0].size = size;
    }
}

struct value *store_take(struct store *s, const void *key, size_t klen)
{
    rehash_step(s);
    struct table *owner;
    uint64_t h = store_hash(key, klen, s->seed);
    struct dentry **link = find_link(s, key, klen, h, &owner);
    if (link == NULL) {
        return NULL;
    }
    struct dentry *e = *link;
    struct value *v = e->v;
    *link = e->next;
    owner->used--;
    free(e);
    maybe_resize(s, false);
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

void store_foreach(const struct store *s, store_visit_fn fn, void *arg)
{
    for (int t = 0; t < 2; t++) {
        const struct table *tab = &s->t[t];
        for (size_t i = 0; i < tab->size; i++) {
            for (struct dentry *e = tab->b[i]; e != NULL; e = e->next) {
                fn(arg, e->key, e->klen, e->v);
            }
        }
    }
}
