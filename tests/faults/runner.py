"""runner: one fault-injection run against a real redis-raft cluster.

A Run starts N redis-raft nodes (each in its own network namespace when
netenv is available, else on 127.0.0.1), runs the workload threads
(workload.py: WORKLOADS, by default register, counter and list; bank is
selected with run_once(workloads=...) or utils/faults --workloads) while a nemesis injects faults from the chosen families, then
heals everything, reads the final state and checks the recorded history
(checker.py). Everything it starts is stopped and every namespace, rule and
mount removed in close(), which the callers run in `finally` (and atexit).

Fault families (FAMILIES):
  partition-leader  the leader alone on one side
  partition-halves  random halves
  partition-ring    every node sees only its neighbours (5 nodes)
  partition-oneway  messages from one node to another dropped, not back
  kill / kill-leader        SIGKILL, restart after a while
  pause / pause-leader      SIGSTOP, SIGCONT after a while
  disk-full         one node's data dir is a small tmpfs; fill it up
  clock-skew        restart a node under faketime with its clock 1.5x fast
                    or 0.7x slow
  membership        members leave (RAFT.NODE REMOVE, down to one voter) and
                    fresh nodes join (--join) back to the original size
                    (membership.py)
The network families need netenv; the others work on loopback too.

On a failed check the run directory is kept: history.jsonl, every node's
log, seed.txt and the command that replays the run.
"""

import atexit
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import checker
import membership
import workload

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_BIN = os.path.join(REPO, 'build', 'redis-raft')
# libfaketime deadlocks with jemalloc (jemalloc calls clock_gettime under a
# lock; libfaketime's lazy set-up then mallocs from dlsym), so a node under
# faketime runs a libc-malloc build: the sanitizer build (utils/test builds
# it), or FAULTS_FAKETIME_BIN.
FAKETIME_LIB = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1'
FAKETIME_BIN = os.environ.get('FAULTS_FAKETIME_BIN',
                              os.path.join(REPO, 'build-asan', 'redis-raft'))

NET_FAMILIES = ('partition-leader', 'partition-halves', 'partition-ring',
                'partition-oneway')
LOCAL_FAMILIES = ('kill', 'kill-leader', 'pause', 'pause-leader', 'clock-skew')
FAMILIES = NET_FAMILIES + LOCAL_FAMILIES + ('disk-full', 'membership')

# Workloads (workload.py); run_once and start_workload default to the first
# three, utils/faults mixes all of them.
WORKLOADS = ('register', 'counter', 'list', 'bank')
DEFAULT_WORKLOADS = ('register', 'counter', 'list')

CLIENT_PORT = 7000
RAFT_PORT = 17000


def log(msg):
    sys.stderr.write('[faults %s] %s\n' % (time.strftime('%H:%M:%S'), msg))
    sys.stderr.flush()


def wait_until(cond, timeout, what, interval=0.05):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            v = cond()
            if v:
                return v
        except Exception as e:  # noqa: BLE001 - keep polling, report the last
            last = e
        time.sleep(interval)
    raise TimeoutError('timed out after %.0fs waiting for %s (last error: %s)' % (
        timeout, what, last))


