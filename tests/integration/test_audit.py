"""The commit log (`commit-log PATH`): every committed write command appended
to a file in log order, one line per command, `<index> <term> <args...>`
with the arguments quoted as redis-cli does; reads are not logged.

Checked here: the file holds exactly the acknowledged writes, in the order
they were acknowledged, with the raft index and term of the entry that
carried them, and is the same on every node; a restart (SIGTERM or SIGKILL,
from a snapshot or not) never writes an entry twice and appends after what
the file has; a follower that catches up from a snapshot says so in a
comment; killing the leader under load leaves every acknowledged write in
the survivors' files exactly once; an audit standby (utils/audit: a
non-voting member that joins with --commit-log) writes the same file.
"""

import os
import re
import shutil
import subprocess
import threading
import time

import pytest
import redis

import harness
from conftest import redis_raft_only
from harness import REPO, scaled, wait_until

AUDIT = os.path.join(REPO, 'utils', 'audit')
LOG_NAME = 'commit.log'
OPTIONS = {'commit-log': LOG_NAME}  # relative: each node's working directory
SNAPSHOT_COMMENT_RE = re.compile(
    r'^# snapshot (installed|loaded at start) at index (\d+): '
    r'commands up to it are not in this file$')


@pytest.fixture(autouse=True)
def _redis_raft_only():
    redis_raft_only()


# ---------------------------------------------------------------------------
# Reading commit logs

_ESCAPES = {ord('n'): 10, ord('r'): 13, ord('t'): 9, ord('a'): 7, ord('b'): 8,
            ord('\\'): 92, ord('"'): 34}


def unrepr(text):
    """The arguments of a line's command part: "..." strings separated by
    spaces, with sdscatrepr's escapes (\\n \\r \\t \\a \\b \\\\ \\" \\xHH)."""
    args, i = [], 0
    while i < len(text):
        if text[i] == ord(' '):
            i += 1
            continue
        assert text[i] == ord('"'), text
        i += 1
        out = bytearray()
        while text[i] != ord('"'):
            c = text[i]
            if c == ord('\\'):
                e = text[i + 1]
                if e == ord('x'):
                    out.append(int(text[i + 2:i + 4], 16))
                    i += 4
                    continue
                out.append(_ESCAPES[e])
                i += 2
                continue
            out.append(c)
            i += 1
        args.append(bytes(out))
        i += 1
    return args


class CommitLog:
    """A parsed commit log: `lines`, the command lines as (index, term,
    [args as bytes]), and `comments`, (position in lines, text)."""

    def __init__(self, data):
        self.data = data
        self.lines, self.comments = [], []
        assert data == b'' or data.endswith(b'\n'), data[-200:]
        for raw in data.split(b'\n')[:-1]:
            if raw.startswith(b'#'):
                self.comments.append((len(self.lines), raw.decode()))
                continue
            index, term, rest = raw.split(b' ', 2)
            self.lines.append((int(index), int(term), unrepr(rest)))

    @classmethod
    def of(cls, node):
        return cls.read(commit_log_path(node))

    @classmethod
    def read(cls, path):
        try:
            with open(path, 'rb') as f:
                return cls(f.read())
        except FileNotFoundError:
            return cls(b'')

    def commands(self):
        return [args for _, _, args in self.lines]

    def last_index(self):
        return self.lines[-1][0] if self.lines else 0

    def check_order(self):
        """Indexes never decrease (one entry's commands share its index and
        are contiguous), terms never decrease, every term is set."""
        prev_index = prev_term = 0
        for index, term, _ in self.lines:
            assert index >= prev_index, (index, prev_index)
            assert term >= prev_term, (term, prev_term)
            assert term >= 1, (index, term)
            prev_index, prev_term = index, term


def commit_log_path(node):
    return os.path.join(node.workdir, LOG_NAME)


def b(*args):
    return [harness._b(a) for a in args]


def decode_exec(args):
    """RAFT.EXEC's arguments -> the list of commands of the transaction
    (multi.h: RAFT.EXEC <nwatch> (<key> <stamp>)*nwatch (<argc> <arg>*)*)."""
    assert args[0].upper() == b'RAFT.EXEC', args
    nwatch = int(args[1])
    i = 2 + 2 * nwatch
    cmds = []
    while i < len(args):
        argc = int(args[i])
        cmds.append(args[i + 1:i + 1 + argc])
        i += 1 + argc
    return cmds


