"""Pub/sub: differential sequences against redis-server 7.0 on one node, and
delivery across the nodes of a cluster.

Differential sequences run on several raw connections at once ('a', 'b',
...). After every step each open connection is sent a sentinel PING and
everything it received before the sentinel's reply (the step's replies,
the messages pushed to it, and the sentinel reply itself, whose form shows
whether the connection is in subscribed mode) is recorded. The transcripts
of redis-server and redis-raft must be byte-identical, step by step.

A PUBLISH's reply comes after the message was delivered to every
subscriber of the node (on redis-raft: the entry was applied), so the
message reaches a subscriber before the reply to its sentinel PING: the
transcript is deterministic on both servers.

In a cluster (see src/pubsub.h) PUBLISH goes through the raft log and
every node delivers on apply: every subscriber on every node sees every
message, all in the same (log) order.

The transcript machinery (Session, transcript, run_differential) is in
differential.py, shared with test_resp3.py.
"""

import threading
import time

import pytest
import redis

import harness
from differential import parse_one, run_differential
from harness import encode, scaled, wait_until

SUBSCRIBED_ERR = (b"-ERR Can't execute '%s': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / "
                  b"PING / QUIT / RESET are allowed in this context\r\n")

SEQUENCES = {
    'nothing_subscribed': [
        'UNSUBSCRIBE', 'PUNSUBSCRIBE', 'UNSUBSCRIBE a b', 'PUNSUBSCRIBE a* b*',
        'unsubscribe', 'GET k', 'PING', 'PUBSUB NUMSUB a', 'PUBSUB NUMPAT'],
    'subscribe_unsubscribe': [
        'SUBSCRIBE ch1', 'SUBSCRIBE ch1', 'SUBSCRIBE ch2 ch3', 'SUBSCRIBE ch2 ch4 ch2',
        ('b', 'PUBLISH ch1 hello'), ('b', ['PUBLISH', 'ch2', '']),
        ('b', 'PUBLISH nobody x'), 'UNSUBSCRIBE ch1', ('b', 'PUBLISH ch1 x'),
        'UNSUBSCRIBE ch1', 'UNSUBSCRIBE ch2 nosuch ch3', ('b', 'PUBLISH ch4 last'),
        'UNSUBSCRIBE ch4', 'GET k', ('b', 'PUBLISH ch4 x'), 'SET k v', 'GET k'],
    'unsubscribe_all': [
        'SUBSCRIBE x', 'UNSUBSCRIBE', 'GET k',
        'SUBSCRIBE x y z', ('a', 'UNSUBSCRIBE', ('sort',)), 'UNSUBSCRIBE', 'GET k',
        'PSUBSCRIBE p*', 'SUBSCRIBE x', 'UNSUBSCRIBE', 'GET k', 'PUNSUBSCRIBE',
        'PUNSUBSCRIBE', 'GET k'],
    'psubscribe_punsubscribe': [
        'PSUBSCRIBE news.*', 'PSUBSCRIBE news.*', 'PSUBSCRIBE h?llo [ab]x *end',
        ('b', 'PUBLISH news.sport goal'), ('b', 'PUBLISH hello 1'),
        ('b', 'PUBLISH axend 1b', ('msgs',)),
        ('b', 'PUBLISH hallo 2'), ('b', 'PUBLISH ax 3'), ('b', 'PUBLISH cx 4'),
        ('b', 'PUBLISH news 5'), ('b', 'PUBLISH theend 6'),
        'PUNSUBSCRIBE news.*', ('b', 'PUBLISH news.x 7'), 'PUNSUBSCRIBE nosuch',
        ('a', 'PUNSUBSCRIBE', ('sort',)), 'PUNSUBSCRIBE', 'GET k'],
    'channel_and_pattern_same_client': [
        'SUBSCRIBE news.a', 'PSUBSCRIBE news.*', 'PSUBSCRIBE *',
        ('b', 'PUBLISH news.a m1', ('msgs',)), ('b', 'PUBLISH news.b m2', ('msgs',)),
        ('b', 'PUBLISH z m3'), 'UNSUBSCRIBE', 'PING', ('b', 'PUBLISH news.a m4', ('msgs',)), 'PUNSUBSCRIBE news.*',
        'PUNSUBSCRIBE *', 'PING', 'GET k'],
    'publish_counts': [
        'SUBSCRIBE ch', ('b', 'SUBSCRIBE ch'), ('c', 'PSUBSCRIBE c*'), ('c', 'PSUBSCRIBE *'),
        ('c', 'SUBSCRIBE ch'), ('d', 'PUBLISH ch x', ('msgs',)),
        ('d', 'PUBLISH cx y', ('msgs',)), ('d', 'PUBLISH other z'),
        ('b', 'UNSUBSCRIBE ch'), ('d', 'PUBLISH ch x2', ('msgs',)),
        ('c', 'RESET'), ('d', 'PUBLISH ch x3'), ('a', 'QUIT'), ('d', 'PUBLISH ch x4'),
        ('d', 'PUBSUB NUMSUB ch'), ('d', 'PUBSUB NUMPAT')],
    'publish_binary_and_big': [
        ['SUBSCRIBE', b'\x00\r\n$3\r\n'], ['PSUBSCRIBE', b'\xff*'],
        ('b', ['PUBLISH', b'\x00\r\n$3\r\n', b'*3\r\n\x00']),
        ('b', ['PUBLISH', b'\xff\xfe', b'']),
        ('b', ['PUBLISH', b'\xff', 'x' * 100000]),
        ('b', ['PUBLISH', b'\x00\r\n$3\r\n', 'y' * 70000]),
        ['UNSUBSCRIBE', b'\x00\r\n$3\r\n'], ['PUNSUBSCRIBE', b'\xff*']],
    'glob_patterns': [
        ['PSUBSCRIBE', 'a\\*b', 'x[^y]z', 'q[a-c]', '\\?', 'h*llo*'],
        ('b', 'PUBLISH a*b 1'), ('b', 'PUBLISH axb 2'), ('b', 'PUBLISH xaz 3'),
        ('b', 'PUBLISH xyz 4'), ('b', 'PUBLISH qb 5'), ('b', 'PUBLISH qd 6'),
        ('b', 'PUBLISH ? 7'), ('b', 'PUBLISH x 8'), ('b', 'PUBLISH hllo 9'),
        ('b', 'PUBLISH heeello!! 10'), ('b', 'PUBSUB NUMPAT'),
        ('a', 'PUNSUBSCRIBE', ('sort',))],
    'subscribed_mode_rule': [
        'SUBSCRIBE ch', 'GET k', 'SET k v', 'PUBLISH ch x', 'PUBSUB NUMSUB ch',
        'PUBSUB CHANNELS', 'CONFIG GET maxmemory', 'MULTI', 'ECHO hi', 'DBSIZE',
        'HELLO 2', 'INFO', 'SELECT 0', 'get k', 'FOOBAR x', 'GET', 'SUBSCRIBE',
        'PING', 'PING x', 'ping', 'PING a b', 'PSUBSCRIBE p*', 'PUNSUBSCRIBE p*',
        'UNSUBSCRIBE nosuch', 'SUBSCRIBE ch2', ('b', 'GET k'), 'QUIT'],
    'subscribed_mode_pattern_only': [
        'PSUBSCRIBE p*', 'GET k', 'LPUSH l a', 'PING', 'PUNSUBSCRIBE', 'GET k'],
    'ping_in_subscribed_mode': [
        'PING', 'PING hello', 'SUBSCRIBE c', 'PING', 'PING hello', ['PING', ''],
        ['PING', b'\x00\r\n'], 'PSUBSCRIBE x', 'UNSUBSCRIBE c', 'PING', 'PUNSUBSCRIBE x',
        'PING', 'PING hello'],
    'reset_leaves_subscribed_mode': [
        'SUBSCRIBE a b', 'PSUBSCRIBE c*', 'RESET', 'GET k', ('b', 'PUBLISH a x'),
        ('b', 'PUBLISH cc x'), ('b', 'PUBSUB NUMSUB a b'), ('b', 'PUBSUB NUMPAT'),
        ('b', 'PUBSUB CHANNELS'), 'UNSUBSCRIBE', 'PUNSUBSCRIBE', 'RESET', 'SUBSCRIBE a',
        ('b', 'PUBLISH a y'), 'reset', 'PING'],
    'quit_in_subscribed_mode': [
        ('a', 'SUBSCRIBE a'), ('b', 'PUBSUB NUMSUB a'), ('a', 'QUIT'),
        ('b', 'PUBSUB NUMSUB a'), ('b', 'PUBLISH a x')],
    'pubsub_introspection': [
        'SUBSCRIBE news.a news.b other', ('b', 'PSUBSCRIBE x* y*'),
        ('c', 'PUBSUB CHANNELS', ('elements',)), ('c', 'PUBSUB CHANNELS news.*', ('elements',)),
        ('c', 'PUBSUB CHANNELS nomatch*'), ('c', 'PUBSUB CHANNELS news.[a]'),
        ('c', 'PUBSUB CHANNELS other'), ('c', 'PUBSUB channels *', ('elements',)),
        ('c', 'PUBSUB NUMSUB news.a other missing'), ('c', 'PUBSUB NUMSUB'),
        ('c', 'PUBSUB NUMPAT'), ('b', 'PSUBSCRIBE x*'), ('d', 'PSUBSCRIBE x*'),
        ('c', 'PUBSUB NUMPAT'), ('d', 'SUBSCRIBE news.a'), ('c', 'PUBSUB NUMSUB news.a'),
        ('c', 'pubsub numsub NEWS.A news.a'), ('a', 'UNSUBSCRIBE news.a'),
        ('c', 'PUBSUB NUMSUB news.a'), ('c', 'PUBSUB CHANNELS news.*', ('elements',)),
        ('d', 'RESET'), ('c', 'PUBSUB CHANNELS news.*'), ('c', 'PUBSUB NUMPAT')],
    'pubsub_help_and_errors': [
        'PUBSUB HELP', 'pubsub help', 'PUBSUB', 'PUBSUB FOO', 'PUBSUB foo bar',
        'PUBSUB CHANNELS a b', 'PUBSUB NUMPAT x', 'PUBSUB HELP x', 'PUBSUB numpat 1 2',
        'PUBSUB SHARDCHANNELS', 'PUBSUB SHARDNUMSUB a', ['PUBSUB', ''],
        'SUBSCRIBE', 'PSUBSCRIBE', 'PUBLISH', 'PUBLISH ch', 'PUBLISH a b c',
        'publish ch x'],
    'case_insensitive': [
        'subscribe Ch', 'Psubscribe P*', ('b', 'publish Ch x'), ('b', 'PUBLISH ch y'),
        ('b', 'PuBlIsH Pq z'), 'UnSubscribe Ch', 'pUnSuBsCrIbE P*', 'GET k'],
    'publish_in_multi': [
        ('b', 'SUBSCRIBE ch'), 'MULTI', 'PUBLISH ch one', 'SET k v', 'PUBLISH ch two',
        'EXEC', 'MULTI', 'PUBLISH ch three', 'DISCARD', ('b', 'PING')],
    'subscribe_in_multi': [
        'MULTI', 'SUBSCRIBE ch', 'EXEC', 'PING', 'GET k'],
}


