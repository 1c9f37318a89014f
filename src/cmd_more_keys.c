/* cmd_more_keys: commands that look at a key's type or walk the keyspace
 * (TYPE, KEYS, SCAN, RANDOMKEY).
 *
 * All of them are reads: they run on one node only, never delete, and so
 * must skip keys that store_foreach/store_scan still hold but whose expiry
 * time has passed (store_expired). Reply arrays are built in a scratch buf
 * first because their length is known only after the walk. */
#include <ctype.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "command.h"
#include "dict.h"
#include "glob.h"
#include "num.h"
#include "reply.h"
#include "store.h"

/* Redis's name for the type of v (TYPE, SCAN ... TYPE); "none" for NULL. */
static const char *type_name(const struct value *v)
{
    if (v == NULL) {
        return "none";
    }
    switch (v->type) {
    case VALUE_STRING:
        return "string";
    case VALUE_LIST:
        return "list";
    case VALUE_HASH:
        return "hash";
    case VALUE_SET:
        return "set";
    case VALUE_ZSET:
        return "zset";
    }
    return "none";
}

void cmd_type(struct cmd_ctx *c)
{
    struct value *v = store_get(c->store, c->argv[1], c->argvlen[1]);
    reply_status(c->reply, type_name(v));
}

/* A pattern that matches every key ("*") needs no glob_match call. */
static bool matches_all(const char *pat, size_t plen)
{
    return plen == 1 && pat[0] == '*';
}

/* Whether key matches pat (not the match-all "*"). Redis 7.0's
 * stringmatchlen never enters its loop for an empty subject, so the empty
 * key matches only the empty pattern (glob_match says "**" matches it). */
static bool key_matches(const char *pat, size_t plen, const char *key,
                        size_t klen)
{
    if (klen == 0) {
        return plen == 0;
    }
    return glob_match(pat, plen, key, klen, false);
}

/* Keys collected for a reply: their bulk strings in out, counted in n. */
struct collect {
    const struct store *store;
    const char *pat; /* NULL: no MATCH filter */
    size_t plen;
    const char *type; /* NULL: no TYPE filter */
    size_t tlen;
    struct buf out;
    long long n;    /* keys written to out */
    long long seen; /* keys visited, filtered or not (SCAN's COUNT) */
};

/* Visit callback for KEYS and SCAN: append key to the reply unless it is
 * expired or filtered out by MATCH or TYPE. */
static void collect_key(void *arg, const char *key, size_t klen,
                        const struct value *v)
{
    struct collect *co = arg;
    co->seen++;
    if (co->pat != NULL && !key_matches(co->pat, co->plen, key, klen)) {
        return;
    }
    if (store_expired(co->store, v)) {
        return;
    }
    if (co->type != NULL && !arg_is(co->type, co->tlen, type_name(v))) {
        return;
    }
    reply_bulk(&co->out, key, klen);
    co->n++;
}

/* KEYS pattern */
void cmd_keys(struct cmd_ctx *c)
{
    struct collect co = {.store = c->store};
    if (!matches_all(c->argv[1], c->argvlen[1])) {
        co.pat = c->argv[1];
        co.plen = c->argvlen[1];
    }
    buf_init(&co.out);
    store_foreach(c->store, collect_key, &co);
    reply_array(c->reply, co.n);
    buf_append(c->reply, co.out.data, co.out.len);
    buf_free(&co.out);
}

/* Parse a SCAN cursor exactly as Redis does with strtoul(s, &end, 10):
 * the text up to the first NUL byte must be an optional sign and decimal
 * digits with no leading space, or empty (cursor 0); a '-' negates modulo
 * 2^64, and a magnitude above 2^64-1 is an error. Returns false on error. */
static bool parse_cursor(const char *s, size_t len, uint64_t *out)
{
    const char *nul = memchr(s, '\0', len);
    size_t n = nul ? (size_t)(nul - s) : len;
    size_t i = 0;
    bool neg = false;
    uint64_t v = 0;
    if (n == 0) {
        *out = 0;
        return true;
    }
    if (isspace((unsigned char)s[0])) {
        return false;
    }
    if (s[0] == '+' || s[0] == '-') {
        neg = s[0] == '-';
        i++;
    }
    if (i == n) {
        return false; /* a lone sign: strtoul consumes nothing */
    }
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10) {
            return false; /* ERANGE */
        }
        v = v * 10 + d;
    }
    *out = neg ? (uint64_t)0 - v : v;
    return true;
}

/* SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]
 *
 * As Redis's scanGenericCommand: COUNT is a hint; one call walks buckets
 * until at least COUNT keys were visited (before filtering), the scan ends,
 * or COUNT*10 more buckets were walked. */
void cmd_scan(struct cmd_ctx *c)
{
    uint64_t cursor;
    if (!parse_cursor(c->argv[1], c->argvlen[1], &cursor)) {
        reply_error(c->reply, "ERR invalid cursor");
        return;
    }
    struct collect co = {.store = c->store};
    long long count = 10;
    for (int i = 2; i < c->argc; i += 2) {
        const char *opt = c->argv[i];
        size_t olen = c->argvlen[i];
        bool more = i + 1 < c->argc;
        if (more && arg_is(opt, olen, "count")) {
            if (!num_parse_ll(c->argv[i + 1], c->argvlen[i + 1], &count)) {
                reply_error(c->reply, ERR_NOT_INT);
                return;
            }
            if (count < 1) {
                reply_error(c->reply, ERR_SYNTAX);
                return;
            }
        } else if (more && arg_is(opt, olen, "match")) {
            co.pat = c->argv[i + 1];
            co.plen = c->argvlen[i + 1];
            if (matches_all(co.pat, co.plen)) {
                co.pat = NULL;
            }
        } else if (more && arg_is(opt, olen, "type")) {
            /* Compared as a C string, as Redis's strcasecmp does. */
            const char *nul = memchr(c->argv[i + 1], '\0', c->argvlen[i + 1]);
            co.type = c->argv[i + 1];
            co.tlen = nul ? (size_t)(nul - co.type) : c->argvlen[i + 1];
        } else {
            reply_error(c->reply, ERR_SYNTAX);
            return;
        }
    }

    long long maxiterations = count > LLONG_MAX / 10 ? LLONG_MAX : count * 10;
    buf_init(&co.out);
    do {
        cursor = store_scan(c->store, cursor, collect_key, &co);
    } while (cursor != 0 && maxiterations-- > 0 && co.seen < count);

    char cur[24];
    int clen = snprintf(cur, sizeof cur, "%llu", (unsigned long long)cursor);
    reply_array(c->reply, 2);
    reply_bulk(c->reply, cur, (size_t)clen);
    reply_array(c->reply, co.n);
    buf_append(c->reply, co.out.data, co.out.len);
    buf_free(&co.out);
}

/* Find the pick-th live key (store_foreach order) for RANDOMKEY's
 * fallback when random probes keep landing on expired keys. */
struct nth_live {
    const struct store *store;
    uint64_t pick;  /* index wanted, among live keys */
    uint64_t count; /* live keys seen so far */
    const char *key;
    size_t klen;
};

static void count_live(void *arg, const char *key, size_t klen,
                       const struct value *v)
{
    struct nth_live *nl = arg;
    if (store_expired(nl->store, v)) {
        return;
    }
    if (nl->key == NULL && nl->count == nl->pick) {
        nl->key = key;
        nl->klen = klen;
    }
    nl->count++;
}

/* RANDOMKEY: a read answered by one node, so it may depend on this node's
 * table layout; randomness comes from ctx->seed. Expired keys are skipped
 * (a read cannot delete them as Redis's master does): after a bounded
 * number of random probes, one pass over the keys picks a live key
 * uniformly, or finds there is none. */
#define RANDOMKEY_PROBES 100
void cmd_randomkey(struct cmd_ctx *c)
{
    uint64_t state = c->seed;
    for (int i = 0; i < RANDOMKEY_PROBES; i++) {
        struct dict_entry *e =
            dict_random(c->store->d, dict_next_random(&state));
        if (e == NULL) {
            reply_nil(c->reply, c->resp);
            return;
        }
        if (!store_expired(c->store, e->v)) {
            reply_bulk(c->reply, e->key, e->klen);
            return;
        }
    }
    struct nth_live nl = {.store = c->store};
    store_foreach(c->store, count_live, &nl);
    if (nl.count == 0) {
        reply_nil(c->reply, c->resp);
        return;
    }
    nl.pick = dict_next_random(&state) % nl.count;
    nl.count = 0;
    nl.key = NULL;
    store_foreach(c->store, count_live, &nl);
    reply_bulk(c->reply, nl.key, nl.klen);
}
