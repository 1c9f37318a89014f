/* pubsub: this node's channel and pattern subscriptions, and delivery.
 *
 * PUBLISH is a write: it goes through the log, and applying it on every
 * node delivers the message to that node's subscribers (pubsub_publish).
 * So a message published on any node reaches subscribers on every node,
 * and every subscriber sees the messages of the cluster in log order, the
 * same order on every node. Entries replayed from a snapshot's tail are
 * history and deliver nothing. PUBLISH's reply counts the subscribers on
 * the node that applied it for the client (as PUBLISH on one Redis
 * Cluster node counts only its own).
 *
 * The registry maps each channel (and pattern) to the connections
 * subscribed to it; each connection keeps its own dicts (conn->channels,
 * conn->patterns) for its counts and for unsubscribing everything when it
 * closes or RESETs. Only this node's clients are here: nothing of it is
 * replicated. */
#ifndef PUBSUB_H
#define PUBSUB_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

struct conn;
struct dict;

struct pubsub {
    struct dict *channels; /* channel -> struct subs * */
    struct dict *patterns; /* pattern -> struct subs * */
};

void pubsub_init(struct pubsub *ps);
void pubsub_close(struct pubsub *ps);
/* Subscribe c; false when it already was. */
bool pubsub_subscribe(struct pubsub *ps, struct conn *c, bool pattern,
                      const char *name, size_t len);
/* Unsubscribe c; false when it was not subscribed. */
bool pubsub_unsubscribe(struct pubsub *ps, struct conn *c, bool pattern,
                        const char *name, size_t len);
/* How many channels plus patterns c is subscribed to. */
size_t pubsub_count(const struct conn *c);
/* Unsubscribe c from everything without replies (close, RESET). */
void pubsub_forget(struct pubsub *ps, struct conn *c);
/* Deliver a message to every local subscriber; returns how many got it.
 * publisher (NULL if none here) gets its copy in reply, ahead of the
 * PUBLISH reply that follows. */
long long pubsub_publish(struct pubsub *ps, const char *ch, size_t chlen,
                         const char *msg, size_t msglen, struct conn *publisher,
                         struct buf *reply);
/* PUBSUB CHANNELS [pattern] / NUMSUB / NUMPAT answers. */
void pubsub_channels(struct pubsub *ps, const char *pat, size_t plen, bool all,
                     struct buf *reply);
long long pubsub_numsub(struct pubsub *ps, const char *ch, size_t len);
long long pubsub_numpat(struct pubsub *ps);

#endif
