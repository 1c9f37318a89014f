"""Tests of checker.py on synthetic histories.

Run: cd tests/faults && /usr/bin/python3 -m pytest -q test_checker.py
"""

import functools
import itertools
import json
import random
import time

import pytest

import checker
from checker import (check_bank, check_counter, check_list, check_register,
                     check_registers, summarize)


# ----------------------------------------------------------------------------
# History building helpers
# ----------------------------------------------------------------------------

class H:
    """Builds a history; each call appends one event with the next index."""

    def __init__(self, key='k'):
        self.ops = []
        self.key = key

    def ev(self, p, type, f, value=None, key=None):
        n = len(self.ops)
        self.ops.append({'process': p, 'type': type, 'f': f,
                         'key': self.key if key is None else key, 'value': value,
                         'time': 1000 * n, 'index': n})
        return self

    def inv(self, p, f, value=None, key=None):
        return self.ev(p, 'invoke', f, value, key)

    def ok(self, p, f, value=None, key=None):
        return self.ev(p, 'ok', f, value, key)

    def fail(self, p, f, value=None, key=None):
        return self.ev(p, 'fail', f, value, key)

    def info(self, p, f, value=None, key=None):
        return self.ev(p, 'info', f, value, key)

    # sequential (non-overlapping) shorthands
    def w(self, p, v, t='ok', key=None):
        self.inv(p, 'write', v, key)
        return self.ev(p, t, 'write', None, key)

    def r(self, p, v, key=None):
        return self.inv(p, 'read', None, key).ok(p, 'read', v, key)

    def incr(self, p, v, t='ok', key=None):
        return self.inv(p, 'incr', None, key).ev(p, t, 'incr', v if t == 'ok' else None, key)

    def app(self, p, e, length, t='ok', key=None):
        return self.inv(p, 'append', e, key).ev(p, t, 'append',
                                                length if t == 'ok' else None, key)


def kinds(result):
    return sorted({a['kind'] for a in result['anomalies']})


def only_kind(result, kind):
    return [a for a in result['anomalies'] if a['kind'] == kind]


def simulate(rng, model, nproc, nops, p_info=0.1, p_fail=0.05, p_applied=0.5,
             info_fs=None, pending_at_end=True):
    """A random concurrent history of an atomic object.

    Each process runs ops back to back with random durations; each op takes
    effect at a random instant inside its interval (an 'info' op: with
    probability p_applied, at any instant after its invoke, possibly long
    after; a 'fail' op: never). model(rng) -> (f, value, apply) where
    apply(state) -> (new state, result). Returns (history, final state)."""
    init, gen = model
    procs = list(range(nproc))
    next_pid = nproc
    free = [rng.random() for _ in range(nproc)]
    recs = []
    for _ in range(nops):
        s = min(range(nproc), key=lambda j: free[j])
        start = free[s]
        dur = rng.expovariate(1.0) + 0.01
        end = start + dur
        f, value, apply = gen(rng)
        u = rng.random()
        if (info_fs is None or f in info_fs) and u < p_info:
            outcome = 'info'
            lin = start + rng.expovariate(0.3) if rng.random() < p_applied else None
        elif (info_fs is None or f in info_fs) and u < p_info + p_fail:
            outcome, lin = 'fail', None
        else:
            outcome, lin = 'ok', rng.uniform(start, end)
        rec = {'pid': procs[s], 'f': f, 'value': value, 'start': start, 'end': end,
               'lin': lin, 'apply': apply, 'outcome': outcome, 'result': None}
        recs.append(rec)
        if outcome == 'info':
            procs[s] = next_pid
            next_pid += 1
        free[s] = end + rng.expovariate(4.0)
    state = init
    for rec in sorted((r for r in recs if r['lin'] is not None), key=lambda r: r['lin']):
        state, rec['result'] = rec['apply'](state)
    last_end = max(r['end'] for r in recs)
    events = []
    for rec in recs:
        events.append((rec['start'], 0, {'process': rec['pid'], 'type': 'invoke',
                                         'f': rec['f'], 'key': 'k', 'value': rec['value']}))
        if pending_at_end and rec['outcome'] == 'info' and rec['end'] > last_end - 1.0:
            continue        # never completed
        events.append((rec['end'], 1, {
            'process': rec['pid'], 'type': rec['outcome'], 'f': rec['f'], 'key': 'k',
            'value': rec['result'] if rec['outcome'] == 'ok' else None}))
    events.sort(key=lambda e: (e[0], e[1]))
    hist = []
    for i, (t, _, op) in enumerate(events):
        op['time'] = int(t * 1e9)
        op['index'] = i
        hist.append(op)
    return hist, state


def register_model(p_write=0.5):
    counter = itertools.count()

    def gen(rng):
        if rng.random() < p_write:
            v = 'v%d' % next(counter)
            return 'write', v, lambda s, v=v: (v, None)
        return 'read', None, lambda s: (s, s)
    return None, gen


def counter_model(p_incr=0.6):
    def gen(rng):
        if rng.random() < p_incr:
            return 'incr', None, lambda s: (s + 1, s + 1)
        return 'read', None, lambda s: (s, s)
    return 0, gen


def list_model(p_append=0.6):
    counter = itertools.count()

    def gen(rng):
        if rng.random() < p_append:
            e = 'e%d' % next(counter)
            return 'append', e, lambda s, e=e: (s + (e,), len(s) + 1)
        return 'read', None, lambda s: (s, list(s))
    return (), gen


# ----------------------------------------------------------------------------
# Brute-force oracles (independent of the WGL code)
# ----------------------------------------------------------------------------

def _oracle(ops, init, step):
    """Is there a linearization? ops: list of (call, ret or inf, mandatory,
    payload). Enumerates the subsets of optional ops, then orders by DFS
    with memoization on (remaining set, state)."""
    mand = [i for i, o in enumerate(ops) if o[2]]
    opt = [i for i, o in enumerate(ops) if not o[2]]
    for k in range(len(opt) + 1):
        for chosen in itertools.combinations(opt, k):
            S = frozenset(mand) | frozenset(chosen)

            @functools.lru_cache(maxsize=None)
            def go(remaining, state):
                if not remaining:
                    return True
                for x in remaining:
                    # x can go next iff no other remaining op returned before x's call
                    if any(ops[y][1] < ops[x][0] for y in remaining if y != x):
                        continue
                    ns = step(state, ops[x][3])
                    if ns is not checker._ILLEGAL and go(remaining - {x}, ns):
                        return True
                return False
            if go(S, init):
                return True
    return False


