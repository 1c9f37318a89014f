/* fsm: the raft state machine: apply entries to the keyspace, take and
 * restore snapshots.
 *
 * apply runs on every node in log order. Writes run everywhere; reads run
 * only on the node that proposed them and only while their batch still
 * waits for a reply. Every expiry-relevant decision uses the entry's
 * proposal time, never the local clock. apply always returns 0: a command
 * error is a reply, and a non-zero return would stall the log. */
#ifndef FSM_H
#define FSM_H

#include <raft.h>

struct server;

void fsm_init(struct raft_fsm *fsm, struct server *srv);

#endif
