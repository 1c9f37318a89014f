"""Crash safety: the whole cluster SIGKILLed at once, again and again, while
clients write and snapshots are taken; and a node whose disk fills up.

Full-cluster crash. Six clients write through all three nodes (SET of
unique values to a few registers, INCR of a few counters, RPUSH of unique
values to a few lists), one request at a time, and record each operation
as acknowledged (a definite success), failed (an error that guarantees no
effect: -CLUSTERDOWN, -MOVED) or unknown (-TIMEOUT, a timeout, a lost
connection). Every node is SIGKILLed at the same moment, restarted, and
the state read back must be explainable by that history: nothing
acknowledged is lost, nothing that failed or was never sent appears,
nothing appears twice, and what one write followed in real time stays
after it. The keys live on across rounds, so later rounds also check what
the restarts recovered from snapshots and logs.

Disk full. One node's data directory is a small tmpfs. Writes fill it;
the node must log `Disk write failed` (with the ENOSPC reason) and exit
with status 1, while the other two keep serving and lose nothing that was
acknowledged. With space freed, the node restarts on its directory and
catches up.

RR_CRASH_SEED=<n> repeats the random choices (keys, crash points) of a
run; the seed is printed (shown with a failure's captured output).
"""

import collections
import os
import random
import signal
import subprocess
import threading
import time

import pytest

import harness
from conftest import redis_raft_only
from harness import encode, scaled, wait_until


@pytest.fixture(autouse=True)
def _redis_raft_only():
    redis_raft_only()


def run_seed():
    """The seed of this run: RR_CRASH_SEED or a new random one."""
    env = os.environ.get('RR_CRASH_SEED')
    seed = int(env) if env else random.randrange(1 << 31)
    print('RR_CRASH_SEED=%d' % seed)
    return seed


def cmd(node, *args, timeout=None):
    return node.send_raw(encode(*args), timeout=timeout or harness.REPLY_TIMEOUT)


# ---------------------------------------------------------------------------
# Replies


ACKED, FAILED, UNKNOWN = 'acked', 'failed', 'unknown'

# Errors after which the command certainly had no effect.
DEFINITE_ERRORS = (b'-CLUSTERDOWN ', b'-MOVED ')
# Errors after which it may or may not have run.
UNKNOWN_ERRORS = (b'-TIMEOUT ',)


def classify(kind, reply):
    """(status, integer result) of a write's reply; status None for a reply
    the contract does not allow (the caller counts the write as unknown)."""
    if kind == 'SET' and reply == b'+OK\r\n':
        return ACKED, None
    if kind in ('INCR', 'RPUSH') and reply[:1] == b':':
        return ACKED, int(reply[1:-2])
    if reply.startswith(DEFINITE_ERRORS):
        return FAILED, None
    if reply.startswith(UNKNOWN_ERRORS):
        return UNKNOWN, None
    return None, None


def parse_bulk(reply):
    """Value of a bulk-string reply (None for nil); raises on an error."""
    if reply == b'$-1\r\n':
        return None
    if not reply.startswith(b'$'):
        raise AssertionError('not a bulk reply: %r' % reply[:200])
    head = reply.index(b'\r\n')
    return reply[head + 2:head + 2 + int(reply[1:head])]


def parse_bulk_array(reply):
    """Elements of an array-of-bulk-strings reply; raises on an error."""
    if not reply.startswith(b'*'):
        raise AssertionError('not an array reply: %r' % reply[:200])
    head = reply.index(b'\r\n')
    count = int(reply[1:head])
    out, pos = [], head + 2
    for _ in range(count):
        n = harness.reply_length(reply, pos)
        out.append(parse_bulk(reply[pos:pos + n]))
        pos += n
    return out


# ---------------------------------------------------------------------------
# Processes