@pytest.mark.parametrize('name', sorted(SEQUENCES))
def test_same_pubsub_transcript_as_redis(name, node, redis_server):
    run_differential(SEQUENCES[name], node, redis_server)


# Pinned bytes (redis-server 7.0's), checked on both servers.
def test_pinned_message_framing(node, redis_server):
    for proc in (redis_server, node):
        with proc.raw() as sub, proc.raw() as pub:
            assert sub.command('SUBSCRIBE', 'ch') == \
                b'*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n', proc.name
            assert sub.command('PSUBSCRIBE', 'c*') == \
                b'*3\r\n$10\r\npsubscribe\r\n$2\r\nc*\r\n:2\r\n', proc.name
            assert pub.command('PUBLISH', 'ch', 'hi') == b':2\r\n', proc.name
            assert sub.read_reply() == b'*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n'
            assert sub.read_reply() == \
                b'*4\r\n$8\r\npmessage\r\n$2\r\nc*\r\n$2\r\nch\r\n$2\r\nhi\r\n'
            assert sub.command('GET', 'k') == SUBSCRIBED_ERR % b'get', proc.name
            assert sub.command('PING') == b'*2\r\n$4\r\npong\r\n$0\r\n\r\n', proc.name
            assert sub.command('UNSUBSCRIBE') == \
                b'*3\r\n$11\r\nunsubscribe\r\n$2\r\nch\r\n:1\r\n', proc.name
            assert sub.command('PUNSUBSCRIBE') == \
                b'*3\r\n$12\r\npunsubscribe\r\n$2\r\nc*\r\n:0\r\n', proc.name
            assert sub.command('UNSUBSCRIBE') == \
                b'*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n', proc.name
            assert sub.command('PING') == b'+PONG\r\n', proc.name


