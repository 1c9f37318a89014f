/* cmd_server: commands a node answers itself, never through the log:
 * PING, ECHO, QUIT, SELECT, INFO, CONFIG, COMMAND. */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "cluster.h"
#include "command.h"
#include "config.h"
#include "conn.h"
#include "dict.h"
#include "memstats.h"
#include "node.h"
#include "persist.h"
#include "num.h"
#include "proto.h"
#include "reply.h"
#include "server.h"
#include "store.h"

#define REDIS_RAFT_VERSION   "0.1.0"
#define REDIS_COMPAT_VERSION "7.0.15"

void cmd_ping(struct cmd_ctx *c)
{
    if (c->argc > 2) {
        reply_arity_error(c->reply, "ping");
    } else if (c->argc == 2) {
        reply_bulk(c->reply, c->argv[1], c->argvlen[1]);
    } else {
        reply_status(c->reply, "PONG");
    }
}

void cmd_echo(struct cmd_ctx *c)
{
    reply_bulk(c->reply, c->argv[1], c->argvlen[1]);
}

void cmd_quit(struct cmd_ctx *c)
{
    reply_ok(c->reply);
    c->conn->close_after_reply = true;
}

/* SELECT index: only database 0 exists, as on Redis Cluster. */
void cmd_select(struct cmd_ctx *c)
{
    long long id;
    if (!num_parse_ll(c->argv[1], c->argvlen[1], &id) || id < -2147483648LL ||
        id > 2147483647LL) {
        reply_error(c->reply, ERR_NOT_INT);
    } else if (id != 0) {
        reply_error(c->reply, "ERR SELECT is not allowed in cluster mode");
    } else {
        reply_ok(c->reply);
    }
}

/* SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]: every acknowledged write is
 * already on disk, so the save modifiers change nothing. On success the
 * connection closes without a reply, as with redis-server. */
void cmd_shutdown(struct cmd_ctx *c)
{
    for (int i = 1; i < c->argc; i++) {
        const char *a = c->argv[i];
        size_t n = c->argvlen[i];
        if (arg_is(a, n, "abort")) {
            reply_error(c->reply, "ERR No shutdown in progress.");
            return;
        }
        if (!arg_is(a, n, "nosave") && !arg_is(a, n, "save") &&
            !arg_is(a, n, "now") && !arg_is(a, n, "force")) {
            reply_error(c->reply, ERR_SYNTAX);
            return;
        }
    }
    log_write(&c->srv->log, LOG_WARNING,
              "User requested shutdown (client id=%llu addr=%s)",
              (unsigned long long)c->conn->id, c->conn->addr);
    server_shutdown(c->srv, 0);
}

/* --- SAVE, BGSAVE, LASTSAVE ---------------------------------------------- */

/* A snapshot of this node (persist.h); SAVE answers when it is on disk. */
void cmd_save(struct cmd_ctx *c)
{
    struct slot *slot = conn_slot_new(c->conn);
    slot->in_batch = true;
    persist_save(&c->srv->persist, slot, false, false);
}

void cmd_bgsave(struct cmd_ctx *c)
{
    bool schedule = false;
    if (c->argc > 2 ||
        (c->argc == 2 &&
         !(schedule = arg_is(c->argv[1], c->argvlen[1], "schedule")))) {
        reply_error(c->reply, ERR_SYNTAX);
        return;
    }
    struct slot *slot = conn_slot_new(c->conn);
    slot->in_batch = true;
    persist_save(&c->srv->persist, slot, true, schedule);
}

void cmd_lastsave(struct cmd_ctx *c)
{
    reply_int(c->reply, (long long)c->srv->persist.lastsave);
}

/* --- INFO ---------------------------------------------------------------- */

static void human_bytes(char *out, size_t n, size_t bytes)
{
    double b = (double)bytes;
    if (b < 1024) {
        snprintf(out, n, "%zuB", bytes);
    } else if (b < 1024.0 * 1024) {
        snprintf(out, n, "%.2fK", b / 1024);
    } else if (b < 1024.0 * 1024 * 1024) {
        snprintf(out, n, "%.2fM", b / (1024.0 * 1024));
    } else {
        snprintf(out, n, "%.2fG", b / (1024.0 * 1024 * 1024));
    }
}

