/* config: the configuration table and its parsers. */
#include "config.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <hiredis/sds.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "glob.h"
#include "log.h"
#include "mem.h"
#include "num.h"

enum config_type { CT_STRING, CT_INT, CT_BYTES, CT_LOGLEVEL, CT_BOOL };

#define CF_RUNTIME 1 /* CONFIG SET may change it */

struct config_def {
    const char *name;
    enum config_type type;
    size_t offset;
    long long min, max;
    const char *dflt;
    unsigned flags;
};

#define OFF(f) offsetof(struct config, f)

static const struct config_def defs[] = {
    {"bind", CT_STRING, OFF(bind), 0, 0, "127.0.0.1", 0},
    {"port", CT_INT, OFF(port), 1, 65535, "11000", 0},
    {"raft-port", CT_INT, OFF(raft_port), 0, 65535, "0", 0},
    {"node-id", CT_INT, OFF(node_id), 1, LLONG_MAX, "1", 0},
    {"dir", CT_STRING, OFF(dir), 0, 0, "", 0},
    {"loglevel", CT_LOGLEVEL, OFF(loglevel), 0, 3, "notice", CF_RUNTIME},
    {"logfile", CT_STRING, OFF(logfile), 0, 0, "", 0},
    {"election-timeout", CT_INT, OFF(election_timeout), 50, 600000, "500", 0},
    {"heartbeat-interval", CT_INT, OFF(heartbeat_interval), 5, 60000, "50", 0},
    {"leader-wait-timeout", CT_INT, OFF(leader_wait_timeout), 0, 3600000, "0",
     CF_RUNTIME},
    {"maxclients", CT_INT, OFF(maxclients), 1, 1000000, "10000", CF_RUNTIME},
    {"proto-max-bulk-len", CT_BYTES, OFF(proto_max_bulk_len), 1024, LLONG_MAX,
     "512mb", CF_RUNTIME},
    {"client-query-buffer-limit", CT_BYTES, OFF(client_query_buffer_limit),
     1024 * 1024, LLONG_MAX, "1gb", CF_RUNTIME},
    {"snapshot-threshold", CT_INT, OFF(snapshot_threshold), 16, UINT_MAX,
     "8192", CF_RUNTIME},
    {"snapshot-trailing", CT_INT, OFF(snapshot_trailing), 0, UINT_MAX, "4096",
     CF_RUNTIME},
    {"max-inflight-entries", CT_INT, OFF(max_inflight_entries), 1, 65536, "512",
     0},
    {"cluster-nodes", CT_STRING, OFF(cluster_nodes), 0, 0, "", 0},
    {"follower-proxy", CT_BOOL, OFF(follower_proxy), 0, 1, "yes", CF_RUNTIME},
    {"max-inflight-batches", CT_INT, OFF(max_inflight_batches), 1, 65536, "1",
     CF_RUNTIME},
    {"join", CT_STRING, OFF(join), 0, 0, "", 0},
    {"join-as", CT_STRING, OFF(join_as), 0, 0, "voter", 0},
    {"commit-log", CT_STRING, OFF(commit_log), 0, 0, "", 0},
};

#define NDEFS (sizeof defs / sizeof defs[0])

static const struct config_def *find(const char *name)
{
    for (size_t i = 0; i < NDEFS; i++) {
        if (strcasecmp(defs[i].name, name) == 0) {
            return &defs[i];
        }
    }
    return NULL;
}

/* Integer with Redis's memory units (k, kb, m, mb, g, gb) for CT_BYTES. */
static int parse_number(const char *s, int bytes, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || errno != 0) {
        return -1;
    }
    long long mul = 1;
    if (*end != '\0') {
        if (!bytes) {
            return -1;
        }
        static const struct {
            const char *unit;
            long long mul;
        } units[] = {{"k", 1000LL},
                     {"kb", 1024LL},
                     {"m", 1000LL * 1000},
                     {"mb", 1024LL * 1024},
                     {"g", 1000LL * 1000 * 1000},
                     {"gb", 1024LL * 1024 * 1024}};
        mul = 0;
        for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
            if (strcasecmp(end, units[i].unit) == 0) {
                mul = units[i].mul;
            }
        }
        if (mul == 0) {
            return -1;
        }
    }
    if (v != 0 && (v > LLONG_MAX / mul || v < LLONG_MIN / mul)) {
        return -1;
    }
    *out = v * mul;
    return 0;
}

