/* cmd_client: TIME and CLIENT, the commands about this node's client
 * connections (answered locally, never through the log).
 *
 * CLIENT LIST / INFO print the fields of redis-server 7.0 in its order;
 * where redis-raft has no equivalent the value is an approximation from
 * the connection's buffers (see client_info). Proxy links of other nodes
 * are connections like any other here. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "command.h"
#include "conn.h"
#include "dict.h"
#include "mem.h"
#include "multi.h"
#include "num.h"
#include "pubsub.h"
#include "reply.h"
#include "server.h"

void cmd_time(struct cmd_ctx *c)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    reply_array(c->reply, 2);
    reply_bulk_ll(c->reply, (long long)tv.tv_sec);
    reply_bulk_ll(c->reply, (long long)tv.tv_usec);
}

/* --- CLIENT LIST / INFO ---------------------------------------------------
 */

/* Client types of CLIENT LIST TYPE and CLIENT KILL TYPE. redis-raft has no
 * replication links, so no connection is ever a master or a replica. */
enum client_type {
    CT_NONE = -1,
    CT_NORMAL,
    CT_REPLICA,
    CT_PUBSUB,
    CT_MASTER,
};

static enum client_type type_by_name(const char *s, size_t len)
{
    if (arg_is(s, len, "normal")) {
        return CT_NORMAL;
    }
    if (arg_is(s, len, "slave") || arg_is(s, len, "replica")) {
        return CT_REPLICA;
    }
    if (arg_is(s, len, "pubsub")) {
        return CT_PUBSUB;
    }
    if (arg_is(s, len, "master")) {
        return CT_MASTER;
    }
    return CT_NONE;
}

/* As redis-server: subscribed to anything is pubsub, else normal. */
static enum client_type type_of(const struct conn *cl)
{
    return pubsub_count(cl) > 0 ? CT_PUBSUB : CT_NORMAL;
}

/* The local address of cl as "ip:port" ("?:0" when unknown). */
static void local_addr(const struct conn *cl, char *out, size_t n)
{
    conn_addr(cl, true, out, n);
}

/* Bytes held by replies that wait in cl's slot queue. */
static size_t slot_bytes(const struct conn *cl)
{
    size_t n = 0;
    for (const struct slot *s = cl->head; s != NULL; s = s->next) {
        n += s->reply.cap;
    }
    return n;
}

/* Append cl's CLIENT LIST line (no newline). Fields and their order are
 * redis-server 7.0's; qbuf* are the query buffer, rbs/rbp the output
 * buffer's capacity, obl the bytes in it, oll the replies waiting in the
 * slot queue, omem their bytes plus the output buffers', tot-mem all of
 * the connection's buffers. */
static void client_info(struct buf *b, const struct conn *cl, uint64_t now)
{
    char laddr[64];
    local_addr(cl, laddr, sizeof laddr);
    uv_os_fd_t fd = -1;
    if (uv_fileno((const uv_handle_t *)&cl->tcp, &fd) != 0) {
        fd = -1;
    }
    char flags[8], *p = flags;
    if (pubsub_count(cl) > 0) {
        *p++ = 'P';
    }
    if (multi_active(cl)) {
        *p++ = 'x';
    }
    if (cl->close_after_reply) {
        *p++ = 'c';
    }
    if (cl->readonly) {
        *p++ = 'r';
    }
    if (p == flags) {
        *p++ = 'N';
    }
    *p = '\0';
    char events[3] = "", *e = events;
    if (cl->reading) {
        *e++ = 'r';
    }
    if (cl->writing) {
        *e++ = 'w';
    }
    *e = '\0';
    size_t slots = slot_bytes(cl);
    size_t omem = cl->out.len + cl->wbuf.len + slots;
    size_t tot = sizeof *cl + cl->in.cap + cl->out.cap + cl->wbuf.cap + slots;
    long long age = (long long)(now - cl->created_ms) / 1000;
    long long idle = (long long)(now - cl->last_ms) / 1000;
    buf_printf(b,
               "id=%llu addr=%s laddr=%s fd=%d name=%s age=%lld idle=%lld "
               "flags=%s db=0 sub=%zu psub=%zu ssub=0 multi=%lld qbuf=%zu "
               "qbuf-free=%zu argv-mem=0 multi-mem=0 rbs=%zu rbp=%zu obl=%zu "
               "oll=%zu omem=%zu tot-mem=%zu events=%s cmd=%s user=default "
               "redir=-1 resp=%d",
               (unsigned long long)cl->id, cl->addr, laddr, (int)fd,
               cl->name ? cl->name : "", age < 0 ? 0 : age, idle < 0 ? 0 : idle,
               flags, cl->channels ? dict_size(cl->channels) : (size_t)0,
               cl->patterns ? dict_size(cl->patterns) : (size_t)0,
               multi_active(cl) ? (long long)multi_queued(cl) : -1LL,
               cl->in.len, cl->in.cap - cl->in.len, cl->out.cap, cl->out.cap,
               cl->out.len, cl->nslots, omem, tot, events, cl->last_cmd,
               cl->resp);
}

