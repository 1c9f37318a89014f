/* proxy: forwarding to the leader (see proxy.h).
 *
 * Each link (one TCP connection to one leader) has its own FIFO of
 * commands waiting for replies. When the leader changes, the current link
 * is retired, not dropped: the old leader still answers what it received
 * (a command it acknowledges did commit; one it could not finish it fails
 * with -TIMEOUT itself), and the link closes once its queue is empty. */
#include "proxy.h"

#include <hiredis/read.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "conn.h"
#include "mem.h"
#include "proto.h"
#include "reply.h"
#include "server.h"

#define PROXY_TIMEOUT_ERR                                                      \
    "TIMEOUT connection to the raft leader lost; the command may or may not "  \
    "have been applied"

struct waiting {
    struct waiting *next;
    struct slot *slot; /* NULL for our own RAFT.PROXY hello */
    bool sent;         /* its bytes were handed to the socket */
    bool resp3; /* sent as RAFT.R3: the reply comes inside a bulk string */
    struct proto_req req; /* a copy of the command until it is answered */
};

/* One connection to one leader; freed in its close callback. */
struct link {
    struct link *next; /* proxy's retired links */
    struct proxy *proxy;
    char addr[160];
    uv_tcp_t tcp;
    uv_connect_t connect;
    uv_write_t wreq;
    struct buf out;  /* encoded commands not yet handed to the socket */
    struct buf wbuf; /* being written */
    struct waiting *head, *tail;
    struct waiting *unsent; /* first entry not yet handed to the socket */
    size_t npending;
    bool connected;
    bool writing;
    bool retired;
    uint64_t retired_at; /* uv_now() ms */
    bool closing;
    redisReader *reader;
    struct buf cur; /* the reply being relayed, re-encoded */
};

struct proxy {
    struct server *srv;
    struct proxy_hooks hooks;
    struct link *current;
    struct link *retired;
};

static void link_write(struct link *l);

struct proxy *proxy_new(struct server *srv, const struct proxy_hooks *hooks)
{
    struct proxy *p = xcalloc(1, sizeof *p);
    p->srv = srv;
    p->hooks = *hooks;
    return p;
}

static void drop_args(struct waiting *w)
{
    proto_req_free(&w->req);
}

static void on_link_closed(uv_handle_t *h)
{
    struct link *l = h->data;
    if (l->reader != NULL) {
        redisReaderFree(l->reader);
    }
    buf_free(&l->out);
    buf_free(&l->wbuf);
    buf_free(&l->cur);
    free(l);
}

/* Empty a link's queue: sent commands get -TIMEOUT (they may have run),
 * unsent ones go back to routing (they did not). */
static void fail_waiting(struct link *l)
{
    struct proxy *p = l->proxy;
    struct waiting *w = l->head;
    l->head = l->tail = l->unsent = NULL;
    l->npending = 0;
    buf_clear(&l->out);
    while (w != NULL) {
        struct waiting *next = w->next;
        if (w->slot != NULL && !w->sent && w->req.argc > 0) {
            p->hooks.reroute(p->hooks.arg, w->slot, w->req.argc,
                             (const char *const *)w->req.argv, w->req.argvlen);
        } else if (w->slot != NULL) {
            buf_clear(&w->slot->reply);
            reply_error(&w->slot->reply, PROXY_TIMEOUT_ERR);
            conn_slot_ready(w->slot);
        }
        drop_args(w);
        free(w);
        w = next;
    }
}

/* Detach a link from the proxy and close it. */
static void close_link(struct link *l)
{
    struct proxy *p = l->proxy;
    if (l->closing) {
        return;
    }
    l->closing = true;
    if (p->current == l) {
        p->current = NULL;
    } else {
        struct link **pp = &p->retired;
        while (*pp != NULL && *pp != l) {
            pp = &(*pp)->next;
        }
        if (*pp == l) {
            *pp = l->next;
        }
    }
    fail_waiting(l);
    uv_close((uv_handle_t *)&l->tcp, on_link_closed);
}

