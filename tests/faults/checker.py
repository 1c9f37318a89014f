"""checker: consistency checkers for the redis-raft fault suite.

Pure Python 3.11 standard library. Every checker takes a recorded history
and returns a result dict

    {'valid': True | False | 'unknown',
     'anomalies': [{'kind': str, ...details...}, ...],
     'stats': {...}}

valid is False as soon as one anomaly was found, 'unknown' when a search ran
out of time without finding one (never True in that case), True otherwise.

History format (the shared contract with workload.py and runner.py)
--------------------------------------------------------------------
A history is a list of operations; an operation is a dict

    {'process': int, 'type': 'invoke' | 'ok' | 'fail' | 'info',
     'f': str, 'key': str, 'value': any,
     'time': int (monotonic ns), 'index': int (position in the history)}

(extra fields such as 'workload' or 'error' are ignored).

* Each process does one operation at a time: an 'invoke' is followed later
  by exactly one completion ('ok', 'fail' or 'info') of the same process,
  with the same f and key. The completion's value holds the result (a read's
  value, an INCR's new value, an RPUSH's new length).
* After an 'info' the client continues under a new process id, so a process
  never has two operations pending.
* A history may end with invokes that never completed: they are treated
  exactly like 'info'.
* 'fail': the operation certainly had no effect.
  'info': unknown; it may or may not have taken effect, at any time after
  its invoke (no upper bound).
* Real-time order is the order of 'index' (the recorder assigns it under
  its lock, in the order events happened). If some op lacks 'index', the
  position in the list is used instead. 'time' is only reported.

Workloads
---------
1. Registers (per key): f='write' value=unique str; f='read' value=None in
   the invoke and the value read (str, or None for a missing key) in 'ok'.
   Every key starts as None.
2. Counters (per key): f='incr' value=None in the invoke, the new value
   (int) in 'ok'; f='read' returns an int (None means 0). Every key starts
   at 0.
3. Lists (per key): f='append' value=unique str element (RPUSH); 'ok'
   carries the list length RPUSH returned; f='read' returns the whole list
   (LRANGE 0 -1).
4. Bank (per round, key = the round): accounts 0..n-1 start at the
   `initial` balances (sum T). f='transfer' value={'from': i, 'to': j,
   'amount': x}: one MULTI/EXEC under WATCH of both accounts; 'ok' carries
   {'read': [a, b] (the MGET after WATCH), 'exec': [a - x, b + x] (EXEC's
   reply)}; a null EXEC is 'fail'. f='read' returns every balance (ints).
   f='init' (the MSETNX that creates a round) is skipped. Checks: every ok
   read sums to T (no partial transfer visible); an ok transfer's EXEC
   reply matches its watched read (WATCH held); the final balances sum to
   T and equal initial + every ok transfer + a subset of the info ones
   (failed ones never apply). That subset search is a breadth-first
   subset sum over reachable balance vectors, bounded by the timeout and
   BANK_MAX_STATES: out of either it says 'unknown'.

Checkers
--------
check_register(ops, timeout)       one register key: linearizability (WGL)
check_registers(ops, timeout)      every key of a register history
check_counter(ops, final_value)    counters (any number of keys)
check_list(ops, final_list)        append-only lists (any number of keys)
check_bank(ops, finals, initial)   bank transfers (any number of rounds)
summarize(results)                 text table of anomaly counts by kind

Anomaly kinds
-------------
registers: read-of-unwritten-value, read-of-failed-write, nonlinearizable
counters:  duplicate-incr-value, impossible-value, stale-read,
           nonlinearizable, final-value-out-of-range
lists:     duplicate-element, phantom-element, failed-append-visible,
           read-not-prefix-of-final, incompatible-reads (no final list),
           lost-append, append-position-mismatch, realtime-order-violation,
           non-monotonic-reads, stale-read, read-from-future

bank:      wrong-total, malformed-read, watch-violation, malformed-exec-reply,
           final-wrong-total, final-state-unreachable (a lost ok transfer
           or an applied failed one), final-state-missing, malformed-final

Every anomaly carries 'key' and the ops involved, each summarized as
{'process', 'f', 'key', 'type', 'value' (invoke value), 'result'
(completion value), 'invoke_index', 'complete_index', 'invoke_time'}.

Linearizability search
----------------------
_wgl() is the Wing & Gong algorithm with Lowe's improvements as in
Porcupine: the history becomes a doubly-linked list of call and return
entries in real-time order; the search linearizes any call that precedes
the first return entry, memoizes (bitmask of linearized ops, model state)
and backtracks when it reaches the return of an op it has not linearized.
Ops of unknown outcome have no return entry (their response is at
+infinity): the search may linearize them anywhere after their invoke, or
never, because it succeeds as soon as no return entry is left.

Two exact (sound and complete) reductions keep the search small:
* registers: an unknown write whose value no read returned can be dropped
  (a linearization with it stays one without it: no read sits between it
  and the next write), and an unknown write whose (unique) value some read
  returned must precede every such read, so its response is bounded by the
  earliest of those reads' responses.
* counters: unknown INCRs are interchangeable, so only the earliest-invoked
  one not yet linearized is ever tried (if a linearization uses unknown
  INCRs at points p1 < p2 < ..., the j-th earliest-invoked one was invoked
  before p_j too).
"""

import bisect
import math
import time

