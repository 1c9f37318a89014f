"""Set commands: redis-raft must answer like redis-server 7.0, and SPOP,
a write that picks members at random, must remove the same members on
every node of a cluster.

Differential sequences run on an empty keyspace, once against redis-raft
and once against a stock redis-server, over raw sockets. Replies whose
order Redis leaves unspecified (SMEMBERS, SINTER, SSCAN's page...) are
compared after sorting their elements; every other reply byte for byte.
Random commands appear in the sequences only where their result is
determined (SPOP of the whole set, errors); their randomness is checked by
properties below. A few replies are pinned to literal bytes so that a
sequence cannot pass because both servers failed the same way.

Cluster tests: after many SPOPs on the leader, every follower (READONLY,
reading its own copy) holds exactly the leader's members; the same after
a follower restarts from its snapshot and after one catches up by
installing the leader's snapshot (different insertion order, hence a
different dict layout, on that node). Every wait polls with a deadline.
"""

import random

import pytest

from conftest import redis_raft_only
import differential
from differential import (check_pinned_in_order, command_name, run, run_pipelined,
                          sequences_in_one_write, unordered)
from harness import encode, scaled, wait_until

LLONG_MAX = '9223372036854775807'
LLONG_MIN = '-9223372036854775808'

# Commands whose reply lists members in an unspecified order.
UNORDERED = {'SMEMBERS', 'SINTER', 'SUNION', 'SDIFF', 'SPOP', 'SRANDMEMBER', 'SSCAN'}


c = differential.split_command  # 'SADD s a b' -> ['SADD', 's', 'a', 'b']


NUMS = ['%d' % i for i in range(20)]
WORDS = ['w%d' % i for i in range(40)]

