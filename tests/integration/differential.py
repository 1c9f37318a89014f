"""differential: run the same commands against redis-raft and a stock
redis-server and compare the reply bytes.

The test files of the suite share this machinery instead of each keeping a
copy:

  Commands      split_command / args_of / command_name: a command is a list
                of arguments, or a string split on spaces (a file may pass
                its own `split`, e.g. shlex.split).
  Sequences     run(proc, commands): one connection, FLUSHALL first (unless
                flush=False), one reply read per command.
                run_pipelined(proc, commands): every command in one write,
                then every reply read.
                sequences_in_one_write(sequences): every named sequence,
                each after a FLUSHALL, as one command list.
                assert_same(commands, got, want[, normalize, skip]): the
                replies agree (exactly, or after `normalize`), and so does
                their number. compare / compare_pipelined: both steps.
  Pinned        check_pinned(procs, setup, cmd, expected): literal reply
                bytes, checked on every server (a reference that fails like
                redis-raft cannot hide a bug).
  Arity         arity_sequence(name, arity): calls with too few (and, for a
                fixed arity, too many) arguments.
  Parsing       parse / parse_one give Typed values of RESP2 or RESP3 replies
                (harness.RawConn reads both); plain() turns a reply into
                Python values, unordered() into a form where the members of
                flat aggregates are sorted (replies in hash order).
  Transcripts   run_differential(seq, node, redis_server): steps on several
                named connections at once, each step followed by a sentinel
                PING on every open connection so that pushed messages are
                recorded in a deterministic place (pub/sub, RESP3).

Every reading goes through harness.RawConn (RESP2 and RESP3).
"""

import harness
from harness import encode

# ---------------------------------------------------------------------------
# Commands


def split_command(line):
    """'SET k v' -> ['SET', 'k', 'v'] (space-split; a list is used as is, for
    binary or empty arguments)."""
    return line.split(' ') if isinstance(line, str) else line


def args_of(cmd, split=split_command):
    """The argument list of a command given as a string or a list."""
    return split(cmd) if isinstance(cmd, str) else cmd


def command_name(cmd, split=split_command):
    """The upper-cased command name (str) of a command."""
    name = args_of(cmd, split)[0]
    return (name.decode() if isinstance(name, bytes) else name).upper()


# ---------------------------------------------------------------------------
# Running sequences


def run(proc, commands, prelude=(), flush=True, split=split_command):
    """Run commands one at a time on one new connection to proc and return
    the list of reply bytes. FLUSHALL first (its +OK is asserted) unless
    flush is false; the `prelude` commands (e.g. [('HELLO', '3')]) are sent
    next and their replies are not returned."""
    with proc.raw() as conn:
        if flush:
            assert conn.command('FLUSHALL') == b'+OK\r\n'
        for p in prelude:
            conn.command(*p)
        return [conn.command(*args_of(cmd, split)) for cmd in commands]


def run_pipelined(proc, commands, timeout=None, split=split_command):
    """Send every command in one write on one new connection, then read one
    reply per command; returns the list of reply bytes (no FLUSHALL: put
    one in `commands`)."""
    payload = b''.join(encode(*args_of(cmd, split)) for cmd in commands)
    with proc.raw(timeout or harness.REPLY_TIMEOUT) as conn:
        conn.send(payload)
        return conn.read_replies(len(commands))


def sequences_in_one_write(sequences, split=split_command):
    """Every sequence of the dict `sequences`, in name order and each after
    a FLUSHALL, as one list of argument lists (for run_pipelined: batching
    many commands into one log entry must not change any reply)."""
    commands = []
    for name in sorted(sequences):
        commands.append(['FLUSHALL'])
        commands.extend(args_of(cmd, split) for cmd in sequences[name])
    return commands


def _show(args, limit=8):
    return args if len(args) <= limit else list(args[:limit]) + ['...']


def _cut(x, limit=300):
    return x[:limit] if isinstance(x, (bytes, str)) else x


def assert_same(commands, got, want, normalize=None, skip=None, split=split_command):
    """redis-raft's replies `got` equal redis-server's `want`, command by
    command, and there are as many.

    normalize(args, reply), if given, maps each reply to what both servers
    must agree on (e.g. sorted members); skip(ng, nw), if given, says that
    a pair of normalized replies is not comparable at all."""
    for cmd, g, w in zip(commands, got, want):
        args = args_of(cmd, split)
        ng, nw = (normalize(args, g), normalize(args, w)) if normalize else (g, w)
        if skip is not None and skip(ng, nw):
            continue
        assert ng == nw, 'command %r:\n  redis-server: %r\n  redis-raft:   %r' % (
            _show(args), _cut(w), _cut(g))
    assert len(got) == len(want)