__all__ = ['check_register', 'check_registers', 'check_counter', 'check_list',
           'check_bank', 'summarize', 'pair_history']

INF = math.inf

# The search memoizes (linearized bitmask, state) pairs, about 160 bytes each
# for a few hundred ops: past this many the search gives up ('unknown'), so a
# long timeout cannot eat the machine's memory.
MAX_CACHE = 2_000_000


# ----------------------------------------------------------------------------
# History pairing
# ----------------------------------------------------------------------------

class Op:
    """One operation: an invoke and its completion.

    type: 'ok', 'fail' or 'info' (never-completed invokes become 'info').
    call: position of the invoke; ret: position of the completion, or None
    when the outcome is unknown (info / pending). value: the invoke's value;
    result: the completion's value (None for info)."""

    __slots__ = ('process', 'f', 'key', 'type', 'value', 'result', 'call', 'ret',
                 'complete_pos', 'call_time', 'ret_time')

    def __init__(self, process, f, key, value, call, call_time):
        self.process = process
        self.f = f
        self.key = key
        self.value = value
        self.call = call
        self.call_time = call_time
        self.type = 'info'
        self.result = None
        self.ret = None
        self.complete_pos = None
        self.ret_time = None

    def summary(self):
        return {'process': self.process, 'f': self.f, 'key': self.key, 'type': self.type,
                'value': self.value, 'result': self.result, 'invoke_index': self.call,
                'complete_index': self.complete_pos, 'invoke_time': self.call_time}

    def __repr__(self):
        return 'Op(p%s %s %r %r -> %s %r [%s..%s])' % (
            self.process, self.f, self.key, self.value, self.type, self.result,
            self.call, self.complete_pos)


def _norm(v):
    if isinstance(v, (bytes, bytearray)):
        return bytes(v).decode('utf-8', errors='replace')
    return v


def pair_history(ops):
    """Pair invokes with their completions. Returns the list of Op in invoke
    order. Raises ValueError on a history that breaks the contract."""
    seq = list(ops)
    if seq and all('index' in o for o in seq):
        order = sorted(range(len(seq)), key=lambda i: (seq[i]['index'], i))
        pos_of = lambda i: seq[i]['index']
    else:
        order = list(range(len(seq)))
        pos_of = lambda i: i
    pending = {}
    out = []
    for i in order:
        o = seq[i]
        p = o.get('process')
        t = o.get('type')
        pos = pos_of(i)
        if t == 'invoke':
            if p in pending:
                raise ValueError('malformed history: process %r invoked %r while %r is '
                                 'pending (index %r)' % (p, o.get('f'), pending[p].f, pos))
            op = Op(p, o.get('f'), o.get('key'), _norm(o.get('value')), pos, o.get('time'))
            pending[p] = op
            out.append(op)
        elif t in ('ok', 'fail', 'info'):
            op = pending.pop(p, None)
            if op is None:
                raise ValueError('malformed history: %s completion of process %r without a '
                                 'pending invoke (index %r)' % (t, p, pos))
            if o.get('f') != op.f or o.get('key') != op.key:
                raise ValueError('malformed history: completion %r %r of process %r does not '
                                 'match its invoke %r %r (index %r)'
                                 % (o.get('f'), o.get('key'), p, op.f, op.key, pos))
            op.type = t
            op.complete_pos = pos
            op.ret_time = o.get('time')
            if t == 'ok':
                op.ret = pos
                op.result = o.get('value')
        else:
            raise ValueError('malformed history: unknown op type %r (index %r)' % (t, pos))
    return out


def _by_key(paired):
    groups = {}
    for op in paired:
        groups.setdefault(op.key, []).append(op)
    return groups


def _sorted_keys(keys):
    return sorted(keys, key=lambda k: (str(type(k)), str(k)))


class _Anomalies:
    def __init__(self):
        self.items = []

    def add(self, kind, **details):
        d = {'kind': kind}
        d.update(details)
        self.items.append(d)

    def __len__(self):
        return len(self.items)


def _counts(anoms):
    c = {}
    for a in anoms:
        c[a['kind']] = c.get(a['kind'], 0) + 1
    return c


def _verdict(anomalies, unknown):
    if anomalies:
        return False
    return 'unknown' if unknown else True


# ----------------------------------------------------------------------------
# Wing-Gong-Lowe search (Porcupine style)
# ----------------------------------------------------------------------------

_ILLEGAL = object()     # step() result for an illegal transition


