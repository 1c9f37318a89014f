/* Unit tests for entry: the log entry codec. Encoded entries must decode to
 * what was written, and every malformed form must be rejected whole. The
 * entries under test are copied into exactly-sized heap blocks so that the
 * sanitizer build catches any read past the end. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "entry.h"

struct sample_cmd {
    int argc;
    const char *argv[4];
    size_t len[4];
    uint32_t flags;
};

/* Three commands with binary and empty arguments; the layout is
 * 48 header + 27 + 20 + 16 = 111 bytes, padded to 112. */
static const struct sample_cmd sample[] = {
    {3, {"SET", "k\0ey", ""}, {3, 4, 0}, 0},
    {2, {"GET", "k"}, {3, 1}, ENTRY_CMD_READONLY},
    {1, {"PING"}, {4}, 0xDEADBEEFu},
};
#define SAMPLE_N         3
#define SAMPLE_LEN       112
#define SAMPLE_CMD3_ARG0 103 /* offset of the last argument's length */

static const struct entry_header sample_hdr = {
    .origin = 0x0102030405060708ull,
    .nonce = 0xFFFFFFFFFFFFFFFFull,
    .seq = 42,
    .time_ms = 1700000000123ull,
    .term = 0x1122334455667788ull,
};

static void add_cmd(struct entry_writer *w, const struct sample_cmd *c)
{
    char *argv[4];
    for (int i = 0; i < c->argc; i++) {
        argv[i] = (char *)c->argv[i];
    }
    entry_writer_add(w, c->argc, argv, c->len, c->flags);
}

/* Encode cmds into a fresh heap block of exactly the entry's length. */
static uint8_t *encode(const struct entry_header *h,
                       const struct sample_cmd *cmds, int n, size_t *len)
{
    struct entry_writer w;
    entry_writer_begin(&w, h);
    for (int i = 0; i < n; i++) {
        add_cmd(&w, &cmds[i]);
    }
    entry_writer_finish(&w);
    *len = w.b.len;
    uint8_t *p = malloc(w.b.len);
    memcpy(p, w.b.data, w.b.len);
    buf_free(&w.b);
    return p;
}

static uint8_t *dup_bytes(const uint8_t *p, size_t n)
{
    uint8_t *q = malloc(n ? n : 1);
    memcpy(q, p, n);
    return q;
}

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

/* Decode and compare with cmds; closes the reader. */
static void expect_decodes_to(const uint8_t *data, size_t len,
                              const struct entry_header *want_h,
                              const struct sample_cmd *cmds, int n)
{
    struct entry_reader r;
    struct entry_header h;
    assert_int_equal(entry_reader_open(&r, data, len, &h), 0);
    assert_int_equal(h.version,
                     want_h->version ? want_h->version : ENTRY_VERSION);
    size_t hsize =
        h.version == ENTRY_VERSION_1 ? ENTRY_HEADER_SIZE_1 : ENTRY_HEADER_SIZE;
    assert_int_equal(h.kind, ENTRY_KIND_COMMANDS);
    assert_int_equal(h.ncmds, n);
    assert_true(h.origin == want_h->origin);
    assert_true(h.nonce == want_h->nonce);
    assert_true(h.seq == want_h->seq);
    assert_true(h.time_ms == want_h->time_ms);
    assert_true(h.term == want_h->term);
    for (int i = 0; i < n; i++) {
        const struct entry_cmd *c = entry_reader_next(&r);
        assert_non_null(c);
        assert_int_equal(c->argc, cmds[i].argc);
        assert_int_equal(c->flags, cmds[i].flags);
        for (int a = 0; a < c->argc; a++) {
            assert_int_equal(c->argvlen[a], cmds[i].len[a]);
            assert_memory_equal(c->argv[a], cmds[i].argv[a], c->argvlen[a]);
            /* argv points into the entry itself */
            assert_true((const uint8_t *)c->argv[a] >= data + hsize);
            assert_true((const uint8_t *)c->argv[a] + c->argvlen[a] <=
                        data + len);
        }
    }
    assert_null(entry_reader_next(&r));
    assert_null(entry_reader_next(&r));
    entry_reader_close(&r);
}

static void expect_rejected(const uint8_t *data, size_t len)
{
    uint8_t *copy = dup_bytes(data, len);
    struct entry_reader r;
    struct entry_header h;
    assert_int_equal(entry_reader_open(&r, copy, len, &h), -1);
    /* Nothing to free after a rejection (the leak checker verifies). */
    free(copy);
}

/* ---- encoding --------------------------------------------------------- */

