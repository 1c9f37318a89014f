/* cmd_zsets: sorted set commands (ZADD, ZINCRBY, ZREM, ZPOPMIN, ZRANGE and
 * its BYSCORE/BYLEX/REV forms, ZRANK, ZCOUNT...), with redis-server 7.0's
 * replies and errors.
 *
 * Scores are doubles formatted as Redis 7.0's addReplyDouble (reply.h).
 * A zero score is stored as +0: Redis keeps small sorted sets in a listpack
 * that writes 0 for -0 (the reply of the command that computed -0 still
 * says -0, as Redis's does). An emptied sorted set is deleted. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "command.h"
#include "mem.h"
#include "num.h"
#include "reply.h"
#include "store.h"
#include "zset.h"

#define ERR_NOT_FLOAT   "ERR value is not a valid float"
#define ERR_NAN         "ERR resulting score is not a number (NaN)"
#define ERR_RANGE_FLOAT "ERR min or max is not a float"
#define ERR_RANGE_LEX   "ERR min or max not valid string range item"
#define ERR_XX_NX       "ERR XX and NX options at the same time are not compatible"
#define ERR_GT_LT_NX                                                           \
    "ERR GT, LT, and/or NX options at the same time are not compatible"
#define ERR_INCR_PAIR "ERR INCR option supports a single increment-element pair"
#define ERR_LIMIT_RANK                                                         \
    "ERR syntax error, LIMIT is only supported in combination with either "    \
    "BYSCORE or BYLEX"
#define ERR_WITHSCORES_LEX                                                     \
    "ERR syntax error, WITHSCORES not supported in combination with BYLEX"

/* The sorted set at the key argv[i], or NULL. Sets *wrong after replying
 * WRONGTYPE. */
static struct value *get_zset(struct cmd_ctx *c, int i, bool *wrong)
{
    return command_get_typed(c, i, VALUE_ZSET, wrong);
}

/* Delete the key argv[1] when its sorted set became empty. */
static void drop_if_empty(struct cmd_ctx *c, struct value *v)
{
    if (zset_len(v->zset) == 0) {
        store_del(c->store, c->argv[1], c->argvlen[1]);
    }
}

/* Arguments are not NUL-terminated during apply (they point into the log
 * entry); Redis's are, and its parsers stop at the first NUL. A copy with
 * the terminator: in small, or allocated (freed by cstr_free). */
struct cstr {
    char small[128];
    char *p;
};

static char *cstr_of(struct cstr *t, const char *s, size_t len)
{
    t->p = len < sizeof t->small ? t->small : xmalloc(len + 1);
    memcpy(t->p, s, len);
    t->p[len] = '\0';
    return t->p;
}

static void cstr_free(struct cstr *t)
{
    if (t->p != t->small) {
        free(t->p);
    }
}

/* Redis's string2d: the whole argument is a strtod number, no leading
 * space, no overflow to infinity or underflow to zero, not NaN. */
static bool parse_double(const char *arg, size_t len, double *out)
{
    struct cstr t;
    const char *s = cstr_of(&t, arg, len);
    char *end;
    errno = 0;
    double d = strtod(s, &end);
    bool ok = !(len == 0 || isspace((unsigned char)s[0]) ||
                (size_t)(end - s) != len ||
                (errno == ERANGE && (d == HUGE_VAL || d == -HUGE_VAL ||
                                     fpclassify(d) == FP_ZERO)) ||
                isnan(d));
    cstr_free(&t);
    if (ok) {
        *out = d;
    }
    return ok;
}

/* What the store keeps for score s (see the header comment). */
static double stored(double s)
{
    return s == 0 ? 0.0 : s;
}

/* One bound of zslParseRange: "(x" exclusive, "x" inclusive, parsed by
 * strtod up to the argument's first NUL (so "" is 0, as in Redis 7.0). */