def _wgl(calls, rets, step, init, deadline=None, sym=None, max_cache=None):
    """Search a linearization.

    calls[i], rets[i]: sortable real-time keys of op i's call and return
    (rets[i] None: no return, i.e. at +infinity, the op may also never
    take effect). step(state, i): the state after op i, or _ILLEGAL.
    sym: optional list; sym[i] = (cls, rank) marks op i as interchangeable
    with the others of its class; only the op of rank == number already
    linearized in its class is tried (ranks follow call order).

    The search gives up ('unknown') past the deadline (time.monotonic()) or
    when the memo holds more than max_cache entries (default MAX_CACHE).

    Returns a dict: result True / False / 'unknown', stopped (None,
    'timeout' or 'cache-limit'), order (a linearization, when True), steps,
    cache, and best = (depth, op that could not be linearized, linearized
    ops at that point, state) when False/'unknown'.
    """
    n = len(calls)
    ev = []
    for i in range(n):
        ev.append((calls[i], 0, i))
        if rets[i] is not None:
            ev.append((rets[i], 1, i))
    ev.sort()
    E = len(ev)
    HEAD, TAIL = 0, E + 1
    nxt = list(range(1, E + 2)) + [TAIL]
    prv = [0] + list(range(0, E + 1))
    node_op = [-1] * (E + 2)
    is_call = [False] * (E + 2)
    call_node = [0] * n
    ret_node = [0] * n
    for k, (_, r, i) in enumerate(ev, 1):
        node_op[k] = i
        if r == 0:
            is_call[k] = True
            call_node[i] = k
        else:
            ret_node[i] = k
    if sym is None:
        sym_cls = None
    else:
        sym_cls = [s[0] if s is not None else None for s in sym]
        sym_rank = [s[1] if s is not None else 0 for s in sym]
        sym_count = {}

    cache = set()
    stack = []
    state = init
    linearized = 0
    entry = nxt[HEAD]
    steps = 0
    best = (-1, None, [], init)
    result = None
    stopped = None
    if max_cache is None:
        max_cache = MAX_CACHE
    while True:
        steps += 1
        if not steps & 1023:
            if deadline is not None and time.monotonic() > deadline:
                result, stopped = 'unknown', 'timeout'
                break
            if len(cache) > max_cache:
                result, stopped = 'unknown', 'cache-limit'
                break
        if entry == TAIL:
            result = True
            break
        i = node_op[entry]
        if is_call[entry]:
            if sym_cls is not None and sym_cls[i] is not None and \
                    sym_rank[i] != sym_count.get(sym_cls[i], 0):
                entry = nxt[entry]
                continue
            ns = step(state, i)
            if ns is not _ILLEGAL:
                nl = linearized | (1 << i)
                ck = (nl, ns)
                if ck not in cache:
                    cache.add(ck)
                    stack.append((entry, state))
                    state = ns
                    linearized = nl
                    # lift: unlink the call entry, then the return entry
                    nxt[prv[entry]] = nxt[entry]
                    prv[nxt[entry]] = prv[entry]
                    r = ret_node[i]
                    if r:
                        nxt[prv[r]] = nxt[r]
                        prv[nxt[r]] = prv[r]
                    if sym_cls is not None and sym_cls[i] is not None:
                        sym_count[sym_cls[i]] = sym_count.get(sym_cls[i], 0) + 1
                    entry = nxt[HEAD]
                    continue
            entry = nxt[entry]
        else:
            # The return of op i, which is not linearized yet: backtrack.
            if len(stack) > best[0]:
                best = (len(stack), i, [node_op[e] for e, _ in stack], state)
            if not stack:
                result = False
                break
            entry, state = stack.pop()
            j = node_op[entry]
            linearized &= ~(1 << j)
            # unlift in reverse order: return entry, then call entry
            r = ret_node[j]
            if r:
                nxt[prv[r]] = r
                prv[nxt[r]] = r
            nxt[prv[entry]] = entry
            prv[nxt[entry]] = entry
            if sym_cls is not None and sym_cls[j] is not None:
                sym_count[sym_cls[j]] -= 1
            entry = nxt[entry]
    out = {'result': result, 'stopped': stopped, 'steps': steps, 'cache': len(cache)}
    if result is True:
        out['order'] = [node_op[e] for e, _ in stack]
    else:
        out['best'] = best
    return out


def _nonlin_anomaly(key, sops, res, describe_state=repr, window=6):
    """A 'nonlinearizable' anomaly from a failed _wgl over sops."""
    depth, bad, lin, state = res['best']
    d = {'key': key, 'linearized_count': max(depth, 0), 'total_ops': len(sops)}
    if bad is not None:
        b = sops[bad]
        d['op'] = b.summary()
        d['state_before'] = describe_state(state)
        by_call = sorted(range(len(sops)), key=lambda j: sops[j].call)
        p = by_call.index(bad)
        near = set(by_call[max(0, p - window):p + window + 1])
        bret = b.ret if b.ret is not None else INF
        for j, o in enumerate(sops):   # everything concurrent with the bad op
            oret = o.ret if o.ret is not None else INF
            if o.call < bret and b.call < oret:
                near.add(j)
        near = sorted(near, key=lambda j: sops[j].call)
        if len(near) > 4 * window:
            k = near.index(bad)
            near = near[max(0, k - 2 * window):k + 2 * window]
        d['window'] = [sops[j].summary() for j in near]
    d['last_linearized'] = [sops[j].summary() for j in lin[-window:]]
    return d


def _deadline(timeout):
    if timeout is None:
        return None
    return time.monotonic() + max(0.0, float(timeout))


# ----------------------------------------------------------------------------
# A. Registers
# ----------------------------------------------------------------------------

def check_register(ops, timeout=10.0, optimize=True):
    """Linearizability of one register key (see the module docstring).

    timeout: seconds for the search (None: no limit). optimize=False turns
    off the exact info-write reductions (for cross-checking)."""
    paired = pair_history(ops)
    keys = {op.key for op in paired}
    if len(keys) > 1:
        raise ValueError('check_register: history has %d keys; use check_registers'
                         % len(keys))
    key = next(iter(keys)) if keys else None
    return _check_register_key(key, paired, _deadline(timeout), optimize)


