"""Snapshots: INFO persistence, the snapshot-threshold / snapshot-trailing
options, SAVE / BGSAVE / LASTSAVE, restarting from a snapshot, a lagging
follower brought up to date by InstallSnapshot, refusing a corrupt or
truncated snapshot file, and restarting a node that holds many keys.

Snapshots are counted in raft log entries, not commands: the commands of
one pipeline are batched into few entries. Tests that need many entries
write one command at a time, or pipeline in small chunks (a chunk's replies
are read before the next chunk is sent, so each chunk is at least one
entry).

Real processes throughout; every wait polls with a deadline.
"""

import os
import random
import re
import shutil
import signal
import time

import pytest

import harness
from conftest import redis_raft_only
from harness import encode, scaled, wait_until


@pytest.fixture(autouse=True)
def _redis_raft_only():
    redis_raft_only()


# ---------------------------------------------------------------------------
# Helpers

PERSISTENCE_INT_FIELDS = (
    'loading', 'snapshots_taken', 'snapshots_installed', 'snapshot_in_progress',
    'last_snapshot_index', 'last_snapshot_term', 'last_snapshot_bytes',
    'last_snapshot_duration_ms', 'last_snapshot_time', 'log_entries', 'fsync_count',
    'fsync_latency_avg_us', 'fsync_latency_max_us', 'fsync_latency_last_us',
    'rdb_bgsave_in_progress', 'rdb_last_save_time')
PERSISTENCE_FIELDS = PERSISTENCE_INT_FIELDS + ('rdb_last_bgsave_status',)

TAKEN_RE = re.compile(
    r'Snapshot taken at index (\d+) \(term (\d+)\): (\d+) keys, (\d+) bytes in (\d+) ms')
INSTALLED_RE = re.compile(
    r'Snapshot installed from the leader at index (\d+) \(term (\d+)\): (\d+) keys')
LOADED_RE = re.compile(r'Snapshot loaded at start from (\S+): (\d+) keys')
# `Refusing snapshot <path>: <reason>`; the path may be followed by more
# detail before the colon, so only the path is matched.
REFUSING_RE = re.compile(r'Refusing snapshot (\S+)')
SNAPSHOT_FILE_RE = re.compile(r'^snapshot-(\d+)-(\d+)-(\d+)$')

BG_STARTED = b'+Background saving started\r\n'
BG_SCHEDULED = b'+Background saving scheduled\r\n'
BG_BUSY = b'-ERR Background save already in progress\r\n'


def cmd(node, *args, timeout=harness.REPLY_TIMEOUT):
    """One command on a fresh raw connection; the reply bytes."""
    return node.send_raw(encode(*args), timeout=timeout)


def int_reply(reply):
    assert reply.startswith(b':'), reply
    return int(reply[1:-2])


def bulk(value):
    value = harness._b(value)
    return b'$%d\r\n%s\r\n' % (len(value), value)


def array(items):
    return b'*%d\r\n' % len(items) + b''.join(bulk(i) for i in items)


def persistence(node, section='persistence'):
    """INFO `section` (default: persistence) with the persistence fields as
    ints; fails naming any contract field that is missing."""
    info = node.info(section)
    missing = [f for f in PERSISTENCE_FIELDS if f not in info]
    assert not missing, 'INFO %s lacks %s: %r' % (section, missing, info)
    for f in PERSISTENCE_INT_FIELDS:
        assert re.match(r'^-?\d+$', info[f]), (f, info[f])
        info[f] = int(info[f])
    return info


def full_info(node):
    """Plain INFO (every section): raft and persistence fields read at one
    instant, persistence fields as ints."""
    info = persistence(node, None)
    for f in ('raft_commit_index', 'raft_last_applied', 'raft_last_index', 'raft_term'):
        info[f] = int(info[f])
    return info


def snapshot_files(node):
    """[(term, index, path)] of the snapshot data files (not .meta) in the
    node's data dir, oldest first."""
    out = []
    try:
        names = os.listdir(node.dir)
    except FileNotFoundError:
        return out
    for name in names:
        m = SNAPSHOT_FILE_RE.match(name)
        if m:
            out.append((int(m.group(1)), int(m.group(2)), os.path.join(node.dir, name)))
    return sorted(out)


def newest_snapshot(node):
    files = snapshot_files(node)
    return files[-1] if files else None


def log_mark(node):
    """A mark for log_since: the size of the node's log file now."""
    try:
        return os.path.getsize(node.logfile)
    except OSError:
        return 0


def log_since(node, mark):
    """The node's log written after `mark` (from log_mark)."""
    try:
        with open(node.logfile, 'rb') as f:
            f.seek(mark)
            return f.read().decode(errors='replace')
    except OSError:
        return ''


def wait_info(node, pred, what, timeout=None):
    """Poll INFO persistence until pred(info) is true; returns that info.
    Missing fields fail at once (they will not appear by waiting)."""
    persistence(node)

    def ready():
        info = persistence(node)
        return info if pred(info) else None
    return wait_until(ready, timeout or scaled(30), what='%s: %s' % (node.name, what))


def wait_idle(node, timeout=None):
    """Wait until no snapshot is in progress; returns INFO persistence."""
    return wait_info(node, lambda i: i['snapshot_in_progress'] == 0,
                     'no snapshot in progress', timeout)


