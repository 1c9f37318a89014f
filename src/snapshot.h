/* snapshot: (de)serialisation of the whole keyspace (pure).
 *
 * Format version 1, all integers little-endian:
 *   8 bytes magic "RRSNAP\0\1", u32 version, u32 reserved (0),
 *   u64 key count,
 *   per key: u8 type (value_type), u32 key length, key bytes, then
 *     string: u32 length, bytes
 *     list:   u32 element count, per element u32 length, bytes
 *   u64 checksum: store_hash of every byte before it, seed 0x52524e53.
 * snapshot_decode checks everything (magic, version, every length, the
 * checksum, duplicate keys) and builds a new store; on any error it returns
 * NULL and leaves nothing allocated, so a bad snapshot is never half-loaded. */
#ifndef SNAPSHOT_H
#define SNAPSHOT_H

#include <stddef.h>

#include "buf.h"

struct store;

/* Append the encoding of s to out. */
void snapshot_encode(struct store *s, struct buf *out);
/* Decode a snapshot; on failure returns NULL and writes a reason to err. */
struct store *snapshot_decode(const void *data, size_t len, char *err,
                              size_t errlen);

#endif
