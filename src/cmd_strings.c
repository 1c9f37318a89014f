/* cmd_strings: string and counter commands (GET, SET with its options,
 * SETEX, PSETEX, GETEX, INCR...).
 *
 * Each handler reads as redis-server's: validate -> reply on error ->
 * mutate -> reply. They run during fsm apply (see command.h), so relative
 * expiry times count from the entry's clock (ctx->time_ms), never from the
 * node's. Expiry follows Redis's setKey: writers that replace the value
 * (SET, GETSET, MSET...) clear the key's TTL, SET KEEPTTL and those that
 * modify it in place (INCR, APPEND) keep it. */
#include <limits.h>
#include <string.h>

#include "command.h"
#include "num.h"
#include "reply.h"
#include "store.h"

/* Redis's checkStringLength limit, fixed so every node decides alike. */
#define STRING_MAX_LEN (512LL * 1024 * 1024)

/* SET/GETEX options (parseExtendedStringArgumentsOrReply's flags). */
#define SET_NX      0x001
#define SET_XX      0x002
#define SET_GET     0x004
#define SET_KEEPTTL 0x008
#define SET_EX      0x010
#define SET_PX      0x020
#define SET_EXAT    0x040
#define SET_PXAT    0x080
#define SET_PERSIST 0x100
#define SET_EXPIRY  (SET_EX | SET_PX | SET_EXAT | SET_PXAT)

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

/* Make key hold the string val, as Redis's setKey: a string value is
 * rewritten in place, any other value replaced. The key's expiry time is
 * cleared unless keepttl (SET KEEPTTL, and INCR/DECR which overwrite the
 * value in place in Redis). Returns the value, owned by the store. */
static struct value *set_string(struct cmd_ctx *c, const char *key, size_t klen,
                                const char *val, size_t vlen, bool keepttl)
{
    struct value *v = store_get(c->store, key, klen);
    if (v != NULL && v->type == VALUE_STRING) {
        value_string_set(v, val, vlen);
        if (!keepttl && v->expire_ms != 0) {
            store_set_expire(c->store, v, 0);
        }
        return v;
    }
    int64_t when = (v != NULL && keepttl) ? v->expire_ms : 0;
    struct value *nv = value_new_string(val, vlen);
    store_set(c->store, key, klen, nv);
    if (when != 0) {
        store_set_expire(c->store, nv, when);
    }
    return nv;
}

/* Whether argument i is the option word w. Like Redis, which compares the
 * argument as a C string, bytes after an embedded NUL are ignored. */
static bool opt_is(const struct cmd_ctx *c, int i, const char *w)
{
    return arg_is(c->argv[i], strnlen(c->argv[i], c->argvlen[i]), w);
}

/* parseExtendedStringArgumentsOrReply: the options of SET (is_set) or
 * GETEX from argument `first` on, into *flags; *expire_arg is the index of
 * the EX/PX/EXAT/PXAT argument (0 when none). Exactly Redis's grammar,
 * quirks included: an expiry option may repeat (the last one wins), but
 * not mix with another kind. Returns -1 after a syntax error reply. */
static int parse_set_options(struct cmd_ctx *c, int first, bool is_set,
                             int *flags, int *expire_arg)
{
    for (int j = first; j < c->argc; j++) {
        int f = *flags;
        bool next = j + 1 < c->argc;
        int excl = SET_KEEPTTL | SET_PERSIST | SET_EXPIRY;
        if (is_set && opt_is(c, j, "nx") && !(f & SET_XX)) {
            *flags |= SET_NX;
        } else if (is_set && opt_is(c, j, "xx") && !(f & SET_NX)) {
            *flags |= SET_XX;
        } else if (is_set && opt_is(c, j, "get")) {
            *flags |= SET_GET;
        } else if (is_set && opt_is(c, j, "keepttl") &&
                   !(f & (SET_PERSIST | SET_EXPIRY))) {
            *flags |= SET_KEEPTTL;
        } else if (!is_set && opt_is(c, j, "persist") &&
                   !(f & (SET_KEEPTTL | SET_EXPIRY))) {
            *flags |= SET_PERSIST;
        } else if (opt_is(c, j, "ex") && !(f & (excl & ~SET_EX)) && next) {
            *flags |= SET_EX;
            *expire_arg = ++j;
        } else if (opt_is(c, j, "px") && !(f & (excl & ~SET_PX)) && next) {
            *flags |= SET_PX;
            *expire_arg = ++j;
        } else if (opt_is(c, j, "exat") && !(f & (excl & ~SET_EXAT)) && next) {
            *flags |= SET_EXAT;
            *expire_arg = ++j;
        } else if (opt_is(c, j, "pxat") && !(f & (excl & ~SET_PXAT)) && next) {
            *flags |= SET_PXAT;
            *expire_arg = ++j;
        } else {
            reply_error(c->reply, ERR_SYNTAX);
            return -1;
        }
    }
    return 0;
}

/* getExpireMillisecondsOrReply: the absolute expiry time (unix ms) that
 * argument i gives under flags (EX/PX relative to the keyspace clock,
 * EXAT/PXAT absolute; EX/EXAT in seconds). It must be positive and not
 * overflow; otherwise reply Redis's error naming cmd and return -1. */
