/* member: joining, the member file, removal detection (see member.h). */
#include "member.h"

#include <errno.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mem.h"
#include "node.h"
#include "num.h"
#include "rpc.h"
#include "server.h"

#define MEMBER_TICK_MS     200
#define MEMBER_RPC_TIMEOUT 10000

static const char *state_names[] = {"seed", "joining", "joined", "removed"};

void member_init(struct member *m, struct server *srv)
{
    memset(m, 0, sizeof *m);
    m->srv = srv;
    m->state = MEMBER_SEED;
    m->target_role = NODE_VOTER;
}

/* --- <dir>/member ---------------------------------------------------------
 * "id N", "state joining|joined|removed", "role voter|standby": one per
 * line. Written to a temporary file, fsync'd and renamed over the old one,
 * so a crash leaves the old or the new file whole. */

static void file_path(const struct member *m, char *out, size_t n,
                      const char *suffix)
{
    snprintf(out, n, "%s/member%s", m->srv->cfg.dir, suffix);
}

/* Returns 1 when the file exists and was read, 0 when absent, -1 when
 * unreadable or malformed (logged). */
static int file_read(struct member *m)
{
    char path[4096];
    file_path(m, path, sizeof path, "");
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        if (errno == ENOENT) {
            return 0;
        }
        log_write(&m->srv->log, LOG_WARNING, "Can't read %s: %s", path,
                  strerror(errno));
        return -1;
    }
    char line[256];
    bool have_state = false;
    while (fgets(line, sizeof line, f) != NULL) {
        char key[32], val[64];
        if (sscanf(line, "%31s %63s", key, val) != 2) {
            continue;
        }
        if (strcmp(key, "id") == 0) {
            m->id = strtoull(val, NULL, 10);
        } else if (strcmp(key, "since") == 0) {
            m->member_index = strtoull(val, NULL, 10);
        } else if (strcmp(key, "role") == 0) {
            m->target_role =
                strcmp(val, "standby") == 0 ? NODE_STANDBY : NODE_VOTER;
        } else if (strcmp(key, "state") == 0) {
            for (int i = 0; i <= MEMBER_REMOVED; i++) {
                if (strcmp(val, state_names[i]) == 0) {
                    m->state = (enum member_state)i;
                    have_state = true;
                }
            }
        }
    }
    fclose(f);
    if (m->id == 0 || !have_state) {
        log_write(&m->srv->log, LOG_WARNING,
                  "%s is malformed (it needs an id and a state)", path);
        return -1;
    }
    return 1;
}

static int file_write(struct member *m)
{
    char path[4096], tmp[4096];
    file_path(m, path, sizeof path, "");
    file_path(m, tmp, sizeof tmp, ".tmp");
    char text[256];
    int len = snprintf(
        text, sizeof text, "id %llu\nstate %s\nrole %s\nsince %llu\n",
        (unsigned long long)m->id, state_names[m->state],
        node_role_name(m->target_role), (unsigned long long)m->member_index);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, text, (size_t)len) != len || fsync(fd) != 0 ||
        close(fd) != 0 || rename(tmp, path) != 0) {
        log_write(&m->srv->log, LOG_WARNING, "Can't write %s: %s", path,
                  strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
        return -1;
    }
    int dfd = open(m->srv->cfg.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return 0;
}

static bool has_raft_state(const struct member *m)
{
    char path[4096];
    struct stat st;
    for (int i = 1; i <= 2; i++) {
        snprintf(path, sizeof path, "%s/metadata%d", m->srv->cfg.dir, i);
        if (stat(path, &st) == 0) {
            return true;
        }
    }
    return false;
}

/* --- Joining: the first request, before raft starts ---------------------- */

struct join_call {
    struct member *m;
    bool done;
    bool fatal;
    uint64_t id;
    char err[256];
};

static void join_cb(void *arg, const redisReply *reply, const char *err)
{
    struct join_call *j = arg;
    j->done = true;
    if (reply == NULL) {
        snprintf(j->err, sizeof j->err, "%s", err);
    } else if (reply->type == REDIS_REPLY_INTEGER && reply->integer > 0) {
        j->id = (uint64_t)reply->integer;
    } else if (reply->type == REDIS_REPLY_ERROR) {
        snprintf(j->err, sizeof j->err, "%s", reply->str);
        /* Busy, no leader, leadership moving, a timeout: try again. Any
         * other refusal (a bad or used id, a bad address) stands. */
        j->fatal = strncmp(reply->str, "CLUSTERDOWN", 11) != 0 &&
                   strncmp(reply->str, "TIMEOUT", 7) != 0 &&
                   strncmp(reply->str, "TRYAGAIN", 8) != 0 &&
                   strstr(reply->str, "in progress") == NULL &&
                   strstr(reply->str, "leadership") == NULL;
    } else {
        snprintf(j->err, sizeof j->err, "unexpected reply type %d",
                 reply->type);
    }
}

/* RAFT.NODES from the member we joined through: remember the others. */
static void peers_cb(void *arg, const redisReply *reply, const char *err)
{
    struct member *m = arg;
    (void)err;
    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY) {
        return;
    }
    for (size_t i = 0; i < reply->elements && m->npeers < 16; i++) {
        const redisReply *e = reply->element[i];
        for (size_t k = 0; e->type == REDIS_REPLY_ARRAY && k + 1 < e->elements;
             k += 2) {
            const redisReply *key = e->element[k], *val = e->element[k + 1];
            if (key->type == REDIS_REPLY_STRING &&
                strcmp(key->str, "address") == 0 &&
                val->type == REDIS_REPLY_STRING) {
                size_t len = strcspn(val->str, "@");
                if (len < sizeof m->peers[0]) {
                    snprintf(m->peers[m->npeers++], sizeof m->peers[0], "%.*s",
                             (int)len, val->str);
                }
            }
        }
    }
}

