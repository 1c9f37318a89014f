/* log: Redis-style log lines. */
#include "log.h"

#include <stdarg.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static const char *names[] = {"debug", "verbose", "notice", "warning"};
static const char marks[] = ".-*#";

int log_open(struct log *lg, int level, const char *path)
{
    lg->level = level;
    lg->role = 'S';
    lg->pid = getpid();
    if (path == NULL || path[0] == '\0') {
        lg->fp = stdout;
        return 0;
    }
    lg->fp = fopen(path, "a");
    return lg->fp ? 0 : -1;
}

void log_close(struct log *lg)
{
    if (lg->fp != NULL && lg->fp != stdout) {
        fclose(lg->fp);
    }
    lg->fp = NULL;
}

void log_write(struct log *lg, int level, const char *fmt, ...)
{
    if (level < lg->level || lg->fp == NULL) {
        return;
    }
    struct timeval tv;
    struct tm tm;
    char when[64];
    gettimeofday(&tv, NULL);
    localtime_r(&tv.tv_sec, &tm);
    size_t n = strftime(when, sizeof when, "%d %b %Y %H:%M:%S.", &tm);
    snprintf(when + n, sizeof when - n, "%03d", (int)(tv.tv_usec / 1000));
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(lg->fp, "%d:%c %s %c %s\n", (int)lg->pid, lg->role, when,
            marks[level], msg);
    fflush(lg->fp);
}

int log_level_parse(const char *name)
{
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(name, names[i]) == 0) {
            return i;
        }
    }
    return -1;
}

const char *log_level_name(int level)
{
    return names[level];
}
