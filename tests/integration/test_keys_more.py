"""Key-space and list commands: KEYS, SCAN, RANDOMKEY, RENAME, RENAMENX,
COPY, TYPE, LPOS, LINSERT, LMOVE, RPOPLPUSH.

Differential like test_commands.py: each sequence runs on an empty keyspace
against redis-raft and against a stock redis-server 7.0, and the reply bytes
must be identical. KEYS and SCAN return keys in table order, which differs
between the servers, so their key lists are compared sorted. A few replies
are pinned to literal bytes, and redis-raft's cluster-mode answers (COPY ...
DB n) are checked on their own. The last tests check SCAN's guarantee
across table resizes and that RENAME/LMOVE agree on every node of a
cluster.
"""

import random

import pytest

from conftest import redis_raft_only
import differential
from differential import (assert_same, check_pinned, compare, compare_pipelined, plain,
                          run, run_pipelined, sequences_in_one_write)
from harness import encode, scaled, wait_until

LLONG_MAX = '9223372036854775807'
LLONG_MIN = '-9223372036854775808'
RANK0 = (b"-ERR RANK can't be zero: use 1 to start from the first match, 2 from "
         b"the second ... or use negative to start from the end of the list\r\n")


c = differential.split_command  # 'SET k v' -> ['SET', 'k', 'v']


# ---------------------------------------------------------------------------
# Differential sequences (replies whose order is the same on both servers).

