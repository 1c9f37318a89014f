/* rpc: one-shot RESP requests to other nodes (see rpc.h).
 *
 * A request walks through: resolve (a literal directly, a name through
 * uv_getaddrinfo, each resolved address tried in turn) -> connect -> write
 * the command -> read one reply. A -MOVED/-ASK reply closes the connection
 * and, once its close callback has run (so the embedded handle and requests
 * can be reused), starts over at the named address.
 *
 * Lifetime: `active` counts what the loop still holds of the request (the
 * timer, the TCP handle, a getaddrinfo in flight). Once `done` (callback
 * delivered or cancelled) every one of them is closed or cancelled, and the
 * request is freed by whichever completion brings `active` to zero. libuv
 * runs a stream's pending connect/write callbacks (with UV_ECANCELED) before
 * its close callback, so nothing refers to the request after it is freed. */
#include "rpc.h"

#include <hiredis/hiredis.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "mem.h"
#include "reply.h"

/* What to do when the TCP handle's close callback runs. */
enum rpc_next {
    RPC_NEXT_NONE,
    RPC_NEXT_ADDR,     /* connect failed: try the next resolved address */
    RPC_NEXT_REDIRECT, /* -MOVED/-ASK: start over at host:port */
};

struct rpc {
    uv_loop_t *loop;
    rpc_cb cb;
    void *arg;
    char host[256]; /* where the current attempt goes */
    int port;
    struct buf cmd; /* the command, RESP-encoded once */
    uv_timer_t timer;
    uv_getaddrinfo_t gai;
    struct addrinfo *ai_list; /* owned; freed with uv_freeaddrinfo */
    struct addrinfo *ai_next; /* next address to try, in ai_list */
    uv_tcp_t tcp;
    uv_connect_t connect;
    uv_write_t wreq;
    redisReader *reader; /* one per attempt */
    char rbuf[4096];
    int redirects;
    bool asking;    /* this attempt sends ASKING first */
    int skip;       /* replies still to discard (ASKING's +OK) */
    bool tcp_open;  /* tcp initialised and its close callback not yet run */
    bool resolving; /* gai in flight */
    bool in_call;   /* inside rpc_call: failures are deferred */
    bool deferred;  /* the timer reports err instead of a timeout */
    bool done;      /* callback delivered or request cancelled */
    enum rpc_next next;
    int active; /* timer + tcp + gai still held by the loop */
    char err[512];
};

static const char rpc_asking[] = "*1\r\n$6\r\nASKING\r\n";

static void start(struct rpc *r);

/* Free the request once it is finished and the loop holds none of it. */
static void release(struct rpc *r)
{
    if (!r->done || r->active > 0) {
        return;
    }
    if (r->reader != NULL) {
        redisReaderFree(r->reader);
    }
    if (r->ai_list != NULL) {
        uv_freeaddrinfo(r->ai_list);
    }
    buf_free(&r->cmd);
    free(r);
}

static void connect_next(struct rpc *r);

static void on_closed(uv_handle_t *h)
{
    struct rpc *r = h->data;
    r->active--;
    if (h == (uv_handle_t *)&r->tcp) {
        r->tcp_open = false;
        enum rpc_next next = r->next;
        r->next = RPC_NEXT_NONE;
        if (!r->done && next == RPC_NEXT_ADDR) {
            connect_next(r);
        } else if (!r->done && next == RPC_NEXT_REDIRECT) {
            start(r);
        }
    }
    release(r);
}

/* Give back to the loop everything the request holds. */
static void teardown(struct rpc *r)
{
    uv_close((uv_handle_t *)&r->timer, on_closed);
    if (r->tcp_open && !uv_is_closing((uv_handle_t *)&r->tcp)) {
        uv_close((uv_handle_t *)&r->tcp, on_closed);
    }
    if (r->resolving) {
        /* If the lookup already runs, on_resolved still comes and sees
         * done; either way it drops the last reference. */
        uv_cancel((uv_req_t *)&r->gai);
    }
}

/* Deliver the outcome (reply, or NULL and err) and release the request.
 * The reply is freed here, after the callback. */
static void finish(struct rpc *r, redisReply *reply, const char *err)
{
    r->done = true;
    teardown(r);
    r->cb(r->arg, reply, err);
    if (reply != NULL) {
        freeReplyObject(reply);
    }
}

/* Fail the request with a formatted reason. Inside rpc_call the callback
 * must not run yet: the timer delivers it on the next loop iteration. */
static void fail(struct rpc *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void on_timer(uv_timer_t *t)
{
    struct rpc *r = t->data;
    finish(r, NULL, r->deferred ? r->err : "timeout");
}

static void fail(struct rpc *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err, sizeof r->err, fmt, ap);
    va_end(ap);
    if (r->in_call) {
        r->deferred = true;
        uv_timer_start(&r->timer, on_timer, 0, 0);
        return;
    }
    finish(r, NULL, r->err);
}

/* The current connection is being closed (redirect, next address, or the
 * end): its pending callbacks only report UV_ECANCELED. */
