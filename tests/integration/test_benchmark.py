"""redis-benchmark's full default suite (no -t) against a 3-node cluster.

redis-benchmark 7.0 has no --show-errors: at the first error reply it
prints "Error from server: ..." and exits with status 1 ("-e" is ignored:
"We now immediately exit on error"). So the suite running to its end, every
default test printing a requests-per-second figure, status 0 and no
"Error" in its output is the assertion that the server answered every
default command (strings, lists, sets, hashes, sorted sets, MSET) without
an error.

`--cluster` is not run: redis-benchmark 7.0 refuses a cluster with fewer
than two masters ("Invalid cluster: 1 node(s).") and a redis-raft cluster
is one shard (one master, the leader, owning every slot), as
test_benchmark_cluster_mode_needs_two_masters pins.
"""

import re
import subprocess

import pytest

from harness import scaled

# The default suite of redis-benchmark 7.0, in order.
DEFAULT_TESTS = [
    'PING_INLINE', 'PING_MBULK', 'SET', 'GET', 'INCR', 'LPUSH', 'RPUSH', 'LPOP', 'RPOP',
    'SADD', 'HSET', 'SPOP', 'ZADD', 'ZPOPMIN', 'LPUSH (needed to benchmark LRANGE)',
    'LRANGE_100 (first 100 elements)', 'LRANGE_300 (first 300 elements)',
    'LRANGE_500 (first 500 elements)', 'LRANGE_600 (first 600 elements)',
    'MSET (10 keys)']

RESULT_RE = re.compile(r'^(.+?): ([0-9.]+) requests per second')


def run_benchmark(node, *extra):
    argv = ['redis-benchmark', '-h', node.host, '-p', str(node.port),
            '-n', '1000', '-c', '10', '-q'] + list(extra)
    p = subprocess.run(argv, capture_output=True, timeout=scaled(300),
                       stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout.decode(errors='replace'), p.stderr.decode(errors='replace')


def results(out):
    """{test name: requests per second} from -q output (progress lines end
    in \\r, results in \\n)."""
    rows = []
    for piece in re.split(r'[\r\n]', out):
        m = RESULT_RE.match(piece.strip())
        if m:
            rows.append((m.group(1), float(m.group(2))))
    return rows


@pytest.mark.parametrize('where', ['leader', 'follower'])
def test_redis_benchmark_default_suite(where, cluster):
    node = cluster.wait_for_leader() if where == 'leader' else cluster.followers()[0]
    code, out, err = run_benchmark(node)
    rows = results(out)
    done = [name for name, _ in rows]
    missing = [t for t in DEFAULT_TESTS if t not in done]
    errors = [l.strip() for l in re.split(r'[\r\n]', out + err) if 'rror' in l]
    assert not errors and code == 0 and not missing, (
        'redis-benchmark exited %d after %r; errors %r; missing tests %r\nstderr: %s' % (
            code, done[-1:] if done else None, errors, missing, err[-1000:]))
    assert done == DEFAULT_TESTS, out
    for name, rps in rows:
        assert rps > 0, (name, rps)


def test_benchmark_cluster_mode_needs_two_masters(cluster):
    """Why --cluster is not run: CLUSTER NODES shows one master owning every
    slot, and redis-benchmark 7.0 wants at least two."""
    leader = cluster.wait_for_leader()
    with leader.raw() as c:
        reply = c.command('CLUSTER', 'NODES')
    body = reply.split(b'\r\n', 1)[1].decode()
    masters = [l for l in body.splitlines() if ' master ' in l or 'master,' in l or
               ',master' in l]
    assert len(masters) == 1, body
    assert masters[0].rstrip().endswith('0-16383'), body
    code, out, err = run_benchmark(leader, '--cluster', '-t', 'ping')
    assert code == 1 and 'Invalid cluster: 1 node(s).' in err, (code, out, err)
