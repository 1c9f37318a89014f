"""Request protocol: framing, limits and errors, compared byte for byte with
redis-server 7.0, plus pipelining and memory bounds."""

import threading

import pytest

import harness
from harness import encode

# ---------------------------------------------------------------------------
# Protocol errors: exact reply bytes, then the connection is closed.

ERR_MBULK = b'-ERR Protocol error: invalid multibulk length\r\n'
ERR_BULK = b'-ERR Protocol error: invalid bulk length\r\n'
ERR_INLINE = b'-ERR Protocol error: too big inline request\r\n'
ERR_MBULK_COUNT = b'-ERR Protocol error: too big mbulk count string\r\n'
ERR_BULK_COUNT = b'-ERR Protocol error: too big bulk count string\r\n'
ERR_QUOTES = b'-ERR Protocol error: unbalanced quotes in request\r\n'


def same(got, want, what='reply'):
    """Assert equal bytes, showing both in full (truncated past 300)."""
    assert got == want, '%s differs:\n  redis-server: %r\n  redis-raft:   %r' % (
        what, want[:300], got[:300])


def expected_dollar(ch):
    return b"-ERR Protocol error: expected '$', got '" + ch + b"'\r\n"


PROTOCOL_ERRORS = [
    ('mbulk_not_a_number', b'*abc\r\n', ERR_MBULK),
    ('mbulk_empty', b'*\r\n', ERR_MBULK),
    ('mbulk_leading_zero', b'*01\r\n', ERR_MBULK),
    ('mbulk_fraction', b'*1.5\r\n', ERR_MBULK),
    ('mbulk_over_int_max', b'*2147483648\r\n', ERR_MBULK),
    ('mbulk_huge', b'*99999999999999999999999\r\n', ERR_MBULK),
    ('expected_dollar_x', b'*1\r\nx\r\n', expected_dollar(b'x')),
    ('expected_dollar_colon', b'*2\r\n$4\r\nPING\r\n:3\r\n', expected_dollar(b':')),
    ('expected_dollar_star', b'*1\r\n*1\r\n', expected_dollar(b'*')),
    ('bulk_not_a_number', b'*1\r\n$abc\r\n', ERR_BULK),
    ('bulk_negative', b'*1\r\n$-1\r\n', ERR_BULK),
    ('bulk_plus', b'*1\r\n$+5\r\n', ERR_BULK),
    ('bulk_empty', b'*1\r\n$\r\n', ERR_BULK),
    ('bulk_over_proto_max', b'*1\r\n$536870913\r\n', ERR_BULK),
    ('too_big_inline', b'x' * (64 * 1024 + 1), ERR_INLINE),
    ('too_big_mbulk_count', b'*' + b'1' * (64 * 1024 + 1), ERR_MBULK_COUNT),
    ('too_big_bulk_count', b'*1\r\n$' + b'1' * (64 * 1024 + 1), ERR_BULK_COUNT),
    ('unbalanced_double_quote', b'SET k "abc\r\n', ERR_QUOTES),
    ('unbalanced_single_quote', b"SET k 'abc\r\n", ERR_QUOTES),
    ('lone_quote', b'"\r\n', ERR_QUOTES),
    ('quote_followed_by_char', b'SET k "a"b\r\n', ERR_QUOTES),
    ('quotes_adjacent', b'ECHO "a"\'b\'\r\n', ERR_QUOTES),
]


def error_exchange(proc, payload):
    """Open a bystander, send payload on another connection, and return
    (bytes received until the server closed, bystander replies)."""
    with proc.raw() as bystander, proc.raw() as bad:
        assert bystander.command('PING') == b'+PONG\r\n'
        sender = threading.Thread(target=_send_ignoring_errors, args=(bad, payload))
        sender.start()
        got = bad.read_until_closed()
        sender.join(harness.REPLY_TIMEOUT)
        # The other client is unaffected.
        after = [bystander.command('PING'), bystander.command('SET', 'by', 'stander'),
                 bystander.command('GET', 'by')]
    return got, after


