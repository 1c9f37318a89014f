/* multi: MULTI/EXEC and WATCH state of a connection (see multi.h). */
#include "multi.h"

#include <stdlib.h>
#include <string.h>

#include "command.h"
#include "conn.h"
#include "mem.h"
#include "num.h"
#include "proto.h"
#include "reply.h"

struct watched {
    char *key;
    size_t klen;
    long long stamp; /* -1: absent when watched */
};

/* A WATCH whose stamps are not back yet: its keys, in order. */
struct pending {
    struct pending *next;
    struct proto_req keys;
};

struct multi {
    bool active;
    bool dirty;        /* a queue-time error: EXECABORT */
    bool watch_failed; /* a WATCH got an error: EXEC aborts */
    struct proto_req *queue;
    size_t nqueue, cap;
    struct watched *watches;
    size_t nwatches, wcap;
    struct pending *pending_head, *pending_tail;
};

static struct multi *get(struct conn *c)
{
    if (c->multi == NULL) {
        c->multi = xcalloc(1, sizeof *c->multi);
    }
    return c->multi;
}

bool multi_active(const struct conn *c)
{
    return c->multi != NULL && c->multi->active;
}

bool multi_must_wait(const struct conn *c, const char *name, size_t len)
{
    if (c->multi == NULL || c->multi->pending_head == NULL) {
        return false;
    }
    return arg_is(name, len, "exec") || arg_is(name, len, "unwatch") ||
           arg_is(name, len, "discard") || arg_is(name, len, "reset");
}

void multi_mark_dirty(struct conn *c)
{
    get(c)->dirty = true;
}

void multi_queue(struct conn *c, const struct command *cmd, int argc,
                 char *const *argv, const size_t *argvlen, struct buf *reply)
{
    struct multi *m = get(c);
    (void)cmd; /* looked up again when the transaction applies */
    if (m->nqueue == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 8;
        m->queue = xrealloc(m->queue, m->cap * sizeof *m->queue);
    }
    proto_req_copy(&m->queue[m->nqueue++], argc, (const char *const *)argv,
                   argvlen);
    reply_status(reply, "QUEUED");
}

static void clear_queue(struct multi *m)
{
    for (size_t i = 0; i < m->nqueue; i++) {
        proto_req_free(&m->queue[i]);
    }
    m->nqueue = 0;
    m->active = false;
    m->dirty = false;
}

void multi_unwatch(struct conn *c)
{
    struct multi *m = c->multi;
    if (m == NULL) {
        return;
    }
    for (size_t i = 0; i < m->nwatches; i++) {
        free(m->watches[i].key);
    }
    m->nwatches = 0;
    m->watch_failed = false;
}

void multi_discard(struct conn *c)
{
    if (c->multi != NULL) {
        clear_queue(c->multi);
        multi_unwatch(c);
    }
}

void multi_free(struct conn *c)
{
    struct multi *m = c->multi;
    if (m == NULL) {
        return;
    }
    multi_discard(c);
    while (m->pending_head != NULL) {
        struct pending *p = m->pending_head;
        m->pending_head = p->next;
        proto_req_free(&p->keys);
        free(p);
    }
    free(m->queue);
    free(m->watches);
    free(m);
    c->multi = NULL;
}

/* Called when a WATCH is routed: remember its keys until the reply. */
void multi_watch_sent(struct conn *c, int nkeys, char *const *keys,
                      const size_t *klens)
{
    struct multi *m = get(c);
    struct pending *p = xcalloc(1, sizeof *p);
    proto_req_copy(&p->keys, nkeys, (const char *const *)keys, klens);
    if (m->pending_tail) {
        m->pending_tail->next = p;
    } else {
        m->pending_head = p;
    }
    m->pending_tail = p;
}