static bool parse_score_bound(const char *arg, size_t len, double *d, bool *ex)
{
    struct cstr t;
    const char *s = cstr_of(&t, arg, len);
    char *end;
    *ex = s[0] == '(';
    *d = strtod(s + (*ex ? 1 : 0), &end);
    bool ok = end[0] == '\0' && !isnan(*d);
    cstr_free(&t);
    return ok;
}

static bool parse_score_range(struct cmd_ctx *c, int min, int max,
                              struct zset_range *r)
{
    return parse_score_bound(c->argv[min], c->argvlen[min], &r->min,
                             &r->minex) &&
           parse_score_bound(c->argv[max], c->argvlen[max], &r->max, &r->maxex);
}

/* One bound of zslParseLexRange: "-", "+", "[member" or "(member". */
static bool parse_lex_bound(const char *s, size_t len, struct zset_lex_bound *b)
{
    b->p = NULL;
    b->len = 0;
    b->inf = 0;
    if (len == 0) {
        return false;
    }
    switch (s[0]) {
    case '+':
    case '-':
        if (len > 1 && s[1] != '\0') {
            return false;
        }
        b->inf = s[0] == '+' ? 1 : -1;
        b->ex = true;
        return true;
    case '(':
    case '[':
        b->ex = s[0] == '(';
        b->p = s + 1;
        b->len = len - 1;
        return true;
    default:
        return false;
    }
}

static bool parse_lex_range(struct cmd_ctx *c, int min, int max,
                            struct zset_lex_range *r)
{
    return parse_lex_bound(c->argv[min], c->argvlen[min], &r->min) &&
           parse_lex_bound(c->argv[max], c->argvlen[max], &r->max);
}

/* --- ZADD, ZINCRBY, ZREM ------------------------------------------------- */

#define ZADD_NX   1u
#define ZADD_XX   2u
#define ZADD_GT   4u
#define ZADD_LT   8u
#define ZADD_CH   16u
#define ZADD_INCR 32u

/* zaddGenericCommand: ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member
 * ..., and ZINCRBY key increment member (flags ZADD_INCR). Every argument
 * is checked before the key is touched: the command runs whole or not. */
static void zadd_generic(struct cmd_ctx *c, unsigned flags)
{
    static const struct {
        const char *word;
        unsigned flag;
    } opts[] = {{"nx", ZADD_NX},     {"xx", ZADD_XX}, {"ch", ZADD_CH},
                {"incr", ZADD_INCR}, {"gt", ZADD_GT}, {"lt", ZADD_LT}};
    int idx = 2;
    for (; idx < c->argc; idx++) {
        size_t i = 0;
        while (i < sizeof opts / sizeof opts[0] &&
               !arg_is(c->argv[idx], c->argvlen[idx], opts[i].word)) {
            i++;
        }
        if (i == sizeof opts / sizeof opts[0]) {
            break;
        }
        flags |= opts[i].flag;
    }
    int elements = c->argc - idx;
    if (elements == 0 || elements % 2 != 0) {
        reply_error(c->reply, ERR_SYNTAX);
        return;
    }
    elements /= 2;
    bool nx = flags & ZADD_NX, xx = flags & ZADD_XX, gt = flags & ZADD_GT,
         lt = flags & ZADD_LT, incr = flags & ZADD_INCR;
    if (nx && xx) {
        reply_error(c->reply, ERR_XX_NX);
        return;
    }
    if ((gt && nx) || (lt && nx) || (gt && lt)) {
        reply_error(c->reply, ERR_GT_LT_NX);
        return;
    }
    if (incr && elements > 1) {
        reply_error(c->reply, ERR_INCR_PAIR);
        return;
    }
    for (int j = 0; j < elements; j++) {
        double d;
        int a = idx + 2 * j;
        if (!parse_double(c->argv[a], c->argvlen[a], &d)) {
            reply_error(c->reply, ERR_NOT_FLOAT);
            return;
        }
    }
    bool wrong;
    struct value *v = get_zset(c, 1, &wrong);
    if (wrong) {
        return;
    }
    long long added = 0, updated = 0, processed = 0;
    double score = 0;
    if (v == NULL && !xx) {
        v = value_new_zset();
        store_set(c->store, c->argv[1], c->argvlen[1], v);
    }
    for (int j = 0; v != NULL && j < elements; j++) {
        int a = idx + 2 * j;
        const char *m = c->argv[a + 1];
        size_t mlen = c->argvlen[a + 1];
        double s;
        parse_double(c->argv[a], c->argvlen[a], &s);
        struct zset_node *x = zset_find(v->zset, m, mlen);
        if (x != NULL) {
            if (nx) {
                continue;
            }
            double cur = x->score;
            if (incr) {
                s += cur;
                if (isnan(s)) {
                    reply_error(c->reply, ERR_NAN);
                    return;
                }
            }
            if ((lt && s >= cur) || (gt && s <= cur)) {
                continue;
            }
            if (s != cur) {
                zset_add(v->zset, m, mlen, stored(s));
                updated++;
            }
        } else if (!xx) {
            zset_add(v->zset, m, mlen, stored(s));
            added++;
        } else {
            continue;
        }
        score = s;
        processed++;
    }
    if (incr) {
        if (processed > 0) {
            reply_double(c->reply, score, c->resp);
        } else {
            reply_nil(c->reply, c->resp);
        }
    } else {
        reply_int(c->reply, flags & ZADD_CH ? added + updated : added);
    }
}

