/* server: loop, listener, lifecycle (see server.h). */
#include "server.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "command.h"
#include "conn.h"
#include "mem.h"
#include "node.h"
#include "persist.h"
#include "store.h"

uint64_t server_time_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void server_set_role(struct server *s, bool leader)
{
    s->log.role = leader ? 'M' : 'S';
}

static void on_kick(uv_idle_t *h)
{
    (void)h; /* only keeps poll from blocking; on_check does the work */
}

void server_kick(struct server *s)
{
    if (!s->closing && !uv_is_active((uv_handle_t *)&s->kick)) {
        uv_idle_start(&s->kick, on_kick);
    }
}

static void on_connection(uv_stream_t *listener, int status)
{
    struct server *s = listener->data;
    if (status < 0 || s->shutting_down) {
        return;
    }
    conn_accept(s);
}

/* End of every loop iteration: let paused connections go on, propose the
 * tick's batch, note raft state changes. */
static void on_check(uv_check_t *h)
{
    struct server *s = h->data;
    if (s->closing) {
        return;
    }
    node_poll(s->node);
    cluster_tick(&s->cluster);
    persist_tick(&s->persist);
    conn_flush_pending(s);
    batcher_flush(&s->batcher);
    uv_idle_stop(&s->kick);
    conn_resume_pending(s);
    batcher_flush(&s->batcher);
}

static void on_signal(uv_signal_t *h, int signum)
{
    struct server *s = h->data;
    log_write(&s->log, LOG_WARNING, "Received %s, shutting down",
              signum == SIGINT ? "SIGINT" : "SIGTERM");
    server_shutdown(s, 0);
}

static int listen_clients(struct server *s)
{
    struct sockaddr_storage addr;
    int rv =
        uv_ip4_addr(s->cfg.bind, (int)s->cfg.port, (struct sockaddr_in *)&addr);
    if (rv != 0) {
        rv = uv_ip6_addr(s->cfg.bind, (int)s->cfg.port,
                         (struct sockaddr_in6 *)&addr);
    }
    if (rv != 0) {
        log_write(&s->log, LOG_WARNING, "Invalid bind address %s", s->cfg.bind);
        return -1;
    }
    uv_tcp_init(&s->loop, &s->listener);
    s->listener.data = s;
    rv = uv_tcp_bind(&s->listener, (struct sockaddr *)&addr, 0);
    if (rv == 0) {
        rv = uv_listen((uv_stream_t *)&s->listener, 511, on_connection);
    }
    if (rv != 0) {
        log_write(&s->log, LOG_WARNING, "Could not listen on %s:%lld: %s",
                  s->cfg.bind, s->cfg.port, uv_strerror(rv));
        return -1;
    }
    return 0;
}

static void on_start_failed(struct server *s)
{
    (void)s; /* node_close freed the node; server_init cleans up the rest */
}

