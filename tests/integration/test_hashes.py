"""Hash commands (HSET, HGET, HGETALL, HINCRBYFLOAT, HSCAN, HRANDFIELD...).

Differential sequences run on an empty keyspace against redis-raft and a
stock redis-server 7.0; the replies must be the same bytes, except where the
order of fields is the server's own (HGETALL, HKEYS, HVALS, HSCAN) or random
(HRANDFIELD): those replies are compared parsed and sorted, or by shape. A
few replies are pinned to literal bytes so that both servers failing alike
cannot pass. RESP3 tests (HELLO 3) check the map, null and nested-array
types. A cluster test checks that hashes replicate, are served by every node
with READONLY and survive a follower's restart.
"""

import random
import shlex

import pytest

import conftest
import differential
from differential import (check_pinned, command_name, pairs, plain, run_pipelined,
                          sequences_in_one_write)
from harness import encode, scaled, split_replies, wait_until

LLONG_MAX = '9223372036854775807'
LLONG_MIN = '-9223372036854775808'
WRONGTYPE = b'-WRONGTYPE Operation against a key holding the wrong kind of value\r\n'


def c(line):
    """'HSET h f " v"' -> ['HSET', 'h', 'f', ' v'] (shell quoting; use a
    list for binary)."""
    return shlex.split(line) if isinstance(line, str) else line


def normalize(cmd, reply):
    """The part of a reply both servers must agree on: the bytes, except for
    field order (sorted) and random picks (only the count)."""
    name = command_name(cmd)
    if reply.startswith(b'-'):
        return reply
    if name == 'HGETALL':
        return ('pairs', pairs(plain(reply)))
    if name in ('HKEYS', 'HVALS'):
        return ('sorted', sorted(plain(reply)))
    if name == 'HSCAN':
        # A whole small hash comes in one call on both servers; a step of a
        # bigger one depends on the table's layout (checked elsewhere).
        cursor, items = plain(reply)
        return ('scan', pairs(items)) if cursor == b'0' else ('scan step',)
    if name == 'HRANDFIELD':
        value = plain(reply)
        if isinstance(value, list):
            return ('picks', len(value))
        return ('one', value is None)
    return reply


def run(proc, commands, flush=True):
    """Run commands one at a time on one connection after FLUSHALL."""
    return differential.run(proc, commands, flush=flush, split=c)


def _scan_step(ng, nw):
    # redis-server keeps a hash that was ever big as a hashtable (scanned
    # in steps) even once it is small again: no exact match.
    return ('scan step',) in (ng, nw) and isinstance(ng, tuple) and isinstance(nw, tuple)


def assert_same(commands, got, want):
    differential.assert_same(commands, got, want, normalize=normalize, skip=_scan_step,
                             split=c)


LONG = 'v' * 65   # longer than hash-max-listpack-value: a hashtable in Redis

