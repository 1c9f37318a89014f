/* Unit tests for rpc: real requests on a real libuv loop against listeners
 * the test opens on 127.0.0.1 (ephemeral ports) that parse each request with
 * hiredis's reader and answer canned RESP bytes. Every test ends by closing
 * its listeners, running the loop until idle and checking that it closes
 * clean: a request must leave no handle behind, whatever its outcome. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "rpc.h"

/* ---- a canned RESP server ---- */

enum answer {
    ANSWER_REPLY,  /* send `reply` for each command */
    ANSWER_SILENT, /* never answer */
    ANSWER_CLOSE,  /* close the connection on the first command */
};

struct listener;

struct peer {
    uv_tcp_t tcp;
    struct listener *l;
    struct peer *next;
    redisReader *reader;
    char rbuf[4096];
    bool closing;
};

struct listener {
    uv_tcp_t tcp;
    int port;
    enum answer answer;
    const char *reply; /* ANSWER_REPLY: RESP bytes, NUL-terminated */
    int accepted;      /* connections */
    int commands;      /* commands received, ASKING excluded */
    int asking;        /* ASKING commands received */
    redisReply *last;  /* the last command received (an array) */
    struct peer *peers;
};

static void on_peer_closed(uv_handle_t *h)
{
    struct peer *p = h->data;
    struct peer **pp = &p->l->peers;
    while (*pp != p) {
        pp = &(*pp)->next;
    }
    *pp = p->next;
    redisReaderFree(p->reader);
    free(p);
}

static void peer_close(struct peer *p)
{
    if (!p->closing) {
        p->closing = true;
        uv_close((uv_handle_t *)&p->tcp, on_peer_closed);
    }
}

static void peer_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    struct peer *p = h->data;
    (void)suggested;
    *b = uv_buf_init(p->rbuf, sizeof p->rbuf);
}

static void on_peer_write(uv_write_t *w, int status)
{
    (void)status;
    free(w);
}

static void peer_send(struct peer *p, const char *bytes)
{
    uv_write_t *w = malloc(sizeof *w);
    uv_buf_t b = uv_buf_init((char *)bytes, (unsigned)strlen(bytes));
    assert_int_equal(uv_write(w, (uv_stream_t *)&p->tcp, &b, 1, on_peer_write),
                     0);
}

static void on_peer_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    struct peer *p = s->data;
    struct listener *l = p->l;
    if (nread < 0) {
        peer_close(p);
        return;
    }
    redisReaderFeed(p->reader, b->base, (size_t)nread);
    void *obj;
    while (!p->closing && redisReaderGetReply(p->reader, &obj) == REDIS_OK &&
           obj != NULL) {
        redisReply *req = obj;
        assert_int_equal(req->type, REDIS_REPLY_ARRAY);
        if (req->elements == 1 && strcmp(req->element[0]->str, "ASKING") == 0) {
            l->asking++;
            freeReplyObject(req);
            peer_send(p, "+OK\r\n");
            continue;
        }
        l->commands++;
        if (l->last != NULL) {
            freeReplyObject(l->last);
        }
        l->last = req;
        if (l->answer == ANSWER_REPLY) {
            peer_send(p, l->reply);
        } else if (l->answer == ANSWER_CLOSE) {
            peer_close(p);
        }
    }
}

static void on_connection(uv_stream_t *server, int status)
{
    struct listener *l = server->data;
    assert_int_equal(status, 0);
    struct peer *p = calloc(1, sizeof *p);
    p->l = l;
    p->reader = redisReaderCreate();
    uv_tcp_init(server->loop, &p->tcp);
    p->tcp.data = p;
    assert_int_equal(uv_accept(server, (uv_stream_t *)&p->tcp), 0);
    p->next = l->peers;
    l->peers = p;
    l->accepted++;
    uv_read_start((uv_stream_t *)&p->tcp, peer_alloc, on_peer_read);
}

