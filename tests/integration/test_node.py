"""The node process: configuration (options and redis.conf-style file),
INFO, log format, limits and shutdown."""

import os
import socket
import subprocess
import time

import pytest

import harness
from conftest import redis_raft_only
from harness import LOG_LINE_RE, encode, wait_until


@pytest.fixture(autouse=True)
def _redis_raft_only():
    redis_raft_only()


def run_to_exit(args, timeout=harness.START_TIMEOUT):
    """Run the binary with args; it must exit by itself. Returns the
    CompletedProcess (stdout, stderr as text)."""
    return subprocess.run([harness.redis_raft_bin()] + args, capture_output=True,
                          timeout=timeout, text=True, errors='replace',
                          stdin=subprocess.DEVNULL)


def base_args(workspace):
    d = workspace.subdir('node')
    return ['--port', str(harness.free_port()), '--raft-port', str(harness.free_port()),
            '--dir', os.path.join(d, 'data'), '--logfile', os.path.join(d, 'log')]


# ---------------------------------------------------------------------------
# Bad configuration: exit code 1, the key named on stderr.

BAD_OPTIONS = [
    ('no-such-key', '1'),
    ('port', 'abc'),
    ('port', '70000'),
    ('port', '-1'),
    ('raft-port', 'x'),
    ('node-id', 'abc'),
    ('node-id', '0'),
    ('loglevel', 'loud'),
    ('election-timeout', 'soon'),
    ('heartbeat-interval', '1.5'),
    ('maxclients', '-3'),
    ('maxclients', ''),
    ('proto-max-bulk-len', '12q'),
    ('client-query-buffer-limit', 'lots'),
]


@pytest.mark.parametrize('key,value', BAD_OPTIONS,
                         ids=['%s=%s' % kv for kv in BAD_OPTIONS])
def test_bad_option_exits_1(key, value, workspace):
    proc = run_to_exit(base_args(workspace) + ['--' + key, value])
    assert proc.returncode == 1, (proc.returncode, proc.stderr)
    assert key in proc.stderr, proc.stderr


def test_option_without_value_exits_1(workspace):
    proc = run_to_exit(base_args(workspace) + ['--port'])
    assert proc.returncode == 1, (proc.returncode, proc.stderr)
    assert 'port' in proc.stderr


@pytest.mark.parametrize('line,key', [
    ('no-such-key yes', 'no-such-key'),
    ('port notanumber', 'port'),
    ('loglevel chatty', 'loglevel'),
], ids=['unknown', 'bad-port', 'bad-loglevel'])
def test_bad_config_file_exits_1(line, key, workspace):
    path = os.path.join(workspace.subdir('conf'), 'redis-raft.conf')
    with open(path, 'w') as f:
        f.write('# a comment\n\n%s\n' % line)
    proc = run_to_exit([path] + base_args(workspace))
    assert proc.returncode == 1, (proc.returncode, proc.stderr)
    assert key in proc.stderr, proc.stderr


def test_missing_config_file_exits_1(workspace):
    path = os.path.join(workspace.path, 'does-not-exist.conf')
    proc = run_to_exit([path] + base_args(workspace))
    assert proc.returncode == 1
    assert 'does-not-exist.conf' in proc.stderr


def _refused(port, host='127.0.0.1'):
    s = socket.socket()
    try:
        s.connect((host, port))
        return False
    except ConnectionRefusedError:
        return True
    finally:
        s.close()


def test_config_file_honoured_and_overridden(workspace):
    d = workspace.subdir('conf')
    file_port, cli_port = harness.free_port(), harness.free_port()
    raft_port = harness.free_port()
    data_dir = os.path.join(d, 'data dir with spaces')
    logfile = os.path.join(d, 'from-file.log')
    path = os.path.join(d, 'redis-raft.conf')
    with open(path, 'w') as f:
        f.write('# redis-raft test configuration\n'
                '\n'
                'port %d\n'
                '   raft-port %d   \n'
                'node-id 7\n'
                'dir "%s"\n'
                "logfile '%s'\n"
                'loglevel verbose\n'
                'maxclients 1000\n'
                '# trailing comment\n' % (file_port, raft_port, data_dir, logfile))
    node = harness.Node(d, node_id=7, port=cli_port, raft_port=raft_port,
                        config_file=path)
    node.argv = lambda: [node.binary, path, '--port', str(cli_port)]
    workspace.procs.append(node)
    node.start()
    info = node.info()
    assert info['raft_node_id'] == '7'        # from the file
    assert _refused(file_port)                # the option wins over the file
    assert os.path.isdir(data_dir) and os.listdir(data_dir)
    wait_until(lambda: os.path.getsize(logfile) > 0, what='log file written')
    with open(logfile) as f:
        first = f.readline()
    assert LOG_LINE_RE.match(first.rstrip('\n')), first
    node.client().set('k', 'v')
    assert node.stop() == 0
    node.start()
    assert node.client().get('k') == b'v'


