/* cmd_conn: the connection's protocol state: HELLO and RESET. */
#include <stdlib.h>
#include <string.h>

#include "command.h"
#include "conn.h"
#include "multi.h"
#include "node.h"
#include "num.h"
#include "pubsub.h"
#include "reply.h"
#include "server.h"

static void map_str(struct buf *b, const char *k, const char *v)
{
    reply_bulk_str(b, k);
    reply_bulk_str(b, v);
}

/* HELLO [protover [AUTH username password] [SETNAME clientname]] */
void cmd_hello(struct cmd_ctx *c)
{
    long long ver = 0;
    int i = 1;
    if (c->argc >= 2) {
        if (!num_parse_ll(c->argv[1], c->argvlen[1], &ver)) {
            reply_error(c->reply, "ERR Protocol version is not an integer or "
                                  "out of range");
            return;
        }
        i = 2;
        if (ver < 2 || ver > 3) {
            reply_error(c->reply, "NOPROTO unsupported protocol version");
            return;
        }
    }
    const char *name = NULL;
    size_t namelen = 0;
    for (; i < c->argc; i++) {
        int left = c->argc - i - 1;
        if (arg_is(c->argv[i], c->argvlen[i], "auth") && left >= 2) {
            /* No users but "default", and it has no password (nopass). */
            if (!arg_is(c->argv[i + 1], c->argvlen[i + 1], "default")) {
                reply_error(c->reply, "WRONGPASS invalid username-password "
                                      "pair or user is disabled.");
                return;
            }
            i += 2;
        } else if (arg_is(c->argv[i], c->argvlen[i], "setname") && left >= 1) {
            name = c->argv[++i];
            namelen = c->argvlen[i];
            for (size_t k = 0; k < namelen; k++) {
                if (name[k] < '!' || name[k] > '~') {
                    reply_error(c->reply, "ERR Client names cannot contain "
                                          "spaces, newlines or special "
                                          "characters.");
                    return;
                }
            }
        } else {
            reply_errorf(c->reply, "ERR Syntax error in HELLO option '%.128s'",
                         c->argv[i]);
            return;
        }
    }
    struct conn *conn = c->conn;
    if (ver != 0) {
        conn->resp = (int)ver;
    }
    if (name != NULL) {
        free(conn->name);
        conn->name = namelen ? strndup(name, namelen) : NULL;
    }
    int resp = conn->resp;
    bool leader = c->srv->node != NULL && node_is_leader(c->srv->node);
    reply_map(c->reply, 7, resp);
    map_str(c->reply, "server", "redis");
    map_str(c->reply, "version", REDIS_COMPAT_VERSION);
    reply_bulk_str(c->reply, "proto");
    reply_int(c->reply, resp);
    reply_bulk_str(c->reply, "id");
    reply_int(c->reply, (long long)conn->id);
    map_str(c->reply, "mode", "cluster");
    map_str(c->reply, "role", leader ? "master" : "replica");
    reply_bulk_str(c->reply, "modules");
    reply_array(c->reply, 0);
}

/* RESET: back to a new connection's state. */
void cmd_reset(struct cmd_ctx *c)
{
    struct conn *conn = c->conn;
    multi_discard(conn);
    pubsub_forget(&c->srv->pubsub, conn);
    conn->resp = 2;
    conn->readonly = false;
    free(conn->name);
    conn->name = NULL;
    reply_status(c->reply, "RESET");
}
