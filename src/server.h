/* server: the root object of a node: the event loop, the client listener,
 * the keyspace, the raft node and the lifecycle (start, signals, shutdown).
 *
 * One server per process, created by main and handed down to every module
 * that needs it; it owns everything else. All code runs on its one libuv
 * loop thread. */
#ifndef SERVER_H
#define SERVER_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "batch.h"
#include "cluster.h"
#include "commitlog.h"
#include "config.h"
#include "log.h"
#include "member.h"
#include "command.h"
#include "expire.h"
#include "persist.h"
#include "pubsub.h"

/* The redis-server version whose behaviour we follow (INFO, HELLO). */
#ifndef REDIS_COMPAT_VERSION
#define REDIS_COMPAT_VERSION "7.0.15"
#endif

struct store;
struct node;
struct conn;

struct server_stats {
    uint64_t connections_received;
    uint64_t connections_rejected;
    uint64_t commands_processed;
    uint64_t net_input_bytes;
    uint64_t net_output_bytes;
    uint64_t entries_applied;
    uint64_t pubsub_messages; /* messages delivered to local subscribers */
};

struct server {
    uv_loop_t loop;
    struct config cfg;
    struct log log;
    uv_tcp_t listener;
    uv_check_t check; /* end of each loop iteration: flush */
    uv_idle_t kick;   /* active while work waits for on_check */
    uv_signal_t sig_term, sig_int;
    struct store *store;
    struct node *node;
    struct batcher batcher;
    struct cluster cluster;
    struct persist persist;
    struct pubsub pubsub;
    struct expirer expirer;
    struct member member;
    /* Closed (zeroed) when commit-log is off. */
    struct commitlog commitlog;
    struct conn *conns;  /* all client connections */
    struct conn *resume; /* connections to process again */
    struct conn *flush;  /* connections with new replies to write */
    uint64_t nconns;
    uint64_t next_conn_id;
    uint64_t start_ms;
    struct server_stats stats;
    struct cmd_stat *cmdstats; /* one per command_table entry */
    bool shutting_down; /* no new connections; a leader transfers first */
    bool closing;       /* connections and raft are being closed */
    int exit_code;
};

/* Set up everything from a finished config (ownership of cfg moves to the
 * server). Returns 0, or -1 after logging why. */
int server_init(struct server *s, struct config *cfg);
/* Run the loop until shutdown; returns the process exit code. */
int server_run(struct server *s);
/* Begin an orderly shutdown (stop accepting, close raft, stop the loop). */
void server_shutdown(struct server *s, int code);
/* Wall-clock milliseconds. */
uint64_t server_time_ms(void);
/* Make sure the loop reaches its check phase without blocking in poll
 * (there are replies to write or connections to resume). */
void server_kick(struct server *s);
/* Called by the node when leadership state changes (log role char). */
void server_set_role(struct server *s, bool leader);

#endif
