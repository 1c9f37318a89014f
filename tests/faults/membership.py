"""membership: the `membership` fault family (issue 7, /work/spec/membership.md).

While the workloads run, members leave and fresh nodes join: RAFT.NODE
REMOVE <id> sent to the leader (following -MOVED, retrying while another
change is in progress or there is no leader), then, after the fault's
window, fresh nodes started with an empty dir and `--join <a live member>`
(the cluster chooses their ids) until the cluster has its original size
again. One fault shrinks the cluster to a random size (the first one of a
run, and 30% of the others, down to ONE voter), sometimes with a join in
between, and sometimes SIGKILLs members first and removes those dead ones
before any live one, so no removal ever needs a node that is down: the
live voters always keep their quorum.

A fresh node takes the slot (network namespace, IP) of a removed one, on
the next port (7001, 7002, ... in a namespace), so partitions and kills keep
working by slot; the workers pick their node from Run.addrs, which always
lists live members. A removed node must exit by itself with status 0 (the
runner allows that status); one that does not within REMOVED_EXIT_TIMEOUT
is an anomaly. A killed and removed node is never restarted.

Checked (Membership.result, reported as results['membership']): every
change completed, every removed node exited, fresh nodes became voters, and
at the end the leader's RAFT.NODES lists exactly the run's nodes, all
voters. Stats: removals, joins, the fewest voters reached and the longest
gap between acknowledged writes of any workload.
"""

import time

import runner
import workload

CHANGE_TIMEOUT = 60.0         # one RAFT.NODE change, retries included
REMOVED_EXIT_TIMEOUT = 30.0   # a removed node notices and exits
JOIN_TIMEOUT = 90.0           # a fresh node is a voter (catch-up included)
IN_PROGRESS = 'another membership change is in progress'
# Errors after which the change may still commit (or was never taken).
UNCERTAIN = ('lost leadership', 'leadership moved')
WRITES = {'write', 'incr', 'append', 'transfer'}


class MembershipError(Exception):
    """A change that did not complete (recorded as an anomaly)."""


class QuorumRefused(MembershipError):
    """The leader refused a removal that would leave too few reachable
    voters for a quorum: correct behaviour, not an anomaly."""


# What can stop a step: recorded as an anomaly, and the fault goes on.
STEP_ERRORS = (MembershipError, workload.Error, workload.Closed, OSError, TimeoutError)


def parse_nodes(reply):
    """RAFT.NODES: one flat field/value array per member -> list of dicts."""
    return [dict(zip(e[0::2], e[1::2])) for e in reply]


def longest_write_gap(ops):
    """Seconds of the longest gap between acknowledged writes (any workload)."""
    times = sorted(op['time'] for op in ops if op['type'] == 'ok' and op['f'] in WRITES)
    return max((b - a for a, b in zip(times, times[1:])), default=0) / 1e9


