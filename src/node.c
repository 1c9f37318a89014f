/* node: libraft integration (see node.h). */
#include "node.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <raft.h>
#include <raft/uv.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "batch.h"
#include "node_impl.h"
#include "fsm.h"
#include "mem.h"
#include "member.h"
#include "persist.h"
#include "server.h"

_Static_assert((int)NODE_STANDBY == (int)RAFT_STANDBY &&
                   (int)NODE_VOTER == (int)RAFT_VOTER &&
                   (int)NODE_SPARE == (int)RAFT_SPARE,
               "node roles mirror raft's");

#define NODE_OF(ptr, field)                                                    \
    ((struct node *)((char *)(ptr)-offsetof(struct node, field)))

/* "HOST:PORT@RAFTPORT" -> "HOST:RAFTPORT" (other forms are copied). */
static void dial_address(const char *address, char *out, size_t n)
{
    const char *at = strchr(address, '@');
    const char *colon =
        at ? memrchr(address, ':', (size_t)(at - address)) : NULL;
    if (at == NULL || colon == NULL) {
        snprintf(out, n, "%s", address);
        return;
    }
    snprintf(out, n, "%.*s:%s", (int)(colon - address), address, at + 1);
}

void node_client_address(const char *address, char *out, size_t n)
{
    const char *at = strchr(address, '@');
    size_t len = at ? (size_t)(at - address) : strlen(address);
    snprintf(out, n, "%.*s", (int)len, address);
}

/* --- The TCP_NODELAY transport wrapper ----------------------------------
 * raft_uv_tcp never sets TCP_NODELAY; with Nagle on, replication runs an
 * order of magnitude slower. Every stream it hands out passes through here
 * and gets NODELAY before raft_uv sees it. */

struct dial {
    struct raft_uv_connect req;
    struct raft_uv_connect *user;
    raft_uv_connect_cb cb;
};

/* The inner transport keeps our full address: it announces it in every
 * connection handshake, and raft must see the same string there as in the
 * configuration (a mismatch makes raft_uv drop and redial the connection
 * after every message). It listens on the bind address set at start. */
static int t_init(struct raft_uv_transport *t, raft_id id, const char *addr)
{
    struct node *n = NODE_OF(t, outer);
    return n->inner.init(&n->inner, id, addr);
}

static void t_accept(struct raft_uv_transport *inner, raft_id id,
                     const char *address, struct uv_stream_s *stream)
{
    struct node *n = NODE_OF(inner, inner);
    uv_tcp_nodelay((uv_tcp_t *)stream, 1);
    n->accept_cb(&n->outer, id, address, stream);
}

static int t_listen(struct raft_uv_transport *t, raft_uv_accept_cb cb)
{
    struct node *n = NODE_OF(t, outer);
    n->accept_cb = cb;
    int rv = n->inner.listen(&n->inner, t_accept);
    if (rv != 0) {
        /* raft_uv_tcp keeps no error message for this: say which port. */
        log_write(&n->srv->log, LOG_WARNING,
                  "Can't listen for raft peers on %s:%lld (%s; is the raft "
                  "port already in use?)",
                  n->srv->cfg.bind, n->srv->cfg.raft_port, raft_strerror(rv));
    }
    return rv;
}

static void t_connect_cb(struct raft_uv_connect *req,
                         struct uv_stream_s *stream, int status)
{
    struct dial *d = req->data;
    struct raft_uv_connect *user = d->user;
    raft_uv_connect_cb cb = d->cb;
    free(d);
    if (status == 0) {
        uv_tcp_nodelay((uv_tcp_t *)stream, 1);
    }
    cb(user, stream, status);
}

static int t_connect(struct raft_uv_transport *t, struct raft_uv_connect *req,
                     raft_id id, const char *address, raft_uv_connect_cb cb)
{
    struct node *n = NODE_OF(t, outer);
    char dial[160];
    dial_address(address, dial, sizeof dial);
    struct dial *d = xcalloc(1, sizeof *d);
    d->req.data = d;
    d->user = req;
    d->cb = cb;
    int rv = n->inner.connect(&n->inner, &d->req, id, dial, t_connect_cb);
    if (rv != 0) {
        free(d);
    }
    return rv;
}

static void t_close_cb(struct raft_uv_transport *inner)
{
    struct node *n = NODE_OF(inner, inner);
    n->transport_close_cb(&n->outer);
}