/* Parse value into d's field of c. On error writes redis-server 7.0's
 * reason (as CONFIG SET words it, without the key's name) to err and
 * returns -1, leaving the field unchanged. */
static int set_def(struct config *c, const struct config_def *d,
                   const char *value, char *err, size_t errlen)
{
    void *field = (char *)c + d->offset;
    long long v = 0;
    switch (d->type) {
    case CT_STRING:
        free(*(char **)field);
        *(char **)field = xstrdup(value);
        return 0;
    case CT_BOOL:
        if (strcasecmp(value, "yes") == 0) {
            v = 1;
        } else if (strcasecmp(value, "no") == 0) {
            v = 0;
        } else {
            snprintf(err, errlen, "argument must be 'yes' or 'no'");
            return -1;
        }
        break;
    case CT_LOGLEVEL:
        v = log_level_parse(value);
        if (v < 0) {
            snprintf(err, errlen,
                     "argument(s) must be one of the following: debug, "
                     "verbose, notice, warning");
            return -1;
        }
        break;
    case CT_INT:
    case CT_BYTES:
        if (parse_number(value, d->type == CT_BYTES, &v) != 0) {
            snprintf(err, errlen, "%s",
                     d->type == CT_BYTES
                         ? "argument must be a memory value"
                         : "argument couldn't be parsed into an integer");
            return -1;
        }
        if (v < d->min || v > d->max) {
            snprintf(err, errlen,
                     "argument must be between %lld and %lld inclusive", d->min,
                     d->max);
            return -1;
        }
        break;
    }
    *(long long *)field = v;
    return 0;
}

void config_init(struct config *c)
{
    char err[256];
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < NDEFS; i++) {
        int rv = set_def(c, &defs[i], defs[i].dflt, err, sizeof err);
        (void)rv;
    }
}

void config_free(struct config *c)
{
    for (size_t i = 0; i < NDEFS; i++) {
        if (defs[i].type == CT_STRING) {
            char **p = (char **)((char *)c + defs[i].offset);
            free(*p);
            *p = NULL;
        }
    }
    free(c->config_file);
    c->config_file = NULL;
    for (int i = 0; i < c->nseeds; i++) {
        free(c->seeds[i]);
    }
    free(c->seeds);
    c->seeds = NULL;
    c->nseeds = 0;
}

int config_set(struct config *c, const char *name, const char *value,
               int runtime, char *err, size_t errlen)
{
    const struct config_def *d = find(name);
    if (d == NULL) {
        snprintf(err, errlen, "unknown configuration key '%s'", name);
        return -1;
    }
    if (runtime && !(d->flags & CF_RUNTIME)) {
        snprintf(err, errlen, "'%s' can't be changed at run time", d->name);
        return -1;
    }
    char why[200];
    if (set_def(c, d, value, why, sizeof why) != 0) {
        snprintf(err, errlen, "'%s': %s ('%s')", d->name, why, value);
        return -1;
    }
    c->explicit_keys |= 1ull << (d - defs);
    return 0;
}