def register_oracle(hist):
    ops = []
    for o in checker.pair_history(hist):
        if o.f == 'write' and o.type != 'fail':
            ops.append((o.call, o.ret if o.type == 'ok' else float('inf'),
                        o.type == 'ok', ('w', o.value)))
        elif o.f == 'read' and o.type == 'ok':
            ops.append((o.call, o.ret, True, ('r', o.result)))

    def step(s, p):
        if p[0] == 'w':
            return p[1]
        return s if s == p[1] else checker._ILLEGAL
    return _oracle(ops, None, step)


def counter_oracle(hist):
    ops = []
    for o in checker.pair_history(hist):
        if o.f == 'incr' and o.type != 'fail':
            ops.append((o.call, o.ret if o.type == 'ok' else float('inf'),
                        o.type == 'ok', ('i', o.result if o.type == 'ok' else None)))
        elif o.f == 'read' and o.type == 'ok':
            ops.append((o.call, o.ret, True, ('r', o.result or 0)))

    def step(s, p):
        if p[0] == 'i':
            return s + 1 if p[1] is None or p[1] == s + 1 else checker._ILLEGAL
        return s if s == p[1] else checker._ILLEGAL
    return _oracle(ops, 0, step)


# ----------------------------------------------------------------------------
# History pairing
# ----------------------------------------------------------------------------

def test_pairing_unfinished_invokes_are_info():
    h = H().inv(0, 'write', 'a').inv(1, 'read').ok(1, 'read', None)
    ops = checker.pair_history(h.ops)
    assert [o.type for o in ops] == ['info', 'ok']
    assert ops[0].ret is None


def test_pairing_uses_index_not_list_order():
    h = H().w(0, 'a').r(1, 'a')
    shuffled = list(reversed(h.ops))
    assert check_register(shuffled)['valid'] is True


@pytest.mark.parametrize('ops', [
    [{'process': 0, 'type': 'ok', 'f': 'read', 'key': 'k', 'value': None, 'index': 0}],
    H().inv(0, 'read').inv(0, 'read').ops,
    H().inv(0, 'read').ok(0, 'write').ops,
    H().inv(0, 'read').ev(0, 'bogus', 'read').ops,
])
def test_malformed_history_raises(ops):
    with pytest.raises(ValueError):
        check_registers(ops)


def test_extra_fields_and_bytes_tolerated():
    h = H().w(0, 'a').r(1, b'a')
    for op in h.ops:
        op['workload'] = 'register'
    assert check_register(h.ops)['valid'] is True


# ----------------------------------------------------------------------------
# A. Registers
# ----------------------------------------------------------------------------

def test_register_empty_and_initial_none():
    assert check_register([])['valid'] is True
    assert check_register(H().r(0, None).ops)['valid'] is True


def test_register_sequential_valid():
    h = H().r(0, None).w(0, 'a').r(1, 'a').w(1, 'b').r(0, 'b').r(2, 'b')
    r = check_register(h.ops)
    assert r['valid'] is True and r['anomalies'] == []


@pytest.mark.parametrize('seen', [None, 'a'])
def test_register_read_concurrent_with_write_sees_either(seen):
    h = H().inv(0, 'write', 'a').inv(1, 'read').ok(1, 'read', seen).ok(0, 'write')
    assert check_register(h.ops)['valid'] is True


def test_register_concurrent_writes_any_order_then_stable():
    base = H().inv(0, 'write', 'a').inv(1, 'write', 'b').ok(0, 'write').ok(1, 'write')
    for v in ('a', 'b'):
        h = H()
        h.ops = [dict(o) for o in base.ops]
        h.r(2, v).r(3, v)
        assert check_register(h.ops)['valid'] is True
    h = H()
    h.ops = [dict(o) for o in base.ops]
    h.r(2, 'a').r(3, 'b')       # the value changed after both writes completed
    r = check_register(h.ops)
    assert r['valid'] is False and kinds(r) == ['nonlinearizable']


def test_register_overlapping_ops_that_allow_a_linearization():
    # w(a) overlaps r->b which overlaps w(b); r->a after w(b) started too
    h = (H().inv(0, 'write', 'a').inv(1, 'write', 'b').inv(2, 'read')
         .ok(0, 'write').inv(0, 'read').ok(2, 'read', 'a').ok(0, 'read', 'b')
         .ok(1, 'write').r(3, 'b'))
    assert check_register(h.ops)['valid'] is True


def test_register_classic_nonlinearizable():
    # w1 ok, then w2 ok, then a read starting after w2 completed returns 1
    h = H().w(0, '1').w(1, '2').r(2, '1')
    r = check_register(h.ops)
    assert r['valid'] is False
    [a] = only_kind(r, 'nonlinearizable')
    assert a['key'] == 'k'
    assert a['op']['f'] == 'read' and a['op']['result'] == '1'
    assert a['linearized_count'] == 2
    assert [o['value'] for o in a['last_linearized']] == ['1', '2']
    assert a['state_before'] == repr('2')
    assert any(o['f'] == 'read' for o in a['window'])
    json.dumps(r)       # anomalies are plain data


def test_register_stale_read_after_completed_write():
    h = H().w(0, 'a').r(1, None)
    r = check_register(h.ops)
    assert r['valid'] is False and kinds(r) == ['nonlinearizable']
    assert only_kind(r, 'nonlinearizable')[0]['op']['result'] is None


def test_register_read_from_the_future():
    h = H().r(0, 'a').w(1, 'a')
    assert check_register(h.ops)['valid'] is False


