"""Differential command tests: redis-raft must answer like redis-server 7.0.

Each sequence below runs on an empty keyspace, once against redis-raft and
once against a stock redis-server, over raw sockets; the reply bytes must be
identical, command by command. A small set of replies is also pinned to
literal bytes so that a sequence cannot pass because both servers failed
the same way (e.g. both answer "unknown command").
"""

import pytest
import redis

import differential
from differential import (assert_same, check_pinned, compare, compare_pipelined, run,
                          run_pipelined, sequences_in_one_write)

LLONG_MAX = '9223372036854775807'
LLONG_MIN = '-9223372036854775808'


c = differential.split_command  # 'SET k v' -> ['SET', 'k', 'v']


SEQUENCES = {
    # ---- connection / server
    'ping_echo': ['PING', 'PING hello', 'ping', 'PiNg x', 'PING a b',
                  'ECHO hi', 'echo hi', ['ECHO', ''], 'ECHO', 'ECHO a b',
                  ['ECHO', b'\x00\r\n\xff'], ['PING', b'a\r\nb']],
    'select': ['SELECT 0', 'select 0', 'SELECT abc', 'SELECT', 'SELECT 0 1',
               ['SELECT', ''], 'SELECT 0x1', 'SELECT 1.5', 'SET k v', 'SELECT 0', 'GET k'],
    'dbsize': ['DBSIZE', 'SET a 1', 'SET b 2', 'RPUSH l x', 'DBSIZE', 'DEL a',
               'DBSIZE', 'DBSIZE x', 'dbsize'],
    'flushall': ['SET a 1', 'RPUSH l x', 'FLUSHALL', 'DBSIZE', 'GET a', 'EXISTS l',
                 'SET a 1', 'FLUSHALL ASYNC', 'DBSIZE', 'SET a 1', 'FLUSHALL SYNC',
                 'DBSIZE', 'FLUSHALL async', 'flushall sync', 'FLUSHALL foo',
                 'FLUSHALL SYNC ASYNC', 'FLUSHALL a b c', 'DBSIZE'],
    'flushdb': ['SET a 1', 'FLUSHDB', 'DBSIZE', 'SET a 1', 'FLUSHDB ASYNC', 'DBSIZE',
                'SET a 1', 'FLUSHDB SYNC', 'DBSIZE', 'FLUSHDB bad', 'FLUSHDB a b', 'flushdb'],

    # ---- strings
    'set_get': ['GET k', 'SET k v', 'GET k', 'SET k v2', 'GET k', 'STRLEN k',
                'STRLEN missing', 'TYPE k', 'TYPE missing', 'EXISTS k', 'DBSIZE',
                'GET missing'],
    'set_empty_value': [['SET', 'k', ''], 'GET k', 'STRLEN k', 'EXISTS k', 'TYPE k',
                        ['APPEND', 'k', ''], 'GET k', 'INCR k', ['SET', '', 'empty key'],
                        ['GET', ''], 'DBSIZE'],
    'set_nx_xx': ['SET k v NX', 'SET k v2 NX', 'GET k', 'SET k v3 XX', 'GET k',
                  'SET n v XX', 'GET n', 'EXISTS n', 'SET k v NX XX', 'SET k v XX NX',
                  'SET k v4 nx', 'SET k v5 Xx', 'GET k', 'SET k v NX NX', 'SET k v XX XX',
                  'GET k'],
    'set_get_option': ['SET k v GET', 'SET k v2 GET', 'SET k v3 NX GET', 'GET k',
                       'SET k v4 XX GET', 'GET k', 'SET n v XX GET', 'EXISTS n',
                       'SET n v NX GET', 'GET n', 'SET k v5 GET GET', 'SET k v6 get',
                       'SET k v GET XX NX', 'SET k v foo', 'SET k v NX foo',
                       'SET k v GET extra', 'GET k'],
    'set_wrongtype': ['RPUSH l a', 'SET l v GET', 'TYPE l', 'LRANGE l 0 -1',
                      'SET l v NX', 'SET l v NX GET', 'SET l v XX GET', 'TYPE l',
                      'SET l v XX', 'TYPE l', 'GET l'],
    'set_overwrites_list': ['RPUSH l a b', 'SET l x', 'TYPE l', 'GET l', 'LLEN l'],
    'setnx': ['SETNX k v', 'SETNX k w', 'GET k', 'RPUSH l a', 'SETNX l v', 'TYPE l',
              'setnx k2 v', 'GET k2'],
    'getset': ['GETSET k v', 'GETSET k w', 'GET k', 'RPUSH l a', 'GETSET l v',
               'TYPE l', 'SET n 5', 'GETSET n 6', 'INCR n'],
    'getdel': ['SET k v', 'GETDEL k', 'GETDEL k', 'EXISTS k', 'RPUSH l a',
               'GETDEL l', 'EXISTS l', 'SET n 12', 'INCR n', 'GETDEL n', 'DBSIZE'],
    'mget': ['MSET a 1 b 2', 'MGET a b c', 'RPUSH l x', 'MGET a l b', 'MGET a a',
             'MGET missing', 'SET n 10', 'INCR n', 'MGET n a'],
    'mset': ['MSET a 1', 'GET a', 'MSET a 1 b', 'MSET a', 'MSET a 1 a 2', 'GET a',
             'RPUSH l x', 'MSET l v x y', 'TYPE l', 'GET l', 'GET x', 'DBSIZE',
             'mset z 1 y 2 x 3', 'MGET z y x'],
    'append': ['APPEND k abc', 'APPEND k def', 'GET k', 'STRLEN k', 'RPUSH l a',
               'APPEND l x', 'SET n 10', 'APPEND n 5', 'GET n', 'INCR n', 'APPEND n x',
               'GET n', 'INCR n', 'TYPE n'],
    'strlen': ['RPUSH l a', 'STRLEN l', 'SET n 12345', 'INCR n', 'STRLEN n',
               'SET neg -5', 'STRLEN neg', 'DECRBY neg 100', 'STRLEN neg',
               'STRLEN missing'],

    # ---- counters
    'incr_decr': ['INCR c', 'INCR c', 'DECR c', 'DECR c', 'DECR c', 'GET c', 'TYPE c',
                  'INCRBY c 10', 'INCRBY c -20', 'DECRBY c 5', 'DECRBY c -5', 'GET c',
                  'INCRBY c 0', 'DECRBY d 3', 'DECR e', 'INCRBY f -7', 'MGET c d e f',
                  'incr c', 'IncrBy c 2', 'decrBY c 2'],
    'incr_not_integer': [
        'SET s abc', 'INCR s', 'SET s 1.5', 'INCR s', ['SET', 's', ''], 'INCR s',
        ['SET', 's', ' 1'], 'INCR s', ['SET', 's', '1 '], 'INCR s', 'SET s +1', 'INCR s',
        'SET s 01', 'INCR s', 'SET s -0', 'INCR s', 'SET s 0x10', 'INCR s',
        'SET s 1e3', 'INCR s', 'SET s 9223372036854775808', 'INCR s',
        'SET s -9223372036854775809', 'DECR s', ['SET', 's', b'1\x002'], 'INCR s',
        ['SET', 's', '1\r\n'], 'INCR s', 'SET s 00', 'DECR s', 'SET s -', 'INCR s',
        'SET s 123456789012345678901', 'INCR s', 'GET s'],
    'incrby_bad_increment': [
        'INCRBY c abc', 'INCRBY c 1.5', ['INCRBY', 'c', ''], 'INCRBY c 9223372036854775808',
        'INCRBY c -9223372036854775809', 'DECRBY c abc', ['INCRBY', 'c', ' 1'],
        'INCRBY c 01', 'INCRBY c +1', 'DECRBY c 1e2', 'EXISTS c', 'INCRBY c -0',
        'GET c'],
    'incr_overflow': [
        'SET c ' + LLONG_MAX, 'INCR c', 'INCRBY c 1', 'GET c', 'INCRBY c -1', 'GET c',
        'SET c ' + LLONG_MIN, 'DECR c', 'DECRBY c 1', 'INCRBY c -1', 'GET c', 'INCR c',
        'SET d 0', 'DECRBY d ' + LLONG_MIN, 'GET d', 'DECRBY d ' + LLONG_MAX,
        'DECRBY d 1', 'DECRBY d 1', 'GET d', 'INCRBY e ' + LLONG_MAX,
        'INCRBY e ' + LLONG_MAX, 'GET e', 'INCRBY f ' + LLONG_MIN, 'DECR f',
        'INCRBY f ' + LLONG_MAX, 'DECRBY g ' + LLONG_MIN, 'EXISTS g',
        'SET h -1', 'DECRBY h ' + LLONG_MAX, 'GET h', 'SET h 1', 'INCRBY h ' + LLONG_MAX,
        'GET h'],
    'incr_wrongtype': ['RPUSH l a', 'INCR l', 'DECR l', 'INCRBY l 1', 'DECRBY l 1',
                       'INCRBY l abc', 'LRANGE l 0 -1'],

    # ---- keys
    'del_unlink': ['SET a 1', 'SET b 2', 'RPUSH l x', 'DEL a b l missing', 'DEL a',
                   'EXISTS a b l', 'DBSIZE', 'SET a 1', 'DEL a a', 'SET a 1',
                   'UNLINK a missing', 'RPUSH l x y', 'UNLINK l l', 'DBSIZE',
                   'del missing', 'unlink missing'],
    'exists': ['SET a 1', 'EXISTS a a a', 'EXISTS missing', 'RPUSH l x',
               'EXISTS a l missing l', 'exists a'],
    'type': ['SET s v', 'RPUSH l a', 'TYPE s', 'TYPE l', 'TYPE missing', 'INCR n',
             'TYPE n', 'type s'],

    # ---- lists
    'push_pop': ['LPUSH l a b c', 'RPUSH l d e', 'LRANGE l 0 -1', 'LLEN l', 'LPOP l',
                 'RPOP l', 'LRANGE l 0 -1', 'LPUSHX l z', 'RPUSHX l y', 'LPUSHX m z',
                 'RPUSHX m z', 'EXISTS m', 'LPUSHX l 1 2 3', 'RPUSHX l 4 5',
                 'LRANGE l 0 -1', 'LLEN missing', 'TYPE l', 'lpush l q', 'Rpush l r',
                 'LLEN l'],
    'pop_deletes_empty_list': ['RPUSH l a', 'LPOP l', 'EXISTS l', 'LPOP l', 'RPOP l',
                               'TYPE l', 'DBSIZE', 'RPUSH l a b', 'RPOP l', 'RPOP l',
                               'EXISTS l', 'LLEN l', 'LRANGE l 0 -1', 'LPUSHX l a',
                               'EXISTS l'],
    'pop_count': ['RPUSH l a b c d e', 'LPOP l 0', 'RPOP l 0', 'LPOP l 2', 'RPOP l 2',
                  'LPOP l 10', 'EXISTS l', 'LPOP l 1', 'RPOP l 1', 'LPOP l 0', 'RPOP l 0',
                  'LPOP l -1', 'RPOP l -1', 'LPOP l abc', 'RPOP l 1.5', 'RPUSH l x',
                  'RPOP l 1', 'RPUSH l x y', 'LPOP l -1', 'LPOP l ' + LLONG_MAX,
                  'RPUSH l x', 'LPOP l 9223372036854775808', 'RPOP l ' + LLONG_MIN,
                  'RPOP l 100', 'lpop missing 3', 'LLEN l'],
    'list_wrongtype': ['SET s v', 'LPUSH s a', 'RPUSH s a', 'LPUSHX s a', 'RPUSHX s a',
                       'LPOP s', 'RPOP s', 'LPOP s 0', 'RPOP s 2', 'LPOP s -1',
                       'LPOP s abc', 'LLEN s', 'LINDEX s 0', 'LINDEX s abc',
                       'LRANGE s 0 -1', 'LRANGE s a b', 'LSET s 0 x', 'LSET s abc x',
                       'LREM s 0 x', 'LREM s x x', 'LTRIM s 0 1', 'LTRIM s a b',
                       'GET s', 'TYPE s'],
    'lindex': ['RPUSH l a b c', 'LINDEX l 0', 'LINDEX l -1', 'LINDEX l -3',
               'LINDEX l -4', 'LINDEX l 3', 'LINDEX l 100', 'LINDEX l abc',
               'LINDEX missing 0', 'LINDEX missing abc', 'LINDEX l ' + LLONG_MAX,
               'LINDEX l ' + LLONG_MIN, 'LINDEX l 9223372036854775808', 'LINDEX l 1.0',
               ['LINDEX', 'l', ''], 'lindex l 1'],
    'lrange': ['RPUSH l a b c d e', 'LRANGE l 0 -1', 'LRANGE l 1 3', 'LRANGE l -2 -1',
               'LRANGE l -100 100', 'LRANGE l 3 1', 'LRANGE l 5 10', 'LRANGE l -1 -5',
               'LRANGE l 0 0', 'LRANGE l 4 4', 'LRANGE l -5 -5', 'LRANGE l -6 -6',
               'LRANGE missing 0 -1', 'LRANGE missing a b', 'LRANGE l a b',
               'LRANGE l 0 b', 'LRANGE l ' + LLONG_MIN + ' ' + LLONG_MAX,
               'LRANGE l 0 9223372036854775808', 'lrange l 1 -2'],
    'lset': ['RPUSH l a b c', 'LSET l 0 x', 'LSET l -1 z', 'LSET l 3 q', 'LSET l -4 q',
             'LSET missing 0 x', 'LSET missing abc x', 'LSET l abc x', 'LSET l 1.5 x',
             ['LSET', 'l', '1', b'\x00\r\n'], 'LRANGE l 0 -1', 'LSET l ' + LLONG_MAX + ' x',
             'EXISTS missing'],
    'lrem': ['RPUSH l a b a c a b a', 'LREM l 2 a', 'LRANGE l 0 -1', 'LREM l -1 a',
             'LRANGE l 0 -1', 'LREM l 0 a', 'LRANGE l 0 -1', 'LREM l 0 zz',
             'LREM missing 0 a', 'LREM l x a', 'LREM l 1.5 a', 'LREM l 0 b', 'LREM l 0 c',
             'EXISTS l', 'RPUSH m x x x x', 'LREM m -2 x', 'LRANGE m 0 -1',
             'LREM m ' + LLONG_MIN + ' x', 'EXISTS m', 'RPUSH m A a', 'LREM m 0 A',
             'LRANGE m 0 -1'],
    'ltrim': ['RPUSH l a b c d e', 'LTRIM l 1 -2', 'LRANGE l 0 -1', 'LTRIM l 0 0',
              'LRANGE l 0 -1', 'LTRIM l 5 10', 'EXISTS l', 'LTRIM missing 0 1',
              'LTRIM l a b', 'RPUSH l a b c', 'LTRIM l -1 -100', 'EXISTS l',
              'RPUSH m a b c', 'LTRIM m -100 100', 'LRANGE m 0 -1', 'LTRIM m 1 0',
              'EXISTS m', 'RPUSH n a b c', 'LTRIM n -2 -1', 'LRANGE n 0 -1',
              'LTRIM n 0 ' + LLONG_MAX, 'LRANGE n 0 -1', 'LTRIM n 1 9223372036854775808',
              'DBSIZE'],
    'long_list': [['RPUSH', 'l'] + [str(i) for i in range(300)], 'LLEN l',
                  'LRANGE l 100 110', 'LINDEX l 250', 'LINDEX l -300', 'LSET l 150 x',
                  'LRANGE l 148 152', ['LPUSH', 'l'] + ['p%d' % i for i in range(50)],
                  'LRANGE l 0 3', 'LREM l 0 x', 'LTRIM l 10 -10', 'LLEN l', 'LPOP l 5',
                  'RPOP l 5', 'LRANGE l -3 -1', 'LLEN l'],

    'many_keys': [['MSET'] + [x for i in range(5000) for x in ('key%d' % i, str(i))],
                  'DBSIZE', ['MGET'] + ['key%d' % i for i in range(0, 6000, 3)],
                  ['EXISTS'] + ['key%d' % i for i in range(4990, 5010)],
                  ['DEL'] + ['key%d' % i for i in range(0, 5000, 2)], 'DBSIZE',
                  ['UNLINK'] + ['key%d' % i for i in range(5000)], 'DBSIZE'],

    # ---- binary safety
    'binary_values': [
        ['SET', b'k\x00\r\n', b'\x00\r\n\xff'], ['GET', b'k\x00\r\n'], ['GET', b'k\x00'],
        ['STRLEN', b'k\x00\r\n'], ['APPEND', b'k\x00\r\n', b'\r\n\x00'],
        ['GET', b'k\x00\r\n'], ['MGET', b'k\x00\r\n', b'k'], ['EXISTS', b'k\x00\r\n'],
        ['TYPE', b'k\x00\r\n'], ['RPUSH', b'l\r\n', b'\r\n', b'\x00', b'', b'$3\r\n'],
        ['LRANGE', b'l\r\n', '0', '-1'], ['LINDEX', b'l\r\n', '1'],
        ['LREM', b'l\r\n', '0', b'\x00'], ['LRANGE', b'l\r\n', '0', '-1'],
        ['LPOP', b'l\r\n', '2'], ['GETSET', b'k\x00\r\n', b'*1\r\n'],
        ['GETDEL', b'k\x00\r\n'], ['SET', b'\xff\xfe', b'\x80'], ['GET', b'\xff\xfe'],
        ['MSET', b'a\x00', b'1\x00', b'a', b'2'], ['MGET', b'a\x00', b'a'],
        ['INCR', b'a\x00'], ['DEL', b'a\x00', b'\xff\xfe'], 'DBSIZE'],
    'big_values': [['SET', 'k', 'x' * 100000], 'STRLEN k', 'GET k',
                   ['APPEND', 'k', 'y' * 50000], 'STRLEN k', ['ECHO', 'z' * 70000],
                   ['RPUSH', 'l', 'a' * 40000, 'b' * 40000], 'LINDEX l 1', 'LLEN l',
                   ['GETSET', 'k', 'small'], 'GET k'],

    # ---- unknown commands and names
    'unknown_command': [
        'FOOBAR', 'FOOBAR a b c', 'foobar a', ['FOOBAR', 'x' * 200],
        ['FOOBAR', 'a\r\nb', 'c\nd'], ['X' * 200, 'a'], [''], ['', 'a'],
        ['FOOBAR'] + ['abcde'] * 50, ['FOO\r\nBAR', 'x'], ['FOOBAR', '', ''],
        ['GET\x00', 'k'], ['FOOBAR', "it's"], 'GETX k', 'SE k v', 'SETT k v'],
    'case_insensitive': ['set k v', 'GeT k', 'sEt k w nX', 'SET k w xX GeT', 'get k',
                         'lPuSh l a', 'RPUSH l b', 'lrange l 0 -1', 'LLen l', 'incr n',
                         'iNcRbY n 5', 'Exists k l n', 'TYPE L', 'type l', 'dEl k',
                         'mSeT a 1 b 2', 'mGeT a b', 'GETdel a', 'getSET b 3',
                         'Strlen b', 'APPend b 4', 'lpOP l', 'rPoP l 5', 'DBSize',
                         'Echo x', 'Ping'],
}