static int load_file(struct config *c, const char *path, char *err,
                     size_t errlen)
{
    FILE *fp = fopen(path, "r");
    if (fp == NULL) {
        snprintf(err, errlen, "can't open config file '%s': %s", path,
                 strerror(errno));
        return -1;
    }
    char line[4096];
    int lineno = 0, rv = 0;
    while (rv == 0 && fgets(line, sizeof line, fp) != NULL) {
        lineno++;
        sds s = sdstrim(sdsnew(line), " \t\r\n");
        if (s[0] == '#' || s[0] == '\0') {
            sdsfree(s);
            continue;
        }
        int argc = 0;
        sds *argv = sdssplitargs(s, &argc);
        char why[512];
        if (argv == NULL) {
            snprintf(err, errlen, "%s:%d: unbalanced quotes in '%s'", path,
                     lineno, s);
            rv = -1;
        } else if (argc != 2) {
            snprintf(err, errlen,
                     "%s:%d: '%s' takes exactly one argument: '%s'", path,
                     lineno, argv[0], s);
            rv = -1;
        } else if (config_set(c, argv[0], argv[1], 0, why, sizeof why) != 0) {
            snprintf(err, errlen, "%s:%d: %s", path, lineno, why);
            rv = -1;
        }
        if (argv != NULL) {
            sdsfreesplitres(argv, argc);
        }
        sdsfree(s);
    }
    fclose(fp);
    return rv;
}

int config_parse_argv(struct config *c, int argc, char **argv, char *err,
                      size_t errlen)
{
    int i = 0;
    if (argc > 0 && strncmp(argv[0], "--", 2) != 0) {
        char *abs = realpath(argv[0], NULL);
        if (abs == NULL) {
            snprintf(err, errlen, "can't open config file '%s': %s", argv[0],
                     strerror(errno));
            return -1;
        }
        c->config_file = xstrdup(abs);
        free(abs);
        if (load_file(c, c->config_file, err, errlen) != 0) {
            return -1;
        }
        i = 1;
    }
    for (; i < argc; i += 2) {
        if (strncmp(argv[i], "--", 2) != 0) {
            snprintf(err, errlen,
                     "unexpected argument '%s' (options are "
                     "--key value)",
                     argv[i]);
            return -1;
        }
        if (i + 1 >= argc) {
            snprintf(err, errlen, "option '%s' needs a value", argv[i]);
            return -1;
        }
        if (config_set(c, argv[i] + 2, argv[i + 1], 0, err, errlen) != 0) {
            return -1;
        }
    }
    return 0;
}

static bool is_explicit(const struct config *c, const char *name)
{
    const struct config_def *d = find(name);
    return (c->explicit_keys >> (d - defs)) & 1;
}

int config_parse_node_addr(const char *s, size_t len, char *host,
                           size_t hostlen, long long *port,
                           long long *raft_port)
{
    const char *at = memchr(s, '@', len);
    size_t alen = at ? (size_t)(at - s) : len;
    const char *colon = memrchr(s, ':', alen);
    if (colon == NULL || colon == s || (size_t)(colon - s) >= hostlen) {
        return -1;
    }
    if (!num_parse_ll(colon + 1, alen - (size_t)(colon - s) - 1, port) ||
        *port < 1 || *port > 65535) {
        return -1;
    }
    *raft_port = *port + 10000;
    if (at != NULL &&
        (!num_parse_ll(at + 1, len - alen - 1, raft_port) || *raft_port < 1)) {
        return -1;
    }
    if (*raft_port > 65535) {
        return -1;
    }
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = '\0';
    return 0;
}

static int parse_seeds(struct config *c, char *err, size_t errlen)
{
    char *list = xstrdup(c->cluster_nodes);
    char *save = NULL;
    int rv = 0;
    for (char *tok = strtok_r(list, ", ", &save); tok != NULL;
         tok = strtok_r(NULL, ", ", &save)) {
        char host[256];
        long long port, raft_port;
        if (config_parse_node_addr(tok, strlen(tok), host, sizeof host, &port,
                                   &raft_port) != 0) {
            snprintf(err, errlen,
                     "'cluster-nodes': '%s' is not HOST:PORT[@RAFTPORT]", tok);
            rv = -1;
            break;
        }
        char addr[300];
        snprintf(addr, sizeof addr, "%s:%lld@%lld", host, port, raft_port);
        c->seeds = xrealloc(c->seeds, (size_t)(c->nseeds + 1) * sizeof(char *));
        c->seeds[c->nseeds++] = xstrdup(addr);
        if (c->nseeds == c->node_id) {
            /* This node's own entry gives its ports unless set. */
            if (!is_explicit(c, "port")) {
                c->port = port;
            }
            if (!is_explicit(c, "raft-port")) {
                c->raft_port = raft_port;
            }
        }
    }
    free(list);
    if (rv == 0 && c->node_id > c->nseeds) {
        snprintf(err, errlen,
                 "'node-id': %lld is not a position in cluster-nodes (%d "
                 "nodes)",
                 c->node_id, c->nseeds);
        rv = -1;
    }
    return rv;
}