static void t_close(struct raft_uv_transport *t, raft_uv_transport_close_cb cb)
{
    struct node *n = NODE_OF(t, outer);
    n->transport_close_cb = cb;
    n->inner.close(&n->inner, t_close_cb);
}

/* --- Tracing: libraft's diagnostics into our log ------------------------ */

static void disk_failed_msg(struct node *n, const char *what);

static void trace_emit(struct raft_tracer *t, int type, const void *info)
{
    struct node *n = NODE_OF(t, tracer);
    const struct raft_tracer_info *ti = info;
    if (type != RAFT_TRACER_DIAGNOSTIC || ti == NULL) {
        return;
    }
    /* raft_uv never reports a write that fails for lack of space: it
     * retries it forever ("retry creating segment ...", "retry snapshot
     * write", ...), leaving a node in the cluster that persists nothing.
     * Its retry trace is our only signal. */
    if (strncmp(ti->diagnostic.message, "retry ", 6) == 0) {
        disk_failed_msg(n, ti->diagnostic.message);
    }
    int level = ti->diagnostic.level <= 2   ? LOG_WARNING
                : ti->diagnostic.level == 3 ? LOG_VERBOSE
                                            : LOG_DEBUG;
    if (level < n->srv->log.level) {
        return;
    }
    log_write(&n->srv->log, level, "raft: %s", ti->diagnostic.message);
}

/* --- The data directory lock ---------------------------------------------
 * raft_uv takes no lock: a second process on the same directory would
 * destroy a live node's segments. */

static int lock_dir(struct node *n)
{
    struct server *srv = n->srv;
    const char *dir = srv->cfg.dir;
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        log_write(&srv->log, LOG_WARNING, "Can't create data directory %s: %s",
                  dir, strerror(errno));
        return -1;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/redis-raft.lock", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        log_write(&srv->log, LOG_WARNING, "Can't open %s: %s", path,
                  strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        char holder[32] = "unknown";
        ssize_t r = pread(fd, holder, sizeof holder - 1, 0);
        if (r > 0) {
            holder[r] = '\0';
            holder[strcspn(holder, "\n")] = '\0';
        }
        log_write(&srv->log, LOG_WARNING,
                  "Data directory %s is locked by another redis-raft process "
                  "(pid %s)",
                  dir, holder);
        fprintf(stderr,
                "redis-raft: data directory %s is locked by another "
                "redis-raft process (pid %s)\n",
                dir, holder);
        close(fd);
        return -1;
    }
    char pid[32];
    int len = snprintf(pid, sizeof pid, "%d\n", (int)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)len, 0) != len) {
        log_write(&srv->log, LOG_WARNING, "Can't write %s: %s", path,
                  strerror(errno));
    }
    n->lock_fd = fd;
    return 0;
}

/* --- Disk: raft_io wrappers ---------------------------------------------- */

/* raft_uv does the disk I/O; we wrap the methods that write, to time every
 * durable log write (INFO persistence) and to stop the node on a failed
 * write instead of letting it run on with a log it could not extend. */

static uint64_t now_us(void)
{
    return uv_hrtime() / 1000;
}

/* Log why the disk failed, once, and let node_poll shut down (outside
 * raft's callbacks). */
static void fail_disk(struct node *n, const char *why)
{
    if (n->failed) {
        return;
    }
    n->failed = true;
    log_write(&n->srv->log, LOG_WARNING,
              "Disk write failed (%s): shutting down so that this node "
              "cannot diverge",
              why);
    server_kick(n->srv);
}

static void disk_failed(struct node *n, const char *what, int rv)
{
    char why[512];
    snprintf(why, sizeof why, "%s: %s%s%s", what, raft_strerror(rv),
             n->io.errmsg[0] ? ": " : "", n->io.errmsg);
    fail_disk(n, why);
}

/* A write raft_uv keeps retrying: it does so only when the disk is full
 * (or the write failed); say how much space is left. */
static void disk_failed_msg(struct node *n, const char *what)
{
    struct statvfs st;
    char why[512];
    if (statvfs(n->srv->cfg.dir, &st) == 0) {
        unsigned long long avail =
            (unsigned long long)st.f_bavail * st.f_frsize;
        snprintf(
            why, sizeof why, "raft: %s; %s: %llu bytes available in %s", what,
            avail < 16ull * 1024 * 1024 ? strerror(ENOSPC) : "write failed",
            avail, n->srv->cfg.dir);
    } else {
        snprintf(why, sizeof why, "raft: %s; ", what);
    }
    fail_disk(n, why);
}