# Arity of every command (Redis convention: -N means at least N).
ARITY = {
    'PING': -1, 'ECHO': 2, 'SELECT': 2, 'DBSIZE': 1, 'FLUSHALL': -1, 'FLUSHDB': -1,
    'GET': 2, 'SET': -3, 'SETNX': 3, 'GETSET': 3, 'GETDEL': 2, 'MGET': -2, 'MSET': -3,
    'APPEND': 3, 'STRLEN': 2, 'DEL': -2, 'UNLINK': -2, 'EXISTS': -2, 'TYPE': 2,
    'INCR': 2, 'DECR': 2, 'INCRBY': 3, 'DECRBY': 3, 'LPUSH': -3, 'RPUSH': -3,
    'LPUSHX': -3, 'RPUSHX': -3, 'LPOP': -2, 'RPOP': -2, 'LLEN': 2, 'LINDEX': 3,
    'LRANGE': 4, 'LSET': 4, 'LREM': 4, 'LTRIM': 4, 'INFO': -1, 'QUIT': -1,
}


def _arity_sequence(name, arity):
    """Calls with too few and (for fixed arity) too many arguments. The
    arguments are numbers so that only the count can be wrong."""
    calls = differential.arity_sequence(name, arity, lowercase_call=False, dbsize=False)
    if arity > 0:
        calls.append([name] + ['1'] * (abs(arity) + 3))
    if name in ('LPOP', 'RPOP'):
        calls.append([name, 'k', '1', '2'])
    return calls


