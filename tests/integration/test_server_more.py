"""Server and connection commands: TIME, CLIENT, CONFIG, INFO, COMMAND.

Replies that do not depend on the server's state are compared byte for byte
with a stock redis-server 7.0; the rest (CLIENT LIST lines, INFO sections,
statistics) are checked for redis-server's format and for what they must
say about redis-raft's own connections and counters.
"""

import re
import socket
import time

import pytest

import harness
import differential
from differential import check_pinned, compare
from conftest import redis_raft_only
from harness import encode, parse_info, wait_until


c = differential.split_command


# Sequences whose replies do not depend on the server: errors, and commands
# whose effect stays on the connection. None changes the shared
# redis-server's configuration for good.
SEQUENCES = {
    'time_arity': ['TIME x', 'time a b'],
    'client_errors': [
        'CLIENT', 'CLIENT FOO', 'client foo bar', ['CLIENT', ''], 'CLIENT ID x',
        'CLIENT GETNAME x', 'CLIENT SETNAME', 'CLIENT SETNAME a b', 'CLIENT INFO x',
        'CLIENT HELP x', 'CLIENT GETREDIR x', 'CLIENT NO-EVICT', 'CLIENT NO-EVICT maybe',
        'CLIENT UNBLOCK', 'CLIENT UNBLOCK x', 'CLIENT UNBLOCK 5 foo', 'CLIENT UNBLOCK x foo',
        'CLIENT UNBLOCK 1 error x', 'Client Id 1'],
    'client_name': [
        'CLIENT GETNAME', 'CLIENT SETNAME n1', 'CLIENT GETNAME', 'client setname N-2.x',
        'CLIENT GETNAME', ['CLIENT', 'SETNAME', 'a b'], ['CLIENT', 'SETNAME', 'a\nb'],
        ['CLIENT', 'SETNAME', b'caf\xc3\xa9'], ['CLIENT', 'SETNAME', 'a\x00b'],
        ['CLIENT', 'SETNAME', '~!'], 'CLIENT GETNAME', ['CLIENT', 'SETNAME', ''],
        'CLIENT GETNAME'],
    'client_misc': ['CLIENT GETREDIR', 'CLIENT NO-EVICT on', 'CLIENT NO-EVICT OFF',
                    'CLIENT UNBLOCK 999999', 'CLIENT UNBLOCK 999999 TIMEOUT',
                    'CLIENT UNBLOCK 999999 error'],
    'client_list_errors': [
        'CLIENT LIST TYPE foo', 'CLIENT LIST ID x', 'CLIENT LIST ID 1 x', 'CLIENT LIST ID',
        'CLIENT LIST ID 999999', 'CLIENT LIST ID 999999 999998', 'CLIENT LIST foo',
        'CLIENT LIST TYPE', 'CLIENT LIST TYPE master', 'CLIENT LIST TYPE replica',
        'CLIENT LIST TYPE slave', 'CLIENT LIST TYPE normal ID 3', 'CLIENT LIST ID 3 TYPE normal',
        'CLIENT LIST a b c'],
    'client_kill_errors': [
        'CLIENT KILL', 'CLIENT KILL 1.2.3.4:5', 'CLIENT KILL id', 'CLIENT KILL ID x',
        'CLIENT KILL ID 0', 'CLIENT KILL ID -5', 'CLIENT KILL ID 999999',
        'CLIENT KILL USER foo', 'CLIENT KILL SKIPME maybe', 'CLIENT KILL foo bar',
        'CLIENT KILL ID 5 SKIPME', 'CLIENT KILL TYPE foo', 'CLIENT KILL ADDR 1.2.3.4:5',
        'CLIENT KILL LADDR 1.2.3.4:5', 'CLIENT KILL TYPE master', 'CLIENT KILL TYPE slave',
        'CLIENT KILL ID 999999 USER nobody', 'CLIENT KILL USER nobody ID x',
        'CLIENT KILL ADDR 1.2.3.4:5 TYPE pubsub SKIPME no', 'client kill addr'],
    'config_errors': [
        'CONFIG', 'CONFIG FOO', 'CONFIG GET', 'CONFIG SET a', 'CONFIG SET a b c',
        'CONFIG SET foo 1 bar 2', 'CONFIG SET loglevel foo', 'CONFIG SET LOGLEVEL foo',
        'CONFIG SET maxclients abc', 'CONFIG SET maxclients 1.5',
        'CONFIG SET loglevel notice loglevel warning',
        'CONFIG SET loglevel notice LogLevel warning', 'CONFIG SET databases 2',
        'CONFIG SET loglevel warning databases 2', 'CONFIG SET databases 2 foo 1',
        'CONFIG SET foo 1 databases 2', 'CONFIG SET proto-max-bulk-len abc',
        'CONFIG SET loglevel warning maxclients abc', 'CONFIG GET loglevel',
        'CONFIG RESETSTAT x', 'CONFIG HELP x', 'CONFIG GET nosuchkey',
        'CONFIG GET nosuch*', 'CONFIG GET LogLevel', 'CONFIG GET loglevel LOGLEVEL',
        ],
    'command_errors': ['COMMAND COUNT x', 'COMMAND FOO', 'COMMAND INFO raft.exec',
                       'COMMAND INFO raft.expire', 'COMMAND INFO raft.watch',
                       'COMMAND INFO nosuch', 'COMMAND INFO nosuch RAFT.EXEC'],
    'info_unknown': ['INFO foo', 'INFO foo bar'],
}


