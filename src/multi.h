/* multi: a connection's MULTI/EXEC and WATCH state.
 *
 * MULTI queues commands on the connection (they are checked when queued,
 * as redis-server does: an unknown command or a wrong arity marks the
 * transaction dirty and EXEC then aborts with EXECABORT). EXEC turns the
 * queue into ONE internal command, RAFT.EXEC, that goes through the log
 * like any write and applies atomically on every node (cmd_multi.c):
 *
 *   RAFT.EXEC <nwatch> (<key> <stamp>)*nwatch (<argc> <arg>*argc)*
 *
 * WATCH reads the keys' modification stamps (store.h) through the log
 * with the internal read RAFT.WATCH, so the stamps are those of a
 * linearizable point after every earlier command of the connection; when
 * its reply comes back, the stamps are recorded here and the client gets
 * +OK. RAFT.EXEC carries them, and applying it aborts (a null reply) when
 * any watched key's stamp changed, appeared or vanished (expired included),
 * on every node alike. A connection does not go on to EXEC, UNWATCH,
 * DISCARD or RESET while a WATCH is still out (conn.c holds the request in
 * its input buffer), so they see every key it watched.
 *
 * Followers forward RAFT.EXEC and RAFT.WATCH over their proxy link like
 * other keyed commands (clients may not send them: they are CMD_INTERNAL).
 * Owned by the connection (conn->multi, NULL until first used). */
#ifndef MULTI_H
#define MULTI_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

struct conn;
struct command;
struct proto_req;

/* Is the connection between MULTI and EXEC/DISCARD? */
bool multi_active(const struct conn *c);
/* Must request argv wait for outstanding WATCH replies? */
bool multi_must_wait(const struct conn *c, const char *name, size_t len);
/* In MULTI: queue a request (already looked up and checked) and reply
 * +QUEUED. */
void multi_queue(struct conn *c, const struct command *cmd, int argc,
                 char *const *argv, const size_t *argvlen, struct buf *reply);
/* A request failed to queue: EXEC will abort with EXECABORT. */
void multi_mark_dirty(struct conn *c);
/* A WATCH reply (RAFT.WATCH's stamps) is back in reply: record the stamps
 * and replace the reply with +OK (an error reply is passed on, and makes
 * the next EXEC abort). */
void multi_watch_done(struct conn *c, struct buf *reply);
/* MULTI: start queueing. */
void multi_begin(struct conn *c);
bool multi_dirty(const struct conn *c);
size_t multi_queued(const struct conn *c);
size_t multi_watching(const struct conn *c);
/* A WATCH was routed for these keys: its reply comes later. */
void multi_watch_sent(struct conn *c, int nkeys, char *const *keys,
                      const size_t *klens);
/* EXEC: fill out (released with proto_req_free) with RAFT.EXEC's argv
 * and forget the queue and the watches. Returns false when the
 * transaction must abort without running (a WATCH failed). */
bool multi_take(struct conn *c, struct proto_req *out);
/* Forget everything (connection closing). */
void multi_free(struct conn *c);
/* UNWATCH / DISCARD / RESET semantics without replies. */
void multi_unwatch(struct conn *c);
void multi_discard(struct conn *c);

#endif