static void info_server(struct server *s, struct buf *b)
{
    struct utsname u;
    uname(&u);
    uint64_t up = (server_time_ms() - s->start_ms) / 1000;
    buf_printf(b,
               "# Server\r\n"
               "redis_version:" REDIS_COMPAT_VERSION "\r\n"
               "redis_raft_version:" REDIS_RAFT_VERSION "\r\n"
               "redis_mode:cluster\r\n"
               "os:%s %s %s\r\n"
               "arch_bits:%d\r\n"
               "multiplexing_api:libuv\r\n"
               "libuv_version:%s\r\n"
               "process_id:%d\r\n"
               "tcp_port:%lld\r\n"
               "raft_port:%lld\r\n"
               "uptime_in_seconds:%llu\r\n"
               "uptime_in_days:%llu\r\n"
               "config_file:%s\r\n"
               "data_dir:%s\r\n",
               u.sysname, u.release, u.machine, (int)(sizeof(long) * 8),
               uv_version_string(), (int)getpid(), s->cfg.port,
               s->cfg.raft_port, (unsigned long long)up,
               (unsigned long long)(up / 86400),
               s->cfg.config_file ? s->cfg.config_file : "", s->cfg.dir);
}

static void info_clients(struct server *s, struct buf *b)
{
    buf_printf(b,
               "# Clients\r\n"
               "connected_clients:%llu\r\n"
               "maxclients:%lld\r\n"
               "blocked_clients:0\r\n",
               (unsigned long long)s->nconns, s->cfg.maxclients);
}

static void info_memory(struct server *s, struct buf *b)
{
    struct memstats m;
    char h1[32], h2[32];
    (void)s;
    memstats_read(&m);
    human_bytes(h1, sizeof h1, m.allocated);
    human_bytes(h2, sizeof h2, m.rss);
    buf_printf(b,
               "# Memory\r\n"
               "used_memory:%zu\r\n"
               "used_memory_human:%s\r\n"
               "used_memory_rss:%zu\r\n"
               "used_memory_rss_human:%s\r\n"
               "allocator_active:%zu\r\n"
               "allocator_resident:%zu\r\n"
               "mem_fragmentation_ratio:%.2f\r\n"
               "mem_allocator:%s\r\n",
               m.allocated, h1, m.rss, h2, m.active, m.resident,
               m.allocated ? (double)m.rss / (double)m.allocated : 0.0,
               m.allocator);
}

static void info_stats(struct server *s, struct buf *b)
{
    buf_printf(b,
               "# Stats\r\n"
               "total_connections_received:%llu\r\n"
               "total_commands_processed:%llu\r\n"
               "total_net_input_bytes:%llu\r\n"
               "total_net_output_bytes:%llu\r\n"
               "rejected_connections:%llu\r\n"
               "expired_keys:%llu\r\n"
               "pubsub_channels:%zu\r\n"
               "pubsub_patterns:%zu\r\n"
               "raft_entries_proposed:%llu\r\n"
               "raft_commands_proposed:%llu\r\n"
               "raft_entries_applied:%llu\r\n"
               "raft_batches_in_flight:%zu\r\n",
               (unsigned long long)s->stats.connections_received,
               (unsigned long long)s->stats.commands_processed,
               (unsigned long long)s->stats.net_input_bytes,
               (unsigned long long)s->stats.net_output_bytes,
               (unsigned long long)s->stats.connections_rejected,
               (unsigned long long)s->store->expired_keys,
               dict_size(s->pubsub.channels), dict_size(s->pubsub.patterns),
               (unsigned long long)s->batcher.proposed_entries,
               (unsigned long long)s->batcher.proposed_commands,
               (unsigned long long)s->stats.entries_applied,
               s->batcher.ninflight);
}

/* One line per command that was called, refused or failed, as
 * redis-server 7.0 prints them (subcommands are counted with their
 * command here). */
static void info_commandstats(struct server *s, struct buf *b)
{
    size_t n;
    const struct command *table = command_table(&n);
    buf_append_str(b, "# Commandstats\r\n");
    for (size_t i = 0; i < n; i++) {
        const struct cmd_stat *st = &s->cmdstats[i];
        if (st->calls == 0 && st->rejected_calls == 0 &&
            st->failed_calls == 0) {
            continue;
        }
        buf_printf(b,
                   "cmdstat_%s:calls=%llu,usec=%llu,usec_per_call=%.2f,"
                   "rejected_calls=%llu,failed_calls=%llu\r\n",
                   table[i].name, (unsigned long long)st->calls,
                   (unsigned long long)st->usec,
                   st->calls ? (double)st->usec / (double)st->calls : 0.0,
                   (unsigned long long)st->rejected_calls,
                   (unsigned long long)st->failed_calls);
    }
}

static void info_cluster(struct server *s, struct buf *b)
{
    buf_append_str(b, "# Cluster\r\n");
    cluster_info(&s->cluster, b);
}

