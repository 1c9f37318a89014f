"""HELLO and RESP3: the handshake against redis-server 7.0, RESP3 reply
types compared byte for byte where the reply is deterministic (single
element sets and maps, so that order cannot differ), push messages for
pub/sub, RESET back to RESP2, and RESP3 through a follower's proxy.

HELLO's map carries values that differ by nature (id, mode, role; version
is only compared to be a string): for it the keys, their order and the
types of the values are compared, and the values that must agree (server,
proto, modules).
"""

import pytest

from harness import encode
from differential import (assert_same_transcript, expand, parse_one, run_differential,
                          transcript)

HELLO_KEYS = [b'server', b'version', b'proto', b'id', b'mode', b'role', b'modules']


def hello_shape(reply):
    """(aggregate type, [(key, value type)], {key: value}) of a HELLO reply;
    in RESP2 the map is a flat array of pairs."""
    v = parse_one(reply)
    if v.kind == '%':
        pairs = v.value
    else:
        assert v.kind == '*', reply
        items = v.value
        pairs = list(zip(items[0::2], items[1::2]))
    shape = [(k.value, val.kind) for k, val in pairs]
    values = {k.value: val for k, val in pairs}
    return v.kind, shape, values


def check_hello(got, want, proto):
    gk, gshape, gvals = hello_shape(got)
    wk, wshape, wvals = hello_shape(want)
    assert (gk, gshape) == (wk, wshape), (got, want)
    assert [k for k, _ in gshape] == HELLO_KEYS
    assert gk == ('%' if proto == 3 else '*')
    assert gvals[b'server'].value == wvals[b'server'].value == b'redis'
    assert gvals[b'proto'].value == wvals[b'proto'].value == proto
    assert gvals[b'modules'].value == wvals[b'modules'].value == []
    assert gvals[b'id'].value > 0
    assert gvals[b'mode'].value in (b'standalone', b'cluster')
    assert gvals[b'role'].value in (b'master', b'replica')


def both(node, redis_server, commands):
    """Run commands on one connection to each server; returns (got, want)
    lists of reply bytes."""
    out = []
    for proc in (node, redis_server):
        with proc.raw() as c:
            assert c.command('FLUSHALL') == b'+OK\r\n'
        with proc.raw() as c:
            out.append([c.command(*cmd) for cmd in commands])
    return out[0], out[1]


# ---------------------------------------------------------------------------
# HELLO


@pytest.mark.parametrize('args,proto', [
    ([], 2), (['2'], 2), (['3'], 3), (['3', 'AUTH', 'default', 'x'], 3),
    (['2', 'AUTH', 'default', 'anything'], 2), (['3', 'SETNAME', 'me'], 3),
    (['3', 'auth', 'default', 'pw', 'setname', 'me'], 3), (['2', 'SETNAME', 'x'], 2),
    (['3', 'SETNAME', 'a', 'SETNAME', 'b'], 3)])
def test_hello_map_like_redis(args, proto, node, redis_server):
    got, want = both(node, redis_server, [['HELLO'] + args])
    check_hello(got[0], want[0], proto)


def test_hello_then_plain_hello_reports_current_protocol(node, redis_server):
    got, want = both(node, redis_server, [['HELLO', '3'], ['HELLO'], ['HELLO', '2'], ['HELLO']])
    for g, w, proto in zip(got, want, (3, 3, 2, 2)):
        check_hello(g, w, proto)


def test_hello_id_is_client_id(node):
    with node.raw() as c:
        _, _, vals = hello_shape(c.command('HELLO', '3'))
        assert c.command('CLIENT', 'ID') == b':%d\r\n' % vals[b'id'].value


HELLO_ERRORS = [
    ['HELLO', '4'], ['HELLO', '1'], ['HELLO', '0'], ['HELLO', '-1'],
    ['HELLO', '9223372036854775808'], ['HELLO', 'x'], ['HELLO', '3.0'], ['HELLO', ''],
    ['HELLO', '3', 'FOO'], ['HELLO', '3', 'AUTH'], ['HELLO', '3', 'AUTH', 'default'],
    ['HELLO', '3', 'AUTH', 'bob', 'pw'], ['HELLO', '3', 'SETNAME'],
    ['HELLO', '3', 'SETNAME', 'a b'], ['HELLO', '3', 'SETNAME', 'a\nb'],
    ['HELLO', '2', 'AUTH', 'default', 'x', 'junk'], ['HELLO', 'AUTH', 'default', 'x'],
    ['HELLO', '4', 'SETNAME', 'x'], ['HELLO', 'x', 'FOO'],
    # the connection stays RESP2 after every error
    ['GET', 'nokey'], ['CLIENT', 'GETNAME'],
]


