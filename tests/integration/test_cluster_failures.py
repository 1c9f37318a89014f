"""A 3-node (or 5-node) cluster under failures: nodes killed with SIGKILL,
stopped with SIGTERM or SHUTDOWN, a majority lost. Each test starts its own
cluster (the `new_cluster` fixture).

What must hold: no acknowledged write is lost; a command whose outcome is
unknown gets -TIMEOUT, never a definite error; with no leader a keyed
command fails (-CLUSTERDOWN after leader-wait-timeout, or -TIMEOUT) and
never gets a wrong answer; service resumes when a majority is back; a
leader that is shut down hands leadership over before it exits.
"""

import bisect
import collections
import threading
import time

import pytest

import harness
from harness import encode, scaled, wait_until


def cmd(node, *args):
    return node.send_raw(encode(*args))


def get_int(node, key):
    reply = cmd(node, 'GET', key)
    assert reply.startswith(b'$'), reply
    return 0 if reply == b'$-1\r\n' else int(reply.split(b'\r\n')[1])


def is_unknown_outcome(reply):
    return reply.startswith(b'-TIMEOUT ')


def term_of(node):
    return int(node.raft_info()['raft_term'])


# ---------------------------------------------------------------------------
# No leader


def keyed(prefix):
    """Keyed commands; the writes touch keys of their own under prefix."""
    return [('GET', 'k'), ('SET', prefix + 's', 'x'), ('INCR', prefix + 'n'),
            ('RPUSH', prefix + 'l', 'a'), ('MGET', 'k', 'n'), ('DEL', prefix + 'd')]


def send_each(node, commands):
    """Send each command on its own connection at once; returns a list of
    (command, reply, seconds until the reply)."""
    conns = [node.raw(timeout=scaled(30)) for _ in commands]
    try:
        start = time.monotonic()
        for conn, args in zip(conns, commands):
            conn.send(encode(*args))
        out = []
        for conn, args in zip(conns, commands):
            reply = conn.read_reply()
            out.append((args, reply, time.monotonic() - start))
        return out
    finally:
        for conn in conns:
            conn.close()


@pytest.mark.parametrize('survivor', ['leader', 'follower'])
def test_no_leader_commands_fail_then_service_resumes(survivor, new_cluster):
    wait_ms = 600
    cluster = new_cluster(3, {'leader-wait-timeout': wait_ms})
    leader = cluster.wait_for_leader()
    with leader.raw() as conn:
        assert conn.command('SET', 'k', 'v') == b'+OK\r\n'
        for i in range(10):
            assert conn.command('INCR', 'n') == b':%d\r\n' % (i + 1)
    node = leader if survivor == 'leader' else cluster.followers()[0]
    for other in cluster.nodes.values():
        if other is not node:
            other.kill()

    # At once: a keyed command gets no value (the survivor may still think
    # it leads, or that the dead leader does).
    unknown = []
    for args, reply, _ in send_each(node, keyed('first:')):
        if is_unknown_outcome(reply):
            unknown.append(args)
        else:
            assert reply.startswith(b'-CLUSTERDOWN '), (args, reply)

    # Once it knows there is no leader: every keyed command waits
    # leader-wait-timeout for one, then fails with CLUSTERDOWN; the rest
    # is answered.
    wait_until(lambda: node.raft_info()['raft_leader_id'] == '0', scaled(20),
               what='%s to know there is no leader' % node.name)
    with node.raw(timeout=scaled(30)) as conn:
        # A pipeline too: the replies in order, the local PING answered.
        conn.send(encode('INCR', 'down:p') * 3 + encode('PING') + encode('GET', 'k'))
        for args, reply, elapsed in send_each(node, keyed('down:')):
            assert reply == b'-CLUSTERDOWN No raft leader\r\n', (args, reply)
            assert elapsed >= 0.9 * wait_ms / 1000, (args, reply, elapsed)
        replies = conn.read_replies(5)
        assert replies[3] == b'+PONG\r\n', replies
        for reply in replies[:3] + replies[4:]:
            assert reply == b'-CLUSTERDOWN No raft leader\r\n', replies
        info = harness.parse_info(conn.command('INFO', 'raft'))
        assert info['raft_role'] in ('follower', 'candidate'), info
        assert info['raft_leader_id'] == '0' and info['raft_leader_addr'] == '', info
        cinfo = harness.parse_info(conn.command('CLUSTER', 'INFO'))
        assert cinfo['cluster_state'] == 'fail', cinfo
        assert conn.command('CLUSTER', 'KEYSLOT', 'foo') == b':12182\r\n'

    for other in cluster.nodes.values():
        if other is not node:
            other.start()
    cluster.wait_for_leader(scaled(30))
    # Service resumes through the survivor; acknowledged data is intact and
    # what failed with CLUSTERDOWN changed nothing.
    with node.raw() as conn:
        assert conn.command('GET', 'k') == b'$1\r\nv\r\n'
        assert conn.command('INCR', 'n') == b':11\r\n'
        assert conn.command('EXISTS', 'down:s', 'down:n', 'down:l', 'down:p') == b':0\r\n'
        if not unknown:
            assert conn.command('EXISTS', 'first:s', 'first:n', 'first:l') == b':0\r\n'
        assert conn.command('SET', 'k', 'v2') == b'+OK\r\n'
    assert cmd(cluster.wait_for_leader(), 'GET', 'k') == b'$2\r\nv2\r\n'


