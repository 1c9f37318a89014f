/* Unit tests for proto: request parsing as redis-server does it, with its
 * exact protocol error texts. Every parse runs on a copy of the input in an
 * exactly-sized heap block, so the sanitizer build catches any read past
 * the bytes the caller handed over. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "proto.h"

#define MAX_BULK       (512LL * 1024 * 1024)
#define ERR_MBULK_LEN  "Protocol error: invalid multibulk length"
#define ERR_BULK_LEN   "Protocol error: invalid bulk length"
#define ERR_INLINE_BIG "Protocol error: too big inline request"
#define ERR_MBULK_BIG  "Protocol error: too big mbulk count string"
#define ERR_BULK_BIG   "Protocol error: too big bulk count string"
#define ERR_QUOTES     "Protocol error: unbalanced quotes in request"

#define LIT(s) (s), (sizeof(s) - 1)

/* One parse call on a private copy of buf[0..len). */
static enum proto_status parse(struct proto *p, const char *buf, size_t len,
                               size_t *consumed, struct proto_req *req,
                               const char **err)
{
    char *copy = malloc(len ? len : 1);
    memcpy(copy, buf, len);
    *err = NULL;
    enum proto_status st = proto_parse(p, copy, len, consumed, req, err);
    free(copy);
    return st;
}

/* Assert req holds exactly the NULL-terminated C strings in want. */
static void expect_argv(const struct proto_req *req, const char *const *want)
{
    int n = 0;
    while (want[n] != NULL) {
        n++;
    }
    assert_int_equal(req->argc, n);
    for (int i = 0; i < n; i++) {
        assert_int_equal(req->argvlen[i], strlen(want[i]));
        assert_memory_equal(req->argv[i], want[i], req->argvlen[i]);
        assert_int_equal(req->argv[i][req->argvlen[i]], '\0');
    }
}

/* Parse a complete request in one call on a fresh parser. */
static void expect_request(const char *buf, size_t len, size_t want_consumed,
                           const char *const *want)
{
    struct proto *p = proto_new(MAX_BULK);
    struct proto_req req;
    size_t consumed = 999;
    const char *err;
    assert_int_equal(parse(p, buf, len, &consumed, &req, &err), PROTO_OK);
    assert_int_equal(consumed, want_consumed);
    expect_argv(&req, want);
    proto_req_free(&req);
    assert_int_equal(req.argc, 0);
    proto_free(p);
}

static void expect_empty(const char *buf, size_t len, size_t want_consumed)
{
    struct proto *p = proto_new(MAX_BULK);
    struct proto_req req;
    size_t consumed = 999;
    const char *err;
    assert_int_equal(parse(p, buf, len, &consumed, &req, &err), PROTO_EMPTY);
    assert_int_equal(consumed, want_consumed);
    assert_int_equal(req.argc, 0);
    proto_free(p);
}

/* Feed buf one more byte at a time, as a connection receiving it byte by
 * byte would (keeping what was not consumed): every proper prefix needs
 * more and consumes nothing; the status of the whole is returned. */
static enum proto_status feed_bytewise(struct proto *p, const char *buf,
                                       size_t len, size_t *consumed,
                                       struct proto_req *req, const char **err)
{
    for (size_t k = 0; k < len; k++) {
        enum proto_status st = parse(p, buf, k, consumed, req, err);
        if (st != PROTO_NEED_MORE) {
            fail_msg("prefix of %zu bytes (of %zu) gave status %d", k, len,
                     (int)st);
        }
        assert_int_equal(*consumed, 0);
        assert_int_equal(req->argc, 0);
    }
    return parse(p, buf, len, consumed, req, err);
}

