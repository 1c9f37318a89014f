/* cmd_keys: commands on keys whatever their type (DEL, EXISTS, TYPE...). */
#include "command.h"
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

void cmd_type(struct cmd_ctx *c)
{
    struct value *v = store_get(c->store, c->argv[1], c->argvlen[1]);
    if (v == NULL) {
        reply_status(c->reply, "none");
    } else if (v->type == VALUE_STRING) {
        reply_status(c->reply, "string");
    } else {
        reply_status(c->reply, "list");
    }
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
