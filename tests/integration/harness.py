"""harness: real redis-raft nodes and a stock redis-server for integration tests.

Every process runs on free ports in its own temporary directory, with its
stdout, stderr and log file kept there so that a failing test can show them.
Every wait polls with a deadline (wait_until); nothing sleeps a fixed time
to wait for state.

The shape follows RedisLabs/redisraft's tests/integration/sandbox.py: a
process class per server kind (Node, RedisServer) with start / stop (SIGTERM)
/ kill (SIGKILL) / pause (SIGSTOP) / resume / restart, and a Cluster that
owns several Nodes started with one `cluster-nodes` list, finds and waits
for the leader, and kills, stops and restarts nodes by id.

RawConn speaks bytes: tests send exact request bytes and compare exact reply
bytes, one complete RESP2 or RESP3 reply at a time (read_reply) or everything until
the server closes (read_until_closed).
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import redis

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_BIN = os.path.join(REPO, 'build', 'redis-raft')

# Timeouts are generous: the suite also runs under AddressSanitizer on a
# loaded 2-core machine. They bound failures; passing tests never wait them.
START_TIMEOUT = 30.0
REPLY_TIMEOUT = 20.0
STOP_TIMEOUT = 30.0

# REDIS_RAFT_SANITIZED=1 says the binary is the ASan+UBSan build (about 3x
# slower): deadlines that measure the server's speed rather than bound a
# failure are multiplied by SLOWDOWN (see scaled()).
SANITIZED = os.environ.get('REDIS_RAFT_SANITIZED') == '1'
SLOWDOWN = 3.0 if SANITIZED else 1.0


def scaled(seconds):
    """A deadline for work that takes `seconds` on the normal build."""
    return seconds * SLOWDOWN


SANITIZER_MARKERS = ('ERROR: AddressSanitizer', 'ERROR: LeakSanitizer',
                     'runtime error:', 'ERROR: UndefinedBehaviorSanitizer')


def redis_raft_bin():
    """Path of the redis-raft binary under test (env REDIS_RAFT_BIN wins)."""
    return os.environ.get('REDIS_RAFT_BIN', DEFAULT_BIN)


def redis_server_bin():
    return shutil.which('redis-server') or '/usr/bin/redis-server'


class TimeoutExpired(AssertionError):
    pass


def wait_until(cond, timeout=REPLY_TIMEOUT, interval=0.01, what=None):
    """Poll cond() until it returns a true value, which is returned.

    Exceptions from cond() count as "not yet" (the last one is reported).
    Raises TimeoutExpired, naming `what`, when the deadline passes. The poll
    interval grows from `interval` to at most 0.1 s.
    """
    deadline = time.monotonic() + timeout
    last_exc = None
    while True:
        try:
            value = cond()
            if value:
                return value
        except Exception as exc:  # noqa: BLE001 - polling tolerates errors
            last_exc = exc
        if time.monotonic() >= deadline:
            msg = 'timed out after %.1fs waiting for %s' % (
                timeout, what or getattr(cond, '__name__', 'condition'))
            if last_exc is not None:
                msg += ' (last error: %r)' % (last_exc,)
            raise TimeoutExpired(msg)
        time.sleep(interval)
        interval = min(interval * 1.5, 0.1)


_port_lock = threading.Lock()
_ports_given = set()


def _bindable(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(('127.0.0.1', port))
        return True
    except OSError:
        return False
    finally:
        s.close()


# RR_TEST_PORTS=LO-HI: hand out ports from this range only, so that test
# runs going on at the same time (utils/test runs two) never pick the same
# free port. Keep it below the kernel's ephemeral range (32768 up).
_PORT_RANGE = os.environ.get('RR_TEST_PORTS')
_next_port = [int(_PORT_RANGE.split('-')[0])] if _PORT_RANGE else None


def free_port():
    """A TCP port on 127.0.0.1 that is free now and not handed out before
    by this process (so two servers of one test never get the same port)."""
    with _port_lock:
        if _next_port is not None:
            hi = int(_PORT_RANGE.split('-')[1])
            while _next_port[0] <= hi:
                port = _next_port[0]
                _next_port[0] += 1
                if _bindable(port):
                    _ports_given.add(port)
                    return port
            raise RuntimeError('no free port left in RR_TEST_PORTS')
        for _ in range(1000):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(('127.0.0.1', 0))
            port = s.getsockname()[1]
            s.close()
            if port not in _ports_given and _bindable(port):
                _ports_given.add(port)
                return port
    raise RuntimeError('no free port')


# ---------------------------------------------------------------------------
# RESP encoding and raw connections


def _b(x):
    if isinstance(x, bytes):
        return x
    if isinstance(x, str):
        return x.encode()
    return str(x).encode()


def encode(*args):
    """One request in RESP multibulk form."""
    out = [b'*%d\r\n' % len(args)]
    for a in args:
        a = _b(a)
        out.append(b'$%d\r\n%s\r\n' % (len(a), a))
    return b''.join(out)


def reply_length(buf, pos=0):
    """Length of the complete RESP2 or RESP3 reply starting at buf[pos], or
    None if buf holds only part of it. An attribute (|) counts with the
    reply it annotates. Raises ValueError on malformed replies."""
    if pos >= len(buf):
        return None
    nl = buf.find(b'\r\n', pos)
    if nl < 0:
        return None
    kind = buf[pos:pos + 1]
    head = nl + 2 - pos
    if kind in (b'+', b'-', b':', b'_', b',', b'#', b'('):
        return head
    n = int(buf[pos + 1:nl])
    if kind in (b'$', b'=', b'!'):
        if n < 0:
            return head
        if len(buf) < nl + 2 + n + 2:
            return None
        return head + n + 2
    if kind in (b'*', b'~', b'>', b'%', b'|'):
        total = head
        items = 2 * n if kind in (b'%', b'|') else n
        # an attribute (|) counts with the reply it annotates, which follows
        for _ in range(max(items, 0) + (kind == b'|')):
            sub = reply_length(buf, pos + total)
            if sub is None:
                return None
            total += sub
        return total
    raise ValueError('not a RESP reply: %r' % buf[pos:pos + 64])


def split_replies(buf):
    """Split a byte string of complete RESP2/RESP3 replies into a list of them."""
    out, pos = [], 0
    while pos < len(buf):
        n = reply_length(buf, pos)
        if n is None:
            raise ValueError('incomplete reply at %d: %r' % (pos, buf[pos:pos + 64]))
        out.append(buf[pos:pos + n])
        pos += n
    return out


class RawConn:
    """A plain TCP connection for exact request and reply bytes."""

    def __init__(self, port, host='127.0.0.1', timeout=REPLY_TIMEOUT):
        self.timeout = timeout
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b''
        self.eof = False

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data):
        self.sock.sendall(data)

    def send_bytewise(self, data):
        """Send one byte per write: the server sees the request in pieces."""
        for i in range(len(data)):
            self.sock.sendall(data[i:i + 1])

    def _fill(self, deadline):
        """Read more bytes into self.buf; returns False at EOF/reset."""
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutExpired('no complete reply; have %r' % self.buf[:200])
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(1 << 20)
        except socket.timeout:
            raise TimeoutExpired('no complete reply; have %r' % self.buf[:200])
        except (ConnectionResetError, BrokenPipeError):
            data = b''
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def read_reply(self, timeout=None):
        """Bytes of the next complete reply. Raises ConnectionError if the
        server closed first (what it sent is left in self.buf)."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            n = reply_length(self.buf)
            if n is not None:
                out, self.buf = self.buf[:n], self.buf[n:]
                return out
            if self.eof or not self._fill(deadline):
                raise ConnectionError('closed by server; partial %r' % self.buf[:200])

    def read_replies(self, count, timeout=None):
        return [self.read_reply(timeout) for _ in range(count)]

    def read_exact(self, nbytes, timeout=None):
        """Exactly nbytes of reply stream (fast path for huge pipelines)."""
        deadline = time.monotonic() + (timeout or self.timeout)
        chunks, have = [self.buf], len(self.buf)
        self.buf = b''
        while have < nbytes:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutExpired('got %d of %d bytes' % (have, nbytes))
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(1 << 20)
            except socket.timeout:
                raise TimeoutExpired('got %d of %d bytes' % (have, nbytes))
            if not data:
                raise ConnectionError('closed after %d of %d bytes' % (have, nbytes))
            chunks.append(data)
            have += len(data)
        data = b''.join(chunks)
        self.buf = data[nbytes:]
        return data[:nbytes]

    def read_until_closed(self, timeout=None):
        """Everything the server sends until it closes the connection.
        Raises TimeoutExpired if it stays open past the deadline."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while not self.eof:
            self._fill(deadline)
        out, self.buf = self.buf, b''
        return out

    def command(self, *args, timeout=None):
        """Send one multibulk request and return its reply bytes."""
        self.send(encode(*args))
        return self.read_reply(timeout)


# ---------------------------------------------------------------------------
# Processes


class ServerProcess:
    """A server process on one client port in its own directory."""

    name = 'server'

    def __init__(self, workdir, port=None):
        self.workdir = workdir
        os.makedirs(workdir, exist_ok=True)
        self.port = port or free_port()
        self.host = '127.0.0.1'
        self.process = None
        self.paused = False
        self.stdout_path = os.path.join(workdir, 'stdout.txt')
        self.stderr_path = os.path.join(workdir, 'stderr.txt')
        self._clients = []

    # -- subclass hooks
    def argv(self):
        raise NotImplementedError

    @property
    def logfile(self):
        return None

    # -- lifecycle
    @property
    def pid(self):
        return self.process.pid if self.process else None

    def is_running(self):
        return self.process is not None and self.process.poll() is None

    def spawn(self, extra_args=()):
        """Start the process without waiting for it to serve."""
        assert not self.is_running(), 'already running'
        self.paused = False
        # Append: a restarted process keeps the earlier output for diagnosis.
        with open(self.stdout_path, 'ab') as out, open(self.stderr_path, 'ab') as err:
            self.process = subprocess.Popen(
                self.argv() + list(extra_args), stdout=out, stderr=err,
                stdin=subprocess.DEVNULL, cwd=self.workdir)
        return self.process

    def start(self, extra_args=(), timeout=START_TIMEOUT):
        self.spawn(extra_args)
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout=START_TIMEOUT):
        """Poll PING until it answers +PONG; fail at once if the process
        exits, with its output in the message."""
        def ready():
            if self.process.poll() is not None:
                raise AssertionError('%s exited with %s before serving\n%s' % (
                    self.name, self.process.returncode, self.output_tail()))
            try:
                with RawConn(self.port, self.host, timeout=1.0) as c:
                    return c.command('PING') == b'+PONG\r\n'
            except (OSError, ConnectionError, TimeoutExpired):
                return False

        deadline = time.monotonic() + timeout
        while not ready():
            if time.monotonic() > deadline:
                raise TimeoutExpired('%s not ready after %.0fs\n%s' % (
                    self.name, timeout, self.output_tail()))
            time.sleep(0.02)

    def _signal(self, sig):
        if self.is_running():
            self.process.send_signal(sig)

    def wait_exit(self, timeout=STOP_TIMEOUT):
        """Wait for the process to end; returns its exit status."""
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise TimeoutExpired('%s (pid %d) did not exit in %.0fs\n%s' % (
                self.name, self.process.pid, timeout, self.output_tail()))

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM and wait; returns the exit status (None if not started)."""
        if self.process is None:
            return None
        self.close_clients()
        if self.paused:
            self.resume()
        self._signal(signal.SIGTERM)
        return self.wait_exit(timeout)

    def kill(self):
        """SIGKILL and wait; returns the exit status."""
        if self.process is None:
            return None
        self.close_clients()
        self._signal(signal.SIGKILL)
        self.paused = False
        return self.wait_exit()

    def pause(self):
        self._signal(signal.SIGSTOP)
        self.paused = True

    def resume(self):
        self._signal(signal.SIGCONT)
        self.paused = False

    def restart(self, timeout=START_TIMEOUT):
        """SIGTERM, then start again on the same ports and directory."""
        self.stop()
        return self.start(timeout=timeout)

    # -- clients
    def client(self, **kwargs):
        """A redis-py client; closed when the process is stopped."""
        kwargs.setdefault('socket_timeout', REPLY_TIMEOUT)
        kwargs.setdefault('socket_connect_timeout', REPLY_TIMEOUT)
        c = redis.Redis(host=self.host, port=self.port, **kwargs)
        self._clients.append(c)
        return c

    def close_clients(self):
        for c in self._clients:
            try:
                c.close()
                c.connection_pool.disconnect()
            except Exception:  # noqa: BLE001
                pass
        self._clients = []

    def raw(self, timeout=REPLY_TIMEOUT):
        """A new RawConn to this server (the caller closes it)."""
        return RawConn(self.port, self.host, timeout=timeout)

    def send_raw(self, data, nreplies=1, timeout=REPLY_TIMEOUT):
        """Send bytes on a fresh connection and return the bytes of the next
        `nreplies` complete replies."""
        with self.raw(timeout) as c:
            c.send(data)
            return b''.join(c.read_replies(nreplies))

    # -- diagnostics
    @staticmethod
    def _tail(path, nbytes=4000):
        try:
            with open(path, 'rb') as f:
                f.seek(0, os.SEEK_END)
                size = f.tell()
                f.seek(max(0, size - nbytes))
                return f.read().decode(errors='replace')
        except OSError:
            return ''

    def stderr_text(self):
        return self._tail(self.stderr_path, 1 << 20)

    def log_text(self):
        path = self.logfile or self.stdout_path
        return self._tail(path, 1 << 22)

    def log_tail(self, nbytes=4000):
        return self._tail(self.logfile or self.stdout_path, nbytes)

    def output_tail(self, nbytes=3000):
        parts = []
        for label, path in (('log', self.logfile), ('stdout', self.stdout_path),
                            ('stderr', self.stderr_path)):
            if path and os.path.exists(path):
                text = self._tail(path, nbytes)
                if text:
                    parts.append('--- %s %s (%s) ---\n%s' % (self.name, label, path, text))
        return '\n'.join(parts)

    def output_size(self):
        """Bytes written so far to stderr and stdout (a mark for
        sanitizer_report)."""
        return tuple(os.path.getsize(p) if os.path.exists(p) else 0
                     for p in (self.stderr_path, self.stdout_path))

    def sanitizer_report(self, since=(0, 0)):
        """The first sanitizer report in stderr/stdout written after the
        mark `since` (from output_size), or None."""
        text = ''
        for path, start in zip((self.stderr_path, self.stdout_path), since):
            try:
                with open(path, 'rb') as f:
                    f.seek(start)
                    text += f.read().decode(errors='replace')
            except OSError:
                pass
        for marker in SANITIZER_MARKERS:
            i = text.find(marker)
            if i >= 0:
                return text[max(0, i - 200):i + 4000]
        return None

    def rss_bytes(self):
        with open('/proc/%d/status' % self.pid) as f:
            for line in f:
                if line.startswith('VmRSS:'):
                    return int(line.split()[1]) * 1024
        raise RuntimeError('no VmRSS')

    def info(self, section=None):
        with self.raw() as c:
            reply = c.command('INFO', *( [section] if section else []))
        return parse_info(reply)


