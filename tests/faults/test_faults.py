"""The short fault run: each fault family for a few seconds against a real
3-node cluster (snapshots forced often), every history checked; and
regression scenarios for the Redis-Raft bugs Jepsen published in 2020.

Network faults need root and network namespaces (netenv.py); without them
those tests skip with the reason and the rest run on loopback. A failing
run keeps its directory (history, node logs, seed) and prints the command
that replays it. FAULT_SECONDS sets each family's duration (default 12).
"""

import os
import time

import pytest

import netenv
import runner
import workload

SECONDS = float(os.environ.get('FAULT_SECONDS', '12'))
NETNS_OK, NETNS_REASON = netenv.available()


def need_netns():
    if not NETNS_OK:
        pytest.skip('network namespaces unavailable: %s' % NETNS_REASON)


def assert_run(ok, report):
    detail = []
    for name, res in report.get('results', {}).items():
        if res['valid'] is not True:
            detail.append('%s: %s %s' % (name, res['valid'], res['anomalies'][:5]))
    if report.get('crashed'):
        detail.append('nodes exited by themselves: %s' % report['crashed'])
    assert ok, ('fault run failed (seed %d); history, logs and seed kept in %s\n'
                'replay: %s\n%s' % (report['seed'], report['workdir'], report['replay'],
                                    '\n'.join(detail)))
    ops = report['ops']
    # The run must have done real work, or it proves nothing.
    assert ops['ok'] >= 50, ops


@pytest.mark.parametrize('family', ['partition-leader', 'partition-halves',
                                    'partition-oneway'])
def test_network_partitions(family):
    need_netns()
    ok, report = runner.run_once(SECONDS, [family])
    assert report['faults'].get(family, 0) >= 1, report['faults']
    assert_run(ok, report)


@pytest.mark.parametrize('family', ['kill', 'kill-leader', 'pause', 'pause-leader'])
def test_process_faults(family):
    ok, report = runner.run_once(SECONDS, [family], use_netns=NETNS_OK)
    assert report['faults'].get(family, 0) >= 1, report['faults']
    assert_run(ok, report)


def test_disk_full():
    need_netns()  # the tmpfs is mounted by netenv (root)
    ok, report = runner.run_once(SECONDS, ['disk-full'])
    assert report['faults'].get('disk-full', 0) >= 1, report['faults']
    assert_run(ok, report)


def test_clock_skew():
    if not (os.access(runner.FAKETIME_BIN, os.X_OK)):
        pytest.skip('clock skew needs a libc-malloc build at %s (libfaketime deadlocks '
                    'with jemalloc)' % runner.FAKETIME_BIN)
    ok, report = runner.run_once(SECONDS, ['clock-skew'], use_netns=NETNS_OK)
    assert report['faults'].get('clock-skew', 0) >= 1, report['faults']
    assert_run(ok, report)


def test_membership():
    """Members removed (down to one voter in the first fault, a SIGKILLed
    member removed before live ones at times) and fresh nodes joined back
    while registers and counters run: the histories check, every removed
    node exits by itself, the cluster ends with its original voters, and
    writes never stop for long (spec: about one election)."""
    ok, report = runner.run_once(2 * SECONDS, ['membership'], use_netns=NETNS_OK,
                                 workloads=('register', 'counter'))
    assert report['faults'].get('membership', 0) >= 1, report['faults']
    assert_run(ok, report)
    stats = report['results']['membership']['stats']
    assert stats['min_voters'] == 1 and stats['joined'] >= 2, stats
    assert stats['max_write_gap_s'] < 5.0, stats


def test_bank_transactions():
    """The bank workload (WATCH + MULTI/EXEC transfers between accounts,
    MGET and MULTI/EXEC reads) under a killed and, with namespaces, an
    isolated leader: no read sees a partial transfer, every acknowledged
    transfer is in the final balances, no aborted (null EXEC) one is."""
    families = ['kill-leader'] + (['partition-leader'] if NETNS_OK else [])
    ok, report = runner.run_once(SECONDS, families, use_netns=NETNS_OK,
                                 workloads=('bank',), workers_per_workload=4)
    assert sum(report['faults'].values()) >= 1, report['faults']
    assert_run(ok, report)
    per = report['results']['bank']['stats']['per_key']
    assert sum(st.get('ok_transfers', 0) for st in per.values()) >= 20, per
    assert sum(st.get('ok_reads', 0) for st in per.values()) >= 10, per
    # contention: some EXECs aborted on a changed WATCH
    assert sum(st.get('failed_transfers', 0) for st in per.values()) >= 1, per