static void own_address(const struct server *srv, char *out, size_t n)
{
    snprintf(out, n, "%s:%lld@%lld", srv->cfg.bind, srv->cfg.port,
             srv->cfg.raft_port);
}

/* Ask the cluster to add us as a spare; returns our id, or 0 on a refusal
 * that retrying cannot change. Runs its own loop: nothing else of the
 * server runs yet. */
static uint64_t join_cluster(struct member *m)
{
    struct server *srv = m->srv;
    char host[256], addr[200], idbuf[24];
    int port;
    if (rpc_parse_addr(srv->cfg.join, host, sizeof host, &port) != 0) {
        log_write(&srv->log, LOG_WARNING, "Bad join address %s", srv->cfg.join);
        return 0;
    }
    own_address(srv, addr, sizeof addr);
    const char *argv[5] = {"RAFT.NODE", "ADD"};
    int argc = 2;
    if (srv->cfg.node_id_given) {
        num_format_ll(idbuf, srv->cfg.node_id);
        argv[argc++] = idbuf;
    }
    argv[argc++] = addr;
    argv[argc++] = "spare";
    log_write(&srv->log, LOG_NOTICE,
              "Joining the cluster through %s as %s (this node is %s)",
              srv->cfg.join, srv->cfg.join_as, addr);
    uv_loop_t loop;
    uv_loop_init(&loop);
    uint64_t id = 0;
    for (unsigned attempt = 1;; attempt++) {
        struct join_call j = {m, false, false, 0, ""};
        rpc_call(&loop, host, port, argc, argv, NULL, MEMBER_RPC_TIMEOUT,
                 join_cb, &j);
        uv_run(&loop, UV_RUN_DEFAULT);
        if (j.id != 0) {
            id = j.id;
            const char *nargv[1] = {"RAFT.NODES"};
            rpc_call(&loop, host, port, 1, nargv, NULL, MEMBER_RPC_TIMEOUT,
                     peers_cb, m);
            uv_run(&loop, UV_RUN_DEFAULT);
            break;
        }
        log_write(&srv->log, j.fatal ? LOG_WARNING : LOG_NOTICE,
                  "Join request %u through %s failed: %s%s", attempt,
                  srv->cfg.join, j.err, j.fatal ? "" : " (retrying)");
        if (j.fatal) {
            break;
        }
        usleep(attempt < 10 ? 200000 : 1000000);
    }
    uv_loop_close(&loop);
    return id;
}