def check_registers(ops, timeout=10.0, total_timeout=None, optimize=True):
    """check_register on every key. timeout applies to each key's search;
    total_timeout (if given) caps the whole run: keys left when it runs out
    are 'unknown'. valid: False if any key is invalid, else 'unknown' if any
    key timed out, else True."""
    groups = _by_key(pair_history(ops))
    total_deadline = _deadline(total_timeout)
    anomalies = []
    per_key = {}
    unknown = []
    for key in _sorted_keys(groups):
        dl = _deadline(timeout)
        if total_deadline is not None:
            dl = total_deadline if dl is None else min(dl, total_deadline)
        r = _check_register_key(key, groups[key], dl, optimize)
        anomalies += r['anomalies']
        per_key[key] = r['valid']
        if r['valid'] == 'unknown':
            unknown.append(key)
    stats = {'keys': len(groups), 'ops': sum(len(g) for g in groups.values()),
             'invalid_keys': [k for k, v in per_key.items() if v is False],
             'unknown_keys': unknown, 'anomaly_counts': _counts(anomalies)}
    return {'valid': _verdict(anomalies, unknown), 'anomalies': anomalies, 'stats': stats}


def _check_register_key(key, ops, deadline, optimize=True):
    t0 = time.monotonic()
    an = _Anomalies()
    writes = [o for o in ops if o.f == 'write']
    reads = [o for o in ops if o.f == 'read']
    other = [o for o in ops if o.f not in ('write', 'read')]
    if other:
        raise ValueError('register history of key %r has op %r' % (key, other[0]))
    live_writers = {}      # value -> writes that may have taken effect
    failed_writers = {}
    for w in writes:
        (failed_writers if w.type == 'fail' else live_writers).setdefault(w.value, []).append(w)
    good_reads = []
    for r in reads:
        if r.type != 'ok':
            continue            # an unknown or failed read tells nothing
        r.result = _norm(r.result)
        v = r.result
        if v is None or v in live_writers:
            good_reads.append(r)
        elif v in failed_writers:
            an.add('read-of-failed-write', key=key, value=v, op=r.summary(),
                   write=failed_writers[v][0].summary())
        else:
            an.add('read-of-unwritten-value', key=key, value=v, op=r.summary())

    # The ops the search sees, with their return keys.
    first_read_ret = {}
    for r in good_reads:
        if r.result is not None and (r.result not in first_read_ret
                                     or r.ret < first_read_ret[r.result]):
            first_read_ret[r.result] = r.ret
    sops, rets = [], []
    dropped = 0
    for w in writes:
        if w.type == 'fail':
            continue
        if w.type == 'ok':
            sops.append(w)
            rets.append((w.ret, 1))
        elif not optimize:
            sops.append(w)
            rets.append(None)
        elif w.value not in first_read_ret:
            dropped += 1        # unknown and never observed: "never" is as good
        elif len(live_writers[w.value]) == 1:
            sops.append(w)      # must precede every read of its value
            rets.append((first_read_ret[w.value], 0))
        else:
            sops.append(w)
            rets.append(None)
    for r in good_reads:
        sops.append(r)
        rets.append((r.ret, 1))
    calls = [(o.call, 1) for o in sops]
    is_write = [o.f == 'write' for o in sops]
    vals = [o.value if o.f == 'write' else o.result for o in sops]

    def step(state, i):
        if is_write[i]:
            return vals[i]
        return state if state == vals[i] else _ILLEGAL

    res = _wgl(calls, rets, step, None, deadline)
    if res['result'] is False:
        an.add('nonlinearizable', **_nonlin_anomaly(key, sops, res))
    stats = {'key': key, 'ops': len(ops), 'writes': len(writes), 'reads': len(reads),
             'searched_ops': len(sops), 'dropped_info_writes': dropped,
             'info_writes': sum(1 for w in writes if w.type == 'info'),
             'search': res['result'], 'search_stopped': res['stopped'],
             'steps': res['steps'], 'cache': res['cache'],
             'elapsed_s': round(time.monotonic() - t0, 4), 'anomaly_counts': _counts(an.items)}
    return {'valid': _verdict(an.items, res['result'] == 'unknown'),
            'anomalies': an.items, 'stats': stats}


# ----------------------------------------------------------------------------
# B. Counters
# ----------------------------------------------------------------------------

def _as_int(v):
    if v is None:
        return None
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, (bytes, bytearray)):
        v = bytes(v).decode()
    return int(v)


def check_counter(ops, final_value=None, timeout=10.0):
    """Counters, per key (see the module docstring).

    final_value: the counter's final value read after the run (None = not
    checked), an int when the history has one key (or none), or a dict
    key -> int (None = 0); keys of the dict absent from the history are
    checked as counters nobody incremented. timeout: seconds per key for the
    linearizability search (None: no limit)."""
    groups = _by_key(pair_history(ops))
    finals = {}
    if isinstance(final_value, dict):
        finals = dict(final_value)
        for k in finals:
            groups.setdefault(k, [])
    elif final_value is not None:
        if len(groups) > 1:
            raise ValueError('check_counter: an int final_value needs a one-key history '
                             '(got %d keys); pass a dict key -> value' % len(groups))
        finals = {next(iter(groups)) if groups else None: final_value}
        if not groups:
            groups[None] = []
    anomalies = []
    unknown = []
    per_key = {}
    for key in _sorted_keys(groups):
        has_final = key in finals
        r = _check_counter_key(key, groups[key], has_final,
                               _as_int(finals.get(key)) or 0, _deadline(timeout))
        anomalies += r['anomalies']
        per_key[key] = r['stats']
        if r['stats']['search'] == 'unknown':
            unknown.append(key)
    stats = {'keys': len(groups), 'per_key': per_key, 'unknown_keys': unknown,
             'anomaly_counts': _counts(anomalies)}
    return {'valid': _verdict(anomalies, unknown), 'anomalies': anomalies, 'stats': stats}