def wait_snapshot_file(node, pred, what, timeout=None):
    """Poll the node's newest snapshot file (term, index, path) until
    pred(it) is true; returns it."""
    def ready():
        newest = newest_snapshot(node)
        return newest if newest is not None and pred(newest) else None
    return wait_until(ready, timeout or scaled(10),
                      what='%s: snapshot file %s in %s' % (node.name, what, node.dir))


def sequential(node, commands, conn=None):
    """Send commands one at a time (each its own raft entry); returns the
    replies."""
    own = conn is None
    conn = conn or node.raw(timeout=scaled(30))
    try:
        return [conn.command(*args) for args in commands]
    finally:
        if own:
            conn.close()


def pipelined(conn, ops, chunk):
    """Send (args, expected reply) pairs in pipelines of `chunk` commands,
    reading each chunk's replies before sending the next; asserts every
    reply."""
    for start in range(0, len(ops), chunk):
        part = ops[start:start + chunk]
        conn.send(b''.join(encode(*args) for args, _ in part))
        for (args, want), got in zip(part, conn.read_replies(len(part))):
            assert got == want, (args, want, got)


def child_pids(pid):
    """Pids of the children of process `pid` (every thread's children)."""
    kids = set()
    try:
        tids = os.listdir('/proc/%d/task' % pid)
    except OSError:
        return []
    for tid in tids:
        try:
            with open('/proc/%d/task/%s/children' % (pid, tid)) as f:
                kids.update(int(p) for p in f.read().split())
        except OSError:
            pass
    return sorted(kids)


class Model:
    """Expected keyspace for a random workload of strings (some binary, a
    few large), counters and lists, with APPEND, LPUSH and DEL mixed in.
    op() returns one (args, expected reply) pair and updates the model."""

    def __init__(self, seed, nstrings=500, ncounters=100, nlists=50):
        self.rng = random.Random(seed)
        self.strings = {}
        self.lists = {}
        self.n = (nstrings, ncounters, nlists)
        self.i = 0

    def _value(self):
        self.i += 1
        r = self.rng.random()
        if r < 0.02:
            return b'big%d:' % self.i + b'x' * 20000
        if r < 0.1:
            return b'\x00bin\r\n%d\xff' % self.i
        return b'v%d' % self.i

    def op(self, kinds=('set', 'incr', 'rpush', 'lpush', 'append', 'del')):
        kind = self.rng.choice(kinds)
        ns, nc, nl = self.n
        if kind == 'set':
            key, value = b's:%d' % self.rng.randrange(ns), self._value()
            self.strings[key] = value
            return ('SET', key, value), b'+OK\r\n'
        if kind == 'append':
            key, value = b's:%d' % self.rng.randrange(ns), self._value()[:40]
            self.strings[key] = self.strings.get(key, b'') + value
            return ('APPEND', key, value), b':%d\r\n' % len(self.strings[key])
        if kind == 'del':
            key = b's:%d' % self.rng.randrange(ns)
            had = self.strings.pop(key, None) is not None
            return ('DEL', key), b':%d\r\n' % had
        if kind == 'incr':
            key = b'c:%d' % self.rng.randrange(nc)
            self.strings[key] = b'%d' % (int(self.strings.get(key, b'0')) + 1)
            return ('INCR', key), b':%s\r\n' % self.strings[key]
        key, value = b'l:%d' % self.rng.randrange(nl), self._value()[:60]
        items = self.lists.setdefault(key, [])
        if kind == 'rpush':
            items.append(value)
        else:
            items.insert(0, value)
        return (kind.upper(), key, value), b':%d\r\n' % len(items)

    def ops(self, count, **kwargs):
        return [self.op(**kwargs) for _ in range(count)]

    def dbsize(self):
        return len(self.strings) + len(self.lists)

    def check(self, node, readonly=False):
        """Assert that node holds exactly this keyspace (READONLY first for
        a follower's local reads)."""
        with node.raw(timeout=scaled(30)) as conn:
            if readonly:
                assert conn.command('READONLY') == b'+OK\r\n'
            assert conn.command('DBSIZE') == b':%d\r\n' % self.dbsize(), node.name
            keys = sorted(self.strings)
            for start in range(0, len(keys), 200):
                part = keys[start:start + 200]
                got = conn.command('MGET', *part)
                want = array([self.strings[k] for k in part])
                if got != want:
                    for k in part:
                        got_k = conn.command('GET', k)
                        assert got_k == bulk(self.strings[k]), (node.name, k, got_k[:80])
                    assert got == want, node.name
            lkeys = sorted(self.lists)
            conn.send(b''.join(encode('LRANGE', k, 0, -1) for k in lkeys))
            for k, got in zip(lkeys, conn.read_replies(len(lkeys))):
                assert got == array(self.lists[k]), (node.name, k, got[:200])


def stop_ok(node, what=''):
    """SIGTERM; the node must exit 0 within a bounded time."""
    status = node.stop(scaled(20))
    assert status == 0, '%s %s exited %s\n%s' % (node.name, what, status, node.output_tail())


def start_all(cluster):
    """Start every stopped node of a cluster at once, then wait for each to
    serve and for an agreed leader."""
    down = [n for n in cluster.nodes.values() if not n.is_running()]
    for n in down:
        n.spawn()
    for n in down:
        n.wait_ready(scaled(30))
    return cluster.wait_for_leader(scaled(30))


# ---------------------------------------------------------------------------
# INFO persistence


