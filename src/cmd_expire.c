/* cmd_expire: expiry commands (EXPIRE, TTL, PERSIST...). SCAFFOLD: handlers not
 * written yet. */
#include "command.h"
#include "reply.h"

void cmd_expire(struct cmd_ctx *c)
{
    reply_error(c->reply, "ERR not implemented yet");
}

void cmd_pexpire(struct cmd_ctx *c)
{
    reply_error(c->reply, "ERR not implemented yet");
}

void cmd_expireat(struct cmd_ctx *c)
{
    reply_error(c->reply, "ERR not implemented yet");
}

void cmd_pexpireat(struct cmd_ctx *c)
{
    reply_error(c->reply, "ERR not implemented yet");
}

void cmd_ttl(struct cmd_ctx *c)
{
    reply_error(c->reply, "ERR not implemented yet");
}

void cmd_pttl(struct cmd_ctx *c)
{
    reply_error(c->reply, "ERR not implemented yet");
}

void cmd_expiretime(struct cmd_ctx *c)
{
    reply_error(c->reply, "ERR not implemented yet");
}

void cmd_pexpiretime(struct cmd_ctx *c)
{
    reply_error(c->reply, "ERR not implemented yet");
}

void cmd_persist(struct cmd_ctx *c)
{
    reply_error(c->reply, "ERR not implemented yet");
}