static int expire_time_or_reply(struct cmd_ctx *c, int i, int flags,
                                const char *cmd, int64_t *when)
{
    long long ms;
    if (!num_parse_ll(c->argv[i], c->argvlen[i], &ms)) {
        reply_error(c->reply, ERR_NOT_INT);
        return -1;
    }
    bool seconds = (flags & (SET_EX | SET_EXAT)) != 0;
    bool relative = (flags & (SET_EX | SET_PX)) != 0;
    long long now = (long long)c->time_ms;
    if (ms <= 0 || (seconds && ms > LLONG_MAX / 1000)) {
        goto invalid;
    }
    if (seconds) {
        ms *= 1000;
    }
    if (relative) {
        if (ms > LLONG_MAX - now) {
            goto invalid; /* Redis: the sum wraps negative */
        }
        ms += now;
    }
    *when = ms;
    return 0;
invalid:
    reply_errorf(c->reply, "ERR invalid expire time in '%s' command", cmd);
    return -1;
}

/* setGenericCommand: SET, SETEX and PSETEX. expire_arg (0: none) is the
 * index of the expiry argument, interpreted by flags; cmd names the
 * command in errors. A time already past (EXAT/PXAT) leaves no key:
 * Redis 7.0 stores it expired, which no command can tell apart, except
 * DBSIZE until its active expiry runs. */
static void set_generic(struct cmd_ctx *c, int flags, int val_arg,
                        int expire_arg, const char *cmd)
{
    const char *key = c->argv[1];
    size_t klen = c->argvlen[1];
    int64_t when = 0;
    if (expire_arg != 0 &&
        expire_time_or_reply(c, expire_arg, flags, cmd, &when) != 0) {
        return;
    }
    if (flags & SET_GET) {
        if (reply_get(c, key, klen) != 0) {
            return;
        }
    }
    bool found = store_get(c->store, key, klen) != NULL;
    if (((flags & SET_NX) && found) || ((flags & SET_XX) && !found)) {
        if (!(flags & SET_GET)) {
            reply_nil(c->reply, c->resp);
        }
        return;
    }
    struct value *v = set_string(c, key, klen, c->argv[val_arg],
                                 c->argvlen[val_arg], flags & SET_KEEPTTL);
    if (expire_arg != 0) {
        if (when < (int64_t)c->time_ms) {
            store_del(c->store, key, klen);
        } else {
            store_set_expire(c->store, v, when);
        }
    }
    if (!(flags & SET_GET)) {
        reply_ok(c->reply);
    }
}

void cmd_get(struct cmd_ctx *c)
{
    reply_get(c, c->argv[1], c->argvlen[1]);
}

/* SET key value [NX|XX] [GET] [EX s|PX ms|EXAT ts|PXAT ms-ts|KEEPTTL] */
void cmd_set(struct cmd_ctx *c)
{
    int flags = 0;
    int expire_arg = 0;
    if (parse_set_options(c, 3, true, &flags, &expire_arg) != 0) {
        return;
    }
    set_generic(c, flags, 2, expire_arg, "set");
}

/* SETEX key seconds value */
void cmd_setex(struct cmd_ctx *c)
{
    set_generic(c, SET_EX, 3, 2, "setex");
}

/* PSETEX key milliseconds value */
void cmd_psetex(struct cmd_ctx *c)
{
    set_generic(c, SET_PX, 3, 2, "psetex");
}

/* GETEX key [EX s|PX ms|EXAT ts|PXAT ms-ts|PERSIST]: the value, then the
 * expiry change. The expiry argument is checked only once the key is known
 * to hold a string; an absolute time not in the future deletes the key. */
void cmd_getex(struct cmd_ctx *c)
{
    const char *key = c->argv[1];
    size_t klen = c->argvlen[1];
    int flags = 0;
    int expire_arg = 0;
    if (parse_set_options(c, 2, false, &flags, &expire_arg) != 0) {
        return;
    }
    struct value *v = store_get(c->store, key, klen);
    if (v == NULL) {
        reply_nil(c->reply, c->resp);
        return;
    }
    if (v->type != VALUE_STRING) {
        reply_error(c->reply, ERR_WRONGTYPE);
        return;
    }
    int64_t when = 0;
    if (expire_arg != 0 &&
        expire_time_or_reply(c, expire_arg, flags, "getex", &when) != 0) {
        return;
    }
    reply_bulk(c->reply, v->str.p, v->str.len);
    if ((flags & (SET_EXAT | SET_PXAT)) && when <= (int64_t)c->time_ms) {
        store_del(c->store, key, klen);
    } else if (expire_arg != 0) {
        store_set_expire(c->store, v, when);
    } else if ((flags & SET_PERSIST) && v->expire_ms != 0) {
        store_set_expire(c->store, v, 0);
    }
}

void cmd_setnx(struct cmd_ctx *c)
{
    if (store_get(c->store, c->argv[1], c->argvlen[1]) != NULL) {
        reply_int(c->reply, 0);
        return;
    }
    set_string(c, c->argv[1], c->argvlen[1], c->argv[2], c->argvlen[2], false);
    reply_int(c->reply, 1);
}

void cmd_getset(struct cmd_ctx *c)
{
    if (reply_get(c, c->argv[1], c->argvlen[1]) != 0) {
        return;
    }
    set_string(c, c->argv[1], c->argvlen[1], c->argv[2], c->argvlen[2], false);
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
                   c->argvlen[i + 1], false);
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
    set_string(c, key, klen, tmp, (size_t)n, true);
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