def test_hello_errors_like_redis(node, redis_server):
    got, want = both(node, redis_server, HELLO_ERRORS)
    for cmd, g, w in zip(HELLO_ERRORS, got, want):
        assert g == w, (cmd, w, g)
    assert got[0] == b'-NOPROTO unsupported protocol version\r\n'
    assert got[5] == b'-ERR Protocol version is not an integer or out of range\r\n'


def test_hello_setname_sets_name(node, redis_server):
    cmds = [['HELLO', '3', 'SETNAME', 'alice'], ['CLIENT', 'GETNAME'],
            ['HELLO', '2', 'SETNAME', 'bob'], ['CLIENT', 'GETNAME'],
            ['HELLO', '3', 'SETNAME', 'bad name'], ['CLIENT', 'GETNAME'], ['HELLO']]
    got, want = both(node, redis_server, cmds)
    assert got[1] == want[1] == b'$5\r\nalice\r\n'
    assert got[3] == want[3] == b'$3\r\nbob\r\n'
    assert got[4] == want[4]
    assert got[5] == want[5] == b'$3\r\nbob\r\n'
    check_hello(got[6], want[6], 2)


# ---------------------------------------------------------------------------
# RESP3 replies, byte for byte

def h3(seq):
    return ['HELLO 3'] + seq


SEQUENCES = {
    'nulls': h3(['GET nokey', 'MGET nokey k', 'SET k v', 'MGET nokey k', 'LPOP nol',
                 'RPOP nol', 'LPOP nol 2', 'RPOP nol 0', 'LINDEX nol 0', 'RPUSH l a',
                 'LINDEX l 5', 'GETDEL nokey', 'GETSET nokey v', 'SET k2 v NX GET',
                 'SET k3 v XX', 'SET k3 v XX GET', 'CLIENT GETNAME', 'SPOP noset',
                 'SRANDMEMBER noset', 'LPOP l 5', 'LPOP l 5']),
    'sets': h3(['SADD s m', 'SMEMBERS s', 'SMEMBERS nokey', 'SINTER s s', 'SUNION s nokey',
                'SDIFF s nokey', 'SDIFF nokey s', 'SPOP s 1', 'SADD s m', 'SPOP s 0',
                'SPOP nokey 3', 'SISMEMBER s m', 'SMISMEMBER s m x', 'SCARD s',
                'SRANDMEMBER s 1', 'SRANDMEMBER s -1', 'SRANDMEMBER nokey 2']),
    'hashes': h3(['HSET h f v', 'HGETALL h', 'HGETALL nokey', 'HGET h f', 'HGET h x',
                  'HMGET h f x', 'HKEYS h', 'HVALS h', 'HEXISTS h f', 'HLEN h']),
    'config_get': h3(['CONFIG GET loglevel', 'CONFIG GET nosuchparam', 'CONFIG GET',
                      'CONFIG SET loglevel notice', 'CONFIG GET LOGLEVEL']),
    'scalars_and_errors': h3(['PING', 'PING x', 'ECHO e', 'SET k 10', 'INCR k', 'GET k',
                              'DBSIZE', 'EXISTS k nokey', 'TYPE k', 'TYPE nokey', 'FOOBAR',
                              'GET', 'RPUSH k x', 'DEL k', 'RPUSH l a', 'LRANGE l 0 -1',
                              'LRANGE nokey 0 -1', 'LPOP l 1', 'MSET a 1', 'SELECT 0']),
    'publish_counts': [
        ('a', 'HELLO 3'), ('b', 'HELLO 3'), ('a', 'SUBSCRIBE ch'), ('b', 'PUBLISH ch x'),
        ('b', 'PSUBSCRIBE c*'), ('c', 'PUBLISH ch y'), ('b', 'PUBLISH ch z'),
        ('a', 'PUBLISH ch self'), ('b', 'PUBSUB NUMSUB ch'), ('b', 'PUBSUB NUMPAT')],
    'push_messages': [
        ('a', 'HELLO 3'), ('a', 'SUBSCRIBE ch1 ch2'), ('a', 'PSUBSCRIBE p*'),
        ('b', 'PUBLISH ch1 hello'), ('b', ['PUBLISH', 'ch2', '']), ('b', 'PUBLISH pq x'),
        ('a', 'GET nokey'), ('a', 'SET k v'), ('a', 'GET k'), ('a', 'PING'),
        ('a', 'PING x'), ('a', 'UNSUBSCRIBE ch1'), ('a', 'UNSUBSCRIBE ch1'),
        ('a', 'PUNSUBSCRIBE'), ('a', 'UNSUBSCRIBE'), ('a', 'UNSUBSCRIBE'),
        ('a', 'PUNSUBSCRIBE'), ('b', 'PUBLISH ch2 gone'), ('a', 'PING')],
    'subscribed_resp3_allows_commands': [
        ('a', 'HELLO 3'), ('a', 'SUBSCRIBE ch'), ('a', 'RPUSH l a'), ('a', 'LRANGE l 0 -1'),
        ('a', 'PUBSUB NUMSUB ch'), ('a', 'PUBSUB CHANNELS'), ('a', 'CONFIG GET loglevel'),
        ('a', 'ECHO hi'), ('a', 'MULTI'), ('a', 'GET k'), ('a', 'EXEC'),
        ('a', 'HELLO 2'), ('a', 'GET k'), ('a', 'PING'), ('b', 'PUBLISH ch after'),
        ('a', 'HELLO 3'), ('a', 'GET k'), ('a', 'UNSUBSCRIBE')],
    'hello_in_resp2_subscribed_mode': [
        ('a', 'SUBSCRIBE ch'), ('a', 'HELLO 3'), ('a', 'HELLO'), ('a', 'GET k'),
        ('a', 'RESET'), ('a', 'HELLO 3'), ('a', 'SUBSCRIBE ch'), ('b', 'PUBLISH ch m')],
    'reset_returns_to_resp2': [
        'HELLO 3 SETNAME me', 'GET nokey', 'SADD s m', 'SMEMBERS s', 'RESET', 'GET nokey',
        'SMEMBERS s', 'CLIENT GETNAME', 'LPOP nol 2', 'MGET nokey', 'HELLO 3', 'SUBSCRIBE c',
        ('b', 'PUBLISH c x'), 'RESET', ('b', 'PUBLISH c x'), 'GET nokey', 'PING'],
    'multi_resp3': h3(['MULTI', 'GET nokey', 'SADD s m', 'SMEMBERS s', 'LPOP nol', 'EXEC',
                       'SET k v', 'WATCH k', ('b', 'SET k w'), 'MULTI', 'GET k', 'EXEC']),
}


