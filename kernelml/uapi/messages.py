"""The messages that cross between the kernel side and user space.

Every frame is a 16-byte header followed by a fixed body and, for some types,
a tail array whose length the body states.  All integers are little-endian.
Decoding is strict: a frame that is truncated, oversized, of unknown type, of
the wrong version, with non-zero padding, or whose stated lengths disagree
raises :class:`FrameError` (a ``ValueError``) with a one-line reason.  The
receiver catches that one exception type and counts the reject; nothing else
can escape from :func:`decode`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np

from .layout import Layout

MAGIC = 0x314C4D4B  # bytes "KML1" on the wire
PROTOCOL_VERSION = 1
MAX_FRAME = 65536  # hard cap on a whole frame, header included (bytes)
NAME_LEN = 24  # char[24] names: 23 characters and a NUL
ALL_KINDS = 0xFFFF  # op_kind wildcard in MODE messages


class FrameError(ValueError):
    """A frame that must be rejected; the message says why in one line."""


class MsgType(IntEnum):
    HELLO = 1
    TELEMETRY = 2
    RECOMMENDATION = 3
    FEEDBACK = 4
    HEARTBEAT = 5
    MODE = 6


class Mode(IntEnum):
    """The proxy's four modes, ordered by the share of operations ML decides."""

    EMERGENCY = 0
    LEARNING = 1
    COLLABORATION = 2
    RECOMMENDATION = 3


class Reason(IntEnum):
    """Why a mode transition happened (exported in FEEDBACK)."""

    START = 0
    MATURE = 1  # learning -> collaboration: enough ML evidence, not worse than human-made
    BETTER = 2  # collaboration -> recommendation: ML better with confidence
    NOT_BETTER = 3  # recommendation -> collaboration: ML no longer better
    WORSE = 4  # -> learning: ML worse with confidence
    CRITICAL = 5  # -> emergency: the subsystem says it is in a critical state
    AGENT_SILENT = 6  # -> emergency: nothing valid from the agent within the deadline
    INVALID_SHARE = 7  # -> emergency: too many rejected recommendations
    OUTBOX_OVERFLOW = 8  # -> emergency: telemetry dropped because nobody drains it
    RECOVERED = 9  # emergency -> learning (or the pinned mode): every trigger cleared
    PINNED = 10  # operator pinned a mode
    UNPINNED = 11  # operator released the pin (mode unchanged)


class RejectReason(IntEnum):
    """Why a recommendation (or a frame) from user space was not used."""

    MALFORMED = 0  # undecodable frame or payload of the wrong shape
    UNKNOWN_OP = 1  # operation kind not registered
    STALE_EPOCH = 2  # epoch not newer than the last accepted one
    EXPIRED = 3  # expiry already passed (at receipt or at decision time)
    OUT_OF_RANGE = 4  # a value outside what the op kind allows
    FLOOD = 5  # over the rate limit
    INAPPLICABLE = 6  # valid, but fits no choice at decision time
    UNAUTHORISED = 7  # a message the sender may not send


class Sender(IntEnum):
    KERNEL = 0
    AGENT = 1
    OPERATOR = 2


class DescKind(IntEnum):
    OP_KIND = 1
    FEATURE = 2


class ModeAction(IntEnum):
    RELEASE = 0
    PIN = 1


HEADER = Layout("kml_hdr", (
    ("magic", "u32"), ("version", "u16"), ("type", "u16"),
    ("length", "u32"), ("seq", "u32"),
))

