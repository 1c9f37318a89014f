"""Expiry: EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT (NX/XX/GT/LT), TTL, PTTL,
EXPIRETIME, PEXPIRETIME, PERSIST; keys vanishing once their time passes,
on one node and on every node of a cluster; expiry times surviving a
snapshot and a restart.

The differential sequences run against redis-raft and a stock
redis-server 7.0 and must give identical bytes; relative expiries are
read back with TTL (whole seconds, rounded: a few ms between the two
servers cannot show), absolute ones with (P)EXPIRETIME. Keys that must
expire get short PX times and are polled with a deadline, never slept on.
Only lazy expiry is relied on: an expired key reads as missing.

redis-raft decides expiry with the keyspace clock carried in the log (the
leader's clock at proposal), so every node agrees on which keys exist and
on every expiry time.
"""

import pytest

import differential
from differential import check_pinned, compare, compare_pipelined, sequences_in_one_write
from harness import scaled, wait_until

LLONG_MAX = '9223372036854775807'
LLONG_MIN = '-9223372036854775808'
AT_S = '4102444800'        # 2100-01-01, seconds
AT_MS = '4102444800623'    # ... in ms, rounding up to the next second
AT_MS_DOWN = '4102444800499'


c = differential.split_command  # 'SET k v' -> ['SET', 'k', 'v']


