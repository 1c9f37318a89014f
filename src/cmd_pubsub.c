/* cmd_pubsub: pub/sub. SCAFFOLD: handlers not written yet. */
#include "command.h"
#include "reply.h"

void cmd_subscribe(struct cmd_ctx *c)
{
    reply_error(c->reply, "ERR not implemented yet");
}

void cmd_unsubscribe(struct cmd_ctx *c)
{
    reply_error(c->reply, "ERR not implemented yet");
}

void cmd_psubscribe(struct cmd_ctx *c)
{
    reply_error(c->reply, "ERR not implemented yet");
}

void cmd_punsubscribe(struct cmd_ctx *c)
{
    reply_error(c->reply, "ERR not implemented yet");
}

void cmd_publish(struct cmd_ctx *c)
{
    reply_error(c->reply, "ERR not implemented yet");
}

void cmd_pubsub(struct cmd_ctx *c)
{
    reply_error(c->reply, "ERR not implemented yet");
}
