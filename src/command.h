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

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct store;
struct server;
struct conn;

#define CMD_WRITE 1u
#define CMD_READ  2u
#define CMD_LOCAL 4u

struct cmd_ctx {
    int argc;
    const char *const *argv;
    const size_t *argvlen;
    struct buf *reply;
    struct store *store;
    uint64_t time_ms; /* proposal time carried in the entry */
    /* Local commands only: */
    struct server *srv;
    struct conn *conn;
};

typedef void (*cmd_fn)(struct cmd_ctx *c);

struct command {
    const char *name; /* lower case */
    int arity;        /* > 0 exact, < 0 at least -arity (argv[0] counts) */
    unsigned flags;
    const char *redis_flags; /* COMMAND's flags, space separated */
    int first_key, last_key, step;
    cmd_fn fn;
};

const struct command *command_lookup(const char *name, size_t len);
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

void cmd_cluster(struct cmd_ctx *c);
void cmd_readonly(struct cmd_ctx *c);
void cmd_readwrite(struct cmd_ctx *c);
void cmd_asking(struct cmd_ctx *c);
void cmd_raft_transfer(struct cmd_ctx *c);
void cmd_raft_proxy(struct cmd_ctx *c);

#endif
