/* cluster: routing of keyspace commands (see cluster.h). */
#include "cluster.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "command.h"
#include "conn.h"
#include "mem.h"
#include "node.h"
#include "proto.h"
#include "proxy.h"
#include "reply.h"
#include "server.h"
#include "slot.h"
#include "store.h"

#define ROUTE_READONLY 1u /* the client sent READONLY */
#define ROUTE_PROXIED  2u /* arrived over another node's proxy link */

struct waiter {
    struct waiter *next;
    struct slot *slot;
    const struct command *cmd;
    unsigned flags;
    uint64_t deadline;    /* uv_now() ms */
    struct proto_req req; /* a copy of the command */
};

static void on_timer(uv_timer_t *t);
static void hook_reroute(void *arg, struct slot *slot, int argc,
                         const char *const *argv, const size_t *argvlen);
static void hook_unreachable(void *arg, const char *addr);

/* How long a leader the proxy could not reach gets no new commands (they
 * wait for an election or for this to pass, then try again). */
#define CLUSTER_UNREACHABLE_MS 200

void cluster_init(struct cluster *cl, struct server *srv)
{
    memset(cl, 0, sizeof *cl);
    cl->srv = srv;
    uv_timer_init(&srv->loop, &cl->timer);
    cl->timer.data = cl;
    struct proxy_hooks hooks = {hook_reroute, hook_unreachable, cl};
    cl->proxy = proxy_new(srv, &hooks);
}

static void free_waiter(struct waiter *w)
{
    proto_req_free(&w->req);
    free(w);
}

static void fail_waiters(struct cluster *cl, bool all)
{
    uint64_t now = uv_now(&cl->srv->loop);
    while (cl->head != NULL && (all || cl->head->deadline <= now)) {
        struct waiter *w = cl->head;
        cl->head = w->next;
        if (cl->head == NULL) {
            cl->tail = NULL;
        }
        cl->nwaiting--;
        buf_clear(&w->slot->reply);
        reply_error(&w->slot->reply, "CLUSTERDOWN No raft leader");
        conn_slot_ready(w->slot);
        free_waiter(w);
    }
    if (cl->head != NULL) {
        uv_timer_start(&cl->timer, on_timer, cl->head->deadline - now, 0);
    }
}

void cluster_close(struct cluster *cl)
{
    fail_waiters(cl, true);
    uv_close((uv_handle_t *)&cl->timer, NULL);
    proxy_free(cl->proxy);
    cl->proxy = NULL;
}

static void on_timer(uv_timer_t *t)
{
    fail_waiters(t->data, false);
}

void cluster_node_name(uint64_t id, char out[41])
{
    snprintf(out, 41, "%040llx", (unsigned long long)id);
}

static unsigned key_slot(const struct command *cmd, int argc,
                         const char *const *argv, const size_t *argvlen)
{
    if (cmd->first_key > 0 && cmd->first_key < argc) {
        return slot_of_key(argv[cmd->first_key], argvlen[cmd->first_key]);
    }
    return 0;
}

static void park(struct cluster *cl, struct slot *slot,
                 const struct command *cmd, unsigned flags, int argc,
                 const char *const *argv, const size_t *argvlen,
                 uint64_t deadline)
{
    struct waiter *w = xcalloc(1, sizeof *w);
    w->slot = slot;
    w->cmd = cmd;
    w->flags = flags;
    w->deadline = deadline;
    proto_req_copy(&w->req, argc, argv, argvlen);
    if (cl->tail) {
        cl->tail->next = w;
    } else {
        cl->head = w;
    }
    cl->tail = w;
    cl->nwaiting++;
    if (!uv_is_active((uv_handle_t *)&cl->timer)) {
        uint64_t now = uv_now(&cl->srv->loop);
        uv_timer_start(&cl->timer, on_timer,
                       deadline > now ? deadline - now : 0, 0);
    }
}

/* Serve a read from this node's own state (READONLY on a follower). */
static void run_local(struct cluster *cl, struct slot *slot,
                      const struct command *cmd, int argc,
                      const char *const *argv, const size_t *argvlen)
{
    /* Expiry as of now: the keyspace clock, or this node's clock when
     * ahead (an idle follower's keyspace clock does not move). */
    struct store *store = cl->srv->store;
    int64_t now = (int64_t)server_time_ms();
    int64_t clock = store_clock_peek(store, now);
    struct cmd_ctx ctx = {
        .argc = argc,
        .argv = argv,
        .argvlen = argvlen,
        .reply = &slot->reply,
        .store = store,
        .time_ms = (uint64_t)store->now_ms,
        .resp = slot->resp,
        .seed = store_hash(&slot, sizeof slot, (uint64_t)now),
    };
    buf_clear(&slot->reply);
    cmd->fn(&ctx);
    store->now_ms = clock;
    conn_slot_ready(slot);
}

