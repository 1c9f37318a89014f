/* conn: client connections (see conn.h). */
#include "conn.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "cluster.h"
#include "command.h"
#include "entry.h"
#include "mem.h"
#include "multi.h"
#include "proto.h"
#include "pubsub.h"
#include "reply.h"
#include "server.h"

#define CONN_READ_CHUNK (64 * 1024)
#define CONN_MAX_SLOTS  16384 /* waiting replies before pausing */
#define CONN_MAX_OUT    (64ull * 1024 * 1024) /* unsent bytes before pausing */

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *b);
static void flush(struct conn *c);
static void count_call(struct server *srv, int idx, uint64_t t0,
                       const struct buf *reply, size_t from);
static void want_resume(struct conn *c, bool kick);

static void on_close(uv_handle_t *h)
{
    struct conn *c = h->data;
    buf_free(&c->in);
    buf_free(&c->out);
    buf_free(&c->wbuf);
    free(c);
}

void conn_close(struct conn *c)
{
    if (c->closing) {
        return;
    }
    struct server *srv = c->srv;
    c->closing = true;
    /* Unlink from the server's lists. */
    if (c->prev) {
        c->prev->next = c->next;
    } else {
        srv->conns = c->next;
    }
    if (c->next) {
        c->next->prev = c->prev;
    }
    if (c->in_resume) {
        /* Not found when conn_resume_pending has detached the list it is
         * walking (CLIENT KILL of a connection later in it): it stays
         * there, and processing a closing connection does nothing. */
        struct conn **p = &srv->resume;
        while (*p != NULL && *p != c) {
            p = &(*p)->resume_next;
        }
        if (*p != NULL) {
            *p = c->resume_next;
        }
        c->in_resume = false;
    }
    if (c->in_flush) { /* the same, for conn_flush_pending's list */
        struct conn **p = &srv->flush;
        while (*p != NULL && *p != c) {
            p = &(*p)->flush_next;
        }
        if (*p != NULL) {
            *p = c->flush_next;
        }
        c->in_flush = false;
    }
    srv->nconns--;
    pubsub_forget(&srv->pubsub, c);
    multi_free(c);
    free(c->name);
    c->name = NULL;
    /* Slots inside an in-flight batch become the batch's to free. */
    struct slot *s = c->head;
    while (s != NULL) {
        struct slot *next = s->next;
        if (s->in_batch) {
            s->conn = NULL;
            s->next = NULL;
        } else {
            buf_free(&s->reply);
            free(s);
        }
        s = next;
    }
    c->head = c->tail = NULL;
    proto_free(c->proto);
    c->proto = NULL;
    uv_close((uv_handle_t *)&c->tcp, on_close);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    struct conn *c = h->data;
    (void)suggested;
    b->base = buf_reserve(&c->in, CONN_READ_CHUNK);
    b->len = CONN_READ_CHUNK;
}

static bool over_limits(const struct conn *c)
{
    return c->nslots >= CONN_MAX_SLOTS || c->out.len >= CONN_MAX_OUT ||
           batcher_full(&c->srv->batcher);
}

static void start_reading(struct conn *c)
{
    if (!c->reading && !c->closing && !c->close_after_reply) {
        uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, on_read);
        c->reading = true;
    }
}

static void stop_reading(struct conn *c)
{
    if (c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = false;
    }
}

/* Ask the server to call conn_process again at the end of a loop
 * iteration. With kick, that iteration comes at once; without, the
 * connection waits for whatever event next ends a poll (its own replies
 * coming back, which is what it waits for when over its limits). */
static void want_resume(struct conn *c, bool kick)
{
    if (!c->in_resume && !c->closing) {
        c->in_resume = true;
        c->resume_next = c->srv->resume;
        c->srv->resume = c;
    }
    if (kick) {
        server_kick(c->srv);
    }
}

