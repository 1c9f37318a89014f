"""Sorted set commands: redis-raft must answer like redis-server 7.0, keep
the same members and scores on every node of a cluster, and carry sorted
sets through a snapshot.

Differential sequences run on an empty keyspace, once against redis-raft
and once against a stock redis-server, over raw sockets, and every reply is
compared byte for byte (sorted sets have a defined order, so nothing is
sorted first). Scores cover what the reply formatting must get right
(%.17g: 1.1, 0.1+0.2, 1e300, inf, -inf, -0). A few replies are pinned to
literal bytes so that a sequence cannot pass because both servers failed
the same way.

Cluster test: ZADD / ZINCRBY / ZPOPMIN on the leader, then every node
(READONLY, reading its own copy) answers ZRANGE ... WITHSCORES with the
leader's bytes; polled with a deadline. Snapshot test: a node SAVEs,
restarts from its snapshot and answers as before.
"""

import random
import re

import pytest

from conftest import redis_raft_only
import differential
from differential import (assert_same, check_pinned_in_order, compare, compare_pipelined,
                          run, sequences_in_one_write)
from harness import encode, scaled, wait_until

LLONG_MAX = '9223372036854775807'
LLONG_MIN = '-9223372036854775808'


c = differential.split_command  # 'ZADD z 1 a' -> ['ZADD', 'z', '1', 'a']


WORDS = ['w%02d' % i for i in range(60)]

