"""Durability: every acknowledged write survives SIGKILL and SIGTERM, and a
data directory belongs to one process at a time."""

import os
import threading

import pytest

import harness
from conftest import redis_raft_only
from harness import encode, wait_until


@pytest.fixture(autouse=True)
def _redis_raft_only():
    redis_raft_only()


class Incrementer(threading.Thread):
    """INCR in a loop, one request at a time, remembering the last value the
    server acknowledged; stops at the first connection error."""

    def __init__(self, node, key='counter'):
        super().__init__(daemon=True)
        self.node, self.key = node, key
        self.acked = 0
        self.bad_reply = None
        self.stopping = threading.Event()

    def run(self):
        try:
            with self.node.raw(timeout=10) as conn:
                while not self.stopping.is_set():
                    reply = conn.command('INCR', self.key)
                    if not reply.startswith(b':'):
                        self.bad_reply = reply
                        return
                    self.acked = int(reply[1:-2])
        except (OSError, ConnectionError, harness.TimeoutExpired):
            pass  # the node was killed under us


def get_int(node, key):
    reply = node.send_raw(encode('GET', key))
    assert reply.startswith(b'$'), reply
    return int(reply.split(b'\r\n')[1])


def test_sigkill_during_acknowledged_incrs(fresh_node):
    node = fresh_node
    floor = 0
    for _ in range(3):
        inc = Incrementer(node)
        inc.start()
        target = floor + 100
        wait_until(lambda: inc.acked >= target or not inc.is_alive(), 60,
                   what='100 acknowledged INCRs')
        assert inc.bad_reply is None, inc.bad_reply
        node.kill()
        inc.join(30)
        assert not inc.is_alive()
        last = inc.acked
        assert last >= target
        node.start()
        value = get_int(node, 'counter')
        # Every acknowledged INCR survived; at most the one in flight is extra.
        assert last <= value <= last + 1, (last, value)
        floor = value
    assert node.info('raft')['raft_role'] == 'leader'


def test_sigterm_during_acknowledged_incrs(fresh_node):
    node = fresh_node
    inc = Incrementer(node)
    inc.start()
    wait_until(lambda: inc.acked >= 100 or not inc.is_alive(), 60,
               what='100 acknowledged INCRs')
    assert node.stop() == 0, node.output_tail()
    inc.join(30)
    assert inc.bad_reply is None, inc.bad_reply
    last = inc.acked
    node.start()
    value = get_int(node, 'counter')
    assert last <= value <= last + 1, (last, value)


def test_sigkill_with_many_pipelining_clients(fresh_node):
    """Several clients pipeline INCRs on their own keys; after SIGKILL each
    key holds at least its last acknowledged value."""
    node = fresh_node
    nclients, depth = 4, 50
    acked = [0] * nclients
    stop = threading.Event()

    def worker(i):
        try:
            with node.raw(timeout=10) as conn:
                while not stop.is_set():
                    conn.send(encode('INCR', 'k%d' % i) * depth)
                    for _ in range(depth):
                        reply = conn.read_reply()
                        acked[i] = int(reply[1:-2])
        except (OSError, ConnectionError, harness.TimeoutExpired, ValueError):
            pass

    threads = [threading.Thread(target=worker, args=(i,), daemon=True)
               for i in range(nclients)]
    for t in threads:
        t.start()
    wait_until(lambda: min(acked) >= 2 * depth, 60, what='pipelined INCRs acknowledged')
    node.kill()
    stop.set()
    for t in threads:
        t.join(30)
    node.start()
    for i in range(nclients):
        value = get_int(node, 'k%d' % i)
        assert acked[i] <= value <= acked[i] + depth, (i, acked[i], value)


def populate(node):
    """Write data of every type, with overwrites and deletes; return the
    expected dump."""
    r = node.client()
    r.set('str', 'hello')
    r.set(b'bin\x00\r\n', b'\x00\xff\r\n')
    r.set('big', b'x' * 300000)
    r.incrby('counter', 41)
    r.incr('counter')
    r.decrby('negative', 5)
    r.rpush('list', *range(1000))
    r.lpush('list', 'head')
    r.lset('list', 500, 'middle')
    r.lrem('list', 0, '7')
    r.ltrim('list', 0, 900)
    r.rpush('gone-list', 'a')
    r.lpop('gone-list')
    r.set('deleted', 'x')
    r.delete('deleted')
    r.set('renamed-value', 'old')
    r.getset('renamed-value', 'new')
    r.mset({'m1': '1', 'm2': '2'})
    r.append('m1', '00')
    r.set('gd', 'v')
    r.getdel('gd')
    return dump(node)