def _check_counter_key(key, ops, has_final, final, deadline):
    t0 = time.monotonic()
    an = _Anomalies()
    incrs = [o for o in ops if o.f == 'incr']
    reads = [o for o in ops if o.f == 'read']
    other = [o for o in ops if o.f not in ('incr', 'read')]
    if other:
        raise ValueError('counter history of key %r has op %r' % (key, other[0]))
    ok_incrs = [o for o in incrs if o.type == 'ok']
    info_incrs = [o for o in incrs if o.type == 'info']
    ok_reads = [o for o in reads if o.type == 'ok']
    for o in ok_incrs:
        o.result = _as_int(o.result)
    for o in ok_reads:
        o.result = _as_int(o.result) or 0

    # duplicate-incr-value
    by_val = {}
    for o in ok_incrs:
        if o.result is not None:
            by_val.setdefault(o.result, []).append(o)
    for v in sorted(by_val):
        if len(by_val[v]) > 1:
            an.add('duplicate-incr-value', key=key, value=v,
                   ops=[o.summary() for o in by_val[v]])

    # impossible-value: more than the INCRs invoked so far could make
    incr_calls = sorted(o.call for o in incrs if o.type != 'fail')
    for o in ok_incrs + ok_reads:
        v = o.result
        if v is None:
            continue
        possible = bisect.bisect_left(incr_calls, o.ret)
        low = 1 if o.f == 'incr' else 0
        if v > possible or v < low:
            an.add('impossible-value', key=key, value=v, op=o.summary(),
                   incrs_invoked_before=possible)

    # stale-read: below a value acknowledged before the read was invoked
    seen = sorted(((o.ret, o.result, o) for o in ok_incrs + ok_reads
                   if o.result is not None), key=lambda t: t[0])
    seen_rets = [t[0] for t in seen]
    pmax = []
    cur = None
    for t in seen:
        if cur is None or t[1] > cur[1]:
            cur = t
        pmax.append(cur)
    for r in ok_reads:
        k = bisect.bisect_left(seen_rets, r.call)
        if k and pmax[k - 1][1] > r.result:
            an.add('stale-read', key=key, value=r.result, op=r.summary(),
                   observed=pmax[k - 1][1], after=pmax[k - 1][2].summary())

    # linearizability: WGL over a counter model
    sops = ok_incrs + info_incrs + ok_reads
    calls = [(o.call, 1) for o in sops]
    rets = [(o.ret, 1) if o.type == 'ok' else None for o in sops]
    kind = []        # 0 ok incr with value, 1 incr of unknown result, 2 read
    vals = []
    for o in sops:
        if o.f == 'read':
            kind.append(2)
            vals.append(o.result)
        elif o.type == 'ok' and o.result is not None:
            kind.append(0)
            vals.append(o.result)
        else:
            kind.append(1)
            vals.append(None)
    info_order = sorted(range(len(ok_incrs), len(ok_incrs) + len(info_incrs)),
                        key=lambda j: sops[j].call)
    sym = [None] * len(sops)
    for rank, j in enumerate(info_order):
        sym[j] = (0, rank)

    def step(state, i):
        k = kind[i]
        if k == 0:
            return vals[i] if state + 1 == vals[i] else _ILLEGAL
        if k == 1:
            return state + 1
        return state if state == vals[i] else _ILLEGAL

    res = _wgl(calls, rets, step, 0, deadline, sym=sym)
    if res['result'] is False:
        an.add('nonlinearizable', **_nonlin_anomaly(key, sops, res))

    # final value
    max_seen = max([o.result for o in ok_incrs + ok_reads if o.result is not None],
                   default=0)
    if has_final:
        lo, hi = len(ok_incrs), len(ok_incrs) + len(info_incrs)
        if not lo <= final <= hi or final < max_seen:
            an.add('final-value-out-of-range', key=key, final=final, acked_incrs=lo,
                   info_incrs=len(info_incrs), max_observed=max_seen)
    stats = {'key': key, 'ops': len(ops), 'ok_incrs': len(ok_incrs),
             'info_incrs': len(info_incrs),
             'failed_incrs': sum(1 for o in incrs if o.type == 'fail'),
             'ok_reads': len(ok_reads), 'final': final if has_final else None,
             'search': res['result'], 'search_stopped': res['stopped'],
             'steps': res['steps'], 'cache': res['cache'],
             'elapsed_s': round(time.monotonic() - t0, 4), 'anomaly_counts': _counts(an.items)}
    return {'valid': _verdict(an.items, res['result'] == 'unknown'),
            'anomalies': an.items, 'stats': stats}


# ----------------------------------------------------------------------------
# C. Lists
# ----------------------------------------------------------------------------