def _free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Node:
    """The node in slot i (its namespace). A fresh node that joined the
    running cluster (membership.py) has `join` set, its own dir and the id
    the cluster chose (raft_id, learned once it is a voter)."""

    def __init__(self, run, i, host, port, raft_port, name=None, join=None):
        self.run = run
        self.i = i
        self.host = host
        self.port = port
        self.raft_port = raft_port
        self.join = join
        self.raft_id = None if join else i
        self.removed = False  # removed from the cluster: never restarted
        self.dir = os.path.join(run.workdir, name or 'node%d' % i)
        self.data = os.path.join(self.dir, 'data')
        self.logfile = os.path.join(self.dir, 'redis-raft.log')
        os.makedirs(self.dir, exist_ok=True)
        self.proc = None
        self.paused = False
        self.faketime = None  # e.g. '+0 x1.5' for the next start
        self.exits = []       # exit statuses seen

    def argv(self):
        binary = FAKETIME_BIN if self.faketime else self.run.binary
        a = [binary, '--bind', self.host, '--port', str(self.port),
             '--raft-port', str(self.raft_port)]
        if self.join:
            a += ['--join', self.join]  # ignored on a restart (dir not empty)
        else:
            a += ['--node-id', str(self.i), '--cluster-nodes', self.run.seeds]
        a += ['--dir', self.data, '--logfile', self.logfile]
        for k, v in self.run.options.items():
            a += ['--' + k, str(v)]
        if self.faketime:
            # libfaketime preloaded through env (which execs), not the
            # faketime wrapper (which forks: SIGKILL would miss the node).
            a = ['env', 'ASAN_OPTIONS=verify_asan_link_order=0:detect_leaks=0',
                 'LD_PRELOAD=' + FAKETIME_LIB, 'FAKETIME=' + self.faketime] + a
        return a

    @property
    def address(self):
        return '%s:%d@%d' % (self.host, self.port, self.raft_port)

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def exited_by_itself(self):
        """Exit statuses our own signals do not explain."""
        allowed = {-signal.SIGKILL, -signal.SIGTERM, 0}
        if self.run.disk_node is self:
            allowed.add(1)  # 'Disk write failed': the expected way out
        return [st for st in self.exits if st not in allowed]

    def start(self):
        assert not self.running()
        if self.proc is not None:
            # It exited by itself since we last looked: keep its status.
            self.exits.append(self.proc.returncode)
            log('node %d had exited by itself with status %s' % (self.i, self.proc.returncode))
            self.proc = None
        out = open(os.path.join(self.dir, 'stdout.txt'), 'ab')
        if self.run.net is not None:
            self.proc = self.run.net.popen(self.i, self.argv(), stdout=out, stderr=out,
                                           stdin=subprocess.DEVNULL)
        else:
            self.proc = subprocess.Popen(self.argv(), stdout=out, stderr=out,
                                         stdin=subprocess.DEVNULL)
        out.close()
        self.paused = False

    def signal(self, sig):
        if self.running():
            try:
                os.kill(self.proc.pid, sig)
            except ProcessLookupError:
                pass

    def kill(self):
        if self.proc is None:
            return
        self.signal(signal.SIGKILL)
        self._reap()

    def _reap(self):
        if self.proc.poll() is not None and self.proc.returncode != -signal.SIGKILL:
            # It had exited by itself before our signal: keep that status.
            self.exits.append(self.proc.returncode)
            self.proc = None
            return
        try:
            self.exits.append(self.proc.wait(30))
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.exits.append(self.proc.wait(30))
        self.proc = None
        self.paused = False

    def stop(self):
        if self.proc is None or not self.running():
            return
        if self.paused:
            self.resume()
        self.signal(signal.SIGTERM)
        try:
            self.exits.append(self.proc.wait(30))
            self.proc = None
        except subprocess.TimeoutExpired:
            self.kill()

    def pause(self):
        self.signal(signal.SIGSTOP)
        self.paused = True

    def resume(self):
        self.signal(signal.SIGCONT)
        self.paused = False