static void listener_open(uv_loop_t *loop, struct listener *l,
                          enum answer answer, const char *reply)
{
    memset(l, 0, sizeof *l);
    l->answer = answer;
    l->reply = reply;
    struct sockaddr_in sin;
    assert_int_equal(uv_ip4_addr("127.0.0.1", 0, &sin), 0);
    assert_int_equal(uv_tcp_init(loop, &l->tcp), 0);
    l->tcp.data = l;
    assert_int_equal(uv_tcp_bind(&l->tcp, (struct sockaddr *)&sin, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&l->tcp, 16, on_connection), 0);
    struct sockaddr_storage ss;
    int len = sizeof ss;
    assert_int_equal(uv_tcp_getsockname(&l->tcp, (struct sockaddr *)&ss, &len),
                     0);
    l->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

/* Close the listener and its connections (the loop finishes the job). */
static void listener_close(struct listener *l)
{
    for (struct peer *p = l->peers; p != NULL; p = p->next) {
        peer_close(p);
    }
    uv_close((uv_handle_t *)&l->tcp, NULL);
    if (l->last != NULL) {
        freeReplyObject(l->last);
        l->last = NULL;
    }
}

/* Run until idle, then check nothing is left on the loop. */
static void loop_drain(uv_loop_t *loop)
{
    uv_run(loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(loop), 0);
}

/* ---- what a callback saw ---- */

struct result {
    int calls;
    bool ok;
    int type;
    long long integer;
    char str[256];
    char err[256];
    uint64_t at; /* uv_now() when called */
    uv_loop_t *loop;
};

static void on_result(void *arg, const struct redisReply *reply,
                      const char *err)
{
    struct result *res = arg;
    res->calls++;
    res->at = uv_now(res->loop);
    if (reply == NULL) {
        assert_non_null(err);
        snprintf(res->err, sizeof res->err, "%s", err);
        return;
    }
    assert_null(err);
    res->ok = true;
    res->type = reply->type;
    res->integer = reply->integer;
    if (reply->str != NULL) {
        snprintf(res->str, sizeof res->str, "%.*s", (int)reply->len,
                 reply->str);
    }
}

static struct rpc *call2(uv_loop_t *loop, const char *host, int port,
                         const char *a0, const char *a1, uint64_t timeout_ms,
                         struct result *res)
{
    const char *argv[] = {a0, a1};
    size_t argvlen[] = {strlen(a0), strlen(a1)};
    res->loop = loop;
    return rpc_call(loop, host, port, 2, argv, argvlen, timeout_ms, on_result,
                    res);
}

/* ---- tests ---- */

static void test_integer_reply(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct listener l;
    listener_open(&loop, &l, ANSWER_REPLY, ":42\r\n");
    struct result res = {0};
    call2(&loop, "127.0.0.1", l.port, "INCR", "counter", 5000, &res);
    assert_int_equal(res.calls, 0); /* never from inside rpc_call */
    while (res.calls == 0) {
        uv_run(&loop, UV_RUN_ONCE);
    }
    assert_int_equal(res.calls, 1);
    assert_true(res.ok);
    assert_int_equal(res.type, REDIS_REPLY_INTEGER);
    assert_int_equal(res.integer, 42);
    assert_int_equal(l.commands, 1);
    assert_int_equal(l.last->elements, 2);
    assert_string_equal(l.last->element[0]->str, "INCR");
    assert_string_equal(l.last->element[1]->str, "counter");
    listener_close(&l);
    loop_drain(&loop);
    assert_int_equal(res.calls, 1);
}

static void test_binary_arguments_arrive_intact(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct listener l;
    listener_open(&loop, &l, ANSWER_REPLY, "+OK\r\n");
    const char arg[] = "a\0b\r\n*1\r\n";
    const char *argv[] = {"SET", "k", arg};
    size_t argvlen[] = {3, 1, sizeof arg - 1};
    struct result res = {.loop = &loop};
    rpc_call(&loop, "127.0.0.1", l.port, 3, argv, argvlen, 5000, on_result,
             &res);
    while (res.calls == 0) {
        uv_run(&loop, UV_RUN_ONCE);
    }
    assert_int_equal(res.type, REDIS_REPLY_STATUS);
    assert_string_equal(res.str, "OK");
    assert_int_equal(l.last->elements, 3);
    assert_int_equal(l.last->element[2]->len, sizeof arg - 1);
    assert_memory_equal(l.last->element[2]->str, arg, sizeof arg - 1);
    listener_close(&l);
    loop_drain(&loop);
}

static void test_error_reply_is_passed_through(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct listener l1, l2;
    listener_open(&loop, &l1, ANSWER_REPLY, "-ERR unknown node\r\n");
    listener_open(&loop, &l2, ANSWER_REPLY, "-CLUSTERDOWN No raft leader\r\n");
    struct result r1 = {0}, r2 = {0};
    call2(&loop, "127.0.0.1", l1.port, "RAFT.NODE", "REMOVE", 5000, &r1);
    call2(&loop, "127.0.0.1", l2.port, "RAFT.NODE", "ADD", 5000, &r2);
    while (r1.calls == 0 || r2.calls == 0) {
        uv_run(&loop, UV_RUN_ONCE);
    }
    assert_true(r1.ok);
    assert_int_equal(r1.type, REDIS_REPLY_ERROR);
    assert_string_equal(r1.str, "ERR unknown node");
    assert_true(r2.ok);
    assert_int_equal(r2.type, REDIS_REPLY_ERROR);
    assert_string_equal(r2.str, "CLUSTERDOWN No raft leader");
    listener_close(&l1);
    listener_close(&l2);
    loop_drain(&loop);
    assert_int_equal(r1.calls + r2.calls, 2);
}

static void test_moved_is_followed(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct listener leader, follower;
    listener_open(&loop, &leader, ANSWER_REPLY, "$6\r\njoined\r\n");
    char moved[64];
    snprintf(moved, sizeof moved, "-MOVED 1234 127.0.0.1:%d\r\n", leader.port);
    listener_open(&loop, &follower, ANSWER_REPLY, moved);
    struct result res = {0};
    call2(&loop, "127.0.0.1", follower.port, "RAFT.NODE", "ADD", 5000, &res);
    while (res.calls == 0) {
        uv_run(&loop, UV_RUN_ONCE);
    }
    assert_true(res.ok);
    assert_int_equal(res.type, REDIS_REPLY_STRING);
    assert_string_equal(res.str, "joined");
    assert_int_equal(follower.commands, 1);
    assert_int_equal(leader.commands, 1);
    assert_int_equal(leader.asking, 0);
    assert_string_equal(leader.last->element[0]->str, "RAFT.NODE");
    assert_string_equal(leader.last->element[1]->str, "ADD");
    listener_close(&leader);
    listener_close(&follower);
    loop_drain(&loop);
}

static void test_ask_is_followed_with_asking(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct listener target, first;
    listener_open(&loop, &target, ANSWER_REPLY, ":7\r\n");
    char ask[64];
    /* An empty host means the host the redirection came from. */
    snprintf(ask, sizeof ask, "-ASK 99 :%d\r\n", target.port);
    listener_open(&loop, &first, ANSWER_REPLY, ask);
    struct result res = {0};
    call2(&loop, "127.0.0.1", first.port, "GET", "k", 5000, &res);
    while (res.calls == 0) {
        uv_run(&loop, UV_RUN_ONCE);
    }
    assert_true(res.ok);
    assert_int_equal(res.integer, 7);
    assert_int_equal(target.asking, 1);
    assert_int_equal(target.commands, 1);
    listener_close(&target);
    listener_close(&first);
    loop_drain(&loop);
}

static void test_redirect_loop_gives_up(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct listener l;
    char moved[64];
    listener_open(&loop, &l, ANSWER_REPLY, moved);
    snprintf(moved, sizeof moved, "-MOVED 1 127.0.0.1:%d\r\n", l.port);
    struct result res = {0};
    call2(&loop, "127.0.0.1", l.port, "GET", "k", 5000, &res);
    while (res.calls == 0) {
        uv_run(&loop, UV_RUN_ONCE);
    }
    assert_false(res.ok);
    assert_string_equal(res.err, "too many redirections");
    assert_int_equal(l.commands, 1 + RPC_MAX_REDIRECTS);
    listener_close(&l);
    loop_drain(&loop);
}

static void test_connection_refused(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct listener l; /* take a free port, then close it */
    listener_open(&loop, &l, ANSWER_SILENT, NULL);
    int port = l.port;
    listener_close(&l);
    uv_run(&loop, UV_RUN_DEFAULT);
    struct result res = {0};
    call2(&loop, "127.0.0.1", port, "PING", "x", 5000, &res);
    loop_drain(&loop);
    assert_int_equal(res.calls, 1);
    assert_false(res.ok);
    assert_non_null(strstr(res.err, "connect to 127.0.0.1:"));
    assert_non_null(strstr(res.err, uv_strerror(UV_ECONNREFUSED)));
}

static void test_timeout(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct listener l;
    listener_open(&loop, &l, ANSWER_SILENT, NULL);
    struct result res = {0};
    uv_update_time(&loop);
    uint64_t t0 = uv_now(&loop);
    call2(&loop, "127.0.0.1", l.port, "PING", "x", 100, &res);
    while (res.calls == 0) {
        uv_run(&loop, UV_RUN_ONCE);
    }
    assert_false(res.ok);
    assert_string_equal(res.err, "timeout");
    assert_true(res.at - t0 >= 100);
    assert_true(res.at - t0 < 1000);
    assert_int_equal(l.commands, 1); /* it was sent, never answered */
    listener_close(&l);
    loop_drain(&loop);
    assert_int_equal(res.calls, 1);
}

static void test_closed_without_reply(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct listener l;
    listener_open(&loop, &l, ANSWER_CLOSE, NULL);
    struct result res = {0};
    call2(&loop, "127.0.0.1", l.port, "PING", "x", 5000, &res);
    while (res.calls == 0) {
        uv_run(&loop, UV_RUN_ONCE);
    }
    assert_false(res.ok);
    assert_string_equal(res.err, "connection closed");
    listener_close(&l);
    loop_drain(&loop);
}

static void test_protocol_error(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct listener l;
    listener_open(&loop, &l, ANSWER_REPLY, "?what\r\n");
    struct result res = {0};
    call2(&loop, "127.0.0.1", l.port, "PING", "x", 5000, &res);
    while (res.calls == 0) {
        uv_run(&loop, UV_RUN_ONCE);
    }
    assert_false(res.ok);
    assert_string_equal(res.err, "protocol error");
    listener_close(&l);
    loop_drain(&loop);
}

static void test_host_name_is_resolved(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct listener l;
    listener_open(&loop, &l, ANSWER_REPLY, ":1\r\n");
    struct result res = {0}, bad = {0};
    call2(&loop, "localhost", l.port, "PING", "x", 5000, &res);
    call2(&loop, "no-such-host.invalid", l.port, "PING", "x", 5000, &bad);
    while (res.calls == 0 || bad.calls == 0) {
        uv_run(&loop, UV_RUN_ONCE);
    }
    assert_true(res.ok);
    assert_int_equal(res.integer, 1);
    assert_false(bad.ok);
    assert_non_null(strstr(bad.err, "resolve no-such-host.invalid"));
    listener_close(&l);
    loop_drain(&loop);
}

static void on_cancel_timer(uv_timer_t *t)
{
    rpc_cancel(t->data);
    uv_close((uv_handle_t *)t, NULL);
}

static void test_cancel_before_reply(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct listener l;
    listener_open(&loop, &l, ANSWER_SILENT, NULL);
    struct result res = {0};
    uint64_t t0 = uv_hrtime();
    struct rpc *r = call2(&loop, "127.0.0.1", l.port, "PING", "x", 10000, &res);
    uv_timer_t t;
    uv_timer_init(&loop, &t);
    t.data = r;
    uv_timer_start(&t, on_cancel_timer, 50, 0);
    while (!uv_is_closing((uv_handle_t *)&t)) {
        uv_run(&loop, UV_RUN_ONCE);
    }
    assert_int_equal(l.commands, 1); /* sent, still unanswered */
    listener_close(&l);
    loop_drain(&loop); /* nothing of the request is left */
    assert_int_equal(res.calls, 0);
    assert_true(uv_hrtime() - t0 < 5000000000ull); /* not the 10 s timeout */
}

static void test_cancel_at_once(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct listener l;
    listener_open(&loop, &l, ANSWER_REPLY, ":1\r\n");
    struct result a = {0}, b = {0}, c = {0};
    /* While resolving, while connecting, and with a deferred failure. */
    rpc_cancel(call2(&loop, "localhost", l.port, "PING", "x", 10000, &a));
    rpc_cancel(call2(&loop, "127.0.0.1", l.port, "PING", "x", 10000, &b));
    rpc_cancel(call2(&loop, "127.0.0.1", 0, "PING", "x", 10000, &c));
    listener_close(&l);
    loop_drain(&loop);
    assert_int_equal(a.calls + b.calls + c.calls, 0);
}

/* A callback that starts the next request from inside the first one's. */
struct chain {
    struct result first, second;
    int port;
};

static void on_first(void *arg, const struct redisReply *reply, const char *err)
{
    struct chain *ch = arg;
    on_result(&ch->first, reply, err);
    call2(ch->first.loop, "127.0.0.1", ch->port, "SECOND", "x", 5000,
          &ch->second);
}

static void test_callback_may_start_another_call(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct listener l;
    listener_open(&loop, &l, ANSWER_REPLY, ":5\r\n");
    struct chain ch = {.port = l.port, .first = {.loop = &loop}};
    const char *argv[] = {"FIRST"};
    size_t argvlen[] = {5};
    rpc_call(&loop, "127.0.0.1", l.port, 1, argv, argvlen, 5000, on_first, &ch);
    while (ch.second.calls == 0) {
        uv_run(&loop, UV_RUN_ONCE);
    }
    assert_int_equal(ch.first.calls, 1);
    assert_int_equal(ch.second.calls, 1);
    assert_int_equal(ch.second.integer, 5);
    assert_int_equal(l.commands, 2);
    assert_string_equal(l.last->element[0]->str, "SECOND");
    listener_close(&l);
    loop_drain(&loop);
}

static void test_parse_addr(void **state)
{
    (void)state;
    char host[64];
    int port = 0;
    assert_int_equal(rpc_parse_addr("10.0.0.1:6379", host, sizeof host, &port),
                     0);
    assert_string_equal(host, "10.0.0.1");
    assert_int_equal(port, 6379);
    assert_int_equal(
        rpc_parse_addr("node-a.example:7000@17000", host, sizeof host, &port),
        0);
    assert_string_equal(host, "node-a.example");
    assert_int_equal(port, 7000);
    assert_int_equal(rpc_parse_addr("[::1]:6380", host, sizeof host, &port), 0);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 6380);
    assert_int_equal(rpc_parse_addr("fe80::1:6381", host, sizeof host, &port),
                     0);
    assert_string_equal(host, "fe80::1");
    assert_int_equal(port, 6381);

