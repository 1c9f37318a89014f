/* cmd_lists: list commands (LPUSH, RPOP, LRANGE, LPOS, LMOVE...). */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "command.h"
#include "mem.h"
#include "num.h"
#include "reply.h"
#include "store.h"

/* The list at the key argv[i], or NULL. Sets *wrong after replying
 * WRONGTYPE. */
static struct value *get_list_at(struct cmd_ctx *c, int i, bool *wrong)
{
    return command_get_typed(c, i, VALUE_LIST, wrong);
}

/* The list at the key argv[1] (see get_list_at). */
static struct value *get_list(struct cmd_ctx *c, bool *wrong)
{
    return get_list_at(c, 1, wrong);
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
    bool wrong;
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
    bool wrong;
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
    bool wrong;
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
    bool wrong;
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
    bool wrong;
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
    bool wrong;
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
    bool wrong;
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
    bool wrong;
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

/* Whether list element e holds exactly the n bytes at p. */
static bool elem_equal(const struct lelem *e, const void *p, size_t n)
{
    return e->len == n && memcmp(e->data, p, n) == 0;
}

/* LPOS's numeric options: a plain integer (RANK), or one that must not be
 * negative, whose parse errors all say msg (COUNT, MAXLEN). */
static int lpos_option(struct cmd_ctx *c, int i, const char *msg,
                       long long *out)
{
    if (!num_parse_ll(c->argv[i], c->argvlen[i], out)) {
        reply_error(c->reply, msg ? msg : ERR_NOT_INT);
        return -1;
    }
    if (msg != NULL && *out < 0) {
        reply_error(c->reply, msg);
        return -1;
    }
    return 0;
}

/* LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]
 *
 * As Redis 7.0's lposCommand, including its arithmetic: a negative RANK
 * scans from the tail, RANK -2^63 (whose negation overflows) accepts every
 * match and makes COUNT unbounded, COUNT 0 means all matches, MAXLEN 0 no
 * limit on the elements compared. */
void cmd_lpos(struct cmd_ctx *c)
{
    long long rank = 1, count = -1, maxlen = 0; /* count -1: no COUNT */
    for (int j = 3; j < c->argc; j++) {
        const char *opt = c->argv[j];
        size_t olen = c->argvlen[j];
        bool more = j + 1 < c->argc;
        if (more && arg_is(opt, olen, "rank")) {
            if (lpos_option(c, ++j, NULL, &rank) != 0) {
                return;
            }
            if (rank == 0) {
                reply_error(c->reply,
                            "ERR RANK can't be zero: use 1 to start from the "
                            "first match, 2 from the second ... or use "
                            "negative to start from the end of the list");
                return;
            }
        } else if (more && arg_is(opt, olen, "count")) {
            if (lpos_option(c, ++j, "ERR COUNT can't be negative", &count) !=
                0) {
                return;
            }
        } else if (more && arg_is(opt, olen, "maxlen")) {
            if (lpos_option(c, ++j, "ERR MAXLEN can't be negative", &maxlen) !=
                0) {
                return;
            }
        } else {
            reply_error(c->reply, ERR_SYNTAX);
            return;
        }
    }
    bool from_tail = rank < 0;
    if (from_tail && rank != LLONG_MIN) {
        rank = -rank;
    }
    bool wrong;
    struct value *v = get_list(c, &wrong);
    if (wrong) {
        return;
    }
    if (v == NULL) {
        if (count != -1) {
            reply_array(c->reply, 0);
        } else {
            reply_nil(c->reply, c->resp);
        }
        return;
    }

    size_t len = value_list_len(v);
    long long matches = 0, found = -1, emitted = 0;
    struct buf out;
    buf_init(&out);
    for (size_t i = 0; i < len && (maxlen == 0 || (long long)i < maxlen); i++) {
        size_t pos = from_tail ? len - 1 - i : i;
        if (!elem_equal(value_list_at(v, pos), c->argv[2], c->argvlen[2])) {
            continue;
        }
        matches++;
        if (matches < rank) {
            continue;
        }
        found = (long long)pos;
        if (count == -1) {
            break;
        }
        reply_int(&out, found);
        emitted++;
        /* matches - rank + 1 with Redis's wrap-around for rank -2^63. */
        long long got = (long long)((unsigned long long)matches -
                                    (unsigned long long)rank + 1u);
        if (count != 0 && got >= count) {
            break;
        }
    }
    if (count != -1) {
        reply_array(c->reply, emitted);
        buf_append(c->reply, out.data, out.len);
    } else if (found != -1) {
        reply_int(c->reply, found);
    } else {
        reply_nil(c->reply, c->resp);
    }
    buf_free(&out);
}

/* Insert a copy of the n bytes at p so that it becomes element idx
 * (0 <= idx <= len) of list v, moving the shorter side's elements. */
static void list_insert(struct value *v, size_t idx, const void *p, size_t n)
{
    size_t len = value_list_len(v);
    bool head = idx <= len / 2;
    size_t moved = head ? idx : len - idx;
    struct lelem **tmp = xmalloc((moved ? moved : 1) * sizeof *tmp);
    for (size_t i = 0; i < moved; i++) {
        tmp[i] = value_list_pop(v, head);
    }
    value_list_push(v, head, p, n);
    for (size_t i = moved; i-- > 0;) {
        value_list_push(v, head, tmp[i]->data, tmp[i]->len);
        free(tmp[i]);
    }
    free(tmp);
}

/* LINSERT key BEFORE|AFTER pivot element: the new length, 0 when the key
 * does not exist, -1 when pivot is not in the list. */
void cmd_linsert(struct cmd_ctx *c)
{
    bool after;
    if (arg_is(c->argv[2], c->argvlen[2], "after")) {
        after = true;
    } else if (arg_is(c->argv[2], c->argvlen[2], "before")) {
        after = false;
    } else {
        reply_error(c->reply, ERR_SYNTAX);
        return;
    }
    bool wrong;
    struct value *v = get_list(c, &wrong);
    if (wrong) {
        return;
    }
    if (v == NULL) {
        reply_int(c->reply, 0);
        return;
    }
    size_t len = value_list_len(v);
    size_t i = 0;
    while (i < len &&
           !elem_equal(value_list_at(v, i), c->argv[3], c->argvlen[3])) {
        i++;
    }
    if (i == len) {
        reply_int(c->reply, -1);
        return;
    }
    list_insert(v, after ? i + 1 : i, c->argv[4], c->argvlen[4]);
    reply_int(c->reply, (long long)value_list_len(v));
}

/* Parse LEFT / RIGHT into *head; replies a syntax error otherwise. */
static int parse_side(struct cmd_ctx *c, int i, bool *head)
{
    if (arg_is(c->argv[i], c->argvlen[i], "left")) {
        *head = true;
    } else if (arg_is(c->argv[i], c->argvlen[i], "right")) {
        *head = false;
    } else {
        reply_error(c->reply, ERR_SYNTAX);
        return -1;
    }
    return 0;
}

/* Pop from one end of the list at argv[1] and push onto one end of the
 * list at argv[2] (created when absent); reply the element, or nil when
 * the source does not exist. Source and destination may be the same list
 * (a rotation). An emptied source is deleted. */
static void lmove(struct cmd_ctx *c, bool from_head, bool to_head)
{
    bool wrong;
    struct value *src = get_list_at(c, 1, &wrong);
    if (wrong) {
        return;
    }
    if (src == NULL) {
        reply_nil(c->reply, c->resp);
        return;
    }
    struct value *dst = get_list_at(c, 2, &wrong);
    if (wrong) {
        return;
    }
    struct lelem *e = value_list_pop(src, from_head);
    if (dst == NULL) {
        dst = value_new_list();
        store_set(c->store, c->argv[2], c->argvlen[2], dst);
    }
    value_list_push(dst, to_head, e->data, e->len);
    reply_bulk(c->reply, e->data, e->len);
    free(e);
    if (value_list_len(src) == 0) {
        store_del(c->store, c->argv[1], c->argvlen[1]);
    }
}

/* LMOVE source destination LEFT|RIGHT LEFT|RIGHT */
void cmd_lmove(struct cmd_ctx *c)
{
    bool from_head, to_head;
    if (parse_side(c, 3, &from_head) != 0 || parse_side(c, 4, &to_head) != 0) {
        return;
    }
    lmove(c, from_head, to_head);
}

/* RPOPLPUSH source destination: LMOVE source destination RIGHT LEFT. */
void cmd_rpoplpush(struct cmd_ctx *c)
{
    lmove(c, false, true);
}