SEQUENCES = {
    'zadd_basic': [
        'ZADD z 1 a 2 b 3 c', 'ZADD z 1 a', 'ZADD z 5 a', 'ZCARD z', 'ZCARD missing',
        'ZSCORE z a', 'ZSCORE z nope', 'ZSCORE missing a', 'ZRANGE z 0 -1 WITHSCORES',
        'ZADD z 2 a 2 b 2 c', 'ZRANGE z 0 -1 WITHSCORES', 'ZADD z CH 9 a 2 b 7 x',
        'ZADD z ch incr 1 b', 'zadd z 1 A', 'ZRANGE z 0 -1', 'DBSIZE',
        ['ZADD', 'z', '0', ''], ['ZSCORE', 'z', ''], 'ZRANGE z 0 0 WITHSCORES'],
    'zadd_options': [
        'ZADD z 10 a 20 b', 'ZADD z NX 1 a 1 c', 'ZRANGE z 0 -1 WITHSCORES',
        'ZADD z XX 1 a 1 d', 'ZRANGE z 0 -1 WITHSCORES', 'ZADD z XX CH 2 a 2 d',
        'ZADD z GT 5 a', 'ZADD z GT CH 5 a 30 b', 'ZADD z LT CH 50 b 0 c',
        'ZADD z LT 1 new', 'ZADD z GT 1 new2', 'ZADD z XX GT 100 a 100 zz',
        'ZADD z XX LT CH 1 a', 'ZRANGE z 0 -1 WITHSCORES', 'ZADD z INCR 5 a',
        'ZADD z INCR NX 5 a', 'ZADD z INCR XX 5 nope', 'ZADD z INCR GT -1 a',
        'ZADD z INCR LT -1 a', 'ZADD z INCR 1 fresh', 'ZADD missing XX 1 a',
        'ZADD missing XX INCR 1 a', 'EXISTS missing', 'ZADD z nx NX 3 q',
        'ZRANGE z 0 -1 WITHSCORES'],
    'zadd_errors': [
        'ZADD z 1 a', 'ZADD z NX XX 1 a', 'ZADD z GT LT 1 a', 'ZADD z GT NX 1 a',
        'ZADD z LT NX 1 a', 'ZADD z NX XX 1', 'ZADD z INCR 1 a 2 b', 'ZADD z 1 a 2',
        'ZADD z abc a', 'ZADD z nan a', 'ZADD z 1e400 a', 'ZADD z 1e-400 a',
        ['ZADD', 'z', ' 1', 'a'], ['ZADD', 'z', '1 ', 'a'], ['ZADD', 'z', '', 'a'],
        ['ZADD', 'z', '1\x00', 'a'], 'ZADD z 1 a x b', 'ZADD z INCR', 'ZADD z CH',
        'ZADD z NX XX GT LT INCR 1 a 2 b', 'ZADD z foo 1 a', 'ZRANGE z 0 -1 WITHSCORES',
        'ZADD z inf i', 'ZINCRBY z -inf i', 'ZADD z INCR -inf i', 'ZSCORE z i',
        'ZINCRBY z abc a', 'ZINCRBY z nx a', 'ZINCRBY z incr 5', 'ZINCRBY z 1',
        'ZINCRBY z 1 a b', 'ZADD z', 'ZADD z 1', 'SET str v', 'ZADD str 1 a',
        'ZADD str NX XX 1 a', 'ZADD str abc a', 'ZINCRBY str 1 a', 'GET str'],
    'score_formatting': [
        'ZADD f 1.1 a 1e300 b inf c -inf d -0 e 0.1 g 3 h -2.5 i 1e-300 j',
        'ZINCRBY f 0.2 g', 'ZRANGE f 0 -1 WITHSCORES', 'ZSCORE f e', 'ZSCORE f g',
        'ZINCRBY f 1 e', 'ZINCRBY f -1 e', 'ZSCORE f e', 'ZADD f INCR -0 new',
        'ZSCORE f new', 'ZMSCORE f a b c d nope', 'ZADD f 123456789012345678 k',
        'ZSCORE f k', 'ZADD f 0x10 hex', 'ZSCORE f hex', 'ZADD f +5 plus', 'ZSCORE f plus',
        'ZADD f 1.7976931348623157e308 max', 'ZINCRBY f 1.7976931348623157e308 max',
        'ZADD f 5e-324 tiny', 'ZSCORE f tiny', 'ZADD f .5 dot', 'ZSCORE f dot',
        'ZADD f Infinity inf2', 'ZSCORE f inf2', 'ZRANGE f 0 -1 WITHSCORES'],
    'equal_scores_by_member': [
        ['ZADD', 'z', '1', 'b', '1', 'a', '1', 'ab', '1', 'B', '1', '', '1', 'a\x00',
         '1', '\xff', '0', 'zz', '2', 'aa'],
        'ZRANGE z 0 -1 WITHSCORES', 'ZRANK z a', 'ZRANK z ab', 'ZREVRANK z a',
        ['ZRANK', 'z', ''], 'ZRANGEBYSCORE z 1 1', 'ZREVRANGE z 0 -1'],
    'zrem_zcard': [
        'ZADD z 1 a 2 b 3 c', 'ZREM z a nope', 'ZREM z a', 'ZREM missing a', 'ZCARD z',
        'ZREM z b c d', 'EXISTS z', 'ZCARD z', 'ZADD z 1 x', 'ZREM z x x', 'EXISTS z',
        'ZADD z 1 a 2 b', 'ZREM z b a b', 'EXISTS z', 'SET str v', 'ZREM str v',
        'ZCARD str', 'ZREM z', 'ZCARD', 'ZCARD z z'],
    'zmscore_zrank': [
        'ZADD z 1 a 2 b 3 c', 'ZMSCORE z a nope c', 'ZMSCORE missing a b', 'ZMSCORE z a',
        'ZMSCORE z', 'ZRANK z a', 'ZRANK z c', 'ZRANK z nope', 'ZRANK missing a',
        'ZREVRANK z a', 'ZREVRANK z c', 'ZREVRANK z nope', 'ZREVRANK missing a',
        'ZRANK z', 'ZRANK z a withscore', 'SET str v', 'ZRANK str a', 'ZMSCORE str a',
        'ZSCORE str a', 'ZREVRANK str a'],
    'zpop': [
        'ZADD z 1 a 2 b 3 c 4 d 5 e', 'ZPOPMIN z', 'ZPOPMAX z', 'ZPOPMIN z 0', 'ZPOPMIN z 2',
        'ZRANGE z 0 -1 WITHSCORES', 'ZPOPMAX z 10', 'EXISTS z', 'ZPOPMIN z', 'ZPOPMIN z 3',
        'ZPOPMAX missing', 'ZPOPMAX missing 0', 'ZADD z 1 a', 'ZPOPMIN z -1',
        'ZPOPMIN z abc', 'ZPOPMIN z 1.5', 'ZPOPMIN z 1 2', 'ZPOPMAX z ' + LLONG_MAX,
        'EXISTS z', 'ZADD z 1 a 1 b', 'ZPOPMAX z ' + LLONG_MIN, ['ZPOPMIN', 'z', ''],
        'ZPOPMIN z 9223372036854775808', 'SET str v', 'ZPOPMIN str', 'ZPOPMAX str 2',
        'ZPOPMIN str 0', 'ZPOPMIN str -1', 'ZPOPMIN', 'ZRANGE z 0 -1 WITHSCORES'],
    'zrange_index': [
        ['ZADD', 'z'] + [x for i, w in enumerate(WORDS[:10]) for x in (str(i), w)],
        'ZRANGE z 0 -1', 'ZRANGE z 0 2 WITHSCORES', 'ZRANGE z -3 -1', 'ZRANGE z -100 2',
        'ZRANGE z 5 100', 'ZRANGE z 3 2', 'ZRANGE z 10 20', 'ZRANGE z -1 -2',
        'ZRANGE z 0 -100', 'ZRANGE z 0 ' + LLONG_MAX, 'ZRANGE z ' + LLONG_MIN + ' 1',
        'ZRANGE z 0 -1 REV', 'ZRANGE z 0 2 REV WITHSCORES', 'ZRANGE z -2 -1 rev',
        'ZREVRANGE z 0 -1', 'ZREVRANGE z 1 3 WITHSCORES', 'ZREVRANGE z -2 100',
        'ZREVRANGE z 0 0 withscores withscores', 'ZRANGE missing 0 -1',
        'ZRANGE z a 1', 'ZRANGE z 0 1.5', 'ZRANGE z 0 -1 LIMIT 0 1',
        'ZRANGE z 0 -1 LIMIT 0 -1', 'ZRANGE z 0 1 LIMIT 1', 'ZRANGE z 0 -1 REV REV',
        'ZRANGE z 0 -1 foo', 'ZREVRANGE z 0 -1 REV', 'ZREVRANGE z 0 -1 LIMIT 0 1',
        'ZREVRANGE z 0 -1 BYSCORE', 'ZRANGE z 0', 'ZREVRANGE z 0',
        'ZRANGE missing a b', 'ZRANGE missing 0 -1 LIMIT 0 1'],
    'zrange_byscore': [
        'ZADD z 1 a 2 b 3 c 4 d 5 e 5 f -inf g inf h',
        'ZRANGEBYSCORE z -inf +inf', 'ZRANGEBYSCORE z -inf +inf WITHSCORES',
        'ZRANGEBYSCORE z (1 (4 WITHSCORES', 'ZRANGEBYSCORE z (1 4', 'ZRANGEBYSCORE z 5 5',
        'ZRANGEBYSCORE z (5 5', 'ZRANGEBYSCORE z 5 (5', 'ZRANGEBYSCORE z 4 2',
        'ZRANGEBYSCORE z inf inf', 'ZRANGEBYSCORE z -inf -inf', 'ZRANGEBYSCORE z (-inf (inf',
        'ZRANGEBYSCORE z -inf +inf LIMIT 1 2', 'ZRANGEBYSCORE z -inf +inf LIMIT 1 -1',
        'ZRANGEBYSCORE z -inf +inf LIMIT 1 0', 'ZRANGEBYSCORE z -inf +inf LIMIT -1 2',
        'ZRANGEBYSCORE z -inf +inf LIMIT 7 5', 'ZRANGEBYSCORE z -inf +inf LIMIT 8 5',
        'ZRANGEBYSCORE z 2 4 LIMIT 0 10 WITHSCORES', 'ZRANGEBYSCORE z 2 4 WITHSCORES LIMIT 2 1',
        'ZRANGEBYSCORE z 2 4 LIMIT 0 1 LIMIT 1 1', 'ZREVRANGEBYSCORE z +inf -inf',
        'ZREVRANGEBYSCORE z 4 (1 LIMIT 1 1', 'ZREVRANGEBYSCORE z (4 1 WITHSCORES',
        'ZREVRANGEBYSCORE z 1 4', 'ZREVRANGEBYSCORE z 5 5 LIMIT 1 5',
        'ZREVRANGEBYSCORE z +inf -inf LIMIT 2 3 WITHSCORES',
        'ZRANGE z 2 4 BYSCORE', 'ZRANGE z (4 1 BYSCORE REV WITHSCORES',
        'ZRANGE z 4 2 byscore rev limit 1 1', 'ZRANGE z -inf +inf BYSCORE LIMIT 2 2',
        ['ZRANGEBYSCORE', 'z', '', '3'], ['ZRANGEBYSCORE', 'z', ' 2', '3'],
        ['ZRANGEBYSCORE', 'z', '(', '3'], ['ZRANGEBYSCORE', 'z', '2\x00x', '3'],
        'ZRANGEBYSCORE z a 3', 'ZRANGEBYSCORE z 1 (x', 'ZRANGEBYSCORE z nan 3',
        'ZRANGEBYSCORE z 1 3 BYSCORE', 'ZRANGEBYSCORE z 1 3 REV', 'ZRANGEBYSCORE z 1 3 LIMIT 0',
        'ZRANGEBYSCORE z 1 3 LIMIT a 1', 'ZRANGEBYSCORE z a b LIMIT a 1',
        'ZRANGE z 1 3 BYSCORE BYSCORE', 'ZRANGE z 1 3 BYSCORE BYLEX',
        'ZRANGEBYSCORE missing 0 1', 'ZRANGEBYSCORE missing a 1', 'ZRANGEBYSCORE z 0x1 3',
        'ZRANGEBYSCORE z 1e400 +inf', 'ZRANGE z 1 3 byscore limit 0 x'],
    'zcount': [
        'ZADD z 1 a 2 b 3 c 4 d -inf n inf p', 'ZCOUNT z -inf +inf', 'ZCOUNT z 2 3',
        'ZCOUNT z (2 3', 'ZCOUNT z (2 (3', 'ZCOUNT z 3 2', 'ZCOUNT z 10 20', 'ZCOUNT z inf inf',
        'ZCOUNT z (inf inf', 'ZCOUNT missing 0 1', 'ZCOUNT z a b', 'ZCOUNT missing a b',
        'SET str v', 'ZCOUNT str 0 1', 'ZCOUNT str a 1', 'ZCOUNT z 1'],
    'bylex': [
        'ZADD z 0 a 0 b 0 c 0 d 0 e 0 ab', 'ZRANGEBYLEX z - +', 'ZRANGEBYLEX z [b [d',
        'ZRANGEBYLEX z (b (d', 'ZRANGEBYLEX z (a [b', 'ZRANGEBYLEX z - (c',
        'ZRANGEBYLEX z [c +', 'ZRANGEBYLEX z + -', 'ZRANGEBYLEX z - -', 'ZRANGEBYLEX z + +',
        'ZRANGEBYLEX z [d [b', 'ZRANGEBYLEX z - + LIMIT 1 2', 'ZRANGEBYLEX z - + LIMIT -1 2',
        'ZRANGEBYLEX z - + LIMIT 2 -1', 'ZREVRANGEBYLEX z + -', 'ZREVRANGEBYLEX z [d (a',
        'ZREVRANGEBYLEX z + - LIMIT 1 2', 'ZRANGE z [b [d BYLEX', 'ZRANGE z [d [b BYLEX REV',
        'ZRANGE z - + BYLEX LIMIT 0 3', 'ZRANGE z - + BYLEX WITHSCORES',
        'ZRANGEBYLEX z a b', 'ZRANGEBYLEX z [a +x', ['ZRANGEBYLEX', 'z', '', '+'],
        'ZRANGEBYLEX z - + WITHSCORES', 'ZLEXCOUNT z - +', 'ZLEXCOUNT z [b (d',
        'ZLEXCOUNT z + -', 'ZLEXCOUNT z a b', 'ZLEXCOUNT missing - +', 'ZRANGEBYLEX missing - +',
        'ZRANGE z 0 -1 BYLEX'],
    'wrongtype': [
        'SET str v', 'RPUSH l a', 'SADD s a', 'HSET h f v', 'ZADD str 1 a', 'ZCARD l',
        'ZSCORE s a', 'ZMSCORE h a', 'ZREM str a', 'ZINCRBY l 1 a', 'ZPOPMIN s',
        'ZPOPMAX h 2', 'ZRANGE str 0 -1', 'ZRANGE l 0 -1 WITHSCORES', 'ZRANGE str a b',
        'ZRANGE str 0 -1 LIMIT 0 1', 'ZREVRANGE s 0 1', 'ZRANGEBYSCORE h 0 1',
        'ZRANGEBYSCORE h a 1', 'ZREVRANGEBYSCORE str 1 0', 'ZRANK str a', 'ZREVRANK l a',
        'ZCOUNT s 0 1', 'ZRANGEBYLEX str - +', 'ZLEXCOUNT l - +', 'ZADD z 1 a',
        'SADD z a', 'LPUSH z a', 'GET z', 'HGET z a', 'TYPE str', 'GET str'],
    'expiry_and_keys': [
        'ZADD z 1 a 2 b', 'EXPIRE z 100', 'TTL z', 'ZADD z 3 c', 'TTL z', 'ZPOPMIN z 3',
        'EXISTS z', 'TTL z', 'ZADD z 1 a', 'RENAME z y', 'ZRANGE y 0 -1 WITHSCORES',
        'COPY y x', 'ZADD x 5 b', 'ZRANGE x 0 -1 WITHSCORES', 'ZRANGE y 0 -1 WITHSCORES',
        'DEL y', 'EXISTS y', 'DBSIZE'],
    'many_members': [
        ['ZADD', 'big'] + [x for i, w in enumerate(WORDS) for x in ('%d' % (i % 7), w)],
        'ZCARD big', 'ZRANGE big 0 -1 WITHSCORES', 'ZRANGEBYSCORE big 2 4 LIMIT 3 10',
        'ZREVRANGEBYSCORE big 4 2 LIMIT 3 10 WITHSCORES', 'ZRANK big w33', 'ZREVRANK big w33',
        'ZCOUNT big (1 5', ['ZREM', 'big'] + WORDS[::3], 'ZRANGE big 10 20 WITHSCORES',
        'ZPOPMAX big 5', 'ZPOPMIN big 5', 'ZRANGE big 0 -1 REV', 'ZCARD big'],
    'case_insensitive': [
        'zAdD z Nx 1 a 2 b', 'ZcArD z', 'zscore z a', 'ZRange z 0 -1 WithScores',
        'zrange z 0 5 bYsCoRe rEv lImIt 0 1', 'zpopmin z', 'ZREVrank z b'],
}