SEQUENCES = {
    'hset_hget': ['HSET h f v', 'HGET h f', 'HSET h f v2', 'HGET h f', 'HSET h a 1 b 2 c 3',
                  'HSET h a 1 a 2', 'HGET h a', 'HLEN h', 'HGET h nofield', 'HGET nokey f',
                  'TYPE h', 'EXISTS h', 'hset h x y', 'HgEt h x'],
    'hset_arity': ['HSET h', 'HSET h f', 'HSET h f v f2', 'HSET h f v f2 v2 f3', 'EXISTS h',
                   'HMSET h', 'HMSET h f', 'HMSET h f v f2', 'EXISTS h', 'HSET h f v f2 v2',
                   'HLEN h'],
    'hmset': ['HMSET h a 1 b 2', 'HMSET h a 3', 'HGET h a', 'HLEN h', 'hmset h c 1'],
    'hsetnx': ['HSETNX h f v', 'HSETNX h f w', 'HGET h f', 'HSETNX h g w', 'HLEN h',
               'SET s x', 'HSETNX s f v', 'HSETNX nokey f v', 'HGETALL nokey'],
    'hmget': ['HMSET h a 1 b 2', 'HMGET h a b c', 'HMGET h c', 'HMGET nokey a b',
              'HMGET h a a', 'SET s x', 'HMGET s a', 'HMGET h'],
    'hdel': ['HSET h a 1 b 2 c 3', 'HDEL h a', 'HDEL h a', 'HDEL h b c d', 'EXISTS h',
             'TYPE h', 'HDEL h a', 'HDEL nokey a', 'HSET h a 1 b 2', 'HDEL h a b a b',
             'EXISTS h', 'HSET h a 1', 'HDEL h x y', 'HLEN h', 'SET s x', 'HDEL s a', 'HDEL h'],
    'hdel_recreate': ['HSET h a 1', 'HDEL h a', 'HSET h b 2', 'HGETALL h', 'HLEN h'],
    'hexists_hlen_hstrlen': ['HSET h a 1 b hello e ""', ['HSET', 'h', 'e', ''],
                             'HEXISTS h a', 'HEXISTS h z', 'HEXISTS nokey a', 'HLEN h',
                             'HLEN nokey', 'HSTRLEN h b', 'HSTRLEN h e', 'HSTRLEN h z',
                             'HSTRLEN nokey z', 'SET s x', 'HEXISTS s a', 'HLEN s',
                             'HSTRLEN s a'],
    'hgetall_hkeys_hvals': ['HGETALL h', 'HKEYS h', 'HVALS h', 'HSET h a 1 b 2 c 3',
                            'HGETALL h', 'HKEYS h', 'HVALS h', 'HSET h ' + LONG + ' x',
                            'HGETALL h', 'HKEYS h', 'HVALS h', 'SET s x', 'HGETALL s',
                            'HKEYS s', 'HVALS s'],
    'wrongtype': ['RPUSH l a', 'HSET l f v', 'HMSET l f v', 'HGET l f', 'HMGET l f',
                  'HDEL l f', 'HEXISTS l f', 'HLEN l', 'HGETALL l', 'HKEYS l', 'HVALS l',
                  'HINCRBY l f 1', 'HINCRBYFLOAT l f 1', 'HSETNX l f v', 'HSCAN l 0',
                  'HSTRLEN l f', 'HRANDFIELD l', 'HRANDFIELD l 1', 'HRANDFIELD l -1 WITHVALUES',
                  'HSET h f v', 'GET h', 'LPUSH h x', 'INCR h', 'TYPE h', 'LLEN h'],
    'hincrby': ['HINCRBY h f 1', 'HINCRBY h f 10', 'HINCRBY h f -20', 'HGET h f',
                'HINCRBY h f x', 'HINCRBY h f 1.5', 'HINCRBY h f ""', 'HINCRBY h f 01',
                'HINCRBY h f +1', 'HINCRBY h f -0', 'HINCRBY h f " 1"',
                'HINCRBY h g ' + LLONG_MAX, 'HINCRBY h g 1', 'HINCRBY h g -1', 'HGET h g',
                'HINCRBY h m ' + LLONG_MIN, 'HINCRBY h m -1', 'HINCRBY h m 1',
                'HINCRBY h f 9223372036854775808', 'HINCRBY nokey2 f x', 'EXISTS nokey2',
                'HSET h s abc', 'HINCRBY h s 1', 'HSET h s 1.0', 'HINCRBY h s 1',
                'HSET h s " 1"', 'HINCRBY h s 1', 'HSET h s 007', 'HINCRBY h s 1',
                'HSET h s -0', 'HINCRBY h s 1', ['HSET', 'h', 's', ''], 'HINCRBY h s 1',
                'HSET h s ' + LLONG_MIN, 'HINCRBY h s ' + LLONG_MIN, 'HINCRBY h s 0',
                'HGETALL h'],
    'hincrbyfloat': ['HINCRBYFLOAT h f 1', 'HINCRBYFLOAT h f 1.5', 'HINCRBYFLOAT h f -0.25',
                     'HINCRBYFLOAT h f 1e-17', 'HINCRBYFLOAT h f 0x10', 'HINCRBYFLOAT h f 5.0e3',
                     'HINCRBYFLOAT h g 3.0', 'HINCRBYFLOAT h g -3', 'HINCRBYFLOAT h n -1e-5',
                     'HINCRBYFLOAT h z -0.0', 'HINCRBYFLOAT h z 0', 'HINCRBYFLOAT h b 1.1',
                     'HINCRBYFLOAT h b 2.2', 'HINCRBYFLOAT h big 12345678901234567890',
                     'HINCRBYFLOAT h big 1', 'HINCRBYFLOAT h e 1e308', 'HINCRBYFLOAT h e 1e308',
                     'HINCRBYFLOAT h e 1e4932', 'HINCRBYFLOAT h e 1e4932',
                     'HINCRBYFLOAT h t 1e-4950', 'HINCRBYFLOAT h t 1e-5000',
                     'HINCRBYFLOAT h f x', 'HINCRBYFLOAT h f ""', 'HINCRBYFLOAT h f " 1"',
                     'HINCRBYFLOAT h f "1 "', 'HINCRBYFLOAT h f nan', 'HINCRBYFLOAT h f inf',
                     'HINCRBYFLOAT h f -inf', 'HINCRBYFLOAT h f 1e5000',
                     ['HINCRBYFLOAT', 'h', 'f', '1\x00'], 'HINCRBYFLOAT h f 1.5.5',
                     'HINCRBYFLOAT nokey2 f inf', 'EXISTS nokey2',
                     'HSET h s abc', 'HINCRBYFLOAT h s 1', 'HSET h s inf',
                     'HINCRBYFLOAT h s 1', 'HSET h s -inf', 'HINCRBYFLOAT h s 1',
                     'HSET h s 1e5000', 'HINCRBYFLOAT h s 1', 'HSET h s " 2"',
                     'HINCRBYFLOAT h s 1', 'HSET h s 10', 'HINCRBYFLOAT h s 0.1',
                     'HSET h s 007', 'HINCRBYFLOAT h s 1', 'HSET h s 0x1p3',
                     'HINCRBYFLOAT h s 1', 'HSET h s ' + LLONG_MAX, 'HINCRBYFLOAT h s 1',
                     'HSET h s 1.7976931348623157e308', 'HINCRBYFLOAT h s 1.7976931348623157e308',
                     'HGETALL h'],
    'hscan_small': ['HSCAN nokey 0', 'HSCAN nokey 0 foo', 'HSCAN nokey x',
                    'HSET h a 1 b 2 ab 3', ['HSET', 'h', '', 'empty'], 'HSCAN h 0',
                    'HSCAN h 0 COUNT 1', 'HSCAN h 5', 'HSCAN h 0 MATCH a*', 'HSCAN h 0 MATCH *',
                    'HSCAN h 0 MATCH **', 'HSCAN h 0 MATCH ?', 'HSCAN h 0 MATCH [ab]',
                    'HSCAN h 0 match a* count 100', 'HSCAN h 0 MATCH x* MATCH a*',
                    'HSCAN h 0 COUNT 0', 'HSCAN h 0 COUNT -1', 'HSCAN h 0 COUNT x',
                    'HSCAN h 0 COUNT', 'HSCAN h 0 MATCH', 'HSCAN h 0 foo bar',
                    'HSCAN h 0 NOVALUES', 'HSCAN h -1', ['HSCAN', 'h', ''], 'HSCAN h " 1"',
                    'HSCAN h 1x', 'HSCAN h 18446744073709551615', 'HSCAN h 18446744073709551616',
                    'HSCAN h +0', 'HSCAN h', 'SET s x', 'HSCAN s 0', 'HSCAN s x', 'HSCAN s 0 foo'],
    'hrandfield_args': ['HRANDFIELD nokey', 'HRANDFIELD nokey 5', 'HRANDFIELD nokey -5 WITHVALUES',
                        'HRANDFIELD nokey 0', 'HRANDFIELD nokey x',
                        'HRANDFIELD nokey 1 WITHVALUES x',
                        'HSET h a 1 b 2 c 3', 'HRANDFIELD h 0', 'HRANDFIELD h 0 WITHVALUES',
                        'HRANDFIELD h x', 'HRANDFIELD h 1.5', 'HRANDFIELD h 3 withvalue',
                        'HRANDFIELD h 3 WITHVALUES x', 'HRANDFIELD h ' + LLONG_MIN,
                        'HRANDFIELD h ' + LLONG_MIN + ' WITHVALUES',
                        'HRANDFIELD h -4611686018427387904 WITHVALUES',
                        'HRANDFIELD h 4611686018427387904 WITHVALUES',
                        'HRANDFIELD h 4611686018427387903 WITHVALUES',
                        'HRANDFIELD h 9223372036854775807', 'HRANDFIELD h 3', 'HRANDFIELD h 5',
                        'HRANDFIELD h 5 withvalues', 'HRANDFIELD h 2', 'HRANDFIELD h -5',
                        'HRANDFIELD h -5 WITHVALUES', 'HRANDFIELD h 1', 'HRANDFIELD h -1',
                        'HRANDFIELD h', 'HRANDFIELD', 'SET s x', 'HRANDFIELD s',
                        'HRANDFIELD s x', 'HRANDFIELD s 1 WITHVALUES x', 'HRANDFIELD s 0'],
    'binary': [['HSET', b'\x00h', b'f\x00\r\n', b'\x00v\xff'], ['HGET', b'\x00h', b'f\x00\r\n'],
               ['HGET', b'\x00h', b'f'], ['HSTRLEN', b'\x00h', b'f\x00\r\n'],
               ['HGETALL', b'\x00h'], ['HSET', b'\x00h', b'', b''], ['HEXISTS', b'\x00h', b''],
               ['HLEN', b'\x00h'], ['HDEL', b'\x00h', b'', b'f\x00\r\n'], ['EXISTS', b'\x00h'],
               ['HINCRBY', b'\x00h', b'\x00', '5'], ['HGETALL', b'\x00h']],
    'del_type_exists': ['HSET h a 1', 'TYPE h', 'EXISTS h', 'DEL h', 'HGETALL h', 'HSET h a 1',
                        'SET h x', 'TYPE h', 'HGET h a', 'DBSIZE'],
}

