/* cmd_sets: set commands (SADD, SPOP, SINTER, SSCAN...), with Redis 7.0's
 * replies and error texts.
 *
 * A set is a VALUE_SET whose dict maps each member to NULL; a set emptied
 * by a command is deleted from the store, so no key ever holds an empty
 * set. Write handlers (SADD, SREM, SPOP, SMOVE, S*STORE) run during apply
 * on every node, and dict layout differs between nodes (the dict's hash
 * seed is per process and insertion histories differ), so no write may
 * depend on iteration order: SPOP ranks members by a seeded hash instead
 * (pick_lowest). Reads run on one node only and may use any order or
 * randomness.
 *
 * Redis 7.0 keeps a small all-integer set as an intset, which lists its
 * members in ascending order and which SSCAN returns in one step; sets
 * that would be intsets in Redis (at most SETS_INTSET_MAX members, every
 * one a canonical integer) are listed the same way here (see
 * intset_order). */
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "command.h"
#include "dict.h"
#include "glob.h"
#include "mem.h"
#include "num.h"
#include "reply.h"
#include "store.h"

/* Redis's default set-max-intset-entries. */
#define SETS_INTSET_MAX 512

#define ERR_RANGE_LONG                                                         \
    "ERR value is out of range, value must between -9223372036854775807 and "  \
    "9223372036854775807"

/* ---- helpers ------------------------------------------------------------ */

/* The set at argv[i], or NULL when absent. Sets *wrong (after replying
 * WRONGTYPE) when the key holds another type. */
static struct value *get_set(struct cmd_ctx *c, int i, bool *wrong)
{
    return command_get_typed(c, i, VALUE_SET, wrong);
}

static bool is_member(struct value *v, const char *p, size_t len)
{
    return dict_find(v->dict, p, len) != NULL;
}

/* A growable array of entries (pointers into a dict, which the dict keeps
 * owning; valid until the dict is modified). */
struct entries {
    const struct dict_entry **e;
    size_t n, cap;
};

static void entries_push(struct entries *a, const struct dict_entry *e)
{
    if (a->n == a->cap) {
        a->cap = a->cap ? 2 * a->cap : 16;
        a->e = xrealloc(a->e, a->cap * sizeof *a->e);
    }
    a->e[a->n++] = e;
}

static void collect_visit(void *arg, const struct dict_entry *e)
{
    entries_push(arg, e);
}

struct intmember {
    long long n;
    const struct dict_entry *e;
};

static int cmp_intmember(const void *a, const void *b)
{
    long long x = ((const struct intmember *)a)->n;
    long long y = ((const struct intmember *)b)->n;
    return (x > y) - (x < y);
}

/* Append v's members to a (empty): in ascending numeric order when Redis
 * would hold v as an intset (see the header; then returns true), in dict
 * order otherwise. */
static bool intset_order(const struct value *v, struct entries *a)
{
    dict_foreach(v->dict, collect_visit, a);
    if (a->n > SETS_INTSET_MAX) {
        return false;
    }
    struct intmember *im = xmalloc((a->n ? a->n : 1) * sizeof *im);
    for (size_t i = 0; i < a->n; i++) {
        if (!num_parse_ll(a->e[i]->key, a->e[i]->klen, &im[i].n)) {
            free(im);
            return false;
        }
        im[i].e = a->e[i];
    }
    qsort(im, a->n, sizeof *im, cmp_intmember);
    for (size_t i = 0; i < a->n; i++) {
        a->e[i] = im[i].e;
    }
    free(im);
    return true;
}

static void reply_member_visit(void *arg, const struct dict_entry *e)
{
    reply_bulk(arg, e->key, e->klen);
}

/* Reply v's members as a set (RESP3) or an array (RESP2). */
static void reply_members(struct cmd_ctx *c, const struct value *v)
{
    if (dict_size(v->dict) > SETS_INTSET_MAX) { /* never an intset */
        reply_set(c->reply, (long long)dict_size(v->dict), c->resp);
        dict_foreach(v->dict, reply_member_visit, c->reply);
        return;
    }
    struct entries a = {0};
    intset_order(v, &a);
    reply_set(c->reply, (long long)a.n, c->resp);
    for (size_t i = 0; i < a.n; i++) {
        reply_bulk(c->reply, a.e[i]->key, a.e[i]->klen);
    }
    free(a.e);
}

