/* command: the command table. */
#include "command.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "reply.h"
#include "store.h"

#define W CMD_WRITE
#define R CMD_READ
#define L CMD_LOCAL

/* Sorted by name (bsearch). Key positions as in redis-server 7.0. */
static const struct command table[] = {
    {"append", 3, W, "write denyoom fast", 1, 1, 1, cmd_append},
    {"asking", 1, L, "fast", 0, 0, 0, cmd_asking},
    {"bgsave", -1, L, "admin noscript no_async_loading", 0, 0, 0, cmd_bgsave},
    {"client", -2, L, "", 0, 0, 0, cmd_client},
    {"cluster", -2, L, "loading stale", 0, 0, 0, cmd_cluster},
    {"command", -1, L, "loading stale", 0, 0, 0, cmd_command},
    {"config", -2, L, "admin noscript loading stale", 0, 0, 0, cmd_config},
    {"copy", -3, W, "write denyoom", 1, 2, 1, cmd_copy},
    {"dbsize", 1, R, "readonly fast", 0, 0, 0, cmd_dbsize},
    {"decr", 2, W, "write denyoom fast", 1, 1, 1, cmd_decr},
    {"decrby", 3, W, "write denyoom fast", 1, 1, 1, cmd_decrby},
    {"del", -2, W, "write", 1, -1, 1, cmd_del},
    {"discard", 1, L, "noscript loading stale fast allow_busy", 0, 0, 0,
     cmd_discard},
    {"echo", 2, L, "fast", 0, 0, 0, cmd_echo},
    {"exec", 1, L, "noscript loading stale skip_slowlog", 0, 0, 0, cmd_exec},
    {"exists", -2, R, "readonly fast", 1, -1, 1, cmd_exists},
    {"expire", -3, W, "write fast", 1, 1, 1, cmd_expire},
    {"expireat", -3, W, "write fast", 1, 1, 1, cmd_expireat},
    {"expiretime", 2, R, "readonly fast", 1, 1, 1, cmd_expiretime},
    {"flushall", -1, W, "write", 0, 0, 0, cmd_flushall},
    {"flushdb", -1, W, "write", 0, 0, 0, cmd_flushall},
    {"get", 2, R, "readonly fast", 1, 1, 1, cmd_get},
    {"getdel", 2, W, "write fast", 1, 1, 1, cmd_getdel},
    {"getex", -2, W, "write fast", 1, 1, 1, cmd_getex},
    {"getrange", 4, R, "readonly", 1, 1, 1, cmd_getrange},
    {"getset", 3, W, "write denyoom fast", 1, 1, 1, cmd_getset},
    {"hdel", -3, W, "write fast", 1, 1, 1, cmd_hdel},
    {"hello", -1, L, "noscript loading stale fast no_auth allow_busy", 0, 0, 0,
     cmd_hello},
    {"hexists", 3, R, "readonly fast", 1, 1, 1, cmd_hexists},
    {"hget", 3, R, "readonly fast", 1, 1, 1, cmd_hget},
    {"hgetall", 2, R, "readonly", 1, 1, 1, cmd_hgetall},
    {"hincrby", 4, W, "write denyoom fast", 1, 1, 1, cmd_hincrby},
    {"hincrbyfloat", 4, W, "write denyoom fast", 1, 1, 1, cmd_hincrbyfloat},
    {"hkeys", 2, R, "readonly", 1, 1, 1, cmd_hkeys},
    {"hlen", 2, R, "readonly fast", 1, 1, 1, cmd_hlen},
    {"hmget", -3, R, "readonly fast", 1, 1, 1, cmd_hmget},
    {"hmset", -4, W, "write denyoom fast", 1, 1, 1, cmd_hmset},
    {"hrandfield", -2, R, "readonly", 1, 1, 1, cmd_hrandfield},
    {"hscan", -3, R, "readonly", 1, 1, 1, cmd_hscan},
    {"hset", -4, W, "write denyoom fast", 1, 1, 1, cmd_hset},
    {"hsetnx", 4, W, "write denyoom fast", 1, 1, 1, cmd_hsetnx},
    {"hstrlen", 3, R, "readonly fast", 1, 1, 1, cmd_hstrlen},
    {"hvals", 2, R, "readonly", 1, 1, 1, cmd_hvals},
    {"incr", 2, W, "write denyoom fast", 1, 1, 1, cmd_incr},
    {"incrby", 3, W, "write denyoom fast", 1, 1, 1, cmd_incrby},
    {"incrbyfloat", 3, W, "write denyoom fast", 1, 1, 1, cmd_incrbyfloat},
    {"info", -1, L, "loading stale", 0, 0, 0, cmd_info},
    {"keys", 2, R, "readonly", 0, 0, 0, cmd_keys},
    {"lastsave", 1, L, "loading stale fast", 0, 0, 0, cmd_lastsave},
    {"lindex", 3, R, "readonly", 1, 1, 1, cmd_lindex},
    {"linsert", 5, W, "write denyoom", 1, 1, 1, cmd_linsert},
    {"llen", 2, R, "readonly fast", 1, 1, 1, cmd_llen},
    {"lmove", 5, W, "write denyoom", 1, 2, 1, cmd_lmove},
    {"lpop", -2, W, "write fast", 1, 1, 1, cmd_lpop},
    {"lpos", -3, R, "readonly", 1, 1, 1, cmd_lpos},
    {"lpush", -3, W, "write denyoom fast", 1, 1, 1, cmd_lpush},
    {"lpushx", -3, W, "write denyoom fast", 1, 1, 1, cmd_lpushx},
    {"lrange", 4, R, "readonly", 1, 1, 1, cmd_lrange},
    {"lrem", 4, W, "write", 1, 1, 1, cmd_lrem},
    {"lset", 4, W, "write denyoom", 1, 1, 1, cmd_lset},
    {"ltrim", 4, W, "write", 1, 1, 1, cmd_ltrim},
    {"mget", -2, R, "readonly fast", 1, -1, 1, cmd_mget},
    {"mset", -3, W, "write denyoom", 1, -1, 2, cmd_mset},
    {"msetnx", -3, W, "write denyoom", 1, -1, 2, cmd_msetnx},
    {"multi", 1, L, "noscript loading stale fast allow_busy", 0, 0, 0,
     cmd_multi},
    {"persist", 2, W, "write fast", 1, 1, 1, cmd_persist},
    {"pexpire", -3, W, "write fast", 1, 1, 1, cmd_pexpire},
    {"pexpireat", -3, W, "write fast", 1, 1, 1, cmd_pexpireat},
    {"pexpiretime", 2, R, "readonly fast", 1, 1, 1, cmd_pexpiretime},
    {"ping", -1, L, "fast", 0, 0, 0, cmd_ping},
    {"psetex", 4, W, "write denyoom", 1, 1, 1, cmd_psetex},
    {"psubscribe", -2, L, "pubsub noscript loading stale", 0, 0, 0,
     cmd_psubscribe},
    {"pttl", 2, R, "readonly fast", 1, 1, 1, cmd_pttl},
    {"publish", 3, W, "pubsub loading stale fast", 0, 0, 0, cmd_publish},
    {"pubsub", -2, L, "", 0, 0, 0, cmd_pubsub},
    {"punsubscribe", -1, L, "pubsub noscript loading stale", 0, 0, 0,
     cmd_punsubscribe},
    {"quit", -1, L, "allow_busy loading stale fast", 0, 0, 0, cmd_quit},
    {"raft.exec", -2, W | CMD_INTERNAL, "write", 0, 0, 0, cmd_raft_exec},
    {"raft.expire", -2, W | CMD_INTERNAL, "write", 1, -1, 1, cmd_raft_expire},
    {"raft.node", -2, L, "admin", 0, 0, 0, cmd_raft_node},
    {"raft.nodeid", -2, W | CMD_INTERNAL, "write", 0, 0, 0, cmd_raft_nodeid},
    {"raft.nodes", 1, L, "loading stale", 0, 0, 0, cmd_raft_nodes},
    {"raft.proxy", 1, L, "admin loading stale fast", 0, 0, 0, cmd_raft_proxy},
    {"raft.transfer", -1, L, "admin loading stale", 0, 0, 0, cmd_raft_transfer},
    {"raft.watch", -2, R | CMD_INTERNAL, "readonly", 1, -1, 1, cmd_raft_watch},
    {"randomkey", 1, R, "readonly", 0, 0, 0, cmd_randomkey},
    {"readonly", 1, L, "loading stale fast", 0, 0, 0, cmd_readonly},
    {"readwrite", 1, L, "loading stale fast", 0, 0, 0, cmd_readwrite},
    {"rename", 3, W, "write", 1, 2, 1, cmd_rename},
    {"renamenx", 3, W, "write fast", 1, 2, 1, cmd_renamenx},
    {"reset", 1, L, "noscript loading stale fast no_auth allow_busy", 0, 0, 0,
     cmd_reset},
    {"rpop", -2, W, "write fast", 1, 1, 1, cmd_rpop},
    {"rpoplpush", 3, W, "write denyoom", 1, 2, 1, cmd_rpoplpush},
    {"rpush", -3, W, "write denyoom fast", 1, 1, 1, cmd_rpush},
    {"rpushx", -3, W, "write denyoom fast", 1, 1, 1, cmd_rpushx},
    {"sadd", -3, W, "write denyoom fast", 1, 1, 1, cmd_sadd},
    {"save", 1, L, "admin noscript no_async_loading no_multi", 0, 0, 0,
     cmd_save},
    {"scan", -2, R, "readonly", 0, 0, 0, cmd_scan},
    {"scard", 2, R, "readonly fast", 1, 1, 1, cmd_scard},
    {"sdiff", -2, R, "readonly", 1, -1, 1, cmd_sdiff},
    {"sdiffstore", -3, W, "write denyoom", 1, -1, 1, cmd_sdiffstore},
    {"select", 2, L, "loading stale fast", 0, 0, 0, cmd_select},
    {"set", -3, W, "write denyoom", 1, 1, 1, cmd_set},
    {"setex", 4, W, "write denyoom", 1, 1, 1, cmd_setex},
    {"setnx", 3, W, "write denyoom fast", 1, 1, 1, cmd_setnx},
    {"setrange", 4, W, "write denyoom", 1, 1, 1, cmd_setrange},
    {"shutdown", -1, L, "admin noscript loading stale no_multi", 0, 0, 0,
     cmd_shutdown},
    {"sinter", -2, R, "readonly", 1, -1, 1, cmd_sinter},
    {"sinterstore", -3, W, "write denyoom", 1, -1, 1, cmd_sinterstore},
    {"sismember", 3, R, "readonly fast", 1, 1, 1, cmd_sismember},
    {"smembers", 2, R, "readonly", 1, 1, 1, cmd_smembers},
    {"smismember", -3, R, "readonly fast", 1, 1, 1, cmd_smismember},
    {"smove", 4, W, "write fast", 1, 2, 1, cmd_smove},
    {"spop", -2, W, "write fast", 1, 1, 1, cmd_spop},
    {"srandmember", -2, R, "readonly", 1, 1, 1, cmd_srandmember},
    {"srem", -3, W, "write fast", 1, 1, 1, cmd_srem},
    {"sscan", -3, R, "readonly", 1, 1, 1, cmd_sscan},
    {"strlen", 2, R, "readonly fast", 1, 1, 1, cmd_strlen},
    {"subscribe", -2, L, "pubsub noscript loading stale", 0, 0, 0,
     cmd_subscribe},
    {"substr", 4, R, "readonly", 1, 1, 1, cmd_getrange},
    {"sunion", -2, R, "readonly", 1, -1, 1, cmd_sunion},
    {"sunionstore", -3, W, "write denyoom", 1, -1, 1, cmd_sunionstore},
    {"time", 1, L, "loading stale fast", 0, 0, 0, cmd_time},
    {"ttl", 2, R, "readonly fast", 1, 1, 1, cmd_ttl},
    {"type", 2, R, "readonly fast", 1, 1, 1, cmd_type},
    {"unlink", -2, W, "write fast", 1, -1, 1, cmd_del},
    {"unsubscribe", -1, L, "pubsub noscript loading stale", 0, 0, 0,
     cmd_unsubscribe},
    {"unwatch", 1, L, "noscript loading stale fast allow_busy", 0, 0, 0,
     cmd_unwatch},
    {"watch", -2, L, "noscript loading stale fast allow_busy", 1, -1, 1,
     cmd_watch},
    {"zadd", -4, W, "write denyoom fast", 1, 1, 1, cmd_zadd},
    {"zcard", 2, R, "readonly fast", 1, 1, 1, cmd_zcard},
    {"zcount", 4, R, "readonly fast", 1, 1, 1, cmd_zcount},
    {"zincrby", 4, W, "write denyoom fast", 1, 1, 1, cmd_zincrby},
    {"zlexcount", 4, R, "readonly fast", 1, 1, 1, cmd_zlexcount},
    {"zmscore", -3, R, "readonly fast", 1, 1, 1, cmd_zmscore},
    {"zpopmax", -2, W, "write fast", 1, 1, 1, cmd_zpopmax},
    {"zpopmin", -2, W, "write fast", 1, 1, 1, cmd_zpopmin},
    {"zrange", -4, R, "readonly", 1, 1, 1, cmd_zrange},
    {"zrangebylex", -4, R, "readonly", 1, 1, 1, cmd_zrangebylex},
    {"zrangebyscore", -4, R, "readonly", 1, 1, 1, cmd_zrangebyscore},
    {"zrank", 3, R, "readonly fast", 1, 1, 1, cmd_zrank},
    {"zrem", -3, W, "write fast", 1, 1, 1, cmd_zrem},
    {"zrevrange", -4, R, "readonly", 1, 1, 1, cmd_zrevrange},
    {"zrevrangebylex", -4, R, "readonly", 1, 1, 1, cmd_zrevrangebylex},
    {"zrevrangebyscore", -4, R, "readonly", 1, 1, 1, cmd_zrevrangebyscore},
    {"zrevrank", 3, R, "readonly fast", 1, 1, 1, cmd_zrevrank},
    {"zscore", 3, R, "readonly fast", 1, 1, 1, cmd_zscore},
};