for _name, _arity in {'HSET': -4, 'HMSET': -4, 'HGET': 3, 'HMGET': -3, 'HDEL': -3, 'HEXISTS': 3,
                      'HLEN': 2, 'HGETALL': 2, 'HKEYS': 2, 'HVALS': 2, 'HINCRBY': 4,
                      'HINCRBYFLOAT': 4, 'HSETNX': 4, 'HSCAN': -3, 'HSTRLEN': 3,
                      'HRANDFIELD': -2}.items():
    SEQUENCES['arity_' + _name.lower()] = differential.arity_sequence(_name, _arity)


@pytest.mark.parametrize('name', sorted(SEQUENCES))
def test_same_replies_as_redis(name, node, redis_server):
    commands = SEQUENCES[name]
    want = run(redis_server, commands)
    got = run(node, commands)
    assert_same(commands, got, want)


def test_all_sequences_pipelined(node, redis_server):
    """Every sequence, each after FLUSHALL, in one write (one log entry may
    hold many of them)."""
    commands = sequences_in_one_write(SEQUENCES, split=c)
    want = run_pipelined(redis_server, commands)
    got = run_pipelined(node, commands)
    assert_same(commands, got, want)


# Literal replies of redis-server 7.0, checked on both servers.
PINNED = [
    ('HSET h a 1 b 2', b':2\r\n'),
    ('HSET h a 1 b', b"-ERR wrong number of arguments for 'hset' command\r\n"),
    ('HMSET h a 1 b', b"-ERR wrong number of arguments for 'hmset' command\r\n"),
    ('HMSET h x 1', b'+OK\r\n'),
    ('HGET h f', b'$1\r\nv\r\n'),
    ('HGET h nofield', b'$-1\r\n'),
    ('HMGET h f nofield', b'*2\r\n$1\r\nv\r\n$-1\r\n'),
    ('HGET s f', WRONGTYPE),
    ('HINCRBY h f 1', b'-ERR hash value is not an integer\r\n'),
    ('HINCRBY h n ' + LLONG_MAX, b'-ERR increment or decrement would overflow\r\n'),
    ('HINCRBY h n x', b'-ERR value is not an integer or out of range\r\n'),
    ('HINCRBYFLOAT h f 1', b'-ERR hash value is not a float\r\n'),
    ('HINCRBYFLOAT h n x', b'-ERR value is not a valid float\r\n'),
    ('HINCRBYFLOAT h n inf', b'-ERR value is NaN or Infinity\r\n'),
    ('HINCRBYFLOAT h inf 1', b'-ERR increment would produce NaN or Infinity\r\n'),
    ('HINCRBYFLOAT h n 0.1', b'$3\r\n5.1\r\n'),
    ('HINCRBYFLOAT h n -5', b'$1\r\n0\r\n'),
    ('HINCRBYFLOAT h n 1e20', b'$21\r\n100000000000000000008\r\n'),
    ('HSCAN h x', b'-ERR invalid cursor\r\n'),
    ('HSCAN h 0 COUNT 0', b'-ERR syntax error\r\n'),
    ('HSCAN nokey 0', b'*2\r\n$1\r\n0\r\n*0\r\n'),
    ('HSCAN h 0 MATCH f', b'*2\r\n$1\r\n0\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n'),
    ('HRANDFIELD h ' + LLONG_MIN,
     b'-ERR value is out of range, value must between -9223372036854775807 and '
     b'9223372036854775807\r\n'),
    ('HRANDFIELD h 4611686018427387904 WITHVALUES', b'-ERR value is out of range\r\n'),
    ('HRANDFIELD nokey', b'$-1\r\n'),
    ('HRANDFIELD nokey 3', b'*0\r\n'),
    ('HRANDFIELD h 0', b'*0\r\n'),
    ('HGETALL nokey', b'*0\r\n'),
    ('HSTRLEN h f', b':1\r\n'),
    ('HLEN h', b':3\r\n'),
    ('HDEL h f n inf x', b':3\r\n'),
]


