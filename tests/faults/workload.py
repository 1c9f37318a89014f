"""workload: clients that drive redis-raft and record every operation.

Each Worker is a thread with its own connection that runs one workload
(registers, counters, lists or bank) against the cluster and records, for
every operation, an 'invoke' and then exactly one completion in a shared
History (see checker.py for the format):

  ok    a definite reply
  fail  a reply that guarantees the operation had no effect: -MOVED (never
        proposed) and -CLUSTERDOWN (no leader: never proposed)
  info  unknown outcome: a timeout, a dropped connection, -TIMEOUT, or any
        other error. The worker then reconnects under a new process id and
        never retries that operation.

Keys rotate every `rotation` operations of a workload, so each key's
history stays short enough for the linearizability search.

Bank (BankWorker): the rotation's key `bank:<round>` names a round of
BANK_ACCOUNTS accounts `bank:<round>:<i>`, created by MSETNX with
BANK_INITIAL (all or nothing; every worker retries it until it gets a
definite reply before its first operation on a round, so no transfer ever
touches an uninitialised account). Operations (key: the round):

  transfer  value {'from': i, 'to': j, 'amount': x}: WATCH a b, MGET a b,
            MULTI, DECRBY a x, INCRBY b x, EXEC. ok: EXEC returned an array,
            result {'read': [a, b] from the MGET, 'exec': EXEC's reply};
            fail: EXEC returned null (a watched key changed: nothing
            applied), -MOVED / -CLUSTERDOWN, or any error or broken
            connection before EXEC was sent (the transaction never reached
            the server; the connection is dropped, discarding its MULTI
            state); info: anything uncertain once EXEC was sent.
  read      MGET of every account, or MULTI + a GET each + EXEC; result the
            balances (ints, None for a missing key).
  init      the round's MSETNX (recorded for the record; checkers skip it).
"""

import random
import socket
import threading
import time


class Error(Exception):
    """A RESP error reply."""


class Closed(Exception):
    """The connection broke or timed out."""


def encode(*args):
    out = [b'*%d\r\n' % len(args)]
    for a in args:
        if not isinstance(a, bytes):
            a = str(a).encode()
        out.append(b'$%d\r\n%s\r\n' % (len(a), a))
    return b''.join(out)