/* The oldest connection (the server's list is newest first). */
static struct conn *oldest(struct server *srv)
{
    struct conn *cl = srv->conns;
    while (cl != NULL && cl->next != NULL) {
        cl = cl->next;
    }
    return cl;
}

static struct conn *by_id(struct server *srv, uint64_t id)
{
    for (struct conn *cl = srv->conns; cl != NULL; cl = cl->next) {
        if (cl->id == id) {
            return cl;
        }
    }
    return NULL;
}

/* CLIENT LIST [TYPE type | ID id [id ...]] */
static void client_list(struct cmd_ctx *c)
{
    struct server *srv = c->srv;
    uint64_t now = server_time_ms();
    enum client_type type = CT_NONE;
    struct buf b;
    buf_init(&b);
    if (c->argc == 4 && arg_is(c->argv[2], c->argvlen[2], "type")) {
        type = type_by_name(c->argv[3], c->argvlen[3]);
        if (type == CT_NONE) {
            reply_errorf(c->reply, "ERR Unknown client type '%s'", c->argv[3]);
            return;
        }
    } else if (c->argc > 3 && arg_is(c->argv[2], c->argvlen[2], "id")) {
        for (int i = 3; i < c->argc; i++) {
            long long id;
            if (!num_parse_ll(c->argv[i], c->argvlen[i], &id)) {
                buf_free(&b);
                reply_error(c->reply, "ERR Invalid client ID");
                return;
            }
            struct conn *cl = by_id(srv, (uint64_t)id);
            if (cl != NULL) {
                client_info(&b, cl, now);
                buf_append(&b, "\n", 1);
            }
        }
        reply_verbatim(c->reply, b.data, b.len, c->resp);
        buf_free(&b);
        return;
    } else if (c->argc != 2) {
        reply_error(c->reply, ERR_SYNTAX);
        return;
    }
    for (struct conn *cl = oldest(srv); cl != NULL; cl = cl->prev) {
        if (type == CT_NONE || type_of(cl) == type) {
            client_info(&b, cl, now);
            buf_append(&b, "\n", 1);
        }
    }
    reply_verbatim(c->reply, b.data, b.len, c->resp);
    buf_free(&b);
}

/* --- CLIENT KILL ------------------------------------------------------------
 */

struct kill_filter {
    const char *addr, *laddr;
    size_t addrlen, laddrlen;
    enum client_type type;
    uint64_t id; /* 0: any */
    bool skipme;
};

static bool same(const char *a, size_t alen, const char *s)
{
    return strlen(s) == alen && memcmp(a, s, alen) == 0;
}

static bool kill_matches(const struct kill_filter *f, const struct conn *cl)
{
    if (f->addr != NULL && !same(f->addr, f->addrlen, cl->addr)) {
        return false;
    }
    if (f->laddr != NULL) {
        char laddr[64];
        local_addr(cl, laddr, sizeof laddr);
        if (!same(f->laddr, f->laddrlen, laddr)) {
            return false;
        }
    }
    if (f->type != CT_NONE && type_of(cl) != f->type) {
        return false;
    }
    return f->id == 0 || cl->id == f->id;
}

