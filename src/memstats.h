/* memstats: memory figures for INFO memory, from jemalloc's mallctl stats
 * (libc's mallinfo2 in the sanitizer build, which runs without jemalloc). */
#ifndef MEMSTATS_H
#define MEMSTATS_H

#include <stddef.h>

struct memstats {
    size_t allocated; /* bytes the program asked for and holds */
    size_t active;    /* bytes in active pages */
    size_t resident;  /* bytes the allocator holds in RAM */
    size_t rss;       /* process resident set size */
    const char *allocator;
};

void memstats_read(struct memstats *m);

#endif