def _send_ignoring_errors(conn, payload):
    try:
        conn.send(payload)
    except OSError:
        pass  # the server may close before reading everything


@pytest.mark.parametrize('name,payload,expected', PROTOCOL_ERRORS,
                         ids=[e[0] for e in PROTOCOL_ERRORS])
def test_protocol_error_closes_connection(name, payload, expected, node, redis_server):
    want, _ = error_exchange(redis_server, payload)
    assert want == expected, 'reference redis-server changed?'
    got, after = error_exchange(node, payload)
    same(got, want)
    assert after == [b'+PONG\r\n', b'+OK\r\n', b'$7\r\nstander\r\n']


def test_replies_before_protocol_error_are_sent(node, redis_server):
    """Requests before the bad one are answered, those after are not run."""
    payload = (b'SET k v\r\n' + encode('INCR', 'n') + b'GET k\r\n*abc\r\n' +
               encode('INCR', 'n') + b'INCR n\r\n')
    for proc in (redis_server, node):
        with proc.raw() as conn:
            conn.send(payload)
            same(conn.read_until_closed(), b'+OK\r\n:1\r\n$1\r\nv\r\n' + ERR_MBULK, proc.name)
        with proc.raw() as conn:
            assert conn.command('GET', 'n') == b'$1\r\n1\r\n', proc.name


def test_bulk_without_crlf_trailer(node, redis_server):
    """redis-server skips the two bytes after a bulk without checking them."""
    payload = b'*2\r\n$4\r\nECHO\r\n$3\r\nabcXY' + b'PING\r\nQUIT\r\n'
    results = []
    for proc in (redis_server, node):
        with proc.raw() as conn:
            conn.send(payload)
            results.append(conn.read_until_closed())
    assert results[0] == b'$3\r\nabc\r\n+PONG\r\n+OK\r\n'
    same(results[1], results[0])


# ---------------------------------------------------------------------------
# Framing that is not an error


def test_empty_requests_ignored(node, redis_server):
    payload = b'*0\r\n*-1\r\n*-5\r\n\r\n\n   \r\n\t\r\nPING\r\n*0\r\nECHO x\r\n'
    for proc in (redis_server, node):
        with proc.raw() as conn:
            conn.send(payload)
            assert conn.read_replies(2) == [b'+PONG\r\n', b'$1\r\nx\r\n'], proc.name
            # Still open and in sync.
            assert conn.command('PING') == b'+PONG\r\n'


def test_quit(node, redis_server):
    payload = b'PING\r\nQUIT\r\nSET afterquit 1\r\nPING\r\n'
    for proc in (redis_server, node):
        with proc.raw() as conn:
            conn.send(payload)
            assert conn.read_until_closed() == b'+PONG\r\n+OK\r\n', proc.name
        with proc.raw() as conn:
            assert conn.command('EXISTS', 'afterquit') == b':0\r\n', proc.name
            conn.send(encode('QUIT', 'with', 'args'))
            assert conn.read_until_closed() == b'+OK\r\n', proc.name


INLINE_REQUESTS = (
    b'SET k "a b\\x41"\r\n'
    b'GET k\r\n'
    b"SET k 'it\\'s'\r\n"
    b'GET k\r\n'
    b'ECHO "\\r\\n\\t\\\\\\"\\b\\a\\x00\\xff\\xZZ"\r\n'
    b'SET "" x\r\n'
    b'GET ""\r\n'
    b"ECHO ''\r\n"
    b" \t ECHO   spaced\t\r\n"
    b'ECHO lf-only\n'
    b"ECHO 'a\\nb' \"c\\\"d\"\r\n"
    b'"ECHO" "q"\r\n'
    b'echo "x" \r\n'
    b'RPUSH l "a b" c "" \'d e\'\r\n'
    b'LRANGE l 0 -1\r\n'
    b'INCR n\r\n'
    b'FOO a "b c"\r\n'
    b'ECHO caf\xc3\xa9\r\n'
)
INLINE_COUNT = INLINE_REQUESTS.count(b'\n')