#define NCOMMANDS (sizeof table / sizeof table[0])

struct key {
    const char *name;
    size_t len;
};

static int compare(const void *k, const void *e)
{
    const struct key *key = k;
    const struct command *cmd = e;
    size_t n = strlen(cmd->name);
    size_t m = key->len < n ? key->len : n;
    int rv = strncasecmp(key->name, cmd->name, m);
    if (rv != 0) {
        return rv;
    }
    return key->len < n ? -1 : key->len > n ? 1 : 0;
}

const struct command *command_lookup(const char *name, size_t len)
{
    struct key key = {name, len};
    if (memchr(name, '\0', len) != NULL) {
        return NULL;
    }
    return bsearch(&key, table, NCOMMANDS, sizeof table[0], compare);
}

size_t command_index(const struct command *cmd)
{
    return (size_t)(cmd - table);
}

/* Did a write that replied reply[from..] leave its keys as they were?
 * An error means nothing changed (handlers validate before they mutate);
 * so does a 0 from the commands whose 0 means "did nothing", and a nil
 * from SET without GET (NX/XX not met). Anything else counts as a change:
 * a stamp too many only makes a WATCH abort (safe), one too few would
 * let it run on changed data. */
static bool unchanged(const struct command *cmd, const struct cmd_ctx *ctx,
                      size_t from)
{
    static const char *const zero_is_noop[] = {
        "del",       "expire",   "expireat", "hdel",    "hsetnx",
        "lpushx",    "lrem",     "msetnx",   "persist", "pexpire",
        "pexpireat", "renamenx", "rpushx",   "sadd",    "setnx",
        "smove",     "srem",     "unlink",   "copy",
    };
    const char *r = ctx->reply->data + from;
    size_t n = ctx->reply->len - from;
    if (n > 0 && r[0] == '-') {
        return true;
    }
    if (n == 4 && memcmp(r, ":0\r\n", 4) == 0) {
        for (size_t i = 0; i < sizeof zero_is_noop / sizeof *zero_is_noop;
             i++) {
            if (strcmp(cmd->name, zero_is_noop[i]) == 0) {
                return true;
            }
        }
    }
    if (strcmp(cmd->name, "set") == 0 &&
        ((n == 5 && memcmp(r, "$-1\r\n", 5) == 0) ||
         (n == 3 && memcmp(r, "_\r\n", 3) == 0))) {
        for (int i = 3; i < ctx->argc; i++) {
            if (arg_is(ctx->argv[i], ctx->argvlen[i], "get")) {
                return false;
            }
        }
        return true;
    }
    return false;
}