int member_resolve(struct member *m, uint64_t *id, bool *bootstrap)
{
    struct server *srv = m->srv;
    int rv = file_read(m);
    if (rv < 0) {
        return -1;
    }
    if (rv == 1 && m->state == MEMBER_REMOVED) {
        log_write(&srv->log, LOG_WARNING,
                  "This node (id %llu) was removed from the cluster: it does "
                  "not start again as a member. Its data in %s is kept; to "
                  "add it back, start it with an empty dir and --join",
                  (unsigned long long)m->id, srv->cfg.dir);
        fprintf(stderr,
                "redis-raft: node %llu was removed from the cluster; refusing "
                "to start on %s\n",
                (unsigned long long)m->id, srv->cfg.dir);
        return -1;
    }
    if (rv == 1) {
        /* Joined before: resume with the id the cluster gave us. */
        if (srv->cfg.node_id_given && (uint64_t)srv->cfg.node_id != m->id) {
            log_write(&srv->log, LOG_WARNING,
                      "node-id %lld ignored: this node joined as node %llu "
                      "(%s/member)",
                      srv->cfg.node_id, (unsigned long long)m->id,
                      srv->cfg.dir);
        }
        *id = m->id;
        *bootstrap = false;
        srv->cfg.node_id = (long long)m->id;
        log_write(&srv->log, LOG_NOTICE, "Resuming as node %llu (%s)",
                  (unsigned long long)m->id, state_names[m->state]);
        return 0;
    }
    if (srv->cfg.join[0] == '\0') {
        /* A seed, or a single node: node.c bootstraps (or resumes). Seeds
         * are in the configuration at index 1. */
        m->state = MEMBER_SEED;
        m->member_index = 1;
        return 0;
    }
    if (has_raft_state(m)) {
        log_write(&srv->log, LOG_NOTICE,
                  "join ignored: %s already holds raft state, resuming",
                  srv->cfg.dir);
        m->state = MEMBER_SEED;
        m->member_index = 1;
        return 0;
    }
    m->target_role =
        strcmp(srv->cfg.join_as, "standby") == 0 ? NODE_STANDBY : NODE_VOTER;
    uint64_t got = join_cluster(m);
    if (got == 0) {
        return -1;
    }
    m->id = got;
    m->state = MEMBER_JOINING;
    if (file_write(m) != 0) {
        return -1;
    }
    log_write(&srv->log, LOG_NOTICE,
              "Added to the cluster as node %llu (a spare for now)",
              (unsigned long long)got);
    srv->cfg.node_id = (long long)got;
    *id = got;
    *bootstrap = false;
    return 0;
}

/* --- After start: promotion and the removal watch ------------------------ */

static void request_done(struct member *m, bool ok)
{
    m->rpc = NULL;
    if (ok) {
        m->failures = 0;
        m->next_try_ms = server_time_ms() + 500;
        return;
    }
    m->failures++;
    m->next_try_ms =
        server_time_ms() + (m->failures < 5 ? 300 : 1000 + 200 * m->failures);
    if (m->failures > 25) {
        m->failures = 25;
    }
}

static void role_cb(void *arg, const redisReply *reply, const char *err)
{
    struct member *m = arg;
    bool ok = reply != NULL && reply->type == REDIS_REPLY_STATUS;
    if (!ok && (m->failures == 0 || m->failures % 10 == 0)) {
        log_write(&m->srv->log, LOG_NOTICE,
                  "Asking to become a %s failed: %s (retrying)",
                  node_role_name(m->target_role),
                  reply == NULL                      ? err
                  : reply->type == REDIS_REPLY_ERROR ? reply->str
                                                     : "unexpected reply");
    }
    request_done(m, ok);
}

static void mark_removed(struct member *m, const char *by)
{
    struct server *srv = m->srv;
    m->state = MEMBER_REMOVED;
    if (m->id == 0) {
        m->id = node_id(srv->node);
    }
    file_write(m);
    log_write(&srv->log, LOG_WARNING,
              "Removed from the cluster: node %llu is not in the cluster's "
              "configuration any more (%s says so). Exiting; the data in %s "
              "is kept, and this node refuses to start again as a member",
              (unsigned long long)m->id, by, srv->cfg.dir);
    server_shutdown(srv, 0);
}

static void status_cb(void *arg, const redisReply *reply, const char *err)
{
    struct member *m = arg;
    bool ok = reply != NULL && reply->type == REDIS_REPLY_STATUS;
    log_write(&m->srv->log, LOG_VERBOSE,
              "No leader heard from: asked %s whether node %llu is a member "
              "(since configuration %llu): %s",
              m->asked, (unsigned long long)m->id,
              (unsigned long long)m->member_index,
              reply == NULL                       ? err
              : reply->type == REDIS_REPLY_STATUS ? reply->str
              : reply->type == REDIS_REPLY_ERROR  ? reply->str
                                                  : "?");
    if (ok && strcmp(reply->str, "removed") == 0) {
        request_done(m, true);
        mark_removed(m, m->asked);
    } else {
        request_done(m, ok);
    }
}