/* ---- SADD SREM SISMEMBER SMISMEMBER SCARD SMEMBERS ---------------------- */

void cmd_sadd(struct cmd_ctx *c)
{
    bool wrong;
    struct value *v = get_set(c, 1, &wrong);
    if (wrong) {
        return;
    }
    if (v == NULL) {
        v = value_new_set();
        store_set(c->store, c->argv[1], c->argvlen[1], v);
    }
    long long added = 0;
    for (int i = 2; i < c->argc; i++) {
        if (dict_add(v->dict, c->argv[i], c->argvlen[i], NULL) != NULL) {
            added++;
        }
    }
    reply_int(c->reply, added);
}

void cmd_srem(struct cmd_ctx *c)
{
    bool wrong;
    struct value *v = get_set(c, 1, &wrong);
    if (wrong) {
        return;
    }
    long long removed = 0;
    for (int i = 2; v != NULL && i < c->argc; i++) {
        if (dict_del(v->dict, c->argv[i], c->argvlen[i])) {
            removed++;
        }
        if (dict_size(v->dict) == 0) {
            store_del(c->store, c->argv[1], c->argvlen[1]);
            break;
        }
    }
    reply_int(c->reply, removed);
}

void cmd_sismember(struct cmd_ctx *c)
{
    bool wrong;
    struct value *v = get_set(c, 1, &wrong);
    if (!wrong) {
        reply_int(c->reply, v && is_member(v, c->argv[2], c->argvlen[2]));
    }
}

void cmd_smismember(struct cmd_ctx *c)
{
    bool wrong;
    struct value *v = get_set(c, 1, &wrong);
    if (wrong) {
        return;
    }
    reply_array(c->reply, c->argc - 2);
    for (int i = 2; i < c->argc; i++) {
        reply_int(c->reply, v && is_member(v, c->argv[i], c->argvlen[i]));
    }
}

void cmd_scard(struct cmd_ctx *c)
{
    bool wrong;
    struct value *v = get_set(c, 1, &wrong);
    if (!wrong) {
        reply_int(c->reply, v ? (long long)dict_size(v->dict) : 0);
    }
}

void cmd_smembers(struct cmd_ctx *c)
{
    bool wrong;
    struct value *v = get_set(c, 1, &wrong);
    if (wrong) {
        return;
    }
    if (v == NULL) {
        reply_set(c->reply, 0, c->resp);
        return;
    }
    reply_members(c, v);
}

/* ---- SPOP: deterministic picks ------------------------------------------ */

/* A member ranked for SPOP: its seeded hash, ties broken by its bytes. */
struct ranked {
    uint64_t score;
    const struct dict_entry *e;
};

/* <0, 0, >0 as a ranks before, as, after b. Distinct members never tie:
 * equal scores fall back to comparing the bytes, then the lengths. */
static int rank_cmp(const struct ranked *a, const struct ranked *b)
{
    if (a->score != b->score) {
        return a->score < b->score ? -1 : 1;
    }
    size_t n = a->e->klen < b->e->klen ? a->e->klen : b->e->klen;
    int r = n ? memcmp(a->e->key, b->e->key, n) : 0;
    if (r != 0) {
        return r;
    }
    return (a->e->klen > b->e->klen) - (a->e->klen < b->e->klen);
}

/* A max-heap of the `cap` lowest-ranked members seen so far. */
struct lowest {
    struct ranked *h;
    size_t n, cap;
    uint64_t seed;
};

static void heap_swap(struct ranked *h, size_t i, size_t j)
{
    struct ranked t = h[i];
    h[i] = h[j];
    h[j] = t;
}

static void heap_up(struct ranked *h, size_t i)
{
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (rank_cmp(&h[p], &h[i]) >= 0) {
            break;
        }
        heap_swap(h, p, i);
        i = p;
    }
}

