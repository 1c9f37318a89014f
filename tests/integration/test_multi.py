"""MULTI / EXEC / DISCARD / WATCH / UNWATCH as Redis 7.0 documents them
(https://redis.io/docs/interact/transactions/), then transactions in a
3-node cluster: atomicity under concurrent optimistic increments through
the leader and through followers, all-or-nothing visibility, and
acknowledged transactions surviving a leader kill.

The differential part runs each script against redis-raft and against a
stock redis-server 7.0 and compares the reply bytes step by step. A script
is a list of steps on named connections ('a', 'b', ...): (conn, command)
records the reply; ('wait_gone', conn, key) polls EXISTS key on conn until
the key is gone (expiry), recording nothing. A few replies are pinned to
literal bytes as well, so that a script cannot pass because both servers
fail the same way.
"""

import random
import threading
import pytest

import harness
from differential import run_pipelined, sequences_in_one_write
from harness import encode, scaled, split_replies, wait_until
from test_snapshots import newest_snapshot

NIL_ARRAY = b'*-1\r\n'
EXECABORT = b'-EXECABORT Transaction discarded because of previous errors.\r\n'


def c(line):
    return line.split(' ')


def s(conn, line):
    """A step: `line` (space-split, or a list) on connection `conn`."""
    return (conn, c(line) if isinstance(line, str) else line)


def a(line):
    return s('a', line)


def b(line):
    return s('b', line)


def wait_gone(conn, key):
    return ('wait_gone', conn, key)