def start_cluster(workspace, options=None, data_dirs=None, count=3):
    """A started Cluster like Workspace.cluster(), except that nodes listed
    in data_dirs (node id -> path) keep their data there."""
    cluster = harness.Cluster(workspace, options)
    ports = [(harness.free_port(), harness.free_port()) for _ in range(count)]
    cluster.seeds = ','.join('127.0.0.1:%d@%d' % p for p in ports)
    for i, (port, raft_port) in enumerate(ports, 1):
        opts = dict(options or {})
        opts['cluster-nodes'] = cluster.seeds
        cluster.nodes[i] = workspace.node(
            start=False, node_id=i, port=port, raft_port=raft_port, options=opts,
            data_dir=(data_dirs or {}).get(i))
    for n in cluster.nodes.values():
        n.spawn()
    for n in cluster.nodes.values():
        n.wait_ready()
    cluster.wait_for_leader()
    return cluster


def crash_all(cluster):
    """SIGKILL every node back to back, wait until all are gone; returns
    the time (monotonic) by which every process had died."""
    nodes = list(cluster.nodes.values())
    for n in nodes:
        assert n.is_running(), '%s died before the crash (status %s)\n%s' % (
            n.name, n.process.returncode, n.output_tail())
    for n in nodes:
        os.kill(n.pid, signal.SIGKILL)
    for n in nodes:
        n.wait_exit()
        n.paused = False
    return time.monotonic()


def restart_all(cluster):
    for n in cluster.nodes.values():
        n.spawn()
    for n in cluster.nodes.values():
        n.wait_ready()
    return cluster.wait_for_leader(scaled(30))