# ---------------------------------------------------------------------------
# SIGKILL


def test_sigkill_leader_loses_no_acknowledged_write(new_cluster):
    cluster = new_cluster(3)
    leader = cluster.wait_for_leader()
    follower = cluster.followers()[0]
    acked = {}
    with leader.raw() as lconn, follower.raw() as fconn:
        for i in range(200):
            conn = lconn if i % 2 else fconn
            assert conn.command('SET', 'key:%d' % i, 'v%d' % i) == b'+OK\r\n'
            acked['key:%d' % i] = 'v%d' % i
        # A pipeline in flight on both connections when the leader dies.
        lconn.send(encode('INCR', 'inflight') * 50)
        fconn.send(encode('INCR', 'inflight') * 50)
        term = term_of(leader)
        leader.kill()
        fvals = []
        for reply in fconn.read_replies(50, timeout=scaled(30)):
            if reply.startswith(b':'):
                fvals.append(int(reply[1:-2]))
            else:
                assert reply.startswith(b'-TIMEOUT ') or \
                    reply.startswith(b'-CLUSTERDOWN '), reply
    new = cluster.wait_for_leader(scaled(20))
    assert new is not leader and term_of(new) > term
    # Every acknowledged write is there, read through every live node.
    for node in cluster.up():
        with node.raw() as conn:
            keys = sorted(acked)
            conn.send(b''.join(encode('GET', k) for k in keys))
            for k in keys:
                assert conn.read_reply() == b'$%d\r\n%s\r\n' % (
                    len(acked[k]), acked[k].encode()), k
        assert get_int(node, 'inflight') >= (max(fvals) if fvals else 0)
    # Writes continue through both survivors.
    for node in cluster.up():
        assert cmd(node, 'SET', 'after:%d' % node.node_id, 'ok') == b'+OK\r\n'
        assert cmd(node, 'INCR', 'after') in (b':1\r\n', b':2\r\n')
    # The old leader comes back as a follower and catches up.
    cluster.start(leader.node_id)
    assert cluster.wait_for_leader(scaled(20)) is not leader
    with leader.raw() as conn:
        assert conn.command('READONLY') == b'+OK\r\n'
        wait_until(lambda: conn.command('GET', 'after') == b'$1\r\n2\r\n', scaled(20),
                   what='the restarted node to catch up')
        assert conn.command('GET', 'key:199') == b'$4\r\nv199\r\n'
        assert conn.command('GET', 'after:%d' % new.node_id) == b'$2\r\nok\r\n'