static void ask_status(struct member *m)
{
    struct server *srv = m->srv;
    struct node_member mem[NODE_MAX_MEMBERS];
    size_t n = node_members(srv->node, mem, NODE_MAX_MEMBERS);
    /* Whom to ask: the next other member in turn, else the join address. */
    char host[256];
    int port = 0;
    for (size_t k = 0; k < n && port == 0; k++) {
        const struct node_member *x = &mem[(m->ask_next + k) % n];
        if (!x->is_self) {
            snprintf(host, sizeof host, "%s", x->host);
            port = x->port;
            m->ask_next = (unsigned)((m->ask_next + k + 1) % n);
        }
    }
    if (port == 0 &&
        (srv->cfg.join[0] == '\0' ||
         rpc_parse_addr(srv->cfg.join, host, sizeof host, &port) != 0)) {
        return;
    }
    char idbuf[24], seen[24];
    num_format_ll(idbuf, (long long)node_id(srv->node));
    num_format_ll(seen, (long long)m->member_index);
    const char *argv[4] = {"RAFT.NODE", "STATUS", idbuf, seen};
    snprintf(m->asked, sizeof m->asked, "node %s:%d", host, port);
    m->rpc = rpc_call(&srv->loop, host, port, 4, argv, NULL,
                      (uint64_t)srv->cfg.election_timeout * 4, status_cb, m);
}

static void ask_role(struct member *m)
{
    struct server *srv = m->srv;
    char host[256], addr[160];
    int port;
    uint64_t leader;
    if (!node_leader(srv->node, &leader, addr, sizeof addr)) {
        /* No leader heard of yet: the join address and the members known
         * from joining, in turn (any of them redirects to the leader). */
        unsigned k = m->peer_next++ % (m->npeers + 1);
        snprintf(addr, sizeof addr, "%s",
                 k == 0 ? srv->cfg.join : m->peers[k - 1]);
    }
    if (rpc_parse_addr(addr, host, sizeof host, &port) != 0) {
        return;
    }
    char idbuf[24];
    num_format_ll(idbuf, (long long)m->id);
    const char *role = node_role_name(m->target_role);
    const char *argv[4] = {"RAFT.NODE", "ROLE", idbuf, role};
    /* The leader answers once the node caught up and holds the role:
     * that may take a whole snapshot transfer. */
    m->rpc =
        rpc_call(&srv->loop, host, port, 4, argv, NULL, 600000, role_cb, m);
}

static void on_tick(uv_timer_t *t)
{
    struct member *m = t->data;
    struct server *srv = m->srv;
    if (srv->shutting_down || srv->node == NULL || m->state == MEMBER_REMOVED) {
        return;
    }
    uint64_t now = server_time_ms();
    int role = -1;
    bool in_config = node_self_member(srv->node, &role);
    uint64_t since = node_member_since(srv->node);
    if (since > m->member_index) {
        m->member_index = since;
    }
    if (m->state == MEMBER_JOINING && in_config && since > 0 &&
        role == m->target_role) {
        m->state = MEMBER_JOINED;
        file_write(m);
        log_write(&srv->log, LOG_NOTICE,
                  "Joined the cluster: node %llu is a %s",
                  (unsigned long long)m->id, node_role_name(role));
    }
    /* When did we last hear from a leader? */
    uint64_t leader = 0;
    char laddr[160];
    if (node_is_leader(srv->node)) {
        m->leader_seen_ms = now;
    } else if (node_leader(srv->node, &leader, laddr, sizeof laddr)) {
        struct node_member lm;
        int64_t age = -1;
        if (node_member_get(srv->node, leader, &lm)) {
            age = lm.last_contact_ms;
        }
        if (age >= 0 && now - (uint64_t)age > m->leader_seen_ms) {
            m->leader_seen_ms = now - (uint64_t)age;
        }
    }
    if (m->rpc != NULL || now < m->next_try_ms) {
        return;
    }
    if (m->state == MEMBER_JOINING) {
        ask_role(m);
        return;
    }
    /* Only a node that knows an index at or after a committed
     * configuration holding it can ask: "removed" means absent from a
     * NEWER committed configuration (a node still catching up on its own
     * joining would be told so by a leader that never saw it join). */
    uint64_t quiet = now - m->leader_seen_ms;
    if (!node_is_leader(srv->node) && m->member_index > 0 &&
        quiet > 2 * (uint64_t)srv->cfg.election_timeout) {
        ask_status(m);
        if (m->rpc == NULL) {
            request_done(m, false);
        }
    }
}

void member_start(struct member *m)
{
    struct server *srv = m->srv;
    uv_timer_init(&srv->loop, &m->timer);
    m->timer.data = m;
    m->running = true;
    m->leader_seen_ms = server_time_ms();
    uv_timer_start(&m->timer, on_tick, MEMBER_TICK_MS, MEMBER_TICK_MS);
}

void member_close(struct member *m)
{
    if (m->rpc != NULL) {
        rpc_cancel(m->rpc);
        m->rpc = NULL;
    }
    member_change_abort(m, "TIMEOUT server is shutting down");
    if (m->running) {
        uv_close((uv_handle_t *)&m->timer, NULL);
        m->running = false;
    }
}
