/* cmd_cluster: CLUSTER ..., READONLY, READWRITE, ASKING, RAFT.TRANSFER and
 * the internal RAFT.PROXY. redis-raft is one shard owning all 16384 slots:
 * the leader is its master, every other node a replica of it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "command.h"
#include "conn.h"
#include "mem.h"
#include "node.h"
#include "num.h"
#include "proxy.h"
#include "reply.h"
#include "server.h"
#include "slot.h"

void cmd_readonly(struct cmd_ctx *c)
{
    c->conn->readonly = true;
    reply_ok(c->reply);
}

void cmd_readwrite(struct cmd_ctx *c)
{
    c->conn->readonly = false;
    reply_ok(c->reply);
}

void cmd_asking(struct cmd_ctx *c)
{
    reply_ok(c->reply);
}

/* Sent first on a follower's proxy link: never forward what comes on it. */
void cmd_raft_proxy(struct cmd_ctx *c)
{
    c->conn->is_proxy = true;
    reply_ok(c->reply);
}

/* --- RAFT.TRANSFER ------------------------------------------------------ */

struct transfer_reply {
    struct slot *slot;
    uint64_t target;
};

static void transfer_done(void *arg, bool ok)
{
    struct transfer_reply *t = arg;
    buf_clear(&t->slot->reply);
    if (ok) {
        reply_ok(&t->slot->reply);
    } else {
        reply_errorf(&t->slot->reply,
                     "ERR leadership transfer to node %llu did not complete",
                     (unsigned long long)t->target);
    }
    conn_slot_ready(t->slot);
    free(t);
}

/* Move leadership to target (0: the best voter). On the leader the reply
 * waits for the outcome; elsewhere the request goes to the leader. */
static void transfer(struct cmd_ctx *c, uint64_t target)
{
    struct server *srv = c->srv;
    if (!node_is_leader(srv->node)) {
        uint64_t leader;
        char addr[160];
        if (c->conn->is_proxy ||
            !node_leader(srv->node, &leader, addr, sizeof addr)) {
            reply_error(c->reply, "CLUSTERDOWN No raft leader");
            return;
        }
        char idbuf[24];
        int n = num_format_ll(idbuf, (long long)target);
        char *argv[2] = {"RAFT.TRANSFER", idbuf};
        size_t argvlen[2] = {13, (size_t)n};
        struct slot *slot = conn_slot_new(c->conn);
        slot->in_batch = true;
        proxy_forward(srv->cluster.proxy, addr, slot, 2, argv, argvlen);
        return;
    }
    if (target == node_id(srv->node)) {
        reply_ok(c->reply); /* already the leader */
        return;
    }
    struct transfer_reply *t = xcalloc(1, sizeof *t);
    t->target = target;
    t->slot = conn_slot_new(c->conn);
    t->slot->in_batch = true;
    int rv = node_transfer(srv->node, target, transfer_done, t);
    if (rv != 0) {
        buf_clear(&t->slot->reply);
        reply_errorf(&t->slot->reply,
                     "ERR can't transfer leadership to %s%llu: %s",
                     target ? "node " : "", (unsigned long long)target,
                     node_strerror(rv));
        conn_slot_ready(t->slot);
        free(t);
    }
}

void cmd_raft_transfer(struct cmd_ctx *c)
{
    long long target = 0;
    if (c->argc > 2) {
        reply_arity_error(c->reply, "raft.transfer");
        return;
    }
    if (c->argc == 2 &&
        (!num_parse_ll(c->argv[1], c->argvlen[1], &target) || target < 0)) {
        reply_error(c->reply, "ERR invalid node id");
        return;
    }
    transfer(c, (uint64_t)target);
}

/* --- CLUSTER -------------------------------------------------------------- */

static size_t members(struct server *srv, struct node_member *m,
                      const struct node_member **leader)
{
    size_t n = node_members(srv->node, m, NODE_MAX_MEMBERS);
    *leader = NULL;
    for (size_t i = 0; i < n; i++) {
        if (m[i].is_leader) {
            *leader = &m[i];
        }
    }
    return n;
}

static void cluster_info_reply(struct cmd_ctx *c)
{
    struct node_member m[NODE_MAX_MEMBERS];
    const struct node_member *leader;
    size_t n = members(c->srv, m, &leader);
    unsigned long long term = node_term(c->srv->node);
    struct buf b;
    buf_init(&b);
    buf_printf(&b,
               "cluster_state:%s\r\n"
               "cluster_slots_assigned:%d\r\n"
               "cluster_slots_ok:%d\r\n"
               "cluster_slots_pfail:0\r\n"
               "cluster_slots_fail:%d\r\n"
               "cluster_known_nodes:%zu\r\n"
               "cluster_size:1\r\n"
               "cluster_current_epoch:%llu\r\n"
               "cluster_my_epoch:%llu\r\n"
               "cluster_stats_messages_sent:0\r\n"
               "cluster_stats_messages_received:0\r\n"
               "total_cluster_links_buffer_limit_exceeded:0\r\n",
               leader ? "ok" : "fail", SLOT_COUNT, leader ? SLOT_COUNT : 0,
               leader ? 0 : SLOT_COUNT, n, term, term);
    reply_bulk(c->reply, b.data, b.len);
    buf_free(&b);
}