def test_register_nonmonotonic_reads_while_write_pending():
    # both reads overlap w(a), but once a read saw a, a later one can't see None
    h = (H().inv(0, 'write', 'a').r(1, 'a').r(2, None).ok(0, 'write'))
    assert check_register(h.ops)['valid'] is False
    h = (H().inv(0, 'write', 'a').r(1, None).r(2, 'a').ok(0, 'write'))
    assert check_register(h.ops)['valid'] is True


@pytest.mark.parametrize('optimize', [True, False])
def test_register_info_write_took_effect(optimize):
    h = H().w(0, 'a').w(1, 'b', t='info').r(2, 'b').r(3, 'b')
    assert check_register(h.ops, optimize=optimize)['valid'] is True


@pytest.mark.parametrize('optimize', [True, False])
def test_register_info_write_did_not_take_effect(optimize):
    h = H().w(0, 'a').w(1, 'b', t='info').r(2, 'a').r(3, 'a')
    assert check_register(h.ops, optimize=optimize)['valid'] is True


@pytest.mark.parametrize('optimize', [True, False])
def test_register_info_write_takes_effect_much_later(optimize):
    # no upper bound on when an unknown write lands
    h = H().w(0, 'a').w(1, 'b', t='info').r(2, 'a').r(3, 'a').r(2, 'a').r(4, 'b')
    assert check_register(h.ops, optimize=optimize)['valid'] is True


@pytest.mark.parametrize('optimize', [True, False])
def test_register_info_write_cannot_take_effect_twice(optimize):
    h = H().w(0, 'a').w(1, 'b', t='info').r(2, 'b').r(3, 'a')
    r = check_register(h.ops, optimize=optimize)
    assert r['valid'] is False and kinds(r) == ['nonlinearizable']


@pytest.mark.parametrize('optimize', [True, False])
def test_register_info_write_cannot_land_before_its_invoke(optimize):
    h = H().w(0, 'a').r(2, 'b').w(1, 'b', t='info')
    assert check_register(h.ops, optimize=optimize)['valid'] is False


@pytest.mark.parametrize('optimize', [True, False])
def test_register_pending_write_at_end_is_info(optimize):
    h = H().w(0, 'a').inv(1, 'write', 'b').r(2, 'b')
    assert check_register(h.ops, optimize=optimize)['valid'] is True
    h = H().w(0, 'a').inv(1, 'write', 'b').r(2, 'b').r(3, 'a')
    assert check_register(h.ops, optimize=optimize)['valid'] is False


def test_register_info_write_overwritten_by_later_write():
    # b (unknown) may land before c: reads see b then c
    h = H().w(1, 'b', t='info').r(0, None).r(0, 'b').w(2, 'c').r(0, 'c')
    assert check_register(h.ops)['valid'] is True


def test_register_failed_write_is_dropped():
    h = H().w(0, 'a').w(1, 'b', t='fail').r(2, 'a')
    assert check_register(h.ops)['valid'] is True


def test_register_read_of_failed_write():
    h = H().w(0, 'a').w(1, 'b', t='fail').r(2, 'b')
    r = check_register(h.ops)
    assert r['valid'] is False
    [a] = only_kind(r, 'read-of-failed-write')
    assert a['value'] == 'b' and a['write']['type'] == 'fail'
    assert 'nonlinearizable' not in kinds(r)   # the bad read is left out of the search


def test_register_read_of_unwritten_value():
    h = H().w(0, 'a').r(1, 'zzz')
    r = check_register(h.ops)
    assert r['valid'] is False and kinds(r) == ['read-of-unwritten-value']
    assert r['anomalies'][0]['value'] == 'zzz'


def test_register_info_and_failed_reads_carry_no_information():
    h = (H().w(0, 'a').inv(1, 'read').info(1, 'read').inv(2, 'read').fail(2, 'read')
         .r(3, 'a'))
    h.ops[3]['value'] = 'garbage'   # a value on an info completion is ignored
    assert check_register(h.ops)['valid'] is True


def test_register_rejects_multi_key_history():
    h = H().w(0, 'a', key='x').w(0, 'b', key='y')
    with pytest.raises(ValueError):
        check_register(h.ops)


def test_registers_splits_by_key():
    h = H()
    h.w(0, 'a', key='x').w(1, 'b', key='y').r(2, 'a', key='x').r(3, 'b', key='y')
    assert check_registers(h.ops)['valid'] is True
    h.w(0, 'c', key='y').r(2, 'b', key='y')     # stale on y only
    r = check_registers(h.ops)
    assert r['valid'] is False
    assert {a['key'] for a in r['anomalies']} == {'y'}
    assert r['stats']['invalid_keys'] == ['y'] and r['stats']['keys'] == 2


def _pathological(n=18, key='k'):
    """n concurrent writes, then two sequential reads of different values:
    not linearizable, but WGL must try every (subset, last write) state."""
    h = H(key)
    for i in range(n):
        h.inv(i, 'write', 'v%d' % i)
    for i in range(n):
        h.ok(i, 'write')
    h.r(100, 'v0').r(101, 'v1')
    return h.ops


def test_register_pathological_history_times_out_unknown():
    t0 = time.monotonic()
    r = check_register(_pathological(), timeout=0.001)
    assert r['valid'] == 'unknown'
    assert r['anomalies'] == [] and r['stats']['search'] == 'unknown'
    assert time.monotonic() - t0 < 1.0
    r = check_register(_pathological(), timeout=0.05)
    assert r['valid'] == 'unknown'


def test_registers_unknown_if_timeout_and_false_wins():
    ops = _pathological(key='slow')
    assert check_registers(ops, timeout=0.001)['valid'] == 'unknown'
    r = check_registers(ops, timeout=0.001)
    assert r['stats']['unknown_keys'] == ['slow']
    bad = H('bad').w(0, 'a').r(1, None).ops
    for i, op in enumerate(bad):
        op['index'] = 10000 + i
    assert check_registers(ops + bad, timeout=0.001)['valid'] is False
    assert check_registers(ops, timeout=None, total_timeout=0.001)['valid'] == 'unknown'


def test_register_search_memory_cap_gives_unknown(monkeypatch):
    monkeypatch.setattr(checker, 'MAX_CACHE', 1000)
    r = check_register(_pathological(), timeout=None)
    assert r['valid'] == 'unknown' and r['stats']['search_stopped'] == 'cache-limit'