ARITY = {'ZADD': -4, 'ZCARD': 2, 'ZSCORE': 3, 'ZMSCORE': -3, 'ZREM': -3, 'ZINCRBY': 4,
         'ZPOPMIN': -2, 'ZPOPMAX': -2, 'ZRANGE': -4, 'ZREVRANGE': -4, 'ZRANGEBYSCORE': -4,
         'ZREVRANGEBYSCORE': -4, 'ZRANK': 3, 'ZREVRANK': 3, 'ZCOUNT': 4,
         'ZRANGEBYLEX': -4, 'ZREVRANGEBYLEX': -4, 'ZLEXCOUNT': 4}

for _name, _arity in ARITY.items():
    SEQUENCES['arity_' + _name.lower()] = differential.arity_sequence(
        _name, _arity, filler='k', lowercase_call=False)

RESP3_SEQUENCES = ['zadd_basic', 'zadd_options', 'score_formatting', 'zmscore_zrank', 'zpop',
                   'zrange_index', 'zrange_byscore', 'bylex', 'wrongtype', 'many_members']


@pytest.mark.parametrize('name', sorted(SEQUENCES))
def test_same_replies_as_redis(name, node, redis_server):
    commands = SEQUENCES[name]
    compare(node, redis_server, commands)


@pytest.mark.parametrize('name', RESP3_SEQUENCES)
def test_same_replies_as_redis_resp3(name, node, redis_server):
    """The same sequences after HELLO 3: doubles (,), nulls (_) and the
    nested [member, score] pairs of Redis 7.0."""
    commands = SEQUENCES[name]
    hello = [('HELLO', '3')]
    compare(node, redis_server, commands, hello)