def flatten(commands):
    """Logged commands with each RAFT.EXEC replaced by ('EXEC', [cmds])."""
    out = []
    for args in commands:
        if args[0].upper() == b'RAFT.EXEC':
            out.append((b'EXEC', decode_exec(args)))
        else:
            out.append(args)
    return out


def wait_all_applied(cluster, nodes=None, timeout=scaled(60)):
    """Every node in `nodes` (default: the up ones) applied the leader's
    commit index: their commit logs have everything committed so far."""
    leader = cluster.wait_for_leader(timeout)
    index = int(leader.raft_info()['raft_commit_index'])
    cluster.wait_for_applied(index, nodes, timeout)
    return index


def assert_same_files(nodes):
    """Every node's commit log has the same bytes; returns the parsed log."""
    logs = {n.node_id: CommitLog.of(n) for n in nodes}
    first = logs[nodes[0].node_id]
    for node_id, log in logs.items():
        assert log.data == first.data, 'node %d differs from node %d:\n%s' % (
            node_id, nodes[0].node_id, diff_hint(first, log))
    first.check_order()
    return first


def assert_follows(got, full):
    """got (a node's commit log) has exactly full's lines (a node's that
    saw everything), except those a snapshot comment says are missing: at
    each comment, full's lines up to its index are passed over."""
    skips = {}
    for pos, text in got.comments:
        m = SNAPSHOT_COMMENT_RE.match(text)
        assert m, 'not a snapshot comment: %r' % text
        skips.setdefault(pos, []).append(int(m.group(2)))
    i = 0
    for pos in range(len(got.lines) + 1):
        for snap in skips.get(pos, []):
            while i < len(full.lines) and full.lines[i][0] <= snap:
                i += 1
        if pos < len(got.lines):
            assert i < len(full.lines) and got.lines[pos] == full.lines[i], (
                'line %d: %r, expected %r' % (
                    pos, got.lines[pos], full.lines[i] if i < len(full.lines) else None))
            i += 1
    assert i == len(full.lines), 'lines missing from index %d' % full.lines[i][0]


def diff_hint(a, b_):
    for i, (x, y) in enumerate(zip(a.lines, b_.lines)):
        if x != y:
            return 'line %d: %r != %r' % (i, x, y)
    return 'lengths %d and %d; comments %r / %r' % (
        len(a.lines), len(b_.lines), a.comments, b_.comments)


def last_snapshot_index(node):
    """The index of the node's last snapshot that libraft finished (its log
    is compacted by then: a snapshot file appears before that)."""
    return int(node.info('persistence')['last_snapshot_index'])


# ---------------------------------------------------------------------------
# (a) the file holds the acknowledged writes, in order, on every node

def test_commit_log_is_the_acknowledged_writes_in_order(new_cluster):
    """Three clients (on the leader, and on both followers: proxied) take
    turns, one acknowledged command at a time: SET, INCR, LPUSH, HSET,
    APPEND, DEL, EXPIRE, binary arguments, MULTI/EXEC, and reads in
    between. Every node's file is the same, has every write once in the
    order acknowledged (reads absent), indexes of successive commands
    increase, and the last line's index is the raft index of the entry
    (INFO's commit index once everything is applied)."""
    cluster = new_cluster(3, OPTIONS)
    leader = cluster.wait_for_leader()
    followers = cluster.followers()
    clients = {'a': leader.client(), 'b': followers[0].client(),
               'c': followers[1].client()}
    binary = b'\x00\xff "quoted" \\ \r\n\t end'
    script = []
    for round_ in range(5):
        for p in 'abc':
            script += [
                (p, ('SET', '%s:k' % p, 'v%d' % round_)),
                (p, ('GET', '%s:k' % p)),
                (p, ('INCR', '%s:n' % p)),
                (p, ('LPUSH', '%s:l' % p, 'x%d' % round_, 'y')),
                (p, ('LRANGE', '%s:l' % p, 0, -1)),
                (p, ('HSET', '%s:h' % p, 'f', round_)),
                (p, ('APPEND', '%s:s' % p, binary)),
                (p, ('EXISTS', '%s:k' % p)),
                (p, ('MULTI', [('INCR', '%s:n' % p), ('SET', '%s:t' % p, round_),
                               ('GET', '%s:t' % p)])),
                (p, ('EXPIRE', '%s:k' % p, 100000)),
                (p, ('DEL', '%s:gone' % p)),
            ]
    reads = {b'GET', b'LRANGE', b'EXISTS'}
    want = []
    for p, args in script:
        r = clients[p]
        if args[0] == 'MULTI':
            pipe = r.pipeline(transaction=True)
            for cmd in args[1]:
                pipe.execute_command(*cmd)
            pipe.execute()
            want.append((b'EXEC', [b(*cmd) for cmd in args[1]]))
        else:
            r.execute_command(*args)  # acknowledged when it returns
            if harness._b(args[0]) not in reads:
                want.append(b(*args))
    wait_all_applied(cluster)
    log = assert_same_files(list(cluster.nodes.values()))
    assert log.comments == []
    got = flatten(log.commands())
    assert got == want
    assert not any(args[0].upper() in reads for args in log.commands())
    # One command at a time, each acknowledged before the next was sent:
    # each went in an entry of its own, in a later one than the previous.
    indexes = [index for index, _, _ in log.lines]
    assert indexes == sorted(set(indexes)), indexes
    term = int(leader.raft_info()['raft_term'])
    assert {t for _, t, _ in log.lines} <= set(range(1, term + 1))

    # The index is the raft index: with nothing else going on, the entry of
    # the last write is the last one committed and applied.
    clients['b'].execute_command('SET', 'last', 'write')
    index = wait_all_applied(cluster)
    for n in cluster.nodes.values():
        assert int(n.raft_info()['raft_last_applied']) == index
    log = assert_same_files(list(cluster.nodes.values()))
    assert log.lines[-1] == (index, term, b('SET', 'last', 'write'))