@pytest.mark.parametrize('cmd,expected', PINNED, ids=[p[0] for p in PINNED])
def test_pinned_reply(cmd, expected, node, redis_server):
    setup = [(['FLUSHALL'], b'+OK\r\n'),
             (['HSET', 'h', 'f', 'v', 'n', '5', 'inf', 'inf'], b':3\r\n'),
             (['SET', 's', 'x'], b'+OK\r\n')]
    check_pinned((redis_server, node), setup, cmd, expected, split=c)


def test_last_field_deleted_removes_the_key(node):
    with node.raw() as conn:
        assert conn.command('HSET', 'h', 'a', '1', 'b', '2') == b':2\r\n'
        assert conn.command('DBSIZE') == b':1\r\n'
        assert conn.command('HDEL', 'h', 'a', 'b', 'c') == b':2\r\n'
        assert conn.command('EXISTS', 'h') == b':0\r\n'
        assert conn.command('TYPE', 'h') == b'+none\r\n'
        assert conn.command('DBSIZE') == b':0\r\n'
        assert conn.command('KEYS', '*') == b'*0\r\n'
        # No error path leaves an empty hash behind either.
        for cmd in (['HINCRBY', 'e', 'f', 'x'], ['HINCRBYFLOAT', 'e', 'f', 'inf'],
                    ['HINCRBYFLOAT', 'e', 'f', 'x'], ['HSET', 'e', 'f', 'v', 'g'],
                    ['HDEL', 'e', 'f'], ['HGET', 'e', 'f'], ['HSCAN', 'e', '0', 'bad']):
            conn.command(*cmd)
            assert conn.command('EXISTS', 'e') == b':0\r\n', cmd