SCRIPTS = {
    # ---- queueing and EXEC
    'basic': [a('MULTI'), a('SET k v'), a('INCR n'), a('GET k'), a('RPUSH l x y'),
              a('LRANGE l 0 -1'), a('EXEC'), a('GET k'), a('GET n'), a('LLEN l')],
    'lowercase': [a('multi'), a('set k v'), a('Get k'), a('exec'), a('mUlTi'),
                  a('discard'), a('watch k'), a('unwatch')],
    'exec_discard_without_multi': [a('EXEC'), a('DISCARD'), a('exec'), a('discard'),
                                   a('MULTI'), a('EXEC'), a('EXEC'), a('DISCARD')],
    'empty_exec': [a('MULTI'), a('EXEC'), a('MULTI'), a('DISCARD'), a('EXEC')],
    'discard': [a('SET k old'), a('MULTI'), a('SET k v'), a('DEL k'), a('DISCARD'),
                a('GET k'), a('EXEC'), a('DISCARD')],
    'nested_multi': [a('MULTI'), a('SET k 1'), a('MULTI'), a('INCR k'), a('EXEC'),
                     a('GET k'), a('EXEC')],
    'watch_inside_multi': [a('MULTI'), a('SET k 1'), a('WATCH k'), a('INCR k'),
                           a('EXEC'), a('GET k')],
    'multi_wrong_arity': [a('MULTI x'), a('EXEC'), a('MULTI'), a('EXEC x'), a('SET k 1'),
                          a('EXEC'), a('EXISTS k')],
    'discard_wrong_arity_in_multi': [a('MULTI'), a('SET k 1'), a('DISCARD x'),
                                     a('EXEC'), a('EXISTS k')],
    'watch_unwatch_arity': [a('WATCH'), a('UNWATCH x'), a('MULTI'), a('SET k 1'),
                            a('EXEC')],
    'ping_echo_inside': [a('MULTI'), a('PING'), a('PING hi'), a('ECHO x'),
                         a(['ECHO', b'\x00\r\n']), a('SET k v'), a('GET k'), a('EXEC')],
    'select_inside': [a('MULTI'), a('SELECT 0'), a('SET k v'), a('GET k'), a('EXEC')],
    'read_your_writes_inside': [a('SET n 10'), a('MULTI'), a('INCR n'), a('GET n'),
                                a('INCRBY n 5'), a('DEL n'), a('GET n'), a('INCR n'),
                                a('EXEC'), a('GET n')],
    'types_inside': [a('MULTI'), a('SADD s a b c'), a('SCARD s'), a('SISMEMBER s b'),
                     a('LPUSH l 1 2 3'), a('LPOP l'), a('MSET x 1 y 2'),
                     a('MGET x y z'), a('TYPE s'), a('TYPE l'), a('EXEC'),
                     a('SISMEMBER s c'), a('DBSIZE')],
    'hash_inside': [a('MULTI'), a('HSET h f v g w'), a('HGET h f'), a('HLEN h'),
                    a('HINCRBY h n 5'), a('TYPE h'), a('EXEC'), a('HGET h n')],
    'expire_inside': [a('MULTI'), a('SET k v'), a('EXPIRE k 1000'), a('TTL k'),
                      a('PERSIST k'), a('TTL k'), a('SET t v EX 500'), a('TTL t'),
                      a('EXEC'), a('TTL k'), a('TTL t')],
    'publish_inside': [a('MULTI'), a('PUBLISH nobody msg'), a('SET k v'), a('EXEC')],
    'many_commands': [a('MULTI')] + [a('INCR n') for _ in range(300)] +
                     [a('GET n'), a('EXEC'), a('GET n')],
    'big_values_inside': [a('MULTI'), a(['SET', 'k', 'x' * 100000]), a('STRLEN k'),
                          a(['APPEND', 'k', 'y' * 50000]), a('GET k'), a('EXEC')],
    'binary_args_inside': [a('MULTI'), a(['SET', b'k\x00\r\n', b'*1\r\n$1\r\n']),
                           a(['GET', b'k\x00\r\n']), a(['RPUSH', b'l', b'', b'\r\n']),
                           a(['LRANGE', 'l', '0', '-1']), a('EXEC')],

    # ---- queue-time errors: EXECABORT, nothing runs
    'unknown_command_aborts': [a('SET k 1'), a('MULTI'), a('INCR k'), a('FOOBAR x y'),
                               a('INCR k'), a('EXEC'), a('GET k'), a('EXEC')],
    'unknown_command_lowercase_aborts': [a('MULTI'), a('set k v'), a('foo'), a('EXEC'),
                                         a('EXISTS k')],
    'wrong_arity_aborts': [a('MULTI'), a('SET k v'), a('GET'), a('GET k x'),
                           a('SET x'), a('EXEC'), a('EXISTS k'), a('DBSIZE')],
    'error_then_discard': [a('MULTI'), a('GET'), a('DISCARD'), a('SET k v'), a('EXEC'),
                           a('MULTI'), a('GET k'), a('EXEC')],
    'execabort_then_new_multi': [a('MULTI'), a('FOO'), a('EXEC'), a('MULTI'),
                                 a('SET k v'), a('EXEC'), a('GET k')],

    # ---- runtime errors: the rest still runs
    'runtime_errors_inside': [a('RPUSH l a'), a('SET s abc'), a('MULTI'), a('SET k 1'),
                              a('INCR l'), a('LPUSH k x'), a('INCR k'), a('INCR s'),
                              a('INCRBY k notanumber'), a('LSET nokey 0 x'),
                              a('SET k v NX XX'), a('GET k'), a('EXEC'), a('GET k'),
                              a('LRANGE l 0 -1'), a('GET s')],

    # ---- WATCH
    'watch_modified_by_other': [a('WATCH k'), b('SET k x'), a('MULTI'), a('SET k y'),
                                a('EXEC'), a('GET k')],
    'watch_existing_modified': [b('SET k 1'), a('WATCH k'), b('INCR k'), a('MULTI'),
                                a('INCR k'), a('EXEC'), a('GET k')],
    'watch_unmodified_runs': [b('SET k 1'), a('WATCH k'), b('SET other 2'),
                              b('GET k'), a('MULTI'), a('INCR k'), a('EXEC'), a('GET k')],
    'watch_modified_by_same_conn': [a('SET k 1'), a('WATCH k'), a('SET k 2'),
                                    a('MULTI'), a('INCR k'), a('EXEC'), a('GET k')],
    'watch_same_value_rewritten': [b('SET k 1'), a('WATCH k'), b('SET k 1'),
                                   a('MULTI'), a('INCR k'), a('EXEC'), a('GET k')],
    'watch_key_deleted': [b('SET k 1'), a('WATCH k'), b('DEL k'), a('MULTI'),
                          a('SET k 2'), a('EXEC'), a('GET k')],
    'watch_absent_created': [a('WATCH k'), b('SET k 1'), a('MULTI'), a('SET k 2'),
                             a('EXEC'), a('GET k')],
    'watch_absent_stays_absent': [a('WATCH k'), b('SET other 1'), b('DEL k'),
                                  a('MULTI'), a('SET k 2'), a('EXEC'), a('GET k')],
    'watch_absent_created_then_deleted': [a('WATCH k'), b('SET k 1'), b('DEL k'),
                                          a('MULTI'), a('SET k 2'), a('EXEC'),
                                          a('GET k')],
    'watch_list_modified': [b('RPUSH l a b'), a('WATCH l'), b('LPOP l'), a('MULTI'),
                            a('RPUSH l c'), a('EXEC'), a('LRANGE l 0 -1')],
    'watch_expire_command': [b('SET k v'), a('WATCH k'), b('EXPIRE k 1000'),
                             a('MULTI'), a('GET k'), a('EXEC')],
    'watch_many_keys_one_modified': [b('MSET x 1 y 2 z 3'), a('WATCH x y z w'),
                                     b('INCR z'), a('MULTI'), a('SET x 9'), a('EXEC'),
                                     a('MGET x y z w')],
    'watch_many_keys_none_modified': [b('MSET x 1 y 2 z 3'), a('WATCH x y z w'),
                                      b('SET q 1'), a('MULTI'), a('SET x 9'), a('EXEC'),
                                      a('MGET x y z w')],
    'watch_twice_second_key_modified': [a('WATCH k'), a('WATCH k other'),
                                        b('SET other 1'), a('MULTI'), a('SET k 2'),
                                        a('EXEC'), a('EXISTS k')],
    'watch_then_read_only_access': [b('SET k 1'), a('WATCH k'), b('GET k'),
                                    b('EXISTS k'), b('TYPE k'), b('STRLEN k'),
                                    a('MULTI'), a('INCR k'), a('EXEC')],
    'watch_empty_multi_exec_modified': [a('WATCH k'), b('SET k 1'), a('MULTI'),
                                        a('EXEC')],
    'watch_empty_multi_exec_unmodified': [a('WATCH k'), a('MULTI'), a('EXEC')],
    'unwatch': [a('WATCH k'), a('UNWATCH'), b('SET k 1'), a('MULTI'), a('INCR k'),
                a('EXEC'), a('GET k')],
    'unwatch_without_watch': [a('UNWATCH'), a('UNWATCH'), a('MULTI'), a('EXEC')],
    'unwatch_inside_multi_is_queued': [a('WATCH k'), a('MULTI'), a('UNWATCH'),
                                       b('SET k 1'), a('SET k 2'), a('EXEC'),
                                       a('GET k')],
    'discard_clears_watches': [a('WATCH k'), a('MULTI'), a('DISCARD'), b('SET k 1'),
                               a('MULTI'), a('INCR k'), a('EXEC'), a('GET k')],
    'exec_clears_watches': [a('WATCH k'), a('MULTI'), a('SET k 1'), a('EXEC'),
                            b('INCR k'), a('MULTI'), a('INCR k'), a('EXEC'), a('GET k')],
    'aborted_exec_clears_watches': [a('WATCH k'), b('SET k 1'), a('MULTI'),
                                    a('INCR k'), a('EXEC'), b('SET k 5'), a('MULTI'),
                                    a('INCR k'), a('EXEC'), a('GET k')],
    'execabort_clears_watches': [a('WATCH k'), a('MULTI'), a('FOO'), a('EXEC'),
                                 b('SET k 1'), a('MULTI'), a('INCR k'), a('EXEC')],
    'watch_failed_write_does_not_touch': [b('SET k abc'), a('WATCH k'), b('INCR k'),
                                          b('LPUSH k x'), a('MULTI'), a('GET k'),
                                          a('EXEC')],
    'watch_del_missing_does_not_touch': [a('WATCH n'), b('DEL n'), a('MULTI'),
                                         a('SET n 1'), a('EXEC')],
    'watch_persist_without_ttl_does_not_touch': [b('SET k v'), a('WATCH k'),
                                                 b('PERSIST k'), a('MULTI'), a('GET k'),
                                                 a('EXEC')],
    'watch_setnx_on_existing_does_not_touch': [b('SET k v'), a('WATCH k'),
                                               b('SET k w NX'), b('SETNX k w'),
                                               a('MULTI'), a('GET k'), a('EXEC')],
    'watch_source_of_copy_not_touched': [b('SET src v'), a('WATCH src'),
                                         b('COPY src dst'), a('MULTI'), a('GET dst'),
                                         a('EXEC')],
    'watch_source_of_store_not_touched': [b('SADD src a b'), a('WATCH src'),
                                          b('SUNIONSTORE dst src'), a('MULTI'),
                                          a('SCARD dst'), a('EXEC')],
    'watch_rename_destination': [b('SET x 1'), b('SET y 2'), a('WATCH y'),
                                 b('RENAME x y'), a('MULTI'), a('GET y'), a('EXEC')],
    'flushall_touches_watched_key': [b('SET k 1'), a('WATCH k'), b('FLUSHALL'),
                                     a('MULTI'), a('SET x 1'), a('EXEC'), a('EXISTS x')],
    'flushall_with_watched_absent_key': [b('SET other 1'), a('WATCH k'), b('FLUSHALL'),
                                         a('MULTI'), a('SET x 1'), a('EXEC'),
                                         a('EXISTS x')],
    'flushdb_touches_watched_key': [b('SET k 1'), a('WATCH k'), b('FLUSHDB'),
                                    a('MULTI'), a('SET x 1'), a('EXEC')],
    'reset_clears_multi_and_watches': [a('WATCH k'), a('MULTI'), a('SET k 1'),
                                       a('RESET'), b('SET k 2'), a('EXEC'),
                                       a('MULTI'), a('INCR k'), a('EXEC')],

    # ---- expiry of watched keys (Redis >= 6.0.9: abort)
    'watch_key_expires': [b('SET k v PX 3000'), a('WATCH k'), b('EXISTS k'),
                          wait_gone('b', 'k'), a('MULTI'), a('SET r 1'), a('EXEC'),
                          a('EXISTS r')],
    'watch_key_with_ttl_not_yet_expired': [b('SET k v EX 1000'), a('WATCH k'),
                                           a('MULTI'), a('GET k'), a('EXEC')],
}


