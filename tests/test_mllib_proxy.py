"""The proxy decides without blocking, never applies an invalid recommendation,
and counts every reject, whatever the agent does."""

import numpy as np
import pytest

from kernelml.kernel.mllib import HUMAN, ML, MLModelProxy, OpKind, ProxyConfig, Reject
from kernelml.kernel.mllib.modes import ModeConfig
from kernelml.transport import InProcChannel
from kernelml.uapi import messages as m
from kernelml.uapi.messages import Mode, Reason, RejectReason

OP = 3


def parse(words):
    if words.shape != (1,):
        raise Reject(RejectReason.MALFORMED, "one word")
    if not 0 <= words[0] < 10:
        raise Reject(RejectReason.OUT_OF_RANGE, "0..9")
    return int(words[0])


def apply(rec, ctx):
    return rec if rec in ctx else None


def make(delay=0, **cfg):
    ch = InProcChannel(delay=delay)
    cfg.setdefault("agent_deadline", 100)
    cfg.setdefault("start_mode", Mode.LEARNING)
    proxy = MLModelProxy(9, "test", ch.kernel, ProxyConfig(**cfg))
    proxy.register(OpKind(OP, "pick", human=lambda ctx: ctx[0], parse=parse, apply=apply,
                          efficiency={"batch_units": 10, "window": 8, "min_batches": 3}))
    proxy.register_record(1, ["a", "b"])
    return ch, proxy


def rec(word, epoch, expiry=10**9, op=OP):
    return m.encode(m.Recommendation(op, epoch, expiry, np.array([word])))


def hb(now=0):
    return m.encode(m.Heartbeat(m.Sender.AGENT, 1, now))


def test_interleaving_matches_mode_shares():
    ch, proxy = make()
    for mode, share in [(Mode.LEARNING, 1 / 8), (Mode.COLLABORATION, 1 / 2), (Mode.RECOMMENDATION, 31 / 32)]:
        proxy.pin(OP, mode, 0)
        k = proxy.kinds[OP]
        k.counter = 0
        wants = []
        for _ in range(256):
            wants.append(proxy.wants_ml(OP))
            proxy.decide(OP, [1], 0)
        assert sum(wants) == int(256 * share)


def test_falls_back_at_once_without_agent():
    ch, proxy = make()
    proxy.pin(OP, Mode.RECOMMENDATION, 0)
    results = [proxy.decide(OP, [7, 8], t) for t in range(100)]
    assert all(r == (HUMAN, 7) for r in results)
    assert proxy.kinds[OP].fallbacks > 90


def test_uses_valid_recommendation_and_validates_at_decision_time():
    ch, proxy = make()
    ch.agent.send(hb())
    ch.agent.send(rec(8, 1))
    proxy.poll(0)
    proxy.pin(OP, Mode.RECOMMENDATION, 0)
    assert proxy.decide(OP, [7, 8], 1) == (ML, 8)
    assert proxy.decide(OP, [7, 9], 2) == (HUMAN, 7)  # 8 is no longer a legal choice
    assert proxy.rejects[RejectReason.INAPPLICABLE] == 1


@pytest.mark.parametrize("frame,reason", [
    (b"\x00" * 7, RejectReason.MALFORMED),
    (rec(99, 1), RejectReason.OUT_OF_RANGE),
    (m.encode(m.Recommendation(OP, 1, 10**9, np.array([1, 2]))), RejectReason.MALFORMED),
    (rec(1, 1, op=77), RejectReason.UNKNOWN_OP),
    (rec(1, 1, expiry=0), RejectReason.EXPIRED),
    (m.encode(m.Heartbeat(m.Sender.KERNEL, 1, 0)), RejectReason.UNAUTHORISED),
])
def test_garbage_is_rejected_and_counted(frame, reason):
    ch, proxy = make()
    ch.agent.send(frame)
    proxy.poll(5)
    assert proxy.rejects[reason] == 1
    assert proxy.kinds[OP].rec is None
    assert sum(proxy.rejects) == 1


def test_stale_epoch_rejected():
    ch, proxy = make()
    ch.agent.send(rec(1, 5))
    ch.agent.send(rec(2, 5))
    ch.agent.send(rec(3, 4))
    proxy.poll(0)
    assert proxy.rejects[RejectReason.STALE_EPOCH] == 2
    assert proxy.kinds[OP].rec[2] == 1


