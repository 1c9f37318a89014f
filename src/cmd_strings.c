/* cmd_strings: string and counter commands (GET, SET, INCR...).
 *
 * Each handler reads as redis-server's: validate -> reply on error ->
 * mutate -> reply. They run during fsm apply (see command.h). */
#include <limits.h>
#include <string.h>

#include "command.h"
#include "num.h"
#include "reply.h"
#include "store.h"

/* Redis's checkStringLength limit, fixed so every node decides alike. */
#define STRING_MAX_LEN (512LL * 1024 * 1024)

#define SET_NX  1
#define SET_XX  2
#define SET_GET 4

/* Reply with the string at key (or nil); -1 after a WRONGTYPE reply. */
static int reply_get(struct cmd_ctx *c, const char *key, size_t klen)
{
    struct value *v = store_get(c->store, key, klen);
    if (v == NULL) {
        reply_nil(c->reply, c->resp);
        return 0;
    }
    if (v->type != VALUE_STRING) {
        reply_error(c->reply, ERR_WRONGTYPE);
        return -1;
    }
    reply_bulk(c->reply, v->str.p, v->str.len);
    return 0;
}

static void set_string(struct cmd_ctx *c, const char *key, size_t klen,
                       const char *val, size_t vlen)
{
    struct value *v = store_get(c->store, key, klen);
    if (v != NULL && v->type == VALUE_STRING) {
        value_string_set(v, val, vlen);
    } else {
        store_set(c->store, key, klen, value_new_string(val, vlen));
    }
}

void cmd_get(struct cmd_ctx *c)
{
    reply_get(c, c->argv[1], c->argvlen[1]);
}

/* SET key value [NX|XX] [GET]. Expiry options arrive with expiry support;
 * until then they are a syntax error rather than silently ignored. */
void cmd_set(struct cmd_ctx *c)
{
    int flags = 0;
    for (int i = 3; i < c->argc; i++) {
        const char *a = c->argv[i];
        size_t n = c->argvlen[i];
        if (arg_is(a, n, "nx") && !(flags & SET_XX)) {
            flags |= SET_NX;
        } else if (arg_is(a, n, "xx") && !(flags & SET_NX)) {
            flags |= SET_XX;
        } else if (arg_is(a, n, "get")) {
            flags |= SET_GET;
        } else {
            reply_error(c->reply, ERR_SYNTAX);
            return;
        }
    }
    const char *key = c->argv[1];
    size_t klen = c->argvlen[1];
    if (flags & SET_GET) {
        if (reply_get(c, key, klen) != 0) {
            return;
        }
    }
    int found = store_get(c->store, key, klen) != NULL;
    if (((flags & SET_NX) && found) || ((flags & SET_XX) && !found)) {
        if (!(flags & SET_GET)) {
            reply_nil(c->reply, c->resp);
        }
        return;
    }
    set_string(c, key, klen, c->argv[2], c->argvlen[2]);
    if (!(flags & SET_GET)) {
        reply_ok(c->reply);
    }
}

void cmd_setnx(struct cmd_ctx *c)
{
    if (store_get(c->store, c->argv[1], c->argvlen[1]) != NULL) {
        reply_int(c->reply, 0);
        return;
    }
    set_string(c, c->argv[1], c->argvlen[1], c->argv[2], c->argvlen[2]);
    reply_int(c->reply, 1);
}

void cmd_getset(struct cmd_ctx *c)
{
    if (reply_get(c, c->argv[1], c->argvlen[1]) != 0) {
        return;
    }
    set_string(c, c->argv[1], c->argvlen[1], c->argv[2], c->argvlen[2]);
}

void cmd_getdel(struct cmd_ctx *c)
{
    if (reply_get(c, c->argv[1], c->argvlen[1]) != 0) {
        return;
    }
    store_del(c->store, c->argv[1], c->argvlen[1]);
}