/* Parse "*N\r\n" followed by N ":<int>\r\n"; returns N or -1. */
static long long parse_stamps(const struct buf *b, long long *out,
                              long long max)
{
    const char *p = b->data, *end = b->data + b->len;
    long long n = -1;
    for (long long i = -1; i < (n < 0 ? 0 : n); i++) {
        if (p >= end || *p != (i < 0 ? '*' : ':')) {
            return -1;
        }
        const char *crlf = memchr(p, '\r', (size_t)(end - p));
        long long v;
        if (crlf == NULL || crlf + 1 >= end || crlf[1] != '\n' ||
            !num_parse_ll(p + 1, (size_t)(crlf - p - 1), &v)) {
            return -1;
        }
        if (i < 0) {
            if (v != max) {
                return -1;
            }
            n = v;
        } else {
            out[i] = v;
        }
        p = crlf + 2;
    }
    return p == end ? n : -1;
}

void multi_watch_done(struct conn *c, struct buf *reply)
{
    struct multi *m = get(c);
    struct pending *p = m->pending_head;
    if (p == NULL) {
        return;
    }
    m->pending_head = p->next;
    if (m->pending_head == NULL) {
        m->pending_tail = NULL;
    }
    int n = p->keys.argc;
    long long *stamps = xcalloc((size_t)n, sizeof *stamps);
    if (parse_stamps(reply, stamps, n) != n) {
        m->watch_failed = true; /* e.g. -TIMEOUT: pass the error on */
    } else {
        for (int i = 0; i < n; i++) {
            if (m->nwatches == m->wcap) {
                m->wcap = m->wcap ? m->wcap * 2 : 8;
                m->watches = xrealloc(m->watches, m->wcap * sizeof *m->watches);
            }
            struct watched *w = &m->watches[m->nwatches++];
            w->key = xmemdup(p->keys.argv[i], p->keys.argvlen[i]);
            w->klen = p->keys.argvlen[i];
            w->stamp = stamps[i];
        }
        buf_clear(reply);
        reply_ok(reply);
    }
    free(stamps);
    proto_req_free(&p->keys);
    free(p);
}

/* Build RAFT.EXEC's arguments from the queue and the watches, then forget
 * both. Returns false when the transaction must abort instead (a WATCH
 * failed). */
bool multi_take(struct conn *c, struct proto_req *out)
{
    struct multi *m = get(c);
    bool ok = !m->watch_failed;
    size_t argc = 2 + 2 * m->nwatches;
    for (size_t i = 0; i < m->nqueue; i++) {
        argc += 1 + (size_t)m->queue[i].argc;
    }
    out->argc = (int)argc;
    out->argv = xcalloc(argc, sizeof *out->argv);
    out->argvlen = xcalloc(argc, sizeof *out->argvlen);
    size_t k = 0;
    char num[24];
#define PUT(p, n)                                                              \
    do {                                                                       \
        out->argv[k] = xmalloc((n) + 1);                                       \
        memcpy(out->argv[k], (p), (n));                                        \
        out->argv[k][(n)] = '\0';                                              \
        out->argvlen[k] = (n);                                                 \
        k++;                                                                   \
    } while (0)
    PUT("raft.exec", (size_t)9);
    int len = num_format_ll(num, (long long)m->nwatches);
    PUT(num, (size_t)len);
    for (size_t i = 0; i < m->nwatches; i++) {
        PUT(m->watches[i].key, m->watches[i].klen);
        len = num_format_ll(num, m->watches[i].stamp);
        PUT(num, (size_t)len);
    }
    for (size_t i = 0; i < m->nqueue; i++) {
        const struct proto_req *q = &m->queue[i];
        len = num_format_ll(num, q->argc);
        PUT(num, (size_t)len);
        for (int j = 0; j < q->argc; j++) {
            PUT(q->argv[j], q->argvlen[j]);
        }
    }
#undef PUT
    multi_discard(c);
    return ok;
}

bool multi_dirty(const struct conn *c)
{
    return c->multi != NULL && c->multi->dirty;
}

size_t multi_queued(const struct conn *c)
{
    return c->multi ? c->multi->nqueue : 0;
}

size_t multi_watching(const struct conn *c)
{
    return c->multi ? c->multi->nwatches : 0;
}

void multi_begin(struct conn *c)
{
    struct multi *m = get(c);
    m->active = true;
    m->dirty = false;
}