struct io_append {
    struct raft_io_append inner;
    struct raft_io_append *outer;
    raft_io_append_cb cb;
    struct node *node;
    uint64_t start_us;
};

static void io_append_cb(struct raft_io_append *req, int status)
{
    struct io_append *w = req->data;
    struct node *n = w->node;
    if (status == 0) {
        persist_disk_write(&n->srv->persist, now_us() - w->start_us);
    } else if (status != RAFT_CANCELED) {
        disk_failed(n, "log append", status);
    }
    w->cb(w->outer, status);
    free(w);
}

static int io_append(struct raft_io *io, struct raft_io_append *req,
                     const struct raft_entry entries[], unsigned count,
                     raft_io_append_cb cb)
{
    struct node *n = NODE_OF(io, io);
    struct io_append *w = xcalloc(1, sizeof *w);
    w->inner.data = w;
    w->outer = req;
    w->cb = cb;
    w->node = n;
    w->start_us = now_us();
    req->cb = cb;
    int rv = n->uv.append(io, &w->inner, entries, count, io_append_cb);
    if (rv != 0) {
        free(w);
        if (rv != RAFT_CANCELED) {
            disk_failed(n, "log append", rv);
        }
    }
    return rv;
}

struct io_put {
    struct raft_io_snapshot_put inner;
    struct raft_io_snapshot_put *outer;
    raft_io_snapshot_put_cb cb;
    struct node *node;
};

static void io_put_cb(struct raft_io_snapshot_put *req, int status)
{
    struct io_put *w = req->data;
    struct node *n = w->node;
    persist_snapshot_put_done(&n->srv->persist, status);
    if (status != 0 && status != RAFT_CANCELED) {
        disk_failed(n, "snapshot write", status);
    }
    w->cb(w->outer, status);
    free(w);
}

static int io_snapshot_put(struct raft_io *io, unsigned trailing,
                           struct raft_io_snapshot_put *req,
                           const struct raft_snapshot *snapshot,
                           raft_io_snapshot_put_cb cb)
{
    struct node *n = NODE_OF(io, io);
    struct io_put *w = xcalloc(1, sizeof *w);
    w->inner.data = w;
    w->outer = req;
    w->cb = cb;
    w->node = n;
    req->cb = cb;
    int rv = n->uv.snapshot_put(io, trailing, &w->inner, snapshot, io_put_cb);
    if (rv != 0) {
        free(w);
        if (rv != RAFT_CANCELED) {
            disk_failed(n, "snapshot write", rv);
        }
    }
    return rv;
}

static void drop_snapshot_message(struct raft_message *m)
{
    raft_configuration_close(&m->install_snapshot.conf);
    raft_free(m->install_snapshot.data.base);
}

/* Two libraft 0.22.1 bugs around InstallSnapshot, avoided here:
 *  - one that arrives while libraft still installs an earlier one is
 *    ignored and its payload (the whole keyspace) leaked: we drop it and
 *    free it (the leader resends if it still needs to);
 *  - one that arrives while this node takes its own snapshot is parked by
 *    libraft and then dereferenced as NULL when the snapshot completes
 *    (legacy.c, takeSnapshotCb): the follower segfaults. We hold it back
 *    ourselves and deliver it from node_poll once our snapshot is done. */
static void io_recv(struct raft_io *io, struct raft_message *m)
{
    struct node *n = NODE_OF(io, io);
    node_contact_note(n, m->server_id);
    if (m->type == RAFT_INSTALL_SNAPSHOT) {
        if (n->raft.snapshot.installing) {
            log_write(&n->srv->log, LOG_VERBOSE,
                      "Dropping a snapshot from node %llu: one is being "
                      "installed",
                      (unsigned long long)m->server_id);
            drop_snapshot_message(m);
            return;
        }
        if (n->srv->persist.phase == PERSIST_TAKING || n->has_deferred) {
            if (n->has_deferred) {
                drop_snapshot_message(m); /* one held back is enough */
                return;
            }
            log_write(&n->srv->log, LOG_VERBOSE,
                      "Holding back a snapshot from node %llu until ours is "
                      "written",
                      (unsigned long long)m->server_id);
            n->deferred = *m;
            snprintf(n->deferred_addr, sizeof n->deferred_addr, "%s",
                     m->server_address ? m->server_address : "");
            n->deferred.server_address = n->deferred_addr;
            n->has_deferred = true;
            server_kick(n->srv);
            return;
        }
    }
    n->recv_cb(io, m);
}

