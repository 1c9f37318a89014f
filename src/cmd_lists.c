/* cmd_lists: list commands (LPUSH, RPOP, LRANGE...). */
#include <limits.h>

#include "command.h"
#include "num.h"
#include "reply.h"
#include "store.h"

#include <stdlib.h>

/* The list at key, or NULL. Sets *wrong after replying WRONGTYPE. */
static struct value *get_list(struct cmd_ctx *c, int *wrong)
{
    struct value *v = store_get(c->store, c->argv[1], c->argvlen[1]);
    *wrong = 0;
    if (v != NULL && v->type != VALUE_LIST) {
        reply_error(c->reply, ERR_WRONGTYPE);
        *wrong = 1;
        return NULL;
    }
    return v;
}

/* Delete the key when its list became empty, as Redis does. */
static void drop_if_empty(struct cmd_ctx *c, struct value *v)
{
    if (value_list_len(v) == 0) {
        store_del(c->store, c->argv[1], c->argvlen[1]);
    }
}

static int parse_long(struct cmd_ctx *c, int i, long long *out)
{
    if (!num_parse_ll(c->argv[i], c->argvlen[i], out)) {
        reply_error(c->reply, ERR_NOT_INT);
        return -1;
    }
    return 0;
}

static void push(struct cmd_ctx *c, bool head, bool only_existing)
{
    int wrong;
    struct value *v = get_list(c, &wrong);
    if (wrong) {
        return;
    }
    if (v == NULL) {
        if (only_existing) {
            reply_int(c->reply, 0);
            return;
        }
        v = value_new_list();
        store_set(c->store, c->argv[1], c->argvlen[1], v);
    }
    for (int i = 2; i < c->argc; i++) {
        value_list_push(v, head, c->argv[i], c->argvlen[i]);
    }
    reply_int(c->reply, (long long)value_list_len(v));
}

void cmd_lpush(struct cmd_ctx *c)
{
    push(c, true, false);
}

void cmd_rpush(struct cmd_ctx *c)
{
    push(c, false, false);
}

void cmd_lpushx(struct cmd_ctx *c)
{
    push(c, true, true);
}

void cmd_rpushx(struct cmd_ctx *c)
{
    push(c, false, true);
}

/* LPOP/RPOP key [count] (popGenericCommand). */
static void pop(struct cmd_ctx *c, bool head)
{
    long long count = 0;
    bool hascount = c->argc == 3;
    if (c->argc > 3) {
        reply_arity_error(c->reply, head ? "lpop" : "rpop");
        return;
    }
    if (hascount &&
        (!num_parse_ll(c->argv[2], c->argvlen[2], &count) || count < 0)) {
        reply_error(c->reply, ERR_POSITIVE);
        return;
    }
    int wrong;
    struct value *v = get_list(c, &wrong);
    if (wrong) {
        return;
    }
    if (v == NULL) {
        if (hascount) {
            reply_nil_array(c->reply, c->resp);
        } else {
            reply_nil(c->reply, c->resp);
        }
        return;
    }
    if (hascount && count == 0) {
        reply_array(c->reply, 0);
        return;
    }
    if (!hascount) {
        struct lelem *e = value_list_pop(v, head);
        reply_bulk(c->reply, e->data, e->len);
        free(e);
    } else {
        size_t n = value_list_len(v);
        if ((unsigned long long)count < n) {
            n = (size_t)count;
        }
        reply_array(c->reply, (long long)n);
        for (size_t i = 0; i < n; i++) {
            struct lelem *e = value_list_pop(v, head);
            reply_bulk(c->reply, e->data, e->len);
            free(e);
        }
    }
    drop_if_empty(c, v);
}

void cmd_lpop(struct cmd_ctx *c)
{
    pop(c, true);
}

void cmd_rpop(struct cmd_ctx *c)
{
    pop(c, false);
}

void cmd_llen(struct cmd_ctx *c)
{
    int wrong;
    struct value *v = get_list(c, &wrong);
    if (!wrong) {
        reply_int(c->reply, v ? (long long)value_list_len(v) : 0);
    }
}