@pytest.mark.parametrize('name', sorted(SEQUENCES))
def test_same_replies_as_redis(name, node, redis_server):
    commands = SEQUENCES[name]
    compare(node, redis_server, commands, flush=False)


PINNED = [
    ('CLIENT FOO', b"-ERR unknown subcommand 'FOO'. Try CLIENT HELP.\r\n"),
    ('CLIENT ID x', b"-ERR wrong number of arguments for 'client|id' command\r\n"),
    ('CLIENT SETNAME a\x01', b'-ERR Client names cannot contain spaces, newlines or '
                             b'special characters.\r\n'),
    ('CLIENT KILL 1.2.3.4:5', b'-ERR No such client\r\n'),
    ('CLIENT KILL ID 999999', b':0\r\n'),
    ('CONFIG SET foo 1', b"-ERR Unknown option or number of arguments for CONFIG SET - "
                         b"'foo'\r\n"),
    ('CONFIG SET databases 2', b"-ERR CONFIG SET failed (possibly related to argument "
                               b"'databases') - can't set immutable config\r\n"),
    ('CONFIG GET LogLevel', b'*2\r\n$8\r\nLogLevel\r\n$6\r\nnotice\r\n'),
    ('COMMAND INFO raft.exec', b'*1\r\n$-1\r\n'),
    ('INFO foo', b'$0\r\n\r\n'),
]


@pytest.mark.parametrize('cmd,expected', PINNED, ids=[p[0] for p in PINNED])
def test_pinned_reply(cmd, expected, node, redis_server):
    check_pinned((redis_server, node), [], cmd, expected)


# ---------------------------------------------------------------------------
# TIME


def test_time_is_wall_clock(node):
    with node.raw() as conn:
        before = time.time()
        reply = conn.command('TIME')
        after = time.time()
    m = re.match(rb'^\*2\r\n\$\d+\r\n(\d+)\r\n\$\d+\r\n(\d+)\r\n$', reply)
    assert m, reply
    sec, usec = int(m.group(1)), int(m.group(2))
    assert 0 <= usec < 1000000
    assert before - 1 <= sec + usec / 1e6 <= after + 1


# ---------------------------------------------------------------------------
# CLIENT LIST / INFO


def parse_client_line(line):
    fields = []
    for part in line.split(' '):
        k, sep, v = part.partition('=')
        assert sep == '=', (part, line)
        fields.append((k, v))
    return fields


def bulk_text(reply):
    assert reply.startswith(b'$'), reply[:100]
    return reply[reply.index(b'\r\n') + 2:-2].decode()


def client_lines(conn, *args):
    text = bulk_text(conn.command('CLIENT', 'LIST', *args))
    assert text == '' or text.endswith('\n'), text
    return [dict(parse_client_line(l)) for l in text.split('\n') if l]


