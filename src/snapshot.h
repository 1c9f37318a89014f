/* snapshot: the snapshot file format (pure: no I/O of its own).
 *
 * A snapshot is an IMAGE of the keyspace followed by a TAIL of log entries
 * to apply on top of it. The image is cut when a forked child starts
 * serialising (fsm/persist); the entries the parent applies meanwhile form
 * the tail, so image + tail is exactly the state at the raft index the
 * snapshot stands for, without the loop ever serialising the keyspace.
 *
 * Format version 4, all integers fixed-width little-endian:
 *
 *   IMAGE
 *     8  magic "RRSNAP\0\1"
 *     u32 version (4; version 3 files, without the member id counter, and
 *         version 2 files, without the clock, the stamp counter, key
 *         flags, hashes, sets and sorted sets, are still read)
 *     u32 flags (0)
 *     u64 image index: the raft index applied when the image was cut
 *         (informational; the tail says which index the snapshot is)
 *     u64 keyspace clock, unix ms (store.h: expiry decisions use it)
 *     u64 store version (store.h: WATCH's modification stamps)
 *     u64 highest member id ever used (version 4; member.h)
 *     u32 tombstone count, then per tombstone (store.h) u32 slot
 *         (increasing, < STORE_TOMBS), u64 version (1..store version)
 *     u64 key count
 *     per key (expired keys included: the image is the exact state):
 *       u8  type (0 string, 1 list, 2 hash, 3 set, 4 sorted set)
 *       u8  key flags: bit 0 an expiry time follows, bit 1 a modification
 *           stamp follows; other bits 0
 *       u32 key length, key bytes
 *       [i64 expiry time, unix ms, > 0]  [u64 stamp, > 0]
 *       string: u32 length, bytes
 *       list:   u32 element count (> 0), then per element u32 length, bytes
 *       hash:   u32 field count (> 0), then per field u32 length, bytes,
 *               u32 length, value bytes
 *       set:    u32 member count (> 0), then per member u32 length, bytes
 *       zset:   u32 member count (> 0), then per member, in ascending
 *               (score, member) order: u32 length, bytes, u64 score (the
 *               IEEE-754 bits of the double; never NaN)
 *     u64 image checksum: over every image byte before it, in blocks of
 *         SNAPSHOT_BLOCK bytes: h = seed; h = store_hash(block, n, h)
 *   TAIL
 *     u64 snapshot index (the raft index this snapshot stands for)
 *     u64 entry count
 *     per entry: u32 length, the entry exactly as in the log (entry.h)
 *     u64 tail checksum: store_hash(tail bytes before it, seed)
 *
 * snapshot_decode checks everything (magic, version, every length, both
 * checksums, duplicate keys, fields or members, NaN scores, no trailing
 * bytes) and builds a new store; on any error it returns NULL and leaves
 * nothing allocated, so a bad snapshot is never half-loaded. */
#ifndef SNAPSHOT_H
#define SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct store;

#define SNAPSHOT_BLOCK (64 * 1024)

/* Where the image goes: returns 0, or non-zero to stop writing. */
typedef int (*snapshot_sink)(void *arg, const void *p, size_t n);

/* Stream the image of s through sink in blocks of SNAPSHOT_BLOCK bytes,
 * using only the given scratch block (no allocation: safe in a forked
 * child). Returns 0, the sink's first non-zero result, or EFBIG when a
 * length does not fit the format's 32 bits. */
int snapshot_write_image(const struct store *s, uint64_t image_index,
                         snapshot_sink sink, void *arg,
                         char block[SNAPSHOT_BLOCK]);
/* Append the image of s to out (the same bytes, in memory). */
void snapshot_encode_image(const struct store *s, uint64_t image_index,
                           struct buf *out);

/* The tail is built in place as entries are applied: begin reserves its
 * header, add appends one entry, finish writes the header and appends the
 * checksum. */
void snapshot_tail_begin(struct buf *tail);
/* Returns 0, or EFBIG for an entry too long for the format. */
int snapshot_tail_add(struct buf *tail, const void *entry, size_t len);
void snapshot_tail_finish(struct buf *tail, uint64_t index, uint64_t count);

/* A decoded snapshot's tail: entries point into the decoded data. */
struct snapshot_tail {
    uint64_t index;       /* raft index of the snapshot */
    uint64_t image_index; /* raft index of the image */
    uint64_t count;
    const uint8_t *next, *end; /* the entries not yet visited */
};
/* Next tail entry, or 0 when there are no more. */
int snapshot_tail_next(struct snapshot_tail *t, const void **entry,
                       size_t *len);

/* Decode and validate a whole snapshot; on failure returns NULL and writes
 * a reason to err. On success *tail describes the entries to apply. */
struct store *snapshot_decode(const void *data, size_t len,
                              struct snapshot_tail *tail, char *err,
                              size_t errlen);

#endif