static void expect_error_with_max(long long max_bulk, const char *buf,
                                  size_t len, const char *want)
{
    struct proto *p = proto_new(max_bulk);
    struct proto_req req;
    size_t consumed;
    const char *err;
    enum proto_status st = parse(p, buf, len, &consumed, &req, &err);
    if (st != PROTO_ERR) {
        fail_msg("status %d for \"%.*s\", want error \"%s\"", (int)st,
                 (int)(len < 60 ? len : 60), buf, want);
    }
    assert_non_null(err);
    assert_string_equal(err, want);
    assert_int_equal(req.argc, 0);
    proto_free(p);

    /* The same error when the bytes arrive one by one: the first prefix
     * that does not need more is the error. */
    p = proto_new(max_bulk);
    for (size_t k = 0; k <= len && len < 200; k++) {
        st = parse(p, buf, k, &consumed, &req, &err);
        if (st != PROTO_NEED_MORE) {
            assert_int_equal(st, PROTO_ERR);
            assert_string_equal(err, want);
            break;
        }
        assert_int_not_equal(k, len);
    }
    proto_free(p);
}

static void expect_error(const char *buf, size_t len, const char *want)
{
    expect_error_with_max(MAX_BULK, buf, len, want);
}

/* ---- multibulk -------------------------------------------------------- */

static void test_multibulk_simple(void **state)
{
    (void)state;
    expect_request(LIT("*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n"), 22,
                   (const char *[]){"GET", "key", NULL});
    expect_request(LIT("*1\r\n$0\r\n\r\n"), 10, (const char *[]){"", NULL});
    /* Only the frame is consumed; what follows stays with the caller. */
    expect_request(LIT("*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPI"), 14,
                   (const char *[]){"PING", NULL});
    expect_request(LIT("*1\r\n$4\r\nPING\r\ngarbage"), 14,
                   (const char *[]){"PING", NULL});
}

static void test_multibulk_binary_safe(void **state)
{
    (void)state;
    static const char in[] = "*2\r\n$3\r\nSET\r\n$7\r\na\r\n\0b*$\r\n";
    struct proto *p = proto_new(MAX_BULK);
    struct proto_req req;
    size_t consumed;
    const char *err;
    assert_int_equal(parse(p, in, sizeof in - 1, &consumed, &req, &err),
                     PROTO_OK);
    assert_int_equal(consumed, sizeof in - 1);
    assert_int_equal(req.argc, 2);
    assert_int_equal(req.argvlen[1], 7);
    assert_memory_equal(req.argv[1], "a\r\n\0b*$", 7);
    assert_int_equal(req.argv[1][7], '\0');
    proto_req_free(&req);
    proto_free(p);
}

static void test_multibulk_bytewise(void **state)
{
    (void)state;
    static const char in[] = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$10\r\n0123456789"
                             "\r\n";
    struct proto *p = proto_new(MAX_BULK);
    struct proto_req req;
    size_t consumed;
    const char *err;
    assert_int_equal(feed_bytewise(p, in, sizeof in - 1, &consumed, &req, &err),
                     PROTO_OK);
    assert_int_equal(consumed, sizeof in - 1);
    expect_argv(&req, (const char *[]){"SET", "k", "0123456789", NULL});
    proto_req_free(&req);
    /* The parser is ready for the next request, again byte by byte. */
    assert_int_equal(
        feed_bytewise(p, LIT("*1\r\n$4\r\nPING\r\n"), &consumed, &req, &err),
        PROTO_OK);
    assert_int_equal(consumed, 14);
    expect_argv(&req, (const char *[]){"PING", NULL});
    proto_req_free(&req);
    proto_free(p);
}

/* More arguments than the argv arrays first hold, and a 1 MiB argument
 * arriving in 4 KiB pieces. */