def test_inline_commands_with_quoting(node, redis_server):
    results = []
    for proc in (redis_server, node):
        with proc.raw() as conn:
            conn.send(INLINE_REQUESTS)
            results.append(conn.read_replies(INLINE_COUNT))
    assert results[0][:2] == [b'+OK\r\n', b'$4\r\na bA\r\n']
    for i, (want, got) in enumerate(zip(*results)):
        assert got == want, 'inline request %d' % i


def test_inline_line_just_under_limit(node, redis_server):
    line = b'ECHO ' + b'a' * (64 * 1024 - 5 - 2) + b'\r\n'
    for proc in (redis_server, node):
        with proc.raw() as conn:
            conn.send(line)
            assert conn.read_reply() == b'$65529\r\n' + b'a' * 65529 + b'\r\n', proc.name


def test_inline_64k_then_newline(node, redis_server):
    """64 KiB without a newline is still allowed (the limit is "more than")."""
    results = []
    for proc in (redis_server, node):
        with proc.raw() as conn:
            conn.send(b'x' * (64 * 1024))
            conn.send(b'\r\nPING\r\n')
            results.append(conn.read_replies(2))
    assert results[0][1] == b'+PONG\r\n'
    same(results[1], results[0])


def test_request_split_byte_by_byte(node, redis_server):
    payload = (encode('SET', 'k', b'\x00\r\n$1\r\n*2') + encode('GET', 'k') +
               b'ECHO "x y"\r\n' + encode('INCR', 'n') + b'INCR n\n' +
               encode('RPUSH', 'l', 'a' * 300, '') + encode('LRANGE', 'l', '0', '-1'))
    results = []
    for proc in (redis_server, node):
        with proc.raw() as conn:
            conn.send_bytewise(payload)
            results.append(b''.join(conn.read_replies(7)))
    assert results[0].startswith(b'+OK\r\n$9\r\n\x00\r\n$1\r\n*2\r\n$3\r\nx y\r\n:1\r\n:2\r\n:2\r\n')
    same(results[1], results[0])


def test_big_argument_in_small_writes(node):
    value = bytes(range(256)) * 4096  # 1 MiB, every byte value
    req = encode('SET', 'big', value)
    with node.raw() as conn:
        for i in range(0, len(req), 7919):
            conn.send(req[i:i + 7919])
        assert conn.read_reply() == b'+OK\r\n'
        assert conn.command('STRLEN', 'big') == b':1048576\r\n'
        assert conn.command('GET', 'big') == b'$1048576\r\n' + value + b'\r\n'


def test_mixed_inline_and_multibulk_in_one_write(node):
    payload = b'INCR a\r\n' + encode('INCR', 'a') + b'GET a\r\n' + encode('GET', 'a')
    assert node.send_raw(payload, 4) == b':1\r\n:2\r\n$1\r\n2\r\n$1\r\n2\r\n'


# ---------------------------------------------------------------------------
# Pipelines


def test_pipeline_read_sees_writes_before_it(node, redis_server):
    payload = encode('INCR', 'a') + encode('GET', 'a') + encode('INCR', 'a')
    want = b':1\r\n$1\r\n1\r\n:2\r\n'
    assert redis_server.send_raw(payload, 3) == want
    assert node.send_raw(payload, 3) == want


def test_pipeline_interleaved_reads_and_writes(node, redis_server):
    payload = b''
    for i in range(200):
        payload += encode('RPUSH', 'l', str(i)) + encode('LLEN', 'l') + \
            encode('LINDEX', 'l', '-1') + encode('SET', 'k%d' % (i % 7), str(i)) + \
            encode('MGET', *['k%d' % j for j in range(7)])
    results = [redis_server.send_raw(payload, 1000), node.send_raw(payload, 1000)]
    same(results[1], results[0])