def test_info_persistence_fields_on_a_new_node(workspace):
    """Every contract field, in INFO persistence and in plain INFO, with the
    values of a node that has not snapshotted yet."""
    before = int(time.time())
    node = workspace.node()
    info = persistence(node)
    assert 'Persistence' in info['sections'], info['sections']
    plain = persistence(node, None)
    assert 'Persistence' in plain['sections'], plain['sections']
    raft = full_info(node)
    for f in ('loading', 'snapshots_taken', 'snapshots_installed', 'snapshot_in_progress',
              'last_snapshot_index', 'last_snapshot_term', 'last_snapshot_bytes',
              'last_snapshot_duration_ms', 'last_snapshot_time', 'rdb_bgsave_in_progress'):
        assert info[f] == 0, (f, info)
    assert 0 <= info['log_entries'] <= raft['raft_last_index'], (info, raft)
    assert info['fsync_count'] >= 0
    assert info['fsync_latency_max_us'] >= info['fsync_latency_avg_us'] >= 0, info
    assert info['fsync_latency_max_us'] >= info['fsync_latency_last_us'] >= 0, info
    assert info['rdb_last_bgsave_status'] == 'ok', info
    # No snapshot yet: the last save time is the process start time.
    now = time.time()
    assert before - 1 <= info['rdb_last_save_time'] <= now + 1, (before, info, now)
    lastsave = int_reply(cmd(node, 'LASTSAVE'))
    assert abs(lastsave - info['rdb_last_save_time']) <= 1, (lastsave, info)


def test_snapshots_follow_threshold_and_log_stays_bounded(workspace):
    """snapshot-threshold 100, snapshot-trailing 20, 1500 writes one at a
    time: snapshots are taken, INFO describes the newest one, the log stays
    bounded (threshold + trailing, plus what arrives while a snapshot runs:
    up to 3 thresholds here, for a slow machine) instead of growing with
    the writes, and every acknowledged write counted a durable log write."""
    threshold, trailing, nwrites = 100, 20, 1500
    node = workspace.node(options={'snapshot-threshold': threshold,
                                   'snapshot-trailing': trailing})
    start = time.time()
    mark = log_mark(node)
    first = persistence(node)
    bound = trailing + 4 * threshold
    most = 0
    with node.raw(timeout=scaled(30)) as conn:
        for i in range(nwrites):
            assert conn.command('SET', 'k%d' % (i % 300), 'v%d' % i) == b'+OK\r\n'
            if i % 25 == 24:
                entries = persistence(node)['log_entries']
                most = max(most, entries)
                assert entries <= bound, 'log_entries %d after %d writes (bound %d)' % (
                    entries, i + 1, bound)
    info = wait_idle(node)
    raft = full_info(node)
    assert info['snapshots_taken'] >= 5, info
    assert info['snapshots_installed'] == 0, info
    assert 0 < info['last_snapshot_index'] <= raft['raft_commit_index'], (info, raft)
    # The newest snapshot is recent: at most a threshold (plus what arrived
    # while it ran) behind the commit index.
    assert info['last_snapshot_index'] >= raft['raft_commit_index'] - 4 * threshold, info
    assert 1 <= info['last_snapshot_term'] <= raft['raft_term'], info
    assert info['last_snapshot_bytes'] > 0, info
    assert info['last_snapshot_duration_ms'] >= 0, info
    assert start - 1 <= info['last_snapshot_time'] <= time.time() + 1, (start, info)
    assert info['rdb_last_bgsave_status'] == 'ok', info
    assert 0 < most <= bound and info['log_entries'] <= bound, (most, info)
    # Each write was acknowledged before the next was sent: each needed a
    # durable write of its own.
    assert info['fsync_count'] - first['fsync_count'] >= nwrites, (first, info)
    assert info['fsync_latency_max_us'] >= info['fsync_latency_avg_us'], info
    assert info['fsync_latency_max_us'] >= info['fsync_latency_last_us'], info
    # The log says the same: one line per snapshot, the last one matching
    # INFO; the files on disk hold the newest one.
    taken = TAKEN_RE.findall(log_since(node, mark))
    assert len(taken) == info['snapshots_taken'], (taken, info)
    assert int(taken[-1][0]) == info['last_snapshot_index'], (taken[-1], info)
    wanted = (info['last_snapshot_term'], info['last_snapshot_index'])
    wait_snapshot_file(node, lambda f: f[:2] == wanted, 'of term/index %r' % (wanted,))
    # Nothing was lost on the way.
    assert cmd(node, 'GET', 'k%d' % ((nwrites - 1) % 300)) == bulk('v%d' % (nwrites - 1))


# ---------------------------------------------------------------------------
# CONFIG