/* Deliver a held-back InstallSnapshot once our own snapshot is done. */
static void deliver_deferred(struct node *n)
{
    if (!n->has_deferred || n->srv->persist.phase == PERSIST_TAKING) {
        return;
    }
    n->has_deferred = false;
    struct raft_message m = n->deferred;
    io_recv(&n->io, &m);
}

static int io_start(struct raft_io *io, unsigned msecs, raft_io_tick_cb tick,
                    raft_io_recv_cb recv)
{
    struct node *n = NODE_OF(io, io);
    n->recv_cb = recv;
    return n->uv.start(io, msecs, tick, io_recv);
}

static int io_set_term(struct raft_io *io, raft_term term)
{
    struct node *n = NODE_OF(io, io);
    int rv = n->uv.set_term(io, term);
    if (rv != 0) {
        disk_failed(n, "term metadata", rv);
    }
    return rv;
}

static int io_set_vote(struct raft_io *io, raft_id id)
{
    struct node *n = NODE_OF(io, io);
    int rv = n->uv.set_vote(io, id);
    if (rv != 0) {
        disk_failed(n, "vote metadata", rv);
    }
    return rv;
}

/* --- Start, propose, close ---------------------------------------------- */

/* Every seed bootstraps the same configuration: the seed list, ids by
 * position, all voters. Without a list, a cluster of this node alone.
 * Returns 0 (bootstrapped, or existing state: resume), or an error code. */
static int bootstrap_configuration(struct node *n)
{
    struct server *srv = n->srv;
    struct config *cfg = &srv->cfg;
    int rv;
    struct raft_configuration conf;
    raft_configuration_init(&conf);
    if (cfg->nseeds > 0) {
        rv = 0;
        for (int i = 0; i < cfg->nseeds && rv == 0; i++) {
            rv = raft_configuration_add(&conf, (raft_id)(i + 1), cfg->seeds[i],
                                        RAFT_VOTER);
        }
    } else {
        rv = raft_configuration_add(&conf, (raft_id)cfg->node_id, n->address,
                                    RAFT_VOTER);
    }
    if (rv == 0) {
        rv = raft_bootstrap(&n->raft, &conf);
    }
    raft_configuration_close(&conf);
    if (rv == 0) {
        log_write(&srv->log, LOG_NOTICE,
                  "Bootstrapped a new %d-node cluster: this is node %lld at %s",
                  cfg->nseeds > 0 ? cfg->nseeds : 1, cfg->node_id, n->address);
    } else if (rv == RAFT_CANTBOOTSTRAP) {
        log_write(&srv->log, LOG_NOTICE,
                  "Existing raft state found in %s, resuming", cfg->dir);
    } else {
        log_write(&srv->log, LOG_WARNING, "raft_bootstrap: %s",
                  raft_strerror(rv));
        return rv;
    }
    return 0;
}

