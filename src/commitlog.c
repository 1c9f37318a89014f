/* commitlog: the audit file of committed write commands (see commitlog.h). */
#include "commitlog.h"

#include <errno.h>
#include <fcntl.h>
#include <hiredis/sds.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "mem.h"

/* Bytes read at a time when walking the file backwards. */
#define COMMITLOG_CHUNK 65536
/* Enough of a line's start to tell its kind and index. */
#define COMMITLOG_HEAD 96

enum line_kind {
    LINE_NONE,     /* no line left before the position */
    LINE_COMMAND,  /* "<index> <term> ..." */
    LINE_SNAPSHOT, /* "# snapshot ... at index N..." */
    LINE_COMMENT,  /* any other '#' line, or an empty one */
    LINE_BAD,      /* not a commit log line */
};

bool commitlog_enabled(const struct commitlog *cl)
{
    return cl->path != NULL;
}

/* pread all of len bytes at off. Returns 0, or -1 (errno set). */
static int read_at(int fd, void *p, size_t len, uint64_t off)
{
    while (len > 0) {
        ssize_t n = pread(fd, p, len, (off_t)off);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            if (n == 0) {
                errno = EIO; /* the file shrank under us */
            }
            return -1;
        }
        p = (char *)p + n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return 0;
}

/* Where the line holding byte end-1 starts: just after the last '\n' in
 * [0, end), or 0. Returns 0, or -1 on a read error. */
static int line_start(int fd, uint64_t end, uint64_t *start)
{
    char *chunk = xmalloc(COMMITLOG_CHUNK);
    uint64_t pos = end;
    int rv = 0;
    *start = 0;
    while (pos > 0) {
        size_t n = pos < COMMITLOG_CHUNK ? (size_t)pos : COMMITLOG_CHUNK;
        if (read_at(fd, chunk, n, pos - n) != 0) {
            rv = -1;
            break;
        }
        char *nl = memrchr(chunk, '\n', n);
        if (nl != NULL) {
            *start = pos - n + (uint64_t)(nl - chunk) + 1;
            break;
        }
        pos -= n;
    }
    free(chunk);
    return rv;
}

/* Parse an unsigned decimal at *p, advancing it. Returns 0, or -1 when
 * there are no digits or the number overflows. */
static int parse_u64(const char **p, uint64_t *out)
{
    const char *s = *p;
    uint64_t v = 0;
    if (*s < '0' || *s > '9') {
        return -1;
    }
    for (; *s >= '0' && *s <= '9'; s++) {
        if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10) {
            return -1;
        }
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *p = s;
    *out = v;
    return 0;
}

/* The kind of a line from its first bytes (NUL-terminated), and the index
 * a command or snapshot line accounts for. */
static enum line_kind classify(const char *head, uint64_t *index)
{
    const char *p = head;
    uint64_t term;
    if (*p == '\0' || *p == '#') {
        const char *at = strstr(p, " at index ");
        if (strncmp(p, "# snapshot ", 11) == 0 && at != NULL) {
            p = at + strlen(" at index ");
            if (parse_u64(&p, index) == 0) {
                return LINE_SNAPSHOT;
            }
        }
        return LINE_COMMENT;
    }
    if (parse_u64(&p, index) == 0 && *p++ == ' ' && parse_u64(&p, &term) == 0 &&
        *p == ' ') {
        return LINE_COMMAND;
    }
    return LINE_BAD;
}

/* The last command or snapshot line that ends before end (end is just past
 * a '\n', or 0): its kind (LINE_NONE when there is none), index and start
 * offset. Comment lines are passed over. Returns 0, or -1 on a read error
 * (errno set). */
static int last_line(int fd, uint64_t end, enum line_kind *kind,
                     uint64_t *index, uint64_t *start)
{
    *kind = LINE_NONE;
    *index = 0;
    while (end > 0) {
        char head[COMMITLOG_HEAD];
        if (line_start(fd, end - 1, start) != 0) {
            return -1;
        }
        size_t n = end - 1 - *start;
        n = n < sizeof head - 1 ? n : sizeof head - 1;
        if (read_at(fd, head, n, *start) != 0) {
            return -1;
        }
        head[n] = '\0';
        *kind = classify(head, index);
        if (*kind != LINE_COMMENT) {
            return 0;
        }
        end = *start;
    }
    *kind = LINE_NONE;
    return 0;
}

/* The file does not end in '\n': the process died while writing an entry.
 * Cut the partial line and the rest of the entry it may belong to (the
 * last command lines sharing one index): the entry is written again when
 * libraft re-applies it, or is covered by a snapshot comment. Returns 0,
 * -1 on a read or truncate error (errno set), or 1, having changed
 * nothing, when the file is not a commit log: *bad_at is then the offset
 * of the line that says so. */