static void test_roundtrip(void **state)
{
    (void)state;
    size_t len;
    uint8_t *e = encode(&sample_hdr, sample, SAMPLE_N, &len);
    assert_int_equal(len, SAMPLE_LEN);
    expect_decodes_to(e, len, &sample_hdr, sample, SAMPLE_N);
    free(e);
}

/* The exact bytes of a small entry: little-endian fields, zero padding. */
static void test_byte_layout(void **state)
{
    (void)state;
    static const struct sample_cmd get = {2, {"GET", "k"}, {3, 1}, 1};
    static const uint8_t want[72] = {
        2,    1,    0,    0,    1,    0,    0,    0,    /* v, kind, n */
        0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, /* origin */
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* nonce */
        42,   0,    0,    0,    0,    0,    0,    0,    /* seq */
        0x7b, 0x68, 0xe5, 0xcf, 0x8b, 0x01, 0,    0,    /* time */
        0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, /* term */
        2,    0,    0,    0,    1,    0,    0,    0,    /* argc, flags */
        3,    0,    0,    0,    'G',  'E',  'T',  1,
        0,    0,    0,    'k',  0,    0,    0,    0, /* args, padding */
    };
    size_t len;
    uint8_t *e = encode(&sample_hdr, &get, 1, &len);
    assert_int_equal(len, sizeof want);
    assert_memory_equal(e, want, sizeof want);
    free(e);
}

/* A version 1 entry (no term field, 40-byte header), as older nodes wrote
 * and older logs and snapshot tails hold, still decodes, with term 0. */
static void test_version1_decodes(void **state)
{
    (void)state;
    static const struct sample_cmd get = {2, {"GET", "k"}, {3, 1}, 1};
    static const uint8_t v1[64] = {
        1,    1,    0,    0,    1,    0,    0,    0,    /* v, kind, n */
        0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, /* origin */
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* nonce */
        42,   0,    0,    0,    0,    0,    0,    0,    /* seq */
        0x7b, 0x68, 0xe5, 0xcf, 0x8b, 0x01, 0,    0,    /* time */
        2,    0,    0,    0,    1,    0,    0,    0,    /* argc, flags */
        3,    0,    0,    0,    'G',  'E',  'T',  1,
        0,    0,    0,    'k',  0,    0,    0,    0, /* args, padding */
    };
    struct entry_header want = sample_hdr;
    want.version = ENTRY_VERSION_1;
    want.term = 0;
    uint8_t *e = dup_bytes(v1, sizeof v1);
    expect_decodes_to(e, sizeof v1, &want, &get, 1);
    /* Every shorter prefix is rejected, as for version 2. */
    for (size_t n = 0; n < sizeof v1; n++) {
        expect_rejected(e, n);
    }
    /* An empty version 1 batch is exactly its 40-byte header. */
    e[4] = 0;
    expect_decodes_to(e, ENTRY_HEADER_SIZE_1, &want, NULL, 0);
    free(e);
}

/* The term is decided at proposal time and patched in, like the time. */
static void test_set_term_and_time(void **state)
{
    (void)state;
    struct entry_header h = sample_hdr;
    h.term = 0;
    h.time_ms = 0;
    struct entry_writer w;
    entry_writer_begin(&w, &h);
    add_cmd(&w, &sample[0]);
    entry_writer_set_time(&w, sample_hdr.time_ms);
    entry_writer_set_term(&w, sample_hdr.term);
    entry_writer_finish(&w);
    uint8_t *e = dup_bytes((const uint8_t *)w.b.data, w.b.len);
    expect_decodes_to(e, w.b.len, &sample_hdr, sample, 1);
    free(e);
    buf_free(&w.b);
}

/* A version 2 header cut to version 1's size is rejected, not read as a
 * version 1 entry. */
static void test_rejects_v2_with_v1_header(void **state)
{
    (void)state;
    size_t len;
    uint8_t *e = encode(&sample_hdr, NULL, 0, &len);
    assert_int_equal(len, ENTRY_HEADER_SIZE);
    expect_rejected(e, ENTRY_HEADER_SIZE_1);
    free(e);
}

/* Every argument length gives a total that is a multiple of 8, padded with
 * zeros, and decodes back. */
static void test_length_is_multiple_of_8(void **state)
{
    (void)state;
    char arg[40];
    memset(arg, 'x', sizeof arg);
    for (size_t k = 0; k <= sizeof arg; k++) {
        struct sample_cmd c = {1, {arg}, {k}, 0};
        size_t len;
        uint8_t *e = encode(&sample_hdr, &c, 1, &len);
        size_t content = ENTRY_HEADER_SIZE + 8 + 4 + k;
        assert_int_equal(len % 8, 0);
        assert_int_equal(len, (content + 7) / 8 * 8);
        for (size_t i = content; i < len; i++) {
            assert_int_equal(e[i], 0);
        }
        expect_decodes_to(e, len, &sample_hdr, &c, 1);
        free(e);
    }
}