/* Parse the new form's filters; false after replying with the error. */
static bool kill_parse(struct cmd_ctx *c, struct kill_filter *f)
{
    for (int i = 2; i < c->argc; i += 2) {
        const char *opt = c->argv[i];
        size_t optlen = c->argvlen[i];
        const char *v = i + 1 < c->argc ? c->argv[i + 1] : NULL;
        size_t vlen = v ? c->argvlen[i + 1] : 0;
        long long id;
        if (v == NULL) {
            reply_error(c->reply, ERR_SYNTAX);
            return false;
        } else if (arg_is(opt, optlen, "id")) {
            if (!num_parse_ll(v, vlen, &id) || id < 1) {
                reply_error(c->reply, "ERR client-id should be greater than 0");
                return false;
            }
            f->id = (uint64_t)id;
        } else if (arg_is(opt, optlen, "type")) {
            f->type = type_by_name(v, vlen);
            if (f->type == CT_NONE) {
                reply_errorf(c->reply, "ERR Unknown client type '%s'", v);
                return false;
            }
        } else if (arg_is(opt, optlen, "addr")) {
            f->addr = v;
            f->addrlen = vlen;
        } else if (arg_is(opt, optlen, "laddr")) {
            f->laddr = v;
            f->laddrlen = vlen;
        } else if (arg_is(opt, optlen, "user")) {
            /* Only the default user exists, and every client is it. */
            if (!same(v, vlen, "default")) {
                reply_errorf(c->reply, "ERR No such user '%s'", v);
                return false;
            }
        } else if (arg_is(opt, optlen, "skipme")) {
            if (arg_is(v, vlen, "yes")) {
                f->skipme = true;
            } else if (arg_is(v, vlen, "no")) {
                f->skipme = false;
            } else {
                reply_error(c->reply, ERR_SYNTAX);
                return false;
            }
        } else {
            reply_error(c->reply, ERR_SYNTAX);
            return false;
        }
    }
    return true;
}

/* CLIENT KILL addr:port (replies +OK, may kill the caller) or CLIENT KILL
 * <filter value>... (replies the count; SKIPME yes by default). Other
 * connections close at once; the caller's closes after this reply. */
static void client_kill(struct cmd_ctx *c)
{
    struct kill_filter f = {.type = CT_NONE, .skipme = true};
    bool old_form = c->argc == 3;
    if (old_form) {
        f.addr = c->argv[2];
        f.addrlen = c->argvlen[2];
        f.skipme = false;
    } else if (!kill_parse(c, &f)) {
        return;
    }
    long long killed = 0;
    bool kill_me = false;
    struct conn *cl = c->srv->conns;
    while (cl != NULL) {
        struct conn *next = cl->next; /* conn_close unlinks cl */
        if (kill_matches(&f, cl) && !(cl == c->conn && f.skipme)) {
            if (cl == c->conn) {
                kill_me = true;
            } else {
                conn_close(cl);
            }
            killed++;
        }
        cl = next;
    }
    if (!old_form) {
        reply_int(c->reply, killed);
    } else if (killed == 0) {
        reply_error(c->reply, "ERR No such client");
    } else {
        reply_ok(c->reply);
    }
    if (kill_me) {
        c->conn->close_after_reply = true;
    }
}

/* --- CLIENT -----------------------------------------------------------------
 */

/* Redis's rule, so that CLIENT LIST stays splittable on spaces: printable
 * ASCII without spaces; the empty name removes the name. */
static void client_setname(struct cmd_ctx *c)
{
    const char *name = c->argv[2];
    size_t len = c->argvlen[2];
    for (size_t i = 0; i < len; i++) {
        if (name[i] < '!' || name[i] > '~') {
            reply_error(c->reply, "ERR Client names cannot contain spaces, "
                                  "newlines or special characters.");
            return;
        }
    }
    free(c->conn->name);
    c->conn->name = len > 0 ? xstrdup(name) : NULL;
    reply_ok(c->reply);
}

/* CLIENT UNBLOCK id [TIMEOUT|ERROR]: no command blocks in redis-raft, so
 * no client is ever unblocked. */
static void client_unblock(struct cmd_ctx *c)
{
    long long id;
    if (c->argc == 4 && !arg_is(c->argv[3], c->argvlen[3], "timeout") &&
        !arg_is(c->argv[3], c->argvlen[3], "error")) {
        reply_error(c->reply,
                    "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR");
    } else if (!num_parse_ll(c->argv[2], c->argvlen[2], &id)) {
        reply_error(c->reply, ERR_NOT_INT);
    } else {
        reply_int(c->reply, 0);
    }
}

