/* proxy: a follower's connection to the leader's client port, over which
 * it forwards the keyed commands of clients that know nothing of clusters
 * (follower-proxy yes) and relays the replies.
 *
 * One pipelined RESP connection per node, opened on first use and
 * announced with RAFT.PROXY (so the leader never forwards it again). Replies
 * come back in order, so a FIFO of waiting slots matches them; each reply
 * is re-encoded into its slot. When the connection fails or the leader
 * changes, every command already sent gets -TIMEOUT (whether it ran is
 * unknown); commands never sent go back to routing.
 * The proxy owns its queue entries; slots stay their connection's (see
 * conn.h: in_batch slots become orphans the proxy frees). */
#ifndef PROXY_H
#define PROXY_H

#include <stddef.h>
#include <stdint.h>

struct server;
struct slot;
struct proxy;

/* What the proxy hands back to routing when the leader can't be reached:
 * commands it never sent (they did not run: route them again) and the
 * address that failed (route nothing there for a while). */
struct proxy_hooks {
    void (*reroute)(void *arg, struct slot *slot, int argc,
                    const char *const *argv, const size_t *argvlen);
    void (*unreachable)(void *arg, const char *addr);
    void *arg;
};

struct proxy *proxy_new(struct server *srv, const struct proxy_hooks *hooks);
/* Fail everything queued and release the proxy (asynchronously). */
void proxy_free(struct proxy *p);
/* Forward argv to the leader at addr ("HOST:PORT"); its reply fills slot. */
void proxy_forward(struct proxy *p, const char *addr, struct slot *slot,
                   int argc, char *const *argv, const size_t *argvlen);
/* The leader changed or is gone: drop the connection, fail what waits. */
void proxy_reset(struct proxy *p);
/* Give up on former leaders that kept commands unanswered for limit_ms
 * since they stopped leading (they get -TIMEOUT). Call periodically. */
void proxy_expire(struct proxy *p, uint64_t limit_ms);

#endif