SEQUENCES = {
    'expire_ttl_persist': [
        'SET k v', 'TTL k', 'PTTL k', 'EXPIRETIME k', 'PEXPIRETIME k', 'EXPIRE k 100',
        'TTL k', 'GET k', 'EXPIRE missing 100', 'TTL missing', 'PTTL missing',
        'EXPIRETIME missing', 'PEXPIRETIME missing', 'PERSIST k', 'TTL k', 'PERSIST k',
        'PERSIST missing', 'PEXPIRE k 200000', 'TTL k', 'PEXPIRE k 100700', 'TTL k',
        'PEXPIRE k 100300', 'TTL k', 'EXPIREAT k ' + AT_S, 'EXPIRETIME k',
        'PEXPIRETIME k', 'PEXPIREAT k ' + AT_MS, 'PEXPIRETIME k', 'EXPIRETIME k',
        'PEXPIREAT k ' + AT_MS_DOWN, 'EXPIRETIME k', 'expire k 50', 'ttl k',
        'Persist k', 'pttl k', 'GET k'],
    'expire_bad_args': [
        'SET k v', 'EXPIRE k abc', 'EXPIRE k 1.5', ['EXPIRE', 'k', ''], 'EXPIRE k 1e3',
        'EXPIRE k 9223372036854775808', 'PEXPIRE k ' + LLONG_MAX,
        'EXPIRE k ' + LLONG_MAX, 'EXPIRE k 9223372036854775', 'EXPIRE k 9223372036854776',
        'EXPIRE k -9223372036854776', 'EXPIREAT k 9223372036854776',
        'EXPIREAT k -9223372036854776', 'PEXPIRE missing ' + LLONG_MAX,
        'EXPIRE missing 9223372036854776', 'TTL k', 'EXPIREAT k 9223372036854775',
        'PEXPIRETIME k', 'PEXPIREAT k ' + LLONG_MAX, 'PEXPIRETIME k', 'EXPIRETIME k',
        'GET k', 'EXPIRE missing abc', 'EXPIREAT k abc', 'PEXPIREAT k 1.5'],
    'expire_options_errors': [
        'SET k v', 'EXPIRE k 100 NX XX', 'EXPIRE k 100 XX NX', 'EXPIRE k 100 NX GT',
        'EXPIRE k 100 NX LT', 'EXPIRE k 100 GT LT', 'EXPIRE k 100 LT GT',
        'EXPIRE k 100 NX GT LT', 'EXPIRE k 100 FOO', 'EXPIRE k 100 nx foo',
        'EXPIRE k 100 foo nx', ['EXPIRE', 'k', '100', ''], ['EXPIRE', 'k', '100', b'a\x00b'],
        ['EXPIRE', 'k', '100', 'x' * 2000], 'EXPIRE k abc FOO', 'EXPIRE k abc NX XX',
        'EXPIRE missing 100 GT LT', 'PEXPIRE k 100 BAR', 'EXPIREAT k 100 NX XX',
        'PEXPIREAT k 100 GT LT', 'EXPIRE k 100 NX NX', 'TTL k', 'EXPIRE k 100 XX XX',
        'EXPIRE k 200 GT GT', 'TTL k', 'EXPIRE k 50 LT LT', 'TTL k', 'EXPIRE k 100 XX GT',
        'EXPIRE k 90 XX LT', 'TTL k', 'EXPIRE k 80 gt xx', 'TTL k', 'GET k'],
    'expire_nx_xx': [
        'SET k v', 'EXPIRE k 100 XX', 'TTL k', 'EXPIRE k 100 NX', 'TTL k',
        'EXPIRE k 200 NX', 'TTL k', 'EXPIRE k 300 XX', 'TTL k', 'PERSIST k',
        'PEXPIRE k 100000 xx', 'TTL k', 'PEXPIRE k 100000 nx', 'TTL k',
        'EXPIRE missing 100 NX', 'EXPIRE missing 100 XX', 'EXPIREAT k ' + AT_S + ' NX',
        'EXPIREAT k ' + AT_S + ' XX', 'EXPIRETIME k', 'PEXPIREAT k ' + AT_MS + ' XX',
        'PEXPIRETIME k'],
    'expire_gt_lt': [
        'SET k v', 'EXPIRE k 100 GT', 'TTL k', 'EXPIRE k 100 LT', 'TTL k',
        'EXPIRE k 50 GT', 'TTL k', 'EXPIRE k 200 GT', 'TTL k', 'EXPIRE k 300 LT',
        'TTL k', 'EXPIRE k 150 LT', 'TTL k', 'EXPIRE k 149 GT', 'EXPIRE k 151 LT',
        'TTL k', 'EXPIRE k 500 XX GT', 'TTL k', 'EXPIRE k 400 XX LT', 'TTL k',
        'PEXPIREAT k ' + AT_MS, 'PEXPIREAT k ' + AT_MS + ' GT',
        'PEXPIREAT k ' + AT_MS + ' LT', 'PEXPIRETIME k', 'EXPIREAT k ' + AT_S + ' LT',
        'PEXPIRETIME k', 'PERSIST k', 'EXPIRE k -5 GT', 'EXISTS k', 'EXPIRE k -5 LT',
        'EXISTS k', 'GET k', 'SET k v EX 100', 'EXPIRE k -1 LT', 'EXISTS k',
        'SET k v EX 100', 'EXPIRE k -1 GT', 'TTL k', 'EXPIRE missing 10 LT',
        'EXPIRE missing 10 GT'],
    'expire_in_the_past_deletes': [
        'SET k v', 'EXPIRE k -1', 'EXISTS k', 'GET k', 'TTL k', 'EXPIRE k -1',
        'SET k v', 'EXPIRE k 0', 'EXISTS k', 'SET k v', 'PEXPIRE k 0', 'EXISTS k',
        'SET k v', 'PEXPIRE k -100', 'EXISTS k', 'SET k v', 'EXPIREAT k 1', 'EXISTS k',
        'SET k v', 'PEXPIREAT k 0', 'EXISTS k', 'SET k v', 'EXPIREAT k -1', 'EXISTS k',
        'SET k v', 'PEXPIRE k ' + LLONG_MIN, 'EXISTS k', 'SET k v',
        'EXPIRE k -9223372036854775', 'EXISTS k', 'RPUSH l a', 'EXPIRE l -1',
        'EXISTS l', 'LLEN l', 'DBSIZE', 'SET k v EX 100', 'EXPIRE k 0 XX', 'EXISTS k',
        'SET k v', 'EXPIRE k 0 NX', 'EXISTS k', 'DBSIZE'],
    'expire_other_types': [
        'RPUSH l a b', 'EXPIRE l 100', 'TTL l', 'LPUSH l c', 'TTL l', 'LPOP l',
        'RPOP l 2', 'EXISTS l', 'TTL l', 'RPUSH l a', 'TTL l', 'RPUSH m a',
        'PEXPIREAT m ' + AT_MS, 'PEXPIRETIME m', 'PERSIST m', 'PEXPIRETIME m',
        'TYPE m'],
}

