/* member: how a node becomes, stays and stops being a member of the
 * cluster, and the membership commands (DESIGN.md section 6).
 *
 * Joining (member.c). A node started with `join HOST:PORT` and an empty
 * dir asks that member (following -MOVED to the leader) for
 * `RAFT.NODE ADD [id] <its HOST:PORT@RAFTPORT> spare` before raft starts:
 * the cluster chooses its id and adds it as a spare. It records the id in
 * <dir>/member, starts raft without bootstrapping, and asks the leader for
 * `RAFT.NODE ROLE <id> voter|standby` until its own configuration shows that
 * role; the leader makes it a standby (which receives the log, by snapshot
 * when far behind), waits until it caught up, then makes it a voter.
 * Every step is safe to repeat, so a restart at any point resumes.
 *
 * Changes (member_change.c), on the leader only, one at a time: ADD,
 * REMOVE and ROLE as sequences of single raft configuration changes
 * (libraft's raft_add/raft_assign/raft_remove through node.h). Ids are
 * never reused: the highest id ever used is replicated state
 * (store->max_node_id, RAFT.NODEID entries, in snapshots). Removing or
 * demoting the leader transfers leadership first, then forwards the
 * request to the new leader and relays its reply.
 *
 * Removal (member.c). The leader stops talking to a removed member, so it
 * cannot learn of its removal from the log. A node that has not heard from
 * a leader for two election timeouts asks the other members
 * `RAFT.NODE STATUS <id> <index of a committed configuration holding
 * it>`; a member whose committed configuration is newer and lacks the id
 * answers "removed" (committed configurations form one history, and ids
 * are never reused). The node then records that in <dir>/member, logs it and
 * exits with status 0; started again on that dir it refuses (status 1).
 *
 * The member owns its timer, its request in flight (rpc.h) and the change
 * in progress; member_close releases them. */
#ifndef MEMBER_H
#define MEMBER_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

struct server;
struct rpc;
struct member_change;

enum member_state {
    MEMBER_SEED,    /* bootstrapped (cluster-nodes, or alone) */
    MEMBER_JOINING, /* added; not yet in its target role */
    MEMBER_JOINED,  /* joined and in its target role once */
    MEMBER_REMOVED, /* removed from the cluster: never runs again */
};

struct member {
    struct server *srv;
    enum member_state state;
    uint64_t id;     /* from <dir>/member; 0 for seeds */
    int target_role; /* NODE_VOTER or NODE_STANDBY, while joining */
    uv_timer_t timer;
    bool running;
    struct rpc *rpc;      /* a ROLE request or a STATUS question */
    uint64_t next_try_ms; /* no new request before */
    uint64_t leader_seen_ms;
    unsigned ask_next;     /* round robin over members for STATUS */
    uint64_t member_index; /* a committed configuration holding us */
    /* Members' client addresses learnt when joining: whom to ask while no
     * leader is known (the join address may be down). */
    char peers[16][64];
    unsigned npeers, peer_next;
    char asked[300];   /* whom the STATUS question went to */
    unsigned failures; /* consecutive failed requests (log throttling) */
    struct member_change *change; /* the leader's change in progress */
};

void member_init(struct member *m, struct server *srv);
/* At node start, with the data dir locked: decide this node's raft id and
 * whether it may bootstrap; a joining node asks the cluster here (it
 * blocks until added, retrying while the cluster is unreachable or busy).
 * Returns 0, or -1 after logging why (removed earlier, refused). */
int member_resolve(struct member *m, uint64_t *id, bool *bootstrap);
/* Raft runs: start the join and removal watch. */
void member_start(struct member *m);
void member_close(struct member *m);

/* member_change.c holds RAFT.NODE, RAFT.NODES and RAFT.NODEID (declared
 * in command.h). Fail the change in progress (shutdown). */
void member_change_abort(struct member *m, const char *why);

#endif