def test_config_get_set_snapshot_options(workspace):
    """Both options read back, are runtime-settable (and take effect: a node
    started with the default threshold snapshots once it is lowered), and
    bad values are refused like other keys', leaving the value unchanged."""
    node = workspace.node()
    with node.raw() as conn:
        assert conn.command('CONFIG', 'GET', 'snapshot-threshold') == \
            array(['snapshot-threshold', '8192'])
        assert conn.command('CONFIG', 'GET', 'snapshot-trailing') == \
            array(['snapshot-trailing', '4096'])
        sequential(node, [('INCR', 'n')] * 50, conn)
        assert snapshot_files(node) == []
        for key, value in (('snapshot-threshold', '500'), ('snapshot-trailing', '50'),
                           ('snapshot-threshold', '16'), ('snapshot-trailing', '0')):
            assert conn.command('CONFIG', 'SET', key, value) == b'+OK\r\n', (key, value)
            assert conn.command('CONFIG', 'GET', key) == array([key, value])
        assert conn.command('CONFIG', 'SET', 'snapshot-threshold', '300',
                            'snapshot-trailing', '30') == b'+OK\r\n'
        assert conn.command('CONFIG', 'GET', 'snapshot-*') == array(
            ['snapshot-threshold', '300', 'snapshot-trailing', '30'])
        bad = [('snapshot-threshold', v) for v in ('15', '0', '-1', 'abc', '', '1.5',
                                                   '99999999999999999999')]
        bad += [('snapshot-trailing', v) for v in ('-1', 'abc', '', '2k')]
        for key, value in bad:
            reply = conn.command('CONFIG', 'SET', key, value)
            assert reply.startswith(b'-ERR CONFIG SET failed'), (key, value, reply)
            assert key.encode() in reply, (key, value, reply)
        # A bad pair in one CONFIG SET changes nothing.
        reply = conn.command('CONFIG', 'SET', 'snapshot-trailing', '7',
                             'snapshot-threshold', '3')
        assert reply.startswith(b'-ERR CONFIG SET failed'), reply
        assert conn.command('CONFIG', 'GET', 'snapshot-*') == array(
            ['snapshot-threshold', '300', 'snapshot-trailing', '30'])
        # The new values take effect at once.
        assert conn.command('CONFIG', 'SET', 'snapshot-threshold', '16',
                            'snapshot-trailing', '4') == b'+OK\r\n'
        sequential(node, [('INCR', 'n')] * 100, conn)
        assert conn.command('GET', 'n') == bulk('150')
    wait_snapshot_file(node, lambda f: f[1] > 60, 'past index 60 (threshold lowered to 16)')
    info = wait_idle(node)
    assert info['snapshots_taken'] >= 3, info
    # Bounded by the new values (151 entries were written in all), with
    # room for entries applied while a snapshot ran.
    assert info['log_entries'] <= 4 + 4 * 16, info


# ---------------------------------------------------------------------------
# SAVE, BGSAVE, LASTSAVE


def check_save(node, conn, start):
    """SAVE on `node` after writes: +OK, a new snapshot covering everything
    applied before it, on disk as snapshot-TERM-INDEX-*; LASTSAVE now.
    Returns INFO afterwards."""
    before = full_info(node)
    assert conn.command('SAVE', timeout=scaled(30)) == b'+OK\r\n'
    after = full_info(node)
    assert after['snapshots_taken'] == before['snapshots_taken'] + 1, (before, after)
    assert after['last_snapshot_index'] >= before['raft_last_applied'], (before, after)
    assert after['last_snapshot_index'] <= after['raft_last_applied'], after
    assert after['last_snapshot_term'] >= 1 and after['last_snapshot_bytes'] > 0, after
    assert after['snapshot_in_progress'] == 0 and after['rdb_bgsave_in_progress'] == 0
    now = time.time()
    assert start - 1 <= after['last_snapshot_time'] <= now + 1, (start, after)
    lastsave = int_reply(conn.command('LASTSAVE'))
    assert start - 1 <= lastsave <= now + 1, (start, lastsave, now)
    assert abs(lastsave - after['last_snapshot_time']) <= 1, (lastsave, after)
    assert abs(after['rdb_last_save_time'] - lastsave) <= 1, (lastsave, after)
    wanted = (after['last_snapshot_term'], after['last_snapshot_index'])
    files = wait_until(lambda: [f for f in snapshot_files(node) if f[:2] == wanted],
                       scaled(10), what='file snapshot-%d-%d-* in %s' % (wanted + (node.dir,)))
    assert os.path.getsize(files[0][2]) > 0
    assert os.path.exists(files[0][2] + '.meta'), files
    return after


def test_save_bgsave_lastsave_single_node(workspace):
    """SAVE after writes: +OK, one new snapshot covering everything applied,
    on disk, LASTSAVE now; SAVE with nothing new: +OK, no snapshot; BGSAVE
    and BGSAVE SCHEDULE (none running) start one that covers the writes."""
    start = time.time()
    node = workspace.node()
    with node.raw(timeout=scaled(30)) as conn:
        lastsave = int_reply(conn.command('LASTSAVE'))
        assert start - 1 <= lastsave <= time.time() + 1, (start, lastsave)
        sequential(node, [('SET', 'k%d' % i, 'v%d' % i) for i in range(50)], conn)
        info = check_save(node, conn, start)
        # Nothing changed since: +OK at once, no new snapshot.
        assert conn.command('SAVE') == b'+OK\r\n'
        again = persistence(node)
        assert again['snapshots_taken'] == info['snapshots_taken'], (info, again)
        assert again['last_snapshot_index'] == info['last_snapshot_index'], (info, again)
        # BGSAVE after more writes.
        sequential(node, [('RPUSH', 'l', i) for i in range(20)], conn)
        applied = full_info(node)['raft_last_applied']
        assert conn.command('BGSAVE') == BG_STARTED
        taken = info['snapshots_taken']
        info = wait_info(node, lambda i: i['snapshots_taken'] > taken and
                         i['snapshot_in_progress'] == 0, 'the BGSAVE snapshot')
        assert info['last_snapshot_index'] >= applied, (applied, info)
        assert info['rdb_bgsave_in_progress'] == 0 and info['rdb_last_bgsave_status'] == 'ok'
        # BGSAVE SCHEDULE with none running starts one.
        conn.command('INCR', 'n')
        applied = full_info(node)['raft_last_applied']
        assert conn.command('BGSAVE', 'SCHEDULE') == BG_STARTED
        wait_info(node, lambda i: i['last_snapshot_index'] >= applied and
                  i['snapshot_in_progress'] == 0, 'the BGSAVE SCHEDULE snapshot')
        # Arity and syntax like Redis.
        assert conn.command('LASTSAVE', 'x').startswith(b'-ERR wrong number of arguments')
        assert conn.command('BGSAVE', 'NOW').startswith(b'-ERR')
        # The data is unharmed.
        assert conn.command('GET', 'k49') == bulk('v49')
        assert conn.command('LLEN', 'l') == b':20\r\n'