def test_register_small_pathological_is_decided_false():
    r = check_register(_pathological(n=6), timeout=5)
    assert r['valid'] is False and kinds(r) == ['nonlinearizable']


def test_register_performance_random_valid_400_ops():
    rng = random.Random(42)
    hist, _ = simulate(rng, register_model(), nproc=5, nops=400, p_info=0.1, p_fail=0.03,
                       info_fs={'write'})
    n_info = sum(1 for o in hist if o['type'] == 'info' and o['f'] == 'write')
    assert n_info >= 10
    t0 = time.monotonic()
    r = check_register(hist, timeout=10)
    elapsed = time.monotonic() - t0
    assert r['valid'] is True, r['anomalies'][:1]
    assert elapsed < 2.0, elapsed


def test_register_random_valid_histories_pass():
    rng = random.Random(7)
    for _ in range(30):
        hist, _ = simulate(rng, register_model(), nproc=rng.randint(2, 6), nops=120,
                           p_info=0.15, p_fail=0.05)
        r = check_register(hist, timeout=5)
        assert r['valid'] is True, r['anomalies'][:1]


def _perturb_read(rng, hist):
    reads = [o for o in hist if o['type'] == 'ok' and o['f'] == 'read']
    values = [o['value'] for o in hist if o['f'] == 'write' and o['type'] == 'invoke']
    if reads:
        r = rng.choice(reads)
        others = [v for v in values + [None] if v != r['value']]
        if others:
            r['value'] = rng.choice(others)


def test_register_matches_brute_force_oracle():
    rng = random.Random(1234)
    outcomes = {True: 0, False: 0}
    for _ in range(250):
        hist, _ = simulate(rng, register_model(), nproc=3, nops=rng.randint(1, 7),
                           p_info=0.25, p_fail=0.1)
        if rng.random() < 0.6:
            _perturb_read(rng, hist)
        expected = register_oracle(hist)
        outcomes[expected] += 1
        for optimize in (True, False):
            got = check_register(hist, timeout=5, optimize=optimize)['valid']
            assert got is expected, (optimize, hist)
    assert outcomes[True] > 30 and outcomes[False] > 30


# ----------------------------------------------------------------------------
# B. Counters
# ----------------------------------------------------------------------------

def test_counter_sequential_valid():
    h = H().r(0, None).incr(0, 1).incr(1, 2).r(2, 2).incr(0, 3).r(1, 3)
    r = check_counter(h.ops, final_value=3)
    assert r['valid'] is True and r['anomalies'] == []


def test_counter_concurrent_incrs_valid():
    h = (H().inv(0, 'incr').inv(1, 'incr').inv(2, 'read').ok(1, 'incr', 1)
         .ok(2, 'read', 1).ok(0, 'incr', 2).r(3, 2))
    assert check_counter(h.ops, final_value=2)['valid'] is True


def test_counter_read_concurrent_with_incrs_sees_any_intermediate():
    for seen in (0, 1, 2):
        h = (H().inv(0, 'incr').inv(1, 'incr').inv(2, 'read').ok(2, 'read', seen)
             .ok(0, 'incr', 1).ok(1, 'incr', 2))
        assert check_counter(h.ops)['valid'] is True


def test_counter_info_incr_that_took_effect():
    h = H().incr(0, 1).incr(1, None, t='info').r(2, 2).incr(2, 3)
    assert check_counter(h.ops, final_value=3)['valid'] is True


def test_counter_info_incr_that_did_not_take_effect():
    h = H().incr(0, 1).incr(1, None, t='info').r(2, 1).incr(2, 2)
    assert check_counter(h.ops, final_value=2)['valid'] is True


def test_counter_info_incr_lands_late_and_pending_invoke():
    h = H().incr(0, 1).incr(1, None, t='info').r(2, 1).r(2, 1).incr(2, 3).inv(5, 'incr')
    assert check_counter(h.ops, final_value=4)['valid'] is True


def test_counter_failed_incr_has_no_effect():
    h = H().incr(0, 1).incr(1, None, t='fail').r(2, 1)
    assert check_counter(h.ops, final_value=1)['valid'] is True
    h = H().incr(0, 1).incr(1, None, t='fail').r(2, 2)
    r = check_counter(h.ops)
    assert r['valid'] is False and 'impossible-value' in kinds(r)


def test_counter_duplicate_incr_value():
    h = H().inv(0, 'incr').inv(1, 'incr').ok(0, 'incr', 1).ok(1, 'incr', 1)
    r = check_counter(h.ops)
    assert r['valid'] is False
    [a] = only_kind(r, 'duplicate-incr-value')
    assert a['value'] == 1 and len(a['ops']) == 2


def test_counter_stale_read_after_acknowledged_incr():
    h = H().incr(0, 1).incr(0, 2).r(1, 1)
    r = check_counter(h.ops)
    assert r['valid'] is False
    [a] = only_kind(r, 'stale-read')
    assert a['value'] == 1 and a['observed'] == 2
    assert 'nonlinearizable' in kinds(r)


def test_counter_stale_read_after_read():
    h = H().inv(0, 'incr').r(1, 1).r(2, 0).ok(0, 'incr', 1)
    r = check_counter(h.ops)
    assert r['valid'] is False and 'stale-read' in kinds(r)


def test_counter_missing_key_reads_as_zero():
    h = H().r(0, None).incr(0, 1).r(1, 1)
    assert check_counter(h.ops)['valid'] is True
    h = H().incr(0, 1).r(1, None)
    assert check_counter(h.ops)['valid'] is False


def test_counter_impossible_value():
    h = H().incr(0, 2)
    r = check_counter(h.ops)
    assert r['valid'] is False and 'impossible-value' in kinds(r)
    assert 'nonlinearizable' in kinds(r)


def test_counter_nonlinearizable_only_by_search():
    # incr->3 completes before incr->2 is invoked: no direct check sees it
    h = (H().inv(0, 'incr').inv(9, 'incr').inv(8, 'incr').ok(0, 'incr', 3)
         .inv(1, 'incr').ok(1, 'incr', 2).ok(9, 'incr', 4).ok(8, 'incr', 1))
    r = check_counter(h.ops)
    assert r['valid'] is False and kinds(r) == ['nonlinearizable']
    [a] = r['anomalies']
    assert a['op']['result'] in (2, 3) and a['window']