def parse_info(reply):
    """Parse INFO's bulk reply bytes into {'sections': [...], field: value}."""
    assert reply.startswith(b'$'), reply[:100]
    body = reply[reply.index(b'\r\n') + 2:-2].decode()
    out = {'sections': []}
    for line in body.split('\r\n'):
        if line.startswith('# '):
            out['sections'].append(line[2:])
        elif line:
            k, _, v = line.partition(':')
            out[k] = v
    return out


def raft_members(info):
    """{id: {'addr':..., 'role':..., 'match_index':...}} from the
    raft_nodeN lines of INFO raft."""
    out = {}
    for k, v in info.items():
        if re.match(r'^raft_node\d+$', k):
            fields = dict(p.split('=', 1) for p in v.split(','))
            out[int(fields.pop('id'))] = fields
    return out


class RedisServer(ServerProcess):
    """Debian's stock redis-server, the reference for reply bytes."""

    name = 'redis-server'

    def __init__(self, workdir, port=None, extra=()):
        super().__init__(workdir, port)
        self.extra = list(extra)

    def argv(self):
        return [redis_server_bin(), '--port', str(self.port), '--bind', '127.0.0.1',
                '--save', '', '--appendonly', 'no', '--daemonize', 'no',
                '--dir', self.workdir, '--logfile', os.path.join(self.workdir, 'redis.log'),
                ] + self.extra

    @property
    def logfile(self):
        return os.path.join(self.workdir, 'redis.log')


