/* glob: Redis's glob-style pattern matching (pure), as KEYS, SCAN MATCH,
 * PSUBSCRIBE and CONFIG GET use it: '*' any run, '?' one byte, '[abc]',
 * '[^abc]', '[a-z]' classes, '\' escapes the next byte. Binary-safe: both
 * pattern and subject are byte arrays with lengths (glibc's fnmatch stops
 * at a NUL byte, which keys may contain). As in Redis, an empty subject
 * matches only the empty pattern. */
#ifndef GLOB_H
#define GLOB_H

#include <stdbool.h>
#include <stddef.h>

bool glob_match(const char *pat, size_t plen, const char *s, size_t slen,
                bool nocase);

#endif