SEQUENCES = {
    'sadd_scard_sismember': [
        'SADD s a b c', 'SADD s a d', 'SADD s a', 'SCARD s', 'SCARD missing',
        'SISMEMBER s a', 'SISMEMBER s z', 'SISMEMBER missing a', 'SMEMBERS s',
        'SMEMBERS missing', 'TYPE s', 'sadd s E', 'SISMEMBER s e', 'SISMEMBER s E',
        ['SADD', 's', ''], ['SISMEMBER', 's', ''], 'SCARD s', 'DBSIZE'],
    'smismember': [
        'SADD s a b', 'SMISMEMBER s a z b', 'SMISMEMBER missing a b', 'SMISMEMBER s a',
        'SMISMEMBER s a a a', 'SET str x', 'SMISMEMBER str a', 'SMISMEMBER s'],
    'srem': [
        'SADD s a b c', 'SREM s a z', 'SREM s a', 'SREM missing a', 'SMEMBERS s',
        'SREM s b c d', 'EXISTS s', 'SCARD s', 'SADD s x', 'SREM s x x', 'EXISTS s',
        'SET str v', 'SREM str v', 'GET str', 'SADD t a b', 'SREM t b a b', 'EXISTS t'],
    'wrongtype': [
        'SET str v', 'RPUSH l a', 'SADD str a', 'SADD l a', 'SREM str a', 'SISMEMBER l a',
        'SMISMEMBER str a', 'SMEMBERS str', 'SCARD l', 'SPOP str', 'SPOP str 2',
        'SPOP str 0', 'SPOP str -1', 'SRANDMEMBER str', 'SRANDMEMBER l 2',
        'SRANDMEMBER str abc', 'SINTER str', 'SUNION l', 'SDIFF str', 'SSCAN str 0',
        'SSCAN str abc', 'SSCAN l 0 foo', 'SADD s a', 'SINTER s str', 'SINTER missing str',
        'SUNION s missing l', 'SDIFF missing str', 'SDIFF s str', 'SINTERSTORE d s str',
        'SUNIONSTORE d missing l', 'SDIFFSTORE d missing str', 'EXISTS d',
        'SMOVE str s a', 'SMOVE s str a', 'SMOVE missing str a', 'SMOVE s l zz',
        'GET str', 'LRANGE l 0 -1', 'SMEMBERS s'],
    'spop_whole_and_errors': [
        'SADD s a b c', 'SPOP s 3', 'EXISTS s', 'SADD s a b c', 'SPOP s 100', 'EXISTS s',
        'SADD s a', 'SPOP s', 'EXISTS s', 'SPOP s', 'SPOP s 1', 'SPOP missing',
        'SPOP missing 0', 'SPOP missing 3', 'SADD s a b', 'SPOP s 0', 'SCARD s',
        'SPOP s -1', 'SPOP s abc', 'SPOP s 1.5', 'SPOP missing abc', 'SPOP s 1 2',
        'SPOP missing 1 2', 'SPOP s ' + LLONG_MIN, 'SPOP s 9223372036854775808',
        'SPOP s ' + LLONG_MAX, 'EXISTS s', ['SPOP', 's', ''], 'SADD n 1 2 3',
        'SPOP n 3', 'spop missing'],
    'srandmember_determined': [
        'SADD s a b c', 'SRANDMEMBER s 3', 'SRANDMEMBER s 10', 'SRANDMEMBER s 0',
        'SRANDMEMBER s ' + LLONG_MAX, 'SRANDMEMBER missing', 'SRANDMEMBER missing 3',
        'SRANDMEMBER missing -3', 'SRANDMEMBER missing 0', 'SRANDMEMBER s abc',
        'SRANDMEMBER s 1.5', 'SRANDMEMBER missing abc', 'SRANDMEMBER s ' + LLONG_MIN,
        'SRANDMEMBER missing ' + LLONG_MIN, 'SRANDMEMBER s 9223372036854775808',
        'SRANDMEMBER s 1 2', 'SADD one x', 'SRANDMEMBER one', 'SRANDMEMBER one -5',
        'SRANDMEMBER one 1', 'SRANDMEMBER one -1', 'SRANDMEMBER one 5', 'SCARD s',
        ['SRANDMEMBER', 's', '']],
    'sinter_sunion_sdiff': [
        'SADD a 1 2 3 4 x', 'SADD b 3 4 5 x y', 'SADD c 4 x z',
        'SINTER a b', 'SINTER a b c', 'SINTER a', 'SINTER a missing', 'SINTER missing',
        'SINTER a a', 'SINTER c b a', 'SUNION a b', 'SUNION a b c missing',
        'SUNION missing', 'SUNION a a', 'SDIFF a b', 'SDIFF a b c', 'SDIFF b a',
        'SDIFF a', 'SDIFF a a', 'SDIFF a missing', 'SDIFF missing a', 'SDIFF a b a',
        'SDIFF c a b', 'sinter a b', 'SMEMBERS a'],
    'store_forms': [
        'SADD a 1 2 3 x', 'SADD b 2 3 y', 'SINTERSTORE d a b', 'SMEMBERS d',
        'SUNIONSTORE d a b', 'SMEMBERS d', 'SCARD d', 'SDIFFSTORE d a b', 'SMEMBERS d',
        'SINTERSTORE d a missing', 'EXISTS d', 'SUNIONSTORE d missing', 'EXISTS d',
        'SET d str', 'SUNIONSTORE d a', 'TYPE d', 'SET d str', 'SDIFFSTORE d a a',
        'EXISTS d', 'RPUSH d l', 'SINTERSTORE d a b', 'TYPE d', 'SMEMBERS d',
        'SUNIONSTORE a a b', 'SMEMBERS a', 'SDIFFSTORE a a b', 'SMEMBERS a',
        'SINTERSTORE b b a', 'SMEMBERS b', 'SET e v', 'EXPIRE e 100',
        'SUNIONSTORE e a', 'TTL e', 'SADD f q', 'EXPIRE f 100', 'SINTERSTORE f f',
        'TTL f', 'SMEMBERS f', 'SDIFFSTORE g missing a', 'EXISTS g', 'DBSIZE'],
    'smove': [
        'SADD s a b', 'SADD d c', 'SMOVE s d a', 'SMEMBERS s', 'SMEMBERS d',
        'SMOVE s d a', 'SMOVE s d b', 'EXISTS s', 'SMEMBERS d', 'SMOVE d new c',
        'SMEMBERS new', 'SMOVE d d a', 'SMOVE d d zz', 'SMOVE missing d a',
        'SMOVE missing missing a', 'SADD x q', 'SMOVE new x c', 'EXISTS new',
        'SMEMBERS x', 'SMOVE x d q', 'SMEMBERS d', 'SMOVE d x a', 'SMOVE d x a',
        'SMEMBERS x', 'DBSIZE'],
    'sscan_small': [
        'SADD s a b c', 'SSCAN s 0', 'SSCAN s 0 COUNT 100', 'SSCAN s 0 MATCH a*',
        'SSCAN s 0 match [ab] count 5', 'SSCAN s 0 MATCH *', 'SSCAN s 0 MATCH z*',
        'SSCAN missing 0', 'SSCAN missing abc', 'SSCAN missing 0 foo', 'SSCAN s abc',
        'SSCAN s 1.5', 'SSCAN s 18446744073709551616', ['SSCAN', 's', ' 1'],
        'SSCAN s 0 COUNT 0', 'SSCAN s 0 COUNT -1', 'SSCAN s 0 COUNT abc',
        'SSCAN s 0 MATCH', 'SSCAN s 0 COUNT', 'SSCAN s 0 foo bar', 'SSCAN s 0 TYPE set',
        'SSCAN s 0 COUNT 10 MATCH a extra', 'SSCAN missing abc COUNT 0',
        'SSCAN s 0 COUNT ' + LLONG_MAX],
    'sscan_intset': [
        ['SADD', 'i'] + NUMS, 'SSCAN i 0', 'SSCAN i 0 COUNT 1', 'SSCAN i 7 COUNT 2',
        'SSCAN i 0 MATCH 1*', 'SSCAN i 0 MATCH 1* COUNT 1', 'SMEMBERS i',
        'SPOP i 100', ['SADD', 'i', '-5', '100', '7', '0', '-0', '01'], 'SSCAN i 0',
        'SMEMBERS i', ['SADD', 'j', '-3', '12', '5'], 'SMEMBERS j', 'SINTER j j',
        'SUNION j', 'SRANDMEMBER j 10'],
    'binary_members': [
        ['SADD', 's', b'\x00', b'a\x00b', b'\r\n', b'', b'\xff'], 'SCARD s',
        ['SISMEMBER', 's', b'a\x00b'], ['SISMEMBER', 's', b'a'], ['SREM', 's', b'\x00'],
        'SMEMBERS s', ['SMOVE', 's', b'k\x00', b'\r\n'], ['SMEMBERS', b'k\x00'],
        ['SSCAN', 's', '0', 'MATCH', b'a\x00*'], 'SPOP s 10', 'DBSIZE'],
    'many_members': [
        ['SADD', 'big'] + WORDS * 3, 'SCARD big', ['SADD', 'odd'] + WORDS[1::2],
        'SINTER big odd', 'SDIFF big odd', 'SUNION odd big', 'SINTERSTORE x big odd',
        'SDIFFSTORE y big odd', 'SCARD x', 'SCARD y', ['SREM', 'big'] + WORDS[:30],
        'SMEMBERS big', 'SSCAN big 0 COUNT 1000', 'SPOP big 10', 'EXISTS big'],
    'case_insensitive': [
        'sAdD s a b', 'SCard s', 'sismember s a', 'SMembers s', 'SsCaN s 0 CoUnT 5 mAtCh *',
        'SINTERstore d s', 'sunion d s', 'SpOp s 2', 'EXISTS s'],
}