def test_subscribe_pipelined_with_commands(node, redis_server):
    """SUBSCRIBE, refused commands, PINGs and UNSUBSCRIBE in one write: the
    mode changes between commands of one read."""
    cmds = [['PING'], ['SUBSCRIBE', 'a', 'b'], ['GET', 'k'], ['PING', 'x'],
            ['SET', 'k', 'v'], ['UNSUBSCRIBE', 'a'], ['PING'], ['UNSUBSCRIBE', 'b'],
            ['PING'], ['SET', 'k', 'v'], ['GET', 'k'], ['PSUBSCRIBE', 'z*'],
            ['INCR', 'n'], ['RESET'], ['INCR', 'n']]
    nreplies = len(cmds) + 1 + 0  # SUBSCRIBE a b confirms twice
    payload = b''.join(encode(*c) for c in cmds)

    def run(proc):
        with proc.raw() as c:
            assert c.command('FLUSHALL') == b'+OK\r\n'
        with proc.raw() as c:
            c.send(payload)
            return c.read_replies(nreplies)
    want = run(redis_server)
    got = run(node)
    assert got == want


def test_redis_py_pubsub_on_one_node(node):
    r = node.client()
    p = r.pubsub()
    p.subscribe('ch')
    p.psubscribe('p.*')
    kinds = []

    def confirm():
        while len(kinds) < 2:
            m = p.get_message(timeout=0.2)
            if m:
                kinds.append((m['type'], m['channel']))
        return True
    wait_until(confirm, what='two subscribe confirmations')
    assert kinds == [('subscribe', b'ch'), ('psubscribe', b'p.*')]
    assert r.publish('ch', 'one') == 1
    assert r.publish('p.x', 'two') == 1
    got = []

    def two():
        m = p.get_message(timeout=0.2)
        if m:
            got.append(m)
        return len(got) == 2
    wait_until(two, what='two messages')
    assert got[0]['type'] == 'message' and got[0]['data'] == b'one'
    assert got[1]['type'] == 'pmessage' and got[1]['pattern'] == b'p.*'
    assert got[1]['channel'] == b'p.x' and got[1]['data'] == b'two'
    assert r.pubsub_numsub('ch') == [(b'ch', 1)]
    assert r.pubsub_numpat() == 1
    assert r.pubsub_channels() == [b'ch']
    p.close()
    wait_until(lambda: r.pubsub_numsub('ch') == [(b'ch', 0)],
               what='the closed subscriber to be forgotten')
    assert r.pubsub_numpat() == 0