# Scripts on one connection: also run as one pipelined write.
SINGLE_CONN = sorted(name for name, steps in SCRIPTS.items()
                     if all(st[0] == 'a' for st in steps))

# Replies pinned to literal bytes (redis-server 7.0), checked on both servers.
PINNED = {
    'basic': {6: b'*5\r\n+OK\r\n:1\r\n$1\r\nv\r\n:2\r\n*2\r\n$1\r\nx\r\n$1\r\ny\r\n'},
    'exec_discard_without_multi': {0: b'-ERR EXEC without MULTI\r\n',
                                   1: b'-ERR DISCARD without MULTI\r\n',
                                   5: b'*0\r\n'},
    'nested_multi': {2: b'-ERR MULTI calls can not be nested\r\n'},
    'watch_inside_multi': {2: b'-ERR WATCH inside MULTI is not allowed\r\n'},
    'unknown_command_aborts': {5: EXECABORT, 6: b'$1\r\n1\r\n'},
    'wrong_arity_aborts': {2: b"-ERR wrong number of arguments for 'get' command\r\n",
                           5: EXECABORT},
    'watch_modified_by_other': {4: NIL_ARRAY, 5: b'$1\r\nx\r\n'},
    'watch_unmodified_runs': {6: b'*1\r\n:2\r\n'},
    'watch_absent_created_then_deleted': {5: NIL_ARRAY},
    'flushall_touches_watched_key': {5: NIL_ARRAY},
    'watch_key_expires': {2: b':1\r\n', 5: NIL_ARRAY, 6: b':0\r\n'},
    'runtime_errors_inside': {
        12: b'*9\r\n+OK\r\n'
            b'-WRONGTYPE Operation against a key holding the wrong kind of value\r\n'
            b'-WRONGTYPE Operation against a key holding the wrong kind of value\r\n'
            b':2\r\n'
            b'-ERR value is not an integer or out of range\r\n'
            b'-ERR value is not an integer or out of range\r\n'
            b'-ERR no such key\r\n'
            b'-ERR syntax error\r\n'
            b'$1\r\n2\r\n'},
}