static int cut_partial_entry(struct commitlog *cl, uint64_t *bad_at)
{
    uint64_t cut, index, start, first;
    enum line_kind kind;
    char c;
    if (line_start(cl->fd, cl->size, &cut) != 0 ||
        read_at(cl->fd, &c, 1, cut) != 0) {
        return -1;
    }
    /* What a line of ours starts with, whatever byte it was cut at. */
    if (c != '#' && (c < '0' || c > '9')) {
        *bad_at = cut;
        return 1;
    }
    if (last_line(cl->fd, cut, &kind, &first, &start) != 0) {
        return -1;
    }
    if (kind == LINE_BAD) {
        *bad_at = start;
        return 1;
    }
    uint64_t torn = cl->size - cut;
    if (kind == LINE_COMMAND) {
        do {
            cut = start;
            if (last_line(cl->fd, cut, &kind, &index, &start) != 0) {
                return -1;
            }
        } while (kind == LINE_COMMAND && index == first);
    }
    if (ftruncate(cl->fd, (off_t)cut) != 0) {
        return -1;
    }
    log_write(cl->log, LOG_WARNING,
              "Commit log %s ended in a partial line (%" PRIu64
              " bytes): cut it and the rest of its entry (%" PRIu64
              " bytes in all); they are written again if re-applied",
              cl->path, torn, cl->size - cut);
    cl->size = cut;
    return 0;
}

int commitlog_open(struct commitlog *cl, const char *path, struct log *log)
{
    memset(cl, 0, sizeof *cl);
    cl->log = log;
    cl->fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (cl->fd < 0) {
        log_write(log, LOG_WARNING, "Can't open the commit log %s: %s", path,
                  strerror(errno));
        return -1;
    }
    cl->path = xstrdup(path);
    /* One writer per file: another node (or this one, still running)
     * appending too would interleave lines, and the cut below would
     * truncate its entry. */
    if (flock(cl->fd, LOCK_EX | LOCK_NB) != 0) {
        log_write(log, LOG_WARNING,
                  "Commit log %s is in use by another process (%s)", path,
                  strerror(errno));
        goto err_logged;
    }
    struct stat st;
    if (fstat(cl->fd, &st) != 0) {
        goto err;
    }
    if (!S_ISREG(st.st_mode)) {
        log_write(log, LOG_WARNING, "Commit log %s is not a regular file",
                  path);
        goto err_logged;
    }
    cl->size = (uint64_t)st.st_size;
    char lastc = '\n';
    if (cl->size > 0 && read_at(cl->fd, &lastc, 1, cl->size - 1) != 0) {
        goto err;
    }
    enum line_kind kind = LINE_NONE;
    uint64_t start = 0;
    if (lastc != '\n') {
        int rv = cut_partial_entry(cl, &start);
        if (rv < 0) {
            goto err;
        }
        kind = rv > 0 ? LINE_BAD : LINE_NONE;
    }
    if (kind != LINE_BAD &&
        last_line(cl->fd, cl->size, &kind, &cl->last, &start) != 0) {
        goto err;
    }
    if (kind == LINE_BAD) {
        log_write(log, LOG_WARNING,
                  "Commit log %s: the line at byte %" PRIu64
                  " is not a commit log line (\"<index> <term> ...\" or a "
                  "'#' comment): refusing to append to this file",
                  path, start);
        goto err_logged;
    }
    cl->out = sdsempty();
    if (cl->size == 0) {
        log_write(log, LOG_NOTICE, "Commit log %s opened (empty)", path);
    } else {
        log_write(log, LOG_NOTICE,
                  "Commit log %s opened: it ends at index %" PRIu64
                  " (entries up to it are not written again)",
                  path, cl->last);
    }
    return 0;

err:
    log_write(log, LOG_WARNING, "Can't read the commit log %s: %s", path,
              strerror(errno));
err_logged:
    close(cl->fd);
    free(cl->path);
    cl->path = NULL;
    return -1;
}

void commitlog_close(struct commitlog *cl)
{
    if (cl->path == NULL) {
        return;
    }
    close(cl->fd);
    free(cl->path);
    sdsfree(cl->out);
    memset(cl, 0, sizeof *cl);
}

/* Append cl->out to the file in one write (retried only while it makes
 * progress). On failure cut what part of it got in, and remember from
 * which index lines are missing; warn once per run of failures. */
