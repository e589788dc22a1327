"""The ML model proxy: the kernel-side half of kernelml, knowing no subsystem.

A subsystem registers operation kinds (:class:`OpKind`): each has a
human-made policy, a two-stage validator for recommendations (``parse`` at
receipt, ``apply`` at decision time) and a cost function.  For every
operation, :meth:`MLModelProxy.decide` picks the source the current mode
asks for (a deterministic interleaving in blocks), uses the freshest valid
recommendation if ML is to decide, and otherwise — or if anything about the
recommendation is wrong — calls the human-made policy at once.  It never
waits on user space: recommendations arrive through :meth:`poll`, which does
bounded work, and leave through a bounded outbox that drops and counts.

Clock: the subsystem passes ``now``, an integer clock in its own ticks
(simulated microseconds, or operations); every deadline in
:class:`ProxyConfig` is in those ticks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from ...uapi import messages as m
from ...uapi.messages import Mode, Reason, RejectReason
from .counters import DecayingShare, RateWindow
from .efficiency import HUMAN, ML, Efficiency
from .modes import Health, ModeConfig, ModeController
from .outbox import Outbox


@dataclass(frozen=True)
class KindState:
    mode: Mode
    pinned: Mode | None
    share: tuple[int, int]
    decided: tuple[int, int]  # decisions by (human-made, ML)
    fallbacks: int
    last_epoch: int
    n_transitions: int
    last_transition: m.Transition | None


class Reject(Exception):
    """Raised by a validator: the recommendation is not usable, for ``reason``."""

    def __init__(self, reason: RejectReason, detail: str = "") -> None:
        super().__init__(f"{reason.name}: {detail}" if detail else reason.name)
        self.reason = reason


def _identity(words):
    return words


def _no_apply(rec, ctx):
    return None


def _pair(outcome):
    return outcome


@dataclass
class OpKind:
    """One operation kind of a subsystem.

    ``human(ctx) -> choice``: the human-made policy.
    ``parse(words) -> rec``: check a recommendation's payload at receipt
    (shape, ranges); raise :class:`Reject`.  ``apply(rec, ctx) -> choice | None``:
    turn a stored recommendation into a choice for this operation, or None
    when it does not fit (then the human-made policy decides).
    ``cost(outcome) -> (cost, units)``: how the subsystem's outcome reports
    are charged (see :mod:`.efficiency`).
    ``block``: operations per interleaving block; ``washout``: operations at
    the start of a block whose :meth:`MLModelProxy.charge` is not billed.
    ``judged_with``: the id of an op kind registered before whose evidence
    this one shares (its consequences land in the same outcomes); its own
    transitions then never drop that evidence.
    """

    id: int
    name: str
    human: Callable[[Any], Any]
    parse: Callable[[np.ndarray], Any] = _identity
    apply: Callable[[Any, Any], Any] = _no_apply
    cost: Callable[[Any], tuple[int, int]] = _pair
    block: int = 1
    washout: int = 0
    efficiency: dict = field(default_factory=dict)  # Efficiency(**efficiency)
    judged_with: int | None = None  # share this registered kind's evidence instead of keeping its own


@dataclass
class ProxyConfig:
    agent_deadline: int = 10_000  # ticks without a valid agent message -> AGENT_SILENT
    rec_limit: int = 64  # recommendations accepted per op kind per rec_window ticks
    rec_window: int = 1_000
    invalid_share_pm: int = 500  # rejected share of recent recommendations -> INVALID_SHARE
    invalid_span: int = 64
    invalid_min: int = 16
    overflow_share_pm: int = 125  # dropped share of recent telemetry frames -> OUTBOX_OVERFLOW
    outbox_capacity: int = 256
    max_frames_per_poll: int = 64
    heartbeat_interval: int = 1_000
    feedback_interval: int = 5_000
    accept_mode_frames: bool = True  # MODE frames over the channel (an authenticated peer)
    start_mode: Mode = Mode.EMERGENCY
    mode: ModeConfig = field(default_factory=ModeConfig)


class _Kind:
    __slots__ = ("op", "ctl", "eff", "counter", "rec", "last_epoch", "rate", "fallbacks",
                 "fb_sent", "block", "washout", "last", "decided")

    def __init__(self, op: OpKind, cfg: ProxyConfig, now: int, eff: Efficiency | None = None) -> None:
        self.op = op
        self.ctl = ModeController(cfg.mode, cfg.start_mode, now)
        self.eff = eff if eff is not None else Efficiency(**op.efficiency)
        self.counter = 0
        self.rec = None  # (epoch, expiry, parsed, model_id)
        self.last_epoch = 0
        self.rate = RateWindow(cfg.rec_limit, cfg.rec_window)
        self.fallbacks = 0
        self.fb_sent = 0  # transitions already exported
        self.block = max(1, op.block)
        self.washout = op.washout
        self.last = HUMAN  # source of the latest decision
        self.decided = [0, 0]  # decisions of this kind per source


class MLModelProxy:
    def __init__(self, subsystem: int, name: str, endpoint=None, config: ProxyConfig | None = None,
                 boot_id: int = 1, tick_ns: int = 0, now: int = 0) -> None:
        self.subsystem = subsystem
        self.name = name
        self.endpoint = endpoint
        self.cfg = config or ProxyConfig()
        self.boot_id = boot_id
        self.tick_ns = tick_ns
        self.kinds: dict[int, _Kind] = {}
        self.records: dict[int, list[str]] = {}
        self.seq: dict[int, int] = {}
        self.outbox = Outbox(self.cfg.outbox_capacity)
        self.rejects = [0] * m.N_REJECT_REASONS
        self.invalid = DecayingShare(self.cfg.invalid_span, self.cfg.invalid_min)
        self.overflow = DecayingShare(self.cfg.invalid_span, self.cfg.invalid_min)
        self.critical = False
        self.last_agent = None  # tick of the last valid message from the agent
        self.conn_seen = None
        self.frame_seq = 0
        self.pending_dropped: dict[int, int] = {}
        self.next_heartbeat = now
        self.next_feedback = now + self.cfg.feedback_interval
        self.hb_seq = 0
        self.now = now
        self.started = now

    # -- registration ------------------------------------------------------
    def register(self, op: OpKind) -> None:
        if op.id in self.kinds or not 0 <= op.id < m.ALL_KINDS:
            raise ValueError(f"op kind id {op.id} already registered or out of range")
        eff = None
        if op.judged_with is not None:
            if op.judged_with not in self.kinds:
                raise ValueError(f"judged_with names op kind {op.judged_with}, not registered yet")
            eff = self.kinds[op.judged_with].eff
        self.kinds[op.id] = _Kind(op, self.cfg, self.now, eff)

    def register_record(self, record_kind: int, fields: list[str]) -> None:
        """Declare a telemetry record kind and its integer fields (sent in HELLO)."""
        if record_kind in self.records:
            raise ValueError(f"record kind {record_kind} already registered")
        self.records[record_kind] = list(fields)
        self.seq[record_kind] = 0

    def hello(self) -> m.Hello:
        descs = [m.Desc(m.DescKind.OP_KIND, k.op.id, k.op.name) for k in self.kinds.values()]
        for rk, fields in self.records.items():
            descs += [m.Desc(m.DescKind.FEATURE, i, f, rk) for i, f in enumerate(fields)]
        epoch = max((k.last_epoch for k in self.kinds.values()), default=0)
        return m.Hello(self.subsystem, self.name, self.boot_id, tuple(descs), epoch, self.now, self.tick_ns)

    # -- the decision path (hot) --------------------------------------------
    def mode(self, op_id: int) -> Mode:
        return self.kinds[op_id].ctl.mode

    def wants_ml(self, op_id: int) -> bool:
        """Whether the next operation of this kind is ML's (per mode and interleaving)."""
        k = self.kinds[op_id]
        num, den = k.ctl.share()
        return num > 0 and (k.counter // k.block) % den < num

    def decide(self, op_id: int, ctx, now: int) -> tuple[int, Any]:
        """Choose for one operation; returns ``(source, choice)``.  Never blocks."""
        k = self.kinds[op_id]
        ctl = k.ctl
        num, den = ctl.share()
        ml = num > 0 and (k.counter // k.block) % den < num
        k.counter += 1
        ctl.decisions_in_mode += 1
        if ml:
            rec = k.rec
            if rec is None:
                k.fallbacks += 1
            elif rec[1] < now:
                k.rec = None
                self.rejects[RejectReason.EXPIRED] += 1
                k.fallbacks += 1
            else:
                try:
                    choice = k.op.apply(rec[2], ctx)
                    if choice is None:
                        self.rejects[RejectReason.INAPPLICABLE] += 1
                except Reject as exc:
                    self.rejects[exc.reason] += 1
                    choice = None
                except Exception:  # a validator must not take the subsystem down
                    self.rejects[RejectReason.MALFORMED] += 1
                    choice = None
                if choice is not None:
                    k.eff.decided(ML)
                    k.last = ML
                    k.decided[ML] += 1
                    return ML, choice
                k.fallbacks += 1
        k.eff.decided(HUMAN)
        k.last = HUMAN
        k.decided[HUMAN] += 1
        return HUMAN, k.op.human(ctx)

    def keyed(self, op_id: int, ctx, now: int) -> tuple[int, int, Any]:
        """Keyed interleaving, for operations too frequent to decide one by one
        (every block write): the subsystem gives ML the keys ``k`` (e.g. LBAs)
        with ``hash(k) % den < num`` and the human-made policy the others, so
        the two sources get the same mix of work (a stratified A/B split).
        Returns ``(num, den, choice)`` with the mode's share and the freshest
        valid recommendation turned into a choice, or ``(0, 1, None)`` when ML
        has nothing usable (the human-made policy takes every key).  Report
        what each source decided with :meth:`record`."""
        k = self.kinds[op_id]
        num, den = k.ctl.share()
        rec = k.rec
        if num == 0 or rec is None:
            return 0, 1, None
        if rec[1] < now:
            k.rec = None
            self.rejects[RejectReason.EXPIRED] += 1
            return 0, 1, None
        try:
            choice = k.op.apply(rec[2], ctx)
        except Exception:  # a validator must not take the subsystem down
            self.rejects[RejectReason.MALFORMED] += 1
            choice = None
        if choice is None:
            self.rejects[RejectReason.INAPPLICABLE] += 1
            return 0, 1, None
        return num, den, choice

    def record(self, op_id: int, n_human: int, n_ml: int) -> None:
        """Count decisions made outside :meth:`decide` (keyed interleaving)."""
        k = self.kinds[op_id]
        k.decided[HUMAN] += n_human
        k.decided[ML] += n_ml
        k.ctl.decisions_in_mode += 1  # one keyed operation (a batch of keys)
        k.counter += 1
        if n_ml:
            k.last = ML
        elif n_human:
            k.last = HUMAN

    def source_in_control(self, op_id: int) -> int | None:
        """Source that made the last decision of this kind, or None during the
        washout at the start of its block (or before any decision).  A block
        given to ML whose decisions fell back is the human-made policy's."""
        k = self.kinds[op_id]
        if k.counter == 0 or (k.counter - 1) % k.block < k.washout:
            return None
        return k.last

    # -- efficiency ----------------------------------------------------------
    def account(self, op_id: int, source: int, outcome) -> None:
        """Charge an outcome (through the op kind's cost function) to ``source``."""
        cost, units = self.kinds[op_id].op.cost(outcome)
        self.kinds[op_id].eff.account(source, cost, units)

    def charge(self, op_id: int, cost: int, units: int) -> None:
        """Switchback accounting: charge a system-level cost to the source in
        control of the current block (nothing during a washout)."""
        src = self.source_in_control(op_id)
        if src is not None:
            self.kinds[op_id].eff.account(src, cost, units)

    # -- state from the subsystem and the operator ---------------------------
    def set_critical(self, critical: bool, now: int) -> None:
        self.critical = bool(critical)
        self.now = max(self.now, now)
        if critical:
            self._update_modes(now)

    def pin(self, op_id: int, mode: Mode, now: int) -> None:
        for k in self._targets(op_id):
            k.ctl.pin(now, Mode(mode))

    def unpin(self, op_id: int, now: int) -> None:
        for k in self._targets(op_id):
            k.ctl.unpin(now)

    def _targets(self, op_id: int):
        if op_id == m.ALL_KINDS:
            return list(self.kinds.values())
        if op_id not in self.kinds:
            raise KeyError(f"unknown op kind {op_id}")
        return [self.kinds[op_id]]

    # -- telemetry out --------------------------------------------------------
    def publish(self, record_kind: int, records: np.ndarray, now: int) -> None:
        """Queue telemetry records (int64, records x fields); drops and counts when full."""
        fields = self.records[record_kind]
        rec = np.asarray(records, dtype=np.int64)
        if rec.ndim != 2 or rec.shape[1] != len(fields):
            raise ValueError(f"record kind {record_kind} has {len(fields)} fields, got shape {rec.shape}")
        step = m.max_records(len(fields))
        for s in range(0, rec.shape[0], step):
            part = rec[s:s + step]
            dropped = self.pending_dropped.get(record_kind, 0)
            frame = m.encode(m.Telemetry(self.subsystem, record_kind, part, self.seq[record_kind],
                                         dropped, now), self._seq())
            self.seq[record_kind] += part.shape[0]
            ok = self.outbox.push(frame, part.shape[0])
            self.overflow.add(not ok)
            if ok:
                self.pending_dropped[record_kind] = 0
            else:
                self.pending_dropped[record_kind] = dropped + part.shape[0]

    def _seq(self) -> int:
        self.frame_seq += 1
        return self.frame_seq

    # -- the control path (bounded work) --------------------------------------
    def poll(self, now: int) -> None:
        """Receive what the agent sent (bounded), update modes, send heartbeat,
        feedback and queued telemetry.  Call it often; it never blocks."""
        self.now = now
        ep = self.endpoint
        if ep is not None:
            conn = ep.connection_id
            if conn != self.conn_seen:
                self.conn_seen = conn
                if conn is not None:
                    self.outbox.push_front(m.encode(self.hello(), self._seq()))
            for frame in ep.recv(self.cfg.max_frames_per_poll):
                self.receive(frame, now)
        self._update_modes(now)
        if now >= self.next_heartbeat:
            self.next_heartbeat = now + self.cfg.heartbeat_interval
            self.hb_seq += 1
            self.outbox.push(m.encode(m.Heartbeat(m.Sender.KERNEL, self.hb_seq, now, self.subsystem,
                                                  self.boot_id), self._seq()))
        if now >= self.next_feedback:
            self.next_feedback = now + self.cfg.feedback_interval
            for k in self.kinds.values():
                self.outbox.push(m.encode(self.feedback(k.op.id, now), self._seq()))
        if ep is not None:
            self.outbox.drain(ep.send, self.cfg.max_frames_per_poll)

    def receive(self, frame: bytes, now: int) -> None:
        """Handle one frame from user space.  Invalid input is counted, never raised."""
        try:
            msg = m.decode(frame)
        except m.FrameError:
            self._reject(RejectReason.MALFORMED)
            return
        if isinstance(msg, m.Recommendation):
            self._recommendation(msg, now)
        elif isinstance(msg, m.Heartbeat) and msg.sender == m.Sender.AGENT:
            self.last_agent = now
        elif isinstance(msg, m.ModeCommand) and self.cfg.accept_mode_frames:
            try:
                if msg.action == m.ModeAction.PIN:
                    self.pin(msg.op_kind, Mode(msg.mode), now)
                else:
                    self.unpin(msg.op_kind, now)
            except KeyError:
                self._reject(RejectReason.UNKNOWN_OP)
        else:
            self._reject(RejectReason.UNAUTHORISED)

    def _reject(self, reason: RejectReason) -> None:
        self.rejects[reason] += 1
        self.invalid.add(True)

    def _recommendation(self, msg: m.Recommendation, now: int) -> None:
        k = self.kinds.get(msg.op_kind)
        if k is None:
            return self._reject(RejectReason.UNKNOWN_OP)
        if msg.epoch <= k.last_epoch:
            return self._reject(RejectReason.STALE_EPOCH)
        if msg.expiry < now:
            return self._reject(RejectReason.EXPIRED)
        if not k.rate.allow(now):
            return self._reject(RejectReason.FLOOD)
        try:
            parsed = k.op.parse(msg.words)
        except Reject as exc:
            return self._reject(exc.reason)
        except Exception:  # a validator must not take the subsystem down
            return self._reject(RejectReason.MALFORMED)
        k.rec = (msg.epoch, msg.expiry, parsed, msg.model_id)
        k.last_epoch = msg.epoch
        self.last_agent = now
        self.invalid.add(False)

    def health(self, now: int) -> Health:
        inv = self.invalid.share_pm()
        ovf = self.overflow.share_pm()
        return Health(
            critical=self.critical,
            agent_silent=self.last_agent is None or now - self.last_agent > self.cfg.agent_deadline,
            invalid_share=inv is not None and inv > self.cfg.invalid_share_pm,
            outbox_overflow=ovf is not None and ovf > self.cfg.overflow_share_pm,
        )

    def _update_modes(self, now: int) -> None:
        h = self.health(now)
        for k in self.kinds.values():
            tr = k.ctl.update(now, h, k.eff.verdict())
            if tr is not None and tr.reason in (Reason.WORSE, Reason.NOT_BETTER) and k.op.judged_with is None:
                # the verdict was reached on this evidence: the next one needs fresh ML batches
                k.eff.forget(ML)

    # -- feedback and inspection ------------------------------------------------
    def feedback(self, op_id: int, now: int) -> m.Feedback:
        k = self.kinds[op_id]
        v = k.eff.verdict()
        _, hc, hu = k.eff.totals(HUMAN)
        _, mc, mu = k.eff.totals(ML)
        hd, md = k.decided
        new = k.ctl.n_transitions - k.fb_sent
        trs = tuple(list(k.ctl.log)[-min(new, 16, len(k.ctl.log)):]) if new > 0 else ()
        k.fb_sent = k.ctl.n_transitions
        return m.Feedback(op_kind=op_id, mode=int(k.ctl.mode), pinned=k.ctl.pinned is not None, now=now,
                          epoch=k.last_epoch, human_decisions=hd, ml_decisions=md, fallbacks=k.fallbacks,
                          human_cost=hc, human_units=hu, ml_cost=mc, ml_units=mu,
                          human_mean=v.mean_human, ml_mean=v.mean_ml, human_batches=v.n_human,
                          ml_batches=v.n_ml, outbox_dropped=self.outbox.dropped,
                          rejects=tuple(min(r, 0xFFFFFFFF) for r in self.rejects), transitions=trs)

    def transitions(self, op_id: int) -> list[m.Transition]:
        return list(self.kinds[op_id].ctl.log)

    def kind_state(self, op_id: int) -> KindState:
        """A read-only snapshot of one op kind (for status displays and tools)."""
        k = self.kinds[op_id]
        return KindState(mode=Mode(k.ctl.mode), pinned=k.ctl.pinned, share=k.ctl.share(),
                         decided=(k.decided[HUMAN], k.decided[ML]), fallbacks=k.fallbacks,
                         last_epoch=k.last_epoch, n_transitions=k.ctl.n_transitions,
                         last_transition=k.ctl.log[-1] if k.ctl.log else None)

    def outbox_state(self) -> tuple[int, int, int]:
        """(frames queued, frames dropped, telemetry records dropped)."""
        return len(self.outbox), self.outbox.dropped, self.outbox.dropped_records

    def ml_share_pm(self, op_id: int) -> int:
        """Per mille of this kind's decisions that ML made."""
        h, ml = self.kinds[op_id].decided
        return ml * 1000 // (h + ml) if h + ml else 0