static void heap_down(struct ranked *h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && rank_cmp(&h[l], &h[m]) > 0) {
            m = l;
        }
        if (r < n && rank_cmp(&h[r], &h[m]) > 0) {
            m = r;
        }
        if (m == i) {
            return;
        }
        heap_swap(h, i, m);
        i = m;
    }
}

static void lowest_visit(void *arg, const struct dict_entry *e)
{
    struct lowest *lw = arg;
    struct ranked r = {store_hash(e->key, e->klen, lw->seed), e};
    if (lw->n < lw->cap) {
        lw->h[lw->n] = r;
        heap_up(lw->h, lw->n++);
    } else if (rank_cmp(&r, &lw->h[0]) < 0) {
        lw->h[0] = r;
        heap_down(lw->h, lw->n, 0);
    }
}

/* The `count` members (0 < count < size) of set d that SPOP removes, into
 * out (count slots).
 *
 * SPOP is a write: every node applies it to its own copy of the set, and
 * every copy must lose the same members. Picking by position (a random
 * bucket, dict_random) would not do: bucket order depends on the dict's
 * per-process hash seed and on the insertion history (a node restored from
 * a snapshot inserted the members in another order), so equal sets have
 * different layouts on different nodes. Instead every member gets a score
 * that depends only on its bytes and on the command's seed (ctx->seed,
 * decided by the proposing node and carried in the log entry, hence equal
 * on every node): score = store_hash(member, seed). The members popped are
 * the `count` lowest by (score, bytes), a total order on distinct members,
 * so the same on every node whatever the layout. Across commands the seed
 * changes, so which members go looks random. One pass over the set with a
 * bounded max-heap: O(size log count) time, O(count) space. */
static void pick_lowest(const struct dict *d, size_t count, uint64_t seed,
                        struct ranked *out)
{
    struct lowest lw = {out, 0, count, seed};
    dict_foreach(d, lowest_visit, &lw);
    assert(lw.n == count);
}

void cmd_spop(struct cmd_ctx *c)
{
    long long count = 1;
    bool hascount = c->argc == 3;
    if (c->argc > 3) {
        reply_error(c->reply, ERR_SYNTAX);
        return;
    }
    if (hascount &&
        (!num_parse_ll(c->argv[2], c->argvlen[2], &count) || count < 0)) {
        reply_error(c->reply, ERR_POSITIVE);
        return;
    }
    bool wrong;
    struct value *v = get_set(c, 1, &wrong);
    if (wrong) {
        return;
    }
    if (v == NULL || count == 0) {
        if (hascount) {
            reply_set(c->reply, 0, c->resp);
        } else {
            reply_nil(c->reply, c->resp);
        }
        return;
    }
    size_t size = dict_size(v->dict);
    if ((unsigned long long)count >= size) {
        /* The whole set goes: no pick, so nothing layout-dependent in the
         * state (only in the reply's order, which only the origin sends). */
        if (hascount) {
            reply_members(c, v);
        } else {
            struct entries a = {0};
            dict_foreach(v->dict, collect_visit, &a);
            reply_bulk(c->reply, a.e[0]->key, a.e[0]->klen);
            free(a.e);
        }
        store_del(c->store, c->argv[1], c->argvlen[1]);
        return;
    }
    size_t n = (size_t)count;
    struct ranked *picked = xmalloc(n * sizeof *picked);
    pick_lowest(v->dict, n, c->seed, picked);
    if (hascount) {
        reply_set(c->reply, (long long)n, c->resp);
    }
    for (size_t i = 0; i < n; i++) {
        reply_bulk(c->reply, picked[i].e->key, picked[i].e->klen);
    }
    /* Deleting frees the entry, key included, after its last use. */
    for (size_t i = 0; i < n; i++) {
        dict_del(v->dict, picked[i].e->key, picked[i].e->klen);
    }
    free(picked);
}

/* ---- SRANDMEMBER (a read: any randomness will do) ----------------------- */

