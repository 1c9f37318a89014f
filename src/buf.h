/* buf: a growable byte buffer.
 *
 * A buf owns its memory (`data`, `cap` bytes, `len` of them used). It is the
 * currency of replies and entry encoding: writers append, readers consume
 * from the front with buf_consume. A zeroed struct is a valid empty buffer. */
#ifndef BUF_H
#define BUF_H

#include <stddef.h>
#include <stdint.h>

struct buf {
    char *data;
    size_t len;
    size_t cap;
};

void buf_init(struct buf *b);
void buf_free(struct buf *b);
/* Make room for at least n more bytes; returns a pointer to the free space. */
char *buf_reserve(struct buf *b, size_t n);
void buf_append(struct buf *b, const void *p, size_t n);
void buf_append_str(struct buf *b, const char *s);
void buf_printf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Drop the first n bytes. */
void buf_consume(struct buf *b, size_t n);
void buf_clear(struct buf *b);
/* Little-endian fixed-width writers. */
void buf_put_u8(struct buf *b, uint8_t v);
void buf_put_u32(struct buf *b, uint32_t v);
void buf_put_u64(struct buf *b, uint64_t v);

#endif
