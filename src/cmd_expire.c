/* cmd_expire: expiry commands, as redis-server 7.0's expire.c: EXPIRE,
 * PEXPIRE, EXPIREAT, PEXPIREAT (with NX/XX/GT/LT), TTL, PTTL, EXPIRETIME,
 * PEXPIRETIME and PERSIST.
 *
 * "Now" is the keyspace clock of the entry being applied (ctx->time_ms,
 * the store's now_ms), so every node computes the same expiry times and
 * deletes the same keys. Expiry times change only through
 * store_set_expire; a time not in the future deletes the key at once. */
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "command.h"
#include "num.h"
#include "reply.h"
#include "store.h"

#define EXPIRE_NX 1
#define EXPIRE_XX 2
#define EXPIRE_GT 4
#define EXPIRE_LT 8

/* parseExtendedExpireArgumentsOrReply: the NX/XX/GT/LT options after the
 * time argument into *flags. Returns -1 after an error reply (an unknown
 * word, quoted up to any embedded NUL as Redis prints it, or a
 * combination Redis refuses). */
static int parse_expire_flags(struct cmd_ctx *c, int *flags)
{
    for (int j = 3; j < c->argc; j++) {
        const char *a = c->argv[j];
        size_t n = strnlen(a, c->argvlen[j]);
        if (arg_is(a, n, "nx")) {
            *flags |= EXPIRE_NX;
        } else if (arg_is(a, n, "xx")) {
            *flags |= EXPIRE_XX;
        } else if (arg_is(a, n, "gt")) {
            *flags |= EXPIRE_GT;
        } else if (arg_is(a, n, "lt")) {
            *flags |= EXPIRE_LT;
        } else {
            struct buf msg;
            buf_init(&msg);
            buf_append_str(&msg, "ERR Unsupported option ");
            buf_append(&msg, a, n);
            buf_append(&msg, "", 1);
            reply_error(c->reply, msg.data);
            buf_free(&msg);
            return -1;
        }
    }
    int f = *flags;
    if ((f & EXPIRE_NX) && (f & (EXPIRE_XX | EXPIRE_GT | EXPIRE_LT))) {
        reply_error(c->reply, "ERR NX and XX, GT or LT options at the same "
                              "time are not compatible");
        return -1;
    }
    if ((f & EXPIRE_GT) && (f & EXPIRE_LT)) {
        reply_error(c->reply, "ERR GT and LT options at the same time are not "
                              "compatible");
        return -1;
    }
    return 0;
}

/* expireGenericCommand: set key's expiry to argv[2] (seconds when seconds,
 * else ms) after basetime (the clock for EXPIRE/PEXPIRE, 0 for the AT
 * forms). Negative times are allowed (they delete the key); overflow is
 * Redis's "invalid expire time" error naming cmd. Replies 1 when the
 * expiry was set or the key deleted, 0 when the key is missing or an
 * NX/XX/GT/LT condition fails. */
static void expire_generic(struct cmd_ctx *c, long long basetime, bool seconds,
                           const char *cmd)
{
    const char *key = c->argv[1];
    size_t klen = c->argvlen[1];
    int flags = 0;
    if (parse_expire_flags(c, &flags) != 0) {
        return;
    }
    long long when;
    if (!num_parse_ll(c->argv[2], c->argvlen[2], &when)) {
        reply_error(c->reply, ERR_NOT_INT);
        return;
    }
    if (seconds) {
        if (when > LLONG_MAX / 1000 || when < LLONG_MIN / 1000) {
            goto invalid;
        }
        when *= 1000;
    }
    if (when > LLONG_MAX - basetime) {
        goto invalid;
    }
    when += basetime;

    struct value *v = store_get(c->store, key, klen);
    if (v == NULL) {
        reply_int(c->reply, 0);
        return;
    }
    /* The current expiry, -1 for none (an infinite TTL for GT and LT). */
    long long cur = v->expire_ms != 0 ? v->expire_ms : -1;
    if (((flags & EXPIRE_NX) && cur != -1) ||
        ((flags & EXPIRE_XX) && cur == -1) ||
        ((flags & EXPIRE_GT) && (when <= cur || cur == -1)) ||
        ((flags & EXPIRE_LT) && cur != -1 && when >= cur)) {
        reply_int(c->reply, 0);
        return;
    }
    if (when <= (int64_t)c->time_ms) {
        store_del(c->store, key, klen);
    } else {
        store_set_expire(c->store, v, when);
    }
    reply_int(c->reply, 1);
    return;
invalid:
    reply_errorf(c->reply, "ERR invalid expire time in '%s' command", cmd);
}

/* EXPIRE key seconds [NX|XX|GT|LT] */
void cmd_expire(struct cmd_ctx *c)
{
    expire_generic(c, (long long)c->time_ms, true, "expire");
}

/* PEXPIRE key milliseconds [NX|XX|GT|LT] */
void cmd_pexpire(struct cmd_ctx *c)
{
    expire_generic(c, (long long)c->time_ms, false, "pexpire");
}

/* EXPIREAT key unix-time-seconds [NX|XX|GT|LT] */
void cmd_expireat(struct cmd_ctx *c)
{
    expire_generic(c, 0, true, "expireat");
}

/* PEXPIREAT key unix-time-milliseconds [NX|XX|GT|LT] */
void cmd_pexpireat(struct cmd_ctx *c)
{
    expire_generic(c, 0, false, "pexpireat");
}

/* ttlGenericCommand: -2 without the key, -1 without an expiry, else the
 * remaining time (or with absolute, the expiry time itself), never below
 * 0, in ms or in seconds rounded to the nearest. */
static void ttl_generic(struct cmd_ctx *c, bool ms, bool absolute)
{
    struct value *v = store_get(c->store, c->argv[1], c->argvlen[1]);
    if (v == NULL) {
        reply_int(c->reply, -2);
        return;
    }
    if (v->expire_ms == 0) {
        reply_int(c->reply, -1);
        return;
    }
    long long ttl =
        absolute ? v->expire_ms : v->expire_ms - (int64_t)c->time_ms;
    if (ttl < 0) {
        ttl = 0;
    }
    if (!ms) {
        /* Redis's (ttl+500)/1000, rounding to the nearest second, without
         * its overflow near LLONG_MAX (redis-server's build replies the
         * exact quotient there, as this does). ttl >= 0. */
        ttl = ttl / 1000 + (ttl % 1000 + 500) / 1000;
    }
    reply_int(c->reply, ttl);
}

void cmd_ttl(struct cmd_ctx *c)
{
    ttl_generic(c, false, false);
}

void cmd_pttl(struct cmd_ctx *c)
{
    ttl_generic(c, true, false);
}

void cmd_expiretime(struct cmd_ctx *c)
{
    ttl_generic(c, false, true);
}

void cmd_pexpiretime(struct cmd_ctx *c)
{
    ttl_generic(c, true, true);
}

/* PERSIST key: 1 when an expiry was removed, else 0. */
void cmd_persist(struct cmd_ctx *c)
{
    struct value *v = store_get(c->store, c->argv[1], c->argvlen[1]);
    if (v == NULL || v->expire_ms == 0) {
        reply_int(c->reply, 0);
        return;
    }
    store_set_expire(c->store, v, 0);
    reply_int(c->reply, 1);
}