SEQUENCES = {
    'type_all': ['SET s v', 'RPUSH l a', 'SADD st m', 'TYPE s', 'TYPE l', 'TYPE st',
                 'TYPE missing', 'type ST', 'COPY st st2', 'SMEMBERS st2', 'SADD st2 n',
                 'SCARD st', 'RENAME st st3', 'TYPE st3', 'TYPE st', 'LMOVE st3 x LEFT LEFT',
                 'LMOVE l st3 LEFT LEFT', 'LRANGE l 0 -1', 'LPOS st3 m', 'RENAMENX s st3'],
    'type_hash': ['HSET h f v', 'TYPE h', 'COPY h h2', 'TYPE h2', 'HGET h2 f',
                  'HSET h2 f w', 'HGET h f', 'RENAME h h3', 'TYPE h3', 'TYPE h',
                  'LINSERT h3 BEFORE a b', 'RPOPLPUSH h3 x'],
    'rename': ['SET a 1', 'RENAME a b', 'GET a', 'GET b', 'RENAME a b', 'RENAME missing x',
               'RENAME b b', 'GET b', 'RPUSH l x y', 'RENAME l b', 'TYPE b',
               'LRANGE b 0 -1', 'EXISTS l', 'SET c 3', 'RENAME b c', 'TYPE c',
               'LRANGE c 0 -1', 'DBSIZE', 'RENAME', 'RENAME a', 'RENAME a b c',
               'rename c C', 'TYPE C', 'RENAME missing missing', 'DBSIZE'],
    'renamenx': ['SET a 1', 'SET b 2', 'RENAMENX a b', 'GET a', 'GET b', 'RENAMENX a c',
                 'GET c', 'EXISTS a', 'RENAMENX a c', 'RENAMENX c c', 'RENAMENX missing c',
                 'RENAMENX missing missing', 'RPUSH l q', 'RENAMENX l b', 'RENAMENX l m',
                 'TYPE m', 'renamenx m n', 'LRANGE n 0 -1', 'RENAMENX n', 'DBSIZE'],
    'copy': ['SET a 1', 'COPY a b', 'GET b', 'COPY a b', 'COPY a b REPLACE', 'SET a 2',
             'GET b', 'COPY a b replace', 'GET b', 'COPY missing b', 'COPY missing b REPLACE',
             'GET b', 'COPY a a', 'COPY missing missing', 'COPY a a REPLACE',
             'COPY a a DB 0', 'COPY a c DB 0', 'GET c', 'COPY a c DB 0 REPLACE',
             'COPY a d REPLACE DB 0', 'COPY a d REPLACE REPLACE', 'COPY a d DB 0 DB 0',
             'COPY a e foo', 'COPY a e DB', 'COPY a e DB x', 'COPY a e DB 1.5',
             'COPY a e DB 16', 'COPY a e DB -1', 'COPY a e DB 2147483648',
             'COPY a e DB -2147483649', 'COPY a e DB ' + LLONG_MAX, 'COPY a e DB 99 foo',
             'COPY a e foo DB 99', 'COPY a e DB 0 foo', 'COPY a e REPLACE foo',
             'COPY a a DB x', 'COPY a e db 0 replace', 'COPY', 'COPY a', 'EXISTS e',
             'DBSIZE'],
    'copy_list_is_deep': ['RPUSH l a b c', 'COPY l m', 'RPUSH m d', 'LPOP l',
                          'LRANGE l 0 -1', 'LRANGE m 0 -1', 'SET s v', 'COPY l s',
                          'COPY l s REPLACE', 'TYPE s', 'LRANGE s 0 -1', 'COPY s l REPLACE',
                          'LRANGE l 0 -1', 'APPEND s x', 'GET s'],
    'lpos': ['RPUSH l a b c a b c a', 'LPOS l a', 'LPOS l b', 'LPOS l z', 'LPOS missing a',
             'LPOS l a RANK 1', 'LPOS l a RANK 2', 'LPOS l a RANK 3', 'LPOS l a RANK 4',
             'LPOS l a RANK -1', 'LPOS l a RANK -3', 'LPOS l a RANK -4',
             'LPOS l a COUNT 0', 'LPOS l a COUNT 1', 'LPOS l a COUNT 2', 'LPOS l a COUNT 10',
             'LPOS l z COUNT 0', 'LPOS missing a COUNT 0', 'LPOS missing a COUNT 3',
             'LPOS l a RANK 2 COUNT 0', 'LPOS l a RANK -2 COUNT 0', 'LPOS l a RANK 3 COUNT 5',
             'LPOS l a RANK 4 COUNT 0', 'LPOS l a RANK 9 COUNT 2', 'LPOS l a MAXLEN 1',
             'LPOS l b MAXLEN 1', 'LPOS l a MAXLEN 0', 'LPOS l a COUNT 0 MAXLEN 4',
             'LPOS l a RANK -1 MAXLEN 1', 'LPOS l a RANK -1 MAXLEN 2 COUNT 0',
             'LPOS l a RANK 2 MAXLEN 3', 'LPOS l a RANK 2 MAXLEN 4',
             'LPOS l a RANK ' + LLONG_MAX, 'LPOS l a RANK -' + LLONG_MAX,
             'LPOS l a RANK ' + LLONG_MAX + ' COUNT 0', 'LPOS l a MAXLEN ' + LLONG_MAX,
             'LPOS l a COUNT ' + LLONG_MAX, 'LPOS l a RANK 1 RANK 2',
             'LPOS l a COUNT 1 COUNT 0', 'lpos l a rank 2 count 2 maxlen 7'],
    'lpos_errors': ['RPUSH l a b', 'LPOS l a RANK 0', 'LPOS missing a RANK 0',
                    'LPOS l a RANK x', 'LPOS l a RANK 1.5', 'LPOS l a RANK',
                    'LPOS l a RANK 9223372036854775808', 'LPOS l a COUNT -1',
                    'LPOS l a COUNT x', 'LPOS l a COUNT 9223372036854775808',
                    'LPOS l a MAXLEN -1', 'LPOS l a MAXLEN x', 'LPOS l a COUNT',
                    'LPOS l a MAXLEN', 'LPOS l a foo 1', 'LPOS l a foo',
                    'LPOS l a RANK 1 foo', 'LPOS l a RANK 0 COUNT -1',
                    'LPOS l a COUNT -1 RANK 0', 'LPOS l a RANK 1 COUNT x MAXLEN -1',
                    ['LPOS', 'l', 'a', 'RANK', ''], 'SET s v', 'LPOS s a', 'LPOS s a COUNT 0',
                    'LPOS s a RANK 0', 'LPOS s a foo', 'LPOS', 'LPOS l', 'LPOS missing a foo'],
    # Redis 7.0's arithmetic: -RANK overflows for -2^63, which then accepts
    # every match and ignores COUNT.
    'lpos_rank_llong_min': ['RPUSH l a b a c a', 'LPOS l a RANK ' + LLONG_MIN,
                            'LPOS l a RANK ' + LLONG_MIN + ' COUNT 2',
                            'LPOS l a RANK ' + LLONG_MIN + ' COUNT 0',
                            'LPOS l a RANK ' + LLONG_MIN + ' MAXLEN 3 COUNT 0',
                            'LPOS l z RANK ' + LLONG_MIN],
    'linsert': ['RPUSH l a b c', 'LINSERT l BEFORE b x', 'LRANGE l 0 -1',
                'LINSERT l AFTER b y', 'LRANGE l 0 -1', 'LINSERT l before a h',
                'LINSERT l after c t', 'LRANGE l 0 -1', 'LINSERT l BEFORE zz q',
                'LINSERT l MIDDLE a q', 'LINSERT missing BEFORE a q', 'EXISTS missing',
                'LINSERT missing MIDDLE a q', 'RPUSH d p p p', 'LINSERT d AFTER p n',
                'LINSERT d BEFORE p m', 'LRANGE d 0 -1', ['LINSERT', 'd', 'AFTER', 'n', ''],
                ['LINSERT', 'd', 'BEFORE', '', b'\x00\r\n'], 'LRANGE d 0 -1',
                'SET s v', 'LINSERT s BEFORE a b', 'LINSERT s MIDDLE a b', 'LINSERT l',
                'LINSERT l BEFORE a', 'LINSERT l BEFORE a b c', 'LLEN l'],
    'linsert_long': [['RPUSH', 'l'] + [str(i) for i in range(200)],
                     'LINSERT l BEFORE 0 head', 'LINSERT l AFTER 199 tail',
                     'LINSERT l AFTER 50 x50', 'LINSERT l BEFORE 150 x150',
                     'LINSERT l AFTER 99 x99', 'LINSERT l BEFORE 100 y100', 'LLEN l',
                     'LRANGE l 0 3', 'LRANGE l 48 55', 'LRANGE l 98 106', 'LRANGE l 150 156',
                     'LRANGE l -3 -1', 'LINDEX l 101', 'LPOP l 2', 'RPOP l 2', 'LPOS l x99'],
    'lmove': ['RPUSH s a b c', 'LMOVE s d LEFT RIGHT', 'LMOVE s d RIGHT LEFT',
              'LRANGE s 0 -1', 'LRANGE d 0 -1', 'LMOVE s d left left', 'EXISTS s',
              'LRANGE d 0 -1', 'LMOVE s d LEFT LEFT', 'LMOVE d d LEFT RIGHT',
              'LRANGE d 0 -1', 'LMOVE d d RIGHT LEFT', 'LRANGE d 0 -1',
              'LMOVE d d LEFT LEFT', 'LMOVE d d RIGHT RIGHT', 'LRANGE d 0 -1',
              'LMOVE d x UP LEFT', 'LMOVE d x LEFT DOWN', 'LMOVE missing x UP LEFT',
              'LMOVE missing x LEFT LEFT', 'EXISTS x', 'SET str v',
              'LMOVE str d LEFT LEFT', 'LMOVE d str LEFT LEFT', 'LRANGE d 0 -1',
              'LMOVE missing str LEFT LEFT', 'LMOVE str missing LEFT LEFT',
              'RPUSH one z', 'LMOVE one one LEFT RIGHT', 'LRANGE one 0 -1',
              'LMOVE one two RIGHT RIGHT', 'EXISTS one', 'LRANGE two 0 -1',
              'LMOVE', 'LMOVE a b LEFT', 'LMOVE a b LEFT LEFT LEFT', 'DBSIZE'],
    'rpoplpush': ['RPUSH s a b c', 'RPOPLPUSH s d', 'RPOPLPUSH s d', 'LRANGE s 0 -1',
                  'LRANGE d 0 -1', 'RPOPLPUSH s s', 'LRANGE s 0 -1', 'RPOPLPUSH s d',
                  'EXISTS s', 'RPOPLPUSH s d', 'RPOPLPUSH missing d', 'LRANGE d 0 -1',
                  'RPUSH q x y', 'RPOPLPUSH q q', 'RPOPLPUSH q q', 'LRANGE q 0 -1',
                  'SET str v', 'RPOPLPUSH str d', 'RPOPLPUSH d str', 'LLEN d',
                  'RPOPLPUSH', 'RPOPLPUSH a', 'RPOPLPUSH a b c', 'rpoplpush d e',
                  'LRANGE e 0 -1'],
    'randomkey_small': ['RANDOMKEY', 'SET only v', 'RANDOMKEY', 'RANDOMKEY', 'DEL only',
                        'RANDOMKEY', ['RPUSH', b'k\x00\r\n', 'x'], 'RANDOMKEY',
                        'RANDOMKEY x', 'randomkey'],
    'keys_scan_small': ['KEYS *', 'SCAN 0', 'SET k v', 'KEYS *', 'KEYS k', 'KEYS x*',
                        'KEYS [k]', 'KEYS ?', 'KEYS \\k', 'SCAN 0', 'SCAN 0 MATCH k',
                        'SCAN 0 MATCH x', 'SCAN 0 TYPE string', 'SCAN 0 TYPE STRING',
                        'SCAN 0 TYPE list', 'SCAN 0 TYPE none', 'SCAN 0 TYPE foo',
                        'SCAN 0 COUNT 100', 'SCAN 0 count 100 match * type string',
                        'SCAN 0 MATCH k MATCH x', 'SCAN 0 MATCH x MATCH k', 'KEYS',
                        'KEYS a b', 'SCAN', 'keys *', 'scan 0'],
    'scan_errors': ['SET k v', 'SCAN abc', 'SCAN 1.5', 'SCAN 0x10', 'SCAN 0 COUNT 0',
                    'SCAN 0 COUNT -1', 'SCAN 0 COUNT x', 'SCAN 0 COUNT',
                    'SCAN 0 COUNT 9223372036854775808', 'SCAN 0 MATCH', 'SCAN 0 TYPE',
                    'SCAN 0 foo', 'SCAN 0 foo bar', 'SCAN 0 COUNT 1 foo',
                    'SCAN abc COUNT 0', 'SCAN 0 COUNT 0 TYPE', 'SCAN 18446744073709551616',
                    'SCAN 99999999999999999999999', ['SCAN', ' 0'], ['SCAN', '0 '],
                    'SCAN +', 'SCAN -', 'SCAN 0 MATCH k COUNT 0',
                    'SCAN 0 COUNT ' + LLONG_MAX],
    # strtoul's view of the cursor: sign, leading zeros, empty, text after
    # a NUL byte (Redis reads the argument as a C string).
    'scan_cursor_forms': ['SET k v', 'SCAN 00', 'SCAN +0', 'SCAN -0', ['SCAN', ''],
                          ['SCAN', b'0\x00junk'], 'SCAN 000000000000000000000000000000'],
}