def test_all_sequences_pipelined_in_one_write(node, redis_server):
    """Every sequence sent as one write: batching many commands into one
    log entry must not change any reply."""
    compare_pipelined(node, redis_server, sequences_in_one_write(SEQUENCES))


def random_ops(rng, n, keys=('a', 'b', 'c')):
    """n random sorted set commands over a few keys and 40 members."""
    scores = ['0', '1', '-1', '2.5', '1e10', '-inf', 'inf', '0.1', '7', '(3', '3']
    ops = []
    for _ in range(n):
        k = rng.choice(keys)
        m = 'm%d' % rng.randint(0, 39)
        s = rng.choice(scores[:9])
        roll = rng.randint(0, 14)
        if roll < 4:
            args = ['ZADD', k] + rng.sample(['NX', 'XX', 'CH', 'GT', 'LT'], rng.randint(0, 2))
            for _ in range(rng.randint(1, 4)):
                args += [rng.choice(scores[:9]), 'm%d' % rng.randint(0, 39)]
            ops.append(args)
        elif roll == 4:
            ops.append(['ZINCRBY', k, s, m])
        elif roll == 5:
            ops.append(['ZREM', k, m, 'm%d' % rng.randint(0, 39)])
        elif roll == 6:
            ops.append(['ZPOPMIN', k] + ([str(rng.randint(0, 4))] if rng.random() < 0.5 else []))
        elif roll == 7:
            ops.append(['ZPOPMAX', k] + ([str(rng.randint(0, 4))] if rng.random() < 0.5 else []))
        elif roll == 8:
            ops.append(['ZRANGE', k, str(rng.randint(-10, 10)), str(rng.randint(-10, 10)),
                        'WITHSCORES'] + (['REV'] if rng.random() < 0.5 else []))
        elif roll == 9:
            lo, hi = rng.choice(scores), rng.choice(scores)
            args = ['ZRANGEBYSCORE', k, lo, hi, 'WITHSCORES']
            if rng.random() < 0.5:
                args += ['LIMIT', str(rng.randint(-1, 5)), str(rng.randint(-1, 5))]
            ops.append(args)
        elif roll == 10:
            ops.append(['ZREVRANGEBYSCORE', k, rng.choice(scores), rng.choice(scores)])
        elif roll == 11:
            ops.append([rng.choice(['ZRANK', 'ZREVRANK']), k, m])
        elif roll == 12:
            ops.append(['ZCOUNT', k, rng.choice(scores), rng.choice(scores)])
        elif roll == 13:
            ops.append(['ZMSCORE', k, m, 'm%d' % rng.randint(0, 39)])
        else:
            ops.append(['ZRANGE', k, '0', '-1', 'WITHSCORES'])
    return ops