void conn_addr(const struct conn *c, bool local, char *out, size_t n)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    char host[48] = "?";
    int port = 0;
    int rv = local ? uv_tcp_getsockname(&c->tcp, (struct sockaddr *)&ss, &len)
                   : uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len);
    if (rv == 0) {
        if (ss.ss_family == AF_INET6) {
            uv_ip6_name((struct sockaddr_in6 *)&ss, host, sizeof host);
            port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
        } else {
            uv_ip4_name((struct sockaddr_in *)&ss, host, sizeof host);
            port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        }
    }
    snprintf(out, n, "%s:%d", host, port);
}

void conn_accept(struct server *srv)
{
    struct conn *c = xcalloc(1, sizeof *c);
    c->srv = srv;
    uv_tcp_init(&srv->loop, &c->tcp);
    c->tcp.data = c;
    if (uv_accept((uv_stream_t *)&srv->listener, (uv_stream_t *)&c->tcp) != 0) {
        c->closing = true;
        uv_close((uv_handle_t *)&c->tcp, on_close);
        return;
    }
    srv->stats.connections_received++;
    uv_tcp_nodelay(&c->tcp, 1);
    c->id = ++srv->next_conn_id;
    c->created_ms = server_time_ms();
    c->last_ms = c->created_ms;
    c->resp = 2;
    snprintf(c->last_cmd, sizeof c->last_cmd, "NULL");
    conn_addr(c, false, c->addr, sizeof c->addr);
    c->next = srv->conns;
    if (srv->conns) {
        srv->conns->prev = c;
    }
    srv->conns = c;
    srv->nconns++;
    if ((long long)srv->nconns > srv->cfg.maxclients) {
        srv->stats.connections_rejected++;
        reply_error(&c->out, "ERR max number of clients reached");
        c->close_after_reply = true;
        flush(c);
        return;
    }
    c->proto = proto_new(srv->cfg.proto_max_bulk_len);
    start_reading(c);
}

static void on_write(uv_write_t *req, int status)
{
    struct conn *c = req->data;
    c->writing = false;
    buf_clear(&c->wbuf);
    if (c->closing) {
        return;
    }
    if (status != 0) {
        conn_close(c);
        return;
    }
    flush(c);
    if (!c->closing && !c->close_after_reply && c->in.len > 0) {
        want_resume(c, true);
    }
}

/* Move ready head slots to the output and start a write if none runs. */
static void flush(struct conn *c)
{
    if (c->closing) {
        return;
    }
    while (c->head != NULL && c->head->ready) {
        struct slot *s = c->head;
        c->head = s->next;
        if (c->head == NULL) {
            c->tail = NULL;
        }
        c->nslots--;
        if (c->out.len == 0 && c->out.cap < s->reply.cap) {
            struct buf tmp = c->out;
            c->out = s->reply;
            s->reply = tmp;
        } else {
            buf_append(&c->out, s->reply.data, s->reply.len);
        }
        buf_free(&s->reply);
        free(s);
    }
    if (c->writing) {
        return;
    }
    if (c->out.len == 0) {
        if (c->close_after_reply && c->head == NULL) {
            conn_close(c);
        }
        return;
    }
    /* Write what the socket takes now without a request: a write request
     * that completes at once still costs libuv a deferred callback and an
     * epoll_ctl; only a remainder is queued with uv_write. */
    uv_buf_t now = uv_buf_init(c->out.data, (unsigned)c->out.len);
    int n = uv_try_write((uv_stream_t *)&c->tcp, &now, 1);
    if (n < 0 && n != UV_EAGAIN) {
        conn_close(c);
        return;
    }
    if (n > 0) {
        c->srv->stats.net_output_bytes += (uint64_t)n;
        buf_consume(&c->out, (size_t)n);
    }
    if (c->out.len == 0) {
        if (c->close_after_reply && c->head == NULL) {
            conn_close(c);
        }
        return;
    }
    struct buf tmp = c->wbuf;
    c->wbuf = c->out;
    c->out = tmp;
    buf_clear(&c->out);
    c->srv->stats.net_output_bytes += c->wbuf.len;
    uv_buf_t b = uv_buf_init(c->wbuf.data, (unsigned)c->wbuf.len);
    c->wreq.data = c;
    c->writing = true;
    if (uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &b, 1, on_write) != 0) {
        c->writing = false;
        conn_close(c);
    }
}