def test_client_list_fields_match_redis(node, redis_server):
    """Same field names in the same order as redis-server 7.0's lines."""
    redis_raft_only()  # redis-raft's own fields, keys or table
    names = {}
    for proc in (redis_server, node):
        with proc.raw() as conn:
            text = bulk_text(conn.command('CLIENT', 'INFO'))
            assert text.endswith('\n') and text.count('\n') == 1, text
            names[proc.name] = [k for k, _ in parse_client_line(text[:-1])]
    assert names['redis-raft node 1'] == names['redis-server'], names


def test_client_list_describes_connections(node):
    with node.raw() as a, node.raw() as b:
        ida = int(a.command('CLIENT', 'ID')[1:-2])
        idb = int(b.command('CLIENT', 'ID')[1:-2])
        assert idb > ida
        assert a.command('CLIENT', 'SETNAME', 'alpha') == b'+OK\r\n'
        assert a.command('PING') == b'+PONG\r\n'
        lines = client_lines(b)
        ids = [int(l['id']) for l in lines]
        assert ids == sorted(ids), ids          # oldest first, as Redis
        by_id = {int(l['id']): l for l in lines}
        la, lb = by_id[ida], by_id[idb]
        assert la['name'] == 'alpha' and la['cmd'] == 'ping', la
        assert lb['name'] == '' and lb['cmd'] == 'client|list', lb
        assert la['flags'] == 'N' and la['multi'] == '-1' and la['resp'] == '2'
        assert la['db'] == '0' and la['user'] == 'default' and la['redir'] == '-1'
        assert lb['laddr'] == '127.0.0.1:%d' % node.port
        assert lb['addr'] == '%s:%d' % b.sock.getsockname()
        assert int(la['age']) >= 0 and int(la['idle']) >= 0
        assert int(la['fd']) > 0
        # ID filter: in the order given, unknown ids skipped.
        only = client_lines(b, 'ID', str(idb), '999999', str(ida))
        assert [int(l['id']) for l in only] == [idb, ida]
        # CLIENT INFO is the caller's own line.
        mine = parse_client_line(bulk_text(a.command('CLIENT', 'INFO'))[:-1])
        assert dict(mine)['id'] == str(ida) and dict(mine)['cmd'] == 'client|info'


def test_client_list_flags_pubsub_and_multi(node):
    with node.raw() as sub, node.raw() as tx, node.raw() as obs:
        sid = int(sub.command('CLIENT', 'ID')[1:-2])
        tid = int(tx.command('CLIENT', 'ID')[1:-2])
        sub.send(encode('SUBSCRIBE', 'ch1', 'ch2'))
        sub.read_replies(2)
        sub.send(encode('PSUBSCRIBE', 'p*'))
        sub.read_reply()
        assert tx.command('MULTI') == b'+OK\r\n'
        assert tx.command('SET', 'k', 'v') == b'+QUEUED\r\n'
        assert tx.command('GET', 'k') == b'+QUEUED\r\n'
        by_id = {int(l['id']): l for l in client_lines(obs)}
        assert by_id[sid]['flags'] == 'P', by_id[sid]
        assert (by_id[sid]['sub'], by_id[sid]['psub']) == ('2', '1')
        assert by_id[tid]['flags'] == 'x' and by_id[tid]['multi'] == '2', by_id[tid]
        pubsub = client_lines(obs, 'TYPE', 'pubsub')
        assert [int(l['id']) for l in pubsub] == [sid]
        normal = [int(l['id']) for l in client_lines(obs, 'type', 'NORMAL')]
        assert tid in normal and sid not in normal
        assert client_lines(obs, 'TYPE', 'master') == []
        info = parse_info(obs.command('INFO', 'stats'))
        assert int(info['pubsub_channels']) >= 2 and int(info['pubsub_patterns']) >= 1
        assert tx.command('DISCARD') == b'+OK\r\n'
        by_id = {int(l['id']): l for l in client_lines(obs)}
        assert by_id[tid]['flags'] == 'N' and by_id[tid]['multi'] == '-1'


