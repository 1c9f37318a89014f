/* command: the command table and the context handlers run in.
 *
 * Every command is one of three kinds:
 *  - CMD_WRITE: proposed through the log, applied on every node in log
 *    order; the origin node sends the reply.
 *  - CMD_READ: proposed through the log in the same entry as the writes of
 *    its loop tick (that is what makes it linearizable), applied only on the
 *    origin node.
 *  - CMD_LOCAL: answered at once by the node that received it, never logged
 *    (PING, ECHO, INFO, CONFIG, SELECT...).
 * Keyspace handlers (WRITE/READ) must be deterministic functions of the
 * store, argv and ctx->time_ms: they run during fsm apply on every node.
 * The table is static and sorted; lookups are case-insensitive. */
#ifndef COMMAND_H
#define COMMAND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct store;
struct server;
struct conn;

#define CMD_WRITE 1u
#define CMD_READ  2u
#define CMD_LOCAL 4u
/* Internal write commands (RAFT.EXEC, RAFT.EXPIRE): clients can't send
 * them (except RAFT.EXEC over a proxy link, see cmd_multi.c). */
#define CMD_INTERNAL 8u

struct cmd_ctx {
    int argc;
    const char *const *argv;
    const size_t *argvlen;
    struct buf *reply;
    struct store *store;
    uint64_t time_ms; /* proposal time carried in the entry */
    int resp;         /* protocol of the client: 2 or 3 (HELLO) */
    uint64_t seed;    /* randomness decided by the proposer (SPOP) */
    /* Local commands; during apply set only on the node that proposed the
     * command (srv also for every live apply, NULL when replaying a
     * snapshot's tail; conn NULL once the client is gone): */
    struct server *srv;
    struct conn *conn;
};

typedef void (*cmd_fn)(struct cmd_ctx *c);

/* Per-command statistics of a node (INFO commandstats), indexed by
 * command_index: calls and usec as the node that received the command
 * sees them, rejected_calls for commands refused before running (unknown
 * subcommand, arity, subscribed mode...), failed_calls for those whose
 * reply was an error. */
struct cmd_stat {
    uint64_t calls;
    uint64_t usec;
    uint64_t rejected_calls;
    uint64_t failed_calls;
};

struct command {
    const char *name; /* lower case */
    int arity;        /* > 0 exact, < 0 at least -arity (argv[0] counts) */
    unsigned flags;
    const char *redis_flags; /* COMMAND's flags, space separated */
    int first_key, last_key, step;
    cmd_fn fn;
};

const struct command *command_lookup(const char *name, size_t len);
/* Position of cmd in the table (0 <= i < n of command_table), for stats. */
size_t command_index(const struct command *cmd);
/* Run a keyspace handler the way apply does on every node: a write bumps
 * the store version, may expire keys lazily and stamps the keys it names
 * (store.h). Used by fsm apply and by EXEC for each queued command. */
void command_execute(const struct command *cmd, struct cmd_ctx *ctx);
/* The value at key argv[i] when it has the given type, or NULL when the
 * key is absent; when it holds another type, replies WRONGTYPE, sets
 * *wrong and returns NULL. */
struct value *command_get_typed(struct cmd_ctx *c, int i, int type,
                                bool *wrong);
/* Nonzero when argc fits the command's arity. */
int command_arity_ok(const struct command *cmd, int argc);
/* Append Redis's "unknown command" error for argv. */
void command_reply_unknown(struct buf *b, int argc, const char *const *argv,
                           const size_t *argvlen);
/* The table, for COMMAND. */
const struct command *command_table(size_t *n);

/* Case-insensitive comparison of an argument with a NUL-terminated word. */
int arg_is(const char *arg, size_t len, const char *word);

