/* node_impl: the node's private state, shared by node.c (raft setup, I/O,
 * proposals, transfers) and node_member.c (membership: configuration
 * changes, the member list, INFO). Nothing outside these two files may
 * include it: every libraft call stays inside the node module. */
#ifndef NODE_IMPL_H
#define NODE_IMPL_H

#include <raft.h>
#include <raft/uv.h>
#include <stdbool.h>
#include <stdint.h>

#include "node.h"

struct server;
struct node_change;

#define NODE_MAX_CONTACTS 64

struct node {
    struct server *srv;
    struct raft raft;
    struct raft_io io;
    struct raft_fsm fsm;
    struct raft_tracer tracer;
    /* Our transport (handed to raft_uv) wraps raft_uv_tcp's. */
    struct raft_uv_transport outer;
    struct raft_uv_transport inner;
    raft_uv_accept_cb accept_cb;
    raft_uv_transport_close_cb transport_close_cb;
    /* raft_uv's own methods, which our raft_io wrappers call. */
    struct raft_io uv;
    raft_io_recv_cb recv_cb; /* libraft's, behind io_recv */
    /* An InstallSnapshot held back while we take a snapshot (io_recv). */
    bool has_deferred;
    struct raft_message deferred;
    char deferred_addr[160];
    bool started;      /* raft_start returned */
    bool failed;       /* a disk write or a snapshot failed: shut down */
    char address[160]; /* HOST:PORT@RAFTPORT */
    int lock_fd;
    /* Last state seen by node_poll. */
    int last_state;
    raft_term last_term;
    raft_id last_leader;
    uint64_t state_since_ms; /* when node_poll saw last_state begin */
    void (*close_cb)(struct server *srv);
    /* When a message last came from each peer (node_contact_ms). */
    struct {
        raft_id id;
        uint64_t ms;
    } contact[NODE_MAX_CONTACTS];
    /* Membership changes in flight (node_member.c). */
    struct node_change *changes;
};

/* "HOST:PORT" of a raft address "HOST:PORT@RAFTPORT". */
void node_client_address(const char *address, char *out, size_t n);
/* Record that a message from peer id arrived now. */
void node_contact_note(struct node *n, raft_id id);
/* Milliseconds since a message from id arrived, or -1 if never. */
int64_t node_contact_age(const struct node *n, raft_id id);
/* Work around libraft leaving an applied configuration uncommitted. */
void node_fix_configuration(struct node *n);
/* leader, candidate, follower or unavailable. */
const char *node_state_name(int state);
/* Fail every membership change still waiting (raft is closing). */
void node_changes_close(struct node *n);

#endif
