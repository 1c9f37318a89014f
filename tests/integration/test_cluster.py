"""A healthy 3-node cluster, as clients see it: INFO raft, the follower
proxy, -MOVED with follower-proxy off, READONLY, the CLUSTER commands,
COMMAND, redis-py's cluster client, redis-cli -c, leadership transfer and
redis-benchmark through the leader and a follower.

Every test here shares one cluster (the `cluster` fixture, restored and
emptied before each test); tests that kill, stop or pause nodes are in
test_cluster_failures.py.
"""

import collections
import random
import re
import subprocess

import pytest
import redis
from redis.cluster import RedisCluster

import harness
from harness import encode, raft_members, scaled, wait_until
from differential import compare, compare_pipelined, sequences_in_one_write
from test_commands import SEQUENCES

SLOTS = 16384


# ---------------------------------------------------------------------------
# Helpers


def crc16(data):
    """CRC16-CCITT (XMODEM), the key hash of Redis Cluster."""
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def key_slot(key):
    """Redis Cluster's slot of a key, hash tags honoured: the part between
    the first '{' and the next '}' when that part is not empty."""
    key = harness._b(key)
    start = key.find(b'{')
    if start >= 0:
        end = key.find(b'}', start + 1)
        if end > start + 1:
            key = key[start + 1:end]
    return crc16(key) % SLOTS


def client_addr(node):
    return '%s:%d' % (node.host, node.port)


def node_name(node_id):
    """The 40-character node id CLUSTER NODES and MYID use."""
    return '%040x' % node_id


def cmd(node, *args):
    """One command on a fresh raw connection; the reply bytes."""
    return node.send_raw(encode(*args))


def resp(node, *args):
    """One command through redis-py's parser, with no response callback
    (CLUSTER SLOTS and friends come back as plain nested lists)."""
    client = node.client()
    conn = client.connection_pool.get_connection(args[0])
    try:
        conn.send_command(*args)
        return conn.read_response()
    finally:
        client.connection_pool.release(conn)


def set_proxy(node, value):
    assert cmd(node, 'CONFIG', 'SET', 'follower-proxy', value) == b'+OK\r\n'


def bulk(payload):
    payload = harness._b(payload)
    return b'$%d\r\n%s\r\n' % (len(payload), payload)


def leader_term(cluster):
    return int(cluster.wait_for_leader().raft_info()['raft_term'])


# ---------------------------------------------------------------------------
# INFO


def test_key_slot_helper_matches_redis_cluster_examples():
    """The reference values every Redis Cluster document uses."""
    assert key_slot('foo') == 12182
    assert key_slot('{user1000}.following') == 3443
    assert key_slot('{user1000}.followers') == 3443
    assert key_slot('123456789') == crc16(b'123456789') % SLOTS == 0x31C3 % SLOTS


def test_info_raft_fields_on_every_node(cluster):
    leader = cluster.wait_for_leader()
    assert cmd(leader, 'SET', 'k', 'v') == b'+OK\r\n'
    index = int(leader.raft_info()['raft_commit_index'])
    cluster.wait_for_applied(index)
    term = leader.raft_info()['raft_term']
    addrs = {n.node_id: client_addr(n) for n in cluster.nodes.values()}
    for node_id, node in cluster.nodes.items():
        info = node.info()
        assert 'Cluster' in info['sections'] and 'Raft' in info['sections'], info['sections']
        assert info['cluster_enabled'] == '1'
        assert info['raft_node_id'] == str(node_id)
        assert info['raft_role'] == ('leader' if node is leader else 'follower')
        assert info['raft_leader_id'] == str(leader.node_id)
        assert info['raft_leader_addr'] == client_addr(leader)
        assert info['raft_term'] == term
        commit, applied = int(info['raft_commit_index']), int(info['raft_last_applied'])
        assert index <= applied <= commit, (index, applied, commit)
        assert info['raft_num_nodes'] == '3'
        assert info['raft_num_voters'] == '3'
        members = raft_members(info)
        assert sorted(members) == [1, 2, 3], info
        for mid, m in members.items():
            assert m['addr'] == addrs[mid], (mid, m)
            assert m['role'] == 'voter', (mid, m)
            assert int(m['match_index']) >= 0
        # A node knows its own log.
        assert int(members[node_id]['match_index']) >= index