@pytest.mark.parametrize('seed', [1, 2, 3])
def test_random_sequences_same_as_redis(seed, node, redis_server):
    commands = random_ops(random.Random(seed), 600)
    assert_same(commands, run(node, commands), run(redis_server, commands))


# ---------------------------------------------------------------------------
# Pinned replies

PINNED = [
    (['ZADD', 'z', '1.1', 'a', '1e300', 'b', 'inf', 'c', '-inf', 'd'], b':4\r\n'),
    (['ZRANGE', 'z', '0', '-1', 'WITHSCORES'],
     b'*8\r\n$1\r\nd\r\n$4\r\n-inf\r\n$1\r\na\r\n$18\r\n1.1000000000000001\r\n'
     b'$1\r\nb\r\n$23\r\n1.0000000000000001e+300\r\n$1\r\nc\r\n$3\r\ninf\r\n'),
    (['ZADD', 'p', '0.1', 'x'], b':1\r\n'),
    (['ZINCRBY', 'p', '0.2', 'x'], b'$19\r\n0.30000000000000004\r\n'),
    (['ZSCORE', 'p', 'nope'], b'$-1\r\n'),
    (['ZADD', 'z', 'NX', 'XX', '1', 'a'],
     b'-ERR XX and NX options at the same time are not compatible\r\n'),
    (['ZADD', 'z', 'GT', 'LT', '1', 'a'],
     b'-ERR GT, LT, and/or NX options at the same time are not compatible\r\n'),
    (['ZADD', 'z', 'INCR', '1', 'a', '2', 'b'],
     b'-ERR INCR option supports a single increment-element pair\r\n'),
    (['ZADD', 'z', 'x', 'a'], b'-ERR value is not a valid float\r\n'),
    (['ZINCRBY', 'z', '-inf', 'c'], b'-ERR resulting score is not a number (NaN)\r\n'),
    (['ZRANGEBYSCORE', 'z', 'x', '1'], b'-ERR min or max is not a float\r\n'),
    (['ZRANGE', 'z', '0', '1', 'LIMIT', '0', '1'],
     b'-ERR syntax error, LIMIT is only supported in combination with either BYSCORE '
     b'or BYLEX\r\n'),
    (['ZADD', 'n', '1', 'a', '2', 'b', '3', 'c'], b':3\r\n'),
    (['ZPOPMIN', 'n'], b'*2\r\n$1\r\na\r\n$1\r\n1\r\n'),
    (['ZPOPMAX', 'n', '5'], b'*4\r\n$1\r\nc\r\n$1\r\n3\r\n$1\r\nb\r\n$1\r\n2\r\n'),
    (['EXISTS', 'n'], b':0\r\n'),
    (['ZPOPMIN', 'n'], b'*0\r\n'),
    (['ZRANK', 'z', 'b'], b':2\r\n'),
    (['ZREVRANK', 'z', 'b'], b':1\r\n'),
    (['ZCOUNT', 'z', '(1.1', '+inf'], b':2\r\n'),
]