for _name, _arity in ARITY.items():
    if _name in ('QUIT', 'INFO', 'PING', 'FLUSHALL', 'FLUSHDB'):
        continue  # no wrong arity (QUIT, INFO: any argc; the rest covered above)
    SEQUENCES['arity_' + _name.lower()] = _arity_sequence(_name, _arity) + [
        [_name.lower()] + ['1'] * (abs(_arity) + 3 if _arity > 0 else 0), 'DBSIZE']
SEQUENCES['arity_ping'] = ['PING a b', 'ping a b c', 'DBSIZE']


@pytest.mark.parametrize('name', sorted(SEQUENCES))
def test_same_replies_as_redis(name, node, redis_server):
    commands = SEQUENCES[name]
    compare(node, redis_server, commands)


def test_all_sequences_pipelined_in_one_write(node, redis_server):
    """Every sequence, each after FLUSHALL, sent as one write: batching
    many commands into one log entry must not change any reply."""
    compare_pipelined(node, redis_server, sequences_in_one_write(SEQUENCES))


# Replies pinned to literal bytes (what redis-server 7.0 sends), checked on
# both servers: they guard the differential test against shared failures.
PINNED = [
    ('SET k v', b'+OK\r\n'),
    ('GET k', b'$1\r\nv\r\n'),
    ('GET nokey', b'$-1\r\n'),
    ('INCRBY k 1', b'-ERR value is not an integer or out of range\r\n'),
    ('SET c ' + LLONG_MAX, b'+OK\r\n'),
    ('INCRBY c 1', b'-ERR increment or decrement would overflow\r\n'),
    ('DECRBY c ' + LLONG_MIN, b'-ERR decrement would overflow\r\n'),
    ('RPUSH l d', b':4\r\n'),
    ('INCR l', b'-WRONGTYPE Operation against a key holding the wrong kind of value\r\n'),
    ('LPOP l 0', b'*0\r\n'),
    ('LPOP l -1', b'-ERR value is out of range, must be positive\r\n'),
    ('RPOP l 2', b'*2\r\n$1\r\nc\r\n$1\r\nb\r\n'),
    ('LPOP nolist 1', b'*-1\r\n'),
    ('LSET nolist 0 x', b'-ERR no such key\r\n'),
    ('LSET l 5 x', b'-ERR index out of range\r\n'),
    ('MSET a 1 b', b"-ERR wrong number of arguments for 'mset' command\r\n"),
    ('GeT a b', b"-ERR wrong number of arguments for 'get' command\r\n"),
    ('SET k v NX XX', b'-ERR syntax error\r\n'),
    ('FOOBAR a b', b"-ERR unknown command 'FOOBAR', with args beginning with: 'a' 'b' \r\n"),
    ('SELECT 0', b'+OK\r\n'),
    ('EXISTS k k nokey', b':2\r\n'),
    ('TYPE l', b'+list\r\n'),
]