def test_client_list_and_info_resp3_verbatim(node):
    with node.raw() as conn:
        assert conn.command('HELLO', '3').startswith(b'%')
        for args in (('CLIENT', 'LIST'), ('CLIENT', 'INFO'), ('INFO',),
                     ('INFO', 'stats')):
            reply = conn.command(*args)
            assert re.match(rb'^=\d+\r\ntxt:', reply), (args, reply[:60])
        line = conn.command('CLIENT', 'INFO')
        assert b' resp=3\n' in line, line
        assert conn.command('CLIENT', 'GETNAME') == b'_\r\n'
        reply = conn.command('CONFIG', 'GET', 'loglevel')
        assert reply == b'%1\r\n$8\r\nloglevel\r\n$6\r\nnotice\r\n', reply
        reply = conn.command('COMMAND', 'INFO', 'raft.exec')
        assert reply == b'*1\r\n_\r\n', reply


# ---------------------------------------------------------------------------
# CLIENT KILL


def closed_by_server(conn, timeout=harness.REPLY_TIMEOUT):
    """True once the server closed conn (EOF), after reading what it sent."""
    try:
        conn.read_until_closed(timeout)
        return True
    except (harness.TimeoutExpired, ConnectionError, socket.timeout):
        return False


def test_client_kill_old_form(fresh_node):
    with fresh_node.raw() as victim, fresh_node.raw() as killer:
        assert victim.command('PING') == b'+PONG\r\n'
        addr = '%s:%d' % victim.sock.getsockname()
        assert killer.command('CLIENT', 'KILL', addr) == b'+OK\r\n'
        assert closed_by_server(victim)
        assert killer.command('CLIENT', 'KILL', addr) == b'-ERR No such client\r\n'
        # The old form kills the caller too: the reply comes first.
        mine = '%s:%d' % killer.sock.getsockname()
        killer.send(encode('CLIENT', 'KILL', mine) + encode('PING'))
        assert killer.read_until_closed() == b'+OK\r\n'
    assert_alive(fresh_node)


def assert_alive(node):
    with node.raw() as conn:
        assert conn.command('PING') == b'+PONG\r\n'


def test_client_kill_filters(fresh_node):
    node = fresh_node
    with node.raw() as a, node.raw() as b, node.raw() as s, node.raw() as me:
        ida = int(a.command('CLIENT', 'ID')[1:-2])
        b.command('PING')
        s.send(encode('SUBSCRIBE', 'news'))
        s.read_reply()
        # ID
        assert me.command('CLIENT', 'KILL', 'ID', str(ida)) == b':1\r\n'
        assert closed_by_server(a)
        assert me.command('CLIENT', 'KILL', 'ID', str(ida)) == b':0\r\n'
        # TYPE pubsub kills only subscribers.
        assert me.command('CLIENT', 'KILL', 'TYPE', 'pubsub') == b':1\r\n'
        assert closed_by_server(s)
        # ADDR and LADDR must both match.
        baddr = '%s:%d' % b.sock.getsockname()
        laddr = '127.0.0.1:%d' % node.port
        assert me.command('CLIENT', 'KILL', 'ADDR', baddr, 'LADDR', '127.0.0.1:1') == b':0\r\n'
        assert me.command('CLIENT', 'KILL', 'ADDR', baddr, 'LADDR', laddr) == b':1\r\n'
        assert closed_by_server(b)
        # SKIPME yes (the default) spares the caller.
        assert me.command('CLIENT', 'KILL', 'USER', 'default') == b':0\r\n'
        assert me.command('CLIENT', 'KILL', 'LADDR', laddr, 'SKIPME', 'yes') == b':0\r\n'
        # SKIPME no: the count comes back, then the connection closes.
        me.send(encode('CLIENT', 'KILL', 'USER', 'default', 'SKIPME', 'no') + encode('PING'))
        assert me.read_until_closed() == b':1\r\n'
    assert_alive(node)


def test_client_kill_type_normal_spares_caller(fresh_node):
    node = fresh_node
    others = [node.raw() for _ in range(5)]
    try:
        for o in others:
            assert o.command('PING') == b'+PONG\r\n'
        with node.raw() as me:
            assert me.command('CLIENT', 'KILL', 'TYPE', 'normal') == b':5\r\n'
            for o in others:
                assert closed_by_server(o)
            assert len(client_lines(me)) == 1
            info = parse_info(me.command('INFO', 'clients'))
            assert info['connected_clients'] == '1'
    finally:
        for o in others:
            o.close()