def test_option_overrides_file_node_id(workspace):
    d = workspace.subdir('conf')
    path = os.path.join(d, 'redis-raft.conf')
    with open(path, 'w') as f:
        f.write('node-id 5\nloglevel warning\n')
    node = workspace.node(start=False, node_id=9, config_file=path)
    node.start()
    assert node.info('raft')['raft_node_id'] == '9'


# ---------------------------------------------------------------------------
# INFO


def test_info_sections_and_raft_fields(fresh_node):
    node = fresh_node
    info = node.info()
    for section in ('Server', 'Clients', 'Memory', 'Stats', 'Raft', 'Keyspace'):
        assert section in info['sections'], info['sections']
    assert info['raft_node_id'] == '1'
    assert info['raft_role'] == 'leader'
    assert info['raft_leader_id'] == '1'
    assert int(info['raft_term']) >= 1
    commit, applied = int(info['raft_commit_index']), int(info['raft_last_applied'])
    assert commit >= 1 and applied <= commit
    used = int(info['used_memory'])
    if not node.is_sanitized():  # the ASan build has no allocator statistics
        assert used > 0
    # A write moves the commit index and the applied index with it.
    with node.raw() as conn:
        assert conn.command('SET', 'k', 'v') == b'+OK\r\n'
    after = node.info('raft')
    assert after['sections'] == ['Raft']
    assert int(after['raft_commit_index']) > commit
    assert int(after['raft_last_applied']) > applied
    assert int(after['raft_last_applied']) <= int(after['raft_commit_index'])


def test_info_single_sections(fresh_node):
    for name, header in (('server', 'Server'), ('clients', 'Clients'),
                         ('memory', 'Memory'), ('stats', 'Stats'), ('raft', 'Raft'),
                         ('keyspace', 'Keyspace'), ('RAFT', 'Raft')):
        assert fresh_node.info(name)['sections'] == [header], name


def test_info_all_and_several_sections(fresh_node):
    six = {'Server', 'Clients', 'Memory', 'Stats', 'Raft', 'Keyspace'}
    assert six <= set(fresh_node.info('all')['sections'])
    assert six <= set(fresh_node.info('everything')['sections'])
    with fresh_node.raw() as conn:
        got = harness.parse_info(conn.command('INFO', 'raft', 'keyspace'))
    assert got['sections'] == ['Raft', 'Keyspace']


def test_info_keyspace_bytes_match_redis(fresh_node, redis_server):
    for proc in (redis_server, fresh_node):
        with proc.raw() as conn:
            assert conn.command('INFO', 'keyspace') == b'$12\r\n# Keyspace\r\n\r\n', proc.name
            conn.command('SET', 'a', '1')
            conn.command('RPUSH', 'l', 'x', 'y')
            conn.command('INCR', 'n')
            assert conn.command('INFO', 'keyspace') == \
                b'$44\r\n# Keyspace\r\ndb0:keys=3,expires=0,avg_ttl=0\r\n\r\n', proc.name
            conn.command('FLUSHALL')
            assert conn.command('INFO', 'keyspace') == b'$12\r\n# Keyspace\r\n\r\n', proc.name
            assert conn.command('INFO', 'nosuchsection') == b'$0\r\n\r\n', proc.name


def test_info_raft_survives_restart(fresh_node):
    node = fresh_node
    node.client().set('k', 'v')
    before = node.info('raft')
    node.kill()
    node.start()
    after = node.info('raft')
    assert after['raft_role'] == 'leader'
    assert int(after['raft_term']) >= int(before['raft_term'])
    assert int(after['raft_commit_index']) >= int(before['raft_commit_index'])


# ---------------------------------------------------------------------------
# Log


