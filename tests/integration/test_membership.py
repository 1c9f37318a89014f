"""Cluster membership (issue 7): nodes join a running cluster with --join
(as voters or standbys), are removed with RAFT.NODE REMOVE and exit on
their own, ids are never reused, one change at a time, RAFT.NODES and the
CLUSTER commands list the members. See spec/membership.md.

Every test that changes the membership runs a write load meanwhile
(members.WriteLoad) and checks at the end that every acknowledged write is
on the survivors and that writes never stalled longer than about one
election (the longest gap is printed: run with -s to see it).
"""

import os
import re
import subprocess
import threading

import harness
from harness import encode, scaled, wait_until
import members
from members import IN_PROGRESS, OPTIONS, Members, WriteLoad, cmd, client_addr, \
    finish_load, moved_to, raft_nodes, raft_nodes_raw


# Acknowledged writes to wait for between two steps of a test.
STEP = 300

# Small enough that a joiner's catch-up needs a snapshot.
SNAPSHOT_OPTIONS = {'snapshot-threshold': 500, 'snapshot-trailing': 50}


def start(new_cluster, workspace, count=3, options=None):
    cluster = new_cluster(count, dict(OPTIONS, **(options or {})))
    return Members(cluster, workspace)


def load_on(m, threads=4):
    return WriteLoad(m.live, threads=threads)


def reserve_address():
    """HOST:PORT@RAFTPORT on ports nothing listens on (for spares)."""
    return '127.0.0.1:%d@%d' % (harness.free_port(), harness.free_port())


