"""redis-py (Debian's 4.3.x, RESP2) against redis-raft: a plain redis.Redis
on the leader and on a follower (writes proxied, reads after writes),
pipelines with and without MULTI/EXEC, the transaction() helper with
WATCH, pub/sub with a listener thread fed by PUBLISHes on other nodes, and
redis.cluster.RedisCluster started from one node (following -MOVED after
a leadership change). A single-node smoke test of pub/sub and pipelines
comes first.
"""

import threading

import pytest
import redis
from redis.cluster import ClusterNode, RedisCluster

import harness
from harness import encode, scaled, wait_until


def numsub(proc, channel):
    r = proc.client()
    try:
        return dict(r.pubsub_numsub(channel)).get(channel.encode(), 0)
    finally:
        r.close()


class Listener:
    """A PubSub on `proc` whose messages a run_in_thread worker appends to
    self.messages as (channel, data) or (pattern, channel, data)."""

    def __init__(self, proc, channels=(), patterns=()):
        self.proc = proc
        self.client = proc.client()
        self.pubsub = self.client.pubsub()
        self.messages = []
        self.lock = threading.Lock()
        if channels:
            self.pubsub.subscribe(**{ch: self._on_message for ch in channels})
        if patterns:
            self.pubsub.psubscribe(**{p: self._on_pmessage for p in patterns})
        self.thread = self.pubsub.run_in_thread(sleep_time=0.005, daemon=True)
        for ch in channels:
            wait_until(lambda: numsub(proc, ch) == 1, scaled(10),
                       what='the subscription to %s on %s' % (ch, proc.name))

    def _on_message(self, msg):
        with self.lock:
            self.messages.append((msg['channel'], msg['data']))

    def _on_pmessage(self, msg):
        with self.lock:
            self.messages.append((msg['pattern'], msg['channel'], msg['data']))

    def snapshot(self):
        with self.lock:
            return list(self.messages)

    def wait_count(self, n, timeout=scaled(20)):
        return wait_until(lambda: len(self.snapshot()) >= n and self.snapshot(), timeout,
                          what='%d messages on %s (have %d)' % (
                              n, self.proc.name, len(self.snapshot())))

    def close(self):
        self.thread.stop()
        self.thread.join(scaled(10))
        self.pubsub.close()
        self.client.close()


# ---------------------------------------------------------------------------
# One node


def test_single_node_pubsub_and_pipeline_smoke(node):
    listener = Listener(node, channels=['news'], patterns=['ev.*'])
    try:
        r = node.client()
        assert r.publish('news', 'hello') == 1
        assert r.publish('ev.one', 'x') == 1
        assert r.publish('nobody', 'y') == 0
        p = r.pipeline(transaction=False)
        p.set('k', 'v').incr('n').publish('news', 'from-pipeline').get('k').incrby('n', 9)
        assert p.execute() == [True, 1, 1, b'v', 10]
        p = r.pipeline(transaction=True)
        p.lpush('l', 'a').lrange('l', 0, -1).incr('n')
        assert p.execute() == [1, [b'a'], 11]
        assert r.publish('ev.two', 'after') == 1
        got = listener.wait_count(4)
        assert got == [(b'news', b'hello'), (b'ev.*', b'ev.one', b'x'),
                       (b'news', b'from-pipeline'), (b'ev.*', b'ev.two', b'after')]
    finally:
        listener.close()
    wait_until(lambda: numsub(node, 'news') == 0, scaled(10),
               what='the subscription gone after close')


def test_single_node_publish_inside_transaction(node):
    """PUBLISH is allowed inside MULTI (redis-server queues it and
    delivers at EXEC)."""
    listener = Listener(node, channels=['news'])
    try:
        p = node.client().pipeline(transaction=True)
        p.publish('news', 'in-multi').set('k', 'v').publish('news', 'again')
        assert p.execute() == [1, True, 1]
        assert listener.wait_count(2) == [(b'news', b'in-multi'), (b'news', b'again')]
    finally:
        listener.close()


# ---------------------------------------------------------------------------
# Plain redis.Redis on the leader and on a follower