def catch_snapshot_child(node, conn, attempts=5):
    """Start a BGSAVE and SIGSTOP its fork()ed child, so that a snapshot stays
    in progress. Returns the child's pid (the caller SIGCONTs it). Retries
    (after a write, so there is something new to save) if the child was done
    before it was caught."""
    for attempt in range(attempts):
        assert conn.command('SET', 'attempt', attempt) == b'+OK\r\n'
        taken = persistence(node)['snapshots_taken']
        assert conn.command('BGSAVE') == BG_STARTED
        deadline = time.monotonic() + scaled(10)
        kids, polls = [], 0
        while not kids and time.monotonic() < deadline:
            kids = child_pids(node.pid)
            polls += 1
            if not kids and polls % 200 == 0 and \
                    persistence(node)['snapshots_taken'] > taken:
                break  # done before it was seen
        if not kids:
            continue
        for pid in kids:
            os.kill(pid, signal.SIGSTOP)
        info = persistence(node)
        if info['snapshot_in_progress'] == 1 and len(kids) == 1:
            return kids[0]
        for pid in kids:
            os.kill(pid, signal.SIGCONT)
        wait_info(node, lambda i: i['snapshots_taken'] > taken, 'the BGSAVE snapshot to end')
    pytest.fail('could not catch a snapshot child of pid %d in progress in %d attempts'
                % (node.pid, attempts))


def fill_mset(conn, count, start=0, window=50):
    """`count` keys key:NNNNNNN -> value_of(N) through pipelined MSETs of
    1000 keys each (`window` MSETs per round trip)."""
    def mset(first, n):
        body = b''.join([b'$11\r\nkey:%07d\r\n$11\r\n%s\r\n' % (i, value_of(i))
                         for i in range(first, first + n)])
        return b'*%d\r\n$4\r\nMSET\r\n' % (1 + 2 * n) + body

    end = start + count
    for w in range(start, end, 1000 * window):
        reqs = [mset(s, min(1000, end - s)) for s in range(w, min(end, w + 1000 * window), 1000)]
        conn.send(b''.join(reqs))
        got = conn.read_exact(5 * len(reqs))
        assert got == b'+OK\r\n' * len(reqs), got[:200]


def value_of(i):
    return b'v%010d' % ((i * 2654435761) % (1 << 32))


def test_bgsave_while_a_snapshot_runs(workspace):
    """With a snapshot in progress (its child held with SIGSTOP): the node
    keeps serving; BGSAVE and SAVE answer 'already in progress', BGSAVE
    SCHEDULE is scheduled; INFO says in progress. After SIGCONT every
    snapshot completes."""
    node = workspace.node()
    nkeys = 100000 if harness.SANITIZED else 200000
    with node.raw(timeout=scaled(60)) as conn:
        fill_mset(conn, nkeys)
        taken = persistence(node)['snapshots_taken']
        child = catch_snapshot_child(node, conn)
        try:
            info = persistence(node)
            assert info['snapshot_in_progress'] == 1, info
            assert info['rdb_bgsave_in_progress'] == 1, info
            # The parent keeps serving reads and writes.
            assert conn.command('SET', 'during', 'yes') == b'+OK\r\n'
            assert conn.command('GET', 'during') == bulk('yes')
            assert conn.command('GET', 'key:0000007') == bulk(value_of(7))
            assert conn.command('BGSAVE') == BG_BUSY
            assert conn.command('SAVE') == BG_BUSY
            assert conn.command('BGSAVE', 'SCHEDULE') == BG_SCHEDULED
            assert conn.command('BGSAVE', 'SCHEDULE') == BG_SCHEDULED
            during = full_info(node)['raft_last_applied']
            assert conn.command('DBSIZE') == b':%d\r\n' % (nkeys + 2)
        finally:
            os.kill(child, signal.SIGCONT)
        info = wait_info(node, lambda i: i['snapshots_taken'] > taken and
                         i['snapshot_in_progress'] == 0 and
                         i['last_snapshot_index'] >= during,
                         'the snapshots to finish after SIGCONT', scaled(60))
        assert info['rdb_bgsave_in_progress'] == 0, info
        assert info['rdb_last_bgsave_status'] == 'ok', info
        assert conn.command('SAVE', timeout=scaled(60)) == b'+OK\r\n'
    # The node restarts from what it saved.
    stop_ok(node)
    mark = log_mark(node)
    node.start(timeout=scaled(60))
    assert LOADED_RE.search(log_since(node, mark)), log_since(node, mark)[-2000:]
    assert cmd(node, 'DBSIZE') == b':%d\r\n' % (nkeys + 2)
    assert cmd(node, 'GET', 'during') == bulk('yes')


