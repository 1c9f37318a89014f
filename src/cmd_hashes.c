/* cmd_hashes: hash commands (HSET, HGET, HGETALL...). SCAFFOLD: handlers not
 * written yet. */
#include "command.h"
#include "reply.h"

void cmd_hset(struct cmd_ctx *c)
{
    reply_error(c->reply, "ERR not implemented yet");
}

void cmd_hmset(struct cmd_ctx *c)
{
    reply_error(c->reply, "ERR not implemented yet");
}

void cmd_hget(struct cmd_ctx *c)
{
    reply_error(c->reply, "ERR not implemented yet");
}

void cmd_hmget(struct cmd_ctx *c)
{
    reply_error(c->reply, "ERR not implemented yet");
}

void cmd_hdel(struct cmd_ctx *c)
{
    reply_error(c->reply, "ERR not implemented yet");
}

void cmd_hexists(struct cmd_ctx *c)
{
    reply_error(c->reply, "ERR not implemented yet");
}

void cmd_hlen(struct cmd_ctx *c)
{
    reply_error(c->reply, "ERR not implemented yet");
}

void cmd_hgetall(struct cmd_ctx *c)
{
    reply_error(c->reply, "ERR not implemented yet");
}

void cmd_hkeys(struct cmd_ctx *c)
{
    reply_error(c->reply, "ERR not implemented yet");
}

void cmd_hvals(struct cmd_ctx *c)
{
    reply_error(c->reply, "ERR not implemented yet");
}

void cmd_hincrby(struct cmd_ctx *c)
{
    reply_error(c->reply, "ERR not implemented yet");
}

void cmd_hincrbyfloat(struct cmd_ctx *c)
{
    reply_error(c->reply, "ERR not implemented yet");
}

void cmd_hsetnx(struct cmd_ctx *c)
{
    reply_error(c->reply, "ERR not implemented yet");
}

void cmd_hscan(struct cmd_ctx *c)
{
    reply_error(c->reply, "ERR not implemented yet");
}

void cmd_hstrlen(struct cmd_ctx *c)
{
    reply_error(c->reply, "ERR not implemented yet");
}

void cmd_hrandfield(struct cmd_ctx *c)
{
    reply_error(c->reply, "ERR not implemented yet");
}