@pytest.mark.parametrize('name', sorted(SEQUENCES))
def test_same_replies_as_redis(name, node, redis_server):
    commands = SEQUENCES[name]
    compare(node, redis_server, commands)


def test_sequences_pipelined_in_one_write(node, redis_server):
    """Every sequence, each after FLUSHALL, sent as one write: batching many
    commands into one log entry must not change any reply."""
    compare_pipelined(node, redis_server, sequences_in_one_write(SEQUENCES))


# Replies pinned to literal bytes (redis-server 7.0's), checked on both.
PINNED = [
    ('RENAME nokey x', b'-ERR no such key\r\n'),
    ('RENAME l l2', b'+OK\r\n'),
    ('RENAMENX k l', b':0\r\n'),
    ('RENAMENX k k', b':0\r\n'),
    ('COPY k k', b'-ERR source and destination objects are the same\r\n'),
    ('COPY k k2', b':1\r\n'),
    ('COPY k l', b':0\r\n'),
    ('COPY k l DB 16', b'-ERR DB index is out of range\r\n'),
    ('COPY k l DB 2147483648',
     b'-ERR value is out of range, value must between -2147483648 and 2147483647\r\n'),
    ('LPOS l b', b':1\r\n'),
    ('LPOS l a RANK -1 COUNT 0', b'*2\r\n:3\r\n:0\r\n'),
    ('LPOS l z', b'$-1\r\n'),
    ('LPOS l a RANK 0', RANK0),
    ('LPOS l a COUNT -1', b"-ERR COUNT can't be negative\r\n"),
    ('LPOS l a MAXLEN x', b"-ERR MAXLEN can't be negative\r\n"),
    ('LINSERT l AFTER b x', b':5\r\n'),
    ('LINSERT l AFTER zz x', b':-1\r\n'),
    ('LINSERT nokey AFTER a x', b':0\r\n'),
    ('LINSERT l ASIDE a x', b'-ERR syntax error\r\n'),
    ('LMOVE l m RIGHT LEFT', b'$1\r\na\r\n'),
    ('LMOVE nokey m RIGHT LEFT', b'$-1\r\n'),
    ('LMOVE k m LEFT LEFT',
     b'-WRONGTYPE Operation against a key holding the wrong kind of value\r\n'),
    ('RPOPLPUSH l l', b'$1\r\na\r\n'),
    ('SCAN x', b'-ERR invalid cursor\r\n'),
    ('SCAN 0 COUNT 0', b'-ERR syntax error\r\n'),
    ('KEYS l', b'*1\r\n$1\r\nl\r\n'),
    ('SCAN 0 MATCH k', b'*2\r\n$1\r\n0\r\n*1\r\n$1\r\nk\r\n'),
    ('TYPE k', b'+string\r\n'),
    ('RANDOMKEY x', b"-ERR wrong number of arguments for 'randomkey' command\r\n"),
]


