/* pubsub: subscriptions and delivery on one node (see pubsub.h). */
#include "pubsub.h"

#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "dict.h"
#include "glob.h"
#include "mem.h"
#include "reply.h"

/* The connections subscribed to one channel or pattern, in order. */
struct subs {
    struct conn **v;
    size_t n, cap;
};

static void free_subs(void *p)
{
    struct subs *s = p;
    if (s != NULL) {
        free(s->v);
        free(s);
    }
}

void pubsub_init(struct pubsub *ps)
{
    ps->channels = dict_new(free_subs);
    ps->patterns = dict_new(free_subs);
}

void pubsub_close(struct pubsub *ps)
{
    dict_free(ps->channels);
    dict_free(ps->patterns);
    ps->channels = ps->patterns = NULL;
}

size_t pubsub_count(const struct conn *c)
{
    return (c->channels ? dict_size(c->channels) : 0) +
           (c->patterns ? dict_size(c->patterns) : 0);
}

bool pubsub_subscribe(struct pubsub *ps, struct conn *c, bool pattern,
                      const char *name, size_t len)
{
    struct dict **mine = pattern ? &c->patterns : &c->channels;
    if (*mine == NULL) {
        *mine = dict_new(NULL);
    }
    if (dict_add(*mine, name, len, NULL) == NULL) {
        return false;
    }
    struct dict *reg = pattern ? ps->patterns : ps->channels;
    struct dict_entry *e = dict_find(reg, name, len);
    if (e == NULL) {
        e = dict_set(reg, name, len, xcalloc(1, sizeof(struct subs)));
    }
    struct subs *s = e->v;
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 4;
        s->v = xrealloc(s->v, s->cap * sizeof *s->v);
    }
    s->v[s->n++] = c;
    return true;
}

bool pubsub_unsubscribe(struct pubsub *ps, struct conn *c, bool pattern,
                        const char *name, size_t len)
{
    struct dict *mine = pattern ? c->patterns : c->channels;
    if (mine == NULL || !dict_del(mine, name, len)) {
        return false;
    }
    struct dict *reg = pattern ? ps->patterns : ps->channels;
    struct dict_entry *e = dict_find(reg, name, len);
    if (e != NULL) {
        struct subs *s = e->v;
        for (size_t i = 0; i < s->n; i++) {
            if (s->v[i] == c) {
                memmove(&s->v[i], &s->v[i + 1], (s->n - i - 1) * sizeof *s->v);
                s->n--;
                break;
            }
        }
        if (s->n == 0) {
            dict_del(reg, name, len);
        }
    }
    return true;
}

struct forget {
    struct pubsub *ps;
    struct conn *c;
    bool pattern;
    struct buf names; /* u32 length + bytes, collected before deleting */
};

static void collect(void *arg, const struct dict_entry *e)
{
    struct forget *f = arg;
    uint32_t n = (uint32_t)e->klen;
    buf_append(&f->names, &n, sizeof n);
    buf_append(&f->names, e->key, e->klen);
}

void pubsub_forget(struct pubsub *ps, struct conn *c)
{
    for (int pattern = 0; pattern < 2; pattern++) {
        struct dict *mine = pattern ? c->patterns : c->channels;
        if (mine == NULL) {
            continue;
        }
        struct forget f = {ps, c, pattern, {0}};
        buf_init(&f.names);
        dict_foreach(mine, collect, &f);
        for (size_t off = 0; off < f.names.len;) {
            uint32_t n;
            memcpy(&n, f.names.data + off, sizeof n);
            off += sizeof n;
            pubsub_unsubscribe(ps, c, pattern, f.names.data + off, n);
            off += n;
        }
        buf_free(&f.names);
        dict_free(mine);
        if (pattern) {
            c->patterns = NULL;
        } else {
            c->channels = NULL;
        }
    }
}

/* A publisher that is itself subscribed gets the message before the
 * reply to its PUBLISH, as from redis-server: into that reply's buffer. */
struct self {
    struct conn *conn;
    struct buf *reply;
};

static void deliver(const struct self *self, struct conn *c, const char *pat,
                    size_t plen, const char *ch, size_t chlen, const char *msg,
                    size_t msglen)
{
    struct buf *b = c == self->conn ? self->reply : conn_push_buf(c);
    if (b == NULL) {
        return;
    }
    reply_push(b, pat ? 4 : 3, c->resp);
    if (pat) {
        reply_bulk(b, "pmessage", 8);
        reply_bulk(b, pat, plen);
    } else {
        reply_bulk(b, "message", 7);
    }
    reply_bulk(b, ch, chlen);
    reply_bulk(b, msg, msglen);
}

struct pmatch {
    const struct self *self;
    const char *ch, *msg;
    size_t chlen, msglen;
    long long n;
};

static void match_pattern(void *arg, const struct dict_entry *e)
{
    struct pmatch *m = arg;
    if (!glob_match(e->key, e->klen, m->ch, m->chlen, false)) {
        return;
    }
    const struct subs *s = e->v;
    for (size_t i = 0; i < s->n; i++) {
        deliver(m->self, s->v[i], e->key, e->klen, m->ch, m->chlen, m->msg,
                m->msglen);
        m->n++;
    }
}

long long pubsub_publish(struct pubsub *ps, const char *ch, size_t chlen,
                         const char *msg, size_t msglen, struct conn *publisher,
                         struct buf *reply)
{
    struct self self = {publisher, reply};
    long long n = 0;
    struct dict_entry *e = dict_find(ps->channels, ch, chlen);
    if (e != NULL) {
        const struct subs *s = e->v;
        for (size_t i = 0; i < s->n; i++) {
            deliver(&self, s->v[i], NULL, 0, ch, chlen, msg, msglen);
            n++;
        }
    }
    if (dict_size(ps->patterns) > 0) {
        struct pmatch m = {&self, ch, msg, chlen, msglen, 0};
        dict_foreach(ps->patterns, match_pattern, &m);
        n += m.n;
    }
    return n;
}

struct chans {
    const char *pat;
    size_t plen;
    bool all;
    struct buf out;
    long long n;
};

static void list_channel(void *arg, const struct dict_entry *e)
{
    struct chans *c = arg;
    if (c->all || glob_match(c->pat, c->plen, e->key, e->klen, false)) {
        reply_bulk(&c->out, e->key, e->klen);
        c->n++;
    }
}

void pubsub_channels(struct pubsub *ps, const char *pat, size_t plen, bool all,
                     struct buf *reply)
{
    struct chans c = {pat, plen, all, {0}, 0};
    buf_init(&c.out);
    dict_foreach(ps->channels, list_channel, &c);
    reply_array(reply, c.n);
    buf_append(reply, c.out.data, c.out.len);
    buf_free(&c.out);
}

long long pubsub_numsub(struct pubsub *ps, const char *ch, size_t len)
{
    struct dict_entry *e = dict_find(ps->channels, ch, len);
    return e ? (long long)((struct subs *)e->v)->n : 0;
}

long long pubsub_numpat(struct pubsub *ps)
{
    return (long long)dict_size(ps->patterns);
}
