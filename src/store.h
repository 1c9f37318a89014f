/* store: the keyspace, a dict (dict.h) from binary-safe keys to values,
 * with the keyspace's replicated clock, expiry and modification stamps.
 *
 * The store owns every key and value in it: store_set takes ownership of
 * the value it is given and frees any value it replaces; store_del frees
 * both. Pointers returned by store_get stay valid until the key is
 * overwritten or deleted.
 *
 * Time and expiry (DESIGN §5). The store keeps `now_ms`, the keyspace
 * clock: fsm apply advances it to each entry's proposal time, never
 * backwards (a new leader's clock may be behind the old one's), and
 * snapshots carry it, so every node applies every entry at the same clock.
 * A value with expire_ms != 0 is logically gone once now_ms > expire_ms.
 * Lookups (store_get) hide such keys; in write mode (the store applies a
 * write command, on every node alike) they also delete them and count
 * expired_keys, which is Redis's lazy expiry made deterministic. Read
 * commands run on one node only, so they never delete.
 *
 * Modification stamps (WATCH): `version` counts applied write commands;
 * fsm stamps the keys a write command changed with it (store_stamp), and
 * EXEC compares stamps. A deleted key leaves its stamp in a tombstone:
 * STORE_TOMBS slots indexed by a hash of the key, each holding the
 * version of the last deletion of any key hashing there, so a WATCH of an
 * absent key can tell "created and deleted again" from "never touched"
 * (a shared slot can only make EXEC abort needlessly, never run wrongly).
 * Version, stamps and tombstones are all part of the replicated state.
 * Pure: no I/O, no libuv, no raft. */
#ifndef STORE_H
#define STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dict.h"
#include "value.h"

#define STORE_TOMBS 1024

struct store {
    struct dict *d;
    uint64_t tomb[STORE_TOMBS]; /* version of the last deletion, by slot */
    int64_t now_ms;             /* keyspace clock (unix ms), replicated */
    uint64_t version;           /* applied write commands, replicated */
    uint64_t max_node_id;       /* highest member id ever used (member.h) */
    bool writable;              /* applying a write: lazy expiry may delete */
    size_t nexpires;            /* keys with an expiry time */
    uint64_t expired_keys;      /* this node's count (INFO), not replicated */
};

struct store *store_new(void);
void store_free(struct store *s);

/* For a node-local look at expiry (READONLY reads, the leader's expiry
 * scan): move the clock forward to now_ms if it is behind, and return the
 * clock to put back (store->now_ms = ...) afterwards, since only apply may
 * move the replicated clock. */
int64_t store_clock_peek(struct store *s, int64_t now_ms);
/* The live value at key, or NULL (absent, or expired: see above). */
struct value *store_get(struct store *s, const void *key, size_t klen);
/* The value at key even when expired (snapshot, active expiry), or NULL. */
struct value *store_get_raw(struct store *s, const void *key, size_t klen);
/* True when v (in the store) is expired at the store's clock. */
bool store_expired(const struct store *s, const struct value *v);
/* Insert or replace key -> v (ownership of v moves to the store). */
void store_set(struct store *s, const void *key, size_t klen, struct value *v);
/* Insert key -> v only when key is absent or expired (then ownership of v
 * moves to the store and it returns true; otherwise the caller keeps v). */
bool store_add(struct store *s, const void *key, size_t klen, struct value *v);
/* Size an empty store for n keys up front (no rehashing while loading). */
void store_reserve(struct store *s, size_t n);
/* Remove key; returns true when it existed (and was live). */
bool store_del(struct store *s, const void *key, size_t klen);
/* Remove key but hand its value to the caller instead of freeing it (NULL
 * when absent or expired). The value keeps its expiry time. */
struct value *store_take(struct store *s, const void *key, size_t klen);
/* Set or clear (0) the expiry time of v, which is in the store. */
void store_set_expire(struct store *s, struct value *v, int64_t when_ms);
/* Keys, expired ones included (as DBSIZE counts them). */
size_t store_size(const struct store *s);
/* Keys with an expiry time. */
size_t store_expires(const struct store *s);
void store_clear(struct store *s);
/* Stamp key (if present) as modified by the write being applied. */
void store_stamp(struct store *s, const void *key, size_t klen);
/* The version of the last deletion of key (or of a key sharing its
 * tombstone slot), 0 if none; and that slot's index. */
uint64_t store_tomb(const struct store *s, const void *key, size_t klen);
size_t store_tomb_slot(const void *key, size_t klen);

/* Visit every key once, expired ones included, in no particular order.
 * The callback must not modify the store. */
typedef void (*store_visit_fn)(void *arg, const char *key, size_t klen,
                               const struct value *v);
void store_foreach(const struct store *s, store_visit_fn fn, void *arg);
/* One SCAN step (dict_scan) over keys, expired ones included. */
uint64_t store_scan(const struct store *s, uint64_t cursor, store_visit_fn fn,
                    void *arg);

/* 64-bit hash of n bytes with a seed; exposed for checksums and tests. */
uint64_t store_hash(const void *p, size_t n, uint64_t seed);

#endif