/* Stop sending on the current link; it closes once answered. */
static void retire(struct proxy *p)
{
    struct link *l = p->current;
    if (l == NULL) {
        return;
    }
    p->current = NULL;
    l->retired = true;
    l->retired_at = uv_now(&p->srv->loop);
    l->next = p->retired;
    p->retired = l;
    /* Commands not yet on the wire go to the new leader instead. */
    if (l->unsent != NULL) {
        /* All their bytes are still in l->out: none reached the socket. */
        struct waiting **pp = &l->head;
        while (*pp != NULL && *pp != l->unsent) {
            pp = &(*pp)->next;
        }
        struct waiting *w = l->unsent;
        *pp = NULL;
        l->tail = NULL;
        for (struct waiting *x = l->head; x != NULL; x = x->next) {
            l->tail = x;
        }
        l->unsent = NULL;
        buf_clear(&l->out);
        while (w != NULL) {
            struct waiting *next = w->next;
            l->npending--;
            if (w->slot != NULL && w->req.argc > 0) {
                p->hooks.reroute(p->hooks.arg, w->slot, w->req.argc,
                                 (const char *const *)w->req.argv,
                                 w->req.argvlen);
            }
            drop_args(w);
            free(w);
            w = next;
        }
    }
    if (l->npending == 0) {
        close_link(l);
    }
}

void proxy_reset(struct proxy *p)
{
    retire(p);
}

void proxy_expire(struct proxy *p, uint64_t limit_ms)
{
    uint64_t now = uv_now(&p->srv->loop);
    struct link *l = p->retired;
    while (l != NULL) {
        struct link *next = l->next;
        if (now - l->retired_at >= limit_ms) {
            log_write(&p->srv->log, LOG_WARNING,
                      "Former leader %s did not answer %zu forwarded "
                      "commands in %llu ms; giving up on them",
                      l->addr, l->npending, (unsigned long long)limit_ms);
            close_link(l);
        }
        l = next;
    }
}

void proxy_free(struct proxy *p)
{
    if (p->current != NULL) {
        close_link(p->current);
    }
    while (p->retired != NULL) {
        close_link(p->retired);
    }
    free(p);
}

static void link_failed(struct link *l, const char *why)
{
    struct proxy *p = l->proxy;
    if (l->closing) {
        return;
    }
    log_write(&p->srv->log, LOG_WARNING, "Proxy connection to leader %s: %s",
              l->addr, why);
    if (!l->retired) {
        p->hooks.unreachable(p->hooks.arg, l->addr);
    }
    close_link(l);
}

static void queue_waiting(struct link *l, struct slot *slot, int argc,
                          char *const *argv, const size_t *argvlen)
{
    struct waiting *w = xcalloc(1, sizeof *w);
    w->slot = slot;
    if (argc > 0) {
        proto_req_copy(&w->req, argc, (const char *const *)argv, argvlen);
    }
    if (l->tail) {
        l->tail->next = w;
    } else {
        l->head = w;
    }
    l->tail = w;
    if (l->unsent == NULL) {
        l->unsent = w;
    }
    l->npending++;
}

/* hiredis object functions that re-encode each element as it is parsed
 * (depth first, parents before children) into the link's current reply,
 * so a relayed reply is exactly what the leader sent, nil arrays
 * included. They return a dummy object: nothing is built. */
static char dummy_object;

static struct buf *cur_of(const redisReadTask *task)
{
    struct link *l = task->privdata;
    return &l->cur;
}

static void *create_string(const redisReadTask *task, char *str, size_t len)
{
    struct buf *b = cur_of(task);
    if (task->type == REDIS_REPLY_STATUS || task->type == REDIS_REPLY_ERROR) {
        buf_append(b, task->type == REDIS_REPLY_STATUS ? "+" : "-", 1);
        buf_append(b, str, len);
        buf_append(b, "\r\n", 2);
    } else {
        reply_bulk(b, str, len);
    }
    return &dummy_object;
}

