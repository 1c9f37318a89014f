/* zset: a sorted set, members (binary-safe byte strings) with double scores
 * (pure: no I/O).
 *
 * Two indexes over the same nodes, as in Redis: a dict from member to its
 * node (O(1) ZSCORE) and a skiplist ordered by (score, member bytes) whose
 * links carry spans, so that ranks and rank lookups are O(log n). Members
 * with equal scores sort by memcmp over their common length, the shorter
 * first on a tie (Redis's sdscmp). -0 and 0 are equal scores. Scores are
 * never NaN (the caller checks).
 *
 * Ownership: the zset owns its nodes and member bytes. A node's member
 * points at the dict entry's key (one copy per member); node pointers stay
 * valid until that member is deleted or the zset is freed. Skiplist levels
 * come from a PRNG kept in the zset and seeded with a constant, so no
 * global state: the structure, never the order, depends on history. */
#ifndef ZSET_H
#define ZSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ZSET_MAXLEVEL 32

struct zset_node {
    double score;
    const char *member; /* the dict entry's key, NUL-terminated */
    size_t len;
    struct zset_node *backward; /* NULL for the first node */
    int nlevel;
    struct zset_link {
        struct zset_node *forward;
        size_t span; /* nodes crossed by this link (rank distance) */
    } level[];
};

struct zset;

/* A score interval: min/max with exclusive flags ('(' in Redis). */
struct zset_range {
    double min, max;
    bool minex, maxex;
};

/* A lexicographic interval: each bound is a member ('[' inclusive, '('
 * exclusive) or infinite: inf -1 for '-' (below everything), +1 for '+'
 * (above everything), 0 for a member bound. */
struct zset_lex_bound {
    const char *p;
    size_t len;
    int inf;
    bool ex;
};
struct zset_lex_range {
    struct zset_lex_bound min, max;
};

struct zset *zset_new(void);
void zset_free(struct zset *z);
/* A deep copy (same members and scores). */
struct zset *zset_dup(const struct zset *z);
size_t zset_len(const struct zset *z);

/* The node of member, or NULL. */
struct zset_node *zset_find(const struct zset *z, const void *m, size_t len);

enum zset_add_result {
    ZSET_ADDED = 1,   /* a new member */
    ZSET_UPDATED = 2, /* an existing member whose score changed */
    ZSET_SAME = 3,    /* an existing member, score already equal */
};
/* Insert member with score, or move an existing member to score. */
enum zset_add_result zset_add(struct zset *z, const void *m, size_t len,
                              double score);
/* Remove member; true when it was there. */
bool zset_del(struct zset *z, const void *m, size_t len);

/* 0-based rank of member in ascending order; false when absent. */
bool zset_rank(const struct zset *z, const void *m, size_t len, size_t *rank);
/* The node at 0-based rank, or NULL when rank >= zset_len. */
struct zset_node *zset_at(const struct zset *z, size_t rank);
/* First / last node (NULL when empty); neighbours in ascending order. */
struct zset_node *zset_first(const struct zset *z);
struct zset_node *zset_last(const struct zset *z);
struct zset_node *zset_next(const struct zset_node *n);
struct zset_node *zset_prev(const struct zset_node *n);

/* Score tests against one side of r. */
bool zset_gte_min(double score, const struct zset_range *r);
bool zset_lte_max(double score, const struct zset_range *r);
/* The first / last node whose score is in r, with its 0-based rank in
 * *rank (may be NULL); NULL when no node is in r. */
struct zset_node *zset_first_in_range(const struct zset *z,
                                      const struct zset_range *r, size_t *rank);
struct zset_node *zset_last_in_range(const struct zset *z,
                                     const struct zset_range *r, size_t *rank);

/* Member tests against one side of a lexicographic range. */
bool zset_lex_gte_min(const char *m, size_t len,
                      const struct zset_lex_range *r);
bool zset_lex_lte_max(const char *m, size_t len,
                      const struct zset_lex_range *r);
/* As the score versions, comparing members only (meant for sets whose
 * scores are all equal, as Redis's BYLEX). */
struct zset_node *zset_first_in_lex(const struct zset *z,
                                    const struct zset_lex_range *r,
                                    size_t *rank);
struct zset_node *zset_last_in_lex(const struct zset *z,
                                   const struct zset_lex_range *r,
                                   size_t *rank);

#endif
