"""utils/chat, the chat room client, on a 3-node cluster: one participant
per node, every participant prints every line in the same order; when a
node dies the others go on and its participant moves to another node.
"""

import os
import subprocess
import sys
import threading

import pytest

import harness
from harness import scaled, wait_until

CHAT = os.path.join(harness.REPO, 'utils', 'chat')


class Participant:
    """One utils/chat process; its stdout and stderr lines are collected by
    threads (never a blocking read in the test)."""

    def __init__(self, nick, nodes, room='lobby'):
        self.nick = nick
        addrs = ','.join('%s:%d' % (n.host, n.port) for n in nodes)
        self.proc = subprocess.Popen(
            [sys.executable, CHAT, '--nodes', addrs, '--room', room, '--name', nick,
             '--timeout', '5'],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, bufsize=1)
        self.out, self.err = [], []
        self.threads = [threading.Thread(target=self._collect, args=(s, l), daemon=True)
                        for s, l in ((self.proc.stdout, self.out),
                                     (self.proc.stderr, self.err))]
        for t in self.threads:
            t.start()

    @staticmethod
    def _collect(stream, lines):
        for line in stream:
            lines.append(line.rstrip('\n'))

    def type(self, line):
        self.proc.stdin.write(line + '\n')
        self.proc.stdin.flush()

    def joins(self):
        return [l for l in self.err if l.startswith('*** joined ')]

    def wait_joined(self, count=1, timeout=None):
        wait_until(lambda: len(self.joins()) >= count, timeout or scaled(30),
                   what='%s to join the room (%d); stderr %r' % (self.nick, count, self.err))
        return self.joins()[-1]

    def wait_lines(self, count, timeout=None):
        wait_until(lambda: len(self.out) >= count, timeout or scaled(60),
                   what='%s to print %d lines; has %d: %r; stderr %r' % (
                       self.nick, count, len(self.out), self.out[-5:], self.err[-5:]))
        return list(self.out)

    def finish(self, timeout=None):
        """Close stdin (EOF) and return the exit status."""
        self.proc.stdin.close()
        return self.proc.wait(timeout or scaled(30))

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def participants():
    made = []
    yield made
    for p in made:
        p.kill()


def rotated(nodes, i):
    return nodes[i:] + nodes[:i]


def check_conversation(outputs, said):
    """Every participant printed the same lines, all the lines said, each
    speaker's in the order typed."""
    names = list(outputs)
    first = outputs[names[0]]
    for n in names[1:]:
        assert outputs[n] == first, '%s and %s differ:\n%r\n%r' % (
            names[0], n, first, outputs[n])
    assert sorted(first) == sorted(line for lines in said.values() for line in lines), first
    for nick, lines in said.items():
        assert [l for l in first if l.startswith(nick + ': ')] == lines, nick


def test_chat_help():
    p = subprocess.run([sys.executable, CHAT, '--help'], capture_output=True, text=True,
                       timeout=30)
    assert p.returncode == 0, p.stderr
    for opt in ('--nodes', '--room', '--name'):
        assert opt in p.stdout, p.stdout
    p = subprocess.run([sys.executable, CHAT, '--nodes', 'nonsense'], capture_output=True,
                       text=True, timeout=30)
    assert p.returncode == 2 and 'host:port' in p.stderr, (p.returncode, p.stderr)


def test_chat_is_executable():
    assert os.access(CHAT, os.X_OK)
    with open(CHAT) as f:
        assert f.readline() == '#!/usr/bin/python3\n'


def test_chat_eof_exits_zero(new_cluster, participants):
    cluster = new_cluster(1)
    node = cluster.nodes[1]
    p = Participant('solo', [node])
    participants.append(p)
    p.wait_joined()
    p.type('hello me')
    assert p.wait_lines(1) == ['solo: hello me']
    assert p.finish() == 0


@pytest.mark.parametrize('victim_role', ['leader', 'follower'])
def test_chat_three_nodes_same_order_and_node_death(victim_role, new_cluster, participants):
    cluster = new_cluster(3, {'follower-proxy': 'yes'})
    nodes = [cluster.nodes[i] for i in sorted(cluster.nodes)]
    nicks = ['ann', 'bob', 'cat']
    people = {}
    for i, nick in enumerate(nicks):
        p = Participant(nick, rotated(nodes, i))
        participants.append(p)
        people[nick] = p
    for i, nick in enumerate(nicks):
        assert people[nick].wait_joined().endswith('on %s:%d' % (nodes[i].host, nodes[i].port))

    # everyone types at once
    said = {nick: ['%s line %d' % (nick, k) for k in range(15)] for nick in nicks}
    for k in range(15):
        for nick in nicks:
            people[nick].type(said[nick][k])
    expected = {nick: ['%s: %s' % (nick, l) for l in lines] for nick, lines in said.items()}
    total = sum(len(v) for v in expected.values())
    outputs = {nick: people[nick].wait_lines(total) for nick in nicks}
    check_conversation(outputs, expected)

    # a node dies (the leader, or a follower): its participant moves to
    # another node, the others go on
    leader = cluster.wait_for_leader()
    dead = leader if victim_role == 'leader' else \
        next(n for n in nodes if n is not leader)
    victim = nicks[nodes.index(dead)]
    cluster.kill(dead.node_id)
    line = people[victim].wait_joined(2)
    moved_to = line.rsplit(' on ', 1)[1]
    assert moved_to in ['%s:%d' % (n.host, n.port) for n in nodes if n is not dead], line
    cluster.wait_for_leader()
    for nick in nicks:
        assert len(people[nick].joins()) == (2 if nick == victim else 1), (
            nick, people[nick].err)

    said2 = {nick: ['%s after %d' % (nick, k) for k in range(10)] for nick in nicks}
    for k in range(10):
        for nick in nicks:
            people[nick].type(said2[nick][k])
    expected2 = {nick: ['%s: %s' % (nick, l) for l in lines] for nick, lines in said2.items()}
    total2 = total + sum(len(v) for v in expected2.values())
    outputs = {nick: people[nick].wait_lines(total2) for nick in nicks}
    check_conversation({n: o[total:] for n, o in outputs.items()}, expected2)
    for nick in nicks:
        assert outputs[nick][:total] == outputs[nicks[0]][:total]

    for nick in nicks:
        assert people[nick].finish() == 0, (nick, people[nick].err)
    for nick in nicks:
        assert len(people[nick].out) == total2, (nick, people[nick].out[total2:])