def dump(node):
    r = node.client()
    out = {'dbsize': r.dbsize()}
    for key in (b'str', b'bin\x00\r\n', b'big', b'counter', b'negative', b'list',
                b'gone-list', b'deleted', b'renamed-value', b'm1', b'm2', b'gd'):
        kind = r.type(key)
        if kind == b'string':
            out[key] = r.get(key)
        elif kind == b'list':
            out[key] = r.lrange(key, 0, -1)
        else:
            out[key] = kind
    return out


@pytest.mark.parametrize('how', ['sigkill', 'sigterm'])
def test_data_survives_restart(how, fresh_node):
    node = fresh_node
    node.client().set('flushed', 'x')
    node.client().flushall()
    expected = populate(node)
    assert expected['dbsize'] == 9
    assert expected[b'counter'] == b'42'
    assert len(expected[b'list']) == 901
    if how == 'sigkill':
        node.kill()
    else:
        assert node.stop() == 0, 'SIGTERM should exit cleanly\n' + node.output_tail()
    node.start()
    assert dump(node) == expected
    assert node.client().get('flushed') is None
    # Writes continue after recovery, and survive a second restart.
    node.client().incr('counter')
    expected[b'counter'] = b'43'
    node.kill()
    node.start()
    assert dump(node) == expected


def test_data_survives_restart_through_snapshots(workspace):
    """With a tiny snapshot threshold, recovery goes through snapshots plus
    the log tail (every write here is its own entry)."""
    node = workspace.node(options={'snapshot-threshold': 16, 'snapshot-trailing': 4})
    r = node.client()
    for i in range(200):
        r.rpush('l', i)
        r.incr('n')
    r.set('s', 'v')
    expected = dump(node)
    node.kill()
    node.start()
    assert node.client().lrange('l', 0, -1) == [str(i).encode() for i in range(200)]
    assert node.client().get('n') == b'200'
    assert dump(node) == expected
    assert node.stop() == 0
    node.start()
    assert dump(node) == expected


def test_second_process_on_same_dir_refused(workspace):
    first = workspace.node()
    r = first.client()
    r.set('precious', 'data')
    r.rpush('list', *range(100))
    second = workspace.node(start=False, data_dir=first.dir)
    second.spawn()
    status = second.wait_exit(harness.START_TIMEOUT)
    assert status == 1, second.output_tail()
    text = second.stderr_text() + second.log_text()
    assert str(first.pid) in text, 'message should name the holder pid %d:\n%s' % (
        first.pid, text)
    # The first node is unharmed, now and after a restart.
    assert first.is_running()
    assert r.get('precious') == b'data'
    r.incr('after')
    first.kill()
    first.start()
    r = first.client()
    assert r.get('precious') == b'data'
    assert r.llen('list') == 100
    assert r.get('after') == b'1'


def test_stale_lock_after_sigkill_does_not_block_restart(fresh_node):
    """A lock left by a SIGKILLed process is not held by anyone."""
    node = fresh_node
    node.client().set('k', 'v')
    node.kill()
    node.start()
    assert node.client().get('k') == b'v'


def test_paused_node_resumes_and_keeps_serving(fresh_node):
    node = fresh_node
    r = node.client()
    r.set('k', 'v')
    node.pause()
    with node.raw() as conn:
        conn.send(encode('INCR', 'during-pause'))
        node.resume()
        assert conn.read_reply() == b':1\r\n'
    assert r.get('k') == b'v'
    assert os.path.isdir(node.dir)


def test_sigterm_with_pipelines_in_flight(fresh_node):
    """SIGTERM while clients have deep pipelines outstanding: a clean exit
    (status 0, no sanitizer report), and what was acknowledged survives."""
    node = fresh_node
    conns = [node.raw() for _ in range(4)]
    for i, conn in enumerate(conns):
        conn.send(encode('INCR', 'k%d' % i) * 20000)
    # Wait until every pipeline is partly acknowledged, then stop mid-stream.
    first = [conn.read_reply() for conn in conns]
    assert first == [b':1\r\n'] * 4
    status = node.stop()
    assert status == 0, node.output_tail()
    assert node.sanitizer_report() is None, node.sanitizer_report()
    acked = []
    for conn in conns:
        try:
            data = conn.read_until_closed()
        except harness.TimeoutExpired:
            data = b''
        acked.append(1 + data.count(b'\r\n'))
        conn.close()
    node.start()
    for i in range(4):
        assert get_int(node, 'k%d' % i) >= acked[i]
