"""Property tests of the uapi codec (hypothesis, derandomized).

* ``decode`` of any bytes returns a message or raises FrameError, nothing else;
* whatever ``decode`` accepts is canonical: re-encoding the message gives the
  same bytes (no field, padding or trailing byte is silently ignored);
* every valid message built from the strategies round-trips.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kernelml.uapi import messages as m

FUZZ = settings(derandomize=True, database=None, deadline=None, max_examples=1000,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

u8, u16, u32, u64 = (st.integers(0, 2**b - 1) for b in (8, 16, 32, 64))
i64 = st.integers(-(2**63), 2**63 - 1)
names = st.text(st.characters(min_codepoint=1, max_codepoint=127), max_size=m.NAME_LEN - 1)
modes = st.integers(0, m.N_MODES - 1)


def _array(shape):
    return st.lists(i64, min_size=shape[0] * shape[1], max_size=shape[0] * shape[1]).map(
        lambda xs: np.array(xs, dtype=np.int64).reshape(shape))


descs = st.builds(m.Desc, st.sampled_from(m.DescKind), u16, names, u16)
hellos = st.builds(m.Hello, u16, names, u32, st.lists(descs, max_size=4).map(tuple), u64, u64, u32)
shapes = st.one_of(st.just((0, 0)), st.tuples(st.integers(0, 6), st.integers(1, 6)))
telemetries = st.builds(m.Telemetry, u16, u16, shapes.flatmap(_array), u64, u64, u64)
recommendations = st.builds(m.Recommendation, u16, u64, u64,
                            st.lists(i64, max_size=12).map(lambda xs: np.array(xs, dtype=np.int64)), u32, u16)
transitions = st.builds(m.Transition, u64, modes, modes, st.sampled_from([int(r) for r in m.Reason]))
feedbacks = st.builds(
    m.Feedback, u16, modes, st.booleans(), u64, u64, u64, u64, u64, i64, i64, i64, i64, i64, i64, u32, u32,
    u64, st.lists(u32, min_size=m.N_REJECT_REASONS, max_size=m.N_REJECT_REASONS).map(tuple),
    st.lists(transitions, max_size=4).map(tuple))
heartbeats = st.builds(m.Heartbeat, st.sampled_from(m.Sender), u64, u64, u16, u32)
mode_cmds = st.builds(m.ModeCommand, u16, st.sampled_from(m.ModeAction), modes)
messages = st.one_of(hellos, telemetries, recommendations, feedbacks, heartbeats, mode_cmds)


def same(a, b) -> bool:
    if type(a) is not type(b):
        return False
    for f in dataclasses.fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, np.ndarray):
            if x.shape != y.shape or y.dtype != np.int64 or not np.array_equal(x, y):
                return False
        elif x != y:
            return False
    return True


def decode_or_reject(buf: bytes) -> None:
    """The property every input must satisfy."""
    try:
        msg = m.decode(buf)
    except m.FrameError:
        return
    seq = m.decode_header(buf)["seq"]
    assert m.encode(msg, seq) == bytes(buf), "decode accepted a non-canonical frame"


@FUZZ
@given(messages, u32)
def test_valid_messages_round_trip(msg, seq):
    frame = m.encode(msg, seq)
    assert len(frame) <= m.MAX_FRAME
    back = m.decode(frame)
    assert same(msg, back), (msg, back)
    assert m.encode(back, seq) == frame


@FUZZ
@given(st.binary(max_size=512))
def test_random_bytes(buf):
    decode_or_reject(buf)


@FUZZ
@given(st.binary(max_size=200), st.sampled_from(m.MsgType))
def test_random_bodies_behind_a_valid_header(body, mtype):
    """Random bytes after a consistent header, so the body checks are reached."""
    n = m.HEADER.size + len(body)
    hdr = m.HEADER.pack({"magic": m.MAGIC, "version": m.PROTOCOL_VERSION, "type": int(mtype),
                         "length": n, "seq": 7})
    decode_or_reject(hdr + body)


mutations = st.lists(st.tuples(st.sampled_from(["flip", "set", "cut", "extend", "insert", "delete"]),
                               st.integers(0, 2**16), st.integers(0, 255)), min_size=1, max_size=4)


def _mutate(frame: bytes, ops, keep_length: bool) -> bytes:
    buf = bytearray(frame)
    for op, pos, val in ops:
        i = pos % max(1, len(buf))
        if op == "flip" and buf:
            buf[i] ^= 1 << (val % 8)
        elif op == "set" and buf:
            buf[i] = val
        elif op == "cut":
            del buf[i:]
        elif op == "extend":
            buf += bytes([val]) * (1 + val % 16)
        elif op == "insert":
            buf[i:i] = bytes([val])
        elif op == "delete" and buf:
            del buf[i]
    if keep_length and len(buf) >= m.HEADER.size:  # let the mutation reach past the length check
        buf[8:12] = len(buf).to_bytes(4, "little")
    return bytes(buf)


@FUZZ
@given(messages, mutations, st.booleans())
def test_mutated_frames(msg, ops, keep_length):
    decode_or_reject(_mutate(m.encode(msg, 3), ops, keep_length))


@FUZZ
@given(messages, st.integers(0, 2**20))
def test_every_single_bit_flip_is_rejected_or_canonical(msg, bit):
    frame = bytearray(m.encode(msg, 9))
    frame[(bit // 8) % len(frame)] ^= 1 << (bit % 8)
    decode_or_reject(bytes(frame))


@settings(FUZZ, max_examples=30)
@given(st.integers(m.MAX_FRAME - 64, m.MAX_FRAME + 64))
def test_sizes_around_max_frame(n):
    hdr = m.HEADER.pack({"magic": m.MAGIC, "version": m.PROTOCOL_VERSION,
                         "type": int(m.MsgType.RECOMMENDATION), "length": n, "seq": 0})
    body = m.RECOMMENDATION_BODY.pack({"n_words": max(0, (n - 16 - m.RECOMMENDATION_BODY.size) // 8)})
    buf = (hdr + body).ljust(n, b"\1")
    decode_or_reject(buf)
    if n > m.MAX_FRAME:
        try:
            m.decode(buf)
            raise AssertionError("an oversized frame was accepted")
        except m.FrameError as exc:
            assert "oversized" in str(exc)
