/* proto: request parsing for one client connection (pure: no I/O).
 *
 * Two request forms, as in redis-server: RESP multibulk (a '*' first byte)
 * and the inline protocol (anything else, one line, split with Redis's
 * quoting rules). For multibulk, a framing scanner enforces Redis's limits
 * and produces Redis's exact protocol errors, resuming where it stopped when
 * more bytes arrive; once a frame is complete, hiredis's redisReader parses
 * it into argv through our own object functions (so that only an array of
 * bulk strings is accepted). Inline lines are split by hiredis's
 * sdssplitargs, the same routine redis-server uses.
 *
 * The caller owns the input bytes. It calls proto_parse on the unconsumed
 * part of its buffer, must keep those bytes unchanged between calls while
 * PROTO_NEED_MORE is returned, and drops `consumed` bytes otherwise. */
#ifndef PROTO_H
#define PROTO_H

#include <stddef.h>

#define PROTO_INLINE_MAX_SIZE (64 * 1024)

enum proto_status {
    PROTO_NEED_MORE, /* incomplete; nothing consumed */
    PROTO_OK,        /* one request in *req */
    PROTO_EMPTY,     /* an empty line, *0 or *-1: consume and ignore */
    PROTO_ERR,       /* protocol error: reply *err, then close */
};

/* A parsed request. argv[i] is NUL-terminated (argvlen[i] excludes it);
 * everything is owned by the request and released by proto_req_free. */
struct proto_req {
    int argc;
    char **argv;
    size_t *argvlen;
};

struct proto;

struct proto *proto_new(long long max_bulk_len);
void proto_free(struct proto *p);
void proto_set_max_bulk_len(struct proto *p, long long max_bulk_len);

/* Parse at most one request from buf[0..len). On PROTO_OK and PROTO_EMPTY
 * *consumed is set; on PROTO_ERR *err points to a message such as
 * "Protocol error: invalid bulk length" (without "-ERR "), valid until the
 * next call on p; the caller must then close the connection. */
enum proto_status proto_parse(struct proto *p, const char *buf, size_t len,
                              size_t *consumed, struct proto_req *req,
                              const char **err);
void proto_req_free(struct proto_req *req);
/* Fill dst with a copy of argv (released with proto_req_free). */
void proto_req_copy(struct proto_req *dst, int argc, const char *const *argv,
                    const size_t *argvlen);

#endif