int node_start(struct server *srv, struct node **out)
{
    struct node *n = xcalloc(1, sizeof *n);
    struct config *cfg = &srv->cfg;
    int rv;
    n->srv = srv;
    n->lock_fd = -1;
    n->last_state = -1;
    /* The caller gets the node only once raft_init succeeded (it then
     * closes it with node_close); earlier failures leave it NULL. */
    *out = NULL;
    if (cfg->nseeds > 0) {
        /* Our address is our entry in the seed list, as the others know it. */
        snprintf(n->address, sizeof n->address, "%s",
                 cfg->seeds[cfg->node_id - 1]);
    } else {
        snprintf(n->address, sizeof n->address, "%s:%lld@%lld", cfg->bind,
                 cfg->port, cfg->raft_port);
    }
    if (lock_dir(n) != 0) {
        free(n);
        return -1;
    }
    /* Our id and whether to bootstrap: a joining node asks the cluster
     * first (member.h). */
    uint64_t id = (uint64_t)cfg->node_id;
    bool bootstrap = true;
    if (member_resolve(&srv->member, &id, &bootstrap) != 0) {
        close(n->lock_fd);
        free(n);
        return -1;
    }
    n->inner.version = 1; /* before init, or init fails with RAFT_INVALID */
    rv = raft_uv_tcp_init(&n->inner, &srv->loop);
    if (rv != 0) {
        goto err;
    }
    char bind[160];
    snprintf(bind, sizeof bind, "%s:%lld", cfg->bind, cfg->raft_port);
    rv = raft_uv_tcp_set_bind_address(&n->inner, bind);
    if (rv != 0) {
        goto err;
    }
    n->outer.version = 1;
    n->outer.init = t_init;
    n->outer.listen = t_listen;
    n->outer.connect = t_connect;
    n->outer.close = t_close;
    rv = raft_uv_init(&n->io, &srv->loop, cfg->dir, &n->outer);
    if (rv != 0) {
        goto err;
    }
    n->uv = n->io;
    n->io.append = io_append;
    n->io.snapshot_put = io_snapshot_put;
    n->io.set_term = io_set_term;
    n->io.set_vote = io_set_vote;
    n->io.start = io_start;
    raft_uv_set_auto_recovery(&n->io, false);
    raft_uv_set_connect_retry_delay(&n->io, 150);
    n->tracer.version = 2;
    n->tracer.emit = trace_emit;
    raft_uv_set_tracer(&n->io, &n->tracer);
    fsm_init(&n->fsm, srv);
    rv = raft_init(&n->raft, &n->io, &n->fsm, (raft_id)id, n->address);
    if (rv != 0) {
        log_write(&srv->log, LOG_WARNING, "raft_init: %s",
                  raft_errmsg(&n->raft));
        goto err;
    }
    *out = n;
    n->raft.data = n;
    n->raft.tracer = &n->tracer;
    raft_set_election_timeout(&n->raft, (unsigned)cfg->election_timeout);
    raft_set_heartbeat_timeout(&n->raft, (unsigned)cfg->heartbeat_interval);
    raft_set_pre_vote(&n->raft, true);
    /* persist decides when to snapshot (node_snapshot_now). */
    raft_set_snapshot_threshold(&n->raft, UINT_MAX);
    raft_set_snapshot_trailing(&n->raft, (unsigned)cfg->snapshot_trailing);
    raft_set_max_inflight_entries(&n->raft,
                                  (unsigned)cfg->max_inflight_entries);

    if (bootstrap) {
        rv = bootstrap_configuration(n);
        if (rv != 0) {
            goto err;
        }
    } else {
        log_write(&srv->log, LOG_NOTICE,
                  "Starting as node %llu of an existing cluster (no "
                  "bootstrap)",
                  (unsigned long long)id);
    }
    rv = raft_start(&n->raft);
    if (rv != 0) {
        log_write(&srv->log, LOG_WARNING, "raft_start: %s",
                  raft_errmsg(&n->raft));
        goto err;
    }
    n->started = true;
    log_write(&srv->log, LOG_NOTICE,
              "Raft started: node %llu at %s, term %llu, last index %llu",
              (unsigned long long)id, n->address,
              (unsigned long long)raft_current_term(&n->raft),
              (unsigned long long)raft_last_index(&n->raft));
    return 0;
err:
    log_write(&srv->log, LOG_WARNING, "Can't start raft: %s",
              raft_strerror(rv));
    return -1;
}

struct proposal {
    struct raft_apply req;
    struct node *node;
    struct batch *batch;
};

static void apply_cb(struct raft_apply *req, int status, void *result)
{
    struct proposal *p = req->data;
    (void)result;
    batcher_done(&p->node->srv->batcher, p->batch, status);
}

int node_propose(struct node *n, struct batch *batch, void *data, size_t len)
{
    struct proposal *p = xcalloc(1, sizeof *p);
    p->req.data = p;
    p->node = n;
    p->batch = batch;
    batch->req = p;
    struct raft_buffer buf = {data, len};
    int rv = raft_apply(&n->raft, &p->req, &buf, 1, apply_cb);
    /* On failure the buffer's ownership is unclear in libraft's legacy
     * API (it may already sit in the in-memory log): leak rather than
     * risk a double free. Failures here are rare (not leader, no memory). */
    return rv;
}

bool node_is_leader(struct node *n)
{
    return n != NULL && raft_state(&n->raft) == RAFT_LEADER;
}

bool node_can_propose(struct node *n)
{
    return node_is_leader(n) && raft_transferee(&n->raft) == 0;
}

uint64_t node_id(const struct node *n)
{
    return n->raft.id;
}

bool node_err_not_leader(int rv)
{
    return rv == RAFT_NOTLEADER;
}

