/* member_change: RAFT.NODE, RAFT.NODES and the leader's membership
 * changes (see member.h). */
#include <hiredis/hiredis.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "command.h"
#include "config.h"
#include "conn.h"
#include "mem.h"
#include "member.h"
#include "node.h"
#include "num.h"
#include "reply.h"
#include "rpc.h"
#include "server.h"
#include "store.h"

#define CATCHUP_POLL_MS 50
/* A member counts as caught up this close to the leader's last index;
 * libraft's own catch-up rounds then finish the promotion. */
#define CATCHUP_SLACK 64

enum change_kind { CH_ADD, CH_ROLE, CH_REMOVE };

struct member_change {
    struct member *m;
    enum change_kind kind;
    uint64_t id;
    char address[160];
    int role;          /* the role asked for (ADD, ROLE) */
    struct slot *slot; /* the client's reply */
    uv_timer_t *timer; /* catch-up polling, forwarding retries */
    uint64_t wait_start_ms, progress_ms;
    int64_t last_match;
    struct rpc *rpc; /* forwarded to the new leader */
    int forward_tries;
    /* Callbacks still to come (raft change, transfer, RAFT.NODEID): a
     * change that ended early (shutdown) is freed by the last of them. */
    int outstanding;
    bool ended;
    char what[220]; /* for "in progress" errors */
};

/* At the top of every callback: false when the change already ended (the
 * callback then only releases it). */
static bool callback_live(struct member_change *ch)
{
    ch->outstanding--;
    if (ch->ended) {
        if (ch->outstanding == 0) {
            free(ch);
        }
        return false;
    }
    return true;
}

static void free_timer(uv_handle_t *h)
{
    free(h);
}

/* End the change: the reply is already in ch->slot->reply. */
static void finish(struct member_change *ch)
{
    struct member *m = ch->m;
    if (ch->timer != NULL) {
        uv_close((uv_handle_t *)ch->timer, free_timer);
    }
    if (ch->rpc != NULL) {
        rpc_cancel(ch->rpc);
    }
    if (m->change == ch) {
        m->change = NULL;
    }
    conn_slot_ready(ch->slot);
    ch->slot = NULL;
    ch->timer = NULL;
    ch->rpc = NULL;
    ch->ended = true;
    if (ch->outstanding == 0) {
        free(ch);
    }
}