@pytest.mark.parametrize('where', ['leader', 'follower'])
def test_plain_client_read_after_write(where, cluster):
    leader = cluster.wait_for_leader()
    proc = leader if where == 'leader' else cluster.followers()[0]
    r = proc.client()
    for i in range(50):
        assert r.set('k%d' % i, 'v%d' % i) is True
        assert r.get('k%d' % i) == b'v%d' % i      # read right after the write
        assert r.incr('ctr') == i + 1
        assert r.get('ctr') == b'%d' % (i + 1)
    assert r.rpush('l', *range(5)) == 5
    assert r.lrange('l', 0, -1) == [b'0', b'1', b'2', b'3', b'4']
    assert r.sadd('s', 'a', 'b') == 2
    assert r.sismember('s', 'a') is True
    assert r.set('t', 'x', ex=1000) is True
    assert 990 <= r.ttl('t') <= 1000
    assert r.delete('t') == 1
    assert r.dbsize() == 53
    with pytest.raises(redis.ResponseError, match='WRONGTYPE'):
        r.incr('l')
    # Another client on another node reads the acknowledged writes.
    other = [n for n in cluster.nodes.values() if n is not proc][0].client()
    assert other.get('k49') == b'v49'
    assert other.get('ctr') == b'50'


def test_pipeline_without_transaction_on_follower(cluster):
    follower = cluster.followers()[0]
    r = follower.client()
    p = r.pipeline(transaction=False)
    for i in range(200):
        p.incr('n')
        p.rpush('l', i)
    p.get('n').llen('l').get('missing')
    p.lpush('n', 'x')          # an error in the middle: the rest still runs
    p.incr('n')
    out = p.execute(raise_on_error=False)
    assert out[:400:2] == list(range(1, 201))
    assert out[1:400:2] == list(range(1, 201))
    assert out[400:403] == [b'200', 200, None]
    assert isinstance(out[403], redis.ResponseError) and 'WRONGTYPE' in str(out[403])
    assert out[404] == 201


@pytest.mark.parametrize('where', ['leader', 'follower'])
def test_pipeline_transaction_results_and_errors(where, cluster):
    leader = cluster.wait_for_leader()
    proc = leader if where == 'leader' else cluster.followers()[1]
    r = proc.client()
    p = r.pipeline(transaction=True)
    p.set('a', '1').incr('a').get('a').rpush('l', 'x', 'y').lrange('l', 0, -1)
    assert p.execute() == [True, 2, b'2', 2, [b'x', b'y']]
    # A runtime error inside EXEC: the other commands ran.
    p = r.pipeline(transaction=True)
    p.incr('a').lpush('a', 'z').incr('a')
    out = p.execute(raise_on_error=False)
    assert out[0] == 3 and out[2] == 4
    assert isinstance(out[1], redis.ResponseError) and 'WRONGTYPE' in str(out[1])
    with pytest.raises(redis.ResponseError):
        r.pipeline(transaction=True).incr('a').lpush('a', 'z').execute()
    assert r.get('a') == b'5'
    # A queue-time error: EXECABORT, nothing ran.
    p = r.pipeline(transaction=True)
    p.incr('a')
    p.execute_command('NOSUCHCOMMAND', 'x')
    with pytest.raises(redis.ResponseError):
        p.execute()
    assert r.get('a') == b'5'


def test_pipeline_transaction_is_atomic_to_readers(cluster):
    """pipeline(transaction=True) through a follower moving one unit from
    'x' to 'y' each time; readers on every node (MGET, READONLY on one)
    always see x + y == 1000."""
    leader = cluster.wait_for_leader()
    f1, f2 = cluster.followers()
    leader.client().mset({'{t}x': 1000, '{t}y': 0})
    stop = threading.Event()
    problems, reads = [], [0]

    def writer():
        try:
            r = f1.client()
            for _ in range(150):
                p = r.pipeline(transaction=True)
                p.decr('{t}x').incr('{t}y')
                x, y = p.execute()
                assert x + y == 1000, (x, y)
        except Exception as exc:  # noqa: BLE001
            problems.append('writer: %r' % exc)

    def reader(proc):
        try:
            r = proc.client()
            while not stop.is_set():
                x, y = r.mget('{t}x', '{t}y')
                if int(x) + int(y) != 1000:
                    problems.append('%s: x=%s y=%s' % (proc.name, x, y))
                    return
                reads[0] += 1
        except Exception as exc:  # noqa: BLE001
            problems.append('reader %s: %r' % (proc.name, exc))

    w = threading.Thread(target=writer)
    readers = [threading.Thread(target=reader, args=(p,)) for p in (leader, f1, f2)]
    for t in readers + [w]:
        t.start()
    w.join(scaled(240))
    stop.set()
    for t in readers:
        t.join(scaled(60))
    assert not w.is_alive() and not any(t.is_alive() for t in readers), 'clients hung'
    assert not problems, problems
    assert reads[0] > 0
    assert leader.client().mget('{t}x', '{t}y') == [b'850', b'150']