PINNED_RESP3 = [
    (['ZADD', 'z', '1', 'a', '2.5', 'b'], b':2\r\n'),
    (['ZSCORE', 'z', 'b'], b',2.5\r\n'),
    (['ZSCORE', 'z', 'nope'], b'_\r\n'),
    (['ZRANGE', 'z', '0', '-1', 'WITHSCORES'],
     b'*2\r\n*2\r\n$1\r\na\r\n,1\r\n*2\r\n$1\r\nb\r\n,2.5\r\n'),
    (['ZRANGE', 'z', '0', '-1'], b'*2\r\n$1\r\na\r\n$1\r\nb\r\n'),
    (['ZMSCORE', 'z', 'a', 'x'], b'*2\r\n,1\r\n_\r\n'),
    (['ZPOPMIN', 'z'], b'*2\r\n$1\r\na\r\n,1\r\n'),
    (['ZPOPMAX', 'z', '1'], b'*1\r\n*2\r\n$1\r\nb\r\n,2.5\r\n'),
    (['ZPOPMIN', 'z'], b'*0\r\n'),
    (['ZADD', 'z', 'XX', 'INCR', '1', 'a'], b'_\r\n'),
    (['ZADD', 'z', 'INCR', 'inf', 'a'], b',inf\r\n'),
    (['ZINCRBY', 'z', '-1', 'a'], b',inf\r\n'),
]


