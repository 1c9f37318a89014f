/* cmd_multi: MULTI, EXEC, DISCARD, WATCH, UNWATCH and the internal
 * RAFT.EXEC / RAFT.WATCH they go through the log as (see multi.h). */
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "command.h"
#include "conn.h"
#include "multi.h"
#include "num.h"
#include "proto.h"
#include "reply.h"
#include "server.h"
#include "store.h"

void cmd_multi(struct cmd_ctx *c)
{
    if (multi_active(c->conn)) {
        reply_error(c->reply, "ERR MULTI calls can not be nested");
        return;
    }
    multi_begin(c->conn);
    reply_ok(c->reply);
}

void cmd_discard(struct cmd_ctx *c)
{
    if (!multi_active(c->conn)) {
        reply_error(c->reply, "ERR DISCARD without MULTI");
        return;
    }
    multi_discard(c->conn);
    reply_ok(c->reply);
}

void cmd_unwatch(struct cmd_ctx *c)
{
    multi_unwatch(c->conn);
    reply_ok(c->reply);
}

static void route(struct cmd_ctx *c, const char *name, struct proto_req *req,
                  bool watch)
{
    const struct command *cmd = command_lookup(name, strlen(name));
    cluster_route(&c->srv->cluster, c->conn, cmd, req->argc, req->argv,
                  req->argvlen, watch);
}

void cmd_watch(struct cmd_ctx *c)
{
    if (multi_active(c->conn)) {
        reply_error(c->reply, "ERR WATCH inside MULTI is not allowed");
        return;
    }
    struct proto_req req;
    proto_req_copy(&req, c->argc, c->argv, c->argvlen);
    free(req.argv[0]);
    req.argv[0] = strdup("raft.watch");
    req.argvlen[0] = strlen(req.argv[0]);
    multi_watch_sent(c->conn, c->argc - 1, req.argv + 1, req.argvlen + 1);
    route(c, "raft.watch", &req, true);
    proto_req_free(&req);
}

void cmd_exec(struct cmd_ctx *c)
{
    struct conn *conn = c->conn;
    if (!multi_active(conn)) {
        reply_error(c->reply, "ERR EXEC without MULTI");
        return;
    }
    if (multi_dirty(conn)) {
        multi_discard(conn);
        reply_error(c->reply, "EXECABORT Transaction discarded because of "
                              "previous errors.");
        return;
    }
    if (multi_queued(conn) == 0 && multi_watching(conn) == 0) {
        multi_discard(conn);
        reply_array(c->reply, 0);
        return;
    }
    struct proto_req req;
    if (!multi_take(conn, &req)) {
        reply_nil_array(c->reply, c->resp);
    } else {
        route(c, "raft.exec", &req, false);
    }
    proto_req_free(&req);
}

/* RAFT.WATCH key...: each key's modification stamp; for an absent key
 * -1 - the store's version (deleting it later leaves a newer tombstone). */
void cmd_raft_watch(struct cmd_ctx *c)
{
    reply_array(c->reply, c->argc - 1);
    for (int i = 1; i < c->argc; i++) {
        struct value *v = store_get(c->store, c->argv[i], c->argvlen[i]);
        reply_int(c->reply, v ? (long long)v->version
                              : -1 - (long long)c->store->version);
    }
}

/* Read a decimal argument at *i; false when missing or malformed. */
static bool take_ll(struct cmd_ctx *c, int *i, long long *v)
{
    return *i < c->argc && num_parse_ll(c->argv[*i], c->argvlen[*i], v) &&
           (*i)++ >= 0;
}

/* Is every watched key as it was when watched? */
static bool watches_hold(struct cmd_ctx *c, int *i, long long nwatch)
{
    bool hold = true;
    for (long long w = 0; w < nwatch; w++) {
        long long stamp;
        int k = (*i)++;
        if (k >= c->argc || !take_ll(c, i, &stamp)) {
            return false;
        }
        struct value *v = store_get(c->store, c->argv[k], c->argvlen[k]);
        if (stamp < 0) { /* absent: still absent, and not deleted since */
            uint64_t since = (uint64_t)(-1 - stamp);
            if (v != NULL ||
                store_tomb(c->store, c->argv[k], c->argvlen[k]) > since) {
                hold = false;
            }
        } else if (v == NULL || (long long)v->version != stamp) {
            hold = false;
        }
    }
    return hold;
}

/* Node-local commands that leave the connection as it is (SELECT: only
 * database 0 exists). */
static bool proxy_safe(const struct command *cmd)
{
    static const char *const ok[] = {"ping",    "echo",     "time",   "info",
                                     "command", "lastsave", "dbsize", "select"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        if (strcmp(cmd->name, ok[i]) == 0) {
            return true;
        }
    }
    return false;
}

/* RAFT.EXEC: the whole transaction, applied atomically on every node.
 * Keyspace commands run as fsm apply runs them; node-local commands (PING,
 * INFO...) run only on the node whose client is waiting. */
void cmd_raft_exec(struct cmd_ctx *c)
{
    int i = 1;
    long long nwatch;
    if (!take_ll(c, &i, &nwatch) || nwatch < 0 || nwatch > c->argc) {
        reply_error(c->reply, "ERR malformed transaction");
        return;
    }
    if (!watches_hold(c, &i, nwatch)) {
        reply_nil_array(c->reply, c->resp);
        return;
    }
    /* Count the commands first: the reply's length comes first. */
    long long n = 0;
    for (int j = i; j < c->argc;) {
        long long argc;
        if (!take_ll(c, &j, &argc) || argc < 1 || argc > c->argc - j) {
            reply_error(c->reply, "ERR malformed transaction");
            return;
        }
        j += (int)argc;
        n++;
    }
    reply_array(c->reply, n);
    while (i < c->argc) {
        long long argc;
        take_ll(c, &i, &argc);
        struct cmd_ctx sub = *c;
        sub.argc = (int)argc;
        sub.argv = c->argv + i;
        sub.argvlen = c->argvlen + i;
        i += (int)argc;
        const struct command *cmd = command_lookup(sub.argv[0], sub.argvlen[0]);
        if (cmd == NULL || (cmd->flags & CMD_INTERNAL) ||
            !command_arity_ok(cmd, sub.argc)) {
            command_reply_unknown(c->reply, sub.argc, sub.argv, sub.argvlen);
        } else if (cmd->flags & CMD_LOCAL) {
            if (c->conn == NULL || c->srv == NULL) {
                reply_ok(c->reply); /* nobody reads it on this node */
            } else if (c->conn->is_proxy && !proxy_safe(cmd)) {
                /* A follower's transaction: this connection is its proxy
                 * link, shared by all its clients, whose state such a
                 * command would change (SUBSCRIBE, QUIT, CLIENT...). */
                reply_errorf(c->reply,
                             "ERR '%s' inside MULTI is only supported on the "
                             "leader",
                             cmd->name);
            } else {
                cmd->fn(&sub);
            }
        } else {
            /* A message to the client itself must not land inside this
             * array: without conn it is pushed after the EXEC reply. */
            sub.conn = NULL;
            command_execute(cmd, &sub);
        }
    }
}