def test_counter_final_value_range():
    h = H().incr(0, 1).incr(1, None, t='info').incr(2, None, t='info').incr(3, 2)
    for final in (2, 3, 4):
        assert check_counter(h.ops, final_value=final)['valid'] is True
    for final in (1, 5):
        r = check_counter(h.ops, final_value=final)
        assert r['valid'] is False and kinds(r) == ['final-value-out-of-range']
        a = r['anomalies'][0]
        assert (a['final'], a['acked_incrs'], a['info_incrs']) == (final, 2, 2)


def test_counter_final_value_below_observed():
    h = H().incr(1, None, t='info').incr(2, None, t='info').r(0, 2)
    r = check_counter(h.ops, final_value=0)
    assert kinds(r) == ['final-value-out-of-range']
    assert check_counter(h.ops, final_value=2)['valid'] is True


def test_counter_final_value_dict_and_multiple_keys():
    h = H().incr(0, 1, key='a').incr(0, 1, key='b').incr(1, 2, key='b')
    assert check_counter(h.ops, final_value={'a': 1, 'b': 2})['valid'] is True
    r = check_counter(h.ops, final_value={'a': 1, 'b': 1, 'c': 3})
    assert r['valid'] is False
    assert {a['key'] for a in r['anomalies']} == {'b', 'c'}
    with pytest.raises(ValueError):
        check_counter(h.ops, final_value=3)
    assert check_counter([], final_value=0)['valid'] is True
    assert check_counter([], final_value=1)['valid'] is False


def test_counter_many_info_incrs_is_fast():
    # 30 unknown INCRs all open, reads in between: symmetric, must be quick
    h = H()
    for p in range(30):
        h.incr(100 + p, None, t='info')
    for v in range(0, 31, 3):
        h.r(0, v)
    h.r(1, 29)       # went back down: not linearizable
    t0 = time.monotonic()
    r = check_counter(h.ops, timeout=5)
    assert r['valid'] is False and time.monotonic() - t0 < 1.0
    h.ops = h.ops[:-2]
    assert check_counter(h.ops, final_value=30, timeout=5)['valid'] is True


def _counter_pathological(n=16):
    """n reads of 0 open across an incr->1: WGL visits every subset of the
    reads; then a tail only the search can reject (incr->3 completes before
    incr->2 is invoked)."""
    h = H()
    for i in range(n):
        h.inv(i, 'read')
    h.incr(50, 1)
    for i in range(n):
        h.ok(i, 'read', 0)
    h.inv(60, 'incr').inv(61, 'incr').ok(60, 'incr', 3).inv(62, 'incr').ok(62, 'incr', 2) \
        .ok(61, 'incr', 4)
    return h.ops


def test_counter_pathological_times_out_unknown():
    t0 = time.monotonic()
    r = check_counter(_counter_pathological(), timeout=0.001)
    assert r['valid'] == 'unknown' and r['anomalies'] == []
    assert r['stats']['unknown_keys'] == ['k']
    assert time.monotonic() - t0 < 1.0
    r = check_counter(_counter_pathological(n=6), timeout=5)
    assert r['valid'] is False and kinds(r) == ['nonlinearizable']


def test_counter_random_valid_histories_pass():
    rng = random.Random(11)
    for _ in range(20):
        hist, final = simulate(rng, counter_model(), nproc=rng.randint(2, 6), nops=150,
                               p_info=0.15, p_fail=0.05)
        r = check_counter(hist, final_value=final, timeout=5)
        assert r['valid'] is True, r['anomalies'][:1]


def test_counter_performance_400_ops():
    rng = random.Random(3)
    hist, final = simulate(rng, counter_model(), nproc=5, nops=400, p_info=0.1, p_fail=0.03)
    t0 = time.monotonic()
    r = check_counter(hist, final_value=final, timeout=10)
    assert r['valid'] is True and time.monotonic() - t0 < 2.0


def test_counter_matches_brute_force_oracle():
    rng = random.Random(99)
    outcomes = {True: 0, False: 0}
    for _ in range(250):
        hist, _ = simulate(rng, counter_model(), nproc=3, nops=rng.randint(1, 7),
                           p_info=0.25, p_fail=0.1)
        if rng.random() < 0.6:
            oks = [o for o in hist if o['type'] == 'ok']
            if oks:
                o = rng.choice(oks)
                o['value'] = max(0, (o['value'] or 0) + rng.choice((-1, 1)))
        expected = counter_oracle(hist)
        outcomes[expected] += 1
        got = check_counter(hist, timeout=5)['valid']
        assert got is expected, hist
    assert outcomes[True] > 30 and outcomes[False] > 30


# ----------------------------------------------------------------------------
# C. Lists
# ----------------------------------------------------------------------------

def test_list_sequential_valid():
    h = H().r(0, []).app(0, 'a', 1).r(1, ['a']).app(1, 'b', 2).r(0, ['a', 'b'])
    r = check_list(h.ops, ['a', 'b'])
    assert r['valid'] is True and r['anomalies'] == []


def test_list_missing_key_read_as_none():
    h = H().r(0, None).app(0, 'a', 1)
    assert check_list(h.ops, ['a'])['valid'] is True


@pytest.mark.parametrize('final', [['a', 'b'], ['b', 'a']])
def test_list_concurrent_appends_either_order(final):
    la, lb = final.index('a') + 1, final.index('b') + 1
    h = (H().inv(0, 'append', 'a').inv(1, 'append', 'b').inv(2, 'read')
         .ok(2, 'read', final[:1]).ok(0, 'append', la).ok(1, 'append', lb).r(3, final))
    assert check_list(h.ops, final)['valid'] is True