def test_readonly_follower_reads_never_see_half_a_transaction(cluster):
    """The same with raw READONLY connections on both followers (local
    reads of the applied state)."""
    leader = cluster.wait_for_leader()
    followers = cluster.followers()
    leader.client().mset({'{t}x': 1000, '{t}y': 0})
    stop = threading.Event()
    problems = []

    def reader(proc):
        try:
            with proc.raw() as conn:
                assert conn.command('READONLY') == b'+OK\r\n'
                while not stop.is_set():
                    reply = conn.command('MGET', '{t}x', '{t}y')
                    vals = harness.split_replies(reply[reply.index(b'\r\n') + 2:])
                    nums = [int(v[v.index(b'\r\n') + 2:-2]) for v in vals]
                    if sum(nums) != 1000:
                        problems.append('%s: %r' % (proc.name, reply))
                        return
        except Exception as exc:  # noqa: BLE001
            problems.append('reader %s: %r' % (proc.name, exc))

    for f in followers:
        with f.raw() as conn:
            assert conn.command('READONLY') == b'+OK\r\n'
            wait_until(lambda: conn.command('GET', '{t}x') == b'$4\r\n1000\r\n',
                       scaled(10), what='%s to apply the MSET' % f.name)
    readers = [threading.Thread(target=reader, args=(p,)) for p in followers]
    for t in readers:
        t.start()
    try:
        r = leader.client()
        for _ in range(150):
            p = r.pipeline(transaction=True)
            p.decr('{t}x').incr('{t}y')
            p.execute()
    finally:
        stop.set()
        for t in readers:
            t.join(scaled(60))
    assert not problems, problems


def test_transaction_helper_with_watch_concurrent(cluster):
    """redis-py's transaction(func, *watches) from clients on all three
    nodes, each doing read-modify-write on two keys: no lost update."""
    per_client = 20
    nodes = list(cluster.nodes.values())
    problems = []

    def worker(proc):
        try:
            r = proc.client()

            def move(pipe):
                # Two separate reads: another client may commit between
                # them, and then EXEC aborts and transaction() retries.
                total = int(pipe.get('{w}total') or 0)
                pipe.llen('{w}items')
                pipe.multi()
                pipe.set('{w}total', total + 1)
                pipe.rpush('{w}items', proc.node_id)
            for _ in range(per_client):
                r.transaction(move, '{w}total', '{w}items')
        except Exception as exc:  # noqa: BLE001
            problems.append('%s: %r' % (proc.name, exc))

    threads = [threading.Thread(target=worker, args=(n,)) for n in nodes + nodes]
    for t in threads:
        t.start()
    for t in threads:
        t.join(scaled(240))
    assert not any(t.is_alive() for t in threads), 'clients hung'
    assert not problems, problems
    r = cluster.wait_for_leader().client()
    n = per_client * len(threads)
    assert r.get('{w}total') == b'%d' % n
    items = r.lrange('{w}items', 0, -1)
    assert len(items) == n
    for node in nodes:
        assert items.count(b'%d' % node.node_id) == 2 * per_client


def test_transaction_helper_retries_on_watch_error(cluster):
    """transaction() retries when a watched key changes between its read
    and EXEC; value_from_callable returns the callable's value."""
    follower = cluster.followers()[0]
    leader = cluster.wait_for_leader()
    r, other = follower.client(), leader.client()
    r.set('k', '10')
    calls = []

    def func(pipe):
        v = int(pipe.get('k'))
        calls.append(v)
        if len(calls) == 1:
            other.set('k', '20')      # a concurrent change: EXEC must abort
        pipe.multi()
        pipe.set('k', v * 2)
        return v * 2
    assert r.transaction(func, 'k', value_from_callable=True) == 40
    assert calls == [10, 20]
    assert other.get('k') == b'40'
    # watch() with an explicit WatchError
    with r.pipeline() as p:
        p.watch('k')
        p.get('k')
        other.delete('k')
        p.multi()
        p.set('k', 'mine')
        with pytest.raises(redis.WatchError):
            p.execute()
    assert other.exists('k') == 0


# ---------------------------------------------------------------------------
# Pub/sub across nodes