ARITY = {'SADD': -3, 'SREM': -3, 'SISMEMBER': 3, 'SMISMEMBER': -3, 'SMEMBERS': 2,
         'SCARD': 2, 'SPOP': -2, 'SRANDMEMBER': -2, 'SINTER': -2, 'SUNION': -2,
         'SDIFF': -2, 'SSCAN': -3, 'SINTERSTORE': -3, 'SUNIONSTORE': -3,
         'SDIFFSTORE': -3, 'SMOVE': 4}

for _name, _arity in ARITY.items():
    SEQUENCES['arity_' + _name.lower()] = differential.arity_sequence(
        _name, _arity, filler='k', lowercase_call=False)


def _same_unordered(args, reply):
    """Replies of UNORDERED commands with their members sorted."""
    if command_name(args) in UNORDERED and reply[:1] in (b'*', b'~'):
        return unordered(reply)
    return reply


def assert_same(commands, got, want):
    differential.assert_same(commands, got, want, normalize=_same_unordered)


@pytest.mark.parametrize('name', sorted(SEQUENCES))
def test_same_replies_as_redis(name, node, redis_server):
    commands = SEQUENCES[name]
    want = run(redis_server, commands)
    got = run(node, commands)
    assert_same(commands, got, want)


@pytest.mark.parametrize('name', ['sadd_scard_sismember', 'spop_whole_and_errors',
                                  'srandmember_determined', 'sinter_sunion_sdiff',
                                  'sscan_small', 'wrongtype', 'smismember'])
