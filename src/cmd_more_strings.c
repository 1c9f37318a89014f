/* cmd_more_strings: more string commands. SCAFFOLD: handlers not written yet.
 */
#include "command.h"
#include "reply.h"

void cmd_setex(struct cmd_ctx *c)
{
    reply_error(c->reply, "ERR not implemented yet");
}

void cmd_psetex(struct cmd_ctx *c)
{
    reply_error(c->reply, "ERR not implemented yet");
}

void cmd_getex(struct cmd_ctx *c)
{
    reply_error(c->reply, "ERR not implemented yet");
}

void cmd_incrbyfloat(struct cmd_ctx *c)
{
    reply_error(c->reply, "ERR not implemented yet");
}

void cmd_getrange(struct cmd_ctx *c)
{
    reply_error(c->reply, "ERR not implemented yet");
}

void cmd_setrange(struct cmd_ctx *c)
{
    reply_error(c->reply, "ERR not implemented yet");
}

void cmd_msetnx(struct cmd_ctx *c)
{
    reply_error(c->reply, "ERR not implemented yet");
}