def check_list(ops, final_list=None):
    """Append-only lists, per key (see the module docstring).

    final_list: the final LRANGE 0 -1 of the key read after the run: a list
    when the history has one key (or none), or a dict key -> list (None or
    missing key = not known). Without a final list, the longest read stands
    in for it: lost-append is then not checked and reads that are not its
    prefix are 'incompatible-reads'."""
    groups = _by_key(pair_history(ops))
    finals = {}
    if isinstance(final_list, dict):
        finals = {k: v for k, v in final_list.items() if v is not None}
        for k in finals:
            groups.setdefault(k, [])
    elif final_list is not None:
        if len(groups) > 1:
            raise ValueError('check_list: a list final_list needs a one-key history '
                             '(got %d keys); pass a dict key -> list' % len(groups))
        if not groups:
            groups[None] = []
        finals = {next(iter(groups)): final_list}
    anomalies = []
    per_key = {}
    for key in _sorted_keys(groups):
        r = _check_list_key(key, groups[key], finals.get(key))
        anomalies += r['anomalies']
        per_key[key] = r['stats']
    stats = {'keys': len(groups), 'per_key': per_key,
             'keys_without_final': [k for k in _sorted_keys(groups) if k not in finals],
             'anomaly_counts': _counts(anomalies)}
    return {'valid': _verdict(anomalies, False), 'anomalies': anomalies, 'stats': stats}


def _check_list_key(key, ops, final):
    an = _Anomalies()
    appends = [o for o in ops if o.f == 'append']
    reads = [o for o in ops if o.f == 'read']
    other = [o for o in ops if o.f not in ('append', 'read')]
    if other:
        raise ValueError('list history of key %r has op %r' % (key, other[0]))
    ok_reads = [o for o in reads if o.type == 'ok']
    for r in ok_reads:
        r.result = [_norm(e) for e in (r.result or [])]
    for a in appends:
        if a.type == 'ok' and a.result is not None:
            a.result = _as_int(a.result)
    final_known = final is not None
    if final_known:
        ref = [_norm(e) for e in final]
    else:
        ref = max((r.result for r in ok_reads), key=len, default=[])
    live = {}          # element -> appends that may have taken effect
    failed = {}
    for a in appends:
        (failed if a.type == 'fail' else live).setdefault(a.value, []).append(a)
    pos = {}
    for i, e in enumerate(ref):
        pos.setdefault(e, i)

    # duplicates, phantoms and failed appends, in the final list and reads
    sources = ([('final', None, ref)] if final_known else []) + \
        [('read', r, r.result) for r in ok_reads]
    bad_elem = {}      # element -> [kind, occurrences, first read or None]
    for where, r, lst in sources:
        counts = {}
        for e in lst:
            counts[e] = counts.get(e, 0) + 1
        for e, c in counts.items():
            if c > 1:
                an.add('duplicate-element', key=key, element=e, count=c, where=where,
                       op=r.summary() if r else None)
            if e in live:
                continue
            kind = 'failed-append-visible' if e in failed else 'phantom-element'
            if e not in bad_elem:
                bad_elem[e] = [kind, 0, None, False]
            b = bad_elem[e]
            b[1] += 1
            if r is not None and b[2] is None:
                b[2] = r
            if r is None:
                b[3] = True
    for e, (kind, occ, r, in_final) in bad_elem.items():
        d = {'key': key, 'element': e, 'in_final': in_final, 'occurrences': occ,
             'read': r.summary() if r else None}
        if kind == 'failed-append-visible':
            d['append'] = failed[e][0].summary()
        an.add(kind, **d)

    # every read is a prefix of the final list
    for r in ok_reads:
        lst = r.result
        if lst != ref[:len(lst)]:
            n = 0
            while n < len(lst) and n < len(ref) and lst[n] == ref[n]:
                n += 1
            an.add('read-not-prefix-of-final' if final_known else 'incompatible-reads',
                   key=key, op=r.summary(), diverges_at=n,
                   read_element=lst[n] if n < len(lst) else None,
                   final_element=ref[n] if n < len(ref) else None)

    ok_appends = [a for a in appends if a.type == 'ok']
    # lost-append and append-position-mismatch
    for a in ok_appends:
        p = pos.get(a.value)
        if p is None:
            if final_known:
                an.add('lost-append', key=key, element=a.value, op=a.summary())
        elif a.result is not None and a.result != p + 1:
            an.add('append-position-mismatch', key=key, element=a.value, returned=a.result,
                   position=p + 1, op=a.summary())

    # ok appends by completion, with the max position so far; an element not
    # in the final list has no position (lost-append covers it), one missing
    # from the longest read when there is no final list is after it (INF)
    done = []
    for a in ok_appends:
        p = pos.get(a.value)
        if p is None:
            if final_known:
                continue
            p = INF
        done.append((a.ret, p, a))
    done.sort(key=lambda t: t[0])
    done_rets = [t[0] for t in done]
    pmax = []
    cur = None
    for t in done:
        if cur is None or t[1] > cur[1]:
            cur = t
        pmax.append(cur)

    def latest_before(call):
        k = bisect.bisect_left(done_rets, call)
        return pmax[k - 1] if k else None

    # realtime-order-violation: a acked before b invoked => a before b
    for b in appends:
        pb = pos.get(b.value)
        if pb is None or b.type == 'fail':
            continue
        t = latest_before(b.call)
        if t is not None and t[1] > pb:
            an.add('realtime-order-violation', key=key, first=t[2].summary(),
                   second=b.summary(), first_position=t[1] + 1 if t[1] != INF else None,
                   second_position=pb + 1)

    # stale-read: a read misses an append acknowledged before it was invoked
    for r in ok_reads:
        t = latest_before(r.call)
        if t is not None and t[1] >= len(r.result) and t[2].value not in r.result:
            an.add('stale-read', key=key, op=r.summary(), missing=t[2].value,
                   append=t[2].summary())

    # read-from-future: a read holds an element appended after it completed
    first_call = {}
    for a in appends:
        if a.type != 'fail':
            first_call[a.value] = min(first_call.get(a.value, INF), a.call)
    for r in ok_reads:
        for e in r.result:
            c = first_call.get(e)
            if c is not None and c > r.ret:
                an.add('read-from-future', key=key, element=e, op=r.summary(),
                       append=live[e][0].summary())
                break

    # non-monotonic-reads: a read invoked after another completed is no shorter
    rs = sorted(ok_reads, key=lambda r: r.ret)
    rs_rets = [r.ret for r in rs]
    rmax = []
    cur = None
    for r in rs:
        if cur is None or len(r.result) > len(cur.result):
            cur = r
        rmax.append(cur)
    for r in ok_reads:
        k = bisect.bisect_left(rs_rets, r.call)
        if k and len(rmax[k - 1].result) > len(r.result):
            an.add('non-monotonic-reads', key=key, earlier=rmax[k - 1].summary(),
                   later=r.summary(), earlier_length=len(rmax[k - 1].result),
                   later_length=len(r.result))

    stats = {'key': key, 'ops': len(ops), 'ok_appends': len(ok_appends),
             'info_appends': sum(1 for a in appends if a.type == 'info'),
             'failed_appends': sum(1 for a in appends if a.type == 'fail'),
             'ok_reads': len(ok_reads), 'final_known': final_known,
             'final_length': len(ref) if final_known else None,
             'anomaly_counts': _counts(an.items)}
    return {'valid': _verdict(an.items, False), 'anomalies': an.items, 'stats': stats}