def test_kill_each_node_in_turn(new_cluster):
    cluster = new_cluster(3)
    expected = 0
    for victim in sorted(cluster.nodes):
        cluster.kill(victim)
        cluster.wait_for_leader(scaled(20))
        for node in cluster.up():
            with node.raw(timeout=scaled(20)) as conn:
                expected += 1
                assert conn.command('INCR', 'counter') == b':%d\r\n' % expected
                assert conn.command('SET', 'last', 'from %d' % node.node_id) == b'+OK\r\n'
                assert conn.command('GET', 'last') == b'$6\r\nfrom %d\r\n' % node.node_id
                assert conn.command('RPUSH', 'log', 'v%d' % victim) == b':%d\r\n' % expected
        cluster.start(victim)
        cluster.wait_for_leader(scaled(20))
        node = cluster.nodes[victim]
        with node.raw() as conn:
            assert conn.command('READONLY') == b'+OK\r\n'
            wait_until(lambda: conn.command('GET', 'counter') ==
                       b'$1\r\n%d\r\n' % expected, scaled(20),
                       what='node %d to catch up' % victim)
    for node in cluster.nodes.values():
        assert get_int(node, 'counter') == expected


def test_restart_with_data_needs_no_cluster_nodes(new_cluster):
    """A node restarted on its data directory resumes its raft state: the
    cluster-nodes list is not needed (it is only for bootstrap)."""
    cluster = new_cluster(3)
    leader = cluster.wait_for_leader()
    assert cmd(leader, 'SET', 'k', 'v1') == b'+OK\r\n'
    node = cluster.followers()[0]
    node.kill()
    assert cmd(leader, 'SET', 'k', 'v2') == b'+OK\r\n'
    del node.options['cluster-nodes']
    node.start()
    assert cluster.wait_for_leader(scaled(20)) is leader
    info = node.raft_info()
    assert info['raft_node_id'] == str(node.node_id)
    assert info['raft_num_nodes'] == '3' and info['raft_num_voters'] == '3'
    with node.raw() as conn:
        assert conn.command('READONLY') == b'+OK\r\n'
        wait_until(lambda: conn.command('GET', 'k') == b'$2\r\nv2\r\n', scaled(20),
                   what='the restarted node to catch up')
        assert conn.command('READWRITE') == b'+OK\r\n'
        assert conn.command('INCR', 'n') == b':1\r\n'


def test_follower_proxy_no_from_the_command_line(new_cluster):
    cluster = new_cluster(3, {'follower-proxy': 'no'})
    leader = cluster.wait_for_leader()
    for follower in cluster.followers():
        assert cmd(follower, 'CONFIG', 'GET', 'follower-proxy') == \
            b'*2\r\n$14\r\nfollower-proxy\r\n$2\r\nno\r\n'
        assert cmd(follower, 'SET', 'foo', 'x') == \
            b'-MOVED 12182 127.0.0.1:%d\r\n' % leader.port
        assert cmd(follower, 'CONFIG', 'SET', 'follower-proxy', 'yes') == b'+OK\r\n'
        assert cmd(follower, 'INCR', 'n') in (b':1\r\n', b':2\r\n')
    assert cmd(leader, 'GET', 'n') == b'$1\r\n2\r\n'
    assert cmd(leader, 'EXISTS', 'foo') == b':0\r\n'


# ---------------------------------------------------------------------------
# Linearizability smoke test


class Counter(threading.Thread):
    """INCR one key in a loop through one node, one request at a time,
    recording (start, end, value) of each acknowledged INCR and counting the
    ones whose outcome is unknown (-TIMEOUT, a dropped connection)."""

    def __init__(self, node, key, stopping):
        super().__init__(daemon=True)
        self.node, self.key, self.stopping = node, key, stopping
        self.ops = []
        self.unknown = 0
        self.definite = collections.Counter()
        self.stalled = []

    def run(self):
        conn = None
        while not self.stopping.is_set():
            if conn is None:
                try:
                    conn = self.node.raw(timeout=harness.REPLY_TIMEOUT)
                except OSError:
                    self.stopping.wait(0.02)  # the node is down: retry
                    continue
            start = time.monotonic()
            try:
                reply = conn.command('INCR', self.key)
            except harness.TimeoutExpired as exc:
                self.stalled.append(repr(exc))
                self.unknown += 1
                conn.close()
                conn = None
                continue
            except (OSError, ConnectionError):
                self.unknown += 1
                conn.close()
                conn = None
                continue
            end = time.monotonic()
            if reply.startswith(b':'):
                self.ops.append((start, end, int(reply[1:-2])))
            elif is_unknown_outcome(reply):
                self.unknown += 1
            else:
                self.definite[reply.split(b' ')[0].decode()] += 1
        if conn is not None:
            conn.close()