void cmd_zadd(struct cmd_ctx *c)
{
    zadd_generic(c, 0);
}

void cmd_zincrby(struct cmd_ctx *c)
{
    zadd_generic(c, ZADD_INCR);
}

void cmd_zrem(struct cmd_ctx *c)
{
    bool wrong;
    struct value *v = get_zset(c, 1, &wrong);
    if (wrong) {
        return;
    }
    if (v == NULL) {
        reply_int(c->reply, 0);
        return;
    }
    long long deleted = 0;
    for (int i = 2; i < c->argc; i++) {
        if (zset_del(v->zset, c->argv[i], c->argvlen[i])) {
            deleted++;
            if (zset_len(v->zset) == 0) {
                break;
            }
        }
    }
    drop_if_empty(c, v);
    reply_int(c->reply, deleted);
}

/* --- single-member reads -------------------------------------------------- */

void cmd_zcard(struct cmd_ctx *c)
{
    bool wrong;
    struct value *v = get_zset(c, 1, &wrong);
    if (!wrong) {
        reply_int(c->reply, v != NULL ? (long long)zset_len(v->zset) : 0);
    }
}

void cmd_zscore(struct cmd_ctx *c)
{
    bool wrong;
    struct value *v = get_zset(c, 1, &wrong);
    if (wrong) {
        return;
    }
    struct zset_node *x =
        v != NULL ? zset_find(v->zset, c->argv[2], c->argvlen[2]) : NULL;
    if (x == NULL) {
        reply_nil(c->reply, c->resp);
    } else {
        reply_double(c->reply, x->score, c->resp);
    }
}

void cmd_zmscore(struct cmd_ctx *c)
{
    bool wrong;
    struct value *v = get_zset(c, 1, &wrong);
    if (wrong) {
        return;
    }
    reply_array(c->reply, c->argc - 2);
    for (int i = 2; i < c->argc; i++) {
        struct zset_node *x =
            v != NULL ? zset_find(v->zset, c->argv[i], c->argvlen[i]) : NULL;
        if (x == NULL) {
            reply_nil(c->reply, c->resp);
        } else {
            reply_double(c->reply, x->score, c->resp);
        }
    }
}