def _recorded(steps):
    return [st for st in steps if st[0] != 'wait_gone']


def run_script(servers, steps, flush=True):
    """Run steps, conn 'a'/'b'/... on servers[conn] (a dict of procs, or one
    proc for every conn); return the recorded reply bytes."""
    names = sorted({st[1] if st[0] == 'wait_gone' else st[0] for st in steps} | {'a'})
    if not isinstance(servers, dict):
        servers = {n: servers for n in names}
    conns = {n: servers[n].raw() for n in names}
    try:
        if flush:
            assert conns['a'].command('FLUSHALL') == b'+OK\r\n'
        out = []
        for st in steps:
            if st[0] == 'wait_gone':
                conn, key = conns[st[1]], st[2]
                wait_until(lambda: conn.command('EXISTS', key) == b':0\r\n',
                           scaled(20), what='%r to expire' % key)
                continue
            out.append(conns[st[0]].command(*st[1]))
        return out
    finally:
        for conn in conns.values():
            conn.close()


def assert_same_steps(steps, got, want):
    steps = _recorded(steps)
    for i, (st, g, w) in enumerate(zip(steps, got, want)):
        assert g == w, 'step %d %s %r:\n  redis-server: %r\n  redis-raft:   %r' % (
            i, st[0], st[1], w[:300], g[:300])
    assert len(got) == len(want) == len(steps)


@pytest.mark.parametrize('name', sorted(SCRIPTS))
def test_same_replies_as_redis(name, node, redis_server):
    steps = SCRIPTS[name]
    want = run_script(redis_server, steps)
    got = run_script(node, steps)
    assert_same_steps(steps, got, want)


@pytest.mark.parametrize('name', sorted(PINNED))
def test_pinned_replies(name, node, redis_server):
    """Literal reply bytes of a few steps, on both servers."""
    for proc in (redis_server, node):
        replies = run_script(proc, SCRIPTS[name])
        for i, expected in PINNED[name].items():
            assert replies[i] == expected, (proc.name, i, _recorded(SCRIPTS[name])[i])


@pytest.mark.parametrize('name', SINGLE_CONN)
def test_script_pipelined_in_one_write(name, node, redis_server):
    """A one-connection script sent as a single write (MULTI, the queued
    commands and EXEC arrive together): the same replies as redis-server."""
    steps = SCRIPTS[name]
    commands = [['FLUSHALL']] + [st[1] for st in steps]
    assert_same_steps(steps, run_pipelined(node, commands)[1:],
                      run_pipelined(redis_server, commands)[1:])


def single_conn_scripts_in_one_write():
    """Every one-connection script, each after FLUSHALL, as (steps,
    commands) for run_pipelined."""
    commands = sequences_in_one_write(
        {name: [st[1] for st in SCRIPTS[name]] for name in SINGLE_CONN})
    return [('a', cmd) for cmd in commands], commands


def test_all_single_conn_scripts_in_one_write(node, redis_server):
    steps, commands = single_conn_scripts_in_one_write()
    assert_same_steps(steps, run_pipelined(node, commands), run_pipelined(redis_server, commands))