int config_finish(struct config *c, char *err, size_t errlen)
{
    if (c->cluster_nodes[0] != '\0' && parse_seeds(c, err, errlen) != 0) {
        return -1;
    }
    if (c->raft_port == 0) {
        if (c->port + 10000 > 65535) {
            snprintf(err, errlen,
                     "'raft-port': must be set when port + 10000 "
                     "is not a valid port");
            return -1;
        }
        c->raft_port = c->port + 10000;
    }
    if (c->leader_wait_timeout == 0) {
        c->leader_wait_timeout = 2 * c->election_timeout;
    }
    if (c->heartbeat_interval >= c->election_timeout) {
        snprintf(err, errlen,
                 "'heartbeat-interval' (%lld) must be lower than "
                 "'election-timeout' (%lld)",
                 c->heartbeat_interval, c->election_timeout);
        return -1;
    }
    if (strcmp(c->join_as, "voter") != 0 &&
        strcmp(c->join_as, "standby") != 0) {
        snprintf(err, errlen, "'join-as': must be voter or standby");
        return -1;
    }
    if (c->join[0] != '\0') {
        const char *colon = strrchr(c->join, ':');
        long long jport = 0;
        if (colon == NULL || colon == c->join ||
            parse_number(colon + 1, 0, &jport) != 0 || jport < 1 ||
            jport > 65535) {
            snprintf(err, errlen, "'join': expected HOST:PORT, got '%s'",
                     c->join);
            return -1;
        }
        if (c->nseeds > 0) {
            snprintf(err, errlen,
                     "'join' and 'cluster-nodes' exclude each other: seeds "
                     "bootstrap a cluster, a joining node is added to one");
            return -1;
        }
    }
    c->node_id_given = is_explicit(c, "node-id");
    if (c->dir[0] == '\0') {
        char buf[64];
        snprintf(buf, sizeof buf, "redis-raft-%lld", c->port);
        free(c->dir);
        c->dir = xstrdup(buf);
    }
    return 0;
}

/* Read-only keys that tools written for redis-server ask about (for
 * example redis-benchmark's "CONFIG GET save"): they describe what
 * redis-raft does. Every acknowledged write is in the fsync'd Raft log,
 * which is what appendonly/appendfsync always promise on redis-server.
 * CONFIG SET accepts them only with the value they already have. */
static const struct {
    const char *name;
    const char *value;
} compat[] = {
    {"save", ""},
    {"appendonly", "yes"},
    {"appendfsync", "always"},
    {"databases", "1"},
};

#define NCOMPAT (sizeof compat / sizeof compat[0])
/* Keys are numbered compat first, then defs. */
#define NKEYS (NCOMPAT + NDEFS)

static const char *key_name(size_t k)
{
    return k < NCOMPAT ? compat[k].name : defs[k - NCOMPAT].name;
}

/* Key k's current value as text (tmp holds numbers). */
static const char *key_value(const struct config *c, size_t k, char *tmp,
                             size_t tmplen)
{
    if (k < NCOMPAT) {
        return compat[k].value;
    }
    const struct config_def *d = &defs[k - NCOMPAT];
    const void *field = (const char *)c + d->offset;
    switch (d->type) {
    case CT_STRING:
        return *(char *const *)field;
    case CT_LOGLEVEL:
        return log_level_name((int)*(const long long *)field);
    case CT_BOOL:
        return *(const long long *)field ? "yes" : "no";
    default:
        snprintf(tmp, tmplen, "%lld", *(const long long *)field);
        return tmp;
    }
}