/* Handlers, by family. */
void cmd_get(struct cmd_ctx *c);
void cmd_set(struct cmd_ctx *c);
void cmd_setnx(struct cmd_ctx *c);
void cmd_getset(struct cmd_ctx *c);
void cmd_getdel(struct cmd_ctx *c);
void cmd_mget(struct cmd_ctx *c);
void cmd_mset(struct cmd_ctx *c);
void cmd_append(struct cmd_ctx *c);
void cmd_strlen(struct cmd_ctx *c);
void cmd_incr(struct cmd_ctx *c);
void cmd_decr(struct cmd_ctx *c);
void cmd_incrby(struct cmd_ctx *c);
void cmd_decrby(struct cmd_ctx *c);

void cmd_del(struct cmd_ctx *c);
void cmd_exists(struct cmd_ctx *c);
void cmd_type(struct cmd_ctx *c);
void cmd_dbsize(struct cmd_ctx *c);
void cmd_flushall(struct cmd_ctx *c);

void cmd_lpush(struct cmd_ctx *c);
void cmd_rpush(struct cmd_ctx *c);
void cmd_lpushx(struct cmd_ctx *c);
void cmd_rpushx(struct cmd_ctx *c);
void cmd_lpop(struct cmd_ctx *c);
void cmd_rpop(struct cmd_ctx *c);
void cmd_llen(struct cmd_ctx *c);
void cmd_lindex(struct cmd_ctx *c);
void cmd_lrange(struct cmd_ctx *c);
void cmd_lset(struct cmd_ctx *c);
void cmd_lrem(struct cmd_ctx *c);
void cmd_ltrim(struct cmd_ctx *c);

void cmd_ping(struct cmd_ctx *c);
void cmd_echo(struct cmd_ctx *c);
void cmd_quit(struct cmd_ctx *c);
void cmd_select(struct cmd_ctx *c);
void cmd_info(struct cmd_ctx *c);
void cmd_config(struct cmd_ctx *c);
void cmd_command(struct cmd_ctx *c);
void cmd_shutdown(struct cmd_ctx *c);
void cmd_save(struct cmd_ctx *c);
void cmd_bgsave(struct cmd_ctx *c);
void cmd_lastsave(struct cmd_ctx *c);

void cmd_setex(struct cmd_ctx *c);
void cmd_psetex(struct cmd_ctx *c);
void cmd_getex(struct cmd_ctx *c);
void cmd_incrbyfloat(struct cmd_ctx *c);
void cmd_getrange(struct cmd_ctx *c);
void cmd_setrange(struct cmd_ctx *c);
void cmd_msetnx(struct cmd_ctx *c);

void cmd_expire(struct cmd_ctx *c);
void cmd_pexpire(struct cmd_ctx *c);
void cmd_expireat(struct cmd_ctx *c);
void cmd_pexpireat(struct cmd_ctx *c);
void cmd_ttl(struct cmd_ctx *c);
void cmd_pttl(struct cmd_ctx *c);
void cmd_expiretime(struct cmd_ctx *c);
void cmd_pexpiretime(struct cmd_ctx *c);
void cmd_persist(struct cmd_ctx *c);

void cmd_keys(struct cmd_ctx *c);
void cmd_scan(struct cmd_ctx *c);
void cmd_randomkey(struct cmd_ctx *c);
void cmd_rename(struct cmd_ctx *c);
void cmd_renamenx(struct cmd_ctx *c);
void cmd_copy(struct cmd_ctx *c);

void cmd_lpos(struct cmd_ctx *c);
void cmd_linsert(struct cmd_ctx *c);
void cmd_lmove(struct cmd_ctx *c);
void cmd_rpoplpush(struct cmd_ctx *c);

void cmd_hset(struct cmd_ctx *c);
void cmd_hmset(struct cmd_ctx *c);
void cmd_hget(struct cmd_ctx *c);
void cmd_hmget(struct cmd_ctx *c);
void cmd_hdel(struct cmd_ctx *c);
void cmd_hexists(struct cmd_ctx *c);
void cmd_hlen(struct cmd_ctx *c);
void cmd_hgetall(struct cmd_ctx *c);
void cmd_hkeys(struct cmd_ctx *c);
void cmd_hvals(struct cmd_ctx *c);
void cmd_hincrby(struct cmd_ctx *c);
void cmd_hincrbyfloat(struct cmd_ctx *c);
void cmd_hsetnx(struct cmd_ctx *c);
void cmd_hscan(struct cmd_ctx *c);
void cmd_hstrlen(struct cmd_ctx *c);
void cmd_hrandfield(struct cmd_ctx *c);