# ---------------------------------------------------------------------------
# Regressions: the Redis-Raft bugs Jepsen found in 2020
# (https://jepsen.io/analyses/redis-raft-1b3fbf6).


def test_regression_no_data_lost_on_failover():
    """Acknowledged writes survive the leader's SIGKILL, again and again."""
    ok, report = runner.run_once(SECONDS, ['kill-leader'], use_netns=NETNS_OK)
    assert_run(ok, report)


def test_regression_no_stale_read_after_pause():
    """A paused leader, deposed meanwhile, serves no stale read when it
    resumes (every read goes through the log)."""
    with runner.Run(nodes=3, families=['pause-leader'], use_netns=NETNS_OK) as run:
        old = run.wait_leader()
        key = 'stale'
        run.command(old, 'SET', key, 'v1')
        old.pause()
        try:
            others = [n for n in run.nodes.values() if n is not old]
            new = runner.wait_until(
                lambda: next((n for n in others
                              if run.raft_info(n).get('raft_role') == 'leader'), None),
                30, 'a new leader while the old one is paused')
            run.command(new, 'SET', key, 'v2', timeout=10)
        finally:
            old.resume()
        # The old leader answers only with the new value (or an error while
        # it learns it was deposed), never the stale v1.
        deadline = time.monotonic() + 20
        seen = []
        while time.monotonic() < deadline:
            try:
                v = run.command(old, 'GET', key, timeout=5)
            except (workload.Error, workload.Closed, OSError) as e:
                seen.append('error: %s' % e)
                continue
            seen.append(v)
            if v == 'v2':
                break
        assert 'v1' not in seen, seen
        assert seen and seen[-1] == 'v2', seen


def test_regression_no_lost_updates_in_split_brain():
    """Counters under a partitioned leader: both sides take INCRs; the final
    value accounts for every acknowledged one and no more than the unknown
    ones (checked by the counter checker)."""
    need_netns()
    ok, report = runner.run_once(SECONDS, ['partition-leader', 'partition-halves'])
    assert_run(ok, report)


def test_regression_no_error_for_committed_write():
    """A write that committed is never reported as a definite failure: the
    checkers flag any failed append or write whose value is visible."""
    families = ['kill-leader', 'pause-leader'] + (
        ['partition-leader'] if NETNS_OK else [])
    ok, report = runner.run_once(SECONDS, families, use_netns=NETNS_OK)
    assert_run(ok, report)
    for name in ('register', 'list'):
        kinds = {a['kind'] for a in report['results'][name]['anomalies']}
        assert not kinds & {'read-of-failed-write', 'failed-append-visible'}, kinds


def test_regression_restart_after_kills_during_snapshots():
    """Nodes SIGKILLed while snapshotting (threshold 16, so always) restart
    and serve; nothing acknowledged is lost."""
    ok, report = runner.run_once(SECONDS, ['kill', 'kill-leader'], use_netns=NETNS_OK,
                                 options={'snapshot-threshold': 16,
                                          'snapshot-trailing': 8})
    assert_run(ok, report)
    assert not report['crashed'], report['crashed']


def test_teardown_leaves_nothing_behind():
    """A run that fails half-way still removes its namespaces and mounts."""
    need_netns()
    run = runner.Run(nodes=3, families=['disk-full'])
    prefix = run.net.prefix
    try:
        run.setup()
        raise RuntimeError('simulated failure')
    except RuntimeError:
        pass
    finally:
        run.close()
    assert prefix not in os.popen('ip netns list').read()
    with open('/proc/mounts') as f:
        assert run.workdir not in f.read()
    for node in run.nodes.values():
        assert not node.running()
