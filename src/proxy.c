/* proxy: forwarding to the leader (see proxy.h). */
#include "proxy.h"

#include <hiredis/read.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "conn.h"
#include "mem.h"
#include "reply.h"
#include "server.h"

#define PROXY_TIMEOUT_ERR                                                      \
    "TIMEOUT connection to the raft leader lost; the command may or may not "  \
    "have been applied"

struct waiting {
    struct waiting *next;
    struct slot *slot; /* NULL for our own RAFT.PROXY hello */
    bool sent;         /* its bytes were handed to the socket */
    int argc;          /* a copy of the command until it is sent */
    char **argv;
    size_t *argvlen;
};

/* One connection attempt; freed in its close callback. */
struct link {
    struct proxy *proxy; /* NULL once abandoned */
    uv_tcp_t tcp;
    uv_connect_t connect;
    uv_write_t wreq;
    struct buf wbuf;
    bool connected;
    bool writing;
    bool closing;
    redisReader *reader;
    struct buf cur; /* the reply being relayed, re-encoded */
};

struct proxy {
    struct server *srv;
    struct proxy_hooks hooks;
    char addr[160];
    struct link *link;
    struct buf out; /* encoded commands not yet handed to the link */
    struct waiting *head, *tail;
    struct waiting *unsent; /* first entry not yet handed to the socket */
    size_t npending;
};

static void link_write(struct proxy *p);

struct proxy *proxy_new(struct server *srv, const struct proxy_hooks *hooks)
{
    struct proxy *p = xcalloc(1, sizeof *p);
    p->srv = srv;
    p->hooks = *hooks;
    return p;
}

static void drop_args(struct waiting *w)
{
    for (int i = 0; i < w->argc; i++) {
        free(w->argv[i]);
    }
    free(w->argv);
    free(w->argvlen);
    w->argc = 0;
    w->argv = NULL;
    w->argvlen = NULL;
}

size_t proxy_pending(const struct proxy *p)
{
    return p->npending;
}

static void on_link_closed(uv_handle_t *h)
{
    struct link *l = h->data;
    if (l->reader != NULL) {
        redisReaderFree(l->reader);
    }
    buf_free(&l->wbuf);
    buf_free(&l->cur);
    free(l);
}

static void close_link(struct link *l)
{
    if (l == NULL || l->closing) {
        return;
    }
    l->closing = true;
    l->proxy = NULL;
    uv_close((uv_handle_t *)&l->tcp, on_link_closed);
}

/* Empty the queue: sent commands get err, unsent ones are re-routed. */
static void fail_all(struct proxy *p, const char *err)
{
    struct waiting *w = p->head;
    p->head = p->tail = p->unsent = NULL;
    p->npending = 0;
    buf_clear(&p->out);
    while (w != NULL) {
        struct waiting *next = w->next;
        if (w->slot != NULL && !w->sent && w->argc > 0) {
            p->hooks.reroute(p->hooks.arg, w->slot, w->argc,
                             (const char *const *)w->argv, w->argvlen);
        } else if (w->slot != NULL) {
            buf_clear(&w->slot->reply);
            reply_error(&w->slot->reply, err);
            conn_slot_ready(w->slot);
        }
        drop_args(w);
        free(w);
        w = next;
    }
}

void proxy_reset(struct proxy *p)
{
    close_link(p->link);
    p->link = NULL;
    p->addr[0] = '\0';
    fail_all(p, PROXY_TIMEOUT_ERR);
}

void proxy_free(struct proxy *p)
{
    proxy_reset(p);
    buf_free(&p->out);
    free(p);
}

static void link_failed(struct link *l, const char *why)
{
    struct proxy *p = l->proxy;
    if (p == NULL) {
        return;
    }
    char addr[sizeof p->addr];
    snprintf(addr, sizeof addr, "%s", p->addr);
    log_write(&p->srv->log, LOG_WARNING, "Proxy connection to leader %s: %s",
              addr, why);
    p->hooks.unreachable(p->hooks.arg, addr);
    proxy_reset(p);
}

