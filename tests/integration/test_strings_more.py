"""Differential tests of the string commands with expiry options and the
rest of the string family: SET's EX/PX/EXAT/PXAT/KEEPTTL options, SETEX,
PSETEX, GETEX, INCRBYFLOAT, GETRANGE/SUBSTR, SETRANGE, MSETNX.

As in test_commands.py, each sequence runs on an empty keyspace against
redis-raft and against a stock redis-server 7.0, and the reply bytes must
be identical. Time-dependent replies are kept exact: relative expiries are
read back with TTL (seconds, rounded, so a few ms of skew between the two
servers cannot show) and absolute ones with (P)EXPIRETIME.

Expired keys are not counted with DBSIZE: redis-server 7.0 keeps a key SET
with a past EXAT/PXAT until a lookup or its active expiry removes it, and
redis-raft's reads never delete; every other command agrees.
"""

import pytest

import differential
from differential import check_pinned, compare, compare_pipelined, sequences_in_one_write

LLONG_MAX = '9223372036854775807'
LLONG_MIN = '-9223372036854775808'
# Year 2100, in seconds and in ms (the ms with a remainder that rounds up).
AT_S = '4102444800'
AT_MS = '4102444800623'


c = differential.split_command  # 'SET k v' -> ['SET', 'k', 'v']