def test_list_info_appends_present_or_absent_and_fails():
    h = (H().app(0, 'a', 1).app(1, 'b', None, t='info').app(2, 'c', 2).app(3, 'x', None, t='fail')
         .inv(4, 'append', 'd'))
    assert check_list(h.ops, ['a', 'c'])['valid'] is True
    h2 = (H().app(0, 'a', 1).app(1, 'b', None, t='info').r(2, ['a']).app(2, 'c', 3)
          .r(0, ['a', 'b', 'c']))
    assert check_list(h2.ops, ['a', 'b', 'c'])['valid'] is True


def test_list_read_not_prefix_of_final():
    h = H().app(0, 'a', 1).app(0, 'b', 2).r(1, ['b'])
    r = check_list(h.ops, ['a', 'b'])
    assert 'read-not-prefix-of-final' in kinds(r)
    a = only_kind(r, 'read-not-prefix-of-final')[0]
    assert a['diverges_at'] == 0 and a['read_element'] == 'b'


def test_list_duplicate_element_in_read_and_final():
    h = H().app(0, 'a', 1).r(1, ['a', 'a'])
    r = check_list(h.ops, ['a', 'a'])
    dups = only_kind(r, 'duplicate-element')
    assert {d['where'] for d in dups} == {'read', 'final'}
    assert r['valid'] is False


def test_list_lost_append():
    h = H().app(0, 'a', 1).app(1, 'b', 2)
    r = check_list(h.ops, ['a'])
    assert kinds(r) == ['lost-append']
    assert r['anomalies'][0]['element'] == 'b'


def test_list_phantom_element():
    h = H().app(0, 'a', 1).r(1, ['a', 'zz'])
    r = check_list(h.ops, ['a', 'zz'])
    [a] = only_kind(r, 'phantom-element')
    assert a['element'] == 'zz' and a['in_final'] and a['occurrences'] == 2


def test_list_failed_append_visible():
    h = H().app(0, 'a', None, t='fail').r(1, ['a'])
    r = check_list(h.ops, ['a'])
    assert kinds(r) == ['failed-append-visible']
    assert r['anomalies'][0]['append']['type'] == 'fail'


def test_list_realtime_order_violation():
    h = H().app(0, 'a', 2).app(1, 'b', 1)
    r = check_list(h.ops, ['b', 'a'])
    assert 'realtime-order-violation' in kinds(r)
    a = only_kind(r, 'realtime-order-violation')[0]
    assert a['first']['value'] == 'a' and a['second']['value'] == 'b'
    # same with an unknown-outcome second append (and RPUSH lengths consistent)
    h = H().app(0, 'a', 2).app(1, 'b', None, t='info')
    assert kinds(check_list(h.ops, ['b', 'a'])) == ['realtime-order-violation']


def test_list_non_monotonic_reads():
    h = (H().inv(0, 'append', 'a').inv(1, 'append', 'b').r(2, ['a', 'b']).r(3, ['a'])
         .ok(0, 'append', 1).ok(1, 'append', 2))
    r = check_list(h.ops, ['a', 'b'])
    assert kinds(r) == ['non-monotonic-reads']
    a = r['anomalies'][0]
    assert (a['earlier_length'], a['later_length']) == (2, 1)


def test_list_append_position_mismatch():
    h = H().app(0, 'a', 1).app(1, 'b', 5)
    r = check_list(h.ops, ['a', 'b'])
    assert kinds(r) == ['append-position-mismatch']
    assert (r['anomalies'][0]['returned'], r['anomalies'][0]['position']) == (5, 2)


def test_list_stale_read_after_acknowledged_append():
    h = H().app(0, 'a', 1).r(1, [])
    r = check_list(h.ops, ['a'])
    assert kinds(r) == ['stale-read']


def test_list_read_from_future():
    h = H().r(1, ['a']).app(0, 'a', 1)
    r = check_list(h.ops, ['a'])
    assert kinds(r) == ['read-from-future']


def test_list_multiple_keys_with_final_dict():
    h = H().app(0, 'a', 1, key='x').app(0, 'b', 1, key='y').r(1, ['b'], key='y')
    assert check_list(h.ops, {'x': ['a'], 'y': ['b']})['valid'] is True
    r = check_list(h.ops, {'x': [], 'y': ['b']})
    assert kinds(r) == ['lost-append'] and r['anomalies'][0]['key'] == 'x'
    with pytest.raises(ValueError):
        check_list(h.ops, ['a'])
    assert check_list([], [])['valid'] is True
    assert kinds(check_list([], ['q'])) == ['phantom-element']


def test_list_without_final_uses_longest_read():
    h = H().app(0, 'a', 1).app(0, 'b', 2).r(1, ['a', 'b']).r(2, ['a', 'b'])
    r = check_list(h.ops, None)
    assert r['valid'] is True and r['stats']['keys_without_final'] == ['k']
    h.r(3, ['b'])
    r = check_list(h.ops, None)
    assert 'incompatible-reads' in kinds(r)


def test_list_random_valid_histories_pass():
    rng = random.Random(5)
    for _ in range(30):
        hist, final = simulate(rng, list_model(), nproc=rng.randint(2, 6), nops=200,
                               p_info=0.15, p_fail=0.05)
        r = check_list(hist, list(final))
        assert r['valid'] is True, r['anomalies'][:2]


def test_list_random_histories_with_dropped_element_fail():
    rng = random.Random(6)
    for _ in range(10):
        hist, final = simulate(rng, list_model(), nproc=4, nops=100, p_info=0, p_fail=0)
        final = list(final)
        del final[rng.randrange(len(final))]
        assert check_list(hist, final)['valid'] is False


# ----------------------------------------------------------------------------
# C2. Bank
# ----------------------------------------------------------------------------

INIT = [10, 10, 10, 10, 10]         # total 50