void cmd_sadd(struct cmd_ctx *c);
void cmd_srem(struct cmd_ctx *c);
void cmd_sismember(struct cmd_ctx *c);
void cmd_smismember(struct cmd_ctx *c);
void cmd_smembers(struct cmd_ctx *c);
void cmd_scard(struct cmd_ctx *c);
void cmd_spop(struct cmd_ctx *c);
void cmd_srandmember(struct cmd_ctx *c);
void cmd_sinter(struct cmd_ctx *c);
void cmd_sunion(struct cmd_ctx *c);
void cmd_sdiff(struct cmd_ctx *c);
void cmd_sscan(struct cmd_ctx *c);
void cmd_sinterstore(struct cmd_ctx *c);
void cmd_sunionstore(struct cmd_ctx *c);
void cmd_sdiffstore(struct cmd_ctx *c);
void cmd_smove(struct cmd_ctx *c);

void cmd_multi(struct cmd_ctx *c);
void cmd_exec(struct cmd_ctx *c);
void cmd_discard(struct cmd_ctx *c);
void cmd_watch(struct cmd_ctx *c);
void cmd_unwatch(struct cmd_ctx *c);

void cmd_subscribe(struct cmd_ctx *c);
void cmd_unsubscribe(struct cmd_ctx *c);
void cmd_psubscribe(struct cmd_ctx *c);
void cmd_punsubscribe(struct cmd_ctx *c);
void cmd_publish(struct cmd_ctx *c);
void cmd_pubsub(struct cmd_ctx *c);

void cmd_time(struct cmd_ctx *c);
void cmd_client(struct cmd_ctx *c);
void cmd_hello(struct cmd_ctx *c);
void cmd_reset(struct cmd_ctx *c);

void cmd_zadd(struct cmd_ctx *c);
void cmd_zcard(struct cmd_ctx *c);
void cmd_zcount(struct cmd_ctx *c);
void cmd_zincrby(struct cmd_ctx *c);
void cmd_zlexcount(struct cmd_ctx *c);
void cmd_zmscore(struct cmd_ctx *c);
void cmd_zpopmax(struct cmd_ctx *c);
void cmd_zpopmin(struct cmd_ctx *c);
void cmd_zrange(struct cmd_ctx *c);
void cmd_zrangebylex(struct cmd_ctx *c);
void cmd_zrangebyscore(struct cmd_ctx *c);
void cmd_zrank(struct cmd_ctx *c);
void cmd_zrem(struct cmd_ctx *c);
void cmd_zrevrange(struct cmd_ctx *c);
void cmd_zrevrangebylex(struct cmd_ctx *c);
void cmd_zrevrangebyscore(struct cmd_ctx *c);
void cmd_zrevrank(struct cmd_ctx *c);
void cmd_zscore(struct cmd_ctx *c);

void cmd_raft_exec(struct cmd_ctx *c);
void cmd_raft_expire(struct cmd_ctx *c);
void cmd_raft_watch(struct cmd_ctx *c);

void cmd_cluster(struct cmd_ctx *c);
void cmd_readonly(struct cmd_ctx *c);
void cmd_readwrite(struct cmd_ctx *c);
void cmd_asking(struct cmd_ctx *c);
void cmd_raft_transfer(struct cmd_ctx *c);
void cmd_raft_node(struct cmd_ctx *c);
void cmd_raft_nodes(struct cmd_ctx *c);
void cmd_raft_nodeid(struct cmd_ctx *c);
void cmd_raft_proxy(struct cmd_ctx *c);

#endif