SEQUENCES = {
    # ---- SET with expiry options
    'set_ex_px': ['SET k v EX 100', 'TTL k', 'GET k', 'SET k v PX 100000', 'TTL k',
                  'SET k v ex 200', 'TTL k', 'SET k v pX 300000', 'TTL k',
                  'SET k v EXAT ' + AT_S, 'EXPIRETIME k', 'PEXPIRETIME k',
                  'SET k v PXAT ' + AT_MS, 'PEXPIRETIME k', 'EXPIRETIME k',
                  'SET k v exat ' + AT_S, 'EXPIRETIME k', 'SET k v pxat ' + AT_MS,
                  'PEXPIRETIME k', 'GET k', 'SET k v', 'TTL k', 'PEXPIRETIME k'],
    'set_keepttl': ['SET k v EX 100', 'SET k v2 KEEPTTL', 'TTL k', 'GET k',
                    'SET k v3 keepttl', 'TTL k', 'SET k v4', 'TTL k',
                    'SET k v5 KEEPTTL', 'TTL k', 'SET n v KEEPTTL', 'TTL n',
                    'SET k v PXAT ' + AT_MS, 'SET k w KEEPTTL GET', 'PEXPIRETIME k',
                    'SET k x KEEPTTL XX', 'PEXPIRETIME k', 'SET k y KEEPTTL KEEPTTL',
                    'PEXPIRETIME k', 'GET k'],
    'set_expire_errors': [
        'SET k v EX 0', 'SET k v EX -1', 'SET k v PX 0', 'SET k v PX -100',
        'SET k v EXAT 0', 'SET k v PXAT -5', 'SET k v EXAT -1', 'EXISTS k',
        'SET k v EX abc', 'SET k v EX 1.5', ['SET', 'k', 'v', 'EX', ''],
        'SET k v EX 9223372036854775808', 'SET k v PX ' + LLONG_MIN,
        'SET k v EX 9223372036854775', 'SET k v EX 9223372036854776',
        'SET k v PX ' + LLONG_MAX, 'SET k v EX ' + LLONG_MAX, 'EXISTS k',
        'SET k v PXAT ' + LLONG_MAX, 'PEXPIRETIME k', 'TTL k',
        'SET k v EXAT 9223372036854775', 'PEXPIRETIME k', 'SET k v EXAT 9223372036854776',
        'PEXPIRETIME k', 'GET k'],
    'set_option_syntax': [
        'SET k v EX', 'SET k v PX', 'SET k v EXAT', 'SET k v PXAT', 'SET k v EX 10 PX 10',
        'SET k v PX 10 EX 10', 'SET k v EX 10 EXAT ' + AT_S, 'SET k v PXAT 10 EXAT 10',
        'SET k v EX 10 KEEPTTL', 'SET k v KEEPTTL EX 10', 'SET k v KEEPTTL PXAT 10',
        'SET k v PERSIST', 'SET k v EX 10 PERSIST', 'SET k v NX EX 10 XX',
        'SET k v EX 10 foo', 'SET k v EX 10 EX', 'SET k v EXX 10', 'SET k v EX10',
        'EXISTS k', 'SET k v EX 10 EX 20', 'TTL k', 'SET k v PX 10000 PX 30000', 'TTL k',
        'SET k v EXAT 1 EXAT ' + AT_S, 'EXPIRETIME k', 'SET k v PXAT 1 PXAT ' + AT_MS,
        'PEXPIRETIME k', 'SET k v KEEPTTL KEEPTTL', 'PEXPIRETIME k',
        'SET k v EX 0 foo', 'SET k v EX abc EX', 'GET k'],
    'set_options_combined': [
        'SET k v NX EX 100', 'TTL k', 'SET k v2 NX EX 200', 'TTL k', 'GET k',
        'SET k v3 XX PX 300000', 'TTL k', 'GET k', 'SET n v XX EX 100', 'EXISTS n',
        'SET k v4 EX 50 GET', 'TTL k', 'SET k v5 GET KEEPTTL', 'TTL k',
        'SET k v6 ex 60 xx get', 'TTL k', 'SET m v get nx px 70000', 'TTL m',
        'SET m v GET NX EX 80', 'TTL m', 'GET m', 'SET k v7 GET EX 0', 'GET k',
        'SET k v8 GET EX abc', 'GET k', 'TTL k', 'SET k v9 EX 10 GET GET', 'TTL k'],
    'set_expire_wrongtype': [
        'RPUSH l a', 'EXPIRE l 100', 'SET l v GET EX abc', 'SET l v GET EX 0',
        'SET l v GET EX 10', 'TYPE l', 'TTL l', 'SET l v NX EX 10', 'TTL l', 'TYPE l',
        'SET l v KEEPTTL', 'TYPE l', 'TTL l', 'GET l', 'RPUSH m a', 'EXPIRE m 100',
        'SET m v', 'TTL m', 'RPUSH o a', 'SET o v EX 300', 'TTL o', 'TYPE o'],
    'set_past_expiry': [
        'SET k v EXAT 1', 'GET k', 'EXISTS k', 'TTL k', 'SET k v PXAT 1 GET', 'SET k v',
        'SET k v2 PXAT 1 GET', 'GET k', 'TTL k', 'SET k v EXAT 1 NX', 'GET k',
        'SET k v3', 'SET k v4 EXAT 1 XX', 'GET k', 'SET k v5 EX 100', 'SET k v6 PXAT 2',
        'EXISTS k', 'SET k v7 NX', 'GET k', 'TTL k', 'RPUSH l a', 'SET l v PXAT 1',
        'TYPE l', 'EXISTS l'],

    # ---- SETEX / PSETEX
    'setex': ['SETEX k 100 v', 'TTL k', 'GET k', 'SETEX k 200 w', 'TTL k', 'GET k',
              'SETEX k 0 v', 'SETEX k -1 v', 'SETEX k abc v', 'SETEX k 1.5 v',
              ['SETEX', 'k', '', 'v'], 'SETEX k 9223372036854775 v',
              'SETEX k 9223372036854776 v', 'SETEX k ' + LLONG_MAX + ' v',
              'SETEX k 9223372036854775808 v', 'GET k', 'TTL k', 'RPUSH l a',
              'SETEX l 100 v', 'TYPE l', 'GET l', 'TTL l', 'setex m 50 x', 'TTL m',
              'SETEX n 100 1', 'INCR n', 'TTL n'],
    'psetex': ['PSETEX k 100000 v', 'TTL k', 'GET k', 'PSETEX k 0 v', 'PSETEX k -1 v',
               'PSETEX k abc v', 'PSETEX k ' + LLONG_MAX + ' v',
               'PSETEX k 9223372036854775808 v', 'GET k', 'TTL k', 'SET k w',
               'TTL k', 'PSETEX k 200000 x', 'TTL k', 'RPUSH l a', 'PSETEX l 100000 v',
               'TYPE l', 'TTL l', 'psetex m 50000 z', 'GET m'],

    # ---- GETEX
    'getex': ['GETEX missing', 'GETEX missing EX abc', 'GETEX missing EX 0',
              'GETEX missing PERSIST', 'GETEX missing FOO', 'GETEX missing EX',
              'SET k v', 'GETEX k', 'TTL k', 'GETEX k EX 100', 'TTL k', 'GETEX k PERSIST',
              'TTL k', 'GETEX k PERSIST', 'TTL k', 'GETEX k PX 200000', 'TTL k',
              'GETEX k', 'TTL k', 'GETEX k EXAT ' + AT_S, 'EXPIRETIME k',
              'GETEX k PXAT ' + AT_MS, 'PEXPIRETIME k', 'EXPIRETIME k',
              'getex k ex 300', 'TTL k', 'GETEX k EX 10 EX 20', 'TTL k',
              'GETEX k PERSIST PERSIST', 'TTL k', 'GET k'],
    'getex_errors': [
        'SET k v EX 100', 'GETEX k EX 0', 'GETEX k EX -1', 'GETEX k PX 0',
        'GETEX k EXAT 0', 'GETEX k PXAT -1', 'GETEX k EX abc', 'GETEX k EX 1.5',
        'GETEX k EX 9223372036854775', 'GETEX k PX ' + LLONG_MAX, 'TTL k',
        'GETEX k EX', 'GETEX k EX 10 PX 10', 'GETEX k PERSIST EX 10',
        'GETEX k EX 10 PERSIST', 'GETEX k NX', 'GETEX k XX', 'GETEX k GET',
        'GETEX k KEEPTTL', 'GETEX k FOO', 'GETEX k EX 10 FOO', 'TTL k', 'GET k',
        'RPUSH l a', 'GETEX l', 'GETEX l EX abc', 'GETEX l EX 10', 'GETEX l FOO',
        'GETEX l PERSIST', 'TTL l'],
    'getex_past': ['SET k v EX 100', 'GETEX k EXAT 1', 'EXISTS k', 'GET k', 'SET k v',
                   'GETEX k PXAT 1', 'GET k', 'TTL k', 'SET k w',
                   'GETEX k PXAT ' + LLONG_MAX, 'PEXPIRETIME k', 'GETEX k PERSIST',
                   'TTL k', 'GET k'],

    # ---- INCRBYFLOAT
    'incrbyfloat': [
        'INCRBYFLOAT f 10.5', 'INCRBYFLOAT f 0.1', 'INCRBYFLOAT f -5', 'GET f',
        'INCRBYFLOAT f 1e3', 'INCRBYFLOAT f 5.0e3', 'INCRBYFLOAT f -6005.6',
        'INCRBYFLOAT f 0', 'GET f', 'INCRBYFLOAT g 3.0', 'INCRBYFLOAT g 1.23456789012345678',
        'INCRBYFLOAT g -0.00001', 'INCRBYFLOAT h 0.1', 'INCRBYFLOAT h 0.2',
        'INCRBYFLOAT h 0.3', 'SET i 10', 'INCRBYFLOAT i 0.1', 'INCRBYFLOAT i +1',
        'INCRBYFLOAT i .5', 'INCRBYFLOAT i 5.', 'INCRBYFLOAT i -.5e-2',
        'INCRBYFLOAT i 0x10', 'INCRBYFLOAT i 1E2', 'SET z -0', 'INCRBYFLOAT z 0',
        'INCRBYFLOAT z -0.00000000000000000001', 'GET z', 'INCRBYFLOAT y -0.0',
        'INCRBYFLOAT x 1e-20', 'INCRBYFLOAT w 1e-17', 'INCRBYFLOAT w 123456789.123456789',
        'incrbyfloat v 2.5', 'INCRBYFLOAT u 9223372036854775807',
        'INCRBYFLOAT u 1', 'INCRBYFLOAT t 1e-4940'],
    'incrbyfloat_errors': [
        'INCRBYFLOAT f abc', ['INCRBYFLOAT', 'f', ''], ['INCRBYFLOAT', 'f', ' 1'],
        ['INCRBYFLOAT', 'f', '1 '], ['INCRBYFLOAT', 'f', b'1\x00'], 'INCRBYFLOAT f 1e',
        'INCRBYFLOAT f nan', 'INCRBYFLOAT f NaN', 'INCRBYFLOAT f inf',
        'INCRBYFLOAT f -inf', 'INCRBYFLOAT f infinity', 'INCRBYFLOAT f 1e5000',
        'INCRBYFLOAT f -1e5000', 'INCRBYFLOAT f 1e-5000', 'INCRBYFLOAT f 1.5.5',
        'INCRBYFLOAT f 1,5', ['INCRBYFLOAT', 'f', '1' * 5119],
        ['INCRBYFLOAT', 'f', '1' * 5120], 'EXISTS f', 'SET s abc', 'INCRBYFLOAT s 1',
        'SET s 1.5abc', 'INCRBYFLOAT s 1', ['SET', 's', ''], 'INCRBYFLOAT s 1',
        ['SET', 's', ' 2'], 'INCRBYFLOAT s 1', 'SET s inf', 'INCRBYFLOAT s 1',
        'INCRBYFLOAT s abc', 'SET s 2', 'INCRBYFLOAT s abc', 'GET s', 'RPUSH l a',
        'INCRBYFLOAT l 1', 'INCRBYFLOAT l abc', 'TYPE l'],
    'incrbyfloat_huge': [
        'SET big 1.7e308', 'INCRBYFLOAT big 1.7e308', 'STRLEN big',
        'SET h 1e4000', 'INCRBYFLOAT h 1e4000', 'STRLEN h', 'INCRBYFLOAT h 1e4932',
        'STRLEN h', 'INCRBYFLOAT h 1.1e4932', 'INCRBYFLOAT h -1e4932', 'STRLEN h',
        'SET m 1.18e4932', 'INCRBYFLOAT m 1.18e4932', 'GET m',
        'SET small 0.000000000000000001', 'INCRBYFLOAT small 0', 'GET small'],
    'incrbyfloat_keeps_ttl': ['SET t 1 EX 100', 'INCRBYFLOAT t 1.5', 'TTL t', 'GET t',
                              'SET n 5', 'INCRBYFLOAT n 1', 'TTL n'],

    # ---- GETRANGE / SUBSTR
    'getrange': [
        ['SET', 's', 'Hello World'], 'GETRANGE s 0 4', 'GETRANGE s -5 -1', 'GETRANGE s 0 -1',
        'GETRANGE s 0 100', 'GETRANGE s 5 3', 'GETRANGE s -100 -200', 'GETRANGE s -100 -5',
        'GETRANGE s -1 -5', 'GETRANGE s -5 -5', 'GETRANGE s 100 200', 'GETRANGE s 10 10',
        'GETRANGE s 11 11', 'GETRANGE s -100 100', 'GETRANGE s 3 -100',
        'GETRANGE s ' + LLONG_MIN + ' ' + LLONG_MAX, 'GETRANGE s 0 ' + LLONG_MIN,
        'GETRANGE s ' + LLONG_MAX + ' 0', 'GETRANGE s abc 1', 'GETRANGE s 1 abc',
        'GETRANGE s 1.5 2', 'GETRANGE s 0 9223372036854775808', 'GETRANGE missing 0 -1',
        'GETRANGE missing abc 1', 'SUBSTR s 0 4', 'substr s -3 -1', 'SUBSTR missing 0 1',
        'RPUSH l a', 'GETRANGE l 0 1', 'GETRANGE l a b', 'SUBSTR l 0 1',
        ['SET', 'e', ''], 'GETRANGE e 0 -1', 'GETRANGE e 0 0', 'GETRANGE e -1 -1',
        'SET n 12345', 'INCR n', 'GETRANGE n 1 3', 'GETRANGE n -2 -1',
        ['SET', 'b', b'\x00\r\n\xff'], 'GETRANGE b 0 1', 'GETRANGE b 1 -1'],

    # ---- SETRANGE
    'setrange': [
        'SETRANGE k 0 abc', 'GET k', 'SETRANGE k 5 xy', 'GET k', 'STRLEN k',
        'SETRANGE k 1 Z', 'GET k', 'SETRANGE k 0 ABCDEFGHIJ', 'GET k',
        'SETRANGE m 3 ab', 'GET m', 'SETRANGE k -1 x', 'SETRANGE k abc x',
        'SETRANGE k 1.5 x', 'SETRANGE k 9223372036854775808 x', ['SETRANGE', 'k', '', 'x'],
        ['SETRANGE', 'missing', '10', ''], 'EXISTS missing',
        ['SETRANGE', 'missing', '-1', ''], 'SETRANGE missing 536870912 x',
        'SETRANGE missing 536870911 xy', 'SETRANGE missing ' + LLONG_MAX + ' x',
        'EXISTS missing', ['SETRANGE', 'k', '536870912', ''],
        ['SETRANGE', 'k', LLONG_MAX, ''], 'SETRANGE k 536870912 x',
        'SETRANGE k ' + LLONG_MAX + ' x', 'GET k', 'RPUSH l a', 'SETRANGE l 0 x',
        ['SETRANGE', 'l', '0', ''], 'SETRANGE l -1 x', 'SETRANGE l 536870912 x',
        'SETRANGE l abc x', 'TYPE l', 'SET n 10', 'SETRANGE n 2 5', 'INCR n', 'GET n',
        'SET n 10', 'SETRANGE n 0 9', 'INCR n', ['SETRANGE', 'b', '2', b'\x00\r\n'],
        'GET b', 'setrange b 0 z', 'GET b', 'SETRANGE big 100000 x', 'STRLEN big',
        'GETRANGE big 99998 -1'],
    'setrange_keeps_ttl': ['SET t abc EX 100', 'SETRANGE t 1 X', 'TTL t', 'GET t',
                           'SETRANGE t 10 Y', 'TTL t', 'APPEND t z', 'TTL t',
                           'SET u 7 PX 100000', 'INCR u', 'DECRBY u 2', 'TTL u'],

    # ---- MSETNX
    'msetnx': ['MSETNX a 1 b 2', 'MGET a b', 'MSETNX a 3 c 4', 'MGET a b c', 'EXISTS c',
               'MSETNX c 1 c 2', 'GET c', 'MSETNX a', 'MSETNX a 1 b', 'MSETNX d 1 e',
               'EXISTS d', 'RPUSH l x', 'MSETNX l v z 1', 'TYPE l', 'EXISTS z',
               'msetnx x 1 y 2', 'MGET x y', 'SET e v PXAT 1', 'MSETNX e 1 f 2', 'MGET e f',
               'MSETNX g 1 g', 'EXISTS g'],

    # ---- writers and the TTL they keep or clear (Redis's setKey rules)
    'writers_and_ttl': [
        'SET k v EX 100', 'GETSET k w', 'TTL k', 'SET k v EX 100', 'MSET k x', 'TTL k',
        'SET k v EX 100', 'APPEND k y', 'TTL k', 'SET k 1 EX 100', 'INCR k', 'TTL k',
        'DECR k', 'INCRBY k 5', 'TTL k', 'SET k v EX 100', 'SETNX k z', 'TTL k',
        'SET k v EX 100', 'GETDEL k', 'TTL k', 'SET k v', 'TTL k', 'SET k v EX 100',
        'DEL k', 'SET k v', 'TTL k', 'SET k v EX 100', 'SET k w NX', 'TTL k',
        'SET k w XX', 'TTL k', 'SET k v EX 100', 'SET k w GET', 'TTL k',
        'SET a 1 EX 100', 'MSETNX a 2 b 3', 'TTL a', 'DEL a', 'MSETNX a 2 b 3',
        'TTL a', 'RPUSH l a', 'EXPIRE l 100', 'LPUSH l b', 'RPOP l', 'TTL l'],
}

