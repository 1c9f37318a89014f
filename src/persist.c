/* persist: background snapshots, SAVE/BGSAVE/LASTSAVE, INFO persistence
 * (see persist.h). */
#include "persist.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conn.h"
#include "mem.h"
#include "node.h"
#include "reply.h"
#include "server.h"
#include "snapshot.h"
#include "store.h"

/* A SAVE waiting for a snapshot that covers index. */
struct save_waiter {
    struct save_waiter *next;
    struct slot *slot;
    uint64_t index;
};

/* The child's scratch block: static, so the child allocates nothing. */
static char child_block[SNAPSHOT_BLOCK];

void persist_init(struct persist *p, struct server *srv)
{
    memset(p, 0, sizeof *p);
    p->srv = srv;
    p->fd = -1;
    p->last_ok = true;
    p->lastsave = server_time_ms() / 1000;
    buf_init(&p->image);
    buf_init(&p->tail);
}

static void answer_waiters(struct persist *p, uint64_t covered, bool ok,
                           const char *err)
{
    struct save_waiter **link = &p->waiters;
    while (*link != NULL) {
        struct save_waiter *w = *link;
        if (ok && w->index > covered) {
            link = &w->next;
            continue;
        }
        *link = w->next;
        buf_clear(&w->slot->reply);
        if (ok) {
            reply_ok(&w->slot->reply);
        } else {
            reply_error(&w->slot->reply, err);
        }
        conn_slot_ready(w->slot);
        free(w);
    }
}

/* Forget the cut in progress (image, tail, child). */
static void discard_cut(struct persist *p)
{
    if (p->phase == PERSIST_CUTTING && p->child > 0) {
        kill(p->child, SIGKILL); /* the reader then sees EOF */
        p->abandoned = true;
    }
    if (p->phase == PERSIST_READY) {
        node_snapshot_hold(p->srv->node);
    }
    buf_free(&p->image);
    buf_free(&p->tail);
    p->tail_count = 0;
    p->phase = PERSIST_IDLE;
}

void persist_close(struct persist *p)
{
    if (p->phase == PERSIST_CUTTING || p->phase == PERSIST_READY) {
        discard_cut(p);
    }
    answer_waiters(p, 0, false, "ERR server is shutting down");
}

/* --- the cut: fork, child, pipe reader ------------------------------------ */

static int fd_sink(void *arg, const void *p, size_t n)
{
    int fd = *(int *)arg;
    const char *s = p;
    while (n > 0) {
        ssize_t w = write(fd, s, n);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            return errno;
        }
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

/* In the child: write the image and exit. Only async-signal-safe calls
 * and our own code, which allocates nothing. */
static void child_main(struct persist *p, int fd, pid_t parent)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) {
        _exit(2);
    }
    /* Serialising a big keyspace takes a CPU for a second or more: yield
     * it to the event loops (ours, and our neighbours' on a small box). */
    if (setpriority(PRIO_PROCESS, 0, 19) != 0) {
        /* not fatal: the image is written all the same */
    }
    int rc = snapshot_write_image(p->srv->store, p->cut_index, fd_sink, &fd,
                                  child_block);
    _exit(rc == 0 ? 0 : 1);
}

static void read_work(uv_work_t *req)
{
    struct persist *p = req->data;
    for (;;) {
        char *dst = buf_reserve(&p->incoming, 1 << 20);
        ssize_t r = read(p->fd, dst, 1 << 20);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0) {
            p->read_errno = errno;
            return;
        }
        if (r == 0) {
            return;
        }
        p->incoming.len += (size_t)r;
    }
}

static void cut_failed(struct persist *p, const char *why)
{
    log_write(&p->srv->log, LOG_WARNING,
              "Snapshot failed: %s; retrying in a second", why);
    p->last_ok = false;
    discard_cut(p);
    p->retry_at_ms = server_time_ms() + 1000;
}

static void become_ready(struct persist *p)
{
    p->phase = PERSIST_READY;
    node_snapshot_now(p->srv->node, (unsigned)p->srv->cfg.snapshot_trailing);
}

