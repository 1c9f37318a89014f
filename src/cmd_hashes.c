/* cmd_hashes: hash commands (HSET, HGET, HGETALL, HSCAN, HRANDFIELD...).
 *
 * A hash is a VALUE_HASH whose dict maps each field to a struct lelem
 * holding the field's value; the dict owns both. A hash never stays empty:
 * the write that removes its last field deletes the key, as Redis does.
 * Each handler reads as redis-server 7.0's t_hash.c: validate -> reply on
 * error -> mutate -> reply. Writes run during fsm apply on every node and
 * depend only on (store, argv); the reads (HSCAN, HRANDFIELD) run on one
 * node, so iteration order and ctx->seed may shape their replies. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
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

/* Redis's MAX_LONG_DOUBLE_CHARS: the longest float argument and result. */

/* Redis keeps hashes of at most this many fields, each field and value at
 * most this long, as a listpack (hash-max-listpack-entries/-value), and
 * HSCAN returns such a hash whole with cursor 0. */
#define HASH_SMALL_ENTRIES 128
#define HASH_SMALL_VALUE   64

/* HRANDFIELD with a negative count repeats fields; a reply larger than
 * this many picks is refused rather than built in memory (redis-server
 * would try, and stall or run out of memory). */
#define HASH_MAX_REPEAT (1LL << 24)

/* The hash at argv[1], or NULL when absent. Sets *wrong after replying
 * WRONGTYPE when the key holds another type. */
static struct value *get_hash(struct cmd_ctx *c, bool *wrong)
{
    return command_get_typed(c, 1, VALUE_HASH, wrong);
}

/* The hash at argv[1], created empty (and stored) when absent; NULL after
 * a WRONGTYPE reply. The caller must add a field before returning, so an
 * empty hash never stays in the store. */
static struct value *get_or_create_hash(struct cmd_ctx *c)
{
    bool wrong;
    struct value *v = get_hash(c, &wrong);
    if (v == NULL && !wrong) {
        v = value_new_hash();
        store_set(c->store, c->argv[1], c->argvlen[1], v);
    }
    return v;
}

/* The value of field f in hash h (still owned by h), or NULL. */
static struct lelem *hash_field(struct value *h, const char *f, size_t flen)
{
    struct dict_entry *e = dict_find(h->dict, f, flen);
    return e ? e->v : NULL;
}

/* Set field f of h to a copy of val; true when the field is new. */
static bool hash_set(struct value *h, const char *f, size_t flen,
                     const char *val, size_t vlen)
{
    struct lelem *e = lelem_new(val, vlen);
    if (dict_add(h->dict, f, flen, e) != NULL) {
        return true;
    }
    dict_set(h->dict, f, flen, e); /* frees the old value */
    return false;
}

/* HSET/HMSET key field value [field value ...]: the fields created. */
static int hset_generic(struct cmd_ctx *c, const char *name)
{
    if (c->argc % 2 == 1) {
        reply_arity_error(c->reply, name);
        return -1;
    }
    struct value *h = get_or_create_hash(c);
    if (h == NULL) {
        return -1;
    }
    int created = 0;
    for (int i = 2; i < c->argc; i += 2) {
        created += hash_set(h, c->argv[i], c->argvlen[i], c->argv[i + 1],
                            c->argvlen[i + 1]);
    }
    return created;
}

void cmd_hset(struct cmd_ctx *c)
{
    int created = hset_generic(c, "hset");
    if (created >= 0) {
        reply_int(c->reply, created);
    }
}

void cmd_hmset(struct cmd_ctx *c)
{
    if (hset_generic(c, "hmset") >= 0) {
        reply_ok(c->reply);
    }
}

void cmd_hsetnx(struct cmd_ctx *c)
{
    struct value *h = get_or_create_hash(c);
    if (h == NULL) {
        return;
    }
    if (hash_field(h, c->argv[2], c->argvlen[2]) != NULL) {
        reply_int(c->reply, 0);
        return;
    }
    hash_set(h, c->argv[2], c->argvlen[2], c->argv[3], c->argvlen[3]);
    reply_int(c->reply, 1);
}

