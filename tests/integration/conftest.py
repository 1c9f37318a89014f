"""Fixtures for the redis-raft integration suite.

  workspace          a temporary directory per test; processes started in it
                     are stopped at the end and checked for sanitizer reports
  node               a running single-node redis-raft shared by a module,
                     emptied with FLUSHALL before each test
  fresh_node         a new redis-raft node for this test alone
  redis_server       a stock redis-server shared by the session, emptied with
                     FLUSHALL before each test: the reference for reply bytes
  cluster            a 3-node cluster shared by a module: every node running,
                     an agreed leader, follower-proxy yes, emptied with
                     FLUSHALL before each test
  new_cluster        new_cluster(n, options) starts a cluster for this test
                     alone (tests that kill, stop or pause nodes)

A missing binary fails the tests that need it (build with
`cmake -S . -B build && cmake --build build`); it never skips them.

RR_REFERENCE_AS_NODE=1 runs `node` as a second stock redis-server, to check
the tests themselves against the reference; tests that need redis-raft's own
behaviour (cluster-mode SELECT, options, durability) skip in that mode.
"""

import os

import pytest

import harness

REFERENCE_AS_NODE = os.environ.get('RR_REFERENCE_AS_NODE') == '1'


def require_binary():
    path = harness.redis_raft_bin()
    if not os.access(path, os.X_OK):
        pytest.fail('redis-raft binary not found at %s (set REDIS_RAFT_BIN or '
                    'build it: cmake -S . -B build && cmake --build build)' % path,
                    pytrace=False)


def redis_raft_only():
    """Skip in RR_REFERENCE_AS_NODE mode (the test is about redis-raft)."""
    if REFERENCE_AS_NODE:
        pytest.skip('tests redis-raft specific behaviour')
    require_binary()


def _finish(ws):
    reports = ws.cleanup()
    if reports:
        pytest.fail('sanitizer/shutdown problems:\n' + '\n'.join(reports), pytrace=False)


@pytest.fixture
def workspace():
    ws = harness.Workspace()
    yield ws
    _finish(ws)


@pytest.fixture(scope='module')
def module_workspace():
    ws = harness.Workspace()
    yield ws
    _finish(ws)


@pytest.fixture(scope='session')
def session_workspace():
    ws = harness.Workspace()
    yield ws
    _finish(ws)


def _flushall(proc):
    with proc.raw() as c:
        reply = c.command('FLUSHALL')
    assert reply == b'+OK\r\n', reply


class ModuleNode:
    """The module's shared node. A node that died (a crash is reported by
    the test that caused it) is replaced by a new one on a new directory, so
    one crash does not fail every later test of the module."""

    def __init__(self, ws):
        self.ws = ws
        self.proc = None

    def get(self):
        if self.proc is None or not self.proc.is_running():
            if REFERENCE_AS_NODE:
                self.proc = self.ws.redis_server()
            else:
                require_binary()
                self.proc = self.ws.node()
        return self.proc


@pytest.fixture(scope='module')
def module_node(module_workspace):
    return ModuleNode(module_workspace)


def _check_process_after_test(proc, mark):
    """Fail the current test if proc crashed or reported a sanitizer error
    while it ran."""
    report = proc.sanitizer_report(since=mark)
    if report:
        proc.reported = True
        pytest.fail('%s: sanitizer report during this test:\n%s' % (proc.name, report),
                    pytrace=False)
    if not proc.is_running():
        proc.reported = True
        pytest.fail('%s died during this test (exit status %s)\n%s' % (
            proc.name, proc.process.returncode, proc.output_tail()), pytrace=False)


@pytest.fixture
def node(module_node):
    """The module's node, running and empty; checked for crashes and
    sanitizer reports after the test."""
    proc = module_node.get()
    _flushall(proc)
    mark = proc.output_size()
    yield proc
    if not proc.paused:
        _check_process_after_test(proc, mark)


@pytest.fixture
def fresh_node(workspace):
    redis_raft_only()
    return workspace.node()


class ModuleCluster:
    """The module's shared 3-node cluster, brought back to a known state
    before each test: nodes that stopped are started again on their own
    directories, paused ones resumed, follower-proxy set back to yes."""

    def __init__(self, ws):
        self.ws = ws
        self.cluster = None

    def get(self):
        redis_raft_only()
        if self.cluster is None:
            self.cluster = self.ws.cluster(3)
        c = self.cluster
        for n in c.nodes.values():
            if n.paused:
                n.resume()
            if not n.is_running():
                n.start()
        leader = c.wait_for_leader()
        for n in c.nodes.values():
            with n.raw() as conn:
                reply = conn.command('CONFIG', 'SET', 'follower-proxy', 'yes')
                assert reply == b'+OK\r\n', reply
        _flushall(leader)
        c.wait_for_applied()
        return c


@pytest.fixture(scope='module')
def module_cluster(module_workspace):
    return ModuleCluster(module_workspace)


@pytest.fixture
def cluster(module_cluster):
    """The module's 3-node cluster, healthy and empty; every node is checked
    for crashes and sanitizer reports after the test."""
    c = module_cluster.get()
    marks = {i: n.output_size() for i, n in c.nodes.items()}
    yield c
    for i, n in c.nodes.items():
        if not n.paused:
            _check_process_after_test(n, marks[i])


@pytest.fixture
def new_cluster(workspace):
    """new_cluster(count=3, options=None): a started cluster for this test
    alone, stopped (and checked for sanitizer reports) after it."""
    redis_raft_only()

    def make(count=3, options=None):
        return workspace.cluster(count, options)
    return make


@pytest.fixture(scope='session')
def session_redis_server(session_workspace):
    return session_workspace.redis_server()


@pytest.fixture
def redis_server(session_redis_server):
    assert session_redis_server.is_running()
    _flushall(session_redis_server)
    return session_redis_server


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """On failure, attach the tail of every redis-raft node's log and stderr."""
    outcome = yield
    rep = outcome.get_result()
    if rep.failed:
        for ws in list(harness.ACTIVE_WORKSPACES):
            for p in ws.procs:
                if not isinstance(p, harness.Node):
                    continue
                text = p.output_tail(2000)
                if text:
                    rep.sections.append(('%s %s' % (p.name, p.workdir), text))