static bool stale(struct rpc *r)
{
    return r->done || uv_is_closing((uv_handle_t *)&r->tcp);
}

static void on_write(uv_write_t *req, int status)
{
    struct rpc *r = req->data;
    if (stale(r)) {
        return;
    }
    if (status < 0) {
        fail(r, "write to %s:%d: %s", r->host, r->port, uv_strerror(status));
    }
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    struct rpc *r = h->data;
    (void)suggested;
    *b = uv_buf_init(r->rbuf, sizeof r->rbuf);
}

static int parse_port(const char *s, const char *end, int *port);

/* Parse "-MOVED <slot> <addr>" / "-ASK <slot> <addr>" into host:port. An
 * empty host (":6380") means the host the reply came from. */
static int parse_redirect(const struct rpc *r, const char *s, char *host,
                          size_t hostlen, int *port)
{
    s = strchr(s, ' '); /* after MOVED/ASK */
    if (s == NULL || (s = strchr(s + 1, ' ')) == NULL) {
        return -1;
    }
    s++;
    if (s[0] != ':') {
        return rpc_parse_addr(s, host, hostlen, port);
    }
    const char *end = strchr(s, '@');
    if (parse_port(s + 1, end != NULL ? end : s + strlen(s), port) != 0) {
        return -1;
    }
    snprintf(host, hostlen, "%s", r->host);
    return 0;
}

/* Follow a redirection: close this connection; on_closed starts over. */
static void redirect(struct rpc *r, redisReply *reply, bool ask)
{
    char host[sizeof r->host];
    int port;
    int rv = parse_redirect(r, reply->str, host, sizeof host, &port);
    freeReplyObject(reply);
    if (rv != 0) {
        fail(r, "bad redirection");
        return;
    }
    if (r->redirects >= RPC_MAX_REDIRECTS) {
        fail(r, "too many redirections");
        return;
    }
    r->redirects++;
    memcpy(r->host, host, sizeof r->host);
    r->port = port;
    r->asking = ask;
    r->next = RPC_NEXT_REDIRECT;
    uv_read_stop((uv_stream_t *)&r->tcp);
    uv_close((uv_handle_t *)&r->tcp, on_closed);
}

static bool is_error_with(const redisReply *reply, const char *prefix)
{
    size_t n = strlen(prefix);
    return reply->type == REDIS_REPLY_ERROR && reply->len > n &&
           memcmp(reply->str, prefix, n) == 0;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    struct rpc *r = s->data;
    if (stale(r)) {
        return;
    }
    if (nread < 0) {
        if (nread == UV_EOF) {
            fail(r, "connection closed");
        } else {
            fail(r, "read from %s:%d: %s", r->host, r->port,
                 uv_strerror((int)nread));
        }
        return;
    }
    if (nread == 0) {
        return;
    }
    redisReaderFeed(r->reader, b->base, (size_t)nread);
    for (;;) {
        void *obj = NULL;
        if (redisReaderGetReply(r->reader, &obj) != REDIS_OK) {
            fail(r, "protocol error");
            return;
        }
        if (obj == NULL) {
            return; /* need more bytes */
        }
        redisReply *reply = obj;
        if (r->skip > 0) {
            r->skip--;
            freeReplyObject(reply);
            continue;
        }
        if (is_error_with(reply, "MOVED ")) {
            redirect(r, reply, false);
        } else if (is_error_with(reply, "ASK ")) {
            redirect(r, reply, true);
        } else {
            finish(r, reply, NULL);
        }
        return; /* one reply per request: anything after it is ignored */
    }
}

static void send_command(struct rpc *r)
{
    uv_buf_t bufs[2];
    unsigned n = 0;
    if (r->asking) {
        bufs[n++] = uv_buf_init((char *)rpc_asking, sizeof rpc_asking - 1);
    }
    bufs[n++] = uv_buf_init(r->cmd.data, (unsigned)r->cmd.len);
    r->skip = r->asking ? 1 : 0;
    r->wreq.data = r;
    int rv = uv_write(&r->wreq, (uv_stream_t *)&r->tcp, bufs, n, on_write);
    if (rv < 0) {
        fail(r, "write to %s:%d: %s", r->host, r->port, uv_strerror(rv));
    }
}

/* This connection failed: try the next resolved address, if any (the
 * error reported is the last address's). */
static void connect_failed(struct rpc *r, int status)
{
    if (r->ai_next != NULL) {
        r->next = RPC_NEXT_ADDR;
        uv_close((uv_handle_t *)&r->tcp, on_closed);
        return;
    }
    fail(r, "connect to %s:%d: %s", r->host, r->port, uv_strerror(status));
}

static void on_connect(uv_connect_t *req, int status)
{
    struct rpc *r = req->data;
    if (stale(r)) {
        return;
    }
    if (status < 0) {
        connect_failed(r, status);
        return;
    }
    uv_tcp_nodelay(&r->tcp, 1);
    int rv = uv_read_start((uv_stream_t *)&r->tcp, alloc_cb, on_read);
    if (rv < 0) {
        fail(r, "read from %s:%d: %s", r->host, r->port, uv_strerror(rv));
        return;
    }
    send_command(r);
}

