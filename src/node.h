/* node: every libraft call lives here: the raft_uv I/O backend, the
 * TCP_NODELAY transport wrapper, bootstrap, the data-directory lock,
 * proposals, leader/term tracking for logs and INFO, and (node_member.c)
 * the member list and configuration changes. The module is two files
 * sharing node_impl.h: one file would have passed 1,100 lines.
 *
 * A node's raft address is "HOST:PORT@RAFTPORT" (DESIGN.md section 6): the
 * client address and the raft port in one string carried by raft's
 * configuration; the transport wrapper dials HOST:RAFTPORT. The node owns
 * its raft instance, I/O backend and transports; node_close releases them
 * asynchronously and calls back when the memory may be freed. */
#ifndef NODE_H
#define NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct server;
struct batch;

struct node;

/* Lock the data dir, set up raft, bootstrap a one-voter cluster on first
 * start, start raft. Returns 0, or -1 after logging why. */
int node_start(struct server *srv, struct node **out);
/* Close raft; cb runs once everything is released. */
void node_close(struct node *n, void (*cb)(struct server *srv));
bool node_is_leader(struct node *n);
/* Leader and accepting proposals (not in the middle of a leadership
 * transfer, during which raft refuses them). */
bool node_can_propose(struct node *n);
uint64_t node_id(const struct node *n);
/* Propose an entry (data allocated with malloc). Ownership of data moves
 * to raft, except when node_err_not_leader(rv): then raft refused it up
 * front and the caller keeps it. On success the batch's proposal ends later
 * with batcher_done. Returns 0 or a raft error code. */
int node_propose(struct node *n, struct batch *batch, void *data, size_t len);
/* The leader as known here: its id (0 when none) and its client address
 * "HOST:PORT" (empty when none). Returns true when a leader is known. */
bool node_leader(struct node *n, uint64_t *id, char *addr, size_t len);

/* Member roles, with raft's values (RAFT_STANDBY, RAFT_VOTER, RAFT_SPARE). */
enum { NODE_STANDBY = 0, NODE_VOTER = 1, NODE_SPARE = 2 };

/* One member of the current configuration. */
struct node_member {
    uint64_t id;
    char address[160]; /* HOST:PORT@RAFTPORT, as in the configuration */
    char host[128];    /* client host */
    int port;          /* client port */
    int raft_port;
    int role; /* NODE_VOTER, NODE_STANDBY, NODE_SPARE */
    bool is_leader;
    bool is_self;
    int64_t match_index;     /* on the leader (and self); -1 unknown */
    int64_t last_contact_ms; /* since a message came from it; -1 never */
    bool connected;          /* heard from within an election timeout */
};
/* Members a node lists at most (RAFT.NODES, CLUSTER NODES...). */
#define NODE_MAX_MEMBERS 64
/* Fill out with at most max members; returns how many it filled. */
size_t node_members(struct node *n, struct node_member *out, size_t max);
/* The member with id (true), or false. */
bool node_member_get(struct node *n, uint64_t id, struct node_member *out);
/* The id of the member with this exact raft address, or 0. */
uint64_t node_member_by_address(struct node *n, const char *address);
/* The highest id in the current configuration. */
uint64_t node_max_member_id(struct node *n);
unsigned node_count_role(struct node *n, int role);
const char *node_role_name(int role);
/* This node's role in the current configuration (false: not in it). */
bool node_self_member(struct node *n, int *role);
/* Whether a configuration is appended but not committed yet (a change in
 * flight). */
bool node_config_pending(struct node *n);
/* On the leader: is id a member, for a node that was a member of the
 * committed configuration at or before index seen_index: 1 member, -1
 * removed (a newer committed configuration lacks it), 0 can't tell here
 * (not the leader, or a change in flight). */
int node_member_status(struct node *n, uint64_t id, uint64_t seen_index);
/* When this node is in the current configuration and no change is
 * pending, an index at or after that configuration's (last applied); 0
 * otherwise: the seen_index of its STATUS questions. */
uint64_t node_member_since(struct node *n);

/* Configuration changes, on the leader: add id at address as a spare,
 * give a member another role, remove one. done(arg, status) runs once the
 * change committed (status 0) or failed (a raft error code). Returns 0, or
 * a raft error code at once (done is then not called); RAFT_CANTCHANGE
 * while another change is in flight. */
int node_add(struct node *n, uint64_t id, const char *address,
             void (*done)(void *arg, int status), void *arg);
int node_assign(struct node *n, uint64_t id, int role,
                void (*done)(void *arg, int status), void *arg);
int node_remove(struct node *n, uint64_t id,
                void (*done)(void *arg, int status), void *arg);
/* How long this node has led (0 when it does not). */
uint64_t node_leading_for_ms(struct node *n);
/* Current last log index of the leader and a member's match index (-1
 * unknown): how far a joining member has caught up. */
int64_t node_match_index(struct node *n, uint64_t id);
uint64_t node_term(struct node *n);
/* raft_start has returned (a snapshot restored before is a load at start,
 * one restored after is an install from the leader). */
bool node_started(const struct node *n);
/* Something this node cannot go on from happened (logged by the caller):
 * shut down with status 1 at the next loop iteration. */
void node_fail(struct node *n);
uint64_t node_commit_index(struct node *n);
uint64_t node_last_applied(struct node *n);
uint64_t node_last_index(struct node *n);
/* Let libraft take a snapshot at its next step (trailing entries kept), or
 * hold it off ("never"): persist decides when (persist.h). */
void node_snapshot_now(struct node *n, unsigned trailing);
void node_snapshot_hold(struct node *n);

/* Whether the configuration has a voter other than this node. */
bool node_has_other_voters(struct node *n);
/* Leadership transfer to target (0: the most up-to-date voter). done(arg,
 * ok) runs when it succeeded or gave up (after an election timeout).
 * Returns 0, or a raft error code (done is then not called). */
int node_transfer(struct node *n, uint64_t target,
                  void (*done)(void *arg, bool ok), void *arg);

/* Log role, term and leader changes (call once per loop iteration). */
void node_poll(struct node *n);
/* Append the INFO "raft" section fields. */
void node_info(struct node *n, struct buf *out);
const char *node_strerror(int rv);
/* True for node_propose's "not the leader (any more), nothing appended". */
bool node_err_not_leader(int rv);

#endif