def compare(node, reference, commands, prelude=(), flush=True, split=split_command,
            **kw):
    """run() commands on reference and on node and assert_same() the
    replies (kw: normalize, skip)."""
    want = run(reference, commands, prelude, flush, split)
    got = run(node, commands, prelude, flush, split)
    assert_same(commands, got, want, split=split, **kw)


def compare_pipelined(node, reference, commands, timeout=None, split=split_command, **kw):
    """run_pipelined() commands on reference and on node and assert_same()
    the replies (kw: normalize, skip)."""
    want = run_pipelined(reference, commands, timeout, split)
    got = run_pipelined(node, commands, timeout, split)
    assert_same(commands, got, want, split=split, **kw)


def check_pinned(procs, setup, cmd, expected, split=split_command):
    """On a new connection to each of procs: the setup commands, given as
    (args, expected reply) pairs, then cmd, whose reply must be exactly
    `expected`."""
    for proc in procs:
        with proc.raw() as conn:
            for args, reply in setup:
                assert conn.command(*args) == reply, (proc.name, args)
            assert conn.command(*args_of(cmd, split)) == expected, proc.name


def check_pinned_in_order(proc, pinned, pinned_resp3=()):
    """On one connection to proc: every (args, reply) of `pinned` in turn,
    each reply exactly as given; then, if pinned_resp3, FLUSHALL, HELLO 3
    and every (args, reply) of pinned_resp3."""
    with proc.raw() as conn:
        for args, want in pinned:
            assert conn.command(*args) == want, args
        if pinned_resp3:
            assert conn.command('FLUSHALL') == b'+OK\r\n'
            assert conn.command('HELLO', '3').startswith(b'%')
            for args, want in pinned_resp3:
                assert conn.command(*args) == want, args


def arity_sequence(name, arity, filler='1', lowercase_call=True, dbsize=True):
    """Calls of `name` with too few arguments and, for a fixed arity (Redis
    convention: -N means at least N), exactly N and then (in lower case,
    unless lowercase_call is false) too many. The arguments are `filler` so
    that only their count can be wrong. DBSIZE last if dbsize."""
    n = abs(arity)
    calls = [[name] + [filler] * (argc - 1) for argc in range(1, n)]
    if arity > 0:
        calls.append([name] + [filler] * n)
        if lowercase_call:
            calls.append([name.lower()] + [filler] * (n + 3))
    return calls + (['DBSIZE'] if dbsize else [])


# ---------------------------------------------------------------------------
# Parsing RESP2/RESP3 replies


class Err(bytes):
    """An error reply's text (without the '-'). It never equals plain bytes
    (a key named like an error message is not that error)."""

    def __eq__(self, other):
        return isinstance(other, Err) and bytes.__eq__(self, other)

    def __ne__(self, other):
        return not self.__eq__(other)

    __hash__ = bytes.__hash__

    def __repr__(self):
        return 'Err(%s)' % bytes.__repr__(self)


class Typed:
    """A parsed reply: its RESP type character `kind`, its `value` (bytes,
    int, float, bool, None, a list of Typed, or for maps a list of (key,
    value) pairs) and, for one-line replies, the `raw` text of the line."""

    def __init__(self, kind, value, raw=None):
        self.kind = kind
        self.value = value
        self.raw = raw

    def __repr__(self):
        return 'Typed(%r, %r)' % (self.kind, self.value)


def parse(buf, pos=0):
    """(Typed, end position) of the complete reply at buf[pos]. An
    attribute (|) is skipped: the value is the reply it annotates."""
    nl = buf.index(b'\r\n', pos)
    kind = buf[pos:pos + 1].decode()
    line = buf[pos + 1:nl]
    nxt = nl + 2
    if kind in '+-(':
        return Typed(kind, line, line), nxt
    if kind == ':':
        return Typed(kind, int(line), line), nxt
    if kind == ',':
        return Typed(kind, float(line), line), nxt
    if kind == '#':
        return Typed(kind, line == b't', line), nxt
    if kind == '_':
        return Typed(kind, None, line), nxt
    if kind in '$!=':
        n = int(line)
        if n < 0:
            return Typed(kind, None), nxt
        return Typed(kind, buf[nxt:nxt + n]), nxt + n + 2
    if kind in '*~>':
        n = int(line)
        if n < 0:
            return Typed(kind, None), nxt
        items = []
        for _ in range(n):
            item, nxt = parse(buf, nxt)
            items.append(item)
        return Typed(kind, items), nxt
    if kind in '%|':
        n = int(line)
        pairs = []
        for _ in range(n):
            k, nxt = parse(buf, nxt)
            v, nxt = parse(buf, nxt)
            pairs.append((k, v))
        if kind == '|':
            return parse(buf, nxt)
        return Typed(kind, pairs), nxt
    raise ValueError('not a RESP reply: %r' % buf[pos:pos + 64])


