/* proto: Redis request framing plus hiredis parsing (see proto.h). */
#include "proto.h"

#include <hiredis/read.h>
#include <hiredis/sds.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "num.h"

struct proto {
    redisReader *reader;
    long long max_bulk_len;
    /* Framing scanner state for the current multibulk frame. */
    bool in_frame;
    size_t pos;        /* bytes of the frame scanned so far */
    long long bulks;   /* bulk strings still to scan */
    long long bulklen; /* length of the current bulk, -1 before header */
    /* Request being built by the hiredis object functions. */
    struct proto_req req;
    int cap;
    const char *build_err;
    char errbuf[64];
};

/* A non-NULL object for hiredis: our argv lives in p->req instead. */
static char dummy_object;

static void *fail(const redisReadTask *task, const char *msg)
{
    struct proto *p = task->privdata;
    p->build_err = msg;
    return NULL;
}

static void *create_array(const redisReadTask *task, int elements)
{
    struct proto *p = task->privdata;
    if (task->parent != NULL) {
        return fail(task, "Protocol error: expected '$', got '*'");
    }
    p->req.argc = 0;
    p->cap = elements < 1024 ? elements : 1024;
    p->req.argv = xmalloc((size_t)p->cap * sizeof(char *));
    p->req.argvlen = xmalloc((size_t)p->cap * sizeof(size_t));
    return &dummy_object;
}

static void *create_string(const redisReadTask *task, char *str, size_t len)
{
    struct proto *p = task->privdata;
    if (task->parent == NULL || task->type != REDIS_REPLY_STRING) {
        return fail(task, "Protocol error: expected '$'");
    }
    if (p->req.argc == p->cap) {
        p->cap *= 2;
        p->req.argv = xrealloc(p->req.argv, (size_t)p->cap * sizeof(char *));
        p->req.argvlen =
            xrealloc(p->req.argvlen, (size_t)p->cap * sizeof(size_t));
    }
    p->req.argv[p->req.argc] = xmemdup(str, len);
    p->req.argvlen[p->req.argc] = len;
    p->req.argc++;
    return &dummy_object;
}

static void *create_integer(const redisReadTask *task, long long v)
{
    (void)v;
    return fail(task, "Protocol error: expected '$'");
}

static void *create_nil(const redisReadTask *task)
{
    return fail(task, "Protocol error: expected '$'");
}

static void free_object(void *obj)
{
    (void)obj; /* argv is released with the request */
}

static redisReplyObjectFunctions object_functions = {
    create_string, create_array, create_integer, create_nil, free_object,
};

struct proto *proto_new(long long max_bulk_len)
{
    struct proto *p = xcalloc(1, sizeof *p);
    p->reader = redisReaderCreateWithFunctions(&object_functions);
    if (p->reader == NULL) {
        fprintf(stderr, "redis-raft: out of memory creating a reader\n");
        abort();
    }
    p->reader->privdata = p;
    p->max_bulk_len = max_bulk_len;
    return p;
}

void proto_free(struct proto *p)
{
    if (p == NULL) {
        return;
    }
    redisReaderFree(p->reader);
    proto_req_free(&p->req);
    free(p);
}

void proto_set_max_bulk_len(struct proto *p, long long max_bulk_len)
{
    p->max_bulk_len = max_bulk_len;
}

void proto_req_free(struct proto_req *req)
{
    for (int i = 0; i < req->argc; i++) {
        free(req->argv[i]);
    }
    free(req->argv);
    free(req->argvlen);
    memset(req, 0, sizeof *req);
}

void proto_req_copy(struct proto_req *dst, int argc, const char *const *argv,
                    const size_t *argvlen)
{
    dst->argc = argc;
    dst->argv = xmalloc((size_t)argc * sizeof(char *));
    dst->argvlen = xmalloc((size_t)argc * sizeof(size_t));
    for (int i = 0; i < argc; i++) {
        dst->argv[i] = xmemdup(argv[i], argvlen[i]);
        dst->argvlen[i] = argvlen[i];
    }
}

/* Find the "\r\n"-terminated line at buf[pos..len). Returns the offset of
 * the '\r', or -1 when the line is not complete yet. Like redis-server, the
 * line ends at the first '\r', which must be followed by a '\n' eventually
 * (it is not checked). */
static long find_line(const char *buf, size_t pos, size_t len)
{
    const char *cr = memchr(buf + pos, '\r', len - pos);
    if (cr == NULL) {
        return -1;
    }
    if ((size_t)(cr - buf) + 2 > len) {
        return -1; /* the '\n' has not arrived */
    }
    return cr - buf;
}

static void reset_frame(struct proto *p)
{
    p->in_frame = false;
    p->pos = 0;
    p->bulks = 0;
    p->bulklen = -1;
}

/* Scan a multibulk frame. Returns PROTO_OK when buf holds a whole frame of
 * p->pos bytes, PROTO_EMPTY for empty or negative counts, PROTO_NEED_MORE, or
 * PROTO_ERR. */