PINNED_SETUP = [  # (command, its reply) before each pinned command
    (['SET', 'k', 'v'], b'+OK\r\n'),
    (['RPUSH', 'l', 'a', 'b', 'c'], b':3\r\n'),
    (['SET', 'c', LLONG_MAX], b'+OK\r\n'),
]


@pytest.mark.parametrize('cmd,expected', PINNED, ids=[p[0] for p in PINNED])
def test_pinned_reply(cmd, expected, node, redis_server):
    check_pinned((redis_server, node), PINNED_SETUP, cmd, expected)


def test_select_nonzero_refused_in_cluster_mode(node):
    """redis-raft is a cluster: SELECT of any other db fails like Redis Cluster."""
    from conftest import redis_raft_only
    redis_raft_only()
    err = b'-ERR SELECT is not allowed in cluster mode\r\n'
    with node.raw() as conn:
        assert conn.command('SELECT', '1') == err
        assert conn.command('SELECT', '15') == err
        assert conn.command('SELECT', '-1') == err
        assert conn.command('SELECT', '16') == err
        assert conn.command('SELECT', 'x') == \
            b'-ERR value is not an integer or out of range\r\n'
        # The connection still works, on db 0.
        assert conn.command('SET', 'k', 'v') == b'+OK\r\n'
        assert conn.command('SELECT', '0') == b'+OK\r\n'
        assert conn.command('GET', 'k') == b'$1\r\nv\r\n'