PINNED_SETUP = [  # (command, its reply) before each pinned command
    (['FLUSHALL'], b'+OK\r\n'),
    (['SET', 'k', 'v'], b'+OK\r\n'),
    (['RPUSH', 'l', 'a', 'b', 'c', 'a'], b':4\r\n'),
]


@pytest.mark.parametrize('cmd,expected', PINNED, ids=[p[0] for p in PINNED])
def test_pinned_reply(cmd, expected, node, redis_server):
    check_pinned((redis_server, node), PINNED_SETUP, cmd, expected)


def test_copy_to_other_db_refused_in_cluster_mode(node):
    """redis-raft is a cluster: COPY ... DB n answers as Redis Cluster does
    (checked against redis-server --cluster-enabled yes)."""
    redis_raft_only()
    refused = b'-ERR Copying to another database is not allowed in cluster mode\r\n'
    with node.raw() as conn:
        assert conn.command('SET', 'k', 'v') == b'+OK\r\n'
        assert conn.command('COPY', 'k', 'k2', 'DB', '1') == refused
        assert conn.command('COPY', 'k', 'k2', 'DB', '15', 'REPLACE') == refused
        assert conn.command('COPY', 'k', 'k', 'DB', '1') == refused
        assert conn.command('COPY', 'nokey', 'k2', 'DB', '1') == refused
        assert conn.command('COPY', 'k', 'k2', 'DB', '16') == \
            b'-ERR DB index is out of range\r\n'
        assert conn.command('COPY', 'k', 'k2', 'DB', '1', 'foo') == b'-ERR syntax error\r\n'
        assert conn.command('EXISTS', 'k2') == b':0\r\n'
        assert conn.command('COPY', 'k', 'k2', 'DB', '0') == b':1\r\n'
        assert conn.command('GET', 'k2') == b'$1\r\nv\r\n'