static enum proto_status scan_multibulk(struct proto *p, const char *buf,
                                        size_t len, const char **err)
{
    if (!p->in_frame) {
        long nl = find_line(buf, 0, len);
        if (nl < 0) {
            if (len > PROTO_INLINE_MAX_SIZE) {
                *err = "Protocol error: too big mbulk count string";
                return PROTO_ERR;
            }
            return PROTO_NEED_MORE;
        }
        long long ll;
        if (!num_parse_ll(buf + 1, (size_t)nl - 1, &ll) || ll > INT_MAX) {
            *err = "Protocol error: invalid multibulk length";
            return PROTO_ERR;
        }
        p->pos = (size_t)nl + 2;
        if (ll <= 0) {
            return PROTO_EMPTY;
        }
        p->in_frame = true;
        p->bulks = ll;
        p->bulklen = -1;
    }
    while (p->bulks > 0) {
        if (p->bulklen == -1) {
            long nl = find_line(buf, p->pos, len);
            if (nl < 0) {
                if (len - p->pos > PROTO_INLINE_MAX_SIZE) {
                    *err = "Protocol error: too big bulk count string";
                    return PROTO_ERR;
                }
                return PROTO_NEED_MORE;
            }
            if (buf[p->pos] != '$') {
                snprintf(p->errbuf, sizeof p->errbuf,
                         "Protocol error: expected '$', got '%c'", buf[p->pos]);
                *err = p->errbuf;
                return PROTO_ERR;
            }
            long long ll;
            if (!num_parse_ll(buf + p->pos + 1, (size_t)nl - p->pos - 1, &ll) ||
                ll < 0 || ll > p->max_bulk_len) {
                *err = "Protocol error: invalid bulk length";
                return PROTO_ERR;
            }
            p->bulklen = ll;
            p->pos = (size_t)nl + 2;
        }
        if (len - p->pos < (size_t)p->bulklen + 2) {
            return PROTO_NEED_MORE;
        }
        p->pos += (size_t)p->bulklen + 2;
        p->bulklen = -1;
        p->bulks--;
    }
    return PROTO_OK;
}

static enum proto_status parse_multibulk(struct proto *p, const char *buf,
                                         size_t len, size_t *consumed,
                                         struct proto_req *req,
                                         const char **err)
{
    enum proto_status st = scan_multibulk(p, buf, len, err);
    if (st == PROTO_NEED_MORE || st == PROTO_ERR) {
        return st;
    }
    *consumed = p->pos;
    size_t frame = p->pos;
    reset_frame(p);
    if (st == PROTO_EMPTY) {
        return PROTO_EMPTY;
    }
    void *reply = NULL;
    p->build_err = NULL;
    if (redisReaderFeed(p->reader, buf, frame) != REDIS_OK ||
        redisReaderGetReply(p->reader, &reply) != REDIS_OK || reply == NULL) {
        *err = p->build_err ? p->build_err : "Protocol error: invalid request";
        proto_req_free(&p->req);
        return PROTO_ERR;
    }
    *req = p->req;
    memset(&p->req, 0, sizeof p->req);
    return PROTO_OK;
}

static enum proto_status parse_inline(const char *buf, size_t len,
                                      size_t *consumed, struct proto_req *req,
                                      const char **err)
{
    const char *nl = memchr(buf, '\n', len);
    if (nl == NULL) {
        if (len > PROTO_INLINE_MAX_SIZE) {
            *err = "Protocol error: too big inline request";
            return PROTO_ERR;
        }
        return PROTO_NEED_MORE;
    }
    size_t linelen = (size_t)(nl - buf);
    size_t eol = 1;
    if (linelen > 0 && buf[linelen - 1] == '\r') {
        linelen--;
        eol++;
    }
    sds line = sdsnewlen(buf, linelen);
    int argc = 0;
    sds *argv = sdssplitargs(line, &argc);
    sdsfree(line);
    if (argv == NULL) {
        *err = "Protocol error: unbalanced quotes in request";
        return PROTO_ERR;
    }
    *consumed = linelen + eol;
    if (argc == 0) {
        sdsfreesplitres(argv, argc);
        return PROTO_EMPTY;
    }
    req->argc = argc;
    req->argv = xmalloc((size_t)argc * sizeof(char *));
    req->argvlen = xmalloc((size_t)argc * sizeof(size_t));
    for (int i = 0; i < argc; i++) {
        req->argvlen[i] = sdslen(argv[i]);
        req->argv[i] = xmemdup(argv[i], req->argvlen[i]);
    }
    sdsfreesplitres(argv, argc);
    return PROTO_OK;
}

enum proto_status proto_parse(struct proto *p, const char *buf, size_t len,
                              size_t *consumed, struct proto_req *req,
                              const char **err)
{
    *consumed = 0;
    memset(req, 0, sizeof *req);
    if (len == 0) {
        return PROTO_NEED_MORE;
    }
    if (p->in_frame || buf[0] == '*') {
        return parse_multibulk(p, buf, len, consumed, req, err);
    }
    return parse_inline(buf, len, consumed, req, err);
}