def wait_child_gone(pid, timeout):
    """Wait until process `pid` has exited (gone, or a zombie)."""
    def gone():
        try:
            with open('/proc/%d/stat' % pid) as f:
                return f.read().rsplit(')', 1)[1].split()[0] == 'Z'
        except OSError:
            return True
    wait_until(gone, timeout, what='snapshot child %d to exit' % pid)


def test_bgsave_schedule_covers_writes_made_while_one_is_written(workspace):
    """Whatever phase the running snapshot is in when BGSAVE SCHEDULE is
    answered, a snapshot covering everything applied before the answer
    follows. Each round waits until the fork()ed child has exited (its
    image is cut, the snapshot is being handed to libraft and written),
    then writes and sends BGSAVE SCHEDULE."""
    node = workspace.node()
    nkeys = 100000 if harness.SANITIZED else 300000
    with node.raw(timeout=scaled(60)) as conn:
        fill_mset(conn, nkeys)
        scheduled = 0
        for attempt in range(5):
            assert conn.command('SET', 'round', attempt) == b'+OK\r\n'
            assert conn.command('BGSAVE') == BG_STARTED
            deadline = time.monotonic() + scaled(10)
            seen = False
            while time.monotonic() < deadline:
                if child_pids(node.pid):
                    seen = True
                elif seen or persistence(node)['snapshot_in_progress'] == 0:
                    break
            assert conn.command('SET', 'after-cut', attempt) == b'+OK\r\n'
            reply = conn.command('BGSAVE', 'SCHEDULE')
            assert reply in (BG_SCHEDULED, BG_STARTED), reply
            scheduled += reply == BG_SCHEDULED
            applied = full_info(node)['raft_last_applied']
            info = wait_info(node, lambda i: i['last_snapshot_index'] >= applied and
                             i['snapshot_in_progress'] == 0,
                             'a snapshot covering index %d (BGSAVE SCHEDULE answered %r)'
                             % (applied, reply), scaled(10))
            assert info['rdb_last_bgsave_status'] == 'ok', info
        # The rounds exercised the case (not only snapshots already done).
        assert scheduled >= 1, 'BGSAVE SCHEDULE never found a snapshot running'


def test_sigterm_during_a_snapshot(workspace):
    """SIGTERM while a snapshot's child is held (SIGSTOP): the node exits 0
    at once, the child does not outlive it, and the node restarts with
    every acknowledged write."""
    node = workspace.node()
    nkeys = 50000 if harness.SANITIZED else 100000
    with node.raw(timeout=scaled(60)) as conn:
        fill_mset(conn, nkeys)
        child = catch_snapshot_child(node, conn)
        assert conn.command('SET', 'during', 'yes') == b'+OK\r\n'
    try:
        stop_ok(node, 'with a snapshot child stopped')
    finally:
        try:
            os.kill(child, signal.SIGCONT)
        except ProcessLookupError:
            pass
    wait_child_gone(child, scaled(10))
    node.start(timeout=scaled(60))
    assert cmd(node, 'DBSIZE') == b':%d\r\n' % (nkeys + 2)
    assert cmd(node, 'GET', 'during') == bulk('yes')
    assert cmd(node, 'GET', 'key:%07d' % (nkeys - 1)) == bulk(value_of(nkeys - 1))


def test_save_bgsave_lastsave_on_a_follower(new_cluster):
    """SAVE, BGSAVE and LASTSAVE are local to the node they are sent to: a
    follower snapshots its own state, the leader does not."""
    start = time.time()
    cluster = new_cluster(3)
    leader = cluster.wait_for_leader()
    follower = cluster.followers()[0]
    sequential(leader, [('SET', 'k%d' % i, 'v%d' % i) for i in range(50)])
    cluster.wait_for_applied()
    leader_before = persistence(leader)
    with follower.raw(timeout=scaled(30)) as conn:
        lastsave = int_reply(conn.command('LASTSAVE'))
        assert start - 1 <= lastsave <= time.time() + 1, (start, lastsave)
        commit = int(leader.raft_info()['raft_commit_index'])
        info = check_save(follower, conn, start)
        assert info['last_snapshot_index'] >= commit, (commit, info)
        sequential(leader, [('RPUSH', 'l', i) for i in range(20)])
        cluster.wait_for_applied(nodes=[follower])
        applied = full_info(follower)['raft_last_applied']
        assert conn.command('BGSAVE') == BG_STARTED
        wait_info(follower, lambda i: i['last_snapshot_index'] >= applied and
                  i['snapshot_in_progress'] == 0, 'the follower BGSAVE snapshot')
        assert persistence(follower)['snapshots_taken'] == info['snapshots_taken'] + 1
        assert conn.command('READONLY') == b'+OK\r\n'
        assert conn.command('LLEN', 'l') == b':20\r\n'
    leader_after = persistence(leader)
    assert leader_after['snapshots_taken'] == leader_before['snapshots_taken'], (
        leader_before, leader_after)
    assert leader_after['last_snapshot_index'] == leader_before['last_snapshot_index']


# ---------------------------------------------------------------------------
# Restart from a snapshot


def write_model(node, model, nsequential, npipelined, chunk=50):
    """Write through node: nsequential commands one at a time, then
    npipelined commands in pipelines of `chunk`."""
    with node.raw(timeout=scaled(30)) as conn:
        for args, want in model.ops(nsequential):
            got = conn.command(*args)
            assert got == want, (args, want, got)
        pipelined(conn, model.ops(npipelined), chunk)


