/* mem: allocation that never fails.
 *
 * Out of memory is not an error redis-raft recovers from: every x* function
 * either returns valid memory or aborts the process with a message. The
 * allocator underneath is whatever malloc the binary links (jemalloc in the
 * normal build, libc's in the sanitizer build). */
#ifndef MEM_H
#define MEM_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
/* Copy of the n bytes at p, plus a NUL terminator (not counted in n). */
char *xmemdup(const void *p, size_t n);
char *xstrdup(const char *s);

#endif
