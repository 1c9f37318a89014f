/* expire: background reclamation of expired keys (see expire.h). */
#include "expire.h"

#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "command.h"
#include "conn.h"
#include "mem.h"
#include "node.h"
#include "proto.h"
#include "reply.h"
#include "server.h"
#include "store.h"

struct collect {
    struct store *store;
    struct buf keys; /* u32 length + bytes each */
    int n;
};

static void visit(void *arg, const char *key, size_t klen,
                  const struct value *v)
{
    struct collect *c = arg;
    if (c->n < EXPIRE_CYCLE_KEYS && store_expired(c->store, v)) {
        uint32_t n = (uint32_t)klen;
        buf_append(&c->keys, &n, sizeof n);
        buf_append(&c->keys, key, klen);
        c->n++;
    }
}

/* Propose RAFT.EXPIRE for the keys collected; nobody waits for the reply
 * (an orphan slot frees itself when the entry applies or fails). */
static void propose(struct server *srv, struct collect *c)
{
    int argc = c->n + 1;
    char **argv = xcalloc((size_t)argc, sizeof *argv);
    size_t *argvlen = xcalloc((size_t)argc, sizeof *argvlen);
    argv[0] = "raft.expire";
    argvlen[0] = 11;
    size_t off = 0;
    for (int i = 1; i < argc; i++) {
        uint32_t n;
        memcpy(&n, c->keys.data + off, sizeof n);
        off += sizeof n;
        argv[i] = c->keys.data + off;
        argvlen[i] = n;
        off += n;
    }
    struct slot *slot = xcalloc(1, sizeof *slot);
    slot->stat = -1;
    batcher_add(&srv->batcher, slot, argc, argv, argvlen, 0);
    free(argv);
    free(argvlen);
}

static void on_cycle(uv_timer_t *t)
{
    struct expirer *e = t->data;
    struct server *srv = e->srv;
    uint64_t next = EXPIRE_CYCLE_MS;
    if (!srv->closing && srv->node != NULL && node_can_propose(srv->node) &&
        store_expires(srv->store) > 0) {
        /* Judge expiry by this node's clock: the entry will carry it (or a
         * later time), so what is expired now is expired when applied. */
        struct store *s = srv->store;
        int64_t clock = store_clock_peek(s, (int64_t)server_time_ms());
        struct collect c = {s, {0}, 0};
        buf_init(&c.keys);
        for (int b = 0; b < EXPIRE_CYCLE_BUCKETS && c.n < EXPIRE_CYCLE_KEYS;
             b++) {
            e->cursor = store_scan(s, e->cursor, visit, &c);
            if (e->cursor == 0) {
                break;
            }
        }
        s->now_ms = clock;
        if (c.n > 0) {
            propose(srv, &c);
            e->proposed += (uint64_t)c.n;
        }
        if (c.n >= EXPIRE_CYCLE_KEYS) {
            next = 1;
        }
        buf_free(&c.keys);
    }
    uv_timer_start(&e->timer, on_cycle, next, 0);
}

void expire_init(struct expirer *e, struct server *srv)
{
    e->srv = srv;
    e->cursor = 0;
    uv_timer_init(&srv->loop, &e->timer);
    e->timer.data = e;
    uv_timer_start(&e->timer, on_cycle, EXPIRE_CYCLE_MS, 0);
}

void expire_close(struct expirer *e)
{
    uv_close((uv_handle_t *)&e->timer, NULL);
}

/* RAFT.EXPIRE key...: delete each key still expired at this entry's time
 * (store_get deletes an expired key when applying a write, and counts it
 * in expired_keys). Replies how many were deleted. */
void cmd_raft_expire(struct cmd_ctx *c)
{
    long long n = 0;
    for (int i = 1; i < c->argc; i++) {
        struct value *v = store_get_raw(c->store, c->argv[i], c->argvlen[i]);
        if (v != NULL && store_expired(c->store, v)) {
            store_get(c->store, c->argv[i], c->argvlen[i]);
            n++;
        }
    }
    reply_int(c->reply, n);
}