def test_client_kill_while_victim_waits_for_replies(fresh_node):
    """A victim with commands in flight through the log: its replies are
    dropped, the node stays healthy."""
    node = fresh_node
    with node.raw() as victim, node.raw() as me:
        vid = victim.command('CLIENT', 'ID')[1:-2].decode()
        victim.send(b''.join(encode('INCR', 'n') for _ in range(2000)))
        assert me.command('CLIENT', 'KILL', 'ID', vid) in (b':1\r\n', b':0\r\n')
        assert closed_by_server(victim, timeout=harness.scaled(10))
        reply = me.command('GET', 'n')
        assert reply.startswith(b'$'), reply
    assert_alive(node)


def test_client_kill_of_paused_connections(fresh_node):
    """Victims paused by backpressure (waiting in the node's resume list)
    killed by a command that itself runs from that list: regression for a
    NULL dereference in conn_close (the list was detached while walked)."""
    node = fresh_node
    for attempt in range(6):
        victims = [node.raw() for _ in range(10)]
        try:
            with node.raw() as killer:
                for v in victims:
                    v.send(b''.join(encode('INCR', 'n') for _ in range(20000)))
                n = attempt * 500
                killer.send(b''.join(encode('INCR', 'm') for _ in range(n)) +
                            encode('CLIENT', 'KILL', 'TYPE', 'normal'))
                replies = killer.read_replies(n + 1, timeout=harness.scaled(60))
                assert re.match(rb'^:\d+\r\n$', replies[-1]), replies[-1]
        finally:
            for v in victims:
                v.close()
        assert_alive(node)


# ---------------------------------------------------------------------------
# CONFIG


def config_map(reply):
    """CONFIG GET's RESP2 reply as a list of (name, value)."""
    parts = harness.split_replies(reply[reply.index(b'\r\n') + 2:])
    vals = [bulk_text(p) for p in parts]
    return list(zip(vals[0::2], vals[1::2]))


def test_config_get_patterns(node):
    redis_raft_only()  # redis-raft's own fields, keys or table
    with node.raw() as conn:
        got = config_map(conn.command('CONFIG', 'GET', 'snapshot-*', 'SNAPSHOT-THRESHOLD',
                                      '*-trailing', 'loglevel'))
        assert [k for k, _ in got] == ['snapshot-threshold', 'snapshot-trailing',
                                       'loglevel'], got
        got = dict(config_map(conn.command('CONFIG', 'GET', '*')))
        for key in ('port', 'raft-port', 'maxclients', 'save', 'appendonly',
                    'follower-proxy', 'loglevel'):
            assert key in got, key
        assert got['port'] == str(node.port)
        got = config_map(conn.command('CONFIG', 'GET', 'max?lients', 'm[a-b]xclients',
                                      'maxclients'))
        assert got == [('maxclients', '10000')], got
        assert conn.command('CONFIG', 'GET', '[') == b'*0\r\n'
        assert config_map(conn.command('CONFIG', 'GET', 'LOG*')) == [
            ('loglevel', 'notice'), ('logfile', node.logfile)]