static void read_done(uv_work_t *req, int status)
{
    struct persist *p = req->data;
    (void)status;
    p->reading = false;
    close(p->fd);
    p->fd = -1;
    int wstatus = 0;
    pid_t r;
    do {
        r = waitpid(p->child, &wstatus, 0);
    } while (r < 0 && errno == EINTR);
    p->child = 0;
    struct buf incoming = p->incoming;
    buf_init(&p->incoming);
    if (p->abandoned || p->phase != PERSIST_CUTTING) {
        p->abandoned = false;
        buf_free(&incoming);
        return;
    }
    p->image = incoming;
    char why[128];
    if (p->read_errno != 0) {
        snprintf(why, sizeof why, "reading the image: %s",
                 strerror(p->read_errno));
        cut_failed(p, why);
    } else if (r < 0 || !WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) {
        snprintf(why, sizeof why, "the snapshot child %s %d",
                 r >= 0 && WIFSIGNALED(wstatus) ? "was killed by signal"
                                                : "exited with status",
                 r < 0                  ? -1
                 : WIFSIGNALED(wstatus) ? WTERMSIG(wstatus)
                                        : WEXITSTATUS(wstatus));
        cut_failed(p, why);
    } else {
        become_ready(p);
    }
}

/* A new cut starts here: the image will be the state at this index and
 * the tail the entries applied from now on. */
static void begin_cut(struct persist *p)
{
    p->cut_ms = server_time_ms();
    p->cut_index = node_last_applied(p->srv->node);
    p->applied_since = 0;
    p->read_errno = 0;
    buf_init(&p->image);
    snapshot_tail_begin(&p->tail);
    p->tail_count = 0;
}

static void start_cut(struct persist *p)
{
    struct server *srv = p->srv;
    begin_cut(p);
    buf_init(&p->incoming); /* no reader runs: persist_tick checked */

    int fds[2];
    pid_t pid = -1;
    sigset_t all, old;
    if (pipe2(fds, O_CLOEXEC) == 0) {
        /* Signals stay blocked across fork until the child has dropped
         * the parent's handlers (libuv's would write to the parent's
         * signal pipe). */
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        pid_t parent = getpid();
        uint64_t t0 = uv_hrtime();
        pid = fork();
        if (pid == 0) {
            close(fds[0]);
            signal(SIGTERM, SIG_DFL);
            signal(SIGINT, SIG_DFL);
            signal(SIGHUP, SIG_DFL);
            signal(SIGPIPE, SIG_DFL);
            sigset_t none;
            sigemptyset(&none);
            pthread_sigmask(SIG_SETMASK, &none, NULL);
            child_main(p, fds[1], parent);
        }
        p->latest_fork_us = (uv_hrtime() - t0) / 1000;
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        close(fds[1]);
        if (pid < 0) {
            close(fds[0]);
        }
    }
    if (pid < 0) {
        /* No child: encode on the loop (stalls clients, but works). */
        log_write(&srv->log, LOG_WARNING,
                  "Can't fork for a snapshot (%s): encoding it on the event "
                  "loop",
                  strerror(errno));
        snapshot_encode_image(srv->store, p->cut_index, &p->image);
        become_ready(p);
        return;
    }
    p->child = pid;
    p->fd = fds[0];
    p->phase = PERSIST_CUTTING;
    p->reading = true;
    p->work.data = p;
    uv_queue_work(&srv->loop, &p->work, read_work, read_done);
}

void persist_tick(struct persist *p)
{
    struct server *srv = p->srv;
    if (p->phase != PERSIST_IDLE || p->reading || srv->closing ||
        !node_started(srv->node)) {
        return;
    }
    bool requested = p->requested_at > p->last_index || p->waiters != NULL;
    if (!requested &&
        p->applied_since < (uint64_t)srv->cfg.snapshot_threshold) {
        return;
    }
    if (node_commit_index(srv->node) <= p->last_index) {
        /* Nothing new since the last snapshot: it already covers all. */
        p->requested_at = 0;
        answer_waiters(p, p->last_index, true, NULL);
        return;
    }
    if (server_time_ms() < p->retry_at_ms) {
        return;
    }
    start_cut(p);
}

void persist_applied(struct persist *p, const void *entry, size_t len)
{
    p->applied_since++;
    if (p->phase == PERSIST_CUTTING || p->phase == PERSIST_READY) {
        if (snapshot_tail_add(&p->tail, entry, len) != 0) {
            log_write(&p->srv->log, LOG_WARNING,
                      "Snapshot abandoned: a %zu-byte entry does not fit the "
                      "format",
                      len);
            discard_cut(p);
            return;
        }
        p->tail_count++;
    }
}

/* --- libraft's side ------------------------------------------------------- */