static void cluster_nodes_reply(struct cmd_ctx *c)
{
    struct node_member m[NODE_MAX_MEMBERS];
    const struct node_member *leader;
    size_t n = members(c->srv, m, &leader);
    unsigned long long term = node_term(c->srv->node);
    char lname[41] = "-";
    if (leader) {
        cluster_node_name(leader->id, lname);
    }
    struct buf b;
    buf_init(&b);
    for (size_t i = 0; i < n; i++) {
        char name[41];
        cluster_node_name(m[i].id, name);
        const char *role = m[i].is_leader ? "master" : "slave";
        /* Standbys and spares never lead: Redis Cluster's "nofailover".
         * Spares receive no log: their link shows disconnected. */
        const char *extra = m[i].role != NODE_VOTER ? ",nofailover" : "";
        buf_printf(&b, "%s %s:%d@%d %s%s%s %s 0 0 %llu %s%s\n", name, m[i].host,
                   m[i].port, m[i].raft_port, m[i].is_self ? "myself," : "",
                   role, extra, m[i].is_leader ? "-" : lname, term,
                   m[i].role == NODE_SPARE ? "disconnected" : "connected",
                   m[i].is_leader ? " 0-16383" : "");
    }
    reply_bulk(c->reply, b.data, b.len);
    buf_free(&b);
}

static void slots_node(struct buf *b, const struct node_member *m)
{
    char name[41];
    cluster_node_name(m->id, name);
    reply_array(b, 4);
    reply_bulk_str(b, m->host);
    reply_int(b, m->port);
    reply_bulk_str(b, name);
    reply_array(b, 0); /* no extra networking metadata */
}

static void cluster_slots_reply(struct cmd_ctx *c)
{
    struct node_member m[NODE_MAX_MEMBERS];
    const struct node_member *leader;
    size_t n = members(c->srv, m, &leader);
    if (leader == NULL) {
        reply_array(c->reply, 0);
        return;
    }
    size_t replicas = 0;
    for (size_t i = 0; i < n; i++) {
        replicas += !m[i].is_leader && m[i].role != NODE_SPARE;
    }
    reply_array(c->reply, 1);
    reply_array(c->reply, 3 + (long long)replicas);
    reply_int(c->reply, 0);
    reply_int(c->reply, SLOT_COUNT - 1);
    slots_node(c->reply, leader);
    for (size_t i = 0; i < n; i++) {
        if (!m[i].is_leader && m[i].role != NODE_SPARE) {
            slots_node(c->reply, &m[i]);
        }
    }
}

static void cluster_shards_reply(struct cmd_ctx *c)
{
    struct node_member m[NODE_MAX_MEMBERS];
    const struct node_member *leader;
    size_t n = members(c->srv, m, &leader);
    reply_array(c->reply, 1);
    reply_array(c->reply, 4);
    reply_bulk_str(c->reply, "slots");
    if (leader) {
        reply_array(c->reply, 2);
        reply_int(c->reply, 0);
        reply_int(c->reply, SLOT_COUNT - 1);
    } else {
        reply_array(c->reply, 0);
    }
    reply_bulk_str(c->reply, "nodes");
    reply_array(c->reply, (long long)n);
    for (size_t i = 0; i < n; i++) {
        char name[41];
        cluster_node_name(m[i].id, name);
        reply_array(c->reply, 14);
        reply_bulk_str(c->reply, "id");
        reply_bulk_str(c->reply, name);
        reply_bulk_str(c->reply, "port");
        reply_int(c->reply, m[i].port);
        reply_bulk_str(c->reply, "ip");
        reply_bulk_str(c->reply, m[i].host);
        reply_bulk_str(c->reply, "endpoint");
        reply_bulk_str(c->reply, m[i].host);
        reply_bulk_str(c->reply, "role");
        reply_bulk_str(c->reply, m[i].is_leader ? "master" : "replica");
        reply_bulk_str(c->reply, "replication-offset");
        reply_int(c->reply,
                  m[i].match_index > 0 ? (long long)m[i].match_index : 0);
        reply_bulk_str(c->reply, "health");
        reply_bulk_str(c->reply,
                       m[i].role == NODE_SPARE ? "loading" : "online");
    }
}

void cmd_cluster(struct cmd_ctx *c)
{
    const char *sub = c->argv[1];
    size_t len = c->argvlen[1];
    if (arg_is(sub, len, "info") && c->argc == 2) {
        cluster_info_reply(c);
    } else if (arg_is(sub, len, "nodes") && c->argc == 2) {
        cluster_nodes_reply(c);
    } else if (arg_is(sub, len, "slots") && c->argc == 2) {
        cluster_slots_reply(c);
    } else if (arg_is(sub, len, "shards") && c->argc == 2) {
        cluster_shards_reply(c);
    } else if (arg_is(sub, len, "myid") && c->argc == 2) {
        char name[41];
        cluster_node_name(node_id(c->srv->node), name);
        reply_bulk_str(c->reply, name);
    } else if (arg_is(sub, len, "keyslot") && c->argc == 3) {
        reply_int(c->reply, slot_of_key(c->argv[2], c->argvlen[2]));
    } else if (arg_is(sub, len, "failover") && c->argc <= 3) {
        if (c->argc == 3 && !arg_is(c->argv[2], c->argvlen[2], "force") &&
            !arg_is(c->argv[2], c->argvlen[2], "takeover")) {
            reply_error(c->reply, ERR_SYNTAX);
        } else if (node_is_leader(c->srv->node)) {
            reply_error(c->reply,
                        "ERR You should send CLUSTER FAILOVER to a replica");
        } else {
            transfer(c, node_id(c->srv->node));
        }
    } else if (arg_is(sub, len, "info") || arg_is(sub, len, "nodes") ||
               arg_is(sub, len, "slots") || arg_is(sub, len, "shards") ||
               arg_is(sub, len, "myid") || arg_is(sub, len, "keyslot") ||
               arg_is(sub, len, "failover")) {
        reply_subcommand_arity_error(c->reply, "cluster", sub, len);
    } else {
        reply_errorf(c->reply,
                     "ERR unknown subcommand '%.128s'. Try CLUSTER HELP.", sub);
    }
}