ARITY = {'EXPIRE': -3, 'PEXPIRE': -3, 'EXPIREAT': -3, 'PEXPIREAT': -3, 'TTL': 2,
         'PTTL': 2, 'EXPIRETIME': 2, 'PEXPIRETIME': 2, 'PERSIST': 2}


for _name, _arity in ARITY.items():
    SEQUENCES['arity_' + _name.lower()] = differential.arity_sequence(_name, _arity)


@pytest.mark.parametrize('name', sorted(SEQUENCES))
def test_same_replies_as_redis(name, node, redis_server):
    commands = SEQUENCES[name]
    compare(node, redis_server, commands)


def test_all_sequences_pipelined_in_one_write(node, redis_server):
    compare_pipelined(node, redis_server, sequences_in_one_write(SEQUENCES))


PINNED = [
    ('EXPIRE k 100', b':1\r\n'),
    ('EXPIRE nokey 100', b':0\r\n'),
    ('TTL nokey', b':-2\r\n'),
    ('TTL k', b':-1\r\n'),
    ('PTTL k', b':-1\r\n'),
    ('EXPIRETIME nokey', b':-2\r\n'),
    ('PEXPIRETIME k', b':-1\r\n'),
    ('PERSIST k', b':0\r\n'),
    ('EXPIRE k -1', b':1\r\n'),
    ('EXPIRE k 100 NX XX',
     b'-ERR NX and XX, GT or LT options at the same time are not compatible\r\n'),
    ('EXPIRE k 100 GT LT', b'-ERR GT and LT options at the same time are not compatible\r\n'),
    ('EXPIRE k 100 foo', b'-ERR Unsupported option foo\r\n'),
    ('EXPIRE k 100 GT', b':0\r\n'),
    ('EXPIRE k abc', b'-ERR value is not an integer or out of range\r\n'),
    ('EXPIRE k 9223372036854775807', b"-ERR invalid expire time in 'expire' command\r\n"),
    ('PEXPIRE k 9223372036854775807', b"-ERR invalid expire time in 'pexpire' command\r\n"),
    ('EXPIREAT k 9223372036854776', b"-ERR invalid expire time in 'expireat' command\r\n"),
]


PINNED_SETUP = [  # (command, its reply) before each pinned command
    (['SET', 'k', 'v'], b'+OK\r\n'),
]


@pytest.mark.parametrize('cmd,expected', PINNED, ids=[p[0] for p in PINNED])
def test_pinned_reply(cmd, expected, node, redis_server):
    check_pinned((redis_server, node), PINNED_SETUP, cmd, expected)


def test_pinned_ttl_values(node, redis_server):
    """TTL, PTTL and the absolute forms on a key with a known expiry."""
    for proc in (redis_server, node):
        with proc.raw() as conn:
            assert conn.command('SET', 'k', 'v', 'PXAT', AT_MS) == b'+OK\r\n'
            assert conn.command('PEXPIRETIME', 'k') == b':%s\r\n' % AT_MS.encode()
            assert conn.command('EXPIRETIME', 'k') == b':4102444801\r\n'
            assert conn.command('EXPIRE', 'k', '100') == b':1\r\n'
            assert conn.command('TTL', 'k') == b':100\r\n'
            pttl = int(conn.command('PTTL', 'k')[1:-2])
            assert 90000 < pttl <= 100000, (proc.name, pttl)
            assert conn.command('PERSIST', 'k') == b':1\r\n'
            assert conn.command('TTL', 'k') == b':-1\r\n'


# ---------------------------------------------------------------------------
# Keys expiring in real time (one node)