class Node(ServerProcess):
    """One redis-raft process: client port, raft port, data dir, log file.

    `options` are extra `--key value` pairs (a dict, values str()-ed);
    `config_file` is passed first, before every --option, as the CLI wants.
    """

    name = 'redis-raft'

    def __init__(self, workdir, node_id=1, port=None, raft_port=None,
                 options=None, config_file=None, binary=None, data_dir=None):
        super().__init__(workdir, port)
        self.node_id = node_id
        self.raft_port = raft_port or free_port()
        self.dir = data_dir or os.path.join(workdir, 'data')
        self.options = dict(options or {})
        self.config_file = config_file
        self.binary = binary or redis_raft_bin()
        self.name = 'redis-raft node %d' % node_id

    @property
    def logfile(self):
        return os.path.join(self.workdir, 'redis-raft.log')

    @property
    def address(self):
        return '127.0.0.1:%d@%d' % (self.port, self.raft_port)

    def argv(self):
        args = [self.binary]
        if self.config_file:
            args.append(self.config_file)
        opts = {'port': self.port, 'raft-port': self.raft_port, 'node-id': self.node_id,
                'dir': self.dir, 'logfile': self.logfile}
        opts.update(self.options)
        for k, v in opts.items():
            if v is None:
                continue
            args += ['--' + k, str(v)]
        return args

    def is_sanitized(self):
        """Whether the binary is built with AddressSanitizer (libc malloc,
        quarantined frees: memory figures differ)."""
        try:
            with open(self.binary, 'rb') as f:
                return b'__asan_init' in f.read()
        except OSError:
            return False

    def raft_info(self):
        return self.info('raft')

    def role(self):
        return self.raft_info().get('raft_role')

    def wait_for_leader_role(self, timeout=START_TIMEOUT):
        wait_until(lambda: self.role() == 'leader', timeout,
                   what='%s to become leader' % self.name)