/* count distinct random members of d (1 < count < size), into the reply. */
static void reply_distinct(struct cmd_ctx *c, const struct dict *d,
                           size_t count, uint64_t *rng)
{
    size_t size = dict_size(d);
    reply_array(c->reply, (long long)count);
    if (count * 3 > size) {
        /* Many of them: a partial Fisher-Yates shuffle of all members. */
        struct entries a = {0};
        dict_foreach(d, collect_visit, &a);
        for (size_t i = 0; i < count; i++) {
            size_t j = i + (size_t)(dict_next_random(rng) % (size - i));
            const struct dict_entry *t = a.e[i];
            a.e[i] = a.e[j];
            a.e[j] = t;
            reply_bulk(c->reply, a.e[i]->key, a.e[i]->klen);
        }
        free(a.e);
        return;
    }
    /* Few of them: random picks, skipping repeats. */
    struct dict *seen = dict_new(NULL);
    while (dict_size(seen) < count) {
        const struct dict_entry *e = dict_random(d, dict_next_random(rng));
        if (dict_add(seen, e->key, e->klen, NULL) != NULL) {
            reply_bulk(c->reply, e->key, e->klen);
        }
    }
    dict_free(seen);
}

void cmd_srandmember(struct cmd_ctx *c)
{
    long long count = 1;
    bool hascount = c->argc == 3;
    if (c->argc > 3) {
        reply_error(c->reply, ERR_SYNTAX);
        return;
    }
    if (hascount) {
        if (!num_parse_ll(c->argv[2], c->argvlen[2], &count)) {
            reply_error(c->reply, ERR_NOT_INT);
            return;
        }
        if (count == LLONG_MIN) {
            reply_error(c->reply, ERR_RANGE_LONG);
            return;
        }
    }
    bool wrong;
    struct value *v = get_set(c, 1, &wrong);
    if (wrong) {
        return;
    }
    if (v == NULL) {
        if (hascount) {
            reply_array(c->reply, 0);
        } else {
            reply_nil(c->reply, c->resp);
        }
        return;
    }
    uint64_t rng = c->seed;
    if (!hascount) {
        const struct dict_entry *e =
            dict_random(v->dict, dict_next_random(&rng));
        reply_bulk(c->reply, e->key, e->klen);
        return;
    }
    size_t size = dict_size(v->dict);
    if (count == 0) {
        reply_array(c->reply, 0);
    } else if (count < 0 || count == 1) {
        /* Negative: |count| picks, repeats allowed. */
        unsigned long long n = count < 0 ? (unsigned long long)-count : 1;
        reply_array(c->reply, (long long)n);
        while (n-- > 0) {
            const struct dict_entry *e =
                dict_random(v->dict, dict_next_random(&rng));
            reply_bulk(c->reply, e->key, e->klen);
        }
    } else if ((unsigned long long)count >= size) {
        struct entries a = {0};
        intset_order(v, &a);
        reply_array(c->reply, (long long)a.n);
        for (size_t i = 0; i < a.n; i++) {
            reply_bulk(c->reply, a.e[i]->key, a.e[i]->klen);
        }
        free(a.e);
    } else {
        reply_distinct(c, v->dict, (size_t)count, &rng);
    }
}

/* ---- SINTER SUNION SDIFF and their STORE forms --------------------------- */

enum setop { SETOP_INTER, SETOP_UNION, SETOP_DIFF };

/* Look up the sets at argv[first..argc) into sets (NULL for a missing
 * key), checking every key's type as Redis does even after a missing one.
 * Returns false after replying WRONGTYPE. */
static bool lookup_sets(struct cmd_ctx *c, int first, struct value **sets)
{
    for (int i = first; i < c->argc; i++) {
        bool wrong;
        sets[i - first] = get_set(c, i, &wrong);
        if (wrong) {
            return false;
        }
    }
    return true;
}

struct setop_run {
    struct value *out;
    struct value **others; /* sets to test membership in */
    size_t nothers;
    bool want; /* keep members found in every other (inter) or none (diff) */
};