def check_real_time_order(ops):
    """An INCR that ended before another began returned a smaller value."""
    by_end = sorted(ops, key=lambda o: o[1])
    ends = [o[1] for o in by_end]
    prefix_max = []
    best = 0
    for o in by_end:
        best = max(best, o[2])
        prefix_max.append(best)
    for start, end, value in ops:
        i = bisect.bisect_left(ends, start)
        if i > 0:
            assert prefix_max[i - 1] < value, (
                'INCR that returned %d began after one that returned %d had ended'
                % (value, prefix_max[i - 1]))


def test_linearizability_smoke_with_leader_killed_twice(new_cluster):
    cluster = new_cluster(3)
    stopping = threading.Event()
    clients = [Counter(cluster.nodes[1 + i % 3], 'ctr', stopping) for i in range(6)]
    for c in clients:
        c.start()

    def acked():
        return sum(len(c.ops) for c in clients)

    def progress(n, what):
        floor = acked()
        wait_until(lambda: acked() >= floor + n, scaled(30), what=what)

    try:
        progress(100, 'INCRs before any failure')
        for round_ in range(2):
            leader = cluster.wait_for_leader(scaled(20))
            cluster.kill(leader.node_id)
            cluster.wait_for_leader(scaled(20))
            progress(100, 'INCRs after killing the leader (round %d)' % round_)
            cluster.start(leader.node_id)
            cluster.wait_for_leader(scaled(20))
            progress(100, 'INCRs after restarting node %d' % leader.node_id)
    finally:
        stopping.set()
        for c in clients:
            c.join(scaled(60))
    assert not any(c.is_alive() for c in clients)
    final = get_int(cluster.wait_for_leader(), 'ctr')
    ops = [o for c in clients for o in c.ops]
    values = [o[2] for o in ops]
    unknown = sum(c.unknown for c in clients)
    summary = 'acked %d, unknown %d, definite errors %r, final %d' % (
        len(ops), unknown, sum((c.definite for c in clients), collections.Counter()), final)
    assert len(set(values)) == len(values), 'duplicate values: ' + summary
    assert len(ops) <= final <= len(ops) + unknown, summary
    assert max(values) <= final, summary
    check_real_time_order(ops)
    stalled = [s for c in clients for s in c.stalled]
    assert not stalled, 'INCRs without a reply in %ds: %r' % (harness.REPLY_TIMEOUT, stalled)


# ---------------------------------------------------------------------------
# A command whose outcome is unknown gets -TIMEOUT


def test_leader_losing_its_majority_answers_timeout(new_cluster):
    """Commands the leader appended to its log but could not commit may
    still commit later: their replies are -TIMEOUT, never a definite error."""
    election_ms = int(500 * harness.SLOWDOWN)
    cluster = new_cluster(3, {'election-timeout': election_ms})
    leader = cluster.wait_for_leader()
    for f in cluster.followers():
        f.kill()
    with leader.raw(timeout=scaled(30)) as conn:
        # INFO comes back after the INCRs were routed: if it says leader,
        # they went into this leader's log.
        conn.send(encode('INCR', 'x') * 5 + encode('INFO', 'raft'))
        replies = conn.read_replies(6)
    info = harness.parse_info(replies[5])
    if info['raft_role'] != 'leader':
        pytest.fail('the leader stepped down within %d ms; cannot test' % election_ms)
    for reply in replies[:5]:
        assert is_unknown_outcome(reply), replies
    for f in cluster.nodes.values():
        if not f.is_running():
            f.start()
    new = cluster.wait_for_leader(scaled(30))
    assert 0 <= get_int(new, 'x') <= 5


