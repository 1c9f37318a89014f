/* commitlog: the audit file of committed write commands (`commit-log`).
 *
 * Every committed command that is not a read is appended to one text file,
 * in log order, one line per command:
 *
 *   <index> <term> <command and arguments, each quoted as redis-cli does>
 *   1042 3 "SET" "k" "v"
 *
 * index is the raft index of the entry that carried the command (an entry
 * holds one loop tick's batch, so consecutive lines may share an index:
 * indexes never decrease, and the lines of one index are in the order the
 * entry applies them); term is the raft term it was proposed in (0 for a
 * version 1 entry: entry.h). Commands are logged as committed: internal
 * ones (RAFT.EXPIRE, RAFT.EXEC for MULTI/EXEC...) as they are, and a
 * command that failed when applied (WRONGTYPE...) too, since every node
 * applied it. Lines starting with '#' are comments:
 *
 *   # snapshot installed at index N: commands up to it are not in this file
 *   # snapshot loaded at start at index N: (the same)
 *   # write error: commands of indexes A to B are not in this file
 *
 * A snapshot comment is written when this node skipped entries the file
 * does not have (a snapshot installed from the leader, or loaded at start
 * past the file's end), so a gap is never silent; its N counts as the
 * file's last index. At open the tail of the file is read to find its last
 * index: entries libraft applies again after a restart (those after the
 * snapshot it starts from) are skipped, never written twice. A partial last
 * line (the process died mid-write) is cut off at open together with the
 * rest of its entry, which is then written again when re-applied, or
 * covered by a snapshot comment.
 *
 * Durability: the lines of an entry go to the file in one write(2) when the
 * entry has been applied, before the next entry is. There is no fsync: the
 * commit log is an audit aid, not part of Raft's durability, so a machine
 * crash may lose its last lines (a process crash does not). For the same
 * reason a write error never stops the node: it logs one warning, drops
 * lines until a write succeeds again, then writes the "write error"
 * comment naming what is missing and goes on.
 *
 * The file is locked (flock) while open: a second process given the same
 * path refuses to start instead of interleaving lines.
 *
 * struct commitlog is owned by the server (embedded in struct server); it
 * owns its file descriptor, a copy of the path and the line buffer, all
 * released by commitlog_close. A zeroed struct is a closed commit log that
 * ignores every call. The server's log it warns through is borrowed. */
#ifndef COMMITLOG_H
#define COMMITLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct log;

struct commitlog {
    struct log *log; /* borrowed: the server's */
    char *path;      /* owned copy; NULL while closed */
    int fd;
    uint64_t size;  /* bytes in the file, as this process wrote them */
    uint64_t last;  /* the last index the file accounts for */
    uint64_t index; /* the entry being written (commitlog_begin) */
    uint64_t term;
    bool writing; /* between begin and end, for an entry not in the file */
    char *out;    /* sds: the lines of the entry being written */
    int err;      /* errno of the write that failed, while failing */
    uint64_t missing_from; /* while failing: first index not written */
    uint32_t entry_lines;  /* command lines of the entry being written */
};

/* Open (create) path for appending and find the last index it has; cut a
 * partial last line (logged). Returns 0, or -1 after logging why. */
int commitlog_open(struct commitlog *cl, const char *path, struct log *log);
void commitlog_close(struct commitlog *cl);
bool commitlog_enabled(const struct commitlog *cl);
/* Start the entry at index, proposed in term. Returns true when its
 * commands are to be logged (commitlog_add, then commitlog_end): the log is
 * open and the file does not have the entry yet. */
bool commitlog_begin(struct commitlog *cl, uint64_t index, uint64_t term);
/* One command of the entry (only after commitlog_begin returned true). */
void commitlog_add(struct commitlog *cl, int argc, const char *const *argv,
                   const size_t *argvlen);
/* Write the entry's lines to the file. */
void commitlog_end(struct commitlog *cl);
/* The state machine now holds everything up to index from a snapshot
 * (installed from the leader, or loaded at start when at_start): when the
 * file ends before index, write the comment that says so. */
void commitlog_snapshot(struct commitlog *cl, uint64_t index, bool at_start);

#endif