def test_info_leader_match_index_follows_replication(cluster):
    leader = cluster.wait_for_leader()
    with leader.raw() as conn:
        for i in range(20):
            assert conn.command('INCR', 'n') == b':%d\r\n' % (i + 1)
    index = int(leader.raft_info()['raft_commit_index'])

    def replicated():
        members = raft_members(leader.raft_info())
        return all(int(m['match_index']) >= index for m in members.values())
    wait_until(replicated, scaled(10), what='match_index of every node on the leader')


def test_info_cluster_section_alone(cluster):
    for node in cluster.nodes.values():
        info = harness.parse_info(cmd(node, 'INFO', 'cluster'))
        assert info['sections'] == ['Cluster']
        assert info['cluster_enabled'] == '1'


# ---------------------------------------------------------------------------
# follower-proxy yes


def test_follower_proxy_answers_like_redis_one_by_one(cluster, redis_server):
    """Every command sequence of test_commands, sent to a follower one
    command at a time, gets redis-server's exact replies."""
    follower = cluster.followers()[0]
    for name in sorted(SEQUENCES):
        commands = SEQUENCES[name]
        compare(follower, redis_server, commands)


def test_follower_proxy_answers_like_redis_pipelined(cluster, redis_server):
    """The same sequences as one pipeline to a follower: replies in order,
    local ones (PING, ECHO, SELECT...) between forwarded ones."""
    follower = cluster.followers()[-1]
    compare_pipelined(follower, redis_server, sequences_in_one_write(SEQUENCES))


