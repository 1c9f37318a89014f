"""members: helpers for the cluster membership tests (test_membership.py).

  JoiningNode    a harness Node started with `--join HOST:PORT` (and
                 `--join-as standby`, an explicit `--node-id`) instead of
                 `cluster-nodes`; its id is learned once it is a member
  Members        one Cluster and the nodes that joined or left it: join(),
                 remove(), the member list as each node sees it (RAFT.NODES),
                 waits on roles and voter counts
  WriteLoad      writer threads doing `SET w<t>:<i> <i>` through the live
                 members, reconnecting on errors, recording each write as
                 acknowledged / unknown outcome / definite failure, with the
                 time of every acknowledgement
  check_acked    every acknowledged write is present on the survivors (and
                 no definitely-failed write is)

Every wait polls with a deadline (harness.wait_until); deadlines that
measure the server's speed are harness.scaled().
"""

import collections
import os
import threading
import time

import harness
from harness import encode, scaled, wait_until

# Election timeout for these tests: the default, stretched under sanitizers.
OPTIONS = {'election-timeout': int(500 * harness.SLOWDOWN)}

IN_PROGRESS = b'-ERR another membership change is in progress'

ROLES = ('voter', 'standby', 'spare')

# The fields of one RAFT.NODES element, in order.
RAFT_NODES_FIELDS = ('id', 'address', 'role', 'leader', 'match_index',
                     'last_contact', 'connected')


# ---------------------------------------------------------------------------
# RESP2 replies as Python values


class RespError(Exception):
    """An error reply (its text without the leading '-')."""

    def __eq__(self, other):
        return isinstance(other, RespError) and self.args == other.args

    def __hash__(self):
        return hash(self.args)


def parse_resp(buf):
    """One complete RESP2 reply (bytes) -> Python: + str, - RespError,
    : int, $ bytes (None for nil), * list (None for nil)."""
    value, pos = _parse(buf, 0)
    if pos != len(buf):
        raise ValueError('trailing bytes after the reply: %r' % buf[pos:pos + 64])
    return value


def _parse(buf, pos):
    nl = buf.index(b'\r\n', pos)
    kind, rest = buf[pos:pos + 1], buf[pos + 1:nl]
    pos = nl + 2
    if kind == b'+':
        return rest.decode(), pos
    if kind == b'-':
        return RespError(rest.decode(errors='replace')), pos
    if kind == b':':
        return int(rest), pos
    if kind == b'$':
        n = int(rest)
        if n < 0:
            return None, pos
        return buf[pos:pos + n], pos + n + 2
    if kind == b'*':
        n = int(rest)
        if n < 0:
            return None, pos
        out = []
        for _ in range(n):
            v, pos = _parse(buf, pos)
            out.append(v)
        return out, pos
    raise ValueError('not a RESP2 reply: %r' % buf[pos - len(rest) - 3:][:64])


def cmd(node, *args, timeout=harness.REPLY_TIMEOUT):
    """One command on a fresh raw connection; the reply bytes."""
    return node.send_raw(encode(*args), timeout=timeout)


def client_addr(node):
    return '%s:%d' % (node.host, node.port)


def moved_to(node):
    """The -MOVED reply a follower gives for RAFT.NODE: slot 0, the leader."""
    return b'-MOVED 0 %s\r\n' % client_addr(node).encode()


def raft_nodes_raw(node):
    """RAFT.NODES on node, parsed: a list of flat [field, value, ...] lists."""
    reply = cmd(node, 'RAFT.NODES')
    value = parse_resp(reply)
    if isinstance(value, RespError):
        raise AssertionError('RAFT.NODES on %s: %r' % (node.name, reply))
    return value


def raft_nodes(node):
    """RAFT.NODES on node as {id: {field: value}} with str for bulk values."""
    out = {}
    for entry in raft_nodes_raw(node):
        fields = {}
        for k, v in zip(entry[::2], entry[1::2]):
            k = k.decode() if isinstance(k, bytes) else k
            fields[k] = v.decode() if isinstance(v, bytes) else v
        out[int(fields['id'])] = fields
    return out


# ---------------------------------------------------------------------------
# A node that joins a running cluster


class JoiningNode(harness.Node):
    """A redis-raft node started with `--join HOST:PORT` on an empty dir.

    node_id: an explicit `--node-id` (None: the cluster chooses; the id is
    then learned by Members.join, and node_id is 0 until then). Restarting
    it passes the same arguments again: on a non-empty dir `join` is
    ignored."""

    def __init__(self, workdir, join, join_as=None, node_id=None, options=None, **kwargs):
        opts = dict(options or {})
        opts.pop('cluster-nodes', None)
        opts['join'] = join
        if join_as is not None:
            opts['join-as'] = join_as
        opts['node-id'] = node_id  # None: left out of the command line
        super().__init__(workdir, node_id=node_id or 0, options=opts, **kwargs)
        self.join_as = join_as or 'voter'
        self.name = 'redis-raft joining node (%s)' % self.address

    def set_id(self, node_id):
        self.node_id = node_id
        self.name = 'redis-raft node %d (joined)' % node_id

    def member_file(self):
        return os.path.join(self.dir, 'member')


