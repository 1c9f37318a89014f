/* reply: RESP2 encoders. */
#include "reply.h"

#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "num.h"

void reply_status(struct buf *b, const char *s)
{
    buf_append(b, "+", 1);
    buf_append_str(b, s);
    buf_append(b, "\r\n", 2);
}

void reply_ok(struct buf *b)
{
    buf_append(b, "+OK\r\n", 5);
}

void reply_error(struct buf *b, const char *msg)
{
    size_t n = strlen(msg);
    buf_append(b, "-", 1);
    char *p = buf_reserve(b, n);
    for (size_t i = 0; i < n; i++) {
        p[i] = (msg[i] == '\r' || msg[i] == '\n') ? ' ' : msg[i];
    }
    b->len += n;
    buf_append(b, "\r\n", 2);
}

void reply_errorf(struct buf *b, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    reply_error(b, msg);
}

static void prefixed_ll(struct buf *b, char prefix, long long v)
{
    char *p = buf_reserve(b, 24);
    p[0] = prefix;
    int n = num_format_ll(p + 1, v);
    p[n + 1] = '\r';
    p[n + 2] = '\n';
    b->len += (size_t)n + 3;
}

void reply_int(struct buf *b, long long v)
{
    prefixed_ll(b, ':', v);
}

void reply_bulk(struct buf *b, const void *p, size_t len)
{
    prefixed_ll(b, '$', (long long)len);
    buf_append(b, p, len);
    buf_append(b, "\r\n", 2);
}

void reply_bulk_str(struct buf *b, const char *s)
{
    reply_bulk(b, s, strlen(s));
}

void reply_bulk_ll(struct buf *b, long long v)
{
    char tmp[24];
    int n = num_format_ll(tmp, v);
    reply_bulk(b, tmp, (size_t)n);
}

void reply_null(struct buf *b)
{
    buf_append(b, "$-1\r\n", 5);
}

void reply_null_array(struct buf *b)
{
    buf_append(b, "*-1\r\n", 5);
}

void reply_array(struct buf *b, long long n)
{
    prefixed_ll(b, '*', n);
}

void reply_nil(struct buf *b, int resp)
{
    if (resp >= 3) {
        buf_append(b, "_\r\n", 3);
    } else {
        reply_null(b);
    }
}

void reply_nil_array(struct buf *b, int resp)
{
    if (resp >= 3) {
        buf_append(b, "_\r\n", 3);
    } else {
        reply_null_array(b);
    }
}

void reply_map(struct buf *b, long long n, int resp)
{
    if (resp >= 3) {
        prefixed_ll(b, '%', n);
    } else {
        prefixed_ll(b, '*', 2 * n);
    }
}

void reply_set(struct buf *b, long long n, int resp)
{
    prefixed_ll(b, resp >= 3 ? '~' : '*', n);
}

void reply_push(struct buf *b, long long n, int resp)
{
    prefixed_ll(b, resp >= 3 ? '>' : '*', n);
}

void reply_double(struct buf *b, double d, int resp)
{
    char tmp[64];
    int n;
    if (isinf(d)) {
        n = snprintf(tmp, sizeof tmp, "%s", d > 0 ? "inf" : "-inf");
    } else {
        n = snprintf(tmp, sizeof tmp, "%.17g", d);
    }
    if (resp >= 3) {
        buf_append(b, ",", 1);
        buf_append(b, tmp, (size_t)n);
        buf_append(b, "\r\n", 2);
    } else {
        reply_bulk(b, tmp, (size_t)n);
    }
}

void reply_verbatim(struct buf *b, const void *p, size_t len, int resp)
{
    if (resp < 3) {
        reply_bulk(b, p, len);
        return;
    }
    prefixed_ll(b, '=', (long long)len + 4);
    buf_append(b, "txt:", 4);
    buf_append(b, p, len);
    buf_append(b, "\r\n", 2);
}

void reply_arity_error(struct buf *b, const char *name)
{
    reply_errorf(b, "ERR wrong number of arguments for '%s' command", name);
}

void reply_subcommand_arity_error(struct buf *b, const char *cmd,
                                  const char *sub, size_t sublen)
{
    char name[64];
    snprintf(name, sizeof name, "%s|%.*s", cmd, (int)sublen, sub);
    for (char *p = name; *p; p++) {
        *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
    }
    reply_arity_error(b, name);
}
