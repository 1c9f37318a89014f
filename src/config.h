/* config: redis-raft's configuration, table-driven.
 *
 * One table lists every key with its type, bounds, default and whether
 * CONFIG SET may change it at run time. Values come from the defaults, then
 * the config file (redis.conf syntax: "key value" lines, '#' comments,
 * Redis's quoting), then `--key value` arguments; later ones win. Strings
 * in a struct config are owned by it (config_free). */
#ifndef CONFIG_H
#define CONFIG_H

#include <stdbool.h>
#include <stddef.h>

struct config {
    char *config_file; /* absolute path, or NULL */
    char *bind;
    long long port;
    long long raft_port; /* 0: port + 10000 */
    long long node_id;
    char *dir; /* "": redis-raft-<port> in the working directory */
    long long loglevel;
    char *logfile;
    long long election_timeout;
    long long heartbeat_interval;
    long long leader_wait_timeout; /* 0: twice the election timeout */
    long long maxclients;
    long long proto_max_bulk_len;
    long long client_query_buffer_limit;
    long long snapshot_threshold;
    long long snapshot_trailing;
    long long max_inflight_entries;
    long long max_inflight_batches;
    char *cluster_nodes;      /* HOST:PORT[@RAFTPORT],... as given */
    long long follower_proxy; /* bool */
    char *join;               /* HOST:PORT of a member to join through, or "" */
    char *join_as;      /* "voter" or "standby" (checked by config_finish) */
    char *commit_log;   /* audit file of committed commands, or "" */
    bool node_id_given; /* node-id was set by the user (config_finish) */
    /* Derived by config_finish from cluster_nodes: each seed's address in
     * the canonical HOST:PORT@RAFTPORT form; seed i has node id i + 1. */
    char **seeds;
    int nseeds;
    unsigned long long explicit_keys; /* bit per table entry set by user */
};

void config_init(struct config *c);
void config_free(struct config *c);

/* Parse the command line (argv[0] excluded): an optional config file path
 * first, then --key value pairs. On error writes a message naming the key
 * to err and returns -1. */
int config_parse_argv(struct config *c, int argc, char **argv, char *err,
                      size_t errlen);
/* Set one key from its text value, as a file line or --option would
 * (runtime: refuse keys CONFIG SET may not change). On error writes a
 * message naming the key to err and returns -1. */
int config_set(struct config *c, const char *name, const char *value,
               int runtime, char *err, size_t errlen);
/* CONFIG SET with redis-server 7.0's semantics: argv holds n name/value
 * pairs (2n NUL-terminated strings, lens their lengths). Either every pair
 * is set, or none is and err holds the whole error reply text ("ERR ...")
 * for the first bad pair, and it returns -1. */
int config_set_many(struct config *c, int n, const char *const *argv,
                    const size_t *lens, char *err, size_t errlen);
/* Fill derived values (raft-port, dir, leader-wait-timeout, seeds; a
 * node listed in cluster-nodes takes its port and raft port from its entry
 * unless they were given). Returns 0, or -1 with a message in err. */
int config_finish(struct config *c, char *err, size_t errlen);

/* A node address "HOST:PORT[@RAFTPORT]" (s, len bytes) into its parts: the
 * raft port defaults to PORT + 10000; ports are decimal integers (as Redis
 * parses them) in 1..65535; host holds HOST (fewer than hostlen bytes).
 * Returns 0, or -1 when malformed. cluster-nodes and RAFT.NODE ADD use it. */
int config_parse_node_addr(const char *s, size_t len, char *host,
                           size_t hostlen, long long *port,
                           long long *raft_port);

/* CONFIG GET: visit once every key one of the n patterns matches (glob,
 * case-insensitive), with its current value as text. A pattern without
 * glob characters names one key, reported as the pattern spells it, as
 * redis-server 7.0 does. */
typedef void (*config_visit_fn)(void *arg, const char *name, size_t len,
                                const char *value);
void config_get(const struct config *c, int n, const char *const *patterns,
                const size_t *lens, config_visit_fn fn, void *arg);

#endif