class Members:
    """A Cluster whose membership changes: nodes join (JoiningNode) and are
    removed. Removed nodes leave `cluster.nodes` (so that the harness's
    leader waits ask only members) and are kept in `removed`."""

    def __init__(self, cluster, workspace):
        self.cluster = cluster
        self.ws = workspace
        self.removed = {}
        self.killed = set()              # ids the test killed on purpose
        self.ever = set(cluster.nodes)   # every id seen so far

    def kill(self, node):
        """SIGKILL a member on purpose (check_alive then expects it down)."""
        self.killed.add(node.node_id)
        return node.kill()

    def check_alive(self):
        """Fail if a member the test did not kill has exited (a crash)."""
        for n in self.cluster.nodes.values():
            if n.node_id not in self.killed and not n.is_running():
                raise AssertionError('%s exited (status %s) while a member\n%s' % (
                    n.name, n.process.returncode if n.process else None, n.output_tail()))

    # -- views
    def live(self):
        """Member nodes whose process runs and is not paused."""
        # list(): one step under the GIL, safe while another thread
        # (the test) adds or removes members.
        return [n for n in list(self.cluster.nodes.values())
                if n.is_running() and not n.paused]

    def leader(self, timeout=None, exclude=()):
        return self.cluster.wait_for_leader(timeout or scaled(20), exclude=exclude)

    def view(self, node=None):
        """RAFT.NODES as node (default: the leader) sees it."""
        return raft_nodes(node or self.leader())

    def leader_command(self, *args, timeout=None, retry_in_progress=False):
        """Send a command to the leader; follow a change of leader (-MOVED,
        -CLUSTERDOWN, a dropped connection) and, if asked, retry while another
        membership change is in progress. Returns the reply bytes."""
        deadline = time.monotonic() + (timeout or scaled(30))
        last = None
        while True:
            try:
                leader = self.leader()
                reply = cmd(leader, *args, timeout=scaled(30))
                retry = reply.startswith(b'-MOVED ') or reply.startswith(b'-CLUSTERDOWN ') \
                    or (retry_in_progress and reply.startswith(IN_PROGRESS))
                if not retry:
                    return reply
                last = reply
            except (OSError, ConnectionError, harness.TimeoutExpired) as exc:
                last = exc
            if time.monotonic() > deadline:
                raise harness.TimeoutExpired('%r: no answer from a leader; last %r' % (args, last))
            time.sleep(0.05)

    # -- waits
    def wait_role(self, node_id, role, timeout=None, address=None):
        """Wait until the leader lists node_id with role (and address)."""
        def ok():
            m = self.view().get(node_id)
            return m is not None and m['role'] == role and \
                (address is None or m['address'] == address)
        wait_until(ok, timeout or scaled(30),
                   what='node %d to be a %s in the leader\'s RAFT.NODES' % (node_id, role))

    def wait_counts(self, voters, standbys=None, nodes=None, timeout=None):
        """Wait until every live member's INFO raft says raft_num_voters ==
        voters (and the standby / node counts when given)."""
        def ok():
            for n in self.live():
                info = n.raft_info()
                if int(info['raft_num_voters']) != voters:
                    return False
                if standbys is not None and int(info.get('raft_num_standbys', -1)) != standbys:
                    return False
                if nodes is not None and int(info['raft_num_nodes']) != nodes:
                    return False
            return True
        wait_until(ok, timeout or scaled(30),
                   what='every member to count %d voters (standbys %s, nodes %s): %s' % (
                       voters, standbys, nodes,
                       {n.node_id: _counts(n) for n in self.live()}))

    # -- changes
    def new_joiner(self, via, join_as=None, node_id=None):
        """A JoiningNode (not started) that will join through `via` (a Node:
        its client address is given to --join)."""
        n = JoiningNode(self.ws.subdir('join'), client_addr(via), join_as=join_as,
                        node_id=node_id, options=self.cluster.options)
        self.ws.procs.append(n)
        return n

    def join(self, via, join_as=None, node_id=None, timeout=None):
        """Start a node with --join <via's client address>, wait until the
        leader lists it in the asked role and it knows its id; it then
        belongs to cluster.nodes. Returns it."""
        n = self.new_joiner(via, join_as, node_id)
        n.start(timeout=timeout or scaled(30))
        return self.adopt(n, timeout)

    def adopt(self, n, timeout=None):
        """Wait until the started joiner n is a member in its role (found by
        address in the leader's RAFT.NODES) and add it to cluster.nodes."""
        timeout = timeout or scaled(30)

        def listed():
            for node_id, m in self.view().items():
                if m['address'] == n.address and m['role'] == n.join_as:
                    return node_id
            return None
        node_id = wait_until(listed, timeout,
                             what='%s to be listed as a %s' % (n.name, n.join_as))
        wait_until(lambda: n.raft_info()['raft_node_id'] == str(node_id), timeout,
                   what='%s to know its id %d' % (n.name, node_id))
        n.set_id(node_id)
        assert node_id not in self.cluster.nodes, (node_id, sorted(self.cluster.nodes))
        self.cluster.nodes[node_id] = n
        self.ever.add(node_id)
        return n

    def remove(self, node_id, via=None, timeout=None):
        """RAFT.NODE REMOVE node_id (sent to `via`, default the leader,
        retried while another change is in progress); expects +OK. The
        node leaves cluster.nodes. Returns the Node."""
        if via is None:
            reply = self.leader_command('RAFT.NODE', 'REMOVE', node_id,
                                        timeout=timeout, retry_in_progress=True)
        else:
            reply = cmd(via, 'RAFT.NODE', 'REMOVE', node_id, timeout=timeout or scaled(30))
        assert reply == b'+OK\r\n', (node_id, reply)
        return self.forget(node_id)

    def forget(self, node_id):
        n = self.cluster.nodes.pop(node_id)
        self.removed[node_id] = n
        return n


