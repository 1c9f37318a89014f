/* command: the command table. */
#include "command.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "reply.h"

#define W CMD_WRITE
#define R CMD_READ
#define L CMD_LOCAL

/* Sorted by name (bsearch). Key positions as in redis-server 7.0. */
static const struct command table[] = {
    {"append", 3, W, "write denyoom fast", 1, 1, 1, cmd_append},
    {"asking", 1, L, "fast", 0, 0, 0, cmd_asking},
    {"bgsave", -1, L, "admin noscript no_async_loading", 0, 0, 0, cmd_bgsave},
    {"cluster", -2, L, "loading stale", 0, 0, 0, cmd_cluster},
    {"command", -1, L, "loading stale", 0, 0, 0, cmd_command},
    {"config", -2, L, "admin noscript loading stale", 0, 0, 0, cmd_config},
    {"dbsize", 1, R, "readonly fast", 0, 0, 0, cmd_dbsize},
    {"decr", 2, W, "write denyoom fast", 1, 1, 1, cmd_decr},
    {"decrby", 3, W, "write denyoom fast", 1, 1, 1, cmd_decrby},
    {"del", -2, W, "write", 1, -1, 1, cmd_del},
    {"echo", 2, L, "fast", 0, 0, 0, cmd_echo},
    {"exists", -2, R, "readonly fast", 1, -1, 1, cmd_exists},
    {"flushall", -1, W, "write", 0, 0, 0, cmd_flushall},
    {"flushdb", -1, W, "write", 0, 0, 0, cmd_flushall},
    {"get", 2, R, "readonly fast", 1, 1, 1, cmd_get},
    {"getdel", 2, W, "write fast", 1, 1, 1, cmd_getdel},
    {"getset", 3, W, "write denyoom fast", 1, 1, 1, cmd_getset},
    {"incr", 2, W, "write denyoom fast", 1, 1, 1, cmd_incr},
    {"incrby", 3, W, "write denyoom fast", 1, 1, 1, cmd_incrby},
    {"info", -1, L, "loading stale", 0, 0, 0, cmd_info},
    {"lastsave", 1, L, "loading stale fast", 0, 0, 0, cmd_lastsave},
    {"lindex", 3, R, "readonly", 1, 1, 1, cmd_lindex},
    {"llen", 2, R, "readonly fast", 1, 1, 1, cmd_llen},
    {"lpop", -2, W, "write fast", 1, 1, 1, cmd_lpop},
    {"lpush", -3, W, "write denyoom fast", 1, 1, 1, cmd_lpush},
    {"lpushx", -3, W, "write denyoom fast", 1, 1, 1, cmd_lpushx},
    {"lrange", 4, R, "readonly", 1, 1, 1, cmd_lrange},
    {"lrem", 4, W, "write", 1, 1, 1, cmd_lrem},
    {"lset", 4, W, "write denyoom", 1, 1, 1, cmd_lset},
    {"ltrim", 4, W, "write", 1, 1, 1, cmd_ltrim},
    {"mget", -2, R, "readonly fast", 1, -1, 1, cmd_mget},
    {"mset", -3, W, "write denyoom", 1, -1, 2, cmd_mset},
    {"ping", -1, L, "fast", 0, 0, 0, cmd_ping},
    {"quit", -1, L, "allow_busy loading stale fast", 0, 0, 0, cmd_quit},
    {"raft.proxy", 1, L, "admin loading stale fast", 0, 0, 0, cmd_raft_proxy},
    {"raft.transfer", -1, L, "admin loading stale", 0, 0, 0, cmd_raft_transfer},
    {"readonly", 1, L, "loading stale fast", 0, 0, 0, cmd_readonly},
    {"readwrite", 1, L, "loading stale fast", 0, 0, 0, cmd_readwrite},
    {"rpop", -2, W, "write fast", 1, 1, 1, cmd_rpop},
    {"rpush", -3, W, "write denyoom fast", 1, 1, 1, cmd_rpush},
    {"rpushx", -3, W, "write denyoom fast", 1, 1, 1, cmd_rpushx},
    {"save", 1, L, "admin noscript no_async_loading no_multi", 0, 0, 0,
     cmd_save},
    {"select", 2, L, "loading stale fast", 0, 0, 0, cmd_select},
    {"set", -3, W, "write denyoom", 1, 1, 1, cmd_set},
    {"setnx", 3, W, "write denyoom fast", 1, 1, 1, cmd_setnx},
    {"shutdown", -1, L, "admin noscript loading stale no_multi", 0, 0, 0,
     cmd_shutdown},
    {"strlen", 2, R, "readonly fast", 1, 1, 1, cmd_strlen},
    {"type", 2, R, "readonly fast", 1, 1, 1, cmd_type},
    {"unlink", -2, W, "write fast", 1, -1, 1, cmd_del},
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