@pytest.mark.parametrize('proc_name', ['node', 'redis_server'])
def test_pinned_replies(proc_name, request):
    check_pinned_in_order(request.getfixturevalue(proc_name), PINNED, PINNED_RESP3)


@pytest.mark.parametrize('proc_name', ['node', 'redis_server'])
def test_type_is_zset(proc_name, request):
    proc = request.getfixturevalue(proc_name)
    with proc.raw() as conn:
        assert conn.command('ZADD', 'z', '1', 'a') == b':1\r\n'
        assert conn.command('TYPE', 'z') == b'+zset\r\n'
        assert conn.command('SCAN', '0', 'TYPE', 'zset') == b'*2\r\n$1\r\n0\r\n*1\r\n$1\r\nz\r\n'


def test_expired_sorted_sets_are_gone(node):
    r = node.client()
    r.zadd('z', {'a': 1, 'b': 2})
    r.pexpire('z', 30)
    wait_until(lambda: r.exists('z') == 0, scaled(5), what='z to expire')
    assert r.zcard('z') == 0
    assert r.zrange('z', 0, -1) == []
    assert r.zscore('z', 'a') is None
    assert r.zadd('z', {'c': 3}) == 1
    assert r.zrange('z', 0, -1, withscores=True) == [(b'c', 3.0)]
    assert r.ttl('z') == -1


def test_large_set_matches_a_model(node):
    """Thousands of members with colliding scores: ranks, score ranges and
    pops agree with a sorted Python list."""
    r = node.client()
    rng = random.Random(7)
    model = {}
    for _ in range(6):
        batch = {('m%d' % rng.randint(0, 3000)).encode(): float(rng.randint(-50, 50))
                 for _ in range(500)}
        r.zadd('z', batch)
        model.update(batch)
    doomed = rng.sample(sorted(model), 400)
    assert r.zrem('z', *doomed) == 400
    for m in doomed:
        del model[m]
    order = sorted(model.items(), key=lambda kv: (kv[1], kv[0]))
    assert r.zcard('z') == len(order)
    assert r.zrange('z', 0, -1, withscores=True) == order
    for m, _ in rng.sample(order, 50):
        assert r.zrank('z', m) == order.index((m, model[m]))
    for _ in range(30):
        lo, hi = sorted(rng.randint(-60, 60) for _ in range(2))
        want = [kv for kv in order if lo <= kv[1] <= hi]
        assert r.zrangebyscore('z', lo, hi, withscores=True) == want
        assert r.zcount('z', '(%d' % lo, hi) == len([kv for kv in want if kv[1] > lo])
    got = r.zpopmin('z', 100)
    assert got == order[:100]
    assert r.zpopmax('z', 3) == order[::-1][:3]


