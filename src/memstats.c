/* memstats: allocator statistics. */
#include "memstats.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#ifdef RR_NO_JEMALLOC
#include <malloc.h>
#if defined(__has_include) && __has_include(<sanitizer/allocator_interface.h>)
#include <sanitizer/allocator_interface.h>
#define RR_SANITIZER_STATS 1
#endif
#else
#include <jemalloc/jemalloc.h>
#endif

#define STR_(x) #x
#define STR(x)  STR_(x)

static size_t read_rss(void)
{
    FILE *fp = fopen("/proc/self/statm", "r");
    unsigned long long size = 0, resident = 0;
    if (fp == NULL) {
        return 0;
    }
    if (fscanf(fp, "%llu %llu", &size, &resident) != 2) {
        resident = 0;
    }
    fclose(fp);
    return (size_t)resident * (size_t)sysconf(_SC_PAGESIZE);
}

void memstats_read(struct memstats *m)
{
    memset(m, 0, sizeof *m);
    m->rss = read_rss();
#ifdef RR_NO_JEMALLOC
#ifdef RR_SANITIZER_STATS
    /* Under AddressSanitizer malloc is the sanitizer's own. */
    m->allocated = __sanitizer_get_current_allocated_bytes();
    m->active = m->allocated;
    m->resident = __sanitizer_get_heap_size();
    m->allocator = "libc (sanitizer)";
#else
    struct mallinfo2 mi = mallinfo2();
    m->allocated = mi.uordblks + mi.hblkhd;
    m->active = m->allocated;
    m->resident = mi.arena + mi.hblkhd;
    m->allocator = "libc";
#endif
#else
    uint64_t epoch = 1;
    size_t sz = sizeof epoch;
    mallctl("epoch", &epoch, &sz, &epoch, sz);
    sz = sizeof(size_t);
    mallctl("stats.allocated", &m->allocated, &sz, NULL, 0);
    sz = sizeof(size_t);
    mallctl("stats.active", &m->active, &sz, NULL, 0);
    sz = sizeof(size_t);
    mallctl("stats.resident", &m->resident, &sz, NULL, 0);
    m->allocator = "jemalloc-" STR(JEMALLOC_VERSION_MAJOR) "." STR(
        JEMALLOC_VERSION_MINOR) "." STR(JEMALLOC_VERSION_BUGFIX);
#endif
}