def test_pipelined_commands_share_their_entry(new_cluster):
    """A pipeline's commands go in one entry: consecutive lines with one
    index, in the pipeline's order; reads among them are left out."""
    cluster = new_cluster(3, OPTIONS)
    leader = cluster.wait_for_leader()
    cmds = []
    for i in range(50):
        cmds.append(('RPUSH', 'list', i))
        cmds.append(('GET', 'list%d' % i))
    with leader.raw() as conn:
        conn.send(b''.join(harness.encode(*c) for c in cmds))
        conn.read_replies(len(cmds))
    wait_all_applied(cluster)
    log = assert_same_files(list(cluster.nodes.values()))
    assert log.commands() == [b(*c) for c in cmds if c[0] != 'GET']
    # Fewer entries than commands: the pipeline was batched.
    assert len({index for index, _, _ in log.lines}) < 50


# ---------------------------------------------------------------------------
# (b) restarts: nothing twice, new writes appended

def write_sequence(node, prefix, count):
    """count acknowledged SETs, one at a time; returns their argument
    lists."""
    r = node.client()
    out = []
    for i in range(count):
        args = ('SET', '%s:%d' % (prefix, i), i)
        r.execute_command(*args)
        out.append(b(*args))
    return out


@pytest.mark.parametrize('how', ['sigterm', 'sigkill'])
def test_restart_writes_nothing_twice(how, new_cluster):
    """Each node in turn (the leader too) is stopped (SIGTERM or SIGKILL)
    and started again, one of them after a SAVE so it starts from a
    snapshot: it applies the entries after its snapshot again, and its
    file still has every write once, the same as the others; writes after
    the restarts are appended to every file."""
    cluster = new_cluster(3, OPTIONS)
    written = write_sequence(cluster.wait_for_leader(), 'w0', 30)
    wait_all_applied(cluster)
    assert_same_files(list(cluster.nodes.values()))
    for round_, node_id in enumerate((2, 3, 1), 1):
        node = cluster.node(node_id)
        if node_id == 3:
            assert node.client().execute_command('SAVE') in (b'OK', 'OK', True)
        before = CommitLog.of(node)
        mark = len(node.log_text())
        if how == 'sigkill':
            node.kill()
        else:
            node.stop()
        node.start()
        wait_until(lambda: 'Commit log %s opened' % LOG_NAME in node.log_text()[mark:],
                   what='the commit log opened again')
        text = node.log_text()[mark:]
        assert 'it ends at index %d' % before.last_index() in text, text[-2000:]
        written += write_sequence(cluster.wait_for_leader(), 'w%d' % round_, 10)
        wait_all_applied(cluster)
        log = assert_same_files(list(cluster.nodes.values()))
        assert log.comments == []
        assert log.commands() == written