def test_expiry_checked_at_decision_time():
    ch, proxy = make()
    ch.agent.send(hb())
    ch.agent.send(rec(8, 1, expiry=10))
    proxy.poll(0)
    proxy.pin(OP, Mode.RECOMMENDATION, 0)
    assert proxy.decide(OP, [8], 10) == (ML, 8)
    assert proxy.decide(OP, [7, 8], 11) == (HUMAN, 7)
    assert proxy.rejects[RejectReason.EXPIRED] == 1 and proxy.kinds[OP].rec is None


def test_flood_is_rate_limited_and_work_is_bounded():
    ch, proxy = make(rec_limit=4, rec_window=1000, max_frames_per_poll=16)
    for e in range(1, 101):
        ch.agent.send(rec(1, e))
    proxy.poll(0)
    assert proxy.rejects[RejectReason.FLOOD] == 12  # 16 frames handled, 4 accepted
    assert len(ch.kernel.inbox) == 84  # the rest waits: bounded work per poll


def test_garbage_flood_sends_proxy_to_emergency_and_decisions_continue():
    ch, proxy = make(invalid_min=8, invalid_share_pm=500)
    ch.agent.send(hb())
    proxy.poll(0)
    assert proxy.mode(OP) == Mode.LEARNING
    rng = np.random.default_rng(0)
    for _ in range(40):
        ch.agent.send(rng.bytes(int(rng.integers(0, 200))))
    for t in range(1, 10):
        proxy.poll(t)
        assert proxy.decide(OP, [3], t) == (HUMAN, 3)
    assert proxy.mode(OP) == Mode.EMERGENCY
    assert Reason(proxy.transitions(OP)[-1].reason) == Reason.INVALID_SHARE


def test_silent_agent_deadline_and_recovery():
    ch, proxy = make(agent_deadline=100)
    ch.agent.send(hb())
    proxy.poll(0)
    assert proxy.mode(OP) == Mode.LEARNING
    proxy.poll(100)
    assert proxy.mode(OP) == Mode.LEARNING
    proxy.poll(101)
    assert proxy.mode(OP) == Mode.EMERGENCY
    assert Reason(proxy.transitions(OP)[-1].reason) == Reason.AGENT_SILENT
    ch.set_time(200)
    ch.agent.send(hb(200))
    proxy.poll(200)
    assert proxy.mode(OP) == Mode.LEARNING
    assert Reason(proxy.transitions(OP)[-1].reason) == Reason.RECOVERED


def test_slow_agent_through_delayed_channel():
    ch, proxy = make(delay=50, agent_deadline=1000)
    ch.agent.send(hb())
    ch.agent.send(rec(8, 1))
    proxy.poll(0)
    assert proxy.kinds[OP].rec is None  # not arrived yet: no waiting
    ch.set_time(50)
    proxy.poll(50)
    assert proxy.kinds[OP].rec is not None


def test_critical_state_is_immediate():
    ch, proxy = make()
    ch.agent.send(hb())
    proxy.poll(0)
    proxy.set_critical(True, 1)
    assert proxy.mode(OP) == Mode.EMERGENCY
    assert Reason(proxy.transitions(OP)[-1].reason) == Reason.CRITICAL
    proxy.set_critical(False, 2)
    proxy.poll(2)
    assert proxy.mode(OP) == Mode.LEARNING


def test_outbox_overflow_drops_counts_and_triggers():
    ch, proxy = make(outbox_capacity=4, invalid_min=4, agent_deadline=10**9)
    proxy.endpoint = None  # nothing drains the outbox
    proxy.last_agent = 0
    for t in range(20):
        proxy.publish(1, np.zeros((3, 2), dtype=np.int64), t)
    assert proxy.outbox.dropped == 16 and len(proxy.outbox) == 4
    proxy.poll(20)
    assert proxy.mode(OP) == Mode.EMERGENCY
    assert Reason(proxy.transitions(OP)[-1].reason) == Reason.OUTBOX_OVERFLOW


def test_telemetry_frames_carry_drop_counts_and_split():
    ch, proxy = make(outbox_capacity=1)
    proxy.endpoint = None
    proxy.publish(1, np.ones((2, 2), dtype=np.int64), 0)
    proxy.publish(1, np.ones((5, 2), dtype=np.int64), 1)  # dropped
    proxy.outbox.frames.clear()
    proxy.publish(1, np.ones((1, 2), dtype=np.int64), 2)
    msg = m.decode(proxy.outbox.frames[0])
    assert msg.dropped == 5 and msg.first_seq == 7
    with pytest.raises(ValueError):
        proxy.publish(1, np.ones((1, 3), dtype=np.int64), 3)