def test_watch_multi_exec_pipelined_in_one_write(node, redis_server):
    """WATCH k / GET k / MULTI / ... / EXEC in one write: WATCH's stamps are
    taken before EXEC runs, and the transaction runs (nothing touched k)."""
    for proc in (redis_server, node):
        with proc.raw() as conn:
            assert conn.command('SET', 'k', '41') == b'+OK\r\n'
            conn.send(encode('WATCH', 'k') + encode('GET', 'k') + encode('MULTI') +
                      encode('INCR', 'k') + encode('SET', 'x', 'y') +
                      encode('EXEC') + encode('GET', 'k'))
            assert conn.read_replies(7) == [
                b'+OK\r\n', b'$2\r\n41\r\n', b'+OK\r\n', b'+QUEUED\r\n', b'+QUEUED\r\n',
                b'*2\r\n:42\r\n+OK\r\n', b'$2\r\n42\r\n'], proc.name


def test_watch_pipelined_then_modified_then_exec(node, redis_server):
    """WATCH pipelined with other commands of the same connection that
    modify the key: EXEC aborts."""
    for proc in (redis_server, node):
        with proc.raw() as conn:
            conn.send(encode('SET', 'k', '1') + encode('WATCH', 'k') +
                      encode('INCR', 'k') + encode('MULTI') + encode('INCR', 'k') +
                      encode('EXEC') + encode('GET', 'k'))
            assert conn.read_replies(7) == [
                b'+OK\r\n', b'+OK\r\n', b':2\r\n', b'+OK\r\n', b'+QUEUED\r\n',
                NIL_ARRAY, b'$1\r\n2\r\n'], proc.name


def test_watch_many_pipelined_watches_then_unwatch(node, redis_server):
    """Several WATCHes in flight followed by UNWATCH in one write, then a
    modification from another connection: EXEC runs."""
    for proc in (redis_server, node):
        with proc.raw() as conn, proc.raw() as other:
            conn.send(b''.join(encode('WATCH', 'k%d' % i) for i in range(50)) +
                      encode('UNWATCH'))
            assert conn.read_replies(51) == [b'+OK\r\n'] * 51
            assert other.command('SET', 'k7', 'x') == b'+OK\r\n'
            conn.send(encode('MULTI') + encode('GET', 'k7') + encode('EXEC'))
            assert conn.read_replies(3) == [b'+OK\r\n', b'+QUEUED\r\n',
                                            b'*1\r\n$1\r\nx\r\n'], proc.name


def test_connection_close_mid_multi_discards(node, redis_server):
    """A client that disconnects between MULTI and EXEC leaves nothing
    behind; a client that disconnects with a WATCH out does not disturb
    others."""
    for proc in (redis_server, node):
        conn = proc.raw()
        conn.send(encode('MULTI') + encode('SET', 'k', 'v') + encode('WATCH', 'x'))
        conn.read_replies(3)
        conn.close()
        conn = proc.raw()
        conn.send(encode('WATCH', 'k') + encode('MULTI') + encode('SET', 'k', 'v'))
        conn.close()
        with proc.raw() as check:
            # The other connection's MULTI never ran EXEC; writes after it
            # are unaffected.
            assert check.command('SET', 'z', '1') == b'+OK\r\n'
            assert check.command('EXISTS', 'k') == b':0\r\n', proc.name


def test_redis_py_transaction_helpers(node):
    """redis-py's pipeline(transaction=True) and watch() on one node."""
    r = node.client()
    r.set('k', '5')
    p = r.pipeline(transaction=True)
    p.incr('k').get('k').rpush('l', 'a', 'b').lrange('l', 0, -1)
    assert p.execute() == [6, b'6', 2, [b'a', b'b']]
    other = node.client()
    with r.pipeline() as p:
        p.watch('k')
        assert p.get('k') == b'6'
        other.set('k', '100')
        p.multi()
        p.set('k', '7')
        with pytest.raises(harness.redis.WatchError):
            p.execute()
    assert r.get('k') == b'100'


# ---------------------------------------------------------------------------
# Cluster: the same scripts with conn 'a' on a follower (proxied) and conn
# 'b' on the leader or the other follower.


@pytest.mark.parametrize('name', sorted(SCRIPTS))
def test_follower_scripts_same_as_redis(name, cluster, redis_server):
    steps = SCRIPTS[name]
    leader = cluster.wait_for_leader()
    f1, f2 = cluster.followers()
    b_node = f2 if sum(map(ord, name)) % 2 else leader
    want = run_script(redis_server, steps)
    got = run_script({'a': f1, 'b': b_node}, steps)
    assert_same_steps(steps, got, want)


def test_follower_scripts_pipelined(cluster, redis_server):
    follower = cluster.followers()[0]
    steps, commands = single_conn_scripts_in_one_write()
    assert_same_steps(steps, run_pipelined(follower, commands),
                      run_pipelined(redis_server, commands))


