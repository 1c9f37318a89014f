/* dict: a chained hash table from binary-safe keys to opaque pointers, with
 * incremental rehashing and a reverse-binary scan cursor (pure).
 *
 * Two tables, as in Redis's dict: while rehashing, every operation first
 * moves one bucket from t[0] to t[1]; lookups search both. Table sizes are
 * powers of two. The dict owns its entries and their keys; a value is
 * freed with the dict's free_value callback (NULL: values are not owned)
 * when its entry is replaced, deleted or cleared. Pointers to entries stay
 * valid until the entry is deleted or the dict is cleared.
 *
 * The keyspace (store), hash values (field -> struct lelem) and set values
 * (member -> NULL) are all dicts. Layout depends on insertion history, so
 * nothing that must be identical on every node may depend on iteration
 * order (see cmd_sets.c for deterministic random picks). */
#ifndef DICT_H
#define DICT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct dict_entry {
    struct dict_entry *next;
    uint64_t hash;
    void *v;
    size_t klen;
    char key[]; /* NUL-terminated for convenience */
};

typedef void (*dict_free_fn)(void *v);

struct dict;

struct dict *dict_new(dict_free_fn free_value);
void dict_free(struct dict *d);
size_t dict_size(const struct dict *d);
void dict_clear(struct dict *d);

/* The entry for key, or NULL. */
struct dict_entry *dict_find(struct dict *d, const void *key, size_t klen);
/* Insert or replace key -> v (the old value is freed); returns the entry. */
struct dict_entry *dict_set(struct dict *d, const void *key, size_t klen,
                            void *v);
/* Insert key -> v only when key is absent: returns the new entry, or NULL
 * when key exists (the caller keeps v). */
struct dict_entry *dict_add(struct dict *d, const void *key, size_t klen,
                            void *v);
/* Remove key and hand its value to the caller (*v may be NULL). Returns
 * true when key existed. */
bool dict_take(struct dict *d, const void *key, size_t klen, void **v);
/* Remove key, freeing its value; true when it existed. */
bool dict_del(struct dict *d, const void *key, size_t klen);
/* Size an empty dict for n keys up front (no rehashing while loading). */
void dict_reserve(struct dict *d, size_t n);

/* Visit every entry once. The callback must not modify the dict. */
typedef void (*dict_visit_fn)(void *arg, const struct dict_entry *e);
void dict_foreach(const struct dict *d, dict_visit_fn fn, void *arg);

/* One SCAN step from cursor (0 starts): visits the entries of one bucket
 * (both tables while rehashing) and returns the next cursor, 0 when done.
 * Every entry present for the whole scan is visited at least once, even
 * across resizes (the reverse-binary cursor of Redis's dictScan). */
uint64_t dict_scan(const struct dict *d, uint64_t cursor, dict_visit_fn fn,
                   void *arg);

/* A pseudo-random entry chosen with r (layout dependent), NULL if empty. */
struct dict_entry *dict_random(const struct dict *d, uint64_t r);

/* splitmix64: the next pseudo-random number of the stream *state, e.g.
 * for dict_random's r (SRANDMEMBER, HRANDFIELD, RANDOMKEY). */
uint64_t dict_next_random(uint64_t *state);

/* 64-bit hash of n bytes with a seed; exposed for checksums and tests. */
uint64_t dict_hash(const void *p, size_t n, uint64_t seed);

#endif