const char *node_strerror(int rv)
{
    return raft_strerror(rv);
}

bool node_leader(struct node *n, uint64_t *id, char *addr, size_t len)
{
    if (n == NULL) {
        *id = 0;
        if (len > 0) {
            addr[0] = '\0';
        }
        return false;
    }
    raft_id leader = 0;
    const char *raddr = NULL;
    raft_leader(&n->raft, &leader, &raddr);
    *id = leader;
    if (leader == 0 || raddr == NULL) {
        addr[0] = '\0';
        return false;
    }
    node_client_address(raddr, addr, len);
    return true;
}

uint64_t node_term(struct node *n)
{
    return raft_current_term(&n->raft);
}

void node_fail(struct node *n)
{
    n->failed = true;
    server_kick(n->srv);
}

bool node_started(const struct node *n)
{
    return n != NULL && n->started;
}

uint64_t node_commit_index(struct node *n)
{
    return raft_commit_index(&n->raft);
}

uint64_t node_last_applied(struct node *n)
{
    return raft_last_applied(&n->raft);
}

uint64_t node_last_index(struct node *n)
{
    return raft_last_index(&n->raft);
}

void node_snapshot_now(struct node *n, unsigned trailing)
{
    raft_set_snapshot_trailing(&n->raft, trailing);
    raft_set_snapshot_threshold(&n->raft, 1);
}

void node_snapshot_hold(struct node *n)
{
    raft_set_snapshot_threshold(&n->raft, UINT_MAX);
}

/* A leadership transfer. libraft calls back when the target leads or
 * after an election timeout, but not always when the leader steps down
 * meanwhile: our own timer answers the caller in time regardless. The
 * request itself stays allocated until libraft's callback (if libraft
 * never calls back, it is a small leak, never a use after free). */
struct transfer {
    struct raft_barrier barrier;
    raft_index barrier_index;
    struct raft_transfer req;
    struct node *node;
    void (*done)(void *arg, bool ok);
    void *arg;
    uv_timer_t *timer;
    uint64_t target;
    int attempts;
    bool finished;
};

static void free_handle(uv_handle_t *h)
{
    free(h);
}

static void transfer_finish(struct transfer *t)
{
    raft_id leader = 0;
    const char *addr = NULL;
    if (t->timer != NULL) {
        uv_close((uv_handle_t *)t->timer, free_handle);
        t->timer = NULL;
    }
    if (t->finished) {
        return;
    }
    t->finished = true;
    raft_leader(&t->node->raft, &leader, &addr);
    /* Done once this node stepped down: the target wins the election it
     * was told to start (the callback may come before it is known). */
    bool ok = raft_state(&t->node->raft) != RAFT_LEADER;
    log_write(&t->node->srv->log, ok ? LOG_NOTICE : LOG_WARNING,
              "Leadership transfer %s (leader now %llu)",
              ok ? "done" : "failed", (unsigned long long)leader);
    t->done(t->arg, ok);
}

static void transfer_cb(struct raft_transfer *req)
{
    struct transfer *t = req->data;
    /* A transfer asked for right after an election sometimes lapses
     * without the target ever campaigning: ask again, a few times. */
    if (!t->finished && raft_state(&t->node->raft) == RAFT_LEADER &&
        ++t->attempts < 3) {
        memset(&t->req, 0, sizeof t->req);
        t->req.data = t;
        if (raft_transfer(&t->node->raft, &t->req, (raft_id)t->target,
                          transfer_cb) == 0) {
            return;
        }
    }
    transfer_finish(t);
    free(t);
}

static void transfer_timeout(uv_timer_t *timer)
{
    transfer_finish(timer->data);
}

/* The voter (not us) that acknowledged the barrier: alive and up to date
 * (libraft's own choice for id 0 may be a node that is down). 0 if none. */
static raft_id live_voter(struct raft *r, raft_index at)
{
    raft_id best = 0;
    raft_index best_match = 0;
    for (unsigned i = 0; i < r->configuration.n; i++) {
        const struct raft_server *sv = &r->configuration.servers[i];
        raft_index match = 0;
        if (sv->id == r->id || sv->role != RAFT_VOTER ||
            raft_match_index(r, sv->id, &match) != 0 || match < at) {
            continue;
        }
        if (best == 0 || match > best_match) {
            best = sv->id;
            best_match = match;
        }
    }
    return best;
}