def test_config_set_is_atomic(fresh_node):
    with fresh_node.raw() as conn:
        assert conn.command('CONFIG', 'SET', 'maxclients', '500', 'loglevel', 'warning',
                            'follower-proxy', 'no') == b'+OK\r\n'
        assert config_map(conn.command('CONFIG', 'GET', 'maxclients', 'loglevel',
                                       'follower-proxy')) == [
            ('maxclients', '500'), ('loglevel', 'warning'), ('follower-proxy', 'no')]
        # Any bad pair: nothing changes, and the error names it.
        for args, err in [
                (('maxclients', '600', 'loglevel', 'loud'),
                 b"-ERR CONFIG SET failed (possibly related to argument 'loglevel') - "
                 b"argument(s) must be one of the following: debug, verbose, notice, "
                 b"warning\r\n"),
                (('maxclients', '600', 'port', '1'),
                 b"-ERR CONFIG SET failed (possibly related to argument 'port') - "
                 b"can't set immutable config\r\n"),
                (('maxclients', '600', 'nokey', '1'),
                 b"-ERR Unknown option or number of arguments for CONFIG SET - "
                 b"'nokey'\r\n"),
                (('maxclients', '600', 'MaxClients', '700'),
                 b"-ERR CONFIG SET failed (possibly related to argument 'MaxClients') - "
                 b"duplicate parameter\r\n"),
                (('loglevel', 'debug', 'maxclients', '0'),
                 b"-ERR CONFIG SET failed (possibly related to argument 'maxclients') - "
                 b"argument must be between 1 and 1000000 inclusive\r\n"),
                (('follower-proxy', 'yes', 'proto-max-bulk-len', '12q'),
                 b"-ERR CONFIG SET failed (possibly related to argument "
                 b"'proto-max-bulk-len') - argument must be a memory value\r\n"),
                (('follower-proxy', 'maybe'),
                 b"-ERR CONFIG SET failed (possibly related to argument "
                 b"'follower-proxy') - argument must be 'yes' or 'no'\r\n")]:
            assert conn.command('CONFIG', 'SET', *args) == err, args
            assert config_map(conn.command('CONFIG', 'GET', 'maxclients', 'loglevel',
                                           'follower-proxy')) == [
                ('maxclients', '500'), ('loglevel', 'warning'), ('follower-proxy', 'no')]
        # Read-only compatibility keys accept their own value only.
        assert conn.command('CONFIG', 'SET', 'save', '', 'appendonly', 'yes') == b'+OK\r\n'
        assert conn.command('CONFIG', 'SET', 'appendonly', 'no').startswith(
            b"-ERR CONFIG SET failed (possibly related to argument 'appendonly')")
        assert conn.command('CONFIG', 'SET', 'proto-max-bulk-len', '2mb') == b'+OK\r\n'
        assert config_map(conn.command('CONFIG', 'GET', 'proto-max-bulk-len')) == [
            ('proto-max-bulk-len', str(2 * 1024 * 1024))]


def test_config_help(node, redis_server):
    with node.raw() as conn:
        reply = conn.command('CONFIG', 'HELP')
    lines = harness.split_replies(reply[reply.index(b'\r\n') + 2:])
    assert all(l.startswith(b'+') for l in lines)
    assert lines[0] == b'+CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n'
    assert b'+RESETSTAT\r\n' in lines and lines[-1] == b'+    Prints this help.\r\n'
    # Every line is one of redis-server's.
    with redis_server.raw() as conn:
        want = harness.split_replies(
            conn.command('CONFIG', 'HELP').split(b'\r\n', 1)[1])
    assert set(lines) <= set(want)


def test_client_help(node, redis_server):
    with node.raw() as conn:
        reply = conn.command('CLIENT', 'HELP')
    lines = harness.split_replies(reply[reply.index(b'\r\n') + 2:])
    with redis_server.raw() as conn:
        want = harness.split_replies(
            conn.command('CLIENT', 'HELP').split(b'\r\n', 1)[1])
    assert set(lines) <= set(want)
    for sub in (b'KILL', b'LIST', b'SETNAME', b'GETNAME', b'ID', b'INFO'):
        assert any(l.startswith(b'+' + sub) for l in lines), sub


# ---------------------------------------------------------------------------
# INFO and statistics


def sections(reply):
    return parse_info(reply)['sections']


def test_info_section_selection(node):
    redis_raft_only()  # redis-raft's own fields, keys or table
    with node.raw() as conn:
        dflt = sections(conn.command('INFO'))
        assert 'Commandstats' not in dflt
        assert dflt == ['Server', 'Clients', 'Memory', 'Persistence', 'Stats',
                        'Cluster', 'Raft', 'Keyspace'], dflt
        assert sections(conn.command('INFO', 'default')) == dflt
        everything = dflt[:5] + ['Commandstats'] + dflt[5:]
        assert sections(conn.command('INFO', 'all')) == everything
        assert sections(conn.command('INFO', 'EVERYTHING')) == everything
        assert sections(conn.command('INFO', 'default', 'commandstats')) == everything
        assert sections(conn.command('INFO', 'keyspace', 'STATS', 'clients')) == [
            'Clients', 'Stats', 'Keyspace']
        assert sections(conn.command('INFO', 'commandstats')) == ['Commandstats']
        assert sections(conn.command('INFO', 'stats', 'nosuch')) == ['Stats']
        assert sections(conn.command('INFO', 'raft', 'raft')) == ['Raft']


