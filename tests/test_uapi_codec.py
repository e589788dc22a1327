"""The uapi codec: round trips of every message type at their edge values,
and strict rejection (FrameError) of every kind of malformed frame."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from kernelml.uapi import messages as m
from kernelml.uapi.layout import Layout

U16, U32, U64 = 2**16 - 1, 2**32 - 1, 2**64 - 1
I64_MIN, I64_MAX = -(2**63), 2**63 - 1
NAME23 = "abcdefghijklmnopqrstuvw"
assert len(NAME23) == m.NAME_LEN - 1


def same(a, b) -> bool:
    """Field-by-field equality of two messages (arrays compared by value, dtype and shape)."""
    if type(a) is not type(b):
        return False
    for f in dataclasses.fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
            x, y = np.asarray(x), np.asarray(y)
            if x.shape != y.shape or y.dtype != np.int64 or not np.array_equal(x, y):
                return False
        elif x != y:
            return False
    return True


EXAMPLES = {
    "hello-full": m.Hello(
        subsystem=U16, name=NAME23, boot_id=U32, epoch=U64, now=U64, tick_ns=U32,
        descs=(m.Desc(m.DescKind.OP_KIND, U16, NAME23, U16), m.Desc(m.DescKind.FEATURE, 0, "", 0),
               m.Desc(m.DescKind.FEATURE, 1, "valid_blocks", 7))),
    "hello-empty": m.Hello(subsystem=0, name="", boot_id=0),
    "telemetry": m.Telemetry(3, 2, np.array([[I64_MIN, -1, 0, I64_MAX], [1, 2, 3, 4], [5, 6, 7, 8]],
                                            dtype=np.int64), first_seq=U64, dropped=U64, now=U64),
    "telemetry-no-records": m.Telemetry(1, 1, np.zeros((0, 5), dtype=np.int64)),
    "telemetry-empty": m.Telemetry(0, 0, np.zeros((0, 0), dtype=np.int64)),
    "recommendation": m.Recommendation(op_kind=U16, epoch=U64, expiry=U64,
                                       words=np.array([I64_MIN, -1, 0, 1, I64_MAX], dtype=np.int64),
                                       model_id=U32, flags=U16),
    "recommendation-empty": m.Recommendation(op_kind=0, epoch=0, expiry=0, words=np.zeros(0, np.int64)),
    "feedback": m.Feedback(
        op_kind=7, mode=m.Mode.RECOMMENDATION, pinned=True, now=U64, epoch=U64, human_decisions=U64,
        ml_decisions=1, fallbacks=2, human_cost=I64_MIN, human_units=I64_MAX, ml_cost=-5, ml_units=5,
        human_mean=-1, ml_mean=1_000_000, human_batches=U32, ml_batches=3, outbox_dropped=9,
        rejects=tuple(range(10, 10 + m.N_REJECT_REASONS)),
        transitions=(m.Transition(U64, 0, 3, max(m.Reason)), m.Transition(0, 3, 0, 0))),
    "feedback-empty": m.Feedback(op_kind=0, mode=0, pinned=False, now=0, epoch=0),
    "heartbeat": m.Heartbeat(m.Sender.AGENT, seq=U64, now=U64, subsystem=U16, boot_id=U32),
    "heartbeat-operator": m.Heartbeat(m.Sender.OPERATOR, seq=0),
    "mode-pin": m.ModeCommand(m.ALL_KINDS, m.ModeAction.PIN, m.Mode.RECOMMENDATION),
    "mode-release": m.ModeCommand(0, m.ModeAction.RELEASE),
}


def frame_of(name: str, seq: int = 0x01020304) -> bytearray:
    return bytearray(m.encode(EXAMPLES[name], seq))


def offset_of(layout: Layout, field: str) -> tuple[int, int]:
    """(byte offset, width) of ``field`` inside ``layout``."""
    off = 0
    for name, ctype in layout.fields:
        width = Layout("one", ((name, ctype),)).size
        if name == field:
            return off, width
        off += width
    raise KeyError(field)


def put(frame: bytearray, pos: int, width: int, value: int) -> bytearray:
    frame[pos:pos + width] = value.to_bytes(width, "little")
    return frame


def put_body(frame: bytearray, layout: Layout, field: str, value: int) -> bytearray:
    off, width = offset_of(layout, field)
    return put(frame, m.HEADER.size + off, width, value)


def fix_length(frame: bytearray) -> bytearray:
    off, width = offset_of(m.HEADER, "length")
    return put(frame, off, width, len(frame))


def body_layout(frame) -> Layout:
    return m._SPECS[m.MsgType(frame[6] | frame[7] << 8)].body


def rejects(frame, match: str | None = None) -> None:
    with pytest.raises(m.FrameError, match=match):
        m.decode(bytes(frame))


# -- round trips ---------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_round_trip(name):
    msg = EXAMPLES[name]
    frame = m.encode(msg, seq=U32)
    hdr = m.decode_header(frame)
    assert (hdr["magic"], hdr["version"], hdr["type"]) == (m.MAGIC, m.PROTOCOL_VERSION, int(msg.TYPE))
    assert hdr["length"] == len(frame) and hdr["seq"] == U32
    back = m.decode(frame)
    assert same(msg, back), (msg, back)
    assert m.encode(back, seq=U32) == frame  # one encoding per message
    assert same(m.decode(bytearray(frame)), msg) and same(m.decode(memoryview(frame)), msg)


def test_magic_spells_kml1_and_seq_wraps_to_32_bits():
    frame = m.encode(EXAMPLES["heartbeat"], seq=2**32 + 5)
    assert frame[:4] == b"KML1"
    assert m.decode_header(frame)["seq"] == 5


def test_frame_sizes_match_layouts():
    assert m.HEADER.size == 16
    assert len(frame_of("mode-pin")) == 16 + m.MODE_BODY.size
    assert len(frame_of("recommendation")) == 16 + m.RECOMMENDATION_BODY.size + 5 * 8
    assert len(frame_of("hello-full")) == 16 + m.HELLO_BODY.size + 3 * m.HELLO_DESC.size
    for lay in m.layouts():
        assert lay.size % 8 == 0, lay.cname  # every body and tail item keeps int64 tails aligned


def test_hello_helpers():
    h = EXAMPLES["hello-full"]
    assert h.op_kinds == {U16: NAME23}
    assert h.features(0) == [""] and h.features(7) == ["valid_blocks"]


def test_maximum_size_frames():
    n = m.max_words()
    rec = m.Recommendation(1, 1, 1, np.arange(n, dtype=np.int64))
    frame = m.encode(rec)
    assert len(frame) <= m.MAX_FRAME < len(frame) + 8
    assert same(m.decode(frame), rec)
    with pytest.raises(ValueError, match="MAX_FRAME"):
        m.encode(m.Recommendation(1, 1, 1, np.arange(n + 1, dtype=np.int64)))
    for n_fields in (1, 3, 16):
        k = m.max_records(n_fields)
        tel = m.Telemetry(1, 1, np.full((k, n_fields), -7, dtype=np.int64))
        frame = m.encode(tel)
        assert len(frame) <= m.MAX_FRAME
        assert same(m.decode(frame), tel)
        with pytest.raises(ValueError):
            m.encode(m.Telemetry(1, 1, np.zeros((k + 1, n_fields), dtype=np.int64)))
    per = (m.MAX_FRAME - 16 - m.HELLO_BODY.size) // m.HELLO_DESC.size
    descs = tuple(m.Desc(m.DescKind.FEATURE, i, f"f{i}", 1) for i in range(per))
    hello = m.Hello(1, "x", 1, descs)
    assert same(m.decode(m.encode(hello)), hello)
    with pytest.raises(ValueError, match="MAX_FRAME"):
        m.encode(m.Hello(1, "x", 1, descs + descs[:1]))


def test_words_accept_any_integer_array():
    for words in ([1, -2, 3], np.array([1, 2], dtype=np.int32), np.array([2**63 - 1], dtype=np.uint64),
                  np.array([[1, 2], [3, 4]], dtype=np.int16), []):
        back = m.decode(m.encode(m.Recommendation(1, 1, 1, words)))
        assert back.words.dtype == np.int64
        assert back.words.tolist() == np.asarray(words, dtype=np.int64).ravel().tolist()


# -- encode refuses what decode would refuse ------------------------------------
@pytest.mark.parametrize("msg", [
    m.Hello(2**16, "x", 0), m.Hello(1, "x", -1), m.Hello(1, "x", 0, epoch=2**64),
    m.Hello(1, "x" * 24, 0), m.Hello(1, "caf\u00e9", 0), m.Hello(1, "a\0b", 0),
    m.Hello(1, "x", 0, descs=(m.Desc(m.DescKind.FEATURE, 1, "y" * 24),)),
    m.Hello(1, "x", 0, descs=(m.Desc(9, 1, "y"),)), m.Hello(1, "x", 0, proto_version=2),
    m.Telemetry(1, 1, np.zeros(3, dtype=np.int64)), m.Telemetry(1, 1, np.zeros((2, 0), dtype=np.int64)),
    m.Telemetry(1, 1, np.zeros((1, 2), dtype=np.float64)), m.Telemetry(1, 1, [[2**63]]),
    m.Telemetry(1, 1, np.zeros((1, 1), np.int64), dropped=-1),
    m.Recommendation(-1, 0, 0, []), m.Recommendation(0, 2**64, 0, []), m.Recommendation(0, 0, 0, [0.5]),
    m.Recommendation(0, 0, 0, [2**64]), m.Recommendation(0, 0, 0, np.array([2**63], dtype=np.uint64)),
    m.Recommendation(0, 0, 0, [], flags=2**16), m.Recommendation(0, 0, 0, [], model_id=2**32),
    m.Feedback(0, 4, False, 0, 0), m.Feedback(0, 0, 2, 0, 0), m.Feedback(0, 0, False, 0, 0, rejects=(0,)),
    m.Feedback(0, 0, False, 0, 0, human_cost=2**63),
    m.Feedback(0, 0, False, 0, 0, transitions=(m.Transition(0, 4, 0, 0),)),
    m.Feedback(0, 0, False, 0, 0, transitions=(m.Transition(0, 0, 0, 99),)),
    m.Heartbeat(3, 0), m.Heartbeat(m.Sender.AGENT, 2**64),
    m.ModeCommand(0, 2, 0), m.ModeCommand(0, m.ModeAction.PIN, 4), m.ModeCommand(2**16, m.ModeAction.PIN, 0),
], ids=lambda msg: type(msg).__name__)
def test_encode_rejects_out_of_range(msg):
    with pytest.raises(ValueError):
        m.encode(msg)


# -- strict decoding -------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_every_prefix_is_rejected(name):
    frame = bytes(frame_of(name))
    for n in range(len(frame)):
        with pytest.raises(m.FrameError):
            m.decode(frame[:n])


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_extension_is_rejected(name):
    frame = frame_of(name)
    rejects(frame + b"\0" * 8, "length field")
    rejects(fix_length(frame + b"\0" * 8), "inconsistent")
    rejects(fix_length(frame + b"\0"), "inconsistent")


def test_oversized_frames_are_rejected():
    frame = frame_of("recommendation")
    big = fix_length(frame + b"\0" * (m.MAX_FRAME + 1 - len(frame)))
    rejects(big, "oversized")
    rejects(bytes(m.MAX_FRAME * 2), "oversized")


def test_bad_magic_version_type_length():
    rejects(put(frame_of("heartbeat"), 0, 4, 0x314C4D4C), "magic")
    rejects(put(frame_of("heartbeat"), 0, 4, 0), "magic")
    for version in (0, 2, U16):
        rejects(put(frame_of("heartbeat"), 4, 2, version), "version")
    for mtype in (0, len(m.MsgType) + 1, U16):
        rejects(put(frame_of("heartbeat"), 6, 2, mtype), "unknown message type")
    n = len(frame_of("heartbeat"))
    for length in (0, n - 1, n + 1, m.MAX_FRAME, U32):
        rejects(put(frame_of("heartbeat"), 8, 4, length), "length field")


def test_type_swapped_to_another_body_is_rejected():
    """A valid frame relabelled as each other type must not decode."""
    for name in EXAMPLES:
        for mtype in m.MsgType:
            frame = frame_of(name)
            if int(mtype) == int(EXAMPLES[name].TYPE):
                continue
            put(frame, 6, 2, int(mtype))
            try:
                msg = m.decode(bytes(frame))
            except m.FrameError:
                continue
            # only possible when both bodies happen to be consistent; then it must re-encode exactly
            assert m.encode(msg, 0x01020304) == bytes(frame)


@pytest.mark.parametrize("name,field,delta", [
    ("hello-full", "n_desc", 1), ("hello-full", "n_desc", -1), ("hello-empty", "n_desc", 1),
    ("telemetry", "n_records", 1), ("telemetry", "n_records", -1), ("telemetry", "n_fields", 1),
    ("telemetry", "n_fields", -1), ("telemetry-no-records", "n_records", 1),
    ("recommendation", "n_words", 1), ("recommendation", "n_words", -1),
    ("recommendation-empty", "n_words", 1), ("recommendation", "n_words", 2**31),
    ("feedback", "n_transitions", 1), ("feedback", "n_transitions", -1),
    ("feedback-empty", "n_transitions", 1),
])
def test_tail_count_mismatch(name, field, delta):
    frame = frame_of(name)
    lay = body_layout(frame)
    off, width = offset_of(lay, field)
    pos = m.HEADER.size + off
    value = int.from_bytes(frame[pos:pos + width], "little") + delta
    rejects(put(frame, pos, width, value % (1 << (8 * width))), "inconsistent")


def test_telemetry_with_records_but_zero_fields():
    frame = frame_of("telemetry-empty")
    rejects(put_body(frame, m.TELEMETRY_BODY, "n_records", 3), "zero fields")


def _pads(frame: bytearray, msg) -> list[int]:
    """Byte positions of every padding field in the body and in each tail item."""
    spec = m._SPECS[msg.TYPE]
    out = [m.HEADER.size + offset_of(spec.body, f)[0] for f in spec.body.names if f.startswith("_pad")]
    if spec.item is not None:
        n = (len(frame) - m.HEADER.size - spec.body.size) // spec.item.size
        base = m.HEADER.size + spec.body.size
        out += [base + i * spec.item.size + offset_of(spec.item, f)[0]
                for i in range(n) for f in spec.item.names if f.startswith("_pad")]
    return out


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_nonzero_padding_is_rejected(name):
    positions = _pads(frame_of(name), EXAMPLES[name])
    if EXAMPLES[name].TYPE != m.MsgType.TELEMETRY:
        assert positions, "every body but TELEMETRY has padding"
    for pos in positions:
        frame = frame_of(name)
        frame[pos] = 0x80
        rejects(frame, "padding")


def _desc_field(field: str, i: int = 0) -> int:
    return m.HEADER.size + m.HELLO_BODY.size + i * m.HELLO_DESC.size + offset_of(m.HELLO_DESC, field)[0]


def _transition_field(field: str, i: int = 0) -> int:
    return (m.HEADER.size + m.FEEDBACK_BODY.size + i * m.FEEDBACK_TRANSITION.size
            + offset_of(m.FEEDBACK_TRANSITION, field)[0])


@pytest.mark.parametrize("name,layout,field,value", [
    ("hello-full", m.HELLO_BODY, "proto_version", 2),
    ("feedback", m.FEEDBACK_BODY, "mode", m.N_MODES), ("feedback", m.FEEDBACK_BODY, "mode", 255),
    ("feedback", m.FEEDBACK_BODY, "pinned", 2),
    ("heartbeat", m.HEARTBEAT_BODY, "sender", len(m.Sender)), ("heartbeat", m.HEARTBEAT_BODY, "sender", 255),
    ("mode-pin", m.MODE_BODY, "action", 2), ("mode-pin", m.MODE_BODY, "mode", m.N_MODES),
    ("mode-release", m.MODE_BODY, "mode", 255),
])
def test_invalid_enum_values_in_bodies(name, layout, field, value):
    rejects(put_body(frame_of(name), layout, field, value))


@pytest.mark.parametrize("name,field,item,width,value", [
    ("hello-full", "kind", 0, 1, 0), ("hello-full", "kind", 1, 1, 3),
    ("feedback", "src", 0, 1, m.N_MODES), ("feedback", "dst", 1, 1, 255),
    ("feedback", "reason", 0, 2, len(m.Reason)), ("feedback", "reason", 1, 2, U16),
])
def test_invalid_enum_values_in_tails(name, field, item, width, value):
    pos = _desc_field(field, item) if name == "hello-full" else _transition_field(field, item)
    rejects(put(frame_of(name), pos, width, value))


def _name_positions():
    body_name = m.HEADER.size + offset_of(m.HELLO_BODY, "name")[0]
    return [body_name, _desc_field("name", 0), _desc_field("name", 2)]


@pytest.mark.parametrize("pos", _name_positions())
def test_bad_names_are_rejected(pos):
    frame = frame_of("hello-full")
    rejects(put(bytearray(frame), pos, 1, 0xC3), "ASCII")  # non-ASCII
    rejects(put(bytearray(frame), pos, m.NAME_LEN, int.from_bytes(b"A" * m.NAME_LEN, "little")),
            "NUL-terminated")
    junk = bytearray(frame)
    junk[pos:pos + m.NAME_LEN] = b"ab\0c".ljust(m.NAME_LEN, b"\0")
    rejects(junk, "after the NUL")


def test_decode_raises_only_frame_error_for_odd_inputs():
    for buf in (b"", b"\0", "KML1" * 8, None, 12, [1, 2, 3]):
        with pytest.raises(m.FrameError):
            m.decode(buf)