def test_same_replies_as_redis_resp3(name, node, redis_server):
    """The same sequences after HELLO 3: sets (~), nulls (_) where Redis
    7.0 sends them."""
    commands = SEQUENCES[name]
    hello = [('HELLO', '3')]
    want = run(redis_server, commands, hello)
    got = run(node, commands, hello)
    assert_same(commands, got, want)


def test_all_sequences_pipelined_in_one_write(node, redis_server):
    """Every sequence sent as one write: batching many commands into one
    log entry must not change any reply."""
    commands = sequences_in_one_write(SEQUENCES)
    assert_same(commands, run_pipelined(node, commands), run_pipelined(redis_server, commands))


def random_sequence(seed, n):
    """n random set commands whose results are determined (no random
    picks, except SPOP/SRANDMEMBER counts that take the whole set) over a
    few keys (one a string) and a small universe of members, integers and
    words mixed so that sets move between what Redis keeps as an intset and
    as a hash table."""
    rng = random.Random(seed)
    keys = ['a', 'b', 'c', 'd', 'str']
    universe = [str(i) for i in range(-3, 12)] + ['x', 'y', 'z', '']

    def some(k):
        return [rng.choice(universe) for _ in range(rng.randint(1, k))]

    cmds = [['SET', 'str', 'v']]
    for _ in range(n):
        op = rng.choice(['SADD', 'SADD', 'SREM', 'SISMEMBER', 'SMISMEMBER', 'SCARD',
                         'SMEMBERS', 'SINTER', 'SUNION', 'SDIFF', 'SINTERSTORE',
                         'SUNIONSTORE', 'SDIFFSTORE', 'SMOVE', 'SPOPALL', 'SSCAN',
                         'SRANDALL', 'EXISTS'])
        k = rng.choice(keys)
        if op in ('SADD', 'SREM', 'SMISMEMBER'):
            cmds.append([op, k] + some(6))
        elif op == 'SISMEMBER':
            cmds.append([op, k, rng.choice(universe)])
        elif op in ('SCARD', 'SMEMBERS', 'EXISTS'):
            cmds.append([op, k])
        elif op in ('SINTER', 'SUNION', 'SDIFF'):
            cmds.append([op] + rng.sample(keys, rng.randint(1, 4)))
        elif op.endswith('STORE'):
            cmds.append([op, k] + rng.sample(keys, rng.randint(1, 3)))
        elif op == 'SMOVE':
            cmds.append([op, k, rng.choice(keys), rng.choice(universe)])
        elif op == 'SPOPALL':
            cmds.append(['SPOP', k, '100'])
        elif op == 'SRANDALL':
            cmds.append(['SRANDMEMBER', k, '100'])
        else:
            cmds.append(['SSCAN', k, '0', 'COUNT', '100'])
    return cmds + [['SMEMBERS', k] for k in keys]


@pytest.mark.parametrize('seed', range(4))
def test_random_sequences_same_as_redis(seed, node, redis_server):
    commands = random_sequence(seed, 400)
    assert_same(commands, run(node, commands), run(redis_server, commands))


# ---------------------------------------------------------------------------
# Pinned replies

