/* rpc: a one-shot asynchronous RESP request to another node, for the rare
 * membership operations (a joining node asks the cluster to add it, a node
 * asks a member whether it was removed, a leader forwards a request to
 * another leader).
 *
 * rpc_call sends one command over a fresh TCP connection (TCP_NODELAY) on
 * the caller's libuv loop, reads one reply with hiredis's reader and calls
 * the callback exactly once, never from inside rpc_call itself. `-MOVED`
 * and `-ASK` replies are followed (up to RPC_MAX_REDIRECTS, the command
 * resent to the address they name, ASK preceded by ASKING); one timer bounds
 * the whole exchange. Nothing blocks: names go through uv_getaddrinfo.
 *
 * Ownership: rpc_call copies host and argv; the caller keeps its own. The
 * request is owned by the module and freed asynchronously (once its handles
 * are closed) after the callback returns or after rpc_cancel, so the
 * `struct rpc *` is only valid until one of those: don't cancel a request
 * whose callback has run. The reply belongs to the module and is freed when
 * the callback returns; err is a string valid during the callback. When the
 * request is released it leaves no handle on the loop, so the loop can run
 * until idle and close. */
#ifndef RPC_H
#define RPC_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct redisReply;
struct rpc; /* one request in flight */

/* How many -MOVED/-ASK redirections one request follows. */
#define RPC_MAX_REDIRECTS 5

/* The outcome of a request. On success reply is the peer's reply and err is
 * NULL; an error reply (-ERR, -CLUSTERDOWN...) is a success with reply->type
 * REDIS_REPLY_ERROR. On failure reply is NULL and err says why: a connect,
 * resolve, read or write error, "connection closed", "timeout", "protocol
 * error", "too many redirections", "bad redirection", or a bad host or
 * port given to rpc_call. The callback may start new requests. */
typedef void (*rpc_cb)(void *arg, const struct redisReply *reply,
                       const char *err);

/* Send the command argv[0..argc) (argvlen[i] bytes each, binary safe; with
 * argvlen NULL, NUL-terminated strings) to host:port and call cb(arg, ...) once
 * with the outcome. host is a name or an IPv4/IPv6 literal (without brackets).
 * timeout_ms bounds the whole request, redirections included (0: no deadline).
 * Returns the request, for rpc_cancel. */
struct rpc *rpc_call(uv_loop_t *loop, const char *host, int port, int argc,
                     const char *const *argv, const size_t *argvlen,
                     uint64_t timeout_ms, rpc_cb cb, void *arg);

/* Abandon a request whose callback has not run: the callback is never
 * called, the connection is dropped (the peer may still execute the
 * command) and the request is released asynchronously. Calling it from
 * the request's own callback does nothing. */
void rpc_cancel(struct rpc *r);

/* Split "HOST:PORT" into host (a NUL-terminated copy, at most hostlen bytes
 * with the NUL) and port (1..65535). HOST may be an IPv6 literal in brackets
 * ("[::1]:6379") or bare ("::1:6379": the last colon separates the port). A
 * trailing "@BUSPORT" (the CLUSTER NODES form) is accepted and ignored.
 * Returns 0, or -1 if addr is malformed or host does not fit. */
int rpc_parse_addr(const char *addr, char *host, size_t hostlen, int *port);

#endif