static void test_multibulk_large(void **state)
{
    (void)state;
    enum { NARGS = 3000, BIG = 1 << 20 };
    struct buf in;
    buf_init(&in);
    buf_printf(&in, "*%d\r\n", NARGS);
    for (int i = 0; i < NARGS; i++) {
        buf_printf(&in, "$%d\r\n%d\r\n", snprintf(NULL, 0, "%d", i), i);
    }
    struct proto *p = proto_new(MAX_BULK);
    struct proto_req req;
    size_t consumed;
    const char *err;
    assert_int_equal(parse(p, in.data, in.len, &consumed, &req, &err),
                     PROTO_OK);
    assert_int_equal(consumed, in.len);
    assert_int_equal(req.argc, NARGS);
    for (int i = 0; i < NARGS; i++) {
        assert_int_equal(atoi(req.argv[i]), i);
    }
    proto_req_free(&req);

    buf_clear(&in);
    buf_printf(&in, "*2\r\n$3\r\nSET\r\n$%d\r\n", BIG);
    size_t hdr = in.len;
    memset(buf_reserve(&in, BIG + 2), 'v', BIG);
    in.len += BIG;
    buf_append(&in, "\r\n", 2);
    for (size_t k = 1; k < in.len; k += 4096) {
        assert_int_equal(parse(p, in.data, k, &consumed, &req, &err),
                         PROTO_NEED_MORE);
    }
    assert_int_equal(parse(p, in.data, in.len, &consumed, &req, &err),
                     PROTO_OK);
    assert_int_equal(consumed, in.len);
    assert_int_equal(req.argc, 2);
    assert_int_equal(req.argvlen[1], BIG);
    assert_memory_equal(req.argv[1], in.data + hdr, BIG);
    proto_req_free(&req);
    proto_free(p);
    buf_free(&in);
}

static void test_empty_requests(void **state)
{
    (void)state;
    expect_empty(LIT("*0\r\n"), 4);
    expect_empty(LIT("*-1\r\n"), 5);
    expect_empty(LIT("*-5\r\n"), 5); /* redis-server ignores any count <= 0 */
    expect_empty(LIT("*0\r\n*1\r\n$1\r\na\r\n"), 4);
    expect_empty(LIT("\r\n"), 2);
    expect_empty(LIT("\n"), 1);
    expect_empty(LIT("   \n"), 4);
    expect_empty(LIT(" \t \r\n"), 5);
    expect_empty(LIT("\r\nPING\r\n"), 2);

    /* Byte by byte too. */
    struct proto *p = proto_new(MAX_BULK);
    struct proto_req req;
    size_t consumed;
    const char *err;
    assert_int_equal(feed_bytewise(p, LIT("*0\r\n"), &consumed, &req, &err),
                     PROTO_EMPTY);
    assert_int_equal(consumed, 4);
    assert_int_equal(feed_bytewise(p, LIT("   \n"), &consumed, &req, &err),
                     PROTO_EMPTY);
    assert_int_equal(consumed, 4);
    proto_free(p);
}

static void test_zero_length_input_needs_more(void **state)
{
    (void)state;
    struct proto *p = proto_new(MAX_BULK);
    struct proto_req req;
    size_t consumed = 7;
    const char *err;
    assert_int_equal(proto_parse(p, "", 0, &consumed, &req, &err),
                     PROTO_NEED_MORE);
    assert_int_equal(consumed, 0);
    proto_free(p);
}

/* ---- multibulk errors ------------------------------------------------- */

static void test_error_invalid_multibulk_length(void **state)
{
    (void)state;
    expect_error(LIT("*abc\r\n"), ERR_MBULK_LEN);
    expect_error(LIT("*3000000000\r\n"), ERR_MBULK_LEN);
    expect_error(LIT("*2147483648\r\n"), ERR_MBULK_LEN); /* INT_MAX + 1 */
    expect_error(LIT("*\r\n"), ERR_MBULK_LEN);
    expect_error(LIT("*+1\r\n"), ERR_MBULK_LEN);
    expect_error(LIT("*01\r\n"), ERR_MBULK_LEN);
    expect_error(LIT("* 1\r\n"), ERR_MBULK_LEN);
    expect_error(LIT("*1 \r\n"), ERR_MBULK_LEN);
    expect_error(LIT("*-0\r\n"), ERR_MBULK_LEN);
    expect_error(LIT("*99999999999999999999\r\n"), ERR_MBULK_LEN);

    /* INT_MAX itself is a valid count: the parser waits for the bulks. */
    struct proto *p = proto_new(MAX_BULK);
    struct proto_req req;
    size_t consumed;
    const char *err;
    assert_int_equal(parse(p, LIT("*2147483647\r\n"), &consumed, &req, &err),
                     PROTO_NEED_MORE);
    proto_free(p);
}