static void info_raft(struct server *s, struct buf *b)
{
    buf_append_str(b, "# Raft\r\n");
    node_info(s->node, b);
}

static void info_persistence(struct server *s, struct buf *b)
{
    buf_append_str(b, "# Persistence\r\n");
    persist_info(&s->persist, b);
}

static void info_keyspace(struct server *s, struct buf *b)
{
    buf_append_str(b, "# Keyspace\r\n");
    size_t n = store_size(s->store);
    if (n > 0) {
        buf_printf(b, "db0:keys=%zu,expires=%zu,avg_ttl=0\r\n", n,
                   store_expires(s->store));
    }
}

/* In redis-server's order; dflt: part of INFO without arguments. */
static const struct {
    const char *name;
    void (*fn)(struct server *, struct buf *);
    bool dflt;
} sections[] = {
    {"server", info_server, true},
    {"clients", info_clients, true},
    {"memory", info_memory, true},
    {"persistence", info_persistence, true},
    {"stats", info_stats, true},
    {"commandstats", info_commandstats, false},
    {"cluster", info_cluster, true},
    {"raft", info_raft, true},
    {"keyspace", info_keyspace, true},
};

#define NSECTIONS (sizeof sections / sizeof sections[0])

/* INFO [section ...]: sections by name (any case), "default" (what no
 * argument gives), "all" and "everything" (every section); unknown names
 * select nothing. Sections always come in the table's order. RESP3: a
 * verbatim string. */
void cmd_info(struct cmd_ctx *c)
{
    bool want[NSECTIONS];
    for (size_t k = 0; k < NSECTIONS; k++) {
        want[k] = c->argc == 1 && sections[k].dflt;
    }
    for (int i = 1; i < c->argc; i++) {
        const char *a = c->argv[i];
        size_t n = c->argvlen[i];
        bool all = arg_is(a, n, "all") || arg_is(a, n, "everything");
        bool dflt = arg_is(a, n, "default");
        for (size_t k = 0; k < NSECTIONS; k++) {
            if (all || (dflt && sections[k].dflt) ||
                arg_is(a, n, sections[k].name)) {
                want[k] = true;
            }
        }
    }
    struct buf b;
    buf_init(&b);
    for (size_t k = 0; k < NSECTIONS; k++) {
        if (want[k]) {
            if (b.len > 0) {
                buf_append(&b, "\r\n", 2);
            }
            sections[k].fn(c->srv, &b);
        }
    }
    reply_verbatim(c->reply, b.data, b.len, c->resp);
    buf_free(&b);
}

/* --- CONFIG ---------------------------------------------------------------
 */

struct config_reply {
    struct buf items;
    long long n; /* pairs */
};

static void config_collect(void *arg, const char *name, size_t len,
                           const char *value)
{
    struct config_reply *r = arg;
    reply_bulk(&r->items, name, len);
    reply_bulk_str(&r->items, value);
    r->n++;
}

static void apply_runtime(struct server *s)
{
    s->log.level = (int)s->cfg.loglevel;
    for (struct conn *c = s->conns; c != NULL; c = c->next) {
        if (c->proto != NULL) {
            proto_set_max_bulk_len(c->proto, s->cfg.proto_max_bulk_len);
        }
    }
}

/* CONFIG RESETSTAT: the counters redis-server resets (the raft counters
 * and the pub/sub delivery count are not Redis's and stay). */
static void reset_stats(struct server *s)
{
    size_t n;
    command_table(&n);
    s->stats.connections_received = 0;
    s->stats.connections_rejected = 0;
    s->stats.commands_processed = 0;
    s->stats.net_input_bytes = 0;
    s->stats.net_output_bytes = 0;
    memset(s->cmdstats, 0, n * sizeof *s->cmdstats);
    s->store->expired_keys = 0;
}

static const char *const config_help[] = {
    "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GET <pattern>",
    "    Return parameters matching the glob-like <pattern> and their values.",
    "SET <directive> <value>",
    "    Set the configuration <directive> to <value>.",
    "RESETSTAT",
    "    Reset statistics reported by the INFO command.",
    "HELP",
    "    Prints this help.",
};