def test_replies_in_request_order_across_connections(node):
    """Two connections interleaving commands on one key see each other's
    writes in the order they were acknowledged."""
    for proc in (node,):
        with proc.raw() as a, proc.raw() as b:
            for i in range(1, 51):
                conn = a if i % 2 else b
                assert conn.command('INCR', 'shared') == b':%d\r\n' % i
            assert a.command('GET', 'shared') == b'$2\r\n50\r\n'
            assert b.command('GET', 'shared') == b'$2\r\n50\r\n'


# ---------------------------------------------------------------------------
# redis-py level checks


def test_redis_py_strings(node):
    r = node.client()
    assert r.set('k', 'v') is True
    assert r.get('k') == b'v'
    assert r.set('k', 'w', nx=True) is None
    assert r.set('k', 'w', xx=True, get=True) == b'v'
    assert r.setnx('k', 'z') is False
    assert r.getset('k', 'x') == b'w'
    assert r.getdel('k') == b'x'
    assert r.get('k') is None
    assert r.mset({'a': '1', 'b': '2'}) is True
    assert r.mget('a', 'b', 'c') == [b'1', b'2', None]
    assert r.append('a', '23') == 3
    assert r.strlen('a') == 3
    assert r.incr('a') == 124
    assert r.decr('a') == 123
    assert r.incrby('a', 10) == 133
    assert r.decrby('a', 33) == 100
    assert r.exists('a', 'b', 'zz') == 2
    assert r.type('a') == b'string'
    assert r.delete('a', 'b') == 2
    assert r.unlink('a') == 0
    assert r.dbsize() == 0
    assert r.ping() is True
    assert r.echo('hi') == b'hi'


