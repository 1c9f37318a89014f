/* expire: the leader's background reclamation of expired keys.
 *
 * Lazy expiry (store.h) hides expired keys and deletes those a write
 * touches; keys nobody touches again are reclaimed here. Every
 * EXPIRE_CYCLE_MS the leader walks the keyspace with a SCAN cursor (at
 * most EXPIRE_CYCLE_BUCKETS buckets, EXPIRE_CYCLE_KEYS expired keys per
 * cycle) and proposes their deletion as one internal write, RAFT.EXPIRE
 * key..., which every node applies by deleting each key that is still
 * expired at the entry's time (a key given a new TTL or rewritten in
 * between survives). So the deletion is decided by the log, never by a
 * node's own clock, and every node deletes the same keys at the same
 * point. When a cycle fills its key budget the next comes at once (1 ms):
 * a burst of expirations is reclaimed at thousands of keys a second
 * without starving clients (each cycle is bounded). Followers do nothing;
 * the cursor is only a hint and restarts on a new leader. */
#ifndef EXPIRE_H
#define EXPIRE_H

#include <stdint.h>
#include <uv.h>

#define EXPIRE_CYCLE_MS      100
#define EXPIRE_CYCLE_BUCKETS 2000
#define EXPIRE_CYCLE_KEYS    500

struct server;

struct expirer {
    struct server *srv;
    uv_timer_t timer;
    uint64_t cursor;
    uint64_t proposed; /* keys proposed for deletion (stats) */
};

void expire_init(struct expirer *e, struct server *srv);
void expire_close(struct expirer *e);

#endif