def test_snapshot_install_leaves_a_comment(new_cluster):
    """A follower down while the leader compacts its log past it, and whose
    raft data is lost meanwhile (its dir wiped, as after a disk
    replacement; its commit log is elsewhere and kept), catches up from a
    snapshot: its file then has a comment at that point (the entries up to
    the snapshot's index are not in it), and the lines on each side are the
    other nodes' lines for those indexes.

    (The wipe makes the install certain: a follower that kept its log can
    still receive entries the leader queued for it just before compacting,
    and then catch up from the log, with no gap and no comment.)"""
    threshold, trailing = 16, 2
    cluster = new_cluster(3, dict(OPTIONS, **{'snapshot-threshold': threshold,
                                              'snapshot-trailing': trailing}))
    leader = cluster.wait_for_leader()
    lagger = cluster.followers()[0]
    write_sequence(leader, 'before', 10)
    wait_all_applied(cluster)
    behind = int(lagger.raft_info()['raft_last_applied'])
    lagger.stop()
    r = leader.client()
    i = 0
    deadline = time.monotonic() + scaled(60)
    # One entry per SET: go on until the leader's log is compacted past the
    # lagger's last index (with trailing entries kept).
    while last_snapshot_index(leader) - trailing <= behind + 1:
        assert time.monotonic() < deadline, 'the leader never compacted its log'
        r.execute_command('SET', 'during:%d' % i, i)
        i += 1
    shutil.rmtree(lagger.dir)
    lagger.start()
    write_sequence(leader, 'after', 5)
    index = wait_all_applied(cluster, timeout=scaled(60))
    assert 'Snapshot installed from the leader' in lagger.log_text()
    full = CommitLog.of(leader)
    full.check_order()
    assert full.comments == []
    assert full.last_index() == index
    got = CommitLog.of(lagger)
    got.check_order()
    # One install, or several in a row (the leader compacted again while
    # the first was sent): comments in one place, growing indexes.
    assert got.comments, 'no snapshot comment'
    pos = got.comments[0][0]
    snaps = []
    for at, text in got.comments:
        m = SNAPSHOT_COMMENT_RE.match(text)
        assert at == pos and m and m.group(1) == 'installed', got.comments
        snaps.append(int(m.group(2)))
    assert snaps == sorted(set(snaps)) and snaps[0] > behind, snaps
    assert got.lines[:pos] == [x for x in full.lines if x[0] <= behind]
    assert_follows(got, full)
    assert got.lines[-1][2] == b('SET', 'after:4', 4)
    # Restarted, it skips what it has (a comment line included).
    lagger.stop()
    lagger.start()
    write_sequence(leader, 'restart', 3)
    wait_all_applied(cluster)
    again = CommitLog.of(lagger)
    assert again.data.startswith(got.data)
    assert again.lines[len(got.lines):] == CommitLog.of(leader).lines[len(full.lines):]


# ---------------------------------------------------------------------------
# (c) killing the leader under load

class Writer(threading.Thread):
    """RPUSH load:<n> <seq> in a loop, one request at a time, on a node of
    the list (moving on to the next when it fails). Each value is recorded
    as acked (+reply), failed (a definite error: nothing was proposed) or
    unknown (a TIMEOUT or a broken connection: it may have applied)."""

    def __init__(self, wid, nodes):
        super().__init__(daemon=True)
        self.wid, self.nodes = wid, nodes
        self.acked, self.failed, self.unknown = [], [], []
        self.stopping = threading.Event()
        self.error = None

    def run(self):
        seq, at = 0, self.wid
        key = 'load:%d' % self.wid
        client = None
        while not self.stopping.is_set():
            if client is None:
                node = self.nodes[at % len(self.nodes)]
                client = redis.Redis(host=node.host, port=node.port,
                                     socket_timeout=scaled(20),
                                     socket_connect_timeout=2)
            seq += 1
            try:
                client.execute_command('RPUSH', key, seq)
                self.acked.append(seq)
            except redis.ResponseError as exc:
                msg = str(exc)
                if msg.startswith('CLUSTERDOWN'):
                    self.failed.append(seq)
                elif msg.startswith('TIMEOUT'):
                    self.unknown.append(seq)
                else:
                    self.error = msg
                    return
            except (redis.ConnectionError, redis.TimeoutError, OSError):
                self.unknown.append(seq)
                client.close()
                client, at = None, at + 1
        if client is not None:
            client.close()