def parse_one(reply):
    """The Typed value of exactly one complete reply."""
    value, end = parse(reply)
    assert end == len(reply), reply
    return value


def _flat(t):
    return [x for kv in t.value for x in kv] if t.kind == '%' else t.value


def to_plain(t):
    """Python values of a Typed: simple strings and bulks are bytes, errors
    Err, integers int, nulls None, arrays (and pushes) lists; RESP3 sets are
    ('set', [...]), maps ('map', [(k, v)...]), doubles, booleans and big
    numbers (b',', line) / (b'#', line) / (b'(', line)."""
    kind = t.kind
    if kind == '+':
        return bytes(t.value)
    if kind == '-':
        return Err(t.value)
    if kind in ':_':
        return t.value
    if kind in ',#(':
        return (kind.encode(), bytes(t.raw))
    if kind in '$=':
        return None if t.value is None else bytes(t.value)
    if kind in '*>':
        return None if t.value is None else [to_plain(i) for i in t.value]
    if kind == '~':
        return None if t.value is None else ('set', [to_plain(i) for i in t.value])
    if kind == '%':
        return ('map', [(to_plain(k), to_plain(v)) for k, v in t.value])
    raise ValueError('no plain form for %r' % (t,))


def plain(reply):
    """to_plain of exactly one complete reply (bytes)."""
    return to_plain(parse_one(reply))


def pairs(flat):
    """The (field, value) pairs of a flat [f1, v1, f2, v2...] list, sorted."""
    assert len(flat) % 2 == 0, flat
    return sorted(zip(flat[0::2], flat[1::2]))


def unordered(reply):
    """A comparable form of one reply in which the members of every
    aggregate whose items are all scalars (not a map) are sorted: replies
    that list members in the server's hash order (SMEMBERS, SSCAN's page).
    Aggregates become (type char, [items]), errors Err, nulls None, bulks
    their bytes, other scalars their type char and line."""
    def norm(t):
        if t.kind in '*~>%':
            if t.value is None:
                return None
            items = [norm(i) for i in _flat(t)]
            if t.kind != '%' and all(isinstance(i, bytes) for i in items):
                items = sorted(items)
            return (t.kind, items)
        if t.kind in '$=':
            return t.value
        if t.kind == '!':
            return None if t.value is None else Err(t.value)
        if t.kind == '-':
            return Err(t.raw)
        if t.kind == '_':
            return None
        return t.kind.encode() + t.raw
    return norm(parse_one(reply))


# ---------------------------------------------------------------------------
# Multi-connection transcripts


class Session:
    """Named raw connections to one server, stepped together."""

    def __init__(self, proc, names):
        self.proc = proc
        self.conns = {n: proc.raw() for n in names}
        self.closed = set()
        self.in_multi = set()
        self.serial = 0

    def close(self):
        for c in self.conns.values():
            c.close()

    def _until_sentinel(self, name):
        conn = self.conns[name]
        self.serial += 1
        token = b'~sentinel-%d~' % self.serial
        conn.send(encode('PING', token))
        out = []
        while True:
            try:
                reply = conn.read_reply()
            except ConnectionError:
                out.append(b'<closed>' + conn.buf)
                self.closed.add(name)
                return out
            out.append(reply)
            if token in reply:
                return out

    def step(self, name, args):
        """Send args on connection `name`; returns {conn: [reply bytes]} for
        every connection still open."""
        conn = self.conns[name]
        conn.send(encode(*args))
        result = {}
        if args and harness._b(args[0]).upper() == b'QUIT':
            try:
                result[name] = [conn.read_until_closed()]
            except harness.TimeoutExpired as exc:
                result[name] = ['<still open: %s>' % exc]
            self.closed.add(name)
        elif name in self.in_multi:
            # a sentinel would be queued: the one reply of the command
            result[name] = [conn.read_reply()]
        elif harness._b(args[0]).upper() == b'MULTI':
            first = conn.read_reply()
            result[name] = [first]
            if first != b'+OK\r\n':
                result[name] += self._until_sentinel(name)
        else:
            result[name] = self._until_sentinel(name)
        verb = harness._b(args[0]).upper() if args else b''
        first = result[name][0] if result[name] else b''
        if verb == b'MULTI' and first == b'+OK\r\n':
            self.in_multi.add(name)
        elif verb in (b'EXEC', b'DISCARD', b'RESET'):
            self.in_multi.discard(name)
        for other in self.conns:
            if other != name and other not in self.closed and other not in self.in_multi:
                result[other] = self._until_sentinel(other)
        return result