def test_hello_heartbeat_feedback_reach_agent():
    ch, proxy = make()
    ch.agent.send(hb())
    proxy.poll(0)
    ch.set_time(0)
    msgs = [m.decode(f) for f in ch.agent.recv(100)]
    assert isinstance(msgs[0], m.Hello) and msgs[0].op_kinds == {OP: "pick"}
    assert msgs[0].features(1) == ["a", "b"]
    assert any(isinstance(x, m.Heartbeat) for x in msgs)
    proxy.poll(proxy.cfg.feedback_interval)
    fbs = [x for x in map(m.decode, ch.agent.recv(100)) if isinstance(x, m.Feedback)]
    # the agent went silent meanwhile: the feedback says so, with the transition and its reason
    assert fbs and fbs[0].op_kind == OP and fbs[0].mode == Mode.EMERGENCY
    assert [(t.dst, t.reason) for t in fbs[0].transitions][-1] == (Mode.EMERGENCY, Reason.AGENT_SILENT)


def test_mode_frames_pin_and_release():
    ch, proxy = make()
    ch.agent.send(hb())
    ch.agent.send(m.encode(m.ModeCommand(m.ALL_KINDS, m.ModeAction.PIN, Mode.COLLABORATION)))
    proxy.poll(0)
    assert proxy.mode(OP) == Mode.COLLABORATION and proxy.kinds[OP].ctl.pinned == Mode.COLLABORATION
    ch.agent.send(m.encode(m.ModeCommand(OP, m.ModeAction.RELEASE)))
    ch.agent.send(m.encode(m.ModeCommand(55, m.ModeAction.RELEASE)))
    proxy.poll(1)
    assert proxy.kinds[OP].ctl.pinned is None and proxy.rejects[RejectReason.UNKNOWN_OP] == 1


def test_mode_frames_can_be_refused():
    ch, proxy = make(accept_mode_frames=False)
    ch.agent.send(hb())
    ch.agent.send(m.encode(m.ModeCommand(OP, m.ModeAction.PIN, Mode.RECOMMENDATION)))
    proxy.poll(0)
    assert proxy.mode(OP) == Mode.LEARNING and proxy.rejects[RejectReason.UNAUTHORISED] == 1


def test_switchback_charge_respects_blocks_and_washout():
    ch = InProcChannel()
    proxy = MLModelProxy(9, "t", ch.kernel, ProxyConfig(start_mode=Mode.COLLABORATION,
                                                        mode=ModeConfig(min_dwell=10**9)))
    proxy.register(OpKind(OP, "pick", human=lambda c: 0, block=4, washout=1, parse=parse,
                          apply=lambda rec, ctx: rec if ctx is None else None,
                          efficiency={"batch_units": 1, "window": 64, "min_batches": 2}))
    ch.agent.send(hb())
    ch.agent.send(rec(5, 1))
    proxy.poll(0)
    proxy.pin(OP, Mode.COLLABORATION, 0)
    seen = []
    for _ in range(16):
        proxy.decide(OP, None, 0)
        seen.append(proxy.source_in_control(OP))
        proxy.charge(OP, 1, 1)
    # blocks of 4 alternate ML, human; the first op of each block is washout (None)
    assert seen == [None, ML, ML, ML, None, HUMAN, HUMAN, HUMAN] * 2
    assert proxy.kinds[OP].eff.totals(ML)[2] == 6 and proxy.kinds[OP].eff.totals(HUMAN)[2] == 6
    # an ML block whose decisions fall back (the recommendation does not fit) is billed to human-made
    for _ in range(8):
        proxy.decide(OP, "no fit", 0)
        proxy.charge(OP, 1, 1)
    assert proxy.kinds[OP].eff.totals(ML)[2] == 6 and proxy.kinds[OP].eff.totals(HUMAN)[2] == 12


def test_validator_bug_does_not_crash_the_subsystem():
    ch = InProcChannel()
    proxy = MLModelProxy(9, "t", ch.kernel, ProxyConfig(start_mode=Mode.RECOMMENDATION))

    def bad_apply(rec, ctx):
        raise ZeroDivisionError("bug")

    proxy.register(OpKind(OP, "pick", human=lambda c: 1, parse=lambda w: w, apply=bad_apply))
    ch.agent.send(hb())
    ch.agent.send(rec(1, 1))
    proxy.poll(0)
    proxy.pin(OP, Mode.RECOMMENDATION, 0)
    assert proxy.decide(OP, None, 1) == (HUMAN, 1)
    assert proxy.rejects[RejectReason.MALFORMED] == 1


def test_register_errors():
    ch, proxy = make()
    with pytest.raises(ValueError):
        proxy.register(OpKind(OP, "again", human=lambda c: 0))
    with pytest.raises(ValueError):
        proxy.register_record(1, ["x"])