static void setop_visit(void *arg, const struct dict_entry *e)
{
    struct setop_run *r = arg;
    for (size_t i = 0; i < r->nothers; i++) {
        if (is_member(r->others[i], e->key, e->klen) != r->want) {
            return;
        }
    }
    dict_add(r->out->dict, e->key, e->klen, NULL);
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = dict_size((*(struct value *const *)a)->dict);
    size_t y = dict_size((*(struct value *const *)b)->dict);
    return (x > y) - (x < y);
}

/* The result of op over n sets (NULL entries are missing keys, empty), as
 * a new set value the caller owns (possibly empty). The sets array may be
 * reordered. */
static struct value *setop(enum setop op, struct value **sets, size_t n)
{
    struct value *out = value_new_set();
    struct setop_run r = {out, sets + 1, 0, op == SETOP_INTER};
    if (op == SETOP_UNION) {
        r.nothers = 0;
        for (size_t i = 0; i < n; i++) {
            if (sets[i] != NULL) {
                dict_foreach(sets[i]->dict, setop_visit, &r);
            }
        }
        return out;
    }
    if (op == SETOP_INTER) {
        for (size_t i = 0; i < n; i++) {
            if (sets[i] == NULL) {
                return out;
            }
        }
        qsort(sets, n, sizeof *sets, cmp_size); /* iterate the smallest */
    } else if (sets[0] == NULL) {
        return out;
    }
    /* Keep the other sets that matter; the first set itself is never
     * looked up while it is being iterated (a lookup may rehash it). */
    for (size_t i = 1; i < n; i++) {
        if (sets[i] == sets[0]) {
            if (op == SETOP_DIFF) {
                return out; /* SDIFF s s */
            }
        } else if (sets[i] != NULL) {
            sets[1 + r.nothers++] = sets[i];
        }
    }
    dict_foreach(sets[0]->dict, setop_visit, &r);
    return out;
}

/* SINTER/SUNION/SDIFF key..., and with store, SINTERSTORE/SUNIONSTORE/
 * SDIFFSTORE dest key... (the destination is replaced whatever it held,
 * without a TTL, or deleted when the result is empty). */
static void setop_command(struct cmd_ctx *c, enum setop op, bool store)
{
    int first = store ? 2 : 1;
    size_t n = (size_t)(c->argc - first);
    struct value **sets = xmalloc(n * sizeof *sets);
    if (!lookup_sets(c, first, sets)) {
        free(sets);
        return;
    }
    struct value *out = setop(op, sets, n);
    free(sets);
    if (!store) {
        reply_members(c, out);
        value_free(out);
        return;
    }
    size_t size = dict_size(out->dict);
    if (size > 0) {
        store_set(c->store, c->argv[1], c->argvlen[1], out);
    } else {
        value_free(out);
        store_del(c->store, c->argv[1], c->argvlen[1]);
    }
    reply_int(c->reply, (long long)size);
}

void cmd_sinter(struct cmd_ctx *c)
{
    setop_command(c, SETOP_INTER, false);
}

void cmd_sunion(struct cmd_ctx *c)
{
    setop_command(c, SETOP_UNION, false);
}

void cmd_sdiff(struct cmd_ctx *c)
{
    setop_command(c, SETOP_DIFF, false);
}

void cmd_sinterstore(struct cmd_ctx *c)
{
    setop_command(c, SETOP_INTER, true);
}

void cmd_sunionstore(struct cmd_ctx *c)
{
    setop_command(c, SETOP_UNION, true);
}

void cmd_sdiffstore(struct cmd_ctx *c)
{
    setop_command(c, SETOP_DIFF, true);
}

/* ---- SMOVE -------------------------------------------------------------- */