/* Where an immediate reply for the current request goes. */
static struct buf *conn_reply_buf(struct conn *c)
{
    if (c->head == NULL) {
        return &c->out;
    }
    struct slot *s = conn_slot_new(c);
    s->ready = true;
    return &s->reply;
}

struct slot *conn_slot_new(struct conn *c)
{
    struct slot *s = xcalloc(1, sizeof *s);
    s->conn = c;
    s->resp = (uint8_t)c->resp;
    s->stat = -1;
    if (c->tail) {
        c->tail->next = s;
    } else {
        c->head = s;
    }
    c->tail = s;
    c->nslots++;
    return s;
}

void conn_slot_ready(struct slot *slot)
{
    struct conn *c = slot->conn;
    slot->in_batch = false;
    if (c == NULL) {
        if (slot->on_ready != NULL) {
            slot->on_ready(slot, slot->on_ready_arg);
        }
        buf_free(&slot->reply);
        free(slot);
        return;
    }
    if (slot->stat >= 0) {
        count_call(c->srv, slot->stat, slot->started_ns, &slot->reply, 0);
    }
    if (slot->wrap) {
        struct buf b;
        buf_init(&b);
        reply_bulk(&b, slot->reply.data, slot->reply.len);
        buf_free(&slot->reply);
        slot->reply = b;
    }
    if (slot->watch) {
        multi_watch_done(c, &slot->reply);
        if (!c->closing && c->in.len > 0) {
            want_resume(c, true); /* an EXEC may wait for this WATCH */
        }
    }
    slot->ready = true;
    if (!c->in_flush) {
        c->in_flush = true;
        c->flush_next = c->srv->flush;
        c->srv->flush = c;
        server_kick(c->srv);
    }
}

void conn_flush_pending(struct server *srv)
{
    struct conn *list = srv->flush;
    srv->flush = NULL;
    while (list != NULL) {
        struct conn *c = list;
        list = c->flush_next;
        c->in_flush = false;
        flush(c);
        if (!c->closing && c->in.len > 0 && !c->reading) {
            want_resume(c, true);
        }
    }
}

/* Account one call of table entry idx that started at t0 (uv_hrtime) and
 * wrote reply from offset `from`. */
static void count_call(struct server *srv, int idx, uint64_t t0,
                       const struct buf *reply, size_t from)
{
    struct cmd_stat *st = &srv->cmdstats[idx];
    st->calls++;
    st->usec += (uv_hrtime() - t0) / 1000;
    if (reply->len > from && reply->data[from] == '-') {
        st->failed_calls++;
    }
}

struct buf *conn_push_buf(struct conn *c)
{
    if (c->closing || c->close_after_reply) {
        return NULL;
    }
    struct buf *b = conn_reply_buf(c);
    if (!c->in_flush) {
        c->in_flush = true;
        c->flush_next = c->srv->flush;
        c->srv->flush = c;
        server_kick(c->srv);
    }
    return b;
}

/* Commands a RESP2 client may send while subscribed. */
static bool allowed_subscribed(const struct command *cmd)
{
    static const char *const ok[] = {
        "subscribe", "unsubscribe", "psubscribe", "punsubscribe",
        "ping",      "quit",        "reset"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        if (strcmp(cmd->name, ok[i]) == 0) {
            return true;
        }
    }
    return false;
}

static bool has_subcommands(const struct command *cmd)
{
    static const char *const names[] = {"client", "cluster", "command",
                                        "config", "pubsub"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(cmd->name, names[i]) == 0) {
            return true;
        }
    }
    return false;
}