def _step_args(cmd):
    return cmd.split(' ') if isinstance(cmd, str) else list(cmd)


def _elements(reply):
    """The element replies of an aggregate reply (header dropped)."""
    nl = reply.index(b'\r\n')
    return harness.split_replies(reply[nl + 2:]), reply[:nl + 2]


def normalize_step(replies, flags):
    """Order-insensitive forms where the order is the server's hash order:
    'sort' sorts the replies of the step (UNSUBSCRIBE with no argument
    confirms in dict order), 'elements' sorts the elements of each aggregate
    reply (PUBSUB CHANNELS), keeping the sentinel reply last; 'msgs' (on
    every connection) sorts what came before the sentinel (a message that
    matches several patterns of one client: Redis sends the pmessages in its
    pattern dict's order)."""
    if 'msgs' in flags:
        replies = sorted(replies[:-1]) + replies[-1:]
    if 'sort' in flags:
        head, last = replies[:-1], replies[-1:]
        # the counts decrease in the order of the confirmations: compare
        # the (kind, name) pairs as a set and the counts as a sequence
        names = sorted(r.rsplit(b':', 1)[0] for r in head)
        counts = [r.rsplit(b':', 1)[1] for r in head]
        replies = [b'names=%r counts=%r' % (names, counts)] + last
    if 'elements' in flags:
        out = []
        for r in replies:
            if r[:1] in (b'*', b'~') and not r.startswith(b'*-1'):
                elems, header = _elements(r)
                out.append(header + b''.join(sorted(elems)))
            else:
                out.append(r)
        replies = out
    return replies


def hello_canonical(reply):
    """HELLO's map with the values that differ by nature (id, version,
    mode, role) replaced by their type: keys, order and types stay."""
    if reply[:1] not in (b'%', b'*') or b'$6\r\nserver\r\n' not in reply[:30]:
        return reply
    v = parse_one(reply)
    items = _flat(v)
    out = []
    for k, val in zip(items[0::2], items[1::2]):
        if k.value in (b'id', b'version', b'mode', b'role'):
            out.append(b'%s=<%s>' % (k.value, val.kind.encode()))
        else:
            out.append(b'%s=%s%r' % (k.value, val.kind.encode(), val.value))
    return b'HELLO ' + v.kind.encode() + b' ' + b' '.join(out)


def transcript(proc, steps, names):
    """Run steps [(conn, cmd, flags)] on proc after FLUSHALL; returns the
    list of {conn: replies} per step."""
    if proc is not None:
        with proc.raw() as c:
            assert c.command('FLUSHALL') == b'+OK\r\n'
    s = Session(proc, names)
    out = []
    try:
        for step in steps:
            name, cmd = step[0], _step_args(step[1])
            flags = step[2] if len(step) > 2 else ()
            result = s.step(name, cmd)
            if harness._b(cmd[0]).upper() == b'HELLO':
                result[name] = [hello_canonical(r) for r in result[name]]
            out.append({k: normalize_step(v, flags if k == name else
                                          [f for f in flags if f == 'msgs'])
                        for k, v in result.items()})
    finally:
        s.close()
    return out


def expand(seq):
    """Steps as (conn, cmd[, flags]); a plain string or list is on 'a'."""
    return [s if isinstance(s, tuple) else ('a', s) for s in seq]


def assert_same_transcript(steps, got, want):
    """Every differing step is reported (up to 8), not only the first."""
    diffs = []
    for i, (step, g, w) in enumerate(zip(steps, got, want)):
        for name in sorted(set(g) | set(w)):
            gv, wv = g.get(name), w.get(name)
            if gv != wv:
                diffs.append(
                    'step %d: %s sends %r; replies on connection %r differ:\n'
                    '  redis-server: %r\n  redis-raft:   %r' % (
                        i, step[0], _step_args(step[1]), name,
                        [x[:300] for x in wv or []], [x[:300] for x in gv or []]))
    assert not diffs, '\n'.join(diffs[:8])
    assert len(got) == len(want)


def run_differential(seq, node, redis_server):
    """The transcripts of seq (see expand) on redis-server and on node must
    be the same; returns node's."""
    steps = expand(seq)
    names = sorted({s[0] for s in steps})
    want = transcript(redis_server, steps, names)
    got = transcript(node, steps, names)
    assert_same_transcript(steps, got, want)
    return got