/* Reply the value of field argv[i] of hash h (h may be NULL), or nil. */
static void reply_field(struct cmd_ctx *c, struct value *h, int i)
{
    struct lelem *e = h ? hash_field(h, c->argv[i], c->argvlen[i]) : NULL;
    if (e == NULL) {
        reply_nil(c->reply, c->resp);
    } else {
        reply_bulk(c->reply, e->data, e->len);
    }
}

void cmd_hget(struct cmd_ctx *c)
{
    bool wrong;
    struct value *h = get_hash(c, &wrong);
    if (wrong) {
        return;
    }
    reply_field(c, h, 2);
}

void cmd_hmget(struct cmd_ctx *c)
{
    bool wrong;
    struct value *h = get_hash(c, &wrong);
    if (wrong) {
        return;
    }
    reply_array(c->reply, c->argc - 2);
    for (int i = 2; i < c->argc; i++) {
        reply_field(c, h, i);
    }
}

void cmd_hdel(struct cmd_ctx *c)
{
    bool wrong;
    struct value *h = get_hash(c, &wrong);
    if (wrong) {
        return;
    }
    long long deleted = 0;
    if (h != NULL) {
        for (int i = 2; i < c->argc; i++) {
            if (dict_del(h->dict, c->argv[i], c->argvlen[i])) {
                deleted++;
                if (dict_size(h->dict) == 0) {
                    store_del(c->store, c->argv[1], c->argvlen[1]);
                    break;
                }
            }
        }
    }
    reply_int(c->reply, deleted);
}

void cmd_hexists(struct cmd_ctx *c)
{
    bool wrong;
    struct value *h = get_hash(c, &wrong);
    if (!wrong) {
        reply_int(c->reply,
                  h && hash_field(h, c->argv[2], c->argvlen[2]) != NULL);
    }
}

void cmd_hlen(struct cmd_ctx *c)
{
    bool wrong;
    struct value *h = get_hash(c, &wrong);
    if (!wrong) {
        reply_int(c->reply, h ? (long long)dict_size(h->dict) : 0);
    }
}

void cmd_hstrlen(struct cmd_ctx *c)
{
    bool wrong;
    struct value *h = get_hash(c, &wrong);
    if (wrong) {
        return;
    }
    struct lelem *e = h ? hash_field(h, c->argv[2], c->argvlen[2]) : NULL;
    reply_int(c->reply, e ? (long long)e->len : 0);
}

#define WANT_FIELDS 1
#define WANT_VALUES 2

struct getall {
    struct buf *reply;
    int want;
};

static void getall_visit(void *arg, const struct dict_entry *e)
{
    struct getall *g = arg;
    if (g->want & WANT_FIELDS) {
        reply_bulk(g->reply, e->key, e->klen);
    }
    if (g->want & WANT_VALUES) {
        const struct lelem *val = e->v;
        reply_bulk(g->reply, val->data, val->len);
    }
}

/* genericHgetallCommand: HGETALL is a map (RESP3), HKEYS/HVALS arrays. */
static void getall(struct cmd_ctx *c, int want)
{
    bool wrong;
    struct value *h = get_hash(c, &wrong);
    if (wrong) {
        return;
    }
    long long n = h ? (long long)dict_size(h->dict) : 0;
    if (want == (WANT_FIELDS | WANT_VALUES)) {
        reply_map(c->reply, n, c->resp);
    } else {
        reply_array(c->reply, n);
    }
    if (h != NULL) {
        struct getall g = {c->reply, want};
        dict_foreach(h->dict, getall_visit, &g);
    }
}

void cmd_hgetall(struct cmd_ctx *c)
{
    getall(c, WANT_FIELDS | WANT_VALUES);
}

void cmd_hkeys(struct cmd_ctx *c)
{
    getall(c, WANT_FIELDS);
}

void cmd_hvals(struct cmd_ctx *c)
{
    getall(c, WANT_VALUES);
}