void cmd_config(struct cmd_ctx *c)
{
    const char *sub = c->argv[1];
    size_t sublen = c->argvlen[1];
    struct server *s = c->srv;
    if (arg_is(sub, sublen, "get") && c->argc >= 3) {
        struct config_reply r;
        buf_init(&r.items);
        r.n = 0;
        config_get(&s->cfg, c->argc - 2, c->argv + 2, c->argvlen + 2,
                   config_collect, &r);
        reply_map(c->reply, r.n, c->resp);
        buf_append(c->reply, r.items.data, r.items.len);
        buf_free(&r.items);
    } else if (arg_is(sub, sublen, "set") && c->argc >= 4) {
        char err[512];
        if (c->argc % 2 != 0) {
            reply_error(c->reply, ERR_SYNTAX);
        } else if (config_set_many(&s->cfg, (c->argc - 2) / 2, c->argv + 2,
                                   c->argvlen + 2, err, sizeof err) != 0) {
            reply_error(c->reply, err);
        } else {
            apply_runtime(s);
            reply_ok(c->reply);
        }
    } else if (arg_is(sub, sublen, "resetstat") && c->argc == 2) {
        reset_stats(s);
        reply_ok(c->reply);
    } else if (arg_is(sub, sublen, "help") && c->argc == 2) {
        size_t n = sizeof config_help / sizeof config_help[0];
        reply_array(c->reply, (long long)n);
        for (size_t i = 0; i < n; i++) {
            reply_status(c->reply, config_help[i]);
        }
    } else if (arg_is(sub, sublen, "get") || arg_is(sub, sublen, "set") ||
               arg_is(sub, sublen, "resetstat") ||
               arg_is(sub, sublen, "help")) {
        reply_subcommand_arity_error(c->reply, "config", sub, sublen);
    } else {
        reply_errorf(c->reply,
                     "ERR unknown subcommand '%.128s'. Try CONFIG HELP.", sub);
    }
}

/* --- COMMAND ---------------------------------------------------------------
 */

static void command_entry(struct buf *b, const struct command *cmd)
{
    reply_array(b, 10);
    reply_bulk_str(b, cmd->name);
    reply_int(b, cmd->arity);
    /* Flags as status replies. */
    int nflags = 0;
    const char *p = cmd->redis_flags;
    for (const char *q = p; *q; q++) {
        if ((q == p || q[-1] == ' ') && *q != ' ') {
            nflags++;
        }
    }
    reply_array(b, nflags);
    while (*p) {
        size_t n = strcspn(p, " ");
        if (n > 0) {
            buf_append(b, "+", 1);
            buf_append(b, p, n);
            buf_append(b, "\r\n", 2);
        }
        p += n;
        while (*p == ' ') {
            p++;
        }
    }
    reply_int(b, cmd->first_key);
    reply_int(b, cmd->last_key);
    reply_int(b, cmd->step);
    reply_array(b, 0); /* ACL categories */
    reply_array(b, 0); /* tips */
    reply_array(b, 0); /* key specs */
    reply_array(b, 0); /* subcommands */
}

/* Internal commands (RAFT.EXEC...) are not for clients: COMMAND hides
 * them. */
static bool visible(const struct command *cmd)
{
    return cmd != NULL && !(cmd->flags & CMD_INTERNAL);
}

static void command_all(struct buf *b)
{
    size_t n, nvisible = 0;
    const struct command *table = command_table(&n);
    for (size_t i = 0; i < n; i++) {
        nvisible += visible(&table[i]);
    }
    reply_array(b, (long long)nvisible);
    for (size_t i = 0; i < n; i++) {
        if (visible(&table[i])) {
            command_entry(b, &table[i]);
        }
    }
}

void cmd_command(struct cmd_ctx *c)
{
    if (c->argc == 1) {
        command_all(c->reply);
        return;
    }
    const char *sub = c->argv[1];
    size_t sublen = c->argvlen[1];
    if (arg_is(sub, sublen, "count")) {
        if (c->argc != 2) {
            reply_subcommand_arity_error(c->reply, "command", sub, sublen);
            return;
        }
        size_t n, nvisible = 0;
        const struct command *table = command_table(&n);
        for (size_t i = 0; i < n; i++) {
            nvisible += visible(&table[i]);
        }
        reply_int(c->reply, (long long)nvisible);
    } else if (arg_is(sub, sublen, "info")) {
        if (c->argc == 2) {
            command_all(c->reply);
            return;
        }
        reply_array(c->reply, c->argc - 2);
        for (int i = 2; i < c->argc; i++) {
            const struct command *cmd =
                command_lookup(c->argv[i], c->argvlen[i]);
            if (visible(cmd)) {
                command_entry(c->reply, cmd);
            } else {
                reply_nil(c->reply, c->resp);
            }
        }
    } else if (arg_is(sub, sublen, "docs")) {
        reply_array(c->reply, 0);
    } else {
        reply_errorf(c->reply,
                     "ERR unknown subcommand '%.128s'. Try COMMAND HELP.", sub);
    }
}