def _gone(conn, key):
    return conn.command('GET', key) == b'$-1\r\n'


@pytest.mark.parametrize('setter', [
    ['SET', 'k', 'v', 'PX', '100'],
    ['PSETEX', 'k', '100', 'v'],
    ['SET', 'k', 'v', 'EX', '1'],
    'expire',
    'getex',
])
def test_key_expires(setter, node, redis_server):
    """A key given a short expiry reads as present, then as missing, on both
    servers: GET nil, EXISTS 0, TTL -2, and writers see no key."""
    for proc in (redis_server, node):
        with proc.raw() as conn:
            if setter == 'expire':
                assert conn.command('RPUSH', 'k', 'a') == b':1\r\n'
                assert conn.command('PEXPIRE', 'k', '100') == b':1\r\n'
            elif setter == 'getex':
                assert conn.command('SET', 'k', 'v') == b'+OK\r\n'
                assert conn.command('GETEX', 'k', 'PX', '100') == b'$1\r\nv\r\n'
            else:
                assert conn.command(*setter) == b'+OK\r\n'
            assert conn.command('EXISTS', 'k') in (b':1\r\n', b':0\r\n')
            wait_until(lambda: conn.command('EXISTS', 'k') == b':0\r\n', scaled(5),
                       what='%s: k to expire' % proc.name)
            assert conn.command('TTL', 'k') == b':-2\r\n'
            assert conn.command('PTTL', 'k') == b':-2\r\n'
            assert conn.command('TYPE', 'k') == b'+none\r\n'
            assert conn.command('PERSIST', 'k') == b':0\r\n'
            assert conn.command('EXPIRE', 'k', '100') == b':0\r\n'
            assert conn.command('SET', 'k', 'new', 'NX') == b'+OK\r\n'
            assert conn.command('TTL', 'k') == b':-1\r\n'
            assert conn.command('GET', 'k') == b'$3\r\nnew\r\n'


def test_ttl_counts_down(node):
    with node.raw() as conn:
        assert conn.command('SET', 'k', 'v', 'PX', '100000') == b'+OK\r\n'
        first = int(conn.command('PTTL', 'k')[1:-2])
        assert 0 < first <= 100000
        wait_until(lambda: int(conn.command('PTTL', 'k')[1:-2]) < first, scaled(5),
                   what='PTTL to decrease')


def test_incr_and_append_on_expired_key_start_over(node, redis_server):
    for proc in (redis_server, node):
        with proc.raw() as conn:
            assert conn.command('SET', 'n', '41', 'PX', '50') == b'+OK\r\n'
            assert conn.command('SET', 's', 'abc', 'PX', '50') == b'+OK\r\n'
            wait_until(lambda: conn.command('EXISTS', 'n', 's') == b':0\r\n', scaled(5),
                       what='%s: n and s to expire' % proc.name)
            assert conn.command('INCR', 'n') == b':1\r\n'
            assert conn.command('APPEND', 's', 'x') == b':1\r\n'
            assert conn.command('SETRANGE', 's', '2', 'y') == b':3\r\n'
            assert conn.command('TTL', 'n') == b':-1\r\n'
            assert conn.command('MSETNX', 'n', '1') == b':0\r\n'


# ---------------------------------------------------------------------------
# Cluster: every node decides the same


def _readonly(n):
    conn = n.raw()
    assert conn.command('READONLY') == b'+OK\r\n'
    return conn


def _local(n, *args):
    with _readonly(n) as conn:
        return conn.command(*args)