def test_expired_hash_is_gone(node):
    with node.raw() as conn:
        assert conn.command('HSET', 'h', 'f', 'v') == b':1\r\n'
        assert conn.command('PEXPIRE', 'h', '50') == b':1\r\n'
        wait_until(lambda: conn.command('HGET', 'h', 'f') == b'$-1\r\n', scaled(10),
                   what='h to expire')
        assert conn.command('HLEN', 'h') == b':0\r\n'
        assert conn.command('HGETALL', 'h') == b'*0\r\n'
        assert conn.command('HEXISTS', 'h', 'f') == b':0\r\n'
        assert conn.command('HRANDFIELD', 'h') == b'$-1\r\n'
        assert conn.command('HSCAN', 'h', '0') == b'*2\r\n$1\r\n0\r\n*0\r\n'
        # A write on the expired key starts a new hash, without the expiry.
        assert conn.command('HINCRBY', 'h', 'n', '2') == b':2\r\n'
        assert conn.command('HGETALL', 'h') == b'*2\r\n$1\r\nn\r\n$1\r\n2\r\n'
        assert conn.command('PTTL', 'h') == b':-1\r\n'
        assert conn.command('HSET', 'h', 'f', 'v') == b':1\r\n'
        assert conn.command('HLEN', 'h') == b':2\r\n'


def test_big_hash_same_as_redis(node, redis_server):
    """Many fields, long values (a hashtable in redis-server), set in one
    HSET and several, then read back whole and field by field."""
    rnd = random.Random(7)
    fields = ['f%d' % i for i in range(3000)]
    values = {f: 'x' * rnd.randint(0, 100) for f in fields}
    chunks = [fields[i:i + 500] for i in range(0, len(fields), 500)]
    commands = [['HSET', 'big'] + [x for f in chunk for x in (f, values[f])] for chunk in chunks]
    commands += [['HLEN', 'big'], ['HGETALL', 'big'], ['HKEYS', 'big'], ['HVALS', 'big']]
    commands += [['HGET', 'big', f] for f in fields[::97]]
    commands += [['HSTRLEN', 'big', f] for f in fields[::89]]
    commands += [['HDEL', 'big'] + fields[::2], ['HLEN', 'big'], ['HGETALL', 'big'],
                 ['HMGET', 'big'] + fields[:50]]
    assert_same(commands, run(node, commands), run(redis_server, commands))


def full_hscan(conn, key, *opts):
    """Every (field, value) of a whole HSCAN, and the number of calls."""
    cursor, seen, calls = b'0', {}, 0
    while True:
        reply = plain(conn.command('HSCAN', key, cursor, *opts))
        cursor, items = reply
        calls += 1
        assert int(cursor) >= 0
        for f, v in zip(items[0::2], items[1::2]):
            seen[f] = v
        if cursor == b'0':
            return seen, calls
        assert calls < 100000


def test_hscan_whole_hash_same_as_redis(node, redis_server):
    fields = {('field:%d' % i).encode(): ('value:%d' % (i * 7)).encode() for i in range(1000)}
    flat = [x for kv in fields.items() for x in kv]
    results = []
    for proc in (redis_server, node):
        with proc.raw() as conn:
            assert conn.command('FLUSHALL') == b'+OK\r\n'
            assert conn.command('HSET', 'h', *flat) == b':1000\r\n'
            everything, calls = full_hscan(conn, 'h', 'COUNT', '7')
            assert everything == fields, proc.name
            assert calls > 1, proc.name  # a big hash is scanned in steps
            matched, _ = full_hscan(conn, 'h', 'MATCH', 'field:1?', 'COUNT', '50')
            assert matched == {f: v for f, v in fields.items()
                               if len(f) == 8 and f.startswith(b'field:1')}, proc.name
            results.append((sorted(everything.items()), sorted(matched.items())))
    assert results[0] == results[1]


def test_hscan_small_hash_in_one_call(node, redis_server):
    """Like redis-server's listpack hashes (at most 128 fields of at most
    64 bytes), a small hash comes back whole with cursor 0."""
    for proc in (redis_server, node):
        with proc.raw() as conn:
            assert conn.command('FLUSHALL') == b'+OK\r\n'
            flat = [x for i in range(128) for x in ('f%d' % i, 'v' * 64)]
            assert conn.command('HSET', 'h', *flat) == b':128\r\n'
            cursor, items = plain(conn.command('HSCAN', 'h', '0', 'COUNT', '1'))
            assert cursor == b'0' and len(items) == 256, proc.name
            cursor, items = plain(conn.command('HSCAN', 'h', '12345'))
            assert cursor == b'0' and len(items) == 256, proc.name


