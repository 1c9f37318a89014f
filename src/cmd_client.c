/* cmd_client: connection and server commands. SCAFFOLD: handlers not written
 * yet. */
#include "command.h"
#include "reply.h"

void cmd_time(struct cmd_ctx *c)
{
    reply_error(c->reply, "ERR not implemented yet");
}

void cmd_client(struct cmd_ctx *c)
{
    reply_error(c->reply, "ERR not implemented yet");
}

void cmd_hello(struct cmd_ctx *c)
{
    reply_error(c->reply, "ERR not implemented yet");
}

void cmd_reset(struct cmd_ctx *c)
{
    reply_error(c->reply, "ERR not implemented yet");
}
