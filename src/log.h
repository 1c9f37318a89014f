/* log: Redis-style log lines.
 *
 * Every line has redis-server's format:
 *   pid:role dd Mon yyyy hh:mm:ss.mmm <level-char> message
 * with role 'M' while this node leads, 'S' otherwise, and level chars '.'
 * (debug), '-' (verbose), '*' (notice), '#' (warning). A struct log is owned
 * by the server; the file it opened is closed by log_close. */
#ifndef LOG_H
#define LOG_H

#include <stdio.h>
#include <sys/types.h>

enum log_level { LOG_DEBUG = 0, LOG_VERBOSE, LOG_NOTICE, LOG_WARNING };

struct log {
    int level;
    FILE *fp;
    char role;
    pid_t pid;
};

/* Open the log: path NULL or "" means standard output. Returns 0 or -1. */
int log_open(struct log *lg, int level, const char *path);
void log_close(struct log *lg);
void log_write(struct log *lg, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Parse a level name; returns -1 when unknown. */
int log_level_parse(const char *name);
const char *log_level_name(int level);

#endif