def test_cluster_key_expires_on_every_node(cluster):
    leader = cluster.wait_for_leader()
    with leader.raw() as conn:
        assert conn.command('SET', 'k', 'v', 'PX', '300') == b'+OK\r\n'
        assert conn.command('SET', 'keep', 'v') == b'+OK\r\n'
        assert conn.command('PEXPIREAT', 'late', '1') == b':0\r\n'
    cluster.wait_for_applied()
    for n in cluster.nodes.values():
        with _readonly(n) as conn:
            wait_until(lambda: conn.command('GET', 'k') == b'$-1\r\n', scaled(10),
                       what='%s: k to expire' % n.name)
            assert conn.command('EXISTS', 'k', 'keep') == b':1\r\n'
            assert conn.command('TTL', 'k') == b':-2\r\n'
            assert conn.command('GET', 'keep') == b'$1\r\nv\r\n'
    # A write after the expiry: every node applies it at a clock past the
    # key's time, so every node deletes the key alike.
    with leader.raw() as conn:
        assert conn.command('SET', 'k', 'new', 'NX') == b'+OK\r\n'
    cluster.wait_for_applied()
    for n in cluster.nodes.values():
        wait_until(lambda: _local(n, 'GET', 'k') == b'$3\r\nnew\r\n', scaled(10),
                   what='%s: k rewritten' % n.name)
        assert _local(n, 'TTL', 'k') == b':-1\r\n'


def test_cluster_expiry_times_agree(cluster):
    """Relative expiries are computed once, from the entry's clock: every
    node holds the same absolute times."""
    leader = cluster.wait_for_leader()
    with leader.raw() as conn:
        assert conn.command('SET', 'a', 'v', 'EX', '1000') == b'+OK\r\n'
        assert conn.command('SETEX', 'b', '2000', 'v') == b'+OK\r\n'
        assert conn.command('SET', 'c', 'v') == b'+OK\r\n'
        assert conn.command('PEXPIRE', 'c', '3000000') == b':1\r\n'
        assert conn.command('SET', 'd', 'v') == b'+OK\r\n'
        assert conn.command('GETEX', 'd', 'PX', '4000000') == b'$1\r\nv\r\n'
        assert conn.command('SET', 'e', 'v', 'PXAT', AT_MS) == b'+OK\r\n'
        assert conn.command('RPUSH', 'f', 'x') == b':1\r\n'
        assert conn.command('EXPIREAT', 'f', AT_S) == b':1\r\n'
        want = [conn.command('PEXPIRETIME', k) for k in 'abcdef']
        ttls = [conn.command('TTL', k) for k in 'abcdef']
    assert ttls[:4] == [b':1000\r\n', b':2000\r\n', b':3000\r\n', b':4000\r\n'], ttls
    assert want[4] == b':%s\r\n' % AT_MS.encode()
    assert want[5] == b':%s000\r\n' % AT_S.encode()
    cluster.wait_for_applied()
    for n in cluster.nodes.values():
        with _readonly(n) as conn:
            got = [conn.command('PEXPIRETIME', k) for k in 'abcdef']
            assert got == want, n.name
            for k, ttl in zip('abcdef', ttls[:4]):
                t = int(conn.command('TTL', k)[1:-2])
                assert int(ttl[1:-2]) - 5 <= t <= int(ttl[1:-2]), (n.name, k, t)
    # PERSIST and a past expiry replicate too.
    with leader.raw() as conn:
        assert conn.command('PERSIST', 'a') == b':1\r\n'
        assert conn.command('EXPIRE', 'b', '-1') == b':1\r\n'
    cluster.wait_for_applied()
    for n in cluster.nodes.values():
        with _readonly(n) as conn:
            assert conn.command('TTL', 'a') == b':-1\r\n', n.name
            assert conn.command('EXISTS', 'b') == b':0\r\n', n.name
            assert conn.command('DBSIZE') == b':5\r\n', n.name


def test_cluster_follower_proxy_ttl(cluster):
    """TTL sent to a follower (proxied to the leader) matches the leader's."""
    leader = cluster.wait_for_leader()
    follower = cluster.followers()[0]
    with follower.raw() as conn:
        assert conn.command('SET', 'k', 'v', 'EX', '500') == b'+OK\r\n'
        assert conn.command('TTL', 'k') == b':500\r\n'
        assert conn.command('EXPIRE', 'k', '600', 'GT') == b':1\r\n'
        assert conn.command('TTL', 'k') == b':600\r\n'
    with leader.raw() as conn:
        assert conn.command('TTL', 'k') == b':600\r\n'