/* Turn a possibly negative index into a position, or -1 when outside. */
static long long position(long long idx, size_t len)
{
    if (idx < 0) {
        idx += (long long)len;
    }
    return (idx < 0 || idx >= (long long)len) ? -1 : idx;
}

void cmd_lindex(struct cmd_ctx *c)
{
    int wrong;
    struct value *v = get_list(c, &wrong);
    if (wrong) {
        return;
    }
    if (v == NULL) {
        reply_nil(c->reply, c->resp);
        return;
    }
    long long idx;
    if (parse_long(c, 2, &idx) != 0) {
        return;
    }
    long long pos = position(idx, value_list_len(v));
    if (pos < 0) {
        reply_nil(c->reply, c->resp);
        return;
    }
    struct lelem *e = value_list_at(v, (size_t)pos);
    reply_bulk(c->reply, e->data, e->len);
}

/* Redis's range clamping for LRANGE and LTRIM: returns false when the
 * range is empty, else sets [*start, *end] inside [0, len). */
static bool clamp_range(long long start, long long end, size_t len,
                        long long *s, long long *e)
{
    long long llen = (long long)len;
    if (start < 0) {
        start += llen;
    }
    if (end < 0) {
        end += llen;
    }
    if (start < 0) {
        start = 0;
    }
    if (start > end || start >= llen) {
        return false;
    }
    if (end >= llen) {
        end = llen - 1;
    }
    *s = start;
    *e = end;
    return true;
}

void cmd_lrange(struct cmd_ctx *c)
{
    long long start, end;
    if (parse_long(c, 2, &start) != 0 || parse_long(c, 3, &end) != 0) {
        return;
    }
    int wrong;
    struct value *v = get_list(c, &wrong);
    if (wrong) {
        return;
    }
    long long s, e;
    if (v == NULL || !clamp_range(start, end, value_list_len(v), &s, &e)) {
        reply_array(c->reply, 0);
        return;
    }
    reply_array(c->reply, e - s + 1);
    for (long long i = s; i <= e; i++) {
        struct lelem *el = value_list_at(v, (size_t)i);
        reply_bulk(c->reply, el->data, el->len);
    }
}

void cmd_lset(struct cmd_ctx *c)
{
    int wrong;
    struct value *v = get_list(c, &wrong);
    if (wrong) {
        return;
    }
    if (v == NULL) {
        reply_error(c->reply, ERR_NO_SUCH_KEY);
        return;
    }
    long long idx;
    if (parse_long(c, 2, &idx) != 0) {
        return;
    }
    long long pos = position(idx, value_list_len(v));
    if (pos < 0) {
        reply_error(c->reply, ERR_INDEX_RANGE);
        return;
    }
    value_list_set(v, (size_t)pos, c->argv[3], c->argvlen[3]);
    reply_ok(c->reply);
}

void cmd_lrem(struct cmd_ctx *c)
{
    long long count;
    if (parse_long(c, 2, &count) != 0) {
        return;
    }
    int wrong;
    struct value *v = get_list(c, &wrong);
    if (wrong) {
        return;
    }
    if (v == NULL) {
        reply_int(c->reply, 0);
        return;
    }
    size_t n = value_list_remove(v, count, c->argv[3], c->argvlen[3]);
    drop_if_empty(c, v);
    reply_int(c->reply, (long long)n);
}

void cmd_ltrim(struct cmd_ctx *c)
{
    long long start, end;
    if (parse_long(c, 2, &start) != 0 || parse_long(c, 3, &end) != 0) {
        return;
    }
    int wrong;
    struct value *v = get_list(c, &wrong);
    if (wrong) {
        return;
    }
    if (v != NULL) {
        long long s, e;
        if (clamp_range(start, end, value_list_len(v), &s, &e)) {
            value_list_trim(v, (size_t)s, (size_t)e);
        } else {
            value_list_trim(v, 1, 0);
        }
        drop_if_empty(c, v);
    }
    reply_ok(c->reply);
}