PINNED = [
    (['SADD', 's', 'a', 'b', 'a'], b':2\r\n'),
    (['SCARD', 's'], b':2\r\n'),
    (['SMISMEMBER', 's', 'a', 'z'], b'*2\r\n:1\r\n:0\r\n'),
    (['SMEMBERS', 'missing'], b'*0\r\n'),
    (['SPOP', 'missing'], b'$-1\r\n'),
    (['SPOP', 'missing', '2'], b'*0\r\n'),
    (['SPOP', 's', '-1'], b'-ERR value is out of range, must be positive\r\n'),
    (['SPOP', 's', 'x'], b'-ERR value is out of range, must be positive\r\n'),
    (['SPOP', 's', '1', '2'], b'-ERR syntax error\r\n'),
    (['SRANDMEMBER', 's', 'x'], b'-ERR value is not an integer or out of range\r\n'),
    (['SRANDMEMBER', 's', LLONG_MIN],
     b'-ERR value is out of range, value must between -9223372036854775807 and '
     b'9223372036854775807\r\n'),
    (['SRANDMEMBER', 'missing', '-2'], b'*0\r\n'),
    (['SSCAN', 'missing', '0'], b'*2\r\n$1\r\n0\r\n*0\r\n'),
    (['SSCAN', 's', 'x'], b'-ERR invalid cursor\r\n'),
    (['SSCAN', 's', '0', 'COUNT', '0'], b'-ERR syntax error\r\n'),
    (['SET', 'str', 'v'], b'+OK\r\n'),
    (['SADD', 'str', 'a'],
     b'-WRONGTYPE Operation against a key holding the wrong kind of value\r\n'),
    (['SMOVE', 'missing', 'str', 'a'], b':0\r\n'),
    (['SINTERSTORE', 'str', 's', 'missing'], b':0\r\n'),
    (['EXISTS', 'str'], b':0\r\n'),
    (['SADD', 'n', '3', '1', '2'], b':3\r\n'),
    (['SMEMBERS', 'n'], b'*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n'),
    (['SSCAN', 'n', '0', 'COUNT', '1'],
     b'*2\r\n$1\r\n0\r\n*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n'),
    (['SADD', 'one', 'x'], b':1\r\n'),
    (['SPOP', 'one', '5'], b'*1\r\n$1\r\nx\r\n'),
    (['EXISTS', 'one'], b':0\r\n'),
]

PINNED_RESP3 = [
    (['SADD', 's', 'a'], b':1\r\n'),
    (['SMEMBERS', 's'], b'~1\r\n$1\r\na\r\n'),
    (['SMEMBERS', 'missing'], b'~0\r\n'),
    (['SINTER', 's', 'missing'], b'~0\r\n'),
    (['SUNION', 's'], b'~1\r\n$1\r\na\r\n'),
    (['SDIFF', 's', 'missing'], b'~1\r\n$1\r\na\r\n'),
    (['SPOP', 'missing'], b'_\r\n'),
    (['SPOP', 'missing', '3'], b'~0\r\n'),
    (['SPOP', 's', '0'], b'~0\r\n'),
    (['SRANDMEMBER', 'missing'], b'_\r\n'),
    (['SRANDMEMBER', 'missing', '3'], b'*0\r\n'),
    (['SRANDMEMBER', 's', '3'], b'*1\r\n$1\r\na\r\n'),
    (['SPOP', 's', '3'], b'~1\r\n$1\r\na\r\n'),
    (['SSCAN', 'missing', '0'], b'*2\r\n$1\r\n0\r\n*0\r\n'),
]


@pytest.mark.parametrize('proc_name', ['node', 'redis_server'])
def test_pinned_replies(proc_name, request):
    check_pinned_in_order(request.getfixturevalue(proc_name), PINNED, PINNED_RESP3)


# ---------------------------------------------------------------------------
# Random picks: properties


def members(client, key):
    return set(client.smembers(key))