def test_pubsub_listener_thread_gets_messages_from_every_node_in_order(cluster):
    leader = cluster.wait_for_leader()
    f1, f2 = cluster.followers()
    listeners = [Listener(f1, channels=['chan'], patterns=['p.*']),
                 Listener(f2, channels=['chan']),
                 Listener(leader, channels=['chan'])]
    try:
        publishers = [leader.client(), f1.client(), f2.client()]
        sent = []
        for i in range(90):
            ch = 'chan' if i % 3 else 'p.%d' % i
            reply = publishers[i % 3].publish(ch, 'm%d' % i)
            assert isinstance(reply, int) and reply >= 0
            sent.append((ch.encode(), b'm%d' % i))
        chan_msgs = [m for m in sent if m[0] == b'chan']
        pat_msgs = [(b'p.*',) + m for m in sent if m[0] != b'chan']
        # The listener with a pattern gets both kinds, interleaved in
        # publish order.
        want_f1 = [m if m[0] == b'chan' else (b'p.*',) + m for m in sent]
        assert listeners[0].wait_count(len(want_f1)) == want_f1
        assert listeners[1].wait_count(len(chan_msgs)) == chan_msgs
        assert listeners[2].wait_count(len(chan_msgs)) == chan_msgs
        assert len(pat_msgs) == 30
    finally:
        for lst in listeners:
            lst.close()


def test_pubsub_publish_inside_transaction_reaches_other_nodes(cluster):
    leader = cluster.wait_for_leader()
    follower = cluster.followers()[0]
    listener = Listener(follower, channels=['tx'])
    try:
        p = leader.client().pipeline(transaction=True)
        p.publish('tx', 'one').set('k', 'v').publish('tx', 'two')
        out = p.execute()
        assert out[1] is True
        assert listener.wait_count(2) == [(b'tx', b'one'), (b'tx', b'two')]
    finally:
        listener.close()


# ---------------------------------------------------------------------------
# RedisCluster


def _rc(node):
    return RedisCluster(startup_nodes=[ClusterNode(node.host, node.port)],
                        socket_timeout=harness.REPLY_TIMEOUT,
                        socket_connect_timeout=harness.REPLY_TIMEOUT)


@pytest.mark.parametrize('via', ['leader', 'follower'])
def test_redis_cluster_client_from_one_startup_node(via, cluster):
    leader = cluster.wait_for_leader()
    node = leader if via == 'leader' else cluster.followers()[0]
    rc = _rc(node)
    try:
        assert [(n.host, n.port) for n in rc.get_primaries()] == [
            ('127.0.0.1', leader.port)]
        assert rc.set('k', 'v') is True
        assert rc.get('k') == b'v'
        assert rc.incr('n') == 1
        assert rc.incrby('n', 41) == 42
        assert rc.mset({'{u}a': '1', '{u}b': '2'}) is True
        assert rc.mget('{u}a', '{u}b', '{u}c') == [b'1', b'2', None]
        assert rc.mget_nonatomic('k', 'n', '{u}a') == [b'v', b'42', b'1']
        p = rc.pipeline()
        for _ in range(20):
            p.incr('{u}p')
        assert p.execute() == list(range(1, 21))
    finally:
        rc.close()


def test_redis_cluster_client_follows_moved_after_leader_change(cluster):
    """With follower-proxy off, a RedisCluster whose slot map names the old
    leader gets -MOVED after a leadership transfer and follows it."""
    leader = cluster.wait_for_leader()
    for n in cluster.nodes.values():
        with n.raw() as conn:
            assert conn.command('CONFIG', 'SET', 'follower-proxy', 'no') == b'+OK\r\n'
    rc = _rc(leader)
    try:
        assert rc.set('k', '1') is True
        target = cluster.followers()[0]
        assert leader.send_raw(encode('RAFT.TRANSFER', str(target.node_id))) == b'+OK\r\n'
        assert cluster.wait_for_leader(scaled(10)) is target
        # The old leader answers -MOVED; the client refreshes and retries.
        with leader.raw() as conn:
            assert conn.command('GET', 'k').startswith(b'-MOVED ')
        assert rc.incr('k') == 2
        assert rc.get('k') == b'2'
        assert rc.mget('{z}a', '{z}b') == [None, None]
        assert [(n.host, n.port) for n in rc.get_primaries()] == [
            ('127.0.0.1', target.port)]
    finally:
        rc.close()