def redis_cli(node, *args, cluster_mode=True):
    argv = ['redis-cli'] + (['-c'] if cluster_mode else []) + \
        ['-h', node.host, '-p', str(node.port)] + [str(a) for a in args]
    p = subprocess.run(argv, capture_output=True, timeout=scaled(30),
                       stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout.decode().strip(), p.stderr.decode()


def wait_readonly(node, key, value, timeout=None):
    """Poll a READONLY GET of key on node until it reads value (bytes)."""
    want = b'$%d\r\n%s\r\n' % (len(value), value)
    with node.raw() as conn:
        assert conn.command('READONLY') == b'+OK\r\n'
        wait_until(lambda: conn.command('GET', key) == want, timeout or scaled(20),
                   what='%s to read %s=%r locally' % (node.name, key, value))


def removed_restart_fails(node):
    """A removed node started again on its dir exits with status 1 and
    says why; the dir is kept."""
    assert os.path.isdir(node.dir), node.dir
    mark = os.path.getsize(node.logfile) if os.path.exists(node.logfile) else 0
    node.spawn()
    status = node.wait_exit(scaled(30))
    assert status == 1, (status, node.output_tail())
    with open(node.logfile, 'rb') as f:
        f.seek(mark)
        text = f.read().decode(errors='replace')
    text += node.stderr_text()
    assert 'removed' in text.lower(), node.output_tail()
    assert os.path.isdir(node.dir), node.dir


# ---------------------------------------------------------------------------
# 1. join


def test_join_through_a_follower_becomes_voter_and_resumes_after_restart(
        new_cluster, workspace):
    m = start(new_cluster, workspace, options=SNAPSHOT_OPTIONS)
    leader = m.leader()
    follower = m.cluster.followers()[0]
    pre = ['pre:%d' % i for i in range(3000)]
    with leader.raw(timeout=scaled(30)) as conn:
        conn.send(b''.join(encode('SET', k, 'v' + k) for k in pre))
        assert conn.read_replies(len(pre)) == [b'+OK\r\n'] * len(pre)
    # One write per log entry until the leader has compacted its log.
    with leader.raw(timeout=scaled(30)) as conn:
        fill = [0]

        def compacted():
            for _ in range(50):
                fill[0] += 1
                assert conn.command('SET', 'fill', fill[0]) == b'+OK\r\n'
            return int(leader.info('persistence')['snapshots_taken']) >= 1
        wait_until(compacted, scaled(30), what='the leader to compact its log')
    with load_on(m) as load:
        load.wait_progress(STEP, what='writes before the join')
        # --join names a follower's client address: the joiner must follow
        # -MOVED to the leader.
        new = m.join(follower)
        assert new.node_id == 4, 'ids 1-3 are taken: the next unused is 4, got %d' % new.node_id
        m.wait_role(4, 'voter')
        m.wait_counts(voters=4, nodes=4)
        load.wait_progress(STEP, what='writes after the join')
        # The leader's log no longer went back to the start: the joiner
        # caught up from a snapshot.
        assert int(new.info('persistence')['snapshots_installed']) >= 1, \
            new.info('persistence')
        with open(new.member_file()) as f:
            assert re.search(r'\b4\b', f.read()), 'the member file names the id'
        # Restart: resumes as node 4 on its dir, no second join.
        new.stop()
        mark = os.path.getsize(new.logfile)
        new.start(timeout=scaled(30))
        wait_until(lambda: new.raft_info()['raft_node_id'] == '4', scaled(20),
                   what='the restarted node to be node 4 again')
        with open(new.logfile, 'rb') as f:
            f.seek(mark)
            assert b'Joining the cluster' not in f.read(), new.log_tail()
        load.wait_progress(STEP, what='writes after the restart')
    finish_load(load, m, 'join')
    view = m.view()
    assert sorted(view) == [1, 2, 3, 4], view
    assert view[4]['role'] == 'voter' and view[4]['address'] == new.address, view
    m.wait_counts(voters=4, nodes=4)
    for node in m.live():
        assert sorted(raft_nodes(node)) == [1, 2, 3, 4], (node.name, raft_nodes(node))
    # The joiner has the data written before it joined.
    values = members.read_keys(new, pre)
    assert all(values[k] == b'v' + k.encode() for k in pre), \
        [(k, values[k]) for k in pre if values[k] != b'v' + k.encode()][:10]
    # And serves as any member: writes through it, its reads converge.
    assert cmd(new, 'SET', 'after', 'restart') == b'+OK\r\n'
    for node in m.live():
        wait_readonly(node, 'after', b'restart')


# ---------------------------------------------------------------------------
# 2. grow 3 -> 5, shrink 5 -> 3


def test_grow_to_five_and_shrink_to_three_under_load(new_cluster, workspace):
    m = start(new_cluster, workspace)
    with load_on(m) as load:
        load.wait_progress(STEP, what='writes on 3 nodes')
        for expect in (4, 5):
            via = m.cluster.nodes[expect - 3]
            n = m.join(via)
            assert n.node_id == expect, (expect, n.node_id)
            m.wait_role(n.node_id, 'voter')
            load.wait_progress(STEP, what='writes after node %d joined' % expect)
        m.wait_counts(voters=5, nodes=5)
        assert sorted(m.view()) == [1, 2, 3, 4, 5]

        leader = m.leader()
        gone = [4] if leader.node_id != 4 else [5]
        gone.append(min(i for i in (1, 2, 3) if i != leader.node_id))
        removed = []
        for node_id in gone:
            node = m.remove(node_id)
            removed.append(node)
            load.wait_progress(STEP, what='writes after removing node %d' % node_id)
        m.wait_counts(voters=3, nodes=3)
        # Removed nodes notice and exit by themselves, with status 0.
        for node in removed:
            status = members.wait_removed_exit(node)
            assert status == 0, (node.name, status, node.output_tail())
        load.wait_progress(STEP, what='writes after the removed nodes exited')
    survivors = m.live()
    assert len(survivors) == 3
    finish_load(load, m, 'grow 3->5, shrink 5->3')
    for node in survivors:
        assert sorted(raft_nodes(node)) == sorted(m.cluster.nodes), node.name
    for node in removed:
        removed_restart_fails(node)
    # Still removed from the survivors' point of view.
    assert sorted(m.view()) == sorted(m.cluster.nodes)


# ---------------------------------------------------------------------------
# 3. replace a dead node


def test_replace_a_dead_follower(new_cluster, workspace):
    m = start(new_cluster, workspace, options=SNAPSHOT_OPTIONS)
    with load_on(m) as load:
        load.wait_progress(STEP, what='writes before the kill')
        dead = m.cluster.followers()[0]
        m.kill(dead)
        load.wait_progress(STEP, what='writes with one node dead')
        # Removing the other live voter would leave the dead one and the
        # leader: 1 of 2 reachable, no quorum. Once the leader no longer
        # hears from the dead node, it refuses (and changes nothing).
        leader = m.leader()
        live = next(n for n in m.live() if n is not leader)
        timeout_ms = int(leader.client().config_get('election-timeout')['election-timeout'])
        wait_until(lambda: int(m.view(leader)[dead.node_id]['last_contact']) > 2 * timeout_ms,
                   scaled(10), what='the leader to lose contact with the dead node')
        reply = cmd(leader, 'RAFT.NODE', 'REMOVE', live.node_id)
        assert reply.startswith(b'-ERR removing node %d would leave 1 of 2 voters '
                                b'reachable, short of a quorum of 2: bring back or '
                                b'remove the unreachable voters first' % live.node_id), reply
        m.wait_counts(voters=3, nodes=3)
        load.wait_progress(STEP, what='writes after the refused removal')
        m.remove(dead.node_id)
        m.wait_counts(voters=2, nodes=2)
        assert sorted(m.view()) == sorted(m.cluster.nodes)
        load.wait_progress(STEP, what='writes after the removal')
        # A fresh node on an empty dir takes its place.
        new = m.join(m.leader())
        earlier = set(m.ever) - {new.node_id}
        assert new.node_id > max(earlier), (new.node_id, earlier)
        m.wait_role(new.node_id, 'voter')
        m.wait_counts(voters=3, nodes=3)
        load.wait_progress(STEP, what='writes after the replacement joined')
    finish_load(load, m, 'replace a dead node')
    assert sorted(m.view()) == sorted(m.cluster.nodes)
    assert dead.node_id not in m.view()
    assert len(m.live()) == 3


# ---------------------------------------------------------------------------
# 4. standby


class RoleWatch(threading.Thread):
    """Samples a node's INFO raft role until stopped; records every role seen."""

    def __init__(self, node):
        super().__init__(daemon=True)
        self.node = node
        self.roles = set()
        self.stopping = threading.Event()

    def run(self):
        while not self.stopping.is_set():
            try:
                self.roles.add(self.node.role())
            except Exception:  # noqa: BLE001 - the node may be busy
                pass
            self.stopping.wait(0.05)

    def stop(self):
        self.stopping.set()
        self.join(scaled(30))
        return self.roles


def cluster_nodes_lines(node):
    reply = cmd(node, 'CLUSTER', 'NODES')
    text = harness.split_replies(reply)[0].split(b'\r\n', 1)[1][:-2].decode()
    return {int(line.split(' ')[0], 16): line.split(' ') for line in text.strip('\n').split('\n')}


def test_standby_replicates_but_never_votes_or_leads(new_cluster, workspace):
    m = start(new_cluster, workspace)
    with load_on(m) as load:
        load.wait_progress(STEP, what='writes before the standby joins')
        standby = m.join(m.cluster.followers()[-1], join_as='standby')
        watch = RoleWatch(standby)
        watch.start()
        try:
            m.wait_role(standby.node_id, 'standby')
            m.wait_counts(voters=3, standbys=1, nodes=4)
            assert standby.node_id == 4
            for node in m.live():
                lines = cluster_nodes_lines(node)
                flags = lines[standby.node_id][2].split(',')
                assert 'nofailover' in flags and 'slave' in flags, lines[standby.node_id]
                assert lines[standby.node_id][7] == 'connected', lines[standby.node_id]
            # Its local reads see recent writes.
            leader = m.leader()
            assert cmd(leader, 'SET', 'recent', 'one') == b'+OK\r\n'
            wait_readonly(standby, 'recent', b'one')
            # A write sent to it goes to the leader as on any follower.
            assert cmd(standby, 'SET', 'via-standby', 'x') == b'+OK\r\n'
            assert cmd(leader, 'GET', 'via-standby') == b'$1\r\nx\r\n'
            assert cmd(standby, 'CONFIG', 'SET', 'follower-proxy', 'no') == b'+OK\r\n'
            assert cmd(standby, 'SET', 'foo', 'y') == \
                b'-MOVED 12182 %s\r\n' % client_addr(leader).encode()
            assert cmd(standby, 'CONFIG', 'SET', 'follower-proxy', 'yes') == b'+OK\r\n'
            load.wait_progress(STEP, what='writes with the standby')
            # One voter of three dies (the leader): two voters still elect
            # a leader, never the standby, and the cluster stays writable.
            term = int(leader.raft_info()['raft_term'])
            m.kill(leader)
            new = m.leader(scaled(30))
            assert new is not standby and new is not leader
            assert int(new.raft_info()['raft_term']) > term
            load.wait_progress(2 * STEP, what='writes after a voter died')
            m.wait_counts(voters=3, standbys=1, nodes=4)
            assert m.view()[standby.node_id]['role'] == 'standby'
        finally:
            roles = watch.stop()
        # A removed standby (the leader just stops talking to it, as to any
        # removed member) notices and exits with status 0.
        m.remove(standby.node_id)
        status = members.wait_removed_exit(standby)
        assert status == 0, (standby.name, status, standby.output_tail())
        assert 'Removed from the cluster' in standby.log_text()
        load.wait_progress(STEP, what='writes after removing the standby')
    finish_load(load, m, 'standby; a voter killed; standby removed')
    assert 'leader' not in roles, roles


# ---------------------------------------------------------------------------
# 5. remove the leader


def test_remove_the_leader(new_cluster, workspace):
    m = start(new_cluster, workspace)
    with load_on(m) as load:
        load.wait_progress(STEP, what='writes before')
        old = m.leader()
        term = int(old.raft_info()['raft_term'])
        with old.raw(timeout=scaled(30)) as conn:
            reply = conn.command('RAFT.NODE', 'REMOVE', old.node_id)
        assert reply == b'+OK\r\n', reply
        m.forget(old.node_id)
        new = m.leader(scaled(30))
        assert new is not old and int(new.raft_info()['raft_term']) > term
        status = members.wait_removed_exit(old)
        assert status == 0, (status, old.output_tail())
        m.wait_counts(voters=2, nodes=2)
        load.wait_progress(2 * STEP, what='writes after the leader left')
    finish_load(load, m, 'remove the leader')
    assert sorted(m.view()) == sorted(m.cluster.nodes)
    assert old.node_id not in m.view()


# ---------------------------------------------------------------------------
# 6. one change at a time


def concurrent(leader, first, second):
    """Send two commands on two connections back to back; both replies."""
    a = leader.raw(timeout=scaled(30))
    b = leader.raw(timeout=scaled(30))
    try:
        a.send(encode(*first))
        b.send(encode(*second))
        return a.read_reply(), b.read_reply()
    finally:
        a.close()
        b.close()


def one_at_a_time(m, make_pair, ok_first, ok_second, done, attempts=5):
    """Send the pair make_pair() returns at the same time; exactly one must
    proceed and the other get the in-progress error; retrying the refused
    one then succeeds. If both proceeded (the first finished before the
    second arrived: a lost race, not a failure), try again with a new pair.
    ok_*: predicates on the reply bytes of a success. Every command that
    succeeded is appended to `done` as (args, reply)."""
    outcomes = []
    for _ in range(attempts):
        leader = m.leader()
        first, second = make_pair()
        ra, rb = concurrent(leader, first, second)
        outcomes.append((ra, rb))
        for args, reply, ok in ((first, ra, ok_first), (second, rb, ok_second)):
            if ok(reply):
                done.append((args, reply))
        if ra.startswith(b'-MOVED ') or rb.startswith(b'-MOVED '):
            continue  # leadership moved meanwhile
        refused = [r.startswith(IN_PROGRESS) for r in (ra, rb)]
        if not any(refused):
            assert ok_first(ra) and ok_second(rb), (first, ra, second, rb)
            continue
        assert refused.count(True) == 1, ('both refused', ra, rb)
        assert re.match(rb'^-ERR another membership change is in progress \(.*\); '
                        rb'retry when it completes\r\n$', ra if refused[0] else rb), (ra, rb)
        if refused[0]:
            assert ok_second(rb), (second, rb)
            args, ok = first, ok_first
        else:
            assert ok_first(ra), (first, ra)
            args, ok = second, ok_second
        retry = m.leader_command(*args)
        assert ok(retry), (args, retry)
        done.append((args, retry))
        print('one change at a time: refused %r after %d tries' % (args, len(outcomes)))
        return
    raise AssertionError('never saw the in-progress error in %d tries: %r' % (
        attempts, outcomes))


def is_id(reply):
    return re.match(rb'^:\d+\r\n$', reply) is not None


def is_ok(reply):
    return reply == b'+OK\r\n'


def spares_after(done):
    """{id: address} of the spares the successful ADD / REMOVE in `done` leave."""
    out = {}
    for args, reply in done:
        if args[1] == 'ADD':
            out[int(reply[1:-2])] = args[2]
        else:
            del out[int(args[2])]
    return out


def test_one_membership_change_at_a_time(new_cluster, workspace):
    m = start(new_cluster, workspace)
    done = []
    with load_on(m, threads=2) as load:
        load.wait_progress(STEP, what='writes before')
        # Two ADDs (spares: nothing needs to run at those addresses).
        one_at_a_time(m, lambda: (('RAFT.NODE', 'ADD', reserve_address(), 'spare'),
                                  ('RAFT.NODE', 'ADD', reserve_address(), 'spare')),
                      is_id, is_id, done)
        spares = spares_after(done)
        view = m.view()
        assert {i: v['address'] for i, v in view.items() if v['role'] == 'spare'} == \
            spares, (view, spares)

        # A REMOVE and an ADD.
        def remove_and_add():
            victim = min(spares_after(done))
            return (('RAFT.NODE', 'REMOVE', victim),
                    ('RAFT.NODE', 'ADD', reserve_address(), 'spare'))
        one_at_a_time(m, remove_and_add, is_ok, is_id, done)
        spares = spares_after(done)
        view = m.view()
        assert {i: v['address'] for i, v in view.items() if v['role'] == 'spare'} == \
            spares, (view, spares)
        assert sum(v['role'] == 'voter' for v in view.values()) == 3, view
        assert len(view) == 3 + len(spares), view
        m.wait_counts(voters=3, nodes=3 + len(spares))
        load.wait_progress(STEP, what='writes after')
    finish_load(load, m, 'concurrent changes')


# ---------------------------------------------------------------------------
# 7. ids and errors


def test_ids_errors_and_redirects(new_cluster, workspace):
    m = start(new_cluster, workspace)
    leader = m.leader()
    follower = m.cluster.followers()[0]

    def on_leader(*args):
        return cmd(leader, *args)

    def used_before(n):
        return (b'-ERR node id %d was used before: ids are never reused '
                b'(omit it to let the cluster choose)\r\n' % n)

    # The id of a current member: refused (the message may name the member).
    for n in (1, 2, 3):
        reply = on_leader('RAFT.NODE', 'ADD', n, reserve_address(), 'spare')
        assert reply == used_before(n) or \
            reply.startswith(b'-ERR node id %d is already a member' % n), reply
    # An explicit id above every id used so far is taken as it is...
    addr10 = reserve_address()
    assert on_leader('RAFT.NODE', 'ADD', 10, addr10, 'spare') == b':10\r\n'
    # ... and idempotent for the same address.
    assert on_leader('RAFT.NODE', 'ADD', addr10, 'spare') == b':10\r\n'
    assert on_leader('RAFT.NODE', 'REMOVE', 10) == b'+OK\r\n'
    # Below the highest id ever used, or a removed id: used before.
    assert on_leader('RAFT.NODE', 'ADD', 7, reserve_address(), 'spare') == used_before(7)
    assert on_leader('RAFT.NODE', 'ADD', 10, reserve_address(), 'spare') == used_before(10)
    # The cluster's choice is above every id ever used.
    addr11 = reserve_address()
    assert on_leader('RAFT.NODE', 'ADD', addr11, 'spare') == b':11\r\n'

    # Bad arguments.
    for args in (('ADD', 'nocolon'), ('ADD', '127.0.0.1:abc@def'), ('ADD', ''),
                 ('ADD', reserve_address(), 'leader'), ('ADD', reserve_address(), 'VOTERS'),
                 ('ADD', 0, reserve_address()), ('ADD', -5, reserve_address()),
                 ('REMOVE', 'x'), ('ROLE', 11, 'boss'), ('FROB', 1), ('REMOVE',)):
        reply = on_leader('RAFT.NODE', *args)
        assert reply.startswith(b'-ERR'), (args, reply)
    for n in (99, 10):
        assert on_leader('RAFT.NODE', 'REMOVE', n) == b'-ERR node %d is not a member\r\n' % n
    # Nothing changed.
    assert sorted(m.view()) == [1, 2, 3, 11]
    # ROLE to the role it has: +OK at once.
    assert on_leader('RAFT.NODE', 'ROLE', 11, 'spare') == b'+OK\r\n'
    assert on_leader('RAFT.NODE', 'ROLE', leader.node_id, 'voter') == b'+OK\r\n'

    # On a follower: -MOVED to the leader (RAFT.NODES answers there).
    for args in (('ADD', reserve_address(), 'spare'), ('REMOVE', 11), ('ROLE', 11, 'spare')):
        assert cmd(follower, 'RAFT.NODE', *args) == moved_to(leader), args
    assert sorted(raft_nodes(follower)) == [1, 2, 3, 11]
    # redis-cli -c follows it.
    rc, out, err = redis_cli(follower, 'RAFT.NODE', 'ADD', reserve_address(), 'spare')
    assert rc == 0 and out == '12', (rc, out, err)
    rc, out, err = redis_cli(follower, 'RAFT.NODE', 'REMOVE', 12)
    assert rc == 0 and out == 'OK', (rc, out, err)
    rc, out, _ = redis_cli(follower, 'RAFT.NODE', 'REMOVE', 12, cluster_mode=False)
    assert 'MOVED 0 %s' % client_addr(leader) in out, out
    assert sorted(m.view()) == [1, 2, 3, 11]
    assert on_leader('RAFT.NODE', 'REMOVE', 11) == b'+OK\r\n'
    m.wait_counts(voters=3, nodes=3)
    m.check_alive()


def test_cannot_remove_the_last_voter(fresh_node):
    assert cmd(fresh_node, 'RAFT.NODE', 'REMOVE', 1) == b"-ERR can't remove the last voter\r\n"
    assert cmd(fresh_node, 'SET', 'k', 'v') == b'+OK\r\n'
    assert sorted(raft_nodes(fresh_node)) == [1]


# ---------------------------------------------------------------------------
# 8. RAFT.NODES and the CLUSTER commands


def resp(node, *args):
    return members.parse_resp(cmd(node, *args))


def test_raft_nodes_and_cluster_commands_list_the_members(new_cluster, workspace):
    m = start(new_cluster, workspace)
    m.join(m.leader(), join_as='standby')
    spare_addr = reserve_address()
    spare = int(m.leader_command('RAFT.NODE', 'ADD', spare_addr, 'spare',
                                 retry_in_progress=True)[1:-2])
    assert spare == 5
    leader = m.leader()
    assert cmd(leader, 'SET', 'k', 'v') == b'+OK\r\n'
    m.cluster.wait_for_applied()
    m.wait_counts(voters=3, standbys=1, nodes=5)
    m.check_alive()
    running = {n.node_id: n for n in m.live()}
    assert sorted(running) == [1, 2, 3, 4], running
    roles = {1: 'voter', 2: 'voter', 3: 'voter', 4: 'standby', 5: 'spare'}
    addresses = {i: n.address for i, n in running.items()}
    addresses[5] = spare_addr

    def leader_view_settled():
        view = raft_nodes(leader)
        return all(view[i]['connected'] == 'yes' and view[i]['match_index'] >= 0
                   for i in running)
    wait_until(leader_view_settled, scaled(20), what='the leader to see every running member')

    for node in running.values():
        entries = raft_nodes_raw(node)
        assert len(entries) == 5, entries
        for e in entries:
            assert isinstance(e, list) and len(e) == 14, e
            assert tuple(k.decode() if isinstance(k, bytes) else k for k in e[::2]) == \
                members.RAFT_NODES_FIELDS, e
            f = dict(zip(members.RAFT_NODES_FIELDS, e[1::2]))
            assert isinstance(f['id'], int), e
            assert isinstance(f['address'], bytes), e
            assert isinstance(f['role'], bytes) and isinstance(f['connected'], bytes), e
            assert isinstance(f['leader'], int) and f['leader'] in (0, 1), e
            assert isinstance(f['match_index'], int) and f['match_index'] >= -1, e
            assert isinstance(f['last_contact'], int) and f['last_contact'] >= -1, e
            assert f['connected'] in (b'yes', b'no'), e
            assert f['address'].decode() == addresses[f['id']], e
            assert f['role'].decode() == roles[f['id']], e
            assert f['leader'] == (1 if f['id'] == leader.node_id else 0), e
            if f['id'] == node.node_id:
                assert f['last_contact'] == 0, ('self', e)
        assert sorted(e[1] for e in entries) == [1, 2, 3, 4, 5]

    view = raft_nodes(leader)
    commit = int(leader.raft_info()['raft_commit_index'])
    for i in running:
        assert view[i]['connected'] == 'yes', view
        assert 0 <= view[i]['match_index'], view
    wait_until(lambda: all(raft_nodes(leader)[i]['match_index'] >= commit for i in running),
               scaled(20), what='every running member to match the commit index')
    assert view[5]['connected'] == 'no', view

    # INFO raft.
    for node in running.values():
        info = node.raft_info()
        assert (info['raft_num_nodes'], info['raft_num_voters'],
                info['raft_num_standbys']) == ('5', '3', '1'), info
        lines = harness.raft_members(info)
        assert sorted(lines) == [1, 2, 3, 4, 5], info
        for i, fields in lines.items():
            assert fields['role'] == roles[i], (i, fields)
            assert fields['addr'] == addresses[i].split('@')[0], (i, fields)

    # CLUSTER NODES: leader master; voters slave; standby and spare
    # slave,nofailover; the spare disconnected.
    lname = '%040x' % leader.node_id
    for node in running.values():
        lines = cluster_nodes_lines(node)
        assert sorted(lines) == [1, 2, 3, 4, 5], lines
        for i, f in lines.items():
            flags = f[2].split(',')
            assert f[1] == addresses[i], f
            assert ('myself' in flags) == (i == node.node_id), f
            if i == leader.node_id:
                assert 'master' in flags and 'nofailover' not in flags, f
                assert f[8:] == ['0-16383'], f
            else:
                assert 'slave' in flags and f[3] == lname, f
                assert ('nofailover' in flags) == (roles[i] != 'voter'), f
            assert f[7] == ('disconnected' if i == 5 else 'connected'), f

    # CLUSTER SLOTS and SHARDS: the leader master, voters and standbys
    # replicas, no spare.
    replicas = sorted(i for i in running if i != leader.node_id)
    for node in running.values():
        slots = resp(node, 'CLUSTER', 'SLOTS')
        assert len(slots) == 1, slots
        start_, end, master, *reps = slots[0]
        assert (start_, end) == (0, 16383)
        assert master[:3] == [b'127.0.0.1', leader.port, lname.encode()], master
        assert sorted(int(r[2], 16) for r in reps) == replicas, reps
        for r in reps:
            assert r[1] == running[int(r[2], 16)].port, r
        shards = resp(node, 'CLUSTER', 'SHARDS')
        assert len(shards) == 1, shards
        shard = dict(zip(shards[0][::2], shards[0][1::2]))
        assert shard[b'slots'] == [0, 16383]
        nodes = [dict(zip(x[::2], x[1::2])) for x in shard[b'nodes']]
        # The spare, if listed at all, is not online.
        nodes_spare = [x for x in nodes if int(x[b'id'], 16) == 5]
        assert all(x[b'health'] != b'online' for x in nodes_spare), nodes_spare
        nodes = [x for x in nodes if int(x[b'id'], 16) != 5]
        assert sorted(int(x[b'id'], 16) for x in nodes) == sorted(running), nodes
        for x in nodes:
            i = int(x[b'id'], 16)
            assert x[b'health'] == b'online', x
            assert x[b'port'] == running[i].port, x
            assert x[b'role'] == (b'master' if i == leader.node_id else b'replica'), x
        info = harness.parse_info(cmd(node, 'CLUSTER', 'INFO'))
        assert info['cluster_state'] == 'ok', info


# ---------------------------------------------------------------------------
# Join options


def test_join_option_errors_exit_1(workspace):
    """`join` excludes `cluster-nodes`; `join-as` is voter or standby."""
    harness_node = workspace.node(start=False, options={
        'join': '127.0.0.1:%d' % harness.free_port(),
        'cluster-nodes': '127.0.0.1:%d@%d' % (harness.free_port(), harness.free_port())})
    harness_node.spawn()
    assert harness_node.wait_exit(scaled(20)) == 1, harness_node.output_tail()
    assert 'join' in harness_node.stderr_text(), harness_node.output_tail()
    bad_role = workspace.node(start=False, options={
        'join': '127.0.0.1:%d' % harness.free_port(), 'join-as': 'boss'})
    bad_role.spawn()
    assert bad_role.wait_exit(scaled(20)) == 1, bad_role.output_tail()
    assert 'join-as' in bad_role.stderr_text(), bad_role.output_tail()
