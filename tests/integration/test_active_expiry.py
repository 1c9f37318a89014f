"""Background (active) expiry: keys nobody touches again are reclaimed.

The leader scans the keyspace and proposes RAFT.EXPIRE for expired keys
(src/expire.h); every node applies it, so DBSIZE drops and INFO
expired_keys grows on every node alike, without any client reading the
keys. Lazy expiry (a read hides an expired key) is covered by
test_expiry.py.
"""

from harness import scaled, wait_until


def _dbsize(node):
    with node.raw() as c:
        reply = c.command('DBSIZE')
    return int(reply[1:-2])


def _expired_keys(node):
    return int(node.info('stats')['expired_keys'])


def test_untouched_keys_are_reclaimed_on_every_node(cluster):
    leader = cluster.wait_for_leader()
    r = leader.client()
    before = {i: _expired_keys(n) for i, n in cluster.nodes.items()}
    pipe = r.pipeline(transaction=False)
    for i in range(3000):
        pipe.set('gone:%d' % i, 'x', px=200)
    for i in range(50):
        pipe.set('kept:%d' % i, 'y')
    pipe.set('later', 'z', px=60000)
    pipe.execute()
    # Nobody reads the keys: only the leader's background cycles (at most
    # 500 keys each) can delete them, and followers follow the log.
    for node in cluster.nodes.values():
        wait_until(lambda: _dbsize(node) == 51, timeout=scaled(20),
                   what='expired keys reclaimed on node %s' % node.name)
    for i, node in cluster.nodes.items():
        assert _expired_keys(node) - before[i] == 3000
        keyspace = node.info('keyspace')['db0']
        assert 'keys=51' in keyspace and 'expires=1' in keyspace, keyspace
    assert r.get('kept:7') == b'y'
    assert 0 < r.pttl('later') <= 60000


def test_a_rewritten_key_is_not_reclaimed(cluster):
    """RAFT.EXPIRE deletes a key only if it is still expired when the entry
    applies: a key given a new life in between survives."""
    leader = cluster.wait_for_leader()
    r = leader.client()
    r.set('k', 'old', px=100)
    wait_until(lambda: r.get('k') is None, timeout=scaled(10),
               what='k to expire')
    r.set('k', 'new')
    r.set('marker', '1', px=50)
    for node in cluster.nodes.values():
        wait_until(lambda: _dbsize(node) == 1, timeout=scaled(20),
                   what='marker reclaimed on node %s' % node.name)
    for node in cluster.nodes.values():
        with node.raw() as c:
            c.command('READONLY')
            assert c.command('GET', 'k') == b'$3\r\nnew\r\n'