def test_hscan_returns_fields_present_throughout(node):
    """Fields present for a whole scan are all returned, while other fields
    come and go between calls (the table grows and shrinks meanwhile)."""
    with node.raw() as conn:
        stable = {('s%d' % i).encode(): b'1' for i in range(300)}
        assert conn.command('HSET', 'h', *[x for kv in stable.items() for x in kv]) == b':300\r\n'
        cursor, seen, step = b'0', set(), 0
        while True:
            cursor, items = plain(conn.command('HSCAN', 'h', cursor, 'COUNT', '5'))
            seen.update(items[0::2])
            if step < 60:
                conn.command('HSET', 'h',
                             *[x for j in range(50) for x in ('t%d_%d' % (step, j), 'x')])
            else:
                conn.command('HDEL', 'h', *['t%d_%d' % (step - 60, j) for j in range(50)])
            step += 1
            if cursor == b'0':
                break
            assert step < 100000
        assert set(stable) <= seen


def check_picks(reply, fields, count, withvalues, resp3):
    """HRANDFIELD h count [WITHVALUES] reply against the hash `fields`."""
    value = plain(reply)
    assert isinstance(value, list)
    if withvalues and resp3:
        assert all(isinstance(p, list) and len(p) == 2 for p in value), value
        picks = [tuple(p) for p in value]
    elif withvalues:
        picks = list(zip(value[0::2], value[1::2]))
    else:
        picks = value
    want = count if count < 0 else min(count, len(fields))
    assert len(picks) == abs(want)
    for p in picks:
        f = p[0] if withvalues else p
        assert f in fields
        if withvalues:
            assert p[1] == fields[f]
    names = [p[0] if withvalues else p for p in picks]
    if count > 0:
        assert len(set(names)) == len(names)  # distinct
    return names


@pytest.mark.parametrize('resp3', [False, True], ids=['resp2', 'resp3'])
def test_hrandfield_picks(resp3, node, redis_server):
    for proc in (redis_server, node):
        with proc.raw() as conn:
            assert conn.command('FLUSHALL') == b'+OK\r\n'
            if resp3:
                assert conn.command('HELLO', '3').startswith(b'%')
            for size in (1, 5, 20, 300):
                fields = {('f%d' % i).encode(): ('v%d' % i).encode() for i in range(size)}
                assert conn.command('DEL', 'h') in (b':0\r\n', b':1\r\n')
                conn.command('HSET', 'h', *[x for kv in fields.items() for x in kv])
                for count in (1, 2, 3, size - 1, size, size + 5, 50, -1, -3, -size, -500):
                    if count == 0:
                        continue
                    for wv in (False, True):
                        args = ['HRANDFIELD', 'h', str(count)] + (['WITHVALUES'] if wv else [])
                        names = check_picks(conn.command(*args), fields, count, wv, resp3)
                        if count >= size:
                            assert sorted(names) == sorted(fields)
                one = plain(conn.command('HRANDFIELD', 'h'))
                assert one in fields


def test_hrandfield_is_random(node):
    with node.raw() as conn:
        fields = [('f%d' % i).encode() for i in range(10)]
        conn.command('HSET', 'h', *[x for f in fields for x in (f, 'v')])
        payload = encode('HRANDFIELD', 'h') * 400
        seen = {plain(r) for r in split_replies(node.send_raw(payload, 400))}
        assert seen == set(fields)
        # Unique picks of half the hash are not always the same ones.
        picks = {tuple(sorted(plain(conn.command('HRANDFIELD', 'h', '5')))) for _ in range(30)}
        assert len(picks) > 1
        # Repeating picks do repeat.
        many = plain(conn.command('HRANDFIELD', 'h', '-100'))
        assert len(many) == 100 and len(set(many)) <= 10


def test_hrandfield_huge_negative_count_refused(node):
    """redis-server tries to build a reply of |count| picks (and stalls or
    runs out of memory for huge counts); redis-raft refuses beyond 2^24."""
    conftest.redis_raft_only()
    with node.raw() as conn:
        conn.command('HSET', 'h', 'a', '1')
        assert conn.command('HRANDFIELD', 'h', '-9223372036854775807') == \
            b'-ERR value is out of range\r\n'
        assert conn.command('HRANDFIELD', 'h', '-16777217', 'WITHVALUES') == \
            b'-ERR value is out of range\r\n'
        assert conn.command('HLEN', 'h') == b':1\r\n'


# ---------------------------------------------------------------------------
# RESP3 (HELLO 3): HGETALL is a map, nils are '_', HRANDFIELD WITHVALUES is
# an array of 2-element arrays.