/* Commands that run at once inside MULTI instead of being queued. */
static bool runs_in_multi(const struct command *cmd)
{
    static const char *const now[] = {"exec",  "discard", "multi",
                                      "watch", "quit",    "reset"};
    for (size_t i = 0; i < sizeof now / sizeof now[0]; i++) {
        if (strcmp(cmd->name, now[i]) == 0) {
            return true;
        }
    }
    return false;
}

/* Refuse cmd before it runs: rejected_calls, and a MULTI turns dirty. */
static struct buf *reject(struct conn *c, const struct command *cmd)
{
    if (cmd != NULL) {
        c->srv->cmdstats[command_index(cmd)].rejected_calls++;
    }
    if (multi_active(c)) {
        multi_mark_dirty(c);
    }
    return conn_reply_buf(c);
}

static void dispatch(struct conn *c, struct proto_req *req)
{
    struct server *srv = c->srv;
    const char *const *argv = (const char *const *)req->argv;
    srv->stats.commands_processed++;
    c->last_ms = server_time_ms();
    /* A follower forwards a RESP3 client's command as RAFT.R3 <command>:
     * it runs with RESP3 replies, relayed inside a bulk string (the
     * follower's hiredis reader speaks RESP2 only, see proxy.h). */
    bool wrap = false;
    struct proto_req inner;
    if (c->is_proxy && req->argc >= 2 &&
        arg_is(argv[0], req->argvlen[0], "raft.r3")) {
        wrap = true;
        argv++;
        inner =
            (struct proto_req){req->argc - 1, req->argv + 1, req->argvlen + 1};
        req = &inner;
    }
    const struct command *cmd = command_lookup(argv[0], req->argvlen[0]);
    /* Internal commands: only RAFT.EXEC / RAFT.WATCH, from a proxy link. */
    if (cmd != NULL && (cmd->flags & CMD_INTERNAL) &&
        !(c->is_proxy &&
          (cmd->flags & CMD_WRITE ? strcmp(cmd->name, "raft.exec")
                                  : strcmp(cmd->name, "raft.watch")) == 0)) {
        cmd = NULL;
    }
    if (cmd == NULL) {
        snprintf(c->last_cmd, sizeof c->last_cmd, "NULL");
        command_reply_unknown(reject(c, NULL), req->argc, argv, req->argvlen);
        return;
    }
    /* Commands with subcommands are known by both ("config|get"), as in
     * CLIENT LIST and in redis-server's errors. */
    if (req->argc >= 2 && has_subcommands(cmd)) {
        int n = snprintf(c->last_cmd, sizeof c->last_cmd, "%s|%.*s", cmd->name,
                         (int)req->argvlen[1], argv[1]);
        for (int i = (int)strlen(cmd->name); i < n && c->last_cmd[i]; i++) {
            c->last_cmd[i] = (char)tolower((unsigned char)c->last_cmd[i]);
        }
    } else {
        snprintf(c->last_cmd, sizeof c->last_cmd, "%s", cmd->name);
    }
    if (!command_arity_ok(cmd, req->argc)) {
        if (multi_active(c) && strcmp(cmd->name, "exec") == 0) {
            /* redis-server's execCommandAbort: the refusal ends it. */
            multi_discard(c);
            reply_errorf(conn_reply_buf(c),
                         "EXECABORT Transaction discarded because of: wrong "
                         "number of arguments for '%s' command",
                         cmd->name);
            return;
        }
        reply_arity_error(reject(c, cmd), cmd->name);
        return;
    }
    if (c->resp < 3 && pubsub_count(c) > 0 && !allowed_subscribed(cmd)) {
        reply_errorf(reject(c, cmd),
                     "ERR Can't execute '%s': only (P|S)SUBSCRIBE / "
                     "(P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in "
                     "this context",
                     c->last_cmd);
        return;
    }
    if (multi_active(c) && !runs_in_multi(cmd)) {
        if (strstr(cmd->redis_flags, "no_multi") != NULL) {
            reply_error(reject(c, cmd),
                        "ERR Command not allowed inside a transaction");
            return;
        }
        multi_queue(c, cmd, req->argc, req->argv, req->argvlen,
                    conn_reply_buf(c));
        return;
    }
    int idx = (int)command_index(cmd);
    uint64_t t0 = uv_hrtime();
    if (cmd->flags & CMD_LOCAL) {
        struct buf *reply = conn_reply_buf(c);
        size_t from = reply->len;
        if (c->resp < 3 && pubsub_count(c) > 0 &&
            strcmp(cmd->name, "ping") == 0 && req->argc <= 2) {
            /* Subscribed RESP2 clients get PING as a message-like array. */
            reply_array(reply, 2);
            reply_bulk_str(reply, "pong");
            reply_bulk(reply, req->argc == 2 ? argv[1] : "",
                       req->argc == 2 ? req->argvlen[1] : 0);
        } else {
            struct cmd_ctx ctx = {
                .argc = req->argc,
                .argv = argv,
                .argvlen = req->argvlen,
                .reply = reply,
                .store = srv->store,
                .time_ms = server_time_ms(),
                .resp = c->resp,
                .srv = srv,
                .conn = c,
            };
            cmd->fn(&ctx);
        }
        count_call(srv, idx, t0, reply, from);
        return;
    }
    if (wrap) {
        c->resp = 3; /* for the slot about to be made, then back */
    }
    struct slot *slot = cluster_route(&srv->cluster, c, cmd, req->argc,
                                      req->argv, req->argvlen, false);
    if (wrap) {
        c->resp = 2;
        slot->wrap = true;
    }
    slot->stat = idx;
    slot->started_ns = t0;
}