static const char *const client_help[] = {
    "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GETREDIR",
    "    Return the client ID we are redirecting to when tracking is enabled.",
    "GETNAME",
    "    Return the name of the current connection.",
    "ID",
    "    Return the ID of the current connection.",
    "INFO",
    "    Return information about the current client connection.",
    "KILL <ip:port>",
    "    Kill connection made from <ip:port>.",
    "KILL <option> <value> [<option> <value> [...]]",
    "    Kill connections. Options are:",
    "    * ADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made from the specified address",
    "    * LADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made to specified local address",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Kill connections by type.",
    "    * USER <username>",
    "      Kill connections authenticated by <username>.",
    "    * SKIPME (YES|NO)",
    "      Skip killing current connection (default: yes).",
    "LIST [options ...]",
    "    Return information about client connections. Options:",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Return clients of specified type.",
    "SETNAME <name>",
    "    Assign the name <name> to the current connection.",
    "UNBLOCK <clientid> [TIMEOUT|ERROR]",
    "    Unblock the specified blocked client.",
    "NO-EVICT (ON|OFF)",
    "    Protect current client connection from eviction.",
    "HELP",
    "    Prints this help.",
};

/* Subcommands with their arity as redis-server 7.0's table has them. */
static const struct {
    const char *name;
    int arity;
} client_subs[] = {
    {"id", 2},       {"info", 2},    {"list", -2},    {"kill", -3},
    {"setname", 3},  {"getname", 2}, {"getredir", 2}, {"unblock", -3},
    {"no-evict", 3}, {"help", 2},
};

void cmd_client(struct cmd_ctx *c)
{
    const char *sub = c->argv[1];
    size_t sublen = c->argvlen[1];
    size_t k, nsubs = sizeof client_subs / sizeof client_subs[0];
    for (k = 0; k < nsubs && !arg_is(sub, sublen, client_subs[k].name); k++) {
    }
    if (k == nsubs) {
        reply_errorf(c->reply,
                     "ERR unknown subcommand '%.128s'. Try CLIENT HELP.", sub);
        return;
    }
    int arity = client_subs[k].arity;
    if (arity > 0 ? c->argc != arity : c->argc < -arity) {
        reply_subcommand_arity_error(c->reply, "client", sub, sublen);
        return;
    }
    /* CLIENT LIST shows the caller's own command as "client|list". */
    snprintf(c->conn->last_cmd, sizeof c->conn->last_cmd, "client|%s",
             client_subs[k].name);
    const char *name = client_subs[k].name;
    if (strcmp(name, "id") == 0) {
        reply_int(c->reply, (long long)c->conn->id);
    } else if (strcmp(name, "info") == 0) {
        struct buf b;
        buf_init(&b);
        client_info(&b, c->conn, server_time_ms());
        buf_append(&b, "\n", 1);
        reply_verbatim(c->reply, b.data, b.len, c->resp);
        buf_free(&b);
    } else if (strcmp(name, "list") == 0) {
        client_list(c);
    } else if (strcmp(name, "kill") == 0) {
        client_kill(c);
    } else if (strcmp(name, "setname") == 0) {
        client_setname(c);
    } else if (strcmp(name, "getname") == 0) {
        if (c->conn->name != NULL) {
            reply_bulk_str(c->reply, c->conn->name);
        } else {
            reply_nil(c->reply, c->resp);
        }
    } else if (strcmp(name, "getredir") == 0) {
        reply_int(c->reply, -1); /* no client tracking */
    } else if (strcmp(name, "unblock") == 0) {
        if (c->argc > 4) {
            reply_errorf(c->reply,
                         "ERR unknown subcommand or wrong number of arguments "
                         "for '%.128s'. Try CLIENT HELP.",
                         sub);
        } else {
            client_unblock(c);
        }
    } else if (strcmp(name, "no-evict") == 0) {
        /* Nothing is evicted in redis-raft: accepted, not recorded. */
        if (arg_is(c->argv[2], c->argvlen[2], "on") ||
            arg_is(c->argv[2], c->argvlen[2], "off")) {
            reply_ok(c->reply);
        } else {
            reply_error(c->reply, ERR_SYNTAX);
        }
    } else {
        size_t n = sizeof client_help / sizeof client_help[0];
        reply_array(c->reply, (long long)n);
        for (size_t i = 0; i < n; i++) {
            reply_status(c->reply, client_help[i]);
        }
    }
}
