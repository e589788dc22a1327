"""The deterministic in-process channel: exact delays, bounded queues,
reconnects, and identical behaviour on identical inputs."""

from __future__ import annotations

import random

import pytest

from kernelml.transport import Endpoint, InProcChannel


def test_both_sides_are_endpoints():
    ch = InProcChannel()
    assert isinstance(ch.kernel, Endpoint) and isinstance(ch.agent, Endpoint)
    assert ch.kernel.connected and ch.agent.connected
    assert ch.kernel.wait(0.0) is False  # never blocks


@pytest.mark.parametrize("delay", [0, 1, 3, 17])
def test_delay_in_ticks_is_exact(delay):
    ch = InProcChannel(delay=delay)
    assert ch.kernel.send(b"k0")
    ch.advance(2)
    assert ch.agent.send(b"a2")
    for t in range(2, delay + 5):
        if t > 2:
            ch.advance()
        got_agent = ch.agent.recv()
        got_kernel = ch.kernel.recv()
        assert got_agent == ([b"k0"] if t == max(2, delay) else []), (t, got_agent)
        assert got_kernel == ([b"a2"] if t == 2 + delay else []), (t, got_kernel)


def test_order_is_kept_and_max_frames_bounds_recv():
    ch = InProcChannel(delay=1)
    for i in range(10):
        assert ch.kernel.send(bytes([i]))
    assert ch.agent.recv() == []
    ch.advance()
    assert ch.agent.recv(3) == [b"\0", b"\1", b"\2"]
    assert ch.agent.recv(0) == []
    assert ch.agent.recv() == [bytes([i]) for i in range(3, 10)]


def test_frames_are_copied():
    ch = InProcChannel()
    buf = bytearray(b"abc")
    ch.kernel.send(buf)
    buf[0] = ord("z")
    assert ch.agent.recv() == [b"abc"]


def test_set_time_only_moves_forward():
    ch = InProcChannel(delay=5)
    ch.kernel.send(b"x")
    ch.set_time(4)
    assert ch.agent.recv() == []
    ch.set_time(2)  # ignored
    assert ch.now == 4
    ch.set_time(5)
    assert ch.agent.recv() == [b"x"]


def test_capacity_bound_refuses_and_counts():
    ch = InProcChannel(capacity=3, delay=2)
    assert [ch.kernel.send(b"%d" % i) for i in range(5)] == [True, True, True, False, False]
    assert ch.refused == 2
    assert ch.agent.send(b"other direction")  # each direction has its own bound
    ch.advance(2)
    assert ch.agent.recv(1) == [b"0"]
    assert ch.kernel.send(b"3")  # room again
    assert ch.agent.recv() == [b"1", b"2"]
    ch.advance(2)
    assert ch.agent.recv() == [b"3"]
    assert ch.refused == 2


def test_invalid_parameters():
    for kw in ({"delay": -1}, {"capacity": 0}, {"capacity": -5}):
        with pytest.raises(ValueError):
            InProcChannel(**kw)


def test_reconnect_bumps_connection_id_and_clears_queues():
    ch = InProcChannel(delay=1)
    first = ch.kernel.connection_id
    assert ch.agent.connection_id == first
    ch.kernel.send(b"lost")
    ch.agent.send(b"lost too")
    ch.reconnect()
    second = ch.kernel.connection_id
    assert second != first and ch.agent.connection_id == second
    ch.advance(5)
    assert ch.agent.recv() == [] and ch.kernel.recv() == []
    ch.kernel.send(b"new")
    ch.advance()
    assert ch.agent.recv() == [b"new"]


def test_close_refuses_until_reconnect():
    ch = InProcChannel()
    ch.agent.close()
    assert ch.kernel.connection_id is None and not ch.kernel.connected
    assert ch.agent.connection_id is None
    assert ch.kernel.send(b"x") is False and ch.agent.send(b"y") is False
    assert ch.refused == 2
    ch.reconnect()
    assert ch.kernel.connected and ch.kernel.send(b"x")
    assert ch.agent.recv() == [b"x"]


def test_context_manager_closes():
    ch = InProcChannel()
    with ch.agent as ep:
        assert ep.connected
    assert not ch.kernel.connected


def _script(seed: int) -> list:
    """A random but seeded mix of sends, receives, ticks and reconnects."""
    rng = random.Random(seed)
    ch = InProcChannel(delay=rng.randrange(4), capacity=rng.randrange(1, 8))
    log = []
    for step in range(400):
        op = rng.randrange(10)
        if op < 4:
            side = ch.kernel if op % 2 else ch.agent
            log.append(("send", side.send(rng.randbytes(rng.randrange(1, 9)))))
        elif op < 7:
            side = ch.kernel if op % 2 else ch.agent
            log.append(("recv", tuple(side.recv(rng.randrange(1, 4)))))
        elif op < 9:
            ch.advance(rng.randrange(3))
        elif rng.randrange(10) == 0:
            ch.reconnect()
            log.append(("conn", ch.kernel.connection_id))
    log.append(("refused", ch.refused))
    return log


def test_determinism():
    a, b, c = _script(7), _script(7), _script(8)
    assert a == b
    assert a != c
    assert any(e[0] == "recv" and e[1] for e in a)  # the script does move frames
