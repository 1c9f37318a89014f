/* value: the value types a key can hold (strings, lists, hashes, sets,
 * sorted sets).
 *
 * A value is owned by whoever holds its pointer: the store once it has been
 * handed to store_set, the caller otherwise. Strings are byte arrays (not
 * NUL-terminated by contract, though a NUL always follows for convenience).
 * Lists are double-ended queues of byte strings in a ring buffer, so pushes
 * and pops at both ends are O(1) and LINDEX is O(1). Pure: no I/O. */
#ifndef VALUE_H
#define VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum value_type {
    VALUE_STRING = 0,
    VALUE_LIST = 1,
    VALUE_HASH = 2,
    VALUE_SET = 3,
    VALUE_ZSET = 4, /* sorted sets (zset.h) */
};

struct dict;
struct zset;

/* One list element: length-prefixed bytes, NUL-terminated for convenience. */
struct lelem {
    size_t len;
    char data[];
};

struct value {
    enum value_type type;
    int64_t expire_ms; /* unix ms, 0 when the key does not expire */
    uint64_t version;  /* store version of the last write naming the key */
    union {
        struct {
            char *p;
            size_t len;
            size_t cap;
        } str;
        struct {
            struct lelem **items; /* ring buffer of cap slots */
            size_t cap;
            size_t head; /* slot of element 0 */
            size_t len;
        } list;
        struct dict *dict; /* VALUE_HASH, VALUE_SET */
        struct zset *zset; /* VALUE_ZSET */
    };
};

struct value *value_new_string(const void *p, size_t len);
/* Replace the string's bytes. */
void value_string_set(struct value *v, const void *p, size_t len);
void value_string_append(struct value *v, const void *p, size_t len);
struct value *value_new_list(void);
/* An empty hash (field -> struct lelem *) or set (member -> NULL). */
struct value *value_new_hash(void);
struct value *value_new_set(void);
/* An empty sorted set (zset.h). */
struct value *value_new_zset(void);
/* A deep copy (COPY), expiry time included, stamp 0. */
struct value *value_dup(const struct value *v);
void value_free(struct value *v);

struct lelem *lelem_new(const void *p, size_t len);
size_t value_list_len(const struct value *v);
/* Push a copy of p at the head (left) or the tail (right). */
void value_list_push(struct value *v, bool head, const void *p, size_t len);
/* Remove and return the head or tail element (the caller frees it), or NULL
 * when the list is empty. */
struct lelem *value_list_pop(struct value *v, bool head);
/* Element at idx (0 <= idx < len), still owned by the list. */
struct lelem *value_list_at(const struct value *v, size_t idx);
/* Replace the element at idx (0 <= idx < len) by a copy of p. */
void value_list_set(struct value *v, size_t idx, const void *p, size_t len);
/* Remove up to |count| elements equal to p: from the head when count > 0,
 * from the tail when count < 0, all of them when count == 0. Returns how
 * many were removed. */
size_t value_list_remove(struct value *v, long long count, const void *p,
                         size_t len);
/* Keep only elements [start, stop] (inclusive, already clamped, start <=
 * stop < len); start > stop empties the list. */
void value_list_trim(struct value *v, size_t start, size_t stop);

#endif