static void test_error_expected_dollar(void **state)
{
    (void)state;
    expect_error(LIT("*1\r\nx3\r\nfoo\r\n"),
                 "Protocol error: expected '$', got 'x'");
    expect_error(LIT("*1\r\n:1\r\n"), "Protocol error: expected '$', got ':'");
    expect_error(LIT("*2\r\n$3\r\nGET\r\n+OK\r\n"),
                 "Protocol error: expected '$', got '+'");
    /* Nested arrays are not requests. */
    expect_error(LIT("*2\r\n*1\r\n$1\r\na\r\n$1\r\nb\r\n"),
                 "Protocol error: expected '$', got '*'");
}

static void test_error_invalid_bulk_length(void **state)
{
    (void)state;
    expect_error(LIT("*1\r\n$-1\r\n"), ERR_BULK_LEN);
    expect_error(LIT("*1\r\n$-5\r\n"), ERR_BULK_LEN);
    expect_error(LIT("*1\r\n$abc\r\n"), ERR_BULK_LEN);
    expect_error(LIT("*1\r\n$\r\n"), ERR_BULK_LEN);
    expect_error(LIT("*1\r\n$+3\r\nfoo\r\n"), ERR_BULK_LEN);
    expect_error(LIT("*1\r\n$03\r\nfoo\r\n"), ERR_BULK_LEN);
    expect_error(LIT("*1\r\n$ 3\r\nfoo\r\n"), ERR_BULK_LEN);
    expect_error(LIT("*1\r\n$3 \r\nfoo\r\n"), ERR_BULK_LEN);
    expect_error(LIT("*2\r\n$3\r\nGET\r\n$x\r\n"), ERR_BULK_LEN);
    expect_error(LIT("*1\r\n$99999999999999999999\r\n"), ERR_BULK_LEN);
    expect_error(LIT("*1\r\n$536870913\r\n"), ERR_BULK_LEN); /* 512M + 1 */
}

static void test_max_bulk_len(void **state)
{
    (void)state;
    static const char ten[] = "*1\r\n$10\r\n0123456789\r\n";
    static const char eleven[] = "*1\r\n$11\r\n0123456789a\r\n";
    expect_error_with_max(10, eleven, sizeof eleven - 1, ERR_BULK_LEN);
    expect_error_with_max(9, ten, sizeof ten - 1, ERR_BULK_LEN);

    struct proto *p = proto_new(10);
    struct proto_req req;
    size_t consumed;
    const char *err;
    assert_int_equal(parse(p, ten, sizeof ten - 1, &consumed, &req, &err),
                     PROTO_OK);
    expect_argv(&req, (const char *[]){"0123456789", NULL});
    proto_req_free(&req);
    proto_set_max_bulk_len(p, 11);
    assert_int_equal(parse(p, eleven, sizeof eleven - 1, &consumed, &req, &err),
                     PROTO_OK);
    expect_argv(&req, (const char *[]){"0123456789a", NULL});
    proto_req_free(&req);
    proto_set_max_bulk_len(p, 0);
    assert_int_equal(parse(p, LIT("*1\r\n$0\r\n\r\n"), &consumed, &req, &err),
                     PROTO_OK);
    proto_req_free(&req);
    assert_int_equal(parse(p, LIT("*1\r\n$1\r\n"), &consumed, &req, &err),
                     PROTO_ERR);
    assert_string_equal(err, ERR_BULK_LEN);
    proto_free(p);
}

/* A count line longer than 64 KiB with no CR yet is refused; up to that it
 * is still waited for. */