def test_leader_killed_under_load(new_cluster):
    """Writers on every node; the leader is SIGKILLed while they run. In
    the survivors' files (identical) every acknowledged write is there
    exactly once, a write that got a definite error is not, an unknown one
    at most once, in each writer's order; nothing else is. The old leader,
    started again, catches up to the same file."""
    cluster = new_cluster(3, OPTIONS)
    leader = cluster.wait_for_leader()
    nodes = list(cluster.nodes.values())
    writers = [Writer(i, nodes) for i in range(6)]
    for w in writers:
        w.start()
    try:
        wait_until(lambda: sum(len(w.acked) for w in writers) >= 300, scaled(60),
                   what='300 acknowledged writes before the kill')
        leader.kill()
        acked_at_kill = sum(len(w.acked) for w in writers)
        survivors = [n for n in nodes if n is not leader]
        cluster.wait_for_leader(scaled(30))
        wait_until(lambda: sum(len(w.acked) for w in writers) >= acked_at_kill + 300,
                   scaled(60), what='300 acknowledged writes after the kill')
    finally:
        for w in writers:
            w.stopping.set()
        for w in writers:
            w.join(scaled(60))
    for w in writers:
        assert w.error is None, w.error
        assert not w.is_alive()
    wait_all_applied(cluster, survivors)
    log = assert_same_files(survivors)
    assert log.comments == []
    by_key = {}
    for args in log.commands():
        assert args[0] == b'RPUSH' and len(args) == 3, args
        by_key.setdefault(args[1], []).append(int(args[2]))
    for w in writers:
        got = by_key.pop(b'load:%d' % w.wid, [])
        assert got == sorted(got), 'writer %d: out of order' % w.wid
        assert len(got) == len(set(got)), 'writer %d: a write twice' % w.wid
        missing = set(w.acked) - set(got)
        assert not missing, 'writer %d: acknowledged, not logged: %s' % (
            w.wid, sorted(missing)[:20])
        assert not set(w.failed) & set(got), 'writer %d: failed, yet logged' % w.wid
        extra = set(got) - set(w.acked) - set(w.unknown)
        assert not extra, 'writer %d: logged, never sent: %s' % (w.wid, sorted(extra))
    assert not by_key, by_key
    print('acknowledged %d, unknown %d, definite failures %d' % (
        sum(len(w.acked) for w in writers), sum(len(w.unknown) for w in writers),
        sum(len(w.failed) for w in writers)))
    # The old leader's file had only committed entries: after a restart it
    # catches up to the very same file.
    leader.start()
    wait_all_applied(cluster)
    assert_same_files(nodes)


# ---------------------------------------------------------------------------
# (d) an audit standby: utils/audit