# ----------------------------------------------------------------------------
# D. Bank
# ----------------------------------------------------------------------------

# Past this many reachable balance vectors the final-state search gives up
# ('unknown').
BANK_MAX_STATES = 200_000


def check_bank(ops, finals=None, initial=None, timeout=10.0, max_states=None):
    """Bank transfers, per round (see the module docstring).

    initial: the accounts' starting balances (a list, the same for every
    round; default: the first ok 'init' op's value of each round). finals:
    dict round -> final balances (a list; None or all-None = not known or
    never initialised). timeout: seconds per round for the final-state
    search; max_states caps its memory (default BANK_MAX_STATES)."""
    groups = _by_key(pair_history(ops))
    finals = dict(finals or {})
    for k in finals:
        groups.setdefault(k, [])
    anomalies = []
    per_key = {}
    unknown = []
    for key in _sorted_keys(groups):
        r = _check_bank_round(key, groups[key], finals.get(key), initial,
                              _deadline(timeout), max_states or BANK_MAX_STATES)
        anomalies += r['anomalies']
        per_key[key] = r['stats']
        if r['stats']['search'] == 'unknown':
            unknown.append(key)
    stats = {'rounds': len(groups), 'per_key': per_key, 'unknown_keys': unknown,
             'anomaly_counts': _counts(anomalies)}
    return {'valid': _verdict(anomalies, unknown), 'anomalies': anomalies, 'stats': stats}


def _ints(v, n):
    """v as a list of n ints, or None when it is not one."""
    if not isinstance(v, (list, tuple)) or len(v) != n:
        return None
    out = []
    for x in v:
        try:
            out.append(_as_int(_norm(x)))
        except (TypeError, ValueError):
            return None
        if out[-1] is None:
            return None
    return out


def _subset_sum(target, effects, deadline, max_states):
    """Is target (a tuple) the sum of a subset of effects (tuples)?
    Returns (True | False | 'unknown', states explored, chosen effect
    indices or None). Breadth over reachable sums, remembering one
    predecessor per sum."""
    zero = tuple(0 for _ in target)
    if target == zero:
        return True, 1, []
    reach = {zero: None}            # sum -> (previous sum, effect index)
    for idx, e in enumerate(effects):
        if deadline is not None and time.monotonic() > deadline:
            return 'unknown', len(reach), None
        new = {}
        for s in reach:
            t = tuple(a + b for a, b in zip(s, e))
            if t not in reach and t not in new:
                new[t] = (s, idx)
        reach.update(new)
        if target in reach:
            chosen = []
            s = target
            while reach[s] is not None:
                s, i = reach[s]
                chosen.append(i)
            return True, len(reach), sorted(chosen)
        if len(reach) > max_states:
            return 'unknown', len(reach), None
    return False, len(reach), None