static void connect_to(struct rpc *r, const struct sockaddr *sa)
{
    uv_tcp_init(r->loop, &r->tcp);
    r->tcp.data = r;
    r->tcp_open = true;
    r->active++;
    r->connect.data = r;
    int rv = uv_tcp_connect(&r->connect, &r->tcp, sa, on_connect);
    if (rv < 0) {
        connect_failed(r, rv);
    }
}

/* Try the next address getaddrinfo gave (there is one: callers check). */
static void connect_next(struct rpc *r)
{
    struct addrinfo *ai = r->ai_next;
    r->ai_next = ai->ai_next;
    connect_to(r, ai->ai_addr);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    struct rpc *r = req->data;
    r->resolving = false;
    r->active--;
    if (r->done) {
        uv_freeaddrinfo(res);
        release(r);
        return;
    }
    if (status < 0 || res == NULL) {
        uv_freeaddrinfo(res);
        fail(r, "resolve %s: %s", r->host, uv_strerror(status));
        return;
    }
    r->ai_list = r->ai_next = res;
    connect_next(r);
}

/* One attempt at r->host:r->port with a fresh reader. */
static void start(struct rpc *r)
{
    if (r->reader != NULL) {
        redisReaderFree(r->reader);
    }
    r->reader = redisReaderCreate();
    if (r->ai_list != NULL) {
        uv_freeaddrinfo(r->ai_list);
        r->ai_list = r->ai_next = NULL;
    }
    struct sockaddr_storage ss;
    if (uv_ip4_addr(r->host, r->port, (struct sockaddr_in *)&ss) == 0 ||
        uv_ip6_addr(r->host, r->port, (struct sockaddr_in6 *)&ss) == 0) {
        connect_to(r, (struct sockaddr *)&ss);
        return;
    }
    char service[16];
    snprintf(service, sizeof service, "%d", r->port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM};
    r->gai.data = r;
    int rv =
        uv_getaddrinfo(r->loop, &r->gai, on_resolved, r->host, service, &hints);
    if (rv < 0) {
        fail(r, "resolve %s: %s", r->host, uv_strerror(rv));
        return;
    }
    r->resolving = true;
    r->active++;
}

struct rpc *rpc_call(uv_loop_t *loop, const char *host, int port, int argc,
                     const char *const *argv, const size_t *argvlen,
                     uint64_t timeout_ms, rpc_cb cb, void *arg)
{
    struct rpc *r = xcalloc(1, sizeof *r);
    r->loop = loop;
    r->cb = cb;
    r->arg = arg;
    r->port = port;
    reply_array(&r->cmd, argc);
    for (int i = 0; i < argc; i++) {
        reply_bulk(&r->cmd, argv[i],
                   argvlen != NULL ? argvlen[i] : strlen(argv[i]));
    }
    uv_timer_init(loop, &r->timer);
    r->timer.data = r;
    r->active++;
    if (timeout_ms > 0) {
        uv_timer_start(&r->timer, on_timer, timeout_ms, 0);
    }
    r->in_call = true;
    if (strlen(host) >= sizeof r->host) {
        fail(r, "host name too long");
    } else if (port < 1 || port > 65535) {
        fail(r, "bad port %d", port);
    } else {
        memcpy(r->host, host, strlen(host) + 1);
        start(r);
    }
    r->in_call = false;
    return r;
}

void rpc_cancel(struct rpc *r)
{
    if (r->done) {
        return;
    }
    r->done = true;
    teardown(r);
}

static int parse_port(const char *s, const char *end, int *port)
{
    long v = 0;
    if (s == end || end - s > 5) {
        return -1;
    }
    for (; s < end; s++) {
        if (*s < '0' || *s > '9') {
            return -1;
        }
        v = v * 10 + (*s - '0');
    }
    if (v < 1 || v > 65535) {
        return -1;
    }
    *port = (int)v;
    return 0;
}

int rpc_parse_addr(const char *addr, char *host, size_t hostlen, int *port)
{
    const char *end = strchr(addr, '@');
    if (end == NULL) {
        end = addr + strlen(addr);
    }
    const char *h, *colon;
    size_t n;
    if (addr[0] == '[') {
        const char *close = memchr(addr, ']', (size_t)(end - addr));
        if (close == NULL || close + 1 == end || close[1] != ':') {
            return -1;
        }
        h = addr + 1;
        n = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = NULL;
        for (const char *p = addr; p < end; p++) {
            if (*p == ':') {
                colon = p;
            }
        }
        if (colon == NULL) {
            return -1;
        }
        h = addr;
        n = (size_t)(colon - addr);
    }
    int p;
    if (n == 0 || n >= hostlen || parse_port(colon + 1, end, &p) != 0) {
        return -1;
    }
    memcpy(host, h, n);
    host[n] = '\0';
    *port = p;
    return 0;
}