class B(H):
    """Bank history builder: balances tracked to fill in replies."""

    def __init__(self, key='bank:0', init=INIT):
        super().__init__(key)
        self.bal = list(init)

    def init(self, p, t='ok'):
        return self.inv(p, 'init', list(self.bal)).ev(p, t, 'init', 1 if t == 'ok' else None)

    def tr_inv(self, p, a, b, x):
        return self.inv(p, 'transfer', {'from': a, 'to': b, 'amount': x})

    def tr_ok(self, p, a, b, x, apply=True):
        read = [self.bal[a], self.bal[b]]
        if apply:
            self.bal[a] -= x
            self.bal[b] += x
        return self.ok(p, 'transfer', {'read': read, 'exec': [read[0] - x, read[1] + x]})

    def tr(self, p, a, b, x, t='ok', applied=None):
        """One sequential transfer; t 'fail'/'info': applied says whether it
        took effect anyway (default: no)."""
        self.tr_inv(p, a, b, x)
        if t == 'ok':
            return self.tr_ok(p, a, b, x)
        if applied:
            self.bal[a] -= x
            self.bal[b] += x
        return self.ev(p, t, 'transfer', None)

    def rd(self, p, bal=None):
        return self.inv(p, 'read').ok(p, 'read', list(self.bal if bal is None else bal))


def bank(b, final=None, **kw):
    return check_bank(b.ops, {b.key: list(b.bal) if final is None else final},
                      initial=INIT, **kw)


def test_bank_sequential_valid():
    b = B().init(0).tr(0, 0, 1, 3).rd(1).tr(1, 2, 0, 15).rd(0).tr(0, 4, 3, 1)
    r = bank(b)
    assert r['valid'] is True, r['anomalies']
    st = r['stats']['per_key']['bank:0']
    assert st['ok_transfers'] == 3 and st['ok_reads'] == 2 and st['final'] == b.bal
    assert sum(b.bal) == 50 and b.bal[2] < 0      # negative balances are fine


def test_bank_null_exec_and_info_transfers_valid():
    b = (B().init(0).tr(0, 0, 1, 3, t='fail').tr(1, 1, 2, 4, t='info', applied=True)
         .tr(2, 3, 4, 2, t='info', applied=False).rd(3).tr(3, 4, 0, 5))
    r = bank(b)
    assert r['valid'] is True, r['anomalies']
    assert r['stats']['per_key']['bank:0']['info_applied'] == 1


def test_bank_pending_transfer_at_end_is_info():
    b = B().init(0).tr(0, 0, 1, 3)
    b.tr_inv(1, 1, 2, 5)
    b.bal[1] -= 5
    b.bal[2] += 5
    assert bank(b)['valid'] is True


def test_bank_partial_transfer_visible_in_read():
    b = B().init(0).tr(0, 0, 1, 3)
    b.rd(1, [7, 10, 10, 10, 10])         # the DECRBY without its INCRBY
    r = bank(b)
    assert r['valid'] is False
    assert kinds(r) == ['wrong-total']
    a = only_kind(r, 'wrong-total')[0]
    assert a['total'] == 47 and a['expected'] == 50


def test_bank_concurrent_read_sees_before_or_after_but_not_between():
    b = B().init(0)
    b.tr_inv(0, 0, 1, 4)
    b.rd(1)                                  # before: fine
    b.tr_ok(0, 0, 1, 4)
    assert bank(b)['valid'] is True
    b2 = B().init(0)
    b2.tr_inv(0, 0, 1, 4)
    b2.rd(1, [10, 14, 10, 10, 10])           # half of it
    b2.tr_ok(0, 0, 1, 4)
    assert kinds(bank(b2)) == ['wrong-total']


def test_bank_lost_acknowledged_transfer():
    b = B().init(0).tr(0, 0, 1, 3).tr(1, 2, 3, 2)
    r = bank(b, final=[7, 13, 10, 10, 10])   # the second one vanished
    assert r['valid'] is False
    assert kinds(r) == ['final-state-unreachable']
    (a,) = only_kind(r, 'final-state-unreachable')
    assert a['unexplained'] == [0, 0, 2, -2, 0] and 'failed_would_explain' not in a


def test_bank_null_exec_that_applied():
    b = B().init(0).tr(0, 0, 1, 3).tr(1, 2, 3, 2, t='fail', applied=True)
    r = bank(b)
    assert r['valid'] is False
    assert kinds(r) == ['final-state-unreachable']
    (a,) = only_kind(r, 'final-state-unreachable')
    assert [o['value'] for o in a['failed_would_explain']] == [
        {'from': 2, 'to': 3, 'amount': 2}]


def test_bank_info_effect_cannot_explain_final():
    b = B().init(0).tr(0, 0, 1, 3, t='info').tr(1, 1, 2, 2, t='info')
    assert bank(b, final=[7, 13, 10, 10, 10])['valid'] is True     # the first one
    assert bank(b, final=[7, 11, 12, 10, 10])['valid'] is True     # both
    r = bank(b, final=[7, 12, 11, 10, 10])                         # neither subset
    assert kinds(r) == ['final-state-unreachable']


def test_bank_info_transfer_cannot_apply_twice():
    b = B().init(0).tr(0, 0, 1, 3, t='info')
    assert kinds(bank(b, final=[4, 16, 10, 10, 10])) == ['final-state-unreachable']


def test_bank_final_wrong_total():
    b = B().init(0).tr(0, 0, 1, 3)
    r = bank(b, final=[7, 10, 10, 10, 10])
    assert 'final-wrong-total' in kinds(r)
    assert r['valid'] is False


def test_bank_watch_violation():
    b = B().init(0)
    b.tr_inv(0, 0, 1, 3)
    # EXEC applied on top of 8/12 although the watched read saw 10/10
    b.ok(0, 'transfer', {'read': [10, 10], 'exec': [5, 15]})
    b.bal = [7, 13, 10, 10, 10]
    r = bank(b)
    assert kinds(r) == ['watch-violation']


def test_bank_malformed_replies():
    b = B().init(0)
    b.inv(1, 'read').ok(1, 'read', None)                # null EXEC of GETs
    b.tr_inv(0, 0, 1, 3).ok(0, 'transfer', {'read': [10, 10], 'exec': None})
    b.bal = [7, 13, 10, 10, 10]
    assert kinds(bank(b)) == ['malformed-exec-reply', 'malformed-read']


def test_bank_missing_account_in_read():
    b = B().init(0).rd(1, [10, None, 10, 10, 10])
    assert kinds(bank(b)) == ['malformed-read']