static void fail(struct member_change *ch, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void fail(struct member_change *ch, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    log_write(&ch->m->srv->log, LOG_WARNING,
              "Membership change failed (%s): %s", ch->what, msg);
    buf_clear(&ch->slot->reply);
    reply_error(&ch->slot->reply, msg);
    finish(ch);
}

static void succeed(struct member_change *ch)
{
    log_write(&ch->m->srv->log, LOG_NOTICE, "Membership change done: %s",
              ch->what);
    buf_clear(&ch->slot->reply);
    if (ch->kind == CH_ADD) {
        reply_int(&ch->slot->reply, (long long)ch->id);
    } else {
        reply_ok(&ch->slot->reply);
    }
    finish(ch);
}

void member_change_abort(struct member *m, const char *why)
{
    if (m->change != NULL) {
        struct member_change *ch = m->change;
        buf_clear(&ch->slot->reply);
        reply_error(&ch->slot->reply, why);
        finish(ch);
    }
}

static void step_role(struct member_change *ch);

static uv_timer_t *timer_of(struct member_change *ch)
{
    if (ch->timer == NULL) {
        ch->timer = xmalloc(sizeof *ch->timer);
        uv_timer_init(&ch->m->srv->loop, ch->timer);
        ch->timer->data = ch;
    }
    return ch->timer;
}

static void step_role_cb(uv_timer_t *t)
{
    step_role(t->data);
}

/* A raft configuration change of ours committed (status 0) or failed. */
static void changed(void *arg, int status)
{
    struct member_change *ch = arg;
    if (!callback_live(ch)) {
        return;
    }
    if (status != 0) {
        fail(ch, "ERR %s failed: %s", ch->what, node_strerror(status));
    } else if (ch->kind == CH_REMOVE) {
        succeed(ch);
    } else {
        /* The next step from the loop, not from inside libraft. */
        uv_timer_start(timer_of(ch), step_role_cb, 0, 0);
    }
}

static void assign(struct member_change *ch, int role)
{
    struct node *n = ch->m->srv->node;
    log_write(&ch->m->srv->log, LOG_NOTICE, "Node %llu becomes a %s",
              (unsigned long long)ch->id, node_role_name(role));
    int rv = node_assign(n, ch->id, role, changed, ch);
    ch->outstanding += rv == 0;
    if (rv != 0) {
        fail(ch, "ERR can't make node %llu a %s: %s",
             (unsigned long long)ch->id, node_role_name(role),
             node_strerror(rv));
    }
}

/* Wait until a standby's log is close to ours, then promote it. */
static void catchup_poll(uv_timer_t *t)
{
    struct member_change *ch = t->data;
    struct server *srv = ch->m->srv;
    if (!node_is_leader(srv->node)) {
        fail(ch, "ERR leadership was lost during the change; retry");
        return;
    }
    uint64_t now = server_time_ms();
    int64_t match = node_match_index(srv->node, ch->id);
    int64_t last = (int64_t)node_last_index(srv->node);
    if (match > ch->last_match) {
        ch->last_match = match;
        ch->progress_ms = now;
    }
    /* Caught up: it answers (so the match index is its own, not the
     * leader's first guess) and its log is close to ours. */
    struct node_member mem;
    bool answers = node_member_get(srv->node, ch->id, &mem) && mem.connected;
    if (answers && match > 0 && match + CATCHUP_SLACK >= last) {
        log_write(&srv->log, LOG_NOTICE,
                  "Node %llu caught up (match index %lld of %lld) after %llu "
                  "ms",
                  (unsigned long long)ch->id, (long long)match, (long long)last,
                  (unsigned long long)(now - ch->wait_start_ms));
        assign(ch, NODE_VOTER);
        return;
    }
    uint64_t stall = 60 * (uint64_t)srv->cfg.election_timeout;
    if (stall < 60000) {
        stall = 60000;
    }
    if (now - ch->progress_ms > stall) {
        fail(ch,
             "ERR node %llu did not catch up (match index %lld of %lld): it "
             "stays a standby; RAFT.NODE ROLE %llu voter promotes it once it "
             "runs",
             (unsigned long long)ch->id, (long long)match, (long long)last,
             (unsigned long long)ch->id);
        return;
    }
    uv_timer_start(t, catchup_poll, CATCHUP_POLL_MS, 0);
}

static void forward_to_leader(struct member_change *ch);

static void transferred(void *arg, bool ok)
{
    struct member_change *ch = arg;
    if (!callback_live(ch)) {
        return;
    }
    if (!ok) {
        fail(ch,
             "ERR node %llu leads: leadership must move first, and the "
             "transfer did not complete; retry",
             (unsigned long long)ch->id);
        return;
    }
    forward_to_leader(ch);
}

/* This leader is the node to remove or demote: hand leadership over, then
 * let the new leader do it. */
static void move_leadership_first(struct member_change *ch)
{
    struct server *srv = ch->m->srv;
    log_write(&srv->log, LOG_NOTICE,
              "Transferring leadership before %s this node",
              ch->kind == CH_REMOVE ? "removing" : "demoting");
    int rv = node_transfer(srv->node, 0, transferred, ch);
    ch->outstanding += rv == 0;
    if (rv != 0) {
        fail(ch, "ERR can't transfer leadership away from node %llu: %s",
             (unsigned long long)ch->id, node_strerror(rv));
    }
}

static void step_role(struct member_change *ch)
{
    struct server *srv = ch->m->srv;
    struct node_member mem;
    if (!node_is_leader(srv->node)) {
        fail(ch, "ERR leadership was lost during the change; retry");
        return;
    }
    if (!node_member_get(srv->node, ch->id, &mem)) {
        fail(ch, "ERR node %llu is not a member", (unsigned long long)ch->id);
        return;
    }
    if (mem.role == ch->role) {
        succeed(ch);
        return;
    }
    if (ch->role != NODE_VOTER) {
        if (mem.is_self) {
            move_leadership_first(ch);
        } else {
            assign(ch, ch->role);
        }
        return;
    }
    if (mem.role == NODE_SPARE) {
        assign(ch, NODE_STANDBY); /* a standby receives the log */
        return;
    }
    ch->wait_start_ms = ch->progress_ms = server_time_ms();
    ch->last_match = -1;
    uv_timer_start(timer_of(ch), catchup_poll, 0, 0);
}

/* The id is recorded: now the raft configuration change itself. */
static void change_config(uv_timer_t *t)
{
    struct member_change *ch = t->data;
    struct server *srv = ch->m->srv;
    int rv;
    if (!node_is_leader(srv->node)) {
        fail(ch, "ERR leadership was lost during the change; retry");
        return;
    }
    if (ch->kind == CH_REMOVE) {
        log_write(&srv->log, LOG_NOTICE, "Removing node %llu",
                  (unsigned long long)ch->id);
        rv = node_remove(srv->node, ch->id, changed, ch);
    } else {
        log_write(&srv->log, LOG_NOTICE, "Adding node %llu at %s as a spare",
                  (unsigned long long)ch->id, ch->address);
        rv = node_add(srv->node, ch->id, ch->address, changed, ch);
    }
    ch->outstanding += rv == 0;
    if (rv != 0) {
        fail(ch, "ERR %s failed: %s", ch->what, node_strerror(rv));
    }
}

/* RAFT.NODEID went through the log: the id is ours (or was used). */
static void id_recorded(struct slot *slot, void *arg)
{
    struct member_change *ch = arg;
    if (!callback_live(ch)) {
        return;
    }
    struct server *srv = ch->m->srv;
    if (slot->reply.len == 0 || slot->reply.data[0] != ':') {
        char msg[256];
        size_t len = slot->reply.len > 3 ? slot->reply.len - 3 : 0;
        snprintf(msg, sizeof msg, "%.*s", (int)(len < 250 ? len : 250),
                 slot->reply.data + 1);
        fail(ch, "%s", len > 0 ? msg : "ERR recording the node id failed");
        return;
    }
    /* Not from inside this apply callback: raft_add/raft_remove append to
     * the log, which may free the entry being applied under fsm_apply. */
    (void)srv;
    uv_timer_start(timer_of(ch), change_config, 0, 0);
}

/* Record id in the replicated "highest id ever used" (RAFT.NODEID) before
 * adding or removing it. */
static void record_id(struct member_change *ch, bool retire)
{
    struct server *srv = ch->m->srv;
    char idbuf[24];
    int len = num_format_ll(idbuf, (long long)ch->id);
    char *argv[3] = {"raft.nodeid", idbuf, "retire"};
    size_t argvlen[3] = {11, (size_t)len, 6};
    struct slot *slot = xcalloc(1, sizeof *slot);
    slot->stat = -1;
    slot->in_batch = true;
    slot->on_ready = id_recorded;
    slot->on_ready_arg = ch;
    ch->outstanding++;
    batcher_add(&srv->batcher, slot, retire ? 3 : 2, argv, argvlen, 0);
}

/* --- Forwarding (after leadership moved away) ---------------------------- */

static void forward_retry(uv_timer_t *t)
{
    forward_to_leader(t->data);
}

static void forwarded(void *arg, const redisReply *reply, const char *err)
{
    struct member_change *ch = arg;
    ch->rpc = NULL;
    if (reply == NULL || (reply->type == REDIS_REPLY_ERROR &&
                          (strncmp(reply->str, "CLUSTERDOWN", 11) == 0 ||
                           strncmp(reply->str, "TRYAGAIN", 8) == 0))) {
        if (++ch->forward_tries < 20) {
            uv_timer_start(timer_of(ch), forward_retry, 200, 0);
            return;
        }
        fail(ch,
             "ERR leadership moved, but the new leader did not take the "
             "request: %s",
             reply ? reply->str : err);
        return;
    }
    buf_clear(&ch->slot->reply);
    if (reply->type == REDIS_REPLY_STATUS) {
        reply_status(&ch->slot->reply, reply->str);
    } else if (reply->type == REDIS_REPLY_ERROR) {
        reply_error(&ch->slot->reply, reply->str);
    } else if (reply->type == REDIS_REPLY_INTEGER) {
        reply_int(&ch->slot->reply, reply->integer);
    } else {
        reply_error(&ch->slot->reply, "ERR unexpected reply from the leader");
    }
    log_write(&ch->m->srv->log, LOG_NOTICE,
              "Membership change forwarded to the new leader: %s", ch->what);
    finish(ch);
}

static void forward_to_leader(struct member_change *ch)
{
    struct server *srv = ch->m->srv;
    uint64_t leader;
    char addr[160], host[160];
    int port;
    if (!node_leader(srv->node, &leader, addr, sizeof addr) ||
        leader == node_id(srv->node)) {
        /* Not known yet: ask any other voter (it redirects). */
        struct node_member mem[NODE_MAX_MEMBERS];
        size_t n = node_members(srv->node, mem, NODE_MAX_MEMBERS);
        addr[0] = '\0';
        for (size_t i = 0; i < n; i++) {
            if (!mem[i].is_self && mem[i].role == NODE_VOTER) {
                snprintf(addr, sizeof addr, "%s:%d", mem[i].host, mem[i].port);
                break;
            }
        }
    }
    if (addr[0] == '\0' ||
        rpc_parse_addr(addr, host, sizeof host, &port) != 0) {
        fail(ch, "ERR no other voter to hand the change to");
        return;
    }
    char idbuf[24];
    num_format_ll(idbuf, (long long)ch->id);
    const char *role = node_role_name(ch->role);
    const char *argv[4] = {
        "RAFT.NODE", ch->kind == CH_REMOVE ? "REMOVE" : "ROLE", idbuf, role};
    int argc = ch->kind == CH_REMOVE ? 3 : 4;
    ch->rpc = rpc_call(&srv->loop, host, port, argc, argv, NULL, 600000,
                       forwarded, ch);
}

/* --- RAFT.NODE ------------------------------------------------------------ */

static bool parse_role(const char *s, size_t len, int *role)
{
    if (arg_is(s, len, "voter")) {
        *role = NODE_VOTER;
    } else if (arg_is(s, len, "standby")) {
        *role = NODE_STANDBY;
    } else if (arg_is(s, len, "spare")) {
        *role = NODE_SPARE;
    } else {
        return false;
    }
    return true;
}

static bool parse_id(const char *s, size_t len, uint64_t *id)
{
    long long v;
    if (!num_parse_ll(s, len, &v) || v <= 0) {
        return false;
    }
    *id = (uint64_t)v;
    return true;
}

/* "HOST:PORT@RAFTPORT" or "HOST:PORT" (raft port PORT + 10000), to the
 * canonical form. */
static bool parse_address(const char *s, size_t len, char *out, size_t n)
{
    char host[128];
    long long port, rport;
    if (len >= sizeof host || memchr(s, ' ', len) != NULL ||
        config_parse_node_addr(s, len, host, sizeof host, &port, &rport) != 0) {
        return false;
    }
    snprintf(out, n, "%s:%lld@%lld", host, port, rport);
    return true;
}

/* The leader's answer to a change it can't start now, or NULL. */
static bool refuse_busy(struct cmd_ctx *c)
{
    struct server *srv = c->srv;
    struct member *m = &srv->member;
    if (m->change != NULL) {
        reply_errorf(c->reply,
                     "ERR another membership change is in progress (%s); "
                     "retry when it completes",
                     m->change->what);
        return true;
    }
    if (!node_is_leader(srv->node)) {
        uint64_t leader;
        char addr[160];
        if (node_leader(srv->node, &leader, addr, sizeof addr)) {
            reply_errorf(c->reply, "MOVED 0 %s", addr);
        } else {
            reply_error(c->reply, "CLUSTERDOWN No raft leader");
        }
        return true;
    }
    if (!node_can_propose(srv->node)) {
        reply_error(c->reply, "TRYAGAIN leadership is being transferred");
        return true;
    }
    if (node_config_pending(srv->node)) {
        reply_error(c->reply,
                    "ERR another membership change is in progress (a "
                    "configuration change is being committed); retry when "
                    "it completes");
        return true;
    }
    return false;
}

static struct member_change *
change_new(struct cmd_ctx *c, enum change_kind kind, uint64_t id, int role)
{
    struct member_change *ch = xcalloc(1, sizeof *ch);
    ch->m = &c->srv->member;
    ch->kind = kind;
    ch->id = id;
    ch->role = role;
    ch->slot = conn_slot_new(c->conn);
    ch->slot->in_batch = true;
    c->srv->member.change = ch;
    return ch;
}

static void node_add_cmd(struct cmd_ctx *c)
{
    struct server *srv = c->srv;
    int i = 2;
    uint64_t id = 0;
    if (c->argc > i && parse_id(c->argv[i], c->argvlen[i], &id)) {
        i++;
    }
    char address[160];
    int role = NODE_VOTER;
    if (c->argc <= i || c->argc > i + 2) {
        reply_error(c->reply, "ERR syntax: RAFT.NODE ADD [<id>] "
                              "<host:port@raftport> [voter|standby|spare]");
        return;
    }
    if (!parse_address(c->argv[i], c->argvlen[i], address, sizeof address)) {
        reply_errorf(c->reply,
                     "ERR invalid node address '%.100s' (expected "
                     "host:port@raftport)",
                     c->argv[i]);
        return;
    }
    if (c->argc == i + 2 &&
        !parse_role(c->argv[i + 1], c->argvlen[i + 1], &role)) {
        reply_errorf(c->reply,
                     "ERR invalid role '%.50s' (expected voter, standby or "
                     "spare)",
                     c->argv[i + 1]);
        return;
    }
    if (refuse_busy(c)) {
        return;
    }
    uint64_t existing = node_member_by_address(srv->node, address);
    struct node_member mem;
    if (existing != 0) {
        if (id != 0 && id != existing) {
            reply_errorf(c->reply, "ERR %s is already node %llu", address,
                         (unsigned long long)existing);
            return;
        }
        /* Added before (a retry): bring it to the role asked. */
        struct member_change *ch = change_new(c, CH_ADD, existing, role);
        snprintf(ch->address, sizeof ch->address, "%s", address);
        snprintf(ch->what, sizeof ch->what, "making node %llu at %s a %s",
                 (unsigned long long)existing, address, node_role_name(role));
        step_role(ch);
        return;
    }
    uint64_t used = srv->store->max_node_id;
    uint64_t top = node_max_member_id(srv->node);
    if (top > used) {
        used = top;
    }
    if (id != 0 && node_member_get(srv->node, id, &mem)) {
        reply_errorf(c->reply, "ERR node id %llu is already a member (at %s)",
                     (unsigned long long)id, mem.address);
        return;
    }
    if (id != 0 && id <= used) {
        reply_errorf(c->reply,
                     "ERR node id %llu was used before: ids are never reused "
                     "(omit it to let the cluster choose)",
                     (unsigned long long)id);
        return;
    }
    if (id == 0) {
        id = used + 1;
    }
    struct member_change *ch = change_new(c, CH_ADD, id, role);
    snprintf(ch->address, sizeof ch->address, "%s", address);
    snprintf(ch->what, sizeof ch->what, "adding node %llu at %s as a %s",
             (unsigned long long)id, address, node_role_name(role));
    record_id(ch, false);
}

/* Would the voters left once voter `id` stops voting still reach a
 * quorum among those this leader hears from? A removal that leaves too
 * few could never commit, and the cluster would stay without a leader
 * (etcd's strict reconfiguration check). False after writing the error. */
static bool quorum_after(struct cmd_ctx *c, uint64_t id, const char *verb)
{
    struct node_member mem[NODE_MAX_MEMBERS];
    size_t n = node_members(c->srv->node, mem, NODE_MAX_MEMBERS);
    unsigned voters = 0, reachable = 0;
    /* Heard from within two election timeouts: lenient, so that a busy
     * machine or a leader elected a moment ago does not refuse changes;
     * a voter that is down is past it soon enough. */
    int64_t window = 2 * (int64_t)c->srv->cfg.election_timeout;
    if (node_leading_for_ms(c->srv->node) < (uint64_t)window) {
        /* Elected a moment ago: it has not heard from every voter yet
         * (a forwarded removal arrives right after a transfer). */
        return true;
    }
    for (size_t i = 0; i < n; i++) {
        if (mem[i].role != NODE_VOTER || mem[i].id == id) {
            continue;
        }
        voters++;
        reachable += mem[i].is_self || (mem[i].last_contact_ms >= 0 &&
                                        mem[i].last_contact_ms < window);
    }
    unsigned need = voters / 2 + 1;
    if (reachable >= need) {
        return true;
    }
    reply_errorf(c->reply,
                 "ERR %s node %llu would leave %u of %u voters reachable, "
                 "short of a quorum of %u: bring back or remove the "
                 "unreachable voters first",
                 verb, (unsigned long long)id, reachable, voters, need);
    return false;
}

static void node_remove_cmd(struct cmd_ctx *c)
{
    struct server *srv = c->srv;
    uint64_t id;
    if (c->argc != 3) {
        reply_error(c->reply, "ERR syntax: RAFT.NODE REMOVE <id>");
        return;
    }
    if (!parse_id(c->argv[2], c->argvlen[2], &id)) {
        reply_error(c->reply, "ERR invalid node id");
        return;
    }
    if (refuse_busy(c)) {
        return;
    }
    struct node_member mem;
    if (!node_member_get(srv->node, id, &mem)) {
        reply_errorf(c->reply, "ERR node %llu is not a member",
                     (unsigned long long)id);
        return;
    }
    if (mem.role == NODE_VOTER && node_count_role(srv->node, NODE_VOTER) == 1) {
        reply_error(c->reply, "ERR can't remove the last voter");
        return;
    }
    if (mem.role == NODE_VOTER && !quorum_after(c, id, "removing")) {
        return;
    }
    struct member_change *ch = change_new(c, CH_REMOVE, id, mem.role);
    snprintf(ch->what, sizeof ch->what, "removing node %llu at %s",
             (unsigned long long)id, mem.address);
    if (mem.is_self) {
        move_leadership_first(ch);
    } else {
        record_id(ch, true);
    }
}

static void node_role_cmd(struct cmd_ctx *c)
{
    struct server *srv = c->srv;
    uint64_t id;
    int role;
    if (c->argc != 4) {
        reply_error(c->reply,
                    "ERR syntax: RAFT.NODE ROLE <id> voter|standby|spare");
        return;
    }
    if (!parse_id(c->argv[2], c->argvlen[2], &id)) {
        reply_error(c->reply, "ERR invalid node id");
        return;
    }
    if (!parse_role(c->argv[3], c->argvlen[3], &role)) {
        reply_errorf(c->reply,
                     "ERR invalid role '%.50s' (expected voter, standby or "
                     "spare)",
                     c->argv[3]);
        return;
    }
    if (refuse_busy(c)) {
        return;
    }
    struct node_member mem;
    if (!node_member_get(srv->node, id, &mem)) {
        reply_errorf(c->reply, "ERR node %llu is not a member",
                     (unsigned long long)id);
        return;
    }
    if (mem.role == role) {
        reply_ok(c->reply);
        return;
    }
    if (mem.role == NODE_VOTER && node_count_role(srv->node, NODE_VOTER) == 1) {
        reply_error(c->reply, "ERR can't demote the last voter");
        return;
    }
    if (mem.role == NODE_VOTER && !quorum_after(c, id, "demoting")) {
        return;
    }
    struct member_change *ch = change_new(c, CH_ROLE, id, role);
    snprintf(ch->what, sizeof ch->what, "making node %llu a %s",
             (unsigned long long)id, node_role_name(role));
    step_role(ch);
}

/* RAFT.NODE STATUS <id> <index>: the leader answers; a follower redirects
 * (member.h, removal). */
static void node_status_cmd(struct cmd_ctx *c)
{
    uint64_t id;
    long long seen;
    if (c->argc != 4 || !parse_id(c->argv[2], c->argvlen[2], &id) ||
        !num_parse_ll(c->argv[3], c->argvlen[3], &seen) || seen < 0) {
        reply_error(c->reply, "ERR syntax: RAFT.NODE STATUS <id> <index>");
        return;
    }
    struct server *srv = c->srv;
    uint64_t leader;
    char addr[160];
    if (!node_is_leader(srv->node) &&
        node_leader(srv->node, &leader, addr, sizeof addr)) {
        reply_errorf(c->reply, "MOVED 0 %s", addr);
        return;
    }
    int st = node_member_status(srv->node, id, (uint64_t)seen);
    reply_status(c->reply, st > 0 ? "member" : st < 0 ? "removed" : "unknown");
}

void cmd_raft_node(struct cmd_ctx *c)
{
    const char *sub = c->argv[1];
    size_t len = c->argvlen[1];
    if (c->srv == NULL || c->srv->node == NULL || c->conn == NULL) {
        reply_error(c->reply, "ERR not available");
    } else if (arg_is(sub, len, "add")) {
        node_add_cmd(c);
    } else if (arg_is(sub, len, "remove")) {
        node_remove_cmd(c);
    } else if (arg_is(sub, len, "role")) {
        node_role_cmd(c);
    } else if (arg_is(sub, len, "status")) {
        node_status_cmd(c);
    } else {
        reply_errorf(c->reply,
                     "ERR unknown subcommand '%.128s'. Try ADD, REMOVE, ROLE.",
                     sub);
    }
}

void cmd_raft_nodes(struct cmd_ctx *c)
{
    struct node_member mem[NODE_MAX_MEMBERS];
    size_t n = node_members(c->srv->node, mem, NODE_MAX_MEMBERS);
    reply_array(c->reply, (long long)n);
    for (size_t i = 0; i < n; i++) {
        const struct node_member *x = &mem[i];
        reply_map(c->reply, 7, c->resp);
        reply_bulk_str(c->reply, "id");
        reply_int(c->reply, (long long)x->id);
        reply_bulk_str(c->reply, "address");
        reply_bulk_str(c->reply, x->address);
        reply_bulk_str(c->reply, "role");
        reply_bulk_str(c->reply, node_role_name(x->role));
        reply_bulk_str(c->reply, "leader");
        reply_int(c->reply, x->is_leader);
        reply_bulk_str(c->reply, "match_index");
        reply_int(c->reply, (long long)x->match_index);
        reply_bulk_str(c->reply, "last_contact");
        reply_int(c->reply, (long long)x->last_contact_ms);
        reply_bulk_str(c->reply, "connected");
        reply_bulk_str(c->reply, x->connected ? "yes" : "no");
    }
}

/* RAFT.NODEID <id> [RETIRE] (internal, through the log): record id in the
 * highest member id ever used. Without RETIRE (an id about to be added) an
 * id not above it is refused: so every node agrees on which id was given
 * to whom, and none is given twice. */
void cmd_raft_nodeid(struct cmd_ctx *c)
{
    uint64_t id;
    if (c->argc > 3 || !parse_id(c->argv[1], c->argvlen[1], &id) ||
        (c->argc == 3 && !arg_is(c->argv[2], c->argvlen[2], "retire"))) {
        reply_error(c->reply, "ERR syntax error");
        return;
    }
    struct store *s = c->store;
    if (c->argc == 2 && id <= s->max_node_id) {
        reply_errorf(c->reply,
                     "ERR node id %llu was used before: ids are never reused "
                     "(omit it to let the cluster choose)",
                     (unsigned long long)id);
        return;
    }
    if (id > s->max_node_id) {
        s->max_node_id = id;
    }
    reply_int(c->reply, (long long)id);
}