def test_utils_audit_usage():
    """--help explains it; a first start without --join is refused (it
    would start a cluster of its own)."""
    out = subprocess.run(['bash', AUDIT, '--help'], capture_output=True, text=True,
                         timeout=30)
    assert out.returncode == 0, out.stderr
    assert '--join HOST:PORT' in out.stdout and '--file FILE' in out.stdout
    out = subprocess.run(['bash', AUDIT, '--no-build', '--dir', '/nonexistent/x'],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 2 and '--join' in out.stderr, out
    out = subprocess.run(['bash', AUDIT, '--bogus'], capture_output=True, text=True,
                         timeout=30)
    assert out.returncode == 2 and 'unknown argument' in out.stderr, out


class AuditProcess(harness.ServerProcess):
    """utils/audit in the foreground: it execs redis-raft, so the process
    is the node itself."""

    name = 'audit standby'

    def __init__(self, workdir, join):
        super().__init__(workdir)
        self.join = join
        self.raft_port = harness.free_port()
        self.dir = os.path.join(workdir, 'data')
        self.file = os.path.join(workdir, 'audit.log')

    @property
    def logfile(self):
        return os.path.join(self.workdir, 'redis-raft.log')

    def argv(self):
        return ['env', 'RR_BIN=' + harness.redis_raft_bin(), 'bash', AUDIT,
                '--no-build', '--join', self.join, '--port', str(self.port),
                '--raft-port', str(self.raft_port), '--file', self.file,
                '--dir', self.dir, '--', '--logfile', self.logfile]

    def raft_info(self):
        return self.info('raft')


def raft_nodes(node):
    """RAFT.NODES as a list of {field: value} (values decoded)."""
    with node.client() as r:
        reply = r.execute_command('RAFT.NODES')
    out = []
    for item in reply:
        fields = [x.decode() if isinstance(x, bytes) else x for x in item]
        out.append(dict(zip(fields[::2], fields[1::2])))
    return out


def require_membership(node):
    """Skip unless the binary implements membership (RAFT.NODES, join):
    it is being built alongside this test."""
    try:
        raft_nodes(node)
    except redis.ResponseError as exc:
        if 'unknown command' in str(exc).lower():
            pytest.skip('this redis-raft has no RAFT.NODES / join yet')
        raise


def test_audit_standby_writes_the_same_log(new_cluster, workspace):
    """utils/audit joins a running cluster (whose log was compacted, so it
    catches up from a snapshot) as a standby with a commit log: its file is
    a snapshot comment then exactly the voters' lines after that index;
    writes made later reach it; it is a standby in RAFT.NODES; restarted,
    it resumes without writing anything twice."""
    cluster = new_cluster(3, dict(OPTIONS, **{'snapshot-threshold': 16,
                                              'snapshot-trailing': 2}))
    leader = cluster.wait_for_leader()
    require_membership(leader)
    write_sequence(leader, 'early', 60)
    wait_until(lambda: last_snapshot_index(leader) > 0, scaled(30),
               what='a snapshot on the leader')
    # The log before that snapshot is gone, so the standby must start from a
    # snapshot. From now on the voters keep a long tail behind each new
    # snapshot, so that the standby, once installed, follows from the log
    # (under load it would otherwise lag past a 2-entry tail and get another
    # install, with a second comment: correct, but not what this checks).
    for node in cluster.nodes.values():
        assert node.client().config_set('snapshot-trailing', 100000)
    audit = AuditProcess(workspace.subdir('audit'),
                         '127.0.0.1:%d' % cluster.followers()[0].port)
    workspace.procs.append(audit)
    audit.start()

    def caught_up():
        index = int(cluster.wait_for_leader().raft_info()['raft_commit_index'])
        return int(audit.raft_info()['raft_last_applied']) >= index
    wait_until(caught_up, scaled(60), what='the audit standby to catch up')
    written = write_sequence(leader, 'late', 10)
    wait_until(caught_up, scaled(60), what='the audit standby to apply new writes')
    members = raft_nodes(leader)
    me = [m for m in members if m['address'].startswith('127.0.0.1:%d@' % audit.port)]
    assert len(me) == 1 and me[0]['role'] == 'standby', members
    assert sum(m['role'] == 'voter' for m in members) == 3, members

    def check():
        got = CommitLog.read(audit.file)
        got.check_order()
        # It joined after the leader compacted its log: it starts from a
        # snapshot (or several in a row, if the leader compacted again
        # before the first was installed), then follows the log.
        assert got.comments and {pos for pos, _ in got.comments} == {0}, got.comments
        assert_follows(got, CommitLog.of(leader))
        return got
    got = check()
    assert got.commands()[-10:] == written
    audit.stop()
    audit.start()
    written = write_sequence(cluster.node(2), 'resumed', 5)
    wait_until(caught_up, scaled(60), what='the restarted audit standby')
    again = check()
    assert again.data.startswith(got.data)
    assert again.commands()[-5:] == written


# ---------------------------------------------------------------------------
# Files the node refuses

def test_refuses_a_file_that_is_not_a_commit_log(workspace):
    """A commit-log path naming some other file (its own log file, say) is
    refused at start (exit status 1, the reason logged), and left alone."""
    node = workspace.node(start=False, options=OPTIONS)
    path = commit_log_path(node)
    text = b'1 1 "SET" "k" "v"\nnot a commit log line\n'
    with open(path, 'wb') as f:
        f.write(text)
    node.spawn()
    assert node.wait_exit() == 1
    assert 'is not a commit log line' in node.log_text()
    with open(path, 'rb') as f:
        assert f.read() == text


def test_two_nodes_cannot_share_a_commit_log(workspace):
    """The file is locked while a node writes it: a second node given the
    same path refuses to start; the first one goes on writing."""
    path = os.path.join(workspace.subdir('shared'), 'commit.log')
    first = workspace.node(options={'commit-log': path})
    second = workspace.node(start=False, options={'commit-log': path})
    second.spawn()
    assert second.wait_exit() == 1
    assert 'is in use by another process' in second.log_text()
    first.client().set('k', 'v')
    wait_until(lambda: CommitLog.read(path).commands() == [b('SET', 'k', 'v')],
               what='the first node to write its line')