def test_spop_properties(node):
    r = node.client()
    universe = {b'm%d' % i for i in range(300)}
    r.sadd('s', *universe)
    popped = set()
    for count in (1, 2, 5, 17, 50):
        got = r.spop('s', count)
        assert len(got) == count and len(set(got)) == count, got
        assert not set(got) & popped
        popped |= set(got)
        assert members(r, 's') == universe - popped
    for _ in range(20):
        m = r.spop('s')
        assert m in universe and m not in popped
        popped.add(m)
    assert r.scard('s') == len(universe) - len(popped)
    # Picks vary from one command to the next (same set, fresh seeds).
    r.delete('t')
    picks = set()
    for _ in range(10):
        r.sadd('t', *[b'x%d' % i for i in range(50)])
        picks.add(r.spop('t'))
    assert len(picks) > 1, picks
    # count >= size empties the set.
    rest = members(r, 's')
    assert set(r.spop('s', len(rest))) == rest
    assert r.exists('s') == 0


def test_spop_in_one_pipeline(node):
    """Many SPOPs batched into one log entry: each pops distinct members."""
    r = node.client()
    universe = {b'%d' % i for i in range(1000)}  # integers: more than an intset holds
    r.sadd('s', *universe)
    p = r.pipeline(transaction=False)
    for i in range(100):
        p.spop('s', 3) if i % 2 else p.spop('s')
    out = p.execute()
    popped = []
    for i, got in enumerate(out):
        popped.extend(got if i % 2 else [got])
    assert len(popped) == 200 and len(set(popped)) == 200
    assert members(r, 's') == universe - set(popped)


def test_srandmember_properties(node):
    r = node.client()
    universe = {b'm%d' % i for i in range(100)}
    r.sadd('s', *universe)
    for count in (1, 2, 10, 33, 34, 99):
        got = r.srandmember('s', count)
        assert len(got) == count and len(set(got)) == count and set(got) <= universe
    assert set(r.srandmember('s', 100)) == universe
    assert set(r.srandmember('s', 1000)) == universe and len(r.srandmember('s', 1000)) == 100
    got = r.srandmember('s', -500)
    assert len(got) == 500 and set(got) <= universe
    assert len(set(r.srandmember('s', -1000))) > 1
    singles = {r.srandmember('s') for _ in range(30)}
    assert singles <= universe and len(singles) > 1
    r.sadd('one', 'x')
    assert r.srandmember('one', -4) == [b'x'] * 4
    assert r.scard('s') == 100  # a read: nothing removed


def test_sscan_full_iteration(node):
    """A full SSCAN returns every member at least once, whatever COUNT, and
    MATCH filters; a set larger than an intset comes in several pages."""
    r = node.client()
    universe = {b'k%d' % i for i in range(2000)}
    r.sadd('s', *universe)
    for count in (1, 10, 97, 5000):
        seen, cursor, pages = set(), 0, 0
        while True:
            cursor, page = r.sscan('s', cursor, count=count)
            seen |= set(page)
            pages += 1
            if cursor == 0:
                break
        assert seen == universe
        if count < 100:
            assert pages > 1
    seen, cursor = set(), 0
    while True:
        cursor, page = r.sscan('s', cursor, match='k1*', count=50)
        seen |= set(page)
        if cursor == 0:
            break
    assert seen == {m for m in universe if m.startswith(b'k1')}


def test_expired_sets_are_gone(node):
    r = node.client()
    r.sadd('s', 'a', 'b')
    r.sadd('t', 'b')
    r.pexpire('s', 30)
    wait_until(lambda: r.exists('s') == 0, scaled(5), what='s to expire')
    assert r.smembers('s') == set()
    assert r.scard('s') == 0
    assert r.sinter('t', 's') == set()
    assert r.sunion('t', 's') == {b'b'}
    assert r.smove('s', 't', 'a') == 0
    assert r.sadd('s', 'z') == 1
    assert r.ttl('s') == -1


# ---------------------------------------------------------------------------
# Clusters: SPOP is deterministic on every node


def sorted_members(conn, key):
    reply = conn.command('SMEMBERS', key)
    value = unordered(reply)
    assert isinstance(value, tuple), reply
    return sorted(value[1])


def state(conn, keys):
    return {k: sorted_members(conn, k) for k in keys}


