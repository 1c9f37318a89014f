/* batch: collects a loop tick's keyspace commands into one log entry and
 * routes results back to the clients that sent them.
 *
 * conn hands each keyspace command to batcher_add with the reply slot it
 * reserved. At the end of the loop iteration batcher_flush encodes the
 * tick's commands as one entry (entry.h) and proposes it through the node.
 * Proposed batches wait in a FIFO of in-flight batches until fsm apply
 * (batcher_apply_begin) claims them by sequence number; the raft apply
 * callback (batcher_done) then frees them, failing with -TIMEOUT any batch
 * whose outcome is unknown. A batch still open when this node stops leading
 * is handed back to routing (cluster_reroute), command by command: nothing
 * of it was proposed. Slots stay owned by their connection; a
 * connection that closes while its slots are in a batch orphans them and
 * the batch frees them. */
#ifndef BATCH_H
#define BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "entry.h"

struct server;
struct slot;

struct batch {
    struct batch *next;
    uint64_t seq;
    struct slot **slots; /* one per command, in entry order */
    size_t nslots;
    size_t cap;
    bool applied;
    void *req; /* the raft request (node.c), freed with the batch */
};

struct batcher {
    struct server *srv;
    uint64_t nonce; /* random per process start */
    uint64_t next_seq;
    struct entry_writer w; /* the tick's entry being built */
    struct batch *open;    /* its batch, or NULL when empty */
    uint64_t open_since_ms;
    struct batch *inflight_head, *inflight_tail;
    size_t ninflight;
    uint64_t proposed_entries;
    uint64_t proposed_commands;
};

void batcher_init(struct batcher *b, struct server *srv);
void batcher_close(struct batcher *b);
/* Queue one command for this tick's entry; the reply goes to slot. */
void batcher_add(struct batcher *b, struct slot *slot, int argc,
                 char *const *argv, const size_t *argvlen, uint32_t flags);
/* End of loop tick: propose the open batch if it can go now (on a node
 * that no longer leads, re-route its commands instead). */
void batcher_flush(struct batcher *b);
/* True when the open batch is large enough that readers should wait. */
bool batcher_full(const struct batcher *b);
/* fsm apply of an entry from this process: the batch with seq, or NULL. */
struct batch *batcher_claim(struct batcher *b, uint64_t seq);
/* Finish a claimed batch: mark every slot ready (replies already written). */
void batcher_complete(struct batcher *b, struct batch *batch);
/* The proposal ended (status 0 or a raft error code). */
void batcher_done(struct batcher *b, struct batch *batch, int status);
/* Fail every queued command with err (e.g. at shutdown). */
void batcher_fail_open(struct batcher *b, const char *err);

#endif