static void test_empty_batch(void **state)
{
    (void)state;
    size_t len;
    uint8_t *e = encode(&sample_hdr, NULL, 0, &len);
    assert_int_equal(len, ENTRY_HEADER_SIZE);
    expect_decodes_to(e, len, &sample_hdr, NULL, 0);
    free(e);
}

/* Commands of growing and shrinking argc reuse the reader's arrays. */
static void test_many_commands_varied_argc(void **state)
{
    (void)state;
    enum { N = 1000 };
    struct sample_cmd *cmds = calloc(N, sizeof *cmds);
    static const char *const words[] = {"a", "", "hello", "\0\r\n"};
    static const size_t wlen[] = {1, 0, 5, 3};
    uint64_t x = 0x1234567ull;
    for (int i = 0; i < N; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        cmds[i].argc = 1 + (int)(x % 4);
        cmds[i].flags = (uint32_t)(x >> 32);
        for (int a = 0; a < cmds[i].argc; a++) {
            int w = (int)((x >> (8 * a)) % 4);
            cmds[i].argv[a] = words[w];
            cmds[i].len[a] = wlen[w];
        }
    }
    struct entry_header h = {.origin = 3, .nonce = 5, .seq = 7};
    size_t len;
    uint8_t *e = encode(&h, cmds, N, &len);
    assert_int_equal(len % 8, 0);
    expect_decodes_to(e, len, &h, cmds, N);
    free(e);
    free(cmds);
}

/* A reader can be closed early, before the last command. */
static void test_close_before_end(void **state)
{
    (void)state;
    size_t len;
    uint8_t *e = encode(&sample_hdr, sample, SAMPLE_N, &len);
    struct entry_reader r;
    struct entry_header h;
    assert_int_equal(entry_reader_open(&r, e, len, &h), 0);
    assert_non_null(entry_reader_next(&r));
    entry_reader_close(&r);
    free(e);
}

/* ---- rejection -------------------------------------------------------- */

static void test_rejects_truncated(void **state)
{
    (void)state;
    size_t len;
    uint8_t *e = encode(&sample_hdr, sample, SAMPLE_N, &len);
    for (size_t n = 0; n < len; n++) {
        expect_rejected(e, n);
    }
    free(e);
}

static void test_rejects_bad_version_and_kind(void **state)
{
    (void)state;
    size_t len;
    uint8_t *e = encode(&sample_hdr, sample, SAMPLE_N, &len);
    static const uint8_t bad_version[] = {0, 3, 0x80, 0xff};
    static const uint8_t bad_kind[] = {0, 2, 0x80, 0xff};
    for (size_t i = 0; i < sizeof bad_version; i++) {
        uint8_t *m = dup_bytes(e, len);
        m[0] = bad_version[i];
        expect_rejected(m, len);
        m[0] = ENTRY_VERSION;
        m[1] = bad_kind[i];
        expect_rejected(m, len);
        free(m);
    }
    free(e);
}

static void test_rejects_nonzero_reserved(void **state)
{
    (void)state;
    size_t len;
    uint8_t *e = encode(&sample_hdr, sample, SAMPLE_N, &len);
    for (int byte = 2; byte <= 3; byte++) {
        for (int bit = 0; bit < 8; bit++) {
            uint8_t *m = dup_bytes(e, len);
            m[byte] = (uint8_t)(1u << bit);
            expect_rejected(m, len);
            free(m);
        }
    }
    free(e);
}

static void test_rejects_argc_zero(void **state)
{
    (void)state;
    struct entry_writer w;
    entry_writer_begin(&w, &sample_hdr);
    entry_writer_add(&w, 0, NULL, NULL, 0);
    entry_writer_finish(&w);
    expect_rejected((const uint8_t *)w.b.data, w.b.len);
    buf_free(&w.b);

    size_t len;
    uint8_t *e = encode(&sample_hdr, sample, SAMPLE_N, &len);
    put_u32(e + ENTRY_HEADER_SIZE, 0); /* first command's argc */
    expect_rejected(e, len);
    free(e);
}

static void test_rejects_huge_argc(void **state)
{
    (void)state;
    static const uint32_t bad[] = {0xFFFFFFFFu, 0x80000000u, 0x7FFFFFFFu,
                                   0x40000000u, 1000,        17};
    size_t len;
    uint8_t *e = encode(&sample_hdr, sample, SAMPLE_N, &len);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t *m = dup_bytes(e, len);
        put_u32(m + ENTRY_HEADER_SIZE, bad[i]);
        expect_rejected(m, len);
        free(m);
    }
    free(e);
}

