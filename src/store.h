/* store: the keyspace, a dictionary from binary-safe keys to values.
 *
 * The store owns every key and value in it: store_set takes ownership of the
 * value it is given and frees any value it replaces; store_del frees both.
 * Pointers returned by store_get stay valid until the key is overwritten or
 * deleted. The table grows and shrinks by incremental rehashing (a step per
 * operation, as Redis's dict does), so no single call pauses for long.
 * Pure: no I/O, no libuv, no raft. */
#ifndef STORE_H
#define STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "value.h"

struct store;

struct store *store_new(void);
void store_free(struct store *s);

struct value *store_get(struct store *s, const void *key, size_t klen);
/* Insert or replace key -> v (ownership of v moves to the store). */
void store_set(struct store *s, const void *key, size_t klen, struct value *v);
/* Insert key -> v only when key is absent (then ownership of v moves to
 * the store and it returns true; otherwise the caller keeps v). */
bool store_add(struct store *s, const void *key, size_t klen, struct value *v);
/* Size an empty store for n keys up front (no rehashing while loading). */
void store_reserve(struct store *s, size_t n);
/* Remove key; returns true when it existed. */
bool store_del(struct store *s, const void *key, size_t klen);
/* Remove key but hand its value to the caller instead of freeing it. */
struct value *store_take(struct store *s, const void *key, size_t klen);
size_t store_size(const struct store *s);
void store_clear(struct store *s);

/* Visit every key once, in no particular order. The callback must not
 * modify the store. */
typedef void (*store_visit_fn)(void *arg, const char *key, size_t klen,
                               const struct value *v);
void store_foreach(const struct store *s, store_visit_fn fn, void *arg);

/* 64-bit hash of n bytes with a seed; exposed for checksums and tests. */
uint64_t store_hash(const void *p, size_t n, uint64_t seed);

#endif