void command_execute(const struct command *cmd, struct cmd_ctx *ctx)
{
    struct store *s = ctx->store;
    bool write = cmd->flags & CMD_WRITE;
    bool was = s->writable;
    if (write) {
        s->version++;
        s->writable = true;
    }
    size_t from = ctx->reply->len;
    cmd->fn(ctx);
    if (write && cmd->first_key > 0 && !unchanged(cmd, ctx, from)) {
        int first = cmd->first_key;
        int last =
            cmd->last_key < 0 ? ctx->argc + cmd->last_key : cmd->last_key;
        /* Keys that are only read: COPY's source, the *STORE sources. */
        if (strcmp(cmd->name, "copy") == 0) {
            first = last = 2;
        } else if (strstr(cmd->name, "store") != NULL) {
            last = 1;
        }
        for (int i = first; i <= last && i < ctx->argc; i += cmd->step) {
            store_stamp(s, ctx->argv[i], ctx->argvlen[i]);
        }
    }
    s->writable = was;
}

struct value *command_get_typed(struct cmd_ctx *c, int i, int type, bool *wrong)
{
    struct value *v = store_get(c->store, c->argv[i], c->argvlen[i]);
    *wrong = v != NULL && (int)v->type != type;
    if (*wrong) {
        reply_error(c->reply, ERR_WRONGTYPE);
        return NULL;
    }
    return v;
}

int command_arity_ok(const struct command *cmd, int argc)
{
    return cmd->arity > 0 ? argc == cmd->arity : argc >= -cmd->arity;
}

const struct command *command_table(size_t *n)
{
    *n = NCOMMANDS;
    return table;
}

int arg_is(const char *arg, size_t len, const char *word)
{
    return strlen(word) == len && strncasecmp(arg, word, len) == 0;
}

/* "'%.*s' " for each argument while the list is under 128 bytes, and the
 * command name cut at 128 bytes, exactly as redis-server 7.0 builds it. */
void command_reply_unknown(struct buf *b, int argc, const char *const *argv,
                           const size_t *argvlen)
{
    struct buf args;
    buf_init(&args);
    for (int i = 1; i < argc && args.len < 128; i++) {
        int room = 128 - (int)args.len;
        int n = (int)strnlen(argv[i], argvlen[i]);
        buf_printf(&args, "'%.*s' ", n < room ? n : room, argv[i]);
    }
    buf_append(&args, "", 1);
    int n0 = (int)strnlen(argv[0], argvlen[0]);
    reply_errorf(b, "ERR unknown command '%.*s', with args beginning with: %s",
                 n0 < 128 ? n0 : 128, argv[0], args.data);
    buf_free(&args);
}