static void write_out(struct commitlog *cl, uint64_t index)
{
    const char *p = cl->out;
    size_t left = sdslen(cl->out);
    while (left > 0) {
        ssize_t n = write(cl->fd, p, left);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            int err = n < 0 ? errno : EIO;
            /* Cut what part got in: a partial entry could look complete.
             * If even that fails, the next open cuts a partial line. */
            if (ftruncate(cl->fd, (off_t)cl->size) != 0) {
                /* nothing more to do here */
            }
            if (cl->missing_from == 0) {
                cl->missing_from = index;
                cl->err = err;
                log_write(cl->log, LOG_WARNING,
                          "Commit log %s: write failed at index %" PRIu64
                          " (%s); commands are missing from the file until a "
                          "write succeeds again (the node goes on)",
                          cl->path, index, strerror(err));
            }
            return;
        }
        p += n;
        left -= (size_t)n;
    }
    cl->size += sdslen(cl->out);
    if (cl->missing_from != 0) {
        log_write(cl->log, LOG_NOTICE,
                  "Commit log %s: writing again from index %" PRIu64
                  " (indexes %" PRIu64 " to %" PRIu64 " are missing)",
                  cl->path, index, cl->missing_from, index - 1);
        cl->missing_from = 0;
        cl->err = 0;
    }
}

/* Start cl->out with the write-error comment when earlier lines were lost
 * (the comment goes out with the next lines, or not at all). */
static void begin_out(struct commitlog *cl, uint64_t index)
{
    sdsclear(cl->out);
    cl->entry_lines = 0;
    if (cl->missing_from != 0) {
        cl->out = sdscatfmt(cl->out,
                            "# write error: commands of indexes %U to %U "
                            "are not in this file\n",
                            (unsigned long long)cl->missing_from,
                            (unsigned long long)(index - 1));
    }
}

bool commitlog_begin(struct commitlog *cl, uint64_t index, uint64_t term)
{
    cl->writing = cl->path != NULL && index > cl->last;
    if (cl->writing) {
        cl->index = index;
        cl->term = term;
        begin_out(cl, index);
    }
    return cl->writing;
}

/* Append p quoted exactly as sdscatrepr quotes it (redis-cli's form, in
 * the C locale: printable ASCII as is; \\ \" \n \r \t \a \b; any
 * other byte as \xHH), but whole runs of plain bytes at once: sdscatrepr
 * formats every byte with sdscatprintf, 45 ms per MiB here, which a large
 * value would spend on the event loop. */
static sds cat_repr(sds s, const char *p, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    s = sdscatlen(s, "\"", 1);
    size_t i = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && p[j] >= 0x20 && p[j] < 0x7f && p[j] != '\\' &&
               p[j] != '"') {
            j++;
        }
        s = sdscatlen(s, p + i, j - i);
        if (j == len) {
            break;
        }
        unsigned char c = (unsigned char)p[j];
        char esc[4] = {'\\', 0, 0, 0};
        size_t n = 2;
        switch (c) {
        case '\\':
        case '"':
            esc[1] = (char)c;
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        case '\a':
            esc[1] = 'a';
            break;
        case '\b':
            esc[1] = 'b';
            break;
        default:
            esc[1] = 'x';
            esc[2] = hex[c >> 4];
            esc[3] = hex[c & 15];
            n = 4;
        }
        s = sdscatlen(s, esc, n);
        i = j + 1;
    }
    return sdscatlen(s, "\"", 1);
}

void commitlog_add(struct commitlog *cl, int argc, const char *const *argv,
                   const size_t *argvlen)
{
    if (!cl->writing) {
        return;
    }
    cl->out = sdscatfmt(cl->out, "%U %U", (unsigned long long)cl->index,
                        (unsigned long long)cl->term);
    for (int i = 0; i < argc; i++) {
        cl->out = sdscatlen(cl->out, " ", 1);
        cl->out = cat_repr(cl->out, argv[i], argvlen[i]);
    }
    cl->out = sdscatlen(cl->out, "\n", 1);
    cl->entry_lines++;
}

void commitlog_end(struct commitlog *cl)
{
    if (!cl->writing) {
        return;
    }
    cl->writing = false;
    cl->last = cl->index;
    /* An entry with no logged command (reads only) writes nothing, not
     * even a pending write-error comment. */
    if (cl->entry_lines > 0) {
        write_out(cl, cl->index);
    }
    sdsclear(cl->out);
}

void commitlog_snapshot(struct commitlog *cl, uint64_t index, bool at_start)
{
    if (cl->path == NULL || index <= cl->last) {
        return;
    }
    begin_out(cl, index);
    cl->out = sdscatfmt(cl->out,
                        "# snapshot %s at index %U: commands up to it are "
                        "not in this file\n",
                        at_start ? "loaded at start" : "installed",
                        (unsigned long long)index);
    write_out(cl, index);
    sdsclear(cl->out);
    cl->last = index;
}