static void test_error_too_big_count_strings(void **state)
{
    (void)state;
    enum { MAX = PROTO_INLINE_MAX_SIZE };
    char *in = malloc(MAX + 16);
    struct proto *p = proto_new(MAX_BULK);
    struct proto_req req;
    size_t consumed;
    const char *err;

    in[0] = '*';
    memset(in + 1, '1', MAX + 8);
    assert_int_equal(parse(p, in, MAX, &consumed, &req, &err), PROTO_NEED_MORE);
    proto_free(p);
    expect_error(in, MAX + 1, ERR_MBULK_BIG);

    memcpy(in, "*1\r\n$", 5);
    memset(in + 5, '1', MAX + 8);
    p = proto_new(MAX_BULK);
    assert_int_equal(parse(p, in, 4 + MAX, &consumed, &req, &err),
                     PROTO_NEED_MORE);
    proto_free(p);
    expect_error(in, 4 + MAX + 1, ERR_BULK_BIG);
    free(in);

    /* Bulk data beyond 64 KiB is not a count string: just wait for it. */
    struct buf b;
    buf_init(&b);
    buf_append_str(&b, "*1\r\n$200000\r\n");
    memset(buf_reserve(&b, 100000), 'x', 100000);
    b.len += 100000;
    p = proto_new(MAX_BULK);
    assert_int_equal(parse(p, b.data, b.len, &consumed, &req, &err),
                     PROTO_NEED_MORE);
    proto_free(p);
    buf_free(&b);
}

/* ---- inline ----------------------------------------------------------- */

static void test_inline_simple(void **state)
{
    (void)state;
    expect_request(LIT("PING\r\n"), 6, (const char *[]){"PING", NULL});
    expect_request(LIT("PING\n"), 5, (const char *[]){"PING", NULL});
    expect_request(LIT("SET k v\r\nGET k\r\n"), 9,
                   (const char *[]){"SET", "k", "v", NULL});
    expect_request(LIT("  SET \t k    v  \r\n"), 18,
                   (const char *[]){"SET", "k", "v", NULL});
    /* A '$' or ':' first is just an inline word. */
    expect_request(LIT("$3 x\r\n"), 6, (const char *[]){"$3", "x", NULL});
}

/* Quoting as sdssplitargs does it (the routine redis-server uses). */
static void test_inline_quoting(void **state)
{
    (void)state;
    expect_request(LIT("SET \"a b\" 'c d'\r\n"), 17,
                   (const char *[]){"SET", "a b", "c d", NULL});
    expect_request(LIT("SET k \"\"\r\n"), 10,
                   (const char *[]){"SET", "k", "", NULL});
    expect_request(LIT("SET k ''\n"), 9,
                   (const char *[]){"SET", "k", "", NULL});
    /* Escapes inside double quotes: \xHH, \n \r \t \b \a, and any other
     * escaped character stands for itself. */
    expect_request(LIT("ECHO \"\\x41\\x6a\\n\\r\\t\\b\\a\\\\\\\"\\q\"\n"), 32,
                   (const char *[]){"ECHO", "Aj\n\r\t\b\a\\\"q", NULL});
    /* Inside single quotes only \' is an escape. */
    expect_request(LIT("ECHO 'it\\'s' 'a\\nb'\n"), 20,
                   (const char *[]){"ECHO", "it's", "a\\nb", NULL});
    /* A quote inside a word opens a quoted part of that word. */
    expect_request(LIT("ECHO a\"b c\" x'y z'\n"), 19,
                   (const char *[]){"ECHO", "ab c", "xy z", NULL});
}

static void test_inline_binary_via_hex_escape(void **state)
{
    (void)state;
    struct proto *p = proto_new(MAX_BULK);
    struct proto_req req;
    size_t consumed;
    const char *err;
    assert_int_equal(
        parse(p, LIT("SET k \"a\\x00b\"\r\n"), &consumed, &req, &err),
        PROTO_OK);
    assert_int_equal(req.argc, 3);
    assert_int_equal(req.argvlen[2], 3);
    assert_memory_equal(req.argv[2], "a\0b", 3);
    proto_req_free(&req);
    proto_free(p);
}

static void test_inline_bytewise(void **state)
{
    (void)state;
    struct proto *p = proto_new(MAX_BULK);
    struct proto_req req;
    size_t consumed;
    const char *err;
    assert_int_equal(
        feed_bytewise(p, LIT("SET \"a b\" c\r\n"), &consumed, &req, &err),
        PROTO_OK);
    assert_int_equal(consumed, 13);
    expect_argv(&req, (const char *[]){"SET", "a b", "c", NULL});
    proto_req_free(&req);
    proto_free(p);
}