def test_redis_py_lists(node):
    r = node.client()
    assert r.rpush('l', 'a', 'b', 'c') == 3
    assert r.lpush('l', 'z') == 4
    assert r.lpushx('l', 'y') == 5
    assert r.rpushx('nol', 'y') == 0
    assert r.lrange('l', 0, -1) == [b'y', b'z', b'a', b'b', b'c']
    assert r.llen('l') == 5
    assert r.lindex('l', -1) == b'c'
    assert r.lset('l', 0, 'Y') is True
    assert r.lrem('l', 0, 'z') == 1
    assert r.ltrim('l', 0, 2) is True
    assert r.lrange('l', 0, -1) == [b'Y', b'a', b'b']
    assert r.lpop('l') == b'Y'
    assert r.rpop('l', 5) == [b'b', b'a']
    assert r.exists('l') == 0
    assert r.lpop('l', 2) is None
    assert r.type('l') == b'none'


def test_redis_py_errors(node):
    r = node.client()
    r.rpush('l', 'a')
    with pytest.raises(redis.ResponseError, match='^WRONGTYPE Operation against a key'):
        r.get('l')
    with pytest.raises(redis.ResponseError, match='^value is not an integer or out of range$'):
        r.incrby('x', 'abc')
    with pytest.raises(redis.ResponseError, match="^wrong number of arguments for 'get' command$"):
        r.execute_command('GET')
    with pytest.raises(redis.ResponseError, match='^no such key$'):
        r.lset('nokey', 0, 'x')
    # The connection is still usable after errors.
    assert r.llen('l') == 1