void conn_process(struct conn *c)
{
    size_t pos = 0;
    while (!c->closing && !c->close_after_reply && pos < c->in.len) {
        if (over_limits(c)) {
            stop_reading(c);
            want_resume(c, false);
            break;
        }
        struct proto_req req;
        size_t used;
        const char *err;
        enum proto_status st = proto_parse(c->proto, c->in.data + pos,
                                           c->in.len - pos, &used, &req, &err);
        if (st == PROTO_NEED_MORE) {
            break;
        }
        if (st == PROTO_ERR) {
            reply_errorf(conn_reply_buf(c), "ERR %s", err);
            c->close_after_reply = true;
            stop_reading(c);
            pos = c->in.len;
            break;
        }
        if (st == PROTO_OK && multi_must_wait(c, req.argv[0], req.argvlen[0])) {
            /* Parsed again once the outstanding WATCH replies are back. */
            proto_req_free(&req);
            break;
        }
        pos += used;
        if (st == PROTO_OK) {
            dispatch(c, &req);
            proto_req_free(&req);
        }
    }
    buf_consume(&c->in, pos);
    if (!c->closing && !c->close_after_reply && !over_limits(c)) {
        start_reading(c);
    }
    flush(c);
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *b)
{
    struct conn *c = stream->data;
    (void)b;
    if (nread < 0) {
        conn_close(c);
        return;
    }
    if (nread == 0) {
        return;
    }
    c->in.len += (size_t)nread;
    c->srv->stats.net_input_bytes += (uint64_t)nread;
    if ((long long)c->in.len > c->srv->cfg.client_query_buffer_limit) {
        log_write(&c->srv->log, LOG_WARNING,
                  "Closing client that reached max query buffer length: "
                  "id=%llu addr=%s qbuf=%zu",
                  (unsigned long long)c->id, c->addr, c->in.len);
        conn_close(c);
        return;
    }
    conn_process(c);
}

void conn_resume_pending(struct server *srv)
{
    struct conn *list = srv->resume;
    srv->resume = NULL;
    while (list != NULL) {
        struct conn *c = list;
        list = c->resume_next;
        c->in_resume = false;
        conn_process(c);
    }
}