def test_watch_on_follower_sees_leader_write(cluster):
    """WATCH on a follower, the key written through the leader, EXEC on the
    follower: aborted (the stamps are read through the log)."""
    leader = cluster.wait_for_leader()
    for follower in cluster.followers():
        with follower.raw() as f, leader.raw() as l:
            assert l.command('SET', 'k', '1') == b'+OK\r\n'
            assert f.command('WATCH', 'k') == b'+OK\r\n'
            assert l.command('SET', 'k', '2') == b'+OK\r\n'
            assert f.command('MULTI') == b'+OK\r\n'
            assert f.command('SET', 'k', 'mine') == b'+QUEUED\r\n'
            assert f.command('EXEC') == NIL_ARRAY
            assert f.command('GET', 'k') == b'$1\r\n2\r\n'
            # Not touched: runs.
            assert f.command('WATCH', 'k') == b'+OK\r\n'
            assert l.command('SET', 'other', '1') == b'+OK\r\n'
            assert f.command('MULTI') == b'+OK\r\n'
            assert f.command('SET', 'k', 'mine') == b'+QUEUED\r\n'
            assert f.command('EXEC') == b'*1\r\n+OK\r\n'
            assert l.command('GET', 'k') == b'$4\r\nmine\r\n'


def _optimistic_increment(proc, key, count, stop, errors, stats):
    """WATCH key; GET; MULTI; SET key v+1; EXEC, retried on a nil reply,
    until `count` increments succeeded."""
    done = 0
    try:
        with proc.raw(timeout=scaled(30)) as conn:
            while done < count and not stop.is_set():
                assert conn.command('WATCH', key) == b'+OK\r\n'
                reply = conn.command('GET', key)
                value = 0 if reply == b'$-1\r\n' else int(split_bulk(reply))
                conn.send(encode('MULTI') + encode('SET', key, str(value + 1)) +
                          encode('EXEC'))
                r1, r2, r3 = conn.read_replies(3)
                assert (r1, r2) == (b'+OK\r\n', b'+QUEUED\r\n'), (r1, r2)
                if r3 == NIL_ARRAY:
                    stats['retries'] += 1
                    continue
                assert r3 == b'*1\r\n+OK\r\n', r3
                done += 1
    except Exception as exc:  # noqa: BLE001 - reported by the test
        errors.append('%s: %r' % (proc.name, exc))
        stop.set()
    stats['done'] += done


def split_bulk(reply):
    assert reply.startswith(b'$'), reply
    return reply[reply.index(b'\r\n') + 2:-2]


def readonly_get(node, key):
    with node.raw() as conn:
        assert conn.command('READONLY') == b'+OK\r\n'
        return conn.command('GET', key)