def check_loaded(node, mark, files_before):
    """The log since mark says a snapshot was loaded at start, naming one of
    the snapshot files the node had when it stopped. Returns its key count."""
    text = log_since(node, mark)
    m = LOADED_RE.search(text)
    assert m, '%s: no "Snapshot loaded at start from" line:\n%s' % (node.name, text[-2000:])
    names = [os.path.basename(f[2]) for f in files_before]
    assert os.path.basename(m.group(1)) in names, (m.group(0), names)
    return int(m.group(2))


def test_single_node_restarts_from_snapshots(workspace):
    """Data written past several snapshots (threshold 100) is restored
    exactly after SIGTERM, and again after SIGKILL."""
    node = workspace.node(options={'snapshot-threshold': 100, 'snapshot-trailing': 20})
    model = Model(seed=4)
    write_model(node, model, nsequential=450, npipelined=10000)
    model.check(node)
    newest = wait_snapshot_file(node, lambda f: f[1] > 300, 'past index 300')
    assert len(TAKEN_RE.findall(node.log_text())) >= 3
    for how in ('sigterm', 'sigkill'):
        wait_idle(node)
        files = snapshot_files(node)
        if how == 'sigterm':
            stop_ok(node)
        else:
            node.kill()
        mark = log_mark(node)
        node.start()
        check_loaded(node, mark, files)
        info = persistence(node)
        assert info['last_snapshot_index'] >= newest[1], (newest, info)
        assert info['snapshots_installed'] == 0, info
        model.check(node)
        # It keeps working: more writes, more snapshots.
        write_model(node, model, nsequential=150, npipelined=0)
        model.check(node)


def test_cluster_restarts_from_snapshots(new_cluster):
    """A 3-node cluster, every node stopped (SIGTERM) and started again:
    each loads its snapshot, and every node serves the exact data."""
    cluster = new_cluster(3, {'snapshot-threshold': 100, 'snapshot-trailing': 20})
    leader = cluster.wait_for_leader()
    model = Model(seed=44)
    write_model(leader, model, nsequential=350, npipelined=5000)
    cluster.wait_for_applied()
    for n in cluster.nodes.values():
        wait_snapshot_file(n, lambda f: f[1] > 200, 'past index 200')
    for n in cluster.nodes.values():
        wait_idle(n)
    files = {i: snapshot_files(n) for i, n in cluster.nodes.items()}
    for n in sorted(cluster.nodes.values(), key=lambda n: n is leader):
        stop_ok(n, '(whole cluster stop)')
    marks = {i: log_mark(n) for i, n in cluster.nodes.items()}
    leader = start_all(cluster)
    model.check(leader)
    cluster.wait_for_applied()
    for i, n in cluster.nodes.items():
        check_loaded(n, marks[i], files[i])
        if n is not leader:
            model.check(n, readonly=True)
    args, want = model.op()
    assert cmd(leader, *args) == want


# ---------------------------------------------------------------------------
# A lagging follower


def test_lagging_follower_gets_snapshot_from_leader(new_cluster):
    """A follower SIGKILLed while 50,000 commands go through the leader
    comes back behind the leader's compacted log: the leader sends it a
    snapshot, and it reaches the leader's state.

    The threshold is 100 entries (not 1000): pipelines of 100 commands
    make at least 500 entries, so the leader compacts its log several times
    past the dead follower's last index."""
    threshold, trailing = 100, 20
    cluster = new_cluster(3, {'snapshot-threshold': threshold,
                              'snapshot-trailing': trailing})
    leader = cluster.wait_for_leader()
    follower = cluster.followers()[0]
    model = Model(seed=5, nstrings=5000, ncounters=200, nlists=100)
    write_model(leader, model, nsequential=20, npipelined=0)
    cluster.wait_for_applied()
    behind = int(follower.raft_info()['raft_last_index'])
    follower.kill()
    start = time.monotonic()
    with leader.raw(timeout=scaled(30)) as conn:
        pipelined(conn, model.ops(50000, kinds=('set', 'incr', 'rpush')), 100)
    print('50000 pipelined commands through the leader in %.2fs' % (time.monotonic() - start))
    # The leader compacted its log past what the follower has.
    wait_snapshot_file(leader, lambda f: f[1] - trailing > behind + 1,
                       'with its log compacted past index %d' % behind)
    mark = log_mark(follower)
    follower.start()
    cluster.wait_for_applied(nodes=[follower], timeout=scaled(60))
    model.check(follower, readonly=True)
    model.check(leader)
    text = log_since(follower, mark)
    m = INSTALLED_RE.search(text)
    assert m, 'no "Snapshot installed from the leader" line:\n' + text[-3000:]
    assert int(m.group(1)) > behind, m.group(0)
    info = persistence(follower)
    assert info['snapshots_installed'] >= 1, info
    assert info['last_snapshot_index'] >= int(m.group(1)), (m.group(0), info)
    # It serves and takes writes through the proxy afterwards.
    args, want = model.op()
    assert cmd(follower, *args) == want
    model.check(leader)


# ---------------------------------------------------------------------------
# Corrupt snapshot files