RESP3_COMMANDS = [
    'HSET h a 1', 'HGETALL h', 'HGETALL nokey', 'HGET h a', 'HGET h nofield', 'HGET nokey a',
    'HMGET h a nofield', 'HKEYS h', 'HVALS h', 'HRANDFIELD h 1 WITHVALUES',
    'HRANDFIELD h -2 WITHVALUES', 'HRANDFIELD h 5 WITHVALUES', 'HRANDFIELD h 5',
    'HRANDFIELD nokey', 'HRANDFIELD nokey 1', 'HRANDFIELD nokey 1 WITHVALUES', 'HSCAN h 0',
    'HSCAN nokey 0', 'HINCRBYFLOAT h x 1.5', 'HINCRBY h n 1', 'HSTRLEN h a', 'HEXISTS h a',
]


def test_resp3_hash_replies(node, redis_server):
    """RESP3: needs HELLO 3 (the lead's work)."""
    def run3(proc):
        with proc.raw() as conn:
            assert conn.command('FLUSHALL') == b'+OK\r\n'
            hello = conn.command('HELLO', '3')
            assert hello.startswith(b'%'), hello
            return [conn.command(*c(cmd)) for cmd in RESP3_COMMANDS]
    want = run3(redis_server)
    got = run3(node)
    for cmd, g, w in zip(RESP3_COMMANDS, got, want):
        assert g == w, 'command %r:\n  redis-server: %r\n  redis-raft:   %r' % (cmd, w, g)
    pinned = dict(zip(RESP3_COMMANDS, got))
    assert pinned['HGETALL h'] == b'%1\r\n$1\r\na\r\n$1\r\n1\r\n'
    assert pinned['HGETALL nokey'] == b'%0\r\n'
    assert pinned['HGET h nofield'] == b'_\r\n'
    assert pinned['HMGET h a nofield'] == b'*2\r\n$1\r\n1\r\n_\r\n'
    assert pinned['HRANDFIELD h 1 WITHVALUES'] == b'*1\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n'
    assert pinned['HRANDFIELD nokey'] == b'_\r\n'
    assert pinned['HRANDFIELD nokey 1'] == b'*0\r\n'


def test_resp3_hgetall_map_of_many(node, redis_server):
    """RESP3: needs HELLO 3. A map with many pairs, compared as a map."""
    maps = []
    for proc in (redis_server, node):
        with proc.raw() as conn:
            assert conn.command('FLUSHALL') == b'+OK\r\n'
            assert conn.command('HELLO', '3').startswith(b'%')
            conn.command('HSET', 'h', *[x for i in range(200) for x in ('f%d' % i, str(i))])
            kind, items = plain(conn.command('HGETALL', 'h'))
            assert kind == 'map'
            maps.append(sorted(items))
    assert maps[0] == maps[1]
    assert len(maps[0]) == 200


# ---------------------------------------------------------------------------
# Seeded random differential test over hash commands.

HKEYS_ = ['h', 'g', 's', b'\x00h']
FIELDS = ['a', 'b', 'c', '', b'\x00f', 'n', 'x']
VALUES = ['', '0', '1', '-1', '17', '1.5', 'x', LLONG_MAX, LLONG_MIN, '1e308', ' 1', '01',
          'inf', '0x10', '-0', '3.0', b'\x00\r\n']
INCRS = ['1', '-1', '0', '100', '2.5', '-0.5', 'x', '', LLONG_MAX, LLONG_MIN, '1e308', 'inf']


def random_hash_command(rnd):
    k = lambda: rnd.choice(HKEYS_) if rnd.random() < 0.2 else 'h'  # noqa: E731
    f = lambda: rnd.choice(FIELDS)  # noqa: E731
    v = lambda: rnd.choice(VALUES)  # noqa: E731
    makers = [
        lambda: ['HSET', k()] + [x for _ in range(rnd.randint(1, 3)) for x in (f(), v())],
        lambda: ['HMSET', k()] + [x for _ in range(rnd.randint(1, 2)) for x in (f(), v())],
        lambda: ['HSETNX', k(), f(), v()], lambda: ['HGET', k(), f()],
        lambda: ['HMGET', k()] + [f() for _ in range(rnd.randint(1, 3))],
        lambda: ['HDEL', k()] + [f() for _ in range(rnd.randint(1, 3))],
        lambda: ['HEXISTS', k(), f()], lambda: ['HLEN', k()], lambda: ['HSTRLEN', k(), f()],
        lambda: ['HGETALL', k()], lambda: ['HKEYS', k()], lambda: ['HVALS', k()],
        lambda: ['HINCRBY', k(), f(), rnd.choice(INCRS)],
        lambda: ['HINCRBYFLOAT', k(), f(), rnd.choice(INCRS)],
        lambda: ['HSCAN', k(), '0'] + rnd.choice(
            [[], ['MATCH', rnd.choice(['*', 'a*', '?', '[ab]'])],
             ['COUNT', rnd.choice(['1', '100', '0'])]]),
        lambda: ['HRANDFIELD', k()] + rnd.choice([[], [rnd.choice(['0', '1', '3', '-2', 'x'])],
                                                   [rnd.choice(['1', '-2', '10']), 'WITHVALUES']]),
        lambda: ['SET', 's', v()], lambda: ['DEL', k()], lambda: ['TYPE', k()],
        lambda: ['EXISTS', k()],
    ]
    cmd = rnd.choice(makers)()
    if rnd.random() < 0.03:
        cmd = cmd[:-1] if len(cmd) > 2 else cmd + ['extra']
    return cmd