def _counts(node):
    try:
        info = node.raft_info()
    except Exception as exc:  # noqa: BLE001 - diagnostics only
        return repr(exc)
    return {k: info.get(k) for k in ('raft_role', 'raft_num_nodes', 'raft_num_voters',
                                     'raft_num_standbys')}


def wait_removed_exit(node, timeout=None):
    """A removed node exits on its own; returns its exit status."""
    return node.wait_exit(timeout or scaled(30))


# ---------------------------------------------------------------------------
# Write load


class Writer(threading.Thread):
    """SET w<wid>:<i> <i> with i = 1, 2, ... one at a time. Each write is
    recorded once: ack (+OK), fail (-MOVED / -CLUSTERDOWN: never proposed),
    unknown (-TIMEOUT, another error, a timeout or a dropped connection; the
    write is never retried, the next i is used). On anything but +OK the
    writer moves to another live member."""

    def __init__(self, load, wid):
        super().__init__(daemon=True, name='writer-%d' % wid)
        self.load, self.wid = load, wid
        self.acked = []        # (key, i)
        self.ack_times = []    # monotonic time of each acknowledgement
        self.failed = []       # keys definitely not written
        self.unknown = []      # (key, why)
        self.errors = collections.Counter()
        self.crash = None

    def _connect(self, turn, prefer=None):
        nodes = self.load.targets()
        if prefer is not None:
            match = [n for n in nodes if client_addr(n) == prefer]
            if match:
                nodes = match
        if not nodes:
            return None
        node = nodes[(self.wid + turn) % len(nodes)]
        try:
            return node.raw(timeout=self.load.reply_timeout)
        except OSError:
            return None

    def run(self):
        try:
            self._run()
        except BaseException as exc:  # noqa: BLE001 - reported by WriteLoad.stop
            self.crash = repr(exc)
            raise

    def _run(self):
        conn, turn, prefer, i = None, 0, None, 0
        stopping = self.load.stopping
        while not stopping.is_set():
            if conn is None:
                conn = self._connect(turn, prefer)
                prefer = None
                if conn is None:
                    turn += 1
                    stopping.wait(0.02)
                    continue
            i += 1
            key = 'w%d:%d' % (self.wid, i)
            try:
                reply = conn.command('SET', key, str(i))
            except (harness.TimeoutExpired, OSError, ConnectionError, ValueError) as exc:
                self.unknown.append((key, type(exc).__name__))
                conn.close()
                conn, turn = None, turn + 1
                continue
            if reply == b'+OK\r\n':
                self.ack_times.append(time.monotonic())
                self.acked.append((key, i))
                continue
            word = reply.split(b' ', 1)[0].decode(errors='replace')
            self.errors[word] += 1
            if reply.startswith(b'-MOVED ') or reply.startswith(b'-CLUSTERDOWN '):
                self.failed.append(key)
                if reply.startswith(b'-MOVED '):
                    prefer = reply.split()[2].decode()
            else:
                self.unknown.append((key, reply[:80]))
            conn.close()
            conn, turn = None, turn + 1
            stopping.wait(0.02)
        if conn is not None:
            conn.close()