def test_cluster_restarted_node_agrees_on_expired_key(cluster):
    """A follower stopped while a key is live and started after it expired
    replays the log and agrees with the others that the key is gone."""
    leader = cluster.wait_for_leader()
    follower = cluster.followers()[0]
    with leader.raw() as conn:
        assert conn.command('SET', 'k', 'v', 'PX', '500') == b'+OK\r\n'
        assert conn.command('SET', 'p', 'v', 'PXAT', AT_MS) == b'+OK\r\n'
    cluster.wait_for_applied()
    follower.stop()
    with leader.raw() as conn:
        wait_until(lambda: conn.command('EXISTS', 'k') == b':0\r\n', scaled(10),
                   what='k to expire on the leader')
    follower.start()
    leader = cluster.wait_for_leader()
    cluster.wait_for_applied()
    for n in cluster.nodes.values():
        with _readonly(n) as conn:
            wait_until(lambda: conn.command('EXISTS', 'k', 'p') == b':1\r\n', scaled(10),
                       what='%s: only p left' % n.name)
            assert conn.command('GET', 'k') == b'$-1\r\n'
            assert conn.command('PEXPIRETIME', 'p') == b':%s\r\n' % AT_MS.encode()
    # A write after the restart deletes k (lazily) on every node alike.
    with leader.raw() as conn:
        assert conn.command('APPEND', 'k', 'w') == b':1\r\n'
    cluster.wait_for_applied()
    for n in cluster.nodes.values():
        wait_until(lambda: _local(n, 'GET', 'k') == b'$1\r\nw\r\n', scaled(10),
                   what='%s: k recreated' % n.name)


# ---------------------------------------------------------------------------
# Snapshots and restarts


def _save(n):
    with n.raw(timeout=scaled(30)) as conn:
        assert conn.command('SAVE', timeout=scaled(30)) == b'+OK\r\n'


def test_expiry_survives_snapshot_and_restart(fresh_node):
    node = fresh_node
    with node.raw() as conn:
        assert conn.command('SET', 'ex', 'v', 'EX', '1000') == b'+OK\r\n'
        assert conn.command('SET', 'at', 'v', 'PXAT', AT_MS) == b'+OK\r\n'
        assert conn.command('SET', 'short', 'v', 'PX', '300') == b'+OK\r\n'
        assert conn.command('SET', 'plain', 'v') == b'+OK\r\n'
        assert conn.command('RPUSH', 'l', 'a') == b':1\r\n'
        assert conn.command('EXPIREAT', 'l', AT_S) == b':1\r\n'
        ex_at = conn.command('PEXPIRETIME', 'ex')
    _save(node)
    node.stop()
    node.start()
    with node.raw() as conn:
        assert conn.command('PEXPIRETIME', 'ex') == ex_at
        assert 990 <= int(conn.command('TTL', 'ex')[1:-2]) <= 1000
        assert conn.command('PEXPIRETIME', 'at') == b':%s\r\n' % AT_MS.encode()
        assert conn.command('EXPIRETIME', 'l') == b':%s\r\n' % AT_S.encode()
        assert conn.command('TTL', 'plain') == b':-1\r\n'
        wait_until(lambda: conn.command('GET', 'short') == b'$-1\r\n', scaled(10),
                   what='short to expire after the restart')
        assert conn.command('GET', 'ex') == b'$1\r\nv\r\n'
        # Writes after the restart keep working with the restored clock.
        assert conn.command('SET', 'new', 'v', 'PX', '100000') == b'+OK\r\n'
        assert conn.command('TTL', 'new') == b':100\r\n'


def test_expiry_survives_restart_without_snapshot(fresh_node):
    """The same from the log alone (no SAVE): replay recomputes nothing,
    the expiry times are the ones decided at proposal."""
    node = fresh_node
    with node.raw() as conn:
        assert conn.command('SET', 'ex', 'v', 'EX', '1000') == b'+OK\r\n'
        assert conn.command('PEXPIRE', 'ex', '2000000') == b':1\r\n'
        ex_at = conn.command('PEXPIRETIME', 'ex')
    node.stop()
    node.start()
    with node.raw() as conn:
        assert conn.command('PEXPIRETIME', 'ex') == ex_at