def test_closing_subscriber_forgets_it(node):
    with node.raw() as sub:
        sub.command('SUBSCRIBE', 'a')
        sub.command('PSUBSCRIBE', 'b*')
    with node.raw() as c:
        wait_until(lambda: c.command('PUBSUB', 'NUMSUB', 'a') ==
                   b'*2\r\n$1\r\na\r\n:0\r\n', what='NUMSUB a to drop to 0')
        assert c.command('PUBSUB', 'NUMPAT') == b':0\r\n'
        assert c.command('PUBLISH', 'a', 'x') == b':0\r\n'
        assert c.command('PUBLISH', 'bb', 'x') == b':0\r\n'


# ---------------------------------------------------------------------------
# Cluster


def message(channel, data):
    channel, data = harness._b(channel), harness._b(data)
    return b'*3\r\n$7\r\nmessage\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n' % (
        len(channel), channel, len(data), data)


def message_data(reply):
    """The payload of a 'message' or 'pmessage' reply."""
    v = parse_one(reply)
    assert v.kind in '*>' and v.value[0].value in (b'message', b'pmessage'), reply
    return v.value[-1].value


def subscribe(proc, *channels, pattern=False):
    c = proc.raw()
    c.send(encode('PSUBSCRIBE' if pattern else 'SUBSCRIBE', *channels))
    for i, ch in enumerate(channels, 1):
        kind = b'psubscribe' if pattern else b'subscribe'
        ch = harness._b(ch)
        assert c.read_reply() == b'*3\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n:%d\r\n' % (
            len(kind), kind, len(ch), ch, i)
    return c