def stray_processes(cluster):
    """Live processes (not zombies) other than the current nodes that run
    with one of this cluster's raft ports: e.g. a snapshot child that
    outlived its SIGKILLed parent."""
    ours = {n.pid for n in cluster.nodes.values() if n.is_running()}
    ports = {str(n.raft_port).encode() for n in cluster.nodes.values()}
    found = []
    for entry in os.listdir('/proc'):
        if not entry.isdigit() or int(entry) in ours:
            continue
        try:
            with open('/proc/%s/cmdline' % entry, 'rb') as f:
                argv = f.read().split(b'\0')
            with open('/proc/%s/stat' % entry) as f:
                state = f.read().rsplit(')', 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state in ('Z', 'X') or b'--raft-port' not in argv:
            continue
        i = argv.index(b'--raft-port')
        if i + 1 < len(argv) and argv[i + 1] in ports:
            found.append('pid %s (state %s): %s' % (
                entry, state, b' '.join(argv).decode(errors='replace')[:200]))
    return found


# ---------------------------------------------------------------------------
# Full-cluster crash: clients and their history


REGISTERS = ['reg:%d' % i for i in range(3)]
COUNTERS = ['ctr:%d' % i for i in range(2)]
LISTS = ['list:%d' % i for i in range(2)]
WRITER_KINDS = ['SET', 'SET', 'INCR', 'INCR', 'RPUSH', 'RPUSH']
OP_TIMEOUT = scaled(10)
MAX_OPS_PER_ROUND = 200000  # per client; bounds the loop, never reached


class Op:
    """One write: what was sent, when (monotonic), and what came back.
    `end` is set for acknowledged writes only; `result` is INCR's value or
    RPUSH's list length."""

    __slots__ = ('client', 'seq', 'kind', 'key', 'value', 'round', 'start', 'end',
                 'status', 'result', 'reply')

    def __init__(self, client, seq, kind, key, value, round_):
        self.client, self.seq, self.kind, self.key = client, seq, kind, key
        self.value, self.round = value, round_
        self.start = self.end = self.result = self.reply = None
        self.status = UNKNOWN

    def __repr__(self):
        return '<%s %s %s %r round %d %s %r>' % (
            self.client, self.kind, self.key, self.value, self.round, self.status,
            self.reply if self.status != ACKED else self.result)


class Writer(threading.Thread):
    """A client writing through one node, one request at a time, until
    `stop` is set or its deadline passes. Reconnects after a lost
    connection. Unique values are `<name>:<seq>`, seq counting on from
    `seq` (so values stay unique across rounds)."""

    def __init__(self, name, kind, node, keys, seq, rng, round_, stop, deadline):
        super().__init__(daemon=True, name=name)
        self.client, self.kind, self.node, self.keys = name, kind, node, keys
        self.seq, self.rng, self.round, self.stop = seq, rng, round_, stop
        self.deadline = deadline
        self.ops = []
        self.nacked = 0
        self.unexpected = []

    def _op(self):
        self.seq += 1
        key = self.rng.choice(self.keys)
        value = None if self.kind == 'INCR' else '%s:%d' % (self.client, self.seq)
        return Op(self.client, self.seq, self.kind, key, value, self.round)

    def run(self):
        conn = None
        try:
            for _ in range(MAX_OPS_PER_ROUND):
                if self.stop.is_set() or time.monotonic() > self.deadline:
                    break
                if conn is None:
                    try:
                        conn = harness.RawConn(self.node.port, timeout=OP_TIMEOUT)
                    except OSError:
                        self.stop.wait(0.05)  # the node is down
                        continue
                op = self._op()
                args = (op.kind, op.key) + ((op.value,) if op.value is not None else ())
                op.start = time.monotonic()
                try:
                    reply = conn.command(*args)
                except (OSError, ConnectionError, harness.TimeoutExpired) as exc:
                    op.reply = repr(exc)[:120]
                    conn.close()
                    conn = None
                except ValueError as exc:  # not RESP: the stream is lost
                    op.reply = repr(exc)[:200]
                    self.unexpected.append(op)
                    conn.close()
                    conn = None
                else:
                    op.reply = reply[:200]
                    status, result = classify(op.kind, reply)
                    if status is None:
                        self.unexpected.append(op)  # counted as unknown
                    else:
                        op.status = status
                    if status == ACKED:
                        op.end = time.monotonic()
                        op.result = result
                        self.nacked += 1
                self.ops.append(op)
        finally:
            if conn is not None:
                conn.close()


def read_state(node, readonly=False):
    """{key: value}: registers and counters as bytes (None if missing),
    lists as lists of bytes. Raises unless every read succeeds."""
    keys = REGISTERS + COUNTERS + LISTS
    req = b''.join([encode('GET', k) for k in REGISTERS + COUNTERS] +
                   [encode('LRANGE', k, 0, -1) for k in LISTS])
    with node.raw(timeout=scaled(20)) as conn:
        if readonly:
            assert conn.command('READONLY') == b'+OK\r\n'
        conn.send(req)
        replies = conn.read_replies(len(keys))
    state = {}
    for k, reply in zip(keys, replies):
        state[k] = parse_bulk_array(reply) if k in LISTS else parse_bulk(reply)
    return state


def effective_end(op, crash_times):
    """Latest time at which op can have taken effect: its acknowledgement,
    or for an unknown write the crash that ended its round (an entry still
    uncommitted then can only be ordered before every later round's
    writes: a new leader either holds it below its new entries or holds a
    different entry at its index)."""
    return op.end if op.status == ACKED else crash_times[op.round]


def check_register(key, final, ops, crash_times):
    ops = [op for op in ops if op.key == key]
    acked = [op for op in ops if op.status == ACKED]
    if final is None:
        assert not acked, '%s is missing; %d SETs were acknowledged, e.g. %r' % (
            key, len(acked), acked[-1])
        return
    by_value = {op.value.encode(): op for op in ops}
    op = by_value.get(final)
    assert op is not None, '%s = %r: a value never written' % (key, final)
    assert op.status != FAILED, '%s = %r: its SET failed definitely: %r' % (key, final, op)
    end = effective_end(op, crash_times)
    later = [w for w in acked if w.start > end]
    assert not later, ('%s = %r (%r) is stale: %d acknowledged SETs began after it '
                       'had taken effect, e.g. %r' % (key, final, op, len(later), later[0]))


def check_counter(key, final, ops, crash_times):
    ops = [op for op in ops if op.key == key]
    acked = [op for op in ops if op.status == ACKED]
    unknown = [op for op in ops if op.status == UNKNOWN]
    value = 0 if final is None else int(final)
    values = sorted(op.result for op in acked)
    dups = [v for v, n in collections.Counter(values).items() if n > 1]
    assert not dups, '%s: INCR replies given twice: %r' % (key, dups[:10])
    summary = '%s = %d: %d acknowledged INCRs (max reply %s), %d unknown' % (
        key, value, len(acked), values[-1] if values else None, len(unknown))
    assert len(acked) <= value <= len(acked) + len(unknown), summary
    assert not values or values[-1] <= value, summary
    # An INCR that began after another was acknowledged returned more.
    by_end = sorted(acked, key=lambda o: o.end)
    best, j = 0, 0
    for op in sorted(acked, key=lambda o: o.start):
        while j < len(by_end) and by_end[j].end < op.start:
            best = max(best, by_end[j].result)
            j += 1
        assert op.result > best, '%s: %r began after an INCR that returned %d ended' % (
            key, op, best)


def check_list(key, final, ops, crash_times):
    ops = [op for op in ops if op.key == key]
    final = final or []
    by_value = {op.value.encode(): op for op in ops}
    dups = [v for v, n in collections.Counter(final).items() if n > 1]
    assert not dups, '%s: values appear more than once: %r' % (key, dups[:10])
    for i, v in enumerate(final):
        op = by_value.get(v)
        assert op is not None, '%s[%d] = %r: never pushed' % (key, i, v)
        assert op.status != FAILED, '%s[%d] = %r: its RPUSH failed definitely: %r' % (
            key, i, v, op)
    position = {v: i for i, v in enumerate(final)}
    for op in ops:
        if op.status != ACKED:
            continue
        v = op.value.encode()
        assert v in position, '%s: acknowledged RPUSH lost: %r (list has %d values)' % (
            key, op, len(final))
        # RPUSH's reply is the length with the value at the end, and
        # nothing is ever removed: that is its index for good.
        assert position[v] == op.result - 1, '%s: %r is at index %d' % (
            key, op, position[v])
    last_seq = {}
    for i, v in enumerate(final):
        op = by_value[v]
        assert op.seq > last_seq.get(op.client, 0), (
            '%s[%d] = %r: out of the order %s pushed in' % (key, i, v, op.client))
        last_seq[op.client] = op.seq
    # A value pushed after another had taken effect comes after it.
    latest_start, latest = -1.0, None
    for i, v in enumerate(final):
        op = by_value[v]
        end = effective_end(op, crash_times)
        assert latest_start <= end, ('%s[%d] = %r (%r) comes after %r, which was sent '
                                     'only once it had taken effect' % (key, i, v, op, latest))
        if op.start > latest_start:
            latest_start, latest = op.start, op


def check_state(state, ops, crash_times):
    for k in REGISTERS:
        check_register(k, state[k], ops, crash_times)
    for k in COUNTERS:
        check_counter(k, state[k], ops, crash_times)
    for k in LISTS:
        check_list(k, state[k], ops, crash_times)


def trigger_snapshots(cluster):
    """BGSAVE on every node at once (a snapshot in progress everywhere when
    the crash comes); returns the replies, for the record."""
    conns = [n.raw(timeout=scaled(5)) for n in cluster.nodes.values()]
    try:
        for conn in conns:
            conn.send(encode('BGSAVE'))
        replies = []
        for conn in conns:
            try:
                replies.append(conn.read_reply())
            except (OSError, ConnectionError, harness.TimeoutExpired) as exc:
                replies.append(repr(exc))
        return replies
    finally:
        for conn in conns:
            conn.close()


def count_in_logs(cluster, text):
    return sum(n.log_text().count(text) for n in cluster.nodes.values())


ROUNDS = 4


def test_full_cluster_crash_rounds(workspace):
    """ROUNDS times: six clients write through all three nodes; once some
    hundreds of writes are acknowledged in the round (a random number),
    every node is SIGKILLed at once (in odd rounds right after a BGSAVE
    to each, so with a snapshot in progress), restarted, and the state is
    checked against the whole history. Snapshots every 200 entries (50
    kept behind) mean crashes also meet snapshots in progress, and
    restarts load snapshots plus a log tail."""
    seed = run_seed()
    rng = random.Random(seed)
    cluster = start_cluster(workspace, {'snapshot-threshold': 200,
                                        'snapshot-trailing': 50})
    keys = {'SET': REGISTERS, 'INCR': COUNTERS, 'RPUSH': LISTS}
    history, crash_times, seqs = [], {}, collections.defaultdict(int)
    for round_ in range(ROUNDS):
        where = 'seed %d, round %d' % (seed, round_)
        stop = threading.Event()
        deadline = time.monotonic() + scaled(60)
        writers = []
        for i, kind in enumerate(WRITER_KINDS):
            name = 'c%d' % i
            node = cluster.nodes[1 + (i + round_) % 3]
            writers.append(Writer(name, kind, node, keys[kind], seqs[name],
                                  random.Random('%d/%d/%d' % (seed, round_, i)),
                                  round_, stop, deadline))
        for w in writers:
            w.start()
        target = rng.randint(400, 900)

        def progress():
            return (sum(w.nacked for w in writers) >= target and
                    all(w.nacked >= 3 for w in writers))

        def counts():
            c = collections.Counter(op.status for w in writers for op in w.ops)
            return dict(c)
        try:
            try:
                wait_until(progress, scaled(40), what='%d acknowledged writes (%s)' % (
                    target, where))
            except harness.TimeoutExpired as exc:
                raise AssertionError('%s; statuses so far %r' % (exc, counts()))
            bgsave = trigger_snapshots(cluster) if round_ % 2 else None
            crash_times[round_] = crash_all(cluster)
        finally:
            stop.set()
            for w in writers:
                w.join(scaled(30))
        assert not any(w.is_alive() for w in writers), 'a client hangs (%s)' % where
        for w in writers:
            seqs[w.client] = w.seq
            history.extend(w.ops)
        unexpected = [op for w in writers for op in w.unexpected]
        assert not unexpected, 'replies outside the contract (%s): %r' % (
            where, unexpected[:10])
        print('%s: %r, BGSAVE %r' % (where, counts(), bgsave))

        # A snapshot child must not outlive its node (nor keep its lock).
        try:
            wait_until(lambda: not stray_processes(cluster), scaled(15),
                       what='processes of the killed nodes to end')
        except harness.TimeoutExpired as exc:
            raise AssertionError('%s (%s): %r' % (exc, where, stray_processes(cluster)))
        restart_all(cluster)
        state = wait_until(lambda: read_state(cluster.wait_for_leader(scaled(30))),
                           scaled(30), what='reading the state back (%s)' % where)
        try:
            check_state(state, history, crash_times)
        except AssertionError as exc:
            raise AssertionError('%s: %s' % (where, exc))
        # Every node, once it has applied as far, holds the same state.
        leader = cluster.wait_for_leader(scaled(30))
        cluster.wait_for_applied(int(leader.raft_info()['raft_commit_index']))
        for n in cluster.nodes.values():
            assert read_state(n, readonly=True) == state, (
                'node %d differs from the leader after recovery (%s)' % (n.node_id, where))
    taken = count_in_logs(cluster, 'Snapshot taken')
    print('snapshots taken %d, loaded at start %d' % (
        taken, count_in_logs(cluster, 'Snapshot loaded at start')))
    assert taken >= 1, 'no snapshot was taken: the test did not exercise them'


# ---------------------------------------------------------------------------
# Disk full


TMPFS_MB = 48       # libraft preallocates 8 MiB segments: room to start plus a few
BIG_TMPFS_MB = 512  # after "freeing space"
VALUE_SIZE = 64 * 1024
PIPELINE = 8
VICTIM = 3


class Tmpfs:
    """A tmpfs mounted at `path` for one test; unmount() in a finally."""

    def __init__(self, path):
        self.path = path
        os.makedirs(path, exist_ok=True)

    def mounted(self):
        with open('/proc/mounts') as f:
            return any(line.split()[1] == self.path for line in f)

    def mount_or_skip(self, size_mb):
        if os.geteuid() != 0:
            pytest.skip('mounting a tmpfs needs root')
        r = subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=%dm' % size_mb, 'tmpfs',
                            self.path], capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            pytest.skip('mount -t tmpfs not permitted here: %s' % (
                r.stderr.strip() or r.returncode))

    def resize(self, size_mb):
        subprocess.run(['mount', '-o', 'remount,size=%dm' % size_mb, self.path],
                       check=True, capture_output=True, timeout=30)

    def free_bytes(self):
        st = os.statvfs(self.path)
        return st.f_bavail * st.f_frsize

    def unmount(self):
        if not self.mounted():
            return
        r = subprocess.run(['umount', self.path], capture_output=True, timeout=30)
        if r.returncode != 0:
            subprocess.run(['umount', '-l', self.path], capture_output=True, timeout=30)
        assert not self.mounted(), 'could not unmount %s' % self.path