class Cluster:
    """Nodes of one raft cluster, started in a Workspace.

    `create(n)` gives every node the same `cluster-nodes` list
    (127.0.0.1:PORT@RAFTPORT on free ports) and its 1-based position as
    `node-id`; each seed bootstraps the same configuration, and a restart
    reuses the node's directory (which then ignores the list). `create(1)`
    starts one node without a list: a single-node cluster.

    `nodes` maps node id -> Node. A node is "up" while its process runs and
    is not paused; leader() and wait_for_leader() only ask nodes that are up.
    """

    def __init__(self, workspace, options=None):
        self.workspace = workspace
        self.options = dict(options or {})
        self.nodes = {}
        self.seeds = None
        workspace.clusters.append(self)

    def _node_options(self, node_id):
        opts = dict(self.options)
        if self.seeds is not None:
            opts['cluster-nodes'] = self.seeds
        return opts

    def create(self, count=3, timeout=START_TIMEOUT):
        assert not self.nodes, 'create() once per Cluster'
        ports = [(free_port(), free_port()) for _ in range(count)]
        if count > 1:
            self.seeds = ','.join('127.0.0.1:%d@%d' % p for p in ports)
        for i, (port, raft_port) in enumerate(ports, 1):
            self.nodes[i] = self.workspace.node(
                start=False, node_id=i, port=port, raft_port=raft_port,
                options=self._node_options(i))
        for n in self.nodes.values():
            n.spawn()
        for n in self.nodes.values():
            n.wait_ready(timeout)
        self.wait_for_leader(timeout)
        return self

    def node(self, node_id):
        return self.nodes[node_id]

    def up(self):
        """Nodes whose process runs and is not paused."""
        return [n for n in self.nodes.values() if n.is_running() and not n.paused]

    def leader(self):
        """The running node that says it is leader, or None. (Two may say
        so for a moment, an old one not yet deposed: the newest term wins.)"""
        best, best_term = None, -1
        for n in self.up():
            try:
                info = n.raft_info()
            except (OSError, ConnectionError, TimeoutExpired, AssertionError):
                continue
            term = int(info.get('raft_term', -1))
            if info.get('raft_role') == 'leader' and term > best_term:
                best, best_term = n, term
        return best

    def agreed_leader(self, exclude=()):
        """The leader every up node names and which says it leads (in the
        term they all share), or None. Nodes in `exclude` (ids) are not
        asked and cannot be the answer."""
        ids, terms, leading = set(), set(), []
        for n in self.up():
            if n.node_id in exclude:
                continue
            info = n.raft_info()
            ids.add(info.get('raft_leader_id'))
            terms.add(info.get('raft_term'))
            if info.get('raft_role') == 'leader':
                leading.append(n)
        if len(ids) != 1 or len(terms) != 1 or len(leading) != 1:
            return None
        leader = leading[0]
        return leader if ids == {str(leader.node_id)} else None

    def wait_for_leader(self, timeout=START_TIMEOUT, exclude=()):
        """Wait until some node leads and every up node agrees on it (and
        on the term); returns that Node."""
        return wait_until(lambda: self.agreed_leader(exclude), timeout,
                          what='an agreed raft leader among nodes %s' % sorted(
                              n.node_id for n in self.up()
                              if n.node_id not in exclude))

    def followers(self):
        """The up nodes other than the agreed leader (waits for one)."""
        leader = self.wait_for_leader()
        return [n for n in self.up() if n is not leader]

    def wait_for_applied(self, index=None, nodes=None, timeout=START_TIMEOUT):
        """Wait until every node in `nodes` (default: every up node) has
        applied the log up to `index` (default: the leader's commit index
        now)."""
        if index is None:
            index = int(self.wait_for_leader(timeout).raft_info()['raft_commit_index'])
        nodes = self.up() if nodes is None else nodes

        def applied():
            return all(int(n.raft_info()['raft_last_applied']) >= index for n in nodes)
        wait_until(applied, timeout, what='nodes %s to apply index %d' % (
            [n.node_id for n in nodes], index))

    def kill(self, node_id):
        """SIGKILL node_id and wait for it to exit."""
        return self.nodes[node_id].kill()

    def stop(self, node_id, timeout=STOP_TIMEOUT):
        """SIGTERM node_id and wait for it to exit; returns the status."""
        return self.nodes[node_id].stop(timeout)

    def start(self, node_id, timeout=START_TIMEOUT):
        """Start a stopped node again on its ports and directory."""
        return self.nodes[node_id].start(timeout=timeout)

    def restart(self, node_id, timeout=START_TIMEOUT):
        """Start node_id again on its directory (SIGTERM first if it is
        running) and wait until it serves."""
        n = self.nodes[node_id]
        if n.is_running():
            n.stop()
        return n.start(timeout=timeout)

    def shutdown(self):
        """Stop every node, the leader first; returns a list of problems (a
        node that had to be SIGKILLed after SIGTERM).

        The last node left is alone: if it leads, it cannot hand leadership
        over, and how it exits then is what test_cluster_failures tests, not
        what teardown is for. In a sanitized build it is stopped with
        SIGTERM once it has stepped down (so LeakSanitizer runs at its
        exit); otherwise, where nothing is checked at exit, with SIGKILL.
        Every other node gets SIGTERM."""
        problems = []
        for n in self.nodes.values():
            if n.is_running() and n.paused:
                n.resume()
        leader = self.leader()
        order = sorted((n for n in self.nodes.values() if n.is_running()),
                       key=lambda n: (n is not leader, n.node_id))
        for i, n in enumerate(order):
            if i == len(order) - 1 and len(self.nodes) > 1:
                if not SANITIZED:
                    n.kill()
                    continue
                try:
                    wait_until(lambda: n.role() != 'leader', scaled(10),
                               what='%s to step down' % n.name)
                except TimeoutExpired:
                    pass  # stop it anyway; a hang is reported below
            try:
                n.stop(scaled(10))
            except TimeoutExpired as exc:
                n.kill()
                problems.append('%s did not exit on SIGTERM: %s' % (n.name, exc))
        return problems