def test_pipeline_100k_incr_in_one_write(node):
    n = 100000
    payload = encode('INCR', 'c') * n
    expected = b''.join(b':%d\r\n' % i for i in range(1, n + 1))
    with node.raw(timeout=120) as conn:
        sender = threading.Thread(target=conn.send, args=(payload,))
        sender.start()
        got = conn.read_exact(len(expected), timeout=120)
        sender.join(120)
        assert got == expected
        assert conn.command('GET', 'c') == b'$6\r\n100000\r\n'
    limit = 200 << 20
    sanitized = isinstance(node, harness.Node) and node.is_sanitized()
    if sanitized:
        limit = 600 << 20  # ASan's quarantine keeps up to 256 MiB of freed memory
    with open('/proc/%d/status' % node.pid) as f:
        status = dict(line.split(':', 1) for line in f)
    peak = int(status['VmHWM'].split()[0]) * 1024
    rss = int(status['VmRSS'].split()[0]) * 1024
    assert peak < limit, 'peak RSS %d MiB' % (peak >> 20)
    assert rss < limit, 'RSS %d MiB' % (rss >> 20)
    used = int(node.info('memory')['used_memory'])
    assert used < limit
    if not sanitized:  # the ASan build has no allocator statistics
        assert used > 0


def test_many_clients_pipelining_concurrently(node):
    clients, per_client = 20, 500
    errors = []

    def worker():
        try:
            with node.raw(timeout=60) as conn:
                conn.send(encode('INCR', 'shared') * per_client)
                replies = conn.read_replies(per_client, timeout=60)
                values = [int(r[1:-2]) for r in replies]
                assert values == sorted(values), 'replies out of order'
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    assert not errors, errors
    with node.raw() as conn:
        assert conn.command('GET', 'shared') == b'$5\r\n10000\r\n'


# ---------------------------------------------------------------------------
# Limits


def _limited_pair(workspace, option, value):
    """A redis-raft node and a redis-server with the same limit."""
    from conftest import redis_raft_only
    redis_raft_only()
    ref = workspace.redis_server(extra=['--' + option, str(value)])
    node = workspace.node(options={option: value})
    return ref, node


def test_client_query_buffer_limit(workspace):
    ref, node = _limited_pair(workspace, 'client-query-buffer-limit', 1048576)
    big = encode('SET', 'k', b'v' * (2 << 20))
    for proc in (ref, node):
        got, after = error_exchange(proc, big)
        assert got == b'', proc.name  # closed without a reply, as redis-server does
        assert after == [b'+PONG\r\n', b'+OK\r\n', b'$7\r\nstander\r\n'], proc.name
        with proc.raw() as conn:
            assert conn.command('EXISTS', 'k') == b':0\r\n', proc.name
            # A request under the limit still works.
            value = b'w' * 500000
            assert conn.command('ECHO', value) == b'$500000\r\n' + value + b'\r\n'
    assert node.is_running()


def test_proto_max_bulk_len(workspace):
    ref, node = _limited_pair(workspace, 'proto-max-bulk-len', 1048576)
    over = b'*2\r\n$4\r\nECHO\r\n$1048577\r\n'
    value = b'u' * 1048576
    for proc in (ref, node):
        got, after = error_exchange(proc, over)
        same(got, ERR_BULK, proc.name)
        assert after == [b'+PONG\r\n', b'+OK\r\n', b'$7\r\nstander\r\n'], proc.name
        with proc.raw() as conn:
            assert conn.command('ECHO', value) == b'$1048576\r\n' + value + b'\r\n', proc.name


def test_server_survives_abrupt_disconnects(node):
    """Clients vanishing mid-request and mid-reply do not hurt the server."""
    for i in range(20):
        conn = node.raw()
        conn.send(encode('SET', 'k%d' % i, 'v' * 1000) + b'*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$100\r\nabc')
        conn.close()
    for i in range(5):
        conn = node.raw()
        conn.send(encode('RPUSH', 'l', *(['x' * 100] * 1000)) + encode('LRANGE', 'l', '0', '-1') * 50)
        conn.close()
    with node.raw() as conn:
        assert conn.command('PING') == b'+PONG\r\n'
        # Each RPUSH applied whole or not at all; the cut SET never ran.
        llen = int(conn.command('LLEN', 'l')[1:-2])
        assert llen % 1000 == 0 and llen <= 5000, llen
        assert conn.command('EXISTS', 'x') == b':0\r\n'
        assert conn.command('SET', 'x', 'y') == b'+OK\r\n'


