"""Transactions sent to a follower run on the leader over the follower's
proxy link, which all of that follower's clients share. Node-local commands
queued in such a transaction must not change the link's state: SUBSCRIBE,
READONLY or CLIENT there would break every other client of the follower."""

import pytest

from harness import encode, split_replies


@pytest.mark.parametrize('local', [['SUBSCRIBE', 'ch'], ['READONLY'],
                                   ['CLIENT', 'SETNAME', 'x'], ['HELLO', '3']])
def test_state_changing_local_command_in_a_follower_transaction(cluster, local):
    follower = cluster.followers()[0]
    with follower.raw() as c:
        c.send(encode('MULTI') + encode(*local) + encode('PING') +
               encode('SET', 'k', 'v') + encode('EXEC'))
        replies = c.read_replies(5)
    assert replies[:4] == [b'+OK\r\n', b'+QUEUED\r\n', b'+QUEUED\r\n',
                           b'+QUEUED\r\n'], replies
    items = split_replies(replies[4][4:])  # after "*3\r\n"
    assert replies[4].startswith(b'*3\r\n'), replies[4]
    assert items[0] == (b"-ERR '%s' inside MULTI is only supported on the "
                        b"leader\r\n" % local[0].lower().encode()), items
    assert items[1:] == [b'+PONG\r\n', b'+OK\r\n'], items
    # The proxy link still works for everyone (a subscribed or closed link
    # would refuse or drop these).
    for i in range(3):
        with follower.raw() as c:
            assert c.command('INCR', 'n') == b':%d\r\n' % (i + 1)
            assert c.command('GET', 'k') == b'$1\r\nv\r\n'
