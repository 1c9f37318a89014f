/* reply: RESP2 and RESP3 encoders appending to a buf (pure).
 *
 * The functions with a resp argument (2 or 3, the client's HELLO version)
 * write the RESP3 type where RESP3 has one (null, map, set, push, double,
 * verbatim string) and its RESP2 equivalent otherwise.
 *
 * Error texts are passed whole, with their code ("ERR ...", "WRONGTYPE
 * ..."): reply_error adds only the leading '-' and the CRLF, replacing any
 * CR or LF inside with a space, as redis-server does. */
#ifndef REPLY_H
#define REPLY_H

#include <stddef.h>

#include "buf.h"

#define ERR_SYNTAX   "ERR syntax error"
#define ERR_NOT_INT  "ERR value is not an integer or out of range"
#define ERR_OVERFLOW "ERR increment or decrement would overflow"
#define ERR_WRONGTYPE                                                          \
    "WRONGTYPE Operation against a key holding the wrong kind of value"
#define ERR_NO_SUCH_KEY "ERR no such key"
#define ERR_INDEX_RANGE "ERR index out of range"
#define ERR_POSITIVE    "ERR value is out of range, must be positive"

void reply_status(struct buf *b, const char *s);
void reply_ok(struct buf *b);
void reply_error(struct buf *b, const char *msg);
void reply_errorf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void reply_int(struct buf *b, long long v);
void reply_bulk(struct buf *b, const void *p, size_t len);
void reply_bulk_str(struct buf *b, const char *s);
void reply_bulk_ll(struct buf *b, long long v);
void reply_null(struct buf *b);       /* $-1 */
void reply_null_array(struct buf *b); /* *-1 */
void reply_array(struct buf *b, long long n);
void reply_nil(struct buf *b, int resp);       /* $-1 or _ */
void reply_nil_array(struct buf *b, int resp); /* *-1 or _ */
/* A map of n pairs (RESP2: an array of 2n), a set, a push message. */
void reply_map(struct buf *b, long long n, int resp);
void reply_set(struct buf *b, long long n, int resp);
void reply_push(struct buf *b, long long n, int resp);
/* %.17g (inf, -inf): a bulk string in RESP2, a double in RESP3. */
void reply_double(struct buf *b, double d, int resp);
/* A bulk string in RESP2, a "txt" verbatim string in RESP3. */
void reply_verbatim(struct buf *b, const void *p, size_t len, int resp);
void reply_arity_error(struct buf *b, const char *name);
/* "wrong number of arguments for 'cmd|sub' command", sub lower-cased. */
void reply_subcommand_arity_error(struct buf *b, const char *cmd,
                                  const char *sub, size_t sublen);

#endif