@pytest.mark.parametrize('name', sorted(SEQUENCES))
def test_same_resp3_transcript_as_redis(name, node, redis_server):
    run_differential(SEQUENCES[name], node, redis_server)


PINNED = [
    ('GET nokey', b'_\r\n'),
    ('SMEMBERS s', b'~1\r\n$1\r\nm\r\n'),
    ('HGETALL h', b'%1\r\n$1\r\nf\r\n$1\r\nv\r\n'),
    ('CONFIG GET loglevel', b'%1\r\n$8\r\nloglevel\r\n$6\r\nnotice\r\n'),
    ('LPOP nol 2', b'_\r\n'),
    ('MGET nokey', b'*1\r\n_\r\n'),
]


@pytest.mark.parametrize('cmd,expected', PINNED, ids=[p[0] for p in PINNED])
def test_pinned_resp3_reply(cmd, expected, node, redis_server):
    for proc in (redis_server, node):
        with proc.raw() as c:
            assert c.command('FLUSHALL') == b'+OK\r\n'
        with proc.raw() as c:
            c.command('HELLO', '3')
            if cmd.startswith('SMEMBERS'):
                assert c.command('SADD', 's', 'm') == b':1\r\n', proc.name
            if cmd.startswith('HGETALL'):
                assert c.command('HSET', 'h', 'f', 'v') == b':1\r\n', proc.name
            assert c.command(*cmd.split(' ')) == expected, proc.name


def test_pinned_push_framing(node, redis_server):
    for proc in (redis_server, node):
        with proc.raw() as sub, proc.raw() as pub:
            sub.command('HELLO', '3')
            assert sub.command('SUBSCRIBE', 'ch') == \
                b'>3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n', proc.name
            assert sub.command('PSUBSCRIBE', 'c*') == \
                b'>3\r\n$10\r\npsubscribe\r\n$2\r\nc*\r\n:2\r\n', proc.name
            assert pub.command('PUBLISH', 'ch', 'hi') == b':2\r\n'
            assert sub.read_reply() == b'>3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n'
            assert sub.read_reply() == \
                b'>4\r\n$8\r\npmessage\r\n$2\r\nc*\r\n$2\r\nch\r\n$2\r\nhi\r\n'
            assert sub.command('GET', 'k') == b'_\r\n', proc.name
            assert sub.command('PING') == b'+PONG\r\n', proc.name
            assert sub.command('UNSUBSCRIBE') == \
                b'>3\r\n$11\r\nunsubscribe\r\n$2\r\nch\r\n:1\r\n', proc.name
            assert sub.command('PUNSUBSCRIBE') == \
                b'>3\r\n$12\r\npunsubscribe\r\n$2\r\nc*\r\n:0\r\n', proc.name
            assert sub.command('UNSUBSCRIBE') == \
                b'>3\r\n$11\r\nunsubscribe\r\n_\r\n:0\r\n', proc.name