def test_follower_proxy_10k_pipeline_in_order(cluster):
    follower = cluster.followers()[0]
    requests, replies = [], []
    count = 0
    for i in range(10000):
        kind = i % 5
        if kind == 0:
            count += 1
            requests.append(encode('INCR', 'counter'))
            replies.append(b':%d\r\n' % count)
        elif kind == 1:
            requests.append(encode('SET', 'key:%d' % i, 'value:%d' % i))
            replies.append(b'+OK\r\n')
        elif kind == 2:
            requests.append(encode('GET', 'key:%d' % (i - 1)))
            replies.append(bulk('value:%d' % (i - 1)))
        elif kind == 3:
            requests.append(encode('RPUSH', 'list', str(i)))
            replies.append(b':%d\r\n' % (i // 5 + 1))
        else:
            requests.append(encode('PING', str(i)))  # answered locally
            replies.append(bulk(str(i)))
    want = b''.join(replies)
    with follower.raw(timeout=scaled(60)) as conn:
        conn.send(b''.join(requests))
        got = conn.read_exact(len(want))
    if got != want:
        got_list, want_list = harness.split_replies(got), harness.split_replies(want)
        for i, (g, w) in enumerate(zip(got_list, want_list)):
            assert g == w, 'reply %d: got %r, want %r' % (i, g, w)
    leader = cluster.wait_for_leader()
    assert cmd(leader, 'GET', 'counter') == bulk('2000')
    assert cmd(leader, 'LLEN', 'list') == b':2000\r\n'


def test_follower_proxy_plain_redis_py(cluster):
    """A client that knows nothing of clusters works against a follower."""
    follower = cluster.followers()[0]
    r = follower.client()
    assert r.ping() is True
    assert r.set('k', 'v') is True
    assert r.get('k') == b'v'
    assert r.incr('c') == 1
    assert r.incrby('c', 41) == 42
    assert r.rpush('q', 'a', 'b', 'c') == 3
    assert r.lpop('q') == b'a'
    assert r.lrange('q', 0, -1) == [b'b', b'c']
    assert r.mget('k', 'c', 'nokey') == [b'v', b'42', None]
    assert r.exists('k', 'q', 'nokey') == 2
    assert r.type('q') == b'list'
    assert r.delete('k', 'q') == 2
    assert r.dbsize() == 1
    with pytest.raises(redis.ResponseError, match='WRONGTYPE'):
        r.rpush('c', 'x')
    pipe = r.pipeline(transaction=False)
    for _ in range(100):
        pipe.incr('p')
    assert pipe.execute() == list(range(1, 101))


# ---------------------------------------------------------------------------
# follower-proxy no: -MOVED


MOVED_KEYS = ['foo', '{user1000}.following', '{user1000}.followers', 'counter',
              'a{b}c', '{}x', '{x', 'x}{y}', '{{z}}', '', 'key:__rand_int__']


def test_moved_on_follower_with_proxy_off(cluster):
    leader = cluster.wait_for_leader()
    target = client_addr(leader).encode()
    for follower in cluster.followers():
        set_proxy(follower, 'no')
        with follower.raw() as conn:
            assert conn.command('CONFIG', 'GET', 'follower-proxy') == \
                b'*2\r\n$14\r\nfollower-proxy\r\n$2\r\nno\r\n'
            for key in MOVED_KEYS:
                want = b'-MOVED %d %s\r\n' % (key_slot(key), target)
                assert conn.command('GET', key) == want, key
                assert conn.command('SET', key, 'v') == want, key
                assert conn.command('INCR', key) == want, key
                assert conn.command('LPUSH', key, 'v') == want, key
            assert conn.command('GET', 'foo') == b'-MOVED 12182 %s\r\n' % target
            assert conn.command('SET', '{user1000}.following', 'x') == \
                b'-MOVED 3443 %s\r\n' % target
            assert conn.command('MGET', '{t}a', '{t}b') == \
                b'-MOVED %d %s\r\n' % (key_slot('t'), target)
            # Keyless commands are answered here.
            assert conn.command('PING') == b'+PONG\r\n'
            assert conn.command('ECHO', 'hi') == b'$2\r\nhi\r\n'
            info = harness.parse_info(conn.command('INFO', 'raft'))
            assert info['raft_role'] == 'follower'
            assert info['raft_node_id'] == str(follower.node_id)
            assert conn.command('CONFIG', 'GET', 'port') == \
                b'*2\r\n$4\r\nport\r\n' + bulk(str(follower.port))
            assert conn.command('CLUSTER', 'KEYSLOT', 'foo') == b':12182\r\n'
            assert conn.command('CLUSTER', 'MYID') == bulk(node_name(follower.node_id))
            assert conn.command('CLUSTER', 'INFO').startswith(b'$')
            assert re.match(rb'^:\d+\r\n$', conn.command('COMMAND', 'COUNT'))
        set_proxy(follower, 'yes')
    # Nothing of the above was applied anywhere.
    assert cmd(leader, 'DBSIZE') == b':0\r\n'


def test_leader_serves_keyed_commands_with_proxy_off(cluster):
    leader = cluster.wait_for_leader()
    set_proxy(leader, 'no')
    with leader.raw() as conn:
        assert conn.command('SET', 'foo', 'bar') == b'+OK\r\n'
        assert conn.command('GET', 'foo') == b'$3\r\nbar\r\n'


def test_cluster_keyslot(cluster):
    node = cluster.nodes[1]
    rng = random.Random(7)
    keys = MOVED_KEYS + ['user:%d' % rng.randrange(10 ** 9) for _ in range(200)]
    keys += [bytes(rng.randrange(256) for _ in range(rng.randrange(1, 20)))
             for _ in range(100)]
    with node.raw() as conn:
        conn.send(b''.join(encode('CLUSTER', 'KEYSLOT', k) for k in keys))
        for k in keys:
            assert conn.read_reply() == b':%d\r\n' % key_slot(k), k
        assert conn.command('CLUSTER', 'KEYSLOT', '{user1000}.following') == b':3443\r\n'
        assert conn.command('CLUSTER', 'KEYSLOT', 'foo') == b':12182\r\n'


def redis_cli(node, *args, cluster_mode=True):
    argv = ['redis-cli'] + (['-c'] if cluster_mode else []) + \
        ['-h', node.host, '-p', str(node.port)] + list(args)
    p = subprocess.run(argv, capture_output=True, timeout=harness.REPLY_TIMEOUT,
                       stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout.decode().strip(), p.stderr.decode()


def test_redis_cli_cluster_mode_follows_moved(cluster):
    leader = cluster.wait_for_leader()
    follower = cluster.followers()[0]
    set_proxy(follower, 'no')
    assert redis_cli(follower, 'INCR', 'counter') == (0, '1', '')
    assert redis_cli(follower, 'INCR', 'counter') == (0, '2', '')
    assert redis_cli(follower, 'GET', 'counter') == (0, '2', '')
    assert redis_cli(follower, 'RPUSH', '{user1000}.following', 'a', 'b') == (0, '2', '')
    assert cmd(leader, 'GET', 'counter') == b'$1\r\n2\r\n'
    # Without -c the redirection is shown, not followed.
    rc, out, _ = redis_cli(follower, 'INCR', 'counter', cluster_mode=False)
    assert 'MOVED %d %s' % (key_slot('counter'), client_addr(leader)) in out, out
    assert cmd(leader, 'GET', 'counter') == b'$1\r\n2\r\n'


# ---------------------------------------------------------------------------
# READONLY


def test_readonly_reads_locally_with_proxy_off(cluster):
    leader = cluster.wait_for_leader()
    follower = cluster.followers()[0]
    target = client_addr(leader).encode()
    set_proxy(follower, 'no')
    with leader.raw() as lconn, follower.raw() as conn:
        assert lconn.command('SET', 'k', 'v1') == b'+OK\r\n'
        assert lconn.command('RPUSH', 'l', 'a', 'b') == b':2\r\n'
        assert conn.command('GET', 'k') == b'-MOVED %d %s\r\n' % (key_slot('k'), target)
        assert conn.command('READONLY') == b'+OK\r\n'
        wait_until(lambda: conn.command('GET', 'k') == b'$2\r\nv1\r\n', scaled(10),
                   what='the follower to serve k locally')
        wait_until(lambda: conn.command('LRANGE', 'l', '0', '-1') ==
                   b'*2\r\n$1\r\na\r\n$1\r\nb\r\n', scaled(10), what='the list')
        assert conn.command('EXISTS', 'k', 'l', 'x') == b':2\r\n'
        assert conn.command('TYPE', 'l') == b'+list\r\n'
        # Writes still go to the leader.
        assert conn.command('SET', 'k', 'v2') == b'-MOVED %d %s\r\n' % (key_slot('k'), target)
        assert conn.command('LPOP', 'l') == b'-MOVED %d %s\r\n' % (key_slot('l'), target)
        # Local reads converge on the leader's values.
        assert lconn.command('SET', 'k', 'v2') == b'+OK\r\n'
        wait_until(lambda: conn.command('GET', 'k') == b'$2\r\nv2\r\n', scaled(10),
                   what='the follower to see v2')
        assert conn.command('READWRITE') == b'+OK\r\n'
        assert conn.command('GET', 'k') == b'-MOVED %d %s\r\n' % (key_slot('k'), target)
    # READONLY belongs to that connection alone.
    with follower.raw() as other:
        assert other.command('GET', 'k') == b'-MOVED %d %s\r\n' % (key_slot('k'), target)


def test_readonly_with_proxy_forwards_writes(cluster):
    follower = cluster.followers()[0]
    with follower.raw() as conn:
        assert conn.command('READONLY') == b'+OK\r\n'
        assert conn.command('SET', 'k', 'v') == b'+OK\r\n'
        assert conn.command('INCR', 'c') == b':1\r\n'
        wait_until(lambda: conn.command('GET', 'k') == b'$1\r\nv\r\n', scaled(10),
                   what='the follower to see k locally')
        wait_until(lambda: conn.command('GET', 'c') == b'$1\r\n1\r\n', scaled(10),
                   what='the follower to see c locally')
        assert conn.command('READWRITE') == b'+OK\r\n'
        assert conn.command('GET', 'k') == b'$1\r\nv\r\n'


def test_readonly_on_leader_is_harmless(cluster):
    leader = cluster.wait_for_leader()
    with leader.raw() as conn:
        assert conn.command('READONLY') == b'+OK\r\n'
        assert conn.command('SET', 'k', 'v') == b'+OK\r\n'
        assert conn.command('GET', 'k') == b'$1\r\nv\r\n'


# ---------------------------------------------------------------------------
# CLUSTER ...


def test_cluster_nodes(cluster):
    leader = cluster.wait_for_leader()
    lname = node_name(leader.node_id)
    by_name = {node_name(n.node_id): n for n in cluster.nodes.values()}
    for node in cluster.nodes.values():
        reply = cmd(node, 'CLUSTER', 'NODES')
        text = harness.split_replies(reply)[0].split(b'\r\n', 1)[1][:-2].decode()
        assert text.endswith('\n') and '\r' not in text, repr(text)
        lines = text[:-1].split('\n')
        assert len(lines) == 3, text
        myid = cmd(node, 'CLUSTER', 'MYID')
        assert myid == bulk(node_name(node.node_id))
        seen = set()
        for line in lines:
            f = line.split(' ')
            assert re.match(r'^[0-9a-f]{40}$', f[0]), line
            assert f[0] in by_name and f[0] not in seen, line
            seen.add(f[0])
            member = by_name[f[0]]
            assert f[1] == '%s:%d@%d' % (member.host, member.port, member.raft_port), line
            flags = f[2].split(',')
            assert ('myself' in flags) == (member is node), line
            assert f[7] == 'connected', line
            if member is leader:
                assert 'master' in flags and 'slave' not in flags, line
                assert f[3] == '-', line
                assert f[8:] == ['0-16383'], line
            else:
                assert 'slave' in flags and 'master' not in flags, line
                assert f[3] == lname, line
                assert len(f) == 8, line
        assert seen == set(by_name)


def test_cluster_slots(cluster):
    leader = cluster.wait_for_leader()
    followers = cluster.followers()
    for node in cluster.nodes.values():
        slots = resp(node, 'CLUSTER', 'SLOTS')
        assert len(slots) == 1, slots
        start, end, master, *replicas = slots[0]
        assert (start, end) == (0, SLOTS - 1)
        assert master[:3] == [b'127.0.0.1', leader.port, node_name(leader.node_id).encode()]
        assert sorted(r[:3] for r in replicas) == sorted(
            [b'127.0.0.1', f.port, node_name(f.node_id).encode()] for f in followers)


def test_cluster_shards(cluster):
    leader = cluster.wait_for_leader()
    for node in cluster.nodes.values():
        shards = resp(node, 'CLUSTER', 'SHARDS')
        assert len(shards) == 1, shards
        shard = dict(zip(shards[0][::2], shards[0][1::2]))
        assert shard[b'slots'] == [0, SLOTS - 1]
        members = [dict(zip(m[::2], m[1::2])) for m in shard[b'nodes']]
        assert sorted(m[b'id'] for m in members) == sorted(
            node_name(i).encode() for i in cluster.nodes)
        for m in members:
            member = cluster.nodes[int(m[b'id'], 16)]
            assert m[b'port'] == member.port
            assert m[b'ip'] == b'127.0.0.1'
            assert m[b'role'] == (b'master' if member is leader else b'replica')
            assert m[b'health'] == b'online'
            assert isinstance(m[b'replication-offset'], int)


def test_cluster_info_and_myid(cluster):
    term = leader_term(cluster)
    for node in cluster.nodes.values():
        info = harness.parse_info(cmd(node, 'CLUSTER', 'INFO'))
        assert info['cluster_state'] == 'ok'
        assert info['cluster_slots_assigned'] == '16384'
        assert info['cluster_slots_ok'] == '16384'
        assert info['cluster_known_nodes'] == '3'
        assert info['cluster_size'] == '1'
        assert int(info['cluster_current_epoch']) >= term
        assert cmd(node, 'CLUSTER', 'MYID') == bulk(node_name(node.node_id))


def test_cluster_errors(cluster):
    node = cluster.followers()[0]
    with node.raw() as conn:
        assert conn.command('CLUSTER', 'NOSUCH') == \
            b"-ERR unknown subcommand 'NOSUCH'. Try CLUSTER HELP.\r\n"
        assert conn.command('CLUSTER', 'KEYSLOT') == \
            b"-ERR wrong number of arguments for 'cluster|keyslot' command\r\n"
        assert conn.command('CLUSTER') == \
            b"-ERR wrong number of arguments for 'cluster' command\r\n"
    leader = cluster.wait_for_leader()
    assert cmd(leader, 'CLUSTER', 'FAILOVER') == \
        b'-ERR You should send CLUSTER FAILOVER to a replica\r\n'


# ---------------------------------------------------------------------------
# COMMAND and cluster-aware clients


def test_command_table_matches_redis(cluster, redis_server):
    """COMMAND lists every command with redis-server's arity and key
    positions, and the same read/write flags: what cluster clients use to
    find a command's keys."""
    node = cluster.followers()[0]
    table = resp(node, 'COMMAND')
    assert resp(node, 'COMMAND', 'COUNT') == len(table)
    names = {e[0].decode() for e in table}
    for name in ('get', 'set', 'incr', 'lpush', 'lrange', 'mget', 'mset', 'del',
                 'exists', 'type', 'ping', 'info', 'cluster', 'command',
                 'readonly', 'readwrite', 'config', 'flushall', 'dbsize'):
        assert name in names, name
    for entry in table:
        name = entry[0].decode()
        if name.startswith('raft.'):
            continue
        ref = resp(redis_server, 'COMMAND', 'INFO', name)[0]
        assert ref is not None, name
        assert entry[1] == ref[1], (name, 'arity', entry[1], ref[1])
        assert entry[3:6] == ref[3:6], (name, 'keys', entry[3:6], ref[3:6])
        for flag in (b'readonly', b'write'):
            assert (flag in entry[2]) == (flag in ref[2]), (name, entry[2], ref[2])
    info = resp(node, 'COMMAND', 'INFO', 'mget')
    assert info[0][:6] == [b'mget', -2, [b'readonly', b'fast'], 1, -1, 1]


@pytest.mark.parametrize('via', [1, 2, 3])
def test_redis_py_cluster_client(via, cluster):
    node = cluster.nodes[via]
    leader = cluster.wait_for_leader()
    rc = RedisCluster(host=node.host, port=node.port,
                      socket_timeout=harness.REPLY_TIMEOUT,
                      socket_connect_timeout=harness.REPLY_TIMEOUT)
    try:
        primaries = rc.get_primaries()
        assert [(p.host, p.port) for p in primaries] == [('127.0.0.1', leader.port)]
        assert len(rc.get_nodes()) == 3
        assert rc.ping() is True
        # strings
        assert rc.set('k', 'v') is True
        assert rc.get('k') == b'v'
        assert rc.set('k', 'w', nx=True) is None
        assert rc.getset('k', 'x') == b'v'
        assert rc.append('k', 'yz') == 3
        assert rc.strlen('k') == 3
        assert rc.setnx('k2', 'a') is True
        assert rc.getdel('k2') == b'a'
        assert rc.get('k2') is None
        # counters
        assert rc.incr('c') == 1
        assert rc.incrby('c', 10) == 11
        assert rc.decr('c') == 10
        assert rc.decrby('c', 4) == 6
        # lists
        assert rc.rpush('l', 'a', 'b', 'c') == 3
        assert rc.lpush('l', 'z') == 4
        assert rc.lrange('l', 0, -1) == [b'z', b'a', b'b', b'c']
        assert rc.llen('l') == 4
        assert rc.lindex('l', 1) == b'a'
        assert rc.lset('l', 1, 'A') is True
        assert rc.lrem('l', 0, 'b') == 1
        assert rc.ltrim('l', 0, 1) is True
        assert rc.lpop('l') == b'z'
        assert rc.rpop('l') == b'A'
        assert rc.llen('l') == 0
        # keys
        assert rc.exists('k') == 1
        assert rc.type('k') == b'string'
        assert rc.type('c') == b'string'
        assert rc.delete('k') == 1
        assert rc.exists('k') == 0
        # multi-key commands on one slot
        assert rc.mset({'{u}a': '1', '{u}b': '2'}) is True
        assert rc.mget('{u}a', '{u}b', '{u}c') == [b'1', b'2', None]
        assert rc.delete('{u}a', '{u}b') == 2
        with pytest.raises(redis.ResponseError, match='WRONGTYPE'):
            rc.lpush('c', 'x')
    finally:
        rc.close()
    assert cmd(leader, 'GET', 'c') == b'$1\r\n6\r\n'


# ---------------------------------------------------------------------------
# Leadership transfer


def test_raft_transfer_to_each_node_from_any_node(cluster):
    for _ in range(2):
        for target in sorted(cluster.nodes):
            leader = cluster.wait_for_leader()
            if leader.node_id == target:
                continue
            term = int(leader.raft_info()['raft_term'])
            # Ask the node that is neither the leader nor the target.
            via = [n for n in cluster.nodes.values()
                   if n is not leader and n.node_id != target][0]
            assert cmd(via, 'RAFT.TRANSFER', str(target)) == b'+OK\r\n'
            new = cluster.wait_for_leader(scaled(5))
            assert new.node_id == target
            assert int(new.raft_info()['raft_term']) > term
    # On the leader itself, and from the target.
    leader = cluster.wait_for_leader()
    target = cluster.followers()[0]
    assert cmd(leader, 'RAFT.TRANSFER', str(target.node_id)) == b'+OK\r\n'
    assert cluster.wait_for_leader(scaled(5)) is target
    other = cluster.followers()[0]
    assert cmd(other, 'RAFT.TRANSFER', str(other.node_id)) == b'+OK\r\n'
    assert cluster.wait_for_leader(scaled(5)) is other


def test_raft_transfer_without_id_on_leader(cluster):
    for _ in range(3):
        leader = cluster.wait_for_leader()
        term = int(leader.raft_info()['raft_term'])
        assert cmd(leader, 'RAFT.TRANSFER') == b'+OK\r\n'
        new = cluster.wait_for_leader(scaled(5))
        assert new is not leader
        assert int(new.raft_info()['raft_term']) > term


def test_cluster_failover_on_each_follower(cluster):
    for _ in range(2):
        for follower in cluster.followers():
            term = leader_term(cluster)
            assert cmd(follower, 'CLUSTER', 'FAILOVER') == b'+OK\r\n'
            new = cluster.wait_for_leader(scaled(5))
            assert new is follower
            assert int(new.raft_info()['raft_term']) > term


def test_raft_transfer_errors(cluster):
    leader = cluster.wait_for_leader()
    follower = cluster.followers()[0]
    for node in (leader, follower):
        assert cmd(node, 'RAFT.TRANSFER', 'x') == b'-ERR invalid node id\r\n'
        assert cmd(node, 'RAFT.TRANSFER', '-1') == b'-ERR invalid node id\r\n'
        assert cmd(node, 'RAFT.TRANSFER', '1', '2') == \
            b"-ERR wrong number of arguments for 'raft.transfer' command\r\n"
        assert cmd(node, 'RAFT.TRANSFER', '99').startswith(b'-ERR ')
    assert cluster.wait_for_leader() is leader
    # Writes still work after the refused transfers.
    assert cmd(follower, 'INCR', 'c') == b':1\r\n'


def test_writes_keep_working_across_transfers(cluster):
    """A pipelining client on each node keeps incrementing while leadership
    moves around. Values are distinct and increase on each connection, the
    final value accounts for every success, and the only error is -TIMEOUT
    (outcome unknown): a planned transfer leaves a leader at every moment,
    so nothing may fail with a definite error (-CLUSTERDOWN before any
    leader-wait-timeout passed, or a -MOVED relayed through follower-proxy
    yes)."""
    conns = {i: n.raw() for i, n in cluster.nodes.items()}
    try:
        values, errors = [], collections.Counter()
        last = {i: 0 for i in conns}
        for round_ in range(6):
            leader = cluster.wait_for_leader()
            target = cluster.followers()[round_ % 2]
            for conn in conns.values():
                conn.send(encode('INCR', 'c') * 20)
            assert cmd(leader, 'RAFT.TRANSFER', str(target.node_id)) == b'+OK\r\n'
            for i, conn in conns.items():
                for reply in conn.read_replies(20):
                    if reply.startswith(b':'):
                        value = int(reply[1:-2])
                        assert value > last[i], (i, value, last[i])
                        last[i] = value
                        values.append(value)
                    else:
                        where = 'leader' if i == leader.node_id else 'follower'
                        errors[(where, reply.split(b' ')[0].decode())] += 1
        final = int(cmd(cluster.wait_for_leader(), 'GET', 'c')[4:-2])
        unknown = sum(n for (_, e), n in errors.items() if e == '-TIMEOUT')
        assert len(set(values)) == len(values)
        assert len(values) <= final <= len(values) + unknown, (len(values), unknown, final)
        assert max(values) <= final
        definite = {k: n for k, n in errors.items() if k[1] != '-TIMEOUT'}
        assert not definite, ('definite errors (client connected to, error): count; '
                              '%d of %d INCRs succeeded: %r' % (
                                  len(values), 6 * 20 * len(conns), definite))
    finally:
        for conn in conns.values():
            conn.close()


# ---------------------------------------------------------------------------
# redis-benchmark


BENCH_TESTS = ['PING_INLINE', 'PING_MBULK', 'SET', 'GET', 'INCR', 'LPUSH', 'RPUSH',
               'LPOP', 'RPOP', 'LPUSH (needed to benchmark LRANGE)',
               'LRANGE_100 (first 100 elements)']


@pytest.mark.parametrize('where', ['leader', 'follower'])
def test_redis_benchmark(where, cluster):
    node = cluster.wait_for_leader() if where == 'leader' else cluster.followers()[0]
    argv = ['redis-benchmark', '-h', node.host, '-p', str(node.port),
            '-t', 'ping,set,get,incr,lpush,rpush,lpop,rpop,lrange_100',
            '-n', '20000', '-c', '20', '--csv']
    p = subprocess.run(argv, capture_output=True, timeout=scaled(300),
                       stdin=subprocess.DEVNULL)
    out, err = p.stdout.decode(), p.stderr.decode()
    assert p.returncode == 0, (p.returncode, out[-2000:], err[-2000:])
    assert 'rror' not in out + err, (out[-2000:], err[-2000:])
    lines = out.strip().splitlines()
    assert lines[0].startswith('"test","rps"'), out
    rows = {}
    for line in lines[1:]:
        fields = line.split('","')
        rows[fields[0].strip('"')] = fields[1:]
    assert sorted(rows) == sorted(BENCH_TESTS), out
    for name, fields in rows.items():
        assert float(fields[0].strip('"')) > 0, (name, fields)
    leader = cluster.wait_for_leader()
    # 20000 INCRs of one key, every one applied once.
    assert cmd(leader, 'GET', 'counter:__rand_int__') == bulk('20000')
