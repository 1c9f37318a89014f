/* cmd_more_strings: INCRBYFLOAT, GETRANGE (SUBSTR), SETRANGE and MSETNX.
 *
 * Handlers as redis-server 7.0's t_string.c: validate -> reply on error ->
 * mutate -> reply; they run during fsm apply (command.h). INCRBYFLOAT and
 * SETRANGE modify the value in place, so the key keeps its expiry time. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "command.h"
#include "num.h"
#include "reply.h"
#include "store.h"

/* Redis's proto-max-bulk-len default, the limit of checkStringLength. */
#define STRING_MAX_LEN (512LL * 1024 * 1024)

/* INCRBYFLOAT key increment */
void cmd_incrbyfloat(struct cmd_ctx *c)
{
    const char *key = c->argv[1];
    size_t klen = c->argvlen[1];
    struct value *v = store_get(c->store, key, klen);
    long double value = 0, incr;
    if (v != NULL && v->type != VALUE_STRING) {
        reply_error(c->reply, ERR_WRONGTYPE);
        return;
    }
    if ((v != NULL && !num_parse_ld(v->str.p, v->str.len, &value)) ||
        !num_parse_ld(c->argv[2], c->argvlen[2], &incr)) {
        reply_error(c->reply, "ERR value is not a valid float");
        return;
    }
    value += incr;
    if (isnan(value) || isinf(value)) {
        reply_error(c->reply, "ERR increment would produce NaN or Infinity");
        return;
    }
    char buf[NUM_LD_CHARS];
    size_t n = num_format_ld(buf, value);
    if (v != NULL) {
        value_string_set(v, buf, n);
    } else {
        store_set(c->store, key, klen, value_new_string(buf, n));
    }
    reply_bulk(c->reply, buf, n);
}

/* GETRANGE key start end (and SUBSTR): the bytes from start to end,
 * inclusive, negative offsets counting from the end; an empty string for a
 * missing key or an empty range. */
void cmd_getrange(struct cmd_ctx *c)
{
    long long start, end;
    if (!num_parse_ll(c->argv[2], c->argvlen[2], &start) ||
        !num_parse_ll(c->argv[3], c->argvlen[3], &end)) {
        reply_error(c->reply, ERR_NOT_INT);
        return;
    }
    struct value *v = store_get(c->store, c->argv[1], c->argvlen[1]);
    if (v == NULL) {
        reply_bulk(c->reply, "", 0);
        return;
    }
    if (v->type != VALUE_STRING) {
        reply_error(c->reply, ERR_WRONGTYPE);
        return;
    }
    long long len = (long long)v->str.len;
    if (start < 0 && end < 0 && start > end) {
        reply_bulk(c->reply, "", 0);
        return;
    }
    if (start < 0) {
        start += len;
    }
    if (end < 0) {
        end += len;
    }
    if (start < 0) {
        start = 0;
    }
    if (end < 0) {
        end = 0;
    }
    if (end >= len) {
        end = len - 1;
    }
    if (start > end || len == 0) {
        reply_bulk(c->reply, "", 0);
        return;
    }
    reply_bulk(c->reply, v->str.p + start, (size_t)(end - start + 1));
}

/* Extend v's string with zero bytes to len (sdsgrowzero), in chunks so no
 * zeroed copy of the whole length is needed. */
static void grow_zero(struct value *v, size_t len)
{
    static const char zeros[64 * 1024];
    while (v->str.len < len) {
        size_t n = len - v->str.len;
        value_string_append(v, zeros, n < sizeof zeros ? n : sizeof zeros);
    }
}

/* SETRANGE key offset value: overwrite from offset, zero-padding the gap;
 * replies with the new length. Setting nothing creates nothing. */
void cmd_setrange(struct cmd_ctx *c)
{
    const char *key = c->argv[1];
    size_t klen = c->argvlen[1];
    const char *val = c->argv[3];
    size_t vlen = c->argvlen[3];
    long long offset;
    if (!num_parse_ll(c->argv[2], c->argvlen[2], &offset)) {
        reply_error(c->reply, ERR_NOT_INT);
        return;
    }
    if (offset < 0) {
        reply_error(c->reply, "ERR offset is out of range");
        return;
    }
    struct value *v = store_get(c->store, key, klen);
    if (v != NULL && v->type != VALUE_STRING) {
        reply_error(c->reply, ERR_WRONGTYPE);
        return;
    }
    if (vlen == 0) {
        reply_int(c->reply, v != NULL ? (long long)v->str.len : 0);
        return;
    }
    /* checkStringLength(offset, vlen), overflow included. */
    if (offset > STRING_MAX_LEN - (long long)vlen) {
        reply_error(c->reply, "ERR string exceeds maximum allowed size "
                              "(proto-max-bulk-len)");
        return;
    }
    if (v == NULL) {
        v = value_new_string("", 0);
        store_set(c->store, key, klen, v);
    }
    size_t need = (size_t)offset + vlen;
    grow_zero(v, need);
    memcpy(v->str.p + offset, val, vlen);
    reply_int(c->reply, (long long)v->str.len);
}

/* MSETNX key value [key value ...]: set them all (clearing any expiry, as
 * MSET) only when none of the keys exists; replies 1 or 0. */
void cmd_msetnx(struct cmd_ctx *c)
{
    if (c->argc % 2 == 0) {
        reply_arity_error(c->reply, "msetnx");
        return;
    }
    for (int i = 1; i < c->argc; i += 2) {
        if (store_get(c->store, c->argv[i], c->argvlen[i]) != NULL) {
            reply_int(c->reply, 0);
            return;
        }
    }
    for (int i = 1; i < c->argc; i += 2) {
        store_set(c->store, c->argv[i], c->argvlen[i],
                  value_new_string(c->argv[i + 1], c->argvlen[i + 1]));
    }
    reply_int(c->reply, 1);
}