    static const char *const bad[] = {
        "",          "6379", ":6379", "host:", "host:0",   "h:65536", "h:12ab",
        "[::1]6379", "[::1", "h:-1",  "[]:1",  "h:123456", "x:1 ",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(rpc_parse_addr(bad[i], host, sizeof host, &port), -1);
    }
    char small[4];
    assert_int_equal(rpc_parse_addr("abcd:1", small, sizeof small, &port), -1);
    assert_int_equal(rpc_parse_addr("abc:1", small, sizeof small, &port), 0);
    assert_string_equal(small, "abc");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_integer_reply),
        cmocka_unit_test(test_binary_arguments_arrive_intact),
        cmocka_unit_test(test_error_reply_is_passed_through),
        cmocka_unit_test(test_moved_is_followed),
        cmocka_unit_test(test_ask_is_followed_with_asking),
        cmocka_unit_test(test_redirect_loop_gives_up),
        cmocka_unit_test(test_connection_refused),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_closed_without_reply),
        cmocka_unit_test(test_protocol_error),
        cmocka_unit_test(test_host_name_is_resolved),
        cmocka_unit_test(test_cancel_before_reply),
        cmocka_unit_test(test_cancel_at_once),
        cmocka_unit_test(test_callback_may_start_another_call),
        cmocka_unit_test(test_parse_addr),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