def test_bank_round_never_initialised_and_missing_final():
    b = B()
    b.inv(0, 'init', INIT).info(0, 'init')
    assert check_bank(b.ops, {'bank:0': [None] * 5}, initial=INIT)['valid'] is True
    b2 = B().init(0).tr(0, 0, 1, 3)
    r = check_bank(b2.ops, {'bank:0': [None] * 5}, initial=INIT)
    assert kinds(r) == ['final-state-missing']
    # no final at all: only the reads and replies are checked
    assert check_bank(b2.ops, None, initial=INIT)['valid'] is True


def test_bank_initial_from_init_op_and_many_rounds():
    b0 = B('bank:0').init(0).tr(0, 0, 1, 3).rd(0)
    b1 = B('bank:1', init=[50, 0, 0, 0, 0])
    b1.ops = []
    b1.init(1).tr(1, 0, 4, 7).rd(1)
    ops = b0.ops + [dict(o, index=o['index'] + 100, process=o['process'] + 10)
                    for o in b1.ops]
    finals = {'bank:0': b0.bal, 'bank:1': b1.bal}
    r = check_bank(ops, finals)
    assert r['valid'] is True, r['anomalies']
    assert r['stats']['rounds'] == 2
    finals['bank:1'] = [50, 0, 0, 0, 0]
    r = check_bank(ops, finals)
    assert kinds(r) == ['final-state-unreachable']
    assert r['anomalies'][0]['key'] == 'bank:1'


def _many_info(n, seed=3):
    rng = random.Random(seed)
    b = B().init(0)
    for i in range(n):
        a, c = rng.sample(range(5), 2)
        b.tr(i + 1, a, c, rng.randint(1, 5), t='info', applied=rng.random() < 0.5)
    return b


def test_bank_many_info_transfers_solved():
    b = _many_info(40)
    t0 = time.monotonic()
    r = bank(b)
    assert r['valid'] is True, r['anomalies']
    assert time.monotonic() - t0 < 5


def test_bank_subset_search_out_of_states_is_unknown_never_pass():
    b = _many_info(40)
    bad = list(b.bal)
    bad[0] += 1000
    bad[1] -= 1000                            # sum still 50, unreachable
    r = bank(b, final=bad, max_states=50)
    assert r['valid'] == 'unknown'
    assert r['stats']['unknown_keys'] == ['bank:0']
    # a reachable final that the capped search would find is not 'unknown'
    # only by luck: with the cap it is unknown or True, never False
    assert bank(b, max_states=50)['valid'] in (True, 'unknown')
    # and an anomaly elsewhere still makes it False
    b.rd(99, [0] * 5)
    assert bank(b, final=bad, max_states=50)['valid'] is False


def test_bank_subset_search_timeout_is_unknown():
    b = _many_info(40)
    bad = list(b.bal)
    bad[0] += 1000
    bad[1] -= 1000
    assert bank(b, final=bad, timeout=0)['valid'] == 'unknown'


def bank_model(p_transfer=0.7):
    def gen(rng):
        if rng.random() < p_transfer:
            a, c = rng.sample(range(5), 2)
            x = rng.randint(1, 5)

            def apply(s):
                n = list(s)
                n[a] -= x
                n[c] += x
                return tuple(n), {'read': [s[a], s[c]], 'exec': [n[a], n[c]]}
            return 'transfer', {'from': a, 'to': c, 'amount': x}, apply
        return 'read', None, lambda s: (s, list(s))
    return tuple(INIT), gen


def test_bank_random_valid_histories_pass():
    rng = random.Random(11)
    for _ in range(30):
        hist, final = simulate(rng, bank_model(), nproc=4, nops=150, p_info=0.1,
                               p_fail=0.2, info_fs={'transfer'})
        r = check_bank(hist, {'k': list(final)}, initial=INIT)
        assert r['valid'] is True, r['anomalies'][:3]


def test_bank_random_histories_with_a_broken_transfer_fail():
    rng = random.Random(12)
    for _ in range(30):
        hist, final = simulate(rng, bank_model(p_transfer=1.0), nproc=4, nops=60,
                               p_info=0, p_fail=0)
        # one acknowledged transfer's INCRBY lost in the final state
        tr = next(o for o in hist if o['type'] == 'ok' and o['f'] == 'transfer')
        inv = next(o for o in hist if o['type'] == 'invoke' and
                   o['process'] == tr['process'] and o['index'] < tr['index'])
        final = list(final)
        final[inv['value']['to']] -= inv['value']['amount']
        r = check_bank(hist, {'k': final}, initial=INIT)
        assert r['valid'] is False
        assert 'final-wrong-total' in kinds(r)


def test_bank_summarize_and_json():
    b = B().init(0).tr(0, 0, 1, 3)
    b.rd(1, [7, 10, 10, 10, 10])
    r = bank(b)
    json.dumps(r)
    assert 'wrong-total' in summarize({'bank': r})


def test_bank_rejects_unknown_op():
    b = B().init(0)
    b.inv(0, 'incr').ok(0, 'incr', 1)
    with pytest.raises(ValueError):
        bank(b)


# ----------------------------------------------------------------------------
# D. summarize
# ----------------------------------------------------------------------------

def test_summarize_table():
    bad_list = check_list(H().app(0, 'a', 1).app(1, 'b', 2).ops, [])
    results = {'register': check_register(H().w(0, 'a').r(1, 'a').ops),
               'counter': check_counter(H().incr(0, 1).r(1, 0).ops),
               'list': bad_list}
    text = summarize(results)
    lines = text.splitlines()
    assert lines[0].split() == ['checker', 'valid', 'anomaly', 'count']
    assert any(l.split() == ['list', 'False', 'lost-append', '2'] for l in lines)
    assert any(l.split()[:3] == ['counter', 'False', 'stale-read'] for l in lines)
    assert any(l.split() == ['register', 'True', '-'] for l in lines)
    assert lines[-1] == '%d anomalies' % (2 + len(results['counter']['anomalies']))
    assert 'lost-append' in summarize(bad_list)
    assert 'lost-append' in summarize([bad_list, results['register']])
    # a runner-style merged result without stats
    merged = {'valid': False, 'anomalies': bad_list['anomalies'], 'stats': {}}
    assert 'lost-append' in summarize({'list': merged})