# ---------------------------------------------------------------------------
# KEYS and SCAN: same key sets, in any order.

BINARY_KEYS = [b'a', b'ab', b'abc', b'b', b'hello', b'hallo', b'hxllo', b'h\x00llo',
               b'h*llo', b'h?llo', b'[x]', b'x', b'', b'\r\n', b'\xff\xfe', b'A', b'a\\b',
               b'user:1', b'user:2', b'user:10', b'user:x:1']
PATTERNS = [b'*', b'a*', b'*b*', b'?', b'??', b'h?llo', b'h[ae]llo', b'h[^e]llo',
            b'h[a-e]llo', b'h\\*llo', b'h\\?llo', b'\\[x\\]', b'[x]', b'h\x00llo', b'h*',
            b'*\x00*', b'', b'user:?', b'user:*', b'user:[0-9]*', b'*:*:*', b'A', b'a',
            b'\r\n', b'\xff*', b'a\\\\b', b'[', b'h[a', b'*o', b'**', b'[^a]*']


def fill_binary_keys(proc):
    with proc.raw() as conn:
        assert conn.command('FLUSHALL') == b'+OK\r\n'
        for i, k in enumerate(BINARY_KEYS):
            if i % 3 == 0:
                assert conn.command('RPUSH', k, 'x') == b':1\r\n'
            elif i % 4 == 1:
                assert conn.command('SADD', k, 'm') == b':1\r\n'
            else:
                assert conn.command('SET', k, 'v') == b'+OK\r\n'


def scan_all(conn, *opts, count=None):
    """Every key a full SCAN returns (a list, duplicates kept) and the
    number of calls it took."""
    cursor, keys, calls = b'0', [], 0
    extra = list(opts) + (['COUNT', str(count)] if count else [])
    while True:
        reply = plain(conn.command('SCAN', cursor, *extra))
        assert isinstance(reply, list), reply
        cursor, batch = reply
        keys.extend(batch)
        calls += 1
        if cursor == b'0':
            return keys, calls


def test_keys_patterns_same_key_sets(node, redis_server):
    for proc in (node, redis_server):
        fill_binary_keys(proc)
    with node.raw() as got, redis_server.raw() as want:
        for pat in PATTERNS:
            g, w = plain(got.command('KEYS', pat)), plain(want.command('KEYS', pat))
            assert sorted(g) == sorted(w), pat
            assert len(g) == len(set(g)), pat


def test_scan_match_type_same_key_sets(node, redis_server):
    for proc in (node, redis_server):
        fill_binary_keys(proc)
    with node.raw() as got, redis_server.raw() as want:
        for pat in PATTERNS:
            for opts in ([], ['TYPE', 'string'], ['TYPE', 'LIST'], ['TYPE', 'set'],
                         ['TYPE', 'hash']):
                for count in (None, 1, 3, 1000):
                    g, _ = scan_all(got, 'MATCH', pat, *opts, count=count)
                    w, _ = scan_all(want, 'MATCH', pat, *opts, count=count)
                    # No resize happens here, so no key comes back twice.
                    assert sorted(g) == sorted(set(w)), (pat, opts, count)
                    assert len(g) == len(set(g)), (pat, opts, count)