/* The one routing decision; returns after slot has a future. */
static void route(struct cluster *cl, struct slot *slot,
                  const struct command *cmd, unsigned flags, int argc,
                  const char *const *argv, const size_t *argvlen,
                  uint64_t deadline)
{
    struct server *srv = cl->srv;
    if (srv->closing || srv->node == NULL) {
        /* Shutting down (raft may already be gone): nothing was proposed
         * for this command, but its connection is closing anyway. */
        buf_clear(&slot->reply);
        reply_error(&slot->reply, "TIMEOUT server is shutting down");
        conn_slot_ready(slot);
        return;
    }
    if (node_can_propose(srv->node)) {
        batcher_add(&srv->batcher, slot, argc, (char *const *)argv, argvlen,
                    ((cmd->flags & CMD_READ) ? ENTRY_CMD_READONLY : 0) |
                        (slot->resp >= 3 ? ENTRY_CMD_RESP3 : 0));
        return;
    }
    bool leading = node_is_leader(srv->node); /* transferring leadership */
    if (!leading && (cmd->flags & CMD_READ) && (flags & ROUTE_READONLY)) {
        run_local(cl, slot, cmd, argc, argv, argvlen);
        return;
    }
    uint64_t leader;
    char addr[160];
    if (!leading && node_leader(srv->node, &leader, addr, sizeof addr) &&
        strcmp(addr, cl->unreachable) != 0) {
        if (!(flags & ROUTE_PROXIED) && srv->cfg.follower_proxy) {
            proxy_forward(cl->proxy, addr, slot, argc, (char *const *)argv,
                          argvlen);
        } else {
            buf_clear(&slot->reply);
            reply_errorf(&slot->reply, "MOVED %u %s",
                         key_slot(cmd, argc, argv, argvlen), addr);
            conn_slot_ready(slot);
        }
        return;
    }
    park(cl, slot, cmd, flags, argc, argv, argvlen, deadline);
}

static unsigned conn_flags(const struct conn *c)
{
    if (c == NULL) {
        return 0;
    }
    return (c->readonly ? ROUTE_READONLY : 0) |
           (c->is_proxy ? ROUTE_PROXIED : 0);
}

struct slot *cluster_route(struct cluster *cl, struct conn *c,
                           const struct command *cmd, int argc,
                           char *const *argv, const size_t *argvlen, bool watch)
{
    struct slot *slot = conn_slot_new(c);
    slot->in_batch = true; /* its reply comes later, from elsewhere */
    slot->watch = watch;
    uint64_t deadline =
        uv_now(&cl->srv->loop) + (uint64_t)cl->srv->cfg.leader_wait_timeout;
    route(cl, slot, cmd, conn_flags(c), argc, (const char *const *)argv,
          argvlen, deadline);
    return slot;
}

void cluster_reroute(struct cluster *cl, struct slot *slot, int argc,
                     const char *const *argv, const size_t *argvlen)
{
    const struct command *cmd = command_lookup(argv[0], argvlen[0]);
    uint64_t deadline =
        uv_now(&cl->srv->loop) + (uint64_t)cl->srv->cfg.leader_wait_timeout;
    slot->in_batch = true;
    route(cl, slot, cmd, conn_flags(slot->conn), argc, argv, argvlen, deadline);
}

static void hook_reroute(void *arg, struct slot *slot, int argc,
                         const char *const *argv, const size_t *argvlen)
{
    cluster_reroute(arg, slot, argc, argv, argvlen);
}

static void hook_unreachable(void *arg, const char *addr)
{
    struct cluster *cl = arg;
    snprintf(cl->unreachable, sizeof cl->unreachable, "%s", addr);
    cl->unreachable_at = uv_now(&cl->srv->loop);
}

void cluster_tick(struct cluster *cl)
{
    struct server *srv = cl->srv;
    uint64_t leader;
    char addr[160];
    bool known = node_leader(srv->node, &leader, addr, sizeof addr);
    if (leader != cl->last_leader) {
        /* A new leader (or none): what was sent to the old one is lost. */
        cl->last_leader = leader;
        cl->unreachable[0] = '\0';
        proxy_reset(cl->proxy);
    }
    proxy_expire(cl->proxy, (uint64_t)srv->cfg.leader_wait_timeout);
    if (cl->unreachable[0] != '\0' &&
        uv_now(&srv->loop) - cl->unreachable_at >= CLUSTER_UNREACHABLE_MS) {
        cl->unreachable[0] = '\0';
    }
    /* Parked commands go on once they can: this node takes proposals, or
     * another node leads and is reachable. */
    if (!node_can_propose(srv->node) && (node_is_leader(srv->node) || !known ||
                                         strcmp(addr, cl->unreachable) == 0)) {
        return;
    }
    if (cl->head == NULL) {
        return;
    }
    struct waiter *w = cl->head;
    cl->head = cl->tail = NULL;
    cl->nwaiting = 0;
    uv_timer_stop(&cl->timer);
    while (w != NULL) {
        struct waiter *next = w->next;
        route(cl, w->slot, w->cmd, w->flags, w->req.argc,
              (const char *const *)w->req.argv, w->req.argvlen, w->deadline);
        free_waiter(w);
        w = next;
    }
}

void cluster_info(struct cluster *cl, struct buf *out)
{
    (void)cl;
    buf_append_str(out, "cluster_enabled:1\r\n");
}