class Membership:
    def __init__(self, run):
        self.run = run
        self.rng = run.rng
        self.used = False
        self.join_failed = False
        self.anomalies = []
        self.stats = {'removed': 0, 'joined': 0, 'killed_then_removed': 0,
                      'min_voters': run.n, 'in_progress_retries': 0,
                      'quorum_refusals': 0}
        self.generation = {}   # slot -> fresh nodes started in it

    # -- helpers --------------------------------------------------------------
    def members(self):
        return [n for n in self.run.nodes.values() if not n.removed]

    def _live(self):
        return [n for n in self.members() if n.running() and not n.paused]

    def _anomaly(self, kind, **kw):
        kw['kind'] = kind
        self.anomalies.append(kw)
        runner.log('membership anomaly: %s' % kw)

    def _send(self, addr, *args, timeout=15.0):
        conn = workload.RespConn(self.run.connect(addr[0], addr[1], timeout), timeout)
        try:
            return conn.command(*args)
        finally:
            conn.close()

    def change(self, *args):
        """Run a RAFT.NODE change on the leader: follow -MOVED, retry while
        another change is in progress, while there is no leader (or it is
        being transferred), and after an uncertain outcome (a REMOVE that
        then finds the node gone succeeded the first time). Returns the
        reply."""
        end = time.monotonic() + CHANGE_TIMEOUT
        target, uncertain, last = None, False, None
        while time.monotonic() < end:
            if target is None:
                node = self.run.leader() or self.rng.choice(self._live())
                target = (node.host, node.port)
            try:
                conn = workload.RespConn(self.run.connect(target[0], target[1], 2.0), 15.0)
            except OSError as e:
                last, target = 'connect %s: %s' % (target, e), None
                time.sleep(0.2)
                continue
            try:
                return conn.command(*args)
            except workload.Error as e:
                last = msg = str(e)
                if msg.startswith('MOVED '):
                    host, port = msg.split()[2].rsplit(':', 1)
                    target = (host, int(port))
                    time.sleep(0.05)
                elif IN_PROGRESS in msg:
                    self.stats['in_progress_retries'] += 1
                    time.sleep(0.2)
                elif (msg.startswith(('CLUSTERDOWN', 'TRYAGAIN', 'TIMEOUT'))
                      or any(u in msg for u in UNCERTAIN)):
                    uncertain |= not msg.startswith(('CLUSTERDOWN', 'TRYAGAIN'))
                    target = None
                    time.sleep(0.2)
                elif uncertain and args[1].upper() == 'REMOVE' and 'is not a member' in msg:
                    return 'OK'
                elif 'short of a quorum' in msg:
                    # The leader's reconfiguration check: the change would
                    # leave too few reachable voters (it changed nothing).
                    raise QuorumRefused('%s: %s' % (' '.join(map(str, args)), msg))
                else:
                    raise MembershipError('%s: %s' % (' '.join(map(str, args)), msg))
            except workload.Closed as e:
                last, target, uncertain = str(e), None, True
                time.sleep(0.2)
            finally:
                conn.close()
        raise MembershipError('%s did not complete in %.0f s (last: %s)' % (
            ' '.join(map(str, args)), CHANGE_TIMEOUT, last))

    def view(self):
        """The leader's RAFT.NODES, as dicts."""
        node = self.run.wait_leader(30)
        return parse_nodes(self._send((node.host, node.port), 'RAFT.NODES', timeout=5.0))

    def _voters(self):
        return len([e for e in self.view() if e.get('role') == 'voter'])

    def _update_addrs(self):
        """Workers pick from run.addrs (one entry per slot, updated in place,
        so its length never changes under them): a removed slot points at a
        live member."""
        members = self._live() or self.members()
        for slot, node in self.run.nodes.items():
            if node.removed:
                node = self.rng.choice(members)
            self.run.addrs[slot - 1] = (node.host, node.port)

    # -- the steps ------------------------------------------------------------
    def remove(self, node):
        ids = {e['address']: e['id'] for e in self.view()}
        rid = ids.get(node.address, node.raft_id)
        was_running = node.running()
        self.change('RAFT.NODE', 'REMOVE', rid)
        node.removed = True
        self.stats['removed'] += 1
        self._update_addrs()
        runner.log('membership: removed node %d (id %s, %s, %s)' % (
            node.i, rid, node.address, 'running' if was_running else 'dead'))
        if was_running:
            try:
                runner.wait_until(lambda: not node.running(), REMOVED_EXIT_TIMEOUT,
                                  'removed node %d to exit' % node.i, interval=0.1)
            except TimeoutError:
                self._anomaly('removed-node-kept-running', node=node.i, id=rid,
                              address=node.address)
                node.kill()
        try:
            self.stats['min_voters'] = min(self.stats['min_voters'], self._voters())
        except STEP_ERRORS:
            pass

    def join(self, slot):
        old = self.run.nodes[slot]
        if old.running():
            old.kill()
        gen = self.generation[slot] = self.generation.get(slot, 0) + 1
        via = self.rng.choice(self._live())
        node = self.run.fresh_node(old, gen, '%s:%d' % (via.host, via.port))
        node.start()
        runner.log('membership: node %d.%d (%s) joining through node %d' % (
            slot, gen, node.address, via.i))

        def voter():
            if not node.running():
                return 'exited'
            for e in self.view():
                if e['address'] == node.address and e.get('role') == 'voter':
                    return e
            return None
        try:
            entry = runner.wait_until(voter, JOIN_TIMEOUT, 'node %d.%d to be a voter' % (
                slot, gen), interval=0.2)
        except TimeoutError as e:
            entry = str(e)
        if not isinstance(entry, dict):
            # The run has failed: no more joins into this cluster.
            self.join_failed = True
            raise MembershipError('node %d.%d did not join: %s' % (
                slot, gen, 'it exited' if entry == 'exited' else entry))
        node.raft_id = entry['id']
        self.stats['joined'] += 1
        self._update_addrs()
        runner.log('membership: node %d.%d is voter id %s' % (slot, gen, node.raft_id))

    # -- the fault ------------------------------------------------------------
    def inject(self):
        """Shrink the cluster now; returns the heal that grows it back."""
        if self.join_failed:
            raise MembershipError('skipped: a fresh node could not join earlier')
        first = not self.used
        self.used = True
        n = self.run.n
        low = 1 if first or self.rng.random() < 0.3 else self.rng.randint(1, n - 1)
        dead = []
        if n >= 3 and self.rng.random() < 0.3:
            # Members down first; they are removed before any live one.
            dead = self.rng.sample(self._live(), self.rng.randint(1, (n - 1) // 2))
            for node in dead:
                node.kill()
        self.run.note_fault('membership', 'shrink %d -> %d voters%s' % (
            n, low, ', removing SIGKILLed node(s) %s first' % [d.i for d in dead]
            if dead else ''))
        # Members already down (killed by an earlier fault and not back yet,
        # or exited after a full disk) go first too.
        down = [m for m in self.members() if not m.running() and m not in dead]
        try:
            for node in dead + down:
                self.remove(node)
                self.stats['killed_then_removed'] += 1
            while len(self.members()) > low:
                vacant = [s for s, nd in self.run.nodes.items() if nd.removed]
                if vacant and not self.join_failed and self.rng.random() < 0.25:
                    self.join(self.rng.choice(vacant))
                else:
                    self.remove(self.rng.choice(self.members()))
        except QuorumRefused as e:
            # Right: a partitioned or paused member still counts in the
            # quorum. Stop shrinking; the heal grows the cluster back.
            self.stats['quorum_refusals'] += 1
            runner.log('membership: refused, stop shrinking: %s' % e)
        except STEP_ERRORS as e:
            self._anomaly('membership-change-failed', error=str(e))
        return self.restore

    def restore(self):
        """Join fresh nodes until every slot has a member again."""
        for slot in sorted(self.run.nodes):
            if not self.run.nodes[slot].removed or self.join_failed:
                continue
            try:
                self.join(slot)
            except STEP_ERRORS as e:
                self._anomaly('join-failed', slot=slot, error=str(e))

    # -- checking -------------------------------------------------------------
    def result(self, ops):
        """Anomalies, final membership and stats, in the checkers' format."""
        anomalies = list(self.anomalies)
        want = sorted(n.address for n in self.run.nodes.values() if not n.removed)
        try:
            view = self.view()
            got = sorted(e['address'] for e in view if e.get('role') == 'voter')
            others = [e for e in view if e.get('role') != 'voter']
            if got != want or others or len(want) != self.run.n:
                anomalies.append({'kind': 'final-membership', 'expected_voters': want,
                                  'leader_view': view})
        except STEP_ERRORS as e:
            anomalies.append({'kind': 'final-membership', 'error': str(e)})
        stats = dict(self.stats, max_write_gap_s=round(longest_write_gap(ops), 3))
        return {'valid': not anomalies, 'anomalies': anomalies, 'stats': stats}