int persist_snapshot(struct persist *p, struct raft_buffer *bufs[],
                     unsigned *n_bufs)
{
    struct server *srv = p->srv;
    if (p->phase != PERSIST_READY) {
        /* libraft asked on its own (not expected: its threshold is held
         * at "never"): encode everything now. */
        if (p->phase == PERSIST_CUTTING) {
            discard_cut(p);
        }
        begin_cut(p);
        snapshot_encode_image(srv->store, p->cut_index, &p->image);
    }
    node_snapshot_hold(srv->node);
    p->taken_index = node_commit_index(srv->node);
    snapshot_tail_finish(&p->tail, p->taken_index, p->tail_count);
    *bufs = raft_malloc(2 * sizeof **bufs);
    if (*bufs == NULL) {
        discard_cut(p);
        return RAFT_NOMEM;
    }
    (*bufs)[0].base = p->image.data;
    (*bufs)[0].len = p->image.len;
    (*bufs)[1].base = p->tail.data;
    (*bufs)[1].len = p->tail.len;
    *n_bufs = 2;
    p->phase = PERSIST_TAKING;
    p->put_failed = false;
    return 0;
}

int persist_finalize(struct persist *p, struct raft_buffer *bufs[],
                     unsigned *n_bufs)
{
    struct server *srv = p->srv;
    uint64_t bytes = p->image.len + p->tail.len;
    raft_free(*bufs);
    *bufs = NULL;
    *n_bufs = 0;
    buf_free(&p->image);
    buf_free(&p->tail);
    p->phase = PERSIST_IDLE;
    if (p->put_failed) {
        p->last_ok = false;
        answer_waiters(p, 0, false, "ERR snapshot could not be written");
        return 0;
    }
    uint64_t now = server_time_ms();
    uint64_t term = 0, index = 0;
    char path[4096];
    persist_find_snapshot(srv->cfg.dir, p->taken_index, path, sizeof path,
                          &term, &index);
    p->snapshots_taken++;
    p->last_index = p->taken_index;
    p->last_term = term;
    p->last_bytes = bytes;
    p->last_duration_ms = now - p->cut_ms;
    p->last_time = now / 1000;
    p->lastsave = p->last_time;
    p->last_ok = true;
    log_write(&srv->log, LOG_NOTICE,
              "Snapshot taken at index %" PRIu64 " (term %" PRIu64
              "): %zu keys, %" PRIu64 " bytes in %" PRIu64
              " ms (image cut at index %" PRIu64 ", %" PRIu64
              " entries after it; fork %" PRIu64 " us)",
              p->last_index, term, store_size(srv->store), bytes,
              p->last_duration_ms, p->cut_index, p->applied_since,
              p->latest_fork_us);
    /* A request made after this snapshot's index was fixed (a BGSAVE
     * SCHEDULE while it was being written) stays pending: requested_at. */
    answer_waiters(p, p->last_index, true, NULL);
    return 0;
}

void persist_restored(struct persist *p, bool at_start, uint64_t index,
                      size_t keys)
{
    struct server *srv = p->srv;
    if (p->phase == PERSIST_CUTTING || p->phase == PERSIST_READY) {
        discard_cut(p);
    }
    p->applied_since = 0;
    uint64_t term = 0, found = 0;
    char file[4096];
    persist_find_snapshot(srv->cfg.dir, index, file, sizeof file, &term,
                          &found);
    struct stat st;
    p->last_index = index;
    p->last_term = term;
    p->last_bytes = file[0] && stat(file, &st) == 0 ? (uint64_t)st.st_size : 0;
    p->last_duration_ms = 0;
    p->last_time = server_time_ms() / 1000;
    p->lastsave = p->last_time;
    if (at_start) {
        log_write(&srv->log, LOG_NOTICE,
                  "Snapshot loaded at start from %s: %zu keys, index %" PRIu64
                  " (term %" PRIu64 ")",
                  file[0] ? file : "(unknown file)", keys, index, term);
    } else {
        p->snapshots_installed++;
        log_write(&srv->log, LOG_NOTICE,
                  "Snapshot installed from the leader at index %" PRIu64
                  " (term %" PRIu64 "): %zu keys",
                  index, term, keys);
    }
}

/* --- disk ----------------------------------------------------------------- */

void persist_disk_write(struct persist *p, uint64_t micros)
{
    p->fsync_count++;
    p->fsync_total_us += micros;
    p->fsync_last_us = micros;
    if (micros > p->fsync_max_us) {
        p->fsync_max_us = micros;
    }
}