def _check_bank_round(key, ops, final, initial, deadline, max_states):
    t0 = time.monotonic()
    an = _Anomalies()
    transfers = [o for o in ops if o.f == 'transfer']
    reads = [o for o in ops if o.f == 'read']
    inits = [o for o in ops if o.f == 'init']
    other = [o for o in ops if o.f not in ('transfer', 'read', 'init')]
    if other:
        raise ValueError('bank history of round %r has op %r' % (key, other[0]))
    if initial is None:
        first = next((o for o in inits if o.type == 'ok'), None)
        initial = first.value if first is not None else None
    stats = {'key': key, 'ops': len(ops), 'search': None}
    if initial is None:
        if transfers or reads:
            raise ValueError('bank round %r: no initial balances (pass initial=)' % key)
        stats['search'] = True
        return {'anomalies': [], 'stats': stats}
    initial = [int(x) for x in initial]
    n = len(initial)
    total = sum(initial)

    # every ok read sums to the total
    ok_reads = [o for o in reads if o.type == 'ok']
    for r in ok_reads:
        bal = _ints(r.result, n)
        if bal is None:
            an.add('malformed-read', key=key, op=r.summary())
        elif sum(bal) != total:
            an.add('wrong-total', key=key, total=sum(bal), expected=total, balances=bal,
                   op=r.summary())

    # an ok transfer: EXEC's reply is what the watched MGET promised
    ok_tr = [o for o in transfers if o.type == 'ok']
    info_tr = [o for o in transfers if o.type == 'info']
    for o in ok_tr:
        res = o.result if isinstance(o.result, dict) else {}
        read = _ints(res.get('read'), 2)
        ex = _ints(res.get('exec'), 2)
        x = o.value['amount']
        if ex is None:
            an.add('malformed-exec-reply', key=key, op=o.summary())
        elif read is not None and ex != [read[0] - x, read[1] + x]:
            an.add('watch-violation', key=key, op=o.summary(), read=read, exec=ex,
                   expected=[read[0] - x, read[1] + x])

    def effect(o):
        e = [0] * n
        e[o.value['from']] -= o.value['amount']
        e[o.value['to']] += o.value['amount']
        return e

    # final state: initial + ok transfers + a subset of the info ones
    result = True
    explored = 0
    fin = None
    if final is not None and not all(v is None for v in final):
        fin = _ints(final, n)
    elif final is not None and (ok_tr or ok_reads or any(o.type == 'ok' for o in inits)):
        an.add('final-state-missing', key=key, final=final,
               ok_transfers=len(ok_tr), ok_reads=len(ok_reads))
    if final is not None and fin is None and not all(v is None for v in final):
        an.add('malformed-final', key=key, final=final)
    elif fin is not None:
        if sum(fin) != total:
            an.add('final-wrong-total', key=key, total=sum(fin), expected=total,
                   final=fin)
        rest = list(fin)
        for i in range(n):
            rest[i] -= initial[i]
        for o in ok_tr:
            for i, d in enumerate(effect(o)):
                rest[i] -= d
        # effects sorted so that equal ones are adjacent (cheap duplicates)
        info_tr.sort(key=lambda o: (o.value['from'], o.value['to'], o.value['amount'],
                                    o.call))
        effects = [tuple(effect(o)) for o in info_tr]
        result, explored, chosen = _subset_sum(tuple(rest), effects, deadline,
                                               max_states)
        if result is False:
            d = {'key': key, 'final': fin, 'initial': initial,
                 'unexplained': rest, 'ok_transfers': len(ok_tr),
                 'info_transfers': len(info_tr)}
            failed = [o for o in transfers if o.type == 'fail']
            # A hint only (a lost ok transfer can look like a failed one in
            # the other direction): failed transfers (null EXEC, -MOVED, ...)
            # that, had they applied, would explain the final state.
            r2, _, ch2 = _subset_sum(tuple(rest), effects + [tuple(effect(o))
                                                             for o in failed],
                                     deadline, max_states)
            if r2 is True:
                both = info_tr + failed
                d['failed_would_explain'] = [both[i].summary() for i in ch2
                                             if both[i].type == 'fail']
            an.add('final-state-unreachable', **d)
        elif result is True:
            stats['info_applied'] = len(chosen)
    stats.update({'ok_transfers': len(ok_tr), 'info_transfers': len(info_tr),
                  'failed_transfers': sum(1 for o in transfers if o.type == 'fail'),
                  'ok_reads': len(ok_reads), 'final': fin, 'search': result,
                  'states': explored, 'elapsed_s': round(time.monotonic() - t0, 4),
                  'anomaly_counts': _counts(an.items)})
    return {'anomalies': an.items, 'stats': stats}


# ----------------------------------------------------------------------------
# E. Summary
# ----------------------------------------------------------------------------

def summarize(results):
    """A small text table of anomaly counts by kind.

    results: one result dict, a dict name -> result (e.g. {'register': ...,
    'counter': ..., 'list': ...}) or a list of results."""
    if isinstance(results, dict) and 'valid' in results and 'anomalies' in results:
        named = [('result', results)]
    elif isinstance(results, dict):
        named = list(results.items())
    else:
        named = [('result %d' % i, r) for i, r in enumerate(results)]
    rows = []
    for name, r in named:
        counts = _counts(r.get('anomalies', []))
        valid = r.get('valid')
        if not counts:
            rows.append((str(name), str(valid), '-', ''))
        for kind in sorted(counts):
            rows.append((str(name), str(valid), kind, str(counts[kind])))
    head = ('checker', 'valid', 'anomaly', 'count')
    w = [max(len(x[c]) for x in rows + [head]) for c in range(4)]
    fmt = '%%-%ds  %%-%ds  %%-%ds  %%%ds' % tuple(w)
    lines = [fmt % head, fmt % tuple('-' * x for x in w)]
    lines += [fmt % row for row in rows]
    total = sum(len(r.get('anomalies', [])) for _, r in named)
    lines.append('%d anomal%s' % (total, 'y' if total == 1 else 'ies'))
    return '\n'.join(line.rstrip() for line in lines)