def test_scan_count_bounds_work_per_call(node):
    """COUNT is a hint of work per call: a large COUNT returns a small
    keyspace in one call, COUNT 1 needs several calls."""
    with node.raw() as conn:
        for i in range(500):
            conn.send(encode('SET', 'k%d' % i, 'v'))
        for i in range(500):
            assert conn.read_reply() == b'+OK\r\n'
        keys, calls = scan_all(conn, count=10000)
        assert calls == 1 and len(keys) == 500
        keys, calls = scan_all(conn, count=1)
        assert calls > 50 and sorted(set(keys)) == sorted(b'k%d' % i for i in range(500))
        # Filtered keys still count as work: MATCH nothing ends quickly too.
        reply = plain(conn.command('SCAN', '0', 'MATCH', 'nothing*', 'COUNT', '10000'))
        assert reply == [b'0', []]


def test_scan_survives_growth_and_shrink(node):
    """Keys present for the whole scan are returned at least once while
    other keys are added (the table grows) and removed (it shrinks)
    between SCAN calls; MATCH filters the churn out."""
    rnd = random.Random(7)
    stable = [b'stable:%d' % i for i in range(400)]
    with node.raw() as conn:
        def pipeline(cmds):
            conn.send(b''.join(encode(*cmd) for cmd in cmds))
            return conn.read_replies(len(cmds))

        pipeline([['SET', k, 'v'] for k in stable])
        pipeline([['SET', 'gone:%d' % i, 'v'] for i in range(300)])
        cursor, seen, calls, churn = b'0', [], 0, 0
        while True:
            reply = plain(conn.command('SCAN', cursor, 'COUNT', '5'))
            cursor, batch = reply
            seen.extend(batch)
            calls += 1
            if calls == 3:
                # Delete the "gone" keys: they may or may not be returned.
                pipeline([['DEL', 'gone:%d' % i] for i in range(300)])
            elif calls < 40:
                # Grow: many new keys per call (several doublings in all).
                pipeline([['SET', 'tmp:%d' % (churn + i), 'v'] for i in range(200)])
                churn += 200
            elif calls == 40:
                # Shrink: remove nearly everything that is not stable.
                pipeline([['DEL', 'tmp:%d' % i] for i in range(churn)
                          if rnd.random() < 0.97])
            if cursor == b'0':
                break
            assert calls < 100000
        missing = set(stable) - set(seen)
        assert not missing, sorted(missing)[:10]
        # With MATCH, only stable keys come back, each at least once.
        keys, _ = scan_all(conn, 'MATCH', 'stable:*', count=7)
        assert set(keys) == set(stable)


def test_expired_keys_hidden_from_keys_scan_randomkey(node, redis_server):
    """Keys whose TTL passed are not listed by KEYS or SCAN, nor returned by
    RANDOMKEY (on redis-raft they may still be in the table)."""
    for proc in (node, redis_server):
        with proc.raw() as conn:
            assert conn.command('FLUSHALL') == b'+OK\r\n'
            for i in range(20):
                assert conn.command('SET', 'exp:%d' % i, 'v', 'PX', '1') == b'+OK\r\n'
            assert conn.command('SET', 'live', 'v') == b'+OK\r\n'
            assert conn.command('RPUSH', 'live:l', 'x') == b':1\r\n'
            wait_until(lambda: conn.command('EXISTS', *['exp:%d' % i for i in range(20)])
                       == b':0\r\n', scaled(10), what='the keys to expire')
            live = [b'live', b'live:l']
            assert sorted(plain(conn.command('KEYS', '*'))) == live, proc.name
            assert sorted(plain(conn.command('KEYS', 'exp:*'))) == [], proc.name
            assert sorted(scan_all(conn)[0]) == live, proc.name
            assert sorted(scan_all(conn, 'TYPE', 'string')[0]) == [b'live'], proc.name
            for _ in range(50):
                assert plain(conn.command('RANDOMKEY')) in live, proc.name
            assert conn.command('DEL', 'live', 'live:l') == b':2\r\n'
            # Only expired keys left (in the table, maybe): no key at all.
            for i in range(20):
                assert conn.command('SET', 'exp2:%d' % i, 'v', 'PX', '1') == b'+OK\r\n'
            wait_until(lambda: conn.command('EXISTS', *['exp2:%d' % i for i in range(20)])
                       == b':0\r\n', scaled(10), what='the keys to expire')
            assert conn.command('RANDOMKEY') == b'$-1\r\n', proc.name
            assert conn.command('KEYS', '*') == b'*0\r\n', proc.name
            assert scan_all(conn)[0] == [], proc.name