static void rank(struct cmd_ctx *c, bool rev)
{
    bool wrong;
    struct value *v = get_zset(c, 1, &wrong);
    if (wrong) {
        return;
    }
    size_t r;
    if (v == NULL || !zset_rank(v->zset, c->argv[2], c->argvlen[2], &r)) {
        reply_nil(c->reply, c->resp);
        return;
    }
    reply_int(c->reply, (long long)(rev ? zset_len(v->zset) - 1 - r : r));
}

void cmd_zrank(struct cmd_ctx *c)
{
    rank(c, false);
}

void cmd_zrevrank(struct cmd_ctx *c)
{
    rank(c, true);
}

void cmd_zcount(struct cmd_ctx *c)
{
    struct zset_range r;
    if (!parse_score_range(c, 2, 3, &r)) {
        reply_error(c->reply, ERR_RANGE_FLOAT);
        return;
    }
    bool wrong;
    struct value *v = get_zset(c, 1, &wrong);
    if (wrong) {
        return;
    }
    size_t lo, hi;
    if (v == NULL || zset_first_in_range(v->zset, &r, &lo) == NULL ||
        zset_last_in_range(v->zset, &r, &hi) == NULL) {
        reply_int(c->reply, 0);
        return;
    }
    reply_int(c->reply, (long long)(hi - lo + 1));
}

void cmd_zlexcount(struct cmd_ctx *c)
{
    struct zset_lex_range r;
    if (!parse_lex_range(c, 2, 3, &r)) {
        reply_error(c->reply, ERR_RANGE_LEX);
        return;
    }
    bool wrong;
    struct value *v = get_zset(c, 1, &wrong);
    if (wrong) {
        return;
    }
    size_t lo, hi;
    if (v == NULL || zset_first_in_lex(v->zset, &r, &lo) == NULL ||
        zset_last_in_lex(v->zset, &r, &hi) == NULL || hi < lo) {
        reply_int(c->reply, 0);
        return;
    }
    reply_int(c->reply, (long long)(hi - lo + 1));
}

/* --- ZPOPMIN, ZPOPMAX ----------------------------------------------------- */

/* zpopMinMaxCommand: without count one pair in a flat array; with count a
 * flat array in RESP2 and [member, score] pairs in RESP3. */
static void pop(struct cmd_ctx *c, bool max)
{
    long long count = -1;
    if (c->argc > 3) {
        reply_error(c->reply, ERR_SYNTAX);
        return;
    }
    if (c->argc == 3 &&
        (!num_parse_ll(c->argv[2], c->argvlen[2], &count) || count < 0)) {
        reply_error(c->reply, ERR_POSITIVE);
        return;
    }
    bool nested = c->resp > 2 && count != -1;
    bool wrong;
    struct value *v = get_zset(c, 1, &wrong);
    if (wrong) {
        return;
    }
    if (v == NULL || count == 0) {
        reply_array(c->reply, 0);
        return;
    }
    size_t n = zset_len(v->zset);
    if (count > 0 && (unsigned long long)count < n) {
        n = (size_t)count;
    } else if (count == -1) {
        n = 1;
    }
    reply_array(c->reply, nested ? (long long)n : 2 * (long long)n);
    for (size_t i = 0; i < n; i++) {
        struct zset_node *x = max ? zset_last(v->zset) : zset_first(v->zset);
        if (nested) {
            reply_array(c->reply, 2);
        }
        reply_bulk(c->reply, x->member, x->len);
        reply_double(c->reply, x->score, c->resp);
        zset_del(v->zset, x->member, x->len);
    }
    drop_if_empty(c, v);
}

void cmd_zpopmin(struct cmd_ctx *c)
{
    pop(c, false);
}

void cmd_zpopmax(struct cmd_ctx *c)
{
    pop(c, true);
}

/* --- ZRANGE and its family ------------------------------------------------ */

enum range_type { BY_AUTO, BY_RANK, BY_SCORE, BY_LEX };
enum range_dir { DIR_AUTO, DIR_FORWARD, DIR_REVERSE };