# -- bodies and tail items -------------------------------------------------
HELLO_BODY = Layout("kml_hello", (
    ("proto_version", "u16"), ("subsystem", "u16"), ("n_desc", "u16"), ("_pad0", "u16"),
    ("boot_id", "u32"), ("tick_ns", "u32"), ("epoch", "u64"), ("now", "u64"),
    ("name", f"char[{NAME_LEN}]"),
))
HELLO_DESC = Layout("kml_desc", (
    ("kind", "u8"), ("_pad0", "u8"), ("id", "u16"), ("record_kind", "u16"), ("_pad1", "u16"),
    ("name", f"char[{NAME_LEN}]"),
))
TELEMETRY_BODY = Layout("kml_telemetry", (
    ("subsystem", "u16"), ("record_kind", "u16"), ("n_fields", "u16"), ("n_records", "u16"),
    ("first_seq", "u64"), ("dropped", "u64"), ("now", "u64"),
))
RECOMMENDATION_BODY = Layout("kml_recommendation", (
    ("op_kind", "u16"), ("flags", "u16"), ("n_words", "u32"),
    ("epoch", "u64"), ("expiry", "u64"), ("model_id", "u32"), ("_pad0", "u32"),
))
N_REJECT_REASONS = len(RejectReason)
FEEDBACK_BODY = Layout("kml_feedback", (
    ("op_kind", "u16"), ("mode", "u8"), ("pinned", "u8"), ("n_transitions", "u16"), ("_pad0", "u16"),
    ("now", "u64"), ("epoch", "u64"),
    ("human_decisions", "u64"), ("ml_decisions", "u64"), ("fallbacks", "u64"),
    ("human_cost", "i64"), ("human_units", "i64"), ("ml_cost", "i64"), ("ml_units", "i64"),
    ("human_mean", "i64"), ("ml_mean", "i64"), ("human_batches", "u32"), ("ml_batches", "u32"),
    ("outbox_dropped", "u64"),
) + tuple((f"rejects{i}", "u32") for i in range(N_REJECT_REASONS)))
FEEDBACK_TRANSITION = Layout("kml_transition", (
    ("at", "u64"), ("src", "u8"), ("dst", "u8"), ("reason", "u16"), ("_pad0", "u32"),
))
HEARTBEAT_BODY = Layout("kml_heartbeat", (
    ("sender", "u8"), ("_pad0", "u8"), ("subsystem", "u16"), ("boot_id", "u32"),
    ("seq", "u64"), ("now", "u64"),
))
MODE_BODY = Layout("kml_mode", (
    ("op_kind", "u16"), ("action", "u8"), ("mode", "u8"), ("_pad0", "u32"),
))
I64 = np.dtype("<i8")
N_MODES = len(Mode)


def _names_check(name: str, what: str) -> None:
    if not name.isascii() or len(name) >= NAME_LEN or "\0" in name:
        raise ValueError(f"{what} name {name!r}: ASCII without NUL, at most {NAME_LEN - 1} characters")


def _require(ok: bool, why: str) -> None:
    if not ok:
        raise ValueError(why)


def _i64(values, what: str) -> np.ndarray:
    """``values`` as a contiguous int64 array; ValueError for non-integers or
    integers outside int64 (never a silent wrap or truncation)."""
    try:
        a = np.asarray(values)
        if a.dtype == I64:
            return np.ascontiguousarray(a)
        if a.size == 0:
            return np.zeros(a.shape, dtype=I64)
        if a.dtype.kind == "O":  # Python ints beyond 64 bits
            _require(all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in a.flat),
                     f"{what}: integers required")
            return np.array(a.tolist(), dtype=I64)  # OverflowError when out of range
        _require(a.dtype.kind in "iu", f"{what}: integers required, got {a.dtype}")
        _require(a.dtype.kind == "i" or int(a.max()) <= np.iinfo(I64).max, f"{what}: value above int64")
        return np.ascontiguousarray(a, dtype=I64)
    except (OverflowError, TypeError) as exc:
        raise ValueError(f"{what}: {exc}") from None


@dataclass(frozen=True)
class Desc:
    """One HELLO descriptor: an operation kind, or one feature of a record kind."""

    kind: DescKind
    id: int
    name: str
    record_kind: int = 0


@dataclass(frozen=True)
class Hello:
    subsystem: int
    name: str
    boot_id: int
    descs: tuple[Desc, ...] = ()
    epoch: int = 0  # last recommendation epoch the kernel side accepted
    now: int = 0  # kernel clock at sending
    tick_ns: int = 0  # length of one clock tick in ns; 0: the clock counts operations
    proto_version: int = PROTOCOL_VERSION
    TYPE = MsgType.HELLO

    @property
    def op_kinds(self) -> dict[int, str]:
        return {d.id: d.name for d in self.descs if d.kind == DescKind.OP_KIND}

    def features(self, record_kind: int) -> list[str]:
        return [d.name for d in sorted(
            (d for d in self.descs if d.kind == DescKind.FEATURE and d.record_kind == record_kind),
            key=lambda d: d.id)]


@dataclass(frozen=True)
class Telemetry:
    subsystem: int
    record_kind: int
    records: np.ndarray  # int64, shape (n_records, n_fields)
    first_seq: int = 0
    dropped: int = 0  # records dropped by the sender since its previous batch
    now: int = 0
    TYPE = MsgType.TELEMETRY