def read_messages(conn, count, timeout=None):
    timeout = timeout or scaled(60)
    deadline = time.monotonic() + timeout
    out = []
    while len(out) < count:
        left = deadline - time.monotonic()
        assert left > 0, 'received %d of %d messages: last %r' % (len(out), count, out[-3:])
        try:
            out.append(message_data(conn.read_reply(timeout=left)))
        except harness.TimeoutExpired:
            raise AssertionError('received %d of %d messages in %.0fs: last %r' % (
                len(out), count, timeout, out[-3:]))
    return out


def assert_nothing_more(conn):
    """No extra message is pending: a PING's reply is the next thing."""
    conn.send(encode('PING', 'end'))
    assert conn.read_reply() == b'*2\r\n$4\r\npong\r\n$3\r\nend\r\n'


def wait_numsub(node, channel, n):
    """Wait until node counts n local subscribers of channel (a
    subscription is local: no other node learns of it)."""
    want = b'*2\r\n' + b''.join([b'$%d\r\n%s\r\n' % (len(channel), harness._b(channel)),
                                 b':%d\r\n' % n])
    with node.raw() as c:
        wait_until(lambda: c.command('PUBSUB', 'NUMSUB', channel) == want,
                   what='%s to count %d subscribers of %s' % (node.name, n, channel))


def test_cluster_publish_on_each_node_reaches_every_node(cluster):
    nodes = list(cluster.nodes.values())
    subs = [subscribe(n, 'room') for n in nodes]
    try:
        for n in nodes:
            wait_numsub(n, 'room', 1)
        for i, n in enumerate(nodes):
            with n.raw() as c:
                # one subscriber on the node that applied it for the client
                assert c.command('PUBLISH', 'room', 'from-%d' % i) == b':1\r\n', n.name
            for s in subs:
                assert s.read_reply(timeout=scaled(20)) == message('room', 'from-%d' % i)
        for s in subs:
            assert_nothing_more(s)
    finally:
        for s in subs:
            s.close()


def test_cluster_subscriptions_are_per_node(cluster):
    a, b, c = cluster.nodes.values()
    s1 = subscribe(a, 'x')
    s2 = subscribe(a, 'x')
    s3 = subscribe(b, 'y*', pattern=True)
    try:
        wait_numsub(a, 'x', 2)
        for n, want in ((a, b'*2\r\n$1\r\nx\r\n:2\r\n'), (b, b'*2\r\n$1\r\nx\r\n:0\r\n'),
                        (c, b'*2\r\n$1\r\nx\r\n:0\r\n')):
            with n.raw() as conn:
                assert conn.command('PUBSUB', 'NUMSUB', 'x') == want, n.name
        for n, want in ((a, b':0\r\n'), (b, b':1\r\n'), (c, b':0\r\n')):
            with n.raw() as conn:
                wait_until(lambda: conn.command('PUBSUB', 'NUMPAT') == want,
                           what='%s NUMPAT %r' % (n.name, want))
        with c.raw() as conn:
            assert conn.command('PUBSUB', 'CHANNELS') == b'*0\r\n'
        with c.raw() as conn:
            conn.command('PUBLISH', 'x', 'hello')
            conn.command('PUBLISH', 'yes', 'there')
        assert s1.read_reply() == message('x', 'hello')
        assert s2.read_reply() == message('x', 'hello')
        assert s3.read_reply() == \
            b'*4\r\n$8\r\npmessage\r\n$2\r\ny*\r\n$3\r\nyes\r\n$5\r\nthere\r\n'
        for s in (s1, s2, s3):
            assert_nothing_more(s)
    finally:
        for s in (s1, s2, s3):
            s.close()