/* Replies are built in items and counted, then prefixed with the count. */
struct emitter {
    struct buf items;
    long long n;
    bool withscores;
    int resp;
};

static void emit(struct emitter *e, const struct zset_node *x)
{
    if (e->withscores && e->resp > 2) {
        reply_array(&e->items, 2);
    }
    reply_bulk(&e->items, x->member, x->len);
    if (e->withscores) {
        reply_double(&e->items, x->score, e->resp);
    }
    e->n++;
}

static void emit_finish(struct cmd_ctx *c, struct emitter *e)
{
    reply_array(c->reply, e->withscores && e->resp == 2 ? 2 * e->n : e->n);
    buf_append(c->reply, e->items.data, e->items.len);
    buf_free(&e->items);
}

/* genericZrangebyrankCommand: start and end as ZRANGE's indexes. */
static void range_by_rank(struct emitter *e, const struct zset *z,
                          long long start, long long end, bool rev)
{
    long long len = (long long)zset_len(z);
    if (start < 0) {
        start += len;
    }
    if (end < 0) {
        end += len;
    }
    if (start < 0) {
        start = 0;
    }
    if (start > end || start >= len) {
        return;
    }
    if (end >= len) {
        end = len - 1;
    }
    long long n = end - start + 1;
    struct zset_node *x = zset_at(z, (size_t)(rev ? len - 1 - start : start));
    for (; n > 0 && x != NULL; n--) {
        emit(e, x);
        x = rev ? zset_prev(x) : zset_next(x);
    }
}

/* Skip offset nodes from first (0-based rank r0) in the walking direction,
 * then emit up to limit (< 0: all) nodes while in_range says so; Redis
 * walks a negative offset off the end, hence no nodes. */
static void range_walk(struct emitter *e, const struct zset *z,
                       struct zset_node *first, size_t r0, long long offset,
                       long long limit, bool rev, const void *range,
                       bool (*in_range)(const struct zset_node *, const void *))
{
    if (first == NULL || offset < 0) {
        return;
    }
    struct zset_node *x = first;
    if (offset > 0) {
        if (rev) {
            x = (unsigned long long)offset <= r0
                    ? zset_at(z, r0 - (size_t)offset)
                    : NULL;
        } else {
            x = (unsigned long long)offset < zset_len(z) - r0
                    ? zset_at(z, r0 + (size_t)offset)
                    : NULL;
        }
    }
    for (; x != NULL && limit != 0; limit--) {
        if (!in_range(x, range)) {
            break;
        }
        emit(e, x);
        x = rev ? zset_prev(x) : zset_next(x);
    }
}

static bool score_gte(const struct zset_node *x, const void *r)
{
    return zset_gte_min(x->score, r);
}

static bool score_lte(const struct zset_node *x, const void *r)
{
    return zset_lte_max(x->score, r);
}

static bool lex_gte(const struct zset_node *x, const void *r)
{
    return zset_lex_gte_min(x->member, x->len, r);
}

static bool lex_lte(const struct zset_node *x, const void *r)
{
    return zset_lex_lte_max(x->member, x->len, r);
}

/* zrangeGenericCommand: argv[1] is the key, argv[2..3] the range, options
 * follow. type and dir are fixed by the command (ZRANGEBYSCORE...) or
 * BY_AUTO / DIR_AUTO for ZRANGE, which takes BYSCORE, BYLEX and REV. */