void cmd_smove(struct cmd_ctx *c)
{
    struct value *src = store_get(c->store, c->argv[1], c->argvlen[1]);
    struct value *dst = store_get(c->store, c->argv[2], c->argvlen[2]);
    const char *m = c->argv[3];
    size_t mlen = c->argvlen[3];
    if (src == NULL) {
        reply_int(c->reply, 0);
        return;
    }
    if (src->type != VALUE_SET || (dst != NULL && dst->type != VALUE_SET)) {
        reply_error(c->reply, ERR_WRONGTYPE);
        return;
    }
    if (src == dst) {
        reply_int(c->reply, is_member(src, m, mlen));
        return;
    }
    if (!dict_del(src->dict, m, mlen)) {
        reply_int(c->reply, 0);
        return;
    }
    if (dict_size(src->dict) == 0) {
        store_del(c->store, c->argv[1], c->argvlen[1]);
    }
    if (dst == NULL) {
        dst = value_new_set();
        store_set(c->store, c->argv[2], c->argvlen[2], dst);
    }
    dict_add(dst->dict, m, mlen, NULL);
    reply_int(c->reply, 1);
}

/* ---- SSCAN -------------------------------------------------------------- */

/* Redis's parseScanCursorOrReply: strtoul's syntax (a sign allowed, no
 * leading space, no overflow, nothing after the digits). */
static bool parse_cursor(const char *p, size_t len, uint64_t *out)
{
    char *s = xmemdup(p, len);
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    bool ok = !isspace((unsigned char)s[0]) && *end == '\0' && errno == 0;
    free(s);
    *out = v;
    return ok;
}

static void reply_empty_scan(struct cmd_ctx *c)
{
    reply_array(c->reply, 2);
    reply_bulk(c->reply, "0", 1);
    reply_array(c->reply, 0);
}

/* SSCAN key cursor [MATCH pattern] [COUNT count] (scanGenericCommand). */
void cmd_sscan(struct cmd_ctx *c)
{
    uint64_t cursor;
    if (!parse_cursor(c->argv[2], c->argvlen[2], &cursor)) {
        reply_error(c->reply, "ERR invalid cursor");
        return;
    }
    bool wrong;
    struct value *v = get_set(c, 1, &wrong);
    if (wrong) {
        return;
    }
    if (v == NULL) {
        reply_empty_scan(c);
        return;
    }
    long long count = 10;
    const char *pat = NULL;
    size_t patlen = 0;
    for (int i = 3; i < c->argc; i++) {
        bool more = i + 1 < c->argc;
        if (more && arg_is(c->argv[i], c->argvlen[i], "count")) {
            if (!num_parse_ll(c->argv[i + 1], c->argvlen[i + 1], &count)) {
                reply_error(c->reply, ERR_NOT_INT);
                return;
            }
            if (count < 1) {
                reply_error(c->reply, ERR_SYNTAX);
                return;
            }
            i++;
        } else if (more && arg_is(c->argv[i], c->argvlen[i], "match")) {
            pat = c->argv[i + 1];
            patlen = c->argvlen[i + 1];
            if (patlen == 1 && pat[0] == '*') {
                pat = NULL;
            }
            i++;
        } else {
            reply_error(c->reply, ERR_SYNTAX);
            return;
        }
    }
    struct entries a = {0};
    if (dict_size(v->dict) <= SETS_INTSET_MAX && intset_order(v, &a)) {
        cursor = 0; /* what Redis holds as an intset comes back whole */
    } else {
        a.n = 0;
        long long maxiter = count > LLONG_MAX / 10 ? LLONG_MAX : count * 10;
        do {
            cursor = dict_scan(v->dict, cursor, collect_visit, &a);
        } while (cursor != 0 && maxiter-- > 0 &&
                 a.n < (unsigned long long)count);
    }
    size_t kept = 0;
    for (size_t i = 0; i < a.n; i++) {
        if (pat == NULL ||
            glob_match(pat, patlen, a.e[i]->key, a.e[i]->klen, false)) {
            a.e[kept++] = a.e[i];
        }
    }
    char cur[24];
    int cl = snprintf(cur, sizeof cur, "%llu", (unsigned long long)cursor);
    reply_array(c->reply, 2);
    reply_bulk(c->reply, cur, (size_t)cl);
    reply_array(c->reply, (long long)kept);
    for (size_t i = 0; i < kept; i++) {
        reply_bulk(c->reply, a.e[i]->key, a.e[i]->klen);
    }
    free(a.e);
}