static void test_inline_unbalanced_quotes(void **state)
{
    (void)state;
    expect_error(LIT("SET \"a b\r\n"), ERR_QUOTES);
    expect_error(LIT("SET 'a\r\n"), ERR_QUOTES);
    expect_error(LIT("\"\n"), ERR_QUOTES);
    /* A closing quote must be followed by a space or the end. */
    expect_error(LIT("SET \"a\"b\r\n"), ERR_QUOTES);
    expect_error(LIT("SET 'a'b\n"), ERR_QUOTES);
}

static void test_inline_too_big(void **state)
{
    (void)state;
    enum { MAX = PROTO_INLINE_MAX_SIZE, LONG = 100000 };
    char *in = malloc(LONG + 1);
    memset(in, 'a', LONG);
    in[LONG] = '\n';
    struct proto *p = proto_new(MAX_BULK);
    struct proto_req req;
    size_t consumed;
    const char *err;
    assert_int_equal(parse(p, in, MAX, &consumed, &req, &err), PROTO_NEED_MORE);
    proto_free(p);
    expect_error(in, MAX + 1, ERR_INLINE_BIG);
    /* A long line is fine once its newline has arrived. */
    p = proto_new(MAX_BULK);
    assert_int_equal(parse(p, in, LONG + 1, &consumed, &req, &err), PROTO_OK);
    assert_int_equal(consumed, LONG + 1);
    assert_int_equal(req.argc, 1);
    assert_int_equal(req.argvlen[0], LONG);
    proto_req_free(&req);
    proto_free(p);
    free(in);
}

/* ---- pipelining ------------------------------------------------------- */

static const char pipeline[] = "*1\r\n$4\r\nPING\r\n"
                               "SET a b\r\n"
                               "*0\r\n"
                               "\r\n"
                               "*-1\r\n"
                               "GET \"x y\"\n"
                               "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"
                               "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n"
                               "*1\r\n$3\r\nGE"; /* incomplete */

/* Append a canonical description of one parse result to out. */
static void describe(struct buf *out, enum proto_status st, size_t consumed,
                     const struct proto_req *req)
{
    buf_printf(out, "%d/%zu", (int)st, consumed);
    for (int i = 0; i < req->argc; i++) {
        buf_printf(out, " %zu:", req->argvlen[i]);
        buf_append(out, req->argv[i], req->argvlen[i]);
    }
    buf_append(out, "\n", 1);
}

static void test_pipeline_one_buffer(void **state)
{
    (void)state;
    struct {
        enum proto_status st;
        size_t consumed;
        const char *argv[4];
    } want[] = {
        {PROTO_OK, 14, {"PING"}},     {PROTO_OK, 9, {"SET", "a", "b"}},
        {PROTO_EMPTY, 4, {NULL}},     {PROTO_EMPTY, 2, {NULL}},
        {PROTO_EMPTY, 5, {NULL}},     {PROTO_OK, 10, {"GET", "x y"}},
        {PROTO_OK, 20, {"GET", "k"}}, {PROTO_OK, 26, {"SET", "k", ""}},
    };
    struct proto *p = proto_new(MAX_BULK);
    struct proto_req req;
    size_t consumed;
    const char *err;
    size_t off = 0, len = sizeof pipeline - 1;
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        enum proto_status st =
            parse(p, pipeline + off, len - off, &consumed, &req, &err);
        assert_int_equal(st, want[i].st);
        assert_int_equal(consumed, want[i].consumed);
        expect_argv(&req, want[i].argv);
        proto_req_free(&req);
        off += consumed;
    }
    assert_int_equal(parse(p, pipeline + off, len - off, &consumed, &req, &err),
                     PROTO_NEED_MORE);
    assert_int_equal(consumed, 0);
    assert_int_equal(len - off, 10);
    proto_free(p);
}

/* Run a whole stream through a parser the way a connection does: bytes
 * arrive in chunks of chunk() size into a growing buffer, every complete
 * request is parsed and dropped. Returns the description of all results. */