def test_info_is_verbatim_in_resp3(node, redis_server):
    for proc in (redis_server, node):
        with proc.raw() as c:
            assert c.command('INFO', 'server').startswith(b'$'), proc.name
            c.command('HELLO', '3')
            v = parse_one(c.command('INFO', 'server'))
            assert v.kind == '=', (proc.name, v)
            assert v.value.startswith(b'txt:# Server\r\n'), (proc.name, v.value[:100])
            v = parse_one(c.command('CLIENT', 'INFO'))
            assert v.kind == '=' and v.value.startswith(b'txt:id='), (proc.name, v)
            c.command('RESET')
            assert c.command('INFO', 'server').startswith(b'$'), proc.name


def test_pipelined_hello_switches_between_replies(node, redis_server):
    cmds = [['GET', 'nokey'], ['HELLO', '3'], ['GET', 'nokey'], ['SADD', 's', 'm'],
            ['SMEMBERS', 's'], ['HELLO', '2'], ['GET', 'nokey'], ['SMEMBERS', 's'],
            ['HELLO', '3'], ['LPOP', 'nol'], ['RESET'], ['LPOP', 'nol']]
    payload = b''.join(encode(*c) for c in cmds)

    def run(proc):
        with proc.raw() as c:
            assert c.command('FLUSHALL') == b'+OK\r\n'
        with proc.raw() as c:
            c.send(payload)
            return c.read_replies(len(cmds))
    got, want = run(node), run(redis_server)
    hello_at = [1, 5, 8]
    for i, (g, w) in enumerate(zip(got, want)):
        if i in hello_at:
            check_hello(g, w, 3 if i != 5 else 2)
        else:
            assert g == w, (cmds[i], w, g)


# ---------------------------------------------------------------------------
# Through a follower (follower-proxy yes)

FOLLOWER_SEQUENCE = h3([
    'GET nokey', 'SET k v', 'GET k', 'MGET nokey k', 'LPOP nol', 'LPOP nol 2',
    'SADD s m', 'SMEMBERS s', 'SMEMBERS nokey', 'SPOP noset', 'CONFIG GET loglevel',
    'PUBLISH nobody x', 'RPUSH l a', 'LRANGE l 0 -1', 'HSET h f v', 'HGETALL h',
    'HGETALL nokey', 'HGET h x', 'INCR n', 'FOOBAR', 'GET'])


def test_resp3_through_follower_like_redis(cluster, redis_server):
    """A follower forwards the commands to the leader: the client's HELLO 3
    must hold for the forwarded replies as for local ones (a RESP2 `$-1`
    or `*` reply here is a bug)."""
    follower = cluster.followers()[0]
    steps = expand(FOLLOWER_SEQUENCE)
    want = transcript(redis_server, steps, ['a'])
    got = transcript(follower, steps, ['a'])
    assert_same_transcript(steps, got, want)


def test_resp3_through_follower_pipelined(cluster):
    follower = cluster.followers()[0]
    with follower.raw() as c:
        c.command('HELLO', '3')
        c.send(encode('GET', 'nokey') + encode('SADD', 's', 'm') + encode('SMEMBERS', 's') +
               encode('LPOP', 'nol') + encode('GET', 'nokey'))
        assert c.read_replies(5) == [b'_\r\n', b':1\r\n', b'~1\r\n$1\r\nm\r\n',
                                     b'_\r\n', b'_\r\n']


def test_resp3_push_through_follower(cluster):
    """A RESP3 subscriber on a follower gets push messages published on the
    leader and (forwarded) on the follower itself."""
    leader = cluster.wait_for_leader()
    follower = cluster.followers()[0]
    with follower.raw() as sub:
        sub.command('HELLO', '3')
        assert sub.command('SUBSCRIBE', 'ch') == b'>3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n'
        with leader.raw() as c:
            assert c.command('PUBLISH', 'ch', 'warmup') == b':0\r\n'
        assert sub.read_reply() == b'>3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$6\r\nwarmup\r\n'
        with follower.raw() as pub:
            pub.command('HELLO', '3')
            assert pub.command('PUBLISH', 'ch', 'local') == b':0\r\n'
        assert sub.read_reply() == b'>3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$5\r\nlocal\r\n'
        # the subscriber itself publishes through the proxy: a RESP3 client
        # may, and it gets both its reply and the push
        sub.send(encode('PUBLISH', 'ch', 'mine'))
        replies = sub.read_replies(2)
        push = b'>3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$4\r\nmine\r\n'
        assert push in replies, replies
        replies.remove(push)
        assert parse_one(replies[0]).kind == ':', replies
        assert sub.command('GET', 'nokey') == b'_\r\n'