void cmd_mget(struct cmd_ctx *c)
{
    reply_array(c->reply, c->argc - 1);
    for (int i = 1; i < c->argc; i++) {
        struct value *v = store_get(c->store, c->argv[i], c->argvlen[i]);
        if (v == NULL || v->type != VALUE_STRING) {
            reply_nil(c->reply, c->resp);
        } else {
            reply_bulk(c->reply, v->str.p, v->str.len);
        }
    }
}

void cmd_mset(struct cmd_ctx *c)
{
    if (c->argc % 2 == 0) {
        reply_arity_error(c->reply, "mset");
        return;
    }
    for (int i = 1; i < c->argc; i += 2) {
        set_string(c, c->argv[i], c->argvlen[i], c->argv[i + 1],
                   c->argvlen[i + 1]);
    }
    reply_ok(c->reply);
}

void cmd_append(struct cmd_ctx *c)
{
    const char *key = c->argv[1];
    size_t klen = c->argvlen[1];
    struct value *v = store_get(c->store, key, klen);
    if (v == NULL) {
        v = value_new_string(c->argv[2], c->argvlen[2]);
        store_set(c->store, key, klen, v);
    } else {
        if (v->type != VALUE_STRING) {
            reply_error(c->reply, ERR_WRONGTYPE);
            return;
        }
        if ((long long)(v->str.len + c->argvlen[2]) > STRING_MAX_LEN) {
            reply_error(c->reply, "ERR string exceeds maximum allowed size "
                                  "(proto-max-bulk-len)");
            return;
        }
        value_string_append(v, c->argv[2], c->argvlen[2]);
    }
    reply_int(c->reply, (long long)v->str.len);
}

void cmd_strlen(struct cmd_ctx *c)
{
    struct value *v = store_get(c->store, c->argv[1], c->argvlen[1]);
    if (v == NULL) {
        reply_int(c->reply, 0);
    } else if (v->type != VALUE_STRING) {
        reply_error(c->reply, ERR_WRONGTYPE);
    } else {
        reply_int(c->reply, (long long)v->str.len);
    }
}

/* incrDecrCommand: add incr to the integer at key (0 when missing). */
static void incr_by(struct cmd_ctx *c, long long incr)
{
    const char *key = c->argv[1];
    size_t klen = c->argvlen[1];
    struct value *v = store_get(c->store, key, klen);
    long long old = 0;
    if (v != NULL) {
        if (v->type != VALUE_STRING) {
            reply_error(c->reply, ERR_WRONGTYPE);
            return;
        }
        if (!num_parse_ll(v->str.p, v->str.len, &old)) {
            reply_error(c->reply, ERR_NOT_INT);
            return;
        }
    }
    if ((incr < 0 && old < 0 && incr < (LLONG_MIN - old)) ||
        (incr > 0 && old > 0 && incr > (LLONG_MAX - old))) {
        reply_error(c->reply, ERR_OVERFLOW);
        return;
    }
    long long nv = old + incr;
    char tmp[24];
    int n = num_format_ll(tmp, nv);
    set_string(c, key, klen, tmp, (size_t)n);
    reply_int(c->reply, nv);
}

void cmd_incr(struct cmd_ctx *c)
{
    incr_by(c, 1);
}

void cmd_decr(struct cmd_ctx *c)
{
    incr_by(c, -1);
}

void cmd_incrby(struct cmd_ctx *c)
{
    long long incr;
    if (!num_parse_ll(c->argv[2], c->argvlen[2], &incr)) {
        reply_error(c->reply, ERR_NOT_INT);
        return;
    }
    incr_by(c, incr);
}

void cmd_decrby(struct cmd_ctx *c)
{
    long long incr;
    if (!num_parse_ll(c->argv[2], c->argvlen[2], &incr)) {
        reply_error(c->reply, ERR_NOT_INT);
        return;
    }
    if (incr == LLONG_MIN) {
        reply_error(c->reply, "ERR decrement would overflow");
        return;
    }
    incr_by(c, -incr);
}