static void *create_array(const redisReadTask *task, int elements)
{
    reply_array(cur_of(task), elements);
    return &dummy_object;
}

static void *create_integer(const redisReadTask *task, long long v)
{
    reply_int(cur_of(task), v);
    return &dummy_object;
}

static void *create_nil(const redisReadTask *task)
{
    if (task->type == REDIS_REPLY_ARRAY) {
        reply_null_array(cur_of(task));
    } else {
        reply_null(cur_of(task));
    }
    return &dummy_object;
}

static void free_object(void *obj)
{
    (void)obj;
}

static redisReplyObjectFunctions relay_functions = {
    create_string, create_array, create_integer, create_nil, free_object,
};

/* A RAFT.R3 reply: "$<n>\r\n<RESP3 reply>\r\n" becomes the RESP3 reply
 * itself; anything else (an error about the command) stays as it is. */
static void unwrap(struct buf *b)
{
    if (b->len < 4 || b->data[0] != '$') {
        return;
    }
    const char *crlf = memchr(b->data, '\r', b->len);
    if (crlf == NULL) {
        return;
    }
    size_t head = (size_t)(crlf - b->data) + 2;
    if (head + 2 > b->len) {
        return;
    }
    b->len -= 2;
    buf_consume(b, head);
}

static void on_link_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    struct link *l = s->data;
    if (nread < 0) {
        free(b->base);
        link_failed(l, nread == UV_EOF ? "closed by the leader"
                                       : uv_strerror((int)nread));
        return;
    }
    if (nread > 0 && !l->closing) {
        redisReaderFeed(l->reader, b->base, (size_t)nread);
    }
    free(b->base);
    while (!l->closing) {
        void *obj = NULL;
        if (redisReaderGetReply(l->reader, &obj) != REDIS_OK) {
            link_failed(l, "protocol error from the leader");
            return;
        }
        if (obj == NULL) {
            break;
        }
        struct waiting *w = l->head;
        if (w == NULL || !w->sent) {
            link_failed(l, "unexpected reply from the leader");
            return;
        }
        l->head = w->next;
        if (l->head == NULL) {
            l->tail = NULL;
        }
        l->npending--;
        if (w->slot != NULL && w->req.argc > 0 && l->cur.len > 7 &&
            memcmp(l->cur.data, "-MOVED ", 7) == 0) {
            /* That node no longer leads: the command did not run there.
             * Route it again (it waits until the new leader is known). */
            struct proxy *p = l->proxy;
            p->hooks.unreachable(p->hooks.arg, l->addr);
            p->hooks.reroute(p->hooks.arg, w->slot, w->req.argc,
                             (const char *const *)w->req.argv, w->req.argvlen);
        } else if (w->slot != NULL) {
            if (w->resp3) {
                unwrap(&l->cur);
            }
            struct buf tmp = w->slot->reply;
            w->slot->reply = l->cur;
            l->cur = tmp;
            conn_slot_ready(w->slot);
        }
        buf_clear(&l->cur);
        drop_args(w);
        free(w);
    }
    if (!l->closing && l->retired && l->npending == 0) {
        close_link(l);
    }
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    (void)h;
    b->base = xmalloc(suggested);
    b->len = suggested;
}

static void on_link_write(uv_write_t *req, int status)
{
    struct link *l = req->data;
    l->writing = false;
    buf_clear(&l->wbuf);
    if (l->closing) {
        return;
    }
    if (status != 0) {
        link_failed(l, uv_strerror(status));
        return;
    }
    link_write(l);
}

