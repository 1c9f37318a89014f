/* entry: encoding and decoding of replicated log entries (pure).
 *
 * An entry carries one loop tick's batch of commands from one node. Format
 * (version 2), all integers little-endian, total length a multiple of 8:
 *
 *   u8  version (2)        u8  kind (ENTRY_KIND_COMMANDS)
 *   u16 reserved (0)       u32 command count
 *   u64 origin node id     u64 origin boot nonce (random per process start)
 *   u64 batch sequence     u64 proposal time, unix ms (leader's clock)
 *   u64 raft term the entry was proposed in (the leader's current term)
 *   per command:  u32 argc, u32 flags (ENTRY_CMD_*),
 *                 per argument: u32 length, bytes
 *   zero padding to a multiple of 8
 *
 * Version 1 is the same without the term (a 40-byte header): readers still
 * accept it, with term 0, since old logs and snapshot tails hold it.
 * Writers always write version 2. The term is the one libraft appends the
 * entry in (raft_apply appends in the leader's current term, in the call
 * that proposes it), so it is the entry's raft term, known to the state
 * machine, which libraft does not tell (the commit log prints it).
 *
 * Applying an entry moves the keyspace clock to its proposal time (never
 * backwards: store.h), and every expiry decision uses that clock. Each
 * command's randomness (SPOP) is derived from (nonce, seq, its position),
 * so every node draws the same. A MULTI/EXEC transaction is ONE command
 * here, RAFT.EXEC (multi.h), so it applies whole. ENTRY_CMD_RESP3 tells the
 * origin node to encode that command's reply in RESP3.
 *
 * (origin, nonce, seq) routes replies back to the clients on the origin
 * node: a restarted node replaying its old entries never mistakes them for
 * its new ones. Integrity on disk and on the wire is libraft's business: its
 * segment files checksum every entry batch. entry_open validates a whole
 * entry before a single command is handed out, so a malformed entry is
 * rejected whole, never half-applied. */
#ifndef ENTRY_H
#define ENTRY_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define ENTRY_VERSION       2
#define ENTRY_VERSION_1     1 /* no term field; still read */
#define ENTRY_KIND_COMMANDS 1
#define ENTRY_HEADER_SIZE   48 /* version 2 */
#define ENTRY_HEADER_SIZE_1 40 /* version 1 */
#define ENTRY_CMD_READONLY  1u /* runs only on the origin node */
#define ENTRY_CMD_RESP3     2u /* the client speaks RESP3 (HELLO 3) */

struct entry_header {
    uint8_t version;
    uint8_t kind;
    uint32_t ncmds;
    uint64_t origin;
    uint64_t nonce;
    uint64_t seq;
    uint64_t time_ms;
    uint64_t term; /* 0 in a version 1 entry */
};

/* Builds an entry in `b` (owned by the writer until taken). */
struct entry_writer {
    struct buf b;
    uint32_t ncmds;
};

void entry_writer_begin(struct entry_writer *w, const struct entry_header *h);
void entry_writer_add(struct entry_writer *w, int argc, char *const *argv,
                      const size_t *argvlen, uint32_t flags);
/* Set the proposal time (it is decided when the entry is proposed). */
void entry_writer_set_time(struct entry_writer *w, uint64_t time_ms);
/* Set the raft term (decided when the entry is proposed, too). */
void entry_writer_set_term(struct entry_writer *w, uint64_t term);
/* Patch the count, pad to 8 bytes; the finished bytes stay in w->b. */
void entry_writer_finish(struct entry_writer *w);

/* A decoded command: argv points into the entry's memory; the arrays are
 * owned by the reader and reused by the next entry_reader_next call. */
struct entry_cmd {
    int argc;
    uint32_t flags;
    const char **argv;
    size_t *argvlen;
};

struct entry_reader {
    const uint8_t *p;
    const uint8_t *end;
    uint32_t left;
    struct entry_cmd cmd;
    int cap;
};

/* Validate the whole entry (version 1 or 2) and prepare to iterate.
 * Returns 0, or -1 when the entry is malformed (nothing to free then). */
int entry_reader_open(struct entry_reader *r, const void *data, size_t len,
                      struct entry_header *h);
/* Next command, or NULL after the last one. */
const struct entry_cmd *entry_reader_next(struct entry_reader *r);
void entry_reader_close(struct entry_reader *r);

#endif