def corrupt(path, how):
    """Damage a snapshot data file in place; returns its original bytes."""
    with open(path, 'rb') as f:
        data = f.read()
    assert len(data) > 64, len(data)
    if how == 'truncate-half':
        bad = data[:len(data) // 2]
    else:
        pos = {'flip-first': 0, 'flip-middle': len(data) // 2,
               'flip-last': len(data) - 1}[how]
        bad = data[:pos] + bytes([data[pos] ^ 0x20]) + data[pos + 1:]
    with open(path, 'wb') as f:
        f.write(bad)
    return data


def expect_refused(node, path):
    """Starting node must fail: exit status 1 and `Refusing snapshot <path>`
    in its log."""
    mark = log_mark(node)
    node.spawn()
    status = node.wait_exit(scaled(30))
    text = log_since(node, mark) + node.stderr_text()[-3000:]
    assert status == 1, 'exit status %s\n%s' % (status, text[-3000:])
    m = REFUSING_RE.search(text)
    assert m, 'no "Refusing snapshot" line:\n' + text[-3000:]
    named = m.group(1).rstrip(':')
    assert os.path.basename(named) == os.path.basename(path), (m.group(0), path)


@pytest.mark.parametrize('how', ['flip-middle', 'flip-first', 'flip-last', 'truncate-half'])
def test_corrupt_snapshot_refused(how, workspace):
    """A damaged snapshot file (not .meta) stops the node from starting;
    put back intact, the node starts with its data."""
    node = workspace.node()
    model = Model(seed=6)
    write_model(node, model, nsequential=100, npipelined=3000)
    assert cmd(node, 'SAVE', timeout=scaled(30)) == b'+OK\r\n'
    stop_ok(node)
    _, _, path = newest_snapshot(node)
    original = corrupt(path, how)
    expect_refused(node, path)
    with open(path, 'wb') as f:
        f.write(original)
    mark = log_mark(node)
    node.start()
    check_loaded(node, mark, [(0, 0, path)])
    model.check(node)


def test_corrupt_follower_snapshot_then_wiped_dir_catches_up(new_cluster):
    """A follower whose snapshot is corrupt refuses to start; with its dir
    wiped it starts with the same node id and cluster-nodes and catches up
    from the leader by a snapshot install."""
    cluster = new_cluster(3, {'snapshot-threshold': 100, 'snapshot-trailing': 20})
    leader = cluster.wait_for_leader()
    follower = cluster.followers()[0]
    model = Model(seed=7)
    write_model(leader, model, nsequential=300, npipelined=5000)
    cluster.wait_for_applied()
    wait_idle(follower)  # SAVE during an automatic snapshot is refused
    assert cmd(follower, 'SAVE', timeout=scaled(30)) == b'+OK\r\n'
    stop_ok(follower)
    _, _, path = newest_snapshot(follower)
    corrupt(path, 'flip-middle')
    expect_refused(follower, path)
    # The rest of the cluster serves meanwhile.
    write_model(leader, model, nsequential=150, npipelined=0)
    shutil.rmtree(follower.dir)
    mark = log_mark(follower)
    follower.start()
    cluster.wait_for_leader(scaled(30))
    cluster.wait_for_applied(nodes=[follower], timeout=scaled(60))
    model.check(follower, readonly=True)
    text = log_since(follower, mark)
    assert INSTALLED_RE.search(text), text[-3000:]
    assert persistence(follower)['snapshots_installed'] >= 1
    args, want = model.op()
    assert cmd(follower, *args) == want


# ---------------------------------------------------------------------------
# Many keys


def test_restart_with_many_keys(workspace):
    """N keys (1,000,000; 100,000 in a sanitized build) written through
    pipelined MSETs, SAVEd, restored after a restart; prints the restart
    time (spawn to first PONG)."""
    n = 100000 if harness.SANITIZED else 1000000
    node = workspace.node()
    start = time.monotonic()
    with node.raw(timeout=scaled(60)) as conn:
        fill_mset(conn, n)
        wrote = time.monotonic() - start
        assert conn.command('DBSIZE') == b':%d\r\n' % n
        t = time.monotonic()
        assert conn.command('SAVE', timeout=scaled(120)) == b'+OK\r\n'
        saved = time.monotonic() - t
    info = persistence(node)
    # Even compressed, a snapshot needs the 32 random bits of each value.
    assert info['last_snapshot_bytes'] > n * 4, info
    stop_ok(node)
    files = snapshot_files(node)
    mark = log_mark(node)
    t = time.monotonic()
    node.spawn()
    node.wait_ready(scaled(120))
    restart = time.monotonic() - t
    print('\n%d keys: written in %.2fs, SAVE %.2fs, snapshot %d bytes, '
          'restart to first PONG %.2fs' % (n, wrote, saved, info['last_snapshot_bytes'],
                                           restart))
    assert check_loaded(node, mark, files) == n
    assert persistence(node)['last_snapshot_index'] == info['last_snapshot_index']
    rng = random.Random(8)
    sample = rng.sample(range(n), 1000)
    with node.raw(timeout=scaled(60)) as conn:
        assert conn.command('DBSIZE') == b':%d\r\n' % n
        got = conn.command('MGET', *[b'key:%07d' % i for i in sample])
        assert got == array([value_of(i) for i in sample])
        assert conn.command('GET', 'key:%07d' % (n - 1)) == bulk(value_of(n - 1))
        assert conn.command('EXISTS', 'key:%07d' % n) == b':0\r\n'
        assert conn.command('SET', 'after', 'restart') == b'+OK\r\n'
        assert conn.command('DBSIZE') == b':%d\r\n' % (n + 1)