class RespConn:
    """A minimal blocking RESP2 client on one socket (created by connect)."""

    def __init__(self, sock, timeout):
        self.sock = sock
        self.sock.settimeout(timeout)
        self.buf = b''

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def _line(self):
        while b'\r\n' not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b'\r\n', 1)
        return line

    def _fill(self):
        try:
            data = self.sock.recv(65536)
        except (OSError, socket.timeout) as e:
            raise Closed(str(e))
        if not data:
            raise Closed('connection closed by the server')
        self.buf += data

    def _read(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b'+':
            return rest.decode()
        if kind == b'-':
            return Error(rest.decode(errors='replace'))
        if kind == b':':
            return int(rest)
        if kind == b'$':
            n = int(rest)
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                self._fill()
            data, self.buf = self.buf[:n], self.buf[n + 2:]
            return data.decode(errors='replace')
        if kind == b'*':
            n = int(rest)
            if n < 0:
                return None
            return [self._read() for _ in range(n)]
        raise Closed('protocol error: %r' % line[:40])

    def command(self, *args):
        try:
            self.sock.sendall(encode(*args))
        except OSError as e:
            raise Closed(str(e))
        reply = self._read()
        if isinstance(reply, Error):
            raise reply
        return reply


class History:
    """Thread-safe, append-only operation log with monotonic timestamps."""

    def __init__(self):
        self.ops = []
        self._lock = threading.Lock()
        self._next_process = 0

    def new_process(self):
        with self._lock:
            self._next_process += 1
            return self._next_process

    def _add(self, op):
        with self._lock:
            op['index'] = len(self.ops)
            op['time'] = time.monotonic_ns()
            self.ops.append(op)
        return op

    def invoke(self, process, workload, f, key, value):
        return self._add({'process': process, 'type': 'invoke', 'workload': workload,
                          'f': f, 'key': key, 'value': value})

    def complete(self, inv, kind, value, error=None):
        op = {'process': inv['process'], 'type': kind, 'workload': inv['workload'],
              'f': inv['f'], 'key': inv['key'], 'value': value}
        if error:
            op['error'] = error
        return self._add(op)

    def of(self, workload):
        with self._lock:
            return [op for op in self.ops if op['workload'] == workload]


# Error replies after which the command certainly had no effect.
DEFINITE_FAILURES = ('MOVED ', 'CLUSTERDOWN ')


class KeyRotation:
    """Shared per workload: the current key changes every `every` ops."""

    def __init__(self, prefix, every):
        self.prefix = prefix
        self.every = every
        self.count = 0
        self.lock = threading.Lock()
        self.keys = []

    def next_key(self):
        with self.lock:
            gen = self.count // self.every
            self.count += 1
            key = '%s:%d' % (self.prefix, gen)
            if not self.keys or self.keys[-1] != key:
                self.keys.append(key)
            return key


BANK_ACCOUNTS = 5
BANK_INITIAL = (10,) * BANK_ACCOUNTS          # total 50
BANK_MAX_TRANSFER = 5


def bank_accounts(round_key, n=BANK_ACCOUNTS):
    return ['%s:%d' % (round_key, i) for i in range(n)]


def _balance(v):
    if v is None:
        return None
    try:
        return int(v)
    except (TypeError, ValueError):
        return str(v)


class Worker(threading.Thread):
    """One client: loops until stop is set, one operation at a time.

    workload: 'register', 'counter' or 'list'. addrs: list of (host, port)
    of every node (follower-proxy is on, so any node serves). connect(host,
    port, timeout) returns a connected socket (the fault suite's makes it
    inside the client network namespace)."""

    def __init__(self, wid, workload, addrs, connect, history, rotation, stop,
                 seed, timeout=2.0, pace=0.0):
        super().__init__(name='worker-%d-%s' % (wid, workload), daemon=True)
        self.wid = wid
        self.workload = workload
        self.addrs = addrs
        self.connect_fn = connect
        self.history = history
        self.rotation = rotation
        self.stop = stop
        self.rng = random.Random(seed)
        self.timeout = timeout
        self.pace = pace
        self.conn = None
        self.process = history.new_process()
        self.n = 0
        self.counts = {'ok': 0, 'fail': 0, 'info': 0}

    def _connect(self):
        host, port = self.rng.choice(self.addrs)
        try:
            self.conn = RespConn(self.connect_fn(host, port, self.timeout), self.timeout)
        except (OSError, socket.timeout):
            self.conn = None

    def _op(self):
        key = self.rotation.next_key()
        self.n += 1
        if self.workload == 'register':
            if self.rng.random() < 0.5:
                value = '%d-%d' % (self.wid, self.n)
                return 'write', key, value, ('SET', key, value)
            return 'read', key, None, ('GET', key)
        if self.workload == 'counter':
            if self.rng.random() < 0.7:
                return 'incr', key, None, ('INCR', key)
            return 'read', key, None, ('GET', key)
        if self.rng.random() < 0.7:
            value = '%d-%d' % (self.wid, self.n)
            return 'append', key, value, ('RPUSH', key, value)
        return 'read', key, None, ('LRANGE', key, 0, -1)

    def _result(self, f, reply):
        if self.workload == 'counter' and f == 'read':
            return 0 if reply is None else int(reply)
        if self.workload == 'register' and f == 'write':
            return None
        return reply

    def run(self):
        while not self.stop.is_set():
            if self.conn is None:
                self._connect()
                if self.conn is None:
                    # Nobody reachable now: no operation was invoked.
                    self.stop.wait(0.05)
                    continue
            f, key, value, cmd = self._op()
            inv = self.history.invoke(self.process, self.workload, f, key, value)
            try:
                reply = self.conn.command(*cmd)
                self.history.complete(inv, 'ok', self._result(f, reply))
                self.counts['ok'] += 1
            except Error as e:
                self._error(inv, str(e))
            except Closed as e:
                self._unknown(inv, str(e))
            if self.pace:
                self.stop.wait(self.pace)
        if self.conn is not None:
            self.conn.close()

    def _fail(self, inv, why):
        """A definite failure (no effect): record it and drop the connection
        (a MOVED or CLUSTERDOWN node: try another one); the process id can
        stay, since nothing of this operation can still happen."""
        self.history.complete(inv, 'fail', None, error=why)
        self.counts['fail'] += 1
        self.conn.close()
        self.conn = None

    def _error(self, inv, msg):
        """An error reply: a fail when it guarantees no effect, else info."""
        if msg.startswith(DEFINITE_FAILURES):
            self._fail(inv, msg)
        else:
            self._unknown(inv, msg)

    def _unknown(self, inv, why):
        self.history.complete(inv, 'info', None, error=why)
        self.counts['info'] += 1
        if self.conn is not None:
            self.conn.close()
        self.conn = None
        self.process = self.history.new_process()


class _BeforeExec(Exception):
    """The transaction failed before EXEC was sent: it had no effect."""


class BankWorker(Worker):
    """A client of the bank workload (see the module docstring)."""

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.ready = set()      # rounds whose MSETNX got a definite reply

    def _init_round(self, key):
        """MSETNX the round's accounts until a definite reply (1 or 0: either
        way every account exists). False when stopped first."""
        args = []
        for acct, bal in zip(bank_accounts(key), BANK_INITIAL):
            args += [acct, bal]
        while not self.stop.is_set():
            if self.conn is None:
                self._connect()
                if self.conn is None:
                    self.stop.wait(0.05)
                    continue
            inv = self.history.invoke(self.process, self.workload, 'init', key,
                                      list(BANK_INITIAL))
            try:
                reply = self.conn.command('MSETNX', *args)
                self.history.complete(inv, 'ok', reply)
                self.ready.add(key)
                return True
            except Error as e:
                msg = str(e)
                if msg.startswith(DEFINITE_FAILURES):
                    self.history.complete(inv, 'fail', None, error=msg)
                    self.conn.close()
                    self.conn = None
                else:
                    self._unknown(inv, msg)
            except Closed as e:
                self._unknown(inv, str(e))
            self.stop.wait(0.05)
        return False

    def _transfer(self, key, value):
        """Returns ('ok', result), ('fail', error) or raises Error/Closed
        (after EXEC was sent) or _BeforeExec."""
        accts = bank_accounts(key)
        a, b = accts[value['from']], accts[value['to']]
        step = 'WATCH'
        try:
            self.conn.command('WATCH', a, b)
            step = 'MGET'
            read = [_balance(v) for v in self.conn.command('MGET', a, b)]
            step = 'MULTI'
            self.conn.command('MULTI')
            step = 'DECRBY'
            self.conn.command('DECRBY', a, value['amount'])
            step = 'INCRBY'
            self.conn.command('INCRBY', b, value['amount'])
        except (Error, Closed) as e:
            raise _BeforeExec('%s: %s' % (step, e))
        reply = self.conn.command('EXEC')
        if reply is None:
            return 'fail', 'EXEC aborted (null): a watched key changed'
        if isinstance(reply, list):
            reply = [str(v) if isinstance(v, Error) else v for v in reply]
        return 'ok', {'read': read, 'exec': reply}

    def _read(self, key):
        accts = bank_accounts(key)
        if self.rng.random() < 0.5:
            return [_balance(v) for v in self.conn.command('MGET', *accts)]
        try:
            self.conn.command('MULTI')
            for acct in accts:
                self.conn.command('GET', acct)
        except (Error, Closed) as e:
            raise _BeforeExec('MULTI read: %s' % e)
        reply = self.conn.command('EXEC')
        if not isinstance(reply, list):
            return reply        # null: the checker flags it
        return [str(v) if isinstance(v, Error) else _balance(v) for v in reply]

    def run(self):
        while not self.stop.is_set():
            if self.conn is None:
                self._connect()
                if self.conn is None:
                    self.stop.wait(0.05)
                    continue
            key = self.rotation.next_key()
            if key not in self.ready and not self._init_round(key):
                break
            if self.conn is None:
                continue
            self.n += 1
            if self.rng.random() < 0.7:
                i, j = self.rng.sample(range(BANK_ACCOUNTS), 2)
                f, value = 'transfer', {'from': i, 'to': j,
                                        'amount': self.rng.randint(1, BANK_MAX_TRANSFER)}
            else:
                f, value = 'read', None
            inv = self.history.invoke(self.process, self.workload, f, key, value)
            try:
                if f == 'transfer':
                    kind, res = self._transfer(key, value)
                else:
                    kind, res = 'ok', self._read(key)
                if kind == 'ok':
                    self.history.complete(inv, 'ok', res)
                else:
                    self.history.complete(inv, 'fail', None, error=res)
                self.counts[kind] += 1
            except _BeforeExec as e:
                # EXEC never sent: no effect. Dropping the connection drops
                # any MULTI or WATCH state with it.
                self._fail(inv, str(e))
            except Error as e:
                self._error(inv, str(e))
            except Closed as e:
                self._unknown(inv, str(e))
            if self.pace:
                self.stop.wait(self.pace)
        if self.conn is not None:
            self.conn.close()