@dataclass(frozen=True)
class Recommendation:
    op_kind: int
    epoch: int
    expiry: int  # kernel clock value after which it must not be used
    words: np.ndarray  # int64 payload; its meaning belongs to the op kind (uapi/<subsystem>.py)
    model_id: int = 0
    flags: int = 0
    TYPE = MsgType.RECOMMENDATION


@dataclass(frozen=True)
class Transition:
    at: int
    src: int
    dst: int
    reason: int


@dataclass(frozen=True)
class Feedback:
    op_kind: int
    mode: int
    pinned: bool
    now: int
    epoch: int
    human_decisions: int = 0
    ml_decisions: int = 0
    fallbacks: int = 0
    human_cost: int = 0
    human_units: int = 0
    ml_cost: int = 0
    ml_units: int = 0
    human_mean: int = 0  # windowed cost per unit, parts per million
    ml_mean: int = 0
    human_batches: int = 0
    ml_batches: int = 0
    outbox_dropped: int = 0
    rejects: tuple[int, ...] = (0,) * N_REJECT_REASONS
    transitions: tuple[Transition, ...] = ()
    TYPE = MsgType.FEEDBACK


@dataclass(frozen=True)
class Heartbeat:
    sender: Sender
    seq: int
    now: int = 0
    subsystem: int = 0
    boot_id: int = 0
    TYPE = MsgType.HEARTBEAT


@dataclass(frozen=True)
class ModeCommand:
    op_kind: int  # ALL_KINDS for every operation kind
    action: ModeAction
    mode: int = 0
    TYPE = MsgType.MODE


Message = Hello | Telemetry | Recommendation | Feedback | Heartbeat | ModeCommand


@dataclass
class _Spec:
    body: Layout
    item: Layout | None  # None: the tail is int64 words
    count_field: str | None  # body field holding the tail count (None: computed)


_SPECS = {
    MsgType.HELLO: _Spec(HELLO_BODY, HELLO_DESC, "n_desc"),
    MsgType.TELEMETRY: _Spec(TELEMETRY_BODY, None, None),
    MsgType.RECOMMENDATION: _Spec(RECOMMENDATION_BODY, None, "n_words"),
    MsgType.FEEDBACK: _Spec(FEEDBACK_BODY, FEEDBACK_TRANSITION, "n_transitions"),
    MsgType.HEARTBEAT: _Spec(HEARTBEAT_BODY, None, None),
    MsgType.MODE: _Spec(MODE_BODY, None, None),
}


def layouts() -> list[Layout]:
    """Every layout, in the order the C header declares them."""
    out = [HEADER]
    for spec in _SPECS.values():
        out.append(spec.body)
        if spec.item is not None:
            out.append(spec.item)
    return out


# -- encoding --------------------------------------------------------------
def _frame(mtype: MsgType, body: bytes, tail: bytes, seq: int) -> bytes:
    length = HEADER.size + len(body) + len(tail)
    if length > MAX_FRAME:
        raise ValueError(f"{mtype.name} frame of {length} bytes exceeds MAX_FRAME {MAX_FRAME}")
    hdr = HEADER.pack({"magic": MAGIC, "version": PROTOCOL_VERSION, "type": int(mtype),
                       "length": length, "seq": seq & 0xFFFFFFFF})
    return hdr + body + tail