def test_rename_and_copy_keep_ttl(node, redis_server):
    """RENAME moves the TTL with the value, COPY copies it; a key without
    TTL renamed over one with a TTL does not expire."""
    for proc in (node, redis_server):
        with proc.raw() as conn:
            assert conn.command('FLUSHALL') == b'+OK\r\n'
            assert conn.command('SET', 'a', 'v', 'PX', '300') == b'+OK\r\n'
            assert conn.command('RENAME', 'a', 'b') == b'+OK\r\n'
            assert conn.command('COPY', 'b', 'c') == b':1\r\n'
            assert conn.command('SET', 'd', 'v', 'PX', '300') == b'+OK\r\n'
            assert conn.command('SET', 'p', 'v') == b'+OK\r\n'
            assert conn.command('RENAME', 'p', 'd') == b'+OK\r\n'
            assert conn.command('RENAMENX', 'b', 'e') == b':1\r\n'
            wait_until(lambda: conn.command('EXISTS', 'b', 'c', 'e') == b':0\r\n',
                       scaled(10), what='the renamed and copied keys to expire')
            assert conn.command('GET', 'd') == b'$1\r\nv\r\n', proc.name
            assert conn.command('KEYS', '*') == b'*1\r\n$1\r\nd\r\n', proc.name


def test_rename_over_expired_key(node, redis_server):
    for proc in (node, redis_server):
        with proc.raw() as conn:
            assert conn.command('FLUSHALL') == b'+OK\r\n'
            assert conn.command('SET', 'old', 'x', 'PX', '1') == b'+OK\r\n'
            wait_until(lambda: conn.command('EXISTS', 'old') == b':0\r\n', scaled(10),
                       what='old to expire')
            assert conn.command('RENAME', 'old', 'n') == b'-ERR no such key\r\n'
            assert conn.command('SET', 'a', '1') == b'+OK\r\n'
            assert conn.command('SET', 'exp', 'x', 'PX', '1') == b'+OK\r\n'
            wait_until(lambda: conn.command('EXISTS', 'exp') == b':0\r\n', scaled(10),
                       what='exp to expire')
            assert conn.command('RENAMENX', 'a', 'exp') == b':1\r\n'
            assert conn.command('GET', 'exp') == b'$1\r\n1\r\n'
            assert conn.command('SET', 'exp2', 'x', 'PX', '1') == b'+OK\r\n'
            wait_until(lambda: conn.command('EXISTS', 'exp2') == b':0\r\n', scaled(10),
                       what='exp2 to expire')
            assert conn.command('COPY', 'exp', 'exp2') == b':1\r\n'
            assert conn.command('LMOVE', 'nol', 'exp2', 'LEFT', 'LEFT') == b'$-1\r\n'
            assert sorted(plain(conn.command('KEYS', '*'))) == [b'exp', b'exp2']


def test_randomkey_returns_every_key_eventually(node):
    keys = [b'one', b'two', b'three', b'f\x00ur']
    with node.raw() as conn:
        for k in keys:
            assert conn.command('SET', k, 'v') == b'+OK\r\n'
        seen = set()
        for _ in range(500):
            k = plain(conn.command('RANDOMKEY'))
            assert k in keys
            seen.add(k)
            if seen == set(keys):
                break
        assert seen == set(keys)


# ---------------------------------------------------------------------------
# Seeded random differential test over the commands of this file.

KEYS = ['a', 'b', 'l', 'm', b'\x00k']
VALUES = ['', 'a', 'b', 'x', '0', b'\x00\r\n']
OPTS = ['0', '1', '2', '-1', '-2', '3', 'x', LLONG_MAX, LLONG_MIN]