def test_concurrent_optimistic_increments_leader_and_followers(cluster):
    """Six clients (two per node, the followers' proxied) increment one
    counter with WATCH/MULTI/EXEC: no lost update, every node ends at N."""
    leader = cluster.wait_for_leader()
    followers = cluster.followers()
    per_client = 25
    targets = [leader, leader] + followers + followers
    stop, errors = threading.Event(), []
    stats = [{'done': 0, 'retries': 0} for _ in targets]
    threads = [threading.Thread(target=_optimistic_increment,
                                args=(t, 'ctr', per_client, stop, errors, st))
               for t, st in zip(targets, stats)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(scaled(240))
    assert not any(t.is_alive() for t in threads), 'clients hung'
    assert not errors, errors
    total = per_client * len(targets)
    assert sum(st['done'] for st in stats) == total
    expected = b'$%d\r\n%d\r\n' % (len(str(total)), total)
    assert leader.send_raw(encode('GET', 'ctr')) == expected
    for node in cluster.nodes.values():
        wait_until(lambda: readonly_get(node, 'ctr') == expected, scaled(20),
                   what='%s to read ctr=%d locally' % (node.name, total))


def test_transaction_all_or_nothing_to_readers(cluster):
    """While clients run MULTI / INCR a / INCR b / EXEC in a loop (through
    the leader and a follower), readers (leader, follower, follower with
    READONLY) never see a != b in one MGET."""
    leader = cluster.wait_for_leader()
    followers = cluster.followers()
    stop = threading.Event()
    problems = []
    counts = {'writes': 0, 'reads': 0}

    def writer(proc, n):
        try:
            with proc.raw(timeout=scaled(30)) as conn:
                for _ in range(n):
                    conn.send(encode('MULTI') + encode('INCR', 'a') +
                              encode('RPUSH', 'log', 'x') + encode('INCR', 'b') +
                              encode('EXEC'))
                    replies = conn.read_replies(5)
                    assert replies[:4] == [b'+OK\r\n'] + [b'+QUEUED\r\n'] * 3, replies
                    assert replies[4].startswith(b'*3\r\n:'), replies[4]
                    counts['writes'] += 1
        except Exception as exc:  # noqa: BLE001
            problems.append('writer %s: %r' % (proc.name, exc))

    def reader(proc, readonly):
        try:
            with proc.raw(timeout=scaled(30)) as conn:
                if readonly:
                    assert conn.command('READONLY') == b'+OK\r\n'
                while not stop.is_set():
                    reply = conn.command('MGET', 'a', 'b')
                    parts = split_replies(reply[reply.index(b'\r\n') + 2:])
                    if parts[0] != parts[1]:
                        problems.append('%s (readonly=%s): MGET a b -> %r' % (
                            proc.name, readonly, reply))
                        return
                    counts['reads'] += 1
        except Exception as exc:  # noqa: BLE001
            problems.append('reader %s: %r' % (proc.name, exc))

    writers = [threading.Thread(target=writer, args=(p, 150))
               for p in (leader, followers[0])]
    readers = [threading.Thread(target=reader, args=(p, ro))
               for p, ro in ((leader, False), (followers[0], False),
                             (followers[1], True), (followers[0], True))]
    for t in readers + writers:
        t.start()
    for t in writers:
        t.join(scaled(240))
    stop.set()
    for t in readers:
        t.join(scaled(60))
    assert not any(t.is_alive() for t in readers + writers), 'clients hung'
    assert not problems, problems
    assert counts['reads'] > 0
    for node in cluster.nodes.values():
        wait_until(lambda: readonly_get(node, 'a') == readonly_get(node, 'b') ==
                   b'$3\r\n300\r\n', scaled(20), what='%s a=b=300' % node.name)
    assert cmd_llen(leader, 'log') == 300


def cmd_llen(proc, key):
    reply = proc.send_raw(encode('LLEN', key))
    assert reply.startswith(b':'), reply
    return int(reply[1:-2])


def test_mixed_multi_and_plain_writes_on_every_node_converge(cluster):
    """Transactions and plain commands interleaved on all three nodes:
    every node applies the same log, so the keyspaces end identical."""
    rnd = random.Random(7)
    nodes = list(cluster.nodes.values())
    for i in range(60):
        proc = rnd.choice(nodes)
        with proc.raw() as conn:
            if rnd.random() < 0.5:
                conn.send(encode('MULTI') + encode('RPUSH', 'l', 'm%d' % i) +
                          encode('INCR', 'n') + encode('HSET', 'h', 'f%d' % (i % 5), i) +
                          encode('EXEC'))
                replies = conn.read_replies(5)
                assert replies[4].startswith(b'*3\r\n'), replies
            else:
                assert conn.command('RPUSH', 'l', 'p%d' % i).startswith(b':')
    want = [cmd_bytes(cluster.wait_for_leader(), k) for k in ('l', 'n', 'h')]
    for proc in nodes:
        wait_until(lambda: [cmd_bytes(proc, k, readonly=True) for k in ('l', 'n', 'h')]
                   == want, scaled(20), what='%s to converge' % proc.name)


def cmd_bytes(proc, key, readonly=False):
    with proc.raw() as conn:
        if readonly:
            conn.command('READONLY')
        t = conn.command('TYPE', key)
        if t == b'+list\r\n':
            return conn.command('LRANGE', key, '0', '-1')
        if t == b'+hash\r\n':
            # Field order is a node's own dict order: compare the pairs.
            reply = conn.command('HGETALL', key)
            items = split_replies(reply[reply.index(b'\r\n') + 2:])
            return sorted(zip(items[::2], items[1::2]))
        return conn.command('GET', key)


def test_acknowledged_transactions_survive_leader_kill(new_cluster):
    """Clients on every node run MULTI / INCR ctr / RPUSH log id / EXEC;
    the leader is SIGKILLed midway. Every acknowledged transaction is in
    the log afterwards, and transactions are whole: ctr == LLEN log and
    every id appears at most once."""
    cluster = new_cluster(3)
    leader = cluster.wait_for_leader()
    acked, lock = [], threading.Lock()
    stop = threading.Event()
    problems = []

    def client(node_id, proc):
        i = 0
        while not stop.is_set():
            try:
                with proc.raw(timeout=scaled(30)) as conn:
                    while not stop.is_set():
                        tid = '%d-%d' % (node_id, i)
                        i += 1
                        conn.send(encode('MULTI') + encode('INCR', 'ctr') +
                                  encode('RPUSH', 'log', tid) + encode('EXEC'))
                        replies = conn.read_replies(4)
                        if replies[3].startswith(b'*2\r\n:'):
                            with lock:
                                acked.append(tid)
                        elif not (replies[3].startswith(b'-TIMEOUT') or
                                  replies[3].startswith(b'-CLUSTERDOWN') or
                                  replies[3].startswith(b'-TRYAGAIN') or
                                  replies[3].startswith(b'-MOVED')):
                            problems.append('%s: %r' % (tid, replies))
                            return
            except (OSError, ConnectionError, harness.TimeoutExpired):
                if not proc.is_running():
                    return

    threads = [threading.Thread(target=client, args=(nid, n))
               for nid, n in cluster.nodes.items()]
    for t in threads:
        t.start()
    try:
        wait_until(lambda: len(acked) >= 60, scaled(60), what='60 transactions')
        leader.kill()
        new = cluster.wait_for_leader(scaled(30))
        assert new is not leader
        before = len(acked)
        wait_until(lambda: len(acked) >= before + 60, scaled(60),
                   what='60 more transactions after failover')
    finally:
        stop.set()
        for t in threads:
            t.join(scaled(60))
    assert not any(t.is_alive() for t in threads), 'clients hung'
    assert not problems, problems
    new = cluster.wait_for_leader(scaled(30))
    with new.raw() as conn:
        ctr = int(split_bulk(conn.command('GET', 'ctr')))
        reply = conn.command('LRANGE', 'log', '0', '-1')
    ids = [x.decode() for x in split_replies(reply[reply.index(b'\r\n') + 2:])]
    ids = [x[x.index('\r\n') + 2:-2] for x in ids]
    assert ctr == len(ids), (ctr, len(ids))
    assert len(set(ids)) == len(ids), 'a transaction applied twice'
    missing = set(acked) - set(ids)
    assert not missing, 'acknowledged transactions lost: %s' % sorted(missing)[:20]
    # The old leader comes back and converges.
    cluster.start(leader.node_id)
    for node in cluster.up():
        wait_until(lambda: readonly_get(node, 'ctr') == b'$%d\r\n%d\r\n' % (
            len(str(ctr)), ctr), scaled(30), what='%s to catch up' % node.name)


def test_big_transaction_on_leader_and_follower(cluster, redis_server):
    """5000 queued commands with 1 MB of values, as one pipelined write, on
    the leader and through a follower: the same EXEC reply as redis-server."""
    leader = cluster.wait_for_leader()
    follower = cluster.followers()[0]
    cmds = [['MULTI']]
    for i in range(5000):
        cmds.append(['RPUSH', 'l', 'x' * 200] if i % 2 else ['INCR', 'n'])
    cmds += [['LLEN', 'l'], ['GET', 'n'], ['EXEC'], ['LLEN', 'l']]
    commands = [['FLUSHALL']] + cmds
    want = run_pipelined(redis_server, commands, timeout=scaled(60))
    steps = [('a', x) for x in commands]
    assert_same_steps(steps, run_pipelined(leader, commands, timeout=scaled(60)), want)
    assert_same_steps(steps, run_pipelined(follower, commands, timeout=scaled(60)), want)


def test_watch_survives_leadership_transfer(cluster):
    """Stamps are replicated state: a WATCH taken under one leader holds
    (or fails) the same way when EXEC runs under another."""
    for modify in (False, True):
        leader = cluster.wait_for_leader()
        f1, f2 = cluster.followers()
        with f1.raw() as conn:
            assert conn.command('SET', 'k', 'v0') == b'+OK\r\n'
            assert conn.command('WATCH', 'k') == b'+OK\r\n'
            assert leader.send_raw(encode('RAFT.TRANSFER', str(f2.node_id))) == b'+OK\r\n'
            assert cluster.wait_for_leader(scaled(10)) is f2
            if modify:
                assert f2.send_raw(encode('APPEND', 'k', 'x')) == b':3\r\n'
            else:
                assert f2.send_raw(encode('SET', 'other', '1')) == b'+OK\r\n'
            assert conn.command('MULTI') == b'+OK\r\n'
            assert conn.command('SET', 'k', 'mine') == b'+QUEUED\r\n'
            reply = conn.command('EXEC')
            assert reply == (NIL_ARRAY if modify else b'*1\r\n+OK\r\n'), (modify, reply)
            assert conn.command('GET', 'k') == (b'$3\r\nv0x\r\n' if modify
                                                else b'$4\r\nmine\r\n')


def test_watch_stamps_survive_snapshot_and_restart(new_cluster):
    """WATCH k through node 3; then snapshots compact the log, node 2 is
    restarted (it loads its snapshot) and becomes leader. EXEC on node 3
    runs, since k was not touched; a second round where k is touched
    aborts."""
    cluster = new_cluster(3, {'snapshot-threshold': 100, 'snapshot-trailing': 20})
    cluster.wait_for_leader()
    n2, n3 = cluster.nodes[2], cluster.nodes[3]
    for modify in (False, True):
        with n3.raw() as conn:
            assert conn.command('SET', 'k', 'v') == b'+OK\r\n'
            assert conn.command('WATCH', 'k') == b'+OK\r\n'
            index = int(cluster.wait_for_leader().raft_info()['raft_commit_index'])
            with cluster.wait_for_leader().raw() as w:
                for i in range(300):   # one at a time: one log entry each
                    assert w.command('SET', 'fill:%d' % i, 'x' * 100) == b'+OK\r\n'
            cluster.wait_for_applied()
            wait_until(lambda: (newest_snapshot(n2) or (0, 0))[1] > index, scaled(30),
                       what='node 2 to cut a snapshot past index %d' % index)
            cluster.restart(2)
            cluster.wait_for_applied()
            leader = cluster.wait_for_leader(scaled(20))
            if leader is not n2:
                assert leader.send_raw(encode('RAFT.TRANSFER', '2')) == b'+OK\r\n'
                assert cluster.wait_for_leader(scaled(20)) is n2
            if modify:
                assert n2.send_raw(encode('SET', 'k', 'v')) == b'+OK\r\n'
            assert conn.command('MULTI') == b'+OK\r\n'
            assert conn.command('INCR', 'runs') == b'+QUEUED\r\n'
            reply = conn.command('EXEC')
            assert reply == (NIL_ARRAY if modify else b'*1\r\n:1\r\n'), (modify, reply)