static void link_write(struct link *l)
{
    if (!l->connected || l->writing || l->closing || l->out.len == 0) {
        return;
    }
    struct buf tmp = l->wbuf;
    l->wbuf = l->out;
    l->out = tmp;
    buf_clear(&l->out);
    /* From here on these commands may run on the leader. */
    for (struct waiting *w = l->unsent; w != NULL; w = w->next) {
        w->sent = true;
    }
    l->unsent = NULL;
    uv_buf_t b = uv_buf_init(l->wbuf.data, (unsigned)l->wbuf.len);
    l->wreq.data = l;
    l->writing = true;
    if (uv_write(&l->wreq, (uv_stream_t *)&l->tcp, &b, 1, on_link_write) != 0) {
        l->writing = false;
        link_failed(l, "write failed");
    }
}

static void on_connect(uv_connect_t *req, int status)
{
    struct link *l = req->data;
    if (l->closing) {
        return;
    }
    if (status != 0) {
        link_failed(l, uv_strerror(status));
        return;
    }
    l->connected = true;
    uv_tcp_nodelay(&l->tcp, 1);
    uv_read_start((uv_stream_t *)&l->tcp, alloc_cb, on_link_read);
    link_write(l);
}

/* Resolve "HOST:PORT" (numeric, or a name through getaddrinfo). */
static int resolve(const char *addr, struct sockaddr_storage *ss)
{
    const char *colon = strrchr(addr, ':');
    if (colon == NULL) {
        return -1;
    }
    char host[128];
    snprintf(host, sizeof host, "%.*s", (int)(colon - addr), addr);
    int port = atoi(colon + 1);
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)ss) == 0 ||
        uv_ip6_addr(host, port, (struct sockaddr_in6 *)ss) == 0) {
        return 0;
    }
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
    if (getaddrinfo(host, colon + 1, &hints, &res) != 0 || res == NULL) {
        return -1;
    }
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    return 0;
}

static struct link *open_link(struct proxy *p, const char *addr)
{
    struct sockaddr_storage ss;
    if (resolve(addr, &ss) != 0) {
        return NULL;
    }
    struct link *l = xcalloc(1, sizeof *l);
    l->proxy = p;
    snprintf(l->addr, sizeof l->addr, "%s", addr);
    l->reader = redisReaderCreateWithFunctions(&relay_functions);
    l->reader->privdata = l;
    uv_tcp_init(&p->srv->loop, &l->tcp);
    l->tcp.data = l;
    l->connect.data = l;
    if (uv_tcp_connect(&l->connect, &l->tcp, (struct sockaddr *)&ss,
                       on_connect) != 0) {
        l->closing = true;
        uv_close((uv_handle_t *)&l->tcp, on_link_closed);
        return NULL;
    }
    /* Announce ourselves first: the leader never forwards this link. */
    queue_waiting(l, NULL, 0, NULL, NULL);
    buf_append_str(&l->out, "*1\r\n$10\r\nRAFT.PROXY\r\n");
    return l;
}

void proxy_forward(struct proxy *p, const char *addr, struct slot *slot,
                   int argc, char *const *argv, const size_t *argvlen)
{
    if (p->current != NULL && strcmp(p->current->addr, addr) != 0) {
        retire(p); /* a new leader */
    }
    if (p->current == NULL) {
        p->current = open_link(p, addr);
    }
    if (p->current == NULL) {
        buf_clear(&slot->reply);
        reply_errorf(&slot->reply, "CLUSTERDOWN can't reach the leader at %s",
                     addr);
        conn_slot_ready(slot);
        return;
    }
    struct link *l = p->current;
    bool resp3 = slot->resp >= 3;
    reply_array(&l->out, argc + resp3);
    if (resp3) {
        reply_bulk(&l->out, "RAFT.R3", 7);
    }
    for (int i = 0; i < argc; i++) {
        reply_bulk(&l->out, argv[i], argvlen[i]);
    }
    queue_waiting(l, slot, argc, argv, argvlen);
    l->tail->resp3 = resp3;
    link_write(l);
}
