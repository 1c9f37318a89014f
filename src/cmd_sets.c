/* cmd_sets: set commands (SADD, SPOP, SINTER...). SCAFFOLD: handlers not
 * written yet. */
#include "command.h"
#include "reply.h"

void cmd_sadd(struct cmd_ctx *c)
{
    reply_error(c->reply, "ERR not implemented yet");
}

void cmd_srem(struct cmd_ctx *c)
{
    reply_error(c->reply, "ERR not implemented yet");
}

void cmd_sismember(struct cmd_ctx *c)
{
    reply_error(c->reply, "ERR not implemented yet");
}

void cmd_smismember(struct cmd_ctx *c)
{
    reply_error(c->reply, "ERR not implemented yet");
}

void cmd_smembers(struct cmd_ctx *c)
{
    reply_error(c->reply, "ERR not implemented yet");
}

void cmd_scard(struct cmd_ctx *c)
{
    reply_error(c->reply, "ERR not implemented yet");
}

void cmd_spop(struct cmd_ctx *c)
{
    reply_error(c->reply, "ERR not implemented yet");
}

void cmd_srandmember(struct cmd_ctx *c)
{
    reply_error(c->reply, "ERR not implemented yet");
}

void cmd_sinter(struct cmd_ctx *c)
{
    reply_error(c->reply, "ERR not implemented yet");
}

void cmd_sunion(struct cmd_ctx *c)
{
    reply_error(c->reply, "ERR not implemented yet");
}

void cmd_sdiff(struct cmd_ctx *c)
{
    reply_error(c->reply, "ERR not implemented yet");
}

void cmd_sscan(struct cmd_ctx *c)
{
    reply_error(c->reply, "ERR not implemented yet");
}

void cmd_sinterstore(struct cmd_ctx *c)
{
    reply_error(c->reply, "ERR not implemented yet");
}

void cmd_sunionstore(struct cmd_ctx *c)
{
    reply_error(c->reply, "ERR not implemented yet");
}

void cmd_sdiffstore(struct cmd_ctx *c)
{
    reply_error(c->reply, "ERR not implemented yet");
}

void cmd_smove(struct cmd_ctx *c)
{
    reply_error(c->reply, "ERR not implemented yet");
}