def test_reply_order_with_local_commands_and_errors(node, redis_server):
    """Local commands (PING, ECHO, SELECT) and immediate errors (unknown
    command, wrong arity) wait for the replies of the writes before them."""
    payload = b''.join([
        encode('SET', 'k', 'v'), encode('PING'), encode('FOOBAR', 'x'),
        encode('GET', 'k'), encode('GET'), encode('INCR', 'n'), encode('ECHO', 'e'),
        encode('SELECT', '0'), encode('RPUSH', 'l', 'a'), encode('SET', 'k', 'v', 'BAD'),
        encode('LPOP', 'l'), encode('PING', 'p'), encode('INCR', 'k'), encode('GET', 'n'),
        b'PING\r\n', encode('DBSIZE')])
    results = [redis_server.send_raw(payload, 16), node.send_raw(payload, 16)]
    assert results[0].startswith(b'+OK\r\n+PONG\r\n-ERR unknown command')
    same(results[1], results[0])


def test_quit_after_pipelined_writes(node, redis_server):
    """QUIT answers after the writes before it, then closes."""
    payload = encode('SET', 'a', '1') + encode('INCR', 'n') + b'INCR n\r\n' + \
        encode('QUIT') + encode('INCR', 'n')
    for proc in (redis_server, node):
        with proc.raw() as conn:
            conn.send(payload)
            assert conn.read_until_closed() == b'+OK\r\n:1\r\n:2\r\n+OK\r\n', proc.name
        with proc.raw() as conn:
            assert conn.command('GET', 'n') == b'$1\r\n2\r\n', proc.name


def test_large_replies_pipelined(node, redis_server):
    """Many large replies requested in one write, read only at the end."""
    elems = ['%05d' % i + 'x' * 95 for i in range(2000)]
    payload = encode('LRANGE', 'l', '0', '-1') * 100 + encode('LLEN', 'l')
    want = None
    for proc in (redis_server, node):
        with proc.raw(timeout=60) as conn:
            assert conn.command(*[b'RPUSH', b'l'] + [e.encode() for e in elems]) == b':2000\r\n'
            sender = threading.Thread(target=conn.send, args=(payload,))
            sender.start()
            replies = conn.read_replies(101, timeout=60)
            sender.join(60)
        assert replies[-1] == b':2000\r\n'
        if want is None:
            want = replies
        else:
            assert replies == want


def test_huge_declared_sizes_do_not_kill_the_server(node):
    """A multibulk count of INT_MAX and a 512 MiB bulk header are legal;
    the server must not preallocate them (or die trying)."""
    offenders = []
    for header in (b'*2147483647\r\n$4\r\nPING\r\n',
                   b'*2\r\n$4\r\nECHO\r\n$536870912\r\nabc'):
        conn = node.raw()
        conn.send(header)
        offenders.append(conn)
    with node.raw() as conn:
        assert conn.command('PING') == b'+PONG\r\n'
        assert conn.command('SET', 'k', 'v') == b'+OK\r\n'
    limit = (600 if isinstance(node, harness.Node) and node.is_sanitized() else 200) << 20
    assert node.rss_bytes() < limit
    for conn in offenders:
        conn.close()
    with node.raw() as conn:
        assert conn.command('GET', 'k') == b'$1\r\nv\r\n'


def test_query_buffer_limit_allows_long_pipelines(workspace):
    """The limit is on unprocessed input: a 2.3 MB pipeline of small
    commands is served in full even with a 1 MiB limit."""
    ref, node = _limited_pair(workspace, 'client-query-buffer-limit', 1048576)
    n = 100000
    payload = encode('INCR', 'c') * n
    expected = b''.join(b':%d\r\n' % i for i in range(1, n + 1))
    for proc in (ref, node):
        with proc.raw(timeout=120) as conn:
            sender = threading.Thread(target=_send_ignoring_errors, args=(conn, payload))
            sender.start()
            got = conn.read_exact(len(expected), timeout=120)
            sender.join(120)
            assert got == expected, proc.name