static void run_stream(const char *stream, size_t n, uint64_t seed,
                       size_t max_chunk, struct buf *out)
{
    struct proto *p = proto_new(MAX_BULK);
    struct buf in;
    buf_init(&in);
    size_t fed = 0;
    uint64_t x = seed;
    while (fed < n) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        size_t k = 1 + (size_t)(x % max_chunk);
        if (k > n - fed) {
            k = n - fed;
        }
        buf_append(&in, stream + fed, k);
        fed += k;
        for (;;) {
            struct proto_req req;
            size_t consumed;
            const char *err;
            enum proto_status st =
                parse(p, in.data, in.len, &consumed, &req, &err);
            if (st == PROTO_NEED_MORE) {
                assert_int_equal(consumed, 0);
                break;
            }
            assert_int_not_equal(st, PROTO_ERR);
            describe(out, st, consumed, &req);
            proto_req_free(&req);
            buf_consume(&in, consumed);
        }
    }
    buf_printf(out, "left %zu\n", in.len);
    buf_free(&in);
    proto_free(p);
}

/* Chunked arrival, from single bytes to everything at once, gives the same
 * requests, on the sample pipeline and on 5000 generated requests (enough
 * traffic to cycle hiredis's internal buffer many times). */
static void test_pipeline_any_chunking(void **state)
{
    (void)state;
    struct buf gen;
    buf_init(&gen);
    uint64_t x = 42;
    for (int i = 0; i < 5000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        size_t vlen = (size_t)(x % 300);
        switch (i % 4) {
        case 0:
            buf_printf(&gen, "*3\r\n$3\r\nSET\r\n$%d\r\nk%d\r\n$%zu\r\n",
                       snprintf(NULL, 0, "k%d", i), i, vlen);
            for (size_t j = 0; j < vlen; j++) {
                char c = (char)(x >> (j % 56));
                buf_append(&gen, &c, 1);
            }
            buf_append(&gen, "\r\n", 2);
            break;
        case 1:
            buf_printf(&gen, "GET k%d\r\n", i);
            break;
        case 2:
            buf_printf(&gen, "*0\r\n\n");
            break;
        default:
            buf_printf(&gen, "*2\r\n$4\r\nINCR\r\n$%zu\r\n", vlen % 10);
            buf_append(&gen, "0123456789", vlen % 10);
            buf_append(&gen, "\r\n", 2);
        }
    }
    const struct {
        const char *s;
        size_t n;
    } streams[] = {{pipeline, sizeof pipeline - 1}, {gen.data, gen.len}};
    static const size_t chunks[] = {1, 2, 3, 7, 64, 1000, 1 << 30};
    for (size_t s = 0; s < 2; s++) {
        struct buf want;
        buf_init(&want);
        run_stream(streams[s].s, streams[s].n, 1, 1 << 30, &want);
        for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
            if (s == 1 && chunks[c] < 3) {
                continue; /* quadratic: the small sample covers it */
            }
            struct buf got;
            buf_init(&got);
            run_stream(streams[s].s, streams[s].n, 7 + c, chunks[c], &got);
            assert_int_equal(got.len, want.len);
            assert_memory_equal(got.data, want.data, want.len);
            buf_free(&got);
        }
        buf_free(&want);
    }
    buf_free(&gen);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_multibulk_simple),
        cmocka_unit_test(test_multibulk_binary_safe),
        cmocka_unit_test(test_multibulk_bytewise),
        cmocka_unit_test(test_multibulk_large),
        cmocka_unit_test(test_empty_requests),
        cmocka_unit_test(test_zero_length_input_needs_more),
        cmocka_unit_test(test_error_invalid_multibulk_length),
        cmocka_unit_test(test_error_expected_dollar),
        cmocka_unit_test(test_error_invalid_bulk_length),
        cmocka_unit_test(test_max_bulk_len),
        cmocka_unit_test(test_error_too_big_count_strings),
        cmocka_unit_test(test_inline_simple),
        cmocka_unit_test(test_inline_quoting),
        cmocka_unit_test(test_inline_binary_via_hex_escape),
        cmocka_unit_test(test_inline_bytewise),
        cmocka_unit_test(test_inline_unbalanced_quotes),
        cmocka_unit_test(test_inline_too_big),
        cmocka_unit_test(test_pipeline_one_buffer),
        cmocka_unit_test(test_pipeline_any_chunking),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