void cmd_hincrby(struct cmd_ctx *c)
{
    long long incr, old = 0;
    if (!num_parse_ll(c->argv[3], c->argvlen[3], &incr)) {
        reply_error(c->reply, ERR_NOT_INT);
        return;
    }
    bool wrong;
    struct value *h = get_hash(c, &wrong);
    if (wrong) {
        return;
    }
    struct lelem *e = h ? hash_field(h, c->argv[2], c->argvlen[2]) : NULL;
    if (e != NULL && !num_parse_ll(e->data, e->len, &old)) {
        reply_error(c->reply, "ERR hash value is not an integer");
        return;
    }
    if ((incr < 0 && old < 0 && incr < (LLONG_MIN - old)) ||
        (incr > 0 && old > 0 && incr > (LLONG_MAX - old))) {
        reply_error(c->reply, ERR_OVERFLOW);
        return;
    }
    long long nv = old + incr;
    char tmp[24];
    int n = num_format_ll(tmp, nv);
    if (h == NULL) {
        h = get_or_create_hash(c);
    }
    hash_set(h, c->argv[2], c->argvlen[2], tmp, (size_t)n);
    reply_int(c->reply, nv);
}

void cmd_hincrbyfloat(struct cmd_ctx *c)
{
    long double incr, old = 0;
    if (!num_parse_ld(c->argv[3], c->argvlen[3], &incr)) {
        reply_error(c->reply, "ERR value is not a valid float");
        return;
    }
    if (isnan(incr) || isinf(incr)) {
        reply_error(c->reply, "ERR value is NaN or Infinity");
        return;
    }
    bool wrong;
    struct value *h = get_hash(c, &wrong);
    if (wrong) {
        return;
    }
    struct lelem *e = h ? hash_field(h, c->argv[2], c->argvlen[2]) : NULL;
    if (e != NULL && !num_parse_ld(e->data, e->len, &old)) {
        reply_error(c->reply, "ERR hash value is not a float");
        return;
    }
    long double nv = old + incr;
    if (isnan(nv) || isinf(nv)) {
        reply_error(c->reply, "ERR increment would produce NaN or Infinity");
        return;
    }
    char *tmp = xmalloc(NUM_LD_CHARS);
    size_t n = num_format_ld(tmp, nv);
    if (h == NULL) {
        h = get_or_create_hash(c);
    }
    hash_set(h, c->argv[2], c->argvlen[2], tmp, n);
    reply_bulk(c->reply, tmp, n);
    free(tmp);
}

/* Entries collected by one HSCAN call (pointers into the hash's dict,
 * which the call does not modify). */
struct scan_acc {
    const struct dict_entry **items;
    size_t n, cap;
};

static void scan_visit(void *arg, const struct dict_entry *e)
{
    struct scan_acc *a = arg;
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 32;
        a->items = xrealloc(a->items, a->cap * sizeof *a->items);
    }
    a->items[a->n++] = e;
}

static void scan_check_small(void *arg, const struct dict_entry *e)
{
    bool *small = arg;
    const struct lelem *v = e->v;
    if (e->klen > HASH_SMALL_VALUE || v->len > HASH_SMALL_VALUE) {
        *small = false;
    }
}

/* True when redis-server would hold h as a listpack (see above). */
static bool hash_is_small(const struct value *h)
{
    bool small = dict_size(h->dict) <= HASH_SMALL_ENTRIES;
    if (small) {
        dict_foreach(h->dict, scan_check_small, &small);
    }
    return small;
}

/* Redis's parseScanCursorOrReply: strtoul's rules (a sign, a leading '+',
 * "" is 0, "-1" wraps), no leading space, nothing after the digits. */
static bool parse_cursor(const char *s, size_t len, uint64_t *out)
{
    char *copy = xmemdup(s, len); /* NUL-terminated, as an sds is */
    char *end;
    errno = 0;
    unsigned long long v = strtoull(copy, &end, 10);
    bool ok =
        !isspace((unsigned char)copy[0]) && *end == '\0' && errno != ERANGE;
    free(copy);
    *out = v;
    return ok;
}