def test_cluster_expiry_survives_snapshots(new_cluster):
    """Every node snapshotted and restarted: the expiry times in the
    snapshots are the same everywhere, and a key that expired while the
    cluster was down is gone on every node."""
    cluster = new_cluster(3)
    leader = cluster.wait_for_leader()
    with leader.raw() as conn:
        assert conn.command('SET', 'ex', 'v', 'EX', '1000') == b'+OK\r\n'
        assert conn.command('SET', 'short', 'v', 'PX', '400') == b'+OK\r\n'
        assert conn.command('SET', 'at', 'v', 'PXAT', AT_MS) == b'+OK\r\n'
        ex_at = conn.command('PEXPIRETIME', 'ex')
    cluster.wait_for_applied()
    for n in cluster.nodes.values():
        _save(n)
    for n in sorted(cluster.nodes.values(), key=lambda n: n is leader):
        n.stop(scaled(20))
    for n in cluster.nodes.values():
        n.spawn()
    for n in cluster.nodes.values():
        n.wait_ready(scaled(30))
    cluster.wait_for_leader(scaled(30))
    cluster.wait_for_applied()
    for n in cluster.nodes.values():
        with _readonly(n) as conn:
            assert conn.command('PEXPIRETIME', 'ex') == ex_at, n.name
            assert conn.command('PEXPIRETIME', 'at') == b':%s\r\n' % AT_MS.encode(), n.name
            wait_until(lambda: conn.command('EXISTS', 'short') == b':0\r\n', scaled(10),
                       what='%s: short to expire' % n.name)


def test_follower_installs_snapshot_with_expiry(new_cluster):
    """A follower that falls behind a compacted log gets the leader's
    snapshot, expiry times included."""
    cluster = new_cluster(3, {'snapshot-threshold': 16, 'snapshot-trailing': 0})
    leader = cluster.wait_for_leader()
    follower = cluster.followers()[0]
    follower.stop()
    with leader.raw() as conn:
        assert conn.command('SET', 'at', 'v', 'PXAT', AT_MS) == b'+OK\r\n'
        assert conn.command('SET', 'short', 'v', 'PX', '200') == b'+OK\r\n'
        for i in range(200):
            assert conn.command('SET', 'k%d' % i, str(i), 'EX', str(1000 + i)) == b'+OK\r\n'
        want = [conn.command('PEXPIRETIME', 'k%d' % i) for i in range(200)]
    wait_until(lambda: int(leader.info('persistence')['snapshots_taken']) > 0, scaled(20),
               what='the leader to take a snapshot')
    follower.start()
    cluster.wait_for_applied()
    wait_until(lambda: int(follower.info('persistence')['snapshots_installed']) > 0,
               scaled(20), what='the follower to install a snapshot')
    with _readonly(follower) as conn:
        assert conn.command('PEXPIRETIME', 'at') == b':%s\r\n' % AT_MS.encode()
        got = [conn.command('PEXPIRETIME', 'k%d' % i) for i in range(200)]
        assert got == want
        wait_until(lambda: conn.command('EXISTS', 'short') == b':0\r\n', scaled(10),
                   what='short to expire on the follower')


def test_ttl_replies_to_redis_py(node):
    r = node.client()
    assert r.set('k', 'v') is True
    assert r.expire('k', 100) is True
    assert r.ttl('k') == 100
    assert r.expire('k', 200, nx=True) is False
    assert r.expire('k', 200, gt=True) is True
    assert r.pexpire('k', 300000, xx=True) is True
    assert r.ttl('k') == 300
    assert r.persist('k') is True
    assert r.ttl('k') == -1
    assert r.expireat('k', int(AT_S)) is True
    assert r.expiretime('k') == int(AT_S)
    assert r.pttl('missing') == -2