def encode(msg: Message, seq: int = 0) -> bytes:
    """Encode one message as a frame; raises ValueError on out-of-range fields,
    invalid enum values and non-integer payloads: whatever ``encode`` accepts,
    ``decode`` accepts and returns unchanged (and every frame ``decode``
    accepts is the encoding of what it returns)."""
    t = msg.TYPE
    if t == MsgType.HELLO:
        _require(msg.proto_version == PROTOCOL_VERSION, f"HELLO: protocol version {msg.proto_version}")
        _names_check(msg.name, "subsystem")
        for d in msg.descs:
            _names_check(d.name, "descriptor")
            DescKind(d.kind)  # ValueError when invalid
        body = HELLO_BODY.pack({"proto_version": msg.proto_version, "subsystem": msg.subsystem,
                                "n_desc": len(msg.descs), "boot_id": msg.boot_id,
                                "tick_ns": msg.tick_ns, "epoch": msg.epoch, "now": msg.now,
                                "name": msg.name})
        tail = b"".join(HELLO_DESC.pack({"kind": int(d.kind), "id": d.id, "record_kind": d.record_kind,
                                         "name": d.name}) for d in msg.descs)
    elif t == MsgType.TELEMETRY:
        rec = _i64(msg.records, "telemetry records")
        if rec.ndim != 2:
            raise ValueError("telemetry records must be a 2-D array (records x fields)")
        _require(rec.shape[1] > 0 or rec.shape[0] == 0, "telemetry records with zero fields")
        body = TELEMETRY_BODY.pack({"subsystem": msg.subsystem, "record_kind": msg.record_kind,
                                    "n_fields": rec.shape[1], "n_records": rec.shape[0],
                                    "first_seq": msg.first_seq, "dropped": msg.dropped,
                                    "now": msg.now})
        tail = rec.tobytes()
    elif t == MsgType.RECOMMENDATION:
        words = _i64(msg.words, "recommendation words").ravel()
        body = RECOMMENDATION_BODY.pack({"op_kind": msg.op_kind, "flags": msg.flags,
                                         "n_words": words.size, "epoch": msg.epoch,
                                         "expiry": msg.expiry, "model_id": msg.model_id})
        tail = words.tobytes()
    elif t == MsgType.FEEDBACK:
        if len(msg.rejects) != N_REJECT_REASONS:
            raise ValueError(f"feedback needs {N_REJECT_REASONS} reject counters")
        _require(0 <= msg.mode < N_MODES and msg.pinned in (0, 1), "FEEDBACK: invalid mode or pinned flag")
        for tr in msg.transitions:
            _require(0 <= tr.src < N_MODES and 0 <= tr.dst < N_MODES, "FEEDBACK: transition with invalid mode")
            Reason(tr.reason)  # ValueError when invalid
        vals = {k: getattr(msg, k) for k in FEEDBACK_BODY.names if hasattr(msg, k)}
        vals.update({"pinned": int(msg.pinned), "n_transitions": len(msg.transitions)})
        vals.update({f"rejects{i}": r for i, r in enumerate(msg.rejects)})
        body = FEEDBACK_BODY.pack(vals)
        tail = b"".join(FEEDBACK_TRANSITION.pack(vars(tr)) for tr in msg.transitions)
    elif t == MsgType.HEARTBEAT:
        body = HEARTBEAT_BODY.pack({"sender": int(Sender(msg.sender)), "subsystem": msg.subsystem,
                                    "boot_id": msg.boot_id, "seq": msg.seq, "now": msg.now})
        tail = b""
    elif t == MsgType.MODE:
        _require(0 <= msg.mode < N_MODES, f"MODE: invalid mode {msg.mode}")
        body = MODE_BODY.pack({"op_kind": msg.op_kind, "action": int(ModeAction(msg.action)), "mode": msg.mode})
        tail = b""
    else:  # pragma: no cover
        raise TypeError(f"not a message: {msg!r}")
    return _frame(t, body, tail, seq)


# -- decoding --------------------------------------------------------------
def _enum(cls, value, what):
    try:
        return cls(value)
    except ValueError:
        raise FrameError(f"{what}: invalid value {value}") from None


def decode_header(buf) -> dict:
    """Check and return the header of a frame (the whole frame must be given)."""
    n = len(buf)
    if n < HEADER.size:
        raise FrameError(f"truncated: {n} bytes, header needs {HEADER.size}")
    if n > MAX_FRAME:
        raise FrameError(f"oversized: {n} bytes > MAX_FRAME {MAX_FRAME}")
    hdr = HEADER.unpack_from(buf)
    if hdr["magic"] != MAGIC:
        raise FrameError(f"bad magic {hdr['magic']:#010x}")
    if hdr["version"] != PROTOCOL_VERSION:
        raise FrameError(f"unsupported protocol version {hdr['version']}")
    if hdr["type"] not in _SPECS:
        raise FrameError(f"unknown message type {hdr['type']}")
    if hdr["length"] != n:
        raise FrameError(f"length field says {hdr['length']} bytes, frame has {n}")
    return hdr


def decode(buf) -> Message:
    """Decode one whole frame.  Raises FrameError and nothing else."""
    try:
        return _decode(bytes(buf))
    except FrameError:
        raise
    except (ValueError, TypeError, OverflowError) as exc:  # e.g. non-ASCII names
        raise FrameError(f"malformed: {exc}") from None