/* HSCAN key cursor [MATCH pattern] [COUNT count] (scanGenericCommand). */
void cmd_hscan(struct cmd_ctx *c)
{
    uint64_t cursor;
    if (!parse_cursor(c->argv[2], c->argvlen[2], &cursor)) {
        reply_error(c->reply, "ERR invalid cursor");
        return;
    }
    bool wrong;
    struct value *h = get_hash(c, &wrong);
    if (wrong) {
        return;
    }
    if (h == NULL) {
        reply_array(c->reply, 2);
        reply_bulk(c->reply, "0", 1);
        reply_array(c->reply, 0);
        return;
    }
    long long count = 10;
    const char *pat = NULL;
    size_t patlen = 0;
    for (int i = 3; i < c->argc; i += 2) {
        const char *a = c->argv[i];
        size_t n = c->argvlen[i];
        bool has_arg = c->argc - i >= 2;
        if (arg_is(a, n, "count") && has_arg) {
            if (!num_parse_ll(c->argv[i + 1], c->argvlen[i + 1], &count)) {
                reply_error(c->reply, ERR_NOT_INT);
                return;
            }
            if (count < 1) {
                reply_error(c->reply, ERR_SYNTAX);
                return;
            }
        } else if (arg_is(a, n, "match") && has_arg) {
            pat = c->argv[i + 1];
            patlen = c->argvlen[i + 1];
            if (patlen == 1 && pat[0] == '*') {
                pat = NULL;
            }
        } else {
            reply_error(c->reply, ERR_SYNTAX);
            return;
        }
    }

    struct scan_acc acc = {NULL, 0, 0};
    if (hash_is_small(h)) {
        dict_foreach(h->dict, scan_visit, &acc);
        cursor = 0;
    } else {
        /* Redis counts fields and values (count * 2 elements) and makes at
         * most count * 10 extra steps over empty buckets. */
        long long steps = count > LLONG_MAX / 20 ? LLONG_MAX : count * 20;
        do {
            cursor = dict_scan(h->dict, cursor, scan_visit, &acc);
        } while (cursor != 0 && steps-- > 0 &&
                 (unsigned long long)acc.n < (unsigned long long)count);
    }

    size_t kept = 0;
    for (size_t i = 0; i < acc.n; i++) {
        const struct dict_entry *e = acc.items[i];
        if (pat == NULL || glob_match(pat, patlen, e->key, e->klen, false)) {
            acc.items[kept++] = e;
        }
    }
    reply_array(c->reply, 2);
    reply_bulk_ll(c->reply, (long long)cursor);
    reply_array(c->reply, 2 * (long long)kept);
    for (size_t i = 0; i < kept; i++) {
        const struct dict_entry *e = acc.items[i];
        const struct lelem *val = e->v;
        reply_bulk(c->reply, e->key, e->klen);
        reply_bulk(c->reply, val->data, val->len);
    }
    free(acc.items);
}

/* One field (and its value when withvalues) of an HRANDFIELD count reply:
 * a 2-element array per pair in RESP3, flat in RESP2. */
static void reply_pick(struct cmd_ctx *c, const struct dict_entry *e,
                       bool withvalues)
{
    if (withvalues && c->resp >= 3) {
        reply_array(c->reply, 2);
    }
    reply_bulk(c->reply, e->key, e->klen);
    if (withvalues) {
        const struct lelem *val = e->v;
        reply_bulk(c->reply, val->data, val->len);
    }
}

static void reply_picks_header(struct cmd_ctx *c, long long n, bool withvalues)
{
    reply_array(c->reply, withvalues && c->resp < 3 ? 2 * n : n);
}