# ---------------------------------------------------------------------------
# Clusters and snapshots


def zstate(conn, keys):
    return {k: conn.command('ZRANGE', k, '0', '-1', 'WITHSCORES') for k in keys}


def assert_all_nodes_hold(cluster, leader, keys):
    with leader.raw() as lconn:
        want = zstate(lconn, keys)
    for f in cluster.nodes.values():
        if f is leader or not f.is_running():
            continue
        with f.raw() as conn:
            assert conn.command('READONLY') == b'+OK\r\n'
            wait_until(lambda: zstate(conn, keys) == want, scaled(20),
                       what='%s to hold the leader\'s sorted sets' % f.name)
    return want


def test_cluster_same_sorted_sets_on_every_node(cluster):
    leader = cluster.wait_for_leader()
    keys = ['z1', 'z2', 'z3']
    rng = random.Random(3)
    with leader.raw() as conn:
        for k in keys:
            args = [x for i in range(300) for x in ('%d' % rng.randint(0, 50), 'm%d' % i)]
            assert conn.command('ZADD', k, *args) == b':300\r\n'
        for i in range(300):
            k = rng.choice(keys)
            roll = rng.random()
            if roll < 0.4:
                reply = conn.command('ZINCRBY', k, '%.3f' % rng.uniform(-5, 5),
                                     'm%d' % rng.randint(0, 400))
            elif roll < 0.7:
                reply = conn.command('ZPOPMIN', k, *([] if i % 2 else ['3']))
            else:
                reply = conn.command('ZADD', k, 'GT', 'CH', str(rng.randint(0, 60)),
                                     'm%d' % rng.randint(0, 400))
            assert not reply.startswith(b'-'), reply
        # Pipelined: many writes in one log entry.
        conn.send(b''.join(encode('ZPOPMIN', rng.choice(keys)) if i % 2 else
                           encode('ZINCRBY', rng.choice(keys), '0.1', 'm%d' % i)
                           for i in range(200)))
        conn.read_replies(200)
    got = assert_all_nodes_hold(cluster, leader, keys)
    assert all(got[k].startswith(b'*') and got[k] != b'*0\r\n' for k in keys), got


def test_snapshot_round_trip_through_restart(workspace):
    """Sorted sets (binary members, inf/-inf/fractional scores, an expiry)
    written, SAVEd, restored by a restarted node exactly."""
    redis_raft_only()
    node = workspace.node()
    keys = ['a', 'b', b'bin\x00key']
    with node.raw() as conn:
        assert conn.command('ZADD', 'a', '1.1', 'x', 'inf', 'y', '-inf', 'z', '0', b'\x00\xff',
                            '-2.5', '', '1e-300', 'tiny') == b':6\r\n'
        args = [x for i in range(2000) for x in ('%d' % (i % 13), 'm%d' % i)]
        assert conn.command('ZADD', 'b', *args) == b':2000\r\n'
        assert conn.command('ZADD', b'bin\x00key', '3', 'q') == b':1\r\n'
        assert conn.command('EXPIRE', 'b', '1000') == b':1\r\n'
        before = zstate(conn, keys)
        assert conn.command('SAVE', timeout=scaled(60)) == b'+OK\r\n'
    node.stop()
    node.start()
    # Loaded from the snapshot (3 keys), not rebuilt from the log alone.
    assert re.search(r'Snapshot loaded at start from \S+: 3 keys', node.log_text()), \
        node.log_tail()
    with node.raw() as conn:
        assert zstate(conn, keys) == before
        assert conn.command('TTL', 'b') not in (b':-1\r\n', b':-2\r\n')
        assert conn.command('ZRANK', 'b', 'm1999') == b':%d\r\n' % (
            sorted(range(2000), key=lambda i: (i % 13, 'm%d' % i)).index(1999))
        # It keeps working after the restart.
        assert conn.command('ZPOPMIN', 'a') == b'*2\r\n$1\r\nz\r\n$4\r\n-inf\r\n'
        assert conn.command('ZCARD', 'a') == b':5\r\n'
