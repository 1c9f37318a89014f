/* slot: Redis Cluster key slots (pure).
 *
 * A key's slot is CRC16(key) mod 16384, where CRC16 is the XMODEM variant
 * (polynomial 0x1021, initial value 0) Redis Cluster specifies, computed
 * over the hash tag when the key has one: the bytes between the first '{'
 * and the next '}', if that span is not empty. redis-raft is one shard
 * that owns all 16384 slots; slots only matter for -MOVED redirects and
 * CLUSTER KEYSLOT, so that cluster clients route as they expect. */
#ifndef SLOT_H
#define SLOT_H

#include <stddef.h>
#include <stdint.h>

#define SLOT_COUNT 16384

uint16_t slot_crc16(const void *p, size_t len);
unsigned slot_of_key(const void *key, size_t len);

#endif
