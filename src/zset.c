/* zset: sorted sets, a dict plus a skiplist with spans (see zset.h). */
#include "zset.h"

#include <stdlib.h>
#include <string.h>

#include "dict.h"
#include "mem.h"

#define ZSET_RNG_SEED 0x5a5345545a534554ull

struct zset {
    struct dict *dict;        /* member -> struct zset_node * (not owned) */
    struct zset_node *header; /* ZSET_MAXLEVEL links, no member */
    struct zset_node *tail;
    size_t length;
    int level;    /* levels in use, >= 1 */
    uint64_t rng; /* splitmix64 state for node levels */
};

static struct zset_node *node_new(int nlevel)
{
    struct zset_node *x =
        xcalloc(1, sizeof *x + (size_t)nlevel * sizeof x->level[0]);
    x->nlevel = nlevel;
    return x;
}

struct zset *zset_new(void)
{
    struct zset *z = xcalloc(1, sizeof *z);
    z->dict = dict_new(NULL);
    z->header = node_new(ZSET_MAXLEVEL);
    z->level = 1;
    z->rng = ZSET_RNG_SEED;
    return z;
}

void zset_free(struct zset *z)
{
    if (z == NULL) {
        return;
    }
    struct zset_node *x = z->header->level[0].forward;
    while (x != NULL) {
        struct zset_node *next = x->level[0].forward;
        free(x);
        x = next;
    }
    free(z->header);
    dict_free(z->dict);
    free(z);
}

size_t zset_len(const struct zset *z)
{
    return z->length;
}

/* splitmix64: a deterministic stream, so every node builds the same shape
 * from the same history (not required for correctness, only order is). */
static uint64_t rng_next(struct zset *z)
{
    uint64_t r = (z->rng += 0x9e3779b97f4a7c15ull);
    r = (r ^ (r >> 30)) * 0xbf58476d1ce4e5b9ull;
    r = (r ^ (r >> 27)) * 0x94d049bb133111ebull;
    return r ^ (r >> 31);
}

/* 1 + the number of successes at probability 1/4, as Redis's skiplists. */
static int random_level(struct zset *z)
{
    uint64_t r = rng_next(z);
    int level = 1;
    while (level < ZSET_MAXLEVEL && (r & 3) == 0) {
        level++;
        r >>= 2;
    }
    return level;
}

/* sdscmp: memcmp over the common length, then the shorter first. */
static int member_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen;
    int rv = n > 0 ? memcmp(a, b, n) : 0;
    if (rv != 0) {
        return rv;
    }
    return alen < blen ? -1 : alen > blen ? 1 : 0;
}

/* True when x sorts strictly before (score, m). */
static bool before(const struct zset_node *x, double score, const char *m,
                   size_t len)
{
    return x->score < score ||
           (x->score == score && member_cmp(x->member, x->len, m, len) < 0);
}

/* Link x (score, member and nlevel set) into the skiplist. */
static void sl_link(struct zset *z, struct zset_node *x)
{
    struct zset_node *update[ZSET_MAXLEVEL];
    size_t rank[ZSET_MAXLEVEL];
    struct zset_node *p = z->header;
    for (int i = z->level - 1; i >= 0; i--) {
        rank[i] = i == z->level - 1 ? 0 : rank[i + 1];
        while (p->level[i].forward != NULL &&
               before(p->level[i].forward, x->score, x->member, x->len)) {
            rank[i] += p->level[i].span;
            p = p->level[i].forward;
        }
        update[i] = p;
    }
    if (x->nlevel > z->level) {
        for (int i = z->level; i < x->nlevel; i++) {
            rank[i] = 0;
            update[i] = z->header;
            update[i]->level[i].span = z->length;
        }
        z->level = x->nlevel;
    }
    for (int i = 0; i < x->nlevel; i++) {
        x->level[i].forward = update[i]->level[i].forward;
        update[i]->level[i].forward = x;
        x->level[i].span = update[i]->level[i].span - (rank[0] - rank[i]);
        update[i]->level[i].span = (rank[0] - rank[i]) + 1;
    }
    for (int i = x->nlevel; i < z->level; i++) {
        update[i]->level[i].span++;
    }
    x->backward = update[0] == z->header ? NULL : update[0];
    if (x->level[0].forward != NULL) {
        x->level[0].forward->backward = x;
    } else {
        z->tail = x;
    }
    z->length++;
}