def test_info_keyspace_and_expired_keys(fresh_node):
    with fresh_node.raw() as conn:
        base = int(parse_info(conn.command('INFO', 'stats'))['expired_keys'])
        assert conn.command('SET', 'a', '1') == b'+OK\r\n'
        assert conn.command('SET', 'b', '1', 'EX', '1000') == b'+OK\r\n'
        assert conn.command('SET', 'c', '1', 'PX', '300') == b'+OK\r\n'
        info = parse_info(conn.command('INFO', 'keyspace'))
        assert info['db0'] == 'keys=3,expires=2,avg_ttl=0', info

        wait_until(lambda: conn.command('EXISTS', 'c') == b':0\r\n', what='c to expire')

        def expired():
            conn.command('GETDEL', 'c')  # a write: deletes c (lazy expiry)
            return int(parse_info(conn.command('INFO', 'stats'))['expired_keys']) > base
        wait_until(expired, what='expired_keys to count c')
        info = parse_info(conn.command('INFO', 'keyspace'))
        assert info['db0'] == 'keys=2,expires=1,avg_ttl=0', info
        assert conn.command('CONFIG', 'RESETSTAT') == b'+OK\r\n'
        assert parse_info(conn.command('INFO', 'stats'))['expired_keys'] == '0'


CMDSTAT = re.compile(r'^calls=(\d+),usec=(\d+),usec_per_call=(\d+\.\d\d),'
                     r'rejected_calls=(\d+),failed_calls=(\d+)$')


def commandstats(conn):
    info = parse_info(conn.command('INFO', 'commandstats'))
    out = {}
    for k, v in info.items():
        if k.startswith('cmdstat_'):
            m = CMDSTAT.match(v)
            assert m, (k, v)
            out[k[len('cmdstat_'):]] = tuple(int(x) if '.' not in x else float(x)
                                             for x in m.groups())
    return out


def test_commandstats_and_resetstat(fresh_node):
    with fresh_node.raw() as conn:
        assert conn.command('CONFIG', 'RESETSTAT') == b'+OK\r\n'
        stats = commandstats(conn)
        assert set(stats) <= {'config'}, stats   # RESETSTAT itself may count
        for _ in range(3):
            assert conn.command('PING') == b'+PONG\r\n'
        assert conn.command('SET', 'k', 'v') == b'+OK\r\n'
        assert conn.command('GET', 'k') == b'$1\r\nv\r\n'
        conn.command('GET', 'a', 'b')          # wrong arity: rejected
        conn.command('INCR', 'k')              # error reply: failed

        def counted():
            s = commandstats(conn)
            return s.get('incr', (0,) * 5)[4] >= 1 and s
        stats = wait_until(counted, what='commandstats to count INCR')
        assert stats['ping'][0] == 3, stats
        assert stats['set'][0] == 1 and stats['get'][3] == 1, stats
        calls, usec, per_call = stats['ping'][:3]
        assert abs(per_call - usec / calls) < 0.01
        info = parse_info(conn.command('INFO', 'stats'))
        assert int(info['total_commands_processed']) >= 6
        assert conn.command('CONFIG', 'RESETSTAT') == b'+OK\r\n'
        info = parse_info(conn.command('INFO', 'stats'))
        assert int(info['total_commands_processed']) <= 2, info
        assert int(info['total_connections_received']) == 0, info
        assert set(commandstats(conn)) <= {'config', 'info'}


# ---------------------------------------------------------------------------
# COMMAND


def test_command_hides_internal_commands(node):
    redis_raft_only()  # redis-raft's own fields, keys or table
    with node.raw() as conn:
        count = int(conn.command('COMMAND', 'COUNT')[1:-2])
        reply = conn.command('COMMAND')
        assert reply.startswith(b'*%d\r\n' % count), reply[:20]
        names = re.findall(rb'\*10\r\n\$\d+\r\n([^\r]+)\r\n', reply)
        assert len(names) == count
        assert b'get' in names and b'client' in names and b'time' in names
        assert not [n for n in names if n in (b'raft.exec', b'raft.expire', b'raft.watch')]
        assert conn.command('COMMAND', 'INFO') == reply
        assert conn.command('COMMAND', 'INFO', 'RAFT.EXEC', 'get').startswith(
            b'*2\r\n$-1\r\n*10\r\n$3\r\nget\r\n')
