/* cmd_pubsub: SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE, PUBLISH,
 * PUBSUB (see pubsub.h for how messages cross nodes). */
#include "command.h"
#include "conn.h"
#include "dict.h"
#include "pubsub.h"
#include "reply.h"
#include "server.h"

/* [kind, name, count] as a push message (an array in RESP2). */
static void confirm(struct cmd_ctx *c, const char *kind, const char *name,
                    size_t len)
{
    reply_push(c->reply, 3, c->resp);
    reply_bulk_str(c->reply, kind);
    if (name != NULL) {
        reply_bulk(c->reply, name, len);
    } else {
        reply_nil(c->reply, c->resp);
    }
    reply_int(c->reply, (long long)pubsub_count(c->conn));
}

static void subscribe(struct cmd_ctx *c, bool pattern)
{
    for (int i = 1; i < c->argc; i++) {
        pubsub_subscribe(&c->srv->pubsub, c->conn, pattern, c->argv[i],
                         c->argvlen[i]);
        confirm(c, pattern ? "psubscribe" : "subscribe", c->argv[i],
                c->argvlen[i]);
    }
}

static void unsubscribe(struct cmd_ctx *c, bool pattern)
{
    const char *kind = pattern ? "punsubscribe" : "unsubscribe";
    struct pubsub *ps = &c->srv->pubsub;
    if (c->argc > 1) {
        for (int i = 1; i < c->argc; i++) {
            pubsub_unsubscribe(ps, c->conn, pattern, c->argv[i], c->argvlen[i]);
            confirm(c, kind, c->argv[i], c->argvlen[i]);
        }
        return;
    }
    /* Everything of this kind: one confirmation per name, or one with a
     * nil name when there was nothing. */
    struct dict *mine = pattern ? c->conn->patterns : c->conn->channels;
    if (mine == NULL || dict_size(mine) == 0) {
        confirm(c, kind, NULL, 0);
        return;
    }
    while (mine != NULL && dict_size(mine) > 0) {
        struct dict_entry *e = dict_random(mine, 0);
        struct buf name;
        buf_init(&name);
        buf_append(&name, e->key, e->klen);
        pubsub_unsubscribe(ps, c->conn, pattern, name.data, name.len);
        confirm(c, kind, name.data, name.len);
        buf_free(&name);
    }
}

void cmd_subscribe(struct cmd_ctx *c)
{
    subscribe(c, false);
}

void cmd_psubscribe(struct cmd_ctx *c)
{
    subscribe(c, true);
}

void cmd_unsubscribe(struct cmd_ctx *c)
{
    unsubscribe(c, false);
}

void cmd_punsubscribe(struct cmd_ctx *c)
{
    unsubscribe(c, true);
}

/* PUBLISH channel message: applied on every node (a write without keys);
 * delivery only in live apply (srv set), never when replaying history. */
void cmd_publish(struct cmd_ctx *c)
{
    long long n = 0;
    if (c->srv != NULL) {
        n = pubsub_publish(&c->srv->pubsub, c->argv[1], c->argvlen[1],
                           c->argv[2], c->argvlen[2], c->conn, c->reply);
        c->srv->stats.pubsub_messages += (uint64_t)n;
    }
    reply_int(c->reply, n);
}

void cmd_pubsub(struct cmd_ctx *c)
{
    struct pubsub *ps = &c->srv->pubsub;
    const char *sub = c->argv[1];
    size_t sublen = c->argvlen[1];
    if (arg_is(sub, sublen, "channels") && c->argc <= 3) {
        pubsub_channels(ps, c->argc == 3 ? c->argv[2] : NULL,
                        c->argc == 3 ? c->argvlen[2] : 0, c->argc == 2,
                        c->reply);
    } else if (arg_is(sub, sublen, "numsub")) {
        reply_array(c->reply, 2 * (long long)(c->argc - 2));
        for (int i = 2; i < c->argc; i++) {
            reply_bulk(c->reply, c->argv[i], c->argvlen[i]);
            reply_int(c->reply, pubsub_numsub(ps, c->argv[i], c->argvlen[i]));
        }
    } else if (arg_is(sub, sublen, "numpat") && c->argc == 2) {
        reply_int(c->reply, pubsub_numpat(ps));
    } else if (arg_is(sub, sublen, "shardchannels") && c->argc <= 3) {
        reply_array(c->reply, 0);
    } else if (arg_is(sub, sublen, "shardnumsub")) {
        reply_array(c->reply, 2 * (long long)(c->argc - 2));
        for (int i = 2; i < c->argc; i++) {
            reply_bulk(c->reply, c->argv[i], c->argvlen[i]);
            reply_int(c->reply, 0);
        }
    } else if (arg_is(sub, sublen, "help") && c->argc == 2) {
        static const char *help[] = {
            "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "CHANNELS [<pattern>]",
            "    Return the currently active channels matching a <pattern> "
            "(default: '*').",
            "NUMPAT",
            "    Return number of subscriptions to patterns.",
            "NUMSUB [<channel> ...]",
            "    Return the number of subscribers for the specified channels, "
            "excluding",
            "    pattern subscriptions(default: no channels).",
            "SHARDCHANNELS [<pattern>]",
            "    Return the currently active shard level channels matching a "
            "<pattern> (default: '*').",
            "SHARDNUMSUB [<shardchannel> ...]",
            "    Return the number of subscribers for the specified shard "
            "level channel(s)",
            "HELP",
            "    Prints this help.",
        };
        size_t n = sizeof help / sizeof help[0];
        reply_array(c->reply, (long long)n);
        for (size_t i = 0; i < n; i++) {
            reply_status(c->reply, help[i]);
        }
    } else if (arg_is(sub, sublen, "channels") ||
               arg_is(sub, sublen, "shardchannels")) {
        reply_errorf(c->reply,
                     "ERR unknown subcommand or wrong number of arguments for "
                     "'%.128s'. Try PUBSUB HELP.",
                     sub);
    } else if (arg_is(sub, sublen, "numpat") || arg_is(sub, sublen, "help")) {
        reply_subcommand_arity_error(c->reply, "pubsub", sub, sublen);
    } else {
        reply_errorf(c->reply,
                     "ERR unknown subcommand '%.128s'. Try PUBSUB HELP.", sub);
    }
}