/* Unlink x, which is in the skiplist (the node itself is kept). */
static void sl_unlink(struct zset *z, struct zset_node *x)
{
    struct zset_node *update[ZSET_MAXLEVEL];
    struct zset_node *p = z->header;
    for (int i = z->level - 1; i >= 0; i--) {
        while (p->level[i].forward != NULL &&
               before(p->level[i].forward, x->score, x->member, x->len)) {
            p = p->level[i].forward;
        }
        update[i] = p;
    }
    for (int i = 0; i < z->level; i++) {
        if (update[i]->level[i].forward == x) {
            update[i]->level[i].span += x->level[i].span - 1;
            update[i]->level[i].forward = x->level[i].forward;
        } else {
            update[i]->level[i].span--;
        }
    }
    if (x->level[0].forward != NULL) {
        x->level[0].forward->backward = x->backward;
    } else {
        z->tail = x->backward;
    }
    while (z->level > 1 && z->header->level[z->level - 1].forward == NULL) {
        z->level--;
    }
    z->length--;
}

struct zset_node *zset_find(const struct zset *z, const void *m, size_t len)
{
    struct dict_entry *e = dict_find(z->dict, m, len);
    return e != NULL ? e->v : NULL;
}

enum zset_add_result zset_add(struct zset *z, const void *m, size_t len,
                              double score)
{
    struct dict_entry *e = dict_find(z->dict, m, len);
    if (e != NULL) {
        struct zset_node *x = e->v;
        if (x->score == score) {
            return ZSET_SAME;
        }
        sl_unlink(z, x);
        x->score = score;
        sl_link(z, x);
        return ZSET_UPDATED;
    }
    struct zset_node *x = node_new(random_level(z));
    e = dict_add(z->dict, m, len, x);
    x->member = e->key;
    x->len = e->klen;
    x->score = score;
    sl_link(z, x);
    return ZSET_ADDED;
}

bool zset_del(struct zset *z, const void *m, size_t len)
{
    struct dict_entry *e = dict_find(z->dict, m, len);
    if (e == NULL) {
        return false;
    }
    struct zset_node *x = e->v;
    sl_unlink(z, x); /* x->member still points at the entry's key */
    dict_del(z->dict, m, len);
    free(x);
    return true;
}

struct zset *zset_dup(const struct zset *z)
{
    struct zset *c = zset_new();
    dict_reserve(c->dict, z->length);
    for (struct zset_node *x = z->header->level[0].forward; x != NULL;
         x = x->level[0].forward) {
        zset_add(c, x->member, x->len, x->score);
    }
    return c;
}

bool zset_rank(const struct zset *z, const void *m, size_t len, size_t *rank)
{
    struct zset_node *target = zset_find(z, m, len);
    if (target == NULL) {
        return false;
    }
    struct zset_node *p = z->header;
    size_t traversed = 0;
    for (int i = z->level - 1; i >= 0; i--) {
        while (p->level[i].forward != NULL &&
               (p->level[i].forward == target ||
                before(p->level[i].forward, target->score, target->member,
                       target->len))) {
            traversed += p->level[i].span;
            p = p->level[i].forward;
        }
        if (p == target) {
            break;
        }
    }
    *rank = traversed - 1;
    return true;
}

struct zset_node *zset_at(const struct zset *z, size_t rank)
{
    if (rank >= z->length) {
        return NULL;
    }
    size_t target = rank + 1, traversed = 0;
    struct zset_node *p = z->header;
    for (int i = z->level - 1; i >= 0; i--) {
        while (p->level[i].forward != NULL &&
               traversed + p->level[i].span <= target) {
            traversed += p->level[i].span;
            p = p->level[i].forward;
        }
        if (traversed == target) {
            return p;
        }
    }
    return NULL;
}

struct zset_node *zset_first(const struct zset *z)
{
    return z->header->level[0].forward;
}

struct zset_node *zset_last(const struct zset *z)
{
    return z->tail;
}

struct zset_node *zset_next(const struct zset_node *n)
{
    return n->level[0].forward;
}

struct zset_node *zset_prev(const struct zset_node *n)
{
    return n->backward;
}

/* --- score ranges --------------------------------------------------------- */

bool zset_gte_min(double score, const struct zset_range *r)
{
    return r->minex ? score > r->min : score >= r->min;
}

bool zset_lte_max(double score, const struct zset_range *r)
{
    return r->maxex ? score < r->max : score <= r->max;
}