void persist_snapshot_put_done(struct persist *p, int status)
{
    if (status != 0 && p->phase == PERSIST_TAKING) {
        p->put_failed = true;
    }
}

/* raft_uv names snapshots "snapshot-TERM-INDEX-TIMESTAMP" (+ ".meta"). */
void persist_find_snapshot(const char *dir, uint64_t index, char *path,
                           size_t len, uint64_t *term_out, uint64_t *index_out)
{
    path[0] = '\0';
    *term_out = 0;
    *index_out = 0;
    DIR *d = opendir(dir);
    if (d == NULL) {
        return;
    }
    uint64_t best_t = 0, best_i = 0, best_ts = 0;
    char best[256] = "";
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        unsigned long long t, i, ts;
        int used = 0;
        if (sscanf(e->d_name, "snapshot-%llu-%llu-%llu%n", &t, &i, &ts,
                   &used) != 3 ||
            e->d_name[used] != '\0') {
            continue; /* not a snapshot (or its .meta) */
        }
        if (index != 0 && i != index) {
            continue;
        }
        if (best[0] == '\0' || i > best_i || (i == best_i && t > best_t) ||
            (i == best_i && t == best_t && ts > best_ts)) {
            best_t = t;
            best_i = i;
            best_ts = ts;
            snprintf(best, sizeof best, "%s", e->d_name);
        }
    }
    closedir(d);
    if (best[0] != '\0') {
        snprintf(path, len, "%s/%s", dir, best);
        *term_out = best_t;
        *index_out = best_i;
    }
}

/* --- commands and INFO ---------------------------------------------------- */

void persist_save(struct persist *p, struct slot *slot, bool background,
                  bool schedule)
{
    struct server *srv = p->srv;
    bool running = p->phase != PERSIST_IDLE || p->reading;
    buf_clear(&slot->reply);
    if (running && !(background && schedule)) {
        reply_error(&slot->reply, "ERR Background save already in progress");
        conn_slot_ready(slot);
        return;
    }
    uint64_t applied = node_last_applied(srv->node);
    if (applied > p->requested_at) {
        p->requested_at = applied;
    }
    if (background) {
        reply_status(&slot->reply, running ? "Background saving scheduled"
                                           : "Background saving started");
        conn_slot_ready(slot);
    } else {
        struct save_waiter *w = xcalloc(1, sizeof *w);
        w->slot = slot;
        w->index = applied;
        w->next = p->waiters;
        p->waiters = w;
    }
    persist_tick(p);
}

void persist_info(struct persist *p, struct buf *b)
{
    struct server *srv = p->srv;
    bool running = p->phase != PERSIST_IDLE;
    uint64_t last = node_last_index(srv->node);
    uint64_t trailing = (uint64_t)srv->cfg.snapshot_trailing;
    uint64_t first = p->last_index > trailing ? p->last_index - trailing : 0;
    buf_printf(b,
               "loading:0\r\n"
               "snapshots_taken:%" PRIu64 "\r\n"
               "snapshots_installed:%" PRIu64 "\r\n"
               "snapshot_in_progress:%d\r\n"
               "last_snapshot_index:%" PRIu64 "\r\n"
               "last_snapshot_term:%" PRIu64 "\r\n"
               "last_snapshot_bytes:%" PRIu64 "\r\n"
               "last_snapshot_duration_ms:%" PRIu64 "\r\n"
               "last_snapshot_time:%" PRIu64 "\r\n"
               "log_entries:%" PRIu64 "\r\n"
               "fsync_count:%" PRIu64 "\r\n"
               "fsync_latency_avg_us:%" PRIu64 "\r\n"
               "fsync_latency_max_us:%" PRIu64 "\r\n"
               "fsync_latency_last_us:%" PRIu64 "\r\n"
               "rdb_bgsave_in_progress:%d\r\n"
               "rdb_last_save_time:%" PRIu64 "\r\n"
               "rdb_last_bgsave_status:%s\r\n"
               "latest_fork_usec:%" PRIu64 "\r\n",
               p->snapshots_taken, p->snapshots_installed, running ? 1 : 0,
               p->last_index, p->last_term, p->last_bytes, p->last_duration_ms,
               p->last_time, last > first ? last - first : 0, p->fsync_count,
               p->fsync_count ? p->fsync_total_us / p->fsync_count : 0,
               p->fsync_max_us, p->fsync_last_us, running ? 1 : 0, p->lastsave,
               p->last_ok ? "ok" : "err", p->latest_fork_us);
}
