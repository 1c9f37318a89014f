/* cmd_keys: commands on keys whatever their type (DEL, EXISTS, RENAME,
 * COPY...). TYPE and the keyspace walks are in cmd_more_keys.c. */
#include <limits.h>
#include <string.h>

#include "command.h"
#include "num.h"
#include "reply.h"
#include "store.h"

void cmd_del(struct cmd_ctx *c)
{
    long long n = 0;
    for (int i = 1; i < c->argc; i++) {
        n += store_del(c->store, c->argv[i], c->argvlen[i]);
    }
    reply_int(c->reply, n);
}

void cmd_exists(struct cmd_ctx *c)
{
    long long n = 0;
    for (int i = 1; i < c->argc; i++) {
        n += store_get(c->store, c->argv[i], c->argvlen[i]) != NULL;
    }
    reply_int(c->reply, n);
}

void cmd_dbsize(struct cmd_ctx *c)
{
    reply_int(c->reply, (long long)store_size(c->store));
}

/* FLUSHALL / FLUSHDB [ASYNC|SYNC]: both empty the only database. */
void cmd_flushall(struct cmd_ctx *c)
{
    if (c->argc > 2 ||
        (c->argc == 2 && !arg_is(c->argv[1], c->argvlen[1], "sync") &&
         !arg_is(c->argv[1], c->argvlen[1], "async"))) {
        reply_error(c->reply, ERR_SYNTAX);
        return;
    }
    store_clear(c->store);
    reply_ok(c->reply);
}

/* RENAME / RENAMENX key newkey (renameGenericCommand). The value moves
 * with its expiry time; an existing newkey is replaced (RENAME) or left
 * alone (RENAMENX replies 0). Renaming a key to itself changes nothing. */
static void rename_key(struct cmd_ctx *c, bool nx)
{
    const char *src = c->argv[1], *dst = c->argv[2];
    size_t slen = c->argvlen[1], dlen = c->argvlen[2];
    if (store_get(c->store, src, slen) == NULL) {
        reply_error(c->reply, ERR_NO_SUCH_KEY);
        return;
    }
    if (slen == dlen && memcmp(src, dst, slen) == 0) {
        if (nx) {
            reply_int(c->reply, 0);
        } else {
            reply_ok(c->reply);
        }
        return;
    }
    /* Looked up even for RENAME: an expired newkey is expired lazily. */
    bool taken = store_get(c->store, dst, dlen) != NULL;
    if (nx && taken) {
        reply_int(c->reply, 0);
        return;
    }
    struct value *v = store_take(c->store, src, slen);
    store_set(c->store, dst, dlen, v); /* frees any value dst held */
    if (nx) {
        reply_int(c->reply, 1);
    } else {
        reply_ok(c->reply);
    }
}

void cmd_rename(struct cmd_ctx *c)
{
    rename_key(c, false);
}

void cmd_renamenx(struct cmd_ctx *c)
{
    rename_key(c, true);
}

/* Databases a COPY ... DB n may name without "out of range" (redis-server's
 * default `databases 16`); only 0 exists in cluster mode. */
#define COPY_DATABASES 16

/* COPY source destination [DB destination-db] [REPLACE]
 *
 * Options are parsed (and their errors reported) left to right first, then
 * the cluster-mode check, as in Redis Cluster: a DB outside 0..15 is "out
 * of range", any other non-zero DB is refused like SELECT. The copy is a
 * deep one with the source's expiry time (value_dup). */
void cmd_copy(struct cmd_ctx *c)
{
    bool replace = false;
    long long db = 0;
    for (int i = 3; i < c->argc; i++) {
        const char *opt = c->argv[i];
        size_t olen = c->argvlen[i];
        if (arg_is(opt, olen, "replace")) {
            replace = true;
        } else if (arg_is(opt, olen, "db") && i + 1 < c->argc) {
            i++;
            if (!num_parse_ll(c->argv[i], c->argvlen[i], &db)) {
                reply_error(c->reply, ERR_NOT_INT);
                return;
            }
            if (db < INT_MIN || db > INT_MAX) {
                reply_error(c->reply, "ERR value is out of range, value must "
                                      "between -2147483648 and 2147483647");
                return;
            }
            if (db < 0 || db >= COPY_DATABASES) {
                reply_error(c->reply, "ERR DB index is out of range");
                return;
            }
        } else {
            reply_error(c->reply, ERR_SYNTAX);
            return;
        }
    }
    if (db != 0) {
        reply_error(
            c->reply,
            "ERR Copying to another database is not allowed in cluster mode");
        return;
    }
    const char *src = c->argv[1], *dst = c->argv[2];
    size_t slen = c->argvlen[1], dlen = c->argvlen[2];
    if (slen == dlen && memcmp(src, dst, slen) == 0) {
        reply_error(c->reply,
                    "ERR source and destination objects are the same");
        return;
    }
    struct value *v = store_get(c->store, src, slen);
    if (v == NULL) {
        reply_int(c->reply, 0);
        return;
    }
    bool taken = store_get(c->store, dst, dlen) != NULL;
    if (taken && !replace) {
        reply_int(c->reply, 0);
        return;
    }
    store_set(c->store, dst, dlen, value_dup(v)); /* frees any old value */
    reply_int(c->reply, 1);
}
