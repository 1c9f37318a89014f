/* fsm: applying entries, snapshots (see fsm.h). */
#include "fsm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "command.h"
#include "commitlog.h"
#include "conn.h"
#include "entry.h"
#include "node.h"
#include "persist.h"
#include "reply.h"
#include "server.h"
#include "snapshot.h"
#include "store.h"

/* Apply one entry to store. Live entries (replay false) reply to the
 * batch that proposed them here, if it still waits; entries replayed from
 * a snapshot's tail reply to nobody. index is the entry's raft index, for
 * the commit log (0: not logged, as for a snapshot's tail). */
static void apply_entry(struct server *srv, struct store *store,
                        const void *data, size_t len, bool replay,
                        uint64_t index)
{
    struct entry_reader r;
    struct entry_header h;
    if (entry_reader_open(&r, data, len, &h) != 0) {
        log_write(&srv->log, LOG_WARNING,
                  "Skipping a malformed log entry (%zu bytes)", len);
        return;
    }
    struct batch *batch = NULL;
    if (!replay && h.origin == node_id(srv->node) &&
        h.nonce == srv->batcher.nonce) {
        batch = batcher_claim(&srv->batcher, h.seq);
        if (batch != NULL && batch->nslots != h.ncmds) {
            batch = NULL;
        }
    }
    /* The keyspace clock follows proposal times, never backwards. */
    if ((int64_t)h.time_ms > store->now_ms) {
        store->now_ms = (int64_t)h.time_ms;
    }
    /* Committed writes go to the commit log as they were committed (an
     * entry libraft applies again after a restart is skipped there). */
    bool logging =
        index != 0 && commitlog_begin(&srv->commitlog, index, h.term);
    struct buf scratch;
    buf_init(&scratch);
    const struct entry_cmd *cmd;
    size_t i = 0;
    while ((cmd = entry_reader_next(&r)) != NULL) {
        size_t idx = i++;
        bool readonly = cmd->flags & ENTRY_CMD_READONLY;
        if (logging && !readonly) {
            commitlog_add(&srv->commitlog, cmd->argc, cmd->argv, cmd->argvlen);
        }
        if (readonly && batch == NULL) {
            continue; /* nobody waits for this read */
        }
        struct slot *slot = batch ? batch->slots[idx] : NULL;
        struct buf *reply = slot ? &slot->reply : &scratch;
        buf_clear(reply);
        const struct command *c = command_lookup(cmd->argv[0], cmd->argvlen[0]);
        if (c == NULL || (c->flags & CMD_LOCAL) ||
            !command_arity_ok(c, cmd->argc)) {
            command_reply_unknown(reply, cmd->argc, cmd->argv, cmd->argvlen);
            continue;
        }
        struct cmd_ctx ctx = {
            .argc = cmd->argc,
            .argv = cmd->argv,
            .argvlen = cmd->argvlen,
            .reply = reply,
            .store = store,
            .time_ms = (uint64_t)store->now_ms,
            .resp = (cmd->flags & ENTRY_CMD_RESP3) ? 3 : 2,
            .seed = store_hash(&idx, sizeof idx, h.nonce ^ (h.seq << 20)),
            .srv = replay ? NULL : srv,
            .conn = slot ? slot->conn : NULL,
        };
        command_execute(c, &ctx);
    }
    entry_reader_close(&r);
    buf_free(&scratch);
    if (logging) {
        /* Written before the replies go out: an acknowledged write is in
         * the origin node's file already. */
        commitlog_end(&srv->commitlog);
    }
    if (batch != NULL) {
        batcher_complete(&srv->batcher, batch);
    }
}

static int fsm_apply(struct raft_fsm *fsm, const struct raft_buffer *buf,
                     void **result)
{
    struct server *srv = fsm->data;
    *result = NULL;
    /* libraft sets last_applied after apply returns, one entry at a time
     * (barriers and configuration changes advance it without calling us),
     * so this entry's index is the next one. */
    uint64_t index = node_last_applied(srv->node) + 1;
    apply_entry(srv, srv->store, buf->base, buf->len, false, index);
    srv->stats.entries_applied++;
    persist_applied(&srv->persist, buf->base, buf->len);
    return 0;
}

static int fsm_snapshot(struct raft_fsm *fsm, struct raft_buffer *bufs[],
                        unsigned *n_bufs)
{
    struct server *srv = fsm->data;
    return persist_snapshot(&srv->persist, bufs, n_bufs);
}

static int fsm_snapshot_finalize(struct raft_fsm *fsm,
                                 struct raft_buffer *bufs[], unsigned *n_bufs)
{
    struct server *srv = fsm->data;
    return persist_finalize(&srv->persist, bufs, n_bufs);
}

/* Decode, validate and replay a snapshot into a new store; the current
 * state is replaced only when all of it is good. */
static int fsm_restore(struct raft_fsm *fsm, struct raft_buffer *buf)
{
    struct server *srv = fsm->data;
    bool at_start = !node_started(srv->node);
    char err[160];
    struct snapshot_tail tail;
    struct store *s =
        snapshot_decode(buf->base, buf->len, &tail, err, sizeof err);
    if (s != NULL) {
        /* Every tail entry must parse before any is applied. */
        struct snapshot_tail check = tail;
        const void *e;
        size_t elen;
        while (snapshot_tail_next(&check, &e, &elen)) {
            struct entry_reader r;
            struct entry_header h;
            if (entry_reader_open(&r, e, elen, &h) != 0) {
                snprintf(err, sizeof err, "malformed entry in snapshot tail");
                store_free(s);
                s = NULL;
                break;
            }
            entry_reader_close(&r);
        }
    }
    if (s == NULL) {
        if (at_start) {
            /* raft_uv loaded the newest snapshot file: name it. */
            char path[4096];
            uint64_t term, index;
            persist_find_snapshot(srv->cfg.dir, 0, path, sizeof path, &term,
                                  &index);
            log_write(&srv->log, LOG_WARNING,
                      "Refusing snapshot %s: %s (%zu bytes)",
                      path[0] ? path : "(unknown file)", err, buf->len);
        } else {
            log_write(&srv->log, LOG_WARNING,
                      "Refusing snapshot received from the leader (%zu "
                      "bytes): %s",
                      buf->len, err);
            node_fail(srv->node);
        }
        return RAFT_CORRUPT;
    }
    const void *e;
    size_t elen;
    while (snapshot_tail_next(&tail, &e, &elen)) {
        apply_entry(srv, s, e, elen, true, 0);
    }
    store_free(srv->store);
    srv->store = s;
    persist_restored(&srv->persist, at_start, tail.index, store_size(s));
    /* Entries up to tail.index never pass through apply here: if the commit
     * log does not have them, say so in it. */
    commitlog_snapshot(&srv->commitlog, tail.index, at_start);
    raft_free(buf->base); /* the FSM owns the buffer on success */
    return 0;
}

void fsm_init(struct raft_fsm *fsm, struct server *srv)
{
    memset(fsm, 0, sizeof *fsm);
    fsm->version = 2;
    fsm->data = srv;
    fsm->apply = fsm_apply;
    fsm->snapshot = fsm_snapshot;
    fsm->restore = fsm_restore;
    fsm->snapshot_finalize = fsm_snapshot_finalize;
}