def assert_followers_converge(cluster, leader, keys):
    with leader.raw() as lconn:
        want = state(lconn, keys)
    for f in cluster.nodes.values():
        if f is leader or not f.is_running():
            continue
        with f.raw() as conn:
            assert conn.command('READONLY') == b'+OK\r\n'
            wait_until(lambda: state(conn, keys) == want, scaled(20),
                       what='%s to hold the leader\'s members' % f.name)
    return want


def spop_workload(conn, rng, keys, n):
    """n SPOPs (with and without count) and a few SADDs, one command each."""
    for i in range(n):
        k = rng.choice(keys)
        roll = rng.random()
        if roll < 0.4:
            reply = conn.command('SPOP', k)
        elif roll < 0.8:
            reply = conn.command('SPOP', k, str(rng.randint(0, 7)))
        else:
            reply = conn.command('SADD', k, *['n%d' % rng.randint(0, 5000) for _ in range(4)])
        assert not reply.startswith(b'-'), reply


def fill(conn, keys, size):
    for k in keys:
        for start in range(0, size, 500):
            args = ['%s-%d' % (k, i) for i in range(start, min(size, start + 500))]
            assert conn.command('SADD', k, *args) == b':%d\r\n' % len(args)


def test_cluster_spop_same_members_on_every_node(cluster):
    leader = cluster.wait_for_leader()
    keys = ['s1', 's2', 's3']
    rng = random.Random(11)
    with leader.raw() as conn:
        fill(conn, keys, 400)
        spop_workload(conn, rng, keys, 300)
        # Pipelined: many SPOPs in one log entry.
        conn.send(b''.join(encode('SPOP', rng.choice(keys), *([] if i % 2 else ['3']))
                           for i in range(200)))
        conn.read_replies(200)
        # Integer members too (an intset in Redis) and a few big pops.
        assert conn.command('SADD', 'ints', *[str(i) for i in range(300)]) == b':300\r\n'
        for count in ('1', '10', '150'):
            conn.command('SPOP', 'ints', count)
    got = assert_followers_converge(cluster, leader, keys + ['ints'])
    assert 0 < len(got['ints']) < 300


def test_cluster_spop_after_follower_restart_and_snapshot_install(new_cluster):
    """A follower restarted from its own snapshot, and one that catches up
    by installing the leader's, rebuild their sets in another insertion
    order; SPOPs afterwards still remove the same members everywhere."""
    redis_raft_only()
    cluster = new_cluster(3, {'snapshot-threshold': 100, 'snapshot-trailing': 20})
    leader = cluster.wait_for_leader()
    followers = cluster.followers()
    keys = ['a', 'b', 'c']
    rng = random.Random(5)
    with leader.raw(timeout=scaled(30)) as conn:
        fill(conn, keys, 600)
        spop_workload(conn, rng, keys, 250)  # past the threshold: snapshots
    assert_followers_converge(cluster, leader, keys)

    # 1. A follower restarts from its own snapshot (and log).
    f1 = followers[0]
    assert int(f1.info('persistence')['snapshots_taken']) >= 1
    f1.stop()
    f1.start()
    cluster.wait_for_leader(scaled(30))
    with leader.raw(timeout=scaled(30)) as conn:
        spop_workload(conn, rng, keys, 100)
    assert_followers_converge(cluster, leader, keys)

    # 2. A follower killed while the leader compacts its log past it comes
    # back by installing the leader's snapshot.
    f2 = followers[1]
    behind = int(f2.raft_info()['raft_last_index'])
    f2.kill()
    with leader.raw(timeout=scaled(30)) as conn:
        spop_workload(conn, rng, keys, 400)
        fill(conn, ['d'], 300)
    wait_until(lambda: int(leader.info('persistence')['last_snapshot_index']) - 20 > behind + 1,
               scaled(20), what='the leader to compact its log past %d' % behind)
    f2.start()
    cluster.wait_for_applied(nodes=[f2], timeout=scaled(60))
    assert int(f2.info('persistence')['snapshots_installed']) >= 1
    with leader.raw(timeout=scaled(30)) as conn:
        spop_workload(conn, rng, keys + ['d'], 200)
    assert_followers_converge(cluster, leader, keys + ['d'])
