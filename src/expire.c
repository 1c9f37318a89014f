/* expire: SCAFFOLD */
#include "command.h"
#include "reply.h"

void cmd_raft_expire(struct cmd_ctx *c)
{
    reply_error(c->reply, "ERR not implemented yet");
}
