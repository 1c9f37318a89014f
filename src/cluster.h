/* cluster: where a keyspace command runs, and what the node says about the
 * cluster (CLUSTER ..., RAFT.TRANSFER, READONLY/READWRITE, INFO cluster).
 *
 * Routing of a keyspace command (DESIGN.md section 6):
 *  - on the leader: into this tick's batch (batch.h);
 *  - on a follower, a read on a READONLY connection: served from local,
 *    possibly stale, state;
 *  - on a follower that knows the leader: forwarded through the proxy
 *    (follower-proxy yes) or answered -MOVED <slot> <leader> (no; and always
 *    on connections that are themselves a proxy, so nothing loops);
 *  - no leader known: parked until one appears, at most leader-wait-timeout,
 *    then -CLUSTERDOWN No raft leader.
 * A parked command owns a copy of its arguments; its reply slot stays the
 * connection's (orphaned if the connection closes, see conn.h). */
#ifndef CLUSTER_H
#define CLUSTER_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "buf.h"

struct server;
struct conn;
struct slot;
struct command;
struct waiter;

struct cluster {
    struct server *srv;
    struct waiter *head, *tail; /* parked commands, oldest first */
    size_t nwaiting;
    uv_timer_t timer; /* fails parked commands past their deadline */
    struct proxy *proxy;
    uint64_t last_leader;    /* to notice leader changes */
    char unreachable[160];   /* leader address the proxy failed to reach */
    uint64_t unreachable_at; /* uv_now() ms */
    int transferring;        /* a shutdown transfer is under way */
};

void cluster_init(struct cluster *cl, struct server *srv);
void cluster_close(struct cluster *cl);
/* Route a keyspace command from conn (argv is copied where kept) into a
 * new reply slot, returned (watch: it carries a WATCH's stamps, multi.h). */
struct slot *cluster_route(struct cluster *cl, struct conn *c,
                           const struct command *cmd, int argc,
                           char *const *argv, const size_t *argvlen,
                           bool watch);
/* Route again a command that already has its slot (a batch that could not
 * be proposed because this node stopped leading). */
void cluster_reroute(struct cluster *cl, struct slot *slot, int argc,
                     const char *const *argv, const size_t *argvlen);
/* Once per loop iteration: notice leader changes, release parked commands
 * when a leader is known. */
void cluster_tick(struct cluster *cl);
/* Append the INFO "cluster" section. */
void cluster_info(struct cluster *cl, struct buf *out);
/* The 40-character node name CLUSTER NODES and friends show for an id. */
void cluster_node_name(uint64_t id, char out[41]);

#endif