def _decode(buf: bytes) -> Message:
    hdr = decode_header(buf)
    mtype = MsgType(hdr["type"])
    spec = _SPECS[mtype]
    off = HEADER.size
    if len(buf) < off + spec.body.size:
        raise FrameError(f"truncated {mtype.name}: body needs {spec.body.size} bytes, "
                         f"{len(buf) - off} present")
    b = spec.body.unpack_from(buf, off)
    for name in b:
        if name.startswith("_pad") and b[name]:
            raise FrameError(f"{mtype.name}: non-zero padding field {name}")
    off += spec.body.size
    if mtype == MsgType.TELEMETRY:
        count, isize = b["n_fields"] * b["n_records"], I64.itemsize
    elif spec.count_field is not None:
        count = b[spec.count_field]
        isize = spec.item.size if spec.item is not None else I64.itemsize
    else:
        count, isize = 0, 0
    want = off + count * isize
    if len(buf) != want:
        raise FrameError(f"inconsistent {mtype.name}: body states {want} bytes, frame has {len(buf)}")

    if mtype == MsgType.HELLO:
        if b["proto_version"] != PROTOCOL_VERSION:
            raise FrameError(f"HELLO: protocol version {b['proto_version']} unsupported")
        descs = []
        for i in range(count):
            d = HELLO_DESC.unpack_from(buf, off + i * isize)
            if d["_pad0"] or d["_pad1"]:
                raise FrameError("HELLO: non-zero padding in descriptor")
            descs.append(Desc(_enum(DescKind, d["kind"], "HELLO descriptor kind"), d["id"], d["name"],
                              d["record_kind"]))
        return Hello(subsystem=b["subsystem"], name=b["name"], boot_id=b["boot_id"], descs=tuple(descs),
                     epoch=b["epoch"], now=b["now"], tick_ns=b["tick_ns"], proto_version=b["proto_version"])
    if mtype == MsgType.TELEMETRY:
        if b["n_fields"] == 0 and b["n_records"]:
            raise FrameError("TELEMETRY: records with zero fields")
        rec = np.frombuffer(buf, dtype=I64, count=count, offset=off).reshape(b["n_records"], b["n_fields"])
        return Telemetry(subsystem=b["subsystem"], record_kind=b["record_kind"], records=rec.copy(),
                         first_seq=b["first_seq"], dropped=b["dropped"], now=b["now"])
    if mtype == MsgType.RECOMMENDATION:
        words = np.frombuffer(buf, dtype=I64, count=count, offset=off).copy()
        return Recommendation(op_kind=b["op_kind"], epoch=b["epoch"], expiry=b["expiry"], words=words,
                              model_id=b["model_id"], flags=b["flags"])
    if mtype == MsgType.FEEDBACK:
        if b["mode"] >= N_MODES:
            raise FrameError(f"FEEDBACK: invalid mode {b['mode']}")
        if b["pinned"] > 1:
            raise FrameError(f"FEEDBACK: invalid pinned flag {b['pinned']}")
        trs = []
        for i in range(count):
            t = FEEDBACK_TRANSITION.unpack_from(buf, off + i * isize)
            if t["_pad0"]:
                raise FrameError("FEEDBACK: non-zero padding in transition")
            if t["src"] >= N_MODES or t["dst"] >= N_MODES:
                raise FrameError("FEEDBACK: transition with invalid mode")
            _enum(Reason, t["reason"], "FEEDBACK transition reason")
            trs.append(Transition(t["at"], t["src"], t["dst"], t["reason"]))
        kw = {k: v for k, v in b.items() if k in Feedback.__dataclass_fields__}
        kw["pinned"] = bool(b["pinned"])
        kw["rejects"] = tuple(b[f"rejects{i}"] for i in range(N_REJECT_REASONS))
        kw["transitions"] = tuple(trs)
        return Feedback(**kw)
    if mtype == MsgType.HEARTBEAT:
        return Heartbeat(sender=_enum(Sender, b["sender"], "HEARTBEAT sender"), seq=b["seq"], now=b["now"],
                         subsystem=b["subsystem"], boot_id=b["boot_id"])
    # MODE
    action = _enum(ModeAction, b["action"], "MODE action")
    if b["mode"] >= N_MODES:
        raise FrameError(f"MODE: invalid mode {b['mode']}")
    return ModeCommand(op_kind=b["op_kind"], action=action, mode=b["mode"])


def max_words() -> int:
    """Largest RECOMMENDATION payload (int64 words) that fits in one frame."""
    return (MAX_FRAME - HEADER.size - RECOMMENDATION_BODY.size) // I64.itemsize


def max_records(n_fields: int) -> int:
    """Most telemetry records of ``n_fields`` fields that fit in one frame."""
    return min(0xFFFF, (MAX_FRAME - HEADER.size - TELEMETRY_BODY.size) // (I64.itemsize * max(1, n_fields)))