def check_log_lines(text, pid):
    lines = [l for l in text.split('\n') if l]
    assert lines, 'empty log'
    levels = set()
    for line in lines:
        m = LOG_LINE_RE.match(line)
        assert m, 'not a redis-server log line: %r' % line
        assert int(m.group(1)) == pid, line
        time.strptime(' '.join(m.group(3, 4, 5)) + ' ' + ':'.join(m.group(6, 7, 8)),
                      '%d %b %Y %H:%M:%S')
        levels.add(m.group(10))
    return levels


def test_log_file_format(workspace):
    node = workspace.node(options={'loglevel': 'debug'})
    with node.raw() as conn:
        for i in range(20):
            conn.command('INCR', 'n')
    pid = node.pid
    assert node.stop() == 0
    levels = check_log_lines(node.log_text(), pid)
    assert '.' in levels, 'loglevel debug writes debug lines'
    assert '*' in levels


def test_log_level_filters(workspace):
    node = workspace.node(options={'loglevel': 'warning'})
    node.client().set('k', 'v')
    pid = node.pid
    assert node.stop() == 0
    text = node.log_text()
    if text.strip():
        assert check_log_lines(text, pid) <= {'#'}


def test_log_to_stdout_when_logfile_empty(workspace):
    node = workspace.node(start=False, options={'logfile': ''})
    node.start()
    pid = node.pid
    assert node.stop() == 0
    with open(node.stdout_path) as f:
        check_log_lines(f.read(), pid)
    assert not os.path.exists(node.logfile)


# ---------------------------------------------------------------------------
# Process behaviour


def test_sigterm_exits_cleanly(fresh_node):
    with fresh_node.raw() as conn:
        conn.send(encode('SET', 'k', 'v'))
        assert conn.read_reply() == b'+OK\r\n'
        status = fresh_node.stop()
        # Our connection was closed by the shutdown.
        assert conn.read_until_closed() == b''
    assert status == 0, fresh_node.output_tail()
    assert fresh_node.sanitizer_report() is None


def _accepted(proc):
    """A new connection that the server accepted (PING answered), else None.
    Connections of earlier checks may still count until the server sees them
    closed, so callers poll."""
    conn = proc.raw()
    try:
        if conn.command('PING') == b'+PONG\r\n':
            return conn
    except (OSError, ConnectionError, harness.TimeoutExpired):
        pass
    conn.close()
    return None


def test_maxclients(workspace):
    ref = workspace.redis_server(extra=['--maxclients', '3'])
    node = workspace.node(options={'maxclients': 3})
    for proc in (ref, node):
        conns = []
        try:
            for _ in range(3):
                conns.append(wait_until(lambda: _accepted(proc), what='a client slot'))
            with proc.raw() as extra:
                assert extra.read_until_closed() == \
                    b'-ERR max number of clients reached\r\n', proc.name
            conns.pop().close()
            conns.append(wait_until(lambda: _accepted(proc), what='the freed slot'))
            for c in conns:
                assert c.command('PING') == b'+PONG\r\n'
        finally:
            for c in conns:
                c.close()


def test_bind_address(workspace):
    node = workspace.node(start=False, options={'bind': '127.0.0.2'})
    node.host = '127.0.0.2'
    node.start()
    assert node.client().ping() is True
    assert _refused(node.port, '127.0.0.1')


def test_single_node_cluster_elects_itself_again_after_kill(workspace):
    cluster = harness.Cluster(workspace).create(1)
    leader = cluster.wait_for_leader()
    assert leader is cluster.node(1)
    leader.client().set('k', 'v')
    term = int(leader.raft_info()['raft_term'])
    cluster.kill(1)
    assert cluster.leader() is None
    cluster.node(1).start()
    leader = cluster.wait_for_leader()
    assert leader.client().get('k') == b'v'
    assert int(leader.raft_info()['raft_term']) >= term


def test_raft_port_in_use_exits_1_and_says_so(workspace):
    holder = socket.socket()
    holder.bind(('127.0.0.1', 0))
    holder.listen(1)
    try:
        raft_port = holder.getsockname()[1]
        args = base_args(workspace)
        args[args.index('--raft-port') + 1] = str(raft_port)
        args[args.index('--logfile') + 1] = ''
        proc = run_to_exit(args)
        assert proc.returncode == 1, (proc.returncode, proc.stdout, proc.stderr)
        out = proc.stdout + proc.stderr
        assert "Can't listen for raft peers on 127.0.0.1:%d" % raft_port in out, out
    finally:
        holder.close()
