/* conn: one client connection: socket, query buffer, request parser, reply
 * slots and backpressure.
 *
 * Replies leave in request order. Every request whose reply is not known at
 * once (keyspace commands, which go through the log) reserves a slot at the
 * tail of the connection's slot queue; immediate replies are appended to
 * the output directly when the queue is empty, or as an already-ready slot
 * behind the waiting ones. Ready slots at the head are moved to the output
 * and written.
 *
 * Backpressure: while a connection has too many waiting slots or too many
 * unsent bytes it stops parsing (and reading); it resumes from the server's
 * resume list when they drain. So memory stays bounded under any pipeline.
 *
 * Ownership: the server owns connections (freed in the libuv close
 * callback). A connection owns its slots, except slots inside an in-flight
 * batch when it closes: those become orphans (slot->conn == NULL) that the
 * batch frees. */
#ifndef CONN_H
#define CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <uv.h>

#include "buf.h"

struct server;
struct proto;

struct slot {
    struct slot *next;
    struct conn *conn; /* NULL once orphaned */
    struct buf reply;
    bool ready;
    bool in_batch;
    uint8_t resp; /* the client's protocol when the slot was made */
    bool watch;   /* a WATCH's stamps: see multi.h */
    bool wrap;    /* RAFT.R3 from a proxy link: the reply goes in a bulk */
    uint64_t started_ns; /* when the command was dispatched (stats) */
    int stat;            /* command_index for stats, -1 for none */
    /* A slot without a connection (the server's own proposals): called
     * with the reply when it is ready, before the slot is freed. */
    void (*on_ready)(struct slot *slot, void *arg);
    void *on_ready_arg;
};

struct conn {
    struct conn *next, *prev; /* server's list */
    struct conn *resume_next;
    bool in_resume;
    struct conn *flush_next; /* server's list of connections to write */
    bool in_flush;
    struct server *srv;
    uv_tcp_t tcp;
    uint64_t id;
    char addr[64];
    uint64_t created_ms;
    struct buf in;
    struct proto *proto;
    struct slot *head, *tail;
    size_t nslots;
    struct buf out;  /* queued, not yet handed to libuv */
    struct buf wbuf; /* being written */
    uv_write_t wreq;
    bool writing;
    bool reading;
    bool closing;
    bool close_after_reply;
    bool readonly;       /* READONLY: keyed reads served from local state */
    bool is_proxy;       /* another node's proxy link (RAFT.PROXY) */
    int resp;            /* 2, or 3 after HELLO 3 */
    char *name;          /* CLIENT SETNAME (NULL for none), owned */
    uint64_t last_ms;    /* when the last command arrived */
    char last_cmd[40];   /* its name, lower case ("NULL" before any) */
    struct multi *multi; /* MULTI/WATCH state (multi.h), NULL when none */
    struct dict *channels, *patterns; /* subscriptions (pubsub.h) */
};

/* Accept a pending connection on the server's listener. */
void conn_accept(struct server *srv);
/* Reserve a slot for a reply that comes later. */
struct slot *conn_slot_new(struct conn *c);
/* A slot's reply is complete (frees orphans). The connection writes what
 * is in order at the end of the loop iteration (conn_flush_pending), so
 * every reply an entry produced for it leaves in one write. */
void conn_slot_ready(struct slot *slot);
/* Write out every connection that got replies since the last call. */
void conn_flush_pending(struct server *srv);
/* Let connections that paused (limits, partial input) parse again. */
void conn_resume_pending(struct server *srv);
/* Parse and dispatch buffered requests while the limits allow. */
void conn_process(struct conn *c);
/* Where an unsolicited message (pub/sub) goes, in order after every reply
 * still due; NULL when the connection is closing. It is written at the
 * end of the loop iteration. */
struct buf *conn_push_buf(struct conn *c);
/* The peer's (or with local, our own) address as "ip:port" ("?:0" when
 * unknown), into out of n bytes. */
void conn_addr(const struct conn *c, bool local, char *out, size_t n);
/* Close now (replies not yet written are dropped). */
void conn_close(struct conn *c);

#endif