/* The key named exactly name (any case), or -1. */
static long find_key(const char *name, size_t len)
{
    for (size_t k = 0; k < NKEYS; k++) {
        const char *kn = key_name(k);
        if (strlen(kn) == len && strncasecmp(kn, name, len) == 0) {
            return (long)k;
        }
    }
    return -1;
}

void config_get(const struct config *c, int n, const char *const *patterns,
                const size_t *lens, config_visit_fn fn, void *arg)
{
    bool seen[NKEYS];
    memset(seen, 0, sizeof seen);
    char tmp[32];
    for (int i = 0; i < n; i++) {
        const char *p = patterns[i];
        size_t plen = lens[i];
        bool glob = memchr(p, '*', plen) || memchr(p, '?', plen) ||
                    memchr(p, '[', plen);
        if (!glob) {
            /* An exact name is reported as the client spelled it. */
            long k = find_key(p, plen);
            if (k >= 0 && !seen[k]) {
                seen[k] = true;
                fn(arg, p, plen, key_value(c, (size_t)k, tmp, sizeof tmp));
            }
            continue;
        }
        for (size_t k = 0; k < NKEYS; k++) {
            const char *kn = key_name(k);
            if (!seen[k] && glob_match(p, plen, kn, strlen(kn), true)) {
                seen[k] = true;
                fn(arg, kn, strlen(kn), key_value(c, k, tmp, sizeof tmp));
            }
        }
    }
}

int config_set_many(struct config *c, int n, const char *const *argv,
                    const size_t *lens, char *err, size_t errlen)
{
    long *keys = xcalloc(n > 0 ? (size_t)n : 1, sizeof *keys);
    int rv = -1;
    /* First pass: every name known, settable and given once. */
    for (int i = 0; i < n; i++) {
        const char *name = argv[2 * i];
        size_t nlen = lens[2 * i];
        long k = find_key(name, nlen);
        keys[i] = k;
        if (k < 0) {
            snprintf(err, errlen,
                     "ERR Unknown option or number of arguments for CONFIG "
                     "SET - '%.*s'",
                     (int)nlen, name);
            goto out;
        }
        const char *why = NULL;
        if ((size_t)k < NCOMPAT) {
            if (strcmp(argv[2 * i + 1], compat[k].value) != 0) {
                why = "can't set immutable config";
            }
        } else if (!(defs[k - NCOMPAT].flags & CF_RUNTIME)) {
            why = "can't set immutable config";
        }
        for (int j = 0; j < i && why == NULL; j++) {
            if (keys[j] == k) {
                why = "duplicate parameter";
            }
        }
        if (why != NULL) {
            snprintf(err, errlen,
                     "ERR CONFIG SET failed (possibly related to argument "
                     "'%.*s') - %s",
                     (int)nlen, name, why);
            goto out;
        }
    }
    /* Second pass: set them all, or none. Runtime keys are never strings,
     * so a shallow copy restores every field. */
    struct config saved = *c;
    for (int i = 0; i < n; i++) {
        if ((size_t)keys[i] < NCOMPAT) {
            continue;
        }
        const struct config_def *d = &defs[keys[i] - (long)NCOMPAT];
        assert(d->type != CT_STRING);
        char why[200];
        if (set_def(c, d, argv[2 * i + 1], why, sizeof why) != 0) {
            *c = saved;
            snprintf(err, errlen,
                     "ERR CONFIG SET failed (possibly related to argument "
                     "'%s') - %s",
                     d->name, why);
            goto out;
        }
        c->explicit_keys |= 1ull << (d - defs);
    }
    rv = 0;
out:
    free(keys);
    return rv;
}