static void test_rejects_argument_past_end(void **state)
{
    (void)state;
    static const uint32_t bad[] = {6, 7, 8, 100, 0x7FFFFFFFu, 0xFFFFFFFFu};
    size_t len;
    uint8_t *e = encode(&sample_hdr, sample, SAMPLE_N, &len);
    assert_int_equal(e[SAMPLE_CMD3_ARG0], 4); /* "PING" */
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t *m = dup_bytes(e, len);
        put_u32(m + SAMPLE_CMD3_ARG0, bad[i]);
        expect_rejected(m, len);
        free(m);
    }
    /* The first argument's length too (offset 56). */
    uint8_t *m = dup_bytes(e, len);
    put_u32(m + ENTRY_HEADER_SIZE + 8, (uint32_t)len);
    expect_rejected(m, len);
    free(m);
    free(e);
}

static void test_rejects_wrong_command_count(void **state)
{
    (void)state;
    static const uint32_t bad[] = {0, 1, 2, 4, 5, 0xFFFFFFFFu};
    size_t len;
    uint8_t *e = encode(&sample_hdr, sample, SAMPLE_N, &len);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t *m = dup_bytes(e, len);
        put_u32(m + 4, bad[i]);
        expect_rejected(m, len);
        free(m);
    }
    free(e);
}

static void test_rejects_trailing_garbage(void **state)
{
    (void)state;
    size_t len;
    uint8_t *e = encode(&sample_hdr, sample, SAMPLE_N, &len);
    /* Nonzero padding byte (the sample has one byte of padding). */
    uint8_t *m = dup_bytes(e, len);
    m[len - 1] = 1;
    expect_rejected(m, len);
    free(m);
    /* Whole extra words, zero or not, after the last command. */
    for (size_t extra = 8; extra <= 24; extra += 8) {
        m = calloc(1, len + extra);
        memcpy(m, e, len);
        expect_rejected(m, len + extra);
        m[len + extra - 1] = 0x55;
        expect_rejected(m, len + extra);
        free(m);
    }
    free(e);

    /* An entry without padding followed by 8 zero bytes. */
    static const struct sample_cmd c = {1, {"PING"}, {4}, 0};
    e = encode(&sample_hdr, &c, 1, &len);
    assert_int_equal(len, 64);
    m = calloc(1, len + 8);
    memcpy(m, e, len);
    expect_rejected(m, len + 8);
    free(m);
    free(e);
}

/* Mutate every byte of a valid entry in several ways: each result is
 * either rejected or decodes with every argument inside the entry. */
static void test_mutations_never_read_out_of_bounds(void **state)
{
    (void)state;
    size_t len;
    uint8_t *e = encode(&sample_hdr, sample, SAMPLE_N, &len);
    for (size_t at = 0; at < len; at++) {
        const uint8_t vals[] = {0, 1, 2, 3, 4, 0x7f, 0x80, 0xff, e[at] ^ 1u};
        for (size_t i = 0; i < sizeof vals; i++) {
            uint8_t *m = dup_bytes(e, len);
            m[at] = vals[i];
            struct entry_reader r;
            struct entry_header h;
            if (entry_reader_open(&r, m, len, &h) == 0) {
                uint32_t n = 0;
                const struct entry_cmd *c;
                while ((c = entry_reader_next(&r)) != NULL) {
                    n++;
                    assert_true(c->argc > 0);
                    for (int a = 0; a < c->argc; a++) {
                        const uint8_t *p = (const uint8_t *)c->argv[a];
                        assert_true(p >= m + 40);
                        assert_true(p + c->argvlen[a] <= m + len);
                    }
                }
                assert_int_equal(n, h.ncmds);
                entry_reader_close(&r);
            }
            free(m);
        }
    }
    free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_byte_layout),
        cmocka_unit_test(test_version1_decodes),
        cmocka_unit_test(test_set_term_and_time),
        cmocka_unit_test(test_rejects_v2_with_v1_header),
        cmocka_unit_test(test_length_is_multiple_of_8),
        cmocka_unit_test(test_empty_batch),
        cmocka_unit_test(test_many_commands_varied_argc),
        cmocka_unit_test(test_close_before_end),
        cmocka_unit_test(test_rejects_truncated),
        cmocka_unit_test(test_rejects_bad_version_and_kind),
        cmocka_unit_test(test_rejects_nonzero_reserved),
        cmocka_unit_test(test_rejects_argc_zero),
        cmocka_unit_test(test_rejects_huge_argc),
        cmocka_unit_test(test_rejects_argument_past_end),
        cmocka_unit_test(test_rejects_wrong_command_count),
        cmocka_unit_test(test_rejects_trailing_garbage),
        cmocka_unit_test(test_mutations_never_read_out_of_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