# Arity of the commands of this file (Redis convention: -N means at least N).
ARITY = {'SETEX': 4, 'PSETEX': 4, 'GETEX': -2, 'INCRBYFLOAT': 3, 'GETRANGE': 4,
         'SUBSTR': 4, 'SETRANGE': 4, 'MSETNX': -3}


for _name, _arity in ARITY.items():
    SEQUENCES['arity_' + _name.lower()] = differential.arity_sequence(_name, _arity)


@pytest.mark.parametrize('name', sorted(SEQUENCES))
def test_same_replies_as_redis(name, node, redis_server):
    commands = SEQUENCES[name]
    compare(node, redis_server, commands)


def test_all_sequences_pipelined_in_one_write(node, redis_server):
    """Every sequence, each after FLUSHALL, sent as one write: batching many
    commands into one log entry (one clock for all) changes no reply."""
    compare_pipelined(node, redis_server, sequences_in_one_write(SEQUENCES))


# Replies pinned to literal bytes (what redis-server 7.0 sends), checked on
# both servers, so a sequence cannot pass by both failing alike.
PINNED = [
    ('SET k v EX 100', b'+OK\r\n'),
    ('SET k v EX 0', b"-ERR invalid expire time in 'set' command\r\n"),
    ('SET k v PX -1', b"-ERR invalid expire time in 'set' command\r\n"),
    ('SET k v EX 10 PX 10', b'-ERR syntax error\r\n'),
    ('SET k v KEEPTTL EX 10', b'-ERR syntax error\r\n'),
    ('SET k v EX abc', b'-ERR value is not an integer or out of range\r\n'),
    ('SET k w GET EXAT ' + AT_S, b'$1\r\nv\r\n'),
    ('SETEX k 0 v', b"-ERR invalid expire time in 'setex' command\r\n"),
    ('PSETEX k -5 v', b"-ERR invalid expire time in 'psetex' command\r\n"),
    ('GETEX k EX 0', b"-ERR invalid expire time in 'getex' command\r\n"),
    ('GETEX k PERSIST', b'$1\r\nv\r\n'),
    ('GETEX k NX', b'-ERR syntax error\r\n'),
    ('GETEX nokey EX abc', b'$-1\r\n'),
    ('INCRBYFLOAT f 10.5', b'$4\r\n10.5\r\n'),
    ('INCRBYFLOAT n 0.1', b'$4\r\n10.1\r\n'),
    ('INCRBYFLOAT f abc', b'-ERR value is not a valid float\r\n'),
    ('INCRBYFLOAT k 1', b'-ERR value is not a valid float\r\n'),
    ('INCRBYFLOAT f inf', b'-ERR increment would produce NaN or Infinity\r\n'),
    ('GETRANGE k 0 -1', b'$1\r\nv\r\n'),
    ('GETRANGE nokey 0 -1', b'$0\r\n\r\n'),
    ('SUBSTR k 5 10', b'$0\r\n\r\n'),
    ('SETRANGE k 2 x', b':3\r\n'),
    ('SETRANGE k -1 x', b'-ERR offset is out of range\r\n'),
    ('SETRANGE k 536870912 x',
     b'-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n'),
    ('MSETNX a 1 k 2', b':0\r\n'),
    ('MSETNX a 1 b 2', b':1\r\n'),
    ('MSETNX a 1 b', b"-ERR wrong number of arguments for 'msetnx' command\r\n"),
]