def test_redis_py_pipeline_and_info(node):
    r = node.client()
    p = r.pipeline(transaction=False)
    for _ in range(100):
        p.incr('n')
    p.get('n')
    p.rpush('l', *range(10))
    p.lrange('l', 0, 2)
    out = p.execute()
    assert out[:100] == list(range(1, 101))
    assert out[100:] == [b'100', 10, [b'0', b'1', b'2']]
    info = r.info()
    assert info['db0'] == {'keys': 2, 'expires': 0, 'avg_ttl': 0}
    assert r.flushall() is True
    assert r.dbsize() == 0


# ---------------------------------------------------------------------------
# Seeded random differential test: many short commands over a few keys, so
# that types, empty lists, counters and errors collide in every way.

KEYS = ['a', 'b', 'l', 'm', b'\x00k']
VALUES = ['', '0', '1', '-1', '17', 'x', 'abc', LLONG_MAX, LLONG_MIN, '9223372036854775808',
          b'\x00\r\n', ' 1', '01']
INDEXES = ['-100', '-3', '-2', '-1', '0', '1', '2', '3', '100', 'x', '', LLONG_MIN, LLONG_MAX]
COUNTS = ['0', '1', '2', '5', '-1', 'x', LLONG_MAX]


def random_command(rnd):
    k = lambda: rnd.choice(KEYS)  # noqa: E731
    # Mostly list commands on list keys, string commands on string keys.
    lk = lambda: rnd.choice(['l', 'm']) if rnd.random() < 0.75 else k()  # noqa: E731
    sk = lambda: rnd.choice(['a', 'b']) if rnd.random() < 0.75 else k()  # noqa: E731
    v = lambda: rnd.choice(VALUES)  # noqa: E731
    i = lambda: rnd.choice(INDEXES)  # noqa: E731
    makers = [
        lambda: ['GET', sk()], lambda: ['SET', sk(), v()],
        lambda: ['SET', sk(), v()] + rnd.sample(['NX', 'XX', 'GET', 'nx', 'get'], rnd.randint(1, 2)),
        lambda: ['SETNX', k(), v()], lambda: ['GETSET', k(), v()], lambda: ['GETDEL', k()],
        lambda: ['MGET'] + [k() for _ in range(rnd.randint(1, 4))],
        lambda: ['MSET'] + [x for _ in range(rnd.randint(1, 3)) for x in (k(), v())],
        lambda: ['APPEND', sk(), v()], lambda: ['STRLEN', sk()],
        lambda: ['DEL'] + [k() for _ in range(rnd.randint(1, 3))],
        lambda: ['UNLINK', k()], lambda: ['EXISTS', k(), k()], lambda: ['TYPE', k()],
        lambda: ['INCR', sk()], lambda: ['DECR', sk()], lambda: ['INCRBY', sk(), v()],
        lambda: ['DECRBY', sk(), v()],
        lambda: [rnd.choice(['LPUSH', 'RPUSH', 'LPUSHX', 'RPUSHX']), lk()] +
                [v() for _ in range(rnd.randint(1, 4))],
        lambda: [rnd.choice(['LPOP', 'RPOP']), lk()],
        lambda: [rnd.choice(['LPOP', 'RPOP']), lk(), rnd.choice(COUNTS)],
        lambda: ['LLEN', lk()], lambda: ['LINDEX', lk(), i()], lambda: ['LRANGE', lk(), i(), i()],
        lambda: ['LSET', lk(), i(), v()], lambda: ['LREM', lk(), rnd.choice(COUNTS + ['-2']), v()],
        lambda: ['LTRIM', lk(), i(), i()], lambda: ['DBSIZE'], lambda: ['PING'],
        lambda: ['ECHO', v()],
    ]
    cmd = rnd.choice(makers)()
    roll = rnd.random()
    if roll < 0.03:
        cmd = cmd[:-1] if len(cmd) > 1 else cmd + ['extra']   # wrong arity, mostly
    elif roll < 0.06:
        cmd[0] = cmd[0].lower()
    return cmd


@pytest.mark.parametrize('seed', [1, 2, 3, 4])
def test_random_commands_same_as_redis(seed, node, redis_server):
    import random
    rnd = random.Random(seed)
    commands = [random_command(rnd) for _ in range(1500)]
    want = run_pipelined(redis_server, commands)
    got = run_pipelined(node, commands)
    assert_same(commands, got, want)
    # And the final keyspaces agree.
    final = [['DBSIZE']] + [[op, key] for key in KEYS for op in ('TYPE', 'GET', 'LLEN')] + \
        [['LRANGE', key, '0', '-1'] for key in KEYS]
    assert_same(final, run(node, final, flush=False), run(redis_server, final, flush=False))