def big_value(key):
    """VALUE_SIZE bytes that name their key (a misplaced value shows)."""
    unit = key.encode() + b'|'
    return (unit * (VALUE_SIZE // len(unit) + 1))[:VALUE_SIZE]


class Filler:
    """Writes VALUE_SIZE-byte values to new keys in pipelines and keeps
    the outcome of each: acked, failed or unknown key sets."""

    def __init__(self, prefix):
        self.prefix = prefix
        self.n = 0
        self.acked, self.failed, self.unknown = [], [], []
        self.unexpected = []

    @property
    def acked_bytes(self):
        return len(self.acked) * VALUE_SIZE

    def batch(self, conn, count=PIPELINE):
        """One pipeline of SETs; raises ConnectionError (its unanswered
        keys unknown) if the connection is lost."""
        keys = ['%s:%06d' % (self.prefix, self.n + i) for i in range(count)]
        self.n += count
        try:
            conn.send(b''.join(encode('SET', k, big_value(k)) for k in keys))
        except OSError as exc:
            self.unknown.extend(keys)
            raise ConnectionError(repr(exc))
        for i, k in enumerate(keys):
            try:
                reply = conn.read_reply()
            except (OSError, ConnectionError, harness.TimeoutExpired) as exc:
                self.unknown.extend(keys[i:])
                raise ConnectionError(repr(exc))
            status, _ = classify('SET', reply)
            if status is None:
                self.unexpected.append((k, reply[:200]))
                status = UNKNOWN
            {ACKED: self.acked, FAILED: self.failed, UNKNOWN: self.unknown}[status].append(k)

    def acked_write(self, node):
        """One SET through node; whether it was acknowledged."""
        before = len(self.acked)
        with node.raw(timeout=scaled(20)) as conn:
            self.batch(conn, 1)
        return len(self.acked) > before

    def fill(self, node, until, max_bytes, timeout):
        """Write through node until until() is true, max_bytes were
        acknowledged, the time is up or the connection is lost."""
        deadline = time.monotonic() + timeout
        try:
            with node.raw(timeout=scaled(20)) as conn:
                while (not until() and self.acked_bytes < max_bytes and
                       time.monotonic() < deadline):
                    self.batch(conn)
        except (OSError, ConnectionError):
            pass

    def check_readable(self, node, readonly=False):
        """Every acknowledged key holds its value on node; a key whose SET
        failed is missing; an unknown one is missing or whole."""
        keys = self.acked + self.failed + self.unknown
        acked, failed = set(self.acked), set(self.failed)
        with node.raw(timeout=scaled(30)) as conn:
            if readonly:
                assert conn.command('READONLY') == b'+OK\r\n'
            for i in range(0, len(keys), 32):
                chunk = keys[i:i + 32]
                conn.send(b''.join(encode('GET', k) for k in chunk))
                for k in chunk:
                    got = parse_bulk(conn.read_reply())
                    if k in acked:
                        assert got == big_value(k), 'acknowledged %s: %r' % (
                            k, None if got is None else got[:40])
                    elif k in failed:
                        assert got is None, 'SET of %s failed definitely yet it is there' % k
                    else:
                        assert got in (None, big_value(k)), 'unknown %s: %r' % (k, got[:40])


def persistence_summary(node):
    """The INFO fields that show whether a node still writes its log."""
    try:
        info = node.info()
    except (OSError, ConnectionError, harness.TimeoutExpired) as exc:
        return repr(exc)
    names = ('raft_role', 'raft_last_index', 'raft_commit_index', 'raft_last_applied',
             'fsync_count', 'snapshot_in_progress', 'snapshots_taken', 'log_entries')
    return ' '.join('%s:%s' % (k, info.get(k)) for k in names)


def disk_failure_lines(node):
    text = node.log_text() + node.stderr_text()
    return [line for line in text.splitlines() if 'Disk write failed' in line]


def make_leader(cluster, target, want):
    """Make `target` the leader (want=True) or not the leader (False) with
    RAFT.TRANSFER; returns the agreed leader."""
    for _ in range(5):
        leader = cluster.wait_for_leader(scaled(20))
        if (leader is target) == want:
            return leader
        to = target if want else next(n for n in cluster.nodes.values() if n is not target)
        reply = cmd(leader, 'RAFT.TRANSFER', str(to.node_id))
        assert reply == b'+OK\r\n', reply
        try:
            wait_until(lambda: (cluster.agreed_leader() is target) == want, scaled(10),
                       what='leadership %s node %d' % ('on' if want else 'off', target.node_id))
        except harness.TimeoutExpired:
            continue
    raise AssertionError('could not move leadership %s node %d' % (
        'to' if want else 'off', target.node_id))


@pytest.mark.parametrize('role', ['follower', 'leader'])
def test_disk_full(role, workspace):
    """Node 3 keeps its data on a TMPFS_MB tmpfs and is made the follower
    (snapshots every 32 entries, so a snapshot write may be what fails) or
    the leader (log writes fill it). Big values are written until its disk
    is full: it must log `Disk write failed` with the ENOSPC reason and
    exit with status 1; the two others (with a new leader if it led) keep
    serving, with every acknowledged write readable. The tmpfs is then
    grown, as if space were freed: node 3 restarts on its directory,
    catches up and serves again."""
    fs = Tmpfs(os.path.join(workspace.path, 'tmpfs'))
    fs.mount_or_skip(TMPFS_MB)
    try:
        options = {'snapshot-threshold': 32} if role == 'follower' else {}
        cluster = start_cluster(workspace, options, {VICTIM: os.path.join(fs.path, 'data')})
        victim = cluster.nodes[VICTIM]
        leader = make_leader(cluster, victim, role == 'leader')
        via = victim if role == 'leader' else leader
        filler = Filler('big')
        # Twice the tmpfs: the node has received more than fits by then.
        filler.fill(via, lambda: not victim.is_running(), 2 * TMPFS_MB << 20, scaled(60))
        free = fs.free_bytes()
        try:
            status = victim.wait_exit(scaled(15))
        except harness.TimeoutExpired:
            pytest.fail('node %d (the %s) still runs with its disk full: %d bytes free, '
                        '%d MiB acknowledged; its INFO: %s\n%s' % (
                            VICTIM, role, free, filler.acked_bytes >> 20,
                            persistence_summary(victim), victim.log_tail(2500)))
        lines = disk_failure_lines(victim)
        assert status == 1, 'exit status %s\n%s' % (status, victim.output_tail())
        assert lines, 'no "Disk write failed" line\n' + victim.output_tail()
        assert any('no space' in line.lower() for line in lines), lines
        assert filler.acked, 'nothing was acknowledged'
        assert not filler.unexpected, filler.unexpected[:5]

        # The two others keep serving, with every acknowledged write.
        leader = cluster.wait_for_leader(scaled(30))
        assert leader is not victim
        more = Filler('after')
        first = filler.acked[0]
        for n in cluster.up():
            wait_until(lambda: more.acked_write(n), scaled(20),
                       what='a write acknowledged through node %d' % n.node_id)
            with n.raw(timeout=scaled(20)) as conn:
                assert conn.command('GET', first) == b'$%d\r\n%s\r\n' % (
                    VALUE_SIZE, big_value(first))
        filler.check_readable(leader)
        more.check_readable(leader)

        # Space freed: it restarts on its directory and catches up.
        fs.resize(BIG_TMPFS_MB)
        victim.start()
        leader = cluster.wait_for_leader(scaled(30))
        index = int(leader.raft_info()['raft_commit_index'])
        cluster.wait_for_applied(index, nodes=[victim], timeout=scaled(60))
        filler.check_readable(victim, readonly=True)
        more.check_readable(victim, readonly=True)
        with victim.raw(timeout=scaled(20)) as conn:
            assert conn.command('SET', 'final', 'x') == b'+OK\r\n'
        assert cmd(leader, 'GET', 'final') == b'$1\r\nx\r\n'
        assert victim.is_running()
    finally:
        for p in workspace.procs:
            if p.is_running() and getattr(p, 'dir', '').startswith(fs.path + os.sep):
                try:
                    p.stop(scaled(10))
                except harness.TimeoutExpired:
                    p.kill()
        fs.unmount()