def random_command(rnd):
    k = lambda: rnd.choice(KEYS)  # noqa: E731
    lk = lambda: rnd.choice(['l', 'm']) if rnd.random() < 0.8 else k()  # noqa: E731
    v = lambda: rnd.choice(VALUES)  # noqa: E731
    side = lambda: rnd.choice(['LEFT', 'RIGHT', 'left', 'up'] if rnd.random() < 0.1  # noqa: E731
                              else ['LEFT', 'RIGHT'])

    def lpos():
        cmd = ['LPOS', lk(), v()]
        for opt in rnd.sample(['RANK', 'COUNT', 'MAXLEN'], rnd.randint(0, 3)):
            cmd += [opt, rnd.choice(OPTS)]
        return cmd

    makers = [
        lambda: ['RPUSH', lk()] + [v() for _ in range(rnd.randint(1, 5))],
        lambda: ['LPUSH', lk()] + [v() for _ in range(rnd.randint(1, 3))],
        lambda: ['SET', k(), v()], lambda: ['DEL', k()], lambda: ['TYPE', k()],
        lambda: ['LRANGE', lk(), '0', '-1'], lambda: ['LPOP', lk()],
        lpos, lpos,
        lambda: ['LINSERT', lk(), rnd.choice(['BEFORE', 'AFTER', 'after', 'x']), v(), v()],
        lambda: ['LMOVE', lk(), lk(), side(), side()],
        lambda: ['RPOPLPUSH', lk(), lk()],
        lambda: ['RENAME', k(), k()], lambda: ['RENAMENX', k(), k()],
        lambda: ['COPY', k(), k()] + rnd.choice([[], ['REPLACE'], ['DB', '0'], ['x']]),
        lambda: ['EXISTS'] + KEYS, lambda: ['DBSIZE'],
    ]
    cmd = rnd.choice(makers)()
    if rnd.random() < 0.02:
        cmd = cmd[:-1] if len(cmd) > 1 else cmd + ['extra']
    return cmd


@pytest.mark.parametrize('seed', [1, 2, 3])
def test_random_commands_same_as_redis(seed, node, redis_server):
    rnd = random.Random(seed)
    commands = [random_command(rnd) for _ in range(2000)]
    for proc in (node, redis_server):
        with proc.raw() as conn:
            assert conn.command('FLUSHALL') == b'+OK\r\n'
    want = run_pipelined(redis_server, commands)
    got = run_pipelined(node, commands)
    assert_same(commands, got, want)
    final = [['DBSIZE']] + [[op, key] for key in KEYS for op in ('TYPE', 'GET')] + \
        [['LRANGE', key, '0', '-1'] for key in KEYS]
    assert_same(final, run(node, final, flush=False), run(redis_server, final, flush=False))


# ---------------------------------------------------------------------------
# Cluster: the writes are replicated; every node ends in the same state.


def test_rename_lmove_agree_on_all_nodes(cluster):
    leader = cluster.wait_for_leader()
    follower = cluster.followers()[0]
    with leader.raw() as lc, follower.raw() as fc:
        assert lc.command('RPUSH', 'src', 'a', 'b', 'c', 'd') == b':4\r\n'
        assert lc.command('SET', 'k', 'v') == b'+OK\r\n'
        assert lc.command('RENAME', 'k', 'k2') == b'+OK\r\n'
        # Through the follower's proxy too.
        assert fc.command('LMOVE', 'src', 'dst', 'LEFT', 'RIGHT') == b'$1\r\na\r\n'
        assert lc.command('RPOPLPUSH', 'src', 'dst') == b'$1\r\nd\r\n'
        assert fc.command('LINSERT', 'dst', 'BEFORE', 'd', 'x') == b':3\r\n'
        assert lc.command('COPY', 'dst', 'dst2') == b':1\r\n'
        assert fc.command('RENAMENX', 'src', 'k2') == b':0\r\n'
        assert lc.command('LMOVE', 'dst2', 'dst2', 'RIGHT', 'LEFT') == b'$1\r\na\r\n'
        assert lc.command('RENAME', 'dst2', 'rot') == b'+OK\r\n'
        checks = [('GET', 'k'), ('GET', 'k2'), ('LRANGE', 'src', '0', '-1'),
                  ('LRANGE', 'dst', '0', '-1'), ('LRANGE', 'rot', '0', '-1'),
                  ('EXISTS', 'dst2'), ('LPOS', 'dst', 'x'), ('TYPE', 'rot'), ('DBSIZE',)]
        want = [lc.command(*cmd) for cmd in checks]
    assert want == [b'$-1\r\n', b'$1\r\nv\r\n', b'*2\r\n$1\r\nb\r\n$1\r\nc\r\n',
                    b'*3\r\n$1\r\nx\r\n$1\r\nd\r\n$1\r\na\r\n',
                    b'*3\r\n$1\r\na\r\n$1\r\nx\r\n$1\r\nd\r\n', b':0\r\n', b':0\r\n',
                    b'+list\r\n', b':4\r\n']
    want_keys = sorted([b'k2', b'src', b'dst', b'rot'])
    for n in cluster.nodes.values():
        with n.raw() as conn:
            assert conn.command('READONLY') == b'+OK\r\n'

            def agrees():
                return [conn.command(*cmd) for cmd in checks] == want
            wait_until(agrees, scaled(10), what='node %d to agree' % n.node_id)
            assert sorted(plain(conn.command('KEYS', '*'))) == want_keys
            assert sorted(scan_all(conn, count=1)[0]) == want_keys
