/* fsm: applying entries, snapshots (see fsm.h). */
#include "fsm.h"

#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "command.h"
#include "conn.h"
#include "entry.h"
#include "node.h"
#include "reply.h"
#include "server.h"
#include "snapshot.h"
#include "store.h"

static int fsm_apply(struct raft_fsm *fsm, const struct raft_buffer *buf,
                     void **result)
{
    struct server *srv = fsm->data;
    struct entry_reader r;
    struct entry_header h;
    *result = NULL;
    if (entry_reader_open(&r, buf->base, buf->len, &h) != 0) {
        log_write(&srv->log, LOG_WARNING,
                  "Skipping a malformed log entry (%zu bytes)", buf->len);
        return 0;
    }
    struct batch *batch = NULL;
    if (h.origin == node_id(srv->node) && h.nonce == srv->batcher.nonce) {
        batch = batcher_claim(&srv->batcher, h.seq);
        if (batch != NULL && batch->nslots != h.ncmds) {
            batch = NULL;
        }
    }
    struct buf scratch;
    buf_init(&scratch);
    const struct entry_cmd *cmd;
    size_t i = 0;
    while ((cmd = entry_reader_next(&r)) != NULL) {
        size_t idx = i++;
        bool readonly = cmd->flags & ENTRY_CMD_READONLY;
        if (readonly && batch == NULL) {
            continue; /* nobody waits for this read */
        }
        struct buf *reply = batch ? &batch->slots[idx]->reply : &scratch;
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
            .store = srv->store,
            .time_ms = h.time_ms,
        };
        c->fn(&ctx);
    }
    entry_reader_close(&r);
    buf_free(&scratch);
    srv->stats.entries_applied++;
    if (batch != NULL) {
        batcher_complete(&srv->batcher, batch);
    }
    return 0;
}

static int fsm_snapshot(struct raft_fsm *fsm, struct raft_buffer *bufs[],
                        unsigned *n_bufs)
{
    struct server *srv = fsm->data;
    struct buf out;
    uint64_t start = server_time_ms();
    buf_init(&out);
    snapshot_encode(srv->store, &out);
    *bufs = raft_malloc(sizeof **bufs);
    if (*bufs == NULL) {
        buf_free(&out);
        return RAFT_NOMEM;
    }
    (*bufs)[0].base = out.data; /* raft frees it (same allocator) */
    (*bufs)[0].len = out.len;
    *n_bufs = 1;
    log_write(&srv->log, LOG_NOTICE,
              "Snapshot taken: %zu keys, %zu bytes in %llu ms",
              store_size(srv->store), out.len,
              (unsigned long long)(server_time_ms() - start));
    return 0;
}

static int fsm_restore(struct raft_fsm *fsm, struct raft_buffer *buf)
{
    struct server *srv = fsm->data;
    char err[128];
    struct store *s = snapshot_decode(buf->base, buf->len, err, sizeof err);
    if (s == NULL) {
        log_write(&srv->log, LOG_WARNING, "Refusing snapshot (%zu bytes): %s",
                  buf->len, err);
        return RAFT_CORRUPT;
    }
    store_free(srv->store);
    srv->store = s;
    log_write(&srv->log, LOG_NOTICE, "Snapshot restored: %zu keys",
              store_size(s));
    raft_free(buf->base); /* the FSM owns the buffer on success */
    return 0;
}

void fsm_init(struct raft_fsm *fsm, struct server *srv)
{
    memset(fsm, 0, sizeof *fsm);
    fsm->version = 1;
    fsm->data = srv;
    fsm->apply = fsm_apply;
    fsm->snapshot = fsm_snapshot;
    fsm->restore = fsm_restore;
}