def test_proxied_command_to_a_stalled_leader_answers_timeout(new_cluster):
    """A follower forwarded a command to the leader, which then stopped
    answering (SIGSTOP) and was replaced: the outcome is unknown."""
    cluster = new_cluster(3)
    leader = cluster.wait_for_leader()
    follower = cluster.followers()[0]
    with follower.raw(timeout=scaled(30)) as conn:
        assert conn.command('INCR', 'x') == b':1\r\n'  # the proxy link is up
        leader.pause()
        try:
            conn.send(encode('INCR', 'x') * 3)
            new = cluster.wait_for_leader(scaled(20))
            assert new is not leader
            # The old leader never answers: once another node leads, the
            # follower must answer for it, within a bounded time.
            replies = conn.read_replies(3, timeout=scaled(10))
            for reply in replies:
                assert is_unknown_outcome(reply), replies
            value = get_int(new, 'x')
            assert 1 <= value <= 4
            assert conn.command('INCR', 'x') == b':%d\r\n' % (value + 1)
        finally:
            leader.resume()
    cluster.wait_for_leader(scaled(20))


# ---------------------------------------------------------------------------
# Leadership hand-over on shutdown


def handover_options():
    # A long election timeout: a new leader sooner than that was handed
    # leadership, it did not win an election after a timeout.
    return {'election-timeout': int(1000 * harness.SLOWDOWN)}


def stop_leader(leader, how):
    if how == 'SIGTERM':
        return leader.stop()
    with leader.raw() as conn:
        conn.send(encode('SHUTDOWN'))
        assert conn.read_until_closed() == b''
    return leader.wait_exit()


@pytest.mark.parametrize('how', ['SIGTERM', 'SHUTDOWN'])
def test_leader_hands_over_leadership_when_stopped(how, new_cluster):
    options = handover_options()
    cluster = new_cluster(3, options)
    bound = 0.8 * options['election-timeout'] / 1000
    for _ in range(2):
        leader = cluster.wait_for_leader()
        term = term_of(leader)
        start = time.monotonic()
        assert stop_leader(leader, how) == 0, leader.output_tail()
        left = max(0.05, start + bound - time.monotonic())
        new = cluster.wait_for_leader(left)
        assert new is not leader
        assert term_of(new) > term
        # It keeps serving, and the stopped node comes back as a follower.
        assert cmd(new, 'INCR', 'c') in (b':1\r\n', b':2\r\n')
        leader.start()
        assert cluster.wait_for_leader(scaled(20)) is new


def test_leader_hands_over_to_a_live_node_when_one_is_down(new_cluster):
    """5 nodes, one follower down: the leader stopped with SIGTERM must hand
    leadership to a node that is up, not to the dead one."""
    options = handover_options()
    cluster = new_cluster(5, options)
    bound = 0.8 * options['election-timeout'] / 1000
    leader = cluster.wait_for_leader()
    assert cmd(leader, 'SET', 'k', 'v') == b'+OK\r\n'
    cluster.wait_for_applied()
    # The follower listed first: the one a naive choice picks.
    down = min(cluster.followers(), key=lambda n: n.node_id)
    down.kill()
    term = term_of(leader)
    start = time.monotonic()
    assert leader.stop() == 0
    stopped_after = time.monotonic() - start
    new = cluster.wait_for_leader(max(0.05, start + bound - time.monotonic()))
    assert new is not leader and new is not down
    assert term_of(new) > term
    assert stopped_after < bound, stopped_after


def stop_within(node, bound, what):
    """SIGTERM node; fail (after SIGKILL) unless it exits 0 within bound."""
    start = time.monotonic()
    try:
        status = node.stop(bound)
    except harness.TimeoutExpired:
        node.kill()
        pytest.fail('%s, %s, did not exit within %.0fs of SIGTERM\n%s' % (
            node.name, what, bound, node.log_tail(2500)))
    assert status == 0, node.output_tail()
    return time.monotonic() - start


def test_rolling_stop_every_node_exits(new_cluster):
    """Stopping a whole cluster, the leader each time: the last leader has
    nobody to hand leadership to and must still exit, after a bounded
    attempt."""
    cluster = new_cluster(3)
    for i in range(3):
        node = cluster.leader() or cluster.up()[0]
        stop_within(node, scaled(10), '%s, stopped %d of 3' % (
            'the leader' if node.role() == 'leader' else 'a follower', i + 1))


def test_leader_alone_exits_on_sigterm(new_cluster):
    cluster = new_cluster(3, {'election-timeout': int(500 * harness.SLOWDOWN)})
    leader = cluster.wait_for_leader()
    for f in cluster.followers():
        f.kill()
    assert leader.role() == 'leader'
    stop_within(leader, scaled(10), 'a leader whose followers are gone')