int server_init(struct server *s, struct config *cfg)
{
    memset(s, 0, sizeof *s);
    s->cfg = *cfg;
    memset(cfg, 0, sizeof *cfg);
    s->start_ms = server_time_ms();
    if (log_open(&s->log, (int)s->cfg.loglevel, s->cfg.logfile) != 0) {
        fprintf(stderr, "redis-raft: can't open log file %s\n", s->cfg.logfile);
        return -1;
    }
    signal(SIGPIPE, SIG_IGN);
    uv_loop_init(&s->loop);
    s->store = store_new();
    size_t ncommands;
    command_table(&ncommands);
    s->cmdstats = xcalloc(ncommands, sizeof *s->cmdstats);
    log_write(&s->log, LOG_NOTICE, "redis-raft starting: pid %d",
              (int)s->log.pid);
    log_write(&s->log, LOG_NOTICE,
              "Configuration: bind=%s port=%lld raft-port=%lld node-id=%lld "
              "dir=%s loglevel=%s election-timeout=%lld "
              "heartbeat-interval=%lld maxclients=%lld "
              "snapshot-threshold=%lld snapshot-trailing=%lld",
              s->cfg.bind, s->cfg.port, s->cfg.raft_port, s->cfg.node_id,
              s->cfg.dir, log_level_name((int)s->cfg.loglevel),
              s->cfg.election_timeout, s->cfg.heartbeat_interval,
              s->cfg.maxclients, s->cfg.snapshot_threshold,
              s->cfg.snapshot_trailing);
    batcher_init(&s->batcher, s);
    pubsub_init(&s->pubsub);
    cluster_init(&s->cluster, s);
    persist_init(&s->persist, s);
    member_init(&s->member, s);
    /* The commit log is open before raft starts: a snapshot loaded at
     * start may already need a comment in it. */
    if ((s->cfg.commit_log[0] != '\0' &&
         commitlog_open(&s->commitlog, s->cfg.commit_log, &s->log) != 0) ||
        node_start(s, &s->node) != 0) {
        /* Release everything so that the exit is clean: raft first when it
         * was set up (raft_start failed, e.g. on a refused snapshot). */
        if (s->node != NULL) {
            node_close(s->node, on_start_failed);
            uv_run(&s->loop, UV_RUN_DEFAULT);
            s->node = NULL;
        }
        batcher_close(&s->batcher);
        cluster_close(&s->cluster);
        pubsub_close(&s->pubsub);
        commitlog_close(&s->commitlog);
        uv_run(&s->loop, UV_RUN_DEFAULT);
        uv_loop_close(&s->loop);
        store_free(s->store);
        free(s->cmdstats);
        log_close(&s->log);
        config_free(&s->cfg);
        return -1;
    }
    if (listen_clients(s) != 0) {
        return -1;
    }
    uv_idle_init(&s->loop, &s->kick);
    uv_check_init(&s->loop, &s->check);
    s->check.data = s;
    uv_check_start(&s->check, on_check);
    uv_signal_init(&s->loop, &s->sig_term);
    s->sig_term.data = s;
    uv_signal_start(&s->sig_term, on_signal, SIGTERM);
    uv_signal_init(&s->loop, &s->sig_int);
    s->sig_int.data = s;
    uv_signal_start(&s->sig_int, on_signal, SIGINT);
    expire_init(&s->expirer, s);
    member_start(&s->member);
    log_write(&s->log, LOG_NOTICE,
              "Ready to accept connections on %s:%lld (raft port %lld)",
              s->cfg.bind, s->cfg.port, s->cfg.raft_port);
    return 0;
}

static void on_node_closed(struct server *s)
{
    uv_close((uv_handle_t *)&s->check, NULL);
    uv_close((uv_handle_t *)&s->kick, NULL);
    uv_close((uv_handle_t *)&s->sig_term, NULL);
    uv_close((uv_handle_t *)&s->sig_int, NULL);
    expire_close(&s->expirer);
    batcher_close(&s->batcher);
    cluster_close(&s->cluster);
    pubsub_close(&s->pubsub);
}

static void shutdown_now(struct server *s)
{
    if (s->closing) {
        return;
    }
    s->closing = true;
    batcher_fail_open(&s->batcher, "TIMEOUT server is shutting down");
    while (s->conns != NULL) {
        conn_close(s->conns);
    }
    persist_close(&s->persist);
    member_close(&s->member);
    node_close(s->node, on_node_closed);
}

static void on_transferred(void *arg, bool ok)
{
    struct server *s = arg;
    (void)ok; /* logged by node; shut down either way */
    shutdown_now(s);
}

void server_shutdown(struct server *s, int code)
{
    if (s->shutting_down) {
        return;
    }
    s->shutting_down = true;
    s->exit_code = code;
    uv_close((uv_handle_t *)&s->listener, NULL);
    /* A leader hands leadership over first, so the cluster does not wait
     * an election timeout to notice it is gone. */
    if (node_is_leader(s->node) && node_has_other_voters(s->node) &&
        node_transfer(s->node, 0, on_transferred, s) == 0) {
        log_write(&s->log, LOG_NOTICE,
                  "Transferring leadership before shutting down");
        return;
    }
    shutdown_now(s);
}

int server_run(struct server *s)
{
    uv_run(&s->loop, UV_RUN_DEFAULT);
    log_write(&s->log, LOG_NOTICE,
              "redis-raft is now ready to exit, bye bye...");
#ifdef __SANITIZE_ADDRESS__
    /* Freed so that the leak checker sees a clean exit; otherwise the
     * process exit releases it at once (freeing millions of keys one by
     * one would add seconds to every restart). */
    store_free(s->store);
#endif
    s->store = NULL;
    pubsub_close(&s->pubsub); /* every connection is gone by now */
    /* Raft is closed: nothing applies any more. */
    commitlog_close(&s->commitlog);
    free(s->cmdstats);
    s->cmdstats = NULL;
    int rv = uv_loop_close(&s->loop);
    if (rv != 0) {
        log_write(&s->log, LOG_WARNING, "Event loop closed with open handles");
    }
    log_close(&s->log);
    config_free(&s->cfg);
    return s->exit_code;
}