static void range_generic(struct cmd_ctx *c, enum range_type type,
                          enum range_dir dir)
{
    int minidx = 2, maxidx = 3;
    bool withscores = false;
    long long offset = 0, limit = -1, start = 0, end = 0;
    for (int j = 4; j < c->argc; j++) {
        int left = c->argc - j - 1;
        const char *a = c->argv[j];
        size_t alen = c->argvlen[j];
        if (arg_is(a, alen, "withscores")) {
            withscores = true;
        } else if (arg_is(a, alen, "limit") && left >= 2) {
            if (!num_parse_ll(c->argv[j + 1], c->argvlen[j + 1], &offset) ||
                !num_parse_ll(c->argv[j + 2], c->argvlen[j + 2], &limit)) {
                reply_error(c->reply, ERR_NOT_INT);
                return;
            }
            j += 2;
        } else if (dir == DIR_AUTO && arg_is(a, alen, "rev")) {
            dir = DIR_REVERSE;
        } else if (type == BY_AUTO && arg_is(a, alen, "bylex")) {
            type = BY_LEX;
        } else if (type == BY_AUTO && arg_is(a, alen, "byscore")) {
            type = BY_SCORE;
        } else {
            reply_error(c->reply, ERR_SYNTAX);
            return;
        }
    }
    bool rev = dir == DIR_REVERSE;
    if (type == BY_AUTO) {
        type = BY_RANK;
    }
    if (limit != -1 && type == BY_RANK) {
        reply_error(c->reply, ERR_LIMIT_RANK);
        return;
    }
    if (withscores && type == BY_LEX) {
        reply_error(c->reply, ERR_WITHSCORES_LEX);
        return;
    }
    if (rev && type != BY_RANK) { /* the range is given as max, min */
        minidx = 3;
        maxidx = 2;
    }
    struct zset_range sr;
    struct zset_lex_range lr;
    if (type == BY_RANK) {
        if (!num_parse_ll(c->argv[minidx], c->argvlen[minidx], &start) ||
            !num_parse_ll(c->argv[maxidx], c->argvlen[maxidx], &end)) {
            reply_error(c->reply, ERR_NOT_INT);
            return;
        }
    } else if (type == BY_SCORE) {
        if (!parse_score_range(c, minidx, maxidx, &sr)) {
            reply_error(c->reply, ERR_RANGE_FLOAT);
            return;
        }
    } else if (!parse_lex_range(c, minidx, maxidx, &lr)) {
        reply_error(c->reply, ERR_RANGE_LEX);
        return;
    }
    bool wrong;
    struct value *v = get_zset(c, 1, &wrong);
    if (wrong) {
        return;
    }
    if (v == NULL) {
        reply_array(c->reply, 0);
        return;
    }
    struct emitter e = {.withscores = withscores, .resp = c->resp};
    buf_init(&e.items);
    const struct zset *z = v->zset;
    size_t r0 = 0;
    struct zset_node *first;
    if (type == BY_RANK) {
        range_by_rank(&e, z, start, end, rev);
    } else if (type == BY_SCORE) {
        first = rev ? zset_last_in_range(z, &sr, &r0)
                    : zset_first_in_range(z, &sr, &r0);
        range_walk(&e, z, first, r0, offset, limit, rev, &sr,
                   rev ? score_gte : score_lte);
    } else {
        first = rev ? zset_last_in_lex(z, &lr, &r0)
                    : zset_first_in_lex(z, &lr, &r0);
        range_walk(&e, z, first, r0, offset, limit, rev, &lr,
                   rev ? lex_gte : lex_lte);
    }
    emit_finish(c, &e);
}

void cmd_zrange(struct cmd_ctx *c)
{
    range_generic(c, BY_AUTO, DIR_AUTO);
}

void cmd_zrevrange(struct cmd_ctx *c)
{
    range_generic(c, BY_RANK, DIR_REVERSE);
}

void cmd_zrangebyscore(struct cmd_ctx *c)
{
    range_generic(c, BY_SCORE, DIR_FORWARD);
}

void cmd_zrevrangebyscore(struct cmd_ctx *c)
{
    range_generic(c, BY_SCORE, DIR_REVERSE);
}

void cmd_zrangebylex(struct cmd_ctx *c)
{
    range_generic(c, BY_LEX, DIR_FORWARD);
}

void cmd_zrevrangebylex(struct cmd_ctx *c)
{
    range_generic(c, BY_LEX, DIR_REVERSE);
}