ACTIVE_WORKSPACES = []


class Workspace:
    """Temporary directory that owns every process started in it."""

    def __init__(self, prefix='rr-it-'):
        self.path = tempfile.mkdtemp(prefix=prefix)
        self.procs = []
        self.clusters = []
        self._n = 0
        ACTIVE_WORKSPACES.append(self)

    def subdir(self, name):
        self._n += 1
        d = os.path.join(self.path, '%s-%d' % (name, self._n))
        os.makedirs(d, exist_ok=True)
        return d

    def node(self, start=True, **kwargs):
        n = Node(self.subdir('node'), **kwargs)
        self.procs.append(n)
        if start:
            n.start()
        return n

    def cluster(self, count=3, options=None, timeout=START_TIMEOUT):
        """A started Cluster of `count` nodes (see Cluster.create)."""
        return Cluster(self, options).create(count, timeout)

    def redis_server(self, start=True, extra=()):
        r = RedisServer(self.subdir('redis'), extra=extra)
        self.procs.append(r)
        if start:
            r.start()
        return r

    def cleanup(self, check_sanitizer=True):
        """Stop (SIGTERM, so sanitizers report leaks) what is still running,
        SIGKILL what does not exit; return the sanitizer reports found."""
        reports = []
        for cluster in self.clusters:
            reports.extend(cluster.shutdown())
        for p in self.procs:
            if p.is_running():
                try:
                    p.stop()
                except TimeoutExpired as exc:
                    p.kill()
                    reports.append('%s did not exit on SIGTERM: %s' % (p.name, exc))
            if check_sanitizer and not getattr(p, 'reported', False):
                rep = p.sanitizer_report()
                if rep:
                    reports.append('%s (%s):\n%s' % (p.name, p.workdir, rep))
        if self in ACTIVE_WORKSPACES:
            ACTIVE_WORKSPACES.remove(self)
        shutil.rmtree(self.path, ignore_errors=True)
        return reports


LOG_LINE_RE = re.compile(
    r'^(\d+):([A-Za-z]) (\d{2}) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) '
    r'(\d{4}) (\d{2}):(\d{2}):(\d{2})\.(\d{3}) ([.\-*#]) (.*)$')