static void barrier_cb(struct raft_barrier *req, int status)
{
    struct transfer *t = req->data;
    struct raft *r = &t->node->raft;
    if (status == 0 && t->target == 0) {
        t->target = live_voter(r, req->index);
    }
    if (status == 0 && t->target != 0 && !t->finished &&
        raft_transfer(r, &t->req, (raft_id)t->target, transfer_cb) == 0) {
        log_write(&t->node->srv->log, LOG_NOTICE,
                  "Transferring leadership to node %llu",
                  (unsigned long long)t->target);
        return;
    }
    transfer_finish(t);
    free(t);
}

bool node_has_other_voters(struct node *n)
{
    const struct raft_configuration *c = &n->raft.configuration;
    for (unsigned i = 0; i < c->n; i++) {
        if (c->servers[i].role == RAFT_VOTER &&
            c->servers[i].id != n->raft.id) {
            return true;
        }
    }
    return false;
}

int node_transfer(struct node *n, uint64_t target,
                  void (*done)(void *arg, bool ok), void *arg)
{
    struct transfer *t = xcalloc(1, sizeof *t);
    t->req.data = t;
    t->barrier.data = t;
    t->node = n;
    t->done = done;
    t->arg = arg;
    t->target = target;
    int rv;
    if (target == 0) {
        /* Pick the target once a barrier committed: the voters that
         * acknowledged it are alive and caught up. */
        rv = raft_barrier(&n->raft, &t->barrier, barrier_cb);
    } else {
        rv = raft_transfer(&n->raft, &t->req, (raft_id)target, transfer_cb);
    }
    if (rv != 0) {
        free(t);
        return rv;
    }
    t->timer = xmalloc(sizeof *t->timer);
    uv_timer_init(&n->srv->loop, t->timer);
    t->timer->data = t;
    uv_timer_start(t->timer, transfer_timeout,
                   3 * (uint64_t)n->srv->cfg.election_timeout + 200, 0);
    log_write(&n->srv->log, LOG_NOTICE, "Transferring leadership to node %llu",
              (unsigned long long)target);
    return 0;
}

void node_poll(struct node *n)
{
    if (n == NULL) {
        return;
    }
    struct server *srv = n->srv;
    if (n->failed && !srv->shutting_down) {
        server_shutdown(srv, 1);
        return;
    }
    deliver_deferred(n);
    node_fix_configuration(n);
    int state = raft_state(&n->raft);
    raft_term term = raft_current_term(&n->raft);
    raft_id leader = 0;
    const char *addr = NULL;
    raft_leader(&n->raft, &leader, &addr);
    if (term != n->last_term) {
        log_write(&srv->log, LOG_NOTICE, "Raft term changed: %llu -> %llu",
                  (unsigned long long)n->last_term, (unsigned long long)term);
        n->last_term = term;
    }
    if (state != n->last_state) {
        server_set_role(srv, state == RAFT_LEADER);
        n->state_since_ms = server_time_ms();
        if (state == RAFT_LEADER) {
            log_write(&srv->log, LOG_NOTICE,
                      "Elected leader for term %llu (commit index %llu)",
                      (unsigned long long)term,
                      (unsigned long long)raft_commit_index(&n->raft));
        } else {
            log_write(&srv->log, LOG_NOTICE, "Raft role is now %s",
                      node_state_name(state));
        }
        n->last_state = state;
    }
    if (leader != n->last_leader) {
        if (leader != 0) {
            log_write(&srv->log, LOG_NOTICE, "Leader is node %llu at %s",
                      (unsigned long long)leader, addr ? addr : "?");
        } else {
            log_write(&srv->log, LOG_NOTICE, "No known leader");
        }
        n->last_leader = leader;
    }
}

static void on_raft_close(struct raft *r)
{
    struct node *n = r->data;
    struct server *srv = n->srv;
    raft_uv_close(&n->io);
    raft_uv_tcp_close(&n->inner);
    if (n->has_deferred) {
        drop_snapshot_message(&n->deferred);
    }
    if (n->lock_fd >= 0) {
        close(n->lock_fd);
    }
    void (*cb)(struct server *) = n->close_cb;
    free(n);
    srv->node = NULL;
    cb(srv);
}

void node_close(struct node *n, void (*cb)(struct server *srv))
{
    n->close_cb = cb;
    node_changes_close(n);
    raft_close(&n->raft, on_raft_close);
}
