/* entry: log entry encoding (see entry.h for the format). */
#include "entry.h"

#include <stdlib.h>
#include <string.h>

#include "mem.h"

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static uint64_t get_u64(const uint8_t *p)
{
    return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}

void entry_writer_begin(struct entry_writer *w, const struct entry_header *h)
{
    buf_init(&w->b);
    w->ncmds = 0;
    buf_put_u8(&w->b, ENTRY_VERSION);
    buf_put_u8(&w->b, ENTRY_KIND_COMMANDS);
    buf_put_u8(&w->b, 0);
    buf_put_u8(&w->b, 0);
    buf_put_u32(&w->b, 0); /* patched by finish */
    buf_put_u64(&w->b, h->origin);
    buf_put_u64(&w->b, h->nonce);
    buf_put_u64(&w->b, h->seq);
    buf_put_u64(&w->b, h->time_ms);
    buf_put_u64(&w->b, h->term);
}

void entry_writer_add(struct entry_writer *w, int argc, char *const *argv,
                      const size_t *argvlen, uint32_t flags)
{
    buf_put_u32(&w->b, (uint32_t)argc);
    buf_put_u32(&w->b, flags);
    for (int i = 0; i < argc; i++) {
        buf_put_u32(&w->b, (uint32_t)argvlen[i]);
        buf_append(&w->b, argv[i], argvlen[i]);
    }
    w->ncmds++;
}

static void put_u64_at(struct entry_writer *w, size_t off, uint64_t v)
{
    uint8_t *p = (uint8_t *)w->b.data + off;
    for (int i = 0; i < 8; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

void entry_writer_set_time(struct entry_writer *w, uint64_t time_ms)
{
    put_u64_at(w, 32, time_ms);
}

void entry_writer_set_term(struct entry_writer *w, uint64_t term)
{
    put_u64_at(w, 40, term);
}

void entry_writer_finish(struct entry_writer *w)
{
    size_t pad = (8 - w->b.len % 8) % 8;
    memset(buf_reserve(&w->b, pad), 0, pad);
    w->b.len += pad;
    uint8_t *p = (uint8_t *)w->b.data + 4;
    for (int i = 0; i < 4; i++) {
        p[i] = (uint8_t)(w->ncmds >> (8 * i));
    }
}

/* Walk every command once, checking that all lengths fit. */
static int validate(const uint8_t *p, const uint8_t *end, uint32_t ncmds)
{
    for (uint32_t c = 0; c < ncmds; c++) {
        if (end - p < 8) {
            return -1;
        }
        uint32_t argc = get_u32(p);
        p += 8;
        if (argc == 0 || argc > (uint32_t)(end - p) / 4) {
            return -1;
        }
        for (uint32_t i = 0; i < argc; i++) {
            if (end - p < 4) {
                return -1;
            }
            uint32_t len = get_u32(p);
            p += 4;
            if ((uint64_t)len > (uint64_t)(end - p)) {
                return -1;
            }
            p += len;
        }
    }
    /* Only zero padding (< 8 bytes) may follow. */
    if (end - p >= 8) {
        return -1;
    }
    for (; p < end; p++) {
        if (*p != 0) {
            return -1;
        }
    }
    return 0;
}

int entry_reader_open(struct entry_reader *r, const void *data, size_t len,
                      struct entry_header *h)
{
    const uint8_t *p = data;
    memset(r, 0, sizeof *r);
    if (len < ENTRY_HEADER_SIZE_1 || len % 8 != 0) {
        return -1;
    }
    size_t hsize =
        p[0] == ENTRY_VERSION_1 ? ENTRY_HEADER_SIZE_1 : ENTRY_HEADER_SIZE;
    if (len < hsize) {
        return -1;
    }
    h->version = p[0];
    h->kind = p[1];
    h->ncmds = get_u32(p + 4);
    h->origin = get_u64(p + 8);
    h->nonce = get_u64(p + 16);
    h->seq = get_u64(p + 24);
    h->time_ms = get_u64(p + 32);
    h->term = hsize > ENTRY_HEADER_SIZE_1 ? get_u64(p + 40) : 0;
    if ((h->version != ENTRY_VERSION && h->version != ENTRY_VERSION_1) ||
        h->kind != ENTRY_KIND_COMMANDS || p[2] != 0 || p[3] != 0) {
        return -1;
    }
    if (validate(p + hsize, p + len, h->ncmds) != 0) {
        return -1;
    }
    r->p = p + hsize;
    r->end = p + len;
    r->left = h->ncmds;
    return 0;
}

const struct entry_cmd *entry_reader_next(struct entry_reader *r)
{
    if (r->left == 0) {
        return NULL;
    }
    r->left--;
    uint32_t argc = get_u32(r->p);
    r->cmd.flags = get_u32(r->p + 4);
    r->p += 8;
    if ((int)argc > r->cap) {
        r->cap = (int)argc;
        r->cmd.argv = xrealloc(r->cmd.argv, argc * sizeof *r->cmd.argv);
        r->cmd.argvlen = xrealloc(r->cmd.argvlen, argc * sizeof(size_t));
    }
    r->cmd.argc = (int)argc;
    for (uint32_t i = 0; i < argc; i++) {
        uint32_t len = get_u32(r->p);
        r->cmd.argv[i] = (const char *)r->p + 4;
        r->cmd.argvlen[i] = len;
        r->p += 4 + len;
    }
    return &r->cmd;
}

void entry_reader_close(struct entry_reader *r)
{
    free(r->cmd.argv);
    free(r->cmd.argvlen);
    memset(r, 0, sizeof *r);
}