def publish_many(node, channel, prefix, count, errors):
    try:
        r = redis.Redis(host=node.host, port=node.port, socket_timeout=scaled(30))
        for i in range(count):
            r.publish(channel, '%s-%04d' % (prefix, i))
        r.close()
    except Exception as exc:  # noqa: BLE001 - reported by the test
        errors.append('%s: %r' % (prefix, exc))


def check_same_order(received, expected_set, prefixes):
    names = list(received)
    first = received[names[0]]
    assert sorted(first) == sorted(expected_set), (
        'missing %r, extra %r' % (sorted(set(expected_set) - set(first))[:10],
                                  sorted(set(first) - set(expected_set))[:10]))
    assert len(first) == len(set(first)), 'a message was delivered twice'
    for name in names[1:]:
        other = received[name]
        if other != first:
            diff = next(i for i, (x, y) in enumerate(zip(first, other)) if x != y) \
                if sorted(other) == sorted(first) else None
            raise AssertionError('%s and %s saw different sequences (first difference '
                                 'at %r): %r vs %r' % (names[0], name, diff,
                                                       first[:20], other[:20]))
    for p in prefixes:
        mine = [m for m in first if m.startswith(p)]
        assert mine == sorted(mine), 'messages of publisher %r out of order' % p


def test_cluster_concurrent_publishers_same_sequence_everywhere(cluster):
    """Publishers on all 3 nodes at once; a channel subscriber and a pattern
    subscriber on every node: each receives every message, all in one
    identical order, each publisher's messages in its own order."""
    nodes = list(cluster.nodes.values())
    count = 150
    subs = {}
    for n in nodes:
        subs['%s channel' % n.name] = subscribe(n, 'chat')
        subs['%s pattern' % n.name] = subscribe(n, 'ch*', pattern=True)
    try:
        for n in nodes:
            wait_numsub(n, 'chat', 1)
        errors = []
        prefixes = [b'p%d' % n.node_id for n in nodes]
        threads = [threading.Thread(target=publish_many,
                                    args=(n, 'chat', 'p%d' % n.node_id, count, errors))
                   for n in nodes]
        for t in threads:
            t.start()
        for t in threads:
            t.join(scaled(120))
        assert not errors, errors
        expected = [b'%s-%04d' % (p, i) for p in prefixes for i in range(count)]
        received = {name: read_messages(s, len(expected)) for name, s in subs.items()}
        check_same_order(received, expected, prefixes)
        for s in subs.values():
            assert_nothing_more(s)
    finally:
        for s in subs.values():
            s.close()


@pytest.mark.parametrize('victim', ['leader', 'follower'])
def test_subscribers_survive_a_killed_node(victim, new_cluster):
    cluster = new_cluster(3, {'follower-proxy': 'yes'})
    leader = cluster.wait_for_leader()
    dead = leader if victim == 'leader' else \
        next(n for n in cluster.nodes.values() if n is not leader)
    subs = {n.node_id: subscribe(n, 'room') for n in cluster.nodes.values()}
    try:
        for n in cluster.nodes.values():
            wait_numsub(n, 'room', 1)
        before = [b'before-%d' % i for i in range(20)]
        with leader.raw() as c:
            for m in before:
                assert c.command('PUBLISH', 'room', m) == b':1\r\n'
        for s in subs.values():
            assert read_messages(s, len(before)) == before
        cluster.kill(dead.node_id)
        survivors = [n for n in cluster.nodes.values() if n is not dead]
        cluster.wait_for_leader()
        after = []
        for round_ in range(5):
            for n in survivors:
                m = b'after-%d-%d' % (n.node_id, round_)
                with n.raw() as c:
                    reply = c.command('PUBLISH', 'room', m)
                assert reply == b':1\r\n', (n.name, reply)
                after.append(m)
        for n in survivors:
            assert read_messages(subs[n.node_id], len(after)) == after, n.name
            assert_nothing_more(subs[n.node_id])
        # the dead node's subscriber sees its connection end
        with pytest.raises((ConnectionError, OSError)):
            subs[dead.node_id].read_reply(timeout=5)
    finally:
        for s in subs.values():
            s.close()