@pytest.mark.parametrize('seed', [1, 2, 3])
def test_random_hash_commands_same_as_redis(seed, node, redis_server):
    rnd = random.Random(seed)
    commands = [random_hash_command(rnd) for _ in range(1500)]
    want = run_pipelined(redis_server, commands)
    got = run_pipelined(node, commands)
    assert_same(commands, got, want)
    final = [['DBSIZE']] + [[op, key] for key in HKEYS_ for op in ('TYPE', 'HGETALL', 'HLEN')]
    assert_same(final, run(node, final, flush=False), run(redis_server, final, flush=False))


# ---------------------------------------------------------------------------
# Cluster: hashes replicate and survive a follower's restart.

def hgetall_local(n, key):
    """HGETALL served by node n itself (READONLY), as a dict."""
    with n.raw() as conn:
        assert conn.command('READONLY') == b'+OK\r\n'
        return dict(pairs(plain(conn.command('HGETALL', key))))


def wait_all_agree(cluster, key, want, what):
    for n in cluster.up():
        wait_until(lambda: hgetall_local(n, key) == want, scaled(20),
                   what='%s on %s' % (what, n.name))


def test_cluster_hashes_replicate_and_survive_restart(cluster):
    leader = cluster.wait_for_leader()
    want = {}
    with leader.raw() as conn:
        flat = [x for i in range(200) for x in ('f%d' % i, 'v%d' % i)]
        assert conn.command('HSET', 'h', *flat) == b':200\r\n'
        want.update({('f%d' % i).encode(): ('v%d' % i).encode() for i in range(200)})
        for i in range(50):
            total = i * (i + 1) // 2
            assert conn.command('HINCRBY', 'h', 'counter', str(i)) == b':%d\r\n' % total
        want[b'counter'] = str(sum(range(50))).encode()
        assert conn.command('HINCRBYFLOAT', 'h', 'float', '0.1') == b'$3\r\n0.1\r\n'
        assert conn.command('HINCRBYFLOAT', 'h', 'float', '0.2') == b'$3\r\n0.3\r\n'
        want[b'float'] = b'0.3'
        assert conn.command('HDEL', 'h', *['f%d' % i for i in range(0, 200, 3)]) == b':67\r\n'
        for i in range(0, 200, 3):
            del want[('f%d' % i).encode()]
        assert conn.command('HSETNX', 'h', 'f1', 'no') == b':0\r\n'
        assert conn.command('HSETNX', 'h', 'f0', 'yes') == b':1\r\n'
        want[b'f0'] = b'yes'
        assert conn.command('HSET', 'gone', 'a', '1') == b':1\r\n'
        assert conn.command('HDEL', 'gone', 'a') == b':1\r\n'
    wait_all_agree(cluster, 'h', want, 'the hash')
    for n in cluster.up():
        with n.raw() as conn:
            assert conn.command('READONLY') == b'+OK\r\n'
            assert conn.command('EXISTS', 'gone') == b':0\r\n'
            assert conn.command('HLEN', 'h') == b':%d\r\n' % len(want)

    # Restart a follower: it comes back with the same hash (from its
    # snapshot and log), and follows writes made while it was down.
    follower = cluster.followers()[0]
    with follower.raw() as conn:
        assert conn.command('SAVE') == b'+OK\r\n'
    follower.stop()
    with leader.raw() as conn:
        assert conn.command('HSET', 'h', 'during', 'down') == b':1\r\n'
        counter = int(want[b'counter']) + 1
        assert conn.command('HINCRBY', 'h', 'counter', '1') == b':%d\r\n' % counter
    want[b'during'] = b'down'
    want[b'counter'] = str(int(want[b'counter']) + 1).encode()
    follower.start()
    cluster.wait_for_leader()
    wait_all_agree(cluster, 'h', want, 'the hash after the restart')
    with follower.raw() as conn:
        assert conn.command('READONLY') == b'+OK\r\n'
        assert conn.command('HGET', 'h', 'float') == b'$3\r\n0.3\r\n'
        assert conn.command('HSTRLEN', 'h', 'during') == b':4\r\n'