/* count distinct fields of h (1 < count < size), in random order. */
static void hrandfield_unique(struct cmd_ctx *c, struct value *h, size_t count,
                              bool withvalues, uint64_t *rng)
{
    size_t size = dict_size(h->dict);
    reply_picks_header(c, (long long)count, withvalues);
    if (count * 3 <= size) {
        /* Few of many (Redis's CASE 4): random picks until count distinct
         * fields, the fields seen kept in a scratch set. */
        struct dict *seen = dict_new(NULL);
        size_t tries = 0, limit = 64 * count + 1024;
        while (dict_size(seen) < count && tries++ < limit) {
            struct dict_entry *e = dict_random(h->dict, dict_next_random(rng));
            if (dict_add(seen, e->key, e->klen, e) != NULL) {
                reply_pick(c, e, withvalues);
            }
        }
        if (dict_size(seen) == count) {
            dict_free(seen);
            return;
        }
        /* dict_random kept missing fields: take the rest in order. */
        struct scan_acc all = {NULL, 0, 0};
        dict_foreach(h->dict, scan_visit, &all);
        for (size_t i = 0; i < all.n && dict_size(seen) < count; i++) {
            const struct dict_entry *e = all.items[i];
            if (dict_add(seen, e->key, e->klen, NULL) != NULL) {
                reply_pick(c, e, withvalues);
            }
        }
        free(all.items);
        dict_free(seen);
        return;
    }
    /* Many of the whole (CASE 3): a partial Fisher-Yates shuffle. */
    struct scan_acc all = {NULL, 0, 0};
    dict_foreach(h->dict, scan_visit, &all);
    for (size_t i = 0; i < count; i++) {
        size_t j = i + (size_t)(dict_next_random(rng) % (all.n - i));
        const struct dict_entry *t = all.items[i];
        all.items[i] = all.items[j];
        all.items[j] = t;
        reply_pick(c, all.items[i], withvalues);
    }
    free(all.items);
}

/* HRANDFIELD key [count [WITHVALUES]] (hrandfieldCommand). */
void cmd_hrandfield(struct cmd_ctx *c)
{
    uint64_t rng = c->seed;
    bool wrong;
    if (c->argc == 2) {
        struct value *h = get_hash(c, &wrong);
        if (wrong) {
            return;
        }
        if (h == NULL) {
            reply_nil(c->reply, c->resp);
            return;
        }
        struct dict_entry *e = dict_random(h->dict, dict_next_random(&rng));
        reply_bulk(c->reply, e->key, e->klen);
        return;
    }
    long long l;
    if (!num_parse_ll(c->argv[2], c->argvlen[2], &l)) {
        reply_error(c->reply, ERR_NOT_INT);
        return;
    }
    if (l < -LLONG_MAX) {
        reply_errorf(c->reply,
                     "ERR value is out of range, value must between %lld "
                     "and %lld",
                     -LLONG_MAX, LLONG_MAX);
        return;
    }
    bool withvalues = false;
    if (c->argc > 4 ||
        (c->argc == 4 && !arg_is(c->argv[3], c->argvlen[3], "withvalues"))) {
        reply_error(c->reply, ERR_SYNTAX);
        return;
    }
    if (c->argc == 4) {
        withvalues = true;
        if (l < -LLONG_MAX / 2 || l > LLONG_MAX / 2) {
            reply_error(c->reply, "ERR value is out of range");
            return;
        }
    }
    struct value *h = get_hash(c, &wrong);
    if (wrong) {
        return;
    }
    if (h == NULL || l == 0) {
        reply_array(c->reply, 0);
        return;
    }
    bool uniq = l > 0;
    unsigned long long count =
        uniq ? (unsigned long long)l : (unsigned long long)-l;
    size_t size = dict_size(h->dict);

    if (!uniq || count == 1) {
        /* Repeats allowed (Redis's CASE 1): count independent picks. */
        if ((long long)count > HASH_MAX_REPEAT) {
            reply_error(c->reply, "ERR value is out of range");
            return;
        }
        reply_picks_header(c, (long long)count, withvalues);
        for (unsigned long long i = 0; i < count; i++) {
            reply_pick(c, dict_random(h->dict, dict_next_random(&rng)),
                       withvalues);
        }
        return;
    }
    if (count >= size) {
        /* The whole hash (CASE 2). */
        reply_picks_header(c, (long long)size, withvalues);
        struct scan_acc all = {NULL, 0, 0};
        dict_foreach(h->dict, scan_visit, &all);
        for (size_t i = 0; i < all.n; i++) {
            reply_pick(c, all.items[i], withvalues);
        }
        free(all.items);
        return;
    }
    hrandfield_unique(c, h, (size_t)count, withvalues, &rng);
}