class WriteLoad:
    """Writer threads through the nodes `targets()` returns (called at each
    reconnect). Use as a context manager, or start() / stop()."""

    def __init__(self, targets, threads=4, reply_timeout=None):
        self.targets = targets
        self.reply_timeout = reply_timeout or scaled(15)
        self.stopping = threading.Event()
        self.writers = [Writer(self, w) for w in range(threads)]
        self.t_start = self.t_stop = None

    def start(self):
        self.t_start = time.monotonic()
        for w in self.writers:
            w.start()
        return self

    def stop(self):
        if self.t_stop is None:
            # The load ends now: a write still in flight is not waited for
            # in the gap measure.
            self.t_stop = time.monotonic()
            self.stopping.set()
            for w in self.writers:
                w.join(self.reply_timeout + scaled(10))
            alive = [w.name for w in self.writers if w.is_alive()]
            assert not alive, 'writer threads still running: %s' % alive
            crashed = [(w.name, w.crash) for w in self.writers if w.crash]
            assert not crashed, 'writer threads failed: %s' % crashed
        return self

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- progress
    def acked_count(self):
        return sum(len(w.acked) for w in self.writers)

    def wait_progress(self, n=50, timeout=None, what='writes'):
        """Wait until n more writes are acknowledged than now."""
        floor = self.acked_count()
        wait_until(lambda: self.acked_count() >= floor + n, timeout or scaled(30),
                   what='%d more acknowledged %s (have %d; %s)' % (
                       n, what, floor, self.summary()))

    # -- results
    def acked(self):
        return [a for w in self.writers for a in w.acked]

    def failed(self):
        return [k for w in self.writers for k in w.failed]

    def unknown(self):
        return [u for w in self.writers for u in w.unknown]

    def longest_gap(self):
        """(seconds, start offset) of the longest time without an
        acknowledged write between start() and stop()."""
        end = self.t_stop if self.t_stop is not None else time.monotonic()
        times = sorted([self.t_start, end] + [t for w in self.writers for t in w.ack_times
                                              if t <= end])
        best, at = 0.0, 0.0
        for a, b in zip(times, times[1:]):
            if b - a > best:
                best, at = b - a, a - self.t_start
        return best, at

    def summary(self):
        errors = sum((w.errors for w in self.writers), collections.Counter())
        return 'acked %d, failed %d, unknown %d, error replies %s' % (
            self.acked_count(), len(self.failed()), len(self.unknown()), dict(errors))

    def report(self, label=''):
        gap, at = self.longest_gap()
        line = '%slongest write gap %.3fs (at +%.1fs of %.1fs); %s' % (
            label + ': ' if label else '', gap, at, self.t_stop - self.t_start, self.summary())
        print(line)
        return gap, line


def read_keys(node, keys, chunk=2000):
    """{key: value bytes or None} read with READONLY (the node's own state)."""
    out = {}
    with node.raw(timeout=scaled(30)) as conn:
        assert conn.command('READONLY') == b'+OK\r\n'
        for start in range(0, len(keys), chunk):
            part = keys[start:start + chunk]
            conn.send(b''.join(encode('GET', k) for k in part))
            for k in part:
                reply = conn.read_reply()
                if reply == b'$-1\r\n':
                    out[k] = None
                else:
                    assert reply.startswith(b'$'), (k, reply)
                    out[k] = reply.split(b'\r\n')[1]
    return out


def missing_writes(node, acked, failed):
    """Problems on node: acknowledged writes absent or wrong, definitely
    failed writes present."""
    values = read_keys(node, [k for k, _ in acked] + list(failed))
    problems = []
    for k, i in acked:
        if values[k] != str(i).encode():
            problems.append('acked %s=%d reads %r' % (k, i, values[k]))
    for k in failed:
        if values[k] is not None:
            problems.append('definitely failed %s reads %r' % (k, values[k]))
    return problems


def check_acked(load, nodes, timeout=None):
    """Every write `load` acknowledged is on every node of `nodes` (read
    with READONLY, polled until they have applied it), and no write that got
    a definite failure is."""
    assert load.t_stop is not None, 'stop the load first'
    acked, failed = load.acked(), load.failed()
    assert acked, 'no write was acknowledged: ' + load.summary()
    for node in nodes:
        last = []

        def ok():
            last[:] = missing_writes(node, acked, failed)
            return not last
        try:
            wait_until(ok, timeout or scaled(30),
                       what='%s to hold every acknowledged write' % node.name)
        except harness.TimeoutExpired:
            raise AssertionError('%s: %d problems, first ones: %s (%s)' % (
                node.name, len(last), last[:10], load.summary()))


def finish_load(load, m, label, bound=None):
    """Stop the load, check that no member crashed and that the live
    members (Members m) hold every acknowledged write, print and bound the
    longest gap between acknowledged writes."""
    load.stop()
    m.check_alive()
    check_acked(load, m.live())
    gap, line = load.report(label)
    bound = bound if bound is not None else scaled(6)
    assert gap < bound, 'writes stalled too long: ' + line
    return gap