static void queue_waiting(struct proxy *p, struct slot *slot, int argc,
                          char *const *argv, const size_t *argvlen)
{
    struct waiting *w = xcalloc(1, sizeof *w);
    w->slot = slot;
    if (argc > 0) {
        w->argc = argc;
        w->argv = xmalloc((size_t)argc * sizeof(char *));
        w->argvlen = xmalloc((size_t)argc * sizeof(size_t));
        for (int i = 0; i < argc; i++) {
            w->argv[i] = xmemdup(argv[i], argvlen[i]);
            w->argvlen[i] = argvlen[i];
        }
    }
    if (p->tail) {
        p->tail->next = w;
    } else {
        p->head = w;
    }
    p->tail = w;
    if (p->unsent == NULL) {
        p->unsent = w;
    }
    p->npending++;
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

static void on_link_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    struct link *l = s->data;
    if (nread < 0) {
        free(b->base);
        link_failed(l, nread == UV_EOF ? "closed by the leader"
                                       : uv_strerror((int)nread));
        return;
    }
    if (nread > 0 && l->proxy != NULL) {
        redisReaderFeed(l->reader, b->base, (size_t)nread);
    }
    free(b->base);
    struct proxy *p = l->proxy;
    while (p != NULL && l->proxy == p) {
        void *obj = NULL;
        if (redisReaderGetReply(l->reader, &obj) != REDIS_OK) {
            link_failed(l, "protocol error from the leader");
            return;
        }
        if (obj == NULL) {
            break;
        }
        struct waiting *w = p->head;
        if (w == NULL) {
            link_failed(l, "unexpected reply from the leader");
            return;
        }
        p->head = w->next;
        if (p->head == NULL) {
            p->tail = NULL;
        }
        p->npending--;
        if (w->slot != NULL) {
            struct buf tmp = w->slot->reply;
            w->slot->reply = l->cur;
            l->cur = tmp;
            conn_slot_ready(w->slot);
        }
        buf_clear(&l->cur);
        free(w);
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
    if (l->proxy == NULL) {
        return;
    }
    if (status != 0) {
        link_failed(l, uv_strerror(status));
        return;
    }
    link_write(l->proxy);
}

static void link_write(struct proxy *p)
{
    struct link *l = p->link;
    if (l == NULL || !l->connected || l->writing || p->out.len == 0) {
        return;
    }
    struct buf tmp = l->wbuf;
    l->wbuf = p->out;
    p->out = tmp;
    buf_clear(&p->out);
    /* From here on these commands may run on the leader. */
    for (struct waiting *w = p->unsent; w != NULL; w = w->next) {
        w->sent = true;
        drop_args(w);
    }
    p->unsent = NULL;
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
    if (l->proxy == NULL) {
        return;
    }
    if (status != 0) {
        link_failed(l, uv_strerror(status));
        return;
    }
    l->connected = true;
    uv_tcp_nodelay(&l->tcp, 1);
    uv_read_start((uv_stream_t *)&l->tcp, alloc_cb, on_link_read);
    link_write(l->proxy);
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

static int open_link(struct proxy *p, const char *addr)
{
    struct sockaddr_storage ss;
    if (resolve(addr, &ss) != 0) {
        return -1;
    }
    struct link *l = xcalloc(1, sizeof *l);
    l->proxy = p;
    l->reader = redisReaderCreateWithFunctions(&relay_functions);
    l->reader->privdata = l;
    uv_tcp_init(&p->srv->loop, &l->tcp);
    l->tcp.data = l;
    l->connect.data = l;
    if (uv_tcp_connect(&l->connect, &l->tcp, (struct sockaddr *)&ss,
                       on_connect) != 0) {
        l->closing = true;
        uv_close((uv_handle_t *)&l->tcp, on_link_closed);
        return -1;
    }
    p->link = l;
    snprintf(p->addr, sizeof p->addr, "%s", addr);
    /* Announce ourselves first: the leader never forwards this link. */
    queue_waiting(p, NULL, 0, NULL, NULL);
    buf_append_str(&p->out, "*1\r\n$10\r\nRAFT.PROXY\r\n");
    return 0;
}

void proxy_forward(struct proxy *p, const char *addr, struct slot *slot,
                   int argc, char *const *argv, const size_t *argvlen)
{
    if (p->link != NULL && strcmp(p->addr, addr) != 0) {
        proxy_reset(p); /* a new leader */
    }
    if (p->link == NULL && open_link(p, addr) != 0) {
        buf_clear(&slot->reply);
        reply_errorf(&slot->reply, "CLUSTERDOWN can't reach the leader at %s",
                     addr);
        conn_slot_ready(slot);
        return;
    }
    reply_array(&p->out, argc);
    for (int i = 0; i < argc; i++) {
        reply_bulk(&p->out, argv[i], argvlen[i]);
    }
    queue_waiting(p, slot, argc, argv, argvlen);
    link_write(p);
}