static bool range_empty(const struct zset_range *r)
{
    return r->min > r->max || (r->min == r->max && (r->minex || r->maxex));
}

struct zset_node *zset_first_in_range(const struct zset *z,
                                      const struct zset_range *r, size_t *rank)
{
    if (range_empty(r)) {
        return NULL;
    }
    struct zset_node *p = z->header;
    size_t traversed = 0;
    for (int i = z->level - 1; i >= 0; i--) {
        while (p->level[i].forward != NULL &&
               !zset_gte_min(p->level[i].forward->score, r)) {
            traversed += p->level[i].span;
            p = p->level[i].forward;
        }
    }
    p = p->level[0].forward;
    if (p == NULL || !zset_lte_max(p->score, r)) {
        return NULL;
    }
    if (rank != NULL) {
        *rank = traversed;
    }
    return p;
}

struct zset_node *zset_last_in_range(const struct zset *z,
                                     const struct zset_range *r, size_t *rank)
{
    if (range_empty(r)) {
        return NULL;
    }
    struct zset_node *p = z->header;
    size_t traversed = 0;
    for (int i = z->level - 1; i >= 0; i--) {
        while (p->level[i].forward != NULL &&
               zset_lte_max(p->level[i].forward->score, r)) {
            traversed += p->level[i].span;
            p = p->level[i].forward;
        }
    }
    if (p == z->header || !zset_gte_min(p->score, r)) {
        return NULL;
    }
    if (rank != NULL) {
        *rank = traversed - 1;
    }
    return p;
}

/* --- lexicographic ranges ------------------------------------------------- */

/* Compare member m with bound b: <0, 0, >0. */
static int bound_cmp(const char *m, size_t len, const struct zset_lex_bound *b)
{
    if (b->inf != 0) {
        return -b->inf; /* '-' is below every member, '+' above */
    }
    return member_cmp(m, len, b->p, b->len);
}

bool zset_lex_gte_min(const char *m, size_t len, const struct zset_lex_range *r)
{
    int c = bound_cmp(m, len, &r->min);
    return r->min.ex ? c > 0 : c >= 0;
}

bool zset_lex_lte_max(const char *m, size_t len, const struct zset_lex_range *r)
{
    int c = bound_cmp(m, len, &r->max);
    return r->max.ex ? c < 0 : c <= 0;
}

/* Redis's sdscmplex(min, max) test for ranges that are always empty. */
static bool lex_empty(const struct zset_lex_range *r)
{
    int c;
    if (r->min.inf != 0 && r->min.inf == r->max.inf) {
        c = 0;
    } else if (r->min.inf < 0 || r->max.inf > 0) {
        c = -1;
    } else if (r->min.inf > 0 || r->max.inf < 0) {
        c = 1;
    } else {
        c = member_cmp(r->min.p, r->min.len, r->max.p, r->max.len);
    }
    return c > 0 || (c == 0 && (r->min.ex || r->max.ex));
}

struct zset_node *zset_first_in_lex(const struct zset *z,
                                    const struct zset_lex_range *r,
                                    size_t *rank)
{
    if (lex_empty(r)) {
        return NULL;
    }
    struct zset_node *p = z->header;
    size_t traversed = 0;
    for (int i = z->level - 1; i >= 0; i--) {
        while (p->level[i].forward != NULL &&
               !zset_lex_gte_min(p->level[i].forward->member,
                                 p->level[i].forward->len, r)) {
            traversed += p->level[i].span;
            p = p->level[i].forward;
        }
    }
    p = p->level[0].forward;
    if (p == NULL || !zset_lex_lte_max(p->member, p->len, r)) {
        return NULL;
    }
    if (rank != NULL) {
        *rank = traversed;
    }
    return p;
}

struct zset_node *zset_last_in_lex(const struct zset *z,
                                   const struct zset_lex_range *r, size_t *rank)
{
    if (lex_empty(r)) {
        return NULL;
    }
    struct zset_node *p = z->header;
    size_t traversed = 0;
    for (int i = z->level - 1; i >= 0; i--) {
        while (p->level[i].forward != NULL &&
               zset_lex_lte_max(p->level[i].forward->member,
                                p->level[i].forward->len, r)) {
            traversed += p->level[i].span;
            p = p->level[i].forward;
        }
    }
    if (p == z->header || !zset_lex_gte_min(p->member, p->len, r)) {
        return NULL;
    }
    if (rank != NULL) {
        *rank = traversed - 1;
    }
    return p;
}
