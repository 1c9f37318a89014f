/* cmd_multi: transactions. SCAFFOLD: handlers not written yet. */
#include "command.h"
#include "reply.h"

void cmd_multi(struct cmd_ctx *c)
{
    reply_error(c->reply, "ERR not implemented yet");
}

void cmd_exec(struct cmd_ctx *c)
{
    reply_error(c->reply, "ERR not implemented yet");
}

void cmd_discard(struct cmd_ctx *c)
{
    reply_error(c->reply, "ERR not implemented yet");
}

void cmd_watch(struct cmd_ctx *c)
{
    reply_error(c->reply, "ERR not implemented yet");
}

void cmd_unwatch(struct cmd_ctx *c)
{
    reply_error(c->reply, "ERR not implemented yet");
}
void cmd_raft_exec(struct cmd_ctx *c)
{
    reply_error(c->reply, "ERR not implemented yet");
}

void cmd_raft_watch(struct cmd_ctx *c)
{
    reply_error(c->reply, "ERR not implemented yet");
}
