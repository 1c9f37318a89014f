/* persist: background snapshots, SAVE/BGSAVE/LASTSAVE, INFO persistence.
 *
 * libraft 0.22's legacy mode produces snapshots on the loop thread (fsm v3
 * snapshot_async is called synchronously), and serialising a 1M-key
 * keyspace there stalls every client for a few hundred milliseconds. So we
 * decide when to snapshot ourselves and cut the image off the loop:
 *
 *  1. CUT: once `snapshot-threshold` entries were applied since the last
 *     cut (or SAVE/BGSAVE asked), fork(). The child streams the keyspace
 *     image (snapshot.h) into a pipe, from its copy-on-write view, and
 *     exits; a libuv work thread reads the pipe into memory. The parent
 *     keeps applying entries and copies each one into the snapshot's TAIL.
 *  2. READY: the image is complete. We lower raft's own snapshot threshold
 *     to 1, so libraft takes a snapshot at its next step; fsm->snapshot
 *     then hands over [image, tail] at once (no serialisation on the loop),
 *     and raft's threshold goes back to "never" (node_snapshot_hold).
 *  3. libraft writes the file in its thread pool, truncates the log
 *     (keeping `snapshot-trailing` entries) and calls snapshot_finalize
 *     (fsm v2), where the buffers are freed and the statistics recorded.
 *
 * Restoring applies the tail on top of the image, so image + tail is
 * exactly the state at the snapshot's index. If fork() fails the image is
 * encoded on the loop instead (logged). */
#ifndef PERSIST_H
#define PERSIST_H

#include <raft.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "buf.h"

struct server;
struct slot;
struct save_waiter;

enum persist_phase {
    PERSIST_IDLE,    /* no snapshot under way */
    PERSIST_CUTTING, /* child writing the image, tail growing */
    PERSIST_READY,   /* image complete, waiting for libraft to take it */
    PERSIST_TAKING,  /* libraft holds [image, tail] and writes them */
};

struct persist {
    struct server *srv;
    enum persist_phase phase;
    pid_t child;
    int fd;         /* read end of the child's pipe */
    uv_work_t work; /* reads the pipe into image */
    bool reading;   /* work queued and not yet done */
    bool abandoned; /* the cut in flight was discarded */
    int read_errno;
    struct buf incoming; /* the pipe's bytes, owned by the reader */
    struct buf image;
    struct buf tail;
    uint64_t tail_count;
    uint64_t applied_since; /* entries applied since the last cut */
    uint64_t cut_ms;
    uint64_t cut_index;
    uint64_t taken_index;
    uint64_t retry_at_ms;
    uint64_t requested_at; /* SAVE/BGSAVE: a snapshot must cover this */
    struct save_waiter *waiters;
    bool put_failed; /* the last snapshot write failed */
    /* Statistics (INFO persistence). */
    uint64_t snapshots_taken;
    uint64_t snapshots_installed;
    uint64_t last_index, last_term, last_bytes, last_duration_ms;
    uint64_t last_time; /* unix seconds */
    bool last_ok;
    uint64_t lastsave; /* LASTSAVE: last snapshot, or start time */
    uint64_t latest_fork_us;
    uint64_t fsync_count, fsync_total_us, fsync_max_us, fsync_last_us;
};

void persist_init(struct persist *p, struct server *srv);
/* Abandon any snapshot in progress and answer waiting SAVEs. */
void persist_close(struct persist *p);
/* Once per loop iteration: start a cut when one is due. */
void persist_tick(struct persist *p);
/* fsm apply hook: an entry was applied (it joins the tail during a cut). */
void persist_applied(struct persist *p, const void *entry, size_t len);

/* raft_fsm hooks (fsm.c forwards them). */
int persist_snapshot(struct persist *p, struct raft_buffer *bufs[],
                     unsigned *n_bufs);
int persist_finalize(struct persist *p, struct raft_buffer *bufs[],
                     unsigned *n_bufs);
/* A snapshot replaced the state: loaded at start or installed from the
 * leader (index and keys for the log and INFO). */
void persist_restored(struct persist *p, bool at_start, uint64_t index,
                      size_t keys);

/* Disk statistics and failures, reported by node's raft_io wrapper. */
void persist_disk_write(struct persist *p, uint64_t micros);
void persist_snapshot_put_done(struct persist *p, int status);

/* The newest raft snapshot file in dir ("" when none); its term and index
 * when the name parses. With index != 0 look for that index only. */
void persist_find_snapshot(const char *dir, uint64_t index, char *path,
                           size_t len, uint64_t *term_out, uint64_t *index_out);

/* Commands. */
void persist_save(struct persist *p, struct slot *slot, bool background,
                  bool schedule);
void persist_info(struct persist *p, struct buf *out);

#endif