PINNED_SETUP = [  # (command, its reply) before each pinned command
    (['SET', 'k', 'v'], b'+OK\r\n'),
    (['SET', 'n', '10'], b'+OK\r\n'),
]


@pytest.mark.parametrize('cmd,expected', PINNED, ids=[p[0] for p in PINNED])
def test_pinned_reply(cmd, expected, node, redis_server):
    check_pinned((redis_server, node), PINNED_SETUP, cmd, expected)


def test_redis_py_strings_with_expiry(node):
    r = node.client()
    assert r.set('k', 'v', ex=100) is True
    assert r.ttl('k') == 100
    assert r.set('k', 'w', keepttl=True) is True
    assert r.ttl('k') == 100
    assert r.setex('s', 50, 'x') is True
    assert r.ttl('s') == 50
    assert r.psetex('p', 60000, 'y') is True
    assert r.ttl('p') == 60
    assert r.getex('s', persist=True) == b'x'
    assert r.ttl('s') == -1
    assert r.incrbyfloat('f', 2.5) == 2.5
    assert r.incrbyfloat('f', -0.5) == 2.0
    assert r.get('f') == b'2'
    assert r.setrange('r', 2, 'ab') == 4
    assert r.get('r') == b'\x00\x00ab'
    assert r.getrange('r', 2, -1) == b'ab'
    assert r.msetnx({'m1': '1', 'm2': '2'}) is True
    assert r.msetnx({'m2': '3', 'm3': '4'}) is False
    assert r.mget('m1', 'm2', 'm3') == [b'1', b'2', None]