class Run:
    """A cluster, its workload and its nemesis. Use as a context manager."""

    def __init__(self, nodes=3, seed=None, families=FAMILIES, binary=None,
                 options=None, workdir=None, use_netns=True, keep=False,
                 workers_per_workload=2, rotation=200):
        self.n = nodes
        self.seed = seed if seed is not None else random.randrange(1 << 30)
        self.rng = random.Random(self.seed)
        self.binary = binary or os.environ.get('REDIS_RAFT_BIN', DEFAULT_BIN)
        self.options = {'snapshot-threshold': 64, 'snapshot-trailing': 32,
                        'election-timeout': 500}
        self.options.update(options or {})
        self.workdir = workdir or tempfile.mkdtemp(prefix='rr-faults-')
        self.keep = keep
        self.workers_per_workload = workers_per_workload
        self.rotation_every = rotation
        self.net = None
        self.net_reason = None
        if use_netns:
            import netenv
            ok, reason = netenv.available()
            if ok:
                self.net = netenv.NetEnv(nodes)
            else:
                self.net_reason = reason
        self.families = [f for f in families
                         if self.net is not None or f not in NET_FAMILIES]
        self.skipped = {}
        if 'clock-skew' in self.families and not (
                os.access(FAKETIME_BIN, os.X_OK) and os.path.exists(FAKETIME_LIB)):
            self.skipped['clock-skew'] = ('needs faketime and a libc-malloc build at %s '
                                          '(libfaketime deadlocks with jemalloc)' % FAKETIME_BIN)
            self.families.remove('clock-skew')
        if nodes < 5:
            self.families = [f for f in self.families if f != 'partition-ring']
        self.history = workload.History()
        self.stop_event = threading.Event()
        self.workers = []
        self.rotations = {}
        self.nodes = {}           # slot -> its current Node
        self.retired = []         # removed nodes whose slot a fresh node took
        self.addrs = []           # (host, port) per slot, for the workers
        self.membership = membership.Membership(self)
        self.faults = []          # (time, description)
        self.fault_counts = {}
        self.closed = False
        self.disk_node = None
        atexit.register(self.close)

    # -- setup --------------------------------------------------------------
    def __enter__(self):
        try:
            self.setup()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()

    def connect(self, host, port, timeout):
        if self.net is not None:
            return self.net.connect(host, port, timeout)
        return socket.create_connection((host, port), timeout)

    def setup(self):
        with open(os.path.join(self.workdir, 'seed.txt'), 'w') as f:
            f.write('%d\n' % self.seed)
        if self.net is not None:
            self.net.setup()
            addrs = [(self.net.node_ip(i), CLIENT_PORT, RAFT_PORT) for i in range(1, self.n + 1)]
        else:
            addrs = [('127.0.0.1', _free_port(), _free_port()) for _ in range(self.n)]
        self.seeds = ','.join('%s:%d@%d' % a for a in addrs)
        for i, (host, port, rport) in enumerate(addrs, 1):
            self.nodes[i] = Node(self, i, host, port, rport)
        self.addrs[:] = [(host, port) for host, port, _ in addrs]
        if 'disk-full' in self.families and self.net is not None:
            # One node's data dir lives on a tmpfs we can fill up.
            self.disk_node = self.nodes[self.n]
            self.net.mount_tmpfs(self.disk_node.data, 256 << 20)
        for node in self.nodes.values():
            node.start()
        self.wait_leader(30)

    # -- cluster state --------------------------------------------------------
    def command(self, node, *args, timeout=2.0):
        conn = workload.RespConn(self.connect(node.host, node.port, timeout), timeout)
        try:
            return conn.command(*args)
        finally:
            conn.close()

    def raft_info(self, node):
        text = self.command(node, 'INFO', 'raft')
        out = {}
        for line in text.splitlines():
            if ':' in line and not line.startswith('#'):
                k, v = line.split(':', 1)
                out[k] = v
        return out

    def leader(self):
        """The node that says it leads with the highest term, or None."""
        best, term = None, -1
        for node in self.nodes.values():
            if not node.running() or node.paused or node.removed:
                continue
            try:
                info = self.raft_info(node)
            except (OSError, workload.Closed, workload.Error, socket.timeout):
                continue
            if info.get('raft_role') == 'leader' and int(info['raft_term']) > term:
                best, term = node, int(info['raft_term'])
        return best

    def wait_leader(self, timeout=30):
        return wait_until(self.leader, timeout, 'a raft leader')

    def fresh_node(self, old, gen, join):
        """A new node (not started) taking removed node old's slot: same
        namespace and IP, the next ports, an empty dir of its own, joining
        through member `join` (HOST:PORT)."""
        if self.net is not None:
            port, rport = CLIENT_PORT + gen, RAFT_PORT + gen
        else:
            port, rport = _free_port(), _free_port()
        node = Node(self, old.i, old.host, port, rport, name='node%d.%d' % (old.i, gen),
                    join=join)
        if self.disk_node is old:
            self.net.mount_tmpfs(node.data, 256 << 20)
            self.disk_node = node
        self.retired.append(old)
        self.nodes[old.i] = node
        return node

    # -- workload -------------------------------------------------------------
    def start_workload(self, workloads=DEFAULT_WORKLOADS):
        addrs = self.addrs  # kept up to date by membership changes
        wid = 0
        for w in workloads:
            if w not in WORKLOADS:
                raise ValueError('unknown workload %r (known: %s)' % (w, ', '.join(WORKLOADS)))
            prefix = 'bank' if w == 'bank' else w[:3]
            rot = self.rotations.setdefault(w, workload.KeyRotation(prefix, self.rotation_every))
            cls = workload.BankWorker if w == 'bank' else workload.Worker
            for _ in range(self.workers_per_workload):
                wid += 1
                t = cls(wid, w, addrs, self.connect, self.history, rot,
                        self.stop_event, seed=self.rng.randrange(1 << 30))
                self.workers.append(t)
                t.start()

    def stop_workload(self):
        self.stop_event.set()
        for t in self.workers:
            t.join(30)

    # -- nemesis --------------------------------------------------------------
    def note_fault(self, family, desc):
        self.faults.append((time.monotonic(), family, desc))
        self.fault_counts[family] = self.fault_counts.get(family, 0) + 1
        log('fault %s: %s' % (family, desc))

    def _target(self, leader_only):
        if leader_only:
            ldr = self.leader()
            if ldr is not None:
                return ldr
        up = [n for n in self.nodes.values() if n.running() and not n.paused
              and not n.removed]
        return self.rng.choice(up) if up else None

    def inject(self, family):
        """Apply one fault; returns a function that heals it."""
        ids = list(self.nodes)
        if family == 'partition-leader':
            ldr = self._target(True)
            rest = [i for i in ids if i != ldr.i]
            self.net.partition([[ldr.i], rest])
            self.note_fault(family, 'isolated node %d (leader)' % ldr.i)
            return self.net.heal
        if family == 'partition-halves':
            shuffled = ids[:]
            self.rng.shuffle(shuffled)
            k = self.rng.randint(1, len(ids) // 2)
            groups = [sorted(shuffled[:k]), sorted(shuffled[k:])]
            self.net.partition(groups)
            self.note_fault(family, 'halves %s' % groups)
            return self.net.heal
        if family == 'partition-ring':
            self.net.ring()
            self.note_fault(family, 'majority ring')
            return self.net.heal
        if family == 'partition-oneway':
            a, b = self.rng.sample(ids, 2)
            ldr = self.leader()
            if ldr is not None and self.rng.random() < 0.5:
                a = ldr.i
                b = self.rng.choice([i for i in ids if i != a])
            self.net.cut_one_way(a, b)
            self.note_fault(family, 'node %d -> node %d dropped' % (a, b))
            return self.net.heal
        if family in ('kill', 'kill-leader'):
            node = self._target(family == 'kill-leader')
            if node is None:
                return lambda: None
            node.kill()
            self.note_fault(family, 'SIGKILL node %d' % node.i)
            return lambda: self._restart(node)
        if family in ('pause', 'pause-leader'):
            node = self._target(family == 'pause-leader')
            if node is None:
                return lambda: None
            node.pause()
            self.note_fault(family, 'SIGSTOP node %d' % node.i)
            return node.resume
        if family == 'clock-skew':
            node = self._target(False)
            if node is None:
                return lambda: None
            rate = self.rng.choice(['1.5', '0.7'])
            node.kill()
            node.faketime = '+0 x%s' % rate
            node.start()
            self.note_fault(family, 'node %d restarted with its clock at x%s' % (node.i, rate))

            def heal():
                node.kill()
                node.faketime = None
                self._restart(node)
            return heal
        if family == 'disk-full':
            node = self.disk_node
            if node is None:
                return lambda: None
            filler = os.path.join(node.data, 'filler')
            try:
                st = os.statvfs(node.data)
                free = st.f_bavail * st.f_frsize
                with open(filler, 'wb') as f:
                    f.truncate(0)
                    left = max(0, free - (1 << 20))
                    chunk = b'\0' * (1 << 20)
                    while left > 0:
                        n = f.write(chunk[:min(len(chunk), left)])
                        left -= n
            except OSError:
                pass  # full: that is the point
            self.note_fault(family, 'node %d data dir filled' % node.i)

            def heal():
                try:
                    os.unlink(filler)
                except OSError:
                    pass
                if not node.running():
                    self._restart(node)
            return heal
        if family == 'membership':
            return self.membership.inject()
        raise ValueError('unknown fault family %r' % family)

    def _restart(self, node):
        if node.running():
            node.kill()
        node.start()

    def nemesis(self, duration, families=None, fault_time=(2.0, 5.0), quiet_time=(1.0, 3.0)):
        """Inject faults from families, one at a time, for duration seconds."""
        families = list(families or self.families)
        end = time.monotonic() + duration
        while time.monotonic() < end and families:
            time.sleep(min(self.rng.uniform(*quiet_time), max(0, end - time.monotonic())))
            if time.monotonic() >= end:
                break
            family = self.rng.choice(families)
            try:
                heal = self.inject(family)
            except Exception as e:  # noqa: BLE001 - a fault that could not apply
                log('fault %s not applied: %s' % (family, e))
                continue
            time.sleep(self.rng.uniform(*fault_time))
            heal()
            self.heal_all()

    def heal_all(self):
        if self.net is not None:
            self.net.heal()
        for node in self.nodes.values():
            if node.paused:
                node.resume()
            if node.faketime is not None:
                node.kill()
                node.faketime = None
            if not node.running() and not node.removed:
                if self.disk_node is node:
                    try:
                        os.unlink(os.path.join(node.data, 'filler'))
                    except OSError:
                        pass
                node.start()
        if any(node.removed for node in self.nodes.values()):
            self.membership.restore()

    # -- final state and checking ---------------------------------------------
    def final_reads(self, timeout=60):
        """Final value of every counter and list key and the balances of
        every bank round, read through the leader (a linearizable read)
        after everything healed."""
        self.heal_all()
        ldr = self.wait_leader(timeout)
        finals = {'counter': {}, 'list': {}, 'bank': {}}
        for w in ('counter', 'list', 'bank'):
            rot = self.rotations.get(w)
            for key in (rot.keys if rot else []):
                def read(key=key, w=w):
                    node = self.leader() or ldr
                    if w == 'counter':
                        v = self.command(node, 'GET', key, timeout=5)
                        return ('ok', 0 if v is None else int(v))
                    if w == 'bank':
                        v = self.command(node, 'MGET', *workload.bank_accounts(key),
                                         timeout=5)
                        return ('ok', [workload._balance(x) for x in v])
                    return ('ok', self.command(node, 'LRANGE', key, 0, -1, timeout=5))
                finals[w][key] = wait_until(read, timeout, 'final read of %s' % key)[1]
        return finals

    def check(self, finals, timeout=30):
        ops = self.history.ops
        results = {}
        reg = [op for op in ops if op['workload'] == 'register']
        if reg:
            results['register'] = checker.check_registers(reg, timeout=timeout)
        cnt = [op for op in ops if op['workload'] == 'counter']
        if cnt:
            per = []
            for key, final in finals['counter'].items():
                per.append(checker.check_counter([op for op in cnt if op['key'] == key],
                                                 final_value=final))
            results['counter'] = _merge(per)
        lst = [op for op in ops if op['workload'] == 'list']
        if lst:
            per = []
            for key, final in finals['list'].items():
                per.append(checker.check_list([op for op in lst if op['key'] == key], final))
            results['list'] = _merge(per)
        bank = [op for op in ops if op['workload'] == 'bank']
        if bank:
            results['bank'] = checker.check_bank(bank, finals.get('bank'),
                                                 initial=workload.BANK_INITIAL,
                                                 timeout=timeout)
        if self.membership.used:
            results['membership'] = self.membership.result(ops)
        return results

    def crashed_nodes(self):
        """Nodes that exited by themselves (not by our signals) and why."""
        out = []
        for node in list(self.nodes.values()) + self.retired:
            if node.proc is not None and node.proc.poll() is not None:
                node.exits.append(node.proc.returncode)
                node.proc = None
            out += [(node.i, st) for st in node.exited_by_itself()]
        return out

    def save_artifacts(self):
        with open(os.path.join(self.workdir, 'history.jsonl'), 'w') as f:
            for op in self.history.ops:
                f.write(json.dumps(op) + '\n')
        with open(os.path.join(self.workdir, 'faults.txt'), 'w') as f:
            for t, fam, desc in self.faults:
                f.write('%.3f %s %s\n' % (t, fam, desc))

    def replay_command(self, families, duration, workloads=DEFAULT_WORKLOADS):
        return ('utils/faults --seed %d --nodes %d --minutes %.2f --families %s '
                '--workloads %s --workers %d' % (
                    self.seed, self.n, duration / 60.0, ','.join(families),
                    ','.join(workloads), self.workers_per_workload))

    def summary(self):
        counts = {'ok': 0, 'fail': 0, 'info': 0}
        for op in self.history.ops:
            if op['type'] in counts:
                counts[op['type']] += 1
        return counts

    def close(self):
        if self.closed:
            return
        self.closed = True
        self.stop_event.set()
        for node in list(self.nodes.values()) + self.retired:
            try:
                if node.paused:
                    node.resume()
                node.kill()
            except Exception:  # noqa: BLE001 - teardown must go on
                pass
        if self.net is not None:
            self.net.teardown()
        if not self.keep:
            shutil.rmtree(self.workdir, ignore_errors=True)


def _merge(results):
    out = {'valid': True, 'anomalies': [], 'stats': {}}
    for r in results:
        out['anomalies'] += r.get('anomalies', [])
        if r['valid'] is False:
            out['valid'] = False
        elif r['valid'] == 'unknown' and out['valid'] is True:
            out['valid'] = 'unknown'
    return out


def run_once(duration, families, nodes=3, seed=None, options=None, use_netns=True,
             keep_on_failure=True, workers_per_workload=2, workloads=DEFAULT_WORKLOADS):
    """Run workloads (default DEFAULT_WORKLOADS; any of WORKLOADS) for
    `duration` seconds under `families` and check them.
    Returns (ok, report dict). Keeps the run dir when ok is False."""
    run = Run(nodes=nodes, seed=seed, families=families, options=options,
              use_netns=use_netns, keep=True, workers_per_workload=workers_per_workload)
    ok = False
    report = {'seed': run.seed, 'workdir': run.workdir, 'netns': run.net is not None,
              'netns_reason': run.net_reason, 'skipped': run.skipped}
    try:
        run.setup()
        run.start_workload(workloads)
        run.nemesis(duration, families=[f for f in families if f in run.families])
        run.heal_all()
        # Let the workload see the healed cluster for a moment.
        time.sleep(1.0)
        run.stop_workload()
        finals = run.final_reads()
        results = run.check(finals)
        crashed = run.crashed_nodes()
        report.update(results=results, ops=run.summary(), faults=dict(run.fault_counts),
                      crashed=crashed)
        ok = (all(r['valid'] is True for r in results.values()) and not crashed)
        report['ok'] = ok
        return ok, report
    finally:
        run.save_artifacts()
        report['replay'] = run.replay_command(families, duration, workloads)
        try:
            with open(os.path.join(run.workdir, 'report.json'), 'w') as f:
                json.dump(report, f, indent=1, default=str)
        except OSError:
            pass
        run.keep = keep_on_failure and not ok
        run.close()
